"""Hardware models: memory, the GIC (v2, v3 with ITS), PCI.  Synchronous and architectural.

A register access or a device's write is a method call that completes at
once and changes state as the specification says.  Nothing here knows Linux.
"""
