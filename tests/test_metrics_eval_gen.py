"""genfer eval-gen: folders of real and generated images -> FID/KID (extractor named), paired metrics."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from genfer.cli import main
from genfer.evaluate_gen import PairingError, pair_by_name, parse_metrics


def _write_faces(folder, n, *, seed, noise=0, size=48, ext=".png"):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    base = np.random.default_rng(0).integers(0, 256, (n, size, size))
    for i in range(n):
        img = np.clip(base[i] + rng.normal(0, noise, (size, size)) if noise else base[i], 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"face_{i:02d}{ext}")
    return folder


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_parse_metrics_and_pairing(tmp_path):
    assert parse_metrics("fid, KID,fid") == ("fid", "kid")
    with pytest.raises(ValueError, match="unknown metric 'is'"):
        parse_metrics("fid,is")
    real = _write_faces(tmp_path / "real", 3, seed=0)
    fake = _write_faces(tmp_path / "fake", 2, seed=1, ext=".jpg")
    pairs = pair_by_name(sorted(real.iterdir()), real, sorted(fake.iterdir()), fake)
    assert [(a.name, b.name) for a, b in pairs] == [("face_00.png", "face_00.jpg"), ("face_01.png", "face_01.jpg")]
    (fake / "other.jpg").write_bytes((fake / "face_00.jpg").read_bytes())
    with pytest.raises(PairingError, match="2 of 3 fake images match a real one, 1 do not"):
        pair_by_name(sorted(real.iterdir()), real, sorted(fake.iterdir()), fake)


def test_eval_gen_all_metrics_json(tmp_path, tiny_model, capsys):
    real = _write_faces(tmp_path / "real", 12, seed=0)
    fake = _write_faces(tmp_path / "fake", 12, seed=1, noise=20)
    code, out, _ = run(capsys, "eval-gen", str(real), str(fake), "--metrics", "fid,kid,lpips,ssim,psnr,mse",
                       "--model", str(tiny_model), "--kid-subset-size", "6", "--kid-subsets", "5", "--json", "--quiet")
    assert code == 0
    r = json.loads(out)
    m = r["metrics"]
    assert list(m) == ["fid", "kid", "lpips", "ssim", "psnr", "mse"]
    for name, entry in m.items():  # one scheme for every metric: value, std, n
        assert {"value", "std", "n"} <= set(entry), name
        assert entry["n"] == 12 and isinstance(entry["value"], float)
        if name != "fid":  # averages: the old "mean" is kept, equal to value
            assert entry["mean"] == entry["value"] and entry["std"] >= 0
    assert m["fid"]["std"] is None
    extractor = f"genfer-fer:{tiny_model.parent.name}"  # a run's final/ is named after its run
    assert m["fid"]["extractor"] == m["kid"]["extractor"] == extractor and m["fid"]["value"] > 0
    assert m["kid"]["subset_size"] == 6 and m["kid"]["num_subsets"] == 5
    assert m["lpips"]["net"] == f"genfer-lpips:{tiny_model.parent.name}" and m["lpips"]["mean"] > 0
    assert 0 < m["ssim"]["mean"] < 1 and m["psnr"]["mean"] > 15 and 0 < m["mse"]["mean"] < 0.05
    assert r["n_real"] == r["n_fake"] == m["ssim"]["n_pairs"] == 12 and r["image_size"] == [48, 48]

    code, out, _ = run(capsys, "eval-gen", str(real), str(real), "--metrics", "fid,ssim,psnr", "--model",
                       str(tiny_model), "--quiet")
    assert code == 0 and f"extractor {extractor}" in out and "ssim   1.0000" in out and "12 identical pairs" in out
    code, out, _ = run(capsys, "eval-gen", str(real), str(real), "--metrics", "psnr", "--quiet", "--json")
    psnr = json.loads(out)["metrics"]["psnr"]  # strict JSON: no Infinity
    assert psnr["value"] is psnr["mean"] is None and psnr["identical_pairs"] == 12 and psnr["mean_excluding_identical"] is None


def test_eval_gen_saved_stats_reused(tmp_path, tiny_model, capsys):
    real = _write_faces(tmp_path / "real", 10, seed=0)
    fake = _write_faces(tmp_path / "fake", 10, seed=1, noise=30)
    stats = tmp_path / "real-stats.safetensors"
    args = ["--model", str(tiny_model), "--kid-subset-size", "5", "--kid-subsets", "4", "--json", "--quiet"]
    code, out, _ = run(capsys, "eval-gen", str(real), str(fake), "--save-stats", str(stats), *args)
    first = json.loads(out)["metrics"]
    assert code == 0 and stats.is_file()
    code, out, _ = run(capsys, "eval-gen", str(stats), str(fake), *args)
    again = json.loads(out)["metrics"]
    assert code == 0 and again["fid"]["value"] == pytest.approx(first["fid"]["value"], rel=1e-9)
    assert again["kid"]["mean"] == pytest.approx(first["kid"]["mean"], rel=1e-9)


def test_eval_gen_user_errors(tmp_path, tiny_model, capsys):
    real = _write_faces(tmp_path / "real", 4, seed=0)
    fake = tmp_path / "fake"
    shutil.copytree(real, fake)
    (fake / "face_00.png").rename(fake / "renamed.png")
    for argv, fragment in [
        (["--metrics", "ssim"], "3 of 4 fake images match a real one, 1 do not"),
        (["--metrics", "fid,bogus"], "unknown metric 'bogus'"),
        (["--extractor", "inception", "--inception-weights", str(tmp_path / "none.pth")], "not found"),
    ]:
        code, _, err = run(capsys, "eval-gen", str(real), str(fake), "--model", str(tiny_model), "--quiet", *argv)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("genfer eval-gen: error:") and fragment in err
    code, _, err = run(capsys, "eval-gen", str(tmp_path / "missing"), str(fake), "--quiet")
    assert code == 2 and "real folder not found" in err
