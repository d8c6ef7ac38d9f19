"""The discrete-event model (SimPy). Knows nothing of money, plots or batches.

``run(scenario, seed) -> RunOutput`` is the whole public interface.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.config.schema import Scenario
from sim.model.collect import collect
from sim.model.engine import Simulation
from sim.output import RunOutput


def run(
    scenario: Scenario,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
    check_every_days: int = 0,
) -> RunOutput:
    """Simulate ``scenario`` with ``seed`` (default: the scenario's) and return its output tables."""
    sim = Simulation(scenario, scenario.seed if seed is None else seed, check_every_days=check_every_days)
    sim.run(progress)
    return collect(sim.records())


__all__ = ["RunOutput", "Simulation", "run"]
