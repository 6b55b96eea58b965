"""The GICv3 Distributor (GICD_* frame, IHI 0069 12.9): SPIs, affinity routing, group enables.

Single Security state (GICD_CTLR.DS == 1, RAO/WI) and affinity routing always
on (ARE RAO/WI), as QEMU's ``virt`` without EL3.  The banked SGI/PPI registers
of INTIDs 0..31 live in each redistributor's SGI_base frame; their GICD copies
are RAZ/WI.

Access sizes (IHI 0069 12.1.x): 32-bit aligned everywhere; also 8-bit for
GICD_IPRIORITYR, GICD_ITARGETSR (RAZ/WI with ARE), GICD_CPENDSGIR/SPENDSGIR
(RAZ/WI with ARE); 16-bit for GICD_SETSPI_NSR/CLRSPI_NSR/SETSPI_SR/CLRSPI_SR;
64-bit (and 32-bit halves) for GICD_IROUTER<n>.  Any other size is RAZ/WI with
a ``gicd_bad_access`` event (as QEMU), or an abort with
``MachineConfig.gic_bad_access == "abort"``; a misaligned access always
aborts.  Reserved offsets read as zero and ignore writes, with a
``gicd_unimplemented`` event.  Called with no lock held; never yields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from irqlab.arch import gicv3 as A
from irqlab.arch import regmap
from irqlab.hw._access import BadAccess, misaligned
from irqlab.hw.gicv3._state import IrqBank

if TYPE_CHECKING:
    from irqlab.hw.gicv3 import GICv3

__all__ = ["Distributor"]

_IROUTER_MASK = (A.GICD_IROUTER.Aff0.in_place | A.GICD_IROUTER.Aff1.in_place
                 | A.GICD_IROUTER.Aff2.in_place | A.GICD_IROUTER.Aff3.in_place
                 | A.GICD_IROUTER.Interrupt_Routing_Mode.in_place)
_IRM_BIT = A.GICD_IROUTER.Interrupt_Routing_Mode.in_place
# Ranges of the 32-INTID bit-vector registers: (base offset, name).
_BITREGS = (
    (A.GICD_IGROUPR_OFF, "GICD_IGROUPR"), (A.GICD_ISENABLER_OFF, "GICD_ISENABLER"),
    (A.GICD_ICENABLER_OFF, "GICD_ICENABLER"), (A.GICD_ISPENDR_OFF, "GICD_ISPENDR"),
    (A.GICD_ICPENDR_OFF, "GICD_ICPENDR"), (A.GICD_ISACTIVER_OFF, "GICD_ISACTIVER"),
    (A.GICD_ICACTIVER_OFF, "GICD_ICACTIVER"),
)


def affinity_key(aff3: int, aff2: int, aff1: int, aff0: int) -> int:
    """Pack an affinity as GICD_IROUTER / GICR_TYPER.Affinity_Value order: Aff3.Aff2.Aff1.Aff0."""
    return (aff3 << 24) | (aff2 << 16) | (aff1 << 8) | aff0


class Distributor:
    """GICD state: SPI bank, IROUTER values, group enables; an ``MmioDevice`` on the bus."""

    def __init__(self, gic: GICv3) -> None:
        self.gic = gic
        cfg = gic.config
        self.end = 32 + cfg.spis
        #: State of SPIs 32..end-1.  IROUTER resets to 0: affinity 0.0.0.0 (CPU 0).
        self.bank: IrqBank = IrqBank(gic, 32, self.end, gic.cpu_by_aff.get(0, -1))
        self.irouter = [0] * self.end
        #: GICD_CTLR.EnableGrp0, .EnableGrp1 (DS == 1 layout).
        self.grp_enable: list[bool] = [False, False]
        #: SPIs using 1-of-N routing (IRM == 1); ordered, iterated sorted.
        self.one_of_n: dict[int, None] = {}
        self._bad = BadAccess(cfg, gic.events, "gicd", regmap.GICD_V3)
        # LPIS = 1 whatever the ITS: the redistributors always implement physical LPIs
        # (GICR_TYPER.PLPIS = 1); QEMU's virt reports LPIS = 1 with its=off too
        # (tests/hw/qemu_golden/gicv3_noits.json).
        lpis = True
        self.typer = A.GICD_TYPER.encode(
            # CPUNumber is 0: ARE is RAO/WI, and IHI 0069 makes the field 000 when ARE == 0
            # is not supported (QEMU reports 0 too).
            ITLinesNumber=self.end // 32 - 1, CPUNumber=0,
            SecurityExtn=0, MBIS=1, LPIS=int(lpis), IDbits=cfg.idbits - 1, A3V=1, No1N=0,
            RSS=1)

    # -- routing ------------------------------------------------------------
    def route_of(self, i: int) -> int:
        """The processor number SPI ``i`` is forwarded to under its IROUTER (-1: none).

        IMPDEF choice (1-of-N, IRM == 1): the lowest-numbered CPU whose CPU
        interface has the SPI's group enabled (ICC_IGRPEN<g>_EL1) and whose
        redistributor is awake (GICR_WAKER.ProcessorSleep == 0); none if no
        CPU qualifies.  Re-evaluated when any of those inputs change.
        """
        v = self.irouter[i]
        if v & _IRM_BIT:
            return self._first_eligible(self.bank.group[i])
        key = affinity_key((v >> 32) & 0xFF, (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF)
        return self.gic.cpu_by_aff.get(key, -1)

    def _first_eligible(self, g: int) -> int:
        for c in self.gic.cpuifs:
            if c.igrpen[g] and not c.redist.asleep:
                return c.index
        return -1

    def retarget(self, i: int, new: int | None = None) -> None:
        """Recompute SPI ``i``'s target (or set it to ``new``) and requeue it there."""
        b = self.bank
        if new is None:
            new = self.route_of(i)
        old = b.target[i]
        if new != old:
            b.target[i] = new
            if old >= 0:
                self.gic.dirty[old] = None
            ev = self.gic.events
            if ev.enabled:
                ev.emit("gicd_route", intid=i, target=new)
            b.touch(i)

    def reroute_one_of_n(self) -> None:
        """Re-evaluate the target of every 1-of-N SPI (cost: CPUs + number of such SPIs)."""
        if self.one_of_n and self.gic.cpuifs:
            first = (self._first_eligible(0), self._first_eligible(1))
            group = self.bank.group
            for i in sorted(self.one_of_n):
                self.retarget(i, first[group[i]])

    # -- device input -----------------------------------------------------------
    def set_level(self, i: int, level: bool) -> None:
        """Drive SPI ``i``'s input: edge-triggered latches a rising edge, level follows."""
        b = self.bank
        old = b.level[i]
        b.level[i] = level
        ev = self.gic.events
        if b.edge[i]:
            if level and not old:
                b.latch[i] = True
                if ev.enabled:
                    ev.emit("gicd_spi_pending", intid=i, trigger="edge", enabled=b.enabled[i])
        elif level != old and ev.enabled:
            ev.emit("gicd_spi_pending" if level else "gicd_spi_line_low", intid=i,
                    trigger="level", enabled=b.enabled[i])
        b.touch(i)
        self.gic.flush()

    def _setspi(self, value: int, clear: bool, device_id: int | None) -> None:
        """GICD_SETSPI_NSR / GICD_CLRSPI_NSR: a message-based SPI (IHI 0069 12.9.x).

        SETSPI of an edge-triggered SPI latches it pending; of a level-sensitive
        SPI it asserts the (message) line, which stays asserted until CLRSPI.
        CLRSPI of an edge-triggered SPI has no effect (IMPDEF choice, as GIC-600).
        """
        i = A.GICD_SETSPI.INTID.get(value)
        ev = self.gic.events
        b = self.bank
        if not 32 <= i < self.end:
            if ev.enabled:
                ev.emit("gicd_setspi_ignored", intid=i, clear=clear, devid=device_id,
                        reason="INTID is not an implemented SPI")
            return
        if clear:
            if b.edge[i]:
                if ev.enabled:
                    ev.emit("gicd_setspi_ignored", intid=i, clear=True, devid=device_id,
                            reason="CLRSPI of an edge-triggered SPI has no effect")
                return
            b.level[i] = False
            b.latch[i] = False
            if ev.enabled:
                ev.emit("gicd_clrspi", intid=i, devid=device_id)
        else:
            if b.edge[i]:
                b.latch[i] = True
            else:
                b.level[i] = True
            if ev.enabled:
                ev.emit("gicd_spi_pending", intid=i, trigger="edge" if b.edge[i] else "level",
                        enabled=b.enabled[i], devid=device_id, source="SETSPI_NSR")
        b.touch(i)
        self.gic.flush()

    # -- MMIO -----------------------------------------------------------------
    @staticmethod
    def _size_ok(off: int, size: int) -> bool:
        """Whether the register at ``off`` supports a ``size``-byte access; aborts if misaligned."""
        if off & (size - 1):
            raise misaligned("GICD", off, size)
        if size == 4:
            return True
        if size == 1:
            return (A.GICD_IPRIORITYR_OFF <= off < A.GICD_ICFGR_OFF
                    or A.GICD_CPENDSGIR_OFF <= off < A.GICD_SPENDSGIR_OFF + 0x10)
        if size == 8:
            return A.GICD_IROUTER_OFF <= off < A.GICD_IROUTER_OFF + 8 * 1020
        # 16-bit: only the message-based SPI registers (IHI 0069 12.9.x).
        return off in (A.GICD_SETSPI_NSR_OFF, A.GICD_CLRSPI_NSR_OFF, A.GICD_SETSPI_SR_OFF,
                       A.GICD_CLRSPI_SR_OFF)

    def mmio_read(self, off: int, size: int, cpu: int | None) -> int:
        if not self._size_ok(off, size):
            return self._bad(off, size, False, cpu, f"{size}-byte read not supported")
        b = self.bank
        if A.GICD_IGROUPR_OFF <= off < A.GICD_IPRIORITYR_OFF:
            base = ((off & 0x7F) >> 2) * 32
            k = (off - A.GICD_IGROUPR_OFF) >> 7
            name = ("group", "enabled", "enabled", "pending", "pending", "active", "active")[k]
            return b.read_bits(name, base)
        if A.GICD_IPRIORITYR_OFF <= off < A.GICD_ITARGETSR_OFF:
            return b.read_prio(0, size, off - A.GICD_IPRIORITYR_OFF)
        if A.GICD_ICFGR_OFF <= off < A.GICD_IGRPMODR_OFF:
            return b.read_cfg(((off - A.GICD_ICFGR_OFF) >> 2) * 16)
        if A.GICD_IROUTER_OFF <= off < A.GICD_IROUTER_OFF + 8 * 1020:
            i = (off - A.GICD_IROUTER_OFF) >> 3
            v = self.irouter[i] if 32 <= i < self.end else 0
            if size == 4:
                return (v >> 32) if off & 4 else v & 0xFFFF_FFFF
            return v
        if off == A.GICD_CTLR_OFF:
            return (int(self.grp_enable[0]) | (int(self.grp_enable[1]) << 1)
                    | A.GICD_CTLR.ARE.in_place | A.GICD_CTLR.DS.in_place)
        if off == A.GICD_TYPER_OFF:
            return self.typer
        if off == A.GICD_IIDR_OFF:
            return A.GIC_IIDR_VALUE
        if off in (A.GICD_TYPER2_OFF, A.GICD_STATUSR_OFF):
            return 0
        if off >= A.GIC_IDREGS_OFF:
            return A.id_register(off, A.GICD_PIDR0_VALUE)
        if A.GICD_ITARGETSR_OFF <= off < A.GICD_ICFGR_OFF \
                or A.GICD_IGRPMODR_OFF <= off < A.GICD_SGIR_OFF \
                or off in (A.GICD_SETSPI_NSR_OFF, A.GICD_CLRSPI_NSR_OFF,
                           A.GICD_SETSPI_SR_OFF, A.GICD_CLRSPI_SR_OFF):
            return 0  # RAZ with ARE / DS == 1, or write-only
        self._unimplemented(off, size, False, cpu)
        return 0

    def mmio_write(self, off: int, value: int, size: int, cpu: int | None,
                   device_id: int | None) -> None:
        if not self._size_ok(off, size):
            self._bad(off, size, True, cpu, f"{size}-byte write not supported")
            return
        b = self.bank
        gic = self.gic
        ev = gic.events
        if A.GICD_IGROUPR_OFF <= off < A.GICD_IPRIORITYR_OFF:
            base = ((off & 0x7F) >> 2) * 32
            k = (off - A.GICD_IGROUPR_OFF) >> 7
            if ev.enabled:
                ev.emit("gicd_write", cpu=cpu, reg=_BITREGS[k][1], n=base // 32, value=value)
            if k == 0:
                b.write_group(base, value)
            elif k <= 2:
                b.set_enable(base, value, k == 1)
            elif k <= 4:
                b.set_latch(base, value, k == 3)
            else:
                b.set_active(base, value, k == 5)
            gic.flush()
            return
        if A.GICD_IPRIORITYR_OFF <= off < A.GICD_ITARGETSR_OFF:
            if ev.enabled:
                ev.emit("gicd_write", cpu=cpu, reg="GICD_IPRIORITYR",
                        intid=off - A.GICD_IPRIORITYR_OFF, size=size, value=value)
            b.write_prio(0, value, size, off - A.GICD_IPRIORITYR_OFF)
            gic.flush()
            return
        if A.GICD_ICFGR_OFF <= off < A.GICD_IGRPMODR_OFF:
            if ev.enabled:
                ev.emit("gicd_write", cpu=cpu, reg="GICD_ICFGR", n=(off - A.GICD_ICFGR_OFF) >> 2,
                        value=value)
            b.write_cfg(((off - A.GICD_ICFGR_OFF) >> 2) * 16, value)
            gic.flush()
            return
        if A.GICD_IROUTER_OFF <= off < A.GICD_IROUTER_OFF + 8 * 1020:
            i = (off - A.GICD_IROUTER_OFF) >> 3
            if not 32 <= i < self.end:
                return
            v = self.irouter[i]
            if size == 4:
                v = ((v & 0xFFFF_FFFF) | (value << 32)) if off & 4 else \
                    ((v & ~0xFFFF_FFFF) | value)
            else:
                v = value
            v &= _IROUTER_MASK
            self.irouter[i] = v
            if v & _IRM_BIT:
                self.one_of_n[i] = None
            else:
                self.one_of_n.pop(i, None)
            if ev.enabled:
                ev.emit("gicd_write", cpu=cpu, reg="GICD_IROUTER", n=i, value=v)
            self.retarget(i)
            gic.flush()
            return
        if off == A.GICD_CTLR_OFF:
            new = [bool(value & 1), bool(value & 2)]
            if ev.enabled:
                ev.emit("gicd_write", cpu=cpu, reg="GICD_CTLR", value=value)
            if new != self.grp_enable:
                self.grp_enable[:] = new  # in place: CPU interfaces hold this list
                for c in gic.cpuifs:
                    c.refresh_enables()
                    gic.dirty[c.index] = None
                gic.flush()
            return
        if off in (A.GICD_SETSPI_NSR_OFF, A.GICD_CLRSPI_NSR_OFF):
            self._setspi(value, off == A.GICD_CLRSPI_NSR_OFF, device_id)
            return
        if off in (A.GICD_TYPER_OFF, A.GICD_IIDR_OFF, A.GICD_TYPER2_OFF, A.GICD_STATUSR_OFF) \
                or off >= A.GIC_IDREGS_OFF \
                or A.GICD_ITARGETSR_OFF <= off < A.GICD_ICFGR_OFF \
                or A.GICD_IGRPMODR_OFF <= off < A.GICD_SGIR_OFF:
            return  # read-only / WI with ARE / DS == 1
        self._unimplemented(off, size, True, cpu)

    def _unimplemented(self, off: int, size: int, write: bool, cpu: int | None) -> None:
        ev = self.gic.events
        if ev.enabled:
            ev.emit("gicd_unimplemented", cpu=cpu, offset=off, size=size, write=write)
