"""Parallel exploration: deterministic shards run by worker processes, merged in shard order.

A :class:`Shard` is a plain picklable description of a piece of work -- the
scenario, variant and parameters, the strategy and its settings, and either
a range of run numbers (random, PCT: run ``r`` depends on ``(seed, r)`` only)
or a DFS prefix (the choice indices at the first choice points and their sleep
sets: the shard explores that subtree with DPOR; the prefix nodes never
backtrack, the other shards cover their alternatives).  :func:`run_shard` is all a worker does, so a
cluster engine could take the same shards over later.

Merging is deterministic: shards are numbered, results are consumed in shard
order whatever order the processes finish in, and the exploration stops at
the first shard (by number) that found something -- the same finding as a
single process exploring the shards in order.  Processes are started with the
``spawn`` method (no state inherited from the parent).  Only built-in
scenarios can be sharded (a factory may not be picklable).

DFS shards: the top of the tree (the first choice points) is enumerated with
sleep sets, and each shard starts from its prefix's sleep sets, so the shards
together explore what one DPOR run explores (1,680 schedules for the 3x3
counter on any number of shards), plus a few sleep-blocked runs.  Random and
PCT shards do exactly the work of one process.
"""

from __future__ import annotations

import multiprocessing
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from irqlab.check.run import Target, run_built
from irqlab.errors import InvalidArgumentValue

__all__ = ["Shard", "ShardResult", "dfs_prefixes", "explore_parallel", "make_shards", "run_shard"]


@dataclass(frozen=True)
class Shard:
    """One piece of an exploration (picklable, self-contained)."""

    index: int
    scenario: str
    variant: str
    params: tuple[tuple[str, Any], ...]
    observe: bool
    strategy: str
    seed: int = 0
    depth: int = 3
    k: int = 1
    start: int = 0
    stop: int = 0
    preemptions: int | None = None
    reduction: bool = True
    prefix: tuple[int, ...] = ()
    prefix_sleeps: tuple[dict[Any, dict[Any, int]], ...] = ()
    time: float | None = None
    want: str | None = None

    def target(self) -> Target:
        return Target(scenario=self.scenario, variant=self.variant, params=dict(self.params),
                      observe=self.observe)


@dataclass(frozen=True)
class ShardResult:
    """What a shard did: counts, and the first failing run's choices if any."""

    index: int
    schedules: int
    blocked: int
    exhausted: bool
    found_at: int | None
    choices: tuple[int, ...] | None
    #: ``(found_at, choices)`` of the shard's first finding of another kind than wanted.
    other: tuple[int, tuple[int, ...]] | None = None


def run_shard(shard: Shard) -> ShardResult:
    """Run one shard to its end, its first finding, or its time budget."""
    from irqlab.check.explore import run_strategy, wanted

    t = shard.target()
    want = shard.want
    deadline = None if shard.time is None else _time.monotonic() + shard.time
    other: tuple[int, tuple[int, ...]] | None = None  # first finding of another kind
    if shard.strategy == "dfs":
        from irqlab.check.dfs import DfsExplorer

        ex = DfsExplorer(t, preemptions=shard.preemptions, reduction=shard.reduction,
                         prefix=shard.prefix, prefix_sleeps=shard.prefix_sleeps)
        while not ex.finished:
            out = ex.next_run()
            if out is not None and out.findings:
                if wanted(out.findings, want):
                    return ShardResult(shard.index, ex.schedules, ex.blocked, False,
                                       ex.schedules, tuple(out.result.choices))
                if other is None:
                    other = (ex.schedules, tuple(out.result.choices))
            if deadline is not None and _time.monotonic() >= deadline:
                break
        return ShardResult(shard.index, ex.schedules, ex.blocked, ex.finished, None, None,
                           other)

    n = 0
    for r in range(shard.start, shard.stop):
        st = run_strategy(shard.strategy, shard.seed, r, shard.depth, shard.k)
        out = run_built(t.build(st), observe=t.observe, fast=True)
        n += 1
        if out.findings:
            if wanted(out.findings, want):
                return ShardResult(shard.index, n, 0, False, r + 1, tuple(out.result.choices))
            if other is None:
                other = (r + 1, tuple(out.result.choices))
        if deadline is not None and _time.monotonic() >= deadline:
            break
    return ShardResult(shard.index, n, 0, n == shard.stop - shard.start, None, None, other)


def dfs_prefixes(target: Target, want: int, max_depth: int = 12,
                 preemptions: int | None = None
                 ) -> list[tuple[tuple[int, ...], tuple[dict[Any, dict[Any, int]], ...]]]:
    """Split the DPOR tree at the shallowest depth giving at least ``want`` subtrees.

    Items are ``(choice indices, sleep sets)`` in DFS order
    (:func:`irqlab.check.dfs.split_prefixes`): the top of the tree is enumerated with
    sleep sets, so the shards together explore what one DPOR run explores.
    """
    from irqlab.check.dfs import split_prefixes

    best = split_prefixes(target, 0, preemptions=preemptions)
    for d in range(1, max_depth + 1):
        if len(best) >= want:
            break
        nxt = split_prefixes(target, d, preemptions=preemptions)
        if len(nxt) == len(best) and d > 1:
            break  # the runs have no more choice points
        best = nxt
    return best


