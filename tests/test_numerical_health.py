"""No NaN model and no NaN JSON: a diverged run stops without saving, non-finite weights are never written or loaded,
every JSON output parses in a strict parser."""

from __future__ import annotations

import json
import math

import pytest
import torch

from conftest import assert_user_error, run_cli, write_class_folders
from genfer.io import CheckpointError, json_dumps, latest_checkpoint, load_state_dict, save_state_dict
from genfer.io.weights import nonfinite_keys
from genfer.train.distributed import DistInfo
from genfer.train.loop import TrainingDiverged, TrainingRun, nonfinite_scalars


def strict_loads(text: str):
    """``json.loads`` that refuses NaN / Infinity, as JavaScript's ``JSON.parse`` does."""

    def refuse(token: str):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def test_strict_json_writes_null_for_non_finite_numbers():
    import numpy as np

    text = json_dumps({"p": {"neutral": float("nan"), "happiness": 0.5}, "x": [np.float32("inf"), -math.inf, 2]})
    assert strict_loads(text) == {"p": {"neutral": None, "happiness": 0.5}, "x": [None, None, 2]}
    with pytest.raises(ValueError):
        strict_loads(json.dumps({"a": float("nan")}))  # the parser used by the tests does refuse NaN


def test_nonfinite_keys_and_scalars():
    state = {"a": torch.ones(2), "b": torch.tensor([1.0, float("nan")]), "c": torch.tensor([float("inf")]),
             "steps": torch.tensor([3])}
    assert nonfinite_keys(state) == ["b", "c"]
    assert nonfinite_scalars({"loss": float("nan"), "lr": 0.1, "acc": torch.tensor(float("inf")), "ok": True}) \
        == ["loss", "acc"]


def test_non_finite_weights_are_neither_written_nor_loaded(tmp_path):
    bad = {"w": torch.tensor([1.0, float("nan")])}
    with pytest.raises(CheckpointError, match="non-finite"):
        save_state_dict(bad, tmp_path / "bad.safetensors")
    assert not (tmp_path / "bad.safetensors").exists()
    with pytest.raises(CheckpointError, match="non-finite"):  # fp16 export of a value beyond fp16's range
        save_state_dict({"w": torch.tensor([1e6])}, tmp_path / "half.safetensors", dtype=torch.float16)
    from safetensors.torch import save_file

    save_file(bad, str(tmp_path / "nan.safetensors"))  # as another tool could write it
    with pytest.raises(CheckpointError, match="non-finite values .* 1 of 1 tensors"):
        load_state_dict(tmp_path / "nan.safetensors")


def _run(tmp_path, step_fn, modules):
    return TrainingRun(run_dir=tmp_path / "run", config={"name": "t"}, modules=modules, optimizers={},
                       info=DistInfo(), checkpoint_minutes=0.0, progress=False)


def test_diverged_loop_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    net = torch.nn.Linear(2, 1)
    run = _run(tmp_path, None, {"model": net})

    def step(s: int) -> dict[str, float]:
        if s == 3:
            with torch.no_grad():
                net.weight[0, 0] = float("nan")
            return {"loss": float("nan")}
        return {"loss": 1.0 / (s + 1)}

    with pytest.raises(TrainingDiverged, match=r"step 4: loss is nan; nothing saved \(the last good checkpoint"):
        run.loop(step, total_steps=10)
    last = latest_checkpoint(tmp_path / "run")
    assert last.name == "ckpt-000000003"  # checkpointed after each good step, never after the bad one
    assert not nonfinite_keys(load_state_dict(last / "model.safetensors"))


def test_weights_going_non_finite_under_a_finite_loss_are_caught(tmp_path):
    net = torch.nn.Linear(2, 1)
    run = _run(tmp_path, None, {"model": net})

    def step(s: int) -> dict[str, float]:
        with torch.no_grad():
            net.bias.fill_(float("inf") if s == 1 else 0.0)
        return {"loss": 0.5}

    with pytest.raises(TrainingDiverged, match="1 tensors of model are non-finite .first: bias"):
        run.loop(step, total_steps=5)
    assert latest_checkpoint(tmp_path / "run").name == "ckpt-000000001"


def _tiny_train_args(data, out, *extra):
    sets = ["data.dataset=folder", f"data.root={data}", "data.val_split=valid", "data.target=label",
            "data.limit_train=0", "data.limit_val=0", "threads=1", "model.image_size=48", *extra]
    return ["train", "--preset", "tiny", "--out", str(out), "--quiet", *[a for s in sets for a in ("--set", s)]]


@pytest.mark.usefixtures("one_thread")
def test_cli_nan_run_exits_2_without_exporting(tmp_path, capsys):
    data = write_class_folders(tmp_path / "data", {"train": 12, "valid": 4})
    code, out, err = run_cli(capsys, *_tiny_train_args(data, tmp_path / "run", "optim.lr=1e6"))
    assert_user_error(code, err, "training diverged", "nothing saved")
    assert out == "" and not (tmp_path / "run" / "final").exists() and latest_checkpoint(tmp_path / "run") is None
    code, out, err = run_cli(capsys, *_tiny_train_args(data, tmp_path / "run2", "optim.lr=inf"))
    assert_user_error(code, err, "optim.lr must be a finite number")


def test_cli_recognize_refuses_a_nan_model_and_its_json_is_strict(tmp_path, capsys, tiny_model, sample_photo):
    import shutil

    from safetensors.torch import load_file, save_file

    nan_model = tmp_path / "nan-model"
    shutil.copytree(tiny_model, nan_model)
    state = load_file(str(nan_model / "model.safetensors"))
    first = next(k for k, v in state.items() if v.is_floating_point())
    state[first] = torch.full_like(state[first], float("nan"))
    save_file(state, str(nan_model / "model.safetensors"))
    code, out, err = run_cli(capsys, "recognize", str(sample_photo), "--model", str(nan_model), "--json")
    assert_user_error(code, err, "non-finite values")
    code, out, err = run_cli(capsys, "recognize", str(sample_photo), "--model", str(tiny_model), "--json")
    assert code == 0
    faces = strict_loads(out)["results"][0]["faces"]
    assert faces and all(math.isfinite(p) for p in faces[0]["probabilities"].values())


def test_saved_weights_get_the_usual_permissions(tmp_path):
    """safetensors' own writer leaves 0600 files; shipped and checkpointed weights must be readable by others."""
    import os
    mask = os.umask(0o022)
    try:
        save_state_dict({"w": torch.ones(2)}, tmp_path / "w.safetensors")
    finally:
        os.umask(mask)
    assert (tmp_path / "w.safetensors").stat().st_mode & 0o777 == 0o644
    assert load_state_dict(tmp_path / "w.safetensors")["w"].tolist() == [1.0, 1.0]
