"""The GICv2 Distributor (IHI 0048B chapter 4.3): interrupt state and the GICD frame.

State per interrupt: enable, pending latch, line level, active, priority,
group, edge/level, and for SPIs the ITARGETSR CPU mask.  SGIs and PPIs are
banked per CPU (keys ``cpu * 32 + intid``); SPIs are global (key
``32 * ncpus + intid - 32``).  An SGI is pending per (target, source): a CPU
mask of sources per SGI per target.

A pending, enabled, inactive interrupt is a *candidate* on each CPU it
targets (its own CPU for SGIs/PPIs, the ITARGETSR mask for SPIs).  Each CPU
interface keeps one heap per group of (priority, INTID) with lazy deletion;
:meth:`Distributor.kick` pushes an interrupt whenever its state may have made
it a candidate, and the CPU interface validates the top entry when it looks.
GICv2 has no 1-of-N: an SPI targeting several CPUs is signalled to all of
them until one acknowledges it; it is then active (and, unless the line is
still asserted, not pending), so the others see it no longer (IHI 0048B 3.2.3).

IMPDEF choices (documented in docs/gicv2.md): no Security Extensions
(GICD_TYPER.SecurityExtn=0, all accesses Secure, IGROUPR read/write);
SGIs are always enabled (GICD_ISENABLER0[15:0] RAO/WI, as GIC-400 and QEMU);
PPI configuration (ICFGR1) is writable, SGIs' is RO edge; word accesses
everywhere, byte accesses to IPRIORITYR, ITARGETSR, CPENDSGIR and SPENDSGIR;
any other size is RAZ/WI with a ``gicd_bad_access`` event (or an abort with
``MachineConfig.gic_bad_access == "abort"``), a misaligned access aborts;
reserved offsets are RAZ/WI; an access by a non-CPU bus master uses CPU 0's
bank.
"""

from __future__ import annotations

from heapq import heappush
from typing import TYPE_CHECKING, Any

from irqlab.arch import gicv2 as a
from irqlab.hw._access import misaligned

if TYPE_CHECKING:
    from irqlab.hw._access import BadAccess
    from irqlab.hw.gicv2.cpuif import CpuInterface

__all__ = ["Distributor"]

_BYTE_OK = ((a.GICD_IPRIORITYR_OFF, a.GICD_ITARGETSR_OFF + 0x400),
            (a.GICD_CPENDSGIR_OFF, a.GICD_SPENDSGIR_OFF + 0x10))


#: The set/clear bit registers, in address order (IHI 0048B 4.3): their event names.
_BITREGS = ("GICD_IGROUPR", "GICD_ISENABLER", "GICD_ICENABLER", "GICD_ISPENDR",
            "GICD_ICPENDR", "GICD_ISACTIVER", "GICD_ICACTIVER")

