"""Tests for the interrupt observer: synthetic event streams, engine soft irqs, a real GICv3."""

from __future__ import annotations

from irqlab import sim
from irqlab.check.observe import attach

from .irq_helpers import Ok
from .irq_helpers import kinds as _kinds
from .irq_helpers import observer as _obs


def test_lpi_pending_then_acked_is_clean() -> None:
    es, ob = _obs()
    es.emit("gicr_lpi_pending", cpu=1, intid=8192, enabled=True, prio=0xa0)
    es.emit("cpuif_ack", cpu=1, intid=8192, prio=0xa0, group=1)
    assert _kinds(ob) == []


def test_lost_lpi() -> None:
    es, ob = _obs()
    es.time = 3
    es.emit("gicr_lpi_pending", cpu=1, intid=8200, enabled=True, prio=0xa0)
    out = ob.finish(Ok())
    assert [f.kind for f in out] == ["lost-interrupt"]
    assert out[0].message == "LPI 8200 on CPU1 made pending at step 3 was never taken"


def test_disabled_or_discarded_lpi_is_not_lost() -> None:
    es, ob = _obs()
    es.emit("gicr_lpi_pending", cpu=0, intid=8192, enabled=False, prio=0xa0)
    es.emit("gicr_lpi_pending", cpu=0, intid=8193, enabled=True, prio=0xa0)
    es.emit("gicr_lpi_clear", cpu=0, intid=8193)
    assert _kinds(ob) == []


def test_spi_stuck_active_then_deactivated() -> None:
    es, ob = _obs()
    es.emit("gicd_spi_pending", intid=40, trigger="edge")
    es.emit("cpuif_ack", cpu=0, intid=40, prio=0x80, group=1)
    assert _kinds(ob) == ["stuck-active"]
    es.emit("cpuif_deactivate", cpu=0, intid=40, via="eoi")
    assert _kinds(ob) == []


def test_iar_reading_1023_is_not_a_finding() -> None:
    # the first acknowledge after an entry may read 1023 in correct code: another CPU took
    # the SPI, the line fell, or a higher priority masked it; Linux just returns
    es, ob = _obs()
    es.emit("sim_irq_enter", cpu=0, tid=5, intid=-1, ipi=False, depth=1)
    es.emit("cpuif_ack", cpu=0, intid=1023, group=1, hppi=1023)
    es.emit("sim_irq_enter", cpu=1, tid=6, intid=-1, ipi=False, depth=1)
    es.emit("gicc_ack", cpu=1, intid=1023, cpuid=0, alias=False)
    assert _kinds(ob) == []


def test_spurious_interrupts_the_kernel_reports() -> None:
    es, ob = _obs()
    es.time = 3
    es.emit("cpuif_ack", cpu=0, intid=40, prio=0x80, group=1)
    es.emit("irq_no_mapping", cpu=0, domain="GICv3", hwirq=40)
    es.emit("gic_unexpected_irq", cpu=0, intid=40)               # the same dispatch
    es.emit("cpuif_deactivate", cpu=0, intid=40, via="eoi")
    es.emit("irq_bad", cpu=1, irq=12, hwirq=44)
    es.emit("irq_percpu_spurious", cpu=1, irq=3, hwirq=27)
    es.emit("irq_percpu_spurious", cpu=1, irq=3, hwirq=27)       # once per CPU and irq
    assert [f.message for f in ob.found] == [
        "CPU0 took hwirq 40 of irq domain GICv3, which maps to no Linux irq",
        "irq 12 (hwirq 44) taken on CPU1 has no flow handler (handle_bad_irq)",
        "per-CPU irq 3 (hwirq 27) taken on CPU1, which did not enable it",
    ]
    assert _kinds(ob) == ["spurious-interrupt"] * 3
    es.time = 4
    es.emit("gic_unexpected_irq", cpu=1, intid=41)
    assert ob.found[-1].message == "CPU1 took INTID 41, which maps to no Linux irq"


def test_affinity_violation_only_after_the_affinity_change() -> None:
    es, ob = _obs()
    es.time = 1
    es.emit("gicr_lpi_pending", cpu=1, intid=8192, enabled=True, prio=0)
    es.time = 2
    es.emit("irq_affinity", irq=30, intid=8192, cpus="0")
    es.time = 3
    es.emit("cpuif_ack", cpu=1, intid=8192, prio=0, group=1)   # in flight: allowed
    assert _kinds(ob) == []
    es.time = 4
    es.emit("gicr_lpi_pending", cpu=1, intid=8192, enabled=True, prio=0)
    es.time = 5
    es.emit("cpuif_ack", cpu=1, intid=8192, prio=0, group=1)
    assert _kinds(ob) == ["affinity-violation"]
    assert ob.found[0].data["allowed"] == [0]


