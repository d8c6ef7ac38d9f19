"""Analyse a batch index: means with confidence intervals, paired differences, replications needed.

For every scenario and metric over the finished runs: the mean, the standard deviation and a Student-t
confidence interval (95 % by default). Shares (the service KPIs, rental rate, utilisation) get the
Student-t interval on the logit scale, transformed back, so their interval stays within [0, 1]; it is
close to the plain t-interval away from 0 and 1 and never crosses a bound near them. Against a baseline
scenario the differences are paired by replication, which common random numbers make much tighter than
comparing two means (plain t-intervals: a difference of shares lies in [-1, 1] and is not near a bound).
The replications needed for a relative precision ``p`` (CI half-width at most ``p x |mean|``) solve
``n = (t(n - 1) x sd / (p x |mean|))^2`` by iteration.

Metric columns are ``<window>.<metric>``; the grid's inputs (``demand.trend.growth``, ...) are columns of
the index too but are inputs, not results, and are never analysed. ``pivot`` lays the result out for
reading: one row per metric and scenario, the windows (years) as columns, money in kSEK, the unit and the
target (from the region's observed documents) beside each metric.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.errors import HmsimError

BOOKKEEPING = {"scenario", "scenario_name", "replication", "seed", "status", "wall_seconds", "error"}
SHARE_METRICS = {
    "kpi_delivery_on_planned_day",
    "kpi_repair_done_within_5_workdays",
    "kpi_fitting_offered_within_15_workdays",
    "kpi_rental_rate_devices_at_customer",
    "technician_utilisation",
}
LOGIT_EPS = 1e-6  # shares of exactly 0 or 1 are moved this far inside before the logit


def metric_name(column: str) -> str:
    """``"2024.orders"`` -> ``"orders"``."""
    return column.split(".", 1)[1]


def unit_of(metric: str) -> str:
    if metric in SHARE_METRICS:
        return "share"
    if metric.startswith("ledger_"):
        return "kSEK"
    if metric == "kpi_mil_driven_per_rented_individual_volume":
        return "mil per device"
    if metric == "rented_volume_individual":
        return "devices"
    return "count"


def metric_columns(
    index: pd.DataFrame, wanted: list[str] | None = None, inputs: list[str] | None = None
) -> list[str]:
    """Metric columns (``window.metric``), all or those matching ``wanted`` (with or without a window).

    ``inputs`` are the grid's keys (never metrics); any column whose metric part holds a dot is an input
    too (metric names have none, dotted config keys do).
    """
    skip = BOOKKEEPING | set(inputs or ())
    columns = [
        c
        for c in index.columns
        if "." in c
        and c not in skip
        and "." not in metric_name(c)
        and pd.api.types.is_numeric_dtype(index[c])
    ]
    if not wanted:
        return columns
    out = []
    for w in wanted:
        match = [c for c in columns if c == w or c.split(".", 1)[1] == w]
        if not match:
            names = sorted({c.split(".", 1)[1] for c in columns})
            raise HmsimError(f"--metric {w!r}: not in the index; valid: {', '.join(names)}")
        out += [c for c in match if c not in out]
    return out


def interval(values: np.ndarray, confidence: float = 0.95) -> dict[str, float]:
    """Mean, sd and the Student-t confidence interval of ``values`` (nan where undefined)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    mean = float(x.mean()) if n else math.nan
    sd = float(x.std(ddof=1)) if n > 1 else math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)) if n > 1 else math.nan
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half, "half_width": half}


def share_interval(values: np.ndarray, confidence: float = 0.95) -> dict[str, float]:
    """``interval`` with the CI from a t-interval on the logit scale, so it stays within [0, 1]."""
    out = interval(values, confidence)
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return out
    z = np.log(np.clip(x, LOGIT_EPS, 1 - LOGIT_EPS) / (1 - np.clip(x, LOGIT_EPS, 1 - LOGIT_EPS)))
    zs = interval(z, confidence)
    if not math.isfinite(zs["half_width"]):
        return out
    low = 1 / (1 + math.exp(-zs["ci_low"]))
    high = 1 / (1 + math.exp(-zs["ci_high"]))
    if ((x <= 0) | (x >= 1)).any():
        # A replication at exactly 0 or 1 puts the logit interval at the mercy of LOGIT_EPS (one share
        # of 0.04 among four 0s gave [0, mean]); there the interval also covers the plain t-interval,
        # clipped to [0, 1]: coverage measured in tests/test_analysis.py near both bounds.
        low = min(low, max(0.0, out["ci_low"]))
        high = max(high, min(1.0, out["ci_high"]))
    low, high = min(low, out["mean"]), max(high, out["mean"])  # the mean always lies inside
    out.update(ci_low=low, ci_high=high, half_width=(high - low) / 2)
    return out


