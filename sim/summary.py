"""Volumes, levels and KPIs of a run over a date window, named as in the observed data.

Metric names follow ``metric`` in ``vastmanland_hmc_2024_interim.csv`` so simulated and observed figures
line up row by row. Definitions (window = the days from ``start`` to ``end``, both included):

- volumes (``orders``, ``returns``, ``recondition_work_orders``, ``pickup_orders``, ``technical_work_orders``,
  ``consultant_fitting_referrals``, ``deliveries``, ``purchases``, ``scrapped``, ``backorders``): counts in
  the window; returns are counted when reported, pickup orders when created, purchases (units) when received;
- ``rented_volume_individual``: individually tracked devices on rent at the end of the window;
- ``kpi_delivery_on_planned_day``: share of deliveries in the window made on the promised route day;
- ``kpi_repair_done_within_5_workdays``: share of technical work orders finished in the window within
  5 workdays of being reported;
- ``kpi_fitting_offered_within_15_workdays``: share of fittings started in the window within 15 workdays
  of the referral;
- ``kpi_rental_rate_devices_at_customer``: mean over the window's days of tracked devices on rent over the
  tracked rentable fleet (on rent, awaiting pickup, in depot, workshop or transit);
- ``kpi_mil_driven_per_rented_individual_volume``: route km in the window / 10 / tracked devices on rent at
  the window's end, annualised (x 365.25 / window days); per municipality, the km of its stops over the
  devices on rent at its patients (whoever pays), so numerator and denominator cover the same devices;
- ``technician_utilisation``: busy over available hours of reconditioning and service technicians.

With ``by="municipality"`` each municipality gets the volumes and KPIs of its own patients and
``rented_volume_individual`` of the devices it pays for; ``region_total`` and ``municipalities_total`` split
the rented volume by payer, and ``all`` holds the county totals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import HmsimError
from sim.model.limits import CAPACITY_OF, LIMIT_REASONS
from sim.output import RunOutput
from sim.responsibility import REGION

VOLUME_METRICS = (
    "orders",
    "returns",
    "recondition_work_orders",
    "pickup_orders",
    "technical_work_orders",
    "consultant_fitting_referrals",
    "deliveries",
    "backorders",
    "scrapped",
)
KPI_METRICS = (
    "kpi_delivery_on_planned_day",
    "kpi_repair_done_within_5_workdays",
    "kpi_fitting_offered_within_15_workdays",
    "kpi_rental_rate_devices_at_customer",
    "kpi_mil_driven_per_rented_individual_volume",
)
METRICS = (*VOLUME_METRICS, "purchases", "rented_volume_individual", *KPI_METRICS, "technician_utilisation")
TECHNICAL_KINDS = ("corrective", "preventive")


def window(output: RunOutput, start: date | None = None, end: date | None = None) -> tuple[int, int]:
    """Day indexes ``[d0, d1)`` of the window; defaults: after the warm-up to the horizon's end."""
    first = output.start_date
    last = first + timedelta(days=output.days - 1)
    d0 = (start - first).days if start else int(output.meta.get("warmup_days", 0))
    d1 = (end - first).days + 1 if end else output.days
    if start and not first <= start <= last:
        raise HmsimError(f"--from {start}: outside the run ({first} to {last})")
    if end and not first <= end <= last:
        raise HmsimError(f"--to {end}: outside the run ({first} to {last})")
    if d1 <= d0:
        raise HmsimError(
            f"--from {first + timedelta(days=d0)} is after --to {first + timedelta(days=d1 - 1)}"
        )
    return d0, d1


def _share(mask: pd.Series | np.ndarray) -> float:
    arr = np.asarray(mask, dtype=float)
    return float(arr.mean()) if arr.size else float("nan")


