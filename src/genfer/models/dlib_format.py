"""Read dlib's ``dnn`` serialisation of its ResNet face descriptor (``dlib_face_recognition_resnet_model_v1.dat``).

Written from dlib's documented format (``dlib/serialize.h``, ``dlib/float_details.h``,
``dlib/cuda/tensor.h`` and the ``serialize`` friends of ``dlib/dnn/{core,layers,input,loss}.h``);
nothing here executes code from the file. The encoding:

* integers: one control byte -- low nibble = number of magnitude bytes n (1..8), bit 0x80 = negative
  (signed types only) -- then n little-endian magnitude bytes. Zero is ``01 00``.
* floating point: an int64 mantissa then an int16 exponent, both as integers above;
  value = mantissa * 2**exponent, with exponents 32000 / 32001 / 32002 meaning +inf / -inf / NaN.
* bool: the ASCII character ``'1'`` or ``'0'``. string: unsigned length, then raw bytes.
* tensor: int version (2), then num_samples, k, nr, nc as integers, then float32 little-endian data.
  alias_tensor (a view's shape only): int version (1), num_samples, k, nr, nc.
* a network is serialised recursively from the loss layer inwards: ``add_loss_layer`` writes
  version 1, its loss details, then its subnetwork; ``add_layer`` writes its version (2), then its
  *subnetwork*, then its layer details and bookkeeping; tag and skip layers write only a version (1).
  So the file holds all the outer layers' version numbers first, then the input layer, then the layer
  details from the input outwards. Tag and skip ids are not stored: the architecture must be known,
  which is why :data:`FACE_RESNET_SPEC` spells dlib's face network out.

The face network (dlib's ``dnn_face_recognition_ex.cpp`` / Python ``face_recognition_model_v1``)::

    loss_metric<fc_no_bias<128, avg_pool_everything<alevel0<alevel1<alevel2<alevel3<alevel4<
        max_pool<3,3,2,2, relu<affine<con<32,7,7,2,2, input_rgb_image_sized<150>>>>>>>>>>>>>
    block<N,s>  = affine<con<N,3,3,1,1, relu<affine<con<N,3,3,s,s, x>>>>>
    ares<N>     = relu<add_prev1<block<N,1, tag1<x>>>>
    ares_down<N>= relu<add_prev2<avg_pool<2,2,2,2, skip1<tag2<block<N,2, tag1<x>>>>>>>>
    alevel0 = ares_down<256>;  alevel1 = 2 x ares<256> on ares_down<256>;
    alevel2 = 2 x ares<128> on ares_down<128>;  alevel3 = 3 x ares<64> on ares_down<64>;
    alevel4 = 3 x ares<32>

Convolutions with stride 1 pad by kernel//2, strided convolutions and pools pad by 0 (dlib's default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from genfer.io import CheckpointError

__all__ = [
    "FACE_RESNET_SPEC",
    "DlibFormatError",
    "DlibLayer",
    "DlibNetwork",
    "DlibReader",
    "SpecEntry",
    "face_resnet_spec",
    "parse_network",
    "read_dlib_resnet",
]

_FLOAT_INF, _FLOAT_NINF, _FLOAT_NAN = 32000, 32001, 32002


class DlibFormatError(ValueError):
    """Bytes that do not decode as expected (read_dlib_resnet turns it into a CheckpointError naming the file)."""


class DlibReader:
    """Sequential decoder of dlib's serialisation primitives over ``data`` (bytes)."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def _take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise DlibFormatError(f"unexpected end of data (wanted {n} bytes at byte {self.pos} of {len(self.data)})")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def int(self, *, signed: bool = True, nbytes: int = 8) -> int:
        """An integer of a C type of ``nbytes`` bytes (dlib's ``pack_int``/``unpack_int``)."""
        start = self.pos
        ctrl = self._take(1)[0]
        negative = signed and bool(ctrl & 0x80)
        size = ctrl & 0x0F if signed else ctrl & 0x8F  # unsigned: a set sign bit makes it invalid
        if size == 0 or size > nbytes:
            raise DlibFormatError(f"bad integer control byte 0x{ctrl:02x} at byte {start}")
        value = int.from_bytes(self._take(size), "little")
        return -value if negative else value

    def uint(self, *, nbytes: int = 8) -> int:
        return self.int(signed=False, nbytes=nbytes)

    def float(self) -> float:
        """A float/double stored as ``float_details`` (int64 mantissa, int16 exponent)."""
        if self.pos < len(self.data) and self.data[self.pos] & 0x70:
            raise DlibFormatError(f"old ASCII floating-point encoding at byte {self.pos} is not supported")
        mantissa = self.int(nbytes=8)
        exponent = self.int(nbytes=2)
        if exponent == _FLOAT_INF:
            return math.inf
        if exponent == _FLOAT_NINF:
            return -math.inf
        if exponent == _FLOAT_NAN:
            return math.nan
        try:
            return math.ldexp(float(mantissa), exponent)
        except OverflowError:
            raise DlibFormatError(f"floating-point value out of range before byte {self.pos}") from None

    def bool(self) -> bool:
        start = self.pos
        ch = self._take(1)[0]
        if ch not in (0x30, 0x31):
            raise DlibFormatError(f"bad bool byte 0x{ch:02x} at byte {start}")
        return ch == 0x31

    def string(self, *, max_len: int = 1 << 20) -> str:
        start = self.pos
        n = self.uint()
        if n > max_len:
            raise DlibFormatError(f"implausible string length {n} at byte {start}")
        raw = bytes(self._take(n))
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise DlibFormatError(f"non-ASCII string at byte {start}") from None

    def version(self, expected: tuple[int, ...], what: str) -> int:
        start = self.pos
        v = self.int(nbytes=4)
        if v not in expected:
            raise DlibFormatError(f"{what}: version {v} at byte {start}, expected {' or '.join(map(str, expected))}")
        return v

    def _shape4(self) -> tuple[int, int, int, int]:
        dims = tuple(self.int() for _ in range(4))
        if any(d < 0 for d in dims):
            raise DlibFormatError(f"negative tensor dimension {dims} before byte {self.pos}")
        return dims  # type: ignore[return-value]

    def tensor(self) -> np.ndarray:
        """A ``resizable_tensor``: float32 array of shape (num_samples, k, nr, nc)."""
        self.version((2,), "tensor")
        shape = self._shape4()
        count = math.prod(shape)
        raw = self._take(4 * count)
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)

    def alias_tensor(self) -> tuple[int, int, int, int]:
        """An ``alias_tensor``: only the (num_samples, k, nr, nc) shape of a view into a params tensor."""
        self.version((1,), "alias_tensor")
        return self._shape4()

    def at_end(self) -> bool:
        return self.pos == len(self.data)


