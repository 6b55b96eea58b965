"""ITS probe scripts run on QEMU (``tools/qemu_peer``) and replayed on irqlab.

Each script is a function returning ``(machine, steps)``: ``steps`` are plain dicts
(``op`` r/w/sr/sw, ``addr``, ``size``, ``value``, ``note``) that the bare-metal peer
executes on CPU 0 of ``qemu-system-aarch64 -M virt,gic-version=3`` and that
``test_its_qemu.py`` replays on ``Machine.virt``.  The ITS's command queue and tables
live in RAM the peer program does not use (it runs at 0x4010_0000); they are written
with ordinary stores, as a driver would.

Regenerate the goldens (needs qemu-system-aarch64 and aarch64-linux-gnu-gcc)::

    .venv/bin/python tests/hw/gicv3/its_qemu_scripts.py [NAME ...]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

GICD = 0x0800_0000
GICR = 0x080A_0000
GITS = 0x0808_0000
TRANSLATER = GITS + 0x1_0040
CMDQ = 0x4800_0000           # 4 KiB: 128 commands
DT = 0x4801_0000             # one 64 KiB page: 8192 DTEs
CT = 0x4802_0000             # one 64 KiB page: 8192 CTEs
ITT = 0x4810_0000            # ITT of DeviceID n at ITT + n * 0x1000
PROP = 0x4820_0000           # LPI configuration table (IDbits 16)
PEND = 0x4830_0000           # pending tables: PEND + cpu * 0x1_0000
OUTSIDE = 0x1_0000_0000      # nothing decodes here on QEMU's virt with 1 GiB of RAM
V3 = {"gic": 3, "cpus": 4, "its": True}
LPI = 8192

Step = dict[str, object]

# ITS command opcodes
MOVI, INT, CLEAR, SYNC, MAPD, MAPC, MAPTI, MAPI = 0x01, 0x03, 0x04, 0x05, 0x08, 0x09, 0x0A, 0x0B
INV, INVALL, MOVALL, DISCARD = 0x0C, 0x0D, 0x0E, 0x0F


class S:
    """A script under construction, with a driver's view of the command queue."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.cwriter = 0

    def r(self, addr: int, size: int = 4, note: str = "") -> None:
        self.steps.append({"op": "r", "addr": addr, "size": size, "note": note})

    def w(self, addr: int, value: int, size: int = 4, note: str = "") -> None:
        self.steps.append({"op": "w", "addr": addr, "size": size, "value": value,
                           "note": note})

    def sr(self, reg: str, note: str = "") -> None:
        self.steps.append({"op": "sr", "reg": reg, "note": note})

    def sw(self, reg: str, value: int, note: str = "") -> None:
        self.steps.append({"op": "sw", "reg": reg, "value": value, "note": note})

    def cmd(self, note: str, op: int, dw0: int = 0, dw1: int = 0, dw2: int = 0,
            dw3: int = 0, *, retry: bool = False) -> None:
        """Place a command at CWRITER, advance CWRITER, read GITS_CREADR back."""
        for i, v in enumerate((op | dw0, dw1, dw2, dw3)):
            self.w(CMDQ + self.cwriter + 8 * i, v, 8, f"cmd {note} dw{i}" if i == 0 else "")
        self.cwriter = (self.cwriter + 32) % 0x1000
        self.w(GITS + 0x88, self.cwriter | int(retry), 8, f"GITS_CWRITER <- {note}")
        self.r(GITS + 0x90, 8, f"GITS_CREADR after {note}")

    def hppi(self, note: str) -> None:
        """CPU 0's highest priority pending Group 1 interrupt."""
        self.sr("ICC_HPPIR1_EL1", note)

    def ack(self, note: str) -> None:
        """Acknowledge and EOI what CPU 0 has, noting the INTID."""
        self.sr("ICC_IAR1_EL1", note)


def mapd(devid: int, size: int, itt: int, v: int = 1) -> tuple[int, int, int, int, int]:
    return MAPD, devid << 32, size, itt | v << 63, 0


def mapc(icid: int, rd: int, v: int = 1) -> tuple[int, int, int, int, int]:
    return MAPC, 0, 0, icid | rd << 16 | v << 63, 0


def mapti(devid: int, ev: int, intid: int, icid: int) -> tuple[int, int, int, int, int]:
    return MAPTI, devid << 32, ev | intid << 32, icid, 0


def ev_cmd(op: int, devid: int, ev: int, icid: int = 0) -> tuple[int, int, int, int, int]:
    return op, devid << 32, ev, icid, 0


def setup(s: S, *, enable_its: bool = True) -> None:
    """GIC and CPU 0 interface on, LPIs 8192-8255 enabled at priority 0xA0 on every
    redistributor, ITS tables and command queue programmed (64 KiB table pages)."""
    s.w(GICD + 0x0, 0x13, note="GICD_CTLR <- ARE|Grp1|Grp0")
    s.w(GICR + 0x14, 0, note="GICR0_WAKER <- 0")
    s.sw("ICC_PMR_EL1", 0xFF)
    s.sw("ICC_IGRPEN1_EL1", 1)
    for i in range(0, 64, 4):
        s.w(PROP + i, 0xA1A1_A1A1, note="LPI config: priority 0xa0, enabled" if not i else "")
    for cpu in range(4):
        rd = GICR + cpu * 0x2_0000
        s.w(rd + 0x70, PROP | 15, 8, f"GICR{cpu}_PROPBASER")
        s.w(rd + 0x78, PEND + cpu * 0x1_0000, 8, f"GICR{cpu}_PENDBASER")
        s.w(rd + 0x0, 1, note=f"GICR{cpu}_CTLR <- EnableLPIs")
    s.w(GITS + 0x100, 1 << 63 | 2 << 8 | DT, 8, "GITS_BASER0 <- DT, 64K, Valid")
    s.w(GITS + 0x108, 1 << 63 | 2 << 8 | CT, 8, "GITS_BASER1 <- CT, 64K, Valid")
    s.w(GITS + 0x80, 1 << 63 | CMDQ, 8, "GITS_CBASER <- CMDQ, 4K, Valid")
    s.w(GITS + 0x88, 0, 8, "GITS_CWRITER <- 0")
    if enable_its:
        s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
        s.r(GITS + 0x0, note="GITS_CTLR")


