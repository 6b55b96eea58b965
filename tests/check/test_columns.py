"""Tests for the CPU-column drawing: the seed-004 picture from a toy VMD teardown run."""

from __future__ import annotations

import pytest

from irqlab import sim
from irqlab.check.columns import ColumnRecorder, draw, rows_from_events
from irqlab.check.observe import attach
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue


class Script(sim.Strategy):
    """Follow ``(kind, cpu, label part)`` rules in order, one per choice point that offers it."""

    def __init__(self, rules):
        self.rules = list(rules)

    def choose(self, choices, engine):
        if self.rules:
            kind, cpu, part = self.rules[0]
            for i, c in enumerate(choices):
                desc = c.op.describe() if c.op is not None else None
                if c.kind == kind and c.cpu == cpu and (
                        (part is None and desc is None) or (part and desc and part in desc)):
                    self.rules.pop(0)
                    return i
        return 0


def _vmd(strategy):
    eng = sim.Engine(cpus=2, strategy=strategy)
    lock = sim.SpinLock("vmd->cfg_lock")
    st = {}

    async def vmd_msi_deactivate():
        f = await lock.lock_irqsave()
        await sim.point("list_del_rcu()")
        lock.unlock_irqrestore(f)

    async def free_irq():
        await vmd_msi_deactivate()
        await sim.point("synchronize_irq(D)")
        sim.kfree_rcu(st["vmdirq"])
        sim.kfree(st["desc"])

    async def driver_exit():
        st["desc"] = sim.alloc("IrqDesc")
        st["vmdirq"] = sim.alloc("vmd_irq")
        eng.raise_irq(1, 42)
        await sim.point()
        await free_irq()

    async def vmd_flow_handler(cpu):
        sim.rcu_read_lock()
        await sim.access(st["vmdirq"], "r", "vmdirq = list_entry(...)")
        await sim.point("D = vmdirq->virq")
        await sim.access(st["desc"], "r", "desc->handle_irq(desc)")
        sim.rcu_read_unlock()

    async def idle():
        await sim.point()

    eng.set_irq_handler(vmd_flow_handler)
    eng.spawn(0, driver_exit)
    eng.spawn(1, idle)
    return eng


SCRIPT = [("task", 1, "start"), ("task", 1, "point"),
          ("task", 0, "point"), ("task", 0, "spin_lock"), ("irq", 1, None),
          ("task", 0, "list_del_rcu"), ("irq", 1, "vmdirq"), ("task", 0, "synchronize_irq")]

PICTURE = """\
   CPU0                         CPU1                         RCU
   ----                         ----                         ---
                                idle()
   driver_exit()
   alloc IrqDesc#0
   alloc vmd_irq#1
   raise IRQ 42 on CPU1
   free_irq()
   vmd_msi_deactivate()
   spin_lock_irqsave(vmd->cfg_lock)
                                --> IRQ 42
                                  vmd_flow_handler()
                                  rcu_read_lock()
   list_del_rcu()
   spin_unlock_irqrestore(vmd->cfg_lock)
                                  vmdirq = list_entry(...)
   synchronize_irq(D)
   kfree_rcu(vmd_irq#1)
   kfree(IrqDesc#0)
                                  D = vmdirq->virq
>>                                desc->handle_irq(desc)  <-- KABOOOOM!
                                  rcu_read_unlock()
                                <-- IRQ
                                                             kfree(vmd_irq#1)"""


def _run():
    eng = _vmd(Script(SCRIPT))
    obs = attach(eng)
    rec = obs.add(ColumnRecorder(eng))
    res = eng.run()
    found = obs.findings(res)
    uaf = next(f for f in found if f.kind == "use-after-free")
    return rec, uaf


def test_seed_004_picture() -> None:
    rec, uaf = _run()
    assert draw(rec, highlight=uaf.step, max_width=90, color=False) == PICTURE
    assert draw(rec, finding=uaf, max_width=90, color=False) == PICTURE


def test_deterministic() -> None:
    a, fa = _run()
    b, fb = _run()
    assert draw(a, highlight=fa.step, color=False) == draw(b, highlight=fb.step, color=False)


def test_from_events_only_and_not_compact() -> None:
    rec, uaf = _run()
    text = draw(rec.events, highlight=uaf.step, max_width=90, compact=False, color=False)
    lines = text.splitlines()
    assert lines[0].split() == ["CPU0", "CPU1", "RCU"]
    assert ">>                                desc->handle_irq(desc)  <-- KABOOOOM!" in lines
    assert "(step)" in text          # dull steps are kept
    assert "vmd_flow_handler()" not in text   # no stacks without a ColumnRecorder


