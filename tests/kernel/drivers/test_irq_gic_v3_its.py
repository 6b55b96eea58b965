"""The ITS driver: probe and tables, commands, collections, LPI tables, events, kexec reuse."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab import sim
from irqlab.arch import gicv3 as g
from irqlab.arch import its as A
from irqlab.errors import InvalidArgumentValue
from irqlab.hw.config import PciFunctionConfig
from irqlab.kernel.drivers.irq_gic_v3_its import get_count_order
from irqlab.kernel.drivers.its_lpi import (
    RD_LOCAL_LPI_ENABLED,
    RD_LOCAL_PENDTABLE_PREALLOCATED,
    RDIST_FLAGS_RD_TABLES_PREALLOCATED,
    LpiRanges,
)
from irqlab.kernel.irq.desc import IRQD_ACTIVATED
from irqlab.kernel.irq.manage import free_irq, irq_set_affinity, request_irq
from irqlab.kernel.mm import MemReserve
from irqlab.kernel.pci import (
    PCI_IRQ_MSI,
    PCI_IRQ_MSIX,
    pci_alloc_irq_vectors,
    pci_bus,
    pci_free_irq_vectors,
    pci_irq_vector,
)

from .._msi_util import kinds, machine, ok, run


def _baser(m, n):
    return m.cpus[0].read(m.config.its_base + 0x100 + 8 * n, 8)


def test_probe_tables_and_queue() -> None:
    m = machine()
    res, k = run(m)
    ok(res)
    its = k.its
    dt, ct = _baser(m, 0), _baser(m, 1)
    assert A.GITS_BASER.Valid.get(dt) and A.GITS_BASER.Valid.get(ct)
    # 2^16 DeviceIDs x 8 bytes > one 64 KiB page: two-level; collections: one flat page
    assert A.GITS_BASER.Indirect.get(dt) == 1 and A.GITS_BASER.Indirect.get(ct) == 0
    assert A.GITS_BASER.Page_Size.get(dt) == 2 and A.GITS_BASER.Size.get(ct) == 0
    assert its.tables[A.GITS_BASER_TYPE_DEVICE][3] is True
    cb = m.cpus[0].read(m.config.its_base + 0x80, 8)
    assert A.GITS_CBASER.Valid.get(cb) and A.GITS_CBASER.Size.get(cb) == 15
    assert m.its.enabled and not m.its.stalled
    assert m.its.collections() == {0: 0, 1: 1, 2: 2, 3: 3}


def test_flat_device_table_when_one_page_is_enough() -> None:
    m = machine(PciFunctionConfig(bdf=0x10, msi_vectors=0, msix_vectors=4),
                its_device_bits=8)
    events: list = []

    async def body(k):
        dev = pci_bus(k).get(0x10)
        assert await pci_alloc_irq_vectors(dev, 4, 4, PCI_IRQ_MSIX) == 4

    res, _k = run(m, body, events=events)
    ok(res)
    assert A.GITS_BASER.Indirect.get(_baser(m, 0)) == 0
    assert [(d, e) for d, e, _i, _c in m.its.mappings()] == [(0x10, i) for i in range(4)]
    assert "itsdrv_device_create" in kinds(events, "itsdrv_")


def test_two_level_device_table_allocates_level2_on_demand() -> None:
    m = machine(PciFunctionConfig(bdf=0x10, msi_vectors=0, msix_vectors=2))

    async def body(k):
        dev = pci_bus(k).get(0x10)
        assert await pci_alloc_irq_vectors(dev, 2, 2, PCI_IRQ_MSIX) == 2

    res, k = run(m, body)
    ok(res)
    pa = k.its.tables[A.GITS_BASER_TYPE_DEVICE][0]
    l1 = int.from_bytes(m.ram_read(pa, 8), "little")
    assert l1 >> 63 == 1 and l1 & ((1 << 52) - 1) != 0


def test_maxcpus_collections_and_lpi_tables() -> None:
    m = machine()
    res, k = run(m, maxcpus=2)
    ok(res)
    assert m.its.collections() == {0: 0, 1: 1}
    for cpu in (0, 1):
        rd = m.config.redistributor_base(cpu)
        assert m.cpus[0].read(rd + g.GICR_CTLR_OFF) & 1
        pend = m.cpus[0].read(rd + g.GICR_PENDBASER_OFF, 8) & ~0xFFFF & ((1 << 52) - 1)
        assert pend == k.its.rdists[cpu].pend_page
        prop = m.cpus[0].read(rd + g.GICR_PROPBASER_OFF, 8)
        assert prop & ~0xFFF & ((1 << 52) - 1) == k.its.prop_table_pa
        assert prop & 0x1F == 15
        assert k.its.rdists[cpu].flags & RD_LOCAL_LPI_ENABLED
    # CPUs 2-3 never booted: their redistributors untouched, their pages still spare
    rd2 = m.config.redistributor_base(2)
    assert m.cpus[0].read(rd2 + g.GICR_CTLR_OFF) & 1 == 0
    assert k.its.rdists[2].pend_page != 0
    # the property table is reserved for the next kernel, and filled with prio 0xa0 | group1
    assert (k.its.prop_table_pa, 0x10000) in k.memreserve.entries()
    assert m.ram_read(k.its.prop_table_pa + 5, 1) == b"\xa2"


def test_kexec_adopts_preprogrammed_tables() -> None:
    m = machine(lpis_sticky=True)
    res, k0 = run(m, maxcpus=2)
    ok(res)
    events: list = []
    res, k1 = run(m, kernel=k0, events=events)
    ok(res)
    its = k1.its
    assert its.rdist_flags & RDIST_FLAGS_RD_TABLES_PREALLOCATED
    assert its.prop_table_pa == k0.its.prop_table_pa
    for cpu in (0, 1):
        assert its.rdists[cpu].flags & RD_LOCAL_PENDTABLE_PREALLOCATED
        assert its.rdists[cpu].pend_page == 0          # the spare was freed (merged design)
    for cpu in (2, 3):
        assert not its.rdists[cpu].flags & RD_LOCAL_PENDTABLE_PREALLOCATED
    states = [(e["target"], e["state"]) for e in events if e.kind == "itsdrv_pending_table"]
    assert states == [(0, "reserved"), (1, "reserved")]          # maxcpus=2 again
    assert "itsdrv_force_quiescent" in kinds(events, "itsdrv_")
    # the old tables stay reserved: never handed out by the new page allocator
    for cpu in (0, 1):
        assert k1.mm.reserved(k0.its.rdists[cpu].pend_page, 0x10000)


def test_lpis_left_on_without_reservation_are_disabled_or_refused() -> None:
    m = machine()                                   # EnableLPIs can be cleared
    res, k0 = run(m, maxcpus=1)
    ok(res)
    events: list = []
    k0.memreserve = MemReserve()                    # as if the reservations were lost
    res, _ = run(m, kernel=k0, events=events, maxcpus=1)
    ok(res)
    assert "itsdrv_booted_with_lpis" in kinds(events, "itsdrv_")
    assert "itsdrv_disable_lpis_failed" not in kinds(events, "itsdrv_")
    m2 = machine(lpis_sticky=True)
    res, k0 = run(m2, maxcpus=1)
    k0.memreserve = MemReserve()
    events = []
    res, k1 = run(m2, kernel=k0, events=events, maxcpus=1)
    ok(res)
    assert "itsdrv_disable_lpis_failed" in kinds(events, "itsdrv_")
    assert not k1.its.rdists[0].flags & RD_LOCAL_LPI_ENABLED


def test_activate_affinity_mask_and_movi() -> None:
    m = machine(PciFunctionConfig(bdf=0x20, msi_vectors=4))
    seen = {}

    async def h(irq, dev):
        return 1

    async def body(k):
        dev = pci_bus(k).get(0x20)
        assert await pci_alloc_irq_vectors(dev, 4, 4, PCI_IRQ_MSI) == 4
        base = dev.msi.descs[0].irq
        its = k.its
        # activation spreads over the least-loaded CPUs
        seen["cpus"] = [m.its.lookup(0x20, e)[1] for e in range(4)]
        assert await request_irq(base, h, 0, "t", dev) == 0
        lpi = m.its.lookup(0x20, 0)[0]
        seen["enabled"] = m.ram_read(its.prop_table_pa + lpi - 8192, 1)[0] & 1
        assert await irq_set_affinity(base, [3]) == 0
        seen["moved"] = m.its.lookup(0x20, 0)[1]
        seen["eff"] = k.irq.descs[base].irq_data.effective_affinity

    events: list = []
    res, _k = run(m, body, events=events)
    ok(res)
    assert seen["cpus"] == [0, 1, 2, 3]
    assert seen["enabled"] == 1
    assert seen["moved"] == 3 and seen["eff"] == (3,)
    assert "its_cmd_movi" in [e.kind for e in events]


def test_command_timeout_on_stalled_queue() -> None:
    m = machine(its_command_errors="stall")
    out = {}

    async def body(k):
        await k.its.send_command("INT", sync=0, DeviceID=0x77, EventID=1)
        out["stalled"] = m.its.stalled

    events: list = []
    res, _ = run(m, body, events=events)
    ok(res)
    assert out["stalled"] is True
    assert kinds(events, "itsdrv_cmd_timeout") == ["itsdrv_cmd_timeout"]


def test_bad_option_is_an_error_in_boot() -> None:
    res, _ = run(machine(), options={"its_memreserve": "v2"})
    assert res.outcome == "error"
    assert isinstance(res.error, InvalidArgumentValue)
    assert "options['its_memreserve'] must be one of merged, v1, one-flag" in str(res.error)


def test_get_count_order() -> None:
    assert [get_count_order(n) for n in (1, 2, 3, 27, 32, 33)] == [0, 1, 2, 5, 5, 6]


def test_lpi_ranges_first_fit_merge_and_halving() -> None:
    r = LpiRanges(8192, 64)
    assert r.alloc_lpi_range(32) == 8192
    assert r.alloc_lpi_range(16) == 8224
    assert r.alloc_lpi_range(32) == -28
    assert r.its_lpi_alloc(32) == (8240, 16)       # halved until it fits
    assert r.its_lpi_alloc(1) == (0, 0)
    r.free_lpi_range(8224, 16)
    r.free_lpi_range(8192, 32)
    assert r.state() == [(8192, 48)]
    r.free_lpi_range(8240, 16)
    assert r.state() == r.initial


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=25),
       st.randoms(use_true_random=False))
def test_lpi_ranges_fuzz(sizes, rnd) -> None:
    r = LpiRanges(8192, 256)
    held = []
    for n in sizes:
        base, got = r.its_lpi_alloc(n)
        if got:
            assert got <= n and base >= 8192 and base + got <= 8192 + 256
            for b, s in held:
                assert base + got <= b or b + s <= base    # no overlap
            held.append((base, got))
        if held and rnd.random() < 0.4:
            b, s = held.pop(rnd.randrange(len(held)))
            r.free_lpi_range(b, s)
        total = sum(s for _, s in r.state()) + sum(s for _, s in held)
        assert total == 256
        st_ = r.state()
        assert st_ == sorted(st_)
        assert all(a + s < b for (a, s), (b, _) in itertools.pairwise(st_))   # merged
    for b, s in held:
        r.free_lpi_range(b, s)
    assert r.state() == r.initial


@pytest.mark.parametrize("variant,bits",
                         [("per-vector", 0xFFFF_FFFF), ("lifecycle", (1 << 27) - 1)])
def test_multi_msi_event_block(variant, bits) -> None:
    m = machine(PciFunctionConfig(bdf=0x8, msi_vectors=32))
    out = {}

    async def body(k):
        dev = pci_bus(k).get(0x8)
        assert await pci_alloc_irq_vectors(dev, 27, 27, PCI_IRQ_MSI) == 27
        its_dev = k.its.devices[0x8]
        out["map"] = its_dev.lpi_map
        out["nr"] = its_dev.nr_lpis

    res, _k = run(m, body, options={"msi_free": variant})
    ok(res)
    assert out == {"map": bits, "nr": 32}
    assert len(m.its.mappings()) == 27


def test_cpu_down_migrates_lpis_and_late_cpu_takes_them() -> None:
    m = machine(PciFunctionConfig(bdf=0x10, msi_vectors=0, msix_vectors=2))
    seen = {"cpus": []}

    async def h(irq, dev):
        seen["cpus"].append(sim.smp_processor_id())
        return 1

    async def wait(n):
        for _ in range(5000):
            if len(seen["cpus"]) >= n:
                return
            await sim.point("wait")
        raise AssertionError(seen)

    async def body(k):
        dev = pci_bus(k).get(0x10)
        assert await pci_alloc_irq_vectors(dev, 2, 2, PCI_IRQ_MSIX) == 2
        irq = pci_irq_vector(dev, 0)
        assert await request_irq(irq, h, 0, "q0", dev) == 0
        assert await irq_set_affinity(irq, [1]) == 0
        assert m.its.lookup(0x10, 0)[1] == 1
        # CPU1 goes down: its LPIs move (MOVI) to an online CPU
        assert await k.cpuhp.cpu_down(1) == 0
        seen["after_down"] = m.its.lookup(0x10, 0)[1]
        m.pci[0x10].fire(0)
        await wait(1)
        # CPU3 never booted (maxcpus=2): bring it up, route the vector to it
        assert await k.cpuhp.cpu_up(3) == 0
        seen["collections"] = m.its.collections()
        assert await irq_set_affinity(irq, [3]) == 0
        m.pci[0x10].fire(0)
        await wait(2)

    res, _ = run(m, body, maxcpus=2)
    ok(res)
    assert seen["after_down"] == 0
    assert seen["collections"] == {0: 0, 1: 1, 3: 3}
    assert seen["cpus"] == [0, 3]


def _its_consistent(k, m) -> None:
    """Driver view == hardware view: every activated event is mapped where the driver says."""
    want = set()
    for devid, dev in k.its.devices.items():
        for virq, desc in k.irq.descs.items():
            d = desc.irq_data.parent_data
            if d is None or d.chip_data is not dev or not desc.state & IRQD_ACTIVATED:
                continue
            event = d.hwirq - dev.lpi_base
            want.add((devid, event, d.hwirq, dev.col_map[event]))
            assert desc.irq_data.effective_affinity == (dev.col_map[event],), virq
    got = {(dv, ev, intid, icid) for dv, ev, intid, icid in m.its.mappings()}
    assert got == want
    counts = [0] * len(k.its.lpi_count)
    for *_x, cpu in want:
        counts[cpu] += 1
    assert counts == k.its.lpi_count


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["alloc", "request", "affinity", "free_irq", "free",
                                           "down", "up"]),
                          st.integers(min_value=0, max_value=7),
                          st.integers(min_value=1, max_value=3)), max_size=12))
def test_fuzz_driver_and_hardware_agree(ops) -> None:
    m = machine(PciFunctionConfig(bdf=0x10, msi_vectors=8, msix_vectors=8))

    async def h(irq, dev):
        return 1

    async def body(k):
        dev = pci_bus(k).get(0x10)
        requested = set()
        for op, i, c in ops:
            irq = pci_irq_vector(dev, i)
            if op == "alloc":
                await pci_alloc_irq_vectors(dev, 1, 8, PCI_IRQ_MSIX if c & 1 else PCI_IRQ_MSI)
            elif op == "request" and irq > 0 and irq not in requested:
                assert await request_irq(irq, h, 0, "f", dev) == 0
                requested.add(irq)
            elif op == "affinity" and irq > 0:
                await irq_set_affinity(irq, [c])
            elif op == "free_irq" and irq in requested:
                await free_irq(irq, dev)
                requested.discard(irq)
            elif op == "free":
                for r in sorted(requested):
                    await free_irq(r, dev)
                requested.clear()
                await pci_free_irq_vectors(dev)
            elif op == "down":
                await k.cpuhp.cpu_down(c)
            elif op == "up":
                await k.cpuhp.cpu_up(c)
            _its_consistent(k, m)
            for r in requested:     # requested IRQs route to an online CPU
                assert k.engine.cpu_online(k.irq.descs[r].irq_data.effective_affinity[0])

    ok(run(m, body)[0])
