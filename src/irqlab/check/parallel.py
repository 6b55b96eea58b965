"""Parallel exploration: deterministic shards run by worker processes, merged in shard order.

A :class:`Shard` is a plain picklable description of a piece of work -- the
scenario, variant and parameters, the strategy and its settings, and either
a range of run numbers (random, PCT: run ``r`` depends on ``(seed, r)`` only)
or a DFS prefix (the choice indices at the first choice points and their sleep
sets: the shard explores that subtree with DPOR; the prefix nodes never
backtrack, the other shards cover their alternatives).  :func:`run_shard` is
all a worker does, so a cluster engine could take the same shards over later.

Scheduling: ``workers=N`` is the calling process plus ``N - 1`` child
processes.  Shards are handed out one at a time, in order, to whichever
process is free (a child holds at most two: the one it runs and the next, so
it never waits for the parent); the parent runs shards too, one schedule at a
time, and looks after the children between schedules (about every
millisecond).  So the exploration starts at once in the parent, whatever a
child's start-up costs, and uneven shards balance themselves.

Merging is deterministic: shards are numbered, results are consumed in shard
order whatever order the processes finish in, and the exploration stops at
the first shard (by number) that found something -- the same finding as one
process exploring the shards in order.  Shards are cut from the target and
the budget only, never from the number of workers (DFS: up to
:data:`DFS_SHARDS_PER_8_WORKERS` workers), so 2, 3 or 8 workers report the
same counts, finding and schedule string; timing only decides which process
runs which shard.  Only built-in scenarios can be sharded (a factory may not
be picklable).

Children are started with ``fork`` where that is safe (Linux, and the parent
runs a single thread, so no lock can be inherited held): a forked child
starts in a few milliseconds with the parent's modules already imported.
Elsewhere ``spawn`` (about 0.3 s per process to start and import irqlab:
the parent explores meanwhile).  Nothing a run does depends on inherited
state: a run is a function of the shard alone.

DFS shards: the top of the tree (the first choice points) is enumerated with
sleep sets (:func:`irqlab.check.dfs.split_prefixes`), and each shard starts
from its prefix's sleep sets, so the shards together explore what one DPOR
run explores (1,680 schedules for the 3x3 counter on any number of shards),
plus a few sleep-blocked runs.  The split is as deep as needed for at least
:data:`DFS_SHARDS` subtrees (their sizes are very unequal: the dynamic
hand-out evens them out).  Random and PCT shards do exactly the work of one
process.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
import time as _time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait as _wait
from typing import Any

from irqlab.check.run import Target, run_built
from irqlab.errors import InvalidArgumentValue, IrqlabError

__all__ = ["DFS_SHARDS", "IN_PROCESS_BELOW", "Shard", "ShardResult", "dfs_prefixes",
           "explore_parallel", "make_shards", "run_shard", "start_method"]

#: A DFS exploration is split into at least this many subtrees (the shallowest split depth
#: that gives as many).  Independent of the number of workers up to
#: :data:`DFS_SHARDS_PER_8_WORKERS`; more workers split deeper (8 shards per worker).
DFS_SHARDS = 64
DFS_SHARDS_PER_8_WORKERS = 8
#: Random/PCT explorations with a schedule budget below this run in the calling process
#: alone (same result): a child process would not earn its start-up back.
IN_PROCESS_BELOW = 64
#: Largest random/PCT shard (runs); a budget is cut into about 32 shards of 16 to 256 runs.
RANDOM_SHARD_MAX = 256
_RANDOM_SHARD_MIN = 16
_POLL = 0.001  # seconds between the parent's looks at its children while it runs a shard


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


class _ShardRun:
    """A shard run one schedule at a time (:meth:`step`), so the parent can interleave.

    ``target``: a :class:`Target` equal to ``shard.target()`` to reuse (saves resolving
    the scenario per shard).  ``deadline``: a ``time.monotonic()`` value, else the
    shard's own ``time`` budget from now.
    """

    __slots__ = ("deadline", "ex", "n", "other", "r", "shard", "target")

    def __init__(self, shard: Shard, target: Target | None = None,
                 deadline: float | None = None) -> None:
        self.shard = shard
        self.target = target if target is not None else shard.target()
        if deadline is None and shard.time is not None:
            deadline = _time.monotonic() + shard.time
        self.deadline = deadline
        self.other: tuple[int, tuple[int, ...]] | None = None
        self.n = 0
        self.r = shard.start
        self.ex: Any = None
        if shard.strategy == "dfs":
            from irqlab.check.dfs import DfsExplorer

            self.ex = DfsExplorer(self.target, preemptions=shard.preemptions,
                                  reduction=shard.reduction, prefix=shard.prefix,
                                  prefix_sleeps=shard.prefix_sleeps)

    def step(self) -> ShardResult | None:
        """Run one schedule: the shard's result once it is over, else ``None``."""
        from irqlab.check.explore import wanted

        sh = self.shard
        ex = self.ex
        if ex is not None:
            if ex.finished:
                return ShardResult(sh.index, ex.schedules, ex.blocked, True, None, None,
                                   self.other)
            out = ex.next_run()
            if out is not None and out.findings:
                if wanted(out.findings, sh.want):
                    return ShardResult(sh.index, ex.schedules, ex.blocked, False,
                                       ex.schedules, tuple(out.result.choices))
                if self.other is None:
                    self.other = (ex.schedules, tuple(out.result.choices))
            if ex.finished or (self.deadline is not None
                               and _time.monotonic() >= self.deadline):
                return ShardResult(sh.index, ex.schedules, ex.blocked, ex.finished, None,
                                   None, self.other)
            return None
        from irqlab.check.explore import run_strategy

        if self.r >= sh.stop:
            return ShardResult(sh.index, self.n, 0, True, None, None, self.other)
        r = self.r
        st = run_strategy(sh.strategy, sh.seed, r, sh.depth, sh.k)
        out = run_built(self.target.build(st), observe=self.target.observe, fast=True)
        self.n += 1
        self.r = r + 1
        if out.findings:
            if wanted(out.findings, sh.want):
                return ShardResult(sh.index, self.n, 0, False, r + 1,
                                   tuple(out.result.choices))
            if self.other is None:
                self.other = (r + 1, tuple(out.result.choices))
        if self.r >= sh.stop or (self.deadline is not None
                                 and _time.monotonic() >= self.deadline):
            return ShardResult(sh.index, self.n, 0, self.r >= sh.stop, None, None,
                               self.other)
        return None


