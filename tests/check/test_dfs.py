"""DFS with source-DPOR, sleep sets and a preemption bound: exact schedule counts, findings."""

from __future__ import annotations

import pytest

from irqlab import sim
from irqlab.check.counter import expected_classes
from irqlab.check.dfs import DfsExplorer, NondeterministicScenario
from irqlab.check.run import Target
from irqlab.errors import InvalidArgument


def counter(cpus: int, iters: int, variant: str = "locked", observe: bool = True) -> Target:
    return Target("counter", variant, {"cpus": cpus, "iters": iters}, observe=observe)


def exhaust(ex: DfsExplorer) -> list[object]:
    outs = []
    while not ex.finished:
        outs.append(ex.next_run())
    return outs


@pytest.mark.parametrize(("cpus", "iters", "classes"), [(2, 1, 2), (2, 2, 6), (3, 2, 90)])
def test_dpor_explores_one_schedule_per_lock_order(cpus: int, iters: int, classes: int) -> None:
    assert expected_classes(cpus, iters) == classes
    ex = DfsExplorer(counter(cpus, iters))
    outs = exhaust(ex)
    assert ex.schedules == classes and ex.blocked == 0
    assert all(o is not None and not o.findings for o in outs)


def test_dpor_3x3_is_exactly_1680() -> None:
    ex = DfsExplorer(counter(3, 3, observe=False))
    exhaust(ex)
    assert (ex.schedules, ex.blocked) == (1680, 0)


def acquisition_orders_factory(orders: list[tuple[int, ...]], cpus: int = 3, iters: int = 2):
    def factory(strategy: sim.Strategy) -> sim.Engine:
        eng = sim.Engine(cpus=cpus, strategy=strategy)
        lock = sim.SpinLock("L")
        c = sim.Atomic(0, name="c")
        order: list[int] = []

        async def body(me: int) -> None:
            for _ in range(iters):
                await lock.lock()
                order.append(me)
                v = await c.read()
                await c.set(v + 1)
                lock.unlock()
            if len(order) == cpus * iters:
                orders.append(tuple(order))

        for i in range(cpus):
            eng.spawn(i, body, i)
        return eng

    return factory


def test_every_lock_order_is_explored_exactly_once() -> None:
    orders: list[tuple[int, ...]] = []
    ex = DfsExplorer(Target(factory=acquisition_orders_factory(orders)))
    exhaust(ex)
    assert len(orders) == 90 and len(set(orders)) == 90


def test_without_reduction_every_schedule() -> None:
    ex = DfsExplorer(counter(2, 1), reduction=False)
    exhaust(ex)
    assert (ex.schedules, ex.blocked) == (10, 0)
    ex = DfsExplorer(counter(2, 2), reduction=False)
    exhaust(ex)
    assert ex.schedules == 36


def test_lost_update_needs_one_preemption() -> None:
    ex = DfsExplorer(counter(2, 1, "racy"), preemptions=0)
    outs = exhaust(ex)
    assert not any(o is not None and o.findings for o in outs)
    ex = DfsExplorer(counter(2, 1, "racy"), preemptions=1)
    found = None
    while not ex.finished and found is None:
        o = ex.next_run()
        if o is not None and o.findings:
            found = o
    assert found is not None and found.findings[0].kind == "invariant:counter"


def test_preemption_bound_limits_the_locked_counter() -> None:
    counts = []
    for bound in (0, 1, 2, None):
        ex = DfsExplorer(counter(3, 2, observe=False), preemptions=bound)
        exhaust(ex)
        counts.append(ex.schedules)
    assert counts[-1] == 90
    assert counts == sorted(counts) and counts[0] < 90


def test_dfs_witnesses_the_irq_deadlock() -> None:
    ex = DfsExplorer(counter(2, 1, "irq", observe=False))
    kinds: set[str] = set()
    while not ex.finished:
        o = ex.next_run()
        if o is not None:
            kinds.update(f.kind for f in o.findings)
    assert "deadlock" in kinds


def test_nondeterministic_scenario_is_detected() -> None:
    state = {"n": 0}

    def factory(strategy: sim.Strategy) -> sim.Engine:
        state["n"] += 1
        eng = sim.Engine(cpus=2, strategy=strategy)
        a = sim.Atomic(0)

        async def body() -> None:
            await a.set(1)
            await a.set(2)

        for i in range(2 + state["n"] % 2):  # a third context on every other build
            eng.spawn(i % 2, body)
        return eng

    ex = DfsExplorer(Target(factory=factory))
    with pytest.raises(NondeterministicScenario):
        exhaust(ex)


