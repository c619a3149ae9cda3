"""GAN inversion encoders: the :class:`InversionEncoder` interface, pSp's feature-pyramid encoder, and pSp.

:class:`InversionEncoder` is what every inversion method implements: ``forward(x) -> W+`` codes
``(B, n_latent, style_dim)`` and ``encode(x) -> InversionOutput`` which may also carry a *structure code*
``(B, C4, 4, 4)`` replacing the generator's constant input (ASIT's design; pSp has none). Codes are absolute
W+ latents: encoders predict offsets from the generator's average latent, kept in the buffer ``latent_avg``.

:class:`GradualStyleEncoder` follows pSp (Richardson et al., 2021): an IR / IR-SE ResNet backbone (a stride-1
3×3 stem, four stages of bottleneck-IR blocks, the first of each with stride 2), a feature pyramid over the
outputs of stages 2, 3 and 4 (1×1 lateral convolutions, bilinear top-down upsampling and addition), and one
``map2style`` head per W+ entry: entries ``[0, coarse_end)`` read the coarsest level (stage 4),
``[coarse_end, medium_end)`` the middle one, the rest the finest. A head is log2(side) stride-2 3×3
convolutions with leaky ReLU down to 1×1, then an equalized linear layer.

:class:`PSp` pairs an encoder with a (frozen) StyleGAN2 generator: ``x -> W+ -> G(W+)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from genfer.layers.stylegan import EqualLinear
from genfer.models.stylegan2 import Generator

if TYPE_CHECKING:
    from genfer.config import PSpEncoderConfig, StyleGAN2Config

__all__ = [
    "BottleneckIR",
    "GradualStyleBlock",
    "GradualStyleEncoder",
    "InversionEncoder",
    "InversionOutput",
    "PSp",
    "PSpOutput",
    "SEModule",
    "build_psp_encoder",
    "resize_to",
    "upsample_add",
]


@dataclass
class InversionOutput:
    """What an inversion encoder predicts for a batch.

    wplus: (B, n_latent, style_dim) W+ codes (absolute, not offsets).
    structure: (B, C4, 4, 4) structure code for :meth:`Generator.synthesis`, or None (the learned constant).
    """

    wplus: torch.Tensor
    structure: torch.Tensor | None = None


class InversionEncoder(nn.Module):
    """Base of inversion encoders: images -> W+ codes (and optionally a structure code).

    Args:
        in_channels: image channels (1 or 3).
        input_size: side of the square input.
        n_latent: number of W+ entries of the target generator.
        style_dim: size of each entry.

    Buffers: ``latent_avg`` (style_dim,), the generator's average w; subclasses predict offsets from it.

    Shapes: ``forward(x: (B, in_channels, input_size, input_size)) -> (B, n_latent, style_dim)``.
    """

    latent_avg: torch.Tensor
    structure_channels: int | None = None
    """Channels of the structure code this encoder predicts (None: it predicts none)."""

    def __init__(self, *, in_channels: int, input_size: int, n_latent: int, style_dim: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.input_size = input_size
        self.n_latent = n_latent
        self.style_dim = style_dim
        self.register_buffer("latent_avg", torch.zeros(style_dim))

    def set_latent_avg(self, latent_avg: torch.Tensor) -> None:
        """Store the generator's average latent, (style_dim,) or (1, style_dim)."""
        self.latent_avg.copy_(latent_avg.reshape(self.style_dim))

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ValueError unless x is (B, in_channels, input_size, input_size)."""
        want = (self.in_channels, self.input_size, self.input_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != want:
            raise ValueError(f"{type(self).__name__} expects images (B, {', '.join(map(str, want))}), "
                             f"got {tuple(x.shape)}")

    def encode(self, x: torch.Tensor) -> InversionOutput:
        """x: (B, C, H, W) in [-1, 1] -> :class:`InversionOutput`."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) in [-1, 1] -> W+ codes (B, n_latent, style_dim)."""
        return self.encode(x).wplus


# ----------------------------------------------------------------------------- IR backbone


class SEModule(nn.Module):
    """Squeeze-and-excitation: ``x · sigmoid(W2 relu(W1 avgpool(x)))`` (1×1 convs, no bias).

    Shapes: ``x: (B, C, H, W) -> same``.
    """

    def __init__(self, *, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(s))))


