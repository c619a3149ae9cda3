"""The inversion loss with its frozen networks, shared by the pSp trainer and optimisation-based projection."""

from __future__ import annotations

import logging
from dataclasses import replace

import torch

from genfer.config import InversionLossConfig
from genfer.io import CheckpointError
from genfer.losses.psp import Distance, Embedder, inversion_loss
from genfer.metrics.lpips import build_lpips
from genfer.models.face_id import FaceIDEmbedder, load_dlib_face_resnet

log = logging.getLogger(__name__)


class InversionCriterion:
    """``l2·L2 + lpips·LPIPS + id·ID + w_reg·L_reg`` with ``cfg.weights`` (see :mod:`genfer.losses.psp`).

    The perceptual network (``cfg.lpips_net``: offline ``genfer-lpips`` over ``cfg.lpips_model``, or LPIPS-alex/vgg
    from ``cfg.lpips_weights``) and the identity embedder (dlib's face ResNet at ``cfg.id_size`` px) are built
    frozen only when their weight is > 0, unless passed in. Both see reconstructions clamped to [-1, 1] (a
    generator's output may leave that range; the L2 term still sees it unclamped).

    Args:
        cfg: an :class:`~genfer.config.InversionLossConfig`.
        device: where the networks run.
        perceptual: a distance ``(y, x) -> (B,)`` to use instead of building one.
        identity: an embedder ``x -> (B, F)`` to use instead of building one.
        identity_optional: when dlib's weights are not installed (the ``faceid`` extra), drop the ID term with a
            warning instead of failing: for inference-time refinement (``genfer invert --refine``, the demo), never
            for training, whose loss must not change silently.
    """

    def __init__(self, cfg: InversionLossConfig, *, device: torch.device | str = "cpu",
                 perceptual: Distance | None = None, identity: Embedder | None = None,
                 identity_optional: bool = False) -> None:
        w = cfg.weights
        if perceptual is None and w.lpips > 0:

            perceptual = build_lpips(cfg.lpips_net, weights=cfg.lpips_weights or None, model=cfg.lpips_model,
                                     device=str(device)).requires_grad_(False)
        if identity is None and w.id > 0:
            try:
                identity = FaceIDEmbedder(load_dlib_face_resnet(), size=cfg.id_size).to(device).eval()
                identity.requires_grad_(False)
            except CheckpointError as exc:
                if not identity_optional:
                    raise
                log.warning("%s; refining without the identity term", exc)
                cfg = replace(cfg, weights=replace(w, id=0.0))
        self.cfg = cfg
        self.perceptual = perceptual
        self.identity = identity
        self.perceptual_name = getattr(perceptual, "name", None if perceptual is None else type(perceptual).__name__)

    def __call__(self, y: torch.Tensor, x: torch.Tensor, wplus: torch.Tensor,
                 latent_avg: torch.Tensor) -> dict[str, torch.Tensor]:
        """Terms and ``total`` for reconstructions y of inputs x (B, C, H, W) from codes wplus (B, n_latent, D)."""
        perceptual, identity = self.perceptual, self.identity
        return inversion_loss(
            y, x, wplus, latent_avg, weights=self.cfg.weights,
            perceptual=None if perceptual is None else (lambda a, b: perceptual(a.clamp(-1, 1), b)),
            identity=None if identity is None else (lambda a: identity(a.clamp(-1, 1))),
        )


__all__ = ["InversionCriterion"]
