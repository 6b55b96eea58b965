"""SparseMemory and Bus: sparse pages, zero writes, bitmaps, decoding and aborts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab.errors import ExternalAbort, InvalidArgumentValue, _AccessFault
from irqlab.hw.memory import PAGE_SIZE, Bus, SparseMemory


def test_unwritten_memory_reads_zero_and_costs_nothing() -> None:
    m = SparseMemory()
    assert m.read(0x1234_5678, 10) == bytes(10)
    assert m.read_int(0xFFFF_FFF8, 8) == 0
    assert m.allocated_bytes == 0


def test_zero_writes_to_absent_pages_allocate_nothing() -> None:
    m = SparseMemory()
    m.write(0x1000, bytes(PAGE_SIZE))              # a whole page of zeros
    m.write(0x5000, bytearray(10))
    m.write(0x9000, memoryview(bytes(3 * PAGE_SIZE)))
    m.clear(0x20000, 0x10000)                      # memset of a 64 KiB table
    assert m.allocated_bytes == 0


def test_a_nonzero_byte_allocates_only_its_page() -> None:
    m = SparseMemory()
    # two zero bytes at the end of page 1, then [0, 1] at the start of page 2
    m.write(0x1FFE, memoryview(bytes([0, 0, 0, 1])))
    assert sorted(m.pages) == [2]
    assert m.read(0x1FFC, 6) == bytes([0, 0, 0, 0, 0, 1])
    m.write(0x7000, bytearray(b"\0\0\1"))
    assert sorted(m.pages) == [2, 7] and m.allocated_bytes == 2 * PAGE_SIZE


def test_zero_write_to_a_present_page_clears_it() -> None:
    m = SparseMemory()
    m.write_int(0x3008, 0xDEAD_BEEF, 4)
    m.write(0x3000, bytes(PAGE_SIZE))
    assert m.read_int(0x3008, 4) == 0
    assert sorted(m.pages) == [3]                  # pages that become zero are kept


def test_integers_are_little_endian_and_cross_pages() -> None:
    m = SparseMemory()
    m.write_int(0xFFC, 0x1122_3344_5566_7788, 8)   # straddles pages 0 and 1
    assert m.read_int(0xFFC, 8) == 0x1122_3344_5566_7788
    assert m.read(0xFFC, 2) == bytes([0x88, 0x77])
    assert m.read_u64(0xFFC) == 0x1122_3344_5566_7788
    m.write_int(0x2000, 0x1_FF, 1)                 # truncated to the size
    assert m.read_u8(0x2000) == 0xFF


def test_bitmaps() -> None:
    m = SparseMemory()
    for bit in (0, 7, 8, 8191, 8192 * 8 + 3):
        m.set_bit(0x10000, bit, True)
    assert m.test_bit(0x10000, 8191) and not m.test_bit(0x10000, 8190)
    assert list(m.iter_set_bits(0x10000, 8192 * 8 + 8)) == [0, 7, 8, 8191, 8192 * 8 + 3]
    assert list(m.iter_set_bits(0x10000, 8192, start=8)) == [8, 8191]
    m.set_bit(0x10000, 7, False)
    assert list(m.iter_set_bits(0x10000, 16)) == [0, 8]
    m.set_bit(0x80000, 5, False)                   # clearing a clear bit allocates nothing
    assert 0x80 not in m.pages


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5 * PAGE_SIZE - 1),
                          st.binary(max_size=2 * PAGE_SIZE + 3)
                          | st.integers(0, 2 * PAGE_SIZE).map(bytes)), max_size=12))
def test_matches_a_flat_reference(writes: list[tuple[int, bytes]]) -> None:
    m = SparseMemory()
    ref = bytearray(8 * PAGE_SIZE)
    for addr, data in writes:
        m.write(addr, data)
        ref[addr:addr + len(data)] = data
    assert m.read(0, len(ref)) == bytes(ref)
    # a page exists only if something nonzero was ever written to it
    for pn in range(8):
        if any(ref[pn * PAGE_SIZE:(pn + 1) * PAGE_SIZE]):
            assert pn in m.pages


class _Dev:
    def __init__(self) -> None:
        self.log: list[tuple[object, ...]] = []

    def mmio_read(self, offset: int, size: int, cpu: int | None) -> int:
        if size == 1:
            raise _AccessFault("byte reads not supported")
        self.log.append(("r", offset, size, cpu))
        return 0x42

    def mmio_write(self, offset: int, value: int, size: int, cpu: int | None,
                   device_id: int | None) -> None:
        self.log.append(("w", offset, value, size, cpu, device_id))


def test_bus_decodes_ram_and_devices() -> None:
    bus = Bus(SparseMemory())
    bus.map_ram(0x4000_0000, 0x10_0000)
    dev = _Dev()
    bus.map(0x0800_0000, 0x1_0000, dev, "gicd")
    bus.map(0x0801_0000, 0x100, _Dev(), "small")   # shares no 64 KiB frame with gicd
    bus.write(0x4000_0010, 0xABCD, 2, 0)
    assert bus.read(0x4000_0010, 4, 1) == 0xABCD
    assert bus.memory.read_int(0x4000_0010, 2) == 0xABCD
    assert bus.read(0x0800_0104, 4, 2) == 0x42
    bus.write(0x0800_0108, 7, 4, None, device_id=3)
    assert dev.log == [("r", 0x104, 4, 2), ("w", 0x108, 7, 4, None, 3)]
    assert bus.is_ram(0x4000_0000) and not bus.is_ram(0x0800_0000)
    assert bus.lookup(0x0801_0100) is None          # past the small region, same frame
    assert bus.lookup(0x0801_00FF).name == "small"  # type: ignore[union-attr]


def test_bus_aborts() -> None:
    bus = Bus(SparseMemory())
    bus.map(0x0800_0000, 0x1000, _Dev(), "gicd")
    with pytest.raises(ExternalAbort, match="no device decodes"):
        bus.read(0x0900_0000, 4, 0)
    with pytest.raises(ExternalAbort, match="no device decodes"):
        bus.write(0x0800_0FFE, 0, 4, 0)              # runs past the region's end
    with pytest.raises(ExternalAbort, match="gicd: byte reads not supported"):
        bus.read(0x0800_0000, 1, 0)


def test_overlapping_regions_are_refused() -> None:
    bus = Bus(SparseMemory())
    bus.map(0x1000, 0x1000, _Dev(), "a")
    with pytest.raises(InvalidArgumentValue, match="overlaps a"):
        bus.map(0x1800, 0x1000, _Dev(), "b")
    with pytest.raises(InvalidArgumentValue, match="overlaps a"):
        bus.map(0x0800, 0x1000, _Dev(), "c")
    with pytest.raises(InvalidArgumentValue, match="is not valid"):
        bus.map(0x3000, 0, _Dev(), "d")
