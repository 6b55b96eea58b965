#!/usr/bin/env python3
"""Regenerate the QEMU golden traces: ``python tools/qemu_peer/run.py [NAME ...]``.

Builds each probe script of :mod:`scripts` into the bare-metal peer, runs it on
QEMU's virt machine and writes ``tests/hw/qemu_golden/<NAME>.json`` (the script,
every outcome and the QEMU version).  Needs qemu-system-aarch64 and
aarch64-linux-gnu-gcc.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peer import qemu_args, qemu_version, run
from scripts import SCRIPTS

GOLDEN = Path(__file__).resolve().parents[2] / "tests" / "hw" / "qemu_golden"


def golden(name: str) -> dict[str, object]:
    """Run script ``name`` on QEMU and return its golden record."""
    machine, ops = SCRIPTS[name]()
    results = run(ops, machine)
    steps = [{**op.to_json(), **res} for op, res in zip(ops, results, strict=True)]
    return {"name": name, "doc": (SCRIPTS[name].__doc__ or "").strip(),
            "qemu": qemu_version(), "qemu_args": qemu_args(machine)[1:],
            "machine": machine, "steps": steps}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help=f"scripts (default: all of {sorted(SCRIPTS)})")
    ap.add_argument("--out", type=Path, default=GOLDEN, help="output directory")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names or sorted(SCRIPTS):
        rec = golden(name)
        path = args.out / f"{name}.json"
        lines = ",\n".join("    " + json.dumps(s, sort_keys=False) for s in rec["steps"])
        head = {k: v for k, v in rec.items() if k != "steps"}
        text = json.dumps(head, indent=1)[:-2] + ',\n "steps": [\n' + lines + "\n ]\n}\n"
        json.loads(text)
        path.write_text(text)
        print(f"{path}: {len(rec['steps'])} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
