"""Kernel drivers: the GICv3 driver (K1), the ITS driver (K2), VMD (K3)."""
