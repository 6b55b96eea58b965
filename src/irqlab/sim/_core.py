"""The engine's core objects: operation descriptors, contexts, CPUs, the run-time cursor.

Model code never builds these directly; it awaits the operations that the
primitives (:mod:`irqlab.sim.sync`, :mod:`irqlab.sim.rcu`, ...) return.  An
:class:`Op` is both the *descriptor* the scheduler inspects before the
operation happens (``kind``, ``obj``, ``write``, ``label``; ``ready()``) and
the awaitable: ``await op`` yields the op to the engine, which performs it when
the strategy picks that context and sends the result back.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Coroutine, Generator
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from irqlab.errors import IrqlabError

if TYPE_CHECKING:
    from irqlab.sim.engine import Engine

__all__ = ["CpuCtx", "Op", "SimError", "Thread"]

#: Thread kinds.
TASK = "task"
IRQ = "irq"
ACTOR = "actor"
BRINGUP = "bringup"

_SIM_DIR = os.path.dirname(os.path.abspath(__file__))
_EVENTS_FILE = os.path.join(os.path.dirname(_SIM_DIR), "events.py")


class SimError(IrqlabError):
    """Model code broke a rule the engine enforces (unlock of a lock it does not hold, ...).

    Raised inside the model code's context; the run ends with outcome ``"error"``.
    """


class Op:
    """An operation descriptor; awaiting it is a scheduling point.

    Class attributes describe the kind: ``kind`` (a short name), ``write``
    (False for read-only ops, so that two reads of one object commute),
    ``blocking`` (the op may be disabled: :meth:`ready` is consulted),
    ``sleeps`` (a sleeping op: a task blocked on it gives its CPU to another
    task; in atomic context it is a bug reported as ``sim_atomic_sleep``).
    ``obj`` is the object the op touches (``None`` for a plain preemption
    point), ``label`` a free-form string for traces.
    """

    __slots__ = ("label", "obj")
    kind = "point"
    write = False
    blocking = False
    sleeps = False

    def __init__(self, obj: Any = None, label: str = "") -> None:
        self.obj = obj
        self.label = label

    def ready(self) -> bool:
        """True when performing the op now would not block."""
        return True

    def perform(self, th: Thread) -> Any:
        """Do the op's effect for ``th`` (the engine calls this); the result goes to the await."""
        return None

    def waits_for(self) -> Thread | None:
        """For a disabled op: the context whose action would enable it (lock owner), if any."""
        return None

    def describe(self) -> str:
        """A short human-readable form (deadlock reports, traces)."""
        name = _name_of(self.obj)
        s = f"{self.kind}({name})" if name else self.kind
        return f"{s} {self.label}" if self.label else s

    def __await__(self) -> Generator[Op, Any, Any]:
        return (yield self)

    def __repr__(self) -> str:
        return f"<Op {self.describe()}>"


def _name_of(obj: Any) -> str:
    if obj is None:
        return ""
    name = getattr(obj, "name", None)
    if isinstance(name, str):
        return name
    return type(obj).__name__


class _Start(Op):
    """The first op of every context: starting it is a step of its own."""

    __slots__ = ()
    kind = "start"


START = _Start()


class CpuCtx:
    """A simulated CPU as the engine sees it (what an irq handler receives).

    ``index`` is the CPU number (``None`` for the private context of a device
    actor); ``irqs_on`` the local interrupt-enable state (PSTATE.I clear);
    ``hw`` the machine's :class:`~irqlab.hw.machine.Cpu` (``None`` without a
    machine); ``irq_intid`` the software-raised INTID being handled (``None``
    for an interrupt signalled by the hardware line).
    """

    # No __slots__: rarely-changed fields default at class level, so that building
    # an engine (once per explored schedule) stays cheap.
    hw: Any = None
    irqs_on = True
    online = True
    #: The task context that owns the CPU (``None``: idle or all tasks asleep).
    current: Thread | None = None
    irq_intid: int | None = None
    rcu_nest = 0
    rcu_gen = 0
    worker: Thread | None = None
    irq_choice: IrqChoice | None = None
    #: interrupts taken so far (the stable identity of the next hard-irq context)
    nirq = 0

    def __init__(self, engine: Engine, index: int | None, hw: Any = None) -> None:
        self.engine = engine
        self.index = index
        # the run loop reads these every step: instance values, not class defaults
        self.hw = hw
        self.online = True
        self.irqs_on = True
        self.current = None
        #: Hard-irq (and bring-up) contexts stacked on the task, innermost last.
        self.irq_stack: list[Thread] = []
        self._tasks: list[Thread] = []
        #: Engine-level pending interrupts (soft-raised INTIDs, IPIs) in arrival order.
        self.soft: list[Any] = []
        if index is not None:
            self.irq_choice = IrqChoice(self)
        self.workq: list[Any] = []

    @property
    def in_irq(self) -> bool:
        """True while a hard-irq context runs on this CPU."""
        st = self.irq_stack
        return bool(st) and st[-1].kind == IRQ

    @property
    def tasks(self) -> list[Thread]:
        """The unfinished task contexts of this CPU, in spawn order."""
        return list(self._tasks)

    def __repr__(self) -> str:
        return f"<CpuCtx {self.index} irqs={'on' if self.irqs_on else 'off'}>"


