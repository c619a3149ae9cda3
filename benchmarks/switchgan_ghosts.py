"""Why switch-unit GAN transfers show both faces: the measurements of docs/switchgan.md ("Ghosts"), as JSON.

Pairs: ``--pairs`` random FER2013Valid faces (the model's validation split), each with a random reference of
another expression. For every output: the crossfade fit ``output - source ≈ k (reference - source)``
(:mod:`genfer.metrics.ghosting`: median k and R²), the median Laplacian-variance ratio output/source
(:mod:`genfer.metrics.sharpness`), the hit rate by ``--judge`` and the mean absolute change.

* ``interventions`` (inference only): the model as is, and with one thing changed at a time: the exchanged
  blocks pooled over space (``pooled_switch``), the switch code zeroed, nothing switched, all of R_c from the
  reference, the U-Net skips from the reference, the residual halved, and the reconstruction.
* ``crossfade_losses``: the weighted G terms of Eq. 12 on the crossfade I_c = (1-k) I_a + k I_b,
  I_d = (1-k) I_b + k I_a for k = 0 ... 1 (L_per map-wise and pooled, L_p, TV of the faces and of the residuals),
  and ``gradients``: at the model's outputs, each term's gradient norm w.r.t. I_c and the median cosine of its
  descent direction with reference - source (positive: the term pushes the output toward the reference).
* ``--finetune-steps N`` instead: fine-tune the model's G (a fresh D; the GAN stage, ``two_stage``) for N steps of
  the ``cpu`` preset with ``--set`` overrides, then measure the same figures and identity (dlib) before/after.

    python benchmarks/switchgan_ghosts.py --model switchgan --pairs 400
    python benchmarks/switchgan_ghosts.py --finetune-steps 100 --set perceptual_features=maps --set tv_target=output
"""

import argparse
import json
import time

import torch

from genfer.config import SWITCHGAN_PRESETS, apply_overrides
from genfer.data.tensors import load_split
from genfer.hub import REFERENCE_FER2013_RECOGNIZER, load_model, load_recognizer
from genfer.io.images import normalize
from genfer.losses.switchgan import perceptual_loss, pixel_sum_loss, total_variation
from genfer.metrics.ghosting import crossfade_fit
from genfer.metrics.sharpness import laplacian_ratio
from genfer.models.switchgan import broadcast_mean, channel_mask, exchange_code
from genfer.predict import predict_probs
from genfer.train.distributed import DistInfo
from genfer.train.switchgan import SwitchGANTrainer, perceptual_network

INTERVENTIONS = ("as_is", "pooled_switch", "code_off", "nothing_switched", "r_c_from_reference",
                 "skips_from_reference", "residual_halved", "reconstruction")


def random_pairs(cfg, n: int, seed: int):
    """n (source, reference) validation pairs of different expressions: images in [-1, 1] and labels."""
    m = cfg.model
    val = load_split(cfg.data, cfg.data.val_split, 0, num_classes=m.num_classes, image_size=m.image_size,
                     in_chans=m.in_chans)
    g = torch.Generator().manual_seed(seed)
    src = torch.randperm(len(val.labels), generator=g)[:n]
    ref = []
    for s in src.tolist():
        r = s
        while val.labels[r] == val.labels[s]:
            r = int(torch.randint(len(val.labels), (1,), generator=g))
        ref.append(r)
    ref = torch.tensor(ref)
    xa, xb = (normalize(val.images[i].float() / 255.0) for i in (src, ref))
    return xa, xb, val.labels[src], val.labels[ref]


def figures(out, xa, xb, yb, judge) -> dict:
    k, r2 = crossfade_fit(out, xa, xb)
    probs = predict_probs(judge.model, ((out + 1) * 127.5).round().clamp(0, 255).to(torch.uint8), batch_size=256,
                          image_size=judge.image_size)
    return {"crossfade_k_median": round(float(k.median()), 3), "crossfade_r2_median": round(float(r2.median()), 3),
            "laplacian_ratio_median": round(float(laplacian_ratio(out, xa).median()), 3),
            "hit_rate": round(float((probs.argmax(1) == yb).float().mean()), 3),
            "mean_abs_change": round(float((out - xa).abs().mean()), 3)}


@torch.no_grad()
def intervene(g, xa, xb, ya, yb, name: str) -> torch.Tensor:
    """I_c of generator ``g`` with one intervention (see the module docstring)."""
    b = len(xa)
    r_ab, skips = g.encoder(torch.cat([xa, xb]), return_skips=True)
    r_a, r_b = r_ab[:b], r_ab[b:]
    mask = channel_mask(exchange_code(ya, yb, g.num_classes), g.bounds)
    code = exchange_code(ya, yb, g.num_classes)
    incoming = broadcast_mean(r_b) if name == "pooled_switch" else r_b
    r_c = {"nothing_switched": r_a, "reconstruction": r_a, "r_c_from_reference": r_b}.get(
        name, r_a + mask * (incoming - r_a))
    if name in ("code_off", "reconstruction"):
        code = torch.zeros_like(code)
    own = [s[:b] for s in skips] if name != "skips_from_reference" else [s[b:] for s in skips]
    residual = g.decoder(r_c, r_a, code, out_size=tuple(xa.shape[-2:]), skips=own if g.decoder.skip_connections else None)
    return g.compose(xa, (0.5 if name == "residual_halved" else 1.0) * residual)


