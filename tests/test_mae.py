import pytest
import torch

from genfer.config import (MAE_PRESETS, MAE_TABLE1_DECODERS, VIT_PRESETS, ConfigError, MAEConfig, ViTConfig,
                           from_dict, replace, to_dict)
from genfer.losses.mae import mae_loss, patch_stats
from genfer.models.mae import MAEDecoder, build_mae, num_kept, patchify, random_masking, unpatchify

# ----------------------------------------------------------------------------- patchify


def test_patchify_layout_by_hand():
    # 2 channels, 4x4, patch 2: channel 0 holds 0..15, channel 1 holds 100..115 (row-major)
    img = torch.stack([torch.arange(16.0).view(4, 4), 100 + torch.arange(16.0).view(4, 4)]).unsqueeze(0)
    p = patchify(img, 2)
    assert p.shape == (1, 4, 8)
    # patch 1 = top-right: pixels (0,2), (0,3), (1,2), (1,3); channels fastest
    assert p[0, 1].tolist() == [2, 102, 3, 103, 6, 106, 7, 107]
    # patch 2 = bottom-left: pixels (2,0), (2,1), (3,0), (3,1)
    assert p[0, 2].tolist() == [8, 108, 9, 109, 12, 112, 13, 113]


@pytest.mark.parametrize("c, h, w, p", [(1, 32, 32, 8), (3, 48, 48, 6), (3, 12, 20, 4)])
def test_patchify_unpatchify_round_trip(c, h, w, p):
    x = torch.randn(2, c, h, w)
    patches = patchify(x, p)
    assert patches.shape == (2, (h // p) * (w // p), p * p * c)
    grid = None if h == w else (h // p, w // p)
    torch.testing.assert_close(unpatchify(patches, p, grid=grid), x, rtol=0, atol=0)


def test_patchify_order_matches_patch_embedding_order():
    # a one-filter patch-embedding conv (like timm's PatchEmbed) that sums pixels that sums pixels must see patch n at token n
    x = torch.rand(1, 1, 32, 32)
    conv = torch.nn.functional.conv2d(x, torch.ones(1, 1, 8, 8), stride=8).flatten(2).transpose(1, 2)
    torch.testing.assert_close(conv[0, :, 0], patchify(x, 8)[0].sum(-1))


def test_unpatchify_errors():
    with pytest.raises(ValueError, match="square grid"):
        unpatchify(torch.zeros(1, 6, 4), 2)
    with pytest.raises(ValueError, match="multiple of patch_size"):
        unpatchify(torch.zeros(1, 4, 5), 2)

# ----------------------------------------------------------------------------- masking


def test_masking_with_explicit_noise_by_hand():
    # lowest noise first: shuffle = [1, 3, 0, 2]; keep 2 -> patches 1 and 3
    m = random_masking(1, 4, 0.5, noise=torch.tensor([[0.3, 0.1, 0.4, 0.2]]))
    assert m.ids_keep.tolist() == [[1, 3]]
    assert m.mask.tolist() == [[1.0, 0.0, 1.0, 0.0]]
    assert m.ids_restore.tolist() == [[2, 0, 3, 1]]  # argsort of [1, 3, 0, 2]


@pytest.mark.parametrize("n, ratio", [(16, 0.75), (64, 0.75), (196, 0.75), (49, 0.6), (10, 0.33)])
def test_masking_keeps_round_n_times_one_minus_r(n, ratio):
    g = torch.Generator().manual_seed(1)
    m = random_masking(5, n, ratio, generator=g)
    keep = round(n * (1 - ratio))
    assert m.ids_keep.shape == (5, keep)
    assert (m.mask.sum(1) == n - keep).all()
    assert (torch.gather(m.mask, 1, m.ids_keep) == 0).all()  # kept patches are the unmasked ones
    for row in m.ids_keep:  # distinct per sample
        assert len(set(row.tolist())) == keep


def test_restore_indices_invert_the_shuffle():
    g = torch.Generator().manual_seed(2)
    noise = torch.rand(4, 16, generator=g)
    m = random_masking(4, 16, 0.75, noise=noise)
    shuffle = torch.argsort(noise, dim=1)
    assert (torch.gather(shuffle, 1, m.ids_restore) == torch.arange(16)).all()
    assert (torch.gather(m.ids_restore, 1, shuffle) == torch.arange(16)).all()
    assert (m.ids_keep == shuffle[:, :4]).all()
    # per-sample: the rows differ
    assert len({tuple(r.tolist()) for r in m.ids_keep}) > 1


def test_masking_same_seed_same_mask_and_no_global_rng():
    a = random_masking(3, 64, 0.75, generator=torch.Generator().manual_seed(7))
    torch.manual_seed(123)  # the global RNG plays no part
    b = random_masking(3, 64, 0.75, generator=torch.Generator().manual_seed(7))
    c = random_masking(3, 64, 0.75, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a.mask, b.mask) and torch.equal(a.ids_restore, b.ids_restore)
    assert not torch.equal(a.mask, c.mask)
    with pytest.raises(ValueError, match="Generator"):
        random_masking(3, 64, 0.75)
    with pytest.raises(ValueError, match="mask_ratio"):
        num_kept(4, 0.9)

# ----------------------------------------------------------------------------- model


def _tiny_mae():
    torch.manual_seed(0)
    return build_mae(MAE_PRESETS["tiny"])


@pytest.mark.parametrize("name", ["tiny", "cpu"])
def test_mae_shapes(name):
    cfg = MAE_PRESETS[name]
    mae = build_mae(cfg)
    e = cfg.encoder
    n, keep = e.num_patches, round(e.num_patches * (1 - cfg.mask_ratio))
    x = torch.rand(2, e.in_chans, e.image_size, e.image_size) * 2 - 1
    out = mae(x, generator=torch.Generator().manual_seed(0))
    assert out.pred.shape == (2, n, e.patch_size**2 * e.in_chans)
    assert out.mask.shape == (2, n) and (out.mask.sum(1) == n - keep).all()
    assert out.ids_keep.shape == (2, keep) and out.ids_restore.shape == (2, n)
    assert out.latent.shape == (2, 1 + keep, e.embed_dim)
    assert mae.unpatchify(out.pred).shape == x.shape


def test_mae_is_deterministic_given_the_generator():
    mae = _tiny_mae().eval()
    x = torch.rand(2, 1, 32, 32)
    a = mae(x, generator=torch.Generator().manual_seed(3))
    b = mae(x, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a.pred, b.pred)
    assert torch.equal(a.mask, b.mask)
    with pytest.raises(ValueError, match="Generator"):
        mae(x)
    assert mae(x, generator=torch.Generator(), mask_ratio=0.5).ids_keep.shape == (2, 8)


def test_decoder_restore_puts_tokens_back_and_fills_mask_tokens():
    dec = MAEDecoder(grid_size=2, patch_size=2, in_chans=1, encoder_dim=6, decoder_dim=8, depth=1, num_heads=2)
    m = random_masking(1, 4, 0.5, noise=torch.tensor([[0.3, 0.1, 0.4, 0.2]]))  # keeps patches 1, 3
    latent = torch.randn(1, 3, 6)  # [CLS], patch 1, patch 3
    out = dec.restore(latent, m.ids_restore)
    emb = dec.embed(latent)
    pos = dec.pos_embed[0]
    torch.testing.assert_close(out[0, 0], emb[0, 0] + pos[0])  # [CLS]
    torch.testing.assert_close(out[0, 1 + 1], emb[0, 1] + pos[2])  # patch 1 is token 2
    torch.testing.assert_close(out[0, 1 + 3], emb[0, 2] + pos[4])  # patch 3
    for patch in (0, 2):
        torch.testing.assert_close(out[0, 1 + patch], dec.mask_token[0, 0] + pos[1 + patch])
    torch.testing.assert_close(dec.mask_queries(2)[1, 2], dec.mask_token[0, 0] + pos[3])
    assert dec(latent, m.ids_restore).shape == (1, 4, 4)


def test_one_training_step_at_tiny_scale():
    cfg = MAE_PRESETS["tiny"]
    mae = _tiny_mae()
    opt = torch.optim.AdamW(mae.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 1, 32, 32) * 2 - 1
    before = [p.detach().clone() for p in mae.parameters()]
    out = mae(x, generator=g)
    loss = mae_loss(out.pred, mae.patchify(x), out.mask, norm_pix=cfg.norm_pix)
    assert loss.ndim == 0 and torch.isfinite(loss)
    opt.zero_grad()
    loss.backward()
    grads = {n: p.grad for n, p in mae.named_parameters()}
    assert all(gr is not None and torch.isfinite(gr).all() for gr in grads.values()), \
        [n for n, gr in grads.items() if gr is None]
    assert grads["decoder.mask_token"].abs().sum() > 0 and grads["encoder.cls_token"].abs().sum() > 0
    opt.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, mae.parameters()))


def _count(module) -> float:
    return round(sum(p.numel() for p in module.parameters()) / 1e6, 2)


@pytest.mark.parametrize("name, enc, dec", [
    ("paper_vit_tiny", 5.34, 1.59), ("paper_vit_small", 21.29, 6.32), ("paper", 85.05, 25.22)])
def test_paper_presets_follow_table1(name, enc, dec):
    cfg = MAE_PRESETS[name]
    assert (cfg.encoder.image_size, cfg.encoder.patch_size, cfg.encoder.in_chans) == (224, 16, 3)
    assert (cfg.decoder_dim, cfg.decoder_depth, cfg.decoder_heads) == MAE_TABLE1_DECODERS[cfg.encoder.embed_dim]
    assert cfg.decoder_dim // cfg.decoder_heads == 32 and cfg.mask_ratio == 0.75 and cfg.norm_pix
    with torch.device("meta"):
        mae = build_mae(cfg)
    assert (_count(mae.encoder.blocks), _count(mae.decoder.blocks)) == (enc, dec)  # Table 1 #params


def test_paper_preset_shapes_at_224():
    cfg = MAE_PRESETS["paper"]
    assert cfg.encoder.embed_dim == 768 and cfg.decoder_dim == 512
    # full widths, 224 px, 3 channels; depth cut to keep the test cheap (structure checked above)
    small = replace(cfg, encoder=replace(cfg.encoder, depth=1), decoder_depth=1)
    mae = build_mae(small)
    x = torch.rand(1, 3, 224, 224) * 2 - 1
    with torch.no_grad():
        out = mae(x, generator=torch.Generator().manual_seed(0))
        tokens = mae.encoder.forward_features(x)
    assert out.pred.shape == (1, 196, 16 * 16 * 3)
    assert out.latent.shape == (1, 1 + 49, 768)
    assert int(out.mask.sum()) == 147
    assert tokens.shape == (1, 197, 768)
    assert mae.unpatchify(out.pred).shape == (1, 3, 224, 224)


def test_mae_config_validation_and_round_trip():
    enc = VIT_PRESETS["tiny"]
    with pytest.raises(ConfigError, match="mask_ratio"):
        MAEConfig(encoder=enc, decoder_dim=32, decoder_heads=2, mask_ratio=0.0)
    with pytest.raises(ConfigError, match="mask_ratio"):
        MAEConfig(encoder=enc, decoder_dim=32, decoder_heads=2, mask_ratio=1.0)
    with pytest.raises(ConfigError, match="keeps 0 of 16"):
        MAEConfig(encoder=enc, decoder_dim=32, decoder_heads=2, mask_ratio=0.99)
    with pytest.raises(ConfigError, match="divisible by mae.decoder_heads"):
        MAEConfig(encoder=enc, decoder_dim=32, decoder_heads=3)
    with pytest.raises(ConfigError, match="multiple of vit.patch_size"):
        MAEConfig(encoder=ViTConfig(image_size=48, patch_size=5))
    for cfg in MAE_PRESETS.values():
        assert from_dict(MAEConfig, to_dict(cfg)) == cfg
    cpu = MAE_PRESETS["cpu"]
    assert (cpu.encoder.image_size, cpu.encoder.in_chans, cpu.encoder.embed_dim) == (48, 1, 192)
    assert (cpu.decoder_dim, cpu.decoder_depth, cpu.decoder_heads) == MAE_TABLE1_DECODERS[192]

# ----------------------------------------------------------------------------- loss


# One 4x4 grayscale image, 2x2 patches (flattened row-major):
#   TL [0, 0, 0, 4]: mean 1, unbiased var (1+1+1+9)/3 = 4, std 2 -> normalised [-.5, -.5, -.5, 1.5]
#   TR [2, 0, 0, 0]: mean .5, var (2.25+.25*3)/3 = 1       -> normalised [1.5, -.5, -.5, -.5]
#   BL [3, 3, 3, 3]: var 0 -> (t - 3) / sqrt(1e-6) = [0, 0, 0, 0]
#   BR [1, 1, 1, 5]: like TL -> [-.5, -.5, -.5, 1.5]
IMAGE = torch.tensor([[0.0, 0.0, 2.0, 0.0],
                      [0.0, 4.0, 0.0, 0.0],
                      [3.0, 3.0, 1.0, 1.0],
                      [3.0, 3.0, 1.0, 5.0]]).view(1, 1, 4, 4)
PRED = torch.tensor([[[-0.5, -0.5, -0.5, 0.5],  # TL: errors [0, 0, 0, 1]
                      [9.0, 9.0, 9.0, 9.0],  # TR: visible, must not count
                      [0.0, 0.0, 0.0, 0.0],  # BL
                      [0.0, 0.0, 0.0, 0.0]]])  # BR
MASK = torch.tensor([[1.0, 0.0, 1.0, 1.0]])


def test_mae_loss_norm_pix_by_hand():
    target = patchify(IMAGE, 2)
    assert target[0].tolist() == [[0, 0, 0, 4], [2, 0, 0, 0], [3, 3, 3, 3], [1, 1, 1, 5]]
    # per masked patch: TL 1/4, BL 0, BR (.25*3 + 2.25)/4 = .75 -> (0.25 + 0 + 0.75) / 3
    loss = mae_loss(PRED, target, MASK, norm_pix=True)
    assert loss.item() == pytest.approx(1.0 / 3.0, abs=1e-6)  # eps 1e-6 changes it by < 1e-6


def test_mae_loss_raw_pixels_by_hand():
    # TL: (.25*3 + 3.5²)/4 = 13/4; BL: 9; BR: (1+1+1+25)/4 = 7 -> (3.25 + 9 + 7) / 3
    loss = mae_loss(PRED, patchify(IMAGE, 2), MASK, norm_pix=False)
    assert loss.item() == pytest.approx(19.25 / 3.0, abs=1e-6)


def test_mae_loss_only_masked_patches_count_and_stats():
    target = patchify(IMAGE, 2)
    other = PRED.clone()
    other[0, 1] = -100.0  # visible patch: no effect
    assert mae_loss(other, target, MASK).item() == pytest.approx(mae_loss(PRED, target, MASK).item())
    assert mae_loss(PRED, target, torch.zeros(1, 4)).item() == 0.0
    mean, std = patch_stats(target)
    assert mean[0, :, 0].tolist() == [1.0, 0.5, 3.0, 2.0]
    torch.testing.assert_close(std[0, :, 0], torch.tensor([2.0, 1.0, 1e-3, 2.0]), atol=1e-6, rtol=0)
    # eps exactly as MAE: a constant patch normalises to 0 instead of NaN
    assert torch.isfinite(mae_loss(PRED, torch.full_like(target, 3.0), MASK))
    with pytest.raises(ValueError, match="mask"):
        mae_loss(PRED, target, MASK[:, :3])
