"""lockdep: lock-order and irq-safety validation from a single run, as the kernel does it.

An observer of ``sim_lock_acquire``/``sim_lock_release``, the interrupt
state (``sim_irq_enable``/``disable``, ``sim_irq_enter``/``exit``),
``sim_atomic_sleep``, the RCU and SRCU read sides and ``sim_exit``.  It
explores nothing: like ``kernel/locking/lockdep.c`` it predicts deadlocks
from the order and the irq state in which lock *classes* are taken, so every
report is ``potential=True`` (except sleep-in-atomic and held-at-exit, which
happened).

* Classes: the lock's class (its ``key`` or construction call site) plus the
  ``_nested`` subclass.  Edges held -> acquired are added per context (a
  hard-irq context starts a new chain, as lockdep's ``irq_context`` does),
  from the most recent held lock (and any trylocks above it).  A trylock
  adds no edge (``validate_chain``: "trylock can be done in any order") and
  is not checked for recursion or wait context, but is held like any lock.
* Usage bits: ``IN-HARDIRQ-W`` (taken, not trylock'd, in hard-irq context)
  and ``HARDIRQ-ON-W`` (acquired with interrupts enabled, trylocks included,
  or held while they were re-enabled -- lockdep's ``mark_held_locks``).
* Reports, each once per class (pair): ``lockdep:circular-locking``,
  ``lockdep:recursive-locking``, ``lockdep:inconsistent-lock-state``,
  ``lockdep:irq-lock-inversion`` (``print_bad_irq_dependency`` when a new
  edge connects them, ``print_irq_inversion_bug`` when a new usage bit
  does), ``lockdep:irq-enabled-in-atomic`` (irqlab's own: a
  ``spin_unlock_irq`` whose ``spin_lock_irq`` found interrupts already off,
  or an enable in hard-irq context), ``lockdep:invalid-wait-context`` (a
  mutex with a spinlock held, interrupts off or in hard-irq context; with
  ``preempt_rt=True`` also a ``spinlock_t`` under a ``raw_spinlock_t`` or
  with interrupts off), ``lockdep:held-at-exit`` (a task returning with
  locks, ``rcu_read_lock`` or ``srcu_read_lock`` held:
  ``debug_check_no_locks_held``), ``sleep-in-atomic`` (``sim_atomic_sleep``).

The graph work is done once per *new* edge or usage bit (a breadth-first
search over classes), so a run that repeats known orders costs one dict
lookup per acquisition.  The text of each report is built in
:mod:`irqlab.check.lockdep_reports`.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

from irqlab.check.findings import Finding
from irqlab.check.lockdep_reports import (
    HARDIRQ_ON,
    IN_HARDIRQ,
    LockClass,
    Reports,
    _Held,
    thread_of,
)
from irqlab.events import Event
from irqlab.sim._core import _EVENTS_FILE, _SIM_DIR, RT, _frame_str
from irqlab.sim.track import stack_now

__all__ = ["HARDIRQ_ON", "IN_HARDIRQ", "LockClass", "Lockdep"]


def _drop_map(ms: list[tuple[str, str, int, Any]] | None, key: Any) -> bool:
    """Remove the SRCU read-side map ``key`` from ``ms``; whether it was there."""
    if ms:
        for i, m in enumerate(ms):
            if m[3] == key:
                del ms[i]
                return True
    return False


class Lockdep(Reports):
    """The lockdep observer (see the module docstring).

    ``preempt_rt``: validate as on PREEMPT_RT, where ``spinlock_t`` sleeps
    (so it must not be taken under a raw spinlock or with interrupts off).
    """

    #: event kind -> handler method name (:mod:`irqlab.check.observe` binds them)
    HANDLERS: ClassVar[dict[str, str]] = {
        "sim_spawn": "_spawn",
        "sim_lock_acquire": "_acquire",
        "sim_lock_release": "_release",
        "sim_irq_enable": "_irq_enable",
        "sim_irq_disable": "_irq_disable",
        "sim_irq_enter": "_irq_enter",
        "sim_irq_exit": "_irq_exit",
        "sim_atomic_sleep": "_atomic_sleep",
        "sim_exit": "_exit",
        "sim_rcu_read_lock": "_rcu_lock",
        "sim_rcu_read_unlock": "_rcu_unlock",
        "sim_srcu_read_lock": "_srcu_lock",
        "sim_srcu_read_unlock": "_srcu_unlock",
    }
    #: the direct forms (fields positionally, see irqlab.events.EventStream.direct)
    DIRECT: ClassVar[dict[str, str]] = {
        "sim_lock_acquire": "_lock_acquire",
        "sim_lock_release": "_lock_release",
        "sim_irq_disable": "_irq_disable_direct",
        "sim_irq_enable": "_irq_enable_direct",
    }

    @property
    def handlers(self) -> dict[str, Any]:
        """Event kind -> bound handler (the observer protocol)."""
        return {k: getattr(self, m) for k, m in self.HANDLERS.items()}

    def __init__(self, engine: Any, *, preempt_rt: bool = False) -> None:
        self.engine = engine
        self.preempt_rt = bool(preempt_rt)
        self.found: list[Finding] = []
        self.classes: dict[tuple[str, int], LockClass] = {}
        #: dependency edges: class -> {next class: (prev stack, next stack, context name)}
        self.fwd: dict[LockClass, dict[LockClass, tuple[list[str], list[str], str]]] = {}
        self.back: dict[LockClass, dict[LockClass, None]] = {}
        self._held: dict[int, list[_Held]] = {}
        self._tid_cpu: dict[int, int | None] = {}
        self._names: dict[int, str] = {}
        self._irqs_on: dict[int | None, bool] = {}
        self._irq_stack: dict[int | None, list[tuple[int, bool]]] = {}
        self._last_release: dict[int | None, _Held] = {}
        self._flav: dict[tuple[Any, ...], list[str]] = {}
        #: patterns (see _acquire) known to record nothing new -> (class, their stack)
        self._good: dict[tuple[Any, ...], tuple[LockClass, list[str]]] = {}
        #: held entries whose class may still lack HARDIRQ-ON (0: nothing to mark)
        self._unmarked = 0
        self._reported: set[Any] = set()
        #: read-side maps held per context (rcu_read_lock, srcu_read_lock: lockdep maps
        #: in Linux, held without dependency checks): (name, site, step, srcu key)
        self._maps: dict[int, list[tuple[str, str, int, Any]]] = {}
        #: the context whose sim_irq_exit came last (its sim_exit follows)
        self._irq_exited: int | None = None

    # -- context bookkeeping -----------------------------------------------------------
    def _spawn(self, ev: Event) -> None:
        self._names[ev.args["tid"]] = ev.args["name"]

    def _ctx_name(self, tid: int, cpu: int | None) -> str:
        n = self._names.get(tid)
        if n is None:
            # a context spawned before the observers were attached
            th = thread_of(self.engine, tid)
            if th is not None:
                n = self._names[tid] = th.name
            else:
                n = f"irq/{cpu}" if cpu is not None else f"tid{tid}"
        return f"{n}/{tid}"

    def _irq_enter(self, ev: Event) -> None:
        cpu = ev.cpu
        self._irq_stack.setdefault(cpu, []).append((ev.args["tid"],
                                                    self._irqs_on.get(cpu, True)))
        self._irqs_on[cpu] = False
        self._names.setdefault(ev.args["tid"], f"irq/{cpu}")

    def _irq_exit(self, ev: Event) -> None:
        self._irq_exited = ev.args.get("tid")
        st = self._irq_stack.get(ev.cpu)
        if st and st[-1][0] == ev.args.get("tid"):   # (bring-up contexts exit here too)
            _tid, saved = st.pop()
            self._irqs_on[ev.cpu] = saved
            if saved:
                self._mark_held_on_cpu(ev.cpu, ev, via="irq_exit")

    def _irq_disable(self, ev: Event) -> None:
        self._irqs_on[ev.cpu] = False

    def _irq_disable_direct(self, time: int, cpu: int | None, via: str, in_irq: bool) -> None:
        """``sim_irq_disable``, its fields in order (the direct form; see EventStream)."""
        self._irqs_on[cpu] = False

    def _irq_enable(self, ev: Event) -> None:
        cpu = ev.cpu
        self._irqs_on[cpu] = True
        a = ev.args
        via = a.get("via", "")
        last = self._last_release.pop(cpu, None)
        # lockdep's own view first (held locks now HARDIRQ-ON), then why it happened
        if self._unmarked:
            self._mark_held_on_cpu(cpu, ev, via=via)
        if via == "spin_unlock_irq":
            # in hard-irq context any enable is early; in task context only the _irq (or
            # irqsave) acquire's own pair is: interrupts were already off when it was
            # taken (the caller's irq-disabled section), and its unlock_irq ends that
            # section early.  local_irq_disable(); spin_lock(); ...; spin_unlock_irq()
            # is a legitimate pairing: the unlock ends the caller's own section.
            if last is not None and (a.get("in_irq") or (
                    last.prev_off and (last.mode == "irq" or last.mode == "irqsave"))):
                self._irq_enabled_in_atomic(ev, last, bool(a.get("in_irq")))
        elif via == "local_irq_enable" and a.get("in_irq"):
            self._irq_enabled_in_atomic(ev, None, True)

    def _irq_enable_direct(self, time: int, cpu: int | None, via: str, in_irq: bool) -> None:
        """``sim_irq_enable``, its fields in order (the direct form; see EventStream)."""
        if self._unmarked or via == "spin_unlock_irq" or via == "local_irq_enable":
            # something may be recorded: the event form, with the event it is
            self._irq_enable(Event(self.engine.events._seq - 1, time, "sim_irq_enable", cpu,
                                   {"via": via, "in_irq": in_irq}))
            return
        self._irqs_on[cpu] = True
        self._last_release.pop(cpu, None)

    def _mark_held_on_cpu(self, cpu: int | None, ev: Event, via: str) -> None:
        # lockdep's mark_held_locks(): every lock held on this CPU is now held with irqs on
        if not self._unmarked:
            return  # every held lock is HARDIRQ-ON already
        stack: list[str] | None = None
        for tid in sorted(self._held):
            hl = self._held[tid]
            if not hl or self._tid_cpu.get(tid) != cpu:
                continue
            for h in hl:
                if HARDIRQ_ON not in h.cls.usage:
                    if stack is None:
                        stack = stack_now(self.engine)
                    self._mark(h.cls, HARDIRQ_ON, stack, ev, tid, cpu, h)

    # -- exit and read-side sections --------------------------------------------------
    def _exit(self, ev: Event) -> None:
        """A context returned: debug_check_no_locks_held() (do_exit) for a task.

        An interrupt handler (or bring-up context) returning with a lock held is not
        reported here: in Linux its held locks stay in the interrupted task's list, and
        the return path's mark_held_locks (interrupts back on) finds them, which gives
        the inconsistent-lock-state report for an irq-safe lock (see _irq_exit).
        """
        tid = ev.args["tid"]
        if tid == self._irq_exited:
            self._irq_exited = None
            return
        held = self._held.pop(tid, None)
        if held:
            for h in held:
                if h.unmarked:
                    self._unmarked -= 1
        maps = self._maps.pop(tid, None)
        if held or maps:
            self._held_at_exit(ev, tid, ev.cpu, held or [], maps or [])

    def _map_site(self) -> str:
        """Where model code called rcu_read_lock() or srcu_read_lock(): the innermost model
        frame outside this event's delivery and irqlab.sim (one frame, as mark_site finds a
        lock's; only a held-at-exit report reads it)."""
        if RT.th is None:
            return "?"
        f: Any = sys._getframe(1)
        while f is not None and f.f_code.co_filename != _EVENTS_FILE:
            f = f.f_back  # the observers' frames
        while f is not None and (f.f_code.co_filename == _EVENTS_FILE
                                 or f.f_code.co_filename.startswith(_SIM_DIR)):
            f = f.f_back  # the delivery, the read-lock primitive and any irqlab.sim caller
        return _frame_str(f) if f is not None else "?"

    def _rcu_lock(self, ev: Event) -> None:
        self._maps.setdefault(ev.args["tid"], []).append(
            ("rcu_read_lock", self._map_site(), ev.time, None))

    def _rcu_unlock(self, ev: Event) -> None:
        ms = self._maps.get(ev.args["tid"])
        if ms:
            for i in range(len(ms) - 1, -1, -1):
                if ms[i][3] is None:
                    del ms[i]
                    return

    def _srcu_lock(self, ev: Event) -> None:
        a = ev.args
        self._maps.setdefault(a["tid"], []).append(
            (a["srcu"], self._map_site(), ev.time, (a["srcu"], a["idx"])))

    def _srcu_unlock(self, ev: Event) -> None:
        a = ev.args
        key = (a["srcu"], a["idx"])
        # normally the locker's own reader; otherwise whoever holds it
        if not _drop_map(self._maps.get(a["tid"]), key):
            for t in sorted(self._maps):
                if _drop_map(self._maps[t], key):
                    return

    # -- acquisition -------------------------------------------------------------------
    def _class(self, a: dict[str, Any]) -> LockClass:
        key = (a["class"], a["subclass"])
        c = self.classes.get(key)
        if c is None:
            c = self.classes[key] = LockClass(key, a["lock"], a["type"])
        return c

    def _acquire(self, ev: Event, attempt: tuple[bool, list[str]] | None = None) -> None:
        a = ev.args
        if attempt is None:
            self._lock_acquire(ev.time, ev.cpu, a["tid"], a["lock"], a["lid"], a["class"],
                               a["subclass"], a["type"], a["mode"], a["irqs_disabled"],
                               a["in_irq"], a.get("prev_irqs_on"), a.get("site", ""), ev)
            return
        # an acquisition still being attempted when the run ended (see finish)
        tid = a["tid"]
        cpu = ev.cpu
        self._tid_cpu[tid] = cpu
        key = (a["class"], a["subclass"])
        held = self._held.get(tid)
        if held is None:
            held = self._held[tid] = []
        top = held[-1] if held else None
        flav = (a["class"], a["subclass"], a["in_irq"], a["irqs_disabled"], a["mode"],
                top.cls.key if top is not None else None)
        self._irqs_on[cpu] = not a["irqs_disabled"]
        cls = self.classes.get(key)
        if cls is None:
            cls = self.classes[key] = LockClass(key, a["lock"], a["type"])
        self._acquire_slow(ev, tid, cpu, a["mode"], a["lid"], cls, flav, attempt[0], held, top,
                           attempt)

    def _lock_acquire(self, time: int, cpu: int | None, tid: int, lock: str, lid: int,
                      klass: str, subclass: int, type_: str, mode: str, irqs_disabled: bool,
                      in_irq: bool, prev_irqs_on: bool | None, site: str = "",
                      ev: Event | None = None) -> None:
        """``sim_lock_acquire``, its fields in order (the direct form; see EventStream)."""
        self._tid_cpu[tid] = cpu
        held = self._held.get(tid)
        # the pattern of this acquisition: class, irq context, irq state, mode, held class
        if held:
            top = held[-1]
            flav: tuple[Any, ...] = (klass, subclass, in_irq, irqs_disabled, mode, top.cls.key)
        else:
            if held is None:
                held = self._held[tid] = []
            top = None
            flav = (klass, subclass, in_irq, irqs_disabled, mode, None)
        # the interrupt state before the acquire (an irqsave/irq acquire disabled them):
        # the one saved when the acquire was issued, before spinning
        if (mode == "irqsave" or mode == "irq") and prev_irqs_on is not None:
            prev_off = not prev_irqs_on
        else:
            prev_off = bool(irqs_disabled)
        self._irqs_on[cpu] = not irqs_disabled
        g = self._good.get(flav)
        if g is not None and (top is None or not top.trylock or mode == "try"):
            # a known pattern with nothing new to record: its class has the usage bits,
            # the edge from the held class exists (a trylock adds none), and a stack was
            # captured for it (these only ever become true); what remains to check is
            # recursion and the wait context (neither applies to a trylock)
            cls = g[0]
            ok = True
            if mode != "try":
                if top is not None:
                    for o in held:
                        if o.cls is cls:
                            ok = False
                            break
                if ok and cls.sleeps and not self.preempt_rt:
                    if in_irq or prev_off:
                        ok = False
                    else:
                        for o in held:
                            if not o.cls.sleeps:
                                ok = False
                                break
                elif ok and self.preempt_rt:
                    ok = self._wait_violation(cls.type, held, prev_off, bool(in_irq)) is None
            if ok:
                h = _Held(cls, lid, mode, prev_off, g[1], time, site)
                if HARDIRQ_ON not in cls.usage:
                    h.unmarked = True
                    self._unmarked += 1
                held.append(h)
                return
        key = (klass, subclass)
        known = self.classes.get(key)
        cls = known if known is not None else self.classes.setdefault(
            key, LockClass(key, lock, type_))
        if ev is None:
            # the direct form: the event this acquisition is (for the reports)
            ev = Event(self.engine.events._seq - 1, time, "sim_lock_acquire", cpu, {
                "tid": tid, "lock": lock, "lid": lid, "class": klass, "subclass": subclass,
                "type": type_, "mode": mode, "irqs_disabled": irqs_disabled,
                "in_irq": in_irq, "prev_irqs_on": prev_irqs_on, "site": site})
        self._acquire_slow(ev, tid, cpu, mode, lid, cls, flav, prev_off, held, top, None)

    def _acquire_slow(self, ev: Event, tid: int, cpu: int | None, mode: str, lid: int,
                      cls: LockClass, flav: tuple[Any, ...], prev_off: bool, held: list[_Held],
                      top: _Held | None, attempt: tuple[bool, list[str]] | None) -> None:
        on = not flav[3]
        in_irq = flav[2]
        trylock = mode == "try"
        # lockdep's mark_usage: USED_IN only for a lock taken (not trylock'd) in hard-irq
        # context; ENABLED for any acquisition with interrupts on, trylocks included
        used_in = bool(in_irq) and not trylock
        usage = cls.usage
        # what this acquisition may record: a usage bit, a dependency (validate_chain:
        # "trylock can be done in any order", so a trylock adds none), recursion, an
        # invalid wait context (check_wait_context skips trylocks)
        new_bit = (used_in and IN_HARDIRQ not in usage) or (on and HARDIRQ_ON not in usage)
        new_edge = not trylock and self._new_edge(held, cls)
        why = (self._wait_violation(cls.type, held, prev_off, bool(in_irq))
               if not trylock and (self.preempt_rt or cls.type == "mutex") else None)
        # Stacks are captured only when this acquisition may record something new (or
        # the first time a class is taken in this way); otherwise the stack of that
        # first acquisition stands in (one capture per run for a repeated pattern).
        if attempt is None:
            stack = self._flav.get(flav)
            if stack is not None and not new_bit and not new_edge:
                self._good[flav] = (cls, stack)
                if why is None and (trylock or not any(o.cls is cls for o in held)):
                    # the common case: a known pattern, nothing new to record (every
                    # dependency exists, no usage bit, no recursion): just hold it
                    h = _Held(cls, lid, mode, prev_off, stack, ev.time,
                              ev.args.get("site", ""))
                    if HARDIRQ_ON not in usage:
                        h.unmarked = True
                        self._unmarked += 1
                    held.append(h)
                    return
            if (stack is None or new_bit or new_edge or why is not None
                    or (not trylock and any(o.cls is cls for o in held))):
                stack = stack_now(self.engine)
                self._flav.setdefault(flav, stack)
        else:
            stack = attempt[1]
        if stack is None:
            stack = []
        h = _Held(cls, lid, mode, prev_off, stack, ev.time, ev.args.get("site", ""))
        if not trylock:
            # recursion
            for o in held:
                if o.cls is cls:
                    self._recursive(ev, tid, cpu, o, h)
                    break
            # wait context (only sleeping locks, and spinlock_t on PREEMPT_RT, can violate it)
            if why is not None:
                self._wait_context(ev, tid, cpu, held, h, bool(in_irq), why)
            # dependencies: from the most recent non-trylock held lock, and trylocks above it
            for o in reversed(held):
                if o.cls is not cls:
                    self._add_edge(o, h, ev, tid, cpu)
                if not o.trylock:
                    break
        # usage
        if used_in and IN_HARDIRQ not in usage:
            self._mark(cls, IN_HARDIRQ, stack, ev, tid, cpu, h)
        if on and HARDIRQ_ON not in usage:
            self._mark(cls, HARDIRQ_ON, stack, ev, tid, cpu, h)
        if HARDIRQ_ON not in usage:
            h.unmarked = True
            self._unmarked += 1
        held.append(h)

    def _new_edge(self, held: list[_Held], cls: LockClass) -> bool:
        """Whether taking ``cls`` now adds a dependency not recorded yet (check_prevs_add:
        from the most recent non-trylock held lock, and every trylock'd one above it)."""
        fwd = self.fwd
        for o in reversed(held):
            if o.cls is not cls and cls not in fwd.get(o.cls, ()):
                return True
            if not o.trylock:
                break
        return False

    def _release(self, ev: Event) -> None:
        a = ev.args
        self._lock_release(ev.time, ev.cpu, a["tid"], a["lock"], a["lid"], a["class"], a["type"])

    def _lock_release(self, time: int, cpu: int | None, tid: int, lock: str, lid: int,
                      klass: str, type_: str) -> None:
        """``sim_lock_release``, its fields in order (the direct form; see EventStream)."""
        held = self._held.get(tid)
        if not held:
            return
        h = held[-1]
        if h.lid == lid:
            held.pop()
        else:
            for i in range(len(held) - 2, -1, -1):
                if held[i].lid == lid:
                    h = held.pop(i)
                    break
            else:
                return
        self._last_release[cpu] = h
        if h.unmarked:
            self._unmarked -= 1

    # -- the graph ---------------------------------------------------------------------
    def _closure(self, start: LockClass, graph: dict[LockClass, Any]) -> list[LockClass]:
        seen = {start: None}
        q = deque([start])
        while q:
            c = q.popleft()
            for n in graph.get(c, ()):
                if n not in seen:
                    seen[n] = None
                    q.append(n)
        return list(seen)

    def _find(self, start: LockClass, graph: dict[LockClass, Any],
              stop: Callable[[LockClass], bool]) -> list[LockClass] | None:
        """A shortest path from ``start`` (breadth first over ``graph``) to another class
        for which ``stop`` is true, ``start`` first (lockdep's __bfs)."""
        parent: dict[LockClass, LockClass | None] = {start: None}
        q = deque([start])
        while q:
            c = q.popleft()
            for n in graph.get(c, ()):
                if n in parent:
                    continue
                parent[n] = c
                if stop(n):
                    path = [n]
                    p = parent[n]
                    while p is not None:
                        path.append(p)
                        p = parent[p]
                    return path[::-1]
                q.append(n)
        return None

    def _add_edge(self, prev: _Held, nxt: _Held, ev: Event, tid: int, cpu: int | None) -> None:
        p, n = prev.cls, nxt.cls
        out = self.fwd.setdefault(p, {})
        if n in out:
            return
        cyc = self._find(n, self.fwd, lambda c: c is p)   # (n is never p: see _acquire_slow)
        if cyc is not None:
            self._circular(ev, tid, cpu, prev, nxt, cyc)
            return  # lockdep does not add the edge that would close a cycle
        out[n] = (prev.stack, nxt.stack, self._ctx_name(tid, cpu))
        self.back.setdefault(n, {})[p] = None
        # HARDIRQ-safe -> HARDIRQ-unsafe through the new edge
        safe = next((c for c in self._closure(p, self.back) if IN_HARDIRQ in c.usage), None)
        if safe is None:
            return
        unsafe = next((c for c in self._closure(n, self.fwd) if HARDIRQ_ON in c.usage), None)
        if unsafe is not None:
            self._inversion(ev, tid, cpu, safe, unsafe, prev, nxt)

    def _mark(self, cls: LockClass, bit: str, stack: list[str], ev: Event, tid: int,
              cpu: int | None, h: _Held) -> None:
        if bit in cls.usage:
            return
        cls.usage[bit] = (list(stack), ev.time, self._ctx_name(tid, cpu))
        other = HARDIRQ_ON if bit == IN_HARDIRQ else IN_HARDIRQ
        if other in cls.usage:
            self._inconsistent(ev, tid, cpu, cls, other, bit, h)
            return
        # the new bit against the dependencies already recorded (mark_lock_irq: a new
        # USED_IN looks forwards for an ENABLED class, a new ENABLED backwards for USED_IN)
        if bit == IN_HARDIRQ:
            path = self._find(cls, self.fwd, lambda c: HARDIRQ_ON in c.usage)
            if path is not None:
                self._irq_inversion(ev, tid, cpu, h, path, forwards=True)
        else:
            path = self._find(cls, self.back, lambda c: IN_HARDIRQ in c.usage)
            if path is not None:
                self._irq_inversion(ev, tid, cpu, h, path, forwards=False)

    def _wait_violation(self, t: str, held: list[_Held], prev_off: bool,
                        in_irq: bool) -> str | None:
        """Why taking a lock of type ``t`` here is an invalid wait context (or None)."""
        if t == "mutex":
            bad = next((x for x in reversed(held) if x.cls.type != "mutex"), None)
            return ("in hard-irq context" if in_irq else
                    f"under {bad.cls.name}" if bad is not None else
                    "with interrupts disabled" if prev_off else None)
        if t == "spin" and self.preempt_rt:
            bad = next((x for x in reversed(held) if x.cls.type == "raw_spin"), None)
            return (f"under {bad.cls.name}" if bad is not None else
                    "with interrupts disabled" if prev_off and not in_irq else None)
        return None

    def finish(self, result: Any) -> list[Finding]:
        """Validate the acquisitions still being attempted when the run ended.

        The kernel's lockdep validates a lock at ``lock_acquire()``, *before*
        spinning; the engine reports an acquisition once it succeeds.  So for a
        run that ends with contexts parked at an acquire (a deadlock, a
        livelock), each parked acquire is validated here as an attempt: the
        AB-BA deadlock itself is then also reported as the circular dependency.
        """
        before = len(self.found)
        waits = {}
        dl = getattr(result, "deadlock", None)
        if dl is not None:
            waits = {w.tid: list(w.stack) for w in dl.waits()}
        eng = self.engine
        for th in eng.threads:
            op = getattr(th, "op", None)
            if th.done or op is None or getattr(op, "kind", "") != "acquire":
                continue
            lk = op.obj
            cc = th.cctx
            mode = getattr(op, "label", "")
            irqs_off_before = not cc.irqs_on
            if mode in ("irq", "irqsave") and getattr(op, "flags", None) is not None:
                # the interrupt state spin_lock_irq(save) found when it was called (it
                # disabled them then; its sim_irq_disable comes only if it is performed)
                irqs_off_before = not op.flags
            a = {"tid": th.tid, "lock": lk.name, "lid": eng.oid(lk), "class": lk.cls,
                 "subclass": getattr(op, "subclass", 0), "type": lk.type_name, "mode": mode,
                 "irqs_disabled": irqs_off_before or mode in ("irq", "irqsave"),
                 "in_irq": th.kind == "irq", "site": getattr(th, "site", "")}
            ev = Event(-1, getattr(result, "steps", 0), "sim_lock_acquire", th.cpu, a)
            self._acquire(ev, attempt=(irqs_off_before, waits.get(th.tid, [])))
        out = self.found[before:]
        del self.found[before:]
        return out
