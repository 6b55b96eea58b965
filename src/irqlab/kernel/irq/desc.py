"""Interrupt descriptors (``struct irq_desc``) and the sparse descriptor table.

Models ``kernel/irq/irqdesc.c`` with ``CONFIG_SPARSE_IRQ``: descriptors are
allocated on demand in contiguous Linux IRQ number ranges (first fit, like
``irq_alloc_descs`` over the ``allocated_irqs`` bitmap) and live in a table
keyed by number.  Every descriptor is an engine-tracked object
(``sim.alloc``); freeing it is ``sim.kfree`` or, with
``options["irq_desc_free"] == "rcu"`` ("genirq: Free irq_desc with rcu"),
``sim.kfree_rcu``.  A use on the interrupt path is preceded by
``await sim.access(desc, "r", "<function>")`` so that a use after free is an
event with its three sites.

The :class:`IrqCore` holds everything the generic irq layer keeps global in
Linux (the descriptor table, the domain list, the irq_domain mutex); model
functions that take only an IRQ number (``request_irq(irq, ...)``) find the
core of the running engine with :func:`irq_core`.
"""

from __future__ import annotations

import bisect
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from irqlab import sim
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue, check_int
from irqlab.kernel.errno import ENOMEM
from irqlab.sim import SimError

if TYPE_CHECKING:
    from irqlab.kernel.irq.chip import IrqChip
    from irqlab.kernel.irq.domain import IrqDomain
    from irqlab.kernel.irq.manage import IrqAction

__all__ = [
    "IRQD_ACTIVATED",
    "IRQD_AFFINITY_MANAGED",
    "IRQD_AFFINITY_SET",
    "IRQD_IRQ_DISABLED",
    "IRQD_IRQ_INPROGRESS",
    "IRQD_IRQ_MASKED",
    "IRQD_IRQ_STARTED",
    "IRQD_LEVEL",
    "IRQD_PER_CPU",
    "IRQS_ONESHOT",
    "IRQS_PENDING",
    "IRQ_NOAUTOEN",
    "IRQ_NOPROBE",
    "IRQ_NOREQUEST",
    "IRQ_NOTHREAD",
    "IRQ_PER_CPU_DEVID",
    "IrqCore",
    "IrqData",
    "IrqDesc",
    "irq_core",
    "irq_data_get_irq_chip",
    "irq_get_handler_data",
    "irq_get_irq_data",
    "irq_set_handler_data",
    "irq_to_desc",
    "irqd_irq_disabled",
    "irqd_irq_inprogress",
    "irqd_irq_masked",
    "irqd_is_activated",
    "irqd_is_started",
]

# irq_common_data state (irqd_*), shared by every level of one IRQ's hierarchy.
IRQD_TRIGGER_MASK = 0xF
IRQD_PER_CPU = 1 << 11
IRQD_LEVEL = 1 << 13
IRQD_IRQ_DISABLED = 1 << 16
IRQD_IRQ_MASKED = 1 << 17
IRQD_IRQ_INPROGRESS = 1 << 18
IRQD_AFFINITY_MANAGED = 1 << 21
IRQD_IRQ_STARTED = 1 << 22
IRQD_ACTIVATED = 1 << 9
IRQD_AFFINITY_SET = 1 << 12

# desc->istate (core internal)
IRQS_ONESHOT = 0x20
IRQS_PENDING = 0x200

# desc->status_use_accessors (irq_settings)
IRQ_PER_CPU_DEVID = 1 << 17
IRQ_NOPROBE = 1 << 10
IRQ_NOREQUEST = 1 << 11
IRQ_NOAUTOEN = 1 << 12
IRQ_NOTHREAD = 1 << 16

#: Highest Linux IRQ number handed out (``NR_IRQS`` + ``nr_irqs`` headroom); IMPDEF model limit.
MAX_SPARSE_IRQS = 1 << 20

FlowHandler = Callable[["IrqDesc"], Awaitable[Any]]


