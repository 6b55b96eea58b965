"""RCU and SRCU: grace periods wait for pre-existing readers only; deferred callbacks."""

from __future__ import annotations

import pytest

from irqlab import sim
from irqlab.check.audit import audit
from irqlab.check.dfs import outcomes
from irqlab.check.explore import explore


def test_synchronize_rcu_waits_for_preexisting_reader_only() -> None:
    eng = sim.Engine(cpus=3, strategy=sim.RoundRobin())
    log: list[str] = []

    async def old_reader() -> None:
        sim.rcu_read_lock()
        log.append("old reader in")
        for _ in range(6):
            await sim.point("reading")
        log.append("old reader out")
        sim.rcu_read_unlock()

    async def updater() -> None:
        await sim.point()
        await sim.synchronize_rcu()
        log.append("gp done")

    async def new_reader() -> None:
        for _ in range(2):
            await sim.point()
        sim.rcu_read_lock()   # starts after synchronize_rcu(): not waited for
        log.append("new reader in")
        for _ in range(30):
            await sim.point("reading forever-ish")
        sim.rcu_read_unlock()

    eng.spawn(0, old_reader)
    eng.spawn(1, updater)
    eng.spawn(2, new_reader)
    rec = eng.events.record()
    assert eng.run().ok
    assert log.index("old reader out") < log.index("gp done")
    assert log.index("new reader in") < log.index("gp done")
    # the GP ended while the new reader was still inside its section
    gp_end = rec.of("sim_rcu_sync_end")[0].seq
    last_unlock = rec.of("sim_rcu_read_unlock")[-1].seq
    assert gp_end < last_unlock
    assert rec.of("sim_rcu_sync_start")[0]["readers"] == 1


def test_nested_read_sections_and_irq_readers_share_the_cpu_counter() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    log: list[str] = []

    async def handler(cpu: sim.CpuCtx) -> None:
        sim.rcu_read_lock()
        await sim.point("irq reader")
        sim.rcu_read_unlock()

    async def reader() -> None:
        sim.rcu_read_lock()
        sim.rcu_read_lock()
        assert sim.rcu_read_lock_held()
        eng.raise_irq(0)
        await sim.point()
        sim.rcu_read_unlock()
        await sim.point()
        log.append("reader out")
        sim.rcu_read_unlock()

    async def updater() -> None:
        await sim.synchronize_rcu()
        log.append("gp")

    eng.set_irq_handler(handler)
    eng.spawn(0, reader)
    eng.spawn(1, updater)
    assert eng.run().ok
    assert log == ["reader out", "gp"]


def test_rcu_read_unlock_without_lock_is_model_error() -> None:
    eng = sim.Engine(cpus=1)

    async def f() -> None:
        sim.rcu_read_unlock()

    eng.spawn(0, f)
    res = eng.run()
    assert res.outcome == "error" and "outside a read section" in str(res.error)


def test_synchronize_rcu_inside_read_section_is_sleep_in_atomic() -> None:
    # the calling CPU is not waited for: the bug is the sleep in atomic context (Linux:
    # "Illegal synchronize_rcu() in RCU read-side critical section"), not a deadlock
    eng = sim.Engine(cpus=1)

    async def f() -> None:
        sim.rcu_read_lock()
        await sim.synchronize_rcu()
        sim.rcu_read_unlock()

    eng.spawn(0, f)
    rec = eng.events.record()
    res = eng.run()
    assert res.outcome == "ok"
    assert rec.of("sim_rcu_sync_start")[0]["readers"] == 0
    assert rec.of("sim_atomic_sleep")[0]["reason"] == "inside rcu_read_lock()"


def test_call_rcu_runs_after_grace_period_at_a_chosen_time() -> None:
    lateness = set()
    for seed in range(20):
        eng = sim.Engine(cpus=2, strategy=sim.Random(seed))
        log: list[str] = []

        async def reader(log: list[str] = log) -> None:
            sim.rcu_read_lock()
            log.append("reader in")
            await sim.point()
            log.append("reader out")
            sim.rcu_read_unlock()
            for _ in range(3):
                await sim.point()
            log.append("reader end")

        async def updater(log: list[str] = log) -> None:
            await sim.point()
            sim.call_rcu("obj", lambda o, log=log: log.append(f"cb {o}"))
            log.append("queued")

        eng.spawn(0, reader)
        eng.spawn(1, updater)
        assert eng.run().ok
        assert "cb obj" in log
        if log.index("reader in") < log.index("queued") < log.index("reader out"):
            assert log.index("reader out") < log.index("cb obj")
        lateness.add(log.index("cb obj") > log.index("reader end"))
    assert lateness == {True, False}   # the strategy decides how late callbacks run


