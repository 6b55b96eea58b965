"""The interrupt observer's pending state: what removes it, software pends, disabled interrupts.

Synthetic event streams for the rules, then the same cases on a real GICv3 and GICv2.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from irqlab import Machine, sim
from irqlab.check.observe import attach

from .irq_helpers import Ok
from .irq_helpers import kinds as _kinds
from .irq_helpers import observer as _obs

# -- removal of the pending state (synthetic) -------------------------------------------------

def test_icpendr_clears_an_edge_spi() -> None:
    es, ob = _obs()
    es.emit("gicd_spi_pending", intid=40, trigger="edge")
    es.emit("gic_pending_latch", cpu=None, intid=40, value=False)   # GICD_ICPENDR
    assert _kinds(ob) == []


def test_icpendr0_clears_a_ppi() -> None:
    es, ob = _obs()
    es.emit("gicr_ppi_pending", cpu=1, intid=20, trigger="edge")
    es.emit("gic_pending_latch", cpu=0, intid=20, value=False)      # another CPU's PPI 20
    assert _kinds(ob) == ["lost-interrupt"]
    es.emit("gic_pending_latch", cpu=1, intid=20, value=False)      # GICR_ICPENDR0 of CPU1
    assert _kinds(ob) == []


def test_level_line_low_before_the_acknowledge_is_not_lost() -> None:
    es, ob = _obs()
    es.emit("gicd_spi_pending", intid=40, trigger="level")
    es.emit("gicd_spi_line_low", intid=40, trigger="level")
    es.emit("gicr_ppi_pending", cpu=1, intid=23, trigger="level")
    es.emit("gicr_ppi_line_low", cpu=1, intid=23, trigger="level")
    assert _kinds(ob) == []


def test_icpendr_of_a_level_spi_whose_line_is_high_leaves_it_pending() -> None:
    # IHI 0069 4.1.2: a level-sensitive interrupt is pending while its line is asserted
    es, ob = _obs()
    es.emit("gicd_spi_pending", intid=40, trigger="level")
    es.emit("gic_pending_latch", cpu=None, intid=40, value=True)    # ISPENDR as well
    es.emit("gic_pending_latch", cpu=None, intid=40, value=False)   # ICPENDR: the line stays
    assert _kinds(ob) == ["lost-interrupt"]
    es.emit("gicd_spi_line_low", intid=40, trigger="level")
    assert _kinds(ob) == []


def test_line_low_leaves_a_software_latch_pending() -> None:
    es, ob = _obs()
    es.emit("gicd_spi_pending", intid=40, trigger="level")
    es.emit("gic_pending_latch", cpu=None, intid=40, value=True)
    es.emit("gicd_spi_line_low", intid=40, trigger="level")
    assert _kinds(ob) == ["lost-interrupt"]


def test_clrspi_clears_a_level_spi() -> None:
    es, ob = _obs()
    es.emit("gicd_spi_pending", intid=40, trigger="level", devid=0x10, source="SETSPI_NSR")
    es.emit("gicd_clrspi", intid=40, devid=0x10)
    assert _kinds(ob) == []


def test_gicv2_line_low() -> None:
    es, ob = _obs()
    es.emit("gicd_line", cpu=None, intid=40, level=True)
    es.emit("gicd_line", cpu=None, intid=40, level=False)
    assert _kinds(ob) == []
    # with trigger=edge the falling edge leaves the latch pending
    es.emit("gicd_line", cpu=None, intid=41, level=True, trigger="edge")
    es.emit("gicd_line", cpu=None, intid=41, level=False, trigger="edge")
    assert _kinds(ob) == ["lost-interrupt"]


def test_a_level_interrupt_taken_while_its_line_stays_high_is_not_pending_again() -> None:
    es, ob = _obs()
    es.emit("gicd_spi_pending", intid=40, trigger="level")
    es.emit("cpuif_ack", cpu=0, intid=40, prio=0x80, group=1)
    es.emit("cpuif_deactivate", cpu=0, intid=40, via="eoi")
    assert _kinds(ob) == []
    es.emit("gic_pending_latch", cpu=None, intid=40, value=False)
    es.emit("gicd_spi_line_low", intid=40, trigger="level")
    assert _kinds(ob) == []


# -- software pends (synthetic) ---------------------------------------------------------------

def test_software_pend_never_taken_is_lost() -> None:
    es, ob = _obs()
    es.time = 4
    es.emit("gic_pending_latch", cpu=None, intid=40, value=True)    # GICD_ISPENDR
    out = ob.finish(Ok())
    assert [f.message for f in out] == ["SPI 40 made pending at step 4 was never taken"]
    es.emit("cpuif_ack", cpu=1, intid=40, prio=0x80, group=1)
    es.emit("cpuif_deactivate", cpu=1, intid=40, via="eoi")
    assert _kinds(ob) == []


def test_gicv2m_msi_never_taken_is_lost() -> None:
    es, ob = _obs()
    es.emit("v2m_setspi", cpu=None, intid=80, devid=8, result="pending")
    es.emit("v2m_setspi", cpu=None, intid=900, devid=8, result="out_of_range")
    assert [f.data["intid"] for f in ob.finish(Ok())] == [80]


# -- on the GICv3 and GICv2 models ------------------------------------------------------------

GICD = 0x0800_0000
GICC = 0x0801_0000
SPI = 40
Body = Callable[[Machine], Awaitable[None]]


def _gicv3(*, edge: bool, enable: bool = True) -> Machine:
    m = Machine.virt(cpus=2, its=False)
    c0 = m.cpus[0]
    c0.write(GICD, 0x3)                                        # EnableGrp1, ARE
    for i, cpu in enumerate(m.cpus):
        cpu.write(m.config.redistributor_base(i) + 0x14, 0)    # GICR_WAKER
        cpu.write_sysreg("ICC_PMR_EL1", 0xFF)
        cpu.write_sysreg("ICC_IGRPEN1_EL1", 1)
    c0.write(GICD + 0x80 + 4 * (SPI // 32), 0xFFFF_FFFF)       # GICD_IGROUPR
    c0.write(GICD + 0x400 + SPI, 0x80, 1)                      # GICD_IPRIORITYR
    off = GICD + 0xC00 + 4 * (SPI // 16)                       # GICD_ICFGR
    bit = 2 << (2 * (SPI % 16))
    c0.write(off, (c0.read(off) | bit) if edge else (c0.read(off) & ~bit))
    c0.write(GICD + 0x6000 + 8 * SPI, 1, 8)                    # GICD_IROUTER: CPU1
    if enable:
        c0.write(GICD + 0x100 + 4 * (SPI // 32), 1 << (SPI % 32))   # GICD_ISENABLER
    return m


def _run_v3(body: Body, *, edge: bool = True, enable: bool = True,
            take: bool = True) -> tuple[list[Any], list[tuple[int, int]]]:
    """Run ``body`` on CPU0 (interrupts off) of a 2-CPU GICv3, SPI 40 routed to CPU1.

    ``take=False``: CPU1's priority mask is 0, so nothing is ever taken.
    """
    m = _gicv3(edge=edge, enable=enable)
    if not take:
        m.cpus[1].write_sysreg("ICC_PMR_EL1", 0)
    eng = sim.Engine(machine=m, strategy=sim.RoundRobin())
    taken: list[tuple[int, int]] = []

    async def handle_arch_irq(cpu: Any) -> None:
        while True:
            intid = cpu.hw.read_sysreg("ICC_IAR1_EL1")
            if intid == 1023:
                return
            taken.append((cpu.index, intid))
            await sim.point("handler")
            cpu.hw.write_sysreg("ICC_EOIR1_EL1", intid)

    async def cpu0() -> None:
        sim.local_irq_disable()
        await body(m)
        for _ in range(4):
            await sim.point("idle")

    async def cpu1() -> None:
        for _ in range(6):
            await sim.point("idle")

    eng.set_irq_handler(handle_arch_irq)
    eng.spawn(0, cpu0)
    eng.spawn(1, cpu1)
    obs = attach(eng)
    res = eng.run()
    assert res.ok
    return obs.findings(res), taken


def _pulse(m: Machine) -> None:
    m.set_interrupt_level(SPI, True)
    m.set_interrupt_level(SPI, False)


def test_gicv3_edge_cleared_by_icpendr_is_not_lost() -> None:
    async def body(m: Machine) -> None:
        _pulse(m)
        m.cpus[0].write(GICD + 0x280 + 4 * (SPI // 32), 1 << (SPI % 32))   # GICD_ICPENDR

    found, taken = _run_v3(body, take=False)
    assert taken == [] and found == []


def test_gicv3_level_withdrawn_before_the_acknowledge_is_not_lost() -> None:
    async def body(m: Machine) -> None:
        m.set_interrupt_level(SPI, True)
        m.set_interrupt_level(SPI, False)

    found, taken = _run_v3(body, edge=False, take=False)
    assert taken == [] and found == []


def test_gicv3_setspi_then_clrspi_is_not_lost() -> None:
    async def body(m: Machine) -> None:
        m.device_write(0x10, GICD + 0x40, SPI)      # GICD_SETSPI_NSR
        m.device_write(0x10, GICD + 0x48, SPI)      # GICD_CLRSPI_NSR

    found, taken = _run_v3(body, edge=False, take=False)
    assert taken == [] and found == []


def test_gicv3_software_pend_never_taken_is_lost() -> None:
    async def body(m: Machine) -> None:
        m.cpus[0].write(GICD + 0x200 + 4 * (SPI // 32), 1 << (SPI % 32))   # GICD_ISPENDR

    found, taken = _run_v3(body, take=False)
    assert taken == []
    assert [(f.kind, f.data["intid"]) for f in found] == [("lost-interrupt", SPI)]
    found, taken = _run_v3(body)
    assert taken == [(1, SPI)] and found == []


def test_gicv2_level_withdrawn_is_not_lost() -> None:
    m = Machine.virt(cpus=1, gic=2)
    c = m.cpus[0]
    c.write(GICD, 0x1)                                       # GICD_CTLR.Enable
    c.write(GICD + 0x400 + SPI, 0x80, 1)                     # GICD_IPRIORITYR
    c.write(GICD + 0x800 + SPI, 0x1, 1)                      # GICD_ITARGETSR: CPU0
    c.write(GICD + 0x100 + 4 * (SPI // 32), 1 << (SPI % 32))
    c.write(GICC + 0x4, 0xF0)                                # GICC_PMR
    c.write(GICC, 0x1)                                       # GICC_CTLR.Enable
    eng = sim.Engine(machine=m, strategy=sim.RoundRobin())

    async def t() -> None:
        sim.local_irq_disable()
        m.set_interrupt_level(SPI, True)
        await sim.point("asserted")
        m.set_interrupt_level(SPI, False)
        await sim.point("withdrawn")

    async def handler(cpu: Any) -> None:
        await sim.point()

    eng.set_irq_handler(handler)
    eng.spawn(0, t)
    obs = attach(eng)
    res = eng.run()
    assert obs.findings(res) == []


def _gicv2_run(body: Callable[[Machine], None]) -> list[str]:
    """A 1-CPU GICv2 with interrupts masked on the CPU: ``body`` writes registers and drives
    lines; the interrupt observer's findings at the end (nothing is ever acknowledged)."""
    m = Machine.virt(cpus=1, gic=2)
    c = m.cpus[0]
    c.write(GICD, 0x1)                                       # GICD_CTLR.Enable
    c.write(GICC, 0x1)                                       # GICC_CTLR.Enable
    eng = sim.Engine(machine=m, strategy=sim.RoundRobin())

    async def t() -> None:
        sim.local_irq_disable()
        body(m)
        await sim.point("done")

    eng.spawn(0, t)
    obs = attach(eng)
    res = eng.run()
    return [f.kind for f in obs.findings(res)]


