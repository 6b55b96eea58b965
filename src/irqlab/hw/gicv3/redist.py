"""A GICv3 Redistributor (RD_base + SGI_base frames, IHI 0069 12.10/12.11) and its LPIs.

One per CPU.  RD_base holds GICR_CTLR, TYPER, WAKER, PROPBASER, PENDBASER and
the direct-LPI registers; SGI_base holds the banked SGI/PPI registers of this
CPU (GICR_IGROUPR0, ISENABLER0, ..., IPRIORITYR0-7, ICFGR0/1).

LPIs (IHI 0069 5.1): the configuration table (GICR_PROPBASER) holds one byte per
LPI; each redistributor reads an LPI's byte when it first needs it and keeps its
own copy, as hardware may.  A copy is dropped (the byte is read again) by an
invalidation, and when the LPI moves to the redistributor, so that no
redistributor ever uses a copy older than the LPI's last invalidation or its
arrival there (see ``docs/gicv3.md``, "LPIs").  The pending table
(GICR_PENDBASER) is the architectural backing store of the pending state; while
EnableLPIs == 1 the model keeps pending LPIs in a set plus a lazy priority queue
(one INTID heap per priority), and moves the state between memory and the cache
at defined points: scanned in at EnableLPIs 0->1 (unless PTZ was written 1),
written back when EnableLPIs is cleared and by
:meth:`Redistributor.sync_pending_table`.

Access sizes: 32-bit aligned everywhere; 64-bit (and 32-bit halves) for
GICR_TYPER, PROPBASER, PENDBASER, SETLPIR, CLRLPIR, INVLPIR, INVALLR; 8-bit for
GICR_IPRIORITYR<n>.  Other sizes are RAZ/WI with a ``gicr_bad_access`` event
(as QEMU; ``MachineConfig.gic_bad_access == "abort"`` aborts instead); a
misaligned access aborts.  Reserved offsets are RAZ/WI with a
``gicr_unimplemented`` event.  Never yields.
"""

from __future__ import annotations

from heapq import heappop, heappush
from typing import TYPE_CHECKING

from irqlab.arch import gicv3 as A
from irqlab.arch import regmap
from irqlab.hw._access import BadAccess, misaligned
from irqlab.hw.gicv3._state import LEVEL_SHIFT, NO_KEY, IrqBank, PrioQueue

if TYPE_CHECKING:
    from irqlab.hw.gicv3 import GICv3
    from irqlab.hw.gicv3.cpuif import CpuInterface

__all__ = ["Redistributor"]

_LPI_BASE = A.LPI_INTID_BASE
_PROP_PA = A.GICR_PROPBASER.PhysicalAddress
_PEND_PA = A.GICR_PENDBASER.PhysicalAddress
_PROP_IDBITS = A.GICR_PROPBASER.IDbits
_PTZ = A.GICR_PENDBASER.PTZ.in_place
_64BIT = frozenset((A.GICR_TYPER_OFF, A.GICR_PROPBASER_OFF, A.GICR_PENDBASER_OFF,
                    A.GICR_SETLPIR_OFF, A.GICR_CLRLPIR_OFF, A.GICR_INVLPIR_OFF,
                    A.GICR_INVALLR_OFF))
_SGI_BITREGS = {
    A.GICR_IGROUPR0_OFF: ("GICR_IGROUPR0", "group"),
    A.GICR_ISENABLER0_OFF: ("GICR_ISENABLER0", "enabled"),
    A.GICR_ICENABLER0_OFF: ("GICR_ICENABLER0", "enabled"),
    A.GICR_ISPENDR0_OFF: ("GICR_ISPENDR0", "pending"),
    A.GICR_ICPENDR0_OFF: ("GICR_ICPENDR0", "pending"),
    A.GICR_ISACTIVER0_OFF: ("GICR_ISACTIVER0", "active"),
    A.GICR_ICACTIVER0_OFF: ("GICR_ICACTIVER0", "active"),
}


