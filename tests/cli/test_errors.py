"""The command line's contract on bad input: one line on stderr, exit 2, nothing lost.

Every usage error is exactly one line ``irqlab <command>: error: <reason>`` (argparse's
own errors included), output files are checked before a run, a closed stdout keeps the
exit code, and ``python -m irqlab`` is the same command line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from irqlab.cli import main

SCHED = ["vmd-teardown", "--variant", "immediate-free", "v1.060fb8c9.52d61c66.00y5z1y6z0"]


def usage_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run ``argv``, which must be a usage error: the one stderr line, nothing on stdout."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    return err.rstrip("\n")


# -- argparse's errors are one line too ---------------------------------------------------
@pytest.mark.parametrize(("argv", "line"), [
    (["explore", "counter", "--budget", "1.5"],
     "irqlab explore: error: argument --budget/-n: invalid int value: '1.5'"),
    (["audit", "counter", "--time", "x"],
     "irqlab audit: error: argument --time/-t: invalid float value: 'x'"),
    (["run", "counter", "--variant"],
     "irqlab run: error: argument --variant/-V: expected one argument"),
    (["run", "vgic-lpi-xa", "--frob"], "irqlab run: error: unrecognized arguments: --frob"),
    (["list", "foo"], "irqlab list: error: unrecognized arguments: foo"),
    (["explore"], "irqlab explore: error: the following arguments are required: SCENARIO"),
    (["trace"], "irqlab trace: error: the following arguments are required: -o/--output"),
    (["--bogus"], "irqlab check: error: unrecognized arguments: --bogus"),
])
def test_argparse_errors_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str],
                                      line: str) -> None:
    assert usage_error(capsys, argv) == line


@pytest.mark.parametrize("name", ["nope", "", "COUNTER"])
@pytest.mark.parametrize("cmd", ["explore", "audit", "run", "replay", "check"])
def test_unknown_scenario_is_one_line(capsys: pytest.CaptureFixture[str], cmd: str,
                                      name: str) -> None:
    argv = [cmd, name] + (["v1.0.0.0"] if cmd == "replay" else [])
    assert usage_error(capsys, argv) == (
        f"irqlab {cmd}: error: scenario must be one of its-memreserve, vgic-lpi-refcount, "
        "vgic-lpi-xa, msi-reinsert, vmd-balance, vmd-teardown, counter (the benchmark), "
        f"not {name!r}")


def test_unknown_command_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    line = usage_error(capsys, ["frobnicate"])
    assert line.startswith("irqlab: error: argument COMMAND: invalid choice: 'frobnicate' ")


def test_help_keeps_its_usage_block(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: irqlab explore [-h]") and "--strategy NAME" in out


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
@pytest.mark.parametrize("cmd", [["explore", "counter"], ["audit", "counter"],
                                 ["check", "counter"]])
def test_time_must_be_finite(capsys: pytest.CaptureFixture[str], cmd: list[str],
                             value: str) -> None:
    shown = {"1e400": "inf"}.get(value, value)
    assert usage_error(capsys, [*cmd, "--time", value]) == (
        f"irqlab {cmd[0]}: error: time must be a positive number of seconds, not {shown}")


def test_a_newline_in_a_value_stays_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert usage_error(capsys, ["run", "a\nb"]).endswith(", not 'a\\nb'")
    assert usage_error(capsys, ["run", "counter", "--frob\nx"]) == (
        "irqlab run: error: unrecognized arguments: --frob\\nx")


# -- output files: checked before the run, one line, never a traceback ----------------------
def _trace_argvs(path: str) -> list[list[str]]:
    return [["explore", "vgic-lpi-xa", "-V", "irq", "--trace", path],
            ["explore", "vgic-lpi-xa", "-V", "irq", "--json", "--trace", path],
            ["demo", "-q", "--trace", path], ["demo", "--json", "--trace", path],
            ["trace", "-o", path],
            ["replay", *SCHED, "--json", "--trace", path]]


@pytest.mark.parametrize("i", range(6))
@pytest.mark.parametrize("where", ["dir", "proc", "no-parent", "newline"])
def test_unwritable_trace_path(capsys: pytest.CaptureFixture[str], tmp_path: Path, i: int,
                               where: str) -> None:
    path = {"dir": str(tmp_path), "proc": "/proc/x", "no-parent": str(tmp_path / "no" / "t.json"),
            "newline": str(tmp_path / "a\nb" / "t.json")}[where]
    argv = _trace_argvs(path)[i]
    flag = "--output" if argv[0] == "trace" else "--trace"
    line = usage_error(capsys, argv)
    reason = ("is a directory, not a file" if where == "dir"
              else "cannot write: No such file or directory")
    assert line == f"irqlab {argv[0]}: error: {flag} {path!r}: {reason}"


@pytest.mark.parametrize("i", range(6))
def test_empty_trace_path(capsys: pytest.CaptureFixture[str], i: int) -> None:
    argv = _trace_argvs("")[i]
    flag = "-o/--output" if argv[0] == "trace" else "--trace"
    assert usage_error(capsys, argv) == (
        f"irqlab {argv[0]}: error: argument {flag}: needs a file name, not ''")


def test_trace_write_failure_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Checked up front, the path may still fail later: the result is printed first."""
    import irqlab.trace

    def full(*args: object, **kwargs: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(irqlab.trace, "write_chrome_trace", full)
    path = tmp_path / "t.json"
    assert main(["replay", *SCHED, "--json", "--trace", str(path)]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["verdict"] == "finding"
    assert err == (f"irqlab replay: error: --trace {str(path)!r}: cannot write: No space "
                   "left on device\n")
    assert main(["trace", "-o", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"irqlab trace: error: --output {str(path)!r}: cannot write: No space left on device\n")


def test_an_os_error_is_never_a_traceback(capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import irqlab.cli.list as cmd

    def boom(args: object) -> int:
        raise PermissionError(13, "Permission denied", "/x/y")

    monkeypatch.setattr(cmd, "run", boom)
    assert usage_error(capsys, ["list"]) == "irqlab list: error: '/x/y': Permission denied"


# -- a closed stdout keeps the exit code; python -m irqlab ---------------------------------
def _irqlab(*argv: str) -> list[str]:
    return [sys.executable, "-m", "irqlab", *argv]


def test_closed_stdout_keeps_the_exit_code() -> None:
    """``irqlab replay ... | head -1``: the finding's exit code 1, not 0, no traceback."""
    with subprocess.Popen(_irqlab("replay", *SCHED), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"}) as p:
        assert p.stdout is not None and p.stderr is not None
        p.stdout.readline()
        p.stdout.close()  # the reader goes away
        err = p.stderr.read().decode()
        assert p.wait(timeout=60) == 1
    assert err == ""


def test_python_dash_m_irqlab() -> None:
    p = subprocess.run(_irqlab("replay", *SCHED, "--json"), capture_output=True, timeout=60)
    assert p.returncode == 1 and json.loads(p.stdout)["verdict"] == "finding"
    p = subprocess.run(_irqlab("frobnicate"), capture_output=True, timeout=60)
    assert p.returncode == 2 and p.stderr.decode().count("\n") == 1
