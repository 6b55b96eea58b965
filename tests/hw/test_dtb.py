"""Device-tree loading: every QEMU fixture, and bad trees rejected with one clear line."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

import libfdt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irqlab import Machine, MachineConfig
from irqlab.arch import virt as vm
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue
from irqlab.hw.dtb import DtbError, config_from_dtb

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dtb"

#: fixture -> the Machine.virt() options QEMU was run with
CASES = {
    "qemu-virt-gicv3-its-4cpu": dict(cpus=4, gic=3, its=True),
    "qemu-virt-gicv3-noits-2cpu": dict(cpus=2, gic=3, its=False),
    "qemu-virt-gicv3-its-8cpu-el2": dict(cpus=8, gic=3, its=True, virtualization=True),
    "qemu-virt-gicv2-2cpu": dict(cpus=2, gic=2),
    "qemu-virt-gicv2-el2-4cpu": dict(cpus=4, gic=2, virtualization=True),
}


def fixture(name: str) -> Path:
    return FIXTURES / f"{name}.dtb"


def regions(m: Machine) -> list[tuple[int, int, str]]:
    return [(r.base, r.size, r.name) for r in m.bus.regions]


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture_config_equals_virt(name: str) -> None:
    assert config_from_dtb(fixture(name)) == MachineConfig.virt(**CASES[name])


def test_shipped_copies_are_the_test_fixtures() -> None:
    data = Path(__file__).resolve().parents[2] / "src" / "irqlab" / "data"
    for name in CASES:
        assert (data / f"{name}.dtb").read_bytes() == fixture(name).read_bytes()


def test_gicv3_its_4cpu_fields() -> None:
    c = config_from_dtb(fixture("qemu-virt-gicv3-its-4cpu"))
    assert c.gic_version == 3 and c.cpus == 4 and c.its and not c.virtualization
    assert c.gicd == (0x0800_0000, 0x1_0000)
    assert c.gicr_regions == ((0x080A_0000, 0xF6_0000),)
    assert c.its_base == 0x0808_0000
    assert c.ram == (0x4000_0000, 0x4000_0000)
    assert c.pcie_ecam == (0x40_1000_0000, 0x1000_0000)
    assert c.pcie_mmio == (0x1000_0000, 0x2EFF_0000)
    assert c.msi_map == (0, 0, 0x10000)


def test_gicv3_el2_maintenance_interrupt() -> None:
    c = config_from_dtb(fixture("qemu-virt-gicv3-its-8cpu-el2"))
    assert c.virtualization and c.maintenance_ppi == 9 and c.cpus == 8


def test_gicv2_el2_frames() -> None:
    c = config_from_dtb(fixture("qemu-virt-gicv2-el2-4cpu"))
    assert c.gic_version == 2 and not c.its and c.virtualization
    assert c.gicc == (0x0801_0000, vm.GICV2_CPUIF_SIZE)
    assert c.gich == (0x0803_0000, 0x1_0000)
    assert c.gicv == (0x0804_0000, vm.GICV2_CPUIF_SIZE)
    assert c.v2m == (0x0802_0000, 0x1000)
    assert c.idbits == 10


def test_gicv2_without_virtualization() -> None:
    c = config_from_dtb(fixture("qemu-virt-gicv2-2cpu"))
    assert c.gic_version == 2 and not c.virtualization and c.v2m == (0x0802_0000, 0x1000)


def test_options_override_and_validate() -> None:
    c = config_from_dtb(fixture("qemu-virt-gicv3-its-4cpu"), idbits=24, lpis_sticky=True)
    assert c.idbits == 24 and c.lpis_sticky and c.cpus == 4
    with pytest.raises(InvalidArgumentValue, match=r"^unknown machine option bogus=1$"):
        config_from_dtb(fixture("qemu-virt-gicv3-its-4cpu"), bogus=1)
    with pytest.raises(InvalidArgumentValue, match=r"idbits must be in"):
        config_from_dtb(fixture("qemu-virt-gicv3-its-4cpu"), idbits=40)


@pytest.mark.parametrize("name", [n for n in sorted(CASES) if CASES[n]["gic"] == 3])
def test_gicv3_machine_from_dtb_matches_virt(name: str) -> None:
    m = Machine.from_dtb(fixture(name))
    ref = Machine.virt(**CASES[name])
    assert m.config == ref.config
    assert regions(m) == regions(ref)
    assert len(m.cpus) == CASES[name]["cpus"]
    assert [c.mpidr for c in m.cpus] == [c.mpidr for c in ref.cpus]
    assert (m.its is not None) == CASES[name]["its"]


@pytest.mark.parametrize("name", [n for n in sorted(CASES) if CASES[n]["gic"] == 2])
def test_gicv2_machine_from_dtb(name: str) -> None:
    m = Machine.from_dtb(fixture(name))
    bases = {r.base for r in m.bus.regions}
    assert {0x0800_0000, 0x0801_0000, 0x0802_0000} <= bases
    assert (0x0803_0000 in bases) == CASES[name].get("virtualization", False)
    assert m.config == MachineConfig.virt(**CASES[name])
    assert regions(m) == regions(Machine.virt(**CASES[name]))


# -- bad input -------------------------------------------------------------------
def _one_line(e: BaseException) -> str:
    msg = str(e)
    assert "\n" not in msg
    return msg


def test_truncated_file(tmp_path: Path) -> None:
    p = tmp_path / "t.dtb"
    p.write_bytes(fixture("qemu-virt-gicv3-its-4cpu").read_bytes()[:3000])
    with pytest.raises(DtbError, match=r"truncated device tree \(3000 of 8022 bytes\)$") as e:
        config_from_dtb(p)
    _one_line(e.value)
    assert isinstance(e.value, InvalidArgumentValue)


@pytest.mark.parametrize("data", [b"", b"garbage" * 10, b"\xd0\x0d\xfe\xed" + bytes(60)])
def test_garbage(tmp_path: Path, data: bytes) -> None:
    p = tmp_path / "g.dtb"
    p.write_bytes(data)
    with pytest.raises(DtbError, match=r"not a flattened device tree|malformed|truncated") as e:
        config_from_dtb(p)
    _one_line(e.value)


def _edited(tmp_path: Path, edit) -> Path:
    fdt = libfdt.Fdt(fixture("qemu-virt-gicv3-its-4cpu").read_bytes())
    fdt.resize(fdt.totalsize() + 4096)
    edit(fdt)
    fdt.pack()
    p = tmp_path / "edited.dtb"
    p.write_bytes(bytes(fdt.as_bytearray()))
    return p


def test_missing_intc(tmp_path: Path) -> None:
    p = _edited(tmp_path, lambda f: f.del_node(f.path_offset("/intc@8000000")))
    with pytest.raises(DtbError, match=r": no GIC interrupt-controller node \(compatible "):
        config_from_dtb(p)


def test_unknown_gic_compatible(tmp_path: Path) -> None:
    p = _edited(tmp_path, lambda f: f.setprop_str(f.path_offset("/intc@8000000"),
                                                  "compatible", "arm,gic-v5"))
    with pytest.raises(DtbError, match=r"no GIC interrupt-controller node"):
        config_from_dtb(p)


def test_mpidr_must_match_qemu_packing(tmp_path: Path) -> None:
    p = _edited(tmp_path, lambda f: f.setprop_u32(f.path_offset("/cpus/cpu@3"), "reg", 0x100))
    with pytest.raises(DtbError, match=r"cpu 3 has MPIDR 0x100, not QEMU virt's 0x3 \(16 CPUs"):
        config_from_dtb(p)


def test_bad_reg(tmp_path: Path) -> None:
    p = _edited(tmp_path, lambda f: f.setprop(f.path_offset("/intc@8000000"), "reg",
                                              bytes(12)))
    with pytest.raises(DtbError, match=r"/intc@8000000: reg has 3 cells, not a multiple of 4$"):
        config_from_dtb(p)


def test_msi_map_to_unknown_controller(tmp_path: Path) -> None:
    def edit(f):
        f.setprop(f.path_offset("/pcie@10000000"), "msi-map",
                  bytes.fromhex("00000000 00008000 00000000 00010000"))
    with pytest.raises(DtbError, match=r"msi-map names /apb-pclk, which is not the GIC's ITS"):
        config_from_dtb(_edited(tmp_path, edit))


def test_no_cpus_node(tmp_path: Path) -> None:
    p = _edited(tmp_path, lambda f: f.del_node(f.path_offset("/cpus")))
    with pytest.raises(DtbError, match=r": no /cpus node$"):
        config_from_dtb(p)


def test_too_many_cpus_for_regions(tmp_path: Path) -> None:
    def edit(f):
        f.setprop(f.path_offset("/intc@8000000"), "reg",
                  bytes.fromhex("00000000 08000000 00000000 00010000"
                                "00000000 080a0000 00000000 00040000"))
    with pytest.raises(DtbError, match=r"gicr_regions hold 2 redistributors, fewer than cpus=4"):
        config_from_dtb(_edited(tmp_path, edit))


def test_read_is_bounded_by_the_header() -> None:
    """/dev/zero: the header's magic is wrong, so nothing past it is read (no hang)."""
    with pytest.raises(DtbError, match=r"^/dev/zero: not a flattened device tree "
                                       r"\(bad magic 0x00000000\)$"):
        config_from_dtb("/dev/zero")


