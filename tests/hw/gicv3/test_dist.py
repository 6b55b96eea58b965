"""Distributor: CTLR/TYPER, SPI state registers, routing (incl. 1-of-N), level/edge, SETSPI."""

from __future__ import annotations

import pytest

from irqlab import ExternalAbort, Machine
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue

GICD = 0x0800_0000
SPI = 40  # an SPI used throughout


def boot(m: Machine) -> None:
    c0 = m.cpus[0]
    c0.write(GICD, 0x3)
    for i, cpu in enumerate(m.cpus):
        cpu.write(m.config.redistributor_base(i) + 0x14, 0)
        cpu.write_sysreg("ICC_PMR_EL1", 0xFF)
        cpu.write_sysreg("ICC_IGRPEN1_EL1", 1)
    for n in range(1, m.config.spis // 32 + 1):
        c0.write(GICD + 0x80 + 4 * n, 0xFFFF_FFFF)


def enable_spi(m: Machine, intid: int, prio: int = 0x80, *, edge: bool = False,
               route: int | None = None) -> None:
    c = m.cpus[0]
    c.write(GICD + 0x400 + intid, prio, 1)
    if edge:
        off = GICD + 0xC00 + 4 * (intid // 16)
        c.write(off, c.read(off) | (2 << (2 * (intid % 16))))
    if route is not None:
        c.write(GICD + 0x6000 + 8 * intid, route, 8)
    c.write(GICD + 0x100 + 4 * (intid // 32), 1 << (intid % 32))


@pytest.fixture
def m() -> Machine:
    mm = Machine.virt(cpus=4, its=False)
    boot(mm)
    return mm


def test_ctlr_are_ds_rao_wi() -> None:
    m = Machine.virt(cpus=1, its=False)
    c = m.cpus[0]
    assert c.read(GICD) == 0x50
    c.write(GICD, 0x3)
    assert c.read(GICD) == 0x53
    c.write(GICD, 0)
    assert c.read(GICD) == 0x50


def test_typer_iidr_pidr2() -> None:
    m = Machine.virt(cpus=4)
    v = m.cpus[0].read(GICD + 4)
    assert v & 0x1F == 8  # (256 + 32) / 32 - 1
    assert (v >> 5) & 7 == 0  # CPUNumber: ARE is RAO (IHI 0069: 000), as QEMU
    assert (v >> 19) & 0x1F == 15
    assert (v >> 16) & 1 == 1  # MBIS
    assert (v >> 17) & 1 == 1  # LPIS
    assert (v >> 25) & 1 == 0  # No1N = 0: 1-of-N supported
    assert (v >> 10) & 1 == 0  # SecurityExtn
    m2 = Machine.virt(cpus=1, its=False, idbits=20)
    v2 = m2.cpus[0].read(GICD + 4)
    assert (v2 >> 17) & 1 == 1  # LPIS without an ITS too (GICR_TYPER.PLPIS = 1), as QEMU
    assert (v2 >> 19) & 0x1F == 19
    assert m.cpus[0].read(GICD + 8) == 0x43B
    assert (m.cpus[0].read(GICD + 0xFFE8) >> 4) & 0xF == 3


def test_spi_registers_roundtrip(m: Machine) -> None:
    c = m.cpus[0]
    c.write(GICD + 0x104, 0x0000_0300)  # ISENABLER1: SPIs 40, 41
    assert c.read(GICD + 0x104) == 0x300
    assert c.read(GICD + 0x184) == 0x300
    c.write(GICD + 0x184, 0x100)
    assert c.read(GICD + 0x104) == 0x200
    c.write(GICD + 0x204, 0x400)  # ISPENDR: SPI 42
    assert c.read(GICD + 0x284) == 0x400
    c.write(GICD + 0x304, 0x800)  # ISACTIVER: SPI 43
    assert c.read(GICD + 0x384) == 0x800
    c.write(GICD + 0x384, 0x800)
    assert c.read(GICD + 0x304) == 0
    c.write(GICD + 0x400 + 40, 0x12345678)  # four priorities, all 8 bits kept (as QEMU)
    assert c.read(GICD + 0x400 + 40) == 0x12345678
    assert c.read(GICD + 0x400 + 41, 1) == 0x56
    c.write(GICD + 0x400 + 41, 0xFF, 1)
    assert c.read(GICD + 0x400 + 40) == 0x1234FF78


def test_distributor_priority_bits_config() -> None:
    m = Machine.virt(cpus=1, its=False, distributor_priority_bits=5)
    c = m.cpus[0]
    c.write(GICD + 0x400 + 40, 0x12345678)  # masked to the 5 implemented bits
    assert c.read(GICD + 0x400 + 40) == 0x10305078
    c.write(GICD + 0x400 + 41, 0xFF, 1)
    assert c.read(GICD + 0x400 + 40) == 0x1030F878


def test_sgi_ppi_copies_and_beyond_spis_raz_wi() -> None:
    m = Machine.virt(cpus=1, its=False, spis=32)
    c = m.cpus[0]
    c.write(GICD + 0x100, 0xFFFF_FFFF)  # ISENABLER0: banked in the redistributor
    assert c.read(GICD + 0x100) == 0
    c.write(GICD + 0x108, 0xFFFF_FFFF)  # SPIs 64..95: not implemented
    assert c.read(GICD + 0x108) == 0
    c.write(GICD + 0x400 + 70, 0xFF, 1)
    assert c.read(GICD + 0x400 + 70, 1) == 0
    c.write(GICD + 0x800 + 40, 0xFF, 1)  # ITARGETSR: RAZ/WI with ARE
    assert c.read(GICD + 0x800 + 40, 1) == 0
    c.write(GICD + 0xD04, 0xFFFF_FFFF)  # IGRPMODR: RAZ/WI with DS
    assert c.read(GICD + 0xD04) == 0


def test_icfgr(m: Machine) -> None:
    c = m.cpus[0]
    assert c.read(GICD + 0xC08) == 0  # SPIs reset level-sensitive
    c.write(GICD + 0xC08, 0xFFFF_FFFF)
    assert c.read(GICD + 0xC08) == 0xAAAA_AAAA


def test_unimplemented_offset_raz_wi_with_event(m: Machine) -> None:
    rec = m.events.record()
    c = m.cpus[0]
    assert c.read(GICD + 0x5000) == 0
    c.write(GICD + 0x5000, 1)
    c.write(GICD + 0xF00, 0x0001_0001)  # GICD_SGIR: absent with ARE
    assert [e["write"] for e in rec.of("gicd_unimplemented")] == [False, True, True]


BAD_SIZES = [
    (0x0, 2, "GICD_CTLR"), (0x0, 8, "GICD_CTLR"), (0x0, 1, "GICD_CTLR"),
    (0x104, 1, "GICD_ISENABLER1"), (0x6108, 2, "GICD_IROUTER33"),
    (0xC08, 1, "GICD_ICFGR2"), (0x400, 8, "GICD_IPRIORITYR0"), (0xF000, 2, "reserved"),
]


@pytest.mark.parametrize(("off", "size", "reg"), BAD_SIZES)
def test_bad_access_size_is_raz_wi_with_event(m: Machine, off: int, size: int,
                                              reg: str) -> None:
    """Default, as QEMU: an unsupported size reads 0, writes are ignored, an event says so."""
    c = m.cpus[0]
    c.write(GICD, 0x3)
    c.write(GICD + 0x104, 0x100)  # ISENABLER1: SPI 40
    c.write(GICD + 0x6000 + 8 * 33, 0x1)
    rec = m.events.record()
    assert c.read(GICD + off, size) == 0
    c.write(GICD + off, (1 << (8 * size)) - 1, size)
    rec.stop()
    evs = rec.of("gicd_bad_access")
    assert [(e["reg"], e["offset"], e["size"], e["write"]) for e in evs] == \
        [(reg, off, size, False), (reg, off, size, True)]
    assert evs[0].cpu == 0
    assert c.read(GICD) & 0x3 == 0x3  # nothing written
    assert c.read(GICD + 0x104) == 0x100
    assert c.read(GICD + 0x6000 + 8 * 33, 8) == 0x1


@pytest.mark.parametrize(("off", "size", "reg"), BAD_SIZES)
def test_bad_access_size_aborts_when_configured(off: int, size: int, reg: str) -> None:
    m = Machine.virt(cpus=1, its=False, gic_bad_access="abort")
    with pytest.raises(ExternalAbort, match=reg) as ei:
        m.cpus[0].read(GICD + off, size)
    assert ei.value.address == GICD + off
    assert ei.value.size == size
    with pytest.raises(ExternalAbort):
        m.cpus[0].write(GICD + off, 0, size)


@pytest.mark.parametrize(("off", "size"), [(0x2, 4), (0x401, 2), (0x6104, 8)])
def test_misaligned_access_aborts(m: Machine, off: int, size: int) -> None:
    with pytest.raises(ExternalAbort, match="misaligned") as ei:
        m.cpus[0].read(GICD + off, size)
    assert ei.value.address == GICD + off
    with pytest.raises(ExternalAbort):
        m.cpus[0].write(GICD + off, 0, size)


def test_setspi_16bit(m: Machine) -> None:
    """GICD_SETSPI_NSR / CLRSPI_NSR take 16-bit writes (IHI 0069 12.9)."""
    c = m.cpus[0]
    c.write(GICD + 0x40, SPI, 2)
    assert m.gic.is_pending(SPI)
    c.write(GICD + 0x48, SPI, 2)
    assert not m.gic.is_pending(SPI)
    assert c.read(GICD + 0x40, 2) == 0


def test_irouter_routing(m: Machine) -> None:
    c = m.cpus[0]
    enable_spi(m, SPI, route=0x2)  # Aff0 = 2: CPU 2
    assert c.read(GICD + 0x6000 + 8 * SPI, 8) == 2
    assert c.read(GICD + 0x6000 + 8 * SPI + 4) == 0
    m.set_interrupt_level(SPI, True)
    assert [cpu.irq_line for cpu in m.cpus] == [False, False, True, False]
    c.write(GICD + 0x6000 + 8 * SPI, 3)  # 32-bit low half
    assert [cpu.irq_line for cpu in m.cpus] == [False, False, False, True]
    c.write(GICD + 0x6000 + 8 * SPI + 4, 1)  # Aff3 = 1: nobody
    assert not any(cpu.irq_line for cpu in m.cpus)
    assert c.read(GICD + 0x6000 + 8 * SPI, 8) == (1 << 32) | 3
    assert m.cpus[3].read_sysreg("ICC_IAR1_EL1") == 1023


def test_irouter_1_of_n(m: Machine) -> None:
    enable_spi(m, SPI, route=1 << 31)
    m.set_interrupt_level(SPI, True)
    assert [cpu.irq_line for cpu in m.cpus] == [True, False, False, False]
    m.cpus[0].write_sysreg("ICC_IGRPEN1_EL1", 0)
    assert [cpu.irq_line for cpu in m.cpus] == [False, True, False, False]
    m.cpus[1].write(m.config.redistributor_base(1) + 0x14, 2)  # CPU 1 goes to sleep
    assert [cpu.irq_line for cpu in m.cpus] == [False, False, True, False]
    assert m.cpus[2].read_sysreg("ICC_IAR1_EL1") == SPI
    assert m.gic.is_active(SPI)


def test_level_sensitive_spi(m: Machine) -> None:
    c = m.cpus[0]
    enable_spi(m, SPI)
    m.set_interrupt_level(SPI, True)
    assert m.gic.is_pending(SPI)
    assert c.read_sysreg("ICC_IAR1_EL1") == SPI
    assert m.gic.is_pending(SPI) and m.gic.is_active(SPI)  # line still high
    assert not c.irq_line
    c.write_sysreg("ICC_EOIR1_EL1", SPI)
    assert c.irq_line  # pending again: the line is still asserted
    m.set_interrupt_level(SPI, False)
    assert not m.gic.is_pending(SPI)
    assert not c.irq_line


def test_level_spi_ispendr_latch(m: Machine) -> None:
    c = m.cpus[0]
    enable_spi(m, SPI)
    m.set_interrupt_level(SPI, True)
    c.write(GICD + 0x204, 1 << (SPI - 32))  # latch
    m.set_interrupt_level(SPI, False)
    assert m.gic.is_pending(SPI)  # the latch holds it
    c.write(GICD + 0x284, 1 << (SPI - 32))  # ICPENDR clears the latch
    assert not m.gic.is_pending(SPI)
    m.set_interrupt_level(SPI, True)
    c.write(GICD + 0x284, 1 << (SPI - 32))
    assert m.gic.is_pending(SPI)  # ICPENDR cannot clear a line-driven pending state


def test_edge_triggered_spi(m: Machine) -> None:
    c = m.cpus[0]
    enable_spi(m, SPI, edge=True)
    m.set_interrupt_level(SPI, True)
    assert c.read_sysreg("ICC_IAR1_EL1") == SPI
    assert not m.gic.is_pending(SPI)
    m.set_interrupt_level(SPI, True)  # no edge
    assert not m.gic.is_pending(SPI)
    m.set_interrupt_level(SPI, False)
    m.set_interrupt_level(SPI, True)  # rising edge while active: active and pending
    assert m.gic.is_pending(SPI) and m.gic.is_active(SPI)
    assert not c.irq_line
    c.write_sysreg("ICC_EOIR1_EL1", SPI)
    assert c.irq_line


def test_setspi_clrspi_by_device_write(m: Machine) -> None:
    rec = m.events.record()
    enable_spi(m, SPI, edge=True)
    enable_spi(m, SPI + 1)
    m.device_write(7, GICD + 0x40, SPI)
    assert m.gic.is_pending(SPI)
    m.device_write(7, GICD + 0x48, SPI)  # CLRSPI of an edge SPI: no effect
    assert m.gic.is_pending(SPI)
    m.cpus[0].write(GICD + 0x284, 1 << (SPI - 32))
    m.device_write(7, GICD + 0x40, SPI + 1)
    c = m.cpus[0]
    assert c.read_sysreg("ICC_IAR1_EL1") == SPI + 1
    c.write_sysreg("ICC_EOIR1_EL1", SPI + 1)
    assert m.gic.is_pending(SPI + 1)  # a level message stays asserted
    m.device_write(7, GICD + 0x48, SPI + 1)
    assert not m.gic.is_pending(SPI + 1)
    m.device_write(7, GICD + 0x40, 5000)  # not an SPI
    m.cpus[1].write(GICD + 0x40, SPI + 2)  # a CPU may write it too
    assert m.gic.is_pending(SPI + 2)
    assert rec.of("gicd_spi_pending")[0]["devid"] == 7
    assert [e["intid"] for e in rec.of("gicd_setspi_ignored")] == [SPI, 5000]


def test_public_api_argument_checks(m: Machine) -> None:
    with pytest.raises(InvalidArgumentValue, match="cpu must be given"):
        m.set_interrupt_level(20, True)
    with pytest.raises(InvalidArgumentValue, match="cpu must be None"):
        m.set_interrupt_level(SPI, True, cpu=0)
    with pytest.raises(InvalidArgumentValue, match="intid must be a PPI or SPI"):
        m.set_interrupt_level(3, True, cpu=0)
    with pytest.raises(InvalidArgumentValue, match="implemented SPI"):
        m.set_interrupt_level(2000, True)
    with pytest.raises(InvalidArgumentType, match="intid must be an int"):
        m.gic.is_pending("x")
    with pytest.raises(InvalidArgumentValue, match="cpu must be in"):
        m.set_interrupt_level(20, True, cpu=9)


def test_coresight_id_registers_as_qemu() -> None:
    """GICD/GICR/GITS 0xFFD0..0xFFFC: PIDR4-7, PIDR0-3, CIDR0-3; PIDR0 0x92/0x93/0x94; RO."""
    m = Machine.virt(cpus=1)
    c = m.cpus[0]
    rd = m.config.redistributor_base(0)
    want = [0x44, 0, 0, 0, None, 0xB4, 0x3B, 0, 0x0D, 0xF0, 0x05, 0xB1]
    for base, pidr0 in ((GICD, 0x92), (rd, 0x93), (m.config.its_base, 0x94)):
        got = [c.read(base + 0xFFD0 + 4 * i) for i in range(12)]
        assert got == [pidr0 if w is None else w for w in want]
        c.write(base + 0xFFE8, 0)  # read-only
        assert c.read(base + 0xFFE8) == 0x3B


def test_reprioritising_within_one_queue_bucket(m: Machine) -> None:
    """0x41..0x43 share a queue bucket (top 5 bits): the full stored priority still orders."""
    enable_spi(m, 40, 0x42)
    enable_spi(m, 41, 0x41)
    m.set_interrupt_level(40, True)
    m.set_interrupt_level(41, True)
    c = m.cpus[0]
    assert c.read_sysreg("ICC_HPPIR1_EL1") == 41
    c.write(GICD + 0x400 + 41, 0x43, 1)  # now below SPI 40
    assert c.read_sysreg("ICC_HPPIR1_EL1") == 40
    c.write(GICD + 0x400 + 41, 0x42, 1)  # equal: the lower INTID wins
    assert c.read_sysreg("ICC_HPPIR1_EL1") == 40
    c.write(GICD + 0x400 + 41, 0x41, 1)
    assert c.read_sysreg("ICC_HPPIR1_EL1") == 41
    assert c.read_sysreg("ICC_IAR1_EL1") == 41
    assert c.read_sysreg("ICC_HPPIR1_EL1") == 40
