"""PF-ViT model: shapes, the separator's mask, MAE initialisation, inference path, tiny training runs."""

import json
from pathlib import Path

import pytest
import torch

from genfer.config import MAE_PRESETS, MAE_TRAIN_PRESETS, PFVIT_PRESETS, ConfigError, PFViTModelConfig, apply_overrides
from genfer.losses.pfvit import abs_cosine
from genfer.models.mae import build_mae
from genfer.models.pfvit import PFViT, SqueezeExcitation
from genfer.io import CheckpointError, latest_checkpoint, load_state_dict
from genfer.train.pfvit import initialise_from, pfvit_generator_losses, train_pfvit
from genfer.models.pfvit import build_pfvit

TINY = PFViTModelConfig(mae=MAE_PRESETS["tiny"], orthogonality="direct", se_reduction=4)


def tiny_model() -> PFViT:
    torch.manual_seed(0)
    return build_pfvit(TINY)


def border_and_inside_steps(image: torch.Tensor, patch: int) -> tuple[float, float]:
    """Mean |horizontal neighbour difference| of (B, C, H, W) images across patch borders and inside patches."""
    steps = (image[..., 1:] - image[..., :-1]).abs().mean(dim=(0, 1, 2))
    at_border = torch.tensor([(j + 1) % patch == 0 for j in range(image.shape[-1] - 1)])
    return float(steps[at_border].mean()), float(steps[~at_border].mean())


