"""request_irq/free_irq ordering, synchronize_irq, disable depth, affinity, descriptor UAF."""

from __future__ import annotations

from typing import Any

import pytest

from irqlab import sim
from irqlab.errors import InvalidArgumentValue
from irqlab.kernel.irq import (
    IRQ_HANDLED,
    IRQF_SHARED,
    IrqCore,
    IrqDomain,
    disable_irq,
    disable_irq_nosync,
    enable_irq,
    free_irq,
    generic_handle_irq,
    handle_fasteoi_irq,
    irq_domain_alloc_irqs,
    irq_domain_free_irqs,
    irq_set_affinity,
    irq_set_handler,
    request_irq,
    synchronize_irq,
)

from ._util import LevelOps, LogChip, run


async def _one_irq(core: IrqCore, log: list[str]) -> int:
    pdom = IrqDomain(core, "gic", LevelOps(log, LogChip("gic", log), base=32))
    dom = IrqDomain(core, "msi", LevelOps(log, LogChip("msi", log)), parent=pdom)
    virq = await irq_domain_alloc_irqs(dom, 1)
    irq_set_handler(virq, handle_fasteoi_irq)
    return virq


async def _h(irq: int, dev: Any) -> int:
    return IRQ_HANDLED


def test_request_free_order_and_shared() -> None:
    log: list[str] = []
    out: list[object] = []

    async def body(core: IrqCore) -> None:
        virq = await _one_irq(core, log)
        log.clear()
        out.append(await request_irq(virq, _h, IRQF_SHARED, "a", "A"))
        out.append(await request_irq(virq, _h, 0, "b", "B"))            # not shared: -EBUSY
        out.append(await request_irq(virq, _h, IRQF_SHARED, "c", None))  # shared, no dev_id
        out.append(await request_irq(virq, _h, IRQF_SHARED, "c", "C"))
        out.append(await request_irq(12345, _h, 0, "x", None))
        log.append("--")
        out.append(await free_irq(virq, "A"))
        log.append("--")
        out.append(await free_irq(virq, "C"))
        out.append(await free_irq(virq, "C"))

    eng = sim.Engine(cpus=1)
    core = IrqCore(eng)
    rec = eng.events.record()
    eng.spawn(0, body, core)
    assert eng.run().outcome == "ok"
    assert out == [0, -16, -22, 0, -22, "a", "c", None]
    assert log == ["gic.activate:1", "msi.activate:1", "msi.affinity:0:(0,)", "msi.unmask:0",
                   "--", "--",
                   "msi.mask:0", "msi.deactivate:1", "gic.deactivate:1"]
    kinds = [e.kind for e in rec if e.kind.startswith("irq_") and e.kind not in
             ("irq_desc_alloc", "irq_domain_create", "irq_domain_alloc")]
    assert kinds == ["irq_domain_activate", "irq_domain_activate", "irq_startup", "irq_affinity",
                     "irq_request",
                     "irq_request", "irq_free_unlink", "irq_synchronize",
                     "irq_free_unlink", "irq_shutdown", "irq_synchronize",
                     "irq_domain_deactivate", "irq_domain_deactivate", "irq_free_unknown"]


def _sync_run(seed: int) -> tuple[list[str], bool]:
    """free_irq on CPU0 vs the handler on CPU1; returns (log, free_irq had to wait)."""
    log: list[str] = []
    eng = sim.Engine(cpus=2, strategy=sim.Random(seed))
    core = IrqCore(eng)
    state: dict[str, Any] = {}

    async def handler(irq: int, dev: Any) -> int:
        log.append("handler start")
        await sim.point("in handler")
        await sim.point("still in handler")
        log.append("handler end")
        return IRQ_HANDLED

    async def arch_irq(cc: sim.CpuCtx) -> None:
        await generic_handle_irq(cc.irq_intid)

    async def body(core: IrqCore) -> None:
        virq = await _one_irq(core, [])
        assert await request_irq(virq, handler, 0, "dev", "D") == 0
        state["virq"] = virq
        eng.raise_irq(1, virq)
        await sim.point("raised")
        await free_irq(virq, "D")
        log.append("free_irq returned")
        await irq_domain_free_irqs(virq, 1)

    eng.set_irq_handler(arch_irq)
    eng.spawn(0, body, core)
    rec = eng.events.record()
    assert eng.run().outcome == "ok"
    steps = [e for e in rec.of("sim_step") if e["op"] == "synchronize_hardirq"]
    waited = False
    if "handler start" in log:
        assert log.index("handler end") < log.index("free_irq returned"), (seed, log)
        sync = next(i for i, e in enumerate(rec) if e.kind == "irq_synchronize")
        end = next(i for i, e in enumerate(rec) if e.kind == "irq_handler")
        waited = sync < end
    else:
        assert log == ["free_irq returned"]
    assert len(steps) >= 1
    return log, waited


