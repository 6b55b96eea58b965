"""Hierarchical irq domains (``kernel/irq/irqdomain.c``).

An :class:`IrqDomain` translates hardware interrupt numbers of one
controller into Linux IRQ numbers; domains stack (PCI-MSI -> ITS -> GIC).
Allocation (:func:`irq_domain_alloc_irqs`) allocates descriptors, builds one
:class:`~irqlab.kernel.irq.desc.IrqData` per level, calls the top domain's
``alloc`` (which calls :func:`irq_domain_alloc_irqs_parent` to descend) under
``irq_domain_mutex``, and inserts the reverse maps; on failure it frees the
per-level data and the descriptors.  Free calls ``->free(virq + i, 1)`` per
IRQ like Linux today, or once for the whole block when the domain has
:data:`IRQ_DOMAIN_FREE_BULK` (the flag proposed in seed 002).  Activation
runs parent before child (with rollback), deactivation child before parent.

``alloc``/``free``/``activate``/``deactivate``/``translate`` of
:class:`IrqDomainOps` may be ``async def`` or plain functions: the core awaits
their result when it is awaitable.
"""

from __future__ import annotations

import inspect
from types import CoroutineType
from typing import Any

from irqlab import sim
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue, check_int
from irqlab.kernel.errno import EEXIST, EINVAL, ENOENT, ENOMEM, ENOSYS
from irqlab.kernel.irq.chip import IrqChip, no_irq_chip
from irqlab.kernel.irq.desc import (
    IRQD_ACTIVATED,
    IrqCore,
    IrqData,
    irq_core,
)

__all__ = [
    "DOMAIN_BUS_ANY",
    "DOMAIN_BUS_NEXUS",
    "DOMAIN_BUS_PCI_DEVICE_MSIX",
    "DOMAIN_BUS_PCI_MSI",
    "DOMAIN_BUS_WIRED",
    "IRQ_DOMAIN_FLAG_HIERARCHY",
    "IRQ_DOMAIN_FLAG_MSI_PARENT",
    "IRQ_DOMAIN_FREE_BULK",
    "IrqDomain",
    "IrqDomainOps",
    "IrqFwspec",
    "irq_create_fwspec_mapping",
    "irq_dispose_mapping",
    "irq_domain_activate_irq",
    "irq_domain_alloc_irqs",
    "irq_domain_alloc_irqs_parent",
    "irq_domain_create_hierarchy",
    "irq_domain_deactivate_irq",
    "irq_domain_free_irqs",
    "irq_domain_free_irqs_common",
    "irq_domain_free_irqs_parent",
    "irq_domain_get_irq_data",
    "irq_domain_remove",
    "irq_domain_reset_irq_data",
    "irq_domain_set_hwirq_and_chip",
    "irq_domain_set_info",
    "irq_domain_translate",
    "irq_find_mapping",
]

IRQ_DOMAIN_FLAG_HIERARCHY = 1 << 0
IRQ_DOMAIN_FLAG_MSI_PARENT = 1 << 8
IRQ_DOMAIN_FLAG_MSI_DEVICE = 1 << 9
#: Seed 002 proposal: free a block with one ``->free(virq, nr_irqs)`` call.
IRQ_DOMAIN_FREE_BULK = 1 << 16

DOMAIN_BUS_ANY = 0
DOMAIN_BUS_WIRED = 1
DOMAIN_BUS_NEXUS = 3
DOMAIN_BUS_PCI_MSI = 4
DOMAIN_BUS_PCI_DEVICE_MSIX = 19


async def _maybe(v: Any) -> Any:
    if type(v) is CoroutineType or inspect.isawaitable(v):
        return await v
    return v


class IrqFwspec:
    """``struct irq_fwspec``: ``param`` cells from the device tree (``fwnode`` optional).

    For the GIC: ``(type, number, flags)`` with type 0 = SPI (INTID 32 + n),
    1 = PPI (INTID 16 + n), and flags the trigger (1 edge rising, 4 level high).
    """

    __slots__ = ("fwnode", "param")

    def __init__(self, *param: int, fwnode: Any = None) -> None:
        self.param = tuple(param)
        self.fwnode = fwnode

    def __repr__(self) -> str:
        return f"IrqFwspec{self.param}"