def test_max_width_bounds_every_line() -> None:
    rec, uaf = _run()
    text = draw(rec, highlight=uaf.step, max_width=40, color=False)
    assert max(len(line) for line in text.splitlines()) <= 40 + len("  <-- KABOOOOM!") + 3
    for line in text.splitlines():
        if not line.startswith(">>"):
            assert len(line) <= 40


def test_compact_collapses_long_dull_runs() -> None:
    async def t():
        for _ in range(5):
            await sim.point()
        await sim.point("done")

    eng = sim.Engine(cpus=1)
    eng.spawn(0, t, name="t")
    rec = ColumnRecorder(eng).attach()
    eng.run()
    text = draw(rec.events, color=False)
    assert text.splitlines()[2:] == ["   ...", "   done"]


def test_rows_and_bad_arguments() -> None:
    rec, _ = _run()
    rows, order, titles = rows_from_events(rec.events, rec.stacks)
    assert order == [0, 1, "RCU"]
    assert rows[0].text == "idle()" and rows[0].col == 1
    assert titles == {0: "CPU0", 1: "CPU1", "RCU": "RCU"}
    with pytest.raises(InvalidArgumentType, match="source must be"):
        draw(42)
    with pytest.raises(InvalidArgumentValue, match="max_width"):
        draw(rec, max_width=5)
    assert draw([], color=False) == "(no steps)"


def test_color_falls_back_to_plain_without_rich(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "rich", None)   # import rich -> ImportError
    monkeypatch.setitem(sys.modules, "rich.console", None)
    rec, uaf = _run()
    assert draw(rec, highlight=uaf.step, max_width=90, color=True) == PICTURE


def test_color_with_rich() -> None:
    pytest.importorskip("rich")
    rec, uaf = _run()
    out = draw(rec, highlight=uaf.step, max_width=90, color=True)
    assert "\x1b[" in out
    assert "<-- KABOOOOM!" in out


def test_finding_marks_its_event_row() -> None:
    from irqlab.scenarios import get_scenario

    w = get_scenario("vgic-lpi-xa").build("irq", None)
    obs = attach(w.engine)
    rec = obs.add(ColumnRecorder(w.engine))
    res = w.engine.run()
    found = obs.findings(res)
    inc = found[0]
    assert inc.kind == "lockdep:inconsistent-lock-state"
    text = draw(rec, finding=inc, max_width=120, color=False)
    hit = [ln for ln in text.splitlines() if ln.startswith(">>")]
    assert hit == [">> spin_unlock_irq(lpi_xa.xa_lock)  <-- lockdep:inconsistent-lock-state"]
    assert text.splitlines()[0].split() == ["CPU0", "CPU1", "eventfd", "RCU"]


def test_long_prologue_collapses() -> None:
    async def setup_step(i):
        await sim.point(f"setup {i}")

    async def boot():
        for i in range(20):
            await setup_step(i)
        sim.current().cctx.engine.raise_irq(1, 5)
        await sim.point("race")

    async def handler(cpu):
        await sim.point("in irq")

    eng = sim.Engine(cpus=2)
    eng.set_irq_handler(handler)
    eng.spawn(0, boot)
    rec = ColumnRecorder(eng).attach()
    eng.run()
    lines = draw(rec, color=False).splitlines()
    assert lines[2:4] == ["   boot()", "   ..."]
    assert "   setup 19" in lines and "   setup 3" not in lines
    full = draw(rec, color=False, compact=False).splitlines()
    assert "   setup 3" in full


def test_long_runs_keep_the_opening_and_the_window_before_the_marked_row() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    rec = ColumnRecorder(eng).attach()

    async def reload_cycles():
        for i in range(200):
            await sim.point(f"cycle {i}")
        obj = sim.alloc("IrqDesc")
        sim.kfree(obj)
        await sim.access(obj, "r", "use after free")
        for i in range(50):
            await sim.point(f"after {i}")

    eng.spawn(0, reload_cycles)
    eng.run()
    step = next(e.time for e in rec.events if e.kind == "sim_access")
    text = draw(rec, highlight=step, max_rows=40, color=False)
    lines = text.splitlines()
    assert len(lines) <= 2 + 40
    assert "cycle 0" in text and "cycle 150" not in text
    hit = next(i for i, line in enumerate(lines) if line.startswith(">>"))
    assert "use after free" in lines[hit]
    assert 0 < len(lines) - 1 - hit <= 40 // 8
    full = draw(rec, highlight=step, max_rows=1000, color=False)
    assert "cycle 150" in full and len(full.splitlines()) > 200


