"""Speed of candidate recognizer architectures on the CPU: inference and training images/s.

Used to choose the shipped recognizer (with the accuracy-per-CPU-second runs in docs/recognizer.md).
Prints one JSON object per candidate. Measure on a quiet machine.

    python benchmarks/architectures.py [--threads 2] [--batch 64]
"""

import argparse
import json
import time

import torch

from genfer.config import RecognizerModelConfig
from genfer.models.recognizer import build_recognizer

CANDIDATES = {
    "resnet18-w64-48px": RecognizerModelConfig(depth=18, channels=(64, 128, 256, 512), image_size=48),
    "resnet18-w48-48px": RecognizerModelConfig(depth=18, channels=(48, 96, 192, 384), image_size=48),
    "resnet18-w32-48px": RecognizerModelConfig(depth=18, channels=(32, 64, 128, 256), image_size=48),
    "resnet18-w32-64px": RecognizerModelConfig(depth=18, channels=(32, 64, 128, 256), image_size=64),
    "resnet18-w32-48px-stem1": RecognizerModelConfig(depth=18, channels=(32, 64, 128, 256), image_size=48, stem_stride=1),
    "resnet10-w64-48px": RecognizerModelConfig(depth=10, channels=(64, 128, 256, 512), image_size=48),
    "vit-12x192-p6-48px": RecognizerModelConfig(arch="vit", depth=12, channels=(192,), patch_size=6, image_size=48),
    "vit-6x192-p8-64px": RecognizerModelConfig(arch="vit", depth=6, channels=(192,), patch_size=8, image_size=64),
}


def measure(cfg: RecognizerModelConfig, batch: int) -> dict:
    model = build_recognizer(cfg)
    x = torch.randn(batch, cfg.in_chans, cfg.image_size, cfg.image_size)
    model.eval()
    with torch.inference_mode():
        model(x)
        t = time.perf_counter()
        for _ in range(10):
            model(x)
        infer = 10 * batch / (time.perf_counter() - t)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    y = torch.randint(0, cfg.num_classes, (batch,))
    for i in range(6):
        if i == 1:
            t = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    train = 5 * batch / (time.perf_counter() - t)
    return {"params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
            "infer_img_per_s": round(infer), "train_img_per_s": round(train)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for name, cfg in CANDIDATES.items():
        print(json.dumps({"name": name, "threads": args.threads, "batch": args.batch, **measure(cfg, args.batch)}),
              flush=True)


if __name__ == "__main__":
    main()
