"""Capacity search (``hmsim optimise SPEC``): the fewest or cheapest staff, vehicles and route days per depot
that meet KPI targets in each year of a horizon.

A candidate is a whole-number value per decision variable (a count set on its keys, or an index into a list
of ``choices`` such as route weekdays). Every candidate runs the whole horizon with the same seeds (common
random numbers) and yields each target's measure per year; it is **feasible in a year** when a one-sided
confidence bound over the replications meets every target (``mean - t(conf, R-1) sd / sqrt(R) >= min``, or
``mean + ... <= max``). Its size is the sum of its units (``objective: count``) or of units x unit cost per
year (``objective: cost``; unit costs from the economics config through ``unit_cost_key``).

Search, per year (why: KPIs improve with capacity, so the feasible set is an upper set, and each KPI rests
mostly on one pool; a search that exploits monotonicity needs a handful of points per variable where a grid
needs their product):

1. the top of the space (every variable at its maximum); a target not met there is out of reach in that
   year: say so with the best value reached over every point evaluated;
2. bisection per variable with the others at their maximum: the smallest value that stays feasible
   (one midpoint per variable per round, all in one batch);
3. the combination of those values, repaired while infeasible by the one-step increase that most improves
   the worst normalised bound (ties: cheapest);
4. descent: while a one-step decrease of some variable stays feasible, take the cheapest such;
5. finalists: the ``finalists`` cheapest feasible candidates seen re-run with ``final_replications`` (the
   first seeds are the same, so only the new replications run) and the cheapest still feasible is the
   recommendation.

Monotonicity is an assumption of the search, not of the model: step 4 checks the neighbours, and the
finalists' re-run guards against a candidate that passed on the luck of few replications.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import model_validator
from scipy import stats

from sim.calibration.evaluate import Evaluator
from sim.calibration.measures import Measure
from sim.calibration.params import expand_key, lookup
from sim.calibration.setup import base_raw, load_spec_file, out_folder
from sim.config import build_scenario, scenario_dict
from sim.config.base import Model, param
from sim.config.loader import validate_model
from sim.errors import ConfigError
from sim.experiment.plan import replication_seed
from sim.model.engine import horizon_days

Candidate = tuple[int, ...]


class VariableSpec(Model):
    keys: list[str] = param(..., "-", "-", "dotted config keys (wildcards allowed) set to the value")
    range: tuple[int, int] | None = param(None, "units", "-", "smallest and largest whole number")
    choices: list[Any] | None = param(
        None, "-", "-", "ordered values (least to most capacity), e.g. weekdays"
    )
    units: list[float] | None = param(None, "units", "-", "units of each choice (default: its length)")
    unit_cost: float | None = param(None, "SEK per unit and year", "-", "cost of one unit")
    unit_cost_key: str | None = param(None, "-", "-", "config key holding the unit cost (economics config)")
    note: str = param("", "-", "-", "what the variable is")

    @model_validator(mode="after")
    def _check(self) -> VariableSpec:
        if (self.range is None) == (self.choices is None):
            raise ValueError("give range or choices")
        if self.range is not None and not 0 <= self.range[0] <= self.range[1]:
            raise ValueError(f"range {list(self.range)}: need 0 <= lower <= upper")
        if self.choices is not None and not self.choices:
            raise ValueError("choices: give at least one")
        if self.units is not None and (self.choices is None or len(self.units) != len(self.choices)):
            raise ValueError("units: one per choice")
        if self.unit_cost is not None and self.unit_cost_key is not None:
            raise ValueError("give unit_cost or unit_cost_key, not both")
        return self

    @property
    def levels(self) -> int:
        if self.range is not None:
            return self.range[1] - self.range[0] + 1
        assert self.choices is not None
        return len(self.choices)

    def value(self, level: int) -> Any:
        if self.range is not None:
            return self.range[0] + level
        assert self.choices is not None
        return self.choices[level]

    def unit_count(self, level: int) -> float:
        if self.range is not None:
            return float(self.range[0] + level)
        assert self.choices is not None
        if self.units is not None:
            return float(self.units[level])
        choice = self.choices[level]
        return float(len(choice)) if isinstance(choice, list) else float(level + 1)


class TargetSpec(Model):
    measure: dict[str, Any] = param(..., "-", "-", "the measure, evaluated per year (window filled in)")
    min: float | None = param(None, "-", "-", "the lower confidence bound must reach this")
    max: float | None = param(None, "-", "-", "the upper confidence bound must stay below this")
    name: str | None = param(None, "-", "-", "label (default: the measure's metric)")

    @model_validator(mode="after")
    def _check(self) -> TargetSpec:
        if (self.min is None) == (self.max is None):
            raise ValueError("give min or max")
        return self

    @property
    def label(self) -> str:
        return self.name or str(self.measure.get("metric") or self.measure.get("kind", "target"))


class OptimiseSpec(Model):
    name: str = param(..., "-", "-", "search name (results/optimise/<name>/)")
    description: str = param("", "-", "-", "the question")
    base: str = param(..., "path", "-", "base scenario config, spec-relative")
    years: float | None = param(None, "years", "-", "horizon (overrides the base's)", gt=0, le=50)
    set: dict[str, Any] = param({}, "-", "-", "fixed overrides of the base (e.g. demand growth)")
    objective: str = param("cost", "-", "-", "count (fewest units) or cost (cheapest per year)")
    variables: dict[str, VariableSpec] = param(..., "-", "-", "decision variables")
    targets: list[TargetSpec] = param(..., "-", "-", "KPI targets per year")
    confidence: float = param(0.95, "-", "-", "one-sided confidence of the feasibility bound", gt=0.5, lt=1)
    replications: int = param(3, "runs", "-", "replications per candidate", ge=2)
    finalists: int = param(3, "candidates", "-", "cheapest feasible candidates re-run", ge=1)
    final_replications: int = param(8, "runs", "-", "replications of the finalists", ge=2)
    seed: int = param(1, "-", "-", "master seed (common random numbers)", ge=0)

    @model_validator(mode="after")
    def _check(self) -> OptimiseSpec:
        if self.objective not in ("count", "cost"):
            raise ValueError(f"objective {self.objective!r}: valid: count, cost")
        if not self.variables or not self.targets:
            raise ValueError("give at least one variable and one target")
        if self.final_replications < self.replications:
            raise ValueError("final_replications must be at least replications")
        return self


@dataclass
class Variable:
    name: str
    spec: VariableSpec
    keys: list[str]
    unit_cost: float


@dataclass
class Search:
    spec: OptimiseSpec
    variables: list[Variable]
    years: list[str]
    measures: dict[str, Measure]  # "<target index>.<year>" -> measure
    evaluator: Evaluator
    out_dir: Path
    samples: dict[tuple[Candidate, int], np.ndarray] = field(default_factory=dict)

    def settings(self, cand: Candidate) -> list[tuple[str, Any]]:
        return [
            (k, v.spec.value(level)) for v, level in zip(self.variables, cand, strict=True) for k in v.keys
        ]

    def size(self, cand: Candidate) -> float:
        weight = (lambda v: v.unit_cost) if self.spec.objective == "cost" else (lambda v: 1.0)
        return sum(
            weight(v) * v.spec.unit_count(level) for v, level in zip(self.variables, cand, strict=True)
        )

    def evaluate(self, cands: Sequence[Candidate], reps: int | None = None) -> None:
        reps = reps or self.spec.replications
        todo = [c for c in dict.fromkeys(cands) if (c, reps) not in self.samples]
        if not todo:
            return
        seeds = [replication_seed(self.spec.seed, r) for r in range(reps)]
        for cand, sample in zip(
            todo, self.evaluator.evaluate([self.settings(c) for c in todo], seeds), strict=True
        ):
            self.samples[(cand, reps)] = sample

    def bounds(self, cand: Candidate, year: str, reps: int | None = None) -> list[dict[str, float]]:
        """Per target in ``year``: mean, CI half-width (two-sided), one-sided bound, slack (>= 0 meets)."""
        reps = reps or self.spec.replications
        sample = self.samples[(cand, reps)]
        names = self.evaluator.names
        out = []
        for i, t in enumerate(self.spec.targets):
            col = sample[:, names.index(f"{i}.{year}")]
            col = col[np.isfinite(col)]
            n = col.size
            mean = float(col.mean()) if n else math.nan
            sd = float(col.std(ddof=1)) if n > 1 else math.nan
            se = sd / math.sqrt(n) if n > 1 else math.nan
            one = float(stats.t.ppf(self.spec.confidence, n - 1)) * se if n > 1 else math.nan
            two = float(stats.t.ppf(0.975, n - 1)) * se if n > 1 else math.nan
            if t.min is not None:
                bound, slack = mean - one, (mean - one) - t.min
                scale = abs(t.min) or 1.0
            else:
                assert t.max is not None
                bound, slack = mean + one, t.max - (mean + one)
                scale = abs(t.max) or 1.0
            out.append({"mean": mean, "half_width": two, "bound": bound, "slack": slack / scale})
        return out

    def feasible(self, cand: Candidate, year: str, reps: int | None = None) -> bool:
        return all(b["slack"] >= 0 for b in self.bounds(cand, year, reps))

    def worst(self, cand: Candidate, year: str) -> float:
        slacks = [b["slack"] for b in self.bounds(cand, year)]
        return min(s if math.isfinite(s) else -math.inf for s in slacks)


def _windows(start: date, years: float, warmup: int) -> list[tuple[str, date, date]]:
    last = start + timedelta(days=horizon_days(start, years) - 1)
    first = start + timedelta(days=warmup)
    out = []
    for year in range(first.year, last.year + 1):
        out.append((str(year), max(first, date(year, 1, 1)), min(last, date(year, 12, 31))))
    return out


def prepare(
    path: Path,
    overrides: Sequence[str] = (),
    workers: int | None = None,
    dask: str | None = None,
    out: Path | None = None,
) -> Search:
    path = path.resolve()
    spec = load_spec_file(OptimiseSpec, path, overrides)
    raw = base_raw(spec.base, spec.set, path.parent, spec.years)
    scenario = build_scenario(raw, spec.name)
    resolved = scenario_dict(scenario)
    problems: list[str] = []
    variables = []
    for name, v in spec.variables.items():
        keys = [k for pattern in v.keys for k in expand_key(resolved, pattern)]
        if not keys:
            problems.append(f"variables.{name}.keys: {v.keys}: match no key of the base config")
        cost = v.unit_cost or 0.0
        if v.unit_cost_key:
            try:
                cost = float(lookup(resolved, v.unit_cost_key))
            except (KeyError, IndexError, TypeError, ValueError):
                problems.append(
                    f"variables.{name}.unit_cost_key: {v.unit_cost_key!r}: not a number in the config"
                )
        if spec.objective == "cost" and v.unit_cost is None and v.unit_cost_key is None:
            problems.append(f"variables.{name}: objective cost needs unit_cost or unit_cost_key")
        variables.append(Variable(name, v, keys, cost))
    windows = _windows(scenario.horizon.start_date, scenario.horizon.years, scenario.horizon.warmup_days)
    measures: dict[str, Measure] = {}
    for i, t in enumerate(spec.targets):
        for year, start, end in windows:
            try:
                measures[f"{i}.{year}"] = validate_model(
                    Measure, {**t.measure, "start": start, "end": end}, f"targets[{i}].measure."
                )
            except ConfigError as exc:
                problems += exc.problems
                break
    if problems:
        raise ConfigError(problems)
    out_dir = out_folder(out, "optimise", spec.name)
    ev = Evaluator(raw, measures, spec.replications, spec.seed, out_dir / "cache", workers, dask, "candidate")
    search = Search(spec, variables, [w[0] for w in windows], measures, ev, out_dir)
    ev.config(search.settings(tuple(v.spec.levels - 1 for v in variables)))  # the top must be a valid config
    return search


def _bisect(search: Search, year: str, top: Candidate) -> Candidate:
    """Per variable (others at the top): the smallest level still feasible, by bisection in lock-step."""
    lo = [0] * len(top)  # lowest level that might be feasible
    hi = list(top)  # a level known to be feasible (the top)
    while True:
        mids = {i: (lo[i] + hi[i]) // 2 for i in range(len(top)) if lo[i] < hi[i]}
        if not mids:
            return tuple(hi)
        cands = {i: tuple(m if j == i else top[j] for j in range(len(top))) for i, m in mids.items()}
        search.evaluate(list(cands.values()))
        for i, cand in cands.items():
            if search.feasible(cand, year):
                hi[i] = mids[i]
            else:
                lo[i] = mids[i] + 1


def _step(cand: Candidate, i: int, d: int) -> Candidate:
    return tuple(c + d if j == i else c for j, c in enumerate(cand))


def search_year(search: Search, year: str, log: Callable[[str], None]) -> dict[str, Any]:
    top = tuple(v.spec.levels - 1 for v in search.variables)
    search.evaluate([top])
    if not search.feasible(top, year):
        return {"year": year, "feasible": False}
    cand = tuple(min(a, b) for a, b in zip(_bisect(search, year, top), top, strict=True))
    search.evaluate([cand])
    while not search.feasible(cand, year):  # repair: the best one-step increase
        ups = [_step(cand, i, 1) for i in range(len(cand)) if cand[i] < top[i]]
        search.evaluate(ups)
        cand = max(ups, key=lambda c: (search.feasible(c, year), search.worst(c, year), -search.size(c)))
    while True:  # descent: the cheapest feasible one-step decrease
        downs = [_step(cand, i, -1) for i in range(len(cand)) if cand[i] > 0]
        search.evaluate(downs)
        ok = [c for c in downs if search.feasible(c, year)]
        if not ok:
            break
        cand = min(ok, key=search.size)
    seen = sorted(
        {c for (c, r) in search.samples if r == search.spec.replications and search.feasible(c, year)},
        key=search.size,
    )
    finalists = seen[: search.spec.finalists]
    if cand not in finalists:
        finalists = [cand, *finalists[: search.spec.finalists - 1]]
    reps = search.spec.final_replications
    search.evaluate(finalists, reps)
    still = [c for c in finalists if search.feasible(c, year, reps)]
    log(f"  {year}: {len(finalists)} finalist(s), {len(still)} feasible with {reps} replications")
    if not still:
        search.evaluate([top], reps)
        still = [top] if search.feasible(top, year, reps) else []
    if not still:
        return {"year": year, "feasible": False, "finalists_failed": True}
    best = min(still, key=search.size)
    return {"year": year, "feasible": True, "candidate": best, "replications": reps}


def best_values(search: Search, year: str) -> list[dict[str, Any]]:
    """Per target: the best mean reached in ``year`` over every candidate evaluated (and where)."""
    out = []
    for i, t in enumerate(search.spec.targets):
        best: tuple[float, Candidate, int] | None = None
        for (cand, reps), _ in search.samples.items():
            b = search.bounds(cand, year, reps)[i]
            score = b["mean"] if t.min is not None else -b["mean"]
            if math.isfinite(score) and (best is None or score > best[0]):
                best = (score, cand, reps)
        if best is None:
            out.append({"target": t.label, "mean": math.nan})
            continue
        b = search.bounds(best[1], year, best[2])[i]
        out.append({"target": t.label, **b, "candidate": describe(search, best[1])})
    return out


def describe(search: Search, cand: Candidate) -> dict[str, Any]:
    return {v.name: v.spec.value(level) for v, level in zip(search.variables, cand, strict=True)}


def run_search(search: Search, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    results = []
    for year in search.years:
        log(f"{search.spec.name}: year {year}")
        res = search_year(search, year, log)
        if res["feasible"]:
            cand, reps = res["candidate"], res["replications"]
            res["capacity"] = describe(search, cand)
            res["size"] = search.size(cand)
            res["kpis"] = [
                {"target": t.label, "min": t.min, "max": t.max, **b}
                for t, b in zip(search.spec.targets, search.bounds(cand, year, reps), strict=True)
            ]
        else:
            top = tuple(v.spec.levels - 1 for v in search.variables)
            res["out_of_reach"] = [
                {"target": t.label, "min": t.min, "max": t.max, **b}
                for t, b in zip(search.spec.targets, search.bounds(top, year), strict=True)
                if b["slack"] < 0
            ]
            res["best_reached"] = best_values(search, year)
        res.pop("candidate", None)
        results.append(res)
    return results


def report_markdown(search: Search, results: list[dict[str, Any]]) -> str:
    spec = search.spec
    unit = "SEK per year" if spec.objective == "cost" else "units"
    conf = int(spec.confidence * 100)
    lines = [
        f"# Capacity search: {spec.name}",
        "",
        f"{spec.description}".strip(),
        "",
        f"Objective: {spec.objective} ({unit}). Feasible = the one-sided {conf} % confidence bound over "
        f"{spec.replications} replications meets every target (finalists: {spec.final_replications}). "
        f"{search.evaluator.runs} runs here, {search.evaluator.cached} from the cache.",
        "",
        "| year | recommendation | " + " | ".join(t.label for t in spec.targets) + f" | {spec.objective} |",
        "|---|---|" + "---:|" * (len(spec.targets) + 1),
    ]
    for res in results:
        if res["feasible"]:
            cap = ", ".join(f"{k} {_show(v)}" for k, v in res["capacity"].items())
            kpis = " | ".join(
                f"{k['mean']:.3f} ± {k['half_width']:.3f} (bound {k['bound']:.3f})" for k in res["kpis"]
            )
            lines.append(f"| {res['year']} | {cap} | {kpis} | {res['size']:,.0f} |")
        else:
            dashes = " | ".join("-" for _ in spec.targets)
            lines.append(f"| {res['year']} | nothing in the search space meets every target | {dashes} | - |")
    for res in results:
        if not res["feasible"]:
            lines += ["", f"**{res['year']}: out of reach.**"]
            for o in res.get("out_of_reach", []):
                goal = f">= {o['min']}" if o["min"] is not None else f"<= {o['max']}"
                lines.append(
                    f"- {o['target']} {goal}: at the top of the search space the mean is {o['mean']:.3f} "
                    f"± {o['half_width']:.3f} (bound {o['bound']:.3f})"
                )
            for b in res.get("best_reached", []):
                if "candidate" in b:
                    lines.append(
                        f"- best {b['target']} reached: {b['mean']:.3f} ± {b['half_width']:.3f} at "
                        + ", ".join(f"{k} {_show(v)}" for k, v in b["candidate"].items())
                    )
            if res.get("finalists_failed"):
                lines.append("- every finalist failed the re-run with more replications")
    return "\n".join(lines) + "\n"


def _show(value: Any) -> str:
    return "+".join(map(str, value)) if isinstance(value, list) else str(value)