def test_data_choice_row() -> None:
    eng = sim.Engine(cpus=1, strategy=sim.Replay([2, 0]))

    async def pick():
        await sim.choose(3, "vector")
        await sim.choose(2)

    eng.spawn(0, pick)
    rec = ColumnRecorder(eng).attach()
    eng.run()
    text = draw(rec, color=False)
    assert "choose(vector) -> 2" in text
    assert "choose(2) -> 0" in text


# -- the cause of a finding is drawn (models from a user review) -----------------------------

def _report(factory, *, observe=True):
    """The shortest failing run of ``factory`` as ``irqlab check`` reports it (recorded)."""
    from irqlab.check.explore import explore
    from irqlab.check.report import record_run

    res = explore(factory, strategy="dfs", budget=500, observe=observe, stop="first")
    assert res.finding is not None
    return record_run(res.target, res.schedule)


def _lost_wakeup(strategy):
    # reinit_completion after starting the I/O: the completion may be thrown away
    eng = sim.Engine(cpus=2, strategy=strategy)
    done = sim.Completion("io_done")

    async def handler(cpu):
        await sim.point("io irq")
        done.complete()

    async def submitter():
        eng.raise_irq(1, 50)
        await sim.point("io started")
        done.reinit()
        await done.wait_for_completion()

    eng.set_irq_handler(handler)
    eng.spawn(0, submitter)
    return eng


def test_a_lost_wakeup_draws_the_wait_that_never_returns() -> None:
    out = _report(_lost_wakeup)
    dl = next(f for f in out.findings if f.kind == "deadlock")
    assert draw(out.recorder, finding=dl, max_width=60, color=False).splitlines() == [
        "   CPU0                        CPU1",
        "   ----                        ----",
        "   submitter()",
        "   raise IRQ 50 on CPU1",
        "                               --> IRQ 50",
        "                                 handler()",
        "                                 io irq",
        "                                 complete(io_done)",
        "                               <-- IRQ",
        "   io started",
        "   reinit_completion(io_done)",
        ">> wait_for_completion(io_done)  ... blocked  <-- deadlock"]
    # from the events alone too (the deadlock event says where each context is parked)
    assert draw(out.events, finding=dl, max_width=60, color=False).splitlines()[-1] == (
        ">> wait_for_completion(io_done)  ... blocked  <-- deadlock")


def test_a_wait_for_completion_that_returns_is_a_row() -> None:
    eng = sim.Engine(cpus=2)
    done = sim.Completion("fw_loaded")

    async def loader():
        await sim.point("load fw")
        done.complete()

    async def waiter():
        await done.wait_for_completion()
        await sim.point("use fw")

    eng.spawn(0, waiter)
    eng.spawn(1, loader)
    rec = ColumnRecorder(eng).attach()
    eng.run()
    lines = draw(rec, max_width=60, color=False).splitlines()
    assert [ln.strip() for ln in lines[2:]] == [
        "waiter()", "loader()", "load fw", "complete(fw_loaded)",
        "wait_for_completion(fw_loaded)", "use fw"]


def test_a_completion_reinit_event_is_a_row() -> None:
    from irqlab.events import Event

    evs = [Event(0, 1, "sim_step", 0, {"tid": 0, "op": "point", "obj": -1, "label": "go"}),
           Event(1, 1, "sim_completion_reinit", 0, {"tid": 0, "completion": "io_done"})]
    assert draw(evs, color=False).splitlines()[2:] == ["   go", "   reinit_completion(io_done)"]


def _sleep_under_spin(strategy):
    eng = sim.Engine(cpus=2, strategy=strategy)
    s = sim.SpinLock("dev_lock")
    done = sim.Completion("fw_loaded")

    async def t0():
        await s.lock()
        await done.wait_for_completion()
        s.unlock()

    async def t1():
        await sim.point("load fw")
        done.complete()

    eng.spawn(0, t0)
    eng.spawn(1, t1)
    return eng


