"""Drawing results: annotated images (boxes, landmarks, labels) and the HTML report of ``genfer demo``."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from genfer.io import atomic_write_text
from genfer.io.images import to_uint8_tensor
from genfer.labels import EMOTIONS

#: One colour per canonical emotion (RGB).
EMOTION_COLOURS: dict[str, tuple[int, int, int]] = dict(zip(EMOTIONS, [
    (150, 150, 150), (255, 200, 0), (0, 200, 255), (60, 90, 255),
    (255, 40, 40), (60, 170, 60), (170, 60, 220), (255, 120, 200),
]))


def annotate(image_rgb: np.ndarray, faces: Sequence, *, prefixes: Sequence[str] | None = None) -> Image.Image:
    """Draw each face's box, 5 landmarks and ``label p`` on a copy of the image.

    Args:
        image_rgb: (H, W, 3) uint8.
        faces: :class:`genfer.api.FaceResult` objects.
        prefixes: text put before each face's label (e.g. a video's track id ``"#3 "``).
    """
    img = Image.fromarray(image_rgb).convert("RGB")
    draw = ImageDraw.Draw(img)
    side = max(img.size)
    width = max(2, side // 250)
    font = ImageFont.load_default(size=max(12, side // 40))
    for k, f in enumerate(faces):
        x, y, w, h = f.box
        colour = EMOTION_COLOURS.get(f.label, (255, 255, 255))
        draw.rectangle([x, y, x + w, y + h], outline=colour, width=width)
        for px, py in f.landmarks or []:
            r = width + 1
            draw.ellipse([px - r, py - r, px + r, py + r], fill=(0, 255, 0))
        text = f"{prefixes[k] if prefixes else ''}{f.label} {f.probabilities[f.label]:.2f}"
        tx, ty = x, max(0, y - font.size - 2 * width)
        box = draw.textbbox((tx, ty), text, font=font)
        draw.rectangle([box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2], fill=colour)
        draw.text((tx, ty), text, fill=(0, 0, 0), font=font)
    return img


def image_data_uri(img: Image.Image, *, max_side: int = 640) -> str:
    """A JPEG ``data:`` URI of ``img`` (downscaled to ``max_side``)."""
    img = img.copy()
    img.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def png_data_uri(image: np.ndarray, *, scale: int = 1) -> str:
    """A PNG ``data:`` URI of a uint8 (H, W) or (H, W, 3) image, enlarged ``scale`` times (nearest)."""
    buf = io.BytesIO()
    enlarge(image, scale).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def probability_bars(probabilities: dict[str, float]) -> str:
    """HTML bars, one per emotion, widest for the most likely."""
    rows = []
    for name, p in sorted(probabilities.items(), key=lambda kv: -kv[1]):
        r, g, b = EMOTION_COLOURS.get(name, (128, 128, 128))
        rows.append(
            f'<div class="bar"><span class="name">{html.escape(name)}</span>'
            f'<span class="track"><span class="fill" style="width:{100 * p:.1f}%;background:rgb({r},{g},{b})">'
            f'</span></span><span class="p">{p:.3f}</span></div>'
        )
    return "\n".join(rows)


TILE_SIDE = 144
"""Displayed side (px) of a report tile: small crops are enlarged by an integer factor to at least this."""


def labelled_tiles(tiles: Sequence[tuple[np.ndarray | str, str]], *, side: int = TILE_SIDE) -> str:
    """HTML of images in a row, each with its caption underneath (a ``<figure>`` with a ``<figcaption>``).

    Args:
        tiles: (image, caption) pairs. An image is a uint8 (H, W) or (H, W, 3) array, embedded as PNG and
            enlarged (nearest) by the smallest integer factor that makes it at least ``side`` px high, or the
            URL of an image file (e.g. a path relative to the report), shown as it is. Captions are plain text
            (escaped; ``\n`` breaks the line).
    """
    figures = []
    for image, caption in tiles:
        src = image if isinstance(image, str) else png_data_uri(image, scale=max(1, -(-side // image.shape[0])))
        text = html.escape(caption)
        figures.append(f"<figure class='tile'><img src='{html.escape(src)}' alt='{text}'>"
                       f"<figcaption>{text.replace(chr(10), '<br>')}</figcaption></figure>")
    return f"<div class='tiles'>{''.join(figures)}</div>"


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
.item{margin:1.5em 0;padding:1em;border:1px solid #ddd;border-radius:8px}
.head{display:flex;gap:2em}.head>img{max-width:480px;border-radius:4px;align-self:flex-start;flex-shrink:0}
.faces{flex:1}
.face{margin-bottom:1em}.bar{display:flex;align-items:center;gap:.5em;font-size:13px}
.name{width:6em}.track{flex:1;background:#eee;height:12px;border-radius:3px;overflow:hidden;display:block}
.fill{display:block;height:12px}.p{width:3.5em;text-align:right;font-variant-numeric:tabular-nums}
.note{color:#777;font-size:12px}.error{color:#b00}
.rows{display:flex;flex-wrap:wrap;column-gap:2.5em}
.tiles{display:flex;flex-wrap:wrap;gap:.6em;margin:.3em 0 .8em}
.tile{margin:0;width:min-content;display:flex;flex-direction:column;align-items:center}
.tile img{image-rendering:pixelated;border-radius:3px}
.tile figcaption{font-size:12px;line-height:1.3;text-align:center;margin-top:.2em}
"""


