"""Machine configuration from a flattened device tree (the ``dtb`` extra: pylibfdt).

:func:`config_from_dtb` reads the tree QEMU's ``virt`` machine dumps
(``-machine virt,dumpdtb=FILE``) and returns the :class:`MachineConfig` that
describes the same hardware: the GIC and its frames, the ITS or GICv2m frame,
the CPUs (with their MPIDRs checked against QEMU's packing), RAM, and the PCIe
host bridge (ECAM window, 32-bit MMIO window, ``msi-map``).  What a device
tree does not say (the number of SPIs, IDbits, the IMPLEMENTATION DEFINED
choices) keeps the :class:`MachineConfig` default or comes from ``options``.

The tree is parsed with libfdt's official Python binding (``import libfdt``).
Any problem with the file -- unreadable, truncated, longer than its header's
``totalsize`` or over :data:`MAX_DTB_SIZE`, not a device tree, no GIC
node, a malformed ``reg`` -- raises :class:`~irqlab.errors.InvalidArgumentValue`
with a one-line reason; a libfdt exception never escapes.

Nodes and properties used (bindings: ``arm,gic-v3.yaml``, ``arm,gic.yaml``,
``pci-host-generic.yaml``, ``pci-msi.txt``):

* the interrupt controller: ``compatible = "arm,gic-v3"`` -> GICv3, ``reg`` =
  GICD, then ``#redistributor-regions`` GICR regions; ``"arm,cortex-a15-gic"``
  / ``"arm,gic-400"`` (and older GICv2 names) -> GICv2, ``reg`` = GICD, GICC
  and, with the virtualization extensions, GICH and GICV.  ``interrupts`` on
  the node is the maintenance interrupt (a PPI): its presence means the
  virtualization extensions are there (QEMU emits it only with
  ``virtualization=on``, for both GIC versions);
* an ``arm,gic-v3-its`` child (``reg``) or an ``arm,gic-v2m-frame`` child;
* ``/cpus/cpu@N`` (``reg`` = MPIDR affinity), the ``memory`` node, and a
  ``pci-host-ecam-generic`` node (``reg`` = ECAM, ``ranges``, ``msi-map`` or
  ``msi-parent``).
"""

from __future__ import annotations

import dataclasses
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from irqlab.arch import virt as vm
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue
from irqlab.hw.config import MachineConfig

__all__ = ["DEFAULT_DTB", "GIC_COMPATIBLES", "MAX_DTB_SIZE", "DtbError", "config_from_dtb",
           "shipped_dtb"]

#: ``compatible`` strings of the interrupt-controller node -> GIC architecture version.
GIC_COMPATIBLES: dict[str, int] = {
    "arm,gic-v3": 3,
    "arm,gic-400": 2,
    "arm,cortex-a15-gic": 2,
    "arm,cortex-a9-gic": 2,
    "arm,cortex-a7-gic": 2,
}
_ITS_COMPATIBLE = "arm,gic-v3-its"
_V2M_COMPATIBLE = "arm,gic-v2m-frame"
_PCIE_COMPATIBLE = "pci-host-ecam-generic"
#: PCI ``ranges`` phys.hi space code (bits 25:24): 32-bit memory space.
_PCI_SPACE_MEM32 = 0x2

#: The device tree the demo boots by default (shipped in ``irqlab/data``).
DEFAULT_DTB = "qemu-virt-gicv3-its-4cpu.dtb"

#: The largest device tree read (``totalsize`` in its header): 2 MiB, the limit Linux
#: sets on arm64 (``MAX_FDT_SIZE`` in ``arch/arm64/include/asm/boot.h``).  A file is read
#: no further than its header's ``totalsize`` (and must end there).
MAX_DTB_SIZE = 2 << 20
_FDT_MAGIC = 0xD00DFEED
_FDT_HEADER_SIZE = 40

_INSTALL_HINT = "reading device trees needs pylibfdt: pip install 'irqlab[dtb]'"


def shipped_dtb(name: str = DEFAULT_DTB) -> Path:
    """The path of a device tree shipped with the package (QEMU 7.2 ``virt`` dumps)."""
    from importlib import resources

    return Path(str(resources.files("irqlab") / "data" / name))


class DtbError(InvalidArgumentValue):
    """A device tree that cannot be turned into a machine (the reason is the message)."""


def _libfdt() -> Any:
    try:
        import libfdt  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        raise ImportError(_INSTALL_HINT) from None
    return libfdt