def test_synchronize_irq_waits_for_handler_on_other_cpu() -> None:
    """free_irq on CPU0 cannot pass synchronize_hardirq while CPU1 runs the handler."""
    waits = [_sync_run(seed)[1] for seed in range(12)]
    assert any(waits) and not all(waits)


def test_disable_enable_depth_and_unbalanced() -> None:
    log: list[str] = []
    depths: list[int] = []

    async def body(core: IrqCore) -> None:
        virq = await _one_irq(core, log)
        assert await request_irq(virq, _h, 0, "d", None) == 0
        desc = core.descs[virq]
        log.clear()
        await disable_irq(virq)
        await disable_irq_nosync(virq)
        depths.append(desc.depth)
        await enable_irq(virq)
        depths.append(desc.depth)
        await enable_irq(virq)
        depths.append(desc.depth)
        await enable_irq(virq)
        depths.append(desc.depth)
        await synchronize_irq(virq)

    eng = sim.Engine(cpus=1)
    core = IrqCore(eng)
    rec = eng.events.record()
    eng.spawn(0, body, core)
    assert eng.run().outcome == "ok"
    assert depths == [2, 1, 0, 0]
    assert log == []   # lazy disable: never masked, so nothing to unmask
    assert len(rec.of("irq_unbalanced_enable")) == 1


def test_irq_set_affinity() -> None:
    log: list[str] = []
    out: list[object] = []

    async def body(core: IrqCore) -> None:
        virq = await _one_irq(core, log)
        dom = core.descs[virq].irq_data.chip
        assert dom.name == "msi"
        out.append(await irq_set_affinity(virq, [2, 3]))   # not started: recorded only
        assert await request_irq(virq, _h, 0, "d", None) == 0
        out.append(core.descs[virq].affinity)
        out.append(await irq_set_affinity(virq, {1}))
        out.append(core.descs[virq].irq_data.effective_affinity)
        out.append(await irq_set_affinity(virq, []))
        with pytest.raises(InvalidArgumentValue, match="cpus must hold CPU numbers"):
            await irq_set_affinity(virq, [9])

    run(body, cpus=4)
    assert out == [0, (2, 3), 0, (1,), -22]
    assert "msi.affinity:0:(2, 3)" in log and "msi.affinity:0:(1,)" in log


@pytest.mark.parametrize("mode", ["immediate", "rcu"])
def test_descriptor_use_after_free_is_an_event(mode: str) -> None:
    """A handler that looked a descriptor up before it was freed: UAF unless freed with RCU."""
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    core = IrqCore(eng, options={"irq_desc_free": mode})
    rec = eng.events.record()
    shared: dict[str, Any] = {}

    async def user() -> None:
        while "virq" not in shared:
            await sim.point("wait")
        sim.rcu_read_lock()
        desc = core.descs[shared["virq"]]
        shared["looked_up"] = True
        while "freed" not in shared:
            await sim.point("wait free")
        await sim.access(desc, "r", "late_use")
        sim.rcu_read_unlock()

    async def body(core: IrqCore) -> None:
        shared["virq"] = await _one_irq(core, [])
        while "looked_up" not in shared:
            await sim.point("wait lookup")
        await irq_domain_free_irqs(shared["virq"], 1)
        shared["freed"] = True

    eng.spawn(0, body, core)
    eng.spawn(1, user)
    assert eng.run().outcome == "ok"
    late = [e for e in rec.of("sim_access") if e["label"] == "late_use"]
    assert [e["live"] for e in late] == ([False] if mode == "immediate" else [True])
