"""Global sensitivity analysis (``hmsim sensitivity SPEC``): Morris screening, then Sobol indices on the few
parameters that matter, for chosen outputs, with SALib.

Method. Morris elementary effects (``trajectories`` x (k + 1) points) rank all k parameters by mu* (mean
absolute effect) and sigma (non-linearity or interaction); the ``sobol.top`` parameters with the largest
mu* relative to each output's largest (then the maximum over outputs) go on to Saltelli sampling and
Sobol first-order (S1) and total (ST) indices with bootstrap 95 % intervals (``samples`` x (m + 2) points,
the others held at their start values). Parameters are sampled on the unit cube (log-uniform where the
parameter searches on a log scale) and mapped to their ranges.

Noise. Every point runs the same ``replications`` seeds (common random numbers), so the model is a
deterministic function of the parameters for those seeds and the elementary effects and indices measure
the parameters, not the seed-to-seed noise; averaging over more replications makes them less specific to
those seeds. Points are evaluated on the batch executors and cached, so a killed analysis resumes
(the samples are drawn from a fixed seed, so the same points come back).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import model_validator

from sim.calibration.evaluate import Evaluator
from sim.calibration.measures import Measure
from sim.calibration.params import Parameter, ParameterSpec, check_bounds, resolve, settings
from sim.calibration.setup import base_raw, load_spec_file, out_folder, with_settings
from sim.config import build_scenario, scenario_dict
from sim.config.base import Model, param
from sim.errors import ConfigError
from sim.model.engine import horizon_days

Fn = Callable[[np.ndarray], np.ndarray]  # points (n x k, parameter values) -> outputs (n x m)


class MorrisSpec(Model):
    trajectories: int = param(10, "trajectories", "-", "Morris trajectories (each k + 1 points)", ge=2)
    levels: int = param(4, "levels", "-", "grid levels of the Morris design", ge=2)


class SobolSpec(Model):
    top: int = param(3, "parameters", "-", "how many of the top Morris parameters get Sobol indices", ge=0)
    samples: int = param(
        64, "base samples", "-", "Saltelli base samples N (a power of 2); 0 skips Sobol", ge=0
    )


class OutputSpec(Measure):
    per_year: bool = param(False, "-", "-", "one output per calendar year of the horizon")


class SensitivitySpec(Model):
    name: str = param(..., "-", "-", "analysis name (results/sensitivity/<name>/)")
    description: str = param("", "-", "-", "what is analysed")
    base: str = param(..., "path", "-", "base scenario config, spec-relative")
    years: float | None = param(None, "years", "-", "horizon (overrides the base's)", gt=0, le=50)
    set: dict[str, Any] = param({}, "-", "-", "fixed overrides of the base")
    parameters: dict[str, ParameterSpec] = param(..., "-", "-", "name -> keys, mode, range (bounds)")
    outputs: dict[str, OutputSpec] = param(..., "-", "-", "name -> measure (per_year: one per year)")
    replications: int = param(1, "runs", "-", "replications per point (common random numbers)", ge=1)
    seed: int = param(1, "-", "-", "master seed of the replications and of the samples", ge=0)
    morris: MorrisSpec = param(MorrisSpec(), "-", "-", "screening design")
    sobol: SobolSpec = param(SobolSpec(), "-", "-", "indices on the top parameters")

    @model_validator(mode="after")
    def _check(self) -> SensitivitySpec:
        if len(self.parameters) < 2:
            raise ValueError("parameters: give at least two")
        if not self.outputs:
            raise ValueError("outputs: give at least one")
        return self


def problem_dict(names: Sequence[str]) -> dict[str, Any]:
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def morris(
    names: Sequence[str], fn: Fn, outputs: Sequence[str], trajectories: int, levels: int, seed: int
) -> pd.DataFrame:
    """Morris screening on the unit cube: one row per output x parameter with mu*, its CI, sigma."""
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    problem = problem_dict(names)
    x = sample.sample(problem, trajectories, num_levels=levels, seed=seed)
    y = np.asarray(fn(x), dtype=float)
    rows = []
    for j, out in enumerate(outputs):
        col = _finite(y[:, j])
        res = analyze.analyze(problem, x, col, num_levels=levels, conf_level=0.95, seed=seed)
        for i, name in enumerate(names):
            rows.append(
                {
                    "output": out,
                    "parameter": name,
                    "mu_star": float(res["mu_star"][i]),
                    "mu_star_conf": float(res["mu_star_conf"][i]),
                    "sigma": float(res["sigma"][i]),
                    "mu": float(res["mu"][i]),
                }
            )
    return pd.DataFrame(rows)


def sobol(names: Sequence[str], fn: Fn, outputs: Sequence[str], samples: int, seed: int) -> pd.DataFrame:
    """Sobol S1 and ST with 95 % bootstrap intervals on the unit cube (Saltelli sampling)."""
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    problem = problem_dict(names)
    x = sample.sample(problem, samples, calc_second_order=False, seed=seed)
    y = np.asarray(fn(x), dtype=float)
    rows = []
    for j, out in enumerate(outputs):
        res = analyze.analyze(problem, _finite(y[:, j]), calc_second_order=False, conf_level=0.95, seed=seed)
        for i, name in enumerate(names):
            rows.append(
                {
                    "output": out,
                    "parameter": name,
                    "S1": float(res["S1"][i]),
                    "S1_conf": float(res["S1_conf"][i]),
                    "ST": float(res["ST"][i]),
                    "ST_conf": float(res["ST_conf"][i]),
                }
            )
    return pd.DataFrame(rows)


def _finite(col: np.ndarray) -> np.ndarray:
    """Undefined outputs (a KPI with no events) count as the mean of the defined ones."""
    ok = np.isfinite(col)
    if not ok.any():
        return np.zeros_like(col)
    return np.where(ok, col, float(np.mean(col[ok])))


def top_parameters(table: pd.DataFrame, count: int) -> list[str]:
    """Parameters ranked by mu* relative to each output's largest, then the maximum over outputs."""
    if table.empty or count == 0:
        return []
    scaled = table.copy()
    peak = scaled.groupby("output")["mu_star"].transform("max")
    scaled["relative"] = np.where(peak > 0, scaled["mu_star"] / peak.where(peak > 0, 1.0), 0.0)
    ranking = scaled.groupby("parameter", sort=False)["relative"].max().sort_values(ascending=False)
    return [str(p) for p in ranking.index[:count] if ranking[p] > 0]


