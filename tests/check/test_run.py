"""run_once / Target: the replay line a finding prints is a shell command that works."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from irqlab import sim
from irqlab.check.run import Target, run_once
from irqlab.cli import main


@pytest.mark.parametrize("params", [{"sequence": "?2", "kexec": 0},
                                    {"sequence": "down1,up1|up2", "kexec": 0}])
def test_replay_line_survives_the_shell(params, capsys) -> None:
    t = Target("its-memreserve", "one-flag", params)
    out = next(o for o in (run_once("its-memreserve", "one-flag", sim.Random(seed), **params)
                           for seed in range(20)) if o.findings)
    line = t.replay_line(out.schedule)
    assert line.startswith("irqlab replay ")
    # what a shell hands the program: bash prints the arguments it would pass
    echo = subprocess.run(["bash", "-c", "printf '%s\\n' " + line[len("irqlab replay "):]],
                          capture_output=True, text=True, check=True)
    argv = ["irqlab", "replay", *echo.stdout.splitlines()]
    assert argv == shlex.split(line)
    assert f"sequence={params['sequence']}" in argv
    assert main([*argv[1:], "-q"]) == 1   # replays, shows the finding again
    capsys.readouterr()


def test_target_arguments_are_checked_not_defaulted() -> None:
    from irqlab.errors import InvalidArgumentValue

    with pytest.raises(InvalidArgumentValue, match="variant must be one of irq, irqsave, plain"):
        Target("vgic-lpi-xa", "")   # an empty variant is not the default one
    assert Target("vgic-lpi-xa").variant == "irq"
    with pytest.raises(InvalidArgumentValue,
                       match=r"scenario must be one of its-memreserve, .*counter \(the "
                             r"benchmark\), not 'nosuch'"):
        Target("nosuch")
    with pytest.raises(InvalidArgumentValue, match=r"budget must be in \[1, 1099511627776\]"):
        from irqlab.check.explore import explore

        explore("counter", "locked", budget=0)
