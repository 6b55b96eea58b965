"""The probe scripts, by name: each returns ``(machine, ops)``.

``machine`` describes the QEMU run and the irqlab machine the golden test builds
(``gic``, ``cpus``, ``its``, ``virtualization``).  Scripts run on CPU 0 unless a ``cpu``
step hands them to another CPU (powered on by PSCI, one CPU runs at a time).
"""

from __future__ import annotations

from collections.abc import Callable

from peer import Op
from probes_gicv2 import (
    gicv2_flow,
    gicv2_id,
    gicv2_reserved,
    gicv2_rw,
    gicv2_sizes,
    gicv2_up,
    gicv2_v2m,
)
from probes_gicv3 import (
    gicv3_flow,
    gicv3_id,
    gicv3_its_id,
    gicv3_noits,
    gicv3_reserved,
    gicv3_rw,
    gicv3_sizes,
    gicv3_up,
)
from probes_guided import gicv2_virt_guided
from probes_lpi import gicv3_lpi
from probes_random import gicv2_random, gicv3_icv_random, gicv3_random, gicv3_smp_random
from probes_smp import gicv2_smp, gicv3_20cpu, gicv3_smp
from probes_virt import gicv2_virt, gicv2_virt_edges, gicv3_el2, gicv3_icv, gicv3_icv_lpi

SCRIPTS: dict[str, Callable[[], tuple[dict, list[Op]]]] = {
    "gicv3_id": gicv3_id,
    "gicv3_its_id": gicv3_its_id,
    "gicv3_rw": gicv3_rw,
    "gicv3_sizes": gicv3_sizes,
    "gicv3_flow": gicv3_flow,
    "gicv2_id": gicv2_id,
    "gicv2_rw": gicv2_rw,
    "gicv2_flow": gicv2_flow,
    "gicv2_sizes": gicv2_sizes,
    "gicv3_el2": gicv3_el2,
    "gicv2_virt": gicv2_virt,
    "gicv3_lpi": gicv3_lpi,
    "gicv3_icv": gicv3_icv,
    "gicv3_icv_lpi": gicv3_icv_lpi,
    "gicv3_smp": gicv3_smp,
    "gicv2_smp": gicv2_smp,
    "gicv3_random": gicv3_random,
    "gicv2_random": gicv2_random,
    "gicv3_icv_random": gicv3_icv_random,
    "gicv3_smp_random": gicv3_smp_random,
    "gicv3_reserved": gicv3_reserved,
    "gicv2_reserved": gicv2_reserved,
    "gicv2_v2m": gicv2_v2m,
    "gicv3_noits": gicv3_noits,
    "gicv3_up": gicv3_up,
    "gicv3_20cpu": gicv3_20cpu,
    "gicv2_virt_guided": gicv2_virt_guided,
    "gicv2_up": gicv2_up,
    "gicv2_virt_edges": gicv2_virt_edges,
}
