"""The MSI core: descriptors, per-device domains, prepare/teardown timing, rollback, free paths."""

from __future__ import annotations

from irqlab.hw.config import PciFunctionConfig as F
from irqlab.kernel.errno import EINVAL, ENODEV, ENOMEM
from irqlab.kernel.irq.domain import (
    IRQ_DOMAIN_FLAG_MSI_PARENT,
    IRQ_DOMAIN_FREE_BULK,
    IrqDomain,
    IrqDomainOps,
)
from irqlab.kernel.msi import (
    MSI_ANY_INDEX,
    MsiDesc,
    MsiParentOps,
    msi_create_device_irq_domain,
    msi_get_virq,
    msi_setup_device_data,
)
from irqlab.kernel.pci import (
    PCI_IRQ_MSI,
    PCI_IRQ_MSIX,
    PciMsiChip,
    pci_alloc_irq_vectors,
    pci_bus,
    pci_free_irq_vectors,
)

from ._msi_util import kinds, machine, ok, run

MSI = F(bdf=0x18, msi_vectors=32)
MSIX = F(bdf=0x10, msi_vectors=0, msix_vectors=8)


def _free_calls(events):
    return [(e["domain"], e["nr"]) for e in events if e.kind == "irq_domain_free"]


def test_prepare_once_and_teardown_with_lifecycle() -> None:
    events: list = []

    async def body(k):
        dev = pci_bus(k).get(0x10)
        for _ in range(2):
            assert await pci_alloc_irq_vectors(dev, 8, 8, PCI_IRQ_MSIX) == 8
            await pci_free_irq_vectors(dev)
        await pci_bus(k).remove_device(dev)

    ok(run(machine(MSIX), body, events=events)[0])
    its = [e.kind for e in events if e.kind in ("itsdrv_device_create", "itsdrv_device_free")]
    assert its == ["itsdrv_device_create", "itsdrv_device_free"]   # prepare once, teardown


def test_prepare_per_allocation_without_lifecycle() -> None:
    events: list = []

    async def body(k):
        dev = pci_bus(k).get(0x10)
        for _ in range(2):
            assert await pci_alloc_irq_vectors(dev, 8, 8, PCI_IRQ_MSIX) == 8
            await pci_free_irq_vectors(dev)

    ok(run(machine(MSIX), body, events=events, options={"msi_free": "per-vector"})[0])
    its = [e.kind for e in events if e.kind in ("itsdrv_device_create", "itsdrv_device_free")]
    # the ITS frees the device when its last event goes, and creates it again
    assert its == ["itsdrv_device_create", "itsdrv_device_free"] * 2


def test_free_per_vector_vs_bulk() -> None:
    for variant, expect in (("per-vector", [1] * 27), ("bulk", [27])):
        events: list = []

        async def body(k):
            dev = pci_bus(k).get(0x18)
            assert await pci_alloc_irq_vectors(dev, 27, 27, PCI_IRQ_MSI) == 27
            await pci_free_irq_vectors(dev)

        ok(run(machine(MSI), body, events=events, options={"msi_free": variant})[0])
        its_frees = [nr for dom, nr in _free_calls(events) if dom == "ITS"]
        assert its_frees == expect, variant


def test_descriptor_and_virq_lookup() -> None:
    out = {}

    async def body(k):
        dev = pci_bus(k).get(0x18)
        assert await pci_alloc_irq_vectors(dev, 4, 4, PCI_IRQ_MSI) == 4
        d = dev.msi.descs[0]
        out["desc"] = (d.msi_index, d.nvec_used, d.pci_msix)
        out["virqs"] = [msi_get_virq(dev, i) - d.irq for i in range(5)]
        data = k.irq.descs[d.irq + 2].irq_data
        out["levels"] = []
        while data is not None:
            out["levels"].append((data.domain.name.split("-")[0],
                                  data.chip.name.removesuffix("-0000:00:03.0")))
            data = data.parent_data
        out["msi_desc"] = k.irq.descs[d.irq + 2].irq_data.msi_desc is d

    ok(run(machine(MSI), body)[0])
    assert out["desc"] == (0, 4, False)
    assert out["virqs"][:4] == [0, 1, 2, 3] and out["virqs"][4] < 0     # index 4: none
    assert out["levels"] == [("ITS", "ITS-PCI-MSI"), ("ITS", "ITS"), ("GICv3", "GICv3")]
    assert out["msi_desc"]


