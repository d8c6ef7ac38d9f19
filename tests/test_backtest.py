"""calibration/backtest.py's check of the shipped fits takes its ranges from the calibration specs."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny.yaml"


def _backtest() -> ModuleType:
    spec = importlib.util.spec_from_file_location("backtest", ROOT / "calibration" / "backtest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("backtest", module)
    spec.loader.exec_module(module)
    return module


def _fit(tmp_path: Path, price_level: float, level_factor: float) -> Path:
    """A spec on the tiny config shipped with ``price_level`` (a set parameter) and a report whose scale
    parameter ``demand_level`` was fitted to ``level_factor``: the layout of calibration/."""
    (tmp_path / "fitted").mkdir()
    (tmp_path / "fitted" / "fit.yaml").write_text(f"price_level: {price_level}\n", encoding="utf-8")
    (tmp_path / "region.yaml").write_text(
        yaml.safe_dump({"extends": [str(TINY), "fitted/fit.yaml"]}), encoding="utf-8"
    )
    (tmp_path / "observed.csv").write_text(
        "metric,segment,period,value\norders,all,2023,1000\n", encoding="utf-8"
    )
    spec = {
        "name": "range_check",
        "base": "region.yaml",
        "observed": "observed.csv",
        "output": "fitted/fit.yaml",
        "targets": [{"metric": "orders", "period": "2023", "simulated": {}, "tolerance": 0.03}],
        "parameters": {
            "price_level": {"keys": ["price_level"], "bounds": [0.2, 2.0], "plausible": [0.7, 1.3]},
            "demand_level": {"keys": ["demand.use_rates.*.*"], "mode": "scale", "bounds": [0.5, 2.0],
                             "plausible": [0.8, 1.25]},
        },
    }  # fmt: skip
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    report = {"parameters": [{"parameter": "demand_level", "fitted": level_factor}]}
    (tmp_path / "fitted" / "fit.report.json").write_text(json.dumps(report), encoding="utf-8")
    return path


def test_flags_a_value_outside_the_specs_plausible_range(tmp_path: Path) -> None:
    # price_level 0.66 passed the script's own range (0.5-2.0) although the spec calls 0.7-1.3 plausible
    flags = _backtest().spec_flags(_fit(tmp_path, price_level=0.66, level_factor=1.4))
    assert any(
        f.startswith("price_level = 0.66 ") and "below its plausible range [0.7, 1.3]" in f for f in flags
    )
    assert any(
        f.startswith("demand_level = 1.4 ") and "above its plausible range [0.8, 1.25]" in f for f in flags
    )
    assert len(flags) == 2


@pytest.mark.parametrize(("price", "factor", "expected"), [(1.0, 1.0, 0), (0.2, 1.0, 2), (1.0, 2.0, 2)])
def test_inside_the_range_nothing_flagged_at_a_bound_flagged(
    tmp_path: Path, price: float, factor: float, expected: int
) -> None:
    flags = _backtest().spec_flags(_fit(tmp_path, price_level=price, level_factor=factor))
    assert len(flags) == expected
    assert all("bound" in f or "plausible" in f for f in flags)
    if expected:
        assert any("at its lower bound" in f or "at its upper bound" in f for f in flags)
