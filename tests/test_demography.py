"""Demography: shipped population tables, the cohort model, year-indexed demand, population scenarios."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from sim.config import build_scenario, load_scenario
from sim.demography import BandFlow
from sim.errors import ConfigError
from sim.experiment.plan import load_plan
from sim.model import Simulation
from sim.store import read_run

ROOT = Path(__file__).resolve().parents[1]
REGIONS = ROOT / "configs" / "regions"
DATA = ROOT / "configs" / "data"
REF = ROOT / "calibration" / "reference"
BANDS = ("age_0_19", "age_20_64", "age_65_79", "age_80_plus")
KINDS = ("observed", "interpolated", "back-cast", "projected")
PS = "demand.population_scenario"


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def county(region: str) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in read(DATA / f"population_{region}.csv"):
        out[int(row["year"])][row["band"]] += float(row["persons"])
    return out


@pytest.mark.parametrize(("region", "start"), [("vastmanland", 2023), ("norrbotten", 2024)])
def test_table_covers_ten_years_of_history_to_2040_with_a_source_per_row(region: str, start: int) -> None:
    rows = read(DATA / f"population_{region}.csv")
    cells = {(r["municipality"], int(r["year"]), r["band"]) for r in rows}
    munis = {r["municipality"] for r in rows}
    assert len(cells) == len(rows)  # no duplicates
    for m in munis:
        for year in range(start - 10, 2041):
            for band in BANDS:
                assert (m, year, band) in cells, (m, year, band)
    for r in rows:
        assert r["source"].split(" ")[0].rstrip(":") in KINDS, r["source"]
        assert float(r["persons"]) >= 0


def test_norrbotten_observed_years_keep_the_reference_totals() -> None:
    ref = {
        (r["municipality"], int(r["year"])): float(r["total"])
        for r in read(REF / "population_norrbotten_by_age.csv")
    }
    table: dict[tuple[str, int], float] = defaultdict(float)
    for r in read(DATA / "population_norrbotten.csv"):
        table[(r["municipality"], int(r["year"]))] += float(r["persons"])
    for key, total in ref.items():
        assert table[key] == pytest.approx(total, abs=3), key  # bands rounded to persons


def test_vastmanland_observed_2024_keeps_the_reference_working_age() -> None:
    ref = {
        r["municipality"]: float(r["age_20_64"])
        for r in read(REF / "population_vastmanland.csv")
        if r["year"] == "2024"
    }
    rows = read(DATA / "population_vastmanland.csv")
    got = {
        r["municipality"]: float(r["persons"])
        for r in rows
        if r["year"] == "2024" and r["band"] == "age_20_64"
    }
    assert got == pytest.approx(ref, abs=1)


def test_norrbotten_table_follows_the_stated_growth_facts() -> None:
    c = county("norrbotten")
    total = {y: sum(v.values()) for y, v in c.items()}
    assert c[2030]["age_80_plus"] / c[2019]["age_80_plus"] == pytest.approx(1.40, abs=0.03)
    assert total[2040] / total[2020] == pytest.approx(1 - 0.052, abs=0.01)
    # the oldest grow while the county shrinks
    assert c[2040]["age_80_plus"] > c[2020]["age_80_plus"] and total[2040] < total[2020]


def test_vastmanland_grows_slowly_with_a_growing_old_share() -> None:
    c = county("vastmanland")
    total = {y: sum(v.values()) for y, v in c.items()}
    share_65 = {y: (v["age_65_79"] + v["age_80_plus"]) / total[y] for y, v in c.items()}
    assert 0 < total[2040] / total[2024] - 1 < 0.2
    assert share_65[2025] == pytest.approx(0.22, abs=0.01)
    assert share_65[2040] > share_65[2024]


def test_band_flow_conserves_persons_without_births_deaths_or_migration() -> None:
    flow = BandFlow((0.05, 0.02, 0.07), (0, 0, 0, 0), (0, 0, 0, 0), 0.0)
    run = flow.run([100.0, 300.0, 80.0, 20.0], 30)
    assert run.sum(axis=1) == pytest.approx(np.full(31, 500.0))
    assert run[-1, 3] > 20.0  # people age into the open band


def test_band_flow_backwards_undoes_forwards() -> None:
    flow = BandFlow((0.05, 0.022, 0.067), (0.0002, 0.002, 0.016, 0.11), (0.004, 0.004, -0.007, -0.007), 0.017)
    start = np.array([60000.0, 135000.0, 44000.0, 18000.0])
    ahead = flow.run(start, 5)[-1]
    assert flow.run(ahead, -5)[-1] == pytest.approx(start, rel=1e-9)


def test_annual_rate_follows_population_by_year_including_history() -> None:
    scenario = load_scenario(REGIONS / "vastmanland.yaml", ["horizon.years=0.1"])
    demand = Simulation(scenario, 1).demand
    table = county("vastmanland")
    use = scenario.demand.use_rates
    trend = scenario.demand.trend  # the trend beyond demography multiplies every year (issue 8, section 2)
    base = trend.base_year if trend.base_year is not None else scenario.horizon.start_date.year
    for year in (2013, 2018, 2023, 2030, 2040):
        expected = sum(table[year][b] * use[c].get(b, 0.0) / 1000 for c in use for b in BANDS)
        expected *= (1.0 + trend.growth) ** (year - base)
        assert demand.annual_rate(year).sum() == pytest.approx(expected, rel=1e-3), year
    assert demand.annual_rate(2040).sum() > demand.annual_rate(2013).sum()


def test_population_scenario_grows_the_band_as_stated_and_keeps_earlier_years() -> None:
    base = load_scenario(REGIONS / "norrbotten.yaml", ["horizon.years=0.1"])
    grown = load_scenario(
        REGIONS / "norrbotten.yaml",
        [
            "horizon.years=0.1",
            "demand.population_scenario.age_80_plus.growth=0.4",
            "demand.population_scenario.age_80_plus.target_year=2030",
        ],
    )
    d0, d1 = Simulation(base, 1).demand, Simulation(grown, 1).demand
    b80 = d0.bands.index("age_80_plus")
    y = d0.all_years.index
    # 80+ in 2030 is 40 % above the start year's (2024) in every municipality
    ratio = d1.population_all[y(2030), :, b80] / d0.population_all[y(2024), :, b80]
    assert ratio == pytest.approx(np.full(ratio.size, 1.4))
    # other bands, and every year up to the start, untouched
    others = [i for i in range(len(d0.bands)) if i != b80]
    assert np.array_equal(d1.population_all[:, :, others], d0.population_all[:, :, others])
    assert np.array_equal(d1.population_all[: y(2024) + 1], d0.population_all[: y(2024) + 1])
    for year in (2014, 2020, 2024):
        assert np.array_equal(d1.annual_rate(year), d0.annual_rate(year))
    # demand from 80+ scales by the same factor in 2030
    use80 = np.array([base.demand.use_rates[c].get("age_80_plus", 0.0) for c in d0.categories]) / 1000
    extra = (d1.population_all[y(2030), :, b80] - d0.population_all[y(2030), :, b80])[:, None] * use80[
        None, :
    ]
    trend = base.demand.trend  # the trend beyond demography multiplies every year (issue 8, section 2)
    start = trend.base_year if trend.base_year is not None else base.horizon.start_date.year
    extra *= (1.0 + trend.growth) ** (2030 - start)
    # and by each municipality's use-rate factor (Pajala's is fitted, calibration/norrbotten_payers.yaml)
    extra *= np.array([base.municipalities[m].use_rate_factor for m in d0.municipalities])[:, None]
    assert d1.annual_rate(2030) - d0.annual_rate(2030) == pytest.approx(extra)


def test_population_scenario_per_municipality_changes_only_that_municipality() -> None:
    over = [
        "horizon.years=0.1",
        "demand.population_scenario.age_80_plus.target_year=2030",
        "demand.population_scenario.age_80_plus.municipalities.Sala=0.5",
    ]
    d0 = Simulation(load_scenario(REGIONS / "vastmanland.yaml", ["horizon.years=0.1"]), 1).demand
    d1 = Simulation(load_scenario(REGIONS / "vastmanland.yaml", over), 1).demand
    sala = d0.municipalities.index("Sala")
    changed = np.any(d1.population_all != d0.population_all, axis=(0, 2))
    assert changed.tolist() == [m == sala for m in range(len(d0.municipalities))]
    b80, y = d0.bands.index("age_80_plus"), d0.all_years.index
    assert d1.population_all[y(2030), sala, b80] / d0.population_all[y(2023), sala, b80] == pytest.approx(1.5)


def _share_65plus(run_dir: Path, day: float) -> float:
    """Share of the tracked patient devices on rent on ``day`` held by patients 65+."""
    r = read_run(run_dir, ["rentals"])["rentals"]
    on = r[(r["start_day"] < day) & (r["end_day"] > day) & r["tracked"] & ~r["unit_device"]]
    return float(on["band"].astype(str).isin(["age_65_79", "age_80_plus"]).mean())


def test_holders_age_profile_follows_the_documents(vastmanland_run: Path, norrbotten_run: Path) -> None:
    """58 % of Västmanland's devices are held by 65+ (vastmanland_review_2026.csv device_share_65plus, the
    calibration target: 0.03 covers the fit's convergence, the fleet's sampling noise is below 0.005). With
    the same use rates Norrbotten's older population holds a larger share, below the national 70 % of
    *persons* (devices_sweden_facts.csv; younger holders hold more devices each)."""
    vm = _share_65plus(vastmanland_run, 120.0)
    nb = _share_65plus(norrbotten_run, 90.0)
    assert vm == pytest.approx(0.58, abs=0.03)
    assert vm < nb < 0.75


def test_population_scenario_works_in_experiment_scenarios_and_grids(tmp_path: Path) -> None:
    exp = tmp_path / "older.yaml"
    exp.write_text(
        f"name: older\nbase: {ROOT / 'tests' / 'data' / 'tiny.yaml'}\n"
        "scenarios:\n  today: {}\n"
        "  older: {demand.population_scenario.old: {growth: 0.4, target_year: 2024, base_year: 2023}}\n"
        "replications: 1\nyears: 0.1\nmetrics: [orders]\n",
        encoding="utf-8",
    )
    plan = load_plan(exp, tmp_path / "out")
    demand = {t.scenario: Simulation(build_scenario(t.config, t.scenario), 1).demand for t in plan.tasks}
    old = demand["today"].bands.index("old")
    y = demand["today"].all_years.index
    today, older = demand["today"].population_all, demand["older"].population_all
    assert older[y(2024), :, old] == pytest.approx(1.4 * today[y(2023), :, old])
    assert np.array_equal(older[: y(2023) + 1], today[: y(2023) + 1])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ([f"{PS}.age_90_plus.growth=0.4", f"{PS}.age_90_plus.target_year=2030"],
         "demand.population_scenario: 'age_90_plus': must name a band of demand.age_bands"),
        ([f"{PS}.age_80_plus.growth=0.4", f"{PS}.age_80_plus.target_year=2020"],
         "demand.population_scenario.age_80_plus.target_year: 2020: must be after the base year 2023"),
        ([f"{PS}.age_80_plus.target_year=2030", f"{PS}.age_80_plus.municipalities.Uppsala=0.2"],
         "demand.population_scenario.age_80_plus.municipalities: 'Uppsala': must name a municipality"),
    ],
)  # fmt: skip
def test_bad_population_scenarios_give_one_line_each(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_scenario(REGIONS / "vastmanland.yaml", overrides)
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith(message)
