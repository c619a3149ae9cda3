"""Learned perceptual distances: LPIPS (Zhang et al., 2018) from user weights, and offline ``genfer-lpips``.

Both take two image batches ``(B, C, H, W)`` in [-1, 1] (C = 1 or 3; checked) and return ``(B,)``:

    d(x, y) = Σ_l mean_hw( Σ_c w_lc (n(f_l(x)) − n(f_l(y)))²_c )

where ``f_l`` are feature maps of layer l and ``n`` divides each spatial position's channel vector by
its L2 norm.

``LPIPS`` (``net="alex"`` or ``"vgg"``): torchvision AlexNet / VGG-16 feature slices and the learned 1×1
linear heads ``w``, all from ONE user-supplied file with the ``lpips`` package's state-dict keys
(v0.1)::

    net.slice1.0.weight ... net.slice5.10.bias     (alex: torchvision ``features`` indices 0-11)
    net.slice1.0.weight ... net.slice5.28.bias     (vgg: torchvision ``features`` indices 0-29)
    lin0.model.1.weight ... lin4.model.1.weight    (1×1 convs, no bias)
    scaling_layer.shift, scaling_layer.scale       (optional; the fixed v0.1 constants)

i.e. ``lpips.LPIPS(net=...).state_dict()`` saved with ``torch.save`` or safetensors. The ``lpips`` package
ships only the ``lin*`` part (``lpips/weights/v0.1/alex.pth``) and downloads the backbone from torchvision;
:func:`lpips_state_from_parts` joins the two into one file.

``genfer-lpips`` (:class:`GenferLPIPS`): the same formula with uniform weights (``w = 1``, LPIPS's
"baseline" variant) over the stage outputs of a genfer expression recognizer. It needs no external
weights but is NOT comparable with published LPIPS figures, nor across recognizer models.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from genfer.hub import REFERENCE_RECOGNIZER, load_recognizer
from genfer.io import CheckpointError, load_into
from genfer.io.images import check_signed_unit_range, match_channels, resize
from genfer.metrics.weights import read_weights

LPIPS_CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}
"""Channels of the five compared layers per backbone."""

_SLICE_BOUNDS = {"alex": (0, 2, 5, 8, 10, 12), "vgg": (0, 4, 9, 16, 23, 30)}
_VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def normalize_channels(f: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """(B, C, H, W) -> the same with each position's channel vector scaled to unit L2 norm."""
    return f / (f.pow(2).sum(1, keepdim=True).sqrt() + eps)


def layer_distance(fx: torch.Tensor, fy: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """One layer's term: (B, C, H, W) pair -> (B,) spatial mean of the (weighted) squared difference."""
    d = (normalize_channels(fx) - normalize_channels(fy)) ** 2
    d = d.sum(1) if weight is None else (d * weight.view(1, -1, 1, 1)).sum(1)
    return d.mean(dim=(1, 2))


def _torchvision_features(net: str) -> list[nn.Module]:
    """The layers of torchvision's ``alexnet().features`` or ``vgg16().features`` (untrained)."""
    if net == "alex":
        return [nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
                nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
                nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(), nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
                nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2)]
    layers: list[nn.Module] = []
    c = 3
    for v in _VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, int(v), 3, padding=1), nn.ReLU()]
            c = int(v)
    return layers


class _Backbone(nn.Module):
    """Five feature slices ``slice1..slice5`` keeping torchvision's layer indices as module names."""

    def __init__(self, net: str) -> None:
        super().__init__()
        layers, bounds = _torchvision_features(net), _SLICE_BOUNDS[net]
        for k in range(5):
            block = nn.Sequential()
            for i in range(bounds[k], bounds[k + 1]):
                block.add_module(str(i), layers[i])
            self.add_module(f"slice{k + 1}", block)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for k in range(1, 6):
            x = getattr(self, f"slice{k}")(x)
            out.append(x)
        return out


class _ScalingLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift) / self.scale


class _LinearHead(nn.Module):
    """A 1×1 conv to one channel, at ``model.1`` as in the lpips package (``model.0`` is dropout)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, 1, bias=False))


class LPIPS(nn.Module):
    """LPIPS v0.1 over AlexNet (``alex``) or VGG-16 (``vgg``); load weights with :func:`load_lpips`."""

    def __init__(self, net: str = "alex") -> None:
        super().__init__()
        if net not in LPIPS_CHANNELS:
            raise ValueError(f"LPIPS net must be one of {', '.join(LPIPS_CHANNELS)}, not {net!r}")
        self.name = f"lpips-{net}"
        self.scaling_layer = _ScalingLayer()
        self.net = _Backbone(net)
        for k, c in enumerate(LPIPS_CHANNELS[net]):
            self.add_module(f"lin{k}", _LinearHead(c))
        self.eval()

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x, y: (B, C, H, W) in [-1, 1] -> (B,) distances."""
        if x.shape != y.shape:
            raise ValueError(f"LPIPS needs images of the same shape, not {tuple(x.shape)} and {tuple(y.shape)}")
        check_signed_unit_range(x, self.name)
        check_signed_unit_range(y, self.name)
        fx = self.net(self.scaling_layer(match_channels(x.float(), 3)))
        fy = self.net(self.scaling_layer(match_channels(y.float(), 3)))
        return sum(layer_distance(a, b, getattr(self, f"lin{k}").model[1].weight.flatten())
                   for k, (a, b) in enumerate(zip(fx, fy)))


