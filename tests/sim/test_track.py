"""Tracked objects (alloc/free/access events with sites), points, work items."""

from __future__ import annotations

from typing import Any

import pytest

from irqlab import sim
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue


def test_alloc_free_access_events_with_sites() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    box: dict[str, object] = {}

    async def owner() -> None:
        desc = sim.alloc("irq_desc")
        box["desc"] = desc
        await sim.point()
        sim.kfree(desc)
        await sim.point()
        sim.kfree(desc)                   # double free

    async def user() -> None:
        await sim.point()
        await sim.point()
        await sim.access(box["desc"], "r", "desc->handle_irq")

    eng.spawn(0, owner)
    eng.spawn(1, user)
    rec = eng.events.record()
    assert eng.run().ok
    al, = rec.of("sim_alloc")
    f1, f2 = rec.of("sim_free")
    acc, = rec.of("sim_access")
    assert al["obj_kind"] == "irq_desc" and al["site"].startswith("owner@test_track.py:")
    assert f1["oid"] == al["oid"] == acc["oid"] == f2["oid"]
    assert (f1["double"], f2["double"]) == (False, True)
    assert f1["site"] == al["site"] and f1["free_site"].startswith("owner@test_track.py:")
    assert (acc["rw"], acc["label"], acc["live"], acc["state"]) == (
        "r", "desc->handle_irq", False, "freed")
    assert acc["site"].startswith("user@test_track.py:")
    assert sim.Tracked("x").kind == "x"


def test_access_rw_validation_and_descriptors() -> None:
    op = sim.access(object(), "w", "lbl")
    assert (op.kind, op.write, op.label) == ("access", True, "lbl")
    assert sim.access(object()).write is False
    assert sim.point("p").obj is None
    with pytest.raises(InvalidArgumentValue, match=r"^rw must be 'r' or 'w', not 'x'$"):
        sim.access(object(), "x")


def test_is_freed_and_untracked_free() -> None:
    eng = sim.Engine(cpus=1)
    out: list[bool] = []

    class Desc:
        pass

    async def f() -> None:
        d = sim.alloc(Desc())
        out.append(sim.is_freed(d))
        sim.kfree(d)
        out.append(sim.is_freed(d))
        sim.kfree(Desc())   # never tracked: an event, no crash

    eng.spawn(0, f)
    rec = eng.events.record()
    assert eng.run().ok
    assert out == [False, True]
    assert rec.of("sim_alloc")[0]["obj_kind"] == "Desc"
    assert rec.of("sim_free")[1]["state"] == "untracked"


def test_stack_for_observers() -> None:
    eng = sim.Engine(cpus=1)
    stacks: list[list[str]] = []

    async def inner(lock: sim.SpinLock) -> None:
        await lock.lock()
        lock.unlock()

    async def outer() -> None:
        await inner(sim.SpinLock("l"))

    def on_event(ev: object) -> None:
        if getattr(ev, "kind", "") in ("sim_lock_acquire", "sim_lock_release"):
            stacks.append(eng.stack())

    eng.spawn(0, outer)
    eng.events.subscribe(on_event)
    assert eng.run().ok
    assert len(stacks) == 2
    for st in stacks:
        assert [f.split("@")[0] for f in st] == ["outer", "inner"]


def test_work_items_and_flush() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    log: list[str] = []

    async def fn(tag: str) -> None:
        await sim.point()
        log.append(f"work {tag} on cpu{sim.smp_processor_id()}")

    w = sim.Work(fn, "a")

    async def t() -> None:
        assert sim.queue_work(1, w) is True
        assert sim.queue_work(1, w) is False      # already pending
        await sim.flush_work(w)
        log.append("flushed")
        assert sim.queue_work(1, w) is True
        await sim.flush_work(w)
        log.append("flushed again")

    eng.spawn(0, t)
    res = eng.run()
    assert res.ok                                     # the idle worker does not count
    assert log == ["work a on cpu1", "flushed", "work a on cpu1", "flushed again"]


