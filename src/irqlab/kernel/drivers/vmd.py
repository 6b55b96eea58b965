"""The VMD driver (``drivers/pci/controller/vmd.c``): child MSIs multiplexed onto VMD vectors.

A :class:`VmdDev` owns the VMD's MSI-X vectors (Linux IRQs of its own, from
the ITS or any parent) and one :class:`VmdIrqList` per vector.  Child devices
behind the VMD allocate their MSIs from the VMD's irq domain
(:attr:`VmdDev.irq_domain`: the MSI parent of their per-device MSI domains,
or used directly by software-only worlds).  Each child IRQ gets a
:class:`VmdIrq` on one vector's list; its message is
``0xfee00000 | vector << 12`` (:meth:`VmdMsiChip.irq_compose_msi_msg`), which
the VMD hardware (:mod:`irqlab.hw.vmd`) turns into its own MSI-X vector.
When a VMD vector fires, :func:`vmd_flow_handler` (chained, the RFC) or
:func:`vmd_irq` (a requested handler, the final driver) walks that vector's
list and runs ``generic_handle_irq`` for every child on it.

Design knobs (seed 004), fixed per :class:`VmdDev`:

* ``policy``: ``"modulo"`` (the RFC: ``irqs[virq % msix_count]``) or
  ``"least-loaded"`` (the final driver's ``vmd_next_irq``: vector
  ``first_vec`` is reserved for non-NVMe children; NVMe children get the
  least-loaded other vector, lowest index on ties; counts under
  ``list_lock``).
* ``sync``: how the walk and the free path are synchronised.  ``"rcu"``: the
  walk is an RCU read section, ``VmdIrq`` entries are freed with
  ``kfree_rcu`` (the RFC after review); ``"srcu"``: the walk is an SRCU read
  section of the vector's ``srcu``, and ``vmd_msi_free`` waits in
  ``synchronize_srcu`` before ``kfree`` (the final driver).  Whether the
  child's ``irq_desc`` itself survives the walk is the kernel's business
  (``options["irq_desc_free"]``, "genirq: Free irq_desc with rcu").

Locking: ``list_lock`` (raw spinlock, irqsave) protects list membership and
counts; list readers take no lock.  The chip callbacks run under the child's
``desc.lock`` with interrupts off (no sleeping); ``vmd_msi_free`` may sleep
(``synchronize_srcu``), it runs under ``irq_domain_mutex``.

Model choices (IMPDEF / deviations): a child's hwirq in the VMD domain is its
Linux IRQ number (Linux stores the vector's IRQ, which would clash in our
reverse map); the child flow handler is ``handle_simple_irq`` (Linux uses
``handle_untracked_irq``); the list is enabled/disabled from the chip's
``irq_unmask``/``irq_mask`` (Linux: ``irq_enable``/``irq_disable``; same
order: add then unmask, mask then remove -- the PCI-MSI level above calls
only mask/unmask on its parent here).
"""

from __future__ import annotations

from typing import Any

from irqlab import sim
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue, check_int
from irqlab.kernel.errno import EINVAL, ENODEV
from irqlab.kernel.irq.chip import (
    IRQ_HANDLED,
    IrqChip,
    MsiMsg,
    chained_irq_enter,
    chained_irq_exit,
    generic_handle_irq,
    handle_bad_irq,
    handle_fasteoi_irq,
    handle_simple_irq,
)
from irqlab.kernel.irq.desc import IrqCore, IrqData, IrqDesc
from irqlab.kernel.irq.domain import (
    IRQ_DOMAIN_FLAG_MSI_PARENT,
    IrqDomain,
    IrqDomainOps,
    irq_domain_get_irq_data,
    irq_domain_remove,
    irq_domain_reset_irq_data,
    irq_domain_set_info,
)
from irqlab.kernel.msi import MSI_FLAG_PCI_MSIX, MsiParentOps
from irqlab.kernel.pci import (
    PCI_IRQ_MSIX,
    PciBus,
    PciDev,
    PciDriver,
    pci_alloc_irq_vectors,
    pci_free_irq_vectors,
    pci_irq_vector,
)

