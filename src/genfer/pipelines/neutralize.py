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

from genfer.api import ImageInput, ImageResult, Recognizer, expand_inputs
from genfer.io.images import to_tensor, to_uint8
from genfer.io import CheckpointError
from genfer.predict import autocast, check_precision


@dataclass
class NeutralizedFace:
    """PF-ViT's images of one aligned face, each (H, W) uint8 grayscale or (H, W, 3) RGB.

    ``aligned`` the input crop, ``poker_face`` x̃ = G(V_p), ``reconstruction`` x̂ = G(V_e + V_p),
    ``emotion`` G(V_e) (the emotional component rendered alone, paper Fig. 3); the last two are None when only
    the poker faces were asked for (``poker_only``).
    """

    aligned: np.ndarray
    poker_face: np.ndarray
    reconstruction: np.ndarray | None
    emotion: np.ndarray | None


class Neutralizer:
    """Detect, align, recognise (E → S → C) and neutralise (G(V_p)) faces with a PF-ViT model.

    Args:
        model: a shipped PF-ViT name (``pfvit``) or a PF-ViT model/checkpoint folder holding its generator.
        device, detector: as for :class:`~genfer.api.Recognizer`.
        batch_size: faces per network batch (:meth:`iter_neutralize` groups the faces of consecutive inputs).
        precision: ``float32`` or ``bfloat16`` (autocast: about twice as fast on CPUs with AMX or AVX-512 BF16;
            the images may differ by a few grey levels).
    """

    def __init__(self, model: str | Path = "pfvit", *, device: str = "cpu", detector: str = "auto",
                 batch_size: int = 64, precision: str = "float32") -> None:
        check_precision(precision)
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, not {batch_size}")
        self.recognizer = Recognizer(model, device=device, detector=detector, batch_size=batch_size)
        loaded = self.recognizer.loaded
        if loaded.kind != "pfvit" or getattr(loaded.model, "generator", None) is None:
            raise CheckpointError(f"{loaded.folder} is not a PF-ViT model with its generator; "
                                  "neutralize needs one (e.g. --model pfvit)")
        self.model = loaded.model
        self.batch_size = batch_size
        self.precision = precision

    @torch.inference_mode()
    def _run(self, crops: np.ndarray, *, poker_only: bool) -> tuple[np.ndarray, list[NeutralizedFace]]:
        """One pass of E → S → (C, G) per batch: (probabilities (N, K) of C, the images of each crop)."""
        x = to_tensor(crops)
        device = next(self.model.parameters()).device
        probs, out = [], []
        for start in range(0, len(x), self.batch_size):
            with autocast(device, self.precision):
                sep = self.model.separate(x[start : start + self.batch_size].to(device))
                # as PFViT.render: one batched G call over the tokens asked for, clamped to [-1, 1]
                tokens = sep.v_p if poker_only else torch.cat([sep.v_e + sep.v_p, sep.v_p, sep.v_e])
                images = self.model.generate(tokens).clamp(-1, 1)
            probs.append(sep.logits.float().softmax(-1).cpu())
            parts = [to_uint8(t.float()) for t in images.split(len(sep.logits))]
            poker, rec, emo = (parts[0], None, None) if poker_only else (parts[1], parts[0], parts[2])
            out += [NeutralizedFace(aligned=np.asarray(crops[start + i]), poker_face=poker[i],
                                    reconstruction=None if rec is None else rec[i],
                                    emotion=None if emo is None else emo[i]) for i in range(len(poker))]
        return torch.cat(probs).numpy(), out

    def neutralize_crops(self, crops: np.ndarray, *, poker_only: bool = False) -> list[NeutralizedFace]:
        """crops: (N, H, W) or (N, H, W, 3) uint8 aligned faces at the model's size -> one result per crop."""
        return self._run(crops, poker_only=poker_only)[1]

    def iter_neutralize(self, inputs: ImageInput | Sequence[ImageInput], *, aligned: bool = False,
                        poker_only: bool = False) -> Iterator[tuple[ImageResult, list[NeutralizedFace]]]:
        """Per input image, in input order: its recognition result (E → S → C) and the images of each face.

        The faces of consecutive inputs are grouped into batches of :attr:`batch_size` and each batch runs the
        networks once; the results of a batch's inputs are yielded as soon as it is done (streaming, bounded
        memory). Unreadable images and photos without a face are reported in their result. ``poker_only``
        renders only G(V_p) (``reconstruction`` and ``emotion`` stay None): a third of G's work.
        """
        items = expand_inputs(inputs)
        pending: list[tuple[ImageResult, list[np.ndarray], list[dict]]] = []
        n_faces = 0
        for i, item in enumerate(items):
            pending.append(self.recognizer.find_faces(item, i, aligned=aligned))
            n_faces += len(pending[-1][1])
            if n_faces >= self.batch_size or not n_faces:  # a full batch, or only faceless inputs waiting
                yield from self._finish(pending, poker_only)
                pending, n_faces = [], 0
        yield from self._finish(pending, poker_only)

    def _finish(self, pending: list[tuple[ImageResult, list[np.ndarray], list[dict]]],
                poker_only: bool) -> Iterator[tuple[ImageResult, list[NeutralizedFace]]]:
        crops = [c for _, cs, _ in pending for c in cs]
        probs, faces = self._run(np.stack(crops), poker_only=poker_only) if crops else (None, [])
        k = 0
        for res, cs, metas in pending:
            res.faces += [self.recognizer.face_result(probs[k + j], meta) for j, meta in enumerate(metas)]
            yield res, faces[k : k + len(cs)]
            k += len(cs)


__all__ = ["NeutralizedFace", "Neutralizer"]
