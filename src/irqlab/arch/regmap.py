"""Offset -> register name maps of the GIC and ITS frames, for events that name a register.

A :class:`RegMap` is built once per frame from ``(offset, count, stride, name)``
rows in the spec's spelling; :meth:`RegMap.name` turns an offset into
``GICD_IPRIORITYR10`` style names (``<name><n>`` for register arrays,
``<name>+0x2`` for an offset inside a register, ``reserved`` for none).  Pure.
"""

from __future__ import annotations

from bisect import bisect_right

from irqlab.arch import gicv2 as v2
from irqlab.arch import gicv3 as v3

__all__ = ["GICC", "GICD_V2", "GICD_V3", "GICH", "GICR_RD", "GICR_SGI", "GITS", "V2M", "RegMap"]

Row = tuple[int, int, int, str]


class RegMap:
    """Names of the registers of one frame, looked up by offset (bisect over sorted rows)."""

    __slots__ = ("_rows", "_starts")

    def __init__(self, rows: tuple[Row, ...]) -> None:
        self._rows = sorted(rows)
        self._starts = [r[0] for r in self._rows]

    def name(self, offset: int) -> str:
        """The register at ``offset``: ``NAME``, ``NAME<n>``, ``NAME+0x<k>`` or ``reserved``."""
        i = bisect_right(self._starts, offset) - 1
        if i < 0:
            return "reserved"
        start, count, stride, name = self._rows[i]
        rel = offset - start
        if rel >= count * stride:
            return "reserved"
        n, inner = divmod(rel, stride)
        out = f"{name}{n}" if count > 1 else name
        return f"{out}+{inner:#x}" if inner else out


GICD_V3 = RegMap((
    (v3.GICD_CTLR_OFF, 1, 4, "GICD_CTLR"), (v3.GICD_TYPER_OFF, 1, 4, "GICD_TYPER"),
    (v3.GICD_IIDR_OFF, 1, 4, "GICD_IIDR"), (v3.GICD_TYPER2_OFF, 1, 4, "GICD_TYPER2"),
    (v3.GICD_STATUSR_OFF, 1, 4, "GICD_STATUSR"),
    (v3.GICD_SETSPI_NSR_OFF, 1, 4, "GICD_SETSPI_NSR"),
    (v3.GICD_CLRSPI_NSR_OFF, 1, 4, "GICD_CLRSPI_NSR"),
    (v3.GICD_SETSPI_SR_OFF, 1, 4, "GICD_SETSPI_SR"),
    (v3.GICD_CLRSPI_SR_OFF, 1, 4, "GICD_CLRSPI_SR"),
    (v3.GICD_IGROUPR_OFF, 32, 4, "GICD_IGROUPR"), (v3.GICD_ISENABLER_OFF, 32, 4, "GICD_ISENABLER"),
    (v3.GICD_ICENABLER_OFF, 32, 4, "GICD_ICENABLER"), (v3.GICD_ISPENDR_OFF, 32, 4, "GICD_ISPENDR"),
    (v3.GICD_ICPENDR_OFF, 32, 4, "GICD_ICPENDR"), (v3.GICD_ISACTIVER_OFF, 32, 4, "GICD_ISACTIVER"),
    (v3.GICD_ICACTIVER_OFF, 32, 4, "GICD_ICACTIVER"),
    (v3.GICD_IPRIORITYR_OFF, 256, 4, "GICD_IPRIORITYR"),
    (v3.GICD_ITARGETSR_OFF, 256, 4, "GICD_ITARGETSR"), (v3.GICD_ICFGR_OFF, 64, 4, "GICD_ICFGR"),
    (v3.GICD_IGRPMODR_OFF, 32, 4, "GICD_IGRPMODR"), (v3.GICD_NSACR_OFF, 64, 4, "GICD_NSACR"),
    (v3.GICD_SGIR_OFF, 1, 4, "GICD_SGIR"), (v3.GICD_CPENDSGIR_OFF, 4, 4, "GICD_CPENDSGIR"),
    (v3.GICD_SPENDSGIR_OFF, 4, 4, "GICD_SPENDSGIR"),
    (v3.GICD_IROUTER_OFF, 1020, 8, "GICD_IROUTER"),
    *((v3.GIC_IDREGS_OFF + 4 * i, 1, 4, f"GICD_{n}") for i, n in enumerate(v3.GIC_IDREG_NAMES)),
))

