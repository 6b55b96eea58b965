"""The VMD remapping hardware: child MSIs land on the VMD's own MSI-X vectors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab.arch.virt import VIRT_GIC_V2M
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue
from irqlab.hw.config import PciFunctionConfig
from irqlab.hw.machine import Machine
from irqlab.hw.vmd import VMD_MSI_BASE, Vmd, vmd_msi_address

SETSPI = VIRT_GIC_V2M[0] + 0x40
SPI0 = 80  # first INTID of virt's v2m frame


def _machine() -> tuple[Machine, Vmd]:
    m = Machine.virt(cpus=2, gic=2)
    return m, Vmd(m, bdf=0x10, msix_vectors=4)


def _program_vmd(m: Machine, vmd: Vmd) -> None:
    """Software on CPU0: VMD vector i -> v2m SPI 80 + i, MSI-X on, Bus Master on."""
    cpu = m.cpus[0]
    bar = vmd.fn.bar0
    for i in range(vmd.msix_vectors):
        cpu.write(bar + 16 * i, SETSPI, 8)
        cpu.write(bar + 16 * i + 8, SPI0 + i)
        cpu.write(bar + 16 * i + 12, 0)  # unmask
    cfg = m.pci.config_address(vmd.bdf)
    cpu.write(cfg + 0x04, 0x6, 2)  # memory + bus master
    cap = vmd.fn.msix_cap
    cpu.write(cfg + cap + 2, 1 << 15, 2)  # MSI-X enable


def _add_child(m: Machine, vmd: Vmd, bdf: int, *, indices: list[int],
               class_code: int = 0x010802) -> object:
    """A child with MSI-X, programmed through CFGBAR/MEMBAR as the VMD driver would."""
    fn = vmd.hot_add(PciFunctionConfig(bdf=bdf, class_code=class_code, msi_vectors=0,
                                       msix_vectors=len(indices)))
    cpu = m.cpus[0]
    assert vmd.membar <= fn.bar0 < vmd.membar + 0x100_0000
    for v, idx in enumerate(indices):
        cpu.write(fn.bar0 + 16 * v, vmd_msi_address(idx), 8)
        cpu.write(fn.bar0 + 16 * v + 8, 0)
        cpu.write(fn.bar0 + 16 * v + 12, 0)
    cfg = vmd.config_address(bdf)
    cpu.write(cfg + 0x04, 0x6, 2)
    cpu.write(cfg + fn.msix_cap + 2, 1 << 15, 2)
    return fn


def test_child_msi_raises_the_vmd_vector_named_by_the_address() -> None:
    m, vmd = _machine()
    _program_vmd(m, vmd)
    child = _add_child(m, vmd, 0x100, indices=[2, 0])
    rec = m.events.record()
    child.fire(0)  # type: ignore[attr-defined]
    assert m.gic.dist.is_pending(0, SPI0 + 2)
    assert not m.gic.dist.is_pending(0, SPI0)
    child.fire(1)  # type: ignore[attr-defined]
    assert m.gic.dist.is_pending(0, SPI0)
    assert vmd.remapped == [1, 0, 1, 0]
    remaps = [(e["rid"], e["index"]) for e in rec.of("vmd_msi_remap")]
    assert remaps == [(0x100, 2), (0x100, 0)]
    # the v2m frame sees the VMD's requester ID, never the child's
    assert [e["devid"] for e in rec.of("v2m_setspi")] == [0x10, 0x10]


def test_child_config_space_is_reached_through_cfgbar_only() -> None:
    m, vmd = _machine()
    vmd.hot_add(PciFunctionConfig(bdf=0x108, class_code=0x010601, msix_vectors=1))
    cpu = m.cpus[0]
    assert cpu.read(vmd.config_address(0x108) + 0x08) >> 8 == 0x010601
    assert cpu.read(vmd.config_address(0x110)) == 0xFFFF_FFFF  # absent child
    # the host bridge does not see the child
    assert cpu.read(m.pci.config_address(0x108)) == 0xFFFF_FFFF
    assert cpu.read(m.pci.config_address(0x10)) == 0x201D_8086
    vmd.hot_remove(0x108)
    assert cpu.read(vmd.config_address(0x108)) == 0xFFFF_FFFF


def test_masked_vmd_vector_goes_to_the_pba_and_fires_on_unmask() -> None:
    m, vmd = _machine()
    _program_vmd(m, vmd)
    m.cpus[0].write(vmd.fn.bar0 + 16 * 1 + 12, 1)  # mask VMD vector 1
    child = _add_child(m, vmd, 0x100, indices=[1])
    child.fire(0)  # type: ignore[attr-defined]
    assert not m.gic.dist.is_pending(0, SPI0 + 1)
    assert vmd.fn.msix_pba == 0b10
    m.cpus[0].write(vmd.fn.bar0 + 16 * 1 + 12, 0)
    assert m.gic.dist.is_pending(0, SPI0 + 1) and vmd.fn.msix_pba == 0


def test_out_of_range_index_and_odd_sizes_are_dropped_with_a_reason() -> None:
    m, vmd = _machine()
    _program_vmd(m, vmd)
    rec = m.events.record()
    vmd.device_write(0x100, vmd_msi_address(4), 0)
    vmd.device_write(0x100, vmd_msi_address(1), 0, 2)
    assert vmd.remapped == [0, 0, 0, 0]
    reasons = [e["reason"] for e in rec.of("vmd_msi_dropped")]
    assert reasons == ["index 4 beyond the VMD's 4 MSI-X vectors",
                       "2-byte write to the MSI window"]
    assert not rec.of("v2m_setspi")


def test_other_child_writes_are_forwarded_with_the_vmd_requester_id() -> None:
    m, vmd = _machine()
    _program_vmd(m, vmd)
    rec = m.events.record()
    vmd.device_write(0x100, SETSPI, SPI0 + 3)  # a child writing the doorbell directly
    assert m.gic.dist.is_pending(0, SPI0 + 3)
    assert [e["devid"] for e in rec.of("v2m_setspi")] == [0x10]
    ram = m.config.ram[0] + 0x1000
    vmd.device_write(0x100, ram, 0xABCD)
    assert m.ram_read(ram, 4) == (0xABCD).to_bytes(4, "little")
    assert [e["addr"] for e in rec.of("vmd_dma")] == [SETSPI, ram]


def test_window_is_not_on_the_system_bus() -> None:
    m, _vmd = _machine()
    assert m.bus.lookup(VMD_MSI_BASE) is None  # CPUs cannot reach the window


def test_bad_arguments() -> None:
    m = Machine.virt(cpus=1, gic=2)
    with pytest.raises(InvalidArgumentType, match=r"^machine must be a Machine, not 3$"):
        Vmd(3, bdf=0x10)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentValue, match="msix_vectors"):
        Vmd(m, bdf=0x10, msix_vectors=0)
    Vmd(m, bdf=0x10)
    with pytest.raises(InvalidArgumentValue):
        Vmd(m, bdf=0x18)  # same CFGBAR: overlaps the first VMD
    assert 0x18 not in m.pci.functions
    v2 = Vmd(m, bdf=0x18, cfgbar=0x90_0000_0000)
    assert v2.msix_vectors == 32 and "vectors=32" in repr(v2)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, (1 << 20) - 1), st.integers(0, 1 << 32),
                          st.sampled_from([1, 2, 4, 8])), max_size=20))
def test_fuzz_window_writes_never_crash(writes: list[tuple[int, int, int]]) -> None:
    m, vmd = _machine()
    _program_vmd(m, vmd)
    n = 0
    for off, value, size in writes:
        addr = (VMD_MSI_BASE + off) & ~(size - 1)
        if addr + size > VMD_MSI_BASE + 0x10_0000:
            continue
        vmd.device_write(0x100, addr, value & ((1 << (8 * size)) - 1), size)
        if size == 4 and (addr - VMD_MSI_BASE) >> 12 < 4:
            n += 1
    assert sum(vmd.remapped) == n
