"""GICv2 (IHI 0048B) with the GICv2m MSI frame and, optionally, the virtualization extensions.

:class:`GICv2` maps, on its machine's bus: the Distributor (GICD), the CPU
interface (GICC, banked by the accessing CPU), a GICv2m frame when
``config.v2m`` is set, and with ``config.virtualization`` the virtual
interface control (GICH, banked per CPU) and the virtual CPU interface
(GICV, banked per CPU).  It sets ``machine.cpus[i].cpuif`` (physical IRQ/FIQ
lines) and, with virtualization, ``machine.cpus[i].vcpuif`` (virtual
IRQ/FIQ lines).  See ``docs/gicv2.md`` and ``docs/virtualization.md``.

The model has no Security Extensions (as QEMU's ``virt`` without EL3):
GICD_TYPER.SecurityExtn=0, every access is Secure, interrupt groups exist
(GICD_IGROUPR) and group 0 can be signalled as FIQ (GICC_CTLR.FIQEn).
"""

from __future__ import annotations

from typing import Any

from irqlab.arch import gicv2 as a
from irqlab.arch import regmap
from irqlab.arch.gicv3 import ICC_ABSENT_SYSREGS, ICC_SYSREG_NAMES
from irqlab.arch.gicv3_virt import VIRT_SYSREG_NAMES
from irqlab.errors import InvalidArgumentValue, check_int
from irqlab.hw._access import BadAccess
from irqlab.hw.gicv2.cpuif import CpuInterface, GiccFrame
from irqlab.hw.gicv2.dist import Distributor
from irqlab.hw.gicv2.v2m import V2MFrame
from irqlab.hw.gicv2.virt import GichCpuInterface, GichFrame, GicvFrame
from irqlab.hw.gicv3.vcpuif import register_undefined

__all__ = ["GICv2"]

#: The decoded size of the GICH frame: one 4 KiB block (the per-CPU aliases are not modelled).
_GICH_BLOCK = 0x1000


