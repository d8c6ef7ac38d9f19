"""Build the RunOutput tables from a finished run's records (pandas only here, at the edge).

:func:`collect` reads what :meth:`sim.model.engine.Simulation.records` hands over (:class:`RunRecords`: the
scenario, calendar, recorder, fleet, job log, order book, staff per day, ...), never the Simulation itself.
Rentals, jobs, deliveries and route stops closed before the last year start are on disk
(:mod:`sim.model.window`); each chunk of rows is read back from disk and memory together.

A table of more than ``chunk_rows`` rows (rentals, devices, deliveries, jobs, the timeseries of a long or
large run) is built a chunk of rows at a time and each chunk is spilled to disk as soon as it is made
(:meth:`sim.output.Tables.spill`), so the whole table never sits in memory beside the run's records; the
timeseries is chunked by metric (its rows are metric-major). Every column is computed row by row, so the
concatenated chunks are the table built at once; what depends on all rows (a categorical's categories of
the values present: ``payer``, the timeseries' ``metric``) is applied when the table is read back, and the
KPI table is built from the few columns it needs, kept per chunk. A table of at most ``chunk_rows`` rows is
built at once and kept in memory, as before.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from sim.config.schema import Responsibility, Scenario
from sim.model.calendar import Calendar
from sim.model.demand import DemandModel, Patients
from sim.model.fleet import STATE_NAMES, Fleet
from sim.model.limits import kpi_limits
from sim.model.orders import OrderBook
from sim.model.records import DEPOT_COUNTS, DEPOT_LEVELS, MUNI_COUNTS, MUNI_LEVELS, Recorder
from sim.model.workshop import JOB_KINDS, POOL_NAMES, JobLog
from sim.output import RunOutput, Tables
from sim.responsibility import REGION, municipality_pays

FITTING_KIND = JOB_KINDS.index("fitting")
# rows per chunk of a spilled table: about 8 MB of pandas columns for the widest tables, 25 MB while made
CHUNK_ROWS = 100_000


@dataclass(frozen=True)
class RunRecords:
    """What the tables are built from: a finished run's records and the components that hold them
    (:meth:`sim.model.engine.Simulation.records`)."""

    scenario: Scenario
    seed: int
    calendar: Calendar
    days: int
    demand: DemandModel
    recorder: Recorder  # counts, levels, deliveries, route stops
    fleet: Fleet  # devices and rentals
    jobs: JobLog
    orders: OrderBook
    initial_patients: list[Patients]  # the warm start's patients (rental sources < 0)
    servers: list[list[list[int]]]  # staff present per day, [depot][pool][day]
    route_names: list[str]
    wall_seconds: float
    events_processed: int


def _cat(codes: np.ndarray, names: list[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.astype(np.int64), categories=names)


def _strings(names: list[str], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``names[codes]`` as the string column pandas makes of a numpy string array (dtype ``str``), taken from
    the few names instead of converted from a Python object per row."""
    return pd.array(names, dtype="str").take(codes.astype(np.intp))


def _payer(
    rules: Responsibility, classes: np.ndarray, pat: dict[str, np.ndarray], muni: np.ndarray, munis: list[str]
) -> pd.api.extensions.ExtensionArray:
    """The payer of each row (``classes``: responsibility class, ``muni``: municipality code), as
    :func:`sim.responsibility.payer_column` gives it for the table's columns, built from codes: the
    municipality's name or ``region``."""
    pays = municipality_pays(
        rules, classes, pat["child"], pat["special_housing"], pat["home_care"], pat["unit_device"],
        pat["unit_municipal"],
    )  # fmt: skip
    if not len(classes):  # as payer_column gives it: an empty object array (categories stay ``object``)
        return pd.array(np.empty(0, dtype=object))
    return _strings([*munis, REGION], np.where(pays, muni, len(munis)))


