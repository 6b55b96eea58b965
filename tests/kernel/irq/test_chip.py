"""Flow handlers: fasteoi EOIs once, edge acks first, level masks while running, chained."""

from __future__ import annotations

from typing import Any

import pytest

from irqlab import sim
from irqlab.kernel.irq import (
    IRQ_HANDLED,
    IRQ_NONE,
    IrqChip,
    IrqCore,
    IrqDomain,
    IrqDomainOps,
    chained_irq_enter,
    chained_irq_exit,
    disable_irq,
    enable_irq,
    generic_handle_irq,
    handle_edge_irq,
    handle_fasteoi_irq,
    handle_level_irq,
    handle_simple_irq,
    irq_domain_alloc_irqs,
    irq_set_chained_handler_and_data,
    irq_set_handler,
    request_irq,
)

from ._util import LevelOps, LogChip


def _scenario(flow: Any, *, fire: int = 1, disable_first: bool = False,
              ret: int = IRQ_HANDLED) -> tuple[list[str], IrqCore]:
    """Allocate one IRQ on a LogChip, request it, fire it ``fire`` times on CPU 0."""
    log: list[str] = []
    eng = sim.Engine(cpus=1)
    core = IrqCore(eng)

    async def handler(irq: int, dev: Any) -> int:
        log.append(f"handler:{irq}:{dev}:masked={bool(core.descs[irq].state & (1 << 17))}")
        return ret

    async def arch_irq(cc: sim.CpuCtx) -> None:
        await generic_handle_irq(cc.irq_intid)

    async def body(core: IrqCore) -> None:
        dom = IrqDomain(core, "dom", LevelOps(log, LogChip("chip", log), base=40))
        virq = await irq_domain_alloc_irqs(dom, 1)
        irq_set_handler(virq, flow)
        assert await request_irq(virq, handler, 0, "dev", "cookie") == 0
        if disable_first:
            await disable_irq(virq)
        log.clear()
        sim.local_irq_disable()
        for _ in range(fire):
            eng.raise_irq(0, virq)
        sim.local_irq_enable()
        await sim.point("irqs taken here")
        if disable_first:
            log.append("enable")
            await enable_irq(virq)

    eng.set_irq_handler(arch_irq)
    eng.spawn(0, body, core)
    assert eng.run().outcome == "ok"
    return log, core


def test_fasteoi_runs_handler_then_eoi_once() -> None:
    log, core = _scenario(handle_fasteoi_irq)
    assert log == ["handler:1:cookie:masked=False", "chip.eoi:40"]
    assert core.descs[1].kstat_irqs == [1]


def test_fasteoi_disabled_masks_marks_pending_and_eois() -> None:
    log, core = _scenario(handle_fasteoi_irq, disable_first=True)
    # lazy disable: the first interrupt masks it; enable_irq unmasks (no retrigger support)
    assert log == ["chip.mask:40", "chip.eoi:40", "enable", "chip.unmask:40"]
    assert core.descs[1].kstat_irqs == [0]


def test_edge_acks_before_handler() -> None:
    log, core = _scenario(handle_edge_irq, fire=2)
    assert log == ["chip.ack:40", "handler:1:cookie:masked=False"] * 2
    assert core.descs[1].kstat_irqs == [2]


def test_level_masks_while_handler_runs() -> None:
    log, _ = _scenario(handle_level_irq)
    assert log == ["chip.mask:40", "chip.ack:40", "handler:1:cookie:masked=True",
                   "chip.unmask:40"]


def test_simple_no_chip_calls_and_unhandled_is_an_event() -> None:
    log, _ = _scenario(handle_simple_irq, ret=IRQ_NONE)
    assert log == ["handler:1:cookie:masked=False"]


def test_unrequested_irq_masked_and_eoied() -> None:
    log: list[str] = []
    eng = sim.Engine(cpus=1)
    core = IrqCore(eng)

    async def arch_irq(cc: sim.CpuCtx) -> None:
        assert await generic_handle_irq(cc.irq_intid) == 0
        assert await generic_handle_irq(999) == -22

    async def body(core: IrqCore) -> None:
        dom = IrqDomain(core, "dom", LevelOps(log, LogChip("chip", log), base=7))
        virq = await irq_domain_alloc_irqs(dom, 1)
        irq_set_handler(virq, handle_fasteoi_irq)
        log.clear()
        eng.raise_irq(0, virq)
        await sim.point()

    eng.set_irq_handler(arch_irq)
    eng.spawn(0, body, core)
    assert eng.run().outcome == "ok"
    # a fresh descriptor is disabled and masked already: no chip mask, just the EOI
    assert log == ["chip.eoi:7"]
    assert core.descs[1].istate & 0x200  # IRQS_PENDING


