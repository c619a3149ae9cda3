"""Wiring of PF-ViT's training step: what D and the E/S/G/C losses receive (paper Eqs. 2, 5-8).

One step of the tiny preset through ``train_pfvit`` with recorders on the functions and methods the step
calls. D has K + 1 outputs: for a real face the target is its class and "real" (d^{K+1} = 1); for the
reconstruction x̂ its class and "fake"; for the poker face x̃ the neutral class and "fake" (Eq. 8). The
generator side asks D to call x̂ and x̃ real, with the same class targets.

Every test runs for both ``model.disc_views``: the paper's D (``grid``) and genfer's D that also judges each
image shifted by half a patch (``shifted``; its logits, the mean over the two views, get the same targets).
"""

import json

import pytest
import torch
import torch.nn.functional as F

import genfer.train.batches as batches
import genfer.train.pfvit as pf
from genfer.config import PFVIT_PRESETS, apply_overrides

W = {"emo": 1.3, "rec": 0.7, "adv": 0.9, "ortho": 0.4}


def bce_sum_mean(logits, targets):
    """-E Σ_k [d^k log σ(l_k) + (1 - d^k) log(1 - σ(l_k))] written out."""
    p = torch.sigmoid(logits.double())
    t = targets.double()
    return (-(t * torch.log(p) + (1 - t) * torch.log(1 - p))).sum(1).mean()


def d_targets(cls, k, real):
    t = torch.zeros(len(cls), k + 1, dtype=torch.float64)
    t[torch.arange(len(cls)), cls] = 1.0
    t[:, k] = real
    return t


def shift_by_hand(x, s):
    """x moved up and left by s px: rows/columns s, ..., H-1, then the reflected H-2, ..., H-1-s."""
    h = x.shape[-1]
    idx = list(range(s, h)) + [h - 2 - k for k in range(s)]
    return x[..., idx, :][..., idx]


@pytest.fixture(scope="module", params=["grid", "shifted"])
def recorded(request, tmp_path_factory, module_spy):
    from conftest import write_class_folders

    spy = module_spy
    tmp = tmp_path_factory.mktemp("pfvit-wiring")
    root = write_class_folders(tmp / "data", {"train": 4})
    cfg = apply_overrides(PFVIT_PRESETS["tiny"], [
        "data.dataset=folder", f"data.root={root}", "data.val_split=", "data.limit_train=0", "threads=1",
        "grid_images=0", f"model.disc_views={request.param}", *(f"weights.{k}={v}" for k, v in W.items())])
    rec: dict = {"disc_frozen": []}
    def record_model(model):
        rec["model"] = model
        rec["separate"] = spy(model, "separate")
        rec["generate"] = spy(model, "generate")
        rec["disc"] = spy(model.discriminator, "forward")
        rec["disc_views"] = spy(model.discriminator, "view_logits")

    spy(pf, "build_pfvit", after=record_model)

    def note_disc(*args, **kwargs):
        rec["disc_frozen"].append(not any(p.requires_grad for p in rec["model"].discriminator.parameters()))

    rec.update(
        data=spy(pf, "load_train_val"), aug=spy(batches, "augmented_batch"),
        g_losses=spy(pf, "pfvit_generator_losses", before=note_disc),
        d_loss=spy(pf, "pfvit_discriminator_loss", before=note_disc),
        dis=spy(pf, "discrimination_loss"), emo=spy(pf, "emotion_loss"), rec=spy(pf, "reconstruction_loss"),
        ortho=spy(pf, "abs_cosine"))
    pf.train_pfvit(cfg, tmp / "run", progress=False, max_steps=1)
    train = rec["data"][0].out[0]
    raw = rec["aug"][0].args[0]
    idx = [next(i for i in range(len(train.images)) if torch.equal(train.images[i], r)) for r in raw]
    rec["labels"] = train.labels[idx]
    rec["targets"] = train.targets[idx]
    rec["classes"] = train.classes
    rec["metrics"] = [json.loads(line) for line in (tmp / "run" / "metrics.jsonl").read_text().splitlines()]
    return cfg, rec


