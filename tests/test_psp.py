"""pSp training against a frozen tiny generator (exact resume, final/ loading), and optimisation-based inversion."""

import json
from pathlib import Path

import pytest
import torch

from genfer.config import PSP_PRESETS, STYLEGAN2_PRESETS, InversionLossWeights, apply_overrides
from genfer.inversion.load import inversion_parts, load_gan
from genfer.inversion.project import project
from genfer.losses.psp import inversion_loss
from genfer.models.stylegan2 import build_generator
from genfer.io import CheckpointError, latest_checkpoint, load_state_dict
from genfer.train.psp import train_psp
from genfer.train.runner import export_model_folder
from genfer.train.stylegan2 import generator_state


@pytest.fixture
def generator_folder(tmp_path) -> Path:
    """An (untrained) tiny generator exported like a finished ``genfer train stylegan2`` run."""
    cfg = STYLEGAN2_PRESETS["tiny"]
    torch.manual_seed(0)
    return export_model_folder(tmp_path / "gan" / "final", cfg, generator_state(build_generator(cfg.model)))


def psp_cfg(root: Path, generator: Path, *extra: str):
    return apply_overrides(PSP_PRESETS["tiny"], [
        f"sources=[{{dataset: folder, root: '{root}', split: train}}]", "threads=1", f"generator={generator}", *extra])


def test_tiny_psp_run_resumes_exactly_and_exports(tiny_dataset, tmp_path, generator_folder):
    cfg = psp_cfg(tiny_dataset, generator_folder, "optimizer=ranger")
    out = train_psp(cfg, tmp_path / "straight", progress=False)
    assert out["step"] == out["total_steps"] == 6
    assert out["val_loss"] > 0 and 0 < out["val_mse"] < 4 and -1 <= out["val_ssim"] <= 1
    assert (tmp_path / "straight" / "grids" / "step-000000006.png").is_file()
    start = json.loads((tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()[0])
    assert start["perceptual"] == "genfer-lpips:fer-resnet18s-48"
    assert train_psp(cfg, tmp_path / "split", progress=False, max_steps=4)["step"] == 4
    train_psp(cfg, tmp_path / "split", progress=False)
    a = load_state_dict(latest_checkpoint(tmp_path / "straight") / "model.safetensors")
    b = load_state_dict(latest_checkpoint(tmp_path / "split") / "model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    # the generator is frozen and its average latent is the encoder's start point
    gen = load_state_dict(generator_folder / "model.safetensors")
    torch.testing.assert_close(a["decoder.style.1.weight"], gen["style.1.weight"], rtol=0, atol=0)
    torch.testing.assert_close(a["encoder.latent_avg"], gen["latent_avg"])
    gan = load_gan(tmp_path / "straight")
    parts = inversion_parts(gan)
    assert gan.method == "psp" and parts.loss == cfg.loss and gan.folder.name == "final"
    torch.testing.assert_close(parts.latent_avg, gen["latent_avg"])
    with torch.no_grad():
        assert parts.encoder(torch.zeros(2, 1, 16, 16)).shape == (2, 6, 16)


def test_psp_rejects_a_generator_of_another_architecture(tiny_dataset, tmp_path, generator_folder):
    cfg = psp_cfg(tiny_dataset, generator_folder, "stylegan2.style_dim=8")
    with pytest.raises(CheckpointError, match="another architecture"):
        train_psp(cfg, tmp_path / "run", progress=False)


def test_projection_fits_a_generated_target(generator_folder):
    gan = inversion_parts(load_gan(generator_folder))
    g = gan.generator
    torch.manual_seed(1)
    true_w = gan.latent_avg + 0.5 * torch.randn(2, g.n_latent, g.style_dim)
    with torch.no_grad():
        target = g.synthesis(true_w, randomize_noise=False).clamp(-1, 1)
    weights = InversionLossWeights(lpips=0, id=0)
    crit = lambda y, x, w, avg: inversion_loss(y, x, w, avg, weights=weights)  # noqa: E731

    res = project(g, target, latent_avg=gan.latent_avg, criterion=crit, steps=30, lr=0.1, seed=0)
    assert res.wplus.shape == (2, 6, 16) and res.image.shape == target.shape and len(res.losses) == 30
    start = torch.nn.functional.mse_loss(g.synthesis(gan.latent_avg.expand(2, 6, 16), randomize_noise=False), target)
    assert torch.nn.functional.mse_loss(res.image, target) < 0.5 * start
    assert not any(p.grad is not None for p in g.parameters())  # the generator is left alone

    w_only = project(g, target, latent_avg=gan.latent_avg, criterion=crit, steps=3, space="w", init=true_w,
                     optimize_noise=True, latent_noise=0.0)
    assert torch.equal(w_only.wplus[:, 0], w_only.wplus[:, -1])  # one w for every layer
    assert len(w_only.noise) == g.num_layers and w_only.noise[0].shape == (2, 1, 4, 4)
    zero = project(g, target, latent_avg=gan.latent_avg, criterion=crit, steps=0, init=true_w)
    torch.testing.assert_close(zero.image, target)  # no steps: the start code's image
    with pytest.raises(ValueError, match="space"):
        project(g, target, latent_avg=gan.latent_avg, criterion=crit, space="z")
    with pytest.raises(ValueError, match="target must be"):
        project(g, target[:, :, :8], latent_avg=gan.latent_avg, criterion=crit)
