"""PF-ViT's discriminator views (``model.disc_views``): the paper's D on G's patch grid, and genfer's D that also
judges the image shifted by half a patch, so that G's patch borders fall inside its patches (docs/pfvit.md)."""

from dataclasses import replace

import pytest
import torch

from genfer.config import MAE_PRESETS, PFVIT_PRESETS, ConfigError, PFViTModelConfig, apply_overrides
from genfer.models.pfvit import TokenDiscriminator, build_pfvit, half_patch_shift

TINY = PFViTModelConfig(mae=MAE_PRESETS["tiny"], orthogonality="direct", se_reduction=4)  # 32 px, patch 8: 4x4 tokens
P, S = 8, 4  # the tiny patch and half of it


def discriminators() -> tuple[TokenDiscriminator, TokenDiscriminator]:
    """The same D weights judging the grid view only (the paper's) and both views."""
    torch.manual_seed(0)
    grid = build_pfvit(TINY).discriminator
    shifted = build_pfvit(replace(TINY, disc_views="shifted")).discriminator
    shifted.load_state_dict(grid.state_dict(), strict=True)  # no new parameters
    return grid.eval(), shifted.eval()


def shift_by_hand(x: torch.Tensor, s: int = S) -> torch.Tensor:
    """Rows and columns s, s+1, ..., H-1 of x, then the reflected H-2, H-3, ..., H-1-s (no padding function)."""
    h = x.shape[-1]
    idx = list(range(s, h)) + [h - 2 - k for k in range(s)]
    return x[..., idx, :][..., idx]


def test_shifted_patches_straddle_the_original_patch_borders():
    """8x8 image with pixel (r, c) = 10 r + c, patches of 4: the shifted view's patch 0 is rows/columns 2-5, made of
    a 2x2 corner of each of the four original patches; the last one ends with reflected rows/columns 6, 5."""
    x = (10 * torch.arange(8.0)[:, None] + torch.arange(8.0)[None, :])[None, None]
    view = half_patch_shift(x, 4)
    assert view.shape == x.shape
    torch.testing.assert_close(view[0, 0, 0:4, 0:4], torch.tensor([
        [22.0, 23, 24, 25],
        [32.0, 33, 34, 35],
        [42.0, 43, 44, 45],
        [52.0, 53, 54, 55]]))
    torch.testing.assert_close(view[0, 0, 4:8, 4:8], torch.tensor([
        [66.0, 67, 66, 65],
        [76.0, 77, 76, 75],
        [66.0, 67, 66, 65],
        [56.0, 57, 56, 55]]))
    torch.testing.assert_close(half_patch_shift(x, 4), shift_by_hand(x, 2))


def test_shifted_view_token_0_embeds_the_patch_across_the_first_corner():
    _, d = discriminators()
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    tokens = d.token_embeddings(d.views_of(x)[1])
    corner = x[..., S : S + P, S : S + P]  # rows/columns 4-11: the corner where patches (0,0), (0,1), (1,0), (1,1) meet
    by_hand = d.embed(corner.flatten(1) @ d.patch_embed.proj.weight.flatten(1).T + d.patch_embed.proj.bias)
    torch.testing.assert_close(tokens[:, 0], by_hand, rtol=1e-5, atol=1e-5)


def paper_d(d: TokenDiscriminator, x: torch.Tensor) -> torch.Tensor:
    """The paper's D as genfer computed it before the views existed (patches -> width -> [CLS] + positions -> blocks)."""
    t = d.embed(d.patch_embed(x))
    t = torch.cat([d.cls_token.expand(t.shape[0], -1, -1), t], dim=1) + d.pos_embed
    return d.head(d.norm(d.blocks(t))[:, 0])


def test_grid_view_is_the_papers_d_bit_for_bit():
    grid, _ = discriminators()
    assert grid.views == "grid" and PFViTModelConfig().disc_views == "grid"
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    assert torch.equal(grid(x), paper_d(grid, x))
    assert [v is x for v in grid.views_of(x)] == [True]


