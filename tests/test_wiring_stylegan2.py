"""Wiring of StyleGAN2's training step: which tensors, weights and schedules each loss term gets.

Three steps of the tiny preset run through ``train_stylegan2`` with the module-level functions the step calls
wrapped by recorders (``spy``); every term is compared with a value computed here by hand.
"""

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import genfer.train.batches as batches
import genfer.train.stylegan2 as sg
from genfer.config import STYLEGAN2_PRESETS, apply_overrides

STEPS = 3
R1_GAMMA, D_REG, PL_WEIGHT, G_REG, EMA_KIMG, RAMPUP, PL_SHRINK, PL_DECAY = 0.3, 2, 0.7, 2, 0.05, 5.0, 2, 0.25


def tiny_cfg(root: Path, *extra: str):
    return apply_overrides(STYLEGAN2_PRESETS["tiny"], [
        f"sources=[{{dataset: folder, root: '{root}', split: train}}]", "threads=1", "grid_images=0",
        f"r1_gamma={R1_GAMMA}", f"d_reg_every={D_REG}", f"pl_weight={PL_WEIGHT}", f"g_reg_every={G_REG}",
        f"ema_kimg={EMA_KIMG}", f"ema_rampup={RAMPUP}", f"pl_batch_shrink={PL_SHRINK}", f"pl_decay={PL_DECAY}",
        "betas=[0.5, 0.99]", *extra])


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, module_spy):
    """Run 3 steps with recorders on everything the step calls; returns (cfg, records, run_dir)."""
    from conftest import write_class_folders

    spy, monkeypatch = module_spy, module_spy.patch
    tmp_path = tmp_path_factory.mktemp("sg-wiring")
    cfg = tiny_cfg(write_class_folders(tmp_path / "data", {"train": 6}))
    events: list[tuple[str, object]] = []
    nets: dict[str, object] = {}
    d_calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    real_build_d, real_build_g = sg.build_discriminator, sg.build_generator

    def build_d(m):
        d = real_build_d(m)
        forward = d.forward

        def recording_forward(x):
            out = forward(x)
            d_calls.append((x, out))
            return out

        d.forward = recording_forward
        nets["d"] = d
        return d

    def build_g(m):
        g = real_build_g(m)
        nets.setdefault("g", g)  # the first generator built is G, the second G_EMA
        nets["g_ema"] = g
        return g

    monkeypatch.setattr(sg, "build_discriminator", build_d)
    monkeypatch.setattr(sg, "build_generator", build_g)

    def r1_by_hand(logits, images):
        (grad,) = torch.autograd.grad(logits.sum(), images, retain_graph=True)
        events.append(("r1_hand", grad.pow(2).sum(dim=(1, 2, 3)).mean().detach()))

    def pl_by_hand(images, latents, noise):
        h, w = images.shape[-2:]
        (grad,) = torch.autograd.grad((images * noise).sum() / math.sqrt(h * w), latents, retain_graph=True)
        events.append(("pl_hand", grad.pow(2).sum(dim=2).mean(dim=1).sqrt().detach()))

    def optimise_before(loss, module, optimizer, info):
        other = nets["g"] if module is nets["d"] else nets["d"]
        events.append(("optimise", {"loss": loss.detach().clone(), "module": module, "optimizer": optimizer,
                                        "other_frozen": not any(p.requires_grad for p in other.parameters()),
                                        "own_trainable": all(p.requires_grad for p in module.parameters())}))

    ema_log: list[dict] = []

    def accumulate_before(ema, model, beta):
        ema_log.append({"beta": beta, "ema": [p.detach().clone() for p in ema.parameters()],
                            "model": [p.detach().clone() for p in model.parameters()]})

    rng: dict[str, list] = {"aug": [], "fake": []}
    rec = {
        "aug": spy(batches, "augmented_batch", before=lambda images, c, gen, **kw: rng["aug"].append(gen.get_state())),
        "fake": spy(sg, "fake_batch", before=lambda g, gen, **kw: rng["fake"].append(gen.get_state())), "d_loss": spy(sg, "d_logistic_loss"),
        "g_loss": spy(sg, "g_nonsaturating_loss"), "r1": spy(sg, "r1_penalty", before=r1_by_hand),
        "pl_len": spy(sg, "path_lengths", before=pl_by_hand), "pl_pen": spy(sg, "path_length_penalty"),
        "optimise": spy(sg, "_optimise", before=optimise_before), "accumulate": spy(sg, "accumulate", before=accumulate_before),
    }
    sg.train_stylegan2(cfg, tmp_path / "run", progress=False, max_steps=STEPS)
    rec.update(events=events, nets=nets, d_calls=d_calls, ema=ema_log, rng=rng)
    return cfg, rec, tmp_path / "run"


