"""Capitalisation, straight-line depreciation, book value and write-offs of devices.

A device of a rented category bought at or above the capitalisation threshold is capitalised and
depreciated straight-line over its category's depreciation years, monthly, from its purchase month (or from
1 January after its purchase year). Purchases of rented categories below the threshold are expensed when
bought. Devices of sold categories are goods for resale: they are held as inventory and expensed when they
leave it, i.e. at the sale (the delivery, which is also when the sale is billed at purchase price), or when
scrapped or lost unsold; the stock of them left at the end stays inventory (not a cost of the run). Expensing
them when bought instead would let each quarter's cost swing with the replenishment batches of the sold
stock (about 3 MSEK between quarters in Norrbotten) while the sales billed at purchase price do not, so a
price model passing products through at cost would bill the rent the difference (docs/economics.md).
When a capitalised device is scrapped or not returned its remaining book value is
written off in that month; a fully depreciated device has book value 0 (and, in the Norrbotten model, rent 0).
Devices existing at the start keep the schedule of their (earlier) purchase.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.config.economics import Capitalisation
from sim.economics.periods import Months


@dataclass
class Assets:
    """Monthly asset flows (SEK) and each device's depreciation schedule."""

    capitalised: np.ndarray  # per device
    monthly_depreciation: np.ndarray  # per device, SEK per month
    schedule_start: (
        np.ndarray
    )  # per device, first depreciated month (index relative to the run's first month)
    schedule_months: np.ndarray  # per device, months of depreciation
    depreciation_end: np.ndarray  # per device, month it leaves the books (written off), or a large number
    expensed: np.ndarray  # [month] rented purchases below the threshold, and sold categories leaving stock
    capitalised_purchases: np.ndarray  # [month]
    depreciation: np.ndarray  # [month]
    write_offs: np.ndarray  # [month]
    book_value: np.ndarray  # [month] at the month's start
    device_book_value_end: np.ndarray  # per device, at the end of the run (0 if written off or expensed)
    device_write_off: np.ndarray  # per device, book value written off (SEK)


def per_category(column: pd.Series, values: Mapping[str, Any]) -> np.ndarray | None:
    """``values`` of each row's name (e.g. a device's category) looked up once per category of a
    categorical column (the tables' category columns) rather than through a string per row; None unless
    the column is categorical, complete and every category has a value."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return None
    codes = column.cat.codes.to_numpy()
    names = [str(c) for c in column.cat.categories]
    if not names or (codes < 0).any() or not all(n in values for n in names):
        return None
    out: np.ndarray = np.array([values[n] for n in names])[codes]
    return out


def _by_name(column: pd.Series, values: Mapping[str, Any]) -> np.ndarray:
    fast = per_category(column, values)
    return fast if fast is not None else np.array([values[c] for c in column.astype(str).to_numpy()])


def _is_in(column: pd.Series, names: list[str]) -> np.ndarray:
    """Whether each row's name is one of ``names`` (per category of a categorical column)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        if not (codes < 0).any():
            out: np.ndarray = np.isin(column.cat.categories.astype(str).to_numpy(), names)[codes]
            return out
    return np.isin(column.astype(str).to_numpy(), names)


