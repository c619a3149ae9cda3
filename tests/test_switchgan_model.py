"""Switch-unit GAN networks (genfer.models.switchgan): blocks, switch unit, generator, D1/D2, classifier."""

import pytest
import torch
import torch.nn.functional as F

from genfer.models.switchgan import (L2Norm, MultiScaleDiscriminator, SwitchClassifier, SwitchDecoder,
                                     SwitchDiscriminator, SwitchGAN,
                                     SwitchGenerator, SwitchUnit, block_bounds, expand_code, halved_sizes,
                                     interpolate_blocks, l2_normalize, split_blocks, switch_blocks, switch_codes,
                                     vgg19_features)

torch.set_num_threads(1)

# tiny widths: the last encoder width is the representation C
ENC = (4, 8, 8, 16, 28)  # 28 = 7 blocks x 4 channels
DISC = (4, 8, 8, 16)


def tiny_generator(**kw):
    args = dict(in_chans=1, image_size=48, num_classes=7, channels=ENC, code_channels=2)
    args.update(kw)
    return SwitchGenerator(**args)


def multiscale(in_chans, size, n, scales=2):
    return MultiScaleDiscriminator(discriminators=[
        SwitchDiscriminator(in_chans=in_chans, image_size=size >> s, num_classes=n, channels=DISC) for s in range(scales)])


def images(b, c, s, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, c, s, s, generator=g) * 2 - 1


# ----------------------------------------------------------------------------- blocks and the switch unit


def test_block_bounds_equal_uneven_and_error():
    assert block_bounds(6, 3) == ((0, 2), (2, 4), (4, 6))
    with pytest.raises(ValueError, match="not divisible by the 7 expressions.*511 or 518"):
        block_bounds(512, 7)
    b = block_bounds(512, 7, allow_uneven=True)  # ELEGANT's rounded split of the paper's 512 channels
    assert b[0] == (0, 73) and b[-1] == (439, 512) and all(s2 == e1 for (_, e1), (s2, _) in zip(b, b[1:]))
    with pytest.raises(ValueError, match="at least 2"):
        block_bounds(4, 1)


def hand_pair():
    """n = 3 blocks of 2 channels, 2x1 spatial; R_a holds its channel index c, R_b holds 100 + c."""
    c = torch.arange(6.0)[None, :, None, None].expand(2, 6, 2, 1)
    return c.clone(), (100 + c).clone()


def test_switch_exchanges_blocks_i_and_j_in_place():
    r_a, r_b = hand_pair()
    bounds = block_bounds(6, 3)
    i, j = torch.tensor([0, 1]), torch.tensor([2, 0])  # sample 0: a is expr 0, b is expr 2
    r_c, r_d = switch_blocks(r_a, r_b, i, j, bounds=bounds)
    # Eq. 3: R_c = [r_b^i at i, r_b^j at j, r_a elsewhere]; R_d the other way round
    assert r_c[0, :, 0, 0].tolist() == [100, 101, 2, 3, 104, 105]
    assert r_d[0, :, 0, 0].tolist() == [0, 1, 102, 103, 4, 5]
    assert r_c[1, :, 0, 0].tolist() == [100, 101, 102, 103, 4, 5]
    assert r_d[1, :, 0, 0].tolist() == [0, 1, 2, 3, 104, 105]
    assert torch.equal(r_c[:, :, 1], r_c[:, :, 0])  # every pixel alike
    assert [t.shape[1] for t in split_blocks(r_c, bounds)] == [2, 2, 2]
    # i == j exchanges the single block
    r_c, _ = switch_blocks(r_a, r_b, torch.tensor([1, 1]), torch.tensor([1, 1]), bounds=bounds)
    assert r_c[0, :, 0, 0].tolist() == [0, 1, 102, 103, 4, 5]


def test_switch_rejects_bad_indices():
    r_a, r_b = hand_pair()
    with pytest.raises(ValueError, match="outside"):
        switch_blocks(r_a, r_b, torch.tensor([0, 3]), torch.tensor([1, 1]), bounds=block_bounds(6, 3))
    with pytest.raises(ValueError, match="integer"):
        switch_blocks(r_a, r_b, torch.tensor([0.0, 1.0]), torch.tensor([1, 1]), bounds=block_bounds(6, 3))


