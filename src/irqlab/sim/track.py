"""Tracked objects, plain preemption points and work items.

Tracked objects have a lifetime the engine knows: ``alloc`` -> (accesses) ->
``kfree`` or ``kfree_rcu``.  The engine does not judge; it emits
``sim_alloc``, ``sim_free``, ``sim_access`` (with ``live=0`` when the object
was already freed) carrying the object's stable id, kind and sites, and the
lifetime checker reports use-after-free, double free and leaks from them.
Sites are ``func@file.py:line`` of the model code (the innermost frame
outside :mod:`irqlab.sim`); stacks are ``;``-joined frames, outermost first.
Objects that were never passed to ``alloc`` are not instrumented, as memory
KASAN does not track: their frees (``state="untracked"``) and accesses are
reported as events, and the lifetime checker ignores them.

Work items: ``queue_work(cpu, work)`` puts a :class:`Work` on the CPU's
worker (a daemon task created on first use, one per CPU, like a bound
kworker); ``await flush_work(work)`` sleeps until the instance queued when
it was called has finished.
"""

from __future__ import annotations

from typing import Any

from irqlab.errors import InvalidArgumentType, InvalidArgumentValue, check_count
from irqlab.sim._core import (
    RT,
    ChooseOp,
    Op,
    SimError,
    Thread,
    context_stack,
    cur_thread,
    suspended_stack,
    touch,
)
from irqlab.sim.rcu import RCU_READERS, touch_rcu_keys

__all__ = ["Tracked", "Work", "access", "alloc", "choose", "flush_work", "kfree", "kfree_rcu",
           "note_access", "point", "queue_work"]

LIVE, FREED, RCU_PENDING = "live", "freed", "rcu"


def _eng() -> Any:
    eng = RT.eng
    if eng is None:
        raise SimError("no engine run is in progress (call this from model code)")
    return eng


class Tracked:
    """A placeholder object returned by ``alloc("kind")`` (attributes may be set freely)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"<Tracked {self.kind}>"


class Shared:
    """A name for plain state that several contexts share: what :func:`note_access` is
    given where model code reads or writes that state outside the engine's primitives
    (a table, a free list, an allocator).  The explorer keys it by its name (and type):
    two ``Shared`` of one name are the same state to it.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise InvalidArgumentType(f"name must be a str, not {name!r}")
        if not name:
            raise InvalidArgumentValue("name must be a non-empty str, not ''")
        self.name = name

    def __repr__(self) -> str:
        return f"<Shared {self.name}>"


class _Rec:
    __slots__ = ("free_site", "kind", "oid", "site", "state")

    def __init__(self, oid: int, kind: str, site: str) -> None:
        self.oid = oid
        self.kind = kind
        self.site = site
        self.state = LIVE
        self.free_site = ""


# -- stacks ------------------------------------------------------------------------------
def stack_now(eng: Any) -> list[str]:
    """``eng.stack()`` (the stepping context's model stack, for observers), cheaply."""
    st = eng._stack_now
    if st is not None:
        return list(st)
    th = RT.th
    if th is None:
        return []
    return context_stack(th)


def _here(eng: Any) -> tuple[list[str] | None, str]:
    """The stepping context's model stack and its innermost frame (the site), captured
    only while someone listens to events: ``(None, "")`` otherwise."""
    if not eng.events.enabled:
        return None, ""
    th = RT.th
    st = context_stack(th) if th is not None else []
    return st, st[-1] if st else "?"


def _emit_at(eng: Any, stack: list[str] | None, kind: str, **args: Any) -> None:
    # while the event is delivered, engine.stack() returns the stack captured for its
    # site instead of walking the frames a second time (it would find the same frames)
    eng._stack_now = stack
    try:
        eng.events.emit(kind, **args)
    finally:
        eng._stack_now = None


def _rec(eng: Any, obj: Any) -> _Rec | None:
    return eng._tracked.get(id(obj))