def test_affinity_by_linux_irq() -> None:
    es, ob = _obs()
    es.time = 1
    es.emit("irq_affinity", irq=7, intid=-1, cpus="1,2")
    es.time = 2
    es.emit("irq_handler", cpu=2, irq=7, name="x", ret=1)
    assert _kinds(ob) == []
    es.emit("irq_handler", cpu=0, irq=7, name="x", ret=1)
    assert _kinds(ob) == ["affinity-violation"]


def test_affinity_from_irq_set_affinity() -> None:
    es, ob = _obs()
    es.time = 1
    es.emit("irq_set_affinity", cpu=0, irq=9, cpus="1", ret=-22, effective="")
    es.time = 2
    es.emit("irq_handler", cpu=0, irq=9, name="x", ret=1)
    assert _kinds(ob) == []           # a failed irq_set_affinity changes nothing
    es.emit("sim_irq_enter", cpu=0, tid=4, intid=-1, ipi=False, depth=1)
    es.emit("cpuif_ack", cpu=0, intid=9000, prio=0, group=1)
    es.time = 3
    es.emit("irq_set_affinity", cpu=1, irq=9, cpus="1", ret=0, effective="1")
    es.emit("irq_handler", cpu=0, irq=9, name="x", ret=1)
    assert _kinds(ob) == []           # entered before the change: in flight
    es.time = 4
    es.emit("sim_irq_enter", cpu=0, tid=5, intid=-1, ipi=False, depth=1)
    es.emit("cpuif_ack", cpu=0, intid=9000, prio=0, group=1)
    es.emit("irq_handler", cpu=0, irq=9, name="x", ret=1)
    assert _kinds(ob) == ["affinity-violation"]


def test_irq_set_affinity_moves_the_affinity_of_the_bound_intid() -> None:
    es, ob = _obs()
    es.time = 1
    es.emit("irq_affinity", irq=7, intid=40, cpus="1")
    es.time = 2
    es.emit("irq_set_affinity", cpu=0, irq=7, cpus="0", ret=0, effective="0")
    es.time = 3
    es.emit("gicd_spi_pending", intid=40, trigger="edge")
    es.emit("cpuif_ack", cpu=0, intid=40, prio=0x80, group=1)
    es.emit("irq_handler", cpu=0, irq=7, name="x", ret=1)
    es.emit("cpuif_deactivate", cpu=0, intid=40, via="eoi")
    assert _kinds(ob) == []
    es.time = 4                                   # the kernel's event: intid=-1 keeps the binding
    es.emit("irq_affinity", cpu=0, irq=7, intid=-1, cpus="1")
    es.time = 5
    es.emit("gicd_spi_pending", intid=40, trigger="edge")
    es.emit("cpuif_ack", cpu=0, intid=40, prio=0x80, group=1)
    es.emit("cpuif_deactivate", cpu=0, intid=40, via="eoi")
    assert _kinds(ob) == ["affinity-violation"]
    assert ob.found[0].message == ("INTID 40 taken on CPU0, outside its affinity {1} "
                                   "(set at step 4)")


def test_soft_irqs_engine() -> None:
    handled = []

    async def handler(cpu):
        handled.append(cpu.irq_intid)
        await sim.point()

    async def t():
        sim.local_irq_disable()
        sim.current().cctx.engine.raise_irq(0, 3)
        await sim.point()   # irqs stay off: the interrupt is never taken

    eng = sim.Engine(cpus=1)
    eng.set_irq_handler(handler)
    eng.spawn(0, t)
    obs = attach(eng, lockdep=False, lifetimes=False)
    res = eng.run()
    found = obs.findings(res)
    assert [f.kind for f in found] == ["lost-interrupt"]
    assert found[0].data == {"intid": 3, "cpu": 0, "raised": 1, "handled": 0}

    async def t2():
        sim.current().cctx.engine.raise_irq(0, 3)
        await sim.point()

    eng = sim.Engine(cpus=1)
    eng.set_irq_handler(handler)
    eng.spawn(0, t2)
    obs = attach(eng, lockdep=False, lifetimes=False)
    res = eng.run()
    assert obs.findings(res) == []
    assert handled == [3]


