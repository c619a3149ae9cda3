"""Wiring of ASIT's and IFER's steps: what each loss term receives and returns.

ASIT: ``0.8·L2 + 1·LPIPS + 0.1·ID + 1e-4·L_reg + 1e-3·L_adv + dal_weight·L_alig`` on (reconstruction, input);
IID's E pass judges (G's image, x) with m_q frozen, D's step judges (x, x) → 1 and (detached y, x) → −1, then m_k
follows m_q by the momentum update; DAL pairs the encoder's stages with the generator's maps of the same side;
m_q / m_k start from the generator folder's kept discriminator. IFER: cross-entropy of the model's logits on the
batch against its one-hot labels, AdamW groups at lr and lr·encoder_lr_scale, the encoder from the ASIT model.
"""

import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file as load_state_dict
from safetensors.torch import save_file

import genfer.train.asit as asit_train
import genfer.train.batches as batches
import genfer.train.ifer as ifer_train
from genfer.config import (
    ASIT_PRESETS,
    IFER_PRESETS,
    STYLEGAN2_PRESETS,
    apply_overrides,
    replace,
    to_dict,
)
from genfer.config.asit import TINY_ASIT_MODEL
from genfer.models.iid import InversionDiscriminator, unbalanced_augment

STEPS = 2


def perceptual(a, b):
    """A stand-in distance (B,): 3 × mean |a − b| on a 2× pooled copy."""
    return 3 * (F.avg_pool2d(a, 2) - F.avg_pool2d(b, 2)).abs().flatten(1).mean(1)


def identity(a):
    """A stand-in embedder (B, 16): 4×4 pooled pixels, shifted so cosines are not trivial."""
    return F.adaptive_avg_pool2d(a, 4).flatten(1) + torch.linspace(-1, 1, 16)


def generator_folder(folder, *, keep_discriminator: bool):
    """An untrained 32 px generator written as a finished StyleGAN2 run's model folder (with its D if asked)."""
    from genfer.models.stylegan2 import (
        average_latent,
        build_discriminator,
        build_generator,
    )

    g_cfg = replace(STYLEGAN2_PRESETS["tiny"], model=TINY_ASIT_MODEL)
    torch.manual_seed(0)
    g = build_generator(g_cfg.model)
    folder.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in (dict(g.state_dict()) | {"latent_avg": average_latent(g)}).items()},
              str(folder / "model.safetensors"))
    if keep_discriminator:
        torch.manual_seed(5)
        d = build_discriminator(g_cfg.model)
        save_file({k: v.contiguous() for k, v in d.state_dict().items()}, str(folder / "discriminator.safetensors"))
    (folder / "config.json").write_text(json.dumps({"method": "stylegan2", **to_dict(g_cfg)}, indent=2))
    return folder


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, module_spy):
    from conftest import write_class_folders

    spy, mp = module_spy, module_spy.patch
    tmp = tmp_path_factory.mktemp("asit-wiring")
    root = write_class_folders(tmp / "data", {"train": 6})
    gen_folder = generator_folder(tmp / "gan" / "final", keep_discriminator=True)
    cfg = apply_overrides(ASIT_PRESETS["tiny"], [
        f"sources=[{{dataset: folder, root: '{root}', split: train}}]", "threads=1", f"generator={gen_folder}",
        "loss.weights.id=0.1", "grid_images=0", "adv_weight=0.01", "dal_weight=0.5", f"steps={STEPS}"])
    rec: dict = {"gen_folder": gen_folder, "criterion": [], "adv_calls": [], "momentum": []}
    real_criterion = asit_train.InversionCriterion

    class Criterion(real_criterion):
        def __init__(self, loss_cfg, **kw):
            super().__init__(loss_cfg, perceptual=perceptual, identity=identity, device=kw.get("device", "cpu"))

        def __call__(self, y, x, wplus, latent_avg):
            out = super().__call__(y, x, wplus, latent_avg)
            if torch.is_grad_enabled():  # the training steps' calls, not the held-out evaluation's
                rec["criterion"].append({"y": y, "x": x, "wplus": wplus, "latent_avg": latent_avg, "out": out})
            return out

    mp.setattr(asit_train, "InversionCriterion", Criterion)

    def record_model(out):
        if "model" in rec:  # later tests of this module build models through the same spy: keep the run's
            return
        model, _ = out
        rec["model"] = model
        rec["analyse"] = spy(model.encoder, "analyse")

    def record_adversary(adv):
        if "adversary" in rec:
            return
        rec["adversary"] = adv
        rec["adv_init"] = {k: v.clone() for k, v in adv.state_dict().items()}

        def before(u, x, rng):
            rec["adv_calls"].append({"u": u, "x": x, "rng": rng.get_state(),
                                     "q_trainable": any(p.requires_grad for p in adv.m_q.parameters()),
                                     "m_q": [p.detach().clone() for p in adv.m_q.parameters()],
                                     "m_k": [p.detach().clone() for p in adv.m_k.parameters()]})

        rec["adv_forward"] = spy(adv, "forward", before=before)
        spy(adv, "momentum_update", before=lambda a: rec["momentum"].append(
            {"a": a, "m_k": [p.detach().clone() for p in adv.m_k.parameters()]}))

    spy(asit_train, "build_asit", after=record_model)
    spy(asit_train, "build_adversary", after=record_adversary)
    rec["synth"] = spy(asit_train, "synthesis_features")
    rec["dal"] = spy(asit_train, "dal_loss")
    rec["e_loss"] = spy(asit_train, "iid_e_loss")
    rec["d_loss"] = spy(asit_train, "iid_d_loss")
    rec["opt"] = spy(asit_train, "build_encoder_optimizer")
    rec["rng"] = {"aug": []}
    spy(batches, "augmented_batch", before=lambda images, c, gen, **kw: rec["rng"]["aug"].append(gen.get_state()))
    asit_train.train_asit(cfg, tmp / "run", progress=False)
    rec["metrics"] = [json.loads(line) for line in (tmp / "run" / "metrics.jsonl").read_text().splitlines()]
    rec["run"] = tmp / "run"
    rec["data"] = root
    return cfg, rec


