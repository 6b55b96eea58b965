"""Locks and local interrupt state: spinlocks (irqsave/irq variants), mutexes.

Acquisitions are scheduling points (``await lock.lock()``): the context parks
at the acquire *before* it happens, and is not enabled while another context
holds the lock -- spinning is modelled as "not enabled until released", with
no busy steps.  Releases are plain calls (``lock.unlock()``), not scheduling
points: the next scheduling point of the releasing context follows soon
enough for coverage, and partial-order reduction only needs acquires to be
visible (a release only ever enables others).  ``trylock`` is an await too,
since whether it succeeds depends on the interleaving.

``lock_irqsave()``/``lock_irq()`` disable local interrupts when called (in
the current step) and the await is the acquisition, so a context spins with
interrupts off as in Linux.

Lock classes (lockdep's notion) default to the construction call site, as the
static key in each expansion of Linux's ``spin_lock_init``: named ``file.py:line``
(plus ``:col`` when the line holds another call); one site run many times (a loop,
a helper) is one class.  Pass ``key`` to share a class across sites, and use
``lock_nested(subclass)`` for ordered nesting of one class.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from irqlab.errors import InvalidArgumentType, check_int
from irqlab.sim._core import (
    IRQ,
    RT,
    TASK,
    Op,
    SimError,
    SiteNames,
    Thread,
    cur_thread,
    mark_site,
    touch,
)
from irqlab.sim.rcu import rcu_spin_changed

__all__ = [
    "Mutex",
    "SpinLock",
    "current",
    "in_atomic",
    "in_irq",
    "in_task",
    "irqs_disabled",
    "local_irq_disable",
    "local_irq_enable",
    "local_irq_restore",
    "local_irq_save",
    "might_sleep",
    "smp_processor_id",
]

# acquire modes
_PLAIN, _IRQSAVE, _IRQ = 0, 1, 2
_MODE_NAMES = ("", "irqsave", "irq")
_VIA = ("", "spin_lock_irqsave", "spin_lock_irq")


#: lock class -> the call site that owns it: (file, line, column, end line, end column)
_OWNERS: dict[str, tuple[Any, ...]] = {}


def _site(depth: int) -> str:
    """The lock class of the call ``depth`` frames up: its call site, exactly.

    Linux's ``spin_lock_init()``/``mutex_init()`` declare a static ``lock_class_key``
    per macro expansion, so the class is the call site: two locks initialised on one
    line are two classes, and so are two files of one name; one site run many times (a
    loop, a helper called twice) is one class.  Here the site is the calling
    instruction (code object and offset); its name is ``file.py:line``, with the column
    (``file.py:line:col``) when the line holds another call beside this one, and the
    file's directory (``dir/file.py:line``), or at last ``#n``, when another site
    already has that name.  Cached per site: a lock costs one dict lookup here.
    """
    return _LOCK_SITES.of(sys._getframe(depth))


def _site_name(f: Any) -> str:
    co = f.f_code
    fn = co.co_filename
    line, end_line, col, end_col = _position(co, f.f_lasti)
    if line is None:
        line = f.f_lineno
    base = os.path.basename(fn)
    name = f"{base}:{line}"
    if col is not None and _beside(co, line, col, end_line, end_col):
        name += f":{col + 1}"
    ident = (fn, line, col, end_line, end_col)
    owner = _OWNERS.get(name)
    if owner is not None and owner != ident:
        # another site has that name (a file of the same name elsewhere, another code
        # object on this line): tell them apart, by directory, then by number
        alt = f"{os.path.basename(os.path.dirname(fn))}/{name}"
        n = 2
        while _OWNERS.get(alt, ident) != ident:
            alt = f"{name}#{n}"
            n += 1
        name = alt
    _OWNERS[name] = ident
    return name


_LOCK_SITES = SiteNames(_site_name)


def _position(co: Any, lasti: int) -> tuple[Any, Any, Any, Any]:
    """(line, end line, column, end column) of the instruction at offset ``lasti``."""
    for i, pos in enumerate(co.co_positions()):
        if 2 * i == lasti:
            return pos  # type: ignore[no-any-return]
    return None, None, None, None


def _beside(co: Any, line: int, col: int, end_line: Any, end_col: Any) -> bool:
    """Whether another call starts on ``line`` outside this one's span (and not around
    it): a second construction site could be on this line."""
    import dis

    end = end_col if end_line == line and end_col is not None else 1 << 30
    for ins in dis.get_instructions(co):
        if not ins.opname.startswith("CALL") or ins.opname.startswith("CALL_INTRINSIC"):
            continue
        p = ins.positions
        if p is None or p.lineno != line or p.col_offset is None:
            continue
        o_col = p.col_offset
        o_end = (p.end_col_offset if p.end_lineno == line and p.end_col_offset is not None
                 else 1 << 30)
        if o_end <= col or o_col >= end:
            return True
    return False


def _hold(th: Thread, lk: SpinLock) -> None:
    """``th`` now holds ``lk``: its owner, ``th``'s held locks and spinlock count, and,
    for ``th``'s first spinlock (preemption disabled), RCU's view of its CPU."""
    lk.owner = th
    th.held.append(lk)
    if not lk.sleeping:
        if not th.nspin:
            rcu_spin_changed(th, True)
        th.nspin += 1


class _Acquire(Op):
    __slots__ = ("flags", "mode", "subclass")
    kind = "acquire"
    write = True
    blocking = True

    def __init__(self, lock: Any, mode: int, subclass: int = 0, flags: bool | None = None) -> None:
        self.obj = lock
        self.label = _MODE_NAMES[mode]
        self.mode = mode
        self.subclass = subclass
        #: lock_irqsave: the interrupt state saved (before disabling) when it was called
        self.flags = flags

    def ready(self) -> bool:
        return self.obj.owner is None

    def waits_for(self) -> Thread | None:
        owner: Thread | None = self.obj.owner
        return owner

    def perform(self, th: Thread) -> Any:
        lk = self.obj
        eng = RT.eng
        ev = eng.events  # type: ignore[union-attr]
        d = None
        if ev.enabled:
            if self.mode and self.flags:
                d = ev.direct.get("sim_irq_disable")
                if d is not None:
                    ev._seq += 1
                    d(ev.time, th.cpu, _VIA[self.mode], th.cctx.in_irq)
                else:
                    ev.emit("sim_irq_disable", cpu=th.cpu, via=_VIA[self.mode],
                            in_irq=th.cctx.in_irq)
            d = ev.direct.get("sim_lock_acquire")
            if d is None:
                lk._acquire(th, self.mode, self.subclass, False, self.flags)
                return self.flags if self.mode == _IRQSAVE else None
        # SpinLock._acquire inlined (the hot path): _hold(th, lk), then the event in its
        # direct form (see EventStream.direct), if any
        lk.owner = th
        th.held.append(lk)
        if not lk.sleeping:
            if not th.nspin:
                rcu_spin_changed(th, True)
            th.nspin += 1
        if d is not None:
            if lk._lid_eng is eng:
                lid = lk._lid
            else:
                lid = lk._lid = eng.oid(lk)  # type: ignore[union-attr]
                lk._lid_eng = eng
            on = th.cctx.irqs_on
            flags = self.flags
            ev._seq += 1
            d(ev.time, th.cpu, th.tid, lk.name, lid, lk.cls, self.subclass, lk._tn, self.label,
              not on, th.kind is IRQ, on if flags is None else flags, th.site)
        return self.flags if self.mode == _IRQSAVE else None

    def describe(self) -> str:
        lk = self.obj
        return f"{lk.kind_name}({lk.name}{', ' + self.label if self.label else ''})"


class _MutexAcquire(_Acquire):
    __slots__ = ()
    sleeps = True


class _TryAcquire(Op):
    __slots__ = ()
    kind = "trylock"
    write = True

    def perform(self, th: Thread) -> bool:
        lk = self.obj
        if lk.owner is not None:
            ev = RT.eng.events if RT.eng is not None else None
            if ev is not None and ev.enabled:
                ev.emit("sim_lock_tryfail", cpu=th.cpu, tid=th.tid, lock=lk.name,
                        **{"class": lk.cls})
            return False
        lk._acquire(th, _PLAIN, 0, True)
        return True


class SpinLock:
    """A ``spinlock_t`` (or ``raw_spinlock_t`` with ``raw=True``).

    ``await lock.lock()``; ``flags = await lock.lock_irqsave()`` then
    ``lock.unlock_irqrestore(flags)``; ``await lock.lock_irq()`` then
    ``lock.unlock_irq()``, which re-enables interrupts unconditionally (the
    seed-001 hazard when the caller had them disabled).  Not a sleeping
    primitive: contexts holding one are atomic.
    """

    __slots__ = ("_lid", "_lid_eng", "_op", "_tn", "cls", "name", "owner", "raw")
    sleeping = False
    kind_name = "spin_lock"

    def __init__(self, name: str = "lock", *, raw: bool = False, key: str | None = None) -> None:
        if not isinstance(name, str):
            raise InvalidArgumentType(f"name must be a str, not {name!r}")
        if key is not None and not isinstance(key, str):
            raise InvalidArgumentType(f"key must be a str or None, not {key!r}")
        self.name = name
        self.raw = bool(raw)
        #: The lock class: ``key`` or the construction call site (``file.py:line``).
        self.cls = key if key is not None else _site(2)
        self.owner: Thread | None = None
        # ops are immutable descriptors: the plain acquire is built once and reused
        self._op = self._plain_op()
        self._tn = "raw_spin" if self.raw else "spin"  # (Mutex: "mutex"; see type_name)
        # the engine that numbered this lock (engine.oid) and the number it gave
        self._lid_eng: Any = None
        self._lid = -1

    def _plain_op(self) -> _Acquire:
        return _Acquire(self, _PLAIN)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} class={self.cls}>"

    @property
    def type_name(self) -> str:
        return "raw_spin" if self.raw else "spin"

    # -- acquire (scheduling points) --------------------------------------------------
    def lock(self) -> _Acquire:
        """``spin_lock``: an await; disabled while another context holds the lock."""
        mark_site()
        return self._op

    def lock_nested(self, subclass: int) -> _Acquire:
        """``spin_lock_nested``: like :meth:`lock`, in lockdep subclass ``subclass``."""
        mark_site()
        return _Acquire(self, _PLAIN, check_int("subclass", subclass, 0, 7))

    def lock_irqsave(self) -> _Acquire:
        """``spin_lock_irqsave``: disable local interrupts now, then (the await) acquire.

        As in Linux, interrupts are off while the context spins; the await
        returns the saved flags for :meth:`unlock_irqrestore`.
        """
        mark_site()
        return _Acquire(self, _IRQSAVE, 0, _irqs_off_now())

    def lock_irq(self) -> _Acquire:
        """``spin_lock_irq``: disable local interrupts now, then (the await) acquire."""
        mark_site()
        return _Acquire(self, _IRQ, 0, _irqs_off_now())

    def trylock(self) -> _TryAcquire:
        """``spin_trylock``: an await returning True if the lock was taken (never blocks)."""
        mark_site()
        return _TryAcquire(self)

    def _acquire(self, th: Thread, mode: int, subclass: int, trying: bool,
                 prev_on: bool | None = None) -> None:
        eng = RT.eng
        assert eng is not None
        _hold(th, self)
        ev = eng.events
        if ev.enabled:
            on = th.cctx.irqs_on
            if self._lid_eng is eng:
                lid = self._lid
            else:
                lid = self._lid = eng.oid(self)
                self._lid_eng = eng
            d = ev.direct.get("sim_lock_acquire")
            if d is not None:
                ev._seq += 1
                d(ev.time, th.cpu, th.tid, self.name, lid, self.cls, subclass, self._tn,
                  "try" if trying else _MODE_NAMES[mode], not on, th.kind is IRQ,
                  on if prev_on is None else prev_on, th.site)
                return
            ev.emit_args("sim_lock_acquire", th.cpu, {
                "tid": th.tid, "lock": self.name, "lid": lid, "class": self.cls,
                "subclass": subclass, "type": self._tn,
                "mode": "try" if trying else _MODE_NAMES[mode], "irqs_disabled": not on,
                "in_irq": th.kind is IRQ, "prev_irqs_on": on if prev_on is None else prev_on,
                "site": th.site})

    # -- release (plain calls) ----------------------------------------------------------
    def _release(self, via: str) -> Thread:
        th = RT.th
        if th is None or self.owner is not th:
            self._bad_release(via)
        self.owner = None  # (the reverse of _hold)
        th.held.remove(self)  # type: ignore[union-attr]
        if not self.sleeping:
            th.nspin -= 1  # type: ignore[union-attr]
            if not th.nspin:  # type: ignore[union-attr]
                rcu_spin_changed(th, False)  # type: ignore[arg-type]
        eng = RT.eng
        fp = eng.footprint  # type: ignore[union-attr]
        if fp is not None:
            fp.append((self, True))
        ev = eng.events  # type: ignore[union-attr]
        if ev.enabled:
            if self._lid_eng is eng:
                lid = self._lid
            else:
                lid = self._lid = eng.oid(self)  # type: ignore[union-attr]
                self._lid_eng = eng
            d = ev.direct.get("sim_lock_release")
            if d is not None:
                ev._seq += 1
                d(ev.time, th.cpu, th.tid, self.name, lid,  # type: ignore[union-attr]
                  self.cls, self._tn)
            else:
                ev.emit_args("sim_lock_release", th.cpu, {  # type: ignore[union-attr]
                    "tid": th.tid, "lock": self.name,  # type: ignore[union-attr]
                    "lid": lid, "class": self.cls, "type": self._tn})
        return th  # type: ignore[return-value]

    def _bad_release(self, via: str) -> None:
        th = cur_thread()
        who = "nobody" if self.owner is None else self.owner.name
        raise SimError(f"{via}({self.name}) by {th.name}, but the lock is held by {who}")

    def unlock(self) -> None:
        """``spin_unlock``: release (not a scheduling point)."""
        self._release("unlock")

    def unlock_irqrestore(self, flags: bool) -> None:
        """``spin_unlock_irqrestore``: release, then restore the saved interrupt state."""
        if not isinstance(flags, bool):
            raise InvalidArgumentType(f"flags must be the bool from lock_irqsave(), not {flags!r}")
        th = self._release("unlock_irqrestore")
        _eng()._set_irqs(th.cctx, flags, "spin_unlock_irqrestore")

    def unlock_irq(self) -> None:
        """``spin_unlock_irq``: release, then enable interrupts unconditionally."""
        th = self._release("unlock_irq")
        _eng()._set_irqs(th.cctx, True, "spin_unlock_irq")

    def is_locked(self) -> bool:
        """``spin_is_locked`` (a plain read, not a scheduling point)."""
        touch(self, False)
        return self.owner is not None


class Mutex(SpinLock):
    """A sleeping ``struct mutex``: ``await m.lock()`` sleeps when contended; ``m.unlock()``.

    Taking it in atomic context is reported (``sim_atomic_sleep``) and the
    context then spins instead of sleeping.  The irq variants do not exist.
    """

    __slots__ = ()
    sleeping = True
    kind_name = "mutex_lock"

    def __init__(self, name: str = "mutex", *, key: str | None = None) -> None:
        super().__init__(name, key=key if key is not None else _site(2))
        self._tn = "mutex"

    @property
    def type_name(self) -> str:
        return "mutex"

    def _plain_op(self) -> _Acquire:
        return _MutexAcquire(self, _PLAIN)

    def lock(self) -> _Acquire:
        """``mutex_lock``: an await that may sleep."""
        mark_site()
        return self._op

    def lock_nested(self, subclass: int) -> _Acquire:
        """``mutex_lock_nested``."""
        mark_site()
        return _MutexAcquire(self, _PLAIN, check_int("subclass", subclass, 0, 7))

    def lock_irqsave(self) -> _Acquire:
        raise SimError("mutexes have no irqsave variant")

    def lock_irq(self) -> _Acquire:
        raise SimError("mutexes have no irq variant")


def _irqs_off_now() -> bool:
    """Mask interrupts on the current CPU for a spin_lock_irq[save]; return the old state.

    The ``sim_irq_disable`` event is emitted with the acquisition (the context
    does nothing else in between: it is parked at the acquire with interrupts
    off), so observers see "irqs on -> disable -> acquire" together.
    """
    cc = cur_thread().cctx
    was = cc.irqs_on
    _eng()._set_irqs(cc, False, None)
    return was


def _eng() -> Any:
    eng = RT.eng
    if eng is None:
        raise SimError("no engine run is in progress (call this from model code)")
    return eng


# -- local interrupt state (plain calls, CPU-local) -------------------------------------------

def local_irq_disable() -> None:
    """Mask interrupts on the current CPU (PSTATE.I = 1)."""
    th = cur_thread()
    _eng()._set_irqs(th.cctx, False, "local_irq_disable")


def local_irq_enable() -> None:
    """Unmask interrupts on the current CPU; a pending one may be taken at the next point."""
    th = cur_thread()
    _eng()._set_irqs(th.cctx, True, "local_irq_enable")


def local_irq_save() -> bool:
    """Disable interrupts and return the previous state (pass it to :func:`local_irq_restore`)."""
    th = cur_thread()
    flags = th.cctx.irqs_on
    _eng()._set_irqs(th.cctx, False, "local_irq_save")
    return flags


def local_irq_restore(flags: bool) -> None:
    """Restore the interrupt state saved by :func:`local_irq_save`."""
    if not isinstance(flags, bool):
        raise InvalidArgumentType(f"flags must be the bool from local_irq_save(), not {flags!r}")
    th = cur_thread()
    _eng()._set_irqs(th.cctx, flags, "local_irq_restore")


def irqs_disabled() -> bool:
    """True when interrupts are masked on the current CPU."""
    return not cur_thread().cctx.irqs_on


def in_irq() -> bool:
    """True in hard-irq context (``in_hardirq()``)."""
    return cur_thread().kind is IRQ


def in_task() -> bool:
    """True in task context."""
    return cur_thread().kind is TASK


def smp_processor_id() -> int:
    """The current CPU's index (:class:`SimError` in a device actor)."""
    cpu = cur_thread().cpu
    if cpu is None:
        raise SimError("smp_processor_id() called from a device actor")
    return cpu


def in_atomic() -> bool:
    """True when the current context may not sleep (irq context, irqs off, spinlock, RCU)."""
    return cur_thread().atomic_reason() is not None


def might_sleep(what: str = "might_sleep") -> None:
    """``might_sleep()``: report (``sim_atomic_sleep``) if the current context is atomic.

    Plain call; for model code that sleeps by other means than the engine's
    sleeping operations, or wants the check before it blocks.
    """
    th = cur_thread()
    why = th.atomic_reason()
    if why is not None:
        eng = _eng()
        ev = eng.events
        if ev.enabled:
            from irqlab.sim._core import context_stack

            ev.emit("sim_atomic_sleep", cpu=th.cpu, tid=th.tid, op=what, reason=why,
                    stack=";".join(context_stack(th)))


def current() -> Thread:
    """The running context (``current`` in Linux; in irq context, the irq context)."""
    return cur_thread()
