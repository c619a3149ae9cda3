"""Expressions in videos: decode (:mod:`.decode`), track faces across frames (:mod:`.track`), smooth
probabilities (:mod:`.smooth`), recognise per frame (:mod:`.recognize`), draw (:mod:`.draw`) and plot
(:mod:`.timeline`). Everything streams: memory does not grow with the video's length (except the timeline's
per-face probabilities, K floats per tracked face per processed frame). See docs/video.md.
"""

from genfer.video.decode import VIDEO_EXTENSIONS, is_video

__all__ = ["VIDEO_EXTENSIONS", "is_video"]
