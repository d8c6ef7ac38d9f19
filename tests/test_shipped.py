"""The shipped regions: their fitted files are current, and their default seed meets independent facts.

Calibration targets are not re-checked by simulation here (a fitted quantity reproduced is a solve, not
evidence): for them the tests check, without running anything, that each fitted file a region extends is the
output its spec's last fit reported (the report ``hmsim calibrate`` writes beside it), on today's observed
figures and spec, and that the report's targets are within the spec's tolerance or named below with the
reason they are not. The simulated checks are of facts no fit used, with tolerances from the spread between
replications (``scripts/shipped_tolerances.py``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, hmsim

from sim.calibration.spec import load_spec
from sim.calibration.targets import expand_targets

CALIBRATION = ROOT / "calibration"
REGIONS = (ROOT / "configs" / "regions").resolve()

# Fitted targets a shipped fit leaves outside its tolerance (|residual| > 1), with the reason;
# docs/calibration.md ("Fit reports of the shipped fits") has the numbers. An entry that comes back within
# tolerance fails the test, so the list stays true.
KNOWN_OFF: dict[tuple[str, str], str] = {
    ("vastmanland_activity", "returns[all] 2023-01..2023-04"): (
        "budget-limited fit (one step): -3.3 % against a 3 % tolerance"
    ),
}


def _shipped_specs() -> list[Path]:
    """Specs whose base is a shipped region config and whose output that config extends."""
    specs = []
    for path in sorted(CALIBRATION.glob("*.yaml")):
        spec = load_spec(path)
        base = (path.parent / spec.base).resolve()
        if base.parent != REGIONS or spec.output is None:
            continue
        extends = yaml.safe_load(base.read_text(encoding="utf-8")).get("extends", [])
        output = (path.parent / spec.output).resolve()
        if any((base.parent / e).resolve() == output for e in extends):
            specs.append(path)
    return specs


SHIPPED = _shipped_specs()


def _report(spec_path: Path) -> tuple[Any, dict[str, Any]]:
    spec = load_spec(spec_path)
    assert spec.output is not None
    output = (spec_path.parent / spec.output).resolve()
    report_path = output.with_suffix(".report.json")
    assert report_path.is_file(), f"{report_path.name}: no fit report beside {output.name}; rerun the spec"
    return spec, json.loads(report_path.read_text(encoding="utf-8"))


def test_the_shipped_regions_extend_their_fits() -> None:
    assert {p.stem for p in SHIPPED} >= {
        "vastmanland_activity",
        "vastmanland_economics",
        "norrbotten_payers",
        "norrbotten_economics",
    }


@pytest.mark.parametrize("spec_path", SHIPPED, ids=lambda p: p.stem)
def test_fitted_file_is_the_output_of_its_spec_on_todays_data(spec_path: Path) -> None:
    """The fitted YAML is byte for byte the one the report describes; the report's targets, observed values,
    replications and parameters are those the spec resolves to today (a changed observed CSV or spec needs a
    refit). Model changes since the fit are not detected here: docs/calibration.md names each fit's commit."""
    spec, report = _report(spec_path)
    assert spec.output is not None
    fitted = (spec_path.parent / spec.output).read_bytes()
    assert hashlib.sha256(fitted).hexdigest() == report["fitted_sha256"], "fitted file edited after its fit"
    assert report["name"] == spec.name
    assert report["replications"] == spec.replications == len(report["seeds"])
    targets = expand_targets(spec, spec_path.parent)
    fitted_targets = {t.id: t.observed for t in targets if not t.holdout}
    assert {t["target"]: t["observed"] for t in report["targets"]} == pytest.approx(fitted_targets)
    holdouts = {t.id: t.observed for t in targets if t.holdout}
    assert {t["target"]: t["observed"] for t in report["holdouts"]} == pytest.approx(holdouts)
    assert {q["parameter"] for q in report["parameters"]} == set(spec.parameters)


@pytest.mark.parametrize("spec_path", SHIPPED, ids=lambda p: p.stem)
def test_fitted_targets_within_the_specs_tolerance(spec_path: Path) -> None:
    """Each fitted target's replication mean at the fitted point lies within one tolerance of the observed
    value (|residual| <= 1), or is listed in KNOWN_OFF with its reason."""
    spec, report = _report(spec_path)
    off = {t["target"]: t["residual_after"] for t in report["targets"] if abs(t["residual_after"]) > 1.0}
    known = {target for (name, target) in KNOWN_OFF if name == spec.name}
    assert set(off) - known == set(), f"outside tolerance (residuals): {off}"
    assert known - set(off) == set(), f"within tolerance now, remove from KNOWN_OFF: {known - set(off)}"


def _tracked_on_rent(run_dir: Path, day: float, municipal: bool = False) -> int:
    from sim.store import read_run

    r = read_run(run_dir)["rentals"]
    on = r[(r["start_day"] <= day) & (r["end_day"] > day) & r["tracked"]]
    if municipal:
        on = on[on["payer"] != "region"]
    return len(on)


def test_vastmanland_rented_stock_grows_about_5_percent_a_year(vastmanland_run: Path) -> None:
    """devices_sweden_facts.csv vastmanland_rented_individual_devices_growth: +4.8 to +5.4 % a year under
    unchanged policy. The demand trend is derived from that growth analytically (expected orders, no
    simulation, not a fitted target); the warm start must put the simulated fleet on that path. Tolerance:
    the documented range widened by 3 sd of the first year's growth between seeds (sd 0.0045, mean 0.0526 over
    seeds 2-9: ``scripts/shipped_tolerances.py --seeds 8`` on 4786c44)."""
    growth = _tracked_on_rent(vastmanland_run, 365.0) / _tracked_on_rent(vastmanland_run, 0.0) - 1
    assert 0.035 <= growth <= 0.067, growth


def test_norrbotten_municipal_stock_grows_about_2_percent_a_year(norrbotten_run: Path) -> None:
    """Devices rented to municipalities +22 % 2014-2024 (norrbotten_followup_2024.csv): 2.0 % a year on
    average; the trend is derived from it analytically, as in Västmanland. No single year is documented, so a
    year is taken within 0.5 pp of the decade's average (assumption), widened by 3 sd of the first year's
    municipal growth between seeds (sd 0.0024, mean 0.0249 over seeds 2-9: ``scripts/shipped_tolerances.py
    --seeds 8`` on 4786c44 with the refitted payer split; the model's first year runs 0.5 pp above the
    decade's average, docs/model.md has the decade)."""
    growth = (
        _tracked_on_rent(norrbotten_run, 365.0, municipal=True)
        / _tracked_on_rent(norrbotten_run, 0.0, municipal=True)
        - 1
    )
    assert 0.008 <= growth <= 0.032, growth


def test_run_prints_yearly_kpis_beside_targets(vastmanland_run: Path) -> None:
    result = hmsim("summary", str(vastmanland_run))
    assert result.returncode == 0, result.stderr
    assert "KPIs per year" in result.stdout
    table = result.stdout.split("KPIs per year", 1)[1].splitlines()
    line = next(x for x in table if x.strip().startswith("kpi_delivery_on_planned_day "))
    assert "0.950" in line.split()  # the target from the config, beside the simulated year
