"""Reports: replaying a schedule of a user's model from Python, and the text of one run."""

from __future__ import annotations

import pytest

from irqlab import check, sim
from irqlab.check.explore import explore
from irqlab.errors import InvalidArgumentType


def abba(strategy: sim.Strategy) -> sim.Engine:
    eng = sim.Engine(cpus=2, strategy=strategy)
    a = sim.SpinLock("A")
    b = sim.SpinLock("B")

    async def ab() -> None:
        await a.lock()
        await b.lock()
        b.unlock()
        a.unlock()

    async def ba() -> None:
        await b.lock()
        await a.lock()
        a.unlock()
        b.unlock()

    eng.spawn(0, ab)
    eng.spawn(1, ba)
    return eng


def ab_only(strategy: sim.Strategy) -> sim.Engine:
    eng = sim.Engine(cpus=2, strategy=strategy)
    a = sim.SpinLock("A")

    async def one() -> None:
        await a.lock()
        a.unlock()

    eng.spawn(0, one)
    eng.spawn(1, one)
    return eng


def test_the_replay_line_of_a_user_model_replays_it() -> None:
    r = explore(abba, strategy="dfs", expect="deadlock")
    assert r.replay_line == f"irqlab.check.replay(abba, {r.schedule!r})"
    out = check.replay(abba, r.schedule)
    assert [f.kind for f in out.findings] == [f.kind for f in r.outcome.findings]
    assert "deadlock" in [f.kind for f in out.findings]
    text = out.report()
    assert text.startswith(f"deadlock after {out.result.steps} steps: {r.schedule}")
    assert "CPU0" in text and "CPU1" in text
    assert text.endswith("verdict: FINDING")
    assert "\n  run:\n" in text and "\n  run:\n" not in out.report(draw=False)
    lam = explore(lambda st: abba(st), strategy="dfs")
    assert lam.replay_line == f"irqlab.check.replay(factory, {lam.schedule!r})"
    # the same call for a scenario variant
    s = explore("vmd-teardown", "immediate-free", strategy="dfs").schedule
    out = check.replay("vmd-teardown", s, "immediate-free")
    assert "use-after-free" in [f.kind for f in out.findings]


def test_a_schedule_of_another_model_is_refused() -> None:
    s = explore(abba, strategy="dfs").schedule
    with pytest.raises(sim.ScheduleDivergence, match="recorded for scenario"):
        check.replay(ab_only, s)
    with pytest.raises(InvalidArgumentType, match="schedule"):
        check.replay(abba, 42)  # type: ignore[arg-type]


def test_format_outcome_head_replaces_the_first_line() -> None:
    from irqlab.check.report import format_outcome, replay

    out = replay("counter", "v1.0119a26c.a33a6cca.0000y5z20", "racy")
    text = format_outcome(out, draw=False)
    assert text.splitlines()[0] == "ok after 15 steps: v1.0119a26c.a33a6cca.0000y5z20"
    assert format_outcome(out, draw=False, head="counter racy") == (
        "counter racy\n" + text.split("\n", 1)[1])
