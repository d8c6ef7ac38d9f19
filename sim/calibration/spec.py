"""The calibration spec (YAML in ``calibration/``): base config, targets, parameters, replications, optimiser.

Targets are rows of an observed CSV (columns ``metric, segment, period, value``) chosen by metric, segment
(``*`` = every segment of that metric and period, less ``exclude_segments``) and period; each row maps to
a simulated measure (:mod:`sim.calibration.measures`), in which ``{segment}`` and ``{metric}`` are replaced
by the row's. A target's residual is ``weight x (simulated mean - observed) / tolerance``, the tolerance
relative to the observed value (``tolerance``) or absolute (``tolerance_abs``, e.g. 0.01 = 1 pp for a
share). With ``share_of`` the observed value is the row's share of the sum of the named segments' rows
of the same metric and period (e.g. the municipalities' share of revenue). Hold-out targets are left out
of the fit and reported against a naive forecast: the observed value of the row of the same metric and
segment in ``naive_period`` (persistence, "same as then").
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Literal

from pydantic import model_validator

from sim.calibration.params import ParameterSpec
from sim.config.base import Model, param
from sim.errors import ConfigError


class TargetSpec(Model):
    file: str | None = param(None, "path", "-", "observed CSV (default: the spec's observed), spec-relative")
    metric: str = param(..., "-", "-", "metric column of the observed rows")
    segment: str = param("all", "-", "-", "segment column; * = every segment of the metric and period")
    period: str = param(..., "-", "-", "period column of the observed rows")
    exclude_segments: list[str] = param([], "-", "-", "segments left out when segment is *")
    simulated: dict[str, Any] = param(..., "-", "-", "the simulated measure ({segment}, {metric} filled in)")
    tolerance: float | None = param(None, "share", "-", "residual scale relative to the observed", gt=0)
    tolerance_abs: float | None = param(None, "units of the metric", "-", "absolute residual scale", gt=0)
    weight: float = param(1.0, "-", "-", "weight of the residual", gt=0)
    share_of: list[str] = param(
        [],
        "-",
        "-",
        "observed as a share: the row's value over the sum of these segments' rows (same period)",
    )
    holdout: bool = param(False, "-", "-", "leave out of the fit; report against the naive forecast")
    naive_period: str | None = param(None, "-", "-", "hold-out: period of the naive (persistence) forecast")

    @model_validator(mode="after")
    def _check(self) -> TargetSpec:
        if self.tolerance is not None and self.tolerance_abs is not None:
            raise ValueError("give tolerance or tolerance_abs, not both")
        return self


class ConstraintSpec(Model):
    """A soft constraint on parameter values, fitted like a target: the ``mean`` (geometric or arithmetic) of
    the matched parameters should equal ``value`` within ``tolerance`` (relative). It costs no runs."""

    parameters: list[str] = param(..., "-", "-", "parameter names (shell-style patterns, e.g. payer_*)")
    mean: Literal["geometric", "arithmetic"] = param("geometric", "-", "-", "which mean of the values")
    value: float = param(1.0, "-", "-", "the mean the values should have", gt=0)
    tolerance: float = param(0.02, "share", "-", "residual scale relative to value", gt=0)
    weight: float = param(1.0, "-", "-", "weight of the residual", gt=0)
    note: str = param("", "-", "-", "why (reports)")


class DerivedSpec(Model):
    """A key computed at every point from the point's config, not searched (registry
    :data:`sim.calibration.derive.DERIVATIONS`)."""

    kind: str = param(..., "-", "-", "trend_for_growth")
    growth: float = param(0.0, "share per year", "-", "trend_for_growth: the target growth", gt=-1, lt=1)
    years: int = param(5, "years", "-", "trend_for_growth: years the growth is averaged over", ge=1, le=30)
    band_weight: list[str] = param(
        [], "-", "-", "trend_for_growth: weight each age band by the sum of these demand.age_bands fields"
    )
    source: str = param("", "-", "-", "source of the target (written beside the value)")


class Optimiser(Model):
    method: str = param("least_squares", "-", "-", "least_squares or nelder_mead")
    max_evaluations: int = param(30, "points", "-", "budget: points evaluated (each x replications)", ge=1)
    diff_step: float = param(0.05, "share of the range", "-", "finite-difference step (least_squares)", gt=0)
    tolerance: float = param(1e-3, "-", "-", "stop when the cost or step changes less than this", gt=0)


class CalibrationSpec(Model):
    name: str = param(..., "-", "-", "fit name (results/calibrate/<name>/)")
    description: str = param("", "-", "-", "what is fitted to what")
    base: str = param(..., "path", "-", "base scenario config, spec-relative")
    output: str | None = param(None, "path", "-", "fitted YAML to write, spec-relative")
    observed: str | None = param(None, "path", "-", "default observed CSV, spec-relative")
    years: float | None = param(None, "years", "-", "horizon (default: to the last target window's end)")
    set: dict[str, Any] = param({}, "-", "-", "fixed overrides of the base while fitting")
    targets: list[TargetSpec] = param(..., "-", "-", "observed rows and their simulated measures")
    parameters: dict[str, ParameterSpec] = param(..., "-", "-", "name -> keys, mode, bounds")
    replications: int = param(3, "runs", "-", "replications per evaluation (common random numbers)", ge=1)
    seed: int = param(1, "-", "-", "master seed of the replications", ge=0)
    constraints: list[ConstraintSpec] = param([], "-", "-", "soft constraints on parameter values")
    derived: dict[str, DerivedSpec] = param({}, "-", "-", "dotted key -> how it is derived at every point")
    optimiser: Optimiser = param(Optimiser(), "-", "-", "optimiser and budget")

    @model_validator(mode="after")
    def _check(self) -> CalibrationSpec:
        if not self.parameters:
            raise ValueError("parameters: give at least one")
        if self.optimiser.method not in ("least_squares", "nelder_mead"):
            raise ValueError(f"optimiser.method {self.optimiser.method!r}: valid: least_squares, nelder_mead")
        return self


def load_spec(path: Path, overrides: list[str] | tuple[str, ...] = ()) -> CalibrationSpec:
    from sim.calibration.setup import load_spec_file

    return load_spec_file(CalibrationSpec, path, overrides)


def read_observed(path: Path, label: str) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError:
        raise ConfigError(f"{label}: {path}: file not found") from None
    need = {"metric", "segment", "period", "value"}
    if rows and not need <= set(rows[0]):
        raise ConfigError(f"{label}: {path}: needs columns {', '.join(sorted(need))}")
    return rows
