"""Kernel boot (maxcpus, initcalls, per-CPU data) and kexec (memreserve survives, RAM reserved)."""

from __future__ import annotations

import pytest

from irqlab import sim
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue
from irqlab.hw.machine import Machine
from irqlab.kernel import GFP_KERNEL, PAGE_SIZE, Kernel


def _boot(k: Kernel, eng: sim.Engine, then: object = None) -> sim.RunResult:
    async def main() -> None:
        await k.boot()
        if then is not None:
            await then(k)  # type: ignore[operator]

    eng.spawn(0, main)
    res = eng.run()
    assert res.outcome == "ok", res.traceback or res.deadlock
    return res


def test_boot_four_cpus_maxcpus_two() -> None:
    m = Machine.virt(cpus=4, its=False)
    eng = sim.Engine(machine=m)
    k = Kernel(m, eng, maxcpus=2)
    order: list[str] = []

    async def late(k: Kernel) -> None:
        order.append(f"late online={k.online_cpus}")

    async def core(k: Kernel) -> None:
        order.append("core")

    k.register_initcall(7, late)
    k.register_initcall(1, core)
    rec = m.events.record()
    _boot(k, eng)
    assert order == ["core", "late online=(0, 1)"]
    assert k.booted and k.online_cpus == (0, 1) and k.possible_cpus == (0, 1, 2, 3)
    assert k.nr_cpu_ids == 4 and k.cpuhp.cpus_booted_once == (0, 1)
    assert [e.cpu for e in rec.of("gic_cpu_init")] == [0, 1]
    # redistributors of the booted CPUs are awake, the others still asleep (reset value)
    waker = [m.cpus[0].read(m.config.redistributor_base(i) + 0x14) for i in range(4)]
    assert waker == [0, 0, 6, 6]
    assert [m.cpus[i].read_sysreg("ICC_IGRPEN1_EL1") for i in range(4)] == [1, 1, 0, 0]
    assert k.its is None and k.mm is not None
    assert k.irq.default_domain is k.gic.domain


def test_percpu_is_per_name() -> None:
    m = Machine.virt(cpus=2, its=False)
    k = Kernel(m, sim.Engine(machine=m))
    a = k.percpu("x", lambda cpu: [cpu])
    assert k.percpu("x", lambda cpu: None) is a and a[1] == [1]
    k.engine.close()


def test_kexec_keeps_memreserve_and_reserves_it_at_boot() -> None:
    m = Machine.virt(cpus=2, its=False)
    eng = sim.Engine(machine=m)
    k = Kernel(m, eng)
    got: list[int] = []

    async def reserve_one(k: Kernel) -> None:
        assert k.mm is not None
        a = await k.mm.alloc_pages(4, GFP_KERNEL, label="table")
        got.append(a)
        await k.memreserve.reserve(a, 16 * PAGE_SIZE, events=k.events)

    _boot(k, eng, reserve_one)
    eng2 = sim.Engine(machine=m)
    k2 = k.kexec(eng2)
    assert k2.generation == 1 and k2.memreserve is k.memreserve
    assert k2.mm is None and k2.gic is None     # kernel objects do not survive
    seen: list[int] = []

    async def alloc_all(k: Kernel) -> None:
        assert k.mm is not None
        assert k.mm.reserved(got[0], 16 * PAGE_SIZE)
        for _ in range(40):
            seen.append(await k.mm.alloc_pages(0, GFP_KERNEL))

    _boot(k2, eng2, alloc_all)
    assert got[0] not in seen and len(seen) == 40
    assert not any(got[0] <= a < got[0] + 16 * PAGE_SIZE for a in seen)
    assert k2.online_cpus == (0, 1)


