"""MAE pretraining: runs end to end on unlabelled images, resumes exactly, writes grids and the final model."""

import json
from pathlib import Path

import pytest
import torch

from genfer.config import MAE_TRAIN_PRESETS, ConfigError, apply_overrides
from genfer.io import latest_checkpoint, load_state_dict
from genfer.train.mae import train_mae
from genfer.render import save_grid
from genfer.data.pool import split_holdout


def tiny_mae_cfg(root: Path, *extra: str):
    return apply_overrides(MAE_TRAIN_PRESETS["tiny"], [
        f"sources=[{{dataset: folder, root: '{root}', split: train}}]", "limit=0", "threads=1", *extra,
    ])


def test_holdout_is_fixed_and_disjoint():
    train, held = split_holdout(50, 10, seed=3)
    assert len(train) == 40 and len(held) == 10
    assert not set(train.tolist()) & set(held.tolist())
    assert torch.equal(held, split_holdout(50, 10, seed=3)[1])
    with pytest.raises(ValueError, match="leaves no training images"):
        split_holdout(10, 10, seed=0)


def test_mae_run_writes_grids_metrics_and_final(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    out = train_mae(tiny_mae_cfg(tiny_dataset), run, progress=False)
    assert out["step"] == out["total_steps"] == 10  # (96 - 16 held out) / batch 16 = 5 steps x 2 epochs
    assert out["val_loss"] > 0
    assert sorted(p.name for p in (run / "grids").iterdir()) == ["step-000000005.png", "step-000000010.png"]
    final = load_state_dict(run / "final" / "model.safetensors")
    assert "encoder.cls_token" in final and "decoder.mask_token" in final
    assert json.loads((run / "final" / "config.json").read_text())["mae"]["mask_ratio"] == 0.75
    events = [json.loads(line)["event"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert events.count("eval") == 2


def test_mae_resume_continues_exactly(tiny_dataset, tmp_path):
    cfg = tiny_mae_cfg(tiny_dataset)
    train_mae(cfg, tmp_path / "straight", progress=False)
    assert train_mae(cfg, tmp_path / "split", progress=False, max_steps=4)["step"] == 4
    train_mae(cfg, tmp_path / "split", progress=False)
    a = load_state_dict(latest_checkpoint(tmp_path / "straight") / "model.safetensors")
    b = load_state_dict(latest_checkpoint(tmp_path / "split") / "model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_mae_config_rejects_sgd_and_bad_grid():
    with pytest.raises(ConfigError, match="adamw"):
        apply_overrides(MAE_TRAIN_PRESETS["tiny"], ["optim.optimizer=sgd"])
    with pytest.raises(ConfigError, match="grid_images"):
        apply_overrides(MAE_TRAIN_PRESETS["tiny"], ["grid_images=100"])


def test_save_grid_layout(tmp_path):
    rows = [torch.full((3, 1, 4, 4), v) for v in (-1.0, 1.0)]
    from PIL import Image

    img = Image.open(save_grid(rows, tmp_path / "g.png", scale=1))
    assert img.size == (12, 8)
    assert img.getpixel((0, 0)) == 0 and img.getpixel((0, 7)) == 255
