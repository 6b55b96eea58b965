"""Virtualization probes at EL2: GICv3 ICH_* registers, GICv2 GICH/GICV."""

from __future__ import annotations

from common import GICC, GICD, ONES, SGI, S, rd
from peer import Op
from probes_gicv3 import gicv3_setup

V3_EL2 = {"gic": 3, "cpus": 4, "its": True, "virtualization": True}
V2_EL2 = {"gic": 2, "cpus": 4, "virtualization": True}
GICH = 0x0803_0000
GICV = 0x0804_0000
ICH_REGS = ("ICC_SRE_EL2", "ICH_VTR_EL2", "ICH_HCR_EL2", "ICH_VMCR_EL2", "ICH_MISR_EL2",
            "ICH_EISR_EL2", "ICH_ELRSR_EL2",
            *(f"ICH_AP{g}R{n}_EL2" for g in (0, 1) for n in range(4)),
            *(f"ICH_LR{n}_EL2" for n in range(16)))


def _ich_state(s: S) -> None:
    for reg in ("ICH_MISR_EL2", "ICH_EISR_EL2", "ICH_ELRSR_EL2", "ICH_HCR_EL2"):
        s.sr(reg)
    s.r(rd(0) + SGI + 0x200, note="GICR0_ISPENDR0 (maintenance PPI 25)")


def gicv3_el2() -> tuple[dict, list[Op]]:
    """GICv3 virtualization at EL2: ICH_* reset values, writable bits, LR states, MISR."""
    s = S()
    gicv3_setup(s)
    for reg in ICH_REGS:
        s.sr(reg)
    for reg in ("ICH_HCR_EL2", "ICH_VMCR_EL2", "ICH_AP0R0_EL2", "ICH_AP1R0_EL2",
                "ICH_LR0_EL2", "ICH_LR3_EL2", "ICC_SRE_EL2"):
        s.sw(reg, (1 << 64) - 1, f"{reg} <- ones")
        s.sr(reg)
        if reg == "ICH_HCR_EL2":
            s.sw(reg, 0, f"{reg} <- 0")
        if reg == "ICH_LR0_EL2":
            _ich_state(s)
        s.sw(reg, 0 if reg != "ICC_SRE_EL2" else 0xF, f"{reg} <- 0")
        s.sr(reg)
    s.sw("ICH_VMCR_EL2", (1 << 64) - 1, "ICH_VMCR_EL2 <- ones")
    s.sr("ICH_VMCR_EL2")
    for v in (0, 1 << 18, 7 << 18, 1 << 21, 7 << 21, 0x0F << 24, 0xFF << 24):
        s.sw("ICH_VMCR_EL2", v, f"ICH_VMCR_EL2 <- {v:#x}")
        s.sr("ICH_VMCR_EL2")
    # list register states
    lr = 1 << 62 | 1 << 60 | 0xA0 << 48
    for n, v in enumerate((lr | 40, 2 << 62 | 1 << 60 | 0x80 << 48 | 41,
                           3 << 62 | 0x90 << 48 | 42, 1 << 62 | 1 << 61 | 1 << 60 | 48 << 32
                           | 0xA0 << 48 | 43)):
        s.sw(f"ICH_LR{n}_EL2", v, f"ICH_LR{n}_EL2 <- {v:#x}")
        s.sr(f"ICH_LR{n}_EL2")
    _ich_state(s)
    s.sw("ICH_HCR_EL2", 1, "ICH_HCR_EL2 <- En")
    _ich_state(s)
    s.sr("ISR_EL1", "physical lines at EL2")
    for bit, name in ((1, "UIE"), (2, "LRENPIE"), (3, "NPIE"), (4, "VGrp0EIE"),
                      (5, "VGrp0DIE"), (6, "VGrp1EIE"), (7, "VGrp1DIE")):
        s.sw("ICH_HCR_EL2", 1 | 1 << bit, f"ICH_HCR_EL2 <- En|{name}")
        _ich_state(s)
    s.sw("ICH_VMCR_EL2", 3, "ICH_VMCR_EL2 <- VENG0|VENG1")
    for bit, name in ((4, "VGrp0EIE"), (5, "VGrp0DIE"), (6, "VGrp1EIE"), (7, "VGrp1DIE")):
        s.sw("ICH_HCR_EL2", 1 | 1 << bit, f"ICH_HCR_EL2 <- En|{name}")
        _ich_state(s)
    for n in range(4):
        s.sw(f"ICH_LR{n}_EL2", 0, f"ICH_LR{n}_EL2 <- 0")
    s.sw("ICH_HCR_EL2", 1 | 1 << 1, "ICH_HCR_EL2 <- En|UIE, no valid LR")
    _ich_state(s)
    s.sw("ICH_HCR_EL2", 1 | 1 << 2 | 3 << 27, "ICH_HCR_EL2 <- En|LRENPIE, EOIcount 3")
    _ich_state(s)
    s.sw("ICH_HCR_EL2", 0, "ICH_HCR_EL2 <- 0")
    _ich_state(s)
    s.sw("ICH_AP1R0_EL2", 1 << 20, "ICH_AP1R0_EL2 <- bit 20")
    s.sr("ICH_AP1R0_EL2")
    s.sw("ICH_AP1R0_EL2", 0)
    return V3_EL2, s.ops


