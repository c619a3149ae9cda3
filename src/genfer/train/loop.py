"""The loop every genfer trainer shares: resume, step, log, checkpoint, stop cleanly.

A trainer builds its modules and optimisers, then hands them to :class:`TrainingRun` with a step
function. The run

- resumes from ``run_dir/latest`` when asked (the saved config must equal the current one, apart from
  runtime-only keys such as ``threads`` and the run's length, ``epochs``/``kimg``/``steps``: a run may be
  shortened or extended, and its schedule then follows the new length from the current step on), restoring
  module weights, optimiser and scheduler state, the torch RNG, the step counter and the training time;
- calls ``step_fn(step)`` for each global step and writes its scalars to ``metrics.jsonl`` every
  ``log_every`` steps, with a progress bar;
- runs periodic hooks (evaluation, sample grids) on rank 0;
- checkpoints atomically every ``checkpoint_minutes``, on SIGTERM/SIGINT and at the end.

Randomness is the trainer's business: step functions seed their draws from the step number (see
:func:`step_generator`), which is what makes a resumed run continue exactly.
"""

from __future__ import annotations

import logging
import math
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from genfer.config import RunConfig, config_document
from genfer.io import (
    CheckpointError,
    latest_checkpoint,
    load_into,
    load_state_dict,
    load_trainer_state,
    nonfinite_keys,
    read_config,
    save_checkpoint,
)
from genfer.io.rng import epoch_permutation
from genfer.train.distributed import DistInfo, broadcast_flag, init_distributed
from genfer.runs import marked_running
from genfer.train.metrics_log import MetricsLog
from genfer.train.tensorboard_log import TensorBoardLog

log = logging.getLogger(__name__)

RUNTIME_KEYS = frozenset({"threads", "checkpoint_minutes", "keep_checkpoints", "plateau_kimg", "target_fid"})
"""Config keys that may change between a run and its resumption (they do not change what is learnt; a
stopping rule such as ``plateau_kimg`` only decides where the run ends)."""

LENGTH_KEYS = frozenset({"epochs", "kimg", "steps"})
"""Config leaf names (at any depth) giving a run's length: changing them on resume reschedules the run."""


class TrainingDiverged(ValueError):
    """The loss or the weights became NaN or infinite: the run stops without saving (a user error: one line)."""


def nonfinite_scalars(scalars: dict[str, Any]) -> list[str]:
    """Names of the logged scalars (floats or one-element tensors) that are NaN or infinite."""
    return [k for k, v in scalars.items() if isinstance(v, (int, float, torch.Tensor)) and not isinstance(v, bool)
            and not math.isfinite(float(v))]


def grid_path(run_dir: str | Path, step: int) -> Path:
    """Where a trainer's hook writes the image grid of ``step`` (the loop adds it to TensorBoard)."""
    return Path(run_dir) / "grids" / f"step-{step:09d}.png"


def flatten_config(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"optim": {"epochs": 3}}`` → ``{"optim.epochs": 3}`` (lists stay whole values)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_config(value, name + "."))
        else:
            flat[name] = value
    return flat


def config_changes(saved: dict[str, Any], wanted: dict[str, Any], defaults: dict[str, Any] | None = None,
                   ) -> tuple[dict[str, list[Any]], list[str]]:
    """How two run configs differ: (length changes ``{dotted key: [saved, wanted]}``, other changed dotted keys).

    An option added to the config class since the run was saved is no change when it is left off (False/None)
    or at its default (``defaults``: the config class's default document), since the saved run trained with
    the behaviour that default keeps.
    """
    default = flatten_config(defaults or {})
    a = {k: v for k, v in flatten_config(saved).items() if k.split(".")[0] not in RUNTIME_KEYS}
    b = {k: v for k, v in flatten_config(wanted).items() if k.split(".")[0] not in RUNTIME_KEYS
         and (k in a or (v not in (False, None) and not (k in default and default[k] == v)))}
    changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    length = {k: [a[k], b[k]] for k in changed if k.rsplit(".", 1)[-1] in LENGTH_KEYS and k in a and k in b}
    return length, [k for k in changed if k not in length]


def default_document(config_class: type) -> dict[str, Any]:
    """The config document of ``config_class()`` (its defaults), or ``{}`` if the class needs arguments."""
    try:
        return config_document(config_class())
    except TypeError:
        return {}


