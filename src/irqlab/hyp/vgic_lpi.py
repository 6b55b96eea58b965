"""A model of KVM's vgic LPI store: ``dist->lpi_xa``, refcounted ``vgic_irq``, the ap_list.

Models ``arch/arm64/kvm/vgic/vgic.c`` and ``vgic-its.c`` as of the xarray
conversion (2024, seed 001) and the later put/erase race, at the level of
detail the locking needs:

* :class:`VgicIrq` -- a tracked object (``sim.alloc``) with a
  ``refcount_t``, its ``irq_lock`` and the ``pending_latch``;
* :class:`LpiXa` -- the xarray: a dict keyed by INTID plus ``xa_lock``;
* :class:`VgicCpu` -- a vCPU's ``ap_list_lock`` and ``ap_list``;
* :class:`VgicDist` -- the distributor: the xarray, the vCPUs, a one-device
  ITS (``its_lock`` mutex and the ITT: ``(devid, eventid) -> VgicIrq``), and
  the two design choices the seed threads argue about:
  ``xa_flavour`` -- how the xarray lock is taken on the put path:
  ``"irqsave"`` (the fix), ``"irq"`` (``xa_erase_irq``: Marc's point, it
  re-enables interrupts under ``ap_list_lock``) or ``"plain"`` (``xa_erase``:
  Zenghui's point, the lock is taken with interrupts on);
  ``put`` -- ``"dec-then-lock"`` (``kref_put`` outside the lock, then erase
  by INTID) or ``"dec-and-lock"`` (``refcount_dec_and_lock_irqsave``: the
  2025 fix).

References held on an LPI: the ITE (from MAPTI to DISCARD), the ap_list
(while queued), and transient lookups (``vgic_get_lpi``).  Lock order, as
documented in vgic.c: ``its_lock`` (mutex) -> ``ap_list_lock`` ->
``lpi_xa.xa_lock`` -> ``irq_lock``; the last three with interrupts off.

All functions are ``async`` model code for :mod:`irqlab.sim`; lock
acquisitions, refcount operations and xarray accesses are scheduling points.
"""

from __future__ import annotations

from irqlab import sim
from irqlab.check.lifetime import long_lived
from irqlab.errors import InvalidArgumentValue

__all__ = [
    "LpiXa",
    "VgicCpu",
    "VgicDist",
    "VgicIrq",
    "its_cmd_discard",
    "its_cmd_mapti",
    "vgic_add_lpi",
    "vgic_flush_pending_lpis",
    "vgic_get_lpi",
    "vgic_its_inject_msi",
    "vgic_put_irq",
]

XA_FLAVOURS = ("irqsave", "irq", "plain")
PUT_STYLES = ("dec-then-lock", "dec-and-lock")


class VgicIrq:
    """``struct vgic_irq`` for an LPI (tracked: allocation, ``kfree_rcu``, accesses)."""

    def __init__(self, intid: int, target: VgicCpu) -> None:
        self.intid = intid
        self.target = target
        #: refcount_t: starts at 1, the reference of the ITE that MAPTI creates
        self.refcount = sim.Refcount(1, name=f"lpi{intid}.refcount")
        self.irq_lock = sim.SpinLock(f"lpi{intid}.irq_lock", key="vgic_irq.irq_lock")
        self.pending_latch = False
        self.enabled = True
        self.vcpu: VgicCpu | None = None   # the ap_list it is queued on

    def __repr__(self) -> str:
        return f"<VgicIrq {self.intid} refs={self.refcount.read()}>"


class LpiXa:
    """``dist->lpi_xa``: an xarray of LPIs keyed by INTID, with its ``xa_lock``."""

    def __init__(self) -> None:
        self.xa_lock = sim.SpinLock("lpi_xa.xa_lock", key="vgic_dist.lpi_xa.xa_lock")
        self.entries: dict[int, VgicIrq] = {}
        self.name = "lpi_xa"

    async def xa_load(self, intid: int) -> VgicIrq | None:
        """``xa_load``: an RCU-protected read (a scheduling point)."""
        await sim.access(self, "r", f"xa_load({intid})")
        return self.entries.get(intid)

    async def xa_erase(self, intid: int) -> VgicIrq | None:
        """``__xa_erase`` with ``xa_lock`` held: removes whatever is stored at ``intid``."""
        await sim.access(self, "w", f"xa_erase({intid})")
        return self.entries.pop(intid, None)

    async def xa_store(self, intid: int, irq: VgicIrq) -> None:
        """``__xa_store`` with ``xa_lock`` held."""
        await sim.access(self, "w", f"xa_store({intid})")
        self.entries[intid] = irq


