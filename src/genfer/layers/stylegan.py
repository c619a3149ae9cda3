"""StyleGAN2 building blocks in pure PyTorch: equalized learning rate, FIR resampling, modulated convolution.

Everything here is written so that parameter and buffer *names and shapes* match the blocks of
rosinality/stylegan2-pytorch (the checkpoint format of pSp, e4e and HyperStyle), which lets
:mod:`genfer.models.stylegan2` load those checkpoints with ``strict=True``:

==========================  =====================================================================
block                       state-dict entries
==========================  =====================================================================
:class:`EqualLinear`        ``weight`` (out, in), ``bias`` (out,)
:class:`EqualConv2d`        ``weight`` (out, in, k, k), ``bias`` (out,) if ``bias``
:class:`FusedLeakyReLU`     ``bias`` (C,) if ``bias``
:class:`ModulatedConv2d`    ``weight`` (1, out, in, k, k), ``modulation.{weight,bias}``,
                            ``blur.kernel`` (K, K) when up- or downsampling
:class:`Blur`               ``kernel`` (K, K)  (a buffer, saved in the state dict)
:class:`Upsample`           ``kernel`` (K, K)
:class:`Downsample`         ``kernel`` (K, K)
:class:`NoiseInjection`     ``weight`` (1,)
:class:`ConstantInput`      ``input`` (1, C, 4, 4)
:class:`PixelNorm`,
:class:`MinibatchStdDev`    nothing
==========================  =====================================================================

The FIR filter (``blur_kernel``, default ``[1, 3, 3, 1]``) is applied by :func:`upfirdn2d`, a plain
PyTorch version of StyleGAN2's ``upfirdn2d`` op (upsample by zero insertion, pad or crop, FIR filter,
downsample by striding). No custom CUDA ops.

Equalized learning rate: weights are stored as N(0, 1) / lr_mul and multiplied at run time by
``scale = lr_mul / sqrt(fan_in)``; biases are stored divided by ``lr_mul`` and multiplied by it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ConstantInput",
    "Blur",
    "Downsample",
    "EqualConv2d",
    "EqualLinear",
    "FusedLeakyReLU",
    "MinibatchStdDev",
    "ModulatedConv2d",
    "NoiseInjection",
    "PixelNorm",
    "Upsample",
    "fused_leaky_relu",
    "make_blur_kernel",
    "minibatch_stddev",
    "upfirdn2d",
]

DEFAULT_BLUR_KERNEL: tuple[int, ...] = (1, 3, 3, 1)
SQRT2 = math.sqrt(2.0)


# ----------------------------------------------------------------------------- FIR resampling


def make_blur_kernel(k: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """A normalised 2D FIR kernel.

    Args:
        k: (K,) separable taps (the 2D kernel is their outer product) or a (K, K) kernel.

    Returns:
        (K, K) float32 kernel that sums to 1.
    """
    k = torch.as_tensor(k, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ValueError(f"blur kernel must be 1D or square 2D, not shape {tuple(k.shape)}")
    return k / k.sum()


def upfirdn2d(
    x: torch.Tensor, kernel: torch.Tensor, *, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """Upsample, FIR-filter and downsample every channel (StyleGAN2's ``upfirdn2d``, pure PyTorch).

    Steps: insert ``up - 1`` zeros after every pixel along each axis; pad ``pad[0]`` pixels before and
    ``pad[1]`` after along each axis (negative values crop); correlate with the flipped kernel (that is,
    convolve with ``kernel``); keep every ``down``-th pixel.

    Args:
        x: (B, C, H, W).
        kernel: (K, K).
        up: upsampling factor.
        down: downsampling factor.
        pad: (before, after), same for both axes.

    Returns:
        (B, C, H', W') with ``H' = (H * up + pad[0] + pad[1] - K) // down + 1`` (same for W).
    """
    b, c, h, w = x.shape
    kh, kw = kernel.shape
    if up > 1:
        x = x.reshape(b, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(b, c, h * up, w * up)
    p0, p1 = pad
    if p0 or p1:
        x = F.pad(x, [p0, p1, p0, p1])  # negative values crop
    weight = torch.flip(kernel, [0, 1]).to(dtype=x.dtype).reshape(1, 1, kh, kw).expand(c, 1, kh, kw)
    return F.conv2d(x, weight, stride=down, groups=c)


class Upsample(nn.Module):
    """FIR upsampling by ``factor`` (the ToRGB skip path).

    The kernel is scaled by ``factor²`` so a constant image stays constant.

    Args:
        kernel: FIR taps.
        factor: upsampling factor.

    Shapes: ``x: (B, C, H, W) -> (B, C, H·factor, W·factor)``.
    """

    kernel: torch.Tensor

    def __init__(self, *, kernel: Sequence[float] = DEFAULT_BLUR_KERNEL, factor: int = 2) -> None:
        super().__init__()
        self.factor = factor
        k = make_blur_kernel(kernel) * factor**2
        self.register_buffer("kernel", k)
        p = k.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class Downsample(nn.Module):
    """FIR downsampling by ``factor``.

    Args:
        kernel: FIR taps.
        factor: downsampling factor.

    Shapes: ``x: (B, C, H, W) -> (B, C, H/factor, W/factor)``.
    """

    kernel: torch.Tensor

    def __init__(self, *, kernel: Sequence[float] = DEFAULT_BLUR_KERNEL, factor: int = 2) -> None:
        super().__init__()
        self.factor = factor
        k = make_blur_kernel(kernel)
        self.register_buffer("kernel", k)
        p = k.shape[0] - factor
        self.pad = ((p + 1) // 2, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, down=self.factor, pad=self.pad)


class Blur(nn.Module):
    """FIR filter with explicit padding (the blur around strided / transposed convolutions).

    Args:
        kernel: FIR taps.
        pad: (before, after) padding of both axes.
        upsample_factor: when > 1, the kernel is scaled by its square (blur after a transposed conv).

    Shapes: ``x: (B, C, H, W) -> (B, C, H + pad[0] + pad[1] - K + 1, ...)``.
    """

    kernel: torch.Tensor

    def __init__(
        self, *, kernel: Sequence[float] = DEFAULT_BLUR_KERNEL, pad: tuple[int, int], upsample_factor: int = 1
    ) -> None:
        super().__init__()
        k = make_blur_kernel(kernel)
        if upsample_factor > 1:
            k = k * upsample_factor**2
        self.register_buffer("kernel", k)
        self.pad = (int(pad[0]), int(pad[1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


# ----------------------------------------------------------------------------- activations / norms


class PixelNorm(nn.Module):
    """Normalise each vector to unit root-mean-square over dim 1: ``x / sqrt(mean(x²) + 1e-8)``.

    Shapes: ``x: (B, D, ...) -> same``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x * x, dim=1, keepdim=True) + 1e-8)


