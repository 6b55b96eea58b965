"""Sparse physical memory and the system bus.

:class:`SparseMemory` allocates 4 KiB pages on first write; reads of pages
never written return zeros, so a 1 GiB RAM costs nothing until it is used.

:class:`Bus` decodes a physical address to a region: RAM (backed by the
sparse memory) or an MMIO device.  Lookups go through a per-64-KiB-frame
cache filled on first use, so decoding is a dict hit on the fast path and the
cache grows with the frames touched, not with the address space.

An access that no region decodes, or that the addressed device refuses
(unsupported size or alignment), raises :class:`~irqlab.errors.ExternalAbort`.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Protocol

from irqlab.errors import ExternalAbort, InvalidArgumentValue, _AccessFault

__all__ = ["PAGE_SIZE", "Bus", "MmioDevice", "Region", "SparseMemory"]

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
_PAGE_MASK = PAGE_SIZE - 1
_FRAME_SHIFT = 16
#: Physical address width of the model (ID_AA64MMFR0_EL1.PARange = 48 bits).
PA_BITS = 48
PA_LIMIT = 1 << PA_BITS
#: A page of zeros: writes of zeros to a page never written compare against it (memcmp)
_ZERO_PAGE = bytes(PAGE_SIZE)


class SparseMemory:
    """Byte-addressable little-endian memory whose pages exist once written."""

    __slots__ = ("pages",)

    def __init__(self) -> None:
        self.pages: dict[int, bytearray] = {}

    @property
    def allocated_bytes(self) -> int:
        """Bytes of backing store in use (pages written so far)."""
        return len(self.pages) * PAGE_SIZE

    def read(self, addr: int, n: int) -> bytes:
        """``n`` bytes from ``addr``; unwritten memory reads as zero."""
        out = bytearray()
        pages = self.pages
        while n > 0:
            off = addr & _PAGE_MASK
            chunk = min(n, PAGE_SIZE - off)
            page = pages.get(addr >> PAGE_SHIFT)
            out += page[off:off + chunk] if page is not None else bytes(chunk)
            addr += chunk
            n -= chunk
        return bytes(out)

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        """Store ``data`` at ``addr``, allocating pages as needed."""
        pages = self.pages
        pos = 0
        n = len(data)
        while pos < n:
            off = addr & _PAGE_MASK
            chunk = min(n - pos, PAGE_SIZE - off)
            pn = addr >> PAGE_SHIFT
            page = pages.get(pn)
            if page is None:
                if _ZERO_PAGE.startswith(data[pos:pos + chunk]):
                    addr += chunk
                    pos += chunk
                    continue
                page = pages[pn] = bytearray(PAGE_SIZE)
            page[off:off + chunk] = data[pos:pos + chunk]
            addr += chunk
            pos += chunk

    def read_int(self, addr: int, size: int) -> int:
        """A little-endian unsigned integer of ``size`` bytes."""
        off = addr & _PAGE_MASK
        if off + size <= PAGE_SIZE:
            page = self.pages.get(addr >> PAGE_SHIFT)
            if page is None:
                return 0
            return int.from_bytes(page[off:off + size], "little")
        return int.from_bytes(self.read(addr, size), "little")

    def write_int(self, addr: int, value: int, size: int) -> None:
        """Store ``value`` as a little-endian integer of ``size`` bytes (truncated)."""
        self.write(addr, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))

    def read_u8(self, addr: int) -> int:
        page = self.pages.get(addr >> PAGE_SHIFT)
        return 0 if page is None else page[addr & _PAGE_MASK]

    def read_u64(self, addr: int) -> int:
        return self.read_int(addr, 8)

    def write_u64(self, addr: int, value: int) -> None:
        self.write_int(addr, value, 8)

    def test_bit(self, addr: int, bit: int) -> bool:
        """Bit ``bit`` of the bitmap at ``addr`` (a pending table, for example)."""
        return bool(self.read_u8(addr + (bit >> 3)) >> (bit & 7) & 1)

    def set_bit(self, addr: int, bit: int, value: bool) -> None:
        a = addr + (bit >> 3)
        b = self.read_u8(a)
        nb = (b | (1 << (bit & 7))) if value else (b & ~(1 << (bit & 7)))
        if nb != b:
            self.write(a, bytes((nb,)))

    def clear(self, addr: int, n: int) -> None:
        """Zero ``n`` bytes at ``addr``; pages that become all-zero are kept."""
        self.write(addr, bytes(n))

    def iter_set_bits(self, addr: int, nbits: int, start: int = 0):
        """Yield the set bits in ``[start, nbits)`` of the bitmap at ``addr``.

        Costs time proportional to the pages actually allocated in the range,
        not to its size: unwritten pages are skipped whole.
        """
        first = addr + (start >> 3)
        last = addr + ((nbits + 7) >> 3)  # exclusive
        pn = first >> PAGE_SHIFT
        end_pn = (last - 1) >> PAGE_SHIFT
        keys = sorted(k for k in self.pages if pn <= k <= end_pn) \
            if len(self.pages) < (end_pn - pn + 1) else \
            [k for k in range(pn, end_pn + 1) if k in self.pages]
        for k in keys:
            page = self.pages[k]
            base = k << PAGE_SHIFT
            lo = max(first, base) - base
            hi = min(last, base + PAGE_SIZE) - base
            for i in range(lo, hi):
                byte = page[i]
                if byte:
                    bitbase = (base + i - addr) << 3
                    for j in range(8):
                        if byte >> j & 1:
                            b = bitbase + j
                            if start <= b < nbits:
                                yield b


class MmioDevice(Protocol):
    """What a device mapped on the :class:`Bus` implements.

    ``offset`` is relative to the region base.  ``cpu`` is the index of the
    issuing CPU, or ``None`` for a bus master that is not a CPU; ``device_id``
    is the DeviceID a bus master's write carries (``None`` for CPU accesses).
    A device that cannot serve an access raises ``_AccessFault(reason)``; the
    bus turns it into :class:`ExternalAbort`.
    """

    def mmio_read(self, offset: int, size: int, cpu: int | None) -> int: ...

    def mmio_write(self, offset: int, value: int, size: int, cpu: int | None,
                   device_id: int | None) -> None: ...


class Region:
    """A decoded address range: ``base``, ``size``, ``name`` and a device (``None`` for RAM)."""

    __slots__ = ("base", "device", "end", "name", "size")

    def __init__(self, base: int, size: int, name: str, device: MmioDevice | None) -> None:
        self.base = base
        self.size = size
        self.end = base + size
        self.name = name
        self.device = device

    def __repr__(self) -> str:
        return f"<Region {self.name} [{self.base:#x}, {self.end:#x})>"


class _RamDevice:
    """RAM seen through the bus: plain little-endian memory, any size and alignment."""

    __slots__ = ("base", "mem")

    def __init__(self, mem: SparseMemory, base: int) -> None:
        self.mem = mem
        self.base = base

    def mmio_read(self, offset: int, size: int, cpu: int | None) -> int:
        return self.mem.read_int(self.base + offset, size)

    def mmio_write(self, offset: int, value: int, size: int, cpu: int | None,
                   device_id: int | None) -> None:
        self.mem.write_int(self.base + offset, value, size)


class Bus:
    """The physical address space: RAM and MMIO regions, decoded per access."""

    def __init__(self, memory: SparseMemory) -> None:
        self.memory = memory
        self._regions: list[Region] = []
        self._bases: list[int] = []
        self._frame_cache: dict[int, Region | None] = {}
        #: Called (no arguments) before every access through the bus and every other
        #: access to the machine's state (system registers, RAM, interrupt lines): how
        #: an engine recording footprints learns that a step touched the hardware.
        self.on_access: Callable[[], None] | None = None

    @property
    def regions(self) -> tuple[Region, ...]:
        return tuple(self._regions)

    def map_ram(self, base: int, size: int, name: str = "ram") -> Region:
        return self.map(base, size, _RamDevice(self.memory, base), name)

    def map(self, base: int, size: int, device: MmioDevice, name: str) -> Region:
        """Decode ``[base, base + size)`` to ``device``; regions must not overlap."""
        if size <= 0 or base < 0 or base + size > PA_LIMIT:
            raise InvalidArgumentValue(f"region {name} [{base:#x}, +{size:#x}) is not valid")
        i = bisect.bisect_right(self._bases, base)
        if i > 0 and self._regions[i - 1].end > base:
            raise InvalidArgumentValue(
                f"region {name} at {base:#x} overlaps {self._regions[i - 1].name}")
        if i < len(self._regions) and self._regions[i].base < base + size:
            raise InvalidArgumentValue(
                f"region {name} at {base:#x} overlaps {self._regions[i].name}")
        r = Region(base, size, name, device)
        self._regions.insert(i, r)
        self._bases.insert(i, base)
        self._frame_cache.clear()
        return r

    def is_ram(self, addr: int) -> bool:
        r = self.lookup(addr)
        return r is not None and isinstance(r.device, _RamDevice)

    def lookup(self, addr: int) -> Region | None:
        """The region decoding ``addr``, or ``None``."""
        frame = addr >> _FRAME_SHIFT
        cache = self._frame_cache
        if frame in cache:
            r = cache[frame]
            if r is not None and r.base <= addr < r.end:
                return r
            # a frame shared by several regions, or partly decoded: fall through
        i = bisect.bisect_right(self._bases, addr) - 1
        r = self._regions[i] if i >= 0 and self._regions[i].end > addr else None
        if r is not None and r.base <= (frame << _FRAME_SHIFT) and \
                r.end >= ((frame + 1) << _FRAME_SHIFT):
            cache[frame] = r  # the region covers the whole frame
        return r

    def read(self, addr: int, size: int, cpu: int | None) -> int:
        h = self.on_access
        if h is not None:
            h()
        r = self.lookup(addr)
        if r is None or addr + size > r.end:
            raise ExternalAbort(addr, size, "no device decodes this address")
        try:
            return r.device.mmio_read(addr - r.base, size, cpu)  # type: ignore[union-attr]
        except _AccessFault as e:
            raise ExternalAbort(addr, size, f"{r.name}: {e.reason}") from None

    def write(self, addr: int, value: int, size: int, cpu: int | None,
              device_id: int | None = None) -> None:
        h = self.on_access
        if h is not None:
            h()
        r = self.lookup(addr)
        if r is None or addr + size > r.end:
            raise ExternalAbort(addr, size, "no device decodes this address", write=True)
        try:
            r.device.mmio_write(addr - r.base, value, size, cpu, device_id)  # type: ignore[union-attr]
        except _AccessFault as e:
            raise ExternalAbort(addr, size, f"{r.name}: {e.reason}", write=True) from None