def test_kfree_rcu_defers_the_free() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())

    async def reader(shared: dict) -> None:
        sim.rcu_read_lock()
        obj = shared["p"]
        for _ in range(3):
            await sim.point()
        await sim.access(obj, "r", "read desc")
        sim.rcu_read_unlock()

    async def freer(shared: dict) -> None:
        await sim.point()
        obj = shared["p"]
        shared["p"] = None
        sim.kfree_rcu(obj)
        await sim.point()

    async def setup() -> None:
        shared = {"p": sim.alloc("irq_desc")}
        eng.spawn(0, reader, shared)
        eng.spawn(1, freer, shared)

    eng.spawn(0, setup)
    rec = eng.events.record()
    assert eng.run().ok
    kinds = [e.kind for e in rec.of("sim_access", "sim_free", "sim_free_rcu")]
    assert kinds == ["sim_free_rcu", "sim_access", "sim_free"]
    acc = rec.of("sim_access")[0]
    assert acc["live"] is True and acc["state"] == "rcu"
    free = rec.of("sim_free")[0]
    assert free["deferred"] is True and free.cpu is None


def test_srcu_waits_for_its_own_readers_only() -> None:
    eng = sim.Engine(cpus=3, strategy=sim.RoundRobin())
    s1, s2 = sim.SrcuStruct("vmd_srcu"), sim.SrcuStruct("other")
    log: list[str] = []

    async def reader(s: sim.SrcuStruct, n: int, tag: str) -> None:
        idx = sim.srcu_read_lock(s)
        for _ in range(n):
            await sim.point()
        log.append(f"{tag} out")
        sim.srcu_read_unlock(s, idx)

    async def syncer() -> None:
        await sim.point()
        await sim.synchronize_srcu(s1)
        log.append("srcu gp")

    eng.spawn(0, reader, s1, 4, "s1")
    eng.spawn(1, syncer)
    eng.spawn(2, reader, s2, 40, "s2")
    assert eng.run().ok
    assert log == ["s1 out", "srcu gp", "s2 out"]


def test_srcu_reader_may_sleep_and_new_readers_not_waited() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    s = sim.SrcuStruct("srcu")
    m = sim.Mutex("m")
    log: list[str] = []

    async def reader() -> None:
        idx = sim.srcu_read_lock(s)
        await m.lock()     # sleeping inside SRCU is fine
        m.unlock()
        await sim.point()
        log.append("reader out")
        sim.srcu_read_unlock(s, idx)
        idx = sim.srcu_read_lock(s)   # a new reader after the GP started
        for _ in range(20):
            await sim.point()
        sim.srcu_read_unlock(s, idx)
        log.append("late reader out")

    async def syncer() -> None:
        await sim.point()
        await sim.synchronize_srcu(s)
        log.append("gp")

    eng.spawn(0, reader)
    eng.spawn(1, syncer)
    rec = eng.events.record()
    assert eng.run().ok
    assert log == ["reader out", "gp", "late reader out"]
    assert rec.of("sim_atomic_sleep") == []


def test_srcu_bad_unlock_is_model_error() -> None:
    eng = sim.Engine(cpus=1)
    s = sim.SrcuStruct("s")

    async def f() -> None:
        sim.srcu_read_unlock(s, 3)

    eng.spawn(0, f)
    res = eng.run()
    assert res.outcome == "error" and "no such reader" in str(res.error)


# -- consolidated RCU (Linux >= 5.0): implicit readers -------------------------------------

