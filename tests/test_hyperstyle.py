"""HyperStyle: the weight offsets θ·(1 + Δ) as the generator applies them, the refinement iterations, a tiny run."""

from __future__ import annotations

import copy

import pytest
import torch

from genfer.config import HYPERSTYLE_PRESETS, PSP_PRESETS, apply_overrides, config_document
from genfer.models.hyperstyle import (HyperStyle, WeightOffsetNet, build_hypernet, synthesis_with_offsets,
                                      tunable_layers, tuned_weights)
from genfer.models.psp import build_psp_encoder
from genfer.models.stylegan2 import build_generator

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = HYPERSTYLE_PRESETS["tiny"]


def tiny_generator(seed=0):
    torch.manual_seed(seed)
    return build_generator(TINY.stylegan2).eval().requires_grad_(False)


def test_tunable_layers_are_the_non_torgb_convs_from_min_resolution():
    g = tiny_generator()  # 16 px: conv1 at 4 px, convs 0-1 at 8 px, convs 2-3 at 16 px
    assert list(tunable_layers(g, min_resolution=8)) == [f"convs.{i}.conv.weight" for i in range(4)]
    assert list(tunable_layers(g, min_resolution=16)) == ["convs.2.conv.weight", "convs.3.conv.weight"]
    assert list(tunable_layers(g, min_resolution=4))[0] == "conv1.conv.weight"
    assert tunable_layers(g, min_resolution=16)["convs.2.conv.weight"] == (g.channels[16], g.channels[8])


def test_tuned_weights_multiply_each_channel_pair_over_its_taps():
    g = tiny_generator()
    name = "convs.3.conv.weight"
    out_c, in_c = tunable_layers(g, min_resolution=16)[name]
    delta = torch.zeros(2, out_c, in_c)
    delta[0, 1, 2] = 0.5
    delta[1, 0, 0] = -1.0
    w = tuned_weights(g, {name: delta})[name]
    base = g.convs[3].conv.weight[0]
    assert w.shape == (2, out_c, in_c, 3, 3)
    assert torch.equal(w[0, 1, 2], 1.5 * base[1, 2]) and torch.equal(w[0, 0, 0], base[0, 0])
    assert torch.equal(w[1, 0, 0], torch.zeros(3, 3)) and torch.equal(w[1, 1, 2], base[1, 2])


def test_synthesis_with_offsets_equals_a_generator_with_those_weights_per_sample():
    g = tiny_generator()
    wplus = torch.randn(2, g.n_latent, g.style_dim, generator=torch.Generator().manual_seed(1))
    layers = tunable_layers(g, min_resolution=8)
    rng = torch.Generator().manual_seed(2)
    offsets = {n: 0.3 * torch.randn(2, *shape, generator=rng) for n, shape in layers.items()}
    out = synthesis_with_offsets(g, wplus, offsets)
    for b in range(2):  # by hand: a copy of the generator whose weights are θ·(1 + Δ_b)
        tuned = copy.deepcopy(g)
        for name, delta in offsets.items():
            param = dict(tuned.named_parameters())[name]
            param.data = param.data * (1 + delta[b][None, :, :, None, None])
        ref = tuned(wplus[b : b + 1], input_is_latent=True, randomize_noise=False)
        assert torch.allclose(out[b : b + 1], ref, atol=1e-5)
    assert torch.allclose(synthesis_with_offsets(g, wplus, None), g(wplus, input_is_latent=True,
                                                                       randomize_noise=False))
    assert not torch.allclose(out, synthesis_with_offsets(g, wplus, None), atol=1e-3)


def tiny_hyperstyle():
    g = tiny_generator()
    enc = build_psp_encoder(TINY.encoder, TINY.stylegan2).eval()
    return HyperStyle(encoder=enc, decoder=g, hypernet=build_hypernet(TINY.hypernet, g), iterations=3)


def test_zero_initialised_heads_start_at_the_encoders_inversion_and_offsets_accumulate(monkeypatch):
    model = tiny_hyperstyle().eval()
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    out = model.invert(x)
    code = model.encoder.encode(x)
    assert len(out.images) == 3
    assert torch.allclose(out.image, model.render(code.wplus, None), atol=1e-6)  # Δ = 0 at initialisation
    calls = []
    real = WeightOffsetNet.forward

    def constant(self, a, b):
        calls.append(b.clone())
        return {k: torch.full_like(v, 0.1) for k, v in real(self, a, b).items()}

    monkeypatch.setattr(WeightOffsetNet, "forward", constant)
    out = model.invert(x)
    assert all(torch.allclose(v, torch.full_like(v, 0.3)) for v in out.offsets.values())  # 3 × 0.1
    # each iteration reads the previous iteration's image: ŷ0 = G(w), ŷ1 = G(w; θ(1 + 0.1)), ...
    assert torch.allclose(calls[0], model.render(code.wplus, None), atol=1e-6)
    assert torch.allclose(calls[1], out.images[0], atol=1e-6) and torch.allclose(calls[2], out.images[1], atol=1e-6)


