"""Experiments: planning, common random numbers, determinism across executors, resume, failure isolation,
and the analysis statistics against scipy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, hmsim
from scipy import stats

from sim.analysis import analyse, interval, replications_needed
from sim.errors import ConfigError
from sim.experiment import load_plan, run_batch

DATA = Path(__file__).resolve().parent / "data"
EXPERIMENT = DATA / "tiny_experiment.yaml"


def write_experiment(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "experiment.yaml"
    path.write_text(f"base: {DATA / 'tiny_economics.yaml'}\n" + body, encoding="utf-8")
    return path


def run_files(folder: Path) -> dict[str, bytes]:
    """Every Parquet file of every run folder, by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.glob("*/*/*.parquet"))}


def comparable(index: pd.DataFrame) -> pd.DataFrame:
    return index.drop(columns=["wall_seconds"]).reset_index(drop=True)


def test_plan_is_the_grid_times_replications_with_paired_seeds() -> None:
    plan = load_plan(EXPERIMENT, "unused")
    assert len(plan.tasks) == 2 * 2 * 3
    labels = sorted({t.label for t in plan.tasks})
    assert labels == [
        "base__failed_delivery_probability=0.0",
        "base__failed_delivery_probability=0.3",
        "more_technicians__failed_delivery_probability=0.0",
        "more_technicians__failed_delivery_probability=0.3",
    ]
    for r in range(3):
        assert len({t.seed for t in plan.tasks if t.replication == r}) == 1  # common random numbers
    assert len({t.seed for t in plan.tasks}) == 3
    configs = {t.label: t.config for t in plan.tasks}
    assert (
        configs["more_technicians__failed_delivery_probability=0.3"]["depots"]["Depot"][
            "service_technicians"
        ]["count"]
        == 4
    )
    assert configs["base__failed_delivery_probability=0.3"]["transport"]["failed_delivery_probability"] == 0.3
    assert len({t.config_hash for t in plan.tasks}) == 4


def test_a_nested_scenario_override_merges_instead_of_replacing() -> None:
    key = "scenarios.more_technicians.depots"
    plan = load_plan(EXPERIMENT, "unused", [f"{key}={{Depot: {{consultants: {{count: 5}}}}}}"])
    depot = next(t for t in plan.tasks if t.scenario == "more_technicians").config["depots"]["Depot"]
    assert depot["consultants"]["count"] == 5
    assert depot["service_technicians"]["count"] == 4  # the scenario's own dotted override is kept
    base = next(t for t in plan.tasks if t.scenario == "base").config["depots"]["Depot"]
    assert depot["reconditioning_technicians"] == base["reconditioning_technicians"]  # untouched, not dropped
    assert base["consultants"]["count"] != 5