def d_output_for(rec, x):
    """D's logits for the call whose input was ``x`` (the very tensor)."""
    outs = [out for inp, out in rec["d_calls"] if inp is x]
    assert len(outs) >= 1, "D never saw this batch"
    return outs


def test_d_loss_gets_d_of_real_and_d_of_fake_in_their_slots(recorded):
    cfg, rec, _ = recorded
    b = cfg.batch_size
    assert len(rec["d_loss"]) == STEPS and len(rec["aug"]) == STEPS
    d_fakes = [c for c in rec["fake"] if not c.kwargs.get("return_latents")]
    assert len(d_fakes) == 2 * STEPS  # one for D, one for G per step
    for s, call in enumerate(rec["d_loss"]):
        real, fake = rec["aug"][s].out, d_fakes[2 * s].out
        assert real.shape == fake.shape == (b, 1, 16, 16)
        real_logits, fake_logits = call.args
        assert real_logits is d_output_for(rec, real)[0], "first argument of d_logistic_loss must be D(real)"
        assert fake_logits is d_output_for(rec, fake)[0], "second argument of d_logistic_loss must be D(fake)"
        expected = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
        torch.testing.assert_close(call.out, expected)
        assert expected.item() == pytest.approx(
            (torch.log1p(torch.exp(fake_logits)).mean() + torch.log1p(torch.exp(-real_logits)).mean()).item(), rel=1e-5)


def test_each_draw_comes_from_its_own_stream_of_the_step(recorded):
    """Augmentation, D's fakes, G's fakes and the path-length batch: step_generator(seed, step, stream), 4 streams."""
    cfg, rec, _ = recorded

    def state(s, stream):
        return sg.step_generator(cfg.seed, s, stream).get_state()

    assert len(rec["rng"]["aug"]) == STEPS
    for s in range(STEPS):
        assert torch.equal(rec["rng"]["aug"][s], state(s, sg.AUGMENT_STREAM)), f"augmentation of step {s}"
    want = []
    for s in range(STEPS):
        want += [(s, sg.D_STREAM), (s, sg.G_STREAM)] + ([(s, sg.PL_STREAM)] if s % G_REG == 0 else [])
    assert len(rec["rng"]["fake"]) == len(want)
    for got, (s, stream) in zip(rec["rng"]["fake"], want):
        assert torch.equal(got, state(s, stream)), f"step {s} stream {stream}"
    assert len({sg.AUGMENT_STREAM, sg.D_STREAM, sg.G_STREAM, sg.PL_STREAM}) == 4


def test_g_loss_is_non_saturating_on_d_of_a_fresh_fake(recorded):
    _cfg, rec, _ = recorded
    d_fakes = [c for c in rec["fake"] if not c.kwargs.get("return_latents")]
    assert len(rec["g_loss"]) == STEPS
    for s, call in enumerate(rec["g_loss"]):
        g_fake = d_fakes[2 * s + 1].out
        assert g_fake.requires_grad, "G's fakes must carry G's graph"
        assert not d_fakes[2 * s].out.requires_grad, "D's fakes are detached from G"
        (logits,) = call.args
        assert logits is d_output_for(rec, g_fake)[0]
        torch.testing.assert_close(call.out, torch.log1p(torch.exp(-logits)).mean())


