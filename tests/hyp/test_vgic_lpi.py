"""Tests for the vgic LPI store model (get/put, MAPTI/DISCARD, injection, ap_list)."""

from __future__ import annotations

import pytest

from irqlab import sim
from irqlab.check.observe import attach
from irqlab.errors import InvalidArgumentValue
from irqlab.hyp.vgic_lpi import (
    VgicDist,
    its_cmd_discard,
    its_cmd_mapti,
    vgic_add_lpi,
    vgic_flush_pending_lpis,
    vgic_get_lpi,
    vgic_its_inject_msi,
    vgic_put_irq,
)


def _run(fn, **kw):
    eng = sim.Engine(cpus=1)
    eng.spawn(0, fn)
    obs = attach(eng)
    res = eng.run()
    assert res.outcome == "ok", res
    return obs.findings(res)


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgumentValue, match="xa_flavour must be one of"):
        VgicDist(xa_flavour="raw")
    with pytest.raises(InvalidArgumentValue, match="put must be one of"):
        VgicDist(put="later")


@pytest.mark.parametrize("put", ["dec-then-lock", "dec-and-lock"])
@pytest.mark.parametrize("flavour", ["irqsave", "irq", "plain"])
def test_get_put_lifecycle(put, flavour) -> None:
    dist = VgicDist(1, xa_flavour=flavour, put=put)
    seen = {}

    async def t():
        await its_cmd_mapti(dist, 1, 2, 8200)
        irq = dist.ites[(1, 2)]
        assert dist.lpi_xa.entries == {8200: irq}
        got = await vgic_get_lpi(dist, 8200)
        assert got is irq and irq.refcount.read() == 2
        assert await vgic_get_lpi(dist, 8201) is None
        await vgic_put_irq(dist, irq)
        assert irq.refcount.read() == 1
        await its_cmd_discard(dist, 1, 2)
        seen["refs"] = irq.refcount.read()
        seen["xa"] = dict(dist.lpi_xa.entries)
        seen["freed_later"] = not sim.is_freed(irq)

    assert _run(t) == []
    assert seen == {"refs": 0, "xa": {}, "freed_later": True}


def test_add_lpi_reuses_a_live_entry() -> None:
    dist = VgicDist(1)

    async def t():
        a = await vgic_add_lpi(dist, 8192, dist.vcpus[0])
        b = await vgic_add_lpi(dist, 8192, dist.vcpus[0])
        assert a is b and a.refcount.read() == 2
        await vgic_put_irq(dist, a)
        await vgic_put_irq(dist, a)
        assert dist.lpi_xa.entries == {}

    assert _run(t) == []


def test_inject_queues_with_a_reference_and_flush_drops_it() -> None:
    dist = VgicDist(1)
    seen = {}

    async def t():
        await its_cmd_mapti(dist, 0, 0, 8192)
        irq = dist.ites[(0, 0)]
        fl = sim.local_irq_save()
        assert await vgic_its_inject_msi(dist, 0, 0) is True
        sim.local_irq_restore(fl)
        seen["ap"] = list(dist.vcpus[0].ap_list)
        seen["refs"] = irq.refcount.read()
        seen["pending"] = irq.pending_latch
        await vgic_flush_pending_lpis(dist, dist.vcpus[0])
        seen["after"] = (irq.refcount.read(), irq.pending_latch, list(dist.vcpus[0].ap_list))
        assert await vgic_its_inject_msi(dist, 9, 9) is False

    assert _run(t) == []
    assert seen["refs"] == 2 and seen["pending"] is True and len(seen["ap"]) == 1
    assert seen["after"] == (1, False, [])


def test_disabled_lpi_is_not_queued() -> None:
    dist = VgicDist(1, lpi_enabled=False)

    async def t():
        await its_cmd_mapti(dist, 0, 0, 8192)
        assert await vgic_its_inject_msi(dist, 0, 0) is True
        assert dist.vcpus[0].ap_list == []
        assert dist.ites[(0, 0)].refcount.read() == 1

    assert _run(t) == []


def test_lost_lpis_helper() -> None:
    dist = VgicDist(1)

    async def t():
        await its_cmd_mapti(dist, 0, 0, 8192)
        dist.lpi_xa.entries.clear()

    _run(t)
    assert [k for k, _ in dist.lost_lpis()] == [(0, 0)]
