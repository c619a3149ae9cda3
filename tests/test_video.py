"""Videos: frame sampling, IoU/landmark tracking, smoothing, drawing, and ``genfer recognize|neutralize clip.mp4``."""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import assert_user_error, run_cli
from genfer.video.decode import count_sampled, read_frames, sampled_indices, video_info
from genfer.video.smooth import TrackSmoother
from genfer.video.synthetic import id_switches, match_tracks, write_clip
from genfer.video.track import FaceTracker, iou_matrix

pytestmark = pytest.mark.usefixtures("one_thread")

EMOTIONS = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]


# ---------------------------------------------------------------- pieces, against hand-computed values

def test_iou_matrix_by_hand():
    a = np.array([[0, 0, 2, 2], [10, 10, 1, 1]])
    b = np.array([[1, 1, 2, 2], [0, 0, 2, 2]])
    np.testing.assert_allclose(iou_matrix(a, b), [[1 / 7, 1.0], [0.0, 0.0]])


def test_sampling_every_and_fps():
    keep = sampled_indices(25.0, every=3)
    assert [i for i, k in zip(range(10), keep) if k] == [0, 3, 6, 9]
    keep = sampled_indices(25.0, target_fps=10)  # times 0, .12, .20, .32, .40: the first at or after k/10 s
    assert [i for i, k in zip(range(11), keep) if k] == [0, 3, 5, 8, 10]
    keep = sampled_indices(10.0, target_fps=50)  # above the video's rate: every frame once
    assert all(next(keep) for _ in range(5))
    with pytest.raises(ValueError):
        next(sampled_indices(25.0, every=0))


def test_tracker_keeps_ids_through_motion_order_and_jumps():
    tracker = FaceTracker(iou_threshold=0.3, max_distance=0.8, max_age=1)
    assert tracker.update([[0, 0, 10, 10], [50, 0, 10, 10]]) == [1, 2]
    assert tracker.update([[52, 0, 10, 10], [1, 0, 10, 10]]) == [2, 1]  # order of detection does not matter
    assert tracker.update([[5, 0, 10, 10]]) == [1]  # IoU 60 / 140 = 0.43 >= 0.3
    assert tracker.update([[12, 0, 10, 10]]) == [1]  # IoU 30 / 170 = 0.18, but the centre moved 0.7 <= 0.8 faces
    assert tracker.update([[30, 0, 10, 10]]) == [3]  # 1.8 face sizes away: a new face
    tracker.update([])
    tracker.update([])  # track 3 unseen for 2 > max_age frames: gone
    assert tracker.update([[30, 0, 10, 10]]) == [4]


def test_tracker_uses_landmarks_when_boxes_do_not_overlap():
    tracker = FaceTracker(iou_threshold=0.9, max_distance=0.3)
    lm = [[[2, 3], [8, 3], [5, 5], [3, 8], [7, 8]]]
    assert tracker.update([[0, 0, 10, 10]], lm) == [1]
    moved = [[[p[0] + 2, p[1]] for p in lm[0]]]  # 0.2 face sizes: same face although IoU 0.67 < 0.9
    assert tracker.update([[2, 0, 10, 10]], moved) == [1]
    far = [[[p[0] + 6, p[1]] for p in lm[0]]]
    assert tracker.update([[8, 0, 10, 10]], far) == [2]


