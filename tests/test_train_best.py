"""The best-evaluation snapshot and the plateau rule (genfer.train.best), and StyleGAN2's use of them."""

import json
from pathlib import Path

import pytest
import torch

from genfer.config import STYLEGAN2_PRESETS, ConfigError, apply_overrides
from genfer.io import latest_checkpoint, load_state_dict
from genfer.train.best import SNAPSHOT_FILE, BestSnapshot


def _export_marker(tag: str):
    def export(folder: Path) -> None:
        (folder / "model.txt").write_text(tag)
    return export


def test_best_of_the_logged_evaluations_up_to_the_resumed_step(tmp_path):
    records = [
        {"event": "train", "step": 10, "fid": 0.1},          # not an evaluation
        {"event": "eval", "step": 100, "fid": 3.0},
        {"event": "eval", "step": 200, "fid": 2.0},
        {"event": "eval", "step": 300, "fid": float("nan")},
        {"event": "eval", "step": 400, "fid": 2.5},
        {"event": "eval", "step": 500, "fid": 1.0},          # after the checkpoint the run resumes from
    ]
    best = BestSnapshot.from_records(tmp_path / "best", "fid", records, upto_step=400, position=lambda s: s * 32 / 1000)
    assert (best.value, best.step, best.position) == (2.0, 200, 6.4)
    assert not best.holds_best()  # no best/ folder was written for it
    empty = BestSnapshot.from_records(tmp_path / "best", "fid", [], upto_step=400, position=float)
    assert empty.value is None and empty.plateau(200) is None
    assert best.evaluated_at == 12.8  # the latest evaluation up to the resumed step (the NaN one counts too)


def test_offer_keeps_only_improvements_and_replaces_the_folder(tmp_path):
    best = BestSnapshot(tmp_path / "best", "fid")
    assert best.offer(3.0, step=1, position=0.5, export=_export_marker("a"))
    assert best.offer(2.0, step=2, position=1.0, export=_export_marker("b"))
    assert not best.offer(2.0, step=3, position=1.5, export=_export_marker("c"))   # equal is no improvement
    assert not best.offer(float("nan"), step=4, position=2.0, export=_export_marker("d"))
    assert (tmp_path / "best" / "model.txt").read_text() == "b"
    assert json.loads((tmp_path / "best" / SNAPSHOT_FILE).read_text()) == {
        "metric": "fid", "value": 2.0, "step": 2, "position": 1.0}
    assert best.holds_best() and (best.value, best.step, best.position) == (2.0, 2, 1.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]  # no temporary or old folders left


def test_a_failed_export_keeps_the_previous_best(tmp_path):
    best = BestSnapshot(tmp_path / "best", "fid")
    best.offer(3.0, step=1, position=0.5, export=_export_marker("a"))

    def broken(folder: Path) -> None:
        (folder / "model.txt").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        best.offer(1.0, step=2, position=1.0, export=broken)
    assert (tmp_path / "best" / "model.txt").read_text() == "a" and best.value == 3.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]


def test_plateau_counts_from_the_best_position_to_the_latest_evaluation():
    best = BestSnapshot(Path("unused"), "fid", value=0.686, position=650.0, step=20306, evaluated_at=849.9)
    assert best.plateau(200) is None
    best.evaluated_at = 850.0
    assert best.plateau(200) == "fid has not improved for 200 kimg (best 0.686 at 650 kimg)"
    assert best.plateau(0) is None  # 0: the rule is off


def test_a_run_resumed_between_evaluations_is_judged_at_its_last_evaluation(tmp_path):
    """The generator run's case: best at 1,049.66 kimg, the last evaluation 199.9 kimg later, the checkpoint at
    1,265 kimg. The uninterrupted run goes on to its next evaluation, so the resumed one must too."""
    kimg = lambda s: s * 32 / 1000  # noqa: E731
    records = [{"event": "eval", "step": 32802, "fid": 0.482}, {"event": "eval", "step": 39050, "fid": 0.503}]
    best = BestSnapshot.from_records(tmp_path / "best", "fid", records, upto_step=39535, position=kimg)
    assert best.evaluated_at == kimg(39050) and best.plateau(200) is None
    assert not best.offer(0.49, step=40612, position=kimg(40612), export=_export_marker("x"))
    assert best.plateau(200) == "fid has not improved for 249.92 kimg (best 0.482 at 1049.66 kimg)"


