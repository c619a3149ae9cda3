"""StyleGAN2 generator / discriminator: shapes, latents, noise, hand-checked layers, rosinality key layout."""

import math

import pytest
import torch
import torch.nn.functional as F

from genfer.layers.stylegan import (
    Blur,
    EqualConv2d,
    EqualLinear,
    ModulatedConv2d,
    Upsample,
    minibatch_stddev,
    upfirdn2d,
)
from genfer.models.stylegan2 import Discriminator, Generator, channel_table, load_rosinality_checkpoint


pytestmark = pytest.mark.usefixtures("one_thread")  # these tests run on one thread (fixture: conftest.py)

D = 16  # style dim of the tiny models
CH = {4: 16, 8: 12, 16: 8, 32: 6}  # distinct per resolution, so swapped in/out channels would show


def tiny_g(img_channels: int = 3, size: int = 32) -> Generator:
    with torch.random.fork_rng():  # deterministic test init without touching the global RNG state
        torch.manual_seed(0)
        g = Generator(size=size, style_dim=D, n_mlp=2, channels=CH, img_channels=img_channels)
    with torch.no_grad():  # non-zero noise strengths so noise matters
        for m in g.modules():
            if m.__class__.__name__ == "NoiseInjection":
                m.weight.fill_(0.5)
    return g.eval()


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- generator I/O


def test_output_shapes_for_z_w_and_wplus():
    g = tiny_g()
    assert g.n_latent == 8 and g.num_layers == 7
    z = torch.randn(3, D, generator=gen(0))
    img, lat = g(z, generator=gen(1), return_latents=True)
    assert img.shape == (3, 3, 32, 32) and lat.shape == (3, 8, D)
    w = g.get_latent(z)
    assert g(w, input_is_latent=True, randomize_noise=False).shape == (3, 3, 32, 32)
    wp = torch.randn(3, 8, D, generator=gen(2))
    img, lat = g(wp, input_is_latent=True, randomize_noise=False, return_latents=True)
    assert img.shape == (3, 3, 32, 32) and torch.equal(lat, wp)
    # z and its mapped w give the same image
    torch.testing.assert_close(g(z, randomize_noise=False), g(w, input_is_latent=True, randomize_noise=False))
    with pytest.raises(ValueError, match="W\\+ latent"):
        g(torch.randn(3, 5, D), input_is_latent=True, randomize_noise=False)


def test_grayscale_generator_and_discriminator():
    g = tiny_g(img_channels=1)
    img = g(torch.randn(2, D, generator=gen(0)), randomize_noise=False)
    assert img.shape == (2, 1, 32, 32)
    d = Discriminator(size=32, channels=CH, img_channels=1)
    assert d(img).shape == (2, 1)
    assert g.state_dict()["to_rgb1.conv.weight"].shape == (1, 1, 16, 1, 1)
    assert d.state_dict()["convs.0.0.weight"].shape == (6, 1, 1, 1)


def test_structure_code_replaces_constant():
    g = tiny_g()
    w = torch.randn(2, D, generator=gen(0))
    base = g(w, input_is_latent=True, randomize_noise=False)
    # the learned constant passed as structure code reproduces the default path
    const = g.input.input.detach().expand(2, -1, -1, -1)
    same = g(w, input_is_latent=True, randomize_noise=False, structure=const)
    torch.testing.assert_close(same, base)
    s = torch.randn(2, 16, 4, 4, generator=gen(1), requires_grad=True)
    out = g(w, input_is_latent=True, randomize_noise=False, structure=s)
    assert out.shape == (2, 3, 32, 32) and not torch.allclose(out, base)
    out.square().mean().backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    # per-sample structure codes: sample 0 is unaffected by sample 1's code
    s2 = s.detach().clone()
    s2[1] += 1.0
    torch.testing.assert_close(g(w, input_is_latent=True, randomize_noise=False, structure=s2)[0], out[0].detach())
    with pytest.raises(ValueError, match="structure code"):
        g(w, input_is_latent=True, randomize_noise=False, structure=torch.randn(2, 8, 4, 4))