class Redistributor:
    """The redistributor of processor ``processor_number``; an ``MmioDevice`` (128 KiB)."""

    def __init__(self, gic: GICv3, index: int, rd_base: int, last: bool) -> None:
        self.gic = gic
        cfg = gic.config
        self.processor_number = index
        #: Physical address of RD_base (the ITS uses it when GITS_TYPER.PTA == 1).
        self.rd_base = rd_base
        self.cpuif: CpuInterface  # set by GICv3 once the CPU interfaces exist
        self.bank: IrqBank = IrqBank(gic, 0, 32, index)
        #: GICR_CTLR.EnableLPIs.
        self.lpis_enabled = False
        #: GICR_WAKER.ProcessorSleep (reset 1, as hardware and QEMU; ChildrenAsleep follows).
        self.asleep = True
        self.propbaser = 0
        self.pendbaser = 0
        self._ptz = False  # PTZ as last written (the register reads it as 0)
        self._lpi_bits = 0  # INTID width usable for LPIs (0: none)
        self._lpi_limit = 0  # one past the highest usable LPI INTID
        self._prop_pa = 0
        self._pmask = gic.prio_mask & A.LPI_PRIORITY_MASK
        self.lpi_pending: set[int] = set()
        #: This redistributor's copies of LPI configuration bytes (INTID -> byte).
        self.lpi_cfg: dict[int, int] = {}
        #: Pending enabled LPIs by priority (lazy: validated on peek).
        self.lpi_queue = PrioQueue()
        aff3, aff2, aff1, aff0 = gic.machine.cpus[index].affinity
        self._aff3 = aff3
        self._peers: list[Redistributor] | None = None  # see _lpi_peers
        self.typer = A.GICR_TYPER.encode(
            PLPIS=1, DirectLPI=int(cfg.direct_lpi), Last=int(last), Processor_Number=index,
            # IMPDEF choice, as QEMU and KVM: CommonLPIAff = 0b01 (redistributors with the
            # same Aff3 share the LPI configuration table; every CPU of virt has Aff3 0).
            CommonLPIAff=1, Affinity_Value=(aff3 << 24) | (aff2 << 16) | (aff1 << 8) | aff0)
        self._events = gic.events
        self._memory = gic.machine.memory
        self._bad_rd = BadAccess(cfg, gic.events, "gicr", regmap.GICR_RD)
        self._bad_sgi = BadAccess(cfg, gic.events, "gicr", regmap.GICR_SGI)

    def __repr__(self) -> str:
        return f"<Redistributor {self.processor_number} rd_base={self.rd_base:#x}>"

    # ======================================================================
    # LPI interface (used by the ITS and by GICR_SETLPIR/CLRLPIR)
    # ======================================================================
    def lpi_set_pending(self, intid: int) -> None:
        """Make LPI ``intid`` pending on this redistributor (ITS INT, a translated MSI).

        O(log n) in the number of pending LPIs.  With EnableLPIs == 0 the LPI is
        not delivered (UNPREDICTABLE in the spec); IMPDEF choice: its bit is set
        in the pending table in memory if PENDBASER holds an address, else it is
        dropped; an event says which.  INTIDs beyond the LPI range are dropped.
        """
        pend = self.lpi_pending
        if intid in pend:
            return
        if not _LPI_BASE <= intid < self._lpi_limit:  # the limit is 0 while EnableLPIs == 0
            self._lpi_set_pending_slow(intid)
            return
        pend.add(intid)
        cfg = self.lpi_cfg.get(intid)
        if cfg is None:
            cfg = self.lpi_cfg[intid] = self._memory.read_u8(self._prop_pa + intid - _LPI_BASE)
        ev = self._events
        if ev.enabled:
            ev.emit("gicr_lpi_pending", cpu=self.processor_number, intid=intid,
                    enabled=bool(cfg & 1), prio=cfg & self._pmask)
        if cfg & 1:
            p = cfg & self._pmask
            key = (p << 32) | intid
            q = self.lpi_queue
            if q.inq.get(intid) != p:
                lv = p >> LEVEL_SHIFT
                lst = q.levels.get(lv)
                if lst is None:
                    lst = q.levels[lv] = []
                heappush(lst, key)
                q.bm |= 1 << lv
                q.inq[intid] = p
            c = self.cpuif
            if key < c.hppi_key and c._en1:
                c.set_hppi(key, 1)  # it beats every other candidate: no need to peek

    def _lpi_set_pending_slow(self, intid: int) -> None:
        ev = self._events
        if not _LPI_BASE <= intid < (1 << self.gic.config.idbits):
            if ev.enabled:
                ev.emit("gicr_lpi_dropped", cpu=self.processor_number, intid=intid,
                        reason="INTID outside the LPI range")
            return
        if self.lpis_enabled:
            if ev.enabled:
                ev.emit("gicr_lpi_dropped", cpu=self.processor_number, intid=intid,
                        reason="INTID beyond GICR_PROPBASER.IDbits")
            return
        pa = _PEND_PA.get(self.pendbaser) << 16
        if pa:
            self._memory.set_bit(pa, intid, True)
        if ev.enabled:
            ev.emit("gicr_lpi_dropped" if not pa else "gicr_lpi_pending_table",
                    cpu=self.processor_number, intid=intid,
                    reason="EnableLPIs is 0: " + ("bit set in the pending table" if pa
                                                  else "no pending table, dropped"))

    def lpi_clear_pending(self, intid: int) -> None:
        """Remove the pending state of LPI ``intid`` (ITS CLEAR, DISCARD; GICR_CLRLPIR)."""
        if intid in self.lpi_pending:
            self.lpi_pending.discard(intid)
            ev = self._events
            if ev.enabled:
                ev.emit("gicr_lpi_clear", cpu=self.processor_number, intid=intid)
            c = self.cpuif
            if c.hppi_intid == intid:
                c.update()
        elif not self.lpis_enabled and intid >= _LPI_BASE:
            pa = _PEND_PA.get(self.pendbaser) << 16
            if pa and intid < (1 << self.gic.config.idbits):
                self._memory.set_bit(pa, intid, False)

    def lpi_is_pending(self, intid: int) -> bool:
        """Whether LPI ``intid`` is pending here (from the pending table while EnableLPIs == 0)."""
        if self.lpis_enabled:
            return intid in self.lpi_pending
        pa = _PEND_PA.get(self.pendbaser) << 16
        if pa and _LPI_BASE <= intid < (1 << self.gic.config.idbits):
            return self._memory.test_bit(pa, intid)
        return False

    def lpi_move_pending(self, intid: int, to: Redistributor) -> None:
        """ITS MOVI: LPI ``intid`` now targets ``to``; its pending state, if any, moves there.

        ``to`` drops its copy of the LPI's configuration byte first and reads the
        byte again: it may hold a copy from an earlier time the LPI targeted it, and
        the invalidations made since went to the redistributor the LPI targeted then.
        Linux masks an LPI with an INV to its current collection and then moves it
        with MOVI alone (``its_mask_irq``, ``its_set_affinity``); QEMU re-reads the
        byte whenever an LPI becomes pending.
        """
        if to is self:
            return
        if not to.lpis_enabled:
            self._move_refused(to, intid)
            return
        if to._lpi_forget(intid):
            to.cpuif.update()
        if intid in self.lpi_pending:
            self.lpi_clear_pending(intid)
            to.lpi_set_pending(intid)

    def lpi_move_all(self, to: Redistributor) -> None:
        """ITS MOVALL: every LPI pending here becomes pending on ``to`` instead (INTID order).

        ``to`` reads the configuration byte of each LPI moved again, as for MOVI.
        """
        if to is self:
            return
        if not to.lpis_enabled:
            self._move_refused(to, None)
            return
        stale = False
        for intid in sorted(self.lpi_pending):
            stale |= to._lpi_forget(intid)
            self.lpi_clear_pending(intid)
            to.lpi_set_pending(intid)
        if stale:
            to.cpuif.update()

    def _move_refused(self, to: Redistributor, intid: int | None) -> None:
        # a move to a redistributor with EnableLPIs == 0 is CONSTRAINED UNPREDICTABLE;
        # IMPDEF choice, as QEMU (gicv3_redist_mov_lpi/movall_lpis): nothing moves, the
        # pending state stays here -- an LPI is never lost on the way
        ev = self._events
        if ev.enabled:
            ev.emit("gicr_lpi_move_ignored", cpu=self.processor_number, to=to.processor_number,
                    intid=-1 if intid is None else intid,
                    reason="the target redistributor's EnableLPIs is 0")

    def lpi_invalidate(self, intid: int, *, others_only: bool = False) -> None:
        """ITS INV (and MAPC re-targeting a collection): forget every copy of ``intid``'s byte.

        Every redistributor that shares the configuration table with this one
        (GICR_TYPER.CommonLPIAff: the same Aff3) drops its copy; one where the
        LPI is pending reads the byte again at once.  With ``others_only`` this
        redistributor is left out (INVALL, after :meth:`lpi_invalidate_all`).
        GICR_INVLPIR acts on its own redistributor only (IHI 0069: no effect if the
        LPI is not stored in the local Redistributor).
        """
        for rd in self._lpi_peers():
            if others_only and rd is self:
                continue
            if rd._lpi_forget(intid):
                rd.cpuif.update()

    def lpi_invalidate_all(self) -> None:
        """ITS INVALL / GICR_INVALLR: forget this redistributor's copies; re-read pending LPIs'.

        For INVALL the ITS also calls :meth:`lpi_invalidate` (``others_only``) for each
        LPI mapped to the collection, which reaches the copies other redistributors hold.
        """
        self.lpi_cfg.clear()
        for intid in sorted(self.lpi_pending):
            self._lpi_requeue(intid)
        self.cpuif.update()

    def _lpi_forget(self, intid: int) -> bool:
        """Drop this redistributor's copy of ``intid``'s byte, re-reading it now if the LPI
        is pending here (a pending LPI always has one); whether it is: the caller then
        updates the CPU interface."""
        if intid in self.lpi_pending:
            self._lpi_requeue(intid)
            return True
        self.lpi_cfg.pop(intid, None)
        return False

    def _lpi_peers(self) -> list[Redistributor]:
        """The redistributors sharing this one's LPI configuration table, itself included."""
        peers = self._peers
        if peers is None:
            peers = self._peers = [r for r in self.gic.redists if r._aff3 == self._aff3]
        return peers

    def _lpi_requeue(self, intid: int) -> None:
        cfg = self.lpi_cfg[intid] = self._memory.read_u8(self._prop_pa + intid - _LPI_BASE)
        if cfg & 1:
            self.lpi_queue.push(cfg & self._pmask, intid)

    def lpi_peek(self) -> int:
        """Key (priority << 32 | INTID) of the best pending enabled LPI, NO_KEY if none.

        Drops stale queue entries (no longer pending, disabled, re-prioritised).
        """
        q = self.lpi_queue
        bm = q.bm
        levels = q.levels
        inq = q.inq
        pend = self.lpi_pending
        cfgs = self.lpi_cfg
        pmask = self._pmask
        while bm:
            low = bm & -bm
            lst = levels[low.bit_length() - 1]
            while lst:
                k = lst[0]
                i = k & 0xFFFF_FFFF
                p = k >> 32
                if i in pend:
                    cfg = cfgs.get(i, 0)
                    if cfg & 1 and cfg & pmask == p:
                        return k
                heappop(lst)
                if inq.get(i) == p:
                    del inq[i]
            bm ^= low
            q.bm = bm
        return NO_KEY

    def sync_pending_table(self) -> None:
        """Write the cached pending state of every LPI to the pending table in memory.

        Bits of LPIs pending in the model are set, and bits set in memory for
        LPIs not pending in the model are cleared (a scan of allocated pages).
        Used when EnableLPIs is cleared and for save/kexec scenarios.
        """
        pa = _PEND_PA.get(self.pendbaser) << 16
        if not pa or not self.lpis_enabled:
            return
        mem = self._memory
        limit = 1 << self.gic.config.idbits
        stale = [b for b in mem.iter_set_bits(pa, limit, _LPI_BASE) if b not in self.lpi_pending]
        for b in stale:
            mem.set_bit(pa, b, False)
        for intid in sorted(self.lpi_pending):
            mem.set_bit(pa, intid, True)
        ev = self._events
        if ev.enabled:
            ev.emit("gicr_pending_table_sync", cpu=self.processor_number,
                    pending=len(self.lpi_pending))

    def _enable_lpis(self, on: bool) -> None:
        ev = self._events
        if on == self.lpis_enabled:
            return
        if not on:
            if self.gic.config.lpis_sticky:
                if ev.enabled:
                    ev.emit("gicr_ctlr_ignored", cpu=self.processor_number,
                            reason="EnableLPIs cannot be cleared once set (lpis_sticky)")
                return
            self.sync_pending_table()
            self.lpis_enabled = False
            self._lpi_limit = 0
            self.lpi_pending.clear()
            self.lpi_cfg.clear()
            self.lpi_queue.clear()
            if ev.enabled:
                ev.emit("gicr_enable_lpis", cpu=self.processor_number, value=False)
            self.cpuif.update()
            return
        bits = min(_PROP_IDBITS.get(self.propbaser) + 1, self.gic.config.idbits)
        self._lpi_bits = bits if bits >= 14 else 0
        self._lpi_limit = (1 << bits) if bits >= 14 else 0
        self._prop_pa = _PROP_PA.get(self.propbaser) << 12
        self.lpis_enabled = True
        self.lpi_cfg.clear()
        scanned = 0
        pa = _PEND_PA.get(self.pendbaser) << 16
        if not self._ptz and pa and self._lpi_limit:
            for intid in self._memory.iter_set_bits(pa, self._lpi_limit, _LPI_BASE):
                scanned += 1
                self.lpi_pending.add(intid)
                self._lpi_requeue(intid)
        if ev.enabled:
            ev.emit("gicr_enable_lpis", cpu=self.processor_number, value=True,
                    idbits=self._lpi_bits, ptz=self._ptz, scanned=scanned)
        self.cpuif.update()

    # ======================================================================
    # MMIO
    # ======================================================================
    def mmio_read(self, off: int, size: int, cpu: int | None) -> int:
        if off >= A.GICR_SGI_BASE:
            return self._sgi_read(off - A.GICR_SGI_BASE, size, cpu)
        base = self._check_rd(off, size)
        if base < 0:
            return self._bad_rd(off, size, False, cpu, f"{size}-byte read not supported",
                                redist=self.processor_number)
        v = self._rd_read(base, cpu)
        if size == 4 and off != base:
            return v >> 32
        return v & 0xFFFF_FFFF if size == 4 else v

    def mmio_write(self, off: int, value: int, size: int, cpu: int | None,
                   device_id: int | None) -> None:
        if off >= A.GICR_SGI_BASE:
            self._sgi_write(off - A.GICR_SGI_BASE, value, size, cpu)
            return
        base = self._check_rd(off, size)
        if base < 0:
            self._bad_rd(off, size, True, cpu, f"{size}-byte write not supported",
                         redist=self.processor_number)
            return
        if size == 4 and base in _64BIT:
            old = self._rd_read(base, cpu) if base in (A.GICR_PROPBASER_OFF,
                                                       A.GICR_PENDBASER_OFF) else 0
            if base == A.GICR_PENDBASER_OFF:
                old |= _PTZ if self._ptz else 0
            value = ((old & 0xFFFF_FFFF) | (value << 32)) if off != base else \
                ((old & ~0xFFFF_FFFF) | value)
            if base in (A.GICR_SETLPIR_OFF, A.GICR_CLRLPIR_OFF, A.GICR_INVLPIR_OFF,
                        A.GICR_INVALLR_OFF) and off != base:
                return  # upper half of an INTID register: no action
        self._rd_write(base, value, cpu)

    @staticmethod
    def _check_rd(off: int, size: int) -> int:
        """The register offset an RD_base access addresses; -1 for an unsupported size."""
        if off & (size - 1):
            raise misaligned("GICR", off, size)
        if size == 2 or size == 1:
            return -1
        base = off & ~7
        if size == 8 and off not in _64BIT:
            return -1
        return base if base in _64BIT else off

    def _rd_read(self, off: int, cpu: int | None) -> int:
        if off == A.GICR_CTLR_OFF:
            ces = 0 if self.gic.config.lpis_sticky else A.GICR_CTLR.CES.in_place
            return int(self.lpis_enabled) | ces | A.GICR_CTLR.IR.in_place
        if off == A.GICR_TYPER_OFF:
            return self.typer
        if off == A.GICR_IIDR_OFF:
            return A.GIC_IIDR_VALUE
        if off == A.GICR_WAKER_OFF:
            return 6 if self.asleep else 0
        if off == A.GICR_PROPBASER_OFF:
            return self.propbaser
        if off == A.GICR_PENDBASER_OFF:
            return self.pendbaser
        if off >= A.GIC_IDREGS_OFF:
            return A.id_register(off, A.GICR_PIDR0_VALUE)
        if off in (A.GICR_STATUSR_OFF, A.GICR_SYNCR_OFF, A.GICR_SETLPIR_OFF,
                   A.GICR_CLRLPIR_OFF, A.GICR_INVLPIR_OFF, A.GICR_INVALLR_OFF):
            return 0  # SYNCR.Busy is always 0: invalidations complete at once
        self._unimplemented(off, False, cpu)
        return 0

    def _rd_write(self, off: int, value: int, cpu: int | None) -> None:
        ev = self._events
        if ev.enabled:
            ev.emit("gicr_write", cpu=cpu, redist=self.processor_number, offset=off,
                    value=value)
        if off == A.GICR_CTLR_OFF:
            self._enable_lpis(bool(value & 1))
        elif off == A.GICR_WAKER_OFF:
            sleep = bool(value & A.GICR_WAKER.ProcessorSleep.in_place)
            if sleep != self.asleep:
                # IMPDEF model simplification: ChildrenAsleep follows ProcessorSleep at
                # once, and an asleep redistributor forwards nothing to its CPU interface.
                self.asleep = sleep
                self.cpuif.refresh_enables()
                self.gic.dist.reroute_one_of_n()
                self.cpuif.update()
                self.gic.flush()
        elif off in (A.GICR_PROPBASER_OFF, A.GICR_PENDBASER_OFF):
            if self.lpis_enabled:
                # UNPREDICTABLE while EnableLPIs == 1; IMPDEF choice: ignored.
                if ev.enabled:
                    ev.emit("gicr_write_ignored", cpu=cpu, redist=self.processor_number,
                            offset=off, reason="BASER is read-only while EnableLPIs == 1")
                return
            if off == A.GICR_PROPBASER_OFF:
                self.propbaser = value & A.PROPBASER_RW_MASK
            else:
                self.pendbaser = value & A.PENDBASER_RW_MASK
                self._ptz = bool(value & _PTZ)
        elif off in (A.GICR_SETLPIR_OFF, A.GICR_CLRLPIR_OFF):
            if not self.gic.config.direct_lpi:
                self._unimplemented(off, True, cpu)
                return
            intid = value & 0xFFFF_FFFF
            if not self.lpis_enabled:
                # IHI 0069, GICR_SETLPIR/GICR_CLRLPIR: a write has no effect while
                # GICR_CTLR.EnableLPIs == 0 (the pending table is not touched)
                if ev.enabled:
                    ev.emit("gicr_write_ignored", cpu=cpu, redist=self.processor_number,
                            offset=off, reason="SETLPIR/CLRLPIR have no effect while "
                                               "EnableLPIs == 0")
                return
            if off == A.GICR_SETLPIR_OFF:
                self.lpi_set_pending(intid)
            else:
                self.lpi_clear_pending(intid)
        elif off == A.GICR_INVLPIR_OFF:
            if self.lpis_enabled and self._lpi_forget(value & 0xFFFF_FFFF):
                self.cpuif.update()  # this redistributor's copy only
        elif off == A.GICR_INVALLR_OFF:
            if self.lpis_enabled:
                self.lpi_invalidate_all()
        elif off in (A.GICR_TYPER_OFF, A.GICR_IIDR_OFF, A.GICR_SYNCR_OFF, A.GICR_STATUSR_OFF) \
                or off >= A.GIC_IDREGS_OFF:
            return  # read-only
        else:
            self._unimplemented(off, True, cpu)

    # -- SGI_base frame -----------------------------------------------------
    @staticmethod
    def _sgi_size_ok(off: int, size: int) -> bool:
        if off & (size - 1):
            raise misaligned("GICR SGI_base", off, size)
        if size == 4:
            return True
        return size == 1 and A.GICR_IPRIORITYR_OFF <= off < A.GICR_IPRIORITYR_OFF + 32

    def _sgi_read(self, off: int, size: int, cpu: int | None) -> int:
        if not self._sgi_size_ok(off, size):
            return self._bad_sgi(off + A.GICR_SGI_BASE, size, False, cpu,
                                 f"{size}-byte read not supported", name_offset=off,
                                 redist=self.processor_number)
        b = self.bank
        r = _SGI_BITREGS.get(off)
        if r is not None:
            return b.read_bits(r[1], 0)
        if A.GICR_IPRIORITYR_OFF <= off < A.GICR_IPRIORITYR_OFF + 32:
            return b.read_prio(0, size, off - A.GICR_IPRIORITYR_OFF)
        if off == A.GICR_ICFGR0_OFF:
            return b.read_cfg(0)
        if off == A.GICR_ICFGR1_OFF:
            return b.read_cfg(16)
        if off in (A.GICR_IGRPMODR0_OFF, A.GICR_NSACR_OFF):
            return 0  # RAZ/WI with GICD_CTLR.DS == 1
        self._unimplemented(off + A.GICR_SGI_BASE, False, cpu)
        return 0

    def _sgi_write(self, off: int, value: int, size: int, cpu: int | None) -> None:
        if not self._sgi_size_ok(off, size):
            self._bad_sgi(off + A.GICR_SGI_BASE, size, True, cpu,
                          f"{size}-byte write not supported", name_offset=off,
                          redist=self.processor_number)
            return
        b = self.bank
        ev = self._events
        r = _SGI_BITREGS.get(off)
        if r is not None:
            if ev.enabled:
                ev.emit("gicr_write", cpu=cpu, redist=self.processor_number, reg=r[0],
                        value=value)
            if off == A.GICR_IGROUPR0_OFF:
                b.write_group(0, value)
            elif r[1] == "enabled":
                b.set_enable(0, value, off == A.GICR_ISENABLER0_OFF)
            elif r[1] == "pending":
                b.set_latch(0, value, off == A.GICR_ISPENDR0_OFF)
            else:
                b.set_active(0, value, off == A.GICR_ISACTIVER0_OFF)
        elif A.GICR_IPRIORITYR_OFF <= off < A.GICR_IPRIORITYR_OFF + 32:
            if ev.enabled:
                ev.emit("gicr_write", cpu=cpu, redist=self.processor_number,
                        reg="GICR_IPRIORITYR", intid=off - A.GICR_IPRIORITYR_OFF, size=size,
                        value=value)
            b.write_prio(0, value, size, off - A.GICR_IPRIORITYR_OFF)
        elif off == A.GICR_ICFGR1_OFF:
            if ev.enabled:
                ev.emit("gicr_write", cpu=cpu, redist=self.processor_number, reg="GICR_ICFGR1",
                        value=value)
            b.write_cfg(16, value)
        elif off in (A.GICR_ICFGR0_OFF, A.GICR_IGRPMODR0_OFF, A.GICR_NSACR_OFF):
            return  # ICFGR0: SGIs are always edge-triggered; the others WI with DS == 1
        else:
            self._unimplemented(off + A.GICR_SGI_BASE, True, cpu)
            return
        self.gic.flush()

    def _unimplemented(self, off: int, write: bool, cpu: int | None) -> None:
        ev = self._events
        if ev.enabled:
            ev.emit("gicr_unimplemented", cpu=cpu, redist=self.processor_number, offset=off,
                    write=write)
