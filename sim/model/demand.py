"""Need arrivals: a non-homogeneous Poisson stream of orders per municipality x category.

The expected orders of a municipality and category in year ``y`` are
``sum over bands of population(m, band, y) x use_rate(c, band) / 1000 x factor(m) x trend(y)`` (population
from :mod:`sim.demography`, with any ``demand.population_scenario``; ``factor(m)`` is the municipality's
``use_rate_factor``, 1 unless a fit sets it; the trend is ``(1 + growth)^(y - base_year)``,
so it also lowers past years). ``annual_rate(year)`` answers for any year of the population table (history
from at least ``HISTORY_YEARS`` before the start, for the warm start) and of the horizon. Within the year the
orders fall on prescribers' workdays in proportion to ``monthly_factor x weekday_weight`` (normalised per
calendar year so the year's total is kept), times any demand shock. Demand is exogenous, so the whole
stream is drawn up front (vectorised) from one named stream per municipality x category; the DES then
consumes it day by day. Each order carries the patient attributes that cost responsibility needs and its
random fate (:mod:`sim.model.fates`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date

import numpy as np

from sim.config.schema import Depot, Scenario
from sim.demography import population_array
from sim.model.calendar import Calendar
from sim.model.fates import Fates, draw_fates
from sim.model.rng import Streams

HISTORY_YEARS = 10  # years before the start year that annual_rate always covers (issue 8: the warm start)


@dataclass
class Patients:
    """Patient attributes of a batch of orders or initial rentals (one entry each)."""

    band: np.ndarray
    child: np.ndarray
    special_housing: np.ndarray
    home_care: np.ndarray
    unit_device: np.ndarray
    unit_municipal: np.ndarray


@dataclass
class OrderStream:
    """All orders of a run, sorted by time; ``day_start[d]`` is the index of day ``d``'s first order."""

    time: np.ndarray
    municipality: np.ndarray
    category: np.ndarray
    fitting: np.ndarray
    patients: Patients
    fates: Fates
    day_start: np.ndarray

    def __len__(self) -> int:
        return int(self.time.size)


