"""Settlement of the centre's result with the principals (pure functions; positive = repaid to a principal).

- ``markup_follow_up`` (Norrbotten from 2025): per period, the municipalities' markup revenue is compared
  with the markup-financed costs times the municipalities' share of device invoicing; a surplus is repaid to
  each municipality by its share of the municipalities' device invoicing (a deficit only if
  ``settle_deficits``). The region is not part of this settlement.
- ``result_split`` (Västmanland): per period the whole result is settled: ``region_share`` of it to the
  region, the rest to all principals by their share of device costs (rent and sales invoiced).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from sim.config.economics import Settlement
from sim.economics.periods import Months

DEVICE_ACCOUNTS = (
    "revenue_rent",
    "revenue_rent_markup",
    "revenue_sales",
    "revenue_sales_markup",
    "revenue_function_rent",
)
MARKUP_ACCOUNTS = ("revenue_rent_markup", "revenue_sales_markup")


def markup_follow_up_repayment(
    markup_revenue: float, markup_costs: float, invoiced: Mapping[str, float], settle_deficits: bool = False
) -> dict[str, float]:
    """Repayment per municipality: the markup surplus split by each municipality's share of invoicing."""
    surplus = markup_revenue - markup_costs
    total = float(sum(invoiced.values()))
    if total <= 0 or (surplus <= 0 and not settle_deficits):
        return dict.fromkeys(invoiced, 0.0)
    return {m: surplus * value / total for m, value in invoiced.items()}


def result_split(
    result: float, region_share: float, device_costs: Mapping[str, float], region: str
) -> dict[str, float]:
    """Settle ``result``: ``region_share`` to the region, the rest by the principals' device-cost shares."""
    total = float(sum(device_costs.values()))
    out = {
        p: (1 - region_share) * result * value / total if total > 0 else 0.0
        for p, value in device_costs.items()
    }
    if total <= 0:
        out[region] = out.get(region, 0.0) + (1 - region_share) * result
    out[region] = out.get(region, 0.0) + region_share * result
    return out


def period_ends(months: Months, period: str) -> list[tuple[int, int]]:
    """``(first month, last month)`` index pairs of each settlement period within the run."""
    dates = months.first + np.arange(len(months))
    key = dates.astype("datetime64[Y]").astype(int) * (4 if period == "quarter" else 1)
    if period == "quarter":
        key = key + (dates.astype(int) % 12) // 3
    out = []
    start = 0
    for i in range(1, len(months) + 1):
        if i == len(months) or key[i] != key[start]:
            out.append((start, i - 1))
            start = i
    return out


def settle(
    rule: Settlement,
    revenue: dict[str, np.ndarray],
    costs: dict[str, np.ndarray],
    principals: list[str],
    region: str,
    months: Months,
) -> tuple[np.ndarray, np.ndarray]:
    """Settlement amounts ``[principal, month]`` and the amount settled ``[month]``, posted at period ends."""
    settlement = np.zeros((len(principals), len(months)))
    settled = np.zeros(len(months))
    if rule.kind == "none":
        return settlement, settled
    zero = np.zeros((len(principals), len(months)))
    device = sum((revenue.get(a, zero) for a in DEVICE_ACCOUNTS), zero)
    r = principals.index(region)
    munis = [i for i, p in enumerate(principals) if i != r]
    total_revenue = sum(revenue.values(), zero).sum(axis=0)
    total_cost = sum(costs.values(), np.zeros(len(months)))
    for lo, hi in period_ends(months, rule.period):
        window = slice(lo, hi + 1)
        if rule.kind == "markup_follow_up":
            markup = sum(float(revenue.get(a, zero)[munis, window].sum()) for a in MARKUP_ACCOUNTS)
            product = sum(
                float(revenue.get(a, zero)[:, window].sum()) for a in ("revenue_rent", "revenue_sales")
            )
            muni_product = sum(
                float(revenue.get(a, zero)[munis, window].sum()) for a in ("revenue_rent", "revenue_sales")
            )
            share = muni_product / product if product > 0 else 0.0
            pool = sum(float(costs[a][window].sum()) for a in rule.markup_cost_accounts)
            invoiced = {principals[i]: float(device[i, window].sum()) for i in munis}
            repaid = markup_follow_up_repayment(markup, pool * share, invoiced, rule.settle_deficits)
        else:
            result = float(total_revenue[window].sum() - total_cost[window].sum())
            costs_by = {p: float(device[i, window].sum()) for i, p in enumerate(principals)}
            repaid = result_split(result, rule.region_share, costs_by, region)
        for p, amount in repaid.items():
            settlement[principals.index(p), hi] += amount
        settled[hi] += sum(repaid.values())
    return settlement, settled
