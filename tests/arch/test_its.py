"""Encodings of the ITS: registers, commands, KVM ABI table entries."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab.arch import its as a
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue


def test_typer_fields_positions():
    t = a.GITS_TYPER
    assert t.Physical.lsb == 0 and t.ITT_entry_size.lsb == 4 and t.ITT_entry_size.width == 4
    assert (t.ID_bits.lsb, t.ID_bits.width) == (8, 5)
    assert (t.Devbits.lsb, t.Devbits.width) == (13, 5)
    assert t.PTA.lsb == 19 and t.SEIS.lsb == 18
    assert (t.HCC.lsb, t.CIDbits.lsb, t.CIL.lsb) == (24, 32, 36)


def test_baser_fields_positions():
    b = a.GITS_BASER
    assert (b.Valid.lsb, b.Indirect.lsb) == (63, 62)
    assert (b.Type.lsb, b.Type.width) == (56, 3)
    assert (b.Entry_Size.lsb, b.Entry_Size.width) == (48, 5)
    assert (b.Page_Size.lsb, b.Size.width) == (8, 8)


@pytest.mark.parametrize(("ps", "pa"), [(0x1000, 0x4012_3000), (0x4000, 0x4012_4000),
                                        (0x1_0000, 0x4013_0000),
                                        (0x1_0000, 0x000F_0000_4013_0000)])
def test_baser_address_roundtrip(ps, pa):
    enc = a.GITS_BASER.encode(Page_Size=a.PAGE_SIZES.index(ps)) | a.encode_baser_address(pa, ps)
    assert a.baser_page_size(enc) == ps
    assert a.baser_physical_address(enc) == pa


def test_baser_64k_high_bits_encoding():
    # PA[51:48] live in field bits [15:12] with 64 KiB pages.
    enc = a.GITS_BASER.encode(Page_Size=2) | a.encode_baser_address(0xA_0000_0001_0000, 0x10000)
    assert (enc >> 12) & 0xF == 0xA
    assert a.baser_physical_address(enc) == 0xA_0000_0001_0000


def test_dte_layout_matches_kvm_abi():
    v = a.encode_dte(valid=True, itt_addr=0x4030_0100, size=4, next_=3)
    assert v == (1 << 63) | (3 << 49) | ((0x4030_0100 >> 8) << 5) | 4
    assert a.DTE.decode(v) == {"Size": 4, "ITT_addr": 0x403001, "next": 3, "V": 1}


def test_cte_and_ite_layout_matches_kvm_abi():
    assert a.encode_cte(valid=True, rdbase=2, icid=7) == (1 << 63) | (2 << 16) | 7
    assert a.encode_ite(pintid=0x2020, icid=1, next_=5) == (5 << 48) | (0x2020 << 16) | 1


SAMPLES = {
    "MAPD": {"DeviceID": 0xDEAD, "Size": 7, "ITT_addr": 0x4030_0100, "V": 1},
    "MAPC": {"ICID": 3, "RDbase": 0x123, "V": 1},
    "MAPTI": {"DeviceID": 5, "EventID": 0xFFFF_FFFF, "pINTID": 0x2000, "ICID": 9},
    "MAPI": {"DeviceID": 5, "EventID": 0x2001, "ICID": 9},
    "MOVI": {"DeviceID": 5, "EventID": 17, "ICID": 2},
    "MOVALL": {"RDbase1": 1, "RDbase2": 0xF_FFFF_FFFF},
    "DISCARD": {"DeviceID": 1, "EventID": 2},
    "INV": {"DeviceID": 1, "EventID": 2},
    "INVALL": {"ICID": 0xFFFF},
    "INT": {"DeviceID": 0xFFFF_FFFF, "EventID": 2},
    "CLEAR": {"DeviceID": 1, "EventID": 2},
    "SYNC": {"RDbase": 4},
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_command_roundtrip(name):
    raw = a.encode_command(name, **SAMPLES[name])
    assert len(raw) == 32
    cmd = a.decode_command(raw)
    assert cmd.name == name
    want = dict(SAMPLES[name])
    if "ITT_addr" in want:
        want["ITT_addr"] >>= 8
    for k, v in want.items():
        assert cmd.fields[k] == v


def test_command_bit_positions():
    raw = a.encode_command("MAPTI", DeviceID=0x11, EventID=0x22, pINTID=0x2033, ICID=0x44)
    dw = [int.from_bytes(raw[i:i + 8], "little") for i in range(0, 32, 8)]
    assert dw == [0x0A | (0x11 << 32), 0x22 | (0x2033 << 32), 0x44, 0]
    raw = a.encode_command("MAPC", ICID=5, RDbase=3, V=1)
    assert int.from_bytes(raw[16:24], "little") == (1 << 63) | (3 << 16) | 5
    raw = a.encode_command("MOVALL", RDbase1=1, RDbase2=2)
    assert int.from_bytes(raw[16:24], "little") == 1 << 16
    assert int.from_bytes(raw[24:32], "little") == 2 << 16


def test_unknown_and_gicv4_opcodes_decode():
    assert a.decode_command(bytes([0x2A]) + bytes(31)).name == "VMAPTI"
    c = a.decode_command(bytes([0x77]) + bytes(31))
    assert (c.name, c.opcode, c.fields) == ("UNKNOWN", 0x77, {})
    assert str(a.decode_command(a.encode_command("INT", DeviceID=1, EventID=2))) == \
        "INT DeviceID=0x1 EventID=0x2"


def test_encode_errors():
    with pytest.raises(InvalidArgumentValue,
                       match=r"^name must be an ITS command name, not 'FOO'$"):
        a.encode_command("FOO")
    with pytest.raises(InvalidArgumentValue, match=r"^MAPC has no field DeviceID$"):
        a.encode_command("MAPC", DeviceID=1)
    with pytest.raises(InvalidArgumentValue, match=r"^ICID must be in \[0x0, 0xffff\], not 65536$"):
        a.encode_command("MAPC", ICID=1 << 16)
    with pytest.raises(InvalidArgumentType, match=r"^ICID must be an int, not 'x'$"):
        a.encode_command("MAPC", ICID="x")
    with pytest.raises(InvalidArgumentValue, match=r"^raw must be 32 bytes"):
        a.decode_command(b"\0")


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_decode_any_bytes(raw):
    cmd = a.decode_command(raw)
    assert cmd.opcode == raw[0]
    if cmd.name in SAMPLES:
        again = a.decode_command(a.encode_command(
            cmd.name, **{k: (v << 8 if k == "ITT_addr" else v) for k, v in cmd.fields.items()}))
        assert again.fields == cmd.fields