GICR_RD = RegMap((
    (v3.GICR_CTLR_OFF, 1, 4, "GICR_CTLR"), (v3.GICR_IIDR_OFF, 1, 4, "GICR_IIDR"),
    (v3.GICR_TYPER_OFF, 1, 8, "GICR_TYPER"), (v3.GICR_STATUSR_OFF, 1, 4, "GICR_STATUSR"),
    (v3.GICR_WAKER_OFF, 1, 4, "GICR_WAKER"), (v3.GICR_SETLPIR_OFF, 1, 8, "GICR_SETLPIR"),
    (v3.GICR_CLRLPIR_OFF, 1, 8, "GICR_CLRLPIR"), (v3.GICR_PROPBASER_OFF, 1, 8, "GICR_PROPBASER"),
    (v3.GICR_PENDBASER_OFF, 1, 8, "GICR_PENDBASER"), (v3.GICR_INVLPIR_OFF, 1, 8, "GICR_INVLPIR"),
    (v3.GICR_INVALLR_OFF, 1, 8, "GICR_INVALLR"), (v3.GICR_SYNCR_OFF, 1, 4, "GICR_SYNCR"),
    *((v3.GIC_IDREGS_OFF + 4 * i, 1, 4, f"GICR_{n}") for i, n in enumerate(v3.GIC_IDREG_NAMES)),
))

#: SGI_base frame; offsets relative to SGI_base.
GICR_SGI = RegMap((
    (v3.GICR_IGROUPR0_OFF, 1, 4, "GICR_IGROUPR0"),
    (v3.GICR_ISENABLER0_OFF, 1, 4, "GICR_ISENABLER0"),
    (v3.GICR_ICENABLER0_OFF, 1, 4, "GICR_ICENABLER0"),
    (v3.GICR_ISPENDR0_OFF, 1, 4, "GICR_ISPENDR0"), (v3.GICR_ICPENDR0_OFF, 1, 4, "GICR_ICPENDR0"),
    (v3.GICR_ISACTIVER0_OFF, 1, 4, "GICR_ISACTIVER0"),
    (v3.GICR_ICACTIVER0_OFF, 1, 4, "GICR_ICACTIVER0"),
    (v3.GICR_IPRIORITYR_OFF, 8, 4, "GICR_IPRIORITYR"),
    (v3.GICR_ICFGR0_OFF, 1, 4, "GICR_ICFGR0"), (v3.GICR_ICFGR1_OFF, 1, 4, "GICR_ICFGR1"),
    (v3.GICR_IGRPMODR0_OFF, 1, 4, "GICR_IGRPMODR0"), (v3.GICR_NSACR_OFF, 1, 4, "GICR_NSACR"),
))

#: Control frame and translation frame (offsets relative to the ITS base).
GITS = RegMap((
    (0x0000, 1, 4, "GITS_CTLR"), (0x0004, 1, 4, "GITS_IIDR"), (0x0008, 1, 8, "GITS_TYPER"),
    (0x0080, 1, 8, "GITS_CBASER"), (0x0088, 1, 8, "GITS_CWRITER"), (0x0090, 1, 8, "GITS_CREADR"),
    (0x0100, 8, 8, "GITS_BASER"), (0x1_0040, 1, 4, "GITS_TRANSLATER"),
    *((v3.GIC_IDREGS_OFF + 4 * i, 1, 4, f"GITS_{n}") for i, n in enumerate(v3.GIC_IDREG_NAMES)),
))

