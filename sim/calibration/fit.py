"""Fit a spec's parameters to its targets: the noisy objective, the optimisers, the result.

The objective is the weighted sum of squared residuals of the replication means, every point evaluated
with the same seeds (common random numbers). With the seeds fixed, the objective is a deterministic
function of the parameters (a sample-path, or sample-average, approximation), which is what makes a
deterministic optimiser sound here and a killed fit resumable: re-run, the optimiser proposes the same
points, and every finished evaluation comes from the cache.

Optimisers (registry :data:`OPTIMISERS`):

- ``least_squares`` (default): bounded trust-region least squares (``scipy.optimize.least_squares``, TRF)
  on the unit cube, with a Jacobian from forward differences of one ``diff_step`` (5 % of the range by
  default: large enough to step over the granularity of a discrete-event model, whose sample paths are
  piecewise constant in its parameters). Every target informs every parameter, so several targets per
  parameter (or per group) are weighed against each other, unlike the one-knob-per-target iteration of the
  old scripts; the n + 1 points of a Jacobian run as one batch on the executors.
- ``nelder_mead``: bounded Nelder-Mead on the sum of squares, for small problems where the residuals are
  too rough for differences. One point at a time (replications in parallel).

The budget is a number of evaluated points; when it runs out the best point so far is the result.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from sim.analysis import interval
from sim.calibration.derive import check as check_derived
from sim.calibration.derive import derive
from sim.calibration.evaluate import Evaluator
from sim.calibration.params import Parameter, check_bounds, resolve, settings
from sim.calibration.setup import base_raw, out_folder, with_settings
from sim.calibration.spec import CalibrationSpec, ConstraintSpec, load_spec
from sim.calibration.targets import Target, expand_targets
from sim.config import build_scenario, scenario_dict
from sim.errors import ConfigError, HmsimError


@dataclass(frozen=True)
class Constraint:
    """A resolved soft constraint: the mean of some parameters' values, fitted like a target."""

    id: str
    spec: ConstraintSpec
    members: tuple[int, ...]  # indexes into the problem's parameters

    def mean(self, values: list[float]) -> float:
        chosen = [values[i] for i in self.members]
        if self.spec.mean == "geometric":
            return float(np.exp(np.mean(np.log(chosen))))
        return float(np.mean(chosen))

    def residual(self, values: list[float]) -> float:
        return self.spec.weight * (self.mean(values) / self.spec.value - 1.0) / self.spec.tolerance


def resolve_constraints(specs: list[ConstraintSpec], params: list[Parameter]) -> list[Constraint]:
    import fnmatch

    out, problems = [], []
    names = [p.name for p in params]
    for i, c in enumerate(specs):
        members = tuple(
            j for j, n in enumerate(names) if any(fnmatch.fnmatchcase(n, pat) for pat in c.parameters)
        )
        if not members:
            problems.append(f"constraints[{i}].parameters: {c.parameters}: match no parameter")
            continue
        if c.mean == "geometric" and any(params[j].lo <= 0 for j in members):
            problems.append(f"constraints[{i}]: a geometric mean needs parameters with positive bounds")
        label = ", ".join(c.parameters)
        out.append(Constraint(f"{c.mean} mean of {label} = {c.value:g}", c, members))
    if problems:
        raise ConfigError(problems)
    return out


@dataclass
class Problem:
    spec: CalibrationSpec
    path: Path
    params: list[Parameter]
    targets: list[Target]
    holdouts: list[Target]
    evaluator: Evaluator
    holdout_evaluator: Evaluator | None
    out_dir: Path
    constraints: list[Constraint] = field(default_factory=list)

    def point(self, values: list[float]) -> list[tuple[str, Any]]:
        """The settings of a point: the parameters' keys and the derived keys."""
        return derive(self.evaluator.base, settings(self.params, values), self.spec.derived)


def horizon_years(start: date, last: date) -> float:
    """Years of a horizon from ``start`` that covers ``last`` (fractional years round to days)."""
    days = (last - start).days + 1
    return days / 365.25


def _with_horizon(raw: dict[str, Any], targets: list[Target], years: float | None) -> dict[str, Any]:
    out = dict(raw)
    horizon = dict(out.get("horizon", {}))
    start = horizon.get("start_date")
    start = date.fromisoformat(str(start)) if start else None
    if years is None:
        lasts = [d for t in targets if (d := t.measure.last_day()) is not None]
        if not lasts or start is None:
            return out
        years = horizon_years(start, max(lasts))
    horizon["years"] = years
    if start is not None:
        last = start + timedelta(days=round(years * 365.25) - 1)
        late = [t.id for t in targets if (d := t.measure.last_day()) is not None and d > last]
        if late:
            raise ConfigError(
                f"years {years}: the horizon ends {last}, before the window of {', '.join(late)}"
            )
    out["horizon"] = horizon
    return out


