"""Machine configuration: what :func:`Machine.virt` and :func:`Machine.from_dtb` build.

Every IMPLEMENTATION DEFINED choice the model makes is a field here, with the
default QEMU's ``virt`` machine uses unless a field says otherwise.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from irqlab.arch import virt as vm
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue, check_int

__all__ = ["MachineConfig", "PciFunctionConfig"]

Region = tuple[int, int]


@dataclass(frozen=True, kw_only=True)
class PciFunctionConfig:
    """A PCI function on the root bus of the host bridge (see :mod:`irqlab.hw.pci`).

    ``bdf`` is the requester ID (bus << 8 | device << 3 | function); through
    ``msi-map`` it is also the ITS DeviceID.  ``msi_vectors`` is the MSI
    capability's Multiple Message Capable count (1..32, a power of two; 0 for
    no MSI capability), ``msix_vectors`` the MSI-X table size (0 for none).
    """

    bdf: int
    vendor_id: int = 0x1B36  # Red Hat / QEMU
    device_id: int = 0x0010
    class_code: int = 0x010802  # NVMe
    msi_vectors: int = 32
    msix_vectors: int = 0


@dataclass(frozen=True, kw_only=True)
class MachineConfig:
    """Everything that defines a machine.  Build one with :func:`MachineConfig.virt`."""

    # --- CPUs and memory -------------------------------------------------
    cpus: int = 4
    ram: Region = vm.VIRT_MEM
    # --- interrupt controller ---------------------------------------------
    gic_version: Literal[2, 3] = 3
    #: Number of SPIs (INTIDs 32 .. 32 + spis - 1); QEMU virt: 256.
    spis: int = 256
    #: INTID width (GICD_TYPER.IDbits + 1).  LPIs need at least 14; QEMU uses 16.  GICv2:
    #: 10 (its INTID field is 10 bits; GICD_TYPER has no IDbits).
    idbits: int = 16
    gicd: Region = vm.VIRT_GIC_DIST
    #: Redistributor regions, each holding consecutive 128 KiB redistributors.
    gicr_regions: tuple[Region, ...] = (vm.VIRT_GIC_REDIST,)
    its: bool = True
    its_base: int = vm.VIRT_GIC_ITS[0]
    #: GICv2 frames (used when gic_version == 2).
    gicc: Region = (vm.VIRT_GIC_CPU[0], vm.GICV2_CPUIF_SIZE)
    v2m: Region | None = vm.VIRT_GIC_V2M
    # --- virtualization ----------------------------------------------------
    virtualization: bool = False
    gich: Region = vm.VIRT_GIC_HYP
    gicv: Region = (vm.VIRT_GIC_VCPU[0], vm.GICV2_CPUIF_SIZE)
    #: Maintenance interrupt PPI number (INTID = 16 + ppi).
    maintenance_ppi: int = vm.VIRT_MAINTENANCE_PPI
    #: Number of list registers (ICH_VTR_EL2.ListRegs + 1 / GICH_VTR.ListRegs + 1).
    list_registers: int = 4
    # --- IMPLEMENTATION DEFINED choices of the GIC --------------------------
    #: Implemented priority bits of the CPU interface (ICC_CTLR_EL1.PRIbits + 1);
    #: QEMU's Cortex-A57 model implements 5.  Preemption bits equal priority bits.
    priority_bits: int = 5
    #: Implemented priority bits of the priorities the GIC stores (GICD_IPRIORITYR,
    #: GICR_IPRIORITYR, LPI configuration bytes); IHI 0069 lets the Distributor implement
    #: more than the CPU interface (at least 4: bits [7:4]).  QEMU keeps all 8.  On a
    #: GICv2 this is the one priority width of the whole GIC (GICD and GICC, IHI 0048B
    #: 3.3); QEMU's GICv2 implements 8 there too.
    distributor_priority_bits: int = 8
    #: GICR_CTLR.EnableLPIs cannot be cleared once set (GIC-500/600 behaviour;
    #: QEMU allows clearing).  When sticky, PROPBASER/PENDBASER stay locked.
    lpis_sticky: bool = False
    #: GICR_TYPER.DirectLPI: GICR_SETLPIR/CLRLPIR/INVLPIR/INVALLR/SYNCR implemented.
    direct_lpi: bool = False
    #: An access of a size a GIC or ITS register does not support (e.g. 16-bit, or
    #: 8-bit to a word-only register): ``"raz_wi"`` reads 0 and ignores the write with
    #: a ``<block>_bad_access`` event (the default, as QEMU: IHI 0069 makes reserved
    #: accesses RAZ/WI); ``"abort"`` raises ExternalAbort, for users who want to catch
    #: their own bugs.  Misaligned accesses always abort (QEMU's memory core rejects
    #: them; Device memory requires alignment).
    gic_bad_access: Literal["raz_wi", "abort"] = "raz_wi"
    # --- IMPLEMENTATION DEFINED choices of the ITS -------------------------
    #: GITS_TYPER.Devbits + 1, .ID_bits + 1 and CIDbits + 1.
    its_device_bits: int = 16
    its_event_bits: int = 16
    its_icid_bits: int = 16
    #: GITS_TYPER.PTA: RDbase in commands is a physical address (1) or a processor number (0).
    its_pta: bool = False
    #: On a command error: ``"qemu"`` ignores bad parameters and stalls on memory
    #: faults (the default, as QEMU); ``"stall"`` stalls on every error;
    #: ``"ignore"`` drops every erroneous command and goes on.
    its_command_errors: Literal["qemu", "stall", "ignore"] = "qemu"
    #: The DeviceID of a CPU store to GITS_TRANSLATER (a CPU access carries no requester
    #: ID): 0 as QEMU; ``None`` ignores such stores (with an event).
    its_cpu_devid: int | None = 0
    # --- PCI ---------------------------------------------------------------
    pcie_ecam: Region = vm.VIRT_PCIE_ECAM
    pcie_mmio: Region = vm.VIRT_PCIE_MMIO
    #: msi-map: requester IDs [rid_base, rid_base + length) map to DeviceIDs from devid_base.
    msi_map: tuple[int, int, int] = (0, 0, 0x10000)
    pci_functions: tuple[PciFunctionConfig, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        check_int("cpus", self.cpus, 1, 512)
        if self.gic_version not in (2, 3):
            raise InvalidArgumentValue(f"gic must be 2 or 3, not {self.gic_version!r}")
        if self.gic_version == 2 and self.cpus > 8:
            raise InvalidArgumentValue(f"cpus must be at most 8 with gic=2, not {self.cpus!r}")
        if self.gic_version == 2 and self.its:
            raise InvalidArgumentValue("its must be False with gic=2 (GICv2 has no ITS)")
        check_int("spis", self.spis, 0, 988)
        if self.spis % 32:
            raise InvalidArgumentValue(f"spis must be a multiple of 32, not {self.spis!r}")
        if self.gic_version == 2:
            if self.idbits != 10:
                raise InvalidArgumentValue(f"idbits must be 10 with gic=2 (GICv2 INTIDs are "
                                           f"10 bits, IHI 0048 GICC_IAR), not {self.idbits!r}")
        else:
            check_int("idbits", self.idbits, 14, 24)
        check_int("list_registers", self.list_registers, 1, 16)
        check_int("priority_bits", self.priority_bits, 4, 8)
        check_int("distributor_priority_bits", self.distributor_priority_bits, 4, 8)
        if self.gic_version == 2 and self.priority_bits not in (5, self.distributor_priority_bits):
            # GICv2 has one priority width (IHI 0048B 3.3): distributor_priority_bits.
            raise InvalidArgumentValue(
                "priority_bits is the GICv3 CPU interface's; with gic=2 set "
                f"distributor_priority_bits (the GIC's one priority width), not "
                f"priority_bits={self.priority_bits!r}")
        if self.gic_bad_access not in ("raz_wi", "abort"):
            raise InvalidArgumentValue(
                f"gic_bad_access must be 'raz_wi' or 'abort', not {self.gic_bad_access!r}")
        check_int("its_device_bits", self.its_device_bits, 1, 32)
        check_int("its_event_bits", self.its_event_bits, 1, 32)
        check_int("its_icid_bits", self.its_icid_bits, 1, 16)
        if self.its_cpu_devid is not None:
            check_int("its_cpu_devid", self.its_cpu_devid, 0, (1 << 32) - 1)
        if self.its_command_errors not in ("qemu", "stall", "ignore"):
            raise InvalidArgumentValue(
                "its_command_errors must be 'qemu', 'stall' or 'ignore', "
                f"not {self.its_command_errors!r}")
        if not isinstance(self.pci_functions, tuple):
            raise InvalidArgumentType(
                f"pci_functions must be a tuple of PciFunctionConfig, not {self.pci_functions!r}")
        if self.gic_version == 3:
            capacity = sum(size // vm.GICV3_REDIST_STRIDE for _, size in self.gicr_regions)
            if capacity < self.cpus:
                raise InvalidArgumentValue(
                    f"gicr_regions hold {capacity} redistributors, fewer than cpus={self.cpus}")

    @property
    def intid_limit(self) -> int:
        """One past the highest SPI INTID."""
        return 32 + self.spis

    @classmethod
    def virt(cls, *, cpus: int = 4, gic: int = 3, its: bool | None = None,
             idbits: int | None = None, virtualization: bool = False,
             **options: object) -> MachineConfig:
        """QEMU ``virt``'s layout for ``cpus`` CPUs; extra keywords set other fields."""
        check_int("cpus", cpus, 1, 512)
        if its is None:
            its = gic == 3
        if idbits is None:
            idbits = 16 if gic == 3 else 10
        regions: tuple[Region, ...] = (vm.VIRT_GIC_REDIST,)
        if gic == 3 and cpus > vm.VIRT_GIC_REDIST[1] // vm.GICV3_REDIST_STRIDE:
            extra = cpus - vm.VIRT_GIC_REDIST[1] // vm.GICV3_REDIST_STRIDE
            regions += ((vm.VIRT_HIGH_GIC_REDIST2[0],
                         max(vm.VIRT_HIGH_GIC_REDIST2[1], extra * vm.GICV3_REDIST_STRIDE)),)
        known = {f.name for f in dataclasses.fields(cls)}
        for name in options:
            if name not in known:
                raise InvalidArgumentValue(f"unknown machine option {name}={options[name]!r}")
        return cls(cpus=cpus, gic_version=gic, its=its, idbits=idbits,  # type: ignore[arg-type]
                   virtualization=virtualization, gicr_regions=regions, **options)  # type: ignore[arg-type]

    def redistributor_base(self, cpu: int) -> int:
        """The RD_base of CPU ``cpu``'s redistributor."""
        for base, size in self.gicr_regions:
            n = size // vm.GICV3_REDIST_STRIDE
            if cpu < n:
                return base + cpu * vm.GICV3_REDIST_STRIDE
            cpu -= n
        raise InvalidArgumentValue(f"cpu={cpu!r} has no redistributor")

    @staticmethod
    def mpidr_affinity(cpu: int, gic_version: int = 3) -> tuple[int, int, int, int]:
        """(Aff3, Aff2, Aff1, Aff0) of CPU ``cpu``, as QEMU's ``virt`` assigns them.

        QEMU packs 16 CPUs per cluster with GICv3 (the SGI target-list width)
        and 8 with GICv2.
        """
        per = 16 if gic_version == 3 else 8
        return (0, 0, cpu // per, cpu % per)
