"""The experiment file: base scenario, named override sets, optional grid, replications, windows, metrics.

Validated like scenario configs (unknown keys rejected, one line per problem); every scenario x grid point
is built and validated up front, so a typo fails before any run starts.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any, Literal

from pydantic import model_validator

from sim.config.base import Model, param
from sim.config.limits import MAX_BATCH_RUNS, MAX_SCENARIO_POINTS
from sim.names import NAME_RULE, is_folder_name


class Window(Model):
    name: str = param(..., "-", "per experiment", "label of the window (used in column names)")
    start: date | None = param(None, "date", "per experiment", "first day (default: the run's first day)")
    end: date | None = param(None, "date", "per experiment", "last day (default: the run's last day)")


class Experiment(Model):
    """A batch of runs: scenarios x grid points x replications."""

    name: str = param(..., "-", "-", "experiment name (results go to results/<name>/)")
    description: str = param("", "-", "-", "what the experiment compares")
    base: str = param(..., "path", "-", "base scenario config, relative to the experiment file")
    scenarios: dict[str, dict[str, Any]] = param(
        {"base": {}}, "-", "-", "named override sets: scenario -> {dotted.key: value}"
    )
    grid: dict[str, list[Any]] = param(
        {}, "-", "-", "dotted.key -> values; every combination is run for every scenario"
    )
    replications: int = param(..., "runs", "-", "replications per scenario and grid point", ge=1, le=10_000)
    seed: int = param(1, "-", "-", "master seed; replication r gets the same seed in every scenario", ge=0)
    years: float | None = param(
        None, "years", "-", "horizon (overrides horizon.years of the base)", gt=0, le=50
    )
    windows: list[Window] | Literal["yearly", "all"] = param(
        "all", "-", "-", "summary windows: 'all' (the horizon), 'yearly', or a list of named windows"
    )
    metrics: list[str] = param([], "-", "-", "summary metrics to store (default: all, plus ledger totals)")
    keep_tables: list[str] = param(
        ["timeseries", "depot_timeseries", "kpis", "ledger", "products"],
        "-",
        "assumption: enough for plots and re-analysis without keeping per-event tables",
        "run tables written to each run folder (per-event tables are large)",
    )

    @model_validator(mode="after")
    def _check(self) -> Experiment:
        if not is_folder_name(self.name):
            raise ValueError(f"name: {self.name!r}: must be {NAME_RULE} (it names the results folder)")
        for scenario in self.scenarios:
            if not is_folder_name(scenario):
                raise ValueError(f"scenarios: {scenario!r}: must be {NAME_RULE} (it names run folders)")
        if not self.scenarios:
            raise ValueError("scenarios: give at least one (an empty mapping {} runs the base as is)")
        for key, values in self.grid.items():
            if not values:
                raise ValueError(f"grid.{key}: give at least one value")
        points = len(self.scenarios) * math.prod(len(v) for v in self.grid.values())
        if points > MAX_SCENARIO_POINTS:
            raise ValueError(
                f"scenarios x grid give {points} scenario points, more than the {MAX_SCENARIO_POINTS} "
                "hmsim validates in one experiment; split it"
            )
        if points * self.replications > MAX_BATCH_RUNS:
            raise ValueError(
                f"{points} scenario points x {self.replications} replications = {points * self.replications} "
                f"runs, more than the {MAX_BATCH_RUNS} of one batch; split it"
            )
        if isinstance(self.windows, list):
            names = [w.name for w in self.windows]
            if len(set(names)) != len(names):
                raise ValueError("windows: names must be unique")
        return self
