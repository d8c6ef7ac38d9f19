"""The report's tables: a registry of builders, each declaring the run tables (and columns) it needs.

A builder turns one run (its stored tables and resolved config) into a small tidy table: key columns
(``year``, ``month``, ``municipality``, ...) and value columns with a unit each. The report builds every
table whose needs the stored runs meet; a table whose data is absent is skipped with the reason. For a
batch the same builder runs on every replication and the report shows the mean with a 95 % Student-t band
(``<column>__low``, ``<column>__high``) per scenario (see ``aggregate``).

Money is in kSEK (like the documents' income statements); shares are fractions; levels are daily means.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.output import RunOutput

Builder = Callable[[RunOutput, dict[str, Any]], pd.DataFrame]
TECHNICAL = ("corrective", "preventive")
REGION = "region"
CENTRE = "centre"


@dataclass(frozen=True)
class TableSpec:
    name: str  # also the workbook sheet (at most 31 characters)
    title: tuple[str, str]  # English, Swedish
    needs: tuple[str, ...]  # "table" or "table.column" of the run folders; "config.population"
    keys: tuple[str, ...]
    units: dict[str, str]  # value column -> unit
    build: Builder


TABLES: dict[str, TableSpec] = {}


def table(
    name: str, title: tuple[str, str], needs: tuple[str, ...], keys: tuple[str, ...], units: dict[str, str]
) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        if name in TABLES:
            raise ValueError(f"table {name!r} registered twice")
        TABLES[name] = TableSpec(name, title, needs, keys, units, fn)
        return fn

    return register


# ---------------------------------------------------------------- helpers


def _year(dates: pd.Series) -> pd.Series:
    return pd.to_datetime(dates).dt.year


def _day_year(out: RunOutput, days: pd.Series) -> pd.Series:
    """Calendar year of ``*_day`` values (days since the start date)."""
    start = pd.Timestamp(out.start_date)
    return (start + pd.to_timedelta(np.floor(days.to_numpy(dtype=float)), unit="D")).year


def _horizon_dates(out: RunOutput) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(out.start_date), periods=out.days, freq="D")


def _full_years(out: RunOutput) -> list[int]:
    dates = _horizon_dates(out)
    return sorted({int(y) for y in dates.year})


def _year_ends(out: RunOutput) -> dict[int, float]:
    """Year -> day index of the year's last day in the run (end of that day)."""
    dates = _horizon_dates(out)
    frame = pd.DataFrame({"year": dates.year, "day": np.arange(len(dates))})
    return {int(y): float(d + 1) for y, d in frame.groupby("year")["day"].max().items()}


def _metric(ts: pd.DataFrame, name: str) -> pd.DataFrame:
    return ts[ts["metric"] == name]


def _population(config: dict[str, Any], years: list[int], start_year: int | None = None) -> pd.DataFrame:
    """Persons per year, municipality and band as the run saw them (``sim.demography``: table years,
    interpolation, projection and the config's ``population_scenario``)."""
    from pydantic import ValidationError

    from sim.config.schema import Demand
    from sim.demography import population_array

    try:
        demand = Demand.model_validate(config.get("demand", {}))
    except ValidationError:
        return pd.DataFrame(columns=["year", "municipality", "band", "persons"])
    munis = list(demand.population)
    if not munis or not years:
        return pd.DataFrame(columns=["year", "municipality", "band", "persons"])
    bands = list(next(iter(next(iter(demand.population.values())).values())))
    persons = population_array(demand, munis, bands, years, start_year)
    index = pd.MultiIndex.from_product([years, munis, bands], names=["year", "municipality", "band"])
    return pd.DataFrame({"persons": persons.reshape(-1)}, index=index).reset_index()


def _table_years(config: dict[str, Any], out: RunOutput) -> list[int]:
    """The run's years widened to the population table's years (history and projection)."""
    run = _full_years(out)
    table = [int(y) for m in (config.get("demand", {}).get("population") or {}).values() for y in m]
    return list(range(min([*run, *table]), max([*run, *table]) + 1))


