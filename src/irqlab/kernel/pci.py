"""PCI devices, drivers and their interrupt vectors (``drivers/pci/msi/``, ``pci-driver.c``).

:class:`PciDev` is the kernel's ``struct pci_dev`` for one function of the
machine's PCIe host (``machine.pci``).  The kernel programs the device the
way Linux does: configuration space through the ECAM window and the MSI-X
table through BAR0, both by MMIO from the CPU the code runs on.  The device
raises its vectors by itself (``dev.fn.fire(vector)``, the hardware model).

Vectors: :func:`pci_alloc_irq_vectors` (``PCI_IRQ_MSIX`` tried before
``PCI_IRQ_MSI``, like Linux), :func:`pci_free_irq_vectors`,
:func:`pci_irq_vector`, :func:`pci_msix_alloc_irq_at` (dynamic MSI-X at an
index or ``MSI_ANY_INDEX``) and :func:`pci_msix_free_irq`.  Each goes
through the MSI core (:mod:`irqlab.kernel.msi`) and the device's MSI
domain under its MSI parent (``dev.msi_parent``: the ITS by default).

Driver model: :class:`PciDriver` (``probe``/``remove``, async), bound by
:meth:`PciBus.register_driver` (``insmod``) and unbound by
:meth:`PciBus.unregister_driver` (``rmmod``), as often as you like; at unbind
the device's leftover MSI state is released (devres) and its MSI domain
removed.  ``k.pci`` is the :class:`PciBus` (:func:`pci_bus`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from irqlab import sim
from irqlab.arch.pci import (
    PCI_BASE_ADDRESS_0,
    PCI_CAP_ID_MSI,
    PCI_CAP_ID_MSIX,
    PCI_CAPABILITY_LIST,
    PCI_COMMAND,
    PCI_COMMAND_MASTER,
    PCI_MSI_ADDRESS_HI,
    PCI_MSI_ADDRESS_LO,
    PCI_MSI_DATA_64,
    PCI_MSI_FLAGS,
    PCI_MSI_FLAGS_ENABLE,
    PCI_MSI_FLAGS_QMASK,
    PCI_MSI_FLAGS_QSIZE,
    PCI_MSI_MASK_64,
    PCI_MSIX_ENTRY_CTRL_MASKBIT,
    PCI_MSIX_ENTRY_SIZE,
    PCI_MSIX_ENTRY_VECTOR_CTRL,
    PCI_MSIX_FLAGS,
    PCI_MSIX_FLAGS_ENABLE,
    PCI_MSIX_FLAGS_MASKALL,
    PCI_MSIX_FLAGS_QSIZE,
    PCI_MSIX_TABLE,
    PCI_STATUS,
    PCI_STATUS_CAP_LIST,
)
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue, check_int
from irqlab.kernel.errno import EINVAL, ENODEV, ENOSPC
from irqlab.kernel.irq.chip import IrqChip, MsiMsg, irq_chip_eoi_parent
from irqlab.kernel.irq.desc import IrqData
from irqlab.kernel.msi import (
    MSI_ANY_INDEX,
    MSI_FLAG_MULTI_PCI_MSI,
    MSI_FLAG_PCI_MSIX,
    MSI_FLAG_PCI_MSIX_ALLOC_DYN,
    MsiDesc,
    MsiMap,
    check_affinity,
    msi_create_device_irq_domain,
    msi_device_data_release,
    msi_domain_alloc_irq_at,
    msi_domain_alloc_irqs,
    msi_domain_free_irqs,
    msi_get_virq,
    msi_remove_device_irq_domain,
    msi_setup_device_data,
)

__all__ = [
    "PCI_IRQ_AFFINITY",
    "PCI_IRQ_MSI",
    "PCI_IRQ_MSIX",
    "PciBus",
    "PciDev",
    "PciDriver",
    "pci_alloc_irq_vectors",
    "pci_bus",
    "pci_free_irq_vectors",
    "pci_irq_vector",
    "pci_msix_alloc_irq_at",
    "pci_msix_can_alloc_dyn",
    "pci_msix_free_irq",
]

PCI_IRQ_INTX = 1 << 0
PCI_IRQ_MSI = 1 << 1
PCI_IRQ_MSIX = 1 << 2
PCI_IRQ_AFFINITY = 1 << 3



def _hw_cpu(kernel: Any) -> Any:
    return kernel.machine.cpus[sim.smp_processor_id()]


class PciMsiChip(IrqChip):
    """The top-level chip of a PCI device's MSI domain (``pci_msi_template``/``pci_msix_template``).

    Mask/unmask act on the device (MSI Mask Bits, MSI-X Vector Control) and
    on the parent (the ITS's LPI enable), as ``its_pci_msi_mask``; EOI goes
    to the parent; affinity is the parent's (``msi_domain_set_affinity``),
    rewriting the message when it changes.  Runs with ``desc.lock`` held: no
    sleeping, only MMIO.
    """

    def __init__(self, name: str, *, msix: bool = False) -> None:
        super().__init__(name)
        self.msix = msix

    async def irq_mask(self, data: IrqData) -> None:
        dev: PciDev = data.chip_data
        dev.mask_vector(data.msi_desc, data.irq)
        p = data.parent_data
        if p is not None:
            await p.chip.irq_mask(p)

    async def irq_unmask(self, data: IrqData) -> None:
        p = data.parent_data
        if p is not None:
            await p.chip.irq_unmask(p)
        dev: PciDev = data.chip_data
        dev.unmask_vector(data.msi_desc, data.irq)

    async def irq_eoi(self, data: IrqData) -> None:
        await irq_chip_eoi_parent(data)

    async def irq_retrigger(self, data: IrqData) -> int:
        p = data.parent_data
        if p is None:
            return 0
        return await p.chip.irq_retrigger(p)

    async def irq_set_affinity(self, data: IrqData, cpumask: tuple[int, ...],
                               force: bool) -> int:
        p = data.parent_data
        if p is None or not p.chip.has("irq_set_affinity"):
            return -EINVAL
        ret = await p.chip.irq_set_affinity(p, cpumask, force)
        if ret >= 0:
            data.effective_affinity = p.effective_affinity
            msg = await p.chip.irq_compose_msi_msg(p)
            if msg != data.msi_desc.msg:
                await self.irq_write_msi_msg(data, msg)
        return ret

    async def irq_compose_msi_msg(self, data: IrqData) -> MsiMsg:
        p = data.parent_data
        if p is None:
            raise sim.SimError(f"irq {data.irq}: {self.name} has no MSI parent")
        return await p.chip.irq_compose_msi_msg(p)

    async def irq_write_msi_msg(self, data: IrqData, msg: MsiMsg) -> None:
        dev: PciDev = data.chip_data
        dev.write_msi_msg(data.msi_desc, data.irq, msg)


class PciDev:
    """``struct pci_dev`` for function ``fn`` (a :class:`irqlab.hw.pci.PciFunction`).

    ``bdf``, ``vendor``, ``device``; ``msi_cap``/``msix_cap`` (capability
    offsets found by walking the list), ``msi_parent`` (the MSI parent
    domain; set it before allocating vectors to put the device behind
    another parent, e.g. VMD), ``msi`` (the MSI core's device data),
    ``driver`` (the bound :class:`PciDriver`), ``driver_data``.
    """

    def __init__(self, bus: PciBus, fn: Any) -> None:
        self.bus = bus
        self.kernel = bus.kernel
        self.fn = fn
        self.bdf = fn.bdf
        self.name = f"0000:{fn.bdf >> 8:02x}:{(fn.bdf >> 3) & 31:02x}.{fn.bdf & 7}"
        self.vendor = fn.config.vendor_id
        self.device = fn.config.device_id
        self.class_code = fn.config.class_code
        self.msi_enabled = False
        self.msix_enabled = False
        # pci_setup_device: capabilities found by config reads; MSI parent from msi-map
        self.msi_cap = self.find_capability(PCI_CAP_ID_MSI)
        self.msix_cap = self.find_capability(PCI_CAP_ID_MSIX)
        its = self.kernel.its
        self.msi_parent: Any = its.domain if its is not None else None
        # pci_msi_init / pci_msix_init: a previous kernel (kexec) may have left them enabled
        if self.msi_cap and self.config_read(self.msi_cap + PCI_MSI_FLAGS, 2) & 1:
            self._msi_ctrl(0, PCI_MSI_FLAGS_ENABLE)
        if self.msix_cap and self.config_read(self.msix_cap + PCI_MSIX_FLAGS, 2) \
                & PCI_MSIX_FLAGS_ENABLE:
            self._msix_ctrl(0, PCI_MSIX_FLAGS_ENABLE)
        self.msi: Any = None
        self.driver: PciDriver | None = None
        self.driver_data: Any = None
        self.removed = False
        self._msi_mask = 0

    def __repr__(self) -> str:
        return f"<PciDev {self.name}>"

    def msi_device_id(self) -> int | None:
        """The ITS DeviceID: the requester ID through ``msi-map`` (None if unmapped)."""
        return self.kernel.machine.pci.device_id(self.bdf)  # type: ignore[no-any-return]

    # -- configuration space (ECAM) and BAR0, by MMIO from the running CPU -------------------
    def config_read(self, reg: int, size: int = 4) -> int:
        """``pci_read_config_*``: one ECAM read."""
        host = self.kernel.machine.pci
        return int(_hw_cpu(self.kernel).read(host.config_address(self.bdf, reg), size))

    def config_write(self, reg: int, value: int, size: int = 4) -> None:
        """``pci_write_config_*``: one ECAM write."""
        host = self.kernel.machine.pci
        _hw_cpu(self.kernel).write(host.config_address(self.bdf, reg), value, size)

    def find_capability(self, cap_id: int) -> int:
        """``pci_find_capability``: the offset of capability ``cap_id``, 0 if absent."""
        if not self.config_read(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST:
            return 0
        pos = self.config_read(PCI_CAPABILITY_LIST, 1) & ~3
        for _ in range(48):
            if pos < 0x40:
                return 0
            if self.config_read(pos, 1) == cap_id:
                return pos
            pos = self.config_read(pos + 1, 1) & ~3
        return 0

    def set_master(self) -> None:
        """``pci_set_master``: Bus Master Enable (the device may send MSIs)."""
        cmd = self.config_read(PCI_COMMAND, 2)
        self.config_write(PCI_COMMAND, cmd | PCI_COMMAND_MASTER, 2)

    def msi_vec_count(self) -> int:
        """``pci_msi_vec_count``: vectors the MSI capability offers (Multiple Message Capable)."""
        if not self.msi_cap:
            return 0
        flags = self.config_read(self.msi_cap + PCI_MSI_FLAGS, 2)
        return 1 << ((flags & PCI_MSI_FLAGS_QMASK) >> 1)

    def msix_vec_count(self) -> int:
        """``pci_msix_vec_count``: the MSI-X table size."""
        if not self.msix_cap:
            return 0
        return (self.config_read(self.msix_cap + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1

    def _msix_table(self) -> int:
        off = self.config_read(self.msix_cap + PCI_MSIX_TABLE, 4)
        bar = off & 7
        lo = self.config_read(PCI_BASE_ADDRESS_0 + 4 * bar, 4)
        hi = self.config_read(PCI_BASE_ADDRESS_0 + 4 * bar + 4, 4)
        return ((hi << 32) | (lo & ~0xF)) + (off & ~7)

    def _msix_write(self, index: int, off: int, value: int) -> None:
        addr = self._msix_table() + index * PCI_MSIX_ENTRY_SIZE + off
        _hw_cpu(self.kernel).write(addr, value, 4)

    def _msix_ctrl(self, set_bits: int, clear_bits: int) -> None:
        reg = self.msix_cap + PCI_MSIX_FLAGS
        v = self.config_read(reg, 2)
        self.config_write(reg, (v & ~clear_bits) | set_bits, 2)

    def _msi_ctrl(self, set_bits: int, clear_bits: int) -> None:
        reg = self.msi_cap + PCI_MSI_FLAGS
        v = self.config_read(reg, 2)
        self.config_write(reg, (v & ~clear_bits) | set_bits, 2)

    # -- what the MSI chip does ------------------------------------------------------------
    def write_msi_msg(self, desc: MsiDesc, irq: int, msg: MsiMsg) -> None:
        """``__pci_write_msi_msg``: program ``msg`` for the vector of ``irq``."""
        if desc is None:
            return
        if desc.pci_msix:
            self._msix_write(desc.msi_index, 0, msg.address_lo)
            self._msix_write(desc.msi_index, 4, msg.address_hi)
            self._msix_write(desc.msi_index, 8, msg.data)
        elif irq == desc.irq:
            # Multi-MSI: one address/data for the block; the device ORs in the vector number
            c = self.msi_cap
            self.config_write(c + PCI_MSI_ADDRESS_LO, msg.address_lo)
            self.config_write(c + PCI_MSI_ADDRESS_HI, msg.address_hi)
            self.config_write(c + PCI_MSI_DATA_64, msg.data & 0xFFFF, 2)
        desc.msg = msg if irq == desc.irq else desc.msg

    def mask_vector(self, desc: MsiDesc, irq: int) -> None:
        """``pci_msi_mask_irq``: the device-side mask of ``irq``'s vector."""
        if desc is None:
            return
        if desc.pci_msix:
            self._msix_write(desc.msi_index, PCI_MSIX_ENTRY_VECTOR_CTRL,
                             PCI_MSIX_ENTRY_CTRL_MASKBIT)
        elif self.msi_cap:
            self._msi_mask |= 1 << (irq - desc.irq)
            self.config_write(self.msi_cap + PCI_MSI_MASK_64, self._msi_mask)

    def unmask_vector(self, desc: MsiDesc, irq: int) -> None:
        """``pci_msi_unmask_irq``."""
        if desc is None:
            return
        if desc.pci_msix:
            self._msix_write(desc.msi_index, PCI_MSIX_ENTRY_VECTOR_CTRL, 0)
        elif self.msi_cap:
            self._msi_mask &= ~(1 << (irq - desc.irq))
            self.config_write(self.msi_cap + PCI_MSI_MASK_64, self._msi_mask)


PciProbe = Callable[[PciDev], Awaitable[int]]
PciRemove = Callable[[PciDev], Awaitable[Any]]


class PciDriver:
    """``struct pci_driver``: ``probe(dev) -> 0 | -errno`` and ``remove(dev)``, both async.

    ``match(dev) -> bool`` selects devices (default: ``id_table`` of
    ``(vendor, device)`` pairs; ``None`` matches every device).
    """

    def __init__(self, name: str, probe: PciProbe, remove: PciRemove | None = None, *,
                 id_table: list[tuple[int, int]] | None = None,
                 match: Callable[[PciDev], bool] | None = None) -> None:
        if not isinstance(name, str):
            raise InvalidArgumentType(f"name must be a str, not {name!r}")
        if not callable(probe):
            raise InvalidArgumentType(f"probe must be an async function, not {probe!r}")
        if remove is not None and not callable(remove):
            raise InvalidArgumentType(f"remove must be an async function or None, not {remove!r}")
        self.name = name
        self.probe = probe
        self.remove = remove
        self.id_table = id_table
        self._match = match
        #: Bound devices, in bind order.
        self.devices: list[PciDev] = []
        #: Probe results of the last registration: bdf -> 0 or -errno.
        self.probe_results: dict[int, int] = {}

    def matches(self, dev: PciDev) -> bool:
        if self._match is not None:
            return bool(self._match(dev))
        if self.id_table is None:
            return True
        return (dev.vendor, dev.device) in self.id_table

    def __repr__(self) -> str:
        return f"<PciDriver {self.name} bound={len(self.devices)}>"


class PciBus:
    """The PCI subsystem of one kernel (``k.pci``): enumerated devices and drivers.

    Built by :func:`pci_bus`; enumeration (``pci_scan_root_bus``) walks the
    host's functions in bdf order.  :meth:`add_device` / :meth:`remove_device`
    follow PCI hotplug.
    """

    def __init__(self, kernel: Any) -> None:
        self.kernel = kernel
        self.devices: dict[int, PciDev] = {}
        self.drivers: list[PciDriver] = []
        self.events = kernel.events
        for bdf, fn in kernel.machine.pci.functions.items():
            self.devices[bdf] = PciDev(self, fn)

    def get(self, bdf: int) -> PciDev:
        """The device of requester ID ``bdf``."""
        dev = self.devices.get(bdf)
        if dev is None:
            raise InvalidArgumentValue(f"bdf must name an enumerated PCI device, not {bdf!r}")
        return dev

    def _emit(self, kind: str, **kw: Any) -> None:
        ev = self.events
        if ev.enabled and ev.should_emit(kind):
            ev.emit(kind, cpu=sim.smp_processor_id(), **kw)

    async def _probe(self, drv: PciDriver, dev: PciDev) -> int:
        dev.driver = drv
        ret = await drv.probe(dev)
        ret = 0 if ret is None else int(ret)
        drv.probe_results[dev.bdf] = ret
        self._emit("pci_probe", bdf=dev.bdf, driver=drv.name, ret=ret)
        if ret < 0:
            dev.driver = None
            await msi_device_data_release(dev)
            return ret
        drv.devices.append(dev)
        return 0

    async def _unbind(self, drv: PciDriver, dev: PciDev) -> None:
        if drv.remove is not None:
            await drv.remove(dev)
        # devres: what the driver left behind goes, then the device domain (msi_teardown)
        await msi_device_data_release(dev)
        dev.msi_enabled = dev.msix_enabled = False
        dev.driver = None
        dev.driver_data = None
        drv.devices.remove(dev)
        self._emit("pci_remove", bdf=dev.bdf, driver=drv.name)

    async def register_driver(self, drv: PciDriver) -> int:
        """``pci_register_driver`` (insmod): probe every matching unbound device.

        Returns 0 (a failing probe leaves that device unbound, as Linux; its
        result is in ``drv.probe_results``).  May sleep.
        """
        if not isinstance(drv, PciDriver):
            raise InvalidArgumentType(f"drv must be a PciDriver, not {drv!r}")
        if drv in self.drivers:
            raise InvalidArgumentValue(f"drv must not be registered already, not {drv!r}")
        self.drivers.append(drv)
        drv.probe_results = {}
        for bdf in sorted(self.devices):
            dev = self.devices[bdf]
            if dev.driver is None and drv.matches(dev):
                await self._probe(drv, dev)
        return 0

    async def unregister_driver(self, drv: PciDriver) -> None:
        """``pci_unregister_driver`` (rmmod): remove every bound device, then forget ``drv``."""
        if drv not in self.drivers:
            raise InvalidArgumentValue(f"drv must be a registered PciDriver, not {drv!r}")
        for dev in list(reversed(drv.devices)):
            await self._unbind(drv, dev)
        self.drivers.remove(drv)

    async def add_device(self, fn: Any) -> PciDev:
        """Hotplug: enumerate a function added with ``machine.pci.add_function``; bind it."""
        dev = PciDev(self, fn)
        self.devices[fn.bdf] = dev
        for drv in self.drivers:
            if drv.matches(dev):
                await self._probe(drv, dev)
                break
        return dev

    async def remove_device(self, dev: PciDev) -> None:
        """``pci_stop_and_remove_bus_device``: unbind ``dev`` and forget it."""
        if dev.driver is not None:
            await self._unbind(dev.driver, dev)
        await msi_device_data_release(dev)
        self.devices.pop(dev.bdf, None)
        dev.removed = True


def pci_bus(kernel: Any) -> PciBus:
    """The kernel's :class:`PciBus` (``k.pci``), enumerated on first use (model code: the
    enumeration reads configuration space from the running CPU)."""
    bus = getattr(kernel, "pci", None)
    if bus is None:
        bus = PciBus(kernel)
        kernel.pci = bus
    return bus


def _check_dev(dev: object) -> PciDev:
    if not isinstance(dev, PciDev):
        raise InvalidArgumentType(f"dev must be a PciDev, not {dev!r}")
    return dev


async def _setup_domain(dev: PciDev, msix: bool) -> int:
    data = msi_setup_device_data(dev)
    want = MSI_FLAG_PCI_MSIX | MSI_FLAG_PCI_MSIX_ALLOC_DYN if msix else MSI_FLAG_MULTI_PCI_MSI
    if data.domain is not None:
        if data.domain.host_data.chip.msix == msix:
            return 0
        if data.descs:
            return -EINVAL
        await msi_remove_device_irq_domain(dev)
    hwsize = dev.msix_vec_count() if msix else dev.msi_vec_count()
    # Linux names the chip "<parent prefix><bus>-<device>": "ITS-PCI-MSIX-0000:00:02.0"
    bus = "PCI-MSIX" if msix else "PCI-MSI"
    pops = getattr(dev.msi_parent, "msi_parent_ops", None)
    prefix = getattr(pops, "prefix", "")
    chip = PciMsiChip(f"{prefix}{bus}-{dev.name}", msix=msix)
    dom = await msi_create_device_irq_domain(dev, chip, want, hwsize, name=f"{bus}-{dev.name}")
    return dom if isinstance(dom, int) else 0


async def _msix_setup(dev: PciDev, nvec: int, affinity: tuple[int, ...] | None) -> int:
    data = msi_setup_device_data(dev)
    ret = await _setup_domain(dev, True)
    if ret < 0:
        return ret
    # msix_capability_init: enabled with every vector masked by the function mask
    dev._msix_ctrl(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 0)
    descs = []
    for i in range(nvec):
        d = MsiDesc(dev, i, 1, pci_msix=True, affinity=affinity)
        data.descs[i] = d
        descs.append(d)
    ret = await msi_domain_alloc_irqs(dev, descs, nvec=nvec)
    if ret < 0:
        for d in descs:
            data.descs.pop(d.msi_index, None)
        dev._msix_ctrl(0, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL)
        return ret
    dev.set_master()
    dev._msix_ctrl(0, PCI_MSIX_FLAGS_MASKALL)
    dev.msix_enabled = True
    return nvec


async def _msi_setup(dev: PciDev, nvec: int, affinity: tuple[int, ...] | None) -> int:
    data = msi_setup_device_data(dev)
    ret = await _setup_domain(dev, False)
    if ret < 0:
        return ret
    info = data.domain.host_data  # type: ignore[union-attr]
    if nvec > 1 and not info.flags & MSI_FLAG_MULTI_PCI_MSI:
        return -EINVAL
    # msi_capability_init: every vector masked, then the IRQs, then MME + Enable
    dev._msi_mask = (1 << dev.msi_vec_count()) - 1
    dev.config_write(dev.msi_cap + PCI_MSI_MASK_64, dev._msi_mask)
    d = MsiDesc(dev, 0, nvec, pci_msix=False, affinity=affinity)
    data.descs[0] = d
    ret = await msi_domain_alloc_irqs(dev, [d], nvec=nvec)
    if ret < 0:
        data.descs.pop(0, None)
        return ret
    mme = (nvec - 1).bit_length()
    dev._msi_ctrl((mme << 4) | PCI_MSI_FLAGS_ENABLE, PCI_MSI_FLAGS_QSIZE)
    dev.set_master()
    dev.msi_enabled = True
    return nvec


async def pci_alloc_irq_vectors(dev: PciDev, min_vecs: int, max_vecs: int, flags: int, *,
                                affinity: Any = None) -> int:
    """``pci_alloc_irq_vectors``: between ``min_vecs`` and ``max_vecs`` vectors; count or -errno.

    MSI-X first when ``PCI_IRQ_MSIX`` is set and the device has it, then
    MSI (Multi-MSI up to 32; exactly ``n`` descriptors-worth of IRQs, no
    rounding here).  -ENOSPC when the device offers fewer than ``min_vecs``
    of an allowed type or the parent cannot map them (e.g. the ITS event
    bitmap is full); -EINVAL when vectors are already enabled.
    ``affinity``: CPUs for every vector (``None``: any).  Raises
    :class:`InvalidArgumentValue` for impossible requests: ``min_vecs < 1``,
    ``max_vecs < min_vecs``, or ``min_vecs`` more than any allowed
    capability of the device can ever provide.  May sleep.
    """
    _check_dev(dev)
    check_int("min_vecs", min_vecs, 1, 2048)
    check_int("max_vecs", max_vecs, min_vecs, 1 << 16)
    check_int("flags", flags, 0, 0xF)
    if not flags & (PCI_IRQ_MSI | PCI_IRQ_MSIX):
        raise InvalidArgumentValue(f"flags must include PCI_IRQ_MSI or PCI_IRQ_MSIX, not "
                                   f"{flags!r}")
    aff = check_affinity(dev.kernel, "affinity", affinity)
    caps = []
    if flags & PCI_IRQ_MSIX and dev.fn.msix_vectors:
        caps.append(dev.fn.msix_vectors)
    if flags & PCI_IRQ_MSI and dev.fn.msi_vectors:
        caps.append(dev.fn.msi_vectors)
    if not caps or min_vecs > max(caps):
        raise InvalidArgumentValue(
            f"min_vecs must be at most the {max(caps) if caps else 0} vectors the device "
            f"{dev.name} supports with these flags, not {min_vecs!r}")
    if dev.msi_enabled or dev.msix_enabled:
        return -EINVAL
    if dev.msi_parent is None:
        return -ENODEV
    data = msi_setup_device_data(dev)
    await data.mutex.lock()
    try:
        ret = -ENOSPC
        if flags & PCI_IRQ_MSIX and dev.msix_cap:
            n = min(max_vecs, dev.msix_vec_count())
            if n >= min_vecs:
                ret = await _msix_setup(dev, n, aff)
                if ret > 0 or not flags & PCI_IRQ_MSI:
                    return ret
        if flags & PCI_IRQ_MSI and dev.msi_cap:
            n = min(max_vecs, dev.msi_vec_count())
            if n >= min_vecs:
                ret = await _msi_setup(dev, n, aff)
        return ret
    finally:
        data.mutex.unlock()


async def pci_free_irq_vectors(dev: PciDev) -> None:
    """``pci_free_irq_vectors``: disable MSI/MSI-X, free every vector's IRQs and descriptors.

    Every IRQ must have been ``free_irq``'d.  The device domain stays until
    the driver is unbound.  May sleep.
    """
    _check_dev(dev)
    data = getattr(dev, "msi", None)
    if data is None:
        return
    await data.mutex.lock()
    try:
        if dev.msix_enabled:
            dev._msix_ctrl(PCI_MSIX_FLAGS_MASKALL, 0)
        if dev.msi_enabled:
            dev._msi_ctrl(0, PCI_MSI_FLAGS_ENABLE)
        descs = [data.descs[i] for i in sorted(data.descs)]
        await msi_domain_free_irqs(dev, descs)
        data.descs.clear()
        if dev.msix_enabled:
            dev._msix_ctrl(0, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL)
        dev.msi_enabled = dev.msix_enabled = False
    finally:
        data.mutex.unlock()


def pci_irq_vector(dev: PciDev, nr: int) -> int:
    """``pci_irq_vector``: the Linux IRQ of vector ``nr``, or -EINVAL."""
    _check_dev(dev)
    check_int("nr", nr, 0, 1 << 16)
    virq = msi_get_virq(dev, nr)
    return virq if virq else -EINVAL


def pci_msix_can_alloc_dyn(dev: PciDev) -> bool:
    """``pci_msix_can_alloc_dyn``: the device's MSI-X domain supports dynamic allocation."""
    _check_dev(dev)
    data = getattr(dev, "msi", None)
    if data is None or data.domain is None:
        return False
    return bool(data.domain.host_data.flags & MSI_FLAG_PCI_MSIX_ALLOC_DYN)


async def pci_msix_alloc_irq_at(dev: PciDev, index: int, affdesc: Any = None) -> MsiMap:
    """``pci_msix_alloc_irq_at``: one MSI-X vector at ``index`` (or ``MSI_ANY_INDEX``).

    MSI-X must be enabled (``pci_alloc_irq_vectors``) and the parent must
    support dynamic allocation, else ``index = -EINVAL`` (Linux: -ENOTSUPP);
    -EBUSY for a used index.  The new vector is activated (mapped by the
    ITS) and starts masked.  An index beyond the table raises
    :class:`InvalidArgumentValue`.  May sleep.
    """
    _check_dev(dev)
    if index != MSI_ANY_INDEX:
        check_int("index", index, 0, max(dev.fn.msix_vectors - 1, 0))
        if not dev.fn.msix_vectors:
            raise InvalidArgumentValue(f"index must name an MSI-X vector of {dev.name}, "
                                       f"not {index!r}")
    aff = check_affinity(dev.kernel, "affdesc", affdesc)
    if not dev.msix_enabled or not pci_msix_can_alloc_dyn(dev):
        return MsiMap(-EINVAL, 0)
    return await msi_domain_alloc_irq_at(dev, index, aff)


async def pci_msix_free_irq(dev: PciDev, map_: MsiMap) -> None:
    """``pci_msix_free_irq``: free one dynamically allocated vector (after ``free_irq``)."""
    _check_dev(dev)
    data = getattr(dev, "msi", None)
    if data is None or map_.index < 0:
        return
    await data.mutex.lock()
    try:
        desc = data.descs.get(map_.index)
        if desc is None or desc.irq != map_.virq:
            return
        dev.mask_vector(desc, desc.irq)
        await msi_domain_free_irqs(dev, [desc])
        del data.descs[map_.index]
    finally:
        data.mutex.unlock()
