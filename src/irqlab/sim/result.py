"""What a run returns: :class:`RunResult`, and for a deadlock the per-CPU stacks of waits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Deadlock", "RunResult", "WaitInfo"]


@dataclass(frozen=True)
class WaitInfo:
    """One blocked context: what it waits for, who holds that, what it holds itself."""

    cpu: int | None
    tid: int
    name: str
    kind: str
    waiting_for: str
    holder: str | None
    holder_tid: int | None
    held: tuple[str, ...]
    stack: tuple[str, ...] = ()

    def __str__(self) -> str:
        s = f"{self.name} [{self.kind} tid {self.tid}] waits for {self.waiting_for}"
        if self.holder is not None:
            s += f" held by {self.holder}"
        if self.held:
            s += f"; holds {', '.join(self.held)}"
        return s


@dataclass
class Deadlock:
    """Every live context blocked: per CPU (``None`` for device actors), its stack of waits.

    Each CPU's list runs from the task context at the bottom to the innermost
    irq context.  :meth:`cycle` follows "waits for a lock held by" edges.
    """

    cpus: dict[int | None, list[WaitInfo]]

    def waits(self) -> list[WaitInfo]:
        """All blocked contexts, CPU by CPU."""
        return [w for ws in self.cpus.values() for w in ws]

    def cycle(self) -> list[WaitInfo]:
        """The first cycle of the waits-for graph (in tid order), or ``[]`` if none."""
        by_tid = {w.tid: w for w in self.waits()}
        for start in sorted(by_tid):
            seen: list[int] = []
            t: int | None = start
            while t is not None and t in by_tid and t not in seen:
                seen.append(t)
                t = by_tid[t].holder_tid
            if t is not None and t in seen:
                return [by_tid[x] for x in seen[seen.index(t):]]
        return []

    def cycle_names(self) -> list[str]:
        return [f"{w.name}" for w in self.cycle()]

    def _report_order(self) -> list[int | None]:
        """The CPUs in report order: CPU0, CPU1, ..., then the device actors (``None``)."""
        return sorted(self.cpus, key=lambda c: (c is None, c or 0))

    def event_waits(self, names: Mapping[int, str],
                    ) -> tuple[tuple[int | None, int, str, str, str | None], ...]:
        """The ``waits`` field of the ``sim_deadlock`` event, in the order of the report.

        One ``(cpu, tid, name, waiting_for, holder)`` per blocked context: ``cpu``
        ``None`` for a device actor, ``holder`` the name (``names``: tid -> name) of
        the context whose action would let it go on, ``None`` if none.
        """
        return tuple((w.cpu, w.tid, w.name, w.waiting_for,
                      None if w.holder_tid is None else names[w.holder_tid])
                     for cpu in self._report_order() for w in self.cpus[cpu])

    def __str__(self) -> str:
        lines = ["deadlock: every live context is blocked"]
        for cpu in self._report_order():
            lines.append(f"  {'device actors' if cpu is None else f'CPU{cpu}'}:")
            for w in self.cpus[cpu]:
                lines.append(f"    {w}")
        cyc = self.cycle()
        if cyc:
            lines.append("  cycle: " + " -> ".join(w.name for w in cyc) + f" -> {cyc[0].name}")
        return "\n".join(lines)


class RunResult:
    """The outcome of :meth:`Engine.run`.

    ``outcome`` is ``"ok"``, ``"deadlock"``, ``"livelock"`` (``max_steps``
    reached) or ``"error"`` (model code raised: ``error``, ``traceback`` and
    the failing context's name in ``failed``).  ``schedule`` replays the run;
    ``choices`` are its recorded choices; ``cpus`` the final per-CPU state.
    """

    __slots__ = ("_engine", "_schedule", "choices", "deadlock", "error", "failed", "outcome",
                 "steps", "traceback")

    def __init__(self, *, outcome: str, engine: Any, choices: tuple[int, ...], steps: int,
                 error: BaseException | None = None, traceback: str | None = None,
                 failed: str | None = None, deadlock: Deadlock | None = None) -> None:
        self.outcome = outcome
        self._engine = engine
        self._schedule: str | None = None
        self.choices = choices
        self.steps = steps
        self.error = error
        self.traceback = traceback
        self.failed = failed
        self.deadlock = deadlock

    @property
    def schedule(self) -> str:
        """The schedule string (built on first use)."""
        s = self._schedule
        if s is None:
            s = self._schedule = self._engine.schedule
        return s

    @property
    def cpus(self) -> list[dict[str, Any]]:
        """Final per-CPU state (see :meth:`Engine.final_state`)."""
        return self._engine.final_state()  # type: ignore[no-any-return]

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def __repr__(self) -> str:
        return f"<RunResult {self.outcome} steps={self.steps} {self.schedule}>"

    def __str__(self) -> str:
        s = f"{self.outcome} after {self.steps} steps, schedule {self.schedule}"
        if self.error is not None:
            s += f"\n{self.failed}: {type(self.error).__name__}: {self.error}"
        if self.deadlock is not None:
            s += "\n" + str(self.deadlock)
        return s
