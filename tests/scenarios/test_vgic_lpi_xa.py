"""vgic-lpi-xa (seed 001): lockdep finds the xa_lock flavour bugs from one run."""

from __future__ import annotations

import pytest

from irqlab import sim
from irqlab.check.observe import attach
from irqlab.scenarios import get_scenario

SC = get_scenario("vgic-lpi-xa")


def _findings(variant, strategy):
    w = SC.build(variant, strategy)
    obs = attach(w.engine)
    r = w.engine.run()
    return obs.findings(r) + w.check(r), r


def test_registered() -> None:
    assert SC.seed == "001"
    assert [v.name for v in SC.variants] == ["irq", "irqsave", "plain"]
    assert SC.variant("irq").expect == "lockdep:inconsistent-lock-state"
    assert SC.variant("irqsave").expect is None


def test_irq_variant_one_default_run() -> None:
    found, r = _findings("irq", None)
    assert r.outcome == "ok"
    assert [f.kind for f in found] == ["lockdep:inconsistent-lock-state",
                                       "lockdep:irq-enabled-in-atomic"]
    inc = found[0]
    assert inc.potential is True
    assert inc.message == ("inconsistent {IN-HARDIRQ-W} -> {HARDIRQ-ON-W} usage of "
                           "vcpu0.ap_list_lock")
    assert "irqfd_wakeup@vgic_lpi_xa.py" in inc.details
    assert "vgic_flush_pending_lpis@vgic_lpi.py" in inc.details
    assert found[1].data["held"] == ["vcpu0.ap_list_lock"]
    assert found[1].data["lock"] == "lpi_xa.xa_lock"
    assert inc.schedule == r.schedule


def test_plain_variant_one_default_run() -> None:
    found, _ = _findings("plain", None)
    assert [f.kind for f in found] == ["lockdep:irq-lock-inversion"]
    assert (found[0].data["safe"], found[0].data["unsafe"]) == ("vcpu0.ap_list_lock",
                                                              "lpi_xa.xa_lock")


@pytest.mark.parametrize("variant", ["irq", "plain"])
def test_broken_variants_every_schedule(variant) -> None:
    expect = SC.variant(variant).expect
    for seed in range(30):
        found, _ = _findings(variant, sim.Random(seed))
        assert expect in [f.kind for f in found]


def test_irqsave_clean_over_random_runs() -> None:
    for seed in range(200):
        found, r = _findings("irqsave", sim.Random(seed))
        assert r.outcome == "ok"
        assert found == [], (seed, [str(f) for f in found])


def test_deterministic_report() -> None:
    a, _ = _findings("irq", sim.Random(5))
    b, _ = _findings("irq", sim.Random(5))
    assert [f.as_dict() for f in a] == [f.as_dict() for f in b]
