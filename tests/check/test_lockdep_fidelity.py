"""lockdep against kernel/locking/lockdep.c: trylocks, lock classes, the irq state of a
parked acquire, _irq unlocks, locks held at exit, stacks and report shapes."""

from __future__ import annotations

import importlib.util
import inspect
import itertools
from pathlib import Path
from typing import Any

from irqlab import sim
from irqlab.check.findings import Finding
from irqlab.check.lockdep import Lockdep
from irqlab.check.observe import attach


def _run(spawn: Any, cpus: int = 1, *, handler: Any = None, preempt_rt: bool = False,
         strategy: sim.Strategy | None = None) -> tuple[list[Finding], Any]:
    eng = sim.Engine(cpus=cpus, strategy=strategy or sim.RoundRobin())
    if handler is not None:
        eng.set_irq_handler(handler)
    spawn(eng)
    obs = attach(eng, lifetimes=False, irqs=False,
                 lockdep=Lockdep(eng, preempt_rt=preempt_rt))
    res = eng.run()
    return obs.findings(res), res


def _kinds(found: list[Finding]) -> list[str]:
    return [f.kind for f in found]


def _line(fn: Any, text: str) -> int:
    """The source line of ``fn`` whose stripped text starts with ``text``."""
    src, first = inspect.getsourcelines(fn)
    return next(first + i for i, t in enumerate(src) if t.strip().startswith(text))


# -- 1. a trylock adds no dependency (validate_chain skips hlock->trylock) -------------------

def test_trylock_adds_no_dependency_in_either_order() -> None:
    a = sim.SpinLock("A")
    b = sim.SpinLock("B")

    async def lock_a_trylock_b() -> None:
        await a.lock()
        if await b.trylock():
            b.unlock()
        a.unlock()

    async def lock_b_lock_a() -> None:
        await b.lock()
        await a.lock()
        a.unlock()
        b.unlock()

    for first, second in ((lock_a_trylock_b, lock_b_lock_a),
                          (lock_b_lock_a, lock_a_trylock_b)):
        found, res = _run(lambda eng, f=first, s=second: [eng.spawn(0, f), eng.spawn(0, s)])
        assert res.outcome == "ok"
        assert found == []


def test_a_trylocked_lock_is_held_for_later_acquisitions() -> None:
    a = sim.SpinLock("A")
    b = sim.SpinLock("B")
    c = sim.SpinLock("C")

    async def try_b_lock_c() -> None:          # B -> C (B trylock'd, still held)
        assert await b.trylock()
        await c.lock()
        c.unlock()
        b.unlock()

    async def lock_c_lock_b() -> None:
        await c.lock()
        await b.lock()
        b.unlock()
        c.unlock()

    found, _ = _run(lambda eng: [eng.spawn(0, try_b_lock_c), eng.spawn(0, lock_c_lock_b)])
    assert _kinds(found) == ["lockdep:circular-locking"]
    assert found[0].data["cycle"] == ["B", "C"]

    async def a_try_b_c() -> None:             # A -> C and B -> C, never A -> B
        await a.lock()
        assert await b.trylock()
        await c.lock()
        c.unlock()
        b.unlock()
        a.unlock()

    async def lock_c_lock_a() -> None:
        await c.lock()
        await a.lock()
        a.unlock()
        c.unlock()

    found, _ = _run(lambda eng: [eng.spawn(0, a_try_b_c), eng.spawn(0, lock_c_lock_a)])
    assert _kinds(found) == ["lockdep:circular-locking"]
    assert found[0].data["cycle"] == ["A", "C"]


# -- 2. a trylock in hard-irq context is not USED_IN_HARDIRQ (mark_usage) --------------------

def test_trylock_in_hardirq_does_not_make_the_lock_irq_safe() -> None:
    h = sim.SpinLock("H")
    lk = sim.SpinLock("L")

    async def handler(cpu: int) -> None:
        await h.lock()
        if await lk.trylock():                 # no H -> L, L not IN-HARDIRQ-W
            lk.unlock()
        h.unlock()

    async def task() -> None:
        await lk.lock()                        # L: HARDIRQ-ON-W
        lk.unlock()
        sim.current().cctx.engine.raise_irq(0, 40)
        await sim.point("the irq comes in")

    found, res = _run(lambda eng: eng.spawn(0, task), handler=handler)
    assert res.outcome == "ok"
    assert found == []


