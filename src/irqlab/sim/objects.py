"""Shared-state primitives: completions, reference counts, atomics, per-CPU variables.

Operations on shared state that another CPU can race with are awaits (one
scheduling point each, atomic within the step); ``Completion.complete`` is a
plain call (it never blocks; the waiter's enabledness shows its effect).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from irqlab.errors import InvalidArgumentType
from irqlab.sim._core import RT, Op, SimError, Thread, cur_thread, touch

__all__ = ["Atomic", "Completion", "PerCpu", "Refcount"]

T = TypeVar("T")

#: REFCOUNT_SATURATED: what refcount_t pins a counter to after an overflow/underflow/UAF.
REFCOUNT_SATURATED = 0xC000_0000


def _emit(kind: str, th: Thread, **args: Any) -> None:
    eng = RT.eng
    if eng is not None and eng.events.enabled:
        eng.events.emit(kind, cpu=th.cpu, tid=th.tid, **args)


class _Call(Op):
    """An access op whose effect is a bound function: ``perform`` returns ``fn(th)``."""

    __slots__ = ("fn",)
    kind = "access"

    def __init__(self, obj: Any, label: str, fn: Callable[[Thread], Any]) -> None:
        self.obj = obj
        self.label = label
        self.fn = fn

    def perform(self, th: Thread) -> Any:
        return self.fn(th)


class _CallW(_Call):
    __slots__ = ()
    write = True


# -- completions ----------------------------------------------------------------------------

class _Wait(Op):
    __slots__ = ()
    kind = "wait_for_completion"
    blocking = True
    sleeps = True

    def ready(self) -> bool:
        return self.obj.done > 0

    def perform(self, th: Thread) -> None:
        c = self.obj
        if c.done != Completion.ALL:
            c.done -= 1
        _emit("sim_completion_wait", th, completion=c.name)


class Completion:
    """``struct completion``: ``complete()``/``complete_all()``, ``await wait_for_completion()``."""

    __slots__ = ("done", "name")
    ALL = 1 << 62

    def __init__(self, name: str = "completion") -> None:
        if not isinstance(name, str):
            raise InvalidArgumentType(f"name must be a str, not {name!r}")
        self.name = name
        self.done = 0

    def complete(self) -> None:
        """Wake one waiter (or let the next wait pass). Plain call, any context."""
        if self.done != self.ALL:
            self.done += 1
        touch(self)
        _emit("sim_complete", cur_thread(), completion=self.name, all=False)

    def complete_all(self) -> None:
        """Let every present and future waiter pass (until :meth:`reinit`)."""
        self.done = self.ALL
        touch(self)
        _emit("sim_complete", cur_thread(), completion=self.name, all=True)

    def reinit(self) -> None:
        """``reinit_completion`` (also callable while a model is built, outside a run)."""
        self.done = 0
        touch(self)
        th = RT.th
        if th is not None:
            _emit("sim_completion_reinit", th, completion=self.name)

    def completion_done(self) -> bool:
        """``completion_done`` (a plain read: not a scheduling point)."""
        touch(self, False)
        return self.done > 0

    def wait_for_completion(self) -> _Wait:
        """``await c.wait_for_completion()``: sleeps until completed."""
        return _Wait(self)

    def __repr__(self) -> str:
        return f"<Completion {self.name} done={self.done}>"


# -- reference counts -----------------------------------------------------------------------

class Refcount:
    """``refcount_t``: every operation is an await (a racy read-modify-write point).

    Misuse is reported as ``sim_refcount_warn`` and the counter saturates,
    as refcount_t does (``REFCOUNT_SATURATED``): increment from 0
    ("addition on 0; use-after-free"), decrement to below 0 ("underflow").
    """

    __slots__ = ("name", "refs")

    def __init__(self, value: int = 1, *, name: str = "refcount") -> None:
        if type(value) is not int or value < 0:
            raise InvalidArgumentType(f"value must be a non-negative int, not {value!r}")
        self.name = name
        self.refs = value

    def __repr__(self) -> str:
        return f"<Refcount {self.name}={self.refs}>"

    def read(self) -> int:
        """``refcount_read`` (a plain call: use only where the value is stable)."""
        touch(self, False)
        return self.refs

    def _warn(self, th: Thread, what: str) -> None:
        self.refs = REFCOUNT_SATURATED
        _emit("sim_refcount_warn", th, refcount=self.name, what=what)

    def _inc(self, th: Thread) -> None:
        if self.refs == 0:
            self._warn(th, "addition on 0; use-after-free")
        elif self.refs != REFCOUNT_SATURATED:
            self.refs += 1
            _emit("sim_refcount", th, refcount=self.name, op="inc", value=self.refs)

    def _dec(self, th: Thread) -> bool:
        if self.refs == REFCOUNT_SATURATED:
            return False
        if self.refs == 0:
            self._warn(th, "underflow; use-after-free")
            return False
        self.refs -= 1
        _emit("sim_refcount", th, refcount=self.name, op="dec", value=self.refs)
        return self.refs == 0

    def _inc_not_zero(self, th: Thread) -> bool:
        if self.refs == 0:
            return False
        self._inc(th)
        return True

    def _dec_not_one(self, th: Thread) -> bool:
        if self.refs == 1:
            return False
        self._dec(th)
        return True

    def inc(self) -> Op:
        """``await r.inc()``: ``refcount_inc``."""
        return _CallW(self, "refcount_inc", self._inc)

    def dec_and_test(self) -> Op:
        """``await r.dec_and_test()``: decrement; True when it reached zero."""
        return _CallW(self, "refcount_dec_and_test", self._dec)

    def dec(self) -> Op:
        """``await r.dec()``: decrement (reaching zero here is a bug lockdep cannot see)."""
        return _CallW(self, "refcount_dec", self._dec)

    def inc_not_zero(self) -> Op:
        """``await r.inc_not_zero()``: increment unless zero; True if incremented."""
        return _CallW(self, "refcount_inc_not_zero", self._inc_not_zero)

    async def dec_and_lock(self, lock: Any) -> bool:
        """``refcount_dec_and_lock``: decrement; if it reached zero, return True holding ``lock``.

        Models the kernel's implementation: a decrement that does not hit zero
        needs no lock; otherwise take ``lock``, then decrement-and-test under it.
        """
        if await _CallW(self, "refcount_dec_not_one", self._dec_not_one):
            return False
        await lock.lock()
        if await self.dec_and_test():
            return True
        lock.unlock()
        return False

    async def dec_and_lock_irqsave(self, lock: Any) -> tuple[bool, bool | None]:
        """``refcount_dec_and_lock_irqsave``: returns ``(reached_zero, flags)``."""
        if await _CallW(self, "refcount_dec_not_one", self._dec_not_one):
            return False, None
        flags = await lock.lock_irqsave()
        if await self.dec_and_test():
            return True, flags
        lock.unlock_irqrestore(flags)
        return False, None


class _AtomicRead(Op):
    __slots__ = ()
    kind = "access"

    def perform(self, th: Thread) -> Any:
        return self.obj.value


class _AtomicSet(Op):
    __slots__ = ("v",)
    kind = "access"
    write = True

    def __init__(self, obj: Any, v: Any) -> None:
        self.obj = obj
        self.label = "atomic_set"
        self.v = v

    def perform(self, th: Thread) -> None:
        self.obj.value = self.v


# -- atomics ------------------------------------------------------------------------------

class Atomic:
    """An ``atomic_t``-like shared value; each operation is an await."""

    __slots__ = ("_rop", "name", "value")

    def __init__(self, value: Any = 0, *, name: str = "atomic") -> None:
        self.name = name
        self.value = value
        self._rop = _AtomicRead(self, "atomic_read")

    def __repr__(self) -> str:
        return f"<Atomic {self.name}={self.value!r}>"

    def read(self) -> Op:
        """``await a.read()``."""
        return self._rop

    def set(self, v: Any) -> Op:
        """``await a.set(v)``."""
        return _AtomicSet(self, v)

    def add(self, n: Any) -> Op:
        """``await a.add(n)``: returns the new value (``atomic_add_return``)."""
        def f(th: Thread) -> Any:
            self.value += n
            return self.value
        return _CallW(self, "atomic_add_return", f)

    def xchg(self, v: Any) -> Op:
        """``await a.xchg(v)``: returns the old value."""
        def f(th: Thread) -> Any:
            old, self.value = self.value, v
            return old
        return _CallW(self, "atomic_xchg", f)

    def cmpxchg(self, old: Any, new: Any) -> Op:
        """``await a.cmpxchg(old, new)``: returns the value found (== old on success)."""
        def f(th: Thread) -> Any:
            cur = self.value
            if cur == old:
                self.value = new
            return cur
        return _CallW(self, "atomic_cmpxchg", f)

    def peek(self) -> Any:
        """The value, without a scheduling point (for assertions and invariants)."""
        return self.value


# -- per-CPU variables ------------------------------------------------------------------------

class PerCpu(Generic[T]):
    """``DEFINE_PER_CPU``: one value per CPU, made by ``factory(cpu)`` on first use.

    ``pc[cpu]`` is ``per_cpu(var, cpu)``; ``pc.this()`` is ``this_cpu_ptr``
    (:class:`SimError` from a device actor).  Plain calls, no scheduling points.
    """

    __slots__ = ("_factory", "_vals")

    def __init__(self, factory: Callable[[int], T]) -> None:
        if not callable(factory):
            raise InvalidArgumentType(f"factory must be callable, not {factory!r}")
        self._factory = factory
        self._vals: dict[int, T] = {}

    def __getitem__(self, cpu: int) -> T:
        if type(cpu) is not int or cpu < 0:
            raise InvalidArgumentType(f"cpu must be a CPU index, not {cpu!r}")
        v = self._vals.get(cpu)
        if v is None and cpu not in self._vals:
            v = self._vals[cpu] = self._factory(cpu)
        return v  # type: ignore[return-value]

    def __setitem__(self, cpu: int, value: T) -> None:
        self[cpu]
        self._vals[cpu] = value

    def this(self) -> T:
        cpu = cur_thread().cpu
        if cpu is None:
            raise SimError("per-CPU access from a device actor")
        return self[cpu]

    def set_this(self, value: T) -> None:
        cpu = cur_thread().cpu
        if cpu is None:
            raise SimError("per-CPU access from a device actor")
        self[cpu] = value

    def items(self) -> list[tuple[int, T]]:
        """The values made so far, by CPU index."""
        return sorted(self._vals.items(), key=lambda kv: kv[0])
