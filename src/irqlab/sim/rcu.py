"""RCU and SRCU: read sections, grace periods, deferred callbacks.

RCU follows the non-preemptible kernel and is the consolidated flavour of Linux
5.0 and later (the comment above ``synchronize_rcu()`` in kernel/rcu/tree.c):
a CPU is an RCU reader while it is inside ``rcu_read_lock()`` (sections nest
per CPU; ``rcu_read_lock``/``rcu_read_unlock`` are plain calls, not
scheduling points), while its interrupts are disabled, while it runs a
hard-irq handler, and while the context running on it holds a spinlock (a
non-sleeping lock disables preemption).  ``await synchronize_rcu()`` waits
until every CPU that was a reader when it was called has been quiescent
since -- readers that start later are not waited for, and neither is the
calling CPU (it must be in task context with interrupts on: sleeping
otherwise is a sleep-in-atomic bug, reported as such).  ``call_rcu(obj, fn)`` /
``kfree_rcu(obj)`` queue a callback; once its grace period is over,
completing it is a scheduling choice (``"rcu_gp"``), so a strategy decides
how late callbacks run.  Callbacks are plain functions, run in order,
outside any CPU.

Deliberate differences: offline CPUs are readers only inside
``rcu_read_lock()`` (RCU ignores offline CPUs; the bring-up context of a CPU
coming online is therefore not waited for, although Linux's STARTING
callbacks are readers once ``rcutree_report_cpu_starting()`` ran); a device
actor is not a CPU: only its ``rcu_read_lock()`` sections (and interrupts it
disables) count.

SRCU (``SrcuStruct``) is per domain: ``idx = srcu_read_lock(s)`` returns an
opaque cookie (not 0/1 as in Linux -- IMPDEF choice of the model: one token
per reader makes "pre-existing readers" exact), ``srcu_read_unlock(s, idx)``;
``await synchronize_srcu(s)`` waits for the readers that held a token when it
was called.  SRCU readers may sleep.

Partial-order reduction (footprints).  Each CPU has three footprint keys
(:func:`rcu_keys`): a step that makes it a reader (``rcu_read_lock`` outside
any reader, interrupts masked, irq entry, the first spinlock taken) writes
its ``rcu_in`` key; one that makes it quiescent (the outermost
``rcu_read_unlock``, interrupts unmasked, irq exit, the last spinlock
released) writes its ``rcu_out`` key; every ``rcu_read_unlock`` writes its
``rcu_section`` key.  A step that takes a reader snapshot
(``synchronize_rcu``, ``call_rcu``) reads every CPU's ``rcu_in`` and
``rcu_out`` (who is in the snapshot depends on their order); one that ends a
grace period (``synchronize_rcu`` returning, the ``rcu_gp`` choice) reads
every ``rcu_out`` (a reader that ends may end it; one that starts has a new
generation and changes nothing); a ``kfree`` of a tracked object reads every
``rcu_section`` (the lifetime checker judges it by the sections open then).
Which of these a step is depends on its CPU's state alone, which every step
of that CPU writes.  A device actor, which has no CPU, uses the global keys
instead: :data:`RCU_SNAPSHOT`, the RCU state (``RCU_STATE``) and
:data:`RCU_READERS`, which those steps write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from irqlab.errors import InvalidArgumentType
from irqlab.sim._core import RCU_STATE, RT, CpuCtx, Op, SimError, Thread, cur_thread, touch

__all__ = [
    "RCU_READERS",
    "RCU_SNAPSHOT",
    "SrcuStruct",
    "call_rcu",
    "rcu_read_lock",
    "rcu_read_unlock",
    "rcu_reading",
    "srcu_read_lock",
    "srcu_read_unlock",
    "synchronize_rcu",
    "synchronize_srcu",
]


class _RcuKey:
    """A footprint key of RCU (the module docstring); nothing else."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


