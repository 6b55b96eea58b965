"""GICv3 virtualization: ICH_*_EL2 list registers and the ICV_*_EL1 virtual CPU interface.

:func:`attach_virtualization` gives every CPU of a GICv3 machine its
hypervisor control registers (``ICH_HCR_EL2``, ``ICH_VTR_EL2``,
``ICH_VMCR_EL2``, ``ICH_MISR_EL2``, ``ICH_EISR_EL2``, ``ICH_ELRSR_EL2``,
``ICH_AP0R<n>_EL2``, ``ICH_AP1R<n>_EL2``, ``ICH_LR<n>_EL2``) and the guest's
virtual CPU interface (``ICV_IAR0/1_EL1``, ``ICV_EOIR0/1_EL1``, ``ICV_DIR_EL1``,
``ICV_HPPIR0/1_EL1``, ``ICV_PMR_EL1``, ``ICV_BPR0/1_EL1``, ``ICV_RPR_EL1``,
``ICV_CTLR_EL1``, ``ICV_IGRPEN0/1_EL1``, ``ICV_AP0R<n>_EL1``, ``ICV_AP1R<n>_EL1``)
as system registers, and sets ``cpus[i].vcpuif`` (whose ``irq_line``/``fiq_line``
are the CPU's ``virq_line``/``vfiq_line``).  The behaviour lives in
:class:`irqlab.hw.vgic_lr.VgicCpuInterface`.

On real hardware an EL1 access to an ICC_ register is redirected to its ICV_
twin when HCR_EL2.IMO/FMO are set; irqlab has no exception levels, so the ICV_
names are separate registers (a CPU model picks the name).  ICH_HCR_EL2's trap
bits (TC, TALL0, TALL1, TSEI, TDIR) are stored and read back but trap nothing:
trapping is the CPU model's business.

:func:`register_undefined` makes every ICH_/ICV_ name UNDEFINED on a machine
without the virtualization extensions (an access raises
:class:`~irqlab.errors.UndefinedInstruction`).

IMPDEF choices: 5 virtual priority bits (``ICH_VTR_EL2.PRIbits``=4) unless
``MachineConfig.priority_bits`` is larger, preemption bits = min(priority
bits, 7) but at least 5; ``ICH_VTR_EL2.IDbits`` = 24-bit vINTIDs and A3V=1
(as QEMU, whatever the physical IDbits); TDS=1, SEIS=0, nV4=1 (no GICv4 direct
injection); accesses to ICH_LR<n>_EL2 and ICH_AP<m>R<n>_EL2 beyond the
implemented ones are UNDEFINED.  The NMI bit of an LR is RES0 (no FEAT_GICv3_NMI).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from irqlab.arch.gicv3_virt import (
    ICH_HCR_EL2,
    ICH_LR_EL2,
    ICH_VMCR_EL2,
    ICH_VTR_EL2,
    ICV_CTLR_EL1,
    LR_STATE_NAMES,
    VIRT_SYSREG_NAMES,
)
from irqlab.hw.vgic_lr import VgicCpuInterface

__all__ = ["IchCpuInterface", "attach_virtualization", "register_undefined"]

_HCR_WRITABLE = sum(f.in_place for n, f in ICH_HCR_EL2.fields.items())
_LR_WRITABLE = ICH_LR_EL2.defined_mask & ~ICH_LR_EL2.NMI.in_place
_U32 = 0xFFFF_FFFF
# ICH_LR<n>_EL2 field positions, copied from the table for the hot path.
_ST_SHIFT = ICH_LR_EL2.State.shift
_PINTID_SHIFT, _PINTID_MASK = ICH_LR_EL2.pINTID.shift, ICH_LR_EL2.pINTID.mask
_PRIO_SHIFT = ICH_LR_EL2.Priority.shift
_GROUP_SHIFT = ICH_LR_EL2.Group.shift
_HW_SHIFT = ICH_LR_EL2.HW.shift


class IchCpuInterface(VgicCpuInterface):
    """One CPU's ICH_*_EL2 registers and ICV_*_EL1 virtual CPU interface."""

    __slots__ = ("n_aprs",)

    def __init__(self, *, gic: Any, cpu: int, events: Any, n_lrs: int, pribits: int,
                 prebits: int, maint_intid: int, phys_limit: int = 1020) -> None:
        super().__init__(gic=gic, cpu=cpu, events=events, n_lrs=n_lrs, pribits=pribits,
                         prebits=prebits, maint_intid=maint_intid, prefix="icv",
                         phys_limit=phys_limit)
        #: ICH_AP<m>R<n>_EL2 registers implemented: 1, 2 or 4.
        self.n_aprs = 1 << (prebits - 5)
        self.fiqen = 1  # VFIQEn is RES1 in GICv3: group 0 is always a virtual FIQ

    # -- ICH_*_EL2 ----------------------------------------------------------------------
    def read_hcr(self) -> int:
        return self.hcr

    def write_hcr(self, value: int) -> None:
        self.hcr = value & _HCR_WRITABLE
        self.update()

    def read_vtr(self) -> int:
        return ICH_VTR_EL2.encode(ListRegs=self.n_lrs - 1, TDS=1, nV4=1, A3V=1, IDbits=1,
                                  PREbits=self.prebits - 1, PRIbits=self.pribits - 1)

    def read_vmcr(self) -> int:
        return ICH_VMCR_EL2.encode(VENG0=self.eng0, VENG1=self.eng1, VFIQEn=1, VCBPR=self.cbpr,
                                   VEOIM=self.eoim, VBPR1=self.bpr1, VBPR0=self.bpr0,
                                   VPMR=self.pmr)

    def write_vmcr(self, value: int) -> None:
        f = ICH_VMCR_EL2
        self.eng0 = f.VENG0.get(value)
        self.eng1 = f.VENG1.get(value)
        self.cbpr = f.VCBPR.get(value)
        self.eoim = f.VEOIM.get(value)
        self.write_bpr0(f.VBPR0.get(value))
        self.write_bpr1(f.VBPR1.get(value))
        self.pmr = f.VPMR.get(value) & self.prio_mask
        self.update()

    def read_lr(self, i: int) -> int:
        return (self.lr_vintid[i] | self.lr_phys[i] << 32 | self.lr_prio[i] << 48
                | self.lr_group[i] << 60 | self.lr_hw[i] << 61 | self.lr_state[i] << 62)

    def write_lr(self, i: int, value: int) -> None:
        value &= _LR_WRITABLE
        state = value >> _ST_SHIFT
        vintid = value & _U32
        pintid = (value >> _PINTID_SHIFT) & _PINTID_MASK
        prio = (value >> _PRIO_SHIFT) & 0xFF
        group = (value >> _GROUP_SHIFT) & 1
        hw = (value >> _HW_SHIFT) & 1
        ev = self._events
        if ev.enabled:
            ev.emit("ich_lr_write", cpu=self.cpu, lr=i, vintid=vintid,
                    state=LR_STATE_NAMES[state], hw=bool(hw), pintid=pintid, priority=prio,
                    group=group)
        self.set_lr(i, state, vintid, pintid, prio, group, hw)

    def read_apr(self, group: int, n: int) -> int:
        return ((self.ap1 if group else self.ap0) >> (32 * n)) & _U32

    def write_apr(self, group: int, n: int, value: int) -> None:
        shift = 32 * n
        cur = self.ap1 if group else self.ap0
        new = (cur & ~(_U32 << shift)) | ((value & _U32) << shift)
        if group:
            self.ap1 = new
        else:
            self.ap0 = new
        self.update()

    # -- ICV_*_EL1 ----------------------------------------------------------------------
    def read_iar(self, group: int) -> int:
        i = self.signalled  # the HPPVI if it can be signalled (refreshed by update())
        if i >= 0 and self.lr_group[i] == group:
            return self.acknowledge(i)
        ev = self._events
        if ev.enabled:
            ev.emit("icv_ack", cpu=self.cpu, vintid=1023, lr=i, group=group)
        return 1023

    def write_eoir(self, group: int, value: int) -> None:
        self.eoi(value & 0xFFFFFF, group)

    def write_dir(self, value: int) -> None:
        self.dir(value & 0xFFFFFF)

    def read_hppir(self, group: int) -> int:
        i = self.hppvi_cache
        if i >= 0 and self.lr_group[i] == group:
            return self.lr_vintid[i]
        return 1023

    def write_pmr(self, value: int) -> None:
        self.pmr = value & self.prio_mask
        self.update()

    def read_bpr(self, group: int) -> int:
        if group and self.cbpr:
            return min(self.bpr0 + 1, 7)
        return self.bpr1 if group else self.bpr0

    def write_bpr(self, group: int, value: int) -> None:
        if group:
            if self.cbpr:
                return  # writes ignored while VCBPR is set
            self.write_bpr1(value)
        else:
            self.write_bpr0(value)
        self.update()

    def read_ctlr(self) -> int:
        return ICV_CTLR_EL1.encode(CBPR=self.cbpr, EOImode=self.eoim, PRIbits=self.pribits - 1,
                                   IDbits=1, A3V=1)  # (mirror ICH_VTR_EL2)

    def write_ctlr(self, value: int) -> None:
        self.cbpr = ICV_CTLR_EL1.CBPR.get(value)
        self.eoim = ICV_CTLR_EL1.EOImode.get(value)
        self.update()

    def write_igrpen(self, group: int, value: int) -> None:
        if group:
            self.eng1 = value & 1
        else:
            self.eng0 = value & 1
        self.update()