def its_regs() -> tuple[dict, list[Step]]:
    """GITS_* register read-back with the ITS disabled, then writes while enabled."""
    s = S()
    for off, name in ((0x100, "GITS_BASER0"), (0x108, "GITS_BASER1"), (0x110, "GITS_BASER2"),
                      (0x138, "GITS_BASER7")):
        s.r(GITS + off, 8, f"{name} reset")
        s.w(GITS + off, (1 << 64) - 1, 8, f"{name} <- ones")
        s.r(GITS + off, 8, name)
        s.w(GITS + off, 0, 8, f"{name} <- 0")
        s.r(GITS + off, 8, name)
        s.w(GITS + off + 4, 0xFFFF_FFFF, 4, f"{name}[63:32] <- ones")
        s.r(GITS + off, 8, name)
        s.w(GITS + off, 0, 8, f"{name} <- 0")
    for ps in (0, 1, 2, 3):
        s.w(GITS + 0x100, ps << 8 | 0x4801_3000, 8, f"GITS_BASER0 <- Page_Size {ps}, PA[13:12]")
        s.r(GITS + 0x100, 8, "GITS_BASER0")
    s.r(GITS + 0x80, 8, "GITS_CBASER reset")
    s.w(GITS + 0x80, 1 << 63 | 7 << 59 | 7 << 53 | 1 << 10 | CMDQ | 0xFF, 8,
        "GITS_CBASER <- defined fields")
    s.r(GITS + 0x80, 8, "GITS_CBASER")
    s.w(GITS + 0x80, 0, 8, "GITS_CBASER <- 0")
    s.w(GITS + 0x80, (1 << 64) - 1, 8, "GITS_CBASER <- ones (RES0 bits too)")
    s.r(GITS + 0x80, 8, "GITS_CBASER (RES0)")
    s.w(GITS + 0x80, 0, 8, "GITS_CBASER <- 0")
    s.w(GITS + 0x88, (1 << 64) - 2, 8, "GITS_CWRITER <- ones but Retry (RES0 bits too)")
    s.r(GITS + 0x88, 8, "GITS_CWRITER (RES0)")
    s.w(GITS + 0x88, 0x7FFE0, 8, "GITS_CWRITER <- Offset ones")
    s.r(GITS + 0x88, 8, "GITS_CWRITER")
    s.w(GITS + 0x88, 0x1, 8, "GITS_CWRITER <- Retry")
    s.r(GITS + 0x88, 8, "GITS_CWRITER")
    s.w(GITS + 0x8C, 0, 4, "GITS_CWRITER[63:32] <- 0")
    s.r(GITS + 0x88, 8, "GITS_CWRITER")
    s.r(GITS + 0x90, 8, "GITS_CREADR")
    s.w(GITS + 0x90, 0x40, 8, "GITS_CREADR <- 0x40 (read-only)")
    s.r(GITS + 0x90, 8, "GITS_CREADR (written)")
    s.w(GITS + 0x80, 1 << 63 | CMDQ, 8, "GITS_CBASER <- CMDQ (CREADR = 0)")
    s.r(GITS + 0x90, 8, "GITS_CREADR")
    s.w(GITS + 0x88, 0, 8, "GITS_CWRITER <- 0")
    s.w(GITS + 0x0, 0xFFFF_FFFE, note="GITS_CTLR <- ones but Enabled")
    s.r(GITS + 0x0, note="GITS_CTLR")
    # enabled: BASER and CBASER writes are ignored
    setup(s)
    s.r(GITS + 0x100, 8, "GITS_BASER0")
    s.w(GITS + 0x100, 0, 8, "GITS_BASER0 <- 0 while enabled")
    s.r(GITS + 0x100, 8, "GITS_BASER0")
    s.w(GITS + 0x80, 0, 8, "GITS_CBASER <- 0 while enabled")
    s.r(GITS + 0x80, 8, "GITS_CBASER")
    s.r(GITS + 0x90, 8, "GITS_CREADR")
    s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled again")
    s.r(GITS + 0x0, note="GITS_CTLR")
    s.w(GITS + 0x0, 0, note="GITS_CTLR <- 0")
    s.r(GITS + 0x0, note="GITS_CTLR")
    return V3, s.steps