def test_shifted_logits_are_the_mean_of_d_on_the_two_views():
    grid, shifted = discriminators()
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    on_grid, on_shift = paper_d(grid, x), paper_d(grid, shift_by_hand(x))
    out = shifted(x)
    assert out.shape == (3, 9)  # K + 1: Eqs. 7-8 unchanged
    torch.testing.assert_close(out, (on_grid + on_shift) / 2, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(out, on_grid, atol=1e-4) and not torch.allclose(out, on_shift, atol=1e-4)


def test_shifted_view_sees_a_seam_inside_one_token_where_the_grid_view_sees_nothing():
    """A pure-seam image (every 8x8 patch constant) and the same image with one seam smoothed: the vertical
    border at column 16 between patches (1, 1) and (1, 2) (rows 8-15) becomes a 3-step ramp in columns 15-16.

    Grid view: the changed pixels lie in tokens (1, 1) and (1, 2). Shifted view (patch (i, j) = rows 8i+4..8i+11,
    columns 8j+4..8j+11): they lie in tokens (0, 1) and (1, 1), each holding the seam in its middle; token (0, 1)'s
    grid-view embedding is identical for both images. A shift of 0 would give the grid's tokens and a full patch
    the grid's tokens moved by (-1, -1), (0, 0) and (0, 1): both fail here."""
    _, d = discriminators()
    torch.manual_seed(1)
    values = torch.rand(4, 4) * 2 - 1
    values[1, 1], values[1, 2] = -0.6, 0.6
    blocks = values.repeat_interleave(P, 0).repeat_interleave(P, 1)[None, None]
    smooth = blocks.clone()
    a, b = values[1, 1].item(), values[1, 2].item()
    smooth[..., 8:16, 15] = a + (b - a) / 3
    smooth[..., 8:16, 16] = a + 2 * (b - a) / 3

    def changed(view: int) -> set[tuple[int, int]]:
        e_blocks, e_smooth = (d.token_embeddings(d.views_of(img)[view])[0] for img in (blocks, smooth))
        diff = (e_blocks - e_smooth).abs().amax(-1)
        return {divmod(t, 4) for t in range(16) if diff[t] > 1e-6}

    with torch.no_grad():
        assert changed(0) == {(1, 1), (1, 2)}
        assert changed(1) == {(0, 1), (1, 1)}
        assert (0, 1) not in changed(0)


def test_config_validates_disc_views():
    assert apply_overrides(PFVIT_PRESETS["tiny"], ["model.disc_views=shifted"]).model.disc_views == "shifted"
    with pytest.raises(ConfigError, match="disc_views"):
        apply_overrides(PFVIT_PRESETS["tiny"], ["model.disc_views=overlap"])
    with pytest.raises(ValueError, match="views"):
        TokenDiscriminator(image_size=32, patch_size=8, in_chans=1, encoder_dim=8, dim=8, depth=1, num_heads=2,
                           num_classes=7, views="overlap")


def test_init_from_a_trained_pfvit_with_a_shifted_d(tmp_path):
    """A folder saved before ``disc_views`` existed (no key in its config) loads as the paper's D, and a trained
    PF-ViT (without D, as shipped) starts a shifted-D run: E, S, C, G copied, D from its E and G decoder."""
    import json

    from genfer.hub import load_model
    from genfer.train.pfvit import initialise_from
    from genfer.train.runner import export_model_folder

    torch.manual_seed(3)
    source = build_pfvit(TINY)
    export_model_folder(tmp_path / "pfvit", replace(PFVIT_PRESETS["tiny"], model=TINY),
                        source.state_dict_without("discriminator."))
    config = tmp_path / "pfvit" / "config.json"
    data = json.loads(config.read_text())
    del data["model"]["disc_views"]
    config.write_text(json.dumps(data))
    assert load_model(tmp_path / "pfvit", methods=("pfvit",)).config.model.disc_views == "grid"
    cfg = replace(TINY, output_head="conv", head_channels=4, disc_views="shifted")
    model = build_pfvit(cfg)
    initialise_from(model, tmp_path / "pfvit", cfg)
    assert model.discriminator.views == "shifted"
    torch.testing.assert_close(model.encoder.cls_token, source.encoder.cls_token)
    torch.testing.assert_close(model.discriminator.blocks[0].attn.qkv.weight,
                               source.generator.decoder.blocks[0].attn.qkv.weight)
    assert model.discriminator(torch.rand(2, 1, 32, 32) * 2 - 1).shape == (2, 9)