def replications_needed(sd: float, mean: float, precision: float, confidence: float = 0.95) -> float:
    """Smallest n with t(n-1) x sd / sqrt(n) <= precision x |mean| (nan if the mean is 0 or sd unknown)."""
    if not (math.isfinite(sd) and math.isfinite(mean)) or mean == 0:
        return math.nan
    if sd == 0:
        return 2.0
    target = precision * abs(mean)
    n = max(2, math.ceil((stats.norm.ppf(0.5 + confidence / 2) * sd / target) ** 2))
    while stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n) > target:
        n += 1
    return float(n)


def analyse(
    index: pd.DataFrame,
    metrics: list[str] | None = None,
    baseline: str | None = None,
    precision: float = 0.05,
    confidence: float = 0.95,
    inputs: list[str] | None = None,
) -> dict[str, Any]:
    """``{"scenarios": {scenario: {metric: stats}}, "differences": {scenario: {metric: stats}}}``.

    Amounts are as stored (SEK); ``pivot`` converts money to kSEK for reading.
    """
    ok = index[index["status"] == "ok"]
    if ok.empty:
        raise HmsimError("no finished runs in the index (status ok); run or resume the batch first")
    columns = metric_columns(ok, metrics, inputs)
    result: dict[str, Any] = {
        "scenarios": {},
        "differences": {},
        "confidence": confidence,
        "precision": precision,
        "baseline": baseline,
    }
    for label, rows in ok.groupby("scenario", sort=False):
        out = {}
        for column in columns:
            estimate = share_interval if metric_name(column) in SHARE_METRICS else interval
            s = estimate(rows[column].to_numpy(), confidence)
            s["relative_half_width"] = s["half_width"] / abs(s["mean"]) if s["mean"] else math.nan
            s["replications_needed"] = replications_needed(s["sd"], s["mean"], precision, confidence)
            out[column] = s
        result["scenarios"][str(label)] = out
    if baseline is not None:
        labels = list(result["scenarios"])
        if baseline not in labels:
            named = [
                lab for lab in labels if ok.loc[ok["scenario"] == lab, "scenario_name"].iloc[0] == baseline
            ]
            if len(named) != 1:
                raise HmsimError(
                    f"--baseline {baseline!r}: must name one scenario; valid: {', '.join(labels)}"
                )
            baseline = named[0]
            result["baseline"] = baseline
        base = ok[ok["scenario"] == baseline].set_index("replication")
        for label, rows in ok.groupby("scenario", sort=False):
            if label == baseline:
                continue
            paired = rows.set_index("replication")
            common = paired.index.intersection(base.index)
            result["differences"][str(label)] = {
                column: interval(
                    (paired.loc[common, column] - base.loc[common, column]).to_numpy(), confidence
                )
                for column in columns
            }
    return result


MONEY_STATS = ("mean", "sd", "ci_low", "ci_high", "half_width")


def _scaled(metric: str, s: dict[str, float]) -> dict[str, float]:
    """Statistics with money in kSEK."""
    if unit_of(metric) != "kSEK":
        return dict(s)
    return {k: (v / 1000 if k in MONEY_STATS else v) for k, v in s.items()}


def to_frame(result: dict[str, Any]) -> pd.DataFrame:
    """The analysis as one long table (for CSV): kind, scenario, window, metric, unit and the statistics.

    Money is in kSEK (the ``unit`` column says so).
    """
    rows = []
    for kind in ("scenarios", "differences"):
        for label, metrics in result[kind].items():
            for column, s in metrics.items():
                window, metric = column.split(".", 1)
                rows.append(
                    {
                        "kind": "mean" if kind == "scenarios" else "difference_to_baseline",
                        "scenario": label,
                        "metric": column,
                        "window": window,
                        "unit": unit_of(metric),
                        **_scaled(metric, s),
                    }
                )
    return pd.DataFrame(rows)


