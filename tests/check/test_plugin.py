"""The pytest plugin: the explore_test decorator and the irqlab_explore fixture (pytester)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _needs_plugin(request: pytest.FixtureRequest) -> None:
    if not request.config.pluginmanager.has_plugin("irqlab"):
        pytest.skip("irqlab pytest plugin not installed (pip install -e .)")


def test_decorated_world_clean_and_racy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user="""
        from irqlab import sim
        from irqlab.check import explore_test

        def build(strategy, locked):
            eng = sim.Engine(cpus=2, strategy=strategy)
            lk = sim.SpinLock("L")
            c = sim.Atomic(0, name="c")

            async def inc():
                if locked:
                    await lk.lock()
                v = await c.read()
                await c.set(v + 1)
                if locked:
                    lk.unlock()

            eng.spawn(0, inc)
            eng.spawn(1, inc)

            async def check():
                pass
            return eng, c

        @explore_test(strategy="dfs", budget=100)
        def test_locked(strategy):
            eng, _ = build(strategy, True)
            return eng

        @explore_test(strategy="dfs", budget=100)
        def test_racy_deadlocks(strategy):
            eng = sim.Engine(cpus=2, strategy=strategy)
            a, b = sim.SpinLock("A"), sim.SpinLock("B")

            async def ab():
                await a.lock()
                await b.lock()
                b.unlock()
                a.unlock()

            async def ba():
                await b.lock()
                await a.lock()
                a.unlock()
                b.unlock()

            eng.spawn(0, ab)
            eng.spawn(1, ba)
            return eng

        @explore_test("counter", "racy", expect="invariant:counter", cpus=2, iters=1)
        def test_known_bug(result):
            assert result.shrunk.preemptions == 1

        def test_fixture(irqlab_explore):
            r = irqlab_explore("counter", "locked", strategy="dfs", params={"cpus": 2, "iters": 1})
            assert r.exhausted
    """)
    res = pytester.runpytest("-q", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=3, failed=1)
    out = res.stdout.str()
    assert "irqlab found a schedule that fails" in out
    assert "lockdep:circular-locking" in out or "deadlock" in out
    assert "replay:" in out


def test_expected_finding_missing_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user2="""
        from irqlab.check import explore_test

        @explore_test("counter", "locked", expect="invariant:counter", cpus=2, iters=1)
        def test_claims_a_bug():
            pass
    """)
    res = pytester.runpytest("-q", "-p", "no:cacheprovider")
    res.assert_outcomes(failed=1)
    assert "expected a invariant:counter finding, got none" in res.stdout.str()


def test_decorator_needs_strategy_argument() -> None:
    from irqlab.check import explore_test

    with pytest.raises(TypeError, match="strategy"):
        explore_test()(lambda: None)