def _register(cpu: Any, vif: IchCpuInterface, max_lrs: int = 16) -> None:
    reg = cpu.register_sysreg
    reg("ICH_HCR_EL2", vif.read_hcr, vif.write_hcr)
    reg("ICH_VTR_EL2", vif.read_vtr, None)
    reg("ICH_VMCR_EL2", vif.read_vmcr, vif.write_vmcr)
    reg("ICH_MISR_EL2", vif.misr, None)
    reg("ICH_EISR_EL2", vif.eisr, None)
    reg("ICH_ELRSR_EL2", vif.elrsr, None)
    for g in (0, 1):
        for n in range(4):
            if n < vif.n_aprs:
                reg(f"ICH_AP{g}R{n}_EL2", lambda g=g, n=n: vif.read_apr(g, n),
                    lambda v, g=g, n=n: vif.write_apr(g, n, v))
                reg(f"ICV_AP{g}R{n}_EL1", lambda g=g, n=n: vif.read_apr(g, n),
                    lambda v, g=g, n=n: vif.write_apr(g, n, v))
            else:
                reg(f"ICH_AP{g}R{n}_EL2", None, None)
                reg(f"ICV_AP{g}R{n}_EL1", None, None)
    for n in range(max_lrs):
        if n < vif.n_lrs:
            reg(f"ICH_LR{n}_EL2", partial(vif.read_lr, n), partial(vif.write_lr, n))
        else:
            reg(f"ICH_LR{n}_EL2", None, None)
    reg("ICV_IAR0_EL1", partial(vif.read_iar, 0), None)
    reg("ICV_IAR1_EL1", partial(vif.read_iar, 1), None)
    reg("ICV_EOIR0_EL1", None, partial(vif.write_eoir, 0))
    reg("ICV_EOIR1_EL1", None, partial(vif.write_eoir, 1))
    reg("ICV_DIR_EL1", None, vif.write_dir)
    reg("ICV_HPPIR0_EL1", lambda: vif.read_hppir(0), None)
    reg("ICV_HPPIR1_EL1", lambda: vif.read_hppir(1), None)
    reg("ICV_PMR_EL1", lambda: vif.pmr, vif.write_pmr)
    reg("ICV_BPR0_EL1", lambda: vif.read_bpr(0), lambda v: vif.write_bpr(0, v))
    reg("ICV_BPR1_EL1", lambda: vif.read_bpr(1), lambda v: vif.write_bpr(1, v))
    reg("ICV_RPR_EL1", vif.running_priority, None)
    reg("ICV_CTLR_EL1", vif.read_ctlr, vif.write_ctlr)
    reg("ICV_IGRPEN0_EL1", lambda: vif.eng0, lambda v: vif.write_igrpen(0, v))
    reg("ICV_IGRPEN1_EL1", lambda: vif.eng1, lambda v: vif.write_igrpen(1, v))


