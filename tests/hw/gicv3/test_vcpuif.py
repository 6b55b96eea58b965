"""GICv3 virtualization: ICH_*_EL2 and ICV_*_EL1 through the bus-level sysreg API."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab.arch.gicv3_virt import ICH_LR_EL2, ICH_VMCR_EL2, VIRT_SYSREG_NAMES
from irqlab.errors import UndefinedInstruction
from irqlab.hw.gicv3.vcpuif import virtual_priority_bits
from irqlab.hw.machine import Cpu, Machine

PENDING, ACTIVE = 1, 2


def lr(vintid: int, *, state: int = PENDING, prio: int = 0xA0, group: int = 1, hw: int = 0,
       pintid: int = 0, eoi: int = 0) -> int:
    v = ICH_LR_EL2.encode(vINTID=vintid, pINTID=pintid, Priority=prio, Group=group, HW=hw,
                          State=state)
    return v | (eoi << 41)


@pytest.fixture
def m() -> Machine:
    return Machine.virt(cpus=2, gic=3, virtualization=True)


def guest_on(c: Cpu, *, pmr: int = 0xFF) -> None:
    c.write_sysreg("ICH_HCR_EL2", 1)
    c.write_sysreg("ICV_IGRPEN1_EL1", 1)
    c.write_sysreg("ICV_IGRPEN0_EL1", 1)
    c.write_sysreg("ICV_PMR_EL1", pmr)


def test_vtr_and_ctlr_id_fields(m: Machine) -> None:
    c = m.cpus[0]
    # ListRegs=3, TDS, nV4, A3V, IDbits=1 (24-bit vINTIDs), PREbits=4, PRIbits=4 (as QEMU)
    assert c.read_sysreg("ICH_VTR_EL2") == (3 | 1 << 19 | 1 << 20 | 1 << 21 | 1 << 23
                                            | 4 << 26 | 4 << 29)
    assert c.read_sysreg("ICV_CTLR_EL1") == 4 << 8 | 1 << 11 | 1 << 15
    assert virtual_priority_bits(5) == (5, 5)
    assert virtual_priority_bits(8) == (8, 7)
    assert virtual_priority_bits(4) == (5, 5)


def test_reset_reads(m: Machine) -> None:
    c = m.cpus[1]
    assert c.read_sysreg("ICH_HCR_EL2") == 0
    assert c.read_sysreg("ICH_VMCR_EL2") == ICH_VMCR_EL2.encode(VFIQEn=1, VBPR0=2, VBPR1=3)
    assert c.read_sysreg("ICH_ELRSR_EL2") == 0xF
    assert c.read_sysreg("ICH_EISR_EL2") == 0 == c.read_sysreg("ICH_MISR_EL2")
    assert c.read_sysreg("ICV_RPR_EL1") == 0xFF
    assert c.read_sysreg("ICV_IAR1_EL1") == 1023
    assert not c.virq_line and not c.vfiq_line


def test_lr_encoding_round_trip_and_res0(m: Machine) -> None:
    c = m.cpus[0]
    v = lr(0x2345, state=3, prio=0xA7, group=1, hw=1, pintid=0x1FFF) | 1 << 59 | 0x7 << 56
    c.write_sysreg("ICH_LR2_EL2", v)
    got = c.read_sysreg("ICH_LR2_EL2")
    assert ICH_LR_EL2.decode(got) == dict(vINTID=0x2345, pINTID=0x1FFF, Priority=0xA0, NMI=0,
                                          Group=1, HW=1, State=3)
    assert got == lr(0x2345, state=3, prio=0xA0, hw=1, pintid=0x1FFF)


def test_vmcr_round_trip_clamps_bpr_and_masks_pmr(m: Machine) -> None:
    c = m.cpus[0]
    c.write_sysreg("ICH_VMCR_EL2", ICH_VMCR_EL2.encode(VENG0=1, VENG1=1, VCBPR=1, VEOIM=1,
                                                       VBPR0=0, VBPR1=0, VPMR=0xFF, VAckCtl=1))
    assert ICH_VMCR_EL2.decode(c.read_sysreg("ICH_VMCR_EL2")) == dict(
        VENG0=1, VENG1=1, VAckCtl=0, VFIQEn=1, VCBPR=1, VEOIM=1, VBPR1=3, VBPR0=2, VPMR=0xF8)
    assert c.read_sysreg("ICV_CTLR_EL1") & 3 == 3
    assert c.read_sysreg("ICV_PMR_EL1") == 0xF8
    assert c.read_sysreg("ICV_BPR1_EL1") == 3  # VCBPR: BPR0 + 1
    c.write_sysreg("ICV_BPR1_EL1", 6)  # ignored while VCBPR
    c.write_sysreg("ICV_CTLR_EL1", 0)
    assert c.read_sysreg("ICV_BPR1_EL1") == 3
    c.write_sysreg("ICV_BPR1_EL1", 6)
    assert c.read_sysreg("ICV_BPR1_EL1") == 6


def test_round_trip_write_lr_iar_eoir_elrsr(m: Machine) -> None:
    c = m.cpus[0]
    guest_on(c)
    rec = m.events.record()
    c.write_sysreg("ICH_LR0_EL2", lr(40))
    assert c.virq_line and not c.vfiq_line
    assert c.read_sysreg("ICH_ELRSR_EL2") == 0b1110
    assert c.read_sysreg("ICV_HPPIR1_EL1") == 40 and c.read_sysreg("ICV_HPPIR0_EL1") == 1023
    assert c.read_sysreg("ICV_IAR0_EL1") == 1023  # wrong group
    assert c.read_sysreg("ICV_IAR1_EL1") == 40
    assert not c.virq_line
    assert c.read_sysreg("ICH_LR0_EL2") >> 62 == ACTIVE
    assert c.read_sysreg("ICV_RPR_EL1") == 0xA0
    assert c.read_sysreg("ICH_AP1R0_EL2") == 1 << (0xA0 >> 3)
    assert c.read_sysreg("ICV_AP1R0_EL1") == 1 << (0xA0 >> 3)
    c.write_sysreg("ICV_EOIR1_EL1", 40)
    assert c.read_sysreg("ICH_ELRSR_EL2") == 0xF
    assert c.read_sysreg("ICV_RPR_EL1") == 0xFF
    assert [(e.kind, e.get("vintid")) for e in rec.of("ich_lr_write", "vgic_lr_state",
                                                      "icv_ack", "icv_eoi")] == [
        ("ich_lr_write", 40), ("vgic_lr_state", 40), ("icv_ack", 1023), ("vgic_lr_state", 40),
        ("icv_ack", 40),
        ("vgic_lr_state", 40), ("icv_eoi", 40)]
    assert str(rec.of("ich_lr_write")[0]) == (
        "[0] cpu0 ich_lr_write lr=0x0 vintid=0x28 state=pending hw=0 pintid=0x0 "
        "priority=0xa0 group=0x1")


def test_group0_is_vfiq(m: Machine) -> None:
    c = m.cpus[0]
    guest_on(c)
    c.write_sysreg("ICH_LR1_EL2", lr(33, group=0))
    assert c.vfiq_line and not c.virq_line
    assert c.read_sysreg("ICV_IAR1_EL1") == 1023
    assert c.read_sysreg("ICV_IAR0_EL1") == 33
    c.write_sysreg("ICV_EOIR0_EL1", 33)
    assert c.read_sysreg("ICH_ELRSR_EL2") == 0xF


def test_preemption_nested(m: Machine) -> None:
    c = m.cpus[0]
    guest_on(c)
    c.write_sysreg("ICH_LR0_EL2", lr(40, prio=0xA0))
    assert c.read_sysreg("ICV_IAR1_EL1") == 40
    c.write_sysreg("ICH_LR1_EL2", lr(41, prio=0xA0))
    assert not c.virq_line  # same group priority
    c.write_sysreg("ICH_LR2_EL2", lr(42, prio=0x80))
    assert c.virq_line
    assert c.read_sysreg("ICV_IAR1_EL1") == 42
    assert c.read_sysreg("ICV_RPR_EL1") == 0x80
    c.write_sysreg("ICV_EOIR1_EL1", 42)
    assert c.read_sysreg("ICV_RPR_EL1") == 0xA0
    c.write_sysreg("ICV_EOIR1_EL1", 40)
    assert c.virq_line and c.read_sysreg("ICV_IAR1_EL1") == 41


def test_eoimode_split_and_dir(m: Machine) -> None:
    c = m.cpus[0]
    guest_on(c)
    c.write_sysreg("ICV_CTLR_EL1", 2)
    c.write_sysreg("ICH_LR0_EL2", lr(40))
    c.read_sysreg("ICV_IAR1_EL1")
    c.write_sysreg("ICV_EOIR1_EL1", 40)
    assert c.read_sysreg("ICH_LR0_EL2") >> 62 == ACTIVE
    assert c.read_sysreg("ICV_RPR_EL1") == 0xFF
    c.write_sysreg("ICV_DIR_EL1", 40)
    assert c.read_sysreg("ICH_LR0_EL2") >> 62 == 0


def test_hw_bit_deactivates_physical_spi(m: Machine) -> None:
    c = m.cpus[0]
    gicd = m.config.gicd[0]
    c.write(gicd + 0x304, 1 << 8)  # GICD_ISACTIVER1: SPI 40 active
    assert m.gic.is_active(40)
    guest_on(c)
    rec = m.events.record()
    c.write_sysreg("ICH_LR0_EL2", lr(27, hw=1, pintid=40))
    assert c.read_sysreg("ICV_IAR1_EL1") == 27
    assert m.gic.is_active(40)
    c.write_sysreg("ICV_EOIR1_EL1", 27)
    assert not m.gic.is_active(40)
    assert rec.of("vgic_hw_deactivate")[0]["pintid"] == 40


def test_hw_bit_with_unimplemented_pintid_is_harmless(m: Machine) -> None:
    c = m.cpus[0]
    guest_on(c)
    c.write_sysreg("ICV_CTLR_EL1", 2)
    for p in (1000, 1021, 0x1FFF):
        c.write_sysreg("ICH_LR0_EL2", lr(50, state=ACTIVE, hw=1, pintid=p))
        c.write_sysreg("ICV_DIR_EL1", 50)
        assert c.read_sysreg("ICH_LR0_EL2") >> 62 == 0


def test_maintenance_ppi_reaches_the_gic(m: Machine) -> None:
    c = m.cpus[1]
    rec = m.events.record()
    c.write_sysreg("ICH_HCR_EL2", 1 | 1 << 1)  # En, UIE: no valid LR -> underflow
    assert c.read_sysreg("ICH_MISR_EL2") == 2
    assert m.gic.is_pending(25, 1) and not m.gic.is_pending(25, 0)
    e = rec.of("vgic_maintenance")[0]
    assert (e.cpu, e["causes"], e["level"]) == (1, "U", True)
    c.write_sysreg("ICH_LR0_EL2", lr(40))
    c.write_sysreg("ICH_LR1_EL2", lr(41))
    assert c.read_sysreg("ICH_MISR_EL2") == 0 and not m.gic.is_pending(25, 1)


def test_maintenance_eoi_and_eisr(m: Machine) -> None:
    c = m.cpus[0]
    guest_on(c)
    c.write_sysreg("ICH_LR3_EL2", lr(44, eoi=1))
    assert c.read_sysreg("ICH_ELRSR_EL2") == 0b0111
    c.read_sysreg("ICV_IAR1_EL1")
    c.write_sysreg("ICV_EOIR1_EL1", 44)
    assert c.read_sysreg("ICH_EISR_EL2") == 0b1000
    assert c.read_sysreg("ICH_ELRSR_EL2") == 0b0111
    assert c.read_sysreg("ICH_MISR_EL2") == 1 and m.gic.is_pending(25, 0)
    c.write_sysreg("ICH_LR3_EL2", 0)
    assert c.read_sysreg("ICH_MISR_EL2") == 0 and not m.gic.is_pending(25, 0)


def test_maintenance_lrenp_counts_eois_without_lr(m: Machine) -> None:
    c = m.cpus[0]
    guest_on(c)
    c.write_sysreg("ICH_HCR_EL2", 1 | 1 << 2)
    c.write_sysreg("ICH_LR0_EL2", lr(40))
    c.read_sysreg("ICV_IAR1_EL1")
    c.write_sysreg("ICH_LR0_EL2", 0)  # the hypervisor took the LR away
    c.write_sysreg("ICV_EOIR1_EL1", 40)
    hcr = c.read_sysreg("ICH_HCR_EL2")
    assert hcr >> 27 == 1
    assert c.read_sysreg("ICH_MISR_EL2") == 4
    c.write_sysreg("ICH_HCR_EL2", hcr & ~(0x1F << 27))
    assert c.read_sysreg("ICH_MISR_EL2") == 0


@pytest.mark.parametrize(("hcr_bit", "misr", "igrpen0", "igrpen1"),
                         [(4, 0x10, 1, 0), (5, 0x20, 0, 0), (6, 0x40, 0, 1), (7, 0x80, 0, 0)])
def test_maintenance_group_conditions(m: Machine, hcr_bit: int, misr: int, igrpen0: int,
                                      igrpen1: int) -> None:
    c = m.cpus[0]
    c.write_sysreg("ICH_HCR_EL2", 1 | 1 << hcr_bit)
    c.write_sysreg("ICV_IGRPEN0_EL1", igrpen0)
    c.write_sysreg("ICV_IGRPEN1_EL1", igrpen1)
    assert c.read_sysreg("ICH_MISR_EL2") == misr
    assert m.gic.is_pending(25, 0)


def test_maintenance_np(m: Machine) -> None:
    c = m.cpus[0]
    c.write_sysreg("ICH_HCR_EL2", 1 | 1 << 3)
    assert c.read_sysreg("ICH_MISR_EL2") == 8
    c.write_sysreg("ICH_LR0_EL2", lr(40))
    assert c.read_sysreg("ICH_MISR_EL2") == 0


def test_world_switch_save_clear_restore(m: Machine) -> None:
    c = m.cpus[0]
    guest_on(c, pmr=0xF0)
    c.write_sysreg("ICV_BPR1_EL1", 4)
    c.write_sysreg("ICH_LR0_EL2", lr(40, prio=0x80))
    c.write_sysreg("ICH_LR1_EL2", lr(41, prio=0x40, hw=1, pintid=50))
    assert c.read_sysreg("ICV_IAR1_EL1") == 41  # active, group priority 0x40
    c.write_sysreg("ICH_LR2_EL2", lr(42, prio=0x20, group=0, eoi=1))  # pending, preempts
    lines = (c.virq_line, c.vfiq_line)
    regs = ["ICH_VMCR_EL2", "ICH_AP0R0_EL2", "ICH_AP1R0_EL2", "ICH_HCR_EL2"] + \
        [f"ICH_LR{i}_EL2" for i in range(4)]
    saved = {r: c.read_sysreg(r) for r in regs}
    # exit: clear everything
    for r in regs:
        c.write_sysreg(r, 0)
    assert not c.virq_line and not c.vfiq_line
    assert c.read_sysreg("ICH_ELRSR_EL2") == 0xF
    # another vCPU could run here
    c.write_sysreg("ICH_LR0_EL2", lr(99))
    c.write_sysreg("ICH_LR0_EL2", 0)
    # entry: restore (VMCR and APRs first, LRs last, HCR.En at the end)
    for r in regs:
        c.write_sysreg(r, saved[r])
    assert {r: c.read_sysreg(r) for r in regs} == saved
    assert (c.virq_line, c.vfiq_line) == lines == (False, True)
    assert c.read_sysreg("ICV_RPR_EL1") == 0x40
    assert c.read_sysreg("ICV_IAR0_EL1") == 42
    c.write_sysreg("ICV_EOIR0_EL1", 42)
    c.write_sysreg("ICV_EOIR1_EL1", 41)
    assert c.read_sysreg("ICV_IAR1_EL1") == 40


def test_undefined_accesses(m: Machine) -> None:
    c = m.cpus[0]
    for name in ("ICV_IAR1_EL1", "ICV_HPPIR0_EL1", "ICV_RPR_EL1", "ICH_VTR_EL2", "ICH_MISR_EL2",
                 "ICH_EISR_EL2", "ICH_ELRSR_EL2"):
        with pytest.raises(UndefinedInstruction, match=f"^{name}: not writable"):
            c.write_sysreg(name, 0)
    for name in ("ICV_EOIR0_EL1", "ICV_EOIR1_EL1", "ICV_DIR_EL1"):
        with pytest.raises(UndefinedInstruction, match=f"^{name}: not readable"):
            c.read_sysreg(name)
    for name in ("ICH_LR4_EL2", "ICH_LR15_EL2", "ICH_AP0R1_EL2", "ICH_AP1R3_EL2",
                 "ICV_AP1R2_EL1"):
        with pytest.raises(UndefinedInstruction):
            c.read_sysreg(name)
        with pytest.raises(UndefinedInstruction):
            c.write_sysreg(name, 0)


def test_no_virtualization_everything_undefined() -> None:
    m = Machine.virt(cpus=1, gic=3)
    c = m.cpus[0]
    for name in VIRT_SYSREG_NAMES:
        with pytest.raises(UndefinedInstruction, match=re.escape(name)):
            c.read_sysreg(name)
    assert not c.virq_line and not c.vfiq_line


def test_more_list_registers_and_preemption_bits() -> None:
    m = Machine.virt(cpus=1, gic=3, virtualization=True, list_registers=16, priority_bits=8)
    c = m.cpus[0]
    vtr = c.read_sysreg("ICH_VTR_EL2")
    assert vtr & 0x1F == 15 and (vtr >> 26) & 7 == 6 and vtr >> 29 == 7
    c.write_sysreg("ICH_AP1R3_EL2", 1 << 31)
    assert c.read_sysreg("ICV_RPR_EL1") == 0xFE
    c.write_sysreg("ICH_LR15_EL2", lr(40, prio=0xFD))
    guest_on(c)
    assert c.virq_line  # group priority 0xFC (VBPR1=1) < running priority 0xFE
    c.write_sysreg("ICV_BPR1_EL1", 7)
    assert c.read_sysreg("ICV_BPR1_EL1") == 7
    assert not c.virq_line  # group priority [7]: 0x80 == 0x80, no preemption


def test_virtual_ap_registers_hold_one_bit_per_preemption_level() -> None:
    """ICH_VTR_EL2.PREbits >= 4 (5 preemption bits at least): every bit of the implemented
    ICH_AP<g>R<n>_EL2 is a level, so ICV_RPR_EL1 stays within [7:0] (also with 4
    physical priority bits, where the physical AP registers keep only bits [15:0])."""
    m = Machine.virt(cpus=1, gic=3, virtualization=True, priority_bits=4)
    c = m.cpus[0]
    assert (c.read_sysreg("ICH_VTR_EL2") >> 26) & 7 == 4
    for g in (0, 1):
        c.write_sysreg(f"ICH_AP{g}R0_EL2", (1 << 64) - 1)
        assert c.read_sysreg(f"ICV_AP{g}R0_EL1") == 0xFFFF_FFFF
        assert c.read_sysreg("ICV_RPR_EL1") == 0
        c.write_sysreg(f"ICV_AP{g}R0_EL1", 1 << 31)
        assert c.read_sysreg("ICV_RPR_EL1") == 0xF8
        c.write_sysreg(f"ICH_AP{g}R0_EL2", 0)
    assert c.read_sysreg("ICV_RPR_EL1") == 0xFF


# -- fuzz ------------------------------------------------------------------------------
def ref_lines(c: Cpu) -> tuple[bool, bool]:
    """A slow reference: decode every register and compute the virtual lines."""
    hcr = c.read_sysreg("ICH_HCR_EL2")
    if not hcr & 1:
        return False, False
    vmcr = ICH_VMCR_EL2.decode(c.read_sysreg("ICH_VMCR_EL2"))
    vtr = c.read_sysreg("ICH_VTR_EL2")
    prebits = ((vtr >> 26) & 7) + 1
    best = None
    for i in range((vtr & 0x1F) + 1):
        f = ICH_LR_EL2.decode(c.read_sysreg(f"ICH_LR{i}_EL2"))
        if f["State"] != 1 or not vmcr["VENG1" if f["Group"] else "VENG0"]:
            continue
        if f["Priority"] < (best["Priority"] if best else 0xFF):
            best = f
    if best is None or best["Priority"] >= vmcr["VPMR"]:
        return False, False
    ap = 0
    for n in range(1 << (prebits - 5)):
        ap |= (c.read_sysreg(f"ICH_AP0R{n}_EL2") | c.read_sysreg(f"ICH_AP1R{n}_EL2")) << (32 * n)
    if ap:
        rprio = ((ap & -ap).bit_length() - 1) << (8 - prebits)
        if best["Group"] and not vmcr["VCBPR"]:
            mask = (0xFF << vmcr["VBPR1"]) & 0xFF
        else:
            mask = (0xFF << (vmcr["VBPR0"] + 1)) & 0xFF
        if (best["Priority"] & mask) >= (rprio & mask):
            return False, False
    return bool(best["Group"]), not best["Group"]


_WRITABLE = ["ICH_HCR_EL2", "ICH_VMCR_EL2", "ICH_AP0R0_EL2", "ICH_AP1R0_EL2", "ICV_EOIR0_EL1",
             "ICV_EOIR1_EL1", "ICV_DIR_EL1", "ICV_PMR_EL1", "ICV_BPR0_EL1", "ICV_BPR1_EL1",
             "ICV_CTLR_EL1", "ICV_IGRPEN0_EL1", "ICV_IGRPEN1_EL1"] + \
    [f"ICH_LR{i}_EL2" for i in range(4)]


def _lr_value() -> st.SearchStrategy[int]:
    return st.builds(lambda v, p, pr, g, h, s, extra: lr(v, state=s, prio=pr, group=g, hw=h,
                                                        pintid=p) | extra,
                     st.sampled_from([1, 27, 40, 41, 1021, 8192, 0xFFFFFF]),
                     st.sampled_from([0, 40, 50, 1000, 1 << 9, 0x1FFF]),
                     st.integers(0, 255), st.integers(0, 1), st.integers(0, 1),
                     st.integers(0, 3), st.sampled_from([0, 1 << 59, 1 << 41]))


_STEP = st.one_of(
    st.tuples(st.just("w"), st.sampled_from(_WRITABLE),
              st.one_of(st.integers(0, (1 << 64) - 1), st.sampled_from([0, 1, 27, 40, 41]))),
    st.tuples(st.just("w"), st.sampled_from([f"ICH_LR{i}_EL2" for i in range(4)]), _lr_value()),
    st.tuples(st.just("r"), st.sampled_from(sorted(VIRT_SYSREG_NAMES)), st.just(0)),
    st.tuples(st.just("w"), st.sampled_from(sorted(VIRT_SYSREG_NAMES)), st.integers(0, 255)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_STEP, max_size=40))
def test_fuzz_ich_icv_lines_match_reference(steps: list[tuple[str, str, int]]) -> None:
    m = Machine.virt(cpus=1, gic=3, virtualization=True)
    c = m.cpus[0]
    for op, name, value in steps:
        try:
            if op == "w":
                c.write_sysreg(name, value)
            else:
                c.read_sysreg(name)
        except UndefinedInstruction:
            pass
        assert (c.virq_line, c.vfiq_line) == ref_lines(c)
        misr = c.read_sysreg("ICH_MISR_EL2")
        en = c.read_sysreg("ICH_HCR_EL2") & 1
        assert m.gic.is_pending(25, 0) == bool(en and misr)
        eisr, elrsr = c.read_sysreg("ICH_EISR_EL2"), c.read_sysreg("ICH_ELRSR_EL2")
        for i in range(4):
            valid = c.read_sysreg(f"ICH_LR{i}_EL2") >> 62 != 0
            assert valid + (eisr >> i & 1) + (elrsr >> i & 1) == 1


def test_trace_names_lr_states_and_maintenance_causes(m: Machine) -> None:
    c = m.cpus[0]
    guest_on(c)
    c.write_sysreg("ICH_HCR_EL2", 1 | 1 << 3)  # En, NPIE
    rec = m.events.record()
    c.write_sysreg("ICH_LR0_EL2", lr(40, eoi=1))
    c.read_sysreg("ICV_IAR1_EL1")
    c.write_sysreg("ICV_EOIR1_EL1", 40)
    text = [e.text() for e in rec if e.kind.startswith(("ich_", "icv_", "vgic_"))]
    assert text == [
        "ich_lr_write lr=0x0 vintid=0x28 state=pending hw=0 pintid=0x200 priority=0xa0 "
        "group=0x1",
        "vgic_lr_state lr=0x0 vintid=0x28 from=invalid to=pending why=write",
        "vgic_lines virq=1 vfiq=0 vintid=0x28",
        "vgic_maintenance level=0 causes=none misr=0x0",
        "vgic_lr_state lr=0x0 vintid=0x28 from=pending to=active why=ack",
        "icv_ack vintid=0x28 lr=0x0 group=0x1",
        "vgic_lines virq=0 vfiq=0 vintid=0x3ff",
        "vgic_maintenance level=1 causes=NP misr=0x8",
        "vgic_lr_state lr=0x0 vintid=0x28 from=active to=invalid why=eoi",
        "icv_eoi vintid=0x28 lr=0x0 result=deactivated",
        "vgic_maintenance level=1 causes=EOI,NP misr=0x9",
    ]