def test_truncation_identity_and_mean():
    g = tiny_g()
    w_avg = g.mean_latent(256, generator=gen(0))
    assert w_avg.shape == (1, D)
    # mean_latent is reproducible with the same generator
    torch.testing.assert_close(w_avg, g.mean_latent(256, generator=gen(0)))
    z = torch.randn(3, D, generator=gen(1))
    _, lat = g(z, randomize_noise=False, return_latents=True)
    _, lat1 = g(z, randomize_noise=False, truncation=1.0, truncation_latent=w_avg, return_latents=True)
    torch.testing.assert_close(lat1, lat)
    _, lat0 = g(z, randomize_noise=False, truncation=0.0, truncation_latent=w_avg, return_latents=True)
    torch.testing.assert_close(lat0, w_avg.expand(3, 8, D))
    _, lat_half = g(z, randomize_noise=False, truncation=0.5, truncation_latent=w_avg, return_latents=True)
    torch.testing.assert_close(lat_half, 0.5 * (lat + w_avg))
    with pytest.raises(ValueError, match="truncation_latent"):
        g(z, randomize_noise=False, truncation=0.5)


def test_style_mixing_uses_second_latent_after_crossover():
    g = tiny_g()
    w1 = torch.randn(2, D, generator=gen(0))
    w2 = torch.randn(2, D, generator=gen(1))
    img, lat = g([w1, w2], input_is_latent=True, inject_index=3, randomize_noise=False, return_latents=True)
    for i in range(8):
        torch.testing.assert_close(lat[:, i], w1 if i < 3 else w2)
    wp = torch.cat([w1[:, None].expand(-1, 3, -1), w2[:, None].expand(-1, 5, -1)], dim=1)
    torch.testing.assert_close(img, g(wp, input_is_latent=True, randomize_noise=False))
    # a missing crossover is drawn from the generator, reproducibly, in 1..n_latent-1
    _, la = g([w1, w2], input_is_latent=True, randomize_noise=False, generator=gen(5), return_latents=True)
    _, lb = g([w1, w2], input_is_latent=True, randomize_noise=False, generator=gen(5), return_latents=True)
    torch.testing.assert_close(la, lb)
    assert torch.equal(la[:, 0], w1) and torch.equal(la[:, -1], w2)
    with pytest.raises(ValueError, match="no global RNG"):
        g([w1, w2], input_is_latent=True, randomize_noise=False)


def test_noise_reproducible_with_seeded_generator():
    g = tiny_g()
    w = torch.randn(2, D, generator=gen(0))
    a = g(w, input_is_latent=True, generator=gen(7))
    b = g(w, input_is_latent=True, generator=gen(7))
    c = g(w, input_is_latent=True, generator=gen(8))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)
    # make_noise draws the same maps, in the same order, as the forward pass does with that generator
    noise = g.make_noise(generator=gen(3), batch=2)
    assert [tuple(n.shape) for n in noise] == [(2, 1, r, r) for r in (4, 8, 8, 16, 16, 32, 32)]
    torch.testing.assert_close(g(w, input_is_latent=True, noise=noise), g(w, input_is_latent=True, generator=gen(3)))
    # randomize_noise=False uses the registered buffers noises.noise_{i} (shape (1, 1, r, r), broadcast)
    fixed = [getattr(g.noises, f"noise_{i}") for i in range(g.num_layers)]
    a = g(w, input_is_latent=True, randomize_noise=False)
    torch.testing.assert_close(a, g(w, input_is_latent=True, noise=fixed))
    assert not torch.allclose(a, g(w, input_is_latent=True, noise=[torch.zeros_like(n) for n in fixed]))
    with pytest.raises(ValueError, match="torch.Generator"):
        g(w, input_is_latent=True)


# ----------------------------------------------------------------------------- layers by hand


