"""lockdep's reports: the lock classes, held entries and the text of each finding.

The report half of :class:`irqlab.check.lockdep.Lockdep` (a mixin it inherits):
each method builds one finding in the shape ``kernel/locking/lockdep.c``
prints it -- the banner, both acquisition stacks, the dependency chain and the
"possible unsafe locking scenario" in CPU columns -- and records it once per
class (pair).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from irqlab.check.findings import Finding
from irqlab.events import Event
from irqlab.sim.track import stack_now

__all__ = ["HARDIRQ_ON", "IN_HARDIRQ", "LockClass", "Reports", "thread_of"]

IN_HARDIRQ = "IN-HARDIRQ-W"
HARDIRQ_ON = "HARDIRQ-ON-W"

# lockdep's wait types: LD_WAIT_SPIN (raw), LD_WAIT_CONFIG (spinlock_t), LD_WAIT_SLEEP (mutex)
_WAIT = {"raw_spin": 2, "spin": 3, "mutex": 4}

#: an acquisition's mode -> the call that made it (for the reports)
_LOCK_FN = {"": "spin_lock", "irq": "spin_lock_irq", "irqsave": "spin_lock_irqsave",
            "try": "spin_trylock"}


class LockClass:
    """A lockdep class: ``key`` (class string and subclass), a display name, usage."""

    __slots__ = ("key", "name", "sleeps", "type", "usage")

    def __init__(self, key: tuple[str, int], name: str, type_: str) -> None:
        self.key = key
        self.name = name if key[1] == 0 else f"{name}/{key[1]}"
        self.type = type_
        self.sleeps = type_ == "mutex"
        #: usage bit -> (stack, step, context name)
        self.usage: dict[str, tuple[list[str], int, str]] = {}

    def chars(self) -> str:
        """lockdep's usage characters ``{H.S.}``: ``-`` irq-safe, ``+`` irq-on, ``?`` both."""
        safe, on = IN_HARDIRQ in self.usage, HARDIRQ_ON in self.usage
        h = "?" if safe and on else "-" if safe else "+" if on else "."
        s = "+" if on else "."
        return "{" + h + "." + s + ".}"

    def label(self) -> str:
        w = _WAIT.get(self.type, 3)
        return f"({self.name}){self.chars()}-{{{w}:{w}}}"

    def __repr__(self) -> str:
        return f"<LockClass {self.name} {sorted(self.usage)}>"


class _Held:
    """A held lock: its class, the acquisition's site and mode, and a stack for reports.

    ``site`` is this acquisition's own (the kernel's ``held_lock.acquire_ip``); ``stack``
    may be the first acquisition's of the same pattern in the run (captured once), so a
    report says where a held lock was taken from ``site``, never from ``stack``.
    """

    __slots__ = ("cls", "lid", "mode", "prev_off", "site", "stack", "step", "trylock",
                 "unmarked")

    def __init__(self, cls: LockClass, lid: int, mode: str, prev_off: bool, stack: list[str],
                 step: int, site: str) -> None:
        self.cls = cls
        self.lid = lid
        self.mode = mode
        self.prev_off = prev_off
        self.stack = stack
        self.step = step
        self.site = site
        self.trylock = mode == "try"
        #: counted in Lockdep._unmarked (its class was not HARDIRQ-ON when acquired)
        self.unmarked = False

    def at(self) -> str:
        """Where this acquisition was made (``func@file.py:line``)."""
        return self.site or _at(self.stack)


def thread_of(engine: Any, tid: int) -> Any:
    """The engine's context ``tid`` (a :class:`~irqlab.sim.Thread`), or None: what the
    observers' reports name a context by."""
    return next((th for th in engine.threads if th.tid == tid), None)


def _frames(stack: list[str], indent: str = "       ") -> str:
    if not stack:
        return indent + "(no stack)"
    return "\n".join(indent + fr for fr in reversed(stack))


def _at(stack: list[str]) -> str:
    return stack[-1] if stack else "?"


def _banner(title: str) -> str:
    bar = "=" * (len(title) + 2)
    return f"{bar}\n{title}\n{'-' * (len(title) + 2)}"