def test_arguments() -> None:
    with pytest.raises(InvalidArgument):
        DfsExplorer("counter")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        DfsExplorer(counter(2, 1), preemptions=-1)
    with pytest.raises(InvalidArgument):
        DfsExplorer(counter(2, 1), reduction=1)  # type: ignore[arg-type]
    ex = DfsExplorer(counter(2, 1))
    exhaust(ex)
    with pytest.raises(Exception, match="finished"):
        ex.next_run()


def test_shard_prefix_fixes_the_first_choices() -> None:
    total = 0
    for first in range(3):
        ex = DfsExplorer(counter(3, 2, observe=False), prefix=[first])
        exhaust(ex)
        total += ex.schedules
    assert total >= 90  # the shards cover everything (with some overlap)


# -- soundness: DPOR reaches every final state that full enumeration reaches -------------

import os  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_OP = st.one_of(
    st.tuples(st.just("r"), st.integers(0, 1)),
    st.tuples(st.just("w"), st.integers(0, 1), st.integers(1, 3)),
    st.tuples(st.just("locked"), st.integers(0, 1), st.integers(1, 3)),
    st.tuples(st.just("irq"),),
    st.tuples(st.just("rr"), st.integers(0, 1)),
    st.tuples(st.just("sync"),),
    st.tuples(st.just("cb"), st.integers(0, 1), st.integers(4, 5)),
)
_PROGRAM = st.lists(st.lists(_OP, min_size=1, max_size=3), min_size=2, max_size=3)


def program_factory(prog: list[list[tuple]], finals: list[tuple]):  # type: ignore[no-untyped-def]
    def factory(strategy: sim.Strategy) -> sim.Engine:
        eng = sim.Engine(cpus=len(prog), strategy=strategy)
        vars_ = [sim.Atomic(0, name=f"v{i}") for i in range(2)]
        lock = sim.SpinLock("L")
        seen: list[list[int]] = [[] for _ in prog]
        done = [0, 0]  # tasks finished, interrupts raised and not yet handled

        def finish() -> None:
            if done[0] == len(prog) and done[1] == 0:
                finals.append((tuple(a.peek() for a in vars_),
                               tuple(tuple(s) for s in seen)))

        async def handler(cpu: sim.CpuCtx) -> None:
            v = await vars_[0].read()
            await vars_[1].set(v + 10)
            done[1] -= 1
            finish()

        async def body(me: int) -> None:
            for op in prog[me]:
                if op[0] == "r":
                    seen[me].append(await vars_[op[1]].read())
                elif op[0] == "w":
                    await vars_[op[1]].set(op[2])
                elif op[0] == "locked":
                    await lock.lock()
                    v = await vars_[op[1]].read()
                    await vars_[op[1]].set(v + op[2])
                    lock.unlock()
                elif op[0] == "rr":
                    sim.rcu_read_lock()
                    seen[me].append(await vars_[op[1]].read())
                    sim.rcu_read_unlock()
                elif op[0] == "sync":
                    await sim.synchronize_rcu()
                    seen[me].append(-1)
                elif op[0] == "cb":
                    done[1] += 1

                    def cb(o: sim.Atomic, val: int = op[2]) -> None:
                        sim.note_access(o)  # a plain write in a callback: declared
                        o.value = val
                        done[1] -= 1
                        finish()

                    sim.call_rcu(vars_[op[1]], cb)
                else:
                    done[1] += 1
                    eng.raise_irq(0, 1)
                    await sim.point("raised")
            done[0] += 1
            finish()

        eng.set_irq_handler(handler)
        for i in range(len(prog)):
            eng.spawn(i, body, i)
        return eng

    return factory


@settings(max_examples=int(os.environ.get("IRQLAB_DPOR_EXAMPLES", "15")), deadline=None)
@given(_PROGRAM)
def test_dpor_reaches_every_final_state(prog: list[list[tuple]]) -> None:
    full: list[tuple] = []
    ex = DfsExplorer(Target(factory=program_factory(prog, full), observe=False),
                     reduction=False)
    while not ex.finished and ex.schedules < 1000:
        ex.next_run()
    if not ex.finished:
        return  # too big to enumerate here
    red: list[tuple] = []
    ex2 = DfsExplorer(Target(factory=program_factory(prog, red), observe=False))
    exhaust(ex2)
    assert set(red) == set(full)
    assert ex2.schedules <= ex.schedules


