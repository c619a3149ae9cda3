"""PF-ViT training (``genfer train pfvit``): D against E, S, G; E, S, C on the emotion; resumable, DDP-ready.

One step on a batch (x, y):

1. ``z = E(x)``, ``V_e``, ``V_p`` (S), ``x̂ = G(V_e + V_p)``, ``x̃ = G(V_p)`` and, for the ``generic``/``fr``
   orthogonality options, the emotion image ``G(V_e)``.
2. D step (Adam 1e-4, β = (0.5, 0.999)): minimise L_dis (Eq. 7) over x (real), x̂ and x̃ (generated,
   detached), with the targets of Eq. 8 (``model.disc_emotion=real``: x̂ and x̃ through the real/fake unit only).
3. E, S, G, C step (Adam 2e-5): minimise ``w_emo L_emo + w_rec L_rec + w_adv L_adv + w_ortho L_ortho
   + w_ortho_features L_ortho_features``,
   where L_adv is L_dis of x̂ and x̃ with the real/fake target flipped to "real" (the usual non-saturating
   form of the adversarial game; the class targets stay those of Eq. 8, so poker faces must look
   neutral to D), L_ortho the constraint of Eq. 2 on (V_e, V_p) and, for ``generic``/``fr``, L_ortho_features
   the same on the frozen network's features of G(V_e) and x̃ (paper Table 5), each with its own weight.

With ``disc_warmup_steps`` > 0 the run's first steps do step 2 only (G's terms are computed without gradients
and logged), so that D reads expressions before G is judged by it.

With ``optim.ema_decay`` > 0 an exponential moving average of E, S, G and C (:mod:`genfer.train.ema`, updated
after each E/S/G/C step; D, which inference never uses, has none) is what evaluation, the grids and ``final/`` use,
and checkpoints keep it (``ema.safetensors``); with 0 (every preset) they use the trained weights. E's drop-path
rate is ``model.mae.encoder.drop_path`` (active in training only).

Under torchrun every rank runs the same graph on its slice of the global batch and gradients are
averaged before each optimiser step (:func:`~genfer.train.distributed.average_gradients`).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import torch

from genfer.config import MAEConfig, PFViTModelConfig, PFViTTrainConfig, to_dict
from genfer.data.tensors import load_train_val
from genfer.hub import load_model
from genfer.io import WEIGHTS_FILE, CheckpointError, load_state_dict, step_generator
from genfer.io.images import normalize
from genfer.losses.pfvit import (
    POKER,
    REAL,
    RECONSTRUCTION,
    abs_cosine,
    discrimination_loss,
    discriminator_targets,
    emotion_loss,
    reconstruction_loss,
)
from genfer.metrics.classification import accuracy
from genfer.metrics.extractors import load_recognizer_extractor
from genfer.models.face_id import FaceIDEmbedder, load_dlib_face_resnet
from genfer.models.pfvit import PFViT, build_pfvit
from genfer.predict import predict_probs
from genfer.render import save_grid
from genfer.train.batches import training_batch
from genfer.train.distributed import average_gradients
from genfer.train.ema import weight_average
from genfer.train.loop import BatchPlan, Hook
from genfer.train.optim import build_optimizer, build_scheduler
from genfer.train.runner import TrainContext, export_model_folder, trainer

log = logging.getLogger(__name__)


def initialise_from(model: PFViT, folder: str | Path, cfg: PFViTModelConfig) -> None:
    """Start E, G and D from a pretrained MAE, or from a trained PF-ViT (a ``final/`` or checkpoint folder).

    From an MAE (the paper's start): E is its encoder, G its decoder (MCA from the decoder's first block), D its
    patch embedding and decoder. From a PF-ViT (e.g. the shipped one, to train a new output head on it): E, S, C,
    MCA and G's decoder are copied, a G output head the folder lacks starts fresh (a ``conv`` head starts as the
    identity of the per-patch output, a ``windowed`` one from the per-patch head's weights), and D is the folder's
    own D when it keeps one of this run's shapes (a training checkpoint ``ckpt-N/``), else — shipped folders and
    ``final/`` keep none — it starts from the folder's E patch embedding and G decoder, as from an MAE. Either
    model's sizes must be those of ``cfg.mae`` (:func:`mae_sizes`: E's drop-path rate may differ).
    """
    loaded = load_model(folder, methods=("mae", "pfvit"))
    sizes = loaded.config.mae if loaded.method == "mae" else loaded.config.model.mae
    if mae_sizes(sizes) != mae_sizes(cfg.mae):
        raise CheckpointError(f"{folder}: its MAE sizes differ from model.mae of this PF-ViT config")
    source = loaded.model
    if loaded.method == "mae":
        encoder, decoder = source.encoder, source.decoder
        if model.generator is not None:
            model.generator.load_decoder(decoder)
    else:
        if source.generator is None:
            raise CheckpointError(f"{folder}: this PF-ViT has no generator to start G from")
        encoder, decoder = source.encoder, source.generator.decoder
        model.separator.load_state_dict(source.separator.state_dict())
        model.classifier.load_state_dict(source.classifier.state_dict())
        if model.generator is not None:
            model.generator.decoder.load_state_dict(decoder.state_dict())
            model.generator.fusion.load_state_dict(source.generator.fusion.state_dict())
            if model.generator.head is not None and type(model.generator.head) is type(source.generator.head):
                model.generator.head.load_state_dict(source.generator.head.state_dict())
            else:
                model.generator.head_from_decoder()
    model.encoder.load_state_dict(encoder.state_dict())
    if model.discriminator is None:
        return
    kept = kept_discriminator(loaded.folder, model.discriminator) if loaded.method == "pfvit" else None
    if kept is not None:
        model.discriminator.load_state_dict(kept)
        log.info("init_from %s: D continues from the folder's D", folder)
    else:
        model.discriminator.load_from_parts(encoder, decoder)


def kept_discriminator(folder: Path, discriminator: torch.nn.Module) -> dict[str, torch.Tensor] | None:
    """The ``discriminator.*`` tensors of a PF-ViT model or checkpoint folder's weights (keys without the prefix)
    when they are exactly ``discriminator``'s names and shapes; None when the folder keeps no D (shipped,
    ``final/``) or one of another shape (logged)."""
    state = {k.removeprefix("discriminator."): v for k, v in load_state_dict(folder / WEIGHTS_FILE).items()
             if k.startswith("discriminator.")}
    if not state:
        return None
    own = discriminator.state_dict()
    if state.keys() != own.keys() or any(state[k].shape != own[k].shape for k in own):
        log.info("init_from %s: its D has other shapes than this run's; D starts from its E and G", folder)
        return None
    return state


def mae_sizes(cfg: MAEConfig) -> dict[str, Any]:
    """The fields of an MAE config that shape its weights: all but E's drop-path rate, a training regulariser
    (an MAE pretrained without it can start a PF-ViT fine-tuned with it)."""
    return to_dict(replace(cfg, encoder=replace(cfg.encoder, drop_path=0.0)))


def trained_parts(model: PFViT) -> torch.nn.ModuleDict:
    """E, S, G and C of ``model`` (shared, not copied) under their names in ``model``: what one optimiser trains
    and the weight average follows; its state dict is ``model``'s without D."""
    return torch.nn.ModuleDict({name: getattr(model, name) for name in ("encoder", "separator", "generator",
                                                                        "classifier")})


