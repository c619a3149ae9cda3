"""The network backends a :class:`~genfer.api.Recognizer` classifies crops with.

A backend is a small object with a ``name``, a ``describe()`` line for the output and ``logits(x)``: normalised
crops ``x`` (B, C, H, W) float32 in [-1, 1] -> logits (B, K) float32 tensor. :func:`make_backend` picks one:

- ``torch``: the PyTorch model, with its batch norms folded into the convolutions (inference only; the same
  function, about 10% faster on the CPU).
- ``torch-bf16``: the same folded model with bfloat16 weights and activations (logits returned as float32); fast on
  CPUs with native bfloat16 matrix units (Intel AMX / AVX512-BF16, where oneDNN runs it), slow elsewhere.
- ``onnx``: ONNX Runtime on the model's ``recognize`` graph, exported from the model's safetensors on first use
  and cached (:func:`genfer.runtime.onnx_export.cached_path`).
- ``onnx-int8``: the same graph statically quantised to int8, calibrated on FERPlus training faces.
- ``auto``: ``onnx`` when ONNX Runtime is installed and was measured faster than ``torch`` for this model on this
  machine (timed once at export, recorded beside the cached file), else ``torch``.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from genfer.hub import LoadedModel
from genfer.io.terminal import error_headline
from genfer.runtime.onnx_export import (
    cached_path,
    export_graph,
    graph_of,
    onnxruntime_available,
    quantize_int8,
    read_manifest,
    require_onnx,
    write_manifest,
)

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "torch-bf16", "onnx", "onnx-int8")
"""Names :func:`make_backend` accepts."""

CALIBRATION_FACES = 512
"""FERPlus training faces the int8 quantiser is calibrated on (a fixed random draw, seed 0)."""


class Backend(Protocol):
    name: str

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) float32 in [-1, 1] -> (B, K) logits."""

    def describe(self) -> str:
        """One line for the output, e.g. ``onnx (ONNX Runtime 1.32.0, fp32)``."""


def fold_batch_norms(model: nn.Module) -> nn.Module:
    """An inference copy of ``model`` with each eval-mode BatchNorm2d folded into the Conv2d before it.

    The copy computes the same function (up to float rounding); ``model`` is unchanged. Models FX cannot trace
    are returned as an unfused copy.
    """
    from torch.fx.experimental.optimization import fuse

    model = copy.deepcopy(model).eval()
    if not any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
        return model
    try:
        return fuse(model)
    except Exception as exc:  # noqa: BLE001 - an untraceable model runs unfused
        log.info("batch norms not folded (%s)", exc)
        return model


class TorchBackend:
    """The PyTorch model (batch norms folded; see :func:`fold_batch_norms`)."""

    name = "torch"

    def __init__(self, model: nn.Module) -> None:
        self.device = next(model.parameters()).device
        self.model = fold_batch_norms(model)

    @torch.inference_mode()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.to(self.device)).float().cpu()

    def describe(self) -> str:
        return f"torch (PyTorch {torch.__version__}, fp32, {torch.get_num_threads()} threads)"


class TorchBF16Backend(TorchBackend):
    """:class:`TorchBackend` in bfloat16: x is rounded to bfloat16, the logits come back as float32."""

    name = "torch-bf16"

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        self.model = self.model.to(torch.bfloat16)

    @torch.inference_mode()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.to(self.device, torch.bfloat16)).float().cpu()

    def describe(self) -> str:
        return f"torch-bf16 (PyTorch {torch.__version__}, bfloat16, {torch.get_num_threads()} threads)"


