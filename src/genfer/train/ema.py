"""The exponential moving average of a network's weights that trainers evaluate and export (timm's ModelEmaV3).

After optimiser step ``s`` (0-based) a trainer calls ``ema.update(module, step=s + 1)``: the average then moves
towards the module with decay ``min(ema_decay, 1 - t^(-2/3))``, t = s + 1 (the warm-up ramp; 0 at the first
step, so the average starts as a copy of the first updated weights). ``ema.module`` is the averaged copy, in
eval mode; checkpoints save it as a module of their own (e.g. ``ema.safetensors``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from timm.utils import ModelEmaV3


def weight_average(module: torch.nn.Module, decay: float) -> ModelEmaV3:
    """timm's ``ModelEmaV3`` over a deep copy of ``module`` with genfer's warm-up (see the module docstring).

    Args:
        module: the network being trained (its parameters and buffers are averaged).
        decay: the decay the ramp rises to, in [0, 1); 0 keeps an exact copy of the last update.
    """
    from timm.utils import ModelEmaV3  # imported here: tests swap it for a recording subclass

    return ModelEmaV3(module, decay=decay, use_warmup=True)


__all__ = ["weight_average"]
