"""GICv2 Distributor registers: IDs, banking, targets, configuration, SGIs, access sizes."""

from __future__ import annotations

import pytest

from irqlab.errors import ExternalAbort, InvalidArgumentValue

from .helpers import (
    CPENDSGIR,
    CTLR,
    GICD,
    ICENABLER,
    ICFGR,
    ICPENDR,
    IGROUPR,
    IIDR,
    IPRIORITYR,
    ISACTIVER,
    ISENABLER,
    ISPENDR,
    ITARGETSR,
    SGIR,
    SPENDSGIR,
    TYPER,
    machine,
)


def test_id_registers() -> None:
    m = machine(cpus=4)
    c = m.cpus[0]
    assert c.read(GICD + TYPER) == (256 + 32) // 32 - 1 | 3 << 5  # SecurityExtn=0
    assert c.read(GICD + IIDR) == 0x0000_043B
    assert (c.read(GICD + 0xFE8) >> 4) & 0xF == 2  # PIDR2.ArchRev
    assert c.read(GICD + 0xFF0) == 0x0D


def test_ctlr_keeps_two_group_enables() -> None:
    m = machine()
    c = m.cpus[0]
    c.write(GICD + CTLR, 0xFFFF_FFFF)
    assert c.read(GICD + CTLR) == 3


def test_sgi_enables_are_rao_wi_and_ppis_banked() -> None:
    m = machine()
    c0, c1 = m.cpus
    assert c0.read(GICD + ISENABLER) == 0xFFFF
    c0.write(GICD + ICENABLER, 0xFFFF_FFFF)
    assert c0.read(GICD + ISENABLER) == 0xFFFF
    c0.write(GICD + ISENABLER, 1 << 27)
    assert c0.read(GICD + ISENABLER) == 0xFFFF | 1 << 27
    assert c1.read(GICD + ISENABLER) == 0xFFFF


def test_spi_enable_shared() -> None:
    m = machine()
    c0, c1 = m.cpus
    c0.write(GICD + ISENABLER + 4, 0x5)
    assert c1.read(GICD + ISENABLER + 4) == 0x5
    c1.write(GICD + ICENABLER + 4, 0x1)
    assert c0.read(GICD + ICENABLER + 4) == 0x4


def test_priority_bytes_masked_and_banked() -> None:
    m = machine(distributor_priority_bits=5)  # GIC-400
    c0, c1 = m.cpus
    c0.write(GICD + IPRIORITYR + 27, 0xFF, size=1)
    assert c0.read(GICD + IPRIORITYR + 27, size=1) == 0xF8  # 5 implemented bits
    assert c1.read(GICD + IPRIORITYR + 27, size=1) == 0
    c1.write(GICD + IPRIORITYR + 40, 0x12345678)
    assert c0.read(GICD + IPRIORITYR + 40) == 0x10305078


def test_priority_bits_default_8_as_qemu() -> None:
    m = machine()
    m.cpus[0].write(GICD + IPRIORITYR + 33, 0xFF, size=1)
    assert m.cpus[0].read(GICD + IPRIORITYR + 33, size=1) == 0xFF
    m.cpus[0].write(GICD + IPRIORITYR + 40, 0x12345678)
    assert m.cpus[0].read(GICD + IPRIORITYR + 40) == 0x12345678
    assert machine(priority_bits=8).config.distributor_priority_bits == 8


def test_priority_bits_is_not_the_gicv2_width() -> None:
    with pytest.raises(InvalidArgumentValue, match="distributor_priority_bits"):
        machine(priority_bits=6)


def test_itargetsr_private_reads_own_mask() -> None:
    m = machine(cpus=4)
    for i, c in enumerate(m.cpus):
        mask = 1 << i
        assert c.read(GICD + ITARGETSR) == mask * 0x0101_0101
        assert c.read(GICD + ITARGETSR + 0x1C) == mask * 0x0101_0101
        c.write(GICD + ITARGETSR + 4, 0xFFFF_FFFF)  # RO
        assert c.read(GICD + ITARGETSR + 4, size=1) == mask


def test_itargetsr_spi_masked_to_cpus() -> None:
    m = machine(cpus=2)
    c = m.cpus[0]
    c.write(GICD + ITARGETSR + 32, 0xFF, size=1)
    assert c.read(GICD + ITARGETSR + 32, size=1) == 0x3
    c.write(GICD + ITARGETSR + 36, 0x02010302)
    assert c.read(GICD + ITARGETSR + 36) == 0x02010302


