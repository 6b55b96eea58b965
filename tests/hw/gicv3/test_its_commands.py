"""Every ITS command: its success path and each error case under each error mode."""

import pytest

from irqlab.arch.its import GITS_BASER, GITS_CBASER, encode_baser_address, encode_command

from .its_helpers import CMDQ, DT, ITT, OUTSIDE, ItsDriver, fake_machine

MODES = ("qemu", "stall", "ignore")


def setup(mode="qemu", **options):
    """Collections 0->cpu0, 1->cpu1 (5 known, unmapped); device 1: events 0..3 -> LPIs
    0x2000.. in collection 0; device 3: event 0 -> 0x2100 in unmapped collection 5;
    device 2: its ITT outside RAM."""
    m = fake_machine(cpus=4, its_command_errors=mode, **options)
    d = ItsDriver(m)
    d.cmd("MAPC", ICID=0, RDbase=0, V=1)
    d.cmd("MAPC", ICID=1, RDbase=1, V=1)
    d.cmd("MAPD", DeviceID=1, Size=3, ITT_addr=ITT + 0x10000, V=1)
    for e in range(4):
        d.cmd("MAPTI", DeviceID=1, EventID=e, pINTID=0x2000 + e, ICID=0)
    d.cmd("MAPD", DeviceID=3, Size=3, ITT_addr=ITT + 0x30000, V=1)
    d.cmd("MAPTI", DeviceID=3, EventID=0, pINTID=0x2100, ICID=5)
    d.cmd("MAPD", DeviceID=2, Size=3, ITT_addr=OUTSIDE, V=1)
    assert d.errors() == []
    d.rec.clear()
    return m, d


# -- success paths ---------------------------------------------------------------------------
def test_mapd_mapti_int_clear():
    _m, d = setup()
    d.cmd("INT", DeviceID=1, EventID=2)
    assert d.pending() == {0: {0x2002}}
    d.cmd("CLEAR", DeviceID=1, EventID=2)
    assert d.pending() == {}
    assert d.rec.kinds() == ["its_cmd_int", "its_cmd_clear"]
    assert d.rec[0].text() == "its_cmd_int devid=0x1 eventid=0x2" and d.rec[0].cpu == 0


def test_mapi_uses_eventid_as_intid():
    m, d = setup()
    d.cmd("MAPD", DeviceID=7, Size=15, ITT_addr=ITT + 0x70000, V=1)
    d.cmd("MAPI", DeviceID=7, EventID=0x2345, ICID=1)
    d.msi(7, 0x2345)
    assert d.pending() == {1: {0x2345}}
    assert m.its.mappings()[-1] == (7, 0x2345, 0x2345, 1)


def test_mapti_overwrites_existing_event():
    _m, d = setup()
    d.cmd("MAPTI", DeviceID=1, EventID=0, pINTID=0x2FFF, ICID=1)
    d.msi(1, 0)
    assert d.pending() == {1: {0x2FFF}}


def test_mapc_remap_retargets_collection():
    m, d = setup()
    d.cmd("MAPC", ICID=0, RDbase=3, V=1)
    d.msi(1, 1)
    assert d.pending() == {3: {0x2001}}
    assert m.its.collections()[0] == 3


def test_mapc_unmap():
    m, d = setup()
    d.cmd("MAPC", ICID=0, V=0)
    assert m.its.collections()[0] is None
    d.msi(1, 1)
    assert d.pending() == {}


def test_mapd_unmap_keeps_pending_and_drops_translation():
    _m, d = setup()
    d.msi(1, 1)
    d.cmd("MAPD", DeviceID=1, V=0)
    assert d.pending() == {0: {0x2001}}  # pending state untouched
    d.msi(1, 2)
    assert d.pending() == {0: {0x2001}}
    assert d.rec.of("its_translation_fault")[0]["rule"] == "device not mapped (DTE not valid)"
    # remapping to the same ITT finds the ITEs again (MAPD loads the ITT)
    d.cmd("MAPD", DeviceID=1, Size=3, ITT_addr=ITT + 0x10000, V=1)
    d.msi(1, 2)
    assert d.pending() == {0: {0x2001, 0x2002}}


