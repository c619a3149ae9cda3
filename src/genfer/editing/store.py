"""The directions file: emotion directions of one generator, as a small safetensors file and a JSON card.

A directions folder (shipped beside the generator it belongs to, e.g. ``assets/models/<gan>/directions/``)
holds ``directions.safetensors`` with

* ``coef`` (K, n_latent, D) float32: each emotion's linear function of a W+ code, ``f_k(C) = <coef_k, C> + b_k``;
* ``intercept`` (K,) float32;

and ``directions.json``: ``emotions`` (K names, genfer's order), ``space`` (``w``: fitted on w and broadcast to
every W+ entry, or ``wplus``: fitted per entry on style-mixed codes), ``method`` (``svr`` or ``svm``), the
generator it was fitted on (name and ``generator_fingerprint``), the recognizer that scored the samples,
``samples`` and, once chosen for that generator (benchmarks/latent_strength.py), ``neutral_strength``: Eq. 2's k.

Directions are ``coef_k`` normalised to unit RMS norm per W+ entry (``‖d‖ = sqrt(n_latent)``): a strength k
moves each entry by k in w units on average, whichever the space.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genfer.io.files import atomic_write_text
from genfer.io.weights import load_state_dict, save_state_dict
from genfer.labels import EMOTIONS

DIRECTIONS_WEIGHTS = "directions.safetensors"
DIRECTIONS_CARD = "directions.json"
SPACES = ("w", "wplus")

__all__ = ["DIRECTIONS_CARD", "DIRECTIONS_WEIGHTS", "EmotionDirections", "SPACES", "load_directions"]


@dataclass
class EmotionDirections:
    """Linear functions of the W+ code, one per emotion (see the module docstring).

    coef: (K, n_latent, D) float32 tensor; intercept: (K,); emotions: K names; info: the card's other fields.
    """

    coef: torch.Tensor
    intercept: torch.Tensor
    emotions: tuple[str, ...] = EMOTIONS
    space: str = "w"
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.coef.ndim != 3 or len(self.coef) != len(self.emotions) or self.intercept.shape != (len(self.coef),):
            raise ValueError(f"need coef (K, n_latent, D) and intercept (K,) for {len(self.emotions)} emotions, got "
                             f"{tuple(self.coef.shape)} and {tuple(self.intercept.shape)}")
        if self.space not in SPACES:
            raise ValueError(f"space must be one of {', '.join(SPACES)}, not {self.space!r}")

    @classmethod
    def from_flat(cls, coef: np.ndarray, intercept: np.ndarray, *, n_latent: int, space: str,
                  emotions: tuple[str, ...] = EMOTIONS, info: dict[str, Any] | None = None) -> "EmotionDirections":
        """From a fit over flat codes: (K, D) in ``w`` space (spread evenly over the n_latent entries, so that
        ``f`` of a broadcast code equals the fit's f of w) or (K, n_latent·D) in ``wplus`` space."""
        coef = torch.as_tensor(np.asarray(coef), dtype=torch.float32)
        if space == "w":
            coef = (coef / n_latent).unsqueeze(1).expand(-1, n_latent, -1).contiguous()
        else:
            coef = coef.reshape(len(coef), n_latent, -1)
        return cls(coef=coef, intercept=torch.as_tensor(np.asarray(intercept), dtype=torch.float32),
                   emotions=tuple(emotions), space=space, info=dict(info or {}))

    @property
    def n_latent(self) -> int:
        return self.coef.shape[1]

    @property
    def directions(self) -> torch.Tensor:
        """(K, n_latent, D) unit-RMS-per-entry directions."""
        norm = self.coef.flatten(1).norm(dim=1).reshape(-1, 1, 1)
        return self.coef / norm * self.n_latent**0.5

    def index(self, emotion: str) -> int:
        """Index of an emotion name (a clear error listing the names otherwise)."""
        if emotion not in self.emotions:
            raise ValueError(f"unknown emotion {emotion!r}; choose one of {', '.join(self.emotions)}")
        return self.emotions.index(emotion)

    def direction(self, emotion: str) -> torch.Tensor:
        """(n_latent, D) direction of ``emotion``."""
        return self.directions[self.index(emotion)]

    def regressor(self, emotion: str) -> tuple[torch.Tensor, float]:
        """(coef (n_latent, D), intercept) of ``emotion``'s linear function."""
        k = self.index(emotion)
        return self.coef[k], float(self.intercept[k])

    def save(self, folder: str | Path) -> Path:
        """Write ``directions.safetensors`` and ``directions.json`` into ``folder`` (atomically); returns it."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_state_dict({"coef": self.coef.float().contiguous(), "intercept": self.intercept.float().contiguous()},
                        folder / DIRECTIONS_WEIGHTS)
        card = {"format": "genfer-directions/1", "emotions": list(self.emotions), "space": self.space, **self.info}
        atomic_write_text(folder / DIRECTIONS_CARD, json.dumps(card, indent=2) + "\n")
        return folder


def load_directions(folder: str | Path) -> EmotionDirections:
    """Read a directions folder written by :meth:`EmotionDirections.save` (no code is executed)."""
    folder = Path(folder)
    card_path = folder / DIRECTIONS_CARD
    if not card_path.is_file() or not (folder / DIRECTIONS_WEIGHTS).is_file():
        raise FileNotFoundError(f"{folder} is not a directions folder (needs {DIRECTIONS_WEIGHTS} and "
                                f"{DIRECTIONS_CARD}; make one with `genfer directions fit`)")
    card = json.loads(card_path.read_text())
    state = load_state_dict(folder / DIRECTIONS_WEIGHTS)
    info = {k: v for k, v in card.items() if k not in ("format", "emotions", "space")}
    return EmotionDirections(coef=state["coef"].float(), intercept=state["intercept"].float(),
                             emotions=tuple(card["emotions"]), space=card["space"], info=info)
