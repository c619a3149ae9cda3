"""Poker faces: PF-ViT's neutral version of each face in a photo (the API behind ``genfer neutralize``).

>>> from genfer.pipelines.neutralize import Neutralizer
>>> neu = Neutralizer("pfvit")                             # doctest: +SKIP
>>> for result, faces in neu.iter_neutralize(["a.jpg"]):   # doctest: +SKIP
...     faces[0].poker_face                                # (H, W) uint8 aligned poker face
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from genfer.api import ImageInput, ImageResult, Recognizer
from genfer.io.images import to_tensor, to_uint8
from genfer.io import CheckpointError


@dataclass
class NeutralizedFace:
    """PF-ViT's images of one aligned face, each (H, W) uint8 grayscale or (H, W, 3) RGB.

    ``aligned`` the input crop, ``poker_face`` x̃ = G(V_p), ``reconstruction`` x̂ = G(V_e + V_p),
    ``emotion`` G(V_e) (the emotional component rendered alone, paper Fig. 3).
    """

    aligned: np.ndarray
    poker_face: np.ndarray
    reconstruction: np.ndarray
    emotion: np.ndarray


class Neutralizer:
    """Detect, align, recognise (E → S → C) and neutralise (G(V_p)) faces with a PF-ViT model.

    Args:
        model: a shipped PF-ViT name (``pfvit``) or a PF-ViT model/checkpoint folder holding its generator.
        device, detector, batch_size: as for :class:`~genfer.api.Recognizer`.
    """

    def __init__(self, model: str | Path = "pfvit", *, device: str = "cpu", detector: str = "auto",
                 batch_size: int = 64) -> None:
        self.recognizer = Recognizer(model, device=device, detector=detector, batch_size=batch_size)
        loaded = self.recognizer.loaded
        if loaded.kind != "pfvit" or getattr(loaded.model, "generator", None) is None:
            raise CheckpointError(f"{loaded.folder} is not a PF-ViT model with its generator; "
                                  "neutralize needs one (e.g. --model pfvit)")
        self.model = loaded.model
        self.batch_size = batch_size

    @torch.inference_mode()
    def neutralize_crops(self, crops: np.ndarray) -> list[NeutralizedFace]:
        """crops: (N, H, W) or (N, H, W, 3) uint8 aligned faces at the model's size -> one result per crop."""
        x = to_tensor(crops)
        out: list[NeutralizedFace] = []
        device = next(self.model.parameters()).device
        for start in range(0, len(x), self.batch_size):
            images = self.model.render(x[start : start + self.batch_size].to(device))
            poker, rec, emo = (to_uint8(images[k]) for k in ("x_tilde", "x_hat", "x_emo"))
            out += [NeutralizedFace(aligned=np.asarray(crops[start + i]), poker_face=poker[i], reconstruction=rec[i],
                                    emotion=emo[i]) for i in range(len(poker))]
        return out

    def iter_neutralize(self, inputs: ImageInput | Sequence[ImageInput], *,
                        aligned: bool = False) -> Iterator[tuple[ImageResult, list[NeutralizedFace]]]:
        """Per input image: its recognition result and the neutralised images of each face, streaming."""
        for result, crops in self.recognizer.iter_faces(inputs, aligned=aligned):
            yield result, self.neutralize_crops(np.stack(crops)) if crops else []


__all__ = ["NeutralizedFace", "Neutralizer"]
