"""``irqlab info`` and the command-line plumbing (exit codes, stdout/stderr)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from irqlab.cli import COMMANDS, DEFAULT_COMMAND, build_parser, main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dtb"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_virt_default(capsys) -> None:
    code, out, err = run(capsys, "info")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "CPUs      4: cpu0=MPIDR 0x0, cpu1=MPIDR 0x1, cpu2=MPIDR 0x2, cpu3=MPIDR 0x3"
    assert ("GIC       v3, 256 SPIs (SPIs 32..287), IDbits=16, LPIs yes, 8 priority bits "
            "(5 in the CPU interface)") in lines
    assert "  GICD            0x000008000000-0x00000800ffff" in lines
    assert "  GITS            0x000008080000-0x00000809ffff  (GITS_TRANSLATER at 0x8090040)" \
        in lines
    assert lines[-1] == "RAM       0x000040000000-0x00007fffffff (1024 MiB)"


def test_info_json_dtb_gicv3_el2(capsys) -> None:
    code, out, _ = run(capsys, "info", "--dtb", str(FIXTURES / "qemu-virt-gicv3-its-8cpu-el2.dtb"),
                       "--json")
    assert code == 0
    s = json.loads(out)
    assert [c["mpidr"] for c in s["cpus"]] == list(range(8))
    assert s["gic"]["version"] == 3 and s["gic"]["virtualization"]
    assert s["gic"]["maintenance_intid"] == 25
    assert s["gic"]["frames"][0] == {"name": "GICD", "base": 0x0800_0000, "size": 0x1_0000}
    assert s["gic"]["frames"][1]["note"] == "8 redistributor(s) of 128 KiB"
    assert s["its"]["base"] == 0x0808_0000 and s["its"]["translater"] == 0x0809_0040
    assert s["pci"]["ecam"] == [0x40_1000_0000, 0x1000_0000]
    assert s["ram"] == [0x4000_0000, 0x4000_0000]


def test_info_gicv2(capsys) -> None:
    code, out, _ = run(capsys, "info", "--dtb", str(FIXTURES / "qemu-virt-gicv2-el2-4cpu.dtb"))
    assert code == 0
    assert "  GICH            0x000008030000-0x00000803ffff" in out.splitlines()
    assert "ITS       none" in out.splitlines()


def test_info_virt_options(capsys) -> None:
    code, out, _ = run(capsys, "info", "--virt", "--cpus", "200", "--no-its", "--idbits", "24",
                       "--json")
    assert code == 0
    s = json.loads(out)
    assert len(s["cpus"]) == 200 and s["cpus"][17]["affinity"] == [0, 0, 1, 1]
    assert s["its"] is None and s["gic"]["idbits"] == 24
    assert [f["name"] for f in s["gic"]["frames"]] == ["GICD", "GICR region 0", "GICR region 1"]


@pytest.mark.parametrize("argv, message", [
    (["info", "--cpus", "0"], "irqlab info: error: cpus must be in [1, 512], not 0\n"),
    (["info", "--dtb", "x.dtb", "--gic", "2"],
     "irqlab info: error: --gic cannot be combined with a device tree (it describes the "
     "machine)\n"),
    (["info", "--dtb", "/nonexistent.dtb"],
     "irqlab info: error: /nonexistent.dtb: cannot read: No such file or directory\n"),
    (["info", "--gic", "2", "--cpus", "9"],
     "irqlab info: error: cpus must be at most 8 with gic=2, not 9\n"),
    (["info", "--dtb", ""], "irqlab info: error: argument --dtb: needs a file name, not ''\n"),
    (["info", "--dtb", "/dev/zero"],
     "irqlab info: error: /dev/zero: not a flattened device tree (bad magic 0x00000000)\n"),
    (["info", "--cpus", "x"], "irqlab info: error: argument --cpus: invalid int value: 'x'\n"),
])
def test_usage_errors_exit_2_on_stderr(capsys, argv, message) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out, err) == (2, "", message)


def test_argparse_errors_exit_2(capsys) -> None:
    code, out, err = run(capsys, "info", "--gic", "4")
    assert code == 2 and out == "" and "invalid choice: 4" in err
    code, _, err = run(capsys, "frobnicate")
    assert code == 2 and "invalid choice: 'frobnicate'" in err


def test_help_and_version(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(capsys, "--help")
    assert code == 0 and f"Without a command, runs '{DEFAULT_COMMAND}'" in out
    for name in COMMANDS:
        assert name in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("irqlab ")


def test_commands_register_subparsers() -> None:
    p = build_parser()
    sub = next(a for a in p._actions if a.dest == "command")
    assert sorted(sub.choices) == sorted(COMMANDS)


def test_info_regions_builds_the_machine(capsys) -> None:
    code, out, _ = run(capsys, "info", "--dtb", str(FIXTURES / "qemu-virt-gicv3-its-4cpu.dtb"),
                       "--regions", "--json")
    assert code == 0
    regions = json.loads(out)["bus_regions"]
    names = [r["name"] for r in regions]
    assert regions[0] == {"name": names[0], "base": 0x0800_0000, "size": 0x1_0000}
    assert "ram" in names and "pcie-ecam" in names
    assert len(names) == len(set(names))
    assert [r["base"] for r in regions] == sorted(r["base"] for r in regions)


def test_missing_pylibfdt_is_a_usage_error(capsys, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "libfdt", None)
    code, out, err = run(capsys, "info", "--dtb", str(FIXTURES / "qemu-virt-gicv3-its-4cpu.dtb"))
    assert (code, out) == (2, "")
    assert err == ("irqlab info: error: reading device trees needs pylibfdt: "
                   "pip install 'irqlab[dtb]'\n")


def test_info_gicv2_priority_width(capsys) -> None:
    code, out, _ = run(capsys, "info", "--gic", "2", "--json")
    assert code == 0
    g = json.loads(out)["gic"]
    assert (g["priority_bits"], g["cpuif_priority_bits"]) == (8, None)
