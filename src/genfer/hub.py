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

from genfer.config import ConfigError, PFViTTrainConfig, TrainConfig, from_dict
from genfer.train.checkpoint import CheckpointError, load_checkpoint_config, load_into, load_state_dict

DEFAULT_RECOGNIZER = "fer-resnet18s-48"
"""Name of the default recognizer (FERPlus crowd labels, 8 classes)."""

FER2013_RECOGNIZER = "fer2013-resnet18s-48"
"""The shipped recognizer trained on FER2013's original 7-class labels."""

MODEL_ALIASES = {"pfvit": "pfvit-vit-t-48", "switchgan": "switchgan-fer2013-48", "psp": "psp-gray64"}
"""Short names of shipped models (``--model pfvit``)."""


@dataclass(frozen=True)
class LoadedModel:
    """A ready model with the config it was trained with (a recognizer's or PF-ViT's training config)."""

    name: str
    model: torch.nn.Module
    config: TrainConfig | PFViTTrainConfig
    folder: Path

    @property
    def kind(self) -> str:
        """``recognizer`` or ``pfvit``."""
        return "pfvit" if isinstance(self.config, PFViTTrainConfig) else "recognizer"

    @property
    def image_size(self) -> int:
        """Side of the aligned crops the model takes."""
        return self.config.model.mae.encoder.image_size if self.kind == "pfvit" else self.config.model.image_size

    @property
    def in_chans(self) -> int:
        """Input channels (1: grayscale)."""
        return self.config.model.mae.encoder.in_chans if self.kind == "pfvit" else self.config.model.in_chans

    @property
    def num_classes(self) -> int:
        """K."""
        return self.config.model.num_classes


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
    name = MODEL_ALIASES.get(str(name_or_path), str(name_or_path))
    shipped = models_dir() / name
    if shipped.is_dir():
        return shipped
    if name != str(name_or_path):
        raise CheckpointError(f"{name_or_path!r} names the shipped model {name}, which this genfer version does not "
                              "ship yet; pass a trained model folder instead (see the README)")
    names = ", ".join(available_models()) or "none shipped"
    raise CheckpointError(f"no model {str(name_or_path)!r}: not a folder and not a shipped model ({names})")


def load_recognizer(name_or_path: str | Path = DEFAULT_RECOGNIZER, *, device: str = "cpu") -> LoadedModel:
    """Load a recognizer by shipped name or folder (model folder or training checkpoint).

    A PF-ViT folder (``genfer train pfvit``) loads as a :class:`~genfer.models.pfvit.PFViT` whose forward is
    E → S → C, with its generator G when the weights hold it (for ``genfer neutralize``) and never D.
    """
    folder = resolve_model_folder(name_or_path)
    data = load_checkpoint_config(folder)
    is_pfvit = isinstance(data.get("model"), dict) and "mae" in data["model"]
    try:
        cfg = from_dict(PFViTTrainConfig if is_pfvit else TrainConfig, data)
    except ConfigError as exc:
        raise CheckpointError(f"{folder}/config.json is not a recognizer or PF-ViT config ({exc})") from None
    weights = folder / "model.safetensors"
    if (folder / "ema.safetensors").is_file():  # a training checkpoint: use its EMA weights
        weights = folder / "ema.safetensors"
    state = load_state_dict(weights)
    if is_pfvit:
        from genfer.train.pfvit import build_pfvit

        state = {k: v for k, v in state.items() if not k.startswith("discriminator.")}
        has_g = any(k.startswith("generator.") for k in state)
        model = build_pfvit(cfg.model, with_generator=has_g, with_discriminator=False)
    else:
        from genfer.models.recognizer import build_recognizer

        model = build_recognizer(cfg.model)
    load_into(model, state, source=str(weights))
    model.eval().to(device)
    return LoadedModel(name=folder.name, model=model, config=cfg, folder=folder)


def model_card(name_or_path: str | Path = DEFAULT_RECOGNIZER) -> str:
    """The model card text of a model folder ('' if it has none)."""
    card = resolve_model_folder(name_or_path) / "MODEL_CARD.md"
    return card.read_text() if card.is_file() else ""


def ship_model(source: str | Path, name: str, *, half: bool = True, dest_root: Path | None = None,
               drop_prefixes: tuple[str, ...] = ("discriminator.",)) -> Path:
    """Copy a trained model folder (any trainer's ``final/`` or a checkpoint) into the package as ``name``.

    Writes ``model.safetensors`` (a checkpoint's EMA weights when it has them; without the modules in
    ``drop_prefixes``, which inference never uses: PF-ViT's and the switch-unit GAN's D) as fp16 when
    ``half`` (check the measured figures are unchanged before shipping) and ``config.json``. The model
    card is written separately by hand with the measured figures.
    """
    import json

    from genfer.train.checkpoint import save_state_dict

    folder = resolve_model_folder(source)
    weights = folder / ("ema.safetensors" if (folder / "ema.safetensors").is_file() else "model.safetensors")
    state = {k: v for k, v in load_state_dict(weights).items() if not k.startswith(drop_prefixes)}
    config = load_checkpoint_config(folder)
    dest = (dest_root or models_dir()) / name
    dest.mkdir(parents=True, exist_ok=True)
    save_state_dict(state, dest / "model.safetensors", dtype=torch.float16 if half else None)
    (dest / "config.json").write_text(json.dumps(config, indent=2))
    return dest
