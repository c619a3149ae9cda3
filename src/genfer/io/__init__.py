"""Weights and tensor I/O every layer may use: safetensors state dicts, atomic checkpoints, model folders with
their ``config.json``, image/tensor conversions, seeded random streams and what reaches the terminal (native
output silenced, exceptions in one line). Imports nothing else of genfer.

Names are exported lazily, so that ``from genfer.io import CheckpointError`` does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CheckpointError": "files",
    "atomic_write_bytes": "files",
    "atomic_write_text": "files",
    "latest_checkpoint": "model_folder",
    "load_trainer_state": "checkpoint",
    "RunLock": "run_lock",
    "RunLockedError": "run_lock",
    "check_unlocked": "run_lock",
    "save_checkpoint": "checkpoint",
    "CONFIG_FILE": "model_folder",
    "WEIGHTS_FILE": "model_folder",
    "read_config": "model_folder",
    "write_config": "model_folder",
    "write_model_folder": "model_folder",
    "epoch_permutation": "rng",
    "finite_or_none": "json_text",
    "json_dumps": "json_text",
    "step_generator": "rng",
    "check_finite": "weights",
    "load_into": "weights",
    "load_matching": "weights",
    "load_state_dict": "weights",
    "nonfinite_keys": "weights",
    "save_state_dict": "weights",
}

_RENAMED = {"json_dumps": "dumps"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"genfer.io.{_EXPORTS[name]}"), _RENAMED.get(name, name))
    raise AttributeError(f"module 'genfer.io' has no attribute {name!r}")
