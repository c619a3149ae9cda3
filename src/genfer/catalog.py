"""What each shipped model is: method, tasks, classes, input, size and headline figure, without loading torch.

Everything is read from the model folder: the method and its tasks from ``config.json`` through the registry, the
classes and input geometry from the run config, the parameter count from the safetensors header, the headline
figure from the model card's ``**Headline.**`` paragraph (the card is where the measured figures live; nothing
here repeats them).
"""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from genfer import registry
from genfer.hub import DEFAULT_RECOGNIZER, MODEL_ALIASES, available_models, model_card, read_model_config
from genfer.io import WEIGHTS_FILE

HEADLINE_MARK = "**Headline.**"
"""A model card's paragraph starting with this holds the figure ``genfer models`` shows."""


@dataclass(frozen=True)
class ModelInfo:
    """One shipped model as ``genfer models`` lists it (``--json``: :meth:`to_dict`)."""

    name: str
    aliases: tuple[str, ...]
    default: bool
    method: str
    tasks: tuple[str, ...]
    summary: str
    classes: int | None
    resolution: int | None
    channels: int | None
    parameters: int
    size_mb: float
    headline: str | None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return data | {"aliases": list(self.aliases), "tasks": list(self.tasks)}

    @property
    def input(self) -> str:
        """``48 px gray`` / ``64 px RGB`` (``-`` for a model that takes no face crops)."""
        if self.resolution is None:
            return "-"
        return f"{self.resolution} px {'gray' if self.channels == 1 else 'RGB'}"


def headline(card: str) -> str | None:
    """The text of a model card's ``**Headline.**`` paragraph (joined into one line), or None."""
    lines = card.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(HEADLINE_MARK):
            paragraph = [line[len(HEADLINE_MARK):]]
            for more in lines[i + 1:]:
                if not more.strip():
                    break
                paragraph.append(more)
            return " ".join(part.strip() for part in paragraph).strip() or None
    return None


def parameter_count(weights: Path) -> int:
    """Number of values in a safetensors file, read from its JSON header (no tensor is loaded)."""
    with open(weights, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    total = 0
    for key, entry in header.items():
        if key != "__metadata__":
            n = 1
            for side in entry["shape"]:
                n *= side
            total += n
    return total


def model_info(name: str) -> ModelInfo:
    """What the shipped model (or model folder) ``name`` is."""
    folder, cfg = read_model_config(name)
    method = registry.method_of(cfg)
    resolution = channels = None
    if method.input_geometry is not None:
        resolution, channels = method.input_geometry(cfg)
    weights = folder / WEIGHTS_FILE
    return ModelInfo(
        name=name, aliases=tuple(a for a, target in MODEL_ALIASES.items() if target == name),
        default=name == DEFAULT_RECOGNIZER, method=method.name, tasks=method.tasks, summary=method.summary,
        classes=getattr(getattr(cfg, "model", None), "num_classes", None), resolution=resolution, channels=channels,
        parameters=parameter_count(weights), size_mb=round(weights.stat().st_size / 2**20, 1),
        headline=headline(model_card(name)))


def catalog() -> list[ModelInfo]:
    """Every shipped model, by name."""
    return [model_info(name) for name in available_models()]


__all__ = ["HEADLINE_MARK", "ModelInfo", "catalog", "headline", "model_info", "parameter_count"]