# --------------------------------------------------------------------------- architecture


@dataclass(frozen=True)
class SpecEntry:
    """One wrapper in dlib's nested network type, outermost first.

    kind: "layer" (an ``add_layer``; ``details`` names the expected layer type: con, affine, relu,
    max_pool, avg_pool, add_prev, fc), "tag" or "skip". name: the tensor-name prefix of a layer.
    args: the template arguments dlib checks (e.g. con: (filters, nr, nc, stride_y, stride_x)).
    """

    kind: str
    details: str = ""
    name: str = ""
    args: tuple[int, ...] = ()


def _block(prefix: str, n: int, stride: int) -> list[SpecEntry]:
    return [
        SpecEntry("layer", "affine", f"{prefix}.affine2"),
        SpecEntry("layer", "con", f"{prefix}.conv2", (n, 3, 3, 1, 1)),
        SpecEntry("layer", "relu", f"{prefix}.relu1"),
        SpecEntry("layer", "affine", f"{prefix}.affine1"),
        SpecEntry("layer", "con", f"{prefix}.conv1", (n, 3, 3, stride, stride)),
    ]


def _ares(prefix: str, n: int) -> list[SpecEntry]:
    return [SpecEntry("layer", "relu", f"{prefix}.relu"), SpecEntry("layer", "add_prev", f"{prefix}.add", (1,)),
            *_block(prefix, n, 1), SpecEntry("tag", args=(1,))]


def _ares_down(prefix: str, n: int) -> list[SpecEntry]:
    return [SpecEntry("layer", "relu", f"{prefix}.relu"), SpecEntry("layer", "add_prev", f"{prefix}.add", (2,)),
            SpecEntry("layer", "avg_pool", f"{prefix}.pool", (2, 2, 2, 2)), SpecEntry("skip", args=(1,)),
            SpecEntry("tag", args=(2,)), *_block(prefix, n, 2), SpecEntry("tag", args=(1,))]


