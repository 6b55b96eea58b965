"""``irqlab replay``: run a scenario variant along a recorded schedule string."""

from __future__ import annotations

import argparse
import json
from typing import Any

from irqlab.cli._check_args import (
    add_target_args,
    check_output,
    file_path,
    target_from_args,
    write_trace,
)
from irqlab.errors import InvalidArgumentValue

__all__ = ["HELP", "NAME", "register", "run"]

NAME = "replay"
HELP = "replay a schedule string on a scenario variant (the line a finding prints)"


def register(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help=HELP, description=HELP + ". A schedule recorded for "
                       "another scenario, variant or parameters, or one the run no longer "
                       "matches, is an error (exit 2). Exit 0 clean, 1 a finding.")
    add_target_args(p)
    p.add_argument("schedule", metavar="SCHEDULE", help="v1.<hash>.<shape>.<choices>")
    p.add_argument("--continue", dest="cont", action="store_true",
                   help="treat SCHEDULE as a prefix and continue with --strategy")
    p.add_argument("--strategy", "-S", metavar="NAME",
                   help="with --continue: random | pct | roundrobin (default random)")
    p.add_argument("--seed", "-s", type=int,
                   help="with --continue and random or pct: seed of the continuation "
                        "(default 0)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--trace", metavar="FILE", type=file_path,
                   help="write the run as Perfetto/Chrome trace JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="omit the drawing")
    p.set_defaults(run=run)
    return p


def _continuation(args: argparse.Namespace, target: Any) -> Any:
    """The strategy that continues after the prefix (``--continue``), or None."""
    from irqlab import sim
    from irqlab.check.pct import PCT

    if not args.cont:
        # without --continue the schedule is the whole run: refuse what would be ignored
        for flag, value in (("--strategy", args.strategy), ("--seed", args.seed)):
            if value is not None:
                raise InvalidArgumentValue(f"{flag} applies only with --continue")
        return None
    name = "random" if args.strategy is None else args.strategy
    seed = 0 if args.seed is None else args.seed
    if name == "random":
        return sim.Random(seed)
    if name == "pct":
        from irqlab.check.explore import calibrate

        # k from a round-robin run, as explore does (a PCT without k has no change points)
        return PCT(seed, steps=calibrate(target)[1])
    if name == "roundrobin":
        if args.seed is not None:
            raise InvalidArgumentValue("--seed does not apply to --strategy roundrobin "
                                       "(it would be ignored)")
        return sim.RoundRobin()
    raise InvalidArgumentValue(f"strategy must be random, pct or roundrobin, not {name!r}")


def _recorded_for(shash: str, t: Any) -> str:
    """Whose schedule a scenario hash is, as far as the built-in scenarios tell."""
    from irqlab.check import counter
    from irqlab.check.run import resolve_scenario
    from irqlab.scenarios import all_scenarios
    from irqlab.sim.engine import _hash8

    mine = resolve_scenario(t.scenario)
    for sc in [mine, *all_scenarios(), counter.SCENARIO]:
        tries = [t.params, sc.params] if sc is mine else [sc.params]
        for params in tries:
            for v in sc.variants:
                if _hash8(sc.fingerprint(v.name, params)) != shash:
                    continue
                if sc is not mine:
                    return f"it was recorded for scenario {sc.name} --variant {v.name}"
                what = f"--variant {v.name}" if v.name != t.variant else "this variant"
                if params is not t.params and params != t.params:
                    return f"it was recorded for {what} with the default parameters"
                return f"it was recorded for {what}"
    if mine.params:
        return ("it was recorded for another variant or other parameters (-p), or "
                "another scenario")
    return "it was recorded for another variant or scenario"


class _OtherScenario(Exception):
    """The schedule's scenario hash is not the run's (raised before the run starts)."""


def run(args: argparse.Namespace) -> int:
    from irqlab import sim
    from irqlab.check.report import format_outcome
    from irqlab.check.run import run_built

    t = target_from_args(args)
    shash, shape, choices = sim.decode_schedule(args.schedule)  # malformed: exit 2
    then = _continuation(args, t)
    check_output("--trace", args.trace)

    def same_scenario(engine: Any) -> None:
        if engine.scenario_hash != shash:
            raise _OtherScenario(engine.scenario_hash)

    # decoded once: the strategy gets the choices, and the shape hash unless a prefix
    # (the shape hash covers the whole recorded run; --continue replays the choices only)
    st = sim.Replay(choices, then=then)
    st.scenario_hash = shash
    st.shape = None if args.cont else shape
    where = f"{t.name} --variant {t.variant}"
    try:
        out = run_built(t.build(st), observe=t.observe, record=True, on_engine=same_scenario)
    except _OtherScenario as e:
        raise InvalidArgumentValue(
            f"the schedule does not match {where}: {_recorded_for(shash, t)} (scenario hash "
            f"{shash}, this run's {e.args[0]})") from None
    except sim.ScheduleDivergence as e:
        raise InvalidArgumentValue(f"the schedule does not match {where}: {e}") from None
    res = out.result
    if args.json:
        summary = out.world.summary(res) if out.world is not None else ""
        print(json.dumps({
            "scenario": t.name, "variant": t.variant, "params": t.params,
            "outcome": res.outcome, "steps": res.steps, "schedule": res.schedule,
            "summary": summary, "verdict": "finding" if out.findings else "clean",
            "findings": [f.as_dict() for f in out.findings]}, indent=2, sort_keys=True))
    else:
        print(format_outcome(out, draw=not args.quiet,
                             head=f"{where}: {res.outcome} after {res.steps} steps"))
        if args.cont:
            print(f"replay: {t.replay_line(res.schedule)}")
    if args.trace is not None:
        # after the result: a trace that cannot be written loses only itself
        write_trace(out.events or [], args.trace, f"{t.name} {t.variant}")
    return 1 if out.findings else 0
