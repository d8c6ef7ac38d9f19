"""Check a run folder read back from disk before ``summary`` or ``ledger`` trust it.

A damaged folder (a hand-edited manifest, a table with NaN where the model never writes one, a missing
column) is bad input: one line naming the file, the value and the rule, exit 2, instead of an internal
error or, worse, a silently undercounted summary. Runs made in memory (``hmsim run``, batches) are not
checked again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import HmsimError
from sim.output import RunOutput

# columns where the model writes NaN on purpose (not returned yet, unfinished jobs, pools without hours)
NAN_ALLOWED: dict[str, frozenset[str]] = {
    "rentals": frozenset({"returned"}),
    "devices": frozenset({"end_day"}),
    "jobs": frozenset({"municipality", "start_day", "end_day", "workdays_to_start", "workdays_to_end"}),
    "staff_costs": frozenset({"available_hours", "busy_hours"}),
    "assets": frozenset({"depreciation_start"}),
}

# what the summary reads (depot_timeseries is optional: without it purchases and the rental rate are n/a)
SUMMARY_TABLES: dict[str, tuple[str, ...]] = {
    "timeseries": ("date", "municipality", "metric", "value"),
    "rentals": ("start_day", "end_day", "tracked", "payer", "municipality"),
    "deliveries": ("delivered_day", "on_planned_day", "municipality"),
    "jobs": ("kind", "start_day", "end_day", "workdays_to_start", "workdays_to_end", "municipality"),
    "route_stops": ("date", "km", "municipality"),
    "staff": ("date", "pool", "available_hours", "busy_hours"),
}
OPTIONAL_SUMMARY_TABLES: dict[str, tuple[str, ...]] = {"depot_timeseries": ("date", "metric", "value")}
LEDGER_TABLES: dict[str, tuple[str, ...]] = {"ledger": ("period", "year", "principal", "account", "amount")}


def check_meta(output: RunOutput, run_dir: Path) -> None:
    """The manifest's ``meta``: a start date, a positive number of days, the municipalities."""
    where = run_dir / "manifest.json"
    meta = output.meta
    try:
        date.fromisoformat(str(meta.get("start_date")))
    except ValueError:
        raise HmsimError(
            f"{where}: meta.start_date {meta.get('start_date')!r}: must be a date YYYY-MM-DD"
        ) from None
    days = meta.get("days")
    if not isinstance(days, int) or isinstance(days, bool) or not 0 < days <= 50 * 366:
        raise HmsimError(f"{where}: meta.days {days!r}: must be a whole number of days from 1 to {50 * 366}")
    munis = meta.get("municipalities")
    if not isinstance(munis, list) or not munis or not all(isinstance(m, str) for m in munis):
        raise HmsimError(f"{where}: meta.municipalities: must be a list of municipality names")
    warmup = meta.get("warmup_days", 0)
    if not isinstance(warmup, int) or not 0 <= warmup < days:
        raise HmsimError(f"{where}: meta.warmup_days {warmup!r}: must be a whole number from 0 to days - 1")


def _check_table(name: str, table: pd.DataFrame, columns: tuple[str, ...], run_dir: Path) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise HmsimError(f"{run_dir / name}.parquet: missing column(s) {', '.join(missing)}")


def check_finite(output: RunOutput, run_dir: Path) -> None:
    """No NaN or infinity in numeric columns, except where the model writes NaN on purpose."""
    for name, table in output.tables.items():
        allowed = NAN_ALLOWED.get(name, frozenset())
        for column in table.columns:
            series = table[column]
            if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
                continue
            values = series.to_numpy(dtype=float, na_value=np.nan)
            bad = np.isinf(values) if column in allowed else ~np.isfinite(values)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise HmsimError(
                    f"{run_dir / name}.parquet: column {column!r}: {int(bad.sum())} value(s) not finite (row "
                    f"{row}: {values[row]}); the run folder is damaged: run it again"
                )


def check_run(
    output: RunOutput,
    run_dir: Path,
    required: Mapping[str, tuple[str, ...]],
    optional: Mapping[str, tuple[str, ...]] | None = None,
) -> None:
    """Meta, the ``required`` tables with their columns, optional tables' columns, finite numbers."""
    check_meta(output, run_dir)
    for name, columns in required.items():
        if name not in output.tables:
            raise HmsimError(f"{run_dir}: no {name} table in the manifest; this command needs it")
        _check_table(name, output.tables[name], columns, run_dir)
    for name, columns in (optional or {}).items():
        if name in output.tables:
            _check_table(name, output.tables[name], columns, run_dir)
    check_finite(output, run_dir)
