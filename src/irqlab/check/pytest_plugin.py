"""pytest integration: an exploration decorator (like Hypothesis's ``@given``) and a fixture.

Registered as the ``irqlab`` pytest plugin (entry point ``pytest11``), so any
project that installs irqlab can write::

    from irqlab import sim
    from irqlab.check import explore_test

    @explore_test(strategy="dfs", budget=1000)
    def test_my_lock(strategy):
        eng = sim.Engine(cpus=2, strategy=strategy)
        ...                       # spawn contexts
        return eng                # or a scenarios.World with invariants

    @explore_test("vgic-lpi-refcount", "dec-then-lock", expect="invariant:lpi-lost")
    def test_seed_001_refcount_race(result):
        assert result.shrunk.preemptions <= 2

The decorated test explores the schedules of what the function builds (it is
called once per schedule with the strategy to use) -- or of a built-in
scenario variant -- and fails with the report (the finding, the
counterexample in CPU columns, the replay line) when the verdict is not the
expected one (``expect=None``: clean).  Other arguments of the test (fixtures)
are passed through; with a scenario, a ``result`` argument receives the
:class:`~irqlab.check.explore.ExploreResult`.  A clean verdict from a DFS that
stopped at its budget before exhausting the space passes with a
:class:`NotExhaustive` warning (``-W error::irqlab.check.NotExhaustive`` makes
it fail).

The ``irqlab_explore`` fixture is the same as a function:
``irqlab_explore(target, variant=None, expect=None, **explore_options)``.
A failing test prints the line that replays its counterexample:
``pytest 'test_x.py::test_y' --irqlab-replay 'v1....'`` runs that one schedule
(recorded and drawn) instead of exploring.
``audit=True`` (or ``audit=N`` runs) also audits the model's footprints
(:mod:`irqlab.check.audit`: reordering steps DPOR calls independent must change
nothing) and fails with the audit report if a reordering changed something; the
``irqlab_audit(target, variant=None, **audit_options)`` fixture does that alone.
This module imports nothing heavy at load time: it is loaded by every pytest
run in an environment where irqlab is installed.
"""

from __future__ import annotations

import functools
import inspect
import os
import shlex
import warnings
from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["NotExhaustive", "explore_test", "irqlab_audit", "irqlab_explore"]


def _verdict_ok(res: Any, expect: str | None) -> bool:
    if expect is None:
        return res.finding is None
    out = res.shrunk.outcome if res.shrunk is not None else res.outcome
    return out is not None and any(f.kind == expect for f in out.findings)


class NotExhaustive(UserWarning):
    """A test passed clean, but its DFS stopped at the budget before the space was
    exhausted: a failing schedule may lie beyond it.  Raise ``budget`` (``None``: no
    limit), or turn this into an error with ``-W error::irqlab.check.NotExhaustive``."""


def _fail_unless(res: Any, expect: str | None) -> None:
    if _verdict_ok(res, expect):
        if expect is None and res.strategy == "dfs" and not res.exhausted:
            warnings.warn(NotExhaustive(
                f"irqlab: {res.target.name} is clean in the {res.schedules} schedules "
                f"explored, but the DFS stopped at its budget before exhausting the space: "
                f"raise budget= (None: no limit)"), stacklevel=3)
        return
    if expect is None:
        pytest.fail("irqlab found a schedule that fails:\n" + res.report(), pytrace=False)
    pytest.fail(f"irqlab expected a {expect} finding, got "
                f"{res.finding.kind if res.finding else 'none'}:\n" + res.report(),
                pytrace=False)


#: ``--irqlab-replay SCHEDULE`` (set at configure time): decorated tests replay it.
_REPLAY: str | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("irqlab").addoption(
        "--irqlab-replay", metavar="SCHEDULE", default=None,
        help="run the selected @explore_test test along this schedule string (the line "
             "its failure printed) instead of exploring")


def pytest_configure(config: pytest.Config) -> None:
    global _REPLAY
    _REPLAY = config.getoption("irqlab_replay", None)


#: The test being run (its node, for the replay line).
_ITEM: Any = None


def pytest_runtest_setup(item: pytest.Item) -> None:
    global _ITEM
    _ITEM = item


def _replay_cmd() -> str:
    # the command that replays a schedule of the running test: its file relative to the
    # working directory (where the user ran pytest) and the rest of its node id
    if _ITEM is None:
        return ""
    rest = _ITEM.nodeid.partition("::")[2]
    node = f"{os.path.relpath(_ITEM.path)}::{rest}"
    return f"pytest {shlex.quote(node)} --irqlab-replay {{schedule}}"


