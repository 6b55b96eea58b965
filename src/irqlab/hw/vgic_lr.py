"""The virtual CPU interface core shared by GICv2 (GICH/GICV) and GICv3 (ICH/ICV).

Both architectures give a hypervisor a handful of list registers per physical
CPU and give the guest a virtual CPU interface that acknowledges, EOIs and
deactivates the interrupts those registers hold.  The encodings differ (a
32-bit GICH_LR with a 5-bit priority, a 64-bit ICH_LR<n>_EL2 with an 8-bit
one); the behaviour does not.  :class:`VgicCpuInterface` holds the decoded
state and implements the behaviour; :mod:`irqlab.hw.gicv2.virt` and
:mod:`irqlab.hw.gicv3.vcpuif` encode and decode registers around it.

Semantics follow IHI 0069 (pseudocode ``HighestPriorityVirtualInterrupt``,
``CanSignalVirtualInterrupt``, ``VirtualPriorityDrop``) and IHI 0048B 5.x:

* the highest priority pending virtual interrupt (HPPVI) is the List register
  in the Pending state (not Pending+Active) of lowest priority value whose
  group is enabled (VMCR VENG0/VENG1); ties go to the lowest LR index; an LR of
  priority 0xFF is never the HPPVI;
* it is signalled (virtual IRQ for group 1 and for group 0 without FIQEn,
  virtual FIQ for group 0 with FIQEn; GICv3's VFIQEn is RES1) when HCR.En is
  set, its priority is below VPMR and its group priority is below the running
  priority (the lowest set bit of the active priority registers);
* acknowledge: Pending -> Active, the active priority bit of its group
  priority is set;  a vINTID of 1020..1023 goes Pending -> Invalid instead;
* EOI drops the highest active priority, then finds the Active LR with that
  vINTID: none increments HCR.EOIcount (the LRENP condition); found, in the
  same group and at the dropped priority, and EOImode=0: deactivate it;
* deactivate: Active -> Invalid, Pending+Active -> Pending; an LR with HW=1
  deactivates its physical interrupt (``gic.deactivate_physical``);
* maintenance (MISR): EOI (an Invalid LR with HW=0 and EOI=1), U (UIE and at
  most one LR not Invalid), LRENP (LRENPIE and EOIcount != 0), NP (NPIE and no
  LR Pending), VGrp0E/D and VGrp1E/D (the enable bits in VMCR).  The
  maintenance PPI is driven high while HCR.En and MISR != 0.

Nothing here is proportional to more than the number of list registers (at
most 16 in GICv3, 64 in GICv2; 4 by default).  Methods are called with the
issuing CPU's state only; a real implementation is one per physical CPU.
"""

from __future__ import annotations

from typing import Any

from irqlab.arch.gicv3_virt import LR_STATE_NAMES

__all__ = ["MISR_CAUSES", "VgicCpuInterface"]

# HCR bits common to GICH_HCR and ICH_HCR_EL2.
HCR_EN = 1 << 0
HCR_UIE = 1 << 1
HCR_LRENPIE = 1 << 2
HCR_NPIE = 1 << 3
HCR_VGRP0EIE = 1 << 4
HCR_VGRP0DIE = 1 << 5
HCR_VGRP1EIE = 1 << 6
HCR_VGRP1DIE = 1 << 7
HCR_EOICOUNT_SHIFT = 27
HCR_EOICOUNT_MASK = 0x1F << HCR_EOICOUNT_SHIFT
#: The first LPI INTID: virtual LPIs in list registers have no DIR and no EOIcount.
_LPI_BASE = 8192

#: MISR bits, in order, with the names events use.
MISR_CAUSES = ("EOI", "U", "LRENP", "NP", "VGrp0E", "VGrp0D", "VGrp1E", "VGrp1D")

#: The EOI bit inside the physical-ID field of an LR with HW=0 (GICH_LR[19], ICH_LR<n>_EL2[41]).
PHYS_EOI = 1 << 9


def misr_text(misr: int) -> str:
    """``"EOI,NP"`` for a MISR value (the ``causes`` field of ``vgic_maintenance``)."""
    return ",".join(n for i, n in enumerate(MISR_CAUSES) if misr >> i & 1) or "none"


