"""The machine: CPUs, memory, the bus, the GIC and the PCI host, and the bus-level API.

This is the public, stable surface through which external tools and tests
drive the hardware exactly as software on a CPU would::

    m = Machine.virt(cpus=4, gic=3, its=True)
    m.cpus[0].write(0x0800_0000, 0x12)            # GICD_CTLR, issued by CPU 0
    intid = m.cpus[0].read_sysreg("ICC_IAR1_EL1")
    m.device_write(0x10, m.its.translater, 5)     # an MSI from DeviceID 0x10
    m.cpus[0].irq_line                             # bool

Accesses that the hardware answers with an external abort raise
:class:`~irqlab.errors.ExternalAbort`; UNDEFINED system-register accesses raise
:class:`~irqlab.errors.UndefinedInstruction`; wrong Python types or impossible
sizes raise :class:`~irqlab.errors.InvalidArgument`.  Everything else --
any value written anywhere -- ends in the architected outcome and, where the
hardware did something worth knowing, an event on :attr:`Machine.events`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from irqlab.errors import (
    InvalidArgumentType,
    InvalidArgumentValue,
    UndefinedInstruction,
    check_int,
)
from irqlab.events import EventStream
from irqlab.hw.config import MachineConfig
from irqlab.hw.memory import PA_LIMIT, Bus, SparseMemory

if TYPE_CHECKING:
    from irqlab.hw.pci import PciHost

__all__ = ["Cpu", "Machine"]

_SIZES = (1, 2, 4, 8)
_U64 = (1 << 64) - 1

SysregRead = Callable[[], int]
SysregWrite = Callable[[int], None]


def _check_access(addr: object, size: object) -> None:
    if type(addr) is not int:
        raise InvalidArgumentType(f"addr must be an int, not {addr!r}")
    if not 0 <= addr < PA_LIMIT:
        raise InvalidArgumentValue(f"addr must be a 48-bit physical address, not {addr:#x}")
    if size not in _SIZES or type(size) is not int:
        raise InvalidArgumentValue(f"size must be 1, 2, 4 or 8, not {size!r}")


class _NoInterface:
    """Lines of a CPU interface that does not exist (no virtualization): never asserted."""

    irq_line = False
    fiq_line = False


class Cpu:
    """One processing element as the bus and the GIC see it.

    ``index`` is the logical CPU number (the redistributor's
    GICR_TYPER.Processor_Number), ``affinity`` its MPIDR (Aff3, Aff2, Aff1, Aff0).
    """

    def __init__(self, machine: Machine, index: int, affinity: tuple[int, int, int, int]):
        self.machine = machine
        self.index = index
        self.affinity = affinity
        a3, a2, a1, a0 = affinity
        #: MPIDR_EL1 affinity fields packed as in the register (U=0, MT=0).
        self.mpidr = (a3 << 32) | (a2 << 16) | (a1 << 8) | a0
        self._sysreg_r: dict[str, SysregRead | None] = {}
        self._sysreg_w: dict[str, SysregWrite | None] = {}
        #: Architectural registers this configuration does not implement -> why.
        self._sysreg_absent: dict[str, str] = {}
        #: The physical CPU interface (set by the GIC model); provides the lines.
        self.cpuif: Any = _NoInterface()
        #: The virtual CPU interface (set by the GIC model when virtualization is on).
        self.vcpuif: Any = _NoInterface()
        self._bus = machine.bus

    def __repr__(self) -> str:
        return f"<Cpu {self.index} mpidr={self.mpidr:#x}>"

    # -- MMIO ---------------------------------------------------------------
    def read(self, addr: int, size: int = 4) -> int:
        """A load of ``size`` bytes at physical address ``addr``, issued by this CPU."""
        _check_access(addr, size)
        return self._bus.read(addr, size, self.index)

    def write(self, addr: int, value: int, size: int = 4) -> None:
        """A store of ``size`` bytes at ``addr``, issued by this CPU (``value`` truncated)."""
        _check_access(addr, size)
        if type(value) is not int:
            raise InvalidArgumentType(f"value must be an int, not {value!r}")
        self._bus.write(addr, value & ((1 << (8 * size)) - 1), size, self.index)

    # -- system registers -----------------------------------------------------
    def register_sysreg(self, name: str, read: SysregRead | None,
                        write: SysregWrite | None) -> None:
        """Make ``name`` accessible; ``None`` for a direction that is UNDEFINED."""
        self._sysreg_r[name] = read
        self._sysreg_w[name] = write

    def register_absent_sysreg(self, name: str, reason: str) -> None:
        """Make ``name`` an architectural register this configuration does not implement.

        Any access raises :class:`~irqlab.errors.UndefinedInstruction` with ``reason``
        (e.g. "EL3 is not implemented"); a name that no architecture defines raises
        :class:`~irqlab.errors.InvalidArgumentValue` instead.  Not in :attr:`sysreg_names`.
        """
        self._sysreg_absent[name] = reason

    @property
    def sysreg_names(self) -> list[str]:
        """The names given to :meth:`register_sysreg` (a ``None`` direction is UNDEFINED)."""
        return sorted(self._sysreg_r)

    def read_sysreg(self, name: str) -> int:
        """MRS: read system register ``name`` (spec spelling, e.g. ``"ICC_IAR1_EL1"``)."""
        try:
            fn = self._sysreg_r[name]
        except (KeyError, TypeError):
            raise self._unknown(name) from None
        if fn is None:
            raise UndefinedInstruction(name, "not readable in this configuration")
        h = self._bus.on_access
        if h is not None:
            h()
        return fn()

    def write_sysreg(self, name: str, value: int) -> None:
        """MSR: write ``value`` (64 bits) to system register ``name``."""
        try:
            fn = self._sysreg_w[name]
        except (KeyError, TypeError):
            raise self._unknown(name) from None
        if fn is None:
            raise UndefinedInstruction(name, "not writable in this configuration")
        if type(value) is not int:
            raise InvalidArgumentType(f"value must be an int, not {value!r}")
        h = self._bus.on_access
        if h is not None:
            h()
        fn(value & _U64)

    def _unknown(self, name: object) -> Exception:
        if not isinstance(name, str):
            return InvalidArgumentType(f"name must be a str, not {name!r}")
        reason = self._sysreg_absent.get(name)
        if reason is not None:
            return UndefinedInstruction(name, reason)
        return InvalidArgumentValue(
            f"name must be a system register this model knows, not {name!r}")

    # -- interrupt lines ----------------------------------------------------
    @property
    def irq_line(self) -> bool:
        """The physical IRQ signal from the CPU interface."""
        return bool(self.cpuif.irq_line)

    @property
    def fiq_line(self) -> bool:
        """The physical FIQ signal from the CPU interface."""
        return bool(self.cpuif.fiq_line)

    @property
    def virq_line(self) -> bool:
        """The virtual IRQ signal (always low without the virtualization extensions)."""
        return bool(self.vcpuif.irq_line)

    @property
    def vfiq_line(self) -> bool:
        """The virtual FIQ signal (always low without the virtualization extensions)."""
        return bool(self.vcpuif.fiq_line)


class Machine:
    """A complete machine built from a :class:`MachineConfig`."""

    def __init__(self, config: MachineConfig) -> None:
        if not isinstance(config, MachineConfig):
            raise InvalidArgumentType(f"config must be a MachineConfig, not {config!r}")
        self.config = config
        #: Every event of the hardware (and of an engine running on it).
        self.events = EventStream()
        self.memory = SparseMemory()
        self.bus = Bus(self.memory)
        self.bus.map_ram(*config.ram)
        self.cpus: list[Cpu] = [
            Cpu(self, i, MachineConfig.mpidr_affinity(i, config.gic_version))
            for i in range(config.cpus)
        ]
        self.gic: Any
        self.its: Any = None
        if config.gic_version == 3:
            from irqlab.hw.gicv3 import GICv3

            self.gic = GICv3(self)
            if config.its:
                from irqlab.hw.gicv3.its import ITS

                self.its = ITS(self, config.its_base)
        else:
            from irqlab.hw.gicv2 import GICv2

            self.gic = GICv2(self)
        from irqlab.hw.pci import PciHost

        self.pci: PciHost = PciHost(self)

    # -- constructors -------------------------------------------------------
    @classmethod
    def virt(cls, *, cpus: int = 4, gic: int = 3, its: bool | None = None,
             idbits: int | None = None, virtualization: bool = False,
             **options: Any) -> Machine:
        """QEMU's ``virt`` machine: the same memory map, GIC and PCIe host.

        ``its`` defaults to True with ``gic=3``; ``idbits`` to 16 (GICv3) or 10
        (GICv2).  Other keywords set :class:`MachineConfig` fields (the
        IMPLEMENTATION DEFINED choices, PCI functions, ...).
        """
        return cls(MachineConfig.virt(cpus=cpus, gic=gic, its=its, idbits=idbits,
                                      virtualization=virtualization, **options))

    @classmethod
    def from_dtb(cls, path: str | Path, **options: Any) -> Machine:
        """Build the machine a flattened device tree describes (needs the ``dtb`` extra)."""
        from irqlab.hw.dtb import config_from_dtb

        return cls(config_from_dtb(path, **options))

    # -- plain memory -------------------------------------------------------
    def _check_ram(self, addr: object, n: int) -> None:
        if type(addr) is not int:
            raise InvalidArgumentType(f"addr must be an int, not {addr!r}")
        base, size = self.config.ram
        if not (base <= addr and addr + n <= base + size):
            raise InvalidArgumentValue(
                f"addr must lie in RAM [{base:#x}, {base + size:#x}), not {addr:#x} (+{n:#x})")

    def ram_write(self, addr: int, data: bytes) -> None:
        """Store ``data`` in RAM at ``addr`` (no side effects, no events)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidArgumentType(f"data must be bytes, not {type(data).__name__}")
        self._check_ram(addr, len(data))
        h = self.bus.on_access
        if h is not None:
            h()
        self.memory.write(addr, data)

    def ram_read(self, addr: int, n: int) -> bytes:
        """``n`` bytes of RAM at ``addr`` (no side effects)."""
        check_int("n", n, 0, self.config.ram[1])
        self._check_ram(addr, n)
        h = self.bus.on_access
        if h is not None:
            h()
        return self.memory.read(addr, n)

    # -- bus masters --------------------------------------------------------
    def device_write(self, device_id: int, addr: int, value: int, size: int = 4) -> None:
        """A write by a bus master carrying DeviceID ``device_id`` (an MSI, typically)."""
        check_int("device_id", device_id, 0, (1 << 32) - 1)
        _check_access(addr, size)
        if type(value) is not int:
            raise InvalidArgumentType(f"value must be an int, not {value!r}")
        self.bus.write(addr, value & ((1 << (8 * size)) - 1), size, None, device_id)

    # -- device lines -------------------------------------------------------
    def set_interrupt_level(self, intid: int, level: bool, *, cpu: int | None = None) -> None:
        """Drive the input line of interrupt ``intid`` (an SPI, or a PPI of ``cpu``).

        For a level-sensitive interrupt the line level is the pending state's
        source; for an edge-triggered one a rising edge makes it pending.
        """
        h = self.bus.on_access
        if h is not None:
            h()
        self.gic.set_interrupt_level(intid, level, cpu=cpu)

    def describe(self) -> str:
        """A multi-line summary of the machine (what ``irqlab info`` prints)."""
        c = self.config
        lines = [f"CPUs: {c.cpus}", f"RAM: [{c.ram[0]:#x}, {c.ram[0] + c.ram[1]:#x})",
                 f"GIC: v{c.gic_version}, {c.spis} SPIs, IDbits={c.idbits}"]
        for r in self.bus.regions:
            lines.append(f"  {r.base:#014x}-{r.end - 1:#014x}  {r.name}")
        return "\n".join(lines)
