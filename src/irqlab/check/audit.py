"""Audit a model's footprints: reorder steps the explorer calls independent, and look.

DFS with partial-order reduction (:mod:`irqlab.check.dfs`) explores one schedule
per class of schedules that differ only in the order of independent steps.  It
knows which steps are independent from their *footprints*: what each step's
operations touched (locks, atomics, tracked objects, RCU, the machine, and what
model code declares with :func:`irqlab.sim.note_access`).  Plain Python state
that two contexts share without declaring it is invisible there: two steps look
independent when they are not, DPOR skips schedules, and a clean "exhaustive"
verdict can be wrong.

The audit tests the assumption itself.  Independence means that reordering
independent steps changes nothing.  For seeded random runs of the target, it takes
each step that could have run earlier -- its context was able to run at each of the
steps before it that it passes, none of them its own, and its footprint is
independent of each of theirs -- and replays the run with that step moved as early
as that allows (a chain of swaps of adjacent independent steps; contexts are
identified by their stable id, data choices are replayed per context).  It requires
that

* the reordered run can be followed: every step is possible in the new order;
* every context then does exactly what it did: the same operations with the same
  footprints, and the same data choices;
* the run ends the same way (:func:`irqlab.check.dfs.outcome_key`: the engine
  outcome, the findings' kinds and sites, the world's summary).

Anything else is a *suspect*.  The moved step is then moved one step at a time to
find the one it cannot pass, and the suspect names those two steps: a dependence
between them that the footprints miss, reported with what each touched, what
differed and the schedule strings of both runs (``irqlab replay`` draws
either).  The fix is in the model: declare the shared state with
``sim.note_access(obj, write=...)`` (naming it with ``sim.Shared``) where it is
read or written, or use an engine primitive.

The audit cannot see a missed dependence whose effect nothing observes (no
context acts differently, the outcome is the same): such a dependence cannot
change a verdict either.  ``runs`` and ``moves`` bound the work: each tested
reordering is one more run, and each run with reorderings to test is first
followed in its own order -- a scenario that does not replay (Python randomness,
say, instead of ``sim.choose``) raises
:class:`~irqlab.check.dfs.NondeterministicScenario` instead of reporting every
reordering.  Deterministic: the same arguments give the same report.
"""

from __future__ import annotations

import random
import time as _time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from irqlab.check.dfs import (
    _ACQ,
    _HW,
    _R,
    _TRY,
    _W,
    NondeterministicScenario,
    _indep,
    _okey,
    outcome_key,
    step_footprint,
)
from irqlab.check.run import Outcome, Target, make_target, run_built
from irqlab.errors import check_count, check_int, check_seconds
from irqlab.sim import Strategy

__all__ = ["MAX_RUNS", "AuditResult", "Suspect", "audit"]

#: The largest ``runs`` and ``moves`` :func:`audit` takes.
MAX_RUNS = 1 << 30


class _Diverged(Exception):
    """The reordered run cannot follow the new order."""


def _ident(c: Any) -> Any:
    """A choice's identity that is stable across reorderings of independent steps."""
    sid = getattr(c, "sid", None)
    if sid is not None:
        return sid
    if c.kind == "irq":
        return ("take-irq", c.cpu)
    return (c.kind,)


def _name(c: Any) -> str:
    if c.op is None:
        return f"irq entry/{c.cpu}" if c.kind == "irq" else "rcu grace period"
    return str(c.name)


def _label(obj: Any, engine: Any) -> str:
    """An object's name in a report (its engine number if it has no name of its own;
    looked up, never assigned: numbering an object here would renumber the run's)."""
    if type(obj).__name__ == "CpuCtx":
        return f"cpu{obj.index}"
    name = getattr(obj, "name", None)
    if isinstance(name, str) and name:
        return name
    n = engine._ids.get(id(obj))
    return type(obj).__name__ + (f"#{n}" if n is not None else "")


@dataclass
class _Step:
    ident: Any
    name: str
    what: str
    fp: dict[Any, int]
    options: frozenset[Any]
    data: int | None
    labels: dict[Any, str]  #: footprint key -> the object's name (for the report)

    def trace(self) -> tuple[str, frozenset[tuple[Any, int]], int | None]:
        # what the context did in this step, in terms stable across reorderings (the
        # description carries engine object numbers: it is shown, not compared)
        return self.what.split("(", 1)[0], frozenset(self.fp.items()), self.data


