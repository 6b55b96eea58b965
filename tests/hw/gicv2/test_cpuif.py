"""GICv2 CPU interface: acknowledge, EOI, DIR, priorities, groups, lines, SPI targeting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab.errors import ExternalAbort, InvalidArgumentType, InvalidArgumentValue
from irqlab.hw.machine import Cpu, Machine

from .helpers import (
    C_ABPR,
    C_AEOIR,
    C_AHPPIR,
    C_AIAR,
    C_APR,
    C_BPR,
    C_CTLR,
    C_DIR,
    C_EOIR,
    C_HPPIR,
    C_IAR,
    C_IIDR,
    C_NSAPR,
    C_PMR,
    C_RPR,
    CTLR,
    GICC,
    GICD,
    ICFGR,
    IGROUPR,
    IPRIORITYR,
    ISACTIVER,
    ISENABLER,
    ISPENDR,
    ITARGETSR,
    SGIR,
    ack,
    enable_all,
    eoi,
    machine,
    setup_spi,
)


def test_reset_and_ids() -> None:
    m = machine()
    c = m.cpus[0]
    assert c.read(GICC + C_IIDR) == 0x0002_043B
    # 8 priority bits (QEMU's arm_gic): 7 preemption bits, minimum BPR 0, ABPR 1
    assert (c.read(GICC + C_CTLR), c.read(GICC + C_PMR), c.read(GICC + C_BPR),
            c.read(GICC + C_ABPR), c.read(GICC + C_RPR)) == (0, 0, 0, 1, 0xFF)
    assert ack(c) == 1023 and not c.irq_line and not c.fiq_line
    c5 = machine(distributor_priority_bits=5).cpus[0]  # GIC-400: 32 levels
    assert (c5.read(GICC + C_BPR), c5.read(GICC + C_ABPR)) == (2, 3)


def test_eight_priority_bits_by_default() -> None:
    """As QEMU's GICv2: 8-bit priorities, PMR, and 128 preemption levels (APR0..3)."""
    m = machine()
    c = m.cpus[0]
    enable_all(m)
    c.write(GICC + C_PMR, 0xFF)
    assert c.read(GICC + C_PMR) == 0xFF
    setup_spi(m, 40, prio=0x43)
    setup_spi(m, 41, prio=0x42)
    m.set_interrupt_level(40, True)
    assert c.read(GICD + IPRIORITYR + 40, size=1) == 0x43
    assert ack(c) == 40
    assert c.read(GICC + C_RPR) == 0x42  # group priority [7:1]
    assert c.read(GICC + C_APR + 4) == 1 << (0x21 - 32)  # bit 0x21 of APR0..3
    m.set_interrupt_level(41, True)
    assert not c.irq_line  # 0x42 is not higher than the running group priority 0x42
    eoi(c, 40)
    assert c.irq_line and ack(c) == 41


def test_spi_round_trip() -> None:
    m = machine()
    c = m.cpus[0]
    enable_all(m)
    setup_spi(m, 40)
    rec = m.events.record()
    m.set_interrupt_level(40, True)
    assert c.irq_line and not m.cpus[1].irq_line
    assert c.read(GICC + C_HPPIR) == 40
    assert ack(c) == 40
    assert not c.irq_line and m.gic.is_active(40) and not m.gic.is_pending(40)
    # 7 preemption bits: group priority 0xA0 is APR bit 0x50 (APR2 bit 16), as QEMU
    assert c.read(GICC + C_RPR) == 0xA0 and c.read(GICC + C_APR + 8) == 1 << 16
    eoi(c, 40)
    assert not m.gic.is_active(40) and c.read(GICC + C_RPR) == 0xFF
    assert rec.kinds() == ["gicd_line", "gicc_lines", "gicc_lines", "gicc_ack", "gicc_eoi"]


def test_level_spi_stays_pending_while_line_high() -> None:
    m = machine()
    c = m.cpus[0]
    enable_all(m)
    setup_spi(m, 41, edge=False)
    m.set_interrupt_level(41, True)
    assert ack(c) == 41
    assert m.gic.is_pending(41) and m.gic.is_active(41) and not c.irq_line
    eoi(c, 41)
    assert c.irq_line  # still asserted: signalled again
    m.set_interrupt_level(41, False)
    assert not c.irq_line and not m.gic.is_pending(41)


