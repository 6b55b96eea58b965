"""Hierarchical irq domains: allocation, rollback, reverse maps, (de)activation order, free."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab import sim
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue
from irqlab.kernel.errno import ENOSPC
from irqlab.kernel.irq import (
    IRQ_DOMAIN_FREE_BULK,
    IrqCore,
    IrqDomain,
    IrqDomainOps,
    IrqFwspec,
    irq_domain_activate_irq,
    irq_domain_alloc_irqs,
    irq_domain_deactivate_irq,
    irq_domain_free_irqs,
    irq_domain_get_irq_data,
    irq_domain_translate,
    irq_find_mapping,
)

from ._util import LevelOps, LogChip, run


def _stack(core: IrqCore, log: list[str], **child_kw: int) -> tuple[IrqDomain, IrqDomain]:
    pops = LevelOps(log, LogChip("gic", log), base=8192, **{
        k[7:]: v for k, v in child_kw.items() if k.startswith("parent_")})
    parent = IrqDomain(core, "parent", pops)
    cops = LevelOps(log, LogChip("msi", log), base=0, **{
        k: v for k, v in child_kw.items() if not k.startswith("parent_")})
    child = IrqDomain(core, "child", cops, parent=parent)
    return parent, child


def test_alloc_builds_parent_chain_and_revmaps() -> None:
    log: list[str] = []
    out: dict[str, object] = {}

    async def body(core: IrqCore) -> None:
        parent, child = _stack(core, log)
        virq = await irq_domain_alloc_irqs(child, 4, arg=None)
        out["virq"] = virq
        d = core.descs[virq + 2].irq_data
        out["levels"] = (d.domain.name, d.hwirq, d.chip.name,
                         d.parent_data.domain.name, d.parent_data.hwirq,
                         d.parent_data.chip.name, d.parent_data.parent_data)
        out["maps"] = (dict(child.revmap), dict(parent.revmap))
        out["find"] = (irq_find_mapping(parent, 8193), irq_find_mapping(parent, 1))
        out["getdata"] = irq_domain_get_irq_data(parent, virq + 2) is d.parent_data

    _, core = run(body)
    assert log == ["child.alloc:1+4", "parent.alloc:1+4"]
    assert out["virq"] == 1
    assert out["levels"] == ("child", 2, "msi", "parent", 8194, "gic", None)
    assert out["maps"] == ({0: 1, 1: 2, 2: 3, 3: 4}, {8192: 1, 8193: 2, 8194: 3, 8195: 4})
    assert out["find"] == (2, 0)
    assert out["getdata"] is True
    assert sorted(core.descs) == [1, 2, 3, 4]


@pytest.mark.parametrize("where", ["parent", "child"])
def test_failed_alloc_unwinds_everything(where: str) -> None:
    log: list[str] = []
    out: dict[str, object] = {}

    async def body(core: IrqCore) -> None:
        kw = {"parent_fail_alloc": -ENOSPC} if where == "parent" else {"fail_alloc": -ENOSPC}
        parent, child = _stack(core, log, **kw)
        before = core.free_ranges
        out["ret"] = await irq_domain_alloc_irqs(child, 3)
        out["same"] = core.free_ranges == before
        out["maps"] = (child.revmap, parent.revmap, child.mapcount, parent.mapcount)

    _, core = run(body)
    assert out["ret"] == -ENOSPC
    assert out["same"] is True
    assert out["maps"] == ({}, {}, 0, 0)
    assert core.descs == {}
    assert log == ["child.alloc:1+3", "parent.alloc:1+3"]


def test_failed_alloc_frees_tracked_descriptors() -> None:
    async def body(core: IrqCore) -> None:
        _, child = _stack(core, [], parent_fail_alloc=-ENOSPC)
        assert await irq_domain_alloc_irqs(child, 2) == -ENOSPC

    eng = sim.Engine(cpus=1)
    core = IrqCore(eng)
    rec = eng.events.record()
    eng.spawn(0, body, core)
    assert eng.run().outcome == "ok"
    allocs = [e["oid"] for e in rec.of("sim_alloc") if e["obj_kind"] == "IrqDesc"]
    frees = [e["oid"] for e in rec.of("sim_free") if e["obj_kind"] == "IrqDesc"]
    assert len(allocs) == 2 and sorted(frees) == sorted(allocs)


def test_activation_parent_first_deactivation_child_first() -> None:
    log: list[str] = []

    async def body(core: IrqCore) -> None:
        _, child = _stack(core, log)
        virq = await irq_domain_alloc_irqs(child, 1)
        d = core.descs[virq].irq_data
        log.clear()
        assert await irq_domain_activate_irq(d, False) == 0
        assert await irq_domain_activate_irq(d, False) == 0   # idempotent
        await irq_domain_deactivate_irq(d)
        await irq_domain_deactivate_irq(d)                    # idempotent

    run(body)
    assert log == ["parent.activate:1", "child.activate:1",
                   "child.deactivate:1", "parent.deactivate:1"]


def test_failed_child_activation_rolls_back_parent() -> None:
    log: list[str] = []
    out: list[object] = []

    async def body(core: IrqCore) -> None:
        _, child = _stack(core, log, fail_activate=-ENOSPC)
        virq = await irq_domain_alloc_irqs(child, 1)
        d = core.descs[virq].irq_data
        log.clear()
        out.append(await irq_domain_activate_irq(d, True))
        out.append(bool(d.desc.state & 0x200))  # IRQD_ACTIVATED

    run(body)
    assert out == [-ENOSPC, False]
    assert log == ["parent.activate:1", "child.activate:1", "parent.deactivate:1"]


@pytest.mark.parametrize("bulk", [False, True])
def test_free_per_irq_or_bulk(bulk: bool) -> None:
    log: list[str] = []
    out: dict[str, object] = {}

    async def body(core: IrqCore) -> None:
        parent, child = _stack(core, log)
        if bulk:
            child.flags |= IRQ_DOMAIN_FREE_BULK
            parent.flags |= IRQ_DOMAIN_FREE_BULK
        initial = core.free_ranges
        virq = await irq_domain_alloc_irqs(child, 3)
        log.clear()
        await irq_domain_free_irqs(virq, 3)
        out["same"] = core.free_ranges == initial
        out["maps"] = (child.revmap, parent.revmap)

    _, core = run(body)
    if bulk:
        assert log == ["child.free:1+3", "parent.free:1+3"]
    else:
        assert log == ["child.free:1+1", "parent.free:1+1", "child.free:2+1", "parent.free:2+1",
                       "child.free:3+1", "parent.free:3+1"]
    assert out == {"same": True, "maps": ({}, {})}
    assert core.descs == {}


def test_numbers_are_reused_first_fit() -> None:
    out: list[int] = []

    async def body(core: IrqCore) -> None:
        _, child = _stack(core, [])
        a = await irq_domain_alloc_irqs(child, 2)
        b = await irq_domain_alloc_irqs(child, 4)
        await irq_domain_free_irqs(a, 2)
        c = await irq_domain_alloc_irqs(child, 1)
        d = await irq_domain_alloc_irqs(child, 2)
        out.extend([a, b, c, d])

    run(body)
    assert out == [1, 3, 1, 7]


def test_translate_default_twocell() -> None:
    out: list[object] = []

    async def body(core: IrqCore) -> None:
        dom = IrqDomain(core, "d", IrqDomainOps())
        out.append(await irq_domain_translate(dom, IrqFwspec(5, 4)))
        out.append(await irq_domain_translate(dom, IrqFwspec(5)))
        out.append(await irq_domain_alloc_irqs(dom, 1))   # default alloc: -EINVAL

    _, core = run(body)
    assert out == [(5, 4), -22, -22]
    assert core.descs == {}


def test_api_misuse() -> None:
    eng = sim.Engine(cpus=1)
    core = IrqCore(eng)
    with pytest.raises(InvalidArgumentType, match="ops must be an IrqDomainOps"):
        IrqDomain(core, "x", object())  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentValue, match="nr_cpu_ids"):
        IrqCore(eng, nr_cpu_ids=2)
    with pytest.raises(InvalidArgumentValue, match="irq_desc_free"):
        IrqCore(eng, options={"irq_desc_free": "later"})
    eng.close()


def test_affinity_per_irq_or_shared() -> None:
    out: list[object] = []

    async def body(core: IrqCore) -> None:
        _, child = _stack(core, [])
        a = await irq_domain_alloc_irqs(child, 2, affinity=[{1}, [2, 0]])
        b = await irq_domain_alloc_irqs(child, 2, affinity=[3])
        c = await irq_domain_alloc_irqs(child, 1)
        out.extend(core.descs[i].affinity for i in (a, a + 1, b, b + 1, c))
        with pytest.raises(InvalidArgumentValue, match="affinity must hold 2 masks"):
            await irq_domain_alloc_irqs(child, 2, affinity=[[1]])
        with pytest.raises(InvalidArgumentValue, match="CPU numbers in"):
            await irq_domain_alloc_irqs(child, 1, affinity=[7])

    run(body, cpus=4)
    assert out == [(1,), (0, 2), (3,), (3,), (0, 1, 2, 3)]


_dop = st.one_of(st.tuples(st.just("alloc"), st.integers(1, 9), st.booleans()),
                 st.tuples(st.just("free"), st.integers(0, 31), st.booleans()))


@settings(max_examples=40, deadline=None)
@given(ops=st.lists(_dop, max_size=25), bulk=st.booleans())
def test_random_alloc_free_returns_to_initial_state(ops: list[tuple[str, int, bool]],
                                                    bulk: bool) -> None:
    """Random hierarchy allocations (some failing) and frees: tables and maps stay consistent."""
    async def body(core: IrqCore) -> None:
        log: list[str] = []
        parent, child = _stack(core, log)
        if bulk:
            child.flags |= IRQ_DOMAIN_FREE_BULK
        initial = core.free_ranges
        live: list[tuple[int, int]] = []
        for op, n, flag in ops:
            if op == "alloc":
                parent.ops.fail_alloc = -ENOSPC if flag else 0  # type: ignore[attr-defined]
                virq = await irq_domain_alloc_irqs(child, n)
                if flag:
                    assert virq == -ENOSPC
                else:
                    assert virq > 0
                    live.append((virq, n))
            elif live:
                virq, cnt = live.pop(n % len(live))
                await irq_domain_free_irqs(virq, cnt)
            mapped = sum(c for _, c in live)
            assert len(core.descs) == mapped
            assert child.mapcount == parent.mapcount == mapped
            assert sorted(child.revmap.values()) == sorted(core.descs)
        for virq, cnt in live:
            await irq_domain_free_irqs(virq, cnt)
        assert core.free_ranges == initial
        assert child.revmap == {} and parent.revmap == {} and core.descs == {}

    run(body)
