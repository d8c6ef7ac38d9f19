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


def estimate_work(s: Scenario) -> float:
    """Records a run of ``s`` builds, roughly and from above (see the module docstring)."""
    years = s.horizon.years
    d = s.demand
    band_growth = max([_growth(g, years) for g in d.population_growth.values()], default=1.0)
    start = s.horizon.start_date.year
    base = d.trend.base_year if d.trend.base_year is not None else start
    span = max(abs(start - base), abs(start + years - base))
    trend = _growth(d.trend.growth, span) if d.trend.growth > 0 else _growth(-d.trend.growth, span)
    shock = max([1.0, *(sh.multiplier for sh in d.shocks)])
    scale = band_growth * trend * shock
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


# Peak memory of one run from its work (measured with benchmarks/bench_run.py and /usr/bin/time, see
# docs/performance.md, "Records flushed per year", 2026-11-23): the interpreter with numpy, pandas and SimPy
# imported, plus per unit of work about 90-100 bytes for the model's state, records and output tables
# (10-year Västmanland: 2.10 million units, 424 MB peak; 10x Västmanland over 10 years: 21.0 million, 2 071
# MB) and about 290 bytes with the economics, which still reads whole tables (`hmsim run` of 10-year
# Västmanland end to end: 818 MB). A batch run has the economics and the summary: the figure is rounded up
# to 350 bytes so that the estimate errs on the high side (more so for long horizons, whose estimated work
# grows faster than the records that stay in memory). The base: importing sim.model (numpy, pandas, scipy,
# SimPy) peaks at 174 MB and a 2-year run of the tiny test region, with the warm start's 15 years of
# history (arrays freed before the run starts), at 201 MB (measured 2026-11-23). Since the order book keeps
# only the fates of undelivered orders and the economics reads only its columns (2026-11-24) the figures are
# lower still (10-year Västmanland: 387-391 MB for the model, 754 MB end to end; 10x Västmanland over 20
# years: 80 million units, 3.4 GB for the model and 6.3 GB end to end with `hmsim run`), so the estimate errs
# further on the high side: 944 MB and 28 GB for those two runs. Memory now grows with the region's state
# more than with its history, which one figure per unit of work cannot follow; a two-term estimate (state
# from the fleet on rent, history from the orders over the horizon) is the next step.
BASE_MEMORY_MB = 210.0
MEMORY_BYTES_PER_WORK = 350.0


def estimate_memory_mb(s: Scenario) -> float:
    """Peak memory (MB) of one run of ``s``, roughly and from above."""
    return BASE_MEMORY_MB + estimate_work(s) * MEMORY_BYTES_PER_WORK / 1e6
