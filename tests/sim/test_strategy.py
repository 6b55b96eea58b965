"""Strategies, schedule strings, determinism, replay and divergence detection."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab import sim
from irqlab.errors import InvalidArgumentType, InvalidArgumentValue


def scenario(strategy: sim.Strategy, *, n: int = 3, k: int = 2, irqs: bool = True,
             fingerprint: str = "mixed") -> sim.Engine:
    """Locks, RCU, an interrupt, a device actor: a bit of everything."""
    eng = sim.Engine(cpus=n, strategy=strategy, fingerprint=fingerprint)
    lock = sim.SpinLock("lock")
    counter = sim.Atomic(0, name="counter")
    done = sim.Completion("done")

    async def handler(cpu: sim.CpuCtx) -> None:
        flags = await lock.lock_irqsave()
        await counter.add(100)
        lock.unlock_irqrestore(flags)

    async def worker(me: int) -> None:
        for i in range(k):
            flags = await lock.lock_irqsave()
            v = await counter.read()
            await counter.set(v + 1)
            lock.unlock_irqrestore(flags)
            sim.rcu_read_lock()
            await sim.point(f"w{me}.{i}")
            sim.rcu_read_unlock()
        if me == 0:
            done.complete()

    async def waiter() -> None:
        await done.wait_for_completion()
        await sim.synchronize_rcu()

    async def device() -> None:
        await sim.point("dma")
        if irqs:
            eng.raise_irq(1, 33)

    eng.set_irq_handler(handler)
    for cpu in range(n):
        eng.spawn(cpu, worker, cpu)
    eng.spawn(n - 1, waiter)
    eng.spawn_device("dev", device)
    return eng


def trace(strategy: sim.Strategy, **kw: object) -> tuple[sim.RunResult, str]:
    eng = scenario(strategy, **kw)  # type: ignore[arg-type]
    rec = eng.events.record()
    res = eng.run()
    return res, rec.text()


def test_same_seed_identical_event_stream() -> None:
    r1, t1 = trace(sim.Random(42))
    r2, t2 = trace(sim.Random(42))
    assert r1.ok and t1 == t2 and r1.schedule == r2.schedule
    assert "sim_irq_enter" in t1


def test_different_seeds_give_different_interleavings() -> None:
    schedules = {trace(sim.Random(s))[0].schedule for s in range(10)}
    assert len(schedules) >= 8


def test_replay_reproduces_identical_event_stream() -> None:
    for seed in range(10):
        r1, t1 = trace(sim.Random(seed))
        r2, t2 = trace(sim.Replay(r1.schedule))
        assert (r2.schedule, t2) == (r1.schedule, t1)


def test_replay_from_choice_list() -> None:
    r1, t1 = trace(sim.Random(5))
    _r2, t2 = trace(sim.Replay(list(r1.choices)))
    assert t2 == t1


def test_replay_of_another_scenario_diverges() -> None:
    r1, _ = trace(sim.Random(1))
    with pytest.raises(sim.ScheduleDivergence, match="recorded for scenario"):
        trace(sim.Replay(r1.schedule), fingerprint="other")


def test_replay_detects_invalid_choice() -> None:
    r1, _ = trace(sim.Random(1))
    h, shape, choices = sim.decode_schedule(r1.schedule)
    bad = sim.encode_schedule(h, shape, [31, *choices[1:]])
    with pytest.raises(sim.ScheduleDivergence, match=r"choice 0: recorded option 31 but only"):
        trace(sim.Replay(bad))


def test_replay_detects_shape_change() -> None:
    # same scenario name, different behaviour (no interrupt): the choice-point shape differs
    for seed in range(20):
        r1, _ = trace(sim.Random(seed))
        try:
            trace(sim.Replay(r1.schedule), irqs=False)
        except sim.ScheduleDivergence:
            continue
        raise AssertionError("divergence not detected")


def test_replay_run_needing_more_choices_diverges() -> None:
    r1, _ = trace(sim.Random(3))
    h, _shape, choices = sim.decode_schedule(r1.schedule)
    with pytest.raises(sim.ScheduleDivergence, match="more than the 3 recorded"):
        trace(sim.Replay(choices[:3]))
    short = sim.encode_schedule(h, 0, choices[:3])   # a wrong shape hash is caught first
    with pytest.raises(sim.ScheduleDivergence, match=r"diverged .* first 3 choices"):
        trace(sim.Replay(short))


def test_replay_run_ending_early_diverges() -> None:
    r1, _ = trace(sim.Random(3))
    h, shape, choices = sim.decode_schedule(r1.schedule)
    longer = sim.encode_schedule(h, shape, [*choices, 0, 0, 0])
    with pytest.raises(sim.ScheduleDivergence, match="run ended"):
        trace(sim.Replay(longer))


def test_replay_prefix_then_continue() -> None:
    r1, _ = trace(sim.Random(9))
    prefix = list(r1.choices[:5])
    res = scenario(sim.Replay(prefix, then=sim.Random(100))).run()
    assert res.ok
    assert list(res.choices[:5]) == prefix
    res2 = scenario(sim.Replay(prefix, then=sim.RoundRobin())).run()
    assert res2.ok and list(res2.choices[:5]) == prefix


def test_prefix_string_with_shape_checks_at_end_of_prefix() -> None:
    class Stop(Exception):
        pass

    class Recorder(sim.Strategy):
        """Random, and remember the engine's shape after 5 choices."""

        def __init__(self) -> None:
            self.inner = sim.Random(4)
            self.n = 0
            self.shape5: int | None = None

        def choose(self, choices, engine):  # type: ignore[no-untyped-def]
            if self.n == 5:
                self.shape5 = engine.shape
            self.n += 1
            return self.inner.choose(choices, engine)

    rec = Recorder()
    eng = scenario(rec)
    res = eng.run()
    assert rec.shape5 is not None
    prefix = sim.encode_schedule(eng.scenario_hash, rec.shape5, list(res.choices[:5]))
    res2 = scenario(sim.Replay(prefix, then=sim.Random(4))).run()
    assert res2.ok
    bad = sim.encode_schedule(eng.scenario_hash, rec.shape5 ^ 1, list(res.choices[:5]))
    with pytest.raises(sim.ScheduleDivergence, match="diverged"):
        scenario(sim.Replay(bad, then=sim.Random(4))).run()


