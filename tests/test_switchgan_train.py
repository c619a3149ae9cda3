"""Switch-unit GAN training: config and ablation switches, the pair sampler, the joint step, exact resume."""

import json
from pathlib import Path

import pytest
import torch

from genfer.config import (SWITCHGAN_ABLATIONS, SWITCHGAN_PRESETS, ConfigError, SwitchGANLossWeights,
                           SwitchGANTrainConfig, apply_overrides, from_dict, to_dict)
from genfer.data.pairs import ExpressionPairSampler
from genfer.io import latest_checkpoint, load_state_dict
from genfer.train.distributed import DistInfo
from genfer.hub import load_model
from genfer.train.switchgan import SwitchGANTrainer, grid_references, train_switchgan
from genfer.models.switchgan import build_switchgan

torch.set_num_threads(1)
TINY = SWITCHGAN_PRESETS["tiny"]


def zero_features(x):
    """A stand-in for the perceptual network (keeps unit tests free of the recognizer)."""
    return [x[:, :, ::4, ::4]]


def trainer(*overrides, n=64, feature_net=zero_features, cfg=TINY):
    cfg = apply_overrides(cfg, list(overrides))
    m = cfg.model
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, m.in_chans, m.image_size, m.image_size), dtype=torch.uint8, generator=g)
    labels = torch.arange(n) % m.num_classes
    torch.manual_seed(0)
    return SwitchGANTrainer(cfg, images=images, labels=labels, info=DistInfo(), feature_net=feature_net)


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before, module, prefix=""):
    return any(not torch.equal(before[k], v) for k, v in module.state_dict().items() if k.startswith(prefix))


# ----------------------------------------------------------------------------- config


def test_presets_and_paper_defaults():
    paper = SWITCHGAN_PRESETS["paper"]
    assert (paper.model.image_size, paper.model.in_chans, paper.model.num_classes) == (256, 3, 7)
    assert paper.model.encoder_channels == (64, 128, 256, 512, 512) and paper.model.code_channels == 20
    w = paper.weights
    assert (w.rec, w.per, w.pix, w.tv, w.adv, w.inter, w.cls) == (10, 15, 5, 5, 1, 1, 1)
    g, c = paper.gan_optim, paper.cls_optim
    assert (g.optimizer, g.lr, tuple(g.betas)) == ("adam", 2e-4, (0.5, 0.999))
    assert (c.optimizer, c.lr, c.momentum) == ("sgd", 1e-3, 0.9)
    assert paper.synthesised_per_original == 6 and paper.interpolation_loss and not paper.two_stage
    for cfg in SWITCHGAN_PRESETS.values():  # configs round-trip through the JSON saved with every checkpoint
        assert from_dict(SwitchGANTrainConfig, to_dict(cfg)) == cfg
    cpu = SWITCHGAN_PRESETS["cpu"]
    assert (cpu.model.image_size, cpu.model.in_chans) == (48, 1)
    assert (cpu.data.dataset, cpu.data.label_source, cpu.data.val_split) == ("ferplus", "fer2013", "valid")


def test_ablation_overrides_set_table_vii_switches():
    got = {name: apply_overrides(TINY, list(o)) for name, o in SWITCHGAN_ABLATIONS.items()}
    assert not got["No_InterL"].interpolation_loss and got["No_InterL"].expression_representation
    assert not got["No_ExpR"].expression_representation and got["No_ExpR"].interpolation_loss
    assert not (got["No_InterL_ExpR"].interpolation_loss or got["No_InterL_ExpR"].expression_representation)
    assert got["No_SynFI"].synthesised_for_classifier == 0 and not got["No_SynFI"].expression_representation
    assert got["TwoStage"].two_stage
    assert [got[f"{k}N"].synthesised_for_classifier for k in range(7)] == list(range(7))


