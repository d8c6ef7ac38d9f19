"""hmsim sensitivity: SALib indices against functions with known indices; the command on a tiny config."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.cli import main
from sim.sensitivity import morris, sobol, top_parameters

DATA = Path(__file__).resolve().parent / "data"
A, B = 7.0, 0.1  # the Ishigami function's usual constants


def ishigami(u: np.ndarray) -> np.ndarray:
    x = -math.pi + 2 * math.pi * u  # the unit cube onto [-pi, pi]^3
    y = np.sin(x[:, 0]) + A * np.sin(x[:, 1]) ** 2 + B * x[:, 2] ** 4 * np.sin(x[:, 0])
    return y[:, None]


def ishigami_indices() -> tuple[list[float], list[float]]:
    """Analytic first-order and total indices (Ishigami & Homma 1990; Saltelli et al. 2008, sec. 4.4)."""
    pi4, pi8 = math.pi**4, math.pi**8
    d1 = B * pi4 / 5 + B**2 * pi8 / 50 + 0.5
    d2 = A**2 / 8
    d13 = B**2 * pi8 * (1 / 18 - 1 / 50)
    total = d1 + d2 + d13
    return [d1 / total, d2 / total, 0.0], [(d1 + d13) / total, d2 / total, d13 / total]


def test_sobol_indices_of_the_ishigami_function() -> None:
    table = sobol(["x1", "x2", "x3"], ishigami, ["y"], samples=2048, seed=3)
    s1, st = ishigami_indices()
    for i, row in table.iterrows():
        # within two 95 % bootstrap half-widths (about 4 standard errors) of theory, plus Monte Carlo slack
        assert abs(row["S1"] - s1[i]) <= 2 * row["S1_conf"] + 0.01, (row["parameter"], row["S1"], s1[i])
        assert abs(row["ST"] - st[i]) <= 2 * row["ST_conf"] + 0.01, (row["parameter"], row["ST"], st[i])


def test_morris_effects_of_a_linear_function_are_its_slopes() -> None:
    slopes = np.array([3.0, -1.0, 0.0])
    table = morris(["a", "b", "c"], lambda u: (u @ slopes)[:, None], ["y"], trajectories=8, levels=4, seed=1)
    assert table["mu_star"].to_numpy() == pytest.approx(np.abs(slopes), abs=1e-9)
    assert table["sigma"].to_numpy() == pytest.approx([0, 0, 0], abs=1e-9)
    assert top_parameters(table, 2) == ["a", "b"]


def test_top_parameters_compare_outputs_by_their_own_scale() -> None:
    table = pd.DataFrame(
        {
            "output": ["km", "km", "kpi", "kpi"],
            "parameter": ["p", "q", "p", "q"],
            "mu_star": [1000.0, 10.0, 0.001, 0.01],
        }
    )
    assert top_parameters(table, 2) == ["p", "q"]
    assert top_parameters(table, 0) == []


@pytest.mark.slow
def test_sensitivity_command_on_a_tiny_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = {
        "name": "tiny_sens",
        "base": str(DATA / "tiny.yaml"),
        "years": 0.5,
        "parameters": {
            "demand": {"keys": ["demand.use_rates.*.*"], "mode": "scale", "bounds": [0.8, 1.2]},
            "failed": {"keys": ["transport.failed_delivery_probability"], "bounds": [0.0, 0.2]},
        },
        "outputs": {
            "delivery_kpi": {"metric": "kpi_delivery_on_planned_day", "per_year": True},
            "km": {"kind": "route_km"},
        },
        "morris": {"trajectories": 2},
        "sobol": {"top": 1, "samples": 4},
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["sensitivity", str(path), "--workers", "1", "--out", str(out)]) == 0
    screen = pd.read_csv(out / "morris.csv")
    assert set(screen["output"]) == {"delivery_kpi.2023", "km"}
    kpi = screen[screen["output"] == "delivery_kpi.2023"].set_index("parameter")
    assert kpi.loc["failed", "mu_star"] > kpi.loc["demand", "mu_star"]  # failed deliveries drive the KPI
    assert (out / "sensitivity_km.png").stat().st_size > 0
    assert len(pd.read_csv(out / "sobol.csv")) == 2  # one parameter x two outputs
    capsys.readouterr()
    # resumable: everything comes from the cache the second time
    assert main(["sensitivity", str(path), "--workers", "1", "--out", str(out)]) == 0
    assert " 0 runs here" in (out / "report.md").read_text(encoding="utf-8")


def test_bad_sensitivity_spec_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(
        yaml.safe_dump(
            {"name": "x", "base": str(DATA / "tiny.yaml"), "parameters": {}, "outputs": {"k": {}}}
        ),
        encoding="utf-8",
    )
    assert main(["sensitivity", str(path), "--check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hmsim sensitivity: ") and "metric" in err