def test_batch_labels_and_neutral_class(recorded):
    cfg, rec = recorded
    y = rec["labels"]
    assert rec["classes"][cfg.model.neutral] == "neutral"
    assert (y == cfg.model.neutral).any() and (y != cfg.model.neutral).any(), "the batch must mix neutral and not"
    x = rec["aug"][0].out
    args = rec["g_losses"][0].args
    assert args[1] is x and torch.equal(args[2], y)


def test_generator_images_come_from_the_right_tokens(recorded):
    _, rec = recorded
    x = rec["aug"][0].out
    (sep_call,) = rec["separate"][:1]
    assert sep_call.args[0] is x
    sep = sep_call.out
    tokens = rec["generate"][0].args[0]
    b = x.shape[0]
    torch.testing.assert_close(tokens[:b], sep.v_e + sep.v_p)  # x̂ = G(V_e + V_p)
    torch.testing.assert_close(tokens[b:], sep.v_p)  # x̃ = G(V_p)
    _, images = rec["g_losses"][0].out
    torch.testing.assert_close(images["x_hat"], rec["generate"][0].out[:b])
    torch.testing.assert_close(images["x_tilde"], rec["generate"][0].out[b:])


def test_discriminator_targets_real_class_fake_extra_unit(recorded):
    """D step: x → (y, real), x̂ → (y, fake), x̃ → (neutral, fake); logits of D on [x, x̂, x̃] in that order."""
    cfg, rec = recorded
    k, c = cfg.model.num_classes, cfg.model.neutral
    y = rec["labels"]
    x = rec["aug"][0].out
    _, images = rec["g_losses"][0].out
    assert len(rec["d_loss"]) == 1 and len(rec["dis"]) == 5  # 2 generator-side, 3 discriminator-side
    d_call = rec["d_loss"][0]
    assert d_call.args[0] is rec["model"] and d_call.args[1] is x and torch.equal(d_call.args[4], y)
    assert not d_call.args[2].requires_grad and not d_call.args[3].requires_grad, "D must get detached fakes"
    disc_in = [c_ for c_ in rec["disc"] if c_.args[0].shape[0] == 3 * len(y)]
    assert len(disc_in) == 1
    inp, out = disc_in[0].args[0], disc_in[0].out
    b = len(y)
    torch.testing.assert_close(inp[:b], x)
    torch.testing.assert_close(inp[b : 2 * b], images["x_hat"].detach())
    torch.testing.assert_close(inp[2 * b :], images["x_tilde"].detach())
    expected = [d_targets(y, k, 1.0), d_targets(y, k, 0.0), d_targets(torch.full_like(y, c), k, 0.0)]
    total = 0.0
    for j, (call, want) in enumerate(zip(rec["dis"][2:], expected)):
        logits, targets = call.args
        torch.testing.assert_close(logits, out[j * b : (j + 1) * b])
        torch.testing.assert_close(targets.double(), want, msg=f"D targets of input {j} (real, x̂, x̃)")
        assert call.out.item() == pytest.approx(bce_sum_mean(logits, targets).item(), rel=1e-5)
        total += call.out.item()
    assert d_call.out.item() == pytest.approx(total, rel=1e-5)
    last = [r for r in rec["metrics"] if r["event"] == "train"][-1]
    assert last["d"] == pytest.approx(total, abs=1e-4)