class IrqChoice:
    """The choice "CPU ``cpu`` takes its pending interrupt now"."""

    __slots__ = ("cctx", "cpu", "key")
    kind = "irq"
    op = None

    def __init__(self, cctx: CpuCtx) -> None:
        self.cctx = cctx
        self.cpu = cctx.index
        self.key = -1 - (cctx.index or 0)

    def __repr__(self) -> str:
        return f"<IrqChoice cpu{self.cpu}>"


class GpChoice:
    """The choice "complete a grace period now: run the RCU callbacks whose GP has ended"."""

    __slots__ = ()
    kind = "rcu_gp"
    cpu = None
    key = -100_000
    op = None

    def __repr__(self) -> str:
        return "<GpChoice>"


GP_CHOICE = GpChoice()


def data_key(value: int) -> int:
    """The choice key of value ``value`` of a data choice point (negative, like the other
    pseudo choices; the schedule's shape hash folds it in)."""
    return -200_000 - value


class DataChoice:
    """One value of a data choice point (``await sim.choose(n)``): option ``value``.

    Offered to ``strategy.choose`` in a list of its own (one per value, in
    order), made while the context ``owner`` steps; ``kind`` is ``"data"``.
    """

    __slots__ = ("cpu", "key", "owner", "value")
    kind = "data"
    op = None

    def __init__(self, owner: Thread, value: int) -> None:
        self.owner = owner
        self.cpu = owner.cpu
        self.value = value
        self.key = data_key(value)

    def __repr__(self) -> str:
        return f"<DataChoice {self.value} of {self.owner.name}>"


class ChooseOp(Op):
    """``await sim.choose(n, label)``: a scheduling point whose result the strategy picks."""

    __slots__ = ("n", "value")
    kind = "choose"

    def __init__(self, n: int, label: str = "") -> None:
        self.obj = None
        self.label = label
        self.n = n
        self.value = 0

    def perform(self, th: Thread) -> int:
        eng = RT.eng
        if eng is not None:
            ev = eng.events
            if ev.enabled:
                ev.emit("sim_choose", cpu=th.cpu, tid=th.tid, n=self.n, value=self.value,
                        label=self.label)
        return self.value

    def describe(self) -> str:
        return f"choose({self.label or self.n})"


