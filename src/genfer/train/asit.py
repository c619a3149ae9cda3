"""ASIT training (``genfer train asit``) against a frozen, trained StyleGAN2; resumable, DDP-ready.

One step on a batch of real faces x (flipped at random), as pSp's step (:mod:`genfer.train.psp`) plus ASIT's terms:

1. the encoder predicts W+ and the structure code; the frozen generator renders y = G(W+, structure) keeping its
   feature map at every resolution (noise maps drawn for the step when ``train_noise``);
2. the encoder's loss ``0.8·L2 + λ·LPIPS + 0.1·ID + 1e-4·L_reg`` (:class:`~genfer.inversion.criterion.InversionCriterion`)
   ``+ dal_weight·L_alig`` (Eq. 4 over the encoder's backbone stages paired with the generator's maps of the same
   side) ``+ adv_weight·L_adv`` (IID: ``(D(y, x) − 1)²``; the StyleGAN2 ablation: ``softplus(−D(y))``), the
   adversary frozen; one optimiser step on the encoder;
3. the adversary's step on (x, y detached): IID ``(D(x, x) − 1)² + (D(y, x) + 1)²`` on m_q, then m_k's momentum
   update (Eq. 1); the StyleGAN2 ablation ``softplus(D(y)) + softplus(−D(x))``.

The adversary starts from the generator folder's kept ``discriminator.safetensors`` (:func:`genfer.hub.discriminator_state`);
a folder without one (today's shipped ``psp-gray64``) gives a freshly initialised StyleGAN2 discriminator drawn from
the run's seed; the run's first log line says which (``adversary_init``). Checkpoints hold the ASIT model (encoder
and generator) and the adversary; ``final/`` holds the model and ``config.json``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from genfer.config import ASITTrainConfig, to_dict
from genfer.hub import discriminator_state, load_model
from genfer.inversion.criterion import InversionCriterion
from genfer.inversion.load import inversion_parts, load_gan
from genfer.io import CheckpointError, step_generator
from genfer.io.weights import load_into
from genfer.losses.asit import dal_loss, iid_d_loss, iid_e_loss
from genfer.losses.stylegan2 import d_logistic_loss, g_nonsaturating_loss
from genfer.models.asit import build_asit_encoder, synthesis_features
from genfer.models.iid import InversionDiscriminator
from genfer.models.psp import PSp, resize_to
from genfer.models.stylegan2 import build_discriminator, build_generator
from genfer.train.batches import training_batch
from genfer.train.distributed import average_gradients
from genfer.train.psp import build_encoder_optimizer, heldout_hooks, pooled_run_data
from genfer.train.runner import TrainContext, export_model_folder, trainer

log = logging.getLogger(__name__)

AUGMENT_STREAM, NOISE_STREAM, ADV_E_STREAM, ADV_D_STREAM = 0, 1, 2, 3
"""Random streams of a step: the input flips, the generator's noise maps, φ of the encoder's and of D's pass."""


def build_asit(cfg: ASITTrainConfig, *, load_generator: bool,
               device: torch.device | str = "cpu") -> tuple[PSp, Path | None]:
    """(ASIT model: a fresh encoder and the generator, folder the generator came from or None).

    With ``load_generator`` the generator comes from ``cfg.generator`` (its architecture must equal
    ``cfg.stylegan2``) and the encoder's ``latent_avg`` and ``structure_base`` are set from it.
    """
    encoder = build_asit_encoder(cfg.encoder, cfg.stylegan2)
    if not load_generator:
        return PSp(encoder=encoder, decoder=build_generator(cfg.stylegan2)).to(device), None
    loaded = load_gan(cfg.generator, device=device)
    parts = inversion_parts(loaded)
    if to_dict(parts.arch) != to_dict(cfg.stylegan2):
        raise CheckpointError(f"generator {cfg.generator} has another architecture than this config's stylegan2 "
                              "section (copy its model section there)")
    encoder.set_latent_avg(parts.latent_avg)
    encoder.set_structure_base(parts.generator.input.input.detach().cpu())
    return PSp(encoder=encoder, decoder=parts.generator).to(device), loaded.folder


