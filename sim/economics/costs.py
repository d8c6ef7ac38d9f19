"""The centre's operating costs from configured resources and simulated activity, by month.

Staff cost follows the configured staffing (technicians and consultants from the depots' DES pools unless
an FTE is given), not the hours worked; busy hours are reported beside it (``staff_table``). Fixed costs and
staff grow by ``growth`` per year from the start year. Transport costs follow the simulated km and stops
plus a fixed cost per vehicle; spare parts follow corrective work orders and reconditionings.

Staff and fixed costs are booked evenly over the months, except the part of a staff function's yearly cost
paid to summer substitutes (``costs.summer_substitutes``), booked in the months the calendar's summer weeks
fall in (by their days; the same ISO weeks in which the DES staffs its pools at ``calendar.summer_staffing``,
substitutes included). The yearly cost of every function is the same either way: the fitted annual cost
per FTE is the year's cost of the function, its substitutes included (docs/economics.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.config.economics import Economics
from sim.config.schema import Calendar, Scenario
from sim.economics.periods import Months, sum_by_month

FUNCTIONS = ("technicians", "consultants", "warehouse", "drivers", "customer_service", "administration")
DES_POOLS = {
    "technicians": ("reconditioning_technicians", "service_technicians"),
    "consultants": ("consultants",),
}


def month_share(months: Months) -> np.ndarray:
    """Share of a full month each month of the run covers (the last may be partial)."""
    lengths = np.diff(months.bounds)
    starts = months.periods
    full = np.array([pd.Period(s, "M").days_in_month for s in starts], dtype=float)
    return lengths / full


WEEKS_PER_YEAR = 365.25 / 7  # weeks the permanent staff are paid (leave is paid)


def summer_weeks_per_fte(calendar: Calendar, leave_weeks: float) -> float:
    """Weeks substitutes work per FTE and year: each person's ``leave_weeks`` within the summer weeks less
    the absence the DES keeps there (``1 - summer_staffing`` of the capacity, substitutes included)."""
    first, last = calendar.summer_weeks
    return max(leave_weeks - (1.0 - calendar.summer_staffing) * (last - first + 1), 0.0)


def summer_share(calendar: Calendar, econ: Economics) -> float:
    """Share of a substitute-hiring function's yearly cost paid to summer substitutes (0 without them)."""
    spec = econ.costs.summer_substitutes
    if spec.leave_weeks is None:
        return 0.0
    paid = summer_weeks_per_fte(calendar, spec.leave_weeks) * spec.relative_cost
    return paid / (WEEKS_PER_YEAR + paid)


def summer_profile(calendar: Calendar, months: Months) -> np.ndarray:
    """Per month of the run: the share of its calendar year's summer days (days in ISO weeks
    ``calendar.summer_weeks``, as the DES's staffing) that fall in it within the run."""
    first, last = calendar.summer_weeks
    years = months.year_of_month()
    start = np.datetime64(months.start, "D")
    out = np.zeros(len(months))
    for y in np.unique(years).tolist():
        days = np.arange(np.datetime64(f"{y}-01-01"), np.datetime64(f"{y + 1}-01-01"))
        week = pd.DatetimeIndex(days).isocalendar().week.to_numpy()
        summer = (week >= first) & (week <= last)
        total = int(summer.sum())
        if total == 0:
            continue
        offset = (days - start).astype(np.int64)
        for i in np.flatnonzero(years == y).tolist():
            inside = summer & (offset >= months.bounds[i]) & (offset < months.bounds[i + 1])
            out[i] = inside.sum() / total
    return out


def staff_fte(scenario: Scenario, econ: Economics) -> dict[str, float]:
    """FTE per staff function (DES pool sizes where the config gives none)."""
    fte: dict[str, float] = {}
    for name in FUNCTIONS:
        spec = getattr(econ.costs.staff, name)
        if spec.fte is not None:
            fte[name] = spec.fte
        elif name in DES_POOLS:
            fte[name] = float(
                sum(getattr(d, p).count for d in scenario.depots.values() for p in DES_POOLS[name])
            )
        else:
            fte[name] = 0.0
    return fte


