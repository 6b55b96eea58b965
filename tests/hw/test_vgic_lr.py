"""The shared list-register core: HPPVI, preemption, ack/EOI/DIR, maintenance conditions."""

from __future__ import annotations

import pytest

from irqlab.events import EventStream
from irqlab.hw.vgic_lr import MISR_CAUSES, VgicCpuInterface, misr_text

INVALID, PENDING, ACTIVE, PA = 0, 1, 2, 3


class FakeGic:
    def __init__(self) -> None:
        self.levels: list[tuple[int, bool, int | None]] = []
        self.deactivated: list[tuple[int, int]] = []

    def set_interrupt_level(self, intid: int, level: bool, *, cpu: int | None = None) -> None:
        self.levels.append((intid, level, cpu))

    def deactivate_physical(self, cpu: int, intid: int) -> None:
        self.deactivated.append((cpu, intid))


def make(n_lrs: int = 4) -> tuple[VgicCpuInterface, FakeGic, EventStream]:
    gic = FakeGic()
    ev = EventStream()
    v = VgicCpuInterface(gic=gic, cpu=1, events=ev, n_lrs=n_lrs, pribits=5, prebits=5,
                         maint_intid=25, prefix="icv")
    v.hcr = 1
    v.eng0 = v.eng1 = 1
    v.pmr = 0xF8
    return v, gic, ev


def test_reset_values() -> None:
    gic = FakeGic()
    v = VgicCpuInterface(gic=gic, cpu=0, events=EventStream(), n_lrs=4, pribits=5, prebits=5,
                         maint_intid=25, prefix="icv")
    assert (v.bpr0, v.bpr1, v.pmr, v.hcr, v.ap0, v.ap1) == (2, 3, 0, 0, 0, 0)
    assert v.elrsr() == 0xF and v.eisr() == 0 and v.misr() == 0
    assert not v.irq_line and not v.fiq_line and gic.levels == []


def test_hppvi_lowest_priority_then_lowest_index() -> None:
    v, _, _ = make()
    v.set_lr(0, PENDING, 40, 0, 0xA0, 1, 0)
    v.set_lr(1, PENDING, 41, 0, 0x80, 1, 0)
    v.set_lr(2, PENDING, 42, 0, 0x80, 1, 0)
    assert v.hppvi() == 1
    v.set_lr(1, PA, 41, 0, 0x80, 1, 0)  # pending+active is not a candidate
    assert v.hppvi() == 2


def test_lowest_priority_never_signalled_and_group_enable_filters() -> None:
    v, _, _ = make()
    v.set_lr(0, PENDING, 40, 0, 0xFF, 1, 0)
    assert v.lr_prio[0] == 0xF8  # unimplemented priority bits are RES0
    assert v.hppvi() == 0 and not v.irq_line  # masked by the highest PMR (0xF8)
    v.set_lr(0, INVALID, 0, 0, 0, 0, 0)
    v.set_lr(1, PENDING, 41, 0, 0x10, 0, 0)
    v.eng0 = 0
    v.update()
    assert v.hppvi() == -1 and not v.irq_line and not v.fiq_line


@pytest.mark.parametrize(("group", "fiqen", "irq", "fiq"),
                         [(1, 0, True, False), (1, 1, True, False), (0, 0, True, False),
                          (0, 1, False, True)])
def test_line_choice(group: int, fiqen: int, irq: bool, fiq: bool) -> None:
    v, _, _ = make()
    v.fiqen = fiqen
    v.set_lr(0, PENDING, 40, 0, 0x80, group, 0)
    assert (v.irq_line, v.fiq_line) == (irq, fiq)


def test_pmr_and_en_gate_the_lines() -> None:
    v, _, _ = make()
    v.set_lr(0, PENDING, 40, 0, 0x80, 1, 0)
    assert v.irq_line
    v.pmr = 0x80
    v.update()
    assert not v.irq_line
    v.pmr = 0x88
    v.hcr = 0
    v.update()
    assert not v.irq_line


def test_ack_sets_active_priority_and_preemption_by_group_priority() -> None:
    v, _, _ = make()
    v.set_lr(0, PENDING, 40, 0, 0x80, 1, 0)
    assert v.acknowledge(0) == 40
    assert v.lr_state[0] == ACTIVE
    assert v.ap1 == 1 << (0x80 >> 3) and v.running_priority() == 0x80
    # same group priority (BPR1=3 -> [7:3]): 0x80 vs 0x80 cannot preempt
    v.set_lr(1, PENDING, 41, 0, 0x80, 1, 0)
    assert not v.irq_line
    v.set_lr(1, PENDING, 41, 0, 0x78, 1, 0)
    assert v.irq_line
    # coarser binary point: 0x78 and 0x80 differ at bit 7 still; 0x90 vs 0x80 not
    v.set_lr(1, PENDING, 41, 0, 0x88, 1, 0)
    assert not v.irq_line


