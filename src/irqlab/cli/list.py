"""``irqlab list``: the built-in scenarios, their seeds, variants and expected verdicts.

(Importing this module binds ``irqlab.cli.list``, shadowing the builtin inside
:mod:`irqlab.cli`'s own namespace: that module does not call ``list()``.)
"""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["HELP", "NAME", "register", "run"]

NAME = "list"
HELP = "list the scenarios, their seed threads and variants with expected verdicts"


def register(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help=HELP, description=HELP + ".")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run)
    return p


def _rows() -> list[Any]:
    from irqlab.check import counter
    from irqlab.scenarios import all_scenarios

    return [*all_scenarios(), counter.SCENARIO]


def run(args: argparse.Namespace) -> int:
    rows = _rows()
    if args.json:
        print(json.dumps([{"name": sc.name, "seed": sc.seed, "title": sc.title,
                           "params": sc.params,
                           "variants": [{"name": v.name, "summary": v.summary,
                                         "expect": v.expect} for v in sc.variants]}
                          for sc in rows], indent=2, sort_keys=True))
        return 0
    for sc in rows:
        seed = f"seed {sc.seed}" if sc.seed != "bench" else "benchmark"
        print(f"{sc.name}  ({seed}) {sc.title}")
        if sc.params:
            print("    params: " + ", ".join(f"{k}={sc.params[k]!r}" for k in sorted(sc.params)))
        for v in sc.variants:
            verdict = "clean" if v.expect is None else v.expect
            print(f"    {v.name:<16} expect {verdict:<34} {v.summary}")
    return 0
