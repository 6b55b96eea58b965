"""``irqlab.errors``: the shared argument checks (``check_int``, ``check_count``,
``check_seconds``)."""

from __future__ import annotations

import re

import pytest

from irqlab.errors import (
    InvalidArgumentType,
    InvalidArgumentValue,
    check_count,
    check_int,
    check_seconds,
)


def test_check_int_ranges_default_by_width() -> None:
    assert check_int("n", 5, 1, 10) == 5
    with pytest.raises(InvalidArgumentValue, match=r"^n must be in \[1, 10\], not 0$"):
        check_int("n", 0, 1, 10)
    with pytest.raises(InvalidArgumentValue, match=r"^ICID must be in \[0x0, 0xffff\], not -1$"):
        check_int("ICID", -1, 0, 0xFFFF)
    with pytest.raises(InvalidArgumentType, match=r"^n must be an int, not '3'$"):
        check_int("n", "3", 1, 10)


def test_check_int_decimal_for_counts() -> None:
    with pytest.raises(InvalidArgumentValue,
                       match=r"^budget must be in \[1, 1099511627776\], not 0$"):
        check_int("budget", 0, 1, 1 << 40, decimal=True)
    with pytest.raises(InvalidArgumentValue, match=r"^mask must be in \[0x0, 0xff\], not 256$"):
        check_int("mask", 256, 0, 0xFF, decimal=False)


def test_check_count_writes_the_range_in_decimal() -> None:
    assert check_count("runs", 3, 1, 1 << 30) == 3
    with pytest.raises(InvalidArgumentValue,
                       match=r"^runs must be in \[1, 1073741824\], not 0$"):
        check_count("runs", 0, 1, 1 << 30)
    with pytest.raises(InvalidArgumentType, match=r"^runs must be an int, not 1.5$"):
        check_count("runs", 1.5, 1, 1 << 30)


@pytest.mark.parametrize(("argv", "name", "hi"), [
    (["explore", "counter", "-n"], "budget", "MAX_BUDGET"),
    (["explore", "counter", "-j"], "workers", "MAX_WORKERS"),
    (["audit", "counter", "--runs"], "runs", "MAX_RUNS"),
    (["audit", "counter", "--moves"], "moves", "MAX_RUNS"),
])
def test_the_cli_counts_have_the_library_bounds(capsys: pytest.CaptureFixture[str],
                                                argv: list[str], name: str, hi: str) -> None:
    from irqlab.check import audit, explore
    from irqlab.cli import main

    bound = getattr(audit if hi == "MAX_RUNS" else explore, hi)
    line = f"{name} must be in [1, {bound}], not {bound + 1}"
    assert main([*argv, str(bound + 1)]) == 2
    assert capsys.readouterr().err == f"irqlab {argv[0]}: error: {line}\n"
    run = audit.audit if hi == "MAX_RUNS" else explore.explore
    with pytest.raises(InvalidArgumentValue, match=f"^{re.escape(line)}$"):
        run("counter", **{name: bound + 1})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 0, -1.0, True,
                                   "1"])
def test_check_seconds_rejects(value: object) -> None:
    with pytest.raises(InvalidArgumentValue,
                       match=r"^time must be a positive number of seconds, not "):
        check_seconds("time", value)


def test_check_seconds_nan_message() -> None:
    with pytest.raises(InvalidArgumentValue,
                       match=r"^time must be a positive number of seconds, not nan$"):
        check_seconds("time", float("nan"))


@pytest.mark.parametrize("value", [None, 0.001, 1, 1e9])
def test_check_seconds_accepts(value: object) -> None:
    check_seconds("time", value)
