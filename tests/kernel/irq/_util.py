"""Helpers for the irq core tests: run model code on a pure-software engine with an IrqCore."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from irqlab import sim
from irqlab.kernel.irq import (
    IrqChip,
    IrqCore,
    IrqData,
    IrqDomain,
    IrqDomainOps,
    irq_domain_alloc_irqs_parent,
    irq_domain_set_hwirq_and_chip,
)


class LogChip(IrqChip):
    """A chip that records every call as ``"<name>.<op>:<hwirq>"``."""

    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__(name)
        self.log = log

    async def irq_mask(self, data: IrqData) -> None:
        self.log.append(f"{self.name}.mask:{data.hwirq}")

    async def irq_unmask(self, data: IrqData) -> None:
        self.log.append(f"{self.name}.unmask:{data.hwirq}")

    async def irq_ack(self, data: IrqData) -> None:
        self.log.append(f"{self.name}.ack:{data.hwirq}")

    async def irq_eoi(self, data: IrqData) -> None:
        self.log.append(f"{self.name}.eoi:{data.hwirq}")

    async def irq_set_affinity(self, data: IrqData, cpumask: tuple[int, ...],
                               force: bool) -> int:
        self.log.append(f"{self.name}.affinity:{data.hwirq}:{cpumask}")
        data.effective_affinity = (cpumask[0],)
        return 0


class LevelOps(IrqDomainOps):
    """A domain level: hwirq = base + i; optionally fails; records alloc/free/(de)activate."""

    def __init__(self, log: list[str], chip: IrqChip, *, base: int = 0,
                 fail_alloc: int = 0, fail_activate: int = 0) -> None:
        self.log = log
        self.chip = chip
        self.base = base
        self.fail_alloc = fail_alloc
        self.fail_activate = fail_activate
        self.next = base

    async def alloc(self, domain: IrqDomain, virq: int, nr_irqs: int, arg: Any) -> int:
        self.log.append(f"{domain.name}.alloc:{virq}+{nr_irqs}")
        if domain.parent is not None:
            ret = await irq_domain_alloc_irqs_parent(domain, virq, nr_irqs, arg)
            if ret < 0:
                return ret
        if self.fail_alloc:
            return self.fail_alloc
        for i in range(nr_irqs):
            irq_domain_set_hwirq_and_chip(domain, virq + i, self.next, self.chip, None)
            self.next += 1
        return 0

    async def free(self, domain: IrqDomain, virq: int, nr_irqs: int) -> None:
        self.log.append(f"{domain.name}.free:{virq}+{nr_irqs}")
        await super().free(domain, virq, nr_irqs)

    async def activate(self, domain: IrqDomain, data: IrqData, reserve: bool) -> int:
        self.log.append(f"{domain.name}.activate:{data.irq}")
        return self.fail_activate

    async def deactivate(self, domain: IrqDomain, data: IrqData) -> None:
        self.log.append(f"{domain.name}.deactivate:{data.irq}")


def run(body: Callable[..., Coroutine[Any, Any, Any]], *, cpus: int = 2,
        strategy: sim.Strategy | None = None, options: dict[str, Any] | None = None,
        extra: Callable[[sim.Engine, IrqCore], None] | None = None
        ) -> tuple[sim.RunResult, IrqCore]:
    """Run ``await body(core)`` as a task on CPU 0 of a fresh engine; assert it ended ok."""
    eng = sim.Engine(cpus=cpus, strategy=strategy)
    core = IrqCore(eng, options=options)
    eng.spawn(0, body, core)
    if extra is not None:
        extra(eng, core)
    res = eng.run()
    assert res.outcome == "ok", res.traceback
    return res, core
