"""vmd-balance (seed 004): modulo assignment crowds vectors, least-loaded does not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab import sim
from irqlab.check.observe import attach
from irqlab.errors import InvalidArgumentValue
from irqlab.scenarios import get_scenario

SC = get_scenario("vmd-balance")
BUDGET = 40  # random runs; modulo first breaks at seed 3


def _run(variant: str, strategy: sim.Strategy | None, **params: object):
    w = SC.build(variant, strategy, **params)
    obs = attach(w.engine)
    r = w.engine.run()
    return obs.findings(r) + w.check(r), r, w


def test_registered() -> None:
    assert SC.seed == "004"
    assert SC.variant("modulo").expect == "invariant:vector-balance"
    assert SC.variant("least-loaded").expect is None
    assert SC.params == {"vectors": 4, "cpu0": "NNxN", "cpu1": "SNxN"}


def test_default_schedule_histograms() -> None:
    found, r, w = _run("least-loaded", None)
    assert r.outcome == "ok" and found == []
    assert w.state["loads"] == [1, 2, 2, 1]
    assert w.state["histogram"] == [0, 2, 2, 1]
    text = w.summary(r)
    assert "vector 0: #        1 children (0 NVMe)" in text
    found, r, w = _run("modulo", None)
    assert found == [] and w.state["histogram"] == [1, 2, 1, 1]


def test_modulo_crowds_vectors_under_some_order() -> None:
    for seed in range(BUDGET):
        found, r, _w = _run("modulo", sim.Random(seed))
        if found:
            break
    else:
        raise AssertionError("modulo stayed balanced")
    assert seed == 3
    assert [f.kind for f in found] == ["invariant:vector-balance"]
    assert found[0].data["histogram"] == [2, 2, 1, 0]
    assert found[0].data["order"] == "NSNNxxNN"
    again, _, _ = _run("modulo", sim.Replay(r.schedule))
    assert [f.data for f in again] == [f.data for f in found]


def test_modulo_depends_on_who_else_allocates_irqs() -> None:
    # one CPU, no concurrency: every other IRQ number taken by another device
    found, _, w = _run("modulo", None, cpu0="NxNxNxNx", cpu1="")
    assert w.state["histogram"] == [2, 0, 2, 0]
    assert [f.kind for f in found] == ["invariant:vector-balance"]


def test_least_loaded_balanced_over_random_orders() -> None:
    for seed in range(BUDGET):
        found, r, w = _run("least-loaded", sim.Random(seed))
        assert r.outcome == "ok" and found == [], (seed, [str(f) for f in found])
        nvme = w.state["histogram"]
        assert nvme[0] == 0 and max(nvme[1:]) - min(nvme[1:]) <= 1


@settings(max_examples=15, deadline=None)
@given(st.text("NSx", max_size=6), st.text("NSx", max_size=6), st.integers(2, 6),
       st.integers(0, 1 << 16))
def test_fuzz_least_loaded_any_scripts(cpu0: str, cpu1: str, vectors: int, seed: int) -> None:
    found, r, w = _run("least-loaded", sim.Random(seed), cpu0=cpu0, cpu1=cpu1,
                       vectors=vectors)
    assert r.outcome == "ok" and found == []
    assert sum(w.state["loads"]) == sum(c != "x" for c in cpu0 + cpu1)
    assert w.state["loads"][0] == sum(c == "S" for c in cpu0 + cpu1)


def test_bad_params() -> None:
    with pytest.raises(InvalidArgumentValue, match=r"^cpu0 must be a string of N, S and x, "
                                                    r"not 'NQ'$"):
        SC.build("modulo", None, cpu0="NQ")
    with pytest.raises(InvalidArgumentValue, match="vectors"):
        SC.build("modulo", None, vectors=1)
