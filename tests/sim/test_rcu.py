"""RCU and SRCU: grace periods wait for pre-existing readers only; deferred callbacks."""

from __future__ import annotations

from irqlab import sim


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


def test_synchronize_rcu_inside_read_section_deadlocks() -> None:
    eng = sim.Engine(cpus=1)

    async def f() -> None:
        sim.rcu_read_lock()
        await sim.synchronize_rcu()

    eng.spawn(0, f)
    rec = eng.events.record()
    res = eng.run()
    assert res.outcome == "deadlock"
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
