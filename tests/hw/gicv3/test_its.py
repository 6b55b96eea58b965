"""The ITS model: registers, access sizes, tables in memory, translation, save/restore."""

import pytest

from irqlab.arch.its import (
    CTE,
    DTE,
    GITS_BASER,
    GITS_CTLR,
    GITS_TYPER,
    ITE,
    encode_baser_address,
    encode_cte,
    encode_dte,
    encode_ite,
)
from irqlab.errors import ExternalAbort

from .its_helpers import (
    CMDQ,
    CT,
    DT,
    ITT,
    OUTSIDE,
    PROP,
    ItsDriver,
    ack_all,
    fake_machine,
    real_machine,
)


@pytest.fixture
def m():
    return fake_machine(cpus=4)


@pytest.fixture
def d(m):
    return ItsDriver(m)


# -- registers ------------------------------------------------------------------------------
def test_reset_values(m):
    d = ItsDriver(m, enable=False)
    assert d.read32("GITS_CTLR") == GITS_CTLR.encode(Quiescent=1)
    assert d.read32("GITS_IIDR") == 0x43B
    assert d.read32("GITS_PIDR2") >> 4 == 3
    t = d.read64("GITS_TYPER")
    assert GITS_TYPER.decode(t) == {
        "Physical": 1, "Virtual": 0, "CCT": 0, "ITT_entry_size": 7, "ID_bits": 15,
        "Devbits": 15, "SEIS": 0, "PTA": 0, "HCC": 0, "CIDbits": 15, "CIL": 1, "VMOVP": 0,
        "MPAM": 0, "VSGI": 0, "VMAPP": 0, "SVPET": 0, "nID": 0, "UMSI": 0, "UMSIirq": 0,
        "INV": 0}
    # as QEMU's GITS_TYPER with its default 16-bit IDs, but for 8-byte ITEs (see docs)
    assert t == 0x0000_001F_0001_EF71
    assert GITS_BASER.Type.get(d.read64("GITS_BASER0")) == 1
    assert GITS_BASER.Type.get(d.read64("GITS_BASER1")) == 4
    assert GITS_BASER.Entry_Size.get(d.read64("GITS_BASER0")) == 7
    assert d.read64("GITS_BASER2") == 0


def test_typer_follows_config():
    m = fake_machine(cpus=2, its_device_bits=20, its_event_bits=12, its_icid_bits=8,
                     its_pta=True)
    t = ItsDriver(m, enable=False).read64("GITS_TYPER")
    assert (GITS_TYPER.Devbits.get(t), GITS_TYPER.ID_bits.get(t)) == (19, 11)
    assert (GITS_TYPER.CIDbits.get(t), GITS_TYPER.PTA.get(t)) == (7, 1)


def test_ctlr_enable_and_quiescent(m):
    """Quiescent reads 1 while enabled too (UNKNOWN in IHI 0069; QEMU keeps it 1)."""
    d = ItsDriver(m, enable=False)
    d.enable()
    assert d.read32("GITS_CTLR") == GITS_CTLR.encode(Enabled=1, Quiescent=1) == 0x8000_0001
    d.write32("GITS_CTLR", 0xFFFF_FFFF)  # RES0 / RO bits ignored
    assert d.read32("GITS_CTLR") == 0x8000_0001
    d.enable(False)
    assert d.read32("GITS_CTLR") == GITS_CTLR.encode(Quiescent=1)
    assert d.rec.kinds()[-2:] == ["its_enable", "its_disable"]


def test_baser_writes(m):
    d = ItsDriver(m, enable=False)
    d.write64("GITS_BASER0", (1 << 64) - 1)
    v = d.read64("GITS_BASER0")
    # Type and Entry_Size are RO; every other field reads back as written (as QEMU),
    # the reserved Page_Size 0b11 included.
    assert v == 0x0107_0000_0000_0000 | (((1 << 64) - 1) & ~(0x07 << 56) & ~(0x1F << 48))
    assert GITS_BASER.Page_Size.get(v) == 3
    assert GITS_BASER.Valid.get(v) == GITS_BASER.Indirect.get(v) == 1
    d.write64("GITS_BASER2", (1 << 64) - 1)
    assert d.read64("GITS_BASER2") == 0  # RAZ/WI
    # 16 KiB pages: PA[13:12] are RES0: stored (as QEMU), not used.
    d.write64("GITS_BASER0", GITS_BASER.encode(Page_Size=1) | 0x4000_3000)
    assert d.read64("GITS_BASER0") & 0xFFFF_FFFF_F000 == 0x4000_3000


