"""The kernel object: boot, initcalls, per-CPU data, kexec.

One :class:`Kernel` runs on one :class:`~irqlab.sim.Engine` over a
:class:`~irqlab.hw.machine.Machine`.  ``await k.boot()`` (as a task on CPU 0)
does what ``start_kernel`` and ``kernel_init`` do that matters here: the
page allocator over RAM honouring the persistent memreserve table
(``mm_init``), ``init_IRQ`` (the GICv3 driver, then the ITS driver when the
machine has an ITS), ``smp_init`` (``cpu_up`` of CPUs 1 .. maxcpus-1 through
the hotplug state machine), then the registered initcalls by level.

``k.kexec(engine2)`` returns a new kernel for the same machine: hardware
state and RAM survive (the GIC keeps what the old kernel programmed), kernel
objects do not, the :class:`~irqlab.kernel.mm.MemReserve` table does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from irqlab import sim
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue, check_int
from irqlab.kernel.cpuhp import CpuHotplug
from irqlab.kernel.irq.desc import IRQD_IRQ_STARTED, IrqCore
from irqlab.kernel.irq.manage import irq_do_set_affinity
from irqlab.kernel.mm import MemReserve, PageAllocator, check_memreserve

__all__ = ["Kernel"]

Initcall = Callable[["Kernel"], Awaitable[Any]]

#: Initcall levels (``include/linux/init.h``).
EARLY_INITCALL, CORE_INITCALL, POSTCORE_INITCALL, ARCH_INITCALL = 0, 1, 2, 3
SUBSYS_INITCALL, FS_INITCALL, DEVICE_INITCALL, LATE_INITCALL = 4, 5, 6, 7


class Kernel:
    """A Linux-shaped kernel instance on ``machine``, run by ``engine``.

    ``maxcpus``: CPUs brought up at boot (``maxcpus=`` on the command line;
    default all); the others stay offline until ``k.cpuhp.cpu_up``.
    ``memreserve``: the persistent table handed over by kexec (default: a new
    one).  ``options``: variant knobs drivers read (``irq_desc_free``,
    ``its_memreserve``, ...).  Build it outside the run; call
    ``await k.boot()`` from a task on CPU 0.
    """

    def __init__(self, machine: Any, engine: sim.Engine, *, maxcpus: int | None = None,
                 memreserve: MemReserve | None = None,
                 options: dict[str, Any] | None = None, generation: int = 0) -> None:
        if not isinstance(engine, sim.Engine):
            raise InvalidArgumentType(f"engine must be an irqlab.sim.Engine, not {engine!r}")
        if engine.machine is not machine:
            raise InvalidArgumentValue(
                f"engine must be built on this machine (Engine(machine=...)), not {engine!r}")
        n = len(machine.cpus)
        self.maxcpus = n if maxcpus is None else check_int("maxcpus", maxcpus, 1, n)
        if options is None:
            options = {}
        elif not isinstance(options, dict):
            raise InvalidArgumentType(f"options must be a dict or None, not {options!r}")
        self.machine = machine
        self.engine = engine
        self.events = engine.events
        self.options = options
        self.memreserve = MemReserve() if memreserve is None else check_memreserve(memreserve)
        #: kexec generation: 0 for a cold boot, +1 per kexec.
        self.generation = check_int("generation", generation, 0, 1 << 20)
        self.memreserve.events = engine.events
        self.memreserve.generation = self.generation
        #: ``nr_cpu_ids``: possible CPUs (every CPU of the machine).
        self.nr_cpu_ids = n
        self.irq = IrqCore(engine, nr_cpu_ids=n, options=options)
        self.cpuhp = CpuHotplug(self)
        self.mm: PageAllocator | None = None
        self.gic: Any = None
        self.its: Any = None
        self._percpu: dict[str, sim.PerCpu[Any]] = {}
        self._initcalls: list[tuple[int, int, Initcall]] = []
        self.booted = False
        # secondary CPUs are offline until smp_init/cpu_up brings them up
        for cpu in range(1, n):
            engine.set_cpu_online(cpu, False)
        # The engine reads its irq handler when the run starts: install the arch entry
        # now (a trampoline to the GIC driver's handle_arch_irq once init_IRQ ran).
        engine.set_irq_handler(self._handle_arch_irq)
        # The boot CPU enters the kernel with interrupts masked (PSTATE.I): a line the
        # previous kernel left asserted must not be taken before the GIC is set up.
        # The GIC driver unmasks once the distributor and CPU interface are quiesced.
        engine.cpus[0].irqs_on = False

    # -- properties ------------------------------------------------------------------------
    @property
    def possible_cpus(self) -> tuple[int, ...]:
        """``cpu_possible_mask``."""
        return tuple(range(self.nr_cpu_ids))

    @property
    def online_cpus(self) -> tuple[int, ...]:
        """``cpu_online_mask``."""
        return tuple(c for c in range(self.nr_cpu_ids) if self.engine.cpu_online(c))

    def percpu(self, name: str, factory: Callable[[int], Any]) -> sim.PerCpu[Any]:
        """``DEFINE_PER_CPU(name)``: the same :class:`sim.PerCpu` for the same name."""
        if not isinstance(name, str):
            raise InvalidArgumentType(f"name must be a str, not {name!r}")
        pc = self._percpu.get(name)
        if pc is None:
            pc = self._percpu[name] = sim.PerCpu(factory)
        return pc

    def register_initcall(self, level: int, fn: Initcall) -> None:
        """Run ``await fn(kernel)`` at boot after SMP bring-up, by ``level`` then order."""
        check_int("level", level, EARLY_INITCALL, LATE_INITCALL)
        if not callable(fn):
            raise InvalidArgumentType(f"fn must be an async function, not {fn!r}")
        self._initcalls.append((level, len(self._initcalls), fn))

    # -- boot ------------------------------------------------------------------------------
    async def boot(self) -> None:
        """Boot on CPU 0: mm, init_IRQ, smp_init, initcalls.  Task context on CPU 0."""
        if sim.smp_processor_id() != 0:
            raise sim.SimError("Kernel.boot() must run on CPU 0")
        if self.mm is not None:
            raise sim.SimError("Kernel.boot() runs once per kernel (kexec for a new one)")
        ev = self.events
        if ev.enabled and ev.should_emit("kernel_boot"):
            ev.emit("kernel_boot", cpu=0, generation=self.generation, maxcpus=self.maxcpus,
                    memreserve=len(self.memreserve))
        self.mm_init()
        self.cpuhp.mark_booted(0)
        await self.init_irq()
        for cpu in range(1, self.maxcpus):
            await self.cpuhp.cpu_up(cpu)
        for _level, _i, fn in sorted(self._initcalls, key=lambda t: (t[0], t[1])):
            await fn(self)
        self.booted = True
        if ev.enabled and ev.should_emit("kernel_booted"):
            ev.emit("kernel_booted", cpu=0, generation=self.generation,
                    online=",".join(map(str, self.online_cpus)))

    def mm_init(self) -> None:
        """The page allocator over RAM, with every memreserve entry reserved."""
        base, size = self.machine.config.ram
        mm = PageAllocator(base, size, self.events)
        mm.machine = self.machine
        for addr, sz in self.memreserve.entries():
            mm.reserve(addr, sz, label="memreserve")
        self.mm = mm

    async def init_irq(self) -> None:
        """``init_IRQ``: the GICv3 driver (distributor, boot CPU, domain, IPIs), then the ITS."""
        from irqlab.kernel.drivers.irq_gic_v3 import gic_of_init

        self.gic = await gic_of_init(self)

    async def _handle_arch_irq(self, cc: sim.CpuCtx) -> None:
        gic = self.gic
        if gic is not None:
            await gic.handle_arch_irq(cc)

    # -- irq migration on cpu_down ------------------------------------------------------------
    async def irq_migrate_all_off_cpu(self, cpu: int) -> None:
        """``irq_migrate_all_off_this_cpu``: move started IRQs targeting ``cpu`` elsewhere.

        Runs on the dying CPU with interrupts off (hotplug teardown).  Not a
        hot path: walks the descriptor table in IRQ order.
        """
        core = self.irq
        online = [c for c in range(self.nr_cpu_ids) if c != cpu and self.engine.cpu_online(c)]
        if not online:
            return
        for irq in sorted(core.descs):
            desc = core.descs.get(irq)
            if desc is None:
                continue
            d = desc.irq_data
            if (not desc.state & IRQD_IRQ_STARTED or d.effective_affinity != (cpu,)
                    or not d.chip.has("irq_set_affinity")):
                continue
            mask = tuple(c for c in desc.affinity if c in online) or tuple(online)
            await desc.lock.lock()
            await irq_do_set_affinity(desc, mask, False)
            desc.lock.unlock()
            ev = self.events
            if ev.enabled and ev.should_emit("irq_migrate"):
                ev.emit("irq_migrate", cpu=cpu, irq=irq, to=",".join(map(str, mask)))

    # -- kexec -----------------------------------------------------------------------------
    def kexec(self, engine2: sim.Engine) -> Kernel:
        """A new kernel on the same machine, run by ``engine2``; the memreserve table survives.

        Hardware state and RAM are untouched (redistributors keep their
        tables and, with ``lpis_sticky``, EnableLPIs).  Call ``await
        k2.boot()`` in ``engine2``.
        """
        ev = self.events
        if ev.enabled and ev.should_emit("kernel_kexec"):
            ev.emit("kernel_kexec", cpu=None, generation=self.generation + 1,
                    memreserve=len(self.memreserve))
        return Kernel(self.machine, engine2, maxcpus=self.maxcpus, memreserve=self.memreserve,
                      options=dict(self.options), generation=self.generation + 1)

    def __repr__(self) -> str:
        return f"<Kernel gen={self.generation} cpus={self.nr_cpu_ids} maxcpus={self.maxcpus}>"
