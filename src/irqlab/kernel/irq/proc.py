"""``/proc/interrupts``: per-CPU handled counts of every requested IRQ, then the IPIs.

Same layout as ``show_interrupts`` (``kernel/irq/proc.c``) and arm64's
``arch_show_interrupts``: one column per online CPU, then the chip name, the
hwirq, the trigger and the action names.  IPIs (hidden IRQs in Linux) are
listed only in their ``IPI<n>:`` lines.
"""

from __future__ import annotations

from typing import Any

from irqlab.kernel.irq.desc import IRQD_LEVEL

__all__ = ["show_interrupts"]


def show_interrupts(kernel: Any) -> str:
    """The text of ``/proc/interrupts`` for ``kernel`` (plain call, any time)."""
    core = kernel.irq
    cpus = [c for c in range(kernel.nr_cpu_ids) if kernel.engine.cpu_online(c)]
    gic: Any = kernel.gic
    hidden: range = range(0)
    if gic is not None and gic.ipi_base:
        from irqlab.kernel.drivers.irq_gic_v3 import NR_IPI

        hidden = range(gic.ipi_base, gic.ipi_base + NR_IPI)
    nr = max(core.descs, default=0)
    prec = max(3, len(str(nr)))
    lines = [(" " * (prec + 8) + "".join(f"CPU{c:<8d}" for c in cpus)).rstrip()]
    for irq in sorted(core.descs):
        if irq in hidden:
            continue
        desc = core.descs[irq]
        if not desc.action and not desc.tot_count:
            continue
        d = desc.irq_data
        counts = "".join(f"{desc.kstat_irqs[c]:10d} " for c in cpus)
        trig = "Level" if desc.state & IRQD_LEVEL else "Edge"
        names = ", ".join(act.name for act in desc.action)
        lines.append(f"{irq:>{prec}}: {counts}{d.chip.name:>8} {d.hwirq:>5} {trig:<8} "
                     f"{names}".rstrip())
    if gic is not None and gic.ipi_base:
        from irqlab.kernel.drivers.irq_gic_v3 import _IPI_NAMES, NR_IPI

        for i in range(NR_IPI):
            counts = "".join(f"{gic.ipi_counts[i][c]:10d} " for c in cpus)
            lines.append(f"{'IPI' + str(i):>{prec}}: {counts}      {_IPI_NAMES[i]}")
        # arm64's irq_err_count: nothing increments it for the GIC (a spurious 1023 is
        # not counted), so the line is there as in Linux and reads 0
        lines.append(f"{'Err':>{prec}}: {0:10d}")
    return "\n".join(lines) + "\n"