def fused_leaky_relu(
    x: torch.Tensor, bias: torch.Tensor | None = None, negative_slope: float = 0.2, scale: float = SQRT2
) -> torch.Tensor:
    """``leaky_relu(x + bias) * scale``, the bias broadcast along dim 1.

    Args:
        x: (B, C, ...).
        bias: (C,) or None.
        negative_slope: leaky slope (0.2 in StyleGAN2).
        scale: output gain (sqrt 2 keeps the activation variance).
    """
    if bias is not None:
        x = x + bias.reshape(1, -1, *([1] * (x.ndim - 2)))
    return F.leaky_relu(x, negative_slope=negative_slope) * scale


class FusedLeakyReLU(nn.Module):
    """Bias + leaky ReLU (slope 0.2) + gain sqrt(2), as StyleGAN2's fused op (here in plain PyTorch).

    Args:
        channels: C (size of the bias).
        bias: learn a per-channel bias (``bias``: (C,), zero-initialised).
        negative_slope: leaky slope.
        scale: output gain.

    Shapes: ``x: (B, C, ...) -> same``.
    """

    def __init__(
        self, *, channels: int, bias: bool = True, negative_slope: float = 0.2, scale: float = SQRT2
    ) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None
        self.negative_slope = negative_slope
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias, self.negative_slope, self.scale)


