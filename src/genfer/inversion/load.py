"""Generators and inversion encoders through the one model loader (:func:`genfer.hub.load_model`).

A model that can be inverted into is a StyleGAN2 generator (``genfer train stylegan2``: its ``final/``, run or
checkpoint folder) or an encoder + generator pair (``genfer train psp``, and any later encoder whose model has
``encoder`` and ``decoder``). :func:`inversion_parts` gives the generator, the encoder (None for a plain
generator), the average latent and the encoder's training loss, whatever the method.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from genfer.config import InversionLossConfig, StyleGAN2Config
from genfer.hub import LoadedModel, load_model
from genfer.inversion import DEFAULT_GAN
from genfer.io import CheckpointError
from genfer.models.stylegan2 import Generator

GAN_TASKS = ("sample", "invert")
"""A model is usable for sampling / inversion when its method has one of these tasks."""


class InversionParts(NamedTuple):
    """What inversion and sampling use of a loaded model (views of its modules, not copies)."""

    generator: Generator
    encoder: nn.Module | None
    latent_avg: torch.Tensor
    loss: InversionLossConfig | None
    arch: StyleGAN2Config


def load_gan(name_or_path: str | Path = DEFAULT_GAN, *, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a generator or an encoder + generator model (gradients off); anything else is a clear error."""
    loaded = load_model(name_or_path, device=str(device))
    if not set(GAN_TASKS) & set(loaded.tasks):
        raise CheckpointError(f"{name_or_path} is a {loaded.method} model, not a StyleGAN2 or pSp model")
    loaded.model.requires_grad_(False)
    return loaded


def inversion_parts(loaded: LoadedModel) -> InversionParts:
    """Generator, encoder (None for a plain generator), average latent (D,) on the CPU, the encoder's training
    loss (None for a plain generator) and the generator's architecture."""
    model = loaded.model
    generator = model.decoder if hasattr(model, "decoder") else model
    encoder = getattr(model, "encoder", None) if hasattr(model, "decoder") else None
    loss = getattr(loaded.config, "loss", None)
    arch = getattr(loaded.config, "stylegan2", None) or loaded.config.model  # type: ignore[attr-defined]
    return InversionParts(generator=generator, encoder=encoder, latent_avg=generator.latent_avg.detach().cpu(),
                          loss=loss if isinstance(loss, InversionLossConfig) else None, arch=arch)


__all__ = ["DEFAULT_GAN", "GAN_TASKS", "InversionParts", "inversion_parts", "load_gan"]