def test_demodulation_unit_norm_and_hand_value():
    conv = ModulatedConv2d(in_channels=2, out_channels=1, kernel_size=1, style_dim=4)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([3.0, 4.0]).view(1, 1, 2, 1, 1))
        conv.modulation.weight.zero_()  # style s = bias = 1
    # W' = [3, 4] / sqrt(2) (scale = 1/sqrt(fan_in = 2)); demodulated W'' = W' / |W'| = [0.6, 0.8]
    w = conv.modulated_weight(torch.randn(1, 4))
    torch.testing.assert_close(w.flatten(), torch.tensor([0.6, 0.8]))
    x = torch.tensor([1.0, 2.0]).view(1, 2, 1, 1)
    torch.testing.assert_close(conv(x, torch.randn(1, 4)).flatten(), torch.tensor([0.6 + 1.6]))
    # random case: every output filter of every sample has unit norm over (in, k, k)
    conv = ModulatedConv2d(in_channels=5, out_channels=7, kernel_size=3, style_dim=4)
    w = conv.modulated_weight(torch.randn(3, 4, generator=gen(0)))
    assert w.shape == (3, 7, 5, 3, 3)
    torch.testing.assert_close(w.square().sum(dim=(2, 3, 4)), torch.ones(3, 7))


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("resample", ["none", "up", "down"])
def test_modulated_conv_equals_per_sample_conv(resample, fused):
    """Both implementations (grouped and batched) equal convolving each sample with its own W''_b."""
    conv = ModulatedConv2d(in_channels=3, out_channels=4, kernel_size=3, style_dim=5, fused=fused,
                           upsample=resample == "up", downsample=resample == "down")
    x = torch.randn(2, 3, 6, 6, generator=gen(0))
    s = torch.randn(2, 5, generator=gen(1))
    out = conv(x, s)
    side = {"none": 6, "up": 12, "down": 3}[resample]
    assert out.shape == (2, 4, side, side)
    w = conv.modulated_weight(s)
    for b in range(2):
        if resample == "up":
            ref = conv.blur(F.conv_transpose2d(x[b : b + 1], w[b].transpose(0, 1), stride=2))
        elif resample == "down":
            ref = F.conv2d(conv.blur(x[b : b + 1]), w[b], stride=2)
        else:
            ref = F.conv2d(x[b : b + 1], w[b], padding=1)
        torch.testing.assert_close(out[b : b + 1], ref)


def test_equalized_lr_scales():
    lin = EqualLinear(in_features=64, out_features=8, lr_mul=0.01, bias_init=2.0)
    assert lin.scale == pytest.approx(0.01 / 8.0)
    x = torch.randn(3, 64, generator=gen(0))
    torch.testing.assert_close(lin(x), F.linear(x, lin.weight * 0.01 / 8.0, lin.bias * 0.01))
    assert torch.all(lin.bias == 2.0)
    conv = EqualConv2d(in_channels=8, out_channels=4, kernel_size=3, padding=1)
    assert conv.scale == pytest.approx(1 / math.sqrt(72))
    mod = ModulatedConv2d(in_channels=8, out_channels=4, kernel_size=3, style_dim=2)
    assert mod.scale == pytest.approx(1 / math.sqrt(72))
    g = tiny_g()
    assert all(layer.scale == pytest.approx(0.01 / math.sqrt(D)) for layer in list(g.style)[1:])


def test_minibatch_stddev_by_hand():
    # two samples, two channels, 1x1: std over the group per channel = 1 and 2; mean = 1.5
    x = torch.tensor([[0.0, 2.0], [2.0, 6.0]]).view(2, 2, 1, 1)
    out = minibatch_stddev(x)
    assert out.shape == (2, 3, 1, 1)
    torch.testing.assert_close(out[:, 2].flatten(), torch.tensor([1.5, 1.5]))
    torch.testing.assert_close(out[:, :2], x)
    # rosinality's grouping: x.view(G, B/G, ...) puts samples {0, 2} and {1, 3} together for G = 2
    x = torch.tensor([0.0, 10.0, 2.0, 16.0]).view(4, 1, 1, 1).expand(4, 1, 2, 2)
    out = minibatch_stddev(x, group_size=2)
    torch.testing.assert_close(out[:, 1, 0, 0], torch.tensor([1.0, 3.0, 1.0, 3.0]))
    torch.testing.assert_close(out[:, 1], out[:, 1, :1, :1].expand(4, 2, 2))
    # a batch of 6 with group size 4 falls back to groups of 3 (rosinality would fail)
    assert minibatch_stddev(torch.randn(6, 4, 2, 2), group_size=4).shape == (6, 5, 2, 2)


