"""IFER training (``genfer train ifer``): an inversion encoder plus the feature modulation head on labelled faces.

The encoder (ASIT, or pSp for "pSp+FER") starts from the ``inversion`` model when ``pretrained`` (Table 5c: else
from scratch); the head is new. One step: augmented faces at the encoder's input size, cross-entropy of the
logits against the targets (one-hot with ``data.target=label``; vote distributions with ``votes``), AdamW with two
groups (head at ``lr``, encoder at ``lr · encoder_lr_scale``; 0 freezes the encoder), linear warm-up over the first
5% of the steps then cosine decay. Every ``eval_every_steps`` the validation split is classified: accuracy, mean
class accuracy and macro-F1. ``final/`` holds the whole model (encoder and head).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F

from genfer.config import IFERTrainConfig, to_dict
from genfer.data.tensors import load_train_val
from genfer.hub import load_model
from genfer.io import CheckpointError, step_generator
from genfer.io.weights import load_into
from genfer.metrics.classification import classification_report
from genfer.models.ifer import IFER, build_fer_encoder, build_ifer
from genfer.predict import predict_probs
from genfer.train.batches import training_batch
from genfer.train.loop import BatchPlan, Hook
from genfer.train.optim import build_scheduler, optimizer_step
from genfer.train.runner import TrainContext, export_model_folder, trainer

log = logging.getLogger(__name__)


def load_inversion_encoder(cfg: IFERTrainConfig, encoder: torch.nn.Module) -> None:
    """Copy the ``cfg.inversion`` model's encoder into ``encoder``; its method and architecture must be this config's."""
    loaded = load_model(cfg.inversion, methods=(cfg.encoder,))
    source = loaded.config
    same = (to_dict(source.encoder) == to_dict(getattr(cfg, cfg.encoder))  # type: ignore[attr-defined]
            and to_dict(source.stylegan2) == to_dict(cfg.stylegan2))  # type: ignore[attr-defined]
    if not same:
        raise CheckpointError(f"inversion {cfg.inversion}: its encoder/generator architecture differs from this "
                              f"config's {cfg.encoder} and stylegan2 sections (copy them from its config.json)")
    load_into(encoder, loaded.model.encoder.state_dict(), source=f"inversion {cfg.inversion}")


def build_ifer_optimizer(cfg: IFERTrainConfig, model: IFER) -> torch.optim.AdamW:
    """AdamW: the head at ``cfg.lr``, the encoder at ``cfg.lr · cfg.encoder_lr_scale`` (frozen when 0)."""
    groups = [{"params": list(model.head.parameters()), "lr": cfg.lr}]
    if cfg.encoder_lr_scale > 0:
        groups.append({"params": list(model.encoder.parameters()), "lr": cfg.lr * cfg.encoder_lr_scale})
    else:
        model.encoder.requires_grad_(False)
    return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


def evaluate_classifier(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
                        classes: tuple[str, ...], *, batch_size: int = 256) -> dict[str, float]:
    """``val_accuracy``, ``val_mean_class_accuracy``, ``val_macro_f1`` of uint8 crops (N, C, S, S) and labels (N,)."""
    probs = predict_probs(model, images, batch_size=batch_size)
    report = classification_report(labels.numpy(), probs.argmax(1).numpy(), classes)
    return {"val_accuracy": report.accuracy, "val_mean_class_accuracy": report.mean_class_accuracy,
            "val_macro_f1": report.macro_f1}


@trainer("ifer")
def train_ifer(cfg: IFERTrainConfig, ctx: TrainContext) -> dict[str, Any]:
    """Train (or resume) IFER: checkpoints, ``metrics.jsonl`` and ``final/`` in the run folder. Summary: ``step``,
    ``total_steps``, ``train_seconds`` and the last ``val_accuracy``, ``val_mean_class_accuracy``, ``val_macro_f1``."""
    info = ctx.info
    encoder = build_fer_encoder(cfg)
    if cfg.pretrained and ctx.fresh:
        load_inversion_encoder(cfg, encoder)
    model = build_ifer(cfg.model, encoder).to(info.device)
    train, val = load_train_val(cfg.data, num_classes=cfg.model.num_classes, image_size=encoder.input_size,
                                in_chans=encoder.in_channels, progress=ctx.show_progress)
    plan = BatchPlan.make(n=len(train.labels), batch_size=cfg.batch_size, epochs=1.0, warmup_epochs=0.0,
                          seed=cfg.seed, info=info)  # steps walk epoch after epoch; the run's length is cfg.steps
    total_steps = cfg.steps
    optimizer = build_ifer_optimizer(cfg, model)
    scheduler = build_scheduler(optimizer, total_steps=total_steps, warmup_steps=max(1, total_steps // 20))
    run = ctx.start(cfg, modules={"model": model}, optimizers={"optimizer": optimizer},
                    schedulers={"scheduler": scheduler})

    def train_step(step: int) -> dict[str, float]:
        x, target = training_batch(plan, step, cfg.augment, step_generator(cfg.seed, step), train.images,
                                   train.targets, device=info.device)
        model.train()
        loss = F.cross_entropy(model(x), target, label_smoothing=cfg.label_smoothing)
        optimizer_step(loss, model, optimizer, scheduler=scheduler)
        return {"loss": loss.item(), "lr": optimizer.param_groups[0]["lr"]}

    def evaluate(step: int) -> dict[str, float]:
        return evaluate_classifier(model, val.images, val.labels, val.classes)

    hooks = [Hook(every=cfg.eval_every_steps, fn=evaluate)] if val is not None and len(val.labels) else []
    return ctx.finish(run, train_step, total_steps=total_steps, hooks=hooks,
                      metrics=("val_accuracy", "val_mean_class_accuracy", "val_macro_f1"),
                      start_info={"train_images": plan.n, "val_images": 0 if val is None else len(val.labels),
                                  "encoder": cfg.encoder, "pretrained": cfg.pretrained},
                      export=lambda folder: export_model_folder(folder, cfg, model.state_dict()))


__all__ = ["build_ifer_optimizer", "evaluate_classifier", "load_inversion_encoder", "train_ifer"]
