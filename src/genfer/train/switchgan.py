"""Switch-unit GAN training (``genfer train switchgan``): G, D_1/D_2 and C end to end; resumable, DDP-ready.

One joint step (Zhang et al., Sec. III, Eq. 5-12):

1. **Pair batch** (:class:`~genfer.data.pairs.ExpressionPairSampler`): the step's expression pair (i, j), the
   pairs taken in turn, and faces I_a of expression i and I_b of expression j. G gives I_c, I_d (exchanged
   expressions), I'_a, I'_b (reconstructions) and, with the interpolation loss, the faces decoded from R_c^p,
   R_d^p (Eq. 6).
2. **D step** (Adam 2e-4, β = (0.5, 0.999)): D_1 and D_2 (full and half resolution) minimise the negated
   L_adv of Eq. 5 (real I_a, I_b with their labels; I_c, I_d, detached, with their target labels) plus the D
   side of L_inter (Eq. 7: the interpolated faces are fake for their target).
3. **G and C step**: with C's loss L_C (Eq. 8) on a batch of original faces (an epoch's permutation,
   :class:`~genfer.train.loop.BatchPlan`) and k synthesised versions of each (Fig. 12's kN: targets other
   than the face's own expression, references of those expressions from the pair sampler), G (Adam)
   descends Eq. 12, ``L_adv + L_inter + L_C + λ1 L_r + λ2 L_per + λ3 L_p + λ4 TV(I_c, I_d)`` with the
   D terms non-saturating, and C (SGD 1e-3, momentum 0.9) descends L_C. One forward serves both: C's
   gradient is that of L_C alone, G's that of the weighted sum. L_C reaches G through G_enc(I), the
   representation C fuses; the synthesised faces are detached before C unless
   ``classifier_grad_through_synthesis``.

``two_stage`` (Table VII's TwoStage) runs steps 1-2 and the G part of 3 without L_C for ``gan_optim.epochs``,
then only C's part of 3 on the frozen G for ``cls_optim.epochs``.

The frozen network F of L_per is genfer's recognizer named by ``model.perceptual_model`` (its stage
outputs, the ``genfer-lpips`` features), not the paper's ImageNet VGG, which cannot be downloaded here.

Under torchrun every rank runs the same graph on its slice of the global batches and gradients are
averaged before each optimiser step (:func:`~genfer.train.distributed.average_gradients`).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import torch

from genfer.config import SwitchGANTrainConfig
from genfer.data.augment import augmented_batch
from genfer.data.pairs import ExpressionPairSampler
from genfer.data.tensors import load_train_val
from genfer.hub import read_model_config
from genfer.io import CheckpointError, load_into, load_state_dict, step_generator
from genfer.io.images import normalize
from genfer.io.model_folder import WEIGHTS_FILE
from genfer.losses.switchgan import (
    FeatureFn,
    adversarial_d_loss,
    adversarial_g_loss,
    classification_loss,
    combine_losses,
    interpolation_d_loss,
    interpolation_g_loss,
    perceptual_loss,
    pixel_sum_loss,
    reconstruction_loss,
    total_variation,
)
from genfer.metrics.classification import accuracy
from genfer.metrics.lpips import load_genfer_lpips
from genfer.models.switchgan import (
    MultiScaleDiscriminator,
    SwitchGenerator,
    SwitchOutput,
    build_switchgan,
)
from genfer.predict import predict_probs
from genfer.render import save_grid
from genfer.train.batches import training_batch
from genfer.train.distributed import DistInfo, average_gradients
from genfer.train.loop import BatchPlan, Hook
from genfer.train.optim import build_optimizer, build_scheduler
from genfer.train.runner import TrainContext, export_model_folder, trainer

log = logging.getLogger(__name__)

_STREAM_A, _STREAM_B, _STREAM_C = 1, 2, 3


def perceptual_network(name: str, device: torch.device | str = "cpu") -> FeatureFn:
    """F of L_per: the frozen stage outputs of genfer recognizer ``name`` (shipped name or folder).

    Returns a function (B, C, H, W) in [-1, 1] -> list of feature maps; inputs are resized and converted to
    the recognizer's input like ``genfer-lpips`` does; gradients reach the inputs, not the network.
    """

    net = load_genfer_lpips(name, device=str(device)).requires_grad_(False)
    return lambda x: net.features(x.clamp(-1.0, 1.0))


def _constant_or_cosine(optimizer: torch.optim.Optimizer, schedule: str, *, steps: int, warmup_steps: int):
    if schedule == "cosine":
        return build_scheduler(optimizer, total_steps=steps, warmup_steps=warmup_steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


def _judge(disc: MultiScaleDiscriminator, images: list[torch.Tensor], labels: list[torch.Tensor]) -> list[list[torch.Tensor]]:
    """D_1, D_2 on several batches at once: per batch, its list of per-scale logits."""
    logits = disc(torch.cat(images), torch.cat(labels))
    chunks = [scale.split([x.shape[0] for x in images]) for scale in logits]
    return [[chunk[k] for chunk in chunks] for k in range(len(images))]


class SwitchGANTrainer:
    """The networks, optimisers and step function of a run, on training faces held in memory.

    Args:
        cfg: the run's config.
        images: (N, C, H, W) uint8 training faces; labels: (N,) long expressions.
        info: rank / world size / device.
        feature_net: F of L_per (default: :func:`perceptual_network` of ``cfg.model.perceptual_model``; not
            loaded when the L_per weight is 0).
    """

    def __init__(self, cfg: SwitchGANTrainConfig, *, images: torch.Tensor, labels: torch.Tensor, info: DistInfo,
                 feature_net: FeatureFn | None = None) -> None:
        self.cfg, self.info = cfg, info
        self.images, self.labels = images, labels
        self.model = build_switchgan(cfg.model, expression_representation=cfg.expression_representation)
        self.model.to(info.device)
        g, d, c = self.model.generator, self.model.discriminator, self.model.classifier
        self.plan = BatchPlan.make(n=len(labels), batch_size=cfg.cls_optim.batch_size, epochs=cfg.cls_optim.epochs,
                                   warmup_epochs=cfg.cls_optim.warmup_epochs, seed=cfg.seed, info=info)
        pair_batch = cfg.gan_optim.batch_size
        if pair_batch % info.world_size:
            raise ValueError(f"gan_optim.batch_size {pair_batch} is not divisible by the {info.world_size} processes")
        size = pair_batch // info.world_size
        self.pair_local = slice(info.rank * size, (info.rank + 1) * size)
        self.sampler = ExpressionPairSampler(labels=labels, num_classes=cfg.model.num_classes, seed=cfg.seed)
        if cfg.synthesised_for_classifier >= len(self.sampler.classes):
            raise ValueError(f"synthesised_per_original {cfg.synthesised_for_classifier} needs that many other "
                             f"expressions; the training data has {len(self.sampler.classes)} expressions")
        spe = self.plan.steps_per_epoch
        self.gan_steps = max(1, math.ceil(cfg.gan_optim.epochs * spe)) if cfg.two_stage else self.plan.total_steps
        self.total_steps = self.gan_steps + self.plan.total_steps if cfg.two_stage else self.plan.total_steps
        self.optimizers = {"g": build_optimizer(g, cfg.gan_optim), "d": build_optimizer(d, cfg.gan_optim),
                           "c": build_optimizer(c, cfg.cls_optim)}
        gan_warmup = int(cfg.gan_optim.warmup_epochs * spe)
        self.schedulers = {
            "g": _constant_or_cosine(self.optimizers["g"], cfg.lr_schedule, steps=self.gan_steps, warmup_steps=gan_warmup),
            "d": _constant_or_cosine(self.optimizers["d"], cfg.lr_schedule, steps=self.gan_steps, warmup_steps=gan_warmup),
            "c": _constant_or_cosine(self.optimizers["c"], cfg.lr_schedule, steps=self.plan.total_steps,
                                     warmup_steps=self.plan.warmup_steps),
        }
        if feature_net is None and cfg.weights.per > 0:
            feature_net = perceptual_network(cfg.model.perceptual_model, info.device)
        self.feature_net = feature_net

    # ------------------------------------------------------------------ batches

    def stage(self, step: int) -> tuple[bool, bool]:
        """(train the GAN, train C) at global step ``step``."""
        if not self.cfg.two_stage:
            return True, True
        return step < self.gan_steps, step >= self.gan_steps

    def classifier_step(self, step: int) -> int:
        """C's step (its position in the epochs over the originals) at global step ``step``."""
        return step - self.gan_steps if self.cfg.two_stage else step

    def pair_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The step's augmented faces I_a, I_b (b, C, H, W) in [-1, 1] and labels y_a, y_b (b,) on the device."""
        pb = self.sampler.draw(step, global_batch=self.cfg.gan_optim.batch_size, local=self.pair_local)
        dev, aug, seed = self.info.device, self.cfg.augment, self.cfg.seed
        xa, xb = (augmented_batch(self.images[idx], aug, step_generator(seed, step, stream),
                                  global_batch=self.cfg.gan_optim.batch_size, local=self.pair_local).to(dev)
                  for idx, stream in ((pb.index_a, _STREAM_A), (pb.index_b, _STREAM_B)))
        ya, yb = pb.labels()
        return xa, xb, ya.to(dev), yb.to(dev)

    def classifier_batch(self, step: int, *, generator_grad: bool) -> tuple[torch.Tensor, torch.Tensor, int]:
        """C's faces at global step ``step``: the originals of its epoch position and k synthesised versions
        of each (targets and references from the pair sampler).

        Returns:
            images ((1 + k) b, C, H, W) in [-1, 1], labels ((1 + k) b,) (targets for the synthesised faces), b.
        """
        cfg, plan, g = self.cfg, self.plan, self.model.generator
        x, y = training_batch(plan, self.classifier_step(step), cfg.augment, step_generator(cfg.seed, step, _STREAM_C),
                              self.images, self.labels, device=self.info.device)
        k = cfg.synthesised_for_classifier
        if not k:
            return x, y, len(y)
        targets, refs = self.sampler.references(y.cpu(), k, step, global_batch=plan.global_batch, local=plan.local)
        references = normalize(self.images[refs.flatten()].float() / 255.0).to(self.info.device)
        targets = targets.flatten().to(self.info.device)
        with torch.set_grad_enabled(generator_grad and cfg.classifier_grad_through_synthesis):
            synthesised = g.transfer(x.repeat_interleave(k, 0), references, y.repeat_interleave(k), targets)
        if not (generator_grad and cfg.classifier_grad_through_synthesis):
            synthesised = synthesised.detach()
        return torch.cat([x, synthesised]), torch.cat([y, targets]), len(y)

    # ------------------------------------------------------------------ losses

    def discriminator_loss(self, xa, xb, ya, yb, out: SwitchOutput) -> torch.Tensor:
        """D's objective: negated L_adv (Eq. 5) and, with the interpolation loss, D's side of L_inter (Eq. 7)."""
        w, disc = self.cfg.weights, self.model.discriminator
        batches = [torch.cat([xa, xb]), torch.cat([out.image_c, out.image_d]).detach()]
        labels = [torch.cat([ya, yb]), torch.cat([yb, ya])]
        if out.interp_c is not None:
            batches += [out.interp_c.detach(), out.interp_d.detach()]
            labels += [yb, ya]
        judged = _judge(disc, batches, labels)
        loss = w.adv * adversarial_d_loss(judged[0], judged[1])
        if out.interp_c is not None:
            loss = loss + w.inter * interpolation_d_loss(judged[2], judged[3])
        return loss

    def generator_terms(self, xa, xb, ya, yb, out: SwitchOutput) -> dict[str, torch.Tensor]:
        """The G terms of Eq. 12 but L_C: adv, inter (if on), rec, per (if weighted), pix, tv (unweighted).

        L_per compares channel means or whole maps (``perceptual_features``); TV is taken of the residuals
        I_c^res, I_d^res or of the faces I_c, I_d (``tv_target``).
        """
        cfg = self.cfg
        reduction = cfg.loss_reduction
        batches, labels = [torch.cat([out.image_c, out.image_d])], [torch.cat([yb, ya])]
        if out.interp_c is not None:
            batches += [out.interp_c, out.interp_d]
            labels += [yb, ya]
        judged = _judge(self.model.discriminator, batches, labels)
        terms = {"adv": adversarial_g_loss(judged[0])}
        if out.interp_c is not None:
            terms["inter"] = interpolation_g_loss(judged[1], judged[2])
        terms["rec"] = reconstruction_loss(xa, out.recon_a, xb, out.recon_b,
                                           reduction="mse" if reduction == "mean" else "norm")
        if self.feature_net is not None:
            terms["per"] = perceptual_loss(self.feature_net, xa, xb, out.image_c, out.image_d,
                                           pairing=cfg.perceptual_pairing, reduction=reduction,
                                           pooled=cfg.perceptual_features == "pooled")
        terms["pix"] = pixel_sum_loss(xa, xb, out.image_c, out.image_d, reduction=reduction)
        smooth = (out.residual_c, out.residual_d) if cfg.tv_target == "residual" else (out.image_c, out.image_d)
        terms["tv"] = sum(total_variation(x, reduction=reduction) for x in smooth)
        return terms

    def classifier_logits(self, images: torch.Tensor, *, generator_grad: bool) -> torch.Tensor:
        """C(I, G_enc(I)) (Eq. 8), G_enc(I) carrying gradient to G when ``generator_grad``: (B, n) logits."""
        model = self.model
        repr_ = None
        if model.classifier.use_expression_repr:
            with torch.set_grad_enabled(generator_grad):
                repr_ = model.generator.encode(images)
        return model.classifier(images, repr_)

    # ------------------------------------------------------------------ step

    def _update(self, name: str, module: torch.nn.Module) -> None:
        average_gradients(module, self.info)
        self.optimizers[name].step()
        self.schedulers[name].step()

    def step(self, step: int) -> dict[str, float]:
        """One training step at global step ``step``; returns scalars to log."""
        cfg, model = self.cfg, self.model
        train_gan, train_cls = self.stage(step)
        if cfg.two_stage and step == self.gan_steps and self.info.is_main:
            log.info("TwoStage: GAN stage done after %d steps; training C on the frozen G", step)
        g, d, c = model.generator, model.discriminator, model.classifier
        model.train()
        terms: dict[str, torch.Tensor] = {}
        logs: dict[str, float] = {}
        if train_gan:
            xa, xb, ya, yb = self.pair_batch(step)
            out = g(xa, xb, ya, yb, with_interpolation=cfg.interpolation_loss)
            d_loss = self.discriminator_loss(xa, xb, ya, yb, out)
            self.optimizers["d"].zero_grad(set_to_none=True)
            d_loss.backward()
            self._update("d", d)
            logs["d"] = d_loss.item()
            terms = self.generator_terms(xa, xb, ya, yb, out)
        if train_cls:
            images, labels, n_orig = self.classifier_batch(step, generator_grad=train_gan)
            logits = self.classifier_logits(images, generator_grad=train_gan)
            terms["cls"] = classification_loss(logits, labels)
            logs["cls_acc"] = float((logits[:n_orig].argmax(1) == labels[:n_orig]).float().mean())
            c_params = [p for p in c.parameters() if p.requires_grad]
            c_grads = torch.autograd.grad(terms["cls"], c_params, retain_graph=train_gan, allow_unused=True)
        total, term_logs = combine_losses(terms, cfg.weights)
        if train_gan:
            self.optimizers["g"].zero_grad(set_to_none=True)
            total.backward(inputs=[p for p in g.parameters() if p.requires_grad])
            self._update("g", g)
        if train_cls:
            for p, grad in zip(c_params, c_grads):
                p.grad = grad
            self._update("c", c)
        epoch = self.plan.epoch(self.classifier_step(step) + 1) if train_cls else 0.0
        return {**term_logs, **logs, "epoch": epoch}


