"""GICv3 probes: ID and reset values, RAZ/WI and RO bits, access sizes, flows."""

from __future__ import annotations

from common import (
    GICD,
    GITS,
    ICC_READABLE,
    N_IRQ,
    ONES,
    SGI,
    V3,
    S,
    rd,
)
from peer import Op


def gicv3_id() -> tuple[dict, list[Op]]:
    """Reset values: GICD, every redistributor, the ICC registers, bad directions."""
    s = S()
    for off in range(0, 0x1000, 4):
        s.r(GICD + off, note=f"GICD+{off:#x}")
    for off in range(0x6000, 0x6100 + 8 * (N_IRQ - 32) + 0x40, 8):
        s.r(GICD + off, 8, note=f"GICD_IROUTER+{off:#x}")
    for off in range(0xFFD0, 0x10000, 4):
        s.r(GICD + off, note=f"GICD ID {off:#x}")
    for cpu in range(4):
        for off in range(0, 0x100, 4):
            s.r(rd(cpu) + off, note=f"GICR{cpu} RD+{off:#x}")
        for off in (0x08, 0x70, 0x78):
            s.r(rd(cpu) + off, 8, note=f"GICR{cpu} RD+{off:#x} (64)")
        for off in range(0xFFD0, 0x10000, 4):
            s.r(rd(cpu) + off, note=f"GICR{cpu} ID {off:#x}")
        sweep = range(0, 0x1000, 4) if cpu == 0 else \
            [0x80, 0x100, 0x180, 0x200, 0x280, 0x300, 0x380, *range(0x400, 0x420, 4),
             0xC00, 0xC04, 0xD00, 0xE00]
        for off in sweep:
            s.r(rd(cpu) + SGI + off, note=f"GICR{cpu} SGI+{off:#x}")
    for reg in ICC_READABLE:
        s.sr(reg)
    for reg in ("ICC_IAR0_EL1", "ICC_IAR1_EL1"):
        s.sr(reg, "spurious at reset")
    for reg in ("ICC_EOIR0_EL1", "ICC_EOIR1_EL1", "ICC_DIR_EL1", "ICC_SGI0R_EL1",
                "ICC_SGI1R_EL1", "ICC_ASGI1R_EL1"):
        s.sr(reg, "write-only: read")
    for reg in ("ICC_IAR0_EL1", "ICC_IAR1_EL1", "ICC_HPPIR0_EL1", "ICC_HPPIR1_EL1",
                "ICC_RPR_EL1"):
        s.sw(reg, 0, "read-only: write")
    return V3, s.ops


def gicv3_its_id() -> tuple[dict, list[Op]]:
    """The ITS frame's reset values (reported, the ITS is another owner's)."""
    s = S()
    for off in range(0, 0x100, 4):
        s.r(GITS + off, note=f"GITS+{off:#x}")
    for off in (0x08, 0x80, 0x88, 0x90, *range(0x100, 0x140, 8)):
        s.r(GITS + off, 8, note=f"GITS+{off:#x} (64)")
    for off in range(0xFFD0, 0x10000, 4):
        s.r(GITS + off, note=f"GITS ID {off:#x}")
    s.r(GITS + 0x1_0040, note="GITS_TRANSLATER read")
    return V3, s.ops


