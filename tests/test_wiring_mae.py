"""Wiring of MAE pretraining's step: the loss is taken on the MASKED patches (genfer's mask: 1 = removed from the
encoder's input, MAE's convention), against the patchified input, per-patch normalised when ``norm_pix``."""

import json

import pytest
import torch

import genfer.train.batches as batches
import genfer.train.mae as mae_train
from genfer.config import MAE_TRAIN_PRESETS, apply_overrides


def patches_by_hand(x, p):
    """(B, C, H, W) -> (B, N, p*p*C), patches row-major, pixels (row, col, channel) inside a patch."""
    b, c, h, w = x.shape
    out = torch.empty(b, (h // p) * (w // p), p * p * c)
    for i in range(h // p):
        for j in range(w // p):
            out[:, i * (w // p) + j] = x[:, :, i * p : (i + 1) * p, j * p : (j + 1) * p].permute(0, 2, 3, 1).reshape(b, -1)
    return out


def masked_loss_by_hand(pred, x, mask, p, norm_pix):
    t = patches_by_hand(x, p).double()
    if norm_pix:
        n = t.shape[-1]
        mean = t.mean(-1, keepdim=True)
        var = ((t - mean) ** 2).sum(-1, keepdim=True) / (n - 1)
        t = (t - mean) / (var + 1e-6).sqrt()
    per_patch = ((pred.double() - t) ** 2).mean(-1)
    return (per_patch * mask).sum() / mask.sum(), (per_patch * (1 - mask)).sum() / (1 - mask).sum()


def run(tmp, spy, mp, *extra, steps=2):
    from conftest import write_class_folders

    root = write_class_folders(tmp / "data", {"train": 12})
    cfg = apply_overrides(MAE_TRAIN_PRESETS["tiny"], [
        f"sources=[{{dataset: folder, root: '{root}', split: train}}]", "threads=1", "grid_images=0", *extra])
    rec: dict = {}
    def record_model(model):
        rec["model"], rec["forward"] = model, spy(model, "forward")

    spy(mae_train, "build_mae", after=record_model)
    rec["aug"] = spy(batches, "augmented_batch")
    rec["loss"] = spy(mae_train, "mae_loss")
    rec["clip"] = []
    real_clip = torch.nn.utils.clip_grad_norm_

    def clip(parameters, max_norm, *args, **kwargs):
        parameters = list(parameters)
        rec["clip"].append({"params": parameters, "max_norm": max_norm})
        return real_clip(parameters, max_norm, *args, **kwargs)

    mp.setattr(torch.nn.utils, "clip_grad_norm_", clip)
    mae_train.train_mae(cfg, tmp / "run", progress=False, max_steps=steps)
    rec["metrics"] = [json.loads(line) for line in (tmp / "run" / "metrics.jsonl").read_text().splitlines()]
    return cfg, rec


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, module_spy):
    return run(tmp_path_factory.mktemp("mae-wiring"), module_spy, module_spy.patch, "optim.grad_clip=0.7",
               "optim.batch_size=8")  # 8 images of 16 patches: (B, N) and (N, B) differ


def train_calls(rec):
    """The training step's (forward, loss) pairs (validation runs in eval mode with 16 held-out images)."""
    pairs = []
    for aug in rec["aug"]:
        (fwd,) = [f for f in rec["forward"] if f.args[0] is aug.out]
        (loss,) = [c for c in rec["loss"] if c.args[0] is fwd.out.pred]
        pairs.append((fwd, loss))
    return pairs


def test_loss_gets_prediction_patchified_input_and_mask(recorded):
    cfg, rec = recorded
    p = cfg.mae.encoder.patch_size
    assert len(rec["aug"]) == 2
    for aug, (fwd, loss) in zip(rec["aug"], train_calls(rec)):
        x = aug.out
        assert fwd.args[0] is x
        pred, target, mask = loss.args
        assert pred is fwd.out.pred
        assert torch.equal(mask, fwd.out.mask), "the loss must be weighted by the model's mask (1 = masked)"
        torch.testing.assert_close(target, patches_by_hand(x, p), rtol=0, atol=0)
        assert loss.kwargs["norm_pix"] is cfg.mae.norm_pix is True


def test_mask_marks_removed_patches_the_highest_noise(recorded):
    """1 = masked: the N − K patches of highest noise, which the encoder never sees."""
    cfg, rec = recorded
    n = rec["model"].num_patches
    keep = round(n * (1 - cfg.mae.mask_ratio))
    for fwd, _ in train_calls(rec):
        noise, mask = fwd.kwargs["noise"], fwd.out.mask
        assert noise.shape == mask.shape
        assert (mask.sum(1) == n - keep).all()
        order = noise.argsort(dim=1)
        assert (mask.gather(1, order[:, :keep]) == 0).all() and (mask.gather(1, order[:, keep:]) == 1).all()
    # the encoder's output does not depend on the masked patches' pixels, and does on the kept ones
    model = rec["model"].eval()
    x = rec["aug"][0].out.clone()
    noise = rec["forward"][0].kwargs["noise"]
    p, side = cfg.mae.encoder.patch_size, cfg.mae.encoder.image_size // cfg.mae.encoder.patch_size
    with torch.no_grad():
        base = model(x, noise=noise)
        masked = int(base.mask[0].argmax())
        kept = int((1 - base.mask[0]).argmax())
        for patch, should_change in ((masked, False), (kept, True)):
            y = x.clone()
            r, c = divmod(patch, side)
            y[0, :, r * p : (r + 1) * p, c * p : (c + 1) * p] += 0.5
            latent = model(y, noise=noise).latent
            assert (not torch.allclose(latent[0], base.latent[0])) == should_change


def test_masking_noise_is_the_steps_own_stream(recorded):
    """Noise of step s: ``torch.rand(B, N)`` from ``step_generator(seed, s, MASK_STREAM)`` (what makes resume exact)."""
    cfg, rec = recorded
    n = rec["model"].num_patches
    for s, (fwd, _) in enumerate(train_calls(rec)):
        want = torch.rand(cfg.optim.batch_size, n, generator=mae_train.step_generator(cfg.seed, s, mae_train.MASK_STREAM))
        assert torch.equal(fwd.kwargs["noise"], want)


def test_gradient_clipping(recorded):
    _, rec = recorded
    assert len(rec["clip"]) == 2
    for call in rec["clip"]:
        assert call["max_norm"] == 0.7
        assert {id(p) for p in call["params"]} == {id(p) for p in rec["model"].parameters()}


def test_loss_value_is_on_masked_patches_with_norm_pix(recorded):
    cfg, rec = recorded
    for aug, (fwd, loss) in zip(rec["aug"], train_calls(rec)):
        on_masked, on_visible = masked_loss_by_hand(fwd.out.pred.detach(), aug.out, fwd.out.mask, cfg.mae.encoder.patch_size,
                                                    norm_pix=True)
        assert abs(on_masked - on_visible) > 1e-3  # the test can tell the two apart
        assert loss.out.item() == pytest.approx(on_masked.item(), rel=1e-5)
    last = [r for r in rec["metrics"] if r["event"] == "train"][-1]
    assert last["step"] == 2 and last["loss"] == pytest.approx(rec["loss"][1].out.item(), abs=1e-5)
    assert cfg.optim.batch_size == 8 and rec["aug"][0].out.shape[0] == 8
    assert last["epoch"] == pytest.approx(2 / ((cfg.limit - cfg.holdout) // cfg.optim.batch_size), abs=1e-5)


def test_without_norm_pix_the_target_is_the_raw_patches(tmp_path, spy, monkeypatch):
    cfg, rec = run(tmp_path, spy, monkeypatch, "mae.norm_pix=false", steps=1)
    (aug,), ((fwd, loss),) = rec["aug"], train_calls(rec)
    assert loss.kwargs["norm_pix"] is False
    on_masked, _ = masked_loss_by_hand(fwd.out.pred.detach(), aug.out, fwd.out.mask, cfg.mae.encoder.patch_size,
                                       norm_pix=False)
    assert loss.out.item() == pytest.approx(on_masked.item(), rel=1e-5)
    assert cfg.optim.grad_clip == 0 and rec["clip"] == []  # no clipping asked, none done