def html_report(title: str, sections: list[dict], *, intro: str = "") -> str:
    """A self-contained HTML page.

    Args:
        sections: dicts with ``name``, ``image`` (PIL, annotated), ``faces`` (FaceResult list),
            optional ``error``, ``side_html`` (under the faces' bars, beside the image) and ``extra_html`` (below
            both, full width).
    """
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1><p>{intro}</p>"]
    for sec in sections:
        faces_html = []
        for k, f in enumerate(sec.get("faces", [])):
            note = " (no face detected: whole image used)" if f.source == "whole-image" else ""
            faces_html.append(f"<div class='face'><b>face {k + 1}: {html.escape(f.label)}</b>"
                              f"<span class='note'>{note} via {html.escape(f.source)}</span>"
                              f"{probability_bars(f.probabilities)}</div>")
        if sec.get("error"):
            faces_html.append(f"<p class='error'>{html.escape(sec['error'])}</p>")
        img = f"<img src='{image_data_uri(sec['image'])}' alt='{html.escape(sec['name'])}'>" if sec.get("image") else ""
        parts.append(f"<div class='item'><div class='head'>{img}<div class='faces'><h3>{html.escape(sec['name'])}</h3>"
                     f"{''.join(faces_html)}{sec.get('side_html', '')}</div></div>{sec.get('extra_html', '')}</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write a text file atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    return path


def enlarge(image: np.ndarray, scale: int) -> Image.Image:
    """A uint8 (H, W) or (H, W, 3) array as a PIL image enlarged ``scale`` times (nearest neighbour)."""
    img = Image.fromarray(image)
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST) if scale > 1 else img


def save_png(image: np.ndarray, path: str | Path, *, scale: int = 1) -> Path:
    """Write a uint8 (H, W) or (H, W, 3) image as PNG, enlarged ``scale`` times; creates the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    enlarge(image, scale).save(path)
    return path


def captioned_rows(rows: Sequence[tuple[str, Sequence[np.ndarray]]], *, side: int, header: Sequence[str] = (),
                   label_width: int = 190, gap: int = 4) -> Image.Image:
    """A figure of image rows, each with a caption on the left: ``rows`` of (caption, uint8 (H, W[, 3]) images),
    every image enlarged (nearest, so blocks and seams stay visible) to ``side`` px; ``header``: column captions."""
    font = ImageFont.load_default(size=14)
    top = 24 if header else 0
    width = label_width + max(len(images) for _, images in rows) * (side + gap)
    out = Image.new("RGB", (width, top + len(rows) * (side + gap)), "white")
    draw = ImageDraw.Draw(out)
    for k, caption in enumerate(header):
        x = label_width + k * (side + gap) + (side - draw.textlength(caption, font=font)) / 2
        draw.text((x, 4), caption, fill="black", font=font)
    for r, (caption, images) in enumerate(rows):
        y = top + r * (side + gap)
        draw.multiline_text((6, y + side // 2 - 16), caption, fill="black", font=font, spacing=4)
        for k, image in enumerate(images):
            tile = Image.fromarray(np.ascontiguousarray(image)).convert("RGB")
            out.paste(tile.resize((side, side), Image.NEAREST), (label_width + k * (side + gap), y))
    return out


def grid_array(rows: list[torch.Tensor]) -> np.ndarray:
    """Image rows (each (B, C, H, W) in [-1, 1], rows top to bottom) as one uint8 (H', W'[, 3]) grid."""
    grid = torch.cat([torch.cat(list(r), dim=-1) for r in rows], dim=-2)  # (C, rows*H, B*W)
    arr = to_uint8_tensor(grid)
    return arr[0].numpy() if arr.shape[0] == 1 else arr.permute(1, 2, 0).numpy()


def save_grid(rows: list[torch.Tensor], path: str | Path, *, scale: int = 2) -> Path:
    """Save image rows (each (B, C, H, W) in [-1, 1]) as one PNG grid, enlarged ``scale`` times."""
    return save_png(grid_array(rows), path, scale=scale)


def saliency_overlay(crop: np.ndarray, heat: np.ndarray, caption: str, *, side: int = 192,
                     alpha: float = 0.45) -> Image.Image:
    """A face crop with a saliency map blended over it (jet colours) and a caption bar below.

    Args:
        crop: (h, w) or (h, w, 3) uint8 aligned face.
        heat: (h', w') float map in [0, 1] (resized to the crop).
        caption: e.g. ``"happiness 0.93\\ngrad-cam++"``: one line of the bar per line, the font shrunk (down to
            12 px) until the longest line fits the width.
    """
    import cv2

    face = np.asarray(Image.fromarray(crop).convert("RGB").resize((side, side), Image.BILINEAR), dtype=np.float32)
    heat8 = (np.clip(cv2.resize(heat.astype(np.float32), (side, side)), 0, 1) * 255).astype(np.uint8)
    colours = cv2.cvtColor(cv2.applyColorMap(heat8, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB).astype(np.float32)
    blended = Image.fromarray(((1 - alpha) * face + alpha * colours).round().astype(np.uint8))
    lines = caption.split("\n")
    size = max(12, side // 12)
    font = ImageFont.load_default(size=size)
    while size > 12 and max(font.getlength(line) for line in lines) > side - 8:
        size -= 1
        font = ImageFont.load_default(size=size)
    step = size + 4
    out = Image.new("RGB", (side, side + step * len(lines) + 4), (0, 0, 0))
    out.paste(blended, (0, 0))
    draw = ImageDraw.Draw(out)
    for k, line in enumerate(lines):
        draw.text((4, side + 3 + step * k), line, fill=(255, 255, 255), font=font)
    return out