def test_spi_targeting_both_cpus_first_ack_wins() -> None:
    m = machine()
    c0, c1 = m.cpus
    enable_all(m)
    setup_spi(m, 42, targets=0b11)
    m.set_interrupt_level(42, True)
    assert c0.irq_line and c1.irq_line
    assert ack(c1) == 42
    assert not c0.irq_line and ack(c0) == 1023
    eoi(c1, 42)
    m.set_interrupt_level(42, False)


def test_retargeting_moves_a_pending_spi() -> None:
    m = machine()
    c0, c1 = m.cpus
    enable_all(m)
    setup_spi(m, 43, targets=0b01)
    m.set_interrupt_level(43, True)
    assert c0.irq_line and not c1.irq_line
    c0.write(GICD + ITARGETSR + 43, 0b10, size=1)
    assert not c0.irq_line and c1.irq_line
    assert ack(c1) == 43


def test_sgi_source_id_one_source_at_a_time() -> None:
    m = machine(cpus=4)
    c0 = m.cpus[0]
    enable_all(m)
    m.cpus[2].write(GICD + SGIR, 0x01 << 16 | 7)
    m.cpus[1].write(GICD + SGIR, 0x01 << 16 | 7)
    assert c0.read(GICC + C_HPPIR) == 1 << 10 | 7
    assert ack(c0) == 1 << 10 | 7
    assert m.gic.is_pending(7, cpu=0) and m.gic.is_active(7, cpu=0)
    assert ack(c0) == 1023  # active: the second source waits
    eoi(c0, 1 << 10 | 7)
    assert ack(c0) == 2 << 10 | 7
    eoi(c0, 2 << 10 | 7)
    assert not m.gic.is_pending(7, cpu=0) and not m.gic.is_active(7, cpu=0)


def test_sgi_to_self() -> None:
    m = machine()
    c1 = m.cpus[1]
    enable_all(m)
    c1.write(GICD + SGIR, 2 << 24 | 1)
    assert c1.irq_line and not m.cpus[0].irq_line
    assert ack(c1) == 1 << 10 | 1


def test_pmr_masks() -> None:
    m = machine(distributor_priority_bits=5)  # GIC-400
    c = m.cpus[0]
    enable_all(m, pmr=0xA0)
    setup_spi(m, 40, prio=0xA0)
    m.set_interrupt_level(40, True)
    assert not c.irq_line and ack(c) == 1023
    assert c.read(GICC + C_HPPIR) == 40  # HPPIR ignores the mask
    c.write(GICC + C_PMR, 0xA8)
    assert c.irq_line
    c.write(GICC + C_PMR, 0xFF)
    assert c.read(GICC + C_PMR) == 0xF8


def test_preemption_by_group_priority_and_bpr() -> None:
    m = machine(distributor_priority_bits=5)  # GIC-400
    c = m.cpus[0]
    enable_all(m)
    setup_spi(m, 40, prio=0x80)
    setup_spi(m, 41, prio=0x70)
    m.set_interrupt_level(40, True)
    assert ack(c) == 40
    m.set_interrupt_level(41, True)
    assert c.irq_line  # BPR=2: group priority [7:3], 0x70 < 0x80
    c.write(GICC + C_BPR, 4)  # group priority [7:5]: 0x60 < 0x80 still
    assert c.irq_line
    c.write(GICC + C_BPR, 7)  # no group priority bits: no preemption
    assert not c.irq_line
    c.write(GICC + C_BPR, 0)
    assert c.read(GICC + C_BPR) == 2  # minimum
    assert ack(c) == 41
    assert c.read(GICC + C_RPR) == 0x70
    eoi(c, 41)
    assert c.read(GICC + C_RPR) == 0x80
    eoi(c, 40)


