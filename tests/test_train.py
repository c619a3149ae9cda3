"""Training loop: checkpoints, exact resume, DDP equivalence, signal-safe stop."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genfer.config import apply_overrides, preset
from genfer.io import CheckpointError, latest_checkpoint, load_state_dict
from genfer.train.loop import config_changes, cosine_with_warmup
from genfer.train.recognizer import train_recognizer


def tiny_cfg(root: Path, *extra: str):
    return apply_overrides(preset("tiny"), [
        "data.dataset=folder", f"data.root={root}", "data.val_split=valid", "data.target=label",
        "data.limit_train=0", "data.limit_val=0", "threads=1", *extra,
    ])


def final_weights(run: Path) -> dict:
    return load_state_dict(latest_checkpoint(run) / "model.safetensors")


def test_cosine_with_warmup_values():
    f = cosine_with_warmup(total_steps=10, warmup_steps=2)
    assert f(0) == pytest.approx(0.5) and f(1) == pytest.approx(1.0)
    assert f(6) == pytest.approx(0.5)  # halfway through the 8 decay steps: cos(pi/2)
    assert f(10) == pytest.approx(0.0)


def test_train_writes_checkpoints_metrics_and_final_model(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    out = train_recognizer(tiny_cfg(tiny_dataset), run, progress=False)
    assert out["step"] == out["total_steps"] == 6  # 96 images / batch 32 = 3 steps x 2 epochs
    assert (run / "final" / "model.safetensors").is_file() and (run / "final" / "config.json").is_file()
    assert sorted(p.name for p in latest_checkpoint(run).iterdir()) == [
        "config.json", "ema.safetensors", "model.safetensors", "trainer.pt"]
    events = [json.loads(line)["event"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert events[0] == "start" and "eval" in events and "train" in events
    assert not list(run.glob(".ckpt-*"))  # no temp folders left behind


def test_resume_continues_exactly(tiny_dataset, tmp_path):
    cfg = tiny_cfg(tiny_dataset)
    train_recognizer(cfg, tmp_path / "straight", progress=False)
    part = train_recognizer(cfg, tmp_path / "split", progress=False, max_steps=3)
    assert part["step"] == 3 and not (tmp_path / "split" / "final").exists()
    train_recognizer(cfg, tmp_path / "split", progress=False)
    a, b = final_weights(tmp_path / "straight"), final_weights(tmp_path / "split")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_resume_refuses_a_different_config(tiny_dataset, tmp_path):
    train_recognizer(tiny_cfg(tiny_dataset), tmp_path / "run", progress=False, max_steps=2)
    with pytest.raises(CheckpointError, match="different config"):
        train_recognizer(tiny_cfg(tiny_dataset, "optim.lr=0.2"), tmp_path / "run", progress=False)


def test_resume_may_change_the_run_length(tiny_dataset, tmp_path):
    """A run started for 2 epochs and resumed with 3 goes on to 9 steps and logs the change."""
    run = tmp_path / "run"
    train_recognizer(tiny_cfg(tiny_dataset), run, progress=False, max_steps=2)
    out = train_recognizer(tiny_cfg(tiny_dataset, "optim.epochs=3"), run, progress=False)
    assert out["step"] == out["total_steps"] == 9
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    changed = [e for e in events if e["event"] == "length_changed"]
    assert changed == [dict(changed[0], step=2, changes={"optim.epochs": [2.0, 3.0]})]


def test_config_changes_split_length_from_other_keys():
    saved = {"threads": 1, "optim": {"epochs": 2.0, "lr": 0.1, "warmup_epochs": 0.5}, "kimg": 10.0}
    wanted = {"threads": 2, "optim": {"epochs": 3.0, "lr": 0.2, "warmup_epochs": 0.5}, "kimg": 20.0}
    assert config_changes(saved, wanted) == ({"kimg": [10.0, 20.0], "optim.epochs": [2.0, 3.0]}, ["optim.lr"])


def test_an_option_added_since_a_run_was_saved_stops_its_resume_only_when_it_leaves_its_default():
    saved = {"optim": {"lr": 0.1}}
    defaults = {"optim": {"lr": 0.1}, "data": {"teacher_weight": 0.5, "teacher": ""}}
    at_default = {"optim": {"lr": 0.1}, "data": {"teacher_weight": 0.5, "teacher": ""}}
    assert config_changes(saved, at_default, defaults) == ({}, [])
    changed = {"optim": {"lr": 0.1}, "data": {"teacher_weight": 0.7, "teacher": ""}}
    assert config_changes(saved, changed, defaults) == ({}, ["data.teacher_weight"])
    assert config_changes(saved, at_default) == ({}, ["data.teacher", "data.teacher_weight"])  # no defaults known


def test_corrupt_checkpoint_is_a_clear_error(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    train_recognizer(tiny_cfg(tiny_dataset), run, progress=False, max_steps=2)
    (latest_checkpoint(run) / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="corrupt"):
        train_recognizer(tiny_cfg(tiny_dataset), run, progress=False)


@pytest.mark.slow  # torchrun, 2 processes (about 18 s)
def test_ddp_two_processes_match_single_process(tiny_dataset, tmp_path):
    """torchrun with 2 ranks x batch 16 takes the same steps as 1 process x batch 32 (GroupNorm model)."""
    overrides = [f"data.root={tiny_dataset}", "data.dataset=folder", "data.val_split=valid", "data.target=label",
                 "data.limit_train=0", "data.limit_val=0", "threads=1", "model.norm=group"]
    train_recognizer(apply_overrides(preset("tiny"), overrides), tmp_path / "single", progress=False)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(Path(__file__).with_name("ddp_worker.py")), str(tmp_path / "ddp"), *overrides]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = final_weights(tmp_path / "single"), final_weights(tmp_path / "ddp")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)
    start = json.loads((tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()[0])
    assert start["world_size"] == 2


def test_init_from_takes_matching_tensors_and_refreshes_the_head(tiny_dataset, tmp_path):
    """A 7-class run initialised from an 8-class model keeps the trunk and starts a fresh head."""
    from genfer.config import to_dict
    from genfer.models.recognizer import build_recognizer
    from genfer.train.recognizer import initialise_from

    source = tmp_path / "source"
    train_recognizer(tiny_cfg(tiny_dataset), source, progress=False)
    cfg7 = tiny_cfg(tiny_dataset, "model.num_classes=7")
    model = build_recognizer(cfg7.model)
    fresh = initialise_from(model, str(source / "final"))
    assert fresh == ["net.fc.bias", "net.fc.weight"]
    src = load_state_dict(source / "final" / "model.safetensors")
    torch.testing.assert_close(model.state_dict()["net.conv1.weight"], src["net.conv1.weight"])
    assert to_dict(cfg7)["init_from"] == ""


def test_init_from_another_architecture_is_a_clear_error(tiny_dataset, tmp_path):
    from genfer.models.recognizer import build_recognizer
    from genfer.train.recognizer import initialise_from

    source = tmp_path / "source"
    train_recognizer(tiny_cfg(tiny_dataset), source, progress=False)
    vit = build_recognizer(tiny_cfg(tiny_dataset, "model.arch=vit", "model.channels=[32]", "model.depth=2").model)
    with pytest.raises(CheckpointError, match="only 0 of"):
        initialise_from(vit, str(source / "final"))


def test_vit_baseline_starts_from_an_mae_encoder(tmp_path):
    """``mae_vit`` + ``init_from`` an MAE run: the encoder comes from the MAE, the [CLS] head is fresh."""
    from genfer.config import MAE_TRAIN_PRESETS
    from genfer.models.mae import build_mae
    from genfer.models.recognizer import build_recognizer
    from genfer.train.runner import export_model_folder
    from genfer.train.recognizer import initialise_from

    mae_cfg = MAE_TRAIN_PRESETS["tiny"]
    mae = build_mae(mae_cfg.mae)
    export_model_folder(tmp_path / "mae", mae_cfg, mae.state_dict())
    enc = mae_cfg.mae.encoder
    cfg = apply_overrides(preset("cpu_vit"), [f"model.image_size={enc.image_size}", f"model.patch_size={enc.patch_size}",
                                              f"model.channels=[{enc.embed_dim}]", f"model.depth={enc.depth}",
                                              f"model.num_heads={enc.num_heads}"])
    model = build_recognizer(cfg.model)
    assert initialise_from(model, str(tmp_path / "mae")) == ["net.head.bias", "net.head.weight"]
    torch.testing.assert_close(model.net.cls_token, mae.encoder.cls_token)
    assert model.pooled_features(torch.zeros(2, 1, enc.image_size, enc.image_size)).shape == (2, enc.embed_dim)
