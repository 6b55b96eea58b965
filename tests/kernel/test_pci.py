"""PCI devices and drivers: enumeration, vector allocation, MSI/MSI-X programming, bind/unbind."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab.errors import InvalidArgumentType, InvalidArgumentValue
from irqlab.hw.config import PciFunctionConfig as F
from irqlab.kernel.errno import EBUSY, EINVAL, ENOSPC
from irqlab.kernel.msi import MSI_ANY_INDEX
from irqlab.kernel.pci import (
    PCI_IRQ_MSI,
    PCI_IRQ_MSIX,
    PciDriver,
    pci_alloc_irq_vectors,
    pci_bus,
    pci_free_irq_vectors,
    pci_irq_vector,
    pci_msix_alloc_irq_at,
    pci_msix_can_alloc_dyn,
    pci_msix_free_irq,
)

from ._msi_util import machine, ok, run

MSIX = F(bdf=0x10, msi_vectors=1, msix_vectors=8)
MSI = F(bdf=0x18, msi_vectors=32)


def test_enumeration_and_capabilities() -> None:
    out = {}

    async def body(k):
        bus = pci_bus(k)
        out["bdfs"] = sorted(bus.devices)
        d = bus.get(0x10)
        out["caps"] = (d.msi_cap, d.msix_cap, d.msix_vec_count(), d.msi_vec_count())
        out["name"] = d.name
        out["parent"] = d.msi_parent is k.its.domain
        out["id"] = d.msi_device_id()

    ok(run(machine(MSIX, MSI), body)[0])
    assert out == {"bdfs": [0x10, 0x18], "caps": (0x40, 0x60, 8, 1), "name": "0000:00:02.0",
                   "parent": True, "id": 0x10}


def test_msix_vectors_programmed_through_bar() -> None:
    m = machine(MSIX)
    out = {}

    async def body(k):
        dev = pci_bus(k).get(0x10)
        out["n"] = await pci_alloc_irq_vectors(dev, 2, 16, PCI_IRQ_MSIX | PCI_IRQ_MSI)
        out["irqs"] = [pci_irq_vector(dev, i) for i in range(8)]
        out["bad"] = pci_irq_vector(dev, 8)
        out["again"] = await pci_alloc_irq_vectors(dev, 1, 1, PCI_IRQ_MSIX)

    ok(run(m, body)[0])
    fn = m.pci[0x10]
    assert out["n"] == 8
    assert out["irqs"] == list(range(out["irqs"][0], out["irqs"][0] + 8))
    assert out["bad"] == -EINVAL and out["again"] == -EINVAL
    assert fn.msix_enabled and fn.bus_master and not fn.msi_enabled
    for i in range(8):
        addr, data, masked = fn.msix_entry(i)
        assert (addr, data, masked) == (m.its.translater, i, True)    # masked until requested


def test_multi_msi_exactly_n_vectors() -> None:
    m = machine(MSI)
    out = {}

    async def body(k):
        dev = pci_bus(k).get(0x18)
        out["n"] = await pci_alloc_irq_vectors(dev, 1, 27, PCI_IRQ_MSI)
        out["descs"] = [(d.msi_index, d.nvec_used) for d in dev.msi.descs.values()]
        out["irqs"] = [pci_irq_vector(dev, i) for i in (0, 26, 27)]
        out["ndescs"] = len(k.irq.descs)

    ok(run(m, body)[0])
    fn = m.pci[0x18]
    addr, data, enabled = fn.msi_message()
    assert out["n"] == 27 and out["descs"] == [(0, 27)]
    assert out["irqs"][1] == out["irqs"][0] + 26 and out["irqs"][2] == -EINVAL
    assert (addr, data, enabled) == (m.its.translater, 0, 32)      # MME rounded by the device
    assert fn.msi_enabled


def test_msix_preferred_then_msi_fallback() -> None:
    out = {}

    async def body(k):
        dev = pci_bus(k).get(0x10)
        out["one"] = await pci_alloc_irq_vectors(dev, 1, 1, PCI_IRQ_MSI)
        out["msi"] = (dev.msi_enabled, dev.msix_enabled)
        await pci_free_irq_vectors(dev)
        out["x"] = await pci_alloc_irq_vectors(dev, 1, 1, PCI_IRQ_MSIX)
        out["msix"] = (dev.msi_enabled, dev.msix_enabled)

    ok(run(machine(MSIX), body)[0])
    assert out["one"] == 1 and out["msi"] == (True, False)
    assert out["x"] == 1 and out["msix"] == (False, True)


def test_api_misuse_raises() -> None:
    errs = []

    async def body(k):
        dev = pci_bus(k).get(0x18)
        for args in ((dev, 33, 33, PCI_IRQ_MSI), (dev, 4, 2, PCI_IRQ_MSI),
                     (dev, 0, 2, PCI_IRQ_MSI), (dev, 1, 1, 0), (dev, 1, 1, PCI_IRQ_MSIX)):
            try:
                await pci_alloc_irq_vectors(*args)
            except InvalidArgumentValue as e:
                errs.append(str(e))
        try:
            await pci_alloc_irq_vectors("dev", 1, 1, PCI_IRQ_MSI)
        except InvalidArgumentType as e:
            errs.append(str(e))
        try:
            await pci_alloc_irq_vectors(dev, 1, 1, PCI_IRQ_MSI, affinity=[7])
        except InvalidArgumentValue as e:
            errs.append(str(e))

    ok(run(machine(MSI), body)[0])
    assert errs[0] == ("min_vecs must be at most the 32 vectors the device 0000:00:03.0 "
                       "supports with these flags, not 33")
    assert errs[1].startswith("max_vecs must be")
    assert errs[2].startswith("min_vecs must be")
    assert errs[3].startswith("flags must include PCI_IRQ_MSI or PCI_IRQ_MSIX")
    assert errs[4].startswith("min_vecs must be at most the 0 vectors")
    assert errs[5] == "dev must be a PciDev, not 'dev'"
    assert errs[6] == "affinity must hold CPU numbers in [0, 4), not [7]"


def test_dynamic_msix_at_arbitrary_indices() -> None:
    m = machine(MSIX)
    out = {}

    async def body(k):
        dev = pci_bus(k).get(0x10)
        assert await pci_alloc_irq_vectors(dev, 1, 1, PCI_IRQ_MSIX) == 1
        out["dyn"] = pci_msix_can_alloc_dyn(dev)
        a = await pci_msix_alloc_irq_at(dev, 6, [2])
        b = await pci_msix_alloc_irq_at(dev, MSI_ANY_INDEX)
        c = await pci_msix_alloc_irq_at(dev, 6)
        out["maps"] = (a.index, b.index, c.index)
        out["virq6"] = pci_irq_vector(dev, 6) == a.virq
        out["cpu6"] = m.its.lookup(0x10, k.its.devices[0x10].lpi_map.bit_length() - 1)
        out["aff"] = k.irq.descs[a.virq].affinity
        await pci_msix_free_irq(dev, a)
        out["after"] = (pci_irq_vector(dev, 6), len(m.its.mappings()))
        try:
            await pci_msix_alloc_irq_at(dev, 8)
        except InvalidArgumentValue as e:
            out["err"] = str(e)
        await pci_free_irq_vectors(dev)
        out["end"] = len(m.its.mappings())

    ok(run(m, body)[0])
    assert out["dyn"] is True
    assert out["maps"] == (6, 1, -EBUSY)
    assert out["virq6"] and out["aff"] == (2,)
    assert out["after"] == (-EINVAL, 2)
    assert out["err"].startswith("index must be") and out["err"].endswith("not 8")
    assert out["end"] == 0


def test_dynamic_msix_unsupported_by_legacy_its() -> None:
    out = {}

    async def body(k):
        dev = pci_bus(k).get(0x10)
        await pci_alloc_irq_vectors(dev, 1, 1, PCI_IRQ_MSIX)
        out["dyn"] = pci_msix_can_alloc_dyn(dev)
        out["map"] = (await pci_msix_alloc_irq_at(dev, 3)).index

    ok(run(machine(MSIX), body, options={"msi_free": "per-vector"})[0])
    assert out == {"dyn": False, "map": -EINVAL}


def test_driver_bind_unbind_repeatable_and_probe_failure() -> None:
    m = machine(MSIX, MSI)
    log = []

    async def probe(dev):
        log.append(("probe", dev.bdf))
        if dev.bdf == 0x18:
            return -ENOSPC
        return await pci_alloc_irq_vectors(dev, 8, 8, PCI_IRQ_MSIX) and 0

    async def remove(dev):
        log.append(("remove", dev.bdf))

    async def body(k):
        bus = pci_bus(k)
        for _ in range(3):
            drv = PciDriver("d", probe, remove)
            await bus.register_driver(drv)
            assert drv.probe_results == {0x10: 0, 0x18: -ENOSPC}
            assert [d.bdf for d in drv.devices] == [0x10]
            await bus.unregister_driver(drv)
            # devres released the vectors and the domain the driver left behind
            assert bus.get(0x10).msi.domain is None and not bus.get(0x10).msi.descs
            assert not k.its.devices and not m.its.mappings()
        only = PciDriver("only", probe, remove, id_table=[(0x1B36, 0x0011)])
        await bus.register_driver(only)
        assert only.devices == []
        with pytest.raises(InvalidArgumentValue):
            await bus.register_driver(only)

    ok(run(m, body)[0])
    assert log[:3] == [("probe", 0x10), ("probe", 0x18), ("remove", 0x10)]
    assert len(log) == 9


def test_hotplug_add_and_remove_device() -> None:
    m = machine()

    async def body(k):
        bus = pci_bus(k)
        bound = []

        async def probe(dev):
            bound.append(dev.bdf)
            return 0 if await pci_alloc_irq_vectors(dev, 2, 2, PCI_IRQ_MSIX) == 2 else -1

        await bus.register_driver(PciDriver("hp", probe))
        fn = m.pci.add_function(F(bdf=0x28, msi_vectors=0, msix_vectors=2))
        dev = await bus.add_device(fn)
        assert bound == [0x28] and dev.driver is not None
        await bus.remove_device(dev)
        assert 0x28 not in bus.devices and dev.removed and not m.its.mappings()

    ok(run(m, body)[0])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["alloc", "free", "dyn", "dynfree"]),
                          st.integers(min_value=1, max_value=12),
                          st.sampled_from([PCI_IRQ_MSI, PCI_IRQ_MSIX, PCI_IRQ_MSI | PCI_IRQ_MSIX])),
                max_size=8),
       st.sampled_from(["per-vector", "bulk", "lifecycle"]))
def test_fuzz_vector_lifecycle(ops, variant) -> None:
    m = machine(F(bdf=0x10, msi_vectors=8, msix_vectors=8), cpus=2)
    out = {}

    async def body(k):
        dev = pci_bus(k).get(0x10)
        init = (k.its.lpis.state(), len(k.irq.descs))
        maps = []
        for op, n, flags in ops:
            if op == "alloc":
                try:
                    r = await pci_alloc_irq_vectors(dev, n, n, flags)
                except InvalidArgumentValue:
                    continue
                assert r == n or r < 0
            elif op == "free":
                await pci_free_irq_vectors(dev)
                maps.clear()
            elif op == "dyn":
                mp = await pci_msix_alloc_irq_at(dev, MSI_ANY_INDEX)
                if mp.index >= 0:
                    maps.append(mp)
            elif maps:
                await pci_msix_free_irq(dev, maps.pop())
        await pci_free_irq_vectors(dev)
        await pci_bus(k).remove_device(dev)
        out["end"] = (k.its.lpis.state(), len(k.irq.descs), m.its.mappings())
        out["init"] = init

    ok(run(m, body, options={"msi_free": variant})[0])
    assert out["end"][2] == []
    if variant != "per-vector":
        assert out["end"][:2] == out["init"]


def test_enumeration_after_kexec_disables_msix_left_on() -> None:
    m = machine(MSIX)

    async def first(k):
        assert await pci_alloc_irq_vectors(pci_bus(k).get(0x10), 8, 8, PCI_IRQ_MSIX) == 8

    res, k0 = run(m, first)
    ok(res)
    assert m.pci[0x10].msix_enabled
    out = {}

    async def second(k):
        dev = pci_bus(k).get(0x10)
        out["enabled"] = m.pci[0x10].msix_enabled
        out["n"] = await pci_alloc_irq_vectors(dev, 8, 8, PCI_IRQ_MSIX)
        out["entry"] = m.pci[0x10].msix_entry(7)[:2]

    res, _ = run(m, second, kernel=k0)
    ok(res)
    assert out == {"enabled": False, "n": 8, "entry": (m.its.translater, 7)}
