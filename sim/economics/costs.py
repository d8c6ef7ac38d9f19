"""The centre's operating costs from configured resources and simulated activity, by month.

Staff cost follows the configured staffing (technicians and consultants from the depots' DES pools unless
an FTE is given), not the hours worked; busy hours are reported beside it (``staff_table``). Fixed costs and
staff grow by ``growth`` per year from the start year. Transport costs follow the simulated km and stops
plus a fixed cost per vehicle; spare parts follow corrective work orders and reconditionings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.config.economics import Economics
from sim.config.schema import Scenario
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
    index = (1 + c.growth) ** (years - years[0]) * share / 12
    out: dict[str, np.ndarray] = {}
    fte = staff_fte(scenario, econ)
    for name in FUNCTIONS:
        out[f"cost_staff_{name}"] = fte[name] * getattr(c.staff, name).annual_cost_sek * index
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
