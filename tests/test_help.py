"""Every option of every ``genfer`` subcommand has a help line that names its default, every ``COMMAND --help``
ends with one example, and the lists in help texts come from the registries. The walk covers any subcommand a
module adds to ``genfer.commands.COMMANDS`` (and nested subcommands), so new commands are checked too."""

from __future__ import annotations

import argparse

import pytest

from genfer import registry
from genfer.cli import build_parser, main
from genfer.commands._help import HelpFormatter, finish_help


def _subcommands(parser: argparse.ArgumentParser, prefix: str = "genfer"):
    """(full command name, parser) of every subcommand, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub
                yield from _subcommands(sub, f"{prefix} {name}")


def _has_subcommands(parser: argparse.ArgumentParser) -> bool:
    return any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)


def _shown_default(parser: argparse.ArgumentParser, action: argparse.Action) -> bool:
    text = parser._get_formatter()._get_help_string(action) % {"default": action.default}
    return "default" in text.lower()


def _missing_help(parser: argparse.ArgumentParser) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
            continue
        name = "/".join(action.option_strings) or action.dest
        if not (action.help or "").strip() or action.help is argparse.SUPPRESS:
            missing.append(f"{name}: no help")
        elif action.default not in (None, False, "", [], argparse.SUPPRESS) and not _shown_default(parser, action):
            missing.append(f"{name}: default {action.default!r} not shown")
    return missing


COMMANDS = dict(_subcommands(build_parser()))


def test_every_subcommand_is_walked():
    assert {"genfer recognize", "genfer train", "genfer eval", "genfer models"} <= set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_has_help_with_its_default(command):
    assert _missing_help(COMMANDS[command]) == []


@pytest.mark.parametrize("command", sorted(c for c, p in COMMANDS.items() if not _has_subcommands(p)))
def test_help_ends_with_one_example(command):
    lines = COMMANDS[command].format_help().rstrip().splitlines()
    assert lines[-2] == "example:", f"{command} --help has no example epilog (define EXAMPLE in its module)"
    assert lines[-1].strip().startswith(command + " ")


def test_the_walk_catches_an_option_without_help():
    parser = finish_help(argparse.ArgumentParser(prog="x"))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0, help="seed")
    parser.add_argument("--quiet", action="store_true", help="no bar")
    assert _missing_help(parser) == ["--batch-size: no help"]
    assert "seed (default: 0)" in " ".join(parser.format_help().split())


def test_formatter_keeps_a_default_the_help_already_names():
    parser = argparse.ArgumentParser(prog="x", formatter_class=HelpFormatter)
    parser.add_argument("-n", type=int, default=16, help="faces (default 16)")
    text = " ".join(parser.format_help().split())
    assert "faces (default 16)" in text and "default: 16" not in text


def test_lists_come_from_the_registries(capsys):
    from genfer.data.registry import DATASETS
    from genfer.hub import MODEL_ALIASES, available_models, read_model_config

    train = " ".join(COMMANDS["genfer train"].format_help().split())
    for name in registry.names():
        method = registry.get(name)
        assert name in train and method.summary in train
        assert f"{name}: {', '.join(method.presets)}" in train
    evaluate = " ".join(COMMANDS["genfer eval"].format_help().split())
    assert all(name in evaluate for name in DATASETS)
    recognizers = [n for n in available_models() if "recognize" in registry.method_of(read_model_config(n)[1]).tasks]
    assert recognizers and all(n in evaluate.replace("- ", "-") for n in recognizers)
    from genfer.metrics.names import METRICS

    eval_gen = " ".join(COMMANDS["genfer eval-gen"].format_help().split())
    assert all(name in eval_gen for name in METRICS)
    neutralize = " ".join(COMMANDS["genfer neutralize"].format_help().split()).replace("- ", "-")
    assert f"{MODEL_ALIASES['pfvit']} (pfvit)" in neutralize


def test_eval_text_of_a_dataset_without_splits_says_all_images(capsys, tiny_model, tmp_path):
    from PIL import Image

    rows = ["path,label"]
    for k, label in enumerate(["happy", "sad", "neutral"]):
        Image.new("L", (48, 48), 40 * k).save(tmp_path / f"{k}.png")
        rows.append(f"{k}.png,{label}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    code = main(["eval", "--dataset", "csv", "--data", str(tmp_path / "labels.csv"), "--model", str(tiny_model),
                 "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "split None" not in out and "on csv all images" in out
