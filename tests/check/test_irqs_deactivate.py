"""The interrupt observer's active state: GICv2 EOImode 1, the EOI's result, HW deactivation."""

from __future__ import annotations

from typing import Any

from irqlab import Machine, sim
from irqlab.check.observe import attach
from irqlab.events import EventStream

from .irq_helpers import Ok
from .irq_helpers import kinds as _kinds
from .irq_helpers import observer as _obs


def _ack_eoi(es: EventStream, intid: int, **eoi: Any) -> None:
    es.emit("gicd_line", cpu=None, intid=intid, level=True)
    es.emit("gicc_ack", cpu=0, intid=intid, cpuid=0, alias=False)
    es.emit("gicc_eoi", cpu=0, intid=intid, alias=False, **{"result": "ok", **eoi})


def test_gicv2_eoi_with_eoimode_0_deactivates() -> None:
    es, ob = _obs()
    _ack_eoi(es, 40)
    assert _kinds(ob) == []
    es2, ob2 = _obs()
    _ack_eoi(es2, 40, eoimode=0)
    assert _kinds(ob2) == []


def test_gicv2_eoi_with_eoimode_1_only_drops_the_priority() -> None:
    es, ob = _obs()
    _ack_eoi(es, 40, eoimode=1)
    out = ob.finish(Ok())
    assert [f.kind for f in out] == ["stuck-active"]
    assert "GICC_DIR was never written" in out[0].message
    es.emit("gicc_dir", cpu=0, intid=40, result="deactivated")
    assert _kinds(ob) == []


def test_gicv2_eoimode_1_shown_by_a_gicc_dir() -> None:
    # without an eoimode field, a GICC_DIR that deactivated shows the CPU's EOImode is 1
    es, ob = _obs()
    _ack_eoi(es, 40)
    es.emit("gicc_dir", cpu=0, intid=40, result="deactivated")
    _ack_eoi(es, 41)                                    # EOIR, then no GICC_DIR
    out = ob.finish(Ok())
    assert [(f.kind, f.data["intid"]) for f in out] == [("stuck-active", 41)]


def test_gicv2_eoi_that_the_hardware_ignored_deactivates_nothing() -> None:
    es, ob = _obs()
    _ack_eoi(es, 40, result="group0_ignored")           # GICC_AEOIR of a Group 0 INTID
    assert _kinds(ob) == ["stuck-active"]
    es.emit("gicc_eoi", cpu=0, intid=1000, alias=False, result="out_of_range")
    assert _kinds(ob) == ["stuck-active"]
    es.emit("gicc_eoi", cpu=0, intid=40, alias=False, result="ok")
    assert _kinds(ob) == []


def test_gicv3_physical_deactivation_by_a_virtual_eoi() -> None:
    es, ob = _obs()
    es.emit("gicd_spi_pending", intid=40, trigger="edge")
    es.emit("cpuif_ack", cpu=0, intid=40, prio=0x80, group=1)
    es.emit("cpuif_eoi", cpu=0, intid=40, group=1, drop=0x80)    # EOImode 1: drop only
    assert _kinds(ob) == ["stuck-active"]
    es.emit("gic_deactivate_physical", cpu=1, intid=40)          # an HW=1 list register
    assert _kinds(ob) == []


# -- on the GICv2 model -------------------------------------------------------------------

GICD = 0x0800_0000
GICC = 0x0801_0000


def _gicv2_eoimode1(dir_for: tuple[int, ...]) -> list[Any]:
    """SPIs 40 then 41 on a 1-CPU GICv2 with GICC_CTLR.EOImode 1; GICC_DIR for ``dir_for``."""
    m = Machine.virt(cpus=1, gic=2)
    c = m.cpus[0]
    c.write(GICD, 0x1)                                        # GICD_CTLR.Enable
    for spi in (40, 41):
        c.write(GICD + 0x400 + spi, 0x80, 1)                  # GICD_IPRIORITYR
        c.write(GICD + 0x800 + spi, 0x1, 1)                   # GICD_ITARGETSR: CPU0
        off = GICD + 0xC00 + 4 * (spi // 16)
        c.write(off, c.read(off) | (2 << (2 * (spi % 16))))   # GICD_ICFGR: edge
    c.write(GICD + 0x104, (1 << 8) | (1 << 9))                # GICD_ISENABLER1
    c.write(GICC + 0x4, 0xF0)                                 # GICC_PMR
    c.write(GICC, 0x1 | (1 << 9))                             # GICC_CTLR: Enable, EOImode 1
    eng = sim.Engine(machine=m, strategy=sim.RoundRobin())

    async def handler(cpu: Any) -> None:
        while True:
            intid = c.read(GICC + 0xC) & 0x3FF                # GICC_IAR
            if intid == 1023:
                return
            c.write(GICC + 0x10, intid)                       # GICC_EOIR: priority drop
            if intid in dir_for:
                c.write(GICC + 0x1000, intid)                 # GICC_DIR: deactivate

    async def t() -> None:
        for spi in (40, 41):
            m.set_interrupt_level(spi, True)
            m.set_interrupt_level(spi, False)
            await sim.point("raised")
        await sim.point("done")

    eng.set_irq_handler(handler)
    eng.spawn(0, t)
    obs = attach(eng)
    res = eng.run()
    assert res.ok
    return obs.findings(res)


def test_gicv2_eoimode_1_without_gicc_dir_is_stuck_active() -> None:
    assert _gicv2_eoimode1((40, 41)) == []
    found = _gicv2_eoimode1((40,))
    assert [(f.kind, f.data["intid"]) for f in found] == [("stuck-active", 41)]
    # no GICC_DIR anywhere: the EOIs' eoimode field says they only dropped the priority
    found = _gicv2_eoimode1(())
    assert [(f.kind, f.data["intid"]) for f in found] == [("stuck-active", 40),
                                                           ("stuck-active", 41)]
