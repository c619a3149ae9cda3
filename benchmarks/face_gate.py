"""Face gate calibration: how often non-faces pass as faces, and how often real faces still get one.

    python benchmarks/face_gate.py --raw face_gate_raw.json          # run the detectors once (slow), then the curve
    python benchmarks/face_gate.py --from-raw face_gate_raw.json     # the curve from a saved run
    python benchmarks/face_gate.py --pipeline                        # the shipped FacePipeline, measured directly

Corpora: the non-face corpus of ``tests/nonfaces.py`` (flat colours, noise, gradients, textures, objects and
animals from images shipped in packages), the ``faces/`` photos and the tight FER2013 crops (PublicTest) of
``$GENFER_DATA``. For the curve each image goes through every detection stage of
:class:`genfer.faces.detect.FaceDetector` at a low MediaPipe threshold (0.2) and FaceMesh (the gate's face check)
runs on each candidate box and on the whole-image stand-in; the curve then replays
:meth:`genfer.faces.pipeline.FacePipeline.faces` (first stage with a kept face, else the whole image) at each
detector threshold, without a gate (every candidate is a face, the old behaviour) and with it. ``--pipeline``
runs ``FacePipeline()`` itself. One JSON object: per setting, the fraction of images of each corpus that get a
face.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


def corpora(limit: int) -> dict[str, list]:
    """``{"nonfaces": [(name, array)], "faces": [(name, path)], "fer2013_test": [(name, path)]}``."""
    from nonfaces import nonface_corpus

    root = Path(os.environ.get("GENFER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    photos = sorted((root / "faces" / "images").glob("*.jpg"))
    crops = sorted((root / "fer2013" / "test").glob("*/*.jpg"))
    return {"nonfaces": nonface_corpus(),
            "faces": [(p.name, p) for p in photos[:limit or None]],
            "fer2013_test": [(f"{p.parent.name}/{p.name}", p) for p in crops[:limit or None]]}


def measure(images, detector, landmarker) -> list[dict]:
    """Per image: every stage's candidates (source, score, FaceMesh check) and the whole-image stand-in's."""
    from genfer.faces.gate import FaceGate
    from genfer.faces.io import load_image

    def candidate(face) -> dict:
        return {"source": face.source, "score": round(face.score, 4), "check": FaceGate.face_check(face)}

    records = []
    for name, src in images:
        image = load_image(src)
        stages = [[candidate(f) for f in landmarker(image, found)] for found in detector.stages(image)]
        whole = detector.whole_image_face(image)
        records.append({"name": name, "size": list(image.shape[1::-1]), "stages": stages,
                        "whole": None if whole is None else candidate(landmarker(image, [whole])[0])})
    return records


def replay(record: dict, threshold: float, *, gated: bool) -> str | None:
    """The source of the first face ``FacePipeline.faces`` returns for this image (None: no face)."""
    from genfer.faces.gate import FaceGate

    gate = FaceGate(min_score=threshold)
    for stage in record["stages"]:
        found = [f for f in stage if f["score"] >= threshold]
        kept = [f for f in found if gate.accepts(f["source"], f["score"], f["check"])] if gated else found
        if kept:
            return kept[0]["source"]
    whole = record["whole"]
    return "whole-image" if whole is not None and (not gated or gate.accepts("whole-image", 0.0, whole["check"])) \
        else None


def curve(raw: dict[str, list[dict]]) -> dict:
    rows = []
    for gated in (False, True):
        for threshold in THRESHOLDS:
            row: dict = {"gate": gated, "min_score": threshold}
            for corpus, records in raw.items():
                hits = [replay(r, threshold, gated=gated) for r in records]
                row[corpus] = {"face_rate": round(sum(h is not None for h in hits) / len(hits), 4), "n": len(hits),
                               "whole_image": sum(h == "whole-image" for h in hits)}
            rows.append(row)
    passing = {corpus: [r["name"] for r in records if replay(r, 0.7, gated=True) is not None]
               for corpus, records in raw.items() if corpus == "nonfaces"}
    failing = {corpus: [r["name"] for r in records if replay(r, 0.7, gated=True) is None]
               for corpus, records in raw.items() if corpus != "nonfaces"}
    return {"rows": rows, "nonfaces_passing_at_0.7": passing["nonfaces"], "faces_failing_at_0.7": failing}


def pipeline_rates(data: dict[str, list]) -> dict:
    """The shipped ``FacePipeline()`` (default gate) on each corpus: face rate and seconds."""
    from genfer.faces.io import load_image
    from genfer.faces.pipeline import FacePipeline

    pipe, out = FacePipeline(), {}
    for corpus, images in data.items():
        t0 = time.perf_counter()
        found = [name for name, src in images if pipe.faces(load_image(src))]
        out[corpus] = {"face_rate": round(len(found) / len(images), 4), "n": len(images), "with_face": len(found),
                       "seconds": round(time.perf_counter() - t0, 1)}
        if corpus == "nonfaces":
            out[corpus]["passing"] = found
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", help="save the per-image measurements here (JSON)")
    parser.add_argument("--from-raw", help="skip detection: read the measurements from this file")
    parser.add_argument("--pipeline", action="store_true", help="measure the shipped FacePipeline instead")
    parser.add_argument("--limit", type=int, default=0, help="at most N images per face corpus (0: all)")
    args = parser.parse_args()
    if args.pipeline:
        print(json.dumps(pipeline_rates(corpora(args.limit)), indent=1))
        return
    if args.from_raw:
        raw = json.loads(Path(args.from_raw).read_text())
    else:
        from genfer.faces.detect import FaceDetector
        from genfer.faces.landmarks import FaceLandmarker

        detector, landmarker, raw, t0 = FaceDetector(min_score=0.2), FaceLandmarker(), {}, time.perf_counter()
        for corpus, images in corpora(args.limit).items():
            raw[corpus] = measure(images, detector, landmarker)
            print(f"{corpus}: {len(images)} images, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        if args.raw:
            Path(args.raw).write_text(json.dumps(raw))
    print(json.dumps(curve(raw), indent=1))


if __name__ == "__main__":
    main()
