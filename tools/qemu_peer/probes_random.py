"""Seeded random scripts: many accesses to the registers a driver uses, every read compared.

The generator is deterministic (``random.Random(seed)``).  It stays clear of the
documented differences from QEMU (MBIS, RSS, RES0 bits, priority 0xFF, WAKER, ...), so
that any difference it finds is new.
"""

from __future__ import annotations

import random

from common import GICC, GICD, SGI, V2, V3, S, rd
from peer import Op

_ICC_READS = ("ICC_IAR0_EL1", "ICC_IAR1_EL1", "ICC_HPPIR0_EL1", "ICC_HPPIR1_EL1",
              "ICC_RPR_EL1", "ICC_AP0R0_EL1", "ICC_AP1R0_EL1", "ICC_PMR_EL1", "ICC_BPR0_EL1",
              "ICC_BPR1_EL1", "ICC_IGRPEN0_EL1", "ICC_IGRPEN1_EL1", "ISR_EL1")


def _prio_word(r: random.Random) -> int:
    return sum(r.randrange(0, 0xF8) << (8 * k) for k in range(4))


def gicv3_random(seed: int = 1, n: int = 3000) -> tuple[dict, list[Op]]:
    """GICv3, CPU 0: random distributor, redistributor and CPU interface traffic."""
    r = random.Random(seed)
    s = S()
    s.w(GICD + 0x0, 0x13, note="GICD_CTLR <- ARE|Grp1|Grp0")
    s.w(rd(0) + 0x14, 0, note="GICR0_WAKER <- 0")
    s.sw("ICC_IGRPEN0_EL1", 1)
    s.sw("ICC_IGRPEN1_EL1", 1)
    sg = rd(0) + SGI
    acked: list[int] = []
    for _ in range(n):
        k = r.randrange(100)
        if k < 4:
            s.w(GICD, 0x10 | r.randrange(4), note="GICD_CTLR")
        elif k < 22:  # distributor bit registers, SPIs 32..95
            base = r.choice((0x80, 0x100, 0x180, 0x200, 0x280, 0x300, 0x380))
            off = base + 4 * r.choice((1, 2))
            s.w(GICD + off, r.getrandbits(32) & r.getrandbits(32), note=f"GICD+{off:#x}")
        elif k < 28:
            off = 0x400 + 4 * r.randrange(8, 24)
            s.w(GICD + off, _prio_word(r), note=f"GICD_IPRIORITYR+{off:#x}")
        elif k < 30:
            off = 0xC00 + 4 * r.randrange(2, 6)
            s.w(GICD + off, r.getrandbits(32) & 0xAAAA_AAAA, note=f"GICD_ICFGR+{off:#x}")
        elif k < 33:
            intid = r.randrange(32, 96)
            s.w(GICD + 0x6000 + 8 * intid, r.choice((0, 0, 0, 1, 2, 3, 1 << 31)), 8,
                note=f"GICD_IROUTER{intid}")
        elif k < 45:  # redistributor 0 SGI_base
            off = r.choice((0x80, 0x100, 0x180, 0x200, 0x280, 0x300, 0x380))
            s.w(sg + off, r.getrandbits(32) & r.getrandbits(32), note=f"GICR0_SGI+{off:#x}")
        elif k < 48:
            off = 0x400 + 4 * r.randrange(8)
            s.w(sg + off, _prio_word(r), note=f"GICR0_IPRIORITYR+{off:#x}")
        elif k < 49:
            s.w(sg + 0xC04, r.getrandbits(32) & 0xAAAA_AAAA, note="GICR0_ICFGR1")
        elif k < 53:
            # ICC_IGRPEN<g> stay 1: QEMU picks the HPPI ignoring them (documented)
            reg = r.choice(("ICC_PMR_EL1", "ICC_BPR0_EL1", "ICC_BPR1_EL1", "ICC_CTLR_EL1"))
            v = {"ICC_PMR_EL1": r.randrange(0x80, 0x100), "ICC_CTLR_EL1": r.randrange(4)}.get(
                reg, r.randrange(8))
            s.sw(reg, v, reg)
        elif k < 57:
            reg = r.choice(("ICC_SGI1R_EL1", "ICC_SGI1R_EL1", "ICC_SGI0R_EL1", "ICC_ASGI1R_EL1"))
            v = r.randrange(16) << 24 | r.randrange(16)
            if r.randrange(6) == 0:
                v |= 1 << 40
            s.sw(reg, v, reg)
        elif k < 66:
            g = r.randrange(2)
            s.sr(f"ICC_IAR{g}_EL1", f"ICC_IAR{g}_EL1")
            acked.append(g)
        elif k < 73:
            g = r.randrange(2)
            intid = r.choice((*range(0, 16), *range(16, 32), *range(32, 96)))
            s.sw(f"ICC_EOIR{g}_EL1", intid, "EOI (a guess at the INTID)")
        elif k < 75:
            s.sw("ICC_DIR_EL1", r.randrange(96), "ICC_DIR_EL1")
        elif k < 90:
            s.sr(r.choice(_ICC_READS))
        else:
            off = r.choice((0x084, 0x088, 0x104, 0x108, 0x204, 0x208, 0x304, 0x308,
                            0x420 + 4 * r.randrange(16), 0xC08))
            if r.randrange(2):
                s.r(GICD + off, note=f"GICD+{off:#x}")
            else:
                off = r.choice((0x80, 0x100, 0x200, 0x300, 0x400 + 4 * r.randrange(8), 0xC04))
                s.r(sg + off, note=f"GICR0_SGI+{off:#x}")
    return V3, s.ops


