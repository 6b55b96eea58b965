"""Attach the checker's observers to an engine: one subscription, many observers, one verdict.

::

    from irqlab.check.observe import attach

    world = get_scenario("vgic-lpi-xa").build("irq", strategy)
    obs = attach(world.engine)                  # lockdep, lifetimes, interrupts
    result = world.engine.run()
    findings = obs.findings(result) + world.check(result)

The observers only read the engine's event stream (``sim_*``, ``gic*``,
``irq_*`` kinds); none of them reaches into model internals, except that
they capture the model-code stack of the context that is stepping from
inside an event (:func:`irqlab.sim.track.stack_now`, the same frames as
``engine.stack()`` from a cache; done only when something may be recorded:
a new lock pattern, dependency or usage bit, an allocation, a free).

Cost: the built-in observers' handlers go straight into the stream's
routing table (one dict lookup per event, no dispatch of ours), the engine
builds no event of a kind nobody handles, and while they are the only
subscription the hottest kinds (lock acquire/release, irq disable/enable,
``sim_alloc``, ``check_long_lived``) reach them in *direct form* -- the
fields as arguments, no event built (``EventStream.direct``).  The findings
are the same either way (``tests/check/test_observe.py``).

An observer is any object with ``handlers`` (a dict from event kind -- or
``"*"`` for every event -- to a callable taking the :class:`~irqlab.events.Event`),
``found`` (a list it appends findings to while the run goes on; the observers
share one, so the run's findings come out in event order, each tagged with
``data["seq"]``, the event it was made at) and ``finish(result) ->
list[Finding]`` (the end-of-run findings).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from types import MethodType
from typing import Any

from irqlab.check.findings import Finding
from irqlab.errors import InvalidArgumentType
from irqlab.events import Event, _fan_out

__all__ = ["Observers", "StepInvariant", "attach", "outcome_findings"]

#: A per-step predicate: called with the engine after every step (and once at the
#: end); returns a Finding (or a list) when the invariant is broken.
StepInvariant = Callable[[Any], "Finding | list[Finding] | None"]


class Observers:
    """The observers attached to one engine run, and the verdict they give.

    Build with :func:`attach`.  ``lockdep``, ``lifetimes``, ``irqs`` are the
    observer objects (``None`` when disabled); ``extra`` any further
    observers added with :meth:`add`.  The built-in observers cost one dict lookup
    per event they handle (none for other kinds); per-step invariants and extra
    observers make one subscriber see every event, and cost one call each per step.
    """

    def __init__(self, engine: Any, *, lockdep: bool | Any = True, lifetimes: bool | Any = True,
                 irqs: bool | Any = True, invariants: Sequence[StepInvariant] = ()) -> None:
        global _BUILTIN
        if _BUILTIN is None:
            from irqlab.check.irqs import IrqObserver
            from irqlab.check.lifetime import LifetimeObserver
            from irqlab.check.lockdep import Lockdep

            _BUILTIN = (Lockdep, LifetimeObserver, IrqObserver)
        self.engine = engine
        if lockdep is True and lifetimes is True and irqs is True and not invariants:
            # the exploration case (every built-in observer, nothing else): no checks
            ld, lt, iq = _BUILTIN
            self.lockdep: Any = ld(engine)
            self.lifetimes: Any = lt(engine)
            self.irqs: Any = iq(engine)
            self.invariants: list[StepInvariant] = []
        else:
            self.lockdep = _make(lockdep, _BUILTIN[0], engine, "lockdep")
            self.lifetimes = _make(lifetimes, _BUILTIN[1], engine, "lifetimes")
            self.irqs = _make(irqs, _BUILTIN[2], engine, "irqs")
            self.invariants = list(invariants)
            for inv in self.invariants:
                if not callable(inv):
                    raise InvalidArgumentType(f"invariants must be callables, not {inv!r}")
        self.extra: list[Any] = []
        self._inv_found: list[Finding] = []
        self._inv_seen: set[str] = set()
        self._last_time = -1
        #: the findings raised during the run, in event order (shared by the observers);
        #: each is tagged with the seq of the event being delivered when it was added
        self._found = _Found(engine.events)
        obs = [o for o in (self.lockdep, self.lifetimes, self.irqs) if o is not None]
        for ob in obs:
            self._share_found(ob)
        # kind -> ((function, observer index), ...): one table per combination of
        # observer classes that declare HANDLERS (built once per process).  Observers
        # with instance handlers only (and extras added later) go to self._xh.
        self._obs = obs
        self._xh: dict[str, list[Callable[[Event], None]]] = {}
        key = tuple([type(o) for o in obs])
        tmpl = _TABLES.get(key)
        if tmpl is None:
            try:
                tmpl = _TABLES[key] = _template(obs)
                _PLANS[key] = _plan(obs, tmpl)
            except _NoTemplate:
                tmpl = {}
                for ob in obs:
                    for kind, fn in ob.handlers.items():
                        self._xh.setdefault(kind, []).append(fn)
        self._tmpl = tmpl
        self._slow = bool(self.invariants or self._xh)
        self._attached = True
        self._fn: Any = None
        if self._slow:
            # per-step invariants and instance handlers: one subscriber sees every event
            self._found.live = False
            self._fn = engine.events.subscribe(self._on_event)
        else:
            # the built-in observers' handlers go straight into the stream's routing
            # table (no dispatch of ours per event); the engine then builds no event of
            # other kinds
            singles, multi, dtab, ks = _PLANS[key]
            handlers: dict[str, Callable[[Event], None]] = {
                kind: MethodType(f, obs[i]) for kind, f, i in singles}
            for kind, ent in multi:
                handlers[kind] = _fan_out(tuple([MethodType(f, obs[i]) for f, i in ent]))
            # ... and their direct forms, for kinds one observer alone handles (hot
            # producers then call them with the fields instead of building the event)
            direct = {kind: MethodType(f, obs[i]) for kind, f, i in dtab}
            self._fn = engine.events._subscribe_table(handlers, direct, ks)

    @property
    def observers(self) -> list[Any]:
        """The active observers, in report order (lockdep, lifetimes, irqs, extra)."""
        return [o for o in (self.lockdep, self.lifetimes, self.irqs) if o is not None] + list(
            self.extra)

    def _share_found(self, ob: Any) -> None:
        if isinstance(getattr(ob, "found", None), list):
            self._found.extend(ob.found)
            ob.found = self._found

    def _register(self, ob: Any) -> None:
        self._share_found(ob)
        for kind, fn in ob.handlers.items():
            self._xh.setdefault(kind, []).append(fn)
        if not self._slow and self._attached:
            # from now on every event is wanted, and delivered through _on_event
            ev = self.engine.events
            ev.unsubscribe(self._fn)
            self._found.live = False
            self._fn = ev.subscribe(self._on_event)
        self._slow = True

    def add(self, observer: Any) -> Any:
        """Attach one more observer (``handlers`` + ``finish``); returns it."""
        if not hasattr(observer, "handlers") or not hasattr(observer, "finish"):
            raise InvalidArgumentType(
                f"observer must have handlers and finish(), not {observer!r}")
        self.extra.append(observer)
        self._register(observer)
        return observer

    def _tag(self, n: int, ev: Event) -> None:
        # findings made at this event: remember which event (the drawing marks its row)
        for f in self._found[n:]:
            f.data.setdefault("seq", ev.seq)

    def _on_event(self, ev: Event) -> None:
        if self.invariants and ev.time != self._last_time:
            # the first event of a step: the state is the one after the previous step
            self._last_time = ev.time
            self._check_invariants(ev.time - 1)
        found = self._found
        n = len(found)
        obs = self._obs
        for f, i in self._tmpl.get(ev.kind, ()):
            f(obs[i], ev)
        xh = self._xh
        if xh:
            for fn in xh.get(ev.kind, ()):
                fn(ev)
            for fn in xh.get("*", ()):
                fn(ev)
        if len(found) != n:
            self._tag(n, ev)

    def _check_invariants(self, step: int) -> None:
        for inv in self.invariants:
            out = inv(self.engine)
            if out is None:
                continue
            for f in out if isinstance(out, list) else [out]:
                if f.kind in self._inv_seen:
                    continue  # report each broken invariant once, at its first step
                self._inv_seen.add(f.kind)
                if f.step is None:
                    f.step = step
                self._inv_found.append(f)

    def detach(self) -> None:
        """Stop observing (idempotent)."""
        if self._attached:
            self.engine.events.unsubscribe(self._fn)
            self._attached = False
            self._found.live = False

    def findings(self, result: Any) -> list[Finding]:
        """Everything the run showed: the observers' findings, the invariants', the outcome's.

        Call once, after ``engine.run()``; it detaches the observers.  Each
        finding gets ``schedule = result.schedule``.
        """
        if self.invariants:
            self._check_invariants(getattr(result, "steps", 0))
        self.detach()
        out: list[Finding] = list(self._found)
        for ob in self._obs:
            out.extend(ob.finish(result))
        for ob in self.extra:
            out.extend(ob.finish(result))
        out.extend(self._inv_found)
        if getattr(result, "outcome", "ok") != "ok":
            out.extend(outcome_findings(result))
        if out:
            sched = getattr(result, "schedule", "")
            for f in out:
                if not f.schedule:
                    f.schedule = sched
        return out


#: The built-in observer classes (Lockdep, LifetimeObserver, IrqObserver), imported on
#: first use (they import this module's neighbours).
_BUILTIN: tuple[type, type, type] | None = None

_Entry = tuple[Callable[[Any, Event], None], int]
#: A cache of static class data (which method of which observer handles a kind).
_TABLES: dict[tuple[type, ...], dict[str, tuple[_Entry, ...]]] = {}


class _Found(list):  # type: ignore[type-arg]
    """The observers' shared findings list: while ``live``, a finding added gets
    ``data["seq"]``, the seq of the event being delivered (the drawing marks its row)."""

    __slots__ = ("live", "stream")

    def __init__(self, stream: Any) -> None:
        super().__init__()
        self.stream = stream
        self.live = True

    def append(self, f: Finding) -> None:
        if self.live:
            # the event being delivered is the last one numbered (observers emit none)
            f.data.setdefault("seq", self.stream._seq - 1)
        super().append(f)


def _template(obs: list[Any]) -> dict[str, tuple[_Entry, ...]]:
    """kind -> ((function, observer index), ...) for observers that declare ``HANDLERS``."""
    out: dict[str, list[_Entry]] = {}
    for i, ob in enumerate(obs):
        names = getattr(type(ob), "HANDLERS", None)
        if not isinstance(names, dict):
            raise _NoTemplate
        for kind, meth in names.items():
            out.setdefault(kind, []).append((getattr(type(ob), meth), i))
    return {k: tuple(v) for k, v in out.items()}


_Plan = tuple[tuple[tuple[str, Callable[..., None], int], ...],
              tuple[tuple[str, tuple[_Entry, ...]], ...],
              tuple[tuple[str, Callable[..., None], int], ...], frozenset[str]]
#: ... and what attaching them subscribes: the kinds one observer handles (kind, function,
#: observer index), the kinds several do, the ``DIRECT`` forms (for kinds one observer
#: handles), all the kinds
_PLANS: dict[tuple[type, ...], _Plan] = {}


def _plan(obs: list[Any], tmpl: dict[str, tuple[_Entry, ...]]) -> _Plan:
    singles = tuple((k, ent[0][0], ent[0][1]) for k, ent in tmpl.items() if len(ent) == 1)
    multi = tuple((k, ent) for k, ent in tmpl.items() if len(ent) > 1)
    direct = []
    for i, ob in enumerate(obs):
        for kind, meth in (getattr(type(ob), "DIRECT", None) or {}).items():
            if len(tmpl.get(kind, ())) == 1 and tmpl[kind][0][1] == i:
                direct.append((kind, getattr(type(ob), meth), i))
    return singles, multi, tuple(direct), frozenset(tmpl)


class _NoTemplate(Exception):
    pass


def _make(flag: bool | Any, cls: type, engine: Any, name: str) -> Any:
    if flag is True:
        return cls(engine)
    if flag is False or flag is None:
        return None
    if hasattr(flag, "handlers") and hasattr(flag, "finish"):
        return flag
    raise InvalidArgumentType(f"{name} must be a bool or an observer, not {flag!r}")


def attach(engine: Any, *, lockdep: bool | Any = True, lifetimes: bool | Any = True,
           irqs: bool | Any = True, invariants: Iterable[StepInvariant] = ()) -> Observers:
    """Subscribe the checker's observers to ``engine.events`` before ``engine.run()``.

    Each of ``lockdep``, ``lifetimes``, ``irqs`` is True (a default observer),
    False, or a pre-built observer (e.g. ``Lockdep(engine, preempt_rt=True)``).
    ``invariants`` are per-step predicates ``(engine) -> Finding | None``
    evaluated after every step: their cost is one call per predicate per
    step, so keep them O(1).
    """
    if not hasattr(engine, "events"):
        raise InvalidArgumentType(f"engine must be an irqlab.sim.Engine, not {engine!r}")
    return Observers(engine, lockdep=lockdep, lifetimes=lifetimes, irqs=irqs,
                     invariants=tuple(invariants))


def outcome_findings(result: Any) -> list[Finding]:
    """The findings implied by the engine's outcome: deadlock, livelock, model error."""
    outcome = getattr(result, "outcome", "ok")
    if outcome == "deadlock" and result.deadlock is not None:
        dl = result.deadlock
        cyc = dl.cycle()
        if cyc:
            parts = [f"{w.name} waits for {w.waiting_for}"
                     + (f" held by {w.holder}" if w.holder else "") for w in cyc]
            msg = "; ".join(parts)
            locks = sorted({lk for w in cyc for lk in w.held})
            data: dict[str, Any] = {"cycle": [w.name for w in cyc], "locks": locks}
        else:
            msg = "every live context is blocked: " + "; ".join(str(w) for w in dl.waits())
            data = {"cycle": [], "locks": sorted({lk for w in dl.waits() for lk in w.held})}
        sites = {f"{w.name}": ";".join(w.stack) for w in (cyc or dl.waits()) if w.stack}
        return [Finding("deadlock", msg, details=str(dl), sites=sites, potential=False,
                        step=result.steps, data=data)]
    if outcome == "livelock":
        return [Finding("livelock", f"no end after {result.steps} steps (the step bound): "
                                    "a livelock, or a context polling while the schedule never "
                                    "runs the one it waits for",
                        step=result.steps, data={"steps": result.steps})]
    if outcome == "error":
        err = result.error
        what = f"{type(err).__name__}: {err}" if err is not None else "model code raised"
        return [Finding("model-error", f"{result.failed}: {what}",
                        details=result.traceback or "", step=result.steps,
                        data={"context": result.failed or ""})]
    return []
