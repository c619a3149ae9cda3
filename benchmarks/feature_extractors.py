"""Speed of the generative-metric networks on the CPU: images/s of FID/KID feature extraction per extractor
(and image pairs/s of the LPIPS variants). Prints one JSON object.

Weights do not change the speed, so networks whose weights are not available run on random weights
(``"weights": "random"``): the FID Inception-v3 unless --inception-weights is given, LPIPS AlexNet/VGG, and
the recognizer when --model is not given and no shipped default exists.

    python benchmarks/feature_extractors.py [--threads 2] [--batch 32] [--size 48] [--model M]
"""

import argparse
import json
import time

import torch

from genfer.metrics.extractors import InceptionExtractor, RecognizerExtractor, build_extractor
from genfer.metrics.inception import FIDInceptionV3
from genfer.metrics.lpips import LPIPS, GenferLPIPS


def _recognizer(model: str | None):
    from genfer.config import preset
    from genfer.hub import REFERENCE_RECOGNIZER, available_models, load_recognizer
    from genfer.models.recognizer import build_recognizer

    name = model or (REFERENCE_RECOGNIZER if REFERENCE_RECOGNIZER in available_models() else None)
    if name:
        loaded = load_recognizer(name)
        return loaded.model, loaded.config.model, loaded.name, "trained"
    cfg = preset("cpu").model
    return build_recognizer(cfg).eval(), cfg, "cpu-preset", "random"


@torch.no_grad()
def _rate(fn, batch: torch.Tensor, *, seconds: float, pairs: bool = False) -> float:
    """Images (or pairs) per second of fn over repeated batches after one warm-up call."""
    fn(batch, batch.flip(0)) if pairs else fn(batch)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or n == 0:
        fn(batch, batch.flip(0)) if pairs else fn(batch)
        n += len(batch)
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=48, help="input side (FER crops are 48)")
    ap.add_argument("--seconds", type=float, default=5.0, help="time per network")
    ap.add_argument("--model", help="recognizer for genfer-fer / genfer-lpips (default: genfer.hub.REFERENCE_RECOGNIZER)")
    ap.add_argument("--inception-weights")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images = torch.rand(args.batch, 3, args.size, args.size) * 2 - 1

    net, cfg, name, weights = _recognizer(args.model)
    extractors = {
        "genfer-fer": (RecognizerExtractor(net, image_size=cfg.image_size, in_chans=cfg.in_chans, model_name=name),
                       weights),
        "inception": (build_extractor("inception", inception_weights=args.inception_weights), "trained")
        if args.inception_weights else (InceptionExtractor(FIDInceptionV3().eval()), "random"),
    }
    out = {"threads": args.threads, "batch": args.batch, "input": f"{args.size}x{args.size} RGB", "recognizer": name,
           "extractors": {}, "lpips": {}}
    for key, (ext, w) in extractors.items():
        out["extractors"][key] = {"name": ext.name, "dim": ext.num_features, "weights": w,
                                  "images_per_s": round(_rate(ext, images, seconds=args.seconds), 1)}
    lpips_nets = {"genfer-lpips": (GenferLPIPS(net, image_size=cfg.image_size, in_chans=cfg.in_chans,
                                               model_name=name), weights),
                  "lpips-alex": (LPIPS("alex"), "random"), "lpips-vgg": (LPIPS("vgg"), "random")}
    for key, (lp, w) in lpips_nets.items():
        out["lpips"][key] = {"weights": w, "pairs_per_s": round(_rate(lp, images, seconds=args.seconds,
                                                                      pairs=True), 1)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
