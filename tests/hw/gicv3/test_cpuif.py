"""CPU interface: priority, PMR, preemption, running priority, EOImode, SGIs, sysreg access."""

from __future__ import annotations

import re

import pytest

from irqlab import Machine, UndefinedInstruction
from irqlab.errors import InvalidArgumentValue

GICD = 0x0800_0000


def sgi_base(m: Machine, i: int) -> int:
    return m.config.redistributor_base(i) + 0x1_0000


def boot(m: Machine, *, group: int = 1) -> None:
    """What firmware + Linux do: enable groups, wake redists, all interrupts in ``group``."""
    c0 = m.cpus[0]
    c0.write(GICD, 0x3)
    for i, cpu in enumerate(m.cpus):
        cpu.write(m.config.redistributor_base(i) + 0x14, 0)
        cpu.write(sgi_base(m, i) + 0x80, 0xFFFF_FFFF if group else 0)
        cpu.write_sysreg("ICC_PMR_EL1", 0xFF)
        cpu.write_sysreg("ICC_IGRPEN0_EL1", 1)
        cpu.write_sysreg("ICC_IGRPEN1_EL1", 1)
    for n in range(1, m.config.spis // 32 + 1):
        c0.write(GICD + 0x80 + 4 * n, 0xFFFF_FFFF if group else 0)


def ppi(m: Machine, cpu: int, intid: int, prio: int, *, edge: bool = True) -> None:
    """Enable PPI/SGI ``intid`` on ``cpu`` with ``prio``."""
    c = m.cpus[cpu]
    sb = sgi_base(m, cpu)
    c.write(sb + 0x400 + intid, prio, 1)
    if intid >= 16 and edge:
        cfg = c.read(sb + 0xC04)
        c.write(sb + 0xC04, cfg | (2 << (2 * (intid - 16))))
    c.write(sb + 0x100, 1 << intid)


@pytest.fixture
def m() -> Machine:
    mm = Machine.virt(cpus=2, its=False)
    boot(mm)
    return mm


def test_priority_order_and_tie_lowest_intid(m: Machine) -> None:
    for intid, prio in ((20, 0xA0), (21, 0x40), (22, 0x40), (23, 0x80)):
        ppi(m, 0, intid, prio)
        m.set_interrupt_level(intid, True, cpu=0)
    c = m.cpus[0]
    c.write_sysreg("ICC_CTLR_EL1", 2)  # EOImode=1 so nothing becomes pending again
    got = []
    for _ in range(4):
        i = c.read_sysreg("ICC_IAR1_EL1")
        got.append(i)
        c.write_sysreg("ICC_EOIR1_EL1", i)
    assert got == [21, 22, 23, 20]
    assert c.read_sysreg("ICC_IAR1_EL1") == 1023
    assert not c.irq_line


def test_pmr_masks(m: Machine) -> None:
    c = m.cpus[0]
    ppi(m, 0, 20, 0x80)
    c.write_sysreg("ICC_PMR_EL1", 0x80)
    m.set_interrupt_level(20, True, cpu=0)
    assert not c.irq_line
    assert c.read_sysreg("ICC_IAR1_EL1") == 1023
    assert c.read_sysreg("ICC_HPPIR1_EL1") == 20  # HPPIR ignores PMR
    assert c.read_sysreg("ICC_PMR_EL1") == 0x80
    c.write_sysreg("ICC_PMR_EL1", 0x87)  # low bits not implemented (5 priority bits)
    assert c.read_sysreg("ICC_PMR_EL1") == 0x80
    c.write_sysreg("ICC_PMR_EL1", 0x88)
    assert c.irq_line
    assert c.read_sysreg("ICC_IAR1_EL1") == 20


def test_stored_priorities_keep_8_bits_cpu_interface_5(m: Machine) -> None:
    """GICR_IPRIORITYR keeps 8 bits (as QEMU); ICC_PMR_EL1 and PRIbits stay at 5 bits."""
    c = m.cpus[0]
    c.write(sgi_base(m, 0) + 0x400 + 20, 0xFF, 1)
    assert c.read(sgi_base(m, 0) + 0x400 + 20, 1) == 0xFF
    c.write_sysreg("ICC_PMR_EL1", 0xFF)
    assert c.read_sysreg("ICC_PMR_EL1") == 0xF8
    assert (c.read_sysreg("ICC_CTLR_EL1") >> 8) & 7 == 4


def test_hppi_uses_every_stored_bit(m: Machine) -> None:
    """0x41 and 0x42 differ only below PRIbits: the lower value still wins (as QEMU)."""
    ppi(m, 0, 21, 0x42)
    ppi(m, 0, 22, 0x41)
    m.set_interrupt_level(21, True, cpu=0)
    m.set_interrupt_level(22, True, cpu=0)
    c = m.cpus[0]
    assert c.read_sysreg("ICC_HPPIR1_EL1") == 22
    assert c.read_sysreg("ICC_IAR1_EL1") == 22
    # the group priority is 0x40 (5 preemption bits): 0x42 cannot preempt it
    assert c.read_sysreg("ICC_RPR_EL1") == 0x40
    assert c.read_sysreg("ICC_AP1R0_EL1") == 1 << (0x40 >> 3)
    assert not c.irq_line
    assert c.read_sysreg("ICC_IAR1_EL1") == 1023
    c.write_sysreg("ICC_EOIR1_EL1", 22)
    assert c.irq_line
    assert c.read_sysreg("ICC_IAR1_EL1") == 21


def test_pmr_masks_stored_priority_with_low_bits(m: Machine) -> None:
    """Priority 0x79 vs PMR 0x78 (5 bits): not below the mask, so not signalled."""
    ppi(m, 0, 21, 0x79)
    m.set_interrupt_level(21, True, cpu=0)
    c = m.cpus[0]
    c.write_sysreg("ICC_PMR_EL1", 0x78)
    assert not c.irq_line
    assert c.read_sysreg("ICC_HPPIR1_EL1") == 21
    c.write_sysreg("ICC_PMR_EL1", 0x80)
    assert c.irq_line


def test_lpi_priority_keeps_bits_7_2() -> None:
    """An LPI's priority is configuration byte [7:2] (bits [1:0] of the priority read 0)."""
    m = Machine.virt(cpus=1, its=False, direct_lpi=True)
    boot(m)
    c = m.cpus[0]
    rd = m.config.redistributor_base(0)
    m.ram_write(0x4010_0000, bytes([0x4F, 0x4B]))  # LPI 8192: prio 0x4C; 8193: 0x48
    c.write(rd + 0x70, 0x4010_0000 | 15, 8)
    c.write(rd + 0x78, 0x4020_0000 | (1 << 62), 8)
    c.write(rd, 1)
    rec = m.events.record()
    c.write(rd + 0x40, 8193, 8)  # GICR_SETLPIR
    c.write(rd + 0x40, 8192, 8)
    rec.stop()
    assert [e["prio"] for e in rec.of("gicr_lpi_pending")] == [0x48, 0x4C]
    assert c.read_sysreg("ICC_IAR1_EL1") == 8193  # 0x48 < 0x4C (same group priority)
    assert c.read_sysreg("ICC_RPR_EL1") == 0x48


def test_running_priority_and_ap_registers(m: Machine) -> None:
    c = m.cpus[0]
    ppi(m, 0, 20, 0xA0)
    ppi(m, 0, 21, 0x40)
    assert c.read_sysreg("ICC_RPR_EL1") == 0xFF
    m.set_interrupt_level(20, True, cpu=0)
    assert c.read_sysreg("ICC_IAR1_EL1") == 20
    assert c.read_sysreg("ICC_RPR_EL1") == 0xA0
    assert c.read_sysreg("ICC_AP1R0_EL1") == 1 << (0xA0 >> 3)
    assert c.read_sysreg("ICC_AP0R0_EL1") == 0
    m.set_interrupt_level(21, True, cpu=0)
    assert c.irq_line  # 0x40 preempts 0xA0
    assert c.read_sysreg("ICC_IAR1_EL1") == 21
    assert c.read_sysreg("ICC_AP1R0_EL1") == (1 << 20) | (1 << 8)
    assert c.read_sysreg("ICC_RPR_EL1") == 0x40
    c.write_sysreg("ICC_EOIR1_EL1", 21)
    assert c.read_sysreg("ICC_RPR_EL1") == 0xA0
    c.write_sysreg("ICC_EOIR1_EL1", 20)
    assert c.read_sysreg("ICC_RPR_EL1") == 0xFF
    assert c.read_sysreg("ICC_AP1R0_EL1") == 0
    # AP registers are writable (save/restore) and drive the running priority.
    c.write_sysreg("ICC_AP1R0_EL1", 1 << 4)
    assert c.read_sysreg("ICC_RPR_EL1") == 0x20


def test_same_priority_does_not_preempt(m: Machine) -> None:
    c = m.cpus[0]
    ppi(m, 0, 20, 0x80)
    ppi(m, 0, 21, 0x80)
    m.set_interrupt_level(20, True, cpu=0)
    assert c.read_sysreg("ICC_IAR1_EL1") == 20
    m.set_interrupt_level(21, True, cpu=0)
    assert not c.irq_line
    assert c.read_sysreg("ICC_IAR1_EL1") == 1023
    assert c.read_sysreg("ICC_HPPIR1_EL1") == 21
    c.write_sysreg("ICC_EOIR1_EL1", 20)
    assert c.irq_line


@pytest.mark.parametrize(("bpr1", "preempts"), [(3, True), (5, True), (6, True), (7, False)])
def test_preemption_by_group_priority_with_bpr1(m: Machine, bpr1: int, preempts: bool) -> None:
    c = m.cpus[0]
    c.write_sysreg("ICC_BPR1_EL1", bpr1)
    assert c.read_sysreg("ICC_BPR1_EL1") == bpr1
    ppi(m, 0, 20, 0x40)
    ppi(m, 0, 21, 0x30)
    m.set_interrupt_level(20, True, cpu=0)
    assert c.read_sysreg("ICC_IAR1_EL1") == 20
    # Group 1 group priority is bits [7:BPR1]: 0x30 vs 0x40.
    m.set_interrupt_level(21, True, cpu=0)
    assert c.irq_line is preempts
    assert c.read_sysreg("ICC_IAR1_EL1") == (21 if preempts else 1023)


def test_bpr_minimum_and_cbpr(m: Machine) -> None:
    c = m.cpus[0]
    assert c.read_sysreg("ICC_BPR0_EL1") == 2  # 7 - 5 preemption bits
    assert c.read_sysreg("ICC_BPR1_EL1") == 3
    c.write_sysreg("ICC_BPR0_EL1", 0)
    c.write_sysreg("ICC_BPR1_EL1", 0)
    assert (c.read_sysreg("ICC_BPR0_EL1"), c.read_sysreg("ICC_BPR1_EL1")) == (2, 3)
    c.write_sysreg("ICC_BPR0_EL1", 5)
    c.write_sysreg("ICC_CTLR_EL1", 1)  # CBPR
    assert c.read_sysreg("ICC_BPR1_EL1") == 6  # BPR0 + 1
    c.write_sysreg("ICC_BPR1_EL1", 3)  # ignored with CBPR
    assert c.read_sysreg("ICC_BPR1_EL1") == 6
    c.write_sysreg("ICC_CTLR_EL1", 0)
    assert c.read_sysreg("ICC_BPR1_EL1") == 3
    # With CBPR the Group 1 group priority uses BPR0 ([7:BPR0+1] = [7:6]).
    c.write_sysreg("ICC_CTLR_EL1", 1)
    ppi(m, 0, 20, 0x70)
    ppi(m, 0, 21, 0x50)
    m.set_interrupt_level(20, True, cpu=0)
    assert c.read_sysreg("ICC_IAR1_EL1") == 20
    m.set_interrupt_level(21, True, cpu=0)
    assert not c.irq_line  # 0x50 & 0xC0 == 0x70 & 0xC0
    assert c.read_sysreg("ICC_RPR_EL1") == 0x40  # group priority of 0x70 under BPR0 = 5



def test_bpr_res0_bits_are_dropped_before_the_minimum(m: Machine) -> None:
    """Bits [63:3] are RES0: 8 is BinaryPoint 0, raised to the minimum (QEMU 7.2 stores 0)."""
    c = m.cpus[0]
    c.write_sysreg("ICC_BPR0_EL1", 8)
    c.write_sysreg("ICC_BPR1_EL1", 8)
    assert (c.read_sysreg("ICC_BPR0_EL1"), c.read_sysreg("ICC_BPR1_EL1")) == (2, 3)
    c.write_sysreg("ICC_BPR1_EL1", 0xE)  # field 6
    assert c.read_sysreg("ICC_BPR1_EL1") == 6


def test_bpr_raised_while_active_remasks_the_running_priority(m: Machine) -> None:
    """As QEMU's icc_hppi_can_preempt: both sides are masked with the current BPR."""
    c = m.cpus[0]
    ppi(m, 0, 20, 0x48)
    ppi(m, 0, 21, 0x40)
    m.set_interrupt_level(20, True, cpu=0)
    assert c.read_sysreg("ICC_IAR1_EL1") == 20
    assert c.read_sysreg("ICC_RPR_EL1") == 0x48
    c.write_sysreg("ICC_BPR1_EL1", 6)  # group priority [7:6]
    m.set_interrupt_level(21, True, cpu=0)
    assert not c.irq_line  # 0x40 & 0xC0 == 0x48 & 0xC0
    assert c.read_sysreg("ICC_RPR_EL1") == 0x48  # the AP bit set at acknowledge
    c.write_sysreg("ICC_BPR1_EL1", 3)
    assert c.irq_line  # 0x40 < 0x48 again

def test_ctlr_fields(m: Machine) -> None:
    c = m.cpus[0]
    v = c.read_sysreg("ICC_CTLR_EL1")
    assert (v >> 8) & 7 == 4  # PRIbits = 5 - 1
    assert (v >> 11) & 7 == 1  # IDbits: 24 (as QEMU), whatever GICD_TYPER.IDbits
    assert (v >> 15) & 1 == 1  # A3V
    c.write_sysreg("ICC_CTLR_EL1", 0xFFFF_FFFF)
    assert c.read_sysreg("ICC_CTLR_EL1") == v | 0x3  # CBPR, EOImode; PMHE RAZ/WI as QEMU
    assert c.read_sysreg("ICC_SRE_EL1") == 7
    c.write_sysreg("ICC_SRE_EL1", 0)
    assert c.read_sysreg("ICC_SRE_EL1") == 7


def test_eoimode_split(m: Machine) -> None:
    c = m.cpus[0]
    rec = m.events.record()
    c.write_sysreg("ICC_CTLR_EL1", 2)  # EOImode = 1
    ppi(m, 0, 20, 0x80)
    m.set_interrupt_level(20, True, cpu=0)
    assert c.read_sysreg("ICC_IAR1_EL1") == 20
    c.write_sysreg("ICC_EOIR1_EL1", 20)
    assert c.read_sysreg("ICC_RPR_EL1") == 0xFF  # priority dropped
    assert m.gic.is_active(20, 0)  # still active
    m.set_interrupt_level(20, False, cpu=0)
    m.set_interrupt_level(20, True, cpu=0)  # pending again, but active: not signalled
    assert not c.irq_line
    c.write_sysreg("ICC_DIR_EL1", 20)
    assert not m.gic.is_active(20, 0)
    assert c.irq_line
    assert rec.kinds().count("cpuif_dir") == 1


def test_dir_with_eoimode0_is_ignored(m: Machine) -> None:
    c = m.cpus[0]
    rec = m.events.record()
    ppi(m, 0, 20, 0x80)
    m.set_interrupt_level(20, True, cpu=0)
    assert c.read_sysreg("ICC_IAR1_EL1") == 20
    c.write_sysreg("ICC_DIR_EL1", 20)
    assert m.gic.is_active(20, 0)
    assert rec.of("cpuif_dir_ignored")[0]["reason"] == "ICC_CTLR_EL1.EOImode is 0"
    c.write_sysreg("ICC_EOIR1_EL1", 20)
    assert not m.gic.is_active(20, 0)


def test_eoi_of_not_highest_drops_highest_and_deactivates_written(m: Machine) -> None:
    c = m.cpus[0]
    ppi(m, 0, 20, 0xA0)
    ppi(m, 0, 21, 0x40)
    m.set_interrupt_level(20, True, cpu=0)
    assert c.read_sysreg("ICC_IAR1_EL1") == 20
    m.set_interrupt_level(21, True, cpu=0)
    assert c.read_sysreg("ICC_IAR1_EL1") == 21
    c.write_sysreg("ICC_EOIR1_EL1", 20)  # out of order: UNPREDICTABLE, modelled as QEMU
    assert c.read_sysreg("ICC_RPR_EL1") == 0xA0  # the 0x40 priority dropped
    assert not m.gic.is_active(20, 0)
    assert m.gic.is_active(21, 0)


def test_eoi_special_and_idle_ignored(m: Machine) -> None:
    c = m.cpus[0]
    rec = m.events.record()
    c.write_sysreg("ICC_EOIR1_EL1", 1023)
    c.write_sysreg("ICC_EOIR1_EL1", 20)
    reasons = [e["reason"] for e in rec.of("cpuif_eoi_ignored")]
    assert reasons == ["special INTID", "no active priority"]


def test_group0_is_fiq_and_iar1_returns_spurious(m: Machine) -> None:
    c = m.cpus[0]
    c.write(sgi_base(m, 0) + 0x80, 0xFFFF_FFFF & ~(1 << 20))  # PPI 20 -> Group 0
    ppi(m, 0, 20, 0x40)
    ppi(m, 0, 21, 0x80)
    m.set_interrupt_level(20, True, cpu=0)
    m.set_interrupt_level(21, True, cpu=0)
    assert c.fiq_line and not c.irq_line
    assert c.read_sysreg("ICC_HPPIR1_EL1") == 1023
    assert c.read_sysreg("ICC_HPPIR0_EL1") == 20
    assert c.read_sysreg("ICC_IAR1_EL1") == 1023
    assert c.read_sysreg("ICC_IAR0_EL1") == 20
    assert c.read_sysreg("ICC_AP0R0_EL1") == 1 << 8
    assert not c.fiq_line and not c.irq_line  # 0x80 cannot preempt 0x40
    c.write_sysreg("ICC_EOIR1_EL1", 20)  # wrong group: ignored
    assert c.read_sysreg("ICC_RPR_EL1") == 0x40
    c.write_sysreg("ICC_EOIR0_EL1", 20)
    assert c.irq_line


def test_group_enable_gates(m: Machine) -> None:
    c = m.cpus[0]
    ppi(m, 0, 20, 0x40)
    m.set_interrupt_level(20, True, cpu=0)
    assert c.irq_line
    c.write_sysreg("ICC_IGRPEN1_EL1", 0)
    assert not c.irq_line
    assert c.read_sysreg("ICC_IGRPEN1_EL1") == 0
    c.write_sysreg("ICC_IGRPEN1_EL1", 1)
    assert c.irq_line
    c.write(GICD, 0x1)  # EnableGrp1 = 0
    assert not c.irq_line
    c.write(GICD, 0x3)
    assert c.irq_line


def test_sysreg_directions_and_ap_count() -> None:
    m = Machine.virt(cpus=1, its=False)
    c = m.cpus[0]
    with pytest.raises(UndefinedInstruction):
        c.write_sysreg("ICC_IAR1_EL1", 0)
    with pytest.raises(UndefinedInstruction):
        c.read_sysreg("ICC_EOIR1_EL1")
    with pytest.raises(UndefinedInstruction):
        c.read_sysreg("ICC_SGI1R_EL1")
    with pytest.raises(UndefinedInstruction):
        c.read_sysreg("ICC_AP0R1_EL1")  # 5 preemption bits: only AP<n>R0
    with pytest.raises(InvalidArgumentValue):
        c.read_sysreg("ICC_AP0R4_EL1")
    m7 = Machine.virt(cpus=1, its=False, priority_bits=7)
    assert m7.cpus[0].read_sysreg("ICC_AP1R3_EL1") == 0
    assert m7.cpus[0].read_sysreg("ICC_BPR0_EL1") == 0


@pytest.mark.parametrize(("pribits", "implemented", "upper_rpr", "last", "top"), [
    (4, 0x0000_FFFF, 0xFF, "ICC_AP{g}R0_EL1", 0xF0),
    (5, 0xFFFF_FFFF, 0x80, "ICC_AP{g}R0_EL1", 0xF8),
    (6, 0xFFFF_FFFF, 0x40, "ICC_AP{g}R1_EL1", 0xFC),
    (8, 0xFFFF_FFFF, 0x20, "ICC_AP{g}R3_EL1", 0xFE),
])
def test_ap_bits_beyond_the_preemption_levels_are_raz_wi(
        pribits: int, implemented: int, upper_rpr: int, last: str, top: int) -> None:
    """One AP bit per preemption level (2^min(priority_bits, 7)); ICC_RPR_EL1 is 8 bits.

    With 4 priority bits only AP<g>R0[15:0] mean anything: the upper half used to be
    stored, bit 16 read back as a running priority of 0x100 and blocked every interrupt.
    """
    m = Machine.virt(cpus=1, its=False, priority_bits=pribits)
    boot(m)
    c = m.cpus[0]
    ppi(m, 0, 20, 0x00, edge=False)  # level: pending while the line is high
    for g in (0, 1):
        reg = f"ICC_AP{g}R0_EL1"
        c.write_sysreg(reg, (1 << 64) - 1)
        assert c.read_sysreg(reg) == implemented
        assert c.read_sysreg("ICC_RPR_EL1") == 0
        m.set_interrupt_level(20, True, cpu=0)
        assert not c.irq_line  # nothing preempts group priority 0
        m.set_interrupt_level(20, False, cpu=0)
        c.write_sysreg(reg, 0xFFFF_0000)
        assert c.read_sysreg(reg) == 0xFFFF_0000 & implemented
        assert c.read_sysreg("ICC_RPR_EL1") == upper_rpr
        c.write_sysreg(reg, 0)
        c.write_sysreg(last.format(g=g), 1 << (implemented.bit_length() - 1))
        assert c.read_sysreg("ICC_RPR_EL1") == top  # the lowest group priority
        m.set_interrupt_level(20, True, cpu=0)
        assert c.irq_line  # priority 0 preempts it
        m.set_interrupt_level(20, False, cpu=0)
        c.write_sysreg(last.format(g=g), 0)
        assert c.read_sysreg("ICC_RPR_EL1") == 0xFF


# -- SGIs ------------------------------------------------------------------------
def sgi1r(intid: int, targets: int = 0, aff1: int = 0, rs: int = 0, irm: int = 0) -> int:
    return targets | (aff1 << 16) | (intid << 24) | (irm << 40) | (rs << 44)


def pending_sgis(m: Machine, intid: int) -> list[int]:
    return [i for i in range(len(m.cpus)) if m.gic.is_pending(intid, i)]


@pytest.fixture
def m20() -> Machine:
    mm = Machine.virt(cpus=20, its=False)
    boot(mm)
    return mm


def test_sgi_target_list(m20: Machine) -> None:
    m20.cpus[0].write_sysreg("ICC_SGI1R_EL1", sgi1r(3, targets=0b1010))
    assert pending_sgis(m20, 3) == [1, 3]


def test_sgi_self_and_delivery(m20: Machine) -> None:
    ppi(m20, 0, 3, 0x80)
    c = m20.cpus[0]
    c.write_sysreg("ICC_SGI1R_EL1", sgi1r(3, targets=1))
    assert c.irq_line
    assert c.read_sysreg("ICC_IAR1_EL1") == 3
    assert not m20.gic.is_pending(3, 0)


def test_sgi_aff1_cluster(m20: Machine) -> None:
    # QEMU virt packs 16 CPUs per cluster: CPU 17 is Aff1=1, Aff0=1.
    m20.cpus[0].write_sysreg("ICC_SGI1R_EL1", sgi1r(5, targets=0b10, aff1=1))
    assert pending_sgis(m20, 5) == [17]


def test_sgi_range_selector(m20: Machine) -> None:
    # RS=1 addresses Aff0 16..31: nobody exists there.
    m20.cpus[0].write_sysreg("ICC_SGI1R_EL1", sgi1r(5, targets=0xFFFF, rs=1))
    assert pending_sgis(m20, 5) == []
    m20.cpus[0].write_sysreg("ICC_SGI1R_EL1", sgi1r(5, targets=0x8001, rs=0))
    assert pending_sgis(m20, 5) == [0, 15]


def test_sgi_irm_broadcast_all_but_self(m20: Machine) -> None:
    m20.cpus[4].write_sysreg("ICC_SGI1R_EL1", sgi1r(7, targets=0x1, irm=1))
    assert pending_sgis(m20, 7) == [i for i in range(20) if i != 4]


def test_sgi_group_acceptance() -> None:
    m = Machine.virt(cpus=2, its=False)
    boot(m)
    m.cpus[1].write(sgi_base(m, 1) + 0x80, 0xFFFF_FFFF & ~(1 << 2))  # SGI 2 Group 0 on CPU1
    c = m.cpus[0]
    rec = m.events.record()
    c.write_sysreg("ICC_SGI1R_EL1", sgi1r(2, targets=0b11))
    assert pending_sgis(m, 2) == [0]
    assert rec.of("gicr_sgi_ignored")[0].cpu == 1
    c.write_sysreg("ICC_SGI0R_EL1", sgi1r(2, targets=0b11))
    assert pending_sgis(m, 2) == [0, 1]
    m.cpus[1].write(sgi_base(m, 1) + 0x280, 1 << 2)  # ICPENDR0
    c.write_sysreg("ICC_ASGI1R_EL1", sgi1r(2, targets=0b10))
    assert m.gic.is_pending(2, 1)  # as QEMU: ASGI1R (Secure Group 1) accepted by Group 0
    ppi(m, 1, 2, 0x20)
    assert m.cpus[1].fiq_line


def test_deactivate_physical(m: Machine) -> None:
    c = m.cpus[0]
    ppi(m, 0, 20, 0x80)
    m.set_interrupt_level(20, True, cpu=0)
    assert c.read_sysreg("ICC_IAR1_EL1") == 20
    m.gic.deactivate_physical(0, 20)
    assert not m.gic.is_active(20, 0)
    assert c.read_sysreg("ICC_RPR_EL1") == 0x80  # no active-priority change


def test_line_and_ack_events(m: Machine) -> None:
    c = m.cpus[0]
    ppi(m, 0, 20, 0x80)
    rec = m.events.record()
    m.set_interrupt_level(20, True, cpu=0)
    i = c.read_sysreg("ICC_IAR1_EL1")
    c.write_sysreg("ICC_EOIR1_EL1", i)
    lines = [(e.cpu, e["level"]) for e in rec.of("cpuif_irq_line")]
    assert lines == [(0, True), (0, False)]
    ack = rec.of("cpuif_ack")[0]
    assert (ack.cpu, ack["intid"], ack["prio"], ack["group"]) == (0, 20, 0x80, 1)
    assert rec.of("cpuif_eoi")[0]["drop"] == 0x80
    assert rec.of("cpuif_deactivate")[0]["via"] == "eoi"
    assert str(ack) == "[0] cpu0 cpuif_ack intid=0x14 prio=0x80 group=0x1"


@pytest.mark.parametrize("intid", [32 + 256, 1019, 1024, 8191])
def test_eoi_of_unimplemented_intid_is_ignored_without_drop(m: Machine, intid: int) -> None:
    """As QEMU's icc_eoir_write: no priority drop for an INTID that does not exist."""
    ppi(m, 0, 20, 0xA0)
    m.set_interrupt_level(20, True, cpu=0)
    c = m.cpus[0]
    assert c.read_sysreg("ICC_IAR1_EL1") == 20
    rec = m.events.record()
    c.write_sysreg("ICC_EOIR1_EL1", intid)
    rec.stop()
    assert [(e["intid"], e["reason"]) for e in rec.of("cpuif_eoi_ignored")] == \
        [(intid, "INTID not implemented")]
    assert c.read_sysreg("ICC_RPR_EL1") == 0xA0
    c.write_sysreg("ICC_EOIR1_EL1", 20)
    assert c.read_sysreg("ICC_RPR_EL1") == 0xFF


def test_eoi_of_lpi_drops_priority_when_lpis_exist() -> None:
    m = Machine.virt(cpus=1)  # ITS: GICD_TYPER.LPIS = 1
    boot(m)
    ppi(m, 0, 20, 0xA0)
    m.set_interrupt_level(20, True, cpu=0)
    c = m.cpus[0]
    assert c.read_sysreg("ICC_IAR1_EL1") == 20
    c.write_sysreg("ICC_EOIR1_EL1", 8192)  # drops the priority; nothing to deactivate
    assert c.read_sysreg("ICC_RPR_EL1") == 0xFF
    assert m.gic.is_active(20, cpu=0)


def test_icc_sre_el2_exists_only_with_el2() -> None:
    """ICC_SRE_EL2 reads 0xF (SRE, DFB, DIB, Enable RAO/WI, as QEMU); only with EL2."""
    c = Machine.virt(cpus=1, its=False, virtualization=True).cpus[0]
    assert c.read_sysreg("ICC_SRE_EL2") == 0xF
    c.write_sysreg("ICC_SRE_EL2", 0)
    assert c.read_sysreg("ICC_SRE_EL2") == 0xF
    c = Machine.virt(cpus=1, its=False).cpus[0]
    assert "ICC_SRE_EL2" not in c.sysreg_names


_NO_EL3 = "EL3 is not implemented (QEMU virt without EL3: one Security state)"
_NO_NMI = "FEAT_GICv3_NMI is not implemented"
_NO_EL2 = "EL2 is not implemented (MachineConfig.virtualization is False)"


@pytest.mark.parametrize("virtualization", [False, True])
def test_architectural_registers_not_implemented_are_undefined(virtualization: bool) -> None:
    """EL2/EL3-only and FEAT_GICv3_NMI registers exist architecturally: UNDEFINED here
    (UndefinedInstruction naming why), not an unknown name (InvalidArgumentValue)."""
    c = Machine.virt(cpus=1, its=False, virtualization=virtualization).cpus[0]
    absent = {"ICC_CTLR_EL3": _NO_EL3, "ICC_IGRPEN1_EL3": _NO_EL3, "ICC_SRE_EL3": _NO_EL3,
              "ICC_NMIAR1_EL1": _NO_NMI, "ICV_NMIAR1_EL1": _NO_NMI}
    if not virtualization:
        absent["ICC_SRE_EL2"] = _NO_EL2
    for name, why in absent.items():
        msg = f"^{re.escape(name)}: {re.escape(why)}$"
        with pytest.raises(UndefinedInstruction, match=msg):
            c.read_sysreg(name)
        with pytest.raises(UndefinedInstruction, match=msg):
            c.write_sysreg(name, 0)
        assert name not in c.sysreg_names
    if virtualization:
        assert c.read_sysreg("ICC_SRE_EL2") == 0xF
    for name in ("ICC_AP0R4_EL1", "ICC_CTLR_EL2", "ICC_FOO_EL1", "ICC_NMIAR0_EL1"):
        with pytest.raises(InvalidArgumentValue, match="system register this model knows"):
            c.read_sysreg(name)
