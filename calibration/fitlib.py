"""Helpers shared by the calibration scripts: read targets, simulate a window, scale, write fitted YAML."""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim.config import Scenario, apply_overrides, build_scenario  # noqa: E402
from sim.config.loader import deep_merge, read_yaml  # noqa: E402
from sim.model import run  # noqa: E402
from sim.output import RunOutput  # noqa: E402
from sim.summary import summarise  # noqa: E402

FITTED_DIR = ROOT / "calibration" / "fitted"


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def load_base(region: Path, skip: tuple[str, ...]) -> dict[str, Any]:
    """The region config merged with what it extends, except the fitted files named in ``skip``."""
    data = read_yaml(region)
    bases = data.pop("extends", [])
    merged: dict[str, Any] = {}
    for base in [bases] if isinstance(bases, str) else bases:
        path = (region.parent / base).resolve()
        if path.name in skip:
            continue
        merged = deep_merge(merged, read_yaml(path))
    merged = deep_merge(merged, data)
    table = merged["demand"].get("population_table")
    if table:
        merged["demand"]["population_table"] = str((region.parent / table).resolve())
    return merged


def simulate(
    raw: dict[str, Any],
    seeds: list[int],
    days: int,
    window: tuple[date, date],
    extra: Callable[[RunOutput, Scenario], dict[str, float]] | None = None,
    kpi_window: tuple[date, date] | None = None,
) -> dict[str, Any]:
    """Mean summary by municipality over ``seeds`` for a ``days``-long run (plus ``extra`` metrics). With
    ``kpi_window`` the service KPIs (all but km per device) of the whole region come from that window: the
    window in which they were observed, which may lie later than the volumes' window."""
    raw = apply_overrides(raw, [f"horizon.years={days / 365.25}"])
    scenario = build_scenario(raw, str(raw.get("name", "fit")))
    results = []
    for seed in seeds:
        out = run(scenario, seed)
        res = summarise(out, *window, by="municipality")
        if kpi_window is not None:
            later = summarise(out, *kpi_window)
            for key, value in later.items():
                if key.startswith("kpi_") and key != "kpi_mil_driven_per_rented_individual_volume":
                    res["all"][key] = value
        if extra:
            res["extra"] = extra(out, scenario)
        results.append(res)
    mean: dict[str, dict[str, float]] = {}
    for segment in results[0]:
        mean[segment] = {k: float(np.nanmean([r[segment][k] for r in results])) for k in results[0][segment]}
    return mean


def scale(value: float, ratio: float, damping: float, lo: float = 0.0, hi: float = float("inf")) -> float:
    """``value x ratio^damping`` clipped to ``[lo, hi]``."""
    return float(min(max(value * ratio**damping, lo), hi))


def fmt(x: float) -> str:
    return f"{x:.6g}"


def inline(mapping: dict[str, Any]) -> str:
    """A flow-style YAML mapping of scalars."""
    return "{" + ", ".join(f"{k}: {fmt(v) if isinstance(v, float) else v}" for k, v in mapping.items()) + "}"


def write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")


def demographic_growth(
    raw: dict[str, Any], years: int = 5, band_weight: dict[str, float] | None = None
) -> float:
    """Mean yearly growth of the expected orders of rented categories over the first ``years`` years, from
    population alone (trend 0); ``band_weight`` weights the age bands (e.g. the municipal payers' share)."""
    from sim.model.calendar import Calendar
    from sim.model.demand import DemandModel

    raw = apply_overrides(raw, ["demand.trend.growth=0.0", f"horizon.years={years + 1}"])
    scenario = build_scenario(raw, "growth")
    start = scenario.horizon.start_date
    days = (start.replace(year=start.year + years + 1) - start).days
    demand = DemandModel(scenario, Calendar(scenario.calendar, start, days))
    rented = np.array([c.rented for c in scenario.categories.values()])
    w = np.array([(band_weight or {}).get(b, 1.0) for b in demand.bands])
    first = demand.years[0]
    totals = [float((demand.contribution[y - first][:, rented, :] * w).sum()) for y in (first, first + years)]
    return float((totals[1] / totals[0]) ** (1.0 / years) - 1.0)


def trend_for_growth(
    raw: dict[str, Any], target: float, band_weight: dict[str, float] | None = None
) -> float:
    """The demand trend (share per year beyond demography) that makes expected rented orders, and so in
    steady growth the rented stock, grow by ``target`` a year."""
    return float((1.0 + target) / (1.0 + demographic_growth(raw, band_weight=band_weight)) - 1.0)
