"""The Linux-shaped kernel model: boot/kexec, memory, CPU hotplug, the irq core, drivers.

Model code is ``async def`` running on :mod:`irqlab.sim`; see ``docs/kernel.md``.
K2/K3 may append their names below.
"""

from irqlab.kernel import errno
from irqlab.kernel.irq import *  # noqa: F403 (the irq core is the kernel's public surface)
from irqlab.kernel.irq import __all__ as _irq_all

__all__ = ["errno", *_irq_all]
