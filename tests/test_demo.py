"""The demo run (:mod:`irqlab.demo`): every vector lands where its collection points."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab import MachineConfig
from irqlab.demo import LPI_BASE, run_demo
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "dtb"


def test_default_routes_every_vector_to_its_collection_cpu() -> None:
    r = run_demo()
    assert r.problems == []
    assert r.ok
    assert r.source == "qemu-virt-gicv3-its-4cpu.dtb"
    assert r.devid == 0x8  # 00:01.0 through msi-map <0 &its 0 0x10000>
    assert [(v.vector, v.eventid, v.intid, v.cpu) for v in r.routes] == [
        (v, v, LPI_BASE + v, v % 4) for v in range(8)]
    kinds = {e.kind for e in r.events}
    assert {"its_cmd_mapd", "its_cmd_mapc", "its_cmd_mapti", "cpuif_ack", "cpuif_eoi"} <= kinds
    assert not kinds & {"its_cmd_error", "its_translation_fault"}
    assert not any(c.irq_line for c in r.machine.cpus)


def test_deterministic() -> None:
    a = [str(e) for e in run_demo(vectors=5).events]
    b = [str(e) for e in run_demo(vectors=5).events]
    assert a == b and a


def test_other_fixture() -> None:
    r = run_demo(FIXTURES / "qemu-virt-gicv3-its-8cpu-el2.dtb", vectors=20)
    assert r.ok, r.problems
    assert [v.cpu for v in r.routes] == [v % 8 for v in range(20)]


@pytest.mark.parametrize("options, table", [
    (dict(its_device_bits=24), "two-level device table, level 1 at 0x60050000 (1 x 64 KiB)"),
    (dict(its_device_bits=32), "two-level device table, level 1 at 0x60050000 (64 x 64 KiB)"),
    (dict(its_pta=True), "device table at 0x60050000 (128 x 4 KiB pages, flat)"),
    (dict(cpus=130, idbits=20), "device table at"),
])
def test_configurations(options: dict, table: str) -> None:
    r = run_demo(config=MachineConfig.virt(**options), vectors=16)
    assert r.ok, r.problems
    assert any(table in line for line in r.log)
    ncpus = options.get("cpus", 4)
    assert [v.cpu for v in r.routes] == [v % ncpus for v in range(16)]


def test_without_recording() -> None:
    r = run_demo(vectors=3, record=False)
    assert r.ok and r.events == []


@pytest.mark.parametrize("name", ["qemu-virt-gicv3-noits-2cpu", "qemu-virt-gicv2-2cpu"])
def test_needs_an_its(name: str) -> None:
    with pytest.raises(InvalidArgumentValue, match=r"^the demo needs a GICv3 with an ITS, not "):
        run_demo(FIXTURES / f"{name}.dtb")


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgumentValue, match=r"^vectors must be in \[1, 2048\], not 0$"):
        run_demo(vectors=0)
    with pytest.raises(InvalidArgumentType, match=r"^vectors must be an int, not '3'$"):
        run_demo(vectors="3")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentValue, match=r"^give dtb or config, not both$"):
        run_demo(FIXTURES / "qemu-virt-gicv3-its-4cpu.dtb", config=MachineConfig.virt())
    with pytest.raises(InvalidArgumentValue, match=r"^vectors must fit"):
        run_demo(config=MachineConfig.virt(its_event_bits=2), vectors=5)


@settings(max_examples=25, deadline=None)
@given(cpus=st.integers(1, 40), idbits=st.integers(14, 24), devbits=st.integers(4, 32),
       evbits=st.integers(6, 32), pta=st.booleans(), vectors=st.integers(1, 64))
def test_fuzz_configurations(cpus: int, idbits: int, devbits: int, evbits: int, pta: bool,
                             vectors: int) -> None:
    """Any ITS geometry the driver can program: every vector lands once, where it should."""
    config = MachineConfig.virt(cpus=cpus, idbits=idbits, its_device_bits=devbits,
                                its_event_bits=evbits, its_pta=pta)
    r = run_demo(config=config, vectors=vectors, record=False)
    assert r.problems == []
    assert [v.cpu for v in r.routes] == [v % cpus for v in range(vectors)]