def _irq_scenario(safe: LockClass, unsafe: LockClass, middle: LockClass) -> list[str]:
    """print_irq_lock_scenario(): the chain safe --> middle --> unsafe (unless ``middle`` is
    ``unsafe`` itself) and the CPU0/CPU1 interrupt scenario."""
    chain = ([] if middle is unsafe else
             ["Chain exists of:", f"  {safe.name} --> {middle.name} --> {unsafe.name}", ""])
    return [
        *chain, " Possible interrupt unsafe locking scenario:", "",
        "       CPU0                    CPU1",
        "       ----                    ----",
        f"  lock({unsafe.name});",
        "                               local_irq_disable();",
        f"                               lock({safe.name});",
        f"                               lock({middle.name});",
        "  <Interrupt>", f"    lock({safe.name});", "",
        " *** DEADLOCK ***"]


class Reports:
    """The findings lockdep makes (mixed into :class:`~irqlab.check.lockdep.Lockdep`)."""

    # provided by Lockdep
    engine: Any
    found: list[Finding]
    fwd: dict[LockClass, dict[LockClass, tuple[list[str], list[str], str]]]
    _held: dict[int, list[_Held]]
    _tid_cpu: dict[int, int | None]
    _irqs_on: dict[int | None, bool]
    _irq_stack: dict[int | None, list[tuple[int, bool]]]
    _reported: set[Any]
    _ctx_name: Callable[[int, int | None], str]

    def _report(self, key: Any, f: Finding) -> None:
        if key in self._reported:
            return
        self._reported.add(key)
        self.found.append(f)

    def _recursive(self, ev: Event, tid: int, cpu: int | None, o: _Held, h: _Held) -> None:
        who = self._ctx_name(tid, cpu)
        c = h.cls
        text = "\n".join([
            _banner("WARNING: possible recursive locking detected"),
            f"{who} is trying to acquire lock:",
            f"{c.label()}, at: {h.at()}", "",
            "but task is already holding lock:",
            f"{o.cls.label()}, at: {o.at()}", "",
            "other info that might help us debug this:",
            " Possible unsafe locking scenario:", "",
            "       CPU0", "       ----",
            f"  lock({c.name});", f"  lock({c.name});", "",
            " *** DEADLOCK ***", "",
            " May be due to missing lock nesting notation", "",
            "stack backtrace:", _frames(h.stack)])
        self._report(("rec", c.key), Finding(
            "lockdep:recursive-locking",
            f"possible recursive locking detected: {who} takes {c.name} twice",
            details=text, sites={"held": o.at(), "acquire": h.at()},
            potential=True, step=ev.time, data={"lock": c.name, "class": c.key[0]}))

    def _circular(self, ev: Event, tid: int, cpu: int | None, prev: _Held, nxt: _Held,
                  path: list[LockClass]) -> None:
        # path: nxt ->* prev already recorded; the new edge prev -> nxt closes the cycle
        who = self._ctx_name(tid, cpu)
        a, b = prev.cls, nxt.cls
        lines = [
            _banner("WARNING: possible circular locking dependency detected"),
            f"{who} is trying to acquire lock:",
            f"{b.label()}, at: {nxt.at()}", "",
            "but task is already holding lock:",
            f"{a.label()}, at: {prev.at()}", "",
            "which lock already depends on the new lock.", "",
            "the existing dependency chain (in reverse order) is:", ""]
        k = len(path) - 1
        lines += [f"-> #{k} ({path[-1].name}):"]
        # the last node of the path (= a) was acquired while holding path[-2]
        for i in range(len(path) - 1, 0, -1):
            src, dst = path[i - 1], path[i]
            _ps, ds, ctx = self.fwd[src][dst]
            if i != len(path) - 1:
                lines.append(f"-> #{i} ({dst.name}):")
            lines.append(_frames(ds))
            lines.append(f"       [{ctx}]")
            lines.append("")
        lines += [f"-> #0 ({b.name}):", _frames(nxt.stack), ""]
        # print_circular_lock_scenario(): source (the lock being acquired), target (the
        # held one) and the target's parent on the path source ->* target (a dependency
        # that exists: parent -> target)
        parent = path[-2]
        lines += ["other info that might help us debug this:", ""]
        if parent is not b:
            lines += ["Chain exists of:", f"  {b.name} --> {parent.name} --> {a.name}", ""]
        lines += [" Possible unsafe locking scenario:", "",
                  "       CPU0                    CPU1",
                  "       ----                    ----",
                  f"  lock({a.name});",
                  f"                               lock({parent.name});",
                  f"                               lock({a.name});",
                  f"  lock({b.name});", "", " *** DEADLOCK ***", ""]
        lines += ["stack backtrace:", _frames(nxt.stack)]
        names = [c.name for c in path]
        self._report(("circ", frozenset(c.key for c in path)), Finding(
            "lockdep:circular-locking",
            f"possible circular locking dependency: {' -> '.join(names)} -> {names[0]}",
            details="\n".join(lines),
            sites={"held": prev.at(), "acquire": nxt.at()},
            potential=True, step=ev.time,
            data={"cycle": names, "held": a.name, "acquiring": b.name}))

    def _inconsistent(self, ev: Event, tid: int, cpu: int | None, cls: LockClass, old: str,
                      new: str, h: _Held) -> None:
        who = self._ctx_name(tid, cpu)
        ostack, ostep, octx = cls.usage[old]
        nstack = cls.usage[new][0]
        in_irq = self._irq_stack.get(cpu)
        hc = 1 if in_irq else 0
        he = 1 if self._irqs_on.get(cpu, True) else 0
        lines = [
            _banner("WARNING: inconsistent lock state"),
            f"inconsistent {{{old}}} -> {{{new}}} usage.",
            f"{who} [HC{hc}[{hc}]:SC0[0]:HE{he}:SE{he}] takes:",
            f"{cls.label()}, at: {h.at()}",
            f"{{{old}}} state was registered at:", _frames(ostack, "  "),
            f"  [{octx}, step {ostep}]",
            f"irq event stamp: {ev.time}", "",
            "other info that might help us debug this:",
            " Possible unsafe locking scenario:", "",
            "       CPU0", "       ----",
            f"  lock({cls.name});", "  <Interrupt>", f"    lock({cls.name});", "",
            " *** DEADLOCK ***", "",
            "stack backtrace:", _frames(nstack)]
        self._report(("inc", cls.key), Finding(
            "lockdep:inconsistent-lock-state",
            f"inconsistent {{{old}}} -> {{{new}}} usage of {cls.name}",
            details="\n".join(lines),
            sites={old: _at(ostack), new: _at(nstack)}, potential=True, step=ev.time,
            data={"lock": cls.name, "class": cls.key[0], "from": old, "to": new}))

    def _inversion(self, ev: Event, tid: int, cpu: int | None, safe: LockClass,
                   unsafe: LockClass, prev: _Held, nxt: _Held) -> None:
        # print_bad_irq_dependency(): a new dependency prev -> nxt connects them
        who = self._ctx_name(tid, cpu)
        s_stack = safe.usage[IN_HARDIRQ][0]
        u_stack = unsafe.usage[HARDIRQ_ON][0]
        lines = [_banner("WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected"),
                 f"{who} is trying to acquire:", f"{nxt.cls.label()}, at: {nxt.at()}",
                 "", "and this task is already holding:",
                 f"{prev.cls.label()}, at: {prev.at()}",
                 "which would create a new lock dependency:",
                 f" ({prev.cls.name}) -> ({nxt.cls.name})", "",
                 "but this new dependency connects a HARDIRQ-irq-safe lock:",
                 f" {safe.label()}", "", "... which became HARDIRQ-irq-safe at:",
                 _frames(s_stack, "  "), "", "to a HARDIRQ-irq-unsafe lock:",
                 f" {unsafe.label()}", "", "... which became HARDIRQ-irq-unsafe at:",
                 _frames(u_stack, "  "), "",
                 "other info that might help us debug this:", "",
                 *_irq_scenario(safe, unsafe, nxt.cls if prev.cls is safe else prev.cls)]
        self._report(("inv", safe.key, unsafe.key), Finding(
            "lockdep:irq-lock-inversion",
            f"HARDIRQ-safe -> HARDIRQ-unsafe lock order detected: {safe.name} -> "
            f"{unsafe.name}",
            details="\n".join(lines),
            sites={"safe": _at(s_stack), "unsafe": _at(u_stack), "acquire": nxt.at()},
            potential=True, step=ev.time, data={"safe": safe.name, "unsafe": unsafe.name}))

    def _irq_inversion(self, ev: Event, tid: int, cpu: int | None, h: _Held,
                       path: list[LockClass], *, forwards: bool) -> None:
        # print_irq_inversion_bug(): h's class just became HARDIRQ-safe (forwards: path
        # runs this -> ... -> an unsafe class) or HARDIRQ-unsafe (backwards: path runs
        # this <- ... <- a safe class), closing a safe -> unsafe chain of dependencies
        who = self._ctx_name(tid, cpu)
        this, other = path[0], path[-1]
        if forwards:
            safe, unsafe = this, other
            line = "but this lock took another, HARDIRQ-unsafe lock in the past:"
        else:
            safe, unsafe = other, this
            line = "but this lock was taken by another, HARDIRQ-safe lock in the past:"
        # the "middle" lock: the one next to this class on the path (none of two locks)
        middle = path[1] if len(path) > 2 else unsafe
        s_stack = safe.usage[IN_HARDIRQ][0]
        u_stack = unsafe.usage[HARDIRQ_ON][0]
        lines = [_banner("WARNING: possible irq lock inversion dependency detected"),
                 f"{who} just changed the state of lock:", f"{this.label()}, at: {h.at()}",
                 line, f" {other.label()}", "", "",
                 "and interrupts could create inverse lock ordering between them.", "", "",
                 "other info that might help us debug this:",
                 *_irq_scenario(safe, unsafe, middle), "",
                 "the shortest dependencies between 2nd lock and 1st lock:"]
        # from the other lock back to this one, each dependency with its stack
        fwd = self.fwd
        for i in range(len(path) - 1, -1, -1):
            c = path[i]
            lines.append(f" -> {c.label()}")
            j = i - 1 if forwards else i + 1   # the neighbour c was acquired under
            if 0 <= j < len(path):
                lines += ["    ... acquired at:", _frames(fwd[path[j]][c][1], "      ")]
        lines += ["", "stack backtrace:", _frames(stack_now(self.engine))]
        self._report(("inv", safe.key, unsafe.key), Finding(
            "lockdep:irq-lock-inversion",
            f"possible irq lock inversion dependency detected: {safe.name} (HARDIRQ-safe) "
            f"-> {unsafe.name} (HARDIRQ-unsafe)",
            details="\n".join(lines),
            sites={"safe": _at(s_stack), "unsafe": _at(u_stack), "acquire": h.at()},
            potential=True, step=ev.time,
            data={"safe": safe.name, "unsafe": unsafe.name, "changed": this.name}))

    def _irq_enabled_in_atomic(self, ev: Event, h: _Held | None, in_irq: bool) -> None:
        # irqlab's own report (Linux sees it only indirectly, when mark_held_locks finds an
        # irq-safe lock held as interrupts come back on): an _irq unlock, or
        # local_irq_enable(), turning interrupts on inside a section that had them off
        cpu = ev.cpu
        stack = stack_now(self.engine)
        tid = next((t for t in sorted(self._held) if self._tid_cpu.get(t) == cpu
                    and self._held[t]), None)
        holding = []
        for t in sorted(self._held):
            if self._tid_cpu.get(t) == cpu:
                holding += [x for x in self._held[t]]
        if h is None:
            what = "local_irq_enable()"
            why = "in hard-irq context"
            taken = ""
        else:
            what = f"spin_unlock_irq({h.cls.name})"
            taken = f"{_LOCK_FN.get(h.mode, 'spin_lock')}({h.cls.name})"
            why = ("in hard-irq context" if in_irq else
                   f"that were already disabled when {taken} was called")
        held_txt = [f" #{i}: {x.cls.label()}, at: {x.at()}" for i, x in enumerate(holding)]
        lines = [_banner("WARNING: interrupts enabled inside an irq-disabled section"),
                 f"{what} re-enables interrupts {why}"]
        if h is not None:
            lines.append(f"{taken} was taken at: {h.at()}")
        lines += ["(use the irqsave/irqrestore variants)" if not in_irq else
                  "(an interrupt handler must not enable interrupts)", "",
                  f"{len(holding)} lock{'s' if len(holding) != 1 else ''} held on CPU{cpu}:",
                  *held_txt, "", "stack backtrace:", _frames(stack)]
        key = ("irqen", h.cls.key if h is not None else None, in_irq)
        self._report(key, Finding(
            "lockdep:irq-enabled-in-atomic",
            f"{what} re-enables interrupts {why}"
            + (f" (holding {', '.join(x.cls.name for x in holding)})" if holding else ""),
            details="\n".join(lines),
            sites={"enable": _at(stack)} | ({"lock": h.at()} if h is not None else {}),
            potential=True, step=ev.time,
            data={"lock": h.cls.name if h is not None else "", "in_irq": in_irq,
                  "held": [x.cls.name for x in holding], "tid": -1 if tid is None else tid}))

    def _wait_context(self, ev: Event, tid: int, cpu: int | None, held: list[_Held],
                      h: _Held, in_irq: bool, why: str) -> None:
        t = h.cls.type
        who = self._ctx_name(tid, cpu)
        ctxw = 2 if (in_irq or h.prev_off or any(x.cls.type == "raw_spin" for x in held)) else 3
        lines = ["=============================", "[ BUG: Invalid wait context ]",
                 "-----------------------------",
                 f"{who} is trying to lock:", f"{h.cls.label()}, at: {h.at()}",
                 "other info that might help us debug this:", f"context-{{{ctxw}:{ctxw}}}",
                 f"{len(held)} lock{'s' if len(held) != 1 else ''} held by {who}:",
                 *[f" #{i}: {x.cls.label()}, at: {x.at()}" for i, x in enumerate(held)],
                 "stack backtrace:", _frames(h.stack)]
        self._report(("wait", h.cls.key, why), Finding(
            "lockdep:invalid-wait-context",
            f"Invalid wait context: {t} lock {h.cls.name} taken {why}",
            details="\n".join(lines), sites={"acquire": h.at()}, potential=True,
            step=ev.time, data={"lock": h.cls.name, "type": t, "why": why}))

    def _held_at_exit(self, ev: Event, tid: int, cpu: int | None, held: list[_Held],
                      maps: list[tuple[str, str, int, Any]]) -> None:
        # debug_check_no_locks_held() -> print_held_locks_bug(): the held locks, then
        # lockdep_print_held_locks()'s list, rcu_read_lock and SRCU read sides included
        # (their maps are held without dependency checks: no usage bits, "{....}")
        who = self._ctx_name(tid, cpu)
        entries: list[tuple[int, int, str, str, str]] = []
        for i, x in enumerate(held):
            entries.append((x.step, i, x.cls.name, x.cls.label(), x.at()))
        for i, (name, site, step, key) in enumerate(maps):
            w = "{1:3}" if key is None else "{0:0}"
            entries.append((step, len(held) + i, name, f"({name}){{....}}-{w}", site))
        entries.sort(key=lambda e: (e[0], e[1]))
        n = len(entries)
        # (do_exit()'s stack in Linux; here the context's function has returned)
        fn = getattr(getattr(thread_of(self.engine, tid), "coro", None), "__name__", None)
        lines = [_banner(f"WARNING: {who} still has locks held!"),
                 f"{n} lock{'s' if n != 1 else ''} held by {who}:",
                 *[f" #{i}: {e[3]}, at: {e[4]}" for i, e in enumerate(entries)], "",
                 "stack backtrace:", f"       ({fn or who} returned)"]
        names = [e[2] for e in entries]
        self._report(("exit", tuple(names)), Finding(
            "lockdep:held-at-exit",
            f"{who} still has locks held when it returns: {', '.join(names)}",
            details="\n".join(lines), sites={"held": entries[0][4]}, potential=False,
            step=ev.time, data={"held": names, "tid": tid}))

    def _atomic_sleep(self, ev: Event) -> None:
        a = ev.args
        stack = a.get("stack", "")
        frames = stack.split(";") if stack else []
        who = self._ctx_name(a["tid"], ev.cpu)
        lines = ["BUG: sleeping function called from invalid context",
                 f"{who}: {a['op']} may sleep, {a['reason']}", "stack backtrace:",
                 _frames(frames)]
        self._report(("sleep", _at(frames), a["op"]), Finding(
            "sleep-in-atomic", f"{a['op']} may sleep: {a['reason']} ({who})",
            details="\n".join(lines), sites={"sleep": _at(frames)}, potential=False,
            step=ev.time, data={"op": a["op"], "reason": a["reason"]}))
