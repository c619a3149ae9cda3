"""Training speed of MAE pretraining and PF-ViT on the CPU presets, images/s, on synthetic batches.

Runs full optimisation steps (forward, backward, optimiser) of the preset's model at its batch size after a
warm-up, and prints one JSON object.

    python benchmarks/pfvit_speed.py [--threads 2] [--steps 5] [--orthogonality fr]
"""

import argparse
import json
import time

import torch

from genfer.config import MAE_TRAIN_PRESETS, PFVIT_PRESETS, apply_overrides
from genfer.losses.mae import mae_loss
from genfer.models.mae import build_mae, patchify
from genfer.train.optim import build_optimizer
from genfer.train.pfvit import orthogonality_network, pfvit_discriminator_loss, pfvit_generator_losses
from genfer.models.pfvit import build_pfvit


def timed(step, steps: int, batch: int) -> float:
    step()  # warm-up
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return round(batch * steps / (time.perf_counter() - t), 2)


def mae_speed(preset: str, steps: int) -> dict:
    cfg = MAE_TRAIN_PRESETS[preset]
    model = build_mae(cfg.mae).train()
    opt = build_optimizer(model, cfg.optim)
    enc, b = cfg.mae.encoder, cfg.optim.batch_size
    x = torch.rand(b, enc.in_chans, enc.image_size, enc.image_size) * 2 - 1
    g = torch.Generator().manual_seed(0)

    def step() -> None:
        out = model(x, generator=g)
        loss = mae_loss(out.pred, patchify(x, enc.patch_size), out.mask)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return {"preset": preset, "batch": b, "images_per_s": timed(step, steps, b)}


def pfvit_speed(preset: str, steps: int, orthogonality: str) -> dict:
    cfg = apply_overrides(PFVIT_PRESETS[preset], [f"model.orthogonality={orthogonality}"])
    model = build_pfvit(cfg.model).train()
    net = orthogonality_network(cfg.model, torch.device("cpu"))
    opt_g = build_optimizer(torch.nn.ModuleList([model.encoder, model.separator, model.generator, model.classifier]),
                            cfg.optim)
    opt_d = build_optimizer(model.discriminator, cfg.disc_optim)
    enc, b = cfg.model.mae.encoder, cfg.optim.batch_size
    x = torch.rand(b, enc.in_chans, enc.image_size, enc.image_size) * 2 - 1
    labels = torch.arange(b) % cfg.model.num_classes
    targets = torch.nn.functional.one_hot(labels, cfg.model.num_classes).float()

    def step() -> None:
        model.discriminator.requires_grad_(False)
        terms, images = pfvit_generator_losses(model, x, labels, targets, cfg, net)
        opt_g.zero_grad()
        terms["total"].backward()
        opt_g.step()
        model.discriminator.requires_grad_(True)
        d = pfvit_discriminator_loss(model, x, images["x_hat"].detach(), images["x_tilde"].detach(), labels, cfg.model)
        opt_d.zero_grad()
        d.backward()
        opt_d.step()

    return {"preset": preset, "orthogonality": orthogonality, "batch": b, "images_per_s": timed(step, steps, b)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--orthogonality", default="fr", help="PF-ViT option to time (none, direct, generic, fr)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out = {"threads": args.threads, "mae": mae_speed(args.preset, args.steps),
           "pfvit": pfvit_speed(args.preset, args.steps, args.orthogonality)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