def its_cmds() -> tuple[dict, list[Step]]:
    """Every physical command's effect, seen through CPU 0's interface and GITS_CREADR."""
    s = S()
    setup(s)
    s.cmd("MAPC 0 -> CPU0", *mapc(0, 0))
    s.cmd("MAPC 1 -> CPU1", *mapc(1, 1))
    s.cmd("MAPD 1", *mapd(1, 4, ITT + 0x1000))
    s.cmd("MAPTI 1/0 -> 8192 c0", *mapti(1, 0, LPI, 0))
    s.cmd("MAPTI 1/1 -> 8193 c1", *mapti(1, 1, LPI + 1, 1))
    s.cmd("MAPTI 1/2 -> 8194 c0", *mapti(1, 2, LPI + 2, 0))
    s.cmd("INT 1/0", *ev_cmd(INT, 1, 0))
    s.hppi("after INT 1/0")
    s.cmd("CLEAR 1/0", *ev_cmd(CLEAR, 1, 0))
    s.hppi("after CLEAR 1/0")
    s.cmd("INT 1/1 (CPU1)", *ev_cmd(INT, 1, 1))
    s.hppi("after INT 1/1 (pending on CPU1)")
    s.cmd("MOVI 1/1 -> c0", *ev_cmd(MOVI, 1, 1, 0))
    s.hppi("after MOVI: 8193 on CPU0")
    s.ack("ack 8193")
    s.sw("ICC_EOIR1_EL1", LPI + 1)
    s.cmd("MOVI 1/1 -> c1", *ev_cmd(MOVI, 1, 1, 1))
    s.cmd("INT 1/1 (CPU1)", *ev_cmd(INT, 1, 1))
    s.hppi("8193 pending on CPU1")
    s.cmd("MOVALL CPU1 -> CPU0", MOVALL, 0, 0, 1 << 16, 0)
    s.hppi("after MOVALL: 8193 on CPU0")
    s.ack("ack 8193")
    s.sw("ICC_EOIR1_EL1", LPI + 1)
    s.cmd("MOVALL CPU0 -> CPU0", MOVALL, 0, 0, 0, 0)
    # MSI from a CPU store: QEMU's CPU accesses carry requester ID 0
    s.cmd("MAPD 0", *mapd(0, 4, ITT))
    s.cmd("MAPTI 0/3 -> 8200 c0", *mapti(0, 3, LPI + 8, 0))
    s.w(TRANSLATER, 3, note="GITS_TRANSLATER <- 3 (CPU store)")
    s.hppi("after the CPU store")
    s.ack("ack 8200")
    s.sw("ICC_EOIR1_EL1", LPI + 8)
    s.w(TRANSLATER, 3, 2, note="GITS_TRANSLATER <- 3 (16-bit CPU store)")
    s.hppi("after the 16-bit CPU store")
    s.ack("ack 8200")
    s.sw("ICC_EOIR1_EL1", LPI + 8)
    # DISCARD: the pending state goes, and the mapping
    s.cmd("INT 1/2", *ev_cmd(INT, 1, 2))
    s.cmd("DISCARD 1/2", *ev_cmd(DISCARD, 1, 2))
    s.hppi("after DISCARD")
    s.cmd("INT 1/2 (discarded)", *ev_cmd(INT, 1, 2))
    s.hppi("after INT of a discarded event")
    # INV / INVALL / SYNC
    s.cmd("INV 1/0", *ev_cmd(INV, 1, 0))
    s.cmd("INVALL 0", INVALL, 0, 0, 0, 0)
    s.cmd("SYNC CPU0", SYNC, 0, 0, 0, 0)
    # MAPD V=0 then V=1 again: the ITT in memory is found again
    s.cmd("MAPD 1 V=0", *mapd(1, 4, ITT + 0x1000, 0))
    s.cmd("INT 1/0 (unmapped device)", *ev_cmd(INT, 1, 0))
    s.hppi("after INT to an unmapped device")
    s.cmd("MAPD 1 again", *mapd(1, 4, ITT + 0x1000))
    s.cmd("INT 1/0", *ev_cmd(INT, 1, 0))
    s.hppi("after INT 1/0 (remapped)")
    s.ack("ack 8192")
    s.sw("ICC_EOIR1_EL1", LPI)
    # MAPC V=0: events of the collection stop; MAPC V=1 again restores them
    s.cmd("MAPC 0 V=0", *mapc(0, 0, 0))
    s.cmd("INT 1/0 (unmapped collection)", *ev_cmd(INT, 1, 0))
    s.hppi("after INT with an unmapped collection")
    s.cmd("MAPC 0 -> CPU0", *mapc(0, 0))
    s.cmd("INT 1/0", *ev_cmd(INT, 1, 0))
    s.hppi("after INT 1/0 (collection remapped)")
    s.ack("ack 8192")
    s.sw("ICC_EOIR1_EL1", LPI)
    # MAPTI over an existing mapping
    s.cmd("MAPTI 1/0 -> 8201 c0 (remap)", *mapti(1, 0, LPI + 9, 0))
    s.cmd("INT 1/0", *ev_cmd(INT, 1, 0))
    s.hppi("after INT 1/0 (remapped event)")
    s.ack("ack 8201")
    s.sw("ICC_EOIR1_EL1", LPI + 9)
    s.cmd("MAPI 1/5 -> 5 (not an LPI)", MAPI, 1 << 32, 5, 0, 0)
    s.hppi("nothing pending")
    return V3, s.steps


