"""``irqlab trace``: run the demo and export its event stream as Perfetto/Chrome trace JSON."""

from __future__ import annotations

import argparse
from typing import Any

from irqlab.cli._check_args import check_output, file_path
from irqlab.cli.demo import add_demo_args, run_from_args, write_trace

__all__ = ["HELP", "NAME", "register", "run"]

NAME = "trace"
HELP = "run the demo and write its event stream as Perfetto/Chrome trace JSON"


def register(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help=HELP, description=HELP + " (opens in ui.perfetto.dev).")
    add_demo_args(p)
    p.add_argument("-o", "--output", metavar="FILE", type=file_path, required=True,
                   help="where to write the trace JSON")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    check_output("--output", args.output)
    r = run_from_args(args)
    write_trace(r, args.output, "--output")
    for p in r.problems:
        print(f"FINDING: {p}")
    return 0 if r.ok else 1
