"""Replay the ITS goldens recorded on QEMU 7.2 on irqlab and compare value by value.

``its_qemu_golden/<name>.json`` was recorded by ``its_qemu_scripts.py`` (a bare-metal
program ran the script's accesses on ``qemu-system-aarch64 -M virt,gic-version=3``,
CPU 0 at EL1, and printed every value).  Here the same accesses go to CPU 0 of
``Machine.virt(cpus=4)``.  Where irqlab differs from QEMU on purpose, :data:`EXPECTED`
names the step, irqlab's exact value and the row of the "Where irqlab differs from QEMU"
table in ``docs/its.md``; any other difference fails, and so does a rule that no longer
matches, so the list stays honest.  No QEMU is needed except to regenerate.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from irqlab.errors import ExternalAbort, UndefinedInstruction
from irqlab.hw.machine import Machine

from .its_qemu_scripts import GOLDEN, SCRIPTS, random_script, record, record_steps

NAMES = sorted(p.stem for p in GOLDEN.glob("*.json"))

_SIZES_ROW = "1- and 2-byte control-frame, 1- and 8-byte translation-frame accesses: RAZ/WI"


def _note_is(note: str) -> Callable[[str], bool]:
    return lambda n: n == note


def _bad_size(n: str) -> bool:
    """A 1/2-byte control-frame or 1/8-byte translation-frame access (QEMU: abort)."""
    m = re.search(r"read (\d)$|\((\d) bytes", n)
    if m is None:
        return False
    size = int(m.group(1) or m.group(2))
    return size in ((1, 8) if n.startswith("GITS_TRANSLATER") else (1, 2))


#: (script, which steps (by note), irqlab's value there, docs/its.md row)
EXPECTED: tuple[tuple[str, Callable[[str], bool], str, str], ...] = (
    ("its_regs", _note_is("GITS_CBASER (RES0)"), "0xb8effffffffffcff",
     "RES0 bits of GITS_CBASER, GITS_CWRITER: RAZ/WI"),
    ("its_regs", _note_is("GITS_CWRITER (RES0)"), "0xfffe0",
     "RES0 bits of GITS_CBASER, GITS_CWRITER: RAZ/WI"),
    ("its_regs", _note_is("GITS_CREADR (written)"), "0x0", "GITS_CREADR writes: read-only"),
    ("its_errors", _note_is("GITS_CREADR after a CWRITER write without Retry"), "0x361",
     "stall and retry: a stalled queue waits for Retry=1"),
    ("its_errors", _note_is("after a CWRITER write without Retry"), "0x3ff",
     "stall and retry: a stalled queue waits for Retry=1"),
    ("its_errors", _note_is("GITS_CREADR after Retry"), "0x3c0",
     "stall and retry: Retry clears Stalled (QEMU leaves it set)"),
    ("its_sizes", _note_is("GITS_TYPER read 4"), "0x1ef71",
     "GITS_TYPER.ITT_entry_size: 8-byte ITEs (QEMU 12)"),
    ("its_sizes", _note_is("GITS_TYPER read 8"), "0x1f0001ef71",
     "GITS_TYPER.ITT_entry_size: 8-byte ITEs (QEMU 12)"),
    ("its_memfault", _note_is("GITS_CREADR (queue outside RAM)"), "0x1",
     "a command queue outside RAM: the queue stalls"),
    ("its_sizes", _bad_size, "0x0", _SIZES_ROW),
    ("its_sizes", _bad_size, "done", _SIZES_ROW),
)


def load(name: str) -> dict:
    return json.loads((GOLDEN / f"{name}.json").read_text())


def execute(m: Machine, step: dict) -> str:
    """One step on CPU 0, spelt as in the golden (hex value, done, undef, abort)."""
    cpu = m.cpus[0]
    op = step["op"]
    try:
        if op == "r":
            return hex(cpu.read(int(step["addr"], 16), int(step["size"])))
        if op == "w":
            cpu.write(int(step["addr"], 16), int(step["value"], 16), int(step["size"]))
            return "done"
        if op == "sr":
            return hex(cpu.read_sysreg(step["reg"]))
        cpu.write_sysreg(step["reg"], int(step["value"], 16))
        return "done"
    except UndefinedInstruction:
        return "undef"
    except ExternalAbort:
        return "abort"


def test_goldens_present() -> None:
    assert sorted(SCRIPTS) == NAMES
    for name in NAMES:
        g = load(name)
        assert g["qemu"].startswith("QEMU emulator version 7.2")
        assert g["machine"] == {"gic": 3, "cpus": 4, "its": True}


@pytest.mark.parametrize("name", NAMES)
def test_golden_matches(name: str) -> None:
    g = load(name)
    m = Machine.virt(cpus=int(g["machine"]["cpus"]))
    rules = [e for e in EXPECTED if e[0] == name]
    used: set[int] = set()
    unexpected = []
    for i, step in enumerate(g["steps"]):
        ours = execute(m, step)
        if ours == step["got"]:
            continue
        for k, (_, match, value, _why) in enumerate(rules):
            if match(str(step.get("note", ""))) and ours == value:
                used.add(k)
                break
        else:
            unexpected.append(f"step {i} {step['op']} {step.get('addr', step.get('reg'))} "
                              f"({step.get('note', '')}): qemu {step['got']}, irqlab {ours}")
    assert not unexpected, f"{len(unexpected)} differences:\n" + "\n".join(unexpected[:40])
    stale = [r[3] for k, r in enumerate(rules) if k not in used]
    assert not stale, f"expected differences that no longer occur: {stale}"


def test_sizes_golden_in_abort_mode() -> None:
    """With ``gic_bad_access="abort"`` the sizes QEMU's memory core refuses abort in irqlab
    too; irqlab then also aborts an 8-byte access to a 32-bit register (QEMU: RAZ/WI)."""
    g = load("its_sizes")
    m = Machine.virt(cpus=4, gic_bad_access="abort")
    diffs = []
    for step in g["steps"]:
        ours = execute(m, step)
        if ours != step["got"]:
            diffs.append((step.get("note"), step["got"], ours))
    assert diffs == [
        ("GITS_CTLR read 8", "0x0", "abort"), ("GITS_TYPER read 4", "0x1efb1", "0x1ef71"),
        ("GITS_TYPER read 8", "0x1f0001efb1", "0x1f0001ef71"),
        ("GITS_PIDR2 read 8", "0x0", "abort"), ("GITS_CTLR <- 0 (8 bytes)", "done", "abort")]


def test_scripts_unchanged() -> None:
    """The goldens hold exactly the accesses the scripts make now (else regenerate)."""
    for name in NAMES:
        _machine, steps = SCRIPTS[name]()
        got = [(s["op"], s.get("addr"), s.get("reg"), s.get("value"), s.get("note"))
               for s in load(name)["steps"]]
        want = [(s["op"], f"{s['addr']:#x}" if "addr" in s else None, s.get("reg"),
                 f"{s['value']:#x}" if "value" in s else None, s.get("note") or None)
                for s in steps]
        assert got == want, name


@pytest.mark.parametrize("name", NAMES)
def test_regenerate_matches_golden(name: str) -> None:
    """With QEMU 7.2 and the cross compiler installed, a fresh run equals the golden."""
    if shutil.which("qemu-system-aarch64") is None or shutil.which(
            "aarch64-linux-gnu-gcc") is None:
        pytest.skip("needs qemu-system-aarch64 and aarch64-linux-gnu-gcc")
    if not (Path(__file__).resolve().parents[3] / "tools" / "qemu_peer").is_dir():
        pytest.skip("needs tools/qemu_peer")
    g = load(name)
    fresh = record(name)
    if fresh["qemu"] != g["qemu"]:
        pytest.skip(f"golden recorded with {g['qemu']}, not {fresh['qemu']}")
    assert fresh["steps"] == g["steps"]


def _have_qemu() -> bool:
    return (shutil.which("qemu-system-aarch64") is not None
            and shutil.which("aarch64-linux-gnu-gcc") is not None
            and (Path(__file__).resolve().parents[3] / "tools" / "qemu_peer").is_dir())


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_differential_random_commands(seed: int) -> None:
    """Random command sequences run on QEMU (when installed) and irqlab agree step by step.

    (A one-off campaign of 450 seeds found one difference: two devices sharing an ITT,
    which is UNPREDICTABLE; the generator gives each device its own ITT.)"""
    if not _have_qemu():
        pytest.skip("needs qemu-system-aarch64, aarch64-linux-gnu-gcc and tools/qemu_peer")
    machine, steps = random_script(seed)
    got = record_steps(machine, steps)
    m = Machine.virt(cpus=4)
    for i, step in enumerate(got):
        ours = execute(m, step)
        assert ours == step["got"], (i, step)
