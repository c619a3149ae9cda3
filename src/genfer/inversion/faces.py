"""Invert the faces of photos: detect, align to the generator's crop template, encode, optionally refine.

>>> from genfer.inversion.faces import FaceInverter
>>> from genfer.inversion.load import load_gan
>>> inv = FaceInverter(load_gan("runs/psp-cpu"), refine_steps=100)     # doctest: +SKIP
>>> for result in inv.iter_invert(["photo.jpg"]):                      # doctest: +SKIP
...     result.faces[0].wplus.shape                                    # (n_latent, style_dim)

Faces are aligned with :class:`~genfer.faces.pipeline.FacePipeline` to the template the generator's training
faces were framed with (``config.crop_template``) at the generator's resolution. With an encoder (a pSp model)
its W+ code is the result, or the start of ``refine_steps`` steps of :func:`~genfer.inversion.project.project`;
a generator without an encoder is inverted by optimisation from its average latent alone.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from genfer.config import InversionLossConfig
from genfer.hub import LoadedModel
from genfer.inversion.criterion import InversionCriterion
from genfer.inversion.load import inversion_parts
from genfer.inversion.project import project
from genfer.io.images import to_tensor, to_uint8
from genfer.models.psp import resize_to
from genfer.predict import autocast, check_precision

log = logging.getLogger(__name__)

__all__ = ["FaceInverter", "ImageInversion", "InvertedFace"]


@dataclass
class InvertedFace:
    """One inverted face.

    box: (x, y, w, h) in the photo; source: how it was found (a detector stage, ``whole-image`` when no detector
    fired and the square-ish image was taken as the face, or ``aligned`` for inputs given as crops);
    aligned / reconstruction: (S, S) uint8 grayscale or (S, S, 3) RGB at the generator's resolution;
    wplus: (n_latent, D) float32 W+ code.
    """

    box: list[float]
    source: str
    aligned: np.ndarray
    reconstruction: np.ndarray
    wplus: np.ndarray


@dataclass
class ImageInversion:
    """The faces of one input, or the error that stopped it; ``readable`` is False for unreadable images."""

    path: str
    faces: list[InvertedFace] = field(default_factory=list)
    error: str | None = None
    readable: bool = True


class FaceInverter:
    """Invert faces into a trained generator's W+ space.

    Args:
        gan: a loaded generator, with or without an inversion encoder (:func:`~genfer.inversion.load.load_gan`).
        refine_steps: optimisation steps after the encoder (0: the encoder's code as is). A generator without
            an encoder needs > 0.
        loss: the refinement objective (default: the pSp model's training loss, else IFER's weights with the
            offline perceptual network).
        detector: face detector backend (``auto``, ``mediapipe``, ``haar``).
        batch_size: faces per encoder / refinement batch; :meth:`iter_invert` groups the faces of consecutive
            inputs into batches of this size when there is no refinement.
        seed: seeds the refinement's code noise.
        precision: ``float32`` or ``bfloat16`` autocast for the encoder and the generator's rendering (not the
            refinement): about twice as fast on CPUs with AMX or AVX-512 BF16, images differ by a few grey levels.
    """

    def __init__(self, gan: LoadedModel, *, refine_steps: int = 0, loss: InversionLossConfig | None = None,
                 detector: str = "auto", batch_size: int = 16, seed: int = 0, precision: str = "float32") -> None:
        if refine_steps < 0:
            raise ValueError(f"refine steps must be >= 0, not {refine_steps}")
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, not {batch_size}")
        self.precision = check_precision(precision)
        parts = inversion_parts(gan)
        if parts.encoder is None and refine_steps == 0:
            raise ValueError(f"{gan.folder} is a generator without an inversion encoder: give refinement steps "
                             "(--refine STEPS) to invert by optimisation")
        self.gan, self.parts = gan, parts
        self.refine_steps = refine_steps
        self.loss = loss or parts.loss or InversionLossConfig()
        self.detector = detector
        self.batch_size = batch_size
        self.seed = seed
        self._pipeline: Any = None
        self._criterion: Any = None
        self.size, self.channels = parts.arch.resolution, parts.arch.img_channels

    @property
    def pipeline(self) -> Any:
        """The face pipeline (created on first use: it loads mediapipe)."""
        if self._pipeline is None:
            from genfer.faces.detect import FaceDetector
            from genfer.faces.pipeline import FacePipeline

            self._pipeline = FacePipeline(detector=FaceDetector(backend=self.detector),
                                          template=self.parts.arch.crop_template, size=self.size,
                                          grayscale=self.channels == 1)
        return self._pipeline

    @property
    def criterion(self) -> Any:
        """The refinement objective (built on first use)."""
        if self._criterion is None:

            self._criterion = InversionCriterion(self.loss, device=self.device, identity_optional=True)
        return self._criterion

    @property
    def device(self) -> torch.device:
        return next(self.parts.generator.parameters()).device

    # ------------------------------------------------------------------ codes and images

    def invert_tensor(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, C, S, S) in [-1, 1] at the generator's resolution -> (W+ (B, n_latent, D), images (B, C, S, S))."""

        x = x.to(self.device)
        if hasattr(self.gan.model, "hypernet"):  # HyperStyle: its code, imaged by the generator tuned for the face
            if self.refine_steps:
                raise ValueError(f"{self.gan.name} tunes the generator's weights; --refine is for plain encoders")
            with torch.no_grad(), autocast(self.device, self.precision):
                out = self.gan.model.invert(resize_to(x, self.parts.encoder.input_size))
            return out.wplus.float(), out.image.float().clamp(-1, 1)
        wplus = structure = None
        if self.parts.encoder is not None:
            with torch.no_grad(), autocast(self.device, self.precision):
                code = self.parts.encoder.encode(resize_to(x, self.parts.encoder.input_size))
            wplus = code.wplus.float()
            structure = None if code.structure is None else code.structure.float()  # ASIT's structure code
        if self.refine_steps:

            res = project(self.parts.generator, x, latent_avg=self.parts.latent_avg, criterion=self.criterion,
                          steps=self.refine_steps, init=wplus, seed=self.seed, structure=structure)
            return res.wplus, res.image
        return wplus, self.render(wplus, structure=structure)

    @torch.no_grad()
    def render(self, wplus: torch.Tensor, *, structure: torch.Tensor | None = None) -> torch.Tensor:
        """Images (B, C, S, S) in [-1, 1] of W+ codes (B, n_latent, D), with the generator's fixed noise maps and
        its constant input (or a structure code (B, C4, 4, 4) in its place)."""
        with autocast(self.device, self.precision):
            images = self.parts.generator.synthesis(wplus.to(self.device), randomize_noise=False,
                                                    structure=None if structure is None else structure.to(self.device))
        return images.float().clamp(-1, 1)

    def invert_crops(self, crops: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Aligned crops (N, S, S[, 3]) uint8 -> per crop (reconstruction uint8, W+ (n_latent, D) float32)."""
        out: list[tuple[np.ndarray, np.ndarray]] = []
        for start in range(0, len(crops), self.batch_size):
            wplus, images = self.invert_tensor(to_tensor(crops[start : start + self.batch_size]))
            codes = wplus.detach().float().cpu().numpy()
            out += list(zip(to_uint8(images), codes))
        return out

    # ------------------------------------------------------------------ photos

    def aligned_crop(self, image: np.ndarray) -> np.ndarray:
        """A photo given as an aligned face: resized (area) to the generator's resolution, gray if it is gray."""
        import cv2

        img = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if self.channels == 1 else image
        return cv2.resize(img, (self.size, self.size), interpolation=cv2.INTER_AREA)

    def faces_of(self, image: np.ndarray, *, aligned: bool) -> list[tuple[list[float], str, np.ndarray]]:
        """(box, source, crop) of every face of an RGB image (the whole image with ``aligned``)."""
        if aligned:
            h, w = image.shape[:2]
            return [([0.0, 0.0, float(w), float(h)], "aligned", self.aligned_crop(image))]
        return [([float(v) for v in af.face.box], af.face.source, af.crop) for af in self.pipeline.process(image)]

    def iter_invert(self, inputs: Sequence[Any], *, aligned: bool = False) -> Iterator[ImageInversion]:
        """Invert every face of every input (paths, arrays, PIL images), one result per input, in order, streaming.

        Without refinement the faces of consecutive inputs are grouped into batches of :attr:`batch_size`, each
        encoded and rendered at once, and a batch's results are yielded as soon as it is done. With refinement
        each input's faces are one optimisation (as :meth:`invert_crops`), so that a face's result does not
        depend on the other inputs (the seeded code noise is drawn per batch). Unreadable images and photos
        without a face are reported in their result.
        """
        from genfer.faces.io import ImageReadError, load_image

        limit = self.batch_size if not self.refine_steps else 1
        pending: list[tuple[ImageInversion, list[tuple[list[float], str, np.ndarray]]]] = []
        n_faces = 0
        for i, item in enumerate(inputs):
            res = ImageInversion(path=str(item) if isinstance(item, (str, os.PathLike)) else f"<input {i}>")
            found: list[tuple[list[float], str, np.ndarray]] = []
            try:
                image = load_image(item)
            except ImageReadError as exc:
                res.error, res.readable = str(exc), False
            else:
                found = self.faces_of(image, aligned=aligned)
                if not found:
                    res.error = "no face found"
            pending.append((res, found))
            n_faces += len(found)
            if n_faces >= limit or not n_faces:  # a full batch, or only faceless inputs waiting: out they go
                yield from self._finish(pending)
                pending, n_faces = [], 0
        yield from self._finish(pending)

    def _finish(self, pending: list[tuple[ImageInversion, list[tuple[list[float], str, np.ndarray]]]]
                ) -> Iterator[ImageInversion]:
        crops = [c for _, found in pending for _, _, c in found]
        inverted = self.invert_crops(np.stack(crops)) if crops else []
        k = 0
        for res, found in pending:
            for (box, source, crop), (recon, code) in zip(found, inverted[k : k + len(found)]):
                res.faces.append(InvertedFace(box=box, source=source, aligned=crop, reconstruction=recon, wplus=code))
            k += len(found)
            yield res
