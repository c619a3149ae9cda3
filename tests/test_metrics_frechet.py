"""Fréchet distance and feature accumulators: zero on itself, closed forms, torchmetrics agreement."""

import logging

import numpy as np
import pytest
import torch

from genfer.metrics.features import FeatureAccumulator, load_stats, save_stats, stats_from_features
from genfer.metrics.frechet import FrechetDistanceError, frechet_distance, frechet_distance_stats
from genfer.io import CheckpointError


def _random_spd(d, seed):
    a = np.random.default_rng(seed).normal(size=(d, d))
    return a @ a.T + d * np.eye(d)


def _sqrtm_sym(a):
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def test_set_with_itself_is_zero():
    x = torch.randn(300, 16, generator=torch.Generator().manual_seed(0))
    s = stats_from_features(x, "test")
    assert abs(frechet_distance_stats(s, s)) < 1e-6


def test_diagonal_gaussians_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    # |mu1 - mu2|^2 + sum (sqrt(v1) - sqrt(v2))^2 = 5 + (1 + 1 + 4)
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(11.0, abs=1e-9)


def test_general_gaussians_closed_form():
    d = 6
    s1, s2 = _random_spd(d, 1), _random_spd(d, 2)
    mu1, mu2 = np.arange(d, dtype=float), np.ones(d)
    r1 = _sqrtm_sym(s1)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * _sqrtm_sym(r1 @ s2 @ r1))
    assert frechet_distance(torch.tensor(mu1), torch.tensor(s1), mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_sampled_gaussians_approach_closed_form():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 4, generator=g, dtype=torch.float64)
    b = torch.randn(20000, 4, generator=g, dtype=torch.float64) * 2.0 + 1.0
    fd = frechet_distance_stats(stats_from_features(a, "x"), stats_from_features(b, "x"))
    assert fd == pytest.approx(4 * 1.0 + 4 * (2.0 - 1.0) ** 2, rel=0.03)  # |mu|^2 + sum (sigma1 - sigma2)^2


def test_accumulator_matches_two_pass_statistics_over_batches():
    x = torch.randn(101, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 3 + 100
    acc = FeatureAccumulator("x", keep_features=True)
    for chunk in x.split(17):
        acc.update(chunk)
    s = acc.compute()
    assert s.n == 101 and s.extractor == "x" and torch.equal(s.features, x.float())
    np.testing.assert_allclose(s.mean.numpy(), x.mean(0).numpy(), rtol=1e-12)
    np.testing.assert_allclose(s.cov.numpy(), np.cov(x.numpy(), rowvar=False), rtol=1e-10)


def test_stats_round_trip(tmp_path):
    s = stats_from_features(torch.randn(10, 3), "genfer-fer:m", keep_features=True)
    save_stats(s, tmp_path / "ref.safetensors")
    t = load_stats(tmp_path / "ref.safetensors")
    assert (t.n, t.extractor) == (10, "genfer-fer:m") and torch.equal(t.cov, s.cov) and torch.equal(t.features,
                                                                                                     s.features)
    (tmp_path / "bad.safetensors").write_bytes(b"nope")
    with pytest.raises(CheckpointError, match="not a feature statistics file"):
        load_stats(tmp_path / "bad.safetensors")


def test_clear_errors():
    a = stats_from_features(torch.randn(1, 3), "x")
    b = stats_from_features(torch.randn(5, 3), "x")
    with pytest.raises(FrechetDistanceError, match="at least 2"):
        frechet_distance_stats(a, b)
    with pytest.raises(FrechetDistanceError, match="different extractors"):
        frechet_distance_stats(stats_from_features(torch.randn(5, 3), "y"), b)
    with pytest.raises(FrechetDistanceError, match="shape mismatch"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_few_samples_warn_and_stay_finite(caplog):
    g = torch.Generator().manual_seed(0)
    a = stats_from_features(torch.randn(5, 8, generator=g), "x")
    b = stats_from_features(torch.randn(5, 8, generator=g), "x")
    with caplog.at_level(logging.WARNING):
        fd = frechet_distance_stats(a, b)
    assert np.isfinite(fd) and "singular" in caplog.text


def test_matches_torchmetrics_fid_with_custom_features():
    fid_mod = pytest.importorskip("torchmetrics.image.fid")

    class Features(torch.nn.Module):
        num_features = 12

        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(3 * 8 * 8, 12)
            torch.nn.init.normal_(self.proj.weight, generator=torch.Generator().manual_seed(0))

        def forward(self, x):
            return torch.tanh(self.proj(x.flatten(1)))

    net = Features().eval()
    g = torch.Generator().manual_seed(1)
    real, fake = torch.rand(200, 3, 8, 8, generator=g), torch.rand(150, 3, 8, 8, generator=g) ** 2
    metric = fid_mod.FrechetInceptionDistance(feature=net)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    expected = float(metric.compute())
    with torch.no_grad():
        ours = frechet_distance_stats(stats_from_features(net(real), "f"), stats_from_features(net(fake), "f"))
    assert ours == pytest.approx(expected, rel=1e-3)
