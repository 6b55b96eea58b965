"""Engine benchmarks: steps/s on a lock-heavy workload, runs/s of the counter benchmark.

Run: ``.venv/bin/python benchmarks/bench_engine.py [--quick]``.  Prints one
figure per line; every figure is the best of a few repetitions, timed in CPU
time of this process (``time.process_time``: one core, robust on a shared
machine).

* ``lock-heavy``: 4 CPUs, each 2,000 iterations of lock A, lock B (nested),
  a shared access, unlock both, under ``Random(seed)``: steps per second.
* ``counter NxK``: N CPUs each doing K lock-protected read-modify-write
  increments of one shared counter (``lock``; ``v = await c.read()``;
  ``await c.set(v + 1)``; ``unlock``), a fresh scenario per run, run to
  completion under random scheduling: complete runs per second (scenario
  construction included), and steps per run.
* the same with an event observer subscribed (a counting subscriber): what a
  run costs when a checker listens.

Targets (exit 1 when missed): a step costs a few microseconds at most
(lock-heavy >= 200,000 steps/s); the counter 3x2 runs >= 10,000 times/s
without observers.  The checker's goal of 20,000 schedules/s on the counter
is printed for comparison.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from irqlab import sim


async def _heavy(a: sim.SpinLock, b: sim.SpinLock, obj: object, iters: int) -> None:
    for _ in range(iters):
        await a.lock()
        await b.lock_nested(1)
        await sim.access(obj, "w", "shared")
        b.unlock()
        a.unlock()


def lock_heavy(iters: int, seed: int = 1) -> tuple[int, float]:
    eng = sim.Engine(cpus=4, strategy=sim.Random(seed), max_steps=10**9)
    a, b, obj = sim.SpinLock("A"), sim.SpinLock("B"), object()
    for cpu in range(4):
        eng.spawn(cpu, _heavy, a, b, obj, iters)
    t = time.process_time()
    res = eng.run()
    dt = time.process_time() - t
    assert res.outcome == "ok", res
    return res.steps, dt


async def _inc(counter: sim.Atomic, lock: sim.SpinLock, k: int) -> None:
    for _ in range(k):
        await lock.lock()
        v = await counter.read()
        await counter.set(v + 1)
        lock.unlock()


def counter_runs(n: int, k: int, runs: int, *, observe: bool = False) -> tuple[float, int]:
    strategy = sim.Random(7)
    steps = 0
    seen = [0]

    def sub(_ev: object) -> None:
        seen[0] += 1

    t = time.process_time()
    for _ in range(runs):
        eng = sim.Engine(cpus=n, strategy=strategy, fingerprint=f"counter-{n}x{k}")
        if observe:
            eng.events.subscribe(sub)
        lock, counter = sim.SpinLock("lock"), sim.Atomic(0, name="counter")
        for cpu in range(n):
            eng.spawn(cpu, _inc, counter, lock, k)
        res = eng.run()
        if res.outcome != "ok" or counter.value != n * k:
            raise AssertionError(f"counter run failed: {res}")
        steps += res.steps
    dt = time.process_time() - t
    return runs / dt, steps // runs


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    reps = 2 if quick else 5
    best = max((lock_heavy(500 if quick else 2000, seed=s) for s in range(reps)),
               key=lambda r: r[0] / r[1])
    print(f"lock-heavy 4 CPUs, nested spinlocks: {best[0] / best[1]:,.0f} steps/s "
          f"({best[0]:,} steps)")
    runs = 500 if quick else 3000
    rates: dict[tuple[int, int], float] = {}
    for n, k in ((3, 2), (3, 3), (4, 2)):
        rate, steps = max(counter_runs(n, k, runs) for _ in range(reps))
        rates[(n, k)] = rate
        print(f"counter {n}x{k} random schedules: {rate:,.0f} runs/s ({steps} steps/run)")
    rate, steps = max(counter_runs(3, 2, runs, observe=True) for _ in range(reps))
    print(f"counter 3x2 with an event subscriber: {rate:,.0f} runs/s ({steps} steps/run)")
    ok = True
    step_rate = best[0] / best[1]
    if step_rate < 200_000:
        print(f"TARGET MISSED: lock-heavy {step_rate:,.0f} < 200,000 steps/s")
        ok = False
    if rates[(3, 2)] < 10_000:
        print(f"TARGET MISSED: counter 3x2 {rates[(3, 2)]:,.0f} < 10,000 runs/s")
        ok = False
    print(f"checker goal (counter 3x2, observers on): 20,000 schedules/s; engine alone: "
          f"{rates[(3, 2)]:,.0f} runs/s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
