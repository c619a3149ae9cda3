"""Latent editing end to end: the re-inversion of Eq. 3 (a spy on the inverter), the Editor and the commands
``edit``, ``neutralize --method latent``, ``transfer --method latent`` and ``invert --inverter`` on the shipped
psp-gray64 with made-up directions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import assert_user_error, run_cli
from genfer.editing.arithmetic import neutralize_code
from genfer.editing.store import EmotionDirections
from genfer.inversion.codes import LatentCode
from genfer.pipelines.latent import transfer_codes

pytestmark = pytest.mark.usefixtures("one_thread")


def made_up_directions(n_latent=2, dim=3, seed=0):
    rng = np.random.default_rng(seed)
    return EmotionDirections.from_flat(rng.normal(size=(8, dim)), rng.normal(size=8) * 0.1, n_latent=n_latent,
                                       space="w")


class SpyInverter:
    """Renders a code as its values plus 1 (a (B, 1, L, D) "image") and inverts an image as its values times 2,
    recording every call."""

    def __init__(self):
        self.inverted, self.rendered = [], []

    def render(self, code):
        self.rendered.append(code.wplus.clone())
        return code.wplus.unsqueeze(1) + 1

    def invert(self, x):
        self.inverted.append(x.clone())
        return LatentCode(wplus=2 * x[:, 0])


def test_transfer_reinverts_the_images_of_the_neutral_codes_and_uses_them_in_eq3():
    dirs = made_up_directions()
    rng = torch.Generator().manual_seed(3)
    src, ref = (LatentCode(wplus=torch.randn(1, 2, 3, generator=rng)) for _ in range(2))
    spy = SpyInverter()
    codes = transfer_codes(spy, dirs, src, ref, strength=0.7)
    coef, b = dirs.regressor("neutral")
    nd = dirs.direction("neutral")
    s_neu, r_neu = (neutralize_code(c.wplus, coef, b, nd, 0.7) for c in (src, ref))
    # the inverter saw exactly the images of the two neutral codes (Eq. 2), once
    assert len(spy.inverted) == 1
    assert torch.allclose(spy.inverted[0], torch.cat([s_neu, r_neu]).unsqueeze(1) + 1)
    s_prime, r_prime = 2 * (s_neu + 1), 2 * (r_neu + 1)
    assert torch.allclose(codes["source_neutral_reinverted"].wplus, s_prime)
    # Eq. 3 with the primed (re-inverted) codes: (TC − TC'_neu) + SC'_neu, and the reverse
    assert torch.allclose(codes["source_with_reference_expression"].wplus, ref.wplus - r_prime + s_prime)
    assert torch.allclose(codes["reference_with_source_expression"].wplus, src.wplus - s_prime + r_prime)
    # without re-inversion the inverter is not called and the unprimed neutral codes are used
    spy2 = SpyInverter()
    plain = transfer_codes(spy2, dirs, src, ref, strength=0.7, reinvert=False)
    assert spy2.inverted == [] and "source_neutral_reinverted" not in plain
    assert torch.allclose(plain["source_with_reference_expression"].wplus, ref.wplus - r_neu + s_neu)
    # Eq. 4 at α = 0.5
    half = transfer_codes(SpyInverter(), dirs, src, ref, strength=0.7, alpha=0.5)
    want = 0.5 * (ref.wplus - r_prime) + 0.5 * (src.wplus - s_prime) + s_prime
    assert torch.allclose(half["source_with_reference_expression"].wplus, want)


@pytest.fixture(scope="module")
def gray64_directions(tmp_path_factory):
    """Made-up directions for the shipped psp-gray64 generator (10 × 128 codes), written as a directions folder."""
    folder = tmp_path_factory.mktemp("dirs") / "d"
    made_up_directions(n_latent=10, dim=128).save(folder)
    return folder


@pytest.fixture(scope="module")
def face(tmp_path_factory):
    from conftest import write_class_folders

    data = write_class_folders(tmp_path_factory.mktemp("faces"), {"train": 2})
    return data / "train" / "happiness" / "train_happiness_000.png"


def test_editor_api_strength_zero_is_the_reconstruction(gray64_directions, face):
    from genfer.pipelines.latent import Editor

    ed = Editor("pSp", gray64_directions)
    res = list(ed.iter_edit([face, np.asarray(Image.open(face))], "fear", [0.0, 2.0], aligned=True))
    assert [r.error for r in res] == [None, None] and res[1].path == "<input 1>"
    f = res[0].faces[0]
    assert f.images[0].shape == (64, 64) and np.array_equal(f.images[0], f.reconstruction)
    assert np.allclose(f.edited_wplus[1] - f.wplus, 2.0 * ed.directions.direction("fear").numpy(), atol=1e-5)
    neu = ed.neutralize(face, aligned=True)[0].faces[0]
    assert neu.poker_face.shape == (64, 64) and set(neu.probabilities) == set(ed.recognizer.classes)
    assert "neutral_strength" not in ed.directions.info and ed.neutral_strength == 6.0  # Eq. 2's k chosen on psp-gray64
    ed.directions.info["neutral_strength"] = 9.0
    assert Editor("pSp", ed.directions).neutral_strength == 9.0  # the directions card's k wins


def test_edit_command_json_contract(capsys, gray64_directions, face, sample_photo, tmp_path):
    code, out, _ = run_cli(capsys, "edit", str(sample_photo), "--emotion", "happiness", "--strength", "2",
                           "--out", str(tmp_path), "--inverter", "pSp", "--directions", str(gray64_directions),
                           "--sweep", "--sweep-steps", "3", "--json", "--threads", "1")
    assert code == 0
    d = json.loads(out)
    (item,) = d["results"]
    assert set(item) == {"path", "faces", "error"} and item["error"] is None
    f = item["faces"][0]
    assert {"box", "edited", "latent", "sweep"} <= set(f) and len(f["box"]) == 4
    assert Image.open(f["edited"]).size == (64, 64)
    assert Image.open(f["sweep"]).size == (64 * 4, 64)  # input + 3 strengths
    assert np.load(f["latent"]).shape == (10, 128) and f["strengths"] == [0.0, 1.0, 2.0]
    code, _, err = run_cli(capsys, "edit", str(face), "--emotion", "happiness", "--strength", "1", "--out",
                           str(tmp_path), "--inverter", "nonsense", "--directions", str(gray64_directions))
    assert_user_error(code, err, "nonsense")


def test_neutralize_and_transfer_latent_commands(capsys, gray64_directions, face, tmp_path):
    other = face.parent.parent / "anger" / "train_anger_001.png"
    code, out, _ = run_cli(capsys, "neutralize", str(face), "--method", "latent", "--out", str(tmp_path / "n"),
                           "--aligned", "--directions", str(gray64_directions), "--all", "--json")
    assert code == 0
    (item,) = json.loads(out)["results"]
    f = item["faces"][0]
    assert {"box", "label", "probabilities", "poker_face", "strip", "latent"} <= set(f)
    assert Image.open(f["poker_face"]).size == (64, 64)
    code, out, _ = run_cli(capsys, "transfer", str(face), str(other), "--method", "latent", "--out",
                           str(tmp_path / "t"), "--aligned", "--directions", str(gray64_directions), "--alpha-sweep",
                           "--json")
    assert code == 0
    (pair,) = json.loads(out)["results"]
    assert {"source", "reference", "outputs", "grid", "expressions", "recognized", "faces", "error", "codes"} <= \
        set(pair)
    assert Image.open(pair["outputs"]["source_with_reference_expression"]).size == (64, 64)
    assert np.load(pair["codes"]["source_neutral_reinverted"]).shape == (10, 128)
    assert Image.open(pair["alpha_strip"]).size == (64 * 7, 64)
    code, out, _ = run_cli(capsys, "transfer", str(face), str(other), "--method", "latent", "--out",
                           str(tmp_path / "t2"), "--aligned", "--directions", str(gray64_directions), "--no-reinvert",
                           "--json")
    assert code == 0 and "source_neutral_reinverted" not in json.loads(out)["results"][0]["codes"]


def test_invert_with_inverter_choice(capsys, face, tmp_path):
    """Each shipped inverter is honoured (its own reconstruction); a missing model folder is a one-line error."""
    recons = {}
    for inverter in ("psp", "hyperstyle", "asit"):
        code, out, _ = run_cli(capsys, "invert", str(face), "--inverter", inverter, "--aligned", "--out",
                               str(tmp_path / inverter), "--json")
        found = json.loads(out)["results"][0]["faces"][0]
        assert code == 0 and np.load(found["latent"]).shape == (10, 128)
        recons[inverter] = np.asarray(Image.open(found["reconstruction"]), dtype=np.float32)
    assert min(np.abs(recons[a] - recons[b]).mean() for a, b in [("psp", "hyperstyle"), ("psp", "asit")]) > 1.0
    code, _, err = run_cli(capsys, "invert", str(face), "--inverter", str(tmp_path / "no-such-model"), "--aligned",
                           "--out", str(tmp_path))
    assert_user_error(code, err, "no-such-model")


def test_directions_fit_command_writes_directions_figures_and_report(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "directions", "fit", "--samples", "48", "--batch-size", "24", "--out",
                           str(tmp_path / "d"), "--json", "--threads", "1")
    assert code == 0
    report = json.loads(out)
    assert report["samples"] == 48 and report["space"] == "w" and report["method"] == "svr"
    assert sum(report["dominant_counts"].values()) == 48
    # probabilities sum to 1, so the eight fits' coefficients sum to 0: the neutral one is minus the others' sum
    assert report["neutral_sum_test"]["cos_negated_coef_sum"] == pytest.approx(1.0, abs=1e-3)
    for name in ("fig4_dominant_emotions.png", "fig5_direction_cosines.png", "report.json", "directions.json",
                 "directions.safetensors"):
        assert (tmp_path / "d" / name).is_file()
    from genfer.editing.store import load_directions

    dirs = load_directions(tmp_path / "d")
    assert dirs.coef.shape == (8, 10, 128) and dirs.info["generator"] == "psp-gray64"


def test_demo_edit_row_shows_each_edit_and_the_neutral_face_with_its_reading(gray64_directions, sample_photo, tmp_path):
    from report_helpers import captioned, figure_image

    from genfer.api import Recognizer
    from genfer.demo import latent_edit_extra, run_demo
    from genfer.pipelines.latent import Editor

    ed, rec = Editor("pSp", gray64_directions), Recognizer()
    photo = np.asarray(Image.open(sample_photo).convert("RGB"))
    out = run_demo(rec, tmp_path, [("face", photo)], extras=[latent_edit_extra(ed, rec, emotions=("fear", "anger"),
                                                                                 strength=4.0)],
                   sections_after=[], explain=False)
    page = open(out["report"]).read()
    assert "Latent emotion editing" in page
    tiles = {name: captioned(page, name) for name in ("inversion", "+4 × fear direction", "+4 × anger direction",
                                                       "neutralised (Eq. 2, k = 6)")}
    assert all(len(t) == 1 for t in tiles.values()), tiles  # one face, each image once
    srcs = [t[0][0] for t in tiles.values()]
    assert [page.index(s) for s in srcs] == sorted(page.index(s) for s in srcs)  # in this order
    _, found, code = next(ed.iter_faces([photo]))
    expected = {"inversion": code, "+4 × fear direction": ed.edit_code(code, "fear", 4.0),
                "+4 × anger direction": ed.edit_code(code, "anger", 4.0),
                "neutralised (Eq. 2, k = 6)": ed.neutral_code(code)}
    for name, c in expected.items():
        (src, caption), = tiles[name]
        image = ed.render_images(c)[0]
        shown = figure_image(src)
        assert np.array_equal(shown[:: shown.shape[0] // 64, :: shown.shape[0] // 64], image)  # the code's image
        probs = rec.predict_crops(image[None])[0]
        assert caption.split("\n")[1] == f"read as {rec.classes[int(probs.argmax())]} {probs.max():.2f}"


def test_generator_fingerprint_survives_fp16_shipping_but_not_a_changed_weight():
    """Directions fitted on a float32 generator keep matching its fp16 shipped copy, and only it."""
    from genfer.pipelines.latent import generator_fingerprint

    fp32 = torch.nn.Linear(4, 3)
    with torch.no_grad():
        fp32.weight.copy_(torch.linspace(-1, 1, 12).reshape(3, 4) + 1e-5)  # not exactly representable in fp16
    shipped = torch.nn.Linear(4, 3)
    shipped.load_state_dict({k: v.half().float() for k, v in fp32.state_dict().items()})
    assert not torch.equal(shipped.weight, fp32.weight)
    assert generator_fingerprint(shipped) == generator_fingerprint(fp32)
    with torch.no_grad():
        shipped.weight[0, 0] += 0.01
    assert generator_fingerprint(shipped) != generator_fingerprint(fp32)