def test_file_longer_than_totalsize(tmp_path: Path) -> None:
    p = tmp_path / "long.dtb"
    p.write_bytes(fixture("qemu-virt-gicv3-its-4cpu").read_bytes() + bytes(64))
    with pytest.raises(DtbError, match=r"long.dtb: the file is longer than the device tree in "
                                       r"it \(header totalsize 8022 bytes\)$"):
        config_from_dtb(p)


def test_totalsize_over_the_maximum(tmp_path: Path) -> None:
    from irqlab.hw.dtb import MAX_DTB_SIZE

    data = bytearray(fixture("qemu-virt-gicv3-its-4cpu").read_bytes())
    data[4:8] = (MAX_DTB_SIZE + 1).to_bytes(4, "big")
    p = tmp_path / "big.dtb"
    p.write_bytes(bytes(data))
    with pytest.raises(DtbError, match=rf"big.dtb: device tree too large \(totalsize "
                                       rf"{MAX_DTB_SIZE + 1} bytes, at most {MAX_DTB_SIZE}\)$"):
        config_from_dtb(p)


def test_totalsize_over_the_maximum_is_refused_after_the_header_only(tmp_path: Path) -> None:
    """Every way in reads the file (a bytes object is not a path), and the size check comes
    after the header: nothing more is read, whatever follows."""
    from irqlab.errors import InvalidArgumentType
    from irqlab.hw.dtb import MAX_DTB_SIZE

    p = tmp_path / "huge.dtb"
    p.write_bytes((0xD00DFEED).to_bytes(4, "big") + (MAX_DTB_SIZE + 1).to_bytes(4, "big")
                  + bytes(32) + b"\xff" * (MAX_DTB_SIZE + 64))
    msg = rf"huge.dtb: device tree too large \(totalsize {MAX_DTB_SIZE + 1} bytes, at most"
    with pytest.raises(DtbError, match=msg):
        Machine.from_dtb(p)
    with pytest.raises(DtbError, match=msg):
        config_from_dtb(str(p))
    with pytest.raises(InvalidArgumentType, match=r"^path must be a str or os.PathLike, not b"):
        Machine.from_dtb(p.read_bytes()[:40])  # type: ignore[arg-type]