def test_round_robin_deterministic_and_takes_irqs_first() -> None:
    r1, t1 = trace(sim.RoundRobin())
    _r2, t2 = trace(sim.RoundRobin())
    assert t1 == t2 and r1.ok


def test_explore_loop() -> None:
    outs = list(sim.explore(lambda s: scenario(s), sim.Random(0), 20))
    assert len(outs) == 20 and all(r.ok for r in outs)
    assert len({r.schedule for r in outs}) > 10
    first = list(sim.explore(lambda s: scenario(s), sim.Random(0), 20,
                             stop=lambda r: True))
    assert len(first) == 1
    with pytest.raises(InvalidArgumentType, match="factory must return an Engine"):
        list(sim.explore(lambda s: scenario(sim.Random(1)), sim.Random(0), 1))


def test_schedule_string_roundtrip_and_escapes() -> None:
    choices = [0, 1, 31, 32, 255, 4096, 7]
    s = sim.encode_schedule("0123abcd", 0xDEADBEEF, choices)
    assert s == "v1.0123abcd.deadbeef.01vw20xwffxw1000x7"
    assert sim.decode_schedule(s) == ("0123abcd", 0xDEADBEEF, choices)
    runs = [1] * 4 + [2] * 5 + [40] * 12 + [0]
    s = sim.encode_schedule("0123abcd", 0, runs)
    assert s == "v1.0123abcd.00000000.1111y5z2y12zw28x0"
    assert sim.decode_schedule(s)[2] == runs


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 3), st.integers(0, 5000)), max_size=80))
def test_schedule_roundtrip_fuzz(choices: list[int]) -> None:
    s = sim.encode_schedule("00000000", 7, choices)
    assert sim.decode_schedule(s) == ("00000000", 7, choices)


@pytest.mark.parametrize("bad", ["", "v2.01234567.01234567.0", "v1.0123.01234567.0",
                                 "v1.01234567.01234567.0w", "v1.01234567.01234567.x",
                                 "v1.01234567.01234567.wzx", "v1.01234567.01234567.0 1",
                                 "v1.01234567.01234567.y", "v1.01234567.01234567.yz1",
                                 "v1.01234567.01234567.y0z1", "v1.01234567.01234567.y3z",
                                 "v1.01234567.01234567.y99999999z1",
                                 "v1.01234567.01234567.z"])
def test_malformed_schedule_strings(bad: str) -> None:
    with pytest.raises(InvalidArgumentValue, match="schedule"):
        sim.decode_schedule(bad)


def test_schedule_total_choices_are_bounded() -> None:
    """Repeats are capped in total, not only each one: a short string cannot expand to GBs."""
    head = "v1.01234567.01234567."
    limit = sim.strategy.MAX_SCHEDULE_CHOICES
    assert len(sim.decode_schedule(f"{head}y{limit}z0")[2]) == limit
    half = f"y{limit // 2}z0"
    # the third repeat would pass the limit: reported at its position in the string
    bad = head + half * 3
    with pytest.raises(InvalidArgumentValue, match=(
            rf"^schedule has more than {limit} choices at character {len(head + half * 2)}, "
            r"not 'v1\.")):
        sim.decode_schedule(bad)
    with pytest.raises(InvalidArgumentValue, match=rf"^schedule has more than {limit} choices"):
        sim.decode_schedule(f"{head}0y{limit}z1")
    with pytest.raises(InvalidArgumentValue, match=rf"^schedule has a repeat count over {limit}"):
        sim.decode_schedule(f"{head}y16777216z0")
    # a huge digit string: a one-line error, not int()'s digit-limit ValueError
    with pytest.raises(InvalidArgumentValue, match=r"^schedule has a repeat count over"):
        sim.decode_schedule(f"{head}y{'9' * 5000}z0")


