"""Atomic, code-free checkpoints: safetensors weights + a tensor-only trainer state + JSON config.

A checkpoint is a folder ``run_dir/ckpt-<step>/`` holding

  ``<name>.safetensors``  one file per module state dict (e.g. ``model``, ``ema``);
  ``trainer.pt``          optimiser / scheduler / RNG state and counters, loaded with
                          ``torch.load(weights_only=True)`` so loading never executes code;
  ``config.json``         the resolved config of the run.

It is written under a temporary name and renamed into place, then ``run_dir/latest`` (a one-line
pointer, itself replaced atomically) is switched to it, so an interrupted write never leaves a
half-written checkpoint where :func:`load_latest` looks. Older checkpoints beyond ``keep`` are removed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError

from genfer.io.files import CheckpointError, atomic_folder, atomic_write_bytes
from genfer.io.terminal import error_headline
from genfer.io.weights import save_state_dict


def save_checkpoint(
    run_dir: str | Path,
    step: int,
    *,
    modules: dict[str, dict[str, torch.Tensor]],
    trainer_state: dict[str, Any],
    config: dict[str, Any],
    keep: int = 2,
) -> Path:
    """Write checkpoint ``ckpt-<step>`` atomically and point ``latest`` at it.

    Args:
        modules: name -> state dict, each saved as ``<name>.safetensors``.
        trainer_state: tensors, numbers, strings, lists and dicts only (optimizer/scheduler state, RNG).
        config: the resolved run config (JSON-able).
        keep: how many most recent checkpoints to keep.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    final = run_dir / f"ckpt-{step:09d}"
    try:
        with atomic_folder(final) as tmp:
            for name, state in modules.items():
                save_state_dict(state, tmp / f"{name}.safetensors")
            torch.save(trainer_state, tmp / "trainer.pt")
            (tmp / "config.json").write_text(json.dumps(config, indent=2))
        atomic_write_bytes(run_dir / "latest", f"{final.name}\n".encode())
    except (OSError, SafetensorError, RuntimeError) as exc:
        # e.g. a full disk (torch.save raises RuntimeError): the checkpoint `latest` names is untouched
        kept = (run_dir / "latest").read_text().strip() if (run_dir / "latest").is_file() else None
        reason = getattr(exc, "strerror", None) or error_headline(exc)
        raise CheckpointError(f"cannot write checkpoint {final} ({reason}); "
                              + (f"{run_dir / kept} is kept" if kept else "no earlier checkpoint")) from None
    for old in sorted(run_dir.glob("ckpt-*"))[:-keep]:
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def load_trainer_state(folder: str | Path) -> dict[str, Any]:
    """The trainer state of a checkpoint folder, loaded without executing code."""
    path = Path(folder) / "trainer.pt"
    if not path.is_file():
        raise CheckpointError(f"checkpoint {folder} has no trainer.pt")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise CheckpointError(f"checkpoint {path} is corrupt or unsafe ({type(exc).__name__})") from None