def test_trylock_with_interrupts_on_is_still_hardirq_on() -> None:
    lk = sim.SpinLock("L")

    async def handler(cpu: int) -> None:
        await lk.lock()
        lk.unlock()

    async def task() -> None:
        sim.current().cctx.engine.raise_irq(0, 40)
        await sim.point("the irq comes in")
        if await lk.trylock():                 # ENABLED_HARDIRQ is set for a trylock too
            lk.unlock()

    found, _ = _run(lambda eng: eng.spawn(0, task), handler=handler)
    assert _kinds(found) == ["lockdep:inconsistent-lock-state"]
    assert found[0].message == "inconsistent {IN-HARDIRQ-W} -> {HARDIRQ-ON-W} usage of L"


# -- 3. check_wait_context skips trylocks ----------------------------------------------------

def test_wait_context_skips_trylocks() -> None:
    sp = sim.SpinLock("sp")
    m = sim.Mutex("m")
    raw = sim.SpinLock("raw", raw=True)

    async def mutex_trylock_under_spinlock() -> None:
        await sp.lock()
        if await m.trylock():
            m.unlock()
        sp.unlock()

    async def spin_trylock_under_raw() -> None:
        await raw.lock()
        if await sp.trylock():
            sp.unlock()
        raw.unlock()

    found, _ = _run(lambda eng: eng.spawn(0, mutex_trylock_under_spinlock))
    assert found == []
    found, _ = _run(lambda eng: eng.spawn(0, spin_trylock_under_raw), preempt_rt=True)
    assert found == []
    found, _ = _run(lambda eng: eng.spawn(0, mutex_trylock_under_spinlock), preempt_rt=True)
    assert found == []


# -- 4. lock classes are call sites ------------------------------------------------------------

def test_two_locks_built_on_one_line_are_two_classes() -> None:
    def build() -> tuple[sim.SpinLock, sim.SpinLock]:
        a = sim.SpinLock("A"); b = sim.SpinLock("B")  # noqa: E702
        return a, b

    a, b = build()
    line = _line(build, "a = sim.SpinLock")
    assert a.cls == f"test_lockdep_fidelity.py:{line}:13"
    assert b.cls == f"test_lockdep_fidelity.py:{line}:36"
    assert build()[0].cls == a.cls            # the same site again: the same class

    async def nest() -> None:
        await a.lock()
        await b.lock()
        b.unlock()
        a.unlock()

    found, _ = _run(lambda eng: eng.spawn(0, nest))
    assert found == []


def test_a_lone_site_is_file_and_line_and_one_site_run_twice_is_one_class() -> None:
    def mk(name: str) -> sim.SpinLock:
        return sim.SpinLock(name)

    x, y = mk("x"), mk("y")
    loop = [sim.SpinLock(n) for n in "pq"]
    assert x.cls == y.cls == f"test_lockdep_fidelity.py:{_line(mk, 'return sim.SpinLock')}"
    assert loop[0].cls == loop[1].cls
    assert sim.Mutex("m", key="k").cls == "k"

    async def nest() -> None:
        await x.lock()
        await y.lock()
        y.unlock()
        x.unlock()

    found, _ = _run(lambda eng: eng.spawn(0, nest))
    assert _kinds(found) == ["lockdep:recursive-locking"]


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_two_files_of_one_name_are_two_classes(tmp_path: Path) -> None:
    mods = []
    for d in ("drv_a", "drv_b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "locks.py").write_text(
            "from irqlab import sim\n\n\ndef make():\n    return sim.SpinLock('lock')\n")
        mods.append(_load(tmp_path / d / "locks.py", f"_ld_{d}_locks"))
    a, b = (m.make() for m in mods)
    assert a.cls != b.cls
    assert "locks.py:5" in a.cls and "locks.py:5" in b.cls  # (one is dir-qualified)
    assert mods[0].make().cls == a.cls and mods[1].make().cls == b.cls

    async def nest() -> None:
        await a.lock()
        await b.lock()
        b.unlock()
        a.unlock()

    found, _ = _run(lambda eng: eng.spawn(0, nest))
    assert found == []