class _Watch(Strategy):
    """The strategy of an audited run: records every step; chooses with ``inner`` (the
    original run) or follows ``want`` (the identities of a reordered run's steps)."""

    def __init__(self, inner: Any = None, want: list[Any] | None = None,
                 data: dict[Any, deque[int]] | None = None) -> None:
        self.inner = inner
        self.want = want
        self.data = data
        self.steps: list[_Step] = []
        self._options: list[Any] | None = None
        self._value: int | None = None

    # the Strategy protocol (irqlab.sim.strategy)
    def begin(self, engine: Any) -> None:
        if self.inner is not None:
            self.inner.begin(engine)

    def end(self, result: Any) -> None:
        if self.want is not None and len(self.steps) < len(self.want):
            raise _Diverged(f"the run ended after {len(self.steps)} of {len(self.want)} steps")

    def on_engine(self, engine: Any) -> None:
        engine.enable_footprints()

    def choose(self, choices: list[Any], engine: Any) -> int:
        if choices[0].kind == "data":
            if self.data is None:
                i = int(self.inner.choose(choices, engine))
            else:
                q = self.data.get(_ident(choices[0].owner))
                if not q:
                    raise _Diverged(f"{choices[0].owner.name} makes a data choice it did "
                                    "not make before")
                i = q.popleft()
                if i >= len(choices):
                    raise _Diverged(f"{choices[0].owner.name}'s data choice has "
                                    f"{len(choices)} values, fewer than before")
            self._value = i
            return i
        ids = [_ident(c) for c in choices]
        self._options = ids
        want = self.want
        if want is None:
            return int(self.inner.choose(choices, engine))
        n = len(self.steps)
        if n >= len(want):
            raise _Diverged(f"the run goes on past its {len(want)} steps")
        try:
            return ids.index(want[n])
        except ValueError:
            raise _Diverged(f"step {n}: the context to run is not able to run "
                            f"({len(ids)} others are)") from None

    def after_step(self, c: Any, engine: Any) -> None:
        ident = _ident(c)
        n = len(self.steps)
        want = self.want
        if want is not None and (n >= len(want) or want[n] != ident):
            raise _Diverged(f"step {n}: {_name(c)} was the only context able to run, not "
                            f"the one the reordering moves there")
        opts = frozenset(self._options) if self._options is not None else frozenset((ident,))
        self._options = None
        op = engine.last_op
        what = op.describe() if op is not None else (
            "take the pending interrupt" if c.kind == "irq" else "end a grace period")
        stable = engine._stable
        labels = {_okey(o, stable): _label(o, engine) for o, _w in engine.footprint}
        if op is not None and op.obj is not None:
            labels[_okey(op.obj, stable)] = _label(op.obj, engine)
        self.steps.append(_Step(ident, _name(c), what, step_footprint(engine, c),
                                opts, self._value, labels))
        self._value = None


@dataclass
class Suspect:
    """A step that the footprints let pass another, and whose passing changes something."""

    run: int
    step: int  #: the step (0-based) that the moved one could not pass
    moved: int  #: the step moved before ``step`` (the steps between it passed unchanged)
    first: str  #: "context: operation" of step ``step``
    second: str  #: ... of step ``moved``
    footprints: tuple[str, str]
    difference: str
    schedule: str  #: the original run
    reordered: str | None  #: the reordered run (``None``: it could not be followed)
    #: how many tested reorderings this suspect stands for (the same pair of operations and the
    #: same kind of difference; this one is the first)
    count: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {"run": self.run, "step": self.step, "moved": self.moved, "first": self.first,
                "second": self.second, "footprints": list(self.footprints),
                "difference": self.difference, "schedule": self.schedule,
                "reordered": self.reordered, "count": self.count}


