"""The GICv2 machine: construction, frames on the bus, device trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from irqlab.errors import UndefinedInstruction
from irqlab.hw.gicv2 import GICv2
from irqlab.hw.machine import Machine

from .helpers import GICC, GICD, GICH, GICV, H_VTR, machine

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dtb"


def test_virt_gic2_builds_gicv2() -> None:
    m = machine(cpus=8)
    assert isinstance(m.gic, GICv2) and m.its is None
    names = [r.name for r in m.bus.regions]
    assert "gicd" in names and "gicc" in names and "v2m" in names
    assert "gich" not in names and "gicv" not in names
    assert all(c.cpuif is m.gic.cpuifs[c.index] for c in m.cpus)
    assert not m.cpus[0].virq_line


def test_virtualization_maps_gich_gicv() -> None:
    m = machine(cpus=2, virtualization=True)
    names = [r.name for r in m.bus.regions]
    assert "gich" in names and "gicv" in names
    assert m.cpus[1].vcpuif is m.gic.vcpuifs[1]
    assert m.cpus[0].read(GICH + H_VTR) == 3 | 4 << 26 | 4 << 29


def test_no_system_register_interface() -> None:
    m = machine(virtualization=True)
    with pytest.raises(UndefinedInstruction):
        m.cpus[0].read_sysreg("ICH_LR0_EL2")
    with pytest.raises(UndefinedInstruction):
        m.cpus[0].write_sysreg("ICV_EOIR1_EL1", 0)
    # the GICv3 registers this model never implements are UNDEFINED too, not unknown names
    for name in ("ICC_CTLR_EL3", "ICC_SRE_EL2", "ICC_NMIAR1_EL1", "ICC_IGRPEN1_EL3"):
        with pytest.raises(UndefinedInstruction,
                           match=f"^{name}: GICv2 has no system-register interface$"):
            m.cpus[0].read_sysreg(name)


@pytest.mark.parametrize(("name", "cpus", "virt"), [("qemu-virt-gicv2-2cpu", 2, False),
                                                     ("qemu-virt-gicv2-el2-4cpu", 4, True)])
def test_fixture_dtbs_build_gicv2_machines(name: str, cpus: int, virt: bool) -> None:
    pytest.importorskip("libfdt")
    m = Machine.from_dtb(FIXTURES / f"{name}.dtb")
    assert isinstance(m.gic, GICv2)
    assert len(m.cpus) == cpus and m.config.virtualization == virt
    assert m.config.maintenance_ppi == 9
    c = m.cpus[cpus - 1]
    assert (c.read(GICD + 0x004) >> 5) & 7 == cpus - 1
    assert c.read(GICC + 0xFC) == 0x0002_043B
    assert c.read(0x0802_0008) == 80 << 16 | 64
    if virt:
        assert c.read(GICH + H_VTR) & 0x3F == m.config.list_registers - 1
        assert c.read(GICV + 0xFC) == 0x0002_043B
    else:
        assert "gich" not in [r.name for r in m.bus.regions]
