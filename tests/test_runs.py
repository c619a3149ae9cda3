"""``genfer runs``: run folders with method, step, last metrics and state (running / finished / resumable)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from conftest import run_cli
from genfer.runs import RUNNING_FILE, find_runs, marked_running, run_status

LATER = time.time() + 3600  # "now" for runs whose log must not look recent


def make_run(folder, *, checkpoint_step=None, total=100, final=False, method="mae", records=None):
    """A run folder as the loop leaves it: metrics.jsonl, optionally ckpt-<step>/ + latest and final/."""
    folder.mkdir(parents=True)
    records = records if records is not None else [
        {"time": 1.0, "event": "start", "step": 0, "total_steps": total, "world_size": 1},
        {"time": 2.0, "event": "train", "step": 50, "loss": 0.5, "lr": 0.1, "train_seconds": 3.0},
        {"time": 3.0, "event": "eval", "step": 50, "val_loss": 0.75, "fid_extractor": "x", "train_seconds": 3.0},
        {"time": 4.0, "event": "train", "step": 60, "loss": 0.25, "lr": 0.05, "train_seconds": 4.0},
    ]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + '{"time": 5, "ev')
    if checkpoint_step is not None:
        ckpt = folder / f"ckpt-{checkpoint_step:09d}"
        ckpt.mkdir()
        (ckpt / "config.json").write_text(json.dumps({"method": method}))
        (folder / "latest").write_text(ckpt.name + "\n")
    if final:
        (folder / "final").mkdir()
    return folder


def test_states_steps_and_last_metrics(tmp_path):
    resumable = run_status(make_run(tmp_path / "a", checkpoint_step=50), now=LATER)
    assert (resumable.state, resumable.method, resumable.step, resumable.total_steps, resumable.checkpoint_step) == \
        ("resumable", "mae", 60, 100, 50)
    assert resumable.train == {"loss": 0.25, "lr": 0.05} and resumable.eval == {"val_loss": 0.75}
    finished = run_status(make_run(tmp_path / "b", checkpoint_step=100, final=True), now=LATER)
    assert finished.state == "finished"
    assert run_status(make_run(tmp_path / "c", checkpoint_step=80, final=True), now=LATER).state == "resumable"
    assert run_status(make_run(tmp_path / "d"), now=LATER).state == "no checkpoint"
    assert run_status(tmp_path / "d", now=4.0 + 60).state == "running"  # a log that grows, without a marker


def test_the_running_marker_names_a_live_process(tmp_path):
    run = make_run(tmp_path / "r", checkpoint_step=50)
    with marked_running(run):
        assert (run / RUNNING_FILE).is_file() and run_status(run, now=LATER).state == "running"
    assert not (run / RUNNING_FILE).exists() and run_status(run, now=LATER).state == "resumable"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    (run / RUNNING_FILE).write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    assert run_status(run, now=LATER).state == "resumable"  # killed: its marker stayed behind


def test_find_runs_looks_two_levels_deep(tmp_path):
    make_run(tmp_path / "a")
    make_run(tmp_path / "group" / "b")
    (tmp_path / "not-a-run").mkdir()
    assert [p.name for p in find_runs(tmp_path)] == ["a", "b"]
    assert find_runs(tmp_path / "a") == [tmp_path / "a"]


def test_cli_table_and_json(capsys, tmp_path):
    make_run(tmp_path / "mae-cpu", checkpoint_step=50)
    code, out, _ = run_cli(capsys, "runs", str(tmp_path), "--json")
    data = json.loads(out)
    assert code == 0 and data["root"] == str(tmp_path)
    (run,) = data["runs"]
    assert run["name"] == "mae-cpu" and run["method"] == "mae" and run["train"]["loss"] == 0.25
    assert set(run) == {"path", "name", "method", "state", "step", "total_steps", "checkpoint_step", "train", "eval",
                        "updated"}
    code, out, _ = run_cli(capsys, "runs", str(tmp_path))
    header, row = out.splitlines()
    assert header.split()[:4] == ["run", "method", "state", "step"] and "60/100" in row and "val_loss=0.75" in row
    code, out, err = run_cli(capsys, "runs", str(tmp_path / "missing"))
    assert code == 2 and "no folder" in err


@pytest.mark.usefixtures("one_thread")
def test_a_real_run_stopped_early_is_resumable_then_finished(tiny_dataset, tmp_path):
    from genfer.config import MAE_TRAIN_PRESETS, apply_overrides
    from genfer.train.mae import train_mae

    cfg = apply_overrides(MAE_TRAIN_PRESETS["tiny"], [
        f"sources=[{{dataset: folder, root: '{tiny_dataset}', split: train}}]", "limit=0", "threads=1"])
    run = tmp_path / "run"
    train_mae(cfg, run, progress=False, max_steps=3, tensorboard=False)
    status = run_status(run)
    assert (status.state, status.method, status.checkpoint_step) == ("resumable", "mae", 3)
    train_mae(cfg, run, progress=False, tensorboard=False)
    assert run_status(run).state == "finished" and run_status(run).step == 10
