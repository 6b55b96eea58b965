"""The VMD driver: vector assignment, list membership order, handlers, full stack via the ITS."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab import sim
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue
from irqlab.hw.config import PciFunctionConfig
from irqlab.hw.machine import Machine
from irqlab.hw.vmd import Vmd
from irqlab.kernel.drivers.vmd import (
    PCI_CLASS_STORAGE_EXPRESS,
    VmdChildInfo,
    VmdDev,
    vmd_create,
    vmd_destroy,
    vmd_pci_driver,
    vmd_soft_vectors,
)
from irqlab.kernel.irq.chip import IRQ_HANDLED, generic_handle_domain_irq
from irqlab.kernel.irq.desc import IrqCore
from irqlab.kernel.irq.domain import irq_domain_alloc_irqs, irq_domain_free_irqs
from irqlab.kernel.irq.manage import free_irq, request_irq
from irqlab.kernel.kernel import Kernel
from irqlab.kernel.pci import (
    PCI_IRQ_MSIX,
    PciDriver,
    pci_alloc_irq_vectors,
    pci_bus,
    pci_free_irq_vectors,
    pci_irq_vector,
)

AHCI = 0x010601


def _soft(body: Any, *, cpus: int = 1, options: dict[str, Any] | None = None,
          rec: bool = False) -> tuple[sim.RunResult, dict[str, Any]]:
    """Run ``await body(core, st)`` on CPU 0 of a software-only world."""
    eng = sim.Engine(cpus=cpus)
    core = IrqCore(eng, options=options)
    st: dict[str, Any] = {"core": core, "eng": eng}
    if rec:
        st["rec"] = eng.events.record()

    async def entry(cc: sim.CpuCtx) -> None:
        await generic_handle_domain_irq(st["vectors"], cc.irq_intid)

    eng.set_irq_handler(entry)

    async def main() -> None:
        await body(core, st)

    eng.spawn(0, main)
    res = eng.run()
    assert res.outcome == "ok", (res.error, res.traceback)
    return res, st


async def _vmd(core: IrqCore, st: dict[str, Any], n: int, **kw: Any) -> VmdDev:
    st["vectors"], vecs = await vmd_soft_vectors(core, n)
    vmd = await vmd_create(core, vecs, **kw)
    assert isinstance(vmd, VmdDev)
    st["vmd"] = vmd
    return vmd


async def _child(vmd: VmdDev, cls: int = PCI_CLASS_STORAGE_EXPRESS) -> int:
    return await irq_domain_alloc_irqs(vmd.irq_domain, 1, arg=VmdChildInfo(cls))  # type: ignore[arg-type]


def test_least_loaded_reserves_vector_zero_and_breaks_ties_low() -> None:
    async def body(core: IrqCore, st: dict[str, Any]) -> None:
        vmd = await _vmd(core, st, 4)
        got = []
        for cls in (PCI_CLASS_STORAGE_EXPRESS, AHCI, PCI_CLASS_STORAGE_EXPRESS,
                    PCI_CLASS_STORAGE_EXPRESS, PCI_CLASS_STORAGE_EXPRESS, AHCI):
            irq = await _child(vmd, cls)
            got.append(core.descs[irq].irq_data.chip_data.irq.index)
        st["got"], st["hist"] = got, vmd.histogram()

    _, st = _soft(body)
    assert st["got"] == [1, 0, 2, 3, 1, 0]
    assert st["hist"] == [2, 2, 1, 1]


def test_least_loaded_single_vector_and_first_vec() -> None:
    async def body(core: IrqCore, st: dict[str, Any]) -> None:
        vmd = await _vmd(core, st, 1)
        a = await _child(vmd)
        b = await _child(vmd, AHCI)
        st["one"] = vmd.histogram()
        st["vectors2"], vecs = await vmd_soft_vectors(core, 3, name="v2")
        vmd2 = await vmd_create(core, vecs, first_vec=1)
        assert isinstance(vmd2, VmdDev)
        idx = []
        for cls in (AHCI, PCI_CLASS_STORAGE_EXPRESS, PCI_CLASS_STORAGE_EXPRESS):
            irq = await _child(vmd2, cls)
            idx.append(core.descs[irq].irq_data.chip_data.irq.index)
        st["two"] = idx
        assert a and b

    _, st = _soft(body)
    assert st["one"] == [2]
    assert st["two"] == [1, 2, 2]  # vector 0 is the VMD's own; 1 slow; NVMe share the rest


def test_modulo_follows_the_irq_number() -> None:
    async def body(core: IrqCore, st: dict[str, Any]) -> None:
        vmd = await _vmd(core, st, 3, policy="modulo")
        irqs = [await _child(vmd, AHCI) for _ in range(4)]
        st["pairs"] = [(i, core.descs[i].irq_data.chip_data.irq.index) for i in irqs]

    _, st = _soft(body)
    assert st["pairs"] == [(i, i % 3) for i, _ in st["pairs"]]


def test_enable_adds_then_disable_removes_and_free_uncounts() -> None:
    async def h(irq: int, dev_id: Any) -> int:
        return IRQ_HANDLED

    async def body(core: IrqCore, st: dict[str, Any]) -> None:
        vmd = await _vmd(core, st, 2)
        irq = await _child(vmd)
        entry = core.descs[irq].irq_data.chip_data
        st["before"] = (entry.enabled, vmd.entries())
        assert await request_irq(irq, h, 0, "nvme", st) == 0
        st["on"] = [[e.virq for e in v] for v in vmd.entries()]
        msg = await vmd.chip.irq_compose_msi_msg(core.descs[irq].irq_data)
        st["msg"] = (msg.address, msg.data)
        await free_irq(irq, st)
        st["off"] = vmd.entries()
        await irq_domain_free_irqs(irq, 1, core=core)
        st["hist"] = vmd.histogram()
        st["irq"] = irq

    _, st = _soft(body, rec=True)
    assert st["before"] == (False, [[], []])
    assert st["on"] == [[], [st["irq"]]]
    assert st["msg"] == (0xFEE0_1000, 0)
    assert st["off"] == [[], []] and st["hist"] == [0, 0]
    kinds = [e.kind for e in st["rec"] if e.kind.startswith(("vmd_", "irq_shutdown"))]
    assert kinds == ["vmd_create", "vmd_msi_alloc", "vmd_irq_enable", "irq_shutdown",
                     "vmd_irq_disable", "vmd_msi_free"]


@pytest.mark.parametrize("chained", [True, False])
@pytest.mark.parametrize("sync", ["rcu", "srcu"])
def test_vector_interrupt_runs_every_child_on_its_list(chained: bool, sync: str) -> None:
    seen: list[int] = []

    async def h(irq: int, dev_id: Any) -> int:
        seen.append(irq)
        return IRQ_HANDLED

    async def body(core: IrqCore, st: dict[str, Any]) -> None:
        vmd = await _vmd(core, st, 2, sync=sync, chained=chained)
        irqs = [await _child(vmd) for _ in range(3)]  # vectors 1, 1, 1 (0 is for slow ones)
        for i in irqs:
            await request_irq(i, h, 0, f"nvme{i}", st)
        st["eng"].raise_irq(0, 1)
        await sim.point("irq window")
        st["counts"] = [core.descs[i].kstat_irqs[0] for i in irqs]
        for i in irqs:
            await free_irq(i, st)
            await irq_domain_free_irqs(i, 1, core=core)
        await vmd_destroy(vmd)
        st["domains"] = [d.name for d in core.domains]
        st["irqs"] = irqs

    _, st = _soft(body)
    assert seen == st["irqs"] and st["counts"] == [1, 1, 1]
    assert "VMD-MSI" not in st["domains"]


def test_bad_arguments() -> None:
    eng = sim.Engine(cpus=1)
    core = IrqCore(eng)
    with pytest.raises(InvalidArgumentValue, match=r"^policy must be one of modulo, "
                                                    r"least-loaded, not 'rr'$"):
        VmdDev(core, policy="rr")
    with pytest.raises(InvalidArgumentValue, match=r"^sync must be"):
        VmdDev(core, sync="none")
    with pytest.raises(InvalidArgumentType, match=r"^core must be an IrqCore"):
        VmdDev(3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentValue, match="class_code"):
        VmdChildInfo(-1)
    with pytest.raises(InvalidArgumentValue, match=r"^policy"):
        vmd_pci_driver(policy="x")
    eng.close()

    async def body(core: IrqCore, st: dict[str, Any]) -> None:
        with pytest.raises(InvalidArgumentValue, match=r"^vectors must hold allocated IRQ"):
            await vmd_create(core, [999])
        with pytest.raises(InvalidArgumentValue, match=r"^vectors must be a non-empty list"):
            await vmd_create(core, [])

    _soft(body)


# -- the full stack: VMD function behind the ITS, children behind the VMD ---------------------

def _machine() -> tuple[Machine, Vmd]:
    m = Machine.virt(cpus=2)
    hw = Vmd(m, bdf=0x18, msix_vectors=4)
    hw.hot_add(PciFunctionConfig(bdf=0x100, msi_vectors=0, msix_vectors=2))
    hw.hot_add(PciFunctionConfig(bdf=0x108, msi_vectors=0, msix_vectors=2))
    hw.hot_add(PciFunctionConfig(bdf=0x110, class_code=AHCI, msi_vectors=1, msix_vectors=1))
    return m, hw


def test_end_to_end_child_msis_through_the_vmd_and_the_its() -> None:
    m, hw = _machine()
    eng = sim.Engine(machine=m, fingerprint="vmd-e2e")
    k = Kernel(m, eng)
    st: dict[str, Any] = {"handled": []}
    rec = m.events.record()

    async def child_irq(irq: int, dev: Any) -> int:
        st["handled"].append((dev.bdf, irq, sim.smp_processor_id()))
        return IRQ_HANDLED

    async def child_probe(dev: Any) -> int:
        n = await pci_alloc_irq_vectors(dev, 1, 2, PCI_IRQ_MSIX)
        for i in range(n):
            assert await request_irq(pci_irq_vector(dev, i), child_irq, 0, dev.name, dev) == 0
        dev.driver_data = n
        return 0

    async def child_remove(dev: Any) -> None:
        for i in range(dev.driver_data):
            await free_irq(pci_irq_vector(dev, i), dev)
        await pci_free_irq_vectors(dev)

    async def main() -> None:
        await k.boot()
        st["descs0"] = sorted(k.irq.descs)
        bus = pci_bus(k)
        vdrv = vmd_pci_driver()
        await bus.register_driver(vdrv)
        pdev = bus.get(0x18)
        vmd: VmdDev = pdev.driver_data
        assert isinstance(vmd, VmdDev) and vmd.msix_count == 4
        cdrv = PciDriver("nvme", child_probe, child_remove)
        await vmd.bus.register_driver(cdrv)
        st["hist"] = vmd.histogram()
        st["names"] = sorted(d.name for d in vmd.bus.devices.values())
        for bdf, v in ((0x100, 0), (0x100, 1), (0x108, 1), (0x110, 0)):
            hw.child(bdf).fire(v)
            await sim.point("irq window")
        st["remapped"] = list(hw.remapped)
        await vmd.bus.unregister_driver(cdrv)
        await bus.unregister_driver(vdrv)
        st["descs1"] = sorted(k.irq.descs)

    eng.spawn(0, main, name="init")
    res = eng.run()
    assert res.outcome == "ok", (res.error, res.traceback)
    assert st["names"] == ["10000:01:00.0", "10000:01:01.0", "10000:01:02.0"]
    # AHCI on vector 0; four NVMe vectors over 1..3, lowest index first on ties
    assert st["hist"] == [1, 2, 1, 1]
    # a VMD vector runs every child on its list (vector 1 holds 0x100's first and 0x108's
    # second vector): the VMD cannot tell which child wrote the window
    assert [b for b, _, _ in st["handled"]] == [0x100, 0x108, 0x100, 0x100, 0x108, 0x110]
    assert st["remapped"] == [1, 2, 1, 0]
    # every child vector was a VMD MSI; the ITS only ever saw the VMD's DeviceID
    devids = {e["devid"] for e in rec if e.kind.startswith("its_") and "devid" in e.args}
    assert devids == {0x18}
    # removal leaves no descriptor behind
    assert st["descs1"] == st["descs0"]


@pytest.mark.parametrize("chained", [True, False])
def test_vmd_unbind_removes_bound_children_and_hotplug_after_probe(chained: bool) -> None:
    m, hw = _machine()
    eng = sim.Engine(machine=m, fingerprint="vmd-unbind")
    k = Kernel(m, eng)
    st: dict[str, Any] = {"handled": [], "removed": []}

    async def child_irq(irq: int, dev: Any) -> int:
        st["handled"].append(dev.bdf)
        return IRQ_HANDLED

    async def child_probe(dev: Any) -> int:
        n = await pci_alloc_irq_vectors(dev, 1, 1, PCI_IRQ_MSIX)
        assert n == 1
        return await request_irq(pci_irq_vector(dev, 0), child_irq, 0, dev.name, dev)

    async def child_remove(dev: Any) -> None:
        await free_irq(pci_irq_vector(dev, 0), dev)
        await pci_free_irq_vectors(dev)
        st["removed"].append(dev.bdf)

    async def main() -> None:
        await k.boot()
        st["descs0"] = sorted(k.irq.descs)
        bus = pci_bus(k)
        vdrv = vmd_pci_driver(chained=chained, sync="rcu")
        await bus.register_driver(vdrv)
        vmd: VmdDev = bus.get(0x18).driver_data
        await vmd.bus.register_driver(PciDriver("nvme", child_probe, child_remove))
        # a drive hot-added behind the VMD after probe is enumerated and bound
        fn = hw.hot_add(PciFunctionConfig(bdf=0x118, msi_vectors=0, msix_vectors=1))
        dev = await vmd.bus.add_device(fn)
        assert dev.name == "10000:01:03.0" and dev.driver is not None
        st["hist"] = vmd.histogram()
        fn.fire(0)
        await sim.point("irq window")
        # rmmod vmd with the children still bound: they are removed first
        await bus.unregister_driver(vdrv)
        st["descs1"] = sorted(k.irq.descs)

    eng.spawn(0, main, name="init")
    res = eng.run()
    assert res.outcome == "ok", (res.error, res.traceback)
    assert st["hist"] == [1, 1, 1, 1]  # the hot-added drive takes the empty vector 3
    assert st["handled"] == [0x118]
    assert st["removed"] == [0x118, 0x110, 0x108, 0x100]
    assert st["descs1"] == st["descs0"]


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["modulo", "least-loaded"]), st.integers(1, 5),
       st.lists(st.tuples(st.booleans(), st.booleans(), st.integers(0, 7)), max_size=14))
def test_fuzz_counts_follow_membership(policy: str, n: int,
                                       ops: list[tuple[bool, bool, int]]) -> None:
    """Random adds (NVMe or not, requested or not) and removals: counts == assigned children,
    lists == requested children, least-loaded NVMe vectors stay within one when only adding."""
    async def h(irq: int, dev_id: Any) -> int:
        return IRQ_HANDLED

    async def body(core: IrqCore, s: dict[str, Any]) -> None:
        vmd = await _vmd(core, s, n, policy=policy)
        live: list[tuple[int, bool]] = []
        removed = False
        for add, nvme, pick in ops:
            if add or not live:
                irq = await _child(vmd, PCI_CLASS_STORAGE_EXPRESS if nvme else AHCI)
                req = pick % 2 == 0
                if req:
                    assert await request_irq(irq, h, 0, "c", s) == 0
                live.append((irq, req))
            else:
                irq, req = live.pop(pick % len(live))
                if req:
                    await free_irq(irq, s)
                await irq_domain_free_irqs(irq, 1, core=core)
                removed = True
            counts = [0] * n
            for i, _ in live:
                counts[core.descs[i].irq_data.chip_data.irq.index] += 1
            assert vmd.histogram() == counts
            on = sorted(e.virq for lst in vmd.entries() for e in lst)
            assert on == sorted(i for i, r in live if r)
            if policy == "least-loaded" and not removed and n > 1:
                nv = [sum(1 for i, _ in live if core.descs[i].irq_data.chip_data.nvme
                          and core.descs[i].irq_data.chip_data.irq.index == v)
                      for v in range(1, n)]
                assert max(nv) - min(nv) <= 1
        for irq, req in live:
            if req:
                await free_irq(irq, s)
            await irq_domain_free_irqs(irq, 1, core=core)
        assert vmd.histogram() == [0] * n

    _soft(body)