def test_movi_moves_pending_and_translation():
    m, d = setup()
    d.msi(1, 1)
    d.cmd("MOVI", DeviceID=1, EventID=1, ICID=1)
    assert d.pending() == {1: {0x2001}}
    assert m.gic.redists[0].log == [("move", 0x2001, 1)]
    d.msi(1, 1)
    d.msi(1, 0)
    assert d.pending() == {0: {0x2000}, 1: {0x2001}}
    assert m.its.lookup(1, 1) == (0x2001, 1)
    assert m.memory.read_u64(ITT + 0x10000 + 8) & 0xFFFF == 1  # ITE.ICID updated


def test_movi_same_redistributor_does_not_move():
    m, d = setup()
    d.cmd("MAPC", ICID=2, RDbase=0, V=1)
    d.cmd("MOVI", DeviceID=1, EventID=1, ICID=2)
    assert m.gic.redists[0].log == []
    assert m.its.lookup(1, 1) == (0x2001, 0)


def test_movall():
    m, d = setup()
    d.msi(1, 0)
    d.msi(1, 1)
    d.cmd("MOVALL", RDbase1=0, RDbase2=2)
    assert d.pending() == {2: {0x2000, 0x2001}}
    d.cmd("MOVALL", RDbase1=2, RDbase2=2)  # same: nothing
    assert m.gic.redists[2].log == []
    d.msi(1, 0)  # MOVALL leaves the mappings alone: collection 0 still targets cpu0
    assert d.pending() == {0: {0x2000}, 2: {0x2000, 0x2001}}


def test_discard():
    m, d = setup()
    d.msi(1, 3)
    d.cmd("DISCARD", DeviceID=1, EventID=3)
    assert d.pending() == {}
    assert m.memory.read_u64(ITT + 0x10000 + 24) == 0
    d.msi(1, 3)
    assert d.rec.of("its_translation_fault")[0]["rule"] == "event not mapped (ITE not valid)"


def test_inv_invall_sync():
    m, d = setup()
    d.cmd("INV", DeviceID=1, EventID=2)
    d.cmd("INVALL", ICID=1)
    d.cmd("SYNC", RDbase=3)
    assert m.gic.redists[0].log == [("inv", 0x2002)]
    assert m.gic.redists[1].log == [("invall",)]
    assert d.rec.kinds() == ["its_cmd_inv", "its_cmd_invall", "its_cmd_sync"]
    assert d.rec[2].cpu == 3


def test_pta_rdbase_is_physical_address():
    m = fake_machine(cpus=4, its_pta=True)
    d = ItsDriver(m)
    rd2 = m.gic.redists[2].rd_base >> 16
    d.cmd("MAPC", ICID=0, RDbase=2, V=1)  # a processor number is not an RD_base with PTA=1
    assert d.errors() == [("MAPC", "RDbase does not name a redistributor")]
    d.cmd("MAPC", ICID=0, RDbase=rd2, V=1)
    d.cmd("MAPD", DeviceID=1, Size=1, ITT_addr=ITT, V=1)
    d.cmd("MAPTI", DeviceID=1, EventID=0, pINTID=0x2000, ICID=0)
    d.msi(1, 0)
    assert d.pending() == {2: {0x2000}}


