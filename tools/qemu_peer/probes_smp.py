"""Several CPUs: banked registers, SGIs between CPUs, SPI targets (``cpu`` steps)."""

from __future__ import annotations

from common import GICC, GICD, ONES, SGI, V2, V3, S, rd
from peer import Op

ICC_RESET = ("ICC_CTLR_EL1", "ICC_PMR_EL1", "ICC_BPR0_EL1", "ICC_BPR1_EL1", "ICC_IGRPEN0_EL1",
             "ICC_IGRPEN1_EL1", "ICC_RPR_EL1", "ICC_HPPIR0_EL1", "ICC_HPPIR1_EL1",
             "ICC_AP0R0_EL1", "ICC_AP1R0_EL1", "ICC_SRE_EL1", "ISR_EL1")


def _on(s: S, cpu: int) -> None:
    s.ops.append(Op("cpu", value=cpu, note=f"run on CPU {cpu}"))


def _state3(s: S) -> None:
    for reg in ("ISR_EL1", "ICC_HPPIR1_EL1", "ICC_HPPIR0_EL1", "ICC_RPR_EL1"):
        s.sr(reg)


def gicv3_smp() -> tuple[dict, list[Op]]:
    """GICv3 with 4 running CPUs: banked ICC state, SGIs between CPUs, SPI routing."""
    s = S()
    s.w(GICD + 0x0, 0x13, note="GICD_CTLR <- ARE|Grp1|Grp0")
    for cpu in range(4):
        s.w(rd(cpu) + 0x14, 0, note=f"GICR{cpu}_WAKER <- 0")
        s.w(rd(cpu) + SGI + 0x80, ONES, note=f"GICR{cpu}_IGROUPR0 <- Group 1")
        s.w(rd(cpu) + SGI + 0x100, ONES, note=f"GICR{cpu}_ISENABLER0 <- ones")
        s.w(rd(cpu) + SGI + 0x400, 0x10 * (cpu + 1), note=f"GICR{cpu}_IPRIORITYR0: SGI 0")
    for cpu in (1, 2, 3, 0):
        _on(s, cpu)
        for reg in ICC_RESET:
            s.sr(reg, f"CPU {cpu} reset")
        s.sw("ICC_PMR_EL1", 0xF0 - 0x10 * cpu, f"CPU {cpu} PMR")
        s.sw("ICC_IGRPEN1_EL1", 1)
        s.sw("ICC_IGRPEN0_EL1", 1)
    for cpu in range(4):
        _on(s, cpu)
        s.sr("ICC_PMR_EL1", f"CPU {cpu} PMR (banked)")
    # SGI 0 from CPU 0 to CPU 1
    _on(s, 0)
    s.sw("ICC_SGI1R_EL1", 0b10, "SGI 0 -> CPU 1")
    _state3(s)
    _on(s, 1)
    _state3(s)
    s.sr("ICC_IAR1_EL1", "CPU 1 acknowledges SGI 0")
    _state3(s)
    s.sw("ICC_EOIR1_EL1", 0)
    # IRM = 1 from CPU 2: all but CPU 2
    _on(s, 2)
    s.sw("ICC_SGI1R_EL1", 5 << 24 | 1 << 40, "SGI 5, IRM=1, from CPU 2")
    _state3(s)
    for cpu in range(4):
        s.r(rd(cpu) + SGI + 0x200, note=f"GICR{cpu}_ISPENDR0")
    for cpu in (0, 1, 3):
        _on(s, cpu)
        _state3(s)
        s.sr("ICC_IAR1_EL1", f"CPU {cpu} acknowledges SGI 5")
        s.sw("ICC_EOIR1_EL1", 5)
    # SGI0R from CPU 3 to CPU 0 where SGI 7 is Group 0
    _on(s, 0)
    s.w(rd(0) + SGI + 0x80, ONES & ~(1 << 7), note="GICR0_IGROUPR0 <- SGI 7 Group 0")
    _on(s, 3)
    s.sw("ICC_SGI0R_EL1", 7 << 24 | 1, "SGI0R SGI 7 -> CPU 0")
    s.sw("ICC_SGI1R_EL1", 8 << 24 | 1, "SGI1R SGI 8 -> CPU 0")
    _on(s, 0)
    _state3(s)
    s.sr("ICC_IAR0_EL1", "CPU 0 acknowledges SGI 7 (Group 0)")
    s.sr("ICC_IAR1_EL1", "CPU 0 acknowledges SGI 8")
    s.sw("ICC_EOIR1_EL1", 8)
    s.sw("ICC_EOIR0_EL1", 7)
    _state3(s)
    # an SPI routed to CPU 3, then re-routed while pending
    s.w(GICD + 0x84, ONES, note="GICD_IGROUPR1 <- Group 1")
    s.w(GICD + 0x428, 0x60, 1, "GICD_IPRIORITYR byte 40 <- 0x60")
    s.w(GICD + 0x6000 + 8 * 40, 3, 8, "GICD_IROUTER40 <- CPU 3")
    s.w(GICD + 0x104, 1 << 8, note="GICD_ISENABLER1 <- 40")
    s.w(GICD + 0x204, 1 << 8, note="GICD_ISPENDR1 <- 40")
    for cpu in range(4):
        _on(s, cpu)
        _state3(s)
    s.w(GICD + 0x6000 + 8 * 40, 2, 8, "GICD_IROUTER40 <- CPU 2")
    _state3(s)
    _on(s, 2)
    _state3(s)
    s.sr("ICC_IAR1_EL1", "CPU 2 acknowledges 40")
    _on(s, 3)
    _state3(s)
    s.sw("ICC_EOIR1_EL1", 40, "CPU 3 EOIs 40 (not its own: nothing active)")
    s.r(GICD + 0x304, note="GICD_ISACTIVER1")
    _on(s, 2)
    s.sw("ICC_EOIR1_EL1", 40, "CPU 2 EOIs 40")
    s.r(GICD + 0x304, note="GICD_ISACTIVER1")
    # a PPI of CPU 1 pended from CPU 0
    _on(s, 0)
    s.w(rd(1) + SGI + 0x200, 1 << 20, note="GICR1_ISPENDR0 <- PPI 20")
    _state3(s)
    _on(s, 1)
    _state3(s)
    s.sr("ICC_IAR1_EL1", "CPU 1 acknowledges PPI 20")
    s.sw("ICC_EOIR1_EL1", 20)
    _on(s, 0)
    return V3, s.ops