def optimise_events(rec):
    return [e for k, e in rec["events"] if k == "optimise"]


def test_optimiser_calls_weights_and_lazy_schedule(recorded):
    """D loss, R1·γ/2·d_reg_every (steps 0, 2), G loss, PL·pl_weight·g_reg_every (steps 0, 2), in this order."""
    _cfg, rec, _ = recorded
    d, g = rec["nets"]["d"], rec["nets"]["g"]
    ops = optimise_events(rec)
    kinds = []
    for s in range(STEPS):
        kinds += ["d"] + (["r1"] if s % D_REG == 0 else []) + ["g"] + (["pl"] if s % G_REG == 0 else [])
    assert len(ops) == len(kinds) == 10
    r1_hand = [e for k, e in rec["events"] if k == "r1_hand"]
    pl_hand = [e for k, e in rec["events"] if k == "pl_hand"]
    assert len(rec["r1"]) == len(r1_hand) == 2 and len(rec["pl_pen"]) == len(pl_hand) == 2
    it = {"d": iter(rec["d_loss"]), "g": iter(rec["g_loss"]), "r1": iter(zip(rec["r1"], r1_hand)),
          "pl": iter(zip(rec["pl_pen"], pl_hand))}
    for kind, op in zip(kinds, ops):
        module = d if kind in ("d", "r1") else g
        assert op["module"] is module, kind
        assert {id(p) for grp in op["optimizer"].param_groups for p in grp["params"]} == {id(p) for p in module.parameters()}
        assert op["other_frozen"] and op["own_trainable"], f"{kind}: the other network must be frozen"
        if kind in ("d", "g"):
            torch.testing.assert_close(op["loss"], next(it[kind]).out.detach())
        elif kind == "r1":
            call, hand = next(it["r1"])
            torch.testing.assert_close(call.out.detach(), hand)
            torch.testing.assert_close(op["loss"], R1_GAMMA / 2 * D_REG * hand)
        else:
            call, hand = next(it["pl"])
            penalty, _ = call.out
            torch.testing.assert_close(op["loss"], PL_WEIGHT * G_REG * penalty.detach())


def test_r1_is_taken_on_the_real_batch(recorded):
    _cfg, rec, _ = recorded
    for k, call in enumerate(rec["r1"]):
        real = rec["aug"][k * D_REG].out  # steps 0 and 2
        logits, images = call.args
        assert images is real and images.requires_grad
        assert any(out is logits for inp, out in rec["d_calls"] if inp is real)


def test_path_length_batch_running_mean_and_decay(recorded):
    cfg, rec, _ = recorded
    b = cfg.batch_size
    pl_fakes = [c for c in rec["fake"] if c.kwargs.get("return_latents")]
    assert len(pl_fakes) == 2 == len(rec["pl_len"])
    mean = 0.0
    pl_hand = [e for k, e in rec["events"] if k == "pl_hand"]
    for fake, lens, pen, hand in zip(pl_fakes, rec["pl_len"], rec["pl_pen"], pl_hand):
        images, latents = fake.out
        assert images.shape[0] == b // PL_SHRINK and fake.kwargs["batch"] == b // PL_SHRINK
        assert lens.args[0] is images and lens.args[1] is latents and lens.args[2].shape == images.shape
        torch.testing.assert_close(lens.out.detach(), hand)
        assert pen.args[0] is lens.out and pen.args[1] == pytest.approx(mean)
        assert pen.kwargs["decay"] == PL_DECAY
        assert pen.kwargs["batch_mean"] == pytest.approx(lens.out.detach().mean().item(), rel=1e-5)
        new_mean = mean + PL_DECAY * (lens.out.detach().mean().item() - mean)
        penalty, got_mean = pen.out
        assert got_mean == pytest.approx(new_mean, rel=1e-5)
        torch.testing.assert_close(penalty.detach(), (lens.out.detach() - new_mean).pow(2).mean())
        mean = new_mean