def _gich_state(s: S) -> None:
    for off, name in ((0x10, "MISR"), (0x20, "EISR0"), (0x30, "ELRSR0"), (0x0, "HCR")):
        s.r(GICH + off, note=f"GICH_{name}")
    s.r(GICD + 0x200, note="GICD_ISPENDR0 (maintenance PPI 25)")


def gicv2_virt() -> tuple[dict, list[Op]]:
    """GICv2 virtualization at EL2: GICH and GICV reset values, writable bits, a flow."""
    s = S()
    s.w(GICD + 0x0, 0x3, note="GICD_CTLR <- EnableGrp0|EnableGrp1")
    s.w(GICC + 0x4, 0xFF, note="GICC_PMR <- 0xff")
    s.w(GICC + 0x0, 0x3, note="GICC_CTLR <- EnableGrp0|EnableGrp1")
    for off in (*range(0, 0x40, 4), 0xF0, *range(0x100, 0x120, 4), 0x1FC):
        s.r(GICH + off, note=f"GICH+{off:#x}")
    for off in (*range(0, 0x30, 4), 0xD0, 0xE0, 0xFC, 0x1000):
        s.r(GICV + off, note=f"GICV+{off:#x}")
    for off, name in ((0x0, "HCR"), (0x8, "VMCR"), (0xF0, "APR"), (0x100, "LR0"),
                      (0x10C, "LR3"), (0x110, "LR4"), (0x4, "VTR")):
        s.w(GICH + off, ONES, note=f"GICH_{name} <- ones")
        s.r(GICH + off, note=f"GICH_{name}")
        if name == "HCR":
            s.w(GICH + off, 0, note=f"GICH_{name} <- 0")
        if name == "LR0":
            _gich_state(s)
        s.w(GICH + off, 0, note=f"GICH_{name} <- 0")
        s.r(GICH + off, note=f"GICH_{name}")
    for off, name in ((0x0, "CTLR"), (0x4, "PMR"), (0x8, "BPR"), (0x1C, "ABPR"), (0xD0, "APR0")):
        s.w(GICV + off, ONES, note=f"GICV_{name} <- ones")
        s.r(GICV + off, note=f"GICV_{name}")
        s.r(GICH + 0x8, note="GICH_VMCR")
        s.w(GICV + off, 0, note=f"GICV_{name} <- 0")
        s.r(GICV + off, note=f"GICV_{name}")
    # a virtual flow
    s.w(GICH + 0x0, 1, note="GICH_HCR <- En")
    s.w(GICV + 0x0, 0x1, note="GICV_CTLR <- EnableGrp0")
    s.w(GICV + 0x4, 0xF8, note="GICV_PMR <- 0xf8")
    s.w(GICH + 0x100, 1 << 28 | (0xA0 >> 3) << 23 | 27, note="GICH_LR0 <- pending vINTID 27")
    s.w(GICH + 0x104, 1 << 28 | (0x80 >> 3) << 23 | 28, note="GICH_LR1 <- pending vINTID 28")
    _gich_state(s)
    for off, name in ((0x18, "HPPIR"), (0x14, "RPR")):
        s.r(GICV + off, note=f"GICV_{name}")
    s.r(GICV + 0xC, note="GICV_IAR")
    s.r(GICH + 0x104, note="GICH_LR1")
    s.r(GICV + 0x14, note="GICV_RPR")
    s.r(GICH + 0xF0, note="GICH_APR")
    s.r(GICV + 0xC, note="GICV_IAR (27 does not preempt)")
    s.w(GICV + 0x10, 28, note="GICV_EOIR 28")
    s.r(GICH + 0x104, note="GICH_LR1")
    _gich_state(s)
    s.r(GICV + 0xC, note="GICV_IAR 27")
    s.w(GICV + 0x10, 99, note="GICV_EOIR 99 (no LR)")
    s.r(GICH + 0x0, note="GICH_HCR (EOIcount)")
    s.r(GICV + 0x14, note="GICV_RPR")
    s.w(GICV + 0x10, 27, note="GICV_EOIR 27")
    _gich_state(s)
    # HW = 1: the physical SPI 48 is deactivated with the virtual interrupt
    s.w(GICD + 0x430, 0xA0, note="GICD_IPRIORITYR12 <- 48:0xa0")
    s.w(GICD + 0x830, 0x01, note="GICD_ITARGETSR12 <- 48:CPU 0")
    s.w(GICD + 0x104, 1 << 16, note="GICD_ISENABLER1 <- 48")
    s.w(GICD + 0x204, 1 << 16, note="GICD_ISPENDR1 <- 48")
    s.r(GICC + 0xC, note="GICC_IAR 48")
    s.w(GICC + 0x0, 0x203, note="GICC_CTLR <- EOImodeS")
    s.w(GICC + 0x10, 48, note="GICC_EOIR 48 (drop only)")
    s.r(GICD + 0x304, note="GICD_ISACTIVER1")
    s.w(GICH + 0x100, 1 << 31 | 48 << 10 | 1 << 28 | (0xA0 >> 3) << 23 | 30,
        note="GICH_LR0 <- HW pINTID 48 vINTID 30")
    s.r(GICV + 0xC, note="GICV_IAR 30")
    s.w(GICV + 0x10, 30, note="GICV_EOIR 30")
    s.r(GICD + 0x304, note="GICD_ISACTIVER1")
    s.r(GICH + 0x100, note="GICH_LR0")
    # maintenance: underflow, EOI, NP
    s.w(GICH + 0x0, 1 | 1 << 1, note="GICH_HCR <- En|UIE")
    _gich_state(s)
    s.w(GICH + 0x0, 1 | 1 << 3, note="GICH_HCR <- En|NPIE")
    _gich_state(s)
    s.w(GICH + 0x100, 1 << 19 | 1 << 28 | 31, note="GICH_LR0 <- pending vINTID 31 EOI")
    s.r(GICV + 0xC, note="GICV_IAR 31")
    s.w(GICV + 0x10, 31, note="GICV_EOIR 31")
    _gich_state(s)
    s.w(GICH + 0x0, 0, note="GICH_HCR <- 0")
    _gich_state(s)
    return V2_EL2, s.ops