class VgicCpu:
    """``struct vgic_cpu``: the ap_list and its lock."""

    def __init__(self, vcpu_id: int) -> None:
        self.vcpu_id = vcpu_id
        self.ap_list_lock = sim.SpinLock(f"vcpu{vcpu_id}.ap_list_lock",
                                         key="vgic_cpu.ap_list_lock")
        self.ap_list: list[VgicIrq] = []


class VgicDist:
    """``struct vgic_dist`` with its LPI xarray, vCPUs and a minimal ITS (see module doc)."""

    def __init__(self, nr_vcpus: int = 2, *, xa_flavour: str = "irqsave",
                 put: str = "dec-and-lock", lpi_enabled: bool = True) -> None:
        if xa_flavour not in XA_FLAVOURS:
            raise InvalidArgumentValue(
                f"xa_flavour must be one of {', '.join(XA_FLAVOURS)}, not {xa_flavour!r}")
        if put not in PUT_STYLES:
            raise InvalidArgumentValue(f"put must be one of {', '.join(PUT_STYLES)}, not {put!r}")
        self.lpi_xa = LpiXa()
        self.vcpus = [VgicCpu(i) for i in range(nr_vcpus)]
        self.xa_flavour = xa_flavour
        self.put = put
        #: the enable bit new LPIs get (the guest's property table, in effect)
        self.lpi_enabled = bool(lpi_enabled)
        self.its_lock = sim.Mutex("its->its_lock", key="vgic_its.its_lock")
        #: the ITT of the one device model: (devid, eventid) -> VgicIrq (MAPTI and
        #: DISCARD change it under its_lock, injection reads it without: each access is
        #: declared to the explorer as one of ``itt``)
        self.ites: dict[tuple[int, int], VgicIrq] = {}
        self.itt = sim.Shared("its->itt")

    # -- the xa_lock in the configured flavour -----------------------------------------
    async def xa_lock(self) -> bool | None:
        lk = self.lpi_xa.xa_lock
        if self.xa_flavour == "irqsave":
            flags: bool = await lk.lock_irqsave()
            return flags
        if self.xa_flavour == "irq":
            await lk.lock_irq()
        else:
            await lk.lock()
        return None

    def xa_unlock(self, flags: bool | None) -> None:
        lk = self.lpi_xa.xa_lock
        if self.xa_flavour == "irqsave":
            assert flags is not None
            lk.unlock_irqrestore(flags)
        elif self.xa_flavour == "irq":
            lk.unlock_irq()
        else:
            lk.unlock()

    def lost_lpis(self) -> list[tuple[tuple[int, int], VgicIrq]]:
        """ITEs whose LPI is not the one stored in ``lpi_xa`` (for invariants)."""
        return [(k, irq) for k, irq in sorted(self.ites.items())
                if self.lpi_xa.entries.get(irq.intid) is not irq]


# -- get / put ---------------------------------------------------------------------------

async def vgic_get_lpi(dist: VgicDist, intid: int) -> VgicIrq | None:
    """``vgic_get_lpi``: RCU read section, ``xa_load``, get-unless-zero."""
    sim.rcu_read_lock()
    irq = await dist.lpi_xa.xa_load(intid)
    if irq is not None and not await irq.refcount.inc_not_zero():
        irq = None
    sim.rcu_read_unlock()
    return irq


async def vgic_put_irq(dist: VgicDist, irq: VgicIrq) -> None:
    """``vgic_put_irq`` for an LPI: drop a reference; the last one erases and frees it.

    ``put="dec-then-lock"`` drops the count outside ``xa_lock`` and erases
    by INTID afterwards -- another CPU may have stored a new LPI at that INTID
    in between, and the erase removes it (the 2025 race).
    ``put="dec-and-lock"`` decrements to zero only under ``xa_lock``.
    """
    xa = dist.lpi_xa
    if dist.put == "dec-then-lock":
        if not await irq.refcount.dec_and_test():
            return
        flags = await dist.xa_lock()
    else:
        zero, flags = await _dec_and_lock(dist, irq)
        if not zero:
            return
    await xa.xa_erase(irq.intid)
    dist.xa_unlock(flags)
    sim.kfree_rcu(irq)


