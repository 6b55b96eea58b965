"""GICv2 virtualization extensions (IHI 0048B chapter 5): GICH and GICV (the guest's GICC).

Each physical CPU has one :class:`GichCpuInterface`: the list registers and
the virtual CPU interface state, with the behaviour of
:class:`irqlab.hw.vgic_lr.VgicCpuInterface`.  The GICH frame (hypervisor) and
the GICV frame (guest, GICC layout) are both banked by the accessing CPU.

Encodings: GICH_LR<n> = VirtualID [9:0], PhysicalID [19:10] (with HW=0:
CPUID [12:10] of a virtual SGI's source, returned in GICV_IAR[12:10], and
EOI [19]), Priority [27:23] (the top 5 bits of an 8-bit priority), State
[29:28], Grp1 [30], HW [31].  GICH_VMCR holds the guest's GICV_CTLR bits
[9:0] (VMGrp0En, VMGrp1En, VMAckCtl, VMFIQEn, VMCBPR, VEM), VMABP, VMBP and
VMPriMask (GICV_PMR[7:3]).  GICH_APR is the one active-priority register
(GICV_APR0): group 0 and group 1 share it.

IMPDEF choices: 5 priority and 5 preemption bits (GICH_VTR.PRIbits =
PREbits = 4, the GICv2 LR priority width); GICV_IAR acknowledges group 0 and,
with AckCtl, group 1 (else 1022), GICV_AIAR group 1 only; GICV_EOIR EOIs
either group, GICV_AEOIR group 1 only; for a virtual SGI with HW=0 the EOI
must carry the LR's CPUID to match it; GICV_HPPIR and GICV_AHPPIR read 1023
while GICH_HCR.En = 0 (as GICV_IAR); GICV_ABPR is GICH_VMCR.VMABP whatever
CBPR; only the common (banked) GICH frame is modelled, one 4 KiB block, not
the per-CPU GICH aliases; accesses are 32-bit (other sizes
RAZ/WI with a ``gich_bad_access`` / ``gicv_bad_access`` event, or abort with
``MachineConfig.gic_bad_access == "abort"``), misaligned accesses and a
non-CPU bus master abort; reserved offsets are RAZ/WI.
"""

from __future__ import annotations

from typing import Any

from irqlab.arch import gicv2 as a
from irqlab.arch.gicv3_virt import LR_STATE_NAMES
from irqlab.errors import _AccessFault
from irqlab.hw._access import BadAccess, misaligned
from irqlab.hw.vgic_lr import HCR_EN, VgicCpuInterface

__all__ = ["GichCpuInterface", "GichFrame", "GicvFrame"]

_U32 = 0xFFFF_FFFF
_HCR_WRITABLE = a.GICH_HCR.defined_mask
_LR_WRITABLE = a.GICH_LR.defined_mask
_V = a.GICH_VMCR
# GICH_LR field positions, copied from the table for the hot path.
_ST_SHIFT = a.GICH_LR.State.shift
_VID_MASK = a.GICH_LR.VirtualID.mask
_PID_SHIFT, _PID_MASK = a.GICH_LR.PhysicalID.shift, a.GICH_LR.PhysicalID.mask
_PRIO_SHIFT, _PRIO_MASK = a.GICH_LR.Priority.shift, a.GICH_LR.Priority.mask
_GRP_SHIFT = a.GICH_LR.Grp1.shift
_HW_SHIFT = a.GICH_LR.HW.shift


