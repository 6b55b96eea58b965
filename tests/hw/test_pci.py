"""The PCIe host: ECAM configuration space, BARs, MSI, Multi-MSI, MSI-X, masking, hotplug."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab import ExternalAbort, InvalidArgument, Machine, PciFunctionConfig

from .gicv3.its_helpers import ItsDriver, ack_all, real_machine

NVME = PciFunctionConfig(bdf=0x08, msi_vectors=32, msix_vectors=0)        # 00:01.0
NIC = PciFunctionConfig(bdf=0x10, vendor_id=0x8086, device_id=0x10D3, class_code=0x020000,
                        msi_vectors=1, msix_vectors=5)                    # 00:02.0


@pytest.fixture
def m():
    mach = Machine.virt(cpus=2, pci_functions=(NVME, NIC))
    mach.rec = mach.events.record()
    return mach


def cfg_rd(m, bdf, reg, size=4):
    return m.cpus[0].read(m.pci.config_address(bdf, reg), size)


def cfg_wr(m, bdf, reg, value, size=4):
    m.cpus[0].write(m.pci.config_address(bdf, reg), value, size)


def caps(m, bdf):
    out = {}
    p = cfg_rd(m, bdf, 0x34, 1)
    while p:
        out[cfg_rd(m, bdf, p, 1)] = p
        p = cfg_rd(m, bdf, p + 1, 1)
    return out


def msi_writes(m):
    return [(e["bdf"], e["devid"], e["addr"], e["data"]) for e in m.rec.of("pci_msi_write")]


def test_header_and_capabilities(m):
    assert cfg_rd(m, 0x10, 0) == 0x10D3_8086
    assert cfg_rd(m, 0x10, 0x08) >> 8 == 0x020000
    assert cfg_rd(m, 0x10, 0x0E, 1) == 0
    assert cfg_rd(m, 0x10, 0x06, 2) & 0x10
    assert caps(m, 0x10) == {0x05: 0x40, 0x11: 0x60}
    assert caps(m, 0x08) == {0x05: 0x40}
    assert cfg_rd(m, 0x08, 0x42, 2) == (5 << 1) | (1 << 7) | (1 << 8)  # MMC=32, 64-bit, PVM
    assert cfg_rd(m, 0x10, 0x62, 2) == 4  # MSI-X Table Size = N - 1
    assert cfg_rd(m, 0x10, 0x68) == m.pci[0x10].pba_offset


def test_absent_function_reads_all_ones(m):
    assert cfg_rd(m, 0x18, 0) == 0xFFFF_FFFF
    assert cfg_rd(m, 0x18, 0, 2) == 0xFFFF
    cfg_wr(m, 0x18, 4, 6)  # ignored


def test_ecam_access_sizes(m):
    with pytest.raises(ExternalAbort):
        m.cpus[0].read(m.pci.config_address(0x10, 0), 8)
    with pytest.raises(ExternalAbort):
        m.cpus[0].read(m.pci.config_address(0x10, 1), 2)


def test_read_only_fields_are_read_only(m):
    cfg_wr(m, 0x10, 0, 0)
    assert cfg_rd(m, 0x10, 0) == 0x10D3_8086
    cfg_wr(m, 0x08, 0x42, 0xFFFF, 2)
    # Enable, MME clamped to MMC (5: 32 vectors); MMC, 64-bit and per-vector masking RO
    assert cfg_rd(m, 0x08, 0x42, 2) == 1 | (5 << 1) | (5 << 4) | (1 << 7) | (1 << 8)


def test_bar_sizing_and_moving(m):
    fn = m.pci[0x10]
    assert fn.bar0 == m.config.pcie_mmio[0] and fn.command & 2  # firmware assigned, MSE=1
    cfg_wr(m, 0x10, 0x10, 0xFFFF_FFFF)
    size_mask = cfg_rd(m, 0x10, 0x10)
    assert size_mask == (~(fn.bar_size - 1) & 0xFFFF_FFF0) | 0b100
    new = m.config.pcie_mmio[0] + 0x10_0000
    cfg_wr(m, 0x10, 0x10, new)
    cfg_wr(m, 0x10, 0x14, 0)
    assert fn.bar0 == new
    m.cpus[0].write(new + 8, 0x1234)  # MSI-X entry 0 data
    assert fn.msix_entry(0) == (0, 0x1234, True)
    with pytest.raises(ExternalAbort):
        m.cpus[0].read(m.config.pcie_mmio[0], 4)  # old address: no BAR claims it
    cfg_wr(m, 0x10, 0x04, 0, 2)  # Memory Space Enable off: BAR stops decoding
    with pytest.raises(ExternalAbort):
        m.cpus[0].read(new, 4)


def program_msi(m, bdf, addr, data, mme):
    cfg_wr(m, bdf, 0x44, addr & 0xFFFF_FFFF)
    cfg_wr(m, bdf, 0x48, addr >> 32)
    cfg_wr(m, bdf, 0x4C, data, 2)
    cfg_wr(m, bdf, 0x42, (mme << 4) | 1, 2)
    cfg_wr(m, bdf, 0x04, 0x6, 2)  # memory + bus master


def test_multi_msi_vector_in_low_bits(m):
    program_msi(m, 0x08, m.its.translater, 0x20, mme=3)  # 8 vectors
    fn = m.pci[0x08]
    assert fn.msi_message() == (m.its.translater, 0x20, 8)
    for v in (0, 5, 7):
        fn.fire(v)
    assert msi_writes(m) == [(0x08, 0x08, m.its.translater, 0x20 | v) for v in (0, 5, 7)]
    fn.fire(8)
    assert m.rec.of("pci_msi_dropped")[-1]["rule"] == "vector exceeds MSI Multiple Message Enable"


def test_msi_mask_and_pending(m):
    program_msi(m, 0x08, m.its.translater, 0x40, mme=2)
    fn = m.pci[0x08]
    cfg_wr(m, 0x08, 0x50, 0b0100)  # mask vector 2
    fn.fire(2)
    assert msi_writes(m) == []
    assert fn.msi_pending_bits == 0b100 and cfg_rd(m, 0x08, 0x54) == 0b100
    cfg_wr(m, 0x08, 0x50, 0)  # unmask: the pending message is sent
    assert msi_writes(m) == [(0x08, 0x08, m.its.translater, 0x42)]
    assert fn.msi_pending_bits == 0 and cfg_rd(m, 0x08, 0x54) == 0


def test_bus_master_and_disabled(m):
    fn = m.pci[0x08]
    fn.fire(0)
    assert m.rec.of("pci_msi_dropped")[-1]["rule"] == "MSI and MSI-X are disabled"
    program_msi(m, 0x08, m.its.translater, 0, mme=0)
    cfg_wr(m, 0x08, 0x04, 0x2, 2)  # Bus Master Enable off
    fn.fire(0)
    assert m.rec.of("pci_msi_dropped")[-1]["rule"] == "Bus Master Enable is 0"
    assert msi_writes(m) == []


def test_msi_to_undecoded_address_is_a_master_abort(m):
    program_msi(m, 0x08, 0x7_0000_0000, 0, mme=0)
    m.pci[0x08].fire(0)
    ab = m.rec.of("pci_msi_abort")
    assert len(ab) == 1 and ab[0]["addr"] == 0x7_0000_0000
    program_msi(m, 0x08, 0xFFFF_0000_0000_0000, 0, mme=0)
    m.pci[0x08].fire(0)
    assert len(m.rec.of("pci_msi_abort")) == 2


def program_msix(m, bdf, entries, *, maskall=False):
    fn = m.pci[bdf]
    cfg_wr(m, bdf, 0x04, 0x6, 2)
    cfg_wr(m, bdf, 0x62, 0x8000 | (0x4000 if maskall else 0), 2)
    for i, (addr, data, masked) in enumerate(entries):
        e = fn.bar0 + 16 * i
        m.cpus[0].write(e, addr, 8)
        m.cpus[0].write(e + 8, data)
        m.cpus[0].write(e + 12, int(masked))
    return fn


def test_msix_entries_mask_pba(m):
    t = m.its.translater
    fn = program_msix(m, 0x10, [(t, 100 + i, i == 3) for i in range(5)])
    assert fn.msix_entry(1) == (t, 101, False)
    fn.fire(1)
    fn.fire(3)  # masked: PBA
    assert msi_writes(m) == [(0x10, 0x10, t, 101)]
    assert fn.msix_pba == 0b1000
    assert m.cpus[0].read(fn.bar0 + fn.pba_offset, 8) == 0b1000
    m.cpus[0].write(fn.bar0 + fn.pba_offset, 0, 8)  # PBA is read-only
    assert fn.msix_pba == 0b1000
    m.cpus[0].write(fn.bar0 + 16 * 3 + 12, 0)  # unmask: delivered
    assert msi_writes(m)[-1] == (0x10, 0x10, t, 103) and fn.msix_pba == 0


def test_msix_function_mask(m):
    t = m.its.translater
    fn = program_msix(m, 0x10, [(t, i, False) for i in range(5)], maskall=True)
    fn.fire(0)
    fn.fire(4)
    assert msi_writes(m) == [] and fn.msix_pba == 0b10001
    cfg_wr(m, 0x10, 0x62, 0x8000, 2)
    assert [w[3] for w in msi_writes(m)] == [0, 4]


def test_msix_takes_precedence_over_msi(m):
    program_msi(m, 0x10, m.its.translater, 0x77, mme=0)
    fn = program_msix(m, 0x10, [(m.its.translater, 9, False)] * 5)
    fn.fire(0)
    assert msi_writes(m)[-1][3] == 9


def test_msix_access_sizes(m):
    fn = m.pci[0x10]
    with pytest.raises(ExternalAbort):
        m.cpus[0].read(fn.bar0, 2)
    with pytest.raises(ExternalAbort):
        m.cpus[0].write(fn.bar0 + 4, 0, 8)


def test_msi_map():
    mach = Machine.virt(cpus=1, pci_functions=(NIC,), msi_map=(0x10, 0x1000, 8))
    assert mach.pci.device_id(0x10) == 0x1000 and mach.pci.device_id(0x18) is None
    mach.rec = mach.events.record()
    fn = program_msix(mach, 0x10, [(mach.its.translater, 1, False)] * 5)
    fn.fire(0)
    assert msi_writes(mach)[0][1] == 0x1000


def test_hotplug(m):
    fn = m.pci.add_function(PciFunctionConfig(bdf=0x18, msi_vectors=0, msix_vectors=64))
    assert cfg_rd(m, 0x18, 0) == 0x0010_1B36
    assert fn.bar0 >= m.pci[0x10].bar0 + m.pci[0x10].bar_size
    m.pci.remove_function(0x18)
    assert cfg_rd(m, 0x18, 0) == 0xFFFF_FFFF
    with pytest.raises(ExternalAbort):
        m.cpus[0].read(fn.bar0, 4)
    assert [e.kind for e in m.rec.of("pci_hot_*")] == ["pci_hot_add", "pci_hot_remove"]


def test_api_misuse(m):
    with pytest.raises(InvalidArgument, match=r"^cfg.bdf must be a free requester ID, not 0x10$"):
        m.pci.add_function(NIC)
    with pytest.raises(InvalidArgument, match=r"^cfg.msi_vectors must be 0 or a power of two"):
        m.pci.add_function(PciFunctionConfig(bdf=0x20, msi_vectors=3))
    with pytest.raises(InvalidArgument, match=r"^bdf must name a present function, not 0x20$"):
        m.pci.remove_function(0x20)
    with pytest.raises(InvalidArgument, match=r"^vector must be in \[0, 31\], not 32$"):
        m.pci[0x08].fire(32)
    with pytest.raises(InvalidArgument, match=r"^cfg must be a PciFunctionConfig, not 1$"):
        m.pci.add_function(1)


def test_end_to_end_msix_through_its_to_cpus():
    m = real_machine(4, pci_functions=(NIC,))
    d = ItsDriver(m)
    for cpu in range(4):
        d.cmd("MAPC", ICID=cpu, RDbase=cpu, V=1)
    d.cmd("MAPD", DeviceID=0x10, Size=4, ITT_addr=0x4030_0000, V=1)
    for v in range(5):
        d.cmd("MAPTI", DeviceID=0x10, EventID=v, pINTID=0x2000 + v, ICID=v % 4)
    fn = program_msix(m, 0x10, [(m.its.translater, v, False) for v in range(5)])
    for v in range(5):
        fn.fire(v)
    assert ack_all(m) == {0: [0x2000, 0x2004], 1: [0x2001], 2: [0x2002], 3: [0x2003]}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["cfg", "bar", "fire"]), st.integers(0, 0xFFF),
                          st.integers(0, (1 << 32) - 1), st.sampled_from([1, 2, 4, 8])),
                max_size=40))
def test_fuzz_config_and_bar(ops):
    """Any configuration/BAR access and any fire: no exception but ExternalAbort."""
    mach = Machine.virt(cpus=1, pci_functions=(NVME, NIC))
    for kind, off, val, size in ops:
        try:
            if kind == "cfg":
                cfg_wr(mach, 0x10 if off & 1 else 0x08, off & ~(size - 1), val, size)
            elif kind == "bar":
                fn = mach.pci[0x10]
                if fn.bar0:
                    mach.cpus[0].write((fn.bar0 + off) & ((1 << 48) - 1), val, size)
            else:
                mach.pci[0x10].fire(off % 5)
                mach.pci[0x08].fire(off % 32)
        except ExternalAbort:
            pass


def test_end_to_end_multi_msi_through_its():
    """Multi-MSI: 8 vectors, data = EventID base 8; vector v is EventID 8 | v."""
    m = real_machine(2, pci_functions=(NVME,))
    d = ItsDriver(m)
    d.cmd("MAPC", ICID=0, RDbase=1, V=1)
    d.cmd("MAPD", DeviceID=0x08, Size=4, ITT_addr=0x4030_0000, V=1)
    for e in range(8, 16):
        d.cmd("MAPTI", DeviceID=0x08, EventID=e, pINTID=0x2100 + e, ICID=0)
    program_msi(m, 0x08, m.its.translater, 8, mme=3)
    for v in (7, 0, 3):
        m.pci[0x08].fire(v)
    assert ack_all(m) == {1: [0x2108, 0x210B, 0x210F]}
    assert d.errors() == []
