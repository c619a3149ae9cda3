"""SFEW 2.0, MMI and Multi-PIE readers on small fixture layouts; per-group and duplicate-free evaluation."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genfer.data.base import DatasetLayoutError
from genfer.data.mmi import load_mmi, peak_indices
from genfer.data.multipie import load_multipie, pose_group
from genfer.data.registry import open_dataset
from genfer.data.sfew import load_sfew
from genfer.labels import EMOTIONS


def _png(path: Path, value: int = 0, size: int = 8) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size), value, np.uint8)).save(path)
    return path


# ----------------------------------------------------------------------------- SFEW


def make_sfew(root: Path, nested: bool = False) -> Path:
    for split, n in (("Train", 2), ("Val", 1)):
        base = root / split / f"{split}_Aligned_Faces" if nested else root / split
        for k, cls in enumerate(("Angry", "Happy", "Neutral")):
            for i in range(n):
                _png(base / cls / f"{cls}_{i}.png", 10 * k + i)
    for i in range(2):
        _png(root / "Test" / f"test_{i}.png")
    return root


@pytest.mark.parametrize("nested", [False, True])
def test_sfew_splits_and_labels(tmp_path, nested):
    root = make_sfew(tmp_path / "sfew", nested)
    val = load_sfew(root)  # default: val
    assert val.name == "sfew/val" and len(val) == 3
    assert [EMOTIONS[k] for k in val.labels] == ["anger", "happiness", "neutral"]
    assert len(val.classes) == 7
    assert len(load_sfew(root, "train")) == 6
    test = load_sfew(root, "test")
    assert len(test) == 2 and (test.labels == -1).all()
    assert len(open_dataset("sfew", root)) == 3  # registered, default split val


def test_sfew_errors_are_one_line(tmp_path):
    root = make_sfew(tmp_path / "sfew")
    with pytest.raises(DatasetLayoutError, match="unknown split 'dev'; use train, val or test"):
        load_sfew(root, "dev")
    (root / "Val").rename(root / "Other")
    with pytest.raises(DatasetLayoutError, match=r"missing the val split folder"):
        load_sfew(root)
    _png(root / "Train" / "Contempt" / "c.png")
    with pytest.raises(DatasetLayoutError, match="contempt"):
        load_sfew(root, "train")


# ----------------------------------------------------------------------------- MMI


def make_mmi(root: Path, frames: int = 9, subjects=("S1", "S2", "S3", "S4")) -> Path:
    rows = ["emotion,subject,sequence"]
    for s_i, subject in enumerate(subjects):
        for q, emotion in enumerate(("4", "surprise")):
            seq = f"{subject}_{q}"
            for f in range(frames):
                _png(root / subject / seq / f"frame_{f:03d}.png", f)  # pixel value = frame index
            rows.append(f"{emotion},{subject},{seq}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def test_mmi_first_frame_neutral_and_three_middle_peaks(tmp_path):
    ds = load_mmi(make_mmi(tmp_path / "mmi"))
    assert len(ds) == 4 * 2 * 4  # 4 subjects, 2 sequences, neutral + 3 peaks
    first = [ds.ids[i] for i in range(4)]
    assert first == ["S1/S1_0#0", "S1/S1_0#3", "S1/S1_0#4", "S1/S1_0#5"]  # 9 frames: middle 4, around it 3..5
    assert [EMOTIONS[k] for k in ds.labels[:8]] == ["neutral"] + ["happiness"] * 3 + ["neutral"] + ["surprise"] * 3
    assert np.asarray(ds.image(2))[0, 0] == 4  # the frame the id names
    assert ds.groups[:4] == ["subject S1"] * 4
    last = load_mmi(tmp_path / "mmi", peak="last", include_neutral=False)
    assert last.ids[:3] == ["S1/S1_0#6", "S1/S1_0#7", "S1/S1_0#8"]


def test_peak_indices_never_take_the_neutral_frame():
    assert peak_indices(9, 3, "middle") == [3, 4, 5]
    assert peak_indices(10, 3, "middle") == [4, 5, 6]
    assert peak_indices(3, 3, "middle") == [0, 1, 2]  # too short: everything
    assert peak_indices(4, 3, "middle") == [1, 2, 3]
    assert peak_indices(5, 2, "last") == [3, 4]


def test_mmi_subject_independent_folds(tmp_path):
    root = make_mmi(tmp_path / "mmi")
    f1, f2 = load_mmi(root, "fold1of2"), load_mmi(root, "fold2of2")
    s1 = {i.split("/")[0] for i in f1.ids}
    s2 = {i.split("/")[0] for i in f2.ids}
    assert s1 and s2 and not s1 & s2
    assert sorted(f1.ids + f2.ids) == sorted(load_mmi(root).ids)
    assert {i.split("/")[0] for i in load_mmi(root, "train1of2").ids} == s2


def test_mmi_errors_are_one_line(tmp_path):
    root = make_mmi(tmp_path / "mmi")
    (root / "labels.csv").write_text("emotion,subject,sequence\n9,S1,S1_0\n")
    with pytest.raises(DatasetLayoutError, match=r"row 1: emotion code 9 outside 1..6"):
        load_mmi(root)
    (root / "labels.csv").write_text("happy,S1,missing\n")
    with pytest.raises(DatasetLayoutError, match=r"sequence S1/missing .* has no frames or video"):
        load_mmi(root)
    (root / "labels.csv").unlink()
    with pytest.raises(DatasetLayoutError, match="missing labels.csv"):
        load_mmi(root)


# ----------------------------------------------------------------------------- Multi-PIE


def make_multipie(root: Path) -> Path:
    for subject in ("001", "002", "003"):
        for session, recordings in ((1, (1, 2)), (2, (1, 2, 3)), (4, (3,))):
            for rec in recordings:
                for cam in ("051", "050", "081"):
                    name = f"{subject}_{session:02d}_{rec:02d}_{cam}_07.png"
                    _png(root / "data" / f"session{session:02d}" / "multiview" / subject / f"{rec:02d}" /
                         f"{cam[:2]}_{cam[2]}" / name)
    return root


def test_multipie_expressions_and_pose_groups(tmp_path):
    ds = load_multipie(make_multipie(tmp_path / "mpie"))
    names = sorted({EMOTIONS[k] for k in ds.labels})
    assert names == ["happiness", "neutral", "surprise"]  # squint (2/03) and scream (4/03) dropped
    assert len(ds) == 3 * 4 * 3  # subjects x kept recordings x cameras
    assert sorted(set(ds.groups)) == ["+0° (05_1)", "+15° (05_0)", "08_1"]
    assert pose_group("140") == "-15° (14_0)"
    kept = load_multipie(tmp_path / "mpie", keep_all=True)
    assert len(kept) == 3 * 6 * 3 and (kept.labels == -1).sum() == 3 * 2 * 3
    one_pose = load_multipie(tmp_path / "mpie", cameras="05_1")
    assert set(one_pose.groups) == {"+0° (05_1)"}
    f1, f2 = load_multipie(tmp_path / "mpie", "fold1of3"), load_multipie(tmp_path / "mpie", "fold2of3")
    assert {i.split("/")[3] for i in f1.ids}.isdisjoint({i.split("/")[3] for i in f2.ids})


def test_multipie_errors_are_one_line(tmp_path):
    with pytest.raises(DatasetLayoutError, match="no session01/"):
        load_multipie(_png(tmp_path / "x" / "a.png").parent)
    root = make_multipie(tmp_path / "mpie")
    with pytest.raises(DatasetLayoutError, match="matching --cameras"):
        load_multipie(root, cameras="240")
    _png(root / "data" / "session01" / "001_01_05_051_07.png")
    with pytest.raises(DatasetLayoutError, match="session 01 has no recording 05"):
        load_multipie(root)


# ----------------------------------------------------------------------------- evaluation


class _ConstantRecognizer:
    """Predicts happiness for bright crops (mean > 100) and neutral otherwise; classes: the 8 canonical names."""

    image_size, channels, classes = 8, 1, EMOTIONS

    class loaded:
        name = "constant"

    def predict_crops(self, crops):
        probs = np.zeros((len(crops), 8), np.float32)
        probs[np.arange(len(crops)), np.where(crops.reshape(len(crops), -1).mean(1) > 100, 1, 0)] = 1
        return probs


def test_eval_reports_accuracy_per_group(tmp_path):
    from genfer.evaluate import evaluate_dataset, group_accuracy

    root = tmp_path / "mpie"
    for subject, value in (("001", 200), ("002", 0)):  # 001 bright: read as happiness; 002 dark: neutral
        for rec in (1, 2):
            for cam in ("051", "050"):
                _png(root / "session01" / f"{subject}_01_{rec:02d}_{cam}_07.png", value)
    result = evaluate_dataset(_ConstantRecognizer(), "multipie", root, faces="crop")
    assert result.groups == {"+0° (05_1)": {"n": 4, "accuracy": 0.5}, "+15° (05_0)": {"n": 4, "accuracy": 0.5}}
    assert "per_group" in result.to_dict() and "+15° (05_0)" in result.summary()
    assert group_accuracy(["a", "b", "a"], np.array(["x", "y", "z"]), np.array(["x", "y", "y"])) == {
        "a": {"n": 2, "accuracy": 0.5}, "b": {"n": 1, "accuracy": 1.0}}


def test_eval_drops_exact_pixel_duplicates_of_another_split(tmp_path):
    from genfer.evaluate import evaluate_dataset

    root = tmp_path / "folder"
    for i, value in enumerate((10, 20, 30)):
        _png(root / "train" / "neutral" / f"t{i}.png", value)
    for i, value in enumerate((10, 11, 30, 40)):  # 10 and 30 are copies of training images; 11 is close, not equal
        _png(root / "valid" / "neutral" / f"v{i}.png", value)
    result = evaluate_dataset(_ConstantRecognizer(), "folder", root, "valid", faces="crop",
                              exclude_duplicates_of="train")
    assert result.duplicates == {"of": "train", "before": 4, "dropped": 2}
    assert result.report.n == 2
    assert "dropped 2 of 4 faces that are pixel copies of train" in result.summary()
    assert evaluate_dataset(_ConstantRecognizer(), "folder", root, "valid", faces="crop").report.n == 4
