"""End to end (issue 3 acceptance): a driver, 8 MSI-X vectors, the device fires, CPUs handle.

Device MSI-X write -> ITS translation -> redistributor -> CPU interface ->
``handle_arch_irq`` -> ITS/PCI-MSI flow handler -> the driver's handler ->
EOI; affinity through MOVI; removal leaves nothing mapped and nothing
allocated.
"""

from __future__ import annotations

import pytest

from irqlab import sim
from irqlab.check.observe import attach
from irqlab.hw.config import PciFunctionConfig as F
from irqlab.kernel.irq.chip import IRQ_HANDLED
from irqlab.kernel.irq.manage import free_irq, irq_set_affinity, request_irq
from irqlab.kernel.kernel import Kernel
from irqlab.kernel.pci import (
    PCI_IRQ_MSIX,
    PciDriver,
    pci_alloc_irq_vectors,
    pci_bus,
    pci_free_irq_vectors,
    pci_irq_vector,
)

from ._msi_util import machine

NVEC = 8
ROUNDS = 3


class Nic:
    """A driver model: one handler per vector, vector i bound to CPU i % 4."""

    def __init__(self) -> None:
        self.handled: list[tuple[int, int]] = []      # (vector, cpu)
        self.irqs: list[int] = []
        self.driver = PciDriver("nic", self.probe, self.remove, id_table=[(0x1B36, 0x0010)])

    async def handler(self, irq: int, dev_id) -> int:
        self.handled.append((self.irqs.index(irq), sim.smp_processor_id()))
        return IRQ_HANDLED

    async def probe(self, dev) -> int:
        n = await pci_alloc_irq_vectors(dev, NVEC, NVEC, PCI_IRQ_MSIX)
        if n < 0:
            return n
        self.irqs = [pci_irq_vector(dev, i) for i in range(n)]
        for i, irq in enumerate(self.irqs):
            ret = await request_irq(irq, self.handler, 0, f"nic-q{i}", dev)
            if ret:
                return ret
            ret = await irq_set_affinity(irq, [i % 4])
            if ret:
                return ret
        return 0

    async def remove(self, dev) -> None:
        for irq in self.irqs:
            await free_irq(irq, dev)
        await pci_free_irq_vectors(dev)


def _world(strategy=None):
    m = machine(F(bdf=0x10, msi_vectors=0, msix_vectors=NVEC))
    eng = sim.Engine(machine=m, strategy=strategy, fingerprint="e2e")
    k = Kernel(m, eng)
    nic = Nic()
    st: dict = {}

    async def wait_handled(n: int) -> None:
        for _ in range(10_000):
            if len(nic.handled) >= n:
                return
            await sim.point("wait for the handlers")
        raise AssertionError(f"only {len(nic.handled)} of {n} interrupts handled")

    async def init() -> None:
        await k.boot()
        bus = pci_bus(k)
        st["initial"] = (k.its.lpis.state(), len(k.irq.descs))
        await bus.register_driver(nic.driver)
        fn = m.pci[0x10]
        st["routes"] = [m.its.lookup(0x10, e)[1] for e in range(NVEC)]
        for r in range(ROUNDS):
            for v in range(NVEC):
                fn.fire(v)
            await wait_handled((r + 1) * NVEC)
        st["kstat"] = [list(k.irq.descs[irq].kstat_irqs) for irq in nic.irqs]
        # affinity change of queue 0 to CPU 2: MOVI
        assert await irq_set_affinity(nic.irqs[0], [2]) == 0
        st["moved"] = m.its.lookup(0x10, 0)[1]
        before = len(nic.handled)
        fn.fire(0)
        await wait_handled(before + 1)
        st["after_move"] = nic.handled[-1]
        st["final_kstat0"] = list(k.irq.descs[nic.irqs[0]].kstat_irqs)
        try:
            from irqlab.kernel.irq.proc import show_interrupts
        except ImportError:
            show_interrupts = None
        st["proc"] = show_interrupts(k) if show_interrupts is not None else ""
        await bus.unregister_driver(nic.driver)
        st["end"] = (k.its.lpis.state(), len(k.irq.descs))
        st["mappings"] = m.its.mappings()
        st["its_devices"] = dict(k.its.devices)
        st["lpi_count"] = list(k.its.lpi_count)
        st["lookups"] = [m.its.lookup(0x10, e) for e in range(NVEC)]
        st["descs"] = [irq for irq in nic.irqs if irq in k.irq.descs]

    eng.spawn(0, init, name="init")
    return eng, m, k, nic, st


def test_end_to_end_round_robin() -> None:
    eng, _m, _k, nic, st = _world()
    obs = attach(eng)
    res = eng.run()
    assert res.outcome == "ok", (res.error, getattr(res, "traceback", ""))
    assert obs.findings(res) == []
    assert st["routes"] == [i % 4 for i in range(NVEC)]
    # each vector handled ROUNDS times, all on its CPU
    for v in range(NVEC):
        assert sorted(c for vv, c in nic.handled[:ROUNDS * NVEC] if vv == v) == [v % 4] * ROUNDS
        expect = [0, 0, 0, 0]
        expect[v % 4] = ROUNDS
        assert st["kstat"][v] == expect
    assert st["moved"] == 2 and st["after_move"] == (0, 2)
    assert st["final_kstat0"] == [ROUNDS, 0, 1, 0]
    assert ("  9:          3          0          1          0 ITS-PCI-MSIX-0000:00:02.0     0 "
            "Edge     nic-q0") in st["proc"].splitlines()
    # removal: no mapped event, no LPI, no descriptor, no ITS device behind
    assert st["mappings"] == [] and st["lookups"] == [None] * NVEC
    assert st["its_devices"] == {} and st["lpi_count"] == [0, 0, 0, 0]
    assert st["end"] == st["initial"] and st["descs"] == []


@pytest.mark.parametrize("seed", range(4))
def test_end_to_end_random_interleavings(seed) -> None:
    eng, _m, _k, nic, st = _world(sim.Random(seed))
    res = eng.run()
    assert res.outcome == "ok", (res.error, getattr(res, "traceback", ""))
    counts = [sum(row) for row in st["kstat"]]
    assert counts == [ROUNDS] * NVEC
    assert all(c == v % 4 for v, c in nic.handled[:ROUNDS * NVEC])
    assert st["mappings"] == [] and st["end"] == st["initial"]