# -- 5. a parked irqsave acquire: the irq state when it was issued ------------------------

def test_parked_irqsave_acquire_from_irqs_on_is_not_taken_with_irqs_off() -> None:
    def spawn(eng: sim.Engine) -> None:
        a = sim.SpinLock("A")

        async def holder() -> None:
            await a.lock()
            await sim.point("holding A")
            await sim.point("still holding A")

        async def waiter() -> None:
            await sim.point("let the holder take A")
            fl = await a.lock_irqsave()       # parks: A is never released
            a.unlock_irqrestore(fl)

        eng.spawn(0, holder)
        eng.spawn(1, waiter)

    for rt in (False, True):
        found, res = _run(spawn, cpus=2, preempt_rt=rt)
        assert res.outcome == "deadlock", res.outcome
        assert _kinds(found) == ["lockdep:held-at-exit", "deadlock"], _kinds(found)


def test_parked_irqsave_acquire_under_local_irq_disable_is_taken_with_irqs_off() -> None:
    a = sim.SpinLock("A")

    async def holder() -> None:
        await a.lock()
        await sim.point("holding A")
        await sim.point("still holding A")

    async def waiter() -> None:
        await sim.point("let the holder take A")
        sim.local_irq_disable()
        fl = await a.lock_irqsave()
        a.unlock_irqrestore(fl)

    found, res = _run(lambda eng: [eng.spawn(0, holder), eng.spawn(1, waiter)], cpus=2,
                      preempt_rt=True)
    assert res.outcome == "deadlock"
    w = [f for f in found if f.kind == "lockdep:invalid-wait-context"]
    assert [f.data["why"] for f in w] == ["with interrupts disabled"]


# -- 6. spin_unlock_irq inside an irq-disabled section ---------------------------------------

def test_unlock_irq_ending_the_callers_own_irqs_off_section_is_fine() -> None:
    lk = sim.SpinLock("A")

    async def task() -> None:
        sim.local_irq_disable()
        await lk.lock()                        # spin_lock, not spin_lock_irq
        await sim.point("work")
        lk.unlock_irq()                        # ends the caller's local_irq_disable()

    found, _ = _run(lambda eng: eng.spawn(0, task))
    assert found == []


def test_lock_irq_pair_inside_an_irqs_off_section_is_reported_with_its_own_call() -> None:
    lk = sim.SpinLock("A")

    async def task() -> None:
        sim.local_irq_disable()
        await lk.lock_irq()                    # interrupts already off
        lk.unlock_irq()                        # ... and now on, too early
        await sim.point("interrupts on here")
        sim.local_irq_enable()

    found, _ = _run(lambda eng: eng.spawn(0, task))
    assert _kinds(found) == ["lockdep:irq-enabled-in-atomic"]
    f = found[0]
    assert f.message == ("spin_unlock_irq(A) re-enables interrupts that were already "
                         "disabled when spin_lock_irq(A) was called")
    line = _line(task, "await lk.lock_irq()")
    assert f"spin_lock_irq(A) was taken at: task@test_lockdep_fidelity.py:{line}" in f.details
    assert f.sites["lock"] == f"task@test_lockdep_fidelity.py:{line}"


def test_unlock_irq_in_hardirq_context_is_reported_with_the_lock_call_it_pairs() -> None:
    lk = sim.SpinLock("A")

    async def handler(cpu: int) -> None:
        await lk.lock()
        lk.unlock_irq()

    async def task() -> None:
        sim.current().cctx.engine.raise_irq(0, 40)
        await sim.point("the irq comes in")

    found, _ = _run(lambda eng: eng.spawn(0, task), handler=handler)
    assert _kinds(found) == ["lockdep:irq-enabled-in-atomic"]
    assert found[0].message == "spin_unlock_irq(A) re-enables interrupts in hard-irq context"
    assert "spin_lock(A) was taken at: handler@" in found[0].details
    assert "spin_lock_irq(A)" not in found[0].details


# -- 7. a context that returns holding locks (debug_check_no_locks_held) ----------------------

