"""Shared pieces of the probe scripts: addresses, the script builder, machine descriptions."""

from __future__ import annotations

from peer import Op

GICD = 0x0800_0000
GICR = 0x080A_0000
GICR_STRIDE = 0x2_0000
SGI = 0x1_0000
GITS = 0x0808_0000
GICC = 0x0801_0000
ONES = 0xFFFF_FFFF
N_IRQ = 288  # QEMU virt: 256 SPIs + 32


class S:
    """A script under construction."""

    def __init__(self) -> None:
        self.ops: list[Op] = []

    def r(self, addr: int, size: int = 4, note: str = "") -> None:
        self.ops.append(Op("r", addr, size, 0, "", note))

    def w(self, addr: int, value: int, size: int = 4, note: str = "") -> None:
        self.ops.append(Op("w", addr, size, value, "", note))

    def sr(self, reg: str, note: str = "") -> None:
        self.ops.append(Op("sr", reg=reg, note=note))

    def sw(self, reg: str, value: int, note: str = "") -> None:
        self.ops.append(Op("sw", reg=reg, value=value, note=note))

    def probe(self, addr: int, note: str, size: int = 4, ones: int = ONES) -> None:
        """Write all-ones, read back, write zero, read back."""
        self.w(addr, ones, size, note + " <- ones")
        self.r(addr, size, note)
        self.w(addr, 0, size, note + " <- 0")
        self.r(addr, size, note)


def rd(cpu: int) -> int:
    return GICR + cpu * GICR_STRIDE


ICC_READABLE = ("ICC_PMR_EL1", "ICC_BPR0_EL1", "ICC_BPR1_EL1", "ICC_CTLR_EL1", "ICC_SRE_EL1",
                "ICC_IGRPEN0_EL1", "ICC_IGRPEN1_EL1", "ICC_RPR_EL1", "ICC_HPPIR0_EL1",
                "ICC_HPPIR1_EL1", *(f"ICC_AP{g}R{n}_EL1" for g in (0, 1) for n in range(4)),
                "ISR_EL1")

V3 = {"gic": 3, "cpus": 4, "its": True}
V2 = {"gic": 2, "cpus": 4}
