"""genfer.faces detection, landmarks and pipeline on real photos."""

from __future__ import annotations

import collections
import logging
import os
from pathlib import Path

import numpy as np
import pytest

from genfer.faces import (
    Face,
    FaceDetector,
    FaceLandmarker,
    FacePipeline,
    alignment_matrix,
    landmarks_for,
    landmarks_from_keypoints,
    list_images,
    load_image,
    nms,
)

log = logging.getLogger(__name__)

DATA = Path(os.environ.get("GENFER_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def _needs(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs {path} (set GENFER_DATA)")
    return path


@pytest.fixture(scope="module")
def hopper() -> np.ndarray:
    """(600, 512, 3) uint8 RGB portrait shipped with matplotlib."""
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        return load_image(fh.read())


@pytest.fixture(scope="module")
def pipeline() -> FacePipeline:
    with FacePipeline(template="fer2013", size=48, grayscale=True) as pipe:
        yield pipe


def _assert_plausible(face: Face) -> None:
    lm = face.landmarks
    assert lm is not None and lm.shape == (5, 2) and lm.dtype == np.float32
    left_eye, right_eye, nose, mouth_l, mouth_r = lm
    assert left_eye[0] < right_eye[0] and mouth_l[0] < mouth_r[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_l[1], mouth_r[1])
    x, y, w, h = face.box
    assert (lm[:, 0] > x - 0.1 * w).all() and (lm[:, 0] < x + 1.1 * w).all()
    assert (lm[:, 1] > y - 0.1 * h).all() and (lm[:, 1] < y + 1.1 * h).all()


# --------------------------------------------------------------------------- real photos


def test_one_face_with_plausible_landmarks(pipeline: FacePipeline, hopper: np.ndarray) -> None:
    faces = pipeline.faces(hopper)
    assert len(faces) == 1
    face = faces[0]
    assert face.source.startswith("mediapipe") and face.detected and face.score > 0.5
    assert face.landmarks_source == "mesh"
    _assert_plausible(face)
    # eyes of this portrait are near (222, 191) and (306, 188)
    np.testing.assert_allclose(face.landmarks[:2], [[222, 191], [306, 188]], atol=8)
    d = face.to_dict()
    assert d["source"] == face.source and len(d["landmarks"]) == 5 and len(d["box"]) == 4


def test_two_faces_side_by_side(pipeline: FacePipeline, hopper: np.ndarray) -> None:
    two = np.ascontiguousarray(np.hstack([hopper, hopper[:, ::-1]]))
    aligned = pipeline.process(two)
    assert len(aligned) == 2
    a, b = (x.face for x in aligned)
    assert a.area >= b.area
    centres = sorted(f.center[0] for f in (a, b))
    assert centres[0] < 512 < centres[1]
    for x in aligned:
        _assert_plausible(x.face)
        assert x.crop.shape == (48, 48) and x.crop.dtype == np.uint8


def test_group_of_small_faces_uses_tiles(hopper: np.ndarray) -> None:
    grid = np.ascontiguousarray(np.tile(hopper, (3, 3, 1)))  # 9 faces in 1800 x 1536
    faces = FaceDetector().detect(grid)
    assert len(faces) == 9


def test_tight_gray_crop_is_detected(pipeline: FacePipeline, hopper: np.ndarray) -> None:
    crop = hopper[150:330, 160:370]  # face fills the frame
    gray = np.ascontiguousarray(crop.mean(axis=2).astype(np.uint8))
    faces = pipeline.faces(gray)
    assert len(faces) == 1 and faces[0].detected
    _assert_plausible(faces[0])


def test_no_face_square_image_falls_back_to_whole_image_only_without_the_gate(pipeline: FacePipeline) -> None:
    blank = np.full((120, 110, 3), 200, np.uint8)
    assert pipeline.faces(blank) == []  # the face gate: FaceMesh finds no face in a blank image
    ungated = FacePipeline(gate=None, grayscale=True)
    faces = ungated.faces(blank)
    assert len(faces) == 1 and faces[0].source == "whole-image" and not faces[0].detected
    assert faces[0].box == (0.0, 0.0, 110.0, 120.0)
    assert faces[0].landmarks is not None  # template landmarks at least
    assert ungated.process(blank)[0].crop.shape == (48, 48)
    assert ungated.faces(np.full((100, 300, 3), 200, np.uint8)) == []  # not square: nothing
    assert FaceDetector(whole_image_fallback=False).detect(blank) == []


def test_haar_backend(hopper: np.ndarray) -> None:
    faces = FaceDetector(backend="haar").detect(hopper)
    assert len(faces) == 1 and faces[0].source == "haar" and faces[0].landmarks is None
    cx, cy = faces[0].center
    assert 220 < cx < 310 and 170 < cy < 270
    filled = landmarks_for(hopper, faces)
    assert filled[0].landmarks_source == "mesh"
    _assert_plausible(filled[0])


def test_landmark_fallbacks(hopper: np.ndarray) -> None:
    det = FaceDetector().detect(hopper)[0]
    assert det.landmarks_source == "detector"
    _assert_plausible(det)
    no_mesh = FaceLandmarker(use_mesh=False)
    assert no_mesh(hopper, [det])[0].landmarks_source == "detector"
    bare = det.replace(landmarks=None, landmarks_source=None)
    templ = no_mesh(hopper, [bare])[0]
    assert templ.landmarks_source == "template"
    _assert_plausible(templ)
    # detector- and template-based landmarks agree roughly with the mesh (within 15% of the box)
    mesh = landmarks_for(hopper, [bare])[0].landmarks
    tol = 0.15 * det.box[2]
    assert np.abs(det.landmarks - mesh).max() < tol
    assert np.abs(templ.landmarks - mesh).max() < tol


def test_pipeline_finds_the_face_repeatably(hopper: np.ndarray) -> None:
    """End to end on a 350x350 photo, several times on one pipeline (its latency is measured by
    ``benchmarks/throughput.py``, not by a timed test)."""
    pipe = FacePipeline()
    photo = np.ascontiguousarray(hopper[80:430, 80:430])
    first = pipe.process(photo)
    for _ in range(3):
        out = pipe.process(photo)
        assert len(out) == 1 and out[0].crop.shape == (48, 48, 3)
        np.testing.assert_array_equal(out[0].crop, first[0].crop)


# --------------------------------------------------------------------------- units


def test_nms_merges_overlaps_and_nested_boxes() -> None:
    a = Face(box=(0, 0, 100, 100), score=0.9)
    b = Face(box=(10, 10, 100, 100), score=0.8)  # IoU 0.68 with a
    c = Face(box=(20, 20, 30, 30), score=0.95)  # nested inside a
    d = Face(box=(300, 0, 50, 50), score=0.5)
    kept = nms([a, b, c, d])
    assert kept == [c, d]  # c beats a, a would have beaten b
    assert nms([a, b, d]) == [a, d]


def test_landmarks_from_keypoints_geometry() -> None:
    kp = np.array([[100, 100], [160, 100], [130, 130], [130, 170], [80, 120], [180, 120]], float)
    lm = landmarks_from_keypoints(kp)
    assert lm.shape == (5, 2) and lm.dtype == np.float32
    assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]
    np.testing.assert_allclose((lm[3] + lm[4]) / 2, [130, 170], atol=2)  # mouth centre kept
    np.testing.assert_allclose(lm[:, 0] + lm[[1, 0, 2, 4, 3], 0], 260, atol=1e-3)  # symmetric


