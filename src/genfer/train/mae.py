"""MAE pretraining (``genfer train mae``): single process or DDP, resumable, seeded by the step number.

Each global step draws its batch order from ``(seed, epoch)``, its augmentation and its masking noise
from ``(seed, step)`` for the whole global batch, and each rank takes its contiguous slice, as the
recognizer trainer does. A held-out slice of the pooled images gives the validation loss (fixed masks)
and the reconstruction grids written to ``run_dir/grids/step-<S>.png``.

The finished encoder and decoder are exported to ``run_dir/final/`` (``model.safetensors`` with the
whole MAE, ``config.json``); PF-ViT and the ViT baselines start from it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from genfer.config import MAETrainConfig, to_dict
from genfer.data.augment import augmented_batch, normalize, to_uint8_tensor
from genfer.data.pool import load_image_pool
from genfer.losses.mae import mae_loss, patch_stats
from genfer.models.mae import MaskedAutoencoder, build_mae, patchify
from genfer.train.checkpoint import save_state_dict
from genfer.train.distributed import DistInfo
from genfer.train.loop import BatchPlan, Hook, TrainingRun, run_summary, setup_process, step_generator
from genfer.train.optim import build_optimizer, build_scheduler

log = logging.getLogger(__name__)

MASK_STREAM = 1
"""``step_generator`` stream of the masking noise (stream 0 draws the augmentation)."""


def split_holdout(n: int, holdout: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, held out) of a pool of ``n`` images: a fixed random ``holdout`` of them is held out."""
    if holdout >= n:
        raise ValueError(f"holdout {holdout} leaves no training images out of {n}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 7919))
    return perm[: n - holdout].sort().values, perm[n - holdout :].sort().values


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


def save_grid(rows: list[torch.Tensor], path: Path, *, scale: int = 2) -> Path:
    """Save image rows (each (B, C, H, W) in [-1, 1]) as one PNG grid, rows top to bottom."""
    from PIL import Image

    grid = torch.cat([torch.cat(list(r), dim=-1) for r in rows], dim=-2)  # (C, rows*H, B*W)
    arr = to_uint8_tensor(grid)
    img = Image.fromarray(arr[0].numpy() if arr.shape[0] == 1 else arr.permute(1, 2, 0).numpy())
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def train_mae(
    cfg: MAETrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = True,
    progress: bool = True,
    max_steps: int | None = None,
    dist_info: DistInfo | None = None,
) -> dict[str, Any]:
    """Pretrain (or resume) an MAE; write checkpoints, metrics, grids and ``final/`` to ``run_dir``.

    Returns:
        Summary: ``step``, ``total_steps``, ``train_seconds``, ``val_loss`` (last held-out loss).
    """
    info = setup_process(threads=cfg.threads, seed=cfg.seed, dist_info=dist_info)
    run_dir = Path(run_dir)
    enc = cfg.mae.encoder
    pool, _ = load_image_pool(cfg.sources, size=enc.image_size, channels=enc.in_chans, limit=cfg.limit,
                              progress=progress and info.is_main)
    train_idx, held_idx = split_holdout(len(pool), cfg.holdout, cfg.seed)
    held = normalize(pool[held_idx].float() / 255.0)

    model = build_mae(cfg.mae).to(info.device)
    optimizer = build_optimizer(model, cfg.optim)
    plan = BatchPlan.make(n=len(train_idx), batch_size=cfg.optim.batch_size, epochs=cfg.optim.epochs,
                          warmup_epochs=cfg.optim.warmup_epochs, seed=cfg.seed, info=info)
    scheduler = build_scheduler(optimizer, total_steps=plan.total_steps, warmup_steps=plan.warmup_steps)
    run = TrainingRun(run_dir=run_dir, config=to_dict(cfg), modules={"model": model}, optimizers={"optimizer": optimizer},
                      schedulers={"scheduler": scheduler}, info=info, name=cfg.name,
                      checkpoint_minutes=cfg.checkpoint_minutes, keep=cfg.keep_checkpoints, progress=progress)
    if resume:
        run.resume()
    ddp = DistributedDataParallel(model) if info.enabled else model
    num_patches = model.num_patches

    def train_step(step: int) -> dict[str, float]:
        idx = train_idx[plan.indices(step)]
        x = augmented_batch(pool[idx], cfg.augment, step_generator(cfg.seed, step), global_batch=plan.global_batch,
                            local=plan.local).to(info.device)
        noise = torch.rand(plan.global_batch, num_patches, generator=step_generator(cfg.seed, step, MASK_STREAM))
        model.train()
        out = ddp(x, noise=noise[plan.local].to(info.device))
        loss = mae_loss(out.pred, patchify(x, model.patch_size), out.mask, norm_pix=cfg.mae.norm_pix)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.optim.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        optimizer.step()
        scheduler.step()
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
    summary = run.loop(train_step, total_steps=plan.total_steps, max_steps=max_steps, hooks=hooks,
                       start_info={"train_images": plan.n, "heldout_images": len(held)})
    if info.is_main and summary["finished"]:
        export_mae(run_dir / "final", model, cfg)
    return run_summary(summary, "val_loss")


def export_mae(folder: Path, model: MaskedAutoencoder, cfg: MAETrainConfig) -> Path:
    """Write ``model.safetensors`` (the whole MAE) and ``config.json`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    save_state_dict(model.state_dict(), folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps(to_dict(cfg), indent=2))
    return folder


__all__ = ["export_mae", "reconstruct", "save_grid", "split_holdout", "train_mae"]
