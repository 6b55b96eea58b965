"""Completions, refcounts, atomics, per-CPU variables."""

from __future__ import annotations

import pytest

from irqlab import sim
from irqlab.errors import InvalidArgumentType
from irqlab.sim.objects import REFCOUNT_SATURATED


def test_completion_wakes_waiter_and_counts() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    c = sim.Completion("probe_done")
    log: list[str] = []

    async def waiter() -> None:
        await c.wait_for_completion()
        log.append("woken 1")
        await c.wait_for_completion()
        log.append("woken 2")

    async def completer() -> None:
        for _ in range(3):
            await sim.point()
        log.append("complete")
        c.complete()
        await sim.point()
        log.append("complete again")
        c.complete()

    eng.spawn(0, waiter)
    eng.spawn(1, completer)
    assert eng.run().ok
    assert log.index("complete") < log.index("woken 1")
    assert log.index("complete again") < log.index("woken 2")
    assert not c.completion_done()


def test_complete_all_and_reinit() -> None:
    eng = sim.Engine(cpus=3)
    c = sim.Completion("all")
    n = []

    async def waiter() -> None:
        await c.wait_for_completion()
        n.append(1)

    async def completer() -> None:
        c.complete_all()

    eng.spawn(0, waiter)
    eng.spawn(1, waiter)
    eng.spawn(2, completer)
    assert eng.run().ok and n == [1, 1]
    assert c.completion_done()
    c.reinit()   # outside a run (building a model): no event
    assert not c.completion_done()


def test_reinit_in_a_run_is_an_event() -> None:
    eng = sim.Engine(cpus=1)
    c = sim.Completion("io_done")
    rec = eng.events.record()

    async def t() -> None:
        c.complete()
        c.reinit()
        await sim.point()

    eng.spawn(0, t)
    assert eng.run().ok and not c.completion_done()
    evs = [(e.kind, e.args) for e in rec if e.kind.startswith("sim_complet")]
    assert evs == [("sim_complete", {"tid": 0, "completion": "io_done", "all": False}),
                   ("sim_completion_reinit", {"tid": 0, "completion": "io_done"})]


def test_wait_without_complete_deadlocks() -> None:
    eng = sim.Engine(cpus=1)
    c = sim.Completion("never")

    async def w() -> None:
        await c.wait_for_completion()

    eng.spawn(0, w)
    res = eng.run()
    assert res.outcome == "deadlock"
    assert res.deadlock is not None
    assert res.deadlock.cpus[0][0].waiting_for == "wait_for_completion(never)"


def test_refcount_operations_and_warnings() -> None:
    eng = sim.Engine(cpus=1)
    r = sim.Refcount(1, name="irq->refcount")
    out: list[object] = []

    async def f() -> None:
        await r.inc()
        out.append(r.read())
        out.append(await r.dec_and_test())
        out.append(await r.inc_not_zero())
        out.append(await r.dec_and_test())
        out.append(await r.dec_and_test())
        out.append(await r.inc_not_zero())
        await r.inc()                    # addition on 0: warns, saturates
        out.append(r.read())

    eng.spawn(0, f)
    rec = eng.events.record()
    assert eng.run().ok
    assert out == [2, False, True, False, True, False, REFCOUNT_SATURATED]
    warn, = rec.of("sim_refcount_warn")
    assert warn["what"] == "addition on 0; use-after-free"


def test_refcount_underflow_warns() -> None:
    eng = sim.Engine(cpus=1)
    r = sim.Refcount(0)

    async def f() -> None:
        assert await r.dec_and_test() is False

    eng.spawn(0, f)
    rec = eng.events.record()
    assert eng.run().ok
    assert rec.of("sim_refcount_warn")[0]["what"] == "underflow; use-after-free"
    with pytest.raises(InvalidArgumentType):
        sim.Refcount(-1)


def test_refcount_dec_and_lock() -> None:
    eng = sim.Engine(cpus=1)
    r = sim.Refcount(2)
    lock = sim.SpinLock("lpi_xa")
    out: list[object] = []

    async def f() -> None:
        out.append(await r.dec_and_lock(lock))      # 2 -> 1, no lock
        out.append(lock.is_locked())
        out.append(await r.dec_and_lock(lock))      # 1 -> 0 under the lock
        out.append(lock.is_locked())
        lock.unlock()
        r2 = sim.Refcount(1)
        got, flags = await r2.dec_and_lock_irqsave(lock)
        out.append((got, flags, sim.irqs_disabled()))
        lock.unlock_irqrestore(flags)
        out.append(sim.irqs_disabled())

    eng.spawn(0, f)
    assert eng.run().ok
    assert out == [False, False, True, True, (True, True, True), False]


def test_refcount_race_is_visible_to_exploration() -> None:
    # get (inc_not_zero) racing with the last put: some schedules see zero
    results = set()
    for seed in range(40):
        eng = sim.Engine(cpus=2, strategy=sim.Random(seed))
        r = sim.Refcount(1)
        got: list[bool] = []

        async def getter(r: sim.Refcount = r, got: list[bool] = got) -> None:
            await sim.point()
            got.append(await r.inc_not_zero())

        async def putter(r: sim.Refcount = r) -> None:
            await r.dec_and_test()

        eng.spawn(0, getter)
        eng.spawn(1, putter)
        assert eng.run().ok
        results.add(got[0])
    assert results == {True, False}


def test_atomic_ops() -> None:
    eng = sim.Engine(cpus=1)
    a = sim.Atomic(5, name="pending")
    out: list[object] = []

    async def f() -> None:
        out.append(await a.read())
        await a.set(7)
        out.append(await a.add(3))
        out.append(await a.xchg(1))
        out.append(await a.cmpxchg(1, 9))
        out.append(await a.cmpxchg(1, 2))
        out.append(a.peek())

    eng.spawn(0, f)
    assert eng.run().ok
    assert out == [5, 10, 10, 1, 9, 9]
    assert a.read().write is False and a.set(1).write is True


def test_percpu() -> None:
    eng = sim.Engine(cpus=2)
    pc: sim.PerCpu[list[int]] = sim.PerCpu(lambda cpu: [cpu])

    async def f() -> None:
        pc.this().append(100 + sim.smp_processor_id())
        await sim.point()

    eng.spawn(0, f)
    eng.spawn(1, f)
    assert eng.run().ok
    assert pc.items() == [(0, [0, 100]), (1, [1, 101])]
    pc[5] = [9]
    assert pc[5] == [9]
    with pytest.raises(InvalidArgumentType):
        pc["x"]  # type: ignore[index]