def _lr(state: int, grp: int, prio: int, vintid: int, hw: int = 0, pintid: int = 0) -> int:
    return state << 62 | hw << 61 | grp << 60 | prio << 48 | pintid << 32 | vintid


def _icv_state(s: S) -> None:
    for reg in ("ISR_EL1", "ICC_HPPIR1_EL1", "ICC_HPPIR0_EL1", "ICC_RPR_EL1", "ICC_AP1R0_EL1",
                "ICC_AP0R0_EL1"):
        s.sr(reg)


def _el2_view(s: S) -> None:
    for n in range(4):
        s.sr(f"ICH_LR{n}_EL2")
    for reg in ("ICH_ELRSR_EL2", "ICH_EISR_EL2", "ICH_MISR_EL2", "ICH_HCR_EL2",
                "ICH_VMCR_EL2", "ICH_AP0R0_EL2", "ICH_AP1R0_EL2"):
        s.sr(reg)


IMO_FMO = 1 << 4 | 1 << 3


def gicv3_icv() -> tuple[dict, list[Op]]:
    """The GICv3 virtual CPU interface as EL1 sees it (HCR_EL2.IMO/FMO: ICC_* reach ICV_*)."""
    s = S()
    gicv3_setup(s)
    s.sw("ICC_PMR_EL1", 0, "physical PMR 0: no physical interrupt reaches EL1's run")
    s.sw("ICH_HCR_EL2", 1, "ICH_HCR_EL2 <- En")
    s.sw("ICH_VMCR_EL2", 0xF8 << 24 | 3, "ICH_VMCR_EL2 <- VPMR 0xf8, VENG0|VENG1")
    s.sr("ICH_VMCR_EL2")
    s.sw("ICH_LR0_EL2", _lr(1, 1, 0xA0, 40), "ICH_LR0 <- pending G1 0xa0 vINTID 40")
    s.sw("ICH_LR1_EL2", _lr(1, 1, 0x80, 41), "ICH_LR1 <- pending G1 0x80 vINTID 41")
    s.sw("ICH_LR2_EL2", _lr(1, 0, 0x90, 42), "ICH_LR2 <- pending G0 0x90 vINTID 42")
    _el2_view(s)
    s.ops.append(Op("el1", value=IMO_FMO, note="EL1, HCR_EL2.IMO|FMO"))
    s.sr("ICC_SRE_EL1")
    s.sr("ICC_CTLR_EL1", "ICV_CTLR_EL1")
    s.sr("ICC_PMR_EL1", "ICV_PMR_EL1")
    s.sr("ICC_BPR0_EL1", "ICV_BPR0_EL1")
    s.sr("ICC_BPR1_EL1", "ICV_BPR1_EL1")
    s.sr("ICC_IGRPEN0_EL1", "ICV_IGRPEN0_EL1")
    s.sr("ICC_IGRPEN1_EL1", "ICV_IGRPEN1_EL1")
    _icv_state(s)
    s.sr("ICC_IAR0_EL1", "ICV_IAR0: HPPI is group 1")
    s.sr("ICC_IAR1_EL1", "ICV_IAR1: 41")
    _icv_state(s)
    s.sr("ICC_IAR1_EL1", "40 does not preempt")
    s.sr("ICC_IAR0_EL1", "42 (0x90) does not preempt 0x80")
    s.sw("ICC_EOIR1_EL1", 41, "ICV_EOIR1 41")
    _icv_state(s)
    s.sr("ICC_IAR0_EL1", "ICV_IAR0: 42")
    _icv_state(s)
    s.sw("ICC_EOIR0_EL1", 42, "ICV_EOIR0 42")
    s.sr("ICC_IAR1_EL1", "ICV_IAR1: 40")
    s.sw("ICC_EOIR1_EL1", 40, "ICV_EOIR1 40")
    _icv_state(s)
    s.sr("ICC_EOIR1_EL1", "write-only: read")
    s.sr("ICH_VTR_EL2", "EL2 register from EL1")
    s.sw("ICC_SGI1R_EL1", 1, "ICC_SGI1R_EL1 with IMO: trapped")
    s.sw("ICC_SGI0R_EL1", 1, "ICC_SGI0R_EL1 with FMO: trapped")
    s.ops.append(Op("el2", note="back to EL2"))
    _el2_view(s)
    # the guest's view of its control registers is ICH_VMCR_EL2
    s.ops.append(Op("el1", value=IMO_FMO, note="EL1"))
    for reg, v in (("ICC_PMR_EL1", 0xFF), ("ICC_BPR0_EL1", 0), ("ICC_BPR1_EL1", 0),
                   ("ICC_CTLR_EL1", (1 << 64) - 1), ("ICC_IGRPEN0_EL1", 0),
                   ("ICC_AP1R0_EL1", ONES)):
        s.sw(reg, v, f"{reg} (ICV) <- {v:#x}")
        s.sr(reg)
    s.ops.append(Op("el2", note="back to EL2"))
    _el2_view(s)
    s.sw("ICH_AP1R0_EL2", 0, "ICH_AP1R0_EL2 <- 0")
    s.sw("ICH_VMCR_EL2", 0xF8 << 24 | 3 | 1 << 9, "ICH_VMCR_EL2 <- VEOIM, VENG0|VENG1")
    # EOImode = 1: EOIR drops the priority, DIR deactivates
    s.sw("ICH_LR0_EL2", _lr(1, 1, 0xA0, 40), "ICH_LR0 <- pending vINTID 40")
    s.ops.append(Op("el1", value=IMO_FMO, note="EL1"))
    s.sr("ICC_CTLR_EL1", "ICV_CTLR_EL1 (EOImode)")
    s.sr("ICC_IAR1_EL1", "ICV_IAR1: 40")
    s.sw("ICC_EOIR1_EL1", 40, "ICV_EOIR1 40: drop only")
    _icv_state(s)
    s.ops.append(Op("el2", note="EL2"))
    _el2_view(s)
    s.ops.append(Op("el1", value=IMO_FMO, note="EL1"))
    s.sw("ICC_DIR_EL1", 40, "ICV_DIR 40")
    s.sw("ICC_DIR_EL1", 45, "ICV_DIR 45 (no LR)")
    s.ops.append(Op("el2", note="EL2"))
    _el2_view(s)
    s.sw("ICH_VMCR_EL2", 0xF8 << 24 | 3, "ICH_VMCR_EL2 <- VENG0|VENG1")
    # an EOI with no matching LR counts in EOIcount; LRENPIE
    s.sw("ICH_LR0_EL2", _lr(1, 1, 0xA0, 43), "ICH_LR0 <- pending vINTID 43")
    s.ops.append(Op("el1", value=IMO_FMO, note="EL1"))
    s.sr("ICC_IAR1_EL1", "ICV_IAR1: 43")
    s.ops.append(Op("el2", note="EL2"))
    s.sw("ICH_LR0_EL2", 0, "ICH_LR0 <- 0 while active")
    s.sw("ICH_HCR_EL2", 1 | 1 << 2, "ICH_HCR_EL2 <- En|LRENPIE")
    s.ops.append(Op("el1", value=IMO_FMO, note="EL1"))
    s.sw("ICC_EOIR1_EL1", 43, "ICV_EOIR1 43: no LR")
    _icv_state(s)
    s.ops.append(Op("el2", note="EL2"))
    _el2_view(s)
    s.r(rd(0) + SGI + 0x200, note="GICR0_ISPENDR0 (maintenance PPI 25)")
    s.sw("ICH_HCR_EL2", 1, "ICH_HCR_EL2 <- En")
    # HW = 1: the physical SPI 48 is deactivated by the virtual EOI
    s.w(GICD + 0x84, 1 << 16, note="GICD_IGROUPR1 <- 48 Group 1")
    s.w(GICD + 0x430, 0xA0, 1, "GICD_IPRIORITYR byte 48 <- 0xa0")
    s.w(GICD + 0x6000 + 8 * 48, 0, 8, "GICD_IROUTER48 <- CPU 0")
    s.w(GICD + 0x104, 1 << 16, note="GICD_ISENABLER1 <- 48")
    s.w(GICD + 0x204, 1 << 16, note="GICD_ISPENDR1 <- 48")
    s.sw("ICC_PMR_EL1", 0xFF, "physical PMR 0xff")
    s.sw("ICC_CTLR_EL1", 2, "physical EOImode 1")
    s.sr("ICC_IAR1_EL1", "physical IAR1: 48")
    s.sw("ICC_EOIR1_EL1", 48, "physical EOIR1 48: drop only")
    s.sw("ICC_PMR_EL1", 0, "physical PMR 0")
    s.r(GICD + 0x304, note="GICD_ISACTIVER1")
    s.sw("ICH_LR0_EL2", _lr(1, 1, 0xA0, 30, hw=1, pintid=48), "ICH_LR0 <- HW vINTID 30 pINTID 48")
    s.ops.append(Op("el1", value=IMO_FMO, note="EL1"))
    s.sr("ICC_IAR1_EL1", "ICV_IAR1: 30")
    s.sw("ICC_EOIR1_EL1", 30, "ICV_EOIR1 30")
    s.ops.append(Op("el2", note="EL2"))
    s.r(GICD + 0x304, note="GICD_ISACTIVER1 (48 deactivated)")
    _el2_view(s)
    # IMO only: group 0 registers stay physical
    s.sw("ICH_LR0_EL2", _lr(1, 1, 0xA0, 40), "ICH_LR0 <- pending vINTID 40")
    s.ops.append(Op("el1", value=1 << 4, note="EL1, IMO only"))
    s.sr("ISR_EL1")
    s.sr("ICC_HPPIR1_EL1", "ICV_HPPIR1")
    s.sr("ICC_HPPIR0_EL1", "physical ICC_HPPIR0")
    s.sr("ICC_PMR_EL1", "ICV_PMR")
    s.sw("ICC_SGI0R_EL1", 0, "ICC_SGI0R without FMO: physical")
    s.ops.append(Op("el2", note="EL2"))
    s.sw("ICH_LR0_EL2", 0)
    s.sw("ICH_HCR_EL2", 0)
    return V3_EL2, s.ops


