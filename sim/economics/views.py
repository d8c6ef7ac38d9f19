"""Aggregated views of a ledger for ``hmsim ledger`` (nested dicts of SEK amounts, JSON-ready).

- ``account``: the total of every account in the window (the centre's view: revenue, costs, result, settled);
- ``principal``: per principal what it paid by revenue account, the settlement it got back and its net cost,
  plus the centre's revenue, costs, result, amount settled and result kept;
- ``year``: per year the total of every account;
- ``municipality``: ``principal`` for the municipalities only;
- ``products``: per year the share of rented device-days at price 0 (fully depreciated; all and municipal),
  the product result (rent and sales excl. markup minus device costs), purchases and book value.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from sim.economics.ledger import CENTRE
from sim.errors import HmsimError

VIEWS = ("principal", "account", "year", "municipality", "products")
PRODUCT_COLUMNS = (
    "zero_price_share",
    "zero_price_share_municipal",
    "product_revenue",
    "product_cost",
    "product_result",
    "capitalised_purchases",
    "book_value_end",
)


def products_view(
    products: pd.DataFrame, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    """The yearly product table as ``{year: {column: value}}`` (years overlapping the window)."""
    rows = products
    if start is not None:
        rows = rows[rows["year"] >= start.year]
    if end is not None:
        rows = rows[rows["year"] <= end.year]
    return {str(int(r["year"])): {c: float(r[c]) for c in PRODUCT_COLUMNS} for _, r in rows.iterrows()}


def window(ledger: pd.DataFrame, start: date | None, end: date | None) -> pd.DataFrame:
    """Ledger rows of the months overlapping ``[start, end]`` (whole months)."""
    periods = pd.to_datetime(ledger["period"])
    keep = pd.Series(True, index=ledger.index)
    if start is not None:
        keep &= periods >= pd.Timestamp(start).to_period("M").to_timestamp()
    if end is not None:
        keep &= periods <= pd.Timestamp(end).to_period("M").to_timestamp()
    if not keep.any():
        first, last = periods.min().date(), periods.max().date()
        raise HmsimError(f"--from/--to: no ledger month in the window; the ledger covers {first} to {last}")
    return ledger[keep]


def _principal(rows: pd.DataFrame) -> dict[str, float]:
    acc = rows["account"].astype(str)
    out = {a: float(v) for a, v in rows[acc.str.startswith("revenue_")].groupby(acc)["amount"].sum().items()}
    paid = float(rows.loc[acc.str.startswith("revenue_"), "amount"].sum())
    back = float(rows.loc[acc == "settlement", "amount"].sum())
    admin = float(rows.loc[acc.str.startswith("admin_"), "amount"].sum())
    out.update(paid=paid, settlement=back, admin=admin, net_cost=paid - back + admin)
    return out


def _operator(rows: pd.DataFrame) -> dict[str, float]:
    """An operator's view over ``rows`` (its own cost and result rows, and the revenue of its months)."""
    acc = rows["account"].astype(str)
    revenue = float(rows.loc[acc.str.startswith("revenue_"), "amount"].sum())
    costs = float(rows.loc[acc.str.startswith("cost_"), "amount"].sum())
    settled = float(rows.loc[acc == "settled", "amount"].sum())
    return {
        "revenue": revenue,
        "costs": costs,
        "result": revenue - costs,
        "settled": settled,
        "kept": revenue - costs - settled,
    }


def operators(ledger: pd.DataFrame) -> list[str]:
    """Principals that operate (have cost or result rows): the centre, a federation, a company..."""
    acc = ledger["account"].astype(str)
    rows = ledger[acc.str.startswith("cost_") | (acc == "result")]
    return list(dict.fromkeys(rows["principal"].astype(str)))


def aggregate(
    ledger: pd.DataFrame, by: str, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    """The ledger summed for view ``by`` over the window."""
    if by not in VIEWS:
        raise HmsimError(f"--by {by!r}: must be one of {', '.join(VIEWS)}")
    rows = window(ledger, start, end)
    acc = rows["account"].astype(str)
    principal = rows["principal"].astype(str)
    if by == "account":
        return {a: float(v) for a, v in rows.groupby(acc, sort=False)["amount"].sum().items()}
    if by == "year":
        out: dict[str, Any] = {}
        for (year, account), value in rows.groupby([rows["year"], acc], sort=False)["amount"].sum().items():
            out.setdefault(str(year), {})[account] = float(value)
        return out
    result: dict[str, Any] = {}
    ops = set(operators(ledger)) | {CENTRE}
    names = (
        [p for p in rows["principal"].cat.categories if p not in ops]
        if hasattr(rows["principal"], "cat")
        else sorted(set(principal) - ops)
    )
    for name in names:
        if by == "municipality" and name == "region":
            continue
        result[name] = _principal(rows[principal == name])
    if by == "principal":
        # every operator in the window (e.g. the centre until a federation takes over), and under 'centre'
        # the operating side as a whole, whoever operated
        result[CENTRE] = _operator(rows)
        result_rows = rows[acc == "result"]
        months_of = result_rows.groupby(result_rows["principal"].astype(str))["period"].apply(set)
        for op, months in months_of.items():
            if op == CENTRE or len(months_of) == 1:
                continue
            if "operator" in rows.columns:  # its own books (not an old operator's run-off rentals)
                own = rows[(rows["operator"].astype(str) == op) & ~acc.str.startswith("admin_")]
                result[str(op)] = _operator(own)
            else:
                result[str(op)] = _operator(rows[rows["period"].isin(months)])
    return result


def difference(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """``new - old`` for nested dicts of amounts (keys missing on one side count as 0)."""
    out: dict[str, Any] = {}
    for key in dict.fromkeys([*old, *new]):
        a, b = new.get(key, 0.0), old.get(key, 0.0)
        if isinstance(a, dict) or isinstance(b, dict):
            out[key] = difference(a if isinstance(a, dict) else {}, b if isinstance(b, dict) else {})
        else:
            out[key] = float(a) - float(b)
    return out
