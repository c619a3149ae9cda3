"""The face gate: non-faces are not faces; tight face crops still are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genfer.faces.detect import Face
from genfer.faces.gate import FaceGate
from genfer.faces.pipeline import FacePipeline
from nonfaces import nonface_corpus, synthetic_nonfaces


def test_gate_rules():
    gate = FaceGate(min_score=0.7)
    assert gate.accepts("mediapipe-short", 0.7, True) and gate.accepts("haar", 0.9, True)
    assert not gate.accepts("mediapipe-short", 0.69, True)  # score too low even when FaceMesh agrees
    assert not gate.accepts("mediapipe-full", 0.99, False)  # a confident box FaceMesh does not confirm
    assert gate.accepts("whole-image", 0.0, True) and not gate.accepts("whole-image", 0.0, False)
    assert not FaceGate(whole_image=False).accepts("whole-image", 0.0, True)
    meshed = Face(box=(0, 0, 10, 10), score=0.8, landmarks=np.zeros((5, 2)), landmarks_source="mesh")
    assert gate([meshed, meshed.replace(landmarks_source="detector")]) == [meshed]


class _Stages:
    """A detector stand-in: fixed candidates per stage and a whole-image stand-in."""

    min_score, max_faces = 0.5, 20

    def __init__(self, stages):
        self._stages, self.ran = stages, 0

    def stages(self, image):
        for found in self._stages:
            self.ran += 1
            yield found

    def whole_image_face(self, image):
        return Face(box=(0, 0, 8, 8), score=0.0, source="whole-image")


def _mesh_on(sources):
    """A landmarker stand-in: FaceMesh "finds" the faces whose (source, score) is in ``sources``."""

    def landmark(image, faces):
        return [f.replace(landmarks=np.zeros((5, 2)), landmarks_source="mesh" if (f.source, f.score) in sources
                          else "template") for f in faces]

    return landmark


def _face(source, score, side=4.0):
    return Face(box=(0, 0, side, side), score=score, source=source)


def test_pipeline_takes_the_first_stage_the_gate_keeps_then_the_whole_image_then_nothing():
    image = np.zeros((8, 8, 3), np.uint8)
    stages = [[_face("mediapipe-short", 0.9)], [_face("mediapipe-short", 0.8, 6), _face("haar", 0.75)],
              [_face("haar", 0.95)]]
    detector = _Stages(stages)
    pipe = FacePipeline(detector=detector, landmarker=_mesh_on({("mediapipe-short", 0.8), ("haar", 0.95)}))
    assert [(f.source, f.score) for f in pipe.faces(image)] == [("mediapipe-short", 0.8)]
    assert detector.ran == 2  # the later stages never ran
    pipe = FacePipeline(detector=_Stages(stages), landmarker=_mesh_on({("whole-image", 0.0)}))
    assert [f.source for f in pipe.faces(image)] == ["whole-image"]
    pipe = FacePipeline(detector=_Stages(stages), landmarker=_mesh_on(set()))
    assert pipe.faces(image) == []


def test_nonface_corpus_is_deterministic_and_has_no_people():
    a, b = nonface_corpus(), nonface_corpus()
    assert [n for n, _ in a] == [n for n, _ in b] and all(np.array_equal(x, y) for (_, x), (_, y) in zip(a, b))
    assert all(im.dtype == np.uint8 and im.ndim == 3 and im.shape[2] == 3 for _, im in a)
    assert not any(word in n for n, _ in a for word in ("astronaut", "camera", "lfw", "hopper"))


@pytest.mark.slow
@pytest.mark.data
def test_gate_on_nonfaces_and_faces(data_root):
    """A bounded sample of ``benchmarks/face_gate.py`` (full figures in docs/face-gate.md): no synthetic non-face
    passes, and tight FER2013 crops and the faces/ photos still get a face."""
    pipe = FacePipeline()
    false_faces = [name for name, image in synthetic_nonfaces() if pipe.faces(image)]
    assert false_faces == []
    crops = sorted((data_root / "fer2013" / "test").glob("*/*.jpg"))[::10]
    photos = sorted((data_root / "faces" / "images").glob("*.jpg"))[::6]
    for files in (crops, photos):
        found = sum(bool(pipe.faces(Path(f))) for f in files)
        assert found >= 0.95 * len(files), (found, len(files))
