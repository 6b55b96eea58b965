"""Per-interrupt state of SGIs, PPIs and SPIs, and the bit-vector registers that expose it.

An :class:`IrqBank` holds the state of a run of INTIDs as parallel lists
indexed by INTID: one bank per redistributor for SGIs/PPIs (0..31, banked per
CPU) and one in the Distributor for SPIs (32..32+spis-1).  The same register
semantics (IGROUPR, ISENABLER, ISPENDR, ..., IPRIORITYR, ICFGR) serve both the
GICD frame and the GICR SGI_base frame.

Every state change ends with :meth:`IrqBank.touch` (queue the interrupt on
its target CPU interface if it became deliverable) and then
:meth:`GICv3.flush` (recompute the lines of the CPU interfaces touched).
Nothing here may raise on guest input.
"""

from __future__ import annotations

from heapq import heappush
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from irqlab.hw.gicv3 import GICv3

__all__ = ["LEVEL_SHIFT", "NO_KEY", "IrqBank", "PrioQueue"]

#: Candidate keys pack (priority, INTID) as ``priority << 32 | INTID``: int compares are cheap.
NO_KEY = (0x100 << 32) | 1023


#: Bucket of a priority: its top 5 bits (``p >> LEVEL_SHIFT``), so that the bitmap of
#: non-empty buckets stays a one-digit Python int whatever distributor_priority_bits is.
LEVEL_SHIFT = 3


class PrioQueue:
    """Pending candidates bucketed by priority, with lazy deletion.

    32 buckets by the top 5 bits of the priority, each a min-heap of keys
    ``priority << 32 | INTID`` (so the full stored priority orders a bucket,
    then the lowest INTID: the IMPDEF tie-break), and a bitmap ``bm`` of the
    buckets that may hold entries: the best candidate is the top of the
    lowest set bit's heap, and a push or pop costs O(log n) in the entries
    *of that bucket* only.  ``inq[i]`` is the priority of an entry for ``i``
    known to be in the queue, so a state change that re-pushes an interrupt
    already queued with the same priority adds nothing.  The owner validates
    the top entry against the real interrupt state when it peeks and pops
    stale entries.
    """

    __slots__ = ("bm", "inq", "levels")

    def __init__(self) -> None:
        self.levels: dict[int, list[int]] = {}
        self.bm = 0
        self.inq: dict[int, int] = {}

    def push(self, p: int, i: int) -> None:
        if self.inq.get(i) != p:
            lv = p >> LEVEL_SHIFT
            lst = self.levels.get(lv)
            if lst is None:
                lst = self.levels[lv] = []
            heappush(lst, (p << 32) | i)
            self.bm |= 1 << lv
            self.inq[i] = p

    def clear(self) -> None:
        self.levels.clear()
        self.bm = 0
        self.inq.clear()

    def __len__(self) -> int:
        return sum(len(v) for v in self.levels.values())