def test_interpolation_by_hand():
    r_a, r_b = hand_pair()
    bounds = block_bounds(6, 3)
    i, j = torch.tensor([0, 1]), torch.tensor([2, 0])
    r_cp, r_dp = interpolate_blocks(r_a, r_b, i, j, bounds=bounds, p=0.25)
    # Eq. 6: blocks i, j of R_c^p = p r_a + (1 - p) r_b; of R_d^p = p r_b + (1 - p) r_a
    assert r_cp[0, :, 0, 0].tolist() == [75, 76, 2, 3, 79, 80]
    assert r_dp[0, :, 0, 0].tolist() == [25, 26, 102, 103, 29, 30]
    unit = SwitchUnit(num_classes=3, channels=6)  # paper p = 0.5
    r_cp, _ = unit.interpolate(r_a, r_b, i, j)
    assert r_cp[1, :, 0, 0].tolist() == [50, 51, 52, 53, 4, 5]
    r_c, r_d, _ = unit(r_a, r_b, i, j)
    assert torch.equal(interpolate_blocks(r_a, r_b, i, j, bounds=bounds, p=0.0)[0], r_c)
    assert torch.equal(interpolate_blocks(r_a, r_b, i, j, bounds=bounds, p=1.0)[1], r_b)


def test_pooled_switch_brings_the_other_faces_block_means_not_its_layout():
    # R_a: channel c holds c at the top pixel and 10 + c at the bottom; R_b: 100 + c at the top, 200 + c below
    c = torch.arange(6.0)[None, :, None, None]
    r_a = torch.cat([c, 10 + c], dim=2).expand(2, 6, 2, 1).clone()
    r_b = torch.cat([100 + c, 200 + c], dim=2).expand(2, 6, 2, 1).clone()
    bounds = block_bounds(6, 3)
    i, j = torch.tensor([0, 1]), torch.tensor([2, 0])
    r_c, r_d = switch_blocks(r_a, r_b, i, j, bounds=bounds, pooled=True)
    # sample 0 exchanges blocks 0 and 2: R_c gets R_b's means (150 + c) there, at both pixels; keeps its own block 1
    assert r_c[0, :, 0, 0].tolist() == [150, 151, 2, 3, 154, 155]
    assert r_c[0, :, 1, 0].tolist() == [150, 151, 12, 13, 154, 155]
    assert r_d[0, :, 0, 0].tolist() == [5, 6, 102, 103, 9, 10]  # R_a's means 5 + c
    assert r_d[0, :, 1, 0].tolist() == [5, 6, 202, 203, 9, 10]
    r_cp, _ = interpolate_blocks(r_a, r_b, i, j, bounds=bounds, p=0.5, pooled=True)
    assert r_cp[0, :, 1, 0].tolist() == [(10 + 150) / 2, (11 + 151) / 2, 12, 13, (14 + 154) / 2, (15 + 155) / 2]
    unit = SwitchUnit(num_classes=3, channels=6, pooled=True)
    assert torch.equal(unit(r_a, r_b, i, j)[0], r_c) and torch.equal(unit.interpolate(r_a, r_b, i, j)[0], r_cp)
    assert not torch.equal(switch_blocks(r_a, r_b, i, j, bounds=bounds)[0], r_c)  # the paper's switch keeps layout


def test_switch_codes_and_their_spatial_map():
    codes = switch_codes(torch.tensor([0, 1]), torch.tensor([2, 0]), 3)
    assert codes.c.tolist() == [[1, 0, 1], [1, 1, 0]] and torch.equal(codes.d, codes.c)
    assert codes.a.tolist() == [[0, 0, 0]] * 2 and codes.b.tolist() == [[0, 0, 0]] * 2
    s = expand_code(codes.c, code_channels=2, size=(3, 4))
    assert s.shape == (2, 6, 3, 4)
    assert s[0, :, 2, 3].tolist() == [1, 1, 0, 0, 1, 1]
    assert s[1, :, 0, 0].tolist() == [1, 1, 1, 1, 0, 0]