def test_plan_errors_are_one_line_each(tmp_path: Path) -> None:
    path = write_experiment(
        tmp_path,
        "name: x\nreplications: 2\nmetrics: [orderz]\nscenarios:\n"
        "  more: {depots.Depot.service_technicians.cnt: 3}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_plan(path)
    assert any("metrics: 'orderz': unknown; valid:" in p for p in info.value.problems)
    path = write_experiment(
        tmp_path, "name: x\nreplications: 2\nscenarios:\n  more: {depots.Depot.service_technicians.cnt: 3}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_plan(path)
    (line,) = info.value.problems
    assert line.startswith(
        "scenario more: depots.Depot.service_technicians.cnt: unknown key; did you mean 'count'?"
    )
    path = write_experiment(tmp_path, "name: x\nreplication: 2\n")
    with pytest.raises(ConfigError) as info:
        load_plan(path)
    assert any("replication: unknown key; did you mean 'replications'?" in p for p in info.value.problems)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """The tiny experiment with one local worker: the reference for every other executor."""
    out = tmp_path_factory.mktemp("batch") / "one"
    result = run_batch(load_plan(EXPERIMENT, out), workers=1, progress=False)
    assert result.failed == 0 and result.ran == 12
    return out, result.index


def test_two_workers_and_dask_store_identical_results(
    reference: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    ref_dir, ref_index = reference
    two = run_batch(load_plan(EXPERIMENT, tmp_path / "two"), workers=2, progress=False)
    pd.testing.assert_frame_equal(comparable(two.index), comparable(ref_index))
    assert run_files(tmp_path / "two") == run_files(ref_dir)
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        on_dask = run_batch(
            load_plan(EXPERIMENT, tmp_path / "dask"), dask=cluster.scheduler_address, progress=False
        )
    pd.testing.assert_frame_equal(comparable(on_dask.index), comparable(ref_index))
    assert run_files(tmp_path / "dask") == run_files(ref_dir)


def test_rerunning_a_finished_batch_changes_nothing(reference: tuple[Path, pd.DataFrame]) -> None:
    ref_dir, ref_index = reference
    manifests = {p: p.read_bytes() for p in ref_dir.glob("*/*/manifest.json")}
    again = run_batch(load_plan(EXPERIMENT, ref_dir), workers=1, progress=False)
    assert again.ran == 0 and again.skipped == 12
    pd.testing.assert_frame_equal(again.index.reset_index(drop=True), ref_index.reset_index(drop=True))
    assert {p: p.read_bytes() for p in ref_dir.glob("*/*/manifest.json")} == manifests


def test_resume_after_the_batch_is_killed(reference: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    ref_dir, ref_index = reference
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", "batch", str(EXPERIMENT), "--workers", "1", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        done = [p for p in out.glob("*/*/manifest.json") if json.loads(p.read_text())["status"] == "ok"]
        if len(done) >= 3 or proc.poll() is not None:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the batch and its worker processes, mid-way
    proc.wait()
    finished_before = len(list(out.glob("*/*/manifest.json")))
    assert 0 < finished_before < 12, "the batch should have been killed mid-way"
    for manifest in out.glob("*/*/manifest.json"):  # whatever exists is complete, never half-written
        assert json.loads(manifest.read_text())["status"] == "ok"
    resumed = run_batch(load_plan(EXPERIMENT, out), workers=1, progress=False)
    assert resumed.skipped == finished_before and resumed.ran == 12 - finished_before
    pd.testing.assert_frame_equal(comparable(resumed.index), comparable(ref_index))
    assert run_files(out) == run_files(ref_dir)
    assert sorted(p.parent.relative_to(out) for p in out.glob("*/*/manifest.json")) == sorted(
        Path(t.out_dir).relative_to(out) for t in load_plan(EXPERIMENT, out).tasks
    )
    assert not list(out.rglob("*.partial-*")) and not list(out.rglob(".*.old-*"))


def test_a_failing_run_is_recorded_and_the_batch_goes_on(tmp_path: Path) -> None:
    path = write_experiment(
        tmp_path,
        "name: failing\nreplications: 2\nyears: 0.3\nkeep_tables: [timeseries]\n"
        "scenarios:\n  fine: {}\n  broken: {categories.rollator.repair_hours.mean: 1.0e7}\n",
    )
    result = hmsim("batch", str(path), "--workers", "2", "--out", str(tmp_path / "out"))
    assert result.returncode == 1 and "2 run(s) failed" in result.stderr and "Traceback" not in result.stderr
    index = pd.read_parquet(tmp_path / "out" / "index.parquet")
    assert index.set_index(["scenario", "replication"])["status"].to_dict() == {
        ("fine", 0): "ok",
        ("fine", 1): "ok",
        ("broken", 0): "failed",
        ("broken", 1): "failed",
    }
    manifest = json.loads((tmp_path / "out" / "broken" / "0" / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "work-time distributions" in manifest["error"]
    assert (tmp_path / "out" / "fine" / "1" / "timeseries.parquet").exists()


def test_confidence_intervals_match_scipy() -> None:
    data = np.array([12.1, 9.8, 11.4, 10.9, 13.0, 10.2, 11.7])
    ours = interval(data, 0.95)
    low, high = stats.t.interval(0.95, len(data) - 1, loc=data.mean(), scale=stats.sem(data))
    assert ours["ci_low"] == pytest.approx(low) and ours["ci_high"] == pytest.approx(high)
    assert ours["mean"] == pytest.approx(data.mean()) and ours["sd"] == pytest.approx(data.std(ddof=1))
    # paired differences equal scipy's one-sample interval of the differences
    base = np.array([10.0, 11.5, 9.0, 12.0, 10.5])
    other = base + np.array([0.8, 1.1, 0.6, 1.3, 0.9])
    index = pd.DataFrame(
        {
            "scenario": ["b"] * 5 + ["o"] * 5,
            "scenario_name": ["b"] * 5 + ["o"] * 5,
            "replication": list(range(5)) * 2,
            "status": "ok",
            "all.x": np.concatenate([base, other]),
        }
    )
    diff = analyse(index, baseline="b")["differences"]["o"]["all.x"]
    d = other - base
    low, high = stats.t.interval(0.95, 4, loc=d.mean(), scale=stats.sem(d))
    assert diff["ci_low"] == pytest.approx(low) and diff["ci_high"] == pytest.approx(high)
    # replications needed: the smallest n whose t-interval is within the precision
    sd, mean, precision = 3.0, 20.0, 0.05
    n = int(replications_needed(sd, mean, precision))
    half = lambda k: stats.t.ppf(0.975, k - 1) * sd / np.sqrt(k)  # noqa: E731
    assert half(n) <= precision * mean < half(n - 1)


def test_analyze_command(reference: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    ref_dir, _ = reference
    result = hmsim(
        "analyze",
        str(ref_dir),
        "--baseline",
        "base__failed_delivery_probability=0.0",
        "--metric",
        "kpi_repair_done_within_5_workdays",
        "--json",
        "--csv",
        str(tmp_path / "a.csv"),
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data["scenarios"]) == {
        "base__failed_delivery_probability=0.0",
        "base__failed_delivery_probability=0.3",
        "more_technicians__failed_delivery_probability=0.0",
        "more_technicians__failed_delivery_probability=0.3",
    }
    assert set(data["scenarios"]["base__failed_delivery_probability=0.0"]) == {
        "all.kpi_repair_done_within_5_workdays",
        "q1.kpi_repair_done_within_5_workdays",
    }
    assert len(data["differences"]) == 3
    table = pd.read_csv(tmp_path / "a.csv")
    assert {"kind", "scenario", "metric", "mean", "ci_low", "ci_high", "n"} <= set(table.columns)
    bad = hmsim("analyze", str(ref_dir), "--metric", "nonsense")
    assert bad.returncode == 2 and "--metric 'nonsense': not in the index" in bad.stderr