def prepare(
    path: Path,
    overrides: list[str] | tuple[str, ...] = (),
    workers: int | None = None,
    dask: str | None = None,
    out: Path | None = None,
) -> Problem:
    path = path.resolve()
    spec = load_spec(path, overrides)
    folder = path.parent
    raw = base_raw(spec.base, spec.set, folder)
    all_targets = expand_targets(spec, folder)
    fit_targets = [t for t in all_targets if not t.holdout]
    holdouts = [t for t in all_targets if t.holdout]
    fit_raw = _with_horizon(raw, fit_targets, spec.years)
    scenario = build_scenario(fit_raw, spec.name)
    params = resolve(spec.parameters, scenario_dict(scenario), "parameters")
    check_bounds(params, lambda s: build_scenario(with_settings(fit_raw, s), spec.name))
    constraints = resolve_constraints(spec.constraints, params)
    check_derived(spec.derived)
    out_dir = out_folder(out, "calibrate", spec.name)
    cache = out_dir / "cache"

    def evaluator(data: dict[str, Any], targets: list[Target]) -> Evaluator:
        return Evaluator(
            data,
            {t.id: t.measure for t in targets},
            spec.replications,
            spec.seed,
            cache,
            workers,
            dask,
            label="point",
        )

    hold = None
    if holdouts:
        hold_raw = _with_horizon(raw, holdouts, None)
        build_scenario(hold_raw, spec.name)
        hold = evaluator(hold_raw, holdouts)
    problem = Problem(
        spec, path, params, fit_targets, holdouts, evaluator(fit_raw, fit_targets), hold, out_dir, constraints
    )
    problem.evaluator.config(problem.point([q.start for q in params]))  # derived keys resolve at the start
    return problem


BUDGET_MESSAGE = "budget of evaluations used up"
"""The optimiser's message when it stopped on ``max_evaluations``: budget-limited, not converged."""


class _BudgetError(Exception):
    pass