class DemandModel:
    """Expected order rates by year, municipality, category and day, and the order stream sampler."""

    def __init__(self, scenario: Scenario, calendar: Calendar) -> None:
        self.scenario = scenario
        self.calendar = calendar
        self.municipalities = list(scenario.municipalities)
        self.categories = list(scenario.categories)
        self.bands = list(scenario.demand.age_bands)
        d = scenario.demand
        first_year = calendar.start.year
        last_year = int(calendar.year[calendar.days - 1]) + 1
        self.years = list(range(first_year, last_year + 1))
        # the whole table (history for the warm start, the projection beyond the horizon) and the horizon
        table_first = min(min(d.population[m]) for m in self.municipalities)
        table_last = max(max(d.population[m]) for m in self.municipalities)
        self.all_years = list(
            range(min(table_first, first_year - HISTORY_YEARS), max(table_last, last_year) + 1)
        )
        self._offset = first_year - self.all_years[0]
        self.population_all = population_array(
            d, self.municipalities, self.bands, self.all_years, start_year=first_year
        )
        use = np.array([[d.use_rates[c].get(b, 0.0) for b in self.bands] for c in self.categories]) / 1000.0
        self.use = use
        base_year = d.trend.base_year if d.trend.base_year is not None else first_year
        trend = np.array([(1.0 + d.trend.growth) ** (y - base_year) for y in self.all_years])
        # contribution[y, m, c, b] = persons x use rate x municipality factor x trend (orders per year)
        factor = np.array([scenario.municipalities[m].use_rate_factor for m in self.municipalities])
        self.contribution_all = (
            self.population_all[:, :, None, :]
            * use[None, None, :, :]
            * factor[None, :, None, None]
            * trend[:, None, None, None]
        )
        self.annual_all = self.contribution_all.sum(axis=3)  # [y, m, c]
        span = slice(self._offset, self._offset + len(self.years))
        self.population = self.population_all[span]
        self.contribution = self.contribution_all[span]
        self.annual = self.annual_all[span]
        monthly = np.asarray(d.monthly_factors, dtype=float)
        self.monthly = monthly / monthly.mean()
        self.weekday = np.ones(7)
        for name, weight in d.weekday_weights.items():
            self.weekday[("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(name)] = weight
        self._year_norm = self._normalisers()

    def _normalisers(self) -> dict[int, float]:
        """Sum over each calendar year's workdays of month factor x weekday weight."""
        year_cal = Calendar(
            self.scenario.calendar,
            date(self.years[0], 1, 1),
            (date(self.years[-1] + 1, 1, 1) - date(self.years[0], 1, 1)).days,
            0,
        )
        weights = np.where(
            year_cal.is_workday, self.monthly[year_cal.month] * self.weekday[year_cal.weekday], 0.0
        )
        self.workdays_in_year = {y: int(year_cal.is_workday[year_cal.year == y].sum()) for y in self.years}
        return {y: float(weights[year_cal.year == y].sum()) for y in self.years}

    def annual_rate(self, year: int) -> np.ndarray:
        """Expected orders per year by ``[municipality, category]`` in calendar year ``year``.

        Any year: the population table's years (history before the start for the warm start, projection
        after it) plus the horizon; before the first of them the first holds, after the last the last."""
        return self.annual_all[min(max(year - self.all_years[0], 0), len(self.all_years) - 1)]

    def band_weights(self, year: int) -> np.ndarray:
        """Expected orders per year by ``[municipality, category, band]`` in ``year`` (clamped as above)."""
        return self.contribution_all[min(max(year - self.all_years[0], 0), len(self.all_years) - 1)]

    def daily_rates(self, days: int, first: int = 0) -> np.ndarray:
        """Expected orders per day, ``[day, municipality, category]``, for days ``first..days-1``."""
        cal = self.calendar
        span = slice(first, days)
        year_idx = cal.year[span] - self.years[0]
        norm = np.array([self._year_norm[int(y)] for y in cal.year[span]])
        weight = (
            np.where(
                cal.is_workday[span], self.monthly[cal.month[span]] * self.weekday[cal.weekday[span]], 0.0
            )
            / norm
        )
        rates = self.annual[year_idx] * weight[:, None, None]
        for shock in self.scenario.demand.shocks:
            d0 = max(cal.day_of(shock.start_date), first)
            d1 = days if shock.end_date is None else min(cal.day_of(shock.end_date) + 1, days)
            if d1 <= d0:
                continue
            mi = [self.municipalities.index(m) for m in shock.municipalities] or list(
                range(len(self.municipalities))
            )
            ci = [self.categories.index(c) for c in shock.categories] or list(range(len(self.categories)))
            factor = np.ones(rates.shape[1:])
            factor[np.ix_(mi, ci)] = shock.multiplier
            rates[d0 - first : d1 - first] *= factor
        return rates

    def draw_patients(
        self, gen: np.random.Generator, m: int, c: int, n: int, year_index: np.ndarray
    ) -> Patients:
        """Patient attributes for ``n`` orders of municipality ``m`` and category ``c``."""
        s = self.scenario
        muni = s.municipalities[self.municipalities[m]]
        cat = s.categories[self.categories[c]]
        bands = list(s.demand.age_bands.values())
        u = gen.random((n, 6))
        band = np.zeros(n, dtype=np.int8)
        for yi in np.unique(year_index):
            # year_index counts from the start year; negative for history years (warm start)
            k = min(max(int(yi) + self._offset, 0), len(self.all_years) - 1)
            w = self.contribution_all[k, m, c]
            total = w.sum()
            cum = np.cumsum(w / total) if total > 0 else np.linspace(1 / len(w), 1, len(w))
            mask = year_index == yi
            band[mask] = np.minimum(np.searchsorted(cum, u[mask, 0], side="right"), len(w) - 1)
        child_share = np.array([b.child_share for b in bands])
        special_share = np.minimum(
            np.array([b.special_housing_share for b in bands]) * muni.special_housing_factor, 1
        )
        home_share = np.minimum(np.array([b.home_care_share for b in bands]) * muni.home_care_factor, 1)
        special = u[:, 2] < special_share[band]
        return Patients(
            band=band,
            child=u[:, 1] < child_share[band],
            special_housing=special,
            home_care=~special & (u[:, 3] < home_share[band]),
            unit_device=u[:, 4] < cat.unit_device_share,
            unit_municipal=u[:, 5] < s.demand.unit_device_municipal_share,
        )

    def _draw_orders(
        self,
        gen: np.random.Generator,
        m: int,
        c: int,
        c_name: str,
        depot: Depot,
        day: np.ndarray,
        year_of_day: np.ndarray,
        parts: list[tuple[np.ndarray, ...]],
        fates: list[Fates],
    ) -> None:
        """Times, fitting flags, patients and fates of the orders falling on ``day`` (one per entry)."""
        s = self.scenario
        cal = self.calendar
        n = day.size
        time = day + cal.open_frac + (cal.close_frac - cal.open_frac) * gen.random(n)
        fitting = gen.random(n) < s.categories[c_name].fitting_share
        p = self.draw_patients(gen, m, c, n, year_of_day[day])
        fates.append(draw_fates(gen, s.categories[c_name], depot, s.transport.dropoff_share, n))
        parts.append((
            time, np.full(n, m, np.int16), np.full(n, c, np.int16), fitting, p.band, p.child,
            p.special_housing, p.home_care, p.unit_device, p.unit_municipal,
        ))  # fmt: skip

    def year_bounds(self, days: int) -> list[tuple[int, int]]:
        """``(first day, end day)`` of each calendar year of the first ``days`` days (empty years dropped)."""
        cal = self.calendar
        bounds = np.searchsorted(cal.year[:days], np.arange(self.years[0], self.years[-1] + 2)).tolist()
        return [(lo, hi) for lo, hi in itertools.pairwise(bounds) if hi > lo]

    def generate_year(self, streams: Streams, lo: int, hi: int) -> OrderStream:
        """Draw every order of days ``lo..hi-1``, one calendar year (one named stream per municipality x
        category x year, so a scenario whose demand differs from some year on shares every order before it).
        ``day_start`` counts from ``lo``: ``day_start[d - lo]`` is the first order of day ``d``."""
        rates = self.daily_rates(hi, lo)
        cal = self.calendar
        s = self.scenario
        year = int(cal.year[lo])
        year_of_day = np.full(hi, year - self.years[0], dtype=np.int16)
        parts: list[tuple[np.ndarray, ...]] = []
        fates: list[Fates] = []
        for m, m_name in enumerate(self.municipalities):
            depot = s.depots[s.municipalities[m_name].depot]
            for c, c_name in enumerate(self.categories):
                gen = streams.generator(f"orders/{m_name}/{c_name}/{year}")
                counts = gen.poisson(rates[:, m, c])
                n = int(counts.sum())
                if n == 0:
                    continue
                day = lo + np.repeat(np.arange(hi - lo), counts)
                self._draw_orders(gen, m, c, c_name, depot, day, year_of_day, parts, fates)
        dtypes = (float, np.int16, np.int16, bool, np.int8, bool, bool, bool, bool, bool)
        cols = [np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, dtype=t)
                for i, t in enumerate(dtypes)]  # fmt: skip
        order = np.argsort(cols[0], kind="stable")
        cols = [col[order] for col in cols]
        day_start = np.searchsorted(cols[0], np.arange(lo, hi + 1), side="left")
        return OrderStream(
            time=cols[0], municipality=cols[1], category=cols[2], fitting=cols[3],
            patients=Patients(*cols[4:10]), fates=Fates.concat(fates).select(order), day_start=day_start,
        )  # fmt: skip

    def generate(self, streams: Streams, days: int) -> OrderStream:
        """Every order of the first ``days`` days at once: the years of :meth:`generate_year` in a row (the
        model draws them one year at a time, see :class:`sim.model.orders.OrderBook`; the numbers are the
        same, as each year's times precede the next year's)."""
        chunks = [self.generate_year(streams, lo, hi) for lo, hi in self.year_bounds(days)]
        return concat_streams(chunks, days)


def concat_streams(chunks: list[OrderStream], days: int) -> OrderStream:
    """Consecutive chunks (each sorted by time, each before the next) as one stream of ``days`` days."""
    dtypes = (float, np.int16, np.int16, bool)
    names = ("time", "municipality", "category", "fitting")
    cols = {
        n: np.concatenate([getattr(ch, n) for ch in chunks]) if chunks else np.zeros(0, dtype=t)
        for n, t in zip(names, dtypes, strict=True)
    }
    pfields = ("band", "child", "special_housing", "home_care", "unit_device", "unit_municipal")
    ptypes = (np.int8, bool, bool, bool, bool, bool)
    patients = Patients(*(
        np.concatenate([getattr(ch.patients, f) for ch in chunks]) if chunks else np.zeros(0, dtype=t)
        for f, t in zip(pfields, ptypes, strict=True)
    ))  # fmt: skip
    day_start = np.searchsorted(cols["time"], np.arange(days + 1), side="left")
    return OrderStream(
        **cols, patients=patients, fates=Fates.concat([ch.fates for ch in chunks]), day_start=day_start
    )
