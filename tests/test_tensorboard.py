"""Training writes TensorBoard events beside metrics.jsonl (scalars of every record, the image grids), read back
here with TensorBoard's own event reader; ``--no-tensorboard`` and a missing package write none."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from genfer.config import MAE_TRAIN_PRESETS, apply_overrides  # noqa: E402
from genfer.train.mae import train_mae  # noqa: E402
from genfer.train.tensorboard_log import TensorBoardLog  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def _tiny_mae(root):
    return apply_overrides(MAE_TRAIN_PRESETS["tiny"], [
        f"sources=[{{dataset: folder, root: '{root}', split: train}}]", "limit=0", "threads=1"])


def _events(run):
    acc = EventAccumulator(str(run), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    return acc


def test_a_tiny_run_writes_scalars_and_grids_that_tensorboard_reads(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    train_mae(_tiny_mae(tiny_dataset), run, progress=False)
    assert list(run.glob("events.out.tfevents.*"))
    acc = _events(run)
    tags = acc.Tags()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    last_train = [r for r in records if r["event"] == "train"][-1]
    assert "train/loss" in tags["scalars"] and "eval/val_loss" in tags["scalars"]
    (loss,) = [e for e in acc.Scalars("train/loss") if e.step == last_train["step"]]
    assert loss.value == pytest.approx(last_train["loss"], rel=1e-6)
    evals = [r for r in records if r["event"] == "eval"]
    assert [e.step for e in acc.Scalars("eval/val_loss")] == [r["step"] for r in evals]
    assert "train/train_seconds" not in tags["scalars"] and "train/step" not in tags["scalars"]
    assert tags["images"] == ["grids"]
    images = acc.Images("grids")
    assert [i.step for i in images] == [5, 10] and images[0].width > 0 and images[0].height > 0
    assert records[-1]["event"] == "end" and records[-1]["finished"] is True
    assert not (run / "running.json").exists()


def test_no_tensorboard_writes_no_events(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    train_mae(_tiny_mae(tiny_dataset), run, progress=False, max_steps=2, tensorboard=False)
    assert (run / "metrics.jsonl").is_file() and not list(run.glob("events.out.tfevents.*"))


def test_without_the_package_nothing_is_written(monkeypatch, tmp_path):
    import genfer.train.tensorboard_log as tb

    monkeypatch.setattr(tb, "tensorboard_available", lambda: False)
    events = tb.TensorBoardLog(tmp_path)
    events.scalars("train", 1, {"loss": 1.0})
    assert not events.active and not list(tmp_path.iterdir())


def test_scalars_skip_bookkeeping_and_non_finite_values(tmp_path):
    events = TensorBoardLog(tmp_path)
    events.scalars("eval", 3, {"epoch": 1.5, "fid": float("nan"), "fid_extractor": "x", "ok": True, "n": 7,
                               "train_seconds": 9.0})
    events.close()
    acc = _events(tmp_path)
    assert sorted(acc.Tags()["scalars"]) == ["eval/epoch", "eval/n"]
    assert acc.Scalars("eval/n")[0].value == 7 and acc.Scalars("eval/n")[0].step == 3
