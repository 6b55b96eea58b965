"""Shrink a failing schedule to the fewest preemptions, then the fewest steps.

Hypothesis-style and deterministic: a candidate is a list of *decisions*, one
per choice point (two or more options): an option index, or ``None`` for
"continue the context that ran last if it can, else the first option" (no
preemption); decisions name contexts by key, so dropping one keeps the
meaning of the others.  Past the list every decision is ``None`` -- the deterministic
non-preempting completion.  A candidate is kept when its run shows a finding
with the same signature (kind and sites, :func:`irqlab.check.run.signature`)
and it is strictly smaller by ``(preemptions, steps, choices)``; the kept run's
recorded choices become the new base.  First, iterative preemption bounding: a
DFS (:class:`~irqlab.check.dfs.DfsExplorer`) with bound 0, 1, ... below the
failing run's count looks for a run that fails the same way (using at most
half of ``max_runs``).  Then passes, repeated until none helps or ``max_runs``
runs were spent:

1. cut the decisions after a prefix (shortest prefixes first);
2. replace one decision by ``None`` (drop a preemption), from the end;
3. delete chunks of 4, 2, 1 decisions;
4. pick a context with a smaller key at one choice point.

The result replays with :class:`irqlab.sim.Replay` (its ``schedule`` string
carries the scenario hash).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from irqlab.check.findings import Finding
from irqlab.check.run import Outcome, Target, run_built, signature
from irqlab.errors import InvalidArgumentType, check_count
from irqlab.sim import Strategy

__all__ = ["Shrunk", "count_preemptions", "shrink"]


class _Guided(Strategy):
    """Follows a decision list; ``None`` and past-the-end decisions continue the last context.

    Decisions are context keys (``by_index=False``: a key that is not an option
    counts as ``None``) or option indices (``by_index=True``, taken modulo the
    option count).  ``taken`` records the key chosen at every choice point.
    """

    def __init__(self, decisions: Sequence[int | None], by_index: bool = False) -> None:
        self.dec = list(decisions)
        self.by_index = by_index
        self.cp = 0
        self.prev: int | None = None
        self.preemptions = 0
        self.taken: list[int] = []

    def begin(self, engine: Any) -> None:
        self.cp = 0
        self.prev = None
        self.preemptions = 0
        self.taken = []

    def choose(self, choices: list[Any], engine: Any) -> int:
        cp = self.cp
        self.cp = cp + 1
        d = self.dec[cp] if cp < len(self.dec) else None
        prev = self.prev
        pi = -1
        di = -1
        for i, c in enumerate(choices):
            k = c.key
            if k == prev:
                pi = i
            if d is not None and not self.by_index and k == d:
                di = i
        if d is not None and self.by_index:
            di = d % len(choices)
        i = di if di >= 0 else (0 if pi < 0 else pi)
        if pi >= 0 and i != pi:
            self.preemptions += 1
        self.taken.append(choices[i].key)
        return i

    def after_step(self, choice: Any, engine: Any) -> None:
        self.prev = choice.key


def count_preemptions(target: Target, choices: Sequence[int]) -> int:
    """Preemptions in the run of ``target`` that takes ``choices`` (then never preempts)."""
    st = _Guided(list(choices), by_index=True)
    run_built(target.build(st), observe=False)
    return st.preemptions


@dataclass
class Shrunk:
    """The shrinking result: the smallest failing run found and what it cost."""

    outcome: Outcome
    finding: Finding
    preemptions: int
    steps: int
    runs: int
    before: tuple[int, int]

    @property
    def schedule(self) -> str:
        return self.outcome.schedule


def shrink(target: Target, choices: Sequence[int], finding: Finding, *,
           max_runs: int = 2000, max_steps: int = 100_000) -> Shrunk | None:
    """Shrink the failing schedule ``choices`` of ``target`` that showed ``finding``.

    Returns ``None`` if replaying ``choices`` does not show the finding again
    (a nondeterministic scenario).  ``max_runs`` and ``max_steps`` (engine
    steps summed over the runs) bound the work -- runs and steps, not seconds,
    so the result does not depend on the machine.
    """
    if not isinstance(target, Target):
        raise InvalidArgumentType(f"target must be a Target, not {target!r}")
    if not isinstance(finding, Finding):
        raise InvalidArgumentType(f"finding must be a Finding, not {finding!r}")
    check_count("max_runs", max_runs, 1, 1 << 40)
    check_count("max_steps", max_steps, 1, 1 << 62)
    want = signature(finding)
    runs = 0
    work = 0

    def spent() -> bool:
        return runs >= max_runs or work >= max_steps

    def attempt(dec: Sequence[int | None], by_index: bool = False
                ) -> tuple[tuple[int, int, int], Outcome, Finding, list[int]] | None:
        nonlocal runs, work
        runs += 1
        st = _Guided(dec, by_index)
        try:
            out = run_built(target.build(st), observe=target.observe, fast=True)
        except Exception:  # a candidate the scenario cannot take: not a counterexample
            return None
        work += out.result.steps
        for f in out.findings:
            if signature(f) == want:
                cost = (st.preemptions, out.result.steps, len(out.result.choices))
                return cost, out, f, st.taken
        return None

    first = attempt(list(choices), True)
    if first is None:
        return None
    best_cost, best_out, best_f, taken = first
    before = best_cost[:2]
    base: list[int | None] = list(taken)

    def better(dec: list[int | None]) -> bool:
        nonlocal best_cost, best_out, best_f, base
        if spent():
            return False
        r = attempt(dec)
        if r is None or r[0] >= best_cost:
            return False
        best_cost, best_out, best_f, taken = r
        base = list(taken)
        return True

    if best_cost[0] == 0:
        # no preemption: the run is the canonical non-preempting one already
        return Shrunk(outcome=best_out, finding=best_f, preemptions=0, steps=best_cost[1],
                      runs=runs, before=before)

    # 0. iterative preemption bounding (CHESS): the fewest preemptions that fail the same way
    from irqlab.check.dfs import DfsExplorer

    for bound in range(best_cost[0]):
        ex = DfsExplorer(target, preemptions=bound)
        while not ex.finished and 2 * runs < max_runs and 2 * work < max_steps:
            runs += 1
            out = ex.next_run()
            if out is not None:
                work += out.result.steps
            hit = None if out is None else next(
                (f for f in out.findings if signature(f) == want), None)
            if hit is not None and out is not None:
                r = attempt(list(out.result.choices), True)
                if r is not None and r[0] < best_cost:
                    best_cost, best_out, best_f, taken = r
                    base = list(taken)
                break
        if best_cost[0] <= bound:
            break

    improved = True
    while improved and not spent():
        improved = False
        # 1. shortest prefix (rest: no preemptions)
        for m in range(len(base)):
            if spent():
                break
            if better(base[:m]):
                improved = True
                break
        # 2. drop single preemptions, from the end
        i = len(base) - 1
        while i >= 0 and not spent():
            if i < len(base) and base[i] is not None:
                cand = list(base)
                cand[i] = None
                if better(cand):
                    improved = True
            i -= 1
        # 3. delete chunks
        for size in (4, 2, 1):
            i = len(base) - size
            while i >= 0 and not spent():
                cand = base[:i] + base[i + size:]
                if better(cand):
                    improved = True
                i -= 1
        # 4. other contexts at one choice point (smaller keys first)
        keys = sorted({k for k in base if k is not None})
        i = len(base) - 1
        while i >= 0 and not spent():
            v = base[i] if i < len(base) else None
            if v is not None:
                for k in keys:
                    if k >= v:
                        break
                    cand = list(base)
                    cand[i] = k
                    if better(cand):
                        improved = True
                        break
            i -= 1
    return Shrunk(outcome=best_out, finding=best_f, preemptions=best_cost[0],
                  steps=best_cost[1], runs=runs, before=before)
