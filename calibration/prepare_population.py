"""Derive the population tables of the shipped configs (municipality x age band x year, 2010-2040).

Run from the repository root: ``python calibration/prepare_population.py``. Reads
``calibration/reference/population_*.csv``, ``calibration/reference/demography_assumptions.csv`` and
``calibration/observed/*.csv`` (copies of ``../shared/data`` with their source columns) and writes
``configs/data/population_{vastmanland,norrbotten}.csv``: one row per municipality, year and band with a
``source`` that says whether the value is observed, interpolated, back-cast or projected, and how. The method
and the fit residuals are in docs/demography.md; this docstring is the short version.

Bands: age_0_19, age_20_64, age_65_79, age_80_plus (the configs' bands).

Method: a cohort model through the bands (:class:`sim.demography.BandFlow`): each year a share of every band
ages into the next, band death rates and births per person aged 20-64 are assumptions
(demography_assumptions.csv), and net migration per band is fitted per county to the stated facts by least
squares (relative residuals), together with the unknown 80+ share of 65+ and the share of 65-79 reaching 80
each year (the 1940s cohorts make that band top-heavy). Each municipality is then run with its county's
parameters from its own observed base year; observed years are kept as observed.

Norrbotten (observed by municipality 2023 and 2025: 0-15, 16-24, 25-44, 45-64, 65+):
  0-19 = 0-15 + 4/9 of 16-24 and 20-64 = 5/9 of 16-24 + 25-44 + 45-64 (assumption: even ages within 16-24);
  ageing out of 0-19 and 20-64 from the observed densities at their top ages (16-24 / 9 and 45-64 / 20);
  80+ / 65+ fitted (same ratio in every municipality: assumption, no municipal 80+ data).
  Facts fitted: county changes 2023-2025 by band (population_norrbotten_by_age.csv); 80+ share 0.064 at
  2019-12-31 and population 249 748 at 2020-06-30 (norrbotten_review_2020.csv share_80plus, population);
  60+ share 0.307 and +582 / -517 persons a year 60+ / under 60 in 2015-2019 (share_60plus,
  annual_change_60plus, annual_change_under60); 75+ +36 % 2010-2024 (norrbotten_followup_2024.csv
  persons_75plus_growth); 80+ +40 % 2019-2030 and total -5.2 % 2020-2040 (devices_sweden_facts.csv
  norrbotten_80plus_growth_projection, norrbotten_population_change_projection). 60+ = 65+ + 5/45 of 20-64
  and 75+ = 80+ + 5/15 of 65-79 (assumption: even ages within the band).
  2024: linear interpolation of 2023 and 2025. 2010-2022: back-cast from 2023. 2026-2040: projected from 2025.

Västmanland (observed 2024: 20-64 and "0-19 and 65+" by municipality; 2018: 65+ by municipality):
  65+ in 2024 = the 2018 65+ of each municipality x one county factor (fitted with the rest); 0-19 = "0-19 and
  65+" minus that 65+; ageing out of 0-19 and 20-64: even ages (assumption); share of 65-79 reaching 80:
  Norrbotten's fitted value (assumption: the 1940s cohorts are national). Net migration: one rate for 0-64 and
  one for 65+ (assumption: too few facts for four).
  Facts fitted: 65+ share 0.22 in 2025 (vastmanland_review_2026.csv population_share_65plus); county 65+ 2018
  (population_vastmanland.csv); 80+ share 0.052 in 2019 and +50 % 2019-2030 (national figures, assumed for
  Västmanland), total growth 0.5 %/yr and a 65+ share of 0.235 in 2040 (assumptions: "grows slowly with a
  growing 65+ share", docs/sources.md D5) and 75+ +36 % 2010-2024 as Norrbotten (assumption); all in
  demography_assumptions.csv. 2010-2023: back-cast from 2024, each municipality's 65-79 and 80+ scaled to its
  observed 2018 65+ (the factor log-interpolated to 1 in 2024, held before 2018). 2025-2040: projected.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim.demography import BandFlow  # noqa: E402

REF = ROOT / "calibration" / "reference"
OBS = ROOT / "calibration" / "observed"
OUT = ROOT / "configs" / "data"
BANDS = ("age_0_19", "age_20_64", "age_65_79", "age_80_plus")
FIRST, LAST = 2010, 2040
SCRIPT = "calibration/prepare_population.py"


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def observed(file: str, metric: str, segment: str = "all") -> float:
    for row in read(OBS / file):
        if row["metric"] == metric and row["segment"] == segment:
            return float(row["value"])
    raise KeyError(metric)


def fact(name: str) -> float:
    for row in read(REF / "devices_sweden_facts.csv"):
        if row["fact"] == name:
            return float(row["value"])
    raise KeyError(name)


def assumption(parameter: str, band: str = "all") -> float:
    for row in read(REF / "demography_assumptions.csv"):
        if row["parameter"] == parameter and row["band"] == band:
            return float(row["value"])
    raise KeyError(parameter)


DEATH = tuple(assumption("death_rate", b) for b in BANDS)
BIRTH = assumption("birth_rate", "age_20_64")


@dataclass
class Fit:
    """A county's fitted flow and the facts' residuals (for the report)."""

    flow: BandFlow
    ageing_early: tuple[float, float]  # shares of 20-64 reaching 65 and 65-79 reaching 80 before SWITCH
    extra: dict[str, float]
    residuals: dict[str, tuple[float, float]]  # fact -> (model, target)
    county: dict[int, np.ndarray] = field(default_factory=dict)  # the county's persons by band and year


def solve(
    unpack: Callable[[np.ndarray], tuple[BandFlow, float, dict[str, float]]],
    facts: Callable[[BandFlow, float, dict[str, float]], dict[str, tuple[float, float]]],
    x0: list[float],
    lo: list[float],
    hi: list[float],
) -> Fit:
    """Least squares on the relative residuals of ``facts`` over the parameters ``x``."""

    def residual(x: np.ndarray) -> np.ndarray:
        flow, early, extra = unpack(x)
        misses = [m / t - 1.0 for m, t in facts(flow, early, extra).values()]
        # weak prior: net migration rates near 0 (1 % a year costs as much as missing a fact by 0.5 %)
        prior = [0.5 * m for m in flow.migration]
        return np.array(misses + prior)

    res = least_squares(residual, np.array(x0), bounds=(np.array(lo), np.array(hi)))
    flow, early, extra = unpack(res.x)
    return Fit(flow, early, extra, facts(flow, early, extra))


def series(flow: BandFlow, base: np.ndarray, base_year: int) -> dict[int, np.ndarray]:
    """Persons by band for FIRST..LAST, run backwards and forwards from ``base`` in ``base_year``."""
    back = flow.run(base, FIRST - base_year)
    fwd = flow.run(base, LAST - base_year)
    out = {base_year - k: back[k] for k in range(back.shape[0])}
    out.update({base_year + k: fwd[k] for k in range(fwd.shape[0])})
    return out


# ---- Norrbotten ---------------------------------------------------------------------------------------


def norrbotten_bands(row: dict[str, str]) -> tuple[float, float, float]:
    """0-19, 20-64 and 65+ of one observed row (16-24 split 4/9 : 5/9)."""
    a1624 = float(row["age_16_24"])
    return (
        float(row["age_0_15"]) + a1624 * 4 / 9,
        a1624 * 5 / 9 + float(row["age_25_44"]) + float(row["age_45_64"]),
        float(row["age_65_plus"]),
    )


SWITCH = 2020  # first year of the observed-density ageing out of 20-64 (before it: fitted, the 1940s cohorts)


def county_series(
    flow: BandFlow, start: np.ndarray, ageing_early: tuple[float, float]
) -> dict[int, np.ndarray]:
    """The county's persons by band for FIRST..LAST, run forwards from its (fitted) FIRST state; until
    SWITCH the shares of 20-64 reaching 65 and of 65-79 reaching 80 are ``ageing_early`` (the large 1940s
    cohorts turned 65 before 2020 and turn 80 after it)."""
    early = replace(flow, ageing=(flow.ageing[0], *ageing_early))
    first = early.run(start, SWITCH - FIRST)
    second = flow.run(first[-1], LAST - SWITCH)
    rows = [*first, *second[1:]]
    return {FIRST + k: rows[k] for k in range(len(rows))}


def fit_norrbotten(table: list[dict[str, str]]) -> Fit:
    """Net migration by band, the share of 65-79 reaching 80 and the 2010 state, fitted to the facts."""
    county = {y: np.zeros(3) for y in (2023, 2025)}
    for row in table:
        county[int(row["year"])] += norrbotten_bands(row)
    rows23 = [r for r in table if r["year"] == "2023"]
    a0 = sum(float(r["age_16_24"]) for r in rows23) / 9 / county[2023][0]
    a1 = sum(float(r["age_45_64"]) for r in rows23) / 20 / county[2023][1]
    pop_2020 = observed("norrbotten_review_2020.csv", "population")
    share80 = observed("norrbotten_review_2020.csv", "share_80plus")
    share60 = observed("norrbotten_review_2020.csv", "share_60plus")
    ch60 = observed("norrbotten_review_2020.csv", "annual_change_60plus")
    ch_u60 = observed("norrbotten_review_2020.csv", "annual_change_under60")
    g75 = observed("norrbotten_followup_2024.csv", "persons_75plus_growth")
    g80 = fact("norrbotten_80plus_growth_projection")
    g_total = fact("norrbotten_population_change_projection")

    def unpack(x: np.ndarray) -> tuple[BandFlow, float, dict[str, float]]:
        flow = BandFlow((a0, a1, float(x[4])), DEATH, tuple(float(v) for v in x[:4]), BIRTH)
        extra = {f"{band} {FIRST}": float(np.exp(v)) for band, v in zip(BANDS, x[7:11], strict=True)}
        return flow, (float(x[5]), float(x[6])), extra

    def facts(
        flow: BandFlow, early: tuple[float, float], extra: dict[str, float]
    ) -> dict[str, tuple[float, float]]:
        s = county_series(flow, np.array(list(extra.values())), early)

        def p60(y: int) -> float:
            return float(s[y][2] + s[y][3] + s[y][1] * 5 / 45)

        def p75(y: int) -> float:
            return float(s[y][3] + s[y][2] * 5 / 15)

        total = {y: float(v.sum()) for y, v in s.items()}
        out = {}
        for y in (2023, 2025):
            out[f"0-19 {y} (observed)"] = (float(s[y][0]), float(county[y][0]))
            out[f"20-64 {y} (observed)"] = (float(s[y][1]), float(county[y][1]))
            out[f"65+ {y} (observed)"] = (float(s[y][2] + s[y][3]), float(county[y][2]))
        return out | {
            "population 2020-06-30": ((total[2019] + total[2020]) / 2, pop_2020),
            "80+ share 2019": (float(s[2019][3]) / total[2019], share80),
            "60+ share 2019": (p60(2019) / total[2019], share60),
            "60+ 2019 / 2015": (p60(2019) / p60(2015), p60(2019) / (p60(2019) - 4 * ch60)),
            "under 60 2019 / 2015": (
                (total[2019] - p60(2019)) / (total[2015] - p60(2015)),
                (total[2019] - p60(2019)) / (total[2019] - p60(2019) - 4 * ch_u60),
            ),
            "75+ 2024 / 2010": (p75(2024) / p75(2010), 1 + g75),
            "80+ 2030 / 2019": (float(s[2030][3] / s[2019][3]), 1 + g80),
            "total 2040 / 2020": (total[2040] / total[2020], 1 + g_total),
        }

    c = county[2023]
    start = np.log([c[0], c[1], c[2] * 0.75, c[2] * 0.25])
    fit = solve(
        unpack,
        facts,
        x0=[0.0, 0.0, 0.0, 0.0, 1 / 15, 1 / 45, 1 / 15, *start],
        lo=[-0.01, -0.01, -0.01, -0.01, 1 / 30, 1 / 60, 1 / 30, *(start - 0.7)],
        hi=[0.01, 0.01, 0.01, 0.01, 1 / 7, 1 / 15, 1 / 7, *(start + 0.7)],
    )
    fit.county = county_series(fit.flow, np.array(list(fit.extra.values())), fit.ageing_early)
    return fit


def split_80(county: dict[int, np.ndarray], year: int) -> float:
    return float(county[year][3] / (county[year][2] + county[year][3]))


def norrbotten() -> Fit:
    table = read(REF / "population_norrbotten_by_age.csv")
    fit = fit_norrbotten(table)
    flow, county = fit.flow, fit.county
    by_muni: dict[str, dict[int, dict[str, str]]] = {}
    for row in table:
        by_muni.setdefault(row["municipality"], {})[int(row["year"])] = row
    split = {y: split_80(county, y) for y in (2023, 2025)}
    how = (
        f"0-19 = 0-15 + 4/9 of 16-24; 20-64 = 5/9 of 16-24 + 25-44 + 45-64; 80+ = {{s:.3f}} of 65+ "
        f"(the county model's ratio, {SCRIPT})"
    )
    rows: list[tuple[str, int, str, float, str]] = []
    for muni, years in by_muni.items():
        base: dict[int, np.ndarray] = {}
        for y in (2023, 2025):
            b0, b1, b65 = norrbotten_bands(years[y])
            base[y] = np.array([b0, b1, b65 * (1 - split[y]), b65 * split[y]])
        fwd = flow.run(base[2025], LAST - 2025)
        for year in range(FIRST, LAST + 1):
            if year in (2023, 2025):
                values = base[year]
                src = (
                    f"observed: population_norrbotten_by_age.csv {muni} {year} (SCB via Regionfakta); "
                    + how.format(s=split[year])
                )
            elif year == 2024:
                values = (base[2023] + base[2025]) / 2
                src = "interpolated: linear between the observed 2023 and 2025"
            elif year < 2023:
                values = base[2023] * county[year] / county[2023]
                src = (
                    "back-cast: the observed 2023 x the county band-flow cohort model's change per band "
                    f"since {year} ({SCRIPT}, docs/demography.md)"
                )
            else:
                values = fwd[year - 2025]
                src = (
                    "projected: band-flow cohort model run forwards from the municipality's 2025 "
                    f"({SCRIPT}, docs/demography.md)"
                )
            rows += [(muni, year, band, float(v), src) for band, v in zip(BANDS, values, strict=True)]
    write(OUT / "population_norrbotten.csv", rows)
    return fit


# ---- Västmanland --------------------------------------------------------------------------------------


def fit_vastmanland(
    table: list[dict[str, str]], ageing_65_79: float, ageing_early: tuple[float, float]
) -> Fit:
    """Net migration (0-64, 65+) and the 2010 state, fitted to the facts; 65-79 ageing from Norrbotten."""
    y2024 = [r for r in table if r["year"] == "2024"]
    young_65 = sum(float(r["age_0_19_and_65_plus"]) for r in y2024)
    p2064 = sum(float(r["age_20_64"]) for r in y2024)
    p65_2018 = sum(float(r["age_65_plus"]) for r in table if r["year"] == "2018")
    share65 = observed("vastmanland_review_2026.csv", "population_share_65plus")
    share80 = assumption("vastmanland_share_80plus")
    g80 = assumption("vastmanland_80plus_growth")
    growth = assumption("vastmanland_population_growth")
    a0 = assumption("ageing_uniform", "age_0_19")
    a1 = assumption("ageing_uniform", "age_20_64")

    def unpack(x: np.ndarray) -> tuple[BandFlow, float, dict[str, float]]:
        mig = (float(x[0]), float(x[0]), float(x[1]), float(x[1]))
        extra = {f"{band} {FIRST}": float(np.exp(v)) for band, v in zip(BANDS, x[2:6], strict=True)}
        return BandFlow((a0, a1, ageing_65_79), DEATH, mig, BIRTH), (ageing_early[0], float(x[6])), extra

    def facts(
        flow: BandFlow, early: tuple[float, float], extra: dict[str, float]
    ) -> dict[str, tuple[float, float]]:
        s = county_series(flow, np.array(list(extra.values())), early)
        total = {y: float(v.sum()) for y, v in s.items()}
        return {
            "20-64 2024 (observed)": (float(s[2024][1]), p2064),
            "0-19 and 65+ 2024 (observed)": (float(s[2024][0] + s[2024][2] + s[2024][3]), young_65),
            "65+ 2018 (observed)": (float(s[2018][2] + s[2018][3]), p65_2018),
            "65+ share 2025": (float((s[2025][2] + s[2025][3]) / total[2025]), share65),
            "65+ share 2040": (
                float((s[2040][2] + s[2040][3]) / total[2040]),
                assumption("vastmanland_share_65plus_2040"),
            ),
            "80+ share 2019": (float(s[2019][3]) / total[2019], share80),
            "80+ 2030 / 2019": (float(s[2030][3] / s[2019][3]), 1 + g80),
            "total 2040 / 2018": (total[2040] / total[2018], (1 + growth) ** 22),
            "75+ 2024 / 2010": (
                float((s[2024][3] + s[2024][2] / 3) / (s[2010][3] + s[2010][2] / 3)),
                1 + assumption("vastmanland_75plus_growth"),
            ),
        }

    total_2024 = young_65 + p2064
    start = np.log(np.array([0.23, 0.56, 0.15, 0.05]) * total_2024 * 0.92)
    fit = solve(
        unpack,
        facts,
        x0=[0.0, 0.0, *start, ageing_early[1]],
        lo=[-0.01, -0.01, *(start - 0.7), 1 / 30],
        hi=[0.01, 0.01, *(start + 0.7), 1 / 7],
    )
    fit.county = county_series(fit.flow, np.array(list(fit.extra.values())), fit.ageing_early)
    return fit


def vastmanland(ageing_65_79: float, ageing_early: tuple[float, float]) -> Fit:
    table = read(REF / "population_vastmanland.csv")
    fit = fit_vastmanland(table, ageing_65_79, ageing_early)
    flow, county = fit.flow, fit.county
    y2018 = {r["municipality"]: float(r["age_65_plus"]) for r in table if r["year"] == "2018"}
    # 65+ 2024 by municipality: its 2018 65+ x one factor giving the county the model's 65+ share in 2024
    rows24 = [r for r in table if r["year"] == "2024"]
    total_2024 = sum(float(r["age_20_64"]) + float(r["age_0_19_and_65_plus"]) for r in rows24)
    share_2024 = float((county[2024][2] + county[2024][3]) / county[2024].sum())
    scale = share_2024 * total_2024 / sum(y2018.values())
    split = split_80(county, 2024)
    rows: list[tuple[str, int, str, float, str]] = []
    for row in (r for r in table if r["year"] == "2024"):
        muni = row["municipality"]
        p65 = y2018[muni] * scale
        base = np.array([float(row["age_0_19_and_65_plus"]) - p65, float(row["age_20_64"]), p65 * (1 - split),
                         p65 * split])  # fmt: skip
        fwd = flow.run(base, LAST - 2024)
        back = {y: base * county[y] / county[2024] for y in range(FIRST, 2024)}
        # the municipality's own 2018 65+ (observed): scale its 65-79 and 80+ to it, phased in from 2024
        anchor = y2018[muni] / float(back[2018][2] + back[2018][3])
        for year in range(FIRST, LAST + 1):
            if year == 2024:
                values = base
                src = (
                    f"observed: population_vastmanland.csv {muni} 2024 (SCB via Regionfakta) 20-64 and "
                    f"0-19 + 65+; 65+ = 65+ 2018 x {scale:.4f} (county 65+ share {share_2024:.3f}, model); "
                    f"80+ = {split:.3f} of 65+ (the county model's ratio, {SCRIPT})"
                )
            elif year > 2024:
                values = fwd[year - 2024]
                src = (
                    "projected: band-flow cohort model run forwards from the municipality's 2024 "
                    f"({SCRIPT}, docs/demography.md)"
                )
            else:
                values = back[year].copy()
                values[2:] *= anchor ** (min(2024 - year, 6) / 6)
                if year == 2018:
                    src = (
                        f"observed 65+ (population_vastmanland.csv {muni} 2018); 65-79 / 80+, 0-19 / 20-64 "
                        f"from the county band-flow cohort model's change since 2024 ({SCRIPT}, "
                        "docs/demography.md)"
                    )
                else:
                    src = (
                        "back-cast: the 2024 values x the county band-flow cohort model's change per band, "
                        f"65+ scaled to the observed 2018 65+ (factor {anchor:.3f}, phased in from 2024) "
                        f"({SCRIPT}, docs/demography.md)"
                    )
            rows += [(muni, year, band, float(v), src) for band, v in zip(BANDS, values, strict=True)]
    write(OUT / "population_vastmanland.csv", rows)
    return fit


def write(path: Path, rows: list[tuple[str, int, str, float, str]]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=lambda r: (r[0], r[1], BANDS.index(r[2])))
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["municipality", "year", "band", "persons", "source"])
        for muni, year, band, persons, source in rows:
            writer.writerow([muni, year, band, round(persons), source])
    tmp.replace(path)
    print(f"wrote {path.relative_to(ROOT)} ({len(rows)} rows)")


def report(name: str, fit: Fit) -> None:
    f = fit.flow
    print(f"{name}: net migration by band {', '.join(f'{m:+.4f}' for m in f.migration)} per year; "
          f"ageing {', '.join(f'{a:.4f}' for a in f.ageing)} "
          f"(before {SWITCH}: {fit.ageing_early[0]:.4f}, {fit.ageing_early[1]:.4f})"
          + "".join(f"; {k} {v:.4f}" for k, v in fit.extra.items()))  # fmt: skip
    for k, (model, target) in fit.residuals.items():
        print(f"  {k}: model {model:.5g} / target {target:.5g} ({(model / target - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    nb = norrbotten()
    report("Norrbotten", nb)
    vm = vastmanland(nb.flow.ageing[2], nb.ageing_early)
    report("Västmanland", vm)
