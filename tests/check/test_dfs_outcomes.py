"""DPOR loses no behaviour: on the seed scenarios (small parameters), DFS with source-DPOR and
sleep sets reaches exactly the outcomes that DFS without reduction reaches.

An outcome is what a user can observe of a run: the engine outcome, the findings (kind and
sites) and the world's summary (allocator state, vector histogram, counter value, ...). A
footprint that misses a dependence (a shared object the engine does not see) shows up here as
an outcome only the full search reaches.
"""

from __future__ import annotations

from typing import Any

import pytest

from irqlab.check.dfs import DfsExplorer
from irqlab.check.run import Target, signature


def _outcomes(t: Target, reduction: bool) -> tuple[dict[Any, str], int]:
    ex = DfsExplorer(t, reduction=reduction)
    seen: dict[Any, str] = {}
    while not ex.finished:
        out = ex.next_run()
        if out is None:
            continue
        key = (out.result.outcome, tuple(sorted(signature(f) for f in out.findings)),
               out.world.summary(out.result) if out.world is not None else "")
        seen.setdefault(key, out.result.schedule)
    return seen, ex.schedules


CASES = [
    # scenario, variant, params, (DPOR schedules, full schedules, distinct outcomes)
    ("counter", "racy", {"cpus": 2, "iters": 2}, (34, 252, 3)),
    ("counter", "irq", {"cpus": 2, "iters": 1}, (10, 84, 5)),
    ("vgic-lpi-refcount", "dec-then-lock", {}, (11, 2465, 2)),
    ("vmd-teardown", "immediate-free", {}, (23, 2900, 4)),
    ("vmd-balance", "modulo", {"cpu0": "N", "cpu1": "Sx", "vectors": 2}, (10, 2829, 3)),
    # the GICv3/ITS machine: kexec'd boot, hotplug sequences chosen by the explorer
    ("its-memreserve", "merged", {"sequence": "?2"}, (9, 13, 9)),
    ("its-memreserve", "one-flag", {"sequence": "?2", "kexec": 0}, (9, 13, 9)),
]


@pytest.mark.parametrize(("scenario", "variant", "params", "sizes"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_dpor_reaches_every_outcome_of_the_full_search(
        scenario: str, variant: str, params: dict[str, Any], sizes: tuple[int, int, int]
) -> None:
    t = Target(scenario, variant, params)
    reduced, n_reduced = _outcomes(t, True)
    full, n_full = _outcomes(t, False)
    missing = {k: s for k, s in full.items() if k not in reduced}
    assert not missing, f"outcomes only the full search reaches: {missing}"
    assert set(reduced) == set(full)
    assert (n_reduced, n_full, len(full)) == sizes
