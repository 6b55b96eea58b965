"""``irqlab replay``: run a scenario variant along a recorded schedule string."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from irqlab.cli._check_args import add_target_args, target_from_args, write_trace

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
    p.add_argument("--strategy", "-S", default="random", metavar="NAME",
                   help="with --continue: random | pct | roundrobin (default random)")
    p.add_argument("--seed", "-s", type=int, default=0, help="seed of the continuation")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--trace", metavar="FILE", type=Path,
                   help="write the run as Perfetto/Chrome trace JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="omit the drawing")
    p.set_defaults(run=run)
    return p


def _continuation(name: str, seed: int) -> Any:
    from irqlab import sim
    from irqlab.check.pct import PCT
    from irqlab.errors import InvalidArgumentValue

    if name == "random":
        return sim.Random(seed)
    if name == "pct":
        return PCT(seed)
    if name == "roundrobin":
        return sim.RoundRobin()
    raise InvalidArgumentValue(f"strategy must be random, pct or roundrobin, not {name!r}")


def run(args: argparse.Namespace) -> int:
    from irqlab import sim
    from irqlab.check.report import draw, format_finding
    from irqlab.check.run import run_built

    t = target_from_args(args)
    shash, _shape, choices = sim.decode_schedule(args.schedule)  # malformed: exit 2
    then = _continuation(args.strategy, args.seed) if args.cont else None

    def same_scenario(engine: Any) -> None:
        if engine.scenario_hash != shash:
            raise sim.ScheduleDivergence(f"schedule was recorded for scenario {shash}, "
                                         f"this one is {engine.scenario_hash}")

    try:
        if args.cont:
            # a prefix: the shape hash covers the whole recorded run, so check the
            # scenario hash only and replay the choices, then continue
            st: Any = sim.Replay(choices, then=then)
        else:
            st = sim.Replay(args.schedule)
        out = run_built(t.build(st), observe=t.observe, record=True, on_engine=same_scenario)
    except sim.ScheduleDivergence as e:
        print(f"irqlab replay: error: the schedule does not match {t.name} --variant "
              f"{t.variant}: {e}", file=sys.stderr)
        return 2
    res = out.result
    if args.trace is not None:
        write_trace(out.events or [], args.trace, f"{t.name} {t.variant}")
    summary = out.world.summary(res) if out.world is not None else ""
    if args.json:
        print(json.dumps({
            "scenario": t.name, "variant": t.variant, "params": t.params,
            "outcome": res.outcome, "steps": res.steps, "schedule": res.schedule,
            "summary": summary, "verdict": "finding" if out.findings else "clean",
            "findings": [f.as_dict() for f in out.findings]}, indent=2, sort_keys=True))
    else:
        print(f"{t.name} --variant {t.variant}: {res.outcome} after {res.steps} steps")
        if summary:
            print("  " + summary.rstrip().replace("\n", "\n  "))
        for f in out.findings:
            print("  " + format_finding(f).replace("\n", "\n  "))
        if not args.quiet:
            print("  run:")
            print("    " + draw(out, out.findings[0] if out.findings else None)
                  .replace("\n", "\n    "))
        print(f"verdict: {'FINDING' if out.findings else 'CLEAN'}")
        if args.cont:
            print(f"replay: {t.replay_line(res.schedule)}")
    return 1 if out.findings else 0
