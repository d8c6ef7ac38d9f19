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


def _segment_metrics(out: RunOutput, d0: int, d1: int, muni: str | None) -> dict[str, float]:
    """Metrics over ``[d0, d1)`` for one municipality's patients (or all when ``muni`` is None)."""
    first = out.start_date
    res: dict[str, float] = {}

    def pick(table: pd.DataFrame) -> pd.DataFrame:
        return table if muni is None else table[table["municipality"] == muni]

    ts = pick(out["timeseries"])
    day = _day_of(ts["date"], first)
    in_win = ts[(day >= d0) & (day < d1)]
    sums = in_win.groupby("metric", observed=True)["value"].sum()
    for metric in VOLUME_METRICS:
        res[metric] = float(sums.get(metric, 0))
    if muni is None and out.has("depot_timeseries"):
        dts = out["depot_timeseries"]
        dday = _day_of(dts["date"], first)
        sel = (dts["metric"] == "purchases") & (dday >= d0) & (dday < d1)
        res["purchases"] = float(dts.loc[sel, "value"].sum())
    rentals = out["rentals"]
    t_end = float(d1)
    on_rent = rentals[(rentals["start_day"] < t_end) & (rentals["end_day"] > t_end) & rentals["tracked"]]
    if muni is None:
        res["rented_volume_individual"] = float(len(on_rent))
    else:
        res["rented_volume_individual"] = float((on_rent["payer"] == muni).sum())
    dl = pick(out["deliveries"])
    sel = (dl["delivered_day"] >= d0) & (dl["delivered_day"] < d1)
    res["kpi_delivery_on_planned_day"] = _share(dl.loc[sel, "on_planned_day"])
    jobs = pick(out["jobs"])
    tech = jobs[jobs["kind"].isin(TECHNICAL_KINDS) & (jobs["end_day"] >= d0) & (jobs["end_day"] < d1)]
    res["kpi_repair_done_within_5_workdays"] = _share(tech["workdays_to_end"] <= 5)
    fit = jobs[(jobs["kind"] == "fitting") & (jobs["start_day"] >= d0) & (jobs["start_day"] < d1)]
    res["kpi_fitting_offered_within_15_workdays"] = _share(fit["workdays_to_start"] <= 15)
    if muni is None and out.has("depot_timeseries"):
        levels = ts[(ts["metric"] == "on_rent_tracked")]
        lday = _day_of(levels["date"], first)
        on = levels[(lday >= d0) & (lday < d1)].groupby("date")["value"].sum()
        dts = out["depot_timeseries"]
        fl = dts[dts["metric"] == "fleet_tracked"]
        fday = _day_of(fl["date"], first)
        fleet = fl[(fday >= d0) & (fday < d1)].groupby("date")["value"].sum()
        ratio = (on / fleet.reindex(on.index)).dropna()
        res["kpi_rental_rate_devices_at_customer"] = float(ratio.mean()) if len(ratio) else float("nan")
    stops = pick(out["route_stops"])
    sday = _day_of(stops["date"], first)
    km = float(stops.loc[(sday >= d0) & (sday < d1), "km"].sum())
    # the km reach the municipality's patients, so the devices are those on rent at its patients (whoever
    # pays); the county's figure is the same ratio over all patients
    volume = float(len(pick(on_rent)))
    res["kpi_mil_driven_per_rented_individual_volume"] = (
        km / 10.0 / volume * 365.25 / (d1 - d0) if volume > 0 else float("nan")
    )
    if muni is None:
        staff = out["staff"]
        stday = _day_of(staff["date"], first)
        tech_staff = staff[
            (stday >= d0)
            & (stday < d1)
            & staff["pool"].isin(["reconditioning_technicians", "service_technicians"])
        ]
        avail = float(tech_staff["available_hours"].sum())
        res["technician_utilisation"] = (
            float(tech_staff["busy_hours"].sum()) / avail if avail else float("nan")
        )
    return res


def summarise(
    out: RunOutput, start: date | None = None, end: date | None = None, by: str | None = None
) -> dict[str, Any]:
    """``{metric: value}``, or with ``by="municipality"`` ``{segment: {metric: value}}``."""
    d0, d1 = window(out, start, end)
    total = _segment_metrics(out, d0, d1, None)
    if by is None:
        return total
    if by != "municipality":
        raise HmsimError(f"--by {by!r}: must be 'municipality'")
    result: dict[str, Any] = {"all": total}
    rentals = out["rentals"]
    t_end = float(d1)
    on_rent = rentals[(rentals["start_day"] < t_end) & (rentals["end_day"] > t_end) & rentals["tracked"]]
    region = float((on_rent["payer"] == REGION).sum())
    result["region_total"] = {"rented_volume_individual": region}
    result["municipalities_total"] = {"rented_volume_individual": float(len(on_rent)) - region}
    for muni in out.meta["municipalities"]:
        result[muni] = _segment_metrics(out, d0, d1, muni)
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
        ts = out["timeseries"]
        on = ts[ts["metric"] == "on_rent_tracked"].groupby("date")["value"].sum()
        dts = out["depot_timeseries"]
        fleet = dts[dts["metric"] == "fleet_tracked"].groupby("date")["value"].sum()
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