def test_l2_norm_is_per_pixel_over_channels():
    x = torch.tensor([[[[3.0, 0.0]], [[4.0, 2.0]]]])  # (1, 2, 1, 2): pixel 0 = (3, 4), pixel 1 = (0, 2)
    assert l2_normalize(x)[0, :, 0, 0].tolist() == pytest.approx([0.6, 0.8])
    assert l2_normalize(x)[0, :, 0, 1].tolist() == pytest.approx([0.0, 1.0])
    norm = L2Norm()
    with torch.no_grad():
        norm.gain.fill_(2.0)
        norm.bias.fill_(1.0)
    assert norm(x)[0, :, 0, 0].tolist() == pytest.approx([2.2, 2.6])


# ----------------------------------------------------------------------------- generator


@pytest.mark.parametrize("in_chans, size, n, channels, rep", [
    (1, 48, 7, ENC, 2),               # FER2013-like grayscale 48 px: 48 -> 24 -> 12 -> 6 -> 3 -> 2
    (3, 64, 8, (4, 8, 8, 16, 32), 2),  # 64 px RGB, 8 classes
])
def test_generator_shapes(in_chans, size, n, channels, rep):
    g = SwitchGenerator(in_chans=in_chans, image_size=size, num_classes=n, channels=channels, code_channels=3)
    assert g.decoder.in_channels == 2 * channels[-1] + 3 * n  # [R_x, R_y, S]
    a, b = images(2, in_chans, size, 0), images(2, in_chans, size, 1)
    la, lb = torch.tensor([0, 3]), torch.tensor([1, n - 1])
    out = g(a, b, la, lb, with_interpolation=True)
    for t in (out.image_c, out.image_d, out.recon_a, out.recon_b, out.residual_a, out.residual_d,
              out.interp_c, out.interp_d):
        assert t.shape == (2, in_chans, size, size)
    assert out.repr_a.shape == out.repr_c.shape == (2, channels[-1], rep, rep)
    assert out.codes.c.shape == (2, n) and out.labels_c.tolist() == lb.tolist()
    assert out.labels_d.tolist() == la.tolist()
    assert g(a, b, la, lb).interp_c is None


def test_generator_residuals_are_added_and_clamped():
    g = tiny_generator(residual_scale=2.0)
    a, b = images(2, 1, 48, 2), images(2, 1, 48, 3)
    la, lb = torch.tensor([0, 4]), torch.tensor([5, 1])
    out = g(a, b, la, lb)
    assert out.residual_c.abs().max() <= 2.0
    torch.testing.assert_close(out.image_c, (a + out.residual_c).clamp(-1, 1))
    torch.testing.assert_close(out.image_d, (b + out.residual_d).clamp(-1, 1))
    torch.testing.assert_close(out.recon_a, (a + out.residual_a).clamp(-1, 1))
    torch.testing.assert_close(out.recon_b, (b + out.residual_b).clamp(-1, 1))
    g.clamp_output = False
    out = g(a, b, la, lb)
    torch.testing.assert_close(out.image_c, a + out.residual_c)