def _old_bands(bands: list[str]) -> tuple[list[str], list[str]]:
    """Bands of 65+ and of 80+ by their names (``age_65_79``, ``age_80_plus``)."""
    import re

    def low(b: str) -> int | None:
        m = re.match(r"age_(\d+)", b)
        return int(m.group(1)) if m else None

    b65 = [b for b in bands if (low(b) or -1) >= 65]
    b80 = [b for b in bands if (low(b) or -1) >= 80]
    return b65, b80


# ---------------------------------------------------------------- volumes

VOLUMES = (
    "orders",
    "returns",
    "recondition_work_orders",
    "technical_work_orders",
    "pickup_orders",
    "deliveries",
)


@table(
    "volumes_yearly",
    ("Volumes per year", "Volymer per år"),
    ("timeseries",),
    ("year",),
    {m: "count" for m in VOLUMES},
)
def volumes_yearly(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    ts = out["timeseries"]
    ts = ts[ts["metric"].isin(VOLUMES)]
    wide = ts.groupby([_year(ts["date"]).rename("year"), ts["metric"].astype(str)])["value"].sum().unstack()
    wide = wide.reindex(index=_full_years(out), columns=list(VOLUMES)).fillna(0.0).astype(float)
    wide.index.name = "year"
    return wide.reset_index()


@table(
    "volumes_monthly",
    ("Orders and returns per month", "Beställningar och returer per månad"),
    ("timeseries",),
    ("month",),
    {"orders": "count", "returns": "count"},
)
def volumes_monthly(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    ts = out["timeseries"]
    ts = ts[ts["metric"].isin(["orders", "returns"])]
    month = pd.to_datetime(ts["date"]).dt.to_period("M").dt.to_timestamp().rename("month")
    wide = ts.groupby([month, ts["metric"].astype(str)])["value"].sum().unstack()
    months = pd.period_range(out.start_date, periods=out.days, freq="D").asfreq("M").unique().to_timestamp()
    wide = wide.reindex(index=months, columns=["orders", "returns"]).fillna(0.0).astype(float)
    wide.index.name = "month"
    return wide.reset_index()


@table(
    "on_rent_by_payer",
    (
        "Tracked devices on rent at year end, by payer",
        "Individmärkta hjälpmedel uthyrda vid årets slut, per betalare",
    ),
    ("rentals.payer",),
    ("year", "payer"),
    {"devices": "devices"},
)
def on_rent_by_payer(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    r = out["rentals"]
    r = r[r["tracked"]]
    rows = []
    payers = list(out.meta.get("municipalities", []))
    for year, t in _year_ends(out).items():
        on = r[(r["start_day"] < t) & (r["end_day"] > t)]
        counts = on["payer"].astype(str).value_counts()
        for payer in [REGION, *payers]:
            rows.append({"year": year, "payer": payer, "devices": float(counts.get(payer, 0))})
    return pd.DataFrame(rows)


@table(
    "orders_per_1000",
    ("Orders per 1 000 inhabitants 65+ and 80+", "Beställningar per 1 000 invånare 65+ och 80+"),
    ("deliveries.band", "config.population"),
    ("year",),
    {
        "delivered_share": "share",
        "orders_65_plus": "count",
        "orders_80_plus": "count",
        "population_65_plus": "persons",
        "population_80_plus": "persons",
        "per_1000_65_plus": "orders per 1 000 inhabitants",
        "per_1000_80_plus": "orders per 1 000 inhabitants",
    },
)
def orders_per_1000(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    years = _full_years(out)
    pop = _population(config, years, out.start_date.year)
    b65, b80 = _old_bands(sorted(pop["band"].unique()))
    dl = out["deliveries"]
    year = pd.Series(_day_year(out, dl["order_day"]), index=dl.index)
    band = dl["band"]
    placed = None
    if out.has("timeseries"):  # every order placed in the year, delivered or not by the run's end
        ts = out["timeseries"]
        ts = ts[ts["metric"] == "orders"]
        placed = ts.groupby(pd.to_datetime(ts["date"]).dt.year)["value"].sum()
    rows = []
    for y in years:
        in_year = (year == y).to_numpy()
        p65 = float(pop[(pop["year"] == y) & pop["band"].isin(b65)]["persons"].sum())
        p80 = float(pop[(pop["year"] == y) & pop["band"].isin(b80)]["persons"].sum())
        delivered = float(in_year.sum())
        # Orders of the last years still undelivered at the run's end carry no age band: the delivered
        # orders' band shares scale to all orders placed (the last of ten Västmanland years lost a quarter).
        share = delivered / float(placed.get(y, delivered)) if placed is not None and delivered else 1.0
        o65 = float((in_year & band.isin(b65)).sum()) / share
        o80 = float((in_year & band.isin(b80)).sum()) / share
        rows.append(
            {
                "year": y,
                "delivered_share": share,
                "orders_65_plus": o65,
                "orders_80_plus": o80,
                "population_65_plus": p65,
                "population_80_plus": p80,
                "per_1000_65_plus": 1000 * o65 / p65 if p65 else math.nan,
                "per_1000_80_plus": 1000 * o80 / p80 if p80 else math.nan,
            }
        )
    return pd.DataFrame(rows)


@table(
    "population",
    ("Population by age band: the table's history and projection", "Befolkning per åldersgrupp"),
    ("config.population",),
    ("year", "band"),
    {"persons": "persons"},
)
def population(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    pop = _population(config, _table_years(config, out), out.start_date.year)
    return pop.groupby(["year", "band"], as_index=False)["persons"].sum()


# ---------------------------------------------------------------- service

SERVICE_KPIS = (
    "delivery_on_planned_day",
    "repair_done_within_5_workdays",
    "fitting_offered_within_15_workdays",
)


@table(
    "kpis_yearly",
    ("Service KPIs per year", "Nyckeltal per år"),
    ("kpis",),
    ("year",),
    {
        **{k: "share" for k in SERVICE_KPIS},
        "rental_rate": "share",
        "mil_per_device": "mil per tracked device on rent",
    },
)
def kpis_yearly(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    k = out["kpis"]
    year = _year(k["month"]).rename("year")
    sums = k.groupby([year, k["kpi"].astype(str)])[["events", "met"]].sum()
    share = (sums["met"] / sums["events"].where(sums["events"] > 0)).unstack()
    years = _full_years(out)
    frame = share.reindex(index=years, columns=list(SERVICE_KPIS)).astype(float)
    frame.index.name = "year"
    frame["rental_rate"] = math.nan
    frame["mil_per_device"] = math.nan
    if out.has("timeseries") and out.has("depot_timeseries"):
        on = _metric(out["timeseries"], "on_rent_tracked").groupby("date")["value"].sum()
        fleet = _metric(out["depot_timeseries"], "fleet_tracked").groupby("date")["value"].sum()
        ratio = (on / fleet.reindex(on.index)).dropna()
        frame["rental_rate"] = ratio.groupby(_year(ratio.index.to_series())).mean().reindex(years)
    if out.has("route_stops") and out.has("timeseries"):
        stops = out["route_stops"]
        km = stops.groupby(_year(stops["date"]))["km"].sum().reindex(years).fillna(0.0)
        on = _metric(out["timeseries"], "on_rent_tracked").groupby("date")["value"].sum()
        last = on.groupby(_year(on.index.to_series())).last().reindex(years)
        days = pd.Series(_horizon_dates(out).year).value_counts().reindex(years)
        frame["mil_per_device"] = (km / 10 / last * 365.25 / days).to_numpy()
    return frame.reset_index()


@table(
    "kpis_municipality",
    ("Service KPIs per municipality", "Nyckeltal per kommun"),
    ("kpis",),
    ("municipality",),
    {k: "share" for k in SERVICE_KPIS},
)
def kpis_municipality(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    k = out["kpis"]
    sums = k.groupby([k["municipality"].astype(str), k["kpi"].astype(str)])[["events", "met"]].sum()
    share = (sums["met"] / sums["events"].where(sums["events"] > 0)).unstack()
    share = share.reindex(columns=list(SERVICE_KPIS)).astype(float)
    share.index.name = "municipality"
    return share.reset_index()


BINS: dict[str, np.ndarray] = {
    "delivery_lead_time_days": np.array([0, 1, 2, 3, 5, 7, 10, 14, 21, 30, 60, np.inf]),
    "repair_workdays": np.array([0, 1, 2, 3, 4, 5, 7, 10, 15, 20, 30, np.inf]),
    "fitting_wait_workdays": np.array([0, 5, 10, 15, 20, 30, 40, 60, 90, np.inf]),
}


@table(
    "service_times",
    ("Distributions of delivery lead time, repair time and fitting wait", "Fördelning av ledtider"),
    ("deliveries.delivered_day", "jobs.workdays_to_end"),
    ("measure", "bin_from", "bin_to"),
    {"events": "count", "share": "share"},
)
def service_times(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    dl = out["deliveries"]
    jobs = out["jobs"]
    values = {
        "delivery_lead_time_days": (dl["delivered_day"] - dl["order_day"]).to_numpy(dtype=float),
        "repair_workdays": jobs.loc[jobs["kind"].isin(TECHNICAL), "workdays_to_end"].to_numpy(dtype=float),
        "fitting_wait_workdays": jobs.loc[jobs["kind"] == "fitting", "workdays_to_start"].to_numpy(
            dtype=float
        ),
    }
    rows = []
    for measure, x in values.items():
        x = x[np.isfinite(x)]
        edges = BINS[measure]
        counts, _ = np.histogram(x, bins=edges)
        total = counts.sum()
        for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True):
            rows.append(
                {
                    "measure": measure,
                    "bin_from": float(lo),
                    "bin_to": float(hi) if np.isfinite(hi) else math.nan,
                    "events": float(c),
                    "share": float(c / total) if total else math.nan,
                }
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- fleet


@table(
    "zero_price",
    ("Devices rented at price 0", "Hjälpmedel uthyrda till pris 0"),
    ("products.zero_price_share",),
    ("year",),
    {"zero_price_share": "share", "zero_price_share_municipal": "share", "zero_price_devices": "devices"},
)
def zero_price(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    p = out["products"]
    days = pd.Series(_horizon_dates(out).year).value_counts()
    frame = pd.DataFrame({"year": p["year"].astype(int)})
    frame["zero_price_share"] = p["zero_price_share"].astype(float)
    frame["zero_price_share_municipal"] = p["zero_price_share_municipal"].astype(float)
    frame["zero_price_devices"] = (p["zero_price_days"] / frame["year"].map(days)).astype(float)
    return frame.reset_index(drop=True)


@table(
    "fleet_age",
    ("Mean age of the tracked fleet at year end, by category", "Medelålder per kategori vid årets slut"),
    ("devices.purchased_day",),
    ("year", "category"),
    {"mean_age_years": "years", "devices": "devices"},
)
def fleet_age(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    d = out["devices"]
    d = d[d["tracked"]]
    rows = []
    for year, t in _year_ends(out).items():
        alive = d[(d["purchased_day"] <= t) & ~(d["end_day"] <= t)]
        age = (t - alive["purchased_day"]) / 365.25
        for cat, a in age.groupby(alive["category"].astype(str)):
            rows.append(
                {"year": year, "category": cat, "mean_age_years": float(a.mean()), "devices": float(len(a))}
            )
    return pd.DataFrame(rows)


@table(
    "reuse",
    ("Reuse: rentals started with a device that was rented before", "Återanvändning"),
    ("rentals.device",),
    ("year",),
    {"rental_starts": "count", "reused": "count", "reuse_rate": "share"},
)
def reuse(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    r = out["rentals"][["device", "start_day", "initial"]].sort_values(["device", "start_day"], kind="stable")
    r = r.assign(reused=r["device"].duplicated())
    r = r[~r["initial"] & (r["start_day"] >= 0)]
    year = _day_year(out, r["start_day"])
    g = r.groupby(year)["reused"].agg(["size", "sum"]).reindex(_full_years(out)).fillna(0.0)
    frame = pd.DataFrame(
        {
            "year": g.index.astype(int),
            "rental_starts": g["size"].astype(float).to_numpy(),
            "reused": g["sum"].astype(float).to_numpy(),
        }
    )
    frame["reuse_rate"] = frame["reused"] / frame["rental_starts"].where(frame["rental_starts"] > 0)
    return frame


@table(
    "scrapped",
    ("Scrapped devices per year and category", "Utrangerade hjälpmedel per år och kategori"),
    ("timeseries",),
    ("year", "category"),
    {"scrapped": "devices"},
)
def scrapped(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    ts = _metric(out["timeseries"], "scrapped")
    g = ts.groupby([_year(ts["date"]).rename("year"), ts["category"].astype(str).rename("category")])[
        "value"
    ].sum()
    return g.astype(float).rename("scrapped").reset_index()


def _monthly_levels(out: RunOutput, metrics: list[str]) -> pd.DataFrame:
    """Daily mean per month of depot levels (rows are non-zero only; missing days count as 0)."""
    dts = out["depot_timeseries"]
    dts = dts[dts["metric"].isin(metrics)]
    month = pd.to_datetime(dts["date"]).dt.to_period("M").dt.to_timestamp().rename("month")
    sums = dts.groupby([month, dts["metric"].astype(str)])["value"].sum().unstack()
    dates = _horizon_dates(out)
    days = pd.Series(1, index=dates).groupby(dates.to_period("M").to_timestamp()).sum()
    sums = sums.reindex(index=days.index, columns=metrics).fillna(0.0)
    frame = sums.div(days, axis=0).astype(float)
    frame.index.name = "month"
    return frame.reset_index()


@table(
    "workshop",
    ("Workshop backlog and room use per month", "Verkstadskö och lokalutnyttjande per månad"),
    ("depot_timeseries",),
    ("month",),
    {"in_workshop": "devices (daily mean)", "room": "devices", "room_use": "share"},
)
def workshop(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    frame = _monthly_levels(out, ["in_workshop"])
    room = sum(float(d.get("reconditioning_room") or 0) for d in (config.get("depots") or {}).values())
    frame["room"] = room if room else math.nan
    frame["room_use"] = frame["in_workshop"] / frame["room"]
    return frame


@table(
    "stock",
    ("Stock new and reconditioned, and open backorders", "Lager nya och rekonditionerade samt restorder"),
    ("depot_timeseries",),
    ("month",),
    {
        "stock_new": "devices (daily mean)",
        "stock_reconditioned": "devices (daily mean)",
        "backorders_open": "orders (daily mean)",
    },
)
def stock(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    return _monthly_levels(out, ["stock_new", "stock_reconditioned", "backorders_open"])


# ---------------------------------------------------------------- capacity


@table(
    "utilisation",
    ("Utilisation per staff pool and month", "Beläggning per personalgrupp och månad"),
    ("staff",),
    ("month", "pool"),
    {"busy_hours": "hours", "available_hours": "hours", "utilisation": "share"},
)
def utilisation(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    s = out["staff"]
    month = pd.to_datetime(s["date"]).dt.to_period("M").dt.to_timestamp().rename("month")
    g = s.groupby([month, s["pool"].astype(str).rename("pool")])[["busy_hours", "available_hours"]].sum()
    g = g.reset_index()
    g["utilisation"] = g["busy_hours"] / g["available_hours"].where(g["available_hours"] > 0)
    return g


@table(
    "routes",
    ("Km and stops per route and year", "Km och stopp per tur och år"),
    ("route_stops",),
    ("year", "route"),
    {"km": "km", "stops": "count", "deliveries": "count", "pickup_orders": "count"},
)
def routes(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    s = out["route_stops"]
    g = s.groupby([_year(s["date"]).rename("year"), s["route"].astype(str).rename("route")])
    frame = g.agg(
        km=("km", "sum"),
        stops=("km", "size"),
        deliveries=("deliveries", "sum"),
        pickup_orders=("pickup_orders", "sum"),
    ).astype(float)
    return frame.reset_index()


# ---------------------------------------------------------------- money (kSEK)


def _ledger(out: RunOutput) -> pd.DataFrame:
    led = out["ledger"]
    return led.assign(account=led["account"].astype(str), principal=led["principal"].astype(str))


def _operators(led: pd.DataFrame) -> set[str]:
    """The principals that run the supply: those carrying the ``result`` rows (the centre, or after a
    governance change the federation, company or contractor), so the operator's costs stay its costs."""
    found = set(led.loc[led["account"] == "result", "principal"])
    return found or {CENTRE}


@table(
    "income_statement",
    ("The centre's income statement per year", "Centrets resultaträkning per år"),
    ("ledger",),
    ("year",),
    {"revenue": "kSEK", "costs": "kSEK", "result": "kSEK", "settled": "kSEK"},
)
def income_statement(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    led = _ledger(out)
    rev = led[led["account"].str.startswith("revenue_")].groupby("year")["amount"].sum()
    centre = led[led["principal"].isin(_operators(led))]
    cost = centre[centre["account"].str.startswith("cost_")].groupby("year")["amount"].sum()
    settled = centre[centre["account"] == "settled"].groupby("year")["amount"].sum()
    years = sorted(led["year"].unique())
    frame = pd.DataFrame({"year": [int(y) for y in years]})
    frame["revenue"] = rev.reindex(years).fillna(0.0).to_numpy() / 1000
    frame["costs"] = cost.reindex(years).fillna(0.0).to_numpy() / 1000
    frame["result"] = frame["revenue"] - frame["costs"]
    frame["settled"] = settled.reindex(years).fillna(0.0).to_numpy() / 1000
    return frame


@table(
    "costs_by_block",
    ("The centre's costs by block per year", "Centrets kostnader per kostnadsslag och år"),
    ("ledger",),
    ("year", "account"),
    {"amount": "kSEK"},
)
def costs_by_block(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    led = _ledger(out)
    c = led[led["principal"].isin(_operators(led)) & led["account"].str.startswith("cost_")]
    g = c.groupby(["year", "account"])["amount"].sum() / 1000
    g = g[g != 0]
    frame = g.rename("amount").reset_index()
    frame["year"] = frame["year"].astype(int)
    return frame


@table(
    "result_split",
    ("Result split into operations and products", "Resultat uppdelat på verksamhet och produkter"),
    ("ledger", "products.product_result"),
    ("year",),
    {"result": "kSEK", "product_result": "kSEK", "operations_result": "kSEK"},
)
def result_split(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    inc = income_statement(out, config)
    p = out["products"].set_index("year")["product_result"] / 1000
    inc["product_result"] = inc["year"].map(p).astype(float)
    inc["operations_result"] = inc["result"] - inc["product_result"]
    return inc[["year", "result", "product_result", "operations_result"]]


@table(
    "principals",
    ("Paid, settlement and net cost per principal", "Betalt, reglering och nettokostnad per huvudman"),
    ("ledger",),
    ("year", "principal"),
    {
        "paid": "kSEK",
        "settlement": "kSEK",
        "net_cost": "kSEK",
        "inhabitants": "persons",
        "net_cost_per_inhabitant": "SEK per inhabitant",
    },
)
def principals(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    led = _ledger(out)
    led = led[~led["principal"].isin(_operators(led))]
    paid = led[led["account"].str.startswith("revenue_")].groupby(["year", "principal"])["amount"].sum()
    back = led[led["account"] == "settlement"].groupby(["year", "principal"])["amount"].sum()
    frame = pd.DataFrame({"paid": paid}).join(pd.DataFrame({"settlement": back}), how="outer").fillna(0.0)
    frame = frame / 1000
    frame["net_cost"] = frame["paid"] - frame["settlement"]
    frame = frame.reset_index()
    frame["year"] = frame["year"].astype(int)
    pop = _population(config, [int(y) for y in sorted(frame["year"].unique())], out.start_date.year)
    if not pop.empty:
        by_muni = pop.groupby(["year", "municipality"])["persons"].sum()
        total = pop.groupby("year")["persons"].sum()
        frame["inhabitants"] = [
            float(total.get(y, math.nan)) if p == REGION else float(by_muni.get((y, p), math.nan))
            for y, p in zip(frame["year"], frame["principal"], strict=True)
        ]
    else:
        frame["inhabitants"] = math.nan
    frame["net_cost_per_inhabitant"] = 1000 * frame["net_cost"] / frame["inhabitants"]
    return frame


@table(
    "book_value",
    ("Book value and depreciation run-off", "Bokfört värde och avskrivningar"),
    ("products.book_value_end", "ledger"),
    ("year",),
    {"book_value_end": "kSEK", "depreciation": "kSEK", "capitalised": "kSEK", "expensed": "kSEK"},
)
def book_value(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    p = out["products"].set_index("year")
    led = _ledger(out)
    centre = led[led["principal"].isin(_operators(led))]
    dep = centre[centre["account"] == "cost_depreciation"].groupby("year")["amount"].sum()
    exp = centre[centre["account"] == "cost_devices_expensed"].groupby("year")["amount"].sum()
    years = [int(y) for y in p.index]
    return pd.DataFrame(
        {
            "year": years,
            "book_value_end": p["book_value_end"].to_numpy(dtype=float) / 1000,
            "depreciation": dep.reindex(years).fillna(0.0).to_numpy() / 1000,
            "capitalised": p["capitalised_purchases"].to_numpy(dtype=float) / 1000,
            "expensed": exp.reindex(years).fillna(0.0).to_numpy() / 1000,
        }
    )


PRESCRIBER_NEEDS = tuple(
    f"rentals.{c}"
    for c in (
        "payer",
        "responsibility_class",
        "child",
        "special_housing",
        "home_care",
        "unit_device",
        "unit_municipal",
    )
)


@table(
    "prescriber_payer",
    ("Rentals started by prescriber and payer", "Påbörjade uthyrningar per förskrivare och betalare"),
    PRESCRIBER_NEEDS,
    ("year", "prescriber", "payer"),
    {"rentals": "count", "rental_share": "share"},
)
def prescriber_payer(out: RunOutput, config: dict[str, Any]) -> pd.DataFrame:
    """Rentals started in each year (not the initial stock) by the prescriber's principal (region or
    municipalities, ``sim.responsibility.prescriber_column`` with the run's ``prescribing`` rules) and the
    payer's, with the year's share."""
    from sim.config.schema import Prescribing
    from sim.responsibility import prescriber_column

    rules = Prescribing.model_validate(config.get("prescribing") or {})

    r = out["rentals"]
    r = r[~r["initial"] & (r["start_day"] >= 0)]
    side = {True: "region", False: "municipalities"}
    frame = pd.DataFrame(
        {
            "year": _day_year(out, r["start_day"]),
            "prescriber": (prescriber_column(rules, r) == REGION).map(side).to_numpy(),
            "payer": (r["payer"].astype(str) == REGION).map(side).to_numpy(),
        }
    )
    index = pd.MultiIndex.from_product(
        [_full_years(out), ["municipalities", "region"], ["municipalities", "region"]],
        names=["year", "prescriber", "payer"],
    )
    counts = frame.groupby(["year", "prescriber", "payer"]).size().reindex(index, fill_value=0)
    result = counts.astype(float).rename("rentals").reset_index()
    totals = result.groupby("year")["rentals"].transform("sum")
    result["rental_share"] = result["rentals"] / totals.where(totals > 0)
    return result


# ---------------------------------------------------------------- replications and scenarios


def aggregate(
    frames: list[tuple[str, pd.DataFrame]], spec: TableSpec, confidence: float = 0.95
) -> pd.DataFrame:
    """Per scenario and keys the mean of every value column with a Student-t band over replications.

    ``frames`` holds ``(scenario, table of one replication)``. One replication per scenario gives the
    values themselves and no band columns.
    """
    whole = pd.concat([f.assign(scenario=s) for s, f in frames], ignore_index=True)
    keys = ["scenario", *[k for k in spec.keys if k in whole.columns]]
    values = [c for c in spec.units if c in whole.columns]
    order = list(dict.fromkeys(s for s, _ in frames))
    reps = pd.Series([s for s, _ in frames]).value_counts()
    if int(reps.max()) <= 1:
        out = whole[keys + values]
    else:
        g = whole.groupby(keys, sort=False, dropna=False)[values]
        mean, sd, n = g.mean(), g.std(ddof=1), g.count()
        t = stats.t.ppf(0.5 + confidence / 2, (n - 1).clip(lower=1))
        half = pd.DataFrame(t, index=sd.index, columns=sd.columns) * sd / np.sqrt(n)
        half = half.where(n > 1)
        out = mean.copy()
        for c in values:
            low, high = mean[c] - half[c], mean[c] + half[c]
            if (
                spec.units[c] == "share"
            ):  # a share's band stays within [0, 1] (few replications, a collapsed KPI)
                low, high = low.clip(lower=0.0), high.clip(upper=1.0)
            out[f"{c}__low"] = low
            out[f"{c}__high"] = high
        out = out.reset_index()
    out = out.assign(_o=out["scenario"].map({s: i for i, s in enumerate(order)}))
    out = out.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)
    return out
