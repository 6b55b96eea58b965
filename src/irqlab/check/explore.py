"""Explore a scenario's schedules with a strategy, stop at the first finding, shrink it.

::

    from irqlab.check.explore import explore
    r = explore("counter", "racy", strategy="dfs")
    r.verdict            # "finding"
    print(r.report())    # the finding, the drawing, the replay line

Strategies: ``random`` (run ``r`` uses ``sim.Random`` seeded from
``(seed, r)``), ``pct`` (run ``r`` uses :class:`~irqlab.check.pct.PCT` seeded
from ``(seed, r)``, with ``k`` from one round-robin calibration run), ``dfs``
(:class:`~irqlab.check.dfs.DfsExplorer`: source-DPOR, sleep sets, optional
preemption bound).  Every run of random and PCT is a function of ``(seed,
r)`` alone, so the runs split into shards freely and the first finding is the
one of the lowest run number whatever the number of workers.

Budgets: ``budget`` schedules and/or ``time`` seconds (the wall clock is used
as a budget only: it decides when to stop, never what a run does).  Without
either, random and PCT run 1,000 schedules and DFS runs until the (bounded)
space is exhausted.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from irqlab.check.findings import Finding
from irqlab.check.run import Outcome, Target, make_target, run_built
from irqlab.errors import (
    InvalidArgumentType,
    InvalidArgumentValue,
    check_count,
    check_int,
    check_seconds,
)

__all__ = ["MAX_BUDGET", "MAX_WORKERS", "STRATEGIES", "ExploreResult", "explore", "pick_finding",
           "run_strategy"]

STRATEGIES = ("random", "pct", "dfs")
#: The largest ``budget`` (schedules) and ``workers`` (processes) :func:`explore` takes.
MAX_BUDGET = 1 << 40
MAX_WORKERS = 256
#: What PCT's printed probability bound assumes (Burckhardt et al.: k bounds every run):
#: k comes from one round-robin run, and a data choice is not a scheduling choice.
PCT_CAVEAT = ("the bound holds for runs of at most k steps, k from one round-robin run, "
              "and bugs that need no particular data choice")
DEFAULT_BUDGET = 1000

Progress = Callable[[int, float, int], None]


def run_seed(seed: int, r: int) -> int:
    """The seed of run ``r`` of an exploration seeded with ``seed`` (disjoint per run)."""
    return (seed << 32) + r


def run_strategy(name: str, seed: int, r: int, depth: int, k: int) -> Any:
    """The strategy object for run ``r`` of a random or PCT exploration."""
    from irqlab import sim
    from irqlab.check.pct import PCT

    if name == "random":
        return sim.Random(run_seed(seed, r))
    return PCT(run_seed(seed, r), depth=depth, steps=max(k, 1))


def calibrate(target: Target) -> tuple[int, int]:
    """``(n, k)`` for PCT: contexts and steps of one round-robin run of ``target``."""
    from irqlab import sim

    class _Count(sim.RoundRobin):
        def __init__(self) -> None:
            super().__init__()
            self.keys: set[int] = set()

        def after_step(self, choice: Any, engine: Any) -> None:
            self.keys.add(choice.key)

    st = _Count()
    out = run_built(target.build(st), observe=False)
    return len(st.keys), max(out.result.steps, 1)


def pick_finding(findings: list[Finding], expect: str | None) -> Finding:
    """The finding to report and shrink: the expected kind if present, else the first."""
    if expect is not None:
        for f in findings:
            if f.kind == expect:
                return f
    return findings[0]


@dataclass
class ExploreResult:
    """What an exploration did and found."""

    target: Target
    strategy: str
    schedules: int = 0
    blocked: int = 0
    elapsed: float = 0.0
    exhausted: bool = False
    outcome: Outcome | None = None
    finding: Finding | None = None
    first_at: int | None = None
    shrunk: Any = None
    info: str = ""
    workers: int = 1
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """``"finding"`` or ``"clean"``."""
        return "finding" if self.finding is not None else "clean"

    @property
    def expected(self) -> bool:
        """Whether the verdict is what the variant claims (clean, or the expected kind)."""
        exp = self.target.expect
        if exp is None:
            return self.finding is None
        return self.outcome is not None and any(f.kind == exp for f in self.outcome.findings)

    @property
    def schedule(self) -> str:
        """The schedule to replay: the shrunk one if any."""
        if self.shrunk is not None:
            return str(self.shrunk.schedule)
        return self.outcome.schedule if self.outcome is not None else ""

    @property
    def replay_line(self) -> str:
        return self.target.replay_line(self.schedule) if self.finding is not None else ""

    def rate(self) -> float:
        return self.schedules / self.elapsed if self.elapsed > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``--json``).  No timing fields except ``elapsed``."""
        d: dict[str, Any] = {
            "scenario": self.target.name, "variant": self.target.variant,
            "params": dict(self.target.params), "strategy": self.strategy,
            "verdict": self.verdict, "expected": self.expected,
            "expect": self.target.expect, "schedules": self.schedules,
            "blocked": self.blocked, "exhausted": self.exhausted,
            "first_at": self.first_at, "info": self.info, "workers": self.workers,
            "elapsed": round(self.elapsed, 3),
        }
        if self.finding is not None:
            out = self.shrunk.outcome if self.shrunk is not None else self.outcome
            d["finding"] = self.finding.as_dict()
            d["findings"] = [f.as_dict() for f in (out.findings if out else [])]
            d["schedule"] = self.schedule
            d["replay"] = self.replay_line
            if self.shrunk is not None:
                d["shrunk"] = {"preemptions": self.shrunk.preemptions,
                               "steps": self.shrunk.steps, "runs": self.shrunk.runs,
                               "before": {"preemptions": self.shrunk.before[0],
                                          "steps": self.shrunk.before[1]}}
        return d

    def report(self, *, draw: bool = True) -> str:
        """The human-readable report (see :mod:`irqlab.check.report`)."""
        from irqlab.check.report import format_result

        return format_result(self, draw=draw)


