"""msi-reinsert (seed 002): per-vector free fails the reload; bulk and lifecycle are clean."""

from __future__ import annotations

import pytest

from irqlab import sim
from irqlab.check.observe import attach
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue
from irqlab.scenarios import get_scenario

SC = get_scenario("msi-reinsert")


def _run(variant, strategy=None, **params):
    w = SC.build(variant, strategy, **params)
    obs = attach(w.engine)
    r = w.engine.run()
    return obs.findings(r) + w.check(r), r, w


def test_registered() -> None:
    assert SC.seed == "002"
    assert [v.name for v in SC.variants] == ["per-vector", "bulk", "lifecycle"]
    assert SC.variant("per-vector").expect == "invariant:reload-enospc"
    assert SC.variant("bulk").expect is None and SC.variant("lifecycle").expect is None
    assert SC.params == {"cycles": 100}


def test_per_vector_reload_fails_with_enospc() -> None:
    found, r, w = _run("per-vector", cycles=3)
    assert r.outcome == "ok"
    assert [f.kind for f in found] == ["invariant:reload-enospc",
                                       "invariant:allocator-restored"]
    assert found[0].message == ("probe of 00:01.0 failed with -ENOSPC at insmod #2: the ITS "
                                "kept the device with events 27-31 still allocated after rmmod")
    assert found[0].data == {"cycle": 2, "err": -28, "lpi_map": 0xF800_0000}
    assert found[1].data == {"cycle": 1, "differs": ["its_devices", "lpi_ranges"]}
    # every later insmod fails the same way
    assert [e["probe"][0x08] for e in w.state["log"]] == [0, -28, -28]


@pytest.mark.parametrize("variant", ["bulk", "lifecycle"])
def test_fixed_variants_return_to_initial_state(variant) -> None:
    found, r, w = _run(variant, cycles=4)
    assert r.outcome == "ok"
    assert found == []
    log = w.state["log"]
    assert all(e["probe"] == {0x08: 0, 0x10: 0} for e in log)
    assert all(e["state"] == w.state["initial"] for e in log)
    assert w.state["initial"]["lpi_ranges"] == [(8192, 65536 - 8192)]


def test_lifecycle_default_hundred_cycles() -> None:
    w = SC.build("lifecycle")          # no observers: 100 cycles stay fast
    r = w.engine.run()
    assert r.outcome == "ok" and w.check(r) == []
    assert len(w.state["log"]) == 100


def test_dynamic_msix_only_with_lifecycle() -> None:
    # the legacy ITS does not advertise MSI_FLAG_PCI_MSIX_ALLOC_DYN: one vector only
    _, _, w = _run("bulk", cycles=1)
    assert w.state["log"][0]["probe"][0x10] == 0
    _, _, w2 = _run("lifecycle", cycles=1)
    assert w2.state["log"][0]["probe"][0x10] == 0


@pytest.mark.parametrize("variant", ["per-vector", "bulk", "lifecycle"])
def test_verdict_over_random_schedules(variant) -> None:
    expect = SC.variant(variant).expect
    for seed in range(3):
        found, r, _ = _run(variant, sim.Random(seed), cycles=2)
        assert r.outcome == "ok"
        kinds = [f.kind for f in found]
        assert (kinds[:1] == [expect]) if expect else kinds == []


def test_bad_param() -> None:
    with pytest.raises(InvalidArgumentType, match=r"^cycles must be int, not '3'$"):
        SC.build("bulk", None, cycles="3")
    with pytest.raises(InvalidArgumentValue, match=r"^cycles must be"):
        SC.build("bulk", None, cycles=0)


@pytest.mark.parametrize("variant", ["bulk", "lifecycle"])
def test_fixed_variants_clean_under_exhaustive_dfs(variant: str) -> None:
    # every interleaving of three insmod/rmmod cycles with CPU1's bring-up and its kworker,
    # up to reordering of independent steps: the kworker and the bring-up touch nothing
    # the driver's cycles touch (after the bring-up, which completes before the first
    # insmod), so one schedule stands for all of them
    from irqlab.check.explore import explore

    r = explore("msi-reinsert", variant, strategy="dfs", params={"cycles": 3}, budget=2000,
                shrink=False)
    assert r.verdict == "clean" and r.exhausted, r.report(draw=False)
    assert r.schedules == 1
