"""Models: the shipped zoo, and one loader for every method's model folders, runs and checkpoints.

A model is a folder with ``model.safetensors`` (weights), ``config.json`` (the run config it was built from,
naming its ``method``) and, when shipped, ``MODEL_CARD.md``. Shipped models live in
``genfer/assets/models/<name>/``. :func:`load_model` takes a shipped name or alias, a model folder (a run's
``final/``), a run folder (its ``final/`` once finished, else its latest checkpoint) or a checkpoint folder
(``ckpt-*``, whose inference weights are the method's ``checkpoint_weights``, e.g. the EMA model), and returns a
:class:`LoadedModel` built by the method's registry entry (:mod:`genfer.registry`). Loading never executes code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genfer import registry
from genfer.config import RunConfig, config_document
from genfer.io import WEIGHTS_FILE, CheckpointError, latest_checkpoint, read_config, write_model_folder

if TYPE_CHECKING:
    from torch import nn

DEFAULT_RECOGNIZER = "fer-resnet18s-48-kd"
"""Name of the default recognizer (FERPlus crowd labels, 8 classes; distilled from two teachers)."""

FER2013_RECOGNIZER = "fer2013-resnet18s-48-kd"
"""The shipped recognizer trained on FER2013's original 7-class labels (fine-tuned from the default)."""

REFERENCE_RECOGNIZER = "fer-resnet18s-48"
"""The recognizer under genfer's FID* (``genfer-fer``) and genfer-LPIPS defaults and the generators' reports: pinned,
so that a better default recognizer does not make the figures measured with it incomparable."""

REFERENCE_FER2013_RECOGNIZER = "fer2013-resnet18s-48"
"""The 7-class twin of :data:`REFERENCE_RECOGNIZER`, pinned for the same reason: the judge of the switch-unit GAN's
reports and the network under the inversion reports' LPIPS* and FID*."""

MODEL_ALIASES = {"pfvit": "pfvit-vit-t-48", "switchgan": "switchgan-fer2013-48", "psp": "psp-gray64",
                 "hyperstyle": "hyperstyle-gray64", "asit": "asit-gray64", "ifer": "ifer-gray64"}
"""Short names of shipped models (``--model pfvit``)."""


@dataclass(frozen=True)
class LoadedModel:
    """A model ready for inference (eval mode) with the run config it was trained with.

    ``method`` names its :class:`~genfer.registry.Method`; ``model`` is what that method's ``load`` builds (a
    recognizer, a PF-ViT without D, a switch-unit GAN without D, a StyleGAN2 EMA generator with its
    ``latent_avg``, a pSp encoder with its generator, an MAE).
    """

    method: str
    name: str
    folder: Path
    config: RunConfig
    model: "nn.Module"

    @property
    def kind(self) -> str:
        """The method name (kept for callers written before the registry)."""
        return self.method

    @property
    def tasks(self) -> tuple[str, ...]:
        """What the model does (``recognize``, ``neutralize``, ``transfer``, ``invert``, ``sample``, ...)."""
        return registry.get(self.method).tasks

    @property
    def image_size(self) -> int:
        """Side of the aligned crops the model takes."""
        return self._geometry()[0]

    @property
    def in_chans(self) -> int:
        """Input channels (1: grayscale)."""
        return self._geometry()[1]

    @property
    def num_classes(self) -> int:
        """K, for models that classify."""
        return self.config.model.num_classes  # type: ignore[attr-defined]

    def _geometry(self) -> tuple[int, int]:
        geometry = registry.get(self.method).input_geometry
        if geometry is None:
            raise CheckpointError(f"{self.name} ({self.method}) takes no face crops")
        return geometry(self.config)


def models_dir() -> Path:
    """The package folder holding shipped models."""
    return Path(str(resources.files("genfer") / "assets" / "models"))


def available_models() -> list[str]:
    """Names of the shipped models."""
    root = models_dir()
    return sorted(p.name for p in root.iterdir() if (p / WEIGHTS_FILE).is_file()) if root.is_dir() else []


def resolve_model_folder(name_or_path: str | Path) -> Path:
    """The folder of a shipped model name or alias, or a user path; a clear error if neither exists."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    if path.suffix == ".safetensors" and path.is_file():
        return path.parent
    name = MODEL_ALIASES.get(str(name_or_path), str(name_or_path))
    shipped = models_dir() / name
    if shipped.is_dir():
        return shipped
    if name != str(name_or_path):
        raise CheckpointError(f"{name_or_path!r} names the shipped model {name}, which this genfer version does not "
                              "ship yet; pass a trained model folder instead (see the README)")
    names = ", ".join(available_models()) or "none shipped"
    raise CheckpointError(f"no model {str(name_or_path)!r}: not a folder and not a shipped model ({names})")


def find_model_folder(name_or_path: str | Path) -> Path:
    """The folder holding ``config.json`` and weights: the model or checkpoint folder itself, a run's ``final/``,
    or a run's latest checkpoint."""
    folder = resolve_model_folder(name_or_path)
    if (folder / "config.json").is_file():
        return folder
    if (folder / "final" / "config.json").is_file():
        return folder / "final"
    ckpt = latest_checkpoint(folder)
    if ckpt is None:
        raise CheckpointError(f"{folder} is not a model folder (no config.json, final/ or checkpoint)")
    return ckpt


