"""Shrinking: fewest preemptions then steps, same failure, deterministic, replayable."""

from __future__ import annotations

import pytest

from irqlab import sim
from irqlab.check.findings import Finding
from irqlab.check.run import Target, run_built, run_once, signature
from irqlab.check.shrink import count_preemptions, shrink


def failing(target: Target, seeds: range) -> tuple[tuple[int, ...], Finding]:
    for s in seeds:
        out = run_built(target.build(sim.Random(s)))
        if out.findings:
            return out.result.choices, out.findings[0]
    raise AssertionError("no failing run")


def test_lost_update_shrinks_to_one_preemption() -> None:
    t = Target("counter", "racy", {"cpus": 3, "iters": 3})
    choices, f = failing(t, range(50))
    assert count_preemptions(t, choices) > 1
    s = shrink(t, choices, f)
    assert s is not None
    assert (s.preemptions, s.steps) == (1, 21)
    assert s.finding.kind == "invariant:counter"
    again = run_once(t, strategy=sim.Replay(s.schedule))
    assert [x.kind for x in again.findings] == ["invariant:counter"]
    assert count_preemptions(t, again.result.choices) == 1


def test_shrinking_is_deterministic() -> None:
    t = Target("counter", "racy", {"cpus": 3, "iters": 2})
    choices, f = failing(t, range(50))
    a, b = shrink(t, choices, f), shrink(t, choices, f)
    assert a is not None and b is not None
    assert a.schedule == b.schedule and a.runs == b.runs


@pytest.mark.parametrize(("scenario", "variant", "max_pre", "max_steps"), [
    ("vgic-lpi-xa", "irq", 0, 24),
    ("vgic-lpi-xa", "plain", 0, 24),
    ("vgic-lpi-refcount", "dec-then-lock", 2, 19),
])
def test_seed_bugs_shrink(scenario: str, variant: str, max_pre: int, max_steps: int) -> None:
    t = Target(scenario, variant)
    choices, f = failing(t, range(500))
    s = shrink(t, choices, f)
    assert s is not None
    assert signature(s.finding) == signature(f)
    assert s.preemptions <= max_pre and s.steps <= max_steps
    assert s.runs <= 200


def test_no_reproduction_gives_none() -> None:
    t = Target("counter", "locked", {"cpus": 2, "iters": 1})
    assert shrink(t, [0, 1], Finding("invariant:counter", "x")) is None


def test_max_runs_bounds_the_work() -> None:
    t = Target("counter", "racy", {"cpus": 3, "iters": 3})
    choices, f = failing(t, range(50))
    s = shrink(t, choices, f, max_runs=3)
    assert s is not None and s.runs <= 3
