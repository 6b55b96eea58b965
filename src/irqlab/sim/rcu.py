"""RCU and SRCU: read sections, grace periods, deferred callbacks.

RCU follows the non-preemptible kernel: read sections nest per CPU
(``rcu_read_lock``/``rcu_read_unlock`` are plain calls, not scheduling
points); ``await synchronize_rcu()`` waits until every CPU that was inside a
read section when it was called has left that section -- readers that start
later are not waited for.  ``call_rcu(obj, fn)`` / ``kfree_rcu(obj)`` queue a
callback; once its grace period is over, completing it is a scheduling
choice (``"rcu_gp"``), so a strategy decides how late callbacks run.
Callbacks are plain functions, run in order, outside any CPU.

SRCU (``SrcuStruct``) is per domain: ``idx = srcu_read_lock(s)`` returns an
opaque cookie (not 0/1 as in Linux -- IMPDEF choice of the model: one token
per reader makes "pre-existing readers" exact), ``srcu_read_unlock(s, idx)``;
``await synchronize_srcu(s)`` waits for the readers that held a token when it
was called.  SRCU readers may sleep.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from irqlab.errors import InvalidArgumentType
from irqlab.sim._core import RCU_STATE, RT, CpuCtx, Op, SimError, Thread, cur_thread, touch

__all__ = [
    "SrcuStruct",
    "call_rcu",
    "rcu_read_lock",
    "rcu_read_unlock",
    "srcu_read_lock",
    "srcu_read_unlock",
    "synchronize_rcu",
    "synchronize_srcu",
]


def _eng() -> Any:
    eng = RT.eng
    if eng is None:
        raise SimError("no engine run is in progress (call this from model code)")
    return eng


def rcu_read_lock() -> None:
    """Enter an RCU read-side critical section on the current CPU (nests)."""
    th = cur_thread()
    cc = th.cctx
    if cc.rcu_nest == 0:
        cc.rcu_gen += 1
    cc.rcu_nest += 1
    touch(RCU_STATE, False)
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
    touch(RCU_STATE, False)
    ev = _eng().events
    if ev.enabled:
        ev.emit("sim_rcu_read_unlock", cpu=th.cpu, tid=th.tid, nest=cc.rcu_nest)


def rcu_read_lock_held() -> bool:
    """True inside an RCU read section on the current CPU."""
    return cur_thread().cctx.rcu_nest > 0


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
        for cc, gen in self.snap:  # noqa: SIM110 (a plain loop is faster here)
            if cc.rcu_nest and cc.rcu_gen == gen:
                return False
        return True

    def perform(self, th: Thread) -> None:
        ev = _eng().events
        if ev.enabled:
            ev.emit("sim_rcu_sync_end", cpu=th.cpu, tid=th.tid)


def synchronize_rcu() -> _SyncRcu:
    """``await synchronize_rcu()``: sleep until the readers present now have all finished."""
    th = cur_thread()
    eng = _eng()
    snap = eng._rcu_snapshot()
    touch(RCU_STATE)  # the readers' snapshot is taken now: a write of the RCU state
    ev = eng.events
    if ev.enabled:
        ev.emit("sim_rcu_sync_start", cpu=th.cpu, tid=th.tid, readers=len(snap))
    return _SyncRcu(snap)


def call_rcu(obj: Any, fn: Callable[[Any], Any]) -> None:
    """Queue ``fn(obj)`` to run after a grace period (plain call; callable from any context)."""
    if not callable(fn):
        raise InvalidArgumentType(f"fn must be callable, not {fn!r}")
    th = cur_thread()
    eng = _eng()
    eng._cbs.append((eng._rcu_snapshot(), fn, obj))
    touch(RCU_STATE)
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
