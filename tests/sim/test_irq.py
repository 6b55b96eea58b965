"""Interrupts as scheduling choices: lines, soft-raised interrupts, nesting, IPIs, hotplug."""

from __future__ import annotations

from irqlab import sim
from irqlab.events import EventStream


class FakeCpu:
    def __init__(self) -> None:
        self.irq_line = False


class FakeMachine:
    """A line source without a GIC: the engine only needs ``events`` and ``cpus[i].irq_line``."""

    def __init__(self, n: int) -> None:
        self.events = EventStream()
        self.cpus = [FakeCpu() for _ in range(n)]


def test_interrupt_taken_only_when_enabled_and_line_high() -> None:
    m = FakeMachine(1)
    eng = sim.Engine(machine=m, strategy=sim.RoundRobin())
    log: list[str] = []

    async def handler(cpu: sim.CpuCtx) -> None:
        log.append(f"irq in_irq={sim.in_irq()} disabled={sim.irqs_disabled()}")
        m.cpus[cpu.index].irq_line = False   # the handler acknowledges the interrupt

    async def task() -> None:
        await sim.point("a")
        log.append("a")
        sim.local_irq_disable()
        m.cpus[0].irq_line = True
        await sim.point("b")
        log.append("b (irqs off: not taken)")
        await sim.point("c")
        log.append("c")
        sim.local_irq_enable()
        await sim.point("d")
        log.append("d")

    eng.set_irq_handler(handler)
    eng.spawn(0, task)
    rec = eng.events.record()
    assert eng.run().ok
    assert log == ["a", "b (irqs off: not taken)", "c",
                   "irq in_irq=True disabled=True", "d"]
    enter, = rec.of("sim_irq_enter")
    assert (enter.cpu, enter["intid"], enter["ipi"], enter["depth"]) == (0, -1, False, 1)
    assert len(rec.of("sim_irq_exit")) == 1


def test_no_handler_means_lines_are_ignored() -> None:
    m = FakeMachine(1)
    m.cpus[0].irq_line = True
    eng = sim.Engine(machine=m)

    async def task() -> None:
        await sim.point()

    eng.spawn(0, task)
    assert eng.run().steps == 2


def test_take_now_or_later_is_a_choice() -> None:
    # the interrupt can land before or after the task's critical step, depending on the seed
    seen = set()
    for seed in range(30):
        eng = sim.Engine(cpus=1, strategy=sim.Random(seed))
        state = {"x": 0, "seen": None}

        async def handler(cpu: sim.CpuCtx, state: dict = state) -> None:
            state["seen"] = state["x"]

        async def task(state: dict = state, eng: sim.Engine = eng) -> None:
            eng.raise_irq(0, 5)
            await sim.point("p1")
            state["x"] = 1
            await sim.point("p2")
            state["x"] = 2

        eng.set_irq_handler(handler)
        eng.spawn(0, task)
        assert eng.run().ok
        seen.add(state["seen"])
    assert seen == {0, 1, 2}


def test_soft_irq_intid_and_queue_order() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    got: list[tuple[int | None, int | None]] = []

    async def handler(cpu: sim.CpuCtx) -> None:
        got.append((cpu.index, cpu.irq_intid))
        await sim.point("in handler")

    async def task() -> None:
        eng.raise_irq(1, 8192)
        eng.raise_irq(1, 8193)
        await sim.point()

    eng.set_irq_handler(handler)
    eng.spawn(0, task)
    assert eng.run().ok
    assert got == [(1, 8192), (1, 8193)]


def test_nested_irq_when_handler_enables_interrupts() -> None:
    eng = sim.Engine(cpus=1, strategy=sim.RoundRobin())
    depth: list[int] = []

    async def handler(cpu: sim.CpuCtx) -> None:
        depth.append(len(cpu.irq_stack))
        if cpu.irq_intid == 1:
            eng.raise_irq(0, 2)
            sim.local_irq_enable()      # a handler that re-enables interrupts: nesting
            await sim.point("nested window")
        await sim.point()

    async def task() -> None:
        eng.raise_irq(0, 1)
        await sim.point()

    eng.set_irq_handler(handler)
    eng.spawn(0, task)
    rec = eng.events.record()
    assert eng.run().ok
    assert depth == [1, 2]
    assert [e["depth"] for e in rec.of("sim_irq_enter")] == [1, 2]
    assert [e["depth"] for e in rec.of("sim_irq_exit")] == [1, 0]


def test_irq_on_idle_cpu() -> None:
    eng = sim.Engine(cpus=2)
    ran: list[int] = []

    async def handler(cpu: sim.CpuCtx) -> None:
        ran.append(cpu.index)  # type: ignore[arg-type]

    async def task() -> None:
        eng.raise_irq(1)
        await sim.point()

    eng.set_irq_handler(handler)
    eng.spawn(0, task)
    assert eng.run().ok and ran == [1]