#: A device actor's read-section ends (``rcu_read_unlock``), as the lifetime checker
#: sees them: written by a ``kfree`` of a tracked object.
RCU_READERS = _RcuKey("rcu_readers")
#: A device actor becoming a reader: written by the steps that take a reader snapshot.
RCU_SNAPSHOT = _RcuKey("rcu_snapshot")

_KEYS: list[tuple[_RcuKey, _RcuKey, _RcuKey]] = []


def rcu_keys(cpu: int) -> tuple[_RcuKey, _RcuKey, _RcuKey]:
    """CPU ``cpu``'s footprint keys ``(rcu_in, rcu_out, rcu_section)`` (made once)."""
    while len(_KEYS) <= cpu:
        n = len(_KEYS)
        _KEYS.append((_RcuKey(f"rcu_in{n}"), _RcuKey(f"rcu_out{n}"),
                      _RcuKey(f"rcu_section{n}")))
    return _KEYS[cpu]


def touch_rcu_keys(eng: Any, which: int) -> None:
    """Record that the current step reads key ``which`` (0: ``rcu_in``, 1: ``rcu_out``,
    2: ``rcu_section``) of every CPU of ``eng`` (only when footprints are on)."""
    fp = eng.footprint
    if fp is not None:
        n = len(eng.cpus)
        if len(_KEYS) < n:
            rcu_keys(n - 1)
        for ks in _KEYS[:n]:
            fp.append((ks[which], False))


def _eng() -> Any:
    eng = RT.eng
    if eng is None:
        raise SimError("no engine run is in progress (call this from model code)")
    return eng


def rcu_reading(cc: CpuCtx) -> bool:
    """Whether CPU ``cc`` is an RCU reader now: inside ``rcu_read_lock()``, or (online)
    with interrupts disabled, in hard-irq context, or running a context that holds a
    spinlock (see the module docstring)."""
    if cc.rcu_nest:
        return True
    if not cc.online:
        return False
    if not cc.irqs_on or cc.irq_stack:
        return True
    th = cc.current
    return th is not None and th.nspin > 0


def _reader_starts(cc: CpuCtx) -> None:
    # a new reader: a new generation (a grace period waiting for this CPU's previous
    # reader is over for it); footprint: the module docstring
    cc.rcu_gen += 1
    fp = cc.engine.footprint
    if fp is not None:
        i = cc.index
        fp.append((RCU_SNAPSHOT, False) if i is None else (rcu_keys(i)[0], True))


def _reader_ends(cc: CpuCtx) -> None:
    # quiescent: the step may end a grace period
    fp = cc.engine.footprint
    if fp is not None:
        i = cc.index
        fp.append((RCU_STATE, False) if i is None else (rcu_keys(i)[1], True))


def rcu_reader_changed(cc: CpuCtx, was: bool) -> None:
    """Call after a change of ``cc``'s state that may start or end a reader (``was``:
    :func:`rcu_reading` before it)."""
    if rcu_reading(cc) is not was:
        if was:
            _reader_ends(cc)
        else:
            _reader_starts(cc)


def rcu_spin_changed(th: Thread, first: bool) -> None:
    """``th`` takes its first spinlock (``first``: ``th.nspin`` goes 0 -> 1 after this
    call) or released its last (``th.nspin`` went 1 -> 0 before it): preemption disabled
    or enabled again, so its CPU's reader starts or ends, unless the CPU is a reader for
    another reason or does not run ``th``."""
    cc = th.cctx
    if (cc.current is th and not cc.rcu_nest and cc.irqs_on and cc.online
            and not cc.irq_stack):
        if first:
            _reader_starts(cc)
        else:
            _reader_ends(cc)


def rcu_snapshot(ctxs: list[CpuCtx], skip: CpuCtx | None) -> tuple[tuple[CpuCtx, int], ...]:
    """The readers a grace period starting now waits for: ``(cpu, generation)`` of every
    context in ``ctxs`` that is a reader now, except ``skip``."""
    return tuple([(cc, cc.rcu_gen) for cc in ctxs if cc is not skip and rcu_reading(cc)])


