"""The README is for users (short, picture and both set-up commands first, one example per command, links that
resolve), CI runs the README's test command, and docs/index.md links every page of docs/."""

from __future__ import annotations

import re
from pathlib import Path

import genfer.commands

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
TEST_COMMAND = ("python3 -m venv .venv && . .venv/bin/activate && pip install -q -e '.[test,faceid]' && "
                "pytest -m \"not slow\"")
INSTALL_COMMAND = "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && genfer demo"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_readme_is_short_and_its_first_screen_has_the_picture_and_both_commands():
    assert len(README.encode()) < 12 * 1024
    first_screen = "\n".join(README.splitlines()[:40])
    image = re.search(r"!\[[^\]]*\]\(([^)]+)\)", first_screen)
    assert image and (ROOT / image.group(1)).is_file()
    assert INSTALL_COMMAND in first_screen and TEST_COMMAND in first_screen


def test_ci_runs_the_readme_test_command():
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text()


def test_readme_has_an_example_of_every_command():
    names = [module.replace("_", "-") for module in genfer.commands.COMMANDS]
    missing = [name for name in names if not re.search(rf"^genfer {name}\b", README, re.MULTILINE)]
    assert not missing, f"README has no example line of: {missing}"


def test_links_of_the_readme_and_the_docs_resolve():
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in LINK.findall(page.read_text()):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken


def test_docs_index_links_every_page():
    index = (ROOT / "docs" / "index.md").read_text()
    linked = set(LINK.findall(index))
    pages = {p.name for p in (ROOT / "docs").glob("*.md")} - {"index.md"}
    assert not pages - linked, f"docs/index.md does not link {sorted(pages - linked)}"


def test_results_page_has_a_table_per_system():
    results = (ROOT / "docs" / "results.md").read_text()
    for system in ("## Recognizers", "## Generative metrics", "## PF-ViT", "## Expression transfer",
                   "## StyleGAN2 and inversion"):
        section = results.split(system, 1)[1].split("\n## ", 1)[0]
        assert "\n|---" in section, f"{system} has no table"