# -- error cases -------------------------------------------------------------------------------
# (command, fields, rule, memory fault?)
ERRORS = [
    ("MAPD", {"DeviceID": 1 << 16, "Size": 1, "ITT_addr": ITT, "V": 1},
     "DeviceID exceeds GITS_TYPER.Devbits", False),
    ("MAPD", {"DeviceID": 600, "Size": 1, "ITT_addr": ITT, "V": 1},
     "DeviceID exceeds the device table size", False),
    ("MAPD", {"DeviceID": 4, "Size": 16, "ITT_addr": ITT, "V": 1},
     "Size exceeds GITS_TYPER.ID_bits", False),
    ("MAPC", {"ICID": 600, "RDbase": 0, "V": 1}, "ICID exceeds the collection table size", False),
    ("MAPC", {"ICID": 2, "RDbase": 4, "V": 1}, "RDbase does not name a redistributor", False),
    ("MAPTI", {"DeviceID": 9, "EventID": 0, "pINTID": 0x2000, "ICID": 0},
     "device not mapped (DTE not valid)", False),
    ("MAPTI", {"DeviceID": 1 << 16, "EventID": 0, "pINTID": 0x2000, "ICID": 0},
     "DeviceID exceeds GITS_TYPER.Devbits", False),
    ("MAPTI", {"DeviceID": 1, "EventID": 16, "pINTID": 0x2000, "ICID": 0},
     "EventID exceeds the device ITT size", False),
    ("MAPTI", {"DeviceID": 1, "EventID": 5, "pINTID": 0x2000, "ICID": 600},
     "ICID exceeds the collection table size", False),
    ("MAPTI", {"DeviceID": 1, "EventID": 5, "pINTID": 100, "ICID": 0},
     "pINTID is not an LPI", False),
    ("MAPTI", {"DeviceID": 1, "EventID": 5, "pINTID": 1 << 16, "ICID": 0},
     "pINTID is not an implemented LPI", False),
    ("MAPTI", {"DeviceID": 2, "EventID": 0, "pINTID": 0x2000, "ICID": 0},
     "ITT entry is not in RAM", True),
    ("MAPI", {"DeviceID": 1, "EventID": 5, "ICID": 0}, "pINTID is not an LPI", False),
    # MAPTI checks in the spec's (and QEMU's) order: ICID range before DTE validity and
    # the EventID range.
    ("MAPTI", {"DeviceID": 9, "EventID": 0, "pINTID": 0x2000, "ICID": 600},
     "ICID exceeds the collection table size", False),
    ("MAPTI", {"DeviceID": 1, "EventID": 16, "pINTID": 0x2000, "ICID": 1 << 15},
     "ICID exceeds the collection table size", False),
    ("MAPI", {"DeviceID": 1 << 16, "EventID": 0, "ICID": 600},
     "DeviceID exceeds GITS_TYPER.Devbits", False),
    ("MAPTI", {"DeviceID": 1, "EventID": 16, "pINTID": 100, "ICID": 0},
     "EventID exceeds the device ITT size", False),
    ("MOVI", {"DeviceID": 1, "EventID": 9, "ICID": 1}, "event not mapped (ITE not valid)",
     False),
    ("MOVI", {"DeviceID": 1, "EventID": 0, "ICID": 5},
     "target collection not mapped (CTE not valid)", False),
    ("MOVI", {"DeviceID": 3, "EventID": 0, "ICID": 1}, "collection not mapped (CTE not valid)",
     False),
    ("MOVI", {"DeviceID": 1, "EventID": 0, "ICID": 1 << 15},
     "ICID exceeds the collection table size", False),
    ("MOVALL", {"RDbase1": 7, "RDbase2": 0}, "RDbase does not name a redistributor", False),
    ("MOVALL", {"RDbase1": 0, "RDbase2": 7}, "RDbase does not name a redistributor", False),
    ("INVALL", {"ICID": 5}, "collection not mapped (CTE not valid)", False),
    ("INVALL", {"ICID": 7}, "collection not mapped (CTE not valid)", False),
    ("MOVI", {"DeviceID": 1, "EventID": 0, "ICID": 7},
     "target collection not mapped (CTE not valid)", False),
    ("INVALL", {"ICID": 600}, "ICID exceeds the collection table size", False),
    ("SYNC", {"RDbase": 4}, "RDbase does not name a redistributor", False),
]
for _name in ("DISCARD", "INT", "CLEAR", "INV"):
    ERRORS += [
        (_name, {"DeviceID": 8, "EventID": 0}, "device not mapped (DTE not valid)", False),
        (_name, {"DeviceID": 1, "EventID": 16}, "EventID exceeds the device ITT size", False),
        (_name, {"DeviceID": 1, "EventID": 7}, "event not mapped (ITE not valid)", False),
        (_name, {"DeviceID": 3, "EventID": 0}, "collection not mapped (CTE not valid)", False),
    ]


