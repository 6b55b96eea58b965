"""vmd-teardown (seed 004): the child irq_desc use-after-free and its two fixes."""

from __future__ import annotations

from irqlab import sim
from irqlab.check.observe import attach
from irqlab.scenarios import get_scenario

SC = get_scenario("vmd-teardown")
BUDGET = 300  # seeded random runs; the use-after-free first shows at seed 13


def _run(variant: str, strategy: sim.Strategy | None):
    w = SC.build(variant, strategy)
    obs = attach(w.engine)
    r = w.engine.run()
    return obs.findings(r) + w.check(r), r, w


def _fn(site: str) -> str:
    return site.split("@")[0]


def test_registered() -> None:
    assert SC.seed == "004"
    assert [v.name for v in SC.variants] == ["immediate-free", "rcu-desc", "srcu"]
    assert SC.variant("immediate-free").expect == "use-after-free"
    assert SC.variant("rcu-desc").expect is None and SC.variant("srcu").expect is None


def test_default_schedule_is_clean_for_every_variant() -> None:
    for v in ("immediate-free", "rcu-desc", "srcu"):
        found, r, w = _run(v, None)
        assert r.outcome == "ok" and found == [], (v, [str(f) for f in found])
        assert w.summary(r).startswith("child IRQ 2 on VMD vector 0")


def test_immediate_free_use_after_free_found_by_seeded_random() -> None:
    first = None
    for seed in range(BUDGET):
        found, r, _ = _run("immediate-free", sim.Random(seed))
        uaf = [f for f in found if f.kind == "use-after-free"]
        if uaf:
            first = seed, uaf[0], r
            break
    assert first is not None
    seed, f, r = first
    assert seed == 13
    assert f.data["obj_kind"] == "IrqDesc"
    assert _fn(f.sites["alloc"]) == "alloc_descs"
    assert _fn(f.sites["free"]) == "free_descs"
    assert _fn(f.sites["use"]) in ("generic_handle_irq", "handle_simple_irq")
    # the use is CPU1's VMD handler, the free CPU0's driver exit
    assert "vmd_walk" in f.details and "pci_free_irq_vectors" in f.details
    again, r2, _ = _run("immediate-free", sim.Replay(r.schedule))
    assert [g.kind for g in again] == [g.kind for g in _run("immediate-free",
                                                            sim.Random(13))[0]]
    assert r2.schedule == r.schedule


def test_fixed_variants_clean_over_the_same_budget() -> None:
    for v in ("rcu-desc", "srcu"):
        for seed in range(BUDGET):
            found, r, _ = _run(v, sim.Random(seed))
            assert r.outcome == "ok"
            assert found == [], (v, seed, [str(f) for f in found])


def test_explorers_find_the_bug_and_prove_the_fixes() -> None:
    from irqlab.check.explore import explore

    for strategy in ("dfs", "pct", "random"):
        res = explore("vmd-teardown", "immediate-free", strategy=strategy, budget=500)
        assert res.verdict == "finding", strategy
        assert res.finding.kind == "use-after-free"
        assert res.schedules <= 50, (strategy, res.schedules)
    for v in ("rcu-desc", "srcu"):
        res = explore("vmd-teardown", v, strategy="dfs")
        assert res.verdict == "clean" and res.exhausted, v


def test_pct_counterexample_is_the_threads_picture() -> None:
    from irqlab.check.explore import explore

    res = explore("vmd-teardown", "immediate-free", strategy="pct")
    text = res.report()
    # CPU0 in the driver exit (free_irq ... irq_free_descs), CPU1 in the chained handler
    for needle in ("free_irq()", "free_descs()", "kfree(IrqDesc", "vmd_flow_handler()",
                   "vmdirq->virq", "irqlab replay vmd-teardown --variant immediate-free"):
        assert needle in text, needle
