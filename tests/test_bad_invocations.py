"""Every subcommand, walked with a table of bad invocations: each exits with code 2 and ONE stderr line, never a
traceback, never exit 0 with an empty or wrong answer.

Placeholders in the table: ``{file}`` an existing regular file (not a folder), ``{missing}`` a path that does not
exist, ``{corrupt}`` a class-folder dataset with one corrupt PNG among good images, ``{photo}`` a real photo.
"""

from __future__ import annotations

import argparse

import pytest

from conftest import write_class_folders

CASES: list[tuple[str, str]] = [
    # (command line, a fragment the one stderr line must hold)
    ("recognize {photo} --batch-size -3", "--batch-size must be >= 1, not -3"),
    ("recognize {photo} --batch-size 0", "--batch-size must be >= 1, not 0"),
    ("recognize {photo} --batch-size abc", "invalid int value"),
    ("recognize {photo} --threads -1", "--threads must be >= 0"),
    ("recognize {photo} --annotate {file}", "is a file, not a folder"),
    ("recognize {photo} --annotate {file}/sub", "a file, not a folder"),
    ("recognize {photo} --every 0", "--every must be >= 1"),
    ("recognize", "the following arguments are required: paths"),
    ("recognize {photo} --no-such-option", "unrecognized arguments"),
    ("train --max-steps 0", "--max-steps must be >= 1, not 0"),
    ("train --max-steps -1", "--max-steps must be >= 1, not -1"),
    ("train --preset tiny --config {file}", "--preset and --config exclude each other"),
    ("train --preset tiny --out {file}", "is a file, not a folder"),
    ("train --preset tiny --set optim.lr=inf --print-config", "optim.lr must be a finite number"),
    ("train --threads -1", "--threads must be >= 0"),
    ("train no-such-method", "unknown training method"),
    ("eval --dataset folder --limit -5", "--limit must be >= 0"),
    ("eval --dataset folder --batch-size 0", "--batch-size must be >= 1"),
    ("eval --dataset folder --data {corrupt} --split test --faces crop --quiet", "zz-bad.png: not an image"),
    ("eval --dataset folder --data {corrupt} --out {file}", "is a file, not a folder"),
    ("train --preset tiny --set data.dataset=folder --set data.root={corrupt} --set data.train_split=test "
     "--set data.val_split= --set threads=1 --out {tmp}/run --quiet", "zz-bad.png: not an image"),
    ("eval-gen {missing} {missing} --batch-size 0", "--batch-size must be >= 1"),
    ("eval-gen {missing} {missing} --kid-subsets 0", "--kid-subsets must be >= 1"),
    ("demo --out {file}", "is a file, not a folder"),
    ("demo --threads -2", "--threads must be >= 0"),
    ("models --no-such-option", "unrecognized arguments"),
    ("runs --no-such-option", "unrecognized arguments"),
    ("neutralize {photo} --out {tmp}/o --scale 0", "--scale must be >= 1, not 0"),
    ("neutralize {photo} --out {file}", "is a file, not a folder"),
    ("neutralize {photo} --out {tmp}/o --batch-size -3", "--batch-size must be >= 1"),
    ("transfer --out {file}", "is a file, not a folder"),
    ("transfer --out {tmp}/o --batch-size 0", "--batch-size must be >= 1"),
    ("transfer --out {tmp}/o --alpha nan", "--alpha must be a finite number"),
    ("invert {photo} --out {tmp}/o --refine -1", "--refine must be >= 0"),
    ("invert {photo} --out {file}", "is a file, not a folder"),
    ("edit {photo} --emotion happiness --strength nan --out {tmp}/o", "--strength must be a finite number"),
    ("edit {photo} --emotion happiness --strength 1 --sweep-steps 1 --out {tmp}/o", "--sweep-steps must be >= 2"),
    ("edit {photo} --emotion happiness --strength 1 --out {file}", "is a file, not a folder"),
    ("directions", "the following arguments are required"),
    ("directions no-such-action", "invalid choice"),
    ("sample --out {tmp}/o -n 0", "-n must be >= 1, not 0"),
    ("sample --out {tmp}/o --truncation 2", "--truncation must be <= 1"),
    ("sample --out {file}", "is a file, not a folder"),
    ("mix {photo} {photo} --out {tmp}/o --crossover 0", "--crossover must be >= 1, not 0"),
    ("mix {photo} {photo} --out {file}", "is a file, not a folder"),
    ("export", "the following arguments are required: --model"),
    ("export --model fer --threads -1", "--threads must be >= 0"),
    ("explain {photo} --out {file}", "is a file, not a folder"),
    ("serve --port 70000", "--port must be <= 65535"),
    ("serve --max-upload-mb 0", "--max-upload-mb must be > 0"),
    ("serve --directions {missing}", "is not a directions folder"),
    ("serve --directions {file}", "is not a directions folder"),
]


@pytest.fixture(scope="module")
def places(tmp_path_factory, sample_photo) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("bad")
    (tmp / "a-file.txt").write_text("not a folder")
    corrupt = write_class_folders(tmp / "corrupt", {"test": 2}, size=48)
    (tmp / "corrupt" / "test" / "neutral" / "zz-bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return {"file": str(tmp / "a-file.txt"), "missing": str(tmp / "missing.png"), "corrupt": str(corrupt),
            "photo": str(sample_photo), "tmp": str(tmp)}


def _invoke(capsys, argv: list[str]) -> tuple[int, str, str]:
    from genfer.cli import main

    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_every_subcommand_is_in_the_table():
    from genfer.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    covered = {line.split()[0] for line, _ in CASES}
    assert set(sub.choices) <= covered, f"no bad invocation for: {sorted(set(sub.choices) - covered)}"


@pytest.mark.parametrize(("line", "fragment"), CASES, ids=[line for line, _ in CASES])
def test_bad_invocation_is_one_line_exit_2(line, fragment, places, capsys, monkeypatch):
    monkeypatch.setenv("GENFER_DATA", places["tmp"])  # nothing of the real data is needed or touched
    code, out, err = _invoke(capsys, line.format(**places).split())
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith("genfer") and ": error: " in lines[0], err
    assert fragment in lines[0], err
