"""Where a recognizer looks: Grad-CAM++ for CNNs and attention rollout for ViTs.

- :func:`grad_cam_pp`: Grad-CAM++ (Chattopadhay et al. 2018) through the ``grad-cam`` package
  (``pip install 'genfer[explain]'``): per channel k of a convolutional layer's activations A (B, C, h, w) and
  the class score y_c, ``α = g² / (2 g² + Σ_ij A · g³)`` with ``g = ∂y_c/∂A``, channel weight
  ``w_k = Σ_ij α · ReLU(g)``, map ``ReLU(Σ_k w_k A_k)`` upsampled to the input and scaled to [0, 1].
- :func:`attention_rollout`: Abnar & Zuidema's rollout over a ViT's blocks: each block's head-averaged attention
  ``Ā`` (T, T) becomes ``(Ā + I) / 2`` with rows renormalised, the product over blocks is taken from the first
  block to the last, and the [CLS] row over the patch tokens, reshaped to the patch grid, is the map.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def cnn_target_layer(model: nn.Module) -> nn.Module:
    """The layer Grad-CAM++ reads for a recognizer CNN: the last residual block of a ``FaceResNet``."""
    net = getattr(model, "net", None)
    if net is not None and hasattr(net, "layer4"):
        return net.layer4[-1]
    raise ValueError(f"no Grad-CAM++ target layer known for {type(model).__name__}")


def vit_blocks(model: nn.Module) -> tuple[Sequence[nn.Module], int, int]:
    """(transformer blocks, prefix tokens, patch-grid side) of a ViT recognizer or a PF-ViT (its encoder E)."""
    vit = getattr(model, "encoder", None)
    vit = getattr(model, "net", None) if vit is None else vit
    if vit is None or not hasattr(vit, "blocks"):
        raise ValueError(f"{type(model).__name__} is not a ViT recognizer (no transformer blocks)")
    prefix = int(getattr(vit, "num_prefix_tokens", 1))
    grid = getattr(vit, "grid_size", None) or vit.patch_embed.grid_size
    side = grid[0] if isinstance(grid, (tuple, list)) else int(grid)
    return list(vit.blocks), prefix, side


def is_vit(model: nn.Module) -> bool:
    """Whether :func:`attention_rollout` applies to ``model`` (else :func:`grad_cam_pp`)."""
    try:
        vit_blocks(model)
    except ValueError:
        return False
    return True


def grad_cam_pp(model: nn.Module, x: torch.Tensor, classes: Sequence[int],
                target_layer: nn.Module | None = None) -> np.ndarray:
    """Grad-CAM++ maps of normalised crops x (B, C, H, W) for class indices ``classes`` (B,) -> (B, H, W) in [0, 1]."""
    try:
        from pytorch_grad_cam import GradCAMPlusPlus
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    except ImportError as exc:
        raise ImportError(f"Grad-CAM++ needs the explain extra: pip install 'genfer[explain]' ({exc})") from None
    layer = target_layer or cnn_target_layer(model)
    x = x.detach().clone().requires_grad_(True)  # activations need gradients even when the weights are frozen
    with torch.inference_mode(False), torch.enable_grad(), GradCAMPlusPlus(model=model.eval(), target_layers=[layer]) as cam:
        maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(k)) for k in classes])
    return np.asarray(maps, dtype=np.float32)


def rollout(attentions: Sequence[torch.Tensor], prefix: int = 1) -> torch.Tensor:
    """Attention rollout of per-block attention probabilities (B, heads, T, T), first block first.

    Returns:
        (B, T - prefix): the rolled-out attention of the first token ([CLS]) on each patch token.
    """
    if not attentions:
        raise ValueError("rollout needs the attention of at least one block")
    result = None
    for attn in attentions:
        a = attn.float().mean(dim=1)
        a = a + torch.eye(a.shape[-1], device=a.device)
        a = a / a.sum(dim=-1, keepdim=True)
        result = a if result is None else a @ result
    return result[:, 0, prefix:]


@torch.no_grad()
def attention_rollout(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """Attention-rollout maps of normalised crops x (B, C, H, W) -> (B, H, W) in [0, 1] (bilinear upsampling)."""
    blocks, prefix, side = vit_blocks(model)
    captured: list[torch.Tensor] = []
    hooks, fused = [], []
    for block in blocks:
        attn = block.attn
        fused.append(getattr(attn, "fused_attn", False))
        attn.fused_attn = False  # the explicit softmax path passes the probabilities through attn_drop
        hooks.append(attn.attn_drop.register_forward_hook(lambda _m, _i, out: captured.append(out)))
    try:
        model.eval()(x)
    finally:
        for hook, block, was in zip(hooks, blocks, fused):
            hook.remove()
            block.attn.fused_attn = was
    maps = rollout(captured, prefix).reshape(-1, 1, side, side)
    maps = F.interpolate(maps, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return unit_range(maps.numpy())


def unit_range(maps: np.ndarray) -> np.ndarray:
    """Scale each map (B, H, W) to [0, 1] (min-max; a constant map becomes zeros)."""
    lo = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - lo
    return np.where(span > 0, (maps - lo) / np.where(span > 0, span, 1), 0).astype(np.float32)


def saliency(model: nn.Module, x: torch.Tensor, classes: Sequence[int]) -> tuple[np.ndarray, str]:
    """(maps (B, H, W) in [0, 1], method name): attention rollout for ViTs, Grad-CAM++ for CNNs."""
    if is_vit(model):
        return attention_rollout(model, x), "attention-rollout"
    return grad_cam_pp(model, x, classes), "grad-cam++"
