"""Seed 001: KVM stores LPIs in an xarray -- which flavour of ``xa_lock`` on the put path?

CPU0 runs the guest's ITS: MAPTI (event 0 -> LPI 8192 on vcpu0), then,
once the LPI was injected, DISCARD and ``vgic_flush_pending_lpis(vcpu0)``,
whose put is the last one: it erases the LPI from ``lpi_xa`` with
``ap_list_lock`` held and interrupts off.  A device actor signals the
eventfd; CPU1 takes the interrupt, whose handler is the irqfd path
(``irqfd_wakeup``: hard-irq context, interrupts off), which injects the
LPI: ``ap_list_lock`` is HARDIRQ-safe.

* ``irq`` -- ``xa_erase_irq``: its ``spin_unlock_irq`` re-enables
  interrupts while ``ap_list_lock`` is still held (Marc's point).  lockdep
  reports it from one run: ``ap_list_lock`` was ``{IN-HARDIRQ-W}`` and is
  now held with interrupts on: "inconsistent {IN-HARDIRQ-W} ->
  {HARDIRQ-ON-W} usage".  (irqlab also says why: the ``_irq`` unlock.)
* ``plain`` -- ``xa_erase``: the xarray lock is also taken with interrupts
  on (MAPTI), while nested under the HARDIRQ-safe ``ap_list_lock`` (Zenghui's
  point): "HARDIRQ-safe -> HARDIRQ-unsafe lock order detected".
* ``irqsave`` -- the fix: clean.
"""

from __future__ import annotations

from typing import Any

from irqlab import sim
from irqlab.check.findings import Finding
from irqlab.hyp.vgic_lpi import (
    VgicDist,
    its_cmd_discard,
    its_cmd_mapti,
    vgic_flush_pending_lpis,
    vgic_its_inject_msi,
)
from irqlab.scenarios._base import Scenario, Variant, World

LPI = 8192


def _setup(world: World) -> None:
    dist = VgicDist(2, xa_flavour=world.variant, put="dec-then-lock")
    eng = sim.Engine(cpus=2, strategy=world.state["strategy"],
                     fingerprint=world.state["fingerprint"])
    mapped = sim.Completion("mapped")
    injected = sim.Completion("injected")

    async def irqfd_wakeup(cpu: Any) -> None:
        # hard-irq context, interrupts off: the irqfd injection path
        await vgic_its_inject_msi(dist, 0, 0)
        injected.complete()

    async def guest_its() -> None:
        await its_cmd_mapti(dist, 0, 0, LPI, vcpu=0)
        mapped.complete()
        await injected.wait_for_completion()
        await its_cmd_discard(dist, 0, 0)
        await vgic_flush_pending_lpis(dist, dist.vcpus[0])

    async def eventfd() -> None:
        # a device actor: the eventfd is signalled, its wakeup interrupt lands on CPU1
        await mapped.wait_for_completion()
        eng.raise_irq(1, 64)

    eng.set_irq_handler(irqfd_wakeup)
    eng.spawn(0, guest_its, name="vcpu0/its")
    eng.spawn_device("eventfd", eventfd)
    world.engine = eng
    world.state["dist"] = dist
    world.invariants.append(_lpi_freed)


def _lpi_freed(world: World, result: Any) -> Finding | None:
    dist = world.state["dist"]
    if result.outcome == "ok" and dist.lpi_xa.entries:
        return Finding("invariant:lpi-erased",
                       f"lpi_xa still holds {sorted(dist.lpi_xa.entries)} after the last put")
    return None


SCENARIO = Scenario(
    name="vgic-lpi-xa",
    seed="001",
    title="KVM vgic LPIs in an xarray: xa_lock flavour on the put path",
    variants=(
        Variant("irq", "xa_erase_irq under ap_list_lock re-enables interrupts",
                expect="lockdep:inconsistent-lock-state"),
        Variant("irqsave", "xa_lock_irqsave on every path (the fix)"),
        Variant("plain", "xa_erase: xa_lock HARDIRQ-unsafe under HARDIRQ-safe ap_list_lock",
                expect="lockdep:irq-lock-inversion"),
    ),
    setup=_setup,
)
