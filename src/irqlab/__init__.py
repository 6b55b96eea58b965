"""irqlab: an executable model of the ARM GIC interrupt stack.

The hardware (``irqlab.hw``) is usable alone through the bus-level API of
:class:`Machine`; the engine (``irqlab.sim``) runs ``async`` model code on its
CPUs under a deterministic scheduler; ``irqlab.kernel`` and ``irqlab.check``
build the Linux-shaped software and the checkers on top.
"""

from irqlab.errors import (
    ExternalAbort,
    InvalidArgument,
    IrqlabError,
    UndefinedInstruction,
)
from irqlab.events import Event, EventStream
from irqlab.hw.config import MachineConfig, PciFunctionConfig
from irqlab.hw.machine import Cpu, Machine

__all__ = [
    "Cpu",
    "Event",
    "EventStream",
    "ExternalAbort",
    "InvalidArgument",
    "IrqlabError",
    "Machine",
    "MachineConfig",
    "PciFunctionConfig",
    "UndefinedInstruction",
]

__version__ = "0.1.0"