def alloc(obj_or_kind: Any, *, site: str | None = None) -> Any:
    """Start tracking ``obj`` (or a new :class:`Tracked` of kind ``"name"``); returns it.

    Plain call (allocation is not a scheduling point).  ``site`` overrides
    the captured allocation site.
    """
    eng: Any = RT.eng
    th = RT.th
    if eng is None or th is None:
        _eng()
        th = cur_thread()  # (both raise)
    if isinstance(obj_or_kind, str):
        obj = Tracked(obj_or_kind)
        kind = obj_or_kind
    else:
        obj = obj_or_kind
        kind = type(obj).__name__
    if site is not None and not isinstance(site, str):
        raise InvalidArgumentType(f"site must be a str or None, not {site!r}")
    oid = eng.oid(obj)
    fp = eng.footprint
    if fp is not None:
        n = th.nallocs
        th.nallocs = n + 1
        eng._stable[id(obj)] = (th.sid, n)
    ev = eng.events
    if ev.enabled:
        # the model stack and its innermost frame (the site), captured while someone
        # listens (the frames of this module are not model code: same stack as _here's)
        st: list[str] | None = context_stack(th)
        s = site if site is not None else st[-1] if st else "?"  # type: ignore[index]
    else:
        st = None
        s = site if site is not None else ""
    eng._tracked[id(obj)] = _Rec(oid, kind, s)
    if fp is not None:
        fp.append((obj, True))  # touch(obj)
    if ev.enabled:
        d = ev.direct.get("sim_alloc")
        if d is not None:
            # (the one listener takes the fields directly; see EventStream.direct)
            ev._seq += 1
            eng._stack_now = st
            try:
                d(ev.time, th.cpu, th.tid, oid, kind, s)
            finally:
                eng._stack_now = None
        else:
            _emit_at(eng, st, "sim_alloc", cpu=th.cpu, tid=th.tid, oid=oid, obj_kind=kind,
                     site=s)
    return obj


def _free(eng: Any, th: Thread, obj: Any, deferred: bool, site: str,
          stack: list[str] | None = None) -> None:
    rec = _rec(eng, obj)
    touch(obj)
    if rec is not None and not deferred:
        # the lifetime checker judges a kfree by the RCU read sections open at that
        # moment: the free and the sections' ends (rcu_read_unlock) are ordered
        touch(RCU_READERS)
        touch_rcu_keys(eng, 2)
    ev = eng.events
    if rec is None:
        if ev.enabled:
            ev.emit("sim_free", cpu=th.cpu, tid=th.tid, oid=eng.oid(obj),
                    obj_kind=type(obj).__name__, site="", free_site=site, state="untracked",
                    deferred=deferred, double=False)
        return
    double = rec.state == FREED
    prev = rec.state
    rec.state = FREED
    if not double:
        rec.free_site = site
    if ev.enabled:
        _emit_at(eng, stack, "sim_free", cpu=th.cpu, tid=th.tid, oid=rec.oid,
                 obj_kind=rec.kind, site=rec.site, free_site=site, state=prev,
                 deferred=deferred, double=double)


def kfree(obj: Any) -> None:
    """Free a tracked object now (plain call).  A second free is reported as ``double=1``."""
    eng = _eng()
    th = cur_thread()
    st, here = _here(eng)
    _free(eng, th, obj, False, here, st)


def kfree_rcu(obj: Any) -> None:
    """Free ``obj`` after a grace period (``kfree_rcu``); plain call."""
    eng = _eng()
    th = cur_thread()
    st, site = _here(eng)
    rec = _rec(eng, obj)
    if rec is not None and rec.state == LIVE:
        rec.state = RCU_PENDING
    touch(obj)
    ev = eng.events
    if ev.enabled:
        ev.emit("sim_free_rcu", cpu=th.cpu, tid=th.tid, oid=eng.oid(obj),
                obj_kind=rec.kind if rec else type(obj).__name__, free_site=site)

    def _rcu_free(o: Any) -> None:
        _free(eng, cur_thread(), o, True, site, st)  # (the stack of the kfree_rcu call)

    from irqlab.sim.rcu import call_rcu

    call_rcu(obj, _rcu_free)


def is_freed(obj: Any) -> bool:
    """True when ``obj`` is tracked and has been freed (for model assertions)."""
    rec = _rec(_eng(), obj)
    return rec is not None and rec.state == FREED


class _Access(Op):
    __slots__ = ()
    kind = "access"

    def perform(self, th: Thread) -> None:
        eng = RT.eng
        ev = eng.events  # type: ignore[union-attr]
        if ev.enabled:
            obj = self.obj
            rec = eng._tracked.get(id(obj))  # type: ignore[union-attr]
            frames = suspended_stack(th)
            ev.emit("sim_access", cpu=th.cpu, tid=th.tid, oid=eng.oid(obj),  # type: ignore
                    obj_kind=rec.kind if rec else type(obj).__name__, rw="w" if self.write
                    else "r", label=self.label, live=rec is None or rec.state != FREED,
                    state="untracked" if rec is None else rec.state,
                    site=frames[-1] if frames else "")


class _AccessR(_Access):
    __slots__ = ()
    write = False


class _AccessW(_Access):
    __slots__ = ()
    write = True


def access(obj: Any, rw: str = "r", label: str = "") -> Op:
    """``await access(obj, "r"|"w", label)``: a scheduling point, then a use of ``obj``."""
    if rw == "r":
        return _AccessR(obj, label)
    if rw == "w":
        return _AccessW(obj, label)
    raise InvalidArgumentValue(f"rw must be 'r' or 'w', not {rw!r}")


