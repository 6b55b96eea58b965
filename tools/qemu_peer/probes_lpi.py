"""LPIs end to end through the redistributors and the ITS."""

from __future__ import annotations

from common import GICD, GITS, V3, S, rd
from peer import Op
from probes_gicv3 import gicv3_setup

PROP = 0x4800_0000      # LPI configuration table (64 KiB)
PEND = 0x4810_0000      # CPU 0's pending table (64 KiB aligned)
PEND1 = 0x4812_0000     # CPU 1's
DEVT = 0x4820_0000      # ITS device table
COLT = 0x4821_0000      # ITS collection table
CMDQ = 0x4830_0000      # ITS command queue (4 KiB)
ITT = 0x4840_0000       # the ITT of DeviceID 1


class _Its:
    """Writes ITS commands into the queue and advances GITS_CWRITER."""

    def __init__(self, s: S) -> None:
        self.s = s
        self.n = 0

    def cmd(self, dw: tuple[int, int, int, int], note: str) -> None:
        base = CMDQ + 32 * self.n
        for k, v in enumerate(dw):
            self.s.w(base + 8 * k, v, 8, f"{note} DW{k}")
        self.n += 1
        self.s.w(GITS + 0x88, 32 * self.n, 8, f"GITS_CWRITER <- {note}")
        self.s.r(GITS + 0x90, 8, f"GITS_CREADR after {note}")


def _lpi_state(s: S) -> None:
    for reg in ("ISR_EL1", "ICC_HPPIR1_EL1", "ICC_RPR_EL1"):
        s.sr(reg)