def test_generator_adversarial_targets_ask_for_real(recorded):
    cfg, rec = recorded
    k, c = cfg.model.num_classes, cfg.model.neutral
    y = rec["labels"]
    b = len(y)
    _, images = rec["g_losses"][0].out
    disc_g = [c_ for c_ in rec["disc"] if c_.args[0].shape[0] == 2 * b]
    assert len(disc_g) == 1
    inp, out = disc_g[0].args[0], disc_g[0].out
    assert inp.requires_grad, "the generator side must keep G's graph"
    torch.testing.assert_close(inp[:b], images["x_hat"])
    torch.testing.assert_close(inp[b:], images["x_tilde"])
    expected = [d_targets(y, k, 1.0), d_targets(torch.full_like(y, c), k, 1.0)]
    adv = 0.0
    for j, (call, want) in enumerate(zip(rec["dis"][:2], expected)):
        logits, targets = call.args
        torch.testing.assert_close(logits, out[j * b : (j + 1) * b])
        torch.testing.assert_close(targets.double(), want, msg=f"G-side targets of {('x̂', 'x̃')[j]}")
        adv += bce_sum_mean(logits, targets).item()
    terms, _ = rec["g_losses"][0].out
    assert terms["adv"].item() == pytest.approx(adv, rel=1e-5)


def test_emotion_reconstruction_orthogonality_and_weights(recorded):
    cfg, rec = recorded
    c = cfg.model.neutral
    y, targets = rec["labels"], rec["targets"]
    x = rec["aug"][0].out
    sep = rec["separate"][0].out
    terms, images = rec["g_losses"][0].out
    # L_emo: cross-entropy of C(V_e) against the batch's targets
    (logits, tgt), = [call.args for call in rec["emo"][:1]]
    assert logits is sep.logits and torch.equal(tgt, targets)
    assert terms["emo"].item() == pytest.approx(-F.log_softmax(logits, 1)[torch.arange(len(y)), y].mean().item(), rel=1e-5)
    # L_rec: E‖x̂ − x‖ + E 1[y = c]‖x̃ − x‖
    call = rec["rec"][0]
    assert call.args[0] is images["x_hat"] and call.args[1] is images["x_tilde"] and call.args[2] is x
    assert torch.equal(call.args[3], y) and call.kwargs["neutral"] == c
    hand = ((images["x_hat"] - x).flatten(1).norm(dim=1).mean()
            + ((images["x_tilde"] - x).flatten(1).norm(dim=1) * (y == c).float()).mean())
    assert terms["rec"].item() == pytest.approx(hand.item(), rel=1e-5)
    # L_ortho: |cos(V_e, V_p)| on the separated tokens
    a, b_ = rec["ortho"][0].args
    assert a is sep.v_e and b_ is sep.v_p
    cos = (sep.v_e.flatten(1) * sep.v_p.flatten(1)).sum(1) / (sep.v_e.flatten(1).norm(dim=1) * sep.v_p.flatten(1).norm(dim=1))
    assert terms["ortho"].item() == pytest.approx(cos.abs().mean().item(), rel=1e-4, abs=1e-6)
    total = sum(W[name] * terms[name].item() for name in W)
    assert terms["total"].item() == pytest.approx(total, rel=1e-5)
    last = [r for r in rec["metrics"] if r["event"] == "train"][-1]
    for name in ("emo", "rec", "adv", "ortho", "total"):
        assert last[name] == pytest.approx(terms[name].item(), abs=1e-4), name


def test_d_frozen_for_the_generator_step_and_trainable_for_its_own(recorded):
    _, rec = recorded
    assert rec["disc_frozen"] == [True, False]


