"""Which output head turns PF-ViT's decoder features into the closest, seamless x̂? Prints one JSON object.

    python benchmarks/pfvit_heads.py [--model pfvit] [--train 3000] [--steps 1500] [--heads ...]

The trained model's E, S, MCA and decoder are frozen; the decoder's patch features of x̂ = G(V_e + V_p) are computed
once for the first ``--train`` FERPlus train faces and the first 256 FER2013Valid faces, and each head is trained on
them alone for ``--steps`` Adam steps (lr 1e-3, batch 64) with the MSE to the input, as a fresh head would start:

- ``patch``: the paper's per-patch pixel head (a new linear layer);
- ``conv``: :class:`ConvOutputHead` over the model's own trained per-patch image;
- ``upsample``: :class:`UpsampleOutputHead`;
- ``windowed``: :class:`WindowedOutputHead`, started from the model's per-patch head (as ``init_from`` does).

Per head, every 500 steps, on the held-out faces: MSE, SSIM and the seam ratio of :mod:`pfvit_seams` (mean
|horizontal step| across patch borders / inside patches; real faces ≈ 0.98). The model's own G is the ``trained``
row. This isolates what each head can decode from the same features; in training the features adapt too.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn
from torch.nn import functional as F

from genfer.config import DataConfig
from genfer.data.tensors import load_split
from genfer.hub import load_model
from genfer.io.images import normalize
from genfer.metrics.ssim import ssim
from genfer.models.mae import unpatchify
from genfer.models.pfvit import ConvOutputHead, UpsampleOutputHead, WindowedOutputHead

from pfvit_seams import seams


class PatchHead(nn.Module):
    """The per-patch pixel head as a head: features (B, N, D) -> (B, C, H, W)."""

    def __init__(self, pred: nn.Linear, patch_size: int) -> None:
        super().__init__()
        self.pred, self.patch_size = pred, patch_size

    def forward(self, base: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        return unpatchify(self.pred(features), self.patch_size)


def new_head(name: str, decoder: nn.Module, channels: int) -> nn.Module:
    """A fresh head of kind ``name`` for ``decoder`` (its trained pixel head ``pred`` is not changed)."""
    sizes = {"dim": decoder.decoder_dim, "patch_size": decoder.patch_size, "in_chans": decoder.in_chans}
    if name == "patch":
        return PatchHead(nn.Linear(decoder.decoder_dim, decoder.pred.out_features), decoder.patch_size)
    if name == "conv":
        return ConvOutputHead(**sizes, channels=channels)
    if name == "upsample":
        return UpsampleOutputHead(**sizes, channels=channels)
    head = WindowedOutputHead(**sizes, channels=channels)
    head.start_from(decoder.pred)
    return head


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="pfvit")
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--heads", default="patch,conv,upsample,windowed")
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    loaded = load_model(args.model, task="neutralize")
    model, enc = loaded.model.eval(), loaded.config.model.mae.encoder
    g, p = model.generator, enc.patch_size

    def faces(split: str, limit: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(images, decoder features, the trained G's per-patch image) of the first ``limit`` faces."""
        data = load_split(DataConfig(), split, limit, num_classes=loaded.num_classes, image_size=enc.image_size,
                          in_chans=enc.in_chans)
        x = normalize(data.images.float() / 255)
        with torch.no_grad():
            feats = torch.cat([g.patch_features(sum_tokens(model, b))
                               for b in x.split(256)])
            base = unpatchify(g.decoder.pred(feats), p)
        return x, feats, base

    started = time.perf_counter()
    x_train, f_train, base_train = faces("train", args.train)
    x_val, f_val, base_val = faces("valid", 256)
    result = {"model": str(args.model), "train_faces": len(x_train), "val_faces": len(x_val), "steps": args.steps,
              "feature_seconds": round(time.perf_counter() - started, 1), "heads": []}

    def score(name: str, step: int, y: torch.Tensor) -> dict:
        y = y.clamp(-1, 1)
        return {"head": name, "step": step, "mse": round(float(F.mse_loss(y, x_val)), 5),
                "ssim": round(float(ssim(y, x_val, data_range=2.0).mean()), 4), "seam_ratio": seams(y, p)["ratio"]}

    with torch.no_grad():
        result["heads"].append(score("trained", 0, g(sum_tokens(model, x_val))))
    for name in args.heads.split(","):
        head = new_head(name, g.decoder, args.channels)
        opt = torch.optim.Adam(head.parameters(), 1e-3)
        started = time.perf_counter()
        for step in range(1, args.steps + 1):
            idx = torch.randint(len(x_train), (64,))
            loss = F.mse_loss(head(base_train[idx], f_train[idx]), x_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 500 == 0 or step == args.steps:
                with torch.no_grad():
                    row = score(name, step, head(base_val, f_val))
                row["train_seconds"] = round(time.perf_counter() - started, 1)
                result["heads"].append(row)
    print(json.dumps(result, indent=1))


def sum_tokens(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """x (B, C, H, W) -> V_e + V_p (B, 1+N, L), the tokens of the reconstruction x̂."""
    sep = model.separate(x)
    return sep.v_e + sep.v_p


if __name__ == "__main__":
    main()