def _naive_upfirdn(x, k, up, down, pad):
    """Definition: zero-insert, pad/crop, true convolution with k, subsample (loops, 1 channel)."""
    h = x.shape[0]
    u = torch.zeros(h * up, h * up)
    u[::up, ::up] = x
    p0, p1 = pad
    n = h * up + p0 + p1
    padded = torch.zeros(n, n)
    for i in range(n):
        for j in range(n):
            si, sj = i - p0, j - p0
            if 0 <= si < h * up and 0 <= sj < h * up:
                padded[i, j] = u[si, sj]
    kh = k.shape[0]
    m = n - kh + 1
    out = torch.zeros(m, m)
    for i in range(m):
        for j in range(m):
            # convolution: out[i, j] = sum_ab padded[i + a, j + b] * k[kh-1-a, kh-1-b]
            out[i, j] = (padded[i : i + kh, j : j + kh] * torch.flip(k, [0, 1])).sum()
    return out[::down, ::down]


@pytest.mark.parametrize(
    "up, down, pad", [(2, 1, (2, 1)), (1, 1, (1, 1)), (1, 2, (2, 2)), (1, 2, (1, 1)), (1, 1, (-1, 2))]
)
def test_upfirdn2d_matches_definition(up, down, pad):
    x = torch.randn(5, 5, generator=gen(0))
    k = torch.arange(1.0, 17.0).view(4, 4)  # asymmetric, so a flip error would show
    out = upfirdn2d(x.view(1, 1, 5, 5), k, up=up, down=down, pad=pad)
    torch.testing.assert_close(out[0, 0], _naive_upfirdn(x, k, up, down, pad))


def test_blur_kernels_as_rosinality_and_constant_preserving():
    outer = torch.tensor([1.0, 3, 3, 1])[:, None] * torch.tensor([1.0, 3, 3, 1])[None, :]
    torch.testing.assert_close(Upsample().kernel, outer / 64 * 4)
    torch.testing.assert_close(Blur(pad=(1, 1), upsample_factor=2).kernel, outer / 64 * 4)
    torch.testing.assert_close(Blur(pad=(2, 2)).kernel, outer / 64)
    up = Upsample()(torch.full((1, 2, 6, 6), 3.0))
    assert up.shape == (1, 2, 12, 12)
    torch.testing.assert_close(up[..., 2:-2, 2:-2], torch.full((1, 2, 8, 8), 3.0))


# ----------------------------------------------------------------------------- discriminator


def test_discriminator_shapes_and_gradients():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        d = Discriminator(size=32, channels=CH)
    x = torch.randn(4, 3, 32, 32, generator=gen(0), requires_grad=True)
    out = d(x)
    assert out.shape == (4, 1)
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in d.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    with pytest.raises(ValueError, match="discriminator input"):
        d(torch.randn(2, 1, 32, 32))


# ----------------------------------------------------------------------------- rosinality layout


