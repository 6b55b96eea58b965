"""Physical memory: a buddy page allocator over the machine's RAM, reserved ranges, memreserve.

:class:`PageAllocator` models ``alloc_pages``/``free_pages`` (4 KiB pages,
orders 0..:data:`MAX_ORDER`) over the RAM region of the machine.  Memory
use is proportional to the number of free blocks (the buddy free lists), not
to the RAM size.  Reserved ranges (``memblock_reserve``: the previous
kernel's persistent reservations after kexec) are carved out at boot and
never handed out.  Allocation contexts follow Linux: a ``GFP_KERNEL``
allocation may sleep, so in atomic context (interrupts off, spinlock held,
hard irq) it is the engine's ``sim_atomic_sleep`` event (a bug on
PREEMPT_RT, and a "sleeping function called from invalid context" splat on
any kernel).

:class:`MemReserve` is the ``LINUX_EFI_MEMRESERVE`` table: entries added with
``efi_mem_reserve_persistent`` survive kexec (the table object is handed to
the next :class:`~irqlab.kernel.kernel.Kernel`), whose boot reserves them.
"""

from __future__ import annotations

import bisect
import heapq
from typing import Any

from irqlab import sim
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue, check_int
from irqlab.events import EventStream

__all__ = [
    "GFP_ATOMIC",
    "GFP_KERNEL",
    "GFP_ZERO",
    "MAX_ORDER",
    "PAGE_SHIFT",
    "PAGE_SIZE",
    "MemReserve",
    "PageAllocator",
]

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
#: Largest block order (Linux arm64 4K: MAX_PAGE_ORDER = 10, 4 MiB).
MAX_ORDER = 10

GFP_DIRECT_RECLAIM = 0x400
#: ``__GFP_ZERO`` (Python would mangle the dunder name inside classes).
GFP_ZERO = 0x100
#: May sleep (direct reclaim).
GFP_KERNEL = 0xCC0
#: Never sleeps.
GFP_ATOMIC = 0x820


class _MightSleep(sim.Op):
    """A sleeping operation that never blocks: the engine reports it in atomic context."""

    __slots__ = ()
    kind = "might_sleep"
    sleeps = True