def test_gicv2_register_writes_are_followed() -> None:
    # GICv2's distributor reports its set/clear register writes as GICv3's does (register 0
    # banked per CPU): a disabled SPI or PPI is not lost, a software pend is, until cleared
    enable = GICD + 0x100 + 4 * (SPI // 32)

    def disabled_spi(m: Machine) -> None:
        m.cpus[0].write(enable, 1 << (SPI % 32))                 # ISENABLER
        m.cpus[0].write(enable + 0x80, 1 << (SPI % 32))          # ICENABLER
        m.set_interrupt_level(SPI, True)

    def disabled_ppi(m: Machine) -> None:
        m.cpus[0].write(GICD + 0x100, 1 << 27)                   # ISENABLER0 (banked)
        m.cpus[0].write(GICD + 0x180, 1 << 27)                   # ICENABLER0 (banked)
        m.set_interrupt_level(27, True, cpu=0)

    def soft_pend(m: Machine) -> None:
        m.cpus[0].write(enable, 1 << (SPI % 32))
        m.cpus[0].write(GICD + 0x200 + 4 * (SPI // 32), 1 << (SPI % 32))   # ISPENDR

    def soft_pend_cleared(m: Machine) -> None:
        soft_pend(m)
        m.cpus[0].write(GICD + 0x280 + 4 * (SPI // 32), 1 << (SPI % 32))   # ICPENDR

    assert _gicv2_run(disabled_spi) == []
    assert _gicv2_run(disabled_ppi) == []
    assert _gicv2_run(soft_pend) == ["lost-interrupt"]
    assert _gicv2_run(soft_pend_cleared) == []


# -- disabled interrupts ----------------------------------------------------------------------

def test_disabled_spi_left_pending_is_not_lost_until_enabled() -> None:
    es, ob = _obs()
    es.emit("gicd_write", cpu=0, reg="GICD_ICENABLER", n=1, value=1 << 8)   # SPI 40 off
    es.emit("gicd_spi_pending", intid=40, trigger="edge")
    assert _kinds(ob) == []
    es.emit("gicd_write", cpu=0, reg="GICD_ISENABLER", n=1, value=1 << 9)   # SPI 41 on
    assert _kinds(ob) == []
    es.emit("gicd_write", cpu=0, reg="GICD_ISENABLER", n=1, value=1 << 8)   # SPI 40 on
    assert _kinds(ob) == ["lost-interrupt"]


def test_disabled_sgi_and_ppi_are_per_redistributor() -> None:
    es, ob = _obs()
    es.emit("gicr_write", cpu=0, redist=1, reg="GICR_ICENABLER0", value=(1 << 3) | (1 << 20))
    es.emit("gicr_sgi_pending", cpu=1, intid=3, source=0)
    es.emit("gicr_ppi_pending", cpu=1, intid=20, trigger="edge")
    assert _kinds(ob) == []
    es.emit("gicr_sgi_pending", cpu=0, intid=3, source=1)      # CPU0's SGI 3 is enabled
    assert [f.data["cpu"] for f in ob.finish(Ok())] == [0]
    es.emit("gicr_write", cpu=0, redist=1, reg="GICR_ISENABLER0", value=1 << 20)
    assert sorted((f.data["intid"], f.data["cpu"]) for f in ob.finish(Ok())) == [(3, 0),
                                                                                   (20, 1)]


def test_disabled_lpi_is_tracked_and_becomes_a_candidate_when_enabled() -> None:
    es, ob = _obs()
    es.emit("gicr_lpi_pending", cpu=0, intid=8192, enabled=False, prio=0xa0)
    assert _kinds(ob) == []
    es.emit("gicr_lpi_config", cpu=0, intid=8192, enabled=True, prio=0xa0)   # INV
    assert _kinds(ob) == ["lost-interrupt"]
    es.emit("cpuif_ack", cpu=0, intid=8192, prio=0xa0, group=1)
    assert _kinds(ob) == []


def test_lpi_disabled_while_pending_is_not_lost() -> None:
    es, ob = _obs()
    es.emit("gicr_lpi_pending", cpu=0, intid=8192, enabled=True, prio=0xa0)
    es.emit("gicr_lpi_config", cpu=0, intid=8192, enabled=False, prio=0xa0)
    es.emit("gicr_lpi_pending", cpu=1, intid=8193, enabled=True, prio=0xa0)
    es.emit("gicr_enable_lpis", cpu=1, value=False)     # parked in the pending table
    assert _kinds(ob) == []


def test_gicv3_disabled_spi_is_not_lost_and_is_once_enabled() -> None:
    async def body(m: Machine) -> None:
        m.cpus[0].write(GICD + 0x180 + 4 * (SPI // 32), 1 << (SPI % 32))   # GICD_ICENABLER
        _pulse(m)

    found, taken = _run_v3(body)
    assert taken == [] and found == []

    async def enable_later(m: Machine) -> None:
        await body(m)
        await sim.point("masked")
        m.cpus[0].write(GICD + 0x100 + 4 * (SPI // 32), 1 << (SPI % 32))   # GICD_ISENABLER

    found, taken = _run_v3(enable_later, take=False)
    assert [(f.kind, f.data["intid"]) for f in found] == [("lost-interrupt", SPI)]
    found, taken = _run_v3(enable_later)
    assert taken == [(1, SPI)] and found == []


def test_gicv3_disabled_sgi_is_not_lost() -> None:
    async def body(m: Machine) -> None:
        sgi = m.config.redistributor_base(1) + 0x10000       # CPU1's SGI_base frame
        m.cpus[0].write(sgi + 0x80, 0xFFFF_FFFF)             # GICR_IGROUPR0
        m.cpus[0].write(sgi + 0x180, 1 << 3)                 # GICR_ICENABLER0: SGI 3 off
        m.cpus[0].write_sysreg("ICC_SGI1R_EL1", (3 << 24) | (1 << 1))   # SGI 3 to CPU1

    found, taken = _run_v3(body)
    assert taken == [] and found == []


def test_gicv3_sgi_disabled_from_reset_is_not_lost() -> None:
    # no enable write seen: the pending event's enabled field says it is disabled
    async def body(m: Machine) -> None:
        sgi = m.config.redistributor_base(1) + 0x10000       # CPU1's SGI_base frame
        m.cpus[0].write(sgi + 0x80, 0xFFFF_FFFF)             # GICR_IGROUPR0
        m.cpus[0].write_sysreg("ICC_SGI1R_EL1", (3 << 24) | (1 << 1))   # SGI 3 to CPU1

    found, taken = _run_v3(body)
    assert taken == [] and found == []


def test_kernel_lazy_disable_then_enable_is_clean_and_without_enable_is_not_lost() -> None:
    """disable_irq; an edge comes: the flow handler masks it (IRQS_PENDING); enable_irq
    resends it with GICD_ISPENDR (a software pend) and it runs.  Without the enable_irq
    the kernel keeps it (IRQS_PENDING) and the GIC has nothing pending."""
    from irqlab.kernel import (
        IRQ_HANDLED,
        IrqFwspec,
        Kernel,
        disable_irq,
        enable_irq,
        irq_create_fwspec_mapping,
        request_irq,
    )
    from irqlab.kernel.drivers.irq_gic_v3 import IRQ_TYPE_EDGE_RISING

    def run(reenable: bool) -> tuple[list[Any], list[str]]:
        m = Machine.virt(cpus=2, its=False)
        eng = sim.Engine(machine=m, strategy=sim.RoundRobin())
        k = Kernel(m, eng, maxcpus=1)
        seen: list[str] = []

        async def handler(virq: int, dev: Any) -> int:
            seen.append("handled")
            return IRQ_HANDLED

        async def main() -> None:
            await k.boot()
            irq = await irq_create_fwspec_mapping(IrqFwspec(0, 9, IRQ_TYPE_EDGE_RISING))
            assert await request_irq(irq, handler, 0, "e", None) == 0
            await disable_irq(irq)
            m.set_interrupt_level(41, True)
            m.set_interrupt_level(41, False)
            while not k.irq.descs[irq].istate & 0x200:      # IRQS_PENDING
                await sim.point()
            if reenable:
                await enable_irq(irq)
                while not seen:
                    await sim.point()

        eng.spawn(0, main)
        obs = attach(eng, lockdep=False, lifetimes=False)   # the descriptor outlives the run
        res = eng.run()
        assert res.ok
        return obs.findings(res), seen

    found, seen = run(True)
    assert seen == ["handled"] and found == []
    found, seen = run(False)
    assert seen == [] and found == []


def test_an_enabled_field_on_the_pending_event_is_the_enable_state() -> None:
    # an enable written before the observer was attached: the event carries it
    es, ob = _obs()
    es.emit("gicr_sgi_pending", cpu=1, intid=3, source=0, enabled=False)
    es.emit("gicd_spi_pending", intid=40, trigger="edge", enabled=False)
    assert _kinds(ob) == []
    es.emit("gic_pending_latch", cpu=None, intid=41, value=True, enabled=True)
    assert [f.data["intid"] for f in ob.finish(Ok())] == [41]
