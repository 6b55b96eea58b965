"""Run every ``benchmarks/bench_*.py`` and print their figures (``python benchmarks/run_all.py``).

Each benchmark is a standalone script run in its own interpreter (so one's
memory does not skew another's RSS figures); extra arguments (e.g. ``--quick``)
are passed to each.  Exit code: 0 when every benchmark met its targets, 1
otherwise.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    extra = list(sys.argv[1:] if argv is None else argv)
    here = Path(__file__).resolve().parent
    scripts = sorted(here.glob("bench_*.py"))
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.run([sys.executable, str(script), *extra]).returncode
        print(f"   ({time.perf_counter() - t0:.1f} s, exit {rc})", flush=True)
        if rc:
            failed.append(script.name)
    print(f"run_all: {len(scripts)} benchmark(s), "
          + (f"targets missed in {', '.join(failed)}" if failed else "all targets met"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
