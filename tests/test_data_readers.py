"""Dataset readers: tiny fixture layouts per reader, error messages, registry, and the real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genfer.data import (
    DATASETS,
    DatasetLayoutError,
    FaceImages,
    default_split,
    load_affectnet,
    load_ckplus,
    load_csv,
    load_fer2013,
    load_ferplus,
    load_image_folder,
    load_jaffe,
    load_rafdb,
    open_dataset,
)
from genfer.data.folds import fold_mask, subject_folds
from genfer.labels import EMOTIONS, EMOTIONS_7

NEU, HAP, SUR, SAD, ANG, DIS, FEA, CON = range(8)
assert EMOTIONS[CON] == "contempt" and EMOTIONS[ANG] == "anger"


def write_image(path: Path, value: int = 128, size: tuple[int, int] = (8, 8)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", size, value).save(path)
    return path


# --------------------------------------------------------------------------------------- FER2013 CSV


def fer_pixels(seed: int) -> str:
    return " ".join(str((seed + k) % 256) for k in range(48 * 48))


def write_fer2013_csv(path: Path) -> Path:
    rows = [
        (0, "Training"),  # anger
        (3, "Training"),  # happiness
        (6, "PublicTest"),  # neutral
        (5, "PrivateTest"),  # surprise
        (1, "PublicTest"),  # disgust
    ]
    lines = ["emotion,pixels,Usage"] + [f"{code},{fer_pixels(10 * i)},{usage}" for i, (code, usage) in enumerate(rows)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fer2013_csv_splits_and_codes(tmp_path):
    csv_path = write_fer2013_csv(tmp_path / "fer2013.csv")
    train = load_fer2013(tmp_path, "train")
    assert train.classes == EMOTIONS_7
    assert train.labels.tolist() == [ANG, HAP]  # FER2013 code 0 = angry, 3 = happy
    assert train.ids == ["0", "1"]
    assert load_fer2013(tmp_path, "PublicTest").labels.tolist() == [NEU, DIS]  # 6 = neutral, 1 = disgust
    assert load_fer2013(csv_path, "PrivateTest").labels.tolist() == [SUR]  # 5 = surprise; root is the file
    test = load_fer2013(tmp_path, "test")
    assert test.ids == ["2", "3", "4"]
    assert load_fer2013(tmp_path, "valid").ids == ["2", "4"]


def test_fer2013_csv_pixels_decoded_row_major(tmp_path):
    write_fer2013_csv(tmp_path / "fer2013" / "fer2013.csv")  # also found one folder down
    ds = load_fer2013(tmp_path, "train")
    im = ds.image(1)
    assert im.mode == "L" and im.size == (48, 48)
    assert im.getpixel((0, 0)) == 10 and im.getpixel((1, 0)) == 11 and im.getpixel((0, 1)) == 10 + 48
    assert ds.to_array(24).shape == (2, 24, 24)


def test_fer2013_csv_errors(tmp_path):
    (tmp_path / "fer2013.csv").write_text("emotion,pixels\n0," + fer_pixels(0) + "\n")
    with pytest.raises(DatasetLayoutError, match="Usage"):
        load_fer2013(tmp_path, "train")
    (tmp_path / "fer2013.csv").write_text("emotion,pixels,Usage\n0,1 2 3,Training\n")
    with pytest.raises(DatasetLayoutError, match="3 pixel values, expected 2304"):
        load_fer2013(tmp_path, "train")
    (tmp_path / "fer2013.csv").write_text("emotion,pixels,Usage\n9," + fer_pixels(0) + ",Training\n")
    with pytest.raises(DatasetLayoutError, match="emotion code 9"):
        load_fer2013(tmp_path, "train")
    write_fer2013_csv(tmp_path / "fer2013.csv")
    with pytest.raises(DatasetLayoutError, match="unknown split"):
        load_fer2013(tmp_path, "holdout")


# ------------------------------------------------------------------------------------ FER2013 folders


def make_fer2013_folders(root: Path) -> Path:
    write_image(root / "train" / "angry" / "Training_1.jpg")
    write_image(root / "train" / "happy" / "Training_2.jpg")
    write_image(root / "train" / "surprise" / "Training_3.jpg")
    write_image(root / "test" / "sad" / "PublicTest_3.jpg")
    write_image(root / "test" / "sad" / "PrivateTest_4.jpg")
    write_image(root / "test" / "neutral" / "PublicTest_5.jpg")
    write_image(root / "test" / "fear" / "PrivateTest_6.jpg")
    return root


def test_fer2013_folders(tmp_path):
    root = make_fer2013_folders(tmp_path)
    train = load_fer2013(root, "train")
    assert train.ids == ["train/angry/Training_1.jpg", "train/happy/Training_2.jpg", "train/surprise/Training_3.jpg"]
    assert train.labels.tolist() == [ANG, HAP, SUR]
    assert train.paths[0] == root / "train" / "angry" / "Training_1.jpg"
    test = load_fer2013(root, "test")
    assert len(test) == 4
    public = load_fer2013(root, "PublicTest")
    assert public.ids == ["test/neutral/PublicTest_5.jpg", "test/sad/PublicTest_3.jpg"]
    assert public.labels.tolist() == [NEU, SAD]
    private = load_fer2013(root, "PrivateTest")
    assert private.labels.tolist() == [FEA, SAD]
    assert public.image(0).size == (8, 8)


def test_fer2013_folder_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="missing fer2013.csv"):
        load_fer2013(tmp_path, "train")
    write_image(tmp_path / "test" / "sad" / "PublicTest_1.jpg")
    with pytest.raises(DatasetLayoutError, match=r"train/"):
        load_fer2013(tmp_path, "train")
    write_image(tmp_path / "test" / "bored" / "PublicTest_2.jpg")
    with pytest.raises(DatasetLayoutError, match="unknown class folder.*bored"):
        load_fer2013(tmp_path, "test")
    (tmp_path / "test" / "bored" / "PublicTest_2.jpg").unlink()
    (tmp_path / "test" / "bored").rmdir()
    with pytest.raises(DatasetLayoutError, match="no PrivateTest_"):
        load_fer2013(tmp_path, "PrivateTest")


# -------------------------------------------------------------------------------------------- RAF-DB


def make_rafdb(root: Path, *, nested: bool = True, aligned: bool = True) -> Path:
    base = root / "basic" if nested else root
    label_dir = base / "EmoLabel" if nested else base
    label_dir.mkdir(parents=True, exist_ok=True)
    entries = [("train_00001.jpg", 5), ("train_00002.jpg", 1), ("test_0001.jpg", 7), ("test_0002.jpg", 4)]
    (label_dir / "list_patition_label.txt").write_text("".join(f"{n} {c}\n" for n, c in entries))
    for name, _ in entries:
        stem = name[:-4]
        if aligned:
            write_image((base / "Image" / "aligned" if nested else base / "aligned") / f"{stem}_aligned.jpg")
        write_image((base / "Image" / "original" if nested else base / "original") / name, size=(20, 16))
    return root


def test_rafdb_codes_and_splits(tmp_path):
    root = make_rafdb(tmp_path)
    train = load_rafdb(root, "train")  # root holds basic/
    assert train.classes == EMOTIONS_7
    assert train.labels.tolist() == [SAD, SUR]  # RAF-DB 5 = sadness, 1 = surprise
    assert train.ids == ["train_00001.jpg", "train_00002.jpg"]
    assert train.paths[0].name == "train_00001_aligned.jpg"
    test = load_rafdb(root / "basic", "test")
    assert test.labels.tolist() == [NEU, HAP]  # 7 = neutral, 4 = happiness
    assert load_rafdb(root, "test", variant="original").image(0).size == (20, 16)


def test_rafdb_flat_layout_original_names(tmp_path):
    root = make_rafdb(tmp_path, nested=False, aligned=False)
    ds = load_rafdb(root, "test")
    assert [p.parent.name for p in ds.paths] == ["original", "original"]
    assert ds.image(1).size == (20, 16)
    # an aligned/ folder with only some files: the rest fall back to original/
    write_image(root / "aligned" / "test_0002_aligned.jpg")
    ds = load_rafdb(root, "test")
    assert [p.name for p in ds.paths] == ["test_0001.jpg", "test_0002_aligned.jpg"]


def test_rafdb_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="rafdb: missing list_patition_label.txt"):
        load_rafdb(tmp_path, "train")
    (tmp_path / "list_patition_label.txt").write_text("train_00001.jpg 5\n")
    with pytest.raises(DatasetLayoutError, match="missing image folder aligned/ or original/"):
        load_rafdb(tmp_path, "train")
    (tmp_path / "aligned").mkdir()
    with pytest.raises(DatasetLayoutError, match="not found.*train_00001.jpg"):
        load_rafdb(tmp_path, "train")
    (tmp_path / "list_patition_label.txt").write_text("train_00001.jpg 8\n")
    with pytest.raises(DatasetLayoutError, match="code 1..7"):
        load_rafdb(tmp_path, "train")
    with pytest.raises(DatasetLayoutError, match="unknown split"):
        load_rafdb(tmp_path, "valid")


# ----------------------------------------------------------------------------------------- AffectNet

AFFECTNET_HEADER = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"


def affectnet_row(path: str, expression: int, box=(10, 20, 30, 40)) -> str:
    x, y, w, h = box
    return f'{path},{x},{y},{w},{h},"1.0;2.0;3.0;4.0",{expression},0.5,-0.25'


def make_affectnet(root: Path, *, images: str = "Manually_Annotated_Images") -> Path:
    rows = [("1/a.jpg", 0), ("1/b.jpg", 7), ("2/c.jpg", 8), ("2/d.jpg", 9), ("3/e.jpg", 10), ("3/f.jpg", 6), ("4/g.jpg", 2)]
    root.mkdir(parents=True, exist_ok=True)
    (root / "training.csv").write_text(
        AFFECTNET_HEADER + "\n" + "".join(affectnet_row(p, e, (i, 2 * i, 30, 40)) + "\n" for i, (p, e) in enumerate(rows))
    )
    # validation.csv without its header row (seen in some copies)
    (root / "validation.csv").write_text(affectnet_row("5/h.jpg", 3) + "\n" + affectnet_row("5/i.jpg", 4) + "\n")
    image_dir = root / images if images else root
    for p, _ in rows + [("5/h.jpg", 3), ("5/i.jpg", 4)]:
        write_image(image_dir / p, size=(64, 64))
    return root


def test_affectnet_codes_drop_and_boxes(tmp_path):
    root = make_affectnet(tmp_path)
    ds7 = load_affectnet(root, "train", num_classes=7)
    assert ds7.classes == EMOTIONS_7
    assert ds7.ids == ["1/a.jpg", "3/f.jpg", "4/g.jpg"]  # 7 (contempt), 8, 9, 10 dropped
    assert ds7.labels.tolist() == [NEU, ANG, SAD]  # AffectNet 0 = neutral, 6 = anger, 2 = sadness
    np.testing.assert_array_equal(ds7.boxes[1], [5, 10, 30, 40])
    ds8 = load_affectnet(root, "train", num_classes=8)
    assert ds8.classes == EMOTIONS
    assert ds8.labels.tolist() == [NEU, CON, ANG, SAD]  # 7 = contempt
    assert ds8.to_array(16).shape == (4, 16, 16)  # crops the box, then resizes


def test_affectnet_valid_aliases_headerless_and_root_images(tmp_path):
    root = make_affectnet(tmp_path, images="")
    for split in ("valid", "val", "validation"):
        ds = load_affectnet(root, split)
        assert ds.labels.tolist() == [SUR, FEA]  # 3 = surprise, 4 = fear
        assert ds.name == "affectnet7/valid"
    assert ds.paths[0] == root / "5" / "h.jpg"


def test_affectnet_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="missing training.csv"):
        load_affectnet(tmp_path, "train")
    (tmp_path / "training.csv").write_text(AFFECTNET_HEADER.replace(",expression", "") + "\n")
    with pytest.raises(DatasetLayoutError, match="lacks column.*expression"):
        load_affectnet(tmp_path, "train")
    (tmp_path / "training.csv").write_text(AFFECTNET_HEADER + "\n" + affectnet_row("1/a.jpg", 1) + "\n")
    with pytest.raises(DatasetLayoutError, match="Manually_Annotated_Images"):
        load_affectnet(tmp_path, "train")
    with pytest.raises(ValueError, match="7 or 8"):
        load_affectnet(tmp_path, "train", num_classes=10)
    with pytest.raises(DatasetLayoutError, match="unknown split"):
        load_affectnet(tmp_path, "test")


# ----------------------------------------------------------------------------------------------- CK+

CK_SEQUENCES = {  # (subject, sequence) -> CK+ code, or None when the sequence has no emotion label
    ("S005", "001"): 3,  # disgust
    ("S010", "002"): 2,  # contempt
    ("S011", "001"): 5,  # happiness
    ("S022", "003"): 1,  # anger
    ("S022", "004"): None,
}


def make_ckplus(root: Path, frames: int = 5) -> Path:
    for (subject, seq), code in CK_SEQUENCES.items():
        for f in range(1, frames + 1):
            write_image(root / "cohn-kanade-images" / subject / seq / f"{subject}_{seq}_{f:08d}.png", value=f)
        if code is not None:
            label = root / "Emotion" / subject / seq / f"{subject}_{seq}_{frames:08d}_emotion.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text(f"   {float(code):.7e}\n")
    return root


def test_ckplus_peak_frames_and_codes(tmp_path):
    root = make_ckplus(tmp_path)
    ds = load_ckplus(root)
    assert ds.classes == EMOTIONS
    assert len(ds) == 4 * 3
    assert ds.labels.tolist() == [DIS] * 3 + [CON] * 3 + [HAP] * 3 + [ANG] * 3  # CK+ 3, 2, 5, 1
    assert ds.ids[:3] == [f"S005/001/S005_001_{f:08d}.png" for f in (3, 4, 5)]
    assert ds.image(0).getpixel((0, 0)) == 3
    one = load_ckplus(root, peak_frames=1)
    assert one.ids == [f"{s}/{q}/{s}_{q}_00000005.png" for (s, q), c in CK_SEQUENCES.items() if c is not None]


def test_ckplus_neutral_and_contempt_options(tmp_path):
    root = make_ckplus(tmp_path)
    ds = load_ckplus(root, include_neutral=True)
    assert len(ds) == 4 * 4
    assert ds.ids[0] == "S005/001/S005_001_00000001.png" and ds.labels[0] == NEU
    no_con = load_ckplus(root, include_contempt=False)
    assert no_con.classes == EMOTIONS_7
    assert CON not in no_con.labels and len(no_con) == 9


def test_ckplus_subject_folds(tmp_path):
    root = make_ckplus(tmp_path)
    # sorted subjects dealt round-robin: S005 -> 1, S010 -> 2, S011 -> 1, S022 -> 2
    assert subject_folds(["S022", "S005", "S011", "S010"], 2) == {"S005": 1, "S010": 2, "S011": 1, "S022": 2}
    f1, f2 = load_ckplus(root, "fold1of2"), load_ckplus(root, "fold2of2")
    t1 = load_ckplus(root, "train1of2")
    subjects = lambda d: {i.split("/")[0] for i in d.ids}  # noqa: E731
    assert subjects(f1) == {"S005", "S011"} and subjects(f2) == {"S010", "S022"}
    assert sorted(f1.ids + f2.ids) == sorted(load_ckplus(root).ids)
    assert t1.ids == f2.ids and not subjects(t1) & subjects(f1)
    with pytest.raises(DatasetLayoutError, match="1..10"):
        load_ckplus(root, "fold0of10")
    with pytest.raises(DatasetLayoutError, match="at least 10 subjects, found 4"):
        load_ckplus(root, "fold1of10")
    with pytest.raises(DatasetLayoutError, match="unknown split"):
        load_ckplus(root, "train")


def test_ckplus48_folders(tmp_path):
    base = tmp_path / "CK+48"
    names = {"anger": "S010_004_00000017.png", "contempt": "S138_008_00000007.png", "happy": "S011_006_00000013.png",
             "sadness": "S042_002_00000016.png", "surprise": "S005_001_00000009.png"}
    for cls, name in names.items():
        write_image(base / cls / name)
    ds = load_ckplus(tmp_path)
    assert ds.ids == sorted(f"{c}/{n}" for c, n in names.items())
    assert dict(zip(ds.ids, ds.labels.tolist()))["contempt/S138_008_00000007.png"] == CON
    assert dict(zip(ds.ids, ds.labels.tolist()))["sadness/S042_002_00000016.png"] == SAD
    assert len(load_ckplus(base, "fold1of5")) == 1  # five subjects, one each
    assert len(load_ckplus(base, "train1of5")) == 4


def test_ckplus_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="missing cohn-kanade-images/"):
        load_ckplus(tmp_path)
    root = make_ckplus(tmp_path)
    label = root / "Emotion" / "S005" / "001" / "S005_001_00000005_emotion.txt"
    label.write_text("9.0000000e+00\n")
    with pytest.raises(DatasetLayoutError, match="emotion code 9"):
        load_ckplus(root)
    label.write_text("3.0000000e+00\n")
    for frame in (root / "cohn-kanade-images" / "S011" / "001").iterdir():
        frame.unlink()
    with pytest.raises(DatasetLayoutError, match="S011/001 has no frames"):
        load_ckplus(root)
    for f in (root / "Emotion").rglob("*.txt"):
        f.unlink()
    with pytest.raises(DatasetLayoutError, match="no Emotion/"):
        load_ckplus(root)
    import shutil

    shutil.rmtree(root / "Emotion")
    with pytest.raises(DatasetLayoutError, match="missing Emotion/"):
        load_ckplus(root)


# --------------------------------------------------------------------------------------------- JAFFE

JAFFE_FILES = {
    "KA.AN1.39.tiff": ANG,
    "KA.HA2.30.tiff": HAP,
    "KL.NE1.155.tiff": NEU,
    "KM.SU3.16.tiff": SUR,
    "KR.DI1.27.tiff": DIS,
    "KR.FE1.66.tiff": FEA,
    "YM.SA1.55.tiff": SAD,
}


def make_jaffe(folder: Path) -> Path:
    for name in JAFFE_FILES:
        write_image(folder / name)
    (folder / "README").write_text("JAFFE\n")
    return folder


def test_jaffe_codes_and_folds(tmp_path):
    root = make_jaffe(tmp_path)
    ds = load_jaffe(root)
    assert ds.classes == EMOTIONS_7
    assert dict(zip(ds.ids, ds.labels.tolist())) == JAFFE_FILES  # AN = anger, HA = happiness, NE = neutral ...
    assert ds.image(0).size == (8, 8)
    # 5 subjects, 5 folds: leave one subject out, sorted KA KL KM KR YM
    assert load_jaffe(root, "fold1of5").ids == ["KA.AN1.39.tiff", "KA.HA2.30.tiff"]
    assert load_jaffe(root, "fold4of5").ids == ["KR.DI1.27.tiff", "KR.FE1.66.tiff"]
    assert len(load_jaffe(root, "train1of5")) == 5
    assert NEU not in load_jaffe(root, include_neutral=False).labels


def test_jaffe_nested_folder_and_errors(tmp_path):
    make_jaffe(tmp_path / "jaffedbase")
    ds = load_jaffe(tmp_path)
    assert ds.ids[0] == "jaffedbase/KA.AN1.39.tiff" and len(ds) == 7
    write_image(tmp_path / "jaffedbase" / "KA.XX1.40.tiff")
    with pytest.raises(DatasetLayoutError, match="unknown expression code XX"):
        load_jaffe(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetLayoutError, match="jaffe: missing SUBJECT.CODEn.ID"):
        load_jaffe(empty)


def test_fold_mask_requires_subjects():
    assert fold_mask([None, None], "all", "x").all()
    with pytest.raises(DatasetLayoutError, match="subject IDs"):
        fold_mask(["A", None, "B"], "fold1of2", "x")


# ------------------------------------------------------------------------------------ generic readers


def test_image_folder(tmp_path):
    write_image(tmp_path / "happy" / "b.png")
    write_image(tmp_path / "happy" / "a.jpg")
    write_image(tmp_path / "Sad" / "c.png")
    (tmp_path / "happy" / "notes.txt").write_text("x")
    ds = load_image_folder(tmp_path)
    assert ds.classes == EMOTIONS_7
    assert ds.ids == ["Sad/c.png", "happy/a.jpg", "happy/b.png"]
    assert ds.labels.tolist() == [SAD, HAP, HAP]
    write_image(tmp_path / "contempt" / "d.png")
    assert load_image_folder(tmp_path).classes == EMOTIONS


def test_image_folder_split_and_errors(tmp_path):
    write_image(tmp_path / "train" / "fearful" / "a.png")
    write_image(tmp_path / "test" / "neutral" / "b.png")
    assert load_image_folder(tmp_path, "train").labels.tolist() == [FEA]
    assert load_image_folder(tmp_path, "test").ids == ["test/neutral/b.png"]
    with pytest.raises(DatasetLayoutError, match="split folder valid/"):
        load_image_folder(tmp_path, "valid")
    with pytest.raises(DatasetLayoutError, match="unknown class folder.*test, train.*pass split"):
        load_image_folder(tmp_path)
    write_image(tmp_path / "train" / "bored" / "c.png")
    write_image(tmp_path / "train" / "sleepy" / "d.png")
    with pytest.raises(DatasetLayoutError, match="unknown class folder\\(s\\) bored, sleepy"):
        load_image_folder(tmp_path, "train")
    with pytest.raises(DatasetLayoutError, match="missing dataset folder"):
        load_image_folder(tmp_path / "nope")


def test_csv_reader(tmp_path):
    write_image(tmp_path / "imgs" / "b.png")
    write_image(tmp_path / "imgs" / "a.png")
    write_image(tmp_path / "images" / "c.png")  # resolved through images/
    (tmp_path / "labels.csv").write_text(
        "path,label,split\nimgs/b.png,happy,train\nimgs/a.png,7,test\nc.png,3,train\n"
    )
    ds = load_csv(tmp_path)
    assert ds.ids == ["c.png", "imgs/a.png", "imgs/b.png"]  # sorted
    assert ds.labels.tolist() == [SAD, CON, HAP]  # index 3 = sadness, 7 = contempt, 'happy' = happiness
    assert ds.classes == EMOTIONS
    assert ds.paths[0] == tmp_path / "images" / "c.png"
    train = load_csv(tmp_path / "labels.csv", "train")
    assert train.ids == ["c.png", "imgs/b.png"] and train.classes == EMOTIONS_7
    with pytest.raises(DatasetLayoutError, match="no rows with split 'valid'.*test, train"):
        load_csv(tmp_path, "valid")


def test_csv_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="missing labels.csv"):
        load_csv(tmp_path)
    write_image(tmp_path / "a.png")
    (tmp_path / "labels.csv").write_text("name,emo\na.png,happy\n")
    with pytest.raises(DatasetLayoutError, match="no 'path' column.*name, emo"):
        load_csv(tmp_path)
    (tmp_path / "labels.csv").write_text("path,emo\na.png,happy\n")
    with pytest.raises(DatasetLayoutError, match="no 'label' column"):
        load_csv(tmp_path)
    (tmp_path / "labels.csv").write_text("path,label\na.png,happy\nmissing.png,sad\n")
    with pytest.raises(DatasetLayoutError, match="1 image.*not found.*missing.png"):
        load_csv(tmp_path)
    (tmp_path / "labels.csv").write_text("path,label\na.png,bored\n")
    with pytest.raises(DatasetLayoutError, match="unknown emotion label 'bored'"):
        load_csv(tmp_path)
    (tmp_path / "labels.csv").write_text("path,label\na.png,\n")
    assert load_csv(tmp_path).labels.tolist() == [-1]  # empty label: unlabelled
    with pytest.raises(DatasetLayoutError, match="no 'split' column"):
        load_csv(tmp_path, "train")


# -------------------------------------------------------------------------------------------- registry


def test_registry_names_and_default_splits():
    assert set(DATASETS) == {"fer2013", "ferplus", "rafdb", "affectnet7", "affectnet8", "ckplus", "jaffe", "sfew", "mmi",
                             "multipie", "folder", "csv"}
    assert default_split("fer2013") == "PublicTest"
    assert default_split("ferplus") == "valid"
    assert default_split("rafdb") == "test"
    assert default_split("affectnet7") == default_split("affectnet8") == "valid"
    assert default_split("ckplus") == default_split("jaffe") == "all"
    assert default_split("sfew") == "val" and default_split("mmi") == default_split("multipie") == "all"
    assert default_split("folder") is None and default_split("csv") is None
    with pytest.raises(ValueError, match="unknown dataset 'kdef'.*fer2013.*ckplus.*csv"):
        open_dataset("kdef", ".")


def test_registry_opens_each_reader(tmp_path):
    make_fer2013_folders(tmp_path / "fer")
    make_rafdb(tmp_path / "raf")
    make_affectnet(tmp_path / "aff")
    make_ckplus(tmp_path / "ck")
    make_jaffe(tmp_path / "jaffe")
    write_image(tmp_path / "folder" / "happy" / "a.png")
    opened = {
        "fer2013": open_dataset("fer2013", tmp_path / "fer"),
        "rafdb": open_dataset("rafdb", tmp_path / "raf"),
        "affectnet7": open_dataset("affectnet7", tmp_path / "aff", "train"),
        "affectnet8": open_dataset("affectnet8", tmp_path / "aff", "train"),
        "ckplus": open_dataset("ckplus", tmp_path / "ck", include_neutral=True),
        "jaffe": open_dataset("JAFFE", tmp_path / "jaffe", "fold1of5"),
        "folder": open_dataset("folder", tmp_path / "folder"),
    }
    assert all(isinstance(d, FaceImages) and len(d) for d in opened.values())
    assert opened["fer2013"].name == "fer2013/PublicTest"
    assert opened["affectnet8"].classes == EMOTIONS and opened["affectnet7"].classes == EMOTIONS_7
    assert len(opened["ckplus"]) == 16
    with pytest.raises(ValueError, match="rafdb: unknown option.*colour.*variant"):
        open_dataset("rafdb", tmp_path / "raf", colour=True)
    with pytest.raises(DatasetLayoutError, match="ckplus: dataset root does not exist"):
        open_dataset("ckplus", tmp_path / "absent")


# ----------------------------------------------------------------------------------------- real data

FERPLUS_VALID_MAJORITY = 3396  # of 3,579 images in FER2013Valid (183 dropped: tie, or unknown/NF >= top)
FERPLUS_TRAIN_MAJORITY = 26940  # of 28,558 images in FER2013Train


@pytest.mark.data
def test_real_fer2013_folder_sample(data_root):
    root = data_root / "fer2013"
    train = open_dataset("fer2013", root, "train")
    assert train.class_counts() == {c: 100 for c in EMOTIONS_7}
    public = open_dataset("fer2013", root)  # default split: PublicTest
    counts = public.class_counts()
    assert all(counts[c] == 50 for c in EMOTIONS_7 if c != "disgust") and 0 < counts["disgust"] <= 50
    assert all(i.split("/")[-1].startswith("PublicTest_") for i in public.ids)
    assert len(load_fer2013(root, "test")) == len(public)  # PrivateTest is withheld
    im = public.image(0)
    assert im.size == (48, 48) and im.mode == "L"


@pytest.mark.data
def test_real_ferplus_majority(data_root):
    root = data_root / "ferplus"
    valid = open_dataset("ferplus", root)
    assert len(valid) == FERPLUS_VALID_MAJORITY and valid.classes == EMOTIONS
    assert len(load_ferplus(root, "valid", keep_dropped=True)) == 3579
    np.testing.assert_allclose(valid.votes.sum(axis=1), 1.0, rtol=1e-5)
    assert valid.class_counts()["contempt"] > 0
    assert len(load_ferplus(root, "train")) == FERPLUS_TRAIN_MAJORITY  # label.csv only, no pixels
    assert valid.image(0).size == (48, 48)


@pytest.mark.data
def test_real_ferplus_fer2013_labels(data_root):
    valid = open_dataset("ferplus", data_root / "ferplus", "valid", label_source="fer2013")
    assert valid.classes == EMOTIONS_7 and len(valid) == 3579
    counts = valid.class_counts()
    assert counts["happiness"] == 891 and counts["disgust"] == 56
    assert valid.votes is None


@pytest.mark.data
def test_real_faces_csv(data_root):
    faces = open_dataset("csv", data_root / "faces")
    assert len(faces) == 185 and faces.classes == EMOTIONS
    assert faces.class_counts()["contempt"] == 2
    assert faces.image(0).size[0] > 48


def test_subset_accepts_index_list_and_boolean_mask(tmp_path):
    root = make_fer2013_folders(tmp_path)
    ds = load_fer2013(root, "test")
    by_mask = ds.subset(ds.labels == SAD)
    assert by_mask.labels.tolist() == [SAD, SAD] and by_mask.ids == [ds.ids[i] for i in np.flatnonzero(ds.labels == SAD)]
    assert ds.subset([2]).ids == [ds.ids[2]] and ds.subset([2]).image(0).size == (8, 8)
    with pytest.raises(ValueError, match="boolean mask"):
        ds.subset(np.array([True, False]))