def test_blocked_work_item_is_a_deadlock() -> None:
    eng = sim.Engine(cpus=1)
    c = sim.Completion("never")

    async def fn() -> None:
        await c.wait_for_completion()

    async def t() -> None:
        sim.queue_work(0, sim.Work(fn))

    eng.spawn(0, t)
    res = eng.run()
    assert res.outcome == "deadlock"
    assert res.deadlock is not None
    assert res.deadlock.cpus[0][0].name == "kworker/0"


def test_engine_method_aliases() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    log: list[str] = []

    async def job() -> None:
        log.append("job")

    w = sim.Work(job)
    assert eng.queue_work(1, w) is True        # before the run

    async def f() -> None:
        d = eng.alloc("desc")
        await eng.access(d, "w", "init")
        await eng.point("p")
        eng.call_rcu(d, lambda o: log.append("cb"))
        eng.kfree_rcu(eng.alloc("other"))
        await eng.flush_work(w)
        eng.kfree(d)

    eng.spawn(0, f)
    rec = eng.events.record()
    assert eng.run().ok
    assert log == ["job", "cb"]
    assert sorted(e["obj_kind"] for e in rec.of("sim_free")) == ["desc", "other"]


# -- data choice points (sim.choose) ------------------------------------------------------

def _chooser(strategy: sim.Strategy, got: list[int]) -> sim.Engine:
    eng = sim.Engine(cpus=2, strategy=strategy, fingerprint="chooser")

    async def pick() -> None:
        got.append(await sim.choose(4, "which"))
        got.append(await sim.choose(1))          # one value: no choice point

    async def other() -> None:
        await sim.point("p")

    eng.spawn(0, pick)
    eng.spawn(1, other)
    return eng


def test_choose_is_recorded_in_the_schedule_and_replays() -> None:
    values = set()
    for seed in range(40):
        got: list[int] = []
        eng = _chooser(sim.Random(seed), got)
        rec = eng.events.record()
        res = eng.run()
        assert 0 <= got[0] < 4 and got[1] == 0
        values.add(got[0])
        ev = [e for e in rec if e.kind == "sim_choose"]
        assert [(e["n"], e["value"], e["label"]) for e in ev] == [(4, got[0], "which"),
                                                                   (1, 0, "")]
        again: list[int] = []
        assert _chooser(sim.Replay(res.schedule), again).run().schedule == res.schedule
        assert again == got
    assert values == {0, 1, 2, 3}   # random draws every value


def test_choose_replay_detects_a_value_out_of_range() -> None:
    def one(strategy: sim.Strategy) -> sim.Engine:
        eng = sim.Engine(cpus=1, strategy=strategy)

        async def pick() -> None:
            await sim.choose(3)

        eng.spawn(0, pick)
        return eng

    assert one(sim.Replay([2])).run().choices == (2,)
    with pytest.raises(sim.ScheduleDivergence, match="recorded option 9"):
        one(sim.Replay([9])).run()


def test_round_robin_takes_the_first_value() -> None:
    got: list[int] = []
    _chooser(sim.RoundRobin(), got).run()
    assert got == [0, 0]


def test_strategy_sees_data_options() -> None:
    seen: list[list[tuple[str, int, int | None]]] = []

    class Last(sim.Strategy):
        def choose(self, choices: list, engine: sim.Engine) -> int:  # type: ignore[type-arg]
            seen.append([(c.kind, getattr(c, "value", -1), c.cpu) for c in choices])
            return len(choices) - 1

    got: list[int] = []
    _chooser(Last(), got).run()
    assert got[0] == 3
    assert [("data", v, 0) for v in range(4)] in seen


def test_choose_arguments() -> None:
    with pytest.raises(InvalidArgumentValue, match="n must be"):
        sim.choose(0)
    with pytest.raises(InvalidArgumentType, match="label must be"):
        sim.choose(2, label=3)  # type: ignore[arg-type]


def test_work_queued_on_a_cpu_that_goes_offline_still_runs() -> None:
    # Linux unbinds an offline CPU's per-CPU workers: the pending work runs anyway
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    ran: list[int] = []

    async def work_fn() -> None:
        ran.append(1)

    work = sim.Work(work_fn, name="cleanup")

    async def hotplug() -> None:
        sim.queue_work(1, work)
        eng.set_cpu_online(1, False)      # before the kworker ever ran
        await sim.point("offline")
        await sim.flush_work(work)

    eng.spawn(0, hotplug)
    res = eng.run()
    assert res.outcome == "ok" and ran == [1]