def test_tiny_training_run_and_loading(tmp_path):
    from conftest import write_class_folders

    from genfer.hub import load_model
    from genfer.io import write_model_folder
    from genfer.models.psp import PSp
    from genfer.train import train_hyperstyle

    torch.manual_seed(0)
    psp_cfg = PSP_PRESETS["tiny"]
    g = build_generator(psp_cfg.stylegan2)
    psp = PSp(encoder=build_psp_encoder(psp_cfg.encoder, psp_cfg.stylegan2), decoder=g)
    write_model_folder(tmp_path / "psp", psp.state_dict(), config_document(psp_cfg))
    root = write_class_folders(tmp_path / "data", {"train": 6})
    cfg = apply_overrides(TINY, [f"sources=[{{dataset: folder, root: '{root}', split: train}}]", "threads=1",
                                 f"inverter={tmp_path / 'psp'}"])
    summary = train_hyperstyle(cfg, tmp_path / "run", progress=False)
    assert summary["step"] == cfg.steps and summary["val_mse"] is not None
    import json

    start = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert start["event"] == "start" and start["psp_val_mse"] > 0  # pSp alone, logged before the first step
    loaded = load_model(tmp_path / "run" / "final")
    assert loaded.method == "hyperstyle" and "invert" in loaded.tasks
    assert torch.equal(loaded.model.decoder.convs[0].conv.weight, g.convs[0].conv.weight)  # the frozen generator
    moved = [n for n, p in loaded.model.hypernet.named_parameters() if "linear" in n and p.abs().sum() > 0]
    assert moved  # the zero-initialised heads were trained
    # the pSp encoder stays frozen in eval mode, batch-norm statistics included, also when no evaluation ever
    # switches the model to eval mode (eval_images=0: no baseline, no hooks)
    no_eval = apply_overrides(cfg, ["grid_images=0", "eval_images=0", "steps=2"])
    train_hyperstyle(no_eval, tmp_path / "run-noeval", progress=False)
    for folder in ("final", "../run-noeval/final"):
        encoder = load_model(tmp_path / "run" / folder).model.encoder.state_dict()
        for name, value in psp.encoder.state_dict().items():
            assert torch.equal(encoder[name], value), f"{folder}: encoder.{name} changed"


def test_code_inverter_carries_hyperstyle_offsets_into_renders_of_edited_codes():
    from genfer.hub import LoadedModel
    from genfer.inversion.codes import CodeInverter

    model = tiny_hyperstyle().eval()
    for head in model.hypernet.heads:  # non-zero offsets
        torch.nn.init.normal_(head.linear.weight, std=0.05)
    loaded = LoadedModel(method="hyperstyle", name="tiny", folder=None, config=TINY, model=model)
    inv = CodeInverter(loaded)
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    code = inv.invert(x)
    assert set(code.offsets) == set(model.hypernet.names)
    assert torch.allclose(inv.render(code), model.invert(x).image.clamp(-1, 1), atol=1e-5)
    moved = code.with_wplus(code.wplus + 0.5)  # an edit keeps the face's tuned weights
    assert torch.allclose(inv.render(moved), model.render(code.wplus + 0.5, code.offsets).clamp(-1, 1), atol=1e-5)
    assert not torch.allclose(inv.render(moved), model.render(code.wplus + 0.5, None).clamp(-1, 1), atol=1e-3)
    with pytest.raises(ValueError, match="tunes the generator"):
        CodeInverter(loaded, refine_steps=3)


def test_training_iterations_feed_back_offsets_and_images_and_average_the_loss(spy):
    """``iteration_losses``: iteration t's hypernetwork gets x, the (detached) offsets and image of iteration t − 1
    (none and G(w) first); each iteration's loss is back-propagated divided by the number of iterations, and the
    logged terms are their means."""
    from genfer.models.psp import resize_to
    from genfer.train.hyperstyle import iteration_losses

    model = tiny_hyperstyle()
    torch.manual_seed(1)
    with torch.no_grad():  # non-zero offset heads, so that the iterations differ
        for p in model.hypernet.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    refine, render, seen = spy(model, "refine"), spy(model, "render"), []

    def criterion(y, target, wplus, avg):
        terms = {"l2": ((y - target) ** 2).mean(), "l1": (y - target).abs().mean()}
        terms["total"] = 0.8 * terms["l2"] + terms["l1"]
        seen.append({k: v.item() for k, v in terms.items()})
        return terms

    logged = iteration_losses(model, criterion, x, backward=True)
    n = model.iterations
    assert len(refine) == n and len(render) == n + 1
    wplus = render[0].args[0]
    torch.testing.assert_close(wplus, model.encoder.encode(x).wplus)
    assert render[0].args[1] is None  # ŷ0 = G(w)
    for t, call in enumerate(refine):
        assert call.args[0] is x
        torch.testing.assert_close(call.args[2], render[t].out, rtol=0, atol=0)  # the previous image
        assert not call.args[2].requires_grad
        if t == 0:
            assert call.args[1] is None
        else:
            prev = refine[t - 1].out
            assert set(call.args[1]) == set(prev)
            for k, v in call.args[1].items():
                assert not v.requires_grad
                torch.testing.assert_close(v, prev[k], rtol=0, atol=0)
        assert any(v.abs().sum() > 0 for v in call.out.values())
    # gradients: the mean over the iterations of each one's loss gradient, recomputed from the recorded inputs
    params = [p for p in model.hypernet.parameters()]
    expected = [torch.zeros_like(p) for p in params]
    for t, call in enumerate(list(refine)):  # a copy: the calls below are recorded too
        y = model.render(wplus, model.refine(*call.args), **render[t + 1].kwargs)
        total = criterion(resize_to(y, 16), x, wplus, None)["total"]
        for e, g in zip(expected, torch.autograd.grad(total, params, allow_unused=True)):
            if g is not None:
                e += g / n
    for p, e in zip(params, expected):
        torch.testing.assert_close(p.grad if p.grad is not None else torch.zeros_like(p), e, rtol=1e-4, atol=1e-7)
    assert sum(e.abs().sum() for e in expected) > 0
    for name in ("l2", "l1", "total"):
        assert logged[name] == pytest.approx(sum(s[name] for s in seen[:n]) / n, rel=1e-6)