def test_target_is_reached_by_the_best_value_at_or_below_it():
    best = BestSnapshot(Path("unused"), "fid", value=0.51, position=900.0, step=28125, evaluated_at=900.0)
    assert best.reached(0.5) is None
    best.value, best.position = 0.5, 950.0
    assert best.reached(0.5) == "fid reached 0.5 <= 0.5 (at 950)"
    assert best.reached(0) is None  # 0: the rule is off
    assert BestSnapshot(Path("unused"), "fid").reached(0.5) is None  # nothing measured yet


def test_plateau_needs_fid():
    with pytest.raises(ConfigError, match="plateau_kimg needs FID"):
        apply_overrides(STYLEGAN2_PRESETS["tiny"], ["plateau_kimg=10"])
    with pytest.raises(ConfigError, match="plateau_kimg must be >= 0"):
        apply_overrides(STYLEGAN2_PRESETS["tiny"], ["plateau_kimg=-1", "fid_images=0"])
    assert STYLEGAN2_PRESETS["cpu"].plateau_kimg == 200
    with pytest.raises(ConfigError, match="target_fid needs FID"):
        apply_overrides(STYLEGAN2_PRESETS["tiny"], ["target_fid=0.5"])
    with pytest.raises(ConfigError, match="target_fid must be >= 0"):
        apply_overrides(STYLEGAN2_PRESETS["tiny"], ["target_fid=-1", "fid_images=0"])


class _ScriptedFID:
    """Stands in for FIDMonitor: returns the next scripted value at each evaluation."""

    values: list[float] = []

    def __init__(self, real, *, model, style_dim, seed, device):
        self.name = "scripted"

    def __call__(self, g):
        return _ScriptedFID.values.pop(0)


def _scripted_fid_config(tiny_dataset, *overrides: str):
    """The tiny StyleGAN2 preset on the tiny dataset, one thread, FID on (scripted), no grids, plus ``overrides``."""
    return apply_overrides(STYLEGAN2_PRESETS["tiny"], [
        f"sources=[{{dataset: folder, root: '{tiny_dataset}', split: train}}]", "threads=1", "grid_images=0",
        "fid_images=8", *overrides])


def test_stylegan2_stops_on_a_plateau_and_ships_the_best_snapshot(tiny_dataset, tmp_path, monkeypatch):
    import genfer.train.stylegan2 as sg

    monkeypatch.setattr(sg, "FIDMonitor", _ScriptedFID)
    _ScriptedFID.values = [3.0, 2.0, 2.5, 2.6, 9.0, 9.0, 9.0, 9.0]
    # batch 8, an evaluation every step (0.008 kimg), 8 steps; the plateau rule: 2 evaluations without improvement
    cfg = _scripted_fid_config(tiny_dataset, "eval_every_kimg=0.008", "plateau_kimg=0.016")
    run = tmp_path / "run"
    out = sg.train_stylegan2(cfg, run, progress=False)
    assert out["step"] == 4 and out["total_steps"] == 8
    assert out["stopped_early"] == "fid has not improved for 0.016 kimg (best 2 at 0.016 kimg)"
    assert (out["best_fid"], out["best_kimg"]) == (2.0, 0.016)
    assert json.loads((run / "best" / SNAPSHOT_FILE).read_text())["step"] == 2
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["best_so_far"] for r in records if r["event"] == "eval"] == [True, True, False, False]
    assert records[-1]["event"] == "end" and records[-1]["finished"] is True
    # final/ is the best snapshot (step 2), not the last weights (step 4), and keeps the discriminator
    final, best = load_state_dict(run / "final" / "model.safetensors"), load_state_dict(run / "best" / "model.safetensors")
    last = load_state_dict(latest_checkpoint(run) / "g_ema.safetensors")
    torch.testing.assert_close(final["style.1.weight"], best["style.1.weight"], rtol=0, atol=0)
    assert not torch.equal(final["style.1.weight"], last["style.1.weight"])
    assert (run / "final" / "discriminator.safetensors").is_file()
    # the same command again: the run stays stopped (no step, no evaluation); plateau_kimg may change on resume
    again = sg.train_stylegan2(apply_overrides(cfg, ["plateau_kimg=0.012"]), run, progress=False)
    assert again["step"] == 4 and _ScriptedFID.values == [9.0] * 4


