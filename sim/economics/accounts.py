"""Accounting-only ledgers (no simulation): what a capitalisation threshold does to yearly results.

Each year the centre has its cost base (growing), buys devices (growing; split by price band) and
depreciates earlier purchases. Under a threshold, purchases in bands at or below it are expensed in the
purchase year; the rest are depreciated straight-line (full years from the purchase year or the next).
Existing assets keep their remaining schedule (prospective) or, for the bands below the new threshold, are
written off at once in the first year (retroactive).

The baseline is today's threshold. The price model is unchanged, so the centre's revenue covers the
baseline costs and the principals pay by their device-cost shares; a higher threshold then moves cost
into earlier years and the centre makes deficits (later surpluses) that are settled every year:
``region_share`` to the region, the rest by device-cost shares. Over the whole life of the purchases total
cost is the same: costs in the ledger plus the book value left at the end are equal in both variants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.config.accounts import Accounts
from sim.economics.ledger import CENTRE, check_money
from sim.economics.settlement import result_split


@dataclass
class Variant:
    """One threshold's yearly figures (SEK) and ledger."""

    name: str
    costs: dict[str, np.ndarray]
    book_value_end: float
    ledger: pd.DataFrame


def _depreciation(acc: Accounts, purchases: np.ndarray) -> tuple[np.ndarray, float]:
    """Straight-line depreciation by year of ``purchases`` (per year) and the book value left at the end.

    ``convention``: ``purchase_year`` depreciates a full year's share from the purchase year, ``next_year``
    from the year after, ``mid_year`` half a year's share in the purchase year (purchases spread over the
    year) and the last half after the period."""
    n = acc.years
    dep = np.zeros(n)
    left = 0.0
    for i, amount in enumerate(purchases):
        per_year = amount / acc.depreciation_years
        schedule = _schedule(acc.depreciation_years, acc.convention)
        for k, share in enumerate(schedule):
            j = i + k
            if j < n:
                dep[j] += per_year * share
            else:
                left += per_year * share
    return dep, left


def _schedule(years: float, convention: str) -> list[float]:
    """Share of a year's depreciation in each year after the purchase year (index 0 = purchase year)."""
    full = int(np.floor(years))
    rest = years - full
    base = [1.0] * full + ([rest] if rest > 0 else [])
    if convention == "next_year":
        return [0.0, *base]
    if convention == "mid_year":
        flat = [0.5]
        remaining = years - 0.5
        while remaining > 1e-12:
            step = min(1.0, remaining)
            flat.append(step)
            remaining -= step
        return flat
    return base


def variant(acc: Accounts, threshold: float, name: str) -> Variant:
    """Costs, book value and ledger for one threshold (the baseline covers its own costs exactly)."""
    n = acc.years
    growth = (1 + acc.purchase_growth) ** np.arange(n)
    purchases = acc.capitalised_purchases_sek * growth
    below = sum(b.purchase_share for b in acc.bands if b.upper_sek is not None and b.upper_sek <= threshold)
    base_below = sum(
        b.purchase_share
        for b in acc.bands
        if b.upper_sek is not None and b.upper_sek <= acc.baseline_threshold_sek
    )
    # purchases the baseline capitalises that this threshold expenses
    expensed = purchases * max(below - base_below, 0.0)
    capitalised = purchases * (1 - max(below - base_below, 0.0))
    new_dep, left = _depreciation(acc, capitalised)
    years = [acc.start_year + i for i in range(n)]
    residual = np.zeros(n)
    write_off = np.zeros(n)
    for band in acc.bands:
        by_year = band.residual_by_year(acc.start_year)
        schedule = np.array([by_year.get(y, 0.0) for y in years])
        beyond = sum(v for y, v in by_year.items() if y >= acc.start_year + n)
        is_below = band.upper_sek is not None and band.upper_sek <= threshold
        if (
            acc.method == "retroactive"
            and is_below
            and band.upper_sek is not None
            and band.upper_sek > acc.baseline_threshold_sek
        ):
            write_off[0] += schedule.sum() + beyond
        else:
            residual += schedule
            left += beyond
    costs = {
        "cost_operations": acc.cost_base * (1 + acc.cost_growth) ** np.arange(n),
        "cost_depreciation": residual + new_dep,
        "cost_devices_expensed": expensed,
        "cost_write_offs": write_off,
    }
    return Variant(name=name, costs=costs, book_value_end=left, ledger=pd.DataFrame())


def ledgers(acc: Accounts) -> tuple[Variant, Variant]:
    """Baseline and studied threshold, with ledgers where revenue covers the baseline's costs."""
    base = variant(acc, acc.baseline_threshold_sek, "baseline")
    study = variant(acc, acc.threshold_sek, "threshold")
    revenue = sum(base.costs.values(), np.zeros(acc.years))
    for v in (base, study):
        v.ledger = _ledger(acc, revenue, v.costs)
    return base, study


def _ledger(acc: Accounts, revenue: np.ndarray, costs: dict[str, np.ndarray]) -> pd.DataFrame:
    shares = acc.settlement.device_cost_shares
    rows = []
    total_cost = sum(costs.values(), np.zeros(acc.years))
    for i in range(acc.years):
        period = pd.Timestamp(year=acc.start_year + i, month=1, day=1)
        for principal, share in shares.items():
            rows.append((period, principal, "revenue_price_model", revenue[i] * share))
        for account, values in costs.items():
            rows.append((period, CENTRE, account, values[i]))
        result = revenue[i] - total_cost[i]
        rows.append((period, CENTRE, "result", result))
        settled = result_split(result, acc.settlement.region_share, shares, "region")
        for principal, amount in settled.items():
            rows.append((period, principal, "settlement", amount))
        rows.append((period, CENTRE, "settled", sum(settled.values())))
    ledger = pd.DataFrame(rows, columns=["period", "principal", "account", "amount"])
    ledger["year"] = ledger["period"].dt.year
    check_money(ledger)
    return ledger[["period", "year", "principal", "account", "amount"]]


def comparison(base: Variant, study: Variant) -> pd.DataFrame:
    """Per year: costs of both variants, the difference, and each principal's settlement under the study."""
    by_year = {}
    for v in (base, study):
        led = v.ledger
        acc = led["account"].astype(str)
        by_year[f"cost_{v.name}"] = led[acc.str.startswith("cost_")].groupby("year")["amount"].sum()
    table = pd.DataFrame(by_year)
    table["cost_difference"] = table["cost_threshold"] - table["cost_baseline"]
    led = study.ledger
    settle = led[led["account"] == "settlement"].pivot_table(
        index="year", columns="principal", values="amount", aggfunc="sum"
    )
    settle.columns = [f"settlement_{c}" for c in settle.columns]
    return table.join(settle).reset_index()
