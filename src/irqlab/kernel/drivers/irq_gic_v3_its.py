"""The GICv3 ITS driver (``drivers/irqchip/irq-gic-v3-its.c``) on the irqlab ITS model.

Hooks the GICv3 driver calls (:mod:`irqlab.kernel.drivers.irq_gic_v3`):
``await its_init(kernel)`` (boot CPU, after its GIC init), ``await
its_cpu_init(kernel, cpu)`` (each CPU, interrupts off: boot CPU in
``init_IRQ``, others in the GIC STARTING callback) and ``await
its_lpi_memreserve_init(kernel)``.

* Probe (``its_probe_one``): quiesce an ITS a previous kernel left enabled,
  size and allocate the GITS_BASER tables -- page size probed from 64 KiB
  down, the device table two-level when the hardware accepts
  ``Indirect`` and more than one page is needed (IMPDEF choice of this
  driver: flat when one ITS page holds every DeviceID), level-2 pages
  allocated on demand -- the 64 KiB command queue, then enable.
* Commands (``its_send_single_command``): under the raw spinlock
  ``its.lock`` (irqsave) build the command in the queue in RAM, a SYNC
  after it where Linux sends one, advance GITS_CWRITER; then wait for
  GITS_CREADR to pass the SYNC (``itsdrv_cmd_timeout`` if it does not,
  e.g. a stalled queue).
* Collections: one per CPU (ICID = CPU number), MAPC + INVALL in the CPU's
  STARTING path.
* Devices (``its_create_device``): ITT (``max(2, nvecs)`` entries, at least
  256 bytes), LPI chunk (:class:`~irqlab.kernel.drivers.its_lpi.LpiRanges`),
  event bitmap ``lpi_map``; MAPD.  IRQs: ``bitmap_find_free_region`` of
  ``get_count_order(nr_irqs)`` -- a naturally aligned power-of-two block.
  Activate picks the least-loaded CPU of the affinity and sends MAPTI;
  set_affinity MOVI; deactivate DISCARD.
* The ITS domain is an MSI parent (:class:`ItsMsiParentOps`): PCI MSI-X,
  Multi-MSI, and -- with the per-device lifecycle -- dynamic MSI-X.  How
  events are freed is the seed-002 variant ``options["msi_free"]``:
  ``per-vector``/``bulk`` (Linux before the 2025 rework: ``msi_prepare`` per
  allocation, the region released by ``->free`` with the order of
  ``nr_irqs``, the device freed when its bitmap empties) and ``lifecycle``
  (``msi_prepare`` reserves the region once, ``->free`` clears exactly its
  bits, ``msi_teardown`` releases the device).

LPI tables and the seed-000 memreserve callback live in
:mod:`irqlab.kernel.drivers.its_lpi`.
"""

from __future__ import annotations

from typing import Any

from irqlab import sim
from irqlab.arch import gicv3 as g
from irqlab.arch import its as A
from irqlab.kernel.drivers.its_lpi import (
    LPI_PROP_ENABLED,
    LpiRanges,
    RdistCpu,
    allocate_lpi_tables,
    its_cpu_init_lpis,
    its_cpu_memreserve_starting,
    its_lpi_memreserve_init,
    memreserve_variant,
    redist_disable_lpis,
    setup_memreserve_state,
)
from irqlab.kernel.errno import EINVAL, ENOMEM, ENOSPC, ENXIO
from irqlab.kernel.irq.chip import (
    IRQ_SET_MASK_OK_DONE,
    IrqChip,
    MsiMsg,
    irq_chip_eoi_parent,
)
from irqlab.kernel.irq.desc import IrqData
from irqlab.kernel.irq.domain import (
    IRQ_DOMAIN_FLAG_MSI_PARENT,
    IRQ_DOMAIN_FREE_BULK,
    IrqDomain,
    IrqDomainOps,
    IrqFwspec,
    irq_domain_alloc_irqs_parent,
    irq_domain_free_irqs_parent,
    irq_domain_get_irq_data,
    irq_domain_reset_irq_data,
    irq_domain_set_hwirq_and_chip,
)
from irqlab.kernel.mm import GFP_KERNEL, GFP_ZERO, PAGE_SIZE
from irqlab.kernel.msi import (
    MSI_FLAG_MULTI_PCI_MSI,
    MSI_FLAG_PCI_MSIX,
    MSI_FLAG_PCI_MSIX_ALLOC_DYN,
    MsiAllocInfo,
    MsiParentOps,
    msi_free_variant,
)

