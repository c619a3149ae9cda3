"""What every trainer shares around its own networks and step: the entry point, the run, the export.

A trainer is written as ``fn(cfg, ctx) -> summary`` and decorated with :func:`trainer`, which gives it the
public signature ``train_x(cfg, run_dir, *, resume=True, progress=True, max_steps=None, dist_info=None,
tensorboard=True)``,
joins the process group, sets threads and the init seed, holds the run folder's lock file (rank 0: a second live
process training there is refused) and attaches it to its method in :mod:`genfer.registry`
(so ``genfer train METHOD`` finds it). Inside, the trainer builds its networks and optimisers, calls
:meth:`TrainContext.start` for a resumed-or-new :class:`~genfer.train.loop.TrainingRun`, and ends with
:meth:`TrainContext.finish`, which runs the loop, writes ``final/`` (a model folder naming the method) and
returns the summary.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genfer import registry
from genfer.config import RunConfig, config_document
from genfer.io import RunLock, latest_checkpoint, write_model_folder
from genfer.train.distributed import DistInfo
from genfer.train.loop import Hook, TrainingRun, run_summary, setup_process

TrainFn = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class TrainContext:
    """Where and how a trainer runs: output folder, process (rank, device), resume and progress flags."""

    run_dir: Path
    info: DistInfo
    resume: bool = True
    progress: bool = True
    max_steps: int | None = None
    tensorboard: bool = True

    @property
    def device(self) -> torch.device:
        return self.info.device

    @property
    def show_progress(self) -> bool:
        """Progress bars only on rank 0, and only when asked."""
        return self.progress and self.info.is_main

    @property
    def fresh(self) -> bool:
        """True when the run starts from scratch (nothing to resume): the moment to apply ``init_from``."""
        return not (self.resume and latest_checkpoint(self.run_dir) is not None)

    def start(self, cfg: RunConfig, *, modules: dict[str, torch.nn.Module],
              optimizers: dict[str, torch.optim.Optimizer], schedulers: dict[str, Any] | None = None,
              extra_state: dict[str, Any] | None = None) -> TrainingRun:
        """The run of ``cfg`` over these modules/optimisers, resumed from the latest checkpoint when asked."""
        run = TrainingRun.from_config(cfg, run_dir=self.run_dir, info=self.info, modules=modules,
                                      optimizers=optimizers, schedulers=schedulers or {}, progress=self.progress,
                                      tensorboard=self.tensorboard)
        if extra_state:
            run.extra_state = dict(extra_state)
        if self.resume:
            run.resume()
        return run

    def finish(self, run: TrainingRun, step_fn: Callable[[int], dict[str, float]], *, total_steps: int,
               hooks: list[Hook] | tuple[Hook, ...] = (), start_info: dict[str, Any] | None = None,
               export: Callable[[Path], Any] | None = None, metrics: tuple[str, ...] = (),
               extra: dict[str, Any] | None = None,
               stop_when: Callable[[], str | None] | None = None) -> dict[str, Any]:
        """Run the loop to ``total_steps`` (or ``max_steps``, or until ``stop_when`` gives a reason: see
        :meth:`TrainingRun.loop`); when finished, ``export(run_dir / "final")`` on rank 0.

        Returns the summary: ``step``, ``total_steps``, ``train_seconds``, the last value of each of ``metrics``
        (None if never measured), ``stopped_early`` when a stopping rule ended the run, and ``extra``.
        """
        summary = run.loop(step_fn, total_steps=total_steps, max_steps=self.max_steps, hooks=hooks,
                           start_info=start_info, stop_when=stop_when)
        if self.info.is_main and summary["finished"] and export is not None:
            export(self.run_dir / "final")
        early = {"stopped_early": summary["stopped_early"]} if summary.get("stopped_early") else {}
        return run_summary(summary, *metrics) | early | (extra or {})


def export_model_folder(folder: Path, cfg: RunConfig, state: dict[str, torch.Tensor], *,
                        extra: dict[str, dict[str, torch.Tensor]] | None = None) -> Path:
    """A run's ``final/``: ``model.safetensors`` from ``state`` minus what inference never uses (the method's
    ``drop_prefixes``, e.g. D), ``config.json`` naming the method, extra weight files (e.g. a kept
    ``discriminator``)."""
    state = registry.inference_state(registry.method_of(cfg), state)
    return write_model_folder(folder, state, config_document(cfg), extra=extra)


def trainer(method: str) -> Callable[[Callable[[Any, TrainContext], dict[str, Any]]], TrainFn]:
    """Decorate ``fn(cfg, ctx)`` into method ``method``'s public trainer (see the module docstring)."""

    def wrap(fn: Callable[[Any, TrainContext], dict[str, Any]]) -> TrainFn:
        @functools.wraps(fn)
        def train(cfg: RunConfig, run_dir: str | Path, *, resume: bool = True, progress: bool = True,
                  max_steps: int | None = None, dist_info: DistInfo | None = None,
                  tensorboard: bool = True) -> dict[str, Any]:
            info = setup_process(threads=cfg.threads, seed=cfg.seed, dist_info=dist_info)
            with RunLock(run_dir) if info.is_main else contextlib.nullcontext():  # one process per run folder
                return fn(cfg, TrainContext(run_dir=Path(run_dir), info=info, resume=resume, progress=progress,
                                            max_steps=max_steps, tensorboard=tensorboard))

        registry.attach_trainer(method, train)
        return train

    return wrap


__all__ = ["TrainContext", "TrainFn", "export_model_folder", "trainer"]
