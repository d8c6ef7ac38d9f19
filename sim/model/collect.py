"""Build the RunOutput tables from a finished Simulation (pandas only here, at the edge)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.model.fleet import STATE_NAMES
from sim.model.limits import kpi_limits
from sim.model.records import DEPOT_COUNTS, DEPOT_LEVELS, MUNI_COUNTS, MUNI_LEVELS
from sim.model.workshop import JOB_KINDS, POOL_NAMES
from sim.output import RunOutput
from sim.responsibility import payer_column

if TYPE_CHECKING:
    from sim.model.engine import Simulation

FITTING_KIND = JOB_KINDS.index("fitting")


def _cat(codes: np.ndarray, names: list[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.astype(np.int64), categories=names)


def _tidy(
    stack: np.ndarray,
    metrics: tuple[str, ...],
    places: list[str],
    categories: list[str],
    dates: np.ndarray,
    place_col: str,
) -> pd.DataFrame:
    """Non-zero cells of ``stack[metric, day, place, category]`` as a tidy table."""
    mi, di, pi, ci = np.nonzero(stack)
    return pd.DataFrame(
        {
            "date": dates[di],
            place_col: _cat(pi, places),
            "category": _cat(ci, categories),
            "metric": _cat(mi, list(metrics)),
            "value": stack[mi, di, pi, ci].astype(np.int64),
        }
    )


def _busy_hours(w_start: np.ndarray, w_end: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Server-hours busy between consecutive working-clock ``bounds`` (one value per interval)."""
    ws, we = np.sort(w_start), np.sort(w_end)
    cs = np.concatenate([[0.0], np.cumsum(ws)])
    ce = np.concatenate([[0.0], np.cumsum(we)])
    i = np.searchsorted(ws, bounds, side="left")
    j = np.searchsorted(we, bounds, side="left")
    area = (i * bounds - cs[i]) - (j * bounds - ce[j])
    return np.diff(area)


def _patients(sim: Simulation, source: np.ndarray) -> dict[str, np.ndarray]:
    """Patient attributes for rows whose source is an order id (>= 0) or an initial index (< 0)."""
    p = sim.orders.patients
    parts = sim.initial_patients
    fields = ("band", "child", "special_housing", "home_care", "unit_device", "unit_municipal")
    out: dict[str, np.ndarray] = {}
    from_order = source >= 0
    init_idx = -source[~from_order] - 1
    for name in fields:
        col = np.zeros(source.size, dtype=getattr(p, name).dtype)
        col[from_order] = getattr(p, name)[source[from_order]]
        if init_idx.size:
            initial = np.concatenate([getattr(x, name) for x in parts])
            col[~from_order] = initial[init_idx]
        out[name] = col
    return out


def kpi_table(deliveries: pd.DataFrame, jobs: pd.DataFrame, start: date, munis: list[str]) -> pd.DataFrame:
    """Monthly service KPIs per municipality: events, events meeting the target, share."""
    first = pd.Timestamp(start)
    parts = []
    # only the columns used (a copy of whole rows of the jobs table would double its memory for a moment)
    tech = jobs.loc[
        jobs["kind"].isin(["corrective", "preventive"]), ["municipality", "end_day", "workdays_to_end"]
    ].dropna(subset=["end_day"])
    fit = jobs.loc[jobs["kind"] == "fitting", ["municipality", "start_day", "workdays_to_start"]].dropna(
        subset=["start_day"]
    )
    for kpi, frame, day, met in (
        ("delivery_on_planned_day", deliveries, deliveries["delivered_day"], deliveries["on_planned_day"]),
        ("repair_done_within_5_workdays", tech, tech["end_day"], tech["workdays_to_end"] <= 5),
        ("fitting_offered_within_15_workdays", fit, fit["start_day"], fit["workdays_to_start"] <= 15),
    ):
        month = (first + pd.to_timedelta(np.floor(day.to_numpy()), unit="D")).to_period("M").to_timestamp()
        grouped = pd.DataFrame(
            {
                "month": month,
                "municipality": frame["municipality"].to_numpy(),
                "met": met.to_numpy(dtype=bool),
            }
        ).groupby(["month", "municipality"], observed=True)
        agg = grouped["met"].agg(["size", "sum"]).reset_index()
        agg["kpi"] = kpi
        parts.append(agg)
    out = pd.concat(parts, ignore_index=True).rename(columns={"size": "events", "sum": "met"})
    out["share"] = out["met"] / out["events"]
    out["municipality"] = pd.Categorical(out["municipality"], categories=munis)
    out["kpi"] = out["kpi"].astype("category")
    return out[["month", "municipality", "kpi", "events", "met", "share"]]


