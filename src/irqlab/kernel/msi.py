"""The MSI core (``kernel/irq/msi.c``, ``include/linux/msi.h``): descriptors and device domains.

A device that raises message-signalled interrupts has an :class:`MsiDeviceData`
(``dev->msi.data``): its MSI descriptors (:class:`MsiDesc`, one per MSI-X
vector, one per Multi-MSI block) indexed like Linux's xarray, and its
*per-device MSI domain* (``MSI_DEFAULT_DOMAIN``), an :class:`IrqDomain`
stacked on the device's *MSI parent* -- the ITS domain, or VMD's domain for
VMD children.  The parent advertises what it can do with an
:class:`MsiParentOps` (``domain.msi_parent_ops``): supported features
(``MSI_FLAG_MULTI_PCI_MSI``, ``MSI_FLAG_PCI_MSIX``,
``MSI_FLAG_PCI_MSIX_ALLOC_DYN``), ``msi_prepare`` (the ITS creates its
``its_device``: DeviceID, ITT, LPIs) and ``msi_teardown``.

When ``msi_prepare`` runs is the seed-002 design question.  With
``prepare_once`` (the per-device lifecycle Thomas Gleixner asks for, and
what Linux does since the 2025 ``.msi_teardown()`` rework) it runs once when
the device domain is created, with the domain's hardware size, and
``msi_teardown`` runs when the domain is removed.  Without it (Linux before
that) it runs at every allocation and there is no teardown: the parent must
find out by itself when a device is gone.

The core allocates exactly the descriptors and Linux IRQs asked for: a
Multi-MSI request of 27 vectors is one descriptor with ``nvec_used = 27``
and 27 consecutive IRQs.  Rounding to a power of two is the parent's
business (the ITS's event bitmap), not the core's.

Locking: ``dev.msi.mutex`` (``msi_lock_descs``) around descriptor and domain
changes; allocation and free take ``irq_domain_mutex`` inside.  Everything
here may sleep: task context only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from irqlab import sim
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue, check_int
from irqlab.kernel.errno import EBUSY, EINVAL, ENODEV, ENOSPC
from irqlab.kernel.irq.chip import IrqChip, MsiMsg
from irqlab.kernel.irq.desc import IRQD_ACTIVATED, IrqData
from irqlab.kernel.irq.domain import (
    IRQ_DOMAIN_FLAG_MSI_PARENT,
    IRQ_DOMAIN_FREE_BULK,
    IrqDomain,
    IrqDomainOps,
    irq_domain_activate_irq,
    irq_domain_alloc_irqs,
    irq_domain_alloc_irqs_parent,
    irq_domain_deactivate_irq,
    irq_domain_free_irqs,
    irq_domain_free_irqs_common,
    irq_domain_get_irq_data,
    irq_domain_remove,
    irq_domain_set_hwirq_and_chip,
)

__all__ = [
    "MSI_ANY_INDEX",
    "MSI_FLAG_ACTIVATE_EARLY",
    "MSI_FLAG_MULTI_PCI_MSI",
    "MSI_FLAG_PCI_MSIX",
    "MSI_FLAG_PCI_MSIX_ALLOC_DYN",
    "MSI_FREE_VARIANTS",
    "MsiAllocInfo",
    "MsiDesc",
    "MsiDeviceData",
    "MsiDomainInfo",
    "MsiMap",
    "MsiParentOps",
    "msi_create_device_irq_domain",
    "msi_device_data_release",
    "msi_domain_alloc_irq_at",
    "msi_domain_alloc_irqs",
    "msi_domain_free_irqs",
    "msi_get_virq",
    "msi_remove_device_irq_domain",
    "msi_setup_device_data",
]

# Generic flags (include/linux/msi.h) and the bus-specific features an MSI parent offers.
MSI_FLAG_ACTIVATE_EARLY = 1 << 2
MSI_FLAG_MULTI_PCI_MSI = 1 << 16
MSI_FLAG_PCI_MSIX = 1 << 17
MSI_FLAG_PCI_MSIX_ALLOC_DYN = 1 << 20

#: ``MSI_ANY_INDEX``: let the core pick a free index (dynamic MSI-X).
MSI_ANY_INDEX = 0xFFFF_FFFF

#: The values of ``options["msi_free"]`` (seed 002).
MSI_FREE_VARIANTS = ("per-vector", "bulk", "lifecycle")


def msi_free_variant(options: dict[str, Any]) -> str:
    """The kernel's ``options["msi_free"]`` (default ``"lifecycle"``), validated."""
    v = options.get("msi_free", "lifecycle")
    if v not in MSI_FREE_VARIANTS:
        raise InvalidArgumentValue(
            f"options['msi_free'] must be one of {', '.join(MSI_FREE_VARIANTS)}, not {v!r}")
    return str(v)