def _expect_outcome(d, mode, memory, start):
    stalls = mode == "stall" or (mode == "qemu" and memory)
    if stalls:
        assert d.creadr == start | 1  # Stalled, CREADR at the failing command
        assert d.rec.kinds()[-1] == "its_cmdq_stalled"
        assert d.its.stalled
    else:
        assert d.creadr == start + 32
        assert not d.its.stalled
    return stalls


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("name", "fields", "rule", "memory"), ERRORS,
                         ids=[f"{e[0]}-{e[2]}" for e in ERRORS])
def test_command_error(mode, name, fields, rule, memory):
    m, d = setup(mode)
    before = (m.its.mappings(), m.its.collections(), d.pending())
    start = d.cwriter
    d.cmd(name, **fields)
    err = d.rec.of("its_cmd_error")
    assert [(e["cmd"], e["rule"]) for e in err] == [(name, rule)]
    assert err[0]["offset"] == start
    for k, v in fields.items():
        key = {"DeviceID": "devid", "EventID": "eventid", "ICID": "icid"}.get(k)
        if key:
            assert err[0][key] == v
    assert (m.its.mappings(), m.its.collections(), d.pending()) == before
    _expect_outcome(d, mode, memory, start)


@pytest.mark.parametrize("mode", MODES)
def test_unknown_and_gicv4_opcodes(mode):
    _m, d = setup(mode)
    start = d.cwriter
    d.put(bytes([0x77]) + bytes(31))
    assert d.errors() == [("UNKNOWN", "unknown opcode 0x77")]
    stalled = _expect_outcome(d, mode, False, start)
    if stalled:
        return
    d.put(bytes([0x2A]) + bytes(31))
    assert d.errors()[-1] == ("VMAPTI", "VMAPTI (opcode 0x2a) is not a command of this ITS")


@pytest.mark.parametrize("mode", MODES)
def test_mapd_level1_invalid(mode):
    m = fake_machine(cpus=2, its_command_errors=mode)
    d = ItsDriver(m, dt_indirect=True)
    d.cmd("MAPD", DeviceID=5, Size=1, ITT_addr=ITT, V=1)
    assert d.errors() == [("MAPD", "level-1 device table entry not valid")]
    _expect_outcome(d, mode, False, 0)


@pytest.mark.parametrize("mode", MODES)
def test_table_not_valid(mode):
    m = fake_machine(cpus=2, its_command_errors=mode)
    d = ItsDriver(m, enable=False)
    d.write64("GITS_BASER0", 0)
    d.enable()
    d.cmd("MAPD", DeviceID=5, Size=1, ITT_addr=ITT, V=1)
    assert d.errors() == [("MAPD", "device table not valid (GITS_BASER0)")]
    _expect_outcome(d, mode, False, 0)


@pytest.mark.parametrize("mode", MODES)
def test_collection_table_memory_fault(mode):
    m = fake_machine(cpus=2, its_command_errors=mode)
    d = ItsDriver(m, enable=False)
    d.write64("GITS_BASER1", GITS_BASER.encode(Valid=1) | encode_baser_address(OUTSIDE, 0x1000))
    d.enable()
    d.cmd("MAPC", ICID=0, RDbase=0, V=1)
    assert d.errors() == [("MAPC", "collection table entry is not in RAM")]
    _expect_outcome(d, mode, True, 0)


@pytest.mark.parametrize("mode", MODES)
def test_command_queue_outside_ram(mode):
    m = fake_machine(cpus=2, its_command_errors=mode)
    d = ItsDriver(m, enable=False)
    d.write64("GITS_CBASER", GITS_CBASER.encode(Valid=1, Physical_Address=OUTSIDE >> 12))
    d.enable()
    d.write64("GITS_CWRITER", 64)
    assert d.errors() == [("?", "command queue entry is not in RAM")] * (
        1 if mode != "ignore" else 2)
    if mode == "ignore":
        assert d.creadr == 64
    else:
        assert d.creadr == 1