def test_bpr_change_while_active_masks_only_the_pending_side() -> None:
    """Running priority = the group priority recorded at acknowledge, as QEMU 7.2."""
    m = machine()
    c = m.cpus[0]
    enable_all(m)
    setup_spi(m, 44, prio=0x50)
    setup_spi(m, 45, prio=0x48)
    m.set_interrupt_level(44, True)
    assert ack(c) == 44 and c.read(GICC + C_RPR) == 0x50
    c.write(GICC + C_BPR, 4)  # group priority [7:5]: 0x48 -> 0x40 < 0x50
    m.set_interrupt_level(45, True)
    assert c.irq_line and ack(c) == 45
    assert c.read(GICC + C_RPR) == 0x40
    eoi(c, 45)
    eoi(c, 44)


def test_eoimode_split() -> None:
    m = machine()
    c = m.cpus[0]
    enable_all(m, ctlr=0b11 | 1 << 9)
    setup_spi(m, 40)
    m.set_interrupt_level(40, True)
    assert ack(c) == 40
    eoi(c, 40)
    assert m.gic.is_active(40) and c.read(GICC + C_RPR) == 0xFF
    c.write(GICC + C_DIR, 40)
    assert not m.gic.is_active(40)


def test_dir_ignored_without_split() -> None:
    m = machine()
    c = m.cpus[0]
    c.write(GICD + ISACTIVER + 4, 1 << 8)
    c.write(GICC + C_DIR, 40)
    assert m.gic.is_active(40)


def test_eoi_without_active_priority_ignored() -> None:
    m = machine()
    c = m.cpus[0]
    rec = m.events.record()
    c.write(GICD + ISACTIVER + 4, 1 << 8)
    eoi(c, 40)
    assert m.gic.is_active(40)
    assert rec.of("gicc_eoi")[0]["result"] == "no_active_priority"


def test_eoi_drops_the_priority_of_the_written_intids_group() -> None:
    """As QEMU's gic_drop_prio: the drop is in the group of the INTID written."""
    m = machine(distributor_priority_bits=5)
    c = m.cpus[0]
    enable_all(m, ctlr=0b111)  # AckCtl: GICC_IAR acknowledges group 1 too
    setup_spi(m, 40, prio=0x80, group=1)
    setup_spi(m, 41, prio=0x40, group=0)
    m.set_interrupt_level(40, True)
    assert ack(c) == 40
    m.set_interrupt_level(41, True)
    assert ack(c) == 41  # preempts: APR has 0x40, NSAPR 0x80
    rec = m.events.record()
    eoi(c, 40)  # out of order (UNPREDICTABLE): drops NSAPR's 0x80, deactivates 40
    assert c.read(GICC + C_NSAPR) == 0 and c.read(GICC + C_APR) == 1 << (0x40 >> 3)
    assert not m.gic.is_active(40) and m.gic.is_active(41)
    eoi(c, 40)  # group 1 has nothing active left: no drop, deactivation attempted
    assert c.read(GICC + C_APR) == 1 << (0x40 >> 3)
    eoi(c, 41)
    rec.stop()
    assert [e["result"] for e in rec.of("gicc_eoi")] == ["ok", "not_active", "ok"]
    assert c.read(GICC + C_RPR) == 0xFF and not m.gic.is_active(41)


def test_group1_ackctl_and_aliases() -> None:
    m = machine(distributor_priority_bits=5)  # GIC-400
    c = m.cpus[0]
    enable_all(m)
    setup_spi(m, 40, group=1)
    m.set_interrupt_level(40, True)
    assert c.irq_line
    assert c.read(GICC + C_HPPIR) == 1022 and c.read(GICC + C_AHPPIR) == 40
    assert ack(c) == 1022
    assert c.read(GICC + C_AIAR) == 40
    assert c.read(GICC + C_NSAPR) == 1 << (0xA0 >> 3) and c.read(GICC + C_APR) == 0
    c.write(GICC + C_AEOIR, 40)
    assert not m.gic.is_active(40)
    m.set_interrupt_level(40, False)
    m.set_interrupt_level(40, True)
    c.write(GICC + C_CTLR, 0b111)  # AckCtl
    assert ack(c) == 40
    eoi(c, 40)
    assert not m.gic.is_active(40)