class Thread:
    """One coroutine context: a task, a hard-irq handler, a device actor or a bring-up call.

    As a scheduling choice it offers ``cpu`` (index or ``None``), ``key`` (its
    stable id ``tid``), ``kind`` and ``op`` (the next operation, not yet
    performed).  ``held`` lists the locks it holds, in acquisition order.
    """

    __slots__ = ("cctx", "coro", "cpu", "daemon", "done", "held", "idle_op", "key", "kind",
                 "nallocs", "name", "nkids", "nspin", "op", "req", "saved_irqs", "sid", "site",
                 "tid")

    def __init__(self, tid: int, name: str, kind: str, cctx: CpuCtx,
                 coro: Coroutine[Any, Any, Any], *, daemon: bool = False) -> None:
        self.tid = tid
        self.key = tid
        self.name = name
        self.kind = kind
        self.cctx = cctx
        self.cpu = cctx.index
        self.coro = coro
        self.op: Op = START
        self.held: list[Any] = []
        self.nspin = 0
        self.daemon = daemon
        self.done = False
        self.saved_irqs = True
        self.idle_op: type | None = None
        self.req: Any = None
        #: A stable identity: (parent's sid, n-th context it created); the same for the
        #: same context in every run that reorders only independent steps (tids are not).
        self.sid: Any = None
        self.nkids = 0
        self.nallocs = 0
        #: where the context last asked for a lock, "func@file.py:line" (see mark_site)
        self.site = ""

    def atomic_reason(self) -> str | None:
        """Why this context may not sleep now (``None`` if it may)."""
        if self.kind == IRQ:
            return "in hard-irq context"
        if not self.cctx.irqs_on:
            return "interrupts disabled"
        if self.nspin:
            return "spinlock held: " + ", ".join(_name_of(lk) for lk in self.held
                                                  if not getattr(lk, "sleeping", False))
        if self.cctx.rcu_nest:
            return "inside rcu_read_lock()"
        return None

    def __repr__(self) -> str:
        where = f"cpu{self.cpu}" if self.cpu is not None else "actor"
        return f"<Thread {self.tid} {self.name} {self.kind} {where} next={self.op.describe()}>"


class _Runtime:
    """The one cursor of the running engine: which engine and which context is stepping."""

    __slots__ = ("eng", "th")

    def __init__(self) -> None:
        self.eng: Engine | None = None
        self.th: Thread | None = None


#: Set only while :meth:`Engine.run` executes (one run at a time per process).
RT = _Runtime()


class _RcuState:
    """The one RCU domain, as an object in footprints and op descriptors."""

    name = "rcu"

    def __repr__(self) -> str:
        return "<rcu>"


RCU_STATE = _RcuState()


def touch(obj: Any, write: bool = True) -> None:
    """Record that the current step touched ``obj`` (only when footprints are on)."""
    eng = RT.eng
    if eng is not None:
        fp = eng.footprint
        if fp is not None:
            fp.append((obj, write))


def cur_thread() -> Thread:
    """The context that is stepping now; :class:`SimError` outside a run."""
    th = RT.th
    if th is None:
        raise SimError("no engine run is in progress (call this from model code)")
    return th


# -- sites and stacks --------------------------------------------------------------

# (code object, line) -> "func@file.py:line" and code object -> is model code: pure
# caches of formatting, shared by all runs (the code objects live as long as the program).
_FRAME_STR: dict[tuple[Any, int], str] = {}
_MODEL_CODE: dict[Any, bool] = {}


def _frame_str(f: Any) -> str:
    co = f.f_code
    key = (co, f.f_lineno)
    s = _FRAME_STR.get(key)
    if s is None:
        s = _FRAME_STR[key] = f"{co.co_name}@{os.path.basename(co.co_filename)}:{key[1]}"
    return s


class SiteNames:
    """Names of call sites, made once per calling instruction.

    ``names.of(f)`` is ``fmt(f)``, the name of the call frame ``f`` is making, cached
    by code object and instruction offset (``f_lineno`` would walk the code's line
    table every time): one dict lookup per call.  The entry keeps the code object
    alive, so its id is never reused.
    """

    __slots__ = ("_cache", "_fmt")

    def __init__(self, fmt: Callable[[Any], str]) -> None:
        self._fmt = fmt
        self._cache: dict[tuple[int, int], tuple[Any, str]] = {}

    def of(self, f: Any) -> str:
        co = f.f_code
        k = (id(co), f.f_lasti)
        ent = self._cache.get(k)
        if ent is None:
            ent = self._cache[k] = (co, self._fmt(f))
        return ent[1]


_MARK_SITES = SiteNames(_frame_str)  # "func@file.py:line" of a lock request


def mark_site(depth: int = 2) -> None:
    """Record in the running context where model code asks for a lock (``func@file:line``
    of the innermost model frame ``depth`` frames up or beyond), while events are on.

    lockdep reports each held lock "at" this site, as the kernel's ``held_lock``
    keeps the acquisition's ``acquire_ip``: one frame (~4,000 instructions, its string
    cached by code and instruction offset), unlike a stack, which observers capture
    only for what they record.
    """
    th = RT.th
    eng = RT.eng
    if th is None or eng is None or not eng.events.enabled:
        return
    f: Any = sys._getframe(depth)
    while f is not None and f.f_code.co_filename.startswith(_SIM_DIR):
        f = f.f_back  # an irqlab.sim helper (refcount_dec_and_lock, ...): its model caller
    if f is not None:
        th.site = _MARK_SITES.of(f)