def rcu_gp_done(snap: tuple[tuple[CpuCtx, int], ...]) -> bool:
    """Whether every reader of ``snap`` has been quiescent since: it is not a reader now,
    or it is a newer one (its generation changed)."""
    for cc, gen in snap:  # noqa: SIM110 (a plain loop is faster here)
        if cc.rcu_gen == gen and rcu_reading(cc):
            return False
    return True


def rcu_read_lock() -> None:
    """Enter an RCU read-side critical section on the current CPU (nests)."""
    th = cur_thread()
    cc = th.cctx
    if cc.rcu_nest == 0 and not rcu_reading(cc):
        _reader_starts(cc)
    cc.rcu_nest += 1
    ev = _eng().events
    if ev.enabled:
        ev.emit("sim_rcu_read_lock", cpu=th.cpu, tid=th.tid, nest=cc.rcu_nest)


def rcu_read_unlock() -> None:
    """Leave an RCU read-side critical section."""
    th = cur_thread()
    cc = th.cctx
    if cc.rcu_nest == 0:
        raise SimError(f"rcu_read_unlock() by {th.name} outside a read section")
    cc.rcu_nest -= 1
    if not rcu_reading(cc):
        _reader_ends(cc)
    eng = _eng()
    fp = eng.footprint
    if fp is not None:  # (a kfree of a tracked object is judged by the open sections)
        i = cc.index
        fp.append((RCU_READERS, False) if i is None else (rcu_keys(i)[2], True))
    ev = eng.events
    if ev.enabled:
        ev.emit("sim_rcu_read_unlock", cpu=th.cpu, tid=th.tid, nest=cc.rcu_nest)


def rcu_read_lock_held() -> bool:
    """True inside an ``rcu_read_lock()`` section on the current CPU (explicit sections
    only, as ``rcu_read_lock_held()`` with lockdep)."""
    return cur_thread().cctx.rcu_nest > 0


def _touch_snapshot(eng: Any) -> None:
    # a reader snapshot: a write of the RCU state, and of a device actor's start; a read
    # of every CPU's starts and ends
    touch(RCU_STATE)
    touch(RCU_SNAPSHOT)
    touch_rcu_keys(eng, 0)
    touch_rcu_keys(eng, 1)


class _SyncRcu(Op):
    """Wait for the grace period whose reader snapshot was taken when the op was created."""

    __slots__ = ("snap",)
    kind = "synchronize_rcu"
    write = True
    blocking = True
    sleeps = True

    def __init__(self, snap: tuple[tuple[CpuCtx, int], ...]) -> None:
        self.obj = RCU_STATE
        self.label = ""
        self.snap = snap

    def ready(self) -> bool:
        return rcu_gp_done(self.snap)

    def perform(self, th: Thread) -> None:
        eng = _eng()
        touch_rcu_keys(eng, 1)  # (the readers' ends made it ready)
        ev = eng.events
        if ev.enabled:
            ev.emit("sim_rcu_sync_end", cpu=th.cpu, tid=th.tid)


def synchronize_rcu() -> _SyncRcu:
    """``await synchronize_rcu()``: sleep until the readers present now have all finished.

    The calling CPU is not waited for (a caller that may sleep is no reader; one that
    may not is reported as sleeping in atomic context).
    """
    th = cur_thread()
    eng = _eng()
    snap = rcu_snapshot(eng._rcu_ctxs, th.cctx)
    _touch_snapshot(eng)  # the readers' snapshot is taken now
    ev = eng.events
    if ev.enabled:
        ev.emit("sim_rcu_sync_start", cpu=th.cpu, tid=th.tid, readers=len(snap))
    return _SyncRcu(snap)


