"""Training methods by name: one :class:`Method` per method says what a model folder of it holds and how to use it.

A method bundles its run-config class and named presets, how to build its inference model from a config and a
state dict, which weight file of a training checkpoint holds the inference weights, and what its models are for.
Its trainer is attached by the train layer (:func:`genfer.train.runner.trainer` registers each built-in one when
:mod:`genfer.train` is imported), so this module sits below training and above the models.

Every ``config.json`` records its ``method``; folders written before that (the first shipped models) are
recognised once, here, by :func:`parse_config`: the one method whose config class accepts the data.

A third-party method registers itself without touching the CLI::

    from genfer.registry import Method, register
    register(Method(name="mine", summary="...", config=MyConfig, presets={"tiny": ...}, load=load_mine,
                    train=train_mine))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from genfer.config import (
    ASIT_PRESETS,
    IFER_PRESETS,
    HYPERSTYLE_PRESETS,
    MAE_TRAIN_PRESETS,
    PFVIT_PRESETS,
    PSP_PRESETS,
    RECOGNIZER_PRESETS,
    STYLEGAN2_PRESETS,
    SWITCHGAN_PRESETS,
    ASITTrainConfig,
    ConfigError,
    HyperStyleTrainConfig,
    IFERTrainConfig,
    MAETrainConfig,
    PFViTTrainConfig,
    PSpTrainConfig,
    RecognizerTrainConfig,
    RunConfig,
    StyleGAN2TrainConfig,
    SwitchGANTrainConfig,
    from_dict,
)
from genfer.io import CheckpointError

if TYPE_CHECKING:
    import torch
    from torch import nn

StateDict = dict[str, "torch.Tensor"]
Loader = Callable[[Any, StateDict], "nn.Module"]


@dataclass(frozen=True)
class Method:
    """A training method and the models it makes.

    Attributes:
        name: ``genfer train NAME``; written as ``method`` into every ``config.json``.
        summary: one line for help texts and ``genfer models``.
        config: its run-config class (a :class:`~genfer.config.RunConfig`).
        presets: named configs (``tiny`` for tests, ``cpu``, ``paper``, ...).
        load: ``(config, state dict) -> module`` in eval mode: builds the inference model and loads the state
            strictly (the state has lost ``drop_prefixes`` already).
        tasks: what its models do (``recognize``, ``neutralize``, ``transfer``, ``invert``, ``sample``,
            ``pretrain``); commands pick models by task.
        checkpoint_weights: the file of a training checkpoint (``ckpt-*``) holding the inference weights
            (``model.safetensors`` when a checkpoint lacks it, e.g. a PF-ViT run without a weight average).
        drop_prefixes: state entries that inference never uses (discriminators).
        input_geometry: ``config -> (image_size, in_chans)`` of the aligned crops the model takes.
        train: ``train(cfg, run_dir, *, resume, progress, max_steps, dist_info) -> summary``, once attached.
    """

    name: str
    summary: str
    config: type[RunConfig]
    presets: Mapping[str, RunConfig]
    load: Loader
    tasks: tuple[str, ...] = ()
    checkpoint_weights: str = "model.safetensors"
    drop_prefixes: tuple[str, ...] = ()
    input_geometry: Callable[[Any], tuple[int, int]] | None = None
    train: Callable[..., dict[str, Any]] | None = None


_METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add (or replace) a method; its config class must name it (``config.method``)."""
    if method.config.method != method.name:
        raise ValueError(f"method {method.name!r}: its config class {method.config.__name__} names "
                         f"{method.config.method!r}")
    _METHODS[method.name] = method
    return method


def attach_trainer(name: str, train: Callable[..., dict[str, Any]]) -> None:
    """Give method ``name`` its trainer (the train layer does this for the built-in methods)."""
    _METHODS[name] = replace(get(name), train=train)


def get(name: str) -> Method:
    """The method called ``name``; an unknown name is a :class:`~genfer.config.ConfigError` listing the choices."""
    if name not in _METHODS:
        raise ConfigError(f"unknown method {name!r}; available: {', '.join(names())}")
    return _METHODS[name]


def names() -> list[str]:
    """Registered method names, in registration order."""
    return list(_METHODS)


def inference_state(method: Method, state: StateDict) -> StateDict:
    """``state`` without the entries inference never uses (the method's ``drop_prefixes``, e.g. D)."""
    if not method.drop_prefixes:
        return state
    return {k: v for k, v in state.items() if not k.startswith(method.drop_prefixes)}


def method_of(config: RunConfig) -> Method:
    """The method a run config belongs to."""
    return get(type(config).method)


