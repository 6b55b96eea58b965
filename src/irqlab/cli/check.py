"""``irqlab check``: explore every seed scenario's variants and give each one's verdict.

The main job (what ``irqlab`` runs without a command once the seed scenarios
exist): for each built-in scenario and variant, explore (``auto``: DFS with
partial-order reduction within the budget; for a variant that claims a bug not
yet shown, then PCT, then random), print the verdict against the variant's
claim, and for each broken variant the shrunk counterexample drawn in CPU
columns with the line that replays it.  A clean verdict says how far it goes:
``exhaustive`` (DFS covered every schedule up to reordering of independent
steps) or ``not exhaustive`` (the budget or the time ran out first; random and
PCT never exhaust); with ``--audit``, an exhaustive clean verdict is also
checked by auditing the footprints it rests on.  Exit 0 when every variant
behaves as it claims, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

__all__ = ["HELP", "NAME", "register", "run"]

NAME = "check"
HELP = "explore every seed scenario's variants; verdicts and drawn counterexamples"


def register(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help=HELP, description=HELP + ". Exit 0 when every variant "
                       "behaves as it claims, 1 otherwise.")
    p.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                   help="only these scenarios (default: every seed scenario)")
    p.add_argument("--strategy", "-S", default="auto", metavar="NAME",
                   help="auto | random | pct | dfs (default auto)")
    p.add_argument("--budget", "-n", type=int, default=5000, metavar="N",
                   help="schedules per variant and strategy (default 5000)")
    p.add_argument("--time", "-t", type=float, default=10.0, metavar="S",
                   help="seconds per variant and strategy (default 10)")
    p.add_argument("--workers", "-j", type=int, default=1, metavar="N",
                   help="worker processes per exploration (default 1; the verdicts and "
                        "counterexamples do not depend on it)")
    p.add_argument("--audit", action="store_true",
                   help="also audit the footprints behind each exhaustive clean verdict "
                        "(irqlab audit, within --time): a reordering that changes "
                        "something makes the verdict a mismatch")
    p.add_argument("--audit-runs", type=int, default=20, metavar="N",
                   help="random runs of each audit (default 20)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="verdicts only, no drawings")
    p.set_defaults(run=run)
    return p


def check_variant(scenario: str, variant: str, strategy: str, budget: int,
                  seconds: float, workers: int = 1) -> Any:
    """Explore one variant (``auto``: dfs, then pct and random for an unshown bug)."""
    from irqlab.check.explore import explore

    order = ["dfs", "pct", "random"] if strategy == "auto" else [strategy]
    res = None
    for s in order:
        res = explore(scenario, variant, strategy=s, budget=budget, time=seconds,
                      workers=workers)
        if res.expected or res.target.expect is None:
            break
    return res


def run(args: argparse.Namespace) -> int:
    from irqlab.check.explore import MAX_BUDGET, MAX_WORKERS, STRATEGIES
    from irqlab.check.run import resolve_scenario
    from irqlab.cli._check_args import check_counts
    from irqlab.errors import InvalidArgumentValue
    from irqlab.scenarios import all_scenarios

    if args.strategy != "auto" and args.strategy not in STRATEGIES:
        raise InvalidArgumentValue(
            f"strategy must be auto, random, pct or dfs, not {args.strategy!r}")

    check_counts(args, budget=MAX_BUDGET, workers=MAX_WORKERS, audit_runs=4096)
    # each named scenario once, in the order given
    names = [*dict.fromkeys(args.scenarios)]
    scs = [resolve_scenario(n) for n in names] if names else all_scenarios()
    rows: list[dict[str, Any]] = []
    bad = 0
    t_all = time.monotonic()
    for sc in scs:
        for v in sc.variants:
            t0 = time.monotonic()
            res = check_variant(sc.name, v.name, args.strategy, args.budget, args.time,
                                args.workers)
            row = res.as_dict()
            ok = bool(res.expected)
            if args.audit and res.verdict == "clean" and res.exhausted:
                # the exhaustive claim rests on the footprints: audit them
                from irqlab.check.audit import audit

                au = audit(res.target, runs=args.audit_runs, time=args.time)
                row["audit"] = au.as_dict()
                if not au.clean:
                    ok = False
                    if not args.json:
                        print(au.report())
                        print()
            row["elapsed"] = round(time.monotonic() - t0, 3)
            row["as_claimed"] = ok
            bad += 0 if ok else 1
            rows.append(row)
            if not args.json:
                if res.finding is not None or not res.expected:
                    print(res.report(draw=not args.quiet))
                    print()
    if args.json:
        print(json.dumps(rows, indent=2, sort_keys=True))
        return 0 if bad == 0 else 1
    print(f"{'scenario':<22} {'variant':<16} {'claim':<34} {'verdict':<34} result")
    partial = 0
    for r in rows:
        claim = r["expect"] or "clean"
        got = r["finding"]["kind"] if r["verdict"] == "finding" else "clean"
        how = f"{r['strategy']}, {r['schedules']} schedules"
        if r["verdict"] == "clean":
            # how far a clean verdict goes: every schedule (up to independent reorderings)
            # or only those explored before the budget or the time ran out
            how += ", exhaustive" if r["exhausted"] else ", not exhaustive"
            partial += 0 if r["exhausted"] else 1
        ad = r.get("audit")
        if ad is not None:
            how += (f", audited ({ad['reorderings']} reorderings)" if not ad["suspects"] else
                    f", audit: {ad['changed']} reorderings changed something")
        how += f", {r['elapsed']:.2f} s"
        mark = "ok" if r["as_claimed"] else "MISMATCH"
        print(f"{r['scenario']:<22} {r['variant']:<16} {claim:<34} {got:<34} {mark} ({how})")
    total = time.monotonic() - t_all
    print(f"{len(rows)} variants, {len(rows) - bad} as claimed, {bad} not, in {total:.1f} s")
    if partial:
        print(f"{partial} clean verdict{'s' if partial > 1 else ''} not exhaustive (budget or "
              f"time ran out): raise --budget / --time to explore further")
    return 0 if bad == 0 else 1