class Distributor:
    """Interrupt state of a GICv2 and its GICD register frame."""

    def __init__(self, *, ncpus: int, intid_limit: int, pribits: int, events: Any,
                 bad: BadAccess) -> None:
        self.ncpus = ncpus
        self._bad = bad
        self.limit = intid_limit
        self._events = events
        self.prio_mask = (0xFF << (8 - pribits)) & 0xFF
        n = 32 * ncpus + intid_limit - 32
        self.spi_base = 32 * ncpus
        self.enabled = [False] * n
        self.latch = [False] * n
        self.level = [False] * n
        self.active = [False] * n
        self.prio = [0] * n
        self.group = [0] * n
        self.edge = [False] * n
        for c in range(ncpus):
            for i in range(16):
                self.edge[c * 32 + i] = True  # SGIs are edge-triggered
                self.enabled[c * 32 + i] = True  # and always enabled (RAO/WI, as GIC-400)
        #: ITARGETSR of SPIs, indexed by INTID (entries below 32 unused).  A uniprocessor
        #: GICv2 has RAZ/WI ITARGETSRs and every SPI targets its one CPU (IHI 0048B 4.3.12).
        self.uniprocessor = ncpus == 1
        self.targets = [1 if self.uniprocessor else 0] * intid_limit
        #: sgi_src[cpu][sgi]: mask of source CPUs with this SGI pending on cpu.
        self.sgi_src = [[0] * 16 for _ in range(ncpus)]
        self.ctlr = 0
        self.cpuifs: list[CpuInterface] = []
        self.all_mask = (1 << ncpus) - 1

    # -- state helpers --------------------------------------------------------------------
    def key(self, cpu: int, intid: int) -> int:
        return cpu * 32 + intid if intid < 32 else self.spi_base + intid - 32

    def is_pending(self, cpu: int, intid: int) -> bool:
        if intid < 16:
            return self.sgi_src[cpu][intid] != 0
        k = self.key(cpu, intid)
        return self.latch[k] or (self.level[k] and not self.edge[k])

    def candidate(self, cpu: int, intid: int) -> bool:
        """Pending, enabled, not active and targeting ``cpu``."""
        k = cpu * 32 + intid if intid < 32 else self.spi_base + intid - 32
        if not self.enabled[k] or self.active[k]:
            return False
        if intid < 16:
            return self.sgi_src[cpu][intid] != 0
        if intid >= 32 and not self.targets[intid] >> cpu & 1:
            return False
        return self.latch[k] or (self.level[k] and not self.edge[k])

    def cpus_of(self, cpu: int, intid: int) -> int:
        """Mask of the CPUs whose signalling ``intid`` may affect."""
        return 1 << cpu if intid < 32 else self.targets[intid]

    def kick(self, cpu: int, intid: int, extra_mask: int = 0) -> None:
        """Queue ``intid`` where it is a candidate and update the CPUs it concerns."""
        mask = self.cpus_of(cpu, intid)
        k = self.key(cpu, intid)
        p = self.prio[k]
        g = self.group[k]
        m = mask
        while m:
            c = (m & -m).bit_length() - 1
            m &= m - 1
            if self.candidate(c, intid):
                ci = self.cpuifs[c]
                q = ci.queued[g]
                if q.get(intid) != p:
                    q[intid] = p
                    heappush(ci.heaps[g], (p, intid))
        m = mask | extra_mask
        while m:
            c = (m & -m).bit_length() - 1
            m &= m - 1
            self.cpuifs[c].update()

    # -- state changes (used by GICD, GICC, devices) ---------------------------------------
    def set_pending(self, cpu: int, intid: int, value: bool, source: int | None = None) -> None:
        k = self.key(cpu, intid)
        if intid < 16:
            if source is None:
                return
            if value:
                self.sgi_src[cpu][intid] |= 1 << source
            else:
                self.sgi_src[cpu][intid] &= ~(1 << source)
        else:
            self.latch[k] = value
        self.kick(cpu, intid)

    def set_active(self, cpu: int, intid: int, value: bool) -> None:
        self.active[self.key(cpu, intid)] = value
        self.kick(cpu, intid)

    def set_line(self, cpu: int, intid: int, level: bool) -> None:
        k = self.key(cpu, intid)
        old = self.level[k]
        self.level[k] = level
        if self.edge[k] and level and not old:
            self.latch[k] = True
        ev = self._events
        if ev.enabled and old != level:
            ev.emit("gicd_line", cpu=cpu if intid < 32 else None, intid=intid, level=level,
                    trigger="edge" if self.edge[k] else "level", enabled=self.enabled[k])
        self.kick(cpu, intid)

    def send_sgi(self, src: int, value: int) -> None:
        """A write of ``value`` to GICD_SGIR by CPU ``src``."""
        f = a.GICD_SGIR
        sgi = f.SGIINTID.get(value)
        filt = f.TargetListFilter.get(value)
        if filt == a.SGIR_FILTER_LIST:
            targets = f.CPUTargetList.get(value) & self.all_mask
        elif filt == a.SGIR_FILTER_ALL_BUT_SELF:
            targets = self.all_mask & ~(1 << src)
        elif filt == a.SGIR_FILTER_SELF:
            targets = 1 << src
        else:
            # Reserved TargetListFilter 0b11 (IHI 0048B 4.3.15): IMPDEF choice, as QEMU's
            # arm_gic, every CPU including the sender.
            targets = self.all_mask
        ev = self._events
        if ev.enabled:
            ev.emit("gicd_sgi", cpu=src, sgi=sgi, filter=filt, targets=targets)
        m = targets
        while m:
            c = (m & -m).bit_length() - 1
            m &= m - 1
            self.sgi_src[c][sgi] |= 1 << src
            self.kick(c, sgi)

    # -- MMIO -----------------------------------------------------------------------------
    @staticmethod
    def _size_ok(offset: int, size: int) -> bool:
        if offset & (size - 1):
            raise misaligned("GICD", offset, size)
        if size == 4:
            return True
        if size == 1:
            for lo, hi in _BYTE_OK:
                if lo <= offset < hi:
                    return True
        return False

    def mmio_read(self, offset: int, size: int, cpu: int | None) -> int:
        if not self._size_ok(offset, size):
            return self._bad(offset, size, False, cpu, f"{size}-byte read not supported")
        c = 0 if cpu is None else cpu
        if size == 1:
            return self._read_byte(c, offset)
        if a.GICD_IPRIORITYR_OFF <= offset < a.GICD_ITARGETSR_OFF + 0x400 or \
                a.GICD_CPENDSGIR_OFF <= offset < a.GICD_SPENDSGIR_OFF + 0x10:
            return sum(self._read_byte(c, offset + i) << (8 * i) for i in range(4))
        return self._read_word(c, offset)

    def mmio_write(self, offset: int, value: int, size: int, cpu: int | None,
                   device_id: int | None) -> None:
        if not self._size_ok(offset, size):
            self._bad(offset, size, True, cpu, f"{size}-byte write not supported")
            return
        c = 0 if cpu is None else cpu
        if size == 1:
            self._write_byte(c, offset, value)
        elif a.GICD_IPRIORITYR_OFF <= offset < a.GICD_ITARGETSR_OFF + 0x400 or \
                a.GICD_CPENDSGIR_OFF <= offset < a.GICD_SPENDSGIR_OFF + 0x10:
            for i in range(4):
                self._write_byte(c, offset + i, value >> (8 * i) & 0xFF)
        else:
            self._write_word(c, offset, value)

    def _read_word(self, c: int, off: int) -> int:
        if off == a.GICD_CTLR_OFF:
            return self.ctlr
        if off == a.GICD_TYPER_OFF:
            return a.GICD_TYPER.encode(ITLinesNumber=self.limit // 32 - 1,
                                       CPUNumber=self.ncpus - 1)
        if off == a.GICD_IIDR_OFF:
            return a.GICD_IIDR_VALUE
        if a.GICD_IGROUPR_OFF <= off < a.GICD_IPRIORITYR_OFF:
            block = (off - a.GICD_IGROUPR_OFF) // 0x80
            base = ((off & 0x7F) >> 2) * 32
            v = 0
            for i in range(32):
                intid = base + i
                if intid >= self.limit:
                    break
                k = self.key(c, intid)
                if block == 0:
                    bit = self.group[k]
                elif block in (1, 2):
                    bit = self.enabled[k]
                elif block in (3, 4):
                    bit = self.is_pending(c, intid)
                else:
                    bit = self.active[k]
                if bit:
                    v |= 1 << i
            return v
        if a.GICD_ICFGR_OFF <= off < a.GICD_ICFGR_OFF + 0x100:
            base = (off - a.GICD_ICFGR_OFF) * 4
            v = 0
            for i in range(16):
                intid = base + i
                if intid < self.limit and self.edge[self.key(c, intid)]:
                    v |= 2 << (2 * i)
            return v
        if a.GICD_ID_OFF <= off < a.GICD_SIZE:
            return a.GICD_ID_VALUES[(off - a.GICD_ID_OFF) >> 2]
        return 0  # GICD_SGIR is write-only; reserved and NSACR: RAZ

    def _write_word(self, c: int, off: int, value: int) -> None:
        if off == a.GICD_CTLR_OFF:
            old = self.ctlr
            self.ctlr = value & (a.GICD_CTLR.EnableGrp0.in_place | a.GICD_CTLR.EnableGrp1.in_place)
            ev = self._events
            if ev.enabled and old != self.ctlr:
                ev.emit("gicd_ctlr", cpu=c, value=self.ctlr)
            for ci in self.cpuifs:
                ci.update()
            return
        if off == a.GICD_SGIR_OFF:
            self.send_sgi(c, value)
            return
        if a.GICD_IGROUPR_OFF <= off < a.GICD_IPRIORITYR_OFF:
            block = (off - a.GICD_IGROUPR_OFF) // 0x80
            base = ((off & 0x7F) >> 2) * 32
            ev = self._events
            if ev.enabled:
                # as GICv3's distributor; register 0 (SGIs, PPIs) is banked per CPU here
                ev.emit("gicd_write", cpu=c, reg=_BITREGS[block], n=base // 32, value=value,
                        banked=base == 0)
            if block == 0:
                for i in range(min(32, self.limit - base)):
                    intid = base + i
                    bit = value >> i & 1
                    k = self.key(c, intid)
                    if self.group[k] != bit:
                        self.group[k] = bit
                        self.kick(c, intid)
                return
            m = value
            while m:  # set/clear registers: only the bits written as 1 act
                i = (m & -m).bit_length() - 1
                m &= m - 1
                intid = base + i
                if intid >= self.limit:
                    break
                if block in (1, 2):
                    if intid < 16:
                        continue  # SGI enables are RAO/WI
                    k = self.key(c, intid)
                    want = block == 1
                    if self.enabled[k] != want:
                        self.enabled[k] = want
                        self.kick(c, intid)
                elif block in (3, 4):
                    if intid >= 16:  # SGI pending state lives in S/CPENDSGIR
                        self.set_pending(c, intid, block == 3)
                        if ev.enabled:
                            ev.emit("gic_pending_latch", cpu=c if intid < 32 else None,
                                    intid=intid, value=block == 3,
                                    enabled=self.enabled[self.key(c, intid)])
                else:
                    self.set_active(c, intid, block == 5)
            return
        if a.GICD_ICFGR_OFF <= off < a.GICD_ICFGR_OFF + 0x100:
            base = (off - a.GICD_ICFGR_OFF) * 4
            for i in range(16):
                intid = base + i
                if 16 <= intid < self.limit:
                    k = self.key(c, intid)
                    edge = bool(value >> (2 * i + 1) & 1)
                    if self.edge[k] != edge:
                        self.edge[k] = edge
                        self.kick(c, intid)
            return
        # reserved, read-only (TYPER, IIDR, IDs), NSACR: WI

    def _read_byte(self, c: int, off: int) -> int:
        if off < a.GICD_ITARGETSR_OFF:
            intid = off - a.GICD_IPRIORITYR_OFF
            return self.prio[self.key(c, intid)] if intid < self.limit else 0
        if off < a.GICD_ITARGETSR_OFF + 0x400:
            intid = off - a.GICD_ITARGETSR_OFF
            if self.uniprocessor:
                return 0
            if intid < 32:
                return 1 << c  # read-only: the accessing CPU's own mask
            return self.targets[intid] if intid < self.limit else 0
        if off < a.GICD_SPENDSGIR_OFF:
            sgi = off - a.GICD_CPENDSGIR_OFF
        else:
            sgi = off - a.GICD_SPENDSGIR_OFF
        return self.sgi_src[c][sgi]

    def _write_byte(self, c: int, off: int, value: int) -> None:
        if off < a.GICD_ITARGETSR_OFF:
            intid = off - a.GICD_IPRIORITYR_OFF
            if intid < self.limit:
                k = self.key(c, intid)
                p = value & self.prio_mask
                if self.prio[k] != p:
                    self.prio[k] = p
                    self.kick(c, intid)
            return
        if off < a.GICD_ITARGETSR_OFF + 0x400:
            intid = off - a.GICD_ITARGETSR_OFF
            if 32 <= intid < self.limit and not self.uniprocessor:
                old = self.targets[intid]
                new = value & self.all_mask
                if old != new:
                    self.targets[intid] = new
                    self.kick(c, intid, extra_mask=old)
            return
        if off < a.GICD_SPENDSGIR_OFF:
            sgi, setting = off - a.GICD_CPENDSGIR_OFF, False
        else:
            sgi, setting = off - a.GICD_SPENDSGIR_OFF, True
        value &= self.all_mask
        if not value:
            return
        src = self.sgi_src[c]
        src[sgi] = (src[sgi] | value) if setting else (src[sgi] & ~value)
        self.kick(c, sgi)