def infer_method(data: dict[str, Any]) -> str:
    """The method of a ``config.json`` written before configs named it: the one whose config class parses it."""
    fits = []
    for method in _METHODS.values():
        try:
            from_dict(method.config, data)
        except (ConfigError, TypeError):
            continue
        fits.append(method.name)
    if len(fits) != 1:
        found = "no method's" if not fits else f"several methods' ({', '.join(fits)})"
        raise CheckpointError(f"config.json names no method and fits {found} config; add \"method\": NAME")
    return fits[0]


def parse_config(data: dict[str, Any], *, source: str = "config.json") -> RunConfig:
    """A ``config.json``'s data as its method's run config (the method is inferred for folders without one)."""
    data = dict(data)
    name = data.pop("method", None) or infer_method(data)
    try:
        return from_dict(get(name).config, data)
    except ConfigError as exc:
        raise CheckpointError(f"{source} is not a valid {name} config ({exc})") from None


# ----------------------------------------------------------------------------- the built-in methods
# Each loader imports its model family when called: reading configs, help texts and ``genfer models`` need no
# torch.


def _load_strict(module: nn.Module, state: StateDict) -> nn.Module:
    from genfer.io.weights import load_into

    load_into(module, state, source="model weights")
    return module.eval()


def _load_recognizer(cfg: RecognizerTrainConfig, state: StateDict) -> nn.Module:
    from genfer.models.recognizer import build_recognizer

    return _load_strict(build_recognizer(cfg.model), state)


def _load_mae(cfg: MAETrainConfig, state: StateDict) -> nn.Module:
    from genfer.models.mae import build_mae

    return _load_strict(build_mae(cfg.mae), state)


def _load_pfvit(cfg: PFViTTrainConfig, state: StateDict) -> nn.Module:
    from genfer.models.pfvit import build_pfvit

    has_g = any(k.startswith("generator.") for k in state)  # a recognition-only export has no G
    return _load_strict(build_pfvit(cfg.model, with_generator=has_g, with_discriminator=False), state)


def _load_switchgan(cfg: SwitchGANTrainConfig, state: StateDict) -> nn.Module:
    from genfer.models.switchgan import build_switchgan

    model = build_switchgan(cfg.model, expression_representation=cfg.expression_representation,
                            with_discriminator=False)
    return _load_strict(model, state)


def _load_stylegan2(cfg: StyleGAN2TrainConfig, state: StateDict) -> nn.Module:
    """The EMA generator; ``latent_avg`` from the state (``final/``) or recomputed (a checkpoint's ``g_ema``)."""
    from genfer.models.stylegan2 import average_latent, build_generator

    state = dict(state)
    latent_avg = state.pop("latent_avg", None)
    g = _load_strict(build_generator(cfg.model), state).requires_grad_(False)
    g.latent_avg.copy_(average_latent(g) if latent_avg is None else latent_avg.float())
    return g


def _load_psp(cfg: PSpTrainConfig, state: StateDict) -> nn.Module:
    """Encoder + generator; the generator's ``latent_avg`` is the encoder's."""
    from genfer.models.psp import PSp, build_psp_encoder
    from genfer.models.stylegan2 import build_generator

    psp = PSp(encoder=build_psp_encoder(cfg.encoder, cfg.stylegan2), decoder=build_generator(cfg.stylegan2))
    _load_strict(psp, state).requires_grad_(False)
    psp.decoder.latent_avg.copy_(psp.encoder.latent_avg)
    return psp


def _load_asit(cfg: ASITTrainConfig, state: StateDict) -> nn.Module:
    """ASIT encoder + generator (a pSp-style pair whose encoder also predicts the structure code)."""
    from genfer.models.asit import build_asit_encoder
    from genfer.models.psp import PSp
    from genfer.models.stylegan2 import build_generator

    model = PSp(encoder=build_asit_encoder(cfg.encoder, cfg.stylegan2), decoder=build_generator(cfg.stylegan2))
    _load_strict(model, state).requires_grad_(False)
    model.decoder.latent_avg.copy_(model.encoder.latent_avg)
    return model


def _load_ifer(cfg: IFERTrainConfig, state: StateDict) -> nn.Module:
    """An inversion encoder (ASIT or pSp) with IFER's feature modulation head."""
    from genfer.models.ifer import build_fer_encoder, build_ifer

    return _load_strict(build_ifer(cfg.model, build_fer_encoder(cfg)), state)


def _ifer_geometry(cfg: IFERTrainConfig) -> tuple[int, int]:
    size = (cfg.asit if cfg.encoder == "asit" else cfg.psp).input_size
    return size or cfg.stylegan2.resolution, cfg.stylegan2.img_channels


