"""ASIT / IFER equations against hand-computed values (IID's cosine output and least-squares targets, the momentum
update, DAL on a 3-image batch, the feature modulation module on a tiny input) and the models' shapes."""

import math

import pytest
import torch
from torch import nn

from genfer.config import ASIT_PRESETS, ConfigError, IFERModelConfig, apply_overrides
from genfer.losses.asit import (
    IID_FAKE,
    IID_REAL,
    dal_loss,
    iid_d_loss,
    iid_e_loss,
    similarity_log_distribution,
)
from genfer.models.asit import (
    ASITEncoder,
    WindowAttentionBranch,
    build_asit_encoder,
    gcvit_attention_maps,
    resize_map,
)
from genfer.models.ifer import FeatureModulationHead, build_ifer
from genfer.models.iid import (
    InversionDiscriminator,
    momentum_update,
    unbalanced_augment,
)

# ----------------------------------------------------------------------------- IID (Eqs. 1 and 3)


def _iid_with_weights(q, k) -> InversionDiscriminator:
    """m_q / m_k = 2×1 (vertical) convolutions 1 -> 2 channels, weights[c] = (row-0 tap, row-1 tap) of channel c;
    φ_q without shift/colour changes."""
    iid = InversionDiscriminator(features=nn.Conv2d(1, 2, (2, 1), bias=False), shift=0.0, brightness=0.0,
                                 contrast=0.0)
    with torch.no_grad():
        iid.m_q.weight.copy_(torch.tensor(q).reshape(2, 1, 2, 1))
        iid.m_k.weight.copy_(torch.tensor(k).reshape(2, 1, 2, 1))
    return iid


def test_iid_output_is_the_cosine_of_m_q_on_the_judged_and_m_k_on_the_reference():
    # 2×2 images constant along rows (flip-invariant, so φ's random flip changes nothing): rows (r0, r1)
    u = torch.tensor([[[[1.0, 1.0], [2.0, 2.0]]], [[[0.0, 0.0], [3.0, 3.0]]]])
    x = torch.tensor([[[[1.0, 1.0], [1.0, 1.0]]], [[[2.0, 2.0], [-1.0, -1.0]]]])
    # m_q(img) = (r0, r1) per column; m_k(img) = (r0 + r1, r1) per column (both columns equal)
    iid = _iid_with_weights(q=[[1.0, 0.0], [0.0, 1.0]], k=[[1.0, 1.0], [0.0, 1.0]])
    d = iid(u, x, torch.Generator().manual_seed(0))
    # image 0: m_q(u) = (1, 2), m_k(x) = (2, 1): cos = 4 / 5 = 0.8
    # image 1: m_q(u) = (0, 3), m_k(x) = (1, −1): cos = −3 / (3·sqrt2) = −0.7071
    torch.testing.assert_close(d, torch.tensor([0.8, -1 / math.sqrt(2)]))
    # swapping the roles changes the output: m_q sees the judged image, m_k the reference
    # image 0 swapped: m_q(x) = (1, 1), m_k(u) = (3, 2): cos = 5 / (sqrt2·sqrt13) = 0.9806
    d_swapped = iid(x, u, torch.Generator().manual_seed(0))
    assert d_swapped[0].item() == pytest.approx(5 / math.sqrt(26), rel=1e-6)


def test_iid_same_image_with_equal_encoders_gives_one():
    w = [[1.0, 2.0], [0.5, -1.0]]
    iid = _iid_with_weights(q=w, k=w)
    x = torch.tensor([[[[1.0, 1.0], [2.0, 2.0]]]])
    torch.testing.assert_close(iid(x, x, torch.Generator().manual_seed(0)), torch.tensor([1.0]))


def test_iid_reference_side_gets_no_gradient_and_judged_side_does():
    iid = _iid_with_weights(q=[[1.0, 2.0], [0.0, 1.0]], k=[[0.5, -1.0], [1.0, 1.0]])
    u = torch.randn(2, 1, 4, 4, requires_grad=True)
    x = torch.randn(2, 1, 4, 4, requires_grad=True)
    iid(u, x, torch.Generator().manual_seed(0)).sum().backward()
    assert u.grad is not None and u.grad.abs().sum() > 0
    assert x.grad is None
    assert iid.m_q.weight.grad is not None and iid.m_k.weight.grad is None
    assert not any(p.requires_grad for p in iid.m_k.parameters())


