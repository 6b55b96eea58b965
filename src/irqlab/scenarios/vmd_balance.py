"""Seed 004: how VMD spreads hotplugged children's interrupts over its own vectors.

A VMD with ``vectors`` MSI-X vectors.  Two hotplug threads (pciehp on CPU0
and CPU1) add children concurrently, each following its script (params
``cpu0``, ``cpu1``): ``N`` an NVMe child, ``S`` a slow (non-NVMe, AHCI)
child, ``x`` an unrelated device elsewhere that takes a Linux IRQ number.
Each child allocates one IRQ from the VMD domain and requests it.  The
schedule decides the enumeration order and so the IRQ numbers.  The
devices stay bound at the end (removal and the counts going back to zero are
the driver tests' business).

* ``modulo`` -- the RFC's ``irqs[virq % msix_count]``: the vector depends on
  the IRQ number, i.e. on init order and on whoever else allocated IRQs:
  crowded and empty vectors (``invariant:vector-balance``).
* ``least-loaded`` -- the final ``vmd_next_irq``: vector 0 for non-NVMe
  children, each NVMe child to the least-loaded other vector (lowest index on
  ties): the NVMe vectors stay within one child of each other, whatever the
  order.

The invariant: over the vectors NVMe children may use (all of them for
``modulo``, 1.. for ``least-loaded``), the number of NVMe children per
vector differs by at most one.
"""

from __future__ import annotations

import functools
from typing import Any

from irqlab import sim
from irqlab.check.findings import Finding
from irqlab.check.lifetime import long_lived
from irqlab.errors import InvalidArgumentValue, check_int
from irqlab.kernel.drivers.vmd import (
    PCI_CLASS_STORAGE_EXPRESS,
    VmdChildInfo,
    VmdIrq,
    vmd_create,
    vmd_soft_vectors,
)
from irqlab.kernel.irq.chip import IRQ_HANDLED
from irqlab.kernel.irq.desc import IrqCore
from irqlab.kernel.irq.domain import irq_domain_alloc_irqs
from irqlab.kernel.irq.manage import request_irq
from irqlab.scenarios._base import Scenario, Variant, World

AHCI = 0x010601


async def child_irq(irq: int, dev_id: Any) -> int:
    return IRQ_HANDLED


def _check_script(name: str, script: str) -> None:
    if any(c not in "NSx" for c in script):
        raise InvalidArgumentValue(f"{name} must be a string of N, S and x, not {script!r}")


@functools.lru_cache(maxsize=64)
def _check_params(cpu0: str, cpu1: str, vectors: int) -> None:
    """Validate the parameters (once per distinct set: they are immutable)."""
    _check_script("cpu0", cpu0)
    _check_script("cpu1", cpu1)
    check_int("vectors", vectors, 2, 32)


# the allocation arguments of the two child kinds (read-only, shared by every run)
_CHILD_INFO = {"N": VmdChildInfo(PCI_CLASS_STORAGE_EXPRESS), "S": VmdChildInfo(AHCI)}


