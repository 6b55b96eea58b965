"""Redistributor: ID registers, WAKER, SGI frame, and LPIs (tables, caching, interface)."""

from __future__ import annotations

import pytest

from irqlab import ExternalAbort, Machine

GICD = 0x0800_0000
PROP = 0x4010_0000
PEND0 = 0x4020_0000
PEND1 = 0x4021_0000
LPI = 8192


def rd(m: Machine, i: int) -> int:
    return m.config.redistributor_base(i)


def boot(m: Machine) -> None:
    m.cpus[0].write(GICD, 0x3)
    for i, cpu in enumerate(m.cpus):
        cpu.write(rd(m, i) + 0x14, 0)
        cpu.write_sysreg("ICC_PMR_EL1", 0xFF)
        cpu.write_sysreg("ICC_IGRPEN1_EL1", 1)


def lpi_cfg(m: Machine, intid: int, prio: int, enable: bool = True) -> None:
    m.ram_write(PROP + intid - LPI, bytes([prio | int(enable)]))


def enable_lpis(m: Machine, i: int, *, idbits: int = 16, pend: int | None = None,
                ptz: bool = True) -> None:
    c = m.cpus[i]
    c.write(rd(m, i) + 0x70, PROP | (idbits - 1), 8)
    c.write(rd(m, i) + 0x78, (pend if pend is not None else PEND0 + i * 0x1_0000)
            | (int(ptz) << 62), 8)
    c.write(rd(m, i), 1)


@pytest.fixture
def m() -> Machine:
    mm = Machine.virt(cpus=2, its=False)
    boot(mm)
    return mm


def test_typer_and_ids() -> None:
    m = Machine.virt(cpus=20, its=False)
    c = m.cpus[0]
    t = c.read(rd(m, 17) + 8, 8)
    assert t & 1 == 1  # PLPIS
    assert (t >> 3) & 1 == 0  # DirectLPI off by default
    assert (t >> 8) & 0xFFFF == 17
    assert (t >> 24) & 3 == 1  # CommonLPIAff = 0b01, as QEMU and KVM
    assert t >> 32 == 0x0101  # Aff1 = 1, Aff0 = 1
    assert (t >> 4) & 1 == 0
    assert (c.read(rd(m, 19) + 8) >> 4) & 1 == 1  # Last
    assert c.read(rd(m, 17) + 0xC) == 0x0101  # upper half
    assert c.read(rd(m, 0) + 4) == 0x43B
    assert (c.read(rd(m, 0) + 0xFFE8) >> 4) & 0xF == 3
    md = Machine.virt(cpus=1, its=False, direct_lpi=True)
    assert (md.cpus[0].read(rd(md, 0) + 8) >> 3) & 1 == 1


def test_ctlr_ces_ir() -> None:
    m = Machine.virt(cpus=1, its=False)
    assert m.cpus[0].read(rd(m, 0)) == 0b110  # CES, IR
    ms = Machine.virt(cpus=1, its=False, lpis_sticky=True)
    assert ms.cpus[0].read(rd(ms, 0)) == 0b100


def test_waker_and_sleep_gates_forwarding() -> None:
    m = Machine.virt(cpus=1, its=False)
    c = m.cpus[0]
    assert c.read(rd(m, 0) + 0x14) == 0x6  # ProcessorSleep, ChildrenAsleep at reset
    c.write(GICD, 0x3)
    c.write_sysreg("ICC_PMR_EL1", 0xFF)
    c.write_sysreg("ICC_IGRPEN1_EL1", 1)
    c.write(rd(m, 0) + 0x10080, 0xFFFF_FFFF)
    c.write(rd(m, 0) + 0x10100, 1 << 20)
    m.set_interrupt_level(20, True, cpu=0)
    assert not c.irq_line  # asleep: nothing forwarded
    c.write(rd(m, 0) + 0x14, 0)
    assert c.read(rd(m, 0) + 0x14) == 0
    assert c.irq_line
    c.write(rd(m, 0) + 0x14, 2)
    assert c.read(rd(m, 0) + 0x14) == 6
    assert not c.irq_line


