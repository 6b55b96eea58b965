"""Benchmarks of the checker's exploration (``python benchmarks/bench_check.py [--quick]``).

Prints:

1. the counter benchmark (N CPUs x K locked increments): schedules explored by
   DFS with source-DPOR + sleep sets against the number of lock-acquisition
   orders (must be equal), schedules/s with all observers on and with none,
   and the reduction factor against DFS without reduction;
2. partial-order reduction on seed scenarios with small parameters: schedules
   explored by DPOR and by the full search, and their distinct outcomes (equal);
   then per seed scenario variant: schedules/s/core (random strategy, all
   observers on) and, for the variants with a planted bug, the schedules and
   seconds to the first finding per strategy, and the shrinking time;
3. the speed-up of 2 worker processes over 1: random and DFS on the counter, DFS on
   vmd-balance (``--speedup [--rounds N]``: this section alone, N rounds, default 3).

Exit code 1 only if a correctness target fails (DPOR counts, a planted bug not
found within its budget); performance goals are printed with "goal met" /
"goal missed".
"""

from __future__ import annotations

import sys
import time
from typing import Any

from floor import floor_rate

from irqlab.check.counter import expected_classes
from irqlab.check.dfs import DfsExplorer
from irqlab.check.explore import explore
from irqlab.check.run import Target


def dfs_count(target: Target, reduction: bool = True, limit: float = 120.0
              ) -> tuple[int, int, float, bool]:
    # steady state: a few schedules first fill the per-process caches (observer routing
    # tables, stack caches), which the first exploration of a process would pay for
    warm = DfsExplorer(target, reduction=reduction)
    for _ in range(5):
        if not warm.finished:
            warm.next_run()
    ex = DfsExplorer(target, reduction=reduction)
    t0 = time.perf_counter()
    while not ex.finished and time.perf_counter() - t0 < limit:
        ex.next_run()
    return ex.schedules, ex.blocked, time.perf_counter() - t0, ex.finished


def engine_only(n: int, k: int, runs: int = 2000) -> float:
    """Runs/s of the engine alone: a fresh scenario per run, random choices, no observers,
    no footprints -- the base that exploration with observers and DPOR builds on."""
    from irqlab import sim
    from irqlab.check.run import run_built

    t = Target("counter", "locked", {"cpus": n, "iters": k}, observe=False)
    t0 = time.perf_counter()
    for i in range(runs):
        run_built(t.build(sim.Random(i)), observe=False, fast=True)
    return runs / (time.perf_counter() - t0)


def counter_table(quick: bool) -> bool:
    ok = True
    print("counter benchmark: N CPUs x K spin_lock-protected increments (DFS, source-DPOR)")
    print("  (s/s obs: DFS with every observer; s/s bare: DFS without observers; engine: one "
          "random run per schedule, no observers, no DPOR;\n   floor: a bare generator "
          "explorer, no CPUs, contexts, events, DPOR or observers: benchmarks/floor.py)")
    print(f"  {'NxK':<5} {'orders':>7} {'explored':>9} {'blocked':>8} {'s/s obs':>9} "
          f"{'s/s bare':>9} {'engine':>9} {'floor':>9} {'no-POR':>9} {'factor':>7}")
    sizes = [(3, 2), (3, 3)] if quick else [(3, 2), (3, 3), (4, 2)]
    best = 0.0
    for n, k in sizes:
        want = expected_classes(n, k)
        s, b, dt, _ = dfs_count(Target("counter", "locked", {"cpus": n, "iters": k}))
        s2, _, dt2, _ = dfs_count(Target("counter", "locked", {"cpus": n, "iters": k},
                                         observe=False))
        nored = factor = "-"
        if n * k <= 6:
            s3, _, _, fin = dfs_count(Target("counter", "locked", {"cpus": n, "iters": k},
                                             observe=False), reduction=False)
            nored = f"{s3}" + ("" if fin else "+")
            factor = f"{s3 / s:.0f}x"
        rate = s / dt
        best = max(best, rate)
        print(f"  {n}x{k:<3} {want:>7} {s:>9} {b:>8} {rate:>9.0f} {s2 / dt2:>9.0f} "
              f"{engine_only(n, k):>9.0f} {floor_rate(n, k):>9.0f} {nored:>9} {factor:>7}")
        if s != want:
            ok = False
            print(f"  FAIL: {n}x{k} explored {s} schedules, expected {want}")
    goal = 20_000
    print(f"  goal >= {goal} schedules/s/core with observers: "
          f"{'goal met' if best >= goal else 'goal missed'} (best {best:.0f})")
    return ok