def cosine_with_warmup(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """LR multiplier: linear warm-up to 1, then cosine decay to 0 at ``total_steps``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def run_summary(loop_summary: dict[str, Any], *metrics: str) -> dict[str, Any]:
    """What a trainer returns: step, total steps, training seconds and the last value of each metric
    named (``None`` if it was never measured or is NaN)."""
    out = {k: loop_summary[k] for k in ("step", "total_steps", "train_seconds")}
    for name in metrics:
        value = loop_summary.get(name)
        out[name] = None if value is None or (isinstance(value, float) and math.isnan(value)) else value
    return out


def setup_process(*, threads: int, seed: int, dist_info: DistInfo | None = None) -> DistInfo:
    """Join torchrun's process group if launched under it, set the thread count (0: torch's default) and
    the torch seed of model initialisation; returns this process's rank/world/device."""

    info = dist_info or init_distributed()
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    return info


@dataclass
class BatchPlan:
    """How a run walks ``n`` training samples: global batches split over ranks, epochs, total steps.

    Step ``s`` of epoch ``e = s // steps_per_epoch`` takes the next ``global_batch`` samples of the epoch's
    permutation (:func:`epoch_permutation`, identical on every rank); each rank keeps its contiguous
    ``local`` slice of them.
    """

    n: int
    global_batch: int
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    rank: int = 0
    world_size: int = 1
    seed: int = 0
    _order: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)

    @classmethod
    def make(cls, *, n: int, batch_size: int, epochs: float, warmup_epochs: float, seed: int,
             info: DistInfo) -> "BatchPlan":
        """Plan a run; a batch that does not split over the ranks, or a dataset smaller than a batch, is an error."""
        if batch_size % info.world_size:
            raise ValueError(f"batch_size {batch_size} is not divisible by the {info.world_size} processes")
        steps_per_epoch = n // batch_size
        if steps_per_epoch == 0:
            raise ValueError(f"the training set has {n} images, fewer than one batch of {batch_size}")
        return cls(n=n, global_batch=batch_size, steps_per_epoch=steps_per_epoch,
                   total_steps=max(1, math.ceil(epochs * steps_per_epoch)),
                   warmup_steps=int(warmup_epochs * steps_per_epoch), rank=info.rank, world_size=info.world_size,
                   seed=seed)

    @property
    def local(self) -> slice:
        """This rank's slice of a global batch."""
        size = self.global_batch // self.world_size
        return slice(self.rank * size, (self.rank + 1) * size)

    def indices(self, step: int) -> torch.Tensor:
        """(local batch,) sample indices of this rank at global step ``step``."""
        epoch, within = divmod(step, self.steps_per_epoch)
        if epoch not in self._order:
            self._order.clear()
            self._order[epoch] = epoch_permutation(self.seed, epoch, self.n)
        return self._order[epoch][within * self.global_batch : (within + 1) * self.global_batch][self.local]

    def epoch(self, step: int) -> float:
        """Epochs completed after ``step`` steps."""
        return step / self.steps_per_epoch

    def every(self, epochs: float) -> int:
        """Steps in ``epochs`` epochs (at least 1), e.g. an evaluation interval."""
        return max(1, int(epochs * self.steps_per_epoch))


class StopFlag:
    """Set by SIGTERM/SIGINT so the loop checkpoints and exits cleanly."""

    def __init__(self) -> None:
        self.raised = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "StopFlag":
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


@dataclass
class Hook:
    """``fn(step) -> dict of scalars`` run on rank 0 every ``every`` steps and at the last step."""

    every: int
    fn: Callable[[int], dict[str, Any]]
    event: str = "eval"


