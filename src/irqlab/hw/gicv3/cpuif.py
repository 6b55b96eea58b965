"""The GICv3 CPU interface (ICC_*_EL1 system registers, IHI 0069 12.2), one per CPU.

Single Security state (GICD_CTLR.DS == 1): Group 0 is signalled on FIQ, Group
1 on IRQ.  The highest priority pending interrupt (HPPI) is chosen among the
pending, enabled, not active interrupts forwarded to this CPU whose group is
enabled both in GICD_CTLR and in ICC_IGRPEN<n>_EL1, and only while the
redistributor is awake.  Candidates sit in two lazy priority queues -- one
per group, for SGIs/PPIs/SPIs -- plus the redistributor's LPI queue (see
:class:`~irqlab.hw.gicv3._state.PrioQueue`); stale entries are dropped when
they reach the top.  Ties: lowest INTID
wins (IMPDEF choice, as QEMU).

The HPPI is signalled when its priority is below ICC_PMR_EL1 and its group
priority below that of the running priority (preemption, IHI 0069 4.8).
:meth:`CpuInterface.update` recomputes the HPPI and the lines after every state
change; the model keeps that cache exact, so ICC_IAR*_EL1 reads it directly.
Never yields; called from any context.
"""

from __future__ import annotations

from heapq import heappop
from typing import TYPE_CHECKING

from irqlab.arch import gicv3 as A
from irqlab.hw.gicv3._state import NO_KEY, PrioQueue

if TYPE_CHECKING:
    from irqlab.hw.gicv3 import GICv3
    from irqlab.hw.gicv3.redist import Redistributor

__all__ = ["CpuInterface"]

_SPURIOUS = A.INTID_SPURIOUS
_LPI_BASE = A.LPI_INTID_BASE
_SGI = A.ICC_SGIR
#: Group of the target's SGI configuration that accepts each SGI register (DS == 1).
#: ICC_ASGI1R_EL1 asks for the "other" Security state's Group 1, i.e. Secure Group 1;
#: IMPDEF choice, as QEMU: with one Security state it is accepted by an SGI configured
#: as Group 0 and dropped by one configured as Group 1.
_SGI_ACCEPTS = {"ICC_SGI0R_EL1": 0, "ICC_SGI1R_EL1": 1, "ICC_ASGI1R_EL1": 0}


