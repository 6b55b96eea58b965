"""Draw a run as side-by-side CPU columns, the way the mailing-list threads paint races.

::

    CPU0                               CPU1
    ----                               ----
    driver_exit()
    free_irq()
    spin_lock_irqsave(desc->lock)
                                       --> IRQ 42
                                         vmd_flow_handler()
                                         rcu_read_lock()
                                         vmdirq = list_entry(...)
    ...
    kfree(IrqDesc#3)
 >>                                      desc->handle_irq(desc)  <-- KABOOOOM!

One column per CPU (then one per device actor, and ``RCU`` for grace-period
callbacks); one row per action, in step order.  Rows come from the recorded
events: lock acquisitions and releases, labelled accesses and points
(``await sim.point("vmdirq = list_entry(...)")``), frees, RCU read
sections, completions (``complete``, ``wait_for_completion``), interrupt
entries (``--> IRQ 42``) and exits (``<-- IRQ``; the irq context is indented
under its CPU).  A run that ends in a deadlock ends each blocked context's
column with the operation it never got past (``spin_lock(B)  ... blocked by
t1``).  With a :class:`ColumnRecorder` attached during the run, each
context's model-code stack is also known per step, and function entries are
drawn as ``name()`` rows -- the picture then reads like the thread's -- and
atomics are drawn with their names (``atomic_read(global_ptr)``).
``finding`` marks the row of its cause with ``>>`` and a marker: the
faulting access, the sleeping operation of a sleep in atomic context, the
blocked operations of a deadlock.

Compact mode (default) collapses runs of uninteresting rows (unlabelled
preemption points, wait steps) into one ``...`` row, and a long prologue
that one context runs alone (set-up) into its outermost function entries,
``...`` and its last eight rows; ``max_width`` bounds
every line.  Plain text; colour (rich) only when asked for or when stdout is
a terminal and rich is installed.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from irqlab.errors import InvalidArgumentType, check_count, check_int
from irqlab.events import Event
from irqlab.sim import current

__all__ = ["ColumnRecorder", "Row", "draw", "rows_from_events"]

# op kinds whose sim_step is drawn only if no other event of the step describes it
_DESCRIBED_BY = {"sim_lock_acquire", "sim_lock_tryfail", "sim_access", "sim_refcount",
                 "sim_refcount_warn", "sim_choose", "sim_completion_wait"}
_QUIET_OPS = {"worker_idle", "start"}
# events emitted outside the stepping context's code (no stack to take)
_STACKLESS = {"sim_spawn", "sim_exit", "sim_irq_exit", "sim_irq_enter", "sim_error"}
_GP = "RCU"
_THEN = re.compile(r"^(.+) \(then (.+)\)$")
_LOCK_MODE = re.compile(r"^(\w+_lock)\((.+), (\w+)\)$")
_LABELLED = re.compile(r"^(\w+)\(([^()]*)\) (.+)$")


class Row:
    """One drawn line: its step, column key, text, indentation and role."""

    __slots__ = ("col", "ctx", "depth", "level", "marks", "role", "seq", "step", "text")

    def __init__(self, step: int, col: Any, text: str, depth: int = 0, role: str = "op",
                 seq: int = -1, level: int = -1) -> None:
        self.step = step
        #: for a function entry: its depth in the model-code stack (0: outermost)
        self.level = level
        #: the event the row was drawn from
        self.seq = seq
        #: other events the row stands for: the ``sim_atomic_sleep`` reported when the
        #: context parked at the sleeping operation this row performs (or never got past)
        self.marks: tuple[int, ...] = ()
        #: for a "blocked" row: the name of the context that never got past it
        self.ctx = ""
        self.col = col
        self.text = text
        self.depth = depth
        #: "op" (the step's operation), "call" (a plain call in the step), "fn"
        #: (function entry), "irq" (entry/exit), "dull" (collapsible), "blocked" (the
        #: operation a context was parked at when the run ended in a deadlock)
        self.role = role

    def __repr__(self) -> str:
        return f"<Row {self.step} {self.col} {self.text!r}>"


class ColumnRecorder:
    """An observer that records the events and, per step, the stepping context's stack.

    Add it to an :class:`~irqlab.check.observe.Observers` (``obs.add(rec)``)
    or subscribe it alone with :meth:`attach`; then ``draw(rec)``.  Costs a
    stack capture per event: use it for the run being reported, not while
    exploring.
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.events: list[Event] = []
        self.stacks: dict[int, list[str]] = {}
        #: object id (a ``sim_step``'s ``obj``) -> the name the model gave the object
        #: (``sim.Atomic(None, name="global_ptr")``)
        self.objects: dict[int, str] = {}
        self.found: list[Any] = []
        self.handlers: dict[str, Any] = {"*": self._on}

    def attach(self) -> ColumnRecorder:
        """Subscribe to ``engine.events`` directly (without the other observers)."""
        self.engine.events.subscribe(self._on)
        return self

    def _on(self, ev: Event) -> None:
        self.events.append(ev)
        if ev.kind in _STACKLESS or ev.args.get("tid", -1) < 0:
            return   # (tid -1: RCU callbacks, plain functions run outside any CPU)
        if ev.kind == "sim_step":
            oid = ev.args.get("obj", -1)
            if oid >= 0 and oid not in self.objects:
                # the stepping context's op is the one being performed (the event names
                # only its object's id)
                name = getattr(getattr(current().op, "obj", None), "name", None)
                if isinstance(name, str):
                    self.objects[oid] = name
        st = self.engine.stack()
        if st:
            self.stacks[ev.seq] = st

    def contexts(self) -> dict[int, tuple[str, str]]:
        """tid -> (name, kind) of every context of the engine (also those spawned before)."""
        return {th.tid: (th.name, th.kind) for th in self.engine.threads}

    def finish(self, result: Any) -> list[Any]:
        return []