def its_errors() -> tuple[dict, list[Step]]:
    """Command errors: which are skipped (CREADR moves on) and which stall."""
    s = S()
    setup(s)
    s.cmd("MAPC 0 -> CPU0", *mapc(0, 0))
    s.cmd("MAPD 1", *mapd(1, 4, ITT + 0x1000))
    s.cmd("MAPTI 1/0 -> 8192 c0", *mapti(1, 0, LPI, 0))
    bad = [
        ("MAPD DeviceID beyond the table", mapd(0x2000, 4, ITT)),
        ("MAPD Size 16", mapd(2, 16, ITT)),
        ("MAPC ICID beyond the table", mapc(0x2000, 0)),
        ("MAPC RDbase 4", mapc(2, 4)),
        ("MAPC RDbase 0x10001", mapc(3, 0x1_0001)),
        ("MAPTI unmapped device", mapti(9, 0, LPI, 0)),
        ("MAPTI EventID 32", mapti(1, 32, LPI, 0)),
        ("MAPTI ICID beyond the table", mapti(1, 3, LPI, 0x2000)),
        ("MAPTI pINTID 8191", mapti(1, 3, LPI - 1, 0)),
        ("MAPTI pINTID 65536", mapti(1, 3, 1 << 16, 0)),
        ("INT unmapped event", ev_cmd(INT, 1, 7)),
        ("INT EventID 32", ev_cmd(INT, 1, 32)),
        ("CLEAR unmapped device", ev_cmd(CLEAR, 5, 0)),
        ("MOVI to unmapped collection", ev_cmd(MOVI, 1, 0, 7)),
        ("DISCARD unmapped event", ev_cmd(DISCARD, 1, 7)),
        ("INV unmapped event", ev_cmd(INV, 1, 7)),
        ("INVALL unmapped collection", (INVALL, 0, 0, 7, 0)),
        ("MOVALL RDbase 9", (MOVALL, 0, 0, 9 << 16, 0)),
        ("SYNC RDbase 9", (SYNC, 0, 0, 9 << 16, 0)),
        ("VMAPTI (GICv4)", (0x2A, 1 << 32, 0, 0, 0)),
        ("opcode 0x77", (0x77, 0, 0, 0, 0)),
        ("MAPD V=0 Size 31", mapd(2, 31, 0, 0)),
    ]
    for note, c in bad:
        s.cmd(note, *c)
    s.cmd("INT 1/0 (still mapped)", *ev_cmd(INT, 1, 0))
    s.hppi("8192 pending")
    s.ack("ack 8192")
    s.sw("ICC_EOIR1_EL1", LPI)
    # a write to GITS_CWRITER beyond the queue runs nothing
    s.w(GITS + 0x88, 0x2000, 8, "GITS_CWRITER <- beyond the queue")
    s.r(GITS + 0x90, 8, "GITS_CREADR")
    s.w(GITS + 0x88, s.cwriter, 8, "GITS_CWRITER <- back")
    s.r(GITS + 0x90, 8, "GITS_CREADR")
    # memory fault: an ITT nothing decodes stalls the queue
    s.cmd("MAPD 2 (ITT outside RAM)", *mapd(2, 4, OUTSIDE))
    s.cmd("MAPTI 2/0 (stalls)", *mapti(2, 0, LPI + 2, 0))
    s.cmd("INT 1/0 behind the stall", *ev_cmd(INT, 1, 0))
    s.hppi("after INT queued behind a stall")
    s.cmd("SYNC with Retry", SYNC, 0, 0, 0, 0, retry=True)
    s.hppi("after Retry")
    # software replaces the failing MAPTI by a SYNC in memory, then writes GITS_CWRITER
    # without Retry: QEMU re-runs the queue, irqlab (IHI 0069) waits for Retry
    stalled_at = 0x360
    for i, v in enumerate((SYNC, 0, 0, 0)):
        s.w(CMDQ + stalled_at + 8 * i, v, 8, "fix the stalled command: SYNC" if not i else "")
    s.w(GITS + 0x88, s.cwriter, 8, "GITS_CWRITER <- same, no Retry")
    s.r(GITS + 0x90, 8, "GITS_CREADR after a CWRITER write without Retry")
    s.hppi("after a CWRITER write without Retry")
    s.w(GITS + 0x88, s.cwriter | 1, 8, "GITS_CWRITER <- same, Retry")
    s.r(GITS + 0x90, 8, "GITS_CREADR after Retry")
    s.hppi("after Retry: the INT ran")
    s.ack("ack 8192")
    s.sw("ICC_EOIR1_EL1", LPI)
    s.w(GITS + 0x0, 0, note="GITS_CTLR <- 0")
    s.w(GITS + 0x80, 1 << 63 | CMDQ, 8, "GITS_CBASER <- CMDQ (CREADR = 0)")
    s.r(GITS + 0x90, 8, "GITS_CREADR")
    s.w(GITS + 0x88, 0, 8, "GITS_CWRITER <- 0")
    s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
    s.cwriter = 0
    s.cmd("INT 1/0 after the reset of the queue", *ev_cmd(INT, 1, 0))
    s.hppi("8192 pending")
    return V3, s.steps


def its_sizes() -> tuple[dict, list[Step]]:
    """1-, 2-, 4- and 8-byte accesses to each kind of ITS register, and MSIs of each size."""
    s = S()
    setup(s)
    s.cmd("MAPC 0 -> CPU0", *mapc(0, 0))
    s.cmd("MAPD 0", *mapd(0, 4, ITT))
    s.cmd("MAPTI 0/1 -> 8193 c0", *mapti(0, 1, LPI + 1, 0))
    regs = ((0x0, "GITS_CTLR"), (0x4, "GITS_IIDR"), (0x8, "GITS_TYPER"), (0xC, "GITS_TYPER+4"),
            (0x80, "GITS_CBASER"), (0x90, "GITS_CREADR"), (0x100, "GITS_BASER0"),
            (0x104, "GITS_BASER0+4"), (0x40, "reserved 0x40"), (0x140, "reserved 0x140"),
            (0xFFE8, "GITS_PIDR2"))
    for off, name in regs:
        for size in (1, 2, 4, 8):
            if off % size == 0:
                s.r(GITS + off, size, f"{name} read {size}")
    for size in (1, 2, 8):
        s.w(GITS + 0x0, 0, size, f"GITS_CTLR <- 0 ({size} bytes)")
        s.r(GITS + 0x0, note="GITS_CTLR")
    s.w(GITS + 0x100, 0, 2, "GITS_BASER0 <- 0 (2 bytes, while enabled)")
    s.r(GITS + 0x100, 8, "GITS_BASER0")
    for size in (1, 2, 4, 8):
        s.r(TRANSLATER, size, f"GITS_TRANSLATER read {size}")
        s.w(TRANSLATER, 1, size, f"GITS_TRANSLATER <- 1 ({size} bytes)")
        s.hppi(f"after a {size}-byte MSI")
        s.ack(f"ack after a {size}-byte MSI")
        s.sw("ICC_EOIR1_EL1", LPI + 1)
    s.w(TRANSLATER + 2, 1, 2, "GITS_TRANSLATER+2 <- 1 (2 bytes)")
    s.hppi("after a write to TRANSLATER+2")
    s.w(GITS + 0x1_0000, 1, 4, "translation frame +0 <- 1")
    s.hppi("after a write to translation frame +0")
    s.r(GITS + 0x1_0000, 4, "translation frame +0 read")
    return V3, s.steps


