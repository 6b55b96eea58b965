"""The seed-004 shape on the irq core: a demultiplexing handler on one CPU, a child freed on
another.  Freeing the child's descriptor at once is a use-after-free under some schedule;
freeing it with RCU (``options["irq_desc_free"] = "rcu"``) never is, because the interrupt
entry (``handle_arch_irq``) is an RCU read-side section."""

from __future__ import annotations

from typing import Any

import pytest

from irqlab import sim
from irqlab.hw.machine import Machine
from irqlab.kernel import (
    IRQ_HANDLED,
    IrqDomain,
    IrqDomainOps,
    IrqFwspec,
    Kernel,
    free_irq,
    generic_handle_irq,
    handle_simple_irq,
    irq_create_fwspec_mapping,
    irq_domain_alloc_irqs,
    irq_domain_free_irqs,
    irq_domain_set_info,
    request_irq,
)


class _ChildOps(IrqDomainOps):
    async def alloc(self, domain: IrqDomain, virq: int, nr: int, arg: Any) -> int:
        for i in range(nr):
            irq_domain_set_info(domain, virq + i, i, None, None, handle_simple_irq)
        return 0


def _run(mode: str, seed: int) -> list[Any]:
    m = Machine.virt(cpus=2, its=False)
    eng = sim.Engine(machine=m, strategy=sim.Random(seed))
    k = Kernel(m, eng, options={"irq_desc_free": mode})
    rec = m.events.record()
    children: list[int] = []

    async def child_handler(irq: int, dev: Any) -> int:
        return IRQ_HANDLED

    async def demux(irq: int, dev: Any) -> int:
        # the RFC's vmd_irq: walk the children (here without SRCU) and dispatch each one
        for child in list(children):
            await generic_handle_irq(child)
        m.set_interrupt_level(32 + 3, False)
        return IRQ_HANDLED

    async def main() -> None:
        await k.boot()
        dom = IrqDomain(k.irq, "child", _ChildOps())
        child = await irq_domain_alloc_irqs(dom, 1)
        assert await request_irq(child, child_handler, 0, "child", None) == 0
        children.append(child)
        parent = await irq_create_fwspec_mapping(IrqFwspec(0, 3, 4))
        assert await request_irq(parent, demux, 0, "vmd", None) == 0
        from irqlab.kernel import irq_set_affinity

        assert await irq_set_affinity(parent, [1]) == 0
        m.set_interrupt_level(35, True)
        await sim.point("teardown starts")
        # the RFC's teardown: free_irq, list removal, descriptor freed (no grace period)
        await free_irq(child, None)
        children.remove(child)
        await irq_domain_free_irqs(child, 1)
        while m.gic.is_pending(35) or m.gic.is_active(35):
            await sim.point()

    eng.spawn(0, main)
    res = eng.run()
    assert res.outcome == "ok", res.traceback
    return [e for e in rec if e.kind == "sim_access" and e["obj_kind"] == "IrqDesc"
            and not e["live"]]


@pytest.mark.parametrize("mode", ["immediate", "rcu"])
def test_child_descriptor_freed_under_a_running_handler(mode: str) -> None:
    uaf = {seed: _run(mode, seed) for seed in range(16)}
    bad = sorted(s for s, v in uaf.items() if v)
    if mode == "immediate":
        assert bad, "no schedule exposed the use-after-free"
        first = uaf[bad[0]][0]
        assert first.cpu == 1 and first["label"] in ("generic_handle_irq", "handle_simple_irq")
    else:
        assert bad == []
