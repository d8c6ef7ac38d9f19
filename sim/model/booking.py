"""Consultants' calendars: fittings are booked into the first workday with free consultant time.

A referral can be booked from its earliest day (``fitting_booking_delay_days`` after the referral: the days
the prescriber and patient need to arrange a visit, the part of the wait that consultant capacity cannot
change) to the end of the booking horizon (``fitting_booking_horizon_workdays`` workdays after today: how far
ahead the consultants' calendars are open). A workday offers ``round(count x staffing(day)) x opening hours x
productive_share`` hours of fittings (summer staffing lowers it); a fitting is booked on the first day in
that window whose booked hours plus its own fit (a day with nothing booked takes any one fitting). When no
day fits, the referral joins a waiting list, and each morning, as the horizon moves one workday further, the
list is booked first come, first served into the newly opened day. The fitting then takes place on the
booked day; its hours occupy one consultant (``hours / productive_share`` of working time, like the staff
pools), staggered through the day. The KPI "fitting offered within 15 workdays" counts workdays from the
referral to the booked day, so it rises with consultant capacity towards the share of referrals whose
earliest day lies within 15 workdays (its limit; see docs/model.md, "KPIs from mechanisms").
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import simpy

from sim.config.schema import Depot
from sim.model.calendar import Calendar
from sim.model.workshop import TIME_END, TIME_START, TIME_W_END, TIME_W_START, TIMES_WIDTH, JobLog


class FittingBook:
    """The fitting calendar of one depot's consultants."""

    def __init__(
        self,
        env: simpy.Environment,
        calendar: Calendar,
        log: JobLog,
        depot: Depot,
        on_done: Callable[[int], None],
    ) -> None:
        self.env = env
        self.calendar = calendar
        self.log = log
        self.on_done = on_done
        pool = depot.consultants
        self.share = pool.productive_share
        self.horizon = depot.fitting_booking_horizon_workdays
        self.servers = [0] * calendar.n_days
        self.capacity = [0.0] * calendar.n_days
        self.set_count(pool.count, 0)
        self.booked = [0.0] * calendar.n_days
        # workdays in order, and each day's position among them (next workday's position if closed)
        self.workdays = [d for d, w in enumerate(calendar.is_workday.tolist()) if w]
        self.position = (calendar.workday_number - calendar.is_workday).tolist()
        self.waiting: deque[tuple[int, int]] = deque()  # (job, earliest day)

    def set_count(self, count: int, day: int) -> None:
        """``count`` consultants from ``day`` on (at the start, and for a dated change of the pool's count):
        each workday's fitting hours follow, summer staffing included. Fittings already booked on later days
        keep their booking; the new capacity limits what is booked from now on."""
        cal = self.calendar
        hours = cal.hours_per_workday
        staffing = cal.staffing.tolist()
        workday = cal.is_workday.tolist()
        for d in range(day, cal.n_days):
            self.servers[d] = n = round(count * staffing[d])
            self.capacity[d] = n * hours * self.share if workday[d] else 0.0

    def _horizon_end(self, today: int) -> int:
        """The last bookable day (``horizon`` workdays after today)."""
        i = min(self.position[today] + self.horizon, len(self.workdays) - 1)
        return self.workdays[i]

    def _fits(self, d: int, hours: float) -> bool:
        cap = self.capacity[d]
        return cap > 0.0 and (self.booked[d] == 0.0 or self.booked[d] + hours <= cap)

    def request(self, job: int, earliest: float) -> None:
        """Book fitting ``job`` (hours in the log) on the first day from ``earliest`` with room, or wait."""
        today = int(self.env.now)
        first = self.calendar.next_workday(max(int(earliest), today))
        last = self._horizon_end(today)
        log = self.log
        hours = log.hours[log.row(job)]
        if first <= last:
            i = self.position[first]
            while i < len(self.workdays) and self.workdays[i] <= last:
                d = self.workdays[i]
                if self._fits(d, hours):
                    self._book(job, d)
                    return
                i += 1
        self.waiting.append((job, first))

    def morning(self, today: int) -> None:
        """A new day opens at the end of the horizon: book waiting referrals into it, in order."""
        if not self.waiting:
            return
        d = self._horizon_end(today)
        log = self.log
        hours, row = log.hours, log.row
        while self.waiting:
            job, first = self.waiting[0]
            if first > d or not self._fits(d, hours[row(job)]):
                return
            self.waiting.popleft()
            self._book(job, d)

    def _book(self, job: int, d: int) -> None:
        cal, log = self.calendar, self.log
        p = log.row(job)
        before = self.booked[d]
        self.booked[d] = before + log.hours[p]
        servers = max(self.servers[d], 1)
        w0 = cal.cum_hours[d] + min(before / self.share / servers, cal.hours_per_workday)
        w1 = w0 + log.hours[p] / self.share
        end = cal.from_work_clock(w1)
        times, q = log.times, p * TIMES_WIDTH
        times[q + TIME_START] = cal.from_work_clock(w0) if before > 0 else d + cal.open_frac
        times[q + TIME_END] = end
        times[q + TIME_W_START] = w0
        times[q + TIME_W_END] = w1
        self.env.timeout(end - self.env.now, value=job).callbacks.append(self._finish)

    def _finish(self, event: Any) -> None:
        self.on_done(event.value)

    def __len__(self) -> int:
        """Referrals waiting for a booking."""
        return len(self.waiting)