__all__ = [
    "ItsDevice",
    "ItsNode",
    "its_cpu_init",
    "its_init",
    "its_lpi_memreserve_init",
]

GIC_IRQ_TYPE_LPI = 0xA110C8ED
ITS_CMD_QUEUE_SZ = 0x1_0000
ITS_ITT_ALIGN = 256
_OFF = A.OFFSETS
_BASER_SHAREABLE = 1 << 10


def get_count_order(n: int) -> int:
    """``get_count_order``: ceil(log2(n)) (0 for 1)."""
    return (n - 1).bit_length()


def _order_for(size: int) -> int:
    pages = max(1, -(-size // PAGE_SIZE))
    return (pages - 1).bit_length()


class ItsDevice:
    """``struct its_device``: a DeviceID's ITT, LPI chunk and event bitmap.

    ``lpi_map`` is the event bitmap (bit i: event i in use), ``col_map[i]``
    the CPU event i is routed to, ``shared`` set when a second user found the
    device (``msi_prepare`` of an existing DeviceID).
    """

    __slots__ = ("col_map", "device_id", "itt", "itt_order", "lpi_base", "lpi_map", "nr_ites",
                 "nr_lpis", "shared")

    def __init__(self, device_id: int, itt: int, itt_order: int, nr_ites: int, lpi_base: int,
                 nr_lpis: int) -> None:
        self.device_id = device_id
        self.itt = itt
        self.itt_order = itt_order
        self.nr_ites = nr_ites
        self.lpi_base = lpi_base
        self.nr_lpis = nr_lpis
        self.lpi_map = 0
        self.col_map = [0] * nr_lpis
        self.shared = False

    def __repr__(self) -> str:
        return (f"<ItsDevice devid={self.device_id:#x} lpis={self.lpi_base}+{self.nr_lpis} "
                f"map={self.lpi_map:#x}>")


class ItsChip(IrqChip):
    """``its_irq_chip``: LPI enable in the property table + INV, MOVI, TRANSLATER messages."""

    def __init__(self, its: ItsNode) -> None:
        super().__init__("ITS")
        self.its = its

    async def irq_mask(self, data: IrqData) -> None:
        await self.its.lpi_update_config(data, LPI_PROP_ENABLED, 0)

    async def irq_unmask(self, data: IrqData) -> None:
        await self.its.lpi_update_config(data, 0, LPI_PROP_ENABLED)

    async def irq_eoi(self, data: IrqData) -> None:
        await irq_chip_eoi_parent(data)

    async def irq_set_affinity(self, data: IrqData, cpumask: tuple[int, ...],
                               force: bool) -> int:
        its = self.its
        dev: ItsDevice = data.chip_data
        event = data.hwirq - dev.lpi_base
        cpu = its.select_cpu(cpumask, force)
        if cpu < 0:
            return -EINVAL
        prev = dev.col_map[event]
        if cpu != prev:
            its.lpi_count[cpu] += 1
            its.lpi_count[prev] -= 1
            dev.col_map[event] = cpu
            await its.send_command("MOVI", sync=cpu, DeviceID=dev.device_id, EventID=event,
                                   ICID=cpu)
        data.effective_affinity = (cpu,)
        data.desc.irq_data.effective_affinity = (cpu,)
        return IRQ_SET_MASK_OK_DONE

    async def irq_compose_msi_msg(self, data: IrqData) -> MsiMsg:
        dev: ItsDevice = data.chip_data
        addr = self.its.translater
        return MsiMsg(addr & 0xFFFF_FFFF, addr >> 32, data.hwirq - dev.lpi_base)

    async def irq_retrigger(self, data: IrqData) -> int:
        dev: ItsDevice = data.chip_data
        await self.its.send_command("INT", sync=dev.col_map[data.hwirq - dev.lpi_base],
                                    DeviceID=dev.device_id, EventID=data.hwirq - dev.lpi_base)
        return 1


class ItsDomainOps(IrqDomainOps):
    """``its_domain_ops``: alloc/free events, activate (MAPTI) / deactivate (DISCARD)."""

    def __init__(self, its: ItsNode) -> None:
        self.its = its

    async def alloc(self, domain: IrqDomain, virq: int, nr_irqs: int, arg: Any) -> int:
        its = self.its
        if not isinstance(arg, MsiAllocInfo) or "its_dev" not in arg.scratchpad:
            return -EINVAL
        dev: ItsDevice = arg.scratchpad["its_dev"]
        event = its.alloc_device_irq(dev, nr_irqs)
        if event < 0:
            its.emit("itsdrv_alloc_failed", devid=dev.device_id, nr=nr_irqs, err=event,
                     map=dev.lpi_map)
            return event
        for i in range(nr_irqs):
            hwirq = dev.lpi_base + event + i
            ret = await irq_domain_alloc_irqs_parent(
                domain, virq + i, 1, IrqFwspec(GIC_IRQ_TYPE_LPI, hwirq, 0))
            if ret < 0:
                its.release_device_irqs(dev, event, nr_irqs)
                return ret
            irq_domain_set_hwirq_and_chip(domain, virq + i, hwirq, its.chip, dev)
        return 0

    async def free(self, domain: IrqDomain, virq: int, nr_irqs: int) -> None:
        its = self.its
        d = irq_domain_get_irq_data(domain, virq)
        if d is None or not isinstance(d.chip_data, ItsDevice):
            return
        dev: ItsDevice = d.chip_data
        event = d.hwirq - dev.lpi_base
        if its.msi_free == "lifecycle":
            # free the individual interrupts: exactly their bits
            for i in range(nr_irqs):
                dev.lpi_map &= ~(1 << (event + i))
        else:
            # bitmap_release_region(lpi_map, event, get_count_order(nr_irqs))
            its.release_device_irqs(dev, event, 1 << get_count_order(nr_irqs))
        for i in range(nr_irqs):
            data = irq_domain_get_irq_data(domain, virq + i)
            if data is not None:
                irq_domain_reset_irq_data(data)
        if its.msi_free != "lifecycle":
            await its.dev_alloc_lock.lock()
            try:
                if not dev.shared and not dev.lpi_map and its.devices.get(
                        dev.device_id) is dev:
                    await its.free_device(dev)
            finally:
                its.dev_alloc_lock.unlock()
        await irq_domain_free_irqs_parent(domain, virq, nr_irqs)

    async def activate(self, domain: IrqDomain, data: IrqData, reserve: bool) -> int:
        its = self.its
        dev: ItsDevice = data.chip_data
        event = data.hwirq - dev.lpi_base
        cpu = its.select_cpu(data.desc.affinity, False)
        if cpu < 0:
            return -EINVAL
        dev.col_map[event] = cpu
        its.lpi_count[cpu] += 1
        data.effective_affinity = (cpu,)
        data.desc.irq_data.effective_affinity = (cpu,)
        await its.send_command("MAPTI", sync=cpu, DeviceID=dev.device_id, EventID=event,
                               pINTID=data.hwirq, ICID=cpu)
        return 0

    async def deactivate(self, domain: IrqDomain, data: IrqData) -> None:
        its = self.its
        dev: ItsDevice = data.chip_data
        event = data.hwirq - dev.lpi_base
        its.lpi_count[dev.col_map[event]] -= 1
        await its.send_command("DISCARD", sync=dev.col_map[event], DeviceID=dev.device_id,
                               EventID=event)


class ItsMsiParentOps(MsiParentOps):
    """``gic_v3_its_msi_parent_ops`` with ``its_msi_prepare`` / ``its_msi_teardown``."""

    prefix = "ITS-"

    def __init__(self, its: ItsNode) -> None:
        self.its = its
        self.supported_flags = MSI_FLAG_MULTI_PCI_MSI | MSI_FLAG_PCI_MSIX
        if its.msi_free == "lifecycle":
            self.supported_flags |= MSI_FLAG_PCI_MSIX_ALLOC_DYN

    async def msi_prepare(self, parent: IrqDomain, dev: Any, nvec: int,
                          info: MsiAllocInfo) -> int:
        its = self.its
        devid = dev.msi_device_id() if hasattr(dev, "msi_device_id") else None
        if devid is None:
            return -EINVAL
        # Always allocate a power of 2 (the ITT and the event bitmap are power-of-two sized)
        nvec = 1 << get_count_order(max(nvec, 1))
        await its.dev_alloc_lock.lock()
        try:
            its_dev = its.devices.get(devid)
            if its_dev is not None:
                # We already have seen this ID (an alias, or a device the free path kept)
                its_dev.shared = True
                its.emit("itsdrv_device_reuse", devid=devid, map=its_dev.lpi_map)
            else:
                its_dev = await its.create_device(devid, nvec)
                if its_dev is None:
                    return -ENOMEM
            info.scratchpad["its_dev"] = its_dev
            return 0
        finally:
            its.dev_alloc_lock.unlock()

    async def msi_teardown(self, parent: IrqDomain, dev: Any, info: MsiAllocInfo) -> None:
        its = self.its
        its_dev = info.scratchpad.get("its_dev")
        if its_dev is None:
            return
        await its.dev_alloc_lock.lock()
        try:
            if its_dev.shared:
                return
            if its_dev.lpi_map:
                its.emit("itsdrv_teardown_busy", devid=its_dev.device_id, map=its_dev.lpi_map)
                return
            await its.free_device(its_dev)
        finally:
            its.dev_alloc_lock.unlock()


class ItsNode:
    """``struct its_node`` (one ITS) plus the LPI state the driver keeps globally.

    ``kernel.its``.  ``devices`` (DeviceID -> :class:`ItsDevice`),
    ``lpis`` (:class:`LpiRanges`), ``rdists[cpu]``
    (:class:`~irqlab.kernel.drivers.its_lpi.RdistCpu`), ``lpi_count[cpu]``
    (mapped LPIs per CPU, for least-loaded selection), ``domain`` (the ITS
    irq domain, an MSI parent), ``lock`` (raw spinlock: the command queue),
    ``dev_alloc_lock`` (mutex: device creation/free).
    """

    def __init__(self, kernel: Any) -> None:
        self.kernel = kernel
        self.machine = kernel.machine
        self.events = kernel.events
        cfg = self.machine.config
        self.base = cfg.its_base
        self.translater = self.base + _OFF["GITS_TRANSLATER"]
        self.memreserve = memreserve_variant(kernel.options)
        self.msi_free = msi_free_variant(kernel.options)
        self.lock = sim.SpinLock("its->lock", raw=True, key="its->lock")
        self.dev_alloc_lock = sim.Mutex("its->dev_alloc_lock", key="its->dev_alloc_lock")
        self.devices: dict[int, ItsDevice] = {}
        n = kernel.nr_cpu_ids
        self.rdists = [RdistCpu(c, int(cfg.redistributor_base(c))) for c in range(n)]
        self.rdist_flags = 0
        self.lpi_count = [0] * n
        self.prop_table_pa = 0
        self.lpi_id_bits = 16
        self.lpis: LpiRanges | None = None
        self.memreserve_state = 0
        self.memreserve_cleanup: Any = None
        self.cmd_base = 0
        self.cmd_write = 0
        self.typer = 0
        self.pta = False
        # GITS_BASER tables: type -> (pa, page size, pages, indirect, entry size)
        self.tables: dict[int, tuple[int, int, int, bool, int]] = {}
        self._rdbase_cache: dict[int, int] = {}
        self._sync_cache: dict[int, bytes] = {}
        self.chip = ItsChip(self)
        self.domain: IrqDomain | None = None
        self.parent_ops = ItsMsiParentOps(self)

    def emit(self, kind: str, **kw: Any) -> None:
        ev = self.events
        if ev.enabled and ev.should_emit(kind):
            ev.emit(kind, cpu=sim.smp_processor_id(), **kw)

    def _hw(self) -> Any:
        return self.machine.cpus[sim.smp_processor_id()]

    def _read(self, name: str, size: int = 8) -> int:
        return int(self._hw().read(self.base + _OFF[name], size))

    def _write(self, name: str, value: int, size: int = 8) -> None:
        self._hw().write(self.base + _OFF[name], value, size)

    # -- probe -----------------------------------------------------------------------------
    async def probe(self) -> int:
        """``its_probe_one``: quiesce, tables, command queue, enable.  Task context."""
        ctlr = self._read("GITS_CTLR", 4)
        if ctlr & 1:
            # its_force_quiescent: a previous kernel left the ITS enabled
            self._write("GITS_CTLR", ctlr & ~1, 4)
            self.emit("itsdrv_force_quiescent")
        self.typer = self._read("GITS_TYPER")
        self.pta = bool(A.GITS_TYPER.PTA.get(self.typer))
        for n in range(8):
            ret = await self._setup_baser(n)
            if ret < 0:
                return ret
        cmd = await self.kernel.mm.alloc_pages(_order_for(ITS_CMD_QUEUE_SZ),
                                               GFP_KERNEL | GFP_ZERO, label="its_cmd_queue")
        if not cmd:
            return -ENOMEM
        self.cmd_base = cmd
        self._write("GITS_CBASER", A.GITS_CBASER.encode(
            Valid=1, Physical_Address=cmd >> 12, Size=ITS_CMD_QUEUE_SZ // PAGE_SIZE - 1,
            InnerCache=7, Shareability=1))
        self._write("GITS_CWRITER", 0)
        self.cmd_write = 0
        self._write("GITS_CTLR", 1, 4)
        self.emit("itsdrv_probe", cmdq=cmd, tables=len(self.tables))
        return 0

    async def _setup_baser(self, n: int) -> int:
        off = _OFF["GITS_BASER0"] + 8 * n
        hw = self._hw()
        val = hw.read(self.base + off, 8)
        typ = A.GITS_BASER.Type.get(val)
        if typ not in (A.GITS_BASER_TYPE_DEVICE, A.GITS_BASER_TYPE_COLLECTION):
            return 0
        esz = A.GITS_BASER.Entry_Size.get(val) + 1
        if typ == A.GITS_BASER_TYPE_DEVICE:
            ids = A.GITS_TYPER.Devbits.get(self.typer) + 1
        else:
            ids = min(A.GITS_TYPER.CIDbits.get(self.typer) + 1, 16)
        for ps_code, psz in ((2, 0x1_0000), (1, 0x4000), (0, 0x1000)):
            indirect = typ == A.GITS_BASER_TYPE_DEVICE and (esz << ids) > psz
            if indirect:
                # level-1 table: one 8-byte entry per level-2 page of psz / esz IDs
                l1_ids = ids - (psz // esz).bit_length() + 1
                size = max(psz, 8 << max(l1_ids, 0))
            elif typ == A.GITS_BASER_TYPE_DEVICE:
                size = max(psz, esz << ids)
            else:
                size = psz       # one page of collections (Linux's default order)
            pages = min(-(-size // psz), 256)
            pa = await self.kernel.mm.alloc_pages(_order_for(pages * psz),
                                                  GFP_KERNEL | GFP_ZERO,
                                                  label=f"its_baser{n}")
            if not pa:
                return -ENOMEM
            want = (A.GITS_BASER.Valid.in_place | A.GITS_BASER.Page_Size.set(0, ps_code)
                    | A.encode_baser_address(pa, psz) | (pages - 1) | _BASER_SHAREABLE
                    | A.GITS_BASER.InnerCache.set(0, 7)
                    | (A.GITS_BASER.Indirect.in_place if indirect else 0))
            hw.write(self.base + off, want, 8)
            got = hw.read(self.base + off, 8)
            if A.GITS_BASER.Page_Size.get(got) != ps_code:
                self.kernel.mm.free_pages(pa, _order_for(pages * psz))
                continue          # page size not supported: try the next smaller one
            if indirect and not A.GITS_BASER.Indirect.get(got):
                # no two-level support: fall back to a flat table of every ID
                self.kernel.mm.free_pages(pa, _order_for(pages * psz))
                size = esz << ids
                pages = min(-(-size // psz), 256)
                pa = await self.kernel.mm.alloc_pages(_order_for(pages * psz),
                                                      GFP_KERNEL | GFP_ZERO,
                                                      label=f"its_baser{n}")
                if not pa:
                    return -ENOMEM
                indirect = False
                hw.write(self.base + off, (want & ~A.GITS_BASER.Indirect.in_place
                                           & ~A.GITS_BASER.Physical_Address.in_place
                                           & ~0xFF) | A.encode_baser_address(pa, psz)
                         | (pages - 1), 8)
            self.tables[typ] = (pa, psz, pages, indirect, esz)
            self.emit("itsdrv_baser", n=n, type=typ, pa=pa, psz=psz, pages=pages,
                      indirect=indirect)
            return 0
        return -ENXIO

    def _table_capacity(self, typ: int) -> int:
        _pa, psz, pages, indirect, esz = self.tables[typ]
        ids = 1 << (A.GITS_TYPER.Devbits.get(self.typer) + 1)
        if indirect:
            return min(ids, pages * psz // 8 * (psz // esz))
        return min(ids, pages * psz // esz)

    async def alloc_device_table(self, devid: int) -> bool:
        """``its_alloc_device_table``: make sure DeviceID ``devid`` has a table entry."""
        t = self.tables.get(A.GITS_BASER_TYPE_DEVICE)
        if t is None or devid >= self._table_capacity(A.GITS_BASER_TYPE_DEVICE):
            return False
        pa, psz, _pages, indirect, esz = t
        if not indirect:
            return True
        l1 = pa + 8 * (devid // (psz // esz))
        entry = int.from_bytes(self.machine.ram_read(l1, 8), "little")
        if entry >> 63:
            return True
        page = await self.kernel.mm.alloc_pages(_order_for(psz), GFP_KERNEL | GFP_ZERO,
                                                label="its_device_table_l2")
        if not page:
            return False
        self.machine.ram_write(l1, ((1 << 63) | page).to_bytes(8, "little"))
        return True

    # -- commands --------------------------------------------------------------------------
    def _rdbase(self, cpu: int) -> int:
        """The MAPC/SYNC RDbase of ``cpu``: PA >> 16 (PTA=1) or GICR_TYPER.Processor_Number."""
        rdb = self._rdbase_cache.get(cpu)
        if rdb is None:
            rd = self.rdists[cpu].rd_base
            if self.pta:
                rdb = rd >> 16
            else:
                typer = self._hw().read(rd + g.GICR_TYPER_OFF, 8)
                rdb = int(g.GICR_TYPER.Processor_Number.get(typer))
            self._rdbase_cache[cpu] = rdb
        return rdb

    def _sync(self, cpu: int) -> bytes:
        raw = self._sync_cache.get(cpu)
        if raw is None:
            raw = self._sync_cache[cpu] = A.encode_command("SYNC", RDbase=self._rdbase(cpu))
        return raw

    async def send_command(self, name: str, *, sync: int | None = None, **fields: int) -> None:
        """``its_send_single_command``: queue ``name`` (+ SYNC to CPU ``sync``), wait for it.

        Takes ``its.lock`` (raw, irqsave): callable with interrupts off and
        under ``desc.lock``; never sleeps.
        """
        raws = [A.encode_command(name, **fields)]
        if sync is not None:
            raws.append(self._sync(sync))
        flags = await self.lock.lock_irqsave()
        try:
            for raw in raws:
                self.machine.ram_write(self.cmd_base + self.cmd_write, raw)
                self.cmd_write = (self.cmd_write + A.CMD_SIZE) % ITS_CMD_QUEUE_SZ
            self._write("GITS_CWRITER", self.cmd_write)
            # its_wait_for_range_completion: GITS_CREADR must have passed our commands
            creadr = self._read("GITS_CREADR")
            if creadr & 1 or (creadr & ~0x1F) != self.cmd_write:
                self.emit("itsdrv_cmd_timeout", cmd=name, creadr=creadr, cwriter=self.cmd_write)
        finally:
            self.lock.unlock_irqrestore(flags)

    # -- collections -----------------------------------------------------------------------
    async def cpu_init_collection(self, cpu: int) -> None:
        """``its_cpu_init_collection``: MAPC this CPU's collection (ICID = cpu), INVALL."""
        await self.send_command("MAPC", sync=cpu, ICID=cpu, RDbase=self._rdbase(cpu), V=1)
        await self.send_command("INVALL", sync=cpu, ICID=cpu)

    def select_cpu(self, mask: tuple[int, ...], force: bool) -> int:
        """``its_select_cpu``: the least-loaded online CPU of ``mask`` (any online if none)."""
        eng = self.kernel.engine
        cands = [c for c in mask if force or eng.cpu_online(c)]
        if not cands:
            cands = [c for c in range(self.kernel.nr_cpu_ids) if eng.cpu_online(c)]
        if not cands:
            return -1
        return min(cands, key=lambda c: (self.lpi_count[c], c))

    # -- LPI configuration -----------------------------------------------------------------
    async def lpi_update_config(self, data: IrqData, clr: int, set_: int) -> None:
        """``lpi_update_config``: edit the LPI's property byte, then INV through the ITS."""
        addr = self.prop_table_pa + data.hwirq - A.LPI_INTID_BASE
        b = self.machine.ram_read(addr, 1)[0]
        self.machine.ram_write(addr, bytes([(b & ~clr) | set_]))
        dev: ItsDevice = data.chip_data
        event = data.hwirq - dev.lpi_base
        await self.send_command("INV", sync=dev.col_map[event], DeviceID=dev.device_id,
                                EventID=event)

    # -- devices ---------------------------------------------------------------------------
    async def create_device(self, devid: int, nvecs: int) -> ItsDevice | None:
        """``its_create_device``: table entry, LPIs, ITT, MAPD.  Caller holds dev_alloc_lock."""
        assert self.lpis is not None
        if not await self.alloc_device_table(devid):
            self.emit("itsdrv_device_table_full", devid=devid)
            return None
        lpi_base, nr_lpis = self.lpis.its_lpi_alloc(nvecs)
        if not nr_lpis:
            return None
        nr_ites = max(2, nvecs)
        size = max(nr_ites * 8, ITS_ITT_ALIGN)
        order = _order_for(size)
        itt = await self.kernel.mm.alloc_pages(order, GFP_KERNEL | GFP_ZERO, label="its_itt")
        if not itt:
            self.lpis.free_lpi_range(lpi_base, nr_lpis)
            return None
        dev = ItsDevice(devid, itt, order, nr_ites, lpi_base, nr_lpis)
        self.devices[devid] = dev
        await self.send_command("MAPD", DeviceID=devid, Size=nr_ites.bit_length() - 2,
                                ITT_addr=itt, V=1)
        self.emit("itsdrv_device_create", devid=devid, nvecs=nvecs, lpi_base=lpi_base,
                  nr_lpis=nr_lpis, itt=itt)
        return dev

    async def free_device(self, dev: ItsDevice) -> None:
        """LPIs back to the ranges, MAPD V=0, ITT freed (``its_free_device``)."""
        assert self.lpis is not None
        self.lpis.free_lpi_range(dev.lpi_base, dev.nr_lpis)
        await self.send_command("MAPD", DeviceID=dev.device_id, Size=0, ITT_addr=0, V=0)
        self.kernel.mm.free_pages(dev.itt, dev.itt_order, label="its_itt")
        self.devices.pop(dev.device_id, None)
        self.emit("itsdrv_device_free", devid=dev.device_id)

    def alloc_device_irq(self, dev: ItsDevice, nr: int) -> int:
        """``its_alloc_device_irq``: the first event of a free aligned block; -ENOSPC if none.

        ``bitmap_find_free_region(lpi_map, nr_lpis, get_count_order(nr))``;
        the legacy designs mark the whole power-of-two block, the lifecycle
        design only the ``nr`` events it hands out.
        """
        order = get_count_order(nr)
        blk = 1 << order
        full = (1 << blk) - 1
        for pos in range(0, dev.nr_lpis - blk + 1, blk):
            if not (dev.lpi_map >> pos) & full:
                bits = blk if self.msi_free != "lifecycle" else nr
                dev.lpi_map |= ((1 << bits) - 1) << pos
                return pos
        return -ENOSPC

    def release_device_irqs(self, dev: ItsDevice, event: int, n: int) -> None:
        """``bitmap_release_region``: clear ``n`` events from ``event``."""
        dev.lpi_map &= ~(((1 << n) - 1) << event)


# -- hooks for the GICv3 driver ------------------------------------------------------------

async def its_init(kernel: Any) -> ItsNode | int:
    """``its_init``: probe the ITS, LPI tables and ranges, the ITS domain.  Boot CPU, task.

    With ``options["its_memreserve"] == "v1"`` the memreserve hotplug
    callback is installed here (the v1 patch's ordering).
    """
    its = ItsNode(kernel)
    kernel.its = its
    ret = await its.probe()
    if ret == 0:
        ret = await allocate_lpi_tables(its)
    if ret < 0:
        kernel.its = None
        its.emit("itsdrv_init_failed", err=ret)
        return ret
    its.lpis = LpiRanges(A.LPI_INTID_BASE, (1 << its.lpi_id_bits) - A.LPI_INTID_BASE)
    flags = IRQ_DOMAIN_FLAG_MSI_PARENT
    if its.msi_free == "bulk":
        flags |= IRQ_DOMAIN_FREE_BULK
    dom = IrqDomain(kernel.irq, "ITS", ItsDomainOps(its), parent=kernel.gic.domain,
                    host_data=its, flags=flags)
    dom.msi_parent_ops = its.parent_ops
    its.domain = dom
    if its.memreserve == "v1":
        await setup_memreserve_state(its)
    return its


async def its_cpu_init(kernel: Any, cpu: int) -> int:
    """``its_cpu_init`` on ``cpu`` (interrupts off): LPIs of its redistributor, collection."""
    its: ItsNode | None = kernel.its
    if its is None:
        return 0
    ret = redist_disable_lpis(its, cpu)
    if ret:
        return ret
    its_cpu_init_lpis(its, cpu)
    if its.memreserve == "starting":
        await its_cpu_memreserve_starting(its, cpu)
    await its.cpu_init_collection(cpu)
    return 0


__all__ += ["GIC_IRQ_TYPE_LPI", "ItsChip", "ItsDomainOps", "ItsMsiParentOps"]
