"""The shipped regions reproduce the observed figures (issue 2, section 5) with their default seed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import ROOT, hmsim

OBSERVED = ROOT / "calibration" / "observed"
VOLUMES = (
    "orders",
    "returns",
    "recondition_work_orders",
    "pickup_orders",
    "technical_work_orders",
    "consultant_fitting_referrals",
)
KPIS = (
    "kpi_delivery_on_planned_day",
    "kpi_repair_done_within_5_workdays",
    "kpi_fitting_offered_within_15_workdays",
    "kpi_rental_rate_devices_at_customer",
)
MUNICIPALITIES = (
    "Arboga",
    "Fagersta",
    "Hallstahammar",
    "Kungsör",
    "Köping",
    "Norberg",
    "Sala",
    "Skinnskatteberg",
    "Surahammar",
    "Västerås",
)


def observed(file: str) -> dict[tuple[str, str, str], float]:
    with (OBSERVED / file).open(encoding="utf-8") as handle:
        return {(r["metric"], r["segment"], r["period"]): float(r["value"]) for r in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def vastmanland_jan_apr(vastmanland_run: Path) -> dict[str, dict[str, float]]:
    result = hmsim(
        "summary",
        str(vastmanland_run),
        "--from",
        "2023-01-01",
        "--to",
        "2023-04-30",
        "--by",
        "municipality",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, dict[str, float]] = json.loads(result.stdout)
    return data


def test_vastmanland_volumes_within_10_percent(vastmanland_jan_apr: dict[str, dict[str, float]]) -> None:
    obs = observed("vastmanland_hmc_2024_interim.csv")
    for metric in VOLUMES:
        target = obs[(metric, "all", "2023-01..2023-04")]
        assert vastmanland_jan_apr["all"][metric] == pytest.approx(target, rel=0.10), metric
    for segment in ("all", "region_total", "municipalities_total"):
        target = obs[("rented_volume_individual", segment, "2023-04")]
        assert vastmanland_jan_apr[segment]["rented_volume_individual"] == pytest.approx(target, rel=0.10), (
            segment
        )


def test_vastmanland_municipal_split_within_15_percent(
    vastmanland_jan_apr: dict[str, dict[str, float]],
) -> None:
    obs = observed("vastmanland_hmc_2024_interim.csv")
    for muni in MUNICIPALITIES:
        target = obs[("rented_volume_individual", muni, "2023-04")]
        assert vastmanland_jan_apr[muni]["rented_volume_individual"] == pytest.approx(target, rel=0.15), muni


def test_vastmanland_service_kpis_within_5_points(
    vastmanland_run: Path, vastmanland_jan_apr: dict[str, dict[str, float]]
) -> None:
    """The service KPIs were observed in Jan-Apr 2024, so they are compared with that window of the run, one
    year in (queues that started empty have been through a summer and a year's growth); the rental rate was
    observed for 2023 and is compared with the 2023 window."""
    obs = observed("vastmanland_hmc_2024_interim.csv")
    result = hmsim("summary", str(vastmanland_run), "--from", "2024-01-01", "--to", "2024-04-30", "--json")
    assert result.returncode == 0, result.stderr
    jan_apr_2024: dict[str, float] = json.loads(result.stdout)
    for metric in KPIS:
        if metric == "kpi_rental_rate_devices_at_customer":
            simulated, period = vastmanland_jan_apr["all"][metric], "2023"
        else:
            simulated, period = jan_apr_2024[metric], "2024-01..2024-04"
        assert simulated == pytest.approx(obs[(metric, "all", period)], abs=0.05), metric


def test_norrbotten_cost_split_matches_its_documents(norrbotten_run: Path) -> None:
    """Municipal share of activity about 70 %; each municipality's share of the municipal part within 2 pp of
    its Q1 2025 invoicing share (devices on rent and deliveries in Q1 2025)."""
    result = hmsim(
        "summary",
        str(norrbotten_run),
        "--from",
        "2025-01-01",
        "--to",
        "2025-03-31",
        "--by",
        "municipality",
        "--json",
    )
    data = json.loads(result.stdout)
    shares = {
        seg: v
        for (m, seg, _), v in observed("norrbotten_followup_2025q1.csv").items()
        if m == "invoiced_share"
    }
    assert len(shares) == 14
    muni_total = data["municipalities_total"]["rented_volume_individual"]
    assert muni_total / data["all"]["rented_volume_individual"] == pytest.approx(0.70, abs=0.03)
    for muni, share in shares.items():
        assert data[muni]["rented_volume_individual"] / muni_total == pytest.approx(share, abs=0.02), muni


def _tracked_on_rent(run_dir: Path, day: float, municipal: bool = False) -> int:
    from sim.store import read_run

    r = read_run(run_dir)["rentals"]
    on = r[(r["start_day"] <= day) & (r["end_day"] > day) & r["tracked"]]
    if municipal:
        on = on[on["payer"] != "region"]
    return len(on)


def test_vastmanland_rented_stock_grows_about_5_percent_a_year(vastmanland_run: Path) -> None:
    """devices_sweden_facts.csv vastmanland_rented_individual_devices_growth: +4.8 to +5.4 % a year under
    unchanged policy. The demand trend is derived from that growth (not fitted by simulation); the warm start
    must put the fleet on that path, so the first simulated year grows about 5 % (tolerance: the documented
    range widened by 1.5 pp for one seed and the lag of the stock behind orders)."""
    growth = _tracked_on_rent(vastmanland_run, 365.0) / _tracked_on_rent(vastmanland_run, 0.0) - 1
    assert 0.033 <= growth <= 0.069, growth


def test_norrbotten_municipal_stock_grows_about_2_percent_a_year(norrbotten_run: Path) -> None:
    """Devices rented to municipalities +22 % 2014-2024 (norrbotten_followup_2024.csv): about 2 % a year
    (tolerance 1.5 pp for one seed and the payer mix)."""
    growth = (
        _tracked_on_rent(norrbotten_run, 365.0, municipal=True)
        / _tracked_on_rent(norrbotten_run, 0.0, municipal=True)
        - 1
    )
    assert 0.005 <= growth <= 0.035, growth


def test_run_prints_yearly_kpis_beside_targets(vastmanland_run: Path) -> None:
    result = hmsim("summary", str(vastmanland_run))
    assert result.returncode == 0, result.stderr
    assert "KPIs per year" in result.stdout
    table = result.stdout.split("KPIs per year", 1)[1].splitlines()
    line = next(x for x in table if x.strip().startswith("kpi_delivery_on_planned_day "))
    assert "0.950" in line.split()  # the target from the config, beside the simulated year
