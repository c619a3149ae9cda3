"""StyleGAN2 generator and residual discriminator, checkpoint-compatible with rosinality/stylegan2-pytorch.

Generator (config-e/f StyleGAN2 with skip outputs):

* mapping network ``style``: :class:`~genfer.layers.stylegan.PixelNorm` and ``n_mlp`` equalized-LR
  linear layers (lr multiplier ``lr_mlp`` = 0.01, fused leaky ReLU): z (B, D) -> w (B, D);
* synthesis network: a learned 4×4 constant ``input`` (or an externally supplied *structure code*
  ``(B, C4, 4, 4)``, as ASIT does), ``conv1`` + ``to_rgb1`` at 4×4, then per resolution 8 … size an
  upsampling :class:`StyledConv`, a :class:`StyledConv` and a :class:`ToRGB` whose output is added to
  the FIR-upsampled previous RGB (skip architecture);
* per-layer noise: drawn from a ``torch.Generator``, given explicitly, or the fixed buffers
  ``noises.noise_{i}`` (``randomize_noise=False``);
* inputs z, W (B, D) or W+ (B, n_latent, D); truncation towards a mean latent; style mixing of two
  latents at a crossover index.

W+ layer usage (``n_latent = 2·log2(size) − 2``): ``conv1`` uses w[0], ``to_rgb1`` w[1]; the block at
resolution 2^r (r = 3 … log2 size, block j = r − 3) uses w[2j+1], w[2j+2] for its two convs and
w[2j+3] for its ToRGB.

Discriminator: FromRGB 1×1 :class:`ConvLayer`, :class:`ResBlock` s (blur-downsampling conv and a 1×1
blur-downsampling skip, summed / sqrt 2) down to 4×4, minibatch stddev (group 4, 1 feature), a 3×3 conv
and two equalized linear layers, returning (B, 1) logits.

State-dict layout (names and shapes) equals rosinality's ``model.py`` ``Generator`` / ``Discriminator``
for ``img_channels=3`` and rosinality's channel table, so ``g_ema`` / ``g`` / ``d`` checkpoints (as used by
pSp, e4e, HyperStyle) load with ``strict=True`` via :func:`load_rosinality_checkpoint`. Blur kernels are
buffers and part of the state dict, as in rosinality. With ``img_channels=1`` only the RGB-facing shapes
change (``to_rgb*.conv.weight``, ``to_rgb*.bias``, ``convs.0.0.weight`` of the discriminator).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from genfer.layers.stylegan import (
    DEFAULT_BLUR_KERNEL,
    Blur,
    ConstantInput,
    EqualConv2d,
    EqualLinear,
    FusedLeakyReLU,
    MinibatchStdDev,
    ModulatedConv2d,
    NoiseInjection,
    PixelNorm,
    Upsample,
)

__all__ = [
    "ConvLayer",
    "Discriminator",
    "Generator",
    "ResBlock",
    "StyledConv",
    "ToRGB",
    "average_latent",
    "build_discriminator",
    "build_generator",
    "channel_table",
    "config_channels",
    "load_rosinality_checkpoint",
]

if TYPE_CHECKING:
    from genfer.config import StyleGAN2Config

logger = logging.getLogger(__name__)

_ROSINALITY_BASE = {4: 512, 8: 512, 16: 512, 32: 512}
_ROSINALITY_PER_CM = {64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}


def channel_table(
    *, channel_multiplier: int = 2, divisor: int = 1, channel_max: int | None = None, min_channels: int = 1
) -> dict[int, int]:
    """Channels per resolution: rosinality's table, optionally scaled down for small CPU models.

    Rosinality's table is ``{4: 512, 8: 512, 16: 512, 32: 512, 64: 256·cm, 128: 128·cm, 256: 64·cm,
    512: 32·cm, 1024: 16·cm}`` (cm = ``channel_multiplier``; 2 is StyleGAN2 config-f). Each entry is then
    divided by ``divisor`` (integer division), capped at ``channel_max`` and floored at ``min_channels``.
    The defaults reproduce rosinality exactly (required for checkpoint compatibility).

    Example: ``channel_table(channel_multiplier=1, divisor=4)`` gives 128 channels at 4…32 px and 64 at
    64 px.
    """
    if channel_multiplier < 1 or divisor < 1 or min_channels < 1:
        raise ValueError("channel_multiplier, divisor and min_channels must be >= 1")
    if channel_max is not None and channel_max < 1:
        raise ValueError(f"channel_max must be >= 1, not {channel_max}")
    table = dict(_ROSINALITY_BASE)
    table.update({r: c * channel_multiplier for r, c in _ROSINALITY_PER_CM.items()})
    out = {}
    for res, c in table.items():
        c = c // divisor
        if channel_max is not None:
            c = min(c, channel_max)
        out[res] = max(c, min_channels)
    return out


def _log2_size(size: int) -> int:
    if not isinstance(size, int) or size < 8 or size & (size - 1):
        raise ValueError(f"size must be a power of two >= 8, not {size!r}")
    return int(math.log2(size))


def _resolve_channels(
    size: int, channel_multiplier: int, channels: Mapping[int, int] | None
) -> dict[int, int]:
    table = channel_table(channel_multiplier=channel_multiplier) if channels is None else dict(channels)
    needed = [2**r for r in range(2, _log2_size(size) + 1)]
    missing = [r for r in needed if r not in table]
    if missing:
        raise ValueError(f"channel table lacks resolutions {missing} (needs {needed})")
    bad = {r: table[r] for r in needed if not isinstance(table[r], int) or table[r] < 1}
    if bad:
        raise ValueError(f"channel counts must be positive integers, got {bad}")
    return {r: table[r] for r in needed}


# ----------------------------------------------------------------------------- generator blocks


class StyledConv(nn.Module):
    """Modulated conv, noise injection, bias + leaky ReLU (``conv``, ``noise``, ``activate``).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: conv kernel side.
        style_dim: size of w.
        upsample: double the resolution (transposed conv + blur).
        blur_kernel: FIR taps.
        demodulate: demodulate the filters.

    Shapes: ``x: (B, in, H, W)``, ``style: (B, style_dim)``, ``noise: (B or 1, 1, H', W')`` ->
    ``(B, out, H', W')``.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        style_dim: int,
        upsample: bool = False,
        blur_kernel: Sequence[float] = DEFAULT_BLUR_KERNEL,
        demodulate: bool = True,
    ) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(
            in_channels=in_channels,
            out_channels=out_channels,
            kernel_size=kernel_size,
            style_dim=style_dim,
            upsample=upsample,
            blur_kernel=blur_kernel,
            demodulate=demodulate,
        )
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(channels=out_channels)

    def forward(
        self,
        x: torch.Tensor,
        style: torch.Tensor,
        *,
        noise: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        out = self.conv(x, style)
        out = self.noise(out, noise=noise, generator=generator)
        return self.activate(out)


class ToRGB(nn.Module):
    """1×1 modulated conv (no demodulation) to image channels plus bias, added to the upsampled skip.

    Args:
        in_channels: feature channels.
        style_dim: size of w.
        img_channels: output channels (3 = RGB as in rosinality, 1 = grayscale).
        upsample: has an ``upsample`` (FIR ×2) for the incoming skip image.
        blur_kernel: FIR taps.

    Shapes: ``x: (B, in, H, W)``, ``style: (B, style_dim)``, ``skip: (B, img_channels, H/2, W/2)`` ->
    ``(B, img_channels, H, W)``.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        style_dim: int,
        img_channels: int = 3,
        upsample: bool = True,
        blur_kernel: Sequence[float] = DEFAULT_BLUR_KERNEL,
    ) -> None:
        super().__init__()
        if upsample:
            self.upsample = Upsample(kernel=blur_kernel)
        self.conv = ModulatedConv2d(
            in_channels=in_channels, out_channels=img_channels, kernel_size=1, style_dim=style_dim, demodulate=False
        )
        self.bias = nn.Parameter(torch.zeros(1, img_channels, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


NoiseSpec = Sequence[torch.Tensor | None]


class Generator(nn.Module):
    """StyleGAN2 generator (mapping + skip synthesis network), rosinality's parameter layout.

    Args:
        size: output resolution, a power of two >= 8 (paper presets 256 / 1024; CPU models 32 / 64).
        style_dim: D, size of z and w (512 in StyleGAN2).
        n_mlp: number of mapping layers (8).
        channel_multiplier: cm of rosinality's channel table (2 = config-f); ignored if ``channels``.
        channels: explicit {resolution: channels} for 4 … size (e.g. from :func:`channel_table` with a
            ``divisor`` for small CPU models).
        img_channels: 3 (RGB, rosinality's layout) or 1 (grayscale).
        blur_kernel: FIR taps for up-sampling.
        lr_mlp: learning-rate multiplier of the mapping network.

    Attributes:
        n_latent: number of W+ entries, ``2·log2(size) − 2``.
        num_layers: number of noise inputs, ``2·log2(size) − 3``.
        channels: resolved {resolution: channels}.

    Shapes: ``forward`` returns images ``(B, img_channels, size, size)`` (roughly in [-1, 1] once trained).
    """

    def __init__(
        self,
        *,
        size: int,
        style_dim: int = 512,
        n_mlp: int = 8,
        channel_multiplier: int = 2,
        channels: Mapping[int, int] | None = None,
        img_channels: int = 3,
        blur_kernel: Sequence[float] = DEFAULT_BLUR_KERNEL,
        lr_mlp: float = 0.01,
    ) -> None:
        super().__init__()
        self.log_size = _log2_size(size)
        if style_dim < 1 or n_mlp < 1:
            raise ValueError(f"style_dim and n_mlp must be >= 1, got {style_dim} and {n_mlp}")
        if img_channels < 1:
            raise ValueError(f"img_channels must be >= 1, not {img_channels}")
        if lr_mlp <= 0:
            raise ValueError(f"lr_mlp must be > 0, not {lr_mlp}")
        self.size = size
        self.style_dim = style_dim
        self.img_channels = img_channels
        self.channels = _resolve_channels(size, channel_multiplier, channels)

        layers: list[nn.Module] = [PixelNorm()]
        for _ in range(n_mlp):
            layers.append(
                EqualLinear(in_features=style_dim, out_features=style_dim, lr_mul=lr_mlp, activation=True)
            )
        self.style = nn.Sequential(*layers)

        c4 = self.channels[4]
        self.input = ConstantInput(channels=c4)
        self.conv1 = StyledConv(
            in_channels=c4, out_channels=c4, kernel_size=3, style_dim=style_dim, blur_kernel=blur_kernel
        )
        self.to_rgb1 = ToRGB(in_channels=c4, style_dim=style_dim, img_channels=img_channels, upsample=False)

        self.num_layers = (self.log_size - 2) * 2 + 1
        self.n_latent = self.log_size * 2 - 2
        # the average w (truncation centre, inversion start); set by loaders, not part of the state dict
        self.register_buffer("latent_avg", torch.zeros(style_dim), persistent=False)

        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for i in range(self.num_layers):
            res = 2 ** ((i + 5) // 2)
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, res, res))

        in_ch = c4
        for r in range(3, self.log_size + 1):
            out_ch = self.channels[2**r]
            self.convs.append(
                StyledConv(
                    in_channels=in_ch,
                    out_channels=out_ch,
                    kernel_size=3,
                    style_dim=style_dim,
                    upsample=True,
                    blur_kernel=blur_kernel,
                )
            )
            self.convs.append(
                StyledConv(
                    in_channels=out_ch, out_channels=out_ch, kernel_size=3, style_dim=style_dim, blur_kernel=blur_kernel
                )
            )
            self.to_rgbs.append(
                ToRGB(in_channels=out_ch, style_dim=style_dim, img_channels=img_channels, blur_kernel=blur_kernel)
            )
            in_ch = out_ch

    # ------------------------------------------------------------------ latents

    def noise_shapes(self) -> list[tuple[int, int, int, int]]:
        """Shapes ``(1, 1, r, r)`` of the ``num_layers`` noise inputs (4, 8, 8, 16, 16, …, size, size)."""
        return [(1, 1, 2 ** ((i + 5) // 2), 2 ** ((i + 5) // 2)) for i in range(self.num_layers)]

    def make_noise(self, *, generator: torch.Generator, batch: int = 1) -> list[torch.Tensor]:
        """Draw one N(0, 1) noise map per layer from ``generator``.

        The draws (order and shapes) are those the forward pass makes itself when given the same
        generator and no noise, so ``G(w, noise=G.make_noise(generator=g1, batch=B))`` equals
        ``G(w, generator=g2)`` for two generators in the same state.

        Returns:
            ``num_layers`` tensors ``(batch, 1, r, r)`` on the module's device.
        """
        device = self.input.input.device
        out = []
        for _, _, h, w in self.noise_shapes():
            n = torch.randn(batch, 1, h, w, generator=generator, device=generator.device)
            out.append(n.to(device))
        return out

    def get_latent(self, z: torch.Tensor) -> torch.Tensor:
        """Mapping network: z (B, D) -> w (B, D)."""
        return self.style(z)

    @torch.no_grad()
    def mean_latent(self, n: int, *, generator: torch.Generator, chunk: int = 4096) -> torch.Tensor:
        """Mean of w over ``n`` random z (the truncation centre).

        Returns:
            (1, D).
        """
        if n < 1:
            raise ValueError(f"mean_latent needs n >= 1, not {n}")
        device = self.input.input.device
        total = torch.zeros(1, self.style_dim, device=device, dtype=torch.float64)
        done = 0
        while done < n:
            m = min(chunk, n - done)
            z = torch.randn(m, self.style_dim, generator=generator, device=generator.device).to(device)
            total += self.style(z).to(torch.float64).sum(0, keepdim=True)
            done += m
        return (total / n).to(self.input.input.dtype)

    def _to_wplus(self, w: torch.Tensor) -> torch.Tensor:
        if w.ndim == 2:
            if w.shape[1] != self.style_dim:
                raise ValueError(f"latent must be (B, {self.style_dim}), got {tuple(w.shape)}")
            return w.unsqueeze(1).expand(-1, self.n_latent, -1)
        if w.ndim == 3:
            if w.shape[1:] != (self.n_latent, self.style_dim):
                raise ValueError(f"W+ latent must be (B, {self.n_latent}, {self.style_dim}), got {tuple(w.shape)}")
            return w
        raise ValueError(f"latent must be (B, D) or (B, n_latent, D), got {tuple(w.shape)}")

    def latent_from(
        self,
        styles: torch.Tensor | Sequence[torch.Tensor],
        *,
        input_is_latent: bool = False,
        truncation: float = 1.0,
        truncation_latent: torch.Tensor | None = None,
        inject_index: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Resolve z / W / W+ inputs, truncation and style mixing into one W+ code.

        Args:
            styles: one tensor or a sequence of one or two. z: (B, D); with ``input_is_latent`` W: (B, D)
                or W+: (B, n_latent, D).
            input_is_latent: the inputs are already w (skip the mapping network).
            truncation: ψ; when < 1 each w becomes ``w_avg + ψ (w − w_avg)``.
            truncation_latent: w_avg, (1, D) or (D,); required when ``truncation < 1``.
            inject_index: crossover for two latents: entries ``[0, inject_index)`` come from the first,
                ``[inject_index, n_latent)`` from the second. Drawn uniformly from 1 … n_latent − 1 with
                ``generator`` when None.
            generator: for the crossover draw.

        Returns:
            (B, n_latent, D).
        """
        if isinstance(styles, torch.Tensor):
            styles = [styles]
        styles = list(styles)
        if not 1 <= len(styles) <= 2:
            raise ValueError(f"give one latent or two for style mixing, not {len(styles)}")
        if not input_is_latent:
            for s in styles:
                if s.ndim != 2 or s.shape[1] != self.style_dim:
                    raise ValueError(f"z must be (B, {self.style_dim}), got {tuple(s.shape)}")
            styles = [self.style(s) for s in styles]
        if truncation < 1:
            if truncation_latent is None:
                raise ValueError("truncation < 1 needs truncation_latent (see Generator.mean_latent)")
            styles = [truncation_latent + truncation * (s - truncation_latent) for s in styles]
        wplus = [self._to_wplus(s) for s in styles]
        if len(wplus) == 1:
            return wplus[0]
        if inject_index is None:
            if generator is None:
                raise ValueError("style mixing needs inject_index or a torch.Generator (no global RNG)")
            inject_index = int(torch.randint(1, self.n_latent, (1,), generator=generator, device=generator.device))
        if not 0 <= inject_index <= self.n_latent:
            raise ValueError(f"inject_index must be in [0, {self.n_latent}], not {inject_index}")
        return torch.cat([wplus[0][:, :inject_index], wplus[1][:, inject_index:]], dim=1)

    # ------------------------------------------------------------------ synthesis

    def synthesis(
        self,
        latent: torch.Tensor,
        *,
        noise: NoiseSpec | None = None,
        randomize_noise: bool = True,
        generator: torch.Generator | None = None,
        structure: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Synthesis network on a W+ code.

        Args:
            latent: (B, n_latent, D).
            noise: ``num_layers`` maps (B or 1, 1, r, r) (entries may be None: drawn from ``generator``).
            randomize_noise: when ``noise`` is None, draw fresh noise from ``generator`` (True) or use the
                fixed buffers ``noises.noise_{i}`` (False).
            generator: source of random noise.
            structure: (B, C4, 4, 4) structure code replacing the learned constant (C4 = channels[4]).

        Returns:
            (B, img_channels, size, size).
        """
        b = latent.shape[0]
        if latent.ndim != 3 or latent.shape[1:] != (self.n_latent, self.style_dim):
            raise ValueError(f"latent must be (B, {self.n_latent}, {self.style_dim}), got {tuple(latent.shape)}")
        if noise is None:
            if randomize_noise:
                if generator is None:
                    raise ValueError(
                        "random noise needs a torch.Generator (or pass noise=..., or randomize_noise=False)"
                    )
                noise = [None] * self.num_layers
            else:
                noise = [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]
        noise = list(noise)
        if len(noise) != self.num_layers:
            raise ValueError(f"noise must hold {self.num_layers} maps, got {len(noise)}")

        if structure is None:
            out = self.input(b)
        else:
            c4 = self.channels[4]
            if structure.ndim != 4 or structure.shape[1:] != (c4, 4, 4) or structure.shape[0] not in (1, b):
                raise ValueError(f"structure code must be ({b}, {c4}, 4, 4), got {tuple(structure.shape)}")
            out = structure.expand(b, -1, -1, -1)

        out = self.conv1(out, latent[:, 0], noise=noise[0], generator=generator)
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for j, to_rgb in enumerate(self.to_rgbs):
            out = self.convs[2 * j](out, latent[:, i], noise=noise[i], generator=generator)
            out = self.convs[2 * j + 1](out, latent[:, i + 1], noise=noise[i + 1], generator=generator)
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip

    def forward(
        self,
        styles: torch.Tensor | Sequence[torch.Tensor],
        *,
        input_is_latent: bool = False,
        truncation: float = 1.0,
        truncation_latent: torch.Tensor | None = None,
        inject_index: int | None = None,
        noise: NoiseSpec | None = None,
        randomize_noise: bool = True,
        generator: torch.Generator | None = None,
        structure: torch.Tensor | None = None,
        return_latents: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Generate images (rosinality's ``Generator.forward`` semantics, keyword-only).

        Args:
            styles: z (B, D), or with ``input_is_latent`` W (B, D) / W+ (B, n_latent, D); a sequence of
                two for style mixing (see :meth:`latent_from`).
            input_is_latent, truncation, truncation_latent, inject_index: see :meth:`latent_from`.
            noise, randomize_noise, structure: see :meth:`synthesis`.
            generator: draws the noise and a missing crossover index (no global RNG is used).
            return_latents: also return the W+ code used.

        Returns:
            images (B, img_channels, size, size), or ``(images, latent (B, n_latent, D))`` with
            ``return_latents``.
        """
        latent = self.latent_from(
            styles,
            input_is_latent=input_is_latent,
            truncation=truncation,
            truncation_latent=truncation_latent,
            inject_index=inject_index,
            generator=generator,
        )
        image = self.synthesis(
            latent, noise=noise, randomize_noise=randomize_noise, generator=generator, structure=structure
        )
        if return_latents:
            return image, latent
        return image


# ----------------------------------------------------------------------------- discriminator


class ConvLayer(nn.Sequential):
    """[Blur] + equalized conv + [bias + leaky ReLU], an ``nn.Sequential`` as in rosinality.

    Children: downsampling: ``0`` :class:`Blur`, ``1`` :class:`EqualConv2d` (stride 2, no padding), ``2``
    :class:`FusedLeakyReLU`; otherwise ``0`` conv (padding k // 2), ``1`` activation. With ``activate``
    the bias lives in the activation (the conv has none); without it the conv has the bias (if ``bias``).

    Shapes: ``x: (B, in, H, W) -> (B, out, H/2 or H, W/2 or W)``.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        downsample: bool = False,
        blur_kernel: Sequence[float] = DEFAULT_BLUR_KERNEL,
        bias: bool = True,
        activate: bool = True,
    ) -> None:
        layers: list[nn.Module] = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(kernel=blur_kernel, pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(
            EqualConv2d(
                in_channels=in_channels,
                out_channels=out_channels,
                kernel_size=kernel_size,
                stride=stride,
                padding=padding,
                bias=bias and not activate,
            )
        )
        if activate:
            layers.append(FusedLeakyReLU(channels=out_channels, bias=bias))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """Residual discriminator block: two 3×3 convs (the second downsamples) plus a 1×1 downsampling skip.

    ``out = (conv2(conv1(x)) + skip(x)) / sqrt(2)``.

    Shapes: ``x: (B, in, H, W) -> (B, out, H/2, W/2)``.
    """

    def __init__(
        self, *, in_channels: int, out_channels: int, blur_kernel: Sequence[float] = DEFAULT_BLUR_KERNEL
    ) -> None:
        super().__init__()
        self.conv1 = ConvLayer(in_channels=in_channels, out_channels=in_channels, kernel_size=3)
        self.conv2 = ConvLayer(
            in_channels=in_channels, out_channels=out_channels, kernel_size=3, downsample=True, blur_kernel=blur_kernel
        )
        self.skip = ConvLayer(
            in_channels=in_channels,
            out_channels=out_channels,
            kernel_size=1,
            downsample=True,
            blur_kernel=blur_kernel,
            activate=False,
            bias=False,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2.0)


class Discriminator(nn.Module):
    """StyleGAN2 residual discriminator, rosinality's parameter layout.

    Args:
        size: input resolution, a power of two >= 8.
        channel_multiplier: cm of rosinality's channel table; ignored if ``channels``.
        channels: explicit {resolution: channels} for 4 … size.
        img_channels: input image channels (3 RGB, 1 grayscale).
        blur_kernel: FIR taps for downsampling.
        stddev_group: minibatch-stddev group size (4).
        stddev_features: minibatch-stddev feature count (1).

    Shapes: ``x: (B, img_channels, size, size) -> (B, 1)`` real/fake logits.
    """

    def __init__(
        self,
        *,
        size: int,
        channel_multiplier: int = 2,
        channels: Mapping[int, int] | None = None,
        img_channels: int = 3,
        blur_kernel: Sequence[float] = DEFAULT_BLUR_KERNEL,
        stddev_group: int = 4,
        stddev_features: int = 1,
    ) -> None:
        super().__init__()
        log_size = _log2_size(size)
        if img_channels < 1:
            raise ValueError(f"img_channels must be >= 1, not {img_channels}")
        self.size = size
        self.img_channels = img_channels
        self.channels = ch = _resolve_channels(size, channel_multiplier, channels)
        if ch[4] % stddev_features:
            raise ValueError(f"channels[4] ({ch[4]}) must be divisible by stddev_features ({stddev_features})")

        convs: list[nn.Module] = [ConvLayer(in_channels=img_channels, out_channels=ch[size], kernel_size=1)]
        in_ch = ch[size]
        for r in range(log_size, 2, -1):
            out_ch = ch[2 ** (r - 1)]
            convs.append(ResBlock(in_channels=in_ch, out_channels=out_ch, blur_kernel=blur_kernel))
            in_ch = out_ch
        self.convs = nn.Sequential(*convs)
        self.stddev = MinibatchStdDev(group_size=stddev_group, num_features=stddev_features)
        self.final_conv = ConvLayer(in_channels=in_ch + stddev_features, out_channels=ch[4], kernel_size=3)
        self.final_linear = nn.Sequential(
            EqualLinear(in_features=ch[4] * 4 * 4, out_features=ch[4], activation=True),
            EqualLinear(in_features=ch[4], out_features=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1:] != (self.img_channels, self.size, self.size):
            raise ValueError(
                f"discriminator input must be (B, {self.img_channels}, {self.size}, {self.size}), got {tuple(x.shape)}"
            )
        out = self.convs(x)
        out = self.stddev(out)
        out = self.final_conv(out)
        return self.final_linear(out.flatten(1))


# ----------------------------------------------------------------------------- checkpoints


def _check_state_dict(name: str, module: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or mismatched:

        def show(items: list[str]) -> str:
            return ", ".join(items[:12]) + (f" … (+{len(items) - 12} more)" if len(items) > 12 else "")

        parts = []
        if missing:
            parts.append(f"missing keys [{show(missing)}]")
        if unexpected:
            parts.append(f"unexpected keys [{show(unexpected)}]")
        if mismatched:
            parts.append(f"shape mismatches [{show(mismatched)}]")
        raise ValueError(f"checkpoint '{name}' does not fit the model config: " + "; ".join(parts))


def load_rosinality_checkpoint(
    state: Mapping[str, object],
    *,
    generator: Generator,
    discriminator: Discriminator | None = None,
    use_ema: bool = True,
) -> torch.Tensor | None:
    """Load a rosinality/stylegan2-pytorch checkpoint dict into genfer's models (``strict=True``).

    The dict is what ``torch.load(path, weights_only=True)`` returns for rosinality's training
    checkpoints and their converted official weights (the files pSp, e4e and HyperStyle ship): keys
    ``g_ema`` and/or ``g`` (generator state dicts), ``d`` (discriminator), and optionally ``latent_avg``.

    Args:
        state: the checkpoint dict.
        generator: receives ``g_ema`` (``use_ema``) or ``g``.
        discriminator: receives ``d`` when given.
        use_ema: load the EMA generator ``g_ema`` (default) instead of ``g``.

    Returns:
        ``latent_avg`` as stored (usually (D,)), or None when the checkpoint has none.

    Raises:
        ValueError: a needed key is absent, or a state dict has missing / unexpected keys or other shapes
            than the model (the message names them).
    """
    g_key = "g_ema" if use_ema else "g"
    wanted = [g_key] + (["d"] if discriminator is not None else [])
    absent = [k for k in wanted if k not in state]
    if absent:
        raise ValueError(f"checkpoint has no {absent} (keys present: {sorted(map(str, state))})")
    pairs: list[tuple[str, nn.Module]] = [(g_key, generator)]
    if discriminator is not None:
        pairs.append(("d", discriminator))
    for key, module in pairs:
        sd = state[key]
        if not isinstance(sd, Mapping):
            raise ValueError(f"checkpoint '{key}' is not a state dict but {type(sd).__name__}")
        _check_state_dict(key, module, sd)
    for key, module in pairs:
        module.load_state_dict(state[key], strict=True)  # type: ignore[arg-type]
        logger.info("loaded rosinality '%s' into %s", key, type(module).__name__)
    latent_avg = state.get("latent_avg")
    if latent_avg is not None and not isinstance(latent_avg, torch.Tensor):
        latent_avg = torch.as_tensor(latent_avg)
    return latent_avg


# ----------------------------------------------------------------------------- construction from a config


def config_channels(cfg: "StyleGAN2Config") -> dict[int, int]:
    """The {resolution: channels} table of a :class:`~genfer.config.StyleGAN2Config` (4 … resolution)."""
    if cfg.channels:
        return {2 ** (i + 2): c for i, c in enumerate(cfg.channels)}
    return channel_table(channel_multiplier=cfg.channel_multiplier, divisor=cfg.channel_divisor,
                         channel_max=cfg.channel_max or None)


def build_generator(cfg: "StyleGAN2Config") -> Generator:
    """A freshly initialised generator of the sizes ``cfg`` describes."""
    return Generator(size=cfg.resolution, style_dim=cfg.style_dim, n_mlp=cfg.n_mlp, channels=config_channels(cfg),
                     img_channels=cfg.img_channels, lr_mlp=cfg.lr_mlp)


def build_discriminator(cfg: "StyleGAN2Config") -> Discriminator:
    """A freshly initialised discriminator of the sizes ``cfg`` describes."""
    return Discriminator(size=cfg.resolution, channels=config_channels(cfg), img_channels=cfg.img_channels)


AVERAGE_LATENT_SAMPLES = 10_000
AVERAGE_LATENT_SEED = 123


def average_latent(g: Generator) -> torch.Tensor:
    """(D,) a generator's ``latent_avg``: the mean w of ``AVERAGE_LATENT_SAMPLES`` z drawn with a fixed seed
    (rosinality's projector also averages 10 000 samples), on the CPU."""
    return g.mean_latent(AVERAGE_LATENT_SAMPLES, generator=torch.Generator().manual_seed(AVERAGE_LATENT_SEED))[0].cpu()
