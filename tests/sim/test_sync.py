"""Spinlocks, mutexes, interrupt state, deadlock detection, multiple tasks per CPU."""

from __future__ import annotations

import pytest

from irqlab import sim


def _exclusion_overlaps(seed: int) -> list[tuple[int, ...]]:
    eng = sim.Engine(cpus=3, strategy=sim.Random(seed))
    lock = sim.SpinLock("lock")
    inside: list[int] = []
    overlaps: list[tuple[int, ...]] = []

    async def worker(me: int) -> None:
        for _ in range(3):
            await lock.lock()
            inside.append(me)
            if len(inside) > 1:
                overlaps.append(tuple(inside))
            await sim.point("critical")
            inside.remove(me)
            lock.unlock()
            await sim.point("outside")

    for cpu in range(3):
        eng.spawn(cpu, worker, cpu)
    assert eng.run().ok
    return overlaps


@pytest.mark.parametrize("seed", range(30))
def test_lock_excludes_other_cpus_under_every_seed(seed: int) -> None:
    assert _exclusion_overlaps(seed) == []


def test_contended_acquirer_is_not_enabled_and_event_fields() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    lock = sim.SpinLock("desc->lock")
    order: list[str] = []

    async def holder() -> None:
        await lock.lock()
        order.append("0 in")
        for _ in range(3):
            await sim.point("hold")
        order.append("0 out")
        lock.unlock()

    async def waiter() -> None:
        await sim.point()
        await lock.lock()
        order.append("1 in")
        lock.unlock()

    eng.spawn(0, holder)
    eng.spawn(1, waiter)
    rec = eng.events.record()
    assert eng.run().ok
    assert order == ["0 in", "0 out", "1 in"]
    acq = rec.of("sim_lock_acquire")
    assert [(e.cpu, e["lock"], e["mode"], e["irqs_disabled"], e["in_irq"]) for e in acq] == [
        (0, "desc->lock", "", False, False), (1, "desc->lock", "", False, False)]
    assert acq[0]["class"] == acq[1]["class"]
    assert [e.cpu for e in rec.of("sim_lock_release")] == [0, 1]


def test_lock_class_by_site_and_by_key() -> None:
    a = sim.SpinLock("a")
    b = sim.SpinLock("b")
    c = sim.SpinLock("c", key="irq_desc_lock_class")
    locks = [sim.SpinLock(f"l{i}") for i in range(2)]
    assert a.cls != b.cls and a.cls.startswith("test_sync.py:")
    assert c.cls == "irq_desc_lock_class"
    assert locks[0].cls == locks[1].cls
    assert sim.Mutex("m", key="k").cls == "k"
    assert sim.SpinLock("r", raw=True).type_name == "raw_spin"


def test_irqsave_restore_and_irq_variants() -> None:
    eng = sim.Engine(cpus=1)
    lock = sim.SpinLock("lock")
    seen: list[tuple[str, bool]] = []

    async def f() -> None:
        seen.append(("start", sim.irqs_disabled()))
        flags = await lock.lock_irqsave()
        seen.append(("irqsave", sim.irqs_disabled()))
        lock.unlock_irqrestore(flags)
        seen.append(("restore", sim.irqs_disabled()))
        sim.local_irq_disable()
        flags = await lock.lock_irqsave()
        assert flags is False
        lock.unlock_irqrestore(flags)
        seen.append(("nested restore keeps off", sim.irqs_disabled()))
        # the seed-001 hazard: spin_unlock_irq inside an irq-disabled section
        await lock.lock_irq()
        lock.unlock_irq()
        seen.append(("unlock_irq enables", sim.irqs_disabled()))

    eng.spawn(0, f)
    rec = eng.events.record()
    assert eng.run().ok
    assert seen == [("start", False), ("irqsave", True), ("restore", False),
                    ("nested restore keeps off", True), ("unlock_irq enables", False)]
    en = rec.of("sim_irq_enable", "sim_irq_disable")
    assert [(e.kind, e["via"]) for e in en] == [
        ("sim_irq_disable", "spin_lock_irqsave"),
        ("sim_irq_enable", "spin_unlock_irqrestore"),
        ("sim_irq_disable", "local_irq_disable"),
        ("sim_irq_enable", "spin_unlock_irq")]


def test_local_irq_save_restore_and_context_queries() -> None:
    eng = sim.Engine(cpus=2)
    out: list[object] = []

    async def f() -> None:
        out.append((sim.smp_processor_id(), sim.in_task(), sim.in_irq()))
        flags = sim.local_irq_save()
        out.append((flags, sim.irqs_disabled()))
        sim.local_irq_restore(flags)
        sim.local_irq_enable()
        out.append(sim.irqs_disabled())
        out.append(sim.current().name)

    eng.spawn(1, f, name="probe")
    assert eng.run().ok
    assert out == [(1, True, False), (True, True), False, "probe"]


