"""The deterministic multi-CPU engine: contexts, choice points, the run loop.

An :class:`Engine` runs ``async`` model code on simulated CPUs.  Each CPU has
a stack of contexts (a task at the bottom, hard-irq contexts above); device
actors are contexts without a CPU.  Every ``await`` of an engine operation is
a scheduling point: the context parks at the operation *before* it happens,
so at each step the engine sees every context's next operation, knows which
are enabled, and asks its strategy which one runs (or whether a CPU takes its
pending interrupt now, or whether an RCU grace period ends now).  Choice
points with a single option are not recorded; the recorded choices are the
run's schedule (:mod:`irqlab.sim.strategy`).

A run is a function of the scenario and the choices: no wall clock, no
iteration over unordered sets, object ids numbered in first-use order.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import traceback
from collections import deque
from collections.abc import Callable, Coroutine
from types import CoroutineType
from typing import Any

from irqlab.errors import InvalidArgumentType, InvalidArgumentValue, check_count, check_int
from irqlab.events import EventStream
from irqlab.sim._core import (
    ACTOR,
    GP_CHOICE,
    IRQ,
    RT,
    START,
    TASK,
    ChooseOp,
    CpuCtx,
    DataChoice,
    IrqChoice,
    Op,
    SimError,
    Thread,
    context_stack,
    data_key,
)
from irqlab.sim._services import EngineServices, _CallReq, _check_coro, _check_fn, _coro
from irqlab.sim.rcu import (
    rcu_gp_done,
    rcu_reader_changed,
    rcu_reading,
    touch_rcu_keys,
)
from irqlab.sim.result import RunResult
from irqlab.sim.strategy import Random, RoundRobin, Strategy, encode_schedule

__all__ = ["Engine"]

AsyncFn = Callable[..., Coroutine[Any, Any, Any]]


@functools.lru_cache(maxsize=256)
def _hash8(fingerprint: str) -> str:
    return hashlib.sha256(fingerprint.encode()).hexdigest()[:8]


class Engine(EngineServices):
    """Runs model code on ``cpus`` simulated CPUs under a :class:`Strategy`.

    ``machine``: a :class:`~irqlab.hw.machine.Machine` (its CPUs, IRQ lines and
    event stream are used) or ``None`` for a pure software model, then ``cpus``
    gives the CPU count and the engine owns an :class:`EventStream`.
    ``strategy`` makes the choices (default :class:`RoundRobin`); ``max_steps``
    bounds a run (reaching it is a livelock); ``fingerprint`` names the
    scenario and its parameters -- its hash goes into the schedule string so
    that replay against another scenario is detected.  ``trace_steps=False``
    drops the per-step ``sim_step`` events (observers that only need the
    other events run faster).  ``footprints=True`` records, per step, the
    operation performed (:attr:`last_op`) and the objects that the step's plain
    calls touched (:attr:`footprint`: lock releases, completions, frees, RCU
    and interrupt state, :func:`~irqlab.sim.note_access`, and the machine for a
    step that accessed it: MMIO, system registers, RAM, interrupt lines) -- what a
    partial-order reduction needs to decide whether two steps commute;
    read them from ``strategy.after_step``.  An engine runs once:
    build a new one (with a fresh scenario) for every run.
    """

    # Rarely-changed state defaults at class level: building an engine (once per
    # explored schedule) stays cheap.
    _handler: AsyncFn | None = None
    _tid = 0
    _gp_thread_: Thread | None = None
    #: Virtual clock: ``steps + _skew``; sleepers' deadlines are in ``_timers``.
    _skew = 0
    _steps = 0
    _nroot = 0
    _t0: int | None = None
    _error: tuple[Thread, BaseException, str] | None = None
    _ran = False
    result: RunResult | None = None
    last_op: Op | None = None
    #: The stepping context's stack, while an event whose producer captured it is delivered.
    _stack_now: list[str] | None = None

    def __init__(self, *, machine: Any = None, cpus: int | None = None,
                 strategy: Strategy | None = None, max_steps: int = 100_000,
                 fingerprint: str = "", trace_steps: bool = True,
                 footprints: bool = False) -> None:
        if machine is not None:
            hw = list(machine.cpus)
            if cpus is not None and cpus != len(hw):
                raise InvalidArgumentValue(
                    f"cpus must be None or {len(hw)} (the machine's CPU count), not {cpus!r}")
            n = len(hw)
            self.events: EventStream = machine.events
        else:
            n = 1 if cpus is None else cpus
            if type(n) is not int or not 1 <= n <= 4096:
                check_int("cpus", n, 1, 4096)
            hw = None
            self.events = EventStream()
        if strategy is None:
            strategy = RoundRobin()
        elif not isinstance(strategy, Strategy):
            raise InvalidArgumentType(f"strategy must be a Strategy, not {strategy!r}")
        if type(max_steps) is not int or max_steps < 1:
            check_count("max_steps", max_steps, 1, 1 << 62)
        if not isinstance(fingerprint, str):
            raise InvalidArgumentType(f"fingerprint must be a str, not {fingerprint!r}")
        self.max_steps = max_steps
        #: Emit ``sim_step`` for every step (when someone listens).
        self.trace_steps = bool(trace_steps)
        #: Objects touched by plain calls during the last step (``footprints=True`` only).
        self.footprint: list[tuple[Any, bool]] | None = None
        self.machine = machine
        if footprints:
            self.enable_footprints()
        self.fingerprint = fingerprint
        #: First 8 hex digits of SHA-256 of the fingerprint (goes into schedule strings).
        self.scenario_hash = _hash8(fingerprint)
        self.strategy = strategy
        self.cpus: list[CpuCtx] = ([CpuCtx(self, i) for i in range(n)] if hw is None
                                   else [CpuCtx(self, i, hw[i]) for i in range(n)])
        self._actors: list[Thread] = []
        self._threads: list[Thread] = []
        #: every context that can be an RCU reader (CPUs, device actors): rcu.rcu_snapshot
        self._rcu_ctxs: list[CpuCtx] = self.cpus[:]
        self._ids: dict[int, int] = {}
        self._keep: list[Any] = []
        #: RCU callbacks: (snapshot, fn, obj) in call order.
        self._cbs: deque[tuple[tuple[tuple[CpuCtx, int], ...], Callable[[Any], Any], Any]] = (
            deque())
        self._tracked: dict[int, Any] = {}
        #: id(obj) -> (allocating context's sid, n-th allocation of it): tracked objects'
        #: identity across runs (recorded with footprints, for partial-order reduction)
        self._stable: dict[int, tuple[Any, int]] = {}
        self._sched: list[int] = []
        self._shape_keys: list[int] = []
        self._timers: list[int] = []

    @property
    def _gp_thread(self) -> Thread:
        """The pseudo-context RCU callbacks run in (no CPU), made on first use."""
        th = self._gp_thread_
        if th is None:
            th = self._gp_thread_ = Thread(-1, "rcu_callbacks", ACTOR, CpuCtx(self, None),
                                           _NoCoro())  # type: ignore[arg-type]
            th.sid = ("rcu",)
        return th

    # -- building the scenario -------------------------------------------------
    def _child_sid(self) -> tuple[Any, int]:
        # contexts spawned while building are numbered in order; during a run, a context
        # is the n-th child of the context that spawned it
        parent = RT.th if RT.eng is self else None
        if parent is None:
            n = self._nroot
            self._nroot = n + 1
            return ("root", n)
        n = parent.nkids
        parent.nkids = n + 1
        return (parent.sid, n)

    def _new_tid(self) -> int:
        t = self._tid
        self._tid = t + 1
        return t

    def _check_cpu(self, cpu: object) -> CpuCtx:
        i = check_int("cpu", cpu, 0, len(self.cpus) - 1)
        return self.cpus[i]

    def spawn(self, cpu: int, fn: AsyncFn, *args: Any, name: str | None = None,
              daemon: bool = False) -> Thread:
        """Create a task context on ``cpu`` running ``await fn(*args)``.

        The task starts when the strategy first picks it (its first step).
        Callable before or during a run (from model code, e.g. ``kthread_run``).
        ``daemon`` tasks do not keep a run alive while blocked.
        """
        cpus = self.cpus
        cc = cpus[cpu] if type(cpu) is int and 0 <= cpu < len(cpus) else self._check_cpu(cpu)
        if name is not None and not isinstance(name, str):
            raise InvalidArgumentType(f"name must be a str, not {name!r}")
        c = fn(*args) if callable(fn) else None
        if type(c) is not CoroutineType:
            c = _coro("fn", fn, args) if c is None else _check_coro(c, fn)
        tid = self._tid
        self._tid = tid + 1
        th = Thread(tid, name or fn.__name__, TASK, cc, c, daemon=daemon)
        th.sid = self._child_sid()
        cc._tasks.append(th)
        self._threads.append(th)
        ev = self.events
        if ev.enabled:
            ev.emit("sim_spawn", cpu=cc.index, tid=tid, name=th.name, ctx=TASK)
        return th

    def spawn_device(self, name: str, fn: AsyncFn, *args: Any) -> Thread:
        """Create a device actor: a context without a CPU or interrupt state.

        Its steps are scheduling choices like a CPU's, so a device's MSI write
        (a synchronous ``machine.device_write`` inside a step) happens at a
        moment the strategy chooses.
        """
        if not isinstance(name, str):
            raise InvalidArgumentType(f"name must be a str, not {name!r}")
        _check_fn("fn", fn)
        cc = CpuCtx(self, None)
        self._rcu_ctxs.append(cc)
        tid = self._new_tid()
        th = Thread(tid, name, ACTOR, cc, _coro("fn", fn, args))
        th.sid = self._child_sid()
        self._actors.append(th)
        self._threads.append(th)
        ev = self.events
        if ev.enabled:
            ev.emit("sim_spawn", cpu=None, tid=tid, name=name, ctx=ACTOR)
        return th

    def set_irq_handler(self, fn: AsyncFn) -> None:
        """Register the hard-irq entry: ``await fn(cpu: CpuCtx)`` runs when an IRQ is taken.

        The kernel layer's ``handle_arch_irq`` is this.  Without a handler, the
        machine's IRQ lines are ignored (software-raised interrupts still need it).
        """
        _check_fn("fn", fn)
        self._handler = fn

    def raise_irq(self, cpu: int, intid: int = 0) -> None:
        """Make an engine-level interrupt pending on ``cpu`` (taken like a line-level IRQ).

        For software models without a GIC: the handler runs once per raise,
        with ``cpu.irq_intid == intid``.  Not a scheduling point.
        """
        cc = self._check_cpu(cpu)
        check_int("intid", intid, 0, (1 << 32) - 1)
        cc.soft.append(intid)
        fp = self.footprint
        if fp is not None:
            fp.append((cc, True))
        ev = self.events
        if ev.enabled:
            ev.emit("sim_irq_raise", cpu=cc.index, intid=intid)

    def cpu_online(self, cpu: int) -> bool:
        """Whether ``cpu`` is online (offline CPUs run no tasks and take no interrupts)."""
        return self._check_cpu(cpu).online

    def set_cpu_online(self, cpu: int, online: bool) -> None:
        """Mark ``cpu`` online or offline (the kernel's hotplug state machine drives this)."""
        cc = self._check_cpu(cpu)
        if not isinstance(online, bool):
            raise InvalidArgumentType(f"online must be a bool, not {online!r}")
        if cc.online != online:
            was = rcu_reading(cc)
            cc.online = online
            rcu_reader_changed(cc, was)  # (RCU ignores offline CPUs)
            fp = self.footprint
            if fp is not None:
                fp.append((cc, True))
            ev = self.events
            if ev.enabled:
                ev.emit("sim_cpu_online" if online else "sim_cpu_offline", cpu=cc.index)

    # -- ids, stacks -----------------------------------------------------------------
    def oid(self, obj: Any) -> int:
        """The stable id of ``obj`` in this run (numbered in first-use order)."""
        k = id(obj)
        i = self._ids.get(k)
        if i is None:
            i = self._ids[k] = len(self._keep)
            self._keep.append(obj)
        return i

    def stack(self) -> list[str]:
        """The model-code stack of the context stepping now, outermost first.

        Meant for observers: call it from an event subscriber to get the
        stack at the moment of the event (``func@file.py:line`` strings).
        """
        st = self._stack_now
        if st is not None:
            return list(st)  # captured for the event being delivered (same frames)
        th = RT.th
        if th is None:
            return []
        return context_stack(th)

    # -- interrupt state (used by the primitives) ------------------------------------
    def _set_irqs(self, cc: CpuCtx, on: bool, via: str | None) -> None:
        """Mask or unmask interrupts on ``cc``; ``via``: the primitive the ``sim_irq_*``
        event names (None: no event, the caller emits it)."""
        if cc.irqs_on != on:
            was = rcu_reading(cc)
            cc.irqs_on = on
            rcu_reader_changed(cc, was)  # (interrupts off: an RCU reader)
            fp = self.footprint
            if fp is not None:
                fp.append((cc, True))
            ev = self.events
            if ev.enabled and via is not None:
                kind = "sim_irq_enable" if on else "sim_irq_disable"
                d = ev.direct.get(kind)
                if d is not None:
                    # the lone subscriber's direct form (EventStream.direct): no event built
                    ev._seq += 1
                    d(ev.time, cc.index, via, cc.in_irq)
                else:
                    ev.emit(kind, cpu=cc.index, via=via, in_irq=cc.in_irq)

    # -- the run loop ------------------------------------------------------------------
    def run(self) -> RunResult:
        """Run until every context finished or blocked, or ``max_steps``; return the result.

        Model-code exceptions end the run with outcome ``"error"`` (never
        escape); strategy exceptions (e.g. :class:`ScheduleDivergence`) do.
        """
        if self._ran:
            raise SimError("an Engine runs once: build a new scenario and engine per run")
        if RT.eng is not None:
            raise SimError("another engine run is in progress")
        self._ran = True
        if not self.fingerprint:
            self._default_fingerprint()
        RT.eng = self
        strategy = self.strategy
        try:
            strategy.begin(self)
            try:
                outcome = self._loop(strategy)
            finally:
                self._steps = self.steps
                self._t0 = None
            res = self._result(outcome)
        finally:
            RT.eng = None
            RT.th = None
            self._close()
        self.result = res
        strategy.end(res)
        return res

    def _default_fingerprint(self) -> None:
        # No fingerprint given (a model of the user's): name the model by the code of
        # the contexts spawned before the run and the irq handler, so that a schedule
        # replayed on another model is refused.  (A fingerprint naming the parameters
        # too is better: pass one.)
        parts = []
        for th in self._threads:
            code = getattr(th.coro, "cr_code", None)
            if code is not None:
                parts.append(f"{th.cpu}:{os.path.basename(code.co_filename)}:"
                             f"{code.co_qualname}")
        h = self._handler
        code = getattr(h, "__code__", None)
        if code is not None:
            parts.append(f"irq:{os.path.basename(code.co_filename)}:{code.co_qualname}")
        self.fingerprint = "model " + ";".join(parts)
        self.scenario_hash = _hash8(self.fingerprint)

    def _loop(self, strategy: Strategy) -> str:
        # The hot path: choice computation and the common step are inlined here
        # (this loop is what exploration's schedules/s figure measures).
        choose = strategy.choose
        after = getattr(strategy, "after_step", None)
        sched = self._sched
        ev = self.events
        maxs = self.max_steps
        steps = self._steps
        self._t0 = t0 = ev.time - steps
        keys_app = self._shape_keys.append
        rnd = strategy._random if type(strategy) is Random else None
        step_thread = self._step_thread
        cpus = self.cpus
        actors = self._actors
        cbs = self._cbs
        handler = self._handler
        hw_lines = handler is not None and self.machine is not None
        rt = RT
        fp = self.footprint
        while True:
            # -- the choices, in a fixed order -------------------------------------
            ch: list[Any] = []
            app = ch.append
            th: Thread | None
            for cc in cpus:
                st = cc.irq_stack
                if st:
                    th = st[-1]
                    op = th.op
                    if not op.blocking or op.ready():
                        app(th)
                    if not cc.online:
                        continue
                elif cc.online:
                    th = cc.current
                    if th is not None:
                        op = th.op
                        if not op.blocking or op.ready():
                            app(th)
                        elif op.sleeps and th.atomic_reason() is None:
                            cc.current = th = None
                    if th is None:
                        for t in cc._tasks:
                            op = t.op
                            if not op.blocking or op.ready():
                                app(t)
                else:
                    # offline: no task is switched in and no interrupt is taken, but the
                    # task that took the CPU down may finish what it was doing, and the
                    # CPU's kworker runs its pending work unbound (Linux's workqueue
                    # unbinds an offline CPU's workers: queued work still runs)
                    th = cc.current
                    if th is not None:
                        op = th.op
                        if not op.blocking or op.ready():
                            app(th)
                    w = cc.worker
                    if w is not None and w is not th:
                        op = w.op
                        if not op.blocking or op.ready():
                            app(w)
                    continue
                if (cc.soft or (hw_lines and cc.hw.irq_line)) and cc.irqs_on:
                    app(cc.irq_choice)
            for th in actors:
                op = th.op
                if not op.blocking or op.ready():
                    app(th)
            if cbs and rcu_gp_done(cbs[0][0]):
                app(GP_CHOICE)
            n = len(ch)
            if n == 1:
                c = ch[0]
            elif n == 0:
                if self._timers and self._advance_clock():
                    continue
                break
            else:
                if rnd is not None:
                    i = int(rnd() * n)
                else:
                    i = choose(ch, self)
                    if type(i) is not int or not 0 <= i < n:
                        raise InvalidArgumentValue(
                            f"strategy.choose() must return an index in [0, {n}), not {i!r}")
                c = ch[i]
                sched.append(i)
                keys_app((n << 16) | (c.key & 0xFFFF))
            if steps >= maxs:
                if ev.enabled:
                    ev.emit("sim_livelock", cpu=None, steps=steps)
                return "livelock"
            steps += 1
            ev.time = t0 + steps
            # -- the step -------------------------------------------------------------
            if type(c) is Thread:
                if type(c.op) is ChooseOp:
                    self._choose_data(c, c.op, rnd)
                if ev.enabled and self.trace_steps and ev.wants("sim_step"):
                    step_thread(c)
                else:
                    # inlined _step_thread() for the common case (no per-step events)
                    cc = c.cctx
                    if c.kind is TASK and cc.current is not c and cc.online:
                        cc.current = c
                    rt.th = c
                    if fp is not None and not (c.op is START and c.kind is IRQ):
                        fp.clear()
                        self.last_op = c.op
                    if ev.enabled:
                        ev._seq += 1  # the sim_step nobody takes, numbered as dropped
                    try:
                        nop = c.coro.send(c.op.perform(c))
                    except StopIteration as e:
                        self._finish(c, e.value)
                    except Exception as e:  # model code failed: outcome "error"
                        self._fail(c, e)
                    else:
                        if isinstance(nop, Op):
                            c.op = nop
                            if ev.enabled and (nop.sleeps or nop.blocking):
                                self._parked_events(c, nop, ev)
                        else:
                            self._bad_await(c, nop)
            elif type(c) is IrqChoice:
                if fp is not None:
                    fp.clear()
                    self.last_op = None
                self._take_irq(c)
            else:
                if fp is not None:
                    fp.clear()
                    self.last_op = None
                self._fire_gp()
            if after is not None:
                after(c, self)  # (also after the step that failed: it is a step too)
            if self._error is not None:
                return "error"
        for th in self._threads:
            if not th.done and not (th.daemon and type(th.op) is th.idle_op):
                return "deadlock"
        return "ok"

    def _choose_data(self, th: Thread, op: ChooseOp, rnd: Any) -> None:
        # a data choice point: the strategy picks the value the context's await returns
        n = op.n
        if n == 1:
            op.value = 0
            return
        if rnd is not None:
            i = int(rnd() * n)
        else:
            opts = [DataChoice(th, v) for v in range(n)]
            i = self.strategy.choose(opts, self)
            if type(i) is not int or not 0 <= i < n:
                raise InvalidArgumentValue(
                    f"strategy.choose() must return an index in [0, {n}), not {i!r}")
        op.value = i
        self._sched.append(i)
        self._shape_keys.append((n << 16) | (data_key(i) & 0xFFFF))

    def _bad_await(self, th: Thread, value: Any) -> None:
        self._fail(th, SimError(f"model code awaited {value!r}, which is not an engine "
                                "operation (irqlab.sim primitives only)"))

    def _step_thread(self, th: Thread) -> None:
        cc = th.cctx
        if th.kind is TASK and cc.current is not th and cc.online:
            cc.current = th   # (an offline CPU's unbound kworker does not take it over)
        RT.th = th
        op = th.op
        fp = self.footprint
        if fp is not None and not (op is START and th.kind is IRQ):
            # (an irq context's first step is part of the step that took the irq)
            fp.clear()
            self.last_op = op
        ev = self.events
        if ev.enabled:
            if self.trace_steps and ev.wants("sim_step"):
                o = op.obj
                ev.emit("sim_step", cpu=th.cpu, tid=th.tid, op=op.kind,
                        obj=-1 if o is None else self.oid(o), label=op.label)
            else:
                ev._seq += 1  # numbered as dropped: event numbers do not depend on who listens
        try:
            nop = th.coro.send(op.perform(th))
        except StopIteration as e:
            self._finish(th, e.value)
            return
        except Exception as e:  # model code failed: the run ends with outcome "error"
            self._fail(th, e)
            return
        if not isinstance(nop, Op):
            self._bad_await(th, nop)
            return
        th.op = nop
        if ev.enabled and (nop.sleeps or nop.blocking):
            self._parked_events(th, nop, ev)

    def _parked_events(self, th: Thread, nop: Op, ev: Any) -> None:
        # what the context's next operation says now that it parked there: a sleeping
        # operation in atomic context, a lock acquisition that has to wait
        if nop.sleeps:
            why = th.atomic_reason()
            if why is not None:
                ev.emit("sim_atomic_sleep", cpu=th.cpu, tid=th.tid, op=nop.describe(),
                        reason=why, stack=";".join(context_stack(th)))
        if nop.kind == "acquire" and not nop.ready() and ev.wants("sim_lock_contended"):
            holder = nop.waits_for()
            lk = nop.obj
            ev.emit("sim_lock_contended", cpu=th.cpu, tid=th.tid, lock=lk.name,
                    lid=self.oid(lk), **{"class": lk.cls},
                    holder=-1 if holder is None else holder.tid,
                    holder_cpu=-1 if holder is None or holder.cpu is None else holder.cpu)

    def _take_irq(self, ic: IrqChoice) -> None:
        cc = ic.cctx
        intid: int | None = None
        req = None
        if cc.soft:
            item = cc.soft.pop(0)
            if type(item) is _CallReq:
                req = item
                coro = _coro("fn", item.fn, item.args)
                name = "ipi"
            else:
                intid = item
                if self._handler is None:
                    ev = self.events
                    if ev.enabled:
                        ev.emit("sim_irq_lost", cpu=cc.index, intid=intid,
                                reason="no irq handler registered")
                    return
                coro = self._handler(cc)
                name = "irq"
        else:
            coro = self._handler(cc)  # type: ignore[misc]
            name = "irq"
        th = Thread(self._new_tid(), f"{name}/{cc.index}", IRQ, cc, coro)
        th.sid = (("irq", cc.index), cc.nirq)   # a CPU's interrupts are totally ordered
        cc.nirq += 1
        th.req = req
        th.saved_irqs = cc.irqs_on
        was = rcu_reading(cc)
        cc.irqs_on = False
        cc.irq_intid = intid
        cc.irq_stack.append(th)
        rcu_reader_changed(cc, was)  # (a hard-irq handler is an RCU reader)
        fp = self.footprint
        if fp is not None:
            fp.append((cc, True))
        self._threads.append(th)
        ev = self.events
        if ev.enabled:
            ev.emit("sim_irq_enter", cpu=cc.index, tid=th.tid, name=th.name,
                    intid=-1 if intid is None else intid, ipi=req is not None,
                    depth=len(cc.irq_stack))
        self._step_thread(th)

    def _fire_gp(self) -> None:
        RT.th = self._gp_thread
        touch_rcu_keys(self, 1)  # (the readers' ends made the grace period end)
        cbs = self._cbs
        ev = self.events
        n = 0
        while cbs and rcu_gp_done(cbs[0][0]):
            _snap, fn, obj = cbs.popleft()
            n += 1
            if ev.enabled:
                ev.emit("sim_rcu_callback", cpu=None, obj=self.oid(obj),
                        fn=getattr(fn, "__name__", "callback"))
            try:
                fn(obj)
            except Exception as e:
                self._fail(self._gp_thread, e)
                return
        if ev.enabled:
            ev.emit("sim_rcu_gp", cpu=None, callbacks=n)

    def _finish(self, th: Thread, value: Any) -> None:
        th.done = True
        cc = th.cctx
        ev = self.events
        kind = th.kind
        if kind is TASK:
            cc._tasks.remove(th)
            if cc.current is th:
                if th.nspin or cc.rcu_nest:
                    # exit with a spinlock held or inside rcu_read_lock() (lockdep reports
                    # it).  In the non-preemptible kernel modelled here both only raised the
                    # preempt count and exit_rcu() is empty: do_exit()'s last schedule()
                    # (do_task_dead) resets the count ("scheduling while atomic") and is a
                    # context switch, a quiescent state.  A preemptible kernel's exit_rcu()
                    # ends the read section.  Either way the CPU is quiescent again
                    was = rcu_reading(cc)
                    cc.current = None
                    cc.rcu_nest = 0
                    rcu_reader_changed(cc, was)
                else:
                    cc.current = None
        elif kind is ACTOR:
            self._actors.remove(th)
        else:
            st = cc.irq_stack
            was = rcu_reading(cc)
            if st and st[-1] is th:
                st.pop()
            cc.irqs_on = th.saved_irqs
            rcu_reader_changed(cc, was)  # (irq exit: quiescent unless still a reader)
            if kind is IRQ:
                cc.irq_intid = None
            if th.req is not None:
                th.req.done = True
                th.req.result = value
            fp = self.footprint
            if fp is not None:
                fp.append((cc, True))
                if th.req is not None:
                    fp.append((th.req, True))
            if ev.enabled:
                ev.emit("sim_irq_exit", cpu=cc.index, tid=th.tid, held=len(th.held),
                        depth=len(st))
        if ev.enabled:
            ev.emit("sim_exit", cpu=th.cpu, tid=th.tid, name=th.name, held=len(th.held))

    def _fail(self, th: Thread, e: BaseException) -> None:
        tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        self._error = (th, e, tb)
        ev = self.events
        if ev.enabled:
            ev.emit("sim_error", cpu=th.cpu, tid=th.tid, name=th.name,
                    error=f"{type(e).__name__}: {e}")

    def close(self) -> None:
        """Discard a scenario that will not run: close its contexts' coroutines.

        (A run closes them itself; this avoids "coroutine was never awaited"
        warnings for an engine that is built and then dropped.)
        """
        if not self._ran:
            self._ran = True
            self._close()

    def _close(self) -> None:
        m = self.machine
        if m is not None and self.footprint is not None:
            m.bus.on_access = None
        for th in self._threads:
            if not th.done:
                with contextlib.suppress(Exception):  # model code awaiting in a finally
                    th.coro.close()

    def enable_footprints(self) -> None:
        """Record per-step footprints (as ``footprints=True``) for an engine built elsewhere.

        For explorers given a world a scenario built; call before :meth:`run`.
        """
        if self._ran:
            raise SimError("enable_footprints() must be called before run()")
        if self.footprint is None:
            self.footprint = []
            self._hook_machine()

    def _hook_machine(self) -> None:
        # every access to the machine's state is a footprint entry (the machine, written):
        # a step that touched the hardware depends on every other step that did
        m = self.machine
        if m is None:
            return
        fp = self.footprint
        assert fp is not None
        entry = (m, True)

        def touched() -> None:
            if not fp or fp[-1] is not entry:
                fp.append(entry)

        m.bus.on_access = touched

    # -- results -----------------------------------------------------------------------
    @property
    def threads(self) -> list[Thread]:
        """Every context created so far (tasks, actors, irq and bring-up contexts), by tid."""
        return list(self._threads)

    @property
    def steps(self) -> int:
        """Steps taken so far (the events' ``time`` is the step number during a run)."""
        t0 = self._t0
        return self._steps if t0 is None else self.events.time - t0

    @property
    def shape(self) -> int:
        """The shape hash of the choice points so far (option counts and chosen keys)."""
        h = 0
        for k in self._shape_keys:
            h = ((h ^ k) * 0x01000193) & 0xFFFFFFFF
        return h

    @property
    def schedule(self) -> str:
        """The schedule string of the choices made so far (``v1.<hash>.<shape>.<choices>``)."""
        return encode_schedule(self.scenario_hash, self.shape, self._sched)

    @property
    def choices(self) -> list[int]:
        """The recorded choices so far (indices into the choice lists)."""
        return list(self._sched)

    def _result(self, outcome: str) -> RunResult:
        dl = None
        if outcome == "deadlock":
            dl = self._waits()
            ev = self.events
            if ev.enabled:
                # a holder is any context ever spawned, or the RCU callbacks' one (an
                # SRCU reader a callback left open)
                names = {th.tid: th.name for th in self._threads}
                if self._gp_thread_ is not None:
                    names[-1] = self._gp_thread_.name
                ev.emit("sim_deadlock", cpu=None, cycle=" -> ".join(dl.cycle_names()),
                        report=str(dl), waits=dl.event_waits(names))
        err = self._error
        return RunResult(outcome=outcome, engine=self, choices=tuple(self._sched),
                         steps=self.steps, error=None if err is None else err[1],
                         traceback=None if err is None else err[2],
                         failed=None if err is None else err[0].name,
                         deadlock=dl)

class _NoCoro:
    """A stand-in coroutine for the RCU callback pseudo-context."""

    cr_running = True

    def send(self, _v: Any) -> Any:  # pragma: no cover - never stepped
        raise StopIteration

    def close(self) -> None:
        pass