def test_api_misuse() -> None:
    m = Machine.virt(cpus=2, its=False)
    other = Machine.virt(cpus=2, its=False)
    eng = sim.Engine(machine=other)
    with pytest.raises(InvalidArgumentValue, match="engine must be built on this machine"):
        Kernel(m, eng)
    with pytest.raises(InvalidArgumentValue, match="maxcpus"):
        Kernel(other, eng, maxcpus=3)
    with pytest.raises(InvalidArgumentType, match="memreserve"):
        Kernel(other, eng, memreserve=[])  # type: ignore[arg-type]
    k = Kernel(other, eng)
    with pytest.raises(InvalidArgumentValue, match="level"):
        k.register_initcall(9, lambda k: None)  # type: ignore[arg-type,return-value]
    eng.close()


def test_boot_must_run_on_cpu0() -> None:
    m = Machine.virt(cpus=2, its=False)
    eng = sim.Engine(machine=m)
    k = Kernel(m, eng)
    eng.set_cpu_online(1, True)
    eng.spawn(1, k.boot)
    res = eng.run()
    assert res.outcome == "error" and "must run on CPU 0" in str(res.error)


def test_kexec_boot_copes_with_programmed_gic() -> None:
    """An SPI the old kernel left enabled with its line high does not fire into the new one."""
    from irqlab.kernel import IRQ_HANDLED, IrqFwspec, irq_create_fwspec_mapping, request_irq

    m = Machine.virt(cpus=2, its=False, lpis_sticky=True)
    eng = sim.Engine(machine=m)
    k = Kernel(m, eng)
    seen: list[tuple[int, int]] = []

    async def handler(irq: int, dev: object) -> int:
        seen.append((int(dev), sim.smp_processor_id()))  # type: ignore[call-overload]
        m.set_interrupt_level(40, False)
        return IRQ_HANDLED

    async def old(k: Kernel) -> None:
        irq = await irq_create_fwspec_mapping(IrqFwspec(0, 8, 4))
        assert await request_irq(irq, handler, 0, "old", 0) == 0
        sim.local_irq_disable()
        m.set_interrupt_level(40, True)      # pending when the machine kexecs

    _boot(k, eng, old)
    assert seen == [] and m.gic.is_pending(40)
    eng2 = sim.Engine(machine=m)
    k2 = k.kexec(eng2)

    async def new(k: Kernel) -> None:
        for _ in range(5):
            await sim.point("nothing fires: dist_init disabled every SPI")
        seen.append((-1, -1))
        irq = await irq_create_fwspec_mapping(IrqFwspec(0, 8, 4))
        assert await request_irq(irq, handler, 0, "new", 1) == 0
        while len(seen) < 2:
            await sim.point()

    _boot(k2, eng2, new)
    assert seen == [(-1, -1), (1, 0)]


def test_gic_reserve_range_goes_to_the_table_with_the_generation() -> None:
    from irqlab.kernel.drivers.irq_gic_v3 import gic_reserve_range

    m = Machine.virt(cpus=1, its=False)
    eng = sim.Engine(machine=m)
    k = Kernel(m, eng)
    rec = m.events.record()

    async def res(k: Kernel) -> None:
        assert await gic_reserve_range(k, 0x4100_0000, 0x10000) == 0

    _boot(k, eng, res)
    eng2 = sim.Engine(machine=m)
    k2 = k.kexec(eng2)
    _boot(k2, eng2, res)
    assert k2.memreserve.entries() == [(0x4100_0000, 0x10000)] * 2
    assert k2.memreserve.generations() == [0, 1]
    assert [(e["generation"], e["label"]) for e in rec.of("mm_memreserve")] == [
        (0, "gic_reserve_range"), (1, "gic_reserve_range")]


def test_boot_runs_once() -> None:
    m = Machine.virt(cpus=1, its=False)
    eng = sim.Engine(machine=m)
    k = Kernel(m, eng)

    async def twice() -> None:
        await k.boot()
        await k.boot()

    eng.spawn(0, twice)
    res = eng.run()
    assert res.outcome == "error" and "runs once per kernel" in str(res.error)
