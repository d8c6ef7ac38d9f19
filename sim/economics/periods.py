"""Months of a run and the integral of piecewise-constant daily rates over them (vectorised).

Rent accrues per day on rent (billed monthly, pro rata): a rental contributes ``rate`` SEK per day over
``[start, end)``. Summing such pieces by month and payer for hundreds of thousands of rentals uses the
cumulative function ``H(x) = sum_i rate_i * clamp(x - a_i, 0, b_i - a_i)`` evaluated at month boundaries
with sorted prefix sums: O(n log n), no (rental x month) expansion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Months:
    """The calendar months a run covers (the last may be partial)."""

    start: date
    days: int
    first: np.datetime64  # first month, datetime64[M]
    bounds: np.ndarray  # month boundaries in days since the start: len(months) + 1, clipped to [0, days]

    @classmethod
    def of(cls, start: date, days: int) -> Months:
        first = np.datetime64(start, "M")
        end = np.datetime64(start, "D") + days
        last = (end - np.timedelta64(1, "D")).astype("datetime64[M]")
        n = int((last - first).astype(int)) + 1
        month_starts = (first + np.arange(n + 1)).astype("datetime64[D]")
        bounds = (month_starts - np.datetime64(start, "D")).astype(float)
        bounds = np.clip(bounds, 0.0, float(days))
        return cls(start=start, days=days, first=first, bounds=bounds)

    def __len__(self) -> int:
        return len(self.bounds) - 1

    @property
    def periods(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex((self.first + np.arange(len(self))).astype("datetime64[D]"))

    def index_of_day(self, day: np.ndarray) -> np.ndarray:
        """Month index (relative to the first month; negative before the run) of days since the start."""
        dates = np.datetime64(self.start, "D") + np.floor(np.asarray(day, dtype=float)).astype(np.int64)
        return (dates.astype("datetime64[M]") - self.first).astype(np.int64)

    def year_of_month(self) -> np.ndarray:
        return (self.first + np.arange(len(self))).astype("datetime64[Y]").astype(int) + 1970


def integrate(a: np.ndarray, b: np.ndarray, rate: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Per interval between consecutive ``bounds``: sum over pieces of ``rate x |[a, b) intersected|``."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    rate = np.asarray(rate, dtype=float)
    keep = (b > a) & (rate != 0)
    if not keep.all():  # (no copy when every piece counts: the large tables' usual case)
        a, b, rate = a[keep], b[keep], rate[keep]
    del keep
    if a.size == 0:
        return np.zeros(len(bounds) - 1)
    cumulative = _ramp_sum(a, rate, bounds) - _ramp_sum(b, rate, bounds)
    return np.diff(cumulative)


def _ramp_sum(x0: np.ndarray, rate: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``sum_i rate_i * max(at - x0_i, 0)`` for each value of ``at``."""
    order = np.argsort(x0, kind="stable")
    x0, rate = x0[order], rate[order]
    del order
    # prefix sums with a leading 0, written in place (the same sums as concatenating [0] and cumsum)
    r_cum = np.zeros(rate.size + 1)
    np.cumsum(rate, out=r_cum[1:])
    rx_cum = np.zeros(rate.size + 1)
    np.multiply(rate, x0, out=rate)  # rate is a copy here (sorted): reused for rate x x0
    np.cumsum(rate, out=rx_cum[1:])
    del rate
    i = np.searchsorted(x0, at, side="left")
    out: np.ndarray = at * r_cum[i] - rx_cum[i]
    return out


def integrate_by_group(
    a: np.ndarray, b: np.ndarray, rate: np.ndarray, group: np.ndarray, groups: int, bounds: np.ndarray
) -> np.ndarray:
    """``integrate`` separately for each group: an array ``[group, month]``."""
    out = np.zeros((groups, len(bounds) - 1))
    group = np.asarray(group)
    for g in np.unique(group):
        sel = group == g
        out[int(g)] = integrate(np.asarray(a)[sel], np.asarray(b)[sel], np.asarray(rate)[sel], bounds)
    return out


def sum_by_month(
    day: np.ndarray, amount: np.ndarray, group: np.ndarray, groups: int, months: Months
) -> np.ndarray:
    """Point amounts at ``day`` summed into ``[group, month]`` (days outside the run are dropped)."""
    day = np.asarray(day, dtype=float)
    out = np.zeros((groups, len(months)))
    if day.size == 0:  # nothing of this kind in the run (e.g. no installations): an empty selection
        return out  # may come with a float or object dtype that cannot index
    inside = (day >= 0) & (day < months.days)
    idx = months.index_of_day(day[inside])
    np.add.at(out, (np.asarray(group)[inside], idx), np.asarray(amount, dtype=float)[inside])
    return out