def build_adversary(cfg: ASITTrainConfig, d_state: dict[str, torch.Tensor] | None) -> torch.nn.Module | None:
    """IID (m_q / m_k from a StyleGAN2 discriminator's feature layers), the StyleGAN2 discriminator, or None; the
    discriminator's weights are ``d_state`` when given, else a fresh initialisation (the global RNG, seeded)."""
    if cfg.adversary.kind == "none":
        return None
    d = build_discriminator(cfg.stylegan2)
    if d_state is not None:
        load_into(d, d_state, source="kept discriminator")
    if cfg.adversary.kind == "stylegan2":
        return d
    a = cfg.adversary
    return InversionDiscriminator.from_discriminator(d, shift=a.shift, brightness=a.brightness, contrast=a.contrast)


def dal_sides(encoder_sides: tuple[int, ...], generator_size: int, wanted: tuple[int, ...]) -> list[int]:
    """The sides whose encoder stage and generator map DAL pairs: every side both have (or ``wanted`` of them)."""
    generator_sides = {2**r for r in range(2, generator_size.bit_length())}
    common = [s for s in encoder_sides if s in generator_sides]
    if wanted:
        missing = sorted(set(wanted) - set(common))
        if missing:
            raise CheckpointError(f"dal.sides {missing} are not sides of both the encoder's stages {encoder_sides} "
                                  f"and the generator's maps")
        common = [s for s in common if s in wanted]
    return common


def initialise_encoder(encoder: torch.nn.Module, name_or_path: str) -> None:
    """Load an ASIT model's encoder weights (``init_from``: IFER's fine-tuning on FER faces)."""
    loaded = load_model(name_or_path, methods=("asit",))
    load_into(encoder, loaded.model.encoder.state_dict(), source=f"init_from {name_or_path}")


def _set_trainable(module: torch.nn.Module | None, on: bool) -> None:
    if module is not None:
        trainable = module.m_q if isinstance(module, InversionDiscriminator) else module
        trainable.requires_grad_(on)


