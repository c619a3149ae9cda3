"""The method registry and the one model loader: every method's folders, shipped models, legacy configs."""

import json
import shutil
from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch

import genfer.train  # noqa: F401  (attaches the built-in trainers)
from genfer import registry
from genfer.config import RunConfig, apply_overrides, to_dict
from genfer.hub import available_models, load_model
from genfer.io import CheckpointError, latest_checkpoint, read_config

BUILT_IN = ("recognizer", "mae", "pfvit", "switchgan", "stylegan2", "psp")


def test_every_built_in_method_is_registered_with_its_trainer():
    assert registry.names()[: len(BUILT_IN)] == list(BUILT_IN)
    for name in BUILT_IN:
        method = registry.get(name)
        assert method.config.method == name and "tiny" in method.presets and callable(method.train)
    with pytest.raises(ValueError, match="unknown method 'nope'; available: recognizer, mae"):
        registry.get("nope")


@pytest.mark.parametrize("name", available_models())
def test_shipped_models_name_their_method_and_load(name):
    loaded = load_model(name)
    assert read_config(loaded.folder)["method"] == loaded.method
    assert not loaded.model.training


@pytest.mark.parametrize("name", available_models())
def test_shipped_folders_without_method_are_inferred(name, tmp_path):
    """The first shipped folders had no ``method``: registry.infer_method recognises each by its config."""
    folder = load_model(name).folder
    legacy = tmp_path / name
    shutil.copytree(folder, legacy)
    data = read_config(legacy)
    method = data.pop("method")
    (legacy / "config.json").write_text(json.dumps(data))
    assert registry.infer_method(data) == method
    assert load_model(legacy).method == method


def test_config_that_fits_no_method_is_one_clear_error(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"name": "x", "colour": "blue"}))
    with pytest.raises(CheckpointError, match="names no method and fits no method's config"):
        load_model(tmp_path)


def test_config_that_fits_several_methods_is_refused_not_guessed(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"name": "x"}))  # every config class accepts it
    with pytest.raises(CheckpointError, match=r"fits several methods' \(recognizer, mae, pfvit"):
        load_model(tmp_path)


def test_load_model_refuses_the_wrong_method_or_task():
    with pytest.raises(CheckpointError, match="is a recognizer model, not switchgan"):
        load_model("fer-resnet18s-48", methods=("switchgan",))
    with pytest.raises(CheckpointError, match="not a model that can neutralize"):
        load_model("fer-resnet18s-48", task="neutralize")


def _tiny(name, root, generator=None):
    labelled = ["data.dataset=folder", f"data.root='{root}'"]
    pooled = [f"sources=[{{dataset: folder, root: '{root}', split: train}}]"]
    extra = {"recognizer": labelled, "pfvit": labelled + ["data.target=label"],
             "switchgan": labelled + ["data.label_source=majority"], "mae": pooled, "stylegan2": pooled,
             "psp": pooled + [f"generator='{generator}'"]}[name]
    return apply_overrides(registry.get(name).presets["tiny"], ["threads=1", *extra])


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """One finished tiny run of every built-in method (pSp on the tiny StyleGAN2)."""
    from conftest import write_class_folders

    root = write_class_folders(tmp_path_factory.mktemp("data") / "set", {"train": 12, "valid": 4})
    out = tmp_path_factory.mktemp("runs")
    runs = {}
    for name in BUILT_IN:
        cfg = _tiny(name, root, generator=runs.get("stylegan2"))
        registry.get(name).train(cfg, out / name, progress=False)
        runs[name] = out / name
    return runs


@pytest.mark.parametrize("name", BUILT_IN)
def test_final_run_and_checkpoint_folders_of_every_method_load(name, tiny_runs):
    run = tiny_runs[name]
    final = load_model(run)  # a run folder resolves to its final/
    assert final.method == name and final.folder == run / "final"
    assert read_config(run / "final")["method"] == name == read_config(latest_checkpoint(run))["method"]
    ckpt = load_model(latest_checkpoint(run))
    assert ckpt.method == name
    a, b = final.model.state_dict(), ckpt.model.state_dict()
    assert sorted(a) == sorted(b)
    assert not any(k.startswith("discriminator.") for k in a)  # inference never carries D
    if name == "stylegan2":  # the generator's D is kept beside it
        assert (run / "final" / "discriminator.safetensors").is_file()
        torch.testing.assert_close(final.model.latent_avg, ckpt.model.latent_avg)


@dataclass(frozen=True)
class _EchoConfig(RunConfig):
    method: ClassVar[str] = "echo"
    name: str = "echo"
    width: int = 3


def test_a_third_party_method_registers_trains_and_loads_without_touching_genfer(tmp_path):
    from genfer.train.runner import export_model_folder

    def train_echo(cfg, run_dir, **_):
        export_model_folder(run_dir / "final", cfg, torch.nn.Linear(cfg.width, 1).state_dict())
        return {"step": 0}

    def load_echo(cfg, state):
        net = torch.nn.Linear(cfg.width, 1)
        net.load_state_dict(state)
        return net

    registry.register(registry.Method(name="echo", summary="test method", config=_EchoConfig,
                                      presets={"tiny": _EchoConfig()}, load=load_echo, train=train_echo))
    try:
        registry.get("echo").train(_EchoConfig(width=4), tmp_path)
        loaded = load_model(tmp_path)
        assert loaded.method == "echo" and loaded.model.in_features == 4
        assert read_config(tmp_path / "final") == {"method": "echo", **to_dict(_EchoConfig(width=4))}
    finally:
        registry._METHODS.pop("echo")
