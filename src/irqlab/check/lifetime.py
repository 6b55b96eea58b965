"""The lifetime observer: use-after-free, double free, free before a grace period, leaks,
refcount_t warnings.

It follows the engine's tracked objects through ``sim_alloc``, ``sim_free``
(``deferred=1`` for the RCU callback of a ``kfree_rcu``), ``sim_free_rcu``
and ``sim_access`` (``live=0`` for an access to a freed object), and the
``rcu_read_lock()`` sections (``sim_rcu_read_lock``/``unlock``) of each
context: an irq handler's section nested on a task's on the same CPU is a
section of its own, which ends when the handler unlocks.  Like KASAN it
reports three sites for a use-after-free -- allocation, free, use -- each
with its model-code stack.  Objects never passed to ``alloc`` are not
instrumented (a free or an access of one is no finding), as memory KASAN
does not track.

``free-before-grace-period`` is the RCU rule: a plain ``kfree`` of an
object that another context read inside its ``rcu_read_lock()`` section,
while that section is still open, is a use-after-free waiting to happen if
the reader uses the object again before it leaves the section.  It is a
prediction (``potential=True``), reported at the free: the events do not
show whether the reader still holds the pointer, so a reader that used the
object only under a lock the freeing side also takes before it unpublishes
the object is reported as well.  Readers that are readers without
``rcu_read_lock()`` (hard-irq handlers, interrupts or preemption disabled)
are not followed here; the engine's grace periods wait for them, and a use
after the free is a ``use-after-free``.

``refcount``: ``refcount_t`` saturated on misuse (``sim_refcount_warn``:
addition on 0, underflow), reported like Linux's WARN
(``refcount_t: addition on 0; use-after-free.``), with the site.

Leaks: objects still live at the end of a run that finished ``ok``, unless
model code marked them as meant to outlive the run with
:func:`long_lived` (the ``check_long_lived`` event).
"""

from __future__ import annotations

from typing import Any, ClassVar

from irqlab.check.findings import Finding
from irqlab.check.lockdep_reports import thread_of
from irqlab.events import Event
from irqlab.sim._core import RT, SimError
from irqlab.sim.track import stack_now

__all__ = ["LifetimeObserver", "long_lived"]


def long_lived(obj: Any) -> Any:
    """Mark ``obj`` (tracked) as meant to outlive the run: no ``leak`` finding for it.

    Plain call from model code (any context); emits ``check_long_lived``
    with the object's id.  Returns ``obj``.
    """
    eng = RT.eng
    if eng is None:
        raise SimError("long_lived() must be called from model code during a run")
    ev = eng.events
    if ev.enabled:
        th = RT.th
        d = ev.direct.get("check_long_lived")
        if d is not None:
            ev._seq += 1
            d(ev.time, None if th is None else th.cpu, eng.oid(obj))
        else:
            ev.emit("check_long_lived", cpu=None if th is None else th.cpu, oid=eng.oid(obj))
    return obj


class _Obj:
    # (no __slots__: the fields a free or a report sets start as these class defaults,
    # so making one costs four stores)
    state = "live"
    free_site = ""
    free_stack = ""
    rcu_site = ""
    deferred = False   # freed by the RCU callback of a kfree_rcu
    keep = False
    reported: tuple[str, ...] = ()

    def __init__(self, oid: int, kind: str, site: str, stack: str) -> None:
        self.oid = oid
        self.kind = kind
        self.alloc_site = site
        self.alloc_stack = stack


def _by_oid(o: _Obj) -> int:
    return o.oid


def _stack_lines(stack: str) -> str:
    if not stack:
        return "  (no stack)"
    return "\n".join(f"  {fr}" for fr in reversed(stack.split(";")))


