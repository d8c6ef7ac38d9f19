"""End to end: the README's commands on the shipped configs, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import hmsim

from sim.summary import METRICS

OBSERVED_NAMES = {
    "orders",
    "returns",
    "recondition_work_orders",
    "pickup_orders",
    "technical_work_orders",
    "consultant_fitting_referrals",
    "rented_volume_individual",
    "kpi_delivery_on_planned_day",
    "kpi_repair_done_within_5_workdays",
    "kpi_fitting_offered_within_15_workdays",
    "kpi_rental_rate_devices_at_customer",
    "kpi_mil_driven_per_rented_individual_volume",
}


def test_validate_shipped_configs() -> None:
    for name in ("vastmanland", "norrbotten"):
        result = hmsim("validate", f"configs/regions/{name}.yaml")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("ok:")


@pytest.mark.parametrize("fixture", ["vastmanland_run", "norrbotten_run"])
def test_run_writes_manifest_and_tables(fixture: str, request: pytest.FixtureRequest) -> None:
    run_dir: Path = request.getfixturevalue(fixture)
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "ok"
    for key in ("config_hash", "seed", "versions", "git", "wall_seconds", "resolved_config", "started_at"):
        assert key in manifest
    assert manifest["seed"] == 1 and len(manifest["config_hash"]) == 16
    for name in ("timeseries", "rentals", "deliveries", "jobs", "route_stops", "staff", "devices", "kpis"):
        table = pd.read_parquet(run_dir / f"{name}.parquet")
        assert len(table) > 0, name
    assert not list(run_dir.parent.glob(f".{run_dir.name}.partial-*"))


def test_summary_json_uses_the_observed_metric_names(vastmanland_run: Path) -> None:
    result = hmsim("summary", str(vastmanland_run), "--from", "2023-01-01", "--to", "2023-04-30", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= OBSERVED_NAMES and set(METRICS) == set(data)
    assert all(isinstance(v, float) for v in data.values())


def test_summary_by_municipality_splits_rented_volume_by_payer(vastmanland_run: Path) -> None:
    result = hmsim("summary", str(vastmanland_run), "--to", "2023-04-30", "--by", "municipality", "--json")
    data = json.loads(result.stdout)
    assert {"all", "region_total", "municipalities_total", "Västerås", "Arboga"} <= set(data)
    total = data["all"]["rented_volume_individual"]
    assert (
        data["region_total"]["rented_volume_individual"]
        + data["municipalities_total"]["rented_volume_individual"]
        == total
    )
    munis = [k for k in data if k not in ("all", "region_total", "municipalities_total")]
    assert len(munis) == 10
    assert (
        sum(data[m]["rented_volume_individual"] for m in munis)
        == data["municipalities_total"]["rented_volume_individual"]
    )
    assert sum(data[m]["orders"] for m in munis) == data["all"]["orders"]


def test_km_per_device_counts_the_same_devices_in_numerator_and_denominator(vastmanland_run: Path) -> None:
    """Per municipality: km of its stops over the devices on rent at its patients, so the county figure
    is the device-weighted mean of the municipalities' (a payer-based denominator broke this: Fagersta
    4.743 against 0.447 for the county)."""
    result = hmsim("summary", str(vastmanland_run), "--to", "2023-04-30", "--by", "municipality", "--json")
    data = json.loads(result.stdout)
    rentals = pd.read_parquet(vastmanland_run / "rentals.parquet")
    t_end = 120.0  # 2023-01-01 .. 2023-04-30
    on_rent = rentals[(rentals["start_day"] < t_end) & (rentals["end_day"] > t_end) & rentals["tracked"]]
    at = on_rent["municipality"].astype(str).value_counts()
    key = "kpi_mil_driven_per_rented_individual_volume"
    munis = [k for k in data if k not in ("all", "region_total", "municipalities_total")]
    weighted = sum(data[m][key] * at[m] for m in munis) / at.sum()
    assert weighted == pytest.approx(data["all"][key], rel=1e-9)
    spread = [data[m][key] / data["all"][key] for m in munis]
    assert min(spread) > 0.5 and max(spread) < 2  # same trucks, similar distances: same order of size


def test_summary_text_output(norrbotten_run: Path) -> None:
    result = hmsim("summary", str(norrbotten_run), "--from", "2024-03-01", "--to", "2024-03-31")
    assert result.returncode == 0
    assert "kpi_delivery_on_planned_day" in result.stdout and "orders" in result.stdout


def _assert_clean_error(result: object, *fragments: str) -> None:
    assert result.returncode == 2  # type: ignore[attr-defined]
    err: str = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


def test_broken_configs_give_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "extends: " + str(Path("configs/regions/vastmanland.yaml").resolve()) + "\n"
        "horizon: {years: -1, start_day: 2023-01-01}\ntransport: {road_factor: 0.5}\n",
        encoding="utf-8",
    )
    for command in ("validate", "run"):
        result = hmsim(command, str(bad))
        _assert_clean_error(
            result,
            "horizon.years: -1",
            "horizon.start_day: unknown key",
            "did you mean 'start_date'?",
            "transport.road_factor: 0.5",
        )
        assert len(result.stderr.strip().splitlines()) == 3


def test_bad_command_line_input_is_rejected_cleanly(vastmanland_run: Path, tmp_path: Path) -> None:
    _assert_clean_error(hmsim("run", "configs/regions/nowhere.yaml"), "file not found")
    _assert_clean_error(
        hmsim("validate", "configs/regions/vastmanland.yaml", "--set", "oops"), "dotted.key=value"
    )
    _assert_clean_error(hmsim("summary", str(tmp_path)), "not a finished hmsim run folder")
    _assert_clean_error(hmsim("summary", str(vastmanland_run), "--from", "2030-01-01"), "outside the run")
    _assert_clean_error(
        hmsim("summary", str(vastmanland_run), "--from", "2023-05-01", "--to", "2023-04-01"), "is after"
    )
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "thesis.txt").write_text("precious", encoding="utf-8")
    _assert_clean_error(
        hmsim("run", "tests/data/tiny.yaml", "--out", str(occupied)), "not a hmsim run folder"
    )
    assert (occupied / "thesis.txt").read_text(encoding="utf-8") == "precious"
    result = hmsim("run", "tests/data/tiny.yaml", "--years", "0")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_python_dash_m_and_console_script_agree(tmp_path: Path) -> None:
    result = hmsim(
        "run",
        "tests/data/tiny.yaml",
        "--years",
        "0.2",
        "--seed",
        "4",
        "--out",
        str(tmp_path / "r"),
        "--set",
        "demand.trend.growth=0.1",
    )
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 4 and manifest["resolved_config"]["demand"]["trend"]["growth"] == 0.1
    assert "demand.trend.growth=0.1" in manifest["overrides"]


def test_accounts_rejects_values_that_hang_or_break_it() -> None:
    config = "configs/accounts/vastmanland_threshold.yaml"
    for override, fragment in (
        ("start_year=-1", "start_year: -1: must be greater than or equal to 1900"),
        (
            "depreciation_years=1000000000",
            "depreciation_years: 1000000000: must be less than or equal to 100",
        ),
        ("settlement.device_cost_shares.region=-1000", "device_cost_shares.region: -1000.0: must be >= 0"),
        ("cost_base_sek=.nan", "cost_base_sek: nan: must be a finite number"),
    ):
        _assert_clean_error(hmsim("accounts", config, "--set", override), fragment)


def test_analyze_precision_must_be_a_positive_share(tmp_path: Path) -> None:
    for bad in ("-1", "0", "nan", "2"):
        result = hmsim("analyze", str(tmp_path), "--precision", bad)
        _assert_clean_error(result, "--precision", "must be > 0 and <= 1")


@pytest.mark.parametrize(
    "extra",
    [["--years", "0.003"], ["--years", "0.1", "--set", "categories.bed.installation_share=0"]],
    ids=["about-one-day", "no-installations"],
)
def test_runs_without_some_kinds_of_work_still_balance_the_ledger(tmp_path: Path, extra: list[str]) -> None:
    out = tmp_path / "run"
    result = hmsim("run", "tests/data/tiny_economics.yaml", *extra, "--out", str(out))
    assert result.returncode == 0, result.stderr
    ledger = pd.read_parquet(out / "ledger.parquet")
    assert ledger["amount"].notna().all() and len(ledger) > 0
    assert "-0 " not in result.stdout and not result.stdout.rstrip().endswith("-0")


def test_printed_numbers_never_show_minus_zero() -> None:
    from sim.cli import _fmt

    assert _fmt(-0.0004) == "0.000"
    assert _fmt(-0.4 * 1) == "-0.400"
    assert _fmt(-1234.4) == "-1 234"
    assert _fmt(float("nan")) == "n/a"


def test_damaged_run_folders_give_one_line_errors(tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = hmsim("run", "tests/data/tiny_economics.yaml", "--years", "0.1", "--out", str(run))
    assert result.returncode == 0, result.stderr
    stops = pd.read_parquet(run / "route_stops.parquet")
    stops.loc[0, "km"] = float("nan")
    stops.to_parquet(run / "route_stops.parquet", index=False)
    for command in ("summary", "ledger"):
        _assert_clean_error(hmsim(command, str(run)), "route_stops.parquet: column 'km'", "not finite")
    manifest = run / "manifest.json"
    manifest.write_bytes(b"\xff\xfe garbage")
    for command in ("summary", "ledger"):
        _assert_clean_error(hmsim(command, str(run)), "manifest.json: unreadable manifest")
    manifest.write_text("[1, 2]", encoding="utf-8")
    _assert_clean_error(hmsim("summary", str(run)), "must be a JSON object")