class BottleneckIR(nn.Module):
    """ArcFace's improved-residual block as pSp uses it.

    ``res = [SE] BN(conv3x3/s(PReLU(conv3x3(BN(x)))))``; shortcut: a stride-s subsampling (same channels) or
    a 1×1 stride-s conv + BN; output ``res + shortcut``.

    Shapes: ``x: (B, in, H, W) -> (B, out, H/stride, W/stride)``.
    """

    def __init__(self, *, in_channels: int, out_channels: int, stride: int, se: bool) -> None:
        super().__init__()
        if in_channels == out_channels:
            self.shortcut: nn.Module = nn.MaxPool2d(1, stride)
        else:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                          nn.BatchNorm2d(out_channels))
        layers: list[nn.Module] = [
            nn.BatchNorm2d(in_channels),
            nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False),
            nn.PReLU(out_channels),
            nn.Conv2d(out_channels, out_channels, 3, stride, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        if se:
            layers.append(SEModule(channels=out_channels))
        self.res = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res(x) + self.shortcut(x)


class GradualStyleBlock(nn.Module):
    """pSp's ``map2style``: stride-2 3×3 convs + leaky ReLU from ``spatial`` px down to 1, then equalized linear.

    Args:
        in_channels: feature channels of the pyramid level.
        out_channels: style_dim.
        spatial: side of the level's feature map (a power of two; 1 still gets one conv).

    Shapes: ``x: (B, in, spatial, spatial) -> (B, out)``.
    """

    def __init__(self, *, in_channels: int, out_channels: int, spatial: int) -> None:
        super().__init__()
        n = max(1, int(math.log2(spatial)))
        layers: list[nn.Module] = []
        for i in range(n):
            layers += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, 2, 1), nn.LeakyReLU()]
        self.convs = nn.Sequential(*layers)
        self.linear = EqualLinear(in_features=out_channels, out_features=out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convs(x).mean(dim=(2, 3)))


def upsample_add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Bilinearly upsample x to y's size (corners aligned, as pSp) and add y."""
    return F.interpolate(x, size=y.shape[-2:], mode="bilinear", align_corners=True) + y


class GradualStyleEncoder(InversionEncoder):
    """pSp's feature-pyramid encoder (see the module docstring).

    Args:
        in_channels, input_size, n_latent, style_dim: see :class:`InversionEncoder`.
        stage_channels: output channels of the four IR stages (pSp: 64, 128, 256, 512).
        stage_blocks: blocks per stage (pSp IR-50: 3, 4, 14, 3).
        se: IR-SE blocks (pSp's ``ir_se``).
        coarse_end, medium_end: W+ index bounds of the coarse / medium / fine split (pSp: 3, 7).

    Shapes: ``x: (B, in_channels, input_size, input_size) -> (B, n_latent, style_dim)``; the pyramid levels are
    ``input_size / 4, / 8, / 16`` px.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        input_size: int,
        n_latent: int,
        style_dim: int,
        stage_channels: tuple[int, ...] = (64, 128, 256, 512),
        stage_blocks: tuple[int, ...] = (3, 4, 14, 3),
        se: bool = True,
        coarse_end: int = 3,
        medium_end: int = 7,
    ) -> None:
        super().__init__(in_channels=in_channels, input_size=input_size, n_latent=n_latent, style_dim=style_dim)
        if len(stage_channels) != 4 or len(stage_blocks) != 4:
            raise ValueError("GradualStyleEncoder needs 4 stages (stage_channels and stage_blocks)")
        if not 1 <= coarse_end < medium_end < n_latent:
            raise ValueError(f"need 1 <= coarse_end < medium_end < n_latent, got {coarse_end}, {medium_end}, "
                             f"{n_latent}")
        if input_size < 16 or input_size & (input_size - 1):
            raise ValueError(f"input_size must be a power of two >= 16, not {input_size}")
        self.coarse_end, self.medium_end = coarse_end, medium_end
        c0 = stage_channels[0]
        self.input_layer = nn.Sequential(nn.Conv2d(in_channels, c0, 3, 1, 1, bias=False), nn.BatchNorm2d(c0),
                                         nn.PReLU(c0))
        self.stages = nn.ModuleList()
        prev = c0
        for ch, n in zip(stage_channels, stage_blocks):
            blocks = [BottleneckIR(in_channels=prev if i == 0 else ch, out_channels=ch, stride=2 if i == 0 else 1,
                                   se=se) for i in range(n)]
            self.stages.append(nn.Sequential(*blocks))
            prev = ch
        top = stage_channels[3]
        self.latlayer1 = nn.Conv2d(stage_channels[2], top, 1)
        self.latlayer2 = nn.Conv2d(stage_channels[1], top, 1)
        sides = (input_size // 16, input_size // 8, input_size // 4)  # coarse, medium, fine levels
        self.styles = nn.ModuleList(
            GradualStyleBlock(in_channels=top, out_channels=style_dim, spatial=sides[self.level(i)])
            for i in range(n_latent)
        )

    def level(self, index: int) -> int:
        """Pyramid level of W+ entry ``index``: 0 coarse, 1 medium, 2 fine."""
        return 0 if index < self.coarse_end else 1 if index < self.medium_end else 2

    def pyramid(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x -> the (coarse, medium, fine) feature maps (B, C4, s, s) with s = input_size / 16, / 8, / 4."""
        self.check_input(x)
        feats = []
        h = self.input_layer(x)
        for stage in self.stages:
            h = stage(h)
            feats.append(h)
        c1, c2, c3 = feats[1], feats[2], feats[3]
        p2 = upsample_add(c3, self.latlayer1(c2))
        p1 = upsample_add(p2, self.latlayer2(c1))
        return c3, p2, p1

    def encode(self, x: torch.Tensor) -> InversionOutput:
        levels = self.pyramid(x)
        offsets = torch.stack([head(levels[self.level(i)]) for i, head in enumerate(self.styles)], dim=1)
        return InversionOutput(wplus=offsets + self.latent_avg)