def test_sgi_frame_registers(m: Machine) -> None:
    c = m.cpus[1]
    sb = rd(m, 1) + 0x1_0000
    assert c.read(sb + 0xC00) == 0xAAAA_AAAA  # SGIs edge-triggered
    c.write(sb + 0xC00, 0)
    assert c.read(sb + 0xC00) == 0xAAAA_AAAA
    assert c.read(sb + 0xC04) == 0  # PPIs reset level-sensitive
    c.write(sb + 0xC04, 0xFFFF_FFFF)
    assert c.read(sb + 0xC04) == 0xAAAA_AAAA
    c.write(sb + 0xD00, 0xFFFF_FFFF)
    assert c.read(sb + 0xD00) == 0
    c.write(sb + 0x100, 0x1_0001)
    assert c.read(sb + 0x100) == 0x1_0001
    assert m.cpus[0].read(rd(m, 0) + 0x1_0100) == 0  # banked per redistributor
    c.write(sb + 0x400 + 17, 0x90, 1)
    assert c.read(sb + 0x410) == 0x9000
    rec = m.events.record()
    assert c.read(sb + 0x800) == 0
    assert rec.of("gicr_unimplemented")[0]["offset"] == 0x1_0800


BAD_SIZES = [
    (0x0, 2, "GICR_CTLR"), (0x0, 8, "GICR_CTLR"), (0x0, 1, "GICR_CTLR"), (0x10, 8, "GICR_STATUSR"),
    (0x70, 2, "GICR_PROPBASER"), (0x1_0100, 1, "GICR_ISENABLER0"),
    (0x1_0100, 8, "GICR_ISENABLER0"), (0x1_0402, 2, "GICR_IPRIORITYR0+0x2"),
    (0x1_0C04, 1, "GICR_ICFGR1"),
]


@pytest.mark.parametrize(("off", "size", "reg"), BAD_SIZES)
def test_bad_access_size_is_raz_wi_with_event(m: Machine, off: int, size: int,
                                              reg: str) -> None:
    """Default, as QEMU: RAZ/WI and a gicr_bad_access event naming the register."""
    c = m.cpus[0]
    c.write(rd(m, 0) + 0x1_0100, 0x10)  # ISENABLER0: SGI 4
    c.write(rd(m, 0) + 0x70, PROP | 15, 8)
    rec = m.events.record()
    assert c.read(rd(m, 0) + off, size) == 0
    c.write(rd(m, 0) + off, (1 << (8 * size)) - 1, size)
    rec.stop()
    evs = rec.of("gicr_bad_access")
    assert [(e["reg"], e["offset"], e["size"], e["write"], e["redist"]) for e in evs] == \
        [(reg, off, size, False, 0), (reg, off, size, True, 0)]
    assert c.read(rd(m, 0) + 0x1_0100) == 0x10
    assert c.read(rd(m, 0) + 0x70, 8) == PROP | 15
    assert c.read(rd(m, 0) + 0x14) == 0  # still awake
    assert not m.gic.redists[0].lpis_enabled


@pytest.mark.parametrize(("off", "size", "reg"), BAD_SIZES)
def test_bad_access_size_aborts_when_configured(off: int, size: int, reg: str) -> None:
    m = Machine.virt(cpus=1, its=False, gic_bad_access="abort")
    with pytest.raises(ExternalAbort, match=reg.replace("+", r"\+")):
        m.cpus[0].read(rd(m, 0) + off, size)
    with pytest.raises(ExternalAbort):
        m.cpus[0].write(rd(m, 0) + off, 0, size)


@pytest.mark.parametrize(("off", "size"), [(0x3, 4), (0x74, 8), (0x1_0402, 4)])
def test_misaligned_access_aborts(m: Machine, off: int, size: int) -> None:
    with pytest.raises(ExternalAbort, match="misaligned"):
        m.cpus[0].read(rd(m, 0) + off, size)
    with pytest.raises(ExternalAbort, match="misaligned"):
        m.cpus[0].write(rd(m, 0) + off, 0, size)


def test_ipriorityr_keeps_8_bits(m: Machine) -> None:
    c = m.cpus[0]
    c.write(rd(m, 0) + 0x1_0400 + 20, 0xFF, 1)
    assert c.read(rd(m, 0) + 0x1_0400 + 20, 1) == 0xFF
    c.write(rd(m, 0) + 0x1_0404, 0x0102_0304)
    assert c.read(rd(m, 0) + 0x1_0404) == 0x0102_0304


