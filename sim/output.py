"""RunOutput: the tidy tables and metadata of one run (what the DES hands to economics and analysis).

Tables (all pandas DataFrames; times in ``*_day`` columns are days since the start date, as floats):

- ``timeseries``: date x municipality x category x metric -> value (daily event counts and end-of-day
  levels; a missing row means 0)
- ``depot_timeseries``: date x depot x category x metric -> value
- ``rentals``: one row per rental (initial rentals start before day 0), with patient attributes and payer
- ``devices``: one row per device (initial or purchased) with price, purchase time, end state
- ``deliveries``: one row per delivered order (rentals and sales), with the delivery KPI
- ``jobs``: one row per technician or consultant job, with created/start/end and workdays
- ``route_stops``: one row per route run x municipality visited: deliveries, pickups, km
- ``staff``: date x depot x pool: staff present, available and busy hours
- ``kpis``: month x municipality x service KPI: events, events meeting the target, share
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, get_args

import pandas as pd

TableName = Literal[
    "timeseries",
    "depot_timeseries",
    "rentals",
    "devices",
    "deliveries",
    "jobs",
    "route_stops",
    "staff",
    "kpis",
]
TABLES: tuple[str, ...] = get_args(TableName)


@dataclass
class RunOutput:
    """Tables of one run plus metadata (start date, days, names, seed, wall time)."""

    meta: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def has(self, name: str) -> bool:
        return name in self.tables

    @property
    def start_date(self) -> date:
        return date.fromisoformat(str(self.meta["start_date"]))

    @property
    def days(self) -> int:
        return int(self.meta["days"])