def gicv2_random(seed: int = 2, n: int = 3000) -> tuple[dict, list[Op]]:
    """GICv2, CPU 0: random distributor and CPU interface traffic."""
    r = random.Random(seed)
    s = S()
    s.w(GICD + 0x0, 0x3, note="GICD_CTLR <- EnableGrp0|EnableGrp1")
    for off in range(0x820, 0x860, 4):
        s.w(GICD + off, 0x0101_0101, note="GICD_ITARGETSR <- CPU 0")
    for _ in range(n):
        k = r.randrange(100)
        if k < 4:
            s.w(GICC + 0x4, r.randrange(0x80, 0x100), note="GICC_PMR")
        elif k < 24:
            base = r.choice((0x80, 0x100, 0x180, 0x200, 0x280, 0x300, 0x380))
            off = base + 4 * r.choice((0, 1, 2))
            v = r.getrandbits(32) & r.getrandbits(32)
            if base == 0x200 and off == base:
                continue  # QEMU 7.2 ignores ISPENDR0 for PPIs (documented)
            if base == 0x300 and off != base:
                continue  # QEMU 7.2 sets an SPI active for every CPU, an EOI clears one
            s.w(GICD + off, v, note=f"GICD+{off:#x}")
        elif k < 30:
            off = 0x400 + 4 * r.randrange(0, 24)
            s.w(GICD + off, _prio_word(r), note=f"GICD_IPRIORITYR+{off:#x}")
        elif k < 32:
            off = 0xC00 + 4 * r.randrange(1, 6)
            s.w(GICD + off, r.getrandbits(32) & 0xAAAA_AAAA, note=f"GICD_ICFGR+{off:#x}")
        elif k < 36:
            # the group enables stay on: QEMU 7.2 picks (and acknowledges) the HPPI
            # ignoring GICD_CTLR / GICC_CTLR group enables (documented)
            # GICC_BPR / GICC_ABPR stay at their minimum: QEMU 7.2 preempts on the full
            # priority, not the group priority (documented)
            off, v = r.choice(((0x4, r.randrange(0x80, 0x100)), (0x8, 0), (0x1C, 0),
                               (0x0, r.choice((0x3, 0x7, 0xB, 0x203, 0x13, 0xF)))))
            s.w(GICC + off, v, note=f"GICC+{off:#x}")
        elif k < 40:
            filt = r.choice((0, 0, 1, 2))
            s.w(GICD + 0xF00, filt << 24 | r.randrange(16) << 16 | r.randrange(16),
                note="GICD_SGIR")
        elif k < 50:
            s.r(GICC + 0xC, note="GICC_IAR")
        elif k < 57:
            s.w(GICC + 0x10, r.randrange(96) | r.randrange(4) << 10, note="GICC_EOIR (a guess)")
        elif k < 59:
            s.w(GICC + 0x1000, r.randrange(96), note="GICC_DIR")
        elif k < 75:
            # no GICC_HPPIR: QEMU 7.2 reports 1023 when PMR masks the HPPI (documented)
            off = r.choice((0x14, 0xD0, 0xD4, 0xE0, 0x4, 0x8, 0x1C, 0x0))
            s.r(GICC + off, note=f"GICC+{off:#x}")
        elif k < 80:
            s.sr("ISR_EL1")
        else:
            off = r.choice((0x080, 0x084, 0x100, 0x104, 0x108, 0x200, 0x204, 0x208, 0x300,
                            0x304, 0x308, 0x400 + 4 * r.randrange(24), 0xC08, 0xF10, 0xF14))
            s.r(GICD + off, note=f"GICD+{off:#x}")
    return V2, s.ops