def test_task_returning_with_a_lock_held() -> None:
    a = sim.SpinLock("A")
    m = sim.Mutex("M")

    async def leaker() -> None:
        await m.lock()
        await a.lock()

    found, res = _run(lambda eng: eng.spawn(0, leaker))
    assert res.outcome == "ok"
    assert _kinds(found) == ["lockdep:held-at-exit"]
    f = found[0]
    assert f.potential is False
    assert f.message == "leaker/0 still has locks held when it returns: M, A"
    assert f.data["held"] == ["M", "A"]
    lm = _line(leaker, "await m.lock()")
    assert f.sites == {"held": f"leaker@test_lockdep_fidelity.py:{lm}"}
    assert "WARNING: leaker/0 still has locks held!" in f.details
    assert "2 locks held by leaker/0:" in f.details
    assert f" #0: (M){{+.+.}}-{{4:4}}, at: leaker@test_lockdep_fidelity.py:{lm}" in f.details
    assert f" #1: (A){{+.+.}}-{{3:3}}, at: leaker@test_lockdep_fidelity.py:{lm + 1}" \
        in f.details
    assert f.details.startswith("=" * 41 + "\nWARNING: leaker/0 still has locks held!\n"
                                + "-" * 41 + "\n")
    assert f.details.endswith("\nstack backtrace:\n       (leaker returned)")


def test_task_returning_inside_rcu_and_srcu_read_sections() -> None:
    ss = sim.SrcuStruct("my_srcu")

    async def reader() -> None:
        sim.rcu_read_lock()
        sim.rcu_read_lock()
        sim.rcu_read_unlock()
        sim.srcu_read_lock(ss)
        await sim.point("reading")

    async def balanced() -> None:
        sim.rcu_read_lock()
        idx = sim.srcu_read_lock(ss)
        await sim.point("reading")
        sim.srcu_read_unlock(ss, idx)
        sim.rcu_read_unlock()

    found, _ = _run(lambda eng: [eng.spawn(0, balanced), eng.spawn(0, reader)])
    assert _kinds(found) == ["lockdep:held-at-exit"]
    f = found[0]
    assert f.data["held"] == ["rcu_read_lock", "my_srcu"]
    line = _line(reader, "sim.rcu_read_lock()")
    assert (f" #0: (rcu_read_lock){{....}}-{{1:3}}, at: reader@test_lockdep_fidelity.py:"
            f"{line}") in f.details
    assert f" #1: (my_srcu){{....}}-{{0:0}}, at: reader@test_lockdep_fidelity.py:{line + 3}" \
        in f.details


def test_a_read_section_entered_through_run_on_is_held_at_its_callers_site() -> None:
    # the site of an rcu_read_lock() is its model caller's line (the innermost model frame,
    # as a lock's site), also when irqlab.sim calls that model code (run_on inline)
    a = sim.SpinLock("A")

    async def fn() -> None:
        await a.lock()
        sim.rcu_read_lock()

    async def task() -> None:
        await sim.current().cctx.engine.run_on(0, fn)

    found, _ = _run(lambda eng: eng.spawn(0, task))
    assert _kinds(found) == ["lockdep:held-at-exit"]
    line = _line(fn, "await a.lock()")
    assert f" #0: (A){{+.+.}}-{{3:3}}, at: fn@test_lockdep_fidelity.py:{line}" \
        in found[0].details
    assert (f" #1: (rcu_read_lock){{....}}-{{1:3}}, at: fn@test_lockdep_fidelity.py:"
            f"{line + 1}") in found[0].details


def test_an_srcu_reader_unlocked_by_another_context_is_not_held_at_exit() -> None:
    ss = sim.SrcuStruct("my_srcu")
    cookie: list[int] = []
    locked = sim.Completion("locked")
    unlocked = sim.Completion("unlocked")

    async def reader() -> None:
        cookie.append(sim.srcu_read_lock(ss))
        locked.complete()
        await unlocked.wait_for_completion()

    async def other() -> None:
        await locked.wait_for_completion()
        sim.srcu_read_unlock(ss, cookie[0])       # SRCU allows another context's unlock
        unlocked.complete()

    found, res = _run(lambda eng: [eng.spawn(0, reader), eng.spawn(0, other)])
    assert res.outcome == "ok"
    assert _kinds(found) == []


