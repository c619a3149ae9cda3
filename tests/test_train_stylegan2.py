"""StyleGAN2 training: a tiny run end to end (grids, FID hook, final/, rosinality export) and exact resume."""

import json
from pathlib import Path

import pytest
import torch

from genfer.config import STYLEGAN2_PRESETS, ConfigError, apply_overrides
from genfer.inversion.load import inversion_parts, load_gan
from genfer.models.stylegan2 import build_discriminator, build_generator, load_rosinality_checkpoint
from genfer.io import CheckpointError, latest_checkpoint, load_state_dict
from genfer.train.stylegan2 import rosinality_checkpoint, save_rosinality_checkpoint, train_stylegan2


def tiny_cfg(root: Path, *extra: str):
    return apply_overrides(STYLEGAN2_PRESETS["tiny"], [
        f"sources=[{{dataset: folder, root: '{root}', split: train}}]", "threads=1", *extra])


def test_tiny_run_writes_grids_fid_final_and_rosinality_dict(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    out = train_stylegan2(tiny_cfg(tiny_dataset, "fid_images=8", "eval_every_kimg=0.064"), run, progress=False)
    assert out["step"] == out["total_steps"] == 8 and out["kimg"] == pytest.approx(0.064)
    assert out["fid"] is not None and out["fid"] >= 0
    assert out["fid_extractor"] == "genfer-fer:fer-resnet18s-48"
    assert sorted(p.name for p in (run / "grids").iterdir()) == ["step-000000008.png"]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["event"] == "eval"]
    assert len(evals) == 1 and evals[0]["fid_extractor"] == out["fid_extractor"] and evals[0]["fid_images"] == 8
    train = [r for r in records if r["event"] == "train"][-1]
    assert {"d", "g", "r1", "pl", "real_score", "fake_score", "kimg"} <= set(train)

    final = load_state_dict(run / "final" / "model.safetensors")
    assert final["latent_avg"].shape == (16,) and "style.1.weight" in final and "noises.noise_0" in final
    gan = load_gan(run)  # a run folder resolves to its final/
    parts = inversion_parts(gan)
    assert gan.folder == run / "final" and gan.method == "stylegan2" and parts.encoder is None
    torch.testing.assert_close(parts.latent_avg, final["latent_avg"])
    torch.testing.assert_close(parts.generator.state_dict()["input.input"], final["input.input"])

    ros = rosinality_checkpoint(run)
    assert set(ros) == {"g_ema", "g", "d", "latent_avg"}
    torch.testing.assert_close(ros["latent_avg"], final["latent_avg"])  # same fixed-seed average
    path = save_rosinality_checkpoint(run, tmp_path / "ros.pt")
    state = torch.load(path, weights_only=True)
    m = STYLEGAN2_PRESETS["tiny"].model
    g, d = build_generator(m), build_discriminator(m)
    latent_avg = load_rosinality_checkpoint(state, generator=g, discriminator=d)  # strict=True
    torch.testing.assert_close(latent_avg, final["latent_avg"])
    torch.testing.assert_close(g.state_dict()["style.1.weight"], final["style.1.weight"])


def test_resume_continues_exactly(tiny_dataset, tmp_path):
    cfg = tiny_cfg(tiny_dataset, "grid_images=0")
    train_stylegan2(cfg, tmp_path / "straight", progress=False)
    assert train_stylegan2(cfg, tmp_path / "split", progress=False, max_steps=3)["step"] == 3
    train_stylegan2(cfg, tmp_path / "split", progress=False)
    a, b = latest_checkpoint(tmp_path / "straight"), latest_checkpoint(tmp_path / "split")
    for name in ("g", "d", "g_ema"):
        sa, sb = load_state_dict(a / f"{name}.safetensors"), load_state_dict(b / f"{name}.safetensors")
        for k in sa:
            torch.testing.assert_close(sa[k], sb[k], rtol=0, atol=0, msg=f"{name}.{k}")
    ta, tb = (torch.load(c / "trainer.pt", weights_only=True) for c in (a, b))
    assert ta["extra"]["mean_path_length"] == tb["extra"]["mean_path_length"] > 0


