"""Analyse a batch index: means with confidence intervals, paired differences, replications needed.

For every scenario and metric over the finished runs: the mean, the standard deviation and a Student-t
confidence interval (95 % by default). Against a baseline scenario the differences are paired by
replication, which common random numbers make much tighter than comparing two means. The replications
needed for a relative precision ``p`` (CI half-width at most ``p x |mean|``) solve
``n = (t(n - 1) x sd / (p x |mean|))^2`` by iteration.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.errors import HmsimError

BOOKKEEPING = {"scenario", "scenario_name", "replication", "seed", "status", "wall_seconds", "error"}


def metric_columns(index: pd.DataFrame, wanted: list[str] | None = None) -> list[str]:
    """Metric columns (``window.metric``), all or those matching ``wanted`` (with or without a window)."""
    columns = [
        c
        for c in index.columns
        if "." in c and c not in BOOKKEEPING and pd.api.types.is_numeric_dtype(index[c])
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
) -> dict[str, Any]:
    """``{"scenarios": {scenario: {metric: stats}}, "differences": {scenario: {metric: stats}}}``."""
    ok = index[index["status"] == "ok"]
    if ok.empty:
        raise HmsimError("no finished runs in the index (status ok); run or resume the batch first")
    columns = metric_columns(ok, metrics)
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
            s = interval(rows[column].to_numpy(), confidence)
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


def to_frame(result: dict[str, Any]) -> pd.DataFrame:
    """The analysis as one long table (for CSV): kind, scenario, metric and the statistics."""
    rows = []
    for kind in ("scenarios", "differences"):
        for label, metrics in result[kind].items():
            for metric, s in metrics.items():
                rows.append(
                    {
                        "kind": "mean" if kind == "scenarios" else "difference_to_baseline",
                        "scenario": label,
                        "metric": metric,
                        **s,
                    }
                )
    return pd.DataFrame(rows)
