"""The ITS command queue and one ``_process_<cmd>`` per physical command (IHI 0069 ch. 6).

Part of :class:`irqlab.hw.gicv3.its.ITS` (a mixin, split out for size).  Commands run
synchronously, in queue order, from GITS_CREADR to GITS_CWRITER.  A command that breaks
a rule raises :class:`_CommandError`; :meth:`CommandQueueMixin._process_queue` turns
it into an ``its_cmd_error`` event and, per ``MachineConfig.its_command_errors``,
either drops the command and goes on or stalls the queue (GITS_CREADR.Stalled=1,
GITS_CREADR left at the failing command until software writes GITS_CWRITER.Retry=1
or reprograms GITS_CBASER).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from irqlab.arch.its import (
    CMD_SIZE,
    GITS_CBASER,
    ITS_ENTRY_SIZE,
    LPI_INTID_BASE,
    decode_command_words,
    encode_cte,
    encode_dte,
    encode_ite,
)
from irqlab.hw.gicv3.its_tables import L1_INVALID, MEMORY_FAULT, Device, Ite, Table

if TYPE_CHECKING:
    from irqlab.arch.its import ItsCommand
    from irqlab.events import EventStream
    from irqlab.hw.gicv3.its_tables import Collection
    from irqlab.hw.memory import Bus, SparseMemory

__all__ = ["CommandQueueMixin"]

#: a command's four little-endian doublewords
_unpack_words = struct.Struct("<4Q").unpack
_CBASER_PA_MASK = GITS_CBASER.Physical_Address.in_place
_ID_FIELDS = (("DeviceID", "devid"), ("EventID", "eventid"), ("pINTID", "intid"),
              ("ICID", "icid"), ("RDbase", "rdbase"), ("RDbase1", "rdbase1"),
              ("RDbase2", "rdbase2"), ("Size", "size"), ("ITT_addr", "itt_addr"), ("V", "v"))


class _CommandError(Exception):
    """Internal: a command broke ``rule``; ``memory`` marks a memory fault."""

    def __init__(self, rule: str, *, memory: bool = False) -> None:
        super().__init__(rule)
        self.rule = rule
        self.memory = memory


def _event_fields(cmd: ItsCommand) -> dict[str, int]:
    f = cmd.fields
    out = {ev: f[name] for name, ev in _ID_FIELDS if name in f}
    if "itt_addr" in out:
        out["itt_addr"] <<= 8
    return out


#: the event kind of each command, by name (``its_cmd_mapti``)
_DONE_KIND: dict[str, str] = {}


class CommandQueueMixin:
    """Command processing for the ITS; see the module docstring."""

    # provided by ITS
    _events: EventStream
    _mem: SparseMemory
    _bus: Bus
    _mode: str
    _enabled: bool
    _cbaser: int
    _cwriter: int
    _creadr: int
    _stalled: bool
    _dt: Table
    _ct: Table
    _devices: dict[int, Device]
    _colls: dict[int, Collection]
    _dev_bits: int
    _event_bits: int
    _icid_bits: int
    _intid_limit: int
    _collection: Callable[[int], Collection]
    _redist_for: Callable[[int], Any]
    _load_itt: Callable[[Device], None]

    # -- the queue ----------------------------------------------------------------
    def _process_queue(self) -> None:
        """Run the commands in [GITS_CREADR, GITS_CWRITER), unless disabled or stalled."""
        if not self._enabled or self._stalled or not self._cbaser >> 63:
            return
        qsize = (GITS_CBASER.Size.get(self._cbaser) + 1) * 0x1000
        qbase = self._cbaser & _CBASER_PA_MASK
        ev = self._events
        if self._cwriter >= qsize:
            if ev.enabled:
                ev.emit("its_cmdq_error", offset=self._cwriter,
                        rule="GITS_CWRITER.Offset is beyond the command queue")
            if self._mode == "stall":
                self._stall()
            return
        is_ram = self._bus.is_ram
        lookup = self._bus.lookup
        # the whole ring in one RAM region: no per-command check needed
        ring_ok = is_ram(qbase) and lookup(qbase) is lookup(qbase + qsize - 1)
        mem = self._mem
        while self._creadr != self._cwriter:
            addr = qbase + self._creadr
            cmd = None
            try:
                if not ring_ok and not (is_ram(addr) and is_ram(addr + CMD_SIZE - 1)):
                    raise _CommandError("command queue entry is not in RAM", memory=True)
                cmd = decode_command_words(_unpack_words(mem.read(addr, CMD_SIZE)))
                handler = _DISPATCH.get(cmd.opcode)
                if handler is None:
                    raise _CommandError(
                        f"{cmd.name} (opcode {cmd.opcode:#x}) is not a command of this ITS"
                        if cmd.name != "UNKNOWN" else f"unknown opcode {cmd.opcode:#x}")
                handler(self, cmd)
            except _CommandError as e:
                if ev.enabled:
                    name = cmd.name if cmd is not None else "?"
                    fields = _event_fields(cmd) if cmd is not None else {}
                    ev.emit("its_cmd_error", cmd=name, **fields, rule=e.rule,
                            offset=self._creadr)
                if self._mode == "stall" or (self._mode == "qemu" and e.memory):
                    self._stall()
                    return
            self._creadr = (self._creadr + CMD_SIZE) % qsize

    def _stall(self) -> None:
        self._stalled = True
        ev = self._events
        if ev.enabled:
            ev.emit("its_cmdq_stalled", offset=self._creadr)

    def _done(self, cmd: ItsCommand, cpu: int | None = None) -> None:
        ev = self._events
        if ev.enabled:
            name = cmd.name
            kind = _DONE_KIND.get(name)
            if kind is None:
                kind = _DONE_KIND[name] = "its_cmd_" + name.lower()
            ev.emit_args(kind, cpu, _event_fields(cmd))

    # -- shared checks ------------------------------------------------------------------
    def _entry_addr(self, table: Table, index: int, what: str) -> int:
        """Address of a table entry, checked: L1 validity and RAM (memory faults)."""
        a = table.entry_addr(index, self._mem, self._bus.is_ram)
        if a == L1_INVALID:
            raise _CommandError(f"level-1 {what} table entry not valid")
        if a == MEMORY_FAULT:
            raise _CommandError(f"level-1 {what} table entry is not in RAM", memory=True)
        if not self._bus.is_ram(a):
            raise _CommandError(f"{what} table entry is not in RAM", memory=True)
        return a

    def _check_devid(self, devid: int) -> None:
        if devid >= 1 << self._dev_bits:
            raise _CommandError("DeviceID exceeds GITS_TYPER.Devbits")
        if devid >= self._dt.num_entries:
            raise _CommandError("DeviceID exceeds the device table size"
                                if self._dt.valid else "device table not valid (GITS_BASER0)")

    def _check_icid(self, icid: int) -> None:
        if icid >= 1 << self._icid_bits:
            raise _CommandError("ICID exceeds GITS_TYPER.CIDbits")
        if icid >= self._ct.num_entries:
            raise _CommandError("ICID exceeds the collection table size"
                                if self._ct.valid else
                                "collection table not valid (GITS_BASER1)")

    def _dte_readable(self, devid: int) -> None:
        """For a DeviceID the cache does not hold: a memory fault if its DTE (or level-1
        entry) would be read from outside RAM, as QEMU stalls on that read; an invalid
        level-1 entry is simply "not mapped".  Only on error paths."""
        a = self._dt.entry_addr(devid, self._mem, self._bus.is_ram)
        if a == MEMORY_FAULT:
            raise _CommandError("level-1 device table entry is not in RAM", memory=True)
        if a != L1_INVALID and not self._bus.is_ram(a):
            raise _CommandError("device table entry is not in RAM", memory=True)

    def _device(self, cmd: ItsCommand) -> Device:
        """The mapped device of a command, with its EventID checked against the ITT size."""
        devid = cmd.DeviceID
        self._check_devid(devid)
        dev = self._devices.get(devid)
        if dev is None:
            self._dte_readable(devid)
            raise _CommandError("device not mapped (DTE not valid)")
        if "EventID" in cmd.fields and cmd.EventID >= 1 << (dev.size + 1):
            raise _CommandError("EventID exceeds the device ITT size")
        return dev

    def _ite(self, cmd: ItsCommand, *, need_collection: bool = True) -> tuple[Device, Ite]:
        dev = self._device(cmd)
        ite = dev.ites.get(cmd.EventID)
        if ite is None:
            # IMPDEF choice, as QEMU: an ITE that would be read from outside RAM is a
            # memory fault (the queue stalls in "qemu" mode), not an unmapped event.
            if not self._bus.is_ram(dev.itt_addr + cmd.EventID * ITS_ENTRY_SIZE):
                raise _CommandError("ITT entry is not in RAM", memory=True)
            raise _CommandError("event not mapped (ITE not valid)")
        if need_collection and ite.coll.redist is None:
            raise _CommandError("collection not mapped (CTE not valid)")
        return dev, ite

    def _rdbase(self, rdbase: int) -> Any:
        rd = self._redist_for(rdbase)
        if rd is None:
            raise _CommandError("RDbase does not name a redistributor")
        return rd

    def _write_ite(self, dev: Device, eventid: int, pintid: int, icid: int) -> None:
        a = dev.itt_addr + eventid * ITS_ENTRY_SIZE
        if not self._bus.is_ram(a):
            raise _CommandError("ITT entry is not in RAM", memory=True)
        self._mem.write_u64(a, encode_ite(pintid=pintid, icid=icid))

    # -- the commands ---------------------------------------------------------------------
    def _process_mapd(self, cmd: ItsCommand) -> None:
        """MAPD: map DeviceID to an ITT (V=1) or unmap it (V=0).

        V=1 loads the device's ITT from memory into the cache (as enable does); V=0
        leaves its LPIs' pending state alone (IHI 0069 6.3.8 does not clear it).
        """
        devid = cmd.DeviceID
        self._check_devid(devid)
        # IHI 0069 MAPD pseudocode, as QEMU: Size is checked whatever V (MAPD_ITTSIZE_OOR);
        # a rejected V=0 leaves the device mapped.  (KVM checks Size only when V=1.)
        if cmd.Size >= self._event_bits:
            raise _CommandError("Size exceeds GITS_TYPER.ID_bits")
        valid = bool(cmd.V)
        a = self._entry_addr(self._dt, devid, "device")
        itt_addr = cmd.ITT_addr << 8
        if valid:
            self._mem.write_u64(a, encode_dte(valid=True, itt_addr=itt_addr, size=cmd.Size))
            dev = Device(devid, itt_addr, cmd.Size)
            self._devices[devid] = dev
            if self._bus.is_ram(itt_addr):
                self._load_itt(dev)
        else:
            self._mem.write_u64(a, 0)
            self._devices.pop(devid, None)
        self._done(cmd)

    def _process_mapc(self, cmd: ItsCommand) -> None:
        """MAPC: map collection ICID to a redistributor (V=1) or unmap it (V=0).

        Re-mapping a mapped collection retargets its LPIs at once; LPIs already
        pending stay on the old redistributor (software moves them with MOVALL first).
        The collection's LPIs arrive at a new redistributor: their configuration is
        invalidated (as INV of each), so that it reads their bytes afresh instead of
        a copy kept from an earlier time they targeted it.
        """
        icid = cmd.ICID
        self._check_icid(icid)
        rd = self._rdbase(cmd.RDbase) if cmd.V else None
        a = self._entry_addr(self._ct, icid, "collection")
        coll = self._collection(icid)
        if rd is not None:
            self._mem.write_u64(a, encode_cte(valid=True, rdbase=cmd.RDbase, icid=icid))
            coll.rdbase = cmd.RDbase
        else:
            self._mem.write_u64(a, 0)
        old_rd = coll.redist
        coll.redist = rd
        self._done(cmd, rd.processor_number if rd is not None else None)
        if rd is not None and rd is not old_rd:
            for intid in self._collection_lpis(coll):
                rd.lpi_invalidate(intid)

    def _map_event(self, cmd: ItsCommand, pintid: int) -> None:
        # Checks in the order of IHI 0069's MAPTI pseudocode, as QEMU: DeviceID range,
        # (DTE read), ICID range, DTE valid, EventID range, pINTID.
        self._check_devid(cmd.DeviceID)
        if cmd.DeviceID not in self._devices:
            self._dte_readable(cmd.DeviceID)  # QEMU reads the DTE before checking the ICID
        self._check_icid(cmd.ICID)
        dev = self._device(cmd)
        if not LPI_INTID_BASE <= pintid < self._intid_limit:
            raise _CommandError("pINTID is not an implemented LPI"
                                if pintid >= LPI_INTID_BASE else "pINTID is not an LPI")
        self._write_ite(dev, cmd.EventID, pintid, cmd.ICID)
        dev.ites[cmd.EventID] = Ite(cmd.EventID, pintid, self._collection(cmd.ICID))
        self._done(cmd)

    def _process_mapti(self, cmd: ItsCommand) -> None:
        """MAPTI: map (DeviceID, EventID) to LPI pINTID in collection ICID."""
        self._map_event(cmd, cmd.pINTID)

    def _process_mapi(self, cmd: ItsCommand) -> None:
        """MAPI: MAPTI with pINTID = EventID."""
        self._map_event(cmd, cmd.EventID)

    def _process_movi(self, cmd: ItsCommand) -> None:
        """MOVI: move an event to collection ICID, and its pending state with it."""
        dev, ite = self._ite(cmd)
        self._check_icid(cmd.ICID)
        new = self._colls.get(cmd.ICID)
        if new is None or new.redist is None:
            raise _CommandError("target collection not mapped (CTE not valid)")
        self._write_ite(dev, ite.eventid, ite.pintid, cmd.ICID)
        old_rd = ite.coll.redist
        ite.coll = new
        self._done(cmd, new.redist.processor_number)
        if old_rd is not new.redist:
            old_rd.lpi_move_pending(ite.pintid, new.redist)

    def _process_movall(self, cmd: ItsCommand) -> None:
        """MOVALL: move every LPI pending on RDbase1 to RDbase2 (mappings unchanged)."""
        rd1 = self._rdbase(cmd.RDbase1)
        rd2 = self._rdbase(cmd.RDbase2)
        self._done(cmd, rd2.processor_number)
        if rd1 is not rd2:
            rd1.lpi_move_all(rd2)

    def _process_discard(self, cmd: ItsCommand) -> None:
        """DISCARD: clear the LPI's pending state and remove the ITE."""
        dev, ite = self._ite(cmd)
        self._write_ite(dev, ite.eventid, 0, 0)
        del dev.ites[ite.eventid]
        self._done(cmd, ite.coll.redist.processor_number)
        ite.coll.redist.lpi_clear_pending(ite.pintid)

    def _process_int(self, cmd: ItsCommand) -> None:
        """INT: make the event's LPI pending, as a write to GITS_TRANSLATER would."""
        _, ite = self._ite(cmd)
        self._done(cmd, ite.coll.redist.processor_number)
        ite.coll.redist.lpi_set_pending(ite.pintid)

    def _process_clear(self, cmd: ItsCommand) -> None:
        """CLEAR: clear the pending state of the event's LPI."""
        _, ite = self._ite(cmd)
        self._done(cmd, ite.coll.redist.processor_number)
        ite.coll.redist.lpi_clear_pending(ite.pintid)

    def _process_inv(self, cmd: ItsCommand) -> None:
        """INV: make the redistributors re-read the LPI's configuration byte.

        Sent to the collection's redistributor, which also reaches the copies other
        redistributors keep (:meth:`Redistributor.lpi_invalidate`).
        """
        _, ite = self._ite(cmd)
        self._done(cmd, ite.coll.redist.processor_number)
        ite.coll.redist.lpi_invalidate(ite.pintid)

    def _process_invall(self, cmd: ItsCommand) -> None:
        """INVALL: the collection's redistributor forgets all its LPI configuration, and
        every redistributor its copies of the collection's LPIs (as INV of each)."""
        self._check_icid(cmd.ICID)
        coll = self._colls.get(cmd.ICID)
        if coll is None or coll.redist is None:
            raise _CommandError("collection not mapped (CTE not valid)")
        rd = coll.redist
        self._done(cmd, rd.processor_number)
        rd.lpi_invalidate_all()
        for intid in self._collection_lpis(coll):
            rd.lpi_invalidate(intid, others_only=True)

    def _collection_lpis(self, coll: Collection) -> list[int]:
        """The LPIs mapped to ``coll``, in INTID order (a walk of every cached ITE)."""
        return sorted({ite.pintid for dev in self._devices.values()
                       for ite in dev.ites.values() if ite.coll is coll})

    def _process_sync(self, cmd: ItsCommand) -> None:
        """SYNC: a no-op here (every effect is already visible), but RDbase is checked."""
        rd = self._rdbase(cmd.RDbase)
        self._done(cmd, rd.processor_number)


_DISPATCH: dict[int, Callable[[Any, ItsCommand], None]] = {
    0x01: CommandQueueMixin._process_movi,
    0x03: CommandQueueMixin._process_int,
    0x04: CommandQueueMixin._process_clear,
    0x05: CommandQueueMixin._process_sync,
    0x08: CommandQueueMixin._process_mapd,
    0x09: CommandQueueMixin._process_mapc,
    0x0A: CommandQueueMixin._process_mapti,
    0x0B: CommandQueueMixin._process_mapi,
    0x0C: CommandQueueMixin._process_inv,
    0x0D: CommandQueueMixin._process_invall,
    0x0E: CommandQueueMixin._process_movall,
    0x0F: CommandQueueMixin._process_discard,
}

