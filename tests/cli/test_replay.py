"""``irqlab replay``: the replay line reproduces; divergence and malformed input exit 2."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab.cli import main


def replay_line(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    assert main(["explore", *argv, "--json"]) == 1
    d = json.loads(capsys.readouterr().out)
    return d["replay"].split()[1:]


def test_replay_reproduces_the_finding(capsys: pytest.CaptureFixture[str]) -> None:
    argv = replay_line(capsys, "vgic-lpi-refcount", "-V", "dec-then-lock", "-S", "dfs")
    assert argv[0] == "replay"
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "invariant:lpi-lost" in out and "verdict: FINDING" in out
    assert "CPU0" in out  # the drawing
    assert main([*argv, "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["findings"][0]["kind"] == "invariant:lpi-lost"


def test_replay_with_params(capsys: pytest.CaptureFixture[str]) -> None:
    argv = replay_line(capsys, "counter", "-V", "racy", "-p", "cpus=2", "-p", "iters=1")
    assert "-p" in argv
    assert main(argv) == 1


def test_divergent_schedule_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    argv = replay_line(capsys, "counter", "-V", "racy", "-S", "dfs")
    sched = argv[-1]
    # another variant: other scenario hash
    assert main(["replay", "counter", "-V", "locked", sched]) == 2
    err = capsys.readouterr().err
    assert err.startswith("irqlab replay: error: the schedule does not match counter")
    assert len(err.strip().splitlines()) == 1
    # same scenario, changed choices: shape mismatch or bad option
    head, _, body = sched.rpartition(".")
    assert main(["replay", "counter", "-V", "racy", head + "." + "v" * len(body)]) == 2
    assert "does not match" in capsys.readouterr().err
    # a prefix only: needs --continue
    assert main(["replay", "counter", "-V", "racy", head + "." + body[:2]]) == 2
    capsys.readouterr()


def test_continue_a_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    argv = replay_line(capsys, "counter", "-V", "racy", "-S", "dfs")
    head, _, body = argv[-1].rpartition(".")
    code = main(["replay", "counter", "-V", "racy", head + "." + body[:1], "--continue",
                 "--strategy", "roundrobin", "-q"])
    assert code in (0, 1)
    out = capsys.readouterr().out
    assert "replay: irqlab replay counter --variant racy v1." in out


@pytest.mark.parametrize("sched", ["garbage", "v1.zz.00000000.0", "v1.00000000.00000000.x"])
def test_malformed_schedule_exit_2(sched: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "counter", sched]) == 2
    err = capsys.readouterr().err
    assert "schedule must look like" in err or "schedule has" in err
    assert "Traceback" not in err


def test_continue_with_bad_strategy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "counter", "v1.00000000.00000000.", "--continue", "-S", "x"]) == 2
    assert "strategy must be" in capsys.readouterr().err

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz.v"


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=40))
def test_fuzz_schedule_text_never_tracebacks(text: str) -> None:
    import contextlib
    import io

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(["replay", "counter", "-V", "racy", "-p", "cpus=2", "-p", "iters=1",
                     "-q", text if text.startswith("v") else "v1.1bd4b5ce.00000000." + text])
    assert code in (0, 1, 2)
    assert "Traceback" not in err.getvalue()
    if code == 2:
        assert len(err.getvalue().strip().splitlines()) == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), max_size=30))
def test_fuzz_choice_prefixes_continue(choices: list[int]) -> None:
    import contextlib
    import io

    from irqlab.sim import encode_schedule
    from irqlab.sim.engine import _hash8

    sched = encode_schedule(_hash8("counter/racy/cpus=2,iters=1"), 0, choices)
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(["replay", "counter", "-V", "racy", "-p", "cpus=2", "-p", "iters=1",
                     "-q", sched, "--continue", "-S", "roundrobin"])
        code2 = main(["replay", "counter", "-V", "racy", "-p", "cpus=2", "-p", "iters=1",
                      "-q", sched])
    assert code in (0, 1, 2) and code2 in (0, 1, 2)
    assert "Traceback" not in err.getvalue()


A = ["vmd-teardown", "--variant", "immediate-free"]
A_SCHED = "v1.060fb8c9.52d61c66.00y5z1y6z0"


def test_schedule_expanding_past_the_bound_is_one_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Each repeat is under the old 2**24 cap; together they were GBs of choices."""
    from irqlab.sim.strategy import MAX_SCHEDULE_CHOICES

    text = "v1.060fb8c9.52d61c66." + "y1000000z0" * 64
    assert main(["replay", *A, text, "-q"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"irqlab replay: error: schedule has more than {MAX_SCHEDULE_CHOICES} "
                   f"choices at character 31, not {text[:80]!r}... (661 characters)\n")


@pytest.mark.parametrize(("argv", "line"), [
    ([*A, A_SCHED, "-S", "pct"], "--strategy applies only with --continue"),
    ([*A, A_SCHED, "--seed", "5"], "--seed applies only with --continue"),
    ([*A, A_SCHED, "--continue", "-S", "roundrobin", "--seed", "5"],
     "--seed does not apply to --strategy roundrobin (it would be ignored)"),
    (["vmd-teardown", "-V", "", A_SCHED],
     "variant must be one of immediate-free, rcu-desc, srcu for scenario vmd-teardown, not ''"),
    ([*A, "v1.060fb8c9.52d61c66.00y5z1y6z0Z"],
     "schedule must look like 'v1.<8 hex>.<8 hex>.<choices>', not "
     "'v1.060fb8c9.52d61c66.00y5z1y6z0Z'"),
    ([*A, "  v1.060fb8c9.52d61c66.00y5z1y6z"],
     "schedule has a repeat without a choice at character 29, not "
     "'  v1.060fb8c9.52d61c66.00y5z1y6z'"),
])
def test_usage_messages(argv: list[str], line: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", *argv]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"irqlab replay: error: {line}\n")


def test_other_variant_or_parameters_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    argv = replay_line(capsys, "counter", "-V", "racy", "-S", "dfs")
    sched = argv[-1]
    assert main(["replay", "counter", "-V", "locked", sched]) == 2
    err = capsys.readouterr().err
    assert err.startswith("irqlab replay: error: the schedule does not match counter --variant "
                          "locked: it was recorded for --variant racy (scenario hash ")
    # recorded with the default parameters, replayed with others
    assert main(["replay", "counter", "-V", "racy", "-p", "cpus=2", sched]) == 2
    err = capsys.readouterr().err
    assert ": it was recorded for this variant with the default parameters (scenario hash " \
        in err
    # recorded with other parameters: not something it can name
    argv = replay_line(capsys, "counter", "-V", "racy", "-S", "dfs", "-p", "cpus=2")
    assert main(["replay", "counter", "-V", "racy", argv[-1]]) == 2
    assert ": it was recorded for another variant or other parameters (-p), or another " \
           "scenario (scenario hash " in capsys.readouterr().err
    # another scenario's schedule
    assert main(["replay", "vgic-lpi-xa", A_SCHED]) == 2
    assert ": it was recorded for scenario vmd-teardown --variant immediate-free (" in \
        capsys.readouterr().err



def test_replay_prints_the_run_report_under_its_own_head(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The text is format_outcome's with the target in the first line instead of the
    schedule (which the command line already holds)."""
    from irqlab.check.report import format_outcome, replay

    sched = "v1.0119a26c.a33a6cca.0000y5z20"
    assert main(["replay", "counter", "-V", "racy", sched, "-q"]) == 1
    out = capsys.readouterr().out.splitlines()
    report = format_outcome(replay("counter", sched, "racy"), draw=False).splitlines()
    assert out == ["counter --variant racy: ok after 15 steps", "  counter = 4 (expected 6)",
                   "  invariant:counter: counter is 4, expected 6", "verdict: FINDING"]
    assert report == [f"ok after 15 steps: {sched}", *out[1:]]


def test_a_pct_continuation_knows_its_k() -> None:
    # PCT places its change points among k steps: a continuation without k had none
    import argparse

    from irqlab.check.run import Target
    from irqlab.cli.replay import _continuation

    t = Target("counter", "racy")
    st = _continuation(argparse.Namespace(cont=True, strategy="pct", seed=3), t)
    assert st.k > 1 and st.depth == 3
