"""ONNX export of a model's graphs, static int8 quantisation, and the cache of files built from shipped weights.

Export uses PyTorch's TorchScript-based exporter (opset 17, dynamic batch axis on every input and output);
quantisation uses ONNX Runtime's static QDQ quantiser (per-channel int8 weights, int8 activations calibrated on
face crops the caller supplies). Both need the ``onnx`` extra (``pip install 'genfer[onnx]'``).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import torch

from genfer.data.arrays import cache_dir
from genfer.hub import LoadedModel
from genfer.io import WEIGHTS_FILE
from genfer.io.files import atomic_file
from genfer.io.terminal import native_output_silenced
from genfer.runtime.graphs import Graph, model_graphs

OPSET = 17
EXPORT_VERSION = 1
"""Bumped when the exported graphs change, so cached files built by older code are rebuilt."""


class OnnxUnavailable(ValueError):
    """The ``onnx`` extra (onnx, onnxruntime) is not installed; the message says how to install it (a ValueError:
    the CLI prints it as one line)."""


def require_onnx(modules: tuple[str, ...] = ("onnx", "onnxruntime")) -> None:
    """Raise :class:`OnnxUnavailable` unless ``modules`` import (exporting needs onnx, running onnxruntime)."""
    import importlib

    try:
        for module in modules:
            importlib.import_module(module)
    except ImportError as exc:
        raise OnnxUnavailable(f"ONNX needs the onnx extra: pip install 'genfer[onnx]' ({exc})") from None


def onnxruntime_available() -> bool:
    """Whether ONNX Runtime imports (what the ``auto`` backend checks)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def model_fingerprint(loaded: LoadedModel) -> str:
    """A short hash of the model's weights and config, the exporter's version and torch's (the cache key)."""
    digest = hashlib.sha256()
    for name in (WEIGHTS_FILE, "config.json"):
        path = loaded.folder / name
        if path.is_file():
            digest.update(path.read_bytes())
    digest.update(f"{EXPORT_VERSION}/{OPSET}/{torch.__version__}".encode())
    return digest.hexdigest()[:16]


def cached_path(loaded: LoadedModel, graph: str = "recognize", *, int8: bool = False) -> Path:
    """Where the cache keeps ``graph`` of ``loaded`` (``<cache>/onnx/<name>-<graph>[-int8]-<fingerprint>.onnx``)."""
    suffix = "-int8" if int8 else ""
    return cache_dir() / "onnx" / f"{loaded.name}-{graph}{suffix}-{model_fingerprint(loaded)}.onnx"


def export_graph(graph: Graph, path: str | Path) -> Path:
    """Write ``graph`` as an ONNX file at ``path`` (atomically), batch axis dynamic on all inputs and outputs."""
    require_onnx()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = (*graph.inputs, *graph.outputs)
    graph.module.eval()
    # the exporter's C++ side prints its whole graph to stdout when an operator fails: keep a --json stdout clean
    with (atomic_file(path) as tmp, warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad(),
          native_output_silenced(1, 2)):
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(graph.module, tuple(graph.inputs.values()), str(tmp), dynamo=False, opset_version=OPSET,
                          input_names=list(graph.inputs), output_names=list(graph.outputs),
                          dynamic_axes={n: {0: "batch"} for n in names}, do_constant_folding=True)
    return path


def graph_of(loaded: LoadedModel, name: str = "recognize") -> Graph:
    """The graph ``name`` of ``loaded``; a ``ValueError`` listing the model's graphs if it has no such graph."""
    graphs = model_graphs(loaded)
    if name not in graphs:
        raise ValueError(f"{loaded.name} has no {name!r} graph to export; it has: {', '.join(graphs) or 'none'}")
    return graphs[name]


class _CalibrationReader:
    """ONNX Runtime's calibration-data reader over normalised crops (N, C, H, W) in batches."""

    def __init__(self, images: np.ndarray, input_name: str, batch: int = 32) -> None:
        self._batches = iter([{input_name: images[i : i + batch]} for i in range(0, len(images), batch)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def quantize_int8(fp32_path: str | Path, out_path: str | Path, calibration: np.ndarray,
                  input_name: str = "image") -> Path:
    """Static int8 quantisation (QDQ, per-channel weights, MinMax calibration) of an exported recognizer.

    Args:
        calibration: (N, C, H, W) float32 normalised crops, e.g. a few hundred training faces.
    """
    require_onnx()
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if calibration.ndim != 4 or not len(calibration):
        raise ValueError(f"calibration must be a non-empty (N, C, H, W) array, not {calibration.shape}")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out_path) as tmp:
        prepared = tmp.with_suffix(".pre.onnx")
        try:
            quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
            quantize_static(str(prepared), str(tmp), _CalibrationReader(calibration.astype(np.float32), input_name),
                            quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QInt8,
                            weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
        finally:
            prepared.unlink(missing_ok=True)
    return out_path


def write_manifest(path: Path, **facts: object) -> None:
    """A JSON file beside an ONNX file (``<file>.json``) recording how it was built and measured."""
    path.with_suffix(".json").write_text(json.dumps(facts, indent=2))


def read_manifest(path: Path) -> dict:
    """The manifest :func:`write_manifest` wrote beside ``path`` ({} if none)."""
    meta = path.with_suffix(".json")
    return json.loads(meta.read_text()) if meta.is_file() else {}
