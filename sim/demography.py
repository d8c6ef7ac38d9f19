"""Population by municipality, age band and year: table values, interpolation, projection and scenarios.

Table years are read as the population during that year (the shipped tables hold SCB's 31 December
figures under their year). Between table years values are interpolated linearly; before the first year the
first year holds; after the last year each band grows by its ``population_growth`` rate per year (0 if not
given). The shipped tables (``configs/data/population_*.csv``) run from 2010 to 2040, so the growth rates only
matter beyond 2040.

A planner's what-if on the table ("80+ grows 40 % by 2030") is ``demand.population_scenario``: per band
(optionally per municipality) the growth from a base year (default: the start year) to a target year,
phased in geometrically; years up to the base year keep the table's values (see :func:`scenario_persons`).

:class:`BandFlow` is the cohort model behind the shipped tables (``calibration/prepare_population.py``,
docs/demography.md): persons age through the bands, die at a band death rate, migrate at a band net
migration rate, and births enter the first band in proportion to the working-age band.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sim.config.schema import Demand


def population_at(table: dict[int, dict[str, float]], band: str, year: int, growth: float = 0.0) -> float:
    """Persons in ``band`` during ``year`` from one municipality's ``year -> band -> persons`` table."""
    years = sorted(table)
    if year <= years[0]:
        return float(table[years[0]][band])
    if year >= years[-1]:
        return float(table[years[-1]][band]) * (1.0 + growth) ** (year - years[-1])
    hi = next(y for y in years if y >= year)
    lo = max(y for y in years if y <= year)
    if hi == lo:
        return float(table[lo][band])
    w = (year - lo) / (hi - lo)
    return float(table[lo][band]) * (1.0 - w) + float(table[hi][band]) * w


def scenario_persons(
    growth: float, base_year: int, target_year: int, year: int, table: Callable[[int], float]
) -> float:
    """Persons of one band and municipality in ``year`` under a population scenario.

    ``table(y)`` gives the table's persons. Up to ``base_year`` the table holds; from there to
    ``target_year`` the band grows geometrically to ``(1 + growth) x table(base_year)``; after the target
    year it follows the table's own relative change from the target year on.
    """
    if year <= base_year:
        return table(year)
    reached = table(base_year) * (1.0 + growth)
    if year <= target_year:
        return float(table(base_year) * (1.0 + growth) ** ((year - base_year) / (target_year - base_year)))
    at_target = table(target_year)
    return float(reached * table(year) / at_target) if at_target > 0 else float(reached)


def population_array(
    demand: Demand,
    municipalities: Sequence[str],
    bands: Sequence[str],
    years: Sequence[int],
    start_year: int | None = None,
) -> np.ndarray:
    """Persons as an array indexed ``[year, municipality, band]``, with ``demand.population_scenario``
    applied (its default base year is ``start_year``, else the first of ``years``)."""
    out = np.zeros((len(years), len(municipalities), len(bands)))
    for mi, m in enumerate(municipalities):
        for bi, band in enumerate(bands):
            growth = demand.population_growth.get(band, 0.0)

            def table(year: int, m: str = m, band: str = band, growth: float = growth) -> float:
                return population_at(demand.population[m], band, year, growth)

            change = demand.population_scenario.get(band)
            g = None if change is None else change.municipalities.get(m, change.growth)
            for yi, year in enumerate(years):
                if change is None or g is None:
                    out[yi, mi, bi] = table(int(year))
                    continue
                base = change.base_year if change.base_year is not None else (start_year or int(years[0]))
                out[yi, mi, bi] = scenario_persons(g, base, change.target_year, int(year), table)
    return out


@dataclass(frozen=True)
class BandFlow:
    """Yearly cohort flow through contiguous age bands (a linear model ``P[t+1] = M @ P[t]``).

    ``ageing[b]`` is the share of band ``b`` that reaches the next band's first age in a year (1 / band
    width if ages are spread evenly in the band); ``death[b]`` and ``migration[b]`` are yearly death and net
    migration rates of band ``b`` (migration negative for net emigration); ``birth_rate`` births per person
    of band ``parent_band`` enter band 0. The last band is open (no ageing out).
    """

    ageing: tuple[float, ...]
    death: tuple[float, ...]
    migration: tuple[float, ...]
    birth_rate: float
    parent_band: int = 1

    def matrix(self) -> np.ndarray:
        n = len(self.death)
        if len(self.ageing) != n - 1 or len(self.migration) != n:
            raise ValueError("BandFlow: ageing needs one rate fewer than death and migration")
        m = np.zeros((n, n))
        for b in range(n):
            out = self.ageing[b] if b < n - 1 else 0.0
            m[b, b] = 1.0 - out - self.death[b] + self.migration[b]
            if b > 0:
                m[b, b - 1] += self.ageing[b - 1]
        m[0, self.parent_band] += self.birth_rate
        return m

    def run(self, start: Sequence[float], years: int) -> np.ndarray:
        """Persons by band for ``|years|`` years from ``start``: forward if ``years > 0``, backwards if
        ``years < 0``; row 0 is ``start``, row ``k`` is ``k`` years away from it."""
        step = self.matrix() if years >= 0 else np.linalg.inv(self.matrix())
        out = np.zeros((abs(years) + 1, len(start)))
        out[0] = np.asarray(start, dtype=float)
        for k in range(1, abs(years) + 1):
            out[k] = step @ out[k - 1]
        return out