class MsiDesc:
    """``struct msi_desc``: one MSI-X vector, or one Multi-MSI block of ``nvec_used`` vectors.

    ``irq`` is the first Linux IRQ (0 while not allocated), ``msi_index`` the
    MSI-X table index (0 for MSI), ``msg`` the last message written,
    ``affinity`` the requested CPUs (``None``: any), ``pci_msix`` whether it
    is an MSI-X vector.
    """

    __slots__ = ("affinity", "dev", "irq", "msg", "msi_index", "nvec_used", "pci_msix")

    def __init__(self, dev: Any, msi_index: int, nvec_used: int, *, pci_msix: bool,
                 affinity: tuple[int, ...] | None = None) -> None:
        self.dev = dev
        self.msi_index = msi_index
        self.nvec_used = nvec_used
        self.pci_msix = pci_msix
        self.affinity = affinity
        self.irq = 0
        self.msg = MsiMsg()

    def __repr__(self) -> str:
        return (f"<MsiDesc {'MSI-X' if self.pci_msix else 'MSI'} index={self.msi_index} "
                f"irq={self.irq} nvec={self.nvec_used}>")


class MsiAllocInfo:
    """``msi_alloc_info_t``: what the device domain hands its parent's ``alloc``.

    ``desc`` the descriptor being allocated, ``hwirq`` its index,
    ``scratchpad`` the parent's own data (the ITS puts its ``its_device``
    there in ``msi_prepare``).
    """

    __slots__ = ("desc", "hwirq", "scratchpad")

    def __init__(self, desc: MsiDesc | None = None, hwirq: int = 0,
                 scratchpad: dict[str, Any] | None = None) -> None:
        self.desc = desc
        self.hwirq = hwirq
        self.scratchpad = {} if scratchpad is None else scratchpad


class MsiParentOps:
    """``struct msi_parent_ops`` plus the parent's ``msi_prepare``/``msi_teardown``.

    Subclass it and set it as ``domain.msi_parent_ops`` of an MSI parent
    domain (flag ``IRQ_DOMAIN_FLAG_MSI_PARENT``).  ``msi_prepare(parent,
    dev, nvec, info) -> 0 | -errno`` fills ``info.scratchpad``;
    ``msi_teardown(parent, dev, info)`` undoes it.  Both may sleep.
    """

    supported_flags = MSI_FLAG_MULTI_PCI_MSI | MSI_FLAG_PCI_MSIX
    prefix = ""

    async def msi_prepare(self, parent: IrqDomain, dev: Any, nvec: int,
                          info: MsiAllocInfo) -> int:
        """Default: nothing to prepare."""
        return 0

    async def msi_teardown(self, parent: IrqDomain, dev: Any, info: MsiAllocInfo) -> None:
        """Default: nothing to undo."""


class MsiDomainInfo:
    """``struct msi_domain_info`` of a per-device domain (``domain.host_data``).

    ``flags`` (``MSI_FLAG_*``, the template's features masked by the
    parent's), ``hwsize`` (vectors the device has), ``chip`` (the
    bus chip: PCI MSI or MSI-X), ``alloc_data`` (what ``msi_prepare`` made,
    for ``prepare_once``), ``dev``.
    """

    __slots__ = ("alloc_data", "chip", "dev", "flags", "hwsize", "prepare_once", "prepared")

    def __init__(self, dev: Any, chip: IrqChip, flags: int, hwsize: int,
                 prepare_once: bool) -> None:
        self.dev = dev
        self.chip = chip
        self.flags = flags
        self.hwsize = hwsize
        self.prepare_once = prepare_once
        self.alloc_data = MsiAllocInfo()
        self.prepared = False