class VgicCpuInterface:
    """One physical CPU's list registers and virtual CPU interface state.

    ``gic`` receives ``set_interrupt_level(intid, level, cpu=)`` for the
    maintenance interrupt and ``deactivate_physical(cpu, intid)`` for HW=1
    entries.  ``pribits`` is the number of implemented virtual priority bits,
    ``prebits`` of preemption bits (5..7).  ``prefix`` names the guest-facing
    events (``"icv"`` or ``"gicv"``).  ``phys_limit`` is one past the highest
    physical INTID the GIC implements: an HW=1 entry naming a pINTID at or above
    it (or a special one, 1020..1023) deactivates nothing.
    """

    __slots__ = (
        "_events", "_gic", "_maint_intid", "_phys_limit", "_prefix", "ackctl", "ap0", "ap1",
        "bpr0", "bpr1", "cbpr", "cpu", "eng0", "eng1", "eoim", "fiq_line", "fiqen", "hcr",
        "hppvi_cache", "irq_line", "lr_group", "lr_hw", "lr_phys", "lr_prio", "lr_state",
        "lr_vintid", "maint_level", "maint_misr", "min_bpr0", "misr_cache", "n_lrs", "pmr",
        "prebits", "pribits", "prio_mask", "signalled",
    )

    def __init__(self, *, gic: Any, cpu: int, events: Any, n_lrs: int, pribits: int,
                 prebits: int, maint_intid: int, prefix: str, phys_limit: int = 1020) -> None:
        self._gic = gic
        self._phys_limit = min(phys_limit, 1020)
        self.cpu = cpu
        self._events = events
        self._maint_intid = maint_intid
        self._prefix = prefix
        self.n_lrs = n_lrs
        self.pribits = pribits
        self.prebits = prebits
        #: Mask of the implemented bits of an 8-bit priority.
        self.prio_mask = (0xFF << (8 - pribits)) & 0xFF
        #: Minimum VBPR0 (VBPR1's is one more): 7 - preemption bits.
        self.min_bpr0 = 7 - prebits
        n = n_lrs
        self.lr_state = [0] * n
        self.lr_vintid = [0] * n
        self.lr_phys = [0] * n
        self.lr_prio = [0] * n
        self.lr_group = [0] * n
        self.lr_hw = [0] * n
        #: ICH_HCR_EL2 / GICH_HCR, raw (the frontends mask writes).
        self.hcr = 0
        # VMCR, decoded.  IMPDEF choice: reset values as QEMU (all zero, BPRs at minimum).
        self.eng0 = 0
        self.eng1 = 0
        self.ackctl = 0
        self.fiqen = 0
        self.cbpr = 0
        self.eoim = 0
        self.bpr0 = self.min_bpr0
        self.bpr1 = self.min_bpr0 + 1
        self.pmr = 0
        #: Active priorities of group 0 and group 1: bit i = group priority i << (8 - prebits).
        self.ap0 = 0
        self.ap1 = 0
        #: Outputs: the virtual IRQ and FIQ signals and the maintenance interrupt level.
        self.irq_line = False
        self.fiq_line = False
        self.maint_level = False
        #: The MISR value last reported (0 while HCR.En is clear).
        self.maint_misr = 0
        #: Caches refreshed by :meth:`update`: HPPVI index, signalled LR index, MISR.
        self.hppvi_cache = -1
        self.signalled = -1
        self.misr_cache = 0

    # -- list registers ----------------------------------------------------------
    def set_lr(self, i: int, state: int, vintid: int, phys: int, prio: int, group: int,
               hw: int) -> None:
        """Load list register ``i`` (a hypervisor write, already decoded); updates outputs."""
        self.lr_vintid[i] = vintid
        self._set_state(i, state, "write")
        self.lr_phys[i] = phys
        self.lr_prio[i] = prio & self.prio_mask
        self.lr_group[i] = group
        self.lr_hw[i] = hw
        self.update()

    def _set_state(self, i: int, new: int, why: str) -> None:
        old = self.lr_state[i]
        self.lr_state[i] = new
        ev = self._events
        if ev.enabled and old != new:
            ev.emit("vgic_lr_state", cpu=self.cpu, lr=i, vintid=self.lr_vintid[i],
                    **{"from": LR_STATE_NAMES[old]}, to=LR_STATE_NAMES[new], why=why)

    # -- priorities ----------------------------------------------------------------
    def gprio_mask(self, group: int) -> int:
        """Mask keeping the group-priority bits of a priority for ``group`` (VGroupBits)."""
        if group and not self.cbpr:
            return (0xFF << self.bpr1) & 0xFF
        return (0xFF << (self.bpr0 + 1)) & 0xFF

    def running_priority(self) -> int:
        """The virtual running priority (ICV_RPR / GICV_RPR): 0xFF when nothing is active."""
        ap = self.ap0 | self.ap1
        if not ap:
            return 0xFF
        return ((ap & -ap).bit_length() - 1) << (self.min_bpr0 + 1)

    def write_bpr0(self, value: int) -> None:
        self.bpr0 = max(value & 7, self.min_bpr0)

    def write_bpr1(self, value: int) -> None:
        self.bpr1 = max(value & 7, self.min_bpr0 + 1)

    def hppvi(self) -> int:
        """Index of the highest priority pending virtual interrupt, or -1."""
        best = -1
        bestp = 0xFF
        st = self.lr_state
        pr = self.lr_prio
        grp = self.lr_group
        e0 = self.eng0
        e1 = self.eng1
        for i in range(self.n_lrs):
            if st[i] == 1 and pr[i] < bestp and (e1 if grp[i] else e0):
                best = i
                bestp = pr[i]
        return best

    def can_signal(self, i: int) -> bool:
        """CanSignalVirtualInterrupt for list register ``i`` (the HPPVI)."""
        if not self.hcr & HCR_EN:
            return False
        prio = self.lr_prio[i]
        if prio >= self.pmr:
            return False
        rprio = self.running_priority()
        if rprio == 0xFF:
            return True
        mask = self.gprio_mask(self.lr_group[i])
        return (prio & mask) < (rprio & mask)

    # -- guest operations ----------------------------------------------------------
    def acknowledge(self, i: int) -> int:
        """Acknowledge list register ``i`` (the signalled HPPVI); returns its vINTID."""
        vintid = self.lr_vintid[i]
        if 1020 <= vintid <= 1023:
            # A special vINTID is never activated: Pending -> Invalid, ID returned as is.
            self._set_state(i, 0, "ack_special")
        else:
            g = self.lr_group[i]
            bit = 1 << ((self.lr_prio[i] & self.gprio_mask(g)) >> (8 - self.prebits))
            if g:
                self.ap1 |= bit
            else:
                self.ap0 |= bit
            self._set_state(i, 2, "ack")
        ev = self._events
        if ev.enabled:
            ev.emit(f"{self._prefix}_ack", cpu=self.cpu, vintid=vintid, lr=i,
                    group=self.lr_group[i])
        self.update()
        return vintid

    def _drop_priority(self) -> int:
        """Clear the highest active priority (group 0 first on a tie); 0xFF if none."""
        a0 = self.ap0
        a1 = self.ap1
        if not (a0 | a1):
            return 0xFF
        b0 = a0 & -a0
        b1 = a1 & -a1
        if a0 and (not a1 or b0 <= b1):
            self.ap0 = a0 & ~b0
            b = b0
        else:
            self.ap1 = a1 & ~b1
            b = b1
        return (b.bit_length() - 1) << (self.min_bpr0 + 1)

    def find_active(self, vintid: int, cpuid: int | None = None) -> int:
        """The LR holding ``vintid`` in an Active state, or -1.

        ``cpuid`` (GICv2 only) must also match the source CPU of a software SGI.
        """
        st = self.lr_state
        vi = self.lr_vintid
        for i in range(self.n_lrs):
            if st[i] & 2 and vi[i] == vintid:
                if cpuid is not None and vintid < 16 and not self.lr_hw[i] \
                        and (self.lr_phys[i] & 7) != cpuid:
                    continue
                return i
        return -1

    def eoi(self, vintid: int, group: int | None, cpuid: int | None = None) -> None:
        """A write to ICV_EOIR<group> / GICV_EOIR (``group=None``: any) / GICV_AEOIR.

        IMPDEF choice (as QEMU): the priority drop happens before the checks;
        with no active priority the LRs are not looked at (CONSTRAINED
        UNPREDICTABLE) and EOIcount does not move.
        """
        ev = self._events
        if 1020 <= vintid <= 1023:
            if ev.enabled:
                ev.emit(f"{self._prefix}_eoi", cpu=self.cpu, vintid=vintid, lr=-1,
                        result="special_ignored")
            return
        dropped = self._drop_priority()
        if dropped == 0xFF:
            if ev.enabled:
                ev.emit(f"{self._prefix}_eoi", cpu=self.cpu, vintid=vintid, lr=-1,
                        result="no_active_priority")
            self.update()
            return
        i = self.find_active(vintid, cpuid)
        if i < 0:
            # IHI 0069 VirtualWriteEOIR: a vLPI not in the LRs does not count (QEMU too)
            if vintid < _LPI_BASE:
                self._increment_eoicount(vintid)
            result = "no_lr"
        else:
            g = self.lr_group[i]
            if (group is None or g == group) and \
                    (self.lr_prio[i] & self.gprio_mask(g)) == dropped:
                # a vLPI is deactivated by its EOI whatever EOImode (no DIR for LPIs)
                if self.eoim and vintid < _LPI_BASE:
                    result = "priority_drop"
                else:
                    self._deactivate(i, "eoi")
                    result = "deactivated"
            else:
                result = "mismatch"
        if ev.enabled:
            ev.emit(f"{self._prefix}_eoi", cpu=self.cpu, vintid=vintid, lr=i, result=result)
        self.update()

    def dir(self, vintid: int, cpuid: int | None = None) -> None:
        """A write to ICV_DIR / GICV_DIR: deactivate when EOImode=1 (ignored otherwise).

        A vLPI INTID is ignored (IHI 0069 VirtualWriteDIR; its EOI deactivated it).
        """
        ev = self._events
        if not self.eoim or 1020 <= vintid <= 1023 or vintid >= _LPI_BASE:
            if ev.enabled:
                ev.emit(f"{self._prefix}_dir", cpu=self.cpu, vintid=vintid, lr=-1,
                        result="ignored")
            return
        i = self.find_active(vintid, cpuid)
        if i < 0:
            self._increment_eoicount(vintid)
        else:
            self._deactivate(i, "dir")
        if ev.enabled:
            ev.emit(f"{self._prefix}_dir", cpu=self.cpu, vintid=vintid, lr=i,
                    result="deactivated" if i >= 0 else "no_lr")
        self.update()

    def _increment_eoicount(self, vintid: int) -> None:
        count = ((self.hcr >> HCR_EOICOUNT_SHIFT) + 1) & 0x1F  # wraps, as QEMU
        self.hcr = (self.hcr & ~HCR_EOICOUNT_MASK) | (count << HCR_EOICOUNT_SHIFT)
        ev = self._events
        if ev.enabled:
            ev.emit("vgic_eoicount", cpu=self.cpu, vintid=vintid, eoicount=count)

    def _deactivate(self, i: int, why: str) -> None:
        if self.lr_hw[i]:
            pintid = self.lr_phys[i]
            ev = self._events
            if ev.enabled:
                ev.emit("vgic_hw_deactivate", cpu=self.cpu, lr=i, vintid=self.lr_vintid[i],
                        pintid=pintid)
            if pintid < self._phys_limit:
                self._gic.deactivate_physical(self.cpu, pintid)
        self._set_state(i, self.lr_state[i] & 1, why)

    # -- maintenance -----------------------------------------------------------------
    def eisr(self) -> int:
        """ICH_EISR_EL2 / GICH_EISR: LRs Invalid with HW=0 and EOI=1."""
        v = 0
        for i in range(self.n_lrs):
            if not self.lr_state[i] and not self.lr_hw[i] and self.lr_phys[i] & PHYS_EOI:
                v |= 1 << i
        return v

    def elrsr(self) -> int:
        """ICH_ELRSR_EL2 / GICH_ELRSR: LRs that hold no valid interrupt."""
        v = 0
        for i in range(self.n_lrs):
            if not self.lr_state[i] and (self.lr_hw[i] or not self.lr_phys[i] & PHYS_EOI):
                v |= 1 << i
        return v

    def misr(self) -> int:
        """ICH_MISR_EL2 / GICH_MISR (computed whether or not HCR.En is set)."""
        self._scan()
        return self.misr_cache

    def _scan(self) -> None:
        """One pass over the LRs: the HPPVI and the MISR (cached until the next change)."""
        best = -1
        bestp = 0xFF
        valid = 0
        pending = False
        eoi = False
        st = self.lr_state
        pr = self.lr_prio
        grp = self.lr_group
        e0 = self.eng0
        e1 = self.eng1
        for i in range(self.n_lrs):
            s = st[i]
            if s:
                valid += 1
                if s == 1:
                    pending = True
                    if pr[i] < bestp and (e1 if grp[i] else e0):
                        best = i
                        bestp = pr[i]
            elif not self.lr_hw[i] and self.lr_phys[i] & PHYS_EOI:
                eoi = True
        self.hppvi_cache = best
        hcr = self.hcr
        m = 1 if eoi else 0
        if hcr & 0xFE or hcr & HCR_EOICOUNT_MASK:
            if hcr & HCR_UIE and valid < 2:
                m |= 2
            if hcr & HCR_LRENPIE and hcr & HCR_EOICOUNT_MASK:
                m |= 4
            if hcr & HCR_NPIE and not pending:
                m |= 8
            if hcr & HCR_VGRP0EIE and e0:
                m |= 16
            if hcr & HCR_VGRP0DIE and not e0:
                m |= 32
            if hcr & HCR_VGRP1EIE and e1:
                m |= 64
            if hcr & HCR_VGRP1DIE and not e1:
                m |= 128
        self.misr_cache = m

    def update(self) -> None:
        """Recompute the virtual IRQ/FIQ lines and the maintenance interrupt level.

        Called after every change of LR, HCR, VMCR or APR state; caches the HPPVI
        (:attr:`hppvi_cache`) and the LR it signals (:attr:`signalled`, -1 if none).
        """
        self._scan()
        irq = fiq = False
        i = self.hppvi_cache
        ok = False
        if i >= 0 and self.hcr & HCR_EN:
            prio = self.lr_prio[i]
            if prio < self.pmr:
                ap = self.ap0 | self.ap1
                if not ap:
                    ok = True
                else:  # CanSignalVirtualInterrupt, inlined
                    rprio = ((ap & -ap).bit_length() - 1) << (self.min_bpr0 + 1)
                    if self.lr_group[i] and not self.cbpr:
                        mask = (0xFF << self.bpr1) & 0xFF
                    else:
                        mask = (0xFF << (self.bpr0 + 1)) & 0xFF
                    ok = (prio & mask) < (rprio & mask)
        if ok:
            self.signalled = i
            if self.lr_group[i] or not self.fiqen:
                irq = True
            else:
                fiq = True
        else:
            self.signalled = -1
        ev = self._events
        if irq != self.irq_line or fiq != self.fiq_line:
            self.irq_line = irq
            self.fiq_line = fiq
            if ev.enabled:
                ev.emit("vgic_lines", cpu=self.cpu, virq=irq, vfiq=fiq,
                        vintid=self.lr_vintid[i] if i >= 0 else 1023)
        misr = self.misr_cache if self.hcr & HCR_EN else 0
        if misr != self.maint_misr:
            # Reported whenever the set of causes changes; the line moves with its level.
            self.maint_misr = misr
            level = misr != 0
            if ev.enabled:
                ev.emit("vgic_maintenance", cpu=self.cpu, level=level, causes=misr_text(misr),
                        misr=misr)
            if level != self.maint_level:
                self.maint_level = level
                self._gic.set_interrupt_level(self._maint_intid, level, cpu=self.cpu)

    # -- snapshots (for tests and a hypervisor model) ----------------------------------
    def state(self) -> tuple[Any, ...]:
        """Everything the guest can observe, as a comparable tuple."""
        return (tuple(self.lr_state), tuple(self.lr_vintid), tuple(self.lr_phys),
                tuple(self.lr_prio), tuple(self.lr_group), tuple(self.lr_hw), self.hcr,
                self.eng0, self.eng1, self.ackctl, self.fiqen, self.cbpr, self.eoim, self.bpr0,
                self.bpr1, self.pmr, self.ap0, self.ap1)