def test_balanced_contexts_and_irq_handlers_are_not_held_at_exit() -> None:
    a = sim.SpinLock("A")
    b = sim.SpinLock("B")

    async def handler(cpu: int) -> None:
        await b.lock()                         # returns holding B: the return path's
                                               # mark_held_locks reports it instead

    async def task() -> None:
        await a.lock()
        a.unlock()
        sim.current().cctx.engine.raise_irq(0, 40)
        await sim.point("the irq comes in")

    found, _ = _run(lambda eng: eng.spawn(0, task), handler=handler)
    assert _kinds(found) == ["lockdep:inconsistent-lock-state"]
    assert found[0].message == "inconsistent {IN-HARDIRQ-W} -> {HARDIRQ-ON-W} usage of B"


# -- 8. each dependency keeps the stack of an acquisition that made it ------------------------

def test_a_new_dependency_under_a_trylock_gets_its_own_stack() -> None:
    a = sim.SpinLock("A")
    b = sim.SpinLock("B")
    x = sim.SpinLock("X")

    async def path_one() -> None:
        await a.lock()
        await b.lock()                         # A -> B
        b.unlock()
        a.unlock()

    async def path_two() -> None:
        await x.lock()
        assert await a.trylock()
        await b.lock()                         # A -> B (known) and X -> B (new)
        b.unlock()
        a.unlock()
        x.unlock()

    async def closes() -> None:
        await b.lock()
        await x.lock()                         # B -> X closes X -> B -> X
        x.unlock()
        b.unlock()

    found, _ = _run(lambda eng: [eng.spawn(0, path_one), eng.spawn(0, path_two),
                                 eng.spawn(0, closes)])
    assert _kinds(found) == ["lockdep:circular-locking"]
    d = found[0].details
    chain = d[d.index("-> #1 (B):"):d.index("-> #0 (X):")]
    assert f"path_two@test_lockdep_fidelity.py:{_line(path_two, 'await b.lock()')}" in chain
    assert "path_one" not in chain
    assert "[path_two/1]" in chain


# -- 9. report shapes ------------------------------------------------------------------------

def test_irq_inversion_found_when_a_lock_becomes_irq_unsafe_is_print_irq_inversion_bug() -> None:
    s = sim.SpinLock("S")
    m = sim.SpinLock("M")
    u = sim.SpinLock("U")

    async def handler(cpu: int) -> None:
        await s.lock()
        s.unlock()

    async def task() -> None:
        sim.current().cctx.engine.raise_irq(0, 40)
        await sim.point("S becomes HARDIRQ-safe")
        fl = await s.lock_irqsave()
        await m.lock()                         # S -> M
        m.unlock()
        s.unlock_irqrestore(fl)
        fl = await m.lock_irqsave()
        await u.lock()                         # M -> U
        u.unlock()
        m.unlock_irqrestore(fl)
        await u.lock()                         # U becomes HARDIRQ-unsafe: S ->* U
        u.unlock()

    found, _ = _run(lambda eng: eng.spawn(0, task), handler=handler)
    assert _kinds(found) == ["lockdep:irq-lock-inversion"]
    f = found[0]
    assert (f.data["safe"], f.data["unsafe"], f.data["changed"]) == ("S", "U", "U")
    d = f.details
    assert "WARNING: possible irq lock inversion dependency detected" in d
    assert "HARDIRQ-safe -> HARDIRQ-unsafe lock order detected" not in d
    assert "task/0 just changed the state of lock:\n(U){+.+.}-{3:3}, at: task@" in d
    assert ("but this lock was taken by another, HARDIRQ-safe lock in the past:\n"
            " (S){-...}-{3:3}") in d
    assert "Chain exists of:\n  S --> M --> U\n" in d
    assert ("                               lock(S);\n"
            "                               lock(M);\n  <Interrupt>\n    lock(S);") in d
    assert "the shortest dependencies between 2nd lock and 1st lock:" in d


