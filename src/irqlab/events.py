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
from collections.abc import Callable, Iterable, Iterator, Mapping
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


def _fan_out(fns: tuple[Subscriber, ...]) -> Subscriber:
    # several subscribers of one kind, in subscription order (the tuple is a snapshot: a
    # subscriber that unsubscribes during a delivery does not change that delivery)
    def deliver(ev: Event) -> None:
        for fn in fns:
            fn(ev)
    return deliver


class EventStream:
    """An ordered stream of :class:`Event`, delivered synchronously to subscribers.

    Delivery is routed by kind: one dict lookup finds the one callable that takes an
    event of that kind (a subscriber, a handler of :meth:`subscribe_handlers`, or a
    fan-out over several of them), so an event costs the same however many kinds the
    subscribers name.
    """

    def __init__(self) -> None:
        # (fn, kinds) per subscription, in order; fn is a callable, or for
        # subscribe_handlers() a dict kind -> callable (kinds is then its key set)
        self._subs: tuple[tuple[Any, frozenset[str] | None], ...] = ()
        #: kind -> what delivers it; kinds not in it go to _rest (None: not built at all)
        self._route: dict[str, Subscriber] = {}
        self._rest: Subscriber | None = None
        #: True while at least one subscriber listens; producers test it first.
        self.enabled = False
        #: kind -> a direct handler, while the only subscription registered one (see
        #: subscribe_handlers).  A hot producer in irqlab may call it instead of
        #: emitting: ``d = stream.direct.get(kind)``; if ``d`` is not None, count the
        #: event (``stream._seq += 1``) and call ``d(stream.time, cpu, *fields)`` with
        #: the fields the event would carry, in order.  Nobody else sees the event, so
        #: the outcome is the same as delivering it.
        self.direct: dict[str, Callable[..., None]] = {}
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
                _check_kinds(ks, kinds)
        self._subs += ((fn, ks),)
        self._update()
        return fn

    def subscribe_handlers(self, handlers: Mapping[str, Subscriber],
                           direct: Mapping[str, Callable[..., None]] | None = None) -> Any:
        """Deliver each event of a kind in ``handlers`` to ``handlers[kind]``; returns a
        token for :meth:`unsubscribe`.

        One subscription with a handler per kind (what the checker's observers use):
        no dispatch of their own, the stream's routing table calls the handler.

        ``direct`` (optional): kind -> a handler taking the event's ``time``, ``cpu``
        and fields *positionally*, in the order the producer emits them.  While this
        subscription is the only one, :attr:`direct` offers them to producers, which
        may then call one instead of building the event (see :attr:`direct`).
        """
        if not isinstance(handlers, Mapping):
            from irqlab.errors import InvalidArgumentType

            raise InvalidArgumentType(f"handlers must be a mapping, not {handlers!r}")
        table = dict(handlers)
        ks = frozenset(table)
        if ks not in _CHECKED:
            _check_kinds(ks, handlers)
        for fn in table.values():
            if not callable(fn):
                from irqlab.errors import InvalidArgumentType

                raise InvalidArgumentType(f"handlers must map kinds to callables, not {fn!r}")
        dt = dict(direct) if direct is not None else {}
        for k, fn in dt.items():
            if k not in table or not callable(fn):
                from irqlab.errors import InvalidArgumentType

                raise InvalidArgumentType(
                    f"direct must map kinds of handlers to callables, not {direct!r}")
        return self._subscribe_table(table, dt, ks)

    def _subscribe_table(self, table: dict[str, Subscriber],
                         direct: dict[str, Callable[..., None]], ks: frozenset[str]) -> Any:
        # subscribe_handlers() without the checks (the observers' tables are built from
        # class declarations; ks is frozenset(table))
        token = _HandlersToken(table, direct)
        self._subs += ((token, ks),)
        self._update()
        return token

    def unsubscribe(self, fn: Any) -> None:
        """Stop delivering to ``fn`` (or a :meth:`subscribe_handlers` token); unknown
        subscribers are ignored."""
        subs = self._subs
        for i, (f, _ks) in enumerate(subs):
            if f is fn or f == fn:
                self._subs = subs[:i] + subs[i + 1:]
                break
        self._update()

    def _update(self) -> None:
        subs = self._subs
        self.enabled = bool(subs)
        self.direct = {}
        if len(subs) == 1:
            # the common single-subscriber case: the routing table is its own
            f, ks = subs[0]
            if type(f) is _HandlersToken:
                self._route = dict(f.table)
                self._rest = None
                self.direct = f.direct
            elif ks is None:
                self._route = {}
                self._rest = f
            else:
                self._route = dict.fromkeys(ks, f)
                self._rest = None
            return
        named: set[str] = set()
        for _f, ks in subs:
            if ks is not None:
                named |= ks
        route: dict[str, Subscriber] = {}
        for kind in sorted(named):
            fns = tuple(_handler(f, ks, kind) for f, ks in subs if ks is None or kind in ks)
            route[kind] = fns[0] if len(fns) == 1 else _fan_out(fns)
        rest = tuple(f for f, ks in subs if ks is None)
        self._route = route
        self._rest = (None if not rest else rest[0] if len(rest) == 1 else _fan_out(rest))

    def wants(self, kind: str) -> bool:
        """Whether an event of ``kind`` would reach a subscriber now (producers on hot
        paths test it before computing expensive fields)."""
        return self.enabled and (kind in self._route or self._rest is not None)

    def should_emit(self, kind: str) -> bool:
        """For a producer about to emit ``kind``: True if the event would reach a
        subscriber (build it and :meth:`emit` it); False if not -- the event is then
        numbered as emitted and dropped, so the producer skips it entirely.

        Cheaper than building the fields of an event nobody takes: ``if ev.enabled and
        ev.should_emit("irq_startup"): ev.emit("irq_startup", cpu=..., irq=...)``.
        """
        if not self.enabled:
            return False
        if kind in self._route or self._rest is not None:
            return True
        self._seq += 1
        return False

    def emit(self, kind: str, cpu: int | None = None, **args: Any) -> Event | None:
        """Build an event and deliver it; returns ``None`` when nobody listens to ``kind``."""
        if not self.enabled:
            return None
        seq = self._seq
        self._seq = seq + 1
        fn = self._route.get(kind, self._rest)
        if fn is None:
            return None
        ev = Event(seq, self.time, kind, cpu, args)
        fn(ev)
        return ev

    def emit_args(self, kind: str, cpu: int | None, args: dict[str, Any]) -> Event | None:
        """:meth:`emit` with the fields as a dict the stream takes over (hot producers
        build it as a literal, which costs less than keyword packing)."""
        if not self.enabled:
            return None
        seq = self._seq
        self._seq = seq + 1
        fn = self._route.get(kind, self._rest)
        if fn is None:
            return None
        ev = Event(seq, self.time, kind, cpu, args)
        fn(ev)
        return ev

    def record(self, maxlen: int | None = None) -> Recorder:
        """Start recording every later event (the last ``maxlen`` if given)."""
        return Recorder(self, maxlen)


class _HandlersToken:
    """What :meth:`EventStream.subscribe_handlers` returns (pass it to ``unsubscribe``)."""

    __slots__ = ("direct", "table")

    def __init__(self, table: dict[str, Subscriber],
                 direct: dict[str, Callable[..., None]]) -> None:
        self.table = table
        self.direct = direct

    def __repr__(self) -> str:
        return f"<event handlers for {len(self.table)} kinds>"


def _handler(f: Any, ks: frozenset[str] | None, kind: str) -> Subscriber:
    return f.table[kind] if type(f) is _HandlersToken else f  # type: ignore[no-any-return]


def _check_kinds(ks: frozenset[str], given: Any) -> None:
    if not all(isinstance(k, str) for k in ks):
        from irqlab.errors import InvalidArgumentType

        raise InvalidArgumentType(
            f"kinds must be an iterable of event kinds (str), not {given!r}")
    if len(_CHECKED) < 256:
        _CHECKED.add(ks)


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