def _fn_name(frame: str) -> str:
    return frame.split("@", 1)[0]


def _same_call(name: str, text: str) -> bool:
    return text == name or text.startswith((name + "(", name + " "))


def _shown(name: str) -> bool:
    """Python-private helpers (``_maybe``) are model plumbing, not kernel functions."""
    return not name.startswith("_") or name.startswith("__")


def _performs(report: str, op: str) -> bool:
    """Whether a step of kind ``op`` performs the operation a sim_atomic_sleep reported."""
    head = report.replace(" ", "(", 1).split("(", 1)[0]
    return head == op or (op == "acquire" and head.endswith("_lock"))


def _op_text(desc: str) -> str:
    """An operation's description (``Op.describe()``) as the rows draw the operation."""
    m = _LOCK_MODE.match(desc)
    if m:   # "spin_lock(B, irqsave)" -> "spin_lock_irqsave(B)"
        return f"{m[1]}_{m[3]}({m[2]})"
    if desc == "point":
        return "(point)"
    if desc.startswith("point "):   # a labelled point: its label
        return desc[6:]
    m = _LABELLED.match(desc)
    if m:   # "access(global_ptr) atomic_read" -> "atomic_read(global_ptr)"
        return m[3] if "(" in m[3] else f"{m[3]}({m[2]})"
    return desc


def _blocked_text(waiting: str, holder: str | None) -> str:
    """``spin_lock(B)  ... blocked by t1`` (the holder) for a context parked at ``waiting``."""
    why = ""
    m = _THEN.match(waiting)
    if m:   # "irq/0 to return (then spin_lock(A))"
        why, waiting = m[1], m[2]
    text = f"{_op_text(waiting)}  ... blocked"
    if why:
        return f"{text}, waits for {why}"
    return f"{text} by {holder}" if holder else text