def build_psp_encoder(cfg: "PSpEncoderConfig", generator: "StyleGAN2Config") -> GradualStyleEncoder:
    """A freshly initialised pSp encoder for a generator config."""
    return GradualStyleEncoder(
        in_channels=generator.img_channels, input_size=cfg.input_size or generator.resolution,
        n_latent=generator.n_latent, style_dim=generator.style_dim, stage_channels=tuple(cfg.stage_channels),
        stage_blocks=tuple(cfg.stage_blocks), se=cfg.se, coarse_end=cfg.coarse_end, medium_end=cfg.medium_end)


# ----------------------------------------------------------------------------- encoder + generator


def resize_to(x: torch.Tensor, size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, size, size) by area averaging (pSp's face pool); unchanged when already that size."""
    return x if x.shape[-1] == size else F.adaptive_avg_pool2d(x, size)


@dataclass
class PSpOutput:
    """image: (B, C, size, size) the generator's output; wplus: (B, n_latent, D); structure: or None."""

    image: torch.Tensor
    wplus: torch.Tensor
    structure: torch.Tensor | None = None


class PSp(nn.Module):
    """An inversion encoder and the generator it inverts into (state-dict prefixes ``encoder.`` and ``decoder.``).

    Shapes: ``forward(x: (B, C, s, s)) -> PSpOutput`` with the image at the generator's resolution.
    """

    def __init__(self, *, encoder: InversionEncoder, decoder: Generator) -> None:
        super().__init__()
        if (encoder.n_latent, encoder.style_dim) != (decoder.n_latent, decoder.style_dim):
            raise ValueError(f"encoder predicts {encoder.n_latent}x{encoder.style_dim} codes, the generator takes "
                             f"{decoder.n_latent}x{decoder.style_dim}")
        self.encoder = encoder
        self.decoder = decoder

    def forward(
        self,
        x: torch.Tensor,
        *,
        noise: list[torch.Tensor] | None = None,
        randomize_noise: bool = False,
        generator: torch.Generator | None = None,
    ) -> PSpOutput:
        """Invert x and regenerate it; noise as :meth:`Generator.synthesis` (default: its fixed noise maps)."""
        code = self.encoder.encode(x)
        image = self.decoder.synthesis(code.wplus, noise=noise, randomize_noise=randomize_noise, generator=generator,
                                       structure=code.structure)
        return PSpOutput(image=image, wplus=code.wplus, structure=code.structure)
