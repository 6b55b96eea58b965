"""Machine-selection options shared by commands (``--dtb`` or ``--virt`` and its knobs)."""

from __future__ import annotations

import argparse
from typing import Any

from irqlab.cli._check_args import file_path
from irqlab.errors import InvalidArgumentValue
from irqlab.hw.config import MachineConfig
from irqlab.hw.dtb import DEFAULT_DTB, shipped_dtb

__all__ = ["add_machine_args", "config_from_args"]


def _its_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--its", dest="its", action=argparse.BooleanOptionalAction,
                        default=None, help="with or without the ITS (--virt; default: with, "
                        "for gic 3)")


def add_machine_args(parser: argparse.ArgumentParser, *, default_dtb: bool) -> None:
    """``--dtb PATH | --virt`` plus ``--cpus --gic --its/--no-its --idbits``."""
    g = parser.add_mutually_exclusive_group()
    what = f"(default: the shipped {DEFAULT_DTB})" if default_dtb else ""
    g.add_argument("--dtb", metavar="PATH", type=file_path,
                   help=f"build the machine a QEMU device tree describes {what}".rstrip())
    g.add_argument("--virt", action="store_true",
                   help="build QEMU's virt machine from options" +
                   ("" if default_dtb else " (the default)"))
    parser.add_argument("--cpus", type=int, metavar="N", help="number of CPUs (--virt; "
                        "default 4)")
    parser.add_argument("--gic", type=int, choices=(2, 3), help="GIC version (--virt; "
                        "default 3)")
    _its_flag(parser)
    parser.add_argument("--idbits", type=int, metavar="N",
                        help="INTID bits (GICD_TYPER.IDbits + 1; default 16 with GICv3)")


def config_from_args(args: argparse.Namespace, *, default_dtb: bool,
                     **extra: Any) -> MachineConfig:
    """The machine the options select; ``extra`` sets more :class:`MachineConfig` fields."""
    opts: dict[str, Any] = dict(extra)
    if args.idbits is not None:
        opts["idbits"] = args.idbits
    dtb = args.dtb
    if dtb is None and not args.virt and default_dtb:
        if args.cpus is None and args.gic is None and args.its is None:
            dtb = shipped_dtb()
    if dtb is not None:
        for flag, value in (("--cpus", args.cpus), ("--gic", args.gic), ("--its", args.its)):
            if value is not None:
                raise InvalidArgumentValue(
                    f"{flag} cannot be combined with a device tree (it describes the machine)")
        from irqlab.hw.dtb import config_from_dtb

        return config_from_dtb(dtb, **opts)
    gic = 3 if args.gic is None else args.gic
    return MachineConfig.virt(cpus=4 if args.cpus is None else args.cpus, gic=gic,
                              its=args.its, **opts)