def test_baser_reset_page_size_64k(m):
    """GITS_BASER0/1 reset with Page_Size = 64 KiB, as QEMU."""
    its_base = m.its.base
    assert m.bus.read(its_base + 0x100, 8, 0) == 0x0107_0000_0000_0200
    assert m.bus.read(its_base + 0x108, 8, 0) == 0x0407_0000_0000_0200


def test_baser_reserved_page_size_used_as_64k(m):
    """Page_Size 0b11 reads back 0b11 and the table uses 64 KiB pages (PA[51:48] in
    bits [15:12])."""
    d = ItsDriver(m, enable=False)
    d.write64("GITS_BASER0", GITS_BASER.encode(Valid=1, Page_Size=3, Size=0) | DT)
    assert GITS_BASER.Page_Size.get(d.read64("GITS_BASER0")) == 3
    d.enable()
    assert m.its._dt.page_size == 0x1_0000 and m.its._dt.num_entries == 0x2000
    d.cmd("MAPD", DeviceID=0x1FFF, Size=4, ITT_addr=ITT, V=1)
    assert m.memory.read_u64(DT + 0x1FFF * 8) == encode_dte(valid=True, itt_addr=ITT, size=4)
    assert d.errors() == []


def test_baser_16k_res0_address_bits_not_used(m):
    d = ItsDriver(m, enable=False, page_size=0x4000)
    d.write64("GITS_BASER0", d.read64("GITS_BASER0") | 0x3000)
    d.enable()
    d.cmd("MAPD", DeviceID=1, Size=4, ITT_addr=ITT, V=1)
    assert m.memory.read_u64(DT + 8) == encode_dte(valid=True, itt_addr=ITT, size=4)


def test_baser_and_cbaser_ignored_while_enabled(d):
    before = d.read64("GITS_BASER0"), d.read64("GITS_CBASER")
    d.write64("GITS_BASER0", 0)
    d.write64("GITS_CBASER", 0)
    assert (d.read64("GITS_BASER0"), d.read64("GITS_CBASER")) == before
    ev = d.rec.of("its_reg_write_ignored")
    assert [e["reg"] for e in ev] == ["GITS_BASER0", "GITS_CBASER"]
    assert ev[0]["rule"] == "GITS_CTLR.Enabled is 1"


def test_halves_of_64bit_registers(m):
    d = ItsDriver(m, enable=False)
    base = m.its.base
    m.bus.write(base + 0x100, 0x4000_1000, 4, 0)
    m.bus.write(base + 0x104, 0x8000_0000, 4, 0)
    v = d.read64("GITS_BASER0")
    assert GITS_BASER.Valid.get(v) == 1 and v & 0xFFFF_F000 == 0x4000_1000
    assert m.bus.read(base + 0x104, 4, 0) == v >> 32
    assert m.bus.read(base + 0x8, 4, 0) == d.read64("GITS_TYPER") & 0xFFFF_FFFF


def test_cwriter_upper_half_write_runs_nothing(m):
    """GITS_CWRITER[63:32] is RES0: a 4-byte write there changes nothing and runs nothing,
    not even the out-of-range check of the current offset (as QEMU)."""
    d = ItsDriver(m)
    base = m.its.base
    d.write64("GITS_CWRITER", 0x2000)  # beyond the 4 KiB queue: its_cmdq_error
    assert len(d.rec.of("its_cmdq_error")) == 1
    m.bus.write(base + 0x8C, 0xFFFF_FFFF, 4, 0)
    assert d.read64("GITS_CWRITER") == 0x2000
    assert len(d.rec.of("its_cmdq_error")) == 1
    m.bus.write(base + 0x88, 0x20, 4, 0)  # the low half does run the queue
    assert d.creadr == 0x20 and d.rec.of("its_cmd_error")[0]["rule"] == "unknown opcode 0x0"


ITS_BAD_SIZES = [(0x0, 1, "GITS_CTLR"), (0x0, 2, "GITS_CTLR"), (0x80, 2, "GITS_CBASER"),
                 (0x0, 8, "GITS_CTLR"), (0xFFE8, 8, "GITS_PIDR2"), (0x8, 1, "GITS_TYPER"),
                 (0x1_0040, 1, "GITS_TRANSLATER"), (0x1_0040, 8, "GITS_TRANSLATER")]