@dataclass
class TrainingRun:
    """Resumable, checkpointed training state and loop.

    Args:
        run_dir: output folder (``ckpt-*``, ``latest``, ``metrics.jsonl``).
        config: the resolved run config as plain data (saved in every checkpoint).
        modules: name -> module, each saved as ``<name>.safetensors`` (e.g. ``model``, ``ema``).
        optimizers: name -> optimiser.
        schedulers: name -> LR scheduler.
        info: rank / world size / device.
        name: progress-bar label.
        checkpoint_minutes: wall-clock interval between checkpoints.
        keep: checkpoints kept.
        progress: show a progress bar (rank 0 only).
        tensorboard: also write TensorBoard events (scalars, ``grids/`` images) when the package is installed.
        config_defaults: the config class's default document (options added since a run was saved, at their
            default, do not stop its resume).
    """

    run_dir: Path
    config: dict[str, Any]
    modules: dict[str, torch.nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    info: DistInfo
    schedulers: dict[str, Any] = field(default_factory=dict)
    name: str = "train"
    checkpoint_minutes: float = 5.0
    keep: int = 2
    progress: bool = True
    step: int = 0
    train_seconds: float = 0.0
    extra_state: dict[str, Any] = field(default_factory=dict)
    tensorboard: bool = True
    config_defaults: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl" if self.info.is_main else None)

    @classmethod
    def from_config(cls, cfg: RunConfig, *, run_dir: str | Path, info: DistInfo,
                    modules: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                    schedulers: dict[str, Any] | None = None, progress: bool = True,
                    tensorboard: bool = True) -> "TrainingRun":
        """The run of ``cfg``: its ``config.json`` document (naming the method), name, checkpoint interval and
        kept checkpoints come from the config's :class:`~genfer.config.RunConfig` fields."""
        return cls(run_dir=Path(run_dir), config=config_document(cfg), modules=modules, optimizers=optimizers,
                   info=info, schedulers=schedulers or {}, name=cfg.name, checkpoint_minutes=cfg.checkpoint_minutes,
                   keep=cfg.keep_checkpoints, progress=progress, tensorboard=tensorboard,
                   config_defaults=default_document(type(cfg)))

    # ------------------------------------------------------------------ state

    def resume(self) -> bool:
        """Load ``run_dir``'s latest checkpoint if there is one; ``True`` if it did."""
        ckpt = latest_checkpoint(self.run_dir)
        if ckpt is None:
            return False
        saved = read_config(ckpt)
        saved.setdefault("method", self.config.get("method"))  # written before configs named their method
        length, other = config_changes(saved, self.config, self.config_defaults)
        if other:
            raise CheckpointError(f"{self.run_dir} holds a run with a different config (differs in: "
                                  f"{', '.join(other)}); use another --out or --no-resume")
        for name, module in self.modules.items():
            load_into(module, load_state_dict(ckpt / f"{name}.safetensors"), source=str(ckpt))
        state = load_trainer_state(ckpt)
        for key, group in (("optimizers", self.optimizers), ("schedulers", self.schedulers)):
            saved_states = state.get(key, {})
            missing = sorted(set(group) - set(saved_states))
            if missing:
                raise CheckpointError(f"checkpoint {ckpt} has no state for {key[:-1]} {missing[0]!r}")
            for name, obj in group.items():
                obj.load_state_dict(saved_states[name])
        torch.set_rng_state(state["torch_rng"])
        self.step, self.train_seconds = int(state["step"]), float(state["train_seconds"])
        self.extra_state = dict(state.get("extra", {}))
        if self.info.is_main:
            log.info("resumed %s at step %d", ckpt, self.step)
            if length:
                log.warning("run length changed on resume: %s", length)
                self.metrics.write(event="length_changed", step=self.step, changes=length)
        return True

    def diverged(self, what: str) -> TrainingDiverged:
        """The error that stops a run whose ``what`` (e.g. ``loss is nan``) became non-finite."""
        last = latest_checkpoint(self.run_dir)
        kept = f"the last good checkpoint {last} is kept" if last else "no checkpoint was written"
        return TrainingDiverged(f"training diverged at step {self.step}: {what}; nothing saved ({kept}); "
                                f"lower the learning rate (--set optim.lr=...) or check the data")

    def check_weights(self) -> None:
        """Raise :class:`TrainingDiverged` when a module's weights hold a NaN or an infinity."""
        for name, module in self.modules.items():
            bad = nonfinite_keys(module.state_dict())
            if bad:
                raise self.diverged(f"{len(bad)} tensors of {name} are non-finite (first: {bad[0]})")

    def checkpoint(self) -> Path | None:
        """Write a checkpoint of the current state (rank 0 only); non-finite weights are never written."""
        if not self.info.is_main:
            return None
        self.check_weights()
        return save_checkpoint(
            self.run_dir, self.step,
            modules={name: m.state_dict() for name, m in self.modules.items()},
            trainer_state={
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
                "torch_rng": torch.get_rng_state(), "step": self.step,
                "train_seconds": self.train_seconds, "extra": self.extra_state,
            },
            config=self.config, keep=self.keep,
        )

    # ------------------------------------------------------------------ loop

    @contextmanager
    def _session(self) -> Iterator[TensorBoardLog]:
        """While the loop runs (rank 0): the ``running.json`` marker and the TensorBoard writer."""
        main = self.info.is_main
        events = TensorBoardLog(self.run_dir if main else None, start_step=self.step, enabled=self.tensorboard)
        try:
            with marked_running(self.run_dir if main else None):
                yield events
        finally:
            events.close()

    def loop(
        self,
        step_fn: Callable[[int], dict[str, float]],
        *,
        total_steps: int,
        max_steps: int | None = None,
        hooks: list[Hook] | tuple[Hook, ...] = (),
        log_every: int = 50,
        start_info: dict[str, Any] | None = None,
        stop_when: Callable[[], str | None] | None = None,
    ) -> dict[str, Any]:
        """Run ``step_fn(step)`` (which returns scalars to log) from the current step to the end.

        Args:
            step_fn: one optimisation step at global step ``step`` (0-based); returns loggable scalars.
            total_steps: steps of the whole run.
            max_steps: stop (with a checkpoint) after this global step, e.g. to split a run.
            hooks: periodic rank-0 callbacks whose scalars are logged under their ``event``.
            start_info: extra fields of the ``start`` metrics record.
            stop_when: an early-stopping rule, asked on rank 0 after the hooks have run (e.g. a plateau of an
                evaluated metric); a reason (str) ends the run as finished, with a checkpoint.

        Returns:
            ``step``, ``total_steps``, ``train_seconds``, ``finished``, ``stopped_early`` (the reason or None) and
            the last value of each hook scalar.
        """
        from tqdm import tqdm

        main = self.info.is_main
        if main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.metrics.write(event="start", step=self.step, total_steps=total_steps,
                               world_size=self.info.world_size, **(start_info or {}))
        stop_at = total_steps if max_steps is None else min(total_steps, max_steps)
        bar = tqdm(total=total_steps, initial=self.step, disable=not (self.progress and main), unit="step",
                   desc=self.name)
        last: dict[str, Any] = {}

        def ask_stop() -> str | None:
            """``stop_when``'s answer on rank 0, agreed by every rank."""
            reason = stop_when() if main and stop_when is not None else None
            return (reason or "stopped early") if broadcast_flag(reason is not None, self.info) else None

        # a resumed run that had already stopped early stays stopped
        early = ask_stop() if stop_when is not None and self.step > 0 else None
        last_ckpt = time.monotonic()
        with StopFlag() as stop, self._session() as events:
            while self.step < stop_at and early is None:
                t0 = time.perf_counter()
                scalars = step_fn(self.step)
                self.step += 1
                bad = nonfinite_scalars(scalars)
                if bad:
                    raise self.diverged(f"{bad[0]} is {float(scalars[bad[0]])}")
                if self.step % log_every == 0:
                    self.check_weights()
                self.train_seconds += time.perf_counter() - t0
                bar.update(1)
                if main and (self.step % log_every == 0 or self.step == stop_at):
                    shown = {k: round(float(v), 5) for k, v in scalars.items()}
                    self.metrics.write(event="train", step=self.step, **shown,
                                       train_seconds=round(self.train_seconds, 1))
                    events.scalars("train", self.step, shown)
                    bar.set_postfix({k: f"{v:.3g}" for k, v in list(shown.items())[:3]})
                for hook in hooks:
                    if main and (self.step % hook.every == 0 or self.step == total_steps):
                        out = hook.fn(self.step)
                        last.update(out)
                        self.metrics.write(event=hook.event, step=self.step, **out,
                                           train_seconds=round(self.train_seconds, 1))
                        events.scalars(hook.event, self.step, out)
                        if grid_path(self.run_dir, self.step).is_file():
                            events.image("grids", grid_path(self.run_dir, self.step), self.step)
                if stop_when is not None and any(self.step % h.every == 0 for h in hooks):
                    early = ask_stop()
                if stop.raised or (main and time.monotonic() - last_ckpt > self.checkpoint_minutes * 60):
                    self.checkpoint()
                    last_ckpt = time.monotonic()
                if stop.raised:
                    log.warning("stopped by signal at step %d; resume with the same command", self.step)
                    break
            bar.close()
            self.checkpoint()
        finished = self.step >= total_steps or early is not None
        if main and early:
            log.warning("%s: the run ends at step %d", early, self.step)
        if main:
            self.metrics.write(event="end", step=self.step, finished=finished,
                               **({"stopped_early": early} if early else {}))
        return {"step": self.step, "total_steps": total_steps, "train_seconds": round(self.train_seconds, 1),
                "finished": finished, "stopped_early": early, **last}


__all__ = [
    "BatchPlan",
    "Hook",
    "LENGTH_KEYS",
    "RUNTIME_KEYS",
    "config_changes",
    "flatten_config",
    "grid_path",
    "StopFlag",
    "TrainingDiverged",
    "TrainingRun",
    "cosine_with_warmup",
    "nonfinite_scalars",
    "run_summary",
    "setup_process",
]
