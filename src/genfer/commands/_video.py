"""Videos in ``genfer recognize`` and ``genfer neutralize``, and the ``--csv`` table of photos.

    genfer recognize clip.mp4 [--every N | --fps F] [--smooth K] [--annotate out.mp4] [--csv out.csv] [--timeline t.png]
    genfer neutralize clip.mp4 --annotate out.mp4                 # the poker face beside each tracked face

A video's ``--json`` result is ``{"path", "video": {"fps", "frames", "width", "height"}, "processed", "faces",
"tracks": [{"track", "first", "last", "frames", "label"}], "csv", "annotated", "timeline", "error"}`` (times in
seconds; a track's ``label`` is its most frequent one); the per-frame, per-face rows go to ``--csv``
(:data:`genfer.tables.VIDEO_KEYS`, box, label, source, score, one column per emotion). Several videos share one
CSV (its ``path`` column tells them apart); ``--annotate``/``--timeline`` are then folders.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Sequence

from genfer.commands._common import (Results, UserError, check_batch_size, expand_or_fail, finish, progress_bar,
                                     setup_threads)

VIDEO_ONLY = ("every", "fps", "smooth", "timeline")
"""Options that only mean something for videos."""


def add_video_options(p: argparse.ArgumentParser, *, annotate: bool) -> None:
    """``--every``/``--fps``, ``--smooth``, ``--timeline``, ``--csv`` (and ``--annotate`` when the command has none)."""
    g = p.add_argument_group("videos (.mp4, .avi, .mov, .mkv, .webm, ...)")
    rate = g.add_mutually_exclusive_group()
    rate.add_argument("--every", type=int, metavar="N", help="process every N-th frame (default: every frame)")
    rate.add_argument("--fps", type=float, metavar="F", help="process about F frames per second")
    g.add_argument("--smooth", type=int, default=1, metavar="K",
                   help="average each track's probabilities over its last K processed frames (default 1: none)")
    g.add_argument("--timeline", metavar="PNG", help="plot each track's emotions over time (a folder for several videos)")
    g.add_argument("--csv", metavar="OUT.csv", help="one row per face (per processed frame for videos): path (frame, "
                                                   "time, track), box, label, source, score, one column per emotion")
    if annotate:
        g.add_argument("--annotate", metavar="OUT.mp4", help="write the video with the tracked faces drawn (a folder "
                                                            "for several videos)")


def any_video(items: Sequence[Any]) -> bool:
    from genfer.video import is_video

    return any(is_video(i) for i in items)


def reject_video_options(args: argparse.Namespace, *extra: str) -> None:
    """A :class:`UserError` naming the video-only options (and ``extra`` ones) given for photos."""
    given = [f"--{name}" for name in (*VIDEO_ONLY, *extra) if getattr(args, name, None) not in (None, 1)]
    if given:
        raise UserError(f"{', '.join(given)} apply to videos only")


def photo_table(args: argparse.Namespace, classes: Sequence[str]) -> Any:
    """The ``--csv`` table of a photo command (writes nothing without ``--csv``); video-only options are errors."""
    from genfer.tables import CsvTable, table_columns

    reject_video_options(args)
    return CsvTable(getattr(args, "csv", None), table_columns(classes))


def neutralize_videos(args: argparse.Namespace) -> int:
    """``genfer neutralize clip.mp4 --annotate out.mp4``: PF-ViT's recognition per tracked face, its poker face drawn
    beside it."""
    from genfer.pipelines.neutralize import Neutralizer

    if args.method != "pfvit" or args.all or args.aligned:
        raise UserError("videos take neither --method latent, --all nor --aligned")
    setup_threads(args)
    neu = Neutralizer(args.model, detector=args.detector, batch_size=check_batch_size(args), precision=args.precision)

    def poker_faces(crops: Any) -> list:
        return [f.poker_face for f in neu.neutralize_crops(crops, poker_only=True)]

    return run_videos(args, "neutralize", expand_or_fail(args.paths), neu.recognizer, extra=poker_faces)


def _output(value: str | None, video: Path, *, many: bool, suffix: str) -> Path | None:
    """``--annotate``/``--timeline`` for one video: the file named, or ``<folder>/<video stem><suffix>``."""
    if value is None:
        return None
    path = Path(value)
    if many or path.is_dir() or not path.suffix:
        return path / f"{video.stem}{suffix}"
    return path


def _track_summaries(counts: dict[int, Counter], spans: dict[int, list[float]]) -> list[dict[str, Any]]:
    return [{"track": t, "first": round(spans[t][0], 3), "last": round(spans[t][1], 3),
             "frames": sum(counts[t].values()), "label": counts[t].most_common(1)[0][0]} for t in sorted(counts)]


def run_videos(args: argparse.Namespace, command: str, items: Sequence[Any], recognizer: Any, *,
               extra: Callable[[Any], list] | None = None) -> int:
    """Process every video of ``items`` (all must be videos), print the results, return the exit code."""
    from genfer.tables import VIDEO_KEYS, CsvTable, table_columns
    from genfer.video import is_video
    from genfer.video.decode import count_sampled, video_info
    from genfer.video.draw import AnnotatedVideo, draw_frame
    from genfer.video.recognize import VideoRecognizer
    from genfer.video.timeline import Timeline

    if not all(is_video(i) for i in items):
        raise UserError("give either videos or photos, not both (run the command once for each)")
    videos = [Path(i) for i in items]
    many = len(videos) > 1
    every = args.every or 1
    reader = VideoRecognizer(recognizer, every=every, fps=args.fps, smooth=args.smooth, extra=extra)
    out = Results(args)
    with CsvTable(args.csv, table_columns(recognizer.classes, VIDEO_KEYS)) as table:
        for path in videos:
            try:
                info = video_info(path)
            except ValueError as exc:
                out.add({"path": str(path), "error": str(exc)}, [f"{path.name}: {exc}"], unreadable=str(exc))
                continue
            annotated = _output(args.annotate, path, many=many, suffix=".mp4")
            plot = _output(args.timeline, path, many=many, suffix="_timeline.png")
            timeline = Timeline(recognizer.classes)
            counts: dict[int, Counter] = {}
            spans: dict[int, list[float]] = {}
            processed = faces = 0
            rate = min(args.fps, info.fps) if args.fps else info.fps / every
            writer = AnnotatedVideo(annotated, fps=rate, size=(info.width, info.height)) if annotated else None
            with progress_bar(args, count_sampled(info, every=every, fps=args.fps) or 0, "frame") as bar:
                for frame in reader.iter_frames(path):
                    table.add(frame)
                    if writer:
                        writer.write(draw_frame(frame.image, frame.faces, beside=extra is not None))
                    for f in frame.faces:
                        timeline.add(f.track, frame.time, f.face.probabilities)
                        counts.setdefault(f.track, Counter())[f.face.label] += 1
                        spans.setdefault(f.track, [frame.time, frame.time])[1] = frame.time
                    processed, faces = processed + 1, faces + len(frame.faces)
                    bar.update(1)
            if writer:
                writer.close()
            if plot:
                timeline.save(plot, title=path.name)
            tracks = _track_summaries(counts, spans)
            record = {"path": str(path), "video": {"fps": round(info.fps, 3), "frames": info.frames,
                                                   "width": info.width, "height": info.height},
                      "processed": processed, "faces": faces, "tracks": tracks, "csv": args.csv,
                      "annotated": annotated and str(annotated), "timeline": plot and str(plot),
                      "error": None if faces else "no face found"}
            lines = [f"{path.name}: {processed} frames, {faces} faces, {len(tracks)} tracks"]
            lines += [f"  track {t['track']:>3}: {t['first']:8.2f}-{t['last']:8.2f} s  {t['frames']:>5} frames  "
                      f"{t['label']}" for t in tracks]
            out.add(record, lines)
    out.close()
    return finish(command, out.unreadable, len(videos), what="videos could not be read")