def test_inversion_terms_dal_and_adversarial_sum_with_their_weights(recorded):
    cfg, rec = recorded
    assert (cfg.adv_weight, cfg.dal_weight) == (0.01, 0.5)
    assert len(rec["criterion"]) == STEPS and len(rec["dal"]) == STEPS and len(rec["e_loss"]) == STEPS
    for call, dal, e_loss, synth in zip(rec["criterion"], rec["dal"], rec["e_loss"], rec["synth"]):
        y, x, wplus, avg = call["y"], call["x"], call["wplus"], call["latent_avg"]
        torch.testing.assert_close(y, synth.out[0])  # the generator's image (same size here)
        terms = call["out"]
        with torch.no_grad():
            ea, eb = identity(y.clamp(-1, 1)), identity(x)
            hand = {"l2": ((y - x) ** 2).mean(), "lpips": perceptual(y.clamp(-1, 1), x).mean(),
                    "id": (1 - (ea * eb).sum(1) / (ea.norm(dim=1) * eb.norm(dim=1))).mean(),
                    "w_reg": (wplus - avg).flatten(1).norm(dim=1).mean()}
        for name, value in hand.items():
            assert terms[name].item() == pytest.approx(value.item(), rel=1e-5), name
        want = (0.8 * hand["l2"] + hand["lpips"] + 0.1 * hand["id"] + 1e-4 * hand["w_reg"]
                + 0.01 * e_loss.out + 0.5 * dal.out)
        assert terms["total"].item() == pytest.approx(want.item(), rel=1e-6)
        assert terms["dal"] is dal.out and terms["adv"] is e_loss.out
    last = [r for r in rec["metrics"] if r["event"] == "train"][-1]
    for name in ("l2", "lpips", "id", "w_reg", "dal", "adv", "total", "d_loss", "d_same", "d_inverted"):
        assert name in last, name


def test_dal_pairs_encoder_stages_with_generator_maps_of_the_same_side(recorded):
    _, rec = recorded
    start = rec["metrics"][0]
    assert start["dal_sides"] == [8, 4]
    for dal, analyse, synth in zip(rec["dal"], rec["analyse"], rec["synth"]):
        enc, gen = dal.args
        stages = {s.shape[-1]: s for s in analyse.out.stages}
        assert [e is stages[s] for e, s in zip(enc, (8, 4))] == [True, True]
        assert [g is synth.out[1][s] for g, s in zip(gen, (8, 4))] == [True, True]
        assert dal.kwargs["normalize"] is True
        # the generator rendered the encoder's codes and structure code
        assert synth.args[1] is analyse.out.code.wplus
        assert synth.kwargs["structure"] is analyse.out.code.structure


