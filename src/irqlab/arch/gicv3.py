"""GICv3 register map and field tables (IHI 0069), plus pure priority helpers.

Offsets are relative to the frame they live in: ``GICD_*`` to the
Distributor base, ``GICR_*`` RD_base registers to RD_base, the banked SGI/PPI
registers to SGI_base (``RD_base + GICR_SGI_BASE``).  Every layout the model
reads or writes is declared here once, in the spec's spelling.
"""

from __future__ import annotations

from irqlab.arch.fields import Field, Register

__all__ = [
    "GICD_CTLR", "GICD_TYPER", "GICR_CTLR", "GICR_PENDBASER", "GICR_PROPBASER", "GICR_TYPER",
    "GICR_WAKER", "ICC_ABSENT_SYSREGS", "ICC_CTLR_EL1", "ICC_SGIR", "ICC_SYSREG_NAMES",
    "INTID_SPURIOUS", "LPI_CFG", "LPI_INTID_BASE",
    "ap_bit", "gprio_mask", "min_bpr", "prio_mask",
]

# --- INTID space (IHI 0069 2.2) ----------------------------------------------
SGI_COUNT = 16
GIC_INTERNAL = 32
#: First special INTID; 1020..1023 are never acknowledged.
INTID_SPECIAL = 1020
INTID_SPURIOUS = 1023
LPI_INTID_BASE = 8192

#: Every ICC_*_EL1 system register of the CPU interface (IHI 0069 12.2), AP<g>R<n>
#: for all four possible n (those beyond the implemented preemption bits are UNDEFINED).
ICC_SYSREG_NAMES: tuple[str, ...] = (
    "ICC_IAR0_EL1", "ICC_IAR1_EL1", "ICC_EOIR0_EL1", "ICC_EOIR1_EL1", "ICC_DIR_EL1",
    "ICC_HPPIR0_EL1", "ICC_HPPIR1_EL1", "ICC_RPR_EL1", "ICC_PMR_EL1", "ICC_BPR0_EL1",
    "ICC_BPR1_EL1", "ICC_CTLR_EL1", "ICC_IGRPEN0_EL1", "ICC_IGRPEN1_EL1", "ICC_SRE_EL1",
    *(f"ICC_AP{g}R{n}_EL1" for g in (0, 1) for n in range(4)),
    "ICC_SGI0R_EL1", "ICC_SGI1R_EL1", "ICC_ASGI1R_EL1",
)

_NO_EL3 = "EL3 is not implemented (QEMU virt without EL3: one Security state)"
_NO_NMI = "FEAT_GICv3_NMI is not implemented"
#: Architectural GICv3 system registers (AArch64) that irqlab's GICv3 never implements,
#: and why: an access is UNDEFINED (UndefinedInstruction with the reason), not an unknown
#: name.  ICC_SRE_EL2 joins them without EL2; a GICv2 machine has none of the ICC_
#: registers.
ICC_ABSENT_SYSREGS: dict[str, str] = {
    "ICC_CTLR_EL3": _NO_EL3, "ICC_IGRPEN1_EL3": _NO_EL3, "ICC_SRE_EL3": _NO_EL3,
    "ICC_NMIAR1_EL1": _NO_NMI, "ICV_NMIAR1_EL1": _NO_NMI,
}

# --- Distributor (IHI 0069 12.9) --------------------------------------------
GICD_CTLR_OFF = 0x0000
GICD_TYPER_OFF = 0x0004
GICD_IIDR_OFF = 0x0008
GICD_TYPER2_OFF = 0x000C
GICD_STATUSR_OFF = 0x0010
GICD_SETSPI_NSR_OFF = 0x0040
GICD_CLRSPI_NSR_OFF = 0x0048
GICD_SETSPI_SR_OFF = 0x0050
GICD_CLRSPI_SR_OFF = 0x0058
GICD_IGROUPR_OFF = 0x0080
GICD_ISENABLER_OFF = 0x0100
GICD_ICENABLER_OFF = 0x0180
GICD_ISPENDR_OFF = 0x0200
GICD_ICPENDR_OFF = 0x0280
GICD_ISACTIVER_OFF = 0x0300
GICD_ICACTIVER_OFF = 0x0380
GICD_IPRIORITYR_OFF = 0x0400
GICD_ITARGETSR_OFF = 0x0800
GICD_ICFGR_OFF = 0x0C00
GICD_IGRPMODR_OFF = 0x0D00
GICD_NSACR_OFF = 0x0E00
GICD_SGIR_OFF = 0x0F00
GICD_CPENDSGIR_OFF = 0x0F10
GICD_SPENDSGIR_OFF = 0x0F20
GICD_IROUTER_OFF = 0x6000
GICD_PIDR2_OFF = 0xFFE8
GICD_SIZE = 0x1_0000