def test_detector_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="backend"):
        FaceDetector(backend="dlib")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_score"):
        FaceDetector(min_score=2)
    with pytest.raises(ValueError, match="max_faces"):
        FaceDetector(max_faces=0)


# --------------------------------------------------------------------------- shared data


@pytest.mark.data
def test_detection_rate_on_face_photos() -> None:
    """A face is detected (not the whole-image stand-in) in >= 98% of ../shared/data/faces."""
    files = list_images(_needs(DATA / "faces" / "images"))
    assert len(files) >= 100
    detector = FaceDetector()
    sources: collections.Counter[str] = collections.Counter()
    for f in files:
        faces = detector.detect(load_image(f))
        sources[faces[0].source if faces else "none"] += 1
    detected = sum(n for s, n in sources.items() if s not in ("whole-image", "none"))
    rate = detected / len(files)
    log.info("detection on %d face photos: %.1f%% %s", len(files), 100 * rate, dict(sources))
    print(f"\nface photos: {detected}/{len(files)} detected ({100 * rate:.1f}%), by source {dict(sources)}")
    assert rate >= 0.98


@pytest.mark.data
def test_fer2013_template_matches_ferplus_framing() -> None:
    """Aligning FERPlus faces to the fer2013 template is close to the identity transform."""
    import cv2

    files = sorted(_needs(DATA / "ferplus" / "FER2013Valid").glob("fer*.png"))[::60][:40]
    landmarker, detector = FaceLandmarker(), FaceDetector()
    scales, shifts = [], []
    for f in files:
        img = cv2.resize(load_image(f), (192, 192), interpolation=cv2.INTER_CUBIC)
        faces = landmarker(img, detector.detect(img)[:1])
        if faces and faces[0].landmarks_source == "mesh":
            m = alignment_matrix(faces[0].landmarks, template="fer2013", size=192)
            scales.append(np.sqrt(np.linalg.det(m[:, :2])))
            shifts.append((m @ [96, 96, 1] - 96) / 192)  # where the crop centre moves
    assert len(scales) >= 0.9 * len(files)
    assert 0.93 < float(np.median(scales)) < 1.07
    # single faces vary (FER2013's own registration is loose); the template must not be biased
    assert np.abs(np.mean(shifts, axis=0)).max() < 0.02