def test_iid_passes_judge_the_right_pairs_with_the_right_targets(recorded):
    cfg, rec = recorded
    calls, fwd = rec["adv_calls"], rec["adv_forward"]
    assert len(calls) == 3 * STEPS  # per step: E's (y, x), then D's (x, x) and (y, x)
    for s in range(STEPS):
        e_call, same, inv = calls[3 * s : 3 * s + 3]
        e_out, same_out, inv_out = (f.out for f in fwd[3 * s : 3 * s + 3])
        synth, crit = rec["synth"][s], rec["criterion"][s]
        # E's pass: the generator's image against the real batch, m_q frozen, its own random stream
        assert e_call["u"] is synth.out[0] and torch.equal(e_call["x"], crit["x"])
        assert not e_call["q_trainable"]
        assert torch.equal(e_call["rng"], asit_train.step_generator(cfg.seed, s, asit_train.ADV_E_STREAM).get_state())
        assert rec["e_loss"][s].args[0] is e_out
        assert rec["e_loss"][s].out.item() == pytest.approx(((e_out - 1) ** 2).mean().item(), rel=1e-6)
        # D's step: (x, x) -> 1 and (detached y, x) -> -1, m_q trainable
        assert torch.equal(same["u"], crit["x"]) and torch.equal(same["x"], crit["x"])
        assert torch.equal(inv["u"], synth.out[0].detach()) and not inv["u"].requires_grad
        assert same["q_trainable"] and inv["q_trainable"]
        assert torch.equal(same["rng"], asit_train.step_generator(cfg.seed, s, asit_train.ADV_D_STREAM).get_state())
        d_call = rec["d_loss"][s]
        assert d_call.args[0] is same_out and d_call.args[1] is inv_out
        hand = ((same_out - 1) ** 2 + (inv_out + 1) ** 2).mean()
        assert d_call.out.item() == pytest.approx(hand.item(), rel=1e-6)


def test_iid_output_recomputed_from_its_networks(recorded):
    cfg, rec = recorded
    adv = rec["adversary"]
    e_call = rec["adv_calls"][0]
    # D(y, x) = cos(m_q(φ_q(y)), m_k(φ_k(x))) with the networks as they were at that call
    q_net, k_net = adv.m_q, adv.m_k
    saved = ([p.detach().clone() for p in q_net.parameters()], [p.detach().clone() for p in k_net.parameters()])
    with torch.no_grad():
        for p, v in zip(q_net.parameters(), e_call["m_q"]):
            p.copy_(v)
        for p, v in zip(k_net.parameters(), e_call["m_k"]):
            p.copy_(v)
        rng = asit_train.step_generator(cfg.seed, 0, asit_train.ADV_E_STREAM)
        a = cfg.adversary
        q = q_net(unbalanced_augment(e_call["u"], rng, shift=a.shift, brightness=a.brightness,
                                     contrast=a.contrast)).flatten(1)
        k = k_net(unbalanced_augment(e_call["x"], rng)).flatten(1)
        want = (q * k).sum(1) / (q.norm(dim=1) * k.norm(dim=1))
        for p, v in zip(q_net.parameters(), saved[0]):
            p.copy_(v)
        for p, v in zip(k_net.parameters(), saved[1]):
            p.copy_(v)
    torch.testing.assert_close(rec["adv_forward"][0].out, want)


def test_momentum_update_follows_m_q(recorded):
    cfg, rec = recorded
    assert len(rec["momentum"]) == STEPS
    a = cfg.adversary.momentum
    assert rec["momentum"][0]["a"] == a == 0.9
    # after the first D step: θ_k = a·θ_k(before) + (1 − a)·θ_q(after the step) = the m_q of the next E pass
    q_after = rec["adv_calls"][3]["m_q"]
    k_after = rec["adv_calls"][3]["m_k"]
    for kb, qa, ka in zip(rec["momentum"][0]["m_k"], q_after, k_after):
        torch.testing.assert_close(ka, a * kb + (1 - a) * qa)
    assert any(not torch.equal(k, q) for k, q in zip(k_after, q_after))