def its_tables() -> tuple[dict, list[Step]]:
    """Table geometry: flat 4 KiB pages, a two-level device table with 16 KiB pages."""
    s = S()
    setup(s, enable_its=False)
    s.w(GITS + 0x100, 1 << 63 | 0 << 8 | DT, 8, "GITS_BASER0 <- DT, 4K, 1 page, flat")
    s.w(GITS + 0x108, 1 << 63 | 0 << 8 | CT, 8, "GITS_BASER1 <- CT, 4K, 1 page, flat")
    s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
    s.cmd("MAPC 511 -> CPU0", *mapc(511, 0))
    s.cmd("MAPC 512 (beyond 1 page)", *mapc(512, 0))
    s.cmd("MAPD 511", *mapd(511, 1, ITT))
    s.cmd("MAPD 512 (beyond 1 page)", *mapd(512, 1, ITT + 0x1000))
    s.cmd("MAPTI 511/3 -> 8195 c511", *mapti(511, 3, LPI + 3, 511))
    s.cmd("MAPTI 512/0 -> 8196 c511", *mapti(512, 0, LPI + 4, 511))
    s.cmd("MAPTI 511/0 -> 8196 c512", *mapti(511, 0, LPI + 4, 512))
    s.cmd("INT 511/3", *ev_cmd(INT, 511, 3))
    s.hppi("8195 pending")
    s.ack("ack 8195")
    s.sw("ICC_EOIR1_EL1", LPI + 3)
    s.cmd("INT 511/0", *ev_cmd(INT, 511, 0))
    s.hppi("nothing pending (the MAPTI was rejected)")
    # two-level device table, 16 KiB pages: a level-1 entry covers 2048 DeviceIDs
    s.w(GITS + 0x0, 0, note="GITS_CTLR <- 0")
    s.w(GITS + 0x100, 1 << 63 | 1 << 62 | 1 << 8 | DT, 8,
        "GITS_BASER0 <- DT, 16K, 1 page, two-level")
    s.w(GITS + 0x80, 1 << 63 | CMDQ, 8, "GITS_CBASER <- CMDQ (CREADR = 0)")
    s.w(GITS + 0x88, 0, 8, "GITS_CWRITER <- 0")
    s.cwriter = 0
    l2a, l2b = 0x4840_0000, 0x4840_4000
    s.w(DT, 1 << 63 | l2a, 8, "L1[0] <- level-2 page A")
    s.w(DT + 8, 0, 8, "L1[1] <- invalid")
    s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
    s.r(GITS + 0x100, 8, "GITS_BASER0")
    s.cmd("MAPC 0 -> CPU0", *mapc(0, 0))
    s.cmd("MAPD 2047 (L1[0])", *mapd(2047, 1, ITT + 0x2000))
    s.cmd("MAPTI 2047/1 -> 8197 c0", *mapti(2047, 1, LPI + 5, 0))
    s.cmd("MAPD 2048 (L1[1] invalid)", *mapd(2048, 1, ITT + 0x3000))
    s.cmd("MAPTI 2048/1 -> 8198 c0", *mapti(2048, 1, LPI + 6, 0))
    s.cmd("INT 2047/1", *ev_cmd(INT, 2047, 1))
    s.hppi("8197 pending")
    s.ack("ack 8197")
    s.sw("ICC_EOIR1_EL1", LPI + 5)
    s.cmd("INT 2048/1", *ev_cmd(INT, 2048, 1))
    s.hppi("nothing pending (DeviceID 2048 has no level-2 page)")
    s.w(DT + 8, 1 << 63 | l2b, 8, "L1[1] <- level-2 page B (ITS enabled)")
    s.cmd("MAPD 2048 (L1[1] valid)", *mapd(2048, 1, ITT + 0x3000))
    s.cmd("MAPTI 2048/1 -> 8198 c0", *mapti(2048, 1, LPI + 6, 0))
    s.cmd("INT 2048/1", *ev_cmd(INT, 2048, 1))
    s.hppi("8198 pending")
    s.ack("ack 8198")
    s.sw("ICC_EOIR1_EL1", LPI + 6)
    s.w(TRANSLATER, 1, note="GITS_TRANSLATER <- 1 (DeviceID 0: not mapped)")
    s.hppi("nothing pending")
    s.cmd("MAPD 4096 (L1[2] is zero: not valid)", *mapd(4096, 1, ITT))
    s.cmd("MAPD 0x10000 (beyond Devbits)", *mapd(0x1_0000, 1, ITT))
    # two-level collection table, 4 KiB pages: a level-1 entry covers 512 ICIDs
    s.w(GITS + 0x0, 0, note="GITS_CTLR <- 0")
    s.w(GITS + 0x108, 1 << 63 | 1 << 62 | CT, 8, "GITS_BASER1 <- CT, 4K, two-level")
    s.w(CT, 1 << 63 | 0x4841_0000, 8, "CT L1[0] <- level-2 page")
    s.w(CT + 8, 0, 8, "CT L1[1] <- invalid")
    s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
    s.cmd("MAPC 511 -> CPU0 (L1[0])", *mapc(511, 0))
    s.cmd("MAPC 512 -> CPU0 (L1[1] invalid)", *mapc(512, 0))
    s.cmd("MAPTI 2047/2 -> 8199 c511", *mapti(2047, 2, LPI + 7, 511))
    s.cmd("MAPTI 2047/3 -> 8200 c512", *mapti(2047, 3, LPI + 8, 512))
    s.cmd("INT 2047/3 (collection 512 not mapped)", *ev_cmd(INT, 2047, 3))
    s.hppi("nothing pending")
    s.cmd("INT 2047/2", *ev_cmd(INT, 2047, 2))
    s.hppi("8199 pending")
    s.ack("ack 8199")
    s.sw("ICC_EOIR1_EL1", LPI + 7)
    s.cmd("MAPC 0x8000 (beyond 512 L1 entries of 512)", *mapc(0x8000, 0))
    return V3, s.steps


