"""Plain ViT encoders with fixed 2D sin-cos position embeddings (the MAE / PF-ViT backbone).

The transformer blocks are timm's :class:`~timm.models.vision_transformer.Block` (pre-norm, qkv bias,
LayerNorm eps 1e-6, as in MAE). Patch embedding is timm's :class:`~timm.layers.PatchEmbed`. Position
embeddings are *fixed* (a buffer, not trained), computed by :func:`sincos_pos_embed_2d`.

Sizes: the paper's ViT-T/S/B (``VIT_PRESETS['vit_tiny' | 'vit_small' | 'vit_base']``: patch 16, 12 layers,
widths 192/384/768, heads 3/6/12) and genfer's ``tiny`` (tests) and ``cpu`` (48 px grayscale) sizes; see
:func:`vit_config` and :func:`build_vit`.

Patch order everywhere is row-major over the patch grid: patch ``n = row * grid_w + col`` (the order of
``PatchEmbed``'s flattened conv output and of :func:`genfer.models.mae.patchify`).
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from genfer.config import VIT_PRESETS, ConfigError, ViTConfig, preset, replace


def sincos_pos_embed_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """1D sin-cos embedding of positions, as MAE defines it.

    ``omega_i = 1 / 10000^(2i / dim)`` for ``i = 0 .. dim/2 - 1``; the embedding is
    ``[sin(pos * omega_0..), cos(pos * omega_0..)]`` (all sines first, then all cosines).

    Args:
        dim: output dimension (even).
        positions: (M,) positions (any float values).

    Returns:
        (M, dim) float32.
    """
    if dim % 2:
        raise ValueError(f"1D sin-cos embedding needs an even dimension, not {dim}")
    i = torch.arange(dim // 2, dtype=torch.float64)
    omega = 1.0 / 10000.0 ** (2.0 * i / dim)
    angles = positions.to(torch.float64).reshape(-1, 1) * omega.reshape(1, -1)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).to(torch.float32)


def sincos_pos_embed_2d(dim: int, grid_size: int | tuple[int, int], *, cls_token: bool = False) -> torch.Tensor:
    """Fixed 2D sin-cos position embedding of a patch grid, as MAE defines it.

    Half of the ``dim`` channels embed the column (x) index and half the row (y) index, each with
    :func:`sincos_pos_embed_1d` of ``dim / 2`` channels, so for patch (row r, col c) and ``D = dim``::

        omega_i = 1 / 10000^(2i / (D/2)),  i = 0 .. D/4 - 1
        e[r, c] = [sin(c·omega), cos(c·omega), sin(r·omega), cos(r·omega)]

    (MAE's ``get_2d_sincos_pos_embed``: its first half is computed from the column coordinate.)

    Args:
        dim: embedding dimension D (divisible by 4).
        grid_size: patch grid side, or (rows, cols).
        cls_token: prepend a row of zeros for the [CLS] slot.

    Returns:
        (rows * cols, D), or (1 + rows * cols, D) with ``cls_token``; patches in row-major order.
    """
    if dim % 4:
        raise ValueError(f"2D sin-cos embedding needs a dimension divisible by 4, not {dim}")
    rows, cols = (grid_size, grid_size) if isinstance(grid_size, int) else grid_size
    r = torch.arange(rows).repeat_interleave(cols)  # (rows*cols,) row index of patch n
    c = torch.arange(cols).repeat(rows)  # (rows*cols,) column index of patch n
    emb = torch.cat([sincos_pos_embed_1d(dim // 2, c), sincos_pos_embed_1d(dim // 2, r)], dim=1)
    if cls_token:
        emb = torch.cat([torch.zeros(1, dim), emb], dim=0)
    return emb


def transformer_blocks(*, dim: int, depth: int, num_heads: int, mlp_ratio: float, drop_path: float = 0.0) -> nn.Sequential:
    """``depth`` timm ViT blocks (qkv bias, LayerNorm eps 1e-6) with linearly increasing drop-path."""
    from timm.models.vision_transformer import Block

    rates = [drop_path * i / (depth - 1) for i in range(depth)] if depth > 1 else [drop_path]
    norm = partial(nn.LayerNorm, eps=1e-6)
    return nn.Sequential(
        *[
            Block(dim, num_heads, mlp_ratio=mlp_ratio, qkv_bias=True, drop_path=rates[i], norm_layer=norm, depth=i)
            for i in range(depth)
        ]
    )


def init_vit_weights(module: nn.Module) -> None:
    """MAE's initialisation: Xavier-uniform linear weights, zero biases, unit LayerNorm."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class ViT(nn.Module):
    """A plain ViT encoder with a [CLS] token and fixed 2D sin-cos position embeddings.

    Args:
        image_size: input side in pixels (square inputs).
        patch_size: patch side; ``image_size`` must be a multiple of it.
        in_chans: 1 (grayscale) or 3.
        embed_dim: token width D (divisible by 4 and by ``num_heads``).
        depth: number of transformer blocks.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width / D.
        drop_path: stochastic-depth rate of the last block (linearly increasing from 0).
        num_classes: K for the linear head on the [CLS] token; 0 for no head (an MAE encoder).

    Inputs are genfer's normalised images in [-1, 1] (:func:`genfer.data.augment.normalize`).
    """

    def __init__(
        self,
        *,
        image_size: int = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        from timm.layers import PatchEmbed

        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} must be a multiple of patch_size {patch_size}")
        if embed_dim % num_heads or embed_dim % 4:
            raise ValueError(f"embed_dim {embed_dim} must be divisible by num_heads {num_heads} and by 4")
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, not {num_classes}")
        self.image_size = image_size
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.embed_dim = self.num_features = embed_dim
        self.grid_size = image_size // patch_size
        self.num_patches = self.grid_size**2
        self.num_classes = num_classes

        self.patch_embed = PatchEmbed(
            img_size=image_size, patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim
        )
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        # Fixed, so not saved: rebuilt from the config on construction.
        self.register_buffer(
            "pos_embed", sincos_pos_embed_2d(embed_dim, self.grid_size, cls_token=True).unsqueeze(0), persistent=False
        )
        self.blocks = transformer_blocks(
            dim=embed_dim, depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio, drop_path=drop_path
        )
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head: nn.Module = nn.Linear(embed_dim, num_classes) if num_classes else nn.Identity()

        init_vit_weights(self)
        w = self.patch_embed.proj.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))  # as a linear layer over the flattened patch
        nn.init.normal_(self.cls_token, std=0.02)
        if num_classes:
            nn.init.zeros_(self.head.weight)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ tokens

    def embed_patches(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> (B, N, D) patch tokens plus their position embeddings (no [CLS])."""
        return self.patch_embed(x) + self.pos_embed[:, 1:]

    def _with_cls(self, tokens: torch.Tensor) -> torch.Tensor:
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(tokens.shape[0], -1, -1)
        return torch.cat([cls, tokens], dim=1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> (B, 1 + N, D) normalised tokens, [CLS] first."""
        return self.norm(self.blocks(self._with_cls(self.embed_patches(x))))

    def forward_masked(self, x: torch.Tensor, keep_index: torch.Tensor) -> torch.Tensor:
        """Encode only the kept patches (MAE).

        Args:
            x: (B, C, H, W) images.
            keep_index: (B, K) long, indices in [0, N) of the patches each image keeps, in the order
                their tokens should appear.

        Returns:
            (B, 1 + K, D) normalised tokens: [CLS], then the kept patches in ``keep_index`` order.
        """
        tokens = self.embed_patches(x)
        if keep_index.dim() != 2 or keep_index.shape[0] != tokens.shape[0]:
            raise ValueError(f"keep_index must be (B, K) with B = {tokens.shape[0]}, not {tuple(keep_index.shape)}")
        kept = torch.gather(tokens, 1, keep_index.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
        return self.norm(self.blocks(self._with_cls(kept)))

    # ------------------------------------------------------------------ classification

    def forward_head(self, tokens: torch.Tensor, *, pre_logits: bool = False) -> torch.Tensor:
        """tokens: (B, 1 + N, D) from :meth:`forward_features` -> logits (B, K) from the [CLS] token.

        With ``pre_logits`` (or no head), returns the [CLS] features (B, D).
        """
        cls = tokens[:, 0]
        return cls if pre_logits else self.head(cls)

    def reset_head(self, num_classes: int) -> None:
        """Replace the head by a fresh zero-initialised linear layer with ``num_classes`` outputs (0: none)."""
        self.num_classes = num_classes
        device = self.cls_token.device
        self.head = nn.Linear(self.embed_dim, num_classes, device=device) if num_classes else nn.Identity()
        if num_classes:
            nn.init.zeros_(self.head.weight)  # type: ignore[arg-type]
            nn.init.zeros_(self.head.bias)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> logits (B, K) (or [CLS] features (B, D) without a head)."""
        return self.forward_head(self.forward_features(x))


def vit_config(name: str, **overrides: object) -> ViTConfig:
    """A named ViT size (``tiny``, ``cpu``, ``vit_tiny``, ``vit_small``, ``vit_base``) with field overrides.

    ``vit_config('vit_base', in_chans=1)`` is ViT-B on grayscale input.
    """
    cfg = preset(name, VIT_PRESETS)
    unknown = sorted(set(overrides) - set(ViTConfig.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"unknown ViT config field(s): {', '.join(unknown)}")
    return replace(cfg, **overrides)  # type: ignore[arg-type]


def build_vit(cfg: ViTConfig, *, num_classes: int = 0) -> ViT:
    """The :class:`ViT` a :class:`ViTConfig` describes, with a ``num_classes``-way [CLS] head (0: none)."""
    return ViT(
        image_size=cfg.image_size,
        patch_size=cfg.patch_size,
        in_chans=cfg.in_chans,
        embed_dim=cfg.embed_dim,
        depth=cfg.depth,
        num_heads=cfg.num_heads,
        mlp_ratio=cfg.mlp_ratio,
        drop_path=cfg.drop_path,
        num_classes=num_classes,
    )


def vit_tiny(*, num_classes: int = 0, **overrides: object) -> ViT:
    """ViT-T/16 (192 wide, 12 layers, 3 heads; 224 px, 3 channels unless overridden)."""
    return build_vit(vit_config("vit_tiny", **overrides), num_classes=num_classes)


def vit_small(*, num_classes: int = 0, **overrides: object) -> ViT:
    """ViT-S/16 (384 wide, 12 layers, 6 heads)."""
    return build_vit(vit_config("vit_small", **overrides), num_classes=num_classes)


def vit_base(*, num_classes: int = 0, **overrides: object) -> ViT:
    """ViT-B/16 (768 wide, 12 layers, 12 heads)."""
    return build_vit(vit_config("vit_base", **overrides), num_classes=num_classes)


def vit_cpu(*, num_classes: int = 0, **overrides: object) -> ViT:
    """genfer's CPU ViT: 48 px grayscale, patch 6, ViT-T width (see ``VIT_PRESETS['cpu']``)."""
    return build_vit(vit_config("cpu", **overrides), num_classes=num_classes)


__all__ = [
    "ViT",
    "build_vit",
    "init_vit_weights",
    "sincos_pos_embed_1d",
    "sincos_pos_embed_2d",
    "transformer_blocks",
    "vit_base",
    "vit_config",
    "vit_cpu",
    "vit_small",
    "vit_tiny",
]