@pytest.mark.parametrize(("off", "size", "reg"), ITS_BAD_SIZES)
def test_bad_access_sizes_raz_wi_with_event(m, off, size, reg):
    """Default, as QEMU: RAZ/WI and an its_bad_access event naming the register."""
    d = ItsDriver(m)
    ctlr = m.bus.read(m.its.base, 4, 0)
    rec = m.events.record()
    assert m.bus.read(m.its.base + off, size, 0) == 0
    m.bus.write(m.its.base + off, 0, size, 0)
    m.device_write(7, m.its.base + off, 0, size)
    rec.stop()
    evs = rec.of("its_bad_access")
    assert [(e["reg"], e["offset"], e["size"], e["write"]) for e in evs] == \
        [(reg, off, size, False), (reg, off, size, True), (reg, off, size, True)]
    assert m.bus.read(m.its.base, 4, 0) == ctlr  # GITS_CTLR unchanged (still enabled)
    assert d.its.enabled
    assert not rec.of("its_translate", "its_translation_fault")


@pytest.mark.parametrize(("off", "size", "reg"), ITS_BAD_SIZES)
def test_bad_access_sizes_abort_when_configured(off, size, reg):
    m = fake_machine(cpus=1, gic_bad_access="abort")
    with pytest.raises(ExternalAbort, match=reg):
        m.bus.read(m.its.base + off, size, 0)
    with pytest.raises(ExternalAbort, match=reg):
        m.bus.write(m.its.base + off, 0, size, 0)


@pytest.mark.parametrize(("off", "size"), [(0x81, 4), (0x84, 8), (0x1_0042, 4)])
def test_misaligned_accesses_abort(m, off, size):
    with pytest.raises(ExternalAbort, match="misaligned"):
        m.bus.read(m.its.base + off, size, 0)
    with pytest.raises(ExternalAbort, match="misaligned"):
        m.bus.write(m.its.base + off, 0, size, 0)


def test_reserved_offsets_raz_wi(m):
    m.bus.write(m.its.base + 0x200, 0xFFFF_FFFF, 4, 0)
    assert m.bus.read(m.its.base + 0x200, 4, 0) == 0
    assert m.bus.read(m.its.base + 0x200, 8, 0) == 0


def test_translater_address_and_access_sizes(m):
    assert m.its.translater == 0x0809_0040
    assert m.bus.read(m.its.translater, 4, 0) == 0  # write-only: RAZ


def test_cbaser_write_resets_creadr(m):
    d = ItsDriver(m)
    d.cmd("SYNC", RDbase=0)
    assert d.creadr == 32
    d.enable(False)
    d.write64("GITS_CBASER", d.read64("GITS_CBASER"))
    assert d.creadr == 0


# -- translation ---------------------------------------------------------------------------
def test_msi_translation(m, d):
    d.setup_device(0x10, 4, icid=1, cpu=2, base_intid=0x2000)
    d.msi(0x10, 3)
    assert d.pending() == {2: {0x2003}}
    d.msi(0x10, 1, size=2)
    assert d.pending() == {2: {0x2001, 0x2003}}
    ev = d.rec.of("its_translate")
    assert ev[0].cpu == 2 and ev[0].text() == \
        "its_translate devid=0x10 eventid=0x3 intid=0x2003 icid=0x1"
    assert m.its.lookup(0x10, 3) == (0x2003, 2)


@pytest.mark.parametrize(("devid", "eventid", "rule"), [
    (0x11, 0, "device not mapped (DTE not valid)"),
    (0x10, 40, "EventID exceeds the device ITT size"),
    (0x10, 20, "event not mapped (ITE not valid)"),
    (1 << 16, 0, "DeviceID exceeds GITS_TYPER.Devbits"),
])
def test_translation_faults(m, d, devid, eventid, rule):
    d.setup_device(0x10, 4)
    d.msi(devid, eventid)
    assert d.pending() == {}
    f = d.rec.of("its_translation_fault")
    assert [(e["devid"], e["eventid"], e["rule"]) for e in f] == [(devid, eventid, rule)]


def test_translation_fault_collection_unmapped(m, d):
    d.setup_device(0x10, 1, icid=3)
    d.cmd("MAPC", ICID=3, V=0)
    d.msi(0x10, 0)
    assert d.pending() == {}
    assert d.rec.of("its_translation_fault")[0]["rule"] == "collection not mapped (CTE not valid)"