@dataclass
class AuditResult:
    """What :func:`audit` found: runs made, reorderings tested, suspects (the first of each
    kind of pair)."""

    target: Target
    runs: int = 0
    reorderings: int = 0
    suspects: list[Suspect] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.suspects

    @property
    def changed(self) -> int:
        """Tested reorderings that changed something."""
        return sum(s.count for s in self.suspects)

    def report(self) -> str:
        t = self.target
        head = (f"audit {t.name}" + (f"/{t.variant}" if t.variant else "")
                + f": {self.runs} runs, {self.reorderings} reorderings of independent steps "
                f"tested, {self.changed} changed something, in {self.seconds:.2f} s")
        if self.clean:
            return head + "\n  no reordering changed anything: the footprints hold on these runs"
        lines = [head]
        for s in self.suspects:
            where = (f"steps {s.step} and {s.moved}" if s.moved == s.step + 1 else
                     f"step {s.moved} moved before step {s.step} (past steps "
                     f"{s.step + 1}-{s.moved - 1} unchanged)")
            lines += [
                f"  run {s.run}, {where}"
                + (f" ({s.count} reorderings of this pair of operations)" if s.count > 1
                   else "") + ":",
                f"    {s.first}",
                f"      touched: {s.footprints[0]}",
                f"    {s.second}",
                f"      touched: {s.footprints[1]}",
                f"    reordered, {s.difference}",
                f"    the run:         {t.replay_line(s.schedule)}",
            ]
            if s.reordered is not None:
                lines.append(f"    the reordered run: {t.replay_line(s.reordered)}")
        lines.append("  a dependence the footprints miss: declare the shared state with "
                     "sim.note_access() where it is read or written")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        t = self.target
        return {"scenario": t.name, "variant": t.variant, "params": dict(t.params),
                "runs": self.runs, "reorderings": self.reorderings, "changed": self.changed,
                "seconds": round(self.seconds, 3),
                "suspects": [s.as_dict() for s in self.suspects]}


_ACCESS = {_R: "read", _W: "write", _ACQ: "acquire", _TRY: "trylock"}


def _fmt_fp(s: _Step) -> str:
    """A step's footprint for people: each object by name, with the access."""

    def name(k: Any) -> str:
        label = s.labels.get(k)
        if label:
            return label
        if isinstance(k, tuple) and k and k[0] == "CpuCtx":
            return f"cpu{k[1]}"
        return "the hardware" if k == _HW else str(k)

    return ", ".join(f"{name(k)} {_ACCESS.get(v, v)}" for k, v in s.fp.items())


def _first_difference(now: str, before: str) -> str:
    a, b = now.splitlines(), before.splitlines()
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            return f"line {i + 1} {a[i].strip()!r}, it was {b[i].strip()!r}"
    return f"{len(a)} lines, it had {len(b)}"


def _run(t: Target, st: _Watch) -> Outcome:
    return run_built(t.build(st), observe=t.observe, on_engine=st.on_engine, fast=True)


def _compare(orig: list[_Step], new: list[_Step], o_out: Outcome, n_out: Outcome
             ) -> str | None:
    """What the reordered run (``new``) did differently from ``orig`` (``None``: nothing)."""
    per: dict[Any, list[_Step]] = {}
    for s in orig:
        per.setdefault(s.ident, []).append(s)
    seen: dict[Any, int] = {}
    for s in new:
        k = seen.get(s.ident, 0)
        seen[s.ident] = k + 1
        before = per[s.ident][k]
        if s.trace() != before.trace():
            return (f"{s.name} then acts differently: its step {k + 1} is {s.what} "
                    f"[{_fmt_fp(s)}], it was {before.what} [{_fmt_fp(before)}]")
    a, b = outcome_key(o_out), outcome_key(n_out)
    if a != b:
        if a[0] != b[0]:
            return f"the run ends {b[0]!r}, it ended {a[0]!r}"
        if a[1] != b[1]:
            return (f"the findings are {[k for k, _ in b[1]] or 'none'}, they were "
                    f"{[k for k, _ in a[1]] or 'none'}")
        return f"the world's summary differs: {_first_difference(b[2], a[2])}"
    return None


def _data_of(steps: list[_Step]) -> dict[Any, deque[int]]:
    """Each context's data choices, in order (what a followed run replays)."""
    data: dict[Any, deque[int]] = {}
    for s in steps:
        if s.data is not None:
            data.setdefault(s.ident, deque()).append(s.data)
    return data


def _moves(steps: list[_Step], end: int) -> list[tuple[int, int]]:
    """``(i, j)``: step ``j`` (of the first ``end``) can move before steps ``i .. j-1``.

    Its context could run there and its footprint is independent of each step it passes,
    none of them its own: by the footprints, the run with step ``j`` at ``i`` is the same
    run (a chain of swaps of adjacent independent steps).  ``i`` is the earliest such
    place, which tests the most independence claims at once.
    """
    out: list[tuple[int, int]] = []
    for j in range(1, end):
        sj = steps[j]
        i = j
        while i > 0:
            sk = steps[i - 1]
            if sk.ident == sj.ident or sj.ident not in sk.options or not _indep(sk.fp, sj.fp):
                break
            i -= 1
        if i < j:
            out.append((i, j))
    return out