# ----------------------------------------------------------------------------- run


@trainer("switchgan")
def train_switchgan(cfg: SwitchGANTrainConfig, ctx: TrainContext) -> dict[str, Any]:
    """Train (or resume) the switch-unit GAN: checkpoints, ``metrics.jsonl``, transfer grids and ``final/`` (G and
    C, no D) in the run folder. Summary: ``step``, ``total_steps``, ``train_seconds``, ``val_accuracy`` (C)."""
    info, run_dir = ctx.info, ctx.run_dir
    m = cfg.model
    train, val = load_train_val(cfg.data, num_classes=m.num_classes, image_size=m.image_size, in_chans=m.in_chans,
                                progress=ctx.show_progress)
    gan = SwitchGANTrainer(cfg, images=train.images, labels=train.labels, info=info)
    model = gan.model
    if cfg.init_from and ctx.fresh:
        initialise_from(model, cfg.init_from, cfg)
    run = ctx.start(cfg, modules={"model": model}, optimizers=gan.optimizers, schedulers=gan.schedulers)

    def evaluate(step: int) -> dict[str, float]:
        model.eval()
        acc = accuracy(predict_probs(model, val.images, batch_size=256), val.labels)
        if cfg.grid_images:
            save_transfer_grid(model.generator, val.images, val.labels, cfg.grid_images,
                               run_dir / "grids" / f"step-{step:09d}.png")
        return {"val_accuracy": acc}

    hooks = [Hook(every=gan.plan.every(cfg.eval_every_epochs), fn=evaluate)] if val else []
    return ctx.finish(run, gan.step, total_steps=gan.total_steps, hooks=hooks, metrics=("val_accuracy",),
                      start_info={"train_images": gan.plan.n, "val_images": 0 if val is None else len(val.labels),
                                  "expression_pairs": len(gan.sampler.pairs)},
                      export=lambda folder: export_model_folder(folder, cfg, model.state_dict()))


