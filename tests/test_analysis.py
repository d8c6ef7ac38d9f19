"""hmsim analyze's presentation: grid inputs are not metrics, share intervals stay in [0, 1] with their
coverage, the pivot has years as columns with money in kSEK and targets beside KPIs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis import analyse, interval, metric_columns, pivot, share_interval
from tests.conftest import hmsim


def _index() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    rows = []
    for scenario, growth, level in (("today__growth=0.0", 0.0, 0.90), ("more__growth=0.02", 0.02, 0.97)):
        for r in range(5):
            rows.append(
                {
                    "scenario": scenario,
                    "scenario_name": scenario.split("__")[0],
                    "demand.trend.growth": growth,
                    "calendar.summer_staffing": 0.6,
                    "replication": r,
                    "seed": r,
                    "status": "ok",
                    "wall_seconds": 1.0,
                    "error": "",
                    **{
                        f"{year}.kpi_delivery_on_planned_day": min(1.0, level + rng.normal(0, 0.02))
                        for year in (2023, 2024)
                    },
                    **{f"{year}.ledger_costs": 150e6 + rng.normal(0, 1e6) for year in (2023, 2024)},
                }
            )
    return pd.DataFrame(rows)


def test_grid_inputs_are_not_metrics() -> None:
    index = _index()
    columns = metric_columns(index, inputs=["calendar.summer_staffing"])
    assert "demand.trend.growth" not in columns and "calendar.summer_staffing" not in columns
    assert set(columns) == {
        f"{y}.{m}" for y in (2023, 2024) for m in ("kpi_delivery_on_planned_day", "ledger_costs")
    }


def test_share_intervals_stay_within_zero_and_one() -> None:
    values = np.array([0.99, 1.0, 0.97, 1.0, 0.995])
    plain = interval(values)
    assert plain["ci_high"] > 1  # the t-interval leaves [0, 1] here
    s = share_interval(values)
    assert 0 <= s["ci_low"] <= s["mean"] <= s["ci_high"] <= 1
    assert s["mean"] == pytest.approx(values.mean())


def test_share_interval_coverage_is_about_95_percent() -> None:
    """Replications of a binomial share (200 events, p = 0.93): the interval covers p about 95 % of the
    time. 4000 trials give a coverage estimate with sd 0.0034; the logit interval's small-sample error is
    within a percentage point here, so the tolerance is +-0.02."""
    rng = np.random.default_rng(11)
    p, events, reps, trials = 0.93, 200, 5, 4000
    shares = rng.binomial(events, p, size=(trials, reps)) / events
    covered = [share_interval(row)["ci_low"] <= p <= share_interval(row)["ci_high"] for row in shares]
    assert np.mean(covered) == pytest.approx(0.95, abs=0.02)


def test_pivot_has_years_as_columns_money_in_ksek_and_targets() -> None:
    index = _index()
    result = analyse(index, baseline="today__growth=0.0", inputs=["calendar.summer_staffing"])
    table = pivot(result, "scenarios", {"kpi_delivery_on_planned_day": 0.95})
    assert list(table.columns[:6]) == ["metric", "unit", "target", "scenario", "n", "replications_needed"]
    assert {"2023 mean", "2023 low", "2023 high", "2024 mean"} <= set(table.columns)
    assert len(table) == 4  # two metrics x two scenarios, not one line per window
    costs = table[(table["metric"] == "ledger_costs") & (table["scenario"] == "today__growth=0.0")].iloc[0]
    raw = index[index["scenario"] == "today__growth=0.0"]["2023.ledger_costs"].mean()
    assert costs["unit"] == "kSEK" and costs["2023 mean"] == pytest.approx(raw / 1000)
    kpi = table[table["metric"] == "kpi_delivery_on_planned_day"].iloc[0]
    assert kpi["unit"] == "share" and kpi["target"] == 0.95
    diffs = pivot(result, "differences")
    assert list(diffs["scenario"]) == ["more__growth=0.02", "more__growth=0.02"]


def test_analyze_prints_a_pivot(tmp_path: Path) -> None:
    folder = tmp_path / "capacity_vastmanland"
    folder.mkdir()
    _index().to_parquet(folder / "index.parquet", index=False)
    (folder / "experiment.json").write_text(
        json.dumps(
            {"experiment": {"name": "capacity_vastmanland", "grid": {"calendar.summer_staffing": [0.6]}}}
        ),
        encoding="utf-8",
    )
    result = hmsim("analyze", str(folder), "--baseline", "today__growth=0.0")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "summer_staffing" not in out and "trend.growth" not in out.replace("__growth", "")
    assert "ledger_costs (kSEK)" in out and "kpi_delivery_on_planned_day (share; target 0.95)" in out
    header = next(line for line in out.splitlines() if "2023" in line and "2024" in line)
    assert header.split() == ["2023", "2024"]
    assert out.count("today__growth=0.0  ") == 2  # one row per metric, years side by side
    assert re.search(r"\b1[45]\d \d{3} \[1[45]\d \d{3}, 1[45]\d \d{3}\]", out)  # ~150 000 kSEK
    assert not re.search(r"\d{3} \d{3} \d{3}", out)  # not 150 000 000 SEK


def test_share_interval_with_replications_at_zero_is_not_pinned_to_the_mean() -> None:
    """One replication of 0.04 among four at 0: the interval reaches past the mean (it once ended at it)."""
    s = share_interval(np.array([0.04, 0.0, 0.0, 0.0, 0.0]))
    assert s["ci_low"] == 0.0 and s["ci_high"] > 2 * s["mean"]
    assert s["ci_high"] == pytest.approx(interval(np.array([0.04, 0.0, 0.0, 0.0, 0.0]))["ci_high"])


@pytest.mark.parametrize(("p", "events"), [(0.01, 100), (0.98, 100)])
def test_share_interval_coverage_near_the_bounds(p: float, events: int) -> None:
    """Rare events (many replications at exactly 0) and near-certain ones (many at 1): coverage at least
    about 95 %. 3000 trials: sd of the estimate 0.004, tolerance 0.015 below."""
    rng = np.random.default_rng(13)
    shares = rng.binomial(events, p, size=(3000, 5)) / events
    covered = [
        (s := share_interval(row))["ci_low"] <= p <= s["ci_high"] and s["ci_low"] >= 0 and s["ci_high"] <= 1
        for row in shares
    ]
    assert np.mean(covered) >= 0.935