class LifetimeObserver:
    """Observer of tracked-object lifetimes (see the module docstring)."""

    #: event kind -> handler method name (:mod:`irqlab.check.observe` binds them)
    HANDLERS: ClassVar[dict[str, str]] = {
        "sim_alloc": "_alloc",
        "sim_free": "_free",
        "sim_free_rcu": "_free_rcu",
        "sim_access": "_access",
        "sim_rcu_read_lock": "_rcu_lock",
        "sim_rcu_read_unlock": "_rcu_unlock",
        "sim_refcount_warn": "_refcount_warn",
        "check_long_lived": "_keep",
    }
    #: the direct forms (fields positionally, see irqlab.events.EventStream.direct)
    DIRECT: ClassVar[dict[str, str]] = {
        "sim_alloc": "_alloc_direct",
        "check_long_lived": "_keep_direct",
    }

    @property
    def handlers(self) -> dict[str, Any]:
        """Event kind -> bound handler (the observer protocol)."""
        return {k: getattr(self, m) for k, m in self.HANDLERS.items()}

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.found: list[Finding] = []
        self._objs: dict[int, _Obj] = {}
        # rcu_read_lock() sections, per context: tid -> its own nesting, and, while it is
        # inside one, tid -> {oid: site of its first read of the object in the section}
        self._nest: dict[int, int] = {}
        self._read: dict[int, dict[int, str]] = {}
        self._cpu: dict[int, int | None] = {}   # tid -> its CPU (None: a device actor)
        self._warned: set[tuple[str, str]] = set()

    def _stack(self) -> str:
        return ";".join(stack_now(self.engine))

    def _who(self, tid: int, cpu: int | None) -> str:
        """``CPU<n>`` for a context on a CPU, ``device actor <name>`` for an actor."""
        if cpu is not None:
            return f"CPU{cpu}"
        th = thread_of(self.engine, tid)
        return f"device actor {th.name}" if th is not None else f"device actor tid {tid}"

    def _alloc(self, ev: Event) -> None:
        a = ev.args
        self._objs[a["oid"]] = _Obj(a["oid"], a["obj_kind"], a["site"], self._stack())

    def _alloc_direct(self, time: int, cpu: int | None, tid: int, oid: int, obj_kind: str,
                      site: str) -> None:
        """``sim_alloc``, its fields in order (the direct form; see EventStream)."""
        st = self.engine._stack_now  # (the stack track.alloc captured for its site)
        self._objs[oid] = _Obj(oid, obj_kind, site,
                               ";".join(st) if st is not None else self._stack())

    def _keep(self, ev: Event) -> None:
        o = self._objs.get(ev.args["oid"])
        if o is not None:
            o.keep = True

    def _keep_direct(self, time: int, cpu: int | None, oid: int) -> None:
        """``check_long_lived``, its fields in order (the direct form)."""
        o = self._objs.get(oid)
        if o is not None:
            o.keep = True

    def _rcu_lock(self, ev: Event) -> None:
        tid = ev.args["tid"]
        n = self._nest.get(tid, 0) + 1
        self._nest[tid] = n
        if n == 1:
            self._read[tid] = {}
            self._cpu[tid] = ev.cpu

    def _rcu_unlock(self, ev: Event) -> None:
        tid = ev.args["tid"]
        n = self._nest.get(tid, 0) - 1
        # (n < 0: it left a section another context of its CPU entered -- the engine
        # nests per CPU; none of its own is open then)
        self._nest[tid] = max(n, 0)
        if n <= 0:
            self._read.pop(tid, None)

    def _free_rcu(self, ev: Event) -> None:
        o = self._objs.get(ev.args["oid"])
        if o is not None and o.state == "live":
            o.state = "rcu"
            o.rcu_site = ev.args["free_site"]

    def _free(self, ev: Event) -> None:
        a = ev.args
        o = self._objs.get(a["oid"])
        if o is None or a["state"] == "untracked":
            return
        if not a["deferred"]:
            stack = self._stack()
        else:  # the RCU callback of a kfree_rcu: the stack of the kfree_rcu call
            st = self.engine._stack_now
            stack = ";".join(st) if st else ""
        site = a["free_site"]
        if a["double"] or o.state == "freed":
            self._report(Finding(
                "double-free", f"double free of {o.kind}#{o.oid} at {site or '?'}",
                details=self._three(o, "second free", site, stack),
                sites={"alloc": o.alloc_site, "free": o.free_site, "second_free": site},
                step=ev.time, data={"oid": o.oid, "obj_kind": o.kind}), o)
            return
        if o.state == "rcu" and not a["deferred"]:
            self._report(Finding(
                "double-free", f"kfree of {o.kind}#{o.oid} already queued by kfree_rcu at "
                f"{o.rcu_site}", details=self._three(o, "kfree", site, stack),
                sites={"alloc": o.alloc_site, "free": o.rcu_site, "second_free": site},
                step=ev.time, data={"oid": o.oid, "obj_kind": o.kind}), o)
        if not a["deferred"]:
            me = a["tid"]
            for tid in sorted(self._read):
                seen = self._read[tid].get(o.oid)
                if seen is None or tid == me:
                    continue
                where = self._who(tid, self._cpu.get(tid))
                self._report(Finding(
                    "free-before-grace-period",
                    f"kfree of {o.kind}#{o.oid} at {site or '?'} while a reader on {where} "
                    f"that read it at {seen} is still inside rcu_read_lock()",
                    details=(f"object {o.kind}#{o.oid} allocated at:\n"
                             f"{_stack_lines(o.alloc_stack)}\n"
                             f"read under rcu_read_lock() on {where} at:\n  {seen}\n"
                             f"freed (no grace period) at:\n{_stack_lines(stack)}\n"
                             "use kfree_rcu()/call_rcu() or synchronize_rcu() before kfree()\n"
                             "(predicted: a use-after-free if the reader uses the object "
                             "again before rcu_read_unlock())"),
                    sites={"alloc": o.alloc_site, "read": seen, "free": site},
                    potential=True, step=ev.time,
                    data={"oid": o.oid, "obj_kind": o.kind, "reader_tid": tid}), o)
                break
        o.state = "freed"
        o.deferred = bool(a["deferred"])
        o.free_site = site
        o.free_stack = stack if stack else o.free_stack

    def _access(self, ev: Event) -> None:
        a = ev.args
        oid = a["oid"]
        rd = self._read.get(a["tid"])
        if rd is not None and oid not in rd:
            rd[oid] = a["site"]
        if a["live"]:
            return
        o = self._objs.get(oid)
        if o is None or "use-after-free" in o.reported:
            return
        stack = self._stack()
        use = a["site"]
        what = "write" if a["rw"] == "w" else "read"
        label = f" ({a['label']})" if a["label"] else ""
        self._report(Finding(
            "use-after-free", f"{what} of freed {o.kind}#{o.oid}{label} at {use or '?'}",
            details=("BUG: KASAN: use-after-free in " + (use.split("@")[0] or "?")
                     + f"\n{what} of {o.kind}#{o.oid} by {self._who(a['tid'], ev.cpu)} at:\n"
                     + _stack_lines(stack) + "\n\n" + self._sites_text(o)),
            sites={"alloc": o.alloc_site, "free": o.free_site, "use": use},
            step=ev.time, data={"oid": o.oid, "obj_kind": o.kind, "rw": a["rw"],
                                "label": a["label"]}), o)

    def _refcount_warn(self, ev: Event) -> None:
        a = ev.args
        name, what = a["refcount"], a["what"]
        if (name, what) in self._warned:
            return   # (WARN_ONCE-like: once per counter and kind of misuse)
        self._warned.add((name, what))
        stack = self._stack()
        site = stack.rsplit(";", 1)[-1] if stack else ""
        who = self._who(a["tid"], ev.cpu)
        self.found.append(Finding(
            "refcount", f"refcount_t: {what}. ({name}) at {site or '?'}",
            details=(f"WARNING: refcount_t: {what}.\n{name} on {who} at:\n"
                     + _stack_lines(stack) + "\n(the counter is saturated from now on)"),
            sites={"warn": site}, step=ev.time,
            data={"refcount": name, "what": what}))

    @staticmethod
    def _sites_text(o: _Obj) -> str:
        return (f"Allocated at {o.alloc_site}:\n{_stack_lines(o.alloc_stack)}\n\n"
                f"Freed at {o.free_site}"
                + (" (kfree_rcu: freed after a grace period)" if o.deferred else "")
                + f":\n{_stack_lines(o.free_stack)}")

    def _three(self, o: _Obj, what: str, site: str, stack: str) -> str:
        return (self._sites_text(o) + f"\n\n{what} at {site or '?'}:\n"
                + _stack_lines(stack))

    def _report(self, f: Finding, o: _Obj) -> None:
        # once per object and kind
        if f.kind not in o.reported:
            o.reported += (f.kind,)
            self.found.append(f)

    def finish(self, result: Any) -> list[Finding]:
        """Leak findings (only for a run that ended ``ok``)."""
        if getattr(result, "outcome", "ok") != "ok":
            return []
        out = []
        live = [o for o in self._objs.values() if o.state == "live" and not o.keep]
        for o in sorted(live, key=_by_oid) if live else ():
            out.append(Finding(
                "leak", f"{o.kind}#{o.oid} allocated at {o.alloc_site} never freed",
                details=f"unreferenced object {o.kind}#{o.oid}, allocated at:\n"
                + _stack_lines(o.alloc_stack),
                sites={"alloc": o.alloc_site}, step=getattr(result, "steps", None),
                data={"oid": o.oid, "obj_kind": o.kind}))
        return out