def rosinality_generator_spec(size, style_dim, n_mlp, ch, img=3):
    """Key -> shape of rosinality's ``Generator.state_dict()``, written from reading its model.py.

    style = Sequential(PixelNorm, EqualLinear x n_mlp) -> style.{1..n}.{weight,bias};
    input = ConstantInput(ch[4]) -> input.input (1, c, 4, 4);
    StyledConv = conv: ModulatedConv2d (weight (1, out, in, k, k), modulation EqualLinear(style_dim, in),
    blur.kernel when upsampling), noise: NoiseInjection (weight (1,)), activate: FusedLeakyReLU (bias (out,));
    ToRGB = [upsample: Upsample (kernel)], conv: ModulatedConv2d(in, 3, 1), bias (1, 3, 1, 1);
    noises.noise_i (1, 1, 2^((i+5)//2), same) for i < 2 log2(size) - 3.
    """
    spec = {}
    for i in range(1, n_mlp + 1):
        spec[f"style.{i}.weight"] = (style_dim, style_dim)
        spec[f"style.{i}.bias"] = (style_dim,)

    def mod(prefix, cin, cout, k, up=False):
        spec[f"{prefix}.weight"] = (1, cout, cin, k, k)
        spec[f"{prefix}.modulation.weight"] = (cin, style_dim)
        spec[f"{prefix}.modulation.bias"] = (cin,)
        if up:
            spec[f"{prefix}.blur.kernel"] = (4, 4)

    def styled(prefix, cin, cout, up=False):
        mod(f"{prefix}.conv", cin, cout, 3, up)
        spec[f"{prefix}.noise.weight"] = (1,)
        spec[f"{prefix}.activate.bias"] = (cout,)

    def to_rgb(prefix, cin, up=True):
        mod(f"{prefix}.conv", cin, img, 1)
        spec[f"{prefix}.bias"] = (1, img, 1, 1)
        if up:
            spec[f"{prefix}.upsample.kernel"] = (4, 4)

    spec["input.input"] = (1, ch[4], 4, 4)
    styled("conv1", ch[4], ch[4])
    to_rgb("to_rgb1", ch[4], up=False)
    log_size = int(math.log2(size))
    cin = ch[4]
    for j, r in enumerate(range(3, log_size + 1)):
        cout = ch[2**r]
        styled(f"convs.{2 * j}", cin, cout, up=True)
        styled(f"convs.{2 * j + 1}", cout, cout)
        to_rgb(f"to_rgbs.{j}", cout)
        cin = cout
    for i in range((log_size - 2) * 2 + 1):
        r = 2 ** ((i + 5) // 2)
        spec[f"noises.noise_{i}"] = (1, 1, r, r)
    return spec


def rosinality_discriminator_spec(size, ch, img=3):
    """Key -> shape of rosinality's ``Discriminator.state_dict()``.

    convs = Sequential(ConvLayer(3, ch[size], 1), ResBlock ...); ConvLayer = Sequential([Blur], EqualConv2d
    (bias only when not activated), [FusedLeakyReLU]); ResBlock = conv1 ConvLayer(in, in, 3), conv2
    ConvLayer(in, out, 3, downsample), skip ConvLayer(in, out, 1, downsample, no activation, no bias);
    final_conv ConvLayer(c4 + 1, c4, 3); final_linear = Sequential(EqualLinear(c4*16, c4), EqualLinear(c4, 1)).
    """
    spec = {"convs.0.0.weight": (ch[size], img, 1, 1), "convs.0.1.bias": (ch[size],)}
    cin = ch[size]
    for n, r in enumerate(range(int(math.log2(size)), 2, -1), start=1):
        cout = ch[2 ** (r - 1)]
        spec[f"convs.{n}.conv1.0.weight"] = (cin, cin, 3, 3)
        spec[f"convs.{n}.conv1.1.bias"] = (cin,)
        spec[f"convs.{n}.conv2.0.kernel"] = (4, 4)
        spec[f"convs.{n}.conv2.1.weight"] = (cout, cin, 3, 3)
        spec[f"convs.{n}.conv2.2.bias"] = (cout,)
        spec[f"convs.{n}.skip.0.kernel"] = (4, 4)
        spec[f"convs.{n}.skip.1.weight"] = (cout, cin, 1, 1)
        cin = cout
    c4 = ch[4]
    spec.update(
        {
            "final_conv.0.weight": (c4, cin + 1, 3, 3),
            "final_conv.1.bias": (c4,),
            "final_linear.0.weight": (c4, c4 * 16),
            "final_linear.0.bias": (c4,),
            "final_linear.1.weight": (1, c4),
            "final_linear.1.bias": (1,),
        }
    )
    return spec


def _state_from_spec(spec, seed):
    g = gen(seed)
    return {k: torch.randn(*shape, generator=g) for k, shape in spec.items()}


def test_rosinality_state_dict_loads_strict():
    gspec = rosinality_generator_spec(32, D, 2, CH)
    dspec = rosinality_discriminator_spec(32, CH)
    # spot check of the spec: style 4 + input 1 + conv1 5 + to_rgb1 4 + 3 blocks x (6 + 5 + 5) + noises 7
    assert len(gspec) == 69 and len(dspec) == 2 + 3 * 7 + 6
    ckpt = {
        "g_ema": _state_from_spec(gspec, 0),
        "g": _state_from_spec(gspec, 1),
        "d": _state_from_spec(dspec, 2),
        "latent_avg": torch.randn(D, generator=gen(3)),
    }
    g, d = tiny_g(), Discriminator(size=32, channels=CH)
    assert {k: tuple(v.shape) for k, v in g.state_dict().items()} == gspec
    assert {k: tuple(v.shape) for k, v in d.state_dict().items()} == dspec
    latent_avg = load_rosinality_checkpoint(ckpt, generator=g, discriminator=d)
    torch.testing.assert_close(latent_avg, ckpt["latent_avg"])
    torch.testing.assert_close(g.state_dict()["convs.2.conv.weight"], ckpt["g_ema"]["convs.2.conv.weight"])
    torch.testing.assert_close(d.state_dict()["final_linear.1.weight"], ckpt["d"]["final_linear.1.weight"])
    load_rosinality_checkpoint(ckpt, generator=g, use_ema=False)
    torch.testing.assert_close(g.state_dict()["style.1.weight"], ckpt["g"]["style.1.weight"])
    # the loaded model runs (W+ input of rosinality's n_latent = 2 log2(size) - 2)
    assert g(torch.randn(1, 8, D), input_is_latent=True, randomize_noise=False).shape == (1, 3, 32, 32)


def test_rosinality_layout_of_paper_presets():
    # built on the meta device: shapes only, no memory; config-f sizes match the StyleGAN2 paper (30.0M / 29.0M)
    for size in (256, 1024):
        ch = channel_table(channel_multiplier=2)
        with torch.device("meta"):
            g, d = Generator(size=size), Discriminator(size=size)
        assert {k: tuple(v.shape) for k, v in g.state_dict().items()} == rosinality_generator_spec(size, 512, 8, ch)
        assert {k: tuple(v.shape) for k, v in d.state_dict().items()} == rosinality_discriminator_spec(size, ch)
    assert sum(p.numel() for p in g.parameters()) == 30_370_060
    assert sum(p.numel() for p in d.parameters()) == 29_012_513
    assert g.n_latent == 18


def test_checkpoint_errors_name_keys():
    gspec = rosinality_generator_spec(32, D, 2, CH)
    g = tiny_g()
    bad = _state_from_spec(gspec, 0)
    del bad["conv1.noise.weight"]
    bad["conv1.extra"] = torch.zeros(1)
    with pytest.raises(ValueError, match="missing keys \\[conv1.noise.weight\\].*unexpected keys \\[conv1.extra\\]"):
        load_rosinality_checkpoint({"g_ema": bad}, generator=g)
    wrong = _state_from_spec(rosinality_generator_spec(32, D, 2, CH, img=1), 0)
    msg = "shape mismatches .*to_rgb1.conv.weight: checkpoint \\(1, 1, 16, 1, 1\\) vs model \\(1, 3, 16, 1, 1\\)"
    with pytest.raises(ValueError, match=msg):
        load_rosinality_checkpoint({"g_ema": wrong}, generator=g)
    d = Discriminator(size=32, channels=CH)
    with pytest.raises(ValueError, match="no \\['d'\\]"):
        load_rosinality_checkpoint({"g_ema": _state_from_spec(gspec, 0)}, generator=g, discriminator=d)
    assert load_rosinality_checkpoint({"g_ema": _state_from_spec(gspec, 0)}, generator=g) is None


# ----------------------------------------------------------------------------- config


def test_channel_table_and_config_errors():
    assert channel_table() == {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128, 512: 64, 1024: 32}
    assert channel_table(channel_multiplier=1, divisor=4) == {
        4: 128, 8: 128, 16: 128, 32: 128, 64: 64, 128: 32, 256: 16, 512: 8, 1024: 4
    }
    assert channel_table(channel_max=64)[4] == 64
    with pytest.raises(ValueError, match="power of two"):
        Generator(size=48, style_dim=D, channels=CH)
    with pytest.raises(ValueError, match="power of two"):
        Discriminator(size=4, channels=CH)
    with pytest.raises(ValueError, match="lacks resolutions \\[64\\]"):
        Generator(size=64, style_dim=D, channels=CH)
