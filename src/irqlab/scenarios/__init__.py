"""Built-in scenarios: the seed threads as runnable worlds with design variants."""

from irqlab.scenarios._base import (
    Scenario,
    Variant,
    World,
    all_scenarios,
    get_scenario,
)

__all__ = ["Scenario", "Variant", "World", "all_scenarios", "get_scenario"]
