"""Intel Volume Management Device (VMD): a PCI function that owns a PCI domain of its own.

The VMD is an endpoint on the host bridge (vendor 0x8086, device 0x201d, class
0x010400) with MSI-X vectors of its own.  Behind it sits a separate PCI domain:
child functions (NVMe drives, other devices) whose configuration space is the
VMD's CFGBAR (ECAM layout: ``bus << 20 | device << 15 | function << 12``) and
whose BARs live in the VMD's MEMBAR window.  Every memory write a child issues
goes *upstream through the VMD*:

* a write into the MSI window ``[0xfee00000, 0xfef00000)`` is an interrupt
  message: the VMD decodes the vector index from address bits 19:12 (what
  Linux's ``vmd_compose_msi_msg`` encodes: ``0xfee00000 | index << 12``),
  ignores the data, and raises **its own** MSI-X vector ``index`` (a normal
  MSI-X message of the VMD function, through :meth:`Machine.device_write`, so
  the ITS/v2m sees the VMD's requester ID, never the child's);
* any other write is forwarded upstream unchanged, carrying the VMD's
  requester ID (children are invisible to the host's ``msi-map``).

The MSI window is an MMIO region mapped on the VMD's *child-side* bus (a
private :class:`~irqlab.hw.memory.Bus`): CPUs cannot reach it.

IMPDEF choices of the model (no spec is public; behaviour as Linux's driver
and QEMU-style device models assume it):

* CFGBAR and MEMBAR are placed by "firmware" at ``cfgbar``/``membar`` (default:
  the start of the 64-bit PCIe window at 0x80_0000_0000); CFGBAR decodes
  ``buses`` child buses (default 4), MEMBAR is 16 MiB; children's BAR0 are
  assigned there by a bump allocator as on the host bridge.
* A window write whose index is not below the VMD's MSI-X table size is
  dropped (``vmd_msi_dropped``); a window write of a size other than 4 is
  dropped too; window reads return 0.
* The VMD's own vector follows MSI-X rules (masked -> PBA, Bus Master Enable
  clear -> dropped): see :meth:`irqlab.hw.pci.PciFunction.fire`.

Events: ``vmd_msi_remap`` (``vmd`` = the VMD's bdf, ``rid`` = child requester
ID, ``index``, ``data``), ``vmd_msi_dropped`` (``rid``, ``index``, ``reason``),
``vmd_dma`` (a forwarded non-MSI write: ``rid``, ``addr``).
"""

from __future__ import annotations

from typing import Any

from irqlab.errors import (
    ExternalAbort,
    InvalidArgumentType,
    InvalidArgumentValue,
    check_int,
)
from irqlab.hw.config import PciFunctionConfig
from irqlab.hw.memory import Bus, SparseMemory
from irqlab.hw.pci import PciFunction, PciHost, _Ecam, _MmioWindow

__all__ = [
    "PCI_CLASS_STORAGE_EXPRESS",
    "VMD_DEVICE_ID",
    "VMD_MSI_BASE",
    "VMD_MSI_SIZE",
    "VMD_VENDOR_ID",
    "Vmd",
    "vmd_msi_address",
]

VMD_VENDOR_ID = 0x8086
VMD_DEVICE_ID = 0x201D
#: PCI class of the VMD function (mass storage, RAID controller).
VMD_CLASS = 0x010400
#: PCI class code of NVMe controllers (``PCI_CLASS_STORAGE_EXPRESS``).
PCI_CLASS_STORAGE_EXPRESS = 0x010802
#: The interrupt-message window children write to (the x86 local APIC range).
VMD_MSI_BASE = 0xFEE0_0000
VMD_MSI_SIZE = 0x10_0000
#: Default placement of CFGBAR/MEMBAR (IMPDEF: start of virt's 64-bit PCIe window).
VMD_DEFAULT_CFGBAR = 0x80_0000_0000
VMD_MEMBAR_SIZE = 0x100_0000


def vmd_msi_address(index: int) -> int:
    """The message address that makes the VMD raise its vector ``index``."""
    return VMD_MSI_BASE | (index << 12)


