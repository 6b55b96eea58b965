"""PCT: the probability bound, determinism, planted bugs found within stated budgets."""

from __future__ import annotations

import re

import pytest

from irqlab.check.explore import explore
from irqlab.check.pct import PCT, pct_bound, runs_for_confidence
from irqlab.check.run import run_once
from irqlab.errors import InvalidArgument


def test_bound_and_runs() -> None:
    assert pct_bound(2, 10, 3) == 1 / 200
    assert pct_bound(4, 100, 1) == 1 / 4
    assert runs_for_confidence(0.5) == 5
    assert runs_for_confidence(1 / 200) == 598
    assert runs_for_confidence(1.0) == 1


def test_same_seed_same_runs() -> None:
    a = [run_once("counter", "racy", PCT(s, depth=2, steps=15)).schedule for s in range(8)]
    b = [run_once("counter", "racy", PCT(s, depth=2, steps=15)).schedule for s in range(8)]
    assert a == b and len(set(a)) > 1


def test_depth_one_never_preempts() -> None:
    # without change points the highest-priority context runs until it ends
    out = run_once("counter", "racy", PCT(3, depth=1, steps=15))
    assert not out.findings


def test_learns_k_and_n() -> None:
    st = PCT(0, depth=3)
    run_once("counter", "locked", st)
    assert (st.k, st.n) == (21, 3)
    assert "1/(n*k^(d-1))" in st.describe() and "runs for 95% confidence" in st.describe()


@pytest.mark.parametrize(("scenario", "variant", "budget", "kind"), [
    ("counter", "racy", 20, "invariant:counter"),
    ("vgic-lpi-refcount", "dec-then-lock", 400, "invariant:lpi-lost"),
    ("vgic-lpi-xa", "irq", 1, "lockdep:inconsistent-lock-state"),
])
def test_pct_finds_planted_bugs(scenario: str, variant: str, budget: int, kind: str) -> None:
    r = explore(scenario, variant, strategy="pct", budget=budget, shrink=False)
    assert r.finding is not None and r.expected
    assert any(f.kind == kind for f in r.outcome.findings)
    assert "runs for 95% confidence" in r.info


def test_arguments() -> None:
    with pytest.raises(InvalidArgument):
        PCT("1")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        PCT(0, depth=0)
    with pytest.raises(InvalidArgument):
        PCT(0, steps=0)


def test_data_choices_are_uniform_and_not_contexts() -> None:
    from irqlab import sim
    from irqlab.check.pct import PCT

    strat = PCT(seed=3, depth=2)
    got = set()
    for _ in range(30):
        eng = sim.Engine(cpus=1, strategy=strat)
        out: list[int] = []

        async def pick(out: list[int] = out) -> None:
            out.append(await sim.choose(3))

        eng.spawn(0, pick)
        eng.run()
        got.add(out[0])
    assert got == {0, 1, 2}
    assert strat.n <= 1   # the one task at most: data values are not PCT contexts


def test_the_printed_bound_says_what_it_assumes() -> None:
    # k comes from one round-robin run: runs longer than k are counted, and the bound's
    # assumptions (k bounds every run, no data choice needed) are printed with it
    r = explore("vmd-teardown", "rcu-desc", strategy="pct", budget=60, shrink=False)
    m = re.search(r"k=(\d+) steps.*\((the bound holds for runs of at most k steps, k from one "
                  r"round-robin run, and bugs that need no particular data choice); "
                  r"(\d+) of 60 runs were longer\)$", r.info)
    assert m is not None, r.info
    assert int(m.group(3)) > 0   # this scenario has runs longer than its round-robin run
