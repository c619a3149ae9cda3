"""Magnitudes of ASIT's loss terms at initialisation (how DAL's weight was chosen), as one JSON object.

Builds a preset's ASIT on its generator (untrained encoder, the adversary as the run would start it), takes the
first ``--faces`` FER2013Valid crops at the generator's resolution in batches of ``--batch`` (DAL's distributions
are over the other images of a batch, so its value depends on the batch size) and averages every unweighted term
(``l2``, ``lpips``, ``id``, ``w_reg``, ``dal``, ``adv``) and its weighted contribution to the total. Also the wall
time of the encoder's forward + backward on one batch (``--threads``) and the peak RSS of the process.

    python benchmarks/asit_loss_scale.py [--preset cpu] [--faces 32] [--batch 16] [--threads 2] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import torch

from genfer.config import ASIT_PRESETS, DataConfig, apply_overrides
from genfer.data.tensors import load_split
from genfer.hub import discriminator_state
from genfer.inversion.criterion import InversionCriterion
from genfer.io.images import normalize
from genfer.losses.asit import dal_loss, iid_e_loss
from genfer.models.asit import synthesis_features
from genfer.models.iid import InversionDiscriminator
from genfer.models.psp import resize_to
from genfer.train.asit import build_adversary, build_asit, dal_sides


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="cpu", choices=sorted(ASIT_PRESETS))
    ap.add_argument("--faces", type=int, default=32)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], help="config override")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = apply_overrides(ASIT_PRESETS[args.preset], args.set)
    torch.manual_seed(cfg.seed)
    model, folder = build_asit(cfg, load_generator=True)
    encoder, decoder = model.encoder, model.decoder.requires_grad_(False)
    adversary = build_adversary(cfg, discriminator_state(folder))
    criterion = InversionCriterion(cfg.loss)
    g = cfg.stylegan2
    faces = load_split(DataConfig(), "valid", args.faces, num_classes=8, image_size=g.resolution,
                       in_chans=g.img_channels).images
    sides = dal_sides(encoder.stage_sides, g.resolution, tuple(cfg.dal.sides))
    sums: dict[str, float] = {}
    batches = 0
    seconds = []
    for start in range(0, len(faces) - args.batch + 1, args.batch):
        x_full = normalize(faces[start : start + args.batch].float() / 255.0)
        x = resize_to(x_full, encoder.input_size)
        t = time.perf_counter()
        feats = encoder.analyse(x)
        image, g_feats = synthesis_features(decoder, feats.code.wplus, structure=feats.code.structure)
        terms = criterion(resize_to(image, encoder.input_size), x, feats.code.wplus, encoder.latent_avg)
        by_side = {f.shape[-1]: f for f in feats.stages}
        terms["dal"] = dal_loss([by_side[s] for s in sides], [g_feats[s] for s in sides], normalize=cfg.dal.normalize)
        if isinstance(adversary, InversionDiscriminator):
            terms["adv"] = iid_e_loss(adversary(image, x_full, torch.Generator().manual_seed(start)))
        total = terms["total"] + cfg.dal_weight * terms["dal"] + cfg.adv_weight * terms.get("adv", 0.0)
        total.backward()
        seconds.append(time.perf_counter() - t)
        encoder.zero_grad(set_to_none=True)
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(torch.as_tensor(v).detach())
        batches += 1
    mean = {k: v / batches for k, v in sums.items()}
    w = cfg.loss.weights
    weights = {"l2": w.l2, "lpips": w.lpips, "id": w.id, "w_reg": w.w_reg, "dal": cfg.dal_weight,
               "adv": cfg.adv_weight}
    print(json.dumps({
        "preset": args.preset, "overrides": args.set, "generator": cfg.generator,
        "adversary_init": "kept discriminator" if discriminator_state(folder) is not None else "fresh",
        "faces": batches * args.batch, "batch": args.batch, "dal_sides": sides,
        "terms": {k: round(v, 5) for k, v in mean.items() if k != "total"},
        "weighted": {k: round(weights[k] * mean[k], 5) for k in weights if k in mean},
        "step_seconds_fwd_bwd": round(min(seconds), 3), "threads": args.threads,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }, indent=2))


if __name__ == "__main__":
    main()