def test_baser_32bit_halves(m: Machine) -> None:
    c = m.cpus[0]
    c.write(rd(m, 0) + 0x70, PROP | 15)
    c.write(rd(m, 0) + 0x74, 0)
    assert c.read(rd(m, 0) + 0x70, 8) == PROP | 15
    c.write(rd(m, 0) + 0x78, PEND0 | (1 << 62), 8)
    assert c.read(rd(m, 0) + 0x78, 8) == PEND0  # PTZ reads 0


def test_lpi_delivery_priority_and_ack(m: Machine) -> None:
    lpi_cfg(m, LPI + 1, 0xA0)
    lpi_cfg(m, LPI + 2, 0x40)
    lpi_cfg(m, LPI + 3, 0x40, enable=False)
    enable_lpis(m, 0)
    r = m.gic.redists[0]
    c = m.cpus[0]
    rec = m.events.record()
    for i in (1, 2, 3):
        r.lpi_set_pending(LPI + i)
    assert rec.of("gicr_lpi_pending")[0]["intid"] == LPI + 1
    assert c.irq_line and not m.cpus[1].irq_line
    assert c.read_sysreg("ICC_IAR1_EL1") == LPI + 2
    assert not r.lpi_is_pending(LPI + 2)
    assert not m.gic.is_active(LPI + 2, 0)  # LPIs have no active state
    assert c.read_sysreg("ICC_RPR_EL1") == 0x40
    c.write_sysreg("ICC_EOIR1_EL1", LPI + 2)
    assert c.read_sysreg("ICC_IAR1_EL1") == LPI + 1
    c.write_sysreg("ICC_EOIR1_EL1", LPI + 1)
    assert not c.irq_line
    assert r.lpi_is_pending(LPI + 3)  # pending but disabled
    lpi_cfg(m, LPI + 3, 0x40)
    assert not c.irq_line  # config cached until an invalidation
    r.lpi_invalidate(LPI + 3)
    assert c.read_sysreg("ICC_IAR1_EL1") == LPI + 3


def test_lpi_config_cache_and_invalidate_all(m: Machine) -> None:
    lpi_cfg(m, LPI + 5, 0x80)
    lpi_cfg(m, LPI + 6, 0x60)
    enable_lpis(m, 0)
    r = m.gic.redists[0]
    c = m.cpus[0]
    r.lpi_set_pending(LPI + 5)
    r.lpi_set_pending(LPI + 6)
    lpi_cfg(m, LPI + 5, 0x20)
    assert c.read_sysreg("ICC_HPPIR1_EL1") == LPI + 6
    r.lpi_invalidate_all()
    assert c.read_sysreg("ICC_HPPIR1_EL1") == LPI + 5
    lpi_cfg(m, LPI + 5, 0x20, enable=False)
    c.write(rd(m, 0) + 0xA0, LPI + 5, 8)  # GICR_INVLPIR (implemented without DirectLPI)
    assert c.read_sysreg("ICC_HPPIR1_EL1") == LPI + 6
    lpi_cfg(m, LPI + 5, 0x20)
    c.write(rd(m, 0) + 0xB0, 0, 8)  # GICR_INVALLR
    assert c.read_sysreg("ICC_HPPIR1_EL1") == LPI + 5
    assert c.read(rd(m, 0) + 0xC0) == 0  # SYNCR.Busy


def test_lpi_interface_clear_move(m: Machine) -> None:
    lpi_cfg(m, LPI + 7, 0x80)
    lpi_cfg(m, LPI + 8, 0x80)
    enable_lpis(m, 0)
    enable_lpis(m, 1)
    r0, r1 = m.gic.redists
    assert (r0.processor_number, r1.rd_base) == (0, rd(m, 1))
    assert r0.lpis_enabled
    r0.lpi_set_pending(LPI + 7)
    r0.lpi_clear_pending(LPI + 7)
    assert not r0.lpi_is_pending(LPI + 7)
    assert not m.cpus[0].irq_line
    r0.lpi_set_pending(LPI + 7)
    r0.lpi_move_pending(LPI + 7, r1)
    assert not r0.lpi_is_pending(LPI + 7) and r1.lpi_is_pending(LPI + 7)
    assert m.cpus[1].irq_line and not m.cpus[0].irq_line
    r0.lpi_set_pending(LPI + 8)
    r1.lpi_move_all(r0)
    assert r0.lpi_is_pending(LPI + 7) and r0.lpi_is_pending(LPI + 8)
    assert not m.cpus[1].irq_line
    assert m.cpus[0].read_sysreg("ICC_IAR1_EL1") == LPI + 7
    assert m.gic.is_pending(LPI + 8, 0)