def its_wrap() -> tuple[dict, list[Step]]:
    """The command queue wraps: 140 commands through a 128-entry ring."""
    s = S()
    setup(s)
    s.cmd("MAPC 0 -> CPU0", *mapc(0, 0))
    s.cmd("MAPD 1", *mapd(1, 4, ITT + 0x1000))
    s.cmd("MAPTI 1/0 -> 8192 c0", *mapti(1, 0, LPI, 0))
    for i in range(136):
        s.cmd(f"SYNC {i}", SYNC, 0, 0, 0, 0)
    s.cmd("INT 1/0 (after the wrap)", *ev_cmd(INT, 1, 0))
    s.hppi("8192 pending")
    s.r(GITS + 0x88, 8, "GITS_CWRITER")
    return V3, s.steps


def its_inv() -> tuple[dict, list[Step]]:
    """LPI configuration changes in memory and INV / INVALL (the redistributor's cache)."""
    s = S()
    setup(s)
    s.cmd("MAPC 0 -> CPU0", *mapc(0, 0))
    s.cmd("MAPD 1", *mapd(1, 4, ITT + 0x1000))
    s.cmd("MAPTI 1/0 -> 8192 c0", *mapti(1, 0, LPI, 0))
    s.cmd("MAPTI 1/1 -> 8193 c0", *mapti(1, 1, LPI + 1, 0))
    s.w(PROP, 0xA1A1_A1A0, note="LPI 8192 disabled in memory")
    s.cmd("INV 1/0", *ev_cmd(INV, 1, 0))
    s.cmd("INT 1/0", *ev_cmd(INT, 1, 0))
    s.hppi("8192 pending but disabled")
    s.w(PROP, 0xA1A1_A1A1, note="LPI 8192 enabled in memory, no INV")
    s.hppi("after enabling in memory without INV")
    s.cmd("INV 1/0", *ev_cmd(INV, 1, 0))
    s.hppi("after INV")
    s.cmd("INT 1/1", *ev_cmd(INT, 1, 1))
    s.w(PROP, 0xA1A1_8141, note="8192 priority 0x40, 8193 priority 0x80, no INV")
    s.hppi("after re-prioritising without INV")
    s.cmd("INVALL 0", INVALL, 0, 0, 0, 0)
    s.hppi("after INVALL")
    s.ack("ack")
    s.sw("ICC_EOIR1_EL1", LPI)
    s.ack("ack")
    s.sw("ICC_EOIR1_EL1", LPI + 1)
    s.hppi("nothing pending")
    return V3, s.steps


def _reset_queue(s: S, note: str) -> None:
    s.w(GITS + 0x0, 0, note=f"GITS_CTLR <- 0 ({note})")
    s.w(GITS + 0x80, 1 << 63 | CMDQ, 8, "GITS_CBASER <- CMDQ (CREADR = 0)")
    s.w(GITS + 0x88, 0, 8, "GITS_CWRITER <- 0")
    s.cwriter = 0


def its_memfault() -> tuple[dict, list[Step]]:
    """Tables, ITTs and the queue where nothing decodes: which accesses stall the queue."""
    s = S()
    setup(s)
    s.cmd("MAPC 0 -> CPU0", *mapc(0, 0))
    s.cmd("MAPD 1", *mapd(1, 4, ITT + 0x1000))
    s.cmd("MAPTI 1/0 -> 8192 c0", *mapti(1, 0, LPI, 0))
    s.cmd("MAPD 2 (ITT outside RAM)", *mapd(2, 4, OUTSIDE))
    s.cmd("INT 2/0 (reads the ITE: stall?)", *ev_cmd(INT, 2, 0))
    _reset_queue(s, "after INT 2/0")
    s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
    for note, c in (("CLEAR 2/0", ev_cmd(CLEAR, 2, 0)), ("DISCARD 2/0", ev_cmd(DISCARD, 2, 0)),
                    ("INV 2/0", ev_cmd(INV, 2, 0)), ("MOVI 2/0 -> c0", ev_cmd(MOVI, 2, 0, 0)),
                    ("INT 2/32 (EventID out of range first)", ev_cmd(INT, 2, 32))):
        s.cmd(note, *c)
        _reset_queue(s, f"after {note}")
        s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
    s.w(TRANSLATER, 0, note="GITS_TRANSLATER <- 0 (DeviceID 0: not mapped)")
    s.cmd("MAPD 0 (ITT outside RAM)", *mapd(0, 4, OUTSIDE))
    s.w(TRANSLATER, 0, note="GITS_TRANSLATER <- 0 (its ITE is outside RAM)")
    s.r(GITS + 0x90, 8, "GITS_CREADR")
    # the collection table outside RAM
    _reset_queue(s, "moving the collection table")
    s.w(GITS + 0x108, 1 << 63 | 2 << 8 | OUTSIDE, 8, "GITS_BASER1 <- outside RAM")
    s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
    s.cmd("INT 1/0 (reads the CTE: stall?)", *ev_cmd(INT, 1, 0))
    _reset_queue(s, "after INT 1/0")
    s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
    s.cmd("INVALL 0", INVALL, 0, 0, 0, 0)
    _reset_queue(s, "after INVALL")
    s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
    s.cmd("MAPC 0 -> CPU0 (writes the CTE: stall?)", *mapc(0, 0))
    # the device table outside RAM
    _reset_queue(s, "moving the device table")
    s.w(GITS + 0x108, 1 << 63 | 2 << 8 | CT, 8, "GITS_BASER1 <- CT")
    s.w(GITS + 0x100, 1 << 63 | 2 << 8 | OUTSIDE, 8, "GITS_BASER0 <- outside RAM")
    s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
    s.cmd("INT 1/0 (reads the DTE: stall?)", *ev_cmd(INT, 1, 0))
    _reset_queue(s, "after INT 1/0")
    s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
    s.cmd("MAPTI 1/1 (reads the DTE: stall?)", *mapti(1, 1, LPI + 1, 0))
    _reset_queue(s, "after MAPTI 1/1")
    s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
    s.cmd("MAPD 1 (writes the DTE: stall?)", *mapd(1, 4, ITT + 0x1000))
    # the command queue outside RAM
    _reset_queue(s, "moving the queue")
    s.w(GITS + 0x100, 1 << 63 | 2 << 8 | DT, 8, "GITS_BASER0 <- DT")
    s.w(GITS + 0x80, 1 << 63 | OUTSIDE, 8, "GITS_CBASER <- outside RAM")
    s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
    s.w(GITS + 0x88, 0x40, 8, "GITS_CWRITER <- 0x40")
    s.r(GITS + 0x90, 8, "GITS_CREADR (queue outside RAM)")
    return V3, s.steps