async def _dec_and_lock(dist: VgicDist, irq: VgicIrq) -> tuple[bool, bool | None]:
    """``refcount_dec_and_lock(_irqsave)`` with ``xa_lock`` in the configured flavour."""
    rc = irq.refcount
    lk = dist.lpi_xa.xa_lock
    if dist.xa_flavour == "irqsave":
        return await rc.dec_and_lock_irqsave(lk)
    if dist.xa_flavour == "plain":
        return await rc.dec_and_lock(lk), None
    # no _irq helper exists: take the lock first (the slow path of the helper)
    await lk.lock_irq()
    if await rc.dec_and_test():
        return True, None
    lk.unlock_irq()
    return False, None


# -- ITS commands -----------------------------------------------------------------------

async def vgic_add_lpi(dist: VgicDist, intid: int, target: VgicCpu) -> VgicIrq:
    """``vgic_add_lpi`` (MAPTI): reuse a live LPI at ``intid``, else store a new one."""
    irq = sim.alloc(VgicIrq(intid, target))
    irq.enabled = dist.lpi_enabled
    flags = await dist.xa_lock()
    old = dist.lpi_xa.entries.get(intid)
    if old is not None and await old.refcount.inc_not_zero():
        dist.xa_unlock(flags)
        sim.kfree(irq)
        return old
    await dist.lpi_xa.xa_store(intid, irq)
    dist.xa_unlock(flags)
    return irq


async def its_cmd_mapti(dist: VgicDist, devid: int, eventid: int, intid: int,
                        vcpu: int = 0) -> None:
    """MAPTI: map ``(devid, eventid)`` to LPI ``intid`` on ``vcpu`` (under ``its_lock``)."""
    await dist.its_lock.lock()
    irq = await vgic_add_lpi(dist, intid, dist.vcpus[vcpu])
    sim.note_access(dist.itt)
    dist.ites[(devid, eventid)] = irq
    long_lived(irq)   # held by the ITE: may legitimately outlive the run
    dist.its_lock.unlock()


async def its_cmd_discard(dist: VgicDist, devid: int, eventid: int) -> None:
    """DISCARD: drop the ITE's reference (under ``its_lock``)."""
    await dist.its_lock.lock()
    sim.note_access(dist.itt)
    irq = dist.ites.pop((devid, eventid), None)
    if irq is not None:
        await vgic_put_irq(dist, irq)
    dist.its_lock.unlock()


# -- injection and the ap_list ----------------------------------------------------------

async def vgic_its_inject_msi(dist: VgicDist, devid: int, eventid: int) -> bool:
    """The irqfd path (``irqfd_wakeup`` -> ``vgic_its_inject_cached_translation``).

    Runs with interrupts disabled (in the engine: from a hard-irq handler).
    Looks the LPI up (RCU), latches it pending and queues it on its vCPU's
    ap_list (which takes a reference), then drops the lookup reference.
    Returns False when the translation no longer exists.
    """
    sim.note_access(dist.itt, write=False)
    irq = dist.ites.get((devid, eventid))
    if irq is None:
        return False
    irq = await vgic_get_lpi(dist, irq.intid)
    if irq is None:
        return False
    if irq.enabled:
        vcpu = irq.target
        flags = await vcpu.ap_list_lock.lock_irqsave()
        await irq.irq_lock.lock()
        await sim.access(irq, "w", "irq->pending_latch = true")
        irq.pending_latch = True
        if irq.vcpu is None:
            await irq.refcount.inc()          # the ap_list's reference
            irq.vcpu = vcpu
            vcpu.ap_list.append(irq)
        irq.irq_lock.unlock()
        vcpu.ap_list_lock.unlock_irqrestore(flags)
    await vgic_put_irq(dist, irq)
    return True


async def vgic_flush_pending_lpis(dist: VgicDist, vcpu: VgicCpu) -> None:
    """``vgic_flush_pending_lpis``: drop every LPI from the ap_list, under ``ap_list_lock``.

    The put may be the last one, so the xarray lock is taken with
    ``ap_list_lock`` held and interrupts off -- the seed-001 situation.
    """
    flags = await vcpu.ap_list_lock.lock_irqsave()
    while vcpu.ap_list:
        irq = vcpu.ap_list.pop(0)
        await irq.irq_lock.lock()
        irq.pending_latch = False
        irq.vcpu = None
        irq.irq_lock.unlock()
        await vgic_put_irq(dist, irq)
    vcpu.ap_list_lock.unlock_irqrestore(flags)

