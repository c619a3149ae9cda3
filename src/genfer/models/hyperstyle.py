"""HyperStyle (Alaluf et al., 2022): per-image offsets of a frozen generator's convolution weights.

For a target x and its initial inversion w (a frozen pSp encoder's W+ code) the hypernetwork H reads x beside the
current reconstruction ŷ and predicts, for each tuned convolution ℓ, per-channel offsets Δℓ (out, in); the tuned
weights are

    θ̂ℓ = θℓ · (1 + Δℓ)        (Δℓ broadcast over the k×k taps)

and the refinement runs ``iterations`` times from ŷ₀ = G(w; θ): ``Δ_t = Δ_{t−1} + H(x, ŷ_{t−1})``,
``ŷ_t = G(w; θ·(1 + Δ_t))``. The code w is not changed, so edits of w are rendered with the same tuned weights.

:func:`tuned_weights` and :func:`synthesis_with_offsets` apply offsets to any :class:`Generator` (its convolutions
take per-sample filters (B, out, in, k, k) through ``torch.func.functional_call``); :class:`WeightOffsetNet` is
H; :class:`HyperStyle` holds the pSp encoder (``encoder``), the generator (``decoder``) and H (``hypernet``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from genfer.models.psp import BottleneckIR, InversionEncoder, resize_to
from genfer.models.stylegan2 import Generator

if TYPE_CHECKING:
    from genfer.config import HyperNetConfig

__all__ = ["HyperStyle", "HyperStyleOutput", "Offsets", "WeightOffsetNet", "build_hypernet", "synthesis_with_offsets",
           "tunable_layers", "tuned_weights"]

Offsets = dict[str, torch.Tensor]
"""Per-image offsets by generator parameter name (``convs.3.conv.weight``): (B, out, in)."""


def tunable_layers(generator: Generator, *, min_resolution: int) -> dict[str, tuple[int, int]]:
    """``{weight name: (out, in)}`` of the generator's non-toRGB convolutions at ``min_resolution`` px or more
    (``conv1`` is at 4 px; ``convs.i`` at ``2^(i//2 + 3)`` px)."""
    layers = {}
    if min_resolution <= 4:
        conv = generator.conv1.conv
        layers["conv1.conv.weight"] = (conv.out_channels, conv.in_channels)
    for i, styled in enumerate(generator.convs):
        if 2 ** (i // 2 + 3) >= min_resolution:
            layers[f"convs.{i}.conv.weight"] = (styled.conv.out_channels, styled.conv.in_channels)
    return layers


def tuned_weights(generator: Generator, offsets: Offsets) -> dict[str, torch.Tensor]:
    """``θ·(1 + Δ)`` per tuned layer: generator weights (1, out, in, k, k) and offsets (B, out, in) ->
    per-sample filters (B, out, in, k, k)."""
    params = dict(generator.named_parameters())
    return {name: params[name] * (1.0 + delta[..., None, None]) for name, delta in offsets.items()}


def synthesis_with_offsets(generator: Generator, wplus: torch.Tensor, offsets: Offsets | None, *,
                           structure: torch.Tensor | None = None,
                           noise: list[torch.Tensor] | None = None) -> torch.Tensor:
    """Render W+ codes (B, n_latent, D) with the generator's weights tuned by ``offsets`` (None or {}: as is),
    with its fixed noise maps unless ``noise`` is given. Returns (B, C, S, S)."""
    kwargs = {"input_is_latent": True, "noise": noise, "randomize_noise": False, "structure": structure}
    if not offsets:
        return generator(wplus, **kwargs)
    return functional_call(generator, tuned_weights(generator, offsets), (wplus,), kwargs, strict=False)


class RefinementHead(nn.Module):
    """One tuned layer's offsets: 3×3 conv + leaky ReLU, global average, zero-initialised linear to out·in.

    Shapes: ``features: (B, C, s, s) -> (B, out, in)``.
    """

    def __init__(self, *, in_channels: int, hidden: int, out_channels: int, layer_in_channels: int) -> None:
        super().__init__()
        self.shape = (out_channels, layer_in_channels)
        self.conv = nn.Conv2d(in_channels, hidden, 3, 1, 1)
        self.linear = nn.Linear(hidden, out_channels * layer_in_channels)
        nn.init.zeros_(self.linear.weight)  # Δ = 0 at the start: the tuned generator is the generator
        nn.init.zeros_(self.linear.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.conv(features), 0.2).mean(dim=(2, 3))
        return self.linear(h).reshape(len(features), *self.shape)


class WeightOffsetNet(nn.Module):
    """HyperStyle's hypernetwork H: (target, reconstruction) -> offsets of the tuned layers.

    Args:
        in_channels: image channels C (H reads 2·C).
        layers: ``{weight name: (out, in)}`` of the tuned layers (:func:`tunable_layers`).
        stage_channels, stage_blocks: the IR-SE backbone (four stride-2 stages).
        head_channels: width of each refinement head.

    Shapes: ``forward(x: (B, C, s, s), y: (B, C, s, s)) -> {name: (B, out, in)}``.
    """

    def __init__(self, *, in_channels: int, layers: dict[str, tuple[int, int]], stage_channels: tuple[int, ...],
                 stage_blocks: tuple[int, ...], head_channels: int) -> None:
        super().__init__()
        c0 = stage_channels[0]
        self.stem = nn.Sequential(nn.Conv2d(2 * in_channels, c0, 3, 1, 1, bias=False), nn.BatchNorm2d(c0),
                                  nn.PReLU(c0))
        blocks: list[nn.Module] = []
        prev = c0
        for ch, n in zip(stage_channels, stage_blocks):
            blocks += [BottleneckIR(in_channels=prev if i == 0 else ch, out_channels=ch, stride=2 if i == 0 else 1,
                                    se=True) for i in range(n)]
            prev = ch
        self.backbone = nn.Sequential(*blocks)
        self.names = list(layers)
        self.heads = nn.ModuleList(RefinementHead(in_channels=prev, hidden=head_channels, out_channels=out,
                                                  layer_in_channels=inp) for out, inp in layers.values())

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> Offsets:
        features = self.backbone(self.stem(torch.cat([x, y], dim=1)))
        return {name: head(features) for name, head in zip(self.names, self.heads)}


def build_hypernet(cfg: "HyperNetConfig", generator: Generator) -> WeightOffsetNet:
    """A freshly initialised hypernetwork for a generator (its tuned layers from ``cfg.min_resolution``)."""
    return WeightOffsetNet(in_channels=generator.img_channels,
                           layers=tunable_layers(generator, min_resolution=cfg.min_resolution),
                           stage_channels=tuple(cfg.stage_channels), stage_blocks=tuple(cfg.stage_blocks),
                           head_channels=cfg.head_channels)


@dataclass
class HyperStyleOutput:
    """images: one (B, C, S, S) reconstruction per iteration (the last is the result); wplus: (B, n_latent, D)
    the encoder's codes; offsets: the final offsets; structure: the encoder's structure code or None."""

    images: list[torch.Tensor]
    wplus: torch.Tensor
    offsets: Offsets
    structure: torch.Tensor | None = None

    @property
    def image(self) -> torch.Tensor:
        return self.images[-1]


class HyperStyle(nn.Module):
    """A frozen inversion encoder (``encoder``), its generator (``decoder``) and the hypernetwork (``hypernet``).

    Shapes: ``invert(x: (B, C, s, s))`` with s the encoder's input size -> :class:`HyperStyleOutput` with images at
    the generator's resolution.
    """

    def __init__(self, *, encoder: InversionEncoder, decoder: Generator, hypernet: WeightOffsetNet,
                 iterations: int) -> None:
        super().__init__()
        if iterations < 1:
            raise ValueError(f"iterations must be >= 1, not {iterations}")
        self.encoder, self.decoder, self.hypernet = encoder, decoder, hypernet
        self.iterations = iterations

    def render(self, wplus: torch.Tensor, offsets: Offsets | None, *, structure: torch.Tensor | None = None,
               noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        """W+ codes rendered by the generator tuned with ``offsets`` (see :func:`synthesis_with_offsets`)."""
        return synthesis_with_offsets(self.decoder, wplus, offsets, structure=structure, noise=noise)

    def refine(self, x: torch.Tensor, offsets: Offsets | None, y: torch.Tensor) -> Offsets:
        """One iteration: ``Δ + H(x, ŷ)`` (ŷ brought to x's size); ``offsets`` None means zero."""
        delta = self.hypernet(x, resize_to(y, x.shape[-1]))
        return delta if offsets is None else {k: offsets[k] + v for k, v in delta.items()}

    def invert(self, x: torch.Tensor, *, iterations: int | None = None) -> HyperStyleOutput:
        """Encode x, then ``iterations`` (default: the trained number) refinement steps of the weight offsets."""
        code = self.encoder.encode(x)
        y = self.render(code.wplus, None, structure=code.structure)
        images, offsets = [], None
        for _ in range(self.iterations if iterations is None else iterations):
            offsets = self.refine(x, offsets, y)
            y = self.render(code.wplus, offsets, structure=code.structure)
            images.append(y)
        return HyperStyleOutput(images=images, wplus=code.wplus, offsets=offsets or {}, structure=code.structure)

    def forward(self, x: torch.Tensor) -> HyperStyleOutput:
        return self.invert(x)