@pytest.mark.parametrize("mode", MODES)
def test_cwriter_beyond_queue(mode):
    m = fake_machine(cpus=2, its_command_errors=mode)
    d = ItsDriver(m)
    d.write64("GITS_CWRITER", 0x1000)
    e = d.rec.of("its_cmdq_error")
    assert [x["rule"] for x in e] == ["GITS_CWRITER.Offset is beyond the command queue"]
    assert d.creadr == (1 if mode == "stall" else 0)


def test_stall_retry_resumes():
    m, d = setup("stall")
    d.cmd("INT", DeviceID=1, EventID=7)  # not mapped: stalls at offset 0x240
    off = d.cwriter - 32
    assert d.creadr == off | 1
    d.cmd("INT", DeviceID=1, EventID=1)  # queued behind the stall: not run
    assert d.pending() == {}
    # Retry without a fix stalls again at the same command.
    d.write64("GITS_CWRITER", d.cwriter | 1)
    assert d.creadr == off | 1
    assert d.rec.kinds().count("its_cmdq_retry") == 1
    # software repairs the command in place and retries: both commands run
    m.memory.write(CMDQ + off, encode_command("INT", DeviceID=1, EventID=0))
    d.write64("GITS_CWRITER", d.cwriter | 1)
    assert d.creadr == d.cwriter
    assert d.pending() == {0: {0x2000, 0x2001}}
    assert d.read64("GITS_CWRITER") & 1 == 0


def test_stall_cleared_by_cbaser_reprogram():
    _m, d = setup("stall")
    d.cmd("SYNC", RDbase=9)
    assert d.its.stalled
    d.enable(False)
    d.write64("GITS_CBASER", d.read64("GITS_CBASER"))
    assert d.creadr == 0 and not d.its.stalled


def test_commands_wait_while_disabled():
    m = fake_machine(cpus=2)
    d = ItsDriver(m, enable=False)
    d.cmd("MAPC", ICID=0, RDbase=1, V=1)
    assert d.creadr == 0 and d.rec.of("its_cmd_mapc") == []
    d.enable()
    assert d.creadr == 32 and len(d.rec.of("its_cmd_mapc")) == 1


# -- documented differences from QEMU (docs/its.md) --------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_mapd_unmap_checks_size(mode):
    """MAPD checks Size before V (IHI 0069 pseudocode, as QEMU; KVM only when V=1): a V=0
    with Size > ID_bits is rejected like a V=1 and the device stays mapped."""
    m, d = setup(mode)
    dte = m.memory.read_u64(DT + 8)
    d.cmd("MAPD", DeviceID=1, Size=31, ITT_addr=0, V=0)
    assert d.errors() == [("MAPD", "Size exceeds GITS_TYPER.ID_bits")]
    assert m.its.stalled == (mode == "stall")
    assert m.its.lookup(1, 0) == (0x2000, 0) and m.memory.read_u64(DT + 8) == dte
    d.cmd("MAPD", DeviceID=1, Size=m.config.its_event_bits - 1, ITT_addr=0, V=0)
    assert m.its.lookup(1, 0) is None or mode == "stall"


def test_mapc_rdbase_high_bits_are_not_ignored():
    """With PTA=0 the whole RDbase field is the processor number (QEMU keeps 16 bits)."""
    m, d = setup()
    d.cmd("MAPC", ICID=2, RDbase=0x1_0001, V=1)
    assert d.errors() == [("MAPC", "RDbase does not name a redistributor")]
    assert 2 not in m.its.collections()


def test_invall_targets_only_the_collections_redistributor():
    """INVALL goes to the collection's redistributor: all its copies, then each LPI of the
    collection (whose INV reaches the copies other redistributors keep)."""
    m, d = setup()
    d.cmd("INVALL", ICID=0)
    assert [rd.log for rd in m.gic.redists] == [
        [("invall",)] + [("inv", 0x2000 + e) for e in range(4)], [], [], []]
    assert d.rec[0].cpu == 0


