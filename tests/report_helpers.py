"""What the ``genfer demo`` report tests share: reading back the report's captioned images."""

from __future__ import annotations

import base64
import html as html_lib
import io
import re

import numpy as np
from PIL import Image

FIGURE = re.compile(r"<figure class='tile'><img src='([^']*)' alt='([^']*)'><figcaption>(.*?)</figcaption></figure>")


def report_figures(page: str) -> list[tuple[str, str]]:
    """(image src, caption) of every captioned image of a report, in page order; captions unescaped, line breaks as
    ``\\n``. Each caption must repeat as the image's alt text (the figure is the image with its caption under it)."""
    figures = []
    for src, alt, caption in FIGURE.findall(page):
        text = html_lib.unescape(caption.replace("<br>", "\n"))
        assert html_lib.unescape(alt) == text, (alt, caption)
        figures.append((html_lib.unescape(src), text))
    return figures


def figure_image(src: str) -> np.ndarray:
    """The uint8 array of a figure's embedded PNG (a ``data:image/png;base64,`` src)."""
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:40]
    return np.array(Image.open(io.BytesIO(base64.b64decode(src[len(prefix):]))))


def captioned(page: str, first_line: str) -> list[tuple[str, str]]:
    """The figures whose caption's first line is ``first_line``."""
    return [(src, text) for src, text in report_figures(page) if text.split("\n")[0] == first_line]
