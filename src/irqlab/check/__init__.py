"""The checker: observers of the event stream, exploration strategies, shrinking, reports."""

from irqlab.check.findings import Finding

__all__ = ["Finding", "NotExhaustive", "explore_test", "replay", "run_once"]


def __getattr__(name: str) -> object:
    # lazy: run_once, replay and the pytest plugin's names (irqlab.check.explore is a module)
    if name in ("explore_test", "NotExhaustive"):
        from irqlab.check import pytest_plugin

        return getattr(pytest_plugin, name)
    if name == "replay":
        from irqlab.check.report import replay

        return replay
    if name == "run_once":
        from irqlab.check.run import run_once

        return run_once
    raise AttributeError(f"module 'irqlab.check' has no attribute {name!r}")