def test_unlock_by_non_owner_is_a_model_error() -> None:
    eng = sim.Engine(cpus=2)
    lock = sim.SpinLock("lock")

    async def a() -> None:
        await lock.lock()
        await sim.point()

    async def b() -> None:
        await sim.point()
        lock.unlock()

    eng.spawn(0, a)
    eng.spawn(1, b, name="thief")
    res = eng.run()
    assert res.outcome == "error"
    assert str(res.error) == "unlock(lock) by thief, but the lock is held by a"


def test_trylock() -> None:
    eng = sim.Engine(cpus=2)
    lock = sim.SpinLock("lock")
    got: list[bool] = []

    async def a() -> None:
        await lock.lock()
        await sim.point()
        await sim.point()
        lock.unlock()

    async def b() -> None:
        got.append(await lock.trylock())
        await sim.point()
        await sim.point()
        got.append(await lock.trylock())
        lock.unlock()

    eng.spawn(0, a)
    eng.spawn(1, b)
    assert eng.run().ok
    assert got == [False, True]


def _abba(strategy: sim.Strategy) -> sim.RunResult:
    eng = sim.Engine(cpus=2, strategy=strategy, fingerprint="abba")
    a, b = sim.SpinLock("A"), sim.SpinLock("B")

    async def t(first: sim.SpinLock, second: sim.SpinLock) -> None:
        await first.lock()
        await second.lock()
        second.unlock()
        first.unlock()

    eng.spawn(0, t, a, b, name="t0")
    eng.spawn(1, t, b, a, name="t1")
    return eng.run()


def test_abba_deadlock_detected_with_stacks_of_waits() -> None:
    # round robin: t0 takes A, t1 takes B, then both wait
    res = _abba(sim.RoundRobin())
    assert res.outcome == "deadlock"
    dl = res.deadlock
    assert dl is not None
    w0, = dl.cpus[0]
    w1, = dl.cpus[1]
    assert (w0.name, w0.waiting_for, w0.holder, w0.held) == (
        "t0", "spin_lock(B)", "t1 (tid 1, cpu1)", ("A",))
    assert (w1.name, w1.waiting_for, w1.holder, w1.held) == (
        "t1", "spin_lock(A)", "t0 (tid 0, cpu0)", ("B",))
    assert [w.name for w in dl.cycle()] == ["t0", "t1"]
    assert any("test_sync.py" in f for f in w0.stack)
    text = str(dl)
    assert "CPU0:" in text and "cycle: t0 -> t1 -> t0" in text


def test_abba_some_random_schedules_deadlock_others_do_not() -> None:
    outcomes = {_abba(sim.Random(s)).outcome for s in range(40)}
    assert outcomes == {"ok", "deadlock"}


def test_irq_self_deadlock_on_same_cpu() -> None:
    # spin_lock() without irqsave in task context, the same lock in the handler
    eng = sim.Engine(cpus=1, strategy=sim.RoundRobin())
    lock = sim.SpinLock("xa_lock")

    async def handler(cpu: sim.CpuCtx) -> None:
        await lock.lock()
        lock.unlock()

    async def task() -> None:
        await lock.lock()
        eng.raise_irq(0, 27)
        await sim.point("inside")
        lock.unlock()

    eng.set_irq_handler(handler)
    eng.spawn(0, task)
    res = eng.run()
    assert res.outcome == "deadlock"
    assert res.deadlock is not None
    ws = res.deadlock.cpus[0]
    assert [w.kind for w in ws] == ["task", "irq"]
    assert ws[1].holder_tid == ws[0].tid
    assert ws[0].holder_tid == ws[1].tid
    assert ws[0].waiting_for == "irq/0 to return (then point inside)"
    assert ws[1].waiting_for == "spin_lock(xa_lock)"
    assert [w.name for w in res.deadlock.cycle()] == ["task", "irq/0"]


def test_mutex_sleeps_and_lets_another_task_run_on_the_cpu() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    m = sim.Mutex("m")
    log: list[str] = []

    async def owner() -> None:
        await m.lock()
        for _ in range(4):
            await sim.point()
        log.append("owner unlock")
        m.unlock()

    async def sleeper() -> None:
        await sim.point()
        await m.lock()
        log.append("sleeper got it")
        m.unlock()

    async def other() -> None:
        for _ in range(2):
            await sim.point()
        log.append("other ran")

    eng.spawn(0, owner)
    eng.spawn(1, sleeper)
    eng.spawn(1, other)
    assert eng.run().ok
    assert log.index("other ran") < log.index("owner unlock") < log.index("sleeper got it")