# Residual blocks from the input outwards: (channels, downsample).
BLOCKS: tuple[tuple[int, bool], ...] = (
    (32, False), (32, False), (32, False),                    # alevel4
    (64, True), (64, False), (64, False), (64, False),        # alevel3
    (128, True), (128, False), (128, False),                  # alevel2
    (256, True), (256, False), (256, False),                  # alevel1
    (256, True),                                              # alevel0
)


def face_resnet_spec() -> tuple[SpecEntry, ...]:
    """dlib's face network below the loss layer, outermost wrapper first (the input layer excluded)."""
    spec = [SpecEntry("layer", "fc", "fc", (128,)), SpecEntry("layer", "avg_pool", "pool", (0, 0, 1, 1))]
    for i in reversed(range(len(BLOCKS))):
        n, down = BLOCKS[i]
        spec += _ares_down(f"blocks.{i}", n) if down else _ares(f"blocks.{i}", n)
    spec += [SpecEntry("layer", "max_pool", "stem.pool", (3, 3, 2, 2)), SpecEntry("layer", "relu", "stem.relu"),
             SpecEntry("layer", "affine", "stem.affine"), SpecEntry("layer", "con", "stem.conv", (32, 7, 7, 2, 2))]
    return tuple(spec)


FACE_RESNET_SPEC: tuple[SpecEntry, ...] = face_resnet_spec()


# --------------------------------------------------------------------------- layer details


@dataclass
class DlibLayer:
    """One parsed layer: its dlib type tag (e.g. ``con_4``), spec name and hyper-parameters."""

    name: str
    type: str
    attrs: dict[str, Any] = field(default_factory=dict)


class DlibNetwork(NamedTuple):
    """Result of :func:`read_dlib_resnet`: float32 tensors by name, and the layers input -> output."""

    tensors: dict[str, np.ndarray]
    layers: list[DlibLayer]


def _split_params(params: np.ndarray, shapes: list[tuple[int, ...]], what: str) -> list[np.ndarray]:
    flat = params.reshape(-1)
    sizes = [math.prod(s) for s in shapes]
    if sum(sizes) != flat.size:
        raise DlibFormatError(f"{what}: params hold {flat.size} values, the views {shapes} need {sum(sizes)}")
    out, start = [], 0
    for s, n in zip(shapes, sizes):
        out.append(flat[start : start + n].reshape(s).copy())
        start += n
    return out


