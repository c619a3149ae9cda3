"""Read user-supplied network weights (torch ``.pth``/``.pt`` or ``.safetensors``) without executing code."""

from __future__ import annotations

from pathlib import Path

import torch

from genfer.io import CheckpointError, load_state_dict


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from ``.safetensors`` or a torch file loaded with ``weights_only=True``.

    A ``{"state_dict": {...}}`` wrapper is unwrapped. Missing, corrupt or non-tensor files raise
    :class:`CheckpointError`.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        return load_state_dict(path)
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise CheckpointError(f"{path} is not a torch weights file ({type(exc).__name__})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} does not hold a state dict of tensors")
    return state