def test_aiar_does_not_ack_group0_and_aeoir_ignores_it() -> None:
    m = machine()
    c = m.cpus[0]
    enable_all(m)
    setup_spi(m, 40)
    m.set_interrupt_level(40, True)
    assert c.read(GICC + C_AIAR) == 1023 and c.read(GICC + C_AHPPIR) == 1023
    assert ack(c) == 40
    c.write(GICC + C_AEOIR, 40)
    assert m.gic.is_active(40) and c.read(GICC + C_RPR) == 0xA0


def test_fiqen_signals_group0_as_fiq() -> None:
    m = machine()
    c = m.cpus[0]
    enable_all(m, ctlr=0b11 | 1 << 3)
    setup_spi(m, 40)
    setup_spi(m, 41, group=1, prio=0x90)
    m.set_interrupt_level(41, True)
    assert c.irq_line and not c.fiq_line
    m.set_interrupt_level(40, True)
    assert c.irq_line and not c.fiq_line  # 41 is higher priority
    c.write(GICD + IPRIORITYR + 40, 0x10, size=1)
    assert c.fiq_line and not c.irq_line


def test_group_enables() -> None:
    m = machine()
    c = m.cpus[0]
    enable_all(m, ctlr=0b10)  # group 1 only at the CPU interface
    setup_spi(m, 40)
    m.set_interrupt_level(40, True)
    assert not c.irq_line and c.read(GICC + C_HPPIR) == 1023
    c.write(GICC + C_CTLR, 0b11)
    assert c.irq_line
    c.write(GICD + CTLR, 0b10)
    assert not c.irq_line
    c.write(GICD + CTLR, 0b01)
    assert c.irq_line


def test_disable_while_pending_and_reenable() -> None:
    m = machine()
    c = m.cpus[0]
    enable_all(m)
    setup_spi(m, 40)
    m.set_interrupt_level(40, True)
    c.write(GICD + 0x180 + 4, 1 << 8)
    assert not c.irq_line and m.gic.is_pending(40)
    c.write(GICD + ISENABLER + 4, 1 << 8)
    assert c.irq_line


def test_ppi_banked_lines() -> None:
    m = machine()
    c0, c1 = m.cpus
    enable_all(m)
    for c in m.cpus:
        c.write(GICD + ISENABLER, 1 << 27)
    m.set_interrupt_level(27, True, cpu=1)
    assert c1.irq_line and not c0.irq_line
    assert ack(c1) == 27


def test_apr_write_changes_running_priority() -> None:
    m = machine(distributor_priority_bits=5)  # GIC-400
    c = m.cpus[0]
    c.write(GICC + C_APR, 1 << 4)
    assert c.read(GICC + C_RPR) == 0x20
    c.write(GICC + C_NSAPR, 1 << 2)
    assert c.read(GICC + C_RPR) == 0x10
    c.write(GICC + C_APR + 4, 0xFFFF_FFFF)  # APR1: not implemented with 5 bits
    assert c.read(GICC + C_APR + 4) == 0


def test_abpr_with_cbpr() -> None:
    """Without the Security Extensions GICC_ABPR keeps its own value whatever CBPR.

    Every access is Secure: GICC_ABPR is the group 1 binary point, read and written as
    itself (IHI 0048B 4.4.4; QEMU gic_cpu_read/gic_cpu_write 0x1c).  "BPR + 1, writes
    ignored" is a Non-secure GICC_BPR access under CBPR.  CBPR=1 only makes GICC_BPR the
    binary point of both groups for preemption.
    """
    m = machine()
    c = m.cpus[0]
    c.write(GICC + C_ABPR, 5)
    assert c.read(GICC + C_ABPR) == 5
    c.write(GICC + C_CTLR, 1 << 4)
    c.write(GICC + C_BPR, 2)
    assert c.read(GICC + C_ABPR) == 5  # its own value, not BPR + 1
    c.write(GICC + C_ABPR, 6)  # written
    assert c.read(GICC + C_ABPR) == 6 and c.read(GICC + C_BPR) == 2
    c.write(GICC + C_CTLR, 0)
    assert c.read(GICC + C_ABPR) == 6


