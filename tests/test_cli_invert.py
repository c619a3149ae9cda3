"""``genfer invert`` / ``sample`` / ``mix`` and ``genfer train stylegan2|psp`` end to end on tiny trained runs."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genfer.cli import main
from conftest import assert_user_error, run_cli


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A tiny StyleGAN2 run and a tiny pSp run on it, each trained a few steps through ``genfer train``."""
    from conftest import write_class_folders

    base = tmp_path_factory.mktemp("gan-runs")
    data = write_class_folders(base / "data", {"train": 6})
    src = f"sources=[{{dataset: folder, root: '{data}', split: train}}]"
    assert main(["train", "stylegan2", "--preset", "tiny", "--out", str(base / "sg2"), "--quiet", "--threads", "1",
                 "--set", src, "--set", "kimg=0.016", "--set", "grid_images=0"]) == 0
    assert main(["train", "psp", "--preset", "tiny", "--out", str(base / "psp"), "--quiet", "--threads", "1",
                 "--set", src, "--set", f"generator={base / 'sg2'}", "--set", "steps=2", "--set", "grid_images=0"]) == 0
    return {"sg2": base / "sg2", "psp": base / "psp", "face": data / "train" / "happiness" / "train_happiness_000.png",
            "face2": data / "train" / "anger" / "train_anger_001.png"}


def run(capsys, *argv):
    return run_cli(capsys, *map(str, argv))


def test_train_runs_finished_with_final_folders(runs):
    for name in ("sg2", "psp"):
        assert (runs[name] / "final" / "model.safetensors").is_file()
        assert (runs[name] / "config.yaml").is_file()


def test_invert_json_contract_photo_and_aligned_crop(capsys, runs, sample_photo, tmp_path):
    code, out, _ = run(capsys, "invert", sample_photo, runs["face"], "--model", runs["psp"], "--out", tmp_path,
                       "--json", "--threads", "1")
    assert code == 0
    d = json.loads(out)
    assert (d["n"], d["errors"], d["unreadable"]) == (2, 1, 0)
    photo, crop = d["results"]
    assert set(photo) == {"path", "faces", "error"} and photo["error"] is None
    face = photo["faces"][0]
    assert {"box", "aligned", "reconstruction", "latent", "source"} <= set(face) and len(face["box"]) == 4
    assert face["source"] != "whole-image"  # Grace Hopper's face is detected
    assert face["aligned"] == str(tmp_path / "grace_hopper_aligned.png")
    assert Image.open(face["aligned"]).size == (16, 16) and Image.open(face["reconstruction"]).mode == "L"
    assert np.load(face["latent"]).shape == (6, 16) and np.load(face["latent"]).dtype == np.float32
    # a 40 px crop of noise: no detection, and the face gate refuses it as a whole-image face
    assert crop["faces"] == [] and crop["error"] == "no face found"
    code, out, _ = run(capsys, "invert", runs["face"], "--model", runs["psp"], "--out", tmp_path, "--aligned",
                       "--refine", "2", "--json")
    (item,) = json.loads(out)["results"]
    assert code == 0 and item["faces"][0]["source"] == "aligned" and item["faces"][0]["box"] == [0, 0, 40, 40]


def test_invert_generator_alone_needs_refine(capsys, runs, tmp_path):
    code, _, err = run(capsys, "invert", runs["face"], "--model", runs["sg2"], "--out", tmp_path, "--aligned")
    assert_user_error(code, err, "--refine")
    code, out, _ = run(capsys, "invert", runs["face"], "--model", runs["sg2"], "--out", tmp_path, "--aligned",
                       "--refine", "3")
    assert code == 0 and "train_happiness_000_recon.png" in out
    assert (tmp_path / "train_happiness_000_wplus.npy").is_file()


def test_invert_errors(capsys, runs, tmp_path):
    (tmp_path / "bad.jpg").write_text("not an image")
    code, out, err = run(capsys, "invert", tmp_path / "bad.jpg", runs["face"], "--model", runs["psp"], "--out",
                         tmp_path / "o", "--json", "--aligned")
    assert_user_error(code, err, "could not be read")
    d = json.loads(out)
    bad, good = d["results"]
    assert (d["n"], d["errors"], d["unreadable"]) == (2, 1, 1)
    assert bad["faces"] == [] and "corrupt" in bad["error"] and good["error"] is None
    code, _, err = run(capsys, "invert", tmp_path / "missing.jpg", "--model", runs["psp"], "--out", tmp_path)
    assert_user_error(code, err, "missing.jpg")
    code, _, err = run(capsys, "invert", runs["face"], "--model", tmp_path, "--out", tmp_path / "o")
    assert_user_error(code, err, "not a model folder")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text('{"name": "x"}')
    code, _, err = run(capsys, "invert", runs["face"], "--model", tmp_path / "m", "--out", tmp_path / "o")
    assert_user_error(code, err, "names no method")
    code, _, err = run(capsys, "invert", runs["face"], "--model", "fer-resnet18s-48", "--out", tmp_path / "o")
    assert_user_error(code, err, "is a recognizer model, not a StyleGAN2 or pSp model")


def test_invert_reports_photos_without_faces(capsys, runs, tmp_path):
    Image.fromarray(np.full((60, 200, 3), 128, np.uint8)).save(tmp_path / "wall.png")  # wide, blank: no face
    code, out, _ = run(capsys, "invert", tmp_path / "wall.png", "--model", runs["psp"], "--out", tmp_path, "--json")
    d = json.loads(out)
    (item,) = d["results"]
    assert (d["errors"], d["unreadable"]) == (1, 0)  # reported, not fatal
    assert code == 0 and item["faces"] == [] and item["error"] == "no face found"