class MsiDeviceData:
    """``struct msi_device_data`` (``dev.msi``): descriptors by index and the device domain."""

    def __init__(self, dev: Any) -> None:
        self.dev = dev
        #: index -> descriptor (Linux's ``__store`` xarray).
        self.descs: dict[int, MsiDesc] = {}
        #: The per-device MSI domain (``MSI_DEFAULT_DOMAIN``), or None.
        self.domain: IrqDomain | None = None
        self.mutex = sim.Mutex(f"{getattr(dev, 'name', 'dev')}.msi.mutex", key="msi_desc_mutex")

    def first_free_index(self, hwsize: int) -> int:
        """The lowest index in ``[0, hwsize)`` without a descriptor, or -1."""
        for i in range(hwsize):
            if i not in self.descs:
                return i
        return -1


class MsiMap:
    """``struct msi_map``: the result of a dynamic allocation (``index`` < 0: -errno)."""

    __slots__ = ("index", "virq")

    def __init__(self, index: int, virq: int) -> None:
        self.index = index
        self.virq = virq

    def __repr__(self) -> str:
        return f"MsiMap(index={self.index}, virq={self.virq})"


def msi_setup_device_data(dev: Any) -> MsiDeviceData:
    """``msi_setup_device_data``: ``dev.msi`` (created on first use)."""
    data = getattr(dev, "msi", None)
    if data is None:
        data = MsiDeviceData(dev)
        dev.msi = data
    return data


# -- the per-device domain ---------------------------------------------------------------------

class MsiDomainOps(IrqDomainOps):
    """``msi_domain_ops`` of a per-device domain: the top level of each MSI IRQ.

    ``alloc`` descends into the parent (the ITS) with the
    :class:`MsiAllocInfo`, then sets the bus chip on this level (hwirq = MSI
    index); ``activate`` composes the message (the parent's chip knows the
    doorbell) and writes it to the device; ``deactivate`` writes a zero
    message.
    """

    async def alloc(self, domain: IrqDomain, virq: int, nr_irqs: int, arg: Any) -> int:
        info: MsiDomainInfo = domain.host_data
        ret = await irq_domain_alloc_irqs_parent(domain, virq, nr_irqs, arg)
        if ret < 0:
            return ret
        desc = arg.desc
        for i in range(nr_irqs):
            irq_domain_set_hwirq_and_chip(domain, virq + i, arg.hwirq + i, info.chip, info.dev)
            d = irq_domain_get_irq_data(domain, virq + i)
            assert d is not None
            d.msi_desc = desc
            d.desc.irq_data.msi_desc = desc
        return 0

    async def free(self, domain: IrqDomain, virq: int, nr_irqs: int) -> None:
        await irq_domain_free_irqs_common(domain, virq, nr_irqs)

    async def activate(self, domain: IrqDomain, data: IrqData, reserve: bool) -> int:
        msg = await data.chip.irq_compose_msi_msg(data)
        await data.chip.irq_write_msi_msg(data, msg)
        return 0

    async def deactivate(self, domain: IrqDomain, data: IrqData) -> None:
        await data.chip.irq_write_msi_msg(data, MsiMsg())


def _parent_ops(parent: IrqDomain) -> MsiParentOps | None:
    ops = parent.msi_parent_ops
    if not parent.flags & IRQ_DOMAIN_FLAG_MSI_PARENT or not isinstance(ops, MsiParentOps):
        return None
    return ops


