"""The deterministic multi-CPU engine: CPUs as coroutine stacks, strategies, primitives.

Model code is ``async def``; every ``await`` of an engine operation is a
scheduling point.  See ``docs/engine.md`` for the model of execution::

    from irqlab import sim

    async def inc(counter, lock):
        for _ in range(2):
            await lock.lock()
            v = await counter.read()
            await counter.set(v + 1)
            lock.unlock()

    eng = sim.Engine(cpus=3, strategy=sim.Random(1))
    lock, counter = sim.SpinLock("lock"), sim.Atomic(0)
    for cpu in range(3):
        eng.spawn(cpu, inc, counter, lock)
    result = eng.run()          # RunResult: outcome, schedule string, steps, ...

Plain calls (never scheduling points): lock releases, ``local_irq_*``,
``rcu_read_lock``/``unlock``, ``call_rcu``, ``complete``, ``alloc``/``kfree``,
``queue_work``.  Awaits (always scheduling points): lock acquisitions,
``trylock``, ``synchronize_rcu``/``srcu``, ``wait_for_completion``,
``flush_work``, refcount and atomic operations, ``access``, ``point``,
``Engine.run_on``.  The module-level functions act on the engine that is
running (one run at a time per process); outside a run they raise
:class:`SimError`.
"""

from irqlab.sim._core import CpuCtx, DataChoice, Op, SimError, Thread
from irqlab.sim.engine import Engine
from irqlab.sim.explore import explore
from irqlab.sim.objects import Atomic, Completion, PerCpu, Refcount
from irqlab.sim.rcu import (
    SrcuStruct,
    call_rcu,
    rcu_read_lock,
    rcu_read_lock_held,
    rcu_read_unlock,
    srcu_read_lock,
    srcu_read_unlock,
    synchronize_rcu,
    synchronize_srcu,
)
from irqlab.sim.result import Deadlock, RunResult, WaitInfo
from irqlab.sim.strategy import (
    Random,
    Replay,
    RoundRobin,
    ScheduleDivergence,
    Strategy,
    decode_schedule,
    encode_schedule,
)
from irqlab.sim.sync import (
    Mutex,
    SpinLock,
    current,
    in_atomic,
    in_irq,
    in_task,
    irqs_disabled,
    local_irq_disable,
    local_irq_enable,
    local_irq_restore,
    local_irq_save,
    might_sleep,
    smp_processor_id,
)
from irqlab.sim.track import (
    Shared,
    Tracked,
    Work,
    access,
    alloc,
    choose,
    flush_work,
    is_freed,
    kfree,
    kfree_rcu,
    note_access,
    point,
    queue_work,
)

__all__ = [
    "Atomic",
    "Completion",
    "CpuCtx",
    "DataChoice",
    "Deadlock",
    "Engine",
    "Mutex",
    "Op",
    "PerCpu",
    "Random",
    "Refcount",
    "Replay",
    "RoundRobin",
    "RunResult",
    "ScheduleDivergence",
    "Shared",
    "SimError",
    "SpinLock",
    "SrcuStruct",
    "Strategy",
    "Thread",
    "Tracked",
    "WaitInfo",
    "Work",
    "access",
    "alloc",
    "call_rcu",
    "choose",
    "current",
    "decode_schedule",
    "encode_schedule",
    "explore",
    "flush_work",
    "in_atomic",
    "in_irq",
    "in_task",
    "irqs_disabled",
    "is_freed",
    "kfree",
    "kfree_rcu",
    "local_irq_disable",
    "local_irq_enable",
    "local_irq_restore",
    "local_irq_save",
    "might_sleep",
    "note_access",
    "point",
    "queue_work",
    "rcu_read_lock",
    "rcu_read_lock_held",
    "rcu_read_unlock",
    "smp_processor_id",
    "srcu_read_lock",
    "srcu_read_unlock",
    "synchronize_rcu",
    "synchronize_srcu",
]
