"""Attaching the observers: kind-routed handlers, direct forms, finding tags."""

from __future__ import annotations

from typing import Any

import pytest

from irqlab import sim
from irqlab.check.irqs import IrqObserver
from irqlab.check.lifetime import LifetimeObserver
from irqlab.check.lockdep import Lockdep
from irqlab.check.observe import attach
from irqlab.check.run import Target, run_built
from irqlab.events import Event

# scenarios whose runs make lockdep, lifetime and interrupt findings (and clean ones)
CASES = [("vgic-lpi-xa", "irq"), ("vgic-lpi-xa", "plain"), ("vgic-lpi-xa", "irqsave"),
         ("vgic-lpi-refcount", "dec-then-lock"), ("vmd-teardown", "immediate-free"),
         ("vmd-teardown", "srcu"), ("vmd-balance", "least-loaded"), ("vmd-balance", "modulo"),
         ("counter", "irq"), ("its-memreserve", "one-flag")]


def _sig(out: Any) -> list[tuple[Any, ...]]:
    return [(f.kind, f.message, f.details, sorted(f.sites.items()), sorted(f.data.items(),
             key=repr), f.step, f.potential, f.schedule) for f in out.findings]


@pytest.mark.parametrize(("scenario", "variant"), CASES)
def test_direct_forms_give_the_findings_of_delivered_events(scenario: str, variant: str) -> None:
    # alone, the observers take the hot kinds in direct form (no event built); with
    # another subscriber of the same kinds, every such event is built and delivered:
    # same findings, to the byte (kinds, messages, reports with their stacks, sites, seq
    # tags, steps).  (A recorder would also number the sim_step events, which shifts
    # the seq tags: nobody else wants them.)
    t = Target(scenario, variant)
    kinds = frozenset().union(Lockdep.HANDLERS, LifetimeObserver.HANDLERS, IrqObserver.HANDLERS)
    for seed in range(4):
        alone = run_built(t.build(sim.Random(seed)), fast=True)
        w = t.build(sim.Random(seed))
        seen: list[Event] = []
        w.engine.events.subscribe(seen.append, kinds=kinds)
        both = run_built(w, fast=True)
        assert _sig(alone) == _sig(both)
        assert alone.result.schedule == both.result.schedule
        assert seen


def test_direct_forms_are_offered_only_to_a_lone_subscription() -> None:
    w = Target("vmd-balance", "least-loaded").build(sim.Random(0))
    ev = w.engine.events
    obs = attach(w.engine)
    assert set(ev.direct) == {"sim_lock_acquire", "sim_lock_release", "sim_irq_disable",
                              "sim_irq_enable", "sim_alloc", "check_long_lived"}
    rec = ev.record()
    assert ev.direct == {}                    # the recorder must see those events
    rec.stop()
    assert "sim_lock_acquire" in ev.direct
    obs.detach()
    assert ev.direct == {} and not ev.enabled
    w.engine.close()  # (never ran)


def test_findings_are_tagged_with_the_seq_of_their_event() -> None:
    w = Target("vgic-lpi-xa", "irq").build(sim.RoundRobin())
    rec = w.engine.events.record()
    obs = attach(w.engine)
    result = w.engine.run()
    rec.stop()
    found = obs.findings(result)
    assert found and all("seq" in f.data for f in found if f.kind.startswith("lockdep:"))
    by_seq = {e.seq: e for e in rec}
    for f in found:
        if "seq" in f.data:
            assert by_seq[f.data["seq"]].time == f.step


def test_an_added_observer_sees_every_event_and_the_builtins_still_work() -> None:
    w = Target("vgic-lpi-xa", "irq").build(sim.RoundRobin())

    class Counter:
        def __init__(self) -> None:
            self.kinds: list[str] = []
            self.found: list[Any] = []
            self.handlers = {"*": self._any}

        def _any(self, e: Event) -> None:
            self.kinds.append(e.kind)

        def finish(self, result: Any) -> list[Any]:
            return []

    obs = attach(w.engine)
    extra = obs.add(Counter())
    assert w.engine.events.direct == {}
    result = w.engine.run()
    kinds = [f.kind for f in obs.findings(result)]
    assert "lockdep:inconsistent-lock-state" in kinds
    assert "sim_lock_acquire" in extra.kinds and "sim_alloc" in extra.kinds


