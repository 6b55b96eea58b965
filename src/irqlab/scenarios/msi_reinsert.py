"""Seed 002: a Multi-MSI driver inserted and removed again and again behind the ITS.

Device 00:01.0 offers 32 MSI vectors; its driver asks for 27
(``pci_alloc_irq_vectors(dev, 27, 27, PCI_IRQ_MSI)``), requests them, and on
removal frees them.  The ITS needs a naturally aligned power-of-two block of
events for Multi-MSI, so it takes 32 (an order-5 region of ``lpi_map``).
Device 00:02.0 (MSI-X, 16 entries) gets one vector at probe and, where the
MSI parent supports it, two more allocated dynamically at indices 5 and
``MSI_ANY_INDEX``.  ``cycles`` insmod/rmmod cycles; how the free path works is
the variant (``options["msi_free"]``):

* ``per-vector`` -- Linux: ``->free(virq + i, 1)`` per IRQ releases one
  event each, events 27-31 stay set, the ITS keeps the device, and the next
  probe's order-5 allocation fails: ``invariant:reload-enospc``.
* ``bulk`` -- ``IRQ_DOMAIN_FREE_BULK`` (the flag proposed in the thread): one
  ``->free(virq, 27)`` releases the whole order-5 region: clean.
* ``lifecycle`` -- tglx's per-device reserve (``msi_prepare``) / alloc /
  free individual bits / teardown (``msi_teardown``): clean, and dynamic
  MSI-X works.

Invariant (``invariant:allocator-restored``): after every cycle the LPI
ranges, the ITS device list, the mapped LPIs per CPU and the IRQ
descriptors are exactly as before the first insmod.
"""

from __future__ import annotations

from typing import Any

from irqlab import sim
from irqlab.check.findings import Finding
from irqlab.errors import check_count
from irqlab.hw.config import PciFunctionConfig
from irqlab.hw.machine import Machine
from irqlab.kernel.errno import errname
from irqlab.kernel.irq.chip import IRQ_HANDLED
from irqlab.kernel.irq.manage import free_irq, request_irq
from irqlab.kernel.kernel import Kernel
from irqlab.kernel.msi import MSI_ANY_INDEX
from irqlab.kernel.pci import (
    PCI_IRQ_MSI,
    PCI_IRQ_MSIX,
    PciDev,
    PciDriver,
    pci_alloc_irq_vectors,
    pci_bus,
    pci_free_irq_vectors,
    pci_irq_vector,
    pci_msix_alloc_irq_at,
    pci_msix_can_alloc_dyn,
    pci_msix_free_irq,
)
from irqlab.scenarios._base import Scenario, Variant, World

MULTI_MSI_BDF = 0x08
MSIX_BDF = 0x10
WANT = 27


async def _handler(irq: int, dev_id: Any) -> int:
    return IRQ_HANDLED


async def _probe(dev: PciDev) -> int:
    """Multi-MSI: 27 of 32 vectors; MSI-X: one vector, then two dynamic ones."""
    if dev.bdf == MULTI_MSI_BDF:
        nvec = await pci_alloc_irq_vectors(dev, WANT, WANT, PCI_IRQ_MSI)
    else:
        nvec = await pci_alloc_irq_vectors(dev, 1, 1, PCI_IRQ_MSIX)
    if nvec < 0:
        return nvec
    irqs = [pci_irq_vector(dev, i) for i in range(nvec)]
    maps = []
    if dev.bdf == MSIX_BDF and pci_msix_can_alloc_dyn(dev):
        for index in (5, MSI_ANY_INDEX):
            m = await pci_msix_alloc_irq_at(dev, index)
            if m.index < 0:
                return m.index
            maps.append(m)
            irqs.append(m.virq)
    for irq in irqs:
        ret = await request_irq(irq, _handler, 0, f"reinsert-{dev.bdf:x}", dev)
        if ret:
            return ret
    dev.driver_data = (irqs, maps)
    return 0


async def _remove(dev: PciDev) -> None:
    irqs, maps = dev.driver_data
    for irq in irqs:
        await free_irq(irq, dev)
    for m in maps:
        await pci_msix_free_irq(dev, m)
    await pci_free_irq_vectors(dev)


def allocator_state(k: Kernel) -> dict[str, Any]:
    """What must come back after every rmmod: LPI ranges, ITS devices, mapped LPIs, IRQs.

    (The page allocator is not compared: a device-table level-2 page, once
    allocated for a DeviceID, stays, as in Linux; ITTs go with the devices.)
    """
    its = k.its
    return {"lpi_ranges": its.lpis.state(), "its_devices": sorted(its.devices),
            "mapped_lpis": list(its.lpi_count), "irq_descs": len(k.irq.descs),
            "irq_free": k.irq.free_ranges}


