"""Tests for the lifetime observer and the attach() API."""

from __future__ import annotations

import re

from irqlab import sim
from irqlab.check.dfs import outcomes
from irqlab.check.explore import explore
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
    assert found[0].potential is True   # a prediction, like lockdep's


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



# -- RCU read sections per context ------------------------------------------------------

def _nested_irq_reader(handler_done_first: bool):
    """CPU 1's task is in a long rcu_read_lock() section that never reads the object; an
    irq on CPU 1 reads it inside a section of its own.  CPU 0 frees the object without a
    grace period once the handler's section ended (``handler_done_first``) or while it is
    still open."""

    def factory(strategy: sim.Strategy) -> sim.Engine:
        eng = sim.Engine(cpus=2, strategy=strategy, fingerprint=f"nested-{handler_done_first}")
        ptr = sim.Atomic(None, name="gp")
        read = sim.Completion("read")
        published = sim.Completion("published")

        async def handler(cpu: sim.CpuCtx) -> None:
            sim.rcu_read_lock()
            p = await ptr.read()
            await sim.access(p, "r", "irq p->x")
            if handler_done_first:
                sim.rcu_read_unlock()
                read.complete()
            else:
                read.complete()
                await sim.point("handler still inside its section")
                sim.rcu_read_unlock()

        async def task1() -> None:
            await published.wait_for_completion()
            sim.rcu_read_lock()
            eng.raise_irq(1, 9)
            for _ in range(3):
                await sim.point("task reader, section open")
            sim.rcu_read_unlock()

        async def task0() -> None:
            o = sim.alloc("obj")
            await ptr.set(o)
            published.complete()
            await read.wait_for_completion()
            await ptr.set(None)
            sim.kfree(o)

        eng.set_irq_handler(handler)
        eng.spawn(0, task0)
        eng.spawn(1, task1)
        return eng

    return factory


def test_an_irq_readers_section_ends_with_its_rcu_read_unlock() -> None:
    # the handler's section nested on the task's (same CPU) is over: nobody holds the object
    r = explore(_nested_irq_reader(True), strategy="dfs")
    assert (r.verdict, r.exhausted) == ("clean", True), r.finding


def test_an_irq_readers_open_section_is_reported() -> None:
    r = explore(_nested_irq_reader(False), strategy="dfs")
    assert r.verdict == "finding" and r.finding is not None
    f = r.finding
    assert f.kind == "free-before-grace-period" and f.potential is True
    assert f.sites["read"].startswith("handler@test_lifetime.py:")
    assert f.sites["free"].startswith("task0@test_lifetime.py:")
    assert " while a reader on CPU1 that read it at handler@" in f.message


def _locked_reader(strategy: sim.Strategy) -> sim.Engine:
    """The reader uses the object only under obj_lock, inside a longer RCU section; the
    writer unpublishes under obj_lock, then kfree()s without a grace period."""
    eng = sim.Engine(cpus=2, strategy=strategy, fingerprint="locked-reader")
    ptr = sim.Atomic(None, name="gp")
    lk = sim.SpinLock("obj_lock")

    async def writer() -> None:
        o = sim.alloc("obj")
        await ptr.set(o)
        await sim.point("published")
        await lk.lock()
        await ptr.set(None)
        lk.unlock()
        sim.kfree(o)

    async def reader() -> None:
        sim.rcu_read_lock()
        await lk.lock()
        p = await ptr.read()
        if p is not None:
            await sim.access(p, "r", "under lock")
        lk.unlock()
        await sim.point("other work inside the section")
        await sim.point("more")
        sim.rcu_read_unlock()

    eng.spawn(0, writer)
    eng.spawn(1, reader)
    return eng


