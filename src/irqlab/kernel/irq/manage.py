"""Driver-facing IRQ management (``kernel/irq/manage.c``, ``chip.c`` startup/shutdown).

``request_irq`` / ``free_irq`` keep Linux's ordering and locks:
``desc.request_mutex`` (sleeping) around the whole operation, ``desc.lock``
(raw spinlock, irqsave) around the action list and the chip calls.
``free_irq`` unlinks the action under the lock, shuts the IRQ down if it
was the last action, drops the lock, waits in ``synchronize_hardirq`` for a
handler of this descriptor still running on another CPU, then deactivates
the IRQ in its domains (ITS: DISCARD).  Each of those steps is an event
(``irq_free_unlink``, ``irq_shutdown``, ``irq_synchronize``,
``irq_domain_deactivate``) so tests and checkers can see the order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from irqlab import sim
from irqlab.errors import InvalidArgumentType
from irqlab.kernel.errno import EBUSY, EINVAL, ENOENT
from irqlab.kernel.irq.chip import IRQ_SET_MASK_OK, IRQ_SET_MASK_OK_NOCOPY, mask_irq, unmask_irq
from irqlab.kernel.irq.desc import (
    IRQ_NOAUTOEN,
    IRQ_NOREQUEST,
    IRQ_PER_CPU_DEVID,
    IRQD_ACTIVATED,
    IRQD_AFFINITY_SET,
    IRQD_IRQ_DISABLED,
    IRQD_IRQ_INPROGRESS,
    IRQD_IRQ_MASKED,
    IRQD_IRQ_STARTED,
    IRQD_LEVEL,
    IRQS_PENDING,
    IrqDesc,
    irq_core,
)
from irqlab.kernel.irq.domain import irq_domain_activate_irq, irq_domain_deactivate_irq

__all__ = [
    "IRQF_NO_AUTOEN",
    "IRQF_SHARED",
    "IrqAction",
    "disable_irq",
    "disable_irq_nosync",
    "disable_percpu_irq",
    "enable_irq",
    "enable_percpu_irq",
    "free_irq",
    "free_percpu_irq",
    "irq_activate_and_startup",
    "irq_set_affinity",
    "irq_shutdown",
    "irq_startup",
    "request_irq",
    "request_percpu_irq",
    "synchronize_hardirq",
    "synchronize_irq",
]

IRQF_SHARED = 0x80
IRQF_NO_AUTOEN = 0x80000
IRQF_PERCPU = 0x400

Handler = Callable[[int, Any], Awaitable[int]]


class IrqAction:
    """``struct irqaction``: one requested handler of an IRQ."""

    __slots__ = ("dev_id", "flags", "handler", "irq", "name")

    def __init__(self, irq: int, handler: Handler, flags: int, name: str, dev_id: Any) -> None:
        self.irq = irq
        self.handler = handler
        self.flags = flags
        self.name = name
        self.dev_id = dev_id

    def __repr__(self) -> str:
        return f"<IrqAction {self.irq} {self.name}>"


def _emit(desc: IrqDesc, kind: str, **args: Any) -> None:
    ev = desc.core.events
    if ev.enabled and ev.should_emit(kind):
        ev.emit(kind, cpu=sim.smp_processor_id(), irq=desc.irq, **args)


# -- startup / shutdown (desc.lock held) ------------------------------------------------

async def irq_do_set_affinity(desc: IrqDesc, mask: tuple[int, ...], force: bool) -> int:
    """``irq_do_set_affinity``: ask the chip; record the mask on success."""
    d = desc.irq_data
    ret = await d.chip.irq_set_affinity(d, mask, force)
    if ret in (IRQ_SET_MASK_OK, 2):
        desc.affinity = mask
        ret = 0
        ev = desc.core.events
        if ev.enabled:
            # the allowed CPUs changed (also on startup and hotplug migration): for observers,
            # with the INTID when the hierarchy's root is the interrupt controller's domain
            root = d
            while root.parent_data is not None:
                root = root.parent_data
            intid = root.hwirq if root.domain is desc.core.default_domain else -1
            ev.emit("irq_affinity", cpu=sim.smp_processor_id(), irq=desc.irq, intid=intid,
                    cpus=",".join(map(str, mask)))
    elif ret == IRQ_SET_MASK_OK_NOCOPY:
        ret = 0
    return ret


async def _irq_setup_affinity(desc: IrqDesc) -> None:
    d = desc.irq_data
    if not d.chip.has("irq_set_affinity"):
        return
    cpus = desc.core.engine.cpus  # masks hold valid CPU numbers (IrqCore.cpumask)
    online = tuple([c for c in desc.affinity if cpus[c].online])
    if not online:
        online = tuple([c for c in range(desc.core.nr_cpu_ids) if cpus[c].online])
    await irq_do_set_affinity(desc, online, False)


async def irq_startup(desc: IrqDesc, resend: bool = True) -> int:
    """``irq_startup``: activate, set up affinity, chip startup (or enable); depth 0."""
    d = desc.irq_data
    desc.depth = 0
    if desc.state & IRQD_IRQ_STARTED:
        await irq_enable(desc)
        if resend:
            await _check_irq_resend(desc)
        return 0
    ret = await irq_domain_activate_irq(d, False)
    if ret:
        return ret
    _emit(desc, "irq_startup")
    await _irq_setup_affinity(desc)
    ret = 0
    if d.chip.has("irq_startup"):
        ret = await d.chip.irq_startup(d)
        desc.state &= ~(IRQD_IRQ_DISABLED | IRQD_IRQ_MASKED)
    else:
        await irq_enable(desc)
    desc.state |= IRQD_IRQ_STARTED
    if resend:
        await _check_irq_resend(desc)
    return ret or 0


async def irq_activate_and_startup(desc: IrqDesc) -> int:
    """``irq_activate_and_startup``."""
    ret = await irq_domain_activate_irq(desc.irq_data, False)
    if ret:
        return ret
    return await irq_startup(desc)


async def irq_enable(desc: IrqDesc) -> None:
    """``irq_enable``: clear the disabled state and unmask via the chip."""
    d = desc.irq_data
    if not desc.state & IRQD_IRQ_DISABLED:
        await unmask_irq(desc)
        return
    desc.state &= ~IRQD_IRQ_DISABLED
    if d.chip.has("irq_enable"):
        await d.chip.irq_enable(d)
        desc.state &= ~IRQD_IRQ_MASKED
    else:
        await unmask_irq(desc)


async def irq_disable(desc: IrqDesc) -> None:
    """``irq_disable`` (lazy): mark disabled; mask only if the chip has its own irq_disable."""
    d = desc.irq_data
    if desc.state & IRQD_IRQ_DISABLED:
        return
    desc.state |= IRQD_IRQ_DISABLED
    if d.chip.has("irq_disable"):
        await d.chip.irq_disable(d)
        desc.state |= IRQD_IRQ_MASKED


async def irq_shutdown(desc: IrqDesc) -> None:
    """``irq_shutdown``: chip shutdown, disabled + masked, not started; depth 1."""
    if desc.state & IRQD_IRQ_STARTED:
        d = desc.irq_data
        desc.depth = 1
        _emit(desc, "irq_shutdown")
        if d.chip.has("irq_shutdown"):
            await d.chip.irq_shutdown(d)
            desc.state |= IRQD_IRQ_DISABLED | IRQD_IRQ_MASKED
        elif desc.state & IRQD_IRQ_DISABLED:
            await mask_irq(desc)
        else:
            desc.state |= IRQD_IRQ_DISABLED
            if d.chip.has("irq_disable"):
                await d.chip.irq_disable(d)
                desc.state |= IRQD_IRQ_MASKED
            else:
                await mask_irq(desc)
        desc.state &= ~IRQD_IRQ_STARTED
        desc.istate &= ~IRQS_PENDING


async def _check_irq_resend(desc: IrqDesc) -> None:
    """``check_irq_resend``: replay an interrupt that came in while disabled (edge only)."""
    if desc.state & IRQD_LEVEL:
        desc.istate &= ~IRQS_PENDING   # a level interrupt re-asserts itself
        return
    if desc.istate & IRQS_PENDING:
        d = desc.irq_data
        done = await d.chip.irq_retrigger(d)
        if done:
            desc.istate &= ~IRQS_PENDING
        _emit(desc, "irq_resend", hw=bool(done))


# -- request / free ---------------------------------------------------------------------

def _desc(irq: int) -> IrqDesc | None:
    return irq_core().descs.get(irq)


async def request_irq(irq: int, handler: Handler, flags: int, name: str, dev_id: Any) -> int:
    """``request_irq``: install ``handler`` (``async def h(irq, dev_id) -> IRQ_HANDLED``).

    Returns 0 or -EINVAL (unknown or unrequestable IRQ, shared without
    ``dev_id``), -EBUSY (already requested and not shared by both).  The first
    action activates and starts the IRQ (unless ``IRQF_NO_AUTOEN``).  May
    sleep: task context.
    """
    if not callable(handler):
        raise InvalidArgumentType(f"handler must be an async function, not {handler!r}")
    if not isinstance(name, str):
        raise InvalidArgumentType(f"name must be a str, not {name!r}")
    desc = _desc(irq)
    if desc is None or desc.status & (IRQ_NOREQUEST | IRQ_PER_CPU_DEVID):
        return -EINVAL
    if flags & IRQF_SHARED and dev_id is None:
        return -EINVAL
    action = IrqAction(irq, handler, flags, name, dev_id)
    await desc.request_mutex.lock()
    fl = await desc.lock.lock_irqsave()
    ret = 0
    old = desc.action
    if old:
        if not (old[0].flags & flags & IRQF_SHARED):
            ret = -EBUSY
    else:
        ret = await irq_domain_activate_irq(desc.irq_data, False)
        if ret == 0:
            if flags & IRQF_NO_AUTOEN or desc.status & IRQ_NOAUTOEN:
                desc.depth = 1
            else:
                ret = await irq_startup(desc)
    if ret == 0:
        desc.action.append(action)
        _emit(desc, "irq_request", name=name, shared=bool(flags & IRQF_SHARED))
    desc.lock.unlock_irqrestore(fl)
    desc.request_mutex.unlock()
    return ret


class _WaitNotInProgress(sim.Op):
    """Spin (as "not enabled") until the descriptor's handler is no longer running."""

    __slots__ = ()
    kind = "synchronize_hardirq"
    blocking = True

    def ready(self) -> bool:
        return not self.obj.state & IRQD_IRQ_INPROGRESS