def initialise_from(model: torch.nn.Module, source: str | Path, cfg: SwitchGANTrainConfig) -> bool:
    """Copy G, C and (when ``source`` keeps it) D of a trained switch-unit GAN into ``model``; D stays freshly
    initialised otherwise. Returns whether D was copied. Another architecture is a clear error."""
    folder, other = read_model_config(source)
    if not isinstance(other, SwitchGANTrainConfig) or other.model != cfg.model:
        raise CheckpointError(f"init_from {source}: not a switch-unit GAN with this run's model section")
    state = load_state_dict(folder / WEIGHTS_FILE)
    d_keys = [k for k in model.state_dict() if k.startswith("discriminator.")]
    with_d = all(k in state for k in d_keys)
    own = model.state_dict()
    load_into(model, state if with_d else {**state, **{k: own[k] for k in d_keys}}, source=str(folder))
    log.info("init_from %s: G and C%s", folder, " and D" if with_d else " (D starts fresh: the folder keeps none)")
    return with_d


def grid_references(labels: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic (source, reference) index pairs for a transfer grid: the first ``n`` faces, each with the
    next face (cyclically) whose expression differs. Returns two (m,) long tensors, m <= n."""
    labels = torch.as_tensor(labels)
    src, ref = [], []
    for i in range(min(n, len(labels))):
        for step in range(1, len(labels)):
            j = (i + step) % len(labels)
            if labels[j] != labels[i]:
                src.append(i)
                ref.append(j)
                break
    return torch.tensor(src, dtype=torch.long), torch.tensor(ref, dtype=torch.long)


@torch.no_grad()
def save_transfer_grid(generator: SwitchGenerator, images: torch.Tensor, labels: torch.Tensor, n: int,
                       path: Path) -> Path | None:
    """Rows: sources, references, sources with the references' expressions, references with the sources'.

    images: (N, C, H, W) uint8 faces with labels (N,); uses :func:`grid_references` of the first ``n``.
    """
    src, ref = grid_references(labels, n)
    if not len(src):
        return None
    dev = next(generator.parameters()).device
    a, b = (normalize(images[i].float() / 255.0).to(dev) for i in (src, ref))
    out = generator(a, b, labels[src].to(dev), labels[ref].to(dev))
    return save_grid([a, b, out.image_c, out.image_d], path)


__all__ = [
    "SwitchGANTrainer",
    "grid_references",
    "perceptual_network",
    "save_transfer_grid",
    "train_switchgan",
]
