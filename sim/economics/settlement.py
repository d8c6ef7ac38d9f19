"""Settlement of the centre's result with the principals (pure functions; positive = repaid to a principal).

- ``markup_follow_up`` (Norrbotten from 2025): per period, the municipalities' markup revenue is compared
  with the markup-financed costs times the municipalities' share of device invoicing; a surplus is repaid to
  each municipality by its share of the municipalities' device invoicing (a deficit only if
  ``settle_deficits``). The region is not part of this settlement.
- ``result_split`` (Västmanland): per period the whole result is settled: ``region_share`` of it to the
  region, the rest to all principals by their share of device costs (rent and sales invoiced).

The rules are a registry (:data:`SETTLEMENTS`); an unknown kind is rejected. Under dated changes each
period is settled by the rule in force then (:func:`settle`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Window:
    """One settlement period's money: revenue ``[principal]`` by account, costs by account, principals."""

    rule: Settlement
    revenue: dict[str, np.ndarray]  # account -> [principal] summed over the period
    costs: dict[str, float]
    principals: list[str]
    region: str

    def device(self) -> np.ndarray:
        zero = np.zeros(len(self.principals))
        return sum((self.revenue.get(a, zero) for a in DEVICE_ACCOUNTS), zero)


def _none(w: Window) -> dict[str, float]:
    return {}


def _markup_follow_up(w: Window) -> dict[str, float]:
    zero = np.zeros(len(w.principals))
    r = w.principals.index(w.region)
    munis = [i for i in range(len(w.principals)) if i != r]
    markup = sum(float(w.revenue.get(a, zero)[munis].sum()) for a in MARKUP_ACCOUNTS)
    product = sum(float(w.revenue.get(a, zero).sum()) for a in ("revenue_rent", "revenue_sales"))
    muni_product = sum(float(w.revenue.get(a, zero)[munis].sum()) for a in ("revenue_rent", "revenue_sales"))
    share = muni_product / product if product > 0 else 0.0
    pool = sum(w.costs.get(a, 0.0) for a in w.rule.markup_cost_accounts)
    device = w.device()
    invoiced = {w.principals[i]: float(device[i]) for i in munis}
    return markup_follow_up_repayment(markup, pool * share, invoiced, w.rule.settle_deficits)


def _result_split(w: Window) -> dict[str, float]:
    result = sum(float(v.sum()) for v in w.revenue.values()) - sum(w.costs.values())
    device = w.device()
    return result_split(
        result, w.rule.region_share, {p: float(device[i]) for i, p in enumerate(w.principals)}, w.region
    )


SETTLEMENTS: dict[str, Callable[[Window], dict[str, float]]] = {
    "none": _none,
    "markup_follow_up": _markup_follow_up,
    "result_split": _result_split,
}


def settle(
    rules: Settlement | Sequence[Settlement],
    revenue: dict[str, np.ndarray],
    costs: dict[str, np.ndarray],
    principals: list[str],
    region: str,
    months: Months,
) -> tuple[np.ndarray, np.ndarray]:
    """Settlement amounts ``[principal, month]`` and the amount settled ``[month]``, posted at period ends.

    ``rules`` is one rule or one per month (dated changes); a period is settled by the rule in force in its
    last month, with that rule's period length (a change of period starts a new period at the change).
    """
    by_month = [rules] * len(months) if isinstance(rules, Settlement) else list(rules)
    settlement = np.zeros((len(principals), len(months)))
    settled = np.zeros(len(months))
    for lo, hi in _periods(months, by_month):
        rule = by_month[hi]
        fn = SETTLEMENTS.get(rule.kind)
        if fn is None:
            raise ValueError(
                f"economics.settlement.kind {rule.kind!r}: must be one of {', '.join(SETTLEMENTS)}"
            )
        window = slice(lo, hi + 1)
        repaid = fn(
            Window(
                rule=rule,
                revenue={a: v[:, window].sum(axis=1) for a, v in revenue.items()},
                costs={a: float(v[window].sum()) for a, v in costs.items()},
                principals=principals,
                region=region,
            )
        )
        for p, amount in repaid.items():
            settlement[principals.index(p), hi] += amount
        settled[hi] += sum(repaid.values())
    return settlement, settled


def _periods(months: Months, rules: list[Settlement]) -> list[tuple[int, int]]:
    """``(first, last)`` month pairs of the settlement periods: a period ends at its rule's period end or
    where the rule changes."""
    dates = months.first + np.arange(len(months))
    year = dates.astype("datetime64[Y]").astype(int)
    quarter = (dates.astype(int) % 12) // 3

    def key(i: int) -> tuple[int, int]:
        return int(year[i]), int(quarter[i]) if rules[i].period == "quarter" else 0

    out = []
    lo = 0
    for i in range(1, len(months) + 1):
        if i == len(months) or rules[i] != rules[lo] or key(i) != key(lo):
            out.append((lo, i - 1))
            lo = i
    return out
