"""The checker: observers of the event stream, exploration strategies, shrinking, reports."""

from irqlab.check.findings import Finding

__all__ = ["Finding"]