class PageAllocator:
    """The buddy allocator over ``[base, base + size)`` (page-aligned).

    ``events``: the stream for ``mm_*`` events.  Build it at boot, then
    :meth:`reserve` the ranges that must never be handed out.
    """

    def __init__(self, base: int, size: int, events: EventStream) -> None:
        check_int("base", base, 0, (1 << 48) - 1)
        check_int("size", size, PAGE_SIZE, 1 << 48)
        if base % PAGE_SIZE or size % PAGE_SIZE:
            raise InvalidArgumentValue(f"base and size must be page-aligned, not {base:#x}+"
                                       f"{size:#x}")
        self.base = base
        self.size = size
        self.events = events
        # free blocks per order: a set (membership) + a min-heap (lowest address first, lazy)
        self._free: list[set[int]] = [set() for _ in range(MAX_ORDER + 1)]
        self._heap: list[list[int]] = [[] for _ in range(MAX_ORDER + 1)]
        #: allocated blocks: address -> order
        self._allocated: dict[int, int] = {}
        #: reserved ranges, sorted, non-overlapping [(start, end))
        self._reserved: list[tuple[int, int]] = []
        addr, end = base, base + size
        while addr < end:
            o = MAX_ORDER
            while o and ((addr - base) % (PAGE_SIZE << o) or addr + (PAGE_SIZE << o) > end):
                o -= 1
            self._add(addr, o)
            addr += PAGE_SIZE << o

    # -- free lists ------------------------------------------------------------------------
    def _add(self, addr: int, order: int) -> None:
        self._free[order].add(addr)
        heapq.heappush(self._heap[order], addr)

    def _pop_lowest(self, order: int) -> int | None:
        h = self._heap[order]
        fs = self._free[order]
        while h:
            a = heapq.heappop(h)
            if a in fs:
                fs.discard(a)
                return a
        return None

    def _buddy(self, addr: int, order: int) -> int:
        return self.base + ((addr - self.base) ^ (PAGE_SIZE << order))

    def _take(self, order: int) -> int:
        for o in range(order, MAX_ORDER + 1):
            a = self._pop_lowest(o)
            if a is not None:
                while o > order:
                    o -= 1
                    self._add(a + (PAGE_SIZE << o), o)
                return a
        return 0

    def _give(self, addr: int, order: int) -> None:
        while order < MAX_ORDER:
            b = self._buddy(addr, order)
            if b not in self._free[order] or not self.base <= b < self.base + self.size:
                break
            self._free[order].discard(b)
            addr = min(addr, b)
            order += 1
        self._add(addr, order)

    # -- reservations ----------------------------------------------------------------------
    def reserve(self, addr: int, size: int, *, label: str = "") -> None:
        """``memblock_reserve``: never hand out ``[addr, addr + size)`` (boot time, plain call).

        Free blocks overlapping the range are split and the overlap removed;
        pages already allocated stay allocated (and are never freed back into
        the free lists while reserved).  Ranges outside RAM are recorded only.
        """
        check_int("addr", addr, 0, (1 << 64) - 1)
        check_int("size", size, 1, 1 << 48)
        a = addr - addr % PAGE_SIZE
        e = -(-(addr + size) // PAGE_SIZE) * PAGE_SIZE
        self._add_reserved(a, e)
        ev = self.events
        if ev.enabled and ev.should_emit("mm_reserve"):
            ev.emit("mm_reserve", cpu=_cpu(), addr=addr, size=size, label=label)
        lo, hi = max(a, self.base), min(e, self.base + self.size)
        if lo >= hi:
            return
        for o in range(MAX_ORDER, -1, -1):
            blk = PAGE_SIZE << o
            for b in self._overlapping(o, lo, hi):
                self._free[o].discard(b)
                if lo <= b and b + blk <= hi:
                    continue
                half = blk >> 1
                self._add(b, o - 1)
                self._add(b + half, o - 1)

    def _overlapping(self, o: int, lo: int, hi: int) -> list[int]:
        blk = PAGE_SIZE << o
        start = lo - (lo - self.base) % blk
        return [b for b in range(start, hi, blk) if b in self._free[o]]

    def _add_reserved(self, a: int, e: int) -> None:
        r = self._reserved
        i = bisect.bisect_left(r, (a, a))
        if i > 0 and r[i - 1][1] >= a:
            i -= 1
            a = min(a, r[i][0])
        j = i
        while j < len(r) and r[j][0] <= e:
            e = max(e, r[j][1])
            j += 1
        r[i:j] = [(a, e)]

    def reserved(self, addr: int, size: int = 1) -> bool:
        """True when any byte of ``[addr, addr + size)`` is reserved."""
        r = self._reserved
        i = bisect.bisect_right(r, (addr, 1 << 64))
        if i > 0 and r[i - 1][1] > addr:
            return True
        return i < len(r) and r[i][0] < addr + size

    @property
    def reserved_ranges(self) -> list[tuple[int, int]]:
        """The reserved ranges ``[(start, end))``, merged and sorted."""
        return list(self._reserved)

    # -- allocation ------------------------------------------------------------------------
    async def alloc_pages(self, order: int, gfp: int = GFP_KERNEL, *, label: str = "") -> int:
        """``alloc_pages``: the physical address of ``2**order`` free pages, or 0.

        ``GFP_KERNEL`` may sleep: in atomic context this is reported by the
        engine (``sim_atomic_sleep``).  ``GFP_ZERO`` zeroes the block in RAM
        through the machine (when the allocator knows one).  Lowest address
        first, deterministic.
        """
        check_int("order", order, 0, MAX_ORDER)
        check_int("gfp", gfp, 0, (1 << 32) - 1)
        if gfp & GFP_DIRECT_RECLAIM:
            await _MightSleep(self, label or "alloc_pages")
        else:
            await sim.point(label or "alloc_pages")
        addr = self._take(order)
        ev = self.events
        if addr:
            self._allocated[addr] = order
            if gfp & GFP_ZERO and self.machine is not None:
                self.machine.ram_write(addr, bytes(PAGE_SIZE << order))
        if ev.enabled and ev.should_emit("mm_alloc_pages"):
            ev.emit("mm_alloc_pages", cpu=_cpu(), addr=addr, order=order, gfp=gfp,
                    atomic=not gfp & GFP_DIRECT_RECLAIM, label=label)
        return addr

    machine: Any = None

    def free_pages(self, addr: int, order: int, *, label: str = "") -> None:
        """``free_pages``: return a block; freeing what is not allocated is an ``mm_bad_free``."""
        check_int("addr", addr, 0, (1 << 64) - 1)
        check_int("order", order, 0, MAX_ORDER)
        ev = self.events
        got = self._allocated.get(addr)
        if got != order:
            if ev.enabled and ev.should_emit("mm_bad_free"):
                ev.emit("mm_bad_free", cpu=_cpu(), addr=addr, order=order,
                        allocated=-1 if got is None else got, label=label)
            return
        del self._allocated[addr]
        if ev.enabled and ev.should_emit("mm_free_pages"):
            ev.emit("mm_free_pages", cpu=_cpu(), addr=addr, order=order, label=label)
        if self.reserved(addr, PAGE_SIZE << order):
            # a reserved block is never handed out again: keep the pages out of the free lists
            if ev.enabled and ev.should_emit("mm_free_reserved"):
                ev.emit("mm_free_reserved", cpu=_cpu(), addr=addr, order=order, label=label)
            return
        self._give(addr, order)

    def allocated(self, addr: int) -> int | None:
        """The order of the block allocated at ``addr``, or None."""
        return self._allocated.get(addr)

    def in_use(self, addr: int) -> bool:
        """True when the page at ``addr`` lies in an allocated block (O(orders))."""
        for o in range(MAX_ORDER + 1):
            a = addr - (addr - self.base) % (PAGE_SIZE << o)
            if self._allocated.get(a) is not None and self._allocated[a] >= o:
                return True
        return False

    def free_blocks(self) -> tuple[tuple[int, ...], ...]:
        """The free lists, per order, sorted (for invariants and tests)."""
        return tuple(tuple(sorted(s)) for s in self._free)

    @property
    def free_page_count(self) -> int:
        """Free pages."""
        return sum(len(s) << o for o, s in enumerate(self._free))


class MemReserve:
    """The persistent reservation table (``LINUX_EFI_MEMRESERVE``); survives kexec.

    ``entries()`` in insertion order.  :meth:`reserve` is
    ``efi_mem_reserve_persistent``: it allocates table space, which on
    PREEMPT_RT may sleep, so it is a sleeping operation (reported in atomic
    context).
    """

    def __init__(self) -> None:
        self._entries: list[tuple[int, int]] = []
        #: The kexec generation of the kernel that made each entry.
        self._gen: list[int] = []
        #: Set by the :class:`~irqlab.kernel.kernel.Kernel` that owns the table now.
        self.events: EventStream | None = None
        self.generation = 0

    async def reserve(self, addr: int, size: int, *, events: EventStream | None = None,
                      generation: int | None = None, label: str = "") -> int:
        """Add ``[addr, addr + size)``; 0 (always succeeds). Sleeps (see class doc).

        Emits ``mm_memreserve`` (addr, size, generation, label) on the owning
        kernel's stream (or ``events``).
        """
        check_int("addr", addr, 0, (1 << 64) - 1)
        check_int("size", size, 1, 1 << 48)
        if events is None:
            events = self.events
        if generation is None:
            generation = self.generation
        await _MightSleep(self, label or "efi_mem_reserve_persistent")
        self._entries.append((addr, size))
        self._gen.append(generation)
        if events is not None and events.enabled:
            events.emit("mm_memreserve", cpu=_cpu(), addr=addr, size=size,
                        generation=generation, label=label)
        return 0

    def entries(self) -> list[tuple[int, int]]:
        """Every reserved ``(addr, size)``, in order."""
        return list(self._entries)

    def generations(self) -> list[int]:
        """The kexec generation that made each entry (same order as :meth:`entries`)."""
        return list(self._gen)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<MemReserve {len(self._entries)} entries>"


def _cpu() -> int | None:
    try:
        return sim.current().cpu
    except sim.SimError:
        return None


def check_memreserve(obj: Any) -> MemReserve:
    """Validate a ``memreserve`` argument."""
    if not isinstance(obj, MemReserve):
        raise InvalidArgumentType(f"memreserve must be a MemReserve or None, not {obj!r}")
    return obj