@dataclass
class Analysis:
    spec: SensitivitySpec
    params: list[Parameter]
    outputs: list[str]
    evaluator: Evaluator
    out_dir: Path


def _expand_outputs(spec: SensitivitySpec, start: date, years: float) -> dict[str, Measure]:
    last = start + timedelta(days=horizon_days(start, years) - 1)
    out: dict[str, Measure] = {}
    for name, o in spec.outputs.items():
        data = o.model_dump(exclude={"per_year"})
        if not o.per_year:
            out[name] = Measure.model_validate(data)
            continue
        for year in range(start.year, last.year + 1):
            window = {"start": max(start, date(year, 1, 1)), "end": min(last, date(year, 12, 31))}
            out[f"{name}.{year}"] = Measure.model_validate({**data, **window})
    return out


def prepare(
    path: Path,
    overrides: Sequence[str] = (),
    workers: int | None = None,
    dask: str | None = None,
    out: Path | None = None,
) -> Analysis:
    path = path.resolve()
    spec = load_spec_file(SensitivitySpec, path, overrides)
    raw = base_raw(spec.base, spec.set, path.parent, spec.years)
    scenario = build_scenario(raw, spec.name)
    params = resolve(spec.parameters, scenario_dict(scenario), "parameters")
    check_bounds(params, lambda s: build_scenario(with_settings(raw, s), spec.name))
    measures = _expand_outputs(spec, scenario.horizon.start_date, scenario.horizon.years)
    last = scenario.horizon.start_date + timedelta(
        days=horizon_days(scenario.horizon.start_date, scenario.horizon.years) - 1
    )
    late = [n for n, m in measures.items() if (d := m.last_day()) is not None and d > last]
    if late:
        raise ConfigError(f"outputs: {', '.join(late)}: window ends after the horizon ({last})")
    out_dir = out_folder(out, "sensitivity", spec.name)
    ev = Evaluator(raw, measures, spec.replications, spec.seed, out_dir / "cache", workers, dask)
    return Analysis(spec, params, list(measures), ev, out_dir)


def model_fn(analysis: Analysis, names: Sequence[str]) -> Fn:
    """Points on the unit cube of ``names`` (the others at their start) -> replication-mean outputs."""
    index = {p.name: p for p in analysis.params}

    def fn(x: np.ndarray) -> np.ndarray:
        points = []
        for row in x:
            values = {p.name: p.start for p in analysis.params}
            for name, u in zip(names, row, strict=True):
                values[name] = index[name].from_unit(float(u))
            points.append(settings(analysis.params, [values[p.name] for p in analysis.params]))
        samples = analysis.evaluator.evaluate(points)
        return np.array([np.nanmean(s, axis=0) for s in samples])

    return fn


