"""Wiring of the recognizer's step: cross-entropy of the model's logits on the augmented batch against that
batch's own labels, with the configured label smoothing; gradient clipping; the EMA update's step count."""

import json

import pytest
import torch

import genfer.train.batches as batches
import genfer.train.recognizer as rg
from genfer.config import apply_overrides, preset

SMOOTHING, CLIP, STEPS = 0.15, 0.5, 2


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, module_spy):
    from conftest import record_weight_average, write_class_folders

    spy, mp = module_spy, module_spy.patch
    tmp = tmp_path_factory.mktemp("rec-wiring")
    root = write_class_folders(tmp / "data", {"train": 12})
    cfg = apply_overrides(preset("tiny"), [
        "data.dataset=folder", f"data.root={root}", "data.val_split=", "data.target=label", "data.limit_train=0",
        "threads=1", f"optim.label_smoothing={SMOOTHING}", f"optim.grad_clip={CLIP}"])
    rec: dict = {"ema_updates": []}
    def record_model(model):
        rec["model"], rec["forward"] = model, spy(model, "forward")

    spy(rg, "build_recognizer", after=record_model)

    record_weight_average(mp, rec)
    rec["data"] = spy(rg, "load_train_val")
    rec["aug_rng"] = []
    rec["aug"] = spy(batches, "augmented_batch", before=lambda images, cfg_, gen, **kw: rec["aug_rng"].append(gen.get_state()))
    rec["ce"] = spy(torch.nn.functional, "cross_entropy")
    rec["clip"] = []
    real_clip = torch.nn.utils.clip_grad_norm_

    def clip(parameters, max_norm, *args, **kwargs):
        parameters = list(parameters)
        out = real_clip(parameters, max_norm, *args, **kwargs)
        rec["clip"].append({"params": parameters, "max_norm": max_norm,
                                "after": torch.cat([p.grad.flatten() for p in parameters if p.grad is not None]).norm()})
        return out

    mp.setattr(torch.nn.utils, "clip_grad_norm_", clip)
    rg.train_recognizer(cfg, tmp / "run", progress=False, max_steps=STEPS)
    train = rec["data"][0].out[0]
    rec["train"] = train
    rec["metrics"] = [json.loads(line) for line in (tmp / "run" / "metrics.jsonl").read_text().splitlines()]
    return cfg, rec


def rows_of(train, raw):
    return [next(i for i in range(len(train.images)) if torch.equal(train.images[i], r)) for r in raw]


def test_cross_entropy_gets_logits_of_the_batch_and_its_labels(recorded):
    cfg, rec = recorded
    assert len(rec["ce"]) == len(rec["aug"]) == STEPS
    for aug, ce in zip(rec["aug"], rec["ce"]):
        logits, y = ce.args
        (fwd,) = [f for f in rec["forward"] if f.args[0] is aug.out]
        assert logits is fwd.out and logits.shape == (cfg.optim.batch_size, cfg.model.num_classes)
        rows = rows_of(rec["train"], aug.args[0])
        assert torch.equal(y, rec["train"].targets[rows])  # (B, K) one-hot targets of data.target=label
        assert torch.equal(y.argmax(1), rec["train"].labels[rows])
        assert ce.kwargs["label_smoothing"] == SMOOTHING


def test_augmentation_draws_from_the_steps_generator(recorded):
    cfg, rec = recorded
    for s, state in enumerate(rec["aug_rng"]):
        assert torch.equal(state, rg.step_generator(cfg.seed, s).get_state()), f"step {s}"


def test_loss_value_is_label_smoothed_cross_entropy(recorded):
    cfg, rec = recorded
    k = cfg.model.num_classes
    for ce in rec["ce"]:
        logits, y = ce.args
        logp = torch.log_softmax(logits.double(), 1)
        target = (1 - SMOOTHING) * y.double() + SMOOTHING / k
        assert ce.out.item() == pytest.approx(-(target * logp).sum(1).mean().item(), rel=1e-6)
    last = [r for r in rec["metrics"] if r["event"] == "train"][-1]
    assert last["step"] == STEPS and last["loss"] == pytest.approx(rec["ce"][-1].out.item(), abs=1e-5)
    assert last["epoch"] == pytest.approx(STEPS / (96 // cfg.optim.batch_size), abs=1e-5)


def test_gradients_are_clipped_to_the_configured_norm(recorded):
    _, rec = recorded
    assert len(rec["clip"]) == STEPS
    for call in rec["clip"]:
        assert call["max_norm"] == CLIP and call["after"] <= CLIP * (1 + 1e-5)
        assert {id(p) for p in call["params"]} == {id(p) for p in rec["model"].parameters()}


def test_ema_follows_the_model_with_warmup_decay(recorded):
    cfg, rec = recorded
    assert rec["ema_kwargs"]["decay"] == cfg.optim.ema_decay
    updates = rec["ema_updates"]
    assert [u["step"] for u in updates] == list(range(1, STEPS + 1))
    for u in updates:
        assert u["module"] is rec["model"]
    last = updates[-1]
    t = last["step"] - 1  # timm's warm-up decay 1 - (1 + t)^(-2/3) with t = step - 1 (0 on the first update)
    decay = min(cfg.optim.ema_decay, 1 - (1 + t) ** (-2 / 3))
    assert 0.3 < decay < 0.9
    for e_old, p, e_new in zip(last["before"], last["params"], rec["ema"].module.parameters()):
        torch.testing.assert_close(e_new, decay * e_old + (1 - decay) * p, rtol=1e-5, atol=1e-6)


def test_no_clipping_when_grad_clip_is_zero(tmp_path, spy):
    from conftest import write_class_folders

    root = write_class_folders(tmp_path / "data", {"train": 4})
    cfg = apply_overrides(preset("tiny"), [
        "data.dataset=folder", f"data.root={root}", "data.val_split=", "data.target=label", "data.limit_train=0",
        "threads=1", "optim.grad_clip=0"])
    clips = spy(torch.nn.utils, "clip_grad_norm_")
    rg.train_recognizer(cfg, tmp_path / "run", progress=False, max_steps=1)
    assert clips == []


def test_learning_rate_follows_warmup_then_cosine(recorded):
    """The scheduler steps once per step: after step s the rate is lr · factor(s + 1) (warm-up, then cosine)."""
    import math

    cfg, rec = recorded
    steps_per_epoch = 96 // cfg.optim.batch_size  # 8 classes x 12 images
    total, warmup = round(cfg.optim.epochs * steps_per_epoch), int(cfg.optim.warmup_epochs * steps_per_epoch)
    progress = (STEPS - warmup) / (total - warmup)
    expected = cfg.optim.lr * 0.5 * (1 + math.cos(math.pi * progress))
    last = [r for r in rec["metrics"] if r["event"] == "train"][-1]
    assert last["lr"] == pytest.approx(expected, abs=1e-5) and expected < 0.95 * cfg.optim.lr  # logged to 5 decimals
