"""The event stream: delivery, kind filters, numbering."""

from __future__ import annotations

import pytest

from irqlab.errors import InvalidArgumentType
from irqlab.events import EventStream


def test_kinds_filter_delivers_only_named_kinds_and_keeps_numbering() -> None:
    es = EventStream()
    got: list[tuple[int, str]] = []
    es.subscribe(lambda e: got.append((e.seq, e.kind)), kinds=("b",))
    assert es.wants("b") and not es.wants("a")
    assert es.emit("a", x=1) is None          # not built: nobody wants it
    ev = es.emit("b", x=2)
    assert ev is not None and ev.seq == 1     # seq counts every emit
    assert got == [(1, "b")]


def test_a_subscriber_without_kinds_sees_everything_others_stay_filtered() -> None:
    es = EventStream()
    some: list[str] = []
    every: list[str] = []
    es.subscribe(lambda e: some.append(e.kind), kinds="b")
    fn = es.subscribe(lambda e: every.append(e.kind))
    assert es.wants("a")
    es.emit("a")
    es.emit("b")
    assert some == ["b"] and every == ["a", "b"]
    es.unsubscribe(fn)
    assert not es.wants("a") and es.wants("b")
    es.emit("a")
    assert every == ["a", "b"] and some == ["b"]


def test_unsubscribe_during_delivery_does_not_change_that_delivery() -> None:
    es = EventStream()
    seen: list[str] = []

    def first(e: object) -> None:
        seen.append("first")
        es.unsubscribe(second)

    def second(e: object) -> None:
        seen.append("second")

    es.subscribe(first)
    es.subscribe(second)
    es.emit("a")
    es.emit("a")
    assert seen == ["first", "second", "first"]
    assert es.wants("a")  # first is still subscribed


def test_bad_kinds_name_the_argument() -> None:
    with pytest.raises(InvalidArgumentType, match="kinds must be"):
        EventStream().subscribe(lambda e: None, kinds=[1])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentType, match="fn must be callable"):
        EventStream().subscribe(None)  # type: ignore[arg-type]


def test_subscribe_handlers_routes_each_kind_in_subscription_order() -> None:
    es = EventStream()
    got: list[tuple[str, str, int]] = []
    tok = es.subscribe_handlers({"a": lambda e: got.append(("h.a", e.kind, e.seq)),
                                 "b": lambda e: got.append(("h.b", e.kind, e.seq))})
    assert es.enabled and es.wants("a") and es.wants("b") and not es.wants("c")
    assert es.emit("c") is None
    es.emit("a", x=1)
    fn = es.subscribe(lambda e: got.append(("all", e.kind, e.seq)))
    es.emit_args("b", None, {"y": 2})
    es.emit("c")
    assert got == [("h.a", "a", 1), ("h.b", "b", 2), ("all", "b", 2), ("all", "c", 3)]
    es.unsubscribe(tok)
    assert es.wants("a")                       # (the catch-all subscriber)
    es.unsubscribe(fn)
    assert not es.enabled and es.emit("a") is None
    with pytest.raises(InvalidArgumentType, match="handlers must"):
        es.subscribe_handlers([("a", print)])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentType, match="handlers must map kinds to callables"):
        es.subscribe_handlers({"a": 1})  # type: ignore[dict-item]
    assert not es.enabled


def test_should_emit_numbers_a_dropped_event_like_emit() -> None:
    a, b = EventStream(), EventStream()
    got: list[int] = []
    for es in (a, b):
        es.subscribe(lambda e: got.append(e.seq), kinds=("x",))
    assert not EventStream().should_emit("x")    # nobody listens: nothing counted
    for kind in ("y", "x", "y", "x"):
        a.emit(kind, v=1)                         # the plain way
        if b.should_emit(kind):                   # the cheap way
            b.emit(kind, v=1)
    assert got == [1, 1, 3, 3] and a._seq == b._seq == 4   # (a, b alternate)
