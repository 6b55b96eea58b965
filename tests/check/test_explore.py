"""The exploration driver: verdicts of every seed variant, budgets, determinism, reports."""

from __future__ import annotations

import json

import pytest

from irqlab import sim
from irqlab.check.explore import explore
from irqlab.errors import InvalidArgument
from irqlab.scenarios import all_scenarios

# (scenario, variant, strategy, budget within which the planted bug must show)
FOUND = [
    ("vgic-lpi-xa", "irq", "random", 1),
    ("vgic-lpi-xa", "irq", "pct", 1),
    ("vgic-lpi-xa", "irq", "dfs", 1),
    ("vgic-lpi-xa", "plain", "random", 1),
    ("vgic-lpi-xa", "plain", "dfs", 1),
    ("vgic-lpi-refcount", "dec-then-lock", "random", 100),
    ("vgic-lpi-refcount", "dec-then-lock", "pct", 400),
    ("vgic-lpi-refcount", "dec-then-lock", "dfs", 10),
    ("vmd-teardown", "immediate-free", "dfs", 20),
    ("vmd-teardown", "immediate-free", "pct", 500),
    ("vmd-teardown", "immediate-free", "random", 500),
    ("counter", "racy", "random", 5),
    ("counter", "racy", "dfs", 5),
]
CLEAN = [("vgic-lpi-xa", "irqsave"), ("vgic-lpi-refcount", "dec-and-lock"),
         ("vmd-teardown", "rcu-desc"), ("vmd-teardown", "srcu"), ("counter", "locked"),
         ("vmd-balance", "least-loaded")]
NAMES = {sc.name for sc in all_scenarios()} | {"counter"}


@pytest.mark.parametrize(("scenario", "variant", "strategy", "budget"), FOUND)
def test_planted_bug_found_within_budget(scenario: str, variant: str, strategy: str,
                                         budget: int) -> None:
    if scenario not in NAMES:
        pytest.skip(f"scenario {scenario} not built yet")
    r = explore(scenario, variant, strategy=strategy, budget=budget)
    assert r.verdict == "finding" and r.expected, r.report(draw=False)
    assert r.first_at is not None and r.first_at <= budget
    assert r.shrunk is not None and r.shrunk.steps <= 30
    assert r.replay_line.startswith(f"irqlab replay {scenario} --variant {variant} v1.")


@pytest.mark.parametrize(("scenario", "variant"), CLEAN)
def test_fixed_variants_are_clean_under_exhaustive_dfs(scenario: str, variant: str) -> None:
    if scenario not in NAMES:
        pytest.skip(f"scenario {scenario} not built yet")
    r = explore(scenario, variant, strategy="dfs", budget=5000)
    assert r.verdict == "clean" and r.exhausted and r.expected


# seed scenarios whose runs are short enough to explore here (msi-reinsert's 100
# reinsertion cycles take seconds per run: its own tests and `irqlab check` cover it)
QUICK = ("its-memreserve", "vgic-lpi-xa", "vgic-lpi-refcount", "vmd-teardown", "vmd-balance")


def test_every_quick_seed_variant_meets_its_claim_under_dfs() -> None:
    for sc in all_scenarios():
        if sc.name not in QUICK:
            continue
        for v in sc.variants:
            r = explore(sc.name, v.name, strategy="dfs", budget=100, time=20, shrink=False)
            assert r.expected, f"{sc.name}/{v.name}: {r.verdict}\n{r.report(draw=False)}"


def test_same_seed_same_report_byte_for_byte() -> None:
    a = explore("vgic-lpi-refcount", "dec-then-lock", strategy="random", seed=7, budget=300)
    b = explore("vgic-lpi-refcount", "dec-then-lock", strategy="random", seed=7, budget=300)
    assert a.report() == b.report()
    da, db = a.as_dict(), b.as_dict()
    da.pop("elapsed")
    db.pop("elapsed")
    assert da == db
    json.dumps(da)


def test_shrunk_schedule_replays_to_the_finding() -> None:
    r = explore("counter", "racy", strategy="random", budget=10)
    from irqlab.check.run import run_once

    out = run_once("counter", "racy", sim.Replay(r.schedule))
    assert [f.kind for f in out.findings] == ["invariant:counter"]


def test_budgets() -> None:
    r = explore("counter", "locked", strategy="random", budget=7)
    assert (r.schedules, r.verdict) == (7, "clean")
    r = explore("counter", "locked", strategy="dfs", budget=5)
    assert r.schedules == 5 and not r.exhausted
    r = explore("counter", "locked", strategy="random", time=0.3, params={"cpus": 4, "iters": 3})
    assert r.schedules > 0 and r.elapsed < 5