def test_ghost_fixes_in_the_cpu_preset_and_the_ghosting_ablation():
    cpu = SWITCHGAN_PRESETS["cpu"]
    assert (cpu.perceptual_features, cpu.tv_target, cpu.model.pooled_switch) == ("pooled", "residual", True)
    old = apply_overrides(cpu, list(SWITCHGAN_ABLATIONS["Ghosting"]))
    assert (old.perceptual_features, old.tv_target, old.model.pooled_switch) == ("maps", "output", False)
    # a config.json saved before these options existed (the shipped model's) keeps the spatial switch it was
    # trained with when loaded for inference
    data = to_dict(cpu)
    for key in ("perceptual_features", "tv_target"):
        del data[key]
    del data["model"]["pooled_switch"]
    assert from_dict(SwitchGANTrainConfig, data).model.pooled_switch is False
    pooled = apply_overrides(TINY, ["model.pooled_switch=true"])
    assert build_switchgan(pooled.model).generator.switch.pooled and not build_switchgan(TINY.model).generator.switch.pooled


@pytest.mark.parametrize("override, message", [
    ("synthesised_per_original=8", "synthesised_per_original"),
    ("gan_optim.epochs=3", "must equal cls_optim.epochs"),
    ("loss_reduction=median", "loss_reduction"),
    ("data.target=votes", "data.target"),
    ("model.encoder_channels=[4,8,16]", "5 widths"),
    ("weights.tv=-1", "tv"),
    ("perceptual_features=means", "perceptual_features"),
    ("tv_target=faces", "tv_target"),
])
def test_config_rejects_bad_values(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(TINY, [override])
    assert apply_overrides(TINY, ["two_stage=true", "gan_optim.epochs=3"]).gan_optim.epochs == 3


def test_loss_weights_are_the_losses_weights():
    from genfer.losses import switchgan as losses

    assert losses.SwitchGANLossWeights is SwitchGANLossWeights


# ----------------------------------------------------------------------------- pair sampler


def test_pair_sampler_walks_every_pair_in_turn_and_draws_the_right_faces():
    labels = torch.tensor([0, 1, 2, 3] * 5 + [0, 1])  # class 4.. absent
    s = ExpressionPairSampler(labels=labels, num_classes=7, seed=3)
    assert s.classes == (0, 1, 2, 3) and len(s.pairs) == 6
    for cycle in range(2):
        seen = [s.pair(cycle * 6 + k) for k in range(6)]
        assert sorted(seen) == sorted(s.pairs)  # each pair once per cycle
    b = s.draw(7, global_batch=6)
    assert b.label_a != b.label_b and (b.label_a, b.label_b) == s.pair(7)
    assert (labels[b.index_a] == b.label_a).all() and (labels[b.index_b] == b.label_b).all()
    again = s.draw(7, global_batch=6)
    assert torch.equal(b.index_a, again.index_a)  # a function of the step
    halves = [s.draw(7, global_batch=6, local=slice(r * 3, r * 3 + 3)) for r in (0, 1)]  # two DDP ranks
    assert torch.equal(torch.cat([h.index_b for h in halves]), b.index_b)
    with pytest.raises(ValueError, match="at least 2"):
        ExpressionPairSampler(labels=torch.zeros(4, dtype=torch.long), num_classes=7, seed=0)


def test_pair_sampler_references_other_expressions():
    labels = torch.arange(40) % 5
    s = ExpressionPairSampler(labels=labels, num_classes=7, seed=0)
    own = torch.tensor([0, 1, 2, 3, 4, 0])
    targets, refs = s.references(own, 4, step=5, global_batch=6)
    assert targets.shape == refs.shape == (6, 4)
    for row, y in zip(targets, own):
        assert len(set(row.tolist())) == 4 and y.item() not in row.tolist() and max(row.tolist()) < 5
    assert torch.equal(labels[refs], targets)
    assert s.references(own, 0, step=5, global_batch=6)[0].shape == (6, 0)
    with pytest.raises(ValueError, match="cannot draw 5"):
        s.references(own, 5, step=0, global_batch=6)


# ----------------------------------------------------------------------------- ablation switches


def test_no_expr_builds_classifier_without_fusion():
    full = build_switchgan(TINY.model)
    plain = build_switchgan(TINY.model, expression_representation=False, with_discriminator=False)
    assert full.classifier.fuse is not None and plain.classifier.fuse is None and plain.discriminator is None
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    assert plain(x).shape == full(x).shape == (2, 8)


def test_no_synfi_trains_the_classifier_on_originals_only():
    t = trainer("synthesised_faces_for_classifier=false")
    images, labels, n = t.classifier_batch(0, generator_grad=True)
    assert len(images) == len(labels) == n == 16
    t = trainer("synthesised_per_original=3")
    images, labels, n = t.classifier_batch(0, generator_grad=True)
    assert len(images) == 4 * n and n == 16
    own = labels[:n].repeat_interleave(3)
    assert (labels[n:] != own).all()  # every synthesised face carries another target expression


def test_no_interl_drops_the_interpolation_terms():
    logs = trainer().step(0)
    assert "inter" in logs
    logs = trainer("interpolation_loss=false").step(0)
    assert "inter" not in logs and {"adv", "rec", "per", "pix", "tv", "cls", "d"} <= set(logs)


def test_classifier_loss_reaches_the_generator_only_through_its_encoder():
    zero = ["weights.adv=0", "weights.inter=0", "weights.rec=0", "weights.per=0", "weights.pix=0", "weights.tv=0"]
    t = trainer(*zero)
    g = snapshot(t.model.generator)
    t.step(0)
    assert changed(g, t.model.generator, "encoder.") and not changed(g, t.model.generator, "decoder.")
    t = trainer(*zero, "classifier_grad_through_synthesis=true")
    g = snapshot(t.model.generator)
    t.step(0)
    assert changed(g, t.model.generator, "decoder.")
    t = trainer(*zero, "expression_representation=false")  # No_ExpR: C does not touch G at all
    g = snapshot(t.model.generator)
    t.step(0)
    assert not changed(g, t.model.generator)


def test_two_stage_trains_the_gan_then_the_classifier_on_the_frozen_generator():
    t = trainer("two_stage=true", "gan_optim.epochs=1", "cls_optim.epochs=1")
    assert t.gan_steps == 4 and t.total_steps == 8  # 64 faces / 16 per step
    assert t.stage(3) == (True, False) and t.stage(4) == (False, True)
    c, g = snapshot(t.model.classifier), snapshot(t.model.generator)
    t.step(0)
    assert changed(g, t.model.generator) and not changed(c, t.model.classifier)
    c, g, d = snapshot(t.model.classifier), snapshot(t.model.generator), snapshot(t.model.discriminator)
    logs = t.step(4)
    assert changed(c, t.model.classifier) and not changed(g, t.model.generator)
    assert not changed(d, t.model.discriminator) and set(logs) == {"cls", "total", "cls_acc", "epoch"}


def test_joint_step_updates_all_three_networks():
    t = trainer()
    before = snapshot(t.model)
    logs = t.step(0)
    for part in ("generator.", "discriminator.", "classifier."):
        assert changed(before, t.model, part), part
    assert all(torch.isfinite(torch.tensor(v)) for v in logs.values())


def test_paper_preset_one_step_at_tiny_widths():
    t = trainer("model.width_mult=0.0625", "model.vgg_width_mult=0.0625", "model.hidden=16",
                "model.fuse_channels=8", "gan_optim.batch_size=2", "cls_optim.batch_size=2",
                "synthesised_per_original=6", n=14, cfg=SWITCHGAN_PRESETS["paper"])
    m = t.model
    assert [d.image_size for d in m.discriminator.discriminators] == [256, 128]  # D_1, D_2
    assert m.generator.decoder.in_channels == 2 * 32 + 20 * 7  # Concat(512 + 512 + 20 n) at 1/16 width
    assert m.classifier.pool.output_size == (7, 7) and m.classifier.fuse is not None
    xa, xb, ya, yb = t.pair_batch(0)
    out = m.generator(xa, xb, ya, yb, with_interpolation=True)
    assert out.image_c.shape == out.interp_d.shape == (2, 3, 256, 256) and out.repr_a.shape[-2:] == (8, 8)
    images, labels, n = t.classifier_batch(0, generator_grad=False)
    assert images.shape == (14, 3, 256, 256) and n == 2  # 2 originals + 6N
    logs = t.step(0)
    assert torch.isfinite(torch.tensor(logs["total"]))


def test_grid_references_pair_different_expressions():
    src, ref = grid_references(torch.tensor([0, 0, 1, 2]), 3)
    assert src.tolist() == [0, 1, 2] and ref.tolist() == [2, 2, 3]


# ----------------------------------------------------------------------------- runs


def run_cfg(root: Path, *extra: str):
    return apply_overrides(TINY, ["data.dataset=folder", f"data.root={root}", "data.val_split=valid",
                                  "data.limit_train=0", "data.limit_val=0", "threads=1", *extra])


@pytest.mark.slow  # three 2-epoch training runs (about 13 s)
def test_tiny_run_exact_resume_export_and_load(tiny_dataset, tmp_path):
    cfg = run_cfg(tiny_dataset)
    out = train_switchgan(cfg, tmp_path / "straight", progress=False)
    assert out["step"] == out["total_steps"] == 12  # 96 faces / 16 = 6 steps x 2 epochs
    assert 0 <= out["val_accuracy"] <= 1
    assert sorted(p.name for p in (tmp_path / "straight" / "grids").iterdir()) == ["step-000000006.png",
                                                                                  "step-000000012.png"]
    final = tmp_path / "straight" / "final"
    assert not any(k.startswith("discriminator.") for k in load_state_dict(final / "model.safetensors"))
    assert json.loads((final / "config.json").read_text()) == {"method": "switchgan", **to_dict(cfg)}
    loaded = load_model(final, methods=("switchgan",))
    assert loaded.name == "straight" and loaded.model.discriminator is None
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    assert loaded.model.classify(x).shape == (2, 8)
    train_switchgan(cfg, tmp_path / "split", progress=False, max_steps=5)
    train_switchgan(cfg, tmp_path / "split", progress=False)
    a, b = (load_state_dict(latest_checkpoint(tmp_path / run) / "model.safetensors") for run in ("straight", "split"))
    assert a.keys() == b.keys() and [k for k in a if not torch.equal(a[k], b[k])] == []
    assert load_model(latest_checkpoint(tmp_path / "split"), methods=("switchgan",)).model.discriminator is None


def test_init_from_copies_g_c_and_a_kept_d_then_trains_from_them(tiny_dataset, tmp_path):
    from genfer.io import CheckpointError
    from genfer.train.switchgan import initialise_from

    cfg = run_cfg(tiny_dataset)
    train_switchgan(cfg, tmp_path / "base", progress=False, max_steps=3)
    ckpt = latest_checkpoint(tmp_path / "base")
    saved = load_state_dict(ckpt / "model.safetensors")
    assert any(k.startswith("discriminator.") for k in saved)  # a checkpoint keeps D
    torch.manual_seed(1)
    model = build_switchgan(cfg.model)
    fresh_d = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("discriminator.")}
    assert initialise_from(model, ckpt, cfg) is True
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    # a folder without D (as shipped): G and C copied, D stays as initialised
    train_switchgan(cfg, tmp_path / "done", progress=False)
    final = load_state_dict(tmp_path / "done" / "final" / "model.safetensors")
    torch.manual_seed(1)
    model = build_switchgan(cfg.model)
    assert initialise_from(model, tmp_path / "done" / "final", cfg) is False
    for k, v in model.state_dict().items():
        assert torch.equal(v, fresh_d[k] if k.startswith("discriminator.") else final[k]), k
    with pytest.raises(CheckpointError, match="model section"):
        initialise_from(build_switchgan(cfg.model), ckpt, apply_overrides(cfg, ["model.code_channels=3"]))
    # the trainer starts from them (learning rates 1e-30: nothing moves visibly), with the run's own other settings
    ft = apply_overrides(cfg, [f"init_from={ckpt}", "weights.per=30", "gan_optim.lr=1e-30", "cls_optim.lr=1e-30"])
    train_switchgan(ft, tmp_path / "ft", progress=False, max_steps=2)
    after = load_state_dict(latest_checkpoint(tmp_path / "ft") / "model.safetensors")
    weights = [k for k in after if "running_" not in k and "num_batches" not in k]  # BN statistics do move
    assert all(torch.allclose(after[k], saved[k], atol=1e-6) for k in weights)