def test_invert_jsonl_one_line_per_input(capsys, runs, tmp_path):
    (tmp_path / "bad.jpg").write_text("not an image")
    code, out, err = run(capsys, "invert", runs["face"], tmp_path / "bad.jpg", runs["face2"], "--model", runs["psp"],
                         "--out", tmp_path / "o", "--aligned", "--jsonl")
    assert code == 2 and "1 of 3 images could not be read" in err
    items = [json.loads(line) for line in out.splitlines()]
    assert [Path(i["path"]).name for i in items] == [runs["face"].name, "bad.jpg", runs["face2"].name]
    assert all(set(i) == {"path", "faces", "error"} for i in items) and items[1]["error"] and items[2]["faces"]


def test_sample_writes_n_seeded_faces(capsys, runs, tmp_path):
    code, out, _ = run(capsys, "sample", "-n", "3", "--out", tmp_path / "a", "--seed", "5", "--truncation", "0.5",
                       "--model", runs["sg2"], "--json", "--save-latents")
    assert code == 0
    d = json.loads(out)
    assert d["n"] == 3 and len(d["samples"]) == 3 and np.load(d["samples"][0]["latent"]).shape == (6, 16)
    run(capsys, "sample", "-n", "3", "--out", tmp_path / "b", "--seed", "5", "--truncation", "0.5", "--model",
        runs["psp"])
    for i in range(3):  # same generator (the pSp model's), same seed: same faces
        a, b = (np.asarray(Image.open(tmp_path / d / f"sample_{i:04d}.png")) for d in ("a", "b"))
        assert a.shape == (16, 16) and np.array_equal(a, b)
    code, _, err = run(capsys, "sample", "-n", "2", "--out", tmp_path, "--truncation", "2", "--model", runs["sg2"])
    assert_user_error(code, err, "--truncation")


def test_mix_two_inverted_faces(capsys, runs, tmp_path):
    code, out, _ = run(capsys, "mix", runs["face"], runs["face2"], "--model", runs["psp"], "--out", tmp_path,
                       "--aligned", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["crossovers"] == [2, 4] and d["error"] is None and len(d["images"]) == 2
    assert Image.open(d["strip"]).size == (16 * 4, 16)  # A's reconstruction, two mixes, B's reconstruction
    code, _, err = run(capsys, "mix", runs["face"], runs["face2"], "--model", runs["psp"], "--out", tmp_path,
                       "--crossover", "6")
    assert_user_error(code, err, "--crossover")
    code, out, err = run(capsys, "mix", runs["face"], tmp_path / "nope.png", "--model", runs["psp"], "--out",
                         tmp_path, "--json")
    assert code == 2 and "nope.png" in json.loads(out)["error"]


def test_demo_row_shows_encoder_refined_and_asit_inversions_captioned(runs, sample_photo, tmp_path):
    import dataclasses

    from report_helpers import captioned, figure_image, report_figures

    from genfer.api import Recognizer
    from genfer.demo import inversion_extra, run_demo
    from genfer.inversion.faces import FaceInverter
    from genfer.inversion.load import load_gan
    from genfer.io.images import to_tensor
    from genfer.metrics.ssim import ssim

    photo = np.asarray(Image.open(sample_photo).convert("RGB"))
    gan, rec = load_gan(runs["psp"]), Recognizer()
    asit = FaceInverter(gan, refine_steps=1)  # another inverter of the same crop size, named as ASIT models are
    asit.gan = dataclasses.replace(gan, method="asit")
    extra = inversion_extra([FaceInverter(gan), FaceInverter(gan, refine_steps=3), asit], rec)
    out = run_demo(rec, tmp_path, [("face", photo)], extras=[extra], sections_after=[], explain=False)
    page = Path(out["report"]).read_text()
    assert "StyleGAN2 inversion" in page
    size = FaceInverter(gan).size
    [(src_in, _)] = captioned(page, f"input (aligned {size} px)")
    [(src_enc, cap_enc)] = captioned(page, "encoder (pSp)")
    [(src_ref, cap_ref)] = captioned(page, "encoder (pSp) + 3 refine steps")
    [(src_asit, cap_asit)] = captioned(page, "encoder (ASIT) + 1 refine steps")
    firsts = [caption.split("\n")[0] for _, caption in report_figures(page)]
    assert firsts == [f"input (aligned {size} px)", "encoder (pSp)", "encoder (pSp) + 3 refine steps",
                      "encoder (ASIT) + 1 refine steps"]  # side by side, in this order
    scale = figure_image(src_in).shape[0] // size
    aligned, encoded, refined, by_asit = (figure_image(s)[::scale, ::scale] for s in (src_in, src_enc, src_ref,
                                                                                     src_asit))
    assert not np.array_equal(encoded, refined)  # the refinement ran
    [(expected_asit, _)] = asit.invert_crops(aligned[None])
    assert np.array_equal(by_asit, expected_asit)  # the third inverter reconstructs the crop the first aligned
    for image, caption in ((encoded, cap_enc), (refined, cap_ref), (by_asit, cap_asit)):  # its SSIM to the input and the recognizer's read
        _, score, read = caption.split("\n")
        expected = ssim((to_tensor(image[None]) + 1) / 2, (to_tensor(aligned[None]) + 1) / 2, data_range=1.0)
        assert score == f"SSIM {float(expected):.2f}"
        probs = rec.predict_crops(image[None])[0]
        assert read == f"read as {rec.classes[int(probs.argmax())]} {probs.max():.2f}"