def test_run_on_other_cpu_is_an_ipi_and_caller_spins() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    out: list[object] = []

    async def remote(x: int) -> int:
        out.append((sim.smp_processor_id(), sim.in_irq(), sim.irqs_disabled()))
        await sim.point("remote")
        return x * 2

    async def caller() -> None:
        out.append(await eng.run_on(1, remote, 21))
        out.append(await eng.run_on(0, remote, 1))  # the calling CPU: inline, irqs off

    eng.spawn(0, caller)
    rec = eng.events.record()
    assert eng.run().ok
    assert out == [(1, True, True), 42, (0, False, True), 2]
    assert rec.of("sim_ipi")[0].cpu == 1
    assert rec.of("sim_irq_enter")[0]["ipi"] is True


def test_ipi_waits_while_target_has_interrupts_off() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    log: list[str] = []

    async def remote() -> None:
        log.append("remote")

    async def caller() -> None:
        await sim.point()
        await eng.run_on(1, remote)
        log.append("caller done")

    async def target() -> None:
        sim.local_irq_disable()
        for _ in range(4):
            await sim.point()
        log.append("target enables")
        sim.local_irq_enable()
        await sim.point()

    eng.spawn(0, caller)
    eng.spawn(1, target)
    assert eng.run().ok
    assert log == ["target enables", "remote", "caller done"]


def test_offline_cpu_runs_no_tasks_and_bringup_context() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    log: list[object] = []

    async def starting(cpu: int) -> str:
        log.append(("starting", sim.smp_processor_id(), sim.in_irq(), sim.irqs_disabled()))
        await sim.point("gic_starting_cpu")
        return "ok"

    async def on_cpu1() -> None:
        log.append("task on cpu1")

    async def hotplug() -> None:
        assert not eng.cpu_online(1)
        log.append(await eng.run_on(1, starting, 1))
        eng.set_cpu_online(1, True)
        await sim.point()

    eng.set_cpu_online(1, False)
    eng.spawn(1, on_cpu1)
    eng.spawn(0, hotplug)
    rec = eng.events.record()
    assert eng.run().ok
    assert log == [("starting", 1, False, True), "ok", "task on cpu1"]
    assert [e.kind for e in rec.of("sim_cpu_online")] == ["sim_cpu_online"]


def test_offline_cpu_task_never_started_is_reported_blocked() -> None:
    eng = sim.Engine(cpus=2)

    async def t() -> None:
        pass

    eng.set_cpu_online(1, False)
    eng.spawn(1, t, name="stranded")
    res = eng.run()
    assert res.outcome == "deadlock"
    assert res.deadlock is not None
    assert res.deadlock.cpus[1][0].name == "stranded"
    assert res.deadlock.cpus[1][0].waiting_for == "cpu1 to come online (then start)"


def test_soft_irq_without_handler_is_lost_with_event() -> None:
    eng = sim.Engine(cpus=1)

    async def t() -> None:
        eng.raise_irq(0, 7)
        await sim.point()

    eng.spawn(0, t)
    rec = eng.events.record()
    assert eng.run().ok
    lost, = rec.of("sim_irq_lost")
    assert (lost.cpu, lost["intid"]) == (0, 7)


def test_ipi_to_cpu_spinning_with_irqs_off_deadlocks() -> None:
    # CPU0 holds L and waits for an IPI on CPU1; CPU1 spins on L with irqs off (irqsave)
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    lock = sim.SpinLock("L")

    async def remote() -> None:
        pass

    async def cpu0() -> None:
        await lock.lock()
        for _ in range(3):
            await sim.point()
        await eng.run_on(1, remote)
        lock.unlock()

    async def cpu1() -> None:
        await sim.point()
        flags = await lock.lock_irqsave()
        lock.unlock_irqrestore(flags)

    eng.spawn(0, cpu0, name="cpu0")
    eng.spawn(1, cpu1, name="cpu1")
    res = eng.run()
    assert res.outcome == "deadlock"
    assert res.deadlock is not None
    assert [w.waiting_for for w in res.deadlock.waits()] == [
        "smp_call_function_single(remote on cpu1)", "spin_lock(L, irqsave)"]


def test_task_taking_its_cpu_offline_may_finish_but_others_stay_frozen() -> None:
    eng = sim.Engine(cpus=2, strategy=sim.RoundRobin())
    log: list[str] = []

    async def dying() -> None:
        await sim.point()
        eng.set_cpu_online(1, False)
        await sim.point("after offline")
        log.append("teardown done")

    async def other() -> None:
        log.append("other ran")

    async def waiter() -> None:
        for _ in range(5):
            await sim.point()

    eng.spawn(1, dying)
    eng.spawn(1, other)
    eng.spawn(0, waiter)
    res = eng.run()
    assert log == ["teardown done"]
    assert res.outcome == "deadlock"       # "other" can never run: tasks do not migrate
    assert res.deadlock is not None
    assert [(w.name, w.waiting_for) for w in res.deadlock.waits()] == [
        ("other", "cpu1 to come online (then start)")]