class IrqDomainOps:
    """``struct irq_domain_ops``: subclass and override (sync or async methods).

    ``alloc(domain, virq, nr_irqs, arg) -> 0 | -errno`` sets up every level it
    owns (:func:`irq_domain_set_hwirq_and_chip`) and normally calls
    :func:`irq_domain_alloc_irqs_parent` first; ``free(domain, virq, nr_irqs)``;
    ``activate(domain, data, reserve) -> 0 | -errno``; ``deactivate(domain,
    data)``; ``translate(domain, fwspec) -> (hwirq, type)`` or ``-errno``.
    """

    async def alloc(self, domain: IrqDomain, virq: int, nr_irqs: int, arg: Any) -> int:
        """Default: -EINVAL (a domain must implement alloc to be allocated from)."""
        return -EINVAL

    async def free(self, domain: IrqDomain, virq: int, nr_irqs: int) -> None:
        """Default: :func:`irq_domain_free_irqs_common`."""
        await irq_domain_free_irqs_common(domain, virq, nr_irqs)

    async def activate(self, domain: IrqDomain, data: IrqData, reserve: bool) -> int:
        """Default: nothing to do (0)."""
        return 0

    async def deactivate(self, domain: IrqDomain, data: IrqData) -> None:
        """Default: nothing to do."""

    def translate(self, domain: IrqDomain, fwspec: IrqFwspec) -> tuple[int, int] | int:
        """Default (``irq_domain_translate_twocell``): ``(param[0], param[1])``."""
        if len(fwspec.param) < 2:
            return -EINVAL
        return fwspec.param[0], fwspec.param[1]


class IrqDomain:
    """``struct irq_domain``: a hwirq -> Linux IRQ mapping for one controller level.

    ``name``, ``ops`` (:class:`IrqDomainOps`), ``parent`` (``None`` at the
    root), ``host_data`` (the driver's data), ``flags`` (``IRQ_DOMAIN_FLAG_*``,
    :data:`IRQ_DOMAIN_FREE_BULK`), ``revmap`` (hwirq -> virq), ``bus_token``
    (``DOMAIN_BUS_*``), ``msi_parent_ops`` (MSI parents), ``dev`` (per-device
    domains), ``mapcount``.  Build with :func:`irq_domain_create_hierarchy`
    or directly; construction registers it with the core.
    """

    def __init__(self, core: IrqCore, name: str, ops: IrqDomainOps, *,
                 parent: IrqDomain | None = None, host_data: Any = None, flags: int = 0,
                 bus_token: int = DOMAIN_BUS_ANY, size: int = 0, fwnode: Any = None) -> None:
        if not isinstance(core, IrqCore):
            raise InvalidArgumentType(f"core must be an IrqCore, not {core!r}")
        if not isinstance(name, str):
            raise InvalidArgumentType(f"name must be a str, not {name!r}")
        if not isinstance(ops, IrqDomainOps):
            raise InvalidArgumentType(f"ops must be an IrqDomainOps, not {ops!r}")
        if parent is not None and not isinstance(parent, IrqDomain):
            raise InvalidArgumentType(f"parent must be an IrqDomain or None, not {parent!r}")
        check_int("flags", flags, 0, (1 << 32) - 1)
        self.core = core
        self.name = name
        self.ops = ops
        self.parent = parent
        self.host_data = host_data
        self.flags = flags | (IRQ_DOMAIN_FLAG_HIERARCHY if parent is not None else 0)
        self.bus_token = bus_token
        self.fwnode = fwnode
        self.hwirq_max = size
        self.revmap: dict[int, int] = {}
        self.mapcount = 0
        self.msi_parent_ops: Any = None
        self.dev: Any = None
        self.removed = False
        core.domains.append(self)
        ev = core.events
        if ev.enabled and ev.should_emit("irq_domain_create"):
            ev.emit("irq_domain_create", cpu=None, domain=name,
                    parent=parent.name if parent is not None else "")

    @property
    def root(self) -> IrqDomain:
        """The bottom of the hierarchy."""
        d = self
        while d.parent is not None:
            d = d.parent
        return d

    def __repr__(self) -> str:
        return f"<IrqDomain {self.name} mapped={self.mapcount}>"


def irq_domain_create_hierarchy(parent: IrqDomain | None, flags: int, size: int, fwnode: Any,
                                ops: IrqDomainOps, host_data: Any, *, name: str | None = None,
                                core: IrqCore | None = None) -> IrqDomain:
    """``irq_domain_create_hierarchy``: a domain stacked on ``parent`` (plain call)."""
    if core is None:
        core = parent.core if parent is not None else irq_core()
    return IrqDomain(core, name or type(ops).__name__, ops, parent=parent, host_data=host_data,
                     flags=flags, size=size, fwnode=fwnode)


