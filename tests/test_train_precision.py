"""optim.precision: bfloat16 autocast of the recognizer's and MAE's training forward pass and loss, everything else
float32; a bad value or a trainer without a bfloat16 step is a one-line config error."""

import json

import pytest
import torch
from safetensors.torch import load_file

import genfer.train.mae as mae_train
import genfer.train.recognizer as rg
from genfer.config import MAE_TRAIN_PRESETS, PFVIT_PRESETS, SWITCHGAN_PRESETS, ConfigError, apply_overrides, preset
from genfer.io import latest_checkpoint, read_config


def record_dtypes(model: torch.nn.Module, rec: list) -> None:
    """Record (training mode, output dtype) of every forward of ``model``'s first convolution or linear layer
    (copies of the model, e.g. its weight average, keep the hook)."""
    first = next(m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
    first.register_forward_hook(lambda m, args, out: rec.append((m.training, out.dtype)))


def train_tiny_recognizer(tmp, spy, *extra: str):
    from conftest import write_class_folders

    root = write_class_folders(tmp / "data", {"train": 12, "valid": 2})
    cfg = apply_overrides(preset("tiny"), [
        "data.dataset=folder", f"data.root={root}", "data.val_split=valid", "data.target=label", "data.limit_train=0",
        "data.limit_val=0", "threads=1", "eval_every_epochs=0.5", *extra])
    rec: dict = {"dtypes": []}

    def record_model(model):
        rec["model"] = model
        record_dtypes(model, rec["dtypes"])

    spy(rg, "build_recognizer", after=record_model)
    rec["ce"] = spy(torch.nn.functional, "cross_entropy")
    rg.train_recognizer(cfg, tmp / "run", progress=False, max_steps=2)
    rec["metrics"] = [json.loads(line) for line in (tmp / "run" / "metrics.jsonl").read_text().splitlines()]
    rec["ckpt"] = latest_checkpoint(tmp / "run")
    return cfg, rec


def test_recognizer_bfloat16_autocasts_the_forward_pass_only(tmp_path, spy):
    cfg, rec = train_tiny_recognizer(tmp_path, spy, "optim.precision=bfloat16")
    training = [dtype for is_training, dtype in rec["dtypes"] if is_training]
    validation = [dtype for is_training, dtype in rec["dtypes"] if not is_training]
    assert training == [torch.bfloat16] * 2, "both training forwards run under bfloat16 autocast"
    assert validation and set(validation) == {torch.float32}, "validation (the weight average) runs in float32"
    assert all(c.args[0].dtype == torch.bfloat16 for c in rec["ce"][:2]), "the loss is computed under autocast"
    model = rec["model"]
    assert {p.dtype for p in model.parameters()} == {torch.float32}, "master weights stay float32"
    assert {p.grad.dtype for p in model.parameters() if p.grad is not None} == {torch.float32}
    for name in ("model", "ema"):
        saved = load_file(rec["ckpt"] / f"{name}.safetensors")
        assert {t.dtype for t in saved.values() if t.is_floating_point()} == {torch.float32}, name
    assert read_config(rec["ckpt"])["optim"]["precision"] == "bfloat16"
    assert rec["metrics"][0]["event"] == "start" and rec["metrics"][0]["precision"] == "bfloat16"


def test_recognizer_float32_is_the_default_and_unchanged(tmp_path, spy):
    cfg, rec = train_tiny_recognizer(tmp_path, spy)
    assert cfg.optim.precision == "float32"
    assert {dtype for _, dtype in rec["dtypes"]} == {torch.float32}
    assert rec["metrics"][0]["precision"] == "float32"


def test_mae_bfloat16_autocasts_the_forward_pass(tmp_path, spy):
    from conftest import write_class_folders

    root = write_class_folders(tmp_path / "data", {"train": 12})
    cfg = apply_overrides(MAE_TRAIN_PRESETS["tiny"], [
        f"sources=[{{dataset: folder, root: '{root}', split: train}}]", "threads=1", "grid_images=0",
        "optim.precision=bfloat16"])
    rec: dict = {"dtypes": []}

    def record_model(model):
        rec["model"] = model
        record_dtypes(model, rec["dtypes"])

    spy(mae_train, "build_mae", after=record_model)
    mae_train.train_mae(cfg, tmp_path / "run", progress=False, max_steps=1)
    assert [dtype for is_training, dtype in rec["dtypes"] if is_training] == [torch.bfloat16]
    assert {p.dtype for p in rec["model"].parameters()} == {torch.float32}


def test_bad_precision_is_a_one_line_error(capsys, tmp_path):
    from conftest import assert_user_error, run_cli

    with pytest.raises(ConfigError, match=r"^optim.precision must be one of float32, bfloat16, not 'bf16'$"):
        apply_overrides(preset("tiny"), ["optim.precision=bf16"])
    code, _, err = run_cli(capsys, "train", "--preset", "tiny", "--set", "optim.precision=fp16", "--out",
                           str(tmp_path / "r"))
    assert_user_error(code, err, "optim.precision must be one of float32, bfloat16, not 'fp16'")


@pytest.mark.parametrize("presets,key,method", [(PFVIT_PRESETS, "disc_optim", "PF-ViT"),
                                                 (SWITCHGAN_PRESETS, "cls_optim", "switch-unit GAN")])
def test_trainers_without_a_bfloat16_step_refuse_it(presets, key, method):
    with pytest.raises(ConfigError, match=f"{method} trains in float32 only"):
        apply_overrides(presets["tiny"], [f"{key}.precision=bfloat16"])