def test_path_with_a_newline_stays_on_one_line(tmp_path: Path) -> None:
    p = tmp_path / "a\nb.dtb"
    with pytest.raises(DtbError, match=r"a\\nb.dtb': cannot read: No such file") as e:
        config_from_dtb(p)
    _one_line(e.value)


def test_empty_path() -> None:
    with pytest.raises(InvalidArgumentValue, match=r"^path must name a device tree file, not ''$"):
        config_from_dtb("")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DtbError, match=r"nope.dtb: cannot read: No such file or directory$"):
        config_from_dtb(tmp_path / "nope.dtb")


def test_path_type() -> None:
    with pytest.raises(InvalidArgumentType, match=r"^path must be a str or os.PathLike, not 3$"):
        config_from_dtb(3)  # type: ignore[arg-type]


def test_missing_pylibfdt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "libfdt", None)
    with pytest.raises(ImportError, match=re.escape("pip install 'irqlab[dtb]'")):
        config_from_dtb(fixture("qemu-virt-gicv3-its-4cpu"))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 8021), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(40, 8022))
def test_fuzz_corrupted_tree(tmp_path: Path, flips: list[tuple[int, int]], cut: int) -> None:
    """A corrupted tree gives a config or a DtbError, never another exception."""
    data = bytearray(fixture("qemu-virt-gicv3-its-4cpu").read_bytes())
    for pos, val in flips:
        data[pos] = val
    p = tmp_path / "fuzz.dtb"
    p.write_bytes(bytes(data[:cut]))
    try:
        c = config_from_dtb(p)
    except DtbError as e:
        _one_line(e)
    else:
        assert isinstance(c, MachineConfig)
        assert dataclasses.replace(c) == c


