"""The checker: observers of the event stream, exploration strategies, shrinking, reports."""

from irqlab.check.findings import Finding

__all__ = ["Finding", "explore_test", "run_once"]


def __getattr__(name: str) -> object:
    # lazy: run_once and the pytest plugin's decorator (irqlab.check.explore is a module)
    if name == "explore_test":
        from irqlab.check.pytest_plugin import explore_test

        return explore_test
    if name == "run_once":
        from irqlab.check.run import run_once

        return run_once
    raise AttributeError(f"module 'irqlab.check' has no attribute {name!r}")
