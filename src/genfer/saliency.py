"""Where a recognizer looks: Grad-CAM++ for CNNs and attention rollout for ViTs.

- :func:`grad_cam_pp`: Grad-CAM++ (Chattopadhay et al. 2018, Eq. 19, the closed form for an exponential of the
  score): per channel k of a convolutional layer's activations A (B, C, h, w) and the class logit y_c,
  ``α = g² / (2 g² + Σ_ab A · g³)`` with ``g = ∂y_c/∂A`` (α = 0 where g = 0), channel weight
  ``w_k = Σ_ij α · ReLU(g)``, map ``ReLU(Σ_k w_k A_k)`` upsampled (bilinear) to the input and scaled to [0, 1]
  per image: the conventions of the ``grad-cam`` package's ``GradCAMPlusPlus``, which it matches to 1e-5
  (tests/test_saliency.py) without its second OpenCV package.
- :func:`attention_rollout`: Abnar & Zuidema's rollout over a ViT's blocks: each block's head-averaged attention
  ``Ā`` (T, T) becomes ``(Ā + I) / 2`` with rows renormalised, the product over blocks is taken from the first
  block to the last, and the [CLS] row over the patch tokens, reshaped to the patch grid, is the map.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


ALPHA_EPS = 1e-6
"""Added to α's denominator (as the ``grad-cam`` package does) so that it is never zero."""


def grad_cam_pp_weights(activations: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """Grad-CAM++ channel weights (Eq. 19) of activations A and gradients g = ∂y_c/∂A, both (B, C, h, w) -> (B, C).

    ``α = g² / (2 g² + Σ_ab A_ab · g³ + ε)``, zero where g = 0; ``w_k = Σ_ij α_ij · ReLU(g_ij)``.
    """
    g2 = grads.pow(2)
    total = activations.sum(dim=(2, 3), keepdim=True)
    alpha = torch.where(grads != 0, g2 / (2 * g2 + total * g2 * grads + ALPHA_EPS), torch.zeros_like(g2))
    return (alpha * grads.clamp(min=0)).sum(dim=(2, 3))


def layer_activations_and_grads(model: nn.Module, x: torch.Tensor, classes: Sequence[int], layer: nn.Module
                                ) -> tuple[torch.Tensor, torch.Tensor]:
    """``layer``'s output A (B, C, h, w) for crops x (B, C_in, H, W) and ∂y_c/∂A of each image's class logit.

    A forward hook replaces the layer's output by a detached copy that requires grad, so the backward pass
    (:func:`torch.autograd.grad`) runs only through the layers after it and leaves the weights' ``.grad`` alone.
    """
    outputs: list[torch.Tensor] = []

    def keep(_module: nn.Module, _inputs: Any, out: torch.Tensor) -> torch.Tensor:
        outputs.append(out.detach().requires_grad_(True))
        return outputs[-1]

    hook = layer.register_forward_hook(keep)
    try:
        with torch.inference_mode(False), torch.enable_grad():
            logits = model.eval()(x.detach().clone())
            if len(outputs) != 1:
                raise ValueError(f"the Grad-CAM++ target layer ran {len(outputs)} times in one forward pass, not once")
            picked = logits.gather(1, torch.as_tensor(list(classes), device=logits.device).long().reshape(-1, 1))
            (grads,) = torch.autograd.grad(picked.sum(), outputs[0])  # images are independent in eval mode
    finally:
        hook.remove()
    return outputs[0].detach(), grads


def grad_cam_pp(model: nn.Module, x: torch.Tensor, classes: Sequence[int],
                target_layer: nn.Module | None = None) -> np.ndarray:
    """Grad-CAM++ maps of normalised crops x (B, C, H, W) for class indices ``classes`` (B,) -> (B, H, W) in [0, 1].

    ``target_layer``: the convolutional layer read (default :func:`cnn_target_layer`).
    """
    activations, grads = layer_activations_and_grads(model, x, classes, target_layer or cnn_target_layer(model))
    weights = grad_cam_pp_weights(activations, grads)
    cam = (weights[:, :, None, None] * activations).sum(dim=1, keepdim=True).clamp(min=0)
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return unit_range(cam.numpy())


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
