"""Wiring of the switch-unit GAN's joint step (Zhang et al., Eq. 5-12): images, labels and weights of every term.

One ``SwitchGANTrainer.step`` on a fixed tiny batch with recorders on the loss functions, D, G and C. I_c is
I_a given I_b's expression y_b, I_d is I_b given y_a: D and G must judge every synthesised face (and the
faces from interpolated codes) with its TARGET label; real faces with their own labels.
"""

import pytest
import torch
import torch.nn.functional as F

import genfer.train.batches as batches
import genfer.train.switchgan as sw
from genfer.config import SWITCHGAN_ABLATIONS, SWITCHGAN_PRESETS, apply_overrides
from genfer.train.distributed import DistInfo

W = {"adv": 1.3, "inter": 0.6, "cls": 0.8, "rec": 2.0, "per": 1.5, "pix": 0.7, "tv": 0.3}


def features(x):
    """A stand-in perceptual network: two fixed 'layers'."""
    return [x[:, :, ::4, ::4], x.mean(dim=1, keepdim=True)[:, :, ::2, ::2] * 2]


def tiny_trainer(*overrides):
    cfg = apply_overrides(SWITCHGAN_PRESETS["tiny"], [*(f"weights.{k}={v}" for k, v in W.items()),
                                                     "interpolation_loss=true", "loss_reduction=sum", *overrides])
    m = cfg.model
    n = 64
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, m.in_chans, m.image_size, m.image_size), dtype=torch.uint8, generator=g)
    labels = torch.arange(n) % m.num_classes
    torch.manual_seed(0)
    torch.set_num_threads(1)
    return cfg, sw.SwitchGANTrainer(cfg, images=images, labels=labels, info=DistInfo(), feature_net=features)


