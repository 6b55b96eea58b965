"""``irqlab`` / ``irqlab demo`` / ``irqlab trace``: the default job end to end."""

from __future__ import annotations

import json
from pathlib import Path

from irqlab.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dtb"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_demo_text_report(capsys) -> None:
    code, out, err = run(capsys, "demo")
    assert code == 0 and err == ""
    assert out.startswith("irqlab demo: machine: qemu-virt-gicv3-its-4cpu.dtb: 4 CPUs, GICv3")
    lines = out.splitlines()
    i = lines.index("where each vector landed:")
    assert lines[i + 1].split() == ["vector", "DeviceID", "EventID", "LPI", "INTID", "CPU"]
    assert lines[i + 2].split() == ["0", "0x8", "0x0", "8192", "cpu0"]
    assert lines[i + 9].split() == ["7", "0x8", "0x7", "8199", "cpu3"]
    assert any(line.startswith("event trace (") for line in lines)
    assert lines[-1] == ("OK: 8 vectors delivered, each once, to the CPU its collection "
                         "targets")


def test_demo_json_and_trace(capsys, tmp_path: Path) -> None:
    trace = tmp_path / "t.json"
    code, out, err = run(capsys, "demo", "--vectors", "3", "--json", "--trace", str(trace))
    assert code == 0
    doc = json.loads(out)
    assert doc["ok"] and [v["cpu"] for v in doc["vectors"]] == [0, 1, 2]
    assert doc["events"] and set(doc["events"][0]) == {"seq", "time", "kind", "cpu", "args"}
    assert "wrote" in err and "ui.perfetto.dev" in err
    tr = json.loads(trace.read_text())
    assert tr["traceEvents"][0]["name"] == "process_name"
    assert len([e for e in tr["traceEvents"] if e["ph"] == "i"]) == len(doc["events"])


def test_trace_command(capsys, tmp_path: Path) -> None:
    out_file = tmp_path / "demo.perfetto.json"
    code, out, err = run(capsys, "trace", "--vectors", "4", "-o", str(out_file))
    assert code == 0 and out == ""
    doc = json.loads(out_file.read_text())
    tids = {e["tid"] for e in doc["traceEvents"] if e["ph"] == "i"}
    assert {0, 1, 2, 3} <= tids  # one track per CPU that acknowledged a vector
    code, _, err = run(capsys, "trace")
    assert code == 2 and "-o/--output" in err


def test_demo_usage_errors(capsys) -> None:
    code, out, err = run(capsys, "demo", "--vectors", "0")
    assert (code, out) == (2, "")
    assert err == "irqlab demo: error: vectors must be in [1, 2048], not 0\n"
    code, _, err = run(capsys, "demo", "--dtb", str(FIXTURES / "qemu-virt-gicv2-2cpu.dtb"))
    assert code == 2 and "needs a GICv3 with an ITS" in err


def test_demo_help_names_the_default_job(capsys) -> None:
    code, out, _ = run(capsys, "demo", "--help")
    text = " ".join(out.split())
    assert code == 0 and "The default job" not in text
    assert "`irqlab` without a command runs `check`" in text


def test_dtb_empty_path(capsys) -> None:
    code, out, err = run(capsys, "demo", "--dtb", "")
    assert (code, out, err) == (2, "", "irqlab demo: error: argument --dtb: needs a file name, "
                                       "not ''\n")
