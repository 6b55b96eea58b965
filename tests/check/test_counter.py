"""The counter benchmark: its parameters are validated like the engine's ``cpus``."""

from __future__ import annotations

import pytest

from irqlab import sim
from irqlab.check.counter import SCENARIO
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue


@pytest.mark.parametrize(("params", "message"), [
    ({"iters": -3}, r"^iters must be in \[1, 100\], not -3$"),
    ({"iters": 0}, r"^iters must be in \[1, 100\], not 0$"),
    ({"iters": 10_000_000_000}, r"^iters must be in \[1, 100\], not 10000000000$"),
    ({"cpus": 0}, r"^cpus must be in \[1, 64\], not 0$"),
    ({"cpus": 65}, r"^cpus must be in \[1, 64\], not 65$"),
])
def test_bad_params_rejected(params: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidArgumentValue, match=message):
        SCENARIO.build("racy", sim.Random(0), **params)


def test_bool_param_rejected() -> None:
    with pytest.raises(InvalidArgumentType, match=r"^iters must be int, not True$"):
        SCENARIO.build("racy", sim.Random(0), iters=True)


def test_largest_params_run_clean() -> None:
    w = SCENARIO.build("locked", sim.Random(0), cpus=64, iters=100)
    res = w.engine.run()
    assert res.outcome == "ok"
    assert w.check(res) == []