def operating_costs(
    scenario: Scenario, econ: Economics, route_stops: pd.DataFrame, jobs: pd.DataFrame, months: Months
) -> dict[str, np.ndarray]:
    """Cost accounts as ``[month]`` arrays (SEK)."""
    c = econ.costs
    share = month_share(months)
    years = months.year_of_month()
    growth = (1 + c.growth) ** (years - years[0])
    index = growth * share / 12
    substitutes = summer_share(scenario.calendar, econ)
    seasonal = index
    if substitutes > 0:  # the substitutes' part of the year in the summer months, the rest evenly
        seasonal = growth * (
            (1 - substitutes) * share / 12 + substitutes * summer_profile(scenario.calendar, months)
        )
    out: dict[str, np.ndarray] = {}
    fte = staff_fte(scenario, econ)
    hiring = set(c.summer_substitutes.functions)
    for name in FUNCTIONS:
        profile = seasonal if name in hiring else index
        out[f"cost_staff_{name}"] = fte[name] * getattr(c.staff, name).annual_cost_sek * profile
    out["cost_premises"] = c.premises_sek_per_year * index
    out["cost_it"] = c.it_sek_per_year * index
    out["cost_other"] = c.other_sek_per_year * index
    out["cost_governance"] = c.governance_sek_per_year * index
    day = (
        (pd.to_datetime(route_stops["date"]) - pd.Timestamp(months.start)) // pd.Timedelta(days=1)
    ).to_numpy()
    stops = (route_stops["deliveries"] + route_stops["pickup_orders"]).to_numpy(dtype=float)
    variable = route_stops["km"].to_numpy() * c.transport.sek_per_km + stops * c.transport.sek_per_stop
    vehicles = sum(r.vehicles for r in scenario.transport.routes.values())
    out["cost_transport"] = (
        sum_by_month(day, variable, np.zeros(len(day), dtype=int), 1, months)[0]
        + vehicles * c.transport.sek_per_vehicle_year * share / 12
    )
    tech = jobs[jobs["kind"].isin(["corrective", "preventive"])]
    out["cost_external_work"] = sum_by_month(
        tech["created_day"].to_numpy(),
        np.full(len(tech), c.external_work_sek_per_work_order),
        np.zeros(len(tech), dtype=int),
        1,
        months,
    )[0]
    repairs = jobs[jobs["kind"] == "corrective"]
    recon = jobs[(jobs["kind"] == "recondition") & (jobs["created_day"] >= 0)]
    out["cost_spare_parts"] = (
        sum_by_month(
            repairs["created_day"].to_numpy(),
            np.full(len(repairs), c.spare_parts_sek_per_repair),
            np.zeros(len(repairs), dtype=int),
            1,
            months,
        )[0]
        + sum_by_month(
            recon["created_day"].to_numpy(),
            np.full(len(recon), c.spare_parts_sek_per_reconditioning),
            np.zeros(len(recon), dtype=int),
            1,
            months,
        )[0]
    )
    return out


def staff_table(
    scenario: Scenario, econ: Economics, staff: pd.DataFrame, costs: dict[str, np.ndarray], months: Months
) -> pd.DataFrame:
    """Monthly FTE, cost and (for DES pools) available and busy hours per staff function."""
    fte = staff_fte(scenario, econ)
    day = ((pd.to_datetime(staff["date"]) - pd.Timestamp(months.start)) // pd.Timedelta(days=1)).to_numpy()
    month = months.index_of_day(day)
    rows = []
    for name in FUNCTIONS:
        pools = DES_POOLS.get(name, ())
        sel = staff["pool"].isin(pools).to_numpy()
        avail = np.bincount(
            month[sel], weights=staff["available_hours"].to_numpy()[sel], minlength=len(months)
        )
        busy = np.bincount(month[sel], weights=staff["busy_hours"].to_numpy()[sel], minlength=len(months))
        rows.append(
            pd.DataFrame(
                {
                    "period": months.periods,
                    "function": name,
                    "fte": fte[name],
                    "cost": costs[f"cost_staff_{name}"],
                    "available_hours": avail if pools else np.nan,
                    "busy_hours": busy if pools else np.nan,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)
