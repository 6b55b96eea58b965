"""Engine services outside the run loop: cross-CPU calls, virtual time, aliases, reports.

:class:`EngineServices` is a mixin of :class:`~irqlab.sim.engine.Engine`;
it is split out only to keep the run loop's module small.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from irqlab.errors import InvalidArgumentType, check_count
from irqlab.sim._core import BRINGUP, TASK, Op, Thread, cur_thread, suspended_stack
from irqlab.sim.result import Deadlock, WaitInfo

if TYPE_CHECKING:
    from irqlab.sim.engine import Engine

__all__ = ["EngineServices"]

AsyncFn = Callable[..., Coroutine[Any, Any, Any]]


def _check_fn(name: str, fn: object) -> None:
    if not callable(fn):
        raise InvalidArgumentType(f"{name} must be an async function, not {fn!r}")


def _coro(name: str, fn: AsyncFn, args: tuple[Any, ...]) -> Coroutine[Any, Any, Any]:
    if not callable(fn):
        raise InvalidArgumentType(f"{name} must be an async function, not {fn!r}")
    return _check_coro(fn(*args), fn, name)


def _check_coro(c: Any, fn: Any, name: str = "fn") -> Coroutine[Any, Any, Any]:
    if not hasattr(c, "send") or not hasattr(c, "close"):
        raise InvalidArgumentType(f"{name} must be an async function, not {fn!r}")
    return c


class _CallReq:
    """A cross-CPU function call (``run_on``): done flag and result."""

    __slots__ = ("args", "done", "fn", "name", "result")

    def __init__(self, fn: AsyncFn, args: tuple[Any, ...], cpu: int) -> None:
        self.name = f"{getattr(fn, '__name__', 'fn')} on cpu{cpu}"
        self.fn = fn
        self.args = args
        self.done = False
        self.result: Any = None


class _WaitCall(Op):
    __slots__ = ()
    kind = "wait_call"
    blocking = True

    def ready(self) -> bool:
        return self.obj.done

    def perform(self, th: Thread) -> Any:
        return self.obj.result

    def describe(self) -> str:
        return f"{self.label}({self.obj.name})"


class _Sleep(Op):
    __slots__ = ("_eng", "deadline")
    kind = "sleep"
    blocking = True
    sleeps = True

    def __init__(self, eng: Engine, deadline: int) -> None:
        self.obj = None
        self.label = ""
        self.deadline = deadline
        self._eng = eng

    def ready(self) -> bool:
        return self._eng.now >= self.deadline

    def perform(self, th: Thread) -> None:
        self._eng._touch_clock()  # (waking depends on how many steps ran since)

    def describe(self) -> str:
        return f"sleep(until {self.deadline})"


class _WaitCallSleep(_WaitCall):
    __slots__ = ()
    sleeps = True


class EngineServices:
    """Mixin: the parts of :class:`Engine` that are not the run loop."""

    # provided by Engine
    cpus: Any
    events: Any
    if TYPE_CHECKING:
        @property
        def steps(self) -> int: ...
    _skew: int
    _timers: list[int]
    _threads: list[Thread]
    _actors: list[Thread]
    footprint: list[tuple[Any, bool]] | None

    def _check_cpu(self, cpu: object) -> Any:  # pragma: no cover - Engine overrides
        raise NotImplementedError

    def _set_irqs(self, cc: Any, on: bool, via: str | None) -> None:  # pragma: no cover
        raise NotImplementedError

    def _new_tid(self) -> int:  # pragma: no cover
        raise NotImplementedError

    async def run_on(self, cpu: int, fn: AsyncFn, *args: Any) -> Any:
        """Run ``await fn(*args)`` on ``cpu`` with its interrupts disabled; return its result.

        On the calling CPU it runs inline (interrupts saved, disabled, restored).
        On another online CPU it is an IPI (``smp_call_function_single`` with
        wait=1): it runs in hard-irq context there once that CPU takes the
        interrupt, and the caller spins until it is done.  On an offline CPU
        it runs as that CPU's bring-up context (like cpuhp STARTING callbacks
        on the incoming CPU, interrupts off, not in irq context) and the caller
        sleeps until it is done.  ``fn`` must not sleep in the first two cases.
        """
        cc = self._check_cpu(cpu)
        _check_fn("fn", fn)
        th = cur_thread()
        if th.cctx is cc:
            saved = cc.irqs_on
            self._set_irqs(cc, False, "run_on")
            try:
                return await fn(*args)
            finally:
                self._set_irqs(cc, saved, "run_on")
        req = _CallReq(fn, args, cc.index)
        if cc.online:
            cc.soft.append(req)
            fp = self.footprint  # (the target CPU's interrupt queue, as raise_irq)
            if fp is not None:
                fp.append((cc, True))
            ev = self.events
            if ev.enabled:
                ev.emit("sim_ipi", cpu=cc.index, src=th.cpu)
            return await _WaitCall(req, "smp_call_function_single")
        bt = Thread(self._new_tid(), f"bringup/{cc.index}", BRINGUP, cc, _coro("fn", fn, args))
        bt.sid = self._child_sid()  # type: ignore[attr-defined]
        bt.req = req
        bt.saved_irqs = cc.irqs_on
        cc.irqs_on = False
        cc.irq_stack.append(bt)
        self._threads.append(bt)
        return await _WaitCallSleep(req, "cpuhp_bringup")

    # -- tracked objects and work (aliases of the module-level functions) ------------------
    def alloc(self, obj_or_kind: Any, *, site: str | None = None) -> Any:
        """:func:`irqlab.sim.alloc` (plain call, during a run)."""
        from irqlab.sim.track import alloc

        return alloc(obj_or_kind, site=site)

    def kfree(self, obj: Any) -> None:
        """:func:`irqlab.sim.kfree`."""
        from irqlab.sim.track import kfree

        kfree(obj)

    def kfree_rcu(self, obj: Any) -> None:
        """:func:`irqlab.sim.kfree_rcu`."""
        from irqlab.sim.track import kfree_rcu

        kfree_rcu(obj)

    def access(self, obj: Any, rw: str = "r", label: str = "") -> Op:
        """``await engine.access(obj, rw, label)``: :func:`irqlab.sim.access`."""
        from irqlab.sim.track import access

        return access(obj, rw, label)

    def point(self, label: str = "") -> Op:
        """``await engine.point(label)``: :func:`irqlab.sim.point`."""
        from irqlab.sim.track import point

        return point(label)

    def call_rcu(self, obj: Any, fn: Callable[[Any], Any]) -> None:
        """:func:`irqlab.sim.call_rcu`."""
        from irqlab.sim.rcu import call_rcu

        call_rcu(obj, fn)

    def queue_work(self, cpu: int, work: Any) -> bool:
        """:func:`irqlab.sim.queue_work` (also before the run starts)."""
        from irqlab.sim.track import _queue_work

        return _queue_work(self, cpu, work)

    def flush_work(self, work: Any) -> Op:
        """``await engine.flush_work(work)``: :func:`irqlab.sim.flush_work`."""
        from irqlab.sim.track import flush_work

        return flush_work(work)

    # -- virtual time -----------------------------------------------------------------
    @property
    def now(self) -> int:
        """The virtual clock: one tick per step, jumping ahead when only sleepers remain."""
        return self.steps + self._skew

    def sleep(self, ticks: int) -> Op:
        """``await engine.sleep(ticks)``: sleep (``msleep``-like) for ``ticks`` of virtual time.

        The clock advances one tick per step; when every context is blocked
        and some sleep, it jumps to the earliest deadline (never the wall clock).
        """
        check_count("ticks", ticks, 0, 1 << 62)
        deadline = self.now + ticks
        heapq.heappush(self._timers, deadline)
        self._touch_clock()  # (the deadline depends on how many steps ran before)
        return _Sleep(self, deadline)  # type: ignore[arg-type]

    def _touch_clock(self) -> None:
        # The virtual clock advances one tick per step of any context, so a step that
        # reads it (a sleep's deadline, its wake-up) depends on every step: it writes
        # every CPU's footprint key (each step of a CPU writes its own) and each device
        # actor's (each step of an actor writes its own).  Models without sleep pay
        # nothing.
        fp = self.footprint
        if fp is not None:
            for cc in self.cpus:
                fp.append((cc, True))
            for th in self._actors:
                fp.append((th, True))

    def _advance_clock(self) -> bool:
        timers = self._timers
        now = self.now
        while timers and timers[0] <= now:
            heapq.heappop(timers)
        if not timers:
            return False
        self._skew += heapq.heappop(timers) - now
        ev = self.events
        if ev.enabled:
            ev.emit("sim_clock", cpu=None, now=self.now)
        return True

    def _waits(self) -> Deadlock:
        per_cpu: dict[int | None, list[WaitInfo]] = {}
        for th in self._threads:
            if th.done or (th.daemon and type(th.op) is th.idle_op):
                continue
            holder = th.op.waits_for() if th.op.blocking else None
            waiting = th.op.describe()
            st = th.cctx.irq_stack
            if (th.kind is TASK and st) or (th in st and st[-1] is not th):
                # a context under an irq context waits for the one above it to finish
                above = st[0] if th.kind is TASK else st[st.index(th) + 1]
                if holder is None or th.op.ready():
                    holder = above
                    waiting = f"{above.name} to return (then {waiting})"
            elif th.kind is TASK and not th.cctx.online and th.cctx.current is not th:
                waiting = f"cpu{th.cpu} to come online (then {waiting})"
            elif (th.kind is TASK and th.cctx.current is not None
                  and th.cctx.current is not th and th.op.ready()):
                cur = th.cctx.current
                holder = cur
                waiting = f"cpu{th.cpu}, which {cur.name} keeps (then {waiting})"
            w = WaitInfo(cpu=th.cpu, tid=th.tid, name=th.name, kind=th.kind,
                         waiting_for=waiting,
                         holder=None if holder is None else f"{holder.name} (tid {holder.tid}"
                         + (f", cpu{holder.cpu})" if holder.cpu is not None else ")"),
                         holder_tid=None if holder is None else holder.tid,
                         held=tuple(getattr(lk, "name", repr(lk)) for lk in th.held),
                         stack=tuple(suspended_stack(th)))
            per_cpu.setdefault(th.cpu, []).append(w)
        return Deadlock(per_cpu)

    def final_state(self) -> list[dict[str, Any]]:
        """Per CPU: online, irqs_on, irq depth, RCU nesting, current task, locks held."""
        return [{"cpu": cc.index, "online": cc.online, "irqs_on": cc.irqs_on,
                 "irq_depth": len(cc.irq_stack), "rcu_nest": cc.rcu_nest,
                 "current": None if cc.current is None else cc.current.name,
                 "held": [getattr(lk, "name", repr(lk)) for t in cc._tasks for lk in t.held]}
                for cc in self.cpus]