class _ChildHost(PciHost):
    """The PCI domain behind a VMD: ECAM in CFGBAR, BARs in MEMBAR.

    Reuses the host bridge's decode; its ``machine`` is the :class:`Vmd`, so a
    child's memory writes (:meth:`PciFunction.fire`) go through
    :meth:`Vmd.device_write` instead of the system bus.
    """

    def __init__(self, vmd: Vmd, cfgbar: int, buses: int, membar: int) -> None:
        # not PciHost.__init__: that one decodes the machine's own ECAM/MMIO windows
        self.machine = vmd  # type: ignore[assignment]
        self._functions: dict[int, PciFunction] = {}
        self._bars: list[tuple[int, PciFunction]] = []
        self._bar_bases: list[int] = []
        self._ecam_base = cfgbar
        self._max_bdf = (buses << 8) - 1
        self._mmio_base, self._mmio_size = membar, VMD_MEMBAR_SIZE
        self._next_bar = membar

    def device_id(self, bdf: int) -> int | None:
        """Children's writes carry their requester ID in the VMD domain (the VMD swallows it)."""
        return bdf


class _MsiWindow:
    """The MSI window on the VMD's child-side bus: a write raises VMD vector ``offset >> 12``."""

    __slots__ = ("vmd",)

    def __init__(self, vmd: Vmd) -> None:
        self.vmd = vmd

    def mmio_read(self, offset: int, size: int, cpu: int | None) -> int:
        return 0  # IMPDEF: RAZ

    def mmio_write(self, offset: int, value: int, size: int, cpu: int | None,
                   device_id: int | None) -> None:
        self.vmd._remap(-1 if device_id is None else device_id, offset >> 12, value, size)