def test_lsgan_targets_and_losses():
    assert (IID_REAL, IID_FAKE) == (1.0, -1.0)
    d_same, d_inv = torch.tensor([0.5, 1.0]), torch.tensor([-0.5, 0.2])
    # D: mean((0.5−1)² + (−0.5+1)², (1−1)² + (0.2+1)²) = mean(0.5, 1.44) = 0.97
    assert iid_d_loss(d_same, d_inv).item() == pytest.approx(0.97)
    # E: mean((−0.5−1)², (0.2−1)²) = mean(2.25, 0.64) = 1.445
    assert iid_e_loss(d_inv).item() == pytest.approx(1.445)
    # at the targets both are zero
    assert iid_d_loss(torch.ones(3), -torch.ones(3)).item() == 0.0
    assert iid_e_loss(torch.ones(3)).item() == 0.0


def test_momentum_update_by_hand():
    k, q = nn.Linear(1, 1), nn.Linear(1, 1)
    with torch.no_grad():
        k.weight.fill_(2.0), k.bias.fill_(-1.0), q.weight.fill_(4.0), q.bias.fill_(1.0)
    momentum_update(k, q, 0.9)
    # θ_k = 0.9·θ_k + 0.1·θ_q: 0.9·2 + 0.1·4 = 2.2; 0.9·(−1) + 0.1·1 = −0.8
    assert k.weight.item() == pytest.approx(2.2) and k.bias.item() == pytest.approx(-0.8)
    assert q.weight.item() == 4.0  # the source is untouched
    iid = _iid_with_weights(q=[[4.0, 0.0], [1.0, 1.0]], k=[[2.0, 1.0], [1.0, 1.0]])
    iid.momentum_update(0.75)
    want = [0.75 * 2 + 0.25 * 4, 0.75 * 1 + 0.25 * 0, 1.0, 1.0]
    torch.testing.assert_close(iid.m_k.weight.flatten(), torch.tensor(want))


def test_unbalanced_augmentation_reference_side_is_only_a_flip():
    x = torch.arange(2 * 16, dtype=torch.float32).reshape(2, 1, 4, 4)
    out = unbalanced_augment(x, torch.Generator().manual_seed(3))
    for i in range(2):
        assert torch.equal(out[i], x[i]) or torch.equal(out[i], x[i].flip(-1))
    strong = unbalanced_augment(x, torch.Generator().manual_seed(3), shift=0.25, brightness=0.5, contrast=0.5)
    assert strong.shape == x.shape and not torch.equal(strong, out)


# ----------------------------------------------------------------------------- DAL (Eq. 4)


def _kl(p: list[float], q: list[float]) -> float:
    return sum(a * math.log(a / b) for a, b in zip(p, q))


def test_dal_on_a_three_image_batch_by_hand():
    e = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    g = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    # encoder dot products: e0·e1 = 0, e0·e2 = 1, e1·e2 = 1
    # rows: a=0 over (1, 2): softmax(0, 1); a=1 over (0, 2): softmax(0, 1); a=2 over (0, 1): softmax(1, 1)
    p = 1 / (1 + math.e)
    rows_e = [[p, 1 - p], [p, 1 - p], [0.5, 0.5]]
    # generator: every dot product is 0 -> uniform rows
    rows_g = [[0.5, 0.5]] * 3
    want = sum(_kl(a, b) for a, b in zip(rows_e, rows_g)) / 3
    got = dal_loss([e], [g], normalize=False)
    assert got.item() == pytest.approx(want, rel=1e-6)
    assert want > 0.05
    # summed over layers
    assert dal_loss([e, e], [g, g], normalize=False).item() == pytest.approx(2 * want, rel=1e-6)
    # D_KL(E‖G), not D_KL(G‖E)
    reverse = sum(_kl(b, a) for a, b in zip(rows_e, rows_g)) / 3
    assert abs(want - reverse) > 1e-3
    # identical distributions: zero
    assert dal_loss([e], [e.clone()], normalize=False).item() == pytest.approx(0.0, abs=1e-7)