async def _synchronize_hardirq(desc: IrqDesc) -> bool:
    while True:
        await _WaitNotInProgress(desc, "synchronize_hardirq")
        fl = await desc.lock.lock_irqsave()
        inprogress = bool(desc.state & IRQD_IRQ_INPROGRESS)
        desc.lock.unlock_irqrestore(fl)
        if not inprogress:
            return True


async def synchronize_hardirq(irq: int) -> bool:
    """``synchronize_hardirq``: wait until no hard handler of ``irq`` runs on any CPU."""
    desc = _desc(irq)
    if desc is None:
        return True
    _emit(desc, "irq_synchronize")
    return await _synchronize_hardirq(desc)


async def synchronize_irq(irq: int) -> None:
    """``synchronize_irq``: like :func:`synchronize_hardirq` (no threaded handlers modelled)."""
    await synchronize_hardirq(irq)


async def free_irq(irq: int, dev_id: Any) -> str | None:
    """``free_irq``: remove the action of ``dev_id``; returns its name (``None`` if not found).

    Order: ``request_mutex``; ``desc.lock`` irqsave; unlink; if last action
    ``irq_shutdown``; unlock; ``synchronize_hardirq``; if last action
    ``irq_domain_deactivate_irq`` under ``desc.lock``.  May sleep.
    """
    desc = _desc(irq)
    if desc is None:
        return None
    await desc.request_mutex.lock()
    fl = await desc.lock.lock_irqsave()
    found = None
    for a in desc.action:
        if a.dev_id is dev_id or a.dev_id == dev_id:  # Linux: pointer equality
            found = a
            break
    if found is None:
        desc.lock.unlock_irqrestore(fl)
        desc.request_mutex.unlock()
        _emit(desc, "irq_free_unknown", err=-ENOENT)
        return None
    desc.action.remove(found)
    _emit(desc, "irq_free_unlink", name=found.name)
    if not desc.action:
        await irq_shutdown(desc)
    desc.lock.unlock_irqrestore(fl)
    _emit(desc, "irq_synchronize")
    await _synchronize_hardirq(desc)
    if not desc.action:
        fl = await desc.lock.lock_irqsave()
        await irq_domain_deactivate_irq(desc.irq_data)
        desc.lock.unlock_irqrestore(fl)
    desc.request_mutex.unlock()
    return found.name


