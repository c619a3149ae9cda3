"""dlib face ResNet port: the dlib-format parser, the network, face chips, and agreement with dlib.

The agreement tests compare with ``tests/fixtures/dlib_descriptors.json``, written once by
``benchmarks/dlib_reference.py`` with dlib itself (it records names, numbers and checksums only).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from genfer.models.dlib_format import FACE_RESNET_SPEC, DlibReader, SpecEntry, parse_network, read_dlib_resnet
from genfer.models.face_id import (
    CHIP_SIZE,
    DLIB_FACE_POINTS,
    DlibFaceResNet,
    add_zero_padded,
    dlib_model_path,
    face_chip,
    face_chip_matrix,
    load_dlib_face_resnet,
)
from genfer.io import CheckpointError

FIXTURE = Path(__file__).parent / "fixtures" / "dlib_descriptors.json"


# --------------------------------------------------------------------------- a test-side dlib encoder


def enc_int(v: int) -> bytes:
    """dlib's pack_int: control byte (byte count | 0x80 if negative), then little-endian magnitude."""
    mag = abs(v)
    body = mag.to_bytes(max(1, (mag.bit_length() + 7) // 8), "little")
    return bytes([len(body) | (0x80 if v < 0 else 0)]) + body


def enc_float(x: float) -> bytes:
    """dlib's float_details: int64 mantissa (63 significant bits, trailing zero bytes dropped), int16 exponent."""
    if math.isinf(x):
        return enc_int(0) + enc_int(32000 if x > 0 else 32001)
    if math.isnan(x):
        return enc_int(0) + enc_int(32002)
    m, e = math.frexp(x)
    mant, exp = int(m * (1 << 63)), e - 63
    while mant and mant & 0xFF == 0:
        mant >>= 8
        exp += 8
    return enc_int(mant) + enc_int(exp)


def enc_str(s: str) -> bytes:
    return enc_int(len(s)) + s.encode()


def enc_bool(b: bool) -> bytes:
    return b"1" if b else b"0"


def enc_tensor(a: np.ndarray, shape: tuple[int, int, int, int] | None = None) -> bytes:
    a = np.asarray(a, dtype="<f4")
    shape = shape or (a.size, 1, 1, 1)
    return enc_int(2) + b"".join(enc_int(d) for d in shape) + a.tobytes()


def enc_alias(shape: tuple[int, int, int, int]) -> bytes:
    return enc_int(1) + b"".join(enc_int(d) for d in shape)


EMPTY = enc_tensor(np.zeros(0), (0, 0, 0, 0))


def enc_details(e, state: dict[str, np.ndarray]) -> bytes:
    """Layer details as dlib 19.x wrote them for this network (con_4, affine_, relu_, fc_2, ...)."""
    if e.details == "con":
        w, b = state[f"{e.name}.weight"], state[f"{e.name}.bias"]
        n, _, kh, kw = w.shape
        stride = e.args[3]
        pad = 0 if stride != 1 else kh // 2
        return (enc_str("con_4") + enc_tensor(np.concatenate([w.ravel(), b.ravel()]))
                + b"".join(enc_int(v) for v in (n, kh, kw, stride, stride, pad, pad))
                + enc_alias(tuple(w.shape)) + enc_alias((1, n, 1, 1)) + b"".join(enc_float(v) for v in (1, 1, 1, 0)))
    if e.details == "affine":
        s, t = state[f"{e.name}.scale"], state[f"{e.name}.shift"]
        c = s.size
        return (enc_str("affine_") + enc_tensor(np.concatenate([s, t]), (2 * c, 1, 1, 1))
                + enc_alias((1, c, 1, 1)) * 2 + enc_int(0))
    if e.details == "relu":
        return enc_str("relu_")
    if e.details in ("max_pool", "avg_pool"):
        return enc_str(f"{e.details}_2") + b"".join(enc_int(v) for v in (*e.args, 0, 0))
    if e.details == "add_prev":
        return enc_str("add_prev_")
    if e.details == "fc":
        w = state[f"{e.name}.weight"].T  # dlib stores (num_inputs, num_outputs)
        return (enc_str("fc_2") + enc_int(w.shape[1]) + enc_int(w.shape[0]) + enc_tensor(w.ravel(), (w.shape[0], w.shape[1], 1, 1))
                + enc_alias((w.shape[0], w.shape[1], 1, 1)) + enc_alias((0, 0, 0, 0)) + enc_int(1)
                + b"".join(enc_float(v) for v in (1, 1, 1, 0)))
    raise AssertionError(e)


def encode_face_resnet(state: dict[str, np.ndarray], mean=(122.782, 117.001, 104.298)) -> bytes:
    """A complete ``dlib_face_recognition_resnet_model_v1.dat``-style file for these weights."""
    out = [enc_int(1), enc_str("loss_metric_2"), enc_float(0.04), enc_float(0.6)]
    out += [enc_int(2 if e.kind == "layer" else 1) for e in FACE_RESNET_SPEC[:-1]]
    out += [enc_int(2), enc_str("input_rgb_image_sized"), *map(enc_float, mean), enc_int(150), enc_int(150)]
    out += [enc_details(FACE_RESNET_SPEC[-1], state), b"110", EMPTY * 3]
    for e in reversed(FACE_RESNET_SPEC[:-1]):
        if e.kind == "layer":
            out += [enc_details(e, state), b"110", EMPTY * 3]
    return b"".join(out)


def random_state(seed: int = 0) -> dict[str, np.ndarray]:
    torch.manual_seed(seed)
    model = DlibFaceResNet()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith((".scale", ".shift", ".bias")):
                p.uniform_(-0.5, 1.5 if name.endswith(".scale") else 0.5)
    return {k: v.numpy().copy() for k, v in model.state_dict().items() if k != "mean_rgb"}


@pytest.fixture(scope="module")
def synthetic_file(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    state = random_state()
    path = tmp_path_factory.mktemp("dlib") / "synthetic_resnet.dat"
    path.write_bytes(encode_face_resnet(state))
    return path, state


# --------------------------------------------------------------------------- primitives


@pytest.mark.parametrize("raw, value", [
    (b"\x01\x00", 0), (b"\x01\x01", 1), (b"\x81\x01", -1), (b"\x02\x2c\x01", 300),
    (b"\x82\x2c\x01", -300), (b"\x04\xff\xff\xff\x7f", 2**31 - 1),
])
def test_signed_ints(raw, value):
    r = DlibReader(raw)
    assert r.int() == value and r.at_end()
    assert enc_int(value) == raw


def test_int_errors():
    with pytest.raises(ValueError, match="control byte"):
        DlibReader(b"\x00").int()  # zero bytes
    with pytest.raises(ValueError, match="control byte"):
        DlibReader(b"\x05\x01\x02\x03\x04\x05").int(nbytes=4)  # too wide for an int
    with pytest.raises(ValueError, match="control byte"):
        DlibReader(b"\x81\x01").uint()  # sign bit on an unsigned value
    with pytest.raises(ValueError, match="end of data"):
        DlibReader(b"\x02\x01").int()


@pytest.mark.parametrize("raw, value", [
    (b"\x03\x0a\xd7\xa3\x81\x1c", 0.03999999910593033),  # the loss margin as the shipped file stores it
    (b"\x01\x00\x01\x00", 0.0),
    (b"\x01\x03\x81\x01", 1.5),
    (b"\x81\x05\x01\x02", -20.0),
])
def test_floats(raw, value):
    r = DlibReader(raw)
    assert r.float() == value and r.at_end()


@pytest.mark.parametrize("value", [0.6, -1e-30, 122.782, 3.4e38, float(np.float32(117.001))])
def test_float_roundtrip(value):
    assert DlibReader(enc_float(value)).float() == value


def test_float_specials_and_old_format():
    assert DlibReader(enc_float(math.inf)).float() == math.inf
    assert DlibReader(enc_float(-math.inf)).float() == -math.inf
    assert math.isnan(DlibReader(enc_float(math.nan)).float())
    with pytest.raises(ValueError, match="ASCII"):
        DlibReader(b"1.5 ").float()


def test_strings_bools_tensors():
    r = DlibReader(enc_str("con_4") + b"10" + enc_tensor(np.arange(6), (1, 2, 3, 1)) + enc_alias((4, 3, 2, 1)))
    assert r.string() == "con_4"
    assert r.bool() is True and r.bool() is False
    t = r.tensor()
    assert t.dtype == np.float32 and t.shape == (1, 2, 3, 1) and t.ravel().tolist() == [0, 1, 2, 3, 4, 5]
    assert r.alias_tensor() == (4, 3, 2, 1) and r.at_end()
    with pytest.raises(ValueError, match="bool"):
        DlibReader(b"x").bool()
    with pytest.raises(ValueError, match="end of data"):
        DlibReader(enc_tensor(np.arange(6))[:-1]).tensor()
    with pytest.raises(ValueError, match="version 3"):
        DlibReader(enc_int(3)).tensor()


# --------------------------------------------------------------------------- whole files


def test_synthetic_file_roundtrip(synthetic_file):
    path, state = synthetic_file
    tensors, layers = read_dlib_resnet(path)
    assert set(tensors) == set(state)
    for k, v in state.items():
        np.testing.assert_array_equal(tensors[k], v, err_msg=k)
    assert [layer.name for layer in layers[:3]] == ["input", "stem.conv", "stem.affine"]
    assert layers[0].attrs["mean_rgb"] == pytest.approx((122.782, 117.001, 104.298), abs=1e-4)
    assert layers[-1].attrs["margin"] == pytest.approx(0.04)
    model = load_dlib_face_resnet(path)
    for k, v in model.state_dict().items():
        if k != "mean_rgb":
            np.testing.assert_array_equal(v.numpy(), state[k], err_msg=k)
    assert not any(p.requires_grad for p in model.parameters()) and not model.training


def test_bad_files_name_the_file(synthetic_file, tmp_path):
    path, _ = synthetic_file
    data = path.read_bytes()
    cases = {
        "truncated.dat": data[: len(data) // 2],
        "trailing.dat": data + b"\x00",
        "empty.dat": b"",
        "other.dat": enc_int(1) + enc_str("loss_multiclass_log_"),
        "wrong_layer.dat": data.replace(enc_str("max_pool_2"), enc_str("avg_pool_2"), 1),
    }
    for name, blob in cases.items():
        bad = tmp_path / name
        bad.write_bytes(blob)
        with pytest.raises(CheckpointError, match=name):
            read_dlib_resnet(bad)
    with pytest.raises(CheckpointError, match="missing.dat"):
        load_dlib_face_resnet(tmp_path / "missing.dat")


def test_missing_package_message(monkeypatch):
    import genfer.models.face_id as face_id

    monkeypatch.setattr(face_id.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CheckpointError, match=r"pip install 'genfer\[faceid\]'"):
        dlib_model_path()


def test_parse_network_rejects_bad_spec():
    with pytest.raises(ValueError):
        parse_network(b"", (SpecEntry("layer", "fc", "fc", (128,)), SpecEntry("tag", args=(1,))))


# --------------------------------------------------------------------------- the network


def test_add_zero_padded_like_dlib():
    a = torch.arange(1.0, 10.0).view(1, 1, 3, 3)
    b = torch.ones(1, 2, 4, 4)
    out = add_zero_padded(a, b)
    assert out.shape == (1, 2, 4, 4)
    assert torch.equal(out[0, 0, :3, :3], a[0, 0] + 1)
    assert torch.equal(out[0, 0, 3], torch.ones(4)) and torch.equal(out[0, 0, :, 3], torch.ones(4))
    assert torch.equal(out[0, 1], torch.ones(4, 4))


def test_network_shapes_and_input_types():
    model = DlibFaceResNet().eval()
    sizes = []
    hooks = [blk.register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[1:]))) for blk in model.blocks]
    x = torch.randint(0, 256, (2, 3, CHIP_SIZE, CHIP_SIZE), dtype=torch.uint8)
    with torch.no_grad():
        y = model(x)
        for h in hooks:
            h.remove()
        assert torch.equal(y, model(x.float()))
    assert y.shape == (2, 128)
    assert model.stem(model.normalize(x)).shape == (2, 32, 35, 35)
    assert [s[1] for s in sizes] == [35, 35, 35, 17, 17, 17, 17, 8, 8, 8, 4, 4, 4, 2]  # 8 -> 3 | 4, 4 -> 1 | 2
    assert sizes[-1][0] == 256
    with pytest.raises(ValueError, match="150"):
        model(torch.zeros(1, 3, 112, 112))
    assert sum(p.numel() for p in model.parameters()) == 5_614_592


def test_network_is_differentiable():
    model = DlibFaceResNet().eval().requires_grad_(False)
    x = torch.full((1, 3, CHIP_SIZE, CHIP_SIZE), 120.0, requires_grad=True)
    model(x).square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


# --------------------------------------------------------------------------- face chips


def _similarity(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    a = math.radians(angle_deg)
    return np.array([[scale * math.cos(a), -scale * math.sin(a), tx], [scale * math.sin(a), scale * math.cos(a), ty]])


def test_face_chip_puts_landmarks_on_dlibs_mean_face():
    template = (0.25 + DLIB_FACE_POINTS) / 1.5 * CHIP_SIZE + 0.5  # continuous chip coordinates
    for angle, scale in ((0.0, 2.0), (20.0, 1.3), (-35.0, 0.7)):
        m = _similarity(angle, scale, 400.0, 300.0)
        landmarks = template @ m[:, :2].T + m[:, 2]  # a face whose landmarks fit the template exactly
        chip_m = face_chip_matrix(landmarks)
        mapped = landmarks @ chip_m[:, :2].T + chip_m[:, 2]
        # dlib samples its chip rectangle with step (150 s - 1) / 149 instead of s: < 1 chip pixel off
        assert np.abs(mapped - template).max() < 1.0


def test_face_chip_is_rotation_invariant():
    rng = np.random.default_rng(0)
    base = np.kron(rng.integers(0, 256, (40, 40, 3)), np.ones((8, 8, 1))).astype(np.uint8)  # 320 x 320 blocks
    landmarks = np.array([[110.0, 130.0], [210.0, 130.0], [160.0, 185.0], [118.0, 235.0], [202.0, 235.0]])
    chip = face_chip(base, landmarks)
    assert chip.shape == (CHIP_SIZE, CHIP_SIZE, 3) and chip.dtype == np.uint8
    import cv2

    centre = (160.0, 160.0)
    rot = cv2.getRotationMatrix2D(centre, 30.0, 1.0)  # OpenCV: pixel centres at integers
    rotated = cv2.warpAffine(base, rot, (320, 320), flags=cv2.INTER_NEAREST)
    lm_rot = (landmarks - 0.5) @ rot[:, :2].T + rot[:, 2] + 0.5
    chip_rot = face_chip(rotated, lm_rot)
    inner = slice(40, 110)  # away from the black outside and the rotated image's corners
    diff = np.abs(chip.astype(int) - chip_rot.astype(int))[inner, inner]
    assert np.median(diff) <= 2
    gray = face_chip(base[:, :, 0], landmarks)
    assert np.array_equal(gray[:, :, 0], gray[:, :, 2])
    with pytest.raises(ValueError, match="landmarks5"):
        face_chip(base, landmarks[:4])


# --------------------------------------------------------------------------- agreement with dlib


def reference_chip(path: Path) -> np.ndarray:
    """The ``pad50-area3`` recipe of benchmarks/dlib_reference.py (kept identical; checked by sha256)."""
    from PIL import Image

    img = np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)
    assert img.shape == (350, 350, 3), path
    canvas = np.zeros((450, 450, 3), dtype=np.int64)
    canvas[50:400, 50:400] = img
    sums = canvas.reshape(150, 3, 150, 3, 3).sum(axis=(1, 3))
    return ((sums + 4) // 9).astype(np.uint8)


@pytest.fixture(scope="module")
def dlib_net() -> DlibFaceResNet:
    try:
        return load_dlib_face_resnet()
    except CheckpointError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(FIXTURE.read_text())


def test_reference_fixture_holds_no_image_data(reference):
    assert FIXTURE.stat().st_size < 200_000
    assert set(reference["faces"][0]) == {"file", "chip_sha256", "descriptor", "dlib_pipeline"}


def test_real_file_parses(dlib_net):
    tensors, layers = read_dlib_resnet(dlib_model_path())
    assert sum(v.size for v in tensors.values()) == 5_614_592
    assert [layer.type for layer in layers].count("con_4") == 29
    assert layers[-1].attrs["distance_threshold"] == pytest.approx(0.6)


@pytest.mark.data
def test_matches_dlib_descriptors(dlib_net, reference, data_root):
    images = data_root / "faces" / "images"
    assert reference["recipe"] == "pad50-area3"
    chips = []
    for face in reference["faces"]:
        chip = reference_chip(images / face["file"])
        assert hashlib.sha256(chip.tobytes()).hexdigest() == face["chip_sha256"], face["file"]
        chips.append(chip)
    x = torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2)
    with torch.no_grad():
        ours = dlib_net(x).double().numpy()
    ref = np.array([f["descriptor"] for f in reference["faces"]])
    err = np.abs(ours - ref).max(axis=1)
    assert err.max() < 1e-3, dict(zip([f["file"] for f in reference["faces"]], err))


@pytest.mark.data
def test_genfer_pipeline_chip_close_to_dlib_pipeline(dlib_net, reference, data_root):
    """genfer's detector + landmarks + face_chip vs dlib's detector + 5-point predictor + get_face_chip."""
    from genfer.faces.io import load_image
    from genfer.faces.pipeline import FacePipeline

    images = data_root / "faces" / "images"
    dists = []
    with FacePipeline() as pipe:
        for face in reference["faces"]:
            rgb = load_image(images / face["file"])
            found = [f for f in pipe.faces(rgb) if f.landmarks is not None]
            if not found:
                continue
            chip = face_chip(rgb, found[0].landmarks)
            with torch.no_grad():
                ours = dlib_net(torch.from_numpy(chip).permute(2, 0, 1)[None]).double().numpy()[0]
            dists.append(float(np.linalg.norm(ours - np.array(face["dlib_pipeline"]["descriptor"]))))
    assert len(dists) >= 0.9 * len(reference["faces"])
    # the same photo through both pipelines: far below dlib's 0.6 same-person threshold
    assert np.median(dists) < 0.25 and max(dists) < 0.45, dists