__all__ = [
    "PCI_CLASS_STORAGE_EXPRESS",
    "VMD_POLICIES",
    "VMD_SYNCS",
    "VmdBus",
    "VmdChildInfo",
    "VmdDev",
    "VmdIrq",
    "VmdIrqList",
    "VmdMsiChip",
    "VmdMsiParentOps",
    "VmdPciDev",
    "vmd_create",
    "vmd_destroy",
    "vmd_flow_handler",
    "vmd_irq",
    "vmd_msi_address",
    "vmd_pci_driver",
    "vmd_probe",
    "vmd_remove",
    "vmd_soft_vectors",
]

PCI_CLASS_STORAGE_EXPRESS = 0x010802
VMD_MSI_BASE = 0xFEE0_0000
VMD_POLICIES = ("modulo", "least-loaded")
VMD_SYNCS = ("rcu", "srcu")
IRQF_NO_THREAD = 0x10000


def vmd_msi_address(index: int) -> int:
    """``vmd_compose_msi_msg``'s address for VMD vector ``index``."""
    return VMD_MSI_BASE | (index << 12)


class VmdIrqList:
    """``struct vmd_irq_list``: the children on one VMD vector.

    ``irq_list`` is an RCU list: writers (under ``list_lock``) replace the
    tuple, readers read it once and walk what they read -- entries removed
    meanwhile stay reachable for them, as with ``list_del_rcu``.  ``srcu``
    guards the walk in the ``srcu`` design; ``count`` is the number of
    children assigned (the least-loaded policy's load); ``virq`` the VMD
    vector's Linux IRQ; ``index`` its MSI-X index.
    """

    __slots__ = ("count", "index", "irq_list", "srcu", "virq", "vmd")

    srcu: sim.SrcuStruct

    def __init__(self, vmd: VmdDev, index: int, virq: int) -> None:
        self.vmd = vmd
        self.index = index
        self.virq = virq
        self.irq_list: tuple[VmdIrq, ...] = ()
        self.count = 0

    def __getattr__(self, name: str) -> Any:
        # only reached while the slot is unset: ``srcu`` is built on first use
        if name == "srcu":
            s = self.srcu = sim.SrcuStruct(f"vmd.irqs[{self.index}].srcu")
            return s
        raise AttributeError(f"'VmdIrqList' object has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"<VmdIrqList {self.index} virq={self.virq} count={self.count}>"


class VmdIrq:
    """``struct vmd_irq``: one child IRQ (``virq``) on the list of vector ``irq``.

    An engine-tracked object (allocated in ``vmd_msi_alloc``, freed in
    ``vmd_msi_free``).  ``enabled``: on the list.
    """

    __slots__ = ("__weakref__", "enabled", "irq", "nvme", "virq")

    def __init__(self, irq: VmdIrqList, virq: int, nvme: bool = False) -> None:
        self.irq = irq
        self.virq = virq
        self.enabled = False
        #: The child is an NVMe controller (the least-loaded policy's "fast" class).
        self.nvme = nvme

    def __repr__(self) -> str:
        return f"<VmdIrq virq={self.virq} vector={self.irq.index}>"


class VmdChildInfo:
    """The allocation argument of a child that has no PCI device model (software worlds).

    ``class_code``: the child's PCI class (NVMe: ``PCI_CLASS_STORAGE_EXPRESS``).
    """

    __slots__ = ("class_code",)

    def __init__(self, class_code: int = PCI_CLASS_STORAGE_EXPRESS) -> None:
        self.class_code = check_int("class_code", class_code, 0, 0xFF_FFFF)


def _child_class(arg: Any) -> int:
    """The PCI class of the child an allocation is for (MSI core info or VmdChildInfo)."""
    desc = getattr(arg, "desc", None)
    dev = getattr(desc, "dev", None)
    if dev is not None:
        return int(getattr(dev, "class_code", 0))
    return int(getattr(arg, "class_code", 0))


class VmdDev:
    """``struct vmd_dev``: the VMD's vectors, their lists, the child irq domain.

    Build it with :func:`vmd_create` (software worlds) or :func:`vmd_probe`
    (the PCI driver); fields: ``core``
    (the :class:`IrqCore`), ``irqs`` (one :class:`VmdIrqList` per vector),
    ``msix_count``, ``first_vec`` (the vector reserved for non-NVMe
    children), ``policy``, ``sync``, ``chained``, ``irq_domain``,
    ``list_lock``, ``pdev`` (the VMD's PCI device, if any), ``hw`` (the
    :class:`irqlab.hw.vmd.Vmd`, if any).
    """

    def __init__(self, core: IrqCore, *, policy: str = "least-loaded", sync: str = "srcu",
                 chained: bool = True, first_vec: int = 0) -> None:
        if not isinstance(core, IrqCore):
            raise InvalidArgumentType(f"core must be an IrqCore, not {core!r}")
        if policy not in VMD_POLICIES:
            raise InvalidArgumentValue(
                f"policy must be one of {', '.join(VMD_POLICIES)}, not {policy!r}")
        if sync not in VMD_SYNCS:
            raise InvalidArgumentValue(f"sync must be one of {', '.join(VMD_SYNCS)}, not {sync!r}")
        if not isinstance(chained, bool):
            raise InvalidArgumentType(f"chained must be a bool, not {chained!r}")
        self.core = core
        self.events = core.events
        self.policy = policy
        self.sync = sync
        self.chained = chained
        self.first_vec = check_int("first_vec", first_vec, 0, 1)
        self.irqs: list[VmdIrqList] = []
        self.msix_count = 0
        self.irq_domain: IrqDomain | None = None
        #: ``list_lock`` (a static raw spinlock in Linux; one per VMD here).
        self.list_lock = sim.SpinLock("vmd.list_lock", raw=True, key="vmd.list_lock")
        self.chip = VmdMsiChip()
        self.pdev: Any = None
        self.hw: Any = None
        self.bus: Any = None

    def histogram(self) -> list[int]:
        """Children assigned per vector (index order)."""
        return [irqs.count for irqs in self.irqs]

    def entries(self) -> list[list[VmdIrq]]:
        """The enabled children on each vector's list (index order)."""
        return [list(irqs.irq_list) for irqs in self.irqs]

    def __repr__(self) -> str:
        return f"<VmdDev vectors={self.msix_count} policy={self.policy} sync={self.sync}>"


def _emit(vmd: VmdDev, kind: str, **args: Any) -> None:
    ev = vmd.events
    if ev.enabled and ev.should_emit(kind):
        ev.emit(kind, cpu=sim.smp_processor_id(), **args)


# -- vector assignment ---------------------------------------------------------------------

async def vmd_next_irq(vmd: VmdDev, virq: int, class_code: int) -> VmdIrqList:
    """Pick the vector for child IRQ ``virq`` and count it (``list_lock`` irqsave).

    ``modulo``: ``virq % msix_count`` (the RFC).  ``least-loaded``: one
    vector for everything, if that is all there is; ``first_vec`` for
    non-NVMe children; else the least-loaded vector above ``first_vec``,
    lowest index on ties.
    """
    n = vmd.msix_count
    flags = await vmd.list_lock.lock_irqsave()
    if vmd.policy == "modulo":
        best = virq % n
    elif n == 1 + vmd.first_vec or class_code != PCI_CLASS_STORAGE_EXPRESS:
        best = vmd.first_vec
    else:
        best = vmd.first_vec + 1
        for i in range(best + 1, n):
            if vmd.irqs[i].count < vmd.irqs[best].count:
                best = i
    irqs = vmd.irqs[best]
    irqs.count += 1
    vmd.list_lock.unlock_irqrestore(flags)
    return irqs


# -- the chip ---------------------------------------------------------------------------------

class VmdMsiChip(IrqChip):
    """``vmd_msi_controller``: list membership, the VMD message, no affinity.

    Runs under the child's ``desc.lock`` with interrupts off.
    """

    name = "VMD-MSI"

    async def irq_unmask(self, data: IrqData) -> None:
        """``vmd_irq_enable``: put the child on its vector's list (then the caller unmasks)."""
        vmdirq: VmdIrq = data.chip_data
        vmd = vmdirq.irq.vmd
        flags = await vmd.list_lock.lock_irqsave()
        if not vmdirq.enabled:
            irqs = vmdirq.irq
            irqs.irq_list = (*irqs.irq_list, vmdirq)  # list_add_tail_rcu
            sim.note_access(irqs, True)
            vmdirq.enabled = True
            _emit(vmd, "vmd_irq_enable", irq=vmdirq.virq, vector=irqs.index)
        vmd.list_lock.unlock_irqrestore(flags)

    async def irq_mask(self, data: IrqData) -> None:
        """``vmd_irq_disable``: take the child off its list (the caller masked it first)."""
        vmdirq: VmdIrq = data.chip_data
        vmd = vmdirq.irq.vmd
        flags = await vmd.list_lock.lock_irqsave()
        if vmdirq.enabled:
            irqs = vmdirq.irq
            irqs.irq_list = tuple(e for e in irqs.irq_list if e is not vmdirq)  # list_del_rcu
            sim.note_access(irqs, True)
            vmdirq.enabled = False
            _emit(vmd, "vmd_irq_disable", irq=vmdirq.virq, vector=irqs.index)
        vmd.list_lock.unlock_irqrestore(flags)

    async def irq_compose_msi_msg(self, data: IrqData) -> MsiMsg:
        """``vmd_compose_msi_msg``: ``0xfee00000 | vector << 12``, data 0."""
        vmdirq: VmdIrq = data.chip_data
        return MsiMsg(address_lo=vmd_msi_address(vmdirq.irq.index), data=0)

    async def irq_set_affinity(self, data: IrqData, cpumask: tuple[int, ...],
                               force: bool) -> int:
        """``vmd_irq_set_affinity``: children follow their VMD vector: -EINVAL."""
        return -EINVAL


# -- the domain -------------------------------------------------------------------------------

class VmdMsiDomainOps(IrqDomainOps):
    """``vmd_msi_alloc``/``vmd_msi_free`` (the VMD domain has no parent)."""

    async def alloc(self, domain: IrqDomain, virq: int, nr_irqs: int, arg: Any) -> int:
        vmd: VmdDev = domain.host_data
        cls = _child_class(arg)
        for i in range(nr_irqs):
            irqs = await vmd_next_irq(vmd, virq + i, cls)
            vmdirq = sim.alloc(VmdIrq(irqs, virq + i, cls == PCI_CLASS_STORAGE_EXPRESS))
            irq_domain_set_info(domain, virq + i, virq + i, vmd.chip, vmdirq, handle_simple_irq,
                                vmd, "vmd")
            _emit(vmd, "vmd_msi_alloc", irq=virq + i, vector=irqs.index, nvme=bool(
                cls == PCI_CLASS_STORAGE_EXPRESS))
        return 0

    async def free(self, domain: IrqDomain, virq: int, nr_irqs: int) -> None:
        vmd: VmdDev = domain.host_data
        for i in range(nr_irqs):
            d = irq_domain_get_irq_data(domain, virq + i)
            if d is None or not isinstance(d.chip_data, VmdIrq):
                continue
            await vmd_msi_free(vmd, d.chip_data)
            irq_domain_reset_irq_data(d)


async def vmd_msi_free(vmd: VmdDev, vmdirq: VmdIrq) -> None:
    """``vmd_msi_free``: wait for the vector's readers (srcu), uncount, free the entry.

    ``srcu``: ``synchronize_srcu`` first -- no walk that may still hold this
    entry survives it, so neither the entry nor (after it) the child's
    descriptor can be used after its free.  ``rcu``: ``kfree_rcu``.  May sleep.
    """
    irqs = vmdirq.irq
    if vmd.sync == "srcu":
        await sim.synchronize_srcu(irqs.srcu)
    flags = await vmd.list_lock.lock_irqsave()
    irqs.count -= 1
    vmd.list_lock.unlock_irqrestore(flags)
    _emit(vmd, "vmd_msi_free", irq=vmdirq.virq, vector=irqs.index)
    if vmd.sync == "srcu":
        sim.kfree(vmdirq)
    else:
        sim.kfree_rcu(vmdirq)


class VmdMsiParentOps(MsiParentOps):
    """``vmd_msi_parent_ops``: children get MSI-X only, nothing to prepare per device."""

    supported_flags = MSI_FLAG_PCI_MSIX
    prefix = "VMD-"


# -- the handlers ---------------------------------------------------------------------------

async def vmd_walk(irqs: VmdIrqList) -> None:
    """Run every child on ``irqs``: ``list_for_each_entry_rcu`` + ``generic_handle_irq``.

    Hard-irq context.  The read of each entry and the use of the child's
    descriptor are separate steps (``sim.access``), so another CPU can free
    both in between: the seed-004 window.
    """
    vmd = irqs.vmd
    srcu = vmd.sync == "srcu"
    idx = sim.srcu_read_lock(irqs.srcu) if srcu else 0
    if not srcu:
        sim.rcu_read_lock()
    await sim.access(irqs, "r", "list_for_each_entry_rcu")
    for vmdirq in irqs.irq_list:
        await sim.access(vmdirq, "r", "vmdirq->virq")
        await generic_handle_irq(vmdirq.virq)
    if srcu:
        sim.srcu_read_unlock(irqs.srcu, idx)
    else:
        sim.rcu_read_unlock()


async def vmd_flow_handler(desc: IrqDesc) -> None:
    """``vmd_flow_handler`` (the RFC): a chained flow handler on a VMD vector."""
    chip = desc.irq_data.chip
    irqs: VmdIrqList = desc.handler_data
    await chained_irq_enter(chip, desc)
    await vmd_walk(irqs)
    await chained_irq_exit(chip, desc)


async def vmd_irq(irq: int, irqs: VmdIrqList) -> int:
    """``vmd_irq`` (the final driver): a requested handler (``IRQF_NO_THREAD``) on a vector."""
    await vmd_walk(irqs)
    return IRQ_HANDLED


# -- setup and teardown ---------------------------------------------------------------------

async def vmd_create(core: IrqCore, vectors: list[int], *, policy: str = "least-loaded",
                     sync: str = "srcu", chained: bool = True, first_vec: int = 0,
                     name: str = "VMD-MSI") -> VmdDev | int:
    """Set up a VMD on already-allocated vector IRQs ``vectors`` (index order).

    Builds the lists, installs the vector handlers (chained, or
    ``request_irq`` of :func:`vmd_irq`) and creates the VMD irq domain (an
    MSI parent).  Returns the :class:`VmdDev` or -errno.  May sleep.
    """
    from irqlab.kernel.irq.chip import irq_set_chained_handler_and_data
    from irqlab.kernel.irq.manage import request_irq

    if not isinstance(vectors, list | tuple) or not vectors:
        raise InvalidArgumentValue(f"vectors must be a non-empty list of IRQs, not {vectors!r}")
    for v in vectors:
        if type(v) is not int or v not in core.descs:
            raise InvalidArgumentValue(f"vectors must hold allocated IRQ numbers, not {v!r}")
    if first_vec and len(vectors) < 2:
        raise InvalidArgumentValue(f"first_vec must be 0 with one vector, not {first_vec!r}")
    vmd = VmdDev(core, policy=policy, sync=sync, chained=chained, first_vec=first_vec)
    vmd.msix_count = len(vectors)
    vmd.irqs = [VmdIrqList(vmd, i, v) for i, v in enumerate(vectors)]
    for irqs in vmd.irqs:
        if chained:
            await irq_set_chained_handler_and_data(irqs.virq, vmd_flow_handler, irqs)
        else:
            ret = await request_irq(irqs.virq, vmd_irq, IRQF_NO_THREAD, "vmd", irqs)
            if ret < 0:
                return ret
    dom = IrqDomain(core, name, VmdMsiDomainOps(), host_data=vmd,
                    flags=IRQ_DOMAIN_FLAG_MSI_PARENT)
    dom.msi_parent_ops = VmdMsiParentOps()
    vmd.irq_domain = dom
    _emit(vmd, "vmd_create", vectors=len(vectors), policy=policy, sync=sync)
    return vmd


async def vmd_destroy(vmd: VmdDev) -> None:
    """Undo :func:`vmd_create`: stop the vector handlers, wait for walkers, remove the domain.

    Every child IRQ must be gone (``irq_domain_remove`` reports a busy
    domain otherwise).  The vector IRQs themselves stay (the caller frees
    them: ``pci_free_irq_vectors``).  May sleep.
    """
    from irqlab.kernel.irq.manage import free_irq, irq_shutdown, synchronize_irq

    for irqs in vmd.irqs:
        if vmd.chained:
            desc = vmd.core.descs.get(irqs.virq)
            if desc is None:
                continue
            # irq_set_chained_handler_and_data(irq, NULL, NULL)
            flags = await desc.lock.lock_irqsave()
            await irq_shutdown(desc)
            desc.handle_irq = handle_bad_irq
            desc.handler_data = None
            desc.lock.unlock_irqrestore(flags)
            await synchronize_irq(irqs.virq)
        else:
            await free_irq(irqs.virq, irqs)
    for irqs in vmd.irqs:  # vmd_cleanup_srcu
        await sim.synchronize_srcu(irqs.srcu)
    if vmd.irq_domain is not None:
        irq_domain_remove(vmd.irq_domain)
        vmd.irq_domain = None
    _emit(vmd, "vmd_destroy", vectors=vmd.msix_count)


# -- software-only worlds ------------------------------------------------------------------

class _VectorChip(IrqChip):
    """The controller under the VMD's own vectors in a world without ITS (EOI-mode, no-op)."""

    name = "VMD-MSIX"

    async def irq_eoi(self, data: IrqData) -> None:
        return None


class _VectorOps(IrqDomainOps):
    async def alloc(self, domain: IrqDomain, virq: int, nr_irqs: int, arg: Any) -> int:
        chip = domain.host_data
        base = arg if type(arg) is int else 0
        for i in range(nr_irqs):
            irq_domain_set_info(domain, virq + i, base + i, chip, None, handle_fasteoi_irq)
        return 0


async def vmd_soft_vectors(core: IrqCore, n: int, *,
                           name: str = "vmd-vectors") -> tuple[IrqDomain, list[int]]:
    """``n`` VMD vector IRQs from a stand-in root domain (hwirq = MSI-X index).

    For software-only worlds (scenarios, tests) where no ITS maps the VMD's
    MSI-X: deliver vector ``i`` with ``engine.raise_irq(cpu, i)`` and an irq
    entry that calls ``generic_handle_domain_irq(domain, cc.irq_intid)``.
    More IRQs come from the same domain with ``irq_domain_alloc_irqs(domain,
    nr, arg=first_hwirq)``.  May sleep.
    """
    from irqlab.kernel.irq.domain import irq_domain_alloc_irqs

    check_int("n", n, 1, 256)
    dom = IrqDomain(core, name, _VectorOps(), host_data=_VectorChip())
    base = await irq_domain_alloc_irqs(dom, n)
    if base < 0:
        raise sim.SimError(f"vmd_soft_vectors: no IRQ numbers left ({base})")
    return dom, list(range(base, base + n))


# -- the PCI driver (a VMD function on the host bridge, children behind it) ----------------------

VMD_ID_TABLE = [(0x8086, 0x201D)]


class VmdPciDev(PciDev):
    """A child function behind the VMD (``struct pci_dev`` in the VMD's PCI domain).

    Configuration space goes through the VMD's CFGBAR (MMIO from the running
    CPU); its MSI parent is the VMD's irq domain.
    """

    def __init__(self, bus: Any, fn: Any, vmd: VmdDev) -> None:
        self.vmd = vmd
        super().__init__(bus, fn)
        self.name = (f"10000:{fn.bdf >> 8:02x}:{(fn.bdf >> 3) & 31:02x}.{fn.bdf & 7}")
        self.msi_parent = vmd.irq_domain

    def config_read(self, reg: int, size: int = 4) -> int:
        cpu = self.kernel.machine.cpus[sim.smp_processor_id()]
        return int(cpu.read(self.vmd.hw.config_address(self.bdf, reg), size))

    def config_write(self, reg: int, value: int, size: int = 4) -> None:
        cpu = self.kernel.machine.cpus[sim.smp_processor_id()]
        cpu.write(self.vmd.hw.config_address(self.bdf, reg), value, size)


class VmdBus(PciBus):
    """The root bus of the VMD's PCI domain (``vmd->bus``): children, their drivers, hotplug."""

    def __init__(self, kernel: Any, vmd: VmdDev) -> None:
        # not PciBus.__init__: that one enumerates the host bridge
        self.kernel = kernel
        self.vmd = vmd
        self.devices: dict[int, Any] = {}
        self.drivers: list[Any] = []
        self.events = kernel.events
        for bdf, fn in vmd.hw.children.functions.items():
            self.devices[bdf] = VmdPciDev(self, fn, vmd)

    async def add_device(self, fn: Any) -> Any:
        """Hotplug behind the VMD: enumerate ``fn`` (added with ``Vmd.hot_add``) and bind it."""
        dev = VmdPciDev(self, fn, self.vmd)
        self.devices[fn.bdf] = dev
        for drv in self.drivers:
            if drv.matches(dev):
                await self._probe(drv, dev)
                break
        return dev


async def vmd_probe(pdev: Any, *, policy: str = "least-loaded", sync: str = "srcu",
                    chained: bool = True) -> int:
    """``vmd_probe``: the VMD's MSI-X vectors, lists and handlers, its domain and child bus.

    Returns 0 or -errno (-ENODEV: no VMD hardware behind ``pdev``).  May sleep.
    """
    hw = getattr(pdev.fn, "vmd", None)
    if hw is None:
        return -ENODEV
    n = pdev.msix_vec_count()
    if n < 1:
        return -ENODEV
    nvec = await pci_alloc_irq_vectors(pdev, 1, n, PCI_IRQ_MSIX)
    if nvec < 0:
        return int(nvec)
    vectors = [pci_irq_vector(pdev, i) for i in range(nvec)]
    vmd = await vmd_create(pdev.kernel.irq, vectors, policy=policy, sync=sync, chained=chained,
                           name=f"VMD-MSI-{pdev.name}")
    if isinstance(vmd, int):
        await pci_free_irq_vectors(pdev)
        return vmd
    vmd.pdev, vmd.hw = pdev, hw
    vmd.bus = VmdBus(pdev.kernel, vmd)
    pdev.driver_data = vmd
    return 0


async def vmd_remove(pdev: Any) -> None:
    """``vmd_remove``: remove the children, stop the handlers, free the VMD's vectors."""
    vmd: VmdDev | None = pdev.driver_data
    if vmd is None:
        return
    for bdf in sorted(vmd.bus.devices, reverse=True):
        await vmd.bus.remove_device(vmd.bus.devices[bdf])
    await vmd_destroy(vmd)
    await pci_free_irq_vectors(pdev)
    pdev.driver_data = None


def vmd_pci_driver(*, policy: str = "least-loaded", sync: str = "srcu",
                   chained: bool = True) -> Any:
    """The ``vmd`` :class:`~irqlab.kernel.pci.PciDriver` (8086:201d) with these design knobs."""
    if policy not in VMD_POLICIES:
        raise InvalidArgumentValue(
            f"policy must be one of {', '.join(VMD_POLICIES)}, not {policy!r}")
    if sync not in VMD_SYNCS:
        raise InvalidArgumentValue(f"sync must be one of {', '.join(VMD_SYNCS)}, not {sync!r}")

    async def probe(pdev: Any) -> int:
        return await vmd_probe(pdev, policy=policy, sync=sync, chained=chained)

    return PciDriver("vmd", probe, vmd_remove, id_table=VMD_ID_TABLE)
