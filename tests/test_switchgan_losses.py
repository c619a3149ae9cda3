"""Switch-unit GAN losses (genfer.losses.switchgan), each against a value computed by hand."""

import math

import pytest
import torch

from genfer.losses.switchgan import (SwitchGANLossWeights, adversarial_d_loss, adversarial_g_loss,
                                     classification_loss, combine_losses, interpolation_d_loss,
                                     interpolation_g_loss, perceptual_loss, pixel_sum_loss, reconstruction_loss,
                                     spatial_mean, total_variation)

torch.set_num_threads(1)
LN3 = math.log(3.0)  # sigmoid(ln 3) = 0.75, sigmoid(-ln 3) = 0.25


def img(*rows):
    """A 1x1xHxW image from rows."""
    return torch.tensor([list(r) for r in rows], dtype=torch.float64)[None, None]


def test_adversarial_d_loss_eq5():
    real = torch.tensor([LN3, 0.0], dtype=torch.float64)  # D = 0.75, 0.5
    fake = torch.tensor([-LN3], dtype=torch.float64)      # D = 0.25
    one_scale = (-math.log(0.75) - math.log(0.5)) / 2 - math.log(1 - 0.25)
    assert adversarial_d_loss([real], [fake]).item() == pytest.approx(one_scale)
    # D_1 + D_2 are summed; (B, 1) logits work too
    d2_real, d2_fake = torch.tensor([[0.0]], dtype=torch.float64), torch.tensor([[LN3]], dtype=torch.float64)
    two = one_scale + (-math.log(0.5)) + (-math.log(1 - 0.75))
    assert adversarial_d_loss([real, d2_real], [fake, d2_fake]).item() == pytest.approx(two)
    with pytest.raises(ValueError, match="1 real and 2 fake"):
        adversarial_d_loss([real], [fake, fake])


def test_adversarial_g_loss_eq5():
    fake = [torch.tensor([-LN3, LN3], dtype=torch.float64)]  # D = 0.25, 0.75
    assert adversarial_g_loss(fake).item() == pytest.approx((-math.log(0.25) - math.log(0.75)) / 2)
    assert adversarial_g_loss(fake, saturating=True).item() == pytest.approx((math.log(0.75) + math.log(0.25)) / 2)


def test_interpolation_losses_eq7():
    c = [torch.tensor([LN3], dtype=torch.float64), torch.tensor([0.0], dtype=torch.float64)]  # D1 = .75, D2 = .5
    d = [torch.tensor([-LN3], dtype=torch.float64), torch.tensor([-LN3], dtype=torch.float64)]
    d_side = (-math.log(0.25) - math.log(0.5)) + (-math.log(0.75) - math.log(0.75))
    assert interpolation_d_loss(c, d).item() == pytest.approx(d_side)
    g_side = (-math.log(0.75) - math.log(0.5)) + (-math.log(0.25) - math.log(0.25))
    assert interpolation_g_loss(c, d).item() == pytest.approx(g_side)


def test_classification_loss_eq8():
    logits = torch.tensor([[0.0, LN3], [LN3, 0.0]], dtype=torch.float64)  # softmax = (1/4, 3/4), (3/4, 1/4)
    assert classification_loss(logits, torch.tensor([1, 1])).item() == pytest.approx(
        (-math.log(0.75) - math.log(0.25)) / 2)


def test_reconstruction_loss_eq9():
    a, rec_a = img((0, 0), (0, 0)), img((3, 0), (0, 4))  # ||.||_2 = 5
    b, rec_b = img((1, 1), (1, 1)), img((0, 0), (0, 0))  # ||.||_2 = 2
    assert reconstruction_loss(a, rec_a, b, rec_b).item() == pytest.approx(7.0)
    assert reconstruction_loss(a, rec_a, b, rec_b, reduction="mse").item() == pytest.approx(25 / 4 + 1)
    # batch of 2: per-sample norms averaged (5 and 0 -> 2.5 for a; 2 and 2 -> 2 for b)
    a2, rec_a2 = torch.cat([a, a]), torch.cat([rec_a, a])
    assert reconstruction_loss(a2, rec_a2, torch.cat([b, b]), torch.cat([rec_b, rec_b])).item() == pytest.approx(4.5)
    # a perfect reconstruction gives a finite (zero) gradient
    x = img((0.5, 0.5), (0.5, 0.5)).requires_grad_()
    reconstruction_loss(b, x + 0.5, b, b).backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_pixel_sum_loss_eq10():
    a, b = img((1, 2), (3, 4)), img((0, 1), (0, 1))     # I_a + I_b = [[1, 3], [3, 5]], ||.||_1 = 12
    c, d = img((1, 1), (1, 1)), img((0, 0), (-2, 2))    # I_c + I_d = [[1, 1], [-1, 3]], ||.||_1 = 6
    assert pixel_sum_loss(a, b, c, d).item() == pytest.approx(0 + 2 + 4 + 2)   # ||(a+b) - (c+d)||_1
    assert pixel_sum_loss(a, b, c, d, reduction="mean").item() == pytest.approx(8 / 4)
    assert pixel_sum_loss(a, b, c, d, form="norms").item() == pytest.approx(12 - 6)
    assert pixel_sum_loss(a, b, c, d, form="norms", reduction="mean").item() == pytest.approx(3 - 1.5)