def _con(r: DlibReader, e: SpecEntry, tag: str, tensors: dict[str, np.ndarray]) -> dict[str, Any]:
    if tag not in ("con_4", "con_5", "con_6"):
        raise DlibFormatError(f"{e.name}: unsupported convolution version {tag!r}")
    params = r.tensor()
    attrs = {"num_filters": r.int(), "nr": r.int(), "nc": r.int(), "stride_y": r.int(nbytes=4),
             "stride_x": r.int(nbytes=4), "padding_y": r.int(nbytes=4), "padding_x": r.int(nbytes=4)}
    filters = r.alias_tensor()
    biases = r.alias_tensor()
    for _ in range(4):  # learning-rate and weight-decay multipliers
        r.float()
    attrs["use_bias"] = r.bool() if tag in ("con_5", "con_6") else True
    if tag == "con_6" and r.bool():
        raise DlibFormatError(f"{e.name}: convolutions with a fused relu are not supported")
    shapes = [filters] + ([biases] if attrs["use_bias"] else [])
    parts = _split_params(params, shapes, e.name)
    f, nr, nc, sy, sx = e.args
    if (attrs["num_filters"], attrs["nr"], attrs["nc"], attrs["stride_y"], attrs["stride_x"]) != (f, nr, nc, sy, sx):
        raise DlibFormatError(f"{e.name}: expected con<{f},{nr},{nc},{sy},{sx}>, found {attrs}")
    want_pad = (0 if sy != 1 else nr // 2, 0 if sx != 1 else nc // 2)
    if (attrs["padding_y"], attrs["padding_x"]) != want_pad:
        raise DlibFormatError(f"{e.name}: padding {(attrs['padding_y'], attrs['padding_x'])}, expected {want_pad}")
    if filters[0] != f or filters[2:] != (nr, nc):
        raise DlibFormatError(f"{e.name}: filter shape {filters} does not fit con<{f},{nr},{nc}>")
    tensors[f"{e.name}.weight"] = parts[0]  # (out, in, kh, kw), cross-correlation like torch
    tensors[f"{e.name}.bias"] = parts[1].reshape(-1) if attrs["use_bias"] else np.zeros(f, np.float32)
    return attrs


def _affine(r: DlibReader, e: SpecEntry, tag: str, tensors: dict[str, np.ndarray]) -> dict[str, Any]:
    if tag not in ("affine_", "affine_2"):
        raise DlibFormatError(f"{e.name}: unsupported affine version {tag!r} (batch-norm layers are not supported)")
    params = r.tensor()
    gamma, beta = r.alias_tensor(), r.alias_tensor()
    mode = r.int(nbytes=4)
    disabled = r.bool() if tag == "affine_2" else False
    if disabled:
        raise DlibFormatError(f"{e.name}: disabled affine layers are not supported")
    if mode != 0:
        raise DlibFormatError(f"{e.name}: expected a per-channel (CONV_MODE) affine layer, found mode {mode}")
    scale, shift = _split_params(params, [gamma, beta], e.name)
    tensors[f"{e.name}.scale"] = scale.reshape(-1)
    tensors[f"{e.name}.shift"] = shift.reshape(-1)
    return {"mode": "conv", "channels": scale.size}


def _relu(r: DlibReader, e: SpecEntry, tag: str, tensors: dict[str, np.ndarray]) -> dict[str, Any]:
    if tag == "relu_2":
        if r.bool():
            raise DlibFormatError(f"{e.name}: disabled relu layers are not supported")
    elif tag != "relu_":
        raise DlibFormatError(f"{e.name}: unsupported relu version {tag!r}")
    return {}


def _pool(r: DlibReader, e: SpecEntry, tag: str, tensors: dict[str, np.ndarray]) -> dict[str, Any]:
    kind = e.details  # "max_pool" or "avg_pool"
    if tag != f"{kind}_2":
        raise DlibFormatError(f"{e.name}: expected {kind}_2, found {tag!r}")
    nr, nc = r.int(), r.int()
    sy, sx, py, px = (r.int(nbytes=4) for _ in range(4))
    if (nr, nc, sy, sx) != e.args or (py, px) != (0, 0):
        raise DlibFormatError(f"{e.name}: expected {kind}<{','.join(map(str, e.args))}> unpadded, "
                           f"found window {nr}x{nc} stride {sy},{sx} padding {py},{px}")
    return {"nr": nr, "nc": nc, "stride_y": sy, "stride_x": sx}


def _add_prev(r: DlibReader, e: SpecEntry, tag: str, tensors: dict[str, np.ndarray]) -> dict[str, Any]:
    if tag != "add_prev_":
        raise DlibFormatError(f"{e.name}: expected add_prev_, found {tag!r}")
    return {"tag": e.args[0]}


def _fc(r: DlibReader, e: SpecEntry, tag: str, tensors: dict[str, np.ndarray]) -> dict[str, Any]:
    if tag not in ("fc_2", "fc_3"):
        raise DlibFormatError(f"{e.name}: unsupported fc version {tag!r}")
    num_outputs, num_inputs = r.uint(), r.uint()
    params = r.tensor()
    weights = r.alias_tensor()
    r.alias_tensor()  # the bias view (empty: fc_no_bias)
    bias_mode = r.int(nbytes=4)
    for _ in range(4):
        r.float()
    use_bias = r.bool() if tag == "fc_3" else True
    if bias_mode != 1:
        raise DlibFormatError(f"{e.name}: expected fc_no_bias (bias mode 1), found bias mode {bias_mode}")
    if num_outputs != e.args[0]:
        raise DlibFormatError(f"{e.name}: expected {e.args[0]} outputs, found {num_outputs}")
    (w,) = _split_params(params, [weights], e.name)
    tensors[f"{e.name}.weight"] = w.reshape(num_inputs, num_outputs).T.copy()  # dlib: y = x @ W -> torch (out, in)
    return {"num_inputs": num_inputs, "num_outputs": num_outputs, "use_bias": use_bias and bias_mode == 0}


_DETAILS = {"con": _con, "affine": _affine, "relu": _relu, "max_pool": _pool, "avg_pool": _pool,
            "add_prev": _add_prev, "fc": _fc}


def _layer_details(r: DlibReader, e: SpecEntry, tensors: dict[str, np.ndarray]) -> DlibLayer:
    start = r.pos
    tag = r.string(max_len=64)
    try:
        attrs = _DETAILS[e.details](r, e, tag, tensors)
    except DlibFormatError as err:
        raise DlibFormatError(f"{err} (layer starting at byte {start})") from None
    return DlibLayer(e.name, tag, attrs)


def _bookkeeping(r: DlibReader, *, grad_tensors: int) -> None:
    """add_layer's state after the details: 3 bools, then gradient/output caches (discarded)."""
    for _ in range(3):
        r.bool()
    for _ in range(grad_tensors):
        r.tensor()


# --------------------------------------------------------------------------- network


def _input_layer(r: DlibReader) -> DlibLayer:
    tag = r.string(max_len=64)
    if tag != "input_rgb_image_sized":
        raise DlibFormatError(f"expected input layer input_rgb_image_sized, found {tag!r}")
    mean = [r.float() for _ in range(3)]
    nr, nc = r.uint(), r.uint()
    return DlibLayer("input", tag, {"mean_rgb": tuple(mean), "nr": nr, "nc": nc})


def _loss_layer(r: DlibReader) -> DlibLayer:
    tag = r.string(max_len=64)
    if tag == "loss_metric_":
        return DlibLayer("loss", tag, {"margin": 0.1, "distance_threshold": 0.75})
    if tag != "loss_metric_2":
        raise DlibFormatError(f"expected loss layer loss_metric_, found {tag!r}")
    return DlibLayer("loss", tag, {"margin": r.float(), "distance_threshold": r.float()})


def parse_network(data: bytes, spec: tuple[SpecEntry, ...] = FACE_RESNET_SPEC) -> DlibNetwork:
    """Decode a serialised ``loss_metric`` network whose type below the loss is ``spec``.

    Raises :class:`DlibFormatError` on any mismatch; :func:`read_dlib_resnet` names the file.
    """
    if not spec or spec[-1].kind != "layer":
        raise ValueError("spec must end with a layer that sits on the input layer")
    r = DlibReader(data)
    r.version((1,), "add_loss_layer")
    loss = _loss_layer(r)
    versions = []
    for e in spec[:-1]:  # outermost first: only the version numbers come before the input layer
        versions.append(r.version((1, 2), f"add_layer {e.name}") if e.kind == "layer" else r.version((1,), f"{e.kind} layer"))
    tensors: dict[str, np.ndarray] = {}
    first = spec[-1]
    v_in = r.version((2, 3), f"add_layer {first.name} (on the input)")
    inp = _input_layer(r)
    layers = [inp, _layer_details(r, first, tensors)]
    _bookkeeping(r, grad_tensors=3)  # x_grad, cached_output, grad_final
    if v_in >= 3:
        r.int()  # _sample_expansion_factor
    for e, v in zip(reversed(spec[:-1]), reversed(versions)):  # details come back out, input -> output
        if e.kind != "layer":
            continue
        layers.append(_layer_details(r, e, tensors))
        _bookkeeping(r, grad_tensors=3 if v == 2 else 2)  # x_grad, cached_output[, params_grad]
    layers.append(loss)
    if not r.at_end():
        raise DlibFormatError(f"{len(r.data) - r.pos} unexpected trailing bytes after the network")
    return DlibNetwork(tensors, layers)


def read_dlib_resnet(path: str | Path) -> DlibNetwork:
    """Read dlib's face ResNet (``dlib_face_recognition_resnet_model_v1.dat``) without dlib.

    Returns float32 tensors named like :class:`genfer.models.face_id.DlibFaceResNet`'s state dict
    (``stem.conv.weight`` (32, 3, 7, 7), ``blocks.<i>.conv1.bias``, ``blocks.<i>.affine2.scale``,
    ``fc.weight`` (128, 256), ...) and the layers from input to loss (input means, loss margin, ...).
    Raises :class:`CheckpointError` naming the file if it is missing, truncated or not this network.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"cannot read dlib model {path}: {err.strerror or err}") from None
    try:
        return parse_network(data)
    except ValueError as err:  # DlibFormatError, or a reshape that does not fit
        raise CheckpointError(f"{path} is not dlib's face ResNet model: {err}") from None
