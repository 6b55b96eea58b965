"""Tests for the lifetime observer and the attach() API."""

from __future__ import annotations

from irqlab import sim
from irqlab.check.lifetime import long_lived
from irqlab.check.observe import attach


def _run(*fns, cpus=2, strategy=None):
    eng = sim.Engine(cpus=cpus, strategy=strategy or sim.RoundRobin())
    for i, fn in enumerate(fns):
        eng.spawn(i % cpus, fn)
    obs = attach(eng, lockdep=False, irqs=False)
    res = eng.run()
    return obs.findings(res), res


def test_clean_alloc_free() -> None:
    async def t():
        o = sim.alloc("thing")
        await sim.access(o, "w")
        sim.kfree(o)

    found, res = _run(t)
    assert res.outcome == "ok"
    assert found == []


def test_use_after_free_three_sites() -> None:
    async def t():
        o = sim.alloc("thing")
        sim.kfree(o)
        await sim.access(o, "r", "o->x")

    found, _ = _run(t)
    assert [f.kind for f in found] == ["use-after-free"]
    f = found[0]
    assert set(f.sites) == {"alloc", "free", "use"}
    assert f.sites["use"].startswith("t@test_lifetime.py:")
    assert "Allocated at" in f.details and "Freed at" in f.details
    assert f.potential is False
    assert f.message.startswith("read of freed thing#")


def test_double_free() -> None:
    async def t():
        o = sim.alloc("thing")
        sim.kfree(o)
        await sim.point()
        sim.kfree(o)

    found, _ = _run(t)
    assert [f.kind for f in found] == ["double-free"]
    assert set(found[0].sites) == {"alloc", "free", "second_free"}


def test_leak_and_long_lived() -> None:
    async def t():
        sim.alloc("lost")
        long_lived(sim.alloc("kept"))
        await sim.point()

    found, _ = _run(t)
    assert [(f.kind, f.data["obj_kind"]) for f in found] == [("leak", "lost")]


def test_kfree_rcu_is_clean() -> None:
    async def t():
        o = sim.alloc("thing")
        sim.kfree_rcu(o)
        await sim.point()

    found, _ = _run(t)
    assert found == []


def test_free_before_grace_period() -> None:
    box = {}

    async def reader():
        sim.rcu_read_lock()
        await sim.access(box["o"], "r", "reader")
        await sim.point("still reading")
        sim.rcu_read_unlock()

    async def freer():
        sim.kfree(box["o"])

    async def setup():
        box["o"] = sim.alloc("thing")
        eng = sim.current().cctx.engine
        eng.spawn(0, reader)
        eng.spawn(1, freer)

    class Order(sim.Strategy):
        # run the reader before the freer
        def choose(self, choices, engine):
            for i, c in enumerate(choices):
                if getattr(c, "name", "") == "reader" and c.op.label != "still reading":
                    return i
            for i, c in enumerate(choices):
                if getattr(c, "name", "") == "freer":
                    return i
            return 0

    found, _ = _run(setup, cpus=2, strategy=Order())
    kinds = [f.kind for f in found]
    assert kinds[0] == "free-before-grace-period"
    assert set(found[0].sites) == {"alloc", "read", "free"}


def test_outcome_findings() -> None:
    async def boom():
        raise RuntimeError("model bug")

    found, res = _run(boom)
    assert res.outcome == "error"
    assert [f.kind for f in found] == ["model-error"]
    assert "RuntimeError: model bug" in found[0].message


def test_deadlock_finding_names_locks() -> None:
    a, b = sim.SpinLock("A"), sim.SpinLock("B")

    async def t0():
        await a.lock()
        await sim.point()
        await b.lock()

    async def t1():
        await b.lock()
        await sim.point()
        await a.lock()

    found, res = _run(t0, t1)
    assert res.outcome == "deadlock"
    f = next(f for f in found if f.kind == "deadlock")
    assert f.data["locks"] == ["A", "B"]
    assert "spin_lock(A" in f.message and "spin_lock(B" in f.message
    assert f.schedule == res.schedule


def test_step_invariant() -> None:
    from irqlab.check.findings import Finding
    cnt = sim.Atomic(0)

    async def t():
        await cnt.add(1)
        await cnt.add(1)

    eng = sim.Engine(cpus=1)
    eng.spawn(0, t)
    obs = attach(eng, lockdep=False, irqs=False,
                 invariants=[lambda e: Finding("invariant:small", "too big")
                             if cnt.peek() > 1 else None])
    res = eng.run()
    found = obs.findings(res)
    assert [f.kind for f in found] == ["invariant:small"]


# -- fuzz against a reference -----------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["alloc", "kfree", "access", "point"]),
                              st.integers(0, 2)), max_size=25))
def test_fuzz_matches_reference(ops) -> None:
    """Random alloc/kfree/access programs: exactly the reference's findings, in order."""
    expect = []
    state: dict[int, tuple[int, str]] = {}     # slot -> (object number, live|freed)
    reported: set[tuple[int, str]] = set()
    n = 0
    for op, slot in ops:
        cur = state.get(slot)
        if op == "alloc":
            state[slot] = (n, "live")
            n += 1
        elif cur is None or op == "point":
            continue
        elif op == "kfree":
            if cur[1] == "freed" and (cur[0], "double-free") not in reported:
                reported.add((cur[0], "double-free"))
                expect.append("double-free")
            state[slot] = (cur[0], "freed")
        elif op == "access" and cur[1] == "freed" and (cur[0], "uaf") not in reported:
            reported.add((cur[0], "uaf"))
            expect.append("use-after-free")
    # every object never freed leaks (also those whose slot was allocated again)
    freed = {o for o, st_ in state.values() if st_ == "freed"}
    freed |= {o for o, st_ in _history(ops) if st_ == "freed"}
    expect += ["leak"] * (n - len(freed))

    async def prog():
        objs: dict[int, object] = {}
        for op, slot in ops:
            if op == "alloc":
                objs[slot] = sim.alloc(f"obj{slot}")
            elif slot not in objs or op == "point":
                await sim.point()
            elif op == "kfree":
                sim.kfree(objs[slot])
            else:
                await sim.access(objs[slot], "r")

    found, res = _run(prog, cpus=1)
    assert res.outcome == "ok"
    kinds = [f.kind for f in found]
    assert [k for k in kinds if k != "leak"] == [k for k in expect if k != "leak"]
    assert kinds.count("leak") == expect.count("leak")


def _history(ops):
    """(object number, final state) of every allocated object of a program."""
    cur: dict[int, int] = {}
    out: dict[int, str] = {}
    n = 0
    for op, slot in ops:
        if op == "alloc":
            cur[slot] = n
            out[n] = "live"
            n += 1
        elif op == "kfree" and slot in cur:
            out[cur[slot]] = "freed"
    return list(out.items())