class GICv2:
    """The GICv2 of a :class:`~irqlab.hw.machine.Machine` (built by the machine itself)."""

    def __init__(self, machine: Any, *, v2m_base_spi: int = a.V2M_BASE_SPI,
                 v2m_spis: int = a.V2M_NUM_SPIS) -> None:
        self.machine = machine
        c = machine.config
        ev = machine.events
        self.ncpus = c.cpus
        self.intid_limit = c.intid_limit
        # GICv2 has one priority width for the Distributor and the CPU interfaces (IHI 0048B
        # 3.3): distributor_priority_bits, 8 by default as QEMU's arm_gic.
        pribits = c.distributor_priority_bits
        self.dist = Distributor(ncpus=c.cpus, intid_limit=c.intid_limit, pribits=pribits,
                                events=ev, bad=BadAccess(c, ev, "gicd", regmap.GICD_V2))
        self.cpuifs = [CpuInterface(self.dist, i, pribits=pribits, events=ev)
                       for i in range(c.cpus)]
        self.dist.cpuifs = self.cpuifs
        bus = machine.bus
        # The Distributor's registers fill 4 KiB (IHI 0048B 4.1.2); like QEMU's arm_gic,
        # nothing decodes the rest of the window: an access there takes an external abort.
        bus.map(c.gicd[0], min(c.gicd[1], a.GICD_SIZE), self.dist, "gicd")
        bus.map(c.gicc[0], c.gicc[1], GiccFrame(self.cpuifs, c.gicc[1],
                                                     BadAccess(c, ev, "gicc", regmap.GICC)), "gicc")
        for cpu, ci in zip(machine.cpus, self.cpuifs, strict=True):
            cpu.cpuif = ci
        self.v2m: V2MFrame | None = None
        if c.v2m is not None:
            # IMPDEF choice (QEMU virt): the frame owns SPIs 48..111, clipped to the SPIs there are.
            base = 32 + v2m_base_spi
            number = max(0, min(v2m_spis, c.intid_limit - base))
            self.v2m = V2MFrame(self, base_intid=base, number=number, events=ev,
                                bad=BadAccess(c, ev, "v2m", regmap.V2M))
            bus.map(c.v2m[0], c.v2m[1], self.v2m, "v2m")
        self.vcpuifs: list[GichCpuInterface] = []
        if c.virtualization:
            self.vcpuifs = [GichCpuInterface(gic=self, cpu=i, events=ev, n_lrs=c.list_registers,
                                             maint_intid=16 + c.maintenance_ppi,
                                             phys_limit=c.intid_limit)
                            for i in range(c.cpus)]
            # GICH is a 4 KiB block (IHI 0048B 5.3: registers up to GICH_LR63 at 0x1FC, the
            # rest reserved, RAZ/WI); like the GICD window above and QEMU's 4 KiB
            # gic_viface region, nothing decodes the rest of the window: an external abort.
            bus.map(c.gich[0], min(c.gich[1], _GICH_BLOCK), GichFrame(
                "gich", self.vcpuifs, BadAccess(c, ev, "gich", regmap.GICH)), "gich")
            bus.map(c.gicv[0], c.gicv[1], GicvFrame(
                "gicv", self.vcpuifs, BadAccess(c, ev, "gicv", regmap.GICC)), "gicv")
            for cpu, vi in zip(machine.cpus, self.vcpuifs, strict=True):
                cpu.vcpuif = vi
        # GICv2 has no system-register interface: ICC_, ICH_ and ICV_ accesses are UNDEFINED.
        register_undefined(machine, (*ICC_SYSREG_NAMES, *VIRT_SYSREG_NAMES))
        for cpu in machine.cpus:
            for name in (*ICC_ABSENT_SYSREGS, "ICC_SRE_EL2"):
                cpu.register_absent_sysreg(name, "GICv2 has no system-register interface")

    # -- public methods (same as GICv3's) ------------------------------------------------
    def _intid_cpu(self, intid: object, cpu: object, *, allow_sgi: bool) -> tuple[int, int]:
        intid = check_int("intid", intid, 0 if allow_sgi else 16, self.intid_limit - 1)
        if intid < 32:
            if cpu is None:
                raise InvalidArgumentValue(
                    f"cpu must be given for an SGI or PPI (intid {intid}), not {cpu!r}")
            return intid, check_int("cpu", cpu, 0, self.ncpus - 1)
        if cpu is not None:
            check_int("cpu", cpu, 0, self.ncpus - 1)
        return intid, 0

    def set_interrupt_level(self, intid: int, level: bool, *, cpu: int | None = None) -> None:
        """Drive the input line of PPI ``intid`` of ``cpu`` or of SPI ``intid``.

        A rising edge makes an edge-triggered interrupt pending; a
        level-sensitive one is pending while the line is high (or latched by
        GICD_ISPENDR).  Called from device models and for the maintenance PPI.
        """
        intid, c = self._intid_cpu(intid, cpu, allow_sgi=False)
        self.dist.set_line(c, intid, bool(level))

    def deactivate_physical(self, cpu: int, intid: int) -> None:
        """Deactivate ``intid`` as seen by ``cpu`` (a virtual EOI of an HW=1 list register)."""
        c = check_int("cpu", cpu, 0, self.ncpus - 1)
        intid = check_int("intid", intid, 0, 1023)
        if intid >= self.intid_limit:
            return
        ev = self.machine.events
        if ev.enabled:
            ev.emit("gicd_deactivate_physical", cpu=c, intid=intid,
                    was_active=self.dist.active[self.dist.key(c, intid)])
        self.dist.set_active(c, intid, False)

    def is_pending(self, intid: int, cpu: int | None = None) -> bool:
        """Whether ``intid`` is pending (for an SGI or PPI: on ``cpu``)."""
        intid, c = self._intid_cpu(intid, cpu, allow_sgi=True)
        return self.dist.is_pending(c, intid)

    def is_active(self, intid: int, cpu: int | None = None) -> bool:
        """Whether ``intid`` is active (for an SGI or PPI: on ``cpu``)."""
        intid, c = self._intid_cpu(intid, cpu, allow_sgi=True)
        return self.dist.active[self.dist.key(c, intid)]