class _FailParent(MsiParentOps):
    prefix = "FAIL-"

    def __init__(self, err: int) -> None:
        self.err = err
        self.calls = []

    async def msi_prepare(self, parent, dev, nvec, info):
        self.calls.append(("prepare", nvec))
        return self.err


class _FailAlloc(IrqDomainOps):
    async def alloc(self, domain, virq, nr_irqs, arg):
        return -ENOMEM


def test_prepare_failure_and_alloc_rollback() -> None:
    out = {}

    async def body(k):
        bus = pci_bus(k)
        dev = bus.get(0x10)
        parent = IrqDomain(k.irq, "fail", _FailAlloc(), parent=k.gic.domain,
                           flags=IRQ_DOMAIN_FLAG_MSI_PARENT)
        ops = _FailParent(-ENOMEM)
        parent.msi_parent_ops = ops
        dev.msi_parent = parent
        descs0 = len(k.irq.descs)
        out["prep"] = await pci_alloc_irq_vectors(dev, 2, 2, PCI_IRQ_MSIX)
        out["calls"] = list(ops.calls)
        ops.err = 0
        out["alloc"] = await pci_alloc_irq_vectors(dev, 2, 2, PCI_IRQ_MSIX)
        out["left"] = (len(k.irq.descs) - descs0, dict(dev.msi.descs), dev.msix_enabled)
        dev.msi_parent = None
        await pci_free_irq_vectors(dev)
        await bus.remove_device(dev)
        out["nodev"] = await msi_create_device_irq_domain(dev, PciMsiChip("x"), 0, 1, name="x")
        dev.msi_parent = IrqDomain(k.irq, "plain", IrqDomainOps())
        msi_setup_device_data(dev).domain = None
        out["noparent"] = await msi_create_device_irq_domain(dev, PciMsiChip("x"), 0, 1,
                                                             name="x")

    ok(run(machine(MSIX), body)[0])
    assert out["prep"] == -ENOMEM and out["calls"] == [("prepare", 8)]
    assert out["alloc"] == -ENOMEM
    assert out["left"] == (0, {}, False)            # descriptors and IRQs rolled back
    assert out["nodev"] == -ENODEV and out["noparent"] == -EINVAL


def test_bulk_flag_on_device_domain() -> None:
    out = {}

    async def body(k):
        dev = pci_bus(k).get(0x10)
        await pci_alloc_irq_vectors(dev, 1, 1, PCI_IRQ_MSIX)
        out["flags"] = (bool(dev.msi.domain.flags & IRQ_DOMAIN_FREE_BULK),
                        bool(k.its.domain.flags & IRQ_DOMAIN_FREE_BULK))

    ok(run(machine(MSIX), body, options={"msi_free": "bulk"})[0])
    assert out["flags"] == (True, True)


def test_bad_msi_free_option() -> None:
    res, _ = run(machine(MSIX), options={"msi_free": "sometimes"})
    assert res.outcome == "error"
    assert "options['msi_free'] must be one of per-vector, bulk, lifecycle" in str(res.error)


def test_msi_desc_repr_and_any_index_constant() -> None:
    d = MsiDesc(None, 3, 1, pci_msix=True)
    assert repr(d) == "<MsiDesc MSI-X index=3 irq=0 nvec=1>"
    assert MSI_ANY_INDEX == 0xFFFF_FFFF


def test_reuse_event_marks_shared() -> None:
    events: list = []

    async def body(k):
        dev = pci_bus(k).get(0x18)
        assert await pci_alloc_irq_vectors(dev, 27, 27, PCI_IRQ_MSI) == 27
        await pci_free_irq_vectors(dev)
        out = await pci_alloc_irq_vectors(dev, 27, 27, PCI_IRQ_MSI)
        assert out == -28

    ok(run(machine(MSI), body, events=events, options={"msi_free": "per-vector"})[0])
    assert kinds(events, "itsdrv_device_reuse") == ["itsdrv_device_reuse"]
    assert kinds(events, "itsdrv_alloc_failed") == ["itsdrv_alloc_failed"]