GICD_CTLR = Register(
    "GICD_CTLR",
    Field("EnableGrp0", 0), Field("EnableGrp1", 1), Field("ARE", 4), Field("DS", 6),
    Field("E1NWF", 7), Field("RWP", 31))
GICD_TYPER = Register(
    "GICD_TYPER",
    Field("ITLinesNumber", 0, 5), Field("CPUNumber", 5, 3), Field("ESPI", 8),
    Field("SecurityExtn", 10), Field("num_LPIs", 11, 5), Field("MBIS", 16), Field("LPIS", 17),
    Field("DVIS", 18), Field("IDbits", 19, 5), Field("A3V", 24), Field("No1N", 25),
    Field("RSS", 26))
GICD_IROUTER = Register(
    "GICD_IROUTER",
    Field("Aff0", 0, 8), Field("Aff1", 8, 8), Field("Aff2", 16, 8),
    Field("Interrupt_Routing_Mode", 31), Field("Aff3", 32, 8), width=64)
GICD_SETSPI = Register("GICD_SETSPI_NSR", Field("INTID", 0, 13))

#: IMPDEF: implementer ARM (0x43B), as QEMU's GICv3 reports in GICD_IIDR/GICR_IIDR.
GIC_IIDR_VALUE = 0x0000_043B
#: GICD_PIDR2 / GICR_PIDR2: ArchRev [7:4] = 3 (GICv3), JEP106 bits as QEMU.
GIC_PIDR2_VALUE = 0x3B
#: The CoreSight ID block (PIDR4-7, PIDR0-3, CIDR0-3) at the top of GICD, GICR RD_base and
#: GITS: IMPDEF, as QEMU's GICv3 (Arm, GIC-500-like); PIDR0 is the part number per frame.
GIC_IDREGS_OFF = 0xFFD0
GICD_PIDR0_VALUE = 0x92
GICR_PIDR0_VALUE = 0x93
GITS_PIDR0_VALUE = 0x94
_IDREGS = (0x44, 0x00, 0x00, 0x00, -1, 0xB4, GIC_PIDR2_VALUE, 0x00, 0x0D, 0xF0, 0x05, 0xB1)
#: Names of the ID registers, in offset order from GIC_IDREGS_OFF.
GIC_IDREG_NAMES = ("PIDR4", "PIDR5", "PIDR6", "PIDR7", "PIDR0", "PIDR1", "PIDR2", "PIDR3",
                   "CIDR0", "CIDR1", "CIDR2", "CIDR3")


def id_register(offset: int, pidr0: int) -> int:
    """Value of the ID register at frame offset ``offset`` (0xFFD0..0xFFFC, word aligned)."""
    v = _IDREGS[(offset - GIC_IDREGS_OFF) >> 2]
    return pidr0 if v < 0 else v

# --- Redistributor (IHI 0069 12.11) -----------------------------------------
GICR_SGI_BASE = 0x1_0000
GICR_FRAME_SIZE = 0x2_0000
GICR_CTLR_OFF = 0x0000
GICR_IIDR_OFF = 0x0004
GICR_TYPER_OFF = 0x0008
GICR_STATUSR_OFF = 0x0010
GICR_WAKER_OFF = 0x0014
GICR_SETLPIR_OFF = 0x0040
GICR_CLRLPIR_OFF = 0x0048
GICR_PROPBASER_OFF = 0x0070
GICR_PENDBASER_OFF = 0x0078
GICR_INVLPIR_OFF = 0x00A0
GICR_INVALLR_OFF = 0x00B0
GICR_SYNCR_OFF = 0x00C0
GICR_PIDR2_OFF = 0xFFE8
# SGI_base frame (offsets relative to SGI_base).
GICR_IGROUPR0_OFF = 0x0080
GICR_ISENABLER0_OFF = 0x0100
GICR_ICENABLER0_OFF = 0x0180
GICR_ISPENDR0_OFF = 0x0200
GICR_ICPENDR0_OFF = 0x0280
GICR_ISACTIVER0_OFF = 0x0300
GICR_ICACTIVER0_OFF = 0x0380
GICR_IPRIORITYR_OFF = 0x0400
GICR_ICFGR0_OFF = 0x0C00
GICR_ICFGR1_OFF = 0x0C04
GICR_IGRPMODR0_OFF = 0x0D00
GICR_NSACR_OFF = 0x0E00

