"""Virtual interrupt benchmarks: list-register round trips through the public bus API.

Run: ``python benchmarks/bench_virt.py`` (``--quick`` for a smoke run).  Prints one
figure per line, ``name: value unit``; each is the best of 5 repetitions (the machine
may be shared).
Events are disabled (nobody subscribes).

* GICv3: ``write_sysreg("ICH_LR0_EL2", pending vINTID)`` ->
  ``read_sysreg("ICV_IAR1_EL1")`` -> ``write_sysreg("ICV_EOIR1_EL1", vintid)`` ->
  ``read_sysreg("ICH_ELRSR_EL2")``: virtual interrupt round trips per second on
  one core; again with 16 list registers of which 15 hold other interrupts
  (pending at a masked priority), and with HW=1 (the EOI deactivates a physical SPI).
* GICv2: the same through MMIO: GICH_LR0 write -> GICV_IAR read -> GICV_EOIR
  write -> GICH_ELRSR0 read, with HW=0 and with HW=1.
* GICv2 physical: GICD_ISPENDR write -> GICC_IAR -> GICC_EOIR for one SPI, alone
  and with 900 lower-priority SPIs pending underneath (the per-CPU heaps keep
  the cost flat).

The work per round trip is proportional to the number of list registers (at
most 16, 4 by default), never to the number of interrupts.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from irqlab.hw.machine import Machine

GICD = 0x0800_0000
GICC = 0x0801_0000
GICH = 0x0803_0000
GICV = 0x0804_0000


def _best(fn: Callable[[int], None], n: int, reps: int = 5) -> float:
    best = 0.0
    for _ in range(reps):
        t0 = time.perf_counter()
        fn(n)
        dt = time.perf_counter() - t0
        best = max(best, n / dt)
    return best


def v3_round_trips(*, lrs: int = 4, busy: bool = False, hw: bool = False) -> Callable[[int], None]:
    m = Machine.virt(cpus=1, gic=3, virtualization=True, list_registers=lrs)
    c = m.cpus[0]
    c.write_sysreg("ICH_HCR_EL2", 1)
    c.write_sysreg("ICV_IGRPEN1_EL1", 1)
    c.write_sysreg("ICV_PMR_EL1", 0xF0)
    if busy:
        for i in range(1, lrs):  # pending at priority 0xF0: masked by PMR, never taken
            c.write_sysreg(f"ICH_LR{i}_EL2", 1 << 62 | 1 << 60 | 0xF0 << 48 | (100 + i))
    lr = 1 << 62 | 1 << 60 | 0xA0 << 48 | 40
    if hw:
        lr |= 1 << 61 | 48 << 32
    gicd = m.config.gicd[0]
    wr, rd = c.write_sysreg, c.read_sysreg
    write = c.write

    def run(n: int) -> None:
        for _ in range(n):
            if hw:
                write(gicd + 0x304, 1 << 16)  # GICD_ISACTIVER1: SPI 48 active (the host's)
            wr("ICH_LR0_EL2", lr)
            vintid = rd("ICV_IAR1_EL1")
            wr("ICV_EOIR1_EL1", vintid)
            if not rd("ICH_ELRSR_EL2") & 1:
                raise AssertionError("LR0 not empty after the round trip")

    return run


def v2_round_trips(*, hw: bool = False) -> Callable[[int], None]:
    m = Machine.virt(cpus=1, gic=2, virtualization=True)
    c = m.cpus[0]
    c.write(GICH + 0x00, 1)  # GICH_HCR.En
    c.write(GICV + 0x00, 1)  # GICV_CTLR.EnableGrp0
    c.write(GICV + 0x04, 0xF8)
    lr = 1 << 28 | (0xA0 >> 3) << 23 | 40
    if hw:
        lr |= 1 << 31 | 48 << 10
    read, write = c.read, c.write

    def run(n: int) -> None:
        for _ in range(n):
            if hw:
                write(GICD + 0x304, 1 << 16)  # GICD_ISACTIVER1: SPI 48 active
            write(GICH + 0x100, lr)
            vintid = read(GICV + 0x0C)
            write(GICV + 0x10, vintid)
            if not read(GICH + 0x30) & 1:
                raise AssertionError("LR0 not empty after the round trip")

    return run


def v2_physical_round_trips(*, pending_underneath: int = 0) -> Callable[[int], None]:
    """GICv2 physical SPI: GICD_ISPENDR write -> GICC_IAR -> GICC_EOIR (edge SPI 40)."""
    m = Machine.virt(cpus=1, gic=2, spis=960)
    c = m.cpus[0]
    c.write(GICD + 0x000, 1)
    c.write(GICC + 0x004, 0xF0)
    c.write(GICC + 0x000, 1)
    for intid in range(32, 992, 4):
        c.write(GICD + 0x800 + intid, 0x01010101)  # ITARGETSR: CPU 0
        c.write(GICD + 0x400 + intid, 0xF0F0F0F0 if intid != 40 else 0xF0F0F0A0)
    for n in range(1, 31):
        c.write(GICD + 0x100 + 4 * n, 0xFFFF_FFFF)  # enable every SPI
    # pending underneath: lower priority (0xF0, masked by PMR), never acknowledged
    for intid in range(41, 41 + pending_underneath):
        c.write(GICD + 0x200 + 4 * (intid // 32), 1 << (intid % 32))
    read, write = c.read, c.write

    def run(n: int) -> None:
        for _ in range(n):
            write(GICD + 0x204, 1 << 8)  # GICD_ISPENDR1: SPI 40
            intid = read(GICC + 0x0C)
            write(GICC + 0x10, intid)
            if intid != 40:
                raise AssertionError(f"acknowledged {intid}, not 40")

    return run


def main(argv: list[str]) -> int:
    n = 2_000 if "--quick" in argv else 50_000
    cases = [
        ("GICv3 LR->ICV_IAR1->ICV_EOIR1->ELRSR (4 LRs)", v3_round_trips()),
        ("GICv3 same, 16 LRs, 15 busy", v3_round_trips(lrs=16, busy=True)),
        ("GICv3 same, HW=1 (+ GICD_ISACTIVER write)", v3_round_trips(hw=True)),
        ("GICv2 GICH_LR->GICV_IAR->GICV_EOIR->ELRSR", v2_round_trips()),
        ("GICv2 same, HW=1 (+ GICD_ISACTIVER write)", v2_round_trips(hw=True)),
        ("GICv2 physical SPI: ISPENDR->GICC_IAR->GICC_EOIR", v2_physical_round_trips()),
        ("GICv2 physical, 900 SPIs pending underneath",
         v2_physical_round_trips(pending_underneath=900)),
    ]
    for name, fn in cases:
        print(f"{name}: {_best(fn, n):,.0f} round trips/s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