def assets(
    devices: pd.DataFrame,
    depreciation_years: dict[str, float],
    rented: dict[str, bool],
    cap: Capitalisation,
    months: Months,
    changes: Sequence[tuple[int, Capitalisation]] = (),
) -> Assets:
    """Depreciation, write-offs, expensed purchases and book value by month for the run's devices.

    ``changes``: dated capitalisation rules ``(first day, rule)`` after ``cap``, in date order. A device is
    capitalised by the threshold in force on its purchase day (prospective). A rule with ``method:
    retroactive`` also writes off, in its first month, the book value left of devices capitalised earlier
    whose price is below its threshold; with ``prospective`` they keep depreciating.
    """
    n_months = len(months)
    price = devices["purchase_price"].to_numpy(dtype=float)
    bought = devices["purchased_day"].to_numpy(dtype=float)
    years = _by_name(devices["category"], depreciation_years)
    is_rented = _by_name(devices["category"], rented)
    threshold = np.full(price.size, cap.threshold_sek)
    for day, rule in changes:
        threshold[bought >= day] = rule.threshold_sek
    capitalised = is_rented & (price >= threshold)
    bought_month = months.index_of_day(bought)
    if cap.convention == "next_year":
        year_offset = months.first.astype("datetime64[Y]").astype(int) + 1970
        bought_year = (np.datetime64(months.start, "D") + np.floor(bought).astype(np.int64)).astype(
            "datetime64[Y]"
        ).astype(int) + 1970
        month_of_year = int((months.first - months.first.astype("datetime64[Y]")).astype(int))
        start = (bought_year + 1 - year_offset) * 12 - month_of_year
    else:
        start = bought_month
    n_dep = np.maximum(np.round(years * 12).astype(np.int64), 1)
    monthly = np.where(capitalised, price / n_dep, 0.0)
    ended = devices["end_day"].to_numpy(dtype=float)
    state = devices["state"]
    written_off = capitalised & _is_in(state, ["scrapped", "lost"]) & np.isfinite(ended)
    end_month = np.where(
        written_off, months.index_of_day(np.nan_to_num(ended, nan=0.0)), np.iinfo(np.int64).max
    )
    for day, rule in changes:
        if rule.method != "retroactive":
            continue
        month = int(months.index_of_day(np.array([day]))[0])
        hit = capitalised & (bought < day) & (price < rule.threshold_sek) & (end_month > month)
        written_off = written_off | hit
        end_month = np.where(hit, month, end_month)

    # depreciation in months [start, min(start + n, end)) inside the run, via a difference array
    dep_lo = np.clip(start, 0, n_months)
    dep_hi = np.clip(np.minimum(start + n_dep, end_month), 0, n_months)
    diff = np.zeros(n_months + 1)
    sel = capitalised & (dep_hi > dep_lo)
    np.add.at(diff, dep_lo[sel], monthly[sel])
    np.add.at(diff, dep_hi[sel], -monthly[sel])
    depreciation = np.cumsum(diff)[:n_months]

    # write-offs: book value left in the month the device leaves
    done_before_end = np.clip(np.minimum(end_month, start + n_dep) - start, 0, n_dep)
    remaining = np.where(written_off, price - monthly * done_before_end, 0.0)
    in_run = written_off & (end_month >= 0) & (end_month < n_months)
    write_offs = np.zeros(n_months)
    np.add.at(write_offs, end_month[in_run], remaining[in_run])

    purchased_in_run = ~devices["initial"].to_numpy(dtype=bool) & (bought >= 0) & (bought < months.days)
    expensed = np.zeros(n_months)
    cheap = purchased_in_run & is_rented & ~capitalised
    np.add.at(expensed, bought_month[cheap], price[cheap])
    # goods for resale: expensed when they leave the stock (sold, or scrapped or lost unsold) within the run
    left = (
        ~is_rented
        & _is_in(state, ["sold", "scrapped", "lost"])
        & np.isfinite(ended)
        & (np.nan_to_num(ended, nan=-1.0) >= 0)
        & (np.nan_to_num(ended, nan=-1.0) < months.days)
    )
    np.add.at(expensed, months.index_of_day(ended[left]), price[left])
    cap_purchases = np.zeros(n_months)
    np.add.at(
        cap_purchases, bought_month[purchased_in_run & capitalised], price[purchased_in_run & capitalised]
    )

    # book value at the start of month 0 from the devices owned then, then by flows
    owned_at_start = capitalised & ~purchased_in_run & (end_month >= 0) & (bought < 0)
    done_at_start = np.clip(0 - start, 0, n_dep)
    book0 = float(np.sum((price - monthly * done_at_start)[owned_at_start]))
    flows = cap_purchases - depreciation - write_offs
    book = book0 + np.concatenate([[0.0], np.cumsum(flows)[:-1]])
    done_at_end = np.clip(n_months - start, 0, n_dep)
    still_owned = capitalised & ~written_off & (bought < months.days)
    book_end = np.where(still_owned, price - monthly * done_at_end, 0.0)
    return Assets(
        capitalised=capitalised,
        monthly_depreciation=monthly,
        schedule_start=start,
        schedule_months=n_dep,
        depreciation_end=end_month,
        expensed=expensed,
        capitalised_purchases=cap_purchases,
        depreciation=depreciation,
        write_offs=write_offs,
        book_value=book,
        device_book_value_end=book_end,
        device_write_off=remaining,
    )
