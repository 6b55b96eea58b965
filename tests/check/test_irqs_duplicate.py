"""duplicate-interrupt: a Linux irq's handler run more often than its INTID was delivered."""

from __future__ import annotations

from typing import Any

from irqlab import Machine, sim
from irqlab.check.observe import attach
from irqlab.events import EventStream

from .irq_helpers import kinds as _kinds
from .irq_helpers import observer as _obs


def _take(es: EventStream, cpu: int, intid: int) -> None:
    es.emit("gicd_spi_pending", intid=intid, trigger="edge")
    es.emit("cpuif_ack", cpu=cpu, intid=intid, prio=0x80, group=1)


def test_handler_run_twice_for_one_acknowledge() -> None:
    es, ob = _obs()
    es.emit("irq_affinity", cpu=None, irq=7, intid=40, cpus="0,1")
    _take(es, 0, 40)
    es.emit("irq_handler", cpu=0, irq=7, name="nic", ret=1)
    es.emit("cpuif_deactivate", cpu=0, intid=40, via="eoi")
    assert _kinds(ob) == []
    es.time = 5
    es.emit("irq_handler", cpu=0, irq=7, name="nic", ret=1)
    assert _kinds(ob) == ["duplicate-interrupt"]
    f = ob.found[0]
    assert f.message == "irq 7 handler nic ran 2 times for 1 acknowledge(s) of INTID 40"
    assert f.step == 5


def test_shared_actions_and_the_edge_flow_loop_are_not_duplicates() -> None:
    es, ob = _obs()
    es.emit("irq_affinity", cpu=None, irq=7, intid=40, cpus="0,1")
    _take(es, 0, 40)
    es.emit("irq_handler", cpu=0, irq=7, name="a", ret=0)      # two actions, one run each
    es.emit("irq_handler", cpu=0, irq=7, name="b", ret=1)
    es.emit("cpuif_deactivate", cpu=0, intid=40, via="eoi")
    _take(es, 1, 40)        # handle_edge_irq: CPU1 finds it in progress, marks it pending
    es.emit("cpuif_deactivate", cpu=1, intid=40, via="eoi")
    es.emit("irq_handler", cpu=0, irq=7, name="a", ret=0)      # ... and CPU0 runs it again
    es.emit("irq_handler", cpu=0, irq=7, name="b", ret=1)
    assert _kinds(ob) == []


def test_per_cpu_interrupts_count_per_cpu() -> None:
    es, ob = _obs()
    es.emit("irq_affinity", cpu=None, irq=3, intid=27, cpus="0,1")
    for cpu in (0, 1):
        es.emit("gicr_ppi_pending", cpu=cpu, intid=27, trigger="edge")
        es.emit("cpuif_ack", cpu=cpu, intid=27, prio=0x80, group=1)
        es.emit("cpuif_deactivate", cpu=cpu, intid=27, via="eoi")
    es.emit("irq_handler", cpu=0, irq=3, name="timer", ret=1)
    es.emit("irq_handler", cpu=1, irq=3, name="timer", ret=1)
    assert _kinds(ob) == []
    es.emit("irq_handler", cpu=1, irq=3, name="timer", ret=1)
    assert [f.data["cpu"] for f in ob.found] == [1]


def test_software_resend_and_engine_interrupts_are_deliveries() -> None:
    es, ob = _obs()
    es.emit("irq_affinity", cpu=None, irq=7, intid=40, cpus="0")
    es.emit("irq_resend", cpu=0, irq=7, hw=False)      # Linux's tasklet runs the flow
    es.emit("irq_handler", cpu=0, irq=7, name="x", ret=1)
    es.emit("irq_affinity", cpu=None, irq=9, intid=2, cpus="0")
    es.emit("sim_irq_raise", cpu=0, intid=2)
    es.emit("sim_irq_enter", cpu=0, tid=4, intid=2, ipi=False, depth=1)
    es.emit("irq_handler", cpu=0, irq=9, name="y", ret=1)
    assert _kinds(ob) == []


def test_unbound_irq_is_not_checked() -> None:
    es, ob = _obs()
    es.emit("irq_affinity", cpu=None, irq=7, intid=-1, cpus="0")
    es.emit("irq_handler", cpu=0, irq=7, name="x", ret=1)
    es.emit("irq_handler", cpu=0, irq=7, name="x", ret=1)
    assert _kinds(ob) == []


def test_kernel_driver_running_its_handler_again_is_a_duplicate() -> None:
    """A driver that, after its edge interrupt was handled, runs the flow handler itself
    (generic_handle_irq from its poll path): one edge, two handler runs."""
    from irqlab.kernel import (
        IRQ_HANDLED,
        IrqFwspec,
        Kernel,
        generic_handle_irq,
        irq_create_fwspec_mapping,
        request_irq,
    )
    from irqlab.kernel.drivers.irq_gic_v3 import IRQ_TYPE_EDGE_RISING

    def run(poll_too: bool) -> list[Any]:
        m = Machine.virt(cpus=2, its=False)
        eng = sim.Engine(machine=m, strategy=sim.RoundRobin())
        k = Kernel(m, eng, maxcpus=1)
        seen: list[int] = []

        async def handler(virq: int, dev: Any) -> int:
            seen.append(virq)
            return IRQ_HANDLED

        async def main() -> None:
            await k.boot()
            irq = await irq_create_fwspec_mapping(IrqFwspec(0, 9, IRQ_TYPE_EDGE_RISING))
            eng.events.emit("irq_affinity", cpu=None, irq=irq, intid=41, cpus="0")
            assert await request_irq(irq, handler, 0, "dev", None) == 0
            m.set_interrupt_level(41, True)
            m.set_interrupt_level(41, False)
            while not seen:
                await sim.point()
            if poll_too:
                flags = sim.local_irq_save()
                await generic_handle_irq(irq)
                sim.local_irq_restore(flags)

        eng.spawn(0, main)
        obs = attach(eng, lockdep=False, lifetimes=False)
        res = eng.run()
        assert res.ok
        return obs.findings(res)

    assert run(False) == []
    found = run(True)
    assert [f.kind for f in found] == ["duplicate-interrupt"]
    assert found[0].message.endswith("ran 2 times for 1 acknowledge(s) of INTID 41")
