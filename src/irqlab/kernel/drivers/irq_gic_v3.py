"""The GICv3 driver (``drivers/irqchip/irq-gic-v3.c``) on the irqlab GICv3 model.

Bring-up by register writes through the CPUs' bus and system registers:

* ``gic_dist_init``: GICD_CTLR off, every SPI Group 1, disabled, inactive,
  level, default priority, routed (IROUTER) to the boot CPU; then GICD_CTLR
  with ARE and the group enables.
* ``gic_cpu_init`` (boot CPU in ``init_IRQ``; the others in the hotplug
  state :data:`~irqlab.kernel.cpuhp.CPUHP_AP_IRQ_GIC_STARTING`, on the CPU,
  interrupts off): wake the redistributor (GICR_WAKER), SGIs/PPIs Group 1,
  disabled, default priority; ICC_SRE, ICC_PMR, ICC_BPR1, ICC_CTLR (EOImode
  0), ICC_IGRPEN1; then ``its_cpu_init`` and the IPI enables.
* the ``GICv3`` irq domain (hwirq = INTID; fwspec ``(0, n, type)`` is SPI n,
  ``(1, n, type)`` PPI n, ``(GIC_IRQ_TYPE_LPI, intid, 0)`` an LPI for the ITS
  domain above; a one-cell fwspec ``(n,)`` with n < 16 an SGI);
* ``handle_arch_irq`` (the engine's irq entry): acknowledge with
  ICC_IAR1_EL1, dispatch through :func:`generic_handle_domain_irq` to the flow
  handler (whose ``irq_eoi`` writes ICC_EOIR1_EL1), loop until 1023; the
  dispatch runs inside an RCU read-side section (``irq_enter``);
* IPIs: 8 SGIs as per-CPU IRQs (``handle_percpu_devid_irq``), sent with
  ICC_SGI1R_EL1; ``IPI_CALL_FUNC`` runs a per-CPU call-function queue
  (:meth:`GicV3.smp_call_function_single`).

ITS hook (K2's module ``irqlab.kernel.drivers.irq_gic_v3_its``, optional,
import guarded): ``await its_init(kernel)`` after the boot CPU's GIC init,
then ``await its_cpu_init(kernel, cpu)`` on every CPU (boot CPU: in
``init_IRQ``, interrupts off; others: in the GIC STARTING callback), then,
if defined, ``await its_lpi_memreserve_init(kernel)`` (once, on the boot CPU,
after its ``its_cpu_init``).

IMPDEF choices of the driver model: EOImode 0 (priority drop and
deactivation in one EOIR write; Linux uses EOImode 1 when it runs at EL2);
default priority 0xA0, PMR 0xF0 (Linux's values).
"""

from __future__ import annotations

import importlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from irqlab import sim
from irqlab.arch import gicv3 as a
from irqlab.errors import check_int
from irqlab.kernel.cpuhp import CPUHP_AP_IRQ_GIC_STARTING
from irqlab.kernel.errno import EINVAL
from irqlab.kernel.irq.chip import (
    IRQ_HANDLED,
    IRQ_SET_MASK_OK_DONE,
    IrqChip,
    generic_handle_domain_irq,
    handle_fasteoi_irq,
    handle_percpu_devid_irq,
)
from irqlab.kernel.irq.desc import IRQ_NOAUTOEN, IRQ_PER_CPU_DEVID, IRQD_LEVEL, IrqData
from irqlab.kernel.irq.domain import (
    DOMAIN_BUS_WIRED,
    IrqDomain,
    IrqDomainOps,
    IrqFwspec,
    irq_domain_alloc_irqs,
    irq_domain_set_info,
)
from irqlab.kernel.irq.manage import enable_percpu_irq, request_percpu_irq

if TYPE_CHECKING:
    from irqlab.kernel.kernel import Kernel

__all__ = [
    "GIC_IRQ_TYPE_LPI",
    "IPI_CALL_FUNC",
    "IPI_CPU_STOP",
    "IPI_RESCHEDULE",
    "IRQ_TYPE_EDGE_RISING",
    "IRQ_TYPE_LEVEL_HIGH",
    "NR_IPI",
    "GicV3",
    "gic_of_init",
]

GIC_IRQ_TYPE_LPI = 0xA110C8ED
IRQ_TYPE_NONE = 0
IRQ_TYPE_EDGE_RISING = 1
IRQ_TYPE_LEVEL_HIGH = 4

