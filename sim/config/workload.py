"""Estimate the work of a run from its config alone, so a run that would take hours or exhaust memory is
refused in a second with the figures that make it large (instead of a MemoryError after minutes).

The estimate is a rough sum (within a few times, measured in tests/test_config.py) of the records a run
builds: orders over the horizon (population x use
rates, with population growth, the trend and the largest shock applied as if they held throughout),
devices on rent at the start (the warm start: yearly orders x mean rental duration) and the work orders
(repairs, inspections) of every rental over its whole duration (the model draws them when a rental
starts). It is compared with :data:`sim.config.limits.MAX_RUN_WORK`.
"""

from __future__ import annotations

import math

from sim.config.limits import MAX_RUN_WORK
from sim.config.schema import Scenario

DAYS_PER_YEAR = 365.25
AGE_CAP_YEARS = 15.0  # as sim.model.fates.AGE_CAP_YEARS (sim.config must not import the model)


def _growth(rate: float, years: float) -> float:
    """``(1 + rate) ** years`` for the worst year, never below 1, saturating instead of overflowing."""
    if years <= 0 or rate <= 0:
        return 1.0
    log = years * math.log1p(rate)
    return math.exp(min(log, 700.0))


def orders_per_year(s: Scenario) -> dict[str, float]:
    """Expected orders per year by category at the largest population of the tables (before growth)."""
    out: dict[str, float] = {}
    for c, rates in s.demand.use_rates.items():
        total = 0.0
        for muni, years in s.demand.population.items():
            m = s.municipalities.get(muni)
            factor = m.use_rate_factor if m is not None else 1.0
            for band, rate in rates.items():
                persons = max((by_band.get(band, 0.0) for by_band in years.values()), default=0.0)
                total += persons * rate * factor / 1000.0
        out[c] = total
    return out


def _trend(s: Scenario, years: float) -> float:
    """The trend and the largest shock on the orders of a year by ``years`` after the start, from above
    (the trend at its largest over the span, the shock as if it held throughout)."""
    d = s.demand
    start = s.horizon.start_date.year
    base = d.trend.base_year if d.trend.base_year is not None else start
    span = max(abs(start - base), abs(start + years - base))
    trend = _growth(d.trend.growth, span) if d.trend.growth > 0 else _growth(-d.trend.growth, span)
    return trend * max([1.0, *(sh.multiplier for sh in d.shocks)])


def _scale(s: Scenario, years: float) -> float:
    """The factor on the orders of a year by ``years`` after the start, from above: the fastest-growing
    band's growth for all, the trend at its largest and the largest shock as if they held throughout."""
    growth = s.demand.population_growth.values()
    return max([_growth(g, years) for g in growth], default=1.0) * _trend(s, years)


def estimate_work(s: Scenario) -> float:
    """Records a run of ``s`` builds, roughly and from above (see the module docstring)."""
    years = s.horizon.years
    scale = _scale(s, years)
    work = 0.0
    for c, per_year in orders_per_year(s).items():
        cat = s.categories.get(c)
        annual = per_year * scale
        work += annual * years
        if cat is None or not cat.rented:
            continue
        duration = sum(comp.share * comp.mean for comp in cat.rental_duration) / DAYS_PER_YEAR
        fleet = annual * duration
        # the model draws each rental's work orders over its whole duration when the rental starts
        # (candidates at the age-capped rate, thinned later: sim.model.fates)
        per_device_year = (
            cat.corrective_per_device_year * (1 + cat.corrective_age_factor * AGE_CAP_YEARS)
            + cat.preventive_per_device_year
        )
        work += fleet + (fleet + annual * years) * duration * per_device_year
        if not math.isfinite(work):
            return math.inf
    return work