def _state2(s: S) -> None:
    s.sr("ISR_EL1")
    s.r(GICC + 0x18, note="GICC_HPPIR")
    s.r(GICC + 0x14, note="GICC_RPR")


def gicv2_smp() -> tuple[dict, list[Op]]:
    """GICv2 with 4 running CPUs: banked GICD/GICC registers, SGI sources, SPI targets."""
    s = S()
    s.w(GICD + 0x0, 0x3, note="GICD_CTLR <- EnableGrp0|EnableGrp1")
    for cpu in (1, 2, 3, 0):
        _on(s, cpu)
        for off in (0x0, 0x4, 0x8, 0xC, 0x14, 0x18, 0x1C, 0xD0, 0xE0, 0xFC):
            s.r(GICC + off, note=f"CPU {cpu} GICC+{off:#x}")
        for off in (0x80, 0x100, 0x200, 0x300, 0x400, 0x41C, 0x800, 0x81C, 0xC00, 0xF10, 0xF20):
            s.r(GICD + off, note=f"CPU {cpu} GICD+{off:#x} (banked)")
        s.w(GICC + 0x4, 0xF0 - 0x10 * cpu, note=f"CPU {cpu} GICC_PMR")
        s.w(GICC + 0x0, 0x3, note=f"CPU {cpu} GICC_CTLR <- EnableGrp0|EnableGrp1")
        s.w(GICD + 0x400, 0x10 * (cpu + 1), note=f"CPU {cpu} GICD_IPRIORITYR0: SGI 0")
        s.w(GICD + 0x100, ONES, note=f"CPU {cpu} GICD_ISENABLER0 <- ones (banked)")
    for cpu in range(4):
        _on(s, cpu)
        s.r(GICC + 0x4, note=f"CPU {cpu} GICC_PMR (banked)")
        s.r(GICD + 0x400, note=f"CPU {cpu} GICD_IPRIORITYR0 (banked)")
    # SGI 0 from CPU 0 and from CPU 3 to CPU 2
    _on(s, 0)
    s.w(GICD + 0xF00, 0b100 << 16, note="GICD_SGIR: SGI 0 -> CPU 2")
    _on(s, 3)
    s.w(GICD + 0xF00, 0b100 << 16, note="GICD_SGIR: SGI 0 -> CPU 2 from CPU 3")
    _on(s, 2)
    s.r(GICD + 0xF20, note="CPU 2 GICD_SPENDSGIR0")
    _state2(s)
    s.r(GICC + 0xC, note="CPU 2 GICC_IAR: SGI 0 from CPU 0")
    _state2(s)
    s.w(GICC + 0x10, 0, note="GICC_EOIR SGI 0 from CPU 0")
    _state2(s)
    s.r(GICC + 0xC, note="CPU 2 GICC_IAR: SGI 0 from CPU 3")
    s.w(GICC + 0x10, 3 << 10, note="GICC_EOIR SGI 0 from CPU 3")
    _state2(s)
    # filter 1 from CPU 1: everyone else
    _on(s, 1)
    s.w(GICD + 0xF00, 1 << 24 | 4, note="GICD_SGIR: SGI 4, all but CPU 1")
    for cpu in (0, 2, 3):
        _on(s, cpu)
        s.r(GICD + 0xF24, note=f"CPU {cpu} GICD_SPENDSGIR1")
        s.r(GICC + 0xC, note=f"CPU {cpu} GICC_IAR: SGI 4 from CPU 1")
        s.w(GICC + 0x10, 1 << 10 | 4, note="GICC_EOIR SGI 4")
    # an SPI targeting CPUs 1 and 2
    _on(s, 0)
    s.w(GICD + 0x428, 0x60, 1, "GICD_IPRIORITYR byte 40 <- 0x60")
    s.w(GICD + 0x828, 0b110, 1, "GICD_ITARGETSR byte 40 <- CPUs 1, 2")
    s.w(GICD + 0x104, 1 << 8, note="GICD_ISENABLER1 <- 40")
    s.w(GICD + 0x204, 1 << 8, note="GICD_ISPENDR1 <- 40")
    for cpu in range(4):
        _on(s, cpu)
        _state2(s)
    _on(s, 2)
    s.r(GICC + 0xC, note="CPU 2 GICC_IAR: 40")
    _on(s, 1)
    _state2(s)
    s.r(GICC + 0xC, note="CPU 1 GICC_IAR after CPU 2 took 40")
    _on(s, 2)
    s.w(GICC + 0x10, 40, note="CPU 2 GICC_EOIR 40")
    _state2(s)
    s.r(GICD + 0x304, note="GICD_ISACTIVER1")
    _on(s, 0)
    return V2, s.ops


