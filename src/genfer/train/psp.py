"""pSp encoder training (``genfer train psp``) against a frozen, trained StyleGAN2; resumable, DDP-ready.

One step on a batch of real faces x (flipped at random): the encoder predicts W+ = w̄ + offsets, the frozen
generator renders y = G(W+) (noise maps drawn for the step when ``train_noise``, else its fixed maps), both are
brought to the encoder's input size, and the encoder takes one optimiser step on
``0.8·L2 + 1·LPIPS + 0.1·ID + 1e-4·‖W+ − w̄‖`` (IFER's appendix weights; see
:class:`~genfer.inversion.criterion.InversionCriterion`). Every ``eval_every_steps`` the held-out images are
inverted with the generator's fixed noise: mean loss terms, MSE, PSNR and SSIM are logged and a grid (inputs
over reconstructions) is written to ``grids/step-<S>.png``.

The generator comes from ``cfg.generator`` when a run starts; checkpoints hold the whole pSp model (encoder and
generator: ``model.safetensors``), so a run resumes without it. ``final/`` holds the same plus ``config.json``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import torch

from genfer.config import PSpTrainConfig, to_dict
from genfer.data.pool import load_image_pool, split_holdout
from genfer.inversion.criterion import InversionCriterion
from genfer.inversion.load import inversion_parts, load_gan
from genfer.io import CheckpointError, step_generator
from genfer.io.images import normalize
from genfer.metrics.ssim import mse, psnr, ssim
from genfer.models.psp import PSp, build_psp_encoder, resize_to
from genfer.models.stylegan2 import build_generator
from genfer.render import save_grid
from genfer.train.batches import training_batch
from genfer.train.distributed import average_gradients
from genfer.train.loop import BatchPlan, Hook
from genfer.train.runner import TrainContext, export_model_folder, trainer

log = logging.getLogger(__name__)

AUGMENT_STREAM, NOISE_STREAM = 0, 1


def build_psp(cfg: PSpTrainConfig, *, load_generator: bool, device: torch.device | str = "cpu") -> PSp:
    """A pSp model for ``cfg``: a fresh encoder and the generator (loaded from ``cfg.generator`` when asked).

    The generator folder's architecture must equal ``cfg.stylegan2``; the encoder's ``latent_avg`` is set from it.
    """
    encoder = build_psp_encoder(cfg.encoder, cfg.stylegan2)
    if not load_generator:
        return PSp(encoder=encoder, decoder=build_generator(cfg.stylegan2)).to(device)
    parts = inversion_parts(load_gan(cfg.generator, device=device))
    if to_dict(parts.arch) != to_dict(cfg.stylegan2):
        raise CheckpointError(f"generator {cfg.generator} has another architecture than this config's stylegan2 "
                              "section (copy its model section there)")
    encoder.set_latent_avg(parts.latent_avg)
    return PSp(encoder=encoder, decoder=parts.generator).to(device)


def build_encoder_optimizer(cfg: PSpTrainConfig, module: torch.nn.Module) -> torch.optim.Optimizer:
    """``ranger`` (RAdam + Lookahead k=6, α=0.5, pSp's optimiser) or ``adam``, no weight decay."""
    from timm.optim import create_optimizer_v2

    opt = "lookahead_radam" if cfg.optimizer == "ranger" else "adam"
    return create_optimizer_v2(module, opt=opt, lr=cfg.lr, weight_decay=0.0, betas=tuple(cfg.betas))


def pooled_run_data(cfg: Any, ctx: TrainContext) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, BatchPlan]:
    """(pooled uint8 images at the generator's size, training indices, held-out indices, the plan of ``cfg.steps``
    steps) of an encoder run on pooled faces (pSp, ASIT)."""
    g_cfg = cfg.stylegan2
    pool, _ = load_image_pool(cfg.sources, size=g_cfg.resolution, channels=g_cfg.img_channels, limit=cfg.limit,
                              progress=ctx.show_progress)
    train_idx, held_idx = split_holdout(len(pool), cfg.holdout, cfg.seed)
    plan = BatchPlan.make(n=len(train_idx), batch_size=cfg.batch_size, epochs=1.0, warmup_epochs=0.0, seed=cfg.seed,
                          info=ctx.info)
    return pool, train_idx, held_idx, replace(plan, total_steps=cfg.steps)