def gicv3_icv_random(seed: int = 3, rounds: int = 150) -> tuple[dict, list[Op]]:
    """GICv3 virtualization: random list registers at EL2, random ICV traffic at EL1."""
    r = random.Random(seed)
    s = S()
    s.w(GICD + 0x0, 0x13, note="GICD_CTLR <- ARE|Grp1|Grp0")
    s.w(rd(0) + 0x14, 0, note="GICR0_WAKER <- 0")
    s.sw("ICC_PMR_EL1", 0, "physical PMR 0: nothing physical reaches EL1")
    s.sw("ICH_HCR_EL2", 1, "ICH_HCR_EL2 <- En")
    s.sw("ICH_VMCR_EL2", 0xF8 << 24 | 3, "ICH_VMCR_EL2 <- VPMR 0xf8, VENG0|VENG1")
    vintids = (20, 21, 40, 41, 42, 100, 8192, 8193)
    for _ in range(rounds):
        # EL2: rewrite a few list registers, sometimes the HCR maintenance enables
        for _ in range(r.randrange(1, 4)):
            n = r.randrange(4)
            state = r.choice((0, 1, 1, 1, 2, 3))
            v = state << 62 | r.randrange(2) << 60 | (r.randrange(32) << 3) << 48
            v |= r.choice(vintids)
            if r.randrange(4) == 0:
                v |= 1 << 41  # EOI maintenance (HW = 0)
            s.sw(f"ICH_LR{n}_EL2", v, f"ICH_LR{n}_EL2")
        if r.randrange(4) == 0:
            s.sw("ICH_HCR_EL2", 1 | r.randrange(256) & 0xFE, "ICH_HCR_EL2")
        s.ops.append(Op("el1", value=1 << 4 | 1 << 3, note="EL1"))
        for _ in range(r.randrange(2, 10)):
            k = r.randrange(100)
            if k < 30:
                s.sr(r.choice(("ICC_IAR1_EL1", "ICC_IAR0_EL1")))
            elif k < 50:
                g = r.randrange(2)
                s.sw(f"ICC_EOIR{g}_EL1", r.choice(vintids), f"ICV_EOIR{g}")
            elif k < 55:
                s.sw("ICC_DIR_EL1", r.choice(vintids), "ICV_DIR")
            elif k < 62:
                reg, v = r.choice((("ICC_PMR_EL1", r.randrange(0x10, 0x20) << 3),
                                   ("ICC_BPR0_EL1", r.randrange(8)),
                                   ("ICC_BPR1_EL1", r.randrange(8)),
                                   ("ICC_CTLR_EL1", r.randrange(4)),
                                   ("ICC_IGRPEN0_EL1", r.choice((0, 1, 1))),
                                   ("ICC_IGRPEN1_EL1", r.choice((0, 1, 1)))))
                s.sw(reg, v, reg)
            else:
                s.sr(r.choice(("ICC_HPPIR0_EL1", "ICC_HPPIR1_EL1", "ICC_RPR_EL1",
                               "ICC_AP0R0_EL1", "ICC_AP1R0_EL1", "ICC_PMR_EL1",
                               "ICC_BPR0_EL1", "ICC_BPR1_EL1", "ICC_CTLR_EL1", "ISR_EL1")))
        s.ops.append(Op("el2", note="EL2"))
        for reg in ("ICH_ELRSR_EL2", "ICH_EISR_EL2", "ICH_MISR_EL2", "ICH_HCR_EL2",
                    "ICH_VMCR_EL2", "ICH_AP0R0_EL2", "ICH_AP1R0_EL2"):
            s.sr(reg)
        for n in range(4):
            s.sr(f"ICH_LR{n}_EL2")
    return {**V3, "virtualization": True}, s.ops