_OP2 = st.one_of(
    st.tuples(st.just("r"), st.integers(0, 1)),
    st.tuples(st.just("w"), st.integers(0, 1), st.integers(1, 3)),
    st.tuples(st.just("locked"), st.integers(0, 1), st.integers(1, 3)),
    st.tuples(st.just("irqsave"), st.integers(0, 1), st.integers(1, 3)),
    st.tuples(st.just("try"), st.integers(0, 1)),
    st.tuples(st.just("irq"),),
    st.tuples(st.just("wait"),),
    st.tuples(st.just("complete"),),
    st.tuples(st.just("choose"), st.integers(0, 1)),
    st.tuples(st.just("new"), st.integers(0, 1)),
    st.tuples(st.just("use"), st.integers(0, 1)),
)
_PROGRAM2 = st.lists(st.lists(_OP2, min_size=1, max_size=3), min_size=2, max_size=3)


def program_world(prog: list[list[tuple]], finals: list[tuple]):  # type: ignore[no-untyped-def]
    from irqlab.scenarios import World

    def factory(strategy: sim.Strategy) -> World:
        eng = sim.Engine(cpus=len(prog), strategy=strategy, max_steps=500)
        vars_ = [sim.Atomic(0, name=f"v{i}") for i in range(2)]
        lock = sim.SpinLock("L")
        comp = sim.Completion("C")
        seen: list[list[int]] = [[] for _ in prog]
        box = [sim.Atomic(None, name=f"box{i}") for i in range(2)]
        made: list[list[int]] = []   # tracked objects: [creator, count of uses]

        async def handler(cpu: sim.CpuCtx) -> None:
            await lock.lock()  # plain lock in irq context: deadlocks under a plain holder
            v = await vars_[0].read()
            await vars_[1].set(v + 10)
            lock.unlock()

        async def body(me: int) -> None:
            for op in prog[me]:
                if op[0] == "r":
                    seen[me].append(await vars_[op[1]].read())
                elif op[0] == "w":
                    await vars_[op[1]].set(op[2])
                elif op[0] in ("locked", "irqsave"):
                    flags = await (lock.lock() if op[0] == "locked" else lock.lock_irqsave())
                    v = await vars_[op[1]].read()
                    await vars_[op[1]].set(v + op[2])
                    if op[0] == "locked":
                        lock.unlock()
                    else:
                        lock.unlock_irqrestore(flags)
                elif op[0] == "try":
                    ok = await lock.trylock()
                    seen[me].append(int(ok))
                    if ok:
                        v = await vars_[op[1]].read()
                        await vars_[op[1]].set(v + 7)
                        lock.unlock()
                elif op[0] == "wait":
                    await comp.wait_for_completion()
                    seen[me].append(-2)
                elif op[0] == "complete":
                    comp.complete()
                    await sim.point("completed")
                elif op[0] == "new":  # allocate a tracked object, publish it in a box
                    obj = [me, 0]
                    made.append(obj)
                    sim.alloc(obj)
                    await sim.access(obj, "w", "init")
                    await box[op[1]].set(obj)
                elif op[0] == "use":  # use whatever object the box holds now
                    obj = await box[op[1]].read()
                    if obj is None:
                        seen[me].append(-3)
                    else:
                        await sim.access(obj, "w", "use")
                        obj[1] += 1
                        seen[me].append(10 * obj[0] + obj[1])
                elif op[0] == "choose":  # a data choice decides what is written
                    v = await sim.choose(2, "c")
                    seen[me].append(v)
                    await vars_[op[1]].set(20 + v)
                else:
                    eng.raise_irq(0, 1)
                    await sim.point("raised")

        eng.set_irq_handler(handler)
        for i in range(len(prog)):
            eng.spawn(i, body, i)

        def record(world: World, result: object) -> None:
            finals.append((result.outcome, tuple(a.peek() for a in vars_),  # type: ignore
                           tuple(tuple(s) for s in seen), tuple(sorted(map(tuple, made))),
                           tuple(-1 if b.peek() is None else b.peek()[0] for b in box)))

        return World(scenario=None, variant="", params={}, engine=eng,  # type: ignore[arg-type]
                     invariants=[record])

    return factory


