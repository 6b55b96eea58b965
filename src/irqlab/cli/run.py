"""``irqlab run``: run a scenario variant once (seeded random schedule), print what happened."""

from __future__ import annotations

import argparse
import json
from typing import Any

from irqlab.cli._check_args import add_target_args, target_from_args

__all__ = ["HELP", "NAME", "register", "run"]

NAME = "run"
HELP = "run one scenario variant once under a seeded random schedule and give the verdict"


def register(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help=HELP, description=HELP + ". Exit 0 clean, 1 a finding.")
    add_target_args(p)
    p.add_argument("--seed", "-s", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from irqlab import sim
    from irqlab.check.report import format_finding
    from irqlab.check.run import run_built

    t = target_from_args(args)
    out = run_built(t.build(sim.Random(args.seed)), observe=t.observe)
    res = out.result
    summary = out.world.summary(res) if out.world is not None else ""
    verdict = "finding" if out.findings else "clean"
    expect = t.expect
    as_expected = (expect is None and not out.findings) or any(
        f.kind == expect for f in out.findings)
    if args.json:
        print(json.dumps({
            "scenario": t.name, "variant": t.variant, "params": t.params, "seed": args.seed,
            "outcome": res.outcome, "steps": res.steps, "schedule": res.schedule,
            "summary": summary, "verdict": verdict, "expect": expect,
            "expected": as_expected, "findings": [f.as_dict() for f in out.findings],
            "replay": t.replay_line(res.schedule)}, indent=2, sort_keys=True))
    else:
        print(f"{t.name} --variant {t.variant} (seed {args.seed}): {res.outcome} after "
              f"{res.steps} steps")
        if summary:
            print("  " + summary.rstrip().replace("\n", "\n  "))
        for f in out.findings:
            print("  " + format_finding(f).replace("\n", "\n  "))
        note = "as expected" if as_expected else f"UNEXPECTED: variant claims {expect or 'clean'}"
        print(f"verdict: {verdict.upper()} ({note})")
        print(f"replay: {t.replay_line(res.schedule)}")
    return 1 if out.findings else 0