class GichCpuInterface(VgicCpuInterface):
    """One CPU's GICH registers and GICV virtual CPU interface."""

    __slots__ = ()

    def __init__(self, *, gic: Any, cpu: int, events: Any, n_lrs: int,
                 maint_intid: int, phys_limit: int = 1020) -> None:
        super().__init__(gic=gic, cpu=cpu, events=events, n_lrs=n_lrs, pribits=5, prebits=5,
                         maint_intid=maint_intid, prefix="gicv", phys_limit=phys_limit)

    # -- encodings ------------------------------------------------------------------------
    def read_lr(self, i: int) -> int:
        return (self.lr_vintid[i] | self.lr_phys[i] << 10 | (self.lr_prio[i] >> 3) << 23
                | self.lr_state[i] << 28 | self.lr_group[i] << 30 | self.lr_hw[i] << 31)

    def write_lr(self, i: int, value: int) -> None:
        value &= _LR_WRITABLE
        state = (value >> _ST_SHIFT) & 3
        vid = value & _VID_MASK
        phys = (value >> _PID_SHIFT) & _PID_MASK
        prio = ((value >> _PRIO_SHIFT) & _PRIO_MASK) << 3
        grp = (value >> _GRP_SHIFT) & 1
        hw = value >> _HW_SHIFT & 1
        ev = self._events
        if ev.enabled:
            ev.emit("gich_lr_write", cpu=self.cpu, lr=i, vintid=vid, state=LR_STATE_NAMES[state],
                    hw=bool(hw), physid=phys, priority=prio, group=grp)
        self.set_lr(i, state, vid, phys, prio, grp, hw)

    def read_vmcr(self) -> int:
        return _V.encode(VMGrp0En=self.eng0, VMGrp1En=self.eng1, VMAckCtl=self.ackctl,
                         VMFIQEn=self.fiqen, VMCBPR=self.cbpr, VEM=self.eoim,
                         VMABP=self.bpr1, VMBP=self.bpr0, VMPriMask=self.pmr >> 3)

    def write_vmcr(self, value: int) -> None:
        self._write_ctlr(value)
        self.write_bpr0(_V.VMBP.get(value))
        self.write_bpr1(_V.VMABP.get(value))
        self.pmr = _V.VMPriMask.get(value) << 3
        self.update()

    def _write_ctlr(self, value: int) -> None:
        c = a.GICC_CTLR
        self.eng0 = c.EnableGrp0.get(value)
        self.eng1 = c.EnableGrp1.get(value)
        self.ackctl = c.AckCtl.get(value)
        self.fiqen = c.FIQEn.get(value)
        self.cbpr = c.CBPR.get(value)
        self.eoim = c.EOImodeS.get(value)

    def read_ctlr(self) -> int:
        return a.GICC_CTLR.encode(EnableGrp0=self.eng0, EnableGrp1=self.eng1,
                                  AckCtl=self.ackctl, FIQEn=self.fiqen, CBPR=self.cbpr,
                                  EOImodeS=self.eoim)

    def read_vtr(self) -> int:
        return a.GICH_VTR.encode(ListRegs=self.n_lrs - 1, PREbits=self.prebits - 1,
                                 PRIbits=self.pribits - 1)

    # -- GICH frame -----------------------------------------------------------------------
    def gich_read(self, off: int) -> int:
        if off == a.GICH_HCR_OFF:
            return self.hcr
        if off == a.GICH_VTR_OFF:
            return self.read_vtr()
        if off == a.GICH_VMCR_OFF:
            return self.read_vmcr()
        if off == a.GICH_MISR_OFF:
            return self.misr()
        if off == a.GICH_EISR0_OFF:
            return self.eisr() & _U32
        if off == a.GICH_EISR1_OFF:
            return self.eisr() >> 32
        if off == a.GICH_ELRSR0_OFF:
            return self.elrsr() & _U32
        if off == a.GICH_ELRSR1_OFF:
            return self.elrsr() >> 32
        if off == a.GICH_APR_OFF:
            return (self.ap0 | self.ap1) & _U32
        if a.GICH_LR_OFF <= off < a.GICH_LR_OFF + 0x100:
            i = (off - a.GICH_LR_OFF) >> 2
            return self.read_lr(i) if i < self.n_lrs else 0
        return 0

    def gich_write(self, off: int, value: int) -> None:
        if off == a.GICH_HCR_OFF:
            self.hcr = value & _HCR_WRITABLE
        elif off == a.GICH_VMCR_OFF:
            self.write_vmcr(value)
            return
        elif off == a.GICH_APR_OFF:
            # IMPDEF choice: the single GICv2 APR is kept as group 1's bits.
            self.ap0 = 0
            self.ap1 = value & _U32
        elif a.GICH_LR_OFF <= off < a.GICH_LR_OFF + 0x100:
            i = (off - a.GICH_LR_OFF) >> 2
            if i < self.n_lrs:
                self.write_lr(i, value)
            return
        else:
            return  # read-only (VTR, MISR, EISR, ELRSR) and reserved: WI
        self.update()

    # -- GICV frame (the guest's GICC) -------------------------------------------------
    def _sgi_cpuid(self, i: int) -> int:
        v = self.lr_vintid[i]
        if v < 16 and not self.lr_hw[i]:
            return v | (self.lr_phys[i] & 7) << 10
        return v

    def _iar(self, alias: bool) -> int:
        i = self.signalled  # the HPPVI if it can be signalled (refreshed by update())
        result = a.INTID_SPURIOUS
        if i >= 0:
            g = self.lr_group[i]
            if alias and g == 0:
                pass
            elif not alias and g == 1 and not self.ackctl:
                result = a.INTID_GROUP1_ONLY
            else:
                result = self._sgi_cpuid(i)
                self.acknowledge(i)
                return result
        ev = self._events
        if ev.enabled:
            ev.emit("gicv_ack", cpu=self.cpu, vintid=result, lr=i, group=-1)
        return result

    def _hppir(self, alias: bool) -> int:
        # IMPDEF choice (as QEMU's gic_update_internal for a vcpu): with GICH_HCR.En = 0
        # the virtual CPU interface is disabled and signals nothing, so GICV_HPPIR and
        # GICV_AHPPIR read 1023 as GICV_IAR does (the physical GICC_HPPIR reads 1023 with
        # its groups disabled).  With En = 1 they report the HPPVI whatever GICV_PMR.
        i = self.hppvi_cache if self.hcr & HCR_EN else -1
        if i < 0:
            return a.INTID_SPURIOUS
        g = self.lr_group[i]
        if alias:
            if g == 0:
                return a.INTID_SPURIOUS
        elif g == 1 and not self.ackctl:
            return a.INTID_GROUP1_ONLY
        return self._sgi_cpuid(i)

    def gicv_read(self, off: int) -> int:
        if off == a.GICC_CTLR_OFF:
            return self.read_ctlr()
        if off == a.GICC_PMR_OFF:
            return self.pmr
        if off == a.GICC_BPR_OFF:
            return self.bpr0
        if off == a.GICC_IAR_OFF:
            return self._iar(False)
        if off == a.GICC_RPR_OFF:
            return self.running_priority()
        if off == a.GICC_HPPIR_OFF:
            return self._hppir(False)
        if off == a.GICC_ABPR_OFF:
            return self.bpr1  # GICH_VMCR.VMABP, whatever GICV_CTLR.CBPR (see gicv_write)
        if off == a.GICC_AIAR_OFF:
            return self._iar(True)
        if off == a.GICC_AHPPIR_OFF:
            return self._hppir(True)
        if off == a.GICC_APR_OFF:
            return (self.ap0 | self.ap1) & _U32
        if off == a.GICC_IIDR_OFF:
            return a.GICC_IIDR_VALUE
        return 0

    def gicv_write(self, off: int, value: int) -> None:
        if off == a.GICC_CTLR_OFF:
            self._write_ctlr(value)
        elif off == a.GICC_PMR_OFF:
            self.pmr = value & 0xF8
        elif off == a.GICC_BPR_OFF:
            self.write_bpr0(value)
        elif off == a.GICC_ABPR_OFF:
            # GICV_ABPR is GICH_VMCR.VMABP (IHI 0048B 5.3.6, 5.6): it reads and writes its
            # own value whatever CBPR, as GICC_ABPR does without the Security Extensions
            # (and as QEMU's vcpu); CBPR only stops it being used for preemption.
            self.write_bpr1(value)
        elif off in (a.GICC_EOIR_OFF, a.GICC_AEOIR_OFF):
            self.eoi(value & 0x3FF, 1 if off == a.GICC_AEOIR_OFF else None,
                     (value >> 10) & 7)
            return
        elif off == a.GICC_DIR_OFF:
            self.dir(value & 0x3FF, (value >> 10) & 7)
            return
        elif off == a.GICC_APR_OFF:
            self.ap0 = 0
            self.ap1 = value & _U32
        else:
            return
        self.update()