def test_special_vintid_ack_goes_invalid() -> None:
    v, _, _ = make()
    v.set_lr(0, PENDING, 1021, 0, 0x80, 1, 0)
    assert v.acknowledge(0) == 1021
    assert v.lr_state[0] == INVALID and v.ap1 == 0


def test_eoi_deactivates_and_emits_states() -> None:
    v, _, ev = make()
    rec = ev.record()
    v.set_lr(0, PENDING, 40, 0, 0x80, 1, 0)
    v.acknowledge(0)
    v.eoi(40, 1)
    assert v.lr_state[0] == INVALID and v.ap1 == 0
    states = [(e["from"], e["to"], e["why"]) for e in rec.of("vgic_lr_state")]
    assert states == [("invalid", "pending", "write"), ("pending", "active", "ack"),
                      ("active", "invalid", "eoi")]


def test_eoi_split_then_dir() -> None:
    v, _, _ = make()
    v.eoim = 1
    v.set_lr(0, PENDING, 40, 0, 0x80, 1, 0)
    v.acknowledge(0)
    v.eoi(40, 1)
    assert v.lr_state[0] == ACTIVE and v.ap1 == 0
    v.dir(40)
    assert v.lr_state[0] == INVALID


def test_dir_ignored_without_split() -> None:
    v, _, _ = make()
    v.set_lr(0, ACTIVE, 40, 0, 0x80, 1, 0)
    v.dir(40)
    assert v.lr_state[0] == ACTIVE and (v.hcr >> 27) == 0


def test_eoi_wrong_group_only_drops_priority() -> None:
    v, _, _ = make()
    v.set_lr(0, PENDING, 40, 0, 0x80, 1, 0)
    v.acknowledge(0)
    v.eoi(40, 0)
    assert v.lr_state[0] == ACTIVE and v.ap1 == 0


def test_eoi_without_lr_counts_and_without_active_priority_does_not() -> None:
    v, _, _ = make()
    v.eoi(50, 1)
    assert v.hcr >> 27 == 0  # no active priority: LRs not checked
    v.ap1 = 1 << 16
    v.eoi(50, 1)
    assert v.hcr >> 27 == 1 and v.ap1 == 0


def test_eoicount_wraps() -> None:
    v, _, _ = make()
    v.hcr |= 31 << 27
    v.eoim = 1
    v.dir(99)
    assert v.hcr >> 27 == 0


def test_hw_deactivation_calls_physical() -> None:
    v, gic, ev = make()
    rec = ev.record()
    v.set_lr(0, PENDING, 40, 77, 0x80, 1, 1)
    v.acknowledge(0)
    v.eoi(40, 1)
    assert gic.deactivated == [(1, 77)]
    assert rec.of("vgic_hw_deactivate")[0]["pintid"] == 77
    # a special physical INTID is not forwarded
    v.set_lr(1, ACTIVE, 41, 1021, 0x80, 1, 1)
    v.eoim = 1
    v.dir(41)
    assert gic.deactivated == [(1, 77)] and v.lr_state[1] == INVALID


def test_pending_active_deactivates_to_pending() -> None:
    v, _, _ = make()
    v.eoim = 1
    v.set_lr(0, PA, 40, 0, 0x80, 1, 0)
    v.dir(40)
    assert v.lr_state[0] == PENDING and v.irq_line


def test_eoi_picks_highest_active_priority_group0_first() -> None:
    v, _, _ = make()
    v.ap0 = 1 << 4
    v.ap1 = 1 << 4 | 1 << 8
    assert v._drop_priority() == 4 << 3
    assert (v.ap0, v.ap1) == (0, 1 << 4 | 1 << 8)
    assert v._drop_priority() == 4 << 3 and v.ap1 == 1 << 8


def test_cbpr_uses_bpr0_for_group1() -> None:
    v, _, _ = make()
    v.bpr0 = 4
    v.cbpr = 1
    assert v.gprio_mask(1) == 0xE0 == v.gprio_mask(0)
    v.cbpr = 0
    v.bpr1 = 4
    assert v.gprio_mask(1) == 0xF0


