"""The ``irqlab`` command line: one module per command, each registering a subparser.

``irqlab`` with no arguments runs :data:`DEFAULT_COMMAND` (``check``: every
seed scenario's verdict; ``demo`` was the main job until the scenarios
existed).  Results go to stdout, diagnostics to stderr; exit
codes: 0 ok, 1 a finding (the run showed something wrong), 2 usage error.

A command module defines ``NAME``, ``HELP`` and ``register(sub) -> parser``
(adding its arguments and ``set_defaults(run=...)``); ``run(args) -> int``
does the work.  Add a command by adding its module name to :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from irqlab import __version__
from irqlab.errors import InvalidArgument

__all__ = ["COMMANDS", "DEFAULT_COMMAND", "build_parser", "main"]

#: Command modules under ``irqlab.cli``, in help order.
COMMANDS: tuple[str, ...] = ("demo", "info", "trace", "check", "list", "run", "explore",
                             "replay", "audit")
#: What ``irqlab`` runs without a command.
DEFAULT_COMMAND = "check"

EXIT_OK = 0
EXIT_FINDING = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every command's subparser."""
    parser = argparse.ArgumentParser(
        prog="irqlab",
        description="An executable model of the ARM GIC interrupt stack. "
                    f"Without a command, runs '{DEFAULT_COMMAND}'.")
    parser.add_argument("--version", action="version", version=f"irqlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"irqlab.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``irqlab`` command line; returns the exit code."""
    # (not list(...): the ``irqlab.cli.list`` command module shadows the builtin here)
    args_list = [*(sys.argv[1:] if argv is None else argv)]
    parser = build_parser()
    if not args_list or (args_list[0].startswith("-")
                         and args_list[0] not in ("-h", "--help", "--version")):
        args_list.insert(0, DEFAULT_COMMAND)
    try:
        args = parser.parse_args(args_list)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    try:
        return int(args.run(args))
    except (InvalidArgument, ImportError) as e:
        print(f"irqlab {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `irqlab ... | head`
        return EXIT_OK