def test_cpu_write_uses_devid_0_as_qemu(m, d):
    """A CPU store to GITS_TRANSLATER translates with DeviceID 0 (QEMU's requester ID)."""
    d.setup_device(0, 2, cpu=1)
    d.setup_device(1, 2, icid=1, cpu=2, base_intid=9000)
    m.bus.write(m.its.translater, 1, 4, 3)  # a CPU store: DeviceID 0, EventID 1
    assert d.pending() == {1: {8193}}
    e = d.rec.of("its_translater_cpu_write")[0]
    assert (e.cpu, e["devid"], e["eventid"]) == (3, 0, 1)
    assert d.rec.of("its_translate")[0]["devid"] == 0
    m.bus.write(m.its.translater, 5, 2, 3)  # unmapped event: a translation fault
    assert d.rec.of("its_translation_fault")[0]["rule"] == "event not mapped (ITE not valid)"


def test_cpu_write_devid_configurable():
    m = fake_machine(cpus=4, its_cpu_devid=1)
    d = ItsDriver(m)
    d.setup_device(1, 1, cpu=2)
    m.bus.write(m.its.translater, 0, 4, 0)
    assert d.pending() == {2: {8192}}


def test_cpu_write_ignored_with_its_cpu_devid_none():
    m = fake_machine(cpus=4, its_cpu_devid=None)
    d = ItsDriver(m)
    d.setup_device(0, 1)
    m.bus.write(m.its.translater, 0, 4, 2)
    assert d.pending() == {}
    e = d.rec.of("its_translater_cpu_write")[0]
    assert e.cpu == 2 and e["rule"] == "a CPU write carries no DeviceID; ignored"
    assert not d.rec.of("its_translate") and not d.rec.of("its_translation_fault")


def test_its_cpu_devid_validated():
    from irqlab.errors import InvalidArgumentType, InvalidArgumentValue
    from irqlab.hw.config import MachineConfig

    with pytest.raises(InvalidArgumentValue, match="its_cpu_devid must be in"):
        MachineConfig.virt(its_cpu_devid=1 << 32)
    with pytest.raises(InvalidArgumentType, match="its_cpu_devid must be an int"):
        MachineConfig.virt(its_cpu_devid="0")


def test_translation_while_disabled(m, d):
    d.setup_device(1, 1)
    d.enable(False)
    d.msi(1, 0)
    assert d.pending() == {}
    assert d.rec.of("its_translation_fault")[0]["rule"] == "GITS_CTLR.Enabled is 0"
    d.enable()
    d.msi(1, 0)
    assert d.pending() == {0: {8192}}


# -- tables in memory ----------------------------------------------------------------------
def test_entries_written_in_kvm_abi_format(m, d):
    d.setup_device(5, 2, icid=1, cpu=3, base_intid=0x2100, size=6)
    assert m.memory.read_u64(DT + 5 * 8) == encode_dte(valid=True, itt_addr=ITT + (5 << 16),
                                                       size=6)
    assert m.memory.read_u64(CT + 1 * 8) == encode_cte(valid=True, rdbase=3, icid=1)
    assert ITE.decode(m.memory.read_u64(ITT + (5 << 16) + 8)) == \
        {"ICID": 1, "pINTID": 0x2101, "next": 0}
    d.cmd("DISCARD", DeviceID=5, EventID=1)
    assert m.memory.read_u64(ITT + (5 << 16) + 8) == 0
    d.cmd("MAPD", DeviceID=5, V=0)
    assert m.memory.read_u64(DT + 5 * 8) == 0


def test_save_tables_fills_next(m, d):
    d.cmd("MAPC", ICID=0, RDbase=0, V=1)
    for devid in (2, 7, 9):
        d.cmd("MAPD", DeviceID=devid, Size=7, ITT_addr=ITT + (devid << 16), V=1)
    for e in (0, 4, 200):
        d.cmd("MAPTI", DeviceID=7, EventID=e, pINTID=0x3000 + e, ICID=0)
    m.its.save_tables()
    nexts = [DTE.next.get(m.memory.read_u64(DT + i * 8)) for i in (2, 7, 9)]
    assert nexts == [5, 2, 0]
    ites = [ITE.decode(m.memory.read_u64(ITT + (7 << 16) + e * 8)) for e in (0, 4, 200)]
    assert [i["next"] for i in ites] == [4, 196, 0]
    assert [i["pINTID"] for i in ites] == [0x3000, 0x3004, 0x30C8]
    assert CTE.V.get(m.memory.read_u64(CT)) == 1
    # the saved image restores to the same mappings
    before = m.its.mappings()
    d.enable(False)
    d.enable()
    assert m.its.mappings() == before