class _Tree:
    """A thin, exception-safe reader over a ``libfdt.Fdt`` (nodes by offset)."""

    def __init__(self, libfdt: Any, data: bytes, name: str) -> None:
        self.libfdt = libfdt
        self.name = name
        self.fdt = libfdt.Fdt(data)

    def fail(self, reason: str) -> DtbError:
        # Names and strings come from the file: keep the reason on one printable line.
        reason = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in reason)
        return DtbError(f"{self.name}: {reason}")

    # -- traversal -----------------------------------------------------------
    def nodes(self) -> Iterator[int]:
        """Every node offset in document order (the root first)."""
        lf = self.libfdt
        off, depth = 0, 0
        while True:
            yield off
            res = self.fdt.next_node(off, depth, (lf.NOTFOUND,))
            if not isinstance(res, list | tuple):
                return
            off, depth = res
            if off < 0 or depth <= 0:
                return

    def subnodes(self, parent: int) -> Iterator[int]:
        lf = self.libfdt
        off = self.fdt.first_subnode(parent, (lf.NOTFOUND,))
        while off >= 0:
            yield off
            off = self.fdt.next_subnode(off, (lf.NOTFOUND,))

    def name_of(self, node: int) -> str:
        return str(self.fdt.get_name(node))

    def path_of(self, node: int) -> str:
        return str(self.fdt.get_path(node))

    # -- properties ------------------------------------------------------------
    def prop(self, node: int, name: str) -> bytes | None:
        p = self.fdt.getprop(node, name, (self.libfdt.NOTFOUND,))
        if isinstance(p, int):
            return None
        return bytes(p)

    def strings(self, node: int, name: str) -> list[str]:
        raw = self.prop(node, name)
        if raw is None:
            return []
        return [s.decode("ascii", "replace") for s in raw.split(b"\0") if s]

    def cells(self, node: int, name: str) -> list[int] | None:
        raw = self.prop(node, name)
        if raw is None:
            return None
        if len(raw) % 4:
            raise self.fail(f"{self.path_of(node)}: {name} is not a list of 32-bit cells")
        return list(struct.unpack(f">{len(raw) // 4}I", raw))

    def u32(self, node: int, name: str, default: int) -> int:
        c = self.cells(node, name)
        if c is None:
            return default
        if len(c) != 1:
            raise self.fail(f"{self.path_of(node)}: {name} must be one cell")
        return c[0]

    def address_cells(self, node: int) -> tuple[int, int]:
        """``#address-cells`` and ``#size-cells`` that ``node`` declares for its children."""
        ac = self.u32(node, "#address-cells", 2)
        sc = self.u32(node, "#size-cells", 1)
        if not (1 <= ac <= 3 and 0 <= sc <= 2):
            raise self.fail(f"{self.path_of(node)}: unsupported #address-cells/#size-cells "
                            f"{ac}/{sc}")
        return ac, sc

    def parent(self, node: int) -> int:
        return int(self.fdt.parent_offset(node))

    def reg(self, node: int) -> list[tuple[int, int]]:
        """The ``reg`` of ``node`` as (address, size) pairs, in its parent's cell sizes."""
        ac, sc = self.address_cells(self.parent(node))
        c = self.cells(node, "reg")
        if c is None:
            raise self.fail(f"{self.path_of(node)}: no reg property")
        step = ac + sc
        if not c or len(c) % step:
            raise self.fail(f"{self.path_of(node)}: reg has {len(c)} cells, "
                            f"not a multiple of {step}")
        return [(_join(c[i:i + ac]), _join(c[i + ac:i + step])) for i in range(0, len(c), step)]

    def find_compatible(self, compatibles: tuple[str, ...] | dict[str, int]) -> int | None:
        for node in self.nodes():
            if any(s in compatibles for s in self.strings(node, "compatible")):
                return node
        return None

    def child_compatible(self, parent: int, compatible: str) -> int | None:
        for node in self.subnodes(parent):
            if compatible in self.strings(node, "compatible"):
                return node
        return None


def _join(cells: list[int]) -> int:
    v = 0
    for c in cells:
        v = (v << 32) | c
    return v


def config_from_dtb(path: str | os.PathLike[str], **options: Any) -> MachineConfig:
    """The :class:`MachineConfig` of the machine the device tree at ``path`` describes.

    ``options`` set (or override) :class:`MachineConfig` fields the tree does
    not carry, e.g. ``idbits=24`` or ``its_command_errors="stall"``.  Raises
    :class:`DtbError` (an :class:`~irqlab.errors.InvalidArgumentValue`) with a
    one-line reason for a file that is not a usable device tree, and
    :class:`ImportError` naming the ``dtb`` extra when pylibfdt is missing.
    """
    if not isinstance(path, str | os.PathLike):
        raise InvalidArgumentType(f"path must be a str or os.PathLike, not {path!r}")
    known = {f.name for f in dataclasses.fields(MachineConfig)}
    for key in options:
        if key not in known:
            raise InvalidArgumentValue(f"unknown machine option {key}={options[key]!r}")
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if text == "":
        raise InvalidArgumentValue("path must name a device tree file, not ''")
    p = Path(text)
    # a path from the user can hold any character: keep the message on one line
    name = text if text.isprintable() else repr(text)
    try:
        data = _read_bounded(p, name)
    except OSError as e:
        raise DtbError(f"{name}: cannot read: {e.strerror or e}") from None
    libfdt = _libfdt()
    return _parse(libfdt, data, name, options)


