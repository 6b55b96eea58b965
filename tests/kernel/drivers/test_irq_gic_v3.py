"""The GICv3 driver: SGI IPIs between CPUs, SPIs through request_irq, affinity, hotplug."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from irqlab import sim
from irqlab.hw.machine import Machine
from irqlab.kernel import (
    IRQ_HANDLED,
    IrqFwspec,
    Kernel,
    free_irq,
    irq_create_fwspec_mapping,
    irq_dispose_mapping,
    irq_set_affinity,
    request_irq,
    show_interrupts,
)
from irqlab.kernel.drivers.irq_gic_v3 import (
    IPI_CALL_FUNC,
    IPI_RESCHEDULE,
    IRQ_TYPE_EDGE_RISING,
    IRQ_TYPE_LEVEL_HIGH,
)


def boot_and(body: Callable[[Kernel, Machine], Awaitable[Any]], *, cpus: int = 4,
             maxcpus: int = 2, strategy: sim.Strategy | None = None
             ) -> tuple[Kernel, Machine, list[Any]]:
    m = Machine.virt(cpus=cpus, its=False)
    eng = sim.Engine(machine=m, strategy=strategy)
    k = Kernel(m, eng, maxcpus=maxcpus)
    rec = m.events.record()

    async def main() -> None:
        await k.boot()
        await body(k, m)

    eng.spawn(0, main)
    res = eng.run()
    assert res.outcome == "ok", res.traceback or res.deadlock
    return k, m, list(rec)


def test_sgi_ipi_from_cpu0_handled_on_cpu1() -> None:
    ran: list[tuple[str, int, bool]] = []

    async def remote(tag: str) -> str:
        ran.append((tag, sim.smp_processor_id(), sim.in_irq()))
        return tag.upper()

    results: list[Any] = []

    async def body(k: Kernel, m: Machine) -> None:
        results.append(await k.gic.smp_call_function_single(1, remote, "hello"))
        results.append(await k.gic.smp_call_function_single(0, remote, "local"))
        results.append(await k.gic.smp_call_function_single(3, remote, "offline"))
        k.gic.send_ipi([1], IPI_RESCHEDULE)
        await sim.point()

    k, _m, events = boot_and(body)
    assert ran == [("hello", 1, True), ("local", 0, False)]
    assert results == ["HELLO", "LOCAL", -6]
    assert k.gic.ipi_counts[IPI_CALL_FUNC] == [0, 1, 0, 0]
    assert k.gic.ipi_counts[IPI_RESCHEDULE] == [0, 1, 0, 0]
    sgis = [(e.cpu, e["intid"], e["source"]) for e in events if e.kind == "gicr_sgi_pending"]
    assert sgis == [(1, IPI_CALL_FUNC, 0), (1, IPI_RESCHEDULE, 0)]
    acks = [(e.cpu, e["intid"]) for e in events if e.kind == "cpuif_ack" and e["intid"] < 16]
    assert acks == [(1, 1), (1, 0)]


def test_spi_via_request_irq_counts_and_proc_interrupts() -> None:
    seen: list[tuple[int, int, Any]] = []

    async def body(k: Kernel, m: Machine) -> None:
        irq = await irq_create_fwspec_mapping(IrqFwspec(0, 5, IRQ_TYPE_LEVEL_HIGH))
        assert irq == await irq_create_fwspec_mapping(IrqFwspec(0, 5, IRQ_TYPE_LEVEL_HIGH))
        edge = await irq_create_fwspec_mapping(IrqFwspec(0, 6, IRQ_TYPE_EDGE_RISING))

        async def handler(virq: int, dev: Any) -> int:
            seen.append((virq, sim.smp_processor_id(), dev))
            m.set_interrupt_level(32 + 5, False)   # the device drops its line
            return IRQ_HANDLED

        async def edge_handler(virq: int, dev: Any) -> int:
            seen.append((virq, sim.smp_processor_id(), dev))
            return IRQ_HANDLED

        assert await request_irq(irq, handler, 0, "uart", "dev-a") == 0
        assert await request_irq(edge, edge_handler, 0, "nic", "dev-b") == 0
        for target in (None, 1, 1, 0):
            if target is not None:
                assert await irq_set_affinity(irq, [target]) == 0
            n = len(seen)
            m.set_interrupt_level(37, True)
            while len(seen) == n or k.gic.machine.gic.is_active(37):
                await sim.point("wait for the handler")
        m.set_interrupt_level(38, True)
        m.set_interrupt_level(38, False)
        await sim.point("edge")
        text = show_interrupts(k)
        seen.append((0, 0, text))
        assert await free_irq(irq, "dev-a") == "uart"
        await irq_dispose_mapping(irq)

    k, _m, events = boot_and(body)
    assert [s[:2] for s in seen[:-1]] == [(9, 0), (9, 1), (9, 1), (9, 0), (10, 0)]
    text = seen[-1][2]
    assert text.splitlines()[:3] == [
        "           CPU0       CPU1",
        "  9:          2          2    GICv3    37 Level    uart",
        " 10:          1          0    GICv3    38 Edge     nic",
    ]
    assert text.splitlines()[4] == "IPI1:          0          0       Function call interrupts"
    assert 9 not in k.irq.descs and k.gic.domain.revmap.get(37) is None
    eois = [e["intid"] for e in events if e.kind == "cpuif_eoi" and e["intid"] >= 32]
    assert eois == [37, 37, 37, 37, 38]
    # the affinity events name the GIC INTID (the interrupt observer checks delivery by it)
    aff = [(e["irq"], e["intid"], e["cpus"]) for e in events if e.kind == "irq_affinity"]
    assert aff[-3:] == [(9, 37, "1"), (9, 37, "1"), (9, 37, "0")]


def test_cpu_down_migrates_spi_and_cpu_up_restarts_gic() -> None:
    seen: list[int] = []

    async def body(k: Kernel, m: Machine) -> None:
        irq = await irq_create_fwspec_mapping(IrqFwspec(0, 2, IRQ_TYPE_EDGE_RISING))

        async def handler(virq: int, dev: Any) -> int:
            seen.append(sim.smp_processor_id())
            return IRQ_HANDLED

        assert await request_irq(irq, handler, 0, "d", None) == 0
        assert await irq_set_affinity(irq, [1]) == 0
        assert await k.cpuhp.cpu_down(1) == 0
        assert k.irq.descs[irq].irq_data.effective_affinity == (0,)
        m.set_interrupt_level(34, True)
        m.set_interrupt_level(34, False)
        await sim.point()
        assert await k.cpuhp.cpu_up(3) == 0
        assert await irq_set_affinity(irq, [3]) == 0
        m.set_interrupt_level(34, True)
        m.set_interrupt_level(34, False)
        await sim.point()
        await sim.point()

    _k, _m, events = boot_and(body)
    assert seen == [0, 3]
    assert [e["to"] for e in events if e.kind == "irq_migrate"] == ["0"]
    assert [e.cpu for e in events if e.kind == "gic_cpu_init"] == [0, 1, 3]


def test_unmapped_interrupt_is_eoied_and_reported() -> None:
    async def body(k: Kernel, m: Machine) -> None:
        base = k.machine.config.gicd[0]
        m.cpus[0].write(base + 0x104, 1 << 8)   # enable SPI 40 behind the kernel's back
        m.cpus[0].write(base + 0x204, 1 << 8)   # and make it pending (GICD_ISPENDR1)
        await sim.point()

    _, _, events = boot_and(body)
    assert [(e.cpu, e["intid"]) for e in events if e.kind == "gic_unexpected_irq"] == [(0, 40)]
    assert [e["intid"] for e in events if e.kind == "cpuif_eoi"][-1:] == [40]


def test_irq_paths_clean_under_the_checker() -> None:
    """Boot, SPI, IPI, affinity, hotplug and free: no lockdep, lifetime or interrupt finding."""
    from irqlab.check.run import run_once

    def factory(strategy: sim.Strategy) -> sim.Engine:
        m = Machine.virt(cpus=4, its=False)
        eng = sim.Engine(machine=m, strategy=strategy)
        k = Kernel(m, eng, maxcpus=2)

        async def h(irq: int, dev: Any) -> int:
            m.set_interrupt_level(37, False)
            return IRQ_HANDLED

        async def remote(x: int) -> int:
            return x

        async def main() -> None:
            await k.boot()
            irq = await irq_create_fwspec_mapping(IrqFwspec(0, 5, IRQ_TYPE_LEVEL_HIGH))
            assert await request_irq(irq, h, 0, "u", "d") == 0
            m.set_interrupt_level(37, True)
            assert await k.gic.smp_call_function_single(1, remote, 7) == 7
            assert await irq_set_affinity(irq, [1]) == 0
            m.set_interrupt_level(37, True)
            assert await k.cpuhp.cpu_up(2) == 0
            assert await k.cpuhp.cpu_down(1) == 0
            m.set_interrupt_level(37, True)
            while m.gic.is_pending(37) or m.gic.is_active(37):
                await sim.point()
            assert await free_irq(irq, "d") == "u"
            await irq_dispose_mapping(irq)

        eng.spawn(0, main)
        return eng

    for seed in range(8):
        out = run_once(factory, strategy=sim.Random(seed))
        assert out.findings == [], (seed, [str(f) for f in out.findings])


def test_edge_while_disabled_is_resent_on_enable() -> None:
    from irqlab.kernel import disable_irq, enable_irq

    seen: list[str] = []

    async def body(k: Kernel, m: Machine) -> None:
        irq = await irq_create_fwspec_mapping(IrqFwspec(0, 9, IRQ_TYPE_EDGE_RISING))

        async def handler(virq: int, dev: Any) -> int:
            seen.append("handled")
            return IRQ_HANDLED

        assert await request_irq(irq, handler, 0, "e", None) == 0
        await disable_irq(irq)
        m.set_interrupt_level(41, True)
        m.set_interrupt_level(41, False)
        while not k.irq.descs[irq].istate & 0x200:      # IRQS_PENDING: flow handler masked it
            await sim.point()
        seen.append("enable")
        await enable_irq(irq)
        while len(seen) < 2:
            await sim.point()

    _, _, events = boot_and(body)
    assert seen == ["enable", "handled"]
    assert [e["hw"] for e in events if e.kind == "irq_resend"] == [True]
    writes = [e["reg"] for e in events if e.kind == "gicd_write" and e.get("n") == 1
              and e["reg"] in ("GICD_ICENABLER", "GICD_ISENABLER", "GICD_ISPENDR")]
    assert writes[-4:] == ["GICD_ISENABLER", "GICD_ICENABLER", "GICD_ISENABLER", "GICD_ISPENDR"]


def test_its_hook_order(monkeypatch: Any) -> None:
    """its_init, its_cpu_init(0) with irqs off, its_lpi_memreserve_init, then per-CPU STARTING."""
    import sys
    import types

    calls: list[str] = []
    fake = types.ModuleType("irqlab.kernel.drivers.irq_gic_v3_its")

    async def its_init(kernel: Kernel) -> object:
        calls.append(f"its_init online={kernel.online_cpus}")
        return "its-driver"

    async def its_cpu_init(kernel: Kernel, cpu: int) -> int:
        calls.append(f"its_cpu_init:{cpu}@{sim.smp_processor_id()}:"
                     f"{'off' if sim.irqs_disabled() else 'on'}:{sim.current().kind}")
        return 0

    async def its_lpi_memreserve_init(kernel: Kernel) -> None:
        calls.append("its_lpi_memreserve_init")

    fake.its_init = its_init  # type: ignore[attr-defined]
    fake.its_cpu_init = its_cpu_init  # type: ignore[attr-defined]
    fake.its_lpi_memreserve_init = its_lpi_memreserve_init  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "irqlab.kernel.drivers.irq_gic_v3_its", fake)
    m = Machine.virt(cpus=3, its=True)
    eng = sim.Engine(machine=m)
    k = Kernel(m, eng, maxcpus=2)

    async def main() -> None:
        await k.boot()
        await k.cpuhp.cpu_up(2)

    eng.spawn(0, main)
    assert eng.run().outcome == "ok"
    assert calls == ["its_init online=(0,)", "its_cpu_init:0@0:off:task",
                     "its_lpi_memreserve_init", "its_cpu_init:1@1:off:bringup",
                     "its_cpu_init:2@2:off:bringup"]
    assert k.its == "its-driver"


def test_a_spurious_acknowledge_is_reported_not_counted() -> None:
    # IAR reads 1023 (nothing pending): Linux's gic_handle_irq just returns; the Err line
    # of /proc/interrupts is arm64's irq_err_count, which the GIC never increments
    from irqlab.sim._core import cur_thread

    texts: list[str] = []

    async def body(k: Kernel, m: Machine) -> None:
        sim.local_irq_disable()
        await k.gic.handle_arch_irq(cur_thread().cctx)
        sim.local_irq_enable()
        texts.append(show_interrupts(k))

    _k, _m, events = boot_and(body, cpus=2)
    assert [e.kind for e in events].count("gic_spurious") == 1
    assert texts[0].splitlines()[-1] == "Err:          0"
