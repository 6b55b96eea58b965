"""its-memreserve (seed 000): each memreserve design's exact verdict, cold and kexec'd."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab import sim
from irqlab.check.observe import attach
from irqlab.errors import InvalidArgumentValue
from irqlab.scenarios import get_scenario

SC = get_scenario("its-memreserve")


def _run(variant, strategy=None, **params):
    w = SC.build(variant, strategy, **params)
    obs = attach(w.engine)
    r = w.engine.run()
    return obs.findings(r) + w.check(r), r, w


def test_registered() -> None:
    assert SC.seed == "000"
    assert [v.name for v in SC.variants] == ["merged", "one-flag", "v1", "starting"]
    assert SC.variant("starting").expect == "sleep-in-atomic"
    assert SC.variant("merged").expect is None
    assert SC.variant("v1").expect == "invariant:memreserve-leak"
    assert SC.variant("one-flag").expect == "invariant:reserve-null"
    assert SC.params == {"kexec": 1, "sequence": "down1,up1,up2,up3"}


@pytest.mark.parametrize("kexec", [0, 1, 2])
def test_merged_clean(kexec) -> None:
    found, r, w = _run("merged", kexec=kexec)
    assert r.outcome == "ok"
    assert found == []
    assert w.kernel.online_cpus == (0, 1, 2, 3)
    # every possible CPU booted: the callback removed itself (from the work item)
    assert not any("memreserve" in name for _, name in w.kernel.cpuhp.states())


def test_merged_reuses_and_frees_spares_after_kexec() -> None:
    _, _, w = _run("merged")
    text = w.summary(None)
    acts = [ln.strip() for ln in text.splitlines() if re.match(r"\s+CPU\d: (free|reserve) ", ln)]
    assert [re.sub(r"0x[0-9a-f]+", "X", a) for a in acts] == [
        "CPU0: free X at boot", "CPU1: free X at boot", "CPU2: reserve X at up2",
        "CPU3: reserve X at up3"]
    # gen 0 reserved prop + 2 pending tables, gen 1 the pending tables of CPUs 2 and 3
    assert len(w.kernel.memreserve) == 5


def test_v1_leaks_spare_page_every_generation() -> None:
    found, r, _ = _run("v1")
    assert r.outcome == "ok"
    assert [f.kind for f in found] == ["invariant:memreserve-leak"]
    assert "CPU0 reserved" in found[0].message and "at boot" in found[0].message
    found2, _, _ = _run("v1", kexec=2)
    assert len(found2[0].data["leaked"]) == 2


def test_v1_cold_boot_is_clean() -> None:
    found, _, _ = _run("v1", kexec=0)
    assert found == []


def test_one_flag_kexec_reserves_null() -> None:
    found, _, _ = _run("one-flag")
    assert [f.kind for f in found] == ["invariant:reserve-null",
                                       "invariant:reserve-or-free-once"]
    assert found[0].message.startswith("CPU1 reserved a 64 KiB pending table at address 0 "
                                       "(at up1;")
    assert found[1].data == {"cpu": 1, "count": 2}


def test_one_flag_cold_boot_frees_in_use_table() -> None:
    found, _, _ = _run("one-flag", kexec=0)
    assert [f.kind for f in found] == ["invariant:free-in-use-table",
                                       "invariant:reserve-or-free-once"]
    assert "the pending table CPU1's redistributor uses (at up1" in found[0].message


def test_one_flag_needs_the_reonline() -> None:
    found, _, _ = _run("one-flag", sequence="up2,up3")
    assert found == []


@pytest.mark.parametrize("kexec,where", [(0, "gic_of_init@"), (1, "starting_cpu@")])
def test_starting_sleeps_with_interrupts_off(kexec, where) -> None:
    found, r, _ = _run("starting", kexec=kexec)
    assert r.outcome == "ok"
    assert [f.kind for f in found] == ["sleep-in-atomic"]
    assert "its_cpu_memreserve_starting@its_lpi.py" in found[0].details
    assert where in found[0].details


@pytest.mark.parametrize("variant", ["merged", "v1", "one-flag", "starting"])
def test_verdict_stable_over_random_schedules(variant) -> None:
    expect = SC.variant(variant).expect
    for seed in range(8):
        found, r, _ = _run(variant, sim.Random(seed))
        assert r.outcome == "ok"
        kinds = [f.kind for f in found]
        assert (kinds[:1] == [expect]) if expect else kinds == []


def test_bad_sequence() -> None:
    with pytest.raises(InvalidArgumentValue, match=r"^sequence must be comma-separated"):
        SC.build("merged", None, sequence="down0")
    with pytest.raises(InvalidArgumentValue):
        SC.build("merged", None, sequence="up7")
    with pytest.raises(InvalidArgumentValue, match=r"^kexec must be"):
        SC.build("merged", None, kexec=-1)


def test_deterministic() -> None:
    a, ra, _ = _run("one-flag", sim.Random(3))
    b, rb, _ = _run("one-flag", sim.Random(3))
    assert ra.schedule == rb.schedule
    assert [f.as_dict() for f in a] == [f.as_dict() for f in b]


_ops = st.lists(st.tuples(st.sampled_from(["down", "up"]), st.integers(min_value=1, max_value=3)),
                max_size=6).map(lambda ops: ",".join(f"{v}{c}" for v, c in ops))


@settings(max_examples=25, deadline=None)
@given(_ops, st.integers(min_value=0, max_value=2), st.integers(min_value=0, max_value=3))
def test_merged_holds_for_every_hotplug_sequence(seq, kexec, seed) -> None:
    w = SC.build("merged", sim.Random(seed), kexec=kexec, sequence=seq)
    r = w.engine.run()
    assert r.outcome == "ok"
    assert w.check(r) == []


@settings(max_examples=25, deadline=None)
@given(_ops, st.integers(min_value=0, max_value=2))
def test_v1_never_reserves_null_nor_frees_in_use(seq, kexec) -> None:
    w = SC.build("v1", None, kexec=kexec, sequence=seq)
    r = w.engine.run()
    kinds = [f.kind for f in w.check(r)]
    assert kinds == (["invariant:memreserve-leak"] if kexec else [])


def test_concurrent_hotplug_threads_order_chosen_by_scheduler() -> None:
    seq = "down1,up1|up2,down2,up2|up3"
    outcomes = set()
    for seed in range(12):
        w = SC.build("one-flag", sim.Random(seed), sequence=seq)
        r = w.engine.run()
        outcomes.add(tuple(sorted({f.kind for f in w.check(r)})))
        m = SC.build("merged", sim.Random(seed), sequence=seq)
        rm = m.engine.run()
        assert rm.outcome == "ok" and m.check(rm) == []
    # CPU2's down/up frees its in-use table only when it runs before up3 (the last CPU to
    # boot) schedules the callback's removal: the interleaving decides
    assert outcomes == {
        ("invariant:reserve-null", "invariant:reserve-or-free-once"),
        ("invariant:free-in-use-table", "invariant:reserve-null",
         "invariant:reserve-or-free-once")}


# -- hotplug sequences chosen by the explorer (sequence="?N": data choice points) ----------

@pytest.mark.parametrize("kexec", [1, 0])
def test_merged_clean_for_every_chosen_sequence_of_three_operations(kexec) -> None:
    from irqlab.check.explore import explore

    r = explore("its-memreserve", "merged", strategy="dfs", shrink=False,
                params={"sequence": "?3", "kexec": kexec})
    assert r.finding is None and r.exhausted
    # every sequence of 3 operations (27) x the interleavings DPOR keeps (the search
    # without reduction runs 143 schedules and reaches the same 27 outcomes)
    assert r.schedules == 29


def test_explorer_chooses_the_sequence_that_breaks_one_flag() -> None:
    from irqlab.check.explore import explore

    r = explore("its-memreserve", "one-flag", strategy="dfs", shrink=False,
                params={"sequence": "?2", "kexec": 0}, stop="first")
    assert r.finding is not None and r.finding.kind == "invariant:free-in-use-table"
    assert "sequence '?2 = " in r.finding.message


def test_chosen_sequence_bad_counts() -> None:
    for bad in ("?0", "?9", "?x", "?"):
        with pytest.raises(InvalidArgumentValue, match=r"^sequence must be '\?N'"):
            SC.build("merged", None, sequence=bad)
