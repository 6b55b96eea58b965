"""The field's standard small benchmark: N CPUs each doing K locked increments of one counter.

Each CPU runs ``K`` times: ``spin_lock``; read the shared counter; write it
back plus one; ``spin_unlock``.  The distinct interleavings up to reordering
of independent steps are the distinct lock-acquisition orders, the
multinomial ``(N*K)! / (K!)^N``: 90 for 3x2, 1,680 for 3x3, 2,520 for 4x2.
A partial-order-reducing DFS must explore exactly that many schedules.

Variants: ``locked`` (clean: the counter ends at ``N*K``) and ``racy`` (no
lock: an update can be lost, reported as ``invariant:counter``); a third,
``irq``, increments from the task with interrupts enabled while an interrupt
handler on the same CPU takes the same (non-irqsave) lock -- a deadlock
under some schedule, and the lockdep pattern of seed 001.

Parameters: ``cpus`` (N, 1..64, default 3) and ``iters`` (K, 1..100, default 2).

Not one of the seed scenarios: it is reachable by name (``counter``) from
:func:`irqlab.check.run.resolve_scenario` and the CLI, but ``irqlab list``
and the default check-all show it apart.
"""

from __future__ import annotations

from math import factorial
from typing import Any

from irqlab.check.findings import Finding
from irqlab.errors import check_count
from irqlab.scenarios import Scenario, Variant, World

__all__ = ["MAX_CPUS", "MAX_ITERS", "SCENARIO", "expected_classes"]

#: Bounds of the parameters: at most 64 x 100 increments, about 20,000 engine steps, well
#: inside the engine's default ``max_steps`` (a longer run would end as a livelock: a
#: false finding).
MAX_CPUS = 64
MAX_ITERS = 100


def expected_classes(cpus: int, iters: int) -> int:
    """The number of distinct lock-acquisition orders, ``(cpus*iters)! / (iters!)^cpus``."""
    return factorial(cpus * iters) // factorial(iters) ** cpus


def _setup(world: World) -> None:
    from irqlab import sim

    p = world.params
    n = check_count("cpus", p["cpus"], 1, MAX_CPUS)
    k = check_count("iters", p["iters"], 1, MAX_ITERS)
    eng = sim.Engine(cpus=n, strategy=world.state["strategy"],
                     fingerprint=world.state["fingerprint"])
    lock = sim.SpinLock("counter_lock")
    counter = sim.Atomic(0, name="counter")
    variant = world.variant

    async def inc_locked() -> None:
        for _ in range(k):
            await lock.lock()
            v = await counter.read()
            await counter.set(v + 1)
            lock.unlock()

    async def inc_racy() -> None:
        for _ in range(k):
            v = await counter.read()
            await counter.set(v + 1)

    async def inc_irq() -> None:
        if sim.smp_processor_id() == 0:
            eng.raise_irq(0, 1)  # pending from the start: taken at any step with irqs on
        await inc_locked()

    async def handler(cpu: Any) -> None:
        await lock.lock()
        v = await counter.read()
        await counter.set(v + 1)
        lock.unlock()

    body = {"locked": inc_locked, "racy": inc_racy, "irq": inc_irq}[variant]
    if variant == "irq":
        eng.set_irq_handler(handler)
    for cpu in range(n):
        eng.spawn(cpu, body, name=f"inc/{cpu}")
    world.engine = eng
    world.state["counter"] = counter
    world.state["want"] = n * k + (1 if variant == "irq" else 0)

    def total(w: World, result: Any) -> Finding | None:
        if not result.ok:
            return None
        got, want = w.state["counter"].peek(), w.state["want"]
        if got != want:
            return Finding("invariant:counter", f"counter is {got}, expected {want}",
                           data={"got": got, "want": want})
        return None

    world.invariants.append(total)
    world.describe = lambda w, r: (f"counter = {w.state['counter'].peek()} "
                                   f"(expected {w.state['want']})")


SCENARIO = Scenario(
    name="counter",
    seed="bench",
    title="N CPUs x K lock-protected increments of one counter (exploration benchmark)",
    variants=(
        Variant("locked", "spin_lock around read-modify-write: clean"),
        Variant("racy", "no lock: a lost update", expect="invariant:counter"),
        Variant("irq", "the same non-irqsave lock also taken by an irq handler on CPU0",
                expect="lockdep:inconsistent-lock-state"),
    ),
    setup=_setup,
    params={"cpus": 3, "iters": 2},
)