# -- enable / disable -----------------------------------------------------------------------

async def disable_irq_nosync(irq: int) -> None:
    """``disable_irq_nosync``: depth++, lazily disabled on 0 -> 1; does not wait."""
    desc = _desc(irq)
    if desc is None:
        return
    fl = await desc.lock.lock_irqsave()
    if desc.depth == 0:
        await irq_disable(desc)
    desc.depth += 1
    _emit(desc, "irq_disable", depth=desc.depth)
    desc.lock.unlock_irqrestore(fl)


async def disable_irq(irq: int) -> None:
    """``disable_irq``: :func:`disable_irq_nosync` then :func:`synchronize_irq` (may wait)."""
    await disable_irq_nosync(irq)
    await synchronize_irq(irq)


async def enable_irq(irq: int) -> None:
    """``enable_irq``: depth--, started/unmasked (and a pending IRQ resent) on 1 -> 0.

    An unbalanced enable (depth already 0) is reported as ``irq_unbalanced_enable``.
    """
    desc = _desc(irq)
    if desc is None:
        return
    fl = await desc.lock.lock_irqsave()
    if desc.depth == 0:
        _emit(desc, "irq_unbalanced_enable")
    elif desc.depth == 1:
        await irq_startup(desc)
        desc.depth = 0
        _emit(desc, "irq_enable", depth=0)
    else:
        desc.depth -= 1
        _emit(desc, "irq_enable", depth=desc.depth)
    desc.lock.unlock_irqrestore(fl)


