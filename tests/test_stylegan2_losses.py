"""StyleGAN2 losses, lazy-regularisation Adam, EMA and latent draws, against values computed by hand."""

import math

import pytest
import torch

from genfer.losses.stylegan2 import d_logistic_loss, g_nonsaturating_loss, path_length_penalty, path_lengths, r1_penalty
from genfer.train.stylegan2 import accumulate, draw_styles, ema_beta, lazy_adam


def sp(t: float) -> float:
    return math.log1p(math.exp(t))


def test_logistic_losses_by_hand():
    real, fake = torch.tensor([[0.0], [1.0]]), torch.tensor([[0.0], [-1.0]])
    # mean softplus(f) = (ln 2 + sp(-1)) / 2; mean softplus(-r) = (ln 2 + sp(-1)) / 2
    assert d_logistic_loss(real, fake).item() == pytest.approx(math.log(2) + sp(-1.0))
    assert g_nonsaturating_loss(torch.tensor([0.0, 2.0])).item() == pytest.approx((math.log(2) + sp(-2.0)) / 2)


def test_r1_penalty_of_a_quadratic_critic():
    # D(x) = sum x²  ->  grad 2x, |grad|² = 4 |x|²: sample 0 has |x|² = 1 + 4, sample 1 has 9 -> mean 4 * 7 = 28
    x = torch.tensor([[[[1.0, 2.0]]], [[[0.0, 3.0]]]], requires_grad=True)
    logits = x.pow(2).flatten(1).sum(1, keepdim=True)
    pen = r1_penalty(logits, x)
    assert pen.item() == pytest.approx(28.0)
    pen.backward()  # differentiable (create_graph): d/dx of 4 mean|x|² = 4x
    torch.testing.assert_close(x.grad, 4 * x.detach())


def test_path_lengths_of_a_linear_generator():
    # image[b, 0, i, j] = w[b, 0] + w[b, 1] for every pixel of a 2x2 image; y = 1 everywhere.
    # d/dw_k sum(G * y) / sqrt(4) = 4 / 2 = 2 for k = 0, 1  ->  sqrt(mean_k 2²) = 2
    w = torch.tensor([[[0.5], [1.0]], [[2.0], [-1.0]]], requires_grad=True)  # (B=2, n_latent=2, D=1)
    images = w.sum(dim=(1, 2)).view(2, 1, 1, 1).expand(2, 1, 2, 2)
    lengths = path_lengths(images, w, torch.ones(2, 1, 2, 2))
    torch.testing.assert_close(lengths, torch.tensor([2.0, 2.0]))


def test_path_length_penalty_and_running_mean():
    lengths = torch.tensor([1.0, 3.0])
    # batch mean 2; a' = 0 + 0.5 * (2 - 0) = 1; penalty = ((1-1)² + (3-1)²) / 2 = 2
    pen, mean = path_length_penalty(lengths, 0.0, decay=0.5)
    assert mean == pytest.approx(1.0) and pen.item() == pytest.approx(2.0)
    # a global-batch mean (DDP) replaces the local one: a' = 1 + 0.5 * (5 - 1) = 3
    pen, mean = path_length_penalty(lengths, 1.0, decay=0.5, batch_mean=5.0)
    assert mean == pytest.approx(3.0) and pen.item() == pytest.approx(((1 - 3) ** 2 + 0) / 2)


def test_lazy_adam_ratio_correction():
    m = torch.nn.Linear(2, 2)
    opt = lazy_adam(m, lr=0.002, betas=(0.0, 0.99), reg_every=16)
    g = opt.param_groups[0]
    assert g["lr"] == pytest.approx(0.002 * 16 / 17)
    assert g["betas"] == pytest.approx((0.0, 0.99 ** (16 / 17)))
    plain = lazy_adam(m, lr=0.002, betas=(0.0, 0.99), reg_every=None).param_groups[0]
    assert plain["lr"] == 0.002 and plain["betas"] == (0.0, 0.99)


def test_ema_beta_half_life_and_rampup():
    # rosinality's accumulate: 0.5 ** (32 / (10 * 1000))
    assert ema_beta(images_seen=10**7, batch_size=32, ema_kimg=10) == pytest.approx(0.5 ** (32 / 10_000))
    # ramp-up: half-life min(10_000, 0.05 * 1000) = 50 images
    assert ema_beta(images_seen=1000, batch_size=32, ema_kimg=10, rampup=0.05) == pytest.approx(0.5 ** (32 / 50))
    assert ema_beta(images_seen=0, batch_size=32, ema_kimg=10, rampup=0.05) == 0.0  # first step copies


def test_accumulate_lerps_parameters_and_copies_buffers():
    a, b = torch.nn.BatchNorm1d(2), torch.nn.BatchNorm1d(2)
    with torch.no_grad():
        a.weight.fill_(1.0), b.weight.fill_(3.0)
        b.running_mean.fill_(7.0)
    accumulate(a, b, 0.75)
    torch.testing.assert_close(a.weight, torch.full((2,), 1.5))  # 0.75 * 1 + 0.25 * 3
    torch.testing.assert_close(a.running_mean, torch.full((2,), 7.0))


def test_draw_styles_mixing_is_seeded():
    always = draw_styles(torch.Generator().manual_seed(0), batch=3, style_dim=4, n_latent=6, mixing_prob=1.0)
    assert len(always[0]) == 2 and 1 <= always[1] < 6
    again = draw_styles(torch.Generator().manual_seed(0), batch=3, style_dim=4, n_latent=6, mixing_prob=1.0)
    assert again[1] == always[1] and torch.equal(again[0][1], always[0][1])
    never = draw_styles(torch.Generator().manual_seed(0), batch=3, style_dim=4, n_latent=6, mixing_prob=0.0)
    assert len(never[0]) == 1 and never[1] is None and never[0][0].shape == (3, 4)
