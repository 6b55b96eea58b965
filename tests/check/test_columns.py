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