class IrqData:
    """``struct irq_data``: one level of an IRQ in a domain hierarchy.

    ``irq`` (Linux number), ``hwirq`` (number inside ``domain``), ``chip`` and
    ``chip_data`` (set by the domain's ``alloc``), ``parent_data`` (the level
    below, ``None`` at the root), ``desc`` (the descriptor; Linux's
    ``irq_data->common``), ``msi_desc`` (set by the MSI core).  The irqd state
    flags live in the descriptor and are shared by every level (:attr:`state`).
    """

    __slots__ = ("chip", "chip_data", "desc", "domain", "hwirq", "irq", "msi_desc",
                 "parent_data")

    def __init__(self, irq: int, desc: IrqDesc, domain: IrqDomain | None = None) -> None:
        self.irq = irq
        self.hwirq = 0
        self.chip: IrqChip = _NO_IRQ_CHIP or _no_irq_chip()
        self.chip_data: Any = None
        self.domain = domain
        self.parent_data: IrqData | None = None
        self.desc = desc
        self.msi_desc: Any = None

    @property
    def common(self) -> IrqDesc:
        """Linux's ``irq_data->common`` (the descriptor here)."""
        return self.desc

    @property
    def state(self) -> int:
        """The shared irqd_* flags."""
        return self.desc.state

    @property
    def effective_affinity(self) -> tuple[int, ...]:
        """CPUs the interrupt is really routed to (shared by every level, like Linux's
        ``irq_common_data.effective_affinity``; set by the chip that routes)."""
        return self.desc.effective_affinity

    @effective_affinity.setter
    def effective_affinity(self, cpus: tuple[int, ...]) -> None:
        self.desc.effective_affinity = tuple(cpus)

    def __repr__(self) -> str:
        dom = self.domain.name if self.domain is not None else "-"
        return f"<IrqData irq={self.irq} hwirq={self.hwirq} domain={dom} chip={self.chip.name}>"


# chip.py imports this module: its no_irq_chip and handle_bad_irq are bound on first use
_NO_IRQ_CHIP: Any = None
_HANDLE_BAD_IRQ: Any = None


def _bind_chip_defaults() -> None:
    global _NO_IRQ_CHIP, _HANDLE_BAD_IRQ
    from irqlab.kernel.irq.chip import handle_bad_irq, no_irq_chip

    _NO_IRQ_CHIP, _HANDLE_BAD_IRQ = no_irq_chip, handle_bad_irq


def _no_irq_chip() -> IrqChip:
    _bind_chip_defaults()
    return _NO_IRQ_CHIP  # type: ignore[no-any-return]


def _handle_bad_irq() -> FlowHandler:
    _bind_chip_defaults()
    return _HANDLE_BAD_IRQ  # type: ignore[no-any-return]