def _is_model(f: Any) -> bool:
    co = f.f_code
    m = _MODEL_CODE.get(co)
    if m is None:
        m = _MODEL_CODE[co] = not co.co_filename.startswith(_SIM_DIR)
    return m


def _coro_frames(th: Thread) -> list[Any]:
    """The frames of a suspended context's coroutine chain, outermost first."""
    out: list[Any] = []
    c: Any = th.coro
    while c is not None:
        if type(c) is CoroutineType:
            f = c.cr_frame
            nxt = c.cr_await
        else:
            f = getattr(c, "gi_frame", None)
            nxt = getattr(c, "gi_yieldfrom", None)
        if f is not None:
            out.append(f)
        c = nxt
    return out


def _chain_to(root: Any) -> list[str]:
    """(uncached) From the frame that is running back out to ``root`` (``None``: to the
    engine), outermost first, the model frames up to the first call into irqlab.sim.  The
    frames walked start at the caller of the function that calls this one."""
    frames: list[Any] = []
    f: Any = sys._getframe(2)
    while f is not None:
        if f.f_code.co_filename == _EVENTS_FILE:
            frames.clear()  # inside an event's delivery (a subscriber asking): not the model's
        else:
            frames.append(f)
        if f is root or (root is None and f.f_code.co_name in ("_fire_gp", "_loop")):
            break
        f = f.f_back
    out: list[str] = []
    for f in reversed(frames):
        if not _is_model(f):
            if out:
                break
            continue
        out.append(_frame_str(f))
    return out


# Stacks are looked up in caches keyed by the frames' f_lasti (a tuple of small ints) and
# checked against their code objects by identity (hashing a code object hashes its
# constants, ~0.5 us a frame; a line number walks the code's line table): model code
# reaches the engine from few distinct places.  An entry keeps its code objects alive.
_RUNNING: dict[tuple[int, ...], list[tuple[tuple[Any, ...], list[str]]]] = {}
_PARKED: dict[tuple[int, ...], list[tuple[tuple[Any, ...], list[str]]]] = {}
_CACHE_MAX = 65536


def suspended_stack(th: Thread) -> list[str]:
    """Frames of a suspended context's coroutine chain, outermost first (model code only)."""
    frames = _coro_frames(th)
    k = tuple([f.f_lasti for f in frames])
    codes = tuple([f.f_code for f in frames])
    ent = _PARKED.get(k)
    if ent is not None:
        for cs, out in ent:
            if cs == codes:
                return list(out)
    out = [_frame_str(f) for f in frames if _is_model(f)]
    if len(_PARKED) < _CACHE_MAX:
        _PARKED.setdefault(k, []).append((codes, out))
    return list(out)


def context_stack(th: Thread) -> list[str]:
    """The model-code stack of ``th``, outermost first, whether it runs or is parked.

    For a running context the frames walked start at this function's caller: frames in
    :mod:`irqlab.sim` are not model code, and an event's delivery (an observer asking
    from inside a subscriber) is cut off at the event stream.
    """
    coro: Any = th.coro
    if th.tid < 0:  # the RCU callback pseudo-context: up to the engine's frame (rare)
        return _chain_to(None)
    if not getattr(coro, "cr_running", False):
        return suspended_stack(th)
    root = coro.cr_frame
    lastis: list[int] = []
    codes_l: list[Any] = []
    app = lastis.append
    capp = codes_l.append
    f: Any = sys._getframe(1)
    while f is not None:
        app(f.f_lasti)
        capp(f.f_code)
        if f is root:
            break
        f = f.f_back
    k = tuple(lastis)
    codes = tuple(codes_l)
    ent = _RUNNING.get(k)
    if ent is not None:
        for cs, out in ent:
            if cs == codes:
                return list(out)
    out = _chain_to(root)  # (its frames start at our caller, as the key's)
    if len(_RUNNING) < _CACHE_MAX:
        _RUNNING.setdefault(k, []).append((codes, out))
    return list(out)
