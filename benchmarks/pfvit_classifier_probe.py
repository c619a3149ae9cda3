"""Does PF-ViT's E → S → C learn? A short run of L_emo (plus optionally Eq. 2's direct constraint), no G or D.

Starts E from a pretrained MAE run (as ``genfer train pfvit`` does), trains E, S and C with Adam on random
batches of FERPlus train (no augmentation) and, every 50 steps, prints one JSON line: the mean training loss of
the last 50 steps, accuracy on the first ``--val`` FER2013Valid faces, the histogram of predicted classes, and
the share of S's mask entries above 0.9 / below 0.1. This is how genfer found that the direct constraint at
weight 1 makes C answer "neutral" for every face (docs/pfvit.md).

    python benchmarks/pfvit_classifier_probe.py --mae runs/mae-cpu/final [--ortho 1.0] [--features z] [--steps 150]
"""

import argparse
import json
import time
from dataclasses import replace

import torch

from genfer.config import PFVIT_PRESETS
from genfer.io.images import normalize
from genfer.data.tensors import load_train_val
from genfer.losses.pfvit import abs_cosine, emotion_loss
from genfer.train.pfvit import initialise_from
from genfer.models.pfvit import build_pfvit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mae", default="runs/mae-cpu/final", help="MAE run folder E starts from")
    parser.add_argument("--preset", default="cpu", help="PF-ViT preset giving the sizes and data")
    parser.add_argument("--ortho", type=float, default=0.0, help="weight of the direct constraint (Eq. 2)")
    parser.add_argument("--ortho-reaches", choices=("encoder", "separator"), default="encoder",
                        help="let the direct constraint's gradient reach E and S (as in training) or S only")
    parser.add_argument("--features", choices=("v_e", "z"), default="v_e",
                        help="C on the [CLS] of V_e (PF-ViT) or of z (no separator: the ViT baseline)")
    parser.add_argument("--target", choices=("votes", "label"), default=None, help="L_emo targets (default: preset's)")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--val", type=int, default=600, help="FER2013Valid faces to evaluate on")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    cfg = PFVIT_PRESETS[args.preset]
    data = replace(cfg.data, limit_val=args.val, target=args.target or cfg.data.target)
    enc = cfg.model.mae.encoder
    train, val = load_train_val(data, num_classes=cfg.model.num_classes, image_size=enc.image_size,
                                in_chans=enc.in_chans)
    model = build_pfvit(cfg.model, with_generator=False, with_discriminator=False)
    initialise_from(model, args.mae, cfg.model)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    val_x = normalize(val.images.float() / 255.0)

    def logits_of(sep):
        return model.classifier(sep.z[:, 0] if args.features == "z" else sep.v_e[:, 0])

    batches = torch.Generator().manual_seed(0)
    losses, start = [], time.perf_counter()
    for step in range(1, args.steps + 1):
        idx = torch.randint(len(train.labels), (args.batch,), generator=batches)
        sep = model.separate(normalize(train.images[idx].float() / 255.0))
        loss = emotion_loss(logits_of(sep), train.targets[idx])
        if args.ortho:
            z = sep.z if args.ortho_reaches == "encoder" else sep.z.detach()
            loss = loss + args.ortho * abs_cosine(z * sep.mask, z * (1 - sep.mask))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step % 50 == 0 or step == args.steps:
            model.eval()
            with torch.no_grad():
                sep = model.separate(val_x)
                pred = logits_of(sep).argmax(1)
            model.train()
            print(json.dumps({
                "step": step, "ortho": args.ortho, "features": args.features, "target": data.target,
                "loss_last_50": round(sum(losses[-50:]) / len(losses[-50:]), 4),
                "val_accuracy": round((pred == val.labels).float().mean().item(), 4),
                "predicted_class_counts": torch.bincount(pred, minlength=cfg.model.num_classes).tolist(),
                "mask_above_0.9": round((sep.mask > 0.9).float().mean().item(), 4),
                "mask_below_0.1": round((sep.mask < 0.1).float().mean().item(), 4),
                "seconds": round(time.perf_counter() - start, 1),
            }), flush=True)


if __name__ == "__main__":
    main()