def test_generator_decodes_what_eq4_says():
    g = tiny_generator()
    a, b = images(2, 1, 48, 4), images(2, 1, 48, 5)
    la, lb = torch.tensor([2, 0]), torch.tensor([3, 6])
    out = g(a, b, la, lb, with_interpolation=True)
    r_a, skips_a = g.encoder(a, return_skips=True)
    r_b, skips_b = g.encoder(b, return_skips=True)
    torch.testing.assert_close(out.repr_a, r_a)
    r_c, r_d = switch_blocks(r_a, r_b, la, lb, bounds=g.bounds)
    torch.testing.assert_close(out.repr_c, r_c)
    dec = lambda x, y, s, skips: g.decoder(x, y, s, out_size=(48, 48), skips=skips)  # noqa: E731
    # [R_c, R_a, S_c] -> residual of I_c; [R_b, R_b, S_b] -> residual of I'_b; per sample == batched
    torch.testing.assert_close(out.residual_c, dec(r_c, r_a, out.codes.c, skips_a), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out.residual_b, dec(r_b, r_b, out.codes.b, skips_b), atol=1e-6, rtol=1e-5)
    one = dec(r_d[1:], r_b[1:], out.codes.d[1:], [s[1:] for s in skips_b])
    torch.testing.assert_close(out.residual_d[1:], one, atol=1e-6, rtol=1e-5)
    r_cp, _ = interpolate_blocks(r_a, r_b, la, lb, bounds=g.bounds, p=0.5)
    torch.testing.assert_close(out.interp_c, g.compose(a, dec(r_cp, r_a, out.codes.c, skips_a)), atol=1e-6, rtol=1e-5)


def test_generator_without_skips_and_validation():
    g = tiny_generator(skip_connections=False, in_chans=3, image_size=32)
    out = g(images(1, 3, 32, 6), images(1, 3, 32, 7), torch.tensor([1]), torch.tensor([2]))
    assert out.image_c.shape == (1, 3, 32, 32)
    with pytest.raises(ValueError, match="not divisible"):
        tiny_generator(channels=(4, 8, 8, 16, 30))
    with pytest.raises(ValueError, match="3-channel"):
        g(images(1, 1, 32, 0), images(1, 1, 32, 1), torch.tensor([1]), torch.tensor([2]))
    dec = SwitchDecoder(in_chans=1, repr_channels=28, num_classes=7, code_channels=2, encoder_widths=ENC)
    with pytest.raises(ValueError, match="skips"):
        dec(torch.zeros(1, 28, 2, 2), torch.zeros(1, 28, 2, 2), torch.zeros(1, 7), out_size=(48, 48))
    with pytest.raises(ValueError, match="do not fit"):
        dec(torch.zeros(1, 28, 3, 3), torch.zeros(1, 28, 3, 3), torch.zeros(1, 7), out_size=(48, 48))


def test_generator_backward_reaches_encoder_and_decoder():
    g = tiny_generator()
    out = g(images(2, 1, 48, 8), images(2, 1, 48, 9), torch.tensor([0, 1]), torch.tensor([2, 3]))
    (out.image_c.square().mean() + out.recon_a.mean()).backward()
    assert g.encoder.layers[0].conv.weight.grad.abs().sum() > 0
    assert g.decoder.deconvs[0].weight.grad.abs().sum() > 0
    assert all(torch.isfinite(p.grad).all() for p in g.parameters() if p.grad is not None)


# ----------------------------------------------------------------------------- discriminators


def test_multiscale_discriminator_two_scales_and_label_conditioning():
    d = multiscale(1, 48, 7)
    assert [m.image_size for m in d.discriminators] == [48, 24]
    # FC over the flattened last map: 48 -> 3 x 3, 24 -> 2 x 2
    assert d.discriminators[0].fc.in_features == 16 * 3 * 3 and d.discriminators[1].fc.in_features == 16 * 2 * 2
    x, y = images(3, 1, 48, 10), torch.tensor([0, 3, 6])
    outs = d(x, y)
    assert len(outs) == 2 and all(o.shape == (3,) for o in outs)
    torch.testing.assert_close(outs[1], d.discriminators[1](F.avg_pool2d(x, 2), y))
    torch.testing.assert_close(outs[0], d(x, F.one_hot(y, 7).float())[0])  # one-hot vectors == indices
    assert not torch.allclose(outs[0], d(x, torch.tensor([1, 4, 5]))[0])   # the label matters
    with pytest.raises(ValueError, match="takes"):
        d.discriminators[0](images(1, 1, 32, 0), torch.tensor([0]))
    with pytest.raises(ValueError, match="24-px copies"):
        MultiScaleDiscriminator(discriminators=[d.discriminators[0], d.discriminators[0]])
    d64 = multiscale(3, 64, 8)
    assert [o.shape for o in d64(images(2, 3, 64, 11), torch.tensor([7, 0]))] == [(2,), (2,)]


