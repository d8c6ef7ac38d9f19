"""Rentals that run off with the old operator when the operator changes (``rentals_on_operator_change``).

When ``economics.operator`` changes on a date (a federation, company or contractor takes over) and the
state bringing the new operator has ``rentals_on_operator_change: run_off``, the rentals in progress on that
date stay with the old operator until they end; rentals started from the date are the new operator's. The
DES records who served each rental and when (``rentals``, ``jobs``): the operator of a rental is derived
here from its start day, so the simulation is the same whether rentals transfer or run off, and only the
money is attributed differently.

What the old operator keeps from the handover day until a run-off rental ends (its **run-off book**):

- the rent (with its markup) and any function rent, by the price model in force each month;
- work orders on the rental created from the handover day: their fee, external work and spare parts;
- the pickup: the fee, and the transport cost of the returned device at its month's variable transport cost
  per device handled (deliveries and devices picked up; the route's fixed vehicle cost stays with the
  operator running the routes);
- the reconditioning after the return: its spare parts (the device then passes to the new operator);
- the device itself while on the run-off rental (its asset): its depreciation and internal interest on its
  book value pro rata by the days of each month it is on the run-off rental, and the write-off if it is
  not returned.

Everything else (staff, premises, IT, vehicles, purchases, sales, the base subscription, administration)
is the operator in force that month. The old operator settles its run-off result by the settlement rule it
had the month before the handover, and pays tax at its rate then. Each book's costs are subtracted from the
activity's totals, so the books add up to the single-operator ledger and money stays conserved per
operator and in total (``check_money``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.config.economics import Economics
from sim.economics.assets import Assets
from sim.economics.periods import Months, sum_by_month


@dataclass(frozen=True)
class Handover:
    """A change of operator whose rentals in progress run off with the old operator."""

    month: int  # first month of the new operator
    day: float  # its first day (days since the run's start)
    old: str  # the operator keeping the run-off rentals
    old_state: int  # index of the state in force the month before (its settlement rule and tax rate)


def handovers(
    operators: list[str], modes: list[str], month_state: list[int], months: Months
) -> list[Handover]:
    """The run-off handovers: months where the operator changes and the new state says ``run_off``."""
    out = []
    for k in range(1, len(operators)):
        if operators[k] != operators[k - 1] and modes[k] == "run_off":
            out.append(Handover(k, float(months.bounds[k]), operators[k - 1], month_state[k - 1]))
    return out


def owners(rentals: pd.DataFrame, found: list[Handover]) -> np.ndarray:
    """Per rental the run-off book it belongs to (index into ``found``), -1 for the operator in force.

    A rental in progress on a handover day (started before it, ending after it) runs off with the old
    operator unless it already runs off from an earlier handover (it stays with the operator it started
    under)."""
    start = rentals["start_day"].to_numpy(dtype=float)
    end = rentals["end_day"].to_numpy(dtype=float)
    owner = np.full(start.size, -1, dtype=np.int64)
    for h, ho in enumerate(found):
        owner[(owner < 0) & (start < ho.day) & (end > ho.day)] = h
    return owner


@dataclass
class Split:
    """The activity of one run-off book: its rentals (from the handover day), jobs and costs."""

    rentals: pd.DataFrame  # with start_day moved to the handover day and ``continued`` True
    jobs: pd.DataFrame
    returned: pd.DataFrame  # the run-off rentals returned within the run


def split(
    rentals: pd.DataFrame, jobs: pd.DataFrame, owner: np.ndarray, h: int, ho: Handover, days: int
) -> tuple[Split, pd.DataFrame, pd.DataFrame]:
    """Book ``h``'s activity, and ``rentals``/``jobs`` with it taken out (the rest's)."""
    mine = owner == h
    rid = rentals["rental"].to_numpy()
    theirs = rentals[mine].copy()
    theirs["start_day"] = ho.day
    theirs["continued"] = True
    rest = rentals.copy()
    rest.loc[mine, "end_day"] = ho.day
    rest.loc[mine, "returned"] = pd.NA
    # work orders on the run-off rentals from the handover day, and the reconditioning after their return
    # (the DES records the rental a job follows: work orders during it, the reconditioning after it)
    in_book = np.zeros(int(rid.max()) + 1 if rid.size else 0, dtype=bool)
    in_book[rid[mine]] = True
    job_rental = jobs["rental"].to_numpy()
    take = (job_rental >= 0) & (jobs["created_day"].to_numpy(dtype=float) >= ho.day)
    take[take] = in_book[job_rental[take]]
    returned = theirs[theirs["returned"].fillna(False).astype(bool) & (theirs["end_day"] < days)]
    return Split(theirs, jobs[take], returned), rest, jobs[~take]


def costs(
    book: Split,
    econ: Economics,
    route_stops: pd.DataFrame,
    devices: pd.DataFrame,
    a: Assets,
    months: Months,
) -> dict[str, np.ndarray]:
    """The run-off book's cost accounts as ``[month]`` arrays under ``econ``'s prices."""
    n = len(months)
    c = econ.costs
    jobs = book.jobs
    kind = jobs["kind"].astype(str)
    day = jobs["created_day"].to_numpy(dtype=float)
    one = np.zeros(len(jobs), dtype=int)

    def count(sel: np.ndarray, rate: float) -> np.ndarray:
        return sum_by_month(day[sel], np.full(int(sel.sum()), rate), one[sel], 1, months)[0]

    tech = kind.isin(["corrective", "preventive"]).to_numpy()
    out = {
        "cost_external_work": count(tech, c.external_work_sek_per_work_order),
        "cost_spare_parts": count((kind == "corrective").to_numpy(), c.spare_parts_sek_per_repair)
        + count((kind == "recondition").to_numpy(), c.spare_parts_sek_per_reconditioning),
        "cost_transport": _pickups(book.returned, route_stops, econ, months),
    }
    dep, book_value, write_offs = _device(book.rentals, devices, a, months)
    out["cost_depreciation"] = dep
    out["cost_write_offs"] = write_offs
    out["cost_financial"] = book_value * c.interest_rate / 12
    out["cost_devices_expensed"] = np.zeros(n)
    return out


def _pickups(returned: pd.DataFrame, stops: pd.DataFrame, econ: Economics, months: Months) -> np.ndarray:
    """Returned devices at their month's variable transport cost per device handled."""
    t = econ.costs.transport
    day = ((pd.to_datetime(stops["date"]) - pd.Timestamp(months.start)) // pd.Timedelta(days=1)).to_numpy()
    zero = np.zeros(len(day), dtype=int)
    variable = (
        stops["km"].to_numpy() * t.sek_per_km
        + (stops["deliveries"] + stops["pickup_orders"]).to_numpy(dtype=float) * t.sek_per_stop
    )
    items = (stops["deliveries"] + stops["pickup_devices"]).to_numpy(dtype=float)
    cost = sum_by_month(day, variable, zero, 1, months)[0]
    handled = sum_by_month(day, items, zero, 1, months)[0]
    per_item = np.divide(cost, handled, out=np.zeros_like(cost), where=handled > 0)
    back = sum_by_month(
        returned["end_day"].to_numpy(dtype=float),
        np.ones(len(returned)),
        np.zeros(len(returned), dtype=int),
        1,
        months,
    )[0]
    return back * per_item


def _device(
    rentals: pd.DataFrame, devices: pd.DataFrame, a: Assets, months: Months
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depreciation, book value (at month start) and write-offs of the devices on the run-off rentals, pro
    rata by the days of each month on the rental."""
    n = len(months)
    position = pd.Index(devices["device"].to_numpy()).get_indexer(rentals["device"].to_numpy())
    start = rentals["start_day"].to_numpy(dtype=float)
    end = np.minimum(rentals["end_day"].to_numpy(dtype=float), float(months.days))
    monthly = a.monthly_depreciation[position]
    first = a.schedule_start[position]
    last = np.minimum(first + a.schedule_months[position], a.depreciation_end[position])
    length = np.diff(months.bounds)
    dep, book = np.zeros(n), np.zeros(n)
    price = devices["purchase_price"].to_numpy(dtype=float)[position]
    written = a.device_write_off[position]
    cap = a.capitalised[position] & (end > start)
    for k in range(n):
        lo, hi = months.bounds[k], months.bounds[k + 1]
        share = np.clip(np.minimum(end, hi) - np.maximum(start, lo), 0.0, None) / max(length[k], 1e-9)
        on = cap & (share > 0)
        if not on.any():
            continue
        active = on & (first <= k) & (k < last)
        dep[k] = float((monthly * share)[active].sum())
        done = np.clip(k - first, 0, a.schedule_months[position])
        value = np.where(k < a.depreciation_end[position], price - monthly * done, 0.0)
        book[k] = float((np.maximum(value, 0.0) * share)[on].sum())
    state = devices["state"].astype(str).to_numpy()[position]
    lost = (
        ~rentals["returned"].fillna(True).astype(bool).to_numpy()
        & (state == "lost")
        & (rentals["end_day"].to_numpy(dtype=float) < months.days)
    )
    write_offs = sum_by_month(
        rentals["end_day"].to_numpy(dtype=float)[lost],
        written[lost],
        np.zeros(int(lost.sum()), dtype=int),
        1,
        months,
    )[0]
    return dep, book, write_offs
