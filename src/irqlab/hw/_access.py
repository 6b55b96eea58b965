"""What a GIC or ITS frame does with an access size its register does not support.

IHI 0069 (8.1.x, "GIC memory-mapped register access") and IHI 0048B 4.1.4 list
the sizes each register supports; other sizes are UNPREDICTABLE or reserved.
QEMU logs a guest error and treats them as RAZ/WI (its GIC models return
MEMTX_OK "or we'll cause a spurious guest data abort").  irqlab does the same
by default and emits ``<block>_bad_access`` naming the register, offset and
size; ``MachineConfig.gic_bad_access == "abort"`` raises an external abort
instead.  Misaligned accesses are not sent here: they always abort (QEMU's
memory core rejects them before the device sees them).  Never yields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from irqlab.errors import _AccessFault

if TYPE_CHECKING:
    from irqlab.arch.regmap import RegMap
    from irqlab.events import EventStream
    from irqlab.hw.config import MachineConfig

__all__ = ["BadAccess"]


class BadAccess:
    """The bad-access policy of one frame (``block`` names its events: ``gicd``, ``its`` ...)."""

    __slots__ = ("_abort", "_events", "_kind", "block", "regmap")

    def __init__(self, config: MachineConfig, events: EventStream, block: str,
                 regmap: RegMap) -> None:
        self._abort = config.gic_bad_access == "abort"
        self._events = events
        self.block = block
        self._kind = f"{block}_bad_access"
        self.regmap = regmap

    def __call__(self, offset: int, size: int, write: bool, cpu: int | None, reason: str,
                 *, name_offset: int | None = None, **fields: object) -> int:
        """Abort (``_AccessFault``) or emit the event and return 0 (the RAZ value).

        ``name_offset`` is the offset to look the register name up at, if the
        frame's map uses another origin than ``offset``; ``fields`` are extra
        event fields (e.g. ``redist``).
        """
        reg = self.regmap.name(offset if name_offset is None else name_offset)
        if self._abort:
            raise _AccessFault(f"{reg} (offset {offset:#x}): {reason}")
        ev = self._events
        if ev.enabled:
            ev.emit(self._kind, cpu=cpu, reg=reg, offset=offset, size=size, write=write,
                    reason=reason, **fields)
        return 0


def misaligned(block: str, offset: int, size: int) -> _AccessFault:
    """The fault for a misaligned access (always an abort, whatever the policy)."""
    return _AccessFault(f"{block}: misaligned {size}-byte access at offset {offset:#x}")
