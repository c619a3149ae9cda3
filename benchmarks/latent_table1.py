#!/usr/bin/env python3
"""The latent-editing paper's Table I on genfer's generator: emotion score and FID* of emotion transfer per target
emotion, per inverter, with and without re-inversion of the neutral codes (the paper's central claim).

Sources: the first ``--n`` FER2013Valid faces that are not pixel copies of FERPlus training images (aligned crops;
the paper: 2,000 CelebA faces) plus the first ``--photos``
photos of ``faces/`` (their largest face, detected). Targets: for each of the eight emotions, the FER2013Valid
face outside the sources that genfer's recognizer reads as that emotion with the highest probability. For each
inverter (``--inverters``: psp, hyperstyle, asit or model folders) every source gets each target's expression by
Eq. 3, with the neutral codes re-inverted (``reinverted``) and without (``plain``). Per target emotion:

* ES: mean cosine of genfer's recognizer's probability vectors of the target image and of the outputs;
* FID*: Fréchet distance of the outputs' and the source faces' features under ``genfer-fer`` (the shipped
  recognizer's pooled features; not comparable with Inception FIDs; biased upwards at small N);
* ``Original``: FID* of the inverter's reconstructions of the sources (the paper's last row).

Prints one JSON object. Example::

    python benchmarks/latent_table1.py --n 500 --inverters psp,runs/hyperstyle-cpu/final --threads 2

``--directions`` defaults to the ones shipped beside each inverter's generator.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--photos", type=int, default=0)
    p.add_argument("--directions", default=None, help="directions folder (default: shipped beside the generator)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--inverters", default="psp", help="comma-separated inverters")
    p.add_argument("--neutral-strength", type=float, default=None)
    p.add_argument("--data", default=os.environ.get("GENFER_DATA", "/work/shared/data"))
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    import numpy as np
    import torch

    from genfer.data.registry import open_dataset
    from genfer.editing.arithmetic import transfer_code
    from genfer.evaluate import duplicates_in_split
    from genfer.faces.io import list_images, load_image
    from genfer.inversion.codes import cat_codes
    from genfer.io.images import normalize, to_tensor
    from genfer.metrics.extractors import build_extractor
    from genfer.metrics.features import stats_from_features
    from genfer.metrics.frechet import frechet_distance_stats
    from genfer.pipelines.latent import Editor

    torch.set_num_threads(args.threads)
    root = Path(args.data) / "ferplus"
    val = open_dataset("ferplus", root, "valid")
    unique = np.flatnonzero(~duplicates_in_split(val, "ferplus", root, "train"))
    extractor = build_extractor("genfer-fer")

    @torch.inference_mode()
    def stats(images: np.ndarray):
        x = normalize(torch.from_numpy(images).float().unsqueeze(1) / 255.0)
        feats = torch.cat([extractor(x[i : i + 256]) for i in range(0, len(x), 256)])
        return stats_from_features(feats, "genfer-fer")

    def batched(fn, n: int):
        """``fn(batch_slice)`` over ``range(n)`` in slices of ``--batch-size``, the results (codes or image arrays)
        concatenated."""
        parts = [fn(slice(i, i + args.batch_size)) for i in range(0, n, args.batch_size)]
        return cat_codes(parts) if hasattr(parts[0], "wplus") else np.concatenate(parts)

    report: dict = {"sources": None, "duplicates_skipped": int(len(val.labels) - len(unique)), "extractor": "genfer-fer",
                    "inverters": {}}
    for inverter in args.inverters.split(","):
        ed = Editor(inverter, args.directions)
        if args.neutral_strength is not None:
            ed.neutral_strength = args.neutral_strength
        crops = [ed.faces.aligned_crop(np.asarray(val.loader(i).convert("RGB"))) for i in unique[: args.n]]
        for path in list_images([Path(args.data) / "faces" / "images"])[: args.photos]:
            found = ed.faces.faces_of(load_image(path), aligned=False)
            crops += [found[0][2]] if found else []
        src = np.stack(crops)
        pool = np.stack([ed.faces.aligned_crop(np.asarray(val.loader(i).convert("RGB")))
                         for i in unique[args.n : args.n + 2000]])
        p_pool = ed.recognizer.predict_crops(pool)
        names = ed.recognizer.classes
        real = stats(src)
        codes = batched(lambda s: ed.codes.invert(to_tensor(src[s])), len(src))
        recon = batched(lambda s: ed.render_images(codes.select(s)), len(src))
        s_neu = ed.neutral_code(codes)
        s_prime = batched(lambda s: ed.codes.invert(ed.codes.render(s_neu.select(s))), len(src))
        rows = {"Original": {"FID*": round(frechet_distance_stats(real, stats(recon)), 3)}}
        for e, name in enumerate(names):
            target = pool[int(p_pool[:, e].argmax())][None]
            t = ed.codes.invert(to_tensor(target))
            t_neu = ed.neutral_code(t)
            t_prime = ed.codes.invert(ed.codes.render(t_neu))
            p_t = ed.recognizer.predict_crops(target)[0]
            row = {"target_probability": round(float(p_pool[:, e].max()), 4)}
            for label, (tn, sn) in (("reinverted", (t_prime, s_prime)), ("plain", (t_neu, s_neu))):
                moved = sn.with_wplus(transfer_code(t.wplus, tn.wplus, sn.wplus))
                out = batched(lambda s: ed.render_images(moved.select(s)), len(src))
                p_out = ed.recognizer.predict_crops(out)
                cos = p_out @ p_t / (np.linalg.norm(p_out, axis=1) * np.linalg.norm(p_t) + 1e-12)
                row[label] = {"ES": round(float(cos.mean()), 4),
                              "hit_rate": round(float((p_out.argmax(1) == e).mean()), 4),
                              "FID*": round(frechet_distance_stats(real, stats(out)), 3)}
            rows[name] = row
        report["sources"] = len(src)
        report["inverters"][ed.loaded.name] = {"neutral_strength": ed.neutral_strength, "rows": rows}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
