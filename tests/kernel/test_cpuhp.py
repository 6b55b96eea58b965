"""CPU hotplug: where callbacks run, setup_state(_nocalls), dyn states, booted-once, errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from irqlab import sim
from irqlab.errors import InvalidArgumentValue
from irqlab.hw.machine import Machine
from irqlab.kernel import (
    CPUHP_AP_IRQ_GIC_STARTING,
    CPUHP_AP_ONLINE_DYN,
    GFP_KERNEL,
    Kernel,
)
from irqlab.kernel.cpuhp import CPUHP_AP_ARM_ARCH_TIMER_STARTING

Body = Callable[[Kernel], Awaitable[Any]]


def boot_and(body: Body, *, cpus: int = 4, maxcpus: int = 2
             ) -> tuple[Kernel, list[Any], sim.RunResult]:
    m = Machine.virt(cpus=cpus, its=False)
    eng = sim.Engine(machine=m)
    k = Kernel(m, eng, maxcpus=maxcpus)
    rec = m.events.record()

    async def main() -> None:
        await k.boot()
        await body(k)

    eng.spawn(0, main)
    res = eng.run()
    assert res.outcome == "ok", res.traceback or res.deadlock
    return k, list(rec), res


def _ctx(tag: str, log: list[str]) -> Callable[[int], Awaitable[int]]:
    async def cb(cpu: int) -> int:
        th = sim.current()
        log.append(f"{tag}:{cpu}@{sim.smp_processor_id()}:{th.kind}:"
                   f"{'off' if sim.irqs_disabled() else 'on'}")
        return 0
    return cb


def test_starting_runs_on_cpu_irqs_off_online_sleepable() -> None:
    log: list[str] = []

    async def body(k: Kernel) -> None:
        k.cpuhp.setup_state_nocalls(CPUHP_AP_ARM_ARCH_TIMER_STARTING, "timer:starting",
                                    _ctx("start", log), _ctx("stop", log))

        async def online(cpu: int) -> int:
            assert k.mm is not None
            await k.mm.alloc_pages(0, GFP_KERNEL, label="online-alloc")   # may sleep here
            log.append(f"online:{cpu}@{sim.smp_processor_id()}:"
                       f"{'off' if sim.irqs_disabled() else 'on'}")
            return 0

        st = await k.cpuhp.setup_state(CPUHP_AP_ONLINE_DYN, "test:online", online,
                                       _ctx("offline", log))
        log.append(f"state={st}")
        assert await k.cpuhp.cpu_up(2) == 0
        assert await k.cpuhp.cpu_down(2) == 0

    _, events, _ = boot_and(body)
    assert log == ["online:0@0:on", "online:1@1:on", "state=150",
                   "start:2@2:bringup:off", "online:2@2:on",
                   "offline:2@2:task:on", "stop:2@2:task:off"]
    assert not [e for e in events if e.kind == "sim_atomic_sleep"]


def test_setup_state_calls_now_nocalls_does_not_and_dyn_numbers() -> None:
    log: list[str] = []
    out: list[int] = []

    async def body(k: Kernel) -> None:
        out.append(await k.cpuhp.setup_state(CPUHP_AP_ONLINE_DYN, "a", _ctx("a", log), None))
        out.append(k.cpuhp.setup_state_nocalls(CPUHP_AP_ONLINE_DYN, "b", _ctx("b", log),
                                               None))
        out.append(await k.cpuhp.setup_state(CPUHP_AP_ARM_ARCH_TIMER_STARTING, "t",
                                             _ctx("t", log), None))
        out.append(k.cpuhp.setup_state_nocalls(CPUHP_AP_IRQ_GIC_STARTING, "dup", None, None))
        log.append("--")
        assert await k.cpuhp.cpu_up(3) == 0

    k, _, _ = boot_and(body)
    assert out == [150, 151, 0, -16]
    assert log == ["a:0@0:task:on", "a:1@1:task:on", "t:0@0:task:off", "t:1@1:task:off", "--",
                   "t:3@3:bringup:off", "a:3@3:task:on", "b:3@3:task:on"]
    assert k.cpuhp.states()[:2] == [(CPUHP_AP_IRQ_GIC_STARTING, "irqchip/arm/gicv3:starting"),
                                    (CPUHP_AP_ARM_ARCH_TIMER_STARTING, "t")]


def test_booted_once_and_errors() -> None:
    out: list[object] = []

    async def body(k: Kernel) -> None:
        out.append(k.cpuhp.cpus_booted_once)
        out.append(await k.cpuhp.cpu_up(1))        # already online
        out.append(await k.cpuhp.cpu_down(3))      # offline
        out.append(await k.cpuhp.cpu_down(0))      # the calling CPU
        out.append(await k.cpuhp.cpu_up(3))
        out.append(await k.cpuhp.cpu_down(3))
        out.append(await k.cpuhp.cpu_down(1))
        out.append(k.online_cpus)
        out.append(k.cpuhp.cpus_booted_once)
        out.append(await k.cpuhp.cpu_up(1))
        with pytest.raises(InvalidArgumentValue, match="cpu must be a possible CPU"):
            await k.cpuhp.cpu_up(4)

    boot_and(body)
    assert out == [(0, 1), -22, -22, -16, 0, 0, 0, (0,), (0, 1, 3), 0]


def test_failed_startup_rolls_back() -> None:
    log: list[str] = []
    out: list[object] = []

    async def body(k: Kernel) -> None:
        async def fail_on_1(cpu: int) -> int:
            log.append(f"up:{cpu}")
            return -12 if cpu == 1 else 0

        out.append(await k.cpuhp.setup_state(CPUHP_AP_ONLINE_DYN, "f", fail_on_1,
                                             _ctx("down", log)))
        out.append(len(k.cpuhp.states()))

        async def fail_up(cpu: int) -> int:
            return -5 if cpu == 2 else 0

        k.cpuhp.setup_state_nocalls(CPUHP_AP_ONLINE_DYN, "g", fail_up, None)
        out.append(await k.cpuhp.cpu_up(2))
        out.append(k.online_cpus)

    boot_and(body)
    assert out == [-12, 1, -5, (0, 1)]
    assert log == ["up:0", "up:1", "down:0@0:task:on"]


def test_remove_state_runs_teardown_and_self_removal_is_reported() -> None:
    log: list[str] = []

    async def body(k: Kernel) -> None:
        st = await k.cpuhp.setup_state(CPUHP_AP_ONLINE_DYN, "x", None, _ctx("td", log))
        await k.cpuhp.remove_state(st)

        async def self_remove(cpu: int) -> int:
            k.cpuhp.remove_state_nocalls(st2)
            return 0

        st2 = k.cpuhp.setup_state_nocalls(CPUHP_AP_ONLINE_DYN, "y", self_remove, None)
        await k.cpuhp.cpu_up(2)

    k, events, _ = boot_and(body)
    assert log == ["td:1@1:task:on", "td:0@0:task:on"]
    assert [e["state"] for e in events if e.kind == "cpuhp_remove_in_callback"] == [150]
    assert len(k.cpuhp.states()) == 1


def test_remove_from_a_work_item_is_fine() -> None:
    async def body(k: Kernel) -> None:
        work_done = sim.Completion("w")

        async def remove_it() -> None:
            k.cpuhp.remove_state_nocalls(st)
            work_done.complete()

        work = sim.Work(remove_it)

        async def online(cpu: int) -> int:
            if cpu == 2:
                sim.queue_work(0, work)      # like its_cpu_memreserve_lpi's removal
            return 0

        st = await k.cpuhp.setup_state(CPUHP_AP_ONLINE_DYN, "z", online, None)
        assert await k.cpuhp.cpu_up(2) == 0
        await work_done.wait_for_completion()

    _k, events, _ = boot_and(body)
    assert not [e for e in events if e.kind == "cpuhp_remove_in_callback"]
    assert [e["state"] for e in events if e.kind == "cpuhp_remove_state"] == [150]
