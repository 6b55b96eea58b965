"""The GICv2 CPU interface (IHI 0048B chapter 4.4): one per CPU, the GICC frame banked by CPU.

Acknowledge, priority drop, deactivation (EOImode split), priority mask,
binary points, running priority and the IRQ/FIQ lines.  Without the
Security Extensions every access is Secure: GICC_IAR acknowledges group 0,
and group 1 only when AckCtl is set (otherwise it reads 1022); GICC_AIAR,
GICC_AEOIR and GICC_AHPPIR are the group 1 aliases; GICC_CTLR.EOImodeS
(bit 9) selects the split of priority drop and deactivation; group 0 is
signalled as FIQ when FIQEn is set, everything else as IRQ.

Preemption is by group priority: an interrupt is signalled when its priority
is below GICC_PMR and its group priority (GICC_BPR for group 0 and, with
CBPR, group 1; GICC_ABPR otherwise) is below the running priority, the
highest priority set in GICC_APR0 (group 0) / GICC_NSAPR0 (group 1).

IMPDEF choices: the APR format is bit n = group priority n << (8 - preemption
bits), preemption bits = min(priority bits, 7); an EOI with no active
priority is ignored; a DIR write while EOImodeS=0 is ignored (as QEMU); an
AEOIR of a group 0 interrupt is ignored; the bypass-disable bits and EOImodeNS
are RAZ/WI (as QEMU).  Accesses are 32-bit: other sizes are RAZ/WI with a
``gicc_bad_access`` event (or abort, ``MachineConfig.gic_bad_access``);
misaligned accesses and accesses by a non-CPU bus master abort.
"""

from __future__ import annotations

from heapq import heappop
from typing import TYPE_CHECKING, Any

from irqlab.arch import gicv2 as a
from irqlab.errors import _AccessFault
from irqlab.hw._access import misaligned

if TYPE_CHECKING:
    from irqlab.hw._access import BadAccess
    from irqlab.hw.gicv2.dist import Distributor

__all__ = ["CpuInterface"]

# IMPDEF choice (as QEMU's arm_gic, tests/hw/qemu_golden/gicv2_rw.json): the interrupt
# bypass is not modelled, so the bypass-disable bits [8:5] are RAZ/WI; EOImodeNS (bit 10)
# exists only with the Security Extensions (RAZ/WI without them, IHI 0048B 4.4.1).
_CTLR_MASK = a.GICC_CTLR.defined_mask & ~(
    a.GICC_CTLR.FIQBypDisGrp0.in_place | a.GICC_CTLR.IRQBypDisGrp0.in_place
    | a.GICC_CTLR.FIQBypDisGrp1.in_place | a.GICC_CTLR.IRQBypDisGrp1.in_place
    | a.GICC_CTLR.EOImodeNS.in_place)
_EN0 = a.GICC_CTLR.EnableGrp0.in_place
_EN1 = a.GICC_CTLR.EnableGrp1.in_place
_ACKCTL = a.GICC_CTLR.AckCtl.in_place
_FIQEN = a.GICC_CTLR.FIQEn.in_place
_CBPR = a.GICC_CTLR.CBPR.in_place
_EOIMODE = a.GICC_CTLR.EOImodeS.in_place
_U32 = 0xFFFF_FFFF


