"""Wiring of pSp's step: ``0.8·L2 + 1·LPIPS + 0.1·ID + 1e-4·‖W+ − w̄‖`` on (reconstruction, input) with the
generator frozen. The perceptual and identity networks are replaced by small hand-made functions so every
term can be recomputed here."""

import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file as load_state_dict

import genfer.train.batches as batches
import genfer.train.psp as psp_train
from genfer.config import (
    PSP_PRESETS,
    STYLEGAN2_PRESETS,
    InversionLossWeights,
    apply_overrides,
)

STEPS = 2


def perceptual(a, b):
    """A stand-in distance (B,): 3 × mean |a − b| on a 2× pooled copy."""
    return 3 * (F.avg_pool2d(a, 2) - F.avg_pool2d(b, 2)).abs().flatten(1).mean(1)


def identity(a):
    """A stand-in embedder (B, 16): 4×4 pooled pixels, shifted so cosines are not trivial."""
    return F.adaptive_avg_pool2d(a, 4).flatten(1) + torch.linspace(-1, 1, 16)


def generator_folder(folder, g_cfg):
    """An untrained tiny generator written as a finished StyleGAN2 run's model folder."""
    from safetensors.torch import save_file

    from genfer.config import to_dict
    from genfer.models.stylegan2 import average_latent, build_generator

    torch.manual_seed(0)
    g = build_generator(g_cfg.model)
    state = dict(g.state_dict()) | {"latent_avg": average_latent(g)}
    folder.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(to_dict(g_cfg), indent=2))
    return folder


def hand_terms(y, x, wplus, avg):
    """The four terms written out from their definitions."""
    ea, eb = identity(y.clamp(-1, 1)), identity(x)
    return {"l2": ((y - x) ** 2).mean(), "lpips": perceptual(y.clamp(-1, 1), x).mean(),
            "id": (1 - (ea * eb).sum(1) / (ea.norm(dim=1) * eb.norm(dim=1))).mean(),
            "w_reg": (wplus - avg).flatten(1).norm(dim=1).mean()}


def term_grads(terms, y, wplus):
    return {name: torch.autograd.grad(t, (y, wplus), retain_graph=True, allow_unused=True) if t.requires_grad
            else (None, None) for name, t in terms.items() if name != "total"}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, module_spy):
    from conftest import write_class_folders

    spy, mp = module_spy, module_spy.patch
    tmp = tmp_path_factory.mktemp("psp-wiring")
    root = write_class_folders(tmp / "data", {"train": 6})
    g_cfg = STYLEGAN2_PRESETS["tiny"]
    gen_folder = generator_folder(tmp / "gan" / "final", g_cfg)
    cfg = apply_overrides(PSP_PRESETS["tiny"], [
        f"sources=[{{dataset: folder, root: '{root}', split: train}}]", "threads=1", f"generator={gen_folder}",
        "loss.weights.id=0.1", "grid_images=0"])
    rec: dict = {"gen_folder": gen_folder, "criterion_calls": []}
    real_criterion = psp_train.InversionCriterion

    class Criterion(real_criterion):
        def __init__(self, loss_cfg, **kw):
            super().__init__(loss_cfg, perceptual=perceptual, identity=identity, **{k: v for k, v in kw.items()
                                                                                     if k == "device"})

        def __call__(self, y, x, wplus, latent_avg):
            out = super().__call__(y, x, wplus, latent_avg)
            # gradients of each term w.r.t. the reconstruction and the code, for comparison with hand-made terms
            rec["criterion_calls"].append({"y": y, "x": x, "wplus": wplus, "latent_avg": latent_avg, "out": out,
                                               "grads": term_grads(out, y, wplus),
                                               "hand_grads": term_grads(hand_terms(y, x, wplus, latent_avg), y, wplus)})
            return out

    mp.setattr(psp_train, "InversionCriterion", Criterion)
    def record_psp(model):
        rec["psp"], rec["forward"] = model, spy(model, "forward")
        spy(model.decoder, "make_noise", before=lambda *a, **k: rec["rng"]["noise"].append(k["generator"].get_state()))

    spy(psp_train, "build_psp", after=record_psp)
    rec["opt"] = spy(psp_train, "build_encoder_optimizer")
    rec["rng"] = {"aug": [], "noise": []}
    rec["aug"] = spy(batches, "augmented_batch",
                     before=lambda images, c, gen, **kw: rec["rng"]["aug"].append(gen.get_state()))
    psp_train.train_psp(cfg, tmp / "run", progress=False, max_steps=STEPS)
    rec["metrics"] = [json.loads(line) for line in (tmp / "run" / "metrics.jsonl").read_text().splitlines()]
    return cfg, rec


