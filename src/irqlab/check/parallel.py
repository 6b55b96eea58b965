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
process is free (a child is started with its first shard and holds at most
two: the one it runs and the next, so it never waits for the parent); the
parent runs shards too, one schedule at a time, and looks at the children's
pipes after every schedule (one ``poll`` object: a system call).  So the
exploration starts at once in the parent, whatever a child's start-up costs,
and uneven shards balance themselves.

Merging is deterministic: shards are numbered, results are consumed in shard
order whatever order the processes finish in, and the exploration stops at
the first shard (by number) that found something -- the same finding as one
process exploring the shards in order.  Shards are cut from the target and
the budget only, never from the number of workers (DFS: up to
:data:`DFS_SPLIT_WORKERS` workers), so 2, 3 or 4 workers report the
same counts, finding and schedule string; timing only decides which process
runs which shard.  Only built-in scenarios can be sharded (a factory may not
be picklable).

Children are started with ``fork`` where that is safe (Linux, and the parent
runs a single thread, so no lock can be inherited held): a forked child
starts in a few milliseconds with the parent's modules already imported.
Elsewhere ``spawn`` (about 0.3 s per process to start and import irqlab:
the parent explores meanwhile).  Nothing a run does depends on inherited
state: a run is a function of the shard alone.

DFS shards: the top of the tree (the first :data:`DFS_SPLIT_DEPTH` choice
points) is enumerated with sleep sets (:func:`irqlab.check.dfs.iter_prefixes`,
a generator: the split is streamed, each subtree is handed out as soon as its
partial run ends, and the split goes on in the parent while the shards run),
and each shard starts from its prefix's sleep sets, so the shards together
explore what one DPOR run explores (1,680 schedules for the 3x3 counter on any
number of shards), plus a few sleep-blocked runs.  The subtrees' sizes are very
unequal, but DFS order puts the large ones first (later siblings start with
larger sleep sets), so the dynamic hand-out evens them out.  Random and PCT
shards do exactly the work of one process.
"""

from __future__ import annotations

import gc
import multiprocessing
import select
import sys
import threading
import time as _time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait as _wait
from typing import Any

from irqlab.check import explore as _explore
from irqlab.check.dfs import MAX_SPLIT_DEPTH, Prefix
from irqlab.check.run import Target, run_built
from irqlab.errors import InvalidArgumentValue, IrqlabError

__all__ = ["DFS_SPLIT_DEPTH", "DFS_SPLIT_WORKERS", "IN_PROCESS_BELOW", "Shard", "ShardResult",
           "dfs_split_depth", "explore_parallel", "iter_dfs_prefixes", "make_shards",
           "run_shard", "start_method"]

#: A DFS exploration's shards are the subtrees below its first this many choice points
#: (whatever the number of workers up to :data:`DFS_SPLIT_WORKERS`; one more per doubling
#: beyond): 41 subtrees for the 3x3 counter, 42 for 3x4, 66 for 4x2.  A split into a single
#: subtree is split again, that many choice points deeper (vmd-balance: 12 subtrees at 14).
DFS_SPLIT_DEPTH = 7
DFS_SPLIT_WORKERS = 4
#: Random/PCT explorations with a schedule budget below this run in the calling process
#: alone (same result): a child process would not earn its start-up back.
IN_PROCESS_BELOW = 64
#: Largest random/PCT shard (runs); a budget is cut into about 64 shards of 16 to 128 runs
#: (the last shard one process runs while the other is idle costs at most 128 runs).
RANDOM_SHARD_MAX = 128
_RANDOM_SHARD_MIN = 16
_POLL = 0.001  # seconds between the parent's looks at its children while it runs a shard


@dataclass(frozen=True)
class Shard:
    """One piece of an exploration (picklable, self-contained)."""

    index: int
    scenario: str
    variant: str
    params: tuple[tuple[str, Any], ...]
    observe: bool | str
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
        sh = self.shard
        ex = self.ex
        if ex is not None:
            if ex.finished:
                return ShardResult(sh.index, ex.schedules, ex.blocked, True, None, None,
                                   self.other)
            out = ex.next_run()
            if out is not None and out.findings:
                if _explore.wanted(out.findings, sh.want):
                    return ShardResult(sh.index, ex.schedules, ex.blocked, False,
                                       ex.schedules, tuple(out.result.choices))
                if self.other is None:
                    self.other = (ex.schedules, tuple(out.result.choices))
            if ex.finished or (self.deadline is not None
                               and _time.monotonic() >= self.deadline):
                return ShardResult(sh.index, ex.schedules, ex.blocked, ex.finished, None,
                                   None, self.other)
            return None
        if self.r >= sh.stop:
            return ShardResult(sh.index, self.n, 0, True, None, None, self.other)
        r = self.r
        st = _explore.run_strategy(sh.strategy, sh.seed, r, sh.depth, sh.k)
        out = run_built(self.target.build(st), observe=self.target.observe, fast=True)
        self.n += 1
        self.r = r + 1
        if out.findings:
            if _explore.wanted(out.findings, sh.want):
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


def dfs_split_depth(workers: int = 1) -> int:
    """The choice points a parallel DFS fixes per shard: :data:`DFS_SPLIT_DEPTH`, one more
    per doubling of the workers beyond :data:`DFS_SPLIT_WORKERS` (a function of the number
    of workers only beyond that, so 2, 3 or 4 workers cut the same shards)."""
    depth = DFS_SPLIT_DEPTH
    n = DFS_SPLIT_WORKERS
    while workers > n:
        depth += 1
        n *= 2
    return depth


def iter_dfs_prefixes(target: Target, workers: int = 1, preemptions: int | None = None
                      ) -> Iterator[Prefix]:
    """The DFS shards' prefixes, yielded as the split finds them (DFS order).

    :func:`irqlab.check.dfs.iter_prefixes` at :func:`dfs_split_depth`, made without the
    checker's observers (they never change a choice; about 5x cheaper): each item costs
    one partial run, about 0.1 ms for the counter, so the first shards can be handed out
    at once and the split goes on while they run.
    """
    bare = target
    if target.observe and target.scenario is not None:
        bare = Target(scenario=target.scenario, variant=target.variant,
                      params=dict(target.params), observe=False)
    return _split(bare, dfs_split_depth(workers), preemptions)


def _split(t: Target, depth: int, preemptions: int | None, prefix: Prefix = ((), ())
           ) -> Iterator[Prefix]:
    # A split into one subtree shares nothing: its prefix is split DFS_SPLIT_DEPTH choice
    # points deeper, again if need be.  That happens when the alternatives at the first
    # choice points all end sleep-blocked: vmd-balance's second hotplug thread can only
    # start and wait until the first has probed the VMD, so its first 7 choice points
    # give 1 subtree, 14 give 12.
    from irqlab.check.dfs import iter_prefixes

    it = iter_prefixes(t, depth, preemptions=preemptions, prefix=prefix[0],
                       prefix_sleeps=prefix[1])
    first = next(it, None)
    if first is None:
        return
    second = next(it, None)
    if second is None:
        if len(first[0]) == depth and depth + DFS_SPLIT_DEPTH <= MAX_SPLIT_DEPTH:
            yield from _split(t, depth + DFS_SPLIT_DEPTH, preemptions, first)
        else:
            yield first
        return
    yield first
    yield second
    yield from it


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
    """Runs per random/PCT shard: about 64 shards for a budget (a function of it alone)."""
    if budget is None:
        return RANDOM_SHARD_MAX
    return max(_RANDOM_SHARD_MIN, min(RANDOM_SHARD_MAX, budget // 64))


def make_shards(target: Target, strategy: str, *, budget: int | None, time: float | None,
                seed: int, depth: int, preemptions: int | None, reduction: bool,
                workers: int, k: int = 1, want: str | None = None) -> list[Shard]:
    """The shards of an exploration, in merge order.

    Random/PCT: the first ``budget`` runs in shards of :func:`_random_size` runs
    (without a budget: the first 4,096 shards; :func:`explore_parallel` makes more
    as needed).  DFS: one shard per subtree of :func:`iter_dfs_prefixes`.  ``workers``
    matters only for DFS beyond :data:`DFS_SPLIT_WORKERS` workers.
    """
    base = _base(target, strategy, time=time, seed=seed, depth=depth,
                 preemptions=preemptions, reduction=reduction, k=k, want=want)
    if strategy == "dfs":
        return [Shard(index=i, prefix=p, prefix_sleeps=sl, **base)
                for i, (p, sl) in enumerate(iter_dfs_prefixes(target, workers, preemptions))]
    size = _random_size(budget)
    count = 4096 if budget is None else -(-budget // size)
    return [_random_shard(base, i, size, budget) for i in range(count)]


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


def _worker_main(conn: Any, inherited: tuple[Any, ...] = (),
                 first: tuple[Shard, float | None] | None = None) -> None:
    """A child's loop: receive ``(shard, deadline)``, run it, send its result; ``None`` ends it.

    ``first``: a ``(shard, deadline)`` given with the process (a forked child has it before
    the parent sends anything: it starts at once, without a wake-up through the pipe).
    ``deadline``: the parent's ``time.monotonic()`` deadline (one clock for every process
    of the machine), so a shard queued early does not run past the exploration's budget.
    ``inherited``: the parent's ends of the pipes a forked child got copies of (its own and
    the earlier children's); closed first, so that the child sees end-of-file and exits
    when the parent dies.
    """
    for c in inherited:
        c.close()
    targets: dict[tuple[Any, ...], Target] = {}
    while True:
        if first is not None:
            msg: Any = first
            first = None
        else:
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
    conn: Any
    held: deque[int]
    proc: Any

    def __init__(self, ctx: Any, others: Sequence[_Child] = (),
                 first: tuple[Shard, float | None] | None = None) -> None:
        parent, child = ctx.Pipe(duplex=True)
        fork = ctx.get_start_method() == "fork"
        inherited = (parent, *[o.conn for o in others]) if fork else ()
        self.proc = ctx.Process(target=_worker_main, args=(child, inherited, first),
                                daemon=True, name="irqlab-explore-worker")
        if fork:
            # the parent's objects go to the collector's permanent generation for the fork:
            # the child's collections never touch them, so their pages stay shared (a child
            # exploring the 3x3 counter: ~1,470 -> ~560 page faults, 5-15% less CPU time);
            # the parent takes them back at once (into its oldest generation; nothing in
            # irqlab depends on when the collector runs: no weak references, no __del__)
            gc.freeze()
        try:
            self.proc.start()
        finally:
            if fork:
                gc.unfreeze()
        child.close()
        self.conn = parent
        self.held = deque()
        if first is not None:
            self.held.append(first[0].index)

    def stop(self) -> None:
        """End the child: an idle one is told to exit and not waited for (its exit, ~2 ms,
        overlaps what the caller does next; ``multiprocessing`` reaps it when it starts
        the next process, or at exit); a busy one is terminated and joined."""
        if self.proc.is_alive():
            if self.held:
                self.proc.terminate()  # busy with a shard nobody needs any more
            else:
                try:
                    self.conn.send(None)
                except OSError:
                    self.proc.terminate()
                else:
                    self.conn.close()
                    return
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


class _Exploration:
    """The parent's side of one parallel exploration: hand out, run, receive, merge.

    Shards ``0 .. handed-1`` have been handed out (to a child or to this process);
    results are merged in shard order from ``nxt``; nothing from ``stop_before`` on is
    needed (the end of the budget, a shard that found something, the time budget, the
    last shard).  ``shard(i)``: shard ``i``, made on demand (``None`` past the last one:
    a DFS split goes on while the first shards run).
    """

    def __init__(self, t: Target, strategy: str, shard: Callable[[int], Shard | None],
                 total: int | None, budget: int | None, deadline: float | None) -> None:
        from irqlab.check.explore import ExploreResult

        self.t = t
        self.strategy = strategy
        self.shard = shard
        self.total = total
        self.children: list[_Child] = []
        self.budget = budget if strategy == "dfs" else None  # random: in the shards
        self.deadline = deadline
        self.res = ExploreResult(target=t, strategy=strategy)
        self.found: ShardResult | None = None
        self.other: tuple[int, tuple[int, ...]] | None = None
        self.done: dict[int, ShardResult] = {}
        self.nxt = 0
        self.handed = 0
        self.stop_before = total
        self.all_exhausted = True
        self.mine: _ShardRun | None = None
        self.late = False
        self.by_conn: dict[Any, _Child] = {}
        self.by_fd: dict[int, _Child] = {}
        # the children's pipes, polled after every schedule this process runs: a poll
        # object made once (one system call a look) where the platform has one
        self.poller: Any = select.poll() if hasattr(select, "poll") else None

    def start_child(self, ctx: Any) -> None:
        """Start one child process with its first shard (it starts on it at once)."""
        first = (self._hand_out(), self.deadline) if self._more() else None
        c = _Child(ctx, self.children, first)
        self.children.append(c)
        self.by_conn[c.conn] = c
        fd = c.conn.fileno()
        self.by_fd[fd] = c
        if self.poller is not None:
            self.poller.register(fd, select.POLLIN)

    def _ready(self, timeout: float | None) -> list[_Child]:
        """The children with a message waiting (``timeout`` seconds at most; None: wait)."""
        if self.poller is not None:
            ms = -1 if timeout is None else int(timeout * 1000 + 0.999)
            return [self.by_fd[fd] for fd, _ev in self.poller.poll(ms)]
        return [self.by_conn[c] for c in _wait(list(self.by_conn), timeout)]

    def _result(self, r: ShardResult) -> None:
        self.done[r.index] = r
        if r.found_at is not None and (self.stop_before is None
                                       or r.index < self.stop_before):
            self.stop_before = r.index + 1  # later shards are not needed

    @staticmethod
    def _died(c: _Child) -> IrqlabError:
        c.proc.join(1)
        return IrqlabError(f"exploration worker {c.proc.pid} died (exit code {c.proc.exitcode})")

    def _receive(self, c: _Child) -> None:
        try:
            r = c.conn.recv()
        except (EOFError, OSError) as e:
            raise self._died(c) from e
        if isinstance(r, _Failure):
            if r.error is not None:
                raise r.error
            raise IrqlabError(f"exploration worker failed on shard {r.index}:\n{r.text}")
        c.held.popleft()
        self._result(r)

    def _merge(self) -> None:
        res = self.res
        dfs = self.strategy == "dfs"
        while self.nxt in self.done:
            r = self.done.pop(self.nxt)
            self.nxt += 1
            res.schedules += r.schedules
            res.blocked += r.blocked
            self.all_exhausted = self.all_exhausted and r.exhausted
            before = res.schedules - r.schedules if dfs else 0
            if self.other is None and r.other is not None:
                self.other = (before + r.other[0], r.other[1])
            if r.found_at is not None:
                self.found = r
                res.first_at = before + r.found_at
                return
            if self.budget is not None and res.schedules + res.blocked >= self.budget:
                self.stop_before = self.nxt  # a DFS budget ends at a shard's end
                return

    def _more(self) -> bool:
        if self.stop_before is not None and self.handed >= self.stop_before:
            return False
        if self.total is None and self.shard(self.handed) is None:
            self.total = self.handed  # the split has ended: no shard from here on
            if self.stop_before is None or self.stop_before > self.total:
                self.stop_before = self.total
            return False
        return True

    def _hand_out(self) -> Shard:
        sh = self.shard(self.handed)
        assert sh is not None  # _more() said so
        self.handed += 1
        return sh

    def run(self, progress: Callable[[int, float, int], None] | None, t0: float) -> None:
        """Explore until the budget, a finding, or the time budget (see the class)."""
        children = self.children
        last_progress = t0
        while True:
            if children:
                for c in self._ready(0):
                    self._receive(c)
            self._merge()
            if self.found is not None or (self.stop_before is not None
                                          and self.nxt >= self.stop_before):
                return
            now = _time.monotonic()
            if self.deadline is not None and now >= self.deadline and not self.late:
                # out of time: hand out nothing more; the shards out there stop at the
                # deadline themselves and report what they did (merged in order)
                self.late = True
                self.stop_before = (self.handed if self.stop_before is None
                                    else min(self.stop_before, self.handed))
                continue
            if progress is not None and now - last_progress >= 0.2:
                last_progress = now
                progress(self.res.schedules, now - t0, 0)
            # children first: two shards each (the next one waits in its pipe) while work
            # is plentiful, then one, so that the last shards go to whoever is free
            for c in children:
                while self._more() and len(c.held) < (
                        2 if self.stop_before is None
                        or self.stop_before - self.handed > len(children) else 1):
                    c.held.append(self.handed)
                    try:
                        c.conn.send((self._hand_out(), self.deadline))
                    except OSError as e:  # its end of the pipe is closed
                        raise self._died(c) from e
            if self.mine is None and self._more():
                self.mine = _ShardRun(self._hand_out(), self.t, self.deadline)
            mine = self.mine
            if mine is None:
                if not any(c.held for c in children):
                    continue  # nothing left anywhere: all merged (the check above ends it)
                wait = 0.2 if progress is not None else None
                if self.deadline is not None and not self.late:
                    left = max(0.0, self.deadline - _time.monotonic())
                    wait = left if wait is None else min(wait, left)
                for c in self._ready(wait):
                    self._receive(c)
                continue
            if not children:
                self._run_mine(mine, 0.1, None)
                continue
            # schedules until a child has sent something: a look after every schedule with
            # a poll object (a system call, about a microsecond), else every millisecond
            poll = self.poller.poll if self.poller is not None else None
            self._run_mine(mine, 0.05 if poll is not None else _POLL, poll)

    def _run_mine(self, mine: Any, span: float, poll: Callable[[int], Any] | None) -> None:
        # this process's shard, schedule by schedule, for ``span`` seconds or until it ends
        # (its result merged) or ``poll`` says a child has sent something
        until = _time.monotonic() + span
        while True:
            r = mine.step()
            if r is not None:
                self._result(r)
                self.mine = None
                return
            if (poll is not None and poll(0)) or _time.monotonic() >= until:
                return


def explore_parallel(t: Target, *, strategy: str, budget: int | None, time: float | None,
                     seed: int, depth: int, preemptions: int | None, reduction: bool,
                     workers: int, progress: Callable[[int, float, int], None] | None = None,
                     want: str | None = None, start: str | None = None) -> Any:
    """:func:`irqlab.check.explore.explore` with ``workers`` processes (same result type).

    The calling process is one of the workers.  ``start``: the start method of the
    children (default :func:`start_method`).  Random/PCT budgets below
    :data:`IN_PROCESS_BELOW` schedules run in the calling process alone.  A DFS schedule
    budget is counted in whole shards: the exploration stops after the shard (in merge
    order) that reaches it.
    """
    from irqlab import sim
    from irqlab.check.explore import (
        DEFAULT_BUDGET,
        PCT_CAVEAT,
        calibrate,
        dfs_label,
        pick_finding,
    )

    if budget is None and time is None and strategy != "dfs":
        budget = DEFAULT_BUDGET
    t0 = _time.monotonic()
    deadline = None if time is None else t0 + time
    if t.scenario is None:
        raise InvalidArgumentValue(
            "target must be a built-in scenario for parallel exploration, not a factory")
    local = strategy != "dfs" and budget is not None and budget < IN_PROCESS_BELOW
    method = start or start_method()
    n = k = 0
    if strategy == "pct":
        n, k = calibrate(t)
    base = _base(t, strategy, time=time, seed=seed, depth=depth,
                 preemptions=preemptions, reduction=reduction, k=k, want=want)
    shards: list[Shard] = []
    size = _random_size(budget)
    total: int | None = None
    prefixes: Iterator[Prefix] | None = None
    if strategy == "dfs":
        # the split goes on while the first shards run (each prefix: one partial run)
        prefixes = iter_dfs_prefixes(t, workers, preemptions)
    elif budget is not None:
        total = -(-budget // size)

    def shard(i: int) -> Shard | None:
        nonlocal prefixes
        while len(shards) <= i:  # made as needed
            if prefixes is None:
                if strategy == "dfs":
                    return None
                shards.append(_random_shard(base, len(shards), size, budget))
                continue
            p = next(prefixes, None)
            if p is None:
                prefixes = None  # the split has ended
                return None
            shards.append(Shard(index=len(shards), prefix=p[0], prefix_sleeps=p[1], **base))
        return shards[i]

    ex = _Exploration(t, strategy, shard, total, budget, deadline)
    children = ex.children
    try:
        if not local:
            # each child is started with its first shard (a DFS one: after one partial
            # run of the split), so it works from the start; a spawned one imports irqlab
            # first, while this process explores
            for _ in range(workers - 1):
                ex.start_child(multiprocessing.get_context(method))
        ex.run(progress, t0)
    finally:
        for c in children:
            c.stop()
    res = ex.res
    res.workers = workers
    res.elapsed = _time.monotonic() - t0
    found = ex.found
    pick = ((res.first_at, found.choices) if found is not None and found.choices is not None
            else ex.other)
    if pick is not None:
        out = run_built(t.build(sim.Replay(list(pick[1]))), observe=t.observe)
        if out.findings:
            res.outcome = out
            res.finding = pick_finding(out.findings, t.expect)
            res.first_at = pick[0]
    res.exhausted = (strategy == "dfs" and found is None and ex.all_exhausted
                     and ex.nxt == ex.total)
    # (a DFS's label says what its bound leaves out, as for one process)
    label = {"dfs": f"{dfs_label(reduction, preemptions)} in shards", "random": "random",
             "pct": "PCT"}[strategy]
    procs = (f"{workers} workers (this process and {len(children)} {method} children)"
             if children else "this process alone")
    res.info = (f"{label}: {max(ex.handed, ex.nxt)} shards on {procs}, "
                f"{res.schedules} schedules")
    if strategy == "dfs":
        res.info += f", {res.blocked} blocked" + (", space exhausted" if res.exhausted else "")
    if strategy == "pct":
        from irqlab.check.pct import pct_bound, runs_for_confidence

        p = pct_bound(n, k, depth)
        res.info += (f"; PCT depth {depth}: n={n}, k={k}: P >= 1/(n*k^(d-1)) = {p:.3g}, "
                     f"{runs_for_confidence(p)} runs for 95% confidence ({PCT_CAVEAT})")
    if progress is not None:
        progress(res.schedules, res.elapsed, 1 if res.finding is not None else 0)
    return res
