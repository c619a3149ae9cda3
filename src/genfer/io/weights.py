"""Module weights as safetensors state dicts: save, read (never executing code), load strictly or where they fit."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from genfer.io.files import CheckpointError, atomic_write_bytes


def nonfinite_keys(state: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors of ``state`` holding a NaN or an infinity."""
    return [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]


def check_finite(state: dict[str, torch.Tensor], *, source: str) -> None:
    """A :class:`CheckpointError` naming ``source`` when a tensor of ``state`` holds a NaN or an infinity."""
    bad = nonfinite_keys(state)
    if bad:
        raise CheckpointError(f"{source} has non-finite values (NaN or infinity) in {len(bad)} of {len(state)} "
                              f"tensors (first: {bad[0]}); the training run that made it diverged")


def save_state_dict(state: dict[str, torch.Tensor], path: Path, *, dtype: torch.dtype | None = None) -> None:
    """Save a module state dict as safetensors (contiguous CPU copies; optional float cast), atomically and with
    the usual file permissions; a state with a NaN or an infinity is refused (:class:`CheckpointError`) and
    nothing is written."""
    out = {}
    for k, v in state.items():
        v = v.detach().to("cpu")
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        out[k] = v.contiguous()
    check_finite(out, source=f"the weights to write to {path}")  # after the cast: fp16 overflows to inf
    atomic_write_bytes(Path(path), save(out))


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors state dict; a missing or corrupt file, or one holding a NaN or an infinity, is a
    :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint file {path} is corrupt or not safetensors ({exc})") from None
    check_finite(state, source=f"checkpoint file {path}")
    return state


def load_into(module: torch.nn.Module, state: dict[str, torch.Tensor], *, source: str) -> None:
    """Load ``state`` into ``module`` strictly, casting floats to the module's dtype, with a clear error."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise CheckpointError(
            f"{source} does not fit the model: {len(missing)} missing keys (e.g. {missing[:2]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:2]})"
        )
    bad = [k for k in own if own[k].shape != state[k].shape]
    if bad:
        raise CheckpointError(f"{source} does not fit the model: shape mismatch at {bad[0]} "
                              f"{tuple(state[bad[0]].shape)} vs {tuple(own[bad[0]].shape)}")
    module.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})


def load_matching(module: torch.nn.Module, state: dict[str, torch.Tensor], *, source: str) -> list[str]:
    """Initialise ``module`` from ``state`` where names and shapes agree (fine-tuning from another model).

    Returns the names of the module's tensors left as they were (absent from ``state`` or of another
    shape, e.g. a classifier head with another number of classes). Raises :class:`CheckpointError` when
    fewer than half of the module's tensors could be taken, which means ``state`` is another architecture.
    """
    own = module.state_dict()
    taken = {k: v.to(own[k].dtype) for k, v in state.items() if k in own and own[k].shape == v.shape}
    kept = sorted(set(own) - set(taken))
    if len(taken) * 2 < len(own):
        raise CheckpointError(f"{source} does not fit the model: only {len(taken)} of {len(own)} tensors match")
    module.load_state_dict(taken, strict=False)
    return kept
