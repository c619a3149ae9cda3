"""The recognizer training loop: single process or DDP under ``torchrun``, resumable, seeded.

Every random draw of step ``s`` (batch order, augmentation) comes from generators seeded by
``(seed, epoch)`` and ``(seed, s)`` and is drawn for the *global* batch, each rank taking its contiguous
slice; so a run resumed at ``s`` continues exactly, and ``W`` ranks with batch ``B / W`` each take the
same steps as one process with batch ``B`` (exactly so with ``model.norm=group``; BatchNorm statistics are
per rank under DDP on CPU, where SyncBatchNorm does not exist — on CUDA it is converted to SyncBatchNorm).
"""

from __future__ import annotations

import logging
import math
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from genfer.config import TrainConfig, to_dict
from genfer.data.arrays import split_tensor
from genfer.data.augment import apply_augment, normalize, sample_params
from genfer.models.recognizer import build_recognizer
from genfer.paths import dataset_root
from genfer.predict import predict_probs
from genfer.train.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    load_checkpoint_config,
    load_into,
    load_state_dict,
    load_trainer_state,
    save_checkpoint,
    save_state_dict,
)
from genfer.train.distributed import DistInfo, init_distributed
from genfer.train.metrics_log import MetricsLog

log = logging.getLogger(__name__)

RUNTIME_KEYS = frozenset({"threads", "checkpoint_minutes", "keep_checkpoints"})
"""Config keys that may change between a run and its resumption (they do not change what is learnt)."""


@dataclass
class SplitTensors:
    """A split in memory: uint8 images (N, C, H, W), soft targets (N, K), labels (N,)."""

    images: torch.Tensor
    targets: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]


def load_split(cfg: TrainConfig, split: str, limit: int, *, progress: bool) -> SplitTensors:
    """Read a split with the dataset registry and hold it as tensors."""
    from genfer.data.registry import open_dataset

    options = {"label_source": cfg.data.label_source} if cfg.data.dataset == "ferplus" else {}
    ds = open_dataset(cfg.data.dataset, dataset_root(cfg.data.dataset, cfg.data.root), split, **options)
    keep = (ds.labels >= 0).nonzero()[0]
    if limit:
        keep = keep[:limit]
    ds = ds.subset(keep)
    k = cfg.model.num_classes
    labels = torch.from_numpy(ds.labels)
    if labels.numel() and int(labels.max()) >= k:
        raise ValueError(f"{ds.name} has labels beyond the model's {k} classes")
    if cfg.data.target == "votes" and ds.votes is not None:
        targets = torch.zeros(len(ds), k)
        targets[:, : ds.votes.shape[1]] = torch.from_numpy(ds.votes[:, :k])
        targets = targets / targets.sum(1, keepdim=True).clamp_min(1e-8)
    else:
        targets = F.one_hot(labels, k).float()
    images = split_tensor(ds, cfg.model.image_size, cfg.model.in_chans, progress=progress)
    return SplitTensors(images=images, targets=targets, labels=labels, classes=ds.classes)


def cosine_with_warmup(total_steps: int, warmup_steps: int):
    """LR multiplier: linear warm-up to 1, then cosine decay to 0 at ``total_steps``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def epoch_permutation(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The sample order of ``epoch`` (identical on every rank)."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)


def step_generator(seed: int, step: int) -> torch.Generator:
    """Generator for the augmentation of global step ``step``."""
    return torch.Generator().manual_seed((seed + 1) * 2_147_483_647 + step)


def accuracy(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of (N, K) probabilities against (N,) labels."""
    return float((probs.argmax(1) == labels).float().mean()) if len(labels) else float("nan")