def test_mapc_retarget_invalidates_the_collections_lpis():
    """A MAPC that moves a collection to another redistributor invalidates its LPIs there
    (as INV of each); re-mapping it to the same redistributor does nothing."""
    m, d = setup()
    d.cmd("MAPC", ICID=0, RDbase=0, V=1)
    assert [rd.log for rd in m.gic.redists] == [[], [], [], []]
    d.cmd("MAPC", ICID=0, RDbase=2, V=1)
    assert [rd.log for rd in m.gic.redists] == [
        [], [], [("inv", 0x2000 + e) for e in range(4)], []]
    d.cmd("MAPC", ICID=0, V=0)
    d.cmd("MAPC", ICID=0, RDbase=2, V=1)  # mapped again: its LPIs arrive again
    assert len(m.gic.redists[2].log) == 8 and d.errors() == []


def test_creadr_is_read_only():
    _m, d = setup()
    before = d.creadr
    d.write64("GITS_CREADR", 0x40)
    d.write32("GITS_CREADR", 0x40)
    assert d.creadr == before and d.creadr != 0x40


def test_enable_while_enabled_is_no_op():
    m, d = setup()
    d.enable()
    assert d.rec.kinds() == [] and m.its.lookup(1, 0) == (0x2000, 0)


@pytest.mark.parametrize("mode", MODES)
def test_stalled_queue_needs_retry(mode):
    """After a stall a CWRITER write without Retry runs nothing (QEMU would retry)."""
    m = fake_machine(cpus=4, its_command_errors=mode)
    d = ItsDriver(m)
    d.cmd("MAPC", ICID=0, RDbase=0, V=1)
    d.cmd("MAPD", DeviceID=2, Size=3, ITT_addr=OUTSIDE, V=1)
    start = d.cwriter
    d.cmd("MAPTI", DeviceID=2, EventID=0, pINTID=0x2000, ICID=0)  # memory fault
    if mode == "ignore":
        assert d.creadr == start + 32
        return
    assert d.creadr == start | 1
    d.cmd("SYNC", RDbase=0)
    assert d.creadr == start | 1 and not d.rec.of("its_cmd_sync")
    d.write64("GITS_CWRITER", d.cwriter | 1)  # Retry: the MAPTI fails again
    assert d.creadr == start | 1 and len(d.rec.of("its_cmdq_retry")) == 1


def test_enable_written_again_does_not_restart_a_stalled_queue():
    """GITS_CTLR.Enabled=1 while enabled changes nothing, a stall included (QEMU re-runs the
    queue from GITS_CREADR: /tmp/review_its/q4.py); only Retry=1 restarts it."""
    m = fake_machine(cpus=4)
    d = ItsDriver(m)
    d.cmd("MAPC", ICID=0, RDbase=0, V=1)
    d.cmd("MAPD", DeviceID=1, Size=3, ITT_addr=ITT + 0x10000, V=1)
    d.cmd("MAPTI", DeviceID=1, EventID=0, pINTID=0x2000, ICID=0)
    d.cmd("MAPD", DeviceID=2, Size=3, ITT_addr=OUTSIDE, V=1)
    start = d.cwriter
    d.cmd("MAPTI", DeviceID=2, EventID=0, pINTID=0x2001, ICID=0)  # memory fault: stall
    assert d.creadr == start | 1
    m.memory.write(CMDQ + start, encode_command("INT", DeviceID=1, EventID=0))  # fixed
    d.rec.clear()
    d.enable()
    assert d.creadr == start | 1 and d.rec.kinds() == [] and d.pending() == {}
    d.write64("GITS_CWRITER", d.cwriter | 1)  # Retry
    assert d.creadr == start + 32 and d.pending() == {0: {0x2000}}