def _tidy(
    stack: np.ndarray,
    metrics: tuple[str, ...],
    places: list[str],
    categories: list[str],
    dates: np.ndarray,
    place_col: str,
    first_metric: int = 0,
) -> pd.DataFrame:
    """Non-zero cells of ``stack[metric, day, place, category]`` as a tidy table (``stack`` may hold the
    metrics from ``first_metric`` on)."""
    mi, di, pi, ci = np.nonzero(stack)
    return pd.DataFrame(
        {
            "date": dates[di],
            place_col: _cat(pi, places),
            "category": _cat(ci, categories),
            "metric": _cat(mi + first_metric, list(metrics)),
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


def _patients(run: RunRecords, source: np.ndarray) -> dict[str, np.ndarray]:
    """Patient attributes for rows whose source is an order id (>= 0) or an initial index (< 0)."""
    parts = run.initial_patients
    fields = ("band", "child", "special_housing", "home_care", "unit_device", "unit_municipal")
    out: dict[str, np.ndarray] = {}
    from_order = source >= 0
    p = run.orders.select(source[from_order]).patients
    init_idx = -source[~from_order] - 1
    for name in fields:
        col = np.zeros(source.size, dtype=getattr(p, name).dtype)
        col[from_order] = getattr(p, name)
        if init_idx.size:
            initial = np.concatenate([getattr(x, name) for x in parts])
            col[~from_order] = initial[init_idx]
        out[name] = col
    return out


KPI_NAMES = ("delivery_on_planned_day", "repair_done_within_5_workdays", "fitting_offered_within_15_workdays")


def kpi_counts(
    deliveries: pd.DataFrame | None, jobs: pd.DataFrame | None, start: date
) -> dict[str, pd.DataFrame]:
    """Events and events meeting the target per month and municipality, per service KPI, from the rows
    given (all of a run's, or a chunk of them: counts of chunks add up, see :func:`kpi_table`)."""
    first = pd.Timestamp(start)
    sources = []
    if deliveries is not None:
        sources.append((KPI_NAMES[0], deliveries, deliveries["delivered_day"], deliveries["on_planned_day"]))
    if jobs is not None:
        # only the columns used (a copy of whole rows of the jobs table would double its memory for a moment)
        tech = jobs.loc[
            jobs["kind"].isin(["corrective", "preventive"]), ["municipality", "end_day", "workdays_to_end"]
        ].dropna(subset=["end_day"])
        fit = jobs.loc[jobs["kind"] == "fitting", ["municipality", "start_day", "workdays_to_start"]].dropna(
            subset=["start_day"]
        )
        sources.append((KPI_NAMES[1], tech, tech["end_day"], tech["workdays_to_end"] <= 5))
        sources.append((KPI_NAMES[2], fit, fit["start_day"], fit["workdays_to_start"] <= 15))
    out = {}
    for kpi, frame, day, met in sources:
        month = (first + pd.to_timedelta(np.floor(day.to_numpy()), unit="D")).to_period("M").to_timestamp()
        grouped = pd.DataFrame(
            {
                "month": month,
                "municipality": frame["municipality"].to_numpy(),
                "met": met.to_numpy(dtype=bool),
            }
        ).groupby(["month", "municipality"], observed=True)
        out[kpi] = grouped["met"].agg(["size", "sum"]).reset_index()
    return out


def kpi_table(parts: list[dict[str, pd.DataFrame]], munis: list[str]) -> pd.DataFrame:
    """Monthly service KPIs per municipality: events, events meeting the target, share (``parts``: what
    :func:`kpi_counts` gave for each chunk of rows; the counts of the same month and municipality add)."""
    tables = []
    for kpi in KPI_NAMES:
        counted = [part[kpi] for part in parts if kpi in part]
        if len(counted) == 1:
            agg = counted[0]
        else:
            agg = (
                pd.concat(counted, ignore_index=True)
                .groupby(["month", "municipality"], observed=True)[["size", "sum"]]
                .sum()
                .reset_index()
            )
        agg["kpi"] = kpi
        tables.append(agg)
    out = pd.concat(tables, ignore_index=True).rename(columns={"size": "events", "sum": "met"})
    out["share"] = out["met"] / out["events"]
    out["municipality"] = pd.Categorical(out["municipality"], categories=munis)
    out["kpi"] = out["kpi"].astype("category")
    return out[["month", "municipality", "kpi", "events", "met", "share"]]


def _metric_category(table: pd.DataFrame) -> pd.DataFrame:
    if "metric" in table:  # (a reader may ask for other columns only: sim.output.Tables.columns)
        table["metric"] = table["metric"].astype("category")
    return table


def _payer_category(table: pd.DataFrame) -> pd.DataFrame:
    if "payer" in table:
        table["payer"] = table["payer"].astype("category")
    return table


def _emit(
    tables: Tables,
    name: str,
    rows: int,
    chunk_rows: int,
    build: Callable[[int, int], pd.DataFrame],
    finish: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> None:
    """Table ``name`` of ``rows`` rows, ``build(lo, hi)`` making rows ``lo:hi``: at once in memory if it
    fits one chunk, else a chunk at a time onto disk."""
    if rows <= chunk_rows:
        table = build(0, rows)
        tables[name] = finish(table) if finish is not None else table
        return
    parts = (build(lo, min(lo + chunk_rows, rows)) for lo in range(0, rows, chunk_rows))
    tables.spill(name, parts, finish)


def _tidy_counts(
    cells: np.ndarray,
    values: np.ndarray,
    metric: int,
    metrics: tuple[str, ...],
    places: list[str],
    categories: list[str],
    dates: np.ndarray,
    place_col: str,
) -> pd.DataFrame:
    """One count metric's cells with events (sorted ``(day, place, category)`` codes, see
    sim.model.records) as the rows :func:`_tidy` gives for it."""
    n_places, n_cats = len(places), len(categories)
    return pd.DataFrame(
        {
            "date": dates[cells // (n_places * n_cats)],
            place_col: _cat((cells // n_cats) % n_places, places),
            "category": _cat(cells % n_cats, categories),
            "metric": _cat(np.full(cells.size, metric), list(metrics)),
            "value": values,
        }
    )


def _timeseries(
    tables: Tables,
    name: str,
    rec: Recorder,
    counted: tuple[str, ...],
    levels: np.ndarray,
    level_names: tuple[str, ...],
    places: list[str],
    categories: list[str],
    dates: np.ndarray,
    place_col: str,
    chunk_rows: int,
) -> None:
    """The tidy counts (``counted``, tallied by ``rec``) and ``levels``, by metric when spilled.

    The metrics are tallied one at a time: while the rows so far fit one chunk their tallies are kept (the
    table may be built at once), after that each metric's tally is made, turned into rows and spilled
    before the next one is made."""
    level_rows = int(np.count_nonzero(levels))
    kept: list[tuple[np.ndarray, np.ndarray]] = []
    rows = level_rows
    for metric in counted:
        kept.append(rec.tallied(metric))
        rows += kept[-1][0].size
        if rows > chunk_rows:
            break

    def tidy(m: int, cells: np.ndarray, values: np.ndarray) -> pd.DataFrame:
        return _tidy_counts(cells, values, m, counted, places, categories, dates, place_col)

    if rows <= chunk_rows:
        parts = [tidy(m, cells, values) for m, (cells, values) in enumerate(kept) if cells.size]
        if not parts:  # no events at all: the empty table of the right dtypes
            parts = [tidy(0, *kept[0])]
        counted_rows = pd.concat(parts, ignore_index=True)
        level_table = _tidy(levels, level_names, places, categories, dates, place_col)
        table = pd.concat([counted_rows, level_table], ignore_index=True)
        tables[name] = _metric_category(table)
        return

    def by_metric() -> Iterator[pd.DataFrame]:
        for m in range(len(counted)):
            cells, values = kept[m] if m < len(kept) else rec.tallied(counted[m])
            if m < len(kept):
                kept[m] = (cells[:0], values[:0])  # dropped once its rows are made
            if cells.size:
                yield tidy(m, cells, values)
            del cells, values
        for m in range(len(level_names)):
            if levels[m].any():
                yield _tidy(levels[m : m + 1], level_names, places, categories, dates, place_col, m)

    tables.spill(name, by_metric(), _metric_category)


def collect(run: RunRecords, chunk_rows: int = CHUNK_ROWS) -> RunOutput:
    """All output tables of a finished run (``Simulation.run().records()``); tables of more than
    ``chunk_rows`` rows are built a chunk at a time and spilled to disk (see the module docstring)."""
    s = run.scenario
    cal = run.calendar
    rec = run.recorder
    munis, cats, depots = list(s.municipalities), list(s.categories), list(s.depots)
    bands = list(s.demand.age_bands)
    days = run.days
    dates = (np.datetime64(cal.start, "D") + np.arange(days)).astype("datetime64[s]")
    resp_class = np.array([c.responsibility_class for c in s.categories.values()])
    resp_names = resp_class.tolist()
    rented = np.array([c.rented for c in s.categories.values()], dtype=bool)
    tables = Tables()

    _timeseries(
        tables, "timeseries", rec, MUNI_COUNTS, rec.muni_levels, MUNI_LEVELS, munis, cats, dates,
        "municipality", chunk_rows,
    )  # fmt: skip
    _timeseries(
        tables, "depot_timeseries", rec, DEPOT_COUNTS, rec.depot_levels, DEPOT_LEVELS, depots, cats, dates,
        "depot", chunk_rows,
    )  # fmt: skip

    fleet = run.fleet
    tracked = np.asarray(fleet.tracked, dtype=bool)

    def rentals(lo: int, hi: int) -> pd.DataFrame:
        r = fleet.rentals.between(lo, hi)  # from disk (closed rentals) and memory
        r_dev, r_src, r_cat, r_end, r_ret = r["device"], r["source"], r["category"], r["end"], r["returned"]
        r_muni = r["municipality"]
        pat = _patients(run, r_src)
        table = pd.DataFrame(
            {
                "rental": np.arange(lo, hi),
                "device": r_dev,
                "category": _cat(r_cat, cats),
                "municipality": _cat(r_muni, munis),
                "depot": _cat(r["depot"], depots),
                "start_day": r["start"],
                "end_day": r_end,
                "ended": r_end <= days,
                "returned": pd.array(np.where(r_ret < 0, pd.NA, r_ret == 1), dtype="boolean"),
                "initial": r_src < 0,
                "order": np.where(r_src >= 0, r_src, -1),
                "tracked": tracked[r_dev] if r_dev.size else np.zeros(0, dtype=bool),
                "responsibility_class": _strings(resp_names, r_cat),
                "band": _cat(pat["band"], bands),
                **{k: v for k, v in pat.items() if k != "band"},
                "payer": _payer(s.responsibility, resp_class[r_cat], pat, r_muni, munis),
            }
        )
        return table

    _emit(tables, "rentals", len(fleet.rentals), chunk_rows, rentals, _payer_category)

    def column(values: array, dtype: type | str) -> Callable[[int, int], np.ndarray]:
        """Rows ``lo:hi`` of a register column as ``dtype``: a view of the typed array, only the chunk copied
        (not the whole register)."""
        view = np.frombuffer(values, dtype=values.typecode)
        return lambda lo, hi: view[lo:hi].astype(dtype)

    cat_of, depot_of = column(fleet.cat, np.int64), column(fleet.depot, np.int64)
    tracked_of, price_of = column(fleet.tracked, bool), column(fleet.price, float)
    purchased_of, initial_of = column(fleet.purchased, float), column(fleet.initial, bool)
    cycles_of, state_of = column(fleet.cycles, np.int64), column(fleet.state, np.int64)
    end_of = column(fleet.end, float)

    def devices(lo: int, hi: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "device": np.arange(lo, hi),
                "category": _cat(cat_of(lo, hi), cats),
                "depot": _cat(depot_of(lo, hi), depots),
                "tracked": tracked_of(lo, hi),
                "purchase_price": price_of(lo, hi),
                "purchased_day": purchased_of(lo, hi),
                "initial": initial_of(lo, hi),
                "cycles": cycles_of(lo, hi),
                "state": _cat(state_of(lo, hi), list(STATE_NAMES)),
                "end_day": end_of(lo, hi),
            }
        )

    _emit(tables, "devices", len(fleet.state), chunk_rows, devices)

    backordered = np.frombuffer(bytes(run.orders.backordered), dtype=np.uint8)
    kpi_parts: list[dict[str, pd.DataFrame]] = []  # per chunk of deliveries and of jobs

    def deliveries(lo: int, hi: int) -> pd.DataFrame:
        r = rec.rows(rec.deliveries, lo, hi)
        order = r["order"]
        o = run.orders.select(order)
        d_cat = o.category
        pat = _patients(run, order)
        delivered = r["time"]
        planned = r["planned"]
        table = pd.DataFrame(
            {
                "order": order,
                "device": r["device"],
                "category": _cat(d_cat, cats),
                "municipality": _cat(o.municipality, munis),
                "kind": _strings(["sale", "rent"], rented[d_cat]),
                "order_day": o.time,
                "planned_day": planned,
                "delivered_day": delivered,
                "on_planned_day": delivered.astype(np.int64) == planned,
                "attempts": r["attempts"].astype(np.int64),
                "backordered": backordered[order].astype(bool),
                "fitting": o.fitting,
                "responsibility_class": _strings(resp_names, d_cat),
                "band": _cat(pat["band"], bands),
                **{k: v for k, v in pat.items() if k != "band"},
                "payer": _payer(s.responsibility, resp_class[d_cat], pat, o.municipality, munis),
            }
        )
        kpi_parts.append(kpi_counts(table, None, cal.start))
        return table

    rec.deliveries.appended()
    _emit(tables, "deliveries", len(rec.deliveries), chunk_rows, deliveries, _payer_category)

    j = run.jobs
    wnum = cal.workday_number
    # working-clock spans of the started jobs per depot x pool, for the busy hours (staff table below)
    spans: dict[tuple[int, int], list[tuple[np.ndarray, np.ndarray]]] = {}

    def jobs(lo: int, hi: int) -> pd.DataFrame:
        r = j.window.between(lo, hi)  # from disk (jobs done) and memory
        created, start, end = r["created"], r["start"], r["end"]

        def workdays(t: np.ndarray) -> np.ndarray:
            ok = np.isfinite(t) & (t < cal.n_days)
            out = np.full(t.size, np.nan)
            out[ok] = wnum[t[ok].astype(np.int64)] - wnum[np.maximum(created[ok], 0).astype(np.int64)]
            return out

        ref = r["ref"]
        job_kind = r["kind"]
        pool, depot, ws = r["pool"], r["depot"], r["w_start"]
        started = np.isfinite(ws)
        for key in set(zip(pool[started].tolist(), depot[started].tolist(), strict=True)):
            sel = started & (pool == key[0]) & (depot == key[1])
            spans.setdefault((key[1], key[0]), []).append((ws[sel], r["w_end"][sel]))
        table = pd.DataFrame(
            {
                "job": np.arange(lo, hi),
                "pool": _cat(pool, list(POOL_NAMES)),
                "kind": _cat(job_kind, list(JOB_KINDS)),
                "depot": _cat(depot, depots),
                # municipality -1 (initial workshop backlog) becomes missing
                "municipality": _cat(r["municipality"], munis),
                "category": _cat(r["category"], cats),
                "device": r["device"],
                "order": np.where(job_kind == FITTING_KIND, ref, -1),
                "rental": np.where(job_kind == FITTING_KIND, -1, ref),
                "created_day": created,
                "start_day": np.where(start <= days, start, np.nan),
                "end_day": np.where(end <= days, end, np.nan),
                "work_hours": r["hours"],
                "workdays_to_start": workdays(np.where(start <= days, start, np.nan)),
                "workdays_to_end": workdays(np.where(end <= days, end, np.nan)),
            }
        )
        kpi_parts.append(kpi_counts(None, table, cal.start))
        return table

    _emit(tables, "jobs", len(j), chunk_rows, jobs)

    stops = rec.rows(rec.stops)
    tables["route_stops"] = pd.DataFrame(
        {
            "date": dates[stops["day"]],
            "route": _cat(stops["route"], run.route_names),
            "municipality": _cat(stops["municipality"], munis),
            "deliveries": stops["deliveries"],
            "pickup_orders": stops["pickup_orders"],
            "pickup_devices": stops["pickup_devices"],
            "km": stops["km"],
        }
    )
    del stops

    bounds = cal.cum_hours[: days + 1]
    rows = []
    for k, depot in enumerate(s.depots.values()):
        staff = (depot.reconditioning_technicians, depot.service_technicians, depot.consultants)
        for p, pool_name in enumerate(POOL_NAMES):
            present = np.asarray(run.servers[k][p][:days], dtype=float)
            avail = present * np.where(cal.is_workday[:days], cal.hours_per_workday, 0.0)
            parts = spans.pop((k, p), [])
            if parts:
                ws = np.concatenate([w for w, _ in parts])
                we = np.concatenate([w for _, w in parts])
                del parts
                busy = _busy_hours(ws, np.minimum(we, bounds[-1]), bounds)
                del ws, we
            else:
                busy = np.zeros(days)
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

    tables["kpis"] = kpi_table(kpi_parts, munis)

    meta = {
        "scenario": s.name,
        "seed": run.seed,
        "start_date": cal.start.isoformat(),
        "end_date": cal.date_of(days).isoformat(),
        "days": days,
        "warmup_days": s.horizon.warmup_days,
        "municipalities": munis,
        "categories": cats,
        "depots": depots,
        "routes": run.route_names,
        "wall_seconds": round(run.wall_seconds, 3),
        "simpy_events": run.events_processed,
        "kpi_targets": dict(s.kpi_targets),
        "kpi_limits": kpi_limits(
            s, dict(zip(cats, run.demand.annual_rate(cal.start.year).sum(axis=0).tolist(), strict=True))
        ),
    }
    return RunOutput(meta=meta, tables=tables)