def run_shard(shard: Shard, target: Target | None = None) -> ShardResult:
    """Run one shard to its end, its first finding, or its time budget.

    This is all a worker does.  ``target``: the shard's :class:`Target`, if the caller
    already has one (it must equal ``shard.target()``).
    """
    run = _ShardRun(shard, target)
    while True:
        res = run.step()
        if res is not None:
            return res


def dfs_prefixes(target: Target, want: int, max_depth: int = 12,
                 preemptions: int | None = None
                 ) -> list[tuple[tuple[int, ...], tuple[dict[Any, dict[Any, int]], ...]]]:
    """Split the DPOR tree at the shallowest depth giving at least ``want`` subtrees.

    Items are ``(choice indices, sleep sets)`` in DFS order
    (:func:`irqlab.check.dfs.split_prefixes`): the top of the tree is enumerated with
    sleep sets, so the shards together explore what one DPOR run explores.  Each level
    costs about one partial run per prefix (0.03 s for the 95 prefixes of the 3x3
    counter at depth 8).
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


def _base(target: Target, strategy: str, *, time: float | None, seed: int, depth: int,
          preemptions: int | None, reduction: bool, k: int, want: str | None
          ) -> dict[str, Any]:
    if target.scenario is None:
        raise InvalidArgumentValue(
            "target must be a built-in scenario for parallel exploration, not a factory")
    return {"scenario": target.scenario, "variant": target.variant or "",
            "params": tuple(sorted(target.params.items())), "observe": target.observe,
            "strategy": strategy, "seed": seed, "depth": depth, "k": k,
            "preemptions": preemptions, "reduction": reduction, "time": time, "want": want}


def _random_size(budget: int | None) -> int:
    """Runs per random/PCT shard: about 32 shards for a budget (a function of it alone)."""
    if budget is None:
        return RANDOM_SHARD_MAX // 2
    return max(_RANDOM_SHARD_MIN, min(RANDOM_SHARD_MAX, budget // 32))


def make_shards(target: Target, strategy: str, *, budget: int | None, time: float | None,
                seed: int, depth: int, preemptions: int | None, reduction: bool,
                workers: int, k: int = 1, want: str | None = None) -> list[Shard]:
    """The shards of an exploration, in merge order.

    Random/PCT: the first ``budget`` runs in shards of :func:`_random_size` runs
    (without a budget: the first 4,096 shards; :func:`explore_parallel` makes more
    as needed).  DFS: one shard per subtree of :func:`dfs_prefixes`.  ``workers``
    matters only for DFS beyond :data:`DFS_SHARDS_PER_8_WORKERS` workers.
    """
    base = _base(target, strategy, time=time, seed=seed, depth=depth,
                 preemptions=preemptions, reduction=reduction, k=k, want=want)
    if strategy == "dfs":
        pres = dfs_prefixes(target, _dfs_want(workers), preemptions=preemptions)
        return [Shard(index=i, prefix=p, prefix_sleeps=sl, **base)
                for i, (p, sl) in enumerate(pres)]
    size = _random_size(budget)
    count = 4096 if budget is None else -(-budget // size)
    return [_random_shard(base, i, size, budget) for i in range(count)]


def _dfs_want(workers: int) -> int:
    return max(DFS_SHARDS, 8 * workers if workers > DFS_SHARDS_PER_8_WORKERS else 0)


def _random_shard(base: dict[str, Any], i: int, size: int, budget: int | None) -> Shard:
    stop = (i + 1) * size if budget is None else min(budget, (i + 1) * size)
    return Shard(index=i, start=i * size, stop=stop, **base)


def start_method() -> str:
    """``"fork"`` where forking is safe and cheap (Linux, one thread), else ``"spawn"``."""
    if (sys.platform == "linux" and threading.active_count() == 1
            and "fork" in multiprocessing.get_all_start_methods()):
        return "fork"
    return "spawn"


@dataclass(frozen=True)
class _Failure:
    """A shard raised in a child: the exception if picklable, else its traceback text."""

    index: int
    error: BaseException | None
    text: str


def _worker_main(conn: Any) -> None:
    """A child's loop: receive ``(shard, deadline)``, run it, send its result; ``None`` ends it.

    ``deadline``: the parent's ``time.monotonic()`` deadline (one clock for every process
    of the machine), so a shard queued early does not run past the exploration's budget.
    """
    targets: dict[tuple[Any, ...], Target] = {}
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if msg is None:
            return
        shard, deadline = msg
        key = (shard.scenario, shard.variant, shard.params, shard.observe)
        try:
            t = targets.get(key)
            if t is None:
                t = targets[key] = shard.target()
            run = _ShardRun(shard, t, deadline)
            res: Any = None
            while res is None:
                res = run.step()
        except KeyboardInterrupt:
            return
        except BaseException as e:  # sent back: the parent raises it
            res = _Failure(shard.index, e, traceback.format_exc())
        try:
            conn.send(res)
        except Exception as e:  # an unpicklable exception
            try:
                conn.send(_Failure(shard.index, None, f"{traceback.format_exc()}\n{e}"))
            except (OSError, EOFError):
                return
        except (OSError, EOFError, KeyboardInterrupt):
            return


class _Child:
    """One child process, its end of the pipe, and the shards it holds (in order)."""

    __slots__ = ("conn", "held", "proc")

    def __init__(self, ctx: Any) -> None:
        parent, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child,), daemon=True,
                                name="irqlab-explore-worker")
        self.proc.start()
        child.close()
        self.conn = parent
        self.held: deque[int] = deque()

    def stop(self) -> None:
        if self.proc.is_alive():
            if self.held:
                self.proc.terminate()  # busy with a shard nobody needs any more
            else:
                try:
                    self.conn.send(None)
                except OSError:
                    self.proc.terminate()
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def explore_parallel(t: Target, *, strategy: str, budget: int | None, time: float | None,
                     seed: int, depth: int, preemptions: int | None, reduction: bool,
                     workers: int, progress: Callable[[int, float, int], None] | None = None,
                     want: str | None = None, start: str | None = None) -> Any:
    """:func:`irqlab.check.explore.explore` with ``workers`` processes (same result type).

    The calling process is one of the workers.  ``start``: the start method of the
    children (default :func:`start_method`).  Random/PCT budgets below
    :data:`IN_PROCESS_BELOW` schedules, and DFS trees of a single subtree, run in the
    calling process alone.
    """
    from irqlab import sim
    from irqlab.check.explore import DEFAULT_BUDGET, ExploreResult, calibrate, pick_finding

    if budget is None and time is None and strategy != "dfs":
        budget = DEFAULT_BUDGET
    res = ExploreResult(target=t, strategy=strategy, workers=workers)
    t0 = _time.monotonic()
    deadline = None if time is None else t0 + time
    n = k = 0
    if strategy == "pct":
        n, k = calibrate(t)
    base = _base(t, strategy, time=time, seed=seed, depth=depth, preemptions=preemptions,
                 reduction=reduction, k=k, want=want)
    shards: list[Shard]
    if strategy == "dfs":
        shards = make_shards(t, strategy, budget=None, time=time, seed=seed, depth=depth,
                             preemptions=preemptions, reduction=reduction, workers=workers,
                             k=k, want=want)
        total: int | None = len(shards)
        size = 0
        local = len(shards) <= 1
    else:
        shards = []
        size = _random_size(budget)
        total = None if budget is None else -(-budget // size)
        local = budget is not None and budget < IN_PROCESS_BELOW

    def shard(i: int) -> Shard:
        if strategy == "dfs":
            return shards[i]
        while len(shards) <= i:
            shards.append(_random_shard(base, len(shards), size, budget))
        return shards[i]

    nchildren = 0 if local else workers - 1
    method = start or start_method()
    children = [_Child(multiprocessing.get_context(method)) for _ in range(nchildren)]
    found: ShardResult | None = None
    other: tuple[int, tuple[int, ...]] | None = None
    done: dict[int, ShardResult] = {}
    nxt = 0  # the next shard to merge
    handed = 0  # shards handed out so far (0 .. handed-1)
    stop_before = total  # no shard from this index on is needed
    all_exhausted = True
    mine: _ShardRun | None = None
    late = False  # the time budget ran out
    last_progress = t0
    by_conn = {c.conn: c for c in children}

    def receive(c: _Child) -> None:
        nonlocal stop_before
        try:
            r = c.conn.recv()
        except (EOFError, OSError) as e:
            raise IrqlabError(f"exploration worker {c.proc.pid} died "
                              f"(exit code {c.proc.exitcode})") from e
        if isinstance(r, _Failure):
            if r.error is not None:
                raise r.error
            raise IrqlabError(f"exploration worker failed on shard {r.index}:\n{r.text}")
        c.held.popleft()
        done[r.index] = r
        if r.found_at is not None and (stop_before is None or r.index < stop_before):
            stop_before = r.index + 1

    def more() -> bool:
        return stop_before is None or handed < stop_before

    def hand_out() -> Shard:
        nonlocal handed
        sh = shard(handed)
        handed += 1
        return sh

    try:
        while True:
            if children:
                for conn in _wait(list(by_conn), 0):
                    receive(by_conn[conn])  # type: ignore[index]
            while nxt in done:
                r = done.pop(nxt)
                nxt += 1
                res.schedules += r.schedules
                res.blocked += r.blocked
                all_exhausted = all_exhausted and r.exhausted
                if other is None and r.other is not None:
                    first = res.schedules - r.schedules if strategy == "dfs" else 0
                    other = (first + r.other[0], r.other[1])
                if r.found_at is not None:
                    found = r
                    res.first_at = (res.schedules - r.schedules + r.found_at
                                    if strategy == "dfs" else r.found_at)
                    break
            if found is not None or (stop_before is not None and nxt >= stop_before):
                break
            now = _time.monotonic()
            if deadline is not None and now >= deadline and not late:
                # out of time: hand out nothing more; the shards out there stop at the
                # deadline themselves and report what they did (merged in order)
                late = True
                stop_before = handed if stop_before is None else min(stop_before, handed)
                continue
            if progress is not None and now - last_progress >= 0.2:
                last_progress = now
                progress(res.schedules, now - t0, 0)
            # children first: at most two shards each (two only while work is plentiful)
            for c in children:
                while more() and len(c.held) < (2 if stop_before is None
                                                or stop_before - handed > nchildren else 1):
                    c.held.append(handed)
                    c.conn.send((hand_out(), deadline))
            if mine is None and more():
                sh = hand_out()
                mine = _ShardRun(sh, t, deadline)
            if mine is None:
                if not children:
                    break  # nothing left to run here (cannot happen: merged above)
                wait = 0.2 if progress is not None else None
                if deadline is not None and not late:
                    left = max(0.0, deadline - _time.monotonic())
                    wait = left if wait is None else min(wait, left)
                _wait(list(by_conn), wait)
                continue
            until = _time.monotonic() + (_POLL if children else 0.1)
            while True:
                r = mine.step()
                if r is not None:
                    done[r.index] = r
                    if r.found_at is not None and (stop_before is None
                                                   or r.index < stop_before):
                        stop_before = r.index + 1
                    mine = None
                    break
                if _time.monotonic() >= until:
                    break
    finally:
        for c in children:
            c.stop()
    res.elapsed = _time.monotonic() - t0
    pick = ((res.first_at, found.choices) if found is not None and found.choices is not None
            else other)
    if pick is not None:
        out = run_built(t.build(sim.Replay(list(pick[1]))), observe=t.observe)
        if out.findings:
            res.outcome = out
            res.finding = pick_finding(out.findings, t.expect)
            res.first_at = pick[0]
    res.exhausted = (strategy == "dfs" and found is None and all_exhausted
                     and nxt == total)
    label = {"dfs": "DFS shards", "random": "random", "pct": "PCT"}[strategy]
    procs = (f"{workers} workers (this process and {nchildren} {method} children)"
             if children else "this process alone")
    res.info = f"{label}: {max(handed, nxt)} shards on {procs}, {res.schedules} schedules"
    if strategy == "dfs":
        res.info += f", {res.blocked} blocked" + (", space exhausted" if res.exhausted else "")
    if strategy == "pct":
        from irqlab.check.pct import pct_bound, runs_for_confidence

        p = pct_bound(n, k, depth)
        res.info += (f"; PCT depth {depth}: n={n}, k={k}: P >= 1/(n*k^(d-1)) = {p:.3g}, "
                     f"{runs_for_confidence(p)} runs for 95% confidence")
    if progress is not None:
        progress(res.schedules, res.elapsed, 1 if res.finding is not None else 0)
    return res
