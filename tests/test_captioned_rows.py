"""``genfer.render.captioned_rows`` (the README's comparison figures) and the latent comparison's side-by-side figure:
tiles land where the layout puts them, enlarged by nearest-neighbour sampling, and every row gets its caption."""

from __future__ import annotations

import numpy as np
from script_helpers import load_script

from genfer.render import captioned_rows


def test_tiles_are_placed_and_enlarged_by_the_layout():
    dark, light = np.full((4, 4), 10, np.uint8), np.full((4, 4), 200, np.uint8)
    checker = np.kron([[0, 255], [255, 0]], np.ones((2, 2))).astype(np.uint8)  # 4 x 4, 2-px squares
    fig = np.asarray(captioned_rows([("a", [dark, light, checker]), ("b", [light])], side=8, header=["x", "y", "z"],
                                    label_width=20, gap=4))
    assert fig.shape == (24 + 2 * 12, 20 + 3 * 12, 3)  # header, then 2 rows of side + gap; 3 columns
    assert (fig[24:32, 20:28] == 10).all() and (fig[24:32, 32:40] == 200).all()  # row 1, columns 1 and 2
    assert (fig[24:28, 44:48] == 0).all() and (fig[24:28, 48:52] == 255).all()  # checker: 2 px -> 4 px squares
    assert (fig[36:44, 20:28] == 200).all() and (fig[36:44, 32:40] == 255).all()  # row 2: one tile, then white
    assert (fig[:20, 20:] < 255).any()  # the column captions are drawn in the header


def test_latent_comparison_figure_has_a_captioned_row_per_method(tmp_path):
    from PIL import Image

    script = load_script("benchmarks/latent_comparison.py")
    rng = np.random.default_rng(0)
    gallery = {key: [rng.integers(0, 255, (48, 48), dtype=np.uint8) for _ in range(3)]
               for key in script.SIDE_BY_SIDE_ROWS}
    gallery["sources"] = [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(3)]  # RGB photos too
    del gallery["transfer_latent"]  # a method that was not run has no row
    script.save_side_by_side(gallery, tmp_path / "f.png", size=32)
    fig = np.asarray(Image.open(tmp_path / "f.png"))
    assert fig.shape == (6 * (32 + 4), 170 + 3 * (32 + 4), 3)
    assert (fig[:, 5:100] < 128).any(axis=(1, 2)).sum() > 6 * 8  # each row's caption is drawn at its left