def cached_enabled_on(m: Machine, i: int, intid: int) -> None:
    """Deliver LPI ``intid`` through redistributor ``i`` (which keeps its configuration
    byte, enabled) and acknowledge it."""
    m.gic.redists[i].lpi_set_pending(intid)
    c = m.cpus[i]
    assert c.read_sysreg("ICC_IAR1_EL1") == intid
    c.write_sysreg("ICC_EOIR1_EL1", intid)


def test_lpi_move_makes_the_target_reread_the_configuration(m: Machine) -> None:
    """Linux: mask with an invalidation at the LPI's current redistributor, then MOVI it
    back to one that delivered it earlier: that one must not use its old copy."""
    lpi_cfg(m, LPI + 9, 0x80)
    enable_lpis(m, 0)
    enable_lpis(m, 1)
    r0, r1 = m.gic.redists
    cached_enabled_on(m, 0, LPI + 9)
    r0.lpi_move_pending(LPI + 9, r1)  # MOVI to cpu1 (nothing pending)
    lpi_cfg(m, LPI + 9, 0x80, enable=False)
    m.cpus[1].write(rd(m, 1) + 0xA0, LPI + 9, 8)  # GICR_INVLPIR on cpu1: its copy only
    r1.lpi_move_pending(LPI + 9, r0)  # MOVI back to cpu0
    r0.lpi_set_pending(LPI + 9)
    assert not m.cpus[0].irq_line and r0.lpi_is_pending(LPI + 9)


def test_lpi_move_all_makes_the_target_reread_the_configuration(m: Machine) -> None:
    lpi_cfg(m, LPI + 9, 0x80)
    enable_lpis(m, 0)
    enable_lpis(m, 1)
    r0, r1 = m.gic.redists
    cached_enabled_on(m, 0, LPI + 9)
    lpi_cfg(m, LPI + 9, 0x80, enable=False)
    r1.lpi_set_pending(LPI + 9)  # cpu1 reads the byte: disabled
    assert not m.cpus[1].irq_line
    r1.lpi_move_all(r0)
    assert not m.cpus[0].irq_line and r0.lpi_is_pending(LPI + 9)


def test_lpi_move_rereads_a_copy_the_target_holds_pending(m: Machine) -> None:
    """The target re-reads at once when the LPI is already pending there."""
    lpi_cfg(m, LPI + 9, 0x80)
    enable_lpis(m, 0)
    enable_lpis(m, 1)
    r0, r1 = m.gic.redists
    r0.lpi_set_pending(LPI + 9)
    assert m.cpus[0].irq_line
    lpi_cfg(m, LPI + 9, 0x80, enable=False)
    r1.lpi_move_pending(LPI + 9, r0)  # not pending on cpu1: only cpu0 re-reads
    assert not m.cpus[0].irq_line and r0.lpi_is_pending(LPI + 9)


def test_lpi_invalidate_reaches_every_redistributors_copy(m: Machine) -> None:
    """ITS INV (``lpi_invalidate``) drops every copy: a pending one is re-read at once."""
    lpi_cfg(m, LPI + 9, 0x80)
    enable_lpis(m, 0)
    enable_lpis(m, 1)
    r0, r1 = m.gic.redists
    r0.lpi_set_pending(LPI + 9)
    cached_enabled_on(m, 1, LPI + 9)
    lpi_cfg(m, LPI + 9, 0x80, enable=False)
    r1.lpi_invalidate(LPI + 9)
    assert not m.cpus[0].irq_line and r0.lpi_is_pending(LPI + 9)
    lpi_cfg(m, LPI + 9, 0x40)
    r1.lpi_invalidate(LPI + 9)
    assert m.cpus[0].read_sysreg("ICC_IAR1_EL1") == LPI + 9


def test_lpi_register_invalidation_is_local(m: Machine) -> None:
    """GICR_INVLPIR / INVALLR: the redistributor written only (the LPI stays cached where it
    is held until that redistributor's own invalidation)."""
    lpi_cfg(m, LPI + 9, 0x80)
    enable_lpis(m, 0)
    enable_lpis(m, 1)
    cached_enabled_on(m, 0, LPI + 9)
    lpi_cfg(m, LPI + 9, 0x80, enable=False)
    m.cpus[1].write(rd(m, 1) + 0xA0, LPI + 9, 8)  # GICR_INVLPIR
    m.cpus[1].write(rd(m, 1) + 0xB0, 0, 8)  # GICR_INVALLR
    m.gic.redists[0].lpi_set_pending(LPI + 9)
    assert m.cpus[0].irq_line  # cpu0's copy: enabled


