"""GICv2 virtualization extensions: GICH list registers, GICV, maintenance interrupt."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab.arch.gicv2 import GICH_LR, GICH_VMCR
from irqlab.errors import ExternalAbort
from irqlab.hw.machine import Cpu, Machine

from .helpers import (
    C_ABPR,
    C_AEOIR,
    C_AHPPIR,
    C_AIAR,
    C_APR,
    C_BPR,
    C_CTLR,
    C_DIR,
    C_EOIR,
    C_HPPIR,
    C_IAR,
    C_IIDR,
    C_PMR,
    C_RPR,
    GICC,
    GICD,
    GICH,
    GICV,
    H_APR,
    H_EISR0,
    H_EISR1,
    H_ELRSR0,
    H_ELRSR1,
    H_HCR,
    H_LR,
    H_MISR,
    H_VMCR,
    H_VTR,
    ISENABLER,
    ack,
    enable_all,
    machine,
    setup_spi,
)

PENDING, ACTIVE, PA = 1, 2, 3


def lr(vid: int, *, state: int = PENDING, prio: int = 0xA0, grp1: int = 0, hw: int = 0,
       pid: int = 0, eoi: int = 0, cpuid: int = 0) -> int:
    phys = pid if hw else (cpuid | eoi << 9)
    return GICH_LR.encode(VirtualID=vid, PhysicalID=phys, Priority=prio >> 3, State=state,
                          Grp1=grp1, HW=hw)


@pytest.fixture
def m() -> Machine:
    return machine(cpus=2, virtualization=True)


def guest_on(c: Cpu, *, ctlr: int = 1, pmr: int = 0xF8) -> None:
    c.write(GICH + H_HCR, 1)
    c.write(GICV + C_CTLR, ctlr)
    c.write(GICV + C_PMR, pmr)


def test_reset_reads(m: Machine) -> None:
    c = m.cpus[0]
    assert c.read(GICH + H_HCR) == 0
    assert c.read(GICH + H_VMCR) == GICH_VMCR.encode(VMBP=2, VMABP=3)
    assert c.read(GICH + H_ELRSR0) == 0xF and c.read(GICH + H_ELRSR1) == 0
    assert c.read(GICH + H_EISR0) == 0 == c.read(GICH + H_EISR1) == c.read(GICH + H_MISR)
    assert c.read(GICV + C_IIDR) == 0x0002_043B
    assert c.read(GICV + C_IAR) == 1023 and c.read(GICV + C_RPR) == 0xFF


def test_lr_round_trip_and_reserved_bits(m: Machine) -> None:
    c = m.cpus[0]
    v = lr(0x3FF, state=PA, prio=0xFF, grp1=1, hw=1, pid=0x3FF)
    c.write(GICH + H_LR + 8, v | 0x7 << 20)
    assert c.read(GICH + H_LR + 8) == v
    c.write(GICH + H_LR + 0x10, 0xFFFF_FFFF)  # LR4: not implemented, RAZ/WI
    assert c.read(GICH + H_LR + 0x10) == 0
    assert c.read(GICH + H_LR, size=4) == 0 and m.cpus[1].read(GICH + H_LR + 8) == 0


def test_vmcr_aliases_gicv_registers(m: Machine) -> None:
    c = m.cpus[0]
    c.write(GICV + C_CTLR, 0xFFFF_FFFF)
    c.write(GICV + C_PMR, 0xFF)
    c.write(GICV + C_BPR, 5)
    c.write(GICV + C_ABPR, 0)
    assert c.read(GICV + C_CTLR) == 0x21F  # bits [4:0] and EOImode [9]
    assert c.read(GICV + C_PMR) == 0xF8
    assert c.read(GICV + C_ABPR) == 3  # VMABP (its minimum), whatever CBPR
    assert GICH_VMCR.decode(c.read(GICH + H_VMCR)) == dict(
        VMGrp0En=1, VMGrp1En=1, VMAckCtl=1, VMFIQEn=1, VMCBPR=1, VEM=1, VMABP=3, VMBP=5,
        VMPriMask=0x1F)
    c.write(GICH + H_VMCR, GICH_VMCR.encode(VMGrp1En=1, VMABP=4, VMBP=3, VMPriMask=0x10))
    assert (c.read(GICV + C_CTLR), c.read(GICV + C_PMR), c.read(GICV + C_BPR),
            c.read(GICV + C_ABPR)) == (2, 0x80, 3, 4)


def test_gicv_abpr_is_vmabp_whatever_cbpr(m: Machine) -> None:
    """GICV_ABPR reads and writes GICH_VMCR.VMABP also with GICV_CTLR.CBPR set.

    As GICC_ABPR without the Security Extensions (and QEMU's vcpu): CBPR changes which
    binary point preemption uses, not what the register holds.
    """
    c = m.cpus[0]
    c.write(GICV + C_ABPR, 5)
    c.write(GICV + C_CTLR, 1 << 4)  # CBPR
    c.write(GICV + C_BPR, 2)
    assert c.read(GICV + C_ABPR) == 5
    c.write(GICV + C_ABPR, 6)
    vm = GICH_VMCR.decode(c.read(GICH + H_VMCR))
    assert (c.read(GICV + C_ABPR), vm["VMABP"], vm["VMBP"], vm["VMCBPR"]) == (6, 6, 2, 1)
    c.write(GICH + H_VMCR, GICH_VMCR.encode(VMCBPR=1, VMABP=4, VMBP=3))
    assert c.read(GICV + C_ABPR) == 4


def test_gicv_cbpr_makes_vbpr_the_group1_binary_point(m: Machine) -> None:
    c = m.cpus[0]
    guest_on(c, ctlr=0b110)  # group 1, AckCtl
    c.write(GICH + H_LR, lr(40, prio=0xA0, grp1=1))
    assert c.read(GICV + C_IAR) == 40  # running priority 0xA0
    c.write(GICV + C_ABPR, 7)  # group 1 group priority [7:7]: 0x90 and 0xA0 are one group
    c.write(GICV + C_BPR, 4)  # group priority [7:5]: 0x80 < 0xA0
    c.write(GICH + H_LR + 4, lr(41, prio=0x90, grp1=1))
    assert not c.virq_line
    c.write(GICV + C_CTLR, 0b110 | 1 << 4)  # CBPR: GICV_BPR for group 1 too
    assert c.virq_line and c.read(GICV + C_ABPR) == 7


def test_gicv_hppir_reads_1023_while_the_interface_is_disabled(m: Machine) -> None:
    """GICH_HCR.En = 0: GICV_HPPIR / AHPPIR read 1023, as GICV_IAR (QEMU gic_update_internal)."""
    c = m.cpus[0]
    c.write(GICV + C_CTLR, 0b111)  # both groups, AckCtl
    c.write(GICV + C_PMR, 0x80)
    c.write(GICH + H_LR, lr(31, prio=0xA0, grp1=1))
    assert (c.read(GICV + C_HPPIR), c.read(GICV + C_AHPPIR), c.read(GICV + C_IAR)) == (
        1023, 1023, 1023)
    c.write(GICH + H_HCR, 1)
    # enabled: the HPPVI whatever GICV_PMR (as the physical GICC_HPPIR), not acknowledged
    assert (c.read(GICV + C_HPPIR), c.read(GICV + C_AHPPIR), c.read(GICV + C_IAR)) == (
        31, 31, 1023)


def test_gich_decodes_one_4k_block(m: Machine) -> None:
    """As QEMU's 4 KiB gic_viface region and the GICD window: nothing decodes beyond."""
    c = m.cpus[0]
    c.write(GICH + 0xFFC, 0xFFFF_FFFF)  # reserved inside the block: RAZ/WI
    assert c.read(GICH + 0xFFC) == 0 and c.read(GICH + 0x200) == 0
    for off in (0x1000, 0x1100, 0x2000, 0xFFFC):
        with pytest.raises(ExternalAbort, match="no device decodes"):
            c.read(GICH + off)
        with pytest.raises(ExternalAbort, match="no device decodes"):
            c.write(GICH + off, 1)
    assert c.read(GICV + C_DIR) == 0  # GICV keeps its 8 KiB (GICV_DIR at 0x1000)


def test_guest_round_trip(m: Machine) -> None:
    c = m.cpus[0]
    guest_on(c)
    rec = m.events.record()
    c.write(GICH + H_LR, lr(40))
    assert c.virq_line and not c.vfiq_line and not c.irq_line
    assert c.read(GICV + C_HPPIR) == 40
    assert c.read(GICV + C_IAR) == 40
    assert not c.virq_line and c.read(GICH + H_LR) >> 28 & 3 == ACTIVE
    assert c.read(GICV + C_RPR) == 0xA0 and c.read(GICV + C_APR) == 1 << 20
    assert c.read(GICH + H_APR) == 1 << 20
    c.write(GICV + C_EOIR, 40)
    assert c.read(GICH + H_ELRSR0) == 0xF and c.read(GICV + C_RPR) == 0xFF
    assert [e.kind for e in rec.of("gich_lr_write", "vgic_lr_state", "gicv_*")] == [
        "gich_lr_write", "vgic_lr_state", "vgic_lr_state", "gicv_ack", "vgic_lr_state",
        "gicv_eoi"]


def test_virtual_sgi_cpuid(m: Machine) -> None:
    c = m.cpus[0]
    guest_on(c)
    c.write(GICH + H_LR, lr(3, cpuid=1))
    c.write(GICH + H_LR + 4, lr(3, cpuid=0, prio=0xB0))
    assert c.read(GICV + C_HPPIR) == 1 << 10 | 3
    assert c.read(GICV + C_IAR) == 1 << 10 | 3
    c.write(GICV + C_EOIR, 0 << 10 | 3)  # wrong CPUID: no LR matches
    assert c.read(GICH + H_HCR) >> 27 == 1
    assert c.read(GICH + H_LR) >> 28 & 3 == ACTIVE
    c.write(GICV + C_APR, 1 << 20)
    c.write(GICV + C_EOIR, 1 << 10 | 3)
    assert c.read(GICH + H_LR) >> 28 & 3 == 0
    assert c.read(GICV + C_IAR) == 3


def test_group1_ackctl_aliases_and_fiq(m: Machine) -> None:
    c = m.cpus[0]
    guest_on(c, ctlr=0b11)
    c.write(GICH + H_LR, lr(40, grp1=1))
    assert c.virq_line
    assert c.read(GICV + C_HPPIR) == 1022 and c.read(GICV + C_AHPPIR) == 40
    assert c.read(GICV + C_IAR) == 1022
    assert c.read(GICV + C_AIAR) == 40
    c.write(GICV + C_AEOIR, 40)
    assert c.read(GICH + H_ELRSR0) == 0xF
    c.write(GICH + H_LR, lr(41, grp1=1))
    c.write(GICV + C_CTLR, 0b111)  # AckCtl
    assert c.read(GICV + C_IAR) == 41
    c.write(GICV + C_EOIR, 41)
    c.write(GICV + C_CTLR, 0b1011)  # FIQEn: group 0 -> vFIQ
    c.write(GICH + H_LR, lr(42))
    assert c.vfiq_line and not c.virq_line
    assert c.read(GICV + C_AIAR) == 1023
    assert c.read(GICV + C_IAR) == 42


def test_eoimode_split_dir(m: Machine) -> None:
    c = m.cpus[0]
    guest_on(c, ctlr=1 | 1 << 9)
    c.write(GICH + H_LR, lr(40))
    c.read(GICV + C_IAR)
    c.write(GICV + C_EOIR, 40)
    assert c.read(GICH + H_LR) >> 28 & 3 == ACTIVE and c.read(GICV + C_RPR) == 0xFF
    c.write(GICV + C_DIR, 40)
    assert c.read(GICH + H_LR) >> 28 & 3 == 0


def test_hw_bit_deactivates_the_physical_interrupt(m: Machine) -> None:
    c = m.cpus[1]
    enable_all(m, ctlr=0b11 | 1 << 9)  # the host runs with EOImode=1
    setup_spi(m, 48, targets=0b10)
    m.set_interrupt_level(48, True)
    assert ack(c) == 48  # the hypervisor takes the physical interrupt,
    c.write(GICC + C_EOIR, 48)  # drops its priority and leaves it active for the guest
    assert m.gic.is_active(48) and c.read(GICC + C_RPR) == 0xFF
    guest_on(c)
    rec = m.events.record()
    c.write(GICH + H_LR, lr(27, hw=1, pid=48))
    assert c.read(GICV + C_IAR) == 27
    c.write(GICV + C_EOIR, 27)
    assert not m.gic.is_active(48)
    assert rec.of("vgic_hw_deactivate")[0]["pintid"] == 48
    assert rec.of("gicd_deactivate_physical")[0]["intid"] == 48


def test_maintenance_interrupt_is_ppi25_on_the_physical_gic(m: Machine) -> None:
    c = m.cpus[1]
    enable_all(m)
    c.write(GICD + ISENABLER, 1 << 25)
    rec = m.events.record()
    c.write(GICH + H_HCR, 1 | 1 << 3)  # En, NPIE: no LR pending
    assert c.read(GICH + H_MISR) == 8
    assert c.irq_line and not m.cpus[0].irq_line
    assert ack(c) == 25
    assert rec.of("vgic_maintenance")[0]["causes"] == "NP"
    c.write(GICH + H_HCR, 1)  # the hypervisor handles it: condition gone, line low
    c.write(GICC + C_EOIR, 25)
    assert not m.gic.is_pending(25, cpu=1) and not c.irq_line


def test_maintenance_eoi(m: Machine) -> None:
    c = m.cpus[0]
    guest_on(c)
    c.write(GICH + H_LR + 12, lr(44, eoi=1))
    assert c.read(GICH + H_ELRSR0) == 0b0111
    c.read(GICV + C_IAR)
    c.write(GICV + C_EOIR, 44)
    assert c.read(GICH + H_EISR0) == 0b1000 and c.read(GICH + H_ELRSR0) == 0b0111
    assert c.read(GICH + H_MISR) == 1 and m.gic.is_pending(25, cpu=0)
    c.write(GICH + H_LR + 12, 0)
    assert c.read(GICH + H_MISR) == 0 and not m.gic.is_pending(25, cpu=0)


def test_maintenance_underflow(m: Machine) -> None:
    c = m.cpus[0]
    c.write(GICH + H_HCR, 1 | 1 << 1)
    assert c.read(GICH + H_MISR) == 2
    c.write(GICH + H_LR, lr(40))
    assert c.read(GICH + H_MISR) == 2
    c.write(GICH + H_LR + 4, lr(41, state=ACTIVE))
    assert c.read(GICH + H_MISR) == 0


def test_maintenance_lrenp(m: Machine) -> None:
    c = m.cpus[0]
    guest_on(c)
    c.write(GICH + H_HCR, 1 | 1 << 2)
    c.write(GICH + H_LR, lr(40))
    c.read(GICV + C_IAR)
    c.write(GICH + H_LR, 0)
    c.write(GICV + C_EOIR, 40)
    assert c.read(GICH + H_HCR) == 1 | 1 << 2 | 1 << 27
    assert c.read(GICH + H_MISR) == 4 and m.gic.is_pending(25, cpu=0)


@pytest.mark.parametrize(("hcr_bit", "misr", "ctlr"),
                         [(4, 0x10, 0b01), (5, 0x20, 0b10), (6, 0x40, 0b10), (7, 0x80, 0b01)])
def test_maintenance_group_conditions(m: Machine, hcr_bit: int, misr: int, ctlr: int) -> None:
    c = m.cpus[0]
    c.write(GICH + H_HCR, 1 | 1 << hcr_bit)
    c.write(GICV + C_CTLR, ctlr)
    assert c.read(GICH + H_MISR) == misr
    c.write(GICV + C_CTLR, ctlr ^ 0b11)
    assert c.read(GICH + H_MISR) == 0


def test_world_switch_save_clear_restore(m: Machine) -> None:
    c = m.cpus[0]
    guest_on(c, ctlr=0b11 | 1 << 2, pmr=0xF0)
    c.write(GICV + C_BPR, 3)
    c.write(GICH + H_LR, lr(40, prio=0x80, grp1=1))
    c.write(GICH + H_LR + 4, lr(41, prio=0x40, hw=1, pid=60))
    c.write(GICH + H_LR + 8, lr(3, prio=0x88, cpuid=1, eoi=1))
    assert c.read(GICV + C_IAR) == 41
    c.write(GICH + H_LR + 12, lr(42, prio=0x20))  # pending, preempts 41
    before = (c.virq_line, c.vfiq_line)
    regs = [H_VMCR, H_APR, H_HCR] + [H_LR + 4 * i for i in range(4)]
    saved = {r: c.read(GICH + r) for r in regs}
    for r in regs:
        c.write(GICH + r, 0)
    assert not c.virq_line and c.read(GICH + H_ELRSR0) == 0xF
    c.write(GICH + H_LR, lr(99))  # another vCPU
    c.write(GICH + H_LR, 0)
    for r in regs:
        c.write(GICH + r, saved[r])
    assert {r: c.read(GICH + r) for r in regs} == saved
    assert (c.virq_line, c.vfiq_line) == before == (True, False)
    assert c.read(GICV + C_RPR) == 0x40
    assert c.read(GICV + C_IAR) == 42
    c.write(GICV + C_EOIR, 42)
    c.write(GICV + C_EOIR, 41)
    assert c.read(GICV + C_IAR) == 40
    c.write(GICV + C_EOIR, 40)
    assert c.read(GICV + C_IAR) == 1 << 10 | 3


def test_frames_banked_and_access_rules(m: Machine) -> None:
    c0, c1 = m.cpus
    c0.write(GICH + H_LR, lr(40))
    assert c1.read(GICH + H_LR) == 0
    rec = m.events.record()
    assert c0.read(GICH + H_LR, size=2) == 0
    c0.write(GICH + H_LR + 4, 0xFF, size=1)
    c0.write(GICV + C_EOIR + 1, 0, size=1)
    rec.stop()
    assert [(e.kind, e["reg"], e["offset"], e["size"], e["write"])
            for e in rec.of("gich_bad_access", "gicv_bad_access")] == [
        ("gich_bad_access", "GICH_LR0", H_LR, 2, False),
        ("gich_bad_access", "GICH_LR1", H_LR + 4, 1, True),
        ("gicv_bad_access", "GICC_EOIR+0x1", C_EOIR + 1, 1, True)]
    assert c0.read(GICH + H_LR + 4) == 0
    with pytest.raises(ExternalAbort, match="misaligned"):
        c0.read(GICH + H_LR + 2, size=4)
    with pytest.raises(ExternalAbort, match="GICH_LR0"):
        Machine.virt(cpus=1, gic=2, virtualization=True,
                     gic_bad_access="abort").cpus[0].read(GICH + H_LR, size=2)
    with pytest.raises(ExternalAbort, match="no bank"):
        m.device_write(3, GICV + C_EOIR, 40)
    assert c0.read(GICH + 0x800) == 0 and c0.read(GICV + 0x1FFC) == 0


# -- fuzz ------------------------------------------------------------------------------
def ref_lines(c: Cpu) -> tuple[bool, bool]:
    """Slow reference computed from GICH register reads."""
    if not c.read(GICH + H_HCR) & 1:
        return False, False
    vm = GICH_VMCR.decode(c.read(GICH + H_VMCR))
    best = None
    for i in range(4):
        f = GICH_LR.decode(c.read(GICH + H_LR + 4 * i))
        p = f["Priority"] << 3
        if f["State"] != 1 or not vm["VMGrp1En" if f["Grp1"] else "VMGrp0En"]:
            continue
        if p < (best[0] if best else 0xFF):
            best = (p, f["Grp1"])
    if best is None or best[0] >= vm["VMPriMask"] << 3:
        return False, False
    p, g = best
    ap = c.read(GICH + H_APR)
    if ap:
        rprio = ((ap & -ap).bit_length() - 1) << 3
        mask = (0xFF << vm["VMABP"]) & 0xFF if g and not vm["VMCBPR"] else \
            (0xFF << (vm["VMBP"] + 1)) & 0xFF
        if p & mask >= rprio & mask:
            return False, False
    fiq = not g and bool(vm["VMFIQEn"])
    return not fiq, fiq


_GICH_W = [H_HCR, H_VMCR, H_APR, H_VTR, H_MISR] + [H_LR + 4 * i for i in range(5)]
_GICV_W = [C_CTLR, C_PMR, C_BPR, C_ABPR, C_EOIR, C_AEOIR, C_DIR, C_APR]
_GICV_R = [C_IAR, C_AIAR, C_HPPIR, C_AHPPIR, C_RPR]
_LR = st.builds(lambda v, s, p, g, h, pid, eoi, cpu: lr(v, state=s, prio=p, grp1=g, hw=h,
                                                        pid=pid, eoi=eoi, cpuid=cpu),
                st.sampled_from([1, 3, 27, 40, 41, 1021]), st.integers(0, 3),
                st.integers(0, 255), st.integers(0, 1), st.integers(0, 1),
                st.sampled_from([27, 40, 1000, 1023]), st.integers(0, 1), st.integers(0, 7))
_STEP = st.one_of(
    st.tuples(st.just("h"), st.sampled_from(_GICH_W), st.integers(0, 0xFFFF_FFFF),
              st.sampled_from([4, 4, 4, 4, 1, 2])),
    st.tuples(st.just("h"), st.sampled_from(_GICH_W[5:]), _LR, st.just(4)),
    st.tuples(st.just("v"), st.sampled_from(_GICV_W),
              st.one_of(st.integers(0, 0xFFFF_FFFF), st.sampled_from([1, 3, 27, 40, 41,
                                                                     1 << 10 | 3])),
              st.sampled_from([4, 4, 4, 4, 1, 2])),
    st.tuples(st.just("r"), st.sampled_from(_GICV_R), st.just(0), st.just(4)),
    st.tuples(st.just("p"), st.just(0x304), st.just(1 << 8), st.just(4)),  # SPI 40 active
)


@settings(max_examples=120, deadline=None)
@given(st.lists(_STEP, max_size=40))
def test_fuzz_gich_gicv_lines_match_reference(steps: list[tuple[str, int, int, int]]) -> None:
    m = Machine.virt(cpus=1, gic=2, virtualization=True)
    c = m.cpus[0]
    base = {"h": GICH, "v": GICV, "r": GICV, "p": GICD}
    for kind, off, value, size in steps:
        try:
            if kind == "r":
                c.read(base[kind] + off)
            else:
                c.write(base[kind] + off, value & ((1 << 8 * size) - 1), size=size)
        except ExternalAbort:
            assert off & (size - 1)  # only misaligned accesses abort; bad sizes are RAZ/WI
        else:
            assert not off & (size - 1)
        assert (c.virq_line, c.vfiq_line) == ref_lines(c)
        en = c.read(GICH + H_HCR) & 1
        assert m.gic.is_pending(25, cpu=0) == bool(en and c.read(GICH + H_MISR))
        # every LR is exactly one of: holding an interrupt, in EISR, in ELRSR
        eisr, elrsr = c.read(GICH + H_EISR0), c.read(GICH + H_ELRSR0)
        for i in range(4):
            valid = c.read(GICH + H_LR + 4 * i) >> 28 & 3 != 0
            assert valid + (eisr >> i & 1) + (elrsr >> i & 1) == 1


def test_vcpu_migrates_with_an_active_hw_interrupt(m: Machine) -> None:
    """Save the LRs on pCPU 0, restore them on pCPU 1: the guest's EOI there still
    deactivates the physical SPI (SPI active state is global)."""
    c0, c1 = m.cpus
    enable_all(m, ctlr=0b11 | 1 << 9)
    setup_spi(m, 50, targets=0b01)
    m.set_interrupt_level(50, True)
    assert ack(c0) == 50
    c0.write(GICC + C_EOIR, 50)  # host priority drop, left active for the guest
    guest_on(c0)
    c0.write(GICH + H_LR, lr(27, hw=1, pid=50))
    assert c0.read(GICV + C_IAR) == 27  # the guest is handling it ...
    regs = [H_VMCR, H_APR, H_HCR] + [H_LR + 4 * i for i in range(4)]
    saved = {r: c0.read(GICH + r) for r in regs}
    for r in regs:
        c0.write(GICH + r, 0)  # ... when the vCPU is switched out
    for r in regs:
        c1.write(GICH + r, saved[r])  # and in on pCPU 1
    assert c1.read(GICV + C_RPR) == 0xA0 and c0.read(GICV + C_RPR) == 0xFF
    m.set_interrupt_level(50, False)
    c1.write(GICV + C_EOIR, 27)
    assert not m.gic.is_active(50)
    assert c1.read(GICH + H_ELRSR0) == 0xF


def test_same_sequence_same_event_stream() -> None:
    def run() -> list[str]:
        m = machine(cpus=2, virtualization=True)
        rec = m.events.record()
        c = m.cpus[1]
        guest_on(c)
        c.write(GICH + H_HCR, 1 | 1 << 1 | 1 << 3)
        for i, v in enumerate((40, 41, 3)):
            c.write(GICH + H_LR + 4 * i, lr(v, prio=0x80 + 8 * i, eoi=1, cpuid=1))
        while (v := c.read(GICV + C_IAR)) != 1023:
            c.write(GICV + C_EOIR, v)
        return [str(e) for e in rec]
    first = run()
    assert first == run() and len(first) > 20