def load_lpips(net: str, path: str | Path, *, device: str = "cpu") -> LPIPS:
    """LPIPS with backbone and linear heads from ``path`` (lpips package key layout, see module doc).

    ``scaling_layer.*`` may be absent (the v0.1 constants are used); any other missing or unexpected key
    is a :class:`CheckpointError`.
    """
    model = LPIPS(net)
    state = dict(read_weights(path))
    for key, value in model.state_dict().items():
        if key.startswith("scaling_layer.") and key not in state:
            state[key] = value
    load_into(model, state, source=str(path))
    return model.eval().to(device)


def lpips_state_from_parts(net: str, linear: dict[str, torch.Tensor],
                           backbone: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Join lpips' linear heads (``lin*``) and a torchvision ``alexnet``/``vgg16`` state dict into one state.

    Args:
        linear: e.g. ``torch.load("lpips/weights/v0.1/alex.pth")``.
        backbone: torchvision's classifier state dict (``features.<i>.weight``; the classifier is ignored).
    """
    if net not in LPIPS_CHANNELS:
        raise ValueError(f"LPIPS net must be one of {', '.join(LPIPS_CHANNELS)}, not {net!r}")
    bounds = _SLICE_BOUNDS[net]
    out = {k: v for k, v in linear.items() if k.startswith("lin")}
    for key, value in backbone.items():
        parts = key.split(".")
        if parts[0] != "features":
            continue
        i = int(parts[1])
        k = next((k for k in range(5) if bounds[k] <= i < bounds[k + 1]), None)
        if k is not None:
            out[f"net.slice{k + 1}.{i}.{parts[2]}"] = value
    return out


class GenferLPIPS(nn.Module):
    """Offline LPIPS-like distance over a genfer recognizer's stage outputs, uniform weights.

    Args:
        model: a recognizer whose ``net`` is a timm model with ``forward_intermediates``.
        image_size, in_chans: the recognizer's input (inputs are resized / converted to it).
        model_name: recorded in :attr:`name` (``genfer-lpips:<model>``).
    """

    def __init__(self, model: nn.Module, *, image_size: int, in_chans: int, model_name: str) -> None:
        super().__init__()
        if not hasattr(getattr(model, "net", None), "forward_intermediates"):
            raise ValueError(f"{type(model).__name__} does not expose intermediate features "
                             "(net.forward_intermediates)")
        self.model = model.eval()
        self.image_size = image_size
        self.in_chans = in_chans
        self.name = f"genfer-lpips:{model_name}"

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x: (B, C, H, W) in [-1, 1] -> the recognizer's stage outputs, each (B, C_l, H_l, W_l)."""
        check_signed_unit_range(x, "genfer-lpips")
        x = resize(match_channels(x.float(), self.in_chans), self.image_size)
        return list(self.model.net.forward_intermediates(x, intermediates_only=True))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x, y: (B, C, H, W) in [-1, 1] -> (B,) distances."""
        if x.shape != y.shape:
            raise ValueError(f"genfer-lpips needs images of the same shape, not {tuple(x.shape)} and "
                             f"{tuple(y.shape)}")
        return sum(layer_distance(a, b) for a, b in zip(self.features(x), self.features(y)))


def load_genfer_lpips(model: str | Path, *, device: str = "cpu") -> GenferLPIPS:
    """``genfer-lpips`` over a shipped recognizer name or model/checkpoint folder."""

    loaded = load_recognizer(model, device=device)
    return GenferLPIPS(loaded.model, image_size=loaded.image_size, in_chans=loaded.in_chans, model_name=loaded.name)


def build_lpips(net: str, *, weights: str | Path | None = None, model: str | Path | None = None,
                device: str = "cpu") -> nn.Module:
    """``genfer`` (offline, over ``model``) or ``alex`` / ``vgg`` (needs ``weights``)."""
    if net == "genfer":

        return load_genfer_lpips(model or REFERENCE_RECOGNIZER, device=device)
    if net in LPIPS_CHANNELS:
        if weights is None:
            raise CheckpointError(f"LPIPS-{net} needs a weights file (--lpips-weights PATH, lpips package key "
                                  "layout); or use the offline --lpips-net genfer")
        return load_lpips(net, weights, device=device)
    raise ValueError(f"unknown LPIPS net {net!r}; use genfer, alex or vgg")
