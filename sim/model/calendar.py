"""The working calendar: simulation days to dates, workdays, opening hours and a working-time clock.

Time in the model is in days (float) from the start date. Staff work only inside opening hours on
workdays; a job needing ``h`` working hours that starts at ``t`` ends at ``W⁻¹(W(t) + h)``, where ``W``
is the cumulative working-hours clock. Holidays come from the ``holidays`` package (Sweden).
"""

from __future__ import annotations

import bisect
from datetime import date, timedelta

import holidays
import numpy as np

from sim.config.schema import WEEKDAYS
from sim.config.schema import Calendar as CalendarConfig
from sim.errors import HmsimError


class Calendar:
    """Per-day tables over the horizon (plus a margin) and the working-time clock."""

    def __init__(self, config: CalendarConfig, start: date, days: int, margin_days: int = 400) -> None:
        self.start = start
        self.days = days
        n = days + margin_days
        self.n_days = n
        dates = [start + timedelta(days=i) for i in range(n)]
        self.dates = dates
        self.weekday = np.array([d.weekday() for d in dates], dtype=np.int8)
        self.month = np.array([d.month - 1 for d in dates], dtype=np.int8)
        self.year = np.array([d.year for d in dates], dtype=np.int32)
        self.iso_week = np.array([d.isocalendar()[1] for d in dates], dtype=np.int8)
        work_days = {WEEKDAYS.index(w) for w in config.workdays}
        closed = self._closed_days(config, dates)
        self.is_workday = np.array(
            [(d.weekday() in work_days) and (d not in closed) for d in dates], dtype=bool
        )
        first, last = config.summer_weeks
        summer = (self.iso_week >= first) & (self.iso_week <= last)
        self.staffing = np.where(summer, config.summer_staffing, 1.0)
        self.open_hour, self.close_hour = config.opening_hours
        self.hours_per_workday = self.close_hour - self.open_hour
        self.open_frac = self.open_hour / 24.0
        self.close_frac = self.close_hour / 24.0
        # workday_number[d]: number of workdays on days 0..d (inclusive)
        self.workday_number = np.cumsum(self.is_workday).astype(np.int64)
        # cumulative working hours before day d (length n + 1)
        hours = np.where(self.is_workday, self.hours_per_workday, 0.0)
        self.cum_hours = np.concatenate([[0.0], np.cumsum(hours)])
        self._cum_hours_list = self.cum_hours.tolist()
        self._is_workday_list = self.is_workday.tolist()
        # next workday on or after day d (n if none)
        nxt = np.full(n + 1, n, dtype=np.int64)
        for d in range(n - 1, -1, -1):
            nxt[d] = d if self.is_workday[d] else nxt[d + 1]
        self._next_workday = nxt.tolist()

    @staticmethod
    def _closed_days(config: CalendarConfig, dates: list[date]) -> set[date]:
        if config.public_holidays == "none":
            return set()
        years = sorted({d.year for d in dates})
        cats: tuple[str, ...] = ("public", "de_facto") if config.de_facto_holidays else ("public",)
        table = holidays.country_holidays("SE", years=years, categories=cats)
        # The de-facto category also lists afternoons off ("from 2pm") and squeeze days; close only full days.
        return {d for d, name in table.items() if "2pm" not in name and "Squeeze" not in name}

    # ---- dates -------------------------------------------------------------------------------------
    def date_of(self, day: int) -> date:
        return self.start + timedelta(days=int(day))

    def day_of(self, when: date) -> int:
        return (when - self.start).days

    def year_index(self, day: int) -> int:
        """Years since the start year for day ``day``."""
        return int(self.year[day]) - self.start.year

    # ---- workdays ----------------------------------------------------------------------------------
    def next_workday(self, day: int) -> int:
        """The first workday on or after ``day``."""
        return self._next_workday[min(max(day, 0), self.n_days)]

    def workdays_between(self, t0: float, t1: float) -> int:
        """Workdays after the day of ``t0`` up to and including the day of ``t1`` (0 if the same day)."""
        d0, d1 = int(t0), min(int(t1), self.n_days - 1)
        return int(self.workday_number[d1] - self.workday_number[d0])

    # ---- working-time clock -----------------------------------------------------------------------
    def work_clock(self, t: float) -> float:
        """Working hours elapsed from the start to time ``t`` (days)."""
        d = int(t)
        if d >= self.n_days:
            return self._cum_hours_list[-1]
        base = self._cum_hours_list[d]
        if not self._is_workday_list[d]:
            return base
        hour = (t - d) * 24.0
        if hour <= self.open_hour:
            return base
        if hour >= self.close_hour:
            return base + self.hours_per_workday
        return base + hour - self.open_hour

    def from_work_clock(self, w: float) -> float:
        """The earliest time (days) at which the working-hours clock reads ``w``."""
        cum = self._cum_hours_list
        if w <= 0.0:
            return 0.0
        # day d with cum[d] < w <= cum[d + 1]: the clock reaches w inside day d's opening hours
        d = bisect.bisect_left(cum, w) - 1
        if d >= self.n_days:
            margin = self.n_days - self.days
            raise HmsimError(
                f"a job needs working time beyond the simulated calendar (the horizon + {margin} days): "
                "check the work-time distributions (repair, reconditioning, installation, fitting hours)"
            )
        return d + (self.open_hour + (w - cum[d])) / 24.0

    def next_open(self, t: float) -> float:
        """``t`` if the centre is open then, else the next opening time."""
        d = int(t)
        if d < self.n_days and self._is_workday_list[d]:
            hour = (t - d) * 24.0
            if hour < self.open_hour:
                return d + self.open_frac
            if hour < self.close_hour:
                return t
        d = self.next_workday(d + 1)
        return d + self.open_frac

    def add_work_hours(self, t: float, hours: float) -> float:
        """Time at which ``hours`` of work started at ``t`` end (work happens only in opening hours)."""
        return self.from_work_clock(self.work_clock(t) + hours)
