"""Model folders: ``model.safetensors`` (inference weights) + ``config.json`` (the run config that built them).

A model folder is what a finished run writes (``final/``), what the package ships
(``genfer/assets/models/<name>/``, plus ``MODEL_CARD.md``) and what every loader reads. ``config.json`` records
the ``method`` that wrote it (see :mod:`genfer.registry`); a training checkpoint (``ckpt-*``) holds the same
``config.json`` beside its per-module weight files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING

from genfer.io.files import CheckpointError, atomic_write_text

if TYPE_CHECKING:
    import torch

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The folder ``latest`` points at, or ``None`` if the run has no checkpoint yet."""
    pointer = Path(run_dir) / "latest"
    if not pointer.is_file():
        return None
    folder = Path(run_dir) / pointer.read_text().strip()
    if not folder.is_dir():
        raise CheckpointError(f"{pointer} points at {folder.name}, which does not exist")
    return folder


def read_config(folder: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a checkpoint or model folder, as plain data."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{folder} has no {CONFIG_FILE}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} does not hold a config object")
    return data


def write_config(folder: str | Path, config: dict[str, Any]) -> Path:
    """Write ``config.json`` into ``folder`` atomically."""
    path = Path(folder) / CONFIG_FILE
    atomic_write_text(path, json.dumps(config, indent=2))
    return path


def write_model_folder(folder: str | Path, state: dict[str, torch.Tensor], config: dict[str, Any], *,
                       half: bool = False, extra: dict[str, dict[str, torch.Tensor]] | None = None) -> Path:
    """Write a model folder: ``model.safetensors`` from ``state`` (fp16 when ``half``), ``config.json`` from
    ``config`` (which names its ``method``) and one ``<name>.safetensors`` per ``extra`` state dict (e.g. a GAN's
    kept ``discriminator``)."""
    import torch  # not at module level: reading configs must not load torch

    from genfer.io.weights import save_state_dict

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dtype = torch.float16 if half else None
    save_state_dict(state, folder / WEIGHTS_FILE, dtype=dtype)
    for name, extra_state in (extra or {}).items():
        save_state_dict(extra_state, folder / f"{name}.safetensors", dtype=dtype)
    write_config(folder, config)
    return folder