def test_reenable_rereads_memory(m, d):
    d.setup_device(1, 2)
    # software rewrites a DTE and an ITE behind the ITS's back while it is enabled ...
    m.memory.write_u64(DT + 8, 0)
    m.memory.write_u64(ITT + (1 << 16), encode_ite(pintid=0x2222, icid=0))
    m.memory.write_u64(DT + 3 * 8, encode_dte(valid=True, itt_addr=ITT + (3 << 16), size=3))
    m.memory.write_u64(ITT + (3 << 16) + 16, encode_ite(pintid=0x2333, icid=0))
    d.msi(1, 0)
    d.msi(3, 2)
    assert d.pending() == {0: {8192}}  # ... not seen: the cache is authoritative
    d.enable(False)
    d.enable()
    assert m.its.mappings() == [(3, 2, 0x2333, 0)]  # seen after re-enable
    d.msi(3, 2)
    assert d.pending() == {0: {8192, 0x2333}}


def test_restore_skips_invalid_entries(m):
    d = ItsDriver(m, enable=False)
    m.memory.write_u64(CT, encode_cte(valid=True, rdbase=99, icid=0))  # no such CPU
    m.memory.write_u64(CT + 8, encode_cte(valid=True, rdbase=1, icid=1))
    m.memory.write_u64(DT, encode_dte(valid=True, itt_addr=ITT, size=31))  # Size > ID_bits
    m.memory.write_u64(DT + 8, encode_dte(valid=True, itt_addr=ITT + 0x10000, size=3))
    m.memory.write_u64(ITT + 0x10000, encode_ite(pintid=5, icid=1))  # not an LPI
    m.memory.write_u64(ITT + 0x10008, encode_ite(pintid=0x2000, icid=1))
    d.enable()
    assert m.its.mappings() == [(1, 1, 0x2000, 1)]
    assert m.its.collections() == {1: 1}
    bad = [(e["table"], e["rule"]) for e in d.rec.of("its_table_entry_invalid")]
    assert bad == [("collection", "RDbase does not name a redistributor"),
                   ("device", "DTE Size exceeds GITS_TYPER.ID_bits"),
                   ("itt", "pINTID is not an implemented LPI")]


@pytest.mark.parametrize("page_size", [0x1000, 0x4000, 0x1_0000])
def test_two_level_device_table(m, page_size):
    d = ItsDriver(m, page_size=page_size, dt_indirect=True)
    per = page_size // 8
    devid = 3 * per + 5
    d.cmd("MAPC", ICID=0, RDbase=1, V=1)
    d.cmd("MAPD", DeviceID=devid, Size=3, ITT_addr=ITT, V=1)
    assert d.errors() == [("MAPD", "level-1 device table entry not valid")]
    page = d.map_l2(devid)
    d.cmd("MAPD", DeviceID=devid, Size=3, ITT_addr=ITT, V=1)
    d.cmd("MAPTI", DeviceID=devid, EventID=1, pINTID=0x2001, ICID=0)
    assert m.memory.read_u64(page + 5 * 8) == encode_dte(valid=True, itt_addr=ITT, size=3)
    d.msi(devid, 1)
    assert d.pending() == {1: {0x2001}}
    d.enable(False)
    d.enable()
    assert m.its.mappings() == [(devid, 1, 0x2001, 0)]
    # capacity: (Size+1) pages of level-1 entries, each covering a page of DTEs
    assert m.its._dt.num_entries == min(per * per, 1 << 16)


@pytest.mark.parametrize("page_size", [0x1000, 0x4000, 0x1_0000])
def test_flat_table_sizes(m, page_size):
    d = ItsDriver(m, page_size=page_size, dt_pages=2)
    n = 2 * page_size // 8
    d.cmd("MAPD", DeviceID=n - 1, Size=1, ITT_addr=ITT, V=1)
    d.cmd("MAPD", DeviceID=n, Size=1, ITT_addr=ITT, V=1)
    assert d.errors() == [("MAPD", "DeviceID exceeds the device table size")]
    assert m.memory.read_u64(DT + (n - 1) * 8) != 0


