"""The footprint audit: swapping steps DPOR calls independent must change nothing.

Shared plain state that the engine cannot see is found (the world ends differently, a context
acts differently); declared with ``sim.note_access`` it is not; models built from the engine's
primitives alone audit clean (fuzzed), and so does every seed scenario.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab import sim
from irqlab.check.audit import audit
from irqlab.check.run import Target
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue
from irqlab.scenarios import World


def _appenders(declare: bool):  # type: ignore[no-untyped-def]
    """Two CPUs each take a private lock and append their id to one plain list."""

    def factory(strategy: sim.Strategy) -> World:
        eng = sim.Engine(cpus=2, strategy=strategy)
        order: list[int] = []
        locks = [sim.SpinLock("a"), sim.SpinLock("b")]

        async def body(me: int) -> None:
            await locks[me].lock()
            if declare:
                sim.note_access(order)
            order.append(me)
            locks[me].unlock()

        for i in range(2):
            eng.spawn(i, body, i, name=f"app/{i}")
        return World(scenario=None, variant="", params={}, engine=eng,  # type: ignore[arg-type]
                     describe=lambda w, r: f"order {order}")

    factory.__name__ = "appenders"
    return factory


def test_undeclared_shared_list_is_a_suspect() -> None:
    res = audit(_appenders(False), runs=4)
    assert not res.clean
    s = res.suspects[0]
    assert {s.first.split(":")[0], s.second.split(":")[0]} == {"app/0", "app/1"}
    assert "spin_lock" in s.first and "spin_lock" in s.second
    assert s.difference.startswith("the world's summary differs: line 1 'order [")
    assert s.reordered is not None and s.reordered != s.schedule
    text = res.report()
    assert "sim.note_access()" in text and "the reordered run:" in text
    d = res.as_dict()
    assert d["changed"] == res.changed == sum(x.count for x in res.suspects) >= 1
    assert d["suspects"][0]["step"] == s.step and d["suspects"][0]["count"] == s.count


def test_declared_shared_list_is_clean() -> None:
    res = audit(_appenders(True), runs=4)
    # the declared accesses make the appends dependent; the swaps left (the starts, a
    # lock against the other CPU's) change nothing
    assert res.clean and res.runs == 4 and res.reorderings > 0
    assert "no reordering changed anything" in res.report()


def test_a_plain_flag_read_is_found_as_a_context_acting_differently() -> None:
    def factory(strategy: sim.Strategy) -> sim.Engine:
        eng = sim.Engine(cpus=2, strategy=strategy)
        flag = {"set": False}
        x, y = sim.Atomic(0, name="x"), sim.Atomic(0, name="y")

        async def writer() -> None:
            await x.set(1)
            flag["set"] = True      # undeclared
            await x.set(2)

        async def reader() -> None:
            await y.set(1)
            target = x if flag["set"] else y   # decides what the next step touches
            await target.read()

        eng.spawn(0, writer, name="writer")
        eng.spawn(1, reader, name="reader")
        return eng

    res = audit(factory, runs=10)
    assert not res.clean
    assert any("then acts differently" in s.difference for s in res.suspects)


def test_a_reordering_that_cannot_be_followed_says_why() -> None:
    # a plain dict decides whether the reader makes a second step: moved before the
    # publication, the reader ends after one step and only the updater can run
    def factory(strategy: sim.Strategy) -> sim.Engine:
        eng = sim.Engine(cpus=2, strategy=strategy)
        state: dict[str, Any] = {"obj": None}

        async def upd() -> None:
            o = sim.alloc("foo")
            state["obj"] = o        # undeclared
            await sim.point("published")
            state["obj"] = None
            sim.kfree(o)
            await sim.point("freed")

        async def rd() -> None:
            await sim.point("start")
            p = state["obj"]
            if p is not None:
                await sim.access(p, "r", "p->x")

        eng.spawn(0, upd, name="upd")
        eng.spawn(1, rd, name="rd")
        return eng

    res = audit(factory, runs=20)
    diffs = [s.difference for s in res.suspects]
    assert any(d.endswith("was the only context able to run, not the one the reordering "
                          "moves there") for d in diffs), diffs


def test_data_choices_and_interrupts_replay_by_context() -> None:
    # every value of a data choice and every interrupt entry is followed per context:
    # the counter with an irq handler and a model with data choices audit clean
    assert audit("counter", "irq", runs=10).clean

    def factory(strategy: sim.Strategy) -> sim.Engine:
        eng = sim.Engine(cpus=2, strategy=strategy)
        a, b = sim.Atomic(0, name="a"), sim.Atomic(0, name="b")

        async def chooser(var: Any) -> None:
            for _ in range(2):
                v = await sim.choose(3, "v")
                await var.set(v)

        eng.spawn(0, chooser, a, name="c0")
        eng.spawn(1, chooser, b, name="c1")
        return eng

    res = audit(factory, runs=10)
    assert res.clean and res.reorderings > 0


_OP = st.one_of(
    st.tuples(st.just("read"), st.integers(0, 2)),
    st.tuples(st.just("write"), st.integers(0, 2), st.integers(1, 3)),
    st.tuples(st.just("locked"), st.integers(0, 2)),
    st.tuples(st.just("choose"), st.integers(0, 2)),
    st.tuples(st.just("point"),),
)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(_OP, min_size=1, max_size=4), min_size=2, max_size=3),
       st.integers(0, 3))
def test_models_of_engine_primitives_audit_clean(prog: list[list[tuple]], seed: int) -> None:
    # everything shared goes through the engine (atomics, a lock, data choices): the
    # footprints are complete, so no swap of independent steps may change anything
    def factory(strategy: sim.Strategy) -> World:
        eng = sim.Engine(cpus=len(prog), strategy=strategy)
        vs = [sim.Atomic(0, name=f"v{i}") for i in range(3)]
        lock = sim.SpinLock("L")
        seen: list[list[int]] = [[] for _ in prog]

        async def body(me: int) -> None:
            for op in prog[me]:
                if op[0] == "read":
                    seen[me].append(await vs[op[1]].read())
                elif op[0] == "write":
                    await vs[op[1]].set(op[2])
                elif op[0] == "locked":
                    await lock.lock()
                    v = await vs[op[1]].read()
                    await vs[op[1]].set(v + 1)
                    lock.unlock()
                elif op[0] == "choose":
                    await vs[op[1]].set(10 + await sim.choose(2))
                else:
                    await sim.point()

        for i in range(len(prog)):
            eng.spawn(i, body, i)
        return World(scenario=None, variant="", params={}, engine=eng,  # type: ignore[arg-type]
                     describe=lambda w, r: f"{[v.peek() for v in vs]} {seen}")

    res = audit(factory, runs=3, moves=20, seed=seed)
    assert res.clean, res.report()


# (scenario, variant, runs): enough runs that removing a declaration of the model is found
# (see the next test; vmd-balance's allocator race first shows in run 18 of seed 0)
SEEDS = [("vgic-lpi-xa", "irq", 6), ("vgic-lpi-xa", "irqsave", 6),
         ("vgic-lpi-refcount", "dec-then-lock", 6), ("vgic-lpi-refcount", "dec-and-lock", 6),
         ("vmd-teardown", "immediate-free", 20), ("vmd-teardown", "rcu-desc", 20),
         ("vmd-teardown", "srcu", 20), ("vmd-balance", "modulo", 20),
         ("vmd-balance", "least-loaded", 20), ("its-memreserve", "merged", 10),
         ("its-memreserve", "v1", 10), ("counter", "locked", 6), ("counter", "racy", 6)]


@pytest.mark.parametrize(("scenario", "variant", "runs"), SEEDS,
                         ids=[f"{a}-{b}" for a, b, _ in SEEDS])
def test_seed_scenarios_audit_clean(scenario: str, variant: str, runs: int) -> None:
    res = audit(scenario, variant, runs=runs)
    assert res.clean, res.report()
    assert res.reorderings > 0


@pytest.mark.parametrize(("scenario", "variant", "runs", "name"), [
    ("vmd-balance", "modulo", 20, "sparse_irq_lock"),
    ("vgic-lpi-refcount", "dec-and-lock", 6, "its->itt"),
])
def test_removing_a_seed_models_declaration_is_found(
        monkeypatch: pytest.MonkeyPatch, scenario: str, variant: str, runs: int, name: str
) -> None:
    # the two declarations the audit found missing: the IRQ number allocator (two CPUs'
    # descriptors get numbers in the order they allocate) and the vgic ITT (injection
    # reads it without its_lock, DISCARD removes the entry under it)
    real = sim.note_access

    def without(obj: Any, write: bool = True) -> None:
        if getattr(obj, "name", None) != name:
            real(obj, write)

    monkeypatch.setattr(sim, "note_access", without)
    res = audit(scenario, variant, runs=runs)
    assert not res.clean
    assert res.suspects[0].difference.startswith(
        ("the run cannot be followed", "pciehp0 then acts differently",
         "pciehp1 then acts differently", "the world's summary differs"))


def test_msi_reinsert_audits_clean() -> None:
    # the ITS machine scenario, a few reload cycles (the default 100 take seconds a run)
    res = audit(Target("msi-reinsert", "per-vector", {"cycles": 3}), runs=3, moves=10)
    assert res.clean, res.report()
    assert res.reorderings > 0


def test_deterministic() -> None:
    def key(r: Any) -> Any:
        d = r.as_dict()
        d.pop("seconds")
        return d

    a = audit(_appenders(False), runs=5, seed=3)
    b = audit(_appenders(False), runs=5, seed=3)
    assert key(a) == key(b) and a.report().split(" in ")[0] == b.report().split(" in ")[0]


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgumentValue, match=r"^runs must be"):
        audit("counter", runs=0)
    with pytest.raises(InvalidArgumentValue, match=r"^moves must be"):
        audit("counter", moves=-1)
    with pytest.raises(InvalidArgumentType, match=r"^seed must be"):
        audit("counter", seed="x")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentValue, match=r"^time must be"):
        audit("counter", time=0)
    with pytest.raises(InvalidArgumentValue, match=r"^scenario must be"):
        audit("no-such-scenario")


def test_runs_that_end_in_a_model_error_audit_clean() -> None:
    # the step that raises ends the run: moving it earlier cuts the other context's
    # steps off, which is no dependence; the steps before it are swapped as usual
    def factory(strategy: sim.Strategy) -> sim.Engine:
        eng = sim.Engine(cpus=2, strategy=strategy)
        x = sim.Atomic(0, name="x")

        async def writer() -> None:
            await x.set(1)
            await sim.point()

        async def reader() -> None:
            v = await x.read()
            await sim.point()
            if v:
                raise RuntimeError("boom")

        eng.spawn(0, writer)
        eng.spawn(1, reader)
        return eng

    res = audit(factory, runs=30)
    assert res.clean and res.reorderings > 0



def test_a_scenario_that_does_not_replay_is_an_error_not_suspects() -> None:
    # a model drawing from Python's random: its runs are not functions of their choices,
    # so every swap would "change something"; the audit says what is wrong instead
    import random

    from irqlab.check.dfs import NondeterministicScenario

    rng = random.Random(5)

    def factory(strategy: sim.Strategy) -> sim.Engine:
        eng = sim.Engine(cpus=2, strategy=strategy)
        x = sim.Atomic(0, name="x")

        async def writer() -> None:
            for _ in range(rng.randint(1, 3)):
                await x.set(1)

        async def reader() -> None:
            await x.read()

        eng.spawn(0, writer)
        eng.spawn(1, reader)
        return eng

    with pytest.raises(NondeterministicScenario, match=r"does not replay in its own order"):
        audit(factory, runs=20)



def test_a_suspect_names_the_step_the_moved_one_cannot_pass() -> None:
    # the reader's step performing b.set reads a plain flag that the writer's step
    # performing a2.set sets: the reader started first, so that step could move before
    # a0.set; it differs there, and moving it one step at a time names a2.set as the step
    # it cannot pass (what the report shows), not a0.set where the move ended
    from irqlab.check.audit import _moves, _pinpoint, _run, _try_move, _Watch
    from irqlab.check.run import make_target

    def factory(strategy: sim.Strategy) -> sim.Engine:
        eng = sim.Engine(cpus=2, strategy=strategy)
        a0, a1, a2, a3 = (sim.Atomic(0, name=f"a{i}") for i in range(4))
        b, c = sim.Atomic(0, name="b"), sim.Atomic(0, name="c")
        flag = {"set": False}

        async def writer() -> None:
            await a0.set(1)
            await a1.set(1)
            await a2.set(1)
            flag["set"] = True          # undeclared, in the step that performs a2.set
            await a3.set(1)

        async def reader() -> None:
            await b.set(1)
            await (c.read() if flag["set"] else b.read())

        eng.spawn(0, writer, name="writer")
        eng.spawn(1, reader, name="reader")
        return eng

    t = make_target(factory)
    # reader starts; writer starts and performs a0..a3; then the reader's b.set
    rec = _Watch(inner=sim.Replay([1, 0, 0, 0, 0, 0, 1], then=sim.RoundRobin(), strict=False))
    out = _run(t, rec)
    names = [f"{s.name}: {s.what}" for s in rec.steps]
    j = next(k for k, n in enumerate(names) if n.startswith("reader: access(b) atomic_set"))
    (i,) = [i for i, jj in _moves(rec.steps, len(rec.steps)) if jj == j]
    assert names[i].startswith("writer: start")       # the move passes a0..a3
    why, reordered = _try_move(t, rec.steps, out, i, j)
    assert why is not None and "reader then acts differently" in why
    p, why2, _ = _pinpoint(t, rec.steps, out, i, j, why, reordered)
    assert names[p].startswith("writer: access(a2)")
    assert "reader then acts differently" in why2
    # and audit() reports that pair (in one order or the other)
    res = audit(factory, runs=40)
    assert not res.clean
    for sus in res.suspects:
        assert {sus.first.split(" atomic")[0], sus.second.split(" atomic")[0]} == {
            "writer: access(a2)", "reader: access(b)"}, (sus.first, sus.second)
