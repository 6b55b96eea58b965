"""GICv2 register map and field tables (IHI 0048B), the virtualization extensions and GICv2m.

Offsets are relative to their frame: ``GICD_*`` to the Distributor base,
``GICC_*`` to the CPU interface base, ``GICH_*`` to the virtual interface
control base and ``GICV_*`` to the virtual CPU interface base (the GICV frame
has the GICC layout).  ``MSI_*`` are the GICv2m frame registers (ARM's
"Server Base System Architecture" GICv2m, as QEMU's ``arm-gicv2m`` and Linux's
``irq-gic-v2m.c`` know them).
"""

from __future__ import annotations

from irqlab.arch.fields import Field, Register

__all__ = [
    "GICC_CTLR", "GICC_IAR", "GICD_CTLR", "GICD_SGIR", "GICD_TYPER", "GICH_HCR", "GICH_LR",
    "GICH_LR_SW", "GICH_MISR", "GICH_VMCR", "GICH_VTR", "MSI_TYPER",
]

SGI_COUNT = 16
GIC_INTERNAL = 32
#: First special INTID (1020..1023 are never acknowledged); 1022/1023 are returned by IAR.
INTID_SPECIAL = 1020
INTID_GROUP1_ONLY = 1022
INTID_SPURIOUS = 1023

# --- Distributor (IHI 0048B 4.3) ----------------------------------------------
GICD_CTLR_OFF = 0x000
GICD_TYPER_OFF = 0x004
GICD_IIDR_OFF = 0x008
GICD_IGROUPR_OFF = 0x080
GICD_ISENABLER_OFF = 0x100
GICD_ICENABLER_OFF = 0x180
GICD_ISPENDR_OFF = 0x200
GICD_ICPENDR_OFF = 0x280
GICD_ISACTIVER_OFF = 0x300
GICD_ICACTIVER_OFF = 0x380
GICD_IPRIORITYR_OFF = 0x400
GICD_ITARGETSR_OFF = 0x800
GICD_ICFGR_OFF = 0xC00
GICD_NSACR_OFF = 0xE00
GICD_SGIR_OFF = 0xF00
GICD_CPENDSGIR_OFF = 0xF10
GICD_SPENDSGIR_OFF = 0xF20
GICD_ID_OFF = 0xFD0  # PIDR4..7, PIDR0..3, CIDR0..3
GICD_SIZE = 0x1000

#: GICv2 without the Security Extensions: the register has the Secure copy's format.
GICD_CTLR = Register("GICD_CTLR", Field("EnableGrp0", 0), Field("EnableGrp1", 1))
GICD_TYPER = Register(
    "GICD_TYPER",
    Field("ITLinesNumber", 0, 5), Field("CPUNumber", 5, 3), Field("SecurityExtn", 10),
    Field("LSPI", 11, 5))
GICD_SGIR = Register(
    "GICD_SGIR",
    Field("SGIINTID", 0, 4), Field("NSATT", 15), Field("CPUTargetList", 16, 8),
    Field("TargetListFilter", 24, 2))
#: TargetListFilter values.
SGIR_FILTER_LIST = 0
SGIR_FILTER_ALL_BUT_SELF = 1
SGIR_FILTER_SELF = 2

#: IMPDEF choice, as QEMU's arm_gic: Arm implementer (0x43B), ProductID 0, and in
#: GICC_IIDR (also GICV_IIDR) ArchVersion 2.  (A GIC-400 reports 0x0200143B / 0x0202143B.)
GICD_IIDR_VALUE = 0x0000_043B
GICC_IIDR_VALUE = 0x0002_043B
#: PIDR4..7, PIDR0..3, CIDR0..3 as QEMU's GICv2 reports them (PIDR2.ArchRev = 2).
GICD_ID_VALUES = (0x04, 0x00, 0x00, 0x00, 0x90, 0xB4, 0x2B, 0x00, 0x0D, 0xF0, 0x05, 0xB1)

# --- CPU interface (IHI 0048B 4.4); GICV has the same layout (5.6) ------------
GICC_CTLR_OFF = 0x00
GICC_PMR_OFF = 0x04
GICC_BPR_OFF = 0x08
GICC_IAR_OFF = 0x0C
GICC_EOIR_OFF = 0x10
GICC_RPR_OFF = 0x14
GICC_HPPIR_OFF = 0x18
GICC_ABPR_OFF = 0x1C
GICC_AIAR_OFF = 0x20
GICC_AEOIR_OFF = 0x24
GICC_AHPPIR_OFF = 0x28
GICC_APR_OFF = 0xD0  # APR0..3
GICC_NSAPR_OFF = 0xE0  # NSAPR0..3
GICC_IIDR_OFF = 0xFC
GICC_DIR_OFF = 0x1000
GICC_SIZE = 0x2000