def native_bf16() -> bool:
    """Whether oneDNN runs bfloat16 natively on this CPU (AVX512-BF16 or AMX), where :class:`TorchBF16Backend` is fast."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


class OnnxBackend:
    """ONNX Runtime on an exported ``recognize`` graph (input ``image``, output ``logits``)."""

    def __init__(self, path: str | Path, *, int8: bool = False, threads: int | None = None) -> None:
        require_onnx(("onnxruntime",))
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = Path(path)
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.name = "onnx-int8" if int8 else "onnx"
        self.version = ort.__version__
        self.threads = options.intra_op_num_threads

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        out = self.session.run(["logits"], {"image": x.detach().cpu().float().numpy()})[0]
        return torch.from_numpy(out)

    def describe(self) -> str:
        kind = "int8" if self.name == "onnx-int8" else "fp32"
        return f"{self.name} (ONNX Runtime {self.version}, {kind}, {self.threads} threads)"


def time_per_batch(logits: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, repeats: int = 3) -> float:
    """Best-of-``repeats`` seconds of one ``logits(x)`` call (after one warm-up call)."""
    logits(x)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        logits(x)
        best = min(best, time.perf_counter() - start)
    return best


def onnx_file(loaded: LoadedModel, *, int8: bool = False,
              calibration: Callable[[LoadedModel], np.ndarray] | None = None) -> Path:
    """The cached ONNX file of ``loaded``'s ``recognize`` graph, exported (and for ``int8`` quantised) on first use.

    The fp32 export is timed against the torch backend on a batch of 64 (recorded in its manifest, read by the
    ``auto`` choice). ``calibration(loaded) -> (N, C, H, W)`` normalised crops; default :func:`calibration_crops`.
    """
    fp32 = cached_path(loaded)
    if not fp32.is_file():
        export_graph(graph_of(loaded), fp32)
        x = torch.zeros(64, loaded.in_chans, loaded.image_size, loaded.image_size).uniform_(-1, 1)
        write_manifest(fp32, model=loaded.name, graph="recognize", batch=64, threads=torch.get_num_threads(),
                       torch_s=time_per_batch(TorchBackend(loaded.model).logits, x),
                       onnx_s=time_per_batch(OnnxBackend(fp32).logits, x))
    if not int8:
        return fp32
    path = cached_path(loaded, int8=True)
    if not path.is_file():
        crops = (calibration or calibration_crops)(loaded)
        quantize_int8(fp32, path, crops)
        write_manifest(path, model=loaded.name, graph="recognize", calibration_faces=len(crops))
    return path


def calibration_crops(loaded: LoadedModel, n: int = CALIBRATION_FACES, seed: int = 0) -> np.ndarray:
    """``n`` FERPlus training faces (a fixed random draw) as normalised crops (n, C, H, W) for int8 calibration."""
    from genfer.data.arrays import split_tensor
    from genfer.data.base import DatasetLayoutError
    from genfer.data.registry import open_dataset
    from genfer.paths import dataset_root

    try:
        faces = open_dataset("ferplus", dataset_root("ferplus", None), "train")
    except DatasetLayoutError as exc:
        raise DatasetLayoutError(f"int8 calibration needs FERPlus training faces (set GENFER_DATA): {exc}") from None
    pick = np.sort(np.random.default_rng(seed).permutation(len(faces))[:n])
    crops = split_tensor(faces.subset(pick, name="ferplus/train-calibration"), loaded.image_size, loaded.in_chans)
    return (crops.float() / 127.5 - 1.0).numpy()


def onnx_is_faster(loaded: LoadedModel) -> bool:
    """Whether the cached export's manifest measured ONNX Runtime faster than torch (exporting it if needed)."""
    facts = read_manifest(onnx_file(loaded))
    return facts.get("onnx_s", float("inf")) < facts.get("torch_s", 0.0)


def make_backend(loaded: LoadedModel, name: str = "auto") -> Backend:
    """The backend ``name`` (one of :data:`BACKENDS`) for a recognizing model."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {name!r}")
    if name == "auto":
        if not onnxruntime_available() or next(loaded.model.parameters()).device.type != "cpu":
            return TorchBackend(loaded.model)
        try:
            faster = onnx_is_faster(loaded)
        except Exception as exc:  # noqa: BLE001 - auto never fails where torch works
            log.warning("ONNX export of %s failed, using torch: %s", loaded.name, error_headline(exc))
            return TorchBackend(loaded.model)
        return OnnxBackend(onnx_file(loaded)) if faster else TorchBackend(loaded.model)
    if name == "torch":
        return TorchBackend(loaded.model)
    if name == "torch-bf16":
        return TorchBF16Backend(loaded.model)
    return OnnxBackend(onnx_file(loaded, int8=name == "onnx-int8"), int8=name == "onnx-int8")
