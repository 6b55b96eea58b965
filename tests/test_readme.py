"""The README stays true: its tour runs as printed, its links exist, CI runs its test command."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _run_block(code: str, marker: str) -> None:
    expected = [line[2:] for line in code.splitlines() if line.startswith(marker)]
    assert expected
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert out.getvalue().splitlines() == expected


def test_tour_runs_and_prints_what_it_says() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    _run_block(blocks[0], "# [")


def test_checker_tour_runs_and_prints_what_it_says() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    code = blocks[1]
    assert "explore(" in code and "audit(" in code
    _run_block(code, "# ")


def test_first_two_commands() -> None:
    commands = re.search(r"```sh\n(.*?)```", README, re.S).group(1).splitlines()
    assert commands == [
        "python3 -m venv .venv && .venv/bin/pip install -q '.[dtb]' && .venv/bin/irqlab",
        "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/pytest -q",
    ]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def test_links_exist() -> None:
    links = re.findall(r"\]\(((?:docs/)[^)#]+)\)", README)
    assert "docs/dtb.md" in links
    for link in links:
        assert (ROOT / link).is_file(), link
