"""LPI tables of the ITS driver: LPI ranges, property/pending tables, the memreserve callback.

The part of ``drivers/irqchip/irq-gic-v3-its.c`` that deals with LPIs
rather than with the ITS itself:

* :class:`LpiRanges` -- ``alloc_lpi_range``/``free_lpi_range``: a sorted
  list of free ``[base, span)`` ranges, first fit, merged on free, seeded
  with ``[8192, 8192 + nr_lpis)``; :meth:`LpiRanges.its_lpi_alloc` halves
  the request until a range fits.
* :func:`allocate_lpi_tables` (boot CPU, in ``its_init``): detects
  pre-programmed redistributor tables (``RDIST_FLAGS_RD_TABLES_PREALLOCATED``:
  the boot CPU's ``GICR_CTLR.EnableLPIs`` is set and its property table lies
  in a reserved range), sets up the property table (adopted or allocated and
  reserved) and allocates a pending table for *every possible* CPU.
* :func:`its_cpu_init_lpis` (each CPU, STARTING: interrupts off, no
  sleeping): adopt a pre-programmed pending table
  (``RD_LOCAL_PENDTABLE_PREALLOCATED``) or program the allocated one.
* :func:`its_cpu_memreserve_lpi` (each CPU, an ONLINE hotplug callback,
  sleepable): free the spare table or reserve the one in use, in three
  designs selected by ``options["its_memreserve"]`` (seed 000):

  ``"merged"`` (5.17, the default): a per-CPU ``RD_LOCAL_MEMRESERVE_DONE``
  flag set on every exit path makes the body run once per CPU; the callback
  is installed by ``its_lpi_memreserve_init`` after the boot CPU's
  ``its_cpu_init``, and removed by a work item once every possible CPU has
  booted.

  ``"v1"`` (the posted two-flag patch): ``PREALLOCATED`` and ``RESERVED``
  per CPU, set together for an adopted table; the callback is installed
  inside ``its_init``, so ``cpuhp_setup_state`` runs it on the boot CPU
  before that CPU's flags exist: in a kexec'd kernel the boot CPU reserves
  its spare page instead of freeing it (a leak, again every generation).

  ``"one-flag"`` (the simplification from review): "if pend_page is
  non-NULL and the flag is set, free and leave; otherwise reserve and set
  the flag" -- no once-per-CPU guard: a re-onlined CPU frees the table its
  redistributor uses (cold boot) or reserves address 0 (kexec'd boot).

  ``"starting"`` (before 5.17, the bug the thread fixes): no ONLINE callback;
  :func:`its_cpu_memreserve_starting` frees or reserves right in the
  STARTING path, with interrupts off -- the reservation may sleep (it
  allocates on PREEMPT_RT): the checker's ``sleep-in-atomic``.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

from irqlab import sim
from irqlab.arch import gicv3 as a
from irqlab.errors import InvalidArgumentValue
from irqlab.kernel.cpuhp import CPUHP_AP_ONLINE_DYN
from irqlab.kernel.errno import EBUSY, ENOMEM
from irqlab.kernel.mm import GFP_ATOMIC, GFP_ZERO

if TYPE_CHECKING:
    from irqlab.kernel.drivers.irq_gic_v3_its import ItsNode

__all__ = [
    "ITS_MEMRESERVE_VARIANTS",
    "LPI_PENDBASE_SZ",
    "LPI_PROPBASE_SZ",
    "LpiRanges",
    "RdistCpu",
    "allocate_lpi_tables",
    "its_cpu_init_lpis",
    "its_cpu_memreserve_lpi",
    "its_lpi_memreserve_init",
]

LPI_BASE = a.LPI_INTID_BASE
ITS_MAX_LPI_NRBITS = 16
#: ``LPI_PROPBASE_SZ`` / ``LPI_PENDBASE_SZ``: both 64 KiB with 16 LPI ID bits.
LPI_PROPBASE_SZ = 0x1_0000
LPI_PENDBASE_SZ = 0x1_0000
_TABLE_ORDER = 4                 # 64 KiB in 4 KiB pages
LPI_PROP_DEFAULT_PRIO = 0xA0
LPI_PROP_GROUP1 = 1 << 1
LPI_PROP_ENABLED = 1 << 0

# gic_rdists->flags (global)
RDIST_FLAGS_RD_TABLES_PREALLOCATED = 1 << 1
# gic_data_rdist()->flags (per CPU)
RD_LOCAL_LPI_ENABLED = 1 << 0
RD_LOCAL_PENDTABLE_PREALLOCATED = 1 << 1
RD_LOCAL_MEMRESERVE_DONE = 1 << 2
#: v1 only: the second per-CPU flag.
RD_LOCAL_PENDTABLE_RESERVED = 1 << 3

ITS_MEMRESERVE_VARIANTS = ("merged", "v1", "one-flag", "starting")

_CTLR_ENABLE_LPIS = a.GICR_CTLR.EnableLPIs.in_place
_PROP_PA_MASK = ((1 << 52) - 1) & ~0xFFF
_PEND_PA_MASK = ((1 << 52) - 1) & ~0xFFFF
# Inner Shareable, Normal Inner Write-Back RaWaWb
_BASER_ATTRS = (1 << 10) | (0b111 << 7)


def memreserve_variant(options: dict[str, Any]) -> str:
    """``options["its_memreserve"]`` (default ``"merged"``), validated."""
    v = options.get("its_memreserve", "merged")
    if v not in ITS_MEMRESERVE_VARIANTS:
        raise InvalidArgumentValue(f"options['its_memreserve'] must be one of "
                                   f"{', '.join(ITS_MEMRESERVE_VARIANTS)}, not {v!r}")
    return str(v)


class LpiRanges:
    """The free LPI ranges (``lpi_range_list``): sorted ``[base, span]`` lists, first fit.

    Allocation walks the ranges (O(ranges), as Linux); free inserts by
    bisection and merges with both neighbours.
    """

    def __init__(self, base: int, nr_lpis: int) -> None:
        self.ranges: list[list[int]] = []
        self.initial = [(base, nr_lpis)]
        self.free_lpi_range(base, nr_lpis)

    def alloc_lpi_range(self, nr: int) -> int:
        """``alloc_lpi_range``: the base of ``nr`` free LPIs (first fit), or -ENOSPC."""
        for i, r in enumerate(self.ranges):
            if r[1] >= nr:
                base = r[0]
                r[0] += nr
                r[1] -= nr
                if not r[1]:
                    del self.ranges[i]
                return base
        return -28

    def free_lpi_range(self, base: int, nr: int) -> None:
        """``free_lpi_range``: give ``[base, base + nr)`` back, merging neighbours."""
        rs = self.ranges
        i = bisect.bisect_left(rs, [base, 0])
        if i < len(rs) and rs[i][0] == base + nr:
            rs[i][0] = base
            rs[i][1] += nr
            if i > 0 and rs[i - 1][0] + rs[i - 1][1] == base:
                rs[i - 1][1] += rs[i][1]
                del rs[i]
        elif i > 0 and rs[i - 1][0] + rs[i - 1][1] == base:
            rs[i - 1][1] += nr
        else:
            rs.insert(i, [base, nr])

    def its_lpi_alloc(self, nr_irqs: int) -> tuple[int, int]:
        """``its_lpi_alloc``: ``(base, nr)`` halving ``nr`` until a range fits; ``(0, 0)``: none."""
        nr = nr_irqs
        while nr > 0:
            base = self.alloc_lpi_range(nr)
            if base >= 0:
                return base, nr
            nr //= 2
        return 0, 0

    def state(self) -> list[tuple[int, int]]:
        """The free ranges as tuples (for invariants: compare with :attr:`initial`)."""
        return [(b, s) for b, s in self.ranges]


class RdistCpu:
    """``gic_data_rdist()`` of one CPU: its RD_base, the pending page, the local flags."""

    __slots__ = ("cpu", "flags", "pend_page", "rd_base")

    def __init__(self, cpu: int, rd_base: int) -> None:
        self.cpu = cpu
        self.rd_base = rd_base
        self.pend_page = 0
        self.flags = 0


def _emit(its: ItsNode, kind: str, **kw: Any) -> None:
    ev = its.events
    if ev.enabled and ev.should_emit(kind):
        ev.emit(kind, cpu=sim.smp_processor_id(), **kw)


async def _reserve(its: ItsNode, addr: int, size: int, label: str) -> int:
    """``gic_reserve_range``: a persistent (kexec-surviving) reservation. Sleeps."""
    k = its.kernel
    return await k.memreserve.reserve(addr, size, events=k.events, generation=k.generation,
                                      label=label)


def its_free_pending_table(its: ItsNode, addr: int) -> None:
    """``its_free_pending_table``."""
    its.kernel.mm.free_pages(addr, _TABLE_ORDER, label="its_free_pending_table")


async def allocate_lpi_tables(its: ItsNode) -> int:
    """``allocate_lpi_tables``: property table, and a pending table per possible CPU.

    Boot CPU, task context (``its_init``).  0 or -ENOMEM.
    """
    k = its.kernel
    hw = k.machine.cpus[sim.smp_processor_id()]
    rd0 = its.rdists[sim.smp_processor_id()].rd_base
    ctlr = hw.read(rd0 + a.GICR_CTLR_OFF)
    if ctlr & _CTLR_ENABLE_LPIS:
        prop = hw.read(rd0 + a.GICR_PROPBASER_OFF, 8) & _PROP_PA_MASK
        # enabled_lpis_allowed(): only if the previous kernel reserved the property table
        if k.mm.reserved(prop, LPI_PROPBASE_SZ):
            its.rdist_flags |= RDIST_FLAGS_RD_TABLES_PREALLOCATED
            _emit(its, "itsdrv_rd_tables_preallocated", prop=prop)
    ret = await its_setup_lpi_prop_table(its)
    if ret:
        return ret
    # We allocate all the pending tables anyway, as we may have a mix of RDs that have had
    # LPIs enabled and some that have not; the unused ones are freed as each CPU comes online.
    for cpu in k.possible_cpus:
        page = await k.mm.alloc_pages(_TABLE_ORDER, GFP_ATOMIC | GFP_ZERO,
                                      label=f"its_pending_table/{cpu}")
        if not page:
            return -ENOMEM
        its.rdists[cpu].pend_page = page
    return 0


async def its_setup_lpi_prop_table(its: ItsNode) -> int:
    """``its_setup_lpi_prop_table``: adopt the pre-programmed table, or allocate and reserve."""
    k = its.kernel
    hw = k.machine.cpus[sim.smp_processor_id()]
    if its.rdist_flags & RDIST_FLAGS_RD_TABLES_PREALLOCATED:
        rd0 = its.rdists[sim.smp_processor_id()].rd_base
        val = hw.read(rd0 + a.GICR_PROPBASER_OFF, 8)
        its.lpi_id_bits = (val & 0x1F) + 1
        its.prop_table_pa = val & _PROP_PA_MASK
        return 0
    typer = hw.read(k.machine.config.gicd[0] + a.GICD_TYPER_OFF)
    its.lpi_id_bits = min(((typer >> 19) & 0x1F) + 1, ITS_MAX_LPI_NRBITS)
    page = await k.mm.alloc_pages(_TABLE_ORDER, GFP_ATOMIC, label="its_prop_table")
    if not page:
        return -ENOMEM
    k.machine.ram_write(page, bytes([LPI_PROP_DEFAULT_PRIO | LPI_PROP_GROUP1]) * LPI_PROPBASE_SZ)
    its.prop_table_pa = page
    await _reserve(its, page, LPI_PROPBASE_SZ, "its_prop_table")
    return 0


def redist_disable_lpis(its: ItsNode, cpu: int) -> int:
    """``redist_disable_lpis``: turn off LPIs a previous kernel left on; -EBUSY if stuck."""
    hw = its.kernel.machine.cpus[cpu]
    rd = its.rdists[cpu]
    val = hw.read(rd.rd_base + a.GICR_CTLR_OFF)
    if not val & _CTLR_ENABLE_LPIS:
        return 0
    if rd.flags & RD_LOCAL_LPI_ENABLED:
        return 0          # coming back through CPU hotplug
    if its.rdist_flags & RDIST_FLAGS_RD_TABLES_PREALLOCATED:
        return 0
    _emit(its, "itsdrv_booted_with_lpis", target=cpu)   # "memory probably corrupted"
    hw.write(rd.rd_base + a.GICR_CTLR_OFF, val & ~_CTLR_ENABLE_LPIS)
    if hw.read(rd.rd_base + a.GICR_CTLR_OFF) & _CTLR_ENABLE_LPIS:
        _emit(its, "itsdrv_disable_lpis_failed", target=cpu)
        return -EBUSY
    return 0


def its_cpu_init_lpis(its: ItsNode, cpu: int) -> None:
    """``its_cpu_init_lpis`` on ``cpu`` (STARTING: interrupts off, must not sleep)."""
    k = its.kernel
    hw = k.machine.cpus[cpu]
    rd = its.rdists[cpu]
    if rd.flags & RD_LOCAL_LPI_ENABLED:
        return
    rb = rd.rd_base
    val = hw.read(rb + a.GICR_CTLR_OFF)
    if its.rdist_flags & RDIST_FLAGS_RD_TABLES_PREALLOCATED and val & _CTLR_ENABLE_LPIS:
        prop = hw.read(rb + a.GICR_PROPBASER_OFF, 8) & _PROP_PA_MASK
        if prop != its.prop_table_pa:
            _emit(its, "itsdrv_prop_table_mismatch", target=cpu, prop=prop)
        paddr = hw.read(rb + a.GICR_PENDBASER_OFF, 8) & _PEND_PA_MASK
        if not k.mm.reserved(paddr, LPI_PENDBASE_SZ):
            _emit(its, "itsdrv_pend_table_not_reserved", target=cpu, addr=paddr)
        if its.memreserve == "v1":
            rd.flags |= RD_LOCAL_PENDTABLE_PREALLOCATED | RD_LOCAL_PENDTABLE_RESERVED
        else:
            rd.flags |= RD_LOCAL_PENDTABLE_PREALLOCATED
        state = "reserved"
    else:
        paddr = rd.pend_page
        hw.write(rb + a.GICR_PROPBASER_OFF,
                 its.prop_table_pa | _BASER_ATTRS | (its.lpi_id_bits - 1), 8)
        hw.write(rb + a.GICR_PENDBASER_OFF, paddr | _BASER_ATTRS, 8)
        hw.write(rb + a.GICR_CTLR_OFF, hw.read(rb + a.GICR_CTLR_OFF) | _CTLR_ENABLE_LPIS)
        state = "allocated"
    rd.flags |= RD_LOCAL_LPI_ENABLED
    _emit(its, "itsdrv_pending_table", target=cpu, addr=paddr, state=state)


async def its_cpu_memreserve_starting(its: ItsNode, cpu: int) -> None:
    """Pre-5.17 ``its_cpu_init_lpis`` tail: free the spare or reserve, in STARTING (irqs off)."""
    rd = its.rdists[cpu]
    if rd.flags & RD_LOCAL_MEMRESERVE_DONE:
        return
    rd.flags |= RD_LOCAL_MEMRESERVE_DONE
    if rd.flags & RD_LOCAL_PENDTABLE_PREALLOCATED:
        if rd.pend_page:
            its_free_pending_table(its, rd.pend_page)
            rd.pend_page = 0
    else:
        await _reserve(its, rd.pend_page, LPI_PENDBASE_SZ, "its_pending_table")


# -- the ONLINE memreserve callback, three designs ---------------------------------------

async def its_cpu_memreserve_lpi(its: ItsNode, cpu: int) -> int:
    """The CPUHP_AP_ONLINE_DYN callback on ``cpu`` (sleepable): free the spare or reserve."""
    variant = its.memreserve
    if variant == "merged":
        return await _memreserve_merged(its, cpu)
    if variant == "v1":
        return await _memreserve_v1(its, cpu)
    return await _memreserve_one_flag(its, cpu)


async def _memreserve_merged(its: ItsNode, cpu: int) -> int:
    rd = its.rdists[cpu]
    ret = 0
    # This gets to run exactly once per CPU
    if rd.flags & RD_LOCAL_MEMRESERVE_DONE:
        return 0
    pend = rd.pend_page
    if not pend:
        _emit(its, "itsdrv_memreserve_warn", target=cpu, reason="no pending page")
        ret = -ENOMEM
    elif rd.flags & RD_LOCAL_PENDTABLE_PREALLOCATED:
        # pre-programmed: free the memory we preemptively allocated
        its_free_pending_table(its, pend)
        rd.pend_page = 0
    else:
        await _reserve(its, pend, LPI_PENDBASE_SZ, "its_pending_table")
    # Last CPU being brought up gets to issue the cleanup
    _maybe_schedule_cleanup(its, cpu)
    rd.flags |= RD_LOCAL_MEMRESERVE_DONE
    return ret


async def _memreserve_v1(its: ItsNode, cpu: int) -> int:
    rd = its.rdists[cpu]
    pend = rd.pend_page
    if pend and rd.flags & RD_LOCAL_PENDTABLE_PREALLOCATED:
        its_free_pending_table(its, pend)
        rd.pend_page = 0
    if not rd.flags & RD_LOCAL_PENDTABLE_RESERVED:
        await _reserve(its, rd.pend_page, LPI_PENDBASE_SZ, "its_pending_table")
        rd.flags |= RD_LOCAL_PENDTABLE_RESERVED
    _maybe_schedule_cleanup(its, cpu)
    return 0


async def _memreserve_one_flag(its: ItsNode, cpu: int) -> int:
    rd = its.rdists[cpu]
    pend = rd.pend_page
    if pend and rd.flags & RD_LOCAL_PENDTABLE_PREALLOCATED:
        its_free_pending_table(its, pend)
        rd.pend_page = 0
        _maybe_schedule_cleanup(its, cpu)
        return 0
    await _reserve(its, pend, LPI_PENDBASE_SZ, "its_pending_table")
    rd.flags |= RD_LOCAL_PENDTABLE_PREALLOCATED
    _maybe_schedule_cleanup(its, cpu)
    return 0


def _maybe_schedule_cleanup(its: ItsNode, cpu: int) -> None:
    k = its.kernel
    if len(k.cpuhp.cpus_booted_once) == k.nr_cpu_ids and its.memreserve_state != -1:
        sim.queue_work(cpu, its.memreserve_cleanup)


async def _cleanup_workfn(its: ItsNode) -> None:
    """``rdist_memreserve_cpuhp_cleanup_workfn``: remove the callback (not from inside it)."""
    if its.memreserve_state > 0:
        its.kernel.cpuhp.remove_state_nocalls(its.memreserve_state)
        its.memreserve_state = -1
        _emit(its, "itsdrv_memreserve_removed")


async def setup_memreserve_state(its: ItsNode) -> int:
    """``cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, ...)``: runs the callback on online CPUs now."""
    its.memreserve_cleanup = sim.Work(_cleanup_workfn, its, name="rdist_memreserve_cleanup")

    async def cb(cpu: int) -> int:
        return await its_cpu_memreserve_lpi(its, cpu)

    state = await its.kernel.cpuhp.setup_state(
        CPUHP_AP_ONLINE_DYN, "irqchip/arm/gicv3/memreserve:online", cb, None)
    if state >= 0:
        its.memreserve_state = state
    return int(state)


async def its_lpi_memreserve_init(kernel: Any) -> int:
    """``its_lpi_memreserve_init``: install the callback (after the boot CPU's ``its_cpu_init``).

    The v1 design installed it earlier, inside ``its_init``; the pre-5.17 code
    had none (nothing to do here then).
    """
    its = kernel.its
    if its is None or its.memreserve in ("v1", "starting"):
        return 0
    return await setup_memreserve_state(its)
