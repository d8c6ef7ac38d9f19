"""Population by municipality, age band and year: table values, interpolation and projection.

Table years are read as the population during that year. Between table years values are interpolated
linearly; before the first year the first year holds; after the last year each band grows by its
``population_growth`` rate per year (0 if not given).
"""

from __future__ import annotations

from collections.abc import Sequence

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


def population_array(
    demand: Demand, municipalities: Sequence[str], bands: Sequence[str], years: Sequence[int]
) -> np.ndarray:
    """Persons as an array indexed ``[year, municipality, band]``."""
    out = np.zeros((len(years), len(municipalities), len(bands)))
    for yi, year in enumerate(years):
        for mi, m in enumerate(municipalities):
            for bi, band in enumerate(bands):
                growth = demand.population_growth.get(band, 0.0)
                out[yi, mi, bi] = population_at(demand.population[m], band, year, growth)
    return out
