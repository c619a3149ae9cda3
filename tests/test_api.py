"""genfer.Recognizer: every input kind, faces and errors reported per image."""

import numpy as np
import pytest
from PIL import Image

from genfer import Recognizer
from genfer.io import CheckpointError


@pytest.fixture(scope="module")
def rec(tiny_model):
    return Recognizer(tiny_model)


def test_path_array_pil_and_list_inputs_agree(rec, sample_photo):
    arr = np.asarray(Image.open(sample_photo).convert("RGB"))
    by_path = rec(str(sample_photo))[0]
    by_array = rec(arr)[0]
    by_pil = rec(Image.open(sample_photo))[0]
    listed = rec([sample_photo, arr])
    assert len(by_path.faces) == 1 and by_path.error is None
    face = by_path.faces[0]
    assert face.label in rec.classes and len(face.landmarks) == 5 and len(face.box) == 4
    assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    for other in (by_array, by_pil, listed[0], listed[1]):
        assert other.faces[0].probabilities == pytest.approx(face.probabilities, abs=1e-5)
    assert by_array.path == "<input 0>" and listed[1].path == "<input 1>"


def test_folder_expands_sorted_and_bad_images_are_reported(rec, tmp_path, sample_photo):
    (tmp_path / "b.jpg").write_bytes(sample_photo.read_bytes())
    (tmp_path / "a_corrupt.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    Image.new("RGB", (400, 100), (128, 128, 128)).save(tmp_path / "c_blank.png")  # wide: no face, no fallback
    results = rec(tmp_path)
    assert [r.path.rsplit("/", 1)[-1] for r in results] == ["a_corrupt.jpg", "b.jpg", "c_blank.png"]
    assert results[0].readable is False and "corrupt" in results[0].error and results[0].faces == []
    assert results[1].error is None and len(results[1].faces) == 1
    assert results[2].readable and results[2].error == "no face found" and results[2].faces == []


def test_aligned_crops_and_predict_crops(rec):
    crops = np.random.default_rng(0).integers(0, 255, (5, 48, 48), dtype=np.uint8)
    probs = rec.predict_crops(crops)
    assert probs.shape == (5, len(rec.classes)) and np.allclose(probs.sum(1), 1, atol=1e-5)
    res = rec([crops[0]], aligned=True)[0]
    assert res.faces[0].source == "aligned" and res.faces[0].box == [0.0, 0.0, 48.0, 48.0]
    rgb = np.repeat(crops[..., None], 3, axis=-1)
    assert np.allclose(rec.predict_crops(rgb), probs, atol=1e-5)


def test_missing_model_and_corrupt_weights_are_clear_errors(tmp_path, tiny_model):
    with pytest.raises(CheckpointError, match="no model 'nope'"):
        Recognizer("nope")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text((tiny_model / "config.json").read_text())
    (bad / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        Recognizer(bad)
