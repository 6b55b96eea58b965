"""GICv2m MSI frame (``arm,gic-v2m-frame``): PCI devices raise SPIs by message.

A bus master writes an INTID to MSI_SETSPI_NS; if it lies in the frame's
range [base, base + number) that SPI becomes pending as on a rising edge
(the frame drives the SPI's input like a pulse, and Linux configures these
SPIs edge-triggered).  MSI_TYPER tells software the range: BaseSPI holds the
first INTID, Number the count (QEMU ``virt``: INTIDs 80..143).

IMPDEF choices (as QEMU's ``arm-gicv2m``): an INTID outside the range is
ignored (event ``v2m_setspi`` with ``result=out_of_range``); reads are 32-bit,
writes 16- or 32-bit; other sizes are RAZ/WI with a ``v2m_bad_access`` event
(or abort, ``MachineConfig.gic_bad_access``); misaligned accesses abort;
reserved offsets are RAZ/WI; MSI_IIDR reads ProductID 0x51 ('Q') as QEMU's.
"""

from __future__ import annotations

from typing import Any

from irqlab.arch import gicv2 as a
from irqlab.hw._access import BadAccess, misaligned

__all__ = ["V2MFrame"]


class V2MFrame:
    """One GICv2m frame owning SPIs ``[base_intid, base_intid + number)``."""

    def __init__(self, gic: Any, *, base_intid: int, number: int, events: Any,
                 bad: BadAccess) -> None:
        self.gic = gic
        self._bad = bad
        self.base_intid = base_intid
        self.number = number
        self._events = events

    def mmio_read(self, offset: int, size: int, cpu: int | None) -> int:
        if offset & (size - 1):
            raise misaligned("v2m", offset, size)
        if size != 4:
            return self._bad(offset, size, False, cpu, f"{size}-byte read not supported")
        if offset == a.MSI_TYPER_OFF:
            return a.MSI_TYPER.encode(BaseSPI=self.base_intid, Number=self.number)
        if offset == a.MSI_IIDR_OFF:
            return a.MSI_IIDR_VALUE
        return 0

    def mmio_write(self, offset: int, value: int, size: int, cpu: int | None,
                   device_id: int | None) -> None:
        if offset & (size - 1):
            raise misaligned("v2m", offset, size)
        if size not in (2, 4):
            self._bad(offset, size, True, cpu, f"{size}-byte write not supported",
                      devid=-1 if device_id is None else device_id)
            return
        if offset == a.MSI_SETSPI_NS_OFF:
            self.setspi(value & 0x3FF, device_id)
        # other registers: read-only or reserved, WI

    def setspi(self, intid: int, device_id: int | None = None) -> None:
        """A message to MSI_SETSPI_NS carrying ``intid``."""
        ok = self.base_intid <= intid < self.base_intid + self.number
        ev = self._events
        if ev.enabled:
            ev.emit("v2m_setspi", cpu=None, intid=intid,
                    devid=-1 if device_id is None else device_id,
                    result="pending" if ok else "out_of_range")
        if ok:
            self.gic.dist.set_pending(0, intid, True)
