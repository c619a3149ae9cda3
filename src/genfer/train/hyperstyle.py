"""HyperStyle training (``genfer train hyperstyle``): the hypernetwork over a frozen pSp model; resumable, DDP-ready.

One step on a batch of real faces x (flipped at random): the frozen encoder gives w and ŷ₀ = G(w); for each of
``hypernet.iterations`` iterations the hypernetwork adds offsets to the (detached) previous ones from x and the
(detached) previous image, the tuned generator renders ŷ_t, and the inversion loss of ŷ_t is back-propagated
(pSp's loss without its latent term: 0.8·L2 + LPIPS + 0.1·ID with the configured weights); the optimiser steps
once on the gradients of all iterations, whose mean loss is logged. Every ``eval_every_steps`` the held-out
faces are inverted (pSp's evaluation: loss terms, MSE, PSNR, SSIM of the last iteration) and a grid (inputs over
reconstructions) is written to ``grids/step-<S>.png``; a fresh run first logs the same of pSp alone.

Checkpoints and ``final/`` hold the whole model (encoder, generator, hypernetwork: ``model.safetensors``).
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from genfer.config import HyperStyleTrainConfig, to_dict
from genfer.inversion.criterion import InversionCriterion
from genfer.inversion.load import inversion_parts, load_gan
from genfer.io import CheckpointError, step_generator
from genfer.io.images import normalize
from genfer.models.hyperstyle import HyperStyle, build_hypernet
from genfer.models.psp import build_psp_encoder, resize_to
from genfer.models.stylegan2 import build_generator
from genfer.train.batches import training_batch
from genfer.train.distributed import average_gradients
from genfer.train.psp import evaluate_inversion, heldout_hooks, pooled_run_data
from genfer.train.runner import TrainContext, export_model_folder, trainer

log = logging.getLogger(__name__)

AUGMENT_STREAM = 0


def build_hyperstyle(cfg: HyperStyleTrainConfig, *, load_inverter: bool, device: torch.device | str = "cpu"
                     ) -> HyperStyle:
    """A HyperStyle model for ``cfg``: a fresh hypernetwork over the pSp model ``cfg.inverter`` (loaded when asked,
    else freshly built: a resumed run's checkpoint holds it). The pSp model must have ``cfg``'s architecture."""
    if not load_inverter:
        encoder, decoder = build_psp_encoder(cfg.encoder, cfg.stylegan2), build_generator(cfg.stylegan2)
    else:
        loaded = load_gan(cfg.inverter, device=device)
        parts = inversion_parts(loaded)
        encoder_cfg = getattr(loaded.config, "encoder", None)
        if parts.encoder is None or to_dict(parts.arch) != to_dict(cfg.stylegan2) or encoder_cfg is None or \
                to_dict(encoder_cfg) != to_dict(cfg.encoder):
            raise CheckpointError(f"inverter {cfg.inverter} is not a pSp model with this config's stylegan2 and "
                                  "encoder sections (copy its sections there)")
        encoder, decoder = parts.encoder, parts.generator
    model = HyperStyle(encoder=encoder, decoder=decoder, hypernet=build_hypernet(cfg.hypernet, decoder),
                       iterations=cfg.hypernet.iterations).to(device)
    model.decoder.latent_avg.copy_(model.encoder.latent_avg)
    return model


@trainer("hyperstyle")
def train_hyperstyle(cfg: HyperStyleTrainConfig, ctx: TrainContext) -> dict[str, Any]:
    """Train (or resume) a HyperStyle hypernetwork: checkpoints, ``metrics.jsonl``, grids and ``final/``. Summary:
    ``step``, ``total_steps``, ``train_seconds`` and the last held-out ``val_loss``, ``val_mse``, ``val_psnr``,
    ``val_ssim`` (None if never evaluated). A fresh run logs the same figures of the pSp inversion alone in its
    start record (``psp_val_*``: the zero-initialised offsets leave the generator as it is)."""
    info = ctx.info
    pool, train_idx, held_idx, plan = pooled_run_data(cfg, ctx)
    model = build_hyperstyle(cfg, load_inverter=ctx.fresh, device=info.device)
    model.encoder.eval().requires_grad_(False)
    model.decoder.eval().requires_grad_(False)
    hypernet = model.hypernet
    optimizer = torch.optim.Adam(hypernet.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    run = ctx.start(cfg, modules={"model": model}, optimizers={"hypernet": optimizer})
    criterion = InversionCriterion(cfg.loss, device=info.device)
    size = model.encoder.input_size

    def train_step(step: int) -> dict[str, float]:
        x = resize_to(training_batch(plan, step, cfg.augment, step_generator(cfg.seed, step, AUGMENT_STREAM), pool,
                                     subset=train_idx, device=info.device), size)
        hypernet.train()
        optimizer.zero_grad(set_to_none=True)
        terms = iteration_losses(model, criterion, x, backward=True)
        average_gradients(hypernet, info)
        optimizer.step()
        return terms

    held = pool[held_idx[: cfg.eval_images]]
    start_info = {"train_images": plan.n, "heldout_images": len(held_idx), "tuned_layers": len(hypernet.names),
                  "perceptual": criterion.perceptual_name}
    if run.step == 0 and len(held):
        baseline = evaluate_inversion(model, criterion, normalize(held.float() / 255.0), batch_size=cfg.batch_size)
        start_info |= {f"psp_{k}": v for k, v in baseline.items()}
    return ctx.finish(run, train_step, total_steps=plan.total_steps,
                      hooks=heldout_hooks(cfg, ctx, model, criterion, held),
                      metrics=("val_loss", "val_mse", "val_psnr", "val_ssim"), start_info=start_info,
                      export=lambda folder: export_model_folder(folder, cfg, model.state_dict()))


def iteration_losses(model: HyperStyle, criterion: InversionCriterion, x: torch.Tensor, *,
                     backward: bool) -> dict[str, float]:
    """Run the refinement iterations on x (B, C, s, s); each iteration's loss (divided by the number of
    iterations) is back-propagated when ``backward``. Returns the loss terms averaged over the iterations."""
    n = model.iterations
    with torch.no_grad():
        code = model.encoder.encode(x)
        y = model.render(code.wplus, None, structure=code.structure)
    offsets = None
    sums: dict[str, float] = {}
    for _ in range(n):
        with torch.set_grad_enabled(backward):
            offsets = model.refine(x, offsets, y)
            y = model.render(code.wplus, offsets, structure=code.structure)
            terms = criterion(resize_to(y, x.shape[-1]), x, code.wplus, model.encoder.latent_avg)
            if backward:
                (terms["total"] / n).backward()
        offsets = {k: v.detach() for k, v in offsets.items()}
        y = y.detach()
        for name, t in terms.items():
            sums[name] = sums.get(name, 0.0) + float(t.detach()) / n
    return sums


__all__ = ["build_hyperstyle", "iteration_losses", "train_hyperstyle"]
