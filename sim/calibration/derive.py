"""Derived keys of a calibration: values computed at every point from the point's own config, not searched.

A spec's ``derived`` maps a dotted key to a derivation of the registry :data:`DERIVATIONS`:

- ``trend_for_growth``: the demand trend (``demand.trend.growth``, a share per year beyond demography) that
  makes the expected orders of the rented categories grow by ``growth`` a year over the first ``years``
  years. In a steady state the rented stock grows as its orders, so this carries a documented stock growth
  (Västmanland's tracked rented devices +5 % a year) into the demand model without simulating years. The
  demographic part comes from the config's population table and its use rates by age band, so it moves
  with the fitted rates (a factor on the bands under 65 changes the weight of the growing 80+);
  ``band_weight`` weights each band by the sum of some of its ``demand.age_bands`` fields, e.g. the shares
  the municipalities pay (special housing and home care) for a growth observed on municipal stock.

The derivation is deterministic (expected orders, no random draws) and costs a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from sim.calibration.spec import DerivedSpec
from sim.config import build_scenario
from sim.config.loader import set_value
from sim.errors import ConfigError

Derivation = Callable[[dict[str, Any], DerivedSpec], float]


def expected_growth(
    raw: dict[str, Any], years: int, band_fields: list[str], trend: float | None = None
) -> float:
    """Mean yearly growth of the expected orders of rented categories over ``years`` years, bands weighted
    by the sum of ``band_fields`` of ``demand.age_bands`` (1 without); with ``trend`` given, that trend
    instead of the config's."""
    import copy

    from sim.model.calendar import Calendar
    from sim.model.demand import DemandModel

    data = copy.deepcopy(raw)
    if trend is not None:
        set_value(data, ["demand", "trend", "growth"], trend, "derived")
    horizon = dict(data.get("horizon", {}))
    horizon["years"] = years + 1
    data["horizon"] = horizon
    scenario = build_scenario(data, "derived")
    start = scenario.horizon.start_date
    days = (start.replace(year=start.year + years + 1) - start).days
    demand = DemandModel(scenario, Calendar(scenario.calendar, start, days))
    rented = np.array([c.rented for c in scenario.categories.values()])
    bands = scenario.demand.age_bands
    weight = np.array(
        [sum(float(getattr(bands[b], f)) for f in band_fields) if band_fields else 1.0 for b in demand.bands]
    )
    first = demand.years[0]
    totals = [
        float((demand.contribution[y - first][:, rented, :] * weight).sum()) for y in (first, first + years)
    ]
    if not totals[0] > 0:
        raise ConfigError(
            "derived trend_for_growth: no expected orders of rented categories in the first year"
        )
    return float((totals[1] / totals[0]) ** (1.0 / years) - 1.0)


def demographic_growth(raw: dict[str, Any], years: int, band_fields: list[str]) -> float:
    """The growth of expected rented orders from population alone (trend 0)."""
    return expected_growth(raw, years, band_fields, trend=0.0)


def trend_for_growth(raw: dict[str, Any], spec: DerivedSpec) -> float:
    return float((1.0 + spec.growth) / (1.0 + demographic_growth(raw, spec.years, spec.band_weight)) - 1.0)


DERIVATIONS: dict[str, Derivation] = {"trend_for_growth": trend_for_growth}


def check(derived: Mapping[str, DerivedSpec]) -> None:
    from sim.config.schema import AgeBand

    problems = [
        f"derived.{key}.kind: {d.kind!r}: unknown; valid: {', '.join(DERIVATIONS)}"
        for key, d in derived.items()
        if d.kind not in DERIVATIONS
    ]
    fields = [f for f in AgeBand.model_fields if f.endswith("_share")]
    problems += [
        f"derived.{key}.band_weight: {f!r}: not a share of an age band; valid: {', '.join(fields)}"
        for key, d in derived.items()
        for f in d.band_weight
        if f not in fields
    ]
    if problems:
        raise ConfigError(problems)


def derive(
    raw: dict[str, Any], pairs: list[tuple[str, Any]], derived: Mapping[str, DerivedSpec]
) -> list[tuple[str, Any]]:
    """``pairs`` plus the derived keys, each computed on ``raw`` with ``pairs`` applied."""
    if not derived:
        return pairs
    import copy

    data = copy.deepcopy(raw)
    for key, value in pairs:
        set_value(data, key.split("."), value, key)
    out = list(pairs)
    for key, spec in derived.items():
        value = round(DERIVATIONS[spec.kind](data, spec), 6)
        set_value(data, key.split("."), value, f"derived.{key}")
        out.append((key, value))
    return out
