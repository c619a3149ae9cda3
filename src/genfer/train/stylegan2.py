"""StyleGAN2 training (``genfer train stylegan2``): logistic GAN loss, lazy R1, optional path length, G EMA.

One global step on a batch of real images x (rosinality's ``train.py`` order):

1. D step: ``L_D = softplus(D(G(z))) + softplus(−D(x))`` (G frozen, no graph through it).
2. Every ``d_reg_every`` steps: ``(γ/2)·R1·d_reg_every`` on x (lazy regularisation).
3. G step: ``L_G = softplus(−D(G(z')))`` (D frozen).
4. Every ``g_reg_every`` steps when ``pl_weight`` > 0: ``pl_weight·g_reg_every·(a − ā)²`` on a batch shrunk by
   ``pl_batch_shrink``.
5. ``g_ema ← β·g_ema + (1 − β)·G`` (buffers copied).

z draws use style mixing with probability ``mixing_prob`` (a second z from a crossover index on). All
randomness of step s (augmentation, z, crossover, noise maps, path-length directions) is drawn for the
global batch from ``step_generator(seed, s, stream)``; each rank takes its slice, and gradients are averaged
over ranks before every optimiser step (:func:`~genfer.train.distributed.average_gradients`), so a run under
``torchrun`` follows the single-process one and resumes exactly.

Outputs in ``run_dir``: checkpoints of ``g``, ``d`` and ``g_ema`` (rosinality's names), ``metrics.jsonl``, sample
grids ``grids/step-<S>.png`` of ``g_ema`` at fixed z and, when ``fid_images`` > 0, the FID of ``g_ema`` samples
against held-out real images with the offline ``genfer-fer:<fid_model>`` features (the extractor's name is
logged with each value), and ``final/`` (``model.safetensors``: the ``g_ema`` state dict plus ``latent_avg``;
``config.json``). :func:`rosinality_checkpoint` turns a checkpoint into rosinality's dict format.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genfer.config import StyleGAN2TrainConfig, to_dict
from genfer.data.pool import load_image_pool, split_holdout
from genfer.hub import DISCRIMINATOR, discriminator_state, load_model
from genfer.inversion.load import inversion_parts, load_gan
from genfer.io import (
    CheckpointError,
    latest_checkpoint,
    load_into,
    load_state_dict,
    step_generator,
)
from genfer.io.images import normalize
from genfer.losses.stylegan2 import (
    d_logistic_loss,
    g_nonsaturating_loss,
    path_length_penalty,
    path_lengths,
    r1_penalty,
)
from genfer.metrics.extractors import load_recognizer_extractor
from genfer.metrics.features import FeatureAccumulator
from genfer.metrics.frechet import frechet_distance_stats
from genfer.models.stylegan2 import (
    Generator,
    average_latent,
    build_discriminator,
    build_generator,
)
from genfer.render import save_grid
from genfer.train.batches import training_batch
from genfer.train.best import BestSnapshot
from genfer.train.distributed import DistInfo, average_gradients
from genfer.train.loop import BatchPlan, Hook
from genfer.train.metrics_log import read_metrics
from genfer.train.runner import TrainContext, export_model_folder, trainer

log = logging.getLogger(__name__)

AUGMENT_STREAM, D_STREAM, G_STREAM, PL_STREAM = 0, 1, 2, 3
"""``step_generator`` streams of one step: augmentation, D-step fakes, G-step fakes, path-length batch."""


# ----------------------------------------------------------------------------- optimiser, EMA


def lazy_adam(module: nn.Module, *, lr: float, betas: tuple[float, float], reg_every: int | None) -> torch.optim.Adam:
    """Adam for a network regularised lazily every ``reg_every`` steps (None: not regularised).

    StyleGAN2's correction: with ``ratio = reg_every / (reg_every + 1)`` the optimiser uses ``lr·ratio`` and
    ``betas**ratio``, because the network takes ``reg_every + 1`` optimiser steps per ``reg_every`` batches.
    """
    ratio = reg_every / (reg_every + 1) if reg_every else 1.0
    return torch.optim.Adam(module.parameters(), lr=lr * ratio, betas=(betas[0] ** ratio, betas[1] ** ratio))


def ema_beta(*, images_seen: int, batch_size: int, ema_kimg: float, rampup: float = 0.0) -> float:
    """EMA decay for one step: ``0.5 ** (batch / ema_images)`` (a half-life of ``ema_kimg`` thousand images).

    With ``rampup`` > 0 the half-life is at most ``rampup·images_seen`` (StyleGAN2-ADA), so early weights are
    forgotten quickly. rosinality's ``accumulate`` decay ``0.5 ** (32 / 10_000)`` is ``ema_kimg=10`` at batch 32.
    """
    ema_images = ema_kimg * 1000.0
    if rampup > 0:
        ema_images = min(ema_images, images_seen * rampup)
    return 0.5 ** (batch_size / max(ema_images, 1e-8))


@torch.no_grad()
def accumulate(ema: nn.Module, model: nn.Module, beta: float) -> None:
    """``ema ← β·ema + (1 − β)·model`` for parameters; buffers (noise maps, blur kernels) are copied."""
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p.detach(), 1.0 - beta)
    for e, b in zip(ema.buffers(), model.buffers()):
        e.copy_(b)


# ----------------------------------------------------------------------------- latent draws


def draw_styles(generator: torch.Generator, *, batch: int, style_dim: int, n_latent: int,
                mixing_prob: float) -> tuple[list[torch.Tensor], int | None]:
    """z inputs of a global batch: one (B, D) draw, or two and a crossover index with probability ``mixing_prob``.

    Returns:
        (styles, inject_index): one or two (B, D) tensors; the crossover in [1, n_latent) or None.
    """
    mix = mixing_prob > 0 and float(torch.rand((), generator=generator)) < mixing_prob
    styles = [torch.randn(batch, style_dim, generator=generator) for _ in range(2 if mix else 1)]
    inject = int(torch.randint(1, n_latent, (1,), generator=generator)) if mix else None
    return styles, inject


def fake_batch(g: Generator, generator: torch.Generator, *, batch: int, local: slice, mixing_prob: float,
               device: torch.device, return_latents: bool = False) -> Any:
    """Generate this rank's ``local`` slice of a global batch of ``batch`` fakes, all draws from ``generator``.

    Returns:
        (b, C, H, W) images, or (images, W+ latents (b, n_latent, D)) with ``return_latents``.
    """
    styles, inject = draw_styles(generator, batch=batch, style_dim=g.style_dim, n_latent=g.n_latent,
                                 mixing_prob=mixing_prob)
    noise = [n[local].to(device) for n in g.make_noise(generator=generator, batch=batch)]
    return g([s[local].to(device) for s in styles], inject_index=inject, noise=noise, return_latents=return_latents)


# ----------------------------------------------------------------------------- evaluation


@torch.no_grad()
def generate(g: Generator, z: torch.Tensor, *, batch_size: int = 64, seed: int = 0) -> torch.Tensor:
    """Images (N, C, H, W) in [-1, 1] of z (N, D), noise maps drawn from ``seed``, in chunks."""
    g.eval()
    gen = torch.Generator().manual_seed(seed)
    device = next(g.parameters()).device
    out = [g(z[i : i + batch_size].to(device), generator=gen).clamp(-1, 1).cpu() for i in range(0, len(z), batch_size)]
    return torch.cat(out)


class FIDMonitor:
    """FID of a generator's samples against fixed real images, with the offline ``genfer-fer`` features.

    Args:
        real: (N, C, H, W) uint8 held-out images.
        model: recognizer behind the features (shipped name or folder).
        style_dim: size of z; N fixed z are drawn from ``seed``.
    """

    def __init__(self, real: torch.Tensor, *, model: str, style_dim: int, seed: int, device: torch.device) -> None:
        self.extractor = load_recognizer_extractor(model, device=str(device))
        self.name = self.extractor.name
        self.z = torch.randn(len(real), style_dim, generator=torch.Generator().manual_seed(seed + 4242))
        self.seed = seed
        self.real = self._stats(normalize(real.float() / 255.0))

    @torch.no_grad()
    def _stats(self, images: torch.Tensor) -> Any:
        acc = FeatureAccumulator(self.name)
        for i in range(0, len(images), 128):
            acc.update(self.extractor(images[i : i + 128]))
        return acc.compute()

    def __call__(self, g: Generator) -> float:
        """FID of ``g``'s samples at the fixed z against the real images."""

        return frechet_distance_stats(self.real, self._stats(generate(g, self.z, seed=self.seed)))


