"""The Linux-shaped kernel model: boot/kexec, memory, CPU hotplug, the irq core, drivers.

Model code is ``async def`` running on :mod:`irqlab.sim`; see ``docs/kernel.md``.
K2/K3 may append their names below.
"""

from irqlab.kernel import errno
from irqlab.kernel.cpuhp import (
    CPUHP_AP_IRQ_GIC_STARTING,
    CPUHP_AP_OFFLINE,
    CPUHP_AP_ONLINE,
    CPUHP_AP_ONLINE_DYN,
    CPUHP_AP_ONLINE_DYN_END,
    CPUHP_AP_ONLINE_IDLE,
    CPUHP_BRINGUP_CPU,
    CPUHP_OFFLINE,
    CPUHP_ONLINE,
    CpuHotplug,
)
from irqlab.kernel.irq import *  # noqa: F403 (the irq core is the kernel's public surface)
from irqlab.kernel.irq import __all__ as _irq_all
from irqlab.kernel.irq.proc import show_interrupts
from irqlab.kernel.kernel import Kernel
from irqlab.kernel.mm import (
    GFP_ATOMIC,
    GFP_KERNEL,
    GFP_ZERO,
    PAGE_SIZE,
    MemReserve,
    PageAllocator,
)
from irqlab.kernel.msi import MSI_ANY_INDEX, MsiDesc, MsiMap, MsiParentOps
from irqlab.kernel.pci import (
    PCI_IRQ_MSI,
    PCI_IRQ_MSIX,
    PciDev,
    PciDriver,
    pci_alloc_irq_vectors,
    pci_bus,
    pci_free_irq_vectors,
    pci_irq_vector,
    pci_msix_alloc_irq_at,
    pci_msix_free_irq,
)

__all__ = [
    "CPUHP_AP_IRQ_GIC_STARTING",
    "CPUHP_AP_OFFLINE",
    "CPUHP_AP_ONLINE",
    "CPUHP_AP_ONLINE_DYN",
    "CPUHP_AP_ONLINE_DYN_END",
    "CPUHP_AP_ONLINE_IDLE",
    "CPUHP_BRINGUP_CPU",
    "CPUHP_OFFLINE",
    "CPUHP_ONLINE",
    "GFP_ATOMIC",
    "GFP_KERNEL",
    "GFP_ZERO",
    "MSI_ANY_INDEX",
    "PCI_IRQ_MSI",
    "PCI_IRQ_MSIX",
    "PAGE_SIZE",
    "CpuHotplug",
    "Kernel",
    "MemReserve",
    "MsiDesc",
    "MsiMap",
    "MsiParentOps",
    "PageAllocator",
    "PciDev",
    "PciDriver",
    "errno",
    "pci_alloc_irq_vectors",
    "pci_bus",
    "pci_free_irq_vectors",
    "pci_irq_vector",
    "pci_msix_alloc_irq_at",
    "pci_msix_free_irq",
    "show_interrupts",
    *_irq_all,
]