@settings(max_examples=int(os.environ.get("IRQLAB_DPOR_EXAMPLES", "15")), deadline=None)
@given(_PROGRAM2)
def test_dpor_reaches_every_outcome_with_locks_irqs_completions(prog: list[list[tuple]]) -> None:
    full: list[tuple] = []
    ex = DfsExplorer(Target(factory=program_world(prog, full), observe=False), reduction=False)
    while not ex.finished and ex.schedules < 1000:
        ex.next_run()
    if not ex.finished:
        return  # too big to enumerate here
    red: list[tuple] = []
    ex2 = DfsExplorer(Target(factory=program_world(prog, red), observe=False))
    exhaust(ex2)
    assert set(red) == set(full)


def test_exploration_order_is_pinned() -> None:
    # footprint keys are read when the step is made (an object's name may change during
    # the run, e.g. an irq descriptor's): caching them per object changed this order
    from irqlab.check.explore import explore

    r = explore("vmd-teardown", "immediate-free", strategy="dfs", budget=100, shrink=False)
    assert (r.verdict, r.first_at, r.schedules) == ("finding", 9, 9)
    assert r.finding is not None
    assert r.finding.schedule.endswith(".00y5z1y6z0")
    r = explore("vgic-lpi-refcount", "dec-and-lock", strategy="dfs", shrink=False)
    # 25 when objects were keyed by name, 15 before the ITT accesses were declared
    assert (r.verdict, r.schedules) == ("clean", 29)


@pytest.mark.parametrize("prog", [
    [[("new", 0), ("use", 0), ("use", 0)], [("use", 0), ("use", 0)]],
    [[("new", 0), ("w", 0, 1), ("use", 0)], [("use", 0), ("r", 0)]],
])
def test_tracked_objects_keep_their_identity_across_runs(prog: list[list[tuple]]) -> None:
    # a tracked object is a fresh Python object in every run: keyed by Python identity,
    # a sleeping use of it would never be woken by another run's write (these programs
    # then lose outcomes); keyed by its stable allocation identity, none is lost
    full: list[tuple] = []
    exhaust(DfsExplorer(Target(factory=program_world(prog, full), observe=False),
                        reduction=False))
    red: list[tuple] = []
    ex = DfsExplorer(Target(factory=program_world(prog, red), observe=False))
    exhaust(ex)
    assert set(red) == set(full)
    assert ex.schedules < 12


def test_data_choices_are_explored_for_every_value_also_in_shards() -> None:
    from irqlab.check.dfs import split_prefixes

    prog = [[("choose", 0), ("r", 1)], [("w", 1, 3), ("choose", 1), ("r", 0)]]
    full: list[tuple] = []
    ex = DfsExplorer(Target(factory=program_world(prog, full), observe=False),
                     reduction=False)
    exhaust(ex)
    red: list[tuple] = []
    ex2 = DfsExplorer(Target(factory=program_world(prog, red), observe=False))
    exhaust(ex2)
    assert set(red) == set(full)
    # both data choices take both values in some run
    assert {s[0][0] for _o, _v, s, _m, _b in red} == {0, 1}
    assert {s[1][0] for _o, _v, s, _m, _b in red} == {0, 1}
    assert ex2.schedules < ex.schedules
    # shards: the prefix enumeration stops at a data choice; the shards explore its values
    t = Target(factory=program_world(prog, []), observe=False)
    sharded: list[tuple] = []
    total = 0
    for prefix, sleeps in split_prefixes(t, 3):
        ex3 = DfsExplorer(Target(factory=program_world(prog, sharded), observe=False),
                          prefix=prefix, prefix_sleeps=sleeps)
        exhaust(ex3)
        total += ex3.schedules
    assert set(sharded) == set(full)
    assert total == ex2.schedules


def test_a_register_read_depends_on_a_register_write() -> None:
    # CPU1 reads GICD_ISENABLER1 (a read makes no event) while CPU0 enables SPI 40: the
    # value read depends on the order, so DFS must explore both (every access to the
    # machine is in the step's footprint)
    from irqlab.hw.machine import Machine

    seen: list[int] = []

    def build(strategy: sim.Strategy) -> sim.Engine:
        m = Machine.virt(cpus=2)
        gicd = m.config.gicd[0]
        eng = sim.Engine(machine=m, strategy=strategy)

        async def enable() -> None:
            m.cpus[0].write(gicd + 0x104, 1 << 8)
            await sim.point()

        async def look() -> None:
            seen.append(m.cpus[1].read(gicd + 0x104) >> 8 & 1)
            await sim.point()

        eng.spawn(0, enable, name="enable")
        eng.spawn(1, look, name="look")
        return eng

    ex = DfsExplorer(Target(factory=build))
    exhaust(ex)
    assert ex.schedules == 2 and sorted(seen) == [0, 1]
