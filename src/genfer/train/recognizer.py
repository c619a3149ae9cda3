"""The recognizer training loop: single process or DDP under ``torchrun``, resumable, seeded.

Every random draw of step ``s`` (batch order, augmentation) comes from generators seeded by
``(seed, epoch)`` and ``(seed, s)`` and is drawn for the *global* batch, each rank taking its contiguous
slice; so a run resumed at ``s`` continues exactly, and ``W`` ranks with batch ``B / W`` each take the
same steps as one process with batch ``B`` (exactly so with ``model.norm=group``; BatchNorm statistics are
per rank under DDP on CPU, where SyncBatchNorm does not exist — on CUDA it is converted to SyncBatchNorm).

``optim.precision=bfloat16`` runs the forward pass and the loss under bfloat16 autocast
(:func:`genfer.predict.autocast`); weights, gradients, optimiser, weight average and validation stay float32.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from genfer.config import RecognizerTrainConfig
from genfer.data.tensors import load_train_val
from genfer.hub import read_model_config
from genfer.io import load_matching, load_state_dict, step_generator
from genfer.metrics.classification import accuracy
from genfer.models.recognizer import build_recognizer
from genfer.predict import autocast, predict_probs
from genfer.train.batches import training_batch
from genfer.train.ema import weight_average
from genfer.train.loop import BatchPlan, Hook
from genfer.train.optim import build_optimizer, build_scheduler, optimizer_step
from genfer.train.runner import TrainContext, export_model_folder, trainer

log = logging.getLogger(__name__)


@trainer("recognizer")
def train_recognizer(cfg: RecognizerTrainConfig, ctx: TrainContext) -> dict[str, Any]:
    """Train (or resume) a recognizer: checkpoints, ``metrics.jsonl`` and ``final/`` (the EMA model) in the run
    folder. Summary: ``step``, ``total_steps``, ``train_seconds``, ``val_accuracy`` (EMA model)."""
    info = ctx.info
    train, val = load_train_val(cfg.data, num_classes=cfg.model.num_classes, image_size=cfg.model.image_size,
                                in_chans=cfg.model.in_chans, progress=ctx.show_progress)

    model = build_recognizer(cfg.model)
    if cfg.init_from and ctx.fresh:
        initialise_from(model, cfg.init_from, quiet=not info.is_main)
    model = model.to(info.device)
    if info.enabled and info.device.type == "cuda" and cfg.model.norm == "batch":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    optimizer = build_optimizer(model, cfg.optim)
    ema = weight_average(model, cfg.optim.ema_decay)

    plan = BatchPlan.make(n=len(train.labels), batch_size=cfg.optim.batch_size, epochs=cfg.optim.epochs,
                          warmup_epochs=cfg.optim.warmup_epochs, seed=cfg.seed, info=info)
    scheduler = build_scheduler(optimizer, total_steps=plan.total_steps, warmup_steps=plan.warmup_steps)

    run = ctx.start(cfg, modules={"model": model, "ema": ema.module}, optimizers={"optimizer": optimizer},
                    schedulers={"scheduler": scheduler})
    ddp = DistributedDataParallel(model) if info.enabled else model

    def train_step(step: int) -> dict[str, float]:
        x, y = training_batch(plan, step, cfg.augment, step_generator(cfg.seed, step), train.images, train.targets,
                              device=info.device)
        model.train()
        with autocast(info.device, cfg.optim.precision):
            loss = F.cross_entropy(ddp(x), y, label_smoothing=cfg.optim.label_smoothing)
        optimizer_step(loss, model, optimizer, scheduler=scheduler, grad_clip=cfg.optim.grad_clip)
        ema.update(model, step=step + 1)
        return {"loss": loss.item(), "epoch": plan.epoch(step + 1), "lr": optimizer.param_groups[0]["lr"]}

    def evaluate(step: int) -> dict[str, float]:
        acc = accuracy(predict_probs(ema.module, val.images, batch_size=256), val.labels)
        return {"epoch": plan.epoch(step), "val_accuracy": acc}

    hooks = [Hook(every=plan.every(cfg.eval_every_epochs), fn=evaluate)] if val else []
    return ctx.finish(run, train_step, total_steps=plan.total_steps, hooks=hooks, metrics=("val_accuracy",),
                      start_info={"train_images": plan.n, "val_images": 0 if val is None else len(val.labels),
                                  "precision": cfg.optim.precision},
                      export=lambda folder: export_model_folder(folder, cfg, ema.module.state_dict()))


def initialise_from(model: torch.nn.Module, name_or_path: str, *, quiet: bool = False) -> list[str]:
    """Load the matching tensors of a shipped model or model/checkpoint folder into ``model``.

    An MAE run's folder (``genfer train mae``) gives its encoder (PF-ViT's ViT baseline: ``mae_vit``).

    Returns the names of tensors left freshly initialised (logged), e.g. a head with another class count.
    """
    folder, source_cfg = read_model_config(name_or_path)
    weights = folder / ("ema.safetensors" if (folder / "ema.safetensors").is_file() else "model.safetensors")
    state = load_state_dict(weights)
    if type(source_cfg).method == "mae":  # an MAE run: its encoder is the ViT to fine-tune
        state = {"net." + k.removeprefix("encoder."): v for k, v in state.items() if k.startswith("encoder.")}
    fresh = load_matching(model, state, source=str(weights))
    if not quiet:
        log.info("initialised from %s; fresh: %s", weights, ", ".join(fresh) or "none")
    return fresh