class _EoiChip(LogChip):
    pass


class _MaskOnlyChip(IrqChip):
    def __init__(self, log: list[str]) -> None:
        super().__init__("maskonly")
        self.log = log

    async def irq_mask(self, data: Any) -> None:
        self.log.append("parent.mask")

    async def irq_unmask(self, data: Any) -> None:
        self.log.append("parent.unmask")


class _Ops(IrqDomainOps):
    def __init__(self, chip: IrqChip) -> None:
        self.chip = chip

    async def alloc(self, domain: IrqDomain, virq: int, nr: int, arg: Any) -> int:
        from irqlab.kernel.irq import irq_domain_set_hwirq_and_chip

        for i in range(nr):
            irq_domain_set_hwirq_and_chip(domain, virq + i, 100 + i, self.chip, None)
        return 0


@pytest.mark.parametrize("parent_chip_kind", ["eoi", "mask"])
def test_chained_handler_demultiplexes_children(parent_chip_kind: str) -> None:
    log: list[str] = []
    eng = sim.Engine(cpus=1)
    core = IrqCore(eng)
    pchip: IrqChip = (LogChip("parent", log) if parent_chip_kind == "eoi"
                      else _MaskOnlyChip(log))

    async def demux(desc: Any) -> None:
        chip = desc.irq_data.chip
        await chained_irq_enter(chip, desc)
        for child in desc.handler_data:
            await generic_handle_irq(child)
        await chained_irq_exit(chip, desc)

    async def child_handler(irq: int, dev: Any) -> int:
        log.append(f"child{irq}")
        return IRQ_HANDLED

    async def arch_irq(cc: sim.CpuCtx) -> None:
        await generic_handle_irq(cc.irq_intid)

    async def body(core: IrqCore) -> None:
        pdom = IrqDomain(core, "p", _Ops(pchip))
        parent = await irq_domain_alloc_irqs(pdom, 1)
        cdom = IrqDomain(core, "c", _Ops(LogChip("child", log)))
        kids = await irq_domain_alloc_irqs(cdom, 2)
        for k in (kids, kids + 1):
            irq_set_handler(k, handle_simple_irq)
            assert await request_irq(k, child_handler, 0, "kid", None) == 0
        await irq_set_chained_handler_and_data(parent, demux, [kids, kids + 1])
        assert await request_irq(parent, child_handler, 0, "x", None) == -22  # NOREQUEST
        log.clear()
        eng.raise_irq(0, parent)
        await sim.point()

    eng.set_irq_handler(arch_irq)
    eng.spawn(0, body, core)
    assert eng.run().outcome == "ok"
    if parent_chip_kind == "eoi":
        assert log == ["child2", "child3", "parent.eoi:100"]
    else:
        assert log == ["parent.mask", "child2", "child3", "parent.unmask"]


def test_untracked_runs_handler_without_counting() -> None:
    from irqlab.kernel.irq import handle_untracked_irq

    log, core = _scenario(handle_untracked_irq)
    assert log == ["handler:1:cookie:masked=False"]
    assert core.descs[1].kstat_irqs == [0]


def test_chained_handler_uninstall_masks_and_disables() -> None:
    log: list[str] = []
    eng = sim.Engine(cpus=1)
    core = IrqCore(eng)
    out: list[object] = []

    async def demux(desc: Any) -> None:
        log.append("demux")

    async def body(core: IrqCore) -> None:
        dom = IrqDomain(core, "p", LevelOps(log, LogChip("chip", log), base=5))
        irq = await irq_domain_alloc_irqs(dom, 1)
        await irq_set_chained_handler_and_data(irq, demux, "data")
        await irq_set_chained_handler_and_data(irq, None, None)
        desc = core.descs[irq]
        out.extend([desc.depth, bool(desc.state & (1 << 16)), desc.handle_irq.__name__])

    eng.spawn(0, body, core)
    assert eng.run().outcome == "ok"
    assert log[-5:] == ["p.activate:1", "chip.affinity:5:(0,)", "chip.unmask:5",
                        "chip.mask:5", "chip.ack:5"]
    assert out == [1, True, "handle_bad_irq"]