GICD_V2 = RegMap((
    (v2.GICD_CTLR_OFF, 1, 4, "GICD_CTLR"), (v2.GICD_TYPER_OFF, 1, 4, "GICD_TYPER"),
    (v2.GICD_IIDR_OFF, 1, 4, "GICD_IIDR"),
    (v2.GICD_IGROUPR_OFF, 32, 4, "GICD_IGROUPR"), (v2.GICD_ISENABLER_OFF, 32, 4, "GICD_ISENABLER"),
    (v2.GICD_ICENABLER_OFF, 32, 4, "GICD_ICENABLER"), (v2.GICD_ISPENDR_OFF, 32, 4, "GICD_ISPENDR"),
    (v2.GICD_ICPENDR_OFF, 32, 4, "GICD_ICPENDR"), (v2.GICD_ISACTIVER_OFF, 32, 4, "GICD_ISACTIVER"),
    (v2.GICD_ICACTIVER_OFF, 32, 4, "GICD_ICACTIVER"),
    (v2.GICD_IPRIORITYR_OFF, 255, 4, "GICD_IPRIORITYR"),
    (v2.GICD_ITARGETSR_OFF, 255, 4, "GICD_ITARGETSR"), (v2.GICD_ICFGR_OFF, 64, 4, "GICD_ICFGR"),
    (v2.GICD_NSACR_OFF, 64, 4, "GICD_NSACR"), (v2.GICD_SGIR_OFF, 1, 4, "GICD_SGIR"),
    (v2.GICD_CPENDSGIR_OFF, 4, 4, "GICD_CPENDSGIR"),
    (v2.GICD_SPENDSGIR_OFF, 4, 4, "GICD_SPENDSGIR"),
    (0xFD0, 4, 4, "GICD_PIDR4-7"), (0xFE0, 4, 4, "GICD_PIDR"), (0xFF0, 4, 4, "GICD_CIDR"),
))

#: GICC layout, also the GICV frame's.
GICC = RegMap((
    (v2.GICC_CTLR_OFF, 1, 4, "GICC_CTLR"), (v2.GICC_PMR_OFF, 1, 4, "GICC_PMR"),
    (v2.GICC_BPR_OFF, 1, 4, "GICC_BPR"), (v2.GICC_IAR_OFF, 1, 4, "GICC_IAR"),
    (v2.GICC_EOIR_OFF, 1, 4, "GICC_EOIR"), (v2.GICC_RPR_OFF, 1, 4, "GICC_RPR"),
    (v2.GICC_HPPIR_OFF, 1, 4, "GICC_HPPIR"), (v2.GICC_ABPR_OFF, 1, 4, "GICC_ABPR"),
    (v2.GICC_AIAR_OFF, 1, 4, "GICC_AIAR"), (v2.GICC_AEOIR_OFF, 1, 4, "GICC_AEOIR"),
    (v2.GICC_AHPPIR_OFF, 1, 4, "GICC_AHPPIR"), (v2.GICC_APR_OFF, 4, 4, "GICC_APR"),
    (v2.GICC_NSAPR_OFF, 4, 4, "GICC_NSAPR"), (v2.GICC_IIDR_OFF, 1, 4, "GICC_IIDR"),
    (v2.GICC_DIR_OFF, 1, 4, "GICC_DIR"),
))

GICH = RegMap((
    (v2.GICH_HCR_OFF, 1, 4, "GICH_HCR"), (v2.GICH_VTR_OFF, 1, 4, "GICH_VTR"),
    (v2.GICH_VMCR_OFF, 1, 4, "GICH_VMCR"), (v2.GICH_MISR_OFF, 1, 4, "GICH_MISR"),
    (v2.GICH_EISR0_OFF, 2, 4, "GICH_EISR"), (v2.GICH_ELRSR0_OFF, 2, 4, "GICH_ELRSR"),
    (v2.GICH_APR_OFF, 1, 4, "GICH_APR"), (v2.GICH_LR_OFF, 64, 4, "GICH_LR"),
))

V2M = RegMap((
    (v2.MSI_TYPER_OFF, 1, 4, "MSI_TYPER"), (v2.MSI_SETSPI_NS_OFF, 1, 4, "MSI_SETSPI_NS"),
    (v2.MSI_IIDR_OFF, 1, 4, "MSI_IIDR"),
))