def test_sleep_in_atomic_marks_the_sleeping_operation() -> None:
    # the report is made when t0 parks at the wait (in the spin_lock step); the row that
    # performs the wait stands for it
    out = _report(_sleep_under_spin)
    f = out.findings[0]
    assert f.kind == "sleep-in-atomic"
    assert draw(out.recorder, finding=f, max_width=60, color=False).splitlines() == [
        "   CPU0                        CPU1",
        "   ----                        ----",
        "   t0()",
        "   spin_lock(dev_lock)",
        "                               t1()",
        "                               load fw",
        "                               complete(fw_loaded)",
        ">> wait_for_completion(fw_loaded)  <-- sleep-in-atomic",
        "   spin_unlock(dev_lock)"]
    full = draw(out.recorder, finding=f, max_width=60, compact=False, color=False)
    assert [ln for ln in full.splitlines() if ln.startswith(">>")] == [
        ">> wait_for_completion(fw_loaded)  <-- sleep-in-atomic"]


def _mutex_in_irq(strategy):
    eng = sim.Engine(cpus=1, strategy=strategy)
    m = sim.Mutex("cfg_mutex")

    async def handler(cpu):
        await m.lock()
        m.unlock()

    async def task():
        eng.raise_irq(0, 33)
        await sim.point("x")

    eng.set_irq_handler(handler)
    eng.spawn(0, task)
    return eng


def test_sleep_in_atomic_in_irq_marks_the_mutex_lock() -> None:
    out = _report(_mutex_in_irq)
    f = next(f for f in out.findings if f.kind == "sleep-in-atomic")
    assert draw(out.recorder, finding=f, max_width=60, color=False).splitlines() == [
        "   CPU0",
        "   ----",
        "   task()",
        "   raise IRQ 33 on CPU0",
        "   x",
        "   --> IRQ 33",
        "     handler()",
        ">>   mutex_lock(cfg_mutex)  <-- sleep-in-atomic",
        "     mutex_unlock(cfg_mutex)",
        "   <-- IRQ"]


def test_a_might_sleep_call_is_a_row() -> None:
    eng = sim.Engine(cpus=1)
    lk = sim.SpinLock("l")

    async def t():
        await lk.lock()
        sim.might_sleep("kmalloc(GFP_KERNEL)")
        await sim.point("after")
        lk.unlock()

    eng.spawn(0, t)
    obs = attach(eng)
    rec = obs.add(ColumnRecorder(eng))
    f = obs.findings(eng.run())[0]
    assert f.kind == "sleep-in-atomic"
    assert draw(rec, finding=f, color=False).splitlines()[2:] == [
        "   t()", "   spin_lock(l)", ">> kmalloc(GFP_KERNEL)  <-- sleep-in-atomic", "   after",
        "   spin_unlock(l)"]


def _abba(strategy):
    eng = sim.Engine(cpus=2, strategy=strategy)
    a = sim.SpinLock("A")   # (one lock class per line)
    b = sim.SpinLock("B")

    async def t0():
        await a.lock()
        await b.lock()
        b.unlock()
        a.unlock()

    async def t1():
        await b.lock()
        await a.lock()
        a.unlock()
        b.unlock()

    eng.spawn(0, t0)
    eng.spawn(1, t1)
    return eng


ABBA = [
    "   CPU0                                            CPU1",
    "   ----                                            ----",
    "   t0()",
    "   spin_lock(A)",
    "                                                   t1()",
    "                                                   spin_lock(B)"]


def test_a_witnessed_deadlock_draws_both_blocked_acquisitions() -> None:
    out = _report(_abba, observe=False)
    dl = out.findings[0]
    assert dl.kind == "deadlock"
    assert draw(out.recorder, finding=dl, color=False).splitlines() == [*ABBA,
        ">> spin_lock(B)  ... blocked by t1",
        ">>                                                 spin_lock(A)  ... blocked by t0"
        "  <-- deadlock"]
    # with lockdep on, its report of the parked attempt marks the acquisition it validated
    from irqlab.check.report import record_run
    from irqlab.check.run import make_target

    seen = record_run(make_target(_abba), out.schedule)
    circ = next(f for f in seen.findings if f.kind == "lockdep:circular-locking")
    col = " " * 63   # (130 - 3) // 2: the second column's offset
    assert draw(seen.recorder, finding=circ, max_width=130, color=False).splitlines() == [
        "   CPU0" + col[4:] + "CPU1",
        "   ----" + col[4:] + "----",
        "   t0()",
        "   spin_lock(A)",
        "   " + col + "t1()",
        "   " + col + "spin_lock(B)",
        "   spin_lock(B)  ... blocked by t1",
        ">> " + col + "spin_lock(A)  ... blocked by t0  <-- lockdep:circular-locking"]