def heldout_hooks(cfg: Any, ctx: TrainContext, model: PSp, criterion: InversionCriterion,
                  held_images: torch.Tensor) -> list[Hook]:
    """Every ``cfg.eval_every_steps``: :func:`evaluate_inversion` of the held-out uint8 images and a grid of the first
    ``cfg.grid_images`` (inputs over reconstructions) in ``grids/step-<S>.png``; no hook without held-out images."""
    held = normalize(held_images.float() / 255.0)
    size = model.encoder.input_size

    def evaluate(step: int) -> dict[str, float]:
        out = evaluate_inversion(model, criterion, held, batch_size=max(1, cfg.batch_size))
        if cfg.grid_images:
            k = cfg.grid_images
            with torch.no_grad():
                recon = model(resize_to(held[:k].to(ctx.device), size)).image.clamp(-1, 1).cpu()
            save_grid([resize_to(held[:k], size), resize_to(recon, size)],
                      ctx.run_dir / "grids" / f"step-{step:09d}.png")
        return out

    return [Hook(every=cfg.eval_every_steps, fn=evaluate)] if len(held) else []


@trainer("psp")
def train_psp(cfg: PSpTrainConfig, ctx: TrainContext) -> dict[str, Any]:
    """Train (or resume) a pSp encoder: checkpoints, ``metrics.jsonl``, grids and ``final/`` in the run folder.
    Summary: ``step``, ``total_steps``, ``train_seconds`` and the last held-out ``val_loss``, ``val_mse``,
    ``val_psnr``, ``val_ssim`` (None if never evaluated)."""
    info = ctx.info
    pool, train_idx, held_idx, plan = pooled_run_data(cfg, ctx)
    psp = build_psp(cfg, load_generator=ctx.fresh, device=info.device)
    encoder, decoder = psp.encoder, psp.decoder
    decoder.eval().requires_grad_(False)
    optimizer = build_encoder_optimizer(cfg, encoder)
    run = ctx.start(cfg, modules={"model": psp}, optimizers={"encoder": optimizer})
    criterion = InversionCriterion(cfg.loss, device=info.device)
    size = encoder.input_size
    b, local = plan.global_batch, plan.local

    def train_step(step: int) -> dict[str, float]:
        x = resize_to(training_batch(plan, step, cfg.augment, step_generator(cfg.seed, step, AUGMENT_STREAM), pool,
                                     subset=train_idx, device=info.device), size)
        noise = None
        if cfg.train_noise:
            maps = decoder.make_noise(generator=step_generator(cfg.seed, step, NOISE_STREAM), batch=b)
            noise = [n[local].to(info.device) for n in maps]
        encoder.train()
        out = psp(x, noise=noise)
        terms = criterion(resize_to(out.image, size), x, out.wplus, encoder.latent_avg)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        average_gradients(encoder, info)
        optimizer.step()
        return {name: t.item() for name, t in terms.items()}

    hooks = heldout_hooks(cfg, ctx, psp, criterion, pool[held_idx[: cfg.eval_images]])
    return ctx.finish(run, train_step, total_steps=plan.total_steps, hooks=hooks,
                      metrics=("val_loss", "val_mse", "val_psnr", "val_ssim"),
                      start_info={"train_images": plan.n, "heldout_images": len(held_idx),
                                  "perceptual": criterion.perceptual_name},
                      export=lambda folder: export_model_folder(folder, cfg, psp.state_dict()))


@torch.no_grad()
def evaluate_inversion(psp: PSp, criterion: InversionCriterion, images: torch.Tensor, *,
                       batch_size: int = 32) -> dict[str, float]:
    """Mean loss terms (``val_<term>``, ``val_loss`` the total) and MSE / PSNR / SSIM (images scaled to [0, 1])
    of inverting ``images`` (N, C, H, W) in [-1, 1] with the generator's fixed noise."""

    psp.eval()
    size = psp.encoder.input_size
    device = next(psp.parameters()).device
    sums: dict[str, float] = {}
    for i in range(0, len(images), batch_size):
        x = resize_to(images[i : i + batch_size].to(device), size)
        out = psp(x)
        y = resize_to(out.image, size)
        terms = {f"val_{k}" if k != "total" else "val_loss": float(v) * len(x)
                 for k, v in criterion(y, x, out.wplus, psp.encoder.latent_avg).items()}
        y01, x01 = (y.clamp(-1, 1) + 1) / 2, (x + 1) / 2
        terms["val_mse"] = float(mse(y01, x01).sum())
        terms["val_psnr"] = float(psnr(y01, x01, data_range=1.0).sum())
        terms["val_ssim"] = float(ssim(y01, x01, data_range=1.0).sum())
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + v
    return {k: v / max(1, len(images)) for k, v in sums.items()}


__all__ = ["build_encoder_optimizer", "build_psp", "evaluate_inversion", "heldout_hooks", "pooled_run_data", "train_psp"]