def test_cached_stacks_are_the_computed_stacks(monkeypatch: pytest.MonkeyPatch) -> None:
    # context_stack/suspended_stack cache by the frames' f_lasti (checked against their
    # code objects): on every event of seed scenarios, running and parked, they must give
    # exactly what walking the frames gives (the same runs with the caches off)
    from irqlab.check.run import Target
    from irqlab.sim import _core, track

    def stacks(cache: bool) -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = []
        for sc, v in [("vmd-teardown", "immediate-free"), ("vmd-teardown", "rcu-desc"),
                      ("vgic-lpi-refcount", "dec-then-lock"), ("vmd-balance", "least-loaded"),
                      ("vgic-lpi-xa", "irq")]:
            t = Target(sc, v)
            for seed in range(3):
                w = t.build(sim.Random(seed))
                eng = w.engine

                def on(ev: Any, eng: sim.Engine = eng) -> None:
                    if not ev.kind.startswith("sim_"):
                        # (emitted by model code: this function is then a model frame of
                        # the stack, seen at a different line by each call)
                        return
                    out.append(tuple(track.stack_now(eng)))
                    out.append(tuple(eng.stack()))
                    for th in eng.threads:
                        if not th.done and not getattr(th.coro, "cr_running", False):
                            out.append(tuple(_core.suspended_stack(th)))
                            out.append(tuple(_core.context_stack(th)))

                eng.events.subscribe(on)
                eng.run()
        return out

    cached = stacks(True)
    with monkeypatch.context() as m:
        m.setattr(_core, "_CACHE_MAX", 0)
        m.setattr(_core, "_RUNNING", {})
        m.setattr(_core, "_PARKED", {})
        computed = stacks(False)
        assert not _core._RUNNING and not _core._PARKED   # (nothing was cached)
    assert len(cached) > 1000 and cached == computed


def test_stack_in_an_rcu_callback_holds_no_frame_of_the_event_delivery() -> None:
    # an observer asking for the stack while an RCU callback frees an object: the callback
    # context's model frames (none here: kfree_rcu's callback is the engine's), never the
    # event stream's or the subscriber's own frames; the deferred free of a kfree_rcu
    # carries the stack of the kfree_rcu call
    from irqlab.check.run import Target
    from irqlab.sim._core import RT

    w = Target("vmd-teardown", "rcu-desc").build(sim.Random(0))
    eng = w.engine
    seen: list[tuple[str, list[str]]] = []

    def on(ev: Any) -> None:
        if RT.th is not None and RT.th.tid < 0:
            seen.append((ev.kind, eng.stack()))

    eng.events.subscribe(on)
    assert eng.run().outcome == "ok"
    assert ("sim_rcu_callback", []) in seen
    frees = [st for k, st in seen if k == "sim_free"]
    assert frees and all(st[0].startswith("driver_exit@") for st in frees)
    assert {st[-1].split("@")[0] for st in frees} == {"free_descs", "vmd_msi_free"}
    assert all(st == [] for k, st in seen if k != "sim_free")
    assert not any("test_track" in f or "events.py" in f for _, st in seen for f in st)


def test_shared_names_plain_state_for_note_access() -> None:
    s = sim.Shared("free_list")
    assert s.name == "free_list" and repr(s) == "<Shared free_list>"
    with pytest.raises(InvalidArgumentType, match=r"^name must be a str"):
        sim.Shared(3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentValue, match=r"^name must be a non-empty str"):
        sim.Shared("")
    # declared in a step: recorded in the footprint (what DFS and the audit read)
    eng = sim.Engine(cpus=1, strategy=sim.RoundRobin())
    eng.enable_footprints()
    seen: list[list[tuple[object, bool]]] = []

    async def body() -> None:
        sim.note_access(s, write=False)
        seen.append(list(eng.footprint))
        await sim.point()

    eng.spawn(0, body)
    assert eng.run().ok
    assert seen == [[(s, False)]]
