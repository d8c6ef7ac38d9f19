"""What capacity cannot buy: each service KPI's limit with unlimited staff and vehicles.

Each KPI is produced by queues (staff pools, consultants' calendars, vehicle loads) plus delays that no
capacity shortens. With unlimited capacity the queues vanish and the KPI tends to the share of events that
those delays alone let through; a target above that limit is out of reach at any capacity:

- delivery on the planned day: ``1 - failed_delivery_probability`` (a failed first attempt misses the day;
  stock-outs can lower it further, capacity does not raise it);
- repair within 5 workdays: ``1 - share of technical work orders whose spare-part wait exceeds 7 days``
  (about 5 workdays), weighted by each category's expected corrective and preventive work orders;
- fitting within 15 workdays: the share of referrals whose earliest possible day
  (``fitting_booking_delay_days``, then the next workday) lies within 15 workdays on the first year's
  calendar (holidays included), averaged over depots.

The repair limit's "7 days" ignores holidays (approximate to about a percentage point). A run's first months
can exceed the fitting limit: fittings referred before the start are not simulated, so early windows miss
the longest waits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from sim.config.schema import Dist, Scenario
from sim.model.calendar import Calendar
from sim.model.distributions import mixture_mean


def _lognorm(mean: float, cv: float) -> Any:
    sigma = math.sqrt(math.log1p(cv * cv))
    return stats.lognorm(sigma, scale=math.exp(math.log(mean) - sigma * sigma / 2))


# scipy's frozen distribution of each family by mean and cv (None: a point mass at the mean); the same
# families as the samplers' registry (sim.model.distributions.FAMILIES), an unknown one is rejected
FROZEN: dict[str, Callable[[float, float], Any] | None] = {
    "fixed": None,
    "exponential": lambda mean, cv: stats.expon(scale=mean),
    "gamma": lambda mean, cv: stats.gamma(1.0 / (cv * cv), scale=mean * cv * cv),
    "lognormal": _lognorm,
}


def _frozen(dist: Dist) -> Any:
    """The scipy distribution of a config ``Dist``, or None for a point mass at its mean."""
    if dist.dist not in FROZEN:
        raise ValueError(f"dist {dist.dist!r}: must be one of {', '.join(FROZEN)}")
    make = FROZEN[dist.dist]
    return None if make is None or dist.cv == 0 else make(dist.mean, dist.cv)


def _ppf(dist: Dist, q: np.ndarray) -> np.ndarray:
    """Quantiles of a config ``Dist``."""
    frozen = _frozen(dist)
    return np.full(q.size, dist.mean) if frozen is None else np.asarray(frozen.ppf(q))


def _within_workdays(calendar: Calendar, delay: Dist, workdays: int) -> float:
    """Share of events arising on the year's workdays (at noon) that are done within ``workdays`` workdays
    when they wait ``delay`` days and are then served on the next workday (the calendar's holidays count)."""
    q = (np.arange(200) + 0.5) / 200
    waits = _ppf(delay, q)
    days = np.flatnonzero(calendar.is_workday[: min(calendar.days, 365)])
    if not days.size:
        return 1.0
    n = calendar.n_days
    # every (day, wait) at once: arising at d + 0.5, ready at t, served on the next workday from t's day
    t = (days[:, None] + 0.5) + waits[None, :]
    day = t.astype(np.int64)  # int(t): t > 0
    nxt = np.asarray([calendar.next_workday(x) for x in range(n)], dtype=np.int64)
    served = np.where(day < n, nxt[np.minimum(day, n - 1)], n - 1)
    number = calendar.workday_number
    within = number[np.minimum(served, n - 1)] - number[days][:, None] <= workdays  # workdays_between
    hits = int(np.count_nonzero(within))
    return hits / (days.size * waits.size)


def _cdf(dist: Dist, x: float) -> float:
    """P(X <= x) for a config ``Dist``."""
    frozen = _frozen(dist)
    if frozen is None:
        return 1.0 if dist.mean <= x else 0.0
    return float(frozen.cdf(x))


def kpi_limits(scenario: Scenario, annual_orders: dict[str, float] | None = None) -> dict[str, float]:
    """Upper limits of the service KPIs at unlimited capacity (``annual_orders`` per category weights the
    categories; equal weights when absent), over the first year's calendar."""
    start = scenario.horizon.start_date
    calendar = Calendar(scenario.calendar, start, 366, margin_days=200)
    cats = {n: c for n, c in scenario.categories.items() if c.rented}
    weight = {n: (annual_orders or {}).get(n, 1.0) for n in cats}
    late = total = 0.0
    for n, c in cats.items():
        stock = weight[n] * mixture_mean(c.rental_duration) / 365.25
        corrective = stock * c.corrective_per_device_year
        total += corrective + stock * c.preventive_per_device_year
        late += corrective * c.spare_part_share * (1.0 - _cdf(c.spare_part_wait_days, 7.0))
    fit_weight = sum(weight[n] * c.fitting_share for n, c in cats.items())
    depots = list(scenario.depots.values())
    fitting = sum(_within_workdays(calendar, d.fitting_booking_delay_days, 15) for d in depots) / len(depots)
    return {
        "kpi_delivery_on_planned_day": 1.0 - scenario.transport.failed_delivery_probability,
        "kpi_repair_done_within_5_workdays": 1.0 - late / total if total > 0 else 1.0,
        "kpi_fitting_offered_within_15_workdays": fitting if fit_weight > 0 else 1.0,
    }


LIMIT_REASONS = {
    "kpi_delivery_on_planned_day": "failed first delivery attempts (transport.failed_delivery_probability)",
    "kpi_repair_done_within_5_workdays": "spare-part waits "
    "(categories.*: spare_part_share, spare_part_wait_days)",
    "kpi_fitting_offered_within_15_workdays": "the earliest day prescriber and patient can attend "
    "(depots.*.fitting_booking_delay_days)",
}
CAPACITY_OF = {
    "kpi_delivery_on_planned_day": "vehicles",
    "kpi_repair_done_within_5_workdays": "service technicians",
    "kpi_fitting_offered_within_15_workdays": "consultants",
}
