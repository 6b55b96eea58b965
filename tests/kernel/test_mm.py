"""The buddy page allocator and the memreserve table: invariants under random sequences."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab import sim
from irqlab.errors import InvalidArgumentValue
from irqlab.events import EventStream
from irqlab.kernel.mm import GFP_ATOMIC, GFP_KERNEL, PAGE_SIZE, MemReserve, PageAllocator

BASE = 0x4000_0000
SIZE = 8 << 20     # 8 MiB: two order-10 blocks


def _run(body: Any, events: EventStream | None = None) -> sim.RunResult:
    eng = sim.Engine(cpus=1)
    eng.spawn(0, body)
    res = eng.run()
    assert res.outcome == "ok", res.traceback
    return res


def test_initial_state_and_lowest_first() -> None:
    mm = PageAllocator(BASE, SIZE, EventStream())
    assert mm.free_blocks()[10] == (BASE, BASE + (4 << 20))
    assert mm.free_page_count == SIZE // PAGE_SIZE
    got: list[int] = []

    async def body() -> None:
        got.append(await mm.alloc_pages(0, GFP_KERNEL))
        got.append(await mm.alloc_pages(1, GFP_KERNEL))
        got.append(await mm.alloc_pages(0, GFP_ATOMIC))
        got.append(await mm.alloc_pages(10))
        got.append(await mm.alloc_pages(10))      # exhausted at order 10: 0

    _run(body)
    assert got == [BASE, BASE + 2 * PAGE_SIZE, BASE + PAGE_SIZE, BASE + (4 << 20), 0]
    assert mm.in_use(BASE + 3 * PAGE_SIZE) and not mm.in_use(BASE + 4 * PAGE_SIZE)


def test_reserved_pages_never_handed_out() -> None:
    mm = PageAllocator(BASE, SIZE, EventStream())
    mm.reserve(BASE + 0x5000, 0x10000)      # pages 5..20
    mm.reserve(0, 0x1000)                   # outside RAM: recorded only
    assert mm.reserved(BASE + 0x14000) and not mm.reserved(BASE + 0x15000)
    assert mm.reserved(0) and mm.reserved_ranges[0] == (0, 0x1000)
    assert mm.free_page_count == SIZE // PAGE_SIZE - 16
    got: list[int] = []

    async def body() -> None:
        while True:
            a = await mm.alloc_pages(0, GFP_ATOMIC)
            if not a:
                break
            got.append(a)

    _run(body)
    assert len(got) == SIZE // PAGE_SIZE - 16
    assert not any(BASE + 0x5000 <= a < BASE + 0x15000 for a in got)


def test_bad_free_is_an_event_not_a_crash() -> None:
    ev = EventStream()
    rec = ev.record()
    mm = PageAllocator(BASE, SIZE, ev)
    mm.free_pages(BASE, 0)
    assert [e["addr"] for e in rec.of("mm_bad_free")] == [BASE]
    with pytest.raises(InvalidArgumentValue, match="order"):
        mm.free_pages(BASE, 11)


def test_gfp_kernel_in_atomic_context_is_reported() -> None:
    eng = sim.Engine(cpus=1)
    mm = PageAllocator(BASE, SIZE, eng.events)
    rec = eng.events.record()

    async def body() -> None:
        await mm.alloc_pages(0, GFP_KERNEL, label="ok-here")
        flags = sim.local_irq_save()
        await mm.alloc_pages(0, GFP_ATOMIC, label="atomic-fine")
        await mm.alloc_pages(0, GFP_KERNEL, label="bad")
        sim.local_irq_restore(flags)

    eng.spawn(0, body)
    assert eng.run().outcome == "ok"
    bad = rec.of("sim_atomic_sleep")
    assert [(e["reason"], e["op"]) for e in bad] == [("interrupts disabled",
                                                      "might_sleep(PageAllocator) bad")]


def test_memreserve_is_a_sleeping_op() -> None:
    eng = sim.Engine(cpus=1)
    table = MemReserve()
    rec = eng.events.record()

    async def body() -> None:
        await table.reserve(0x4010_0000, 0x10000, events=eng.events, generation=1)
        sim.local_irq_disable()
        await table.reserve(0, 0x10000, events=eng.events)
        sim.local_irq_enable()

    eng.spawn(0, body)
    assert eng.run().outcome == "ok"
    assert table.entries() == [(0x4010_0000, 0x10000), (0, 0x10000)]
    assert len(rec.of("sim_atomic_sleep")) == 1
    assert [e["generation"] for e in rec.of("mm_memreserve")] == [1, 0]


_op = st.one_of(st.tuples(st.just("alloc"), st.integers(0, 4)),
                st.tuples(st.just("free"), st.integers(0, 63)))


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(_op, max_size=60),
       reserved=st.lists(st.tuples(st.integers(0, 2047), st.integers(1, 40)), max_size=4))
def test_random_alloc_free_invariants(ops: list[tuple[str, int]],
                                      reserved: list[tuple[int, int]]) -> None:
    mm = PageAllocator(BASE, SIZE, EventStream())
    for page, n in reserved:
        mm.reserve(BASE + page * PAGE_SIZE, n * PAGE_SIZE)
    initial = mm.free_blocks()
    live: list[tuple[int, int]] = []

    async def body() -> None:
        for op, arg in ops:
            if op == "alloc":
                a = await mm.alloc_pages(arg, GFP_ATOMIC)
                if a:
                    assert a % (PAGE_SIZE << arg) == 0
                    assert not mm.reserved(a, PAGE_SIZE << arg)
                    for b, o in live:   # no overlap with any live block
                        assert a + (PAGE_SIZE << arg) <= b or b + (PAGE_SIZE << o) <= a
                    live.append((a, arg))
            elif live:
                a, o = live.pop(arg % len(live))
                mm.free_pages(a, o)
        while live:
            a, o = live.pop()
            mm.free_pages(a, o)

    _run(body)
    assert mm.free_blocks() == initial
