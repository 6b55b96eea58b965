"""PCT: probabilistic concurrency testing with priority change points.

Burckhardt, Kothari, Musuvathi and Nagarakatte (ASPLOS 2010): give every
context a random priority, always run the highest-priority enabled one, and
at ``d - 1`` steps drawn uniformly from ``1..k`` lower the priority of the
context that runs there below every initial priority.  Any bug of *depth*
``d`` (``d`` ordering constraints) is then found by one run with probability
at least ``1 / (n * k^(d-1))`` for ``n`` contexts and ``k`` steps.

Here a context is anything the engine offers as a choice: a task, an irq
context, a device actor, and the pseudo-contexts "take the pending interrupt
on CPU c now" and "complete an RCU grace period now" -- so interrupt arrival
gets a priority too (a high one: interrupts are taken at once; a low one or
a change point: late).  ``n`` and ``k`` are learnt from the runs so far
(``k`` starts at ``steps`` if given, else at the first run's length).
Deterministic: everything comes from one ``random.Random(seed)``.
"""

from __future__ import annotations

import math
import random
from typing import Any

from irqlab.errors import InvalidArgumentType, check_count, check_int
from irqlab.sim import Strategy

__all__ = ["PCT", "pct_bound", "runs_for_confidence"]


def pct_bound(n: int, k: int, d: int) -> float:
    """The PCT guarantee: a depth-``d`` bug shows in one run with probability >= this."""
    return 1.0 / (max(n, 1) * max(k, 1) ** max(d - 1, 0))


def runs_for_confidence(p: float, confidence: float = 0.95) -> int:
    """Runs needed to see an event of per-run probability ``p`` with ``confidence``."""
    if p >= 1.0:
        return 1
    if p <= 0.0:
        return 1 << 62
    return math.ceil(math.log(1.0 - confidence) / math.log(1.0 - p))


class PCT(Strategy):
    """The PCT strategy with depth ``depth`` (``d``), seeded.

    ``steps``: the initial estimate of ``k`` (default: learnt from the first
    run, which then runs without change points).  One strategy object serves
    many runs: each run draws new priorities and change points.
    """

    def __init__(self, seed: int = 0, depth: int = 3, steps: int | None = None) -> None:
        if type(seed) is not int:
            raise InvalidArgumentType(f"seed must be an int, not {seed!r}")
        self.seed = seed
        self.depth = check_int("depth", depth, 1, 64)
        self.k = 0 if steps is None else check_count("steps", steps, 1, 1 << 40)
        self.n = 0
        self.rng = random.Random(seed)
        self.runs = 0
        self._prio: dict[int, float] = {}
        self._changes: dict[int, int] = {}

    def begin(self, engine: Any) -> None:
        rng = self.rng
        self._prio = {}
        d = self.depth
        self._changes = {}
        if self.k and d > 1:
            pts = sorted(rng.randint(1, self.k) for _ in range(d - 1))
            for i, s in enumerate(pts):
                # the i-th change point lowers to d - 1 - i (all below the initial band)
                self._changes.setdefault(s, d - 1 - i)

    def _p(self, key: int) -> float:
        p = self._prio.get(key)
        if p is None:
            p = self._prio[key] = self.depth + self.rng.random()
        return p

    def choose(self, choices: list[Any], engine: Any) -> int:
        if choices[0].kind == "data":
            # PCT orders contexts; a data value is drawn uniformly (from the same generator)
            return int(self.rng.random() * len(choices))
        best = 0
        bp = -1.0
        prio = self._prio
        for i, c in enumerate(choices):
            p = prio.get(c.key)
            if p is None:
                p = self._p(c.key)
            if p > bp:
                best, bp = i, p
        return best

    def after_step(self, choice: Any, engine: Any) -> None:
        low = self._changes.get(engine.steps)
        if low is not None:
            self._p(choice.key)
            self._prio[choice.key] = float(low)

    def end(self, result: Any) -> None:
        self.runs += 1
        self.k = max(self.k, result.steps)
        self.n = max(self.n, len(self._prio))

    @property
    def bound(self) -> float:
        """The per-run probability bound for the ``n`` and ``k`` seen so far."""
        return pct_bound(self.n, self.k, self.depth)

    def describe(self) -> str:
        """The guarantee in one line (printed with exploration results)."""
        p = self.bound
        return (f"PCT depth {self.depth}: n={self.n} contexts, k={self.k} steps: "
                f"P(find a depth-{self.depth} bug per run) >= 1/(n*k^(d-1)) = {p:.3g}; "
                f"{runs_for_confidence(p)} runs for 95% confidence")