def irq_domain_remove(domain: IrqDomain) -> None:
    """``irq_domain_remove``: unregister (every mapping must be gone; else a warning event)."""
    core = domain.core
    ev = core.events
    if domain.mapcount and ev.enabled:
        ev.emit("irq_domain_remove_busy", cpu=None, domain=domain.name, mapped=domain.mapcount)
    if domain in core.domains:
        core.domains.remove(domain)
    if core.default_domain is domain:
        core.default_domain = None
    domain.removed = True
    if ev.enabled and ev.should_emit("irq_domain_remove"):
        ev.emit("irq_domain_remove", cpu=None, domain=domain.name)


# -- per-level data -------------------------------------------------------------------------

def irq_domain_get_irq_data(domain: IrqDomain, virq: int) -> IrqData | None:
    """``irq_domain_get_irq_data``: the level of ``virq`` that belongs to ``domain``."""
    desc = domain.core.descs.get(virq)
    d = None if desc is None else desc.irq_data
    while d is not None:
        if d.domain is domain:
            return d
        d = d.parent_data
    return None


def irq_domain_set_hwirq_and_chip(domain: IrqDomain, virq: int, hwirq: int,
                                  chip: IrqChip | None, chip_data: Any) -> int:
    """``irq_domain_set_hwirq_and_chip``: fill ``domain``'s level of ``virq``; 0 or -ENOENT."""
    d = irq_domain_get_irq_data(domain, virq)
    if d is None:
        return -ENOENT
    d.hwirq = hwirq
    d.chip = chip if chip is not None else no_irq_chip
    d.chip_data = chip_data
    return 0


def irq_domain_set_info(domain: IrqDomain, virq: int, hwirq: int, chip: IrqChip | None,
                        chip_data: Any, handler: Any, handler_data: Any = None,
                        handler_name: str | None = None) -> None:
    """``irq_domain_set_info``: hwirq, chip and the flow handler in one call."""
    irq_domain_set_hwirq_and_chip(domain, virq, hwirq, chip, chip_data)
    desc = domain.core.descs.get(virq)
    if desc is not None:
        desc.handle_irq = handler
        desc.handler_data = handler_data
        if handler_name is not None:
            desc.name = handler_name


def irq_domain_reset_irq_data(data: IrqData) -> None:
    """``irq_domain_reset_irq_data``."""
    data.hwirq = 0
    data.chip = no_irq_chip
    data.chip_data = None


async def irq_domain_free_irqs_common(domain: IrqDomain, virq: int, nr_irqs: int) -> None:
    """``irq_domain_free_irqs_common``: reset this level, then free the parent's."""
    for i in range(nr_irqs):
        d = irq_domain_get_irq_data(domain, virq + i)
        if d is not None:
            irq_domain_reset_irq_data(d)
    await irq_domain_free_irqs_parent(domain, virq, nr_irqs)


def _alloc_irq_data(domain: IrqDomain, virq: int, nr_irqs: int) -> int:
    core = domain.core
    for i in range(nr_irqs):
        desc = core.descs[virq + i]
        top = desc.irq_data
        top.domain = domain
        child = top
        parent = domain.parent
        while parent is not None:
            pd = IrqData(virq + i, desc, parent)
            child.parent_data = pd
            child = pd
            parent = parent.parent
    return 0


def _free_irq_data(core: IrqCore, virq: int, nr_irqs: int) -> None:
    for i in range(nr_irqs):
        desc = core.descs.get(virq + i)
        if desc is None:
            continue
        d = desc.irq_data
        d.parent_data = None
        d.domain = None
        irq_domain_reset_irq_data(d)


async def _alloc_hierarchy(domain: IrqDomain, virq: int, nr_irqs: int, arg: Any) -> int:
    ev = domain.core.events
    if ev.enabled and ev.should_emit("irq_domain_alloc"):
        ev.emit("irq_domain_alloc", cpu=sim.smp_processor_id(), domain=domain.name,
                irq=virq, nr=nr_irqs)
    ret = await _maybe(domain.ops.alloc(domain, virq, nr_irqs, arg))
    ret = 0 if ret is None else int(ret)
    if ret < 0 and ev.enabled:
        ev.emit("irq_domain_alloc_failed", cpu=sim.smp_processor_id(), domain=domain.name,
                irq=virq, nr=nr_irqs, err=ret)
    return ret


