"""README figures of latent editing made by the shipped models: an edit sweep (Eq. 1) and a transfer grid (Eq. 3).

The faces are held-out FER2013Valid crops without pixel copies among the FERPlus training images, picked by the
same fixed rule as ``before_after_figure.py`` (one per expression in turn), so that every inverter sees the same
faces.

- ``--sweep``: for each of two faces (a neutral one and a sad one) and each emotion, the input, then the decoded
  code C + k·d at k = 0 (the reconstruction) ... ``--strength``, and the neutralised face (Eq. 2).
- ``--grid``: sources as rows, references as columns; each cell is the source with the reference's expression
  (Eq. 3, the neutral codes re-inverted).

    python scripts/latent_figure.py --inverter psp --sweep docs/images/latent-edit-sweep.png \
        --grid docs/images/latent-transfer-grid.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from before_after_figure import figure, held_out_faces

from genfer.inversion.codes import cat_codes
from genfer.io.images import to_tensor
from genfer.pipelines.latent import Editor

EMOTIONS = ("happiness", "surprise", "sadness", "anger")
"""The edits of the sweep: the four the directions carry best (docs/latent-editing.md)."""
SWEEP_FACES = ("neutral", "sadness")
GRID_SOURCES = ("neutral", "happiness", "surprise", "sadness")
GRID_REFERENCES = ("happiness", "surprise", "sadness", "anger")


def as_tiles(images: np.ndarray) -> torch.Tensor:
    """uint8 (B, S, S[, 3]) images as the (B, C, S, S) tiles :func:`figure` takes."""
    t = torch.from_numpy(np.ascontiguousarray(images))
    return t[:, None] if t.ndim == 3 else t.permute(0, 3, 1, 2)


def pick(labels: np.ndarray, classes: list[str], wanted: tuple[str, ...], nth: int = 0) -> list[int]:
    """Index of the ``nth`` face of each wanted class, in the order of ``wanted``."""
    return [int(np.flatnonzero(labels == classes.index(name))[nth]) for name in wanted]


@torch.inference_mode()
def sweep_rows(editor: Editor, crops: np.ndarray, names: list[str], strength: float, steps: int
               ) -> list[tuple[str, torch.Tensor]]:
    """Per face and emotion: input, the edits from k = 0 to ``strength``, the neutralised face."""
    code = editor.codes.invert(to_tensor(crops))
    neutral = editor.render_images(editor.neutral_code(code))
    rows = []
    for j, name in enumerate(names):
        for emotion in EMOTIONS:
            edits = [editor.render_images(editor.edit_code(code.select([j]), emotion, float(k)))[0]
                     for k in np.linspace(0.0, strength, steps)]
            rows.append((f"{name} face\n+{emotion}", as_tiles(np.stack([crops[j], *edits, neutral[j]]))))
    return rows


@torch.inference_mode()
def grid_rows(editor: Editor, sources: np.ndarray, references: np.ndarray, names: list[str]
              ) -> list[tuple[str, torch.Tensor]]:
    """A header row (a blank, then the references) and per source: the source, then its transfers."""
    n_src, n_ref = len(sources), len(references)
    codes = editor.codes.invert(to_tensor(np.concatenate([sources, references])))
    src = cat_codes([codes.select([i]) for i in range(n_src) for _ in range(n_ref)])
    ref = cat_codes([codes.select([n_src + r]) for _ in range(n_src) for r in range(n_ref)])
    out = editor.render_images(editor.transfer_codes(src, ref)["source_with_reference_expression"])
    blank = np.full_like(references[:1], 255)
    rows = [("references\n(FER2013Valid)", as_tiles(np.concatenate([blank, references])))]
    for i, name in enumerate(names):
        rows.append((f"source: {name}\n-> each reference", as_tiles(np.concatenate([sources[i : i + 1],
                                                                                   out[i * n_ref : (i + 1) * n_ref]]))))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inverter", default="psp", help="psp | hyperstyle | asit or a model folder (default: psp)")
    ap.add_argument("--sweep", help="PNG of the edit sweep to write")
    ap.add_argument("--grid", help="PNG of the transfer grid to write")
    ap.add_argument("--strength", type=float, default=4.0, help="largest k of the sweep (default: 4)")
    ap.add_argument("--steps", type=int, default=5, help="strengths in the sweep, 0 included (default: 5)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if not (args.sweep or args.grid):
        ap.error("nothing to do: give --sweep and/or --grid")
    torch.set_num_threads(args.threads)
    editor = Editor(args.inverter)
    arch = editor.codes.parts.arch
    faces, labels, classes, dropped = held_out_faces("majority", arch.resolution, arch.img_channels,
                                                     skip_neutral=False, n=16)
    crops = faces.permute(0, 2, 3, 1).numpy()
    crops = crops[..., 0] if crops.shape[-1] == 1 else crops
    side = max(96, arch.resolution * 2)
    outputs = []
    if args.sweep:
        rows = sweep_rows(editor, crops[pick(labels, classes, SWEEP_FACES)], list(SWEEP_FACES), args.strength,
                          args.steps)
        ks = [f"k = {k:g}" for k in np.linspace(0.0, args.strength, args.steps)]
        outputs.append((args.sweep, figure(rows, side, ["input", *ks, "neutralised"])))
    if args.grid:
        rows = grid_rows(editor, crops[pick(labels, classes, GRID_SOURCES)],
                         crops[pick(labels, classes, GRID_REFERENCES, nth=1)], list(GRID_SOURCES))
        outputs.append((args.grid, figure(rows, side)))
    for path, image in outputs:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        image.save(path, optimize=True)
        print(f"wrote {path} ({image.width}x{image.height}); inverter {editor.loaded.name}; {dropped} FER2013Valid "
              f"faces left out as copies of FERPlus train images")


if __name__ == "__main__":
    main()
