import math

import pytest
import torch

from genfer.config import VIT_PRESETS, ConfigError, ViTConfig, from_dict, to_dict
from genfer.models.vit import (ViT, build_vit, sincos_pos_embed_1d, sincos_pos_embed_2d, vit_base, vit_config,
                               vit_small, vit_tiny)


def test_sincos_1d_hand_values():
    # dim 4 -> omega = [1/10000^0, 1/10000^(2/4)] = [1, 0.01]; e(p) = [sin p, sin 0.01p, cos p, cos 0.01p]
    e = sincos_pos_embed_1d(4, torch.tensor([0.0, 1.0, 2.0]))
    expected = torch.tensor([
        [0.0, 0.0, 1.0, 1.0],
        [0.8414709848, 0.0099998333, 0.5403023059, 0.9999500004],
        [0.9092974268, 0.0199986667, -0.4161468365, 0.9998000067],
    ])
    torch.testing.assert_close(e, expected, atol=1e-7, rtol=0)


def test_sincos_2d_on_a_2x2_grid_by_hand():
    # D = 8: 4 channels for the column x, 4 for the row y, each [sin(t), sin(t/100), cos(t), cos(t/100)].
    s1, s01, c1, c01 = 0.8414709848, 0.0099998333, 0.5403023059, 0.9999500004
    zero = [0.0, 0.0, 1.0, 1.0]  # t = 0
    one = [s1, s01, c1, c01]  # t = 1
    expected = torch.tensor([
        [0.0] * 8,  # [CLS] slot
        zero + zero,  # patch 0: row 0, col 0
        one + zero,  # patch 1: row 0, col 1
        zero + one,  # patch 2: row 1, col 0
        one + one,  # patch 3: row 1, col 1
    ])
    e = sincos_pos_embed_2d(8, 2, cls_token=True)
    torch.testing.assert_close(e, expected, atol=1e-7, rtol=0)
    torch.testing.assert_close(sincos_pos_embed_2d(8, (2, 2)), expected[1:])


def test_sincos_2d_rectangular_grid_and_bad_dim():
    e = sincos_pos_embed_2d(8, (2, 3))  # 2 rows, 3 columns, row-major
    assert e.shape == (6, 8)
    assert e[4, 0].item() == pytest.approx(math.sin(1.0), abs=1e-7)  # patch 4 = row 1, col 1
    assert e[5, 0].item() == pytest.approx(math.sin(2.0), abs=1e-7)  # patch 5 = row 1, col 2
    assert e[5, 4].item() == pytest.approx(math.sin(1.0), abs=1e-7)
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_pos_embed_2d(6, 2)


def _tiny(**overrides) -> ViT:
    torch.manual_seed(0)
    return build_vit(vit_config("tiny", **overrides), num_classes=7)


@pytest.mark.parametrize("in_chans", [1, 3])
def test_tiny_vit_shapes(in_chans):
    vit = _tiny(in_chans=in_chans).eval()
    x = torch.rand(3, in_chans, 32, 32) * 2 - 1
    tokens = vit.forward_features(x)
    assert tokens.shape == (3, 1 + 16, 32)
    assert vit.forward_head(tokens).shape == (3, 7)
    assert vit.forward_head(tokens, pre_logits=True).shape == (3, 32)
    assert vit(x).shape == (3, 7)
    # tokens are LayerNorm-ed: zero mean, unit variance per token
    torch.testing.assert_close(tokens.mean(-1), torch.zeros(3, 17), atol=1e-5, rtol=0)


def test_cpu_vit_shapes():
    cfg = VIT_PRESETS["cpu"]
    vit = build_vit(cfg, num_classes=8)
    x = torch.rand(2, cfg.in_chans, cfg.image_size, cfg.image_size) * 2 - 1
    tokens = vit.forward_features(x)
    assert tokens.shape == (2, 1 + cfg.num_patches, cfg.embed_dim)
    assert vit.forward_head(tokens).shape == (2, 8)


def test_forward_masked_with_all_patches_in_order_equals_forward_features():
    vit = _tiny().eval()
    x = torch.rand(2, 1, 32, 32)
    keep = torch.arange(16).expand(2, -1)
    torch.testing.assert_close(vit.forward_masked(x, keep), vit.forward_features(x))


def test_forward_masked_encodes_only_kept_patches():
    vit = _tiny().eval()
    x = torch.rand(2, 1, 32, 32)
    keep = torch.tensor([[3, 0, 9, 15], [1, 2, 3, 4]])
    out = vit.forward_masked(x, keep)
    assert out.shape == (2, 1 + 4, 32)
    # changing a patch that image 0 drops (patch 5 = rows 8..15, cols 8..15) leaves its tokens unchanged
    x2 = x.clone()
    x2[0, :, 8:16, 8:16] = 0.5
    torch.testing.assert_close(vit.forward_masked(x2, keep)[0], out[0])
    with pytest.raises(ValueError, match="keep_index"):
        vit.forward_masked(x, keep[0])


def test_position_embedding_is_fixed_and_not_saved():
    vit = _tiny()
    assert "pos_embed" not in dict(vit.named_parameters())
    assert not any("pos_embed" in k for k in vit.state_dict())
    torch.testing.assert_close(vit.pos_embed[0], sincos_pos_embed_2d(32, 4, cls_token=True))
    assert vit.pos_embed[0, 0].abs().sum() == 0  # the [CLS] slot is zeros


def test_reset_head_and_no_head():
    vit = _tiny()
    vit.reset_head(3)
    assert vit(torch.rand(1, 1, 32, 32)).shape == (1, 3)
    vit.reset_head(0)
    assert vit(torch.rand(1, 1, 32, 32)).shape == (1, 32)


def _block_params(vit: ViT) -> int:
    return sum(p.numel() for p in vit.blocks.parameters())


@pytest.mark.parametrize("make, dim, heads, millions", [
    (vit_tiny, 192, 3, 5.34), (vit_small, 384, 6, 21.29), (vit_base, 768, 12, 85.05)])
def test_paper_sizes_match_table1(make, dim, heads, millions):
    with torch.device("meta"):  # structure only, no memory
        vit = make()
    assert (vit.embed_dim, len(vit.blocks), vit.blocks[0].attn.num_heads, vit.patch_size) == (dim, 12, heads, 16)
    assert dim // heads == 64
    # Table 1's #params are those of the 12 transformer blocks
    assert round(_block_params(vit) / 1e6, 2) == millions


def test_vit_config_overrides_and_validation():
    assert vit_config("vit_base", in_chans=1).in_chans == 1
    with pytest.raises(ConfigError, match="unknown ViT config field"):
        vit_config("vit_base", width=3)
    with pytest.raises(ConfigError, match="unknown preset"):
        vit_config("huge")
    with pytest.raises(ConfigError, match="multiple of vit.patch_size"):
        ViTConfig(image_size=50, patch_size=16)
    with pytest.raises(ConfigError, match="divisible by vit.num_heads"):
        ViTConfig(embed_dim=192, num_heads=5)
    with pytest.raises(ConfigError, match="divisible by 4"):
        ViTConfig(embed_dim=198, num_heads=3)
    with pytest.raises(ConfigError, match="in_chans"):
        ViTConfig(in_chans=2)
    with pytest.raises(ConfigError, match="drop_path"):
        ViTConfig(drop_path=1.0)
    cfg = VIT_PRESETS["cpu"]
    assert from_dict(ViTConfig, to_dict(cfg)) == cfg