class IrqDesc:
    """``struct irq_desc``: one Linux IRQ's descriptor.

    ``handle_irq`` is the flow handler (``async fn(desc)``), ``action`` the
    list of :class:`~irqlab.kernel.irq.manage.IrqAction` (shared IRQs have
    several), ``lock`` the raw spinlock ``desc->lock``, ``request_mutex`` the
    mutex serialising request/free, ``depth`` the disable depth,
    ``kstat_irqs[cpu]`` the per-CPU handled counts, ``affinity`` the requested
    CPU mask (a sorted tuple), ``state`` the irqd flags, ``istate`` the core's
    internal flags, ``status`` the irq_settings flags.
    """

    __slots__ = ("__weakref__", "action", "affinity", "core", "depth", "effective_affinity",
                 "handle_irq", "handler_data", "irq", "irq_data", "istate", "kstat_irqs", "lock",
                 "name", "percpu_dev_id", "percpu_enabled", "request_mutex", "state", "status",
                 "tot_count", "wake_depth")

    lock: sim.SpinLock
    request_mutex: sim.Mutex

    def __init__(self, core: IrqCore, irq: int) -> None:
        self.core = core
        self.irq = irq
        self.irq_data = IrqData(irq, self)
        self.handle_irq: FlowHandler = _HANDLE_BAD_IRQ or _handle_bad_irq()
        self.action: list[IrqAction] = []
        # ``lock`` and ``request_mutex`` are built on first use (__getattr__): many
        # descriptors never take their request_mutex
        self.depth = 1
        self.wake_depth = 0
        self.kstat_irqs = [0] * core.nr_cpu_ids
        self.tot_count = 0
        self.handler_data: Any = None
        self.name = ""
        self.affinity: tuple[int, ...] = core.all_cpus
        self.effective_affinity: tuple[int, ...] = ()
        self.state = IRQD_IRQ_DISABLED | IRQD_IRQ_MASKED
        self.istate = 0
        self.status = 0
        self.percpu_enabled: set[int] = set()
        self.percpu_dev_id: Any = None

    def __getattr__(self, name: str) -> Any:
        # only reached while a slot is still unset: build the locks on first use
        if name == "lock":
            lk = self.lock = sim.SpinLock(f"irq_desc{self.irq}.lock", raw=True,
                                          key="irq_desc.lock")
            return lk
        if name == "request_mutex":
            mx = self.request_mutex = sim.Mutex(f"irq_desc{self.irq}.request_mutex",
                                                key="irq_desc.request_mutex")
            return mx
        raise AttributeError(f"'IrqDesc' object has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"<IrqDesc {self.irq} {self.irq_data.chip.name} hwirq={self.irq_data.hwirq}>"


class IrqCore:
    """The generic irq layer's global state for one kernel: descriptors and domains.

    ``engine`` is the :class:`~irqlab.sim.Engine` the kernel runs on (one core
    per engine); ``nr_cpu_ids`` the number of possible CPUs (default: the
    engine's); ``options`` the kernel's variant knobs (``irq_desc_free``:
    ``"immediate"`` (default) or ``"rcu"``).  Not thread-safe across engines:
    build one per engine.
    """

    def __init__(self, engine: sim.Engine, *, nr_cpu_ids: int | None = None,
                 options: dict[str, Any] | None = None) -> None:
        if not isinstance(engine, sim.Engine):
            raise InvalidArgumentType(f"engine must be an irqlab.sim.Engine, not {engine!r}")
        n = len(engine.cpus) if nr_cpu_ids is None else check_int(
            "nr_cpu_ids", nr_cpu_ids, 1, len(engine.cpus))
        if options is None:
            options = {}
        elif not isinstance(options, dict):
            raise InvalidArgumentType(f"options must be a dict or None, not {options!r}")
        free = options.get("irq_desc_free", "immediate")
        if free not in ("immediate", "rcu"):
            raise InvalidArgumentValue(
                f"options['irq_desc_free'] must be 'immediate' or 'rcu', not {free!r}")
        self.engine = engine
        self.events = engine.events
        self.nr_cpu_ids = n
        #: every possible CPU (the default affinity of a new descriptor)
        self.all_cpus: tuple[int, ...] = tuple(range(n))
        self.options = options
        self.desc_free_rcu = free == "rcu"
        #: The sparse table: Linux IRQ number -> descriptor.
        self.descs: dict[int, IrqDesc] = {}
        # free ranges of IRQ numbers [(start, end)), sorted by start; IRQ 0 is never used
        self._free: list[tuple[int, int]] = [(1, MAX_SPARSE_IRQS)]
        # what Linux serialises with sparse_irq_lock: taking and giving back numbers is
        # plain code here (no scheduling point), declared to the explorer as a write of
        # this object, so that two allocations on different CPUs are ordered (the numbers
        # each gets depend on the order)
        self._numbers = sim.Shared("sparse_irq_lock")
        #: Every domain created, in creation order (``irq_domain_list``).
        self.domains: list[IrqDomain] = []
        #: ``irq_domain_mutex`` (hierarchy alloc/free).
        self.domain_mutex = sim.Mutex("irq_domain_mutex", key="irq_domain_mutex")
        #: The root domain of the interrupt controller (set by the GIC driver).
        self.default_domain: IrqDomain | None = None
        # the engine owns its core (a cycle the collector frees with the run's world); a
        # table keyed by engine would keep every engine alive through the core's reference
        engine._irq_core = self  # type: ignore[attr-defined]

    # -- numbers ------------------------------------------------------------------------
    def _take_range(self, cnt: int) -> int:
        sim.note_access(self._numbers)
        for i, (s, e) in enumerate(self._free):
            if e - s >= cnt:
                if e - s == cnt:
                    del self._free[i]
                else:
                    self._free[i] = (s + cnt, e)
                return s
        return -1

    def _give_range(self, start: int, cnt: int) -> None:
        sim.note_access(self._numbers)
        fr = self._free
        i = bisect.bisect_left(fr, (start, start))
        s, e = start, start + cnt
        if i < len(fr) and fr[i][0] == e:
            e = fr[i][1]
            del fr[i]
        if i > 0 and fr[i - 1][1] == s:
            s = fr[i - 1][0]
            del fr[i - 1]
            i -= 1
        fr.insert(i, (s, e))

    @property
    def free_ranges(self) -> list[tuple[int, int]]:
        """The unallocated IRQ number ranges ``[(start, end)]`` (for allocator invariants)."""
        return list(self._free)

    # -- descriptors -----------------------------------------------------------------------
    def alloc_descs(self, cnt: int, *, affinity: Any = None, name: str = "") -> int:
        """``irq_alloc_descs(-1, 1, cnt, node)``: ``cnt`` contiguous descriptors; base or -ENOMEM.

        ``affinity``: ``None`` (all CPUs), one CPU mask (an iterable of CPU
        numbers) for every descriptor, or a list of ``cnt`` masks (Linux's
        ``irq_affinity_desc`` array).  Plain call (GFP_KERNEL in Linux; callers
        hold the domain mutex).  Each descriptor is engine-tracked (needs a run).
        """
        if type(cnt) is not int or not 1 <= cnt <= MAX_SPARSE_IRQS:
            check_int("cnt", cnt, 1, MAX_SPARSE_IRQS)
        masks: list[tuple[int, ...] | None] | None = None
        if affinity is not None:
            seq = list(affinity) if not isinstance(affinity, int) else [affinity]
            if seq and all(not isinstance(x, int) for x in seq):
                if len(seq) != cnt:
                    raise InvalidArgumentValue(
                        f"affinity must hold {cnt} masks, not {len(seq)}")
                masks = [self.cpumask("affinity", m) for m in seq]
            else:
                masks = [self.cpumask("affinity", seq)] * cnt
        base = self._take_range(cnt)
        if base < 0:
            return -ENOMEM
        ev = self.events
        descs = self.descs
        for i, irq in enumerate(range(base, base + cnt)):
            desc = IrqDesc(self, irq)
            if masks is not None:
                m = masks[i]
                if m is not None:
                    desc.affinity = m
            desc.name = name
            sim.alloc(desc)
            descs[irq] = desc
        if ev.enabled and ev.should_emit("irq_desc_alloc"):
            ev.emit("irq_desc_alloc", cpu=_cpu(), irq=base, nr=cnt)
        return base

    def free_descs(self, base: int, cnt: int) -> None:
        """``irq_free_descs``: remove from the table, then ``kfree`` (or ``kfree_rcu``)."""
        ev = self.events
        for irq in range(base, base + cnt):
            desc = self.descs.pop(irq, None)
            if desc is None:
                continue
            if self.desc_free_rcu:
                sim.kfree_rcu(desc)
            else:
                sim.kfree(desc)
            self._give_range(irq, 1)
        if ev.enabled and ev.should_emit("irq_desc_free"):
            ev.emit("irq_desc_free", cpu=_cpu(), irq=base, nr=cnt,
                    rcu=self.desc_free_rcu)

    def irq_to_desc(self, irq: int) -> IrqDesc | None:
        """The descriptor of Linux IRQ ``irq`` or ``None`` (plain lookup, no access event)."""
        return self.descs.get(irq)

    def cpumask(self, name: str, cpus: Iterable[int] | int) -> tuple[int, ...]:
        """Validate a CPU mask (an iterable of CPU numbers, or one number); sorted tuple.

        Raises :class:`InvalidArgumentValue` for a CPU that does not exist.
        """
        seq: Any = (cpus,) if isinstance(cpus, int) and not isinstance(cpus, bool) else cpus
        try:
            lst = list(seq)
        except TypeError:
            raise InvalidArgumentType(f"{name} must be an iterable of CPU numbers, "
                                      f"not {cpus!r}") from None
        for c in lst:
            if type(c) is not int or not 0 <= c < self.nr_cpu_ids:
                raise InvalidArgumentValue(
                    f"{name} must hold CPU numbers in [0, {self.nr_cpu_ids}), not {cpus!r}")
        return tuple(sorted(set(lst)))


def _cpu() -> int | None:
    try:
        return sim.current().cpu
    except SimError:
        return None


def irq_core() -> IrqCore:
    """The :class:`IrqCore` of the engine that is running (model code only)."""
    eng = sim.current().cctx.engine
    core: IrqCore | None = getattr(eng, "_irq_core", None)
    if core is None:
        raise SimError("no IrqCore was created for the running engine")
    return core


def irq_to_desc(irq: int) -> IrqDesc | None:
    """``irq_to_desc``: the running kernel's descriptor of ``irq`` or ``None``."""
    return irq_core().descs.get(irq)


def irq_get_irq_data(irq: int) -> IrqData | None:
    """``irq_get_irq_data``: the top-level :class:`IrqData` of ``irq`` or ``None``."""
    desc = irq_core().descs.get(irq)
    return None if desc is None else desc.irq_data


def irq_data_get_irq_chip(data: IrqData) -> IrqChip:
    """``irq_data_get_irq_chip``."""
    return data.chip


def irq_set_handler_data(irq: int, data: Any) -> int:
    """``irq_set_handler_data``: 0 or -EINVAL for an unknown IRQ."""
    from irqlab.kernel.errno import EINVAL

    desc = irq_core().descs.get(irq)
    if desc is None:
        return -EINVAL
    desc.handler_data = data
    return 0


def irq_get_handler_data(irq: int) -> Any:
    """``irq_get_handler_data``."""
    desc = irq_core().descs.get(irq)
    return None if desc is None else desc.handler_data


def irqd_is_activated(d: IrqData) -> bool:
    return bool(d.desc.state & IRQD_ACTIVATED)


def irqd_is_started(d: IrqData) -> bool:
    return bool(d.desc.state & IRQD_IRQ_STARTED)


def irqd_irq_disabled(d: IrqData) -> bool:
    return bool(d.desc.state & IRQD_IRQ_DISABLED)


def irqd_irq_masked(d: IrqData) -> bool:
    return bool(d.desc.state & IRQD_IRQ_MASKED)


def irqd_irq_inprogress(d: IrqData) -> bool:
    return bool(d.desc.state & IRQD_IRQ_INPROGRESS)
