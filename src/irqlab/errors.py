"""One exception hierarchy for irqlab.

Guest or device misprogramming is never an exception: it is an event plus the
architected outcome.  Exceptions are for two things only:

* misuse of the Python API (:class:`InvalidArgument`, which is both a
  :class:`TypeError` or :class:`ValueError` as appropriate);
* the two architected synchronous exceptions that a CPU model must take:
  an external abort on a bus access (:class:`ExternalAbort`) and an
  UNDEFINED system-register access (:class:`UndefinedInstruction`).
"""

from __future__ import annotations

__all__ = [
    "ExternalAbort",
    "InvalidArgument",
    "InvalidArgumentType",
    "InvalidArgumentValue",
    "IrqlabError",
    "UndefinedInstruction",
    "check_count",
    "check_int",
    "check_seconds",
]


class IrqlabError(Exception):
    """Base class of every exception irqlab raises on purpose."""


class InvalidArgument(IrqlabError):
    """A Python API call got an argument it cannot accept."""


class InvalidArgumentType(InvalidArgument, TypeError):
    """An argument of the wrong Python type."""


class InvalidArgumentValue(InvalidArgument, ValueError):
    """An argument of the right type but an impossible value."""


class ExternalAbort(IrqlabError):
    """The bus answered an access with an external abort.

    Raised for an address that nothing decodes, and for an access size or
    alignment that the addressed register does not support.  A CPU model
    takes a synchronous external abort.  ``address`` and ``size`` describe the
    access, ``reason`` says why in one sentence.
    """

    def __init__(self, address: int, size: int, reason: str, *, write: bool = False) -> None:
        self.address = address
        self.size = size
        self.reason = reason
        self.write = write
        kind = "write" if write else "read"
        super().__init__(f"external abort on {size}-byte {kind} at {address:#x}: {reason}")


class UndefinedInstruction(IrqlabError):
    """A system-register access that is UNDEFINED in the configured machine.

    For example a write to a read-only register (``ICC_IAR1_EL1``), or an
    ``ICH_*_EL2`` access on a machine without the virtualization extensions.
    A CPU model takes an Undefined Instruction exception.
    """

    def __init__(self, register: str, reason: str) -> None:
        self.register = register
        self.reason = reason
        super().__init__(f"{register}: {reason}")


class _AccessFault(Exception):
    """Internal: raised by a device model, turned into :class:`ExternalAbort` by the bus."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def check_int(name: str, value: object, lo: int, hi: int, *,
              decimal: bool | None = None) -> int:
    """Validate an integer argument in ``[lo, hi]`` and return it.

    The range in the error message is written in decimal for counts and indices
    and in hex for IDs, addresses and masks: ``decimal=True`` or ``False`` says
    which; ``None`` (the default) picks decimal when both bounds are within
    +-4096 and hex otherwise.
    """
    if type(value) is not int:
        if isinstance(value, int) and not isinstance(value, bool):
            value = int(value)
        else:
            raise InvalidArgumentType(f"{name} must be an int, not {value!r}")
    if not lo <= value <= hi:
        if decimal is None:
            decimal = lo >= -4096 and hi <= 4096
        rng = f"[{lo}, {hi}]" if decimal else f"[{lo:#x}, {hi:#x}]"
        raise InvalidArgumentValue(f"{name} must be in {rng}, not {value!r}")
    return value


def check_count(name: str, value: object, lo: int, hi: int) -> int:
    """Validate a count (of runs, steps, workers, ...) in ``[lo, hi]`` and return it; the
    error writes the range in decimal whatever its bounds (:func:`check_int` with
    ``decimal=True``)."""
    return check_int(name, value, lo, hi, decimal=True)


def check_seconds(name: str, value: object) -> None:
    """Validate an optional time budget: ``None`` or a positive, finite number of seconds.

    NaN and infinity are rejected: neither is a time limit (NaN compares false with
    every elapsed time, so it would remove the limit).
    """
    if value is None:
        return
    if (not isinstance(value, int | float) or isinstance(value, bool) or value != value
            or value <= 0 or value == float("inf")):
        raise InvalidArgumentValue(f"{name} must be a positive number of seconds, not {value!r}")