def pfvit_from_parts(cfg: PFViTModelConfig, parts: torch.nn.ModuleDict) -> PFViT:
    """A PF-ViT without D whose E, S, G and C are ``parts`` (shared, not copied), e.g. the weight average's."""
    with torch.device("meta"):  # placeholders, every one replaced below: no memory, no random numbers drawn
        model = build_pfvit(cfg, with_discriminator=False)
    for name, part in parts.items():
        setattr(model, name, part)
    return model


def orthogonality_network(cfg: PFViTModelConfig, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The frozen feature network of the ``generic``/``fr`` options ((B, C, H, W) in [-1, 1] -> (B, F)), else None."""
    if cfg.orthogonality == "fr":

        return FaceIDEmbedder(load_dlib_face_resnet(), size=cfg.fr_size).to(device).eval().requires_grad_(False)
    if cfg.orthogonality == "generic":

        return load_recognizer_extractor(cfg.generic_model, device=str(device)).requires_grad_(False)
    return None


def pfvit_generator_losses(
    model: PFViT,
    x: torch.Tensor,
    labels: torch.Tensor,
    targets: torch.Tensor,
    cfg: PFViTTrainConfig,
    feature_net: Callable[[torch.Tensor], torch.Tensor] | None,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The E/S/G/C loss terms of one batch and the generated images.

    Args:
        x: (B, C, H, W) normalised inputs; labels: (B,) classes; targets: (B, K) L_emo targets.

    Returns:
        (terms, images): terms ``emo``, ``rec``, ``adv``, ``ortho``, ``ortho_features`` and ``total`` (scalars); images
        ``x_hat``, ``x_tilde`` and, for network orthogonality, ``x_emo`` (B, C, H, W).
    """
    m, w = cfg.model, cfg.weights
    k, c = m.num_classes, m.neutral
    b = x.shape[0]
    sep = model.separate(x)
    # G, D and the feature network each run once on the concatenated batch (same result, fewer small matmuls)
    tokens = [sep.v_e + sep.v_p, sep.v_p] + ([sep.v_e] if feature_net is not None else [])
    generated = model.generate(torch.cat(tokens)).split(b)
    images = dict(zip(("x_hat", "x_tilde", "x_emo"), generated))
    terms = {
        "emo": emotion_loss(sep.logits, targets),
        "rec": reconstruction_loss(images["x_hat"], images["x_tilde"], x, labels, neutral=c),
    }
    disc = model.discriminator
    adv = torch.zeros((), device=x.device)
    if disc is not None and w.adv > 0:
        logits_hat, logits_tilde = disc(torch.cat([images["x_hat"], images["x_tilde"]])).split(b)
        adv = (discrimination_loss(logits_hat, discriminator_targets(labels, RECONSTRUCTION, num_classes=k, neutral=c,
                                                                     real=1.0))
               + discrimination_loss(logits_tilde, discriminator_targets(labels, POKER, num_classes=k, neutral=c,
                                                                         real=1.0)))
    terms["adv"] = adv
    zero = torch.zeros((), device=x.device)
    terms["ortho"] = abs_cosine(sep.v_e, sep.v_p) if m.orthogonality != "none" else zero
    terms["ortho_features"] = zero
    if feature_net is not None:  # the networks take [-1, 1]
        feats = feature_net(torch.cat([images["x_emo"], images["x_tilde"]]).clamp(-1, 1)).split(b)
        terms["ortho_features"] = abs_cosine(*feats)
    terms["total"] = (w.emo * terms["emo"] + w.rec * terms["rec"] + w.adv * terms["adv"] + w.ortho * terms["ortho"]
                      + w.ortho_features * terms["ortho_features"])
    return terms, images


def pfvit_discriminator_loss(model: PFViT, x: torch.Tensor, x_hat: torch.Tensor, x_tilde: torch.Tensor,
                             labels: torch.Tensor, cfg: PFViTModelConfig) -> torch.Tensor:
    """L_dis (Eq. 7) for D: real x, and the generated x̂, x̃ (pass them detached). With ``cfg.disc_emotion`` =
    ``real`` the generated images' terms keep only the real/fake unit (D's emotion units learn from x alone)."""
    disc, k, c = model.discriminator, cfg.num_classes, cfg.neutral
    logits = disc(torch.cat([x, x_hat, x_tilde])).split(x.shape[0])
    total = torch.zeros((), device=x.device)
    for out, kind in zip(logits, (REAL, RECONSTRUCTION, POKER)):
        targets = discriminator_targets(labels, kind, num_classes=k, neutral=c)
        units = slice(k, None) if kind != REAL and cfg.disc_emotion == "real" else slice(None)
        total = total + discrimination_loss(out[:, units], targets[:, units])
    return total


@trainer("pfvit")
def train_pfvit(cfg: PFViTTrainConfig, ctx: TrainContext) -> dict[str, Any]:
    """Train (or resume) PF-ViT: checkpoints, ``metrics.jsonl``, poker-face grids and ``final/`` (without D; the
    weight average when ``optim.ema_decay`` > 0) in the run folder. Summary: ``step``, ``total_steps``,
    ``train_seconds``, ``val_accuracy`` (E → S → C on val, of the weight average when there is one)."""
    info, run_dir = ctx.info, ctx.run_dir
    enc = cfg.model.mae.encoder
    train, val = load_train_val(cfg.data, num_classes=cfg.model.num_classes, image_size=enc.image_size,
                                in_chans=enc.in_chans, progress=ctx.show_progress)

    model = build_pfvit(cfg.model)
    if cfg.init_from and ctx.fresh:
        initialise_from(model, cfg.init_from, cfg.model)
    model.to(info.device)
    feature_net = orthogonality_network(cfg.model, info.device)
    disc = model.discriminator
    esgc_module = trained_parts(model)
    opt_g = build_optimizer(esgc_module, cfg.optim)
    # optim.ema_decay > 0: a weight average of E, S, G, C (not D, which inference never uses) is what evaluation,
    # the grids and final/ use; 0 (the presets): the trained weights themselves, and checkpoints without one
    ema = weight_average(esgc_module, cfg.optim.ema_decay) if cfg.optim.ema_decay > 0 else None
    evaluated = model if ema is None else pfvit_from_parts(cfg.model, ema.module)
    opt_d = build_optimizer(disc, cfg.disc_optim)
    plan = BatchPlan.make(n=len(train.labels), batch_size=cfg.optim.batch_size, epochs=cfg.optim.epochs,
                          warmup_epochs=cfg.optim.warmup_epochs, seed=cfg.seed, info=info)
    sched_g = build_scheduler(opt_g, total_steps=plan.total_steps, warmup_steps=plan.warmup_steps)
    sched_d = build_scheduler(opt_d, total_steps=plan.total_steps, warmup_steps=plan.warmup_steps)
    run = ctx.start(cfg, modules={"model": model} | ({} if ema is None else {"ema": ema.module}),
                    optimizers={"esgc": opt_g, "d": opt_d}, schedulers={"esgc": sched_g, "d": sched_d})

    def train_step(step: int) -> dict[str, float]:
        x, labels, targets = training_batch(plan, step, cfg.augment, step_generator(cfg.seed, step), train.images,
                                            train.labels, train.targets, device=info.device)
        model.train()
        disc.requires_grad_(False)
        train_g = step >= cfg.disc_warmup_steps  # during D's warm-up G is not updated (its losses are still logged)
        with torch.set_grad_enabled(train_g):
            terms, images = pfvit_generator_losses(model, x, labels, targets, cfg, feature_net)
        if train_g:
            opt_g.zero_grad(set_to_none=True)
            terms["total"].backward()
            average_gradients(esgc_module, info)
            opt_g.step()
            if ema is not None:
                ema.update(esgc_module, step=step + 1)
        disc.requires_grad_(True)
        d_loss = torch.zeros(())
        if cfg.weights.adv > 0:
            d_loss = pfvit_discriminator_loss(model, x, images["x_hat"].detach(), images["x_tilde"].detach(), labels,
                                              cfg.model)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            average_gradients(disc, info)
            opt_d.step()
        with warnings.catch_warnings():  # during D's warm-up G's schedule advances without G's optimiser stepping
            warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step", category=UserWarning)
            sched_g.step()
        sched_d.step()
        out = {name: t.item() for name, t in terms.items()}
        return out | {"d": d_loss.item(), "epoch": plan.epoch(step + 1)}

    def evaluate(step: int) -> dict[str, float]:
        evaluated.eval()
        acc = accuracy(predict_probs(evaluated, val.images, batch_size=256), val.labels)
        if cfg.grid_images:
            save_poker_grid(evaluated, val.images[: cfg.grid_images], run_dir / "grids" / f"step-{step:09d}.png")
        return {"epoch": plan.epoch(step), "val_accuracy": acc}

    hooks = [Hook(every=plan.every(cfg.eval_every_epochs), fn=evaluate)] if val else []
    return ctx.finish(run, train_step, total_steps=plan.total_steps, hooks=hooks, metrics=("val_accuracy",),
                      start_info={"train_images": plan.n, "val_images": 0 if val is None else len(val.labels)},
                      export=lambda folder: export_model_folder(folder, cfg, evaluated.state_dict()))


@torch.no_grad()
def save_poker_grid(model: PFViT, images: torch.Tensor, path: Path) -> Path:
    """Rows: input, reconstruction x̂, poker face x̃, emotion image G(V_e), for uint8 (B, C, H, W) images."""
    x = normalize(images.float() / 255.0)
    out = model.render(x)
    return save_grid([x, out["x_hat"], out["x_tilde"], out["x_emo"]], path)


__all__ = [
    "initialise_from",
    "mae_sizes",
    "orthogonality_network",
    "pfvit_discriminator_loss",
    "pfvit_from_parts",
    "pfvit_generator_losses",
    "save_poker_grid",
    "train_pfvit",
    "trained_parts",
]