# ----------------------------------------------------------------------------- classifier


def test_vgg19_trunk_adapted():
    f = vgg19_features(in_chans=1, width_mult=1 / 16)
    convs = [m for m in f if isinstance(m, torch.nn.Conv2d)]
    pools = [m for m in f if isinstance(m, torch.nn.MaxPool2d)]
    assert len(convs) == 16 and len(pools) == 5 and all(p.ceil_mode for p in pools)
    assert convs[0].in_channels == 1 and f.out_channels == 32
    assert f(torch.zeros(1, 1, 48, 48)).shape[-2:] == (2, 2) == tuple(halved_sizes(48, 5)[-1:] * 2)


@pytest.mark.parametrize("in_chans, size, n, channels", [(1, 48, 7, ENC), (3, 64, 8, (4, 8, 8, 16, 32))])
def test_classifier_fuses_vgg_and_encoder(in_chans, size, n, channels):
    g = SwitchGenerator(in_chans=in_chans, image_size=size, num_classes=n, channels=channels, code_channels=2)
    c = SwitchClassifier(in_chans=in_chans, image_size=size, num_classes=n, repr_channels=channels[-1],
                         fuse_channels=8, pool_size=2, hidden=16, width_mult=1 / 16)
    x = images(2, in_chans, size, 12)
    r = g.encode(x)
    assert c.fuse.in_channels == 32 + channels[-1]  # Concat(VGG 512 + R 512) at paper width
    feats = c.pooled_features(x, r)
    assert feats.shape == (2, 8 * 2 * 2) == (2, c.num_features)
    assert c.forward_head(feats).shape == (2, n)
    model = SwitchGAN(generator=g, discriminator=multiscale(in_chans, size, n), classifier=c)
    c.eval()
    logits = model.classify(x)
    torch.testing.assert_close(logits, c(x, r))
    logits.sum().backward()  # L_C reaches G_enc (end to end, Eq. 12)
    assert g.encoder.layers[0].conv.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="pass expr_repr"):
        c(x)
    with pytest.raises(ValueError, match="match"):
        c(x, r[:, :4])


def test_classifier_without_expression_repr_is_plain_vgg():
    c = SwitchClassifier(in_chans=1, image_size=48, num_classes=7, pool_size=1, hidden=8, width_mult=1 / 16,
                         use_expression_repr=False, batch_norm=True)
    assert c.fuse is None and c.num_features == 32
    assert c(images(2, 1, 48, 13)).shape == (2, 7)


def test_transfer_is_the_first_output_of_the_switch():
    g = tiny_generator()
    a, b = images(3, 1, 48, 14), images(3, 1, 48, 15)
    la, lb = torch.tensor([0, 2, 5]), torch.tensor([1, 6, 3])
    torch.testing.assert_close(g.transfer(a, b, la, lb), g(a, b, la, lb).image_c, atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="equal"):
        g.transfer(a, b[:2], la, lb)


def test_l2_norm_layer_matches_the_reference_formula():
    x = images(2, 5, 6, 16) * 3
    norm = L2Norm()
    with torch.no_grad():
        norm.gain.fill_(1.5)
        norm.bias.fill_(-0.25)
    torch.testing.assert_close(norm(x), F.normalize(x, dim=1) * 1.5 - 0.25)
    torch.testing.assert_close(l2_normalize(torch.zeros(1, 3, 2, 2)), torch.zeros(1, 3, 2, 2))


def test_switchgan_without_discriminator_for_inference():
    g = tiny_generator()
    c = SwitchClassifier(in_chans=1, image_size=48, num_classes=7, repr_channels=ENC[-1], fuse_channels=8,
                         pool_size=1, hidden=8, width_mult=1 / 16)
    model = SwitchGAN(generator=g, discriminator=None, classifier=c)
    assert model.discriminator is None and model(images(2, 1, 48, 17)).shape == (2, 7)
    assert not any(k.startswith("discriminator.") for k in model.state_dict())