class CpuInterface:
    """Banked CPU interface state of processor ``index``; exposes ``irq_line``/``fiq_line``."""

    __slots__ = ("_apmask", "_dbank", "_en0", "_en1", "_events", "_gmask", "_grp_en", "_minbpr",
                 "_pmask", "_rbank", "_shift",
                 "ap", "bpr", "cbpr", "eoimode", "fiq_line", "gic", "hppi_grp", "hppi_intid",
                 "hppi_key", "hppi_prio", "igrpen", "index", "irq_line", "n_apr", "pmr",
                 "prebits", "queues", "redist", "signal")

    def __init__(self, gic: GICv3, index: int, redist: Redistributor) -> None:
        cfg = gic.config
        self.gic = gic
        self.index = index
        self.redist = redist
        self._rbank = redist.bank
        self._dbank = gic.dist.bank
        self._events = gic.events
        #: Candidates (SGIs, PPIs, SPIs forwarded here) of Group 0 and Group 1.
        # Queue keys hold the stored priorities (distributor_priority_bits wide), not the
        # CPU interface's: the HPPI is chosen on every stored bit, as QEMU does.
        self.queues = [PrioQueue(), PrioQueue()]
        self.prebits = min(cfg.priority_bits, 7)
        self._shift = 8 - self.prebits
        self._pmask = A.prio_mask(cfg.priority_bits)
        self._minbpr = A.min_bpr(self.prebits)
        self.n_apr = max(1, (1 << self.prebits) // 32)
        #: The meaningful active-priority bits: one per preemption level (2^prebits), so
        #: bits [15:0] of AP<g>R0 with 4 preemption bits; the rest are RAZ/WI (their
        #: contents are IMPDEF in IHI 0069) and ICC_RPR_EL1 stays within [7:0].
        self._apmask = (1 << (1 << self.prebits)) - 1
        self.pmr = 0
        self.bpr = [self._minbpr, self._minbpr + 1]
        self.cbpr = False
        self.eoimode = False
        self._gmask = [0, 0]
        self._set_gmask()
        self._grp_en = gic.dist.grp_enable
        #: Group g enabled in GICD_CTLR and ICC_IGRPEN<g>_EL1 and the redistributor awake.
        self._en0 = False
        self._en1 = False
        self.igrpen = [False, False]
        #: Active-priority bits of Group 0 and Group 1 (AP0R<n>, AP1R<n> concatenated).
        self.ap = [0, 0]
        self.irq_line = False
        self.fiq_line = False
        self.hppi_key = NO_KEY
        self.hppi_prio = 0x100
        self.hppi_intid = _SPURIOUS
        self.hppi_grp = -1
        self.signal = False

    def __repr__(self) -> str:
        return f"<CpuInterface {self.index} irq={int(self.irq_line)} fiq={int(self.fiq_line)}>"

    # -- HPPI and lines -----------------------------------------------------
    def _peek(self, g: int) -> int:
        """Key of the best valid candidate of group ``g`` (NO_KEY if none); drops stale ones."""
        q = self.queues[g]
        bm = q.bm
        levels = q.levels
        inq = q.inq
        rb = self._rbank
        db = self._dbank
        me = self.index
        while bm:
            low = bm & -bm
            lst = levels[low.bit_length() - 1]
            while lst:
                k = lst[0]
                i = k & 0xFFFF_FFFF
                p = k >> 32
                b = rb if i < 32 else db
                if b.target[i] == me and b.group[i] == g and b.prio[i] == p and b.enabled[i] \
                        and not b.active[i] and (b.latch[i] or (b.level[i] and not b.edge[i])):
                    return k
                heappop(lst)
                if inq.get(i) == p:
                    del inq[i]
            bm ^= low
            q.bm = bm
        return NO_KEY

    def gprio_mask(self, g: int) -> int:
        """Group-priority mask of group ``g`` (ICC_BPR0 for Group 0 and with CBPR, else BPR1)."""
        return self._gmask[g]

    def _set_gmask(self) -> None:
        m0 = A.gprio_mask(self.bpr[0])
        self._gmask = [m0, m0 if self.cbpr else A.gprio_mask(self.bpr[1] - 1)]

    @property
    def running_priority(self) -> int:
        """ICC_RPR_EL1: the highest active group priority, 0xFF when idle."""
        ap = self.ap[0] | self.ap[1]
        if not ap:
            return 0xFF
        return ((ap & -ap).bit_length() - 1) << self._shift

    def update(self) -> None:
        """Recompute the HPPI and the IRQ/FIQ lines (cost: a few queue peeks)."""
        best = NO_KEY
        bg = -1
        if self._en0 and self.queues[0].bm:
            best = self._peek(0)
            if best != NO_KEY:
                bg = 0
        if self._en1:
            if self.queues[1].bm:
                k = self._peek(1)
                if k < best:
                    best = k
                    bg = 1
            r = self.redist
            if r.lpi_queue.bm and r.lpis_enabled:
                k = r.lpi_peek()
                if k < best:
                    best = k
                    bg = 1
        self.hppi_key = best
        self.hppi_prio = best >> 32
        self.hppi_intid = best & 0xFFFF_FFFF
        self.hppi_grp = bg
        self.resignal()

    def refresh_enables(self) -> None:
        """Recompute which groups may be forwarded (after GICD_CTLR, ICC_IGRPEN, GICR_WAKER)."""
        awake = not self.redist.asleep
        self._en0 = awake and self._grp_en[0] and self.igrpen[0]
        self._en1 = awake and self._grp_en[1] and self.igrpen[1]

    def set_hppi(self, key: int, g: int) -> None:
        """A new candidate ``key`` of group ``g`` (enabled) beats the current HPPI: adopt it."""
        self.hppi_key = key
        self.hppi_prio = key >> 32
        self.hppi_intid = key & 0xFFFF_FFFF
        self.hppi_grp = g
        self.resignal()

    def resignal(self) -> None:
        """Recompute the lines from the (unchanged) HPPI, PMR and running priority."""
        bg = self.hppi_grp
        bp = self.hppi_prio
        sig = False
        if bg >= 0 and bp < self.pmr:
            ap = self.ap[0] | self.ap[1]
            if not ap:
                sig = True
            else:
                m = self._gmask[bg]
                sig = (bp & m) < ((((ap & -ap).bit_length() - 1) << self._shift) & m)
        self.signal = sig
        if sig:
            irq = bg == 1
            fiq = not irq
        else:
            irq = fiq = False
        if irq != self.irq_line:
            self.irq_line = irq
            ev = self._events
            if ev.enabled:
                ev.emit("cpuif_irq_line", cpu=self.index, level=irq, intid=self.hppi_intid)
        if fiq != self.fiq_line:
            self.fiq_line = fiq
            ev = self._events
            if ev.enabled:
                ev.emit("cpuif_fiq_line", cpu=self.index, level=fiq, intid=self.hppi_intid)

    # -- acknowledge, EOI, deactivate ---------------------------------------
    def acknowledge(self, g: int) -> int:
        """ICC_IAR<g>_EL1: activate the HPPI if it is of group ``g`` and may preempt, else 1023."""
        if self.hppi_grp != g or not self.signal:
            ev = self._events
            if ev.enabled:
                ev.emit("cpuif_ack", cpu=self.index, intid=_SPURIOUS, group=g,
                        hppi=self.hppi_intid)
            return _SPURIOUS
        i = self.hppi_intid
        p = self.hppi_prio
        self.ap[g] |= 1 << ((p & self._gmask[g]) >> self._shift)
        if i >= _LPI_BASE:
            self.redist.lpi_pending.discard(i)
        else:
            b = self._rbank if i < 32 else self._dbank
            b.latch[i] = False  # the level, if any, stays: pending follows the line
            b.active[i] = True
        ev = self._events
        if ev.enabled:
            ev.emit("cpuif_ack", cpu=self.index, intid=i, prio=p, group=g)
        self.update()
        return i

    def eoi(self, g: int, value: int) -> None:
        """ICC_EOIR<g>_EL1: priority drop, and deactivation of ``INTID`` when EOImode == 0.

        The drop clears the highest active priority (lowest set AP bit); if that
        priority belongs to the other group, or nothing is active, the write is
        ignored (as QEMU; the spec makes it UNPREDICTABLE).  The deactivation
        applies to the INTID written even if it is not the one whose priority
        dropped (software error; UNPREDICTABLE, modelled as QEMU does).  An
        INTID that cannot exist (an SPI beyond GICD_TYPER.ITLinesNumber, or
        1024..8191) is ignored whole, without a priority drop (UNPREDICTABLE;
        IMPDEF choice, as QEMU's icc_eoir_write; LPI INTIDs always drop).
        """
        intid = value & 0xFF_FFFF
        ev = self._events
        if A.INTID_SPECIAL <= intid <= _SPURIOUS:
            if ev.enabled:
                ev.emit("cpuif_eoi_ignored", cpu=self.index, intid=intid, group=g,
                        reason="special INTID")
            return
        if intid < _LPI_BASE and intid >= self._dbank.end:  # LPIs: one comparison
            if ev.enabled:
                ev.emit("cpuif_eoi_ignored", cpu=self.index, intid=intid, group=g,
                        reason="INTID not implemented")
            return
        ap0, ap1 = self.ap
        lo0 = ap0 & -ap0
        lo1 = ap1 & -ap1
        if not (lo0 or lo1):
            if ev.enabled:
                ev.emit("cpuif_eoi_ignored", cpu=self.index, intid=intid, group=g,
                        reason="no active priority")
            return
        hg = 0 if lo0 and (not lo1 or lo0 <= lo1) else 1
        if hg != g:
            if ev.enabled:
                ev.emit("cpuif_eoi_ignored", cpu=self.index, intid=intid, group=g,
                        reason="highest active priority is of the other group")
            return
        self.ap[g] ^= lo0 if g == 0 else lo1
        if ev.enabled:
            ev.emit("cpuif_eoi", cpu=self.index, intid=intid, group=g,
                    drop=((lo0 if g == 0 else lo1).bit_length() - 1) << self._shift)
        if not self.eoimode and intid < _LPI_BASE:
            self.deactivate(intid, "eoi")  # may change the HPPI: updates if it does
        self.resignal()  # the priority drop changes only the running priority

    def dir(self, value: int) -> None:
        """ICC_DIR_EL1: deactivate ``INTID`` (only with ICC_CTLR_EL1.EOImode == 1)."""
        intid = value & 0xFF_FFFF
        ev = self._events
        if not self.eoimode:
            # UNPREDICTABLE; IMPDEF choice (as QEMU): ignored.
            if ev.enabled:
                ev.emit("cpuif_dir_ignored", cpu=self.index, intid=intid,
                        reason="ICC_CTLR_EL1.EOImode is 0")
            return
        if ev.enabled:
            ev.emit("cpuif_dir", cpu=self.index, intid=intid)
        self.deactivate(intid, "dir")

    def deactivate(self, intid: int, why: str) -> None:
        """Clear the active state of SGI/PPI ``intid`` of this CPU, or of SPI ``intid``."""
        gic = self.gic
        if intid < 32:
            b = self._rbank
        elif intid < gic.dist.end:
            b = self._dbank
        else:
            return  # LPIs have no active state; unimplemented INTIDs: nothing
        ev = self._events
        if not b.active[intid]:
            if ev.enabled:
                ev.emit("cpuif_deactivate_ignored", cpu=self.index, intid=intid, via=why,
                        reason="not active")
            return
        b.active[intid] = False
        if ev.enabled:
            ev.emit("cpuif_deactivate", cpu=self.index, intid=intid, via=why)
        b.touch(intid)
        gic.flush()

    # -- SGIs ---------------------------------------------------------------
    def generate_sgi(self, name: str, value: int) -> None:
        """ICC_SGI0R_EL1 / ICC_SGI1R_EL1 / ICC_ASGI1R_EL1: send SGI ``INTID`` to the targets.

        IRM == 1: every PE but this one.  Otherwise the PEs with affinity
        Aff3.Aff2.Aff1.<RS * 16 + n> for each bit n set in TargetList; targets
        that do not exist are ignored.
        """
        gic = self.gic
        intid = _SGI.INTID.get(value)
        if _SGI.IRM.get(value):
            targets = [c.index for c in gic.cpuifs if c.index != self.index]
        else:
            aff = (_SGI.Aff3.get(value) << 24) | (_SGI.Aff2.get(value) << 16) | \
                (_SGI.Aff1.get(value) << 8)
            base = _SGI.RS.get(value) * 16
            tl = _SGI.TargetList.get(value)
            targets = []
            cpu_by_aff = gic.cpu_by_aff
            while tl:
                low = tl & -tl
                aff0 = base + low.bit_length() - 1
                tl ^= low
                if aff0 < 256:
                    t = cpu_by_aff.get(aff | aff0)
                    if t is not None:
                        targets.append(t)
        ev = self._events
        if ev.enabled:
            ev.emit("cpuif_sgi", cpu=self.index, reg=name, intid=intid,
                    targets=",".join(str(t) for t in targets))
        accept = _SGI_ACCEPTS[name]
        for t in targets:
            b = gic.redists[t].bank
            if b.group[intid] != accept:
                if ev.enabled:
                    ev.emit("gicr_sgi_ignored", cpu=t, intid=intid, source=self.index,
                            reason=f"{name} does not generate an SGI of Group "
                                   f"{b.group[intid]}")
                continue
            b.latch[intid] = True
            if ev.enabled:
                ev.emit("gicr_sgi_pending", cpu=t, intid=intid, source=self.index,
                        enabled=b.enabled[intid])
            b.touch(intid)
        gic.flush()

    # -- system registers -----------------------------------------------------
    def read_iar0(self) -> int:
        return self.acknowledge(0)

    def read_iar1(self) -> int:
        return self.acknowledge(1)

    def write_eoir0(self, v: int) -> None:
        self.eoi(0, v)

    def write_eoir1(self, v: int) -> None:
        self.eoi(1, v)

    def _trace(self, reg: str, v: int) -> None:
        ev = self._events
        if ev.enabled:
            ev.emit("cpuif_write", cpu=self.index, reg=reg, value=v)

    def _write_ctlr(self, v: int) -> None:
        self._trace("ICC_CTLR_EL1", v)
        self.cbpr = bool(v & A.ICC_CTLR_EL1.CBPR.in_place)
        self.eoimode = bool(v & A.ICC_CTLR_EL1.EOImode.in_place)
        # IMPDEF choice: PMHE is RAZ/WI (PMR is no routing hint here), as QEMU's
        # icc_ctlr_el1_write (tests/hw/qemu_golden/gicv3_rw.json).
        self._set_gmask()
        self.update()

    def _read_ctlr(self) -> int:
        c = self.gic.config
        return A.ICC_CTLR_EL1.encode(
            CBPR=int(self.cbpr), EOImode=int(self.eoimode), PMHE=0,
            # IDbits = 1 (24-bit INTIDs) whatever GICD_TYPER.IDbits, as QEMU: the CPU
            # interface handles 24-bit INTIDs (EOIR/DIR take INTID[23:0]).
            PRIbits=c.priority_bits - 1, IDbits=1, SEIS=0, A3V=1,
            RSS=1)

    def _write_pmr(self, v: int) -> None:
        self._trace("ICC_PMR_EL1", v)
        self.pmr = v & self._pmask
        self.update()

    def _read_bpr1(self) -> int:
        if self.cbpr:
            return min(self.bpr[0] + 1, 7)
        return self.bpr[1]

    def _write_bpr(self, g: int, v: int) -> None:
        self._trace(f"ICC_BPR{g}_EL1", v)
        if g == 1 and self.cbpr:
            return  # with CBPR, writes to ICC_BPR1_EL1 are ignored
        self.bpr[g] = max(v & 7, self._minbpr + g)
        self._set_gmask()
        self.update()

    def _write_igrpen(self, g: int, v: int) -> None:
        on = bool(v & 1)
        if on != self.igrpen[g]:
            self.igrpen[g] = on
            self.refresh_enables()
            ev = self._events
            if ev.enabled:
                ev.emit("cpuif_igrpen", cpu=self.index, group=g, value=on)
            self.gic.dist.reroute_one_of_n()
            self.update()
            self.gic.flush()

    def _read_ap(self, g: int, n: int) -> int:
        return (self.ap[g] >> (32 * n)) & 0xFFFF_FFFF

    def _write_ap(self, g: int, n: int, v: int) -> None:
        self._trace(f"ICC_AP{g}R{n}_EL1", v)
        sh = 32 * n
        ap = (self.ap[g] & ~(0xFFFF_FFFF << sh)) | ((v & 0xFFFF_FFFF) << sh)
        self.ap[g] = ap & self._apmask  # bits beyond the preemption levels: RAZ/WI
        self.update()

    def register_sysregs(self, cpu: object) -> None:
        """Register every ICC_*_EL1 register on ``cpu`` (a :class:`~irqlab.hw.machine.Cpu`)."""
        reg = cpu.register_sysreg  # type: ignore[attr-defined]
        reg("ICC_IAR0_EL1", self.read_iar0, None)
        reg("ICC_IAR1_EL1", self.read_iar1, None)
        reg("ICC_EOIR0_EL1", None, self.write_eoir0)
        reg("ICC_EOIR1_EL1", None, self.write_eoir1)
        reg("ICC_DIR_EL1", None, self.dir)
        reg("ICC_HPPIR0_EL1",
            lambda: self.hppi_intid if self.hppi_grp == 0 else _SPURIOUS, None)
        reg("ICC_HPPIR1_EL1",
            lambda: self.hppi_intid if self.hppi_grp == 1 else _SPURIOUS, None)
        reg("ICC_RPR_EL1", lambda: self.running_priority, None)
        reg("ICC_PMR_EL1", lambda: self.pmr, self._write_pmr)
        reg("ICC_BPR0_EL1", lambda: self.bpr[0], lambda v: self._write_bpr(0, v))
        reg("ICC_BPR1_EL1", self._read_bpr1, lambda v: self._write_bpr(1, v))
        reg("ICC_CTLR_EL1", self._read_ctlr, self._write_ctlr)
        reg("ICC_IGRPEN0_EL1", lambda: int(self.igrpen[0]), lambda v: self._write_igrpen(0, v))
        reg("ICC_IGRPEN1_EL1", lambda: int(self.igrpen[1]), lambda v: self._write_igrpen(1, v))
        # SRE, DFB, DIB: RAO/WI (system-register interface only).
        reg("ICC_SRE_EL1", lambda: 0x7, lambda v: None)
        # EL2's SRE, DFB, DIB and Enable (EL1 may use ICC_SRE_EL1): RAO/WI, as QEMU.  Only
        # with EL2 (the virtualization extensions); without it the register is UNDEFINED.
        absent = cpu.register_absent_sysreg  # type: ignore[attr-defined]
        if cpu.machine.config.virtualization:  # type: ignore[attr-defined]
            reg("ICC_SRE_EL2", lambda: 0xF, lambda v: None)
        else:
            absent("ICC_SRE_EL2", "EL2 is not implemented (MachineConfig.virtualization is "
                                  "False)")
        for name, why in A.ICC_ABSENT_SYSREGS.items():
            absent(name, why)
        for n in range(4):
            for g in (0, 1):
                if n < self.n_apr:
                    reg(f"ICC_AP{g}R{n}_EL1", lambda g=g, n=n: self._read_ap(g, n),
                        lambda v, g=g, n=n: self._write_ap(g, n, v))
                else:  # not implemented with this many preemption bits: UNDEFINED
                    reg(f"ICC_AP{g}R{n}_EL1", None, None)
        for name in _SGI_ACCEPTS:
            reg(name, None, lambda v, name=name: self.generate_sgi(name, v))