def virtual_priority_bits(priority_bits: int) -> tuple[int, int]:
    """(PRIbits, PREbits) of the virtual interface for a physical ``priority_bits``."""
    prebits = max(5, min(priority_bits, 7))
    return max(priority_bits, prebits), prebits


def attach_virtualization(gic: Any) -> list[IchCpuInterface]:
    """Give each CPU of ``gic.machine`` its ICH_/ICV_ registers; returns the interfaces.

    Called by :class:`irqlab.hw.gicv3.GICv3` when ``config.virtualization``.
    ``gic`` must provide ``machine``, ``set_interrupt_level(intid, level, cpu=)``
    and ``deactivate_physical(cpu, intid)``.
    """
    m = gic.machine
    c = m.config
    pribits, prebits = virtual_priority_bits(c.priority_bits)
    out = []
    for cpu in m.cpus:
        vif = IchCpuInterface(gic=gic, cpu=cpu.index, events=m.events, n_lrs=c.list_registers,
                              pribits=pribits, prebits=prebits,
                              maint_intid=16 + c.maintenance_ppi, phys_limit=c.intid_limit)
        _register(cpu, vif)
        cpu.vcpuif = vif
        out.append(vif)
    return out


def register_undefined(machine: Any, names: tuple[str, ...] = VIRT_SYSREG_NAMES) -> None:
    """Make ``names`` (default: every ICH_/ICV_ register) UNDEFINED on each CPU."""
    for cpu in machine.cpus:
        for name in names:
            cpu.register_sysreg(name, None, None)
