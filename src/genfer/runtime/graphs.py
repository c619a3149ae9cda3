"""The inference graphs of a loaded model, as plain ``nn.Module`` s with named example inputs (for export).

Every model that recognises (a recognizer, PF-ViT's E → S → C) has the graph ``recognize``: normalised crops
``image`` (B, C, H, W) in [-1, 1] -> ``logits`` (B, K). Generators add theirs where they export: PF-ViT's
``render`` (G's reconstruction, poker face and emotion image), the switch-unit GAN's ``transfer`` and pSp's
``invert`` (W+ codes and the generator's image). The batch axis is dynamic in all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genfer.hub import LoadedModel


@dataclass(frozen=True)
class Graph:
    """One exportable graph: ``module(*inputs.values())`` returns the tensors named ``outputs``."""

    name: str
    module: nn.Module
    inputs: dict[str, torch.Tensor]
    outputs: tuple[str, ...]


class _Method(nn.Module):
    """``model.<method>`` as a module's forward; a dict or dataclass output becomes the tuple of its ``keys``."""

    def __init__(self, model: nn.Module, method: str, keys: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.model, self.method, self.keys = model, method, keys

    def forward(self, *args: torch.Tensor):
        out = getattr(self.model, self.method)(*args)
        if not self.keys:
            return out
        return tuple(out[k] if isinstance(out, dict) else getattr(out, k) for k in self.keys)


def _images(loaded: LoadedModel, batch: int = 2) -> torch.Tensor:
    side, chans = loaded.image_size, loaded.in_chans
    return torch.linspace(-1, 1, batch * chans * side * side).reshape(batch, chans, side, side)


def model_graphs(loaded: LoadedModel) -> dict[str, Graph]:
    """The exportable graphs of ``loaded`` by name (empty for models with none, e.g. an MAE)."""
    graphs: dict[str, Graph] = {}
    if "recognize" in loaded.tasks:
        graphs["recognize"] = Graph("recognize", _Method(loaded.model, "forward"), {"image": _images(loaded)},
                                    ("logits",))
    if loaded.method == "pfvit" and getattr(loaded.model, "generator", None) is not None:
        keys = ("x_hat", "x_tilde", "x_emo")
        graphs["render"] = Graph("render", _Method(loaded.model, "render", keys), {"image": _images(loaded)}, keys)
    if loaded.method == "switchgan":
        labels = torch.tensor([0, 1])
        graphs["transfer"] = Graph(
            "transfer", _Method(loaded.model.generator, "transfer"),
            {"image": _images(loaded), "reference": _images(loaded).flip(0), "label": labels,
             "reference_label": labels.flip(0)}, ("image_out",))
    if loaded.method == "psp":
        graphs["invert"] = Graph("invert", _Method(loaded.model, "forward", ("wplus", "image")),
                                 {"image": _images(loaded)}, ("wplus", "reconstruction"))
    return graphs