# seed scenarios with parameters small enough for the full search (tests/check/
# test_dfs_outcomes.py checks the same configurations)
POR_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("vgic-lpi-refcount", "dec-then-lock", {}),
    ("vmd-teardown", "immediate-free", {}),
    ("vmd-balance", "modulo", {"cpu0": "N", "cpu1": "Sx", "vectors": 2}),
    ("its-memreserve", "merged", {"sequence": "?2"}),
    ("counter", "irq", {"cpus": 2, "iters": 1}),
]


def reduction_table(quick: bool) -> bool:
    """Schedules DPOR explores against the full search, for the same outcomes."""
    from irqlab.check.dfs import outcomes

    print()
    print("partial-order reduction on seed scenarios (small parameters; same coverage: the "
          "distinct outcomes of both searches must be equal)")
    print(f"  {'scenario/variant':<34} {'DPOR':>6} {'full':>7} {'factor':>7} {'outcomes':>9}")
    ok = True
    for name, variant, params in POR_CASES[:2] if quick else POR_CASES:
        t = Target(name, variant, params, observe=True)
        red, n_red, _ = outcomes(t)
        full, n_full, _ = outcomes(t, reduction=False)
        same = set(red) == set(full)
        ok = ok and same
        label = name + "/" + variant + ("" if not params else " (small)")
        print(f"  {label:<34} {n_red:>6} {n_full:>7} {n_full / n_red:>6.0f}x "
              f"{len(full):>5}{'' if same else ' DIFFER'}")
    return ok


BUGS = [("vgic-lpi-xa", "irq"), ("vgic-lpi-xa", "plain"),
        ("vgic-lpi-refcount", "dec-then-lock"), ("vmd-teardown", "immediate-free"),
        ("its-memreserve", "v1"), ("its-memreserve", "one-flag"), ("vmd-balance", "modulo")]
CLEAN = [("vgic-lpi-xa", "irqsave"), ("vgic-lpi-refcount", "dec-and-lock"),
         ("vmd-teardown", "rcu-desc"), ("vmd-teardown", "srcu"), ("its-memreserve", "merged")]


def scenarios_table(quick: bool) -> bool:
    from irqlab.scenarios import all_scenarios

    names = {sc.name for sc in all_scenarios()}
    ok = True
    print()
    print("seed scenarios: schedules/s/core (random, observers on)")
    for name, variant in CLEAN + BUGS:
        if name not in names:
            continue
        budget = 50 if quick else 300
        r = explore(name, variant, strategy="random", budget=budget, time=10, shrink=False,
                    stop="first")
        print(f"  {name + '/' + variant:<34} {r.rate():>8.0f}/s  ({r.schedules} runs)")
    print()
    print("time to first finding (one core) and shrinking")
    print(f"  {'scenario/variant':<34} {'random':>16} {'pct':>16} {'dfs':>16} {'shrink':>14}")
    for name, variant in BUGS:
        if name not in names:
            continue
        cells = []
        shrink_cell = "-"
        for strat in ("random", "pct", "dfs"):
            t0 = time.perf_counter()
            r = explore(name, variant, strategy=strat, budget=2000, time=30, shrink=False)
            dt = time.perf_counter() - t0
            if r.expected:
                cells.append(f"{r.first_at} in {dt:.2f}s")
                if dt > 10:
                    ok = False
                if strat == "dfs" and r.outcome is not None:
                    from irqlab.check.shrink import shrink

                    t1 = time.perf_counter()
                    s = shrink(r.target, r.outcome.result.choices, r.finding)  # type: ignore
                    if s is not None:
                        dt1 = time.perf_counter() - t1
                        shrink_cell = f"{s.preemptions}p/{s.steps}st {dt1:.2f}s"
            else:
                cells.append("not found")
                if strat == "dfs":
                    ok = False
        print(f"  {name + '/' + variant:<34} {cells[0]:>16} {cells[1]:>16} {cells[2]:>16} "
              f"{shrink_cell:>14}")
    return ok