def test_ema_beta_and_update(recorded):
    """g_ema ← β·g_ema + (1 − β)·G after each G step, β = 0.5^(b / min(ema_kimg·1000, rampup·images seen))."""
    cfg, rec, _ = recorded
    b = cfg.batch_size
    ema = rec["ema"]
    assert len(ema) == 1 + STEPS and ema[0]["beta"] == 0.0  # g_ema starts as a copy of G
    for s in range(STEPS):
        images = min(EMA_KIMG * 1000, s * b * RAMPUP)
        beta = 0.5 ** (b / images) if images > 0 else 0.0
        assert ema[1 + s]["beta"] == pytest.approx(beta, rel=1e-6, abs=1e-12), f"step {s}"
    assert 0.8 < ema[2]["beta"] < ema[3]["beta"] < 1  # steps 1 and 2 really average
    g_ema = rec["nets"]["g_ema"]
    last = ema[-1]
    for e_old, p, e_new in zip(last["ema"], last["model"], g_ema.parameters()):
        torch.testing.assert_close(e_new, last["beta"] * e_old + (1 - last["beta"]) * p)
    for e, bfr in zip(g_ema.buffers(), rec["nets"]["g"].buffers()):
        torch.testing.assert_close(e, bfr)


def test_lazy_regularisation_adam_correction(recorded):
    cfg, rec, _ = recorded
    ops = optimise_events(rec)
    opt_d = next(o["optimizer"] for o in ops if o["module"] is rec["nets"]["d"])
    opt_g = next(o["optimizer"] for o in ops if o["module"] is rec["nets"]["g"])
    for opt, every in ((opt_d, D_REG), (opt_g, G_REG)):
        ratio = every / (every + 1)
        group = opt.param_groups[0]
        assert group["lr"] == pytest.approx(cfg.lr * ratio)
        assert group["betas"] == pytest.approx((cfg.betas[0] ** ratio, cfg.betas[1] ** ratio))


def test_logged_scalars_are_the_last_steps_values(recorded):
    cfg, rec, run = recorded
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in records if r["event"] == "train"][-1]
    assert last["step"] == STEPS
    real_logits, fake_logits = rec["d_loss"][-1].args
    assert last["d"] == pytest.approx(rec["d_loss"][-1].out.item(), abs=1e-5)
    assert last["g"] == pytest.approx(rec["g_loss"][-1].out.item(), abs=1e-5)
    assert last["real_score"] == pytest.approx(real_logits.mean().item(), abs=1e-5)
    assert last["fake_score"] == pytest.approx(fake_logits.mean().item(), abs=1e-5)
    assert last["kimg"] == pytest.approx(STEPS * cfg.batch_size / 1000)
    assert last["r1"] == pytest.approx(rec["r1"][-1].out.item(), abs=1e-5)
    assert last["pl"] == pytest.approx(rec["pl_pen"][-1].out[0].item(), abs=1e-5)


def test_d_warmup_steps_leave_g_alone(tiny_dataset, tmp_path, spy):
    """With d_warmup_kimg covering 2 steps, steps 0-1 optimise D only; G starts at step 2."""
    cfg = tiny_cfg(tiny_dataset, "d_warmup_kimg=0.016")
    ops = spy(sg, "_optimise")
    g_losses = spy(sg, "g_nonsaturating_loss")
    sg.train_stylegan2(cfg, tmp_path / "run", progress=False, max_steps=STEPS)
    assert len(g_losses) == 1
    # steps 0 (D, R1), 1 (D), 2 (D, R1, G, PL)
    assert len(ops) == 7
