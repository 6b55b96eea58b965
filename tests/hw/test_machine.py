"""The bus-level API basics: RAM access, external aborts, argument checking."""

from __future__ import annotations

import re

import pytest

from irqlab import ExternalAbort, Machine, UndefinedInstruction
from irqlab.arch.gicv3 import ICC_SYSREG_NAMES
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue

RAM = 0x4000_0000


@pytest.fixture
def m() -> Machine:
    return Machine.virt(cpus=2, its=False)


def test_ram_roundtrip_and_zero_fill(m: Machine) -> None:
    assert m.ram_read(RAM + 0x1000, 4) == b"\0\0\0\0"
    m.ram_write(RAM + 0xFFE, b"\x01\x02\x03\x04")  # crosses a page
    assert m.ram_read(RAM + 0xFFE, 4) == b"\x01\x02\x03\x04"
    assert m.cpus[0].read(RAM + 0xFFE, 4) == 0x0403_0201
    m.cpus[1].write(RAM + 0x2000, 0x1122_3344_5566_7788, 8)
    assert m.ram_read(RAM + 0x2000, 8) == bytes.fromhex("8877665544332211")
    m.cpus[0].write(RAM + 0x3000, 0x1FF, 1)  # truncated to the size
    assert m.ram_read(RAM + 0x3000, 1) == b"\xff"


def test_external_abort_on_undecoded_address(m: Machine) -> None:
    with pytest.raises(ExternalAbort) as ei:
        m.cpus[0].read(0x10, 4)
    assert (ei.value.address, ei.value.size, ei.value.write) == (0x10, 4, False)
    assert ei.value.reason == "no device decodes this address"
    with pytest.raises(ExternalAbort) as ei:
        m.cpus[0].write(0x0900_0000_0000, 1, 8)
    assert ei.value.write
    with pytest.raises(ExternalAbort):
        m.device_write(1, 0x20, 5)


def test_external_abort_names_the_device() -> None:
    m = Machine.virt(cpus=1, its=False, gic_bad_access="abort")
    with pytest.raises(ExternalAbort, match=re.escape("gicv3-dist: GICD_CTLR (offset 0x0): "
                                                      "2-byte read not supported")):
        m.cpus[0].read(0x0800_0000, 2)
    with pytest.raises(ExternalAbort, match=re.escape("gicv3-dist: GICD: misaligned 4-byte")):
        Machine.virt(cpus=1, its=False).cpus[0].read(0x0800_0002, 4)


@pytest.mark.parametrize(("call", "exc", "msg"), [
    (lambda m: m.cpus[0].read("0x10"), InvalidArgumentType, "addr must be an int, not '0x10'"),
    (lambda m: m.cpus[0].read(RAM, 3), InvalidArgumentValue, "size must be 1, 2, 4 or 8, not 3"),
    (lambda m: m.cpus[0].read(RAM, 16), InvalidArgumentValue, "size must be 1, 2, 4 or 8"),
    (lambda m: m.cpus[0].read(-1), InvalidArgumentValue, "addr must be a 48-bit"),
    (lambda m: m.cpus[0].write(RAM, 1.5), InvalidArgumentType, "value must be an int, not 1.5"),
    (lambda m: m.ram_write(RAM, "ab"), InvalidArgumentType, "data must be bytes, not str"),
    (lambda m: m.ram_write(0x10, b"x"), InvalidArgumentValue, "addr must lie in RAM"),
    (lambda m: m.ram_read(RAM, -1), InvalidArgumentValue, "n must be in"),
    (lambda m: m.device_write(-1, RAM, 0), InvalidArgumentValue, "device_id must be in"),
    (lambda m: m.cpus[0].read_sysreg("ICC_FOO_EL1"), InvalidArgumentValue,
     "name must be a system register this model knows, not 'ICC_FOO_EL1'"),
    (lambda m: m.cpus[0].read_sysreg(3), InvalidArgumentType, "name must be a str, not 3"),
    (lambda m: m.cpus[0].write_sysreg("ICC_PMR_EL1", "x"), InvalidArgumentType,
     "value must be an int"),
])
def test_api_misuse(m: Machine, call, exc, msg: str) -> None:
    with pytest.raises(exc, match=re.escape(msg)):
        call(m)


def test_invalid_argument_is_type_or_value_error(m: Machine) -> None:
    with pytest.raises(TypeError):
        m.cpus[0].read(None)
    with pytest.raises(ValueError):
        m.cpus[0].read(RAM, 5)


def test_sysreg_undefined_direction(m: Machine) -> None:
    with pytest.raises(UndefinedInstruction) as ei:
        m.cpus[0].write_sysreg("ICC_RPR_EL1", 0)
    assert ei.value.register == "ICC_RPR_EL1"


def test_lines_are_bools_and_gic_exposes_blocks(m: Machine) -> None:
    assert m.cpus[0].irq_line is False and m.cpus[0].fiq_line is False
    assert len(m.gic.redists) == 2 and len(m.gic.cpuifs) == 2
    assert m.cpus[1].cpuif is m.gic.cpuifs[1]
    names = m.cpus[0].sysreg_names
    assert "ICC_IAR1_EL1" in names and "ICC_SGI1R_EL1" in names
    assert all(n.endswith("_EL1") for n in names if n.startswith("ICC_"))


@pytest.mark.parametrize("gic", [2, 3])
def test_system_registers_of_an_absent_interface_are_undefined(gic: int) -> None:
    cpu = Machine.virt(cpus=2, gic=gic).cpus[1]
    icc = sorted(n for n in cpu.sysreg_names if n.startswith("ICC_"))
    assert icc == sorted(ICC_SYSREG_NAMES)
    absent = ["ICH_LR0_EL2", "ICV_IAR1_EL1"] + (["ICC_IAR1_EL1", "ICC_PMR_EL1"] if gic == 2 else [])
    for name in absent:
        with pytest.raises(UndefinedInstruction, match=f"^{name}: not readable"):
            cpu.read_sysreg(name)
        with pytest.raises(UndefinedInstruction, match=f"^{name}: not writable"):
            cpu.write_sysreg(name, 0)


def test_gicv2_intids_are_ten_bits() -> None:
    # GICv2 has no IDbits field: GICC_IAR's INTID is 10 bits (IHI 0048)
    assert Machine.virt(cpus=2, gic=2).config.idbits == 10
    with pytest.raises(InvalidArgumentValue, match="idbits must be 10 with gic=2"):
        Machine.virt(cpus=2, gic=2, idbits=16)
    with pytest.raises(InvalidArgumentValue, match=r"idbits must be in \[14, 24\]"):
        Machine.virt(cpus=2, gic=3, idbits=10)