def test_schedule_error_position_counts_from_the_start() -> None:
    with pytest.raises(InvalidArgumentValue,
                       match=r"^schedule has a stray 'z' at character 22, not "):
        sim.decode_schedule("v1.01234567.01234567.0z")
    with pytest.raises(InvalidArgumentValue, match=r"^schedule has a bad escape at character 23"):
        sim.decode_schedule("  v1.01234567.01234567.wzx")


def test_schedule_error_shows_a_long_string_cut_short() -> None:
    text = "v1.01234567.01234567." + "0" * 5000 + "z"
    with pytest.raises(InvalidArgumentValue) as e:
        sim.decode_schedule(text)
    msg = str(e.value)
    assert msg.startswith("schedule has a stray 'z' at character 5021, not 'v1.01234567")
    assert msg.endswith("... (5022 characters)") and len(msg) < 200


def test_replay_argument_types() -> None:
    with pytest.raises(InvalidArgumentType, match=r"^schedule must be"):
        sim.Replay(3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentType, match=r"^then must be"):
        sim.Replay([0], then=3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentType, match=r"^seed must be an int"):
        sim.Random("x")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="v1.0123456789abcdefwxyz", max_size=40))
def test_decode_fuzz_never_crashes(text: str) -> None:
    try:
        h, shape, choices = sim.decode_schedule(text)
    except InvalidArgumentValue:
        return
    assert sim.decode_schedule(sim.encode_schedule(h, shape, choices)) == (h, shape, choices)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=6), max_size=60))
def test_replay_fuzz_arbitrary_choice_lists(choices: list[int]) -> None:
    """Any choice list either replays to a result or is a clean divergence."""
    eng = scenario(sim.Replay(choices, then=sim.RoundRobin()))
    try:
        res = eng.run()
    except sim.ScheduleDivergence:
        return
    assert res.outcome == "ok"
    assert list(res.choices[:len(choices)]) == choices


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), max_size=60))
def test_lenient_replay_accepts_every_choice_sequence(choices: list[int]) -> None:
    res = scenario(sim.Replay(choices, strict=False)).run()
    assert res.outcome == "ok"
    again = scenario(sim.Replay(res.schedule)).run()
    assert again.choices == res.choices


def test_lenient_replay_ignores_scenario_hash_and_early_end() -> None:
    r1, _ = trace(sim.Random(2))
    res = scenario(sim.Replay(r1.schedule + "000000", strict=False), fingerprint="x").run()
    assert res.ok


def test_footprints_and_after_step_hook() -> None:
    class Spy(sim.Strategy):
        def __init__(self) -> None:
            self.log: list[tuple[str | None, list[tuple[str, bool]]]] = []

        def choose(self, choices, engine):  # type: ignore[no-untyped-def]
            return 0

        def after_step(self, choice, engine):  # type: ignore[no-untyped-def]
            op = engine.last_op
            self.log.append((None if op is None else op.kind,
                             [(getattr(o, "name", type(o).__name__), w)
                              for o, w in engine.footprint]))

    spy = Spy()
    eng = sim.Engine(cpus=1, strategy=spy, footprints=True)
    lock = sim.SpinLock("L")
    c = sim.Completion("C")

    async def f() -> None:
        await lock.lock()
        lock.unlock()
        c.complete()
        sim.rcu_read_lock()
        sim.rcu_read_unlock()
        sim.note_access("hw", True)
        eng.raise_irq(0, 1)
        await sim.point()

    async def handler(cpu: sim.CpuCtx) -> None:
        await sim.point("in irq")

    eng.set_irq_handler(handler)
    eng.spawn(0, f)
    assert eng.run().ok
    assert spy.log[0] == ("start", [])
    assert spy.log[1] == ("acquire", [
        ("rcu_in0", True), ("rcu_out0", True), ("L", True), ("C", True), ("rcu_in0", True),
        ("rcu_out0", True), ("rcu_section0", True), ("str", True), ("CpuCtx", True)])
    assert spy.log[2] == ("point", [])
    # took the irq: irqs off, a reader starts on CPU0
    assert spy.log[3] == (None, [("rcu_in0", True), ("CpuCtx", True)])


def test_trace_steps_off_drops_step_events_only() -> None:
    eng = sim.Engine(cpus=1, trace_steps=False)
    lock = sim.SpinLock("L")

    async def f() -> None:
        await lock.lock()
        lock.unlock()

    eng.spawn(0, f)
    rec = eng.events.record()
    assert eng.run().ok
    assert rec.of("sim_step") == []
    assert len(rec.of("sim_lock_acquire")) == 1


def test_replay_forwards_after_step_to_its_continuation() -> None:
    class Spy(sim.RoundRobin):
        def __init__(self) -> None:
            super().__init__()
            self.steps = 0

        def after_step(self, choice: object, engine: object) -> None:
            self.steps += 1

    plain = scenario(sim.RoundRobin()).run()
    spy = Spy()
    res = scenario(sim.Replay(plain.choices[:2], then=spy)).run()
    assert res.ok and spy.steps == res.steps   # the replayed prefix's steps too
