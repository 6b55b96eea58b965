"""``python -m irqlab``: the ``irqlab`` command line (the same as the console script)."""

from __future__ import annotations

from irqlab.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