def test_spinning_task_keeps_its_cpu() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    lock = sim.SpinLock("l")
    log: list[str] = []

    async def owner() -> None:
        await lock.lock()
        for _ in range(4):
            await sim.point()
        log.append("owner unlock")
        lock.unlock()

    async def spinner() -> None:
        await sim.point()
        await lock.lock()
        lock.unlock()

    async def other() -> None:
        log.append("other ran")

    eng.spawn(0, owner)
    eng.spawn(1, spinner)
    eng.spawn(1, other)
    assert eng.run().ok
    assert log == ["owner unlock", "other ran"]


def test_mutex_has_no_irq_variants_and_nested_subclass() -> None:
    m = sim.Mutex("m")
    with pytest.raises(sim.SimError):
        m.lock_irqsave()
    eng = sim.Engine(cpus=1)
    lock = sim.SpinLock("l")

    async def f() -> None:
        await lock.lock_nested(1)
        lock.unlock()

    eng.spawn(0, f)
    rec = eng.events.record()
    assert eng.run().ok
    assert rec.of("sim_lock_acquire")[0]["subclass"] == 1


def test_sleep_in_atomic_context_is_reported() -> None:
    eng = sim.Engine(cpus=1)
    lock = sim.SpinLock("desc->lock")
    m = sim.Mutex("m")
    c = sim.Completion("done")

    async def f() -> None:
        await lock.lock()
        await m.lock()          # sleeping under a spinlock
        m.unlock()
        lock.unlock()
        sim.local_irq_disable()
        c.complete()
        await c.wait_for_completion()   # sleeping with irqs off
        sim.local_irq_enable()
        sim.rcu_read_lock()
        await m.lock()                  # sleeping in an RCU read section
        m.unlock()
        sim.rcu_read_unlock()

    eng.spawn(0, f)
    rec = eng.events.record()
    assert eng.run().ok
    ev = rec.of("sim_atomic_sleep")
    assert [(e["op"], e["reason"]) for e in ev] == [
        ("mutex_lock(m)", "spinlock held: desc->lock"),
        ("wait_for_completion(done)", "interrupts disabled"),
        ("mutex_lock(m)", "inside rcu_read_lock()")]
    assert "f@test_sync.py:" in ev[0]["stack"]


def test_lock_contended_event() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    lock = sim.SpinLock("L")

    async def a() -> None:
        await lock.lock()
        await sim.point()
        await sim.point()
        lock.unlock()

    async def b() -> None:
        await sim.point()
        await lock.lock()
        lock.unlock()

    eng.spawn(0, a, name="a")
    eng.spawn(1, b, name="b")
    rec = eng.events.record()
    assert eng.run().ok
    ev, = rec.of("sim_lock_contended")
    assert (ev.cpu, ev["lock"], ev["holder"], ev["holder_cpu"]) == (1, "L", 0, 0)


def test_might_sleep_and_in_atomic() -> None:
    eng = sim.Engine(cpus=1)
    lock = sim.SpinLock("l")
    out: list[bool] = []

    async def f() -> None:
        out.append(sim.in_atomic())
        sim.might_sleep()
        await lock.lock()
        out.append(sim.in_atomic())
        sim.might_sleep("kmalloc(GFP_KERNEL)")
        lock.unlock()

    eng.spawn(0, f)
    rec = eng.events.record()
    assert eng.run().ok
    assert out == [False, True]
    ev, = rec.of("sim_atomic_sleep")
    assert (ev["op"], ev["reason"]) == ("kmalloc(GFP_KERNEL)", "spinlock held: l")


def test_ready_task_behind_a_spinning_task_is_reported() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    lock = sim.SpinLock("L")
    done = sim.Completion("done")

    async def c_task() -> None:          # cpu1: holds L, waits for B
        await lock.lock()
        await done.wait_for_completion()
        lock.unlock()

    async def a_task() -> None:          # cpu0: spins on L, keeps cpu0
        await sim.point()
        await lock.lock()
        lock.unlock()

    async def b_task() -> None:          # cpu0: would complete, never gets the CPU
        done.complete()

    eng.spawn(1, c_task, name="C")
    eng.spawn(0, a_task, name="A")
    eng.spawn(0, b_task, name="B")
    res = eng.run()
    assert res.outcome == "deadlock"
    assert res.deadlock is not None
    got = {w.name: (w.waiting_for, w.holder_tid) for w in res.deadlock.waits()}
    assert got == {"A": ("spin_lock(L)", 0), "B": ("cpu0, which A keeps (then start)", 1),
                   "C": ("wait_for_completion(done)", None)}
