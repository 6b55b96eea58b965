"""GICv2m: MSI_TYPER and MSI_SETSPI_NS raising SPIs by message."""

from __future__ import annotations

import pytest

from irqlab.errors import ExternalAbort

from .helpers import V2M, ack, enable_all, eoi, machine, setup_spi


def test_typer_and_iidr() -> None:
    m = machine()
    c = m.cpus[0]
    assert c.read(V2M + 0x008) == 80 << 16 | 64  # QEMU virt: SPIs 48..111
    assert c.read(V2M + 0xFCC) == 0x0510_0000  # QEMU: ProductID 'Q'
    assert c.read(V2M + 0x040) == 0  # write-only


def test_setspi_makes_the_spi_pending_and_it_is_delivered() -> None:
    m = machine()
    enable_all(m)
    setup_spi(m, 85, targets=0b10, edge=True)
    rec = m.events.record()
    m.device_write(0x08, V2M + 0x040, 85)
    assert m.gic.is_pending(85) and m.cpus[1].irq_line
    e = rec.of("v2m_setspi")[0]
    assert (e["intid"], e["devid"], e["result"]) == (85, 8, "pending")
    assert ack(m.cpus[1]) == 85
    eoi(m.cpus[1], 85)
    assert not m.gic.is_pending(85) and not m.gic.is_active(85)


def test_setspi_level_configured_spi_still_latches() -> None:
    m = machine()
    setup_spi(m, 90, edge=False)
    m.device_write(1, V2M + 0x040, 90, size=2)
    assert m.gic.is_pending(90)


@pytest.mark.parametrize("intid", [79, 144, 32, 1023, 0])
def test_setspi_out_of_range_ignored(intid: int) -> None:
    m = machine()
    rec = m.events.record()
    m.cpus[0].write(V2M + 0x040, intid)
    assert rec.of("v2m_setspi")[0]["result"] == "out_of_range"
    if 32 <= intid < 288:
        assert not m.gic.is_pending(intid)


def test_range_clipped_to_implemented_spis() -> None:
    m = machine(spis=64)
    assert m.cpus[0].read(V2M + 0x008) == 80 << 16 | 16


def test_access_sizes() -> None:
    """As QEMU's arm-gicv2m: 32-bit reads, 16/32-bit writes; other sizes RAZ/WI + event."""
    m = machine()
    rec = m.events.record()
    assert m.cpus[0].read(V2M + 0x008, size=2) == 0
    m.device_write(0, V2M + 0x040, 80, size=1)
    m.device_write(0, V2M + 0x040, 81, size=2)  # a 16-bit MSI write works
    m.device_write(0, V2M + 0x044, 80, size=2)  # reserved: WI
    m.cpus[0].write(V2M + 0x100, 1)  # reserved: WI
    rec.stop()
    assert [(e["reg"], e["offset"], e["size"], e["write"]) for e in rec.of("v2m_bad_access")] \
        == [("MSI_TYPER", 0x8, 2, False), ("MSI_SETSPI_NS", 0x40, 1, True)]
    assert not m.gic.is_pending(80) and m.gic.is_pending(81)
    with pytest.raises(ExternalAbort, match="misaligned"):
        m.device_write(0, V2M + 0x042, 80, size=4)
    with pytest.raises(ExternalAbort, match="MSI_SETSPI_NS"):
        machine(gic_bad_access="abort").device_write(0, V2M + 0x040, 80, size=1)


def test_no_v2m_frame() -> None:
    m = machine(v2m=None)
    assert m.gic.v2m is None
    with pytest.raises(ExternalAbort, match="no device"):
        m.device_write(0, V2M + 0x040, 80)


def test_pci_multi_msi_through_v2m_by_config_writes() -> None:
    from irqlab.hw.config import PciFunctionConfig

    m = machine(pci_functions=(PciFunctionConfig(bdf=0x08, msi_vectors=4),))
    enable_all(m)
    for intid in range(80, 84):
        setup_spi(m, intid, targets=0b01)
    c = m.cpus[0]
    cfg = m.pci.config_address(0x08)
    c.write(cfg + 0x04, 1 << 2)              # Command: Bus Master Enable
    c.write(cfg + 0x40 + 4, V2M + 0x040)     # MSI Message Address: MSI_SETSPI_NS
    c.write(cfg + 0x40 + 12, 80, size=2)     # Message Data: the first SPI of the block
    c.write(cfg + 0x40 + 2, 1 | 2 << 4, size=2)  # MSI Enable, Multiple Message Enable = 4
    m.pci[0x08].fire(3)
    assert m.gic.is_pending(83) and ack(c) == 83
    eoi(c, 83)
    m.pci[0x08].fire(0)
    assert ack(c) == 80
