"""The working calendar: Swedish holidays, workday counting and the working-time clock."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from sim.config.schema import Calendar as CalendarConfig
from sim.model.calendar import Calendar


@pytest.fixture(scope="module")
def cal() -> Calendar:
    return Calendar(CalendarConfig(), date(2023, 1, 1), 365)


def test_swedish_holidays_and_weekends_are_closed(cal: Calendar) -> None:
    closed = [
        date(2023, 1, 6),
        date(2023, 4, 7),
        date(2023, 4, 10),
        date(2023, 5, 1),
        date(2023, 6, 6),
        date(2023, 6, 23),
        date(2023, 12, 25),
        date(2023, 12, 26),
        date(2023, 12, 29 + 1),
    ]  # Sat 30 Dec
    for day in closed:
        assert not cal.is_workday[cal.day_of(day)], day
    assert cal.is_workday[cal.day_of(date(2023, 1, 2))]  # a Monday
    # de-facto holidays off: midsummer eve becomes a workday
    plain = Calendar(CalendarConfig(de_facto_holidays=False), date(2023, 1, 1), 365)
    assert plain.is_workday[plain.day_of(date(2023, 6, 23))]
    assert 245 <= int(cal.is_workday[:365].sum()) <= 252


def test_summer_staffing_applies_in_summer_weeks_only(cal: Calendar) -> None:
    assert cal.staffing[cal.day_of(date(2023, 7, 12))] == pytest.approx(0.6)
    assert cal.staffing[cal.day_of(date(2023, 9, 12))] == 1.0


def test_work_hours_skip_nights_and_weekends(cal: Calendar) -> None:
    friday_15 = cal.day_of(date(2023, 1, 13)) + 15 / 24
    end = cal.add_work_hours(friday_15, 3.0)  # 1 h on Friday, 2 h on Monday
    assert end == pytest.approx(cal.day_of(date(2023, 1, 16)) + 10 / 24)
    # work started at night begins at the next opening
    assert cal.add_work_hours(cal.day_of(date(2023, 1, 16)) + 2 / 24, 1.0) == pytest.approx(
        cal.day_of(date(2023, 1, 16)) + 9 / 24
    )
    assert cal.next_open(cal.day_of(date(2023, 1, 14)) + 0.5) == pytest.approx(
        cal.day_of(date(2023, 1, 16)) + 8 / 24
    )


def test_work_clock_inverse_round_trips(cal: Calendar) -> None:
    rng = np.random.default_rng(3)
    for t in rng.uniform(0, 300, 500):
        w = cal.work_clock(t)
        back = cal.from_work_clock(w)
        assert back <= t + 1e-9  # the earliest time the clock reads w
        assert cal.work_clock(back) == pytest.approx(w)
        for h in (0.5, 7.9, 8.0, 40.0):
            end = cal.add_work_hours(t, h)
            assert cal.work_clock(end) - cal.work_clock(t) == pytest.approx(h)


def test_workdays_between_counts_workdays_after_the_first_day(cal: Calendar) -> None:
    fri, mon = cal.day_of(date(2023, 1, 13)), cal.day_of(date(2023, 1, 16))
    assert cal.workdays_between(fri + 0.4, fri + 0.6) == 0
    assert cal.workdays_between(fri + 0.4, mon + 0.5) == 1
    assert cal.workdays_between(mon, mon + 7) == 5
