"""``irqlab demo``: boot a machine from a device tree and route a PCI device's MSI-X vectors."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from irqlab.cli._check_args import check_output, file_path
from irqlab.cli._check_args import write_trace as write_events
from irqlab.demo import DemoResult, run_demo
from irqlab.hw.dtb import DEFAULT_DTB

__all__ = ["HELP", "NAME", "add_demo_args", "format_result", "register", "run", "run_from_args"]

NAME = "demo"
HELP = "map a PCI device's MSI-X vectors through the ITS by register writes, fire them"


def add_demo_args(p: argparse.ArgumentParser) -> None:
    """The options of the demo run (shared with ``irqlab trace``)."""
    p.add_argument("--dtb", metavar="PATH", type=file_path,
                   help=f"device tree to boot (default: the shipped {DEFAULT_DTB})")
    p.add_argument("--vectors", metavar="N", type=int, default=8,
                   help="MSI-X vectors to map and fire (default 8)")


def register(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help=HELP, description=HELP + "; print where each landed and the "
                       "event trace (the hardware alone; `irqlab` without a command runs `check`).")
    add_demo_args(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--trace", metavar="FILE", type=file_path,
                   help="also write the event stream as Perfetto/Chrome trace JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="omit the event trace")
    p.set_defaults(run=run)
    return p


def run_from_args(args: argparse.Namespace) -> DemoResult:
    return run_demo(args.dtb, vectors=args.vectors)


def format_result(r: DemoResult, *, events: bool = True) -> str:
    """The human-readable report of a demo run."""
    out = ["irqlab demo: " + r.log[0]]
    out += [f"  {line}" for line in r.log[1:]]
    out.append("")
    out.append("where each vector landed:")
    out.append(f"  {'vector':>6}  {'DeviceID':>8}  {'EventID':>7}  {'LPI INTID':>9}  CPU")
    for v in r.routes:
        cpu = "-" if v.cpu is None else f"cpu{v.cpu}"
        mark = "" if v.ok else f"   (expected cpu{v.expected_cpu})"
        out.append(f"  {v.vector:>6}  {v.devid:>#8x}  {v.eventid:>#7x}  {v.intid:>9}  {cpu}{mark}")
    if events:
        out.append("")
        out.append(f"event trace ({len(r.events)} events):")
        out += [f"  {e}" for e in r.events]
    out.append("")
    if r.ok:
        out.append(f"OK: {len(r.routes)} vectors delivered, each once, to the CPU its "
                   "collection targets")
    else:
        out += [f"FINDING: {p}" for p in r.problems]
    return "\n".join(out)


def result_json(r: DemoResult) -> dict[str, Any]:
    return {"source": r.source, "ok": r.ok, "bdf": r.bdf, "devid": r.devid,
            "vectors": [v.as_dict() for v in r.routes], "log": r.log,
            "problems": r.problems, "events": [e.as_dict() for e in r.events]}


def write_trace(r: DemoResult, path: Path, flag: str = "--trace") -> None:
    n = write_events(r.events, path, f"irqlab demo {r.source}", flag)
    print(f"irqlab: wrote {n} trace events to {str(path)!r} (open in https://ui.perfetto.dev)",
          file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    check_output("--trace", args.trace)
    r = run_from_args(args)
    if args.json:
        print(json.dumps(result_json(r), indent=1))
    else:
        print(format_result(r, events=not args.quiet))
    if args.trace is not None:
        write_trace(r, args.trace)
    return 0 if r.ok else 1