def tv(x):
    return ((x[:, :, 1:] - x[:, :, :-1]).abs().flatten(1).sum(1).mean()
            + (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().flatten(1).sum(1).mean())


def l1(x, y):
    return (x - y).flatten(1).abs().sum(1).mean()


@pytest.fixture(scope="module")
def recorded(module_spy):
    spy = module_spy
    cfg, t = tiny_trainer()
    rec = {"trainer": t, "cfg": cfg}
    names = ["adversarial_d_loss", "adversarial_g_loss", "interpolation_d_loss", "interpolation_g_loss",
             "classification_loss", "combine_losses", "reconstruction_loss", "perceptual_loss", "pixel_sum_loss",
             "total_variation", "augmented_batch"]
    rec.update({name: spy(sw, name) for name in names})  # augmented_batch: the pair batches
    rec["classifier_augmented_batch"] = spy(batches, "augmented_batch")  # C's originals (training_batch)
    rec["draw"] = spy(t.sampler, "draw")
    rec["references"] = spy(t.sampler, "references")
    rec["pair_batch"] = spy(t, "pair_batch")
    rec["g"] = spy(t.model.generator, "forward")
    rec["transfer"] = spy(t.model.generator, "transfer")
    rec["d"] = spy(t.model.discriminator, "forward")
    rec["c"] = spy(t.model.classifier, "forward")
    rec["logs"] = t.step(0)
    return rec


def per_scale_chunks(out, sizes):
    return [[scale.split(sizes)[k] for scale in out] for k in range(len(sizes))]


def test_pair_batch_labels_are_the_faces_labels(recorded):
    t = recorded["trainer"]
    pb = recorded["draw"][0].out
    xa, xb, ya, yb = recorded["pair_batch"][0].out
    assert torch.equal(recorded["augmented_batch"][0].args[0], t.images[pb.index_a])
    assert torch.equal(recorded["augmented_batch"][1].args[0], t.images[pb.index_b])
    assert recorded["augmented_batch"][0].out is xa and recorded["augmented_batch"][1].out is xb
    assert torch.equal(ya, t.labels[pb.index_a]) and torch.equal(yb, t.labels[pb.index_b])
    assert (ya != yb).all()
    g_args = recorded["g"][0].args
    assert g_args[0] is xa and g_args[1] is xb and g_args[2] is ya and g_args[3] is yb
    out = recorded["g"][0].out
    assert torch.equal(out.labels_c, yb) and torch.equal(out.labels_d, ya)


def test_discriminator_sees_reals_with_own_labels_and_fakes_with_target_labels(recorded):
    xa, xb, ya, yb = recorded["pair_batch"][0].out
    out = recorded["g"][0].out
    b = len(ya)
    d_call = recorded["d"][0]  # the D step
    images, labels = d_call.args
    want_images = torch.cat([xa, xb, out.image_c, out.image_d, out.interp_c, out.interp_d])
    torch.testing.assert_close(images, want_images.detach())
    assert not images.requires_grad, "D's step must see detached fakes"
    want_labels = torch.cat([ya, yb, yb, ya, yb, ya])  # real a, real b, I_c -> y_b, I_d -> y_a, interp c, interp d
    assert torch.equal(labels, want_labels), f"D labels {labels.tolist()} != {want_labels.tolist()}"
    judged = per_scale_chunks(d_call.out, [2 * b, 2 * b, b, b])
    adv = recorded["adversarial_d_loss"][0]
    for got, want in zip(adv.args, judged[:2]):
        assert len(got) == len(want) == 2
        for g_, w_ in zip(got, want):
            torch.testing.assert_close(g_, w_)
    inter = recorded["interpolation_d_loss"][0]
    for got, want in zip(inter.args, judged[2:]):
        for g_, w_ in zip(got, want):
            torch.testing.assert_close(g_, w_)
    hand_adv = sum(F.softplus(-r).mean() + F.softplus(f).mean() for r, f in zip(judged[0], judged[1]))
    hand_inter = sum(F.softplus(f).mean() for f in judged[2]) + sum(F.softplus(f).mean() for f in judged[3])
    torch.testing.assert_close(adv.out, hand_adv)
    torch.testing.assert_close(inter.out, hand_inter)
    assert recorded["logs"]["d"] == pytest.approx(W["adv"] * hand_adv.item() + W["inter"] * hand_inter.item(), rel=1e-5)


def test_generator_adversarial_terms_use_target_labels(recorded):
    _xa, _xb, ya, yb = recorded["pair_batch"][0].out
    out = recorded["g"][0].out
    b = len(ya)
    assert len(recorded["d"]) == 2
    images, labels = recorded["d"][1].args
    torch.testing.assert_close(images, torch.cat([out.image_c, out.image_d, out.interp_c, out.interp_d]))
    assert images.requires_grad, "G's adversarial terms need G's graph"
    want = torch.cat([yb, ya, yb, ya])
    assert torch.equal(labels, want), f"G-side D labels {labels.tolist()} != {want.tolist()}"
    judged = per_scale_chunks(recorded["d"][1].out, [2 * b, b, b])
    (fake,), = [c.args for c in recorded["adversarial_g_loss"][:1]]
    for g_, w_ in zip(fake, judged[0]):
        torch.testing.assert_close(g_, w_)
    inter = recorded["interpolation_g_loss"][0]
    for got, want_ in zip(inter.args, judged[1:]):
        for g_, w_ in zip(got, want_):
            torch.testing.assert_close(g_, w_)
    terms = recorded["combine_losses"][0].args[0]
    torch.testing.assert_close(terms["adv"], sum(F.softplus(-f).mean() for f in judged[0]))
    torch.testing.assert_close(terms["inter"], sum(F.softplus(-f).mean() for f in judged[1] + judged[2]))


def test_image_terms_get_the_right_faces(recorded):
    cfg = recorded["cfg"]
    xa, xb, _ya, _yb = recorded["pair_batch"][0].out
    out = recorded["g"][0].out
    terms = recorded["combine_losses"][0].args[0]
    r = recorded["reconstruction_loss"][0]
    assert r.args[0] is xa and r.args[1] is out.recon_a and r.args[2] is xb and r.args[3] is out.recon_b
    assert r.kwargs["reduction"] == "norm"
    hand = (xa - out.recon_a).flatten(1).norm(dim=1).mean() + (xb - out.recon_b).flatten(1).norm(dim=1).mean()
    torch.testing.assert_close(terms["rec"], hand)
    p = recorded["perceptual_loss"][0]
    assert p.args[1] is xa and p.args[2] is xb and p.args[3] is out.image_c and p.args[4] is out.image_d
    assert p.kwargs["pairing"] == cfg.perceptual_pairing == "paper" and p.kwargs["reduction"] == "sum"
    # default (against ghosts): each layer's channel means, paper pairing (I_a, I_d), (I_b, I_c)
    assert cfg.perceptual_features == "pooled" and p.kwargs["pooled"] is True

    def means(x):
        return [f.mean(dim=(2, 3)) for f in features(x)]

    hand = sum(l1(fa, fd) + l1(fb, fc) for fa, fb, fc, fd in zip(means(xa), means(xb), means(out.image_c),
                                                                  means(out.image_d)))
    torch.testing.assert_close(terms["per"], hand)
    q = recorded["pixel_sum_loss"][0]
    assert q.args[0] is xa and q.args[1] is xb and q.args[2] is out.image_c and q.args[3] is out.image_d
    torch.testing.assert_close(terms["pix"], ((xa + xb) - (out.image_c + out.image_d)).flatten(1).abs().sum(1).mean())
    # default: TV of the residual images G_dec outputs (Eq. 4), not of the composed faces
    assert cfg.tv_target == "residual"
    tv_args = [c.args[0] for c in recorded["total_variation"]]
    assert len(tv_args) == 2 and tv_args[0] is out.residual_c and tv_args[1] is out.residual_d
    torch.testing.assert_close(terms["tv"], tv(out.residual_c) + tv(out.residual_d))
    assert not torch.allclose(terms["tv"], tv(out.image_c) + tv(out.image_d))


def test_ghosting_ablation_restores_map_wise_l_per_and_tv_of_the_faces(spy):
    """SWITCHGAN_ABLATIONS["Ghosting"]: the shipped model's losses before issue 17."""
    cfg, t = tiny_trainer(*SWITCHGAN_ABLATIONS["Ghosting"])
    assert (cfg.perceptual_features, cfg.tv_target) == ("maps", "output")
    per, tvs, comb = spy(sw, "perceptual_loss"), spy(sw, "total_variation"), spy(sw, "combine_losses")
    g = spy(t.model.generator, "forward")
    pair = spy(t, "pair_batch")
    t.step(0)
    xa, xb, _ya, _yb = pair[0].out
    out = g[0].out
    terms = comb[0].args[0]
    assert per[0].kwargs["pooled"] is False
    hand = sum(l1(fa, fd) + l1(fb, fc) for fa, fb, fc, fd in zip(features(xa), features(xb), features(out.image_c),
                                                                  features(out.image_d)))
    torch.testing.assert_close(terms["per"], hand)
    assert len(tvs) == 2 and tvs[0].args[0] is out.image_c and tvs[1].args[0] is out.image_d
    torch.testing.assert_close(terms["tv"], tv(out.image_c) + tv(out.image_d))


def test_classifier_sees_synthesised_faces_with_their_target_labels(recorded):
    t, cfg = recorded["trainer"], recorded["cfg"]
    k = cfg.synthesised_for_classifier
    assert k == 2
    tr = recorded["transfer"][0]
    x_rep, _references, src, targets = tr.args
    b = len(src) // k
    x = recorded["classifier_augmented_batch"][0].out  # C's originals
    y = t.labels[t.plan.indices(0)]
    assert torch.equal(x_rep, x.repeat_interleave(k, 0)) and torch.equal(src, y.repeat_interleave(k))
    assert (targets != src).all(), "synthesised faces need another expression than their source"
    ref_rows = recorded["references"][0].out[1].flatten()
    assert torch.equal(t.labels[ref_rows], targets), "references must show the target expression"
    logits, labels = recorded["classification_loss"][0].args
    assert torch.equal(labels, torch.cat([y, targets])), "C must learn synthesised faces as their targets"
    c_in = recorded["c"][0].args[0]
    torch.testing.assert_close(c_in[:b], x)
    torch.testing.assert_close(c_in[b:], tr.out.detach())
    assert logits is recorded["c"][0].out
    torch.testing.assert_close(recorded["classification_loss"][0].out,
                               -F.log_softmax(logits, 1)[torch.arange(len(labels)), labels].mean())
    assert recorded["logs"]["cls_acc"] == pytest.approx((logits[:b].argmax(1) == y).float().mean().item())


def test_generator_objective_weights(recorded):
    cfg = recorded["cfg"]
    call = recorded["combine_losses"][0]
    terms, weights = call.args
    assert weights == cfg.weights and set(terms) == {"adv", "inter", "cls", "rec", "per", "pix", "tv"}
    total = sum(W[name] * terms[name].item() for name in W)
    total_t, _logs = call.out
    assert total_t.item() == pytest.approx(total, rel=1e-5)
    assert recorded["logs"]["total"] == pytest.approx(total, rel=1e-5)
    for name in W:
        assert recorded["logs"][name] == pytest.approx(terms[name].item(), rel=1e-5)