def _lifetimes(strategy: Any) -> sim.Engine:
    # a use-after-free, a double free and a leak, under locks and irqsave
    eng = sim.Engine(cpus=2, strategy=strategy)
    lock = sim.SpinLock("objs_lock")
    box: dict[str, Any] = {}

    async def owner() -> None:
        flags = await lock.lock_irqsave()
        box["a"] = sim.alloc("obj_a")
        box["b"] = sim.alloc("obj_b")
        sim.alloc("leaked")
        lock.unlock_irqrestore(flags)
        await sim.point()
        sim.kfree(box["a"])
        sim.kfree(box["b"])
        sim.kfree(box["b"])

    async def user() -> None:
        await sim.point()
        await lock.lock()
        a = box.get("a")
        lock.unlock()
        if a is not None:
            await sim.access(a, "r", "a->field")

    eng.spawn(0, owner)
    eng.spawn(1, user)
    return eng


def test_direct_forms_on_lifetime_findings() -> None:
    kinds = frozenset().union(Lockdep.HANDLERS, LifetimeObserver.HANDLERS, IrqObserver.HANDLERS)
    seen_kinds: set[str] = set()
    for seed in range(12):
        alone = run_built(_lifetimes(sim.Random(seed)), fast=True)
        eng = _lifetimes(sim.Random(seed))
        seen: list[Event] = []
        eng.events.subscribe(seen.append, kinds=kinds)
        both = run_built(eng, fast=True)
        assert _sig(alone) == _sig(both)
        seen_kinds |= {f.kind for f in alone.findings}
    assert {"use-after-free", "double-free", "leak"} <= seen_kinds


def test_lockdep_irq_direct_forms_match_the_event_forms() -> None:
    # the engine may deliver sim_irq_enable/disable in direct form: the same state and
    # findings as the events (here driven by hand, as a producer would)
    from irqlab.events import EventStream

    class Eng:
        def __init__(self) -> None:
            self.events = EventStream()
            self.threads: list[Any] = []
            self._stack_now = ["f@x.py:1"]

    def feed(direct: bool) -> list[tuple[str, str, Any]]:
        eng = Eng()
        ld = Lockdep(eng)
        ev = eng.events
        ev.subscribe(lambda e: None)          # (numbers the events)
        seq = 0

        def emit(kind: str, cpu: int, **a: Any) -> None:
            nonlocal seq
            ev._seq = seq + 1
            if direct and kind in ("sim_irq_enable", "sim_irq_disable"):
                getattr(ld, Lockdep.DIRECT[kind])(seq, cpu, *a.values())
            else:
                getattr(ld, Lockdep.HANDLERS[kind])(Event(seq, seq, kind, cpu, a))
            seq += 1

        acq = {"lock": "l", "lid": 1, "class": "c", "subclass": 0, "type": "spin"}
        emit("sim_irq_disable", 0, via="spin_lock_irq", in_irq=False)
        emit("sim_lock_acquire", 0, tid=1, **acq, mode="irq", irqs_disabled=True,
             in_irq=False, prev_irqs_on=True)
        emit("sim_irq_disable", 0, via="local_irq_disable", in_irq=False)
        emit("sim_irq_enable", 0, via="local_irq_restore", in_irq=False)
        emit("sim_lock_release", 0, tid=1, lock="l", lid=1, **{"class": "c"}, type="spin")
        emit("sim_irq_enable", 0, via="spin_unlock_irq", in_irq=False)
        emit("sim_irq_enter", 1, tid=2, name="irq", intid=27)
        emit("sim_lock_acquire", 1, tid=2, **acq, mode="", irqs_disabled=True, in_irq=True,
             prev_irqs_on=False)
        emit("sim_irq_enable", 1, via="local_irq_enable", in_irq=True)
        return [(f.kind, f.details, sorted(f.data.items())) for f in ld.found] + [
            (k, str(v), None) for k, v in sorted(ld._irqs_on.items())]

    assert feed(True) == feed(False)
    kinds = [k for k, _d, _x in feed(True)]
    assert "lockdep:inconsistent-lock-state" in kinds
    assert "lockdep:irq-enabled-in-atomic" in kinds


def test_a_livelock_finding_says_it_may_be_an_unfair_schedule() -> None:
    from irqlab import sim
    from irqlab.check.explore import explore

    def spin(st: sim.Strategy) -> sim.Engine:
        eng = sim.Engine(cpus=2, strategy=st, max_steps=200)
        flag = sim.Atomic(0, name="flag")

        async def waiter() -> None:
            while (await flag.read()) == 0:
                await sim.point("cpu_relax")

        async def setter() -> None:
            await sim.point()
            await flag.set(1)

        eng.spawn(0, waiter)
        eng.spawn(1, setter)
        return eng

    r = explore(spin, strategy="dfs", budget=1, shrink=False)
    assert r.finding is not None and r.finding.kind == "livelock"
    assert r.finding.message == ("no end after 200 steps (the step bound): a livelock, or a "
                                 "context polling while the schedule never runs the one it "
                                 "waits for")