def test_table_memory_fault_stalls_in_qemu_mode(m):
    d = ItsDriver(m, enable=False)
    d.write64("GITS_BASER0", GITS_BASER.encode(Valid=1) | encode_baser_address(OUTSIDE, 0x1000))
    d.enable()
    d.cmd("MAPD", DeviceID=1, Size=1, ITT_addr=ITT, V=1)
    assert d.errors() == [("MAPD", "device table entry is not in RAM")]
    assert d.creadr == 1  # Stalled, offset 0


def test_restore_with_ram_only_cost():
    """A 2^20-entry flat table with one entry rebuilds in well under a second."""
    m = fake_machine(cpus=1, its_device_bits=20)
    d = ItsDriver(m, dt_pages=256, page_size=0x1_0000, enable=False)
    m.memory.write_u64(DT + 8 * 1_000_000, encode_dte(valid=True, itt_addr=ITT, size=31 - 16))
    d.enable()
    assert sorted(m.its._devices) == [1_000_000]


def test_cmdq_in_memory_wraps(m):
    d = ItsDriver(m)
    for _ in range(130):
        d.cmd("SYNC", RDbase=0)
    assert d.creadr == d.cwriter == (130 * 32) % 0x1000
    assert len(d.rec.of("its_cmd_sync")) == 130
    assert CMDQ == 0x4000_0000


# -- with the real GICv3 redistributors and CPU interfaces ----------------------------------
def test_real_gic_msi_to_acknowledge():
    m = real_machine(4)
    d = ItsDriver(m)
    d.setup_device(0x10, 4, icid=1, cpu=2, base_intid=0x2000)
    d.msi(0x10, 3)
    d.msi(0x10, 1)
    assert m.cpus[2].irq_line and not m.cpus[0].irq_line
    assert ack_all(m) == {2: [0x2001, 0x2003]}
    assert d.errors() == []


def test_real_gic_movi_movall_discard_clear():
    m = real_machine(4)
    d = ItsDriver(m)
    d.setup_device(1, 4, icid=0, cpu=0)
    d.cmd("MAPC", ICID=1, RDbase=1, V=1)
    d.msi(1, 0)
    d.msi(1, 1)
    d.msi(1, 2)
    d.msi(1, 3)
    d.cmd("MOVI", DeviceID=1, EventID=0, ICID=1)  # pending 8192 moves to cpu1
    d.cmd("DISCARD", DeviceID=1, EventID=1)        # 8193 no longer pending
    d.cmd("CLEAR", DeviceID=1, EventID=2)          # 8194 no longer pending
    d.cmd("MOVALL", RDbase1=0, RDbase2=3)          # 8195 moves to cpu3
    assert ack_all(m) == {1: [8192], 3: [8195]}


def test_real_gic_inv_rereads_priority():
    m = real_machine(2, lpis=16)
    d = ItsDriver(m)
    d.setup_device(1, 2, icid=0, cpu=0)
    m.ram_write(PROP + 1, bytes([0]))  # disable LPI 8193 in the property table
    d.cmd("INV", DeviceID=1, EventID=1)
    d.msi(1, 1)
    d.msi(1, 0)
    assert ack_all(m) == {0: [8192]}
    m.ram_write(PROP + 1, bytes([0xA1]))
    d.cmd("INVALL", ICID=0)
    assert ack_all(m) == {0: [8193]}


def test_real_gic_invall_rereads_each_pending_lpi_once():
    """INVALL re-reads each LPI pending on the collection's redistributor once: its own
    invalidation does that, and the per-LPI invalidations reach only the other
    redistributors' copies."""
    m = real_machine(2, lpis=16)
    d = ItsDriver(m)
    d.setup_device(1, 2, icid=0, cpu=0)
    m.ram_write(PROP, bytes([0xA0, 0xA0]))  # both masked, then made pending
    d.cmd("INV", DeviceID=1, EventID=0)
    d.cmd("INV", DeviceID=1, EventID=1)
    d.cmd("INT", DeviceID=1, EventID=0)
    d.cmd("INT", DeviceID=1, EventID=1)
    rd0 = m.gic.redists[0]
    reads: list[int] = []
    requeue = rd0._lpi_requeue

    def spy(intid: int) -> None:
        reads.append(intid)
        requeue(intid)

    rd0._lpi_requeue = spy
    m.ram_write(PROP, bytes([0xA1, 0xA1]))
    d.cmd("INVALL", ICID=0)
    assert reads == [8192, 8193]
    assert ack_all(m) == {0: [8192, 8193]} and d.errors() == []