def gicv3_20cpu() -> tuple[dict, list[Op]]:
    """-smp 20: two affinity clusters (16 CPUs each), GICR_TYPER affinities, SGIs by Aff1."""
    s = S()
    s.w(GICD + 0x0, 0x13, note="GICD_CTLR <- ARE|Grp1|Grp0")
    for cpu in range(20):
        s.r(rd(cpu) + 0x8, 8, f"GICR{cpu}_TYPER")
    s.r(rd(20) + 0x8, 8, "GICR20_TYPER (no such redistributor)")
    for cpu in (0, 15, 16, 19):
        s.w(rd(cpu) + 0x14, 0, note=f"GICR{cpu}_WAKER <- 0")
        s.w(rd(cpu) + SGI + 0x80, ONES, note=f"GICR{cpu}_IGROUPR0 <- ones")
        s.w(rd(cpu) + SGI + 0x100, ONES, note=f"GICR{cpu}_ISENABLER0 <- ones")
    for v, what in ((2 << 24 | 1 << 16 | 0b1001, "SGI 2 -> Aff1=1 {0, 3}"),
                    (3 << 24 | 1 << 15, "SGI 3 -> Aff1=0 {15}"),
                    (4 << 24 | 2 << 16 | 1, "SGI 4 -> Aff1=2 {0} (absent)"),
                    (5 << 24 | 1 << 40, "SGI 5 IRM=1")):
        s.sw("ICC_SGI1R_EL1", v, what)
        for cpu in (0, 15, 16, 19):
            s.r(rd(cpu) + SGI + 0x200, note=f"GICR{cpu}_ISPENDR0")
    s.w(GICD + 0x84, ONES, note="GICD_IGROUPR1 <- ones")
    s.w(GICD + 0x6000 + 8 * 40, 1 << 8 | 3, 8, "GICD_IROUTER40 <- Aff1=1 Aff0=3 (CPU 19)")
    s.r(GICD + 0x6000 + 8 * 40, 8, "GICD_IROUTER40")
    s.w(GICD + 0x104, 1 << 8, note="GICD_ISENABLER1 <- 40")
    s.w(GICD + 0x204, 1 << 8, note="GICD_ISPENDR1 <- 40")
    s.ops.append(Op("cpu", value=19, note="CPU 19"))
    s.sw("ICC_PMR_EL1", 0xFF)
    s.sw("ICC_IGRPEN1_EL1", 1)
    s.sr("ISR_EL1")
    s.sr("ICC_IAR1_EL1", "CPU 19 acknowledges SPI 40")
    s.sw("ICC_EOIR1_EL1", 40)
    s.sw("ICC_SGI1R_EL1", 6 << 24 | 1, "SGI 6 from CPU 19 -> Aff1=0 {0}")
    s.sr("ICC_IAR1_EL1", "CPU 19 acknowledges SGI 2 (from CPU 0)")
    s.ops.append(Op("cpu", value=0, note="CPU 0"))
    s.r(rd(0) + SGI + 0x200, note="GICR0_ISPENDR0")
    return {"gic": 3, "cpus": 20, "its": True}, s.ops
