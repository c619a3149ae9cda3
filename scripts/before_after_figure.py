"""Before/after figure of a generative system for the README: the same 8 held-out faces, old and new model.

The faces are FER2013Valid crops (FERPlus majority labels, or FER2013's labels for a model trained on them) that
are *not* pixel copies of any FERPlus/FER2013 training image (labelled or not), one per expression in turn (neutral skipped where the system's
job is to remove expressions), chosen by a fixed rule so that old and new models see the same faces.
Rows, per system:

- ``pfvit``: input, then for each model its reconstruction x̂ and its poker face x̃;
- ``switchgan``: source, reference (another held-out face with a different expression), each model's output
  (the source with the reference's expression);
- ``psp``: input, each model's encoder reconstruction (no refinement).

Tiles are enlarged with nearest-neighbour sampling so that seams and blocks stay visible. ``--old``/``--new`` take a
model name, a model folder, or ``git:REV:NAME`` (the shipped model NAME as it was in commit REV).

    python scripts/before_after_figure.py --system pfvit --old git:9c67a64:pfvit-vit-t-48 \
        --new runs/pfvit-cpu-shiftd/final --out docs/images/before-after-pfvit.png
"""

from __future__ import annotations

import argparse
import subprocess
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genfer.config import DataConfig
from genfer.data.arrays import split_tensor
from genfer.data.tensors import open_labelled
from genfer.evaluate import duplicates_in_split
from genfer.hub import LoadedModel, load_model
from genfer.io.images import normalize, to_uint8_tensor
from genfer.paths import dataset_root
from genfer.render import captioned_rows

FACES = 8
SCALE = 2
LABEL_WIDTH = 190


