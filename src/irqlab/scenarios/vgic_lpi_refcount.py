"""Seed 001, the later race: the last ``vgic_put_irq`` drops the count outside ``xa_lock``.

LPI 8192 is mapped (event 0 of device 0, on vcpu0).  CPU0 takes the irqfd
interrupt: it looks the LPI up (a reference) and puts it again.  CPU1 runs
the guest's ITS: DISCARD of the event (the ITE's reference goes), then
MAPTI of the same event to the same INTID.

* ``dec-then-lock`` -- ``kref_put`` outside the lock, erase by INTID under
  it: CPU0 drops the count to zero, CPU1's MAPTI finds a dead LPI and stores
  a new one, then CPU0 erases *the new one*: the ITE now references an LPI
  that ``lpi_xa`` does not hold (``invariant:lpi-lost``; every later lookup
  of that INTID fails).  Found by random exploration.
* ``dec-and-lock`` -- ``refcount_dec_and_lock_irqsave``: the drop to zero
  and the erase are one critical section: clean.
"""

from __future__ import annotations

from typing import Any

from irqlab import sim
from irqlab.check.findings import Finding
from irqlab.hyp.vgic_lpi import (
    VgicDist,
    its_cmd_discard,
    its_cmd_mapti,
    vgic_its_inject_msi,
)
from irqlab.scenarios._base import Scenario, Variant, World

LPI = 8192


def _setup(world: World) -> None:
    # the LPI stays disabled: injection is a lookup and a put, no ap_list reference
    dist = VgicDist(2, xa_flavour="irqsave", put=world.variant, lpi_enabled=False)
    eng = sim.Engine(cpus=2, strategy=world.state["strategy"],
                     fingerprint=world.state["fingerprint"])
    mapped = sim.Completion("mapped")

    async def irqfd_wakeup(cpu: Any) -> None:
        await vgic_its_inject_msi(dist, 0, 0)

    async def boot() -> None:
        await its_cmd_mapti(dist, 0, 0, LPI, vcpu=0)
        mapped.complete_all()
        eng.raise_irq(0, 64)               # the eventfd fires on CPU0

    async def guest_its() -> None:
        await mapped.wait_for_completion()
        await its_cmd_discard(dist, 0, 0)
        await its_cmd_mapti(dist, 0, 0, LPI, vcpu=0)

    eng.set_irq_handler(irqfd_wakeup)
    eng.spawn(0, boot, name="vcpu0")
    eng.spawn(1, guest_its, name="vcpu1/its")
    world.engine = eng
    world.state["dist"] = dist
    world.invariants.append(_lpi_not_lost)


def _lpi_not_lost(world: World, result: Any) -> Finding | None:
    """Every mapped ITE's LPI is the one ``lpi_xa`` holds at its INTID."""
    if result.outcome != "ok":
        return None
    lost = world.state["dist"].lost_lpis()
    if not lost:
        return None
    (devid, eventid), irq = lost[0]
    return Finding("invariant:lpi-lost",
                   f"ITE (devid {devid}, eventid {eventid}) maps LPI {irq.intid}, "
                   f"but lpi_xa no longer holds that vgic_irq",
                   data={"intid": irq.intid, "devid": devid, "eventid": eventid})


SCENARIO = Scenario(
    name="vgic-lpi-refcount",
    seed="001",
    title="KVM vgic LPI put racing DISCARD+MAPTI of the same INTID",
    variants=(
        Variant("dec-then-lock", "refcount dropped outside xa_lock, erase by INTID",
                expect="invariant:lpi-lost"),
        Variant("dec-and-lock", "refcount_dec_and_lock_irqsave (the fix)"),
    ),
    setup=_setup,
)