def test_real_gic_masked_lpi_moved_back_stays_masked():
    """Linux masks an LPI with INV to its current collection (its_mask_irq) and moves it
    with MOVI alone (its_set_affinity): moved back to cpu0, which delivered it before, the
    masked LPI must not fire (QEMU re-reads the byte; /tmp/review_its/p10.py)."""
    m = real_machine(2, lpis=16)
    d = ItsDriver(m)
    d.setup_device(1, 1, icid=0, cpu=0)
    d.cmd("MAPC", ICID=1, RDbase=1, V=1)
    d.cmd("INT", DeviceID=1, EventID=0)
    assert ack_all(m) == {0: [8192]}  # cpu0 keeps the byte: enabled
    d.cmd("MOVI", DeviceID=1, EventID=0, ICID=1)
    m.ram_write(PROP, bytes([0xA0]))  # mask
    d.cmd("INV", DeviceID=1, EventID=0)  # to cpu1
    d.cmd("INT", DeviceID=1, EventID=0)
    assert ack_all(m) == {} and m.gic.is_pending(8192, 1)
    d.cmd("CLEAR", DeviceID=1, EventID=0)
    d.cmd("MOVI", DeviceID=1, EventID=0, ICID=0)
    d.cmd("INT", DeviceID=1, EventID=0)
    assert ack_all(m) == {} and m.gic.is_pending(8192, 0)
    assert d.errors() == []


@pytest.mark.parametrize("inv", ["INV", "INVALL"])
def test_real_gic_masked_lpi_after_collection_retargeted_back(inv):
    """The same with MAPC re-targeting the collection to cpu1 and back (no MOVI)."""
    m = real_machine(2, lpis=16)
    d = ItsDriver(m)
    d.setup_device(1, 1, icid=0, cpu=0)
    d.cmd("INT", DeviceID=1, EventID=0)
    assert ack_all(m) == {0: [8192]}
    d.cmd("MAPC", ICID=0, RDbase=1, V=1)
    m.ram_write(PROP, bytes([0xA0]))
    d.cmd(inv, **({"DeviceID": 1, "EventID": 0} if inv == "INV" else {"ICID": 0}))
    d.cmd("MAPC", ICID=0, RDbase=0, V=1)
    d.cmd("INT", DeviceID=1, EventID=0)
    assert ack_all(m) == {} and m.gic.is_pending(8192, 0)
    m.ram_write(PROP, bytes([0xA1]))
    d.cmd(inv, **({"DeviceID": 1, "EventID": 0} if inv == "INV" else {"ICID": 0}))
    assert ack_all(m) == {0: [8192]}


@pytest.mark.parametrize("move", ["MOVI", "MAPC"])
def test_real_gic_arriving_lpi_reads_its_configuration_afresh(move):
    """An LPI that arrives at a redistributor (MOVI, or MAPC re-targeting its collection)
    is configured from the table there, not from a copy kept from its earlier visit; where
    it stays, a change made without INV is not seen (cached until an invalidation)."""
    m = real_machine(2, lpis=16)
    d = ItsDriver(m)
    d.setup_device(1, 1, icid=0, cpu=0)
    d.cmd("MAPC", ICID=1, RDbase=1, V=1)
    d.cmd("INT", DeviceID=1, EventID=0)
    assert ack_all(m) == {0: [8192]}
    go = {"MOVI": [("MOVI", {"DeviceID": 1, "EventID": 0, "ICID": 1}),
                   ("MOVI", {"DeviceID": 1, "EventID": 0, "ICID": 0})],
          "MAPC": [("MAPC", {"ICID": 0, "RDbase": 1, "V": 1}),
                   ("MAPC", {"ICID": 0, "RDbase": 0, "V": 1})]}[move]
    d.cmd(go[0][0], **go[0][1])
    m.ram_write(PROP, bytes([0xA0]))  # masked, no INV
    d.cmd("INT", DeviceID=1, EventID=0)
    assert ack_all(m) == {}  # cpu1 read the byte on arrival
    d.cmd("CLEAR", DeviceID=1, EventID=0)
    m.ram_write(PROP, bytes([0xA1]))  # unmasked, no INV
    d.cmd("INT", DeviceID=1, EventID=0)
    assert ack_all(m) == {}  # cpu1 keeps its copy until an invalidation
    d.cmd("CLEAR", DeviceID=1, EventID=0)
    m.ram_write(PROP, bytes([0xA0]))  # masked again, no INV
    d.cmd(go[1][0], **go[1][1])
    d.cmd("INT", DeviceID=1, EventID=0)
    assert ack_all(m) == {} and m.gic.is_pending(8192, 0)  # back on cpu0: read afresh
    assert d.errors() == []