def gicv3_lpi() -> tuple[dict, list[Op]]:
    """LPIs end to end: property and pending tables, EnableLPIs, ITS commands, ack/EOI."""
    s = S()
    gicv3_setup(s)
    for cpu in (0, 1):
        s.w(rd(cpu) + 0x14, 0, note=f"GICR{cpu}_WAKER <- 0")
    # property bytes: LPI 8192 0xA0 enabled, 8193 0x80 enabled, 8194 0x60 disabled,
    # 8195 0x40 enabled
    s.w(PROP, 0x41_60_81_A1, note="LPI config 8192..8195")
    s.w(PROP + 4, 0x0000_0021, note="LPI config 8196: 0x20 enabled")
    for cpu, pend in ((0, PEND), (1, PEND1)):
        s.w(rd(cpu) + 0x70, PROP | 15, 8, f"GICR{cpu}_PROPBASER <- IDbits 15")
        s.r(rd(cpu) + 0x70, 8, f"GICR{cpu}_PROPBASER")
        s.w(rd(cpu) + 0x78, pend, 8, f"GICR{cpu}_PENDBASER")
        s.r(rd(cpu) + 0x78, 8, f"GICR{cpu}_PENDBASER")
        s.w(rd(cpu) + 0x0, 1, note=f"GICR{cpu}_CTLR <- EnableLPIs")
        s.r(rd(cpu) + 0x0, note=f"GICR{cpu}_CTLR")
    s.w(GITS + 0x100, 1 << 63 | DEVT | 2 << 8, 8, "GITS_BASER0 <- valid, 64 KiB")
    s.r(GITS + 0x100, 8, "GITS_BASER0")
    s.w(GITS + 0x108, 1 << 63 | COLT | 2 << 8, 8, "GITS_BASER1 <- valid, 64 KiB")
    s.r(GITS + 0x108, 8, "GITS_BASER1")
    s.w(GITS + 0x80, 1 << 63 | CMDQ, 8, "GITS_CBASER <- valid, 4 KiB")
    s.r(GITS + 0x80, 8, "GITS_CBASER")
    s.w(GITS + 0x88, 0, 8, "GITS_CWRITER <- 0")
    s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
    s.r(GITS + 0x0, note="GITS_CTLR")
    its = _Its(s)
    its.cmd((1 << 32 | 0x08, 4, 1 << 63 | ITT, 0), "MAPD dev 1 ITT size 5 bits")
    its.cmd((0x09, 0, 1 << 63 | 0 << 16 | 0, 0), "MAPC ICID 0 -> CPU 0")
    its.cmd((0x09, 0, 1 << 63 | 1 << 16 | 1, 0), "MAPC ICID 1 -> CPU 1")
    for ev in range(5):
        its.cmd((1 << 32 | 0x0A, (8192 + ev) << 32 | ev, 0, 0),
                f"MAPTI dev 1 ev {ev} -> {8192 + ev}")
    its.cmd((0x05, 0, 0, 0), "SYNC CPU 0")
    _lpi_state(s)
    its.cmd((1 << 32 | 0x03, 0, 0, 0), "INT dev 1 ev 0")
    _lpi_state(s)
    its.cmd((1 << 32 | 0x03, 1, 0, 0), "INT dev 1 ev 1")
    _lpi_state(s)
    its.cmd((1 << 32 | 0x03, 2, 0, 0), "INT dev 1 ev 2 (LPI disabled)")
    _lpi_state(s)
    s.sr("ICC_IAR1_EL1", "acknowledge 8193 (0x80)")
    _lpi_state(s)
    s.sr("ICC_IAR1_EL1", "8192 (0xa0) does not preempt")
    s.sw("ICC_EOIR1_EL1", 8193, "EOI 8193")
    _lpi_state(s)
    s.sr("ICC_IAR1_EL1", "acknowledge 8192")
    s.sw("ICC_EOIR1_EL1", 8192, "EOI 8192")
    _lpi_state(s)
    # enable LPI 8194 in the table, then INV
    s.w(PROP, 0x41_61_81_A1, note="LPI config 8194 enabled")
    _lpi_state(s)
    its.cmd((1 << 32 | 0x0C, 2, 0, 0), "INV dev 1 ev 2")
    _lpi_state(s)
    s.sr("ICC_IAR1_EL1", "acknowledge 8194")
    s.sw("ICC_EOIR1_EL1", 8194)
    # an SPI and an LPI of higher priority
    s.w(GICD + 0x84, 1 << 8, note="GICD_IGROUPR1 <- 40 Group 1")
    s.w(GICD + 0x428, 0x50, 1, "GICD_IPRIORITYR byte 40 <- 0x50")
    s.w(GICD + 0x6000 + 8 * 40, 0, 8, "GICD_IROUTER40 <- CPU 0")
    s.w(GICD + 0x104, 1 << 8, note="GICD_ISENABLER1 <- 40")
    s.w(GICD + 0x204, 1 << 8, note="GICD_ISPENDR1 <- 40")
    its.cmd((1 << 32 | 0x03, 3, 0, 0), "INT dev 1 ev 3 (0x40)")
    _lpi_state(s)
    s.sr("ICC_IAR1_EL1", "acknowledge 8195")
    _lpi_state(s)
    s.sr("ICC_IAR1_EL1", "40 does not preempt 0x40")
    s.sw("ICC_EOIR1_EL1", 8195)
    s.sr("ICC_IAR1_EL1", "acknowledge 40")
    s.sw("ICC_EOIR1_EL1", 40)
    _lpi_state(s)
    # MOVI to collection 1 (CPU 1): pending moves; CPU 1's pending table after disable
    its.cmd((1 << 32 | 0x01, 4, 1, 0), "MOVI dev 1 ev 4 -> ICID 1")
    its.cmd((1 << 32 | 0x03, 4, 0, 0), "INT dev 1 ev 4 (to CPU 1)")
    _lpi_state(s)
    its.cmd((1 << 32 | 0x03, 0, 0, 0), "INT dev 1 ev 0")
    its.cmd((1 << 32 | 0x04, 0, 0, 0), "CLEAR dev 1 ev 0")
    _lpi_state(s)
    its.cmd((1 << 32 | 0x03, 0, 0, 0), "INT dev 1 ev 0 again")
    its.cmd((1 << 32 | 0x0F, 0, 0, 0), "DISCARD dev 1 ev 0")
    _lpi_state(s)
    its.cmd((1 << 32 | 0x03, 0, 0, 0), "INT dev 1 ev 0 after DISCARD")
    _lpi_state(s)
    s.w(rd(1) + 0x0, 0, note="GICR1_CTLR <- 0 (writes the pending table)")
    s.r(rd(1) + 0x0, note="GICR1_CTLR")
    s.r(PEND1 + 8192 // 8, 8, "CPU 1 pending table, LPIs 8192..8255")
    s.w(rd(0) + 0x0, 0, note="GICR0_CTLR <- 0")
    s.r(PEND + 8192 // 8, 8, "CPU 0 pending table, LPIs 8192..8255")
    _lpi_state(s)
    return V3, s.ops