# ----------------------------------------------------------------------------- equalized learning rate


class EqualLinear(nn.Module):
    """Linear layer with equalized learning rate.

    ``y = x @ (weight · scale)ᵀ + bias · lr_mul`` with ``scale = lr_mul / sqrt(in_features)``; the weight
    is initialised N(0, 1) / lr_mul and the stored bias to ``bias_init`` (so the effective initial bias is
    ``bias_init · lr_mul``, as in rosinality). With ``activation=True`` the bias goes through
    :func:`fused_leaky_relu` (leaky ReLU 0.2, gain sqrt 2).

    Args:
        in_features: input size (the fan-in).
        out_features: output size.
        bias: learn a bias.
        bias_init: initial stored bias value (1 for the style modulation, so styles start at 1).
        lr_mul: learning-rate multiplier (0.01 for the mapping network).
        activation: apply the fused leaky ReLU.

    Shapes: ``x: (..., in_features) -> (..., out_features)``.
    """

    def __init__(
        self,
        *,
        in_features: int,
        out_features: int,
        bias: bool = True,
        bias_init: float = 0.0,
        lr_mul: float = 1.0,
        activation: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features).div_(lr_mul))
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init))) if bias else None
        self.activation = activation
        self.lr_mul = lr_mul
        self.scale = lr_mul / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_mul if self.bias is not None else None
        if self.activation:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), bias)
        return F.linear(x, self.weight * self.scale, bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]}, "
            f"lr_mul={self.lr_mul}, activation={self.activation}"
        )


