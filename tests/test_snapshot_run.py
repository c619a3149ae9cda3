"""scripts/snapshot_run.py: a run's resume point (latest checkpoint, best/) written as a model folder with its record."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from script_helpers import load_script

from genfer.config import PFVIT_PRESETS, to_dict
from genfer.io import load_state_dict, save_state_dict


def _checkpoint(folder: Path, value: float) -> None:
    folder.mkdir(parents=True)
    save_state_dict({"encoder.w": torch.full((2,), value)}, folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps({"method": "pfvit", **to_dict(PFVIT_PRESETS["tiny"])}))


def test_snapshot_writes_the_latest_checkpoint_and_best_with_their_steps(tmp_path):
    run = tmp_path / "run"
    _checkpoint(run / "ckpt-000000012", 0.5)
    _checkpoint(run / "ckpt-000000024", 0.25)  # the newest checkpoint, which `latest` names
    (run / "latest").write_text("ckpt-000000024\n")
    (run / "metrics.jsonl").write_text('{"step": 24}\n')
    _checkpoint(run / "best", 0.75)
    best_record = {"metric": "fid", "value": 0.6, "step": 12, "position": 0.4}
    (run / "best" / "snapshot.json").write_text(json.dumps(best_record))
    assert load_script("scripts/snapshot_run.py").main([str(run), "gen", "--best", "--dest", str(tmp_path / "snapshots")]) == 0

    latest = tmp_path / "snapshots" / "gen"
    weights = load_state_dict(latest / "model.safetensors")
    assert weights["encoder.w"].dtype == torch.float16 and weights["encoder.w"].tolist() == [0.25, 0.25]
    assert (latest / "metrics.jsonl").read_text() == '{"step": 24}\n'
    record = json.loads((latest / "snapshot.json").read_text())
    assert (record["checkpoint"], record["step"], record["run"]) == ("ckpt-000000024", 24, str(run))

    best = tmp_path / "snapshots" / "gen-best"
    assert load_state_dict(best / "model.safetensors")["encoder.w"].tolist() == [0.75, 0.75]
    record = json.loads((best / "snapshot.json").read_text())
    assert record["checkpoint"] == "best" and {k: record[k] for k in best_record} == best_record
