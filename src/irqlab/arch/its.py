"""GICv3 ITS encodings: GITS_* registers, the 32-byte commands, table entries.

Pure data and functions, no state.  Register layouts follow IHI 0069 section 12.19
(the GITS_* register descriptions); command layouts section 5.3 / chapter 6 ("ITS
commands"); table entries follow the KVM ITS save/restore ABI revision 0
(``Documentation/virt/kvm/devices/arm-vgic-its.rst``), which irqlab uses as its
IMPLEMENTATION DEFINED table format so that an image is meaningful outside irqlab::

    DTE = V[63] | next[62:49] | ITT_addr[48:5] (PA[51:8]) | Size[4:0]
    CTE = V[63] | RDBase[51:16] | ICID[15:0]
    ITE = next[63:48] | pINTID[47:16] (0: invalid) | ICID[15:0]

All entries are 8 bytes, little-endian.  Commands decode into :class:`ItsCommand`
records and encode from keyword fields::

    raw = encode_command("MAPTI", DeviceID=3, EventID=0x20, pINTID=0x2020, ICID=1)
    cmd = decode_command(raw)          # ItsCommand(name='MAPTI', DeviceID=3, ...)
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from irqlab.arch.fields import Field, Register

__all__ = [
    "CMD_SIZE",
    "COMMANDS",
    "CTE",
    "DTE",
    "GICV4_OPCODES",
    "GITS_BASER",
    "GITS_BASER_TYPE_COLLECTION",
    "GITS_BASER_TYPE_DEVICE",
    "GITS_BASER_TYPE_NONE",
    "GITS_BASER_TYPE_VPE",
    "GITS_CBASER",
    "GITS_CREADR",
    "GITS_CTLR",
    "GITS_CWRITER",
    "GITS_IIDR",
    "GITS_PIDR2",
    "GITS_TYPER",
    "ITE",
    "ITS_CONTROL_FRAME_SIZE",
    "ITS_ENTRY_SIZE",
    "ITS_FRAME_SIZE",
    "L1_ENTRY",
    "LPI_INTID_BASE",
    "OFFSETS",
    "PAGE_SIZES",
    "ItsCommand",
    "baser_page_size",
    "baser_physical_address",
    "decode_command",
    "decode_command_words",
    "encode_baser_address",
    "encode_command",
    "encode_cte",
    "encode_dte",
    "encode_ite",
]

#: First LPI INTID.
LPI_INTID_BASE = 8192
#: Bytes per command in the command queue.
CMD_SIZE = 32
#: Bytes per DTE, CTE, ITE and level-1 table entry (KVM ABI rev 0).
ITS_ENTRY_SIZE = 8
#: The ITS has two 64 KiB frames: control (GITS_CTLR ...) and translation (GITS_TRANSLATER).
ITS_CONTROL_FRAME_SIZE = 0x1_0000
ITS_FRAME_SIZE = 0x2_0000

# --- register offsets (IHI 0069 table 12-27) --------------------------------------------
OFFSETS: dict[str, int] = {
    "GITS_CTLR": 0x0000,
    "GITS_IIDR": 0x0004,
    "GITS_TYPER": 0x0008,
    "GITS_CBASER": 0x0080,
    "GITS_CWRITER": 0x0088,
    "GITS_CREADR": 0x0090,
    "GITS_BASER0": 0x0100,
    "GITS_PIDR4": 0xFFD0,
    "GITS_PIDR0": 0xFFE0,
    "GITS_PIDR1": 0xFFE4,
    "GITS_PIDR2": 0xFFE8,
    "GITS_PIDR3": 0xFFEC,
    "GITS_CIDR0": 0xFFF0,
    "GITS_CIDR1": 0xFFF4,
    "GITS_CIDR2": 0xFFF8,
    "GITS_CIDR3": 0xFFFC,
    # in the translation frame, relative to the ITS base
    "GITS_TRANSLATER": 0x1_0040,
}

# --- registers ------------------------------------------------------------------------------
GITS_CTLR = Register(
    "GITS_CTLR", Field("Enabled", 0), Field("ImDe", 1), Field("ITS_Number", 4, 4),
    Field("UMSIirq", 8), Field("Quiescent", 31), offset=0x0)

GITS_IIDR = Register(
    "GITS_IIDR", Field("Implementer", 0, 12), Field("Revision", 12, 4), Field("Variant", 16, 4),
    Field("ProductID", 24, 8), offset=0x4)

GITS_TYPER = Register(
    "GITS_TYPER", Field("Physical", 0), Field("Virtual", 1), Field("CCT", 2),
    Field("ITT_entry_size", 4, 4), Field("ID_bits", 8, 5), Field("Devbits", 13, 5),
    Field("SEIS", 18), Field("PTA", 19), Field("HCC", 24, 8), Field("CIDbits", 32, 4),
    Field("CIL", 36), Field("VMOVP", 37), Field("MPAM", 38), Field("VSGI", 39),
    Field("VMAPP", 40), Field("SVPET", 41, 2), Field("nID", 43), Field("UMSI", 44),
    Field("UMSIirq", 45), Field("INV", 46), width=64, offset=0x8)

GITS_CBASER = Register(
    "GITS_CBASER", Field("Size", 0, 8), Field("Shareability", 10, 2),
    Field("Physical_Address", 12, 40), Field("OuterCache", 53, 3), Field("InnerCache", 59, 3),
    Field("Valid", 63), width=64, offset=0x80)

GITS_CWRITER = Register("GITS_CWRITER", Field("Retry", 0), Field("Offset", 5, 15),
                        width=64, offset=0x88)

GITS_CREADR = Register("GITS_CREADR", Field("Stalled", 0), Field("Offset", 5, 15),
                       width=64, offset=0x90)

GITS_BASER = Register(
    "GITS_BASER", Field("Size", 0, 8), Field("Page_Size", 8, 2), Field("Shareability", 10, 2),
    Field("Physical_Address", 12, 36), Field("Entry_Size", 48, 5), Field("OuterCache", 53, 3),
    Field("Type", 56, 3), Field("InnerCache", 59, 3), Field("Indirect", 62), Field("Valid", 63),
    width=64, offset=0x100)

GITS_PIDR2 = Register("GITS_PIDR2", Field("DES_1", 0, 3), Field("JEDEC", 3),
                      Field("ArchRev", 4, 4), offset=0xFFE8)

#: GITS_BASER<n>.Type values.
GITS_BASER_TYPE_NONE = 0
GITS_BASER_TYPE_DEVICE = 1
GITS_BASER_TYPE_VPE = 2
GITS_BASER_TYPE_COLLECTION = 4

#: GITS_BASER.Page_Size encodings -> bytes (0b11 is reserved; see baser_page_size).
PAGE_SIZES = (0x1000, 0x4000, 0x1_0000)


def baser_page_size(baser: int) -> int:
    """The translation table page size GITS_BASER<n>.Page_Size selects, in bytes.

    The reserved encoding 0b11 is treated as 0b10, 64 KiB (IHI 0069; QEMU does the same
    and reads the field back as written).
    """
    ps = GITS_BASER.Page_Size.get(baser)
    return PAGE_SIZES[ps] if ps < 3 else 0x1_0000


def baser_physical_address(baser: int) -> int:
    """The table base address of GITS_BASER<n>.

    With 4 KiB and 16 KiB pages, Physical_Address holds PA[47:12]; with 64 KiB pages
    field bits [47:16] hold PA[47:16] and bits [15:12] hold PA[51:48] (IHI 0069
    12.19.1).  With 16 KiB pages PA[13:12] are RES0 and ignored.
    """
    pa = baser & GITS_BASER.Physical_Address.in_place  # bits [47:12]
    ps = baser_page_size(baser)
    if ps == 0x1_0000:
        return (pa & ~0xFFFF) | (((pa >> 12) & 0xF) << 48)
    return pa & ~(ps - 1)


def encode_baser_address(pa: int, page_size: int) -> int:
    """The GITS_BASER Physical_Address bits (in place) that encode table address ``pa``."""
    if page_size == 0x1_0000:
        return (pa & 0xFFFF_FFFF_0000) | (((pa >> 48) & 0xF) << 12)
    return pa & 0xFFFF_FFFF_F000


# --- table entries (KVM ITS save/restore ABI rev 0) ------------------------------------------
DTE = Register("DTE", Field("Size", 0, 5), Field("ITT_addr", 5, 44), Field("next", 49, 14),
               Field("V", 63), width=64)
CTE = Register("CTE", Field("ICID", 0, 16), Field("RDBase", 16, 36), Field("V", 63), width=64)
ITE = Register("ITE", Field("ICID", 0, 16), Field("pINTID", 16, 32), Field("next", 48, 16),
               width=64)
#: Level-1 entry of a two-level (Indirect) table: Valid[63], PA of the level-2 page [51:12].
L1_ENTRY = Register("L1_ENTRY", Field("Physical_Address", 12, 40), Field("Valid", 63), width=64)


def encode_dte(*, valid: bool, itt_addr: int, size: int, next_: int = 0) -> int:
    """A DTE; ``itt_addr`` is the ITT's physical address (256-byte aligned), ``size`` is
    the number of EventID bits minus one."""
    return DTE.encode(V=int(valid), ITT_addr=itt_addr >> 8, Size=size, next=next_)


def encode_cte(*, valid: bool, rdbase: int, icid: int) -> int:
    """A CTE; ``rdbase`` is the MAPC RDbase field (processor number with PTA=0, PA >> 16
    with PTA=1)."""
    return CTE.encode(V=int(valid), RDBase=rdbase, ICID=icid)


def encode_ite(*, pintid: int, icid: int, next_: int = 0) -> int:
    """An ITE (pINTID 0 means invalid)."""
    return ITE.encode(pINTID=pintid, ICID=icid, next=next_)


# --- commands (IHI 0069 chapter 6) -----------------------------------------------------------
# Each field: (name, doubleword, lsb, width).
_F = tuple[str, int, int, int]
_DEVID: _F = ("DeviceID", 0, 32, 32)
_EVID: _F = ("EventID", 1, 0, 32)
_ICID: _F = ("ICID", 2, 0, 16)

#: opcode -> (name, fields).  Physical commands only; see :data:`GICV4_OPCODES`.
COMMANDS: dict[int, tuple[str, tuple[_F, ...]]] = {
    0x01: ("MOVI", (_DEVID, _EVID, _ICID)),
    0x03: ("INT", (_DEVID, _EVID)),
    0x04: ("CLEAR", (_DEVID, _EVID)),
    0x05: ("SYNC", (("RDbase", 2, 16, 36),)),
    0x08: ("MAPD", (_DEVID, ("Size", 1, 0, 5), ("ITT_addr", 2, 8, 44), ("V", 2, 63, 1))),
    0x09: ("MAPC", (_ICID, ("RDbase", 2, 16, 36), ("V", 2, 63, 1))),
    0x0A: ("MAPTI", (_DEVID, _EVID, ("pINTID", 1, 32, 32), _ICID)),
    0x0B: ("MAPI", (_DEVID, _EVID, _ICID)),
    0x0C: ("INV", (_DEVID, _EVID)),
    0x0D: ("INVALL", (_ICID,)),
    0x0E: ("MOVALL", (("RDbase1", 2, 16, 36), ("RDbase2", 3, 16, 36))),
    0x0F: ("DISCARD", (_DEVID, _EVID)),
}
#: per command name: its opcode and {field: (doubleword, lsb, largest value, shift)}
_ENCODE = {name: (op, {f: (d, lsb, (1 << (52 if f == "ITT_addr" else w)) - 1,
                           8 if f == "ITT_addr" else 0) for f, d, lsb, w in fields})
           for op, (name, fields) in COMMANDS.items()}
_pack_words = struct.Struct("<4Q").pack

#: GICv4 / GICv4.1 opcodes: a GICv3 ITS (GITS_TYPER.Virtual=0) treats them as errors.
GICV4_OPCODES: dict[int, str] = {
    0x21: "VMOVI", 0x22: "VMOVP", 0x23: "VSGI", 0x25: "VSYNC", 0x29: "VMAPP",
    0x2A: "VMAPTI", 0x2B: "VMAPI", 0x2D: "VINVALL", 0x2E: "INVDB",
}


class ItsCommand:
    """A decoded command: its ``opcode``, ``name`` (``"MAPTI"``; ``"UNKNOWN"`` or the
    GICv4 name for opcodes this ITS does not implement) and its fields by spec name,
    both in :attr:`fields` and as attributes (``cmd.DeviceID``)."""

    def __init__(self, opcode: int, name: str, fields: dict[str, int] | None = None) -> None:
        f = dict(fields) if fields else {}
        self.__dict__.update(f)
        self.opcode = opcode
        self.name = name
        self.fields: dict[str, int] = f

    def __getattr__(self, item: str) -> int:
        # only reached for a field the command does not have
        raise AttributeError(f"{self.__dict__.get('name', '?')} has no field {item}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ItsCommand) and (self.opcode, self.fields) == \
            (other.opcode, other.fields)

    def __hash__(self) -> int:
        return hash((self.opcode, tuple(self.fields.items())))

    def __repr__(self) -> str:
        return f"ItsCommand({self})"

    def __str__(self) -> str:
        inner = " ".join(f"{k}={v:#x}" for k, v in self.fields.items())
        return f"{self.name} {inner}".rstrip()


def decode_command(raw: bytes) -> ItsCommand:
    """Decode 32 bytes of a command queue entry (unknown opcodes decode with no fields)."""
    if len(raw) != CMD_SIZE:
        from irqlab.errors import InvalidArgumentValue

        raise InvalidArgumentValue(f"raw must be {CMD_SIZE} bytes, not {raw!r}")
    dw = [int.from_bytes(raw[i:i + 8], "little") for i in range(0, 32, 8)]
    return decode_command_words(dw)


def decode_command_words(dw: Sequence[int]) -> ItsCommand:
    """Decode a command given as its four little-endian doublewords."""
    op = dw[0] & 0xFF
    spec = COMMANDS.get(op)
    if spec is None:
        return ItsCommand(op, GICV4_OPCODES.get(op, "UNKNOWN"), {})
    name, fields = spec
    return ItsCommand(op, name, {f: (dw[d] >> lsb) & ((1 << w) - 1) for f, d, lsb, w in fields})


def encode_command(name: str, **values: int) -> bytes:
    """Encode command ``name`` with the given fields (missing fields are 0) to 32 bytes.

    ``ITT_addr`` is given as the physical address (bits [7:0] dropped); ``RDbase``,
    ``RDbase1`` and ``RDbase2`` as the field value (processor number, or PA >> 16).
    """
    spec = _ENCODE.get(name) if type(name) is str else None
    if spec is None:
        from irqlab.errors import InvalidArgumentValue

        raise InvalidArgumentValue(f"name must be an ITS command name, not {name!r}")
    op, known = spec
    dw = [op, 0, 0, 0]
    for k, v in values.items():
        f = known.get(k)
        if f is None:
            from irqlab.errors import InvalidArgumentValue

            raise InvalidArgumentValue(f"{name} has no field {k}")
        d, lsb, hi, shift = f
        if type(v) is not int or not 0 <= v <= hi:
            from irqlab.errors import check_int

            check_int(k, v, 0, hi)
        dw[d] |= (v >> shift) << lsb
    return _pack_words(*dw)