def pivot(
    result: dict[str, Any], kind: str = "scenarios", targets: dict[str, float] | None = None
) -> pd.DataFrame:
    """One row per metric and scenario, windows as columns ``<window> mean|low|high``; money in kSEK.

    Columns: ``metric``, ``unit``, ``target`` (where the observed documents give one), ``scenario``,
    ``n``, ``replications_needed`` (the most over the windows; means only), then three per window.
    """
    targets = targets or {}
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    windows: list[str] = []
    for label, metrics in result[kind].items():
        for column, s in metrics.items():
            window, metric = column.split(".", 1)
            if window not in windows:
                windows.append(window)
            s = _scaled(metric, s)
            row = rows.setdefault(
                (metric, label),
                {
                    "metric": metric,
                    "unit": unit_of(metric),
                    "target": targets.get(metric, math.nan),
                    "scenario": label,
                    "n": s["n"],
                    **({"replications_needed": math.nan} if kind == "scenarios" else {}),
                },
            )
            row[f"{window} mean"] = s["mean"]
            row[f"{window} low"] = s["ci_low"]
            row[f"{window} high"] = s["ci_high"]
            if kind == "scenarios":
                needed = s.get("replications_needed", math.nan)
                if math.isfinite(needed) and not needed <= row["replications_needed"]:
                    row["replications_needed"] = needed
    order = list(dict.fromkeys(m for m, _ in rows))
    frame = pd.DataFrame([rows[key] for m in order for key in rows if key[0] == m])
    if frame.empty:
        return frame
    value_columns = [f"{w} {s}" for w in windows for s in ("mean", "low", "high")]
    head = [c for c in frame.columns if c not in value_columns]
    return frame[head + [c for c in value_columns if c in frame.columns]]


def _decimals(values: pd.Series, unit: str) -> int:
    """Decimals for a metric's block: 3 for shares, else by the size of its largest mean."""
    if unit == "share":
        return 3
    top = float(np.nanmax(np.abs(values.to_numpy(dtype=float)))) if len(values) else 0.0
    return 0 if top >= 100 else 1 if top >= 10 else 2 if top >= 0.1 else 3


def _num(value: float, decimals: int) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:,.{decimals}f}".replace(",", " ")


def format_pivot(table: pd.DataFrame, title: str) -> list[str]:
    """Lines for the terminal: per metric a block, a row per scenario, a column per window."""
    if table.empty:
        return []
    windows = [c[: -len(" mean")] for c in table.columns if c.endswith(" mean")]
    lines = [title]
    label_width = max(len(str(s)) for s in table["scenario"])
    for metric, rows in table.groupby("metric", sort=False):
        unit = str(rows["unit"].iloc[0])
        goal = rows["target"].iloc[0]
        means = rows[[f"{w} mean" for w in windows]].stack() if windows else pd.Series(dtype=float)
        d = _decimals(means, unit)
        head = f"{metric} ({unit}" + (f"; target {goal:g}" if math.isfinite(goal) else "") + ")"
        cells = []
        for _, r in rows.iterrows():
            cells.append(
                [
                    f"{_num(r[f'{w} mean'], d)} [{_num(r[f'{w} low'], d)}, {_num(r[f'{w} high'], d)}]"
                    for w in windows
                ]
            )
        widths = [max(len(w), *(len(c[i]) for c in cells)) for i, w in enumerate(windows)]
        lines.append(head)
        lines.append(
            "  " + " " * label_width + "  " + "  ".join(f"{w:>{widths[i]}}" for i, w in enumerate(windows))
        )
        for (_, r), row_cells in zip(rows.iterrows(), cells, strict=True):
            text = "  ".join(f"{c:>{widths[i]}}" for i, c in enumerate(row_cells))
            needed = r.get("replications_needed", math.nan)
            tail = f"  n={int(r['n'])}" + (
                f", needed {needed:.0f}" if isinstance(needed, float) and math.isfinite(needed) else ""
            )
            lines.append(f"  {r['scenario']:<{label_width}}  {text}{tail}")
    return lines


def batch_inputs(results_dir: Path | str) -> list[str]:
    """The grid's keys of a batch (from its ``experiment.json``; none if it is missing)."""
    path = Path(results_dir) / "experiment.json"
    try:
        experiment = json.loads(path.read_text(encoding="utf-8")).get("experiment", {})
    except (OSError, json.JSONDecodeError):
        return []
    return list(experiment.get("grid") or {})


def batch_targets(results_dir: Path | str) -> dict[str, float]:
    """Targets of the metrics from the observed documents of the batch's region (none if not found)."""
    from sim.report.observed import load_observed

    names = [str(results_dir)]
    path = Path(results_dir) / "experiment.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        names += [str(data.get("path", "")), str(data.get("experiment", {}).get("base", ""))]
        names.append(str(data.get("experiment", {}).get("name", "")))
    except (OSError, json.JSONDecodeError):
        pass
    observed = load_observed(names)
    out = {}
    for metric in SHARE_METRICS | {"kpi_mil_driven_per_rented_individual_volume"}:
        found = observed.target(metric)
        if found is not None:
            out[metric] = found[0]
    return out
