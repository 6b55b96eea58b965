"""``irqlab audit``: exit codes, text and JSON."""

from __future__ import annotations

import json

import pytest

from irqlab.cli import main


def test_clean_scenario_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "vmd-teardown", "--variant", "srcu", "--runs", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("audit vmd-teardown/srcu: 3 runs, ")
    assert "no reordering changed anything" in out


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "counter", "-V", "racy", "-p", "cpus=2", "--runs", "2",
                 "--moves", "5", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["scenario"] == "counter" and d["variant"] == "racy" and d["params"]["cpus"] == 2
    assert d["runs"] == 2 and d["suspects"] == [] and 0 < d["reorderings"] <= 10


@pytest.mark.parametrize("argv", [["audit", "nope"], ["audit", "counter", "--runs", "0"],
                                  ["audit", "counter", "--time", "-1"],
                                  ["audit", "counter", "-V", "bogus"],
                                  ["audit", "counter", "-p", "cpus=x"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("irqlab audit: error: ") and err.count("\n") == 1


@pytest.mark.parametrize(("argv", "line"), [
    (["--runs", "0"], "runs must be in [1, 1073741824], not 0"),
    (["--moves", "-1"], "moves must be in [1, 1073741824], not -1"),
    (["-V", ""], "variant must be one of locked, racy, irq for scenario counter, not ''"),
])
def test_messages(argv: list[str], line: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "counter", *argv]) == 2
    assert capsys.readouterr().err == f"irqlab audit: error: {line}\n"
