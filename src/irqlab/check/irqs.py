"""Work in progress: the irqs observer."""

from __future__ import annotations

from typing import Any

from irqlab.check.findings import Finding

__all__ = ["IrqObserver"]


class IrqObserver:
    """Placeholder observer (no findings yet)."""

    def __init__(self, engine: Any, **options: Any) -> None:
        self.engine = engine
        self.found: list[Finding] = []
        self.handlers: dict[str, Any] = {}

    def finish(self, result: Any) -> list[Finding]:
        return []