def test_shapes_of_every_component():
    model = tiny_model()
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    sep = model.separate(x)
    n = (32 // 8) ** 2
    assert sep.z.shape == sep.v_e.shape == sep.v_p.shape == (3, 1 + n, 32)
    assert sep.mask.shape == (3, 1, 32) and sep.logits.shape == (3, 8)
    assert model.generate(sep.v_p).shape == (3, 1, 32, 32)
    assert model.discriminator(x).shape == (3, 9)  # K + 1
    assert model(x).shape == (3, 8)
    torch.testing.assert_close(model(x), sep.logits)  # inference E -> S -> C


def test_separator_splits_tokens_exactly():
    model = tiny_model()
    sep = model.separate(torch.rand(2, 1, 32, 32))
    torch.testing.assert_close(sep.v_e + sep.v_p, sep.z)
    assert float(sep.mask.detach().min()) >= 0 and float(sep.mask.detach().max()) <= 1
    # the mask is shared by all tokens of an image: V_e / z is constant along tokens
    ratio = sep.v_e / sep.z
    torch.testing.assert_close(ratio, ratio[:, :1].expand_as(ratio))


def test_squeeze_excitation_by_hand():
    se = SqueezeExcitation(dim=2, reduction=1)
    se.fc1 = torch.nn.Linear(2, 1)
    se.fc2 = torch.nn.Linear(1, 2)
    with torch.no_grad():
        se.fc1.weight.copy_(torch.tensor([[1.0, -1.0]]))
        se.fc1.bias.zero_()
        se.fc2.weight.copy_(torch.tensor([[2.0], [-1.0]]))
        se.fc2.bias.copy_(torch.tensor([0.5, 0.0]))
    z = torch.tensor([[[3.0, 1.0], [1.0, 1.0]]])  # token mean (2, 1) -> relu(2 - 1) = 1 -> (2.5, -1)
    torch.testing.assert_close(se(z), torch.tensor([[[2.5, -1.0]]]))


def test_generator_depends_on_the_tokens_it_is_given():
    model = tiny_model()
    sep = model.separate(torch.rand(2, 1, 32, 32))
    assert not torch.allclose(model.generate(sep.v_p), model.generate(sep.v_e + sep.v_p))


def test_recognition_only_model_has_no_generator():
    model = build_pfvit(TINY, with_generator=False, with_discriminator=False)
    assert model.generator is None and model.discriminator is None
    with pytest.raises(RuntimeError, match="without its generator"):
        model.generate(torch.zeros(1, 17, 32))
    full = tiny_model()
    state = full.state_dict_without("discriminator.", "generator.")
    model.load_state_dict(state, strict=True)


def test_initialise_from_copies_encoder_decoder_and_disc_blocks(tmp_path):
    from genfer.train.runner import export_model_folder

    torch.manual_seed(1)
    mae = build_mae(MAE_PRESETS["tiny"])
    export_model_folder(tmp_path / "mae", MAE_TRAIN_PRESETS["tiny"], mae.state_dict())
    model = tiny_model()
    initialise_from(model, tmp_path / "mae", TINY)
    torch.testing.assert_close(model.encoder.cls_token, mae.encoder.cls_token)
    torch.testing.assert_close(model.generator.decoder.mask_token, mae.decoder.mask_token)
    torch.testing.assert_close(model.generator.fusion.attn.in_proj_weight, mae.decoder.blocks[0].attn.qkv.weight)
    torch.testing.assert_close(model.discriminator.blocks[0].attn.qkv.weight, mae.decoder.blocks[0].attn.qkv.weight)
    torch.testing.assert_close(model.discriminator.patch_embed.proj.weight, mae.encoder.patch_embed.proj.weight)
    other = apply_overrides(PFVIT_PRESETS["tiny"], ["model.se_reduction=2"]).model  # same MAE sizes: fine
    initialise_from(build_pfvit(other), tmp_path / "mae", other)
    wrong = PFViTModelConfig(mae=MAE_PRESETS["cpu"])
    with pytest.raises(CheckpointError, match="differ"):
        initialise_from(build_pfvit(wrong), tmp_path / "mae", wrong)


def test_conv_output_head_starts_as_the_patch_head_and_mixes_across_patch_borders():
    from dataclasses import replace

    torch.manual_seed(0)
    patch = build_pfvit(TINY)
    conv = build_pfvit(replace(TINY, output_head="conv", head_channels=4))
    conv.load_state_dict(patch.state_dict(), strict=False)  # all but the new head
    tokens = patch.separate(torch.rand(2, 1, 32, 32) * 2 - 1).z
    torch.testing.assert_close(conv.generate(tokens), patch.generate(tokens))  # zero-initialised residual
    head = conv.generator.head
    torch.nn.init.normal_(head.convs[-1].weight, std=0.1)
    # a change of one patch's base pixels reaches the neighbouring patch's border pixels (3 convs: 3 px)
    base = torch.zeros(1, 1, 32, 32)
    feats = torch.zeros(1, 16, 32)
    bumped = base.clone()
    bumped[..., 0:8, 0:8] = 1.0  # patch (0, 0) of the 8 px tiny patches
    delta = head(bumped, feats) - head(base, feats) - (bumped - base)
    assert delta[..., 0:8, 8:11].abs().sum() > 0  # the next patch's first 3 columns
    assert delta[..., 0:8, 11:].abs().sum() == 0  # beyond the receptive field: untouched


def test_upsample_output_head_ignores_the_patch_image_and_has_no_patch_borders(tmp_path):
    from dataclasses import replace

    from genfer.models.pfvit import UpsampleOutputHead
    from genfer.train.runner import export_model_folder

    torch.manual_seed(0)
    cfg = replace(TINY, output_head="upsample", head_channels=4)
    model = build_pfvit(cfg)
    head = model.generator.head
    assert isinstance(head, UpsampleOutputHead)
    tokens = model.separate(torch.rand(2, 1, 32, 32) * 2 - 1).z
    assert model.generate(tokens).shape == (2, 1, 32, 32)
    feats = torch.randn(1, 16, 32)  # a 4 x 4 grid of 8 px patches
    torch.testing.assert_close(head(torch.zeros(1, 1, 32, 32), feats), head(torch.rand(1, 1, 32, 32), feats))
    # one token's change reaches far into the neighbouring patches (the patch head's stays inside its own)
    bumped = feats.clone()
    bumped[0, 5] += 3.0  # token (1, 1): pixels 8..15 x 8..15
    delta = (head(torch.zeros(1, 1, 32, 32), bumped) - head(torch.zeros(1, 1, 32, 32), feats)).abs()[0, 0]
    assert delta[8:16, 16:20].sum() > 0 and delta[16:20, 8:16].sum() > 0
    # no seams by construction: steps between pixel columns at patch borders are no larger than inside patches
    image = head(torch.zeros(8, 1, 32, 32), torch.randn(8, 16, 32)).detach()
    across, inside = border_and_inside_steps(image, 8)
    assert across <= inside
    with pytest.raises(ValueError, match="even patch size"):
        UpsampleOutputHead(dim=8, patch_size=3, in_chans=1)
    # init_from a PF-ViT with another head copies all but the head (which starts fresh)
    conv_cfg = replace(TINY, output_head="conv", head_channels=4)
    export_model_folder(tmp_path / "conv", replace(PFVIT_PRESETS["tiny"], model=conv_cfg),
                        build_pfvit(conv_cfg).state_dict_without("discriminator."))
    initialise_from(build_pfvit(cfg), tmp_path / "conv", cfg)



def test_windowed_output_head_blends_overlapping_tiles_by_hand():
    """p = 2 on a 4 × 4 image: token (i, j)'s tile covers rows 2i−1 .. 2i+2 with weights ¼, ¾, ¾, ¼ (and so the
    columns); with constant tiles v = 1, 2, 3, 4 pixel (1, 1) = (9·1 + 3·2 + 3·3 + 1·4) / 16 = 1.75, pixel (0, 0),
    covered by token (0, 0) only, = 1, and pixel (1, 2) (columns: ¼ for token column 0, ¾ for 1)
    = (3·1 + 9·2 + 1·3 + 3·4) / 16 = 2.25."""
    from genfer.models.pfvit import WindowedOutputHead, triangular_window

    torch.testing.assert_close(triangular_window(2)[0], torch.tensor([1, 3, 3, 1]) / 16)
    head = WindowedOutputHead(dim=4, patch_size=2, in_chans=1, channels=2)
    with torch.no_grad():
        head.pred.weight.zero_()
        head.pred.bias.zero_()
        head.pred.weight[:, 0] = 1.0  # every tile pixel = feature 0 of its token
    features = torch.zeros(1, 4, 4)
    features[0, :, 0] = torch.tensor([1.0, 2.0, 3.0, 4.0])
    image = head(torch.zeros(1, 1, 4, 4), features)[0, 0]
    assert image[1, 1].item() == pytest.approx(1.75)
    assert image[0, 0].item() == pytest.approx(1.0)
    assert image[1, 2].item() == pytest.approx(2.25)
    assert image[3, 3].item() == pytest.approx(4.0)
    # channels stay apart: constant tiles of 1 in channel 0 and 3 in channel 1 give a 1-image and a 3-image
    two = WindowedOutputHead(dim=4, patch_size=2, in_chans=2, channels=2)
    with torch.no_grad():
        two.pred.weight.zero_()
        two.pred.bias.copy_(torch.tensor([1.0] * 16 + [3.0] * 16))
    torch.testing.assert_close(two(torch.zeros(1, 2, 4, 4), features)[0],
                               torch.stack([torch.ones(4, 4), torch.full((4, 4), 3.0)]))
    with pytest.raises(ValueError, match="even patch size"):
        WindowedOutputHead(dim=4, patch_size=3, in_chans=1)
    # the overlap-add exports to ONNX at genfer's opset (F.fold would not: col2im needs opset 18)
    import io

    from genfer.runtime.onnx_export import OPSET

    class Head(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = head

        def forward(self, f: torch.Tensor) -> torch.Tensor:
            return self.head(torch.zeros(f.shape[0], 1, 4, 4), f)

    torch.onnx.export(Head(), (features,), io.BytesIO(), dynamo=False, opset_version=OPSET)


def test_windowed_output_head_starts_from_the_patch_head_and_is_continuous_across_borders(tmp_path):
    from dataclasses import replace

    from genfer.models.mae import unpatchify
    from genfer.models.pfvit import WindowedOutputHead

    torch.manual_seed(0)
    cfg = replace(TINY, output_head="windowed", head_channels=4)
    model = build_pfvit(cfg)
    head = model.generator.head
    assert isinstance(head, WindowedOutputHead)
    # the fixed window and scatter kernel are rebuilt, not saved: weights hold only the tile layer and refinement
    assert sorted({k.split(".")[0] for k in head.state_dict()}) == ["pred", "refine"]
    # start_from: each tile is the token's patch with its border rows/columns repeated outwards (2 channels)
    patch_head = torch.nn.Linear(5, 4 * 4 * 2)
    two = WindowedOutputHead(dim=5, patch_size=4, in_chans=2, channels=2)
    two.start_from(patch_head)
    f = torch.randn(1, 1, 5)
    patch = unpatchify(patch_head(f), 4)[0]  # (2, 4, 4)
    tile = two.pred(f).reshape(2, 8, 8)
    torch.testing.assert_close(tile[:, 2:6, 2:6], patch)
    torch.testing.assert_close(tile[:, 0, 2:6], patch[:, 0])
    torch.testing.assert_close(tile[:, 7, 7], patch[:, 3, 3])
    # built and loaded PF-ViTs start the head from G's decoder pixel head
    torch.testing.assert_close(head.pred.weight[:1], model.generator.decoder.pred.weight[:1],
                               msg="tile pixel (0, 0) copies patch pixel (0, 0)")
    # continuous: with the refinement at its zero start, steps at patch borders are smaller than inside patches
    tokens = model.separate(torch.rand(4, 1, 32, 32) * 2 - 1).z
    across, inside = border_and_inside_steps(model.generate(tokens).detach(), 8)
    assert across < inside
    patch_model = build_pfvit(TINY)
    patch_model.load_state_dict(model.state_dict(), strict=False)
    across, inside = border_and_inside_steps(patch_model.generate(tokens).detach(), 8)
    assert across > inside  # the paper's head: seams
    # init_from a patch-head PF-ViT starts the windowed head from that folder's pixel head
    from genfer.train.runner import export_model_folder

    export_model_folder(tmp_path / "patch", replace(PFVIT_PRESETS["tiny"], model=TINY),
                        patch_model.state_dict_without("discriminator."))
    fresh = build_pfvit(cfg)
    initialise_from(fresh, tmp_path / "patch", cfg)
    torch.testing.assert_close(fresh.generator.head.pred.weight[:1], patch_model.generator.decoder.pred.weight[:1])


def test_initialise_from_a_trained_pfvit_copies_e_s_c_g_and_starts_d_from_them(tmp_path):
    from dataclasses import replace

    from genfer.train.runner import export_model_folder

    torch.manual_seed(3)
    source = build_pfvit(TINY)
    cfg = replace(PFVIT_PRESETS["tiny"], model=TINY)
    export_model_folder(tmp_path / "pfvit", cfg, source.state_dict_without("discriminator."))
    target_cfg = replace(TINY, output_head="conv", head_channels=4)
    model = build_pfvit(target_cfg)
    initialise_from(model, tmp_path / "pfvit", target_cfg)
    for name in ("encoder", "separator", "classifier"):
        for (k, a), b in zip(getattr(model, name).state_dict().items(), getattr(source, name).state_dict().values()):
            torch.testing.assert_close(a, b, msg=f"{name}.{k}")
    for k, v in source.generator.state_dict().items():
        torch.testing.assert_close(model.generator.state_dict()[k], v, msg=k)
    assert model.generator.head.convs[-1].weight.abs().sum() == 0
    torch.testing.assert_close(model.discriminator.blocks[0].attn.qkv.weight,
                               source.generator.decoder.blocks[0].attn.qkv.weight)
    torch.testing.assert_close(model.discriminator.patch_embed.proj.weight, source.encoder.patch_embed.proj.weight)


def test_initialise_from_a_checkpoint_with_d_continues_that_d(tmp_path):
    """A training checkpoint keeps D: a continuation starts D from it (D's learnt reading of expressions is not
    thrown away); a D of other shapes is not forced in and D starts from E and G instead."""
    from dataclasses import replace

    from genfer.config import config_document
    from genfer.io.model_folder import write_model_folder

    torch.manual_seed(4)
    source = build_pfvit(TINY)
    with torch.no_grad():
        for p in source.discriminator.parameters():
            p.add_(0.5)  # a D that differs from anything built from E and G
    document = config_document(replace(PFVIT_PRESETS["tiny"], model=TINY))
    write_model_folder(tmp_path / "ckpt", source.state_dict(), document)  # as a checkpoint's model.safetensors
    model = build_pfvit(TINY)
    initialise_from(model, tmp_path / "ckpt", TINY)
    for k, v in source.discriminator.state_dict().items():
        torch.testing.assert_close(model.discriminator.state_dict()[k], v, msg=k)
    # a D with one class fewer in its head does not fit this run's D
    other = {k: (v[:-1] if k == "discriminator.head.weight" else v) for k, v in source.state_dict().items()}
    write_model_folder(tmp_path / "other", other, document)
    model = build_pfvit(TINY)
    initialise_from(model, tmp_path / "other", TINY)
    torch.testing.assert_close(model.discriminator.blocks[0].attn.qkv.weight,
                               source.generator.decoder.blocks[0].attn.qkv.weight)


def test_from_mae_copies_encoder_decoder_mca_and_disc():
    torch.manual_seed(1)
    mae = build_mae(MAE_PRESETS["tiny"])
    model = PFViT.from_mae(mae, num_classes=8, se_reduction=4)
    torch.testing.assert_close(model.encoder.cls_token, mae.encoder.cls_token)
    torch.testing.assert_close(model.generator.decoder.mask_token, mae.decoder.mask_token)
    torch.testing.assert_close(model.generator.fusion.attn.in_proj_weight, mae.decoder.blocks[0].attn.qkv.weight)
    torch.testing.assert_close(model.discriminator.blocks[0].attn.qkv.weight, mae.decoder.blocks[0].attn.qkv.weight)
    assert model.generator.decoder.mask_token is not mae.decoder.mask_token  # copied, not shared


def test_cross_fusion_started_from_a_block_equals_that_block_on_concatenated_tokens():
    """MCA from a self-attention block: queries attending to the tokens give what the block itself gives the
    queries when it runs on [tokens, queries] with attention to the queries masked out."""
    model = tiny_model()
    block = model.generator.decoder.blocks[0]
    model.generator.fusion.load_from_block(block)
    tokens, queries = torch.randn(2, 5, 32), torch.randn(2, 3, 32)
    x = torch.cat([tokens, queries], dim=1)
    # the block by hand with attention restricted to the tokens (the first 5 keys)
    attn = block.attn
    h = block.norm1(x)
    q, k, v = attn.qkv(h).reshape(2, 8, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
    scores = (q @ k.transpose(-2, -1)) * attn.scale
    scores[..., 5:] = float("-inf")
    mixed = (scores.softmax(-1) @ v).transpose(1, 2).reshape(2, 8, 32)
    y = x + attn.proj(mixed)
    y = y + block.mlp(block.norm2(y))
    torch.testing.assert_close(model.generator.fusion(queries, tokens), y[:, 5:], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("option", ["none", "direct", "generic"])
def test_generator_losses_for_each_orthogonality_option(option):
    cfg = apply_overrides(PFVIT_PRESETS["tiny"], [f"model.orthogonality={option}"])
    model = build_pfvit(cfg.model)
    from genfer.train.pfvit import orthogonality_network

    net = orthogonality_network(cfg.model, torch.device("cpu"))
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    labels = torch.tensor([0, 1, 2, 0])
    terms, images = pfvit_generator_losses(model, x, labels, torch.nn.functional.one_hot(labels, 8).float(), cfg, net)
    assert set(terms) == {"emo", "rec", "adv", "ortho", "ortho_features", "total"}
    assert ("x_emo" in images) == (option == "generic")
    assert (terms["ortho"].item() == 0.0) == (option == "none")
    assert (terms["ortho_features"].item() == 0.0) == (option != "generic")
    if option == "generic":  # Table 5: the direct constraint plus the same one on the network's features
        feats = net(torch.cat([images["x_emo"], images["x_tilde"]]).clamp(-1, 1)).split(4)
        torch.testing.assert_close(terms["ortho_features"], abs_cosine(*feats))
    w = cfg.weights
    expected = sum(getattr(w, name) * terms[name] for name in ("emo", "rec", "adv", "ortho", "ortho_features"))
    torch.testing.assert_close(terms["total"], expected)
    terms["total"].backward()
    assert model.separator.fc1.weight.grad is not None


def test_config_rejects_unknown_orthogonality():
    with pytest.raises(ConfigError, match="orthogonality"):
        apply_overrides(PFVIT_PRESETS["tiny"], ["model.orthogonality=cosine"])


def pfvit_cfg(root: Path, *extra: str):
    return apply_overrides(PFVIT_PRESETS["tiny"], [
        "data.dataset=folder", f"data.root={root}", "data.val_split=valid", "data.limit_train=0",
        "data.limit_val=0", "threads=1", *extra])


def test_tiny_pfvit_run_and_exact_resume(tiny_dataset, tmp_path):
    cfg = pfvit_cfg(tiny_dataset)
    out = train_pfvit(cfg, tmp_path / "straight", progress=False)
    assert out["step"] == out["total_steps"] == 12  # 96 images / 16 = 6 steps x 2 epochs
    assert 0 <= out["val_accuracy"] <= 1
    final = load_state_dict(tmp_path / "straight" / "final" / "model.safetensors")
    assert not any(k.startswith("discriminator.") for k in final)
    assert (tmp_path / "straight" / "grids").is_dir()
    assert json.loads((tmp_path / "straight" / "final" / "config.json").read_text())["model"]["orthogonality"] == "direct"
    train_pfvit(cfg, tmp_path / "split", progress=False, max_steps=5)
    train_pfvit(cfg, tmp_path / "split", progress=False)
    a = load_state_dict(latest_checkpoint(tmp_path / "straight") / "model.safetensors")
    b = load_state_dict(latest_checkpoint(tmp_path / "split") / "model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)



def test_disc_warmup_trains_only_d_for_its_steps_then_both(tiny_dataset, tmp_path, monkeypatch):
    """disc_warmup_steps=2: during steps 0 and 1 only D's optimiser steps (E, S, G, C keep the weights they were
    built with); from step 2 both do."""
    import genfer.train.pfvit as pf
    from genfer.config import ConfigError

    built = []
    real_build = pf.build_pfvit

    def build_and_keep(*args, **kwargs):
        model = real_build(*args, **kwargs)
        built.append((model, {k: v.clone() for k, v in model.state_dict().items()}))
        return model

    monkeypatch.setattr(pf, "build_pfvit", build_and_keep)
    cfg = pfvit_cfg(tiny_dataset, "disc_warmup_steps=2", "grid_images=0")
    train_pfvit(cfg, tmp_path / "run", progress=False, max_steps=2)
    model, initial = built[0]
    after = model.state_dict()
    g_keys = [k for k in initial if not k.startswith("discriminator.")]
    d_keys = [k for k in initial if k.startswith("discriminator.")]
    assert all(torch.equal(after[k], initial[k]) for k in g_keys)
    assert any(not torch.equal(after[k], initial[k]) for k in d_keys)
    train_pfvit(cfg, tmp_path / "run", progress=False, max_steps=3)  # resumes at step 2: the first E/S/G/C step
    resumed, _ = built[-1]
    assert any(not torch.equal(resumed.state_dict()[k], initial[k]) for k in g_keys)
    with pytest.raises(ConfigError, match="disc_warmup_steps"):
        pfvit_cfg(tiny_dataset, "disc_warmup_steps=-1")


def test_paper_preset_shapes_on_the_meta_device():
    """ViT-B/16 at 224 px, 3 channels, Table 1's ViT-B decoder as G and D; built without memory."""
    cfg = PFVIT_PRESETS["paper"].model
    with torch.device("meta"):
        model = build_pfvit(cfg)
        x = torch.empty(2, 3, 224, 224)
        sep = model.separate(x)
        assert sep.z.shape == (2, 1 + 14 * 14, 768) and sep.mask.shape == (2, 1, 768)
        assert model.generate(sep.v_p).shape == (2, 3, 224, 224)
        assert model.discriminator(x).shape == (2, 9)
    encoder = sum(p.numel() for p in model.encoder.parameters())
    assert 85.0e6 < encoder < 86.5e6  # Table 1: ViT-B 85.05 M (+ no head)
    assert len(model.generator.decoder.blocks) == 8 and model.generator.decoder.decoder_dim == 512


def test_paper_preset_trains_one_step_at_tiny_scale(tiny_dataset, tmp_path):
    """The paper preset's recipe (3-channel input, fr orthogonality, Adam 2e-5 / 1e-4) with tiny sizes."""
    from genfer.models.face_id import dlib_model_path

    try:
        dlib_model_path()
    except CheckpointError:
        pytest.skip("fr orthogonality needs the faceid extra")
    cfg = apply_overrides(PFVIT_PRESETS["paper"], [
        "init_from=", "model.mae.encoder.image_size=32", "model.mae.encoder.patch_size=8", "model.mae.encoder.embed_dim=32",
        "model.mae.encoder.depth=1", "model.mae.encoder.num_heads=2", "model.mae.decoder_dim=32",
        "model.mae.decoder_depth=1", "model.mae.decoder_heads=2", "model.fr_size=112", "optim.batch_size=4",
        "disc_optim.batch_size=4", "data.dataset=folder", f"data.root={tiny_dataset}", "data.val_split=",
        "threads=1"])
    assert cfg.model.mae.encoder.in_chans == 3 and cfg.model.orthogonality == "fr"
    assert (cfg.optim.lr, cfg.disc_optim.lr, tuple(cfg.disc_optim.betas)) == (2e-5, 1e-4, (0.5, 0.999))
    out = train_pfvit(cfg, tmp_path / "run", progress=False, max_steps=1)
    assert out["step"] == 1


def test_batched_generator_losses_equal_separate_calls():
    """G, D run once on concatenated batches; the terms equal those of separate calls (Eqs. 6-8)."""
    from genfer.losses.pfvit import POKER, RECONSTRUCTION, discrimination_loss, discriminator_targets, reconstruction_loss

    cfg = PFVIT_PRESETS["tiny"]
    model = build_pfvit(cfg.model).eval()
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    y = torch.tensor([0, 4, 2])
    terms, _ = pfvit_generator_losses(model, x, y, torch.nn.functional.one_hot(y, 8).float(), cfg, None)
    sep = model.separate(x)
    x_hat, x_tilde = model.generate(sep.z), model.generate(sep.v_p)
    torch.testing.assert_close(terms["rec"], reconstruction_loss(x_hat, x_tilde, x, y, neutral=0))
    adv = (discrimination_loss(model.discriminator(x_hat), discriminator_targets(y, RECONSTRUCTION, num_classes=8,
                                                                                  neutral=0, real=1.0))
           + discrimination_loss(model.discriminator(x_tilde), discriminator_targets(y, POKER, num_classes=8, neutral=0,
                                                                                      real=1.0)))
    torch.testing.assert_close(terms["adv"], adv, rtol=1e-5, atol=1e-5)


@pytest.mark.slow  # torchrun, 2 processes (about 13 s)
def test_ddp_two_processes_match_single_process(tiny_dataset, tmp_path):
    """torchrun with 2 ranks x batch 8 takes the same steps as 1 process x batch 16 (gradients averaged)."""
    import os
    import subprocess
    import sys

    overrides = ["data.dataset=folder", f"data.root={tiny_dataset}", "data.val_split=", "data.limit_train=0",
                 "threads=1", "grid_images=0"]
    train_pfvit(apply_overrides(PFVIT_PRESETS["tiny"], overrides), tmp_path / "single", progress=False)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "genfer.cli",
           "train", "pfvit", "--preset", "tiny", "--quiet", "--out", str(tmp_path / "ddp")]
    for item in overrides:
        cmd += ["--set", item]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a = load_state_dict(tmp_path / "single" / "final" / "model.safetensors")
    b = load_state_dict(tmp_path / "ddp" / "final" / "model.safetensors")
    for k in a:
        x, y = a[k], b[k]
        if k.endswith(("qkv.bias", "in_proj_bias")):
            # The key bias gets a mathematically zero gradient (softmax is shift-invariant); Adam normalises the
            # rounding noise left in its place into full-size steps that differ with the reduction order.
            third = x.shape[0] // 3
            x, y = torch.cat([x[:third], x[2 * third:]]), torch.cat([y[:third], y[2 * third:]])
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5, msg=k)


def test_render_equals_separate_generator_calls():
    model = tiny_model().eval()
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        out = model.render(x)
        sep = model.separate(x)
        for key, tokens in (("x_hat", sep.v_e + sep.v_p), ("x_tilde", sep.v_p), ("x_emo", sep.v_e)):
            torch.testing.assert_close(out[key], model.generate(tokens).clamp(-1, 1), rtol=1e-5, atol=1e-5)