def test_icfgr() -> None:
    m = machine()
    c = m.cpus[0]
    assert c.read(GICD + ICFGR) == 0xAAAA_AAAA  # SGIs edge
    c.write(GICD + ICFGR, 0)
    assert c.read(GICD + ICFGR) == 0xAAAA_AAAA  # read-only
    c.write(GICD + ICFGR + 4, 0x8000_0002)  # PPI 16 and PPI 31 edge
    assert c.read(GICD + ICFGR + 4) == 0x8000_0002
    assert m.cpus[1].read(GICD + ICFGR + 4) == 0
    c.write(GICD + ICFGR + 8, 0xFFFF_FFFF)
    assert c.read(GICD + ICFGR + 8) == 0xAAAA_AAAA


def test_igroupr_banked_and_spis() -> None:
    m = machine()
    c0, c1 = m.cpus
    c0.write(GICD + IGROUPR, 0xFFFF_FFFF)
    c0.write(GICD + IGROUPR + 4, 0x1)
    assert c0.read(GICD + IGROUPR) == 0xFFFF_FFFF and c1.read(GICD + IGROUPR) == 0
    assert c1.read(GICD + IGROUPR + 4) == 1


def test_pending_and_active_set_clear() -> None:
    m = machine()
    c = m.cpus[0]
    c.write(GICD + ISPENDR + 4, 0x3)
    assert c.read(GICD + ISPENDR + 4) == 0x3 and m.gic.is_pending(33)
    c.write(GICD + ICPENDR + 4, 0x1)
    assert c.read(GICD + ICPENDR + 4) == 0x2
    c.write(GICD + ISACTIVER + 4, 0x4)
    assert m.gic.is_active(34) and c.read(GICD + ISACTIVER + 4) == 0x4
    c.write(GICD + 0x380 + 4, 0x4)
    assert not m.gic.is_active(34)
    c.write(GICD + ISPENDR, 0xFFFF)  # SGIs: WI here
    assert c.read(GICD + ISPENDR) == 0


def test_level_interrupt_pending_follows_line_and_latch() -> None:
    m = machine()
    c = m.cpus[0]
    m.set_interrupt_level(40, True)  # level by default (ICFGR = 0)
    assert m.gic.is_pending(40)
    m.set_interrupt_level(40, False)
    assert not m.gic.is_pending(40)
    c.write(GICD + ISPENDR + 4, 1 << 8)
    m.set_interrupt_level(40, False)
    assert m.gic.is_pending(40)
    c.write(GICD + ICPENDR + 4, 1 << 8)
    assert not m.gic.is_pending(40)


def test_edge_interrupt_latches_rising_edge() -> None:
    m = machine()
    c = m.cpus[0]
    c.write(GICD + ICFGR + 8, 2 << 16)  # INTID 40 edge
    m.set_interrupt_level(40, True)
    m.set_interrupt_level(40, False)
    assert m.gic.is_pending(40)


@pytest.mark.parametrize(("value", "targets"), [
    (0 << 24 | 0x06 << 16 | 3, {1, 2}),   # list
    (1 << 24 | 3, {0, 2, 3}),             # all but self (sender 1)
    (2 << 24 | 3, {1}),                   # self
    (3 << 24 | 0x01 << 16 | 3, {0, 1, 2, 3}),  # reserved filter: every CPU, as QEMU
    (0 << 24 | 0xF0 << 16 | 3, set()),    # only absent CPUs
])
def test_sgir_filters(value: int, targets: set[int]) -> None:
    m = machine(cpus=4)
    m.cpus[1].write(GICD + SGIR, value)
    got = {i for i in range(4) if m.gic.is_pending(3, cpu=i)}
    assert got == targets
    for i in targets:
        assert m.cpus[i].read(GICD + SPENDSGIR, size=1) == 0 and \
            m.cpus[i].read(GICD + SPENDSGIR + 3, size=1) == 0b10


def test_spendsgir_cpendsgir_per_source() -> None:
    m = machine(cpus=4)
    c0, c1, c2, _ = m.cpus
    c1.write(GICD + SGIR, 0x01 << 16 | 5)
    c2.write(GICD + SGIR, 0x01 << 16 | 5)
    assert c0.read(GICD + SPENDSGIR + 4) == 0x0000_0600  # SGI 5: sources 1 and 2
    assert c0.read(GICD + CPENDSGIR + 4, size=1) == 0
    c0.write(GICD + CPENDSGIR + 5, 0x2, size=1)
    assert c0.read(GICD + SPENDSGIR + 5, size=1) == 0x4
    c0.write(GICD + SPENDSGIR + 5, 0xF9, size=1)  # sources 0, 3 set; absent CPUs ignored
    assert c0.read(GICD + SPENDSGIR + 5, size=1) == 0xD
    assert m.cpus[3].read(GICD + SPENDSGIR + 5, size=1) == 0
    c0.write(GICD + CPENDSGIR + 4, 0xFFFF_FFFF)
    assert not m.gic.is_pending(5, cpu=0)