def memory_terms(s: Scenario) -> tuple[float, float]:
    """``(state, history)`` of a run of ``s`` for its memory estimate: the devices on rent in its largest
    year (yearly orders of rented categories x mean rental duration, at the largest growth: what the model
    holds while it runs) and the orders over its horizon (what the tables and the economics read at the
    end: rentals, deliveries, devices and jobs grow with them), a year at a time with each age band's own
    growth at the year's end, the trend at its largest and the largest shock."""
    years = s.horizon.years
    state = 0.0
    for c, orders in orders_per_year(s).items():
        cat = s.categories.get(c)
        if cat is not None and cat.rented:
            duration = sum(comp.share * comp.mean for comp in cat.rental_duration) / DAYS_PER_YEAR
            state += orders * _scale(s, years) * duration
    by_band = _orders_by_band(s)
    growth = s.demand.population_growth
    history, done = 0.0, 0.0
    while done < years:  # a year at a time, at the growth of its end
        step = min(1.0, years - done)
        done += step
        yearly = sum(n * _growth(growth.get(band, 0.0), done) for band, n in by_band.items())
        history += yearly * _trend(s, done) * step
        if not math.isfinite(history):
            return state, math.inf
    return state, history


def _orders_by_band(s: Scenario) -> dict[str, float]:
    """Expected orders per year by age band (all categories), at the largest population of the tables."""
    out: dict[str, float] = {}
    for rates in s.demand.use_rates.values():
        for muni, years in s.demand.population.items():
            m = s.municipalities.get(muni)
            factor = m.use_rate_factor if m is not None else 1.0
            for band, rate in rates.items():
                persons = max((by_band.get(band, 0.0) for by_band in years.values()), default=0.0)
                out[band] = out.get(band, 0.0) + persons * rate * factor / 1000.0
    return out


def check_work(s: Scenario) -> list[str]:
    """One line if the run of ``s`` would be too large to attempt, naming what makes it large."""
    work = estimate_work(s)
    if work <= MAX_RUN_WORK:
        return []
    by_cat = orders_per_year(s)
    top = max(by_cat, key=lambda c: by_cat[c]) if by_cat else "-"
    return [
        f"(run size): about {work:.3g} orders, devices and work orders over {s.horizon.years:g} years "
        f"(largest: demand.use_rates.{top}, {by_cat.get(top, 0):.3g} orders a year before growth): more "
        f"than the {MAX_RUN_WORK:.3g} hmsim attempts in one run; check population, use rates, growth, "
        "shocks, rental durations and work-order rates"
    ]


# Peak memory of one run end to end (model, economics, tables written to Parquet, summary: what `hmsim run`
# and a batch task do), from two terms of its config (:func:`memory_terms`): the state the model holds
# while it runs grows with the devices on rent, the history the tables and the economics read at the end
# with the orders over the horizon. Fitted (least squares of the relative errors, above 220 MB) to the peaks
# measured with /usr/bin/time -v on `hmsim run` (docs/performance.md, "`hmsim run` end to end within 500 MB",
# 2026-11-24; MiB): 2-year tiny_economics 214, Västmanland over 1, 2 and 10 years 278, 316 and 413,
# Norrbotten over 10 years 449, ten times Västmanland over 10 and 20 years 2 293 and 4 178 (693 bytes per
# device on rent and 58 per order; 646 and 87 with the 20-year figure before the last economics step).
# The estimate takes 650 and 90 bytes and multiplies the whole by MEMORY_MARGIN so that it errs on the
# high side: 3 % (Norrbotten) to 50 % (10x region over 20 years) above each of the seven. Since the
# economics lets go of the per-device asset schedule during its revenue steps (docs/performance.md, "The
# session's closing measurements") 10-year Västmanland and the 20-year 10x region peak at 403 and 3 743 MiB,
# and the estimate lies 33 % and 68 % above them.
BASE_MEMORY_MB = 220.0
STATE_BYTES = 650.0  # per device on rent in the largest year
HISTORY_BYTES = 90.0  # per order over the horizon
MEMORY_MARGIN = 1.25


def estimate_memory_mb(s: Scenario) -> float:
    """Peak memory (MB) of one run of ``s`` end to end, roughly and from above."""
    state, history = memory_terms(s)
    return MEMORY_MARGIN * (BASE_MEMORY_MB + (state * STATE_BYTES + history * HISTORY_BYTES) / 1e6)