async def _free_hierarchy(domain: IrqDomain, virq: int, nr_irqs: int) -> None:
    ev = domain.core.events
    if domain.flags & IRQ_DOMAIN_FREE_BULK:
        if ev.enabled and ev.should_emit("irq_domain_free"):
            ev.emit("irq_domain_free", cpu=sim.smp_processor_id(), domain=domain.name,
                    irq=virq, nr=nr_irqs)
        await _maybe(domain.ops.free(domain, virq, nr_irqs))
        return
    for i in range(nr_irqs):
        if irq_domain_get_irq_data(domain, virq + i) is not None:
            if ev.enabled and ev.should_emit("irq_domain_free"):
                ev.emit("irq_domain_free", cpu=sim.smp_processor_id(), domain=domain.name,
                        irq=virq + i, nr=1)
            await _maybe(domain.ops.free(domain, virq + i, 1))


async def irq_domain_alloc_irqs_parent(domain: IrqDomain, virq: int, nr_irqs: int,
                                       arg: Any) -> int:
    """``irq_domain_alloc_irqs_parent``: call the parent's ``alloc`` (-ENOSYS at the root)."""
    if domain.parent is None:
        return -ENOSYS
    return await _alloc_hierarchy(domain.parent, virq, nr_irqs, arg)


async def irq_domain_free_irqs_parent(domain: IrqDomain, virq: int, nr_irqs: int) -> None:
    """``irq_domain_free_irqs_parent``."""
    if domain.parent is not None:
        await _free_hierarchy(domain.parent, virq, nr_irqs)


async def irq_domain_alloc_irqs(domain: IrqDomain, nr_irqs: int, *, arg: Any = None,
                                affinity: Any = None, name: str = "") -> int:
    """``irq_domain_alloc_irqs``: ``nr_irqs`` consecutive IRQs through the hierarchy.

    Returns the first Linux IRQ number or a negative errno (the failing
    domain's ``alloc`` result, -ENOMEM when no IRQ numbers are left).  On
    failure every level's data and the descriptors are released: the
    descriptor table and the reverse maps are as before.  May sleep (takes
    ``irq_domain_mutex``): task context only.
    """
    if not isinstance(domain, IrqDomain):
        raise InvalidArgumentType(f"domain must be an IrqDomain, not {domain!r}")
    if type(nr_irqs) is not int or not 1 <= nr_irqs <= 1 << 16:
        check_int("nr_irqs", nr_irqs, 1, 1 << 16)
    core = domain.core
    virq = core.alloc_descs(nr_irqs, affinity=affinity, name=name)
    if virq < 0:
        return -ENOMEM
    _alloc_irq_data(domain, virq, nr_irqs)
    await core.domain_mutex.lock()
    try:
        ret = await _alloc_hierarchy(domain, virq, nr_irqs, arg)
        if ret < 0:
            _free_irq_data(core, virq, nr_irqs)
            core.free_descs(virq, nr_irqs)
            return ret
        for i in range(nr_irqs):
            _insert_irq(core, virq + i)
    finally:
        core.domain_mutex.unlock()
    return virq


def _insert_irq(core: IrqCore, virq: int) -> None:
    d: IrqData | None = core.descs[virq].irq_data
    while d is not None:
        dom = d.domain
        if dom is not None:
            if d.hwirq in dom.revmap and dom.revmap[d.hwirq] != virq:
                ev = core.events
                if ev.enabled and ev.should_emit("irq_domain_revmap_clash"):
                    ev.emit("irq_domain_revmap_clash", cpu=None, domain=dom.name,
                            hwirq=d.hwirq, old=dom.revmap[d.hwirq], irq=virq, err=-EEXIST)
            dom.revmap[d.hwirq] = virq
            dom.mapcount += 1
        d = d.parent_data


def _remove_irq(core: IrqCore, virq: int) -> None:
    desc = core.descs.get(virq)
    d = None if desc is None else desc.irq_data
    while d is not None:
        dom = d.domain
        if dom is not None and dom.revmap.get(d.hwirq) == virq:
            del dom.revmap[d.hwirq]
            dom.mapcount -= 1
        d = d.parent_data


async def irq_domain_free_irqs(virq: int, nr_irqs: int, *, core: IrqCore | None = None) -> None:
    """``irq_domain_free_irqs``: remove the mappings, ``->free`` the levels, free descriptors.

    ``->free(virq + i, 1)`` is called per IRQ (Linux today) unless the top
    domain has :data:`IRQ_DOMAIN_FREE_BULK`.  May sleep (``irq_domain_mutex``).
    """
    if core is None:
        core = irq_core()
    check_int("nr_irqs", nr_irqs, 1, 1 << 16)
    desc = core.descs.get(virq)
    if desc is None or desc.irq_data.domain is None:
        raise InvalidArgumentValue(
            f"virq must be an IRQ allocated from a domain, not {virq!r}")
    domain = desc.irq_data.domain
    await core.domain_mutex.lock()
    try:
        for i in range(nr_irqs):
            _remove_irq(core, virq + i)
        await _free_hierarchy(domain, virq, nr_irqs)
    finally:
        core.domain_mutex.unlock()
    _free_irq_data(core, virq, nr_irqs)
    core.free_descs(virq, nr_irqs)