class EqualConv2d(nn.Module):
    """Conv2d with equalized learning rate: ``conv(x, weight · scale) + bias``, ``scale = 1/sqrt(in·k²)``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: square kernel side k.
        stride: stride.
        padding: zero padding.
        bias: learn a bias (``bias``: (out,), zero-initialised).

    Shapes: ``x: (B, in, H, W) -> (B, out, H', W')``.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.stride = stride
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, kernel_size={k}, stride={self.stride}, padding={self.padding}"


# ----------------------------------------------------------------------------- modulated convolution


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated (and optionally demodulated) convolution.

    For sample b with style ``s_b = modulation(w_b)`` (an :class:`EqualLinear`, bias initialised to 1):

        W'_b[o, i, :, :] = scale · weight[o, i] · s_b[i],        scale = 1 / sqrt(in · k²)
        W''_b[o]         = W'_b[o] / sqrt(sum_{i,kh,kw} W'_b[o]² + 1e-8)     (if demodulate)

    ``fused`` convolves the batch with the per-sample filters in one grouped convolution (groups = B), as
    rosinality's code does. The default computes the same thing as StyleGAN2-ADA's non-fused path: scale
    the input channels by s_b, convolve with the shared ``scale · weight``, and scale the output channels
    by the demodulation coefficients ``1 / sqrt(sum_i s_b[i]² sum_{kh,kw} (scale · weight[o, i])² + 1e-8)``;
    on CPUs it is about 3 times faster (a plain batched convolution). ``upsample`` uses a stride-2
    transposed convolution followed by a :class:`Blur` (kernel × 4); ``downsample`` blurs first and then
    uses a stride-2 convolution. No bias (the caller adds it).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: square kernel side k.
        style_dim: size of the latent w.
        demodulate: normalise each output filter to unit norm.
        upsample: double the resolution.
        downsample: halve the resolution.
        blur_kernel: FIR taps of the resampling blur.
        fused: use the grouped-convolution implementation.

    Shapes: ``x: (B, in, H, W)``, ``style: (B, style_dim)`` -> ``(B, out, H', W')`` with H' = 2H, H/2 or H.
    A ``weight`` swapped for per-sample filters ``(B, out, in, k, k)`` (``torch.func.functional_call``, as
    HyperStyle's tuned generators) takes the grouped path.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        style_dim: int,
        demodulate: bool = True,
        upsample: bool = False,
        downsample: bool = False,
        blur_kernel: Sequence[float] = DEFAULT_BLUR_KERNEL,
        fused: bool = False,
    ) -> None:
        super().__init__()
        if upsample and downsample:
            raise ValueError("ModulatedConv2d cannot both upsample and downsample")
        self.fused = fused
        self.eps = 1e-8
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.upsample = upsample
        self.downsample = downsample
        self.demodulate = demodulate
        factor = 2
        taps = len(blur_kernel)
        if upsample:
            p = (taps - factor) - (kernel_size - 1)
            self.blur = Blur(kernel=blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        elif downsample:
            p = (taps - factor) + (kernel_size - 1)
            self.blur = Blur(kernel=blur_kernel, pad=((p + 1) // 2, p // 2))
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channels, in_channels, kernel_size, kernel_size))
        self.modulation = EqualLinear(in_features=style_dim, out_features=in_channels, bias_init=1.0)

    def modulated_weight(self, style: torch.Tensor) -> torch.Tensor:
        """The per-sample (de)modulated filters.

        Args:
            style: (B, style_dim) latent w.

        Returns:
            (B, out, in, k, k).
        """
        b = style.shape[0]
        s = self.modulation(style).reshape(b, 1, self.in_channels, 1, 1)
        weight = self.scale * self.weight * s
        if self.demodulate:
            demod = torch.rsqrt(weight.pow(2).sum(dim=(2, 3, 4)) + self.eps)
            weight = weight * demod.reshape(b, self.out_channels, 1, 1, 1)
        return weight

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.in_channels:
            raise ValueError(f"ModulatedConv2d expects {self.in_channels} input channels, got {x.shape[1]}")
        per_sample = self.weight.shape[0] != 1  # (B, out, in, k, k) filters, e.g. HyperStyle's tuned weights
        return self._grouped(x, style) if self.fused or per_sample else self._batched(x, style)

    def _batched(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """Modulate the input, convolve with the shared filters, demodulate the output."""
        b = x.shape[0]
        s = self.modulation(style)  # (B, in)
        weight = self.scale * self.weight[0]  # (out, in, k, k)
        x = x * s.reshape(b, self.in_channels, 1, 1)
        if self.upsample:
            out = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2, padding=0)
        elif self.downsample:
            out = F.conv2d(self.blur(x), weight, stride=2, padding=0)
        else:
            out = F.conv2d(x, weight, padding=self.padding)
        if self.demodulate:
            energy = s.pow(2) @ weight.pow(2).sum(dim=(2, 3)).t()  # (B, out)
            out = out * torch.rsqrt(energy + self.eps).reshape(b, self.out_channels, 1, 1)
        return self.blur(out) if self.upsample else out

    def _grouped(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """One grouped convolution with the per-sample filters of :meth:`modulated_weight`."""
        b, c, h, w = x.shape
        weight = self.modulated_weight(style)
        k = self.kernel_size
        if self.upsample:
            x = x.reshape(1, b * c, h, w)
            # conv_transpose2d weights are (in, out / groups, k, k)
            weight = weight.transpose(1, 2).reshape(b * c, self.out_channels, k, k)
            out = F.conv_transpose2d(x, weight, stride=2, padding=0, groups=b)
            out = out.reshape(b, self.out_channels, out.shape[-2], out.shape[-1])
            return self.blur(out)
        weight = weight.reshape(b * self.out_channels, c, k, k)
        if self.downsample:
            x = self.blur(x)
            x = x.reshape(1, b * c, x.shape[-2], x.shape[-1])
            out = F.conv2d(x, weight, stride=2, padding=0, groups=b)
        else:
            x = x.reshape(1, b * c, h, w)
            out = F.conv2d(x, weight, padding=self.padding, groups=b)
        return out.reshape(b, self.out_channels, out.shape[-2], out.shape[-1])

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"demodulate={self.demodulate}, upsample={self.upsample}, downsample={self.downsample}, fused={self.fused}"
        )


# ----------------------------------------------------------------------------- noise, constant input


class NoiseInjection(nn.Module):
    """Add per-pixel noise with a learned scalar strength: ``x + weight · noise`` (``weight`` starts at 0).

    The noise is either given, or drawn N(0, 1) of shape (B, 1, H, W) from ``generator`` (no global RNG).

    Shapes: ``x: (B, C, H, W)``, ``noise: (B or 1, 1, H, W)`` -> ``(B, C, H, W)``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(
        self, x: torch.Tensor, *, noise: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if noise is None:
            if generator is None:
                raise ValueError("NoiseInjection needs explicit noise or a torch.Generator (no global RNG)")
            b, _, h, w = x.shape
            noise = torch.randn(b, 1, h, w, generator=generator, device=generator.device, dtype=x.dtype)
            noise = noise.to(x.device)
        return x + self.weight * noise


class ConstantInput(nn.Module):
    """The learned constant (``input``: (1, C, size, size)) that starts the StyleGAN2 synthesis network.

    Shapes: ``forward(batch) -> (batch, C, size, size)``.
    """

    def __init__(self, *, channels: int, size: int = 4) -> None:
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.expand(batch, -1, -1, -1)


# ----------------------------------------------------------------------------- minibatch stddev


def minibatch_stddev(x: torch.Tensor, *, group_size: int = 4, num_features: int = 1) -> torch.Tensor:
    """Append minibatch standard-deviation feature maps (StyleGAN2's discriminator, rosinality's grouping).

    The batch is split into G = min(group_size, B) groups laid out as ``x.view(G, B/G, ...)``, so sample
    ``n = g · (B/G) + m`` belongs to group column m (samples m, m + B/G, m + 2B/G, ...). For every
    column m and each of the ``num_features`` channel slices, the feature is the mean over channels and
    pixels of ``sqrt(var_over_the_G_samples + 1e-8)`` (population variance), broadcast over H × W. When B
    is not divisible by min(group_size, B), G is lowered to the largest divisor of B that is ≤ group_size
    (rosinality would fail on such a batch).

    Args:
        x: (B, C, H, W) with C divisible by ``num_features``.
        group_size: maximum group size (4 in StyleGAN2).
        num_features: F, number of stddev channels (1 in StyleGAN2).

    Returns:
        (B, C + F, H, W).
    """
    b, c, h, w = x.shape
    if c % num_features:
        raise ValueError(f"channels ({c}) must be divisible by num_features ({num_features})")
    g = min(b, group_size)
    while b % g:
        g -= 1
    y = x.reshape(g, -1, num_features, c // num_features, h, w)
    y = torch.sqrt(y.var(dim=0, unbiased=False) + 1e-8)  # (B/G, F, C/F, H, W)
    y = y.mean(dim=(2, 3, 4))  # (B/G, F)
    y = y.reshape(-1, num_features, 1, 1).repeat(g, 1, h, w)  # (B, F, H, W)
    return torch.cat([x, y], dim=1)


class MinibatchStdDev(nn.Module):
    """Module form of :func:`minibatch_stddev` (no parameters).

    Shapes: ``x: (B, C, H, W) -> (B, C + num_features, H, W)``.
    """

    def __init__(self, *, group_size: int = 4, num_features: int = 1) -> None:
        super().__init__()
        self.group_size = group_size
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return minibatch_stddev(x, group_size=self.group_size, num_features=self.num_features)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, num_features={self.num_features}"