def _setup(world: World) -> None:
    check_count("cycles", world.params["cycles"], 1, 100_000)
    machine = Machine.virt(cpus=2, pci_functions=(
        PciFunctionConfig(bdf=MULTI_MSI_BDF, msi_vectors=32),
        PciFunctionConfig(bdf=MSIX_BDF, msi_vectors=0, msix_vectors=16)))
    eng = sim.Engine(machine=machine, strategy=world.state["strategy"],
                     fingerprint=world.state["fingerprint"])
    k = Kernel(machine, eng, options={"msi_free": world.variant})
    log: list[dict[str, Any]] = []

    async def init() -> None:
        await k.boot()
        bus = pci_bus(k)
        initial = allocator_state(k)
        world.state["initial"] = initial
        for cycle in range(1, world.params["cycles"] + 1):
            drv = PciDriver("reinsert", _probe, _remove)
            await bus.register_driver(drv)                       # insmod
            probes = dict(drv.probe_results)
            dev = bus.get(MULTI_MSI_BDF)
            its_dev = k.its.devices.get(dev.msi_device_id())
            await bus.unregister_driver(drv)                     # rmmod
            log.append({"cycle": cycle, "probe": probes, "state": allocator_state(k),
                        "lpi_map": its_dev.lpi_map if its_dev is not None else 0})

    eng.spawn(0, init, name="insmod-rmmod")
    world.engine, world.machine, world.kernel = eng, machine, k
    world.state["log"] = log
    world.invariants.append(_check)
    world.describe = _describe


def _check(world: World, result: Any) -> list[Finding]:
    if result.outcome != "ok":
        return []
    log = world.state["log"]
    initial = world.state["initial"]
    out: list[Finding] = []
    for entry in log:
        bad = {bdf: r for bdf, r in entry["probe"].items() if r < 0}
        if bad:
            bdf, err = next(iter(sorted(bad.items())))
            prev = log[entry["cycle"] - 2] if entry["cycle"] > 1 else None
            held = prev["lpi_map"] if prev is not None else 0
            out.append(Finding(
                "invariant:reload-enospc" if err == -28 else "invariant:probe-failed",
                f"probe of {bdf >> 8:02x}:{(bdf >> 3) & 31:02x}.{bdf & 7} failed with "
                f"{errname(err)} at insmod #{entry['cycle']}: the ITS kept the device with "
                f"events {_bits(held)} still allocated after rmmod",
                data={"cycle": entry["cycle"], "err": err, "lpi_map": held}))
            break
    for entry in log:
        if entry["state"] != initial:
            diff = sorted(k for k in initial if entry["state"][k] != initial[k])
            out.append(Finding("invariant:allocator-restored",
                               f"after rmmod #{entry['cycle']} the allocators differ from the "
                               f"initial state: {', '.join(diff)}",
                               data={"cycle": entry["cycle"], "differs": diff}))
            break
    return out


def _bits(mask: int) -> str:
    idx = [i for i in range(mask.bit_length()) if mask >> i & 1]
    if not idx:
        return "none"
    if idx == list(range(idx[0], idx[-1] + 1)):
        return f"{idx[0]}-{idx[-1]}"
    return ",".join(map(str, idx))


def _describe(world: World, result: Any) -> str:
    log = world.state["log"]
    ok = sum(1 for e in log if all(r == 0 for r in e["probe"].values()))
    lines = [f"{len(log)} insmod/rmmod cycles, {ok} with every probe succeeding"]
    if log:
        last = log[-1]
        lines.append(f"  after the last rmmod: LPI ranges {last['state']['lpi_ranges']}, "
                     f"ITS devices {last['state']['its_devices']}")
    return "\n".join(lines)


SCENARIO = Scenario(
    name="msi-reinsert",
    seed="002",
    title="PCI Multi-MSI driver reinsertion behind the ITS (27 of 32 vectors)",
    variants=(
        Variant("per-vector", "->free(virq + i, 1) per IRQ (Linux)",
                expect="invariant:reload-enospc"),
        Variant("bulk", "IRQ_DOMAIN_FREE_BULK: one ->free per block"),
        Variant("lifecycle", "per-device prepare/alloc/free/teardown"),
    ),
    setup=_setup,
    params={"cycles": 100},
)