async def msi_create_device_irq_domain(dev: Any, chip: IrqChip, flags: int, hwsize: int,
                                       *, name: str) -> IrqDomain | int:
    """``msi_create_device_irq_domain``: the device's domain under ``dev.msi_parent``.

    ``flags`` are the features the bus wants (masked by what the parent
    supports; -ENOTSUPP-like -EINVAL when the bus feature itself is
    missing is the caller's check).  With ``prepare_once`` (kernel option
    ``msi_free == "lifecycle"``) the parent's ``msi_prepare`` runs here with
    ``hwsize``.  Returns the domain or -errno.  May sleep.
    """
    check_int("hwsize", hwsize, 1, 1 << 16)
    data = msi_setup_device_data(dev)
    if data.domain is not None:
        return -EBUSY
    parent = getattr(dev, "msi_parent", None)
    if not isinstance(parent, IrqDomain):
        return -ENODEV
    pops = _parent_ops(parent)
    if pops is None:
        return -EINVAL
    kernel = dev.kernel
    variant = msi_free_variant(kernel.options)
    prepare_once = variant == "lifecycle"
    info = MsiDomainInfo(dev, chip, (flags & pops.supported_flags) | MSI_FLAG_ACTIVATE_EARLY,
                         hwsize, prepare_once)
    dom_flags = IRQ_DOMAIN_FREE_BULK if variant == "bulk" else 0
    domain = IrqDomain(parent.core, f"{pops.prefix}{name}", MsiDomainOps(), parent=parent,
                       host_data=info, flags=dom_flags)
    domain.dev = dev
    if prepare_once:
        ret = await pops.msi_prepare(parent, dev, hwsize, info.alloc_data)
        if ret < 0:
            irq_domain_remove(domain)
            return ret
        info.prepared = True
    data.domain = domain
    return domain


async def msi_remove_device_irq_domain(dev: Any) -> None:
    """``msi_remove_device_irq_domain``: ``msi_teardown`` (if prepared once), then remove."""
    data = getattr(dev, "msi", None)
    if data is None or data.domain is None:
        return
    domain = data.domain
    info: MsiDomainInfo = domain.host_data
    pops = _parent_ops(domain.parent) if domain.parent is not None else None
    if info.prepared and pops is not None:
        await pops.msi_teardown(domain.parent, dev, info.alloc_data)  # type: ignore[arg-type]
        info.prepared = False
    irq_domain_remove(domain)
    data.domain = None


def msi_get_virq(dev: Any, index: int) -> int:
    """``msi_get_virq``: the IRQ of MSI-X ``index`` or Multi-MSI vector ``index``; 0: none."""
    data = getattr(dev, "msi", None)
    if data is None:
        return 0
    desc = data.descs.get(index)
    if desc is not None and (desc.pci_msix or desc.nvec_used == 1):
        return desc.irq
    d0 = data.descs.get(0)
    if d0 is not None and not d0.pci_msix and d0.irq and 0 <= index < d0.nvec_used:
        return d0.irq + index
    return 0


async def _alloc_desc_irqs(domain: IrqDomain, desc: MsiDesc, base_info: MsiAllocInfo) -> int:
    info = MsiAllocInfo(desc, desc.msi_index, base_info.scratchpad)
    virq = await irq_domain_alloc_irqs(domain, desc.nvec_used, arg=info,
                                       affinity=desc.affinity)
    if virq < 0:
        return virq
    desc.irq = virq
    # msi_init_virq: PCI MSI domains activate early (the ITS maps the event now)
    core = domain.core
    for i in range(desc.nvec_used):
        d = core.descs[virq + i].irq_data
        ret = await irq_domain_activate_irq(d, True)
        if ret < 0:
            return ret
    return 0


async def msi_domain_alloc_irqs(dev: Any, descs: Iterable[MsiDesc], *, nvec: int) -> int:
    """Allocate Linux IRQs for ``descs`` (new, in ``dev.msi.descs``) in the device domain.

    ``nvec`` is what the device asks for in total (``msi_prepare`` gets
    ``max(nvec, hwsize)`` when it runs per allocation).  On failure every
    IRQ allocated by this call is freed again and -errno returned (the
    descriptors stay; the caller frees them).  Caller holds ``dev.msi.mutex``.
    """
    data = msi_setup_device_data(dev)
    domain = data.domain
    if domain is None:
        return -ENODEV
    info: MsiDomainInfo = domain.host_data
    descs = list(descs)
    if info.prepare_once:
        base_info = info.alloc_data
    else:
        base_info = MsiAllocInfo()
        pops = _parent_ops(domain.parent)  # type: ignore[arg-type]
        assert pops is not None
        ret = await pops.msi_prepare(domain.parent, dev,  # type: ignore[arg-type]
                                     max(nvec, info.hwsize), base_info)
        if ret < 0:
            return ret
    for desc in descs:
        ret = await _alloc_desc_irqs(domain, desc, base_info)
        if ret < 0:
            await _free_descs_irqs(dev, descs)
            return ret
    return 0


