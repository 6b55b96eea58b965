"""QEMU's ``virt`` machine memory map (``hw/arm/virt.c``), the defaults of :func:`Machine.virt`.

Checked against the device trees QEMU 7.2 dumps (``tests/fixtures/dtb``).
"""

from __future__ import annotations

__all__ = [
    "GICV2_CPUIF_SIZE",
    "GICV3_REDIST_STRIDE",
    "VIRT_GIC_CPU",
    "VIRT_GIC_DIST",
    "VIRT_GIC_HYP",
    "VIRT_GIC_ITS",
    "VIRT_GIC_REDIST",
    "VIRT_GIC_REDIST_SIZE",
    "VIRT_GIC_V2M",
    "VIRT_GIC_VCPU",
    "VIRT_HIGH_GIC_REDIST2",
    "VIRT_MAINTENANCE_PPI",
    "VIRT_MEM",
    "VIRT_PCIE_ECAM",
    "VIRT_PCIE_MMIO",
]

# (base, size) pairs, as in QEMU's base_memmap[].
VIRT_GIC_DIST = (0x0800_0000, 0x1_0000)
VIRT_GIC_CPU = (0x0801_0000, 0x1_0000)
VIRT_GIC_V2M = (0x0802_0000, 0x1000)
VIRT_GIC_HYP = (0x0803_0000, 0x1_0000)
VIRT_GIC_VCPU = (0x0804_0000, 0x1_0000)
VIRT_GIC_ITS = (0x0808_0000, 0x2_0000)
VIRT_GIC_REDIST = (0x080A_0000, 0x00F6_0000)
VIRT_GIC_REDIST_SIZE = VIRT_GIC_REDIST[1]
#: Second redistributor region in high memory, used past 123 CPUs.
VIRT_HIGH_GIC_REDIST2 = (0x40_0000_0000, 0x400_0000)
VIRT_PCIE_MMIO = (0x1000_0000, 0x2EFF_0000)
#: The high ECAM window QEMU uses by default (``highmem-ecam``).
VIRT_PCIE_ECAM = (0x40_1000_0000, 0x1000_0000)
VIRT_MEM = (0x4000_0000, 0x4000_0000)  # 1 GiB, as the fixtures (-m 1G)

#: One GICv3 redistributor: RD_base + SGI_base frames (64 KiB each).
GICV3_REDIST_STRIDE = 0x2_0000
#: The GICv2 CPU interface register block (GICC/GICV) QEMU maps: 8 KiB used of 64 KiB.
GICV2_CPUIF_SIZE = 0x2000
#: The virtualization maintenance interrupt: PPI 9 (INTID 25).
VIRT_MAINTENANCE_PPI = 9