def _setup(world: World) -> None:
    p = world.params
    _check_params(p["cpu0"], p["cpu1"], p["vectors"])
    eng = sim.Engine(cpus=2, strategy=world.state["strategy"],
                     fingerprint=world.state["fingerprint"])
    core = IrqCore(eng)
    st = world.state
    ready = sim.Completion("vmd probed")
    done = sim.Completion("cpu1 hotplug done")
    children: list[tuple[str, int]] = []   # (kind, irq) in allocation order
    st["children"] = children

    async def hotplug(script: str) -> None:
        vmd, other = st["vmd"], st["other"]
        # both hotplug threads read and append to the enumeration list: declared to the
        # explorer (footprints), as a plain list is shared state it cannot see
        for c in script:
            if c == "x":
                sim.note_access(children, write=False)
                irq = await irq_domain_alloc_irqs(other, 1, arg=len(children) + 1)
            else:
                irq = await irq_domain_alloc_irqs(vmd.irq_domain, 1, arg=_CHILD_INFO[c])
                sim.note_access(children, write=False)
                await request_irq(irq, child_irq, 0, f"{c}{len(children)}", children)
            sim.note_access(children)
            children.append((c, irq))

    async def pciehp0() -> None:
        # vmd_probe: the VMD's vectors, its domain; an unrelated domain for "x"
        st["vectors"], vecs = await vmd_soft_vectors(core, p["vectors"])
        st["other"], other = await vmd_soft_vectors(core, 1, name="other-msi")
        vmd = await vmd_create(core, vecs, policy=world.variant, sync="srcu")
        assert not isinstance(vmd, int)
        st["vmd"] = vmd
        ready.complete_all()
        await hotplug(p["cpu0"])
        await done.wait_for_completion()
        st["histogram"] = _nvme_histogram(vmd)
        st["loads"] = vmd.histogram()
        # the devices stay: their descriptors and VMD entries outlive the run
        for irq in [*vecs, *other, *(irq for _, irq in children)]:
            desc = core.descs[irq]
            long_lived(desc)
            if isinstance(desc.irq_data.chip_data, VmdIrq):
                long_lived(desc.irq_data.chip_data)

    async def pciehp1() -> None:
        await ready.wait_for_completion()
        await hotplug(p["cpu1"])
        done.complete_all()

    eng.spawn(0, pciehp0, name="pciehp0")
    eng.spawn(1, pciehp1, name="pciehp1")
    world.engine = eng
    world.invariants.append(_vector_balance)
    world.describe = _describe


def _eligible(vmd: Any) -> range:
    """Vectors NVMe children may be given."""
    if vmd.policy == "modulo":
        return range(vmd.msix_count)
    return range(vmd.first_vec + 1, vmd.msix_count)


def _nvme_histogram(vmd: Any) -> list[int]:
    return [sum(1 for e in entries if e.nvme) for entries in vmd.entries()]


def _vector_balance(world: World, result: Any) -> Finding | list[Finding] | None:
    """NVMe children per eligible vector differ by at most one."""
    if result.outcome != "ok":
        return None
    st = world.state
    vmd = st["vmd"]
    hist = st["histogram"]
    elig = [hist[i] for i in _eligible(vmd)]
    out = []
    if max(elig) - min(elig) > 1:
        order = "".join(c for c, _ in st["children"])
        out.append(Finding(
            "invariant:vector-balance",
            f"NVMe children per VMD vector {hist}: vector {hist.index(max(elig))} has "
            f"{max(elig)}, vector {hist.index(min(elig))} has {min(elig)} "
            f"(enumeration order {order}, IRQs {[irq for _, irq in st['children']]})",
            data={"histogram": hist, "order": order}))
    return out or None


def _describe(world: World, result: Any) -> str:
    st = world.state
    if "histogram" not in st:
        return "run did not finish"
    vmd = st["vmd"]
    lines = [f"VMD {vmd.msix_count} vectors, policy {vmd.policy}; enumeration "
             + " ".join(f"{c}:{irq}" for c, irq in st["children"])]
    for i, (load, nvme) in enumerate(zip(st["loads"], st["histogram"], strict=True)):
        lines.append(f"  vector {i}: {'#' * load:<8} {load} children ({nvme} NVMe)")
    return "\n".join(lines)


SCENARIO = Scenario(
    name="vmd-balance",
    seed="004",
    title="VMD vector assignment of hotplugged children (modulo vs least-loaded)",
    variants=(
        Variant("modulo", "the RFC: irqs[virq % msix_count]",
                expect="invariant:vector-balance"),
        Variant("least-loaded", "vmd_next_irq: vector 0 for non-NVMe, NVMe to the "
                                "least-loaded vector"),
    ),
    setup=_setup,
    params={"vectors": 4, "cpu0": "NNxN", "cpu1": "SNxN"},
)
