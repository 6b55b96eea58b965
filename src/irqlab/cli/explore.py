"""``irqlab explore``: explore a scenario variant's schedules for findings; shrink and draw one."""

from __future__ import annotations

import argparse
import json
from typing import Any

from irqlab.cli._check_args import (
    add_target_args,
    check_counts,
    check_output,
    file_path,
    progress_printer,
    target_from_args,
    write_trace,
)
from irqlab.errors import InvalidArgumentValue

__all__ = ["HELP", "NAME", "add_explore_args", "register", "run"]

NAME = "explore"
HELP = "explore a scenario variant's schedules (random, PCT or DFS with partial-order reduction)"


def add_explore_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strategy", "-S", default="random", metavar="NAME",
                   help="random | pct | dfs (default random)")
    p.add_argument("--budget", "-n", type=int, metavar="N",
                   help="at most N schedules (default 1000 for random/pct; dfs: exhaustive)")
    p.add_argument("--time", "-t", type=float, metavar="S", help="at most S seconds")
    p.add_argument("--workers", "-j", type=int, default=1, metavar="N",
                   help="worker processes (default 1)")
    p.add_argument("--seed", "-s", type=int, help="seed of random/pct (default 0; not with dfs)")
    p.add_argument("--depth", "-d", type=int, metavar="D",
                   help="PCT bug depth d (default 3; pct only)")
    p.add_argument("--preemptions", "-P", type=int, metavar="P",
                   help="DFS preemption bound (default: unbounded; dfs only); with reduction, "
                        "a behaviour within the bound can be missed: add --no-reduction to "
                        "explore every schedule within it")
    p.add_argument("--no-reduction", action="store_true",
                   help="DFS without partial-order reduction (every schedule; dfs only)")
    p.add_argument("--no-shrink", action="store_true", help="report the finding unshrunk")


def register(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help=HELP, description=HELP + ". Exit 0 clean, 1 a finding, "
                       "2 usage error.")
    add_target_args(p)
    add_explore_args(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--trace", metavar="FILE", type=file_path,
                   help="write the failing run as Perfetto/Chrome trace JSON (checked "
                        "before exploring; not written without a finding)")
    p.add_argument("--quiet", "-q", action="store_true", help="omit the drawing")
    p.set_defaults(run=run)
    return p


def check_strategy_options(args: argparse.Namespace) -> None:
    """Refuse options the chosen strategy would ignore (one-line error, exit 2)."""
    unused = {
        "--seed": args.seed is not None and args.strategy == "dfs",
        "--depth": args.depth is not None and args.strategy != "pct",
        "--preemptions": args.preemptions is not None and args.strategy != "dfs",
        "--no-reduction": args.no_reduction and args.strategy != "dfs",
    }
    for flag, bad in unused.items():
        if bad:
            raise InvalidArgumentValue(f"{flag} does not apply to --strategy {args.strategy} "
                                       f"(it would be ignored)")


def explore_from_args(t: Any, args: argparse.Namespace, *, progress: bool = True) -> Any:
    from irqlab.check.explore import explore

    return explore(t, strategy=args.strategy, budget=args.budget, time=args.time,
                   seed=0 if args.seed is None else args.seed,
                   depth=3 if args.depth is None else args.depth,
                   preemptions=args.preemptions, reduction=not args.no_reduction,
                   workers=args.workers, shrink=not args.no_shrink,
                   progress=progress_printer(progress))


def run(args: argparse.Namespace) -> int:
    import sys

    from irqlab.check.explore import MAX_BUDGET, MAX_WORKERS, STRATEGIES
    from irqlab.check.report import record_run

    t = target_from_args(args)
    if args.strategy not in STRATEGIES:
        raise InvalidArgumentValue(
            f"strategy must be one of {', '.join(STRATEGIES)}, not {args.strategy!r}")
    check_strategy_options(args)
    check_counts(args, budget=MAX_BUDGET, workers=MAX_WORKERS)
    check_output("--trace", args.trace)
    res = explore_from_args(t, args, progress=not args.json)
    if args.json:
        print(json.dumps(res.as_dict(), indent=2, sort_keys=True))
    else:
        print(res.report(draw=not args.quiet))
    if args.trace is not None:
        # after the result: a trace that cannot be written loses only itself
        if res.finding is not None:
            rec = record_run(t, res.schedule)
            write_trace(rec.events or [], args.trace, f"{t.name} {t.variant}")
        else:
            print(f"irqlab explore: no finding, no trace written to {str(args.trace)!r}",
                  file=sys.stderr)
    return 1 if res.finding is not None else 0