def test_train_config_errors():
    with pytest.raises(ConfigError, match="fid_images"):
        apply_overrides(STYLEGAN2_PRESETS["tiny"], ["fid_images=100"])
    with pytest.raises(ConfigError, match="pl_batch_shrink"):
        apply_overrides(STYLEGAN2_PRESETS["tiny"], ["pl_batch_shrink=64"])
    with pytest.raises(ConfigError, match="power of two"):
        apply_overrides(STYLEGAN2_PRESETS["tiny"], ["model.resolution=48"])
    with pytest.raises(ConfigError, match="model.channels"):
        apply_overrides(STYLEGAN2_PRESETS["tiny"], ["model.channels=[8, 8]"])
    cpu = STYLEGAN2_PRESETS["cpu"]
    assert cpu.total_steps == 46_875 and cpu.every_steps(cpu.eval_every_kimg) == 1562
    assert cpu.r1_gamma == pytest.approx(0.0002 * 64**2 / 32)  # StyleGAN2-ADA's heuristic


def test_warm_start_takes_ema_generator_and_discriminator_then_trains_d_alone(tiny_dataset, tmp_path):
    first = tmp_path / "first"
    train_stylegan2(tiny_cfg(tiny_dataset, "grid_images=0"), first, progress=False)
    kept_d = load_state_dict(first / "final" / "discriminator.safetensors")
    final_g = load_state_dict(first / "final" / "model.safetensors")
    # 4 kimg-steps of batch 8: the first two train D alone
    cfg = tiny_cfg(tiny_dataset, "grid_images=0", f"init_from='{first}'", "kimg=0.032", "d_warmup_kimg=0.016")
    second = tmp_path / "second"
    train_stylegan2(cfg, second, progress=False, max_steps=2)
    ckpt = latest_checkpoint(second)
    g, d = load_state_dict(ckpt / "g.safetensors"), load_state_dict(ckpt / "d.safetensors")
    for k in g:  # G untouched by the D-only steps, and equal to the first run's EMA generator
        torch.testing.assert_close(g[k], final_g[k], rtol=0, atol=0, msg=k)
    assert any(not torch.equal(d[k], kept_d[k]) for k in d)  # D trained from the kept discriminator
    records = [json.loads(line) for line in (second / "metrics.jsonl").read_text().splitlines()]
    assert "g" not in [r for r in records if r["event"] == "train"][-1]
    train_stylegan2(cfg, second, progress=False)  # resumes; now G trains too
    g_after = load_state_dict(latest_checkpoint(second) / "g.safetensors")
    assert any(not torch.equal(g_after[k], final_g[k]) for k in g_after)


def test_warm_start_refuses_another_architecture(tiny_dataset, tmp_path):
    train_stylegan2(tiny_cfg(tiny_dataset, "grid_images=0"), tmp_path / "first", progress=False)
    cfg = tiny_cfg(tiny_dataset, "grid_images=0", f"init_from='{tmp_path / 'first'}'", "model.style_dim=8")
    with pytest.raises(CheckpointError, match="another architecture"):
        train_stylegan2(cfg, tmp_path / "second", progress=False)


def test_warm_start_copies_the_ema_generator_into_g_and_g_ema_and_the_kept_discriminator(tiny_dataset, tmp_path):
    from genfer.train.stylegan2 import warm_start

    cfg = tiny_cfg(tiny_dataset, "grid_images=0")
    train_stylegan2(cfg, tmp_path / "first", progress=False)
    final = load_state_dict(tmp_path / "first" / "final" / "model.safetensors")
    kept_d = load_state_dict(tmp_path / "first" / "final" / "discriminator.safetensors")
    g, g_ema, d = build_generator(cfg.model), build_generator(cfg.model), build_discriminator(cfg.model)
    warm_start(tmp_path / "first", g=g, g_ema=g_ema, d=d, arch=cfg.model)
    for net in (g, g_ema):
        for k, v in net.state_dict().items():
            torch.testing.assert_close(v, final[k], rtol=0, atol=0, msg=k)
    for k, v in d.state_dict().items():
        torch.testing.assert_close(v, kept_d[k], rtol=0, atol=0, msg=k)
    # a folder without a kept discriminator leaves D as it was
    (tmp_path / "first" / "final" / "discriminator.safetensors").unlink()
    fresh_d = build_discriminator(cfg.model)
    before = {k: v.clone() for k, v in fresh_d.state_dict().items()}
    warm_start(tmp_path / "first" / "final", g=g, g_ema=g_ema, d=fresh_d, arch=cfg.model)
    for k, v in fresh_d.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0, msg=k)
