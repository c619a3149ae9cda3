"""Load a trained generator (and inversion encoder) from a folder or a shipped model name.

Accepted folders (a shipped name resolves to ``genfer/assets/models/<name>/``):

* a ``genfer train stylegan2`` ``final/`` (``model.safetensors``: ``g_ema`` + ``latent_avg``) or checkpoint
  (``ckpt-*``: ``g_ema.safetensors``; ``latent_avg`` is recomputed);
* a ``genfer train psp`` ``final/`` or checkpoint (``model.safetensors``: ``encoder.*``, ``decoder.*``);
* a run folder: its ``final/`` when finished, else its latest checkpoint.

Anything else is a :class:`~genfer.train.checkpoint.CheckpointError` with a one-line message. Loading never
executes code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genfer.config import InversionLossConfig, PSpTrainConfig, StyleGAN2Config, StyleGAN2TrainConfig, from_dict
from genfer.inversion import DEFAULT_GAN
from genfer.models.inversion import PSp, build_psp_encoder
from genfer.models.stylegan2 import Generator, average_latent, build_generator
from genfer.train.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    load_checkpoint_config,
    load_into,
    load_state_dict,
)

__all__ = ["DEFAULT_GAN", "LoadedGAN", "find_model_folder", "load_gan", "load_psp"]


@dataclass
class LoadedGAN:
    """A generator ready for sampling and inversion (eval mode, gradients off).

    generator: the (EMA) generator; latent_avg: its average w (D,); config: its architecture;
    psp: the encoder + generator when the folder holds a pSp model, else None; loss: the pSp model's training
    loss (None for a generator); folder, name: where it came from.
    """

    generator: Generator
    latent_avg: torch.Tensor
    config: StyleGAN2Config
    folder: Path
    name: str
    psp: PSp | None = None
    loss: InversionLossConfig | None = None

    @property
    def encoder(self) -> Any:
        """The inversion encoder, or None for a generator-only model."""
        return None if self.psp is None else self.psp.encoder


def find_model_folder(name_or_path: str | Path) -> Path:
    """The folder with ``config.json`` and weights for a shipped name, a model folder or a run folder."""
    from genfer.hub import resolve_model_folder

    folder = resolve_model_folder(name_or_path)
    if (folder / "config.json").is_file():
        return folder
    if (folder / "final" / "config.json").is_file():
        return folder / "final"
    ckpt = latest_checkpoint(folder)
    if ckpt is None:
        raise CheckpointError(f"{folder} is not a model folder (no config.json, final/ or checkpoint)")
    return ckpt


def _parse(cls: type, data: dict[str, Any], folder: Path) -> Any:
    try:
        return from_dict(cls, data)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{folder}/config.json is not a valid {cls.__name__} ({exc})") from None


def load_psp(folder: Path, cfg: PSpTrainConfig, *, device: str | torch.device = "cpu") -> PSp:
    """The pSp model (encoder + generator) of a pSp ``final/`` or checkpoint folder."""
    psp = PSp(encoder=build_psp_encoder(cfg.encoder, cfg.stylegan2), decoder=build_generator(cfg.stylegan2))
    load_into(psp, load_state_dict(folder / "model.safetensors"), source=str(folder))
    return psp.eval().requires_grad_(False).to(device)


def load_gan(name_or_path: str | Path, *, device: str | torch.device = "cpu") -> LoadedGAN:
    """Load a StyleGAN2 or pSp model (see the module docstring for the accepted folders)."""
    folder = find_model_folder(name_or_path)
    data = load_checkpoint_config(folder)
    name = folder.parent.name if folder.name == "final" or folder.name.startswith("ckpt-") else folder.name
    if "encoder" in data and "stylegan2" in data:
        cfg = _parse(PSpTrainConfig, data, folder)
        psp = load_psp(folder, cfg, device=device)
        return LoadedGAN(generator=psp.decoder, latent_avg=psp.encoder.latent_avg.detach().cpu(),
                         config=cfg.stylegan2, folder=folder, name=name, psp=psp, loss=cfg.loss)
    if "model" in data and "r1_gamma" in data:
        cfg = _parse(StyleGAN2TrainConfig, data, folder).model
        g = build_generator(cfg)
        if (folder / "model.safetensors").is_file():
            state = dict(load_state_dict(folder / "model.safetensors"))
            latent_avg = state.pop("latent_avg", None)
            load_into(g, state, source=str(folder))
        else:
            load_into(g, load_state_dict(folder / "g_ema.safetensors"), source=str(folder))
            latent_avg = None
        if latent_avg is None:
            latent_avg = average_latent(g)
        return LoadedGAN(generator=g.eval().requires_grad_(False).to(device), latent_avg=latent_avg.float().cpu(),
                         config=cfg, folder=folder, name=name)
    raise CheckpointError(f"{folder} holds neither a StyleGAN2 nor a pSp model (config.json keys: "
                          f"{', '.join(sorted(data)[:6])}, ...)")