BAD_SIZES = [(CTLR, 2, "GICD_CTLR"), (ISENABLER, 1, "GICD_ISENABLER0"), (CTLR, 8, "GICD_CTLR"),
             (IPRIORITYR, 2, "GICD_IPRIORITYR0"), (SGIR, 1, "GICD_SGIR")]


@pytest.mark.parametrize(("off", "size", "reg"), BAD_SIZES)
def test_bad_access_sizes_raz_wi_with_event(off: int, size: int, reg: str) -> None:
    m = machine()
    c = m.cpus[0]
    c.write(GICD + CTLR, 3)
    c.write(GICD + IPRIORITYR, 0x1020_3040)
    rec = m.events.record()
    assert c.read(GICD + off, size=size) == 0
    c.write(GICD + off, (1 << (8 * size)) - 1, size=size)
    rec.stop()
    assert [(e["reg"], e["offset"], e["size"], e["write"]) for e in rec.of("gicd_bad_access")] \
        == [(reg, off, size, False), (reg, off, size, True)]
    assert c.read(GICD + CTLR) == 3 and c.read(GICD + IPRIORITYR) == 0x1020_3040
    assert not rec.of("gicd_sgi")


@pytest.mark.parametrize(("off", "size", "reg"), BAD_SIZES)
def test_bad_access_sizes_abort_when_configured(off: int, size: int, reg: str) -> None:
    c = machine(gic_bad_access="abort").cpus[0]
    with pytest.raises(ExternalAbort, match=reg):
        c.read(GICD + off, size=size)
    with pytest.raises(ExternalAbort, match=reg):
        c.write(GICD + off, 0, size=size)


def test_misaligned_access_aborts() -> None:
    c = machine().cpus[0]
    with pytest.raises(ExternalAbort, match="misaligned"):
        c.read(GICD + IPRIORITYR + 1, size=4)
    with pytest.raises(ExternalAbort, match="misaligned"):
        c.write(GICD + IPRIORITYR + 2, 0, size=4)


def test_reserved_raz_wi_and_sgir_reads_zero() -> None:
    m = machine()
    c = m.cpus[0]
    for off in (0x00C, 0x040, 0xD00, 0xE00, SGIR, 0xFFC):
        if off != SGIR:
            c.write(GICD + off, 0xFFFF_FFFF)
        assert c.read(GICD + off) == (0xB1 if off == 0xFFC else 0)  # CIDR3 is RO


def test_beyond_the_4k_distributor_nothing_decodes() -> None:
    """As QEMU's arm_gic (tests/hw/qemu_golden/gicv2_reserved.json): an external abort."""
    c = machine().cpus[0]
    for off in (0x1000, 0x2000, 0xFFFC):
        with pytest.raises(ExternalAbort):
            c.read(GICD + off)
        with pytest.raises(ExternalAbort):
            c.write(GICD + off, 0xFFFF_FFFF)


def test_non_cpu_master_uses_cpu0_bank() -> None:
    m = machine()
    m.device_write(7, GICD + ISPENDR + 4, 1)
    assert m.gic.is_pending(32)
    m.device_write(7, GICD + ISENABLER, 1 << 20)
    assert m.cpus[0].read(GICD + ISENABLER) >> 20 & 1
    assert not m.cpus[1].read(GICD + ISENABLER) >> 20 & 1


def test_uniprocessor_itargetsr_raz_wi_and_spis_reach_cpu0() -> None:
    m = machine(cpus=1)
    c = m.cpus[0]
    assert c.read(GICD + ITARGETSR) == 0 and c.read(GICD + ITARGETSR + 32) == 0
    c.write(GICD + ITARGETSR + 32, 0xFFFF_FFFF)
    assert c.read(GICD + ITARGETSR + 32) == 0
    c.write(GICD + CTLR, 1)
    c.write(0x0801_0004, 0xFF)
    c.write(0x0801_0000, 1)
    c.write(GICD + ISENABLER + 4, 1)
    m.set_interrupt_level(32, True)
    assert c.irq_line
