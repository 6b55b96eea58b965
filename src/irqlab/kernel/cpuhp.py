"""CPU hotplug (``kernel/cpu.c``): states, callbacks, ``cpu_up`` / ``cpu_down``.

A CPU goes up through the states in increasing order and down in decreasing
order.  The model keeps Linux's three kinds of state and where their
callbacks run (``async def cb(cpu) -> int``):

* STARTING states (``CPUHP_AP_OFFLINE < state < CPUHP_AP_ONLINE``, e.g.
  :data:`CPUHP_AP_IRQ_GIC_STARTING`): on the incoming CPU itself, interrupts
  off, before it is marked online -- the engine's bring-up context
  (``engine.run_on`` of an offline CPU); on the way down, on the dying CPU
  with interrupts off, after its ONLINE teardowns.  They must not sleep.
* ONLINE states (``CPUHP_AP_ONLINE_IDLE < state < CPUHP_ONLINE``, including the
  dynamic range :data:`CPUHP_AP_ONLINE_DYN`): in the CPU's hotplug thread
  (a task ``cpuhp/<cpu>`` on that CPU), sleepable.
* ``setup_state`` runs the startup callback at once on every online CPU
  (in its hotplug thread; interrupts off for STARTING states), like
  ``cpuhp_setup_state``; ``setup_state_nocalls`` only installs it.

``cpu_up``/``cpu_down`` serialise on ``cpu_add_remove_lock`` (a mutex).
``cpus_booted_once`` is ``cpus_booted_once_mask``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from irqlab import sim
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue, check_int
from irqlab.kernel.errno import EBUSY, EINVAL, ENOSPC

if TYPE_CHECKING:
    from irqlab.kernel.kernel import Kernel

__all__ = [
    "CPUHP_AP_IRQ_GIC_STARTING",
    "CPUHP_AP_OFFLINE",
    "CPUHP_AP_ONLINE",
    "CPUHP_AP_ONLINE_DYN",
    "CPUHP_AP_ONLINE_DYN_END",
    "CPUHP_AP_ONLINE_IDLE",
    "CPUHP_BRINGUP_CPU",
    "CPUHP_OFFLINE",
    "CPUHP_ONLINE",
    "CpuHotplug",
]

CPUHP_OFFLINE = 0
CPUHP_BRINGUP_CPU = 50
CPUHP_AP_OFFLINE = 60
CPUHP_AP_IRQ_GIC_STARTING = 70
CPUHP_AP_ARM_ARCH_TIMER_STARTING = 80
CPUHP_AP_STARTING_DYN = 90
CPUHP_AP_STARTING_DYN_END = 99
CPUHP_AP_ONLINE = 100
CPUHP_AP_ONLINE_IDLE = 101
CPUHP_AP_IRQ_AFFINITY_ONLINE = 110
CPUHP_AP_ONLINE_DYN = 150
CPUHP_AP_ONLINE_DYN_END = 179
CPUHP_ONLINE = 200

Callback = Callable[[int], Awaitable[Any]]


def _is_starting(state: int) -> bool:
    return CPUHP_AP_OFFLINE < state < CPUHP_AP_ONLINE


class _State:
    __slots__ = ("name", "startup", "state", "teardown")

    def __init__(self, state: int, name: str, startup: Callback | None,
                 teardown: Callback | None) -> None:
        self.state = state
        self.name = name
        self.startup = startup
        self.teardown = teardown


class CpuHotplug:
    """The hotplug state machine of one kernel (``k.cpuhp``).

    CPU ``i``'s state is :data:`CPUHP_ONLINE` or :data:`CPUHP_OFFLINE` between
    operations; ``online`` mirrors the engine's online mask.
    """

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.engine = kernel.engine
        self.events = kernel.engine.events
        self._states: dict[int, _State] = {}
        #: ``cpus_booted_once_mask`` as a set (read via :attr:`cpus_booted_once`).
        self._booted_once: set[int] = set()
        self.lock = sim.Mutex("cpu_add_remove_lock", key="cpu_add_remove_lock")
        #: The contexts running a hotplug callback now (innermost last).
        self._cb_threads: list[Any] = []

    # -- state table -----------------------------------------------------------------------
    @property
    def cpus_booted_once(self) -> tuple[int, ...]:
        """``cpus_booted_once_mask``: every CPU that has completed a bring-up, sorted."""
        return tuple(sorted(self._booted_once))

    def states(self) -> list[tuple[int, str]]:
        """The installed states ``(number, name)``, in order."""
        return [(s, self._states[s].name) for s in sorted(self._states)]

    def _check_cb(self, name: str, cb: object) -> None:
        if cb is not None and not callable(cb):
            raise InvalidArgumentType(f"{name} must be an async function or None, not {cb!r}")

    def _install(self, state: int, name: str, startup: Callback | None,
                 teardown: Callback | None) -> int:
        check_int("state", state, CPUHP_OFFLINE + 1, CPUHP_ONLINE - 1)
        if not isinstance(name, str):
            raise InvalidArgumentType(f"name must be a str, not {name!r}")
        self._check_cb("startup", startup)
        self._check_cb("teardown", teardown)
        if state == CPUHP_AP_ONLINE_DYN:
            for s in range(CPUHP_AP_ONLINE_DYN, CPUHP_AP_ONLINE_DYN_END + 1):
                if s not in self._states:
                    state = s
                    break
            else:
                return -ENOSPC
        elif state in self._states:
            return -EBUSY
        self._states[state] = _State(state, name, startup, teardown)
        ev = self.events
        if ev.enabled and ev.should_emit("cpuhp_setup_state"):
            ev.emit("cpuhp_setup_state", cpu=_cpu(), state=state, name=name)
        return state

    def setup_state_nocalls(self, state: int, name: str, startup: Callback | None,
                            teardown: Callback | None) -> int:
        """``cpuhp_setup_state_nocalls``: install without calling; the state (dyn) or 0/-errno."""
        dyn = state == CPUHP_AP_ONLINE_DYN
        ret = self._install(state, name, startup, teardown)
        if ret < 0:
            return ret
        return ret if dyn else 0

    async def setup_state(self, state: int, name: str, startup: Callback | None,
                          teardown: Callback | None) -> int:
        """``cpuhp_setup_state``: install, then run ``startup`` on every online CPU.

        Returns the allocated state for :data:`CPUHP_AP_ONLINE_DYN`, else 0; a
        negative errno when a startup callback fails (the CPUs already done
        are torn down again and the state is removed).  May sleep.
        """
        dyn = state == CPUHP_AP_ONLINE_DYN
        ret = self._install(state, name, startup, teardown)
        if ret < 0:
            return ret
        st = self._states[ret]
        if startup is not None:
            done: list[int] = []
            for cpu in range(self.kernel.nr_cpu_ids):
                if not self.engine.cpu_online(cpu):
                    continue
                r = await self._call_on(cpu, st, True)
                if r:
                    for c in reversed(done):
                        await self._call_on(c, st, False)
                    del self._states[ret]
                    return r
                done.append(cpu)
        return ret if dyn else 0

    def remove_state_nocalls(self, state: int) -> None:
        """``cpuhp_remove_state_nocalls``: uninstall without calling teardown.

        Linux takes ``cpus_read_lock()`` here, so calling it from inside a
        hotplug callback deadlocks: the model reports it as
        ``cpuhp_remove_in_callback`` (and removes the state).
        """
        check_int("state", state, CPUHP_OFFLINE + 1, CPUHP_ONLINE - 1)
        ev = self.events
        if ev.enabled and self._cb_threads and _current() in self._cb_threads:
            ev.emit("cpuhp_remove_in_callback", cpu=_cpu(), state=state)
        st = self._states.pop(state, None)
        if ev.enabled and ev.should_emit("cpuhp_remove_state"):
            ev.emit("cpuhp_remove_state", cpu=_cpu(), state=state,
                    name="" if st is None else st.name)

    async def remove_state(self, state: int) -> None:
        """``cpuhp_remove_state``: run teardown on every online CPU, then uninstall."""
        st = self._states.get(state)
        if st is not None and st.teardown is not None:
            for cpu in range(self.kernel.nr_cpu_ids - 1, -1, -1):
                if self.engine.cpu_online(cpu):
                    await self._call_on(cpu, st, False)
        self.remove_state_nocalls(state)

    # -- running callbacks -------------------------------------------------------------------
    async def _invoke(self, cpu: int, st: _State, up: bool) -> int:
        cb = st.startup if up else st.teardown
        if cb is None:
            return 0
        ev = self.events
        if ev.enabled and ev.should_emit("cpuhp_callback"):
            ev.emit("cpuhp_callback", cpu=_cpu(), target=cpu, state=st.state, name=st.name,
                    up=up, irqs_off=sim.irqs_disabled())
        th = sim.current()
        self._cb_threads.append(th)
        try:
            r = await cb(cpu)
        finally:
            self._cb_threads.remove(th)
        r = 0 if r is None else int(r)
        if r and ev.enabled:
            ev.emit("cpuhp_callback_failed", cpu=_cpu(), target=cpu, state=st.state,
                    name=st.name, up=up, err=r)
        return r

    async def _call_on(self, cpu: int, st: _State, up: bool) -> int:
        """Run one callback for ``cpu`` in its hotplug thread (irqs off for STARTING states)."""
        atomic = _is_starting(st.state)

        async def body() -> int:
            if atomic:
                flags = sim.local_irq_save()
                try:
                    return await self._invoke(cpu, st, up)
                finally:
                    sim.local_irq_restore(flags)
            return await self._invoke(cpu, st, up)

        return await self._on_cpu_thread(cpu, body)

    async def _startup_states(self, cpu: int, states: list[_State]) -> int:
        """Run ``states``' startup callbacks for ``cpu`` in order; on an error, tear down
        the ones that succeeded, in reverse, and return it (``cpuhp_invoke_callback_range``)."""
        done: list[_State] = []
        for st in states:
            r = await self._invoke(cpu, st, True)
            if r:
                for d in reversed(done):
                    await self._invoke(cpu, d, False)
                return r
            done.append(st)
        return 0

    async def _on_cpu_thread(self, cpu: int, fn: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``await fn()`` in a task on ``cpu`` (the hotplug thread ``cpuhp/<cpu>``); wait."""
        done = sim.Completion(f"cpuhp/{cpu}.done")
        box: list[Any] = [0]

        async def thread() -> None:
            box[0] = await fn()
            done.complete()

        self.engine.spawn(cpu, thread, name=f"cpuhp/{cpu}")
        await done.wait_for_completion()
        return box[0]

    def _check_cpu(self, cpu: object) -> int:
        if type(cpu) is not int or not 0 <= cpu < self.kernel.nr_cpu_ids:
            raise InvalidArgumentValue(
                f"cpu must be a possible CPU in [0, {self.kernel.nr_cpu_ids}), not {cpu!r}")
        return cpu

    # -- cpu_up / cpu_down --------------------------------------------------------------------
    async def cpu_up(self, cpu: int) -> int:
        """``cpu_up``/``add_cpu``: bring ``cpu`` online; 0, or -EINVAL if already online.

        STARTING callbacks run in the bring-up context on ``cpu`` (interrupts
        off), then the CPU is marked online and booted-once, then ONLINE
        callbacks run in its hotplug thread.  A failing callback rolls the
        CPU back down and returns its error.  May sleep.
        """
        self._check_cpu(cpu)
        await self.lock.lock()
        try:
            if self.engine.cpu_online(cpu):
                return -EINVAL
            ev = self.events
            if ev.enabled and ev.should_emit("cpuhp_up"):
                ev.emit("cpuhp_up", cpu=_cpu(), target=cpu)
            starting = [self._states[s] for s in sorted(self._states) if _is_starting(s)]
            online = [self._states[s] for s in sorted(self._states)
                      if s > CPUHP_AP_ONLINE_IDLE]

            async def ap_starting() -> int:
                return await self._startup_states(cpu, starting)

            r = await self.engine.run_on(cpu, ap_starting)
            if r:
                return int(r)
            self.engine.set_cpu_online(cpu, True)
            self._booted_once.add(cpu)

            async def ap_online() -> int:
                return await self._startup_states(cpu, online)

            r = await self._on_cpu_thread(cpu, ap_online)
            if r:
                await self._take_down(cpu, starting, [])
                return int(r)
            if ev.enabled and ev.should_emit("cpuhp_online"):
                ev.emit("cpuhp_online", cpu=_cpu(), target=cpu)
            return 0
        finally:
            self.lock.unlock()

    async def cpu_down(self, cpu: int) -> int:
        """``cpu_down``/``remove_cpu``: take ``cpu`` offline; 0 or -errno.

        -EINVAL if it is offline, -EBUSY if it is the last online CPU or the
        calling CPU (model limitation: tasks do not migrate).  ONLINE
        teardowns run in its hotplug thread (sleepable, reverse order), then
        its interrupts are migrated away and STARTING teardowns run on it
        with interrupts off, then it is marked offline.  May sleep.
        """
        self._check_cpu(cpu)
        await self.lock.lock()
        try:
            if not self.engine.cpu_online(cpu):
                return -EINVAL
            n_online = sum(1 for c in range(len(self.engine.cpus)) if self.engine.cpu_online(c))
            if n_online == 1 or cpu == sim.smp_processor_id():
                return -EBUSY
            ev = self.events
            if ev.enabled and ev.should_emit("cpuhp_down"):
                ev.emit("cpuhp_down", cpu=_cpu(), target=cpu)
            starting = [self._states[s] for s in sorted(self._states) if _is_starting(s)]
            online = [self._states[s] for s in sorted(self._states)
                      if s > CPUHP_AP_ONLINE_IDLE]
            await self._take_down(cpu, starting, online)
            if ev.enabled and ev.should_emit("cpuhp_offline"):
                ev.emit("cpuhp_offline", cpu=_cpu(), target=cpu)
            return 0
        finally:
            self.lock.unlock()

    async def _take_down(self, cpu: int, starting: list[_State], online: list[_State]) -> None:
        async def ap_down() -> int:
            for st in reversed(online):
                await self._invoke(cpu, st, False)
            flags = sim.local_irq_save()
            await self.kernel.irq_migrate_all_off_cpu(cpu)
            for st in reversed(starting):
                await self._invoke(cpu, st, False)
            self.engine.set_cpu_online(cpu, False)
            sim.local_irq_restore(flags)
            return 0

        await self._on_cpu_thread(cpu, ap_down)

    def mark_booted(self, cpu: int) -> None:
        """Record ``cpu`` as booted once (the boot CPU, brought up by firmware)."""
        self._booted_once.add(cpu)


def _cpu() -> int | None:
    try:
        return sim.current().cpu
    except sim.SimError:
        return None


def _current() -> Any:
    try:
        return sim.current()
    except sim.SimError:
        return None
