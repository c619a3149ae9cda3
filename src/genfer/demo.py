"""``genfer demo``: recognition on sample photos that ship inside installed packages, as an HTML report.

Sample photos: matplotlib's ``grace_hopper.jpg`` (always installed with genfer), scikit-image's
``astronaut.png`` when scikit-image is installed, and a two-person composite of them built at run time
(to show several faces per photo). Users may pass their own photos instead.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Callable

import numpy as np

from genfer.faces.io import load_image
from genfer.render import annotate, html_report, write_text_atomic

log = logging.getLogger(__name__)


def sample_photos() -> list[tuple[str, np.ndarray]]:
    """(name, RGB image) pairs of the packaged sample photos."""
    photos = []
    hopper = Path(str(resources.files("matplotlib") / "mpl-data" / "sample_data" / "grace_hopper.jpg"))
    if hopper.is_file():
        photos.append(("grace_hopper.jpg (matplotlib)", load_image(hopper)))
    try:
        astronaut = Path(str(resources.files("skimage") / "data" / "astronaut.png"))
        if astronaut.is_file():
            photos.append(("astronaut.png (scikit-image)", load_image(astronaut)))
    except ModuleNotFoundError:
        pass
    if len(photos) >= 2:
        photos.append(("two-person composite", side_by_side([p for _, p in photos[:2]])))
    elif photos:
        photos.append(("mirrored pair", side_by_side([photos[0][1], photos[0][1][:, ::-1]])))
    return photos


def side_by_side(images: list[np.ndarray], height: int = 400) -> np.ndarray:
    """Images scaled to one height and placed next to each other: (height, W, 3) uint8."""
    import cv2

    scaled = [cv2.resize(im, (round(im.shape[1] * height / im.shape[0]), height), interpolation=cv2.INTER_AREA)
              for im in images]
    return np.concatenate(scaled, axis=1)


DemoExtra = Callable[[np.ndarray], str]
"""Adds a row to a photo's section of the report: RGB photo -> HTML (e.g. its faces' poker faces)."""


def poker_face_extra(neutralizer) -> DemoExtra:
    """A demo row with each face's PF-ViT strip: input, reconstruction, poker face, emotion image."""
    from PIL import Image

    from genfer.render import image_data_uri

    def extra(image: np.ndarray) -> str:
        _, faces = next(neutralizer.iter_neutralize([image]))
        cells = []
        for k, f in enumerate(faces):
            strip = Image.fromarray(np.concatenate([f.aligned, f.reconstruction, f.poker_face, f.emotion], axis=1))
            strip = strip.resize((strip.width * 3, strip.height * 3), Image.NEAREST)
            cells.append(f"<div class='face'><b>face {k + 1}: input, reconstruction, poker face, emotion</b>"
                         f"<br><img src='{image_data_uri(strip)}' alt='PF-ViT strip of face {k + 1}'></div>")
        return "<h4>PF-ViT poker faces</h4>" + "".join(cells) if cells else ""

    return extra


def shipped_extras() -> list[DemoExtra]:
    """The rows the shipped generative models add to the demo (none until such a model ships)."""
    from genfer.hub import MODEL_ALIASES, available_models

    extras = []
    if MODEL_ALIASES["pfvit"] in available_models():
        from genfer.neutralize import Neutralizer

        extras.append(poker_face_extra(Neutralizer("pfvit")))
    return extras


def run_demo(recognizer, out_dir: str | Path, photos: list[tuple[str, np.ndarray]] | None = None, *,
             extras: list[DemoExtra] | None = None) -> dict:
    """Recognise the photos, write annotated JPEGs and ``report.html`` into ``out_dir``.

    ``extras`` add rows to each photo's section (default: :func:`shipped_extras`).

    Returns a summary: ``report`` path and, per photo, the labels found.
    """
    extras = shipped_extras() if extras is None else extras
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    photos = photos if photos is not None else sample_photos()
    sections, summary = [], []
    for k, (name, image) in enumerate(photos):
        res = recognizer.predict([image])[0]
        img = annotate(image, res.faces)
        img.save(out / f"demo_{k:02d}.jpg", quality=90)
        extra_html = "".join(fn(image) for fn in extras)
        sections.append({"name": name, "image": img, "faces": res.faces, "error": res.error, "extra_html": extra_html})
        summary.append({"photo": name, "faces": [f.label for f in res.faces], "error": res.error})
    intro = (f"Model <code>{recognizer.loaded.name}</code> ({len(recognizer.classes)} classes, "
             f"{recognizer.image_size} px). Boxes: detected faces; green dots: 5 landmarks used for alignment.")
    report = write_text_atomic(out / "report.html", html_report("genfer demo", sections, intro=intro))
    return {"report": str(report), "photos": summary}
