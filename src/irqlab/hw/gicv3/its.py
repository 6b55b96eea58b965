"""The GICv3 Interrupt Translation Service (IHI 0069 chapters 5.3 and 6).

The ITS turns a device's write to GITS_TRANSLATER (DeviceID from the bus, EventID
the value written) into a pending LPI on a redistributor, through the device table
(DTE), the device's ITT (ITE) and the collection table (CTE).  Software programs it
through the command queue (GITS_CBASER/CWRITER/CREADR) and the tables' base
registers (GITS_BASER<n>).

Model (see ``docs/its.md``):

* Synchronous: commands run when GITS_CWRITER is written (and when GITS_CTLR.Enabled
  goes 0->1, and on GITS_CWRITER.Retry); nothing is ever in flight, so
  GITS_CTLR.Quiescent always reads 1 (as QEMU; UNKNOWN while Enabled=1 in GICv3).
* Tables live in memory (KVM ITS ABI rev 0 entries, 8 bytes).  Commands write the
  entries AND update an index (:mod:`.its_tables`), as a real ITS caches them.  The
  index is rebuilt from memory when the ITS is enabled (0->1) and a device's ITT is
  loaded when MAPD maps it; other writes software makes to the tables are not seen.
* Command errors follow ``MachineConfig.its_command_errors``; every error emits
  ``its_cmd_error`` naming the command, the IDs and the rule broken.

The MSI fast path (:meth:`_TranslationFrame.mmio_write`) is two dict lookups and the
redistributor call: no memory reads, no allocation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from irqlab.arch import regmap
from irqlab.arch.its import (
    CTE,
    DTE,
    GITS_BASER,
    GITS_BASER_TYPE_COLLECTION,
    GITS_BASER_TYPE_DEVICE,
    GITS_CBASER,
    GITS_CTLR,
    GITS_CWRITER,
    GITS_IIDR,
    GITS_PIDR2,
    GITS_TYPER,
    ITE,
    ITS_CONTROL_FRAME_SIZE,
    ITS_ENTRY_SIZE,
    OFFSETS,
    encode_cte,
    encode_dte,
    encode_ite,
)
from irqlab.errors import _AccessFault
from irqlab.hw._access import BadAccess, misaligned
from irqlab.hw.gicv3.its_commands import CommandQueueMixin
from irqlab.hw.gicv3.its_tables import (
    L1_INVALID,
    MEMORY_FAULT,
    Collection,
    Device,
    Ite,
    Table,
    scan_entries,
)

if TYPE_CHECKING:
    from irqlab.hw.machine import Machine

__all__ = ["ITS"]

_TRANSLATER_OFF = OFFSETS["GITS_TRANSLATER"] - ITS_CONTROL_FRAME_SIZE  # 0x40
_U32 = 0xFFFF_FFFF
# IMPDEF choice: identification registers as QEMU's ITS (Arm implementer, GICv3).
_IIDR = GITS_IIDR.encode(Implementer=0x43B)
_ID_REGS = {
    OFFSETS["GITS_PIDR4"]: 0x44, OFFSETS["GITS_PIDR0"]: 0x94, OFFSETS["GITS_PIDR1"]: 0xB4,
    OFFSETS["GITS_PIDR2"]: GITS_PIDR2.encode(DES_1=3, JEDEC=1, ArchRev=3),
    OFFSETS["GITS_PIDR3"]: 0x00, OFFSETS["GITS_CIDR0"]: 0x0D, OFFSETS["GITS_CIDR1"]: 0xF0,
    OFFSETS["GITS_CIDR2"]: 0x05, OFFSETS["GITS_CIDR3"]: 0xB1,
}
_BASER0 = OFFSETS["GITS_BASER0"]
_BASER_TYPES = (GITS_BASER_TYPE_DEVICE, GITS_BASER_TYPE_COLLECTION, 0, 0, 0, 0, 0, 0)
# IMPDEF choice (reset values): GITS_CTLR.Quiescent reads 1 at all times (nothing is ever
# in flight; IHI 0069 makes it UNKNOWN while Enabled=1, QEMU keeps it 1); GITS_BASER0/1
# reset with Page_Size = 64 KiB, as QEMU.
_CTLR_DISABLED = GITS_CTLR.encode(Quiescent=1)
_CTLR_ENABLED = GITS_CTLR.encode(Enabled=1, Quiescent=1)
_BASER_RESET_PAGE_SIZE = 2
# BASER bits software may write; Type and Entry_Size are read-only.
_BASER_RW = (GITS_BASER.Valid.in_place | GITS_BASER.Indirect.in_place
             | GITS_BASER.InnerCache.in_place | GITS_BASER.OuterCache.in_place
             | GITS_BASER.Shareability.in_place | GITS_BASER.Page_Size.in_place
             | GITS_BASER.Physical_Address.in_place | GITS_BASER.Size.in_place)
_CBASER_RW = (GITS_CBASER.Valid.in_place | GITS_CBASER.InnerCache.in_place
              | GITS_CBASER.OuterCache.in_place | GITS_CBASER.Shareability.in_place
              | GITS_CBASER.Physical_Address.in_place | GITS_CBASER.Size.in_place)


class _TranslationFrame:
    """The second 64 KiB ITS frame: GITS_TRANSLATER at offset 0x40, the MSI doorbell."""

    __slots__ = ("its",)

    def __init__(self, its: ITS) -> None:
        self.its = its

    def mmio_read(self, offset: int, size: int, cpu: int | None) -> int:
        """Reads of the translation frame: RAZ (GITS_TRANSLATER is write-only)."""
        if offset & (size - 1):
            raise misaligned("GITS translation frame", offset, size)
        if size not in (2, 4):
            return self.its._bad(offset + ITS_CONTROL_FRAME_SIZE, size, False, cpu,
                                 f"{size}-byte read not supported")
        return 0

    def mmio_write(self, offset: int, value: int, size: int, cpu: int | None,
                   device_id: int | None) -> None:
        """A write to the translation frame: the MSI fast path.  May be called from any
        bus master; completes synchronously (IHI 0069 5.3.5: the write is an
        interrupt translation request, DeviceID from the bus, EventID the data)."""
        its = self.its
        if offset != _TRANSLATER_OFF or device_id is None or not its._enabled:
            its._translater_slow(offset, value, size, cpu, device_id)
            return
        if size != 4 and size != 2:
            its._translater_slow(offset, value, size, cpu, device_id)
            return
        dev = its._devices.get(device_id)
        if dev is not None:
            ite = dev.ites.get(value)
            if ite is not None:
                rd = ite.coll.redist
                if rd is not None:
                    ev = its._events
                    if ev.enabled:  # before the redistributor's own events: cause first
                        ev.emit("its_translate", cpu=rd.processor_number, devid=device_id,
                                eventid=value, intid=ite.pintid, icid=ite.coll.icid)
                    rd.lpi_set_pending(ite.pintid)
                    return
        its._translation_fault(device_id, value)


class ITS(CommandQueueMixin):
    """One GICv3 ITS with its two frames mapped at ``base`` on the machine's bus.

    Public attributes: ``base``, ``translater`` (the physical address of
    GITS_TRANSLATER, what MSI address registers hold).  Not thread-safe; every
    method runs to completion (the ``hw`` layer is synchronous).
    """

    def __init__(self, machine: Machine, base: int) -> None:
        self._machine = machine
        cfg = machine.config
        self._events = machine.events
        self._mem = machine.memory
        self._bus = machine.bus
        self.base = base
        self.translater = base + OFFSETS["GITS_TRANSLATER"]
        self._mode = cfg.its_command_errors
        self._pta = bool(cfg.its_pta)
        self._dev_bits = cfg.its_device_bits
        self._event_bits = cfg.its_event_bits
        self._icid_bits = cfg.its_icid_bits
        #: pINTID limit: INTIDs below 1 << GICD_TYPER.IDbits + 1.
        self._intid_limit = 1 << cfg.idbits
        self._typer = GITS_TYPER.encode(
            Physical=1, ITT_entry_size=ITS_ENTRY_SIZE - 1, ID_bits=cfg.its_event_bits - 1,
            Devbits=cfg.its_device_bits - 1, PTA=int(self._pta), HCC=0,
            CIDbits=cfg.its_icid_bits - 1, CIL=1)
        self._enabled = False
        self._cbaser = 0
        self._cwriter = 0
        self._creadr = 0
        self._stalled = False
        self._baser = [GITS_BASER.encode(Type=t, Entry_Size=ITS_ENTRY_SIZE - 1,
                                         Page_Size=_BASER_RESET_PAGE_SIZE) if t else 0
                       for t in _BASER_TYPES]
        #: DeviceID of a CPU store to GITS_TRANSLATER (None: such stores are ignored).
        self._cpu_devid: int | None = cfg.its_cpu_devid
        self._dt = Table(0, 0)
        self._ct = Table(0, 0)
        # The cache ("index"): DeviceID -> Device, ICID -> Collection.
        self._devices: dict[int, Device] = {}
        self._colls: dict[int, Collection] = {}
        self._rd_by_base: dict[int, Any] | None = None
        self._translation = _TranslationFrame(self)
        self._bad = BadAccess(cfg, self._events, "its", regmap.GITS)
        self._bus.map(base, ITS_CONTROL_FRAME_SIZE, self, "gits")
        self._bus.map(base + ITS_CONTROL_FRAME_SIZE, ITS_CONTROL_FRAME_SIZE,
                      self._translation, "gits-translater")

    def __repr__(self) -> str:
        return f"<ITS at {self.base:#x} enabled={int(self._enabled)}>"

    # -- introspection (tools and tests; no side effects) -----------------------
    @property
    def enabled(self) -> bool:
        """GITS_CTLR.Enabled."""
        return self._enabled

    @property
    def stalled(self) -> bool:
        """GITS_CREADR.Stalled: command processing stopped at a failed command."""
        return self._stalled

    def lookup(self, devid: int, eventid: int) -> tuple[int, int] | None:
        """Where an MSI (``devid``, ``eventid``) would go now: (LPI INTID, processor number),
        or ``None`` for a translation fault.  No side effects."""
        dev = self._devices.get(devid)
        ite = dev.ites.get(eventid) if dev is not None else None
        if ite is None or ite.coll.redist is None or not self._enabled:
            return None
        return ite.pintid, ite.coll.redist.processor_number

    def mappings(self) -> list[tuple[int, int, int, int]]:
        """Every cached translation as (DeviceID, EventID, LPI INTID, ICID), sorted."""
        return sorted((d.devid, e.eventid, e.pintid, e.coll.icid)
                      for d in self._devices.values() for e in d.ites.values())

    def collections(self) -> dict[int, int | None]:
        """ICID -> processor number of each collection the ITS knows (None: unmapped)."""
        return {i: (c.redist.processor_number if c.redist is not None else None)
                for i, c in sorted(self._colls.items())}

    # -- control frame MMIO -------------------------------------------------------
    def mmio_read(self, offset: int, size: int, cpu: int | None) -> int:
        """A read of the control frame (GITS_CTLR ...).  32-bit registers take 4-byte
        accesses; 64-bit ones 8-byte or either 4-byte half; other sizes are RAZ/WI with an
        ``its_bad_access`` event (as QEMU; or abort with ``gic_bad_access="abort"``);
        misaligned accesses abort.  Reserved offsets are RAZ."""
        reg64 = self._reg64_base(offset, size)
        if reg64 == -1:
            return self._bad(offset, size, False, cpu, f"{size}-byte read not supported")
        if reg64 is not None:
            value = self._read64(reg64)
            return value if size == 8 else (value >> (8 * (offset - reg64))) & _U32
        if offset == 0x0:
            return _CTLR_ENABLED if self._enabled else _CTLR_DISABLED
        if offset == 0x4:
            return _IIDR
        return _ID_REGS.get(offset, 0)

    def mmio_write(self, offset: int, value: int, size: int, cpu: int | None,
                   device_id: int | None) -> None:
        """A write to the control frame; same access rules as :meth:`mmio_read`.
        Read-only and reserved registers are WI."""
        reg64 = self._reg64_base(offset, size)
        if reg64 == -1:
            self._bad(offset, size, True, cpu, f"{size}-byte write not supported")
            return
        if reg64 is not None:
            if size == 4:
                shift = 8 * (offset - reg64)
                if shift and reg64 == 0x88:
                    return  # GITS_CWRITER[63:32] is RES0: no effect, runs nothing (as QEMU)
                old = self._read64(reg64)
                value = (old & ~(_U32 << shift)) | (value << shift)
            self._write64(reg64, value)
        elif offset == 0x0:
            self._write_ctlr(value)

    def _reg64_base(self, offset: int, size: int) -> int | None:
        """The 64-bit register an access addresses, None for a 32-bit/reserved one, -1 for
        a size the register does not take; aborts if misaligned."""
        if offset & (size - 1):
            raise misaligned("GITS control frame", offset, size)
        if size not in (4, 8):
            return -1
        base = offset & ~7
        if base in (0x8, 0x80, 0x88, 0x90) or _BASER0 <= base < _BASER0 + 0x40:
            return base
        if size == 8:
            # IMPDEF choice: a 64-bit access to a 32-bit register is a bad access;
            # to reserved space it is plain RAZ/WI.
            if base == 0x0 or base in _ID_REGS or base + 4 in _ID_REGS:
                return -1
        return None

    def _read64(self, reg: int) -> int:
        if reg == 0x8:
            return self._typer
        if reg == 0x80:
            return self._cbaser
        if reg == 0x88:
            return self._cwriter
        if reg == 0x90:
            return self._creadr | int(self._stalled)
        return self._baser[(reg - _BASER0) >> 3]

    def _write64(self, reg: int, value: int) -> None:
        if reg == 0x80:
            self._write_cbaser(value)
        elif reg == 0x88:
            self._write_cwriter(value)
        elif reg >= _BASER0:
            self._write_baser((reg - _BASER0) >> 3, value)
        # GITS_TYPER, GITS_CREADR: read-only, WI

    def _ignored(self, reg: str, value: int, rule: str) -> None:
        ev = self._events
        if ev.enabled:
            ev.emit("its_reg_write_ignored", reg=reg, value=value, rule=rule)

    def _write_ctlr(self, value: int) -> None:
        en = bool(GITS_CTLR.Enabled.get(value))
        if en == self._enabled:
            return
        self._enabled = en
        ev = self._events
        if ev.enabled:
            ev.emit("its_enable" if en else "its_disable")
        if en:
            self.restore_tables()
            self._process_queue()

    def _write_cbaser(self, value: int) -> None:
        if self._enabled:
            self._ignored("GITS_CBASER", value, "GITS_CTLR.Enabled is 1")
            return
        self._cbaser = value & _CBASER_RW
        # IHI 0069 12.19.3: writing GITS_CBASER sets GITS_CREADR to 0 (and clears Stalled).
        self._creadr = 0
        self._stalled = False

    def _write_cwriter(self, value: int) -> None:
        self._cwriter = value & GITS_CWRITER.Offset.in_place
        if GITS_CWRITER.Retry.get(value) and self._stalled:
            self._stalled = False
            ev = self._events
            if ev.enabled:
                ev.emit("its_cmdq_retry", offset=self._creadr)
        self._process_queue()

    def _write_baser(self, n: int, value: int) -> None:
        old = self._baser[n]
        if not old:
            return  # BASER2..7: Type 0, RAZ/WI
        if self._enabled:
            self._ignored(f"GITS_BASER{n}", value, "GITS_CTLR.Enabled is 1")
            return
        # IMPDEF choice, as QEMU: every RW field reads back as written.  The reserved
        # Page_Size 0b11 is used as 64 KiB (IHI 0069: treated as 0b10); with 16 KiB pages
        # the RES0 PA[13:12] are stored but not used (the table is page aligned).
        self._baser[n] = (old & ~_BASER_RW) | (value & _BASER_RW)

    # -- translation: slow path and faults ------------------------------------------
    def _translater_slow(self, offset: int, value: int, size: int, cpu: int | None,
                         device_id: int | None) -> None:
        if offset & (size - 1):
            raise misaligned("GITS translation frame", offset, size)
        if size not in (2, 4):
            self._bad(offset + ITS_CONTROL_FRAME_SIZE, size, True, cpu,
                      f"{size}-byte write not supported", devid=device_id)
            return
        if offset != _TRANSLATER_OFF:
            return  # reserved: WI
        ev = self._events
        from_cpu = device_id is None
        if device_id is None:
            # IMPDEF choice: a CPU store carries no requester ID on this bus.  IHI 0069
            # 5.3.5 leaves it to the implementation how the DeviceID of a write is
            # determined; by default it is MachineConfig.its_cpu_devid = 0, as QEMU (a CPU
            # access has requester ID 0); its_cpu_devid=None ignores such stores.
            devid = self._cpu_devid
            if devid is None:
                if ev.enabled:
                    ev.emit("its_translater_cpu_write", cpu=cpu, eventid=value,
                            rule="a CPU write carries no DeviceID; ignored")
                return
            if ev.enabled:
                ev.emit("its_translater_cpu_write", cpu=cpu, eventid=value, devid=devid,
                        rule="a CPU write uses MachineConfig.its_cpu_devid")
            device_id = devid
        if not self._enabled:
            if ev.enabled:
                ev.emit("its_translation_fault", devid=device_id, eventid=value,
                        rule="GITS_CTLR.Enabled is 0")
            return
        # enabled, normal path
        self._translation.mmio_write(offset, value, size, None, device_id)
        if from_cpu:
            # IMPDEF choice, as QEMU: a CPU store whose translation needs a table entry
            # outside RAM ends in an external abort (QEMU returns a bus error to the
            # writer); a device's write is only dropped (the fault event says why).
            rule = self._memory_fault_rule(device_id, value)
            if rule is not None:
                raise _AccessFault(f"GITS_TRANSLATER: {rule}")

    def _memory_fault_rule(self, devid: int, eventid: int) -> str | None:
        """Why a translation miss would read a table entry outside RAM, or None."""
        if devid >= self._dt.num_entries:
            return None
        dev = self._devices.get(devid)
        if dev is None:
            a = self._dt.entry_addr(devid, self._mem, self._bus.is_ram)
            if a == MEMORY_FAULT:
                return "level-1 device table entry is not in RAM"
            if a != L1_INVALID and not self._bus.is_ram(a):
                return "device table entry is not in RAM"
            return None
        if (eventid < 1 << (dev.size + 1) and eventid not in dev.ites
                and not self._bus.is_ram(dev.itt_addr + eventid * ITS_ENTRY_SIZE)):
            return "ITT entry is not in RAM"
        return None

    def _translation_fault(self, devid: int, eventid: int) -> None:
        """Record why an MSI was dropped (architected: the write is ignored; IMPDEF
        choice: no SError is generated, GITS_TYPER.SEIS=0)."""
        ev = self._events
        if not ev.enabled:
            return
        dev = self._devices.get(devid)
        mem_rule = self._memory_fault_rule(devid, eventid)
        if devid >= 1 << self._dev_bits:
            rule = "DeviceID exceeds GITS_TYPER.Devbits"
        elif mem_rule is not None:
            rule = mem_rule
        else:
            if dev is None:
                rule = "device not mapped (DTE not valid)"
            elif eventid >= 1 << (dev.size + 1):
                rule = "EventID exceeds the device ITT size"
            elif eventid not in dev.ites:
                rule = "event not mapped (ITE not valid)"
            else:
                rule = "collection not mapped (CTE not valid)"
        ev.emit("its_translation_fault", devid=devid, eventid=eventid, rule=rule)

    # -- tables: rebuild from memory, save -------------------------------------------
    def _collection(self, icid: int) -> Collection:
        c = self._colls.get(icid)
        if c is None:
            c = self._colls[icid] = Collection(icid)
        return c

    def restore_tables(self) -> None:
        """Drop the cache and rebuild it from the tables in memory.

        Runs when GITS_CTLR.Enabled goes 0->1 (the tables' geometry is captured from
        GITS_BASER0/1 then).  Public so that tools can load a saved image.  Entries
        that name a redistributor, LPI or collection that does not exist are skipped
        with an ``its_table_entry_invalid`` event.  Cost: proportional to the memory
        pages written inside the tables, not to their addressable size.
        """
        self._dt = Table(self._baser[0], self._dev_bits)
        self._ct = Table(self._baser[1], self._icid_bits)
        self._devices = {}
        self._colls = {}
        mem = self._mem
        is_ram = self._bus.is_ram
        for icid, cte in self._ct.iter_entries(mem):
            if not CTE.V.get(cte):
                continue
            rdbase = CTE.RDBase.get(cte)
            rd = self._redist_for(rdbase)
            if rd is None:
                self._bad_entry("collection", icid, "RDbase does not name a redistributor")
                continue
            c = self._collection(icid)
            c.rdbase = rdbase
            c.redist = rd
        for devid, dte in self._dt.iter_entries(mem):
            if not DTE.V.get(dte):
                continue
            size = DTE.Size.get(dte)
            if size >= self._event_bits:
                self._bad_entry("device", devid, "DTE Size exceeds GITS_TYPER.ID_bits")
                continue
            dev = Device(devid, DTE.ITT_addr.get(dte) << 8, size)
            self._devices[devid] = dev
            if is_ram(dev.itt_addr):
                self._load_itt(dev)

    def _load_itt(self, dev: Device) -> None:
        limit = 1 << (dev.size + 1)
        ites = dev.ites
        colls = self._colls
        lo, hi = 8192, self._intid_limit
        ct_entries = self._ct.num_entries
        p_sh, p_mask = ITE.pINTID.shift, ITE.pINTID.mask
        i_mask = ITE.ICID.mask
        for off, ite in scan_entries(self._mem, dev.itt_addr, limit * ITS_ENTRY_SIZE):
            pintid = (ite >> p_sh) & p_mask
            if not pintid:
                continue
            eventid = off >> 3
            icid = ite & i_mask
            if not lo <= pintid < hi:
                self._bad_entry("itt", eventid, "pINTID is not an implemented LPI",
                                devid=dev.devid)
            elif icid >= ct_entries:
                self._bad_entry("itt", eventid, "ICID exceeds the collection table size",
                                devid=dev.devid)
            else:
                coll = colls.get(icid)
                if coll is None:
                    coll = colls[icid] = Collection(icid)
                ites[eventid] = Ite(eventid, pintid, coll)

    def _bad_entry(self, table: str, index: int, rule: str, **ids: int) -> None:
        ev = self._events
        if ev.enabled:
            ev.emit("its_table_entry_invalid", table=table, index=index, **ids, rule=rule)

    def save_tables(self) -> None:
        """Write every cached entry to memory with the ABI's ``next`` fields filled.

        KVM ITS ABI rev 0: a DTE's ``next`` is the offset to the next valid DeviceID
        (0 for the last; capped at 2^14 - 1), an ITE's the offset to the next valid
        EventID (capped at 2^16 - 1).  While running, irqlab keeps ``next`` 0.  Entries
        whose address is not RAM are skipped.  The pending tables are the
        redistributors' business (``redist.sync_pending_table()``).
        """
        is_ram = self._bus.is_ram
        mem = self._mem
        devids = sorted(self._devices)
        for i, devid in enumerate(devids):
            dev = self._devices[devid]
            nxt = min(devids[i + 1] - devid, (1 << 14) - 1) if i + 1 < len(devids) else 0
            a = self._table_addr(self._dt, devid)
            if a >= 0 and is_ram(a):
                mem.write_u64(a, encode_dte(valid=True, itt_addr=dev.itt_addr, size=dev.size,
                                            next_=nxt))
            evids = sorted(dev.ites)
            for j, eventid in enumerate(evids):
                ite = dev.ites[eventid]
                nx = min(evids[j + 1] - eventid, 0xFFFF) if j + 1 < len(evids) else 0
                ia = dev.itt_addr + eventid * ITS_ENTRY_SIZE
                if is_ram(ia):
                    mem.write_u64(ia, encode_ite(pintid=ite.pintid, icid=ite.coll.icid, next_=nx))
        for icid in sorted(self._colls):
            c = self._colls[icid]
            if c.redist is None:
                continue
            a = self._table_addr(self._ct, icid)
            if a >= 0 and is_ram(a):
                mem.write_u64(a, encode_cte(valid=True, rdbase=c.rdbase, icid=icid))

    def _table_addr(self, table: Table, index: int) -> int:
        if index >= table.num_entries:
            return -1
        return table.entry_addr(index, self._mem, self._bus.is_ram)

    # -- redistributors ---------------------------------------------------------------
    def _redist_for(self, rdbase: int) -> Any:
        """The redistributor an RDbase field names, or ``None``.

        GITS_TYPER.PTA=0: the processor number; PTA=1: RD_base PA bits [51:16].
        """
        redists = self._machine.gic.redists
        if not self._pta:
            return redists[rdbase] if rdbase < len(redists) else None
        if self._rd_by_base is None:
            self._rd_by_base = {rd.rd_base >> 16: rd for rd in redists}
        return self._rd_by_base.get(rdbase)