def test_weights_are_iferS_and_the_configs():
    w = InversionLossWeights()
    assert (w.l2, w.lpips, w.id, w.w_reg) == (0.8, 1.0, 0.1, 1e-4)


def test_each_term_and_the_weighted_total(recorded):
    cfg, rec = recorded
    w = cfg.loss.weights
    assert (w.l2, w.lpips, w.id, w.w_reg) == (0.8, 1.0, 0.1, 1e-4)
    calls = rec["criterion_calls"]
    assert len(calls) == STEPS
    for call, fwd in zip(calls, rec["forward"]):
        y, x, wplus, avg = call["y"], call["x"], call["wplus"], call["latent_avg"]
        assert x is fwd.args[0], "the criterion compares with the encoder's input"
        assert wplus is fwd.out.wplus and avg is rec["psp"].encoder.latent_avg
        torch.testing.assert_close(y, fwd.out.image)  # same size here: resize_to is the identity
        terms = call["out"]
        with torch.no_grad():
            hand_t = hand_terms(y, x, wplus, avg)
        l2, lp, idl, reg = (hand_t[k] for k in ("l2", "lpips", "id", "w_reg"))
        for name, hand in hand_t.items():
            assert terms[name].item() == pytest.approx(hand.item(), rel=1e-5), name
            assert hand.item() > 1e-4, name  # every term matters in this check
            # and its gradient: through the reconstruction y (the input's side is a fixed target) or the code
            want = call["hand_grads"][name]
            for got_g, want_g, what in zip(call["grads"][name], want, ("y", "W+")):
                if want_g is None:
                    assert got_g is None or not got_g.abs().sum(), f"{name}: no gradient w.r.t. {what} expected"
                else:
                    assert got_g is not None, f"{name}: no gradient w.r.t. {what}"
                    torch.testing.assert_close(got_g, want_g, rtol=1e-4, atol=1e-8, msg=f"{name} d/d{what}")
        total = 0.8 * l2 + 1.0 * lp + 0.1 * idl + 1e-4 * reg
        assert terms["total"].item() == pytest.approx(total.item(), rel=1e-6)
    last = [r for r in rec["metrics"] if r["event"] == "train"][-1]
    assert last["step"] == STEPS
    for name in ("l2", "lpips", "id", "w_reg", "total"):
        assert last[name] == pytest.approx(calls[-1]["out"][name].item(), abs=1e-5), name


def test_random_draws_come_from_the_steps_streams(recorded):
    cfg, rec = recorded
    assert len(rec["rng"]["aug"]) == STEPS
    for s in range(STEPS):
        want = psp_train.step_generator(cfg.seed, s, psp_train.AUGMENT_STREAM).get_state()
        assert torch.equal(rec["rng"]["aug"][s], want), f"augmentation of step {s}"
    assert cfg.train_noise and len(rec["rng"]["noise"]) == STEPS
    for s in range(STEPS):
        want = psp_train.step_generator(cfg.seed, s, psp_train.NOISE_STREAM).get_state()
        assert torch.equal(rec["rng"]["noise"][s], want), f"noise maps of step {s}"


def test_latent_average_is_the_generators(recorded):
    _, rec = recorded
    gen = load_state_dict(rec["gen_folder"] / "model.safetensors")
    torch.testing.assert_close(rec["psp"].encoder.latent_avg, gen["latent_avg"])


def test_generator_frozen_encoder_trained(recorded):
    _, rec = recorded
    psp = rec["psp"]
    gen = load_state_dict(rec["gen_folder"] / "model.safetensors")
    dec = psp.decoder.state_dict()
    for k, v in dec.items():
        torch.testing.assert_close(v, gen[k], rtol=0, atol=0, msg=k)
    assert not any(p.requires_grad for p in psp.decoder.parameters())
    assert all(p.grad is None for p in psp.decoder.parameters())
    (opt_call,) = rec["opt"]
    params = {id(p) for grp in opt_call.out.param_groups for p in grp["params"]}
    assert params == {id(p) for p in psp.encoder.parameters() if p.requires_grad}
    assert all(p.grad is not None for p in psp.encoder.parameters() if p.requires_grad)
