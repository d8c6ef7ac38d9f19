"""Scenario configuration: schema, YAML loading with extends and overrides, validation messages."""

from sim.config.loader import (
    apply_overrides,
    build_scenario,
    load_raw,
    load_scenario,
    scenario_dict,
    scenario_hash,
    validate_model,
)
from sim.config.schema import Scenario

__all__ = [
    "Scenario",
    "apply_overrides",
    "build_scenario",
    "load_raw",
    "load_scenario",
    "scenario_dict",
    "scenario_hash",
    "validate_model",
]
