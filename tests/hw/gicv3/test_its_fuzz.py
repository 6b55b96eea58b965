"""Hypothesis fuzzing of the ITS: command-queue contents, table contents, MSIs, MMIO.

Invariants after every step: no Python exception at all (aligned MMIO never aborts: a bad size
is RAZ/WI), GITS_CREADR inside the queue, and every translated MSI lands exactly
where a reference model kept by this test says.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab.arch.its import (
    CTE,
    DTE,
    GITS_BASER,
    ITE,
    encode_baser_address,
    encode_command,
)
from irqlab.errors import ExternalAbort

from .its_helpers import CMDQ, CT, DT, ITT, ItsDriver, fake_machine

CPUS = 4
NDEV = 4
NEV = 8


# -- random raw commands ----------------------------------------------------------------------
def raw_commands():
    """32-byte commands: structured (valid opcodes, small IDs in the right fields) or noise."""
    opcode = st.one_of(st.sampled_from([1, 3, 4, 5, 8, 9, 0xA, 0xB, 0xC, 0xD, 0xE, 0xF]),
                       st.integers(0, 255))
    small = st.integers(0, 9)
    word = st.integers(0, (1 << 64) - 1)
    structured = st.builds(
        lambda op, dev, ev, intid, icid, rd, v, rd2, size: (
            (op | dev << 32).to_bytes(8, "little")
            + (ev | size | intid << 32).to_bytes(8, "little")
            + (icid | rd << 16 | v << 63 | 0x4030_0000).to_bytes(8, "little")
            + (rd2 << 16).to_bytes(8, "little")),
        opcode, small, small, st.one_of(st.integers(8190, 8200), word.map(lambda x: x >> 32)),
        small, small, st.integers(0, 1), small, st.integers(0, 17))
    noise = st.builds(lambda op, a, b, c, d: bytes([op]) + a.to_bytes(8, "little")[1:]
                      + b.to_bytes(8, "little") + c.to_bytes(8, "little")
                      + d.to_bytes(8, "little"), opcode, word, word, word, word)
    return st.one_of(structured, structured, noise)


@pytest.mark.parametrize("mode", ["qemu", "stall", "ignore"])
@settings(max_examples=60, deadline=None)
@given(cmds=st.lists(raw_commands(), max_size=40), indirect=st.booleans())
def test_fuzz_raw_command_queue(mode, cmds, indirect):
    m = fake_machine(cpus=CPUS, its_command_errors=mode)
    d = ItsDriver(m, dt_indirect=indirect)
    if indirect:
        d.map_l2(0)
    for raw in cmds:
        d.put(raw)
        cr = d.creadr
        assert cr & ~0xFE1 == 0  # Offset within the 4 KiB queue, Stalled bit, nothing else
        if not cr & 1:
            assert cr == d.cwriter
        elif mode == "ignore":
            pytest.fail("ignore mode never stalls")
    # every cached translation is consistent with the tables in memory
    for devid, eventid, intid, icid in m.its.mappings():
        ite = m.memory.read_u64(m.its._devices[devid].itt_addr + 8 * eventid)
        assert (ITE.pINTID.get(ite), ITE.ICID.get(ite)) == (intid, icid)
        d.msi(devid, eventid)


# -- valid-ish sequences against a reference model ----------------------------------------------
class Ref:
    """The architected outcome, kept independently of the model (qemu/ignore modes)."""

    def __init__(self):
        self.dev = {}        # devid -> size
        self.itt = {}        # devid -> {eventid: [pintid, icid]} (the ITT memory)
        self.cache = {}      # devid -> {eventid: [pintid, icid]}
        self.coll = {}       # icid -> cpu | None
        self.pend = {c: set() for c in range(CPUS)}

    def _ite(self, devid, eventid):
        if devid not in self.dev or eventid >= 1 << (self.dev[devid] + 1):
            return None
        return self.cache[devid].get(eventid)

    def apply(self, name, f):
        v = getattr(self, "c_" + name)
        v(**f)

    def c_MAPD(self, DeviceID, Size, V):
        if DeviceID >= 512 or Size >= 16:  # Size is checked whatever V (IHI 0069)
            return
        if not V:
            self.dev.pop(DeviceID, None)
            self.cache.pop(DeviceID, None)
        else:
            self.dev[DeviceID] = Size
            mem = self.itt.setdefault(DeviceID, {})
            self.cache[DeviceID] = {e: list(x) for e, x in mem.items() if e < 1 << (Size + 1)}

    def c_MAPC(self, ICID, RDbase, V):
        if ICID >= 512 or (V and RDbase >= CPUS):
            return
        self.coll[ICID] = RDbase if V else None

    def c_MAPTI(self, DeviceID, EventID, pINTID, ICID):
        if DeviceID not in self.dev or EventID >= 1 << (self.dev[DeviceID] + 1):
            return
        if ICID >= 512 or not 8192 <= pINTID < 1 << 16:
            return
        self.itt[DeviceID][EventID] = [pINTID, ICID]
        self.cache[DeviceID][EventID] = [pINTID, ICID]

    def c_MOVI(self, DeviceID, EventID, ICID):
        ite = self._ite(DeviceID, EventID)
        if ite is None or ICID >= 512 or self.coll.get(ICID) is None:
            return
        old = self.coll.get(ite[1])
        if old is None:
            return
        new = self.coll[ICID]
        if ite[0] in self.pend[old] and old != new:
            self.pend[old].discard(ite[0])
            self.pend[new].add(ite[0])
        ite[1] = ICID
        self.itt[DeviceID][EventID] = list(ite)

    def c_MOVALL(self, RDbase1, RDbase2):
        if RDbase1 < CPUS and RDbase2 < CPUS and RDbase1 != RDbase2:
            self.pend[RDbase2] |= self.pend[RDbase1]
            self.pend[RDbase1] = set()

    def _with_ite(self, DeviceID, EventID):
        ite = self._ite(DeviceID, EventID)
        if ite is None or self.coll.get(ite[1]) is None:
            return None
        return ite

    def c_DISCARD(self, DeviceID, EventID):
        ite = self._with_ite(DeviceID, EventID)
        if ite is not None:
            self.pend[self.coll[ite[1]]].discard(ite[0])
            del self.cache[DeviceID][EventID]
            del self.itt[DeviceID][EventID]

    def c_INT(self, DeviceID, EventID):
        ite = self._with_ite(DeviceID, EventID)
        if ite is not None:
            self.pend[self.coll[ite[1]]].add(ite[0])

    def c_CLEAR(self, DeviceID, EventID):
        ite = self._with_ite(DeviceID, EventID)
        if ite is not None:
            self.pend[self.coll[ite[1]]].discard(ite[0])

    def msi(self, devid, eventid):
        self.c_INT(devid, eventid)


# small ID spaces so that steps meet each other (an INT then a MOVI of the same event)
dev = st.one_of(st.integers(0, 1), st.integers(0, NDEV - 1), st.just(600))
ev = st.one_of(st.integers(0, 3), st.integers(0, NEV - 1), st.just(40))
icid = st.one_of(st.integers(0, 3), st.just(600))
cpu = st.integers(0, CPUS)
intid = st.one_of(st.integers(8192, 8200), st.just(100), st.just(1 << 16))
step = st.one_of(
    st.tuples(st.just("MAPD"), st.fixed_dictionaries(
        {"DeviceID": dev, "Size": st.one_of(st.integers(0, 3), st.just(16)),
         "V": st.sampled_from([1, 1, 1, 0])})),
    st.tuples(st.just("MAPC"), st.fixed_dictionaries(
        {"ICID": icid, "RDbase": cpu, "V": st.sampled_from([1, 1, 0])})),
    st.tuples(st.just("MAPTI"), st.fixed_dictionaries(
        {"DeviceID": dev, "EventID": ev, "pINTID": intid, "ICID": icid})),
    st.tuples(st.just("MOVI"), st.fixed_dictionaries(
        {"DeviceID": dev, "EventID": ev, "ICID": icid})),
    st.tuples(st.just("MOVALL"), st.fixed_dictionaries({"RDbase1": cpu, "RDbase2": cpu})),
    *[st.tuples(st.just(n), st.fixed_dictionaries({"DeviceID": dev, "EventID": ev}))
      for n in ("DISCARD", "INT", "CLEAR", "MSI")],
)


@pytest.mark.parametrize("mode", ["qemu", "ignore"])
@settings(max_examples=120, deadline=None)
@given(steps=st.lists(step, min_size=5, max_size=60))
def test_fuzz_sequences_match_reference(mode, steps):
    m = fake_machine(cpus=CPUS, its_command_errors=mode)
    d = ItsDriver(m)
    ref = Ref()
    # a warm start: every collection mapped, every device with events in all collections
    warm = [("MAPC", {"ICID": c, "RDbase": c, "V": 1}) for c in range(CPUS)]
    for dv in range(NDEV):
        warm.append(("MAPD", {"DeviceID": dv, "Size": 2, "V": 1}))
        warm += [("MAPTI", {"DeviceID": dv, "EventID": e, "pINTID": 8192 + 8 * dv + e,
                            "ICID": (dv + e) % CPUS}) for e in range(NEV)]
    for name, f in warm + steps:
        if name == "MSI":
            if f["DeviceID"] < 512:
                d.msi(f["DeviceID"], f["EventID"])
                ref.msi(f["DeviceID"], f["EventID"])
        else:
            fields = dict(f)
            if name == "MAPD":
                fields["ITT_addr"] = ITT + (fields["DeviceID"] << 16)
            d.cmd(name, **fields)
            ref.apply(name, f)
        assert {c: rd.pending for c, rd in enumerate(m.gic.redists)} == ref.pend
        assert d.creadr == d.cwriter
    want = sorted((dv, e, x[0], x[1]) for dv, ites in ref.cache.items() for e, x in ites.items())
    assert m.its.mappings() == want
    # the image in memory restores to the same state
    m.its.save_tables()
    d.enable(False)
    d.enable()
    assert m.its.mappings() == want


# -- random table contents, then enable ------------------------------------------------------------
entry = st.one_of(st.integers(0, (1 << 64) - 1), st.just(0),
                  st.builds(lambda v, s, i: (1 << 63) | ((ITT >> 8) + i * 0x100) << 5 | s,
                            st.just(1), st.integers(0, 31), st.integers(0, 4)))


@settings(max_examples=80, deadline=None)
@given(dtes=st.lists(entry, max_size=16), ctes=st.lists(st.integers(0, (1 << 64) - 1),
                                                         max_size=8),
       ites=st.lists(st.integers(0, (1 << 64) - 1), max_size=64), indirect=st.booleans(),
       msis=st.lists(st.tuples(st.integers(0, 20), st.integers(0, 80)), max_size=20))
def test_fuzz_table_contents(dtes, ctes, ites, indirect, msis):
    m = fake_machine(cpus=CPUS)
    d = ItsDriver(m, dt_indirect=indirect, enable=False)
    base = DT
    if indirect:
        base = d.map_l2(0)
    for i, e in enumerate(dtes):
        m.memory.write_u64(base + 8 * i, e)
    for i, e in enumerate(ctes):
        m.memory.write_u64(CT + 8 * i, e)
    for i, e in enumerate(ites):
        m.memory.write_u64(ITT + 8 * i, e)
    d.enable()
    # every cached entry decodes from memory and is architecturally valid
    for devid, eventid, intid, icid in m.its.mappings():
        dte = m.memory.read_u64(base + 8 * devid)
        assert DTE.V.get(dte) and eventid < 1 << (DTE.Size.get(dte) + 1)
        ite = m.memory.read_u64((DTE.ITT_addr.get(dte) << 8) + 8 * eventid)
        assert (ITE.pINTID.get(ite), ITE.ICID.get(ite)) == (intid, icid)
        assert 8192 <= intid < 1 << 16
    for i, cpu_ in m.its.collections().items():
        cte = m.memory.read_u64(CT + 8 * i)
        if cpu_ is None:  # referenced by an ITE, not mapped
            assert not CTE.V.get(cte) or CTE.RDBase.get(cte) >= CPUS
        else:
            assert CTE.V.get(cte) and CTE.RDBase.get(cte) == cpu_ < CPUS
    for devid, eventid in msis:
        where = m.its.lookup(devid, eventid)
        before = {c: set(rd.pending) for c, rd in enumerate(m.gic.redists)}
        d.msi(devid, eventid)
        after = {c: set(rd.pending) for c, rd in enumerate(m.gic.redists)}
        if where is None:
            assert after == before
        else:
            intid, c = where
            before[c].add(intid)
            assert after == before


# -- random MMIO on both frames -------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 0x1_FFFF), st.sampled_from([1, 2, 4, 8]),
                          st.integers(0, (1 << 64) - 1), st.booleans(),
                          st.one_of(st.none(), st.integers(0, 20))), max_size=60))
def test_fuzz_mmio(ops):
    m = fake_machine(cpus=2)
    ItsDriver(m, enable=False)  # valid tables and queue, so enabling does something
    m.memory.write(CMDQ, encode_command("MAPC", ICID=0, RDbase=1, V=1) * 4)
    for off, size, value, write, devid in ops:
        off &= ~(size - 1)
        addr = m.its.base + off
        # aligned: never an abort (a bad size is RAZ/WI with an event), except a CPU
        # store to GITS_TRANSLATER whose translation needs a table entry outside RAM
        if write:
            try:
                m.bus.write(addr, value & ((1 << (8 * size)) - 1), size, 0, devid)
            except ExternalAbort as e:
                assert devid is None and off == 0x1_0040 and size in (2, 4), e
                assert "not in RAM" in str(e)
        else:
            m.bus.read(addr, size, 0)
        creadr = m.bus.read(m.its.base + 0x90, 8, 0)
        assert creadr & ~0xFFFE1 == 0
        baser = m.bus.read(m.its.base + 0x100, 8, 0)
        assert GITS_BASER.Type.get(baser) == 1 and GITS_BASER.Entry_Size.get(baser) == 7
    assert encode_baser_address(0, 0x1000) == 0