def test_free_before_grace_period_is_found_by_every_strategy() -> None:
    # whether the kfree comes before the reader's rcu_read_unlock decides the finding: the
    # two are dependent steps, so DFS (with DPOR) finds what random finds
    r = explore(_locked_reader, strategy="dfs")
    assert r.verdict == "finding" and r.finding is not None
    assert r.finding.kind == "free-before-grace-period"
    assert r.finding.potential is True
    assert r.finding.sites["read"].startswith("reader@test_lifetime.py:")
    rr = explore(_locked_reader, strategy="random", budget=200)
    assert rr.verdict == "finding" and rr.finding is not None
    assert rr.finding.kind == "free-before-grace-period"
    reduced, _, done = outcomes(_locked_reader)
    full, _, done_full = outcomes(_locked_reader, reduction=False)
    assert done and done_full and set(reduced) == set(full)


def test_refcount_warning_is_a_finding() -> None:
    # refcount_inc() on a counter that dropped to 0: Linux WARNs
    # "refcount_t: addition on 0; use-after-free."
    class Obj:
        def __init__(self) -> None:
            self.ref = sim.Refcount(1, name="obj.ref")

    def factory(strategy: sim.Strategy) -> sim.Engine:
        eng = sim.Engine(cpus=2, strategy=strategy, fingerprint="refcount-on-0")
        table = sim.Atomic(None, name="table")

        async def owner() -> None:
            o = sim.alloc(Obj())
            await table.set(o)
            await sim.point("published")
            if await o.ref.dec_and_test():
                await table.set(None)
                sim.kfree(o)

        async def user() -> None:
            p = await table.read()
            if p is None:
                return
            await p.ref.inc()          # refcount_inc() on 0 when the owner dropped it
            if await p.ref.dec_and_test():
                sim.kfree(p)

        eng.spawn(0, owner)
        eng.spawn(1, user)
        return eng

    r = explore(factory, strategy="dfs")
    assert r.verdict == "finding" and r.finding is not None
    f = r.finding
    assert f.kind == "refcount"
    assert re.fullmatch(r"refcount_t: addition on 0; use-after-free\. \(obj\.ref\) at "
                        r"user@test_lifetime\.py:\d+", f.message)
    assert f.sites["warn"] == f.message.rsplit(" at ", 1)[1]
    assert f.details.startswith("WARNING: refcount_t: addition on 0; use-after-free.\n")
    assert f.data["what"] == "addition on 0; use-after-free"


def test_refcount_underflow_is_reported_once() -> None:
    async def t():
        r = sim.Refcount(1, name="r")
        await r.dec()
        await r.dec()     # underflow: saturates
        await r.dec()     # saturated: no new warning

    found, _ = _run(t)
    assert [f.message.split(" (")[0] for f in found] == [
        "refcount_t: underflow; use-after-free."]


def test_kfree_rcu_free_has_the_stack_of_the_call() -> None:
    async def t():
        o = sim.alloc("thing")
        sim.kfree_rcu(o)
        await sim.point()
        await sim.point()
        await sim.access(o, "r", "late")

    found, _ = _run(t, cpus=1)
    f, = found
    assert f.kind == "use-after-free"
    free = f.details.split("Freed at ", 1)[1]
    assert free.startswith(f.sites["free"] + " (kfree_rcu: freed after a grace period):\n")
    assert "(no stack)" not in free and f.sites["free"].startswith("t@test_lifetime.py:")


def test_use_after_free_by_a_device_actor_names_the_actor() -> None:
    box = {}

    async def t0():
        box["o"] = sim.alloc("obj")
        sim.kfree(box["o"])
        await sim.point()

    async def dev():
        await sim.point("dma")
        await sim.access(box["o"], "w", "DMA write")

    eng = sim.Engine(cpus=1, strategy=sim.RoundRobin())
    eng.spawn(0, t0)
    eng.spawn_device("nic", dev)
    obs = attach(eng, lockdep=False, irqs=False)
    f, = obs.findings(eng.run())
    assert f.kind == "use-after-free"
    assert "write of obj#0 by device actor nic at:\n" in f.details
    assert "CPUNone" not in f.details


def test_untracked_objects_are_not_instrumented() -> None:
    async def t():
        o = object()      # never passed to sim.alloc: as memory KASAN does not track
        sim.kfree(o)
        await sim.point()
        sim.kfree(o)
        await sim.access(o, "r")

    found, res = _run(t, cpus=1)
    assert res.outcome == "ok" and found == []


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
