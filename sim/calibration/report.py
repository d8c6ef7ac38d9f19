"""The fit report (Markdown + JSON + trace CSV) and the fitted YAML, both written atomically.

The fitted YAML holds only the keys the fit set, each with a comment naming the targets that fitted it, the
spec, the date and the seeds; a region config ``extends`` it last, so the fitted values override the
starting values (which keep their own sources in the files they come from). Keys inside a list (a rental
duration's components) write the whole list, as YAML merging replaces lists whole.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.analysis import interval
from sim.calibration.fit import BUDGET_MESSAGE, FitResult, at_bound, fmt
from sim.calibration.params import implausible, owners, settings
from sim.config.loader import set_value
from sim.store import write_json_atomic


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _ci(stats: dict[str, float]) -> str:
    if not math.isfinite(stats["half_width"]):
        return fmt(stats["mean"])
    return f"{fmt(stats['mean'])} ± {fmt(stats['half_width'])}"


def _pct(sim: float, obs: float) -> str:
    return f"{(sim / obs - 1) * 100:+.1f} %" if obs else "n/a"


def report_data(result: FitResult) -> dict[str, Any]:
    p = result.problem
    n_fit, n_par, n_con = len(p.targets), len(p.params), len(p.constraints)
    targets = []
    for i, t in enumerate(p.targets):
        b = interval(result.before[:, i])
        a = interval(result.after[:, i])
        targets.append(
            {
                "target": t.id,
                "observed": t.observed,
                "before": b,
                "after": a,
                "error_before": b["mean"] / t.observed - 1 if t.observed else math.nan,
                "error_after": a["mean"] / t.observed - 1 if t.observed else math.nan,
                "residual_after": t.residual(a["mean"]),
                "tolerance": t.scale,
            }
        )
    holdouts = []
    if result.holdout_after is not None and result.holdout_before is not None:
        for i, t in enumerate(p.holdouts):
            a = interval(result.holdout_after[:, i])
            b = interval(result.holdout_before[:, i])
            holdouts.append(
                {
                    "target": t.id,
                    "observed": t.observed,
                    "before": b,
                    "after": a,
                    "error_after": a["mean"] / t.observed - 1 if t.observed else math.nan,
                    "naive": t.naive,
                    "naive_error": (t.naive / t.observed - 1) if t.naive is not None and t.observed else None,
                }
            )
    params = [
        {
            "parameter": q.name,
            "mode": q.spec.mode,
            "keys": len(q.keys),
            "bounds": list(q.spec.bounds),
            "plausible": list(q.spec.plausible) if q.spec.plausible else None,
            "start": s,
            "fitted": f,
            "at_bound": at_bound(q, f),
            "implausible": implausible(q, f),
            "fitted_by": result.attribution.get(q.name, []),
        }
        for q, s, f in zip(p.params, result.start, result.fitted, strict=True)
    ]
    constraints = [
        {
            "constraint": c.id,
            "before": c.mean(result.start),
            "after": c.mean(result.fitted),
            "residual_after": c.residual(result.fitted),
            "note": c.spec.note,
        }
        for c in p.constraints
    ]
    derived = [
        {"key": key, "value": value, "kind": p.spec.derived[key].kind, "source": p.spec.derived[key].source}
        for key, value in result.derived
    ]
    return {
        "name": p.spec.name,
        "spec": _shown(p.path),
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "replications": p.spec.replications,
        "seeds": p.evaluator.seeds,
        "optimiser": p.spec.optimiser.model_dump(),
        "message": result.message,
        "targets_fitted": n_fit,
        "constraints": constraints,
        "parameters_fitted": n_par,
        "degrees_of_freedom": n_fit + n_con - n_par,
        "flags": flags(params),
        "derived": derived,
        "cost_before": result.cost_before,
        "cost_after": result.cost_after,
        "evaluations": result.evaluations,
        "runs": result.runs,
        "runs_from_cache": result.cached,
        "run_seconds": round(result.wall_seconds, 1),
        "targets": targets,
        "holdouts": holdouts,
        "parameters": params,
        "trace": result.trace.rows,
    }


def flags(params: list[dict[str, Any]]) -> list[str]:
    """One sentence per parameter that ended at a bound or outside its plausible range."""
    out = []
    for q in params:
        why = []
        if q["at_bound"]:
            why.append(
                f"at its {q['at_bound']} bound {fmt(q['bounds'][0 if q['at_bound'] == 'lower' else 1])}"
            )
        if q["implausible"]:
            lo, hi = q["plausible"]
            why.append(f"{q['implausible']} its plausible range [{fmt(lo)}, {fmt(hi)}]")
        if why:
            out.append(f"{q['parameter']} = {fmt(q['fitted'])}: {' and '.join(why)}")
    return out


def _shown(path: Path) -> str:
    """``path`` relative to the working folder where it lies below it (reports name the spec as typed)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def budget_note(data: dict[str, Any]) -> str | None:
    """A plain statement when the optimiser stopped on its budget rather than converging, else None."""
    if data["message"] != BUDGET_MESSAGE:
        return None
    return (
        f"budget-limited: {data['evaluations']} evaluations, cost {fmt(data['cost_before'])} -> "
        f"{fmt(data['cost_after'])}, not converged (rerun with a larger optimiser.max_evaluations; the cache "
        "keeps the work done)"
    )


