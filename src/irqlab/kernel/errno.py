"""Linux errno values, returned negated (``-ENOSPC``) where Linux returns them.

Only the numbers the kernel model uses; values match ``include/uapi/asm-generic/errno-base.h``
and ``errno.h`` so that traces read like kernel logs.
"""

from __future__ import annotations

__all__ = ["EBUSY", "EEXIST", "EINVAL", "ENODEV", "ENOENT", "ENOMEM", "ENOSPC", "ENOSYS",
           "ENXIO", "EPERM", "errname"]

EPERM = 1
ENOENT = 2
ENXIO = 6
ENOMEM = 12
EBUSY = 16
EEXIST = 17
ENODEV = 19
EINVAL = 22
ENOSPC = 28
ENOSYS = 38

_NAMES = {v: k for k, v in sorted(globals().items()) if k.startswith("E") and isinstance(v, int)}


def errname(err: int) -> str:
    """The symbolic name of ``err`` (positive or negative), e.g. ``errname(-28) == "-ENOSPC"``."""
    name = _NAMES.get(abs(err))
    if name is None:
        return str(err)
    return ("-" if err < 0 else "") + name