def crossfade_losses(cfg, xa, xb, features) -> dict:
    w = cfg.weights

    def terms(ic, id_):
        per = {f"per_paper_{kind}": w.per * perceptual_loss(features, xa, xb, ic, id_, reduction="mean",
                                                             pooled=kind == "pooled") for kind in ("maps", "pooled")}
        return {**per, "per_source_maps": w.per * perceptual_loss(features, xa, xb, ic, id_, pairing="source",
                                                                   reduction="mean"),
                "pix": w.pix * pixel_sum_loss(xa, xb, ic, id_, reduction="mean"),
                "tv_output": w.tv * (total_variation(ic, reduction="mean") + total_variation(id_, reduction="mean")),
                "tv_residual": w.tv * (total_variation(ic - xa, reduction="mean")
                                       + total_variation(id_ - xb, reduction="mean"))}

    with torch.no_grad():
        return {str(k): {n: round(float(v), 4) for n, v in terms((1 - k) * xa + k * xb, (1 - k) * xb + k * xa).items()}
                for k in (0.0, 0.25, 0.5, 0.75, 1.0)}, terms


def gradients(terms, image_c, image_d, xa, xb) -> dict:
    ic, id_ = image_c.detach().requires_grad_(True), image_d.detach().requires_grad_(True)
    out = {}
    for name, value in terms(ic, id_).items():
        grad = torch.autograd.grad(value, ic)[0].flatten(1)
        cos = torch.nn.functional.cosine_similarity(-grad, (xb - xa).flatten(1), dim=1)
        out[name] = {"grad_norm_mean": float(grad.norm(dim=1).mean()), "descent_cosine_toward_reference": round(
            float(cos.median()), 3)}
    return out


def finetune(args, judge) -> dict:
    cfg = apply_overrides(SWITCHGAN_PRESETS["cpu"], ["two_stage=true", *args.set])
    m = cfg.model
    train = load_split(cfg.data, cfg.data.train_split, 0, num_classes=m.num_classes, image_size=m.image_size,
                       in_chans=m.in_chans)
    torch.manual_seed(args.seed)
    tr = SwitchGANTrainer(cfg, images=train.images, labels=train.labels, info=DistInfo())
    shipped = load_model(args.model, methods=("switchgan",)).model
    missing = tr.model.load_state_dict({k: v.float() for k, v in shipped.state_dict().items()}, strict=False)
    if any(not k.startswith("discriminator.") for k in missing.missing_keys):
        raise SystemExit(f"{args.model} does not fit the cpu preset with {args.set}: {missing.missing_keys[:3]}")
    xa, xb, ya, yb = random_pairs(cfg, args.pairs, args.seed)
    g = tr.model.generator

    def measure(identity: int) -> dict:
        g.eval()
        with torch.no_grad():
            out = g.transfer(xa, xb, ya, yb)
        result = figures(out, xa, xb, yb, judge)
        if identity:
            from genfer.metrics.identity import identity_similarity
            from genfer.models.face_id import FaceIDEmbedder, load_dlib_face_resnet

            embed = FaceIDEmbedder(load_dlib_face_resnet())
            a, o = xa[:identity], out[:identity]
            result |= {"identity_vs_source": round(float(identity_similarity(embed, a, o).mean()), 4),
                       "identity_vs_reference": round(float(identity_similarity(embed, xb[:identity], o).mean()), 4),
                       "identity_strangers": round(float(identity_similarity(embed, a, a.roll(1, 0)).mean()), 4)}
        return result

    before = measure(args.identity)
    t0 = time.perf_counter()
    for step in range(args.finetune_steps):
        tr.step(step)
    seconds = time.perf_counter() - t0
    return {"overrides": args.set, "steps": args.finetune_steps, "train_seconds": round(seconds), "before": before,
            "after": measure(args.identity)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="switchgan", help="switch-unit GAN (shipped name or model folder)")
    ap.add_argument("--judge", default=REFERENCE_FER2013_RECOGNIZER, help="recognizer for the hit rate")
    ap.add_argument("--pairs", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--finetune-steps", type=int, default=0, help="fine-tune probe instead of the inference figures")
    ap.add_argument("--set", action="append", default=[], help="config override of the fine-tune (cpu preset)")
    ap.add_argument("--identity", type=int, default=200, help="fine-tune probe: identity on N pairs (0: skip)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    judge = load_recognizer(args.judge)
    if args.finetune_steps:
        print(json.dumps(finetune(args, judge), indent=2))
        return
    loaded = load_model(args.model, methods=("switchgan",))
    cfg, g = loaded.config, loaded.model.generator.float().eval()
    xa, xb, ya, yb = random_pairs(cfg, args.pairs, args.seed)
    report = {"model": args.model, "pairs": len(xa), "judge": args.judge,
              "interventions": {name: figures(intervene(g, xa, xb, ya, yb, name), xa, xb, yb, judge)
                                for name in INTERVENTIONS}}
    path, terms = crossfade_losses(cfg, xa, xb, perceptual_network(cfg.model.perceptual_model))
    with torch.no_grad():
        out = g(xa, xb, ya, yb)
    report |= {"crossfade_losses": path, "gradients": gradients(terms, out.image_c, out.image_d, xa, xb)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