def make_shards(target: Target, strategy: str, *, budget: int | None, time: float | None,
                seed: int, depth: int, preemptions: int | None, reduction: bool,
                workers: int, k: int = 1, want: str | None = None) -> list[Shard]:
    """The shards of an exploration, in merge order (random/PCT: the first ``budget`` runs)."""
    if target.scenario is None:
        raise InvalidArgumentValue(
            "target must be a built-in scenario for parallel exploration, not a factory")
    base = {"scenario": target.scenario, "variant": target.variant or "",
            "params": tuple(sorted(target.params.items())), "observe": target.observe,
            "strategy": strategy, "seed": seed, "depth": depth, "k": k,
            "preemptions": preemptions, "reduction": reduction, "time": time, "want": want}
    if strategy == "dfs":
        pres = dfs_prefixes(target, 16 * workers, preemptions=preemptions)
        return [Shard(index=i, prefix=p, prefix_sleeps=sl, **base)  # type: ignore[arg-type]
                for i, (p, sl) in enumerate(pres)]
    total = budget if budget is not None else 1 << 40
    size = max(1, min(500, (budget or 2000) // (4 * workers)))
    out = []
    i = 0
    start = 0
    while start < total and i < 1_000_000:
        out.append(Shard(index=i, start=start, stop=min(total, start + size),
                         **base))  # type: ignore[arg-type]
        start += size
        i += 1
        if budget is None and i >= 4096:
            break  # with a time budget only: enough shards for the time (extended lazily)
    return out


def explore_parallel(t: Target, *, strategy: str, budget: int | None, time: float | None,
                     seed: int, depth: int, preemptions: int | None, reduction: bool,
                     workers: int, progress: Callable[[int, float, int], None] | None = None,
                     want: str | None = None) -> Any:
    """:func:`irqlab.check.explore.explore` with ``workers`` processes (same result type)."""
    from irqlab import sim
    from irqlab.check.explore import DEFAULT_BUDGET, ExploreResult, calibrate, pick_finding

    if budget is None and time is None and strategy != "dfs":
        budget = DEFAULT_BUDGET
    res = ExploreResult(target=t, strategy=strategy, workers=workers)
    t0 = _time.monotonic()
    n = k = 0
    if strategy == "pct":
        n, k = calibrate(t)
    shards = make_shards(t, strategy, budget=budget, time=time, seed=seed, depth=depth,
                         preemptions=preemptions, reduction=reduction, workers=workers, k=k,
                         want=want)
    ctx = multiprocessing.get_context("spawn")
    found: ShardResult | None = None
    other: tuple[int, tuple[int, ...]] | None = None
    done: dict[int, ShardResult] = {}
    nxt = 0
    all_exhausted = True
    with ctx.Pool(workers) as pool:
        pending: dict[int, Any] = {}
        submit = 0

        def fill() -> None:
            nonlocal submit
            while submit < len(shards) and len(pending) < 2 * workers:
                sh = shards[submit]
                if time is not None:
                    left = max(0.001, time - (_time.monotonic() - t0))
                    sh = Shard(**{**sh.__dict__, "time": left})
                pending[submit] = pool.apply_async(run_shard, (sh,))
                submit += 1

        fill()
        while nxt < len(shards):
            if nxt not in done:
                r = pending.pop(nxt).get()
                done[nxt] = r
            r = done.pop(nxt)
            nxt += 1
            res.schedules += r.schedules
            res.blocked += r.blocked
            all_exhausted = all_exhausted and r.exhausted
            if other is None and r.other is not None:
                base = res.schedules - r.schedules if strategy == "dfs" else 0
                other = (base + r.other[0], r.other[1])
            if r.found_at is not None:
                found = r
                res.first_at = (res.schedules - r.schedules + r.found_at
                                if strategy == "dfs" else r.found_at)
                break
            if time is not None and _time.monotonic() - t0 >= time:
                all_exhausted = False
                break
            if progress is not None:
                progress(res.schedules, _time.monotonic() - t0, 0)
            fill()
        pool.terminate()
    res.elapsed = _time.monotonic() - t0
    pick = ((res.first_at, found.choices) if found is not None and found.choices is not None
            else other)
    if pick is not None:
        out = run_built(t.build(sim.Replay(list(pick[1]))), observe=t.observe)
        if out.findings:
            res.outcome = out
            res.finding = pick_finding(out.findings, t.expect)
            res.first_at = pick[0]
    res.exhausted = strategy == "dfs" and found is None and all_exhausted
    label = {"dfs": "DFS shards", "random": "random", "pct": "PCT"}[strategy]
    res.info = f"{label}: {len(shards)} shards on {workers} workers, {res.schedules} schedules"
    if strategy == "pct":
        from irqlab.check.pct import pct_bound, runs_for_confidence

        p = pct_bound(n, k, depth)
        res.info += (f"; PCT depth {depth}: n={n}, k={k}: P >= 1/(n*k^(d-1)) = {p:.3g}, "
                     f"{runs_for_confidence(p)} runs for 95% confidence")
    if progress is not None:
        progress(res.schedules, res.elapsed, 1 if res.finding is not None else 0)
    return res