def test_dal_normalized_uses_cosines_and_kl_direction():
    e = torch.tensor([[3.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    g = torch.tensor([[1.0, 0.0], [2.0, 1.0], [0.0, 3.0]])
    c, r = 1 / math.sqrt(2), 1 / math.sqrt(5)
    def softmax(a, b):
        return [math.exp(a) / (math.exp(a) + math.exp(b)), math.exp(b) / (math.exp(a) + math.exp(b))]
    # encoder cosines: (0,1) 0, (0,2) c, (1,2) c; generator cosines: (0,1) 2r, (0,2) 0, (1,2) r
    rows_e = [softmax(0, c), softmax(0, c), softmax(c, c)]
    rows_g = [softmax(2 * r, 0), softmax(2 * r, r), softmax(0, r)]
    want = sum(_kl(a, b) for a, b in zip(rows_e, rows_g)) / 3
    assert dal_loss([e], [g]).item() == pytest.approx(want, rel=1e-6)
    reverse = sum(_kl(b, a) for a, b in zip(rows_e, rows_g)) / 3
    assert abs(want - reverse) > 1e-4  # D_KL(E‖G), not D_KL(G‖E)


def test_dal_teacher_side_is_detached_and_maps_are_flattened():
    e = torch.randn(3, 2, 2, 2, requires_grad=True)
    g = torch.randn(3, 5, 2, 2, requires_grad=True)
    dal_loss([e], [g]).backward()
    assert e.grad is not None and e.grad.abs().sum() > 0 and g.grad is None
    log_p = similarity_log_distribution(torch.randn(4, 3, 2, 2))
    assert log_p.shape == (4, 3)
    torch.testing.assert_close(log_p.exp().sum(1), torch.ones(4))


# ----------------------------------------------------------------------------- feature modulation (Fig. 7)


def test_feature_modulation_module_by_hand():
    head = FeatureModulationHead(n_latent=2, style_dim=1, map_channels=2, num_classes=2, fusion="modulation",
                                 mlp_dim=1, mlp_layers=1, conv_channels=1)
    with torch.no_grad():
        head.mlps[0][0].weight.fill_(1.0), head.mlps[0][0].bias.fill_(0.0)
        head.mlps[1][0].weight.fill_(2.0), head.mlps[1][0].bias.fill_(0.0)
        head.conv.modulation.weight.copy_(torch.tensor([[1.0], [2.0]]))  # A: scale 1/sqrt(1)
        head.conv.modulation.bias.zero_()
        head.conv.weight.zero_()
        head.conv.weight[0, 0, :, 1, 1] = 1.0  # centre taps only
        head.act.bias.zero_()
        head.classifier.weight.copy_(torch.tensor([[1.0], [-1.0]]))
        head.classifier.bias.zero_()
    latents = torch.tensor([[[0.5], [1.0]]])  # MLP sum: 1·0.5 + 2·1 = 2.5
    fmap = torch.ones(1, 2, 4, 4)
    fmap[0, 1] = 2.0
    # styles s = A(2.5) = (2.5, 5); demodulated centre weights (s1, s2)/sqrt(s1² + s2²) = (0.4472, 0.8944)
    # conv output 0.4472·1 + 0.8944·2 = 2.2361 at every pixel; leaky ReLU (positive) × sqrt2 = 3.1623; mean pool
    out = 2.5 / math.sqrt(31.25) * 1 + 5 / math.sqrt(31.25) * 2
    feat = out * math.sqrt(2)
    logits = head(latents, fmap)
    torch.testing.assert_close(logits, torch.tensor([[feat, -feat]]))
    # the latent codes matter through the styles: another code, another output
    other = head(torch.tensor([[[2.0], [0.0]]]), fmap)  # sum 2 -> styles (2, 4): same direction, same output
    torch.testing.assert_close(other, logits)
    other = head(torch.tensor([[[-1.0], [1.0]]]), fmap)  # sum 1 -> (1, 2): same ratio again
    torch.testing.assert_close(other, logits)


def test_feature_modulation_ablations_read_what_they_say():
    latents, fmap = torch.randn(2, 3, 4), torch.randn(2, 5, 4, 4)
    for fusion in ("modulation", "latent", "structure"):
        head = FeatureModulationHead(n_latent=3, style_dim=4, map_channels=5, num_classes=7, fusion=fusion,
                                     mlp_dim=6, conv_channels=8)
        out = head(latents, fmap)
        assert out.shape == (2, 7)
        changed_map = head(latents, fmap + 1.0)
        changed_codes = head(latents * 3, fmap)
        assert torch.allclose(out, changed_map) == (fusion == "latent")
        assert torch.allclose(out, changed_codes) == (fusion == "structure")


# ----------------------------------------------------------------------------- encoder


def test_window_branch_goes_local_to_global():
    branch = WindowAttentionBranch(dim=8, side=16, window=4, num_heads=2, style_dim=5)
    assert branch.sides == (16, 8, 4) and branch.window == 4
    assert [blk.window_size for blk in branch.blocks] == [(4, 4)] * 3
    assert [blk.num_windows for blk in branch.blocks] == [16, 4, 1]  # the last block sees the whole map
    assert branch(torch.randn(2, 8, 16, 16)).shape == (2, 5)
    clipped = WindowAttentionBranch(dim=8, side=4, window=8, num_heads=2, style_dim=5)
    assert clipped.sides == (4,) and clipped.window == 4
    with pytest.raises(ValueError, match="powers of two"):
        WindowAttentionBranch(dim=8, side=12, window=4, num_heads=2, style_dim=5)


def test_asit_encoder_shapes_structure_and_branch_windows():
    cfg = ASIT_PRESETS["tiny"]
    enc = build_asit_encoder(cfg.encoder, cfg.stylegan2)
    assert isinstance(enc, ASITEncoder)
    assert enc.stage_sides == (8, 4, 2) and enc.level_sides == (2, 4, 8)
    x = torch.randn(3, 1, 32, 32)
    feats = enc.analyse(x)
    assert feats.code.wplus.shape == (3, cfg.stylegan2.n_latent, cfg.stylegan2.style_dim)
    assert feats.code.structure.shape == (3, 16, 4, 4)
    # fine entries (index >= medium_end) cycle through the windows (2, 4) on their 8 px level
    assert [enc.styles[i].window for i in range(5, 8)] == [2, 4, 2]
    # untrained: the structure code is the generator's constant (the head starts at zero)
    base = torch.randn(1, 16, 4, 4)
    enc.set_structure_base(base)
    torch.testing.assert_close(enc.encode(x).structure, base.expand(3, -1, -1, -1))
    conv = build_asit_encoder(apply_overrides(cfg, ["encoder.branch=conv"]).encoder, cfg.stylegan2)
    assert conv.encode(x).wplus.shape == feats.code.wplus.shape
    assert type(conv.styles[0]).__name__ == "GradualStyleBlock"


def test_attention_maps_are_per_position_and_scaled():
    cfg = ASIT_PRESETS["tiny"]
    enc = build_asit_encoder(cfg.encoder, cfg.stylegan2)
    maps = gcvit_attention_maps(enc.backbone, torch.randn(2, 1, 32, 32), stage=0)
    assert maps.shape == (2, 8, 8)
    assert torch.allclose(maps.flatten(1).min(1).values, torch.zeros(2))
    assert torch.allclose(maps.flatten(1).max(1).values, torch.ones(2))


def test_ifer_on_asit_and_configs():
    cfg = ASIT_PRESETS["tiny"]
    enc = build_asit_encoder(cfg.encoder, cfg.stylegan2)
    for fer_map in ("structure", "middle"):
        model = build_ifer(IFERModelConfig(num_classes=3, mlp_dim=4, conv_channels=4, fer_map=fer_map), enc)
        assert model(torch.randn(2, 1, 32, 32)).shape == (2, 3) and model.num_classes == 3
    # Table 5a's maps: the structure code itself, or the middle pyramid level (of coarse 2, medium 4, fine 8 px)
    from genfer.models.ifer import fer_inputs

    x = torch.randn(2, 1, 32, 32)
    feats = enc.eval().analyse(x)
    _, structure = fer_inputs(enc, x, "structure")
    _, middle = fer_inputs(enc, x, "middle")
    torch.testing.assert_close(structure, feats.code.structure)
    assert [level.shape[-1] for level in feats.levels] == [2, 4, 8] and middle.shape == (2, 8, 4, 4)
    torch.testing.assert_close(middle, feats.levels[1])
    assert not torch.allclose(middle, resize_map(feats.levels[0], 4))
    with pytest.raises(ConfigError, match="batch_size must be >= 3"):
        apply_overrides(cfg, ["batch_size=2"])
    with pytest.raises(ConfigError, match="adversary.kind"):
        apply_overrides(cfg, ["adversary.kind=patch"])
    with pytest.raises(ConfigError, match="window"):
        apply_overrides(cfg, ["encoder.branch=swin"])


def test_psp_fer_reads_the_same_codes_as_the_psp_encoder():
    from genfer.config import PSP_PRESETS
    from genfer.models.ifer import fer_inputs
    from genfer.models.psp import build_psp_encoder

    cfg = PSP_PRESETS["tiny"]
    enc = build_psp_encoder(cfg.encoder, cfg.stylegan2).eval()
    enc.set_latent_avg(torch.randn(cfg.stylegan2.style_dim))
    x = torch.randn(2, 1, 16, 16)
    latents, fmap = fer_inputs(enc, x, "structure")
    torch.testing.assert_close(latents, enc.encode(x).wplus - enc.latent_avg)
    coarse, medium, _ = enc.pyramid(x)  # pSp's stand-in for the structure code: its coarsest level at 4×4
    torch.testing.assert_close(fmap, resize_map(coarse, 4))
    torch.testing.assert_close(fer_inputs(enc, x, "middle")[1], resize_map(medium, 4))
    assert not torch.allclose(resize_map(medium, 4), resize_map(coarse, 4))
    model = build_ifer(IFERModelConfig(num_classes=8, mlp_dim=4, conv_channels=4, fer_map="middle"), enc)
    assert model(x).shape == (2, 8)