def _check_args(strategy: str, budget: int | None, time: float | None, seed: int,
                depth: int, preemptions: int | None, workers: int) -> None:
    if strategy not in STRATEGIES:
        raise InvalidArgumentValue(
            f"strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
    if budget is not None:
        check_count("budget", budget, 1, MAX_BUDGET)
    check_seconds("time", time)
    if type(seed) is not int:
        raise InvalidArgumentType(f"seed must be an int, not {seed!r}")
    check_int("depth", depth, 1, 64)
    if preemptions is not None:
        check_count("preemptions", preemptions, 0, 1 << 20)
    check_count("workers", workers, 1, MAX_WORKERS)


def explore(target: Any, variant: str | None = None, *, strategy: str = "random",
            budget: int | None = None, time: float | None = None, seed: int = 0,
            depth: int = 3, preemptions: int | None = None, reduction: bool = True,
            workers: int = 1, shrink: bool = True, progress: Progress | None = None,
            params: dict[str, Any] | None = None, observe: bool | str = True,
            stop: str = "expected", expect: str | None = None) -> ExploreResult:
    """Explore ``target`` (scenario name, Scenario, Target or factory) until a finding or
    the budget; shrink the finding.  Deterministic for a given schedule budget
    (``time`` may stop it earlier).  ``progress(schedules, seconds, findings)`` is
    called about every 0.2 s.  ``workers > 1`` uses :mod:`irqlab.check.parallel`.

    ``stop="expected"`` (default): for a variant that claims a finding kind, go on
    past runs that show only other kinds until one shows the claimed kind (if none
    does, the first other finding is reported); ``stop="first"``: stop at the first
    finding of any kind.  ``expect``: the finding kind to look for in a model of your own
    (a factory; e.g. ``"deadlock"`` to go on past lockdep's prediction of it until a
    schedule witnesses it), or instead of a variant's claim.  ``observe``: the checker's
    observers (True), none (False), or all with lockdep's PREEMPT_RT rules
    (``"preempt_rt"``).
    """
    _check_args(strategy, budget, time, seed, depth, preemptions, workers)
    if stop not in ("expected", "first"):
        raise InvalidArgumentValue(f"stop must be 'expected' or 'first', not {stop!r}")
    t = make_target(target, variant, params, observe=observe, expect=expect)
    want = t.expect if stop == "expected" else None
    if workers > 1:
        from irqlab.check.parallel import explore_parallel

        res = explore_parallel(t, strategy=strategy, budget=budget, time=time, seed=seed,
                               depth=depth, preemptions=preemptions, reduction=reduction,
                               workers=workers, progress=progress, want=want)
    else:
        res = _explore_serial(t, strategy, budget, time, seed, depth, preemptions,
                              reduction, progress, want)
    if shrink and res.finding is not None and res.outcome is not None:
        from irqlab.check.shrink import shrink as do_shrink

        res.shrunk = do_shrink(t, res.outcome.result.choices, res.finding)
        if res.shrunk is not None:
            res.finding = res.shrunk.finding
    return res


def dfs_label(reduction: bool, preemptions: int | None) -> str:
    """How a DFS explored, for reports: reduction, bound, and what a bound leaves out."""
    if preemptions is None:
        return f"DFS ({'source-DPOR + sleep sets' if reduction else 'no reduction'}, unbounded)"
    if not reduction:
        return f"DFS (no reduction, <= {preemptions} preemptions: every such schedule)"
    # bounded DPOR explores one schedule per class, which may need more preemptions than
    # another schedule of the class: a behaviour reachable within the bound can be missed
    return (f"DFS (source-DPOR + sleep sets, <= {preemptions} preemptions; not every "
            f"behaviour within the bound: --no-reduction for all)")


def wanted(findings: list[Finding], want: str | None) -> bool:
    """Whether a run's findings end the exploration (any, or one of kind ``want``)."""
    return bool(findings) and (want is None or any(f.kind == want for f in findings))


def _explore_serial(t: Target, strategy: str, budget: int | None, time: float | None,
                    seed: int, depth: int, preemptions: int | None, reduction: bool,
                    progress: Progress | None, want: str | None = None) -> ExploreResult:
    res = ExploreResult(target=t, strategy=strategy)
    if budget is None and time is None and strategy != "dfs":
        budget = DEFAULT_BUDGET
    t0 = _time.monotonic()
    deadline = None if time is None else t0 + time
    last_progress = t0
    expect = t.expect
    if strategy == "dfs":
        from irqlab.check.dfs import DfsExplorer

        ex = DfsExplorer(t, preemptions=preemptions, reduction=reduction)
        while not ex.finished:
            out = ex.next_run()
            if out is not None and out.findings and (res.outcome is None
                                                     or wanted(out.findings, want)):
                res.outcome = out
                res.finding = pick_finding(out.findings, expect)
                res.first_at = ex.schedules
                if wanted(out.findings, want):
                    break
            if budget is not None and ex.schedules + ex.blocked >= budget:
                break
            now = _time.monotonic()
            if deadline is not None and now >= deadline:
                break
            if progress is not None and now - last_progress >= 0.2:
                last_progress = now
                progress(ex.schedules, now - t0, 0)
        res.schedules, res.blocked = ex.schedules, ex.blocked
        res.exhausted = ex.finished and (res.finding is None or not wanted(
            res.outcome.findings if res.outcome is not None else [], want))
        res.info = (dfs_label(reduction, preemptions)
                    + f": {ex.schedules} schedules, {ex.blocked} blocked"
                    + (", space exhausted" if res.exhausted else ""))
    else:
        n = k = 0
        if strategy == "pct":
            n, k = calibrate(t)
        r = longer = 0
        while budget is None or r < budget:
            st = run_strategy(strategy, seed, r, depth, k)
            out = run_built(t.build(st), observe=t.observe, fast=True)
            r += 1
            if out.result.steps > k:
                longer += 1  # (PCT's bound is for runs of at most k steps)
            if out.findings and (res.outcome is None or wanted(out.findings, want)):
                res.outcome = out
                res.finding = pick_finding(out.findings, expect)
                res.first_at = r
                if wanted(out.findings, want):
                    break
            now = _time.monotonic()
            if deadline is not None and now >= deadline:
                break
            if progress is not None and now - last_progress >= 0.2:
                last_progress = now
                progress(r, now - t0, 0)
        res.schedules = r
        if strategy == "pct":
            from irqlab.check.pct import pct_bound, runs_for_confidence

            p = pct_bound(n, k, depth)
            res.info = (f"PCT depth {depth}: n={n} contexts, k={k} steps: P(find a depth-{depth} "
                        f"bug per run) >= 1/(n*k^(d-1)) = {p:.3g}; "
                        f"{runs_for_confidence(p)} runs for 95% confidence ({PCT_CAVEAT}; "
                        f"{longer} of {r} runs were longer)")
        else:
            res.info = f"random: seed {seed}, {r} schedules"
    res.elapsed = _time.monotonic() - t0
    if progress is not None:
        progress(res.schedules, res.elapsed, 1 if res.finding is not None else 0)
    return res
