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


def strip_row(title: str, strips: list[np.ndarray]) -> str:
    """HTML of one report row: a titled image (H, W[, 3]) uint8 per face, enlarged 3 times."""
    from PIL import Image

    from genfer.render import image_data_uri

    cells = []
    for k, arr in enumerate(strips):
        img = Image.fromarray(arr)
        img = img.resize((img.width * 3, img.height * 3), Image.NEAREST)
        cells.append(f"<div class='face'><b>face {k + 1}</b><br><img src='{image_data_uri(img)}' alt='{title}'></div>")
    return f"<h4>{title}</h4>{''.join(cells)}" if cells else ""


def poker_face_extra(neutralizer) -> DemoExtra:
    """A row with each face's PF-ViT strip: input, reconstruction, poker face, emotion image G(V_e)."""

    def extra(image: np.ndarray) -> str:
        _, faces = next(neutralizer.iter_neutralize([image]))
        strips = [np.concatenate([f.aligned, f.reconstruction, f.poker_face, f.emotion], axis=1) for f in faces]
        return strip_row("PF-ViT: input, reconstruction, poker face, emotion image", strips)

    return extra


def inversion_extra(inverter) -> DemoExtra:
    """A row with each face's GAN inversion: aligned input, reconstruction from its W+ code."""

    def extra(image: np.ndarray) -> str:
        result = next(inverter.iter_invert([image]))
        strips = [np.concatenate([f.aligned, f.reconstruction], axis=1) for f in result.faces]
        return strip_row("StyleGAN2 inversion: aligned input, reconstruction", strips)

    return extra


def transfer_section(transfer, photos: list[tuple[str, np.ndarray]], out_dir: Path) -> dict | None:
    """A report section exchanging the expressions of the first two photos' faces (switch-unit GAN)."""
    from PIL import Image

    if len(photos) < 2:
        return None
    paths = []
    for k, (_, image) in enumerate(photos[:2]):
        paths.append(out_dir / f"transfer_input_{k}.png")
        Image.fromarray(image).save(paths[-1])
    res = transfer.transfer(paths[0], paths[1])
    if res.error:
        return {"name": "Expression transfer", "error": res.error}
    read = ", ".join(f"{k.replace('_', ' ')}: {v['label']}" for k, v in res.recognized.items())
    return {"name": f"Expression transfer ({res.expressions['source']} ↔ {res.expressions['reference']})",
            "image": Image.fromarray(res.grid()), "extra_html": f"<p>Inputs on top, outputs below; read as {read}.</p>"}


def shipped_extras() -> tuple[list[DemoExtra], list[Callable[..., dict | None]]]:
    """Rows and sections the shipped generative models add to the demo (each only when its model is installed)."""
    from genfer.hub import MODEL_ALIASES, available_models

    shipped = set(available_models())
    rows: list[DemoExtra] = []
    sections: list[Callable[..., dict | None]] = []
    if MODEL_ALIASES["pfvit"] in shipped:
        from genfer.neutralize import Neutralizer

        rows.append(poker_face_extra(Neutralizer("pfvit")))
    if MODEL_ALIASES["psp"] in shipped:
        from genfer.inversion.faces import FaceInverter
        from genfer.inversion.load import load_gan

        rows.append(inversion_extra(FaceInverter(load_gan(MODEL_ALIASES["psp"]))))
    if MODEL_ALIASES["switchgan"] in shipped:
        from genfer.transfer import ExpressionTransfer

        model = ExpressionTransfer(MODEL_ALIASES["switchgan"])
        sections.append(lambda photos, out: transfer_section(model, photos, out))
    return rows, sections


def run_demo(recognizer, out_dir: str | Path, photos: list[tuple[str, np.ndarray]] | None = None, *,
             extras: list[DemoExtra] | None = None, sections_after: list[Callable[..., dict | None]] | None = None) -> dict:
    """Recognise the photos, write annotated JPEGs and ``report.html`` into ``out_dir``.

    ``extras`` add rows to each photo's section and ``sections_after(photos, out_dir)`` whole sections after
    them (default for both: what the shipped generative models give, :func:`shipped_extras`).

    Returns a summary: ``report`` path and, per photo, the labels found.
    """
    if extras is None or sections_after is None:
        default_rows, default_sections = shipped_extras()
        extras = default_rows if extras is None else extras
        sections_after = default_sections if sections_after is None else sections_after
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
    for make in sections_after:
        section = make(photos, out)
        if section is not None:
            sections.append(section)
    intro = (f"Model <code>{recognizer.loaded.name}</code> ({len(recognizer.classes)} classes, "
             f"{recognizer.image_size} px). Boxes: detected faces; green dots: 5 landmarks used for alignment.")
    report = write_text_atomic(out / "report.html", html_report("genfer demo", sections, intro=intro))
    return {"report": str(report), "photos": summary}