def _capacity(n: int = 2_000_000) -> float:
    """What 2 processes get on this machine now: a pure-Python loop, alone vs 2 at once."""
    import multiprocessing

    def spin() -> None:
        s = 0
        for i in range(n):
            s += i

    t0 = time.perf_counter()
    spin()
    alone = time.perf_counter() - t0
    ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    t0 = time.perf_counter()
    p = ctx.Process(target=spin)
    p.start()
    spin()
    p.join()
    return 2 * alone / (time.perf_counter() - t0)


def speedup(quick: bool, rounds: int | None = None) -> None:
    """2 workers vs 1: random (a few thousand schedules) and exhaustive DFS of the counter.

    Interleaved rounds (1 worker, then 2); each line gives the ratio of every round and
    the machine's capacity measured just before it (a CPU-bound loop in 2 processes vs
    1: below 2.0 when other jobs hold the second core), then the best and the median
    ratio, and the median over the rounds whose capacity was at least 1.9.
    """
    import os
    import statistics

    print()
    if rounds is None:
        rounds = 1 if quick else 3
    print(f"2 workers vs 1 (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"{rounds} round(s), capacity = a CPU-bound loop in 2 processes vs 1)")
    cases: list[tuple[str, Target, str, int | None, int | None]] = [
        ("random, counter 3x3, 3000 schedules",
         Target("counter", "locked", {"cpus": 3, "iters": 3}), "random", 3000, 3000),
        ("DFS (DPOR, exhaustive), counter 3x3",
         Target("counter", "locked", {"cpus": 3, "iters": 3}), "dfs", None, 1680)]
    if not quick:
        cases += [
            ("random, counter 3x3, 20000 schedules",
             Target("counter", "locked", {"cpus": 3, "iters": 3}), "random", 20000, 20000),
            ("DFS (DPOR, exhaustive), counter 3x4",
             Target("counter", "locked", {"cpus": 3, "iters": 4}), "dfs", None, 34650),
            ("DFS (DPOR, exhaustive), vmd-balance least-loaded",
             Target("vmd-balance", "least-loaded"), "dfs", None, 4380)]
    for label, t, strat, budget, want in cases:
        cells = []
        for _ in range(rounds):
            cap = _capacity()
            times = {}
            for w in (1, 2):
                t0 = time.perf_counter()
                r = explore(t, strategy=strat, budget=budget, workers=w, shrink=False)
                times[w] = time.perf_counter() - t0
                assert r.schedules == want, (label, w, r.schedules)
            sp = times[1] / times[2]
            cells.append((sp, f"{times[1]:.2f}s/{times[2]:.2f}s = {sp:.2f}x (cap {cap:.2f})",
                          cap))
        best = max(sp for sp, _, _ in cells)
        med = statistics.median(sp for sp, _, _ in cells)
        full = [sp for sp, _, cap in cells if cap >= 1.9]
        print(f"  {label}: " + "; ".join(c for _, c, _ in cells))
        print(f"    best {best:.2f}x, median {med:.2f}x"
              + (f", median at capacity >= 1.9: {statistics.median(full):.2f}x "
                 f"({len(full)} rounds)" if full else "")
              + f" ({'goal met' if best >= 1.8 else 'goal missed'}: >= 1.8x)")


def main(argv: list[str] | None = None) -> int:
    args: Any = sys.argv[1:] if argv is None else argv
    quick = "--quick" in args
    if "--speedup" in args:  # only the last section
        rounds = None
        if "--rounds" in args:
            rounds = int(args[args.index("--rounds") + 1])
        speedup(quick, rounds)
        return 0
    ok = counter_table(quick)
    ok = reduction_table(quick) and ok
    ok = scenarios_table(quick) and ok
    speedup(quick)
    print()
    print("bench_check: " + ("all correctness targets met" if ok else "TARGETS MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