class _StopFlag:
    """Set by SIGTERM/SIGINT so the loop checkpoints and exits cleanly."""

    def __init__(self) -> None:
        self.raised = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "_StopFlag":
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not in the main thread
                pass
        return self

    def _handle(self, *_: Any) -> None:
        self.raised = True

    def __exit__(self, *_: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


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
    info = dist_info or init_distributed()
    run_dir = Path(run_dir)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    show = progress and info.is_main

    train = load_split(cfg, cfg.data.train_split, cfg.data.limit_train, progress=show)
    val = load_split(cfg, cfg.data.val_split, cfg.data.limit_val, progress=show) if cfg.data.val_split else None

    model = build_recognizer(cfg.model).to(info.device)
    if info.enabled and info.device.type == "cuda" and cfg.model.norm == "batch":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    from timm.optim import create_optimizer_v2
    from timm.utils import ModelEmaV3

    opt_kwargs = {"momentum": cfg.optim.momentum, "nesterov": True} if cfg.optim.optimizer == "sgd" else {}
    optimizer = create_optimizer_v2(
        model, opt=cfg.optim.optimizer, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay, **opt_kwargs
    )
    ema = ModelEmaV3(model, decay=cfg.optim.ema_decay, use_warmup=True)  # decay ramps 1-(1+t)^(-2/3) up to ema_decay

    global_batch = cfg.optim.batch_size
    if global_batch % info.world_size:
        raise ValueError(f"batch_size {global_batch} is not divisible by the {info.world_size} processes")
    local_batch = global_batch // info.world_size
    n = len(train.labels)
    steps_per_epoch = n // global_batch
    if steps_per_epoch == 0:
        raise ValueError(f"training set has {n} images, fewer than one batch of {global_batch}")
    total_steps = max(1, math.ceil(cfg.optim.epochs * steps_per_epoch))
    warmup = int(cfg.optim.warmup_epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_with_warmup(total_steps, warmup))
    eval_every = max(1, int(cfg.eval_every_epochs * steps_per_epoch))

    config_dict = to_dict(cfg)
    step, train_seconds = 0, 0.0
    ckpt = latest_checkpoint(run_dir) if resume else None
    if ckpt is not None:
        saved = {k: v for k, v in load_checkpoint_config(ckpt).items() if k not in RUNTIME_KEYS}
        wanted = {k: v for k, v in config_dict.items() if k not in RUNTIME_KEYS}
        if saved != wanted:
            diff = sorted(k for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k))
            raise CheckpointError(f"{run_dir} holds a run with a different config (differs in: {', '.join(diff)}); "
                                  "use another --out or --no-resume")
        load_into(model, load_state_dict(ckpt / "model.safetensors"), source=str(ckpt))
        load_into(ema.module, load_state_dict(ckpt / "ema.safetensors"), source=str(ckpt))
        state = load_trainer_state(ckpt)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        step, train_seconds = int(state["step"]), float(state["train_seconds"])
        if info.is_main:
            log.info("resumed %s at step %d/%d", ckpt, step, total_steps)

    ddp = DistributedDataParallel(model) if info.enabled else model
    metrics = MetricsLog(run_dir / "metrics.jsonl" if info.is_main else None)
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        metrics.write(event="start", step=step, total_steps=total_steps, world_size=info.world_size,
                      train_images=n, val_images=0 if val is None else len(val.labels))

    def checkpoint() -> None:
        if info.is_main:
            save_checkpoint(
                run_dir, step,
                modules={"model": model.state_dict(), "ema": ema.module.state_dict()},
                trainer_state={"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                               "torch_rng": torch.get_rng_state(), "step": step,
                               "train_seconds": train_seconds},
                config=config_dict, keep=cfg.keep_checkpoints,
            )

    def evaluate() -> float:
        return accuracy(predict_probs(ema.module, val.images, batch_size=256), val.labels) if val else float("nan")

    from tqdm import tqdm

    stop_at = total_steps if max_steps is None else min(total_steps, max_steps)
    bar = tqdm(total=total_steps, initial=step, disable=not show, unit="step", desc=cfg.name)
    last_ckpt = time.monotonic()
    perm_epoch, perm = -1, None
    val_acc = float("nan")
    lo, hi = info.rank * local_batch, (info.rank + 1) * local_batch
    with _StopFlag() as stop:
        while step < stop_at:
            t0 = time.perf_counter()
            epoch, within = divmod(step, steps_per_epoch)
            if epoch != perm_epoch:
                perm, perm_epoch = epoch_permutation(cfg.seed, epoch, n), epoch
            idx = perm[within * global_batch : (within + 1) * global_batch][lo:hi]
            params = sample_params(cfg.augment, global_batch, step_generator(cfg.seed, step)).slice(slice(lo, hi))
            x = normalize(apply_augment(train.images[idx].float().div_(255.0), params)).to(info.device)
            y = train.targets[idx].to(info.device)
            model.train()
            loss = F.cross_entropy(ddp(x), y, label_smoothing=cfg.optim.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.optim.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
            optimizer.step()
            scheduler.step()
            step += 1
            ema.update(model, step=step)
            train_seconds += time.perf_counter() - t0
            bar.update(1)
            if info.is_main and (step % 50 == 0 or step == stop_at):
                lr = optimizer.param_groups[0]["lr"]
                metrics.write(event="train", step=step, epoch=step / steps_per_epoch, loss=round(loss.item(), 5),
                              lr=lr, train_seconds=round(train_seconds, 1))
                bar.set_postfix(loss=f"{loss.item():.3f}", val=f"{val_acc:.4f}")
            if info.is_main and val is not None and (step % eval_every == 0 or step == total_steps):
                val_acc = evaluate()
                metrics.write(event="eval", step=step, epoch=step / steps_per_epoch, val_accuracy=val_acc,
                              train_seconds=round(train_seconds, 1))
            due = info.is_main and time.monotonic() - last_ckpt > cfg.checkpoint_minutes * 60
            if due or stop.raised:
                checkpoint()
                last_ckpt = time.monotonic()
            if stop.raised:
                log.warning("stopped by signal at step %d; resume with the same command", step)
                break
    bar.close()
    checkpoint()
    if info.is_main and step >= total_steps:
        export_model(run_dir / "final", ema.module, cfg)
    return {"step": step, "total_steps": total_steps, "val_accuracy": None if math.isnan(val_acc) else val_acc,
            "train_seconds": round(train_seconds, 1)}


def export_model(folder: Path, model: torch.nn.Module, cfg: TrainConfig, *, half: bool = False) -> Path:
    """Write a shippable model folder: ``model.safetensors`` (+ fp16 option) and ``config.json``."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    save_state_dict(model.state_dict(), folder / "model.safetensors", dtype=torch.float16 if half else None)
    (folder / "config.json").write_text(json.dumps(to_dict(cfg), indent=2))
    return folder
