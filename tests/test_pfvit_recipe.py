"""PF-ViT at its ViT baseline's recipe (docs/pfvit.md, "An equal recipe"): E's drop-path, active in training only,
and the weight average (EMA) of E, S, G and C that evaluation, the grids, the checkpoints and ``final/`` use."""

import pytest
import torch

import genfer.train.pfvit as pf
from genfer.config import MAE_PRESETS, MAE_TRAIN_PRESETS, PFVIT_PRESETS, apply_overrides
from genfer.hub import load_model
from genfer.io import CheckpointError, latest_checkpoint, load_state_dict
from genfer.models.pfvit import build_pfvit

PARTS = ("encoder", "separator", "generator", "classifier")


def run_cfg(root, *extra):
    return apply_overrides(PFVIT_PRESETS["tiny"], [
        "data.dataset=folder", f"data.root={root}", "data.val_split=valid", "data.limit_train=0", "data.limit_val=0",
        "threads=1", *extra])


def assert_same_state(a, b, keys=None):
    keys = sorted(a) if keys is None else keys
    assert keys and set(keys) <= set(b)
    for k in keys:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


@pytest.mark.parametrize("drop_path", [0.0, 0.5])
def test_drop_path_in_e_during_training_only(drop_path):
    cfg = apply_overrides(PFVIT_PRESETS["tiny"], [f"model.mae.encoder.drop_path={drop_path}"]).model
    torch.manual_seed(0)
    model = build_pfvit(cfg)
    last = model.encoder.blocks[-1].drop_path1  # rates rise linearly to drop_path at the last block
    assert (last.drop_prob == drop_path) if drop_path else isinstance(last, torch.nn.Identity)
    x = torch.rand(16, 1, 32, 32) * 2 - 1
    model.train()
    first, second = model.separate(x), model.separate(x)
    assert torch.equal(first.z, second.z) == (drop_path == 0.0)
    assert torch.equal(first.logits, second.logits) == (drop_path == 0.0)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.separate(x).z, model.separate(x).z, rtol=0, atol=0)
        torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)


def test_an_mae_without_drop_path_starts_a_pfvit_with_it(tmp_path):
    from genfer.models.mae import build_mae
    from genfer.train.runner import export_model_folder

    torch.manual_seed(1)
    mae = build_mae(MAE_PRESETS["tiny"])
    export_model_folder(tmp_path / "mae", MAE_TRAIN_PRESETS["tiny"], mae.state_dict())
    cfg = apply_overrides(PFVIT_PRESETS["tiny"], ["model.mae.encoder.drop_path=0.1"]).model
    model = build_pfvit(cfg)
    pf.initialise_from(model, tmp_path / "mae", cfg)
    torch.testing.assert_close(model.encoder.blocks[1].attn.qkv.weight, mae.encoder.blocks[1].attn.qkv.weight)
    wider = apply_overrides(PFVIT_PRESETS["tiny"], ["model.mae.encoder.drop_path=0.1", "model.mae.encoder.embed_dim=64"])
    with pytest.raises(CheckpointError, match="differ"):
        pf.initialise_from(build_pfvit(wider.model), tmp_path / "mae", wider.model)


EMA_DECAY, DROP_PATH = 0.9, 0.5


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, module_spy):
    """One whole tiny run (12 steps, evaluation after each of 2 epochs) with a weight average and drop-path."""
    from conftest import record_weight_average, write_class_folders

    spy, mp = module_spy, module_spy.patch
    tmp = tmp_path_factory.mktemp("pfvit-recipe")
    root = write_class_folders(tmp / "data", {"train": 12, "valid": 2})
    cfg = run_cfg(root, f"optim.ema_decay={EMA_DECAY}", f"model.mae.encoder.drop_path={DROP_PATH}", "grid_images=2")
    rec: dict = {"e_training": []}

    record_weight_average(mp, rec)

    def record_model(model):
        if "model" not in rec:  # the trained PF-ViT; the next build is the weight average's (pfvit_from_parts)
            rec["model"] = model
            spy(model, "separate", before=lambda x: rec["e_training"].append(model.encoder.training))

    spy(pf, "build_pfvit", after=record_model)
    rec["predict"] = spy(pf, "predict_probs")
    rec["grids"] = spy(pf, "save_poker_grid")
    rec["streams"] = spy(pf, "step_generator")
    run = tmp / "run"
    rec["summary"] = pf.train_pfvit(cfg, run, progress=False)
    rec["run"] = run
    return cfg, rec


def test_each_step_augments_with_the_stream_of_seed_and_step(recorded):
    cfg, rec = recorded
    assert [c.args for c in rec["streams"]] == [(cfg.seed, s) for s in range(12)]


