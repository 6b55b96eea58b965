"""The scenario contract and registry.

A scenario is a short, readable file in this package that builds a *world* (a
machine, the software on it and the engine that runs it) for one of its named
variants, declares the invariants that must hold, and says what each variant
is expected to show.  The checker (:mod:`irqlab.check`) runs worlds under
strategies, attaches its observers (lifetimes, lockdep, interrupts) and turns
runs into findings; the CLI (``irqlab run|list|explore|replay``) and the tests
only go through this contract::

    from irqlab.scenarios import get_scenario
    sc = get_scenario("vmd-teardown")
    world = sc.build("srcu", strategy)         # fresh machine + kernel + engine
    result = world.engine.run()
    findings = world.check(result)             # the scenario's own invariants

A scenario module defines ``SCENARIO = Scenario(...)``; every public module of
this package that does is a built-in scenario (listed by seed, then name).
``build`` must be deterministic: the same variant, parameters and strategy
choices give the same run.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from irqlab.check.findings import Finding
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue

__all__ = [
    "Scenario",
    "Variant",
    "World",
    "all_scenarios",
    "get_scenario",
]


@functools.cache
def _all_scenarios() -> tuple[Scenario, ...]:
    """Every scenario module of this package, imported once (the set is fixed at install)."""
    import irqlab.scenarios as pkg

    found = []
    for m in sorted(m.name for m in pkgutil.iter_modules(pkg.__path__)
                    if not m.name.startswith("_")):
        sc = getattr(importlib.import_module(f"irqlab.scenarios.{m}"), "SCENARIO", None)
        if isinstance(sc, Scenario):
            found.append(sc)
    return tuple(sorted(found, key=lambda sc: (sc.seed, sc.name)))

Invariant = Callable[["World", Any], "Finding | list[Finding] | None"]


@dataclass(frozen=True)
class Variant:
    """A named design alternative.  ``expect`` is ``None`` when the variant must
    hold every invariant, else the finding kind it must show (``"use-after-free"``,
    ``"invariant:reserve-once"``, ...)."""

    name: str
    summary: str
    expect: str | None = None


@dataclass
class World:
    """One fresh instance of a scenario, ready to run.

    ``engine`` is built but not yet run; ``machine`` and ``kernel`` are the
    scenario's (``None`` for pure software models); ``invariants`` are checked
    by :meth:`check` after the run; ``describe`` prints what happened (the
    histogram, the allocator state, ...); ``state`` holds whatever the
    scenario's invariants need.
    """

    scenario: Scenario
    variant: str
    params: dict[str, Any]
    engine: Any
    machine: Any = None
    kernel: Any = None
    invariants: list[Invariant] = field(default_factory=list)
    describe: Callable[[World, Any], str] | None = None
    state: dict[str, Any] = field(default_factory=dict)

    def check(self, result: Any) -> list[Finding]:
        """Evaluate the scenario's invariants against a finished run."""
        out: list[Finding] = []
        for inv in self.invariants:
            f = inv(self, result)
            if f is None:
                continue
            out.extend(f if isinstance(f, list) else [f])
        return out

    def summary(self, result: Any) -> str:
        return self.describe(self, result) if self.describe is not None else ""


@dataclass
class Scenario:
    """A built-in scenario: name, seed thread, variants and a ``setup`` function.

    ``setup(world)`` fills in a :class:`World` whose ``engine`` field it must
    set (it receives the world with ``engine=None`` and the strategy in
    ``world.state["strategy"]``); it is called once per run.
    """

    name: str
    seed: str
    title: str
    variants: tuple[Variant, ...]
    setup: Callable[[World], None]
    default_variant: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.default_variant:
            self.default_variant = self.variants[0].name

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        names = ", ".join(v.name for v in self.variants)
        raise InvalidArgumentValue(
            f"variant must be one of {names} for scenario {self.name}, not {name!r}")

    def fingerprint(self, variant: str, params: dict[str, Any]) -> str:
        """The string whose hash a schedule carries: scenario, variant and parameters."""
        items = ",".join(f"{k}={params[k]!r}" for k in sorted(params))
        return f"{self.name}/{variant}/{items}"

    def resolve_params(self, overrides: dict[str, Any]) -> dict[str, Any]:
        params = dict(self.params)
        for k, v in overrides.items():
            if k not in params:
                known = ", ".join(sorted(params)) or "none"
                raise InvalidArgumentValue(
                    f"parameter must be one of {known} for scenario {self.name}, not {k!r}")
            if type(v) is not type(params[k]):
                raise InvalidArgumentType(
                    f"{k} must be {type(params[k]).__name__}, not {v!r}")
            params[k] = v
        return params

    def build(self, variant: str | None = None, strategy: Any = None, **params: Any) -> World:
        """A fresh world for ``variant`` whose engine uses ``strategy`` (default round-robin)."""
        name = variant or self.default_variant
        self.variant(name)
        p = self.resolve_params(params)
        world = World(scenario=self, variant=name, params=p, engine=None)
        world.state["strategy"] = strategy
        world.state["fingerprint"] = self.fingerprint(name, p)
        self.setup(world)
        if world.engine is None:
            raise RuntimeError(f"scenario {self.name}: setup did not create an engine")
        return world


def get_scenario(name: str) -> Scenario:
    """The built-in scenario called ``name``."""
    if not isinstance(name, str):
        raise InvalidArgumentType(f"scenario must be a str, not {name!r}")
    for sc in all_scenarios():
        if sc.name == name:
            return sc
    names = ", ".join(sc.name for sc in all_scenarios()) or "none yet"
    raise InvalidArgumentValue(f"scenario must be one of {names}, not {name!r}")


def all_scenarios() -> list[Scenario]:
    """Every built-in scenario, ordered by seed then name."""
    return list(_all_scenarios())
