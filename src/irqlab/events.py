"""The one event stream: what the hardware and the engine did, and why.

Every layer reports on a single :class:`EventStream` owned by the
:class:`~irqlab.hw.machine.Machine` (the engine reuses its machine's stream).
Observers -- the trace exporter, the checkers, statistics, a test -- subscribe
to it; nothing reaches into model internals.

Events are named ``<block>_<event>`` (``its_cmd_mapti``, ``gicr_lpi_pending``,
``cpuif_ack``, ``sim_lock_acquire``) and carry keyword fields.  Their text form
follows the trace-point convention of the kernel and QEMU, IDs in hex::

    [12] cpu1 its_cmd_mapti devid=0x3 eventid=0x20 intid=0x2020 icid=0x1

Emitting is free when nobody listens: producers test :attr:`EventStream.enabled`
before building an event, so the fast path costs one attribute load.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["Event", "EventStream", "Recorder"]


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return hex(value) if value >= 0 else f"-{-value:#x}"
    if isinstance(value, str):
        return value if value and " " not in value else repr(value)
    return repr(value)


class Event:
    """One thing that happened.

    ``seq`` numbers events on their stream from 0; ``time`` is the stream's
    logical clock when the event was emitted (the engine's step counter; 0
    when only the hardware runs); ``cpu`` is the CPU the event concerns, or
    ``None``; ``args`` holds the fields in emission order.
    """

    __slots__ = ("args", "cpu", "kind", "seq", "time")

    def __init__(self, seq: int, time: int, kind: str, cpu: int | None, args: dict[str, Any]):
        self.seq = seq
        self.time = time
        self.kind = kind
        self.cpu = cpu
        self.args = args

    @property
    def block(self) -> str:
        """The producing block: the part of :attr:`kind` before the first ``_``."""
        return self.kind.split("_", 1)[0]

    def __getitem__(self, name: str) -> Any:
        return self.args[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.args.get(name, default)

    def text(self) -> str:
        """The event without its time stamp: ``kind field=value ...``."""
        fields = " ".join(f"{k}={_fmt(v)}" for k, v in self.args.items())
        return f"{self.kind} {fields}" if fields else self.kind

    def __str__(self) -> str:
        where = f"cpu{self.cpu} " if self.cpu is not None else ""
        return f"[{self.time}] {where}{self.text()}"

    def __repr__(self) -> str:
        return f"<Event #{self.seq} {self}>"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``--json`` output, trace export)."""
        return {"seq": self.seq, "time": self.time, "kind": self.kind, "cpu": self.cpu,
                "args": dict(self.args)}


Subscriber = Callable[[Event], None]

#: kind sets already validated by subscribe() (a cache of a pure check)
_CHECKED: set[frozenset[str]] = set()