GICD_INT_DEF_PRI = 0xA0
DEFAULT_PMR_VALUE = 0xF0

#: arm64 IPIs (``arch/arm64/kernel/smp.c``), one SGI each.
IPI_RESCHEDULE, IPI_CALL_FUNC, IPI_CPU_STOP, IPI_CPU_CRASH_STOP = 0, 1, 2, 3
IPI_TIMER, IPI_IRQ_WORK = 4, 5
NR_IPI = 8
_IPI_NAMES = ("Rescheduling interrupts", "Function call interrupts", "CPU stop interrupts",
              "CPU stop (for crash dump) interrupts", "Timer broadcast interrupts",
              "IRQ work interrupts", "CPU wake-up interrupts", "IPI 7")


class _CallSingleData:
    """``struct __call_single_data``: a queued cross-CPU function call."""

    __slots__ = ("args", "done", "fn", "result")

    def __init__(self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        self.done = False
        self.result: Any = None


class _CsdWait(sim.Op):
    """``csd_lock_wait``: spin until the target CPU ran the function."""

    __slots__ = ()
    kind = "csd_lock_wait"
    blocking = True

    def ready(self) -> bool:
        return bool(self.obj.done)


class GicChip(IrqChip):
    """``gic_chip``: mask/unmask/eoi/affinity/retrigger/type by register accesses.

    SGIs/PPIs act on the redistributor of the calling CPU (they are banked);
    SPIs on the distributor; LPI levels (below the ITS chip) need no GIC
    access except the EOI.
    """

    name = "GICv3"

    def __init__(self, gic: GicV3) -> None:
        super().__init__("GICv3")
        self.gic = gic

    def _cpu(self) -> Any:
        return self.gic.machine.cpus[sim.smp_processor_id()]

    def _reg(self, data: IrqData, spi_off: int, ppi_off: int) -> tuple[int, int]:
        hw = data.hwirq
        if hw < 32:
            base = self.gic.sgi_base(sim.smp_processor_id())
            return base + ppi_off, 1 << hw
        return self.gic.dist_base + spi_off + (hw // 32) * 4, 1 << (hw % 32)

    async def irq_mask(self, data: IrqData) -> None:
        if data.hwirq >= a.LPI_INTID_BASE:
            return
        addr, bit = self._reg(data, a.GICD_ICENABLER_OFF, a.GICR_ICENABLER0_OFF)
        self._cpu().write(addr, bit)

    async def irq_unmask(self, data: IrqData) -> None:
        if data.hwirq >= a.LPI_INTID_BASE:
            return
        addr, bit = self._reg(data, a.GICD_ISENABLER_OFF, a.GICR_ISENABLER0_OFF)
        self._cpu().write(addr, bit)

    async def irq_eoi(self, data: IrqData) -> None:
        self._cpu().write_sysreg("ICC_EOIR1_EL1", data.hwirq)

    async def irq_retrigger(self, data: IrqData) -> int:
        if data.hwirq >= a.LPI_INTID_BASE:
            return 0
        addr, bit = self._reg(data, a.GICD_ISPENDR_OFF, a.GICR_ISPENDR0_OFF)
        self._cpu().write(addr, bit)
        return 1

    async def irq_set_type(self, data: IrqData, flow_type: int) -> int:
        hw = data.hwirq
        if hw < 16:
            return 0 if flow_type in (IRQ_TYPE_NONE, IRQ_TYPE_EDGE_RISING) else -EINVAL
        if hw >= a.LPI_INTID_BASE:
            return 0 if flow_type in (IRQ_TYPE_NONE, IRQ_TYPE_EDGE_RISING) else -EINVAL
        if flow_type not in (IRQ_TYPE_EDGE_RISING, IRQ_TYPE_LEVEL_HIGH):
            return -EINVAL
        self.gic.set_cfg(sim.smp_processor_id(), hw, flow_type == IRQ_TYPE_EDGE_RISING)
        if flow_type == IRQ_TYPE_LEVEL_HIGH:
            data.desc.state |= IRQD_LEVEL
        else:
            data.desc.state &= ~IRQD_LEVEL
        return 0

    async def irq_set_affinity(self, data: IrqData, cpumask: tuple[int, ...],
                               force: bool) -> int:
        hw = data.hwirq
        if hw < 32 or hw >= a.LPI_INTID_BASE:
            return -EINVAL
        eng = self.gic.kernel.engine
        cpu = next((c for c in cpumask if force or eng.cpu_online(c)), None)
        if cpu is None:
            return -EINVAL
        self.gic.route_spi(sim.smp_processor_id(), hw, cpu)
        data.effective_affinity = (cpu,)
        return IRQ_SET_MASK_OK_DONE


class GicDomainOps(IrqDomainOps):
    """``gic_irq_domain_ops``: hwirq = INTID."""

    def __init__(self, gic: GicV3) -> None:
        self.gic = gic

    def translate(self, domain: IrqDomain, fwspec: IrqFwspec) -> tuple[int, int] | int:
        p = fwspec.param
        if len(p) == 1 and 0 <= p[0] < 16:
            return p[0], IRQ_TYPE_EDGE_RISING
        if len(p) < 2:
            return -EINVAL
        kind, n = p[0], p[1]
        typ = p[2] if len(p) > 2 else IRQ_TYPE_NONE
        if kind == 0:
            if not 0 <= n < self.gic.nr_spis:
                return -EINVAL
            return n + 32, typ
        if kind == 1:
            if not 0 <= n < 16:
                return -EINVAL
            return n + 16, typ
        if kind == GIC_IRQ_TYPE_LPI:
            if n < a.LPI_INTID_BASE:
                return -EINVAL
            return n, IRQ_TYPE_EDGE_RISING
        return -EINVAL

    async def alloc(self, domain: IrqDomain, virq: int, nr_irqs: int, arg: Any) -> int:
        if not isinstance(arg, IrqFwspec):
            return -EINVAL
        t = self.translate(domain, arg)
        if isinstance(t, int):
            return t
        hwirq, typ = t
        core = domain.core
        for i in range(nr_irqs):
            hw = hwirq + i
            desc = core.descs[virq + i]
            if hw < 32:
                irq_domain_set_info(domain, virq + i, hw, self.gic.chip, None,
                                    handle_percpu_devid_irq)
                desc.status |= IRQ_PER_CPU_DEVID | IRQ_NOAUTOEN
            else:
                irq_domain_set_info(domain, virq + i, hw, self.gic.chip, None,
                                    handle_fasteoi_irq)
                if 32 <= hw < a.LPI_INTID_BASE and typ:
                    await self.gic.chip.irq_set_type(desc.irq_data, typ)
        return 0


class GicV3:
    """The driver instance (``gic_data``): ``kernel.gic``.

    ``domain`` is the GIC irq domain (also ``kernel.irq.default_domain``);
    ``ipi_base`` the first of the :data:`NR_IPI` IPI IRQs;
    ``nr_spis`` from GICD_TYPER.
    """

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.machine = kernel.machine
        cfg = self.machine.config
        self.dist_base = cfg.gicd[0]
        self.events = kernel.events
        self.chip = GicChip(self)
        self.domain = IrqDomain(kernel.irq, "GICv3", GicDomainOps(self),
                                bus_token=DOMAIN_BUS_WIRED)
        kernel.irq.default_domain = self.domain
        typer = self.machine.cpus[0].read(self.dist_base + a.GICD_TYPER_OFF)
        self.nr_spis = min(32 * ((typer & 0x1F) + 1), 1020) - 32
        self.lpis = bool(typer & (1 << 17))
        self.ipi_base = 0
        #: Per-CPU call-function queues (``call_single_queue``).
        self.call_queue: list[deque[_CallSingleData]] = [
            deque() for _ in range(kernel.nr_cpu_ids)]
        #: Per-CPU IPI counts by IPI number (``/proc/interrupts`` IPI lines).
        self.ipi_counts: list[list[int]] = [[0] * kernel.nr_cpu_ids for _ in range(NR_IPI)]
        self._its_mod: Any = None

    # -- addresses --------------------------------------------------------------------------
    def rd_base(self, cpu: int) -> int:
        """The RD_base of ``cpu``'s redistributor."""
        return int(self.machine.config.redistributor_base(cpu))

    def sgi_base(self, cpu: int) -> int:
        """The SGI_base of ``cpu``'s redistributor."""
        return self.rd_base(cpu) + a.GICR_SGI_BASE

    # -- register helpers (synchronous: hardware accesses are atomic within a step) ---------
    def set_cfg(self, via: int, intid: int, edge: bool) -> None:
        """Program the trigger of SPI/PPI ``intid`` (edge or level) from CPU ``via``."""
        cpu = self.machine.cpus[via]
        if intid < 32:
            addr = self.sgi_base(via) + a.GICR_ICFGR0_OFF + (intid // 16) * 4
        else:
            addr = self.dist_base + a.GICD_ICFGR_OFF + (intid // 16) * 4
        shift = (intid % 16) * 2 + 1
        v = cpu.read(addr)
        v = (v | (1 << shift)) if edge else (v & ~(1 << shift))
        cpu.write(addr, v)

    def route_spi(self, via: int, intid: int, target: int) -> None:
        """GICD_IROUTER<intid> = MPIDR affinity of ``target`` (IRM = 0), written by ``via``."""
        tcpu = self.machine.cpus[target]
        a3, a2, a1, a0 = tcpu.affinity
        self.machine.cpus[via].write(self.dist_base + a.GICD_IROUTER_OFF + 8 * intid,
                                     (a3 << 32) | (a2 << 16) | (a1 << 8) | a0, 8)

    # -- distributor ------------------------------------------------------------------------
    def dist_init(self) -> None:
        """``gic_dist_init`` (boot CPU)."""
        cpu = self.machine.cpus[0]
        d = self.dist_base
        cpu.write(d + a.GICD_CTLR_OFF, 0)
        nr = self.nr_spis + 32
        for i in range(32, nr, 32):
            cpu.write(d + a.GICD_IGROUPR_OFF + i // 8, 0xFFFF_FFFF)
            cpu.write(d + a.GICD_ICACTIVER_OFF + i // 8, 0xFFFF_FFFF)
            cpu.write(d + a.GICD_ICENABLER_OFF + i // 8, 0xFFFF_FFFF)
        for i in range(32, nr, 16):
            cpu.write(d + a.GICD_ICFGR_OFF + i // 4, 0)
        pri = GICD_INT_DEF_PRI * 0x0101_0101
        for i in range(32, nr, 4):
            cpu.write(d + a.GICD_IPRIORITYR_OFF + i, pri)
        # ARE (RAO here), EnableGrp1 (bit 1 with DS = 1), EnableGrp0
        cpu.write(d + a.GICD_CTLR_OFF, (1 << 4) | (1 << 1) | 1)
        for i in range(32, nr):
            self.route_spi(0, i, 0)
        ev = self.events
        if ev.enabled and ev.should_emit("gic_dist_init"):
            ev.emit("gic_dist_init", cpu=0, spis=self.nr_spis, lpis=self.lpis)

    # -- per CPU ----------------------------------------------------------------------------
    def cpu_init(self, cpu: int) -> None:
        """``gic_cpu_init`` for the calling CPU ``cpu`` (interrupts off)."""
        c = self.machine.cpus[cpu]
        rd = self.rd_base(cpu)
        sgi = rd + a.GICR_SGI_BASE
        # gic_enable_redist(true): clear ProcessorSleep, ChildrenAsleep follows
        waker = c.read(rd + a.GICR_WAKER_OFF)
        c.write(rd + a.GICR_WAKER_OFF, waker & ~2)
        asleep = bool(c.read(rd + a.GICR_WAKER_OFF) & 4)
        c.write(sgi + a.GICR_IGROUPR0_OFF, 0xFFFF_FFFF)
        c.write(sgi + a.GICR_ICACTIVER0_OFF, 0xFFFF_FFFF)
        c.write(sgi + a.GICR_ICENABLER0_OFF, 0xFFFF_FFFF)
        c.write(sgi + a.GICR_ICFGR1_OFF, 0)
        pri = GICD_INT_DEF_PRI * 0x0101_0101
        for i in range(0, 32, 4):
            c.write(sgi + a.GICR_IPRIORITYR_OFF + i, pri)
        c.write_sysreg("ICC_SRE_EL1", c.read_sysreg("ICC_SRE_EL1") | 1)
        c.write_sysreg("ICC_PMR_EL1", DEFAULT_PMR_VALUE)
        c.write_sysreg("ICC_BPR1_EL1", 0)
        c.write_sysreg("ICC_CTLR_EL1", c.read_sysreg("ICC_CTLR_EL1") & ~2)   # EOImode 0
        c.write_sysreg("ICC_IGRPEN1_EL1", 1)
        ev = self.events
        if ev.enabled and ev.should_emit("gic_cpu_init"):
            ev.emit("gic_cpu_init", cpu=cpu, redist_asleep=asleep)

    async def starting_cpu(self, cpu: int) -> int:
        """``gic_starting_cpu``: the CPUHP_AP_IRQ_GIC_STARTING callback (on ``cpu``, irqs off)."""
        self.cpu_init(cpu)
        if self._its_mod is not None and hasattr(self._its_mod, "its_cpu_init"):
            await self._its_mod.its_cpu_init(self.kernel, cpu)
        await self.ipi_setup(cpu)
        return 0

    # -- IPIs ----------------------------------------------------------------------------------
    async def smp_init(self) -> None:
        """``gic_smp_init``: the STARTING state, 8 SGIs as IPIs, handlers requested."""
        self.kernel.cpuhp.setup_state_nocalls(CPUHP_AP_IRQ_GIC_STARTING,
                                              "irqchip/arm/gicv3:starting",
                                              self.starting_cpu, None)
        base = await irq_domain_alloc_irqs(self.domain, NR_IPI, arg=IrqFwspec(0))
        self.ipi_base = base
        ev = self.events
        for i in range(NR_IPI):
            await request_percpu_irq(base + i, self._ipi_handler, "IPI",
                                     list(range(self.kernel.nr_cpu_ids)))
            if ev.enabled:
                # IPI descriptors live as long as the kernel: tell the lifetime checker
                # (the event irqlab.check.lifetime.long_lived emits; kernel cannot import check)
                ev.emit("check_long_lived", cpu=sim.smp_processor_id(),
                        oid=self.kernel.engine.oid(self.kernel.irq.descs[base + i]))

    async def ipi_setup(self, cpu: int) -> None:
        """``ipi_setup``: enable the IPI SGIs on the calling CPU."""
        for i in range(NR_IPI):
            await enable_percpu_irq(self.ipi_base + i)

    def send_ipi(self, cpus: tuple[int, ...] | list[int], ipi: int) -> None:
        """``smp_cross_call``/``gic_ipi_send_mask``: SGI ``ipi`` to ``cpus`` via ICC_SGI1R_EL1.

        Plain call from model code (one system-register write per cluster).
        """
        check_int("ipi", ipi, 0, NR_IPI - 1)
        me = self.machine.cpus[sim.smp_processor_id()]
        groups: dict[tuple[int, int, int, int], int] = {}
        for t in sorted(set(cpus)):
            check_int("cpu", t, 0, self.kernel.nr_cpu_ids - 1)
            a3, a2, a1, a0 = self.machine.cpus[t].affinity
            key = (a3, a2, a1, a0 // 16)
            groups[key] = groups.get(key, 0) | (1 << (a0 % 16))
        ev = self.events
        for (a3, a2, a1, rs), tl in groups.items():
            val = (a3 << 48) | (rs << 44) | (a2 << 32) | (ipi << 24) | (a1 << 16) | tl
            me.write_sysreg("ICC_SGI1R_EL1", val)
        if ev.enabled and ev.should_emit("gic_send_ipi"):
            ev.emit("gic_send_ipi", cpu=sim.smp_processor_id(), ipi=ipi,
                    targets=",".join(map(str, sorted(set(cpus)))))

    async def _ipi_handler(self, irq: int, dev_id: Any) -> int:
        ipi = irq - self.ipi_base
        cpu = sim.smp_processor_id()
        self.ipi_counts[ipi][cpu] += 1
        if ipi == IPI_CALL_FUNC:
            q = self.call_queue[cpu]
            while q:
                csd = q.popleft()
                csd.result = await csd.fn(*csd.args)
                csd.done = True
        ev = self.events
        if ev.enabled and ev.should_emit("gic_ipi"):
            ev.emit("gic_ipi", cpu=cpu, ipi=ipi)
        return IRQ_HANDLED

    async def smp_call_function_single(self, cpu: int, fn: Callable[..., Awaitable[Any]],
                                       *args: Any, wait: bool = True) -> Any:
        """``smp_call_function_single``: run ``await fn(*args)`` on ``cpu`` in hard-irq context.

        On the calling CPU it runs inline with interrupts off.  Otherwise the
        call is queued and an ``IPI_CALL_FUNC`` SGI sent; with ``wait`` the
        caller spins (``csd_lock_wait``) until it ran and gets its result.
        An offline target returns -ENXIO.
        """
        from irqlab.kernel.errno import ENXIO

        check_int("cpu", cpu, 0, self.kernel.nr_cpu_ids - 1)
        if cpu == sim.smp_processor_id():
            flags = sim.local_irq_save()
            try:
                return await fn(*args)
            finally:
                sim.local_irq_restore(flags)
        if not self.kernel.engine.cpu_online(cpu):
            return -ENXIO
        csd = _CallSingleData(fn, args)
        self.call_queue[cpu].append(csd)
        self.send_ipi((cpu,), IPI_CALL_FUNC)
        if not wait:
            return None
        await _CsdWait(csd, "smp_call_function_single")
        return csd.result

    # -- interrupt entry -------------------------------------------------------------------------
    async def handle_arch_irq(self, cc: sim.CpuCtx) -> None:
        """``gic_handle_irq``: IAR1, dispatch, (EOI by the flow handler), until 1023."""
        cpu = cc.index
        assert cpu is not None
        hw = self.machine.cpus[cpu]
        sim.rcu_read_lock()
        try:
            first = True
            while True:
                intid = hw.read_sysreg("ICC_IAR1_EL1") & 0xFF_FFFF
                if intid == a.INTID_SPURIOUS:
                    # (Linux returns without counting: the interrupt went to another CPU,
                    # was withdrawn, or lost its priority; the event says it happened)
                    if first:
                        ev = self.events
                        if ev.enabled and ev.should_emit("gic_spurious"):
                            ev.emit("gic_spurious", cpu=cpu)
                    break
                first = False
                ret = await generic_handle_domain_irq(self.domain, intid)
                if ret:
                    # gic_deactivate_unhandled: nobody mapped it; EOI so it does not stick
                    ev = self.events
                    if ev.enabled and ev.should_emit("gic_unexpected_irq"):
                        ev.emit("gic_unexpected_irq", cpu=cpu, intid=intid)
                    hw.write_sysreg("ICC_EOIR1_EL1", intid)
        finally:
            sim.rcu_read_unlock()


async def gic_of_init(kernel: Kernel) -> GicV3:
    """``gic_of_init`` / ``gic_init_bases``: the whole GIC bring-up on the boot CPU.

    Runs in ``init_IRQ`` (task on CPU 0, entered with interrupts masked).  The
    distributor and the boot CPU's interface are set up with interrupts off,
    then interrupts are unmasked; the ITS hook as described in the module doc.
    """
    gic = GicV3(kernel)
    kernel.gic = gic
    gic.dist_init()
    sim.local_irq_disable()
    gic.cpu_init(0)
    # Deviation: Linux keeps interrupts off for all of init_IRQ and tolerates sleeping
    # allocations there (might_sleep is quiet before SYSTEM_SCHEDULING); the model unmasks
    # here, with every SPI/SGI/PPI disabled, so that early-boot allocations (ITS tables)
    # are not reported as sleeping in atomic context.
    sim.local_irq_enable()
    # handle_arch_irq: the Kernel installed a trampoline to gic.handle_arch_irq before the run
    # (the engine reads its handler when a run starts)
    await gic.smp_init()
    flags = sim.local_irq_save()
    await gic.ipi_setup(0)
    sim.local_irq_restore(flags)
    if gic.lpis and kernel.machine.its is not None:
        its_mod: Any
        try:
            its_mod = importlib.import_module("irqlab.kernel.drivers.irq_gic_v3_its")
        except ImportError:
            its_mod = None
        if its_mod is not None and hasattr(its_mod, "its_init"):
            gic._its_mod = its_mod
            res = await its_mod.its_init(kernel)
            if kernel.its is None and res is not None and not isinstance(res, int):
                kernel.its = res
            if hasattr(its_mod, "its_cpu_init"):
                flags = sim.local_irq_save()
                await its_mod.its_cpu_init(kernel, 0)
                sim.local_irq_restore(flags)
            if hasattr(its_mod, "its_lpi_memreserve_init"):
                await its_mod.its_lpi_memreserve_init(kernel)
    ev = kernel.events
    if ev.enabled and ev.should_emit("gic_init"):
        ev.emit("gic_init", cpu=0, spis=gic.nr_spis, its=kernel.its is not None)
    return gic


async def gic_reserve_range(kernel: Kernel, addr: int, size: int) -> int:
    """``gic_reserve_range``: ``efi_mem_reserve_persistent`` on the kernel's memreserve table.

    A sleeping operation (PREEMPT_RT): reported when called with interrupts off.
    """
    return await kernel.memreserve.reserve(addr, size, label="gic_reserve_range")
