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


def test_audit_option_and_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user3="""
        from irqlab import sim
        from irqlab.check import explore_test
        from irqlab.scenarios import World

        def build(strategy, declare):
            eng = sim.Engine(cpus=2, strategy=strategy)
            order = []
            locks = [sim.SpinLock("a"), sim.SpinLock("b")]

            async def body(me):
                await locks[me].lock()
                if declare:
                    sim.note_access(order)
                order.append(me)        # plain state both CPUs share
                locks[me].unlock()

            for i in range(2):
                eng.spawn(i, body, i)
            return World(scenario=None, variant="", params={}, engine=eng,
                         describe=lambda w, r: f"order {order}")

        @explore_test(strategy="dfs", audit=True)
        def test_declared(strategy):
            return build(strategy, True)

        @explore_test(strategy="dfs", audit=10)
        def test_undeclared(strategy):
            return build(strategy, False)

        @explore_test("vmd-teardown", "srcu", audit=5)
        def test_seed(result):
            assert result.exhausted

        def test_fixture(irqlab_audit):
            r = irqlab_audit("counter", "locked", runs=3, cpus=2, iters=1)
            assert r.clean and r.runs == 3
    """)
    # (a subprocess: an in-process run after another one sees the first run's irqlab.sim
    # through the still-imported irqlab package, and a freshly imported one elsewhere)
    res = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=3, failed=1)
    out = res.stdout.str()
    assert "the explorer misses a dependence of this model" in out
    assert "the world's summary differs" in out


def test_audit_option_must_be_a_bool_or_runs() -> None:
    from irqlab.check import explore_test

    with pytest.raises(TypeError, match="audit must be"):
        explore_test(audit=0)
    with pytest.raises(TypeError, match="audit must be"):
        explore_test(audit="yes")  # type: ignore[arg-type]