def collect(sim: Simulation) -> RunOutput:
    """All output tables of ``sim`` (after :meth:`Simulation.run`)."""
    s = sim.scenario
    cal = sim.calendar
    rec = sim.recorder
    munis, cats, depots = sim.municipality_names, sim.category_names, sim.depot_names
    bands = list(s.demand.age_bands)
    days = sim.days
    dates = (np.datetime64(cal.start, "D") + np.arange(days)).astype("datetime64[s]")
    resp_class = np.array([c.responsibility_class for c in s.categories.values()])
    tables: dict[str, pd.DataFrame] = {}

    counts = np.stack([rec.tally(rec.muni_counts[m], sim.M).astype(np.int32) for m in MUNI_COUNTS])
    tables["timeseries"] = pd.concat(
        [
            _tidy(counts, MUNI_COUNTS, munis, cats, dates, "municipality"),
            _tidy(rec.muni_levels, MUNI_LEVELS, munis, cats, dates, "municipality"),
        ],
        ignore_index=True,
    )
    tables["timeseries"]["metric"] = tables["timeseries"]["metric"].astype("category")
    dcounts = np.stack([rec.tally(rec.depot_counts[m], sim.K) for m in DEPOT_COUNTS])
    tables["depot_timeseries"] = pd.concat(
        [
            _tidy(dcounts, DEPOT_COUNTS, depots, cats, dates, "depot"),
            _tidy(rec.depot_levels, DEPOT_LEVELS, depots, cats, dates, "depot"),
        ],
        ignore_index=True,
    )
    tables["depot_timeseries"]["metric"] = tables["depot_timeseries"]["metric"].astype("category")

    fleet = sim.fleet
    r_dev = np.frombuffer(fleet.r_device, dtype=np.int64)
    r_src = np.frombuffer(fleet.r_source, dtype=np.int64)
    r_cat = np.frombuffer(fleet.r_cat, dtype=np.int16)
    r_muni = np.frombuffer(fleet.r_muni, dtype=np.int16)
    r_end = np.frombuffer(fleet.r_end, dtype=np.float64)
    r_ret = np.frombuffer(fleet.r_returned, dtype=np.int8)
    tracked = np.asarray(fleet.tracked, dtype=bool)
    pat = _patients(sim, r_src)
    rentals = pd.DataFrame(
        {
            "rental": np.arange(r_dev.size),
            "device": r_dev,
            "category": _cat(r_cat, cats),
            "municipality": _cat(r_muni, munis),
            "depot": _cat(np.frombuffer(fleet.r_depot, dtype=np.int16), depots),
            "start_day": np.frombuffer(fleet.r_start, dtype=np.float64),
            "end_day": r_end,
            "ended": r_end <= days,
            "returned": pd.array(np.where(r_ret < 0, pd.NA, r_ret == 1), dtype="boolean"),
            "initial": r_src < 0,
            "order": np.where(r_src >= 0, r_src, -1),
            "tracked": tracked[r_dev] if r_dev.size else np.zeros(0, dtype=bool),
            "responsibility_class": resp_class[r_cat] if r_cat.size else np.zeros(0, dtype=str),
            "band": _cat(pat["band"], bands),
            **{k: v for k, v in pat.items() if k != "band"},
        }
    )
    rentals["payer"] = payer_column(s.responsibility, rentals).astype("category")
    tables["rentals"] = rentals

    state = np.asarray(fleet.state, dtype=np.int64)
    tables["devices"] = pd.DataFrame(
        {
            "device": np.arange(state.size),
            "category": _cat(np.asarray(fleet.cat), cats),
            "depot": _cat(np.asarray(fleet.depot), depots),
            "tracked": tracked,
            "purchase_price": np.asarray(fleet.price, dtype=float),
            "purchased_day": np.asarray(fleet.purchased, dtype=float),
            "initial": np.asarray(fleet.initial, dtype=bool),
            "cycles": np.asarray(fleet.cycles, dtype=np.int64),
            "state": _cat(state, list(STATE_NAMES)),
            "end_day": np.asarray(fleet.end, dtype=float),
        }
    )

    order = np.frombuffer(rec.del_order, dtype=np.int64)
    o = sim.orders.stream()
    d_cat = o.category[order]
    pat = _patients(sim, order)
    delivered = np.frombuffer(rec.del_time, dtype=np.float64)
    planned = np.frombuffer(rec.del_planned, dtype=np.int64)
    deliveries = pd.DataFrame(
        {
            "order": order,
            "device": np.frombuffer(rec.del_device, dtype=np.int64),
            "category": _cat(d_cat, cats),
            "municipality": _cat(o.municipality[order], munis),
            "kind": np.where(np.asarray(sim.rented)[d_cat] if d_cat.size else [], "rent", "sale"),
            "order_day": o.time[order],
            "planned_day": planned,
            "delivered_day": delivered,
            "on_planned_day": delivered.astype(np.int64) == planned,
            "attempts": np.frombuffer(rec.del_attempts, dtype=np.int8).astype(np.int64),
            "backordered": np.frombuffer(bytes(sim.order_backordered), dtype=np.uint8)[order].astype(bool),
            "fitting": o.fitting[order],
            "responsibility_class": resp_class[d_cat] if d_cat.size else np.zeros(0, dtype=str),
            "band": _cat(pat["band"], bands),
            **{k: v for k, v in pat.items() if k != "band"},
        }
    )
    deliveries["payer"] = payer_column(s.responsibility, deliveries).astype("category")
    tables["deliveries"] = deliveries

    j = sim.jobs
    created = np.frombuffer(j.created, dtype=np.float64)
    start = np.frombuffer(j.start, dtype=np.float64)
    end = np.frombuffer(j.end, dtype=np.float64)
    wnum = cal.workday_number

    def workdays(t: np.ndarray) -> np.ndarray:
        ok = np.isfinite(t) & (t < cal.n_days)
        out = np.full(t.size, np.nan)
        out[ok] = wnum[t[ok].astype(np.int64)] - wnum[np.maximum(created[ok], 0).astype(np.int64)]
        return out

    ref = np.frombuffer(j.ref, dtype=np.int64)
    job_kind = np.frombuffer(j.kind, dtype=np.int8)
    tables["jobs"] = pd.DataFrame(
        {
            "job": np.arange(len(j)),
            "pool": _cat(np.frombuffer(j.pool, dtype=np.int8), list(POOL_NAMES)),
            "kind": _cat(np.frombuffer(j.kind, dtype=np.int8), list(JOB_KINDS)),
            "depot": _cat(np.frombuffer(j.depot, dtype=np.int16), depots),
            # municipality -1 (initial workshop backlog) becomes missing
            "municipality": _cat(np.frombuffer(j.municipality, dtype=np.int16), munis),
            "category": _cat(np.frombuffer(j.category, dtype=np.int16), cats),
            "device": np.frombuffer(j.device, dtype=np.int64),
            "order": np.where(job_kind == FITTING_KIND, ref, -1),
            "rental": np.where(job_kind == FITTING_KIND, -1, ref),
            "created_day": created,
            "start_day": np.where(start <= days, start, np.nan),
            "end_day": np.where(end <= days, end, np.nan),
            "work_hours": np.frombuffer(j.hours, dtype=np.float64),
            "workdays_to_start": workdays(np.where(start <= days, start, np.nan)),
            "workdays_to_end": workdays(np.where(end <= days, end, np.nan)),
        }
    )

    tables["route_stops"] = pd.DataFrame(
        {
            "date": dates[np.frombuffer(rec.stop_day, dtype=np.int64)],
            "route": _cat(np.frombuffer(rec.stop_route, dtype=np.int16), sim.routes.names),
            "municipality": _cat(np.frombuffer(rec.stop_muni, dtype=np.int16), munis),
            "deliveries": np.frombuffer(rec.stop_deliveries, dtype=np.int64),
            "pickup_orders": np.frombuffer(rec.stop_pickup_orders, dtype=np.int64),
            "pickup_devices": np.frombuffer(rec.stop_pickup_devices, dtype=np.int64),
            "km": np.frombuffer(rec.stop_km, dtype=np.float64),
        }
    )

    bounds = cal.cum_hours[: days + 1]
    pools = np.frombuffer(j.pool, dtype=np.int8)
    jdepot = np.frombuffer(j.depot, dtype=np.int16)
    ws = np.frombuffer(j.w_start, dtype=np.float64)
    we = np.frombuffer(j.w_end, dtype=np.float64)
    rows = []
    for k, depot in enumerate(s.depots.values()):
        staff = (depot.reconditioning_technicians, depot.service_technicians, depot.consultants)
        for p, pool_name in enumerate(POOL_NAMES):
            pool = sim.pools[k][p]
            present = np.asarray(pool.servers[:days], dtype=float)
            avail = present * np.where(cal.is_workday[:days], cal.hours_per_workday, 0.0)
            sel = (pools == p) & (jdepot == k) & np.isfinite(ws)
            busy = (
                _busy_hours(ws[sel], np.minimum(we[sel], bounds[-1]), bounds) if sel.any() else np.zeros(days)
            )
            rows.append(
                pd.DataFrame(
                    {
                        "date": dates,
                        "depot": depots[k],
                        "pool": pool_name,
                        "staff_present": present,
                        "staff_count": staff[p].count,
                        "available_hours": avail,
                        "busy_hours": busy,
                    }
                )
            )
    staff_table = pd.concat(rows, ignore_index=True)
    staff_table["depot"] = pd.Categorical(staff_table["depot"], categories=depots)
    staff_table["pool"] = pd.Categorical(staff_table["pool"], categories=list(POOL_NAMES))
    tables["staff"] = staff_table

    tables["kpis"] = kpi_table(tables["deliveries"], tables["jobs"], cal.start, munis)

    meta = {
        "scenario": s.name,
        "seed": sim.seed,
        "start_date": cal.start.isoformat(),
        "end_date": cal.date_of(days).isoformat(),
        "days": days,
        "warmup_days": s.horizon.warmup_days,
        "municipalities": munis,
        "categories": cats,
        "depots": depots,
        "routes": sim.routes.names,
        "wall_seconds": round(sim.wall_seconds, 3),
        "simpy_events": sim.events_processed,
        "kpi_targets": dict(s.kpi_targets),
        "kpi_limits": kpi_limits(
            s, dict(zip(cats, sim.demand.annual_rate(cal.start.year).sum(axis=0).tolist(), strict=True))
        ),
    }
    return RunOutput(meta=meta, tables=tables)
