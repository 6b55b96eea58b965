"""The bad-access policy (``MachineConfig.gic_bad_access``) across every GIC and ITS frame."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab import ExternalAbort, Machine
from irqlab.arch import regmap
from irqlab.errors import InvalidArgumentValue

V3_FRAMES = {"gicd": 0x0800_0000, "gicr": 0x080A_0000, "its": 0x0808_0000}
V2_FRAMES = {"gicd": 0x0800_0000, "gicc": 0x0801_0000, "v2m": 0x0802_0000,
             "gich": 0x0803_0000, "gicv": 0x0804_0000}


def machines(gic: int) -> tuple[Machine, Machine]:
    opts = {"virtualization": True} if gic == 2 else {}
    return (Machine.virt(cpus=1, gic=gic, **opts),  # type: ignore[arg-type]
            Machine.virt(cpus=1, gic=gic, gic_bad_access="abort", **opts))  # type: ignore[arg-type]


def test_config_validation() -> None:
    with pytest.raises(InvalidArgumentValue, match="gic_bad_access must be"):
        Machine.virt(cpus=1, gic_bad_access="ignore")
    with pytest.raises(InvalidArgumentValue, match="distributor_priority_bits must be in"):
        Machine.virt(cpus=1, distributor_priority_bits=3)


def test_regmap_names() -> None:
    assert regmap.GICD_V3.name(0x6000 + 8 * 40 + 4) == "GICD_IROUTER40+0x4"
    assert regmap.GICD_V3.name(0x404) == "GICD_IPRIORITYR1"
    assert regmap.GICD_V3.name(0x20) == "reserved"
    assert regmap.GICR_RD.name(0x7C) == "GICR_PENDBASER+0x4"
    assert regmap.GITS.name(0xFFE0) == "GITS_PIDR0"
    assert regmap.GICH.name(0x104) == "GICH_LR1"


_ACCESS = st.tuples(st.sampled_from([1, 2, 4, 8]), st.integers(0, 0xFFFF), st.booleans(),
                    st.integers(0, 2**64 - 1))


def _check_same_outcome(m: Machine, ma: Machine, addr: int, size: int, write: bool,
                        value: int) -> None:
    """RAZ/WI machine: no exception, one bad-access event exactly when the abort machine aborts
    (misaligned accesses abort in both)."""
    value &= (1 << (8 * size)) - 1
    misaligned = bool(addr % size)
    try:
        if write:
            ma.cpus[0].write(addr, value, size)
        else:
            ma.cpus[0].read(addr, size)
        aborted = False
    except ExternalAbort:
        aborted = True
    rec = m.events.record()
    try:
        got = m.cpus[0].write(addr, value, size) if write else m.cpus[0].read(addr, size)
    except ExternalAbort as e:
        assert misaligned and aborted, e
        return
    finally:
        rec.stop()
    assert not misaligned
    bad = [e for e in rec if e.kind.endswith("_bad_access")]
    assert len(bad) == int(aborted)
    if bad:
        e = bad[0]
        assert (e["size"], e["write"], e.cpu) == (size, write, 0)
        assert e["reg"]
        if not write:
            assert got == 0


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(V3_FRAMES)), st.lists(_ACCESS, min_size=1, max_size=12))
def test_fuzz_gicv3_frames_raz_wi_iff_abort_mode_aborts(frame: str, accesses: list) -> None:
    m, ma = machines(3)
    base = V3_FRAMES[frame]
    for size, off, write, value in accesses:
        if frame == "its" and off >= 0x1_0000 - 8:
            off = 0x1_0040  # GITS_TRANSLATER
        _check_same_outcome(m, ma, base + off, size, write, value)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(V2_FRAMES)), st.lists(_ACCESS, min_size=1, max_size=12))
def test_fuzz_gicv2_frames_raz_wi_iff_abort_mode_aborts(frame: str, accesses: list) -> None:
    m, ma = machines(2)
    base = V2_FRAMES[frame]
    limit = 0x2000 if frame in ("gicc", "gicv") else 0x1000
    for size, off, write, value in accesses:
        _check_same_outcome(m, ma, base + off % limit, size, write, value)