def run_analysis(analysis: Analysis, log: Callable[[str], None] = print) -> tuple[pd.DataFrame, pd.DataFrame]:
    spec = analysis.spec
    names = [p.name for p in analysis.params]
    k = len(names)
    log(
        f"{spec.name}: Morris, {spec.morris.trajectories} trajectories x {k + 1} points x "
        f"{spec.replications} replication(s) = {spec.morris.trajectories * (k + 1) * spec.replications} runs"
    )
    screen = morris(
        names,
        model_fn(analysis, names),
        analysis.outputs,
        spec.morris.trajectories,
        spec.morris.levels,
        spec.seed,
    )
    chosen = top_parameters(screen, min(spec.sobol.top, k)) if spec.sobol.samples else []
    indices = pd.DataFrame(columns=["output", "parameter", "S1", "S1_conf", "ST", "ST_conf"])
    if chosen:
        n = spec.sobol.samples
        log(
            f"{spec.name}: Sobol on {', '.join(chosen)}: {n} x {len(chosen) + 2} points x "
            f"{spec.replications} replication(s) = {n * (len(chosen) + 2) * spec.replications} runs"
        )
        indices = sobol(chosen, model_fn(analysis, chosen), analysis.outputs, n, spec.seed)
    return screen, indices


def plot(screen: pd.DataFrame, indices: pd.DataFrame, out_dir: Path) -> list[Path]:
    """One PNG per output: Morris mu* against sigma, and Sobol S1 / ST bars with their intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for output, rows in screen.groupby("output", sort=False):
        sob = indices[indices["output"] == output] if not indices.empty else indices
        fig, axes = plt.subplots(1, 2 if len(sob) else 1, figsize=(11 if len(sob) else 6, 4.5), squeeze=False)
        ax = axes[0][0]
        ax.errorbar(rows["mu_star"], rows["sigma"], xerr=rows["mu_star_conf"], fmt="o", capsize=3)
        for _, r in rows.iterrows():
            ax.annotate(str(r["parameter"]), (r["mu_star"], r["sigma"]), fontsize=8, xytext=(3, 3),
                        textcoords="offset points")  # fmt: skip
        ax.set_xlabel("mu* (mean |elementary effect|, output units per full range)")
        ax.set_ylabel("sigma (non-linearity, interactions)")
        ax.set_title(f"Morris: {output}")
        if len(sob):
            ax2 = axes[0][1]
            pos = np.arange(len(sob))
            ax2.bar(pos - 0.2, sob["S1"], 0.4, yerr=sob["S1_conf"], capsize=3, label="S1 (first order)")
            ax2.bar(pos + 0.2, sob["ST"], 0.4, yerr=sob["ST_conf"], capsize=3, label="ST (total)")
            ax2.set_xticks(pos, [str(p) for p in sob["parameter"]], rotation=20, ha="right", fontsize=8)
            ax2.set_ylabel("share of output variance")
            ax2.set_title(f"Sobol: {output}")
            ax2.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / f"sensitivity_{_safe(str(output))}.png"
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.partial.png")
        fig.savefig(tmp, dpi=110)
        plt.close(fig)
        tmp.replace(path)
        written.append(path)
    return written


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)


def report_markdown(analysis: Analysis, screen: pd.DataFrame, indices: pd.DataFrame) -> str:
    spec = analysis.spec
    ev = analysis.evaluator
    lines = [
        f"# Sensitivity: {spec.name}",
        "",
        f"{len(analysis.params)} parameters, {len(analysis.outputs)} outputs; "
        f"{spec.replications} replication(s) per point (seeds {ev.seeds}, the same at every point); "
        f"{ev.runs} runs here, {ev.cached} from the cache, {ev.wall:.0f} s of runs.",
        "",
        "## Morris screening (mu* with its 95 % bootstrap interval, sigma)",
        "",
        "| output | parameter | mu* | ± | sigma |",
        "|---|---|---:|---:|---:|",
    ]
    for _, r in screen.sort_values(["output", "mu_star"], ascending=[True, False]).iterrows():
        lines.append(
            f"| {r['output']} | {r['parameter']} | {_g(r['mu_star'])} | {_g(r['mu_star_conf'])} "
            f"| {_g(r['sigma'])} |"
        )
    if not indices.empty:
        lines += ["", "## Sobol indices (95 % bootstrap intervals)", "", "| output | parameter | S1 | ST |"]
        lines.append("|---|---|---:|---:|")
        for _, r in indices.iterrows():
            lines.append(
                f"| {r['output']} | {r['parameter']} | {r['S1']:.3f} ± {r['S1_conf']:.3f} "
                f"| {r['ST']:.3f} ± {r['ST_conf']:.3f} |"
            )
    lines += ["", "## Parameters and ranges", "", "| parameter | keys | range | note |", "|---|---|---|---|"]
    for p in analysis.params:
        lines.append(
            f"| {p.name} | {', '.join(p.spec.keys)} ({len(p.keys)}) | {p.spec.mode} "
            f"[{_g(p.lo)}, {_g(p.hi)}] {p.spec.unit} | {p.spec.note} |"
        )
    return "\n".join(lines) + "\n"


def _g(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else "n/a"
