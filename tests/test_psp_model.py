"""pSp encoder: shapes, the coarse/medium/fine split, offsets from the average latent, PSp wrapper, presets."""

import pytest
import torch

from genfer.config import PSP_PRESETS, STYLEGAN2_PRESETS, ConfigError, apply_overrides
from genfer.models.psp import (
    GradualStyleBlock,
    GradualStyleEncoder,
    InversionEncoder,
    InversionOutput,
    PSp,
    SEModule,
    build_psp_encoder,
)
from genfer.models.stylegan2 import build_discriminator, build_generator, channel_table

pytestmark = pytest.mark.usefixtures("one_thread")  # these tests run on one thread (fixture: conftest.py)


def tiny_encoder(**kw) -> GradualStyleEncoder:
    torch.manual_seed(0)
    args = dict(in_channels=1, input_size=32, n_latent=8, style_dim=16, stage_channels=(8, 8, 12, 16),
                stage_blocks=(1, 2, 1, 1), se=True, coarse_end=3, medium_end=6)
    return GradualStyleEncoder(**(args | kw)).eval()


def test_encoder_shapes_levels_and_heads():
    enc = tiny_encoder()
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    coarse, medium, fine = enc.pyramid(x)
    assert coarse.shape == (2, 16, 2, 2) and medium.shape == (2, 16, 4, 4) and fine.shape == (2, 16, 8, 8)
    assert [enc.level(i) for i in range(8)] == [0, 0, 0, 1, 1, 1, 2, 2]
    # one map2style head per W+ entry, with log2(side) stride-2 convs
    convs = [sum(isinstance(m, torch.nn.Conv2d) for m in head.convs) for head in enc.styles]
    assert convs == [1, 1, 1, 2, 2, 2, 3, 3]
    assert enc(x).shape == (2, 8, 16)
    with pytest.raises(ValueError, match="expects images"):
        enc(torch.rand(2, 3, 32, 32))


def test_codes_are_offsets_from_the_average_latent():
    enc = tiny_encoder()
    avg = torch.arange(16.0)
    enc.set_latent_avg(avg.view(1, 16))
    with torch.no_grad():
        for head in enc.styles:  # zero offsets
            head.linear.weight.zero_(), head.linear.bias.zero_()
    torch.testing.assert_close(enc(torch.rand(3, 1, 32, 32)), avg.expand(3, 8, 16))
    assert enc.encode(torch.rand(1, 1, 32, 32)).structure is None  # pSp predicts no structure code


def test_each_head_reads_only_its_level():
    enc = tiny_encoder()
    x = torch.rand(1, 1, 32, 32, requires_grad=True)
    grads = []
    for i in (0, 7):
        levels = enc.pyramid(x)
        out = enc.styles[i](levels[enc.level(i)]).sum()
        grads.append(torch.autograd.grad(out, enc.latlayer2.weight, allow_unused=True)[0])
    assert grads[0] is None  # coarse heads read stage 4 only (no lateral of stage 2)
    assert grads[1] is not None and grads[1].abs().sum() > 0


def test_map2style_and_se_blocks():
    block = GradualStyleBlock(in_channels=4, out_channels=6, spatial=1)  # a 1x1 level still gets one conv
    assert block(torch.rand(2, 4, 1, 1)).shape == (2, 6)
    se = SEModule(channels=4, reduction=16)  # hidden width floors at 1
    assert se.fc1.weight.shape == (1, 4, 1, 1)
    x = torch.rand(1, 4, 3, 3)
    with torch.no_grad():
        se.fc1.weight.fill_(1.0)  # hidden = relu(sum of channel means) > 0
        se.fc2.weight.copy_(torch.tensor([0.0, 0.0, -100.0, 100.0]).view(4, 1, 1, 1))
    out = se(x)  # gates sigmoid(0) = 0.5, 0.5, ~0, ~1
    torch.testing.assert_close(out[:, :2], x[:, :2] / 2)
    assert out[:, 2].abs().max() < 1e-6
    torch.testing.assert_close(out[:, 3], x[:, 3])


