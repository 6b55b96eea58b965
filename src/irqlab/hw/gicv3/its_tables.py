"""ITS translation tables in simulated memory: geometry, entry addresses, the cache records.

The device and collection tables are described by GITS_BASER0/1 (flat or two-level,
4/16/64 KiB pages); the ITT of each device by its DTE.  Entries use the KVM ITS
save/restore ABI rev 0 layouts from :mod:`irqlab.arch.its`.

The ITS model keeps an index of the valid entries (:class:`Device`, :class:`Ite`,
:class:`Collection`), as a real ITS caches them; this module also holds the code that
rebuilds that index from memory (:func:`scan_entries`), with a cost proportional to the
memory pages actually written in a table's range, never to its addressable size.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from irqlab.arch.its import (
    GITS_BASER,
    ITS_ENTRY_SIZE,
    L1_ENTRY,
    baser_page_size,
    baser_physical_address,
)
from irqlab.hw.memory import PAGE_SHIFT, PAGE_SIZE, SparseMemory

__all__ = ["L1_INVALID", "MEMORY_FAULT", "Collection", "Device", "Ite", "Table",
           "scan_entries"]

#: :meth:`Table.entry_addr` results that are not addresses.
L1_INVALID = -1
MEMORY_FAULT = -2

_ZERO_PAGE = bytes(PAGE_SIZE)
_NATIVE_LE = sys.byteorder == "little"


class Collection:
    """A collection as the ITS caches it: ``redist`` is ``None`` while unmapped.

    ITEs point at their :class:`Collection`, so re-mapping a collection (MAPC) retargets
    every LPI of it at once, and translation resolves the redistributor at use.
    """

    __slots__ = ("icid", "rdbase", "redist")

    def __init__(self, icid: int) -> None:
        self.icid = icid
        self.rdbase = 0
        self.redist: Any = None


class Ite:
    """A valid interrupt translation entry: the LPI ``pintid`` and its collection."""

    __slots__ = ("coll", "eventid", "pintid")

    def __init__(self, eventid: int, pintid: int, coll: Collection) -> None:
        self.eventid = eventid
        self.pintid = pintid
        self.coll = coll


class Device:
    """A mapped device: its ITT address, EventID width (``size`` = bits - 1) and ITEs."""

    __slots__ = ("devid", "ites", "itt_addr", "size")

    def __init__(self, devid: int, itt_addr: int, size: int) -> None:
        self.devid = devid
        self.itt_addr = itt_addr
        self.size = size
        #: EventID -> Ite (valid entries only).
        self.ites: dict[int, Ite] = {}


class Table:
    """The geometry of a translation table as captured from GITS_BASER<n>.

    ``num_entries`` is the number of indices the table can hold (0 when not Valid),
    capped at ``1 << id_bits`` (Devbits or CIDbits).  The ITS captures this when it is
    enabled; BASER writes are ignored while it is enabled, so it stays current.
    """

    __slots__ = ("base", "indirect", "num_entries", "page_size", "per_page", "size_bytes",
                 "valid")

    def __init__(self, baser: int, id_bits: int) -> None:
        self.valid = bool(GITS_BASER.Valid.get(baser))
        self.indirect = bool(GITS_BASER.Indirect.get(baser))
        self.page_size = baser_page_size(baser)
        self.base = baser_physical_address(baser)
        self.size_bytes = (GITS_BASER.Size.get(baser) + 1) * self.page_size
        self.per_page = self.page_size // ITS_ENTRY_SIZE
        if not self.valid:
            self.num_entries = 0
        elif self.indirect:
            self.num_entries = min(self.size_bytes // ITS_ENTRY_SIZE * self.per_page,
                                   1 << id_bits)
        else:
            self.num_entries = min(self.size_bytes // ITS_ENTRY_SIZE, 1 << id_bits)

    def entry_addr(self, index: int, mem: SparseMemory, is_ram: Any) -> int:
        """The address of entry ``index`` (< num_entries), or L1_INVALID / MEMORY_FAULT.

        For a two-level table this reads the level-1 entry: bit 63 Valid, bits [51:12]
        the level-2 page (aligned down to the page size).  A level-1 entry outside RAM
        is a memory fault; the level-2 address is checked by the caller.
        """
        if not self.indirect:
            return self.base + index * ITS_ENTRY_SIZE
        l1 = self.base + (index // self.per_page) * ITS_ENTRY_SIZE
        if not is_ram(l1):
            return MEMORY_FAULT
        e = mem.read_u64(l1)
        if not L1_ENTRY.Valid.get(e):
            return L1_INVALID
        page = (e & L1_ENTRY.Physical_Address.in_place) & ~(self.page_size - 1)
        return page + (index % self.per_page) * ITS_ENTRY_SIZE

    def iter_valid_l2(self, mem: SparseMemory) -> Iterator[tuple[int, int]]:
        """(first index, level-2 page address) for each valid level-1 entry, in order."""
        for off, e in scan_entries(mem, self.base, self.size_bytes):
            if L1_ENTRY.Valid.get(e):
                page = (e & L1_ENTRY.Physical_Address.in_place) & ~(self.page_size - 1)
                yield (off // ITS_ENTRY_SIZE) * self.per_page, page

    def iter_entries(self, mem: SparseMemory) -> Iterator[tuple[int, int]]:
        """(index, entry) for every non-zero entry of the table, in index order."""
        if not self.valid:
            return
        if not self.indirect:
            for off, e in scan_entries(mem, self.base, self.size_bytes):
                idx = off // ITS_ENTRY_SIZE
                if idx < self.num_entries:
                    yield idx, e
            return
        for first, page in self.iter_valid_l2(mem):
            for off, e in scan_entries(mem, page, self.page_size):
                idx = first + off // ITS_ENTRY_SIZE
                if idx < self.num_entries:
                    yield idx, e


def scan_entries(mem: SparseMemory, addr: int, nbytes: int) -> Iterator[tuple[int, int]]:
    """Yield (offset, value) of each non-zero 8-byte entry in ``[addr, addr + nbytes)``.

    ``addr`` is 8-byte aligned.  Costs time proportional to the pages written in the
    range (pages never written are skipped whole, all-zero pages cheaply), so a 2^32-entry
    ITT that holds three entries is scanned in microseconds.
    """
    end = addr + nbytes
    first_pn = addr >> PAGE_SHIFT
    last_pn = (end - 1) >> PAGE_SHIFT
    pages = mem.pages
    if len(pages) < last_pn - first_pn + 1:
        keys = sorted(k for k in pages if first_pn <= k <= last_pn)
    else:
        keys = [k for k in range(first_pn, last_pn + 1) if k in pages]
    for pn in keys:
        page = pages[pn]
        if page == _ZERO_PAGE:
            continue
        pbase = pn << PAGE_SHIFT
        lo = max(addr, pbase) - pbase
        hi = min(end, pbase + PAGE_SIZE) - pbase
        rel = pbase - addr
        words = memoryview(page)[lo:hi].cast("Q") if _NATIVE_LE else None
        if words is not None:
            for i, v in enumerate(words):
                if v:
                    yield rel + lo + (i << 3), v
        else:
            for off in range(lo, hi, ITS_ENTRY_SIZE):
                v = int.from_bytes(page[off:off + ITS_ENTRY_SIZE], "little")
                if v:
                    yield rel + off, v