def report_markdown(data: dict[str, Any]) -> str:
    note = budget_note(data)
    lines = [
        f"# Fit report: {data['name']}",
        "",
        *([f"**{note[0].upper()}{note[1:]}.**", ""] if note else []),
        f"Spec `{data['spec']}`, written {data['written_at']}; {data['replications']} replications per point "
        f"(seeds {data['seeds']}, the same at every point); optimiser {data['optimiser']['method']}: "
        f"{data['message'].rstrip('.')}.",
        "",
        f"{data['targets_fitted']} targets and {len(data['constraints'])} constraints, "
        f"{data['parameters_fitted']} free parameters: "
        f"**{data['degrees_of_freedom']} degrees of freedom**. Cost (sum of squared residuals in tolerances) "
        f"{fmt(data['cost_before'])} before, {fmt(data['cost_after'])} after; {data['evaluations']} points, "
        f"{data['runs']} runs ({data['runs_from_cache']} more from the cache), "
        f"{data['run_seconds']} s of runs.",
        "",
        "## Targets: simulated mean ± 95 % CI half-width vs observed",
        "",
        "| target | observed | before | error | after | error | residual (tolerances) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t in data["targets"]:
        lines.append(
            f"| {t['target']} | {fmt(t['observed'])} | {_ci(t['before'])} "
            f"| {_pct(t['before']['mean'], t['observed'])} "
            f"| {_ci(t['after'])} | {_pct(t['after']['mean'], t['observed'])} | {t['residual_after']:+.2f} |"
        )
    if data["constraints"]:
        lines += ["", "## Constraints (fitted like targets, no runs)", ""]
        lines += ["| constraint | before | after | residual (tolerances) | why |", "|---|---:|---:|---:|---|"]
        for c in data["constraints"]:
            lines.append(
                f"| {c['constraint']} | {fmt(c['before'])} | {fmt(c['after'])} | {c['residual_after']:+.2f} "
                f"| {c['note']} |"
            )
    lines += [
        "",
        "## Parameters",
        "",
        "| parameter | mode | keys | bounds | plausible | start | fitted | flag | fitted by |",
    ]
    lines.append("|---|---|---:|---|---|---:|---:|---|---|")
    for q in data["parameters"]:
        plaus = "-" if q["plausible"] is None else f"[{fmt(q['plausible'][0])}, {fmt(q['plausible'][1])}]"
        flag = ", ".join(
            x
            for x in (
                f"at the {q['at_bound']} bound" if q["at_bound"] else "",
                f"{q['implausible']} plausible" if q["implausible"] else "",
            )
            if x
        )
        lines.append(
            f"| {q['parameter']} | {q['mode']} | {q['keys']} "
            f"| [{fmt(q['bounds'][0])}, {fmt(q['bounds'][1])}] | {plaus} | {fmt(q['start'])} "
            f"| {fmt(q['fitted'])} | {flag or '-'} | {', '.join(q['fitted_by']) or '-'} |"
        )
    lines += ["", "**Flags.** " + ("; ".join(data["flags"]) + "." if data["flags"] else "none: no parameter "
              "ended at a bound or outside its plausible range.")]  # fmt: skip
    if data["derived"]:
        lines += ["", "## Derived keys (computed at every point, not searched)", ""]
        lines += ["| key | value at the fit | how | source |", "|---|---:|---|---|"]
        for d in data["derived"]:
            lines.append(f"| {d['key']} | {fmt(float(d['value']))} | {d['kind']} | {d['source'] or '-'} |")
    if data["holdouts"]:
        lines += [
            "",
            "## Hold-out targets (not fitted) against the naive forecast",
            "",
            "| target | observed | simulated after | error | naive forecast | naive error |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for h in data["holdouts"]:
            naive = "-" if h["naive"] is None else fmt(h["naive"])
            nerr = "-" if h["naive_error"] is None else f"{h['naive_error'] * 100:+.1f} %"
            lines.append(
                f"| {h['target']} | {fmt(h['observed'])} | {_ci(h['after'])} | "
                f"{_pct(h['after']['mean'], h['observed'])} | {naive} | {nerr} |"
            )
    lines += ["", "## Convergence trace", "", "| evaluation | cost | best so far |", "|---:|---:|---:|"]
    best = math.inf
    for row in data["trace"]:
        best = min(best, row["cost"])
        lines.append(f"| {row['evaluation']} | {fmt(row['cost'])} | {fmt(best)} |")
    return "\n".join(lines) + "\n"


def write_report(result: FitResult) -> dict[str, Any]:
    out = result.problem.out_dir
    data = report_data(result)
    write_json_atomic(out / "report.json", data)
    write_text_atomic(out / "report.md", report_markdown(data))
    frame = pd.DataFrame(result.trace.rows)
    write_text_atomic(out / "trace.csv", frame.to_csv(index=False))
    return data


def _scalar(value: Any) -> str:
    if isinstance(value, float):
        value = float(f"{value:.6g}")
    return (
        str(yaml.safe_dump(value, default_flow_style=True, allow_unicode=True)).replace("\n...\n", "").strip()
    )


def fitted_overlay(result: FitResult) -> tuple[dict[str, Any], dict[str, str]]:
    """The nested mapping of fitted keys (lists written whole) and a comment per written path."""
    p = result.problem
    base = copy.deepcopy(p.evaluator.base)
    overlay: dict[str, Any] = {}
    comments: dict[str, str] = {}
    when = datetime.now(UTC).date().isoformat()
    files = sorted({t.file for t in p.targets})
    by_name = {q.name: (q, v) for q, v in zip(p.params, result.fitted, strict=True)}
    owner = owners(p.params)

    def note_for(key: str) -> str:
        if key not in owner:
            d = p.spec.derived[key]
            return f"derived {when} by {d.kind} at the fitted point{'; ' + d.source if d.source else ''}"
        parts, targets = [], []
        for name in owner[key]:
            q, value = by_name[name]
            parts.append(f"{q.name}{f' x {fmt(value)}' if q.spec.mode == 'scale' else ''}")
            targets += [
                t for t in result.attribution.get(q.name) or [t.id for t in p.targets] if t not in targets
            ]
        unit = by_name[owner[key][0]][0].spec.unit
        head = f"{unit}; " if unit else ""
        return f"{head}{', '.join(parts)} fitted {when} to {'; '.join(targets)} ({', '.join(files)})"

    for key, v in [*settings(p.params, result.fitted), *result.derived]:
        note = note_for(key)
        parts = key.split(".")
        set_value(base, parts, v, key)
        # a key below a list: write the whole list (YAML merging replaces lists)
        node: Any = base
        cut = len(parts)
        for depth, part in enumerate(parts):
            if isinstance(node, list):
                cut = depth
                break
            node = node[part] if isinstance(node, dict) else None
        path = parts[:cut]
        value_here: Any = base
        for part in path:
            value_here = value_here[part]
        set_value(overlay, path, copy.deepcopy(value_here), key)
        joined = ".".join(path)
        comments[joined] = note if joined not in comments or cut == len(parts) else comments[joined]
    return overlay, comments


def _emit(node: dict[str, Any], comments: dict[str, str], prefix: list[str], indent: int) -> list[str]:
    lines = []
    pad = "  " * indent
    for key, value in node.items():
        path = [*prefix, str(key)]
        note = comments.get(".".join(path))
        tail = f"  # {note}" if note else ""
        if isinstance(value, dict):
            lines.append(f"{pad}{_scalar(key)}:{tail}")
            lines += _emit(value, comments, path, indent + 1)
        elif isinstance(value, list):
            lines.append(f"{pad}{_scalar(key)}:{tail}")
            lines += [f"{pad}  - {_flow(v)}" for v in value]
        else:
            lines.append(f"{pad}{_scalar(key)}: {_scalar(value)}{tail}")
    return lines


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def write_fitted(result: FitResult, path: Path, data: dict[str, Any]) -> None:
    overlay, comments = fitted_overlay(result)
    head = [
        f"# Generated by `hmsim calibrate {data['spec']}` on {data['written_at']};",
        "# do not edit by hand, rerun it.",
        f"# {data['targets_fitted']} targets, {data['parameters_fitted']} parameters "
        f"({data['degrees_of_freedom']} degrees of freedom), {data['replications']} replications per point, "
        f"seeds {data['seeds']} (the same at every point); cost {fmt(data['cost_before'])} -> "
        f"{fmt(data['cost_after'])}.",
        *([f"# {budget_note(data)}."] if budget_note(data) else []),
        "# Each value names its parameter, the fit date and the targets that fitted it.",
        "# Fit report: the report.md beside the fit's cache (results/calibrate/<name>/), copied into docs.",
    ]
    text = "\n".join([*head, *_emit(overlay, comments, [], 0)]) + "\n"
    check = yaml.safe_load(text)
    if not _same(check, overlay):
        raise RuntimeError("the fitted YAML does not read back as written")
    write_text_atomic(path, text)


def write_fitted_report(data: dict[str, Any], fitted: Path) -> Path:
    """The fit report beside the fitted YAML (``<stem>.report.json``, without the trace), with the SHA-256 of
    the fitted file as written: a shipped fit carries the evidence of what fitted it, and
    tests/test_shipped.py checks the shipped file against it (and its targets against today's data)."""
    path = fitted.with_suffix(".report.json")
    shipped = {k: v for k, v in data.items() if k != "trace"}
    shipped["fitted_sha256"] = hashlib.sha256(fitted.read_bytes()).hexdigest()
    write_json_atomic(path, shipped)
    return path


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float | int) and isinstance(b, float | int):
        return bool(np.isclose(a, b, rtol=1e-5, atol=0))
    return bool(a == b) or str(a) == str(b)
