"""GICv3 virtualization system registers: ICH_*_EL2 and ICV_*_EL1 layouts (IHI 0069 12.4-12.5).

The maintenance and control registers share their low bits with GICv2's GICH
block (``ICH_HCR_EL2`` bits [7:0] and EOIcount [31:27] are GICH_HCR's,
``ICH_MISR_EL2`` is GICH_MISR), which is why one list-register core
(:mod:`irqlab.hw.vgic_lr`) serves both.
"""

from __future__ import annotations

from irqlab.arch.fields import Field, Register

__all__ = [
    "ICH_HCR_EL2", "ICH_LR_EL2", "ICH_LR_EL2_SW", "ICH_MISR_EL2", "ICH_VMCR_EL2", "ICH_VTR_EL2",
    "ICV_CTLR_EL1", "LR_STATE_NAMES", "VIRT_SYSREG_NAMES",
]

ICH_HCR_EL2 = Register(
    "ICH_HCR_EL2",
    Field("En", 0), Field("UIE", 1), Field("LRENPIE", 2), Field("NPIE", 3),
    Field("VGrp0EIE", 4), Field("VGrp0DIE", 5), Field("VGrp1EIE", 6), Field("VGrp1DIE", 7),
    Field("TC", 10), Field("TALL0", 11), Field("TALL1", 12), Field("TSEI", 13),
    Field("TDIR", 14), Field("EOIcount", 27, 5), width=64)
ICH_VTR_EL2 = Register(
    "ICH_VTR_EL2",
    Field("ListRegs", 0, 5), Field("TDS", 19), Field("nV4", 20), Field("A3V", 21),
    Field("SEIS", 22), Field("IDbits", 23, 3), Field("PREbits", 26, 3), Field("PRIbits", 29, 3),
    width=64)
ICH_VMCR_EL2 = Register(
    "ICH_VMCR_EL2",
    Field("VENG0", 0), Field("VENG1", 1), Field("VAckCtl", 2), Field("VFIQEn", 3),
    Field("VCBPR", 4), Field("VEOIM", 9), Field("VBPR1", 18, 3), Field("VBPR0", 21, 3),
    Field("VPMR", 24, 8), width=64)
ICH_MISR_EL2 = Register(
    "ICH_MISR_EL2",
    Field("EOI", 0), Field("U", 1), Field("LRENP", 2), Field("NP", 3), Field("VGrp0E", 4),
    Field("VGrp0D", 5), Field("VGrp1E", 6), Field("VGrp1D", 7), width=64)
ICH_LR_EL2 = Register(
    "ICH_LR_EL2",
    Field("vINTID", 0, 32), Field("pINTID", 32, 13), Field("Priority", 48, 8), Field("NMI", 59),
    Field("Group", 60), Field("HW", 61), Field("State", 62, 2), width=64)
#: The same register when HW=0: bit 41 (pINTID bit 9) is the EOI bit.
ICH_LR_EL2_SW = Register(
    "ICH_LR_EL2",
    Field("vINTID", 0, 32), Field("EOI", 41), Field("Priority", 48, 8), Field("NMI", 59),
    Field("Group", 60), Field("HW", 61), Field("State", 62, 2), width=64)
ICV_CTLR_EL1 = Register(
    "ICV_CTLR_EL1",
    Field("CBPR", 0), Field("EOImode", 1), Field("PRIbits", 8, 3), Field("IDbits", 11, 3),
    Field("SEIS", 14), Field("A3V", 15), width=64)

#: List register State field values.
LR_INVALID = 0
LR_PENDING = 1
LR_ACTIVE = 2
LR_PENDING_ACTIVE = 3
LR_STATE_NAMES = ("invalid", "pending", "active", "pending+active")


def _names() -> tuple[str, ...]:
    names = ["ICH_HCR_EL2", "ICH_VTR_EL2", "ICH_VMCR_EL2", "ICH_MISR_EL2", "ICH_EISR_EL2",
             "ICH_ELRSR_EL2"]
    names += [f"ICH_AP{g}R{n}_EL2" for g in (0, 1) for n in range(4)]
    names += [f"ICH_LR{n}_EL2" for n in range(16)]
    names += ["ICV_IAR0_EL1", "ICV_IAR1_EL1", "ICV_EOIR0_EL1", "ICV_EOIR1_EL1", "ICV_DIR_EL1",
              "ICV_HPPIR0_EL1", "ICV_HPPIR1_EL1", "ICV_PMR_EL1", "ICV_BPR0_EL1", "ICV_BPR1_EL1",
              "ICV_RPR_EL1", "ICV_CTLR_EL1", "ICV_IGRPEN0_EL1", "ICV_IGRPEN1_EL1"]
    names += [f"ICV_AP{g}R{n}_EL1" for g in (0, 1) for n in range(4)]
    return tuple(names)


#: Every ICH_*_EL2 / ICV_*_EL1 system register name (all 16 possible list registers).
VIRT_SYSREG_NAMES = _names()
