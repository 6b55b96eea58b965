"""PCI configuration space encodings (PCI Local Bus 3.0, PCIe 6.0 chapter 7).

Names as Linux's ``include/uapi/linux/pci_regs.h`` spells them, so the device
model (:mod:`irqlab.hw.pci`), the kernel model (:mod:`irqlab.kernel.pci`) and
the demo's register-level driver read the same table.
"""

from __future__ import annotations

# Type-0 header.
PCI_COMMAND = 0x04
PCI_COMMAND_MEMORY = 1 << 1
PCI_COMMAND_MASTER = 1 << 2
PCI_COMMAND_INTX_DISABLE = 1 << 10
PCI_STATUS = 0x06
PCI_STATUS_CAP_LIST = 1 << 4
PCI_BASE_ADDRESS_0 = 0x10
PCI_CAPABILITY_LIST = 0x34

# Capability IDs.
PCI_CAP_ID_MSI = 0x05
PCI_CAP_ID_MSIX = 0x11

# MSI capability: Message Control and the 64-bit layout.
PCI_MSI_FLAGS = 2
PCI_MSI_FLAGS_ENABLE = 1 << 0
PCI_MSI_FLAGS_QMASK = 0x7 << 1
PCI_MSI_FLAGS_QSIZE = 0x7 << 4
PCI_MSI_FLAGS_64BIT = 1 << 7
PCI_MSI_FLAGS_MASKBIT = 1 << 8
PCI_MSI_ADDRESS_LO = 4
PCI_MSI_ADDRESS_HI = 8
PCI_MSI_DATA_64 = 12
PCI_MSI_MASK_64 = 16

# MSI-X capability and table entries.
PCI_MSIX_FLAGS = 2
PCI_MSIX_FLAGS_QSIZE = 0x7FF
PCI_MSIX_FLAGS_MASKALL = 1 << 14
PCI_MSIX_FLAGS_ENABLE = 1 << 15
PCI_MSIX_TABLE = 4
PCI_MSIX_ENTRY_SIZE = 16
PCI_MSIX_ENTRY_VECTOR_CTRL = 12
PCI_MSIX_ENTRY_CTRL_MASKBIT = 1