class EventStream:
    """An ordered stream of :class:`Event`, delivered synchronously to subscribers."""

    def __init__(self) -> None:
        # a tuple, replaced on (un)subscribe: emit() iterates it without copying, and a
        # subscriber that unsubscribes during a delivery does not change that delivery
        self._subscribers: tuple[Subscriber, ...] = ()
        #: per subscriber, the kinds it takes (None: every kind)
        self._kinds: tuple[frozenset[str] | None, ...] = ()
        #: the union of the kinds (None: some subscriber takes every kind)
        self._wanted: frozenset[str] | None = None
        self._filter = False
        #: True while at least one subscriber listens; producers test it first.
        self.enabled = False
        #: Logical clock stamped on events; the engine advances it per step.
        self.time = 0
        self._seq = 0

    def subscribe(self, fn: Subscriber, kinds: Iterable[str] | None = None) -> Subscriber:
        """Call ``fn(event)`` for every later event; returns ``fn`` for :meth:`unsubscribe`.

        ``kinds``: only events of these kinds are delivered to ``fn`` (default: every
        event).  While every subscriber names its kinds, events of other kinds are not
        built at all (:meth:`wants` tells producers so; ``seq`` still counts them, so
        event numbers do not depend on who listens).
        """
        if not callable(fn):
            from irqlab.errors import InvalidArgumentType

            raise InvalidArgumentType(f"fn must be callable, not {fn!r}")
        ks: frozenset[str] | None = None
        if kinds is not None:
            if type(kinds) is frozenset and kinds in _CHECKED:
                ks = kinds  # (observers subscribe with the same set for every run)
            else:
                if isinstance(kinds, str):
                    kinds = (kinds,)
                ks = frozenset(kinds)
                if not all(isinstance(k, str) for k in ks):
                    from irqlab.errors import InvalidArgumentType

                    raise InvalidArgumentType(
                        f"kinds must be an iterable of event kinds (str), not {kinds!r}")
                if len(_CHECKED) < 256:
                    _CHECKED.add(ks)
        self._subscribers += (fn,)
        self._kinds += (ks,)
        self._update()
        return fn

    def unsubscribe(self, fn: Subscriber) -> None:
        """Stop delivering to ``fn``; unknown subscribers are ignored."""
        subs = list(self._subscribers)
        if fn in subs:
            i = subs.index(fn)
            self._subscribers = self._subscribers[:i] + self._subscribers[i + 1:]
            self._kinds = self._kinds[:i] + self._kinds[i + 1:]
        self._update()

    def _update(self) -> None:
        ks = self._kinds
        self.enabled = bool(ks)
        if len(ks) == 1:
            # the common single-subscriber case delivers without per-subscriber checks
            self._wanted = ks[0]
            self._filter = False
            return
        self._wanted = (None if None in ks
                        else frozenset().union(*ks))  # type: ignore[arg-type]
        self._filter = any(k is not None for k in ks)

    def wants(self, kind: str) -> bool:
        """Whether an event of ``kind`` would reach a subscriber now (producers on hot
        paths test it before computing expensive fields)."""
        w = self._wanted
        return self.enabled and (w is None or kind in w)

    def emit(self, kind: str, cpu: int | None = None, **args: Any) -> Event | None:
        """Build an event and deliver it; returns ``None`` when nobody listens to ``kind``."""
        if not self.enabled:
            return None
        return self.emit_args(kind, cpu, args)

    def emit_args(self, kind: str, cpu: int | None, args: dict[str, Any]) -> Event | None:
        """:meth:`emit` with the fields as a dict the stream takes over (hot producers
        build it as a literal, which costs less than keyword packing)."""
        if not self.enabled:
            return None
        seq = self._seq
        self._seq = seq + 1
        w = self._wanted
        if w is not None and kind not in w:
            return None
        ev = Event(seq, self.time, kind, cpu, args)
        if self._filter:
            for fn, ks in zip(self._subscribers, self._kinds, strict=True):
                if ks is None or kind in ks:
                    fn(ev)
        else:
            for fn in self._subscribers:
                fn(ev)
        return ev

    def record(self, maxlen: int | None = None) -> Recorder:
        """Start recording every later event (the last ``maxlen`` if given)."""
        return Recorder(self, maxlen)


class Recorder:
    """A subscriber that keeps events; iterable, indexable by position, stoppable."""

    def __init__(self, stream: EventStream, maxlen: int | None = None) -> None:
        self.stream = stream
        self.events: deque[Event] = deque(maxlen=maxlen)
        stream.subscribe(self._on_event)

    def _on_event(self, ev: Event) -> None:
        self.events.append(ev)

    def stop(self) -> None:
        """Unsubscribe; the events recorded so far stay."""
        self.stream.unsubscribe(self._on_event)

    def clear(self) -> None:
        self.events.clear()

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, i: int) -> Event:
        return self.events[i]

    def kinds(self) -> list[str]:
        """The kinds of the recorded events, in order."""
        return [e.kind for e in self.events]

    def of(self, *kinds: str) -> list[Event]:
        """The recorded events whose kind is one of ``kinds`` (or starts with ``kind*``)."""
        exact = {k for k in kinds if not k.endswith("*")}
        prefixes = tuple(k[:-1] for k in kinds if k.endswith("*"))
        return [e for e in self.events
                if e.kind in exact or (prefixes and e.kind.startswith(prefixes))]

    def text(self) -> str:
        """The readable text form, one event per line."""
        return "\n".join(str(e) for e in self.events)