def call_rcu(obj: Any, fn: Callable[[Any], Any]) -> None:
    """Queue ``fn(obj)`` to run after a grace period (plain call; callable from any context).

    The grace period also waits for the calling CPU if it is a reader (irq handler,
    interrupts off, spinlock held, inside ``rcu_read_lock()``).
    """
    if not callable(fn):
        raise InvalidArgumentType(f"fn must be callable, not {fn!r}")
    th = cur_thread()
    eng = _eng()
    eng._cbs.append((rcu_snapshot(eng._rcu_ctxs, None), fn, obj))
    _touch_snapshot(eng)
    ev = eng.events
    if ev.enabled:
        ev.emit("sim_rcu_call", cpu=th.cpu, tid=th.tid, obj=eng.oid(obj),
                fn=getattr(fn, "__name__", "callback"))


class SrcuStruct:
    """An SRCU domain (``struct srcu_struct``)."""

    __slots__ = ("active", "name", "next")

    def __init__(self, name: str = "srcu") -> None:
        if not isinstance(name, str):
            raise InvalidArgumentType(f"name must be a str, not {name!r}")
        self.name = name
        self.next = 0
        #: Active reader tokens in increasing order (dict keeps insertion order).
        self.active: dict[int, Thread] = {}

    def __repr__(self) -> str:
        return f"<SrcuStruct {self.name} readers={len(self.active)}>"


def srcu_read_lock(s: SrcuStruct) -> int:
    """Enter an SRCU read section of ``s``; returns the cookie for :func:`srcu_read_unlock`."""
    if not isinstance(s, SrcuStruct):
        raise InvalidArgumentType(f"s must be a SrcuStruct, not {s!r}")
    th = cur_thread()
    idx = s.next
    s.next = idx + 1
    s.active[idx] = th
    touch(s, False)
    ev = _eng().events
    if ev.enabled:
        ev.emit("sim_srcu_read_lock", cpu=th.cpu, tid=th.tid, srcu=s.name, idx=idx)
    return idx


def srcu_read_unlock(s: SrcuStruct, idx: int) -> None:
    """Leave the SRCU read section that returned ``idx``."""
    if not isinstance(s, SrcuStruct):
        raise InvalidArgumentType(f"s must be a SrcuStruct, not {s!r}")
    th = cur_thread()
    if s.active.pop(idx, None) is None:
        raise SimError(f"srcu_read_unlock({s.name}, {idx!r}) by {th.name}: no such reader")
    touch(s, False)
    ev = _eng().events
    if ev.enabled:
        ev.emit("sim_srcu_read_unlock", cpu=th.cpu, tid=th.tid, srcu=s.name, idx=idx)


class _SyncSrcu(Op):
    __slots__ = ("upto",)
    kind = "synchronize_srcu"
    write = True
    blocking = True
    sleeps = True

    def __init__(self, s: SrcuStruct, upto: int) -> None:
        self.obj = s
        self.label = ""
        self.upto = upto

    def ready(self) -> bool:
        act = self.obj.active
        return not act or next(iter(act)) >= self.upto

    def waits_for(self) -> Thread | None:
        act = self.obj.active
        return next(iter(act.values())) if act else None

    def perform(self, th: Thread) -> None:
        ev = _eng().events
        if ev.enabled:
            ev.emit("sim_srcu_sync_end", cpu=th.cpu, tid=th.tid, srcu=self.obj.name)


def synchronize_srcu(s: SrcuStruct) -> _SyncSrcu:
    """``await synchronize_srcu(s)``: sleep until the current readers of ``s`` have finished."""
    if not isinstance(s, SrcuStruct):
        raise InvalidArgumentType(f"s must be a SrcuStruct, not {s!r}")
    th = cur_thread()
    touch(s)  # the readers' snapshot (the generation to wait for) is taken now
    ev = _eng().events
    if ev.enabled:
        ev.emit("sim_srcu_sync_start", cpu=th.cpu, tid=th.tid, srcu=s.name,
                readers=len(s.active))
    return _SyncSrcu(s, s.next)