# -- table entries outside RAM: QEMU stalls on the read --------------------------------------
@pytest.mark.parametrize("name", ["INT", "CLEAR", "DISCARD", "INV", "MOVI"])
@pytest.mark.parametrize("mode", MODES)
def test_ite_read_outside_ram_is_a_memory_fault(mode, name):
    """Device 2's ITT is outside RAM: reading its ITE stalls in "qemu" mode, as QEMU."""
    _m, d = setup(mode)
    start = d.cwriter
    d.cmd(name, DeviceID=2, EventID=0, **({"ICID": 0} if name == "MOVI" else {}))
    assert d.errors() == [(name, "ITT entry is not in RAM")]
    _expect_outcome(d, mode, True, start)


def test_eventid_range_checked_before_the_ite_read():
    _m, d = setup()
    start = d.cwriter
    d.cmd("INT", DeviceID=2, EventID=16)
    assert d.errors() == [("INT", "EventID exceeds the device ITT size")]
    assert d.creadr == start + 32


@pytest.mark.parametrize("mode", MODES)
def test_dte_read_outside_ram_is_a_memory_fault(mode):
    m = fake_machine(cpus=4, its_command_errors=mode)
    d = ItsDriver(m, enable=False)
    d.write64("GITS_BASER0", GITS_BASER.encode(Valid=1, Page_Size=0, Size=0)
              | encode_baser_address(OUTSIDE, 0x1000))
    d.enable()
    d.cmd("MAPC", ICID=0, RDbase=0, V=1)
    start = d.cwriter
    # MAPTI reads the DTE before checking the ICID (QEMU's order)
    d.cmd("MAPTI", DeviceID=1, EventID=0, pINTID=0x2000, ICID=0x7FFF)
    assert d.errors() == [("MAPTI", "device table entry is not in RAM")]
    _expect_outcome(d, mode, True, start)


def test_level1_entry_outside_ram_on_int():
    m = fake_machine(cpus=4)
    d = ItsDriver(m, enable=False)
    d.write64("GITS_BASER0", GITS_BASER.encode(Valid=1, Indirect=1, Page_Size=0, Size=0)
              | encode_baser_address(OUTSIDE, 0x1000))
    d.enable()
    d.cmd("INT", DeviceID=1, EventID=0)
    assert d.errors() == [("INT", "level-1 device table entry is not in RAM")]
    assert d.its.stalled


def test_cte_read_outside_ram_is_an_unmapped_collection():
    """QEMU 7.2 treats a CTE it cannot read as not valid (no stall); so does irqlab."""
    m = fake_machine(cpus=4)
    d = ItsDriver(m, enable=False)
    d.write64("GITS_BASER1", GITS_BASER.encode(Valid=1, Page_Size=0, Size=0)
              | encode_baser_address(OUTSIDE, 0x1000))
    d.enable()
    d.cmd("MAPD", DeviceID=1, Size=3, ITT_addr=ITT, V=1)
    d.cmd("MAPTI", DeviceID=1, EventID=0, pINTID=0x2000, ICID=0)
    start = d.cwriter
    d.cmd("INT", DeviceID=1, EventID=0)
    assert d.errors() == [("INT", "collection not mapped (CTE not valid)")]
    assert d.creadr == start + 32


def test_cpu_store_needing_an_entry_outside_ram_aborts():
    """As QEMU: the CPU's store to GITS_TRANSLATER gets a bus error (ExternalAbort); a
    device's write is dropped with the fault event."""
    from irqlab.errors import ExternalAbort

    m, d = setup()
    d.cmd("MAPD", DeviceID=0, Size=3, ITT_addr=OUTSIDE, V=1)
    with pytest.raises(ExternalAbort, match="ITT entry is not in RAM"):
        m.bus.write(m.its.translater, 0, 4, 0)
    f = d.rec.of("its_translation_fault")
    assert [(e["devid"], e["rule"]) for e in f] == [(0, "ITT entry is not in RAM")]
    d.msi(2, 1)  # a device: dropped, no exception
    assert d.rec.of("its_translation_fault")[-1]["rule"] == "ITT entry is not in RAM"
    m.bus.write(m.its.translater, 99, 4, 0)  # EventID beyond the ITT: no table read
    assert d.rec.of("its_translation_fault")[-1]["rule"] == "EventID exceeds the device ITT size"
    assert d.pending() == {}