def gicv3_icv_lpi() -> tuple[dict, list[Op]]:
    """Virtual LPIs in list registers: EOI deactivates whatever EOImode, no DIR, no EOIcount."""
    s = S()
    s.sw("ICC_PMR_EL1", 0, "physical PMR 0")
    s.sw("ICH_HCR_EL2", 1, "ICH_HCR_EL2 <- En")
    for eoim, body in ((0, (("sr", "ICC_IAR1_EL1", 0), ("sw", "ICC_EOIR1_EL1", 8192))),
                       (1, (("sr", "ICC_IAR1_EL1", 0), ("sw", "ICC_EOIR1_EL1", 8192))),
                       (1, (("sr", "ICC_IAR1_EL1", 0), ("sw", "ICC_DIR_EL1", 8192),
                            ("sw", "ICC_EOIR1_EL1", 8192))),
                       (0, (("sr", "ICC_IAR1_EL1", 0), ("sw", "ICC_EOIR1_EL1", 8193))),
                       (1, (("sr", "ICC_IAR1_EL1", 0), ("sw", "ICC_EOIR1_EL1", 8193),
                            ("sw", "ICC_DIR_EL1", 8192)))):
        s.sw("ICH_HCR_EL2", 1, "ICH_HCR_EL2 <- En (EOIcount 0)")
        s.sw("ICH_AP1R0_EL2", 0)
        s.sw("ICH_VMCR_EL2", 0xF8 << 24 | 3 | eoim << 9, f"ICH_VMCR_EL2 <- VEOIM={eoim}")
        s.sw("ICH_LR0_EL2", _lr(1, 1, 0xA0, 8192), "ICH_LR0 <- pending vLPI 8192")
        s.ops.append(Op("el1", value=IMO_FMO, note="EL1"))
        for op, reg, v in body:
            if op == "sr":
                s.sr(reg, f"{reg} (ICV)")
            else:
                s.sw(reg, v, f"{reg} (ICV) <- {v}")
        s.ops.append(Op("el2", note="EL2"))
        for reg in ("ICH_LR0_EL2", "ICH_HCR_EL2", "ICH_AP1R0_EL2", "ICH_EISR_EL2",
                    "ICH_ELRSR_EL2", "ICH_MISR_EL2"):
            s.sr(reg)
    s.sw("ICH_LR0_EL2", 0)
    s.sw("ICH_HCR_EL2", 0)
    return V3_EL2, s.ops