class _BankedFrame:
    def __init__(self, name: str, ifaces: list[GichCpuInterface], bad: BadAccess) -> None:
        self.name = name
        self.ifaces = ifaces
        self._bad = bad

    def _iface(self, offset: int, size: int, cpu: int | None) -> GichCpuInterface | None:
        """The accessing CPU's interface; None (after the bad-access event) for a bad size."""
        if offset & (size - 1):
            raise misaligned(self.name.upper(), offset, size)
        if cpu is None:
            raise _AccessFault(f"{self.name} is banked per CPU; a non-CPU bus master has no bank")
        return self.ifaces[cpu] if size == 4 else None

    def _bad_size(self, offset: int, size: int, write: bool, cpu: int | None) -> int:
        return self._bad(offset, size, write, cpu,
                         f"{size}-byte {'write' if write else 'read'} not supported")


class GichFrame(_BankedFrame):
    """The GICH MMIO frame (the hypervisor's view), banked by the accessing CPU."""

    def mmio_read(self, offset: int, size: int, cpu: int | None) -> int:
        i = self._iface(offset, size, cpu)
        return self._bad_size(offset, size, False, cpu) if i is None else i.gich_read(offset)

    def mmio_write(self, offset: int, value: int, size: int, cpu: int | None,
                   device_id: int | None) -> None:
        i = self._iface(offset, size, cpu)
        if i is None:
            self._bad_size(offset, size, True, cpu)
        else:
            i.gich_write(offset, value)


class GicvFrame(_BankedFrame):
    """The GICV MMIO frame (the guest's GICC), banked by the accessing CPU."""

    def mmio_read(self, offset: int, size: int, cpu: int | None) -> int:
        i = self._iface(offset, size, cpu)
        return self._bad_size(offset, size, False, cpu) if i is None else i.gicv_read(offset)

    def mmio_write(self, offset: int, value: int, size: int, cpu: int | None,
                   device_id: int | None) -> None:
        i = self._iface(offset, size, cpu)
        if i is None:
            self._bad_size(offset, size, True, cpu)
        else:
            i.gicv_write(offset, value)
