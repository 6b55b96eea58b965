"""Feeding the interrupt observer a synthetic event stream (shared by the test_irqs* files)."""

from __future__ import annotations

from typing import Any

from irqlab.check.irqs import IrqObserver
from irqlab.events import EventStream


class Ok:
    outcome = "ok"
    steps = 10
    schedule = ""


def observer() -> tuple[EventStream, IrqObserver]:
    """A stream and an interrupt observer (no engine) that sees every event emitted on it."""
    es = EventStream()
    ob = IrqObserver(None)

    def feed(ev: Any) -> None:
        fn = ob.handlers.get(ev.kind)
        if fn is not None:
            fn(ev)

    es.subscribe(feed)
    return es, ob


def kinds(ob: IrqObserver) -> list[str]:
    """The kinds of every finding: made during the stream, then at the end of an ok run."""
    return [f.kind for f in ob.found + ob.finish(Ok())]