def _unpublish_sync_free(reader_mode: str):
    """A factory: CPU 0 publishes an object, unpublishes it, waits in synchronize_rcu()
    and frees it; CPU 1 reads the pointer and uses the object twice as a reader of kind
    ``reader_mode``, without rcu_read_lock()."""

    def factory(strategy: sim.Strategy) -> sim.Engine:
        eng = sim.Engine(cpus=2, strategy=strategy, fingerprint=f"rcu-implicit-{reader_mode}")
        ptr = sim.Atomic(None, name="gp")
        spin = sim.SpinLock("obj_lock", raw=reader_mode == "raw_spinlock")
        mutex = sim.Mutex("obj_mutex")

        async def writer() -> None:
            o = sim.alloc("obj")
            await ptr.set(o)
            await sim.point("published")
            await ptr.set(None)
            await sim.synchronize_rcu()
            sim.kfree(o)

        async def body(label: str) -> None:
            p = await ptr.read()
            if p is not None:
                await sim.access(p, "r", label + " p->x")
                await sim.access(p, "r", label + " p->y")

        async def handler(cpu: sim.CpuCtx) -> None:
            await body("hardirq")

        async def reader() -> None:
            if reader_mode == "hardirq":
                eng.raise_irq(1, 5)
                await sim.point("after raise")
            elif reader_mode == "irqs_off":
                flags = sim.local_irq_save()
                await body("irqs off")
                sim.local_irq_restore(flags)
            elif reader_mode == "irqsave":
                flags = await spin.lock_irqsave()
                await body("spin_lock_irqsave")
                spin.unlock_irqrestore(flags)
            elif reader_mode in ("spinlock", "raw_spinlock"):
                await spin.lock()
                await body(reader_mode)
                spin.unlock()
            else:
                assert reader_mode == "mutex"
                await mutex.lock()
                await body("mutex")
                mutex.unlock()

        eng.set_irq_handler(handler)
        eng.spawn(0, writer)
        eng.spawn(1, reader)
        return eng

    return factory


@pytest.mark.parametrize("mode", ["hardirq", "irqs_off", "irqsave", "spinlock", "raw_spinlock"])
def test_implicit_readers_are_waited_for_by_synchronize_rcu(mode: str) -> None:
    # a hard-irq handler, a region with interrupts off and one with a spinlock held are
    # read-side critical sections: no schedule frees the object under the reader
    r = explore(_unpublish_sync_free(mode), strategy="dfs")
    assert (r.verdict, r.exhausted) == ("clean", True), r.finding
    r = explore(_unpublish_sync_free(mode), strategy="random", budget=200)
    assert r.verdict == "clean"


def test_a_mutex_holder_is_no_reader() -> None:
    # a sleeping lock does not disable preemption: the use after the grace period is found
    r = explore(_unpublish_sync_free("mutex"), strategy="dfs")
    assert r.verdict == "finding" and r.finding is not None
    assert r.finding.kind == "use-after-free"
    assert r.finding.sites["use"].startswith("body@test_rcu.py:")


@pytest.mark.parametrize("mode", ["hardirq", "irqs_off", "irqsave", "spinlock"])
def test_implicit_readers_footprints(mode: str) -> None:
    # the steps that start or end an implicit reader read the RCU state that the grace
    # period's steps write: the audit finds no reordering of "independent" steps that
    # changes the run, and DPOR reaches every outcome of the full search
    t = _unpublish_sync_free(mode)
    assert audit(t).clean
    reduced, _, done = outcomes(t)
    full, _, done_full = outcomes(t, reduction=False)
    assert done and done_full and set(reduced) == set(full)


def test_a_reader_that_was_quiescent_since_is_not_waited_for() -> None:
    # CPU 1 has interrupts off when the grace period starts, turns them on (quiescent),
    # then off again for a long time: the grace period ends during the second region
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    log: list[str] = []

    async def cpu1() -> None:
        sim.local_irq_disable()
        for _ in range(3):
            await sim.point("irqs off, before the grace period")
        log.append("irqs on")
        sim.local_irq_enable()
        await sim.point()
        sim.local_irq_disable()
        for _ in range(30):
            await sim.point("irqs off again")
        log.append("second region ends")
        sim.local_irq_enable()

    async def updater() -> None:
        await sim.synchronize_rcu()
        log.append("gp")

    eng.spawn(1, cpu1)
    eng.spawn(0, updater)
    rec = eng.events.record()
    assert eng.run().ok
    assert log == ["irqs on", "gp", "second region ends"]
    assert rec.of("sim_rcu_sync_start")[0]["readers"] == 1