def test_real_gic_inv_reaches_an_lpi_left_pending_by_a_retarget():
    """MAPC re-targets without moving what is pending; INV, sent to the new target, still
    re-reads the byte of the LPI left pending on the old one."""
    m = real_machine(2, lpis=16)
    d = ItsDriver(m)
    d.setup_device(1, 1, icid=0, cpu=0)
    m.cpus[0].write_sysreg("ICC_PMR_EL1", 0)  # cpu0 takes nothing for now
    d.cmd("INT", DeviceID=1, EventID=0)
    d.cmd("MAPC", ICID=0, RDbase=1, V=1)
    m.ram_write(PROP, bytes([0xA0]))
    d.cmd("INV", DeviceID=1, EventID=0)
    m.cpus[0].write_sysreg("ICC_PMR_EL1", 0xF0)
    assert ack_all(m) == {} and m.gic.is_pending(8192, 0)


def test_two_level_collection_table(m):
    d = ItsDriver(m, enable=False)
    d.write64("GITS_BASER1", GITS_BASER.encode(Valid=1, Indirect=1)
              | encode_baser_address(CT, 0x1000))
    d.enable()
    d.cmd("MAPC", ICID=513, RDbase=2, V=1)
    assert d.errors() == [("MAPC", "level-1 collection table entry not valid")]
    m.memory.write_u64(CT + 8, (1 << 63) | 0x4060_0000)  # level-2 page for ICIDs 512..1023
    d.cmd("MAPC", ICID=513, RDbase=2, V=1)
    assert m.memory.read_u64(0x4060_0008) == encode_cte(valid=True, rdbase=2, icid=513)
    d.enable(False)
    d.enable()
    assert m.its.collections() == {513: 2}


def test_event_text_forms(m, d):
    d.cmd("MAPD", DeviceID=3, Size=5, ITT_addr=ITT, V=1)
    d.cmd("MAPTI", DeviceID=3, EventID=0x20, pINTID=0x2020, ICID=1)
    d.cmd("MAPTI", DeviceID=3, EventID=0x40, pINTID=0x2020, ICID=1)
    texts = [e.text() for e in d.rec.of("its_cmd_*")]
    assert texts == [
        f"its_cmd_mapd devid=0x3 size=0x5 itt_addr={ITT:#x} v=0x1",
        "its_cmd_mapti devid=0x3 eventid=0x20 intid=0x2020 icid=0x1",
        "its_cmd_error cmd=MAPTI devid=0x3 eventid=0x40 intid=0x2020 icid=0x1 "
        "rule='EventID exceeds the device ITT size' offset=0x40",
    ]


def test_real_gic_event_order_cause_first():
    m = real_machine(2)
    d = ItsDriver(m)
    d.setup_device(1, 2, icid=0, cpu=1)
    d.rec.clear()
    d.msi(1, 0)
    d.cmd("INT", DeviceID=1, EventID=1)
    kinds = [k for k in d.rec.kinds() if k.startswith(("its_", "gicr_lpi_pending"))]
    assert kinds == ["its_translate", "gicr_lpi_pending", "its_cmd_int", "gicr_lpi_pending"]


def test_saved_image_restores_on_another_machine():
    """save_tables() leaves an image that a fresh machine (or KVM) can load."""
    m1 = real_machine(4)
    d1 = ItsDriver(m1)
    d1.setup_device(0x21, 3, icid=2, cpu=3, base_intid=0x2400)
    d1.cmd("MAPC", ICID=1, RDbase=1, V=1)
    d1.cmd("MOVI", DeviceID=0x21, EventID=2, ICID=1)
    m1.its.save_tables()
    m2 = real_machine(4)
    for pn, page in sorted(m1.memory.pages.items()):
        m2.memory.write(pn << 12, page)
    d2 = ItsDriver(m2)  # same BASERs, enable: the cache is rebuilt from the image
    assert m2.its.mappings() == m1.its.mappings() == [
        (0x21, 0, 0x2400, 2), (0x21, 1, 0x2401, 2), (0x21, 2, 0x2402, 1)]
    d2.msi(0x21, 2)
    d2.msi(0x21, 0)
    assert ack_all(m2) == {1: [0x2402], 3: [0x2400]}