def test_discriminator_judges_the_configured_views_of_x_x_hat_x_tilde(recorded):
    """D's one-view network gets [x, x̂, x̃] (D step) and [x̂, x̃] (generator step), followed for ``shifted`` by the
    same images moved by half a patch; D's logits are the mean over the views."""
    cfg, rec = recorded
    b = len(rec["labels"])
    x = rec["aug"][0].out
    _, images = rec["g_losses"][0].out
    assert rec["model"].discriminator.views == cfg.model.disc_views
    half = cfg.model.mae.encoder.patch_size // 2
    n_views = 2 if cfg.model.disc_views == "shifted" else 1
    for images_in, grad in (([images["x_hat"], images["x_tilde"]], True),
                            ([x, images["x_hat"].detach(), images["x_tilde"].detach()], False)):
        (forward,) = [c_ for c_ in rec["disc"] if c_.args[0].shape[0] == len(images_in) * b]
        (call,) = [c_ for c_ in rec["disc_views"] if c_.args[0].shape[0] == n_views * len(images_in) * b]
        expected = torch.cat(images_in + ([shift_by_hand(i, half) for i in images_in] if n_views == 2 else []))
        torch.testing.assert_close(call.args[0], expected, rtol=0, atol=0)
        assert call.args[0].requires_grad == grad
        torch.testing.assert_close(forward.out, call.out.unflatten(0, (n_views, -1)).mean(0))
    assert len(rec["disc_views"]) == 2


def test_network_orthogonality_compares_g_of_v_e_with_the_poker_face_under_its_own_weight(spy):
    """``generic``/``fr`` options: the frozen network sees [G(V_e), x̃] clamped to [-1, 1]; L_ortho_features is
    |cos| of its two halves' features, weighted by ``weights.ortho_features`` (not ``weights.ortho``)."""
    cfg = apply_overrides(PFVIT_PRESETS["tiny"], [*(f"weights.{k}={v}" for k, v in W.items()),
                                                  "weights.ortho_features=0.25"])
    m = cfg.model
    torch.manual_seed(0)
    model = pf.build_pfvit(m)
    size, b = m.mae.encoder.image_size, 4
    x = torch.rand(b, m.mae.encoder.in_chans, size, size) * 2 - 1
    labels = torch.tensor([0, 1, 2, m.neutral]) % m.num_classes
    targets = F.one_hot(labels, m.num_classes).float()
    seen = []

    def feature_net(images):  # a stand-in network: 4x4 average-pooled pixels
        seen.append(images)
        return F.avg_pool2d(images, size // 4).flatten(1)

    sep, gen = spy(model, "separate"), spy(model, "generate")
    terms, images = pf.pfvit_generator_losses(model, x, labels, targets, cfg, feature_net)
    v = sep[0].out
    torch.testing.assert_close(gen[0].args[0][2 * b :], v.v_e)  # x_emo = G(V_e)
    torch.testing.assert_close(images["x_emo"], gen[0].out[2 * b :])
    (inp,) = seen
    torch.testing.assert_close(inp, torch.cat([images["x_emo"], images["x_tilde"]]).clamp(-1, 1))
    fe, fp = F.avg_pool2d(inp, size // 4).flatten(1).split(b)
    hand = ((fe * fp).sum(1) / (fe.norm(dim=1) * fp.norm(dim=1))).abs().mean()
    assert terms["ortho_features"].item() == pytest.approx(hand.item(), rel=1e-5) and hand > 0
    total = sum(W[name] * terms[name].item() for name in W) + 0.25 * terms["ortho_features"].item()
    assert terms["total"].item() == pytest.approx(total, rel=1e-5)


def test_no_adversarial_term_and_no_d_call_with_weight_zero(spy):
    """``weights.adv=0`` (D built, e.g. to resume with it later): G's side never runs D and logs L_adv = 0."""
    cfg = apply_overrides(PFVIT_PRESETS["tiny"], ["weights.adv=0"])
    m = cfg.model
    torch.manual_seed(0)
    model = pf.build_pfvit(m)
    size = m.mae.encoder.image_size
    x = torch.rand(2, m.mae.encoder.in_chans, size, size) * 2 - 1
    labels = torch.tensor([0, m.neutral])
    disc = spy(model.discriminator, "forward")
    terms, _ = pf.pfvit_generator_losses(model, x, labels, F.one_hot(labels, m.num_classes).float(), cfg, None)
    assert disc == [] and terms["adv"].item() == 0.0
