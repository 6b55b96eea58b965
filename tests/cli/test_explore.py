"""``irqlab explore``: strategies, exit codes, JSON, trace file, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from irqlab.cli import main


@pytest.mark.parametrize("strategy", ["random", "pct", "dfs"])
def test_explore_finds_and_reports(strategy: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "counter", "-V", "racy", "-S", strategy, "-n", "50"]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "counter --variant racy: FINDING (as expected)"
    assert "shrunk to 1 preemptions" in out
    assert lines[-1].startswith("  replay: irqlab replay counter --variant racy v1.")


def test_explore_clean_dfs_exhausts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "counter", "-S", "dfs"]) == 0
    out = capsys.readouterr().out
    assert "DFS (source-DPOR + sleep sets, unbounded): 90 schedules, 0 blocked, space " \
           "exhausted" in out
    assert main(["explore", "counter", "-S", "dfs", "-P", "0", "-p", "cpus=2"]) == 0
    assert "<= 0 preemptions" in capsys.readouterr().out


def test_explore_pct_prints_the_bound(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "counter", "-S", "pct", "-n", "5", "-d", "2"]) == 0
    out = capsys.readouterr().out
    assert "PCT depth 2: n=3 contexts, k=21 steps" in out
    assert "runs for 95% confidence" in out


def test_explore_json_and_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.json"
    assert main(["explore", "vgic-lpi-refcount", "-V", "dec-then-lock", "-S", "dfs",
                 "--json", "--trace", str(trace)]) == 1
    d = json.loads(capsys.readouterr().out)
    assert d["verdict"] == "finding" and d["expected"] is True
    assert d["finding"]["kind"] == "invariant:lpi-lost"
    assert d["replay"].startswith("irqlab replay vgic-lpi-refcount --variant dec-then-lock v1.")
    tr = json.loads(trace.read_text())
    assert tr["traceEvents"]


@pytest.mark.parametrize("argv", [
    ["explore", "nope"], ["explore", "counter", "-S", "bfs"], ["explore", "counter", "-n", "0"],
    ["explore", "counter", "-t", "-1"], ["explore", "counter", "-j", "0"],
    ["explore", "counter", "-V", "x"], ["explore"],
])
def test_bad_input_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip()


def test_json_without_finding_keeps_stdout_one_document(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.json"
    assert main(["explore", "counter", "-n", "3", "--json", "--trace", str(trace)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["verdict"] == "clean"
    assert err == f"irqlab explore: no finding, no trace written to {str(trace)!r}\n"
    assert not trace.exists()  # the up-front check leaves nothing behind


@pytest.mark.parametrize(("argv", "line"), [
    (["-S", "random", "-P", "1"], "--preemptions does not apply to --strategy random"),
    (["-S", "pct", "--no-reduction"], "--no-reduction does not apply to --strategy pct"),
    (["-S", "dfs", "-d", "5"], "--depth does not apply to --strategy dfs"),
    (["-d", "2"], "--depth does not apply to --strategy random"),
    (["-S", "dfs", "--seed", "3"], "--seed does not apply to --strategy dfs"),
])
def test_options_the_strategy_ignores_are_errors(
        argv: list[str], line: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "counter", *argv]) == 2
    assert capsys.readouterr().err == f"irqlab explore: error: {line} (it would be ignored)\n"


@pytest.mark.parametrize(("argv", "line"), [
    (["-n", "0"], "budget must be in [1, 1099511627776], not 0"),
    (["-j", "0"], "workers must be in [1, 256], not 0"),
    (["-V", ""], "variant must be one of locked, racy, irq for scenario counter, not ''"),
])
def test_messages(argv: list[str], line: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "counter", *argv]) == 2
    assert capsys.readouterr().err == f"irqlab explore: error: {line}\n"


def test_scenario_list_names_the_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("irqlab explore: error: scenario must be one of its-memreserve, ")
    assert err.endswith(", counter (the benchmark), not 'nope'\n")