_POINT = Op(None, "")


def note_access(obj: Any, write: bool = True) -> None:
    """Declare that the current step touched ``obj`` by a plain (non-await) access.

    For partial-order reduction: shared state that model code reads or changes by
    plain Python inside a step, outside the engine's primitives, must be declared
    here (a :class:`Shared` naming it, or the object itself if it has a unique
    ``name``), or the explorer treats the steps as independent; ``irqlab audit``
    finds what is missing.  Recorded only while footprints are on (DFS, the audit).
    """
    touch(obj, bool(write))


def point(label: str = "") -> Op:
    """``await point(label)``: a plain preemption point."""
    return Op(None, label) if label else _POINT


def choose(n: int, label: str = "") -> ChooseOp:
    """``v = await choose(n, label)``: a data choice point; ``v`` is in ``range(n)``.

    Controlled nondeterminism (Coyote's ``RandomInteger``, Shuttle's random
    values): the strategy picks ``v`` and the schedule records it, so random
    runs draw it, DFS explores every value, and a replay returns the same one.
    Also a scheduling point, like :func:`point`.  ``n == 1`` is no choice (0).
    """
    check_count("n", n, 1, 1 << 16)
    if not isinstance(label, str):
        raise InvalidArgumentType(f"label must be a str, not {label!r}")
    return ChooseOp(n, label)


# -- work items ---------------------------------------------------------------------------

class Work:
    """``struct work_struct``: ``Work(fn, *args, name=...)``; ``fn`` is an async function."""

    __slots__ = ("args", "done", "fn", "name", "pending", "queued")

    def __init__(self, fn: Any, *args: Any, name: str | None = None) -> None:
        if not callable(fn):
            raise InvalidArgumentType(f"fn must be an async function, not {fn!r}")
        self.fn = fn
        self.args = args
        self.name = name or getattr(fn, "__name__", "work")
        self.pending = False
        self.queued = 0   # instances queued so far
        self.done = 0     # instances finished so far

    def __repr__(self) -> str:
        return f"<Work {self.name} pending={self.pending}>"


class _WaitWork(Op):
    __slots__ = ()
    kind = "worker_idle"
    blocking = True
    sleeps = True

    def ready(self) -> bool:
        return bool(self.obj.workq)

    def perform(self, th: Thread) -> Any:
        w = self.obj.workq.pop(0)
        w.pending = False
        touch(w)  # (queue_work reads pending)
        return w


class _Flush(Op):
    __slots__ = ("upto",)
    kind = "flush_work"
    blocking = True
    sleeps = True

    def __init__(self, w: Work, upto: int) -> None:
        self.obj = w
        self.label = ""
        self.upto = upto

    def ready(self) -> bool:
        return self.obj.done >= self.upto


async def _worker(cc: Any) -> None:
    eng = cc.engine
    while True:
        w = await _WaitWork(cc, "")
        ev = eng.events
        if ev.enabled:
            ev.emit("sim_work_start", cpu=cc.index, work=w.name)
        await w.fn(*w.args)
        w.done += 1
        touch(w)  # (flush_work waits for done)
        if ev.enabled:
            ev.emit("sim_work_end", cpu=cc.index, work=w.name)


def queue_work(cpu: int, work: Work) -> bool:
    """Queue ``work`` on ``cpu``'s worker; False if it was already pending. Plain call."""
    return _queue_work(_eng(), cpu, work)


def _queue_work(eng: Any, cpu: int, work: Work) -> bool:
    if not isinstance(work, Work):
        raise InvalidArgumentType(f"work must be a Work, not {work!r}")
    cc = eng._check_cpu(cpu)
    if work.pending:
        touch(work, False)  # (the answer depends on whether the worker took it already)
        return False
    work.pending = True
    work.queued += 1
    cc.workq.append(work)
    touch(work)
    touch(cc)
    if cc.worker is None:
        th = eng.spawn(cc.index, _worker, cc, name=f"kworker/{cc.index}", daemon=True)
        th.idle_op = _WaitWork
        cc.worker = th
    ev = eng.events
    if ev.enabled:
        t = RT.th
        ev.emit("sim_work_queue", cpu=None if t is None else t.cpu,
                tid=-1 if t is None else t.tid, target=cc.index, work=work.name)
    return True


def flush_work(work: Work) -> Op:
    """``await flush_work(work)``: sleep until the last queued instance of ``work`` finished."""
    if not isinstance(work, Work):
        raise InvalidArgumentType(f"work must be a Work, not {work!r}")
    return _Flush(work, work.queued)

