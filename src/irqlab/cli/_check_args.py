"""Options shared by ``irqlab run|explore|replay|check``: the scenario, variant and parameters."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from irqlab.errors import InvalidArgumentValue

__all__ = ["add_target_args", "progress_printer", "target_from_args", "write_trace"]


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
        try:
            return int(text, 0)
        except ValueError:
            raise InvalidArgumentValue(f"{name} must be an int, not {text!r}") from None
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
    params: dict[str, Any] = {}
    for item in args.param:
        name, eq, value = item.partition("=")
        if not eq:
            raise InvalidArgumentValue(f"param must look like NAME=VALUE, not {item!r}")
        if name not in sc.params:
            known = ", ".join(sorted(sc.params)) or "none"
            raise InvalidArgumentValue(
                f"param must be one of {known} for scenario {sc.name}, not {name!r}")
        params[name] = _coerce(name, value, sc.params[name])
    return Target(scenario=sc.name, variant=args.variant, params=params)


def write_trace(events: list[Any], path: Any, name: str) -> None:
    """Write the events of a run as Perfetto/Chrome trace JSON."""
    from irqlab.trace import write_chrome_trace

    write_chrome_trace(events, path, name=name)


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
