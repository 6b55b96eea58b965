"""The ``irqlab`` command line: one module per command, each registering a subparser.

``irqlab`` with no arguments runs :data:`DEFAULT_COMMAND` (``check``: every
seed scenario's verdict; ``demo`` was the main job until the scenarios
existed).  Results go to stdout, diagnostics to stderr; exit
codes: 0 ok, 1 a finding (the run showed something wrong), 2 usage error, always
one line ``irqlab <command>: error: <reason>`` on stderr (argparse's errors
too: :class:`ArgumentParser`), never a traceback.  A closed stdout (``| head``)
discards the rest of the output; the exit code stays the command's.

A command module defines ``NAME``, ``HELP`` and ``register(sub) -> parser``
(adding its arguments and ``set_defaults(run=...)``); ``run(args) -> int``
does the work.  Add a command by adding its module name to :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from irqlab import __version__
from irqlab.errors import InvalidArgument

__all__ = ["COMMANDS", "DEFAULT_COMMAND", "ArgumentParser", "UsageError", "build_parser", "error",
           "main"]

#: Command modules under ``irqlab.cli``, in help order.
COMMANDS: tuple[str, ...] = ("demo", "info", "trace", "check", "list", "run", "explore",
                             "replay", "audit")
#: What ``irqlab`` runs without a command.
DEFAULT_COMMAND = "check"

EXIT_OK = 0
EXIT_FINDING = 1
EXIT_USAGE = 2

#: Negative numbers that are option values, not options: argparse's own pattern (``-5``,
#: ``-.5``) plus exponents and ``-inf``/``-nan``, so that ``--time -inf`` reaches the
#: option's check instead of failing as "expected one argument".
_NEGATIVE_NUMBER = re.compile(r"^-(\d+|\d*\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$",
                              re.IGNORECASE)


class UsageError(Exception):
    """A command line argparse rejects: ``prog`` (``irqlab run``) and the one-line reason."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog
        self.message = message


class ArgumentParser(argparse.ArgumentParser):
    """argparse with irqlab's error format: one line, ``<prog>: error: <reason>``, exit 2.

    argparse itself prints the usage block before its error line; the usage is one
    ``--help`` away, so errors stay one line like every other usage error.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if hasattr(self, "_negative_number_matcher"):  # argparse internals; harmless if gone
            self._negative_number_matcher = _NEGATIVE_NUMBER

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every command's subparser."""
    parser = ArgumentParser(
        prog="irqlab",
        description="An executable model of the ARM GIC interrupt stack. "
                    f"Without a command, runs '{DEFAULT_COMMAND}'.")
    parser.add_argument("--version", action="version", version=f"irqlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"irqlab.cli.{name}").register(sub)
    return parser


def _one_line(text: str) -> str:
    """``text`` with every unprintable character (a newline in a path) escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def error(prog: str, reason: str) -> None:
    """Print the one-line usage error ``<prog>: error: <reason>`` on stderr."""
    print(f"{prog}: error: {_one_line(reason)}", file=sys.stderr)


def _os_reason(e: OSError) -> str:
    if e.filename is not None:
        return f"{str(e.filename)!r}: {e.strerror or e}"
    return str(e.strerror or e)


class _Stdout:
    """``sys.stdout`` while a command runs: a reader that goes away (``irqlab ... | head``)
    makes the rest of the output go nowhere instead of ending the command, so the
    command still finishes and exits with its own code (1 for a finding)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                n = self.stream.write(text)
                return len(text) if n is None else int(n)
            except BrokenPipeError:
                self._gone()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._gone()

    def _gone(self) -> None:
        self.broken = True
        try:
            fd = self.stream.fileno()
        except (AttributeError, OSError, ValueError):
            return  # not a file (a test's capture)
        # what is still buffered, and the interpreter's flush at exit, go to /dev/null
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``irqlab`` command line; returns the exit code."""
    # (not list(...): the ``irqlab.cli.list`` command module shadows the builtin here)
    args_list = [*(sys.argv[1:] if argv is None else argv)]
    parser = build_parser()
    if not args_list or (args_list[0].startswith("-")
                         and args_list[0] not in ("-h", "--help", "--version")):
        args_list.insert(0, DEFAULT_COMMAND)
    out = _Stdout(sys.stdout)
    sys.stdout = out  # type: ignore[assignment]
    try:
        code = _run(parser, args_list)
        out.flush()
        return code
    finally:
        sys.stdout = out.stream


def _run(parser: argparse.ArgumentParser, args_list: list[str]) -> int:
    try:
        args, extra = parser.parse_known_args(args_list)
    except UsageError as e:
        error(e.prog, e.message)
        return EXIT_USAGE
    except SystemExit as e:  # --help, --version
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    prog = f"irqlab {args.command}"
    if extra:  # options a command does not have: argparse reports them at the top level
        error(prog, "unrecognized arguments: " + " ".join(extra))
        return EXIT_USAGE
    try:
        return int(args.run(args))
    except (InvalidArgument, ImportError) as e:
        error(prog, str(e))
        return EXIT_USAGE
    except OSError as e:  # writing an output file (its path was checked, but may still fail)
        error(prog, _os_reason(e))
        return EXIT_USAGE
