"""Experiments: planning, common random numbers, determinism across executors, resume, failure isolation,
and the analysis statistics against scipy."""

from __future__ import annotations

import json
import os
import random
import re
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
from sim.store import BATCH_FORMAT, write_marker

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
    reference: tuple[Path, pd.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref_dir, ref_index = reference
    two = run_batch(load_plan(EXPERIMENT, tmp_path / "two"), workers=2, progress=False)
    pd.testing.assert_frame_equal(comparable(two.index), comparable(ref_index))
    assert run_files(tmp_path / "two") == run_files(ref_dir)
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        # a relative --out given in another working directory than the workers': every run folder and
        # the index must land in the client's folder (they went to the workers' before)
        client_dir = tmp_path / "client"
        client_dir.mkdir()
        monkeypatch.chdir(client_dir)
        plan = load_plan(EXPERIMENT, "dask")
        assert all(Path(t.out_dir).is_absolute() for t in plan.tasks)
        on_dask = run_batch(plan, dask=cluster.scheduler_address, progress=False)
        again = run_batch(load_plan(EXPERIMENT, "dask"), dask=cluster.scheduler_address, progress=False)
    assert again.ran == 0 and again.skipped == 12  # so a resume finds them
    pd.testing.assert_frame_equal(comparable(on_dask.index), comparable(ref_index))
    assert run_files(client_dir / "dask") == run_files(ref_dir)
    assert (client_dir / "dask" / "index.parquet").is_file()
    assert not (ROOT / "dask").exists()


def test_rerunning_a_finished_batch_changes_nothing(reference: tuple[Path, pd.DataFrame]) -> None:
    ref_dir, ref_index = reference
    manifests = {p: p.read_bytes() for p in ref_dir.glob("*/*/manifest.json")}
    again = run_batch(load_plan(EXPERIMENT, ref_dir), workers=1, progress=False)
    assert again.ran == 0 and again.skipped == 12
    pd.testing.assert_frame_equal(again.index.reset_index(drop=True), ref_index.reset_index(drop=True))
    assert {p: p.read_bytes() for p in ref_dir.glob("*/*/manifest.json")} == manifests


def _group_alive(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``, from /proc."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            alive.append(int(stat.parent.name))
    return alive


def _wait_until_gone(pgid: int, seconds: float) -> list[int]:
    deadline = time.time() + seconds
    while (left := _group_alive(pgid)) and time.time() < deadline:
        time.sleep(0.1)
    return left


def _start_batch(out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sim", "batch", str(EXPERIMENT), "--workers", "2", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: what is left of it can be found
    )


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds left-over processes via /proc")
def test_killing_the_batch_at_random_points_and_resuming_at_once(
    reference: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    """SIGKILL of the batch process only (not its workers), at seeded random moments, each time resumed
    at once while the killed batch's workers may still be writing; then resumed to the end. The result
    equals an uninterrupted batch, and no process of a killed batch is left behind."""
    ref_dir, ref_index = reference
    out = tmp_path / "killed"
    rng = random.Random(11)
    killed_groups = []
    finished = False
    for _ in range(4):
        proc = _start_batch(out)
        try:
            proc.wait(timeout=rng.uniform(1.0, 6.0))
            finished = True  # it ended before the kill
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)  # the main process only
            proc.wait()
            killed_groups.append(proc.pid)
        for manifest in out.glob("*/*/manifest.json"):  # whatever is in place is complete
            assert json.loads(manifest.read_text())["status"] == "ok"
        if finished:
            break
    assert killed_groups, "no kill landed: the batch finished before the first kill"
    resumed = _start_batch(out)
    assert resumed.wait(timeout=300) == 0
    for pgid in [*killed_groups, resumed.pid]:
        assert _wait_until_gone(pgid, 10.0) == [], f"processes of batch {pgid} outlived it"
    index = pd.read_parquet(out / "index.parquet")
    assert not index.duplicated(["scenario", "replication"]).any() and len(index) == 12
    pd.testing.assert_frame_equal(comparable(index), comparable(ref_index))
    assert run_files(out) == run_files(ref_dir)
    assert sorted(p.parent.relative_to(out) for p in out.glob("*/*/manifest.json")) == sorted(
        Path(t.out_dir).relative_to(out) for t in load_plan(EXPERIMENT, out).tasks
    )
    leftovers = [p for p in out.rglob(".*") if p.name != ".hmsim"]
    assert leftovers == [], leftovers  # no staging, backup, lock or temporary file


def test_a_run_that_another_process_still_writes_is_waited_for_not_redone(
    reference: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    """A worker of a killed batch holds a run's lock while writing it: the resumed batch neither counts
    it as finished nor writes it beside it; it waits, then takes the finished run as it is."""
    ref_dir, _ = reference
    out = tmp_path / "orphan"
    out.mkdir()
    write_marker(out, BATCH_FORMAT)  # the killed batch's folder
    plan = load_plan(EXPERIMENT, out, ["replications=1"])  # the reference's replication 0
    task = plan.tasks[2]
    ref_run = ref_dir / Path(task.out_dir).relative_to(out)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import shutil, sys, time; from sim.store import target_lock\n"
            "with target_lock(sys.argv[1]):\n"
            "    print('held', flush=True); time.sleep(3); shutil.copytree(sys.argv[2], sys.argv[1])\n",
            task.out_dir,
            str(ref_run),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    result = run_batch(plan, workers=1, progress=False)
    holder.wait()
    assert result.skipped == 0 and result.ran == 4 and result.failed == 0
    # the orphan's run was kept, not simulated and written again (its manifest is the reference's)
    assert (Path(task.out_dir) / "manifest.json").read_bytes() == (ref_run / "manifest.json").read_bytes()


def test_a_failing_run_is_recorded_and_the_batch_goes_on(tmp_path: Path) -> None:
    path = write_experiment(
        tmp_path,
        "name: failing\nreplications: 2\nyears: 0.3\nkeep_tables: [timeseries]\n"
        "scenarios:\n  fine: {}\n  broken: {categories.rollator.repair_hours.mean: 1.0e7}\n",
    )
    result = hmsim("batch", str(path), "--workers", "2", "--out", str(tmp_path / "out"))
    assert result.returncode == 1 and "2 run(s) failed" in result.stderr and "Traceback" not in result.stderr
    # not a terminal: progress as log lines, the last one when all runs are done
    assert "hmsim batch: failing: 4 runs, 0 already finished, 4 to run" in result.stderr
    assert "hmsim batch: failing: 4/4 runs finished (2 failed)" in result.stderr
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


def test_a_batch_never_touches_files_it_did_not_write(tmp_path: Path) -> None:
    """hmsim batch --out d deleted every .*.old-* and .*.partial-* entry at any depth below d."""
    d = tmp_path / "d"
    (d / "deep" / "er").mkdir(parents=True)
    (d / ".bashrc.old-2023").write_text("mine", encoding="utf-8")
    (d / "deep" / "er" / ".settings.partial-save").write_text("mine", encoding="utf-8")
    mine = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = hmsim("batch", str(EXPERIMENT), "--out", "d", cwd=tmp_path)
    assert result.returncode == 2 and "not a hmsim batch results folder" in result.stderr, result.stderr
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == mine
    # inside a batch folder hmsim wrote, such files survive a resume too
    path = write_experiment(tmp_path, "name: small\nreplications: 1\nyears: 0.05\nkeep_tables: [kpis]\n")
    out = tmp_path / "small"
    assert run_batch(load_plan(path, out), workers=1, progress=False).ran == 1
    for name in (".bashrc.old-2023", "deep/er/.settings.partial-save", "base/.0.old-x", "base/.x.partial-1"):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text("mine", encoding="utf-8")
    again = run_batch(load_plan(path, out, ["years=0.06"]), workers=1, progress=False)  # re-runs the run
    assert again.ran == 1 and again.failed == 0
    for name in (".bashrc.old-2023", "deep/er/.settings.partial-save", "base/.0.old-x", "base/.x.partial-1"):
        assert (out / name).read_text(encoding="utf-8") == "mine", name


@pytest.mark.parametrize("key", ["name", "scenarios"])
@pytest.mark.parametrize("value", ["../x", "", "/tmp/hmsim-x", ".."])
def test_experiment_and_scenario_names_are_safe_folder_names(tmp_path: Path, key: str, value: str) -> None:
    override = f"name={value}" if key == "name" else f"scenarios={{{value!r}: {{}}}}"
    if key == "scenarios" and value == "":
        override = "scenarios={'': {}}"
    result = hmsim("batch", str(EXPERIMENT), "--set", override, cwd=tmp_path)
    assert result.returncode == 2 and "must be one folder name" in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_documented_csv_outputs_go_into_a_results_folder() -> None:
    """`hmsim analyze --csv transport.csv` in the docs wrote into the repository root."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    targets = [
        (page.name, match)
        for page in pages
        for match in re.findall(r"hmsim analyze results/[^`\n]*--csv (\S+)", page.read_text(encoding="utf-8"))
    ]
    assert targets, "no documented analyze --csv command found"
    for page, target in targets:
        assert target.startswith("results/") and ".." not in target, (page, target)
