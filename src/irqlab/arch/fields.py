"""Register fields declared once, in the spec's spelling.

Every register layout in irqlab is a :class:`Register` built from
:class:`Field` entries, and model code reads and writes fields only through
them (``GITS_BASER.Indirect.get(v)``), never with ad-hoc shifts.  Hot paths
may copy a field's ``shift``/``mask`` into a local, but the numbers still come
from here::

    GITS_CTLR = Register("GITS_CTLR", Field("Enabled", 0), Field("Quiescent", 31))
    GITS_CTLR.Enabled.get(v)           # -> 0 or 1
    GITS_CTLR.Enabled.set(v, 1)        # -> v with bit 0 set
    GITS_CTLR.decode(v)                # -> {"Enabled": 1, "Quiescent": 0}
    GITS_CTLR.encode(Enabled=1)        # -> 0x1
"""

from __future__ import annotations

from typing import Any

__all__ = ["Field", "Register"]


class Field:
    """Bits ``[lsb + width - 1 : lsb]`` of a register."""

    __slots__ = ("lsb", "mask", "name", "shift", "width")

    def __init__(self, name: str, lsb: int, width: int = 1) -> None:
        self.name = name
        self.lsb = self.shift = lsb
        self.width = width
        self.mask = (1 << width) - 1

    @property
    def in_place(self) -> int:
        """The field's mask at its position in the register."""
        return self.mask << self.lsb

    def get(self, value: int) -> int:
        return (value >> self.lsb) & self.mask

    def set(self, value: int, field: int) -> int:
        """Return ``value`` with this field replaced by ``field`` (truncated to the width)."""
        return (value & ~(self.mask << self.lsb)) | ((field & self.mask) << self.lsb)

    def __repr__(self) -> str:
        hi = self.lsb + self.width - 1
        return f"Field({self.name}[{hi}:{self.lsb}])" if self.width > 1 else \
            f"Field({self.name}[{self.lsb}])"


class Register:
    """A named register layout: an ordered set of :class:`Field` reachable as attributes."""

    def __init__(self, name: str, *fields: Field, width: int = 32, offset: int | None = None):
        self.name = name
        self.width = width
        self.offset = offset
        self.fields: dict[str, Field] = {}
        for f in fields:
            if f.name in self.fields:
                raise ValueError(f"{name}: duplicate field {f.name}")
            if f.lsb + f.width > width:
                raise ValueError(f"{name}.{f.name} does not fit in {width} bits")
            self.fields[f.name] = f

    def __getattr__(self, item: str) -> Field:
        try:
            return self.__dict__["fields"][item]
        except KeyError:
            raise AttributeError(f"{self.__dict__.get('name', '?')} has no field {item}") from None

    @property
    def defined_mask(self) -> int:
        """The bits covered by some field."""
        m = 0
        for f in self.fields.values():
            m |= f.in_place
        return m

    def decode(self, value: int) -> dict[str, int]:
        return {n: f.get(value) for n, f in self.fields.items()}

    def encode(self, **values: int) -> int:
        v = 0
        for n, x in values.items():
            if n not in self.fields:
                raise ValueError(f"{self.name} has no field {n}")
            v = self.fields[n].set(v, x)
        return v

    def describe(self, value: int) -> str:
        """``NAME{Field=0x..,...}`` for logs and events."""
        inner = ",".join(f"{n}={v:#x}" for n, v in self.decode(value).items() if v)
        return f"{self.name}{{{inner}}}"

    def __repr__(self) -> str:
        return f"Register({self.name}, {list(self.fields.values())})"

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