def its_lifecycle() -> tuple[dict, list[Step]]:
    """Re-targeting a collection with LPIs pending, disable/enable, moving the tables."""
    s = S()
    setup(s)
    s.cmd("MAPC 0 -> CPU1", *mapc(0, 1))
    s.cmd("MAPD 0", *mapd(0, 4, ITT))
    s.cmd("MAPTI 0/1 -> 8193 c0", *mapti(0, 1, LPI + 1, 0))
    s.cmd("INT 0/1 (pending on CPU1)", *ev_cmd(INT, 0, 1))
    s.cmd("MAPC 0 -> CPU0 (remap)", *mapc(0, 0))
    s.hppi("the pending LPI stays on CPU1")
    s.cmd("MOVALL CPU1 -> CPU0", MOVALL, 0, 0, 1 << 16, 0)
    s.hppi("after MOVALL")
    s.ack("ack 8193")
    s.sw("ICC_EOIR1_EL1", LPI + 1)
    s.w(TRANSLATER, 1, note="MSI 0/1 (CPU store)")
    s.hppi("collection 0 now targets CPU0")
    s.ack("ack 8193")
    s.sw("ICC_EOIR1_EL1", LPI + 1)
    s.w(GITS + 0x0, 0, note="GITS_CTLR <- 0")
    s.r(GITS + 0x0, note="GITS_CTLR")
    s.w(TRANSLATER, 1, note="MSI 0/1 while disabled")
    s.hppi("dropped while disabled")
    s.cmd("INT 0/1 while disabled (queued)", *ev_cmd(INT, 0, 1))
    s.hppi("commands wait while disabled")
    s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
    s.r(GITS + 0x90, 8, "GITS_CREADR after enabling")
    s.hppi("the queued INT ran")
    s.ack("ack 8193")
    s.sw("ICC_EOIR1_EL1", LPI + 1)
    # tables somewhere else, then back
    s.w(GITS + 0x0, 0, note="GITS_CTLR <- 0")
    s.w(GITS + 0x100, 1 << 63 | 2 << 8 | 0x4850_0000, 8, "GITS_BASER0 <- an empty table")
    s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
    s.w(TRANSLATER, 1, note="MSI 0/1 (empty device table)")
    s.hppi("nothing: DeviceID 0 has no DTE there")
    s.w(GITS + 0x0, 0, note="GITS_CTLR <- 0")
    s.w(GITS + 0x100, 1 << 63 | 2 << 8 | DT, 8, "GITS_BASER0 <- DT again")
    s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
    s.w(TRANSLATER, 1, note="MSI 0/1 (DT again)")
    s.hppi("the mapping is back from memory")
    s.ack("ack 8193")
    s.sw("ICC_EOIR1_EL1", LPI + 1)
    s.w(GITS + 0x0, 0, note="GITS_CTLR <- 0")
    s.w(GITS + 0x100, 0, 8, "GITS_BASER0 <- not Valid")
    s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
    s.w(TRANSLATER, 1, note="MSI 0/1 (device table not Valid)")
    s.hppi("nothing: no device table")
    s.cmd("MAPD 0 (no device table)", *mapd(0, 4, ITT))
    # 32-bit halves of the queue registers
    s.w(GITS + 0x0, 0, note="GITS_CTLR <- 0")
    s.r(GITS + 0x90, 8, "GITS_CREADR (disabled)")
    s.w(GITS + 0x84, 1 << 31, 4, "GITS_CBASER[63:32] <- Valid")
    s.r(GITS + 0x90, 8, "GITS_CREADR after a CBASER upper-half write")
    s.r(GITS + 0x80, 8, "GITS_CBASER")
    s.w(GITS + 0x88, 0x40, 4, "GITS_CWRITER[31:0] <- 0x40 (disabled)")
    s.r(GITS + 0x90, 8, "GITS_CREADR")
    s.w(GITS + 0x0, 1, note="GITS_CTLR <- Enabled")
    s.r(GITS + 0x90, 8, "GITS_CREADR after enabling")
    s.r(GITS + 0x8C, 4, "GITS_CWRITER[63:32]")
    s.r(GITS + 0x94, 4, "GITS_CREADR[63:32]")
    return V3, s.steps


