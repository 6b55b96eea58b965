"""DPOR loses no behaviour: on the seed scenarios (small parameters), DFS with source-DPOR and
sleep sets reaches exactly the outcomes that DFS without reduction reaches.

An outcome is what a user can observe of a run: the engine outcome, the findings (kind and
sites) and the world's summary (allocator state, vector histogram, counter value, ...). A
footprint that misses a dependence (a shared object the engine does not see) shows up here as
an outcome only the full search reaches.
"""

from __future__ import annotations

from typing import Any

import pytest

from irqlab.check.dfs import outcomes
from irqlab.check.run import Target
from irqlab.errors import InvalidArgumentValue

CASES = [
    # scenario, variant, params, (DPOR schedules, full schedules, distinct outcomes)
    ("counter", "racy", {"cpus": 2, "iters": 2}, (34, 252, 3)),
    ("counter", "irq", {"cpus": 2, "iters": 1}, (10, 84, 5)),
    ("vgic-lpi-refcount", "dec-then-lock", {}, (22, 2124, 2)),
    ("vmd-teardown", "immediate-free", {}, (22, 2884, 4)),
    ("vmd-balance", "modulo", {"cpu0": "N", "cpu1": "Sx", "vectors": 2}, (10, 2829, 3)),
    # the GICv3/ITS machine: kexec'd boot, hotplug sequences chosen by the explorer
    ("its-memreserve", "merged", {"sequence": "?2"}, (9, 13, 9)),
    ("its-memreserve", "one-flag", {"sequence": "?2", "kexec": 0}, (9, 13, 9)),
]


@pytest.mark.parametrize(("scenario", "variant", "params", "sizes"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_dpor_reaches_every_outcome_of_the_full_search(
        scenario: str, variant: str, params: dict[str, Any], sizes: tuple[int, int, int]
) -> None:
    t = Target(scenario, variant, params)
    reduced, n_reduced, done = outcomes(t)
    full, n_full, done_full = outcomes(t, reduction=False)
    assert done and done_full
    missing = {k: s for k, s in full.items() if k not in reduced}
    assert not missing, f"outcomes only the full search reaches: {missing}"
    assert set(reduced) == set(full)
    assert (n_reduced, n_full, len(full)) == sizes


def test_outcomes_budget_and_arguments() -> None:
    t = Target("counter", "racy", {"cpus": 2, "iters": 2})
    seen, n, done = outcomes(t, reduction=False, budget=5)
    assert n == 5 and not done and 1 <= len(seen) <= 5
    assert all(s.startswith("v1.") for s in seen.values())
    with pytest.raises(InvalidArgumentValue, match=r"^budget must be in"):
        outcomes(t, budget=0)


def test_outcomes_of_a_factory() -> None:
    from irqlab import sim

    def two_writers(strategy: sim.Strategy) -> sim.Engine:
        eng = sim.Engine(cpus=2, strategy=strategy)
        x = sim.Atomic(0, name="x")

        async def write(v: int) -> None:
            await x.set(v)

        eng.spawn(0, write, 1)
        eng.spawn(1, write, 2)
        return eng

    seen, n, done = outcomes(two_writers)
    assert done and n == 2 and len(seen) == 1  # (the engine outcome alone: "ok")


def _world(eng: Any, describe: Any) -> Any:
    from irqlab.scenarios import World

    return World(scenario=None, variant="", params={}, engine=eng,  # type: ignore[arg-type]
                 describe=describe)


def _sleeper(st: Any) -> Any:
    # the virtual clock: the sleeper may wake before or after the other CPU's increment
    from irqlab import sim

    eng = sim.Engine(cpus=2, strategy=st)
    lk, x = sim.SpinLock("L"), sim.Atomic(0, name="x")

    async def inc() -> None:
        await lk.lock()
        v = await x.read()
        await x.set(v + 1)
        lk.unlock()

    async def later() -> None:
        await eng.sleep(1)
        await x.set(1)

    eng.spawn(0, inc)
    eng.spawn(1, later)
    return _world(eng, lambda w, r: f"x={x.peek()}")


def _work_twice(st: Any) -> Any:
    # one work item queued from two CPUs: the second queue_work sees it pending or not
    from irqlab import sim

    eng = sim.Engine(cpus=2, strategy=st)
    runs = sim.Atomic(0, name="runs")
    queued: dict[int, bool] = {}

    async def fn() -> None:
        await runs.add(1)

    w = sim.Work(fn, name="w")

    async def t(cpu: int) -> None:
        queued[cpu] = sim.queue_work(cpu, w)
        await sim.point()

    eng.spawn(0, t, 0)
    eng.spawn(1, t, 1)
    return _world(eng, lambda w_, r: f"queued={sorted(queued.items())} runs={runs.peek()}")


def _ipi_and_irq(st: Any) -> Any:
    # an IPI (run_on another CPU) and a device interrupt queued on one CPU, either order
    from irqlab import sim

    eng = sim.Engine(cpus=2, strategy=st)
    x = sim.Atomic(0, name="x")
    seen: list[int] = []

    async def remote() -> None:
        await x.add(100)

    async def handler(cpu: Any) -> None:
        seen.append(await x.read())

    async def caller() -> None:
        await eng.run_on(1, remote)

    async def raiser() -> None:
        eng.raise_irq(1, 1)
        await sim.point()

    eng.set_irq_handler(handler)
    eng.spawn(0, caller)
    eng.spawn(1, raiser)
    return _world(eng, lambda w, r: f"seen={seen}")


def _plain_reads(st: Any) -> Any:
    # plain reads of primitives: completion_done(), refcount_read(), spin_is_locked()
    from irqlab import sim

    eng = sim.Engine(cpus=2, strategy=st)
    c = sim.Completion("c")
    ref = sim.Refcount(1, name="ref")
    seen: list[Any] = []

    lk = sim.SpinLock("L")

    async def a() -> None:
        c.complete()
        await ref.inc()
        await lk.lock()
        await sim.point()
        lk.unlock()

    async def b() -> None:
        await sim.point()
        seen.append((c.completion_done(), ref.read(), lk.is_locked()))

    eng.spawn(0, a)
    eng.spawn(1, b)
    return _world(eng, lambda w, r: f"seen={seen}")


@pytest.mark.parametrize("factory", [_sleeper, _work_twice, _ipi_and_irq, _plain_reads])
def test_engine_primitives_declare_what_they_share(factory: Any) -> None:
    # each of these used to hide a dependence from DPOR (a step the reduced search
    # called independent changed what another context saw): outcomes went missing
    reduced, _, done = outcomes(factory)
    full, _, done_full = outcomes(factory, reduction=False)
    assert done and done_full
    assert set(reduced) == set(full) and len(full) >= 2
