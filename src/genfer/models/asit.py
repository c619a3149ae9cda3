"""ASIT's inversion encoder (Mao et al., Figs. 3 and 4): a GC ViT backbone, a window-attention branch per W+ entry
and a structure code replacing the generator's constant input; and the generator's feature maps for DAL.

:class:`ASITEncoder`: timm's :class:`~timm.models.gcvit.GlobalContextVit` (global-context attention plus window
attention) gives one feature map per stage; the last three are the fine, medium and coarse levels of a top-down
pyramid (pSp's lateral 1×1 convolutions and upsample-add, all at ``pyramid_dim`` channels). W+ entry i reads the
level pSp's split assigns it through its own branch: a :class:`WindowAttentionBranch` (Fig. 4) or, for Table 4's
ablation, pSp's convolutional :class:`~genfer.models.psp.GradualStyleBlock`. The structure code is a 3×3
convolution of the highest-level (last stage) features resized to 4×4, added to the generator's learned constant
(kept in the buffer ``structure_base``): the convolution starts at zero, so an untrained ASIT renders through the
generator's own input and learns its departure from it.

:func:`synthesis_features` renders W+ codes and returns the generator's feature map at each resolution (what DAL
aligns the encoder's stages with); :func:`gcvit_attention_maps` the attention a GC ViT stage pays to each position
(the paper's Fig. 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from timm.models.gcvit import GlobalContextVit, GlobalContextVitBlock, window_reverse
from torch import nn

from genfer.layers.stylegan import EqualLinear
from genfer.models.psp import (
    GradualStyleBlock,
    InversionEncoder,
    InversionOutput,
    upsample_add,
)
from genfer.models.stylegan2 import Generator, config_channels

if TYPE_CHECKING:
    from genfer.config import ASITEncoderConfig, StyleGAN2Config

__all__ = [
    "ASITEncoder",
    "ASITFeatures",
    "WindowAttentionBranch",
    "build_asit_encoder",
    "gcvit_attention_maps",
    "resize_map",
    "synthesis_features",
]


def _is_power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def resize_map(x: torch.Tensor, side: int) -> torch.Tensor:
    """(B, C, s, s) -> (B, C, side, side): area-averaged when larger, bilinear when smaller, else unchanged."""
    if x.shape[-1] == side:
        return x
    if x.shape[-1] > side:
        return F.adaptive_avg_pool2d(x, side)
    return F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)


class WindowAttentionBranch(nn.Module):
    """One W+ entry from a pyramid level, local to global (Fig. 4).

    Window attention (a GC ViT block without the global query: multi-head attention inside non-overlapping
    ``window``×``window`` windows with relative position bias, then an MLP) followed by 2×2 max pooling, repeated
    while the map is larger than the window; then one block over the whole map (now a single window), mean over
    positions and an equalized linear layer to ``style_dim``.

    Args:
        dim: channels of the level map.
        side: its side (a power of two).
        window: window side (a power of two; clipped to ``side``).
        num_heads: attention heads.
        style_dim: size of the W+ entry.
        mlp_ratio: hidden width of the blocks' MLPs relative to ``dim``.

    Attributes:
        sides: the map side each attention block sees, e.g. (16, 8, 4) for side 16 and window 4.

    Shapes: ``x: (B, dim, side, side) -> (B, style_dim)``.
    """

    def __init__(self, *, dim: int, side: int, window: int, num_heads: int, style_dim: int,
                 mlp_ratio: float = 2.0) -> None:
        super().__init__()
        if not (_is_power_of_two(side) and _is_power_of_two(window)):
            raise ValueError(f"branch side and window must be powers of two, got {side} and {window}")
        self.window = min(window, side)
        sides = [side]
        while sides[-1] > self.window:
            sides.append(sides[-1] // 2)
        self.sides = tuple(sides)
        self.blocks = nn.ModuleList(
            GlobalContextVitBlock(dim=dim, feat_size=(s, s), num_heads=num_heads, window_size=self.window,
                                  mlp_ratio=mlp_ratio, use_global=False)
            for s in self.sides
        )
        self.pool = nn.MaxPool2d(2)
        self.linear = EqualLinear(in_features=dim, out_features=style_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.permute(0, 2, 3, 1)  # NHWC for the GC ViT blocks
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i + 1 < len(self.blocks):
                h = self.pool(h.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.linear(h.mean(dim=(1, 2)))


@dataclass
class ASITFeatures:
    """Everything one ASIT forward pass computes.

    stages: backbone stage outputs (B, C_i, s_i, s_i), finest first (what DAL aligns).
    levels: the (coarse, medium, fine) pyramid maps (B, pyramid_dim, s, s).
    code: the W+ codes and the structure code.
    """

    stages: list[torch.Tensor]
    levels: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    code: InversionOutput


class ASITEncoder(InversionEncoder):
    """ASIT's encoder (see the module docstring).

    Args:
        in_channels, input_size, n_latent, style_dim: see :class:`~genfer.models.psp.InversionEncoder`.
        structure_channels: C4, the channels of the generator's 4×4 input.
        embed_dim, depths, num_heads, window_sizes, mlp_ratio, drop_path_rate: the GC ViT (one entry per stage
            for the tuples; stage i is ``embed_dim·2^i`` wide at ``input_size / 2^(i+2)``).
        pyramid_dim: channels of the pyramid and of the branches.
        branch: ``window`` (:class:`WindowAttentionBranch`) or ``conv`` (pSp's map2style).
        branch_windows: windows the branches of a level cycle through.
        branch_heads: heads of the branches' attention.
        coarse_end, medium_end: W+ index bounds of the coarse / medium / fine split.

    Buffers: ``latent_avg`` (style_dim,), ``structure_base`` (1, C4, 4, 4) the generator's constant input.

    Shapes: ``encode(x: (B, in_channels, input_size, input_size))`` -> W+ (B, n_latent, style_dim) and structure
    code (B, C4, 4, 4).
    """

    structure_base: torch.Tensor

    def __init__(
        self,
        *,
        in_channels: int,
        input_size: int,
        n_latent: int,
        style_dim: int,
        structure_channels: int,
        embed_dim: int,
        depths: tuple[int, ...],
        num_heads: tuple[int, ...],
        window_sizes: tuple[int, ...],
        mlp_ratio: float = 3.0,
        drop_path_rate: float = 0.0,
        pyramid_dim: int = 256,
        branch: str = "window",
        branch_windows: tuple[int, ...] = (2, 4, 8),
        branch_heads: int = 4,
        coarse_end: int = 3,
        medium_end: int = 7,
    ) -> None:
        super().__init__(in_channels=in_channels, input_size=input_size, n_latent=n_latent, style_dim=style_dim)
        n_stages = len(depths)
        if n_stages < 3:
            raise ValueError("ASITEncoder needs at least 3 GC ViT stages")
        if not 1 <= coarse_end < medium_end < n_latent:
            raise ValueError(f"need 1 <= coarse_end < medium_end < n_latent, got {coarse_end}, {medium_end}, {n_latent}")
        sides = [input_size // 2 ** (i + 2) for i in range(n_stages)]
        if not _is_power_of_two(input_size) or sides[-1] < 1:
            raise ValueError(f"input_size {input_size} must be a power of two >= {2 ** (n_stages + 1)} for "
                             f"{n_stages} stages")
        for i, (s, w) in enumerate(zip(sides, window_sizes)):
            if not _is_power_of_two(w) or w > s:
                raise ValueError(f"GC ViT stage {i} ({s}x{s}) needs a power-of-two window <= {s}, not {w}")
        if branch not in ("window", "conv"):
            raise ValueError(f"branch must be 'window' or 'conv', not {branch!r}")
        self.structure_channels = structure_channels
        self.coarse_end, self.medium_end, self.branch = coarse_end, medium_end, branch
        self.backbone = GlobalContextVit(in_chans=in_channels, num_classes=0, img_size=input_size,
                                         window_size=tuple(window_sizes), embed_dim=embed_dim, depths=tuple(depths),
                                         num_heads=tuple(num_heads), mlp_ratio=mlp_ratio, drop_path_rate=drop_path_rate)
        widths = [embed_dim * 2**i for i in range(n_stages)]
        self.stage_sides = tuple(sides)
        fine_w, medium_w, coarse_w = widths[-3:]
        self.lateral_coarse = nn.Conv2d(coarse_w, pyramid_dim, 1)
        self.lateral_medium = nn.Conv2d(medium_w, pyramid_dim, 1)
        self.lateral_fine = nn.Conv2d(fine_w, pyramid_dim, 1)
        level_sides = (sides[-1], sides[-2], sides[-3])  # coarse, medium, fine
        self.level_sides = level_sides
        branches = []
        for i in range(n_latent):
            level = self.level(i)
            first = (0, coarse_end, medium_end)[level]
            side = level_sides[level]
            if branch == "window":
                window = branch_windows[(i - first) % len(branch_windows)]
                branches.append(WindowAttentionBranch(dim=pyramid_dim, side=side, window=window, num_heads=branch_heads,
                                                      style_dim=style_dim))
            else:
                branches.append(GradualStyleBlock(in_channels=pyramid_dim, out_channels=style_dim, spatial=side))
        self.styles = nn.ModuleList(branches)
        self.structure_head = nn.Conv2d(coarse_w, structure_channels, 3, padding=1)
        nn.init.zeros_(self.structure_head.weight)
        nn.init.zeros_(self.structure_head.bias)
        self.register_buffer("structure_base", torch.zeros(1, structure_channels, 4, 4))

    def set_structure_base(self, constant: torch.Tensor) -> None:
        """Store the generator's learned constant input (1, C4, 4, 4) the structure code departs from."""
        self.structure_base.copy_(constant.reshape_as(self.structure_base))

    def level(self, index: int) -> int:
        """Pyramid level of W+ entry ``index``: 0 coarse, 1 medium, 2 fine."""
        return 0 if index < self.coarse_end else 1 if index < self.medium_end else 2

    def analyse(self, x: torch.Tensor) -> ASITFeatures:
        """x: (B, C, H, W) in [-1, 1] -> stage maps, pyramid levels and codes (:class:`ASITFeatures`)."""
        self.check_input(x)
        stages = self.backbone.forward_intermediates(x, intermediates_only=True)
        fine_s, medium_s, coarse_s = stages[-3:]
        coarse = self.lateral_coarse(coarse_s)
        medium = upsample_add(coarse, self.lateral_medium(medium_s))
        fine = upsample_add(medium, self.lateral_fine(fine_s))
        levels = (coarse, medium, fine)
        offsets = torch.stack([branch(levels[self.level(i)]) for i, branch in enumerate(self.styles)], dim=1)
        structure = self.structure_base + resize_map(self.structure_head(coarse_s), 4)
        return ASITFeatures(stages=list(stages), levels=levels,
                            code=InversionOutput(wplus=offsets + self.latent_avg, structure=structure))

    def encode(self, x: torch.Tensor) -> InversionOutput:
        return self.analyse(x).code


def build_asit_encoder(cfg: ASITEncoderConfig, generator: StyleGAN2Config) -> ASITEncoder:
    """A freshly initialised ASIT encoder for a generator config (``structure_base`` still zero: set it from the
    generator with :meth:`ASITEncoder.set_structure_base`)."""
    b = cfg.backbone
    return ASITEncoder(
        in_channels=generator.img_channels, input_size=cfg.input_size or generator.resolution,
        n_latent=generator.n_latent, style_dim=generator.style_dim, structure_channels=config_channels(generator)[4],
        embed_dim=b.embed_dim, depths=tuple(b.depths), num_heads=tuple(b.num_heads),
        window_sizes=tuple(b.window_sizes), mlp_ratio=b.mlp_ratio, drop_path_rate=b.drop_path_rate,
        pyramid_dim=cfg.pyramid_dim, branch=cfg.branch, branch_windows=tuple(cfg.branch_windows),
        branch_heads=cfg.branch_heads, coarse_end=cfg.coarse_end, medium_end=cfg.medium_end)


# ----------------------------------------------------------------------------- generator features (DAL)


def synthesis_features(
    generator: Generator,
    wplus: torch.Tensor,
    *,
    structure: torch.Tensor | None = None,
    noise: list[torch.Tensor] | None = None,
    randomize_noise: bool = False,
    rng: torch.Generator | None = None,
) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """Render W+ codes and keep the generator's feature map at each resolution.

    The map of side r is the output of the last styled convolution at r (``conv1`` at 4 px, then the second
    convolution of each up-sampling pair), before its to-RGB layer.

    Returns:
        (image (B, C, S, S), {r: (B, channels[r], r, r)} for r = 4, 8, …, S).
    """
    feats: dict[int, torch.Tensor] = {}
    layers = [generator.conv1] + [generator.convs[2 * j + 1] for j in range(len(generator.to_rgbs))]

    def keep(_module: nn.Module, _inputs: tuple, out: torch.Tensor) -> None:
        feats[out.shape[-1]] = out

    handles = [layer.register_forward_hook(keep) for layer in layers]
    try:
        image = generator.synthesis(wplus, noise=noise, randomize_noise=randomize_noise, generator=rng,
                                    structure=structure)
    finally:
        for h in handles:
            h.remove()
    return image, feats


# ----------------------------------------------------------------------------- attention maps (Fig. 1)


def _window_attention_probs(attn: nn.Module, x: torch.Tensor, q_global: torch.Tensor | None) -> torch.Tensor:
    """The softmax attention (B_w, heads, N, N) a timm ``WindowAttentionGlobal`` computes for windows x (B_w, N, C)."""
    bw, n, _ = x.shape
    if attn.use_global and q_global is not None:
        k = attn.qkv(x).reshape(bw, n, 2, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)[0]
        q = q_global.repeat_interleave(bw // q_global.shape[0], dim=0)
        q = q.reshape(bw, n, attn.num_heads, attn.head_dim).permute(0, 2, 1, 3)
    else:
        q, k, _ = attn.qkv(x).reshape(bw, n, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
    logits = attn.rel_pos((q * attn.scale) @ k.transpose(-2, -1))
    return logits.softmax(dim=-1)


@torch.no_grad()
def gcvit_attention_maps(backbone: GlobalContextVit, x: torch.Tensor, *, stage: int = -1) -> torch.Tensor:
    """How much attention each position of a GC ViT stage receives (the paper's Fig. 1).

    For every block of the stage, the attention probabilities are averaged over heads and queries, giving each key
    position the attention it receives inside its window (global-query blocks attend with the image's global
    query); the blocks' maps are averaged and each image's map is scaled to [0, 1].

    Returns:
        (B, s, s) maps at the stage's side s.
    """
    blocks = list(backbone.stages[stage].blocks)
    maps: list[torch.Tensor] = []

    def record(block: GlobalContextVitBlock, args: tuple) -> None:
        h = block.norm1(args[0])  # (B, H, W, C): what the block's attention partitions into windows
        q_global = args[1] if len(args) > 1 else None
        b, hh, ww, c = h.shape
        wh, wwin = block.window_size
        wins = h.reshape(b, hh // wh, wh, ww // wwin, wwin, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, wh * wwin, c)
        received = _window_attention_probs(block.attn, wins, q_global).mean(dim=(1, 2))
        maps.append(window_reverse(received.reshape(-1, wh, wwin, 1), block.window_size, (hh, ww))[..., 0])

    handles = [block.register_forward_pre_hook(lambda m, args, block=block: record(block, args)) for block in blocks]
    try:
        backbone.forward_intermediates(x, intermediates_only=True)
    finally:
        for h in handles:
            h.remove()
    out = torch.stack(maps).mean(0)
    lo = out.flatten(1).min(1).values[:, None, None]
    hi = out.flatten(1).max(1).values[:, None, None]
    return (out - lo) / (hi - lo).clamp_min(1e-12)