def test_adversary_starts_from_the_kept_discriminator(recorded):
    _, rec = recorded
    assert rec["metrics"][0]["adversary_init"] == "kept discriminator"
    kept = load_state_dict(rec["gen_folder"] / "discriminator.safetensors")
    init = rec["adv_init"]
    convs = {k.removeprefix("convs."): v for k, v in kept.items() if k.startswith("convs.")}
    for k, v in convs.items():
        torch.testing.assert_close(init[f"m_q.{k}"], v, rtol=0, atol=0)
        torch.testing.assert_close(init[f"m_k.{k}"], v, rtol=0, atol=0)


def test_fallback_without_a_kept_discriminator(tmp_path):
    folder = generator_folder(tmp_path / "g", keep_discriminator=False)
    cfg = apply_overrides(ASIT_PRESETS["tiny"], [f"generator={folder}"])
    model, gen_folder = asit_train.build_asit(cfg, load_generator=True)
    assert asit_train.discriminator_state(gen_folder) is None
    torch.manual_seed(cfg.seed)
    adv = asit_train.build_adversary(cfg, None)
    assert isinstance(adv, InversionDiscriminator)
    torch.manual_seed(cfg.seed)
    again = asit_train.build_adversary(cfg, None)
    for a, b in zip(adv.parameters(), again.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)  # a fresh StyleGAN2 D drawn from the run's seed
    # the structure code starts at the generator's constant input
    torch.testing.assert_close(model.encoder.structure_base, model.decoder.input.input)
    assert asit_train.build_adversary(apply_overrides(cfg, ["adversary.kind=none"]), None) is None


def test_generator_frozen_encoder_trained(recorded):
    _, rec = recorded
    model = rec["model"]
    gen = load_state_dict(rec["gen_folder"] / "model.safetensors")
    for k, v in model.decoder.state_dict().items():
        torch.testing.assert_close(v, gen[k], rtol=0, atol=0, msg=k)
    assert all(p.grad is None for p in model.decoder.parameters())
    (opt_call,) = rec["opt"]
    params = {id(p) for grp in opt_call.out.param_groups for p in grp["params"]}
    assert params == {id(p) for p in model.encoder.parameters()}
    for s in range(STEPS):
        want = asit_train.step_generator(0, s, asit_train.AUGMENT_STREAM).get_state()
        assert torch.equal(rec["rng"]["aug"][s], want)
    assert (rec["run"] / "final" / "model.safetensors").is_file()


def test_stylegan2_discriminator_ablation_losses(tmp_path, spy):
    from conftest import write_class_folders

    root = write_class_folders(tmp_path / "data", {"train": 2})
    folder = generator_folder(tmp_path / "g", keep_discriminator=True)
    cfg = apply_overrides(ASIT_PRESETS["tiny"], [
        f"sources=[{{dataset: folder, root: '{root}', split: train}}]", "threads=1", f"generator={folder}",
        "adversary.kind=stylegan2", "grid_images=0", "holdout=0", "eval_images=0", "dal_weight=0", "steps=1",
        "loss.weights.lpips=0"])
    disc, g_loss, d_loss = [], spy(asit_train, "g_nonsaturating_loss"), spy(asit_train, "d_logistic_loss")
    spy(asit_train, "build_adversary", after=lambda d: disc.append((d, spy(d, "forward"))))
    synth = spy(asit_train, "synthesis_features")
    asit_train.train_asit(cfg, tmp_path / "run", progress=False)
    (d, fwd), = disc
    assert type(d).__name__ == "Discriminator"
    assert [c.args[0] is synth[0].out[0] for c in fwd[:1]] == [True]  # E: D(y)
    assert g_loss[0].args[0] is fwd[0].out
    real, fake = d_loss[0].args
    assert real is fwd[1].out and fake is fwd[2].out  # D: (D(x), D(y.detach()))
    assert torch.equal(fwd[2].args[0], synth[0].out[0].detach())


