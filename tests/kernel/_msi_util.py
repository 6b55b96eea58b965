"""Helpers for the MSI/PCI/ITS/end-to-end tests: boot a kernel, run a body on CPU 0."""

from __future__ import annotations

from typing import Any

from irqlab import sim
from irqlab.hw.config import PciFunctionConfig
from irqlab.hw.machine import Machine
from irqlab.kernel.kernel import Kernel


def machine(*fns: PciFunctionConfig, cpus: int = 4, **cfg: Any) -> Machine:
    return Machine.virt(cpus=cpus, pci_functions=tuple(fns), **cfg)


def run(m: Machine, body: Any = None, *, options: dict[str, Any] | None = None,
        maxcpus: int | None = None, strategy: Any = None, kernel: Kernel | None = None,
        events: list[Any] | None = None) -> tuple[Any, Kernel]:
    """Boot a kernel (or kexec ``kernel``) on ``m`` and run ``await body(k)``; (result, k)."""
    eng = sim.Engine(machine=m, strategy=strategy, fingerprint="k2-test")
    if kernel is None:
        k = Kernel(m, eng, maxcpus=maxcpus, options=options)
    else:
        k = kernel.kexec(eng)
    sub = m.events.subscribe(events.append) if events is not None else None

    async def init() -> None:
        await k.boot()
        if body is not None:
            await body(k)

    eng.spawn(0, init, name="init")
    res = eng.run()
    if sub is not None:
        m.events.unsubscribe(sub)
    return res, k


def ok(res: Any) -> None:
    assert res.outcome == "ok", (res.outcome, res.error, getattr(res, "traceback", ""))


def kinds(events: list[Any], prefix: str) -> list[str]:
    return [e.kind for e in events if e.kind.startswith(prefix)]