def test_tracker_does_not_join_two_different_faces():
    rng = np.random.default_rng(0)
    face_a, face_b = rng.integers(0, 256, (2, 48, 48), dtype=np.uint8)
    tracker = FaceTracker()
    assert tracker.update([[0, 0, 10, 10]], crops=[face_a]) == [1]
    assert tracker.update([[0, 0, 10, 10]], crops=[face_a // 2 + 20]) == [1]  # darker: correlation 1
    assert tracker.update([[0, 0, 10, 10]], crops=[face_b]) == [2]  # same place, another face (a cut)


def test_smoother_is_a_moving_average_per_track():
    smooth = TrackSmoother(2, forget=1)
    np.testing.assert_allclose(smooth(1, np.array([1.0, 0.0])), [1.0, 0.0])
    np.testing.assert_allclose(smooth(2, np.array([0.2, 0.8])), [0.2, 0.8])
    smooth.step()
    np.testing.assert_allclose(smooth(1, np.array([0.0, 1.0])), [0.5, 0.5])
    smooth.step()
    np.testing.assert_allclose(smooth(1, np.array([0.0, 1.0])), [0.0, 1.0])  # window 2: the first has left
    smooth.step()
    smooth.step()
    np.testing.assert_allclose(smooth(2, np.array([1.0, 0.0])), [1.0, 0.0])  # track 2 was forgotten


def test_draw_frame_puts_the_extra_image_beside_the_box():
    from genfer.api import FaceResult
    from genfer.video.draw import draw_frame
    from genfer.video.recognize import TrackedFace

    face = FaceResult(box=[10, 20, 30, 30], landmarks=None, label="neutral",
                      probabilities=dict.fromkeys(EMOTIONS, 0.125), source="haar")
    frame = np.zeros((80, 120, 3), np.uint8)
    drawn = draw_frame(frame, [TrackedFace(track=7, face=face, crop=None, extra=np.full((4, 4), 255, np.uint8))],
                       beside=True)
    assert (drawn[25:45, 48:66] == 255).all()  # the tile: 30 x 30 from x = 10 + 30 + 4
    assert (drawn[60:, 90:] == 0).all()


# ---------------------------------------------------------------- a clip with known tracks

@pytest.fixture(scope="module")
def face_photos():
    """Face crops of the packaged photos (Grace Hopper cropped to her face; genfer's generated smile), mirrored too."""
    from genfer.faces.io import load_image

    hopper = load_image(Path(str(resources.files("matplotlib") / "mpl-data" / "sample_data" / "grace_hopper.jpg")))
    hopper = hopper[60:400, 90:430]
    smile = load_image(Path(str(resources.files("genfer") / "assets" / "samples" / "generated_smile.png")))
    return [hopper, smile, np.ascontiguousarray(hopper[:, ::-1]), np.ascontiguousarray(smile[:, ::-1])]


@pytest.fixture(scope="module")
def clip(face_photos, tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    truth = write_clip(path, face_photos, seconds=1.6, fps=10, size=(320, 240), faces_per_scene=2,
                       scene_seconds=0.8, face_size=110, seed=3)
    return path, truth


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_clip_decodes_with_its_truth(clip):
    path, truth = clip
    info = video_info(path)
    assert (info.frames, info.width, info.height, info.fps) == (16, 320, 240, 10.0)
    assert truth.tracks == 4 and count_sampled(info, every=5) == 4
    assert [f.index for f in read_frames(path, every=5)] == [0, 5, 10, 15]


def test_recognize_video_csv_tracks_annotation_timeline(clip, capsys, tmp_path):
    path, truth = clip
    code, out, _ = run_cli(capsys, "recognize", str(path), "--csv", str(tmp_path / "t.csv"), "--annotate",
                           str(tmp_path / "a.mp4"), "--timeline", str(tmp_path / "t.png"), "--json")
    assert code == 0
    record = json.loads(out)["results"][0]
    rows = read_csv(tmp_path / "t.csv")
    assert list(rows[0])[:4] == ["path", "frame", "time", "track"] and set(EMOTIONS) <= set(rows[0])
    assert record["processed"] == 16 and record["faces"] == len(rows)
    assert len(rows) >= 0.9 * sum(len(b) for b in truth.boxes)  # nearly every face found
    found: dict[int, list] = {}
    for r in rows:
        found.setdefault(int(r["frame"]), []).append((int(r["track"]), [float(r[k]) for k in "xywh"]))
        assert abs(sum(float(r[e]) for e in EMOTIONS) - 1) < 1e-3 and r["label"] in EMOTIONS
    ids = match_tracks(truth, found)
    assert len(ids) == 4 and id_switches(ids) == 0
    assert len({i for v in ids.values() for i in v}) == 4  # four true tracks, four ids
    assert len(record["tracks"]) == 4
    assert video_info(tmp_path / "a.mp4").frames == 16
    assert Image.open(tmp_path / "t.png").size[0] > 500


def test_every_and_smoothing(clip, capsys, tmp_path):
    path, _ = clip
    for name, extra in (("every", ["--every", "4"]), ("smooth", ["--smooth", "3"]), ("raw", [])):
        code, _, _ = run_cli(capsys, "recognize", str(path), "--csv", str(tmp_path / f"{name}.csv"), *extra)
        assert code == 0
    every = read_csv(tmp_path / "every.csv")
    assert sorted({int(r["frame"]) for r in every}) == [0, 4, 8, 12]
    raw, smooth = read_csv(tmp_path / "raw.csv"), read_csv(tmp_path / "smooth.csv")
    track = raw[0]["track"]
    p_raw = np.array([[float(r[e]) for e in EMOTIONS] for r in raw if r["track"] == track])
    p_smooth = np.array([[float(r[e]) for e in EMOTIONS] for r in smooth if r["track"] == track])
    np.testing.assert_allclose(p_smooth[2], p_raw[:3].mean(0), atol=2e-5)  # the window's mean (rounded CSV values)


def test_python_api_records_and_frame(clip):
    pd = pytest.importorskip("pandas")
    from genfer.api import Recognizer
    from genfer.video.recognize import VideoRecognizer

    rec = Recognizer()
    frames = list(VideoRecognizer(rec, every=6).iter_frames(clip[0]))
    table = Recognizer.to_frame(frames)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns[:4]) == ["path", "frame", "time", "track"] and set(EMOTIONS) <= set(table.columns)
    assert table.to_dict("records") == Recognizer.to_records(frames)


def test_neutralize_video_draws_poker_faces(clip, capsys, tmp_path):
    path, _ = clip
    code, out, _ = run_cli(capsys, "neutralize", str(path), "--annotate", str(tmp_path / "n.mp4"), "--every", "6",
                           "--json")
    assert code == 0
    record = json.loads(out)["results"][0]
    assert record["processed"] == 3 and record["faces"] >= 5 and video_info(tmp_path / "n.mp4").frames == 3


def test_photo_csv_reads_into_pandas(capsys, tmp_path, sample_photo):
    pd = pytest.importorskip("pandas")
    from genfer.api import Recognizer

    code, _, _ = run_cli(capsys, "recognize", str(sample_photo), str(sample_photo.parent), "--csv",
                         str(tmp_path / "p.csv"))
    assert code == 0
    table = pd.read_csv(tmp_path / "p.csv")
    assert list(table.columns[:2]) == ["path", "face"] and set(EMOTIONS) <= set(table.columns)
    expected = Recognizer.to_frame(Recognizer()([sample_photo]))
    first = table[table["path"] == str(sample_photo)].reset_index(drop=True)
    pd.testing.assert_frame_equal(first[expected.columns], expected, check_dtype=False, atol=1e-4)


def test_video_user_errors(clip, capsys, tmp_path, sample_photo):
    path, _ = clip
    assert_user_error(*run_cli(capsys, "recognize", str(path), str(sample_photo))[::2], "videos or photos")
    assert_user_error(*run_cli(capsys, "recognize", str(sample_photo), "--every", "2")[::2], "--every")
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    code, out, err = run_cli(capsys, "recognize", str(fake), "--json")
    assert code == 2 and "cannot read video" in json.loads(out)["results"][0]["error"]
    assert_user_error(*run_cli(capsys, "neutralize", str(sample_photo))[::2], "--out")