def test_irq_inversion_found_when_a_lock_becomes_irq_safe_looks_forwards() -> None:
    s = sim.SpinLock("S")
    u = sim.SpinLock("U")

    async def handler(cpu: int) -> None:
        await s.lock()
        s.unlock()

    async def task() -> None:
        fl = await s.lock_irqsave()
        await u.lock()                         # S -> U
        u.unlock()
        s.unlock_irqrestore(fl)
        await u.lock()                         # U: HARDIRQ-ON-W
        u.unlock()
        sim.current().cctx.engine.raise_irq(0, 40)
        await sim.point("S becomes HARDIRQ-safe")

    found, _ = _run(lambda eng: eng.spawn(0, task), handler=handler)
    assert _kinds(found) == ["lockdep:irq-lock-inversion"]
    d = found[0].details
    assert "irq/0/1 just changed the state of lock:\n(S){-...}-{3:3}, at: handler@" in d
    assert ("but this lock took another, HARDIRQ-unsafe lock in the past:\n"
            " (U){+.+.}-{3:3}") in d
    assert "Chain exists of:" not in d


def _inversion_on_a_chain(names: str, *, backwards: bool) -> str:
    """The details of the irq lock inversion S ->* U along the dependencies ``names``
    (S first, U last), found when U becomes HARDIRQ-unsafe (``backwards``) or when S
    becomes HARDIRQ-safe."""
    locks = [sim.SpinLock(n, key=n) for n in names]
    s, u = locks[0], locks[-1]

    async def handler(cpu: int) -> None:
        await s.lock()
        s.unlock()

    async def task() -> None:
        if backwards:
            sim.current().cctx.engine.raise_irq(0, 40)
            await sim.point("S becomes HARDIRQ-safe")
        for a, b in itertools.pairwise(locks):
            fl = await a.lock_irqsave()
            await b.lock()                     # a -> b
            b.unlock()
            a.unlock_irqrestore(fl)
        await u.lock()                         # U: HARDIRQ-ON-W
        u.unlock()
        if not backwards:
            sim.current().cctx.engine.raise_irq(0, 40)
            await sim.point("S becomes HARDIRQ-safe")

    found, _ = _run(lambda eng: eng.spawn(0, task), handler=handler)
    assert _kinds(found) == ["lockdep:irq-lock-inversion"]
    return found[0].details


def test_irq_inversion_of_two_locks_backwards_has_no_middle_lock() -> None:
    d = _inversion_on_a_chain("SU", backwards=True)
    assert "Chain exists of:" not in d
    assert ("  lock(U);\n                               local_irq_disable();\n"
            "                               lock(S);\n                               lock(U);\n"
            "  <Interrupt>\n    lock(S);") in d
    deps = d[d.index("the shortest dependencies"):d.index("stack backtrace:")].split("\n")
    assert [x for x in deps if x.startswith(" -> ") or x.startswith("    ...")] == [
        " -> (S){-...}-{3:3}", " -> (U){+.+.}-{3:3}", "    ... acquired at:"]


def test_irq_inversion_forwards_lists_each_dependency_under_the_lock_taken() -> None:
    d = _inversion_on_a_chain("SMU", backwards=False)
    assert "Chain exists of:\n  S --> M --> U\n" in d
    assert "                               lock(S);\n                               lock(M);\n" in d
    deps = d[d.index("the shortest dependencies"):d.index("stack backtrace:")].split("\n")
    assert [x for x in deps if x.startswith(" -> ") or x.startswith("    ...")] == [
        " -> (U){+.+.}-{3:3}", "    ... acquired at:", " -> (M){....}-{3:3}",
        "    ... acquired at:", " -> (S){-...}-{3:3}"]


def test_circular_scenario_names_the_targets_parent() -> None:
    locks = [sim.SpinLock(n, key=n) for n in "ABCD"]

    def pair(x: int, y: int) -> Any:
        async def f() -> None:
            await locks[x].lock()
            await locks[y].lock()
            locks[y].unlock()
            locks[x].unlock()
        return f

    found, _ = _run(lambda eng: [eng.spawn(0, pair(i, (i + 1) % 4)) for i in range(4)])
    assert _kinds(found) == ["lockdep:circular-locking"]
    d = found[0].details
    # D held, A wanted; the chain A -> B -> C -> D exists: source A, target D, and D's
    # parent C (C -> D is a dependency that exists)
    assert "Chain exists of:\n  A --> C --> D\n" in d
    assert ("  lock(D);\n                               lock(C);\n"
            "                               lock(D);\n  lock(A);") in d