async def _free_descs_irqs(dev: Any, descs: Iterable[MsiDesc]) -> None:
    for desc in descs:
        if not desc.irq:
            continue
        core = dev.kernel.irq
        for i in range(desc.nvec_used):
            d = core.descs.get(desc.irq + i)
            if d is not None and d.state & IRQD_ACTIVATED:
                await irq_domain_deactivate_irq(d.irq_data)
        await irq_domain_free_irqs(desc.irq, desc.nvec_used, core=core)
        desc.irq = 0


async def msi_domain_free_irqs(dev: Any, descs: Iterable[MsiDesc]) -> None:
    """``msi_domain_free_irqs_range``: deactivate and free the IRQs of ``descs``.

    Each descriptor's block goes to ``irq_domain_free_irqs(desc.irq,
    desc.nvec_used)``, which calls the domains' ``->free`` per IRQ (Linux)
    or once per block (``IRQ_DOMAIN_FREE_BULK``).  Caller holds
    ``dev.msi.mutex``.  May sleep.
    """
    await _free_descs_irqs(dev, list(descs))


async def msi_domain_alloc_irq_at(dev: Any, index: int, affinity: tuple[int, ...] | None,
                                  *, pci_msix: bool = True) -> MsiMap:
    """``msi_domain_alloc_irq_at``: one vector at ``index`` (or ``MSI_ANY_INDEX``).

    Needs a device domain whose parent supports ``MSI_FLAG_PCI_MSIX_ALLOC_DYN``
    (else ``index = -EINVAL``); -EBUSY when the index is taken, -ENOSPC when
    no index is free.  Takes ``dev.msi.mutex``.  May sleep.
    """
    data = msi_setup_device_data(dev)
    domain = data.domain
    if domain is None:
        return MsiMap(-ENODEV, 0)
    info: MsiDomainInfo = domain.host_data
    if not info.flags & MSI_FLAG_PCI_MSIX_ALLOC_DYN:
        return MsiMap(-EINVAL, 0)
    await data.mutex.lock()
    try:
        if index == MSI_ANY_INDEX:
            index = data.first_free_index(info.hwsize)
            if index < 0:
                return MsiMap(-ENOSPC, 0)
        elif index in data.descs:
            return MsiMap(-EBUSY, 0)
        desc = MsiDesc(dev, index, 1, pci_msix=pci_msix, affinity=affinity)
        data.descs[index] = desc
        ret = await msi_domain_alloc_irqs(dev, [desc], nvec=1)
        if ret < 0:
            del data.descs[index]
            return MsiMap(ret, 0)
        return MsiMap(index, desc.irq)
    finally:
        data.mutex.unlock()


async def msi_device_data_release(dev: Any) -> None:
    """``msi_device_data_release``: free leftover IRQs and descriptors, remove the domain.

    Runs when a driver is unbound (devres): what the driver did not free is
    freed here, then the device domain goes (``msi_teardown``).
    """
    data = getattr(dev, "msi", None)
    if data is None:
        return
    await data.mutex.lock()
    try:
        descs = [data.descs[i] for i in sorted(data.descs)]
        await _free_descs_irqs(dev, descs)
        data.descs.clear()
        await msi_remove_device_irq_domain(dev)
    finally:
        data.mutex.unlock()


def check_affinity(kernel: Any, name: str, cpus: Any) -> tuple[int, ...] | None:
    """Validate an optional CPU mask argument (``None`` allowed)."""
    if cpus is None:
        return None
    if isinstance(cpus, str | bytes):
        raise InvalidArgumentType(f"{name} must be an iterable of CPU numbers, not {cpus!r}")
    return kernel.irq.cpumask(name, cpus)  # type: ignore[no-any-return]