def rows_from_events(events: Iterable[Event], stacks: dict[int, list[str]] | None = None,
                     contexts: dict[int, tuple[str, str]] | None = None,
                     objects: dict[int, str] | None = None,
                     ) -> tuple[list[Row], list[Any], dict[Any, str]]:
    """Turn recorded events into rows; returns ``(rows, column keys, column titles)``.

    ``contexts`` (tid -> (name, kind)) names the contexts spawned before the
    recording started; ``objects`` (object id -> name, :attr:`ColumnRecorder.objects`)
    names the objects of steps no other event describes (atomics).
    """
    names: dict[int, str] = {}
    actor_tids: list[int] = []
    for tid, (nm, knd) in sorted((contexts or {}).items()):
        names[tid] = nm
        if knd == "actor":
            actor_tids.append(tid)
    depth: dict[Any, int] = {}
    last_stack: dict[int, list[str]] = {}
    step_label: dict[int, str] = {}
    lock_mode: dict[int, str] = {}
    cur_col: Any = None
    rows: list[Row] = []
    cols: dict[Any, None] = {}
    objects = objects or {}
    tid_depth: dict[int, int] = {}
    evs = list(events)
    # which (step, tid) pairs have an event that describes the step's op
    described: set[tuple[int, int]] = set()
    # a sleeping operation in atomic context is reported (sim_atomic_sleep) when its
    # context parks at it, in the step before the one that performs it: the row of the
    # performing step, or the context's blocked row, stands for the report
    parked: dict[int, tuple[int, str]] = {}       # tid -> (seq, op) of its last report
    performs: dict[tuple[int, int], int] = {}     # (step, tid) -> seq of the report
    # (cpu or None, tid, name, waiting for, holder or None) of each blocked context
    blocked: Sequence[tuple[int | None, int, str, str, str | None]] = ()
    for ev in evs:
        k = ev.kind
        if k in _DESCRIBED_BY:
            described.add((ev.time, ev.args.get("tid", -2)))
        if k == "sim_spawn" and ev.args.get("ctx") == "actor":
            actor_tids.append(ev.args["tid"])
        elif k == "sim_atomic_sleep":
            parked[ev.args["tid"]] = (ev.seq, ev.args["op"])
        elif k == "sim_step" and ev.args["tid"] in parked:
            q, op = parked.pop(ev.args["tid"])
            if _performs(op, ev.args["op"]):
                performs[(ev.time, ev.args["tid"])] = q
        elif k == "sim_deadlock":
            blocked = ev.args.get("waits", ())
    # reports whose operation was never performed: its context's blocked row stands for
    # them; a report of a plain might_sleep() call is a row of its own
    at_blocked = {t: parked.pop(t)[0] for (_c, t, _n, _w, _h) in blocked if t in parked}
    standing = set(performs.values()) | set(at_blocked.values())
    for ev in evs:
        a = ev.args
        kind = ev.kind
        tid = a.get("tid", -2)
        if kind == "sim_spawn":
            names[tid] = a["name"]
        elif kind == "sim_deadlock":
            # each context's operation it never got past, at the end of its column
            for cpu, t, nm, waiting, holder in blocked:
                c: Any = ("actor", t) if cpu is None else cpu
                cols.setdefault(c, None)
                rows.append(Row(ev.time, c, _blocked_text(waiting, holder),
                                tid_depth.get(t, depth.get(c, 0)), "blocked", ev.seq))
                rows[-1].ctx = nm
                if t in at_blocked:
                    rows[-1].marks = (at_blocked[t],)
            continue
        cpu = ev.cpu
        if kind in ("sim_irq_raise", "sim_ipi") and cur_col is not None:
            col: Any = cur_col   # drawn in the column of the context that raised it
        elif cpu is not None:
            col = cpu
        elif tid in actor_tids:
            col = ("actor", tid)
        elif kind in ("sim_rcu_callback", "sim_free", "sim_rcu_gp") or tid == -1:
            col = _GP
        else:
            continue
        d = depth.get(col, 0)
        if kind == "sim_step":
            cur_col = col

        if tid >= 0 and kind not in _STACKLESS:
            tid_depth[tid] = d

        def add(text: str, role: str = "call", dd: int = d, c: Any = col,
                t: int = ev.time, q: int = ev.seq, w: int = tid) -> None:
            cols.setdefault(c, None)
            rows.append(Row(t, c, text, dd, role, q))
            if role == "op" and (t, w) in performs:
                rows[-1].marks = (performs.pop((t, w)),)

        if stacks is not None and ev.seq in stacks:
            # function entries: the frames this context gained since its last event
            st = stacks[ev.seq]
            prev = last_stack.get(tid, [])
            p = 0
            while p < len(prev) and p < len(st) and _fn_name(prev[p]) == _fn_name(st[p]):
                p += 1
            for lvl in range(p, len(st)):
                nm = _fn_name(st[lvl])
                if _shown(nm):
                    add(f"{nm}()", "fn")
                    rows[-1].level = lvl
            last_stack[tid] = st
        if kind == "sim_step":
            op = a["op"]
            label = a["label"]
            step_label[tid] = label
            if (ev.time, tid) in described:
                continue
            if op == "point":
                add(label, "op") if label else add("", "dull")
            elif op in _QUIET_OPS:
                if op == "start" and stacks is None and tid in names:
                    add(f"{names[tid]}()", "fn")
                else:
                    add("", "dull")
            elif op == "access":
                # an atomic's operation: named like a lock's (atomic_set(global_ptr))
                obj = objects.get(a["obj"], "")
                if not label:
                    add(f"access({obj})" if obj else "access", "op")
                else:
                    add(f"{label}({obj})" if obj and "(" not in label else label, "op")
            else:
                obj = objects.get(a["obj"], "")
                text = (label if label.startswith(op) else f"{op}({label})") if label else (
                    f"{op}({obj})")
                add(text, "dull" if op.startswith("wait") else "op")
        elif kind == "sim_lock_acquire":
            mode = a["mode"]
            base = {"mutex": "mutex_lock", "raw_spin": "raw_spin_lock"}.get(a["type"],
                                                                             "spin_lock")
            if mode == "try":
                add(f"{base.replace('_lock', '_trylock')}({a['lock']})", "op")
            else:
                add(f"{base}{'_' + mode if mode else ''}({a['lock']})", "op")
            lock_mode[a["lid"]] = mode
        elif kind == "sim_choose":
            add(f"choose({a['label'] or a['n']}) -> {a['value']}", "op")
        elif kind == "sim_lock_tryfail":
            add(f"trylock({a['lock']}) failed", "op")
        elif kind == "sim_lock_release":
            base = {"mutex": "mutex_unlock", "raw_spin": "raw_spin_unlock"}.get(a["type"],
                                                                               "spin_unlock")
            mode = lock_mode.pop(a["lid"], "")
            sfx = "_irqrestore" if mode == "irqsave" else "_irq" if mode == "irq" else ""
            add(f"{base}{sfx}({a['lock']})")
        elif kind == "sim_access":
            lab = a["label"] or f"{'write' if a['rw'] == 'w' else 'read'}({a['obj_kind']})"
            add(lab, "op")
        elif kind == "sim_refcount":
            lab = step_label.get(tid) or f"refcount_{a['op']}"
            add(f"{lab}({a['refcount']}) -> {a['value']}", "op")
        elif kind == "sim_refcount_warn":
            add(f"refcount_t: {a['what']} ({a['refcount']})", "op")
        elif kind == "sim_irq_enter":
            what = "IPI" if a.get("ipi") else f"IRQ {a['intid']}" if a["intid"] >= 0 else "IRQ"
            add(f"--> {what}", "irq")
            depth[col] = d + 1
        elif kind == "sim_irq_exit":
            depth[col] = max(0, d - 1)
            add("<-- IRQ", "irq", dd=depth[col])
        elif kind == "sim_irq_disable" or kind == "sim_irq_enable":
            via = a.get("via", "")
            if via.startswith("local_irq"):
                add(f"{via}()")
        elif kind == "sim_rcu_read_lock":
            add("rcu_read_lock()")
        elif kind == "sim_rcu_read_unlock":
            add("rcu_read_unlock()")
        elif kind == "sim_srcu_read_lock":
            add(f"srcu_read_lock({a['srcu']})")
        elif kind == "sim_srcu_read_unlock":
            add(f"srcu_read_unlock({a['srcu']})")
        elif kind == "sim_alloc":
            add(f"alloc {a['obj_kind']}#{a['oid']}")
        elif kind == "sim_free":
            if a.get("state") == "untracked":
                continue
            add(f"kfree({a['obj_kind']}#{a['oid']})", "op" if col == _GP else "call")
        elif kind == "sim_free_rcu":
            add(f"kfree_rcu({a['obj_kind']}#{a['oid']})")
        elif kind == "sim_rcu_call":
            if a["fn"] != "_rcu_free":   # the callback of a kfree_rcu, drawn already
                add(f"call_rcu({a['fn']})")
        elif kind == "sim_complete":
            add(f"complete{'_all' if a.get('all') else ''}({a['completion']})")
        elif kind == "sim_completion_wait":
            add(f"wait_for_completion({a['completion']})", "op")
        elif kind == "sim_completion_reinit":
            add(f"reinit_completion({a['completion']})")
        elif kind == "sim_atomic_sleep":
            if ev.seq not in standing:   # a might_sleep() call
                op = a["op"]
                add(op if "(" in op else f"{op}()", "op")
        elif kind == "sim_work_queue":
            add(f"queue_work({a['work']})")
        elif kind == "sim_irq_raise":
            add(f"raise IRQ {a['intid']} on CPU{cpu}")
        elif kind == "sim_ipi":
            add(f"IPI to CPU{cpu}")
        elif kind == "irq_handler":
            add(f"{a.get('name', 'handler')}(irq {a.get('irq')})", "op")
    # a function entry directly followed by its own labelled step ("xa_load()" then
    # "xa_load(8192)") says the same thing twice: keep the step
    rows = [r for i, r in enumerate(rows)
            if not (r.role == "fn" and i + 1 < len(rows) and rows[i + 1].col == r.col
                    and _same_call(r.text[:-2], rows[i + 1].text))]
    order = sorted(cols, key=lambda c: (0, c, 0) if isinstance(c, int) else
                   (2, 0, 0) if c == _GP else (1, c[1], 0))
    titles = {c: (f"CPU{c}" if isinstance(c, int) else "RCU" if c == _GP
                  else names.get(c[1], f"actor{c[1]}")) for c in order}
    return rows, order, titles