def _read_bounded(p: Path, name: str) -> bytes:
    """The file's header, then as much as its ``totalsize`` says and one byte more.

    Never more than :data:`MAX_DTB_SIZE` + 1 bytes, whatever the file is (``/dev/zero``
    ends at the header: its magic is wrong); a larger ``totalsize`` is an error here.
    :func:`_parse` judges the rest.
    """
    with open(p, "rb") as fh:
        data = fh.read(_FDT_HEADER_SIZE)
        if len(data) < _FDT_HEADER_SIZE:
            return data
        magic, totalsize = struct.unpack_from(">II", data, 0)
        if magic != _FDT_MAGIC:
            return data
        if totalsize > MAX_DTB_SIZE:
            raise DtbError(f"{name}: device tree too large (totalsize {totalsize} bytes, "
                           f"at most {MAX_DTB_SIZE})")
        return data + fh.read(max(totalsize - len(data), 0) + 1)


def _parse(libfdt: Any, data: bytes, name: str, options: dict[str, Any]) -> MachineConfig:
    if len(data) < _FDT_HEADER_SIZE:
        raise DtbError(f"{name}: not a flattened device tree (only {len(data)} bytes)")
    magic, totalsize = struct.unpack_from(">II", data, 0)
    if magic != _FDT_MAGIC:
        raise DtbError(f"{name}: not a flattened device tree (bad magic {magic:#010x})")
    if totalsize < _FDT_HEADER_SIZE:
        raise DtbError(f"{name}: not a flattened device tree (totalsize {totalsize} bytes, "
                       f"less than its header)")
    if totalsize > len(data):
        raise DtbError(f"{name}: truncated device tree ({len(data)} of {totalsize} bytes)")
    if totalsize < len(data):
        raise DtbError(f"{name}: the file is longer than the device tree in it (header "
                       f"totalsize {totalsize} bytes)")
    try:
        tree = _Tree(libfdt, data, name)
        fields = _read_fields(tree)
    except libfdt.FdtException as e:
        raise DtbError(f"{name}: malformed device tree ({e})") from None
    fields.update(options)
    try:
        return MachineConfig(**fields)
    except InvalidArgumentValue as e:
        raise DtbError(f"{name}: {e}") from None