def gicv3_smp_random(seed: int = 4, n: int = 2500) -> tuple[dict, list[Op]]:
    """GICv3 with 4 running CPUs: random SGIs, SPI routing, acknowledges on every CPU."""
    r = random.Random(seed)
    s = S()
    s.w(GICD + 0x0, 0x13, note="GICD_CTLR <- ARE|Grp1|Grp0")
    for cpu in range(4):
        s.w(rd(cpu) + 0x14, 0, note=f"GICR{cpu}_WAKER <- 0")
    for cpu in (1, 2, 3, 0):
        s.ops.append(Op("cpu", value=cpu, note=f"CPU {cpu}"))
        s.sw("ICC_PMR_EL1", 0xFF)
        s.sw("ICC_IGRPEN0_EL1", 1)
        s.sw("ICC_IGRPEN1_EL1", 1)
    for _ in range(n):
        k = r.randrange(100)
        if k < 6:
            s.ops.append(Op("cpu", value=r.randrange(4), note="switch CPU"))
        elif k < 20:
            base = r.choice((0x80, 0x100, 0x180, 0x200, 0x280, 0x300, 0x380))
            s.w(GICD + base + 4, r.getrandbits(32) & r.getrandbits(32), note=f"GICD+{base + 4:#x}")
        elif k < 24:
            s.w(GICD + 0x420 + 4 * r.randrange(8), _prio_word(r), note="GICD_IPRIORITYR")
        elif k < 30:
            intid = r.randrange(32, 64)
            s.w(GICD + 0x6000 + 8 * intid, r.choice((0, 1, 2, 3, 3, 1 << 31)), 8,
                note=f"GICD_IROUTER{intid}")
        elif k < 38:
            cpu = r.randrange(4)
            off = r.choice((0x80, 0x100, 0x180, 0x200, 0x280, 0x300, 0x380,
                            0x400 + 4 * r.randrange(8)))
            v = _prio_word(r) if off >= 0x400 else r.getrandbits(32) & r.getrandbits(32)
            s.w(rd(cpu) + SGI + off, v, note=f"GICR{cpu}_SGI+{off:#x}")
        elif k < 48:
            reg = r.choice(("ICC_SGI1R_EL1", "ICC_SGI1R_EL1", "ICC_SGI0R_EL1"))
            v = r.randrange(16) << 24 | r.randrange(1, 16)
            if r.randrange(8) == 0:
                v |= 1 << 40
            s.sw(reg, v, reg)
        elif k < 62:
            g = r.randrange(2)
            s.sr(f"ICC_IAR{g}_EL1")
        elif k < 72:
            g = r.randrange(2)
            s.sw(f"ICC_EOIR{g}_EL1", r.randrange(64), "EOI (a guess)")
        elif k < 75:
            s.sw("ICC_PMR_EL1", r.randrange(0x80, 0x100))
        elif k < 88:
            s.sr(r.choice(("ISR_EL1", "ICC_HPPIR0_EL1", "ICC_HPPIR1_EL1", "ICC_RPR_EL1",
                           "ICC_AP0R0_EL1", "ICC_AP1R0_EL1")))
        else:
            cpu = r.randrange(4)
            off = r.choice((0x100, 0x200, 0x300))
            if r.randrange(2):
                s.r(rd(cpu) + SGI + off, note=f"GICR{cpu}_SGI+{off:#x}")
            else:
                s.r(GICD + off + 4, note=f"GICD+{off + 4:#x}")
    s.ops.append(Op("cpu", value=0, note="CPU 0"))
    return V3, s.ops