def _day_of(dates: pd.Series, first: date) -> np.ndarray:
    return ((pd.to_datetime(dates) - pd.Timestamp(first)) // pd.Timedelta(days=1)).to_numpy()


def _rows(
    out: RunOutput,
    name: str,
    columns: list[str],
    keep: Callable[[pd.DataFrame], Any],
    tested: tuple[str, ...] = (),
) -> pd.DataFrame:
    """The rows of table ``name`` that ``keep`` selects (a boolean mask of a chunk), only ``columns`` (and
    ``tested``, the further columns ``keep`` reads, while it reads them), a chunk at a time (a large run's
    table is never held whole); in the table's row order, so sums over them are the sums over the same rows
    of the whole table."""
    read = [*columns, *(c for c in tested if c not in columns)]
    parts = [part.loc[keep(part), columns] for part in out.chunks(name, read)]
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


@dataclass
class _Window:
    """What the metrics over ``[d0, d1)`` read from a run: per table only the rows and columns they use
    (read once per call of :func:`summarise`, whatever the number of segments)."""

    d0: int
    d1: int
    counts: pd.DataFrame  # timeseries: volume metrics and devices on rent, days in the window
    depot: pd.DataFrame | None  # depot_timeseries: purchases and the tracked fleet, days in the window
    on_rent: pd.DataFrame  # rentals: tracked devices on rent at the window's end
    deliveries: pd.DataFrame  # delivered in the window
    jobs: pd.DataFrame  # technical jobs ended, fittings started in the window
    stops: pd.DataFrame  # route stops in the window
    staff: pd.DataFrame  # technicians' staff rows in the window

    @classmethod
    def of(cls, out: RunOutput, d0: int, d1: int) -> _Window:
        first = out.start_date

        def days(column: str) -> Callable[[pd.DataFrame], Any]:
            def keep(part: pd.DataFrame) -> Any:
                day = _day_of(part[column], first)
                return (day >= d0) & (day < d1)

            return keep

        in_days = days("date")
        t_end = float(d1)
        counts = _rows(
            out,
            "timeseries",
            ["date", "municipality", "metric", "value"],
            lambda p: p["metric"].isin([*VOLUME_METRICS, "on_rent_tracked"]) & in_days(p),
        )
        depot = None
        if out.has("depot_timeseries"):
            depot = _rows(
                out,
                "depot_timeseries",
                ["date", "metric", "value"],
                lambda p: p["metric"].isin(["purchases", "fleet_tracked"]) & in_days(p),
            )
        on_rent = _rows(
            out,
            "rentals",
            ["municipality", "payer"],
            lambda p: (p["start_day"] < t_end) & (p["end_day"] > t_end) & p["tracked"],
            ("start_day", "end_day", "tracked"),
        )
        deliveries = _rows(
            out,
            "deliveries",
            ["municipality", "delivered_day", "on_planned_day"],
            lambda p: (p["delivered_day"] >= d0) & (p["delivered_day"] < d1),
        )
        jobs = _rows(
            out,
            "jobs",
            ["municipality", "kind", "start_day", "end_day", "workdays_to_start", "workdays_to_end"],
            lambda p: (
                (p["kind"].isin(TECHNICAL_KINDS) & (p["end_day"] >= d0) & (p["end_day"] < d1))
                | ((p["kind"] == "fitting") & (p["start_day"] >= d0) & (p["start_day"] < d1))
            ),
        )
        stops = _rows(out, "route_stops", ["date", "municipality", "km"], in_days)
        staff = _rows(
            out,
            "staff",
            ["date", "pool", "available_hours", "busy_hours"],
            lambda p: in_days(p) & p["pool"].isin(["reconditioning_technicians", "service_technicians"]),
        )
        return cls(d0, d1, counts, depot, on_rent, deliveries, jobs, stops, staff)


def _segment_metrics(win: _Window, muni: str | None) -> dict[str, float]:
    """Metrics over the window for one municipality's patients (or all when ``muni`` is None)."""
    d0, d1 = win.d0, win.d1
    res: dict[str, float] = {}

    def pick(table: pd.DataFrame) -> pd.DataFrame:
        return table if muni is None else table[table["municipality"] == muni]

    ts = pick(win.counts)
    sums = ts.groupby("metric", observed=True)["value"].sum()
    for metric in VOLUME_METRICS:
        res[metric] = float(sums.get(metric, 0))
    dts = win.depot
    if muni is None and dts is not None:
        res["purchases"] = float(dts.loc[dts["metric"] == "purchases", "value"].sum())
    on_rent = win.on_rent
    if muni is None:
        res["rented_volume_individual"] = float(len(on_rent))
    else:
        res["rented_volume_individual"] = float((on_rent["payer"] == muni).sum())
    dl = pick(win.deliveries)
    res["kpi_delivery_on_planned_day"] = _share(dl["on_planned_day"])
    jobs = pick(win.jobs)
    tech = jobs[jobs["kind"].isin(TECHNICAL_KINDS) & (jobs["end_day"] >= d0) & (jobs["end_day"] < d1)]
    res["kpi_repair_done_within_5_workdays"] = _share(tech["workdays_to_end"] <= 5)
    fit = jobs[(jobs["kind"] == "fitting") & (jobs["start_day"] >= d0) & (jobs["start_day"] < d1)]
    res["kpi_fitting_offered_within_15_workdays"] = _share(fit["workdays_to_start"] <= 15)
    if muni is None and dts is not None:
        on = ts[ts["metric"] == "on_rent_tracked"].groupby("date")["value"].sum()
        fleet = dts[dts["metric"] == "fleet_tracked"].groupby("date")["value"].sum()
        ratio = (on / fleet.reindex(on.index)).dropna()
        res["kpi_rental_rate_devices_at_customer"] = float(ratio.mean()) if len(ratio) else float("nan")
    km = float(pick(win.stops)["km"].sum())
    # the km reach the municipality's patients, so the devices are those on rent at its patients (whoever
    # pays); the county's figure is the same ratio over all patients
    volume = float(len(pick(on_rent)))
    res["kpi_mil_driven_per_rented_individual_volume"] = (
        km / 10.0 / volume * 365.25 / (d1 - d0) if volume > 0 else float("nan")
    )
    if muni is None:
        avail = float(win.staff["available_hours"].sum())
        res["technician_utilisation"] = (
            float(win.staff["busy_hours"].sum()) / avail if avail else float("nan")
        )
    return res


def summarise(
    out: RunOutput, start: date | None = None, end: date | None = None, by: str | None = None
) -> dict[str, Any]:
    """``{metric: value}``, or with ``by="municipality"`` ``{segment: {metric: value}}``."""
    d0, d1 = window(out, start, end)
    if by is not None and by != "municipality":
        raise HmsimError(f"--by {by!r}: must be 'municipality'")
    win = _Window.of(out, d0, d1)
    total = _segment_metrics(win, None)
    if by is None:
        return total
    result: dict[str, Any] = {"all": total}
    on_rent = win.on_rent
    region = float((on_rent["payer"] == REGION).sum())
    result["region_total"] = {"rented_volume_individual": region}
    result["municipalities_total"] = {"rented_volume_individual": float(len(on_rent)) - region}
    for muni in out.meta["municipalities"]:
        result[muni] = _segment_metrics(win, muni)
    return result


YEARLY_KPIS = (
    "kpi_delivery_on_planned_day",
    "kpi_repair_done_within_5_workdays",
    "kpi_fitting_offered_within_15_workdays",
    "kpi_rental_rate_devices_at_customer",
)


def kpis_by_year(out: RunOutput) -> dict[int, dict[str, float]]:
    """``{year: {kpi: value}}`` for every calendar year the run touches (after the warm-up): the three
    service KPIs from the monthly ``kpis`` table (events meeting the target over events), and the rental rate
    as the mean daily ratio of tracked devices on rent to the tracked fleet."""
    result: dict[int, dict[str, float]] = {}
    kpis = out["kpis"]
    year = pd.to_datetime(kpis["month"]).dt.year
    names = {f"kpi_{k}": k for k in ("delivery_on_planned_day", "repair_done_within_5_workdays",
                                     "fitting_offered_within_15_workdays")}  # fmt: skip
    sums = kpis.assign(year=year).groupby(["year", "kpi"], observed=True)[["events", "met"]].sum()
    first = out.start_date
    warmup = int(out.meta.get("warmup_days", 0))
    years = sorted({int(y) for y in year} | {(first + timedelta(days=warmup)).year})
    for y in years:
        row: dict[str, float] = {}
        for metric, kpi in names.items():
            if (y, kpi) in sums.index and sums.loc[(y, kpi), "events"] > 0:
                row[metric] = float(sums.loc[(y, kpi), "met"] / sums.loc[(y, kpi), "events"])
            else:
                row[metric] = float("nan")
        result[y] = row
    if out.has("depot_timeseries"):
        ts = _rows(out, "timeseries", ["date", "metric", "value"], lambda p: p["metric"] == "on_rent_tracked")
        on = ts.groupby("date")["value"].sum()
        dts = _rows(
            out, "depot_timeseries", ["date", "metric", "value"], lambda p: p["metric"] == "fleet_tracked"
        )
        fleet = dts.groupby("date")["value"].sum()
        ratio = (on / fleet.reindex(on.index)).dropna()
        day = _day_of(pd.Series(ratio.index), first)
        ratio = ratio[day >= warmup]
        by_year = ratio.groupby(pd.to_datetime(ratio.index).year).mean()
        for y in result:
            result[y]["kpi_rental_rate_devices_at_customer"] = float(by_year.get(y, float("nan")))
    return result


def target_notes(meta: dict[str, Any]) -> list[str]:
    """One sentence per KPI whose target lies above what unlimited capacity could reach in the model."""
    targets: dict[str, float] = meta.get("kpi_targets", {})
    limits: dict[str, float] = meta.get("kpi_limits", {})
    notes = []
    for kpi, target in targets.items():
        limit = limits.get(kpi)
        if limit is not None and target > limit:
            notes.append(
                f"{kpi}: the target {target:.2f} is out of reach at any capacity: even with unlimited "
                f"{CAPACITY_OF[kpi]} the model reaches at most {limit:.3f}, limited by {LIMIT_REASONS[kpi]}."
            )
    return notes
