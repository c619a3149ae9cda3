"""genfer.faces.align: similarity estimation (Umeyama), crop templates, warping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genfer.faces import (
    TEMPLATES,
    CropTemplate,
    align_face,
    alignment_matrix,
    crop_box,
    estimate_similarity,
    get_template,
    to_opencv_matrix,
    warp_crop,
)

SRC = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, 3.0], [-1.0, 2.0]])


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


@pytest.mark.parametrize("method", ["umeyama", "lmeds"])
def test_rotation_90_scale_2_by_hand(method: str) -> None:
    # dst = 2 * R(90 deg) @ src + (5, -3), R(90) = [[0, -1], [1, 0]]: (x, y) -> (-2y + 5, 2x - 3)
    dst = np.stack([-2 * SRC[:, 1] + 5, 2 * SRC[:, 0] - 3], axis=1)
    expected = np.array([[0.0, -2.0, 5.0], [2.0, 0.0, -3.0]])
    np.testing.assert_allclose(estimate_similarity(SRC, dst, method=method), expected, atol=1e-6)


def test_umeyama_matches_linear_least_squares_on_noisy_points() -> None:
    rng = np.random.default_rng(0)
    src = rng.normal(size=(5, 2)) * 30 + 100
    angle, scale = 0.4, 0.7
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    dst = scale * src @ rot.T + np.array([10.0, -4.0]) + rng.normal(size=(5, 2))
    # a similarity is linear in (a, b, tx, ty): x' = a x - b y + tx, y' = b x + a y + ty
    rows = []
    for x, y in src:
        rows += [[x, -y, 1, 0], [y, x, 0, 1]]
    a, b, tx, ty = np.linalg.lstsq(np.array(rows), dst.reshape(-1), rcond=None)[0]
    expected = np.array([[a, -b, tx], [b, a, ty]])
    np.testing.assert_allclose(estimate_similarity(src, dst), expected, atol=1e-8)


def test_no_reflection_for_mirrored_points() -> None:
    dst = SRC * np.array([-1.0, 1.0])
    m = estimate_similarity(SRC, dst)
    assert np.linalg.det(m[:, :2]) > 0


def test_degenerate_and_bad_shapes() -> None:
    with pytest.raises(ValueError, match="degenerate"):
        estimate_similarity(np.ones((5, 2)), SRC)
    with pytest.raises(ValueError):
        estimate_similarity(SRC[:, :1], SRC[:, :1])
    with pytest.raises(ValueError):
        estimate_similarity(SRC, SRC[:4])
    with pytest.raises(ValueError, match="method"):
        estimate_similarity(SRC, SRC, method="ransac")  # type: ignore[arg-type]


def test_templates_are_sane() -> None:
    assert set(TEMPLATES) == {"fer2013", "gen"}
    for t in TEMPLATES.values():
        p = np.asarray(t.points)
        assert p[0, 0] < 0.5 < p[1, 0] and p[3, 0] < 0.5 < p[4, 0]  # left before right
        assert p[:2, 1].max() < p[2, 1] < p[3:, 1].min()  # eyes above nose above mouth
        np.testing.assert_allclose(p[:, 0] + p[[1, 0, 2, 4, 3], 0], 1.0, atol=1e-3)  # symmetric
    gen = np.asarray(TEMPLATES["gen"].points)
    assert gen[:2, 1].mean() == pytest.approx(0.40, abs=0.01)
    assert gen[3:, 1].mean() == pytest.approx(0.72, abs=0.01)
    assert get_template("gen") is TEMPLATES["gen"]
    with pytest.raises(ValueError, match="unknown crop template"):
        get_template("ffhq")
    with pytest.raises(ValueError):
        CropTemplate(name="bad", points=((0.1, 0.1),) * 4)


def test_opencv_matrix_convention() -> None:
    np.testing.assert_allclose(to_opencv_matrix(np.eye(2, 3)), np.eye(2, 3))
    # continuous x' = 2 x  <=>  pixel centres: q + 0.5 = 2 (p + 0.5)  <=>  q = 2 p + 0.5
    np.testing.assert_allclose(to_opencv_matrix(np.array([[2.0, 0, 0], [0, 2.0, 0]]))[:, 2], [0.5, 0.5])


def _blob_image(points: np.ndarray, shape: tuple[int, int], sigma: float = 3.0) -> np.ndarray:
    """Gaussian blobs centred on continuous coordinates (pixel (i, j) has centre (i + .5, j + .5))."""
    ys, xs = np.indices(shape) + 0.5
    img = np.zeros(shape)
    for x, y in points:
        img += np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2))
    return np.repeat((img / img.max() * 255).round().astype(np.uint8)[:, :, None], 3, axis=2)


@pytest.mark.parametrize("template", ["fer2013", "gen"])
def test_align_face_puts_landmarks_on_template(template: str) -> None:
    size = 96
    target = get_template(template).points_px(size)
    # place the landmarks in a 400x300 image by a known similarity (rotate 25 deg, scale 2.5)
    ang, s = math.radians(25), 2.5
    rot = s * np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
    landmarks = (target - size / 2) @ rot.T + np.array([200.3, 150.7])
    img = _blob_image(landmarks, (300, 400))
    crop = align_face(img, landmarks, template=template, size=size, grayscale=True)
    assert crop.shape == (size, size) and crop.dtype == np.uint8
    for u, v in target:  # brightness centroid of each blob lands on its template point
        x0, y0 = int(u) - 4, int(v) - 4
        patch = crop[y0 : y0 + 9, x0 : x0 + 9].astype(np.float64)
        patch = np.clip(patch - 20, 0, None)  # ignore the tails of neighbouring blobs
        ys, xs = np.indices(patch.shape) + 0.5
        cu, cv = (patch * xs).sum() / patch.sum() + x0, (patch * ys).sum() / patch.sum() + y0
        assert abs(cu - u) < 0.1 and abs(cv - v) < 0.1, (u, v, cu, cv)
    m = alignment_matrix(landmarks, template=template, size=size)
    np.testing.assert_allclose(_apply(m, landmarks), target, atol=1e-6)
    assert align_face(img, landmarks, template=template, size=size).shape == (size, size, 3)


def test_align_face_rejects_bad_landmarks() -> None:
    with pytest.raises(ValueError, match=r"\(5, 2\)"):
        align_face(np.zeros((10, 10, 3), np.uint8), np.zeros((4, 2)))


def test_crop_box_centre_and_shape() -> None:
    img = np.zeros((200, 300, 3), np.uint8)
    img[95:105, 145:155] = 255  # bright square centred at continuous (150, 100)
    crop = crop_box(img, (120.0, 70.0, 60.0, 60.0), 64, margin=0.25, grayscale=True)
    assert crop.shape == (64, 64)
    ys, xs = np.nonzero(crop > 128)
    assert abs(xs.mean() - 31.5) < 1 and abs(ys.mean() - 31.5) < 1
    # the square is 10 px of a 90 px window -> about 7 px of 64
    assert 5 <= xs.max() - xs.min() + 1 <= 9
    # border replicate: a box hanging off the image still gives a full crop
    assert crop_box(img, (-50.0, -50.0, 100.0, 100.0), 32).shape == (32, 32, 3)


def test_strong_downscaling_is_antialiased() -> None:
    checker = (np.indices((480, 480)).sum(axis=0) % 2 * 255).astype(np.uint8)
    img = np.repeat(checker[:, :, None], 3, axis=2)
    m = np.array([[0.1, 0.0, 0.0], [0.0, 0.1, 0.0]])
    out = warp_crop(img, m, 48, grayscale=True)
    assert out.shape == (48, 48)
    assert abs(float(out.mean()) - 127.5) < 3 and float(out.std()) < 5
