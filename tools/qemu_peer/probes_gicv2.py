"""GICv2 probes: reset values, writable bits, flows, access sizes."""

from __future__ import annotations

from common import GICC, GICD, N_IRQ, ONES, V2, S
from peer import Op


def gicv2_id() -> tuple[dict, list[Op]]:
    """GICv2 reset values: GICD, GICC (CPU 0's bank), the ID registers, ICC sysregs."""
    s = S()
    for off in range(0, 0x1000, 4):
        s.r(GICD + off, note=f"GICD+{off:#x}")
    for off in (*range(0, 0x100, 4), 0x1000, 0x1004, 0x1FFC):
        s.r(GICC + off, note=f"GICC+{off:#x}")
    s.r(0x0802_0000 + 0x008, note="MSI_TYPER")
    s.r(0x0802_0000 + 0xFCC, note="MSI_IIDR")
    s.sr("ICC_SRE_EL1", "no system register interface")
    s.sr("ISR_EL1")
    return V2, s.ops


def gicv2_rw() -> tuple[dict, list[Op]]:
    """GICv2 RAZ/WI, RO and RW bits: all-ones, read back, zero, read back."""
    s = S()
    s.probe(GICD + 0x0, "GICD_CTLR")
    for off, name in ((0x4, "TYPER"), (0x8, "IIDR"), (0xFE8, "PIDR2")):
        s.probe(GICD + off, f"GICD_{name}")
    words = N_IRQ // 32
    for base, name in ((0x80, "IGROUPR"), (0x100, "ISENABLER"), (0x180, "ICENABLER"),
                       (0x200, "ISPENDR"), (0x280, "ICPENDR"), (0x300, "ISACTIVER"),
                       (0x380, "ICACTIVER")):
        for n in range(words + 1):
            s.w(GICD + base + 4 * n, ONES, note=f"GICD_{name}{n} <- ones")
        for n in range(words + 1):
            s.r(GICD + base + 4 * n, note=f"GICD_{name}{n}")
        for n in (0, 1):
            s.r(GICD + 0x100 + 4 * n, note=f"GICD_ISENABLER{n}")
            s.r(GICD + 0x200 + 4 * n, note=f"GICD_ISPENDR{n}")
            s.r(GICD + 0x300 + 4 * n, note=f"GICD_ISACTIVER{n}")
    for n in [*range(10), N_IRQ // 4 - 1, N_IRQ // 4]:
        s.probe(GICD + 0x400 + 4 * n, f"GICD_IPRIORITYR{n}")
        s.probe(GICD + 0x800 + 4 * n, f"GICD_ITARGETSR{n}")
    for n in range(N_IRQ // 16 + 1):
        s.probe(GICD + 0xC00 + 4 * n, f"GICD_ICFGR{n}")
    for n in range(4):
        s.probe(GICD + 0xE00 + 4 * n, f"GICD_NSACR{n}")
    for n in range(4):
        s.w(GICD + 0xF20 + 4 * n, ONES, note=f"GICD_SPENDSGIR{n} <- ones")
        s.r(GICD + 0xF20 + 4 * n, note=f"GICD_SPENDSGIR{n}")
        s.r(GICD + 0x200, note="GICD_ISPENDR0")
    for n in range(4):
        s.w(GICD + 0xF10 + 4 * n, ONES, note=f"GICD_CPENDSGIR{n} <- ones")
        s.r(GICD + 0xF10 + 4 * n, note=f"GICD_CPENDSGIR{n}")
        s.r(GICD + 0xF20 + 4 * n, note=f"GICD_SPENDSGIR{n}")
        s.r(GICD + 0x200, note="GICD_ISPENDR0")
    s.w(GICD + 0x280, ONES, note="GICD_ICPENDR0 <- ones")
    for off, name in ((0x0, "CTLR"), (0x4, "PMR"), (0x8, "BPR"), (0x1C, "ABPR"),
                      (0x14, "RPR"), (0x18, "HPPIR"), (0x28, "AHPPIR"), (0xFC, "IIDR"),
                      *((0xD0 + 4 * n, f"APR{n}") for n in range(4)),
                      *((0xE0 + 4 * n, f"NSAPR{n}") for n in range(4))):
        s.probe(GICC + off, f"GICC_{name}")
    for v in range(8):
        s.w(GICC + 0x8, v, note=f"GICC_BPR <- {v}")
        s.r(GICC + 0x8, note="GICC_BPR")
        s.w(GICC + 0x1C, v, note=f"GICC_ABPR <- {v}")
        s.r(GICC + 0x1C, note="GICC_ABPR")
    for v in (0x80, 0x81, 0x87, 0x88, 0xF0, 0xF8, 0xFF):
        s.w(GICC + 0x4, v, note=f"GICC_PMR <- {v:#x}")
        s.r(GICC + 0x4, note="GICC_PMR")
    return V2, s.ops


def _v2_state(s: S) -> None:
    s.sr("ISR_EL1")
    # GICC_AIAR/AEOIR/AHPPIR are left out: QEMU 7.2 implements them only with the
    # Security Extensions (gicv2_id reads them once).
    for off, name in ((0x18, "HPPIR"), (0x14, "RPR"), (0xD0, "APR0"), (0xE0, "NSAPR0")):
        s.r(GICC + off, note=f"GICC_{name}")


def gicv2_flow() -> tuple[dict, list[Op]]:
    """GICv2 flows: SPI by ISPENDR, groups and AckCtl, preemption, EOImode, SGIs."""
    s = S()
    s.w(GICD + 0x0, 0x3, note="GICD_CTLR <- EnableGrp0|EnableGrp1")
    s.w(GICC + 0x4, 0xFF, note="GICC_PMR <- 0xff")
    s.w(GICC + 0x0, 0x3, note="GICC_CTLR <- EnableGrp0|EnableGrp1")
    s.w(GICD + 0x428, 0x00A0_6080, note="GICD_IPRIORITYR10 <- 40:0x80 41:0x60 42:0xa0")
    s.w(GICD + 0x828, 0x0101_0101, note="GICD_ITARGETSR10 <- CPU 0")
    s.r(GICD + 0x828, note="GICD_ITARGETSR10")
    s.w(GICD + 0x204, 1 << 8, note="GICD_ISPENDR1 <- SPI 40")
    _v2_state(s)
    s.w(GICD + 0x104, 1 << 8, note="GICD_ISENABLER1 <- SPI 40")
    _v2_state(s)
    s.w(GICC + 0x4, 0x80, note="GICC_PMR <- 0x80: masked")
    s.sr("ISR_EL1")
    s.r(GICC + 0x18, note="GICC_HPPIR (PMR masks the HPPI)")
    s.r(GICC + 0xC, note="GICC_IAR masked")
    s.w(GICC + 0x4, 0xFF, note="GICC_PMR <- 0xff")
    s.r(GICC + 0xC, note="GICC_IAR: acknowledge 40 (group 0)")
    _v2_state(s)
    s.r(GICD + 0x304, note="GICD_ISACTIVER1")
    s.w(GICD + 0x104, 1 << 9 | 1 << 10, note="GICD_ISENABLER1 <- 41, 42")
    s.w(GICD + 0x204, 1 << 9 | 1 << 10, note="GICD_ISPENDR1 <- 41, 42")
    _v2_state(s)
    s.r(GICC + 0xC, note="GICC_IAR: 41 preempts")
    _v2_state(s)
    s.r(GICC + 0xC, note="GICC_IAR: 42 does not")
    s.w(GICC + 0x10, 41, note="GICC_EOIR 41")
    _v2_state(s)
    s.w(GICC + 0x10, 40, note="GICC_EOIR 40")
    _v2_state(s)
    s.r(GICC + 0xC, note="GICC_IAR: 42")
    s.w(GICC + 0x10, 42, note="GICC_EOIR 42")
    s.w(GICC + 0x10, 42, note="GICC_EOIR 42 again (nothing active)")
    _v2_state(s)
    # group 1 SPI 43 without / with AckCtl
    s.w(GICD + 0x84, 1 << 11, note="GICD_IGROUPR1 <- 43 group 1")
    s.r(GICD + 0x84, note="GICD_IGROUPR1")
    s.w(GICD + 0x42B, 0x50, 1, "GICD_IPRIORITYR10 byte 3 <- 43:0x50")
    s.w(GICD + 0x82C, 0x01, note="GICD_ITARGETSR11 <- CPU 0")
    s.w(GICD + 0x104, 1 << 11, note="GICD_ISENABLER1 <- 43")
    s.w(GICD + 0x204, 1 << 11, note="GICD_ISPENDR1 <- 43")
    _v2_state(s)
    s.r(GICC + 0xC, note="GICC_IAR group 1 without AckCtl")
    s.r(GICD + 0x304, note="GICD_ISACTIVER1")
    s.w(GICD + 0x284, 1 << 11, note="GICD_ICPENDR1 <- 43")
    s.w(GICC + 0x0, 0x7, note="GICC_CTLR <- AckCtl")
    s.w(GICD + 0x204, 1 << 11, note="GICD_ISPENDR1 <- 43")
    s.r(GICC + 0xC, note="GICC_IAR group 1 with AckCtl")
    _v2_state(s)
    s.w(GICC + 0x10, 43, note="GICC_EOIR 43")
    _v2_state(s)
    s.w(GICC + 0x0, 0xB, note="GICC_CTLR <- FIQEn")
    s.w(GICD + 0x204, 1 << 8, note="GICD_ISPENDR1 <- 40 (group 0)")
    _v2_state(s)
    s.r(GICC + 0xC, note="GICC_IAR 40")
    s.w(GICC + 0x10, 40, note="GICC_EOIR 40")
    # EOImodeS
    s.w(GICC + 0x0, 0x203, note="GICC_CTLR <- EOImodeS")
    s.r(GICC + 0x0, note="GICC_CTLR")
    s.w(GICD + 0x204, 1 << 8, note="GICD_ISPENDR1 <- 40")
    s.r(GICC + 0xC, note="GICC_IAR 40")
    s.w(GICC + 0x10, 40, note="GICC_EOIR 40 (drop only)")
    _v2_state(s)
    s.r(GICD + 0x304, note="GICD_ISACTIVER1")
    s.w(GICC + 0x1000, 40, note="GICC_DIR 40")
    s.r(GICD + 0x304, note="GICD_ISACTIVER1")
    s.w(GICC + 0x0, 0x3, note="GICC_CTLR <- EOImodeS=0")
    s.w(GICD + 0x304, 1 << 8, note="GICD_ISACTIVER1 <- 40")
    s.w(GICC + 0x1000, 40, note="GICC_DIR with EOImodeS=0")
    s.r(GICD + 0x304, note="GICD_ISACTIVER1")
    s.w(GICD + 0x384, ONES, note="GICD_ICACTIVER1 <- ones")
    # SGIs
    s.w(GICD + 0x400, 0x1020_3040, note="GICD_IPRIORITYR0")
    s.w(GICD + 0xF00, 0x0001_0003, note="GICD_SGIR: SGI 3 to CPU 0")
    s.r(GICD + 0x200, note="GICD_ISPENDR0")
    s.r(GICD + 0xF20, note="GICD_SPENDSGIR0")
    _v2_state(s)
    s.r(GICC + 0xC, note="GICC_IAR SGI 3 (CPUID 0)")
    s.w(GICC + 0x10, 3, note="GICC_EOIR SGI 3")
    s.w(GICD + 0xF00, 0x0101_0005, note="GICD_SGIR: SGI 5 filter 1 (others)")
    s.r(GICD + 0x200, note="GICD_ISPENDR0")
    s.w(GICD + 0xF00, 0x0200_0006, note="GICD_SGIR: SGI 6 filter 2 (self)")
    s.r(GICD + 0x200, note="GICD_ISPENDR0")
    s.r(GICD + 0xF24, note="GICD_SPENDSGIR1")
    s.r(GICC + 0xC, note="GICC_IAR SGI 6")
    s.w(GICC + 0x10, 6, note="GICC_EOIR SGI 6")
    s.w(GICD + 0xF00, 0x0300_0007, note="GICD_SGIR: SGI 7 filter 3 (reserved)")
    s.r(GICD + 0x200, note="GICD_ISPENDR0")
    s.w(GICD + 0xF00, 0x000E_0008, note="GICD_SGIR: SGI 8 to CPUs 1-3")
    s.r(GICD + 0x200, note="GICD_ISPENDR0")
    s.w(GICD + 0xF00, 0x0080_8009, note="GICD_SGIR: SGI 9 NSATT=1 to CPU 7 (absent)")
    s.r(GICD + 0x200, note="GICD_ISPENDR0")
    s.w(GICD + 0xF00, 0x0001_800A, note="GICD_SGIR: SGI 10 NSATT=1 to CPU 0")
    s.r(GICD + 0x200, note="GICD_ISPENDR0")
    s.r(GICD + 0xF28, note="GICD_SPENDSGIR2")
    _v2_state(s)
    # (SPENDSGIR-made SGIs are not acknowledged here: QEMU 7.2 reports the wrong INTID
    # in GICC_HPPIR for them and acknowledging one trips an assertion in arm_gic.c.)
    s.r(GICC + 0xC, note="GICC_IAR SGI 7")
    s.w(GICC + 0x10, 7, note="GICC_EOIR SGI 7")
    s.r(GICC + 0xC, note="GICC_IAR SGI 10")
    s.w(GICC + 0x10, 10, note="GICC_EOIR SGI 10")
    s.w(GICD + 0xF10, ONES, note="GICD_CPENDSGIR0 <- ones")
    s.w(GICD + 0xF18, ONES, note="GICD_CPENDSGIR2 <- ones")
    s.w(GICD + 0x280, ONES, note="GICD_ICPENDR0 <- ones")
    s.r(GICD + 0xF20, note="GICD_SPENDSGIR0")
    s.r(GICD + 0xF28, note="GICD_SPENDSGIR2")
    s.w(GICD + 0x380, ONES, note="GICD_ICACTIVER0 <- ones")
    _v2_state(s)
    # BPR preemption
    s.w(GICD + 0x104, 1 << 12 | 1 << 13, note="GICD_ISENABLER1 <- 44, 45")
    s.w(GICD + 0x42C, 0x0000_4850, note="GICD_IPRIORITYR11 <- 44:0x50 45:0x48")
    s.w(GICD + 0x82C, 0x0101_0101, note="GICD_ITARGETSR11 <- CPU 0")
    s.w(GICD + 0x204, 1 << 12, note="GICD_ISPENDR1 <- 44")
    s.r(GICC + 0xC, note="GICC_IAR 44")
    s.w(GICC + 0x8, 4, note="GICC_BPR <- 4")
    s.w(GICD + 0x204, 1 << 13, note="GICD_ISPENDR1 <- 45")
    _v2_state(s)
    s.r(GICC + 0xC, note="GICC_IAR 45 does not preempt with BPR 4")
    s.w(GICC + 0x8, 2, note="GICC_BPR <- 2")
    _v2_state(s)
    s.r(GICC + 0xC, note="GICC_IAR 45 preempts with BPR 2")
    _v2_state(s)
    s.w(GICC + 0x10, 45, note="GICC_EOIR 45")
    s.w(GICC + 0x10, 44, note="GICC_EOIR 44")
    _v2_state(s)
    # targets
    s.w(GICD + 0x830, 0x02, note="GICD_ITARGETSR12 <- 44:CPU 1")
    s.w(GICD + 0x204, 1 << 12, note="GICD_ISPENDR1 <- 44")
    _v2_state(s)
    s.w(GICD + 0x830, 0x03, note="GICD_ITARGETSR12 <- 44:CPU 0,1")
    _v2_state(s)
    s.r(GICC + 0xC, note="GICC_IAR 44")
    s.w(GICC + 0x10, 44, note="GICC_EOIR 44")
    s.w(GICD + 0x0, 0x0, note="GICD_CTLR <- 0")
    s.w(GICD + 0x204, 1 << 12, note="GICD_ISPENDR1 <- 44")
    _v2_state(s)
    s.r(GICC + 0xC, note="GICC_IAR with the distributor off")
    # BPR 7 (no group priority bits) while an interrupt is active
    s.w(GICD + 0x0, 0x3, note="GICD_CTLR <- EnableGrp0|EnableGrp1")
    s.w(GICC + 0x8, 2, note="GICC_BPR <- 2")
    s.w(GICD + 0x830, 0x01, note="GICD_ITARGETSR12 <- 44:CPU 0")
    s.r(GICC + 0xC, note="GICC_IAR 44")
    s.w(GICC + 0x8, 7, note="GICC_BPR <- 7")
    s.w(GICD + 0x204, 1 << 13, note="GICD_ISPENDR1 <- 45")
    s.sr("ISR_EL1", "BPR 7: 45 signalled?")
    s.r(GICC + 0xC, note="GICC_IAR with BPR 7")
    s.r(GICC + 0x14, note="GICC_RPR with BPR 7")
    return V2, s.ops


def gicv2_sizes() -> tuple[dict, list[Op]]:
    """GICv2 byte and halfword accesses (QEMU splits GICD accesses into bytes)."""
    s = S()
    for size in (1, 2):
        for off, name in ((0x4, "TYPER"), (0x104, "ISENABLER1"), (0x420, "IPRIORITYR8"),
                          (0x820, "ITARGETSR8"), (0xC08, "ICFGR2"), (0xFE8, "PIDR2")):
            s.r(GICD + off, size, f"GICD_{name} ({size * 8}-bit)")
    for off in range(0x420, 0x424):
        s.w(GICD + off, 0x10 + off, 1, f"GICD_IPRIORITYR byte {off:#x}")
        s.r(GICD + off, 1, f"GICD_IPRIORITYR byte {off:#x}")
    s.r(GICD + 0x420, note="GICD_IPRIORITYR8")
    for off in range(0x820, 0x824):
        s.w(GICD + off, 0x0F, 1, f"GICD_ITARGETSR byte {off:#x}")
    s.r(GICD + 0x820, note="GICD_ITARGETSR8")
    s.w(GICD + 0xF21, 0x3, 1, "GICD_SPENDSGIR byte 1")
    s.r(GICD + 0xF20, note="GICD_SPENDSGIR0")
    s.w(GICD + 0xF11, 0x1, 1, "GICD_CPENDSGIR byte 1")
    s.r(GICD + 0xF20, note="GICD_SPENDSGIR0")
    for size in (1, 2):
        for off, name in ((0x0, "CTLR"), (0x4, "PMR"), (0xFC, "IIDR")):
            s.r(GICC + off, size, f"GICC_{name} ({size * 8}-bit)")
    s.w(GICC + 0x4, 0xFF, 1, "GICC_PMR <- byte")
    s.r(GICC + 0x4, note="GICC_PMR")
    return V2, s.ops


def gicv2_reserved() -> tuple[dict, list[Op]]:
    """Reserved offsets of the GICv2 frames: read, write all-ones, read again."""
    s = S()
    for base, name, offs in ((GICD, "GICD", (0xC, 0x10, 0x40, 0x7C, 0xD00, 0xD04, 0xDFC,
                                              0xF04, 0xF30, 0xFCC, 0x1000, 0x2000, 0xF000)),
                             (GICC, "GICC", (0x2C, 0x30, 0x40, 0xCC, 0xF0, 0xF8, 0x100, 0x800,
                                             0xFF8, 0x1004, 0x1800, 0x1FFC))):
        for off in offs:
            s.r(base + off, note=f"{name}+{off:#x}")
            s.w(base + off, ONES, note=f"{name}+{off:#x} <- ones")
            s.r(base + off, note=f"{name}+{off:#x}")
    return V2, s.ops


def gicv2_v2m() -> tuple[dict, list[Op]]:
    """GICv2m: MSI_SETSPI_NS on level- and edge-configured SPIs, sizes, out-of-range SPIs."""
    s = S()
    v2m = 0x0802_0000
    s.w(GICD + 0x0, 0x3, note="GICD_CTLR <- EnableGrp0|EnableGrp1")
    s.w(GICC + 0x0, 0x3, note="GICC_CTLR <- EnableGrp0|EnableGrp1")
    s.w(GICC + 0x4, 0xFF, note="GICC_PMR <- 0xff")
    for off in range(0x850, 0x868, 4):  # SPIs 80..103 target CPU 0 (QEMU: pending per target)
        s.w(GICD + off, 0x0101_0101, note="GICD_ITARGETSR <- CPU 0")
    s.w(GICD + 0x108, ONES, note="GICD_ISENABLER2 <- ones")
    s.r(GICD + 0xC14, note="GICD_ICFGR5 (SPIs 80-95, level)")
    s.w(v2m + 0x40, 80, note="MSI_SETSPI_NS <- 80 (level SPI: a pulse)")
    s.r(GICD + 0x208, note="GICD_ISPENDR2 after a message to a level SPI")
    s.w(GICD + 0x288, ONES, note="GICD_ICPENDR2 <- ones")
    s.w(GICD + 0xC14, 0xAAAA_AAAA, note="GICD_ICFGR5 <- edge")
    s.w(GICD + 0xC18, 0xAAAA_AAAA, note="GICD_ICFGR6 <- edge")
    s.w(v2m + 0x40, 81, note="MSI_SETSPI_NS <- 81 (edge)")
    s.r(GICD + 0x208, note="GICD_ISPENDR2")
    s.r(GICC + 0xC, note="GICC_IAR 81")
    s.w(GICC + 0x10, 81, note="GICC_EOIR 81")
    s.r(GICD + 0x208, note="GICD_ISPENDR2")
    s.w(v2m + 0x40, 82, 2, "MSI_SETSPI_NS <- 82 (16-bit)")
    s.r(GICD + 0x208, note="GICD_ISPENDR2")
    s.w(GICD + 0x288, ONES, note="GICD_ICPENDR2 <- ones")
    for v in (20, 31, 32, 63, 64, 95, 96, 400):
        s.w(v2m + 0x40, v, note=f"MSI_SETSPI_NS <- {v}")
    for n in range(4):
        s.r(GICD + 0x200 + 4 * n, note=f"GICD_ISPENDR{n}")
    s.r(v2m + 0x40, note="MSI_SETSPI_NS read")
    s.r(v2m + 0x8, 2, "MSI_TYPER (16-bit)")
    s.r(v2m + 0x0, note="v2m+0x0")
    return V2, s.ops


def gicv2_up() -> tuple[dict, list[Op]]:
    """A uniprocessor GICv2 (-smp 1): ITARGETSR RAZ/WI, SPIs reach CPU 0, SGIR filters."""
    s = S()
    s.w(GICD + 0x0, 0x3, note="GICD_CTLR <- EnableGrp0|EnableGrp1")
    s.w(GICC + 0x0, 0x3, note="GICC_CTLR <- EnableGrp0|EnableGrp1")
    s.w(GICC + 0x4, 0xFF, note="GICC_PMR <- 0xff")
    s.r(GICD + 0x4, note="GICD_TYPER")
    for off in (0x800, 0x81C, 0x820, 0x828):
        s.r(GICD + off, note=f"GICD_ITARGETSR+{off - 0x800:#x}")
        s.w(GICD + off, ONES, note=f"GICD_ITARGETSR+{off - 0x800:#x} <- ones")
        s.r(GICD + off, note=f"GICD_ITARGETSR+{off - 0x800:#x}")
    s.w(GICD + 0x104, 1 << 8, note="GICD_ISENABLER1 <- 40")
    s.w(GICD + 0x204, 1 << 8, note="GICD_ISPENDR1 <- 40")
    s.r(GICD + 0x204, note="GICD_ISPENDR1")
    s.sr("ISR_EL1")
    s.r(GICC + 0xC, note="GICC_IAR 40")
    s.w(GICC + 0x10, 40, note="GICC_EOIR 40")
    for v, what in ((0x0001_0003, "filter 0, CPU 0"), (0x0100_0004, "filter 1 (others: none)"),
                    (0x0200_0005, "filter 2 (self)"), (0x00FE_0006, "filter 0, absent CPUs")):
        s.w(GICD + 0xF00, v, note=f"GICD_SGIR {what}")
        s.r(GICD + 0x200, note="GICD_ISPENDR0")
    s.r(GICD + 0xF20, note="GICD_SPENDSGIR0")
    return {"gic": 2, "cpus": 1}, s.ops


