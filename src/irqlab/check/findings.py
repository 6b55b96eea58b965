"""What the checker reports: a :class:`Finding` (the kind, one line, the details, the sites).

Kinds are short stable strings that tests assert exactly:

* lifetimes: ``use-after-free``, ``double-free``, ``free-before-grace-period`` (a
  prediction), ``leak``, ``refcount`` (a ``refcount_t`` warning: addition on 0, underflow);
* lockdep: ``lockdep:circular-locking``, ``lockdep:recursive-locking``,
  ``lockdep:inconsistent-lock-state``, ``lockdep:irq-lock-inversion``
  (HARDIRQ-safe -> HARDIRQ-unsafe), ``lockdep:irq-enabled-in-atomic`` (an ``_irq``
  unlock whose ``_irq`` lock found interrupts already off, or an enable in hard-irq
  context), ``lockdep:invalid-wait-context``, ``lockdep:held-at-exit`` (a task returning
  with locks or RCU/SRCU read sections held), ``sleep-in-atomic``;
* interrupts: ``lost-interrupt``, ``duplicate-interrupt``, ``spurious-interrupt``,
  ``stuck-active``, ``affinity-violation``;
* engine outcomes: ``deadlock``, ``livelock``, ``model-error`` (model code raised);
* scenario invariants: ``invariant:<name>`` (for example ``invariant:reserve-once``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Finding"]


@dataclass
class Finding:
    """One defect a run showed.

    ``kind`` is one of the kinds above; ``message`` one line; ``details`` the
    multi-line body (a lockdep report, the three sites of a use-after-free);
    ``sites`` named source sites (``{"alloc": ..., "free": ..., "use": ...}``);
    ``schedule`` the schedule string of the run that showed it (filled by the
    runner); ``potential`` is True for findings predicted without witnessing
    them (lockdep), False for witnessed ones; ``data`` holds anything a tool
    may want (JSON-ready).
    """

    kind: str
    message: str
    details: str = ""
    sites: dict[str, str] = field(default_factory=dict)
    schedule: str = ""
    potential: bool = False
    step: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "details": self.details,
                "sites": dict(self.sites), "schedule": self.schedule,
                "potential": self.potential, "step": self.step, "data": dict(self.data)}