class Vmd:
    """One VMD: its function on the host bridge, its child domain, and the MSI remapping.

    ``machine``: the :class:`~irqlab.hw.machine.Machine`; ``bdf``: the VMD's
    requester ID on the host bridge; ``msix_vectors``: its MSI-X table size
    (Intel VMDs have 32 or 64; default 32).  ``cfgbar``/``membar``: where
    firmware put the child ECAM and MMIO windows (keyword-only; IMPDEF
    defaults, see the module docstring).  Synchronous like all of ``hw``.
    """

    def __init__(self, machine: Any, *, bdf: int, msix_vectors: int = 32,
                 cfgbar: int | None = None, membar: int | None = None,
                 buses: int = 4) -> None:
        from irqlab.hw.machine import Machine

        if not isinstance(machine, Machine):
            raise InvalidArgumentType(f"machine must be a Machine, not {machine!r}")
        check_int("msix_vectors", msix_vectors, 1, 256)  # the window decodes 8 index bits
        check_int("buses", buses, 1, 256)
        if cfgbar is None:
            cfgbar = VMD_DEFAULT_CFGBAR
        check_int("cfgbar", cfgbar, 0, (1 << 48) - 1)
        if membar is None:
            membar = cfgbar + (buses << 20)
        check_int("membar", membar, 0, (1 << 48) - 1)
        windows = ((cfgbar, buses << 20, "cfgbar"), (membar, VMD_MEMBAR_SIZE, "membar"))
        for base, size, what in windows:
            for r in machine.bus.regions:
                if r.base < base + size and base < r.end:
                    raise InvalidArgumentValue(
                        f"{what} must not overlap {r.name}, not {base:#x} (+{size:#x})")
        if cfgbar < membar + VMD_MEMBAR_SIZE and membar < cfgbar + (buses << 20):
            raise InvalidArgumentValue(f"membar must not overlap cfgbar, not {membar:#x}")
        self.machine = machine
        self.fn: PciFunction = machine.pci.add_function(PciFunctionConfig(
            bdf=bdf, vendor_id=VMD_VENDOR_ID, device_id=VMD_DEVICE_ID, class_code=VMD_CLASS,
            msi_vectors=0, msix_vectors=msix_vectors))
        # IMPDEF: this model's VMD function exposes only BAR0 (its MSI-X table) in config
        # space; the driver finds CFGBAR/MEMBAR through the function ("firmware tables").
        self.fn.vmd = self  # type: ignore[attr-defined]
        self.bdf = bdf
        self.msix_vectors = msix_vectors
        self.cfgbar = cfgbar
        self.membar = membar
        self.children = _ChildHost(self, cfgbar, buses, membar)
        machine.bus.map(cfgbar, buses << 20, _Ecam(self.children), f"vmd{bdf:04x}-cfgbar")
        machine.bus.map(membar, VMD_MEMBAR_SIZE, _MmioWindow(self.children, membar),
                        f"vmd{bdf:04x}-membar")
        #: The child-side address space: only the MSI window is decoded here.
        self.child_bus = Bus(SparseMemory())
        self.child_bus.map(VMD_MSI_BASE, VMD_MSI_SIZE, _MsiWindow(self), "vmd-msi-window")
        #: Messages remapped per VMD vector (for histograms and tests).
        self.remapped = [0] * msix_vectors

    # -- what PciFunction needs from its host's "machine" ----------------------------------
    @property
    def events(self) -> Any:
        """The machine's event stream (children's ``pci_*`` events go there)."""
        return self.machine.events

    def device_write(self, device_id: int, addr: int, value: int, size: int = 4) -> None:
        """A memory write issued by child ``device_id``: MSI window, else forwarded upstream.

        A forwarded write carries the VMD's requester ID (its ITS DeviceID);
        an abort upstream propagates as :class:`ExternalAbort` (the child's
        ``pci_msi_abort``).
        """
        r = self.child_bus.lookup(addr)
        if r is not None and addr + size <= r.end:
            r.device.mmio_write(addr - r.base, value, size, None, device_id)  # type: ignore[union-attr]
            return
        devid = self.machine.pci.device_id(self.bdf)
        ev = self.machine.events
        if ev.enabled:
            ev.emit("vmd_dma", cpu=None, vmd=self.bdf, rid=device_id, addr=addr)
        if devid is None:
            raise ExternalAbort(addr, size, "VMD requester ID not covered by msi-map",
                                write=True)
        self.machine.device_write(devid, addr, value, size)

    # -- the remapping -----------------------------------------------------------------------
    def _remap(self, rid: int, index: int, value: int, size: int) -> None:
        ev = self.machine.events
        reason = ""
        if size != 4:
            reason = f"{size}-byte write to the MSI window"
        elif index >= self.msix_vectors:
            reason = f"index {index} beyond the VMD's {self.msix_vectors} MSI-X vectors"
        if reason:
            if ev.enabled:
                ev.emit("vmd_msi_dropped", cpu=None, vmd=self.bdf, rid=rid, index=index,
                        reason=reason)
            return
        self.remapped[index] += 1
        if ev.enabled:
            ev.emit("vmd_msi_remap", cpu=None, vmd=self.bdf, rid=rid, index=index, data=value)
        self.fn.fire(index)

    # -- the child domain ----------------------------------------------------------------------
    def hot_add(self, cfg: PciFunctionConfig) -> PciFunction:
        """Hot-add a child function behind the VMD (its BAR0 assigned in MEMBAR)."""
        return self.children.add_function(cfg)

    def hot_remove(self, bdf: int) -> None:
        """Hot-remove child ``bdf``."""
        self.children.remove_function(bdf)

    def child(self, bdf: int) -> PciFunction:
        """The child function ``bdf`` (``KeyError`` if absent)."""
        return self.children[bdf]

    def config_address(self, bdf: int, reg: int = 0) -> int:
        """The CFGBAR address of register ``reg`` of child ``bdf`` (what a CPU reads)."""
        return self.children.config_address(bdf, reg)

    def __repr__(self) -> str:
        b = self.bdf
        return (f"<Vmd {b >> 8:02x}:{(b >> 3) & 31:02x}.{b & 7} vectors={self.msix_vectors} "
                f"children={len(self.children._functions)}>")
