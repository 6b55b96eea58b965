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


_ABBA = """
    from irqlab import sim
    from irqlab.check import explore_test

    def abba(strategy):
        eng = sim.Engine(cpus=2, strategy=strategy)
        a = sim.SpinLock("A")
        b = sim.SpinLock("B")

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
"""


def test_expect_steers_the_search_of_a_user_model(pytester: pytest.Pytester) -> None:
    # lockdep predicts the deadlock from the first schedule; expect="deadlock" goes on
    # until a schedule witnesses it, with every strategy
    pytester.makepyfile(test_user4=_ABBA + """
    @explore_test(strategy="dfs", expect="deadlock")
    def test_dfs_witnesses(strategy):
        return abba(strategy)

    @explore_test(strategy="random", expect="deadlock")
    def test_random_witnesses(strategy):
        return abba(strategy)

    @explore_test(strategy="dfs")
    def test_claims_clean(strategy):
        return abba(strategy)

    def test_fixture(irqlab_explore):
        r = irqlab_explore(abba, expect="deadlock", strategy="pct")
        assert r.finding.kind == "deadlock" and r.expected
        assert r.report().startswith("abba: FINDING (as expected)")
    """)
    res = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=3, failed=1)
    assert "lockdep:circular-locking" in res.stdout.str()


def test_a_clean_dfs_stopped_by_its_budget_warns(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user5="""
        from irqlab import sim
        from irqlab.check import explore_test

        def counter(strategy):
            eng = sim.Engine(cpus=3, strategy=strategy)
            lk = sim.SpinLock("L")
            c = sim.Atomic(0, name="c")

            async def inc():
                for _ in range(2):
                    await lk.lock()
                    v = await c.read()
                    await c.set(v + 1)
                    lk.unlock()

            for cpu in range(3):
                eng.spawn(cpu, inc)
            return eng

        @explore_test(strategy="dfs", budget=10)
        def test_partial(strategy):
            return counter(strategy)

        @explore_test(strategy="dfs", budget=None)
        def test_whole(strategy):
            return counter(strategy)
    """)
    res = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=2, warnings=1)
    assert "NotExhaustive" in res.stdout.str()
    assert "clean in the 10 schedules explored" in res.stdout.str()
    res = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider",
                                        "-W", "error::irqlab.check.NotExhaustive")
    res.assert_outcomes(passed=1, failed=1)


def test_a_failure_prints_a_pytest_line_that_replays_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user6=_ABBA + """
    @explore_test(strategy="dfs")
    def test_abba(strategy):
        return abba(strategy)
    """)
    res = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    res.assert_outcomes(failed=1)
    line = next(ln.strip() for ln in res.stdout.lines if "--irqlab-replay" in ln)
    assert line.startswith("replay: pytest test_user6.py::test_abba --irqlab-replay v1.")
    schedule = line.split()[-1]
    res = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider",
                                        "test_user6.py::test_abba", "--irqlab-replay", schedule)
    res.assert_outcomes(failed=1)
    out = res.stdout.str()
    assert f"irqlab replay of {schedule}: expected clean, got lockdep:circular-locking" in out
    assert "verdict: FINDING" in out and "CPU0" in out
    # a schedule of another model is refused (the model's default fingerprint differs)
    other = "v1.00000000" + schedule[len("v1.00000000"):]
    res = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider",
                                        "test_user6.py::test_abba", "--irqlab-replay", other)
    res.assert_outcomes(failed=1)
    assert "irqlab replay: schedule was recorded for scenario 00000000" in res.stdout.str()