def test_ifer_step(recorded, tmp_path, spy):
    _, rec = recorded
    asit_final = rec["run"] / "final"
    data = rec["data"].parent / "fer"
    if not data.exists():
        from conftest import write_class_folders

        write_class_folders(data, {"train": 2, "valid": 1}, size=32)
    cfg = apply_overrides(IFER_PRESETS["tiny"], [
        f"inversion={asit_final}", "data.dataset=folder", f"data.root={data}", "data.limit_train=0",
        "data.limit_val=0", "threads=1", "batch_size=8", "steps=2", "label_smoothing=0.1"])
    models, training = [], []
    ce = spy(ifer_train.F, "cross_entropy", before=lambda *a, **k: training.append(models[0].training))
    spy(ifer_train, "build_ifer", after=models.append)
    opt = spy(ifer_train, "build_ifer_optimizer")
    draws = []  # each step's augmentation stream, read before the batch consumes it
    batch = spy(ifer_train, "training_batch", before=lambda *a, **k: draws.append(a[3].get_state().clone()))
    summary = ifer_train.train_ifer(cfg, tmp_path / "run", progress=False)
    (model,) = models
    assert training == [True, True], "the step must run the model in training mode (dropout, batch-norm)"
    assert summary["val_accuracy"] is not None
    # the encoder started from the ASIT model's encoder (compare a tensor the IFER head never touches... the
    # buffers, which no optimiser changes)
    asit_state = load_state_dict(asit_final / "model.safetensors")
    torch.testing.assert_close(model.encoder.latent_avg, asit_state["encoder.latent_avg"])
    torch.testing.assert_close(model.encoder.structure_base, asit_state["encoder.structure_base"])
    groups = opt[0].out.param_groups
    assert [g["initial_lr"] for g in groups] == [1e-3, 1e-4]
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in model.head.parameters()}
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in model.encoder.parameters()}
    from genfer.io import step_generator

    assert [c.args[1] for c in batch] == [0, 1]  # steps 0 and 1, each with the stream of (run seed, step)
    assert all(torch.equal(d, step_generator(cfg.seed, k).get_state()) for k, d in enumerate(draws))
    logits, target = ce[0].args
    assert logits.shape == (8, 8) and torch.equal(target.sum(1), torch.ones(8))
    assert set(target.unique().tolist()) == {0.0, 1.0}  # one-hot labels
    assert ce[0].kwargs["label_smoothing"] == cfg.label_smoothing == 0.1
    # the head's rate logged after the last step: warm-up of max(1, 2 // 20) = 1 step, then cosine to 0 at step 2
    logged = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    start = next(r for r in logged if r["event"] == "start")
    assert (start["train_images"], start["val_images"]) == (16, 8)  # 2 / 1 faces per class, 8 classes
    assert [r for r in logged if r["event"] == "train"][-1]["lr"] == pytest.approx(0.0, abs=1e-12)
    # Table 5c: without pretraining the encoder is not the ASIT's; encoder_lr_scale=0 freezes it (not the head)
    models.clear()
    ifer_train.train_ifer(apply_overrides(cfg, ["pretrained=false", "encoder_lr_scale=0"]), tmp_path / "run-scratch",
                          progress=False)
    assert not torch.equal(models[0].encoder.structure_base, asit_state["encoder.structure_base"])
    assert not any(p.requires_grad for p in models[0].encoder.parameters())
    assert all(p.requires_grad for p in models[0].head.parameters())
    assert len(opt[-1].out.param_groups) == 1


def test_final_and_checkpoint_folders_load_through_the_hub(recorded):
    from genfer.hub import load_model
    from genfer.inversion.load import inversion_parts, load_gan
    from genfer.io import latest_checkpoint

    _, rec = recorded
    final, ckpt = load_model(rec["run"]), load_model(latest_checkpoint(rec["run"]))
    assert final.method == ckpt.method == "asit" and final.tasks == ("invert", "sample")
    assert sorted(final.model.state_dict()) == sorted(ckpt.model.state_dict())
    parts = inversion_parts(load_gan(rec["run"]))
    code = parts.encoder.encode(torch.zeros(1, 1, 32, 32))
    assert code.structure.shape == (1, 16, 4, 4)  # what genfer invert renders with
    torch.testing.assert_close(parts.latent_avg, parts.encoder.latent_avg)