# -- end to end on a GICv3 machine -------------------------------------------------------

GICD = 0x0800_0000
SPI = 40


def _boot(m, spi, route_aff0):
    c0 = m.cpus[0]
    c0.write(GICD, 0x3)                              # GICD_CTLR: EnableGrp1, ARE
    for i, cpu in enumerate(m.cpus):
        cpu.write(m.config.redistributor_base(i) + 0x14, 0)   # GICR_WAKER
        cpu.write_sysreg("ICC_PMR_EL1", 0xFF)
        cpu.write_sysreg("ICC_IGRPEN1_EL1", 1)
    c0.write(GICD + 0x80 + 4 * (spi // 32), 0xFFFF_FFFF)      # GICD_IGROUPR
    c0.write(GICD + 0x400 + spi, 0x80, 1)                     # GICD_IPRIORITYR
    off = GICD + 0xC00 + 4 * (spi // 16)                      # GICD_ICFGR: edge
    c0.write(off, c0.read(off) | (2 << (2 * (spi % 16))))
    c0.write(GICD + 0x6000 + 8 * spi, route_aff0, 8)          # GICD_IROUTER
    c0.write(GICD + 0x100 + 4 * (spi // 32), 1 << (spi % 32))  # GICD_ISENABLER


def _machine_run(*, eoi=True, irqs_off=False, seed=0):
    from irqlab import Machine

    m = Machine.virt(cpus=2, its=False)
    _boot(m, SPI, route_aff0=1)
    eng = sim.Engine(machine=m, strategy=sim.Random(seed))

    async def handle_arch_irq(cpu):
        while True:
            intid = cpu.hw.read_sysreg("ICC_IAR1_EL1")
            if intid == 1023:
                return
            await sim.point("handler")
            if eoi:
                cpu.hw.write_sysreg("ICC_EOIR1_EL1", intid)
            else:
                cpu.hw.write_sysreg("ICC_PMR_EL1", 0)   # mask further delivery instead
                return

    async def nvme():
        await sim.point("raise")
        m.device_write(0x10, GICD + 0x40, SPI)                 # GICD_SETSPI_NSR

    async def busy():
        if irqs_off:
            sim.local_irq_disable()
        for _ in range(3):
            await sim.point("work")

    eng.set_irq_handler(handle_arch_irq)
    eng.spawn_device("nvme0", nvme)
    eng.spawn(0, busy)
    eng.spawn(1, busy)
    obs = attach(eng)
    res = eng.run()
    return obs.findings(res), res


def test_gicv3_spi_clean_over_schedules() -> None:
    for seed in range(20):
        found, res = _machine_run(seed=seed)
        assert res.ok
        assert found == [], (seed, [str(f) for f in found])


def test_gicv3_spi_never_eoied_is_stuck_active() -> None:
    found, _ = _machine_run(eoi=False)
    assert [f.kind for f in found] == ["stuck-active"]
    assert found[0].data["intid"] == SPI


def test_gicv3_spi_with_irqs_masked_forever_is_lost() -> None:
    found, _ = _machine_run(irqs_off=True)
    assert [f.kind for f in found] == ["lost-interrupt"]
    assert found[0].message.startswith("SPI 40 made pending at step")


def test_kernel_unexpected_interrupt_is_spurious() -> None:
    """SPI 40 enabled and pended behind the kernel's back: gic_handle_irq finds no mapping."""
    from irqlab import Machine
    from irqlab.kernel import Kernel

    m = Machine.virt(cpus=2, its=False)
    eng = sim.Engine(machine=m, strategy=sim.RoundRobin())
    k = Kernel(m, eng, maxcpus=1)

    async def main():
        await k.boot()
        m.cpus[0].write(GICD + 0x104, 1 << 8)     # GICD_ISENABLER1: SPI 40
        m.cpus[0].write(GICD + 0x204, 1 << 8)     # GICD_ISPENDR1
        await sim.point()

    eng.spawn(0, main)
    obs = attach(eng, lockdep=False, lifetimes=False)
    res = eng.run()
    found = obs.findings(res)
    assert [(f.kind, f.message) for f in found] == [
        ("spurious-interrupt", "CPU0 took hwirq 40 of irq domain GICv3, which maps to no "
                               "Linux irq")]
