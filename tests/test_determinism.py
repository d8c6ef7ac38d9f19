"""Reproducibility: same config and seed give identical outputs; the golden run; one more device."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from golden_run import GOLDEN_DIR, TABLES, differences, golden_tables

from sim.config import load_scenario
from sim.model import Simulation, run
from sim.model.collect import collect
from sim.model.demand import Patients
from sim.model.fates import draw_fates
from sim.model.rng import Streams
from sim.model.warmstart import add_rentals_in_progress
from sim.runner import execute


def test_same_seed_gives_identical_parquet(tiny_path: Path, tmp_path: Path) -> None:
    scenario = load_scenario(tiny_path, ["horizon.years=0.5"])
    execute(scenario, 5, tmp_path / "a")
    execute(scenario, 5, tmp_path / "b")
    files = sorted(p.name for p in (tmp_path / "a").glob("*.parquet"))
    assert len(files) == 9
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_different_seeds_give_different_runs(tiny_path: Path) -> None:
    scenario = load_scenario(tiny_path, ["horizon.years=0.5"])
    a, b = run(scenario, 1), run(scenario, 2)
    assert not a["deliveries"]["delivered_day"].equals(b["deliveries"]["delivered_day"])


@pytest.fixture(scope="module")
def golden() -> dict[str, str]:
    return golden_tables()


@pytest.mark.parametrize("name", TABLES)
def test_golden_scenario_is_reproduced(name: str, golden: dict[str, str]) -> None:
    """Exact for integers, categories and counts; floats within a relative 1e-9 (see tests/golden_run.py)."""
    stored = (GOLDEN_DIR / f"{name}.csv").read_text(encoding="utf-8")
    problems = differences(golden[name], stored)
    assert not problems, (
        f"{name} differs from tests/golden/{name}.csv; if the model change is intended, run "
        "python scripts/regenerate_golden.py and say why in the commit:\n" + "\n".join(problems)
    )


def test_golden_comparison_catches_what_matters() -> None:
    """The tolerant comparison still fails on a changed count, category, row or a float beyond 1e-9."""
    stored = "n,kind,day,flag\n3,sale,46.434915245175318,True\n4,rent,,False\n"
    assert differences("n,kind,day,flag\n3,sale,46.434915245175546,True\n4,rent,,False\n", stored) == []
    assert differences("n,kind,day,flag\n3,sale,46.43491525,True\n4,rent,,False\n", stored) == []  # 1e-10
    for wrong in (
        "n,kind,day,flag\n4,sale,46.434915245175318,True\n4,rent,,False\n",  # a count
        "n,kind,day,flag\n3,rent,46.434915245175318,True\n4,rent,,False\n",  # a category
        "n,kind,day,flag\n3,sale,46.4349153,True\n4,rent,,False\n",  # a float beyond 1e-9
        "n,kind,day,flag\n3,sale,46.434915245175318,True\n4,rent,1.0,False\n",  # a value where none was
        "n,kind,day,flag\n3,sale,46.434915245175318,False\n4,rent,,False\n",  # a flag
        "n,kind,day,flag\n3,sale,46.434915245175318,True\n",  # a row
        "n,kind,flag,day\n3,sale,True,46.434915245175318\n4,rent,False,\n",  # column order
    ):
        assert differences(wrong, stored), wrong


def _with_extra_device(tiny_path: Path, seed: int, extra: bool) -> tuple[Simulation, float]:
    """The tiny region; optionally one more rollator on rent in Village at the start (ends on day 40.5)."""
    scenario = load_scenario(tiny_path)
    sim = Simulation(scenario, seed)
    end = 40.5
    if extra:
        m, c = sim.municipality_names.index("Village"), sim.category_names.index("rollator")
        cat, depot = scenario.categories["rollator"], scenario.depots["Depot"]
        gen = np.random.default_rng(99)  # its own randomness: nobody else's draws may move
        fates = draw_fates(gen, cat, depot, 0.0, 1, durations=np.array([100.0 + end]))
        fates.returned[:] = True
        patients = Patients(*(np.zeros(1, dtype=t) for t in (np.int8, bool, bool, bool, bool, bool)))
        add_rentals_in_progress(
            sim,
            m,
            c,
            np.array([100.0]),
            np.array([800.0]),
            np.array([True]),
            np.array([2000.0]),
            fates,
            patients,
        )
    return sim.run(), end


def test_one_more_device_changes_only_what_it_should(tiny_path: Path) -> None:
    base_sim, end = _with_extra_device(tiny_path, 8, extra=False)
    more_sim, _ = _with_extra_device(tiny_path, 8, extra=True)
    base, more = collect(base_sim.records()), collect(more_sim.records())
    # the order stream and every rental already running at the start are untouched
    assert np.array_equal(base_sim.orders.time, more_sim.orders.time)
    cols = ["start_day", "end_day", "returned", "municipality", "category"]
    b_init = base["rentals"][base["rentals"]["initial"]][cols].reset_index(drop=True)
    m_init = more["rentals"][more["rentals"]["initial"]][cols]
    assert len(m_init) == len(b_init) + 1
    pd.testing.assert_frame_equal(m_init.iloc[: len(b_init)].reset_index(drop=True), b_init)
    # each order's rental lasts the same time in both runs (fates belong to orders, not to event order)
    dur = {
        name: out["rentals"].query("not initial").set_index("order").eval("end_day - start_day")
        for name, out in (("base", base), ("more", more))
    }
    common = dur["base"].index.intersection(dur["more"].index)
    assert len(common) > 0.95 * len(dur["base"])
    assert np.allclose(dur["base"][common], dur["more"][common])
    # until the extra rental ends, the only difference is that device on rent
    ts_b, ts_m = base["timeseries"], more["timeseries"]
    first = pd.Timestamp(base.start_date)
    before_b = ts_b[ts_b["date"] < first + pd.Timedelta(days=int(end))].set_index(
        ["date", "municipality", "category", "metric"]
    )["value"]
    before_m = ts_m[ts_m["date"] < first + pd.Timedelta(days=int(end))].set_index(
        ["date", "municipality", "category", "metric"]
    )["value"]
    diff = before_m.sub(before_b, fill_value=0)
    diff = diff[diff != 0]
    keys = set(diff.index.droplevel("date"))
    assert keys == {("Village", "rollator", "on_rent"), ("Village", "rollator", "on_rent_tracked")}
    assert (diff == 1).all()
    # on the day it ends, Village has exactly one more rollator rental ending
    day = first + pd.Timedelta(days=int(end))
    ends = []
    for out in (base, more):
        ts = out["timeseries"]
        sel = (
            (ts["metric"] == "rental_ends")
            & (ts["municipality"] == "Village")
            & (ts["category"] == "rollator")
            & (ts["date"] == day)
        )
        ends.append(int(ts.loc[sel, "value"].sum()))
    assert ends[1] == ends[0] + 1


def test_a_demand_change_from_the_second_year_keeps_the_first_years_orders(tiny_path: Path) -> None:
    """Orders are drawn per year, so scenarios that differ in demand only from 2024 share 2023's orders."""
    sims = [
        Simulation(load_scenario(tiny_path, ["horizon.years=2", f"demand.trend.growth={g}"]), 3)
        for g in (0.0, 0.3)
    ]
    split = (pd.Timestamp("2024-01-01") - pd.Timestamp("2023-01-01")).days
    firsts, seconds = [], []
    for sim in sims:
        # the model draws a year's orders when the year starts; the whole horizon's, as it will draw them:
        o = sim.demand.generate(Streams(3), sim.days)
        first = o.time < split
        keys = pd.DataFrame({"time": o.time, "municipality": o.municipality, "category": o.category})
        keys["duration"] = o.fates.duration
        keys["returned"] = o.fates.returned
        firsts.append(keys[first].sort_values(["municipality", "category", "time"]).reset_index(drop=True))
        seconds.append(keys[~first])
    assert len(firsts[0]) > 100
    pd.testing.assert_frame_equal(firsts[0], firsts[1])
    # 30 % more expected orders in 2024: the second year's stream must differ, and grow
    assert len(seconds[1]) > 1.15 * len(seconds[0])