GICR_CTLR = Register(
    "GICR_CTLR",
    Field("EnableLPIs", 0), Field("CES", 1), Field("IR", 2), Field("RWP", 3),
    Field("DPG0", 24), Field("DPG1NS", 25), Field("DPG1S", 26), Field("UWP", 31))
GICR_TYPER = Register(
    "GICR_TYPER",
    Field("PLPIS", 0), Field("VLPIS", 1), Field("Dirty", 2), Field("DirectLPI", 3),
    Field("Last", 4), Field("DPGS", 5), Field("MPAM", 6), Field("RVPEID", 7),
    Field("Processor_Number", 8, 16), Field("CommonLPIAff", 24, 2), Field("VSGI", 26),
    Field("PPInum", 27, 5), Field("Affinity_Value", 32, 32), width=64)
GICR_WAKER = Register("GICR_WAKER", Field("ProcessorSleep", 1), Field("ChildrenAsleep", 2))
GICR_PROPBASER = Register(
    "GICR_PROPBASER",
    Field("IDbits", 0, 5), Field("InnerCache", 7, 3), Field("Shareability", 10, 2),
    Field("PhysicalAddress", 12, 40), Field("OuterCache", 56, 3), width=64)
GICR_PENDBASER = Register(
    "GICR_PENDBASER",
    Field("InnerCache", 7, 3), Field("Shareability", 10, 2),
    Field("PhysicalAddress", 16, 36), Field("OuterCache", 56, 3), Field("PTZ", 62), width=64)
GICR_LPIR = Register("GICR_SETLPIR", Field("pINTID", 0, 32), width=64)
GICR_SYNCR = Register("GICR_SYNCR", Field("Busy", 0))
#: Writable bits of PROPBASER / PENDBASER (PTZ is write-only: reads 0).
PROPBASER_RW_MASK = (GICR_PROPBASER.defined_mask)
PENDBASER_RW_MASK = (GICR_PENDBASER.defined_mask & ~GICR_PENDBASER.PTZ.in_place)

#: An LPI configuration table byte (IHI 0069 5.1.1): priority [7:2], enable [0].
LPI_CFG = Register("LPI_CFG", Field("Enable", 0), Field("Priority", 2, 6), width=8)
LPI_PRIORITY_MASK = 0xFC

# --- CPU interface (IHI 0069 12.2) ------------------------------------------
ICC_CTLR_EL1 = Register(
    "ICC_CTLR_EL1",
    Field("CBPR", 0), Field("EOImode", 1), Field("PMHE", 6), Field("PRIbits", 8, 3),
    Field("IDbits", 11, 3), Field("SEIS", 14), Field("A3V", 15), Field("RSS", 18),
    Field("ExtRange", 19), width=64)
#: Writable bits of ICC_CTLR_EL1 (the rest are read-only ID fields; PMHE is RAZ/WI, as QEMU).
ICC_CTLR_RW_MASK = ICC_CTLR_EL1.CBPR.in_place | ICC_CTLR_EL1.EOImode.in_place
#: ICC_SGI0R_EL1 / ICC_SGI1R_EL1 / ICC_ASGI1R_EL1 share one layout.
ICC_SGIR = Register(
    "ICC_SGI1R_EL1",
    Field("TargetList", 0, 16), Field("Aff1", 16, 8), Field("INTID", 24, 4),
    Field("Aff2", 32, 8), Field("IRM", 40), Field("RS", 44, 4), Field("Aff3", 48, 8), width=64)
ICC_SRE_EL1 = Register("ICC_SRE_EL1", Field("SRE", 0), Field("DFB", 1), Field("DIB", 2))
ICC_IGRPEN = Register("ICC_IGRPEN1_EL1", Field("Enable", 0))
ICC_INTID = Register("ICC_IAR1_EL1", Field("INTID", 0, 24), width=64)


def prio_mask(priority_bits: int) -> int:
    """The implemented bits of an 8-bit priority: ``priority_bits`` from the top."""
    return (0xFF << (8 - priority_bits)) & 0xFF


def min_bpr(preemption_bits: int) -> int:
    """Minimum ICC_BPR0_EL1 value (ICC_BPR1_EL1's is one more): ``7 - preemption_bits``."""
    return 7 - preemption_bits


def gprio_mask(bpr: int) -> int:
    """Group-priority mask for an effective binary point ``bpr`` (0..7): bits ``[7:bpr+1]``."""
    return (0xFF << (bpr + 1)) & 0xFF


def ap_bit(group_priority: int, preemption_bits: int) -> int:
    """Index of the active-priority bit (across AP<n>R0..3) for a group priority."""
    return group_priority >> (8 - preemption_bits)
