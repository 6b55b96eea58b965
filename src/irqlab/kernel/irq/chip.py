"""Interrupt chips and flow handlers (``kernel/irq/chip.c``, ``irqdesc.c``, ``handle.c``).

An :class:`IrqChip` is the controller-specific half of an IRQ: its async
methods drive the hardware (MMIO, system registers) and run in whatever
context the core calls them from -- often with ``desc.lock`` (a raw spinlock)
held and interrupts off, so they must not sleep.  The defaults follow Linux:
``irq_startup`` = ``irq_enable`` = ``irq_unmask``, ``irq_shutdown`` =
``irq_disable`` = ``irq_mask``; a chip that lacks an operation inherits a
no-op.

Flow handlers (``async fn(desc)``) run in hard-irq context on the CPU that
took the interrupt: :func:`handle_fasteoi_irq`, :func:`handle_edge_irq`,
:func:`handle_level_irq`, :func:`handle_simple_irq`,
:func:`handle_percpu_devid_irq`; chained handlers use
:func:`chained_irq_enter` / :func:`chained_irq_exit`.  Each flow handler
starts with ``await sim.access(desc, "r", <its name>)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from irqlab import sim
from irqlab.kernel.errno import EINVAL, ENOSYS
from irqlab.kernel.irq.desc import (
    IRQ_NOAUTOEN,
    IRQ_NOPROBE,
    IRQ_NOREQUEST,
    IRQ_NOTHREAD,
    IRQD_IRQ_DISABLED,
    IRQD_IRQ_INPROGRESS,
    IRQD_IRQ_MASKED,
    IRQD_IRQ_STARTED,
    IRQS_ONESHOT,
    IRQS_PENDING,
    IrqData,
    IrqDesc,
    irq_core,
)

if TYPE_CHECKING:
    from irqlab.kernel.irq.domain import IrqDomain

__all__ = [
    "IRQCHIP_EOI_IF_HANDLED",
    "IRQCHIP_SKIP_SET_WAKE",
    "IRQ_HANDLED",
    "IRQ_NONE",
    "IRQ_SET_MASK_OK",
    "IRQ_SET_MASK_OK_DONE",
    "IRQ_SET_MASK_OK_NOCOPY",
    "IrqChip",
    "MsiMsg",
    "chained_irq_enter",
    "chained_irq_exit",
    "generic_handle_domain_irq",
    "generic_handle_irq",
    "generic_handle_irq_desc",
    "handle_bad_irq",
    "handle_edge_irq",
    "handle_fasteoi_irq",
    "handle_irq_event",
    "handle_level_irq",
    "handle_percpu_devid_irq",
    "handle_simple_irq",
    "handle_untracked_irq",
    "irq_chip_ack_parent",
    "irq_chip_eoi_parent",
    "irq_chip_mask_parent",
    "irq_chip_retrigger_hierarchy",
    "irq_chip_set_affinity_parent",
    "irq_chip_unmask_parent",
    "irq_set_chained_handler_and_data",
    "irq_set_chip_and_handler",
    "irq_set_handler",
    "mask_irq",
    "no_irq_chip",
    "unmask_irq",
]

IRQ_NONE = 0
IRQ_HANDLED = 1
IRQ_WAKE_THREAD = 2

IRQ_SET_MASK_OK = 0
IRQ_SET_MASK_OK_NOCOPY = 1
IRQ_SET_MASK_OK_DONE = 2

IRQCHIP_SKIP_SET_WAKE = 1 << 4
IRQCHIP_EOI_IF_HANDLED = 1 << 6


class MsiMsg:
    """``struct msi_msg``: the doorbell address and payload a device writes."""

    __slots__ = ("address_hi", "address_lo", "data")

    def __init__(self, address_lo: int = 0, address_hi: int = 0, data: int = 0) -> None:
        self.address_lo = address_lo
        self.address_hi = address_hi
        self.data = data

    @property
    def address(self) -> int:
        """The 64-bit doorbell address."""
        return (self.address_hi << 32) | self.address_lo

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, MsiMsg) and self.address == other.address
                and self.data == other.data)

    def __hash__(self) -> int:
        return hash((self.address, self.data))

    def __repr__(self) -> str:
        return f"MsiMsg(address={self.address:#x}, data={self.data:#x})"


class IrqChip:
    """``struct irq_chip``: subclass and override the operations the controller has.

    Every method is ``async`` (hardware access may be a scheduling point) and
    may run with ``desc.lock`` held and interrupts off: never sleep in one.
    ``name`` shows in :func:`~irqlab.kernel.irq.proc.show_interrupts`;
    ``flags`` holds ``IRQCHIP_*`` bits.
    """

    name = "none"
    flags = 0

    def __init__(self, name: str | None = None) -> None:
        if name is not None:
            self.name = name

    async def irq_startup(self, data: IrqData) -> int:
        """Default: :meth:`irq_enable`."""
        await self.irq_enable(data)
        return 0

    async def irq_shutdown(self, data: IrqData) -> None:
        """Default: :meth:`irq_disable`."""
        await self.irq_disable(data)

    async def irq_enable(self, data: IrqData) -> None:
        """Default: :meth:`irq_unmask`."""
        await self.irq_unmask(data)

    async def irq_disable(self, data: IrqData) -> None:
        """Default: :meth:`irq_mask`."""
        await self.irq_mask(data)

    async def irq_mask(self, data: IrqData) -> None:
        """Mask the interrupt at the controller (default: nothing to do)."""

    async def irq_unmask(self, data: IrqData) -> None:
        """Unmask the interrupt at the controller (default: nothing to do)."""

    async def irq_ack(self, data: IrqData) -> None:
        """Acknowledge (edge flow, before the handler; default: nothing)."""

    async def irq_eoi(self, data: IrqData) -> None:
        """End of interrupt (fasteoi flow, after the handler; default: nothing)."""

    async def irq_mask_ack(self, data: IrqData) -> None:
        """Mask then ack (default: both)."""
        await self.irq_mask(data)
        await self.irq_ack(data)

    async def irq_set_affinity(self, data: IrqData, cpumask: tuple[int, ...],
                               force: bool) -> int:
        """Route to one of ``cpumask``; ``IRQ_SET_MASK_OK*`` or -errno (default: -EINVAL)."""
        return -EINVAL

    async def irq_retrigger(self, data: IrqData) -> int:
        """Make the interrupt pending again (resend); 1 if done, 0 if not supported."""
        return 0

    async def irq_set_type(self, data: IrqData, flow_type: int) -> int:
        """Configure the trigger (default: accepted)."""
        return 0

    async def irq_compose_msi_msg(self, data: IrqData) -> MsiMsg:
        """The MSI message for this IRQ (MSI parents: ITS, v2m; default: -ENOSYS error)."""
        raise NotImplementedError(f"{self.name}: irq_compose_msi_msg")

    async def irq_write_msi_msg(self, data: IrqData, msg: MsiMsg) -> None:
        """Program ``msg`` into the device (MSI domains; default: nothing)."""

    def has(self, op: str) -> bool:
        """True when the chip implements ``op`` itself (Linux's ``chip->op != NULL``)."""
        return getattr(type(self), op, None) is not getattr(IrqChip, op, None)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class _NoIrqChip(IrqChip):
    name = "none"


#: ``no_irq_chip``: the chip of a descriptor nobody set up.
no_irq_chip = _NoIrqChip()


# -- parent helpers (hierarchical chips) ------------------------------------------------

def _parent(data: IrqData) -> IrqData:
    p = data.parent_data
    if p is None:
        raise sim.SimError(f"irq {data.irq}: chip {data.chip.name} has no parent level")
    return p


async def irq_chip_mask_parent(data: IrqData) -> None:
    """``irq_chip_mask_parent``."""
    p = _parent(data)
    await p.chip.irq_mask(p)


async def irq_chip_unmask_parent(data: IrqData) -> None:
    """``irq_chip_unmask_parent``."""
    p = _parent(data)
    await p.chip.irq_unmask(p)


async def irq_chip_eoi_parent(data: IrqData) -> None:
    """``irq_chip_eoi_parent``."""
    p = _parent(data)
    await p.chip.irq_eoi(p)


async def irq_chip_ack_parent(data: IrqData) -> None:
    """``irq_chip_ack_parent``."""
    p = _parent(data)
    await p.chip.irq_ack(p)


async def irq_chip_set_affinity_parent(data: IrqData, cpumask: tuple[int, ...],
                                       force: bool) -> int:
    """``irq_chip_set_affinity_parent``: -ENOSYS when the parent cannot."""
    p = _parent(data)
    if not p.chip.has("irq_set_affinity"):
        return -ENOSYS
    return await p.chip.irq_set_affinity(p, cpumask, force)


async def irq_chip_retrigger_hierarchy(data: IrqData) -> int:
    """``irq_chip_retrigger_hierarchy``: the first level that can retrigger does."""
    d: IrqData | None = data
    while d is not None:
        if d.chip.has("irq_retrigger"):
            return await d.chip.irq_retrigger(d)
        d = d.parent_data
    return 0


# -- core state helpers (desc->lock held) -----------------------------------------------

async def mask_irq(desc: IrqDesc) -> None:
    """``mask_irq``: mask unless already masked."""
    if desc.state & IRQD_IRQ_MASKED:
        return
    d = desc.irq_data
    await d.chip.irq_mask(d)
    desc.state |= IRQD_IRQ_MASKED


async def unmask_irq(desc: IrqDesc) -> None:
    """``unmask_irq``: unmask if masked."""
    if not desc.state & IRQD_IRQ_MASKED:
        return
    d = desc.irq_data
    await d.chip.irq_unmask(d)
    desc.state &= ~IRQD_IRQ_MASKED


async def _mask_ack_irq(desc: IrqDesc) -> None:
    d = desc.irq_data
    chip = d.chip
    if chip.has("irq_mask_ack"):
        await chip.irq_mask_ack(d)
        desc.state |= IRQD_IRQ_MASKED
    else:
        await mask_irq(desc)
        await chip.irq_ack(d)


def _kstat_incr(desc: IrqDesc, cpu: int) -> None:
    desc.kstat_irqs[cpu] += 1
    desc.tot_count += 1


def _irq_may_run(desc: IrqDesc) -> bool:
    return not desc.state & IRQD_IRQ_INPROGRESS


async def handle_irq_event(desc: IrqDesc) -> int:
    """``handle_irq_event``: mark in progress, drop ``desc.lock``, run the actions, retake it.

    Called with ``desc.lock`` held (hard-irq context); returns the OR of the
    handlers' results.  The action list is read without the lock, as in Linux:
    ``free_irq`` waits in ``synchronize_hardirq`` for this to finish.
    """
    desc.istate &= ~IRQS_PENDING
    desc.state |= IRQD_IRQ_INPROGRESS
    desc.lock.unlock()
    irq = desc.irq
    ret = IRQ_NONE
    ev = desc.core.events
    for action in list(desc.action):
        res = await action.handler(irq, action.dev_id)
        if ev.enabled and ev.should_emit("irq_handler"):
            ev.emit("irq_handler", cpu=sim.smp_processor_id(), irq=irq, name=action.name,
                    ret=int(res or 0))
        ret |= int(res or 0)
    if ret == IRQ_NONE and ev.enabled:
        ev.emit("irq_unhandled", cpu=sim.smp_processor_id(), irq=irq,
                actions=len(desc.action))
    await desc.lock.lock()
    desc.state &= ~IRQD_IRQ_INPROGRESS
    return ret


async def handle_bad_irq(desc: IrqDesc) -> None:
    """``handle_bad_irq``: the flow handler of a descriptor nobody set up (counted, reported)."""
    await sim.access(desc, "r", "handle_bad_irq")
    cpu = sim.smp_processor_id()
    _kstat_incr(desc, cpu)
    ev = desc.core.events
    if ev.enabled and ev.should_emit("irq_bad"):
        ev.emit("irq_bad", cpu=cpu, irq=desc.irq, hwirq=desc.irq_data.hwirq)
    d = desc.irq_data
    await d.chip.irq_ack(d)


async def handle_fasteoi_irq(desc: IrqDesc) -> None:
    """``handle_fasteoi_irq``: run the actions, then EOI once (GIC SPIs/PPIs, LPIs).

    A disabled or action-less IRQ is marked pending and masked, and still
    EOIed; an IRQ already in progress on another CPU is only EOIed.
    """
    await sim.access(desc, "r", "handle_fasteoi_irq")
    d = desc.irq_data
    chip = d.chip
    await desc.lock.lock()
    if not _irq_may_run(desc):
        if not chip.flags & IRQCHIP_EOI_IF_HANDLED:
            await chip.irq_eoi(d)
        desc.lock.unlock()
        return
    if not desc.action or desc.state & IRQD_IRQ_DISABLED:
        desc.istate |= IRQS_PENDING
        await mask_irq(desc)
        if not chip.flags & IRQCHIP_EOI_IF_HANDLED:
            await chip.irq_eoi(d)
        desc.lock.unlock()
        return
    _kstat_incr(desc, sim.smp_processor_id())
    if desc.istate & IRQS_ONESHOT:
        await mask_irq(desc)
    await handle_irq_event(desc)
    await chip.irq_eoi(d)
    desc.lock.unlock()


async def handle_edge_irq(desc: IrqDesc) -> None:
    """``handle_edge_irq``: ack first, then run the actions, again while a new edge came in."""
    await sim.access(desc, "r", "handle_edge_irq")
    d = desc.irq_data
    await desc.lock.lock()
    if not _irq_may_run(desc) or desc.state & IRQD_IRQ_DISABLED or not desc.action:
        desc.istate |= IRQS_PENDING
        await _mask_ack_irq(desc)
        desc.lock.unlock()
        return
    _kstat_incr(desc, sim.smp_processor_id())
    await d.chip.irq_ack(d)
    while True:
        if not desc.action:
            await mask_irq(desc)
            break
        if (desc.istate & IRQS_PENDING and not desc.state & IRQD_IRQ_DISABLED
                and desc.state & IRQD_IRQ_MASKED):
            await unmask_irq(desc)
        await handle_irq_event(desc)
        if not (desc.istate & IRQS_PENDING) or desc.state & IRQD_IRQ_DISABLED:
            break
    desc.lock.unlock()


async def handle_level_irq(desc: IrqDesc) -> None:
    """``handle_level_irq``: mask and ack, run the actions, unmask (unless disabled/oneshot)."""
    await sim.access(desc, "r", "handle_level_irq")
    await desc.lock.lock()
    await _mask_ack_irq(desc)
    if not _irq_may_run(desc):
        desc.lock.unlock()
        return
    if not desc.action or desc.state & IRQD_IRQ_DISABLED:
        desc.istate |= IRQS_PENDING
        desc.lock.unlock()
        return
    _kstat_incr(desc, sim.smp_processor_id())
    await handle_irq_event(desc)
    if not desc.state & IRQD_IRQ_DISABLED and not desc.istate & IRQS_ONESHOT:
        await unmask_irq(desc)
    desc.lock.unlock()


async def handle_simple_irq(desc: IrqDesc) -> None:
    """``handle_simple_irq``: no chip calls at all (demultiplexed child IRQs)."""
    await sim.access(desc, "r", "handle_simple_irq")
    await desc.lock.lock()
    if not _irq_may_run(desc):
        desc.lock.unlock()
        return
    if not desc.action or desc.state & IRQD_IRQ_DISABLED:
        desc.istate |= IRQS_PENDING
        desc.lock.unlock()
        return
    _kstat_incr(desc, sim.smp_processor_id())
    await handle_irq_event(desc)
    desc.lock.unlock()


async def handle_untracked_irq(desc: IrqDesc) -> None:
    """``handle_untracked_irq``: run the actions without counting (VMD children); no chip calls."""
    await sim.access(desc, "r", "handle_untracked_irq")
    await desc.lock.lock()
    if not _irq_may_run(desc):
        desc.lock.unlock()
        return
    if not desc.action or desc.state & IRQD_IRQ_DISABLED:
        desc.istate |= IRQS_PENDING
        desc.lock.unlock()
        return
    await handle_irq_event(desc)
    desc.lock.unlock()


async def handle_percpu_devid_irq(desc: IrqDesc) -> None:
    """``handle_percpu_devid_irq``: per-CPU IRQs (SGIs, PPIs); no lock, ack/handler/EOI.

    The handler gets ``percpu_dev_id[cpu]``; a CPU that did not
    ``enable_percpu_irq`` gets the IRQ counted and reported as spurious.
    """
    await sim.access(desc, "r", "handle_percpu_devid_irq")
    d = desc.irq_data
    chip = d.chip
    cpu = sim.smp_processor_id()
    _kstat_incr(desc, cpu)
    await chip.irq_ack(d)
    action = desc.action[0] if desc.action else None
    if action is not None and cpu in desc.percpu_enabled:
        dev = desc.percpu_dev_id
        dev_id = dev[cpu] if dev is not None else None
        res = await action.handler(desc.irq, dev_id)
        ev = desc.core.events
        if ev.enabled and ev.should_emit("irq_handler"):
            ev.emit("irq_handler", cpu=cpu, irq=desc.irq, name=action.name,
                    ret=int(res or 0))
    else:
        ev = desc.core.events
        if ev.enabled and ev.should_emit("irq_percpu_spurious"):
            ev.emit("irq_percpu_spurious", cpu=cpu, irq=desc.irq, hwirq=d.hwirq)
    await chip.irq_eoi(d)


async def chained_irq_enter(chip: IrqChip, desc: IrqDesc) -> None:
    """``chained_irq_enter``: an EOI-mode parent needs nothing; otherwise mask (and ack)."""
    if chip.has("irq_eoi"):
        return
    d = desc.irq_data
    if chip.has("irq_mask_ack"):
        await chip.irq_mask_ack(d)
    else:
        await chip.irq_mask(d)
        await chip.irq_ack(d)


async def chained_irq_exit(chip: IrqChip, desc: IrqDesc) -> None:
    """``chained_irq_exit``: EOI the parent (or unmask it)."""
    d = desc.irq_data
    if chip.has("irq_eoi"):
        await chip.irq_eoi(d)
    else:
        await chip.irq_unmask(d)


# -- dispatch ---------------------------------------------------------------------------

async def generic_handle_irq_desc(desc: IrqDesc) -> None:
    """``generic_handle_irq_desc``: call the flow handler."""
    await desc.handle_irq(desc)


async def generic_handle_irq(irq: int) -> int:
    """``generic_handle_irq``: look ``irq`` up and run its flow handler; 0 or -EINVAL.

    Hard-irq context.  The lookup and the use are separate steps: a
    descriptor freed in between is a use-after-free the engine reports.
    """
    desc = irq_core().descs.get(irq)
    if desc is None:
        return -EINVAL
    await sim.access(desc, "r", "generic_handle_irq")
    await desc.handle_irq(desc)
    return 0


async def generic_handle_domain_irq(domain: IrqDomain, hwirq: int) -> int:
    """``generic_handle_domain_irq``: resolve ``hwirq`` in ``domain``, run its flow handler."""
    virq = domain.revmap.get(hwirq)
    if virq is None:
        ev = domain.core.events
        if ev.enabled and ev.should_emit("irq_no_mapping"):
            ev.emit("irq_no_mapping", cpu=sim.smp_processor_id(), domain=domain.name,
                    hwirq=hwirq)
        return -EINVAL
    desc = domain.core.descs.get(virq)
    if desc is None:
        return -EINVAL
    await sim.access(desc, "r", "generic_handle_domain_irq")
    await desc.handle_irq(desc)
    return 0


# -- setting handlers ----------------------------------------------------------------------

Flow = Callable[[IrqDesc], Awaitable[Any]]


def _desc(irq: int) -> IrqDesc:
    desc = irq_core().descs.get(irq)
    if desc is None:
        from irqlab.errors import InvalidArgumentValue

        raise InvalidArgumentValue(f"irq must be an allocated IRQ number, not {irq!r}")
    return desc


def irq_set_handler(irq: int, handler: Flow, name: str | None = None) -> None:
    """``__irq_set_handler(irq, handler, 0, name)``: set the flow handler (plain call)."""
    desc = _desc(irq)
    desc.handle_irq = handler
    if name is not None:
        desc.name = name


def irq_set_chip_and_handler(irq: int, chip: IrqChip, handler: Flow,
                             name: str | None = None) -> None:
    """``irq_set_chip_and_handler_name``."""
    desc = _desc(irq)
    desc.irq_data.chip = chip
    irq_set_handler(irq, handler, name)


async def irq_set_chained_handler_and_data(irq: int, handler: Flow | None, data: Any) -> None:
    """``irq_set_chained_handler_and_data``: install a chained flow handler and start the IRQ.

    The IRQ becomes unrequestable (``IRQ_NOREQUEST``), is activated and started
    at once (the parent is unmasked), like Linux's ``__irq_do_set_handler``
    with ``is_chained``.  ``handler=None`` uninstalls it: the IRQ is masked,
    marked disabled (depth 1) and gets :func:`handle_bad_irq`.  Takes
    ``desc.lock`` with irqsave; does not sleep.
    """
    from irqlab.kernel.irq.manage import irq_activate_and_startup

    desc = _desc(irq)
    flags = await desc.lock.lock_irqsave()
    desc.handler_data = data
    if handler is None or handler is handle_bad_irq:
        if desc.irq_data.chip is not no_irq_chip:
            await _mask_ack_irq(desc)
        desc.state |= IRQD_IRQ_DISABLED
        desc.depth = 1
        desc.handle_irq = handle_bad_irq
        desc.lock.unlock_irqrestore(flags)
        return
    desc.handle_irq = handler
    desc.status = (desc.status | IRQ_NOREQUEST | IRQ_NOPROBE | IRQ_NOTHREAD) & ~IRQ_NOAUTOEN
    desc.depth = 0
    if not desc.state & IRQD_IRQ_STARTED:
        await irq_activate_and_startup(desc)
    desc.lock.unlock_irqrestore(flags)
