"""The face gate: which candidate faces are faces.

A candidate (a detector box, or the whole-image stand-in for an undetected, roughly square image taken as one
tight face crop) is kept only when an independent check agrees: FaceMesh, run by
:class:`~genfer.faces.landmarks.FaceLandmarker` on the image padded around the box, finds a face there
(``landmarks_source == "mesh"``). A detector box also needs a detector score of at least ``min_score``.
:class:`~genfer.faces.pipeline.FacePipeline` applies the gate stage by stage: the first detection stage with a
face the gate keeps wins, else the whole-image stand-in if the gate keeps it, else no face.

Calibrated on a non-face corpus (flat colours, noise, gradients, textures, objects and animals) against the
``faces/`` photos and tight FER2013 crops: ``benchmarks/face_gate.py``, figures in ``docs/face-gate.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .detect import Face

__all__ = ["FaceGate"]


@dataclass(frozen=True)
class FaceGate:
    """Accept or reject candidate faces whose landmarks the landmarker has filled in.

    Args (keyword-only):
        min_score: the detector score a box needs (MediaPipe confidence; Haar's heuristic score).
        whole_image: accept the whole-image stand-in when the face check passes (False: never).
    """

    min_score: float = 0.7
    whole_image: bool = True

    @staticmethod
    def face_check(face: Face) -> bool:
        """The independent check: FaceMesh found a face around this candidate."""
        return face.landmarks_source == "mesh"

    def accepts(self, source: str, score: float, checked: bool) -> bool:
        """Whether a candidate from ``source`` with detector ``score`` and face check result ``checked`` is a face."""
        if source == "whole-image":
            return self.whole_image and checked
        return checked and score >= self.min_score

    def accept(self, face: Face) -> bool:
        """Whether ``face`` (landmarks filled in) is a face."""
        return self.accepts(face.source, face.score, self.face_check(face))

    def __call__(self, faces: list[Face]) -> list[Face]:
        return [f for f in faces if self.accept(f)]
