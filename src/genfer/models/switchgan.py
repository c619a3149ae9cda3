"""Switch-unit GAN for joint expression synthesis and recognition (Zhang, Zhang & Xu, TCSVT 2021).

The networks of "Joint Expression Synthesis and Representation Learning for Facial Expression
Recognition" (paper Sec. III, Table I). The losses live in :mod:`genfer.losses.switchgan`; training
loops in ``genfer.train``.

* **G_enc** (:class:`SwitchEncoder`): five Conv(3x3, stride 2) layers 64-128-256-512-512, each followed
  by ℓ2-N and LeakyReLU(0.2). Its output R (B, C, h, w), h = ceil(H / 32), is split along channels into
  n blocks, block k encoding expression k (Eq. 2).
* **Switch unit** (:func:`switch_blocks`, :class:`SwitchUnit`): for two faces I_a (expression i) and
  I_b (expression j), R_c is R_a with *both* blocks i and j taken from R_b, and R_d is R_b with blocks
  i and j taken from R_a (Eq. 3; the blocks keep their positions). R_c thus carries expression j with
  I_a's other content, R_d expression i with I_b's.
* **Interpolation** (:func:`interpolate_blocks`, Eq. 6): the same blocks mixed instead of swapped,
  ``p * own + (1 - p) * other`` (p = 0.5 in the paper).
* **G_dec** (:class:`SwitchDecoder`): five DeConv(3x3, stride 2) layers 512-256-128-64-C_img, the first
  four followed by ℓ2-N and LeakyReLU(0.2), the last by Tanh. It reads the channel concatenation
  [R_x, R_y, S] (512 + 512 + 20 n channels in Table I) and outputs a *residual* image that is added to
  the input face (Eq. 4).
* **D1, D2** (:class:`SwitchDiscriminator`, :class:`MultiScaleDiscriminator`): 4 x (Conv 3x3/2, ℓ2-N,
  LeakyReLU) + FC(1), conditioned on the expression label, D1 on the full-resolution image and D2 on a
  2x average-pooled copy (the paper's 256 and 128 px).
* **C** (:class:`SwitchClassifier`): a VGG-19 trunk whose last-pool map is concatenated along channels
  with G_enc(I), then FC(512) (a 1x1 conv), AvgPool(7, 7), FC(4096)-ReLU-FC(4096)-ReLU-FC(n) (Eq. 8,
  Table I).

ℓ2-N follows ELEGANT (the paper's reference [18] for it): every pixel's C-vector is divided by its
Euclidean norm over the channels, ``x / max(||x[:, :, y, x]||_2, 1e-12)``, then scaled and shifted by
one learnable scalar gain (init 1) and one scalar bias (init 0) per layer (:class:`L2Norm`). It uses no
batch statistics, so a batch of 2B images gives exactly the per-image results.

Sizes: any input size works; each stride-2 layer maps a side s to ceil(s / 2) (48 -> 24 -> 12 -> 6 ->
3 -> 2), and the decoder asks each transposed conv for the matching encoder size, so the residual
always has the input's size (48 px included, which 5 plain x2 upsamplings cannot reach).

Paper sizes are the defaults (``in_chans=3``, ``image_size=256``); ``width_mult`` scales every width for
the CPU presets. Models return tensors; they never compute losses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from genfer.config import SwitchGANModelConfig

PAPER_ENCODER_CHANNELS: tuple[int, ...] = (64, 128, 256, 512, 512)
PAPER_DISCRIMINATOR_CHANNELS: tuple[int, ...] = (64, 128, 256, 512)
PAPER_CODE_CHANNELS = 20  # Table I: Concat(512 + 512 + 20 x n)
LEAKY_SLOPE = 0.2  # ELEGANT's LeakyReLU slope (the paper gives none)


def scale_widths(channels: Sequence[int], width_mult: float) -> tuple[int, ...]:
    """``round(c * width_mult)`` (at least 1) for every width c."""
    if width_mult <= 0:
        raise ValueError(f"width_mult must be > 0, not {width_mult}")
    if not channels or any(int(c) < 1 for c in channels):
        raise ValueError(f"channels must be a non-empty sequence of positive widths, not {tuple(channels)}")
    return tuple(max(1, round(int(c) * width_mult)) for c in channels)


def halved_sizes(size: int, steps: int) -> list[int]:
    """[size, ceil(size/2), ...] (steps + 1 entries): the sides after each 3x3 / stride 2 / pad 1 layer."""
    sizes = [int(size)]
    for _ in range(steps):
        sizes.append(math.ceil(sizes[-1] / 2))
    return sizes


def init_gan_weights(module: nn.Module) -> None:
    """DCGAN / ELEGANT initialisation: conv, transposed-conv and linear weights ~ N(0, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


# ----------------------------------------------------------------------------- ℓ2-N


def l2_normalize(x: torch.Tensor, *, eps: float = 1e-12) -> torch.Tensor:
    """Per-pixel ℓ2 normalisation over channels.

    x: (B, C, H, W) -> (B, C, H, W) with ``y[b, :, h, w] = x[b, :, h, w] / max(||x[b, :, h, w]||_2, eps)``.
    """
    return x * _inverse_norm(x, eps)


def _inverse_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    """(B, C, H, W) -> (B, 1, H, W) ``1 / max(||x[b, :, h, w]||_2, eps)``; one multiply then normalises (about 5x
    faster on CPU, forward and backward, than ``F.normalize``'s broadcast division)."""
    return x.square().sum(1, keepdim=True).clamp_min(eps * eps).rsqrt()


class L2Norm(nn.Module):
    """ℓ2-N: :func:`l2_normalize` followed by one learnable scalar gain (init 1) and bias (init 0).

    This is ELEGANT's normalisation layer, which the paper cites for ℓ2-N. ``affine=False`` keeps the
    plain unit-norm output.
    """

    def __init__(self, *, affine: bool = True, eps: float = 1e-12) -> None:
        super().__init__()
        self.eps = eps
        if affine:
            self.gain = nn.Parameter(torch.ones(1))
            self.bias = nn.Parameter(torch.zeros(1))
        else:
            self.register_parameter("gain", None)
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> (B, C, H, W)."""
        if self.gain is None:
            return l2_normalize(x, eps=self.eps)
        return x * (_inverse_norm(x, self.eps) * self.gain) + self.bias


class _ConvBlock(nn.Module):
    """Conv(3x3, stride 2, pad 1) -> ℓ2-N -> LeakyReLU(0.2): (B, C_in, H, W) -> (B, C_out, ceil(H/2), ceil(W/2))."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 3, stride=2, padding=1)
        self.norm = L2Norm()
        self.act = nn.LeakyReLU(LEAKY_SLOPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


def _conv_stack(in_ch: int, widths: Sequence[int]) -> list[_ConvBlock]:
    """The Conv/ℓ2-N/LReLU stack of G_enc and D (Table I): in_ch -> widths[0] -> ... -> widths[-1]."""
    return [_ConvBlock(i, o) for i, o in zip((in_ch, *widths[:-1]), widths)]


def _set_geometry(module: nn.Module, *, in_chans: int, image_size: int, num_classes: int) -> None:
    """Check and record what a network sees: ``in_chans``-channel ``image_size``-px faces of n expressions."""
    if in_chans < 1 or image_size < 1 or num_classes < 2:
        raise ValueError(f"in_chans and image_size must be positive and num_classes >= 2, not {in_chans}, "
                         f"{image_size}, {num_classes}")
    module.in_chans, module.image_size, module.num_classes = in_chans, image_size, num_classes


# ----------------------------------------------------------------------------- blocks and the switch unit


def block_bounds(channels: int, num_blocks: int, *, allow_uneven: bool = False) -> tuple[tuple[int, int], ...]:
    """Channel ranges [start, end) of the n expression blocks of a C-channel representation (Eq. 2).

    Blocks are equal (C / n channels each) and C must be divisible by n. With ``allow_uneven=True`` a C
    that is not divisible is split ELEGANT's way, block k spanning ``round(k C / n)`` to
    ``round((k + 1) C / n)`` (e.g. the paper's C = 512 with n = 6 or 7 expressions).
    """
    if num_blocks < 2:
        raise ValueError(f"need at least 2 expression blocks, not {num_blocks}")
    if channels < num_blocks:
        raise ValueError(f"a {channels}-channel representation cannot hold {num_blocks} expression blocks")
    if channels % num_blocks == 0:
        size = channels // num_blocks
        return tuple((k * size, (k + 1) * size) for k in range(num_blocks))
    if not allow_uneven:
        lo = channels // num_blocks * num_blocks
        raise ValueError(
            f"representation width {channels} is not divisible by the {num_blocks} expressions; use a width "
            f"that is (e.g. {lo} or {lo + num_blocks}) or allow_uneven=True for ELEGANT's rounded blocks")
    edges = [round(k * channels / num_blocks) for k in range(num_blocks + 1)]
    return tuple((edges[k], edges[k + 1]) for k in range(num_blocks))


def split_blocks(r: torch.Tensor, bounds: Sequence[tuple[int, int]]) -> list[torch.Tensor]:
    """R = [r^1, ..., r^n] (Eq. 2): r: (B, C, h, w) -> n tensors (B, C_k, h, w) (views)."""
    if r.shape[1] != bounds[-1][1]:
        raise ValueError(f"representation has {r.shape[1]} channels, the blocks cover {bounds[-1][1]}")
    return [r[:, s:e] for s, e in bounds]


def _check_indices(idx: torch.Tensor, batch: int, num_blocks: int, name: str) -> torch.Tensor:
    if idx.dtype not in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
        raise ValueError(f"{name} must be an integer tensor of expression indices, not {idx.dtype}")
    if idx.shape != (batch,):
        raise ValueError(f"{name} must have shape ({batch},), not {tuple(idx.shape)}")
    if batch and (int(idx.min()) < 0 or int(idx.max()) >= num_blocks):
        raise ValueError(f"{name} holds indices outside [0, {num_blocks})")
    return idx.long()


def exchange_code(idx_i: torch.Tensor, idx_j: torch.Tensor, num_blocks: int) -> torch.Tensor:
    """The binary switch code of an exchange: (B,) i, (B,) j -> (B, n) float, 1 at i and j, 0 elsewhere.

    When i == j only position i is set (a one-block exchange, e.g. two styles of one expression).
    """
    b = idx_i.shape[0]
    idx_i = _check_indices(idx_i, b, num_blocks, "idx_i")
    idx_j = _check_indices(idx_j, b, num_blocks, "idx_j")
    code = torch.maximum(F.one_hot(idx_i, num_blocks), F.one_hot(idx_j, num_blocks))  # OR; exports to ONNX
    return code.float()


def channel_mask(code: torch.Tensor, bounds: Sequence[tuple[int, int]]) -> torch.Tensor:
    """Block code (B, n) -> channel mask (B, C, 1, 1): each channel takes its block's code value."""
    sizes = torch.tensor([e - s for s, e in bounds], device=code.device)
    return code.repeat_interleave(sizes, dim=1)[:, :, None, None]


def _mix(r_own: torch.Tensor, r_other: torch.Tensor, mask: torch.Tensor, own_weight: float) -> torch.Tensor:
    """Masked channels become ``own_weight * r_own + (1 - own_weight) * r_other``; the rest stay r_own."""
    if own_weight == 0.0:
        return torch.where(mask.bool(), r_other, r_own)
    return r_own + mask.to(r_own.dtype) * (1.0 - own_weight) * (r_other - r_own)


def _check_pair(r_a: torch.Tensor, r_b: torch.Tensor) -> None:
    if r_a.dim() != 4 or r_a.shape != r_b.shape:
        raise ValueError(f"R_a {tuple(r_a.shape)} and R_b {tuple(r_b.shape)} must be equal (B, C, h, w) shapes")


def _exchange(r_a, r_b, idx_i, idx_j, bounds, *, own_weight: float, pooled: bool):
    """Blocks i and j of each of R_a, R_b mixed with the other's (``own_weight`` of their own), optionally pooled."""
    _check_pair(r_a, r_b)
    mask = channel_mask(exchange_code(idx_i, idx_j, len(bounds)).to(r_a.device), bounds)
    in_a, in_b = (broadcast_mean(r_b), broadcast_mean(r_a)) if pooled else (r_b, r_a)
    return _mix(r_a, in_a, mask, own_weight), _mix(r_b, in_b, mask, own_weight)


def broadcast_mean(r: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) -> (B, C, h, w): every channel replaced by its mean over the h x w positions (a code with no
    layout: *what* a block encodes, not *where*)."""
    return r.mean(dim=(2, 3), keepdim=True).expand_as(r)


def switch_blocks(
    r_a: torch.Tensor,
    r_b: torch.Tensor,
    idx_i: torch.Tensor,
    idx_j: torch.Tensor,
    *,
    bounds: Sequence[tuple[int, int]],
    pooled: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The switch unit, Eq. 3.

    R_c = [r_a^1, ..., r_b^i, ..., r_b^j, ..., r_a^n] and R_d = [r_b^1, ..., r_a^i, ..., r_a^j, ..., r_b^n]:
    for every sample, blocks i and j (both of them, at their own positions) are exchanged between R_a
    and R_b; every other block stays.

    Args:
        r_a, r_b: (B, C, h, w) representations of I_a and I_b.
        idx_i: (B,) long, expression of I_a (y^i); idx_j: (B,) long, expression of I_b (y^j).
        bounds: block channel ranges (:func:`block_bounds`).
        pooled: the blocks a face receives are the other face's blocks averaged over space and broadcast
            (:func:`broadcast_mean`), so they bring its expression code but not its layout; the blocks it keeps
            are unchanged.

    Returns:
        R_c, R_d: (B, C, h, w).
    """
    return _exchange(r_a, r_b, idx_i, idx_j, bounds, own_weight=0.0, pooled=pooled)


def interpolate_blocks(
    r_a: torch.Tensor,
    r_b: torch.Tensor,
    idx_i: torch.Tensor,
    idx_j: torch.Tensor,
    *,
    bounds: Sequence[tuple[int, int]],
    p: float = 0.5,
    pooled: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Representation interpolation, Eq. 6.

    R_c^p = [r_a^1, ..., p r_a^i + (1-p) r_b^i, ..., p r_a^j + (1-p) r_b^j, ..., r_a^n] and
    R_d^p = [r_b^1, ..., p r_b^i + (1-p) r_a^i, ..., p r_b^j + (1-p) r_a^j, ..., r_b^n].
    p = 0 gives the switch (R_c, R_d), p = 1 gives (R_a, R_b); the paper uses p = 0.5.

    Shapes and ``pooled`` as :func:`switch_blocks` (with ``pooled`` the other face's part is its broadcast
    mean); returns R_c^p, R_d^p: (B, C, h, w).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"interpolation weight p must be in [0, 1], not {p}")
    return _exchange(r_a, r_b, idx_i, idx_j, bounds, own_weight=p, pooled=pooled)


def expand_code(code: torch.Tensor, *, code_channels: int, size: tuple[int, int]) -> torch.Tensor:
    """Switch code (B, n) -> the map concatenated to the representations, (B, n * code_channels, h, w).

    Entry k of the code fills channels ``k * code_channels`` to ``(k + 1) * code_channels - 1`` at every
    pixel (Table I: 20 channels per expression).
    """
    b, n = code.shape
    return code.repeat_interleave(code_channels, dim=1)[:, :, None, None].expand(b, n * code_channels, *size)


@dataclass
class SwitchCodes:
    """The binary switch codes S of Eq. 4, each (B, n) float.

    a, b: reconstruction codes (no exchange: all zeros). c, d: exchange codes, 1 at the exchanged
    expression indices i and j (equal for the two transferred faces).
    """

    a: torch.Tensor
    b: torch.Tensor
    c: torch.Tensor
    d: torch.Tensor


def switch_codes(idx_i: torch.Tensor, idx_j: torch.Tensor, num_classes: int) -> SwitchCodes:
    """S_a = S_b = 0 (nothing exchanged), S_c = S_d = :func:`exchange_code` (1 at i and j): each (B, n)."""
    s = exchange_code(idx_i, idx_j, num_classes)
    zero = torch.zeros_like(s)
    return SwitchCodes(a=zero, b=zero.clone(), c=s, d=s.clone())


class SwitchUnit(nn.Module):
    """The switch unit as a module (no parameters): blocks, exchange, interpolation and codes.

    Args:
        num_classes: n, the number of expressions (blocks).
        channels: C, the representation width.
        p: interpolation weight of Eq. 6 (paper: 0.5).
        allow_uneven: see :func:`block_bounds`.
        pooled: exchanged blocks arrive as the other face's spatial means, broadcast (:func:`switch_blocks`).
    """

    def __init__(self, *, num_classes: int, channels: int, p: float = 0.5, allow_uneven: bool = False,
                 pooled: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"interpolation weight p must be in [0, 1], not {p}")
        self.num_classes = num_classes
        self.channels = channels
        self.p = p
        self.pooled = pooled
        self.bounds = block_bounds(channels, num_classes, allow_uneven=allow_uneven)

    def forward(
        self, r_a: torch.Tensor, r_b: torch.Tensor, idx_i: torch.Tensor, idx_j: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, SwitchCodes]:
        """r_a, r_b: (B, C, h, w); idx_i, idx_j: (B,) long -> R_c, R_d (B, C, h, w) and the codes (Eq. 3, 4)."""
        r_c, r_d = switch_blocks(r_a, r_b, idx_i, idx_j, bounds=self.bounds, pooled=self.pooled)
        return r_c, r_d, switch_codes(idx_i, idx_j, self.num_classes)

    def interpolate(
        self, r_a: torch.Tensor, r_b: torch.Tensor, idx_i: torch.Tensor, idx_j: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """R_c^p, R_d^p of Eq. 6 with this unit's p; shapes as :meth:`forward`."""
        return interpolate_blocks(r_a, r_b, idx_i, idx_j, bounds=self.bounds, p=self.p, pooled=self.pooled)


# ----------------------------------------------------------------------------- generator


class SwitchEncoder(nn.Module):
    """G_enc: five 3x3 / stride-2 Conv -> ℓ2-N -> LeakyReLU(0.2) layers (Table I).

    Args:
        in_chans: image channels (1 or 3).
        channels: the five widths (paper 64-128-256-512-512), before ``width_mult``.
        width_mult: multiplies every width (CPU presets).
    """

    def __init__(
        self,
        *,
        in_chans: int = 3,
        channels: Sequence[int] = PAPER_ENCODER_CHANNELS,
        width_mult: float = 1.0,
    ) -> None:
        super().__init__()
        self.widths = scale_widths(channels, width_mult)
        self.layers = nn.ModuleList(_conv_stack(in_chans, self.widths))
        self.out_channels = self.widths[-1]

    def forward(self, x: torch.Tensor, *, return_skips: bool = False):
        """x: (B, in_chans, H, W) -> R: (B, C, ceil(H/2^L), ceil(W/2^L)), L = number of layers.

        With ``return_skips`` also the list of the first L - 1 layer outputs (shallow first), each
        (B, widths[k], ceil(H/2^(k+1)), ceil(W/2^(k+1))), for the decoder's U-Net connections.
        """
        skips = []
        for k, layer in enumerate(self.layers):
            x = layer(x)
            if k < len(self.layers) - 1:
                skips.append(x)
        return (x, skips) if return_skips else x


class SwitchDecoder(nn.Module):
    """G_dec: transposed convs back to image size, producing a residual image (Table I, Eq. 4).

    Layer k (k = 0..L-1) is DeConv(3x3, stride 2, pad 1); the first L - 1 are followed by ℓ2-N and
    LeakyReLU(0.2), the last by Tanh (times ``residual_scale``). Widths are the encoder's in reverse
    (512-256-128-64 in the paper) and then ``in_chans``.

    U-Net connections (``skip_connections``): the paper calls G a U-Net and builds on ELEGANT, whose
    decoder adds the encoder activation of the same resolution (of the face the residual is added to)
    to the output of each of its first L - 1 layers. These additions have no parameters (Table I and
    the 14M parameter count are unchanged).

    Args:
        in_chans: image channels of the residual.
        repr_channels: C, the width of R_x and R_y.
        num_classes: n, the length of the switch code.
        code_channels: channels per code entry (Table I: 20).
        encoder_widths: the encoder's widths (shallow first), so that layer widths match its skips.
        skip_connections: add the encoder activations (see above).
        residual_scale: the residual is ``residual_scale * tanh(.)`` (paper: Tanh, i.e. 1; ELEGANT: 2).
    """

    def __init__(
        self,
        *,
        in_chans: int,
        repr_channels: int,
        num_classes: int,
        code_channels: int = PAPER_CODE_CHANNELS,
        encoder_widths: Sequence[int],
        skip_connections: bool = True,
        residual_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if code_channels < 1:
            raise ValueError(f"code_channels must be >= 1, not {code_channels}")
        self.num_classes = num_classes
        self.code_channels = code_channels
        self.skip_connections = skip_connections
        self.residual_scale = residual_scale
        self.in_channels = 2 * repr_channels + num_classes * code_channels
        outs = (*reversed(tuple(encoder_widths)[:-1]), in_chans)
        ins = (self.in_channels, *outs[:-1])
        self.deconvs = nn.ModuleList(nn.ConvTranspose2d(i, o, 3, stride=2, padding=1) for i, o in zip(ins, outs))
        self.norms = nn.ModuleList(L2Norm() for _ in outs[:-1])
        self.act = nn.LeakyReLU(LEAKY_SLOPE)

    def forward(
        self,
        r_x: torch.Tensor,
        r_y: torch.Tensor,
        code: torch.Tensor,
        *,
        out_size: tuple[int, int],
        skips: Sequence[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """G_dec([R_x, R_y, S]).

        Args:
            r_x, r_y: (B, C, h, w); code: (B, n) switch code (broadcast by :func:`expand_code`).
            out_size: (H, W) of the face the residual is for; h must be H halved (ceil) L times.
            skips: the encoder's skips of that face (shallow first), required if ``skip_connections``.

        Returns:
            residual: (B, in_chans, H, W) in [-residual_scale, residual_scale].
        """
        n_layers = len(self.deconvs)
        hs, ws = halved_sizes(out_size[0], n_layers), halved_sizes(out_size[1], n_layers)
        if r_x.shape != r_y.shape or tuple(r_x.shape[-2:]) != (hs[-1], ws[-1]):
            raise ValueError(f"R_x {tuple(r_x.shape)} / R_y {tuple(r_y.shape)} do not fit an output of size "
                             f"{tuple(out_size)} (expected spatial size {(hs[-1], ws[-1])})")
        if code.shape != (r_x.shape[0], self.num_classes):
            raise ValueError(f"switch code must be ({r_x.shape[0]}, {self.num_classes}), not {tuple(code.shape)}")
        if self.skip_connections and (skips is None or len(skips) != n_layers - 1):
            raise ValueError(f"this decoder has U-Net connections: pass the encoder's {n_layers - 1} skips")
        s = expand_code(code.to(r_x.dtype), code_channels=self.code_channels, size=tuple(r_x.shape[-2:]))
        x = torch.cat([r_x, r_y, s], dim=1)
        for k, deconv in enumerate(self.deconvs):
            size = (hs[n_layers - 1 - k], ws[n_layers - 1 - k])
            x = deconv(x, output_size=size)
            if k < n_layers - 1:
                x = self.act(self.norms[k](x))
                if self.skip_connections:
                    x = x + skips[n_layers - 2 - k]
        return self.residual_scale * torch.tanh(x)


@dataclass
class SwitchOutput:
    """What :class:`SwitchGenerator` returns for I_a (expression i) and I_b (expression j).

    Images are (B, C_img, H, W), representations (B, C, h, w), codes (B, n).

    image_c: I_c = I_a with I_b's expression j (Eq. 4); image_d: I_d = I_b with I_a's expression i.
    recon_a, recon_b: the reconstructions I'_a, I'_b.
    residual_c, residual_d, residual_a, residual_b: the decoder's residual images.
    repr_a, repr_b: R_a, R_b (Eq. 2); repr_c, repr_d: R_c, R_d (Eq. 3).
    codes: the switch codes S_a, S_b, S_c, S_d.
    labels_c, labels_d: (B,) long, the target expressions of I_c (j) and I_d (i).
    interp_c, interp_d: faces decoded from R_c^p, R_d^p (Eq. 6-7; targets labels_c, labels_d), or None
        when not requested.
    """

    image_c: torch.Tensor
    image_d: torch.Tensor
    recon_a: torch.Tensor
    recon_b: torch.Tensor
    residual_c: torch.Tensor
    residual_d: torch.Tensor
    residual_a: torch.Tensor
    residual_b: torch.Tensor
    repr_a: torch.Tensor
    repr_b: torch.Tensor
    repr_c: torch.Tensor
    repr_d: torch.Tensor
    codes: SwitchCodes
    labels_c: torch.Tensor
    labels_d: torch.Tensor
    interp_c: torch.Tensor | None = None
    interp_d: torch.Tensor | None = None


class SwitchGenerator(nn.Module):
    """G = G_enc -> switch unit -> G_dec, with residual outputs (Sec. III-B, Eq. 2-4, 6).

    Output faces are ``clamp(I + residual, -1, 1)`` when ``clamp_output`` (as ELEGANT does; images are in
    [-1, 1], the clamp passes no gradient to saturated pixels), else the plain sum ``I + residual`` (in
    [-1 - s, 1 + s] for residual_scale s).

    Args:
        in_chans: image channels (1 or 3).
        image_size: nominal side (documents the preset; any size works).
        num_classes: n, the number of expressions = blocks of R.
        channels: encoder widths (paper 64-128-256-512-512); the last one is C, the width of R.
        width_mult: multiplies every width.
        code_channels: channels per switch-code entry (paper 20).
        interpolation_p: p of Eq. 6 (paper 0.5).
        allow_uneven: allow C not divisible by n (:func:`block_bounds`).
        skip_connections: U-Net additions in the decoder (:class:`SwitchDecoder`).
        residual_scale: bound of the residual (paper's Tanh: 1).
        clamp_output: clamp I + residual to [-1, 1].
        pooled_switch: exchanged blocks arrive as the other face's spatial means (:class:`SwitchUnit`).
    """

    def __init__(
        self,
        *,
        in_chans: int = 3,
        image_size: int = 256,
        num_classes: int,
        channels: Sequence[int] = PAPER_ENCODER_CHANNELS,
        width_mult: float = 1.0,
        code_channels: int = PAPER_CODE_CHANNELS,
        interpolation_p: float = 0.5,
        allow_uneven: bool = False,
        skip_connections: bool = True,
        residual_scale: float = 1.0,
        clamp_output: bool = True,
        pooled_switch: bool = False,
    ) -> None:
        super().__init__()
        _set_geometry(self, in_chans=in_chans, image_size=image_size, num_classes=num_classes)
        self.clamp_output = clamp_output
        self.encoder = SwitchEncoder(in_chans=in_chans, channels=channels, width_mult=width_mult)
        self.repr_channels = self.encoder.out_channels
        self.switch = SwitchUnit(num_classes=num_classes, channels=self.repr_channels, p=interpolation_p,
                                 allow_uneven=allow_uneven, pooled=pooled_switch)
        self.decoder = SwitchDecoder(in_chans=in_chans, repr_channels=self.repr_channels, num_classes=num_classes,
                                     code_channels=code_channels, encoder_widths=self.encoder.widths,
                                     skip_connections=skip_connections, residual_scale=residual_scale)
        init_gan_weights(self)

    @property
    def bounds(self) -> tuple[tuple[int, int], ...]:
        """Channel ranges of the n expression blocks of R."""
        return self.switch.bounds

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """G_enc(I): (B, in_chans, H, W) -> R (B, C, ceil(H/32), ceil(W/32))."""
        return self.encoder(images)

    def compose(self, images: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """I + residual (Eq. 4), clamped to [-1, 1] if ``clamp_output``."""
        out = images + residual
        return out.clamp(-1.0, 1.0) if self.clamp_output else out

    def _decode(self, r_x, r_y, code, base, skips):
        return self.decoder(r_x, r_y, code, out_size=tuple(base.shape[-2:]),
                            skips=skips if self.decoder.skip_connections else None)

    def _check_images(self, images_a: torch.Tensor, images_b: torch.Tensor) -> None:
        if images_a.dim() != 4 or images_a.shape != images_b.shape:
            raise ValueError(f"images_a {tuple(images_a.shape)} and images_b {tuple(images_b.shape)} must be "
                             "equal (B, C, H, W) shapes")
        if images_a.shape[1] != self.in_chans:
            raise ValueError(f"expected {self.in_chans}-channel images, got {images_a.shape[1]}")

    def transfer(
        self,
        images: torch.Tensor,
        references: torch.Tensor,
        labels: torch.Tensor,
        reference_labels: torch.Tensor,
    ) -> torch.Tensor:
        """I_c alone: each face with its reference's expression (Eq. 3-4), decoding one output instead of four.

        Args:
            images: (B, in_chans, H, W) in [-1, 1], expressions ``labels`` (B,) long (i).
            references: (B, in_chans, H, W) in [-1, 1], expressions ``reference_labels`` (B,) long (j).

        Returns:
            (B, in_chans, H, W): ``forward(images, references, labels, reference_labels).image_c``.
        """
        self._check_images(images, references)
        b = images.shape[0]
        r_ab, skips_ab = self.encoder(torch.cat([images, references]), return_skips=True)
        r_a, r_b = r_ab[:b], r_ab[b:]
        r_c, _, codes = self.switch(r_a, r_b, labels, reference_labels)
        residual = self._decode(r_c, r_a, codes.c.to(r_a.device), images, [s[:b] for s in skips_ab])
        return self.compose(images, residual)

    def exchange(
        self,
        images_a: torch.Tensor,
        images_b: torch.Tensor,
        labels_a: torch.Tensor,
        labels_b: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(I_c, I_d) alone: each face of a with b's expression and each of b with a's, decoding two outputs of
        the four :meth:`forward` decodes (inference; shapes as :meth:`forward`).

        Returns:
            ``forward(images_a, images_b, labels_a, labels_b)``'s ``image_c`` and ``image_d``.
        """
        self._check_images(images_a, images_b)
        b = images_a.shape[0]
        base = torch.cat([images_a, images_b])
        r_ab, skips_ab = self.encoder(base, return_skips=True)
        r_a, r_b = r_ab[:b], r_ab[b:]
        r_c, r_d, codes = self.switch(r_a, r_b, labels_a, labels_b)
        residual = self._decode(torch.cat([r_c, r_d]), r_ab, torch.cat([codes.c, codes.d]).to(r_a.device), base,
                                skips_ab)
        image_c, image_d = self.compose(base, residual).split(b)
        return image_c, image_d

    def forward(
        self,
        images_a: torch.Tensor,
        images_b: torch.Tensor,
        labels_a: torch.Tensor,
        labels_b: torch.Tensor,
        *,
        with_interpolation: bool = False,
    ) -> SwitchOutput:
        """Exchange the expressions of two unpaired batches.

        Args:
            images_a, images_b: (B, in_chans, H, W) in [-1, 1].
            labels_a: (B,) long, expression i of each I_a; labels_b: (B,) long, expression j of each I_b
                (the paper pairs i != j; i == j exchanges the single block i).
            with_interpolation: also decode [R_c^p, R_a, S_c] and [R_d^p, R_b, S_d] (Eq. 7).

        Returns:
            :class:`SwitchOutput`.
        """
        self._check_images(images_a, images_b)
        b = images_a.shape[0]
        # one encoder pass and one decoder pass over the stacked batches (ℓ2-N is per image: identical results)
        r_ab, skips_ab = self.encoder(torch.cat([images_a, images_b]), return_skips=True)
        r_a, r_b = r_ab[:b], r_ab[b:]
        r_c, r_d, codes = self.switch(r_a, r_b, labels_a, labels_b)
        xs, ys, cs = [r_c, r_d, r_a, r_b], [r_a, r_b, r_a, r_b], [codes.c, codes.d, codes.a, codes.b]
        if with_interpolation:
            r_cp, r_dp = self.switch.interpolate(r_a, r_b, labels_a, labels_b)
            xs += [r_cp, r_dp]
            ys += [r_a, r_b]
            cs += [codes.c, codes.d]
        reps = len(xs) // 2
        base = torch.cat([images_a, images_b] * reps)
        skips = [torch.cat([s] * reps) for s in skips_ab]  # (a, b) order repeats, as the bases do
        residual = self._decode(torch.cat(xs), torch.cat(ys), torch.cat(cs).to(r_a.device), base, skips)
        faces = self.compose(base, residual)
        res, out = residual.split(b), faces.split(b)
        return SwitchOutput(
            image_c=out[0], image_d=out[1], recon_a=out[2], recon_b=out[3],
            residual_c=res[0], residual_d=res[1], residual_a=res[2], residual_b=res[3],
            repr_a=r_a, repr_b=r_b, repr_c=r_c, repr_d=r_d, codes=codes,
            labels_c=labels_b.long(), labels_d=labels_a.long(),
            interp_c=out[4] if with_interpolation else None,
            interp_d=out[5] if with_interpolation else None,
        )


# ----------------------------------------------------------------------------- discriminators


def label_planes(labels: torch.Tensor, num_classes: int, size: tuple[int, int], dtype: torch.dtype) -> torch.Tensor:
    """Labels (B,) long or (B, n) float -> one-hot / given label vectors tiled over (B, n, H, W)."""
    if labels.dim() == 1:
        b = labels.shape[0]
        vec = F.one_hot(_check_indices(labels, b, num_classes, "labels"), num_classes).to(dtype)
    elif labels.dim() == 2 and labels.shape[1] == num_classes:
        vec = labels.to(dtype)
    else:
        raise ValueError(f"labels must be (B,) indices or (B, {num_classes}) vectors, not {tuple(labels.shape)}")
    return vec[:, :, None, None].expand(-1, -1, *size)


class SwitchDiscriminator(nn.Module):
    """D_1 / D_2: 4 x (Conv 3x3/2, ℓ2-N, LeakyReLU(0.2)) + FC(1) on the flattened map (Table I).

    Label conditioning as in cGAN and ELEGANT: the expression label, one-hot, is tiled into n constant
    planes concatenated to the image's channels (the only conditioning consistent with Table I's FC(1)
    and the paper's 14M GAN parameters).

    Args:
        in_chans: image channels.
        image_size: side of the (square) images this discriminator sees; fixes the FC's input.
        num_classes: n.
        channels: the four conv widths (paper 64-128-256-512), before ``width_mult``.
        width_mult: multiplies every width.
    """

    def __init__(
        self,
        *,
        in_chans: int = 3,
        image_size: int = 256,
        num_classes: int,
        channels: Sequence[int] = PAPER_DISCRIMINATOR_CHANNELS,
        width_mult: float = 1.0,
    ) -> None:
        super().__init__()
        _set_geometry(self, in_chans=in_chans, image_size=image_size, num_classes=num_classes)
        widths = scale_widths(channels, width_mult)
        self.convs = nn.Sequential(*_conv_stack(in_chans + num_classes, widths))
        side = halved_sizes(image_size, len(widths))[-1]
        self.fc = nn.Linear(widths[-1] * side * side, 1)
        init_gan_weights(self)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """images: (B, in_chans, S, S), S = image_size; labels: (B,) long or (B, n) -> logits (B,).

        The logit's sigmoid is D(I, y), the probability that I is a real face of expression y.
        """
        if images.dim() != 4 or tuple(images.shape[1:]) != (self.in_chans, self.image_size, self.image_size):
            raise ValueError(f"this discriminator takes (B, {self.in_chans}, {self.image_size}, {self.image_size}) "
                             f"images, not {tuple(images.shape)}")
        if labels.shape[0] != images.shape[0]:
            raise ValueError(f"{labels.shape[0]} labels for {images.shape[0]} images")
        y = label_planes(labels.to(images.device), self.num_classes, tuple(images.shape[-2:]), images.dtype)
        h = self.convs(torch.cat([images, y], dim=1))
        return self.fc(h.flatten(1)).squeeze(1)


class MultiScaleDiscriminator(nn.Module):
    """{D_1, D_2}: discriminator s judges the image average-pooled 2x, s times (Sec. III-B, Table I).

    D_1 sees the full image and D_2 a half-resolution copy (the paper's 256 and 128 px). The discriminators
    are built by the caller, discriminator s for side ``image_size // 2**s`` (:func:`build_switchgan
    <genfer.train.switchgan.build_switchgan>` makes the paper's two).

    Args:
        discriminators: D_1, D_2, ...: :class:`SwitchDiscriminator` s of the same faces and expressions.
    """

    def __init__(self, *, discriminators: Sequence[SwitchDiscriminator]) -> None:
        super().__init__()
        if not discriminators:
            raise ValueError("need at least one discriminator")
        first = discriminators[0]
        for k, d in enumerate(discriminators):
            if (d.in_chans, d.num_classes, d.image_size) != (first.in_chans, first.num_classes, first.image_size >> k):
                raise ValueError(f"discriminator {k + 1} must take the {first.image_size >> k}-px copies of the "
                                 f"first one's {first.in_chans}-channel faces of {first.num_classes} expressions")
        self.image_size, self.num_classes = first.image_size, first.num_classes
        self.discriminators = nn.ModuleList(discriminators)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> list[torch.Tensor]:
        """images: (B, in_chans, image_size, image_size); labels: (B,) or (B, n) -> [logits (B,)] per scale."""
        outs = []
        x = images
        for s, d in enumerate(self.discriminators):
            if s:
                x = F.avg_pool2d(x, 2)
            outs.append(d(x, labels))
        return outs


# ----------------------------------------------------------------------------- classifier


def vgg19_features(*, in_chans: int = 3, width_mult: float = 1.0, batch_norm: bool = False) -> nn.Sequential:
    """torchvision's VGG-19 convolutional trunk ("E" config), adapted.

    * the first conv takes ``in_chans`` channels;
    * every max-pool uses ``ceil_mode=True``, so each maps a side s to ceil(s / 2): the last-pool map of
      an H-px image is ceil(H / 32) -- exactly G_enc's output size (48 px -> 2 x 2, where the floor
      pools give 1 x 1; 256 px -> 8 x 8 either way, the paper's setting is unchanged);
    * widths are multiplied by ``width_mult``.

    With ``in_chans=3, width_mult=1, batch_norm=False`` the module is layer-for-layer
    ``torchvision.models.vgg19().features`` (pooling has no weights), so an ImageNet VGG-19 state dict
    supplied by the user loads into it. Initialised like torchvision's VGG (Kaiming normal, fan_out).
    """
    cfg = [v if v == "M" else max(1, round(v * width_mult)) for v in torchvision.models.vgg.cfgs["E"]]
    features = torchvision.models.vgg.make_layers(cfg, batch_norm=batch_norm)
    first = features[0]
    if in_chans != first.in_channels:
        features[0] = nn.Conv2d(in_chans, first.out_channels, 3, padding=1)
    for m in features.modules():
        if isinstance(m, nn.MaxPool2d):
            m.ceil_mode = True
        elif isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
    features.out_channels = cfg[-2]  # type: ignore[attr-defined]
    return features


class SwitchClassifier(nn.Module):
    """C: VGG-19 features fused with the expression representation G_enc(I) (Sec. III-C, Eq. 8, Table I).

    ``pooled_features``: VGG-19's last-pool map V (B, 512, h, w) and R = G_enc(I) (B, C, h, w) -- the
    same h, w (see :func:`vgg19_features`) -- are concatenated along channels (Concat(512 + 512)), mapped
    by FC(512) applied at every position (a 1x1 conv), average-pooled to ``pool_size`` x ``pool_size``
    (AvgPool(7, 7): torchvision's adaptive pool) and flattened. ``forward_head``: FC(hidden) - ReLU -
    Dropout - FC(hidden) - ReLU - Dropout - FC(n) (VGG-19's classifier; Table I lists no dropout, VGG-19
    has it: ``dropout=0`` removes it). At the paper's sizes this is 140.1M parameters, as reported.

    With ``use_expression_repr=False`` (the paper's No_ExpR / No_SynFI ablations) R is not used and the
    model is a plain VGG-19 (no concat, no FC(512)).

    G_enc is not part of C: the caller passes R (detached or not: end-to-end training lets L_C reach
    G_enc, Eq. 12).

    Args:
        in_chans: image channels.
        image_size: nominal side (documents the preset; any size >= 32 works).
        num_classes: n.
        repr_channels: C, the width of G_enc's output (paper 512).
        fuse_channels: width of the FC(512) after the concatenation.
        pool_size: side of the adaptive average pool (paper / VGG: 7).
        hidden: width of the two hidden FC layers (paper / VGG: 4096).
        dropout: dropout of the two hidden FC layers (VGG: 0.5).
        width_mult: multiplies the VGG widths (CPU presets).
        batch_norm: VGG-19-BN instead of VGG-19 (easier from scratch; the paper fine-tunes ImageNet VGG-19).
        use_expression_repr: fuse R (False: No_ExpR).
    """

    def __init__(
        self,
        *,
        in_chans: int = 3,
        image_size: int = 256,
        num_classes: int,
        repr_channels: int = 512,
        fuse_channels: int = 512,
        pool_size: int = 7,
        hidden: int = 4096,
        dropout: float = 0.5,
        width_mult: float = 1.0,
        batch_norm: bool = False,
        use_expression_repr: bool = True,
    ) -> None:
        super().__init__()
        _set_geometry(self, in_chans=in_chans, image_size=image_size, num_classes=num_classes)
        if pool_size < 1 or hidden < 1 or not 0.0 <= dropout < 1.0:
            raise ValueError("pool_size >= 1, hidden >= 1 and 0 <= dropout < 1 are required")
        self.use_expression_repr = use_expression_repr
        self.features = vgg19_features(in_chans=in_chans, width_mult=width_mult, batch_norm=batch_norm)
        vgg_ch = self.features.out_channels
        if use_expression_repr:
            self.repr_channels = repr_channels
            self.fuse = nn.Conv2d(vgg_ch + repr_channels, fuse_channels, 1)
            nn.init.kaiming_normal_(self.fuse.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(self.fuse.bias)
            pooled_ch = fuse_channels
        else:
            self.repr_channels = 0
            self.fuse = None
            pooled_ch = vgg_ch
        self.pool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        self.num_features = pooled_ch * pool_size * pool_size
        self.head = nn.Sequential(
            nn.Linear(self.num_features, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        for m in self.head.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def pooled_features(self, images: torch.Tensor, expr_repr: torch.Tensor | None = None) -> torch.Tensor:
        """images: (B, in_chans, H, W); expr_repr: G_enc(images), (B, C, ceil(H/32), ceil(W/32)), required
        iff ``use_expression_repr`` -> pooled features (B, num_features)."""
        v = self.features(images)
        if self.fuse is not None:
            if expr_repr is None:
                raise ValueError("this classifier fuses G_enc(I): pass expr_repr")
            if expr_repr.shape != (v.shape[0], self.repr_channels, *v.shape[-2:]):
                raise ValueError(f"expr_repr must be {(v.shape[0], self.repr_channels, *v.shape[-2:])} to match "
                                 f"the VGG map, not {tuple(expr_repr.shape)}")
            v = self.fuse(torch.cat([v, expr_repr], dim=1))
        elif expr_repr is not None:
            raise ValueError("this classifier does not use G_enc(I) (use_expression_repr=False)")
        return self.pool(v).flatten(1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """features: (B, num_features) -> logits (B, n)."""
        return self.head(features)

    def forward(self, images: torch.Tensor, expr_repr: torch.Tensor | None = None) -> torch.Tensor:
        """FC([VGG(I), G_enc(I)]) of Eq. 8: images (B, in_chans, H, W), expr_repr (B, C, h, w) -> logits (B, n)."""
        return self.forward_head(self.pooled_features(images, expr_repr))


# ----------------------------------------------------------------------------- the whole model


class SwitchGAN(nn.Module):
    """The three parts in one module (one state dict): ``generator``, ``discriminator``, ``classifier``.

    :meth:`classify` is the test-time recogniser: C(I, G_enc(I)); :meth:`SwitchGenerator.forward` the
    expression transfer. ``discriminator`` may be None for inference (trained models are exported without D).
    """

    def __init__(
        self,
        *,
        generator: SwitchGenerator,
        discriminator: MultiScaleDiscriminator | None,
        classifier: SwitchClassifier,
    ) -> None:
        super().__init__()
        if classifier.use_expression_repr and classifier.repr_channels != generator.repr_channels:
            raise ValueError(f"classifier expects a {classifier.repr_channels}-channel G_enc(I), "
                             f"the generator makes {generator.repr_channels}")
        d_classes = generator.num_classes if discriminator is None else discriminator.num_classes
        if not generator.num_classes == classifier.num_classes == d_classes:
            raise ValueError("generator, discriminator and classifier disagree on num_classes")
        self.generator = generator
        self.discriminator = discriminator
        self.classifier = classifier

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """images: (B, in_chans, H, W) in [-1, 1] -> logits (B, n)."""
        r = self.generator.encode(images) if self.classifier.use_expression_repr else None
        return self.classifier(images, r)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`classify`."""
        return self.classify(images)


def build_switchgan(
    cfg: SwitchGANModelConfig, *, expression_representation: bool = True, with_discriminator: bool = True
) -> SwitchGAN:
    """A freshly initialised G, D_1/D_2 (unless ``with_discriminator`` is False) and C of the sizes ``cfg`` gives.

    ``expression_representation`` False builds C without G_enc(I) (the No_ExpR ablation).
    """
    geometry = {"in_chans": cfg.in_chans, "image_size": cfg.image_size, "num_classes": cfg.num_classes}
    generator = SwitchGenerator(**geometry, channels=cfg.encoder_channels, width_mult=cfg.width_mult,
                                code_channels=cfg.code_channels, interpolation_p=cfg.interpolation_p,
                                allow_uneven=cfg.allow_uneven_blocks, skip_connections=cfg.skip_connections,
                                residual_scale=cfg.residual_scale, pooled_switch=cfg.pooled_switch)
    discriminator = None
    if with_discriminator:  # D_1 on the full image, D_2 on the half-resolution copy, ...
        discriminator = MultiScaleDiscriminator(discriminators=[
            SwitchDiscriminator(**(geometry | {"image_size": cfg.image_size >> s}), channels=cfg.discriminator_channels,
                                width_mult=cfg.width_mult) for s in range(cfg.discriminator_scales)])
    classifier = SwitchClassifier(**geometry, repr_channels=generator.repr_channels, fuse_channels=cfg.fuse_channels,
                                  pool_size=cfg.pool_size, hidden=cfg.hidden, dropout=cfg.dropout,
                                  width_mult=cfg.vgg_width_mult, batch_norm=cfg.vgg_batch_norm,
                                  use_expression_repr=expression_representation)
    return SwitchGAN(generator=generator, discriminator=discriminator, classifier=classifier)


__all__ = [
    "L2Norm", "MultiScaleDiscriminator", "SwitchClassifier", "SwitchCodes", "SwitchDecoder", "SwitchEncoder",
    "SwitchGAN", "SwitchGenerator", "SwitchDiscriminator", "SwitchOutput", "SwitchUnit", "block_bounds",
    "broadcast_mean",
    "channel_mask", "exchange_code", "expand_code", "halved_sizes", "init_gan_weights", "interpolate_blocks",
    "l2_normalize", "label_planes", "scale_widths", "split_blocks", "switch_blocks", "switch_codes",
    "vgg19_features", "build_switchgan",
]