def test_bpr_minimums() -> None:
    v, _, _ = make()
    v.write_bpr0(0)
    v.write_bpr1(0)
    assert (v.bpr0, v.bpr1) == (2, 3)
    v.write_bpr0(9)
    assert v.bpr0 == 1 or v.bpr0 == 2  # 9 & 7 = 1, clamped to the minimum 2
    assert v.bpr0 == 2


# -- maintenance conditions, one by one --------------------------------------------------
def _misr(v: VgicCpuInterface) -> set[str]:
    m = v.misr()
    return {n for i, n in enumerate(MISR_CAUSES) if m >> i & 1}


def test_maintenance_eoi_condition() -> None:
    v, gic, _ = make()
    v.set_lr(0, PENDING, 40, 1 << 9, 0x80, 1, 0)  # EOI bit
    assert _misr(v) == set() and v.eisr() == 0 and v.elrsr() == 0b1110
    v.acknowledge(0)
    v.eoi(40, 1)
    assert _misr(v) == {"EOI"} and v.eisr() == 1 and v.elrsr() == 0b1110
    assert gic.levels[-1] == (25, True, 1)
    v.set_lr(0, INVALID, 0, 0, 0, 0, 0)
    assert _misr(v) == set() and gic.levels[-1] == (25, False, 1)


def test_eoi_bit_ignored_with_hw() -> None:
    v, _, _ = make()
    v.set_lr(0, INVALID, 40, (1 << 9) | 5, 0x80, 1, 1)
    assert v.eisr() == 0 and v.elrsr() == 0xF


@pytest.mark.parametrize("valid", [0, 1, 2])
def test_maintenance_underflow(valid: int) -> None:
    v, _, _ = make()
    v.hcr |= 1 << 1
    for i in range(valid):
        v.set_lr(i, ACTIVE, 40 + i, 0, 0x80, 1, 0)
    v.update()
    assert ("U" in _misr(v)) == (valid < 2)


def test_maintenance_lrenp() -> None:
    v, gic, _ = make()
    v.hcr |= 1 << 2
    assert "LRENP" not in _misr(v)
    v.ap1 = 1 << 16
    v.eoi(55, 1)
    assert _misr(v) == {"LRENP"} and v.maint_level and gic.levels == [(25, True, 1)]


def test_maintenance_np() -> None:
    v, _, _ = make()
    v.hcr |= 1 << 3
    v.update()
    assert _misr(v) == {"NP"}
    v.set_lr(0, PENDING, 40, 0, 0x80, 1, 0)
    assert _misr(v) == set()
    v.set_lr(0, PA, 40, 0, 0x80, 1, 0)  # pending+active is not "pending"
    assert _misr(v) == {"NP"}


@pytest.mark.parametrize(("bit", "name", "eng0", "eng1"),
                         [(4, "VGrp0E", 1, 0), (5, "VGrp0D", 0, 1), (6, "VGrp1E", 0, 1),
                          (7, "VGrp1D", 1, 0)])
def test_maintenance_group_enable_conditions(bit: int, name: str, eng0: int, eng1: int) -> None:
    v, _, _ = make()
    v.hcr |= 1 << bit
    v.eng0, v.eng1 = eng0, eng1
    v.update()
    assert _misr(v) == {name}
    v.eng0, v.eng1 = 1 - eng0, 1 - eng1
    v.update()
    assert _misr(v) == set()


def test_maintenance_line_needs_en_and_is_reported() -> None:
    v, gic, ev = make()
    rec = ev.record()
    v.hcr = (1 << 3)  # NPIE, En=0
    v.update()
    assert v.misr() == 8 and not v.maint_level and gic.levels == []
    v.hcr |= 1
    v.update()
    assert v.maint_level and gic.levels == [(25, True, 1)]
    e = rec.of("vgic_maintenance")[0]
    assert (e["causes"], e["level"], e.cpu) == ("NP", True, 1)


def test_misr_text() -> None:
    assert misr_text(0) == "none"
    assert misr_text(0b1001) == "EOI,NP"


def test_state_snapshot_round_trip() -> None:
    v, _, _ = make()
    v.set_lr(0, PA, 40, 3, 0x80, 1, 0)
    s = v.state()
    w, _, _ = make()
    for i in range(v.n_lrs):
        w.set_lr(i, v.lr_state[i], v.lr_vintid[i], v.lr_phys[i], v.lr_prio[i], v.lr_group[i],
                 v.lr_hw[i])
    assert w.state() == s