def _display_name(folder: Path) -> str:
    return folder.parent.name if folder.name == "final" or folder.name.startswith("ckpt-") else folder.name


DISCRIMINATOR = "discriminator"
DISCRIMINATOR_FILE = f"{DISCRIMINATOR}.safetensors"
"""The trained D kept beside a generator's ``model.safetensors`` (warm starts, ASIT's inversion discriminator)."""


SHARED_FILE = "shared_weights.json"
"""Beside a shipped model's weights: ``{model name: [key prefixes]}``, the entries it takes from another shipped model
instead of storing them again (HyperStyle's frozen pSp encoder and generator are ``psp-gray64``'s)."""


def _shared_source(root: Path, name: str) -> Path:
    """The model folder ``name`` in ``root`` (the folder holding the sharing model), else the shipped model ``name``."""
    beside = root / name
    return beside if beside.is_dir() else resolve_model_folder(name)


def _read_shared_spec(folder: Path) -> dict[str, tuple[str, ...]]:
    path = folder / SHARED_FILE
    if not path.is_file():
        return {}
    try:
        spec = json.loads(path.read_text())
        return {str(name): tuple(str(p) for p in prefixes) for name, prefixes in spec.items()}
    except (ValueError, AttributeError, TypeError):
        raise CheckpointError(f"{path} is not a {{model name: [key prefixes]}} JSON object") from None


def _entries_of(root: Path, name: str, prefixes: tuple[str, ...]) -> dict:
    """The inference state entries under ``prefixes`` of the model ``name`` (:func:`_shared_source`)."""
    source, source_cfg = read_model_config(_shared_source(root, name))
    _, state = _inference_weights(source, registry.method_of(source_cfg))
    return {k: v for k, v in state.items() if k.startswith(prefixes)}


def _shared_weights(folder: Path, spec: Mapping[str, tuple[str, ...]]) -> dict:
    """The state entries under each shared model's prefixes, read from that model's folder."""
    merged: dict = {}
    for name, prefixes in spec.items():
        picked = _entries_of(folder.parent, name, prefixes)
        if not picked:
            raise CheckpointError(f"{folder}: the model {name} it shares weights with has none under {list(prefixes)}")
        merged.update(picked)
    return merged


def _inference_weights(folder: Path, method: registry.Method) -> tuple[Path, dict]:
    """(weights file, state dict) of a model or checkpoint folder: the method's ``checkpoint_weights`` in a training
    checkpoint that has them (a PF-ViT run keeps a weight average only with ``optim.ema_decay`` > 0), else
    ``model.safetensors`` with the entries it shares with other shipped models (:data:`SHARED_FILE`); without what
    inference never uses (the method's ``drop_prefixes``)."""
    from genfer.io.weights import load_state_dict  # reading configs and listing models need no torch

    is_checkpoint = (folder / "trainer.pt").is_file()
    averaged = is_checkpoint and (folder / method.checkpoint_weights).is_file()
    weights = folder / (method.checkpoint_weights if averaged else WEIGHTS_FILE)
    state = {**_shared_weights(folder, _read_shared_spec(folder)), **load_state_dict(weights)}
    return weights, registry.inference_state(method, state)


def _split_shared(state: dict, share: Mapping[str, tuple[str, ...]], dest_root: Path, half: bool) -> dict:
    """``state`` without the entries another shipped model already stores, after checking that they are equal to
    that model's (as stored: fp16 when ``half``)."""
    import torch

    kept = dict(state)
    for name, prefixes in share.items():
        theirs = _entries_of(dest_root, name, tuple(prefixes))
        mine = {k: v for k, v in state.items() if k.startswith(tuple(prefixes))}
        if not mine:
            raise CheckpointError(f"nothing under {list(prefixes)} to share with {name}")
        for key, value in mine.items():
            stored = value.half() if half and value.is_floating_point() else value
            if key not in theirs or not torch.equal(stored, theirs[key].to(stored.dtype)):
                raise CheckpointError(f"{key} differs from {name}'s: the weights are not shared, ship them whole")
            del kept[key]
    return kept


def discriminator_state(folder: Path) -> dict | None:
    """The D state dict kept in a generator model folder (``discriminator.safetensors``) or a StyleGAN2 training
    checkpoint (``d.safetensors``); None when the folder keeps none (e.g. a pSp model)."""
    from genfer.io.weights import load_state_dict

    for name in (DISCRIMINATOR_FILE, "d.safetensors"):
        if (folder / name).is_file():
            return load_state_dict(folder / name)
    return None


