"""Hypothesis: random model programs never crash the engine, and always replay exactly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab import sim

# One instruction: (op, arg).  Lock sections are generated balanced.
_instr = st.one_of(
    st.tuples(st.just("point"), st.integers(0, 3)),
    st.tuples(st.just("access"), st.integers(0, 2)),
    st.tuples(st.just("lock"), st.integers(0, 2)),
    st.tuples(st.just("irqsave"), st.integers(0, 2)),
    st.tuples(st.just("lock_irq"), st.integers(0, 2)),
    st.tuples(st.just("rcu"), st.integers(0, 1)),
    st.tuples(st.just("raise"), st.integers(0, 2)),
    st.tuples(st.just("sync_rcu"), st.just(0)),
    st.tuples(st.just("ref"), st.integers(0, 1)),
)
_program = st.lists(_instr, min_size=1, max_size=6)


def build(programs: list[list[tuple[str, int]]], handler_lock: int | None,
          strategy: sim.Strategy) -> sim.Engine:
    n = len(programs)
    eng = sim.Engine(cpus=n, strategy=strategy, fingerprint="fuzz", max_steps=2000)
    locks = [sim.SpinLock(f"L{i}", key=f"L{i}") for i in range(3)]
    objs = [sim.Atomic(0, name=f"o{i}") for i in range(3)]
    ref = sim.Refcount(5, name="ref")

    async def handler(cpu: sim.CpuCtx) -> None:
        if handler_lock is not None:
            flags = await locks[handler_lock].lock_irqsave()
            await objs[0].add(1)
            locks[handler_lock].unlock_irqrestore(flags)
        else:
            await sim.point("irq")

    async def run(prog: list[tuple[str, int]]) -> None:
        for op, arg in prog:
            if op == "point":
                await sim.point(f"p{arg}")
            elif op == "access":
                v = await objs[arg].read()
                await objs[arg].set(v + 1)
            elif op == "lock":
                await locks[arg].lock()
                await sim.point("in")
                locks[arg].unlock()
            elif op == "irqsave":
                flags = await locks[arg].lock_irqsave()
                await sim.point("in")
                locks[arg].unlock_irqrestore(flags)
            elif op == "lock_irq":
                await locks[arg].lock_irq()
                locks[arg].unlock_irq()
            elif op == "rcu":
                sim.rcu_read_lock()
                await sim.point("reader")
                sim.rcu_read_unlock()
            elif op == "raise":
                eng.raise_irq(arg % n, 32 + arg)
            elif op == "sync_rcu":
                await sim.synchronize_rcu()
            elif op == "ref":
                if arg:
                    await ref.inc()
                else:
                    await ref.dec_and_test()

    eng.set_irq_handler(handler)
    for cpu, prog in enumerate(programs):
        eng.spawn(cpu, run, prog)
    return eng


@settings(max_examples=80, deadline=None)
@given(st.lists(_program, min_size=1, max_size=3), st.one_of(st.none(), st.integers(0, 2)),
       st.integers(0, 2**32 - 1))
def test_random_programs_run_and_replay(programs: list[list[tuple[str, int]]],
                                        handler_lock: int | None, seed: int) -> None:
    eng = build(programs, handler_lock, sim.Random(seed))
    rec = eng.events.record()
    res = eng.run()
    assert res.outcome in ("ok", "deadlock"), res
    if res.outcome == "ok":
        for cpu in res.cpus:
            assert cpu["held"] == [] and cpu["irqs_on"] and cpu["irq_depth"] == 0
    eng2 = build(programs, handler_lock, sim.Replay(res.schedule))
    rec2 = eng2.events.record()
    res2 = eng2.run()
    assert (res2.outcome, res2.schedule) == (res.outcome, res.schedule)
    assert rec2.text() == rec.text()
