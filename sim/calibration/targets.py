"""Expand a spec's target entries into concrete targets: one observed row each, with its measure."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.calibration.measures import Measure
from sim.calibration.spec import CalibrationSpec, TargetSpec, read_observed
from sim.config.loader import validate_model
from sim.errors import ConfigError


@dataclass(frozen=True)
class Target:
    id: str
    file: str
    metric: str
    segment: str
    period: str
    observed: float
    measure: Measure
    scale: float  # residual scale (same units as observed)
    weight: float
    holdout: bool
    naive: float | None

    def residual(self, simulated: float) -> float:
        return self.weight * (simulated - self.observed) / self.scale


def _fill(template: Any, row: dict[str, str]) -> Any:
    text = json.dumps(template, default=str)
    text = text.replace("{segment}", row["segment"]).replace("{metric}", row["metric"])
    return json.loads(text)


def expand_targets(spec: CalibrationSpec, folder: Path) -> list[Target]:
    problems: list[str] = []
    out: list[Target] = []
    cache: dict[Path, list[dict[str, str]]] = {}
    for i, t in enumerate(spec.targets):
        label = f"targets[{i}]"
        name = t.file or spec.observed
        if name is None:
            problems.append(f"{label}.file: no observed CSV (give file here or observed at the top)")
            continue
        path = (folder / name).resolve()
        try:
            rows = cache.setdefault(path, read_observed(path, f"{label}.file"))
        except ConfigError as exc:
            problems += exc.problems
            continue
        chosen = [
            r
            for r in rows
            if r["metric"] == t.metric
            and r["period"] == t.period
            and (r["segment"] == t.segment or (t.segment == "*" and r["segment"] not in t.exclude_segments))
        ]
        if not chosen:
            problems.append(
                f"{label}: no row of {path.name} with metric {t.metric!r}, segment {t.segment!r}, "
                f"period {t.period!r}"
            )
            continue
        for row in chosen:
            try:
                out.append(_target(t, row, rows, path, label))
            except ConfigError as exc:
                problems += exc.problems
    ids = [t.id for t in out]
    problems += [f"targets: {d!r} is chosen twice" for d in sorted({x for x in ids if ids.count(x) > 1})]
    if problems:
        raise ConfigError(problems)
    if not any(not t.holdout for t in out):
        raise ConfigError("targets: every target is a hold-out; nothing to fit")
    return out


def _target(t: TargetSpec, row: dict[str, str], rows: list[dict[str, str]], path: Path, label: str) -> Target:
    try:
        observed = float(row["value"])
    except ValueError:
        raise ConfigError(
            f"{label}: {path.name} row {row['metric']}/{row['segment']}: value not a number"
        ) from None
    if t.share_of:
        parts = [
            r
            for r in rows
            if r["metric"] == row["metric"] and r["period"] == row["period"] and r["segment"] in t.share_of
        ]
        missing = sorted(set(t.share_of) - {r["segment"] for r in parts})
        if missing:
            raise ConfigError(
                f"{label}.share_of: no {row['metric']} {row['period']} row for {', '.join(missing)}"
            )
        total = sum(float(r["value"]) for r in parts)
        if not total:
            raise ConfigError(f"{label}.share_of: the rows sum to 0")
        observed /= total
    kind = t.simulated.get("kind", "summary")
    defaults = {"metric": row["metric"], "segment": row["segment"]} if kind == "summary" else {}
    template = {**defaults, **_fill(t.simulated, row)}
    measure = validate_model(Measure, template, f"{label}.simulated.")
    if t.tolerance_abs is not None:
        scale = t.tolerance_abs
    else:
        scale = (t.tolerance if t.tolerance is not None else 0.05) * abs(observed)
    if not scale > 0 or not math.isfinite(scale):
        raise ConfigError(f"{label}: observed {observed} gives a zero residual scale; give tolerance_abs")
    naive = None
    if t.naive_period is not None:
        match = [
            r
            for r in rows
            if r["metric"] == row["metric"]
            and r["segment"] == row["segment"]
            and r["period"] == t.naive_period
        ]
        if not match:
            raise ConfigError(
                f"{label}.naive_period: no row {row['metric']}/{row['segment']} in period {t.naive_period!r}"
            )
        naive = float(match[0]["value"])
    return Target(
        id=f"{row['metric']}[{row['segment']}] {row['period']}",
        file=path.name,
        metric=row["metric"],
        segment=row["segment"],
        period=row["period"],
        observed=observed,
        measure=measure,
        scale=scale,
        weight=t.weight,
        holdout=t.holdout,
        naive=naive,
    )
