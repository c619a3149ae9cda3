"""One live training process per run folder, and a checkpoint write that fails (disk full) keeps the previous one."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from conftest import assert_user_error, run_cli
from genfer.io import CheckpointError, RunLock, RunLockedError, latest_checkpoint, load_state_dict, save_checkpoint
from genfer.io.run_lock import LOCK_FILE, lock_owner


@pytest.fixture
def other_process():
    """A live process that is not this one (its pid is written into lock files)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_a_live_lock_refuses_a_second_run_and_a_stale_one_is_taken_over(tmp_path, other_process):
    (tmp_path / LOCK_FILE).write_text(f"{other_process}\n")
    assert lock_owner(tmp_path) == other_process
    with pytest.raises(RunLockedError, match=f"being trained by process {other_process}"):
        RunLock(tmp_path).__enter__()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / LOCK_FILE).write_text(dead.stdout)  # that process has exited: a stale lock (e.g. after kill -9)
    assert lock_owner(tmp_path) is None
    with RunLock(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())
    assert not (tmp_path / LOCK_FILE).exists()


def test_cli_train_refuses_a_folder_another_process_trains_in(tmp_path, capsys, other_process):
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK_FILE).write_text(f"{other_process}\n")
    code, _, err = run_cli(capsys, "train", "--preset", "tiny", "--out", str(run), "--quiet")
    assert_user_error(code, err, f"being trained by process {other_process}", "another --out")
    assert not (run / "config.yaml").exists()  # nothing of the live run rewritten


def _checkpoint(run_dir, step, value):
    return save_checkpoint(run_dir, step, modules={"model": {"w": torch.full((64, 64), value)}},
                           trainer_state={"step": step}, config={"name": "t"})


def test_a_failed_checkpoint_write_keeps_the_previous_checkpoint(tmp_path):
    """Disk full, simulated with a file size limit (RLIMIT_FSIZE) in a child process: every write beyond it fails
    with EFBIG, as the real writers (safetensors, torch.save) meet it."""
    run_dir = tmp_path / "run"
    _checkpoint(run_dir, 1, 1.0)
    script = textwrap.dedent(f"""
        import resource, signal, sys, torch
        from genfer.io import save_checkpoint, CheckpointError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            save_checkpoint({str(run_dir)!r}, 2, modules={{"model": {{"w": torch.full((64, 64), 2.0)}}}},
                            trainer_state={{"step": 2}}, config={{"name": "t"}})
        except CheckpointError as exc:
            print(exc)
            sys.exit(3)
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert child.returncode == 3, child.stderr
    assert "cannot write checkpoint" in child.stdout and "ckpt-000000001 is kept" in child.stdout
    last = latest_checkpoint(run_dir)
    assert last.name == "ckpt-000000001"
    assert torch.equal(load_state_dict(last / "model.safetensors")["w"], torch.full((64, 64), 1.0))
    assert sorted(p.name for p in run_dir.iterdir()) == ["ckpt-000000001", "latest"]  # no half-written leftovers


def test_a_failed_first_checkpoint_is_a_one_line_error(tmp_path, monkeypatch):
    import genfer.io.checkpoint as checkpoint

    def full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", full)
    with pytest.raises(CheckpointError, match=r"No space left on device\); no earlier checkpoint"):
        _checkpoint(tmp_path / "run", 1, 1.0)
    assert latest_checkpoint(tmp_path / "run") is None


def test_atomic_folder_replaces_on_success_and_keeps_the_old_folder_on_failure(tmp_path):
    from genfer.io.files import atomic_folder

    target = tmp_path / "best"
    with atomic_folder(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target and not target.exists()  # not visible while written
        (tmp / "a.txt").write_text("first")
    with pytest.raises(KeyError):
        with atomic_folder(target) as tmp:
            (tmp / "a.txt").write_text("half")
            raise KeyError("interrupted")
    assert (target / "a.txt").read_text() == "first"
    with atomic_folder(target) as tmp:
        (tmp / "b.txt").write_text("second")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]                # replaced, not merged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]               # no temp or old folders left
