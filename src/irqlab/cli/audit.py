"""``irqlab audit``: check a scenario's footprints by reordering steps DPOR calls independent."""

from __future__ import annotations

import argparse
import json
from typing import Any

from irqlab.cli._check_args import add_target_args, check_counts, target_from_args

__all__ = ["HELP", "NAME", "register", "run"]

NAME = "audit"
HELP = ("check that partial-order reduction sees a scenario's shared state: reorder "
        "steps it calls independent and compare")


def register(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help=HELP, description=HELP + ". Exit 0 when no reordering changed "
                       "anything, 1 when one did (a dependence the footprints miss), "
                       "2 usage error.")
    add_target_args(p)
    p.add_argument("--runs", "-r", type=int, default=20, metavar="N",
                   help="random runs to take reorderings from (default 20)")
    p.add_argument("--moves", type=int, default=50, metavar="N",
                   help="at most N reorderings per run, a seeded sample (default 50)")
    p.add_argument("--seed", "-s", type=int, default=0, help="seed of the runs (default 0)")
    p.add_argument("--time", "-t", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from irqlab.check.audit import MAX_RUNS, audit

    t = target_from_args(args)
    check_counts(args, runs=MAX_RUNS, moves=MAX_RUNS)
    res = audit(t, runs=args.runs, moves=args.moves, seed=args.seed,
                time=args.time)
    if args.json:
        print(json.dumps(res.as_dict(), indent=2, sort_keys=True))
    else:
        print(res.report())
    return 0 if res.clean else 1