def run_exploration(target: Any, variant: str | None = None, *, expect: str | None = None,
                    **options: Any) -> Any:
    """Explore ``target`` and fail the current test unless the verdict is ``expect``.

    With ``--irqlab-replay SCHEDULE`` on the pytest command line, run that schedule
    instead (recorded, drawn in the failure) and fail unless its verdict is ``expect``.
    """
    from irqlab.check.explore import explore
    from irqlab.check.run import Target, make_target

    if callable(target) and not isinstance(target, Target):
        target = Target(factory=target, expect=expect, replay_cmd=_replay_cmd(),
                        observe=options.pop("observe", True))
    if _REPLAY is not None:
        from irqlab.check.report import replay
        from irqlab.sim import ScheduleDivergence

        t = make_target(target, variant, options.get("params"), expect=expect,
                        observe=options.get("observe", True))
        try:
            out = replay(t, _REPLAY)
        except (ScheduleDivergence, ValueError) as e:
            pytest.fail(f"irqlab replay: {e}", pytrace=False)
        kinds = [f.kind for f in out.findings]
        if (expect is None and kinds) or (expect is not None and expect not in kinds):
            pytest.fail(f"irqlab replay of {_REPLAY}: expected {expect or 'clean'}, got "
                        f"{', '.join(kinds) or 'clean'}:\n" + out.report(), pytrace=False)
        return out
    res = explore(target, variant, expect=expect, **options)
    _fail_unless(res, expect)
    return res


def run_audit(target: Any, variant: str | None = None, **options: Any) -> Any:
    """Audit ``target``'s footprints; fail the current test if a reordering changed something."""
    from irqlab.check.audit import audit

    res = audit(target, variant, **options)
    if not res.clean:
        pytest.fail("irqlab: the explorer misses a dependence of this model:\n"
                    + res.report(), pytrace=False)
    return res


def explore_test(scenario: str | None = None, variant: str | None = None, *,
                 expect: str | None = None, strategy: str = "dfs", budget: int | None = 1000,
                 time: float | None = None, seed: int = 0, depth: int = 3,
                 preemptions: int | None = None, audit: bool | int = False,
                 observe: bool | str = True, **params: Any) -> Callable[[Any], Any]:
    """Decorate a test: explore its world (or ``scenario``/``variant``) for a finding.

    Without ``scenario`` the test function takes a ``strategy`` argument and
    returns a World or an Engine built with it.  ``params`` are scenario
    parameters.  The test fails with the drawn counterexample and the replay
    line unless the verdict is ``expect`` (``None``: clean).  ``audit``: True
    (20 runs) or a number of runs also audits the footprints first.  ``observe``:
    ``"preempt_rt"`` checks with lockdep's PREEMPT_RT rules (see
    :func:`irqlab.check.explore.explore`).
    """
    if type(audit) is not bool and (type(audit) is not int or audit < 1):
        raise TypeError(f"audit must be a bool or a number of runs >= 1, not {audit!r}")
    runs = 20 if audit is True else int(audit)
    opts: dict[str, Any] = {"strategy": strategy, "budget": budget, "time": time, "seed": seed,
                            "depth": depth, "preemptions": preemptions, "observe": observe}

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn)
        if scenario is None and "strategy" not in sig.parameters:
            raise TypeError(f"{fn.__name__} must take a 'strategy' argument (or pass a "
                            "scenario name to explore_test)")
        hidden = "strategy" if scenario is None else "result"
        outer = [p for n, p in sig.parameters.items() if n != hidden]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            if scenario is None:
                def factory(st: Any) -> Any:
                    return fn(*args, strategy=st, **kwargs)

                factory.__name__ = fn.__name__
                if audit and _REPLAY is None:
                    run_audit(factory, runs=runs, seed=seed)
                run_exploration(factory, expect=expect, **opts)
            else:
                if audit and _REPLAY is None:
                    run_audit(scenario, variant, runs=runs, seed=seed, **params)
                res = run_exploration(scenario, variant, expect=expect, params=params, **opts)
                if hidden in sig.parameters and _REPLAY is None:
                    fn(*args, result=res, **kwargs)
                elif hidden in sig.parameters:
                    return  # (a replay gives an outcome, not an exploration result)
                else:
                    fn(*args, **kwargs)

        wrapper.__signature__ = sig.replace(parameters=outer)  # type: ignore[attr-defined]
        del wrapper.__wrapped__  # pytest must see the outer signature
        return wrapper

    return deco


@pytest.fixture
def irqlab_explore() -> Callable[..., Any]:
    """``irqlab_explore(target, variant=None, expect=None, **options) -> ExploreResult``.

    Explores and fails the test (with the report) unless the verdict is ``expect``.
    """
    return run_exploration


@pytest.fixture
def irqlab_audit() -> Callable[..., Any]:
    """``irqlab_audit(target, variant=None, **options) -> AuditResult``.

    Audits the footprints (``runs``, ``moves``, ``seed``, ``time``, scenario
    parameters) and fails the test with the report if a reordering changed something.
    """
    return run_audit