def read_model_config(name_or_path: str | Path) -> tuple[Path, RunConfig]:
    """(folder, run config) of a model without loading its weights."""
    folder = find_model_folder(name_or_path)
    return folder, registry.parse_config(read_config(folder), source=str(folder / "config.json"))


def load_model(name_or_path: str | Path, *, device: str = "cpu", methods: Iterable[str] | None = None,
               task: str | None = None) -> LoadedModel:
    """Load any method's model (see the module docstring for what ``name_or_path`` may be).

    Args:
        methods: accept only these methods (a clear error otherwise).
        task: accept only models whose method has this task (e.g. ``"neutralize"``).
    """
    folder, cfg = read_model_config(name_or_path)
    method = registry.method_of(cfg)
    allowed = None if methods is None else tuple(methods)
    if (allowed is not None and method.name not in allowed) or (task is not None and task not in method.tasks):
        wanted = " or ".join(allowed) if allowed is not None else f"a model that can {task}"
        raise CheckpointError(f"{name_or_path} is a {method.name} model, not {wanted}")
    weights, state = _inference_weights(folder, method)
    try:
        model = method.load(cfg, state)
    except CheckpointError as exc:
        raise CheckpointError(f"{weights}: {exc}") from None
    return LoadedModel(method=method.name, name=_display_name(folder), folder=folder, config=cfg,
                       model=model.eval().to(device))


def load_recognizer(name_or_path: str | Path = DEFAULT_RECOGNIZER, *, device: str = "cpu") -> LoadedModel:
    """Load a model that recognises expressions (a recognizer, or PF-ViT, whose forward is E → S → C)."""
    return load_model(name_or_path, device=device, task="recognize")


def model_card(name_or_path: str | Path = DEFAULT_RECOGNIZER) -> str:
    """The model card text of a model folder ('' if it has none)."""
    card = resolve_model_folder(name_or_path) / "MODEL_CARD.md"
    return card.read_text() if card.is_file() else ""


def ship_model(source: str | Path, name: str, *, half: bool = True, dest_root: Path | None = None,
               keep_discriminator: bool = False, discriminator_from: str | Path | None = None,
               share: Mapping[str, tuple[str, ...]] | None = None,
               config_updates: Mapping[str, Any] | None = None) -> Path:
    """Copy a trained model (any method's ``final/``, run or checkpoint) into the package as ``name``.

    Writes ``model.safetensors`` (the inference weights, without the method's ``drop_prefixes``, e.g. D) as fp16
    when ``half`` (check the measured figures are unchanged before shipping) and ``config.json`` naming the method;
    ``keep_discriminator`` also copies a kept ``discriminator.safetensors`` (a generator's D, for warm starts and
    ASIT), from ``source`` or from ``discriminator_from`` (the generator folder a pSp model was trained on, whose D
    the pSp folder does not keep). ``share`` (``{shipped model: key prefixes}``) leaves out the entries equal to
    another shipped model's (checked) and records them in :data:`SHARED_FILE`, from which loading takes them.
    ``config_updates`` replaces top-level fields of the written config (e.g. HyperStyle's ``inverter``, a run path
    on the training machine, by the shipped pSp's name); a field the config lacks is a ValueError. The model card is
    written separately by hand with the measured figures.
    """
    folder, cfg = read_model_config(source)
    _, state = _inference_weights(folder, registry.method_of(cfg))
    root = dest_root or models_dir()
    if share:
        state = _split_shared(state, share, root, half)
    extra = {}
    if keep_discriminator or discriminator_from is not None:
        d_folder = find_model_folder(discriminator_from) if discriminator_from is not None else folder
        d_state = discriminator_state(d_folder)
        if d_state is None:
            raise CheckpointError(f"{d_folder} keeps no discriminator")
        extra[DISCRIMINATOR] = d_state
    document = config_document(cfg)
    unknown = sorted(set(config_updates or {}) - set(document))
    if unknown:
        raise ValueError(f"config_updates names fields the {document.get('method')} config lacks: {unknown}")
    document.update(config_updates or {})
    dest = write_model_folder(root / name, state, document, half=half, extra=extra)
    shared_file = dest / SHARED_FILE
    if share:
        shared_file.write_text(json.dumps({k: list(v) for k, v in share.items()}, indent=1) + "\n")
    elif shared_file.is_file():
        shared_file.unlink()
    return dest


__all__ = [
    "DEFAULT_RECOGNIZER",
    "FER2013_RECOGNIZER",
    "REFERENCE_FER2013_RECOGNIZER",
    "REFERENCE_RECOGNIZER",
    "LoadedModel",
    "MODEL_ALIASES",
    "SHARED_FILE",
    "DISCRIMINATOR",
    "DISCRIMINATOR_FILE",
    "available_models",
    "discriminator_state",
    "find_model_folder",
    "load_model",
    "load_recognizer",
    "model_card",
    "models_dir",
    "read_model_config",
    "resolve_model_folder",
    "ship_model",
]