class IrqBank:
    """State of INTIDs ``[first, end)``: group, enable, pending latch, line level, active, ...

    ``target[i]`` is the processor number of the CPU interface the interrupt
    is forwarded to (-1: none, e.g. an SPI routed to an affinity no CPU has).
    The pending state of interrupt ``i`` is ``latch[i] or (level[i] and not
    edge[i])`` (IHI 0069 4.1.2: for a level-sensitive interrupt the pending
    state follows the line, plus the latch software sets with ISPENDR).
    """

    __slots__ = ("active", "edge", "enabled", "end", "first", "gic", "group", "latch", "level",
                 "prio", "target")

    def __init__(self, gic: GICv3, first: int, end: int, target: int) -> None:
        self.gic = gic
        self.first = first
        self.end = end
        #: 0 = Group 0, 1 = Group 1 (GICD_CTLR.DS == 1: no Secure Group 1).
        self.group = [0] * end
        self.enabled = [False] * end
        self.latch = [False] * end
        self.level = [False] * end
        self.active = [False] * end
        self.prio = [0] * end
        # SGIs are always edge-triggered; PPIs and SPIs reset level-sensitive (as QEMU).
        self.edge = [i < 16 for i in range(end)]
        self.target = [target] * end

    # -- state --------------------------------------------------------------
    def pending(self, i: int) -> bool:
        return self.latch[i] or (self.level[i] and not self.edge[i])

    def deliverable(self, i: int) -> bool:
        """Pending, enabled and not active: a candidate for its CPU interface's HPPI."""
        return self.enabled[i] and not self.active[i] and \
            (self.latch[i] or (self.level[i] and not self.edge[i]))

    def touch(self, i: int) -> None:
        """Queue ``i`` on its target CPU interface if deliverable; mark that interface dirty."""
        t = self.target[i]
        if t < 0:
            return
        gic = self.gic
        gic.dirty[t] = None
        if self.enabled[i] and not self.active[i] and \
                (self.latch[i] or (self.level[i] and not self.edge[i])):
            gic.cpuifs[t].queues[self.group[i]].push(self.prio[i], i)

    # -- 32-INTID bit-vector registers -------------------------------------
    def _range(self, base: int) -> range:
        lo = max(base, self.first)
        hi = min(base + 32, self.end)
        return range(lo, hi)

    def read_bits(self, name: str, base: int) -> int:
        """IGROUPR / ISENABLER / ISPENDR / ISACTIVER value for INTIDs ``base..base+31``."""
        v = 0
        if name == "pending":
            for i in self._range(base):
                if self.latch[i] or (self.level[i] and not self.edge[i]):
                    v |= 1 << (i - base)
            return v
        arr = getattr(self, name)
        for i in self._range(base):
            if arr[i]:
                v |= 1 << (i - base)
        return v

    def _bits(self, base: int, value: int) -> list[int]:
        r = self._range(base)
        out = []
        while value:
            low = value & -value
            i = base + low.bit_length() - 1
            if i in r:
                out.append(i)
            value ^= low
        return out

    def write_group(self, base: int, value: int) -> None:
        """IGROUPR: each bit sets the group of one INTID."""
        for i in self._range(base):
            g = (value >> (i - base)) & 1
            if self.group[i] != g:
                self.group[i] = g
                self.gic.group_changed(self, i)
                self.touch(i)

    def set_enable(self, base: int, value: int, on: bool) -> None:
        for i in self._bits(base, value):
            if self.enabled[i] != on:
                self.enabled[i] = on
                self.touch(i)

    def set_latch(self, base: int, value: int, on: bool) -> None:
        """ISPENDR (on) / ICPENDR (off): the software pending latch; the line level stays."""
        ev = self.gic.events
        for i in self._bits(base, value):
            if self.latch[i] != on:
                self.latch[i] = on
                if ev.enabled:
                    ev.emit("gic_pending_latch", cpu=self._cpu_of(i), intid=i, value=on)
                self.touch(i)

    def set_active(self, base: int, value: int, on: bool) -> None:
        ev = self.gic.events
        for i in self._bits(base, value):
            if self.active[i] != on:
                self.active[i] = on
                if ev.enabled:
                    ev.emit("gic_active", cpu=self._cpu_of(i), intid=i, value=on)
                self.touch(i)

    def _cpu_of(self, i: int) -> int | None:
        return self.target[i] if self.first == 0 else None

    def read_prio(self, off: int, size: int, base: int) -> int:
        """IPRIORITYR bytes ``base + off .. + size - 1``."""
        v = 0
        for k in range(size):
            i = base + off + k
            if self.first <= i < self.end:
                v |= self.prio[i] << (8 * k)
        return v

    def write_prio(self, off: int, value: int, size: int, base: int) -> None:
        mask = self.gic.prio_mask
        for k in range(size):
            i = base + off + k
            if self.first <= i < self.end:
                p = (value >> (8 * k)) & mask
                if self.prio[i] != p:
                    self.prio[i] = p
                    self.touch(i)

    def read_cfg(self, base: int) -> int:
        """ICFGR for INTIDs ``base..base+15``: Int_config[1] of each 2-bit field = edge."""
        v = 0
        for i in range(max(base, self.first), min(base + 16, self.end)):
            if self.edge[i]:
                v |= 2 << (2 * (i - base))
        return v

    def write_cfg(self, base: int, value: int) -> None:
        for i in range(max(base, self.first, 16), min(base + 16, self.end)):
            e = bool((value >> (2 * (i - base) + 1)) & 1)
            if self.edge[i] != e:
                self.edge[i] = e
                self.touch(i)