def _follow(t: Target, steps: list[_Step], out: Outcome, want: list[Any]
            ) -> tuple[str | None, str | None]:
    """Run the steps of ``steps`` in the order ``want``: ``(what changed or None, the
    schedule string of the run, None if it could not be followed)``."""
    w = _Watch(want=want, data=_data_of(steps))
    try:
        n_out = _run(t, w)
    except _Diverged as e:
        return f"the run cannot be followed: {e}", None
    return _compare(steps, w.steps, out, n_out), n_out.result.schedule


def _try_move(t: Target, steps: list[_Step], out: Outcome, i: int, j: int
              ) -> tuple[str | None, str | None]:
    """Run ``steps`` with step ``j`` moved to ``i``: ``(what changed or None, its schedule)``."""
    want = [s.ident for s in steps]
    want.insert(i, want.pop(j))
    return _follow(t, steps, out, want)


def _pinpoint(t: Target, steps: list[_Step], out: Outcome, i: int, j: int, why: str,
              reordered: str | None) -> tuple[int, str, str | None]:
    """Step ``j`` moved to ``i`` changed something (``why``): the nearest step it cannot
    pass, found by moving it one step at a time, with what changed there."""
    for p in range(j - 1, i, -1):
        w, r = _try_move(t, steps, out, p, j)
        if w is not None:
            return p, w, r
    return i, why, reordered


def _check_replays(t: Target, r: int, steps: list[_Step], out: Outcome) -> None:
    """Follow run ``r`` in its own order: a difference there is not a footprint's but the
    scenario's (it is not a function of its choices), and every reordering would show it."""
    why, _ = _follow(t, steps, out, [s.ident for s in steps])
    if why is not None:
        raise NondeterministicScenario(
            f"run {r} does not replay in its own order ({why}): the scenario is not a "
            "function of its choices (draw random values with sim.choose)")


def audit(target: Any, variant: str | None = None, *, runs: int = 20, moves: int = 50,
          seed: int = 0, time: float | None = None, **params: Any) -> AuditResult:
    """Reorder independent steps of ``runs`` random runs of ``target`` and check that
    nothing changes (see the module docstring).

    ``target``: a scenario name, :class:`~irqlab.scenarios.Scenario`,
    :class:`~irqlab.check.run.Target` or factory (with ``variant`` and ``params``);
    ``moves``: at most that many reorderings per run (a seeded sample when a run has
    more); ``time``: stop after that many seconds (between reorderings).  Observers are
    on as in an exploration: the findings are part of the outcome compared.
    """
    from irqlab import sim

    check_count("runs", runs, 1, MAX_RUNS)
    check_count("moves", moves, 1, MAX_RUNS)
    check_int("seed", seed, -(1 << 62), 1 << 62, decimal=True)
    check_seconds("time", time)
    t = make_target(target, variant, params)
    res = AuditResult(target=t)
    index: dict[tuple[str, str, str], int] = {}
    t0 = _time.monotonic()
    rnd = random.Random(seed)
    for r in range(runs):
        if time is not None and _time.monotonic() - t0 >= time:
            break
        rec = _Watch(inner=sim.Random((seed << 32) + r))
        out = _run(t, rec)
        res.runs += 1
        steps = rec.steps
        # the step that raised ends the run: moved earlier, it would cut off the other
        # contexts' steps, which says nothing about footprints
        cands = _moves(steps, len(steps) - (1 if out.result.outcome == "error" else 0))
        if len(cands) > moves:
            cands = sorted(rnd.sample(cands, moves))
        if cands:
            _check_replays(t, r, steps, out)
        for i, j in cands:
            if time is not None and _time.monotonic() - t0 >= time:
                break
            res.reorderings += 1
            why, reordered = _try_move(t, steps, out, i, j)
            if why is None:
                continue
            i, why, reordered = _pinpoint(t, steps, out, i, j, why, reordered)
            a, b = steps[i], steps[j]
            kind = (a.what.split("(", 1)[0], b.what.split("(", 1)[0], why.split(":", 1)[0])
            k = index.get(kind)
            if k is not None:
                res.suspects[k].count += 1
                continue
            index[kind] = len(res.suspects)
            res.suspects.append(Suspect(
                run=r, step=i, moved=j, first=f"{a.name}: {a.what}",
                second=f"{b.name}: {b.what}", footprints=(_fmt_fp(a), _fmt_fp(b)),
                difference=why, schedule=out.result.schedule, reordered=reordered))
    res.seconds = _time.monotonic() - t0
    return res
