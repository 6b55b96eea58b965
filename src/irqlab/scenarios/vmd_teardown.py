"""Seed 004: a VMD child freed on CPU0 while CPU1's VMD handler holds its list entry.

One VMD vector, one NVMe child IRQ ``D`` on it with a handler.  The child
fires (the VMD raises its vector on CPU1), and CPU0 runs the child driver's
exit at the same time::

    CPU0                                  CPU1
    free_irq(D)                           vmd_flow_handler()
      irq_shutdown(D) -> list_del_rcu       rcu_read_lock()
      synchronize_hardirq(D)                vmdirq = list_entry(...)
    irq_domain_free_irqs(D)                 D = vmdirq->virq
      vmd_msi_free(): kfree_rcu(vmdirq)     generic_handle_irq(D)
      irq_free_descs(): kfree(desc(D))        desc = irq_to_desc(D)
                                              desc->handle_irq(desc)  <-- KABOOM

* ``immediate-free`` -- the RFC: RCU walk, entries freed with ``kfree_rcu``,
  the child ``irq_desc`` freed at once: ``synchronize_hardirq(D)`` cannot see
  CPU1 (it has not reached ``D``'s flow handler yet), so the descriptor is
  freed under CPU1's feet (``use-after-free``).
* ``rcu-desc`` -- "genirq: Free irq_desc with rcu": the descriptor's free
  waits for a grace period, which CPU1's read section holds off: clean.
* ``srcu`` -- the final driver: an SRCU walk per vector and
  ``synchronize_srcu`` in ``vmd_msi_free`` before anything is freed: clean.
"""

from __future__ import annotations

from typing import Any

from irqlab import sim
from irqlab.check.lifetime import long_lived
from irqlab.kernel.drivers.vmd import VmdChildInfo, vmd_create, vmd_soft_vectors
from irqlab.kernel.irq.chip import IRQ_HANDLED, generic_handle_domain_irq
from irqlab.kernel.irq.desc import IrqCore
from irqlab.kernel.irq.domain import irq_domain_alloc_irqs, irq_domain_free_irqs
from irqlab.kernel.irq.manage import free_irq, request_irq
from irqlab.scenarios._base import Scenario, Variant, World


async def nvme_irq(irq: int, dev_id: Any) -> int:
    """The child driver's handler."""
    return IRQ_HANDLED


async def pci_free_irq_vectors(core: IrqCore, irq: int) -> None:
    """The child's vectors go: ``irq_domain_free_irqs`` -> ``vmd_msi_free``, ``irq_free_descs``."""
    await irq_domain_free_irqs(irq, 1, core=core)


def _setup(world: World) -> None:
    variant = world.variant
    eng = sim.Engine(cpus=2, strategy=world.state["strategy"],
                     fingerprint=world.state["fingerprint"])
    core = IrqCore(eng, options={"irq_desc_free": "rcu" if variant == "rcu-desc" else "immediate"})
    st = world.state

    async def handle_arch_irq(cc: sim.CpuCtx) -> None:
        await generic_handle_domain_irq(st["vectors"], cc.irq_intid or 0)

    async def driver_exit() -> None:
        # probe: the VMD with one vector, one NVMe child IRQ D requested on it
        st["vectors"], vecs = await vmd_soft_vectors(core, 1)
        long_lived(core.descs[vecs[0]])           # the VMD stays bound
        vmd = await vmd_create(core, vecs, sync="srcu" if variant == "srcu" else "rcu")
        assert not isinstance(vmd, int)
        d = await irq_domain_alloc_irqs(vmd.irq_domain, 1, arg=VmdChildInfo())  # type: ignore[arg-type]
        await request_irq(d, nvme_irq, 0, "nvme0q0", st)
        st["vmd"], st["D"] = vmd, d
        eng.raise_irq(1, 0)                       # the child fires: VMD vector 0 on CPU1
        # the child driver's exit, racing with CPU1's handler
        await free_irq(d, st)
        await pci_free_irq_vectors(core, d)

    eng.set_irq_handler(handle_arch_irq)
    eng.spawn(0, driver_exit, name="rmmod")
    world.engine = eng
    world.describe = _describe


def _describe(world: World, result: Any) -> str:
    vmd = world.state.get("vmd")
    d = world.state.get("D")
    if vmd is None:
        return "VMD not set up"
    return (f"child IRQ {d} on VMD vector 0 (sync={vmd.sync}, irq_desc_free="
            f"{'rcu' if vmd.core.desc_free_rcu else 'immediate'}); "
            f"VMD vector loads {vmd.histogram()}")


SCENARIO = Scenario(
    name="vmd-teardown",
    seed="004",
    title="VMD child torn down while another CPU's VMD handler holds its entry",
    variants=(
        Variant("immediate-free", "the RFC: RCU walk, child irq_desc freed at once",
                expect="use-after-free"),
        Variant("rcu-desc", "irq_desc freed after an RCU grace period (genirq: Free irq_desc "
                            "with rcu)"),
        Variant("srcu", "the final driver: per-vector SRCU, synchronize_srcu before the free"),
    ),
    setup=_setup,
)