def test_lpi_out_of_range_dropped(m: Machine) -> None:
    enable_lpis(m, 0, idbits=14)  # LPIs 8192..16383
    r = m.gic.redists[0]
    rec = m.events.record()
    r.lpi_set_pending(1 << 14)
    r.lpi_set_pending(1 << 16)
    r.lpi_set_pending(100)
    assert [e["reason"] for e in rec.of("gicr_lpi_dropped")] == [
        "INTID beyond GICR_PROPBASER.IDbits", "INTID outside the LPI range",
        "INTID outside the LPI range"]
    assert not r.lpi_is_pending(1 << 14)


def test_pending_table_scan_at_enable(m: Machine) -> None:
    lpi_cfg(m, 9000, 0x80)
    lpi_cfg(m, 12000, 0x40)
    for intid in (9000, 12000):
        m.ram_write(PEND0 + intid // 8, bytes([1 << (intid % 8)]))
    enable_lpis(m, 0, ptz=False)
    r = m.gic.redists[0]
    assert r.lpi_is_pending(9000) and r.lpi_is_pending(12000)
    assert m.cpus[0].read_sysreg("ICC_IAR1_EL1") == 12000
    enable_lpis(m, 1, pend=PEND0, ptz=True)  # PTZ: the table is not read
    assert not m.gic.redists[1].lpi_is_pending(9000)


def test_lpi_while_disabled_goes_to_table_then_enable(m: Machine) -> None:
    lpi_cfg(m, 9001, 0x80)
    c = m.cpus[0]
    r = m.gic.redists[0]
    rec = m.events.record()
    r.lpi_set_pending(9001)  # no PENDBASER: dropped
    c.write(rd(m, 0) + 0x78, PEND0, 8)
    r.lpi_set_pending(9001)  # EnableLPIs = 0: into the table
    assert [e.kind for e in rec.of("gicr_lpi_*")] == ["gicr_lpi_dropped",
                                                     "gicr_lpi_pending_table"]
    assert r.lpi_is_pending(9001)
    assert m.ram_read(PEND0 + 9001 // 8, 1)[0] == 1 << (9001 % 8)
    enable_lpis(m, 0, ptz=False)
    assert c.read_sysreg("ICC_IAR1_EL1") == 9001


def test_disable_lpis_writes_back(m: Machine) -> None:
    lpi_cfg(m, 9002, 0x80, enable=False)
    enable_lpis(m, 0)
    r = m.gic.redists[0]
    r.lpi_set_pending(9002)
    m.cpus[0].write(rd(m, 0), 0)
    assert not r.lpis_enabled
    assert m.ram_read(PEND0 + 9002 // 8, 1)[0] == 1 << (9002 % 8)
    assert r.lpi_is_pending(9002)
    enable_lpis(m, 0, ptz=False)
    assert r.lpi_is_pending(9002)
    r.lpi_clear_pending(9002)
    r.sync_pending_table()
    assert m.ram_read(PEND0 + 9002 // 8, 1)[0] == 0


def test_enable_lpis_sticky() -> None:
    m = Machine.virt(cpus=1, its=False, lpis_sticky=True)
    boot(m)
    enable_lpis(m, 0)
    c = m.cpus[0]
    rec = m.events.record()
    c.write(rd(m, 0), 0)
    assert c.read(rd(m, 0)) & 1 == 1
    c.write(rd(m, 0) + 0x70, 0x4050_0000 | 15, 8)
    assert c.read(rd(m, 0) + 0x70, 8) == PROP | 15
    assert rec.kinds() == ["gicr_write", "gicr_ctlr_ignored", "gicr_write",
                           "gicr_write_ignored"]


def test_baser_ignored_while_enabled_even_when_not_sticky(m: Machine) -> None:
    enable_lpis(m, 0)
    m.cpus[0].write(rd(m, 0) + 0x70, 0, 8)
    assert m.cpus[0].read(rd(m, 0) + 0x70, 8) == PROP | 15
    m.cpus[0].write(rd(m, 0), 0)
    m.cpus[0].write(rd(m, 0) + 0x70, 0, 8)
    assert m.cpus[0].read(rd(m, 0) + 0x70, 8) == 0


def test_direct_lpi_registers() -> None:
    m = Machine.virt(cpus=1, its=False, direct_lpi=True)
    boot(m)
    lpi_cfg(m, 9003, 0x80)
    enable_lpis(m, 0)
    c = m.cpus[0]
    c.write(rd(m, 0) + 0x40, 9003, 8)
    assert m.gic.is_pending(9003, 0)
    c.write(rd(m, 0) + 0x48, 9003)
    assert not m.gic.is_pending(9003, 0)
    m2 = Machine.virt(cpus=1, its=False)
    boot(m2)
    enable_lpis(m2, 0)
    rec = m2.events.record()
    m2.cpus[0].write(rd(m2, 0) + 0x40, 9003, 8)
    assert not m2.gic.is_pending(9003, 0)
    assert rec.of("gicr_unimplemented")[0]["offset"] == 0x40


def test_setlpir_clrlpir_have_no_effect_while_lpis_are_disabled() -> None:
    # IHI 0069 GICR_SETLPIR/GICR_CLRLPIR: no effect while GICR_CTLR.EnableLPIs == 0 (the
    # pending table in memory is not touched; QEMU drops the LPI too)
    m = Machine.virt(cpus=1, its=False, direct_lpi=True)
    boot(m)
    lpi_cfg(m, 9003, 0x80)
    lpi_cfg(m, 9004, 0x80)
    c = m.cpus[0]
    m.ram_write(PEND0 + 9004 // 8, bytes([1 << (9004 % 8)]))   # software pended 9004
    c.write(rd(m, 0) + 0x70, PROP | 15, 8)
    c.write(rd(m, 0) + 0x78, PEND0, 8)                          # PTZ = 0
    rec = m.events.record()
    c.write(rd(m, 0) + 0x40, 9003, 8)                           # SETLPIR
    c.write(rd(m, 0) + 0x48, 9004, 8)                           # CLRLPIR
    assert m.ram_read(PEND0 + 9003 // 8, 1)[0] >> (9003 % 8) & 1 == 0
    assert m.ram_read(PEND0 + 9004 // 8, 1)[0] >> (9004 % 8) & 1 == 1
    assert [e["reason"] for e in rec.of("gicr_write_ignored")] == [
        "SETLPIR/CLRLPIR have no effect while EnableLPIs == 0"] * 2
    c.write(rd(m, 0), 1)                                        # the table is scanned
    assert not m.gic.is_pending(9003, 0) and m.gic.is_pending(9004, 0)


def test_a_move_to_a_redistributor_with_lpis_disabled_keeps_the_lpi(m: Machine) -> None:
    # CONSTRAINED UNPREDICTABLE; as QEMU (gicv3_redist_mov_lpi): nothing moves
    lpi_cfg(m, LPI + 3, 0x80)
    lpi_cfg(m, LPI + 4, 0x80)
    enable_lpis(m, 0)
    g = m.gic
    rec = m.events.record()
    g.redists[0].lpi_set_pending(LPI + 3)
    g.redists[0].lpi_move_pending(LPI + 3, g.redists[1])
    g.redists[0].lpi_set_pending(LPI + 4)
    g.redists[0].lpi_move_all(g.redists[1])
    assert g.is_pending(LPI + 3, 0) and g.is_pending(LPI + 4, 0)
    assert not g.is_pending(LPI + 3, 1) and not g.is_pending(LPI + 4, 1)
    assert [(e["intid"], e["to"]) for e in rec.of("gicr_lpi_move_ignored")] == [
        (LPI + 3, 1), (-1, 1)]


def test_lpi_gated_by_group1_enable(m: Machine) -> None:
    lpi_cfg(m, 9004, 0x80)
    enable_lpis(m, 0)
    m.cpus[0].write_sysreg("ICC_IGRPEN1_EL1", 0)
    m.gic.redists[0].lpi_set_pending(9004)
    assert not m.cpus[0].irq_line
    m.cpus[0].write_sysreg("ICC_IGRPEN1_EL1", 1)
    assert m.cpus[0].irq_line


def test_last_bit_with_two_regions() -> None:
    m = Machine.virt(cpus=130, its=False)
    last = [i for i, r in enumerate(m.gic.redists) if (r.typer >> 4) & 1]
    assert last == [122, 129]
    assert m.gic.redists[123].rd_base == 0x40_0000_0000