def test_without_the_plateau_rule_final_is_the_last_weights(tiny_dataset, tmp_path, monkeypatch):
    import genfer.train.stylegan2 as sg

    monkeypatch.setattr(sg, "FIDMonitor", _ScriptedFID)
    _ScriptedFID.values = [2.0, 3.0, 3.0, 3.0]
    cfg = _scripted_fid_config(tiny_dataset, "eval_every_kimg=0.016")
    run = tmp_path / "run"
    out = sg.train_stylegan2(cfg, run, progress=False)
    assert out["step"] == 8 and "stopped_early" not in out and out["best_kimg"] == 0.016
    final, best = load_state_dict(run / "final" / "model.safetensors"), load_state_dict(run / "best" / "model.safetensors")
    last = load_state_dict(latest_checkpoint(run) / "g_ema.safetensors")
    torch.testing.assert_close(final["style.1.weight"], last["style.1.weight"], rtol=0, atol=0)
    assert not torch.equal(final["style.1.weight"], best["style.1.weight"])


def test_stylegan2_stops_at_the_target_fid_and_ships_that_snapshot(tiny_dataset, tmp_path, monkeypatch):
    import genfer.train.stylegan2 as sg

    monkeypatch.setattr(sg, "FIDMonitor", _ScriptedFID)
    _ScriptedFID.values = [3.0, 0.6, 0.5, 0.4, 9.0, 9.0, 9.0, 9.0]
    out = sg.train_stylegan2(_scripted_fid_config(tiny_dataset, "eval_every_kimg=0.008", "target_fid=0.5"),
                             run := tmp_path / "run", progress=False)
    assert out["step"] == 3 and out["stopped_early"] == "fid reached 0.5 <= 0.5 (at 0.024)"
    assert (out["best_fid"], out["best_kimg"]) == (0.5, 0.024)
    assert json.loads((run / "best" / SNAPSHOT_FILE).read_text())["step"] == 3


def test_a_target_set_on_resume_ends_the_run_with_the_best_snapshot(tiny_dataset, tmp_path, monkeypatch):
    """The best FID (step 2) is already below a target given when the run is resumed and lengthened: the run ends
    at once, and final/ is the best snapshot, not the checkpoint's later weights (step 4)."""
    import genfer.train.stylegan2 as sg

    monkeypatch.setattr(sg, "FIDMonitor", _ScriptedFID)
    _ScriptedFID.values = [3.0, 0.4, 2.0, 2.0, 9.0]
    cfg = _scripted_fid_config(tiny_dataset, "eval_every_kimg=0.008", "kimg=0.032")
    run = tmp_path / "run"
    assert sg.train_stylegan2(cfg, run, progress=False)["step"] == 4
    out = sg.train_stylegan2(apply_overrides(cfg, ["kimg=0.064", "target_fid=0.5"]), run, progress=False)
    assert out["step"] == 4 and out["stopped_early"] == "fid reached 0.4 <= 0.5 (at 0.016)"
    final, best = load_state_dict(run / "final" / "model.safetensors"), load_state_dict(run / "best" / "model.safetensors")
    last = load_state_dict(latest_checkpoint(run) / "g_ema.safetensors")
    torch.testing.assert_close(final["style.1.weight"], best["style.1.weight"], rtol=0, atol=0)
    assert not torch.equal(final["style.1.weight"], last["style.1.weight"])
