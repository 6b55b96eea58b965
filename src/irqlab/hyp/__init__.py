"""Hypervisor-side software models (KVM's vgic LPI store: :mod:`irqlab.hyp.vgic_lpi`)."""
