"""ONNX export of every recognizer and the generators' graphs, the torch / ONNX Runtime backends and their parity."""

import json

import numpy as np
import pytest
import torch
from conftest import assert_user_error, run_cli

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

pytestmark = pytest.mark.usefixtures("one_thread")


def _tiny_loaded(arch: str, **extra):
    """A LoadedModel around a randomly initialised tiny recognizer of ``arch`` (resnet, vit or mae_vit)."""
    from genfer.config import apply_overrides, preset
    from genfer.hub import LoadedModel
    from genfer.models.recognizer import build_recognizer

    cfg = apply_overrides(preset("tiny"), [f"model.arch={arch}", "model.image_size=24", "model.patch_size=6",
                                           "model.channels=[16,16,16,16]", "model.depth=10" if arch == "resnet"
                                           else "model.depth=2", "model.num_heads=2"])
    torch.manual_seed(0)
    model = build_recognizer(cfg.model).eval()
    return LoadedModel(method="recognizer", name=f"tiny-{arch}", folder=extra.get("folder"), config=cfg, model=model)


@pytest.mark.parametrize("arch", ["resnet", "vit", "mae_vit"])
def test_every_recognizer_arch_exports_with_a_dynamic_batch(arch, tmp_path):
    import onnxruntime as ort

    from genfer.runtime.graphs import model_graphs
    from genfer.runtime.onnx_export import export_graph

    loaded = _tiny_loaded(arch)
    path = export_graph(model_graphs(loaded)["recognize"], tmp_path / "m.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 5):  # exported with batch 2
        x = torch.rand(batch, 1, 24, 24) * 2 - 1
        with torch.no_grad():
            ref = loaded.model(x).numpy()
        out = session.run(["logits"], {"image": x.numpy()})[0]
        assert out.shape == (batch, 8)
        np.testing.assert_allclose(out, ref, atol=1e-4)


def test_folding_batch_norms_keeps_the_function():
    from genfer.runtime.backends import fold_batch_norms

    loaded = _tiny_loaded("resnet")
    for m in loaded.model.modules():  # non-trivial running statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    folded = fold_batch_norms(loaded.model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in loaded.model.modules())  # the original is untouched
    x = torch.rand(4, 1, 24, 24) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(folded(x), loaded.model(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name,graph", [("pfvit", "render"), ("switchgan", "transfer")])
def test_generator_graphs_export_and_match_torch(name, graph, tmp_path):
    import onnxruntime as ort

    from genfer.hub import load_model
    from genfer.runtime.onnx_export import export_graph, graph_of

    g = graph_of(load_model(name), graph)
    path = export_graph(g, tmp_path / "g.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(0)
    inputs = {k: torch.rand((3, *v.shape[1:]), generator=gen) * 2 - 1 if v.is_floating_point()
              else torch.tensor([1, 2, 3]) for k, v in g.inputs.items()}  # batch 3, exported with 2
    with torch.no_grad():
        ref = g.module(*inputs.values())
    ref = ref if isinstance(ref, tuple) else (ref,)
    out = session.run(None, {k: v.numpy() for k, v in inputs.items()})
    assert len(out) == len(g.outputs)
    for a, b in zip(ref, out):
        np.testing.assert_allclose(b, a.numpy(), atol=1e-4)


def test_psp_has_an_invert_graph_and_unknown_graphs_are_named():
    from genfer.hub import load_model
    from genfer.runtime.onnx_export import graph_of

    assert graph_of(load_model("psp"), "invert").outputs == ("wplus", "reconstruction")
    with pytest.raises(ValueError, match="has no 'render' graph.*recognize"):
        graph_of(load_model("fer-resnet18s-48"), "render")


def _parity(backend_name: str, crops: np.ndarray, model: str = "fer-resnet18s-48", **kw):
    from genfer.api import Recognizer

    torch_probs = Recognizer(model, backend="torch").predict_crops(crops)
    rec = Recognizer(model, backend=backend_name, **kw)
    probs = rec.predict_crops(crops)
    assert rec.backend.name == backend_name
    return np.abs(probs - torch_probs).max(), (probs.argmax(1) == torch_probs.argmax(1)).mean()


@pytest.mark.data
@pytest.mark.parametrize("model", ["fer-resnet18s-48", "pfvit"])
def test_onnx_backend_matches_torch_on_real_faces(model, data_root):
    from genfer.data.registry import open_dataset

    faces = open_dataset("ferplus", data_root / "ferplus", "valid").subset(np.arange(256))
    crops = faces.to_array(48)
    max_dprob, agreement = _parity("onnx", crops, model)
    assert max_dprob < 1e-4
    assert agreement == 1.0


@pytest.mark.data
def test_int8_backend_stays_close_on_real_faces(data_root, monkeypatch):
    """int8 (calibrated on 64 training faces here) agrees with torch on most of 256 validation faces."""
    from genfer.data.registry import open_dataset
    from genfer.runtime import backends

    train = open_dataset("ferplus", data_root / "ferplus", "train").subset(np.arange(64))
    calib = train.to_array(48)[:, None].astype(np.float32) / 127.5 - 1
    monkeypatch.setattr(backends, "calibration_crops", lambda loaded: calib)
    crops = open_dataset("ferplus", data_root / "ferplus", "valid").subset(np.arange(256)).to_array(48)
    max_dprob, agreement = _parity("onnx-int8", crops)
    assert agreement >= 0.9
    assert max_dprob < 0.5


def test_bf16_backend_runs_the_folded_model_in_bfloat16_and_returns_float32_logits():
    from genfer.runtime.backends import TorchBF16Backend, fold_batch_norms

    loaded = _tiny_loaded("resnet")
    backend = TorchBF16Backend(loaded.model)
    assert {p.dtype for p in backend.model.parameters()} == {torch.bfloat16}
    assert next(loaded.model.parameters()).dtype == torch.float32  # the loaded model is untouched
    x = torch.rand(6, 1, 24, 24) * 2 - 1
    got = backend.logits(x)
    assert got.dtype == torch.float32 and got.shape == (6, 8)
    with torch.no_grad():  # exactly the folded model on bfloat16 weights and inputs, not fp32 and not fp16
        expected = fold_batch_norms(loaded.model).to(torch.bfloat16)(x.to(torch.bfloat16)).float()
        fp32 = loaded.model(x)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert 0 < (got - fp32).abs().max() < 0.1 * fp32.abs().max()  # rounded, but the same function


@pytest.mark.data
def test_bf16_backend_stays_close_on_real_faces(data_root):
    from genfer.data.registry import open_dataset

    crops = open_dataset("ferplus", data_root / "ferplus", "valid").subset(np.arange(256)).to_array(48)
    max_dprob, agreement = _parity("torch-bf16", crops)
    assert agreement >= 0.98
    assert 1e-4 < max_dprob < 0.1


def test_auto_backend_follows_the_measured_speed(monkeypatch):
    from genfer.runtime import backends

    loaded = _tiny_loaded("resnet")
    monkeypatch.setattr(backends, "onnx_file", lambda loaded, **kw: "unused.onnx")
    monkeypatch.setattr(backends, "OnnxBackend", lambda path, **kw: type("B", (), {"name": "onnx"})())
    for onnx_s, expected in ((0.1, "onnx"), (0.3, "torch")):
        monkeypatch.setattr(backends, "read_manifest", lambda path, s=onnx_s: {"onnx_s": s, "torch_s": 0.2})
        assert backends.make_backend(loaded, "auto").name == expected
    monkeypatch.setattr(backends, "onnxruntime_available", lambda: False)
    monkeypatch.setattr(backends, "read_manifest", lambda path: {"onnx_s": 0.1, "torch_s": 0.2})
    assert backends.make_backend(loaded, "auto").name == "torch"
    with pytest.raises(ValueError, match="backend must be one of"):
        backends.make_backend(loaded, "tensorrt")


class _Unexportable(torch.nn.Module):
    """Upsample-add then adaptive pooling (IFER's middle-map path): the TorchScript exporter cannot export it and
    prints its whole graph to stdout as it fails."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        small = torch.nn.functional.avg_pool2d(x, 2)
        y = torch.nn.functional.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=True) + x
        return torch.nn.functional.adaptive_avg_pool2d(y, 3).flatten(1)[:, :8]


def test_a_failed_export_falls_back_to_torch_with_one_line_and_a_clean_stdout(monkeypatch, tmp_path, capfd, caplog):
    from genfer.runtime import backends

    monkeypatch.setenv("GENFER_CACHE", str(tmp_path))
    loaded = _tiny_loaded("resnet", folder=tmp_path / "model")
    object.__setattr__(loaded, "model", _Unexportable().eval())
    with caplog.at_level("WARNING"):
        backend = backends.make_backend(loaded, "auto")
    out, _ = capfd.readouterr()
    assert backend.name == "torch" and out == ""  # a --json stdout stays JSON
    (record,) = [r for r in caplog.records if "ONNX export" in r.getMessage()]
    assert "\n" not in record.getMessage() and "adaptive_avg_pool2d" in record.getMessage()
    assert not list(tmp_path.rglob("*.tmp"))  # no half-written export left in the cache


def test_cli_backend_choices_match_the_runtime():
    import argparse

    from genfer.commands._common import add_backend
    from genfer.runtime.backends import BACKENDS

    p = argparse.ArgumentParser()
    add_backend(p)
    assert tuple(next(a for a in p._actions if a.dest == "backend").choices) == BACKENDS


def test_recognize_json_is_the_same_with_both_backends(capsys, sample_photo):
    outs = []
    for backend in ("torch", "onnx"):
        code, out, err = run_cli(capsys, "recognize", str(sample_photo), "--backend", backend, "--json", "--threads", "1")
        assert code == 0, err
        outs.append(json.loads(out))
    a, b = (o["results"][0]["faces"][0] for o in outs)
    assert a["label"] == b["label"] and a["box"] == b["box"]
    assert max(abs(a["probabilities"][k] - b["probabilities"][k]) for k in a["probabilities"]) < 1e-4


def test_recognize_says_which_backend_runs(capsys, sample_photo):
    code, _, err = run_cli(capsys, "recognize", str(sample_photo), "--backend", "onnx", "--threads", "1")
    assert code == 0
    assert "backend: onnx (ONNX Runtime" in err


def test_export_cli_writes_the_cached_graph_and_copies(capsys, tmp_path):
    code, out, err = run_cli(capsys, "export", "--model", "fer-resnet18s-48", "--out", str(tmp_path / "r.onnx"),
                             "--json")
    assert code == 0, err
    files = json.loads(out)["files"]
    assert [f["graph"] for f in files] == ["recognize"] and (tmp_path / "r.onnx").is_file()
    code, out, err = run_cli(capsys, "export", "--model", "pfvit", "--int8", "--all")
    assert_user_error(code, err, "--int8 quantises the recognize graph only")
    code, out, err = run_cli(capsys, "export", "--model", "fer-resnet18s-48", "--out", str(tmp_path / "r.pt"))
    assert_user_error(code, err, "--out must name a .onnx file")


def test_cache_key_changes_with_the_weights(tmp_path, tiny_model):
    import shutil

    from genfer.hub import load_model
    from genfer.runtime.onnx_export import cached_path

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)
    a = cached_path(load_model(copy))
    weights = copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    assert cached_path(load_model(copy)) != a
    assert "genfer-cache" in str(a)  # the tests' isolated cache, never the package


def test_missing_onnx_extra_is_a_one_line_user_error():
    from genfer.runtime.onnx_export import OnnxUnavailable, require_onnx

    with pytest.raises(OnnxUnavailable, match=r"pip install 'genfer\[onnx\]'") as info:
        require_onnx(("genfer_no_such_module",))
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)
