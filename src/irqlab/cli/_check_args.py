"""Options shared by the commands: the scenario, variant and parameters; counts; output files."""

from __future__ import annotations

import argparse
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

from irqlab.errors import InvalidArgumentValue, check_count, check_seconds

__all__ = ["add_target_args", "check_counts", "check_output", "file_path", "progress_printer",
           "target_from_args", "write_trace"]

_INT = re.compile(r"[+-]?[0-9]+")


def file_path(text: str) -> Path:
    """argparse ``type=`` for a file to read or write: a path, not empty (``Path('')`` is
    ``.``)."""
    if not text:
        raise argparse.ArgumentTypeError("needs a file name, not ''")
    return Path(text)


def check_output(flag: str, path: Path | None) -> None:
    """Fail now (exit 2) when ``path`` cannot be written, before a run that may be long.

    An existing regular file is opened for appending (not truncated) and closed; a new
    file is created and removed again; a directory is refused; another existing file
    (``/dev/null``, a FIFO) only needs write permission (opening a FIFO would block).
    """
    if path is None:
        return
    shown = repr(str(path))
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise InvalidArgumentValue(f"{flag} {shown}: cannot write: {e.strerror}") from None
    try:
        if st is None:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            os.close(fd)
            os.unlink(path)
        elif stat.S_ISDIR(st.st_mode):
            raise InvalidArgumentValue(f"{flag} {shown}: is a directory, not a file")
        elif stat.S_ISREG(st.st_mode):
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
        elif not os.access(path, os.W_OK):
            raise InvalidArgumentValue(f"{flag} {shown}: cannot write: permission denied")
    except OSError as e:
        raise InvalidArgumentValue(f"{flag} {shown}: cannot write: {e.strerror}") from None


def check_counts(args: argparse.Namespace, **bounds: int) -> None:
    """Check the count options named in ``bounds`` (``budget=explore.MAX_BUDGET``) and
    ``--time`` before a run (the library checks them again)."""
    for name, hi in bounds.items():
        value = getattr(args, name)
        if value is not None:
            check_count(name.replace("_", "-"), value, 1, hi)
    check_seconds("time", getattr(args, "time", None))


def add_target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", metavar="SCENARIO", help="scenario name (see `irqlab list`)")
    p.add_argument("--variant", "-V", metavar="V", help="variant (default: the scenario's first)")
    p.add_argument("-p", "--param", metavar="NAME=VALUE", action="append", default=[],
                   help="override a scenario parameter (repeatable)")


def _coerce(name: str, text: str, default: Any) -> Any:
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise InvalidArgumentValue(f"{name} must be a bool, not {text!r}")
    if isinstance(default, int):
        # decimal (leading zeros allowed: 02), or Python's 0x / 0o / 0b prefixes; ASCII
        # digits only (int() also takes other scripts' digits)
        if text.isascii():
            try:
                return int(text, 10) if _INT.fullmatch(text) else int(text, 0)
            except ValueError:
                pass
        raise InvalidArgumentValue(f"{name} must be an int, not {text!r}")
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise InvalidArgumentValue(f"{name} must be a float, not {text!r}") from None
    return text


def target_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~irqlab.check.run.Target` named by the arguments."""
    from irqlab.check.run import Target, resolve_scenario

    sc = resolve_scenario(args.scenario)
    if args.variant is not None:
        sc.variant(args.variant)  # '' is not the default variant: name it
    params: dict[str, Any] = {}
    for item in args.param:
        name, eq, value = item.partition("=")
        if not eq:
            raise InvalidArgumentValue(f"param must look like NAME=VALUE, not {item!r}")
        if not sc.params:
            raise InvalidArgumentValue(
                f"param: scenario {sc.name} takes no parameters, not {item!r}")
        if name not in sc.params:
            known = ", ".join(sorted(sc.params))
            raise InvalidArgumentValue(
                f"param must be one of {known} for scenario {sc.name}, not {name!r}")
        params[name] = _coerce(name, value, sc.params[name])
    return Target(scenario=sc.name, variant=args.variant, params=params)


def write_trace(events: list[Any], path: Path, name: str, flag: str = "--trace") -> int:
    """Write the events of a run as Perfetto/Chrome trace JSON; return how many trace events
    it holds (an error names ``flag``)."""
    from irqlab.trace import write_chrome_trace

    try:
        return write_chrome_trace(events, path, name=name)
    except OSError as e:
        raise InvalidArgumentValue(f"{flag} {str(path)!r}: cannot write: "
                                   f"{e.strerror or e}") from None


def progress_printer(enabled: bool) -> Any:
    """A progress callback for explorations: a self-rewriting stderr line on a TTY, else None."""
    if not enabled or not sys.stderr.isatty():
        return None

    def show(schedules: int, seconds: float, findings: int) -> None:
        rate = schedules / seconds if seconds > 0 else 0.0
        sys.stderr.write(f"\r  {schedules} schedules, {rate:,.0f}/s, {findings} findings   ")
        if findings:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
