"""A PCIe host bridge (ECAM) with functions that raise MSI and MSI-X.

:class:`PciHost` decodes the ECAM window (``config.pcie_ecam``: 4 KiB of configuration
space per function at ``bus << 20 | device << 15 | function << 12``) and the 32-bit
PCIe MMIO window (``config.pcie_mmio``), where each function's BAR0 holds its MSI-X
table and PBA.  :class:`PciFunction` is a type-0 function with an MSI capability
(Multiple Message, 64-bit address, per-vector masking) and/or an MSI-X capability, and
raises an interrupt with :meth:`PciFunction.fire` as the hardware does: a memory write
by a bus master whose requester ID, mapped through ``msi-map``, is the ITS DeviceID.

IMPDEF choices (see ``docs/pci.md``): BAR0 is pre-assigned by "firmware" at boot and
hotplug (a bump allocator in the MMIO window, never reused) with Memory Space Enable
set; Bus Master Enable starts clear; absent functions read all-ones.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

from irqlab.arch.pci import (
    PCI_BASE_ADDRESS_0,
    PCI_CAP_ID_MSI,
    PCI_CAP_ID_MSIX,
    PCI_COMMAND,
    PCI_COMMAND_INTX_DISABLE,
    PCI_COMMAND_MASTER,
    PCI_COMMAND_MEMORY,
    PCI_MSI_FLAGS_64BIT,
    PCI_MSI_FLAGS_ENABLE,
    PCI_MSI_FLAGS_MASKBIT,
    PCI_MSIX_ENTRY_CTRL_MASKBIT,
    PCI_MSIX_ENTRY_SIZE,
    PCI_MSIX_FLAGS_ENABLE,
    PCI_MSIX_FLAGS_MASKALL,
    PCI_STATUS_CAP_LIST,
)
from irqlab.errors import (
    ExternalAbort,
    InvalidArgument,
    InvalidArgumentType,
    InvalidArgumentValue,
    _AccessFault,
    check_int,
)
from irqlab.hw.config import PciFunctionConfig
from irqlab.hw.memory import PA_LIMIT

if TYPE_CHECKING:
    from irqlab.hw.machine import Machine

__all__ = ["PciFunction", "PciHost"]

# Where this model places its capabilities in config space (IMPDEF).
MSI_CAP = 0x40
MSIX_CAP_WITH_MSI = 0x60

def _align(x: int, a: int) -> int:
    return (x + a - 1) & ~(a - 1)


class PciFunction:
    """One PCI function: configuration space, MSI and MSI-X state, and :meth:`fire`.

    ``bdf`` is the requester ID; ``bar0`` the address firmware assigned to BAR0 (0
    without MSI-X).  Synchronous, like all of ``hw``.
    """

    def __init__(self, host: PciHost, cfg: PciFunctionConfig, bar0: int, bar_size: int) -> None:
        self.host = host
        self.config = cfg
        self.bdf = cfg.bdf
        self.msi_vectors = cfg.msi_vectors
        self.msix_vectors = cfg.msix_vectors
        self.bar_size = bar_size
        self._cs = bytearray(256)
        self._wmask = bytearray(256)
        cs = self._cs
        self._put(0x00, cfg.vendor_id, 2)
        self._put(0x02, cfg.device_id, 2)
        self._put(0x08, 0x01 | (cfg.class_code << 8), 4)  # revision 1
        self._put(0x2C, cfg.vendor_id, 2)
        self._put(0x2E, cfg.device_id, 2)
        self._wmask[0x04] = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER
        self._wmask[0x05] = PCI_COMMAND_INTX_DISABLE >> 8
        self._wmask[0x3C] = 0xFF  # Interrupt Line
        caps = []
        if self.msi_vectors:
            caps.append(MSI_CAP)
        if self.msix_vectors:
            caps.append(MSIX_CAP_WITH_MSI if self.msi_vectors else MSI_CAP)
        if caps:
            self._put(0x06, PCI_STATUS_CAP_LIST, 2)
            cs[0x34] = caps[0]
        self.msi_cap = MSI_CAP if self.msi_vectors else None
        self.msix_cap = caps[-1] if self.msix_vectors else None
        if self.msi_cap is not None:
            c = self.msi_cap
            cs[c] = PCI_CAP_ID_MSI
            cs[c + 1] = caps[1] if len(caps) > 1 else 0
            mmc = self.msi_vectors.bit_length() - 1
            self._put(c + 2, (mmc << 1) | PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT, 2)
            self._wmask[c + 2] = PCI_MSI_FLAGS_ENABLE | (0x7 << 4)
            self._set_wmask(c + 4, 0xFFFF_FFFC, 4)  # Message Address (DWORD aligned)
            self._set_wmask(c + 8, 0xFFFF_FFFF, 4)  # Message Upper Address
            self._set_wmask(c + 12, 0xFFFF, 2)  # Message Data
            self._set_wmask(c + 16, (1 << self.msi_vectors) - 1, 4)  # Mask Bits
        self.pba_offset = 0
        self._pba = 0
        self._msix = bytearray()
        if self.msix_cap is not None:
            c = self.msix_cap
            n = self.msix_vectors
            cs[c] = PCI_CAP_ID_MSIX
            self._put(c + 2, n - 1, 2)
            self._wmask[c + 3] = (PCI_MSIX_FLAGS_MASKALL | PCI_MSIX_FLAGS_ENABLE) >> 8
            self.pba_offset = _align(n * PCI_MSIX_ENTRY_SIZE, 0x1000)
            self._put(c + 4, 0, 4)  # table at BAR0 + 0
            self._put(c + 8, self.pba_offset, 4)  # PBA, BIR 0
            self._msix = bytearray(n * PCI_MSIX_ENTRY_SIZE)
            for i in range(n):  # every vector starts masked
                self._msix[i * PCI_MSIX_ENTRY_SIZE + 12] = PCI_MSIX_ENTRY_CTRL_MASKBIT
            # BAR0: 64-bit non-prefetchable memory BAR.
            self._put(PCI_BASE_ADDRESS_0, (bar0 & 0xFFFF_FFF0) | 0b100, 4)
            self._put(PCI_BASE_ADDRESS_0 + 4, bar0 >> 32, 4)
            self._set_wmask(PCI_BASE_ADDRESS_0, ~(bar_size - 1) & 0xFFFF_FFF0, 4)
            self._set_wmask(PCI_BASE_ADDRESS_0 + 4, 0xFFFF_FFFF, 4)
            cs[PCI_COMMAND] |= PCI_COMMAND_MEMORY  # IMPDEF: firmware enabled decoding
        self._msi_pending = 0

    def __repr__(self) -> str:
        b = self.bdf
        return f"<PciFunction {b >> 8:02x}:{(b >> 3) & 31:02x}.{b & 7}>"

    # -- configuration space -------------------------------------------------------
    def _put(self, off: int, value: int, size: int) -> None:
        self._cs[off:off + size] = value.to_bytes(size, "little")

    def _get(self, off: int, size: int) -> int:
        return int.from_bytes(self._cs[off:off + size], "little")

    def _set_wmask(self, off: int, value: int, size: int) -> None:
        self._wmask[off:off + size] = value.to_bytes(size, "little")

    def config_read(self, reg: int, size: int) -> int:
        """A configuration read of ``size`` bytes at ``reg`` (extended space RAZ)."""
        if reg >= 256:
            return 0
        return self._get(reg, size)

    def config_write(self, reg: int, value: int, size: int) -> None:
        """A configuration write: only the writable bits change; side effects follow."""
        if reg >= 256:
            return
        old_msi_mask = self._msi_mask_bits()
        old_bar = self.bar0
        cs = self._cs
        wm = self._wmask
        for i in range(size):
            b = (value >> (8 * i)) & 0xFF
            o = reg + i
            cs[o] = (cs[o] & ~wm[o]) | (b & wm[o])
        if self.msi_cap is not None:
            c = self.msi_cap + 2
            mmc = (self._get(c, 2) >> 1) & 7
            mme = (self._get(c, 2) >> 4) & 7
            if mme > mmc:
                # IMPDEF choice: MME larger than MMC is clamped to MMC.
                self._put(c, (self._get(c, 2) & ~0x70) | (mmc << 4), 2)
        if self.bar0 != old_bar:
            self.host._bars_changed()
        self._event("pci_config_write", reg=reg, value=value, size=size)
        if self._msi_pending and old_msi_mask & ~self._msi_mask_bits():
            self._flush_msi_pending()
        if self.msix_cap is not None and self._pba:
            self._flush_msix_pending()

    @property
    def bar0(self) -> int:
        """The address BAR0 currently holds (0 without MSI-X)."""
        if self.msix_cap is None:
            return 0
        lo = self._get(PCI_BASE_ADDRESS_0, 4) & ~0xF
        return lo | (self._get(PCI_BASE_ADDRESS_0 + 4, 4) << 32)

    @property
    def command(self) -> int:
        """The Command register."""
        return self._get(PCI_COMMAND, 2)

    @property
    def bus_master(self) -> bool:
        """Command.Bus Master Enable: the function may issue memory writes (MSIs)."""
        return bool(self.command & PCI_COMMAND_MASTER)

    # -- MSI ---------------------------------------------------------------------------
    def _msi_ctrl(self) -> int:
        return self._get(self.msi_cap + 2, 2) if self.msi_cap is not None else 0

    def _msi_mask_bits(self) -> int:
        return self._get(self.msi_cap + 16, 4) if self.msi_cap is not None else 0

    @property
    def msi_enabled(self) -> bool:
        return bool(self._msi_ctrl() & PCI_MSI_FLAGS_ENABLE)

    def msi_message(self) -> tuple[int, int, int]:
        """(address, data, enabled vector count) as software programmed the MSI capability."""
        if self.msi_cap is None:
            return 0, 0, 0
        c = self.msi_cap
        addr = self._get(c + 4, 4) | (self._get(c + 8, 4) << 32)
        return addr, self._get(c + 12, 2), 1 << ((self._msi_ctrl() >> 4) & 7)

    @property
    def msi_pending_bits(self) -> int:
        """The MSI Pending Bits register (vectors fired while masked)."""
        return self._msi_pending

    def _flush_msi_pending(self) -> None:
        mask = self._msi_mask_bits()
        for v in range(self.msi_vectors):
            if self._msi_pending >> v & 1 and not mask >> v & 1:
                self._msi_pending &= ~(1 << v)
                self._put(self.msi_cap + 20, self._msi_pending, 4)  # type: ignore[operator]
                self.fire(v)

    # -- MSI-X -------------------------------------------------------------------------
    def _msix_ctrl(self) -> int:
        return self._get(self.msix_cap + 2, 2) if self.msix_cap is not None else 0

    @property
    def msix_enabled(self) -> bool:
        return bool(self._msix_ctrl() & PCI_MSIX_FLAGS_ENABLE)

    def msix_entry(self, i: int) -> tuple[int, int, bool]:
        """(address, data, masked) of MSI-X table entry ``i``."""
        check_int("i", i, 0, max(self.msix_vectors - 1, 0))
        if not self.msix_vectors:
            raise InvalidArgumentValue(f"i must name an MSI-X vector, not {i!r}")
        e = i * PCI_MSIX_ENTRY_SIZE
        t = self._msix
        addr = int.from_bytes(t[e:e + 8], "little")
        data = int.from_bytes(t[e + 8:e + 12], "little")
        return addr, data, bool(t[e + 12] & PCI_MSIX_ENTRY_CTRL_MASKBIT)

    @property
    def msix_pba(self) -> int:
        """The Pending Bit Array as an integer (bit i: vector i pending)."""
        return self._pba

    def _flush_msix_pending(self) -> None:
        if not self.msix_enabled or self._msix_ctrl() & PCI_MSIX_FLAGS_MASKALL:
            return
        for v in range(self.msix_vectors):
            if self._pba >> v & 1 and not self._msix[v * PCI_MSIX_ENTRY_SIZE + 12] & 1:
                self._pba &= ~(1 << v)
                self.fire(v)

    def bar_read(self, off: int, size: int) -> int:
        """A memory read in BAR0: the MSI-X table or the PBA (4- or 8-byte accesses)."""
        if size not in (4, 8) or off & (size - 1):
            raise _AccessFault(f"MSI-X: {size}-byte access at BAR0+{off:#x} not supported")
        if off < len(self._msix):
            return int.from_bytes(self._msix[off:off + size], "little")
        if self.pba_offset <= off < self.pba_offset + _align(self.msix_vectors, 64) // 8:
            return (self._pba >> (8 * (off - self.pba_offset))) & ((1 << (8 * size)) - 1)
        return 0

    def bar_write(self, off: int, value: int, size: int) -> None:
        """A memory write in BAR0: MSI-X table entries (the PBA is read-only)."""
        if size not in (4, 8) or off & (size - 1):
            raise _AccessFault(f"MSI-X: {size}-byte access at BAR0+{off:#x} not supported")
        if off >= len(self._msix):
            return
        t = self._msix
        for i in range(size):
            o = off + i
            b = (value >> (8 * i)) & 0xFF
            if o % PCI_MSIX_ENTRY_SIZE >= 12:
                b &= PCI_MSIX_ENTRY_CTRL_MASKBIT if o % PCI_MSIX_ENTRY_SIZE == 12 else 0
            t[o] = b
        if self._pba:
            self._flush_msix_pending()

    # -- raising an interrupt ---------------------------------------------------------------
    def fire(self, vector: int) -> None:
        """Raise interrupt ``vector`` as the hardware does.

        MSI-X if enabled (a masked vector sets its PBA bit and is sent when unmasked),
        else MSI (data with the vector in its low log2(MME) bits; a masked vector sets its
        Pending bit), else nothing (``pci_msi_dropped``).  Never raises for anything the
        guest programmed: an MSI to an address nothing decodes is a master abort
        (``pci_msi_abort``).
        """
        check_int("vector", vector, 0, max(self.msi_vectors, self.msix_vectors, 1) - 1)
        if self.msix_enabled:
            if vector >= self.msix_vectors:
                self._dropped(vector, "vector exceeds the MSI-X table size")
                return
            e = vector * PCI_MSIX_ENTRY_SIZE
            if self._msix_ctrl() & PCI_MSIX_FLAGS_MASKALL or self._msix[e + 12] & 1:
                self._pba |= 1 << vector
                self._event("pci_msix_pending", vector=vector)
                return
            addr, data, _ = self.msix_entry(vector)
            self._send(vector, addr, data)
        elif self.msi_enabled:
            addr, data, n = self.msi_message()
            if vector >= n:
                self._dropped(vector, "vector exceeds MSI Multiple Message Enable")
                return
            if self._msi_mask_bits() >> vector & 1:
                self._msi_pending |= 1 << vector
                self._put(self.msi_cap + 20, self._msi_pending, 4)  # type: ignore[operator]
                self._event("pci_msi_pending", vector=vector)
                return
            # Multi-MSI: the function puts the vector number in the low log2(n) bits
            # (software leaves them 0; as QEMU, they are replaced, not ORed).
            self._send(vector, addr, (data & ~(n - 1)) | vector)
        else:
            self._dropped(vector, "MSI and MSI-X are disabled")

    def _send(self, vector: int, addr: int, data: int) -> None:
        if not self.bus_master:
            self._dropped(vector, "Bus Master Enable is 0")
            return
        devid = self.host.device_id(self.bdf)
        if devid is None:
            self._dropped(vector, "requester ID not covered by msi-map")
            return
        self._event("pci_msi_write", vector=vector, devid=devid, addr=addr, data=data)
        if addr >= PA_LIMIT or addr & 3:
            self._event("pci_msi_abort", vector=vector, addr=addr,
                        reason="address beyond the physical address space")
            return
        try:
            self.host.machine.device_write(devid, addr, data & 0xFFFF_FFFF, 4)
        except ExternalAbort as e:
            self._event("pci_msi_abort", vector=vector, addr=addr, reason=e.reason)
        except InvalidArgument as e:  # a DeviceID beyond 32 bits from msi-map
            self._event("pci_msi_abort", vector=vector, addr=addr, reason=str(e))

    def _dropped(self, vector: int, rule: str) -> None:
        self._event("pci_msi_dropped", vector=vector, rule=rule)

    def _event(self, kind: str, **fields: Any) -> None:
        ev = self.host.machine.events
        if ev.enabled:
            ev.emit(kind, bdf=self.bdf, **fields)


class _Ecam:
    """The ECAM window: configuration space of every function on the host bridge."""

    __slots__ = ("host",)

    def __init__(self, host: PciHost) -> None:
        self.host = host

    def mmio_read(self, offset: int, size: int, cpu: int | None) -> int:
        if size == 8 or offset & (size - 1):
            raise _AccessFault(f"ECAM: {size}-byte access at {offset:#x} not supported")
        fn = self.host._functions.get(offset >> 12)
        if fn is None:
            return (1 << (8 * size)) - 1  # no function: all-ones (Unsupported Request)
        return fn.config_read(offset & 0xFFF, size)

    def mmio_write(self, offset: int, value: int, size: int, cpu: int | None,
                   device_id: int | None) -> None:
        if size == 8 or offset & (size - 1):
            raise _AccessFault(f"ECAM: {size}-byte access at {offset:#x} not supported")
        fn = self.host._functions.get(offset >> 12)
        if fn is not None:
            fn.config_write(offset & 0xFFF, value, size)


class _MmioWindow:
    """The PCIe MMIO window: forwards accesses to the BAR that claims them."""

    __slots__ = ("base", "host")

    def __init__(self, host: PciHost, base: int) -> None:
        self.host = host
        self.base = base

    def _claim(self, offset: int, size: int) -> tuple[PciFunction, int]:
        addr = self.base + offset
        h = self.host
        i = bisect.bisect_right(h._bar_bases, addr) - 1
        if i >= 0:
            base, fn = h._bars[i]
            if addr + size <= base + fn.bar_size and fn.command & PCI_COMMAND_MEMORY:
                return fn, addr - base
        raise _AccessFault("no BAR claims this address (master abort)")

    def mmio_read(self, offset: int, size: int, cpu: int | None) -> int:
        fn, off = self._claim(offset, size)
        return fn.bar_read(off, size)

    def mmio_write(self, offset: int, value: int, size: int, cpu: int | None,
                   device_id: int | None) -> None:
        fn, off = self._claim(offset, size)
        fn.bar_write(off, value, size)


class PciHost:
    """The PCIe host bridge of the machine (QEMU virt's ``pcie@10000000``, "gpex").

    Functions come from ``config.pci_functions`` and :meth:`add_function`; they live on
    the bus numbers the ECAM window covers.  ``msi-map`` (``config.msi_map`` =
    (rid_base, devid_base, length)) turns requester IDs into ITS DeviceIDs.
    """

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        cfg = machine.config
        self._functions: dict[int, PciFunction] = {}
        self._bars: list[tuple[int, PciFunction]] = []
        self._bar_bases: list[int] = []
        self._ecam_base, ecam_size = cfg.pcie_ecam
        self._max_bdf = min(ecam_size >> 12, 1 << 16) - 1
        self._mmio_base, self._mmio_size = cfg.pcie_mmio
        self._next_bar = self._mmio_base
        machine.bus.map(self._ecam_base, ecam_size, _Ecam(self), "pcie-ecam")
        machine.bus.map(self._mmio_base, self._mmio_size, _MmioWindow(self, self._mmio_base),
                        "pcie-mmio")
        for fc in cfg.pci_functions:
            self.add_function(fc)

    @property
    def functions(self) -> dict[int, PciFunction]:
        """bdf -> function, in bdf order (a copy)."""
        return dict(sorted(self._functions.items()))

    def __getitem__(self, bdf: int) -> PciFunction:
        return self._functions[bdf]

    def config_address(self, bdf: int, reg: int = 0) -> int:
        """The ECAM address of register ``reg`` of function ``bdf``."""
        return self._ecam_base + (bdf << 12) + reg

    def device_id(self, bdf: int) -> int | None:
        """The ITS DeviceID of requester ID ``bdf`` through msi-map, or None if unmapped."""
        rid_base, devid_base, length = self.machine.config.msi_map
        if rid_base <= bdf < rid_base + length:
            return devid_base + bdf - rid_base
        return None

    def add_function(self, cfg: PciFunctionConfig) -> PciFunction:
        """Hot-add a function (also used at boot); firmware assigns its BAR0."""
        if not isinstance(cfg, PciFunctionConfig):
            raise InvalidArgumentType(f"cfg must be a PciFunctionConfig, not {cfg!r}")
        check_int("cfg.bdf", cfg.bdf, 0, self._max_bdf)
        if cfg.bdf in self._functions:
            raise InvalidArgumentValue(f"cfg.bdf must be a free requester ID, not {cfg.bdf:#x}")
        check_int("cfg.msix_vectors", cfg.msix_vectors, 0, 2048)
        n = cfg.msi_vectors
        if type(n) is not int or n not in (0, 1, 2, 4, 8, 16, 32):
            raise InvalidArgumentValue(
                f"cfg.msi_vectors must be 0 or a power of two up to 32, not {n!r}")
        bar0 = size = 0
        if cfg.msix_vectors:
            pba = _align(cfg.msix_vectors * PCI_MSIX_ENTRY_SIZE, 0x1000)
            size = max(0x4000, 1 << (pba + 0x1000 - 1).bit_length())
            bar0 = _align(self._next_bar, size)
            if bar0 + size > self._mmio_base + self._mmio_size:
                raise InvalidArgumentValue(
                    f"cfg.msix_vectors={cfg.msix_vectors}: the PCIe MMIO window is full")
            self._next_bar = bar0 + size
        fn = PciFunction(self, cfg, bar0, size)
        self._functions[cfg.bdf] = fn
        self._bars_changed()
        ev = self.machine.events
        if ev.enabled:
            ev.emit("pci_hot_add", bdf=cfg.bdf, bar0=bar0)
        return fn

    def remove_function(self, bdf: int) -> None:
        """Hot-remove function ``bdf``: its configuration space and BAR stop decoding."""
        check_int("bdf", bdf, 0, 0xFFFF)
        if bdf not in self._functions:
            raise InvalidArgumentValue(f"bdf must name a present function, not {bdf:#x}")
        del self._functions[bdf]
        self._bars_changed()
        ev = self.machine.events
        if ev.enabled:
            ev.emit("pci_hot_remove", bdf=bdf)

    def _bars_changed(self) -> None:
        """Rebuild the BAR decode list (BAR writes, hotplug, Memory Space Enable)."""
        bars = []
        for fn in self._functions.values():
            if fn.msix_cap is not None and fn.bar0:
                bars.append((fn.bar0, fn))
        bars.sort(key=lambda x: (x[0], x[1].bdf))
        self._bars = bars
        self._bar_bases = [b for b, _ in bars]
