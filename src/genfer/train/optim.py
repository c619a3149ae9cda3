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


def optimizer_step(loss: torch.Tensor, module: torch.nn.Module, optimizer: torch.optim.Optimizer, *,
                   scheduler: torch.optim.lr_scheduler.LRScheduler | None = None, grad_clip: float = 0.0) -> None:
    """One update: clear gradients, backpropagate ``loss``, clip ``module``'s gradient norm to ``grad_clip`` (> 0),
    step the optimiser, then the scheduler."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(module.parameters(), grad_clip)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()


__all__ = ["build_optimizer", "build_scheduler", "optimizer_step"]
