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
) -> dict[str, Any]:
    """Mean summary by municipality over ``seeds`` for a ``days``-long run (plus ``extra`` metrics)."""
    raw = apply_overrides(raw, [f"horizon.years={days / 365.25}"])
    scenario = build_scenario(raw, str(raw.get("name", "fit")))
    results = []
    for seed in seeds:
        out = run(scenario, seed)
        res = summarise(out, *window, by="municipality")
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
