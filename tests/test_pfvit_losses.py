"""PF-ViT losses (Eqs. 2, 5-8) against values computed by hand."""

import math

import pytest
import torch

from genfer.losses.pfvit import (
    abs_cosine,
    discrimination_loss,
    discriminator_targets,
    emotion_loss,
    reconstruction_loss,
)


def test_emotion_loss_is_cross_entropy_by_hand():
    logits = torch.tensor([[0.0, math.log(3.0)]])  # softmax = (1/4, 3/4)
    assert emotion_loss(logits, torch.tensor([1])).item() == pytest.approx(-math.log(0.75))
    assert emotion_loss(logits, torch.tensor([[0.5, 0.5]])).item() == pytest.approx(
        -0.5 * math.log(0.25) - 0.5 * math.log(0.75))


def test_reconstruction_loss_by_hand():
    x = torch.zeros(2, 1, 2, 2)
    x_hat = x.clone()
    x_hat[0, 0, 0, 0], x_hat[0, 0, 1, 1] = 3.0, 4.0  # ||x_hat_0 - x_0|| = 5; image 1 exact
    x_tilde = torch.full((2, 1, 2, 2), 1.0)  # ||x_tilde_b - x_b|| = 2 for both
    labels = torch.tensor([0, 3])  # only image 0 is neutral (c = 0)
    # E||x_hat - x|| = (5 + 0) / 2; E 1[y=c]||x_tilde - x|| = (2 + 0) / 2
    assert reconstruction_loss(x_hat, x_tilde, x, labels, neutral=0).item() == pytest.approx(2.5 + 1.0)
    assert reconstruction_loss(x_hat, x_tilde, x, labels, neutral=3).item() == pytest.approx(2.5 + 1.0)
    assert reconstruction_loss(x_hat, x_tilde, x, labels, neutral=5).item() == pytest.approx(2.5)


def test_discriminator_targets_follow_eq8():
    y = torch.tensor([2, 0])
    real = discriminator_targets(y, "real", num_classes=3, neutral=0)
    assert real.tolist() == [[0, 0, 1, 1], [1, 0, 0, 1]]
    rec = discriminator_targets(y, "reconstruction", num_classes=3, neutral=0)
    assert rec.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0]]
    poker = discriminator_targets(y, "poker", num_classes=3, neutral=0)
    assert poker.tolist() == [[1, 0, 0, 0], [1, 0, 0, 0]]  # poker faces carry the neutral label
    assert discriminator_targets(y, "poker", num_classes=3, neutral=0, real=1.0)[:, 3].tolist() == [1, 1]
    with pytest.raises(ValueError, match="kind"):
        discriminator_targets(y, "fake", num_classes=3, neutral=0)


def test_discrimination_loss_by_hand():
    logits = torch.tensor([[0.0, math.log(3.0)]])  # sigma = 1/2, 3/4
    targets = torch.tensor([[1.0, 0.0]])
    expected = -math.log(0.5) - math.log(1 - 0.75)  # sum over the K+1 units
    assert discrimination_loss(logits, targets).item() == pytest.approx(expected)
    two = torch.cat([logits, logits]), torch.cat([targets, torch.tensor([[0.0, 1.0]])])
    second = -math.log(0.5) - math.log(0.75)
    assert discrimination_loss(*two).item() == pytest.approx((expected + second) / 2)


def test_abs_cosine_eq2_by_hand():
    v_e = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])  # flattened (1, 0, 0, 2)
    v_p = torch.tensor([[[0.0, 3.0], [4.0, 0.0]]])  # flattened (0, 3, 4, 0): orthogonal
    assert abs_cosine(v_e, v_p).item() == pytest.approx(0.0)
    a, b = torch.tensor([[3.0, 4.0]]), torch.tensor([[-4.0, -3.0]])
    assert abs_cosine(a, b).item() == pytest.approx(24 / 25)  # |-12-12| / (5*5)
    # A separator mask m gives <z m, z (1-m)> = sum z^2 m (1-m): zero only for a binary mask.
    z = torch.tensor([[[1.0, 2.0]]])
    m = torch.tensor([[[0.5, 1.0]]])
    expected = (1 * 0.5 * 0.5) / (math.sqrt(0.25 + 4.0) * 0.5)
    assert abs_cosine(z * m, z * (1 - m)).item() == pytest.approx(expected)


class _FixedDiscriminator(torch.nn.Module):
    """Returns the given logits for the concatenated batch [x, x̂, x̃] (B = 1 each), whatever the images."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = logits

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        assert images.shape[0] == self.logits.shape[0]
        return self.logits


@pytest.mark.parametrize("disc_emotion", ["all", "real"])
def test_disc_emotion_decides_which_images_train_d_emotion_units(disc_emotion):
    """K = 7, c = 0, y = 3. Emotion logits 0 except x̂'s and x̃'s class units at +5; real/fake logit 0 for x and 2
    for the generated images. ``all`` (Eq. 8): x: 8·log 2; x̂: 6·log 2 + softplus(5) [unit 3, target 1: softplus(-5)]
    + softplus(2); x̃ likewise with unit 0. ``real``: x as before, x̂ and x̃ only softplus(2) each."""
    from types import SimpleNamespace

    from genfer.config.pfvit import PFViTModelConfig
    from genfer.train.pfvit import pfvit_discriminator_loss

    k, y = 7, torch.tensor([3])
    logits = torch.zeros(3, k + 1)
    logits[1, 3], logits[2, 0] = 5.0, 5.0
    logits[1:, k] = 2.0
    model = SimpleNamespace(discriminator=_FixedDiscriminator(logits))
    img = torch.zeros(1, 1, 4, 4)
    cfg = PFViTModelConfig(num_classes=k, neutral=0, disc_emotion=disc_emotion)
    got = pfvit_discriminator_loss(model, img, img, img, y, cfg).item()
    sp = lambda v: math.log1p(math.exp(v))  # noqa: E731  softplus: -log σ(-v) = -log(1 - σ(v))
    real_term = (k + 1) * math.log(2)
    fake_term = 6 * math.log(2) + sp(-5.0) + sp(2.0) if disc_emotion == "all" else sp(2.0)
    assert got == pytest.approx(real_term + 2 * fake_term, rel=1e-6)


def test_disc_emotion_must_be_known():
    from genfer.config.pfvit import PFViTModelConfig
    from genfer.config.base import ConfigError

    with pytest.raises(ConfigError, match="model.disc_emotion must be one of all, real"):
        PFViTModelConfig(disc_emotion="fake")