def test_factory_target() -> None:
    def build(strategy: sim.Strategy) -> sim.Engine:
        eng = sim.Engine(cpus=2, strategy=strategy)
        lk = sim.SpinLock("L")

        async def f() -> None:
            await lk.lock()
            lk.unlock()

        eng.spawn(0, f)
        eng.spawn(1, f)
        return eng

    r = explore(build, strategy="dfs")
    assert r.verdict == "clean" and r.exhausted and r.schedules == 2
    # a model of the user's claims nothing: its report says the verdict, not a surprise
    assert r.report().splitlines()[0] == "build: CLEAN"

    def twice(strategy: sim.Strategy) -> sim.Engine:
        eng = sim.Engine(cpus=1, strategy=strategy)
        lk = sim.SpinLock("L")

        async def f() -> None:
            await lk.lock()
            await lk.lock()   # recursive locking: lockdep reports it, the run deadlocks

        eng.spawn(0, f)
        return eng

    r = explore(twice, strategy="dfs")
    assert r.report().splitlines()[0] == "twice: FINDING"


@pytest.mark.parametrize("kw", [{"strategy": "bfs"}, {"budget": 0}, {"time": -1},
                                {"seed": "x"}, {"depth": 0}, {"preemptions": -2},
                                {"workers": 0}])
def test_bad_arguments(kw: dict) -> None:
    with pytest.raises(InvalidArgument):
        explore("counter", "locked", **kw)


def test_unknown_scenario_and_variant() -> None:
    with pytest.raises(InvalidArgument, match="scenario must be one of"):
        explore("nope")
    with pytest.raises(InvalidArgument, match="variant must be one of"):
        explore("counter", "nope")


def test_report_shapes() -> None:
    r = explore("counter", "locked", strategy="dfs", params={"cpus": 2, "iters": 1})
    assert r.report().splitlines()[0] == "counter --variant locked: CLEAN (as expected)"
    r = explore("counter", "racy", strategy="dfs", params={"cpus": 2, "iters": 1})
    text = r.report()
    assert text.splitlines()[0] == "counter --variant racy: FINDING (as expected)"
    assert "counterexample:" in text and "CPU0" in text and "CPU1" in text
    assert text.splitlines()[-1].startswith("  replay: irqlab replay counter --variant racy "
                                            "-p cpus=2 -p iters=1 v1.")


def test_bounded_dfs_says_what_the_bound_leaves_out() -> None:
    t = {"params": {"cpus": 2, "iters": 1}, "strategy": "dfs", "shrink": False}
    r = explore("counter", "irq", preemptions=1, **t)   # type: ignore[arg-type]
    assert r.info.startswith("DFS (source-DPOR + sleep sets, <= 1 preemptions; not every "
                             "behaviour within the bound: --no-reduction for all): ")
    r = explore("counter", "irq", preemptions=1, reduction=False, **t)  # type: ignore[arg-type]
    assert r.info.startswith("DFS (no reduction, <= 1 preemptions: every such schedule): ")
    assert r.exhausted is False and r.verdict == "finding"


@pytest.mark.parametrize(("scenario", "variant"), [("vmd-teardown", "immediate-free"),
                                                   ("vgic-lpi-xa", "irq")])
def test_finding_event_numbers_match_the_replay(scenario: str, variant: str) -> None:
    # exploration runs drop the per-step events, a replay records them: both number them,
    # so a finding's data["seq"] (the event it was made at) is the same in both
    from irqlab.check.run import run_once

    r = explore(scenario, variant, strategy="dfs", shrink=False)
    assert r.outcome is not None
    fast = [(f.kind, f.data.get("seq")) for f in r.outcome.findings]
    rec = run_once(scenario, variant, sim.Replay(r.outcome.result.schedule), record=True)
    assert fast == [(f.kind, f.data.get("seq")) for f in rec.findings]
    assert all(seq is not None for _, seq in fast)


def test_bounded_dfs_on_two_workers_says_the_same() -> None:
    r = explore("counter", "irq", strategy="dfs", preemptions=1, workers=2, shrink=False,
                params={"cpus": 2, "iters": 1})
    assert r.info.startswith("DFS (source-DPOR + sleep sets, <= 1 preemptions; not every "
                             "behaviour within the bound: --no-reduction for all) in shards: ")


def test_observe_preempt_rt_applies_lockdeps_rt_rules() -> None:
    def raw_then_spin(strategy: sim.Strategy) -> sim.Engine:
        eng = sim.Engine(cpus=1, strategy=strategy)
        r = sim.SpinLock("R", raw=True)
        s = sim.SpinLock("S")

        async def t() -> None:
            await r.lock()
            await s.lock()   # spinlock_t sleeps on PREEMPT_RT: not under a raw spinlock
            s.unlock()
            r.unlock()

        eng.spawn(0, t)
        return eng

    assert explore(raw_then_spin, strategy="dfs").verdict == "clean"
    r = explore(raw_then_spin, strategy="dfs", observe="preempt_rt")
    assert r.finding is not None and r.finding.kind == "lockdep:invalid-wait-context"
    with pytest.raises(InvalidArgument, match="observe must be"):
        explore(raw_then_spin, observe="rt")
