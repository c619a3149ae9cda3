"""Optimisers and LR schedules built from an :class:`~genfer.config.OptimConfig`."""

from __future__ import annotations

import torch

from genfer.config import OptimConfig
from genfer.train.loop import cosine_with_warmup


def build_optimizer(module: torch.nn.Module, cfg: OptimConfig, *, lr: float | None = None) -> torch.optim.Optimizer:
    """timm's optimiser factory: no weight decay on biases and norm/1-d parameters.

    ``sgd`` uses Nesterov momentum ``cfg.momentum``; ``adam``/``adamw`` use ``cfg.betas``.
    """
    from timm.optim import create_optimizer_v2

    kwargs = {"momentum": cfg.momentum, "nesterov": True} if cfg.optimizer == "sgd" else {"betas": tuple(cfg.betas)}
    return create_optimizer_v2(module, opt=cfg.optimizer, lr=cfg.lr if lr is None else lr,
                               weight_decay=cfg.weight_decay, **kwargs)


def build_scheduler(optimizer: torch.optim.Optimizer, *, total_steps: int, warmup_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up then cosine decay to 0 at ``total_steps``."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_with_warmup(total_steps, warmup_steps))


__all__ = ["build_optimizer", "build_scheduler"]
