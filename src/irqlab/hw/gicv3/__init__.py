"""The GICv3 hardware model: Distributor, one Redistributor and CPU interface per CPU.

:class:`GICv3` wires the blocks to a :class:`~irqlab.hw.machine.Machine`: it maps
the GICD frame and each redistributor's 128 KiB (RD_base + SGI_base) on the
bus, registers the ICC_*_EL1 system registers on every CPU and exposes the
CPU interfaces' IRQ/FIQ lines.  See ``docs/gicv3.md`` for what is modelled,
which accesses abort and every IMPLEMENTATION DEFINED choice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from irqlab.arch import gicv3 as A
from irqlab.arch.virt import GICV3_REDIST_STRIDE
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue, check_int
from irqlab.hw.gicv3.cpuif import CpuInterface
from irqlab.hw.gicv3.dist import Distributor, affinity_key
from irqlab.hw.gicv3.redist import Redistributor
from irqlab.hw.gicv3.vcpuif import attach_virtualization, register_undefined

if TYPE_CHECKING:
    from irqlab.hw.gicv3._state import IrqBank
    from irqlab.hw.machine import Machine

__all__ = ["CpuInterface", "Distributor", "GICv3", "Redistributor"]


class GICv3:
    """A GICv3 (IHI 0069) in a single Security state, with affinity routing."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.config = cfg = machine.config
        self.events = machine.events
        #: Implemented bits of stored priorities (GICD/GICR_IPRIORITYR, LPI configuration):
        #: ``distributor_priority_bits`` (8, as QEMU), independent of the CPU interface's
        #: ICC_CTLR_EL1.PRIbits (IHI 0069 lets the Distributor implement more bits).
        self.prio_mask = A.prio_mask(cfg.distributor_priority_bits)
        #: CPU interfaces whose lines must be recomputed (ordered set, see :meth:`flush`).
        self.dirty: dict[int, None] = {}
        #: Affinity (Aff3.Aff2.Aff1.Aff0 packed) -> processor number.
        self.cpu_by_aff: dict[int, int] = {
            affinity_key(*c.affinity): c.index for c in machine.cpus}
        self.cpuifs: list[CpuInterface] = []
        self.dist = Distributor(self)
        machine.bus.map(cfg.gicd[0], cfg.gicd[1], self.dist, "gicv3-dist")
        self.redists: list[Redistributor] = []
        # The last redistributor of each region has GICR_TYPER.Last set.
        last_of_region: set[int] = set()
        n = 0
        for _, size in cfg.gicr_regions:
            k = size // GICV3_REDIST_STRIDE
            if n < cfg.cpus:
                last_of_region.add(min(n + k, cfg.cpus) - 1)
            n += k
        for i in range(cfg.cpus):
            base = cfg.redistributor_base(i)
            r = Redistributor(self, i, base, i in last_of_region)
            machine.bus.map(base, A.GICR_FRAME_SIZE, r, f"gicv3-redist{i}")
            self.redists.append(r)
        for i, r in enumerate(self.redists):
            c = CpuInterface(self, i, r)
            r.cpuif = c
            self.cpuifs.append(c)
            machine.cpus[i].cpuif = c
            c.register_sysregs(machine.cpus[i])
        if cfg.virtualization:
            attach_virtualization(self)
        else:
            register_undefined(machine)

    def __repr__(self) -> str:
        return f"<GICv3 cpus={len(self.cpuifs)} spis={self.config.spis}>"

    # -- internal plumbing ---------------------------------------------------
    def flush(self) -> None:
        """Recompute the lines of every CPU interface marked dirty since the last flush."""
        d = self.dirty
        while d:
            i = next(iter(d))
            del d[i]
            self.cpuifs[i].update()

    def group_changed(self, bank: IrqBank, i: int) -> None:
        """An interrupt changed group: 1-of-N SPIs may need another target."""
        if bank is self.dist.bank and i in self.dist.one_of_n and self.cpuifs:
            self.dist.retarget(i)

    # -- public API -------------------------------------------------------------
    def _bank_of(self, intid: object, cpu: object, what: str) -> tuple[IrqBank, int]:
        if type(intid) is not int:
            raise InvalidArgumentType(f"intid must be an int, not {intid!r}")
        if intid < 32:
            if cpu is None:
                raise InvalidArgumentValue(f"cpu must be given for {what} {intid}, not None")
            c = check_int("cpu", cpu, 0, len(self.redists) - 1)
            return self.redists[c].bank, intid
        if cpu is not None:
            raise InvalidArgumentValue(f"cpu must be None for SPI {intid}, not {cpu!r}")
        if not 32 <= intid < self.dist.end:
            raise InvalidArgumentValue(
                f"intid must be an SGI, PPI or implemented SPI (< {self.dist.end}), "
                f"not {intid!r}")
        return self.dist.bank, intid

    def set_interrupt_level(self, intid: int, level: bool, *, cpu: int | None = None) -> None:
        """Drive the input line of SPI ``intid`` (``cpu`` None) or of PPI ``intid`` of ``cpu``.

        Edge-triggered: a rising edge sets the pending latch.  Level-sensitive:
        the pending state follows the line (ORed with the software latch).
        """
        if not isinstance(level, bool | int):
            raise InvalidArgumentType(f"level must be a bool, not {level!r}")
        if type(intid) is int and intid < 16:
            raise InvalidArgumentValue(f"intid must be a PPI or SPI (SGIs have no line), "
                                       f"not {intid!r}")
        b, i = self._bank_of(intid, cpu, "PPI")
        level = bool(level)
        if i >= 32:
            self.dist.set_level(i, level)
            return
        old = b.level[i]
        b.level[i] = level
        ev = self.events
        if b.edge[i]:
            if level and not old:
                b.latch[i] = True
                if ev.enabled:
                    ev.emit("gicr_ppi_pending", cpu=cpu, intid=i, trigger="edge",
                            enabled=b.enabled[i])
        elif level != old and ev.enabled:
            ev.emit("gicr_ppi_pending" if level else "gicr_ppi_line_low", cpu=cpu, intid=i,
                    trigger="level", enabled=b.enabled[i])
        b.touch(i)
        self.flush()

    def deactivate_physical(self, cpu: int, intid: int) -> None:
        """Clear the active state of SGI/PPI ``intid`` of ``cpu`` or of SPI ``intid``.

        What a virtual EOI of a list register with HW == 1 does to the physical
        interrupt: no active-priority register changes.
        """
        c = check_int("cpu", cpu, 0, len(self.cpuifs) - 1)
        b, i = self._bank_of(intid, c if type(intid) is int and intid < 32 else None, "SGI/PPI")
        if not b.active[i]:
            return
        b.active[i] = False
        ev = self.events
        if ev.enabled:
            ev.emit("gic_deactivate_physical", cpu=c, intid=i)
        b.touch(i)
        self.flush()

    def is_pending(self, intid: int, cpu: int | None = None) -> bool:
        """Whether ``intid`` is pending (SGI/PPI of ``cpu``, SPI, or LPI on ``cpu``'s redist)."""
        if type(intid) is int and intid >= A.LPI_INTID_BASE:
            c = check_int("cpu", cpu, 0, len(self.redists) - 1)
            return self.redists[c].lpi_is_pending(intid)
        b, i = self._bank_of(intid, cpu, "SGI/PPI")
        return b.pending(i)

    def is_active(self, intid: int, cpu: int | None = None) -> bool:
        """Whether ``intid`` is active (SGI/PPI of ``cpu``, or SPI); LPIs never are."""
        if type(intid) is int and intid >= A.LPI_INTID_BASE:
            return False
        b, i = self._bank_of(intid, cpu, "SGI/PPI")
        return b.active[i]
