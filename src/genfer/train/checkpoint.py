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
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file


class CheckpointError(ValueError):
    """A checkpoint is missing, incomplete or does not fit the model."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_state_dict(state: dict[str, torch.Tensor], path: Path, *, dtype: torch.dtype | None = None) -> None:
    """Save a module state dict as safetensors (contiguous CPU copies; optional float cast)."""
    out = {}
    for k, v in state.items():
        v = v.detach().to("cpu")
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        out[k] = v.contiguous()
    save_file(out, str(path))


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors state dict; a missing or corrupt file is a :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint file {path} is corrupt or not safetensors ({exc})") from None


def load_into(module: torch.nn.Module, state: dict[str, torch.Tensor], *, source: str) -> None:
    """Load ``state`` into ``module`` strictly, casting floats to the module's dtype, with a clear error."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise CheckpointError(
            f"{source} does not fit the model: {len(missing)} missing keys (e.g. {missing[:2]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:2]})"
        )
    bad = [k for k in own if own[k].shape != state[k].shape]
    if bad:
        raise CheckpointError(f"{source} does not fit the model: shape mismatch at {bad[0]} "
                              f"{tuple(state[bad[0]].shape)} vs {tuple(own[bad[0]].shape)}")
    module.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})


def load_matching(module: torch.nn.Module, state: dict[str, torch.Tensor], *, source: str) -> list[str]:
    """Initialise ``module`` from ``state`` where names and shapes agree (fine-tuning from another model).

    Returns the names of the module's tensors left as they were (absent from ``state`` or of another
    shape, e.g. a classifier head with another number of classes). Raises :class:`CheckpointError` when
    fewer than half of the module's tensors could be taken, which means ``state`` is another architecture.
    """
    own = module.state_dict()
    taken = {k: v.to(own[k].dtype) for k, v in state.items() if k in own and own[k].shape == v.shape}
    kept = sorted(set(own) - set(taken))
    if len(taken) * 2 < len(own):
        raise CheckpointError(f"{source} does not fit the model: only {len(taken)} of {len(own)} tensors match")
    module.load_state_dict(taken, strict=False)
    return kept


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
    tmp = Path(tempfile.mkdtemp(dir=run_dir, prefix=f".ckpt-{step:09d}.", suffix=".tmp"))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        for name, state in modules.items():
            save_state_dict(state, tmp / f"{name}.safetensors")
        torch.save(trainer_state, tmp / "trainer.pt")
        (tmp / "config.json").write_text(json.dumps(config, indent=2))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_bytes(run_dir / "latest", f"{final.name}\n".encode())
    for old in sorted(run_dir.glob("ckpt-*"))[:-keep]:
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The folder ``latest`` points at, or ``None`` if the run has no checkpoint yet."""
    pointer = Path(run_dir) / "latest"
    if not pointer.is_file():
        return None
    folder = Path(run_dir) / pointer.read_text().strip()
    if not folder.is_dir():
        raise CheckpointError(f"{pointer} points at {folder.name}, which does not exist")
    return folder


def load_trainer_state(folder: str | Path) -> dict[str, Any]:
    """The trainer state of a checkpoint folder, loaded without executing code."""
    path = Path(folder) / "trainer.pt"
    if not path.is_file():
        raise CheckpointError(f"checkpoint {folder} has no trainer.pt")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise CheckpointError(f"checkpoint {path} is corrupt or unsafe ({type(exc).__name__})") from None


def load_checkpoint_config(folder: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a checkpoint or model folder."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{folder} has no config.json")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc.msg})") from None
