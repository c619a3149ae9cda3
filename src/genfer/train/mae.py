"""MAE pretraining (``genfer train mae``): single process or DDP, resumable, seeded by the step number.

Each global step draws its batch order from ``(seed, epoch)``, its augmentation and its masking noise
from ``(seed, step)`` for the whole global batch, and each rank takes its contiguous slice, as the
recognizer trainer does. A held-out slice of the pooled images gives the validation loss (fixed masks)
and the reconstruction grids written to ``run_dir/grids/step-<S>.png``. ``optim.precision=bfloat16`` runs
the forward pass and the loss under bfloat16 autocast (weights and validation stay float32).

The finished encoder and decoder are exported to ``run_dir/final/`` (``model.safetensors`` with the
whole MAE, ``config.json``); PF-ViT and the ViT baselines start from it.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from genfer.config import MAETrainConfig
from genfer.data.pool import load_image_pool, split_holdout
from genfer.io import step_generator
from genfer.io.images import normalize
from genfer.losses.mae import mae_loss, patch_stats
from genfer.models.mae import MaskedAutoencoder, build_mae, patchify
from genfer.predict import autocast
from genfer.render import save_grid
from genfer.train.batches import training_batch
from genfer.train.loop import BatchPlan, Hook
from genfer.train.optim import build_optimizer, build_scheduler, optimizer_step
from genfer.train.runner import TrainContext, export_model_folder, trainer

log = logging.getLogger(__name__)

MASK_STREAM = 1
"""``step_generator`` stream of the masking noise (stream 0 draws the augmentation)."""


@torch.no_grad()
def reconstruct(model: MaskedAutoencoder, x: torch.Tensor, noise: torch.Tensor, *, norm_pix: bool) -> dict[str, torch.Tensor]:
    """Masked input, prediction and prediction-with-visible-patches of a batch, all in [-1, 1].

    Args:
        model: the MAE (eval mode is set by the caller).
        x: (B, C, H, W) normalised images.
        noise: (B, N) masking noise.
        norm_pix: the model predicts per-patch normalised pixels (un-normalised here with the input's stats).

    Returns:
        ``masked``, ``pred``, ``pasted`` (B, C, H, W) and ``loss`` (scalar, masked patches only).
    """
    out = model(x, noise=noise)
    target = patchify(x, model.patch_size)
    loss = mae_loss(out.pred, target, out.mask, norm_pix=norm_pix)
    pred = out.pred
    if norm_pix:
        mean, std = patch_stats(target)
        pred = pred * std + mean
    m = out.mask.unsqueeze(-1)
    return {
        "masked": model.unpatchify(target * (1 - m)),
        "pred": model.unpatchify(pred).clamp(-1, 1),
        "pasted": model.unpatchify(target * (1 - m) + pred * m).clamp(-1, 1),
        "loss": loss,
    }


@trainer("mae")
def train_mae(cfg: MAETrainConfig, ctx: TrainContext) -> dict[str, Any]:
    """Pretrain (or resume) an MAE: checkpoints, ``metrics.jsonl``, grids and ``final/`` in the run folder.
    Summary: ``step``, ``total_steps``, ``train_seconds``, ``val_loss`` (last held-out loss)."""
    info, run_dir = ctx.info, ctx.run_dir
    enc = cfg.mae.encoder
    pool, _ = load_image_pool(cfg.sources, size=enc.image_size, channels=enc.in_chans, limit=cfg.limit,
                              progress=ctx.show_progress)
    train_idx, held_idx = split_holdout(len(pool), cfg.holdout, cfg.seed)
    held = normalize(pool[held_idx].float() / 255.0)

    model = build_mae(cfg.mae).to(info.device)
    optimizer = build_optimizer(model, cfg.optim)
    plan = BatchPlan.make(n=len(train_idx), batch_size=cfg.optim.batch_size, epochs=cfg.optim.epochs,
                          warmup_epochs=cfg.optim.warmup_epochs, seed=cfg.seed, info=info)
    scheduler = build_scheduler(optimizer, total_steps=plan.total_steps, warmup_steps=plan.warmup_steps)
    run = ctx.start(cfg, modules={"model": model}, optimizers={"optimizer": optimizer},
                    schedulers={"scheduler": scheduler})
    ddp = DistributedDataParallel(model) if info.enabled else model
    num_patches = model.num_patches

    def train_step(step: int) -> dict[str, float]:
        x = training_batch(plan, step, cfg.augment, step_generator(cfg.seed, step), pool, subset=train_idx,
                           device=info.device)
        noise = torch.rand(plan.global_batch, num_patches, generator=step_generator(cfg.seed, step, MASK_STREAM))
        model.train()
        with autocast(info.device, cfg.optim.precision):
            out = ddp(x, noise=noise[plan.local].to(info.device))
            loss = mae_loss(out.pred, patchify(x, model.patch_size), out.mask, norm_pix=cfg.mae.norm_pix)
        optimizer_step(loss, model, optimizer, scheduler=scheduler, grad_clip=cfg.optim.grad_clip)
        return {"loss": loss.item(), "epoch": plan.epoch(step + 1), "lr": optimizer.param_groups[0]["lr"]}

    held_noise = torch.rand(len(held), num_patches, generator=torch.Generator().manual_seed(cfg.seed + 104729))

    def validate(step: int) -> dict[str, float]:
        model.eval()
        losses = [reconstruct(model, held[i : i + 128].to(info.device), held_noise[i : i + 128],
                              norm_pix=cfg.mae.norm_pix)["loss"].item() * len(held[i : i + 128])
                  for i in range(0, len(held), 128)]
        k = cfg.grid_images
        if k:
            r = reconstruct(model, held[:k].to(info.device), held_noise[:k], norm_pix=cfg.mae.norm_pix)
            save_grid([held[:k], r["masked"].cpu(), r["pred"].cpu(), r["pasted"].cpu()],
                      run_dir / "grids" / f"step-{step:09d}.png")
        return {"epoch": plan.epoch(step), "val_loss": sum(losses) / max(1, len(held))}

    hooks = [Hook(every=plan.every(cfg.grid_every_epochs), fn=validate)] if len(held) else []
    return ctx.finish(run, train_step, total_steps=plan.total_steps, hooks=hooks, metrics=("val_loss",),
                      start_info={"train_images": plan.n, "heldout_images": len(held), "precision": cfg.optim.precision},
                      export=lambda folder: export_model_folder(folder, cfg, model.state_dict()))


__all__ = ["reconstruct", "train_mae"]