def gicv3_rw() -> tuple[dict, list[Op]]:
    """RAZ/WI, RO and RW bits: write all-ones, read back, write zero, read back."""
    s = S()
    s.probe(GICD + 0x0, "GICD_CTLR")
    s.w(GICD + 0x0, 0x13, note="GICD_CTLR <- ARE|Grp1|Grp0")
    s.r(GICD + 0x0, note="GICD_CTLR")
    for off, name in ((0x4, "TYPER"), (0x8, "IIDR"), (0xC, "TYPER2"), (0x10, "STATUSR"),
                      (0xFFE8, "PIDR2")):
        s.probe(GICD + off, f"GICD_{name}")
    words = N_IRQ // 32
    for base, name in ((0x80, "IGROUPR"), (0xD00, "IGRPMODR"), (0x100, "ISENABLER"),
                       (0x180, "ICENABLER"), (0x200, "ISPENDR"), (0x280, "ICPENDR"),
                       (0x300, "ISACTIVER"), (0x380, "ICACTIVER")):
        for n in range(words + 1):
            s.w(GICD + base + 4 * n, ONES, note=f"GICD_{name}{n} <- ones")
        for n in range(words + 1):
            s.r(GICD + base + 4 * n, note=f"GICD_{name}{n}")
        s.r(GICD + 0x100 + 4, note="GICD_ISENABLER1")
        s.r(GICD + 0x200 + 4, note="GICD_ISPENDR1")
        s.r(GICD + 0x300 + 4, note="GICD_ISACTIVER1")
    for n in [*range(10), N_IRQ // 4 - 1, N_IRQ // 4]:
        s.probe(GICD + 0x400 + 4 * n, f"GICD_IPRIORITYR{n}")
        s.probe(GICD + 0x800 + 4 * n, f"GICD_ITARGETSR{n}")
    for n in range(N_IRQ // 16 + 1):
        s.probe(GICD + 0xC00 + 4 * n, f"GICD_ICFGR{n}")
    for n in range(N_IRQ // 16 + 1):
        s.probe(GICD + 0xE00 + 4 * n, f"GICD_NSACR{n}")
    for off, name in ((0xF00, "SGIR"), (0xF10, "CPENDSGIR0"), (0xF20, "SPENDSGIR0")):
        s.probe(GICD + off, f"GICD_{name}")
    for intid in (0, 31, 32, 33, 100, N_IRQ - 1, N_IRQ):
        s.probe(GICD + 0x6000 + 8 * intid, f"GICD_IROUTER{intid}", size=8,
                ones=(1 << 64) - 1)
        s.w(GICD + 0x6000 + 8 * intid, ONES, note=f"GICD_IROUTER{intid} low <- ones")
        s.r(GICD + 0x6000 + 8 * intid, 8, note=f"GICD_IROUTER{intid}")
        s.w(GICD + 0x6004 + 8 * intid, ONES, note=f"GICD_IROUTER{intid} high <- ones")
        s.r(GICD + 0x6000 + 8 * intid, 8, note=f"GICD_IROUTER{intid}")
        s.r(GICD + 0x6004 + 8 * intid, note=f"GICD_IROUTER{intid} high")
        s.w(GICD + 0x6000 + 8 * intid, 0x0000_0000_0000_0001, 8, f"GICD_IROUTER{intid} <- 1")
        s.r(GICD + 0x6000 + 8 * intid, 8, note=f"GICD_IROUTER{intid}")
    for cpu in (0, 3):
        b = rd(cpu)
        for off, name in ((0x4, "IIDR"), (0x8, "TYPER"), (0xC, "TYPER+4"), (0x10, "STATUSR"),
                          (0x14, "WAKER"), (0xFFE8, "PIDR2")):
            s.probe(b + off, f"GICR{cpu}_{name}")
        s.w(b + 0x0, 0, note=f"GICR{cpu}_CTLR <- 0")
        s.r(b + 0x0, note=f"GICR{cpu}_CTLR")
        for off, name in ((0x70, "PROPBASER"), (0x78, "PENDBASER")):
            s.probe(b + off, f"GICR{cpu}_{name}", size=8, ones=(1 << 64) - 1)
            s.w(b + off, ONES, note=f"GICR{cpu}_{name} low <- ones")
            s.r(b + off, 8, note=f"GICR{cpu}_{name}")
            s.w(b + off + 4, ONES, note=f"GICR{cpu}_{name} high <- ones")
            s.r(b + off, 8, note=f"GICR{cpu}_{name}")
            s.r(b + off + 4, note=f"GICR{cpu}_{name} high")
            s.w(b + off, 0, 8, note=f"GICR{cpu}_{name} <- 0")
        for off, name in ((0x40, "SETLPIR"), (0x48, "CLRLPIR"), (0xA0, "INVLPIR"),
                          (0xB0, "INVALLR"), (0xC0, "SYNCR")):
            s.r(b + off, 8 if off != 0xC0 else 4, note=f"GICR{cpu}_{name}")
        sg = b + SGI
        for off, name in ((0x80, "IGROUPR0"), (0xD00, "IGRPMODR0"), (0xE00, "NSACR"),
                          (0x100, "ISENABLER0"), (0x180, "ICENABLER0"), (0x200, "ISPENDR0"),
                          (0x280, "ICPENDR0"), (0x300, "ISACTIVER0"), (0x380, "ICACTIVER0"),
                          (0xC00, "ICFGR0"), (0xC04, "ICFGR1"), (0x400, "IPRIORITYR0"),
                          (0x41C, "IPRIORITYR7"), (0x420, "IPRIORITYR8")):
            s.w(sg + off, ONES, note=f"GICR{cpu}_{name} <- ones")
            s.r(sg + off, note=f"GICR{cpu}_{name}")
            s.r(sg + 0x100, note=f"GICR{cpu}_ISENABLER0")
            s.r(sg + 0x200, note=f"GICR{cpu}_ISPENDR0")
            s.r(sg + 0x300, note=f"GICR{cpu}_ISACTIVER0")
            s.w(sg + off, 0, note=f"GICR{cpu}_{name} <- 0")
            s.r(sg + off, note=f"GICR{cpu}_{name}")
    # the CPU interface's writable bits
    for reg, ones in (("ICC_PMR_EL1", 0xFF), ("ICC_BPR0_EL1", 0x7), ("ICC_BPR1_EL1", 0x7),
                      ("ICC_CTLR_EL1", (1 << 64) - 1), ("ICC_SRE_EL1", 0),
                      ("ICC_IGRPEN0_EL1", (1 << 64) - 1), ("ICC_IGRPEN1_EL1", (1 << 64) - 1),
                      *((f"ICC_AP{g}R{n}_EL1", ONES) for g in (0, 1) for n in range(4))):
        s.sw(reg, ones, f"{reg} <- {ones:#x}")
        s.sr(reg)
        s.sw(reg, 0, f"{reg} <- 0")
        s.sr(reg)
    for v in range(8):
        s.sw("ICC_BPR0_EL1", v, f"ICC_BPR0_EL1 <- {v}")
        s.sr("ICC_BPR0_EL1")
        s.sw("ICC_BPR1_EL1", v, f"ICC_BPR1_EL1 <- {v}")
        s.sr("ICC_BPR1_EL1")
    for v in (0x80, 0x81, 0x87, 0x88, 0xF0, 0xF8, 0xFF):
        s.sw("ICC_PMR_EL1", v, f"ICC_PMR_EL1 <- {v:#x}")
        s.sr("ICC_PMR_EL1")
    s.sw("ICC_CTLR_EL1", 2, "EOImode=1")
    s.sr("ICC_CTLR_EL1")
    s.sw("ICC_CTLR_EL1", 1, "CBPR=1")
    s.sr("ICC_CTLR_EL1")
    s.sw("ICC_BPR0_EL1", 4, "BPR0 <- 4 with CBPR")
    s.sr("ICC_BPR1_EL1", "BPR1 with CBPR")
    s.sw("ICC_BPR1_EL1", 6, "BPR1 <- 6 with CBPR")
    s.sr("ICC_BPR1_EL1")
    s.sr("ICC_BPR0_EL1")
    s.sw("ICC_CTLR_EL1", 0, "CBPR=0")
    s.sr("ICC_BPR1_EL1")
    return V3, s.ops


def gicv3_sizes() -> tuple[dict, list[Op]]:
    """Byte, halfword and doubleword accesses where the spec allows them or not."""
    s = S()
    s.w(GICD + 0x0, 0x13, note="GICD_CTLR <- ARE|Grp1|Grp0")
    for size in (1, 2, 8):
        for off, name in ((0x0, "CTLR"), (0x4, "TYPER"), (0x8, "IIDR"), (0x100, "ISENABLER0"),
                          (0x104, "ISENABLER1"), (0x80, "IGROUPR0"), (0xC08, "ICFGR2"),
                          (0xFFE8, "PIDR2")):
            if off % size == 0:
                s.r(GICD + off, size, f"GICD_{name} ({size * 8}-bit)")
    for size in (1, 2, 8):
        s.w(GICD + 0x104, ONES, size, f"GICD_ISENABLER1 <- ones ({size * 8}-bit)")
        s.r(GICD + 0x104, note="GICD_ISENABLER1")
    s.w(GICD + 0x184, ONES, note="GICD_ICENABLER1 <- ones")
    for size in (1, 2, 8):
        s.w(GICD + 0x84, ONES, size, f"GICD_IGROUPR1 <- ones ({size * 8}-bit)")
        s.r(GICD + 0x84, note="GICD_IGROUPR1")
    for off in range(0x420, 0x428):
        s.w(GICD + off, 0x10 + off - 0x420, 1, f"GICD_IPRIORITYR byte {off:#x}")
    s.r(GICD + 0x420, note="GICD_IPRIORITYR8")
    s.r(GICD + 0x424, note="GICD_IPRIORITYR9")
    for off in range(0x420, 0x428):
        s.r(GICD + off, 1, f"GICD_IPRIORITYR byte {off:#x}")
    s.r(GICD + 0x420, 2, "GICD_IPRIORITYR8 (16-bit)")
    s.r(GICD + 0x422, 2, "GICD_IPRIORITYR8+2 (16-bit)")
    s.r(GICD + 0x420, 8, "GICD_IPRIORITYR8 (64-bit)")
    s.w(GICD + 0x428, 0xA0B0, 2, "GICD_IPRIORITYR10 <- (16-bit)")
    s.r(GICD + 0x428, note="GICD_IPRIORITYR10")
    s.w(GICD + 0x430, 0x1122334455667788, 8, "GICD_IPRIORITYR12 <- (64-bit)")
    s.r(GICD + 0x430, note="GICD_IPRIORITYR12")
    s.r(GICD + 0x434, note="GICD_IPRIORITYR13")
    s.w(GICD + 0x820, 0xFF, 1, "GICD_ITARGETSR8 byte <- 0xff")
    s.r(GICD + 0x820, 1, "GICD_ITARGETSR8 byte")
    s.r(GICD + 0x820, note="GICD_ITARGETSR8")
    s.w(GICD + 0xF10, 0xFF, 1, "GICD_CPENDSGIR byte")
    s.r(GICD + 0xF10, 1, "GICD_CPENDSGIR byte")
    # IROUTER: 64-bit and halves, byte (not allowed)
    s.w(GICD + 0x6000 + 8 * 40, 0x0000_00FF_00FF_FFFF, 8, "GICD_IROUTER40 <- 64-bit")
    s.r(GICD + 0x6000 + 8 * 40, 8, "GICD_IROUTER40")
    s.r(GICD + 0x6000 + 8 * 40, 4, "GICD_IROUTER40 low")
    s.r(GICD + 0x6004 + 8 * 40, 4, "GICD_IROUTER40 high")
    s.r(GICD + 0x6000 + 8 * 40, 1, "GICD_IROUTER40 byte")
    s.r(GICD + 0x6000 + 8 * 40, 2, "GICD_IROUTER40 half")
    s.w(GICD + 0x6000 + 8 * 40, 0x02, 1, "GICD_IROUTER40 <- byte")
    s.r(GICD + 0x6000 + 8 * 40, 8, "GICD_IROUTER40")
    # SETSPI_NSR sizes (QEMU: MBIS=0)
    s.w(GICD + 0x40, 40, 4, "GICD_SETSPI_NSR <- 40")
    s.r(GICD + 0x204, note="GICD_ISPENDR1")
    s.w(GICD + 0x280 + 4, ONES, note="GICD_ICPENDR1 <- ones")
    # redistributor
    b = rd(0)
    for size in (1, 2, 8):
        for off, name in ((0x0, "CTLR"), (0x4, "IIDR"), (0x8, "TYPER"), (0x14, "WAKER"),
                          (0x70, "PROPBASER")):
            if off % size == 0:
                s.r(b + off, size, f"GICR0_{name} ({size * 8}-bit)")
        for off, name in ((0x100, "ISENABLER0"), (0x400, "IPRIORITYR0"), (0xC00, "ICFGR0"),
                          (0x80, "IGROUPR0")):
            s.r(b + SGI + off, size, f"GICR0_{name} ({size * 8}-bit)")
    for off in range(0x400, 0x408):
        s.w(b + SGI + off, 0x20 + off - 0x400, 1, f"GICR0_IPRIORITYR byte {off:#x}")
    s.r(b + SGI + 0x400, note="GICR0_IPRIORITYR0")
    s.r(b + SGI + 0x404, note="GICR0_IPRIORITYR1")
    s.r(b + SGI + 0x401, 1, "GICR0_IPRIORITYR0 byte 1")
    s.w(b + SGI + 0x100, 0xFF, 1, "GICR0_ISENABLER0 <- byte")
    s.r(b + SGI + 0x100, note="GICR0_ISENABLER0")
    s.w(b + SGI + 0x100, 0xFF, 2, "GICR0_ISENABLER0 <- half")
    s.r(b + SGI + 0x100, note="GICR0_ISENABLER0")
    s.w(b + 0x8, 0, 8, "GICR0_TYPER <- 64-bit")
    s.r(b + 0x8, 8, "GICR0_TYPER")
    s.w(b + 0x70, 0x0000_0000_1234_5000 | 0x0F, 4, "GICR0_PROPBASER low <- 32-bit")
    s.r(b + 0x70, 8, "GICR0_PROPBASER")
    s.w(b + 0x70, 0xFFFF, 2, "GICR0_PROPBASER <- half")
    s.r(b + 0x70, 8, "GICR0_PROPBASER")
    return V3, s.ops


def gicv3_setup(s: S) -> None:
    s.w(GICD + 0x0, 0x13, note="GICD_CTLR <- ARE|Grp1|Grp0")
    s.w(rd(0) + 0x14, 0, note="GICR0_WAKER <- 0")
    s.r(rd(0) + 0x14, note="GICR0_WAKER")
    s.sw("ICC_PMR_EL1", 0xFF)
    s.sw("ICC_IGRPEN1_EL1", 1)
    s.sw("ICC_IGRPEN0_EL1", 1)


def _ack_eoi_state(s: S, g: int = 1) -> None:
    for reg in ("ISR_EL1", f"ICC_HPPIR{g}_EL1", "ICC_HPPIR0_EL1" if g else "ICC_HPPIR1_EL1",
                "ICC_RPR_EL1", f"ICC_AP{g}R0_EL1"):
        s.sr(reg)


def gicv3_flow() -> tuple[dict, list[Op]]:
    """SPI, SGI and preemption flows through the ICC registers of CPU 0."""
    s = S()
    gicv3_setup(s)
    # SPI 40, group 1, priority 0x80, routed to CPU 0, set pending by ISPENDR
    s.w(GICD + 0x84, 1 << 8 | 1 << 9 | 1 << 10, note="GICD_IGROUPR1 <- SPIs 40-42 Group 1")
    s.w(GICD + 0x428, 0x00A0_6080, note="GICD_IPRIORITYR10 <- 40:0x80 41:0x60 42:0xa0")
    for intid in (40, 41, 42, 43):
        s.w(GICD + 0x6000 + 8 * intid, 0, 8, f"GICD_IROUTER{intid} <- CPU0")
    s.sr("ISR_EL1")
    s.w(GICD + 0x204, 1 << 8, note="GICD_ISPENDR1 <- SPI 40")
    s.r(GICD + 0x204, note="GICD_ISPENDR1")
    _ack_eoi_state(s)
    s.w(GICD + 0x104, 1 << 8, note="GICD_ISENABLER1 <- SPI 40")
    _ack_eoi_state(s)
    s.sw("ICC_PMR_EL1", 0x80, "PMR = priority: masked")
    s.sr("ISR_EL1")
    s.sr("ICC_IAR1_EL1", "masked: spurious")
    s.sw("ICC_PMR_EL1", 0x88, "PMR 0x88")
    s.sr("ISR_EL1")
    s.sw("ICC_PMR_EL1", 0xFF)
    s.sr("ICC_IAR0_EL1", "Group 1 HPPI: IAR0 spurious")
    s.sr("ICC_IAR1_EL1", "acknowledge SPI 40")
    s.r(GICD + 0x204, note="GICD_ISPENDR1")
    s.r(GICD + 0x304, note="GICD_ISACTIVER1")
    _ack_eoi_state(s)
    s.sr("ICC_IAR1_EL1", "nothing pending")
    # preemption: SPI 41 (0x60) preempts, SPI 42 (0xa0) does not
    s.w(GICD + 0x104, 1 << 9 | 1 << 10, note="GICD_ISENABLER1 <- 41, 42")
    s.w(GICD + 0x204, 1 << 9 | 1 << 10, note="GICD_ISPENDR1 <- 41, 42")
    _ack_eoi_state(s)
    s.sr("ICC_IAR1_EL1", "acknowledge 41 (preempts)")
    _ack_eoi_state(s)
    s.sr("ICC_IAR1_EL1", "42 does not preempt")
    s.sw("ICC_EOIR1_EL1", 41, "EOI 41")
    _ack_eoi_state(s)
    s.sw("ICC_EOIR1_EL1", 40, "EOI 40")
    _ack_eoi_state(s)
    s.r(GICD + 0x304, note="GICD_ISACTIVER1")
    s.sr("ICC_IAR1_EL1", "acknowledge 42")
    s.sw("ICC_EOIR1_EL1", 42, "EOI 42")
    _ack_eoi_state(s)
    s.sw("ICC_EOIR1_EL1", 42, "EOI with nothing active")
    _ack_eoi_state(s)
    # group 0 SPI 43
    s.w(GICD + 0x42B, 0x40, 1, "GICD_IPRIORITYR10 byte 3 <- 43:0x40")
    s.w(GICD + 0x104, 1 << 11, note="GICD_ISENABLER1 <- 43")
    s.w(GICD + 0x204, 1 << 11, note="GICD_ISPENDR1 <- 43")
    _ack_eoi_state(s, 0)
    s.sr("ICC_IAR1_EL1", "Group 0 HPPI: IAR1 spurious")
    s.sr("ICC_IAR0_EL1", "acknowledge 43")
    _ack_eoi_state(s, 0)
    s.sw("ICC_EOIR1_EL1", 43, "EOIR1 of a group 0 interrupt")
    _ack_eoi_state(s, 0)
    s.r(GICD + 0x304, note="GICD_ISACTIVER1")
    s.sw("ICC_EOIR0_EL1", 43, "EOIR0 43")
    _ack_eoi_state(s, 0)
    s.r(GICD + 0x304, note="GICD_ISACTIVER1")
    # EOImode = 1: priority drop then DIR
    s.sw("ICC_CTLR_EL1", 2, "EOImode=1")
    s.w(GICD + 0x204, 1 << 8, note="GICD_ISPENDR1 <- SPI 40")
    s.sr("ICC_IAR1_EL1", "acknowledge 40")
    s.sw("ICC_EOIR1_EL1", 40, "drop priority")
    _ack_eoi_state(s)
    s.r(GICD + 0x304, note="GICD_ISACTIVER1 (still active)")
    s.w(GICD + 0x204, 1 << 8, note="GICD_ISPENDR1 <- SPI 40 again")
    _ack_eoi_state(s)
    s.sr("ICC_IAR1_EL1", "active and pending: not acknowledged")
    s.sw("ICC_DIR_EL1", 40, "deactivate")
    s.r(GICD + 0x304, note="GICD_ISACTIVER1")
    _ack_eoi_state(s)
    s.sr("ICC_IAR1_EL1", "acknowledge 40 again")
    s.sw("ICC_EOIR1_EL1", 40)
    s.sw("ICC_DIR_EL1", 40)
    s.sw("ICC_CTLR_EL1", 0, "EOImode=0")
    s.sw("ICC_DIR_EL1", 40, "DIR with EOImode=0")
    # SGIs through ICC_SGI1R_EL1 to self and to CPU 1
    sg = rd(0) + SGI
    s.w(sg + 0x80, 0xFFFF, note="GICR0_IGROUPR0 <- SGIs Group 1")
    s.w(sg + 0x100, ONES, note="GICR0_ISENABLER0 <- ones")
    s.r(sg + 0x100, note="GICR0_ISENABLER0")
    s.w(sg + 0x400, 0x1020_3040, note="GICR0_IPRIORITYR0")
    s.sw("ICC_SGI1R_EL1", 3 << 24 | 1, "SGI 3 to CPU 0")
    s.r(sg + 0x200, note="GICR0_ISPENDR0")
    _ack_eoi_state(s)
    s.sr("ICC_IAR1_EL1", "acknowledge SGI 3")
    _ack_eoi_state(s)
    s.sw("ICC_EOIR1_EL1", 3)
    s.sw("ICC_SGI1R_EL1", 5 << 24 | 0b1110, "SGI 5 to CPUs 1-3")
    for cpu in range(4):
        s.r(rd(cpu) + SGI + 0x200, note=f"GICR{cpu}_ISPENDR0")
    s.sw("ICC_SGI1R_EL1", 6 << 24 | 1 << 40, "SGI 6 IRM=1 (all but self)")
    for cpu in range(4):
        s.r(rd(cpu) + SGI + 0x200, note=f"GICR{cpu}_ISPENDR0")
    s.sw("ICC_SGI0R_EL1", 1 << 24 | 1, "SGI0R SGI 1 (Group 1 at target)")
    s.r(sg + 0x200, note="GICR0_ISPENDR0")
    s.sw("ICC_ASGI1R_EL1", 2 << 24 | 1, "ASGI1R SGI 2")
    s.r(sg + 0x200, note="GICR0_ISPENDR0")
    s.sw("ICC_SGI1R_EL1", 7 << 24 | 1 << 16 | 1, "SGI 7 Aff1=1 (no such CPU)")
    s.r(sg + 0x200, note="GICR0_ISPENDR0")
    s.sw("ICC_SGI1R_EL1", 8 << 24 | 1 << 44 | 1, "SGI 8 RS=1")
    s.r(sg + 0x200, note="GICR0_ISPENDR0")
    s.w(sg + 0x204, 1 << 9, note="GICR0_ISPENDR0 <- SGI 9")
    s.r(sg + 0x200, note="GICR0_ISPENDR0")
    s.w(sg + 0x280, ONES, note="GICR0_ICPENDR0 <- ones")
    s.r(sg + 0x200, note="GICR0_ISPENDR0")
    # PPI 23 via ISPENDR0, edge-configured PPI, BPR preemption
    s.w(sg + 0x80, ONES, note="GICR0_IGROUPR0 <- ones")
    s.w(sg + 0x414, 0x5000_0000, note="GICR0_IPRIORITYR5: PPI 23 0x50")
    s.w(sg + 0x200, 1 << 23, note="GICR0_ISPENDR0 <- PPI 23")
    _ack_eoi_state(s)
    s.sr("ICC_IAR1_EL1", "acknowledge 23")
    s.r(sg + 0x200, note="GICR0_ISPENDR0")
    s.r(sg + 0x300, note="GICR0_ISACTIVER0")
    s.sw("ICC_BPR1_EL1", 7, "BPR1 7: no preemption")
    s.w(sg + 0x418, 0x40, note="GICR0_IPRIORITYR6: PPI 24 0x40")
    s.w(sg + 0x200, 1 << 24, note="GICR0_ISPENDR0 <- PPI 24")
    _ack_eoi_state(s)
    s.sr("ICC_IAR1_EL1", "PPI 24 does not preempt with BPR1=7")
    s.sw("ICC_BPR1_EL1", 3, "BPR1 3")
    _ack_eoi_state(s)
    s.sr("ICC_IAR1_EL1", "PPI 24 preempts")
    _ack_eoi_state(s)
    s.sw("ICC_EOIR1_EL1", 24)
    s.sw("ICC_EOIR1_EL1", 23)
    _ack_eoi_state(s)
    # active write, priority 0xff, EOI of a non-existent INTID
    s.w(GICD + 0x304, 1 << 12, note="GICD_ISACTIVER1 <- SPI 44")
    s.r(GICD + 0x304, note="GICD_ISACTIVER1")
    s.sw("ICC_EOIR1_EL1", 44, "EOI an active-by-write SPI")
    s.r(GICD + 0x304, note="GICD_ISACTIVER1")
    s.w(GICD + 0x84, ONES, note="GICD_IGROUPR1 <- ones")
    s.w(GICD + 0x42C, 0xFF, 1, "GICD_IPRIORITYR11 byte 0 <- 44:0xff")
    s.w(GICD + 0x104, 1 << 12, note="GICD_ISENABLER1 <- 44")
    s.w(GICD + 0x204, 1 << 12, note="GICD_ISPENDR1 <- 44")
    _ack_eoi_state(s)
    s.sr("ICC_IAR1_EL1", "priority 0xff")
    s.w(GICD + 0x284, ONES, note="GICD_ICPENDR1 <- ones")
    s.sw("ICC_EOIR1_EL1", 2000, "EOI INTID 2000")
    s.sw("ICC_EOIR1_EL1", 1023, "EOI 1023")
    # IGRPEN1 off hides group 1
    s.w(GICD + 0x204, 1 << 8, note="GICD_ISPENDR1 <- SPI 40")
    s.sw("ICC_IGRPEN1_EL1", 0, "IGRPEN1 off")
    _ack_eoi_state(s)
    s.sr("ICC_IAR1_EL1", "IGRPEN1 off")
    s.sw("ICC_IGRPEN1_EL1", 1, "IGRPEN1 on")
    s.w(GICD + 0x0, 0x11, note="GICD_CTLR <- EnableGrp1 off")
    _ack_eoi_state(s)
    s.w(GICD + 0x0, 0x13, note="GICD_CTLR <- EnableGrp1 on")
    s.w(rd(0) + 0x14, 2, note="GICR0_WAKER <- ProcessorSleep")
    s.r(rd(0) + 0x14, note="GICR0_WAKER")
    _ack_eoi_state(s)
    s.w(rd(0) + 0x14, 0, note="GICR0_WAKER <- 0")
    s.w(GICD + 0x6000 + 8 * 40, 1, 8, "GICD_IROUTER40 <- CPU 1")
    _ack_eoi_state(s)
    s.w(GICD + 0x6000 + 8 * 40, 1 << 31, 8, "GICD_IROUTER40 <- IRM=1")
    s.r(GICD + 0x6000 + 8 * 40, 8, "GICD_IROUTER40")
    _ack_eoi_state(s)
    s.w(GICD + 0x6000 + 8 * 40, 0, 8, "GICD_IROUTER40 <- CPU 0")
    s.sr("ICC_IAR1_EL1", "acknowledge 40")
    s.sw("ICC_EOIR1_EL1", 40)
    _ack_eoi_state(s)
    return V3, s.ops


def gicv3_reserved() -> tuple[dict, list[Op]]:
    """Reserved offsets of every GICv3 frame: read, write all-ones, read again."""
    s = S()
    offs = [*range(0x1000, 0x6000, 0x340), *range(0x8000, 0xFFD0, 0x2A0), 0xFFCC]
    for base, name in ((GICD, "GICD"), (rd(0), "GICR0 RD"), (rd(0) + SGI, "GICR0 SGI"),
                       (rd(3) + SGI, "GICR3 SGI")):
        for off in offs:
            if name == "GICD" and 0x6000 <= off < 0x8000:
                continue
            s.r(base + off, note=f"{name}+{off:#x}")
            s.w(base + off, ONES, note=f"{name}+{off:#x} <- ones")
            s.r(base + off, note=f"{name}+{off:#x}")
    for off in (0x18, 0x1C, 0x20, 0x30, 0x3C, 0x60, 0x68, 0x80, 0xC4, 0xD0, 0xF8, 0x100,
                0x800, 0xFFCC):
        s.r(rd(0) + off, note=f"GICR0 RD+{off:#x} (reserved)")
    for off in (0x004, 0x084, 0x104, 0x184, 0x420, 0x800, 0xC08, 0xD04, 0xE04, 0xF00):
        s.r(rd(0) + SGI + off, note=f"GICR0 SGI+{off:#x} (extended/reserved)")
    return V3, s.ops


def gicv3_noits() -> tuple[dict, list[Op]]:
    """``its=off``: what the ID registers and LPI registers say without an ITS."""
    s = S()
    s.r(GICD + 0x4, note="GICD_TYPER")
    s.r(GICD + 0xC, note="GICD_TYPER2")
    for cpu in (0, 3):
        b = rd(cpu)
        s.r(b + 0x0, note=f"GICR{cpu}_CTLR")
        s.r(b + 0x8, 8, f"GICR{cpu}_TYPER")
        s.w(b + 0x70, 0x4800_0000 | 15, 8, f"GICR{cpu}_PROPBASER <- table")
        s.r(b + 0x70, 8, f"GICR{cpu}_PROPBASER")
        s.w(b + 0x0, 1, note=f"GICR{cpu}_CTLR <- EnableLPIs")
        s.r(b + 0x0, note=f"GICR{cpu}_CTLR")
        s.w(b + 0x0, 0, note=f"GICR{cpu}_CTLR <- 0")
    s.r(GITS + 0x0, note="no ITS frame: GITS_CTLR")
    return {"gic": 3, "cpus": 4, "its": False}, s.ops


def gicv3_up() -> tuple[dict, list[Op]]:
    """A uniprocessor GICv3 (-smp 1): one redistributor (Last), SGIs to self and others."""
    s = S()
    s.w(GICD + 0x0, 0x13, note="GICD_CTLR <- ARE|Grp1|Grp0")
    s.r(GICD + 0x4, note="GICD_TYPER")
    s.r(rd(0) + 0x8, 8, "GICR0_TYPER")
    s.r(rd(1) + 0x8, 8, "GICR1_TYPER (no such redistributor)")
    s.r(rd(1) + 0x14, note="GICR1_WAKER (no such redistributor)")
    s.w(rd(0) + 0x14, 0, note="GICR0_WAKER <- 0")
    s.sw("ICC_PMR_EL1", 0xFF)
    s.sw("ICC_IGRPEN1_EL1", 1)
    s.w(rd(0) + SGI + 0x80, ONES, note="GICR0_IGROUPR0 <- ones")
    s.w(rd(0) + SGI + 0x100, ONES, note="GICR0_ISENABLER0 <- ones")
    for v, what in ((3 << 24 | 1, "SGI 3 -> CPU 0"), (4 << 24 | 1 << 40, "SGI 4 IRM=1"),
                    (5 << 24 | 0xFFFE, "SGI 5 -> absent CPUs")):
        s.sw("ICC_SGI1R_EL1", v, what)
        s.r(rd(0) + SGI + 0x200, note="GICR0_ISPENDR0")
    s.w(GICD + 0x84, ONES, note="GICD_IGROUPR1 <- ones")
    s.w(GICD + 0x6000 + 8 * 40, 1 << 31, 8, "GICD_IROUTER40 <- IRM=1")
    s.w(GICD + 0x104, 1 << 8, note="GICD_ISENABLER1 <- 40")
    s.w(GICD + 0x204, 1 << 8, note="GICD_ISPENDR1 <- 40")
    s.sr("ISR_EL1")
    s.sr("ICC_HPPIR1_EL1")
    return {"gic": 3, "cpus": 1, "its": True}, s.ops