#: GICv2 without the Security Extensions: the Secure copy's format.  All
#: accesses are Secure, so EOImodeS (bit 9) is the mode that applies.
GICC_CTLR = Register(
    "GICC_CTLR",
    Field("EnableGrp0", 0), Field("EnableGrp1", 1), Field("AckCtl", 2), Field("FIQEn", 3),
    Field("CBPR", 4), Field("FIQBypDisGrp0", 5), Field("IRQBypDisGrp0", 6),
    Field("FIQBypDisGrp1", 7), Field("IRQBypDisGrp1", 8), Field("EOImodeS", 9),
    Field("EOImodeNS", 10))
GICC_IAR = Register("GICC_IAR", Field("InterruptID", 0, 10), Field("CPUID", 10, 3))

# --- Virtual interface control (IHI 0048B 5.3) --------------------------------
GICH_HCR_OFF = 0x00
GICH_VTR_OFF = 0x04
GICH_VMCR_OFF = 0x08
GICH_MISR_OFF = 0x10
GICH_EISR0_OFF = 0x20
GICH_EISR1_OFF = 0x24
GICH_ELRSR0_OFF = 0x30
GICH_ELRSR1_OFF = 0x34
GICH_APR_OFF = 0xF0
GICH_LR_OFF = 0x100  # LR0..63
GICH_SIZE = 0x200

GICH_HCR = Register(
    "GICH_HCR",
    Field("En", 0), Field("UIE", 1), Field("LRENPIE", 2), Field("NPIE", 3),
    Field("VGrp0EIE", 4), Field("VGrp0DIE", 5), Field("VGrp1EIE", 6), Field("VGrp1DIE", 7),
    Field("EOICount", 27, 5))
GICH_VTR = Register(
    "GICH_VTR", Field("ListRegs", 0, 6), Field("PREbits", 26, 3), Field("PRIbits", 29, 3))
GICH_VMCR = Register(
    "GICH_VMCR",
    Field("VMGrp0En", 0), Field("VMGrp1En", 1), Field("VMAckCtl", 2), Field("VMFIQEn", 3),
    Field("VMCBPR", 4), Field("VEM", 9), Field("VMABP", 18, 3), Field("VMBP", 21, 3),
    Field("VMPriMask", 27, 5))
GICH_MISR = Register(
    "GICH_MISR",
    Field("EOI", 0), Field("U", 1), Field("LRENP", 2), Field("NP", 3), Field("VGrp0E", 4),
    Field("VGrp0D", 5), Field("VGrp1E", 6), Field("VGrp1D", 7))
#: A list register.  PhysicalID is the physical INTID when HW=1.
GICH_LR = Register(
    "GICH_LR",
    Field("VirtualID", 0, 10), Field("PhysicalID", 10, 10), Field("Priority", 23, 5),
    Field("State", 28, 2), Field("Grp1", 30), Field("HW", 31))
#: The same register when HW=0: PhysicalID holds the SGI source CPUID and the EOI bit.
GICH_LR_SW = Register(
    "GICH_LR",
    Field("VirtualID", 0, 10), Field("CPUID", 10, 3), Field("EOI", 19), Field("Priority", 23, 5),
    Field("State", 28, 2), Field("Grp1", 30), Field("HW", 31))
#: Bits of GICH_LR that hold state (the rest, [22:20], is reserved: RAZ/WI).
GICH_LR_WRITABLE = (GICH_LR.defined_mask)

# --- GICv2m MSI frame ------------------------------------------------------------
MSI_TYPER_OFF = 0x008
MSI_SETSPI_NS_OFF = 0x040
MSI_IIDR_OFF = 0xFCC
V2M_SIZE = 0x1000
MSI_TYPER = Register("MSI_TYPER", Field("Number", 0, 10), Field("BaseSPI", 16, 10))
#: QEMU ``virt``: the v2m frame owns SPIs 48..111 (INTIDs 80..143), 64 of them.
V2M_BASE_SPI = 48
V2M_NUM_SPIS = 64
#: IMPDEF choice: MSI_IIDR reads as QEMU's arm-gicv2m: ProductID 0x51 ('Q') in [31:20].
MSI_IIDR_VALUE = 0x51 << 20
