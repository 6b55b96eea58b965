"""Descriptor table and the per-engine core: lookup from model code, no engine kept alive."""

from __future__ import annotations

import gc
import weakref

import pytest

from irqlab import sim
from irqlab.kernel.irq import IrqCore
from irqlab.kernel.irq.desc import irq_core
from irqlab.sim import SimError


def test_irq_core_finds_the_running_engines_core() -> None:
    eng = sim.Engine(cpus=1)
    core = IrqCore(eng)
    seen: list[IrqCore] = []

    async def body() -> None:
        seen.append(irq_core())

    eng.spawn(0, body)
    eng.run()
    assert seen == [core]


def test_irq_core_without_a_core_is_a_sim_error() -> None:
    eng = sim.Engine(cpus=1)
    errors: list[str] = []

    async def body() -> None:
        try:
            irq_core()
        except SimError as e:
            errors.append(str(e))

    eng.spawn(0, body)
    eng.run()
    assert errors == ["no IrqCore was created for the running engine"]


@pytest.mark.parametrize("scenario,variant", [("vmd-balance", "modulo"),
                                              ("vmd-teardown", "immediate-free")])
def test_a_finished_world_is_freed(scenario: str, variant: str) -> None:
    # an IrqCore registered in a table keyed by engine kept every run's world alive:
    # explorations grew without bound and slowed down in the collector
    from irqlab.check.run import Target, run_built

    t = Target(scenario, variant)
    refs = []
    for i in range(3):
        w = t.build(sim.Random(i))
        refs.append(weakref.ref(w.engine))
        run_built(w, fast=True)
        del w
    gc.collect()
    assert [r() for r in refs] == [None, None, None]
