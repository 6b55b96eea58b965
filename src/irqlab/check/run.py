"""Run a scenario once under a strategy and turn the run into findings.

Every exploration strategy, the shrinker, the CLI and the pytest plugin go
through :func:`run_once`.  A *target* says what to build for each run:

* a :class:`Target` (a scenario, a variant and parameters, or a factory), or
* a scenario name or :class:`~irqlab.scenarios.Scenario` plus ``variant`` and
  ``params`` (what ``run_once("vmd-teardown", "srcu", strategy)`` builds), or
* a callable ``factory(strategy) -> World | Engine`` (the pytest plugin's
  decorated tests), or
* an already-built :class:`~irqlab.scenarios.World` (runs once; ``strategy``
  must then be ``None``).

The run's findings are the checker's observers' (lockdep, lifetimes,
interrupts, attached with :func:`irqlab.check.observe.attach`), the scenario's
invariants (``world.check``) and the engine outcome's (deadlock, livelock,
model error), each carrying the run's schedule string.  Events are recorded
only when asked (``record=True``: a report, a trace); otherwise the observers
alone listen.  Deterministic: same target, same strategy choices, same
findings.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from irqlab.check.findings import Finding
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue

__all__ = ["Outcome", "Target", "make_target", "run_once", "signature"]


#: The values of ``Target.observe``.
OBSERVE: tuple[bool | str, ...] = (True, False, "preempt_rt")


@dataclass
class Target:
    """What to build for each run: a scenario variant with parameters, or a factory.

    Picklable when it names a built-in scenario (``scenario`` is the name),
    which is what parallel shards carry.  ``observe`` selects the checker's
    observers (True: all; ``"preempt_rt"``: all, lockdep with PREEMPT_RT's
    wait-context rules -- ``spinlock_t`` sleeps; False: only invariants and the
    engine outcome).
    """

    scenario: str | None = None
    variant: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    factory: Callable[[Any], Any] | None = None
    observe: bool | str = True
    name: str = ""
    #: The finding kind the target must show (``None``: it must be clean).  A scenario
    #: variant's defaults to its claim; a factory's (a model of the user's) is given.
    expect: str | None = None
    #: For a factory: the command that replays one of its schedules, ``{schedule}``
    #: standing for the (shell-quoted) schedule string (the pytest plugin's
    #: ``pytest NODE --irqlab-replay {schedule}``).  Empty: the Python call
    #: :func:`irqlab.check.replay`.
    replay_cmd: str = ""

    def __post_init__(self) -> None:
        if self.scenario is None and self.factory is None:
            raise InvalidArgumentValue("target must name a scenario or give a factory, not None")
        if self.observe not in OBSERVE:
            raise InvalidArgumentValue(f"observe must be True, False or 'preempt_rt', "
                                       f"not {self.observe!r}")
        if self.expect is not None and not isinstance(self.expect, str):
            raise InvalidArgumentType(f"expect must be a finding kind (str) or None, "
                                      f"not {self.expect!r}")
        if self.scenario is not None:
            sc = resolve_scenario(self.scenario)
            if self.variant is None:
                self.variant = sc.default_variant
            claim = sc.variant(self.variant).expect
            if self.expect is None:
                self.expect = claim
            self.params = sc.resolve_params(dict(self.params))
            if not self.name:
                self.name = sc.name
        elif not self.name:
            self.name = getattr(self.factory, "__name__", "target")

    def build(self, strategy: Any) -> Any:
        """A fresh world (or engine) for one run under ``strategy``."""
        if self.factory is not None:
            return self.factory(strategy)
        sc = self.__dict__.get("_sc")
        if sc is None:
            sc = self.__dict__["_sc"] = resolve_scenario(self.scenario)
        return sc.build(self.variant, strategy, **self.params)

    def __getstate__(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d.pop("_sc", None)  # shards carry the name, not the scenario object
        return d

    def replay_line(self, schedule: str) -> str:
        """The one command line that replays ``schedule`` on this target."""
        if self.scenario is None:
            if self.replay_cmd:
                return self.replay_cmd.format(schedule=shlex.quote(schedule))
            # (a lambda's name is not one to paste: call it what it is)
            name = self.name if self.name.isidentifier() else "factory"
            return f"irqlab.check.replay({name}, {schedule!r})"
        sc = resolve_scenario(self.scenario)
        parts = ["irqlab replay", self.scenario]
        if self.variant:
            parts += ["--variant", self.variant]
        for k in sorted(self.params):
            if self.params[k] != sc.params.get(k):
                parts += ["-p", f"{k}={self.params[k]}"]
        parts.append(schedule)
        # a line to paste into a shell: quote what the shell would interpret
        # (a sequence parameter's '|' or '?')
        return " ".join(parts[:1] + [shlex.quote(p) for p in parts[1:]])


def resolve_scenario(name: Any) -> Any:
    """A built-in scenario by name (the scenarios package, then the checker's benchmarks)."""
    from irqlab.scenarios import Scenario, get_scenario

    if isinstance(name, Scenario):
        return name
    if not isinstance(name, str):
        raise InvalidArgumentType(f"scenario must be a str, not {name!r}")
    from irqlab.check import counter

    if name == counter.SCENARIO.name:
        return counter.SCENARIO
    try:
        return get_scenario(name)
    except InvalidArgumentValue:
        from irqlab.scenarios import all_scenarios

        names = [sc.name for sc in all_scenarios()] + [f"{counter.SCENARIO.name} (the benchmark)"]
        raise InvalidArgumentValue(
            f"scenario must be one of {', '.join(names)}, not {name!r}") from None


def make_target(target: Any, variant: str | None = None, params: dict[str, Any] | None = None,
                *, observe: bool | str = True, expect: str | None = None) -> Target:
    """Normalise ``target`` (a :class:`Target`, scenario name/object or factory) to a Target.

    ``expect``: the finding kind the target must show, for a factory (a scenario variant
    claims its own; given, it overrides the claim).
    """
    from irqlab.scenarios import Scenario

    if isinstance(target, Target):
        if expect is not None and expect != target.expect:
            return replace(target, expect=expect)
        return target
    if isinstance(target, Scenario):
        target = target.name
    if isinstance(target, str):
        return Target(scenario=target, variant=variant, params=dict(params or {}),
                      observe=observe, expect=expect)
    if callable(target):
        if variant is not None or params:
            raise InvalidArgumentValue(
                f"variant and params must be None for a factory target, not {variant!r}")
        return Target(factory=target, observe=observe, expect=expect)
    raise InvalidArgumentType(
        f"target must be a scenario name, Scenario, Target or factory, not {target!r}")


@dataclass
class Outcome:
    """One run: its findings, the engine's result, the world, and the events if recorded."""

    findings: list[Finding]
    result: Any
    world: Any
    events: list[Any] | None = None
    #: The CPU-column recorder of a reported run (:func:`irqlab.check.report.record_run`).
    recorder: Any = None

    @property
    def failed(self) -> bool:
        return bool(self.findings)

    @property
    def schedule(self) -> str:
        return str(self.result.schedule)

    def report(self, *, draw: bool = True) -> str:
        """The run's outcome, its findings and (``draw``) the run in CPU columns: what
        :func:`irqlab.check.replay` returns is printed with this."""
        from irqlab.check.report import format_outcome

        return format_outcome(self, draw=draw)


def _engine_of(built: Any) -> tuple[Any, Any]:
    """``(world or None, engine)`` of what a target built."""
    eng = getattr(built, "engine", None)
    if eng is not None and hasattr(eng, "run"):
        return built, eng
    if hasattr(built, "run") and hasattr(built, "events"):
        return None, built
    raise InvalidArgumentType(f"factory must return a World or an Engine, not {built!r}")


def _attach(engine: Any, observe: bool | str) -> Any:
    if not observe:
        return None
    from irqlab.check.observe import attach

    if observe == "preempt_rt":
        from irqlab.check.lockdep import Lockdep

        return attach(engine, lockdep=Lockdep(engine, preempt_rt=True))
    return attach(engine)


def _outcome_findings(result: Any) -> list[Finding]:
    from irqlab.check.observe import outcome_findings

    return outcome_findings(result)


def run_built(built: Any, *, observe: bool | str = True, record: bool = False,
              on_engine: Callable[[Any], None] | None = None, fast: bool = False) -> Outcome:
    """Run a freshly built world/engine once and collect its findings.

    ``on_engine(engine)`` is called before the run (exploration strategies
    use it to switch on footprints).  ``fast=True`` (explorations) drops the
    per-step ``sim_step`` events, which no observer needs; reports replay the
    schedule with them.  Strategy exceptions (schedule divergence, an
    exploration's abort) propagate.
    """
    world, eng = _engine_of(built)
    if fast and not record:
        eng.trace_steps = False
    rec = eng.events.record() if record else None
    obs = _attach(eng, observe)
    try:
        if on_engine is not None:
            on_engine(eng)
    except BaseException:
        eng.close()  # never ran: close its coroutines
        if obs is not None:
            obs.detach()
        if rec is not None:
            rec.stop()
        raise
    try:
        result = eng.run()
    finally:
        if obs is not None:
            obs.detach()
        if rec is not None:
            rec.stop()
    findings = obs.findings(result) if obs is not None else _outcome_findings(result)
    if world is not None:
        extra = world.check(result)
        for f in extra:
            if not f.schedule:
                f.schedule = result.schedule
        findings.extend(extra)
    return Outcome(findings=findings, result=result, world=world,
                   events=list(rec) if rec is not None else None)


def run_once(target: Any, variant: str | None = None, strategy: Any = None, *,
             record: bool = False, observe: bool | str = True, **params: Any) -> Outcome:
    """Build ``target`` (variant, params) with ``strategy``, run it once, return the outcome.

    ``strategy`` defaults to ``irqlab.sim.Random(0)``.  ``record=True`` keeps
    every event (``outcome.events``) for a report or a trace.  Not reentrant
    (one engine run at a time per process).
    """
    from irqlab.scenarios import World
    from irqlab.sim import Random, Strategy

    if isinstance(target, World):
        if strategy is not None:
            raise InvalidArgumentValue(
                f"strategy must be None for an already-built World, not {strategy!r}")
        return run_built(target, observe=observe, record=record)
    if strategy is None:
        strategy = Random(0)
    elif not isinstance(strategy, Strategy):
        raise InvalidArgumentType(f"strategy must be an irqlab.sim.Strategy, not {strategy!r}")
    t = make_target(target, variant, params, observe=observe)
    return run_built(t.build(strategy), observe=t.observe, record=record)


def signature(f: Finding) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What "fails the same way" means: the finding kind and its sites (not the stacks' lines
    of unrelated frames: only the innermost frame of each site is compared)."""
    sites = tuple(sorted((k, str(v).split(";")[-1]) for k, v in f.sites.items()))
    return f.kind, sites