def test_cbpr_makes_bpr_the_group1_binary_point() -> None:
    """CBPR=1: a group 1 interrupt preempts by GICC_BPR's group priority, not GICC_ABPR's."""
    m = machine()
    c = m.cpus[0]
    enable_all(m, ctlr=0b111)  # both groups, AckCtl
    setup_spi(m, 40, prio=0xA0, group=1)
    setup_spi(m, 41, prio=0x90, group=1)
    m.set_interrupt_level(40, True)
    assert ack(c) == 40  # running priority 0xA0
    c.write(GICC + C_ABPR, 2)  # group 1 group priority [7:2]: 0x90 preempts 0xA0
    c.write(GICC + C_BPR, 7)  # no group priority bits: nothing preempts
    m.set_interrupt_level(41, True)
    assert c.irq_line
    c.write(GICC + C_CTLR, 0b111 | 1 << 4)  # CBPR: GICC_BPR for group 1 too
    assert not c.irq_line and c.read(GICC + C_ABPR) == 2
    c.write(GICC + C_BPR, 3)  # group priority [7:4]: 0x90 preempts again
    assert c.irq_line


def test_gicc_access_rules() -> None:
    m = machine()
    c = m.cpus[0]
    enable_all(m)
    setup_spi(m, 40)
    m.set_interrupt_level(40, True)
    rec = m.events.record()
    assert c.read(GICC + C_IAR, size=1) == 0  # bad size: RAZ, nothing acknowledged
    c.write(GICC + C_PMR, 0, size=2)  # WI
    rec.stop()
    assert [(e["reg"], e["offset"], e["size"], e["write"]) for e in rec.of("gicc_bad_access")] \
        == [("GICC_IAR", 0xC, 1, False), ("GICC_PMR", 0x4, 2, True)]
    assert m.gic.is_pending(40) and c.read(GICC + C_PMR) == 0xFF
    with pytest.raises(ExternalAbort, match="misaligned"):
        c.read(GICC + C_IAR + 2, size=4)
    with pytest.raises(ExternalAbort, match="no bank"):
        m.device_write(1, GICC + C_EOIR, 1)
    assert c.read(GICC + 0x1FFC) == 0
    ma = machine(gic_bad_access="abort")
    with pytest.raises(ExternalAbort, match="GICC_IAR"):
        ma.cpus[0].read(GICC + C_IAR, size=1)


def test_public_api_validation() -> None:
    m = machine()
    with pytest.raises(InvalidArgumentValue, match="cpu must be given"):
        m.gic.set_interrupt_level(27, True)
    with pytest.raises(InvalidArgumentValue, match="intid must be in"):
        m.gic.set_interrupt_level(3, True, cpu=0)
    with pytest.raises(InvalidArgumentValue, match="intid must be in"):
        m.gic.is_pending(288)
    with pytest.raises(InvalidArgumentType, match="intid must be an int"):
        m.gic.is_active("40")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentValue, match="cpu must be in"):
        m.gic.deactivate_physical(2, 40)
    m.gic.deactivate_physical(0, 1000)  # not implemented: nothing happens


def test_deactivate_physical() -> None:
    m = machine()
    c = m.cpus[1]
    enable_all(m)
    c.write(GICD + ISENABLER, 1 << 26)
    m.set_interrupt_level(26, True, cpu=1)
    assert ack(c) == 26
    m.gic.deactivate_physical(1, 26)
    assert not m.gic.is_active(26, cpu=1)
    assert c.read(GICC + C_RPR) == 0xA0 - 0xA0  # priority 0: still running until EOI
    c.write(GICC + C_EOIR, 26)
    assert c.read(GICC + C_RPR) == 0xFF


