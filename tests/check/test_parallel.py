"""Parallel exploration: deterministic shards, picklable, merged in shard order."""

from __future__ import annotations

import itertools
import pickle

import pytest

from irqlab import sim
from irqlab.check.explore import explore
from irqlab.check.parallel import dfs_prefixes, make_shards, run_shard
from irqlab.check.run import Target
from irqlab.errors import InvalidArgument


def shards(strategy: str, **kw):  # type: ignore[no-untyped-def]
    t = Target("counter", "racy", {"cpus": 3, "iters": 2})
    args = {"budget": 100, "time": None, "seed": 3, "depth": 3, "preemptions": None,
            "reduction": True, "workers": 2}
    args.update(kw)
    return t, make_shards(t, strategy, **args)


def test_random_shards_cover_the_budget_disjointly() -> None:
    _, sh = shards("random")
    ranges = [(s.start, s.stop) for s in sh]
    assert ranges[0][0] == 0 and ranges[-1][1] == 100
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert [s.index for s in sh] == list(range(len(sh)))
    assert pickle.loads(pickle.dumps(sh[0])) == sh[0]
    assert shards("random")[1] == sh


def test_shard_result_equals_serial_exploration() -> None:
    t, sh = shards("random")
    serial = explore(t, strategy="random", seed=3, budget=100, shrink=False)
    first = next(r for r in map(run_shard, sh) if r.found_at is not None)
    assert first.found_at == serial.first_at
    assert list(first.choices or ()) == list(serial.outcome.result.choices)


@pytest.mark.parametrize(("cpus", "iters", "want"), [(2, 2, 6), (3, 2, 90), (3, 3, 1680)])
def test_dfs_shards_together_explore_one_schedule_per_class(cpus: int, iters: int,
                                                            want: int) -> None:
    t = Target("counter", "locked", {"cpus": cpus, "iters": iters}, observe=False)
    for workers in (1, 2, 3):
        sh = make_shards(t, "dfs", budget=None, time=None, seed=0, depth=3, preemptions=None,
                         reduction=True, workers=workers)
        assert len(sh) >= min(4 * workers, 3)
        results = [run_shard(pickle.loads(pickle.dumps(s))) for s in sh]
        assert all(r.exhausted and r.found_at is None for r in results)
        assert sum(r.schedules for r in results) == want
    assert [p for p, _ in dfs_prefixes(t, 4)] == [p for p, _ in dfs_prefixes(t, 4)]


def test_two_workers_find_the_same_first_finding() -> None:
    one = explore("counter", "racy", strategy="random", seed=5, budget=200, shrink=False)
    two = explore("counter", "racy", strategy="random", seed=5, budget=200, shrink=False,
                  workers=2)
    assert two.first_at == one.first_at
    assert two.outcome.result.schedule == one.outcome.result.schedule
    d = explore("counter", "locked", strategy="dfs", workers=2,
                params={"cpus": 3, "iters": 2})
    assert d.verdict == "clean" and d.exhausted and d.schedules == 90
    f = explore("counter", "racy", strategy="dfs", workers=2, shrink=False)
    g = explore("counter", "racy", strategy="dfs", shrink=False)
    assert f.finding is not None and f.finding.kind == g.finding.kind == "invariant:counter"


def test_factories_cannot_be_sharded() -> None:
    def build(strategy: sim.Strategy) -> sim.Engine:
        return sim.Engine(cpus=1, strategy=strategy)

    with pytest.raises(InvalidArgument):
        explore(build, strategy="random", workers=2)