def _load_hyperstyle(cfg: HyperStyleTrainConfig, state: StateDict) -> nn.Module:
    """pSp encoder + generator + hypernetwork; the generator's ``latent_avg`` is the encoder's."""
    from genfer.models.hyperstyle import HyperStyle, build_hypernet
    from genfer.models.psp import build_psp_encoder
    from genfer.models.stylegan2 import build_generator

    decoder = build_generator(cfg.stylegan2)
    model = HyperStyle(encoder=build_psp_encoder(cfg.encoder, cfg.stylegan2), decoder=decoder,
                       hypernet=build_hypernet(cfg.hypernet, decoder), iterations=cfg.hypernet.iterations)
    _load_strict(model, state).requires_grad_(False)
    model.decoder.latent_avg.copy_(model.encoder.latent_avg)
    return model


def _recognizer_geometry(cfg: RecognizerTrainConfig) -> tuple[int, int]:
    return cfg.model.image_size, cfg.model.in_chans


def _pfvit_geometry(cfg: PFViTTrainConfig) -> tuple[int, int]:
    return cfg.model.mae.encoder.image_size, cfg.model.mae.encoder.in_chans


def _switchgan_geometry(cfg: SwitchGANTrainConfig) -> tuple[int, int]:
    return cfg.model.image_size, cfg.model.in_chans


def _stylegan2_geometry(cfg: StyleGAN2TrainConfig) -> tuple[int, int]:
    return cfg.model.resolution, cfg.model.img_channels


def _psp_geometry(cfg: PSpTrainConfig | HyperStyleTrainConfig | ASITTrainConfig) -> tuple[int, int]:
    return cfg.stylegan2.resolution, cfg.stylegan2.img_channels


for _method in (
    Method(name="recognizer", summary="expression recognizer, ResNet or ViT, trained on labelled faces",
           config=RecognizerTrainConfig, presets=RECOGNIZER_PRESETS, load=_load_recognizer, tasks=("recognize",),
           checkpoint_weights="ema.safetensors", input_geometry=_recognizer_geometry),
    Method(name="mae", summary="masked-autoencoder pretraining of PF-ViT's ViT encoder, no labels",
           config=MAETrainConfig, presets=MAE_TRAIN_PRESETS, load=_load_mae, tasks=("pretrain",)),
    Method(name="pfvit", summary="PF-ViT: recognition through token separation and poker-face generation",
           config=PFViTTrainConfig, presets=PFVIT_PRESETS, load=_load_pfvit, tasks=("recognize", "neutralize"),
           checkpoint_weights="ema.safetensors", drop_prefixes=("discriminator.",), input_geometry=_pfvit_geometry),
    Method(name="switchgan", summary="switch-unit GAN: joint expression transfer and recognition",
           config=SwitchGANTrainConfig, presets=SWITCHGAN_PRESETS, load=_load_switchgan,
           tasks=("transfer",), drop_prefixes=("discriminator.",), input_geometry=_switchgan_geometry),
    Method(name="stylegan2", summary="StyleGAN2 face generator for sampling, mixing and inversion",
           config=StyleGAN2TrainConfig, presets=STYLEGAN2_PRESETS, load=_load_stylegan2, tasks=("sample",),
           checkpoint_weights="g_ema.safetensors", input_geometry=_stylegan2_geometry),
    Method(name="psp", summary="pSp inversion encoder for a trained StyleGAN2, shipped with its generator",
           config=PSpTrainConfig, presets=PSP_PRESETS, load=_load_psp, tasks=("invert", "sample"),
           input_geometry=_psp_geometry),
    Method(name="asit", summary="ASIT: GC ViT inversion encoder with a structure code, shipped with its generator",
           config=ASITTrainConfig, presets=ASIT_PRESETS, load=_load_asit, tasks=("invert", "sample"),
           input_geometry=_psp_geometry),
    Method(name="ifer", summary="IFER: expression recognition from an ASIT (or pSp) inversion encoder's codes",
           config=IFERTrainConfig, presets=IFER_PRESETS, load=_load_ifer, tasks=("recognize",),
           input_geometry=_ifer_geometry),
    Method(name="hyperstyle", summary="HyperStyle: per-image generator weight offsets refining a pSp inversion",
           config=HyperStyleTrainConfig, presets=HYPERSTYLE_PRESETS, load=_load_hyperstyle, tasks=("invert",),
           input_geometry=_psp_geometry),
):
    register(_method)


__all__ = [
    "Method",
    "attach_trainer",
    "get",
    "infer_method",
    "inference_state",
    "method_of",
    "names",
    "parse_config",
    "register",
]
