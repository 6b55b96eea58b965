"""A minimal exploration loop: run a scenario factory many times under one strategy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from irqlab.errors import InvalidArgumentType, check_count
from irqlab.sim.result import RunResult
from irqlab.sim.strategy import Strategy

__all__ = ["explore"]


def explore(factory: Callable[[Strategy], Any], strategy: Strategy, runs: int, *,
            stop: Callable[[RunResult], bool] | None = None) -> Iterator[RunResult]:
    """Yield the results of up to ``runs`` runs of ``factory(strategy)``.

    ``factory`` builds a fresh scenario (machine, primitives, spawned
    contexts) and returns its :class:`~irqlab.sim.Engine`, constructed with the
    given strategy.  The strategy object persists across runs (``Random``
    keeps drawing from its one generator).  Iteration stops early after a
    result for which ``stop(result)`` is true.
    """
    if not callable(factory):
        raise InvalidArgumentType(f"factory must be callable, not {factory!r}")
    if not isinstance(strategy, Strategy):
        raise InvalidArgumentType(f"strategy must be a Strategy, not {strategy!r}")
    check_count("runs", runs, 0, 1 << 62)
    for _ in range(runs):
        eng = factory(strategy)
        if getattr(eng, "strategy", None) is not strategy:
            if hasattr(eng, "close"):
                eng.close()
            raise InvalidArgumentType(
                f"factory must return an Engine built with the given strategy, not {eng!r}")
        res = eng.run()
        yield res
        if stop is not None and stop(res):
            return
