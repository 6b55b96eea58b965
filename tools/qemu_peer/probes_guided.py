"""Model-guided random scripts: irqlab runs alongside the generator so that the script
only does architecturally defined things (EOI the interrupt it acknowledged, rewrite a
list register only when it is free).  QEMU then runs the same fixed script; any
difference in the golden test is a real one (an IAR value irqlab predicted wrongly shows
up there as well).
"""

from __future__ import annotations

import random

from common import GICC, GICD, S
from peer import Op

from irqlab.hw.machine import Machine

GICH = 0x0803_0000
GICV = 0x0804_0000


class _Lockstep:
    """Appends MMIO steps to the script and performs them on an irqlab machine."""

    def __init__(self, s: S, m: Machine) -> None:
        self.s = s
        self.c = m.cpus[0]

    def r(self, addr: int, note: str) -> int:
        self.s.r(addr, note=note)
        return self.c.read(addr)

    def w(self, addr: int, value: int, note: str) -> None:
        self.s.w(addr, value, note=note)
        self.c.write(addr, value)


def gicv2_virt_guided(seed: int = 6, rounds: int = 250) -> tuple[dict, list[Op]]:
    """GICv2 virtualization: free list registers refilled, GICV_IAR/EOIR/DIR in order."""
    r = random.Random(seed)
    machine = {"gic": 2, "cpus": 4, "virtualization": True}
    m = Machine.virt(cpus=4, gic=2, virtualization=True)
    s = S()
    x = _Lockstep(s, m)
    x.w(GICD + 0x0, 0x3, "GICD_CTLR <- EnableGrp0|EnableGrp1")
    x.w(GICC + 0x0, 0x3, "GICC_CTLR <- EnableGrp0|EnableGrp1")
    x.w(GICH + 0x0, 1, "GICH_HCR <- En")
    x.w(GICV + 0x0, 0x3, "GICV_CTLR <- EnableGrp0|EnableGrp1")
    x.w(GICV + 0x4, 0xF8, "GICV_PMR <- 0xf8")
    acked: list[int] = []      # GICV_IAR values, innermost last
    dropped: list[int] = []    # EOImode = 1: dropped, awaiting GICV_DIR
    eoim = False
    next_vid = 16
    for _ in range(rounds):
        elrsr = x.r(GICH + 0x30, "GICH_ELRSR0")
        live = {x.r(GICH + 0x100 + 4 * n, f"GICH_LR{n}") & 0x3FF for n in range(4)
                if not elrsr >> n & 1}
        for n in range(4):
            if elrsr >> n & 1 and r.randrange(3):
                vid = next_vid
                next_vid = 16 + (next_vid - 15) % 200
                if vid in live:
                    continue
                live.add(vid)
                # priorities below GICV_PMR (0xf8): QEMU 7.2's GICV_HPPIR reads 1023 for
                # a masked HPPI (documented), so the mask never hides one here
                v = 1 << 28 | r.randrange(2) << 30 | r.randrange(31) << 23 | vid
                if r.randrange(4) == 0:
                    v |= 1 << 19  # EOI maintenance
                x.w(GICH + 0x100 + 4 * n, v, f"GICH_LR{n} <- pending vINTID {vid}")
        if r.randrange(6) == 0:
            x.w(GICH + 0x0, 1 | r.randrange(16) << 1, "GICH_HCR")
        if r.randrange(8) == 0 and not acked and not dropped:
            eoim = not eoim
            ctlr = r.choice((0x3, 0x7)) | (0x200 if eoim else 0)
            x.w(GICV + 0x0, ctlr, "GICV_CTLR")
        for _ in range(r.randrange(1, 6)):
            k = r.randrange(100)
            if k < 40:
                v = x.r(GICV + 0xC, "GICV_IAR")
                if v & 0x3FF < 1020:
                    acked.append(v)
            elif k < 70 and acked:
                v = acked.pop()
                x.w(GICV + 0x10, v, "GICV_EOIR (the last acknowledged)")
                if eoim:
                    dropped.append(v)
            elif k < 78 and dropped:
                x.w(GICV + 0x1000, dropped.pop(r.randrange(len(dropped))), "GICV_DIR")
            elif k < 88 and not acked:
                x.w(GICV + 0x8, r.randrange(2, 8), "GICV_BPR")
            else:
                for off, name in ((0x18, "HPPIR"), (0x14, "RPR"), (0xD0, "APR0")):
                    x.r(GICV + off, f"GICV_{name}")
        for off, name in ((0x10, "MISR"), (0x20, "EISR0"), (0x0, "HCR"), (0x8, "VMCR"),
                          (0xF0, "APR")):
            x.r(GICH + off, f"GICH_{name}")
        x.r(GICD + 0x200, "GICD_ISPENDR0 (maintenance PPI 25)")
    return machine, s.ops