def test_perceptual_loss_eq11():
    # a two-layer "network": F1 = identity, F2 = 3 x the top-left pixel
    feats = lambda t: [t, 3 * t[:, :, :1, :1]]  # noqa: E731
    a, b = img((1, 0), (0, 0)), img((0, 2), (0, 0))
    c, d = img((1, 1), (1, 1)), img((0, 0), (0, 0))
    # paper pairing: (I_a, I_d) and (I_b, I_c)
    a_d = 1 + 3 * 1           # F1: |1-0| ; F2: 3|1-0|
    b_c = (1 + 1 + 1 + 1) + 3 * 1  # F1: |0-1|+|2-1|+|0-1|+|0-1| ; F2: 3|0-1|
    assert perceptual_loss(feats, a, b, c, d).item() == pytest.approx(a_d + b_c)
    # source pairing: (I_a, I_c) and (I_b, I_d)
    a_c = (0 + 1 + 1 + 1) + 0
    b_d = 2 + 0
    assert perceptual_loss(feats, a, b, c, d, pairing="source").item() == pytest.approx(a_c + b_d)
    # mean: each layer's mean absolute difference
    assert perceptual_loss(feats, a, b, c, d, reduction="mean").item() == pytest.approx(1 / 4 + 3 + 4 / 4 + 3)
    # the gradient reaches the generated faces through the frozen network
    c = c.clone().requires_grad_()
    perceptual_loss(feats, a, b, c, d).backward()
    assert c.grad.abs().sum() > 0


def two_layers(t):
    """F1 = identity, F2 = 3 x the top-left pixel (as in test_perceptual_loss_eq11)."""
    return [t, 3 * t[:, :, :1, :1]]


def one_layer(t):
    return [t]


def test_perceptual_loss_pooled_compares_channel_means():
    feats = two_layers
    a, b = img((1, 0), (0, 0)), img((0, 2), (0, 0))
    c, d = img((1, 1), (1, 1)), img((0, 0), (0, 0))
    # channel means: a 1/4, b 2/4, c 1, d 0; F2's single position: a 3, b 0, c 3, d 0
    a_d = abs(1 / 4 - 0) + abs(3 - 0)
    b_c = abs(2 / 4 - 1) + abs(0 - 3)
    assert perceptual_loss(feats, a, b, c, d, pooled=True).item() == pytest.approx(a_d + b_c)
    assert perceptual_loss(feats, a, b, c, d, pooled=True, pairing="source").item() == pytest.approx(
        abs(1 / 4 - 1) + 0 + abs(2 / 4 - 0) + 0)
    # the same content moved elsewhere costs nothing pooled, everything map-wise: the paper pairing's
    # pull toward the reference's layout is gone
    ident = one_layer
    a, b = img((1, 0), (0, 0)), img((0, 0), (0, 1))
    assert perceptual_loss(ident, a, b, a, b, pooled=True).item() == 0.0
    assert perceptual_loss(ident, a, b, a, b).item() == pytest.approx(2 + 2)
    assert torch.equal(spatial_mean(torch.arange(8.0).view(1, 2, 2, 2)), torch.tensor([[1.5, 5.5]]))
    assert torch.equal(spatial_mean(torch.ones(2, 3)), torch.ones(2, 3))


def test_paper_pairing_on_maps_rewards_a_crossfade_toward_the_reference():
    # the ghost mechanism (docs/switchgan.md): on I_c = (1-k) I_a + k I_b, I_d = (1-k) I_b + k I_a the map-wise
    # paper L_per is (1-k) * 2 * ||I_a - I_b||_1 with F = identity, and L_p is 0 for every k
    ident = one_layer
    a, b = img((1, 0), (0, 0)), img((0, 0), (0, 3))
    for k in (0.0, 0.5, 1.0):
        c, d = (1 - k) * a + k * b, (1 - k) * b + k * a
        assert perceptual_loss(ident, a, b, c, d).item() == pytest.approx((1 - k) * 2 * 4)
        assert pixel_sum_loss(a, b, c, d).item() == pytest.approx(0.0)


def test_total_variation():
    x = img((1, 2), (4, 8))  # vertical |4-1| + |8-2| = 9, horizontal |2-1| + |8-4| = 5
    assert total_variation(x).item() == pytest.approx(14.0)
    assert total_variation(x, reduction="mean").item() == pytest.approx(9 / 2 + 5 / 2)
    assert total_variation(torch.cat([x, 2 * x])).item() == pytest.approx((14 + 28) / 2)


def test_combine_losses_eq12():
    w = SwitchGANLossWeights()
    assert (w.rec, w.per, w.pix, w.tv) == (10, 15, 5, 5)  # λ1..λ4
    terms = {"adv": torch.tensor(1.0), "cls": torch.tensor(0.5), "rec": torch.tensor(2.0), "per": torch.tensor(0.1),
             "pix": torch.tensor(0.2), "tv": torch.tensor(0.4), "inter": torch.tensor(3.0)}
    total, logs = combine_losses(terms)
    assert total.item() == pytest.approx(1 + 3 + 0.5 + 20 + 1.5 + 1 + 2)
    assert logs["rec"] == pytest.approx(2.0) and logs["total"] == pytest.approx(29.0)
    total, logs = combine_losses(terms, SwitchGANLossWeights(inter=0.0))  # No_InterL
    assert total.item() == pytest.approx(26.0) and logs["inter"] == pytest.approx(3.0)
    total, _ = combine_losses({"rec": torch.tensor(2.0, requires_grad=True)})
    assert total.requires_grad and total.item() == pytest.approx(20.0)
    with pytest.raises(ValueError, match="unknown loss terms"):
        combine_losses({"gan": torch.tensor(1.0)})
    with pytest.raises(ValueError, match="tv"):
        SwitchGANLossWeights(tv=-1.0)