def test_trained_e_applies_drop_path(recorded):
    cfg, rec = recorded
    assert rec["model"].encoder.blocks[-1].drop_path1.drop_prob == DROP_PATH
    assert len(rec["e_training"]) == rec["summary"]["total_steps"] == 12
    assert all(rec["e_training"]), "E must run in training mode (drop-path on) in every step"


def test_weight_average_follows_e_s_g_c_after_each_step(recorded):
    cfg, rec = recorded
    model, ema = rec["model"], rec["ema"]
    assert rec["ema_kwargs"] == {"decay": EMA_DECAY, "use_warmup": True}
    assert set(ema.module.state_dict()) == {k for k in model.state_dict() if not k.startswith("discriminator.")}
    updates = rec["ema_updates"]
    assert [u["step"] for u in updates] == list(range(1, 13))
    trained = {id(p) for name in PARTS for p in getattr(model, name).parameters()}
    for u in updates:
        assert {id(p) for p in u["module"].parameters()} == trained  # E, S, G, C; not D
    last = updates[-1]
    decay = min(EMA_DECAY, 1 - last["step"] ** (-2 / 3))  # timm's warm-up: 0 at step 1, 0.81 at 12
    assert 0.8 < decay < EMA_DECAY
    for e_old, p, e_new in zip(last["before"], last["params"], ema.module.parameters()):
        torch.testing.assert_close(e_new, decay * e_old + (1 - decay) * p, rtol=1e-5, atol=1e-6)


def test_evaluation_and_grids_use_the_weight_average(recorded):
    _, rec = recorded
    ema = rec["ema"].module
    assert len(rec["predict"]) == 2 and len(rec["grids"]) == 2
    for call in rec["predict"] + rec["grids"]:
        evaluated = call.args[0]
        assert evaluated is not rec["model"] and evaluated.discriminator is None and not evaluated.training
        assert all(getattr(evaluated, name) is ema[name] for name in PARTS)


def test_final_and_checkpoint_folders_hold_the_weight_average(recorded):
    _, rec = recorded
    run = rec["run"]
    ckpt = latest_checkpoint(run)
    final = load_state_dict(run / "final" / "model.safetensors")
    averaged = load_state_dict(ckpt / "ema.safetensors")
    raw = load_state_dict(ckpt / "model.safetensors")
    assert set(final) == set(averaged)
    assert_same_state(averaged, final)
    assert_same_state({k: v for k, v in rec["ema"].module.state_dict().items()}, final)
    moved = [k for k in final if k.startswith("encoder.") and not torch.equal(final[k], raw[k])]
    assert len(moved) > 10, "the exported E must be the average, not the trained E"
    loaded = load_model(ckpt, methods=("pfvit",)).model.state_dict()  # a checkpoint folder as a model: the average
    assert_same_state(final, loaded)


def test_no_weight_average_exports_the_trained_weights(tiny_dataset, tmp_path):
    cfg = run_cfg(tiny_dataset, "grid_images=0")
    assert cfg.optim.ema_decay == 0.0 and PFVIT_PRESETS["cpu"].optim.ema_decay == 0.0
    pf.train_pfvit(cfg, tmp_path / "run", progress=False)
    ckpt = latest_checkpoint(tmp_path / "run")
    assert not (ckpt / "ema.safetensors").exists()
    raw = load_state_dict(ckpt / "model.safetensors")
    final = load_state_dict(tmp_path / "run" / "final" / "model.safetensors")
    assert set(final) == {k for k in raw if not k.startswith("discriminator.")}
    assert_same_state(final, raw, keys=sorted(final))
    assert_same_state(final, load_model(ckpt, methods=("pfvit",)).model.state_dict())


def test_resume_continues_the_weight_average_exactly(tiny_dataset, tmp_path):
    cfg = run_cfg(tiny_dataset, "grid_images=0", f"optim.ema_decay={EMA_DECAY}",
                  f"model.mae.encoder.drop_path={DROP_PATH}")
    pf.train_pfvit(cfg, tmp_path / "straight", progress=False)
    pf.train_pfvit(cfg, tmp_path / "split", progress=False, max_steps=5)
    pf.train_pfvit(cfg, tmp_path / "split", progress=False)
    a, b = latest_checkpoint(tmp_path / "straight"), latest_checkpoint(tmp_path / "split")
    assert a.name == b.name
    for name in ("ema.safetensors", "model.safetensors"):
        assert_same_state(load_state_dict(a / name), load_state_dict(b / name))
    assert_same_state(load_state_dict(tmp_path / "straight" / "final" / "model.safetensors"),
                      load_state_dict(tmp_path / "split" / "final" / "model.safetensors"))