# -- activation ----------------------------------------------------------------------------

async def _activate(data: IrqData, reserve: bool) -> int:
    domain = data.domain
    if domain is None:
        return 0
    parent = data.parent_data
    ret = 0
    if parent is not None:
        ret = await _activate(parent, reserve)
    if ret == 0:
        ev = domain.core.events
        if ev.enabled and ev.should_emit("irq_domain_activate"):
            ev.emit("irq_domain_activate", cpu=sim.smp_processor_id(), domain=domain.name,
                    irq=data.irq, hwirq=data.hwirq, reserve=bool(reserve))
        ret = await _maybe(domain.ops.activate(domain, data, reserve))
        ret = 0 if ret is None else int(ret)
        if ret and parent is not None:
            await _deactivate(parent)
    return ret


async def _deactivate(data: IrqData) -> None:
    domain = data.domain
    if domain is None:
        return
    ev = domain.core.events
    if ev.enabled and ev.should_emit("irq_domain_deactivate"):
        ev.emit("irq_domain_deactivate", cpu=sim.smp_processor_id(), domain=domain.name,
                irq=data.irq, hwirq=data.hwirq)
    await _maybe(domain.ops.deactivate(domain, data))
    if data.parent_data is not None:
        await _deactivate(data.parent_data)


async def irq_domain_activate_irq(data: IrqData, reserve: bool = False) -> int:
    """``irq_domain_activate_irq``: activate every level, parent first; 0 or -errno.

    A level that fails rolls back the levels below it.  Idempotent
    (``IRQD_ACTIVATED``).  Does not sleep by itself (callers hold
    ``desc.lock``).
    """
    desc = data.desc
    if desc.state & IRQD_ACTIVATED:
        return 0
    ret = await _activate(data, reserve)
    if ret == 0:
        desc.state |= IRQD_ACTIVATED
    return ret


async def irq_domain_deactivate_irq(data: IrqData) -> None:
    """``irq_domain_deactivate_irq``: deactivate every level, child first (if activated)."""
    desc = data.desc
    if desc.state & IRQD_ACTIVATED:
        await _deactivate(data)
        desc.state &= ~IRQD_ACTIVATED


# -- lookups --------------------------------------------------------------------------------

def irq_find_mapping(domain: IrqDomain, hwirq: int) -> int:
    """``irq_find_mapping``: the Linux IRQ of ``hwirq`` in ``domain``, 0 if unmapped."""
    return domain.revmap.get(hwirq, 0)


async def irq_domain_translate(domain: IrqDomain, fwspec: IrqFwspec) -> tuple[int, int] | int:
    """Call ``domain.ops.translate``: ``(hwirq, type)`` or -errno."""
    return await _maybe(domain.ops.translate(domain, fwspec))  # type: ignore[no-any-return]


async def irq_create_fwspec_mapping(fwspec: IrqFwspec, domain: IrqDomain | None = None) -> int:
    """``irq_create_fwspec_mapping``: the Linux IRQ for a firmware description; 0 on failure.

    ``domain`` defaults to the core's default domain (the GIC).  An existing
    mapping is returned as is.  May sleep.
    """
    if not isinstance(fwspec, IrqFwspec):
        raise InvalidArgumentType(f"fwspec must be an IrqFwspec, not {fwspec!r}")
    if domain is None:
        domain = irq_core().default_domain
        if domain is None:
            return 0
    t = await irq_domain_translate(domain, fwspec)
    if isinstance(t, int):
        return 0
    hwirq = t[0]
    virq = domain.revmap.get(hwirq)
    if virq is not None:
        return virq
    virq = await irq_domain_alloc_irqs(domain, 1, arg=fwspec)
    return virq if virq > 0 else 0


async def irq_dispose_mapping(virq: int) -> None:
    """``irq_dispose_mapping``: free a mapping made by :func:`irq_create_fwspec_mapping`."""
    core = irq_core()
    if virq in core.descs:
        await irq_domain_free_irqs(virq, 1, core=core)
