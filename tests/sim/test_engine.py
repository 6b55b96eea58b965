"""Engine basics: runs, results, choice points, determinism, errors in model code."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

from irqlab import sim
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue
from irqlab.events import Event
from irqlab.trace import chrome_trace


async def _inc(counter: sim.Atomic, lock: sim.SpinLock, k: int) -> None:
    for _ in range(k):
        await lock.lock()
        v = await counter.read()
        await counter.set(v + 1)
        lock.unlock()


def counter_engine(strategy: sim.Strategy, n: int = 3, k: int = 2, *,
                   locked: bool = True) -> tuple[sim.Engine, sim.Atomic]:
    eng = sim.Engine(cpus=n, strategy=strategy, fingerprint=f"counter-{n}x{k}")
    counter = sim.Atomic(0, name="counter")
    lock = sim.SpinLock("lock")

    async def racy(k: int) -> None:
        for _ in range(k):
            v = await counter.read()
            await counter.set(v + 1)

    for cpu in range(n):
        if locked:
            eng.spawn(cpu, _inc, counter, lock, k)
        else:
            eng.spawn(cpu, racy, k)
    return eng, counter


def test_counter_round_robin_completes() -> None:
    eng, counter = counter_engine(sim.RoundRobin())
    res = eng.run()
    assert res.outcome == "ok"
    assert res.ok
    assert counter.value == 6
    assert res.steps == 21  # 3 x (start + 2 x (lock, read, set))
    assert re.fullmatch(r"v1\.[0-9a-f]{8}\.[0-9a-f]{8}\.[0-9a-v]*", res.schedule)
    assert res.schedule == eng.schedule


@pytest.mark.parametrize("seed", range(20))
def test_counter_random_is_always_correct_under_the_lock(seed: int) -> None:
    eng, counter = counter_engine(sim.Random(seed))
    assert eng.run().outcome == "ok"
    assert counter.value == 6


def test_racy_counter_loses_updates_under_some_schedule() -> None:
    values = set()
    for seed in range(50):
        eng, counter = counter_engine(sim.Random(seed), locked=False)
        assert eng.run().ok
        values.add(counter.value)
    assert 6 in values and min(values) < 6


def test_single_option_points_are_not_recorded() -> None:
    eng, counter = counter_engine(sim.RoundRobin(), n=1, k=3)
    res = eng.run()
    assert res.ok and counter.value == 3
    assert res.choices == ()
    assert res.steps == 10


def test_engine_runs_once() -> None:
    eng, _ = counter_engine(sim.RoundRobin())
    eng.run()
    with pytest.raises(sim.SimError, match="runs once"):
        eng.run()


def test_model_exception_ends_run_with_error_and_traceback() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())

    async def bug() -> None:
        await sim.point("before")
        raise AssertionError("BUG_ON(desc == NULL)")

    async def fine() -> None:
        for _ in range(3):
            await sim.point()

    eng.spawn(0, bug, name="bugger")
    eng.spawn(1, fine)
    res = eng.run()
    assert res.outcome == "error"
    assert isinstance(res.error, AssertionError)
    assert res.failed == "bugger"
    assert "BUG_ON(desc == NULL)" in (res.traceback or "")
    assert res.schedule.startswith("v1.")


def test_awaiting_a_foreign_awaitable_is_an_error() -> None:
    class Foreign:
        def __await__(self):  # type: ignore[no-untyped-def]
            yield "hello"

    eng = sim.Engine(cpus=1)

    async def f() -> None:
        await Foreign()

    eng.spawn(0, f)
    res = eng.run()
    assert res.outcome == "error"
    assert isinstance(res.error, sim.SimError)
    assert "not an engine operation" in str(res.error)


def test_livelock_bound() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin(), max_steps=50)

    async def spin() -> None:
        while True:
            await sim.point("poll")

    eng.spawn(0, spin)
    eng.spawn(1, spin)
    rec = eng.events.record()
    res = eng.run()
    assert res.outcome == "livelock"
    assert res.steps == 50
    assert rec.of("sim_livelock")[0]["steps"] == 50


def test_argument_validation() -> None:
    with pytest.raises(InvalidArgumentValue, match=r"^cpus must be in \[1, 4096\], not 0$"):
        sim.Engine(cpus=0)
    with pytest.raises(InvalidArgumentType, match=r"^strategy must be a Strategy, not 3$"):
        sim.Engine(cpus=1, strategy=3)  # type: ignore[arg-type]
    eng = sim.Engine(cpus=2)
    with pytest.raises(InvalidArgumentValue, match=r"^cpu must be in \[0, 1\], not 2$"):
        eng.spawn(2, _inc)
    with pytest.raises(InvalidArgumentType, match=r"^fn must be an async function, not 3$"):
        eng.spawn(0, 3)  # type: ignore[arg-type]


def test_bad_strategy_index_is_reported() -> None:
    class Bad(sim.Strategy):
        def choose(self, choices, engine):  # type: ignore[no-untyped-def]
            return len(choices)

    eng, _ = counter_engine(Bad())
    with pytest.raises(InvalidArgumentValue, match=r"strategy\.choose"):
        eng.run()


def test_primitives_outside_a_run_raise() -> None:
    with pytest.raises(sim.SimError, match="no engine run"):
        sim.local_irq_disable()


def test_events_are_stamped_with_step_numbers() -> None:
    eng, _ = counter_engine(sim.RoundRobin())
    rec = eng.events.record()
    eng.run()
    steps = rec.of("sim_step")
    assert [e.time for e in steps] == list(range(1, 22))
    assert steps[0]["op"] == "start"
    acq = rec.of("sim_lock_acquire")
    assert len(acq) == 6 and all(e["lock"] == "lock" for e in acq)
    assert all(e["class"].startswith("test_engine.py:") for e in acq)


def test_virtual_clock_sleep() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    log: list[tuple[str, int]] = []

    async def sleeper() -> None:
        await eng.sleep(100)
        log.append(("woke", eng.now))

    async def busy() -> None:
        for _ in range(3):
            await sim.point()
        log.append(("busy done", eng.now))

    eng.spawn(0, sleeper)
    eng.spawn(1, busy)
    rec = eng.events.record()
    res = eng.run()
    assert res.ok
    assert log[0][0] == "busy done" and log[1] == ("woke", 102)  # deadline 1 + 100, +1 step
    assert rec.of("sim_clock")[0]["now"] == 101
    assert res.steps < 20


def test_threads_property_lists_every_context() -> None:
    eng = sim.Engine(cpus=1)

    async def handler(cpu: sim.CpuCtx) -> None:
        pass

    async def t() -> None:
        eng.raise_irq(0)
        await sim.point()

    eng.set_irq_handler(handler)
    eng.spawn(0, t, name="t")
    rec = eng.events.record()
    assert eng.run().ok
    assert [(th.tid, th.name, th.kind) for th in eng.threads] == [(0, "t", "task"),
                                                                 (1, "irq/0", "irq")]
    assert rec.of("sim_irq_enter")[0]["name"] == "irq/0"


def test_more_argument_validation() -> None:
    from irqlab import Machine

    m = Machine.virt(cpus=2, its=False)
    with pytest.raises(InvalidArgumentValue,
                       match=r"^cpus must be None or 2 \(the machine's CPU count\), not 3$"):
        sim.Engine(machine=m, cpus=3)
    eng = sim.Engine(machine=m)
    assert len(eng.cpus) == 2 and eng.events is m.events
    with pytest.raises(InvalidArgumentType, match=r"^online must be a bool, not 1$"):
        eng.set_cpu_online(0, 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentValue, match=r"^intid must be in"):
        eng.raise_irq(0, -1)
    with pytest.raises(InvalidArgumentType, match=r"^name must be a str, not 5$"):
        eng.spawn_device(5, _inc)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentType, match=r"^fingerprint must be a str, not 1$"):
        sim.Engine(cpus=1, fingerprint=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentValue, match=r"^max_steps must be in"):
        sim.Engine(cpus=1, max_steps=0)
    with pytest.raises(InvalidArgumentValue, match=r"^ticks must be in"):
        eng.sleep(-1)
    eng.close()


def test_enable_footprints_records_the_objects_a_step_touches_and_only_before_run() -> None:
    lock = sim.SpinLock("fp")
    seen: list[list[str]] = []

    class Watch(sim.RoundRobin):
        def after_step(self, choice, engine) -> None:
            seen.append(sorted(getattr(o, "name", "?") for o, _ in engine.footprint))

    async def body() -> None:
        await lock.lock()
        lock.unlock()

    eng = sim.Engine(cpus=1, strategy=Watch())
    assert eng.footprint is None
    eng.enable_footprints()
    eng.spawn(0, body)
    eng.run()
    assert ["fp", "rcu_in0", "rcu_out0"] in seen
    with pytest.raises(sim.SimError, match=r"before run\(\)"):
        eng.enable_footprints()


@pytest.mark.parametrize("how", ["raise", "bad-await"])
def test_after_step_sees_the_step_that_failed(how: str) -> None:
    # a step that raises (or awaits a non-operation) is a step: explorers record its
    # footprint like any other (DFS races, the audit), then the run ends with "error"
    x = sim.Atomic(0, name="x")
    seen: list[tuple[str, list[str]]] = []

    class Watch(sim.RoundRobin):
        def after_step(self, choice, engine) -> None:
            seen.append((choice.name, sorted(o.name for o, _ in engine.footprint)))

    async def body() -> None:
        await sim.point()
        sim.note_access(x)
        if how == "raise":
            raise RuntimeError("boom")
        await asyncio.sleep(0)  # not an engine operation

    eng = sim.Engine(cpus=1, strategy=Watch(), footprints=True)
    eng.spawn(0, body, name="b")
    res = eng.run()
    assert res.outcome == "error" and res.failed == "b"
    assert res.steps == len(seen) == 2
    assert seen[-1] == ("b", ["x"])


def test_footprints_note_every_access_to_the_machine() -> None:
    # a register read makes no event: the footprint still says the step touched the
    # hardware (the machine, written), as do system registers, RAM and interrupt lines
    from irqlab.hw.machine import Machine

    m = Machine.virt(cpus=2)
    gicd = m.config.gicd[0]
    steps: list[tuple[str, bool]] = []

    class Watch(sim.RoundRobin):
        def after_step(self, choice, engine) -> None:
            steps.append((choice.name, any(o is m for o, _ in engine.footprint)))

    async def reader() -> None:
        m.cpus[0].read(gicd + 0x4)                 # GICD_TYPER
        await sim.point()
        m.cpus[0].read_sysreg("ICC_PMR_EL1")
        await sim.point()
        m.ram_read(m.config.ram[0], 8)
        await sim.point()
        m.set_interrupt_level(40, True)
        await sim.point()

    async def idle() -> None:
        await sim.point()

    eng = sim.Engine(machine=m, strategy=Watch(), footprints=True)
    eng.spawn(0, reader, name="reader")
    eng.spawn(1, idle, name="idle")
    eng.run()
    assert [hw for name, hw in steps if name == "reader"] == [True, True, True, True, False]
    assert [hw for name, hw in steps if name == "idle"] == [False, False]
    assert m.bus.on_access is None                # the hook goes with the run
    m.cpus[0].read(gicd + 0x4)                     # and the machine works on without it


def _one_lock_model(strategy: sim.Strategy, fingerprint: str = "") -> sim.Engine:
    eng = sim.Engine(cpus=2, strategy=strategy, fingerprint=fingerprint)
    lk = sim.SpinLock("L")

    async def take() -> None:
        await lk.lock()
        lk.unlock()

    eng.spawn(0, take)
    eng.spawn(1, take)
    return eng


def _point_model(strategy: sim.Strategy) -> sim.Engine:
    eng = sim.Engine(cpus=2, strategy=strategy)

    async def step() -> None:
        await sim.point()
        await sim.point()

    eng.spawn(0, step)
    eng.spawn(1, step)
    return eng


def test_without_a_fingerprint_the_model_is_named_by_its_code() -> None:
    res = _one_lock_model(sim.Random(1)).run()
    assert _one_lock_model(sim.Replay(res.schedule)).run().schedule == res.schedule
    with pytest.raises(sim.ScheduleDivergence, match="recorded for scenario"):
        _point_model(sim.Replay(res.schedule)).run()
    # a given fingerprint is used as it is
    eng = _one_lock_model(sim.Random(1), fingerprint="x")
    eng.run()
    assert eng.fingerprint == "x"
    eng = _one_lock_model(sim.Random(1))
    eng.run()
    assert eng.fingerprint == ("model 0:test_engine.py:_one_lock_model.<locals>.take;"
                               "1:test_engine.py:_one_lock_model.<locals>.take")


def test_the_deadlock_event_carries_the_waits_as_data_in_the_report_order() -> None:
    # an actor and a task on CPU1 spawned before the task on CPU0: the waits still run
    # CPU0, CPU1, device actors, as the report does; each names its holder
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    a, b, c = sim.SpinLock("A"), sim.SpinLock("B"), sim.Mutex("C")

    async def t(first: Any, second: Any) -> None:
        await first.lock()
        await sim.point()
        await second.lock()

    eng.spawn_device("dev", t, c, a)
    eng.spawn(1, t, b, c, name="t1")
    eng.spawn(0, t, a, b, name="t0")
    evs: list[Event] = []
    eng.events.subscribe(evs.append, kinds=("sim_deadlock",))
    res = eng.run()
    assert res.outcome == "deadlock" and res.deadlock is not None
    ev, = evs
    assert ev.args["waits"] == (
        (0, 2, "t0", "spin_lock(B)", "t1"),
        (1, 1, "t1", "mutex_lock(C)", "dev"),
        (None, 0, "dev", "spin_lock(A)", "t0"))
    assert ev.args["cycle"] == "dev -> t0 -> t1" and ev.args["report"] == str(res.deadlock)
    # immutable, and JSON as the trace export and --json write it
    assert all(type(w) is tuple for w in (ev.args["waits"], *ev.args["waits"]))
    assert json.loads(json.dumps(ev.as_dict()))["args"]["waits"][2] == [
        None, 0, "dev", "spin_lock(A)", "t0"]
    inst = next(e for e in chrome_trace(evs)["traceEvents"] if e["name"] == "sim_deadlock")
    assert json.loads(json.dumps(inst))["args"]["waits"][0] == [0, 2, "t0", "spin_lock(B)",
                                                                "t1"]


def test_a_deadlock_wait_without_a_holder_has_none() -> None:
    eng = sim.Engine(cpus=1, strategy=sim.RoundRobin())
    done = sim.Completion("never")

    async def waiter() -> None:
        await done.wait_for_completion()

    eng.spawn(0, waiter)
    evs: list[Event] = []
    eng.events.subscribe(evs.append, kinds=("sim_deadlock",))
    assert eng.run().outcome == "deadlock"
    assert evs[0].args["waits"] == ((0, 0, "waiter", "wait_for_completion(never)", None),)


def test_a_deadlock_wait_names_the_rcu_callbacks_as_a_holder() -> None:
    # an RCU callback that left an SRCU read section open holds up synchronize_srcu()
    eng = sim.Engine(cpus=1, strategy=sim.RoundRobin())
    s = sim.rcu.SrcuStruct("s")

    async def task() -> None:
        sim.call_rcu(object(), lambda _obj: sim.rcu.srcu_read_lock(s))
        await sim.rcu.synchronize_rcu()
        await sim.point()
        await sim.rcu.synchronize_srcu(s)

    eng.spawn(0, task)
    evs: list[Event] = []
    eng.events.subscribe(evs.append, kinds=("sim_deadlock",))
    assert eng.run().outcome == "deadlock"
    assert evs[0].args["waits"] == ((0, 0, "task", "synchronize_srcu(s)", "rcu_callbacks"),)


def test_site_names_are_made_once_per_calling_instruction() -> None:
    """SiteNames formats a call site the first time it is seen, then looks it up."""
    import sys

    from irqlab.sim._core import SiteNames

    made: list[int] = []

    def fmt(f: Any) -> str:
        made.append(f.f_lineno)
        return f"line {f.f_lineno}"

    names = SiteNames(fmt)

    def here() -> str:
        return names.of(sys._getframe(1))

    loop = [here() for _ in range(3)]
    line = sys._getframe().f_lineno
    other = here()
    assert loop == [f"line {line - 1}"] * 3 and other == f"line {line + 1}"
    assert made == [line - 1, line + 1]
