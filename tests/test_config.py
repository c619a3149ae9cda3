import pytest

from genfer.config import (ConfigError, RecognizerModelConfig, OptimConfig, RECOGNIZER_PRESETS, RecognizerTrainConfig, apply_overrides,
                           from_dict, load_config, preset, save_config, to_dict)


@pytest.mark.parametrize("name", sorted(RECOGNIZER_PRESETS))
def test_presets_round_trip_through_yaml_and_json(tmp_path, name):
    cfg = preset(name)
    for suffix in (".yaml", ".json"):
        save_config(cfg, tmp_path / f"c{suffix}")
        assert load_config(RecognizerTrainConfig, tmp_path / f"c{suffix}") == cfg
    assert from_dict(RecognizerTrainConfig, to_dict(cfg)) == cfg


def test_overrides_parse_values_and_are_validated():
    cfg = apply_overrides(preset("tiny"), ["optim.lr=0.5", "model.channels=[4, 8, 8, 16]", "augment.hflip=false"])
    assert cfg.optim.lr == 0.5 and cfg.model.channels == (4, 8, 8, 16) and cfg.augment.hflip is False
    with pytest.raises(ConfigError, match="unknown config key 'optim.lrr'"):
        apply_overrides(cfg, ["optim.lrr=1"])
    with pytest.raises(ConfigError, match="optim.lr must be > 0"):
        apply_overrides(cfg, ["optim.lr=-1"])
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides(cfg, ["optim.lr"])


def test_frozen_and_validated():
    with pytest.raises(ConfigError, match="model.in_chans"):
        RecognizerModelConfig(in_chans=2)
    with pytest.raises(ConfigError, match="optim.optimizer"):
        OptimConfig(optimizer="rmsprop")
    with pytest.raises(Exception):
        preset("cpu").seed = 3  # type: ignore[misc]
    with pytest.raises(ConfigError, match="unknown preset"):
        preset("huge")
    with pytest.raises(ConfigError, match="unknown config key"):
        from_dict(RecognizerTrainConfig, {"modell": {}})
    with pytest.raises(ConfigError, match="must be int"):
        from_dict(RecognizerTrainConfig, {"seed": "abc"})


def test_empty_override_clears_a_string_field():
    cfg = apply_overrides(RECOGNIZER_PRESETS["tiny"], ["data.val_split=", "init_from="])
    assert cfg.data.val_split == "" and cfg.init_from == ""