def test_base_interface_forward_returns_encode_wplus():
    class Const(InversionEncoder):
        structure_channels = 16

        def encode(self, x):
            return InversionOutput(wplus=self.latent_avg.expand(x.shape[0], self.n_latent, -1),
                                   structure=torch.ones(x.shape[0], 16, 4, 4))

    enc = Const(in_channels=1, input_size=16, n_latent=6, style_dim=16)
    g = build_generator(STYLEGAN2_PRESETS["tiny"].model)
    out = PSp(encoder=enc, decoder=g)(torch.zeros(2, 1, 16, 16))
    assert out.image.shape == (2, 1, 16, 16) and out.structure.shape == (2, 16, 4, 4)
    assert enc(torch.zeros(2, 1, 16, 16)).shape == (2, 6, 16)
    with pytest.raises(ValueError, match="encoder predicts"):
        PSp(encoder=Const(in_channels=1, input_size=16, n_latent=5, style_dim=16), decoder=g)


def test_psp_reconstructs_at_the_generator_resolution():
    cfg = PSP_PRESETS["tiny"]
    torch.manual_seed(0)
    psp = PSp(encoder=build_psp_encoder(cfg.encoder, cfg.stylegan2), decoder=build_generator(cfg.stylegan2)).eval()
    out = psp(torch.rand(2, 1, 16, 16) * 2 - 1)
    assert out.image.shape == (2, 1, 16, 16) and out.wplus.shape == (2, 6, 16)
    again = psp(torch.rand(2, 1, 16, 16))  # fixed noise maps: deterministic for a given code
    torch.testing.assert_close(psp.decoder.synthesis(again.wplus, randomize_noise=False), again.image)


def test_cpu_and_paper_presets_shapes():
    cpu = STYLEGAN2_PRESETS["cpu"].model
    g, d = build_generator(cpu), build_discriminator(cpu)
    assert g.channels == {4: 128, 8: 128, 16: 64, 32: 32, 64: 16} and g.n_latent == cpu.n_latent == 10
    with torch.no_grad():
        img = g(torch.randn(1, 128), randomize_noise=False)
    assert img.shape == (1, 1, 64, 64) and d(img).shape == (1, 1)
    enc = build_psp_encoder(PSP_PRESETS["cpu"].encoder, cpu).eval()
    with torch.no_grad():
        assert enc(img).shape == (1, 10, 128)
    # paper presets: rosinality's config-f table, RGB; shapes only (no forward pass)
    for name, size, n_latent in (("paper", 256, 14), ("paper_1024", 1024, 18)):
        m = STYLEGAN2_PRESETS[name].model
        assert (m.resolution, m.img_channels, m.style_dim, m.n_mlp, m.n_latent) == (size, 3, 512, 8, n_latent)
        table = channel_table(channel_multiplier=2)
        assert {r: table[r] for r in (4, size)} == {4: 512, size: table[size]}
        p = PSP_PRESETS[name]
        assert p.stylegan2 == m and (p.batch_size, p.lr, p.optimizer) == (8, 1e-4, "ranger")
        assert tuple(p.encoder.stage_blocks) == (3, 4, 14, 3) and (p.encoder.coarse_end, p.encoder.medium_end) == (3, 7)
    assert PSP_PRESETS["paper_1024"].encoder.input_size == 256


def test_psp_config_errors():
    with pytest.raises(ConfigError, match="medium_end"):
        apply_overrides(PSP_PRESETS["tiny"], ["encoder.medium_end=6"])
    with pytest.raises(ConfigError, match="lpips_weights"):
        apply_overrides(PSP_PRESETS["tiny"], ["loss.lpips_net=alex"])
    with pytest.raises(ConfigError, match="optimizer"):
        apply_overrides(PSP_PRESETS["tiny"], ["optimizer=sgd"])