def model_folder(spec: str, scratch: Path) -> str:
    """A loadable model name/folder for ``spec``; ``git:REV:NAME`` is extracted from the repository into ``scratch``."""
    if not spec.startswith("git:"):
        return spec
    _, rev, name = spec.split(":", 2)
    member = f"src/genfer/assets/models/{name}"
    repo = Path(__file__).resolve().parents[1]
    archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", rev, member],
                             capture_output=True, check=False)
    if archive.returncode:
        raise SystemExit(f"cannot read {member} at {rev}: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(scratch / rev, filter="data")
    return str(scratch / rev / member)


def held_out_faces(label_source: str, size: int, channels: int, *, skip_neutral: bool,
                   n: int = FACES) -> tuple[torch.Tensor, np.ndarray, list[str], int]:
    """(n, C, size, size) uint8 FER2013Valid faces without pixel copies in FERPlus train, their labels, the class
    names and how many copies were dropped. Faces are taken one per class in turn, each class's first unused."""
    data = DataConfig(dataset="ferplus", label_source=label_source)
    val = open_labelled(data, "valid")
    copies = duplicates_in_split(val, "ferplus", dataset_root("ferplus", None), "train")  # labelled or not
    val = val.subset(~copies)
    classes = [c for c in range(len(val.classes)) if not (skip_neutral and val.classes[c] == "neutral")]
    pools = {c: list(np.flatnonzero(val.labels == c)) for c in classes}
    chosen: list[int] = []
    while len(chosen) < n and any(pools.values()):
        for c in classes:
            if pools[c] and len(chosen) < n:
                chosen.append(int(pools[c].pop(0)))
    picked = val.subset(np.asarray(chosen))
    return split_tensor(picked, size, channels), picked.labels, list(val.classes), int(copies.sum())


def reference_order(labels: np.ndarray) -> np.ndarray:
    """For each face, the index of the next face (cyclically) with a different label: its reference."""
    n = len(labels)
    return np.array([next(j % n for j in range(i + 1, i + n) if labels[j % n] != labels[i]) for i in range(n)])


def load_spec(system: str, spec: str, scratch: Path) -> tuple[LoadedModel, str]:
    """The model ``spec`` names (checked to be a ``system`` model) and the name its rows are captioned with."""
    folder = model_folder(spec, scratch)
    name = Path(folder).name if Path(folder).name not in ("final", "") else str(Path(folder).parent.name)
    if system == "psp":
        from genfer.inversion.load import load_gan

        return load_gan(folder), name
    return load_model(folder, methods=(system,)), name


@torch.inference_mode()
def system_rows(system: str, loaded: LoadedModel, name: str, faces: torch.Tensor, labels: np.ndarray,
                refs: np.ndarray, tag: str) -> list[tuple[str, torch.Tensor]]:
    """Captioned rows of uint8 images (N, C, H, W) that ``loaded`` makes of ``faces``."""
    x = normalize(faces.float() / 255.0)
    if system == "pfvit":
        out = loaded.model.render(x)
        return [(f"{tag}: reconstruction\n{name}", to_uint8_tensor(out["x_hat"])),
                (f"{tag}: poker face\n{name}", to_uint8_tensor(out["x_tilde"]))]
    if system == "switchgan":
        generator = loaded.model.generator
        lab = torch.as_tensor(labels, dtype=torch.long)
        out = generator.transfer(x, x[refs], lab, lab[refs])
        return [(f"{tag}: transfer\n{name}", to_uint8_tensor(out))]
    from genfer.inversion.faces import FaceInverter

    inverter = FaceInverter(loaded)
    crops = faces[:, 0].numpy() if faces.shape[1] == 1 else faces.permute(0, 2, 3, 1).numpy()
    recon = np.stack([r for r, _ in inverter.invert_crops(crops)])
    recon = torch.from_numpy(recon)
    recon = recon[:, None] if recon.ndim == 3 else recon.permute(0, 3, 1, 2)
    return [(f"{tag}: reconstruction\n{name}", recon)]


def figure(rows: list[tuple[str, torch.Tensor]], side: int, header: list[str] | None = None) -> Image.Image:
    """A labelled grid of uint8 (N, C, H, W) rows, tiles enlarged (nearest) to ``side`` px; ``header``: column captions."""
    arrays = [(caption, [t.permute(1, 2, 0).numpy().squeeze(-1) if t.shape[0] == 1 else t.permute(1, 2, 0).numpy()
                         for t in images]) for caption, images in rows]
    return captioned_rows(arrays, side=side, header=header or (), label_width=LABEL_WIDTH)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--system", required=True, choices=("pfvit", "switchgan", "psp"))
    ap.add_argument("--old", required=True, help="model name, folder or git:REV:NAME")
    ap.add_argument("--new", required=True, help="model name, folder or git:REV:NAME")
    ap.add_argument("--out", required=True, help="PNG to write")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        models = {tag: load_spec(args.system, spec, scratch) for tag, spec in (("old", args.old), ("new", args.new))}
        probe = models["old"][0]
        cfg = probe.config
        if args.system == "psp":
            from genfer.inversion.load import inversion_parts

            arch = inversion_parts(probe).arch
            size, channels, label_source = arch.resolution, arch.img_channels, "majority"
        else:
            size, channels = probe.image_size, probe.in_chans
            label_source = getattr(cfg.data, "label_source", "majority")
        faces, labels, _, dropped = held_out_faces(label_source, size, channels,
                                                         skip_neutral=args.system != "psp")
        refs = reference_order(labels)
        rows = [("input\n(FER2013Valid)", faces)]
        if args.system == "switchgan":
            rows.append(("reference", faces[refs]))
        for tag, (loaded, name) in models.items():
            rows += system_rows(args.system, loaded, name, faces, labels, refs, tag)
    image = figure(rows, side=max(96, size * SCALE))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    image.save(args.out, optimize=True)
    print(f"wrote {args.out} ({image.width}x{image.height}); {dropped} FER2013Valid faces left out as copies of "
          f"FERPlus train images")


if __name__ == "__main__":
    main()