def test_call_rcu_from_an_irq_handler_waits_for_the_handler() -> None:
    # the caller's CPU is a reader (hard-irq context): its callback runs only after the
    # handler returned, however eagerly the strategy completes grace periods
    class EagerGp(sim.RoundRobin):
        def choose(self, choices, engine):  # type: ignore[no-untyped-def]
            for i, c in enumerate(choices):
                if c.kind == "rcu_gp":
                    return i
            return super().choose(choices, engine)

    eng = sim.Engine(cpus=1, strategy=EagerGp())
    log: list[str] = []

    async def handler(cpu: sim.CpuCtx) -> None:
        sim.call_rcu("obj", lambda o: log.append("callback"))
        await sim.point("handler goes on")
        await sim.point("handler goes on")
        log.append("handler returns")

    async def task() -> None:
        eng.raise_irq(0, 3)
        await sim.point()
        await sim.point()

    eng.set_irq_handler(handler)
    eng.spawn(0, task)
    assert eng.run().ok
    assert log == ["handler returns", "callback"]


def test_offline_cpus_are_no_implicit_readers() -> None:
    # an offline CPU with interrupts off is ignored (RCU ignores offline CPUs)
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    log: list[str] = []

    async def cpu1() -> None:
        sim.local_irq_disable()
        eng.set_cpu_online(1, False)
        await sim.point()

    async def updater() -> None:
        await sim.point()
        await sim.point()
        await sim.synchronize_rcu()
        log.append("gp")

    eng.spawn(1, cpu1)
    eng.spawn(0, updater)
    rec = eng.events.record()
    assert eng.run().ok and log == ["gp"]
    assert rec.of("sim_rcu_sync_start")[0]["readers"] == 0


def test_a_task_that_exits_inside_a_read_section_ends_it() -> None:
    # the exiting task's last schedule() resets the preempt count (exit_rcu() ends the
    # section on a preemptible kernel): the CPU is quiescent again and the callback runs
    # (lockdep reports the section held at exit)
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    log: list[str] = []

    async def leaky_reader() -> None:
        sim.rcu_read_lock()
        await sim.point("forgot rcu_read_unlock")

    async def spinner() -> None:
        await sim.SpinLock("leaked").lock()
        await sim.point("forgot spin_unlock")

    async def writer() -> None:
        await sim.point()
        sim.call_rcu("obj", lambda o: log.append("callback"))
        for _ in range(4):
            await sim.point()

    eng.spawn(1, leaky_reader)
    eng.spawn(1, spinner)
    eng.spawn(0, writer)
    assert eng.run().ok
    assert log == ["callback"]


def test_spinlock_reader_edges() -> None:
    # the first spinlock taken starts the CPU's reader (a new generation) and the last one
    # released ends it; nested ones change nothing, nor do spinlocks taken while the CPU is
    # a reader for another reason (spin_lock_irqsave: interrupts off first)
    eng = sim.Engine(cpus=1, strategy=sim.RoundRobin())
    a, b = sim.SpinLock("a"), sim.SpinLock("b")
    seen: list[tuple[int, bool]] = []

    async def f() -> None:
        cc = sim.current().cctx

        def note() -> None:
            seen.append((cc.rcu_gen, sim.rcu.rcu_reading(cc)))

        note()
        await a.lock()
        note()
        await b.lock()
        b.unlock()
        note()
        a.unlock()
        note()
        flags = await a.lock_irqsave()
        note()
        await b.lock()
        b.unlock()
        note()
        a.unlock_irqrestore(flags)
        note()

    eng.spawn(0, f)
    rec = eng.events.record()
    assert eng.run().ok
    g = seen[0][0]
    assert seen == [(g, False), (g + 1, True), (g + 1, True), (g + 1, False),
                    (g + 2, True), (g + 2, True), (g + 2, False)]
    assert [(e.kind, e["via"]) for e in rec.of("sim_irq_enable", "sim_irq_disable")] == [
        ("sim_irq_disable", "spin_lock_irqsave"), ("sim_irq_enable", "spin_unlock_irqrestore")]