def random_script(seed: int) -> tuple[dict, list[Step]]:
    """A random command sequence (small IDs, valid and invalid fields, CPU-store MSIs,
    disable/enable) with GITS_CREADR and CPU 0's HPPI read after the steps; the pending
    LPIs of CPUs 1-3 are moved to CPU 0 at the end so that they show.  Each device has its
    own ITT (overlapping ITTs are UNPREDICTABLE; see docs/its.md)."""
    import random

    rnd = random.Random(seed)
    s = S()
    setup(s)

    def dev() -> int:
        return rnd.choice([0, 1, 2, 3, 3, 9])

    def ev() -> int:
        return rnd.choice([0, 1, 2, 3, 5, 7, 40])

    def icid() -> int:
        return rnd.choice([0, 1, 2, 3, 7, 0x2000])

    def rdb() -> int:
        return rnd.choice([0, 0, 1, 2, 3, 4])

    def lpi() -> int:
        return rnd.choice([LPI, LPI + 1, LPI + 2, LPI + 3, LPI + 9, 100, 1 << 16])

    for i in range(rnd.randint(20, 70)):
        k = rnd.randrange(16)
        if k >= 14:
            s.w(GITS + 0x0, 0, note=f"disable {i}")
            s.w(TRANSLATER, ev(), note=f"CPU MSI while disabled {i}")
            s.w(GITS + 0x0, 1, note=f"enable {i}")
            s.hppi(f"HPPI after re-enabling {i}")
            continue
        if k == 13:
            s.w(TRANSLATER, ev(), note=f"CPU MSI {i}")
            s.hppi(f"HPPI {i}")
            continue
        c: tuple[int, ...]
        if k == 0:
            c = mapc(icid(), rdb(), int(rnd.random() < 0.85))
        elif k == 1:
            d = dev()
            c = mapd(d, rnd.choice([0, 1, 2, 3, 15, 16]), 0x4900_0000 + 0x8_0000 * d,
                     int(rnd.random() < 0.85))
        elif k in (2, 3):
            c = mapti(dev(), ev(), lpi(), icid())
        elif k == 4:
            c = (MAPI, dev() << 32, rnd.choice([0, 1, LPI, LPI + 1]), icid(), 0)
        elif k in (5, 6):
            c = ev_cmd(INT, dev(), ev())
        elif k == 7:
            c = ev_cmd(CLEAR, dev(), ev())
        elif k == 8:
            c = ev_cmd(DISCARD, dev(), ev())
        elif k == 9:
            c = ev_cmd(MOVI, dev(), ev(), icid())
        elif k == 10:
            c = (MOVALL, 0, 0, rdb() << 16, rdb() << 16)
        elif k == 11:
            c = (INVALL, 0, 0, icid(), 0)
        else:
            c = ev_cmd(INV, dev(), ev())
        s.cmd(f"c{i}", *c)
        if rnd.random() < 0.4:
            s.hppi(f"HPPI {i}")
    for r in range(1, 4):
        s.cmd(f"MOVALL {r} -> 0", MOVALL, 0, 0, r << 16, 0)
    s.hppi("final")
    return V3, s.steps


def record_steps(machine: dict, steps: list[Step]) -> list[dict]:
    """Run ``steps`` on QEMU; each step's JSON form with QEMU's outcome (``got``)."""
    sys.path.insert(0, str(TOOLS))
    try:
        from peer import Op, run  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(TOOLS))
    ops = [Op(str(st["op"]), int(st.get("addr", 0)), int(st.get("size", 4)),  # type: ignore
              int(st.get("value", 0)), str(st.get("reg", "")), str(st.get("note", "")))
           for st in steps]
    results = run(ops, machine, timeout=120.0)
    return [{**op.to_json(), **res} for op, res in zip(ops, results, strict=True)]


SCRIPTS: dict[str, Callable[[], tuple[dict, list[Step]]]] = {
    "its_wrap": its_wrap,
    "its_lifecycle": its_lifecycle,
    "its_memfault": its_memfault,
    "its_tables": its_tables, "its_inv": its_inv,
    "its_regs": its_regs, "its_cmds": its_cmds, "its_errors": its_errors,
    "its_sizes": its_sizes}
GOLDEN = Path(__file__).resolve().parent / "its_qemu_golden"
TOOLS = Path(__file__).resolve().parents[3] / "tools" / "qemu_peer"


def record(name: str) -> dict[str, object]:
    """Run script ``name`` on QEMU (through tools/qemu_peer) and return its golden."""
    sys.path.insert(0, str(TOOLS))
    try:
        from peer import qemu_args, qemu_version  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(TOOLS))
    machine, steps = SCRIPTS[name]()
    out = record_steps(machine, steps)
    return {"name": name, "doc": (SCRIPTS[name].__doc__ or "").strip(),
            "qemu": qemu_version(), "qemu_args": qemu_args(machine)[1:], "machine": machine,
            "steps": out}


def main(argv: list[str]) -> int:
    GOLDEN.mkdir(exist_ok=True)
    for name in argv or sorted(SCRIPTS):
        rec = record(name)
        lines = ",\n".join("    " + json.dumps(st) for st in rec["steps"])  # type: ignore
        head = {k: v for k, v in rec.items() if k != "steps"}
        text = json.dumps(head, indent=1)[:-2] + ',\n "steps": [\n' + lines + "\n ]\n}\n"
        json.loads(text)
        (GOLDEN / f"{name}.json").write_text(text)
        print(f"{name}: {len(rec['steps'])} steps")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