@dataclass
class Trace:
    """Every point evaluated: parameter values, cost and replication values (in evaluation order)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    samples: dict[tuple[float, ...], np.ndarray] = field(default_factory=dict)
    jacobian: np.ndarray | None = None


class Objective:
    """Residuals of the replication means at points of the unit cube, with a budget of points."""

    def __init__(self, problem: Problem, log: Callable[[str], None]) -> None:
        self.p = problem
        self.trace = Trace()
        self.budget = problem.spec.optimiser.max_evaluations
        self.log = log

    def values(self, u: np.ndarray) -> list[float]:
        return [p.from_unit(float(x)) for p, x in zip(self.p.params, u, strict=True)]

    def residuals_many(self, us: list[np.ndarray]) -> list[np.ndarray]:
        keys = [tuple(float(x) for x in u) for u in us]
        new = [k for k in dict.fromkeys(keys) if k not in self.trace.samples]
        if len(self.trace.samples) + len(new) > self.budget and new:
            raise _BudgetError
        if new:
            points = [self.p.point(self.values(np.array(k))) for k in new]
            for k, sample in zip(new, self.p.evaluator.evaluate(points), strict=True):
                self.trace.samples[k] = sample
                res = self.residuals(k)
                cost = float(np.sum(res**2))
                self.trace.rows.append(
                    {
                        "evaluation": len(self.trace.rows) + 1,
                        "cost": cost,
                        **dict(zip([p.name for p in self.p.params], self.values(np.array(k)), strict=True)),
                    }
                )
                best = min(r["cost"] for r in self.trace.rows)
                self.log(f"  evaluation {len(self.trace.rows)}: cost {cost:.4g} (best {best:.4g})")
        return [self.residuals(k) for k in keys]

    def residuals(self, key: tuple[float, ...]) -> np.ndarray:
        """The targets' residuals at an evaluated point, then the constraints' (from its values alone)."""
        mean = np.nanmean(self.trace.samples[key], axis=0)
        values = self.values(np.array(key))
        res = np.array(
            [t.residual(float(m)) for t, m in zip(self.p.targets, mean, strict=True)]
            + [c.residual(values) for c in self.p.constraints]
        )
        return np.where(np.isfinite(res), res, 1e3)

    def best(self) -> tuple[np.ndarray, float]:
        key = min(self.trace.samples, key=lambda k: float(np.sum(self.residuals(k) ** 2)))
        return np.array(key), float(np.sum(self.residuals(key) ** 2))


def _least_squares(obj: Objective, u0: np.ndarray) -> str:
    from scipy.optimize import least_squares

    opt = obj.p.spec.optimiser
    step = opt.diff_step

    def fun(u: np.ndarray) -> np.ndarray:
        return obj.residuals_many([u])[0]

    def jac(u: np.ndarray) -> np.ndarray:
        points, steps = [u], []
        for j in range(u.size):
            h = step if u[j] + step <= 1.0 else -step
            v = u.copy()
            v[j] += h
            points.append(v)
            steps.append(h)
        res = obj.residuals_many(points)
        jacobian = np.column_stack([(res[j + 1] - res[0]) / steps[j] for j in range(u.size)])
        obj.trace.jacobian = jacobian
        return jacobian

    try:
        result = least_squares(
            fun, u0, jac=jac, bounds=(0.0, 1.0), method="trf", xtol=opt.tolerance, ftol=opt.tolerance,
            gtol=opt.tolerance, x_scale=1.0,
        )  # fmt: skip
    except _BudgetError:
        return BUDGET_MESSAGE
    return str(result.message)


def _nelder_mead(obj: Objective, u0: np.ndarray) -> str:
    from scipy.optimize import minimize

    opt = obj.p.spec.optimiser
    n = u0.size
    simplex = [u0]
    for j in range(n):
        v = u0.copy()
        v[j] += 0.1 if v[j] + 0.1 <= 1 else -0.1
        simplex.append(v)
    try:
        result = minimize(
            lambda u: float(np.sum(obj.residuals_many([np.clip(u, 0, 1)])[0] ** 2)),
            u0,
            method="Nelder-Mead",
            bounds=[(0.0, 1.0)] * n,
            options={"initial_simplex": np.array(simplex), "xatol": opt.tolerance, "fatol": opt.tolerance},
        )
    except _BudgetError:
        return BUDGET_MESSAGE
    return str(result.message)


OPTIMISERS: dict[str, Callable[[Objective, np.ndarray], str]] = {
    "least_squares": _least_squares,
    "nelder_mead": _nelder_mead,
}


@dataclass
class FitResult:
    problem: Problem
    start: list[float]
    fitted: list[float]
    before: np.ndarray  # replications x targets
    after: np.ndarray
    holdout_before: np.ndarray | None
    holdout_after: np.ndarray | None
    trace: Trace
    message: str
    cost_before: float
    cost_after: float
    evaluations: int
    runs: int
    cached: int
    wall_seconds: float
    attribution: dict[str, list[str]]
    derived: list[tuple[str, Any]] = field(default_factory=list)  # derived keys at the fitted point

    def stats(self, sample: np.ndarray) -> list[dict[str, float]]:
        conf = 0.95
        return [interval(sample[:, i], conf) for i in range(sample.shape[1])]


def attribution(problem: Problem, jacobian: np.ndarray | None) -> dict[str, list[str]]:
    """Per parameter, the targets that moved most with it (|d residual / d parameter| at least a quarter of
    the largest, at most four); all fitted targets where no Jacobian was computed."""
    ids = [t.id for t in problem.targets] + [c.id for c in problem.constraints]
    if jacobian is None:
        return {p.name: ids for p in problem.params}
    out: dict[str, list[str]] = {}
    for j, p in enumerate(problem.params):
        col = np.abs(jacobian[:, j])
        if not np.any(col > 0):
            out[p.name] = []
            continue
        order = np.argsort(-col)
        out[p.name] = [ids[i] for i in order[:4] if col[i] >= 0.25 * col.max()]
    return out


def run_fit(problem: Problem, log: Callable[[str], None] = print) -> FitResult:
    obj = Objective(problem, log)
    u0 = np.array([p.to_unit(p.start) for p in problem.params])
    log(
        f"{problem.spec.name}: {len(problem.params)} parameter(s), {len(problem.targets)} target(s), "
        f"{problem.spec.replications} replication(s) per point, optimiser {problem.spec.optimiser.method}"
    )
    obj.residuals_many([u0])
    message = OPTIMISERS[problem.spec.optimiser.method](obj, u0)
    best_u, cost_after = obj.best()
    key0 = tuple(float(x) for x in u0)
    before, after = obj.trace.samples[key0], obj.trace.samples[tuple(float(x) for x in best_u)]
    hb = ha = None
    if problem.holdout_evaluator is not None:
        hb, ha = problem.holdout_evaluator.evaluate(
            [problem.point(obj.values(u0)), problem.point(obj.values(best_u))]
        )
    ev = problem.evaluator
    hold_ev = problem.holdout_evaluator
    return FitResult(
        problem=problem,
        start=obj.values(u0),
        fitted=obj.values(best_u),
        before=before,
        after=after,
        holdout_before=hb,
        holdout_after=ha,
        trace=obj.trace,
        message=message,
        cost_before=float(np.sum(obj.residuals(key0) ** 2)),
        cost_after=cost_after,
        evaluations=len(obj.trace.rows),
        runs=ev.runs + (hold_ev.runs if hold_ev else 0),
        cached=ev.cached + (hold_ev.cached if hold_ev else 0),
        wall_seconds=ev.wall + (hold_ev.wall if hold_ev else 0.0),
        attribution=attribution(problem, obj.trace.jacobian),
        derived=problem.point(obj.values(best_u))[len(settings(problem.params, obj.values(best_u))) :],
    )


def at_bound(param: Parameter, value: float) -> str:
    u = param.to_unit(value)
    return "lower" if u <= 1e-3 else "upper" if u >= 1 - 1e-3 else ""


def fmt(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    return f"{x:.4g}"


def check_spec(path: Path, overrides: list[str] | tuple[str, ...] = ()) -> None:
    """Load and resolve a spec without running anything (raises ConfigError)."""
    prepare(path, overrides)


__all__ = [
    "FitResult",
    "HmsimError",
    "Problem",
    "at_bound",
    "base_raw",
    "prepare",
    "run_fit",
    "with_settings",
]
