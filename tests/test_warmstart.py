"""The warm start carries the region's history: the fleet at the start grows and ages like its past demand.

Tolerances come from replications (independent seeds): a mean must lie within 3.5 standard errors (plus a
stated model approximation) of its expectation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.config import load_scenario
from sim.model import Simulation, run
from sim.model.warmstart import simulate_history

SEEDS = range(1, 7)


def _history_growth(growth: float, seed: int) -> tuple[float, float]:
    """Yearly growth of the on-rent stock over the last 5 history years, and the mean device age (years),
    for one category whose orders grow by ``growth`` a year."""
    from sim.config.schema import Category, Dist, DurationComponent

    cat = Category(
        responsibility_class="2",
        purchase_price=Dist(mean=1000.0, cv=0.1),
        depreciation_years=5,
        rental_duration=[DurationComponent(share=1.0, mean=500.0, cv=0.8)],
        return_share=0.9,
        scrap_probability=0.1,
    )
    years = 15
    rates = (2000.0 * (1 + growth) ** (np.arange(years) - years))[:, None]
    hist = simulate_history(np.random.default_rng(seed), cat, rates, np.array([0]), 2023, years)
    stock = hist.on_rent_year_end
    g = float((stock[-1] / stock[-6]) ** (1 / 5) - 1)
    return g, float((-hist.purchased).mean() / 365.25)


@pytest.mark.parametrize("growth", [0.0, 0.05])
def test_history_stock_grows_with_past_orders(growth: float) -> None:
    g = np.array([_history_growth(growth, s)[0] for s in SEEDS])
    se = g.std(ddof=1) / np.sqrt(g.size)
    assert abs(g.mean() - growth) < 3.5 * se + 0.003, (g.mean(), se)


def test_a_growing_fleet_is_younger() -> None:
    """Growth means more recent purchases: the devices on rent at the start are younger than without it
    (paired by seed)."""
    diff = np.array([_history_growth(0.0, s)[1] - _history_growth(0.08, s)[1] for s in SEEDS])
    se = diff.std(ddof=1) / np.sqrt(diff.size)
    assert diff.mean() > 3.5 * se > 0


def _on_rent_growth(tiny_path: Path, growth: float, seed: int) -> float:
    scenario = load_scenario(tiny_path, [f"demand.trend.growth={growth}", "horizon.years=1"])
    out = run(scenario, seed)
    r = out["rentals"]
    r = r[r["tracked"]]
    start = ((r["start_day"] <= 0) & (r["end_day"] > 0)).sum()
    end = ((r["start_day"] <= 365) & (r["end_day"] > 365)).sum()
    return float(end / start - 1)


def test_the_run_continues_the_history_growth(tiny_path: Path) -> None:
    """With demand growing 8 % a year for years before and after the start, the stock on rent grows about
    8 % in the first simulated year: the warm start is on the growth path, not at a stationary level.
    (Allowance 0.02: the trend multiplies demand from the start year on, the stock follows with a lag.)"""
    g = np.array([_on_rent_growth(tiny_path, 0.08, s) for s in SEEDS])
    flat = np.array([_on_rent_growth(tiny_path, 0.0, s) for s in SEEDS])
    se = g.std(ddof=1) / np.sqrt(g.size)
    se_flat = flat.std(ddof=1) / np.sqrt(flat.size)
    assert abs(g.mean() - 0.08) < 3.5 * se + 0.02, (g.mean(), se)
    assert abs(flat.mean()) < 3.5 * se_flat + 0.02, (flat.mean(), se_flat)


def test_initial_devices_carry_their_cycles_and_ages(tiny_path: Path) -> None:
    sim = Simulation(load_scenario(tiny_path, ["horizon.years=0.1"]), 3)
    fleet = sim.fleet
    initial = [d for d in range(len(fleet.cat)) if fleet.initial[d] and fleet.rental[d] >= 0]
    ages = -np.array([fleet.purchased[d] for d in initial])
    elapsed = -np.array([fleet.r_start[fleet.rental[d]] for d in initial])
    cycles = np.array([fleet.cycles[d] for d in initial])
    assert (ages >= elapsed - 1e-9).all()  # a rental began after its device was bought
    assert (cycles >= 1).all() and (cycles > 1).any()  # reissued devices exist
    assert ((cycles > 1) <= (ages > elapsed + 1e-9)).all()  # a reissued device is older than its rental