def _read_fields(t: _Tree) -> dict[str, Any]:
    f: dict[str, Any] = {}
    # -- interrupt controller -------------------------------------------------
    intc = t.find_compatible(GIC_COMPATIBLES)
    if intc is None:
        raise t.fail("no GIC interrupt-controller node (compatible "
                     + ", ".join(sorted(GIC_COMPATIBLES)) + ")")
    version = next(GIC_COMPATIBLES[s] for s in t.strings(intc, "compatible")
                   if s in GIC_COMPATIBLES)
    f["gic_version"] = version
    regs = t.reg(intc)
    f["gicd"] = regs[0]
    maint = t.cells(intc, "interrupts")
    if maint is not None:
        # <type number flags>; type 1 = PPI.  Its presence means virtualization.
        if len(maint) < 3 or maint[0] != 1:
            raise t.fail(f"{t.path_of(intc)}: maintenance interrupt must be a PPI, "
                         f"not {maint!r}")
        f["virtualization"] = True
        f["maintenance_ppi"] = maint[1]
    if version == 3:
        nregions = t.u32(intc, "#redistributor-regions", 1)
        if nregions < 1 or len(regs) < 1 + nregions:
            raise t.fail(f"{t.path_of(intc)}: reg has {len(regs)} regions, needs GICD + "
                         f"{nregions} redistributor region(s)")
        f["gicr_regions"] = tuple(regs[1:1 + nregions])
        its = t.child_compatible(intc, _ITS_COMPATIBLE)
        f["its"] = its is not None
        if its is not None:
            f["its_base"] = t.reg(its)[0][0]
        msi_node = its
    else:
        if len(regs) < 2:
            raise t.fail(f"{t.path_of(intc)}: reg needs GICD and GICC, has {len(regs)} region(s)")
        # IMPDEF choice (as QEMU): the tree describes 64 KiB windows for GICC and
        # GICV; the CPU interface register block inside them is 8 KiB.
        f["gicc"] = (regs[1][0], min(regs[1][1], vm.GICV2_CPUIF_SIZE))
        if len(regs) >= 4:
            f["virtualization"] = True
            f["gich"] = regs[2]
            f["gicv"] = (regs[3][0], min(regs[3][1], vm.GICV2_CPUIF_SIZE))
        elif "virtualization" in f:
            raise t.fail(f"{t.path_of(intc)}: maintenance interrupt without GICH/GICV regions")
        f["its"] = False
        f["idbits"] = 10
        v2m = t.child_compatible(intc, _V2M_COMPATIBLE)
        f["v2m"] = t.reg(v2m)[0] if v2m is not None else None
        msi_node = v2m
    # -- CPUs ----------------------------------------------------------------
    cpus = t.fdt.path_offset("/cpus", (t.libfdt.NOTFOUND,))
    if cpus < 0:
        raise t.fail("no /cpus node")
    ac, _ = t.address_cells(cpus)
    mpidrs = []
    for node in t.subnodes(cpus):
        if t.strings(node, "device_type") != ["cpu"]:
            continue
        c = t.cells(node, "reg")
        if c is None or len(c) != ac:
            raise t.fail(f"{t.path_of(node)}: reg must be {ac} cell(s)")
        mpidrs.append(_join(c))
    if not mpidrs:
        raise t.fail("/cpus has no cpu nodes")
    mpidrs.sort()
    for i, mpidr in enumerate(mpidrs):
        a3, a2, a1, a0 = MachineConfig.mpidr_affinity(i, version)
        want = (a3 << 32) | (a2 << 16) | (a1 << 8) | a0
        if mpidr != want:
            raise t.fail(f"cpu {i} has MPIDR {mpidr:#x}, not QEMU virt's {want:#x} "
                         f"({16 if version == 3 else 8} CPUs per cluster)")
    f["cpus"] = len(mpidrs)
    # -- memory --------------------------------------------------------------
    for node in t.nodes():
        if t.strings(node, "device_type") == ["memory"]:
            f["ram"] = t.reg(node)[0]
            break
    else:
        raise t.fail("no memory node")
    # -- PCIe host bridge ----------------------------------------------------
    pcie = t.find_compatible((_PCIE_COMPATIBLE,))
    if pcie is not None:
        f["pcie_ecam"] = t.reg(pcie)[0]
        window = _pci_mem32_window(t, pcie)
        if window is not None:
            f["pcie_mmio"] = window
        _read_msi(t, pcie, msi_node, f)
    return f


def _pci_mem32_window(t: _Tree, pcie: int) -> tuple[int, int] | None:
    """The 32-bit memory window of the host bridge's ``ranges`` (CPU address, size)."""
    c = t.cells(pcie, "ranges")
    if not c:
        return None
    child_ac, child_sc = t.address_cells(pcie)
    parent_ac, _ = t.address_cells(t.parent(pcie))
    step = child_ac + parent_ac + child_sc
    if child_ac != 3 or len(c) % step:
        raise t.fail(f"{t.path_of(pcie)}: ranges has {len(c)} cells, not a multiple of {step}")
    for i in range(0, len(c), step):
        space = (c[i] >> 24) & 3
        if space == _PCI_SPACE_MEM32:
            cpu = _join(c[i + child_ac:i + child_ac + parent_ac])
            size = _join(c[i + child_ac + parent_ac:i + step])
            return (cpu, size)
    return None


def _read_msi(t: _Tree, pcie: int, msi_node: int | None, f: dict[str, Any]) -> None:
    """``msi-map`` (RID base, controller, DeviceID base, length) or ``msi-parent``."""
    msi_map = t.cells(pcie, "msi-map")
    if msi_map is not None:
        if len(msi_map) != 4:
            raise t.fail(f"{t.path_of(pcie)}: msi-map must be one 4-cell entry "
                         f"(rid-base, msi-controller, msi-base, length), has {len(msi_map)} cells")
        rid_base, phandle, devid_base, length = msi_map
        _check_msi_controller(t, pcie, "msi-map", phandle, msi_node)
        f["msi_map"] = (rid_base, devid_base, length)
        return
    parent = t.cells(pcie, "msi-parent")
    if parent is not None and parent:
        # msi-parent: the requester ID is the DeviceID (identity map).
        _check_msi_controller(t, pcie, "msi-parent", parent[0], msi_node)


def _check_msi_controller(t: _Tree, pcie: int, prop: str, phandle: int,
                          msi_node: int | None) -> None:
    target = t.fdt.node_offset_by_phandle(phandle, (t.libfdt.NOTFOUND,))
    if target < 0:
        raise t.fail(f"{t.path_of(pcie)}: {prop} names phandle {phandle:#x}, which no node has")
    if msi_node is None or target != msi_node:
        raise t.fail(f"{t.path_of(pcie)}: {prop} names {t.path_of(target)}, "
                     "which is not the GIC's ITS or v2m frame")