# ----------------------------------------------------------------------------- training


@trainer("stylegan2")
def train_stylegan2(cfg: StyleGAN2TrainConfig, ctx: TrainContext) -> dict[str, Any]:
    """Train (or resume) a StyleGAN2: checkpoints, ``metrics.jsonl``, sample grids, FID and ``final/`` (G_EMA with
    ``latent_avg``, and the discriminator) in the run folder.

    Returns:
        Summary: ``step``, ``total_steps``, ``train_seconds``, ``kimg`` and ``fid`` (last value, None if never
        measured) with ``fid_extractor`` naming the features.
    """
    info, run_dir = ctx.info, ctx.run_dir
    m = cfg.model
    pool, _ = load_image_pool(cfg.sources, size=m.resolution, channels=m.img_channels, limit=cfg.limit,
                              progress=ctx.show_progress)
    train_idx, held_idx = split_holdout(len(pool), cfg.holdout, cfg.seed)
    plan = BatchPlan.make(n=len(train_idx), batch_size=cfg.batch_size, epochs=1.0, warmup_epochs=0.0,
                          seed=cfg.seed, info=info)
    plan = replace(plan, total_steps=cfg.total_steps)

    g, d = build_generator(m).to(info.device), build_discriminator(m).to(info.device)
    g_ema = build_generator(m).to(info.device).eval().requires_grad_(False)
    accumulate(g_ema, g, 0.0)
    opt_g = lazy_adam(g, lr=cfg.lr, betas=cfg.betas, reg_every=cfg.g_reg_every if cfg.pl_weight > 0 else None)
    opt_d = lazy_adam(d, lr=cfg.lr, betas=cfg.betas, reg_every=cfg.d_reg_every if cfg.r1_gamma > 0 else None)
    if cfg.init_from and ctx.fresh:
        warm_start(cfg.init_from, g=g, g_ema=g_ema, d=d, arch=m)
    run = ctx.start(cfg, modules={"g": g, "d": d, "g_ema": g_ema}, optimizers={"g": opt_g, "d": opt_d},
                    extra_state={"mean_path_length": 0.0})
    last: dict[str, float] = {}
    b, local = plan.global_batch, plan.local
    d_only_steps = round(cfg.d_warmup_kimg * 1000 / b)

    def train_step(step: int) -> dict[str, float]:
        real = training_batch(plan, step, cfg.augment, step_generator(cfg.seed, step, AUGMENT_STREAM), pool,
                              subset=train_idx, device=info.device)
        g.train(), d.train()
        # D: logistic loss on real and (detached) fake images
        g.requires_grad_(False), d.requires_grad_(True)
        with torch.no_grad():
            fake = fake_batch(g, step_generator(cfg.seed, step, D_STREAM), batch=b, local=local,
                              mixing_prob=cfg.mixing_prob, device=info.device)
        real_logits, fake_logits = d(real), d(fake)
        d_loss = d_logistic_loss(real_logits, fake_logits)
        _optimise(d_loss, d, opt_d, info)
        if cfg.r1_gamma > 0 and step % cfg.d_reg_every == 0:
            real.requires_grad_(True)
            r1 = r1_penalty(d(real), real)
            _optimise(cfg.r1_gamma / 2 * cfg.d_reg_every * r1, d, opt_d, info)
            last["r1"] = r1.item()
        if step < d_only_steps:  # warm start: a new D first learns the current G
            return {"d": d_loss.item(), "real_score": real_logits.mean().item(),
                    "fake_score": fake_logits.mean().item(), "kimg": (step + 1) * b / 1000} | last
        # G: non-saturating loss
        g.requires_grad_(True), d.requires_grad_(False)
        fake = fake_batch(g, step_generator(cfg.seed, step, G_STREAM), batch=b, local=local,
                          mixing_prob=cfg.mixing_prob, device=info.device)
        g_loss = g_nonsaturating_loss(d(fake))
        _optimise(g_loss, g, opt_g, info)
        if cfg.pl_weight > 0 and step % cfg.g_reg_every == 0:
            last["pl"] = _path_length_step(step)
        accumulate(g_ema, g, ema_beta(images_seen=step * b, batch_size=b, ema_kimg=cfg.ema_kimg,
                                      rampup=cfg.ema_rampup))
        out = {"d": d_loss.item(), "g": g_loss.item(), "real_score": real_logits.mean().item(),
               "fake_score": fake_logits.mean().item(), "kimg": (step + 1) * b / 1000}
        return out | last  # the last R1 / path-length values, once measured

    def _path_length_step(step: int) -> float:
        gen = step_generator(cfg.seed, step, PL_STREAM)
        pb = max(info.world_size, b // cfg.pl_batch_shrink)
        share = slice(info.rank * pb // info.world_size, (info.rank + 1) * pb // info.world_size)
        images, latents = fake_batch(g, gen, batch=pb, local=share, mixing_prob=cfg.mixing_prob,
                                     device=info.device, return_latents=True)
        y = torch.randn(pb, *images.shape[1:], generator=gen)[share].to(info.device)
        lengths = path_lengths(images, latents, y)
        penalty, run.extra_state["mean_path_length"] = path_length_penalty(
            lengths, run.extra_state["mean_path_length"], decay=cfg.pl_decay,
            batch_mean=_global_mean(lengths.detach(), info))
        _optimise(cfg.pl_weight * cfg.g_reg_every * penalty, g, opt_g, info)
        return penalty.item()

    grid_z = torch.randn(cfg.grid_images, m.style_dim, generator=torch.Generator().manual_seed(cfg.seed + 777))
    fid = None
    if cfg.fid_images and info.is_main:
        fid = FIDMonitor(pool[held_idx[: cfg.fid_images]], model=cfg.fid_model, style_dim=m.style_dim, seed=cfg.seed,
                         device=info.device)

    def export(folder: Path) -> Path:
        return export_model_folder(folder, cfg, generator_state(g_ema), extra={DISCRIMINATOR: d.state_dict()})

    def kimg(step: int) -> float:
        return step * b / 1000

    log_file = run_dir / "metrics.jsonl"
    best = BestSnapshot.from_records(run_dir / "best", "fid", read_metrics(log_file) if log_file.is_file() else (),
                                     upto_step=run.step, position=kimg)

    def evaluate(step: int) -> dict[str, Any]:
        out: dict[str, Any] = {"kimg": kimg(step)}
        if cfg.grid_images:
            save_sample_grid(g_ema, grid_z, run_dir / "grids" / f"step-{step:09d}.png", seed=cfg.seed)
        if fid is not None:
            value = fid(g_ema)
            out |= {"fid": value, "fid_extractor": fid.name, "fid_images": cfg.fid_images,
                    "best_so_far": best.offer(value, step=step, position=kimg(step), export=export)}
        return out

    def export_final(folder: Path) -> None:
        if cfg.plateau_kimg > 0 or cfg.target_fid > 0:
            if best.holds_best():
                shutil.copytree(best.folder, folder, dirs_exist_ok=True)
                return
            log.warning("best/ does not hold the best FID's weights (measured at step %s before it was kept): "
                        "final/ holds the last weights", best.step)
        export(folder)

    hooks = [Hook(every=cfg.every_steps(cfg.eval_every_kimg), fn=evaluate)] if cfg.grid_images or fid else []
    summary = ctx.finish(run, train_step, total_steps=plan.total_steps, hooks=hooks, metrics=("fid", "fid_extractor"),
                         start_info={"train_images": plan.n, "heldout_images": len(held_idx)}, export=export_final,
                         stop_when=lambda: best.reached(cfg.target_fid) or best.plateau(cfg.plateau_kimg))
    return summary | {"kimg": kimg(run.step), "best_fid": best.value, "best_kimg": best.position}


def _optimise(loss: torch.Tensor, module: nn.Module, optimizer: torch.optim.Optimizer, info: DistInfo) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    average_gradients(module, info)
    optimizer.step()


def _global_mean(x: torch.Tensor, info: DistInfo) -> float:
    """Mean of ``x`` over all ranks' elements (equal counts per rank)."""
    if not info.enabled:
        return float(x.mean())
    import torch.distributed as dist

    t = x.mean().reshape(1).clone()
    dist.all_reduce(t)
    return float(t) / info.world_size


@torch.no_grad()
def save_sample_grid(g: Generator, z: torch.Tensor, path: Path, *, seed: int = 0, columns: int = 8) -> Path:
    """Save samples of ``g`` at z (N, D) as a grid of ``columns`` images per row."""
    images = generate(g, z, seed=seed)
    rows = [images[i : i + columns] for i in range(0, len(images), columns)]
    if len(rows) > 1 and len(rows[-1]) < columns:
        rows[-1] = torch.cat([rows[-1], -torch.ones(columns - len(rows[-1]), *images.shape[1:])])
    return save_grid(rows, path)


# ----------------------------------------------------------------------------- export


def generator_state(g_ema: Generator) -> dict[str, torch.Tensor]:
    """What a generator model folder's ``model.safetensors`` holds: ``g_ema``'s state dict and ``latent_avg`` (D,)."""
    return dict(g_ema.state_dict()) | {"latent_avg": average_latent(g_ema)}


def warm_start(source: str | Path, *, g: Generator, g_ema: Generator, d: nn.Module, arch: Any) -> None:
    """Initialise G and G_EMA from the EMA generator of ``source`` (shipped name, model or run folder) and D from
    its discriminator when it keeps one (else D stays new). The generator's architecture must equal ``arch``."""
    gan = load_gan(source)
    parts = inversion_parts(gan)
    if to_dict(parts.arch) != to_dict(arch):
        raise CheckpointError(f"init_from {source}: its generator has another architecture than this run's model "
                              "section")
    state = parts.generator.state_dict()
    load_into(g, state, source=str(gan.folder))
    load_into(g_ema, state, source=str(gan.folder))
    d_state = discriminator_state(gan.folder)
    if d_state is not None:
        load_into(d, d_state, source=str(gan.folder))
    log.info("warm start from %s (generator%s)", gan.folder, " and discriminator" if d_state is not None else " only")


def rosinality_checkpoint(folder: str | Path) -> dict[str, Any]:
    """A ``genfer train stylegan2`` checkpoint as rosinality's dict ``{'g_ema', 'g', 'd', 'latent_avg'}``.

    Args:
        folder: a checkpoint folder (``ckpt-*``) or a run folder (its latest checkpoint).

    Returns:
        State dicts of the three networks (rosinality's key layout) and ``latent_avg`` (D,); save it with
        ``torch.save`` for pSp / e4e / HyperStyle style tools, load it back with
        :func:`genfer.models.stylegan2.load_rosinality_checkpoint`.
    """
    folder = Path(folder)
    if not (folder / "g_ema.safetensors").is_file():
        ckpt = latest_checkpoint(folder)
        if ckpt is None:
            raise CheckpointError(f"{folder} is neither a StyleGAN2 checkpoint nor a run folder with one")
        folder = ckpt
    g_ema = load_model(folder, methods=("stylegan2",)).model  # reads g_ema.safetensors, computes latent_avg
    out: dict[str, Any] = {k: load_state_dict(folder / f"{k}.safetensors") for k in ("g", "d")}
    out["g_ema"] = dict(g_ema.state_dict())
    out["latent_avg"] = g_ema.latent_avg.clone()
    return out


def save_rosinality_checkpoint(folder: str | Path, path: str | Path) -> Path:
    """Write :func:`rosinality_checkpoint` of ``folder`` to ``path`` with ``torch.save`` (tensors only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(rosinality_checkpoint(folder), path)
    return path


__all__ = [
    "FIDMonitor",
    "accumulate",
    "draw_styles",
    "ema_beta",
    "generator_state",
    "fake_batch",
    "generate",
    "lazy_adam",
    "rosinality_checkpoint",
    "save_rosinality_checkpoint",
    "save_sample_grid",
    "train_stylegan2",
    "warm_start",
]
