"""Export an event list as Chrome / Perfetto trace JSON (``{"traceEvents": [...]}``).

The file opens in https://ui.perfetto.dev (and ``chrome://tracing``).  Layout:

* one process (``pid`` 1, named after the run), one track per CPU (``tid`` =
  CPU number, named ``cpuN``) and one track for events that concern no CPU
  (``tid`` :data:`SYSTEM_TID`, named ``system``: ITS commands, PCI, ...);
* every event becomes an instant event (``"ph": "i"``, thread scope) named by
  its kind, with its category the producing block (``its``, ``gicr``,
  ``cpuif``, ``sim``, ...) and its fields as ``args`` (plus ``seq``, ``time``
  and the readable ``text``);
* the engine's ``sim_irq_enter`` / ``sim_irq_exit`` pairs also become duration
  events (``"B"`` / ``"E"``) named ``irq`` (``irq <intid>`` when known) on the
  CPU's track, so nested hard-irq contexts show as nested slices.  An exit
  without an entry is dropped; contexts still open at the end are closed at
  the last time stamp, so slices always nest.

Time stamps (microseconds in the format) are logical: ``ts`` is the event's
``time`` (the engine's step counter) times :data:`TS_PER_STEP`, pushed forward
so that every event gets its own strictly increasing ``ts`` (the order of the
stream is kept).  A hardware-only run (``time`` always 0) thus shows events one
microsecond apart, in ``seq`` order.  Output is deterministic.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from irqlab.errors import InvalidArgumentType
from irqlab.events import Event

__all__ = ["PID", "SYSTEM_TID", "TS_PER_STEP", "chrome_trace", "write_chrome_trace"]

PID = 1
#: Track (``tid``) of events whose ``cpu`` is ``None``.
SYSTEM_TID = 100_000
#: Trace microseconds per engine step (``Event.time`` unit).
TS_PER_STEP = 1000

_IRQ_ENTER = "sim_irq_enter"
_IRQ_EXIT = "sim_irq_exit"


def _json_value(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, list | tuple):
        return [_json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_value(x) for k, x in v.items()}
    return repr(v)


def chrome_trace(events: Iterable[Event], *, name: str = "irqlab") -> dict[str, Any]:
    """The Chrome trace JSON object (a dict ready for :func:`json.dump`) of ``events``."""
    if not isinstance(name, str):
        raise InvalidArgumentType(f"name must be a str, not {name!r}")
    out: list[dict[str, Any]] = []
    tids: set[int] = set()
    open_irqs: dict[int, list[str]] = {}
    ts = -1
    for ev in events:
        if not isinstance(ev, Event):
            raise InvalidArgumentType(f"events must hold Event objects, not {ev!r}")
        ts = max(ts + 1, ev.time * TS_PER_STEP)
        tid = SYSTEM_TID if ev.cpu is None else ev.cpu
        tids.add(tid)
        args = {k: _json_value(v) for k, v in ev.args.items()}
        args.update(seq=ev.seq, time=ev.time, text=ev.text())
        if ev.kind == _IRQ_ENTER:
            intid = ev.args.get("intid")
            known = isinstance(intid, int) and not isinstance(intid, bool) and intid >= 0
            slice_name = f"irq {intid}" if known else "irq"
            open_irqs.setdefault(tid, []).append(slice_name)
            out.append({"name": slice_name, "cat": "irq", "ph": "B", "ts": ts,
                        "pid": PID, "tid": tid, "args": args})
        elif ev.kind == _IRQ_EXIT and open_irqs.get(tid):
            slice_name = open_irqs[tid].pop()
            out.append({"name": slice_name, "cat": "irq", "ph": "E", "ts": ts,
                        "pid": PID, "tid": tid})
        out.append({"name": ev.kind, "cat": ev.block, "ph": "i", "s": "t", "ts": ts,
                    "pid": PID, "tid": tid, "args": args})
    end = max(ts, 0)
    for tid in sorted(open_irqs):
        for slice_name in reversed(open_irqs[tid]):
            out.append({"name": slice_name, "cat": "irq", "ph": "E", "ts": end,
                        "pid": PID, "tid": tid})
    meta: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": PID, "tid": 0, "args": {"name": name}}]
    for tid in sorted(tids):
        label = "system" if tid == SYSTEM_TID else f"cpu{tid}"
        meta.append({"name": "thread_name", "ph": "M", "pid": PID, "tid": tid,
                     "args": {"name": label}})
        meta.append({"name": "thread_sort_index", "ph": "M", "pid": PID, "tid": tid,
                     "args": {"sort_index": tid}})
    return {"traceEvents": meta + out, "displayTimeUnit": "ns",
            "otherData": {"producer": "irqlab", "run": name}}


def write_chrome_trace(events: Iterable[Event], path: str | os.PathLike[str], *,
                       name: str = "irqlab") -> int:
    """Write the trace of ``events`` to ``path`` as JSON; returns the number of trace events."""
    if not isinstance(path, str | os.PathLike):
        raise InvalidArgumentType(f"path must be a str or os.PathLike, not {path!r}")
    doc = chrome_trace(events, name=name)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, separators=(",", ":"))
        fh.write("\n")
    return len(doc["traceEvents"])
