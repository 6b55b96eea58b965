"""Addresses and small helpers for the GICv2 tests (QEMU virt layout)."""

from __future__ import annotations

from irqlab.hw.machine import Cpu, Machine

GICD = 0x0800_0000
GICC = 0x0801_0000
V2M = 0x0802_0000
GICH = 0x0803_0000
GICV = 0x0804_0000

CTLR, TYPER, IIDR = 0x000, 0x004, 0x008
IGROUPR, ISENABLER, ICENABLER = 0x080, 0x100, 0x180
ISPENDR, ICPENDR, ISACTIVER, ICACTIVER = 0x200, 0x280, 0x300, 0x380
IPRIORITYR, ITARGETSR, ICFGR, SGIR = 0x400, 0x800, 0xC00, 0xF00
CPENDSGIR, SPENDSGIR = 0xF10, 0xF20

C_CTLR, C_PMR, C_BPR, C_IAR, C_EOIR, C_RPR, C_HPPIR = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18
C_ABPR, C_AIAR, C_AEOIR, C_AHPPIR, C_APR, C_NSAPR, C_IIDR, C_DIR = (
    0x1C, 0x20, 0x24, 0x28, 0xD0, 0xE0, 0xFC, 0x1000)

H_HCR, H_VTR, H_VMCR, H_MISR = 0x00, 0x04, 0x08, 0x10
H_EISR0, H_EISR1, H_ELRSR0, H_ELRSR1, H_APR, H_LR = 0x20, 0x24, 0x30, 0x34, 0xF0, 0x100


def machine(cpus: int = 2, **kw: object) -> Machine:
    return Machine.virt(cpus=cpus, gic=2, **kw)  # type: ignore[arg-type]


def setup_spi(m: Machine, intid: int, *, prio: int = 0xA0, targets: int = 1, group: int = 0,
              edge: bool = True) -> None:
    """Enable SPI ``intid`` with a priority, a target mask and a trigger mode, as CPU 0."""
    c = m.cpus[0]
    c.write(GICD + IPRIORITYR + intid, prio, size=1)
    c.write(GICD + ITARGETSR + intid, targets, size=1)
    reg = GICD + ICFGR + (intid // 16) * 4
    v = c.read(reg)
    bit = 2 << (2 * (intid % 16))
    c.write(reg, (v | bit) if edge else (v & ~bit))
    reg = GICD + IGROUPR + (intid // 32) * 4
    v = c.read(reg)
    c.write(reg, (v | 1 << intid % 32) if group else (v & ~(1 << intid % 32)))
    c.write(GICD + ISENABLER + (intid // 32) * 4, 1 << intid % 32)


def enable_all(m: Machine, *, ctlr: int = 0b11, pmr: int = 0xFF) -> None:
    """GICD_CTLR both groups; every CPU's GICC_CTLR = ``ctlr`` and PMR = ``pmr``."""
    m.cpus[0].write(GICD + CTLR, 3)
    for c in m.cpus:
        c.write(GICC + C_PMR, pmr)
        c.write(GICC + C_CTLR, ctlr)


def ack(c: Cpu) -> int:
    return c.read(GICC + C_IAR)


def eoi(c: Cpu, value: int) -> None:
    c.write(GICC + C_EOIR, value)