# -- fuzz: lines against a slow reference computed from register reads ------------------
def ref_line(m: Machine, c: Cpu) -> tuple[bool, bool]:
    i = c.index
    dctlr = c.read(GICD + CTLR)
    cctlr = c.read(GICC + C_CTLR)
    best = None
    for intid in range(m.config.intid_limit):
        w, b = intid // 32 * 4, intid % 32
        if not (c.read(GICD + ISENABLER + w) >> b & 1 and c.read(GICD + ISPENDR + w) >> b & 1):
            continue
        if c.read(GICD + ISACTIVER + w) >> b & 1:
            continue
        if intid >= 32 and not c.read(GICD + ITARGETSR + intid, size=1) >> i & 1:
            continue
        g = c.read(GICD + IGROUPR + w) >> b & 1
        if not (dctlr >> g & 1 and cctlr >> g & 1):
            continue
        p = c.read(GICD + IPRIORITYR + intid, size=1)
        if best is None or (p, intid) < best[:2]:
            best = (p, intid, g)
    if best is None:
        return False, False
    p, _, g = best
    if p >= c.read(GICC + C_PMR):
        return False, False
    ap = c.read(GICC + C_APR) | c.read(GICC + C_NSAPR)
    if ap:
        rprio = ((ap & -ap).bit_length() - 1) << 3
        if g and not cctlr & 1 << 4:
            mask = (0xFF << c.read(GICC + C_ABPR)) & 0xFF
        else:
            mask = (0xFF << (c.read(GICC + C_BPR) + 1)) & 0xFF
        if not mask or p & mask >= rprio:
            return False, False
    fiq = g == 0 and bool(cctlr & 1 << 3)
    return not fiq, fiq


_GICD_OFFS = [CTLR, IGROUPR, IGROUPR + 4, ISENABLER, ISENABLER + 4, 0x180 + 4, ISPENDR,
              ISPENDR + 4, 0x280 + 4, ISACTIVER + 4, 0x380, 0x380 + 4, ICFGR + 4, ICFGR + 8,
              SGIR, 0xF10, 0xF20, IPRIORITYR, IPRIORITYR + 32, IPRIORITYR + 40, ITARGETSR + 32,
              ITARGETSR + 60, 0x004, 0xFE8]
_GICC_OFFS = [C_CTLR, C_PMR, C_BPR, C_ABPR, C_EOIR, C_AEOIR, C_DIR, C_APR, C_NSAPR, C_IAR,
              C_AIAR, C_HPPIR, C_RPR]

_STEP = st.one_of(
    st.tuples(st.just("gicd"), st.integers(0, 1), st.sampled_from(_GICD_OFFS),
              st.integers(0, 0xFFFF_FFFF), st.sampled_from([4, 4, 4, 1, 2])),
    st.tuples(st.just("gicc"), st.integers(0, 1), st.sampled_from(_GICC_OFFS),
              st.one_of(st.integers(0, 0xFFFF_FFFF), st.integers(0, 63)), st.just(4)),
    st.tuples(st.just("ack"), st.integers(0, 1), st.sampled_from([C_IAR, C_AIAR]), st.just(0),
              st.just(4)),
    st.tuples(st.just("line"), st.integers(0, 1), st.integers(16, 63), st.integers(0, 1),
              st.just(4)),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_STEP, max_size=30))
def test_fuzz_gicd_gicc_lines_match_reference(steps: list[tuple[str, int, int, int, int]]) -> \
        None:
    m = Machine.virt(cpus=2, gic=2, spis=32)
    for kind, cpu, off, value, size in steps:
        c = m.cpus[cpu]
        try:
            if kind == "gicd":
                c.write(GICD + off, value & ((1 << 8 * size) - 1), size=size)
            elif kind == "gicc":
                c.write(GICC + off, value)
            elif kind == "ack":
                got = c.read(GICC + off)
                assert got in (1022, 1023) or (got & 0x3FF) < 64
            else:
                m.set_interrupt_level(off, bool(value), cpu=cpu if off < 32 else None)
        except ExternalAbort:
            assert kind == "gicd" and off % size  # only misaligned accesses abort
        for cc in m.cpus:
            assert (cc.irq_line, cc.fiq_line) == ref_line(m, cc)
