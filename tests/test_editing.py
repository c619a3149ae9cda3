"""Latent emotion editing: directions fitted by SVR / SVM, the hyperplane projection, Eqs. 1-4, the directions file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genfer.editing.arithmetic import (edit_code, interpolate_transfer, neutralize_code, project_to_level,
                                       regressor_value, transfer_code)
from genfer.editing.directions import cosine_matrix, dominant_counts, fit_linear, neutral_sum_test
from genfer.editing.store import EmotionDirections, load_directions


def test_svr_recovers_a_planted_linear_direction():
    # score = 0.3 + 0.05 <u, x> with u = (3, 4, 0, ...)/5 and x offset from 0: the SVR's coef is 0.05 u, its
    # intercept (in raw, uncentred coordinates) 0.3.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 8)) + 2.0
    u = np.zeros(8)
    u[:2] = [0.6, 0.8]
    y = 0.3 + 0.05 * x @ u
    fit = fit_linear(x, y[:, None], method="svr", c=10.0)
    assert fit.coef.shape == (1, 8)
    np.testing.assert_allclose(fit.coef[0], 0.05 * u, atol=2e-4)
    assert fit.intercept[0] == pytest.approx(0.3, abs=2e-3)
    cos = fit.coef[0] @ u / np.linalg.norm(fit.coef[0])
    assert cos > 0.9999


def test_svr_direction_survives_noise_and_a_second_planted_emotion():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 6))
    u, v = np.eye(6)[0], np.eye(6)[3]
    scores = np.stack([0.5 + 0.1 * x @ u, 0.5 - 0.1 * x @ v], 1) + rng.normal(scale=0.02, size=(4000, 2))
    fit = fit_linear(x, scores)
    unit = fit.coef / np.linalg.norm(fit.coef, axis=1, keepdims=True)
    assert unit[0] @ u > 0.999 and unit[1] @ -v > 0.999


def test_svm_on_extremes_separates_along_the_planted_direction():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2000, 5))
    u = np.array([0.0, 1.0, 0.0, 0.0, 0.0])
    fit = fit_linear(x, (x @ u)[:, None], method="svm", extremes=200)
    assert fit.coef[0] @ u / np.linalg.norm(fit.coef[0]) > 0.95
    assert fit.r2[0] == 1.0  # the extremes are linearly separable


def test_figure_numbers():
    scores = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.3, 0.3, 0.4]])
    argmax, above = dominant_counts(scores, threshold=0.5)
    assert argmax.tolist() == [2, 1, 1] and above.tolist() == [2, 1, 0]
    assert dominant_counts(np.array([[0.5, 0.5, 0.0]]))[1].tolist() == [0, 0, 0]  # "above" 0.5 is strictly above
    cos = cosine_matrix(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, -2.0]]))
    np.testing.assert_allclose(cos, [[1, 2**-0.5, 0], [2**-0.5, 1, -(2**-0.5)], [0, -(2**-0.5), 1]], atol=1e-12)
    # coefficients of probability regressors sum to 0: neutral = -(a1 + a2)
    coef = np.array([[-3.0, -1.0], [1.0, 0.0], [2.0, 1.0]])
    test = neutral_sum_test(coef, neutral=0)
    assert test["cos_negated_coef_sum"] == pytest.approx(1.0)
    s = np.array([1.0, 0.0]) + np.array([2.0, 1.0]) / 5**0.5  # sum of the unit directions of rows 1 and 2
    assert test["cos_unit_sum"] == pytest.approx(float(np.array([-3.0, -1.0]) @ s / (10**0.5 * np.linalg.norm(s))))


def test_edit_and_hyperplane_projection_by_hand():
    code = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])  # (1, L=2, D=2)
    d = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert torch.equal(edit_code(code, d, 2.0), torch.tensor([[[3.0, 2.0], [3.0, 6.0]]]))
    coef = torch.tensor([[1.0, 1.0], [0.0, 0.0]])  # f(c) = c00 + c01 - 1 = 2 for this code
    assert float(regressor_value(code, coef, -1.0)[0]) == 2.0
    p = project_to_level(code, coef, -1.0)  # c - f/||a||^2 a = c - 2/2 (1, 1) on entry 0
    assert torch.allclose(p, torch.tensor([[[0.0, 1.0], [3.0, 4.0]]]))
    assert float(regressor_value(p, coef, -1.0)[0]) == pytest.approx(0.0)
    p5 = project_to_level(code, coef, -1.0, level=0.5)  # c - (2 - 0.5)/2 (1, 1)
    assert torch.allclose(p5, torch.tensor([[[0.25, 1.25], [3.0, 4.0]]]))
    # projecting twice changes nothing; numpy arrays work the same
    assert torch.allclose(project_to_level(p, coef, -1.0), p)
    np.testing.assert_allclose(project_to_level(code.numpy(), coef.numpy(), -1.0), p.numpy())


def test_neutralize_is_projection_plus_k_times_neutral_direction():
    code = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 1.0]]])  # a batch of two codes
    coef = torch.tensor([[0.0, 0.0], [0.0, 2.0]])  # f = 2 c11 + 1
    nd = torch.tensor([[0.0, 0.0], [0.0, 1.0]])
    out = neutralize_code(code, coef, 1.0, nd, 3.0)
    # f = 9 and 3 -> c11 moves by -9·2/4 and -3·2/4 onto f = 0 (c11 = -0.5), then +3
    assert torch.allclose(out, torch.tensor([[[1.0, 2.0], [3.0, 2.5]], [[0.0, 0.0], [0.0, 2.5]]]))


def test_transfer_and_interpolation_by_hand():
    tc, tc_neu = torch.tensor([5.0, 1.0]), torch.tensor([2.0, 1.0])
    sc, sc_neu = torch.tensor([0.0, 4.0]), torch.tensor([1.0, 3.0])
    assert torch.equal(transfer_code(tc, tc_neu, sc_neu), torch.tensor([4.0, 3.0]))  # (3, 0) + (1, 3)
    # 0.25·(3, 0) + 0.75·(-1, 1) + (1, 3) = (0.75 - 0.75 + 1, 0.75 + 3)
    assert torch.allclose(interpolate_transfer(tc, tc_neu, sc, sc_neu, 0.25), torch.tensor([1.0, 3.75]))
    assert torch.equal(interpolate_transfer(tc, tc_neu, sc, sc_neu, 1.0), transfer_code(tc, tc_neu, sc_neu))
    assert torch.equal(interpolate_transfer(tc, tc_neu, sc, sc_neu, 0.0), sc)


def test_directions_file_round_trip_and_normalisation(tmp_path):
    coef = np.array([[3.0, 4.0], [0.0, 2.0]])  # fitted in w space (D = 2), broadcast to 3 entries
    dirs = EmotionDirections.from_flat(coef, np.array([0.1, 0.2]), n_latent=3, space="w",
                                       emotions=("neutral", "happiness"), info={"samples": 10})
    assert dirs.coef.shape == (2, 3, 2)
    assert torch.allclose(dirs.coef[0, 1], torch.tensor([1.0, 4 / 3]))  # f(broadcast w) = coef · w
    assert torch.allclose(dirs.direction("neutral"), torch.tensor([[0.6, 0.8]] * 3))  # unit per entry
    dirs.save(tmp_path / "d")
    back = load_directions(tmp_path / "d")
    assert back.emotions == ("neutral", "happiness") and back.space == "w" and back.info["samples"] == 10
    assert torch.equal(back.coef, dirs.coef) and torch.allclose(back.intercept, torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match="unknown emotion"):
        back.direction("joy")
    plus = EmotionDirections.from_flat(np.arange(12.0).reshape(2, 6), np.zeros(2), n_latent=3, space="wplus",
                                       emotions=("neutral", "fear"))
    assert plus.coef.shape == (2, 3, 2) and float(plus.coef[1, 2, 1]) == 11.0
    assert float(plus.directions[1].norm()) == pytest.approx(3**0.5)