def _v2lr(vintid: int, *, prio: int = 0xA0, grp1: int = 0, hw: int = 0, pintid: int = 0) -> int:
    """A pending GICH_LR."""
    return hw << 31 | grp1 << 30 | 1 << 28 | (prio >> 3) << 23 | pintid << 10 | vintid


def gicv2_virt_edges() -> tuple[dict, list[Op]]:
    """GICv2 edge cases: ABPR under CBPR, GICV_HPPIR with En = 0, the GICH window, and the
    documented differences (disabled-group HPPVI, EOIcount with EOImode = 1, HW = 1 SGI)."""
    s = S()
    # GICC_ABPR / GICV_ABPR keep their own value whatever CBPR (all accesses Secure)
    s.w(GICC + 0x1C, 5, note="GICC_ABPR <- 5")
    s.w(GICC + 0x0, 1 << 4, note="GICC_CTLR <- CBPR")
    s.w(GICC + 0x8, 2, note="GICC_BPR <- 2")
    s.r(GICC + 0x1C, note="GICC_ABPR with CBPR")
    s.w(GICC + 0x1C, 6, note="GICC_ABPR <- 6 with CBPR")
    s.r(GICC + 0x1C, note="GICC_ABPR with CBPR")
    s.w(GICC + 0x0, 0, note="GICC_CTLR <- 0")
    s.r(GICC + 0x1C, note="GICC_ABPR")
    s.w(GICV + 0x1C, 5, note="GICV_ABPR <- 5")
    s.w(GICV + 0x0, 1 << 4, note="GICV_CTLR <- CBPR")
    s.w(GICV + 0x8, 2, note="GICV_BPR <- 2")
    s.r(GICV + 0x1C, note="GICV_ABPR with CBPR")
    s.w(GICV + 0x1C, 6, note="GICV_ABPR <- 6 with CBPR")
    s.r(GICV + 0x1C, note="GICV_ABPR with CBPR")
    s.r(GICH + 0x8, note="GICH_VMCR")
    s.w(GICH + 0x8, 4 << 18 | 3 << 21 | 1 << 4, note="GICH_VMCR <- VMCBPR, VMABP 4, VMBP 3")
    s.r(GICV + 0x1C, note="GICV_ABPR with CBPR")
    s.w(GICH + 0x8, 0, note="GICH_VMCR <- 0")
    # GICV_HPPIR / AHPPIR with GICH_HCR.En = 0
    s.w(GICV + 0x0, 0x7, note="GICV_CTLR <- EnableGrp0|EnableGrp1|AckCtl")
    s.w(GICV + 0x4, 0xF8, note="GICV_PMR <- 0xf8")
    s.w(GICH + 0x100, _v2lr(30, prio=0xA0, grp1=1), note="GICH_LR0 <- pending G1 vINTID 30")
    s.r(GICV + 0x18, note="GICV_HPPIR, En = 0")
    s.r(GICV + 0xC, note="GICV_IAR, En = 0")
    s.w(GICH + 0x0, 1, note="GICH_HCR <- En")
    s.r(GICV + 0x18, note="GICV_HPPIR, En = 1")
    s.w(GICV + 0x4, 0x80, note="GICV_PMR <- 0x80 (masks 30)")
    s.r(GICV + 0x18, note="GICV_HPPIR, PMR masks the HPPVI")
    s.w(GICH + 0x0, 0, note="GICH_HCR <- 0")
    s.r(GICV + 0x18, note="GICV_HPPIR, En = 0, PMR masks")
    s.w(GICH + 0x100, 0, note="GICH_LR0 <- 0")
    # the HPPVI with its group disabled (the other enabled)
    s.w(GICH + 0x0, 1, note="GICH_HCR <- En")
    s.w(GICV + 0x0, 0x6, note="GICV_CTLR <- EnableGrp1|AckCtl")
    s.w(GICV + 0x4, 0xF8, note="GICV_PMR <- 0xf8")
    s.w(GICH + 0x100, _v2lr(30, prio=0x10), note="GICH_LR0 <- pending G0 0x10 vINTID 30")
    s.w(GICH + 0x104, _v2lr(31, prio=0x80, grp1=1), note="GICH_LR1 <- pending G1 0x80 vINTID 31")
    s.r(GICV + 0x18, note="GICV_HPPIR, group 0 disabled")
    s.r(GICV + 0xC, note="GICV_IAR, group 0 disabled")
    s.r(GICH + 0x100, note="GICH_LR0, group 0 disabled")
    s.r(GICH + 0x104, note="GICH_LR1, group 0 disabled")
    s.r(GICH + 0xF0, note="GICH_APR, group 0 disabled")
    for off in (0x100, 0x104, 0xF0):
        s.w(GICH + off, 0)
    s.w(GICH + 0x0, 0, note="GICH_HCR <- 0")
    # EOImode = 1: GICV_EOIR and GICV_DIR of a vINTID in no list register
    s.w(GICH + 0x0, 1, note="GICH_HCR <- En")
    s.w(GICV + 0x0, 1 | 1 << 9, note="GICV_CTLR <- EnableGrp0|EOImode")
    s.w(GICH + 0x100, _v2lr(30), note="GICH_LR0 <- pending G0 vINTID 30")
    s.r(GICV + 0xC, note="GICV_IAR 30")
    s.w(GICV + 0x10, 99, note="GICV_EOIR 99 (no LR, EOImode 1)")
    s.r(GICH + 0x0, note="GICH_HCR after GICV_EOIR 99")
    s.w(GICV + 0x1000, 99, note="GICV_DIR 99 (no LR)")
    s.r(GICH + 0x0, note="GICH_HCR after GICV_DIR 99")
    s.w(GICV + 0x1000, 30, note="GICV_DIR 30")
    s.r(GICH + 0x100, note="GICH_LR0 after GICV_DIR 30")
    s.w(GICH + 0x100, 0)
    s.w(GICH + 0x0, 0, note="GICH_HCR <- 0")
    # HW = 1 with an SGI as the physical INTID
    s.w(GICD + 0x0, 0x3, note="GICD_CTLR <- EnableGrp0|EnableGrp1")
    s.w(GICC + 0x4, 0xFF, note="GICC_PMR <- 0xff")
    s.w(GICC + 0x0, 0x201, note="GICC_CTLR <- EnableGrp0|EOImodeS")
    s.w(GICD + 0xF00, 2 << 24 | 5, note="GICD_SGIR <- SGI 5 to self")
    s.r(GICC + 0xC, note="GICC_IAR SGI 5")
    s.w(GICC + 0x10, 5, note="GICC_EOIR 5 (drop only)")
    s.r(GICD + 0x300, note="GICD_ISACTIVER0 (SGI 5 active)")
    s.w(GICH + 0x0, 1, note="GICH_HCR <- En")
    s.w(GICV + 0x0, 1, note="GICV_CTLR <- EnableGrp0")
    s.w(GICH + 0x100, _v2lr(28, hw=1, pintid=5), note="GICH_LR0 <- HW pINTID 5 (SGI) vINTID 28")
    s.r(GICV + 0xC, note="GICV_IAR 28")
    s.w(GICV + 0x10, 28, note="GICV_EOIR 28")
    s.r(GICH + 0x100, note="GICH_LR0 after GICV_EOIR 28")
    s.r(GICD + 0x300, note="GICD_ISACTIVER0 after the HW = 1 SGI deactivation")
    s.w(GICD + 0x380, 1 << 5, note="GICD_ICACTIVER0 <- SGI 5")
    s.w(GICH + 0x100, 0)
    s.w(GICH + 0x0, 0, note="GICH_HCR <- 0")
    # the windows: GICH is 4 KiB, GICV 8 KiB
    for off in (0x200, 0xFFC, 0x1000, 0x1FFC, 0x8000, 0xFFFC):
        s.r(GICH + off, note=f"GICH+{off:#x}")
    s.w(GICH + 0x1000, ONES, note="GICH+0x1000 <- ones")
    for off in (0x1FFC, 0x2000, 0xFFFC):
        s.r(GICV + off, note=f"GICV+{off:#x}")
    return V2_EL2, s.ops
