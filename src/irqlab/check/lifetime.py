"""The lifetime observer: use-after-free, double free, free before a grace period, leaks.

It follows the engine's tracked objects through ``sim_alloc``, ``sim_free``
(``deferred=1`` for the RCU callback of a ``kfree_rcu``), ``sim_free_rcu``
and ``sim_access`` (``live=0`` for an access to a freed object), and the
RCU read sections (``sim_rcu_read_lock``/``unlock``: one nesting count per
CPU, one per device actor).  Like KASAN it reports three sites for a
use-after-free -- allocation, free, use -- each with its model-code stack.

``free-before-grace-period`` is the RCU rule: a plain ``kfree`` of an
object that a reader read inside a read section that is still open (on
another context) is a use-after-free waiting to happen, whatever the
schedule does next; it is reported at the free.

Leaks: objects still live at the end of a run that finished ``ok``, unless
model code marked them as meant to outlive the run with
:func:`long_lived` (the ``check_long_lived`` event).
"""

from __future__ import annotations

from typing import Any, ClassVar

from irqlab.check.findings import Finding
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
        # open RCU read sections: reader key (cpu, or ("actor", tid)) -> {oid: (tid, site)}
        self._nest: dict[Any, int] = {}
        self._read: dict[Any, dict[int, tuple[int, str]]] = {}

    def _stack(self) -> str:
        return ";".join(stack_now(self.engine))

    @staticmethod
    def _reader(ev: Event) -> Any:
        return ev.cpu if ev.cpu is not None else ("actor", ev.args.get("tid"))

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
        r = self._reader(ev)
        self._nest[r] = ev.args["nest"]
        if ev.args["nest"] == 1:
            self._read[r] = {}

    def _rcu_unlock(self, ev: Event) -> None:
        r = self._reader(ev)
        self._nest[r] = ev.args["nest"]
        if ev.args["nest"] == 0:
            self._read.pop(r, None)

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
        stack = self._stack() if not a["deferred"] else ""
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
            me = self._reader(ev)
            for r in sorted(self._read, key=repr):
                seen = self._read[r].get(o.oid)
                if seen is None or (r == me and seen[0] == a["tid"]):
                    continue
                where = f"CPU{r}" if not isinstance(r, tuple) else f"actor tid {r[1]}"
                self._report(Finding(
                    "free-before-grace-period",
                    f"kfree of {o.kind}#{o.oid} at {site or '?'} while a reader on {where} "
                    f"that read it at {seen[1]} is still inside rcu_read_lock()",
                    details=(f"object {o.kind}#{o.oid} allocated at:\n"
                             f"{_stack_lines(o.alloc_stack)}\n"
                             f"read under rcu_read_lock() on {where} at:\n  {seen[1]}\n"
                             f"freed (no grace period) at:\n{_stack_lines(stack)}\n"
                             "use kfree_rcu()/call_rcu() or synchronize_rcu() before kfree()"),
                    sites={"alloc": o.alloc_site, "read": seen[1], "free": site},
                    step=ev.time, data={"oid": o.oid, "obj_kind": o.kind}), o)
                break
        o.state = "freed"
        o.free_site = site
        o.free_stack = stack if stack else o.free_stack

    def _access(self, ev: Event) -> None:
        a = ev.args
        oid = a["oid"]
        r = self._reader(ev)
        if self._nest.get(r):
            rd = self._read.setdefault(r, {})
            if oid not in rd:
                rd[oid] = (a["tid"], a["site"])
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
                     + f"\n{what} of {o.kind}#{o.oid} by CPU{ev.cpu} at:\n"
                     + _stack_lines(stack) + "\n\n" + self._sites_text(o)),
            sites={"alloc": o.alloc_site, "free": o.free_site, "use": use},
            step=ev.time, data={"oid": o.oid, "obj_kind": o.kind, "rw": a["rw"],
                                "label": a["label"]}), o)

    @staticmethod
    def _sites_text(o: _Obj) -> str:
        return (f"Allocated at {o.alloc_site}:\n{_stack_lines(o.alloc_stack)}\n\n"
                f"Freed at {o.free_site}:\n{_stack_lines(o.free_stack)}")

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