def test_a_context_under_an_interrupt_waits_for_it_to_return() -> None:
    def aa(strategy):
        eng = sim.Engine(cpus=1, strategy=strategy)
        lk = sim.SpinLock("stats_lock")

        async def handler(cpu):
            await lk.lock()
            lk.unlock()

        async def task():
            eng.raise_irq(0, 40)
            await lk.lock()
            await sim.point("count++")
            lk.unlock()

        eng.set_irq_handler(handler)
        eng.spawn(0, task)
        return eng

    out = _report(aa, observe=False)
    assert draw(out.recorder, finding=out.findings[0], color=False).splitlines()[-2:] == [
        ">> count++  ... blocked, waits for irq/0 to return",
        ">>   spin_lock(stats_lock)  ... blocked by task  <-- deadlock"]


def test_atomics_are_drawn_with_their_names() -> None:
    def rcu_uaf(strategy):
        eng = sim.Engine(cpus=2, strategy=strategy)
        gp = sim.Atomic(None, name="global_ptr")

        async def updater():
            obj = sim.alloc("foo")
            await gp.set(obj)
            await sim.point("publish done")
            await gp.set(None)
            sim.kfree(obj)

        async def reader():
            sim.rcu_read_lock()
            p = await gp.read()
            if p is not None:
                await sim.access(p, "r", "p->field")
            sim.rcu_read_unlock()

        eng.spawn(0, updater)
        eng.spawn(1, reader)
        return eng

    out = _report(rcu_uaf)
    uaf = next(f for f in out.findings if f.kind == "use-after-free")
    assert draw(out.recorder, finding=uaf, max_width=60, color=False).splitlines() == [
        "   CPU0                        CPU1",
        "   ----                        ----",
        "   updater()",
        "   alloc foo#0",
        "   atomic_set(global_ptr)",
        "   publish done",
        "                               reader()",
        "                               rcu_read_lock()",
        "                               atomic_read(global_ptr)",
        "   atomic_set(global_ptr)",
        "   kfree(foo#0)",
        ">>                             p->field  <-- KABOOOOM!",
        "                               rcu_read_unlock()"]


# the sim_deadlock event's waits: (cpu, tid, name, waiting for, holder) per context
WAITS = ((0, 0, "t0", "spin_lock(B, irqsave)", "dev"),
         (None, 1, "dev", "mutex_lock(A)", "t0"))


def test_blocked_rows_from_the_deadlock_event_alone() -> None:
    from irqlab.events import Event

    report = ("deadlock: every live context is blocked\n"
              "  CPU0:\n"
              "    t0 [task tid 0] waits for spin_lock(B, irqsave) held by dev (tid 1); holds A\n"
              "  device actors:\n"
              "    dev [actor tid 1] waits for mutex_lock(A) held by t0 (tid 0, cpu0); holds B\n"
              "  cycle: t0 -> dev -> t0")
    evs = [Event(0, 1, "sim_spawn", None, {"tid": 1, "name": "dev", "ctx": "actor"}),
           Event(1, 1, "sim_step", 0, {"tid": 0, "op": "point", "obj": -1, "label": "go"}),
           Event(2, 2, "sim_step", None, {"tid": 1, "op": "point", "obj": -1, "label": "dma"}),
           Event(3, 2, "sim_deadlock", None, {"cycle": "t0 -> dev", "report": report,
                                               "waits": WAITS})]
    rows, order, titles = rows_from_events(evs)
    assert order == [0, ("actor", 1)] and titles[("actor", 1)] == "dev"
    assert [(r.col, r.text, r.role, r.ctx) for r in rows[-2:]] == [
        (0, "spin_lock_irqsave(B)  ... blocked by dev", "blocked", "t0"),
        (("actor", 1), "mutex_lock(A)  ... blocked by t0", "blocked", "dev")]
    # highlight (a step, no finding) marks the step's operation, as before
    assert draw(evs, highlight=2, max_width=60, color=False).splitlines()[-3] == (
        ">>                             dma  <-- KABOOOOM!")


def test_blocked_rows_come_from_the_waits_not_the_report_text() -> None:
    from irqlab.events import Event

    evs = [Event(0, 1, "sim_spawn", None, {"tid": 1, "name": "dev", "ctx": "actor"}),
           Event(1, 1, "sim_step", 0, {"tid": 0, "op": "point", "obj": -1, "label": "go"}),
           Event(2, 2, "sim_deadlock", None, {"cycle": "", "report": "", "waits": WAITS})]
    assert [(r.col, r.text, r.ctx) for r in rows_from_events(evs)[0] if r.role == "blocked"] == [
        (0, "spin_lock_irqsave(B)  ... blocked by dev", "t0"),
        (("actor", 1), "mutex_lock(A)  ... blocked by t0", "dev")]
