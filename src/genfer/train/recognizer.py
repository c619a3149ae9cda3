"""The recognizer training loop: single process or DDP under ``torchrun``, resumable, seeded.

Every random draw of step ``s`` (batch order, augmentation) comes from generators seeded by
``(seed, epoch)`` and ``(seed, s)`` and is drawn for the *global* batch, each rank taking its contiguous
slice; so a run resumed at ``s`` continues exactly, and ``W`` ranks with batch ``B / W`` each take the
same steps as one process with batch ``B`` (exactly so with ``model.norm=group``; BatchNorm statistics are
per rank under DDP on CPU, where SyncBatchNorm does not exist — on CUDA it is converted to SyncBatchNorm).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from genfer.config import TrainConfig, to_dict
from genfer.data.augment import augmented_batch
from genfer.data.tensors import load_train_val
from genfer.models.recognizer import build_recognizer
from genfer.predict import predict_probs
from genfer.train.checkpoint import (
    latest_checkpoint,
    load_checkpoint_config,
    load_matching,
    load_state_dict,
    save_state_dict,
)
from genfer.train.distributed import DistInfo
from genfer.train.loop import BatchPlan, Hook, TrainingRun, run_summary, setup_process, step_generator
from genfer.train.optim import build_optimizer, build_scheduler

log = logging.getLogger(__name__)


def accuracy(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of (N, K) probabilities against (N,) labels."""
    return float((probs.argmax(1) == labels).float().mean()) if len(labels) else float("nan")


def train_recognizer(
    cfg: TrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = True,
    progress: bool = True,
    max_steps: int | None = None,
    dist_info: DistInfo | None = None,
) -> dict[str, Any]:
    """Train (or resume) a recognizer; write checkpoints, metrics and the final model to ``run_dir``.

    Args:
        cfg: the run config (saved as ``config.json`` in every checkpoint).
        run_dir: output folder; holds ``ckpt-*``, ``latest``, ``metrics.jsonl`` and ``final/``.
        resume: continue from ``run_dir``'s latest checkpoint if there is one (its config must match).
        max_steps: stop (with a checkpoint) after this many global steps, e.g. to split a run.

    Returns:
        Summary: ``step``, ``total_steps``, ``val_accuracy`` (EMA model), ``train_seconds``.
    """
    info = setup_process(threads=cfg.threads, seed=cfg.seed, dist_info=dist_info)
    run_dir = Path(run_dir)
    train, val = load_train_val(cfg.data, num_classes=cfg.model.num_classes, image_size=cfg.model.image_size,
                                in_chans=cfg.model.in_chans, progress=progress and info.is_main)

    model = build_recognizer(cfg.model)
    if cfg.init_from and (not resume or latest_checkpoint(run_dir) is None):
        initialise_from(model, cfg.init_from, quiet=not info.is_main)
    model = model.to(info.device)
    if info.enabled and info.device.type == "cuda" and cfg.model.norm == "batch":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    from timm.utils import ModelEmaV3

    optimizer = build_optimizer(model, cfg.optim)
    ema = ModelEmaV3(model, decay=cfg.optim.ema_decay, use_warmup=True)  # decay ramps 1-(1+t)^(-2/3) up to ema_decay

    plan = BatchPlan.make(n=len(train.labels), batch_size=cfg.optim.batch_size, epochs=cfg.optim.epochs,
                          warmup_epochs=cfg.optim.warmup_epochs, seed=cfg.seed, info=info)
    scheduler = build_scheduler(optimizer, total_steps=plan.total_steps, warmup_steps=plan.warmup_steps)

    run = TrainingRun(
        run_dir=run_dir, config=to_dict(cfg), modules={"model": model, "ema": ema.module},
        optimizers={"optimizer": optimizer}, schedulers={"scheduler": scheduler}, info=info, name=cfg.name,
        checkpoint_minutes=cfg.checkpoint_minutes, keep=cfg.keep_checkpoints, progress=progress,
    )
    if resume:
        run.resume()
    ddp = DistributedDataParallel(model) if info.enabled else model

    def train_step(step: int) -> dict[str, float]:
        idx = plan.indices(step)
        x = augmented_batch(train.images[idx], cfg.augment, step_generator(cfg.seed, step),
                            global_batch=plan.global_batch, local=plan.local).to(info.device)
        y = train.targets[idx].to(info.device)
        model.train()
        loss = F.cross_entropy(ddp(x), y, label_smoothing=cfg.optim.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.optim.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        optimizer.step()
        scheduler.step()
        ema.update(model, step=step + 1)
        return {"loss": loss.item(), "epoch": plan.epoch(step + 1), "lr": optimizer.param_groups[0]["lr"]}

    def evaluate(step: int) -> dict[str, float]:
        acc = accuracy(predict_probs(ema.module, val.images, batch_size=256), val.labels)
        return {"epoch": plan.epoch(step), "val_accuracy": acc}

    hooks = [Hook(every=plan.every(cfg.eval_every_epochs), fn=evaluate)] if val else []
    summary = run.loop(train_step, total_steps=plan.total_steps, max_steps=max_steps, hooks=hooks,
                       start_info={"train_images": plan.n, "val_images": 0 if val is None else len(val.labels)})
    if info.is_main and summary["finished"]:
        export_model(run_dir / "final", ema.module, cfg)
    return run_summary(summary, "val_accuracy")


def initialise_from(model: torch.nn.Module, name_or_path: str, *, quiet: bool = False) -> list[str]:
    """Load the matching tensors of a shipped model or model/checkpoint folder into ``model``.

    An MAE run's folder (``genfer train mae``) gives its encoder (PF-ViT's ViT baseline: ``mae_vit``).

    Returns the names of tensors left freshly initialised (logged), e.g. a head with another class count.
    """
    from genfer.hub import resolve_model_folder

    folder = resolve_model_folder(name_or_path)
    weights = folder / ("ema.safetensors" if (folder / "ema.safetensors").is_file() else "model.safetensors")
    state = load_state_dict(weights)
    if "mae" in load_checkpoint_config(folder):  # an MAE run: its encoder is the ViT to fine-tune
        state = {"net." + k.removeprefix("encoder."): v for k, v in state.items() if k.startswith("encoder.")}
    fresh = load_matching(model, state, source=str(weights))
    if not quiet:
        log.info("initialised from %s; fresh: %s", weights, ", ".join(fresh) or "none")
    return fresh


def export_model(folder: Path, model: torch.nn.Module, cfg: TrainConfig, *, half: bool = False) -> Path:
    """Write a shippable model folder: ``model.safetensors`` (+ fp16 option) and ``config.json``."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    save_state_dict(model.state_dict(), folder / "model.safetensors", dtype=torch.float16 if half else None)
    (folder / "config.json").write_text(json.dumps(to_dict(cfg), indent=2))
    return folder
