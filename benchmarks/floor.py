"""The interpreter's floor for the counter benchmark: a bare generator explorer.

The issue's reference point ("a bare generator explorer runs 25,000-35,000
schedules/s on this machine"), written out so that it is measured next to
irqlab on the same machine and the same Python: N generators each doing K
lock / read / write / unlock steps on one shared counter, a fresh state per
schedule, random choice among the enabled generators.  No CPUs, interrupts,
contexts, events, footprints, partial-order reduction or observers: every
schedules/s figure of irqlab's checker pays for those on top of this.

``python benchmarks/floor.py [RUNS]`` prints the rate for 3x2, 3x3 and 4x2.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterator

__all__ = ["floor_rate"]


def _schedule(n: int, k: int, rng: random.Random) -> int:
    state = {"counter": 0, "owner": -1}

    def inc(t: int) -> Iterator[str]:
        for _ in range(k):
            yield "lock"
            yield "read"
            v = state["counter"]
            yield "write"
            state["counter"] = v + 1
            yield "unlock"

    gens = [inc(t) for t in range(n)]
    nxt = [next(g) for g in gens]
    live = list(range(n))
    while live:
        held = state["owner"] >= 0
        en = [t for t in live if not (held and nxt[t] == "lock")]
        t = en[rng.randrange(len(en))] if len(en) > 1 else en[0]
        op = nxt[t]
        if op == "lock":
            state["owner"] = t
        elif op == "unlock":
            state["owner"] = -1
        try:
            nxt[t] = next(gens[t])
        except StopIteration:
            live.remove(t)
    return state["counter"]


def floor_rate(n: int, k: int, runs: int = 20_000) -> float:
    """Schedules/s of the bare generator explorer on the ``n`` x ``k`` counter."""
    rng = random.Random(0)
    t0 = time.perf_counter()
    for _ in range(runs):
        if _schedule(n, k, rng) != n * k:
            raise AssertionError("the bare explorer lost an update under its lock")
    return runs / (time.perf_counter() - t0)


if __name__ == "__main__":
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    for n, k in ((3, 2), (3, 3), (4, 2)):
        print(f"bare generator explorer, counter {n}x{k}: {floor_rate(n, k, runs):,.0f} "
              f"schedules/s")