class CpuInterface:
    """GICC of one CPU; ``irq_line``/``fiq_line`` are the CPU's physical lines."""

    __slots__ = ("_events", "abpr", "ap0", "ap1", "bpr", "cpu", "ctlr", "dist", "fiq_line",
                 "heaps", "irq_line", "min_bpr", "pmr", "prebits", "queued")

    def __init__(self, dist: Distributor, cpu: int, *, pribits: int, events: Any) -> None:
        self.dist = dist
        self.cpu = cpu
        self._events = events
        self.prebits = min(pribits, 7)
        self.min_bpr = 7 - self.prebits
        self.ctlr = 0
        self.pmr = 0
        self.bpr = self.min_bpr
        self.abpr = self.min_bpr + 1
        self.ap0 = 0
        self.ap1 = 0
        #: Per group: a heap of (priority, INTID) candidates with lazy deletion, and
        #: the priority each queued INTID was pushed with.
        self.heaps: tuple[list[tuple[int, int]], list[tuple[int, int]]] = ([], [])
        self.queued: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self.irq_line = False
        self.fiq_line = False

    # -- highest priority pending interrupt ------------------------------------------------
    def _top(self, g: int) -> tuple[int, int] | None:
        heap = self.heaps[g]
        q = self.queued[g]
        d = self.dist
        c = self.cpu
        while heap:
            p, intid = heap[0]
            if q.get(intid) == p:
                k = d.key(c, intid)
                if d.group[k] == g and d.prio[k] == p and d.candidate(c, intid):
                    return heap[0]
                del q[intid]
            heappop(heap)
        return None

    def hppi(self) -> tuple[int, int, int] | None:
        """(priority, INTID, group) of the highest priority pending interrupt, or None.

        Only groups enabled in both GICD_CTLR and GICC_CTLR count; PMR and the
        running priority are not applied here.
        """
        en = self.dist.ctlr & self.ctlr
        best = None
        if en & 1:
            t = self._top(0)
            if t is not None:
                best = (t[0], t[1], 0)
        if en & 2:
            t = self._top(1)
            if t is not None and (best is None or t < best[:2]):
                best = (t[0], t[1], 1)
        return best

    def gprio_mask(self, group: int) -> int:
        if group and not self.ctlr & _CBPR:
            return (0xFF << self.abpr) & 0xFF
        return (0xFF << (self.bpr + 1)) & 0xFF

    def running_priority(self) -> int:
        ap = self.ap0 | self.ap1
        if not ap:
            return 0xFF
        return ((ap & -ap).bit_length() - 1) << (self.min_bpr + 1)

    def _can_signal(self, prio: int, group: int) -> bool:
        if prio >= self.pmr:
            return False
        r = self.running_priority()
        if r == 0xFF:
            return True
        # IHI 0048B 3.3.3: the pending interrupt's group priority (its binary point now)
        # against the running priority, the group priority the active interrupt got
        # when acknowledged (the APR bit); a BPR change while an interrupt is active
        # does not re-mask the running side (as QEMU 7.2, tests/hw/qemu_golden).  QEMU
        # compares the pending interrupt's full priority instead (docs/gicv2.md).
        # IMPDEF choice: an empty group priority field (BPR 7) never preempts.
        mask = self.gprio_mask(group)
        return mask != 0 and (prio & mask) < r

    def update(self) -> None:
        """Recompute this CPU's IRQ and FIQ lines."""
        irq = fiq = False
        h = self.hppi()
        if h is not None and self._can_signal(h[0], h[2]):
            if h[2] == 0 and self.ctlr & _FIQEN:
                fiq = True
            else:
                irq = True
        if irq != self.irq_line or fiq != self.fiq_line:
            self.irq_line = irq
            self.fiq_line = fiq
            ev = self._events
            if ev.enabled:
                ev.emit("gicc_lines", cpu=self.cpu, irq=irq, fiq=fiq,
                        intid=h[1] if h is not None else 1023)

    # -- acknowledge / EOI / DIR -------------------------------------------------------
    def acknowledge(self, alias: bool) -> int:
        """A read of GICC_IAR (``alias=False``) or GICC_AIAR (``alias=True``)."""
        h = self.hppi()
        result = a.INTID_SPURIOUS
        if h is not None and self._can_signal(h[0], h[2]):
            p, intid, g = h
            if alias and g == 0:
                pass
            elif not alias and g == 1 and not self.ctlr & _ACKCTL:
                result = a.INTID_GROUP1_ONLY
            else:
                result = self._activate(p, intid, g)
        ev = self._events
        if ev.enabled:
            ev.emit("gicc_ack", cpu=self.cpu, intid=result & 0x3FF, cpuid=result >> 10,
                    alias=alias)
        return result

    def _activate(self, p: int, intid: int, g: int) -> int:
        d = self.dist
        c = self.cpu
        k = d.key(c, intid)
        result = intid
        if intid < 16:
            srcs = d.sgi_src[c][intid]
            src = (srcs & -srcs).bit_length() - 1
            d.sgi_src[c][intid] = srcs & ~(1 << src)  # one source at a time
            result |= src << 10
        else:
            d.latch[k] = False
        d.active[k] = True
        bit = 1 << ((p & self.gprio_mask(g)) >> (8 - self.prebits))
        if g:
            self.ap1 |= bit
        else:
            self.ap0 |= bit
        d.kick(c, intid)
        return result

    def _drop_priority(self, g: int) -> bool:
        """Clear the highest active priority of group ``g`` (lowest set APR / NSAPR bit)."""
        if g:
            if not self.ap1:
                return False
            self.ap1 &= self.ap1 - 1
        else:
            if not self.ap0:
                return False
            self.ap0 &= self.ap0 - 1
        return True

    def eoi(self, value: int, alias: bool) -> None:
        """A write to GICC_EOIR (``alias=False``) or GICC_AEOIR.

        The priority drop is of the highest active priority *of the group of the
        INTID written* (as QEMU's gic_drop_prio; for software that nests IAR/EOIR
        correctly it is the highest active priority).  If that group has no
        active priority while the other has (UNPREDICTABLE), nothing drops but
        the deactivation still happens (``result=group_not_active``), as QEMU.
        """
        intid = value & 0x3FF
        d = self.dist
        ev = self._events
        result = "ok"
        if intid >= d.limit:
            result = "out_of_range"
        elif alias and not d.group[d.key(self.cpu, intid)]:
            result = "group0_ignored"
        elif not (self.ap0 | self.ap1):
            result = "no_active_priority"
        elif not self._drop_priority(d.group[d.key(self.cpu, intid)]):
            result = "group_not_active"
        if result in ("ok", "group_not_active") and not self.ctlr & _EOIMODE:
            if not d.active[d.key(self.cpu, intid)]:
                result = "not_active"
            d.set_active(self.cpu, intid, False)
        if ev.enabled:
            ev.emit("gicc_eoi", cpu=self.cpu, intid=intid, alias=alias, result=result,
                    eoimode=1 if self.ctlr & _EOIMODE else 0)
        self.update()

    def deactivate(self, value: int) -> None:
        """A write to GICC_DIR."""
        intid = value & 0x3FF
        d = self.dist
        ok = intid < d.limit and bool(self.ctlr & _EOIMODE)
        ev = self._events
        if ev.enabled:
            ev.emit("gicc_dir", cpu=self.cpu, intid=intid,
                    result="deactivated" if ok else "ignored")
        if ok:
            d.set_active(self.cpu, intid, False)

    def _hppir(self, alias: bool) -> int:
        h = self.hppi()
        if h is None:
            return a.INTID_SPURIOUS
        _p, intid, g = h
        if alias:
            if g == 0:
                return a.INTID_SPURIOUS
        elif g == 1 and not self.ctlr & _ACKCTL:
            return a.INTID_GROUP1_ONLY
        if intid < 16:
            srcs = self.dist.sgi_src[self.cpu][intid]
            intid |= ((srcs & -srcs).bit_length() - 1) << 10
        return intid

    # -- MMIO -----------------------------------------------------------------------------
    def mmio_read(self, off: int) -> int:
        if off == a.GICC_CTLR_OFF:
            return self.ctlr
        if off == a.GICC_PMR_OFF:
            return self.pmr
        if off == a.GICC_BPR_OFF:
            return self.bpr
        if off == a.GICC_IAR_OFF:
            return self.acknowledge(False)
        if off == a.GICC_RPR_OFF:
            return self.running_priority()
        if off == a.GICC_HPPIR_OFF:
            return self._hppir(False)
        if off == a.GICC_ABPR_OFF:
            return self.abpr
        if off == a.GICC_AIAR_OFF:
            return self.acknowledge(True)
        if off == a.GICC_AHPPIR_OFF:
            return self._hppir(True)
        if a.GICC_APR_OFF <= off < a.GICC_NSAPR_OFF + 0x10:
            n = (off >> 2) & 3
            return ((self.ap1 if off >= a.GICC_NSAPR_OFF else self.ap0) >> (32 * n)) & _U32
        if off == a.GICC_IIDR_OFF:
            return a.GICC_IIDR_VALUE
        return 0  # EOIR, AEOIR, DIR are write-only; reserved RAZ

    def mmio_write(self, off: int, value: int) -> None:
        if off == a.GICC_CTLR_OFF:
            self.ctlr = value & _CTLR_MASK
        elif off == a.GICC_PMR_OFF:
            self.pmr = value & self.dist.prio_mask
        elif off == a.GICC_BPR_OFF:
            self.bpr = max(value & 7, self.min_bpr)
        elif off == a.GICC_ABPR_OFF:
            # Without the Security Extensions every access is Secure: GICC_ABPR is the
            # group 1 binary point and reads and writes its own value whatever CBPR (IHI
            # 0048B 4.4.4; CBPR only stops it being *used*, see gprio_mask).  "BPR + 1,
            # writes ignored" is a Non-secure GICC_BPR access under CBPR, which has no
            # place here.  As QEMU (gic_cpu_read/gic_cpu_write, offset 0x1c).
            self.abpr = max(value & 7, self.min_bpr + 1)
        elif off == a.GICC_EOIR_OFF:
            self.eoi(value, False)
            return
        elif off == a.GICC_AEOIR_OFF:
            self.eoi(value, True)
            return
        elif off == a.GICC_DIR_OFF:
            self.deactivate(value)
            return
        elif a.GICC_APR_OFF <= off < a.GICC_NSAPR_OFF + 0x10:
            shift = 32 * ((off >> 2) & 3)
            valid = (1 << (1 << self.prebits)) - 1
            if off >= a.GICC_NSAPR_OFF:
                self.ap1 = ((self.ap1 & ~(_U32 << shift)) | (value << shift)) & valid
            else:
                self.ap0 = ((self.ap0 & ~(_U32 << shift)) | (value << shift)) & valid
        else:
            return  # read-only and reserved: WI
        self.update()


class GiccFrame:
    """The GICC MMIO frame: banked by the accessing CPU."""

    def __init__(self, cpuifs: list[CpuInterface], size: int, bad: BadAccess) -> None:
        self.cpuifs = cpuifs
        self.size = size
        self._bad = bad

    @staticmethod
    def _check(offset: int, size: int, cpu: int | None) -> None:
        if offset & (size - 1):
            raise misaligned("GICC", offset, size)
        if cpu is None:
            raise _AccessFault("GICC is banked per CPU; a non-CPU bus master has no bank")

    def mmio_read(self, offset: int, size: int, cpu: int | None) -> int:
        self._check(offset, size, cpu)
        if size != 4:
            return self._bad(offset, size, False, cpu, f"{size}-byte read not supported")
        return self.cpuifs[cpu].mmio_read(offset)  # type: ignore[index]

    def mmio_write(self, offset: int, value: int, size: int, cpu: int | None,
                   device_id: int | None) -> None:
        self._check(offset, size, cpu)
        if size != 4:
            self._bad(offset, size, True, cpu, f"{size}-byte write not supported")
            return
        self.cpuifs[cpu].mmio_write(offset, value)  # type: ignore[index]