def _fit(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    return text[: max(0, width - 2)] + ".."


def _window(rows: list[Row | None], hit: Row | None, max_rows: int) -> list[Row | None]:
    """At most ``max_rows`` rows: the first few, then those leading up to ``hit`` (or the end).

    A long run -- a hundred driver reloads before the failing one -- keeps its
    opening rows and the window that ends a few rows after the finding; what
    lies between is one ``...`` row.
    """
    if len(rows) <= max_rows:
        return rows
    head = min(6, max_rows // 4)
    end = len(rows)
    if hit is not None and hit in rows:
        end = min(len(rows), rows.index(hit) + 1 + max_rows // 8)
    start = max(head, end - (max_rows - head - 1))
    return [*rows[:head], None, *rows[start:end]] if start > head else rows[:end]


def _marked(rows: list[Row], finding: Any, seq: int, highlight: int | None) -> list[int]:
    """The indices of the rows to mark, in order (the marker goes on the last)."""
    blocked = [i for i, r in enumerate(rows) if r.role == "blocked"]
    if finding is not None and blocked and finding.kind == "deadlock":
        # the blocked operations of the cycle (of every blocked context if none)
        cycle = finding.data.get("cycle") or []
        return [i for i in blocked if rows[i].ctx in cycle] or blocked
    if finding is not None and blocked and seq < 0:
        # made once the run ended (lockdep validating the acquisitions it ended parked
        # at): the blocked acquisition of the lock it names
        for key in ("acquiring", "lock"):
            name = finding.data.get(key)
            at = [i for i in blocked if isinstance(name, str)
                  and rows[i].text.split("  ...", 1)[0].endswith(f"({name})")]
            if at:
                return at[:1]
    if seq >= 0:
        # the row that stands for the finding's event (a sleep in atomic context: the
        # sleeping operation), else the row of the event or the last drawn before it
        # in its step
        stands = [i for i, r in enumerate(rows) if seq in r.marks]
        if stands:
            return stands[:1]
    by_seq = [i for i, r in enumerate(rows) if 0 <= r.seq <= seq and r.role != "dull"
              and (highlight is None or r.step == highlight)]
    if by_seq:
        return by_seq[-1:]
    if highlight is not None:
        cands = [i for i, r in enumerate(rows) if r.step == highlight]
        ops = [i for i in cands if rows[i].role == "op"]
        return [ops[0]] if ops else cands[-1:]
    return []


def draw(source: Any, *, highlight: int | None = None, marker: str | None = None,
         max_width: int = 100, compact: bool = True, color: bool | None = None,
         title: str = "", finding: Any = None, max_rows: int = 80) -> str:
    """Draw ``source`` (a :class:`ColumnRecorder` or a list of events) as CPU columns.

    ``finding``: the :class:`~irqlab.check.findings.Finding` to mark: the row
    of the event it was made at (``data["seq"]``), else of its step; for a
    sleep in atomic context (reported when the context parks at the sleeping
    operation) the row that performs that operation; for a deadlock the
    blocked operations of its cycle (every one gets ``>>``, the last the
    marker); for a finding made once a deadlocked run ended (lockdep
    validating the parked acquisitions) the blocked acquisition of the lock it
    names.  The marker is ``<-- KABOOOOM!`` for a use-after-free or double
    free, else ``<-- <kind>``.  ``highlight``: a step to mark instead (its
    operation's row).  ``marker`` overrides the marker text.  ``max_width`` bounds each line
    (columns share it equally); ``compact`` collapses runs of dull rows and
    keeps at most ``max_rows`` rows: the opening ones and a window that ends
    just after the marked row;
    ``color`` forces rich colouring on or off (default: on when stdout is a
    terminal and rich is installed).
    """
    contexts: dict[int, tuple[str, str]] | None = None
    objects: dict[int, str] | None = None
    if isinstance(source, ColumnRecorder):
        events, stacks, contexts = source.events, source.stacks, source.contexts()
        objects = source.objects
    elif isinstance(source, Iterable):
        events, stacks = list(source), None
    else:
        raise InvalidArgumentType(f"source must be a ColumnRecorder or events, not {source!r}")
    check_int("max_width", max_width, 20, 10_000)
    check_count("max_rows", max_rows, 8, 1 << 30)
    if highlight is not None:
        check_count("highlight", highlight, 0, 1 << 62)
    seq = -1
    if finding is not None:
        kind = getattr(finding, "kind", None)
        if not isinstance(kind, str):
            raise InvalidArgumentType(f"finding must be a Finding, not {finding!r}")
        if highlight is None:
            highlight = finding.step
        seq = finding.data.get("seq", -1)
        if marker is None:
            marker = ("<-- KABOOOOM!" if kind in ("use-after-free", "double-free")
                      else f"<-- {kind}")
    if marker is None:
        marker = "<-- KABOOOOM!"
    if not isinstance(marker, str):
        raise InvalidArgumentType(f"marker must be a str, not {marker!r}")
    rows, order, titles = rows_from_events(events, stacks, contexts, objects)
    if not order:
        return title + ("\n" if title else "") + "(no steps)"
    hits = _marked(rows, finding, seq, highlight)
    hit = hits[0] if hits else -1
    if compact:
        # A long prologue run by one context alone (the set-up before the race) keeps
        # its outermost function entries, a "...", and its last rows.
        first_other = next((i for i, r in enumerate(rows) if r.col != rows[0].col), len(rows))
        lead = 8
        body: list[Row | None] = list(rows)
        if first_other > 2 * lead and not 0 <= hit < first_other - lead:
            body = [*(r for r in rows[:first_other - lead] if r.level == 0), None,
                    *rows[first_other - lead:]]
        # runs of dull rows (unlabelled points, waits) vanish; long ones leave a "..."
        out_rows: list[Row | None] = []
        run = 0
        hit_rows = [rows[i] for i in hits]
        for r in body:
            if r is not None and r.role == "dull" and r not in hit_rows:
                run += 1
                continue
            if run >= 3:
                out_rows.append(None)
            run = 0
            out_rows.append(r)
        if run >= 3:
            out_rows.append(None)
        out_rows = [r for i, r in enumerate(out_rows)
                    if r is not None or i == 0 or out_rows[i - 1] is not None]
        out_rows = _window(out_rows, hit_rows[-1] if hit_rows else None, max_rows)
    else:
        # dull rows show as "(step)" (a marked one by its text, if it has one)
        full = [r if r.role != "dull" else
                Row(r.step, r.col, r.text if i in hits and r.text else "(step)", r.depth)
                for i, r in enumerate(rows)]
        hit_rows = [full[i] for i in hits]
        out_rows = [*full]
    n = len(order)
    prefix = 3
    width = max(8, (max_width - prefix) // n)
    index = {c: i for i, c in enumerate(order)}
    lines: list[tuple[str, str]] = []   # (style, text)
    if title:
        lines.append(("title", _fit(title, max_width)))
    head = " " * prefix + "".join(_fit(titles[c], width - 1).ljust(width) for c in order)
    lines.append(("head", head.rstrip()))
    lines.append(("head", (" " * prefix + "".join(_fit("-" * len(titles[c]), width - 1)
                                                   .ljust(width) for c in order)).rstrip()))
    for row in out_rows:
        if row is None:
            lines.append(("dull", " " * prefix + "..."))
            continue
        r = row
        k = index[r.col]
        # one cell per line: a row may run on over the (empty) columns to its right
        room = max_width - prefix - k * width
        last = bool(hit_rows) and r is hit_rows[-1]
        if last:
            room -= len(marker) + 2
        text = _fit("  " * r.depth + r.text, max(8, room))
        cells = " " * (k * width) + text
        if last:
            lines.append(("hit", ">> " + cells + "  " + marker))
        elif r in hit_rows:   # the other rows of a deadlock's cycle
            lines.append(("hit", (">> " + cells).rstrip()[:max_width]))
        else:
            style = "irq" if r.role == "irq" else "fn" if r.role == "fn" else "row"
            lines.append((style, (" " * prefix + cells).rstrip()[:max_width]))
    if color is None:
        color = sys.stdout.isatty()
    if color:
        try:
            return _rich(lines, max_width)
        except ImportError:
            pass
    return "\n".join(t for _s, t in lines)


def _rich(lines: list[tuple[str, str]], width: int) -> str:
    from rich.console import Console  # type: ignore[import-not-found,unused-ignore]
    from rich.text import Text  # type: ignore[import-not-found,unused-ignore]

    styles = {"title": "bold", "head": "bold cyan", "dull": "dim", "hit": "bold red",
              "irq": "magenta", "fn": "green", "row": ""}
    con = Console(width=width + 10, force_terminal=True, color_system="standard")
    with con.capture() as cap:
        for s, t in lines:
            con.print(Text(t, style=styles.get(s, "")), soft_wrap=True)
    return cap.get().rstrip("\n")
