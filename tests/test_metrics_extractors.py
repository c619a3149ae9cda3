"""FID feature extractors: the FID Inception-v3 (random weights, key layout, loader) and genfer-fer."""

import pytest
import torch
from safetensors.torch import save_file

from genfer.metrics.extractors import EXTRACTORS, RecognizerExtractor, build_extractor
from genfer.io.images import match_channels
from genfer.metrics.inception import FIDInceptionV3, default_inception_path, load_fid_inception
from genfer.io import CheckpointError


@pytest.fixture(scope="module")
def inception_state():
    torch.manual_seed(0)
    return FIDInceptionV3().state_dict()


def test_inception_shapes_on_random_weights(inception_state):
    net = FIDInceptionV3().eval()
    net.load_state_dict(inception_state)
    with torch.no_grad():
        f = net(torch.rand(1, 3, 64, 48) * 2 - 1)  # resized to 299x299 inside
    assert f.shape == (1, 2048) and torch.isfinite(f).all()


def test_inception_keys_are_pytorch_fids(inception_state):
    keys = set(inception_state)
    assert {"Conv2d_1a_3x3.conv.weight", "Mixed_5b.branch_pool.bn.running_var", "Mixed_7c.branch3x3dbl_3b.conv.weight",
            "fc.weight", "fc.bias"} <= keys
    assert inception_state["fc.weight"].shape == (1008, 2048)
    assert not any(k.startswith("AuxLogits") for k in keys)


def test_inception_loader(tmp_path, inception_state, monkeypatch):
    path = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    no_counters = {k: v for k, v in inception_state.items() if not k.endswith("num_batches_tracked")}
    torch.save(no_counters, path)  # pytorch-fid's file format: a plain torch state dict
    net = load_fid_inception(path)
    torch.testing.assert_close(net.state_dict()["Mixed_6e.branch7x7_1.conv.weight"],
                               inception_state["Mixed_6e.branch7x7_1.conv.weight"])
    save_file({k: v.contiguous() for k, v in inception_state.items()}, str(tmp_path / "copy.safetensors"))
    load_fid_inception(tmp_path / "copy.safetensors")

    missing = dict(no_counters)
    del missing["Mixed_7b.branch_pool.conv.weight"]
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(CheckpointError, match="1 missing keys"):
        load_fid_inception(tmp_path / "missing.pth")
    torch.save({**no_counters, "AuxLogits.fc.weight": torch.zeros(1)}, tmp_path / "extra.pth")
    with pytest.raises(CheckpointError, match="1 unexpected"):
        load_fid_inception(tmp_path / "extra.pth")
    with pytest.raises(CheckpointError, match="not found"):
        load_fid_inception(tmp_path / "nope.pth")

    monkeypatch.setenv("GENFER_CACHE", str(tmp_path / "cache"))
    assert default_inception_path() is None
    with pytest.raises(CheckpointError, match="--inception-weights"):
        build_extractor("inception")
    (tmp_path / "cache" / "inception").mkdir(parents=True)
    path.rename(tmp_path / "cache" / "inception" / path.name)
    ext = build_extractor("inception")
    assert ext.name == "inception" and ext.num_features == 2048


def test_genfer_fer_extractor(tiny_model):
    ext = build_extractor("genfer-fer", model=tiny_model)
    assert isinstance(ext, RecognizerExtractor) and ext.name == f"genfer-fer:{tiny_model.parent.name}"
    with torch.no_grad():
        rgb = ext(torch.rand(3, 3, 64, 64) * 2 - 1)
        gray = ext(torch.rand(3, 1, 40, 40) * 2 - 1)
    assert rgb.shape == gray.shape == (3, ext.num_features)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        ext(torch.rand(1, 3, 48, 48) * 255)
    with pytest.raises(ValueError, match="unknown feature extractor"):
        build_extractor("clip")
    assert EXTRACTORS == ("genfer-fer", "inception")


def test_match_channels_uses_luma():
    x = torch.tensor([1.0, 0.0, -1.0]).view(1, 3, 1, 1)
    assert match_channels(x, 1).item() == pytest.approx(0.299 - 0.114)
    assert match_channels(x[:, :1], 3).shape == (1, 3, 1, 1)