def test_two_redistributor_regions(tmp_path: Path) -> None:
    def edit(f):
        intc = f.path_offset("/intc@8000000")
        f.setprop(intc, "reg", bytes.fromhex(
            "00000000 08000000 00000000 00010000"
            "00000000 080a0000 00000000 00040000"      # 2 redistributors
            "00000040 00000000 00000000 04000000"))    # the high region
        f.setprop_u32(intc, "#redistributor-regions", 2)
    c = config_from_dtb(_edited(tmp_path, edit))
    assert c.gicr_regions == ((0x080A_0000, 0x4_0000), (0x40_0000_0000, 0x400_0000))
    assert c.redistributor_base(2) == 0x40_0000_0000


def test_msi_parent_and_gic400(tmp_path: Path) -> None:
    def edit(f):
        pcie = f.path_offset("/pcie@10000000")
        f.delprop(pcie, "msi-map")
        f.setprop_u32(pcie, "msi-parent", f.get_phandle(f.path_offset("/intc@8000000/its@8080000")))
    c = config_from_dtb(_edited(tmp_path, edit))
    assert c.msi_map == (0, 0, 0x10000) and c.its


def test_gic400_without_v2m(tmp_path: Path) -> None:
    src = libfdt.Fdt(fixture("qemu-virt-gicv2-2cpu").read_bytes())
    intc = src.path_offset("/intc@8000000")
    src.setprop_str(intc, "compatible", "arm,gic-400")
    src.del_node(src.path_offset("/intc@8000000/v2m@8020000"))
    src.delprop(src.path_offset("/pcie@10000000"), "msi-map")
    src.pack()
    p = tmp_path / "gic400.dtb"
    p.write_bytes(bytes(src.as_bytearray()))
    c = config_from_dtb(p)
    assert c.gic_version == 2 and c.v2m is None and not c.virtualization


def test_no_pcie_keeps_default_windows(tmp_path: Path) -> None:
    p = _edited(tmp_path, lambda f: f.del_node(f.path_offset("/pcie@10000000")))
    c = config_from_dtb(p)
    assert c.pcie_ecam == vm.VIRT_PCIE_ECAM and c.pcie_mmio == vm.VIRT_PCIE_MMIO


def test_maintenance_interrupt_must_be_a_ppi(tmp_path: Path) -> None:
    p = _edited(tmp_path, lambda f: f.setprop(f.path_offset("/intc@8000000"), "interrupts",
                                              bytes.fromhex("00000000 00000009 00000004")))
    with pytest.raises(DtbError, match=r"maintenance interrupt must be a PPI, not \[0, 9, 4\]$"):
        config_from_dtb(p)
