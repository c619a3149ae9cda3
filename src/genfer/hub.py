"""Shipped weights: registry, loading, model cards.

A model is a folder with ``model.safetensors`` (weights), ``config.json`` (the training config it was
built from) and ``MODEL_CARD.md``. Shipped models live in ``genfer/assets/models/<name>/``; any folder of
that form (e.g. a run's ``final/``) or a training checkpoint folder (``ckpt-*``, whose EMA weights are
used) loads the same way. Loading never executes code.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from genfer.config import ConfigError, TrainConfig, from_dict
from genfer.train.checkpoint import CheckpointError, load_checkpoint_config, load_into, load_state_dict

DEFAULT_RECOGNIZER = "fer-resnet18s-48"
"""Name of the default recognizer."""


@dataclass(frozen=True)
class LoadedModel:
    """A ready model with the config it was trained with."""

    name: str
    model: torch.nn.Module
    config: TrainConfig
    folder: Path


def models_dir() -> Path:
    """The package folder holding shipped models."""
    return Path(str(resources.files("genfer") / "assets" / "models"))


def available_models() -> list[str]:
    """Names of the shipped models."""
    root = models_dir()
    return sorted(p.name for p in root.iterdir() if (p / "model.safetensors").is_file()) if root.is_dir() else []


def resolve_model_folder(name_or_path: str | Path) -> Path:
    """The folder of a shipped model name or a user path; a clear error if neither exists."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    if path.suffix == ".safetensors" and path.is_file():
        return path.parent
    shipped = models_dir() / str(name_or_path)
    if shipped.is_dir():
        return shipped
    names = ", ".join(available_models()) or "none shipped"
    raise CheckpointError(f"no model {str(name_or_path)!r}: not a folder and not a shipped model ({names})")


def load_recognizer(name_or_path: str | Path = DEFAULT_RECOGNIZER, *, device: str = "cpu") -> LoadedModel:
    """Load a recognizer by shipped name or folder (model folder or training checkpoint)."""
    from genfer.models.recognizer import build_recognizer

    folder = resolve_model_folder(name_or_path)
    try:
        cfg = from_dict(TrainConfig, load_checkpoint_config(folder))
    except ConfigError as exc:
        raise CheckpointError(f"{folder}/config.json is not a recognizer config ({exc})") from None
    weights = folder / "model.safetensors"
    if (folder / "ema.safetensors").is_file():  # a training checkpoint: use its EMA weights
        weights = folder / "ema.safetensors"
    model = build_recognizer(cfg.model)
    load_into(model, load_state_dict(weights), source=str(weights))
    model.eval().to(device)
    return LoadedModel(name=folder.name, model=model, config=cfg, folder=folder)


def model_card(name_or_path: str | Path = DEFAULT_RECOGNIZER) -> str:
    """The model card text of a model folder ('' if it has none)."""
    card = resolve_model_folder(name_or_path) / "MODEL_CARD.md"
    return card.read_text() if card.is_file() else ""


def ship_model(source: str | Path, name: str, *, half: bool = True, dest_root: Path | None = None) -> Path:
    """Copy a trained model folder (a run's ``final/``) into the package as shipped model ``name``.

    Weights are stored as fp16 when ``half`` (check accuracy is unchanged before shipping); the
    model card is written separately by hand with the measured figures.
    """
    import json

    from genfer.train.checkpoint import save_state_dict

    loaded = load_recognizer(source)
    dest = (dest_root or models_dir()) / name
    dest.mkdir(parents=True, exist_ok=True)
    save_state_dict(loaded.model.state_dict(), dest / "model.safetensors", dtype=torch.float16 if half else None)
    (dest / "config.json").write_text(json.dumps(json.loads((loaded.folder / "config.json").read_text()), indent=2))
    return dest