async def irq_set_affinity(irq: int, cpus: Iterable[int] | int, force: bool = False) -> int:
    """``irq_set_affinity``: route ``irq`` to one of ``cpus``; 0 or -EINVAL.

    ``cpus`` must name existing CPUs (else :class:`InvalidArgumentValue`); a
    mask without an online CPU or a chip that cannot route gives -EINVAL.
    """
    core = irq_core()
    mask = core.cpumask("cpus", cpus)
    desc = core.descs.get(irq)
    if desc is None or not mask:
        return -EINVAL
    d = desc.irq_data
    if not d.chip.has("irq_set_affinity"):
        return -EINVAL
    if not force and not any(core.engine.cpu_online(c) for c in mask):
        return -EINVAL
    fl = await desc.lock.lock_irqsave()
    if desc.state & IRQD_ACTIVATED or force:
        ret = await irq_do_set_affinity(desc, mask, force)
    else:
        # irq_set_affinity_deactivated: store only; activation/startup routes it
        desc.affinity = mask
        ret = 0
    if ret == 0:
        desc.state |= IRQD_AFFINITY_SET
    _emit(desc, "irq_set_affinity", cpus=",".join(map(str, mask)), ret=ret,
          effective=",".join(map(str, d.effective_affinity)))
    desc.lock.unlock_irqrestore(fl)
    return ret


# -- per-CPU IRQs (SGIs, PPIs) --------------------------------------------------------------

async def request_percpu_irq(irq: int, handler: Handler, name: str, percpu_dev_id: Any) -> int:
    """``request_percpu_irq``: one handler for every CPU; each CPU calls enable_percpu_irq.

    ``percpu_dev_id`` is indexable by CPU (a list, a :class:`sim.PerCpu`) or None.
    """
    desc = _desc(irq)
    if desc is None or not desc.status & IRQ_PER_CPU_DEVID:
        return -EINVAL
    await desc.request_mutex.lock()
    fl = await desc.lock.lock_irqsave()
    ret = 0
    if desc.action:
        ret = -EBUSY
    else:
        desc.action.append(IrqAction(irq, handler, IRQF_PERCPU, name, percpu_dev_id))
        desc.percpu_dev_id = percpu_dev_id
        desc.name = name
        ret = await irq_domain_activate_irq(desc.irq_data, False)
    desc.lock.unlock_irqrestore(fl)
    desc.request_mutex.unlock()
    return ret


async def enable_percpu_irq(irq: int, type: int = 0) -> None:
    """``enable_percpu_irq``: unmask on the calling CPU (interrupts off or preempt-safe)."""
    desc = _desc(irq)
    if desc is None:
        return
    cpu = sim.smp_processor_id()
    d = desc.irq_data
    await d.chip.irq_unmask(d)
    desc.percpu_enabled.add(cpu)


async def disable_percpu_irq(irq: int) -> None:
    """``disable_percpu_irq``: mask on the calling CPU."""
    desc = _desc(irq)
    if desc is None:
        return
    cpu = sim.smp_processor_id()
    d = desc.irq_data
    await d.chip.irq_mask(d)
    desc.percpu_enabled.discard(cpu)


async def free_percpu_irq(irq: int, percpu_dev_id: Any) -> None:
    """``free_percpu_irq``: remove the per-CPU action (every CPU must have disabled it)."""
    desc = _desc(irq)
    if desc is None:
        return
    await desc.request_mutex.lock()
    fl = await desc.lock.lock_irqsave()
    if desc.action and desc.action[0].dev_id is percpu_dev_id:
        desc.action.clear()
        desc.percpu_dev_id = None
    desc.lock.unlock_irqrestore(fl)
    desc.request_mutex.unlock()


__all__ += ["irq_disable", "irq_do_set_affinity", "irq_enable", "mask_irq", "unmask_irq"]