@trainer("asit")
def train_asit(cfg: ASITTrainConfig, ctx: TrainContext) -> dict[str, Any]:
    """Train (or resume) an ASIT encoder: checkpoints, ``metrics.jsonl``, grids and ``final/`` in the run folder.
    Summary: ``step``, ``total_steps``, ``train_seconds`` and the last held-out ``val_loss``, ``val_mse``,
    ``val_psnr``, ``val_ssim`` (None if never evaluated)."""
    info, g_cfg = ctx.info, cfg.stylegan2
    pool, train_idx, held_idx, plan = pooled_run_data(cfg, ctx)
    model, gen_folder = build_asit(cfg, load_generator=ctx.fresh, device=info.device)
    encoder, decoder = model.encoder, model.decoder
    decoder.eval().requires_grad_(False)
    if cfg.init_from and ctx.fresh:
        initialise_encoder(encoder, cfg.init_from)
    d_state = discriminator_state(gen_folder) if gen_folder is not None else None
    adversary_init = ("checkpoint" if not ctx.fresh else "kept discriminator" if d_state is not None
                      else "fresh StyleGAN2 initialisation")
    if cfg.adversary.kind != "none" and ctx.fresh and d_state is None:
        log.warning("%s keeps no discriminator.safetensors: the %s adversary starts from a fresh StyleGAN2 "
                    "discriminator (seed %d)", gen_folder, cfg.adversary.kind, cfg.seed)
    adversary = build_adversary(cfg, d_state)
    optimizer = build_encoder_optimizer(cfg, encoder)
    modules: dict[str, torch.nn.Module] = {"model": model}
    optimizers: dict[str, torch.optim.Optimizer] = {"encoder": optimizer}
    d_trainable = None
    if adversary is not None:
        adversary = adversary.to(info.device)
        d_trainable = adversary.m_q if isinstance(adversary, InversionDiscriminator) else adversary
        modules["adversary"] = adversary
        optimizers["adversary"] = torch.optim.Adam(d_trainable.parameters(), lr=cfg.adversary.lr,
                                                   betas=tuple(cfg.adversary.betas))
    run = ctx.start(cfg, modules=modules, optimizers=optimizers)
    criterion = InversionCriterion(cfg.loss, device=info.device)
    size = encoder.input_size
    sides = dal_sides(encoder.stage_sides, g_cfg.resolution, tuple(cfg.dal.sides)) if cfg.dal_weight > 0 else []
    b, local = plan.global_batch, plan.local

    def adversarial_e(y: torch.Tensor, x: torch.Tensor, step: int) -> torch.Tensor:
        if isinstance(adversary, InversionDiscriminator):
            return iid_e_loss(adversary(y, x, step_generator(cfg.seed, step, ADV_E_STREAM)))
        return g_nonsaturating_loss(adversary(y))

    def adversary_step(y: torch.Tensor, x: torch.Tensor, step: int) -> dict[str, float]:
        _set_trainable(adversary, True)
        if isinstance(adversary, InversionDiscriminator):
            rng = step_generator(cfg.seed, step, ADV_D_STREAM)
            d_same, d_inverted = adversary(x, x, rng), adversary(y, x, rng)
            loss = iid_d_loss(d_same, d_inverted)
            logged = {"d_same": d_same.mean().item(), "d_inverted": d_inverted.mean().item()}
        else:
            real, fake = adversary(x), adversary(y)
            loss = d_logistic_loss(real, fake)
            logged = {"d_real": real.mean().item(), "d_fake": fake.mean().item()}
        opt = optimizers["adversary"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(d_trainable, info)
        opt.step()
        if isinstance(adversary, InversionDiscriminator):
            adversary.momentum_update(cfg.adversary.momentum)
        _set_trainable(adversary, False)
        return {"d_loss": loss.item(), **logged}

    def train_step(step: int) -> dict[str, float]:
        x_full = training_batch(plan, step, cfg.augment, step_generator(cfg.seed, step, AUGMENT_STREAM), pool,
                                subset=train_idx, device=info.device)
        x = resize_to(x_full, size)
        noise = None
        if cfg.train_noise:
            maps = decoder.make_noise(generator=step_generator(cfg.seed, step, NOISE_STREAM), batch=b)
            noise = [n[local].to(info.device) for n in maps]
        encoder.train()
        feats = encoder.analyse(x)
        image, g_feats = synthesis_features(decoder, feats.code.wplus, structure=feats.code.structure, noise=noise)
        terms = criterion(resize_to(image, size), x, feats.code.wplus, encoder.latent_avg)
        total = terms["total"]
        if sides:
            by_side = {f.shape[-1]: f for f in feats.stages}
            terms["dal"] = dal_loss([by_side[s] for s in sides], [g_feats[s] for s in sides],
                                    normalize=cfg.dal.normalize)
            total = total + cfg.dal_weight * terms["dal"]
        if adversary is not None and cfg.adv_weight > 0:
            _set_trainable(adversary, False)
            terms["adv"] = adversarial_e(image, x_full, step)
            total = total + cfg.adv_weight * terms["adv"]
        terms["total"] = total
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        average_gradients(encoder, info)
        optimizer.step()
        logged = {name: t.item() for name, t in terms.items()}
        if adversary is not None and cfg.adv_weight > 0:
            logged |= adversary_step(image.detach(), x_full, step)
        return logged

    hooks = heldout_hooks(cfg, ctx, model, criterion, pool[held_idx[: cfg.eval_images]])
    return ctx.finish(run, train_step, total_steps=plan.total_steps, hooks=hooks,
                      metrics=("val_loss", "val_mse", "val_psnr", "val_ssim"),
                      start_info={"train_images": plan.n, "heldout_images": len(held_idx),
                                  "perceptual": criterion.perceptual_name, "dal_sides": sides,
                                  "adversary": cfg.adversary.kind, "adversary_init": adversary_init},
                      export=lambda folder: export_model_folder(folder, cfg, model.state_dict()))


__all__ = ["build_adversary", "build_asit", "dal_sides", "initialise_encoder", "train_asit"]
