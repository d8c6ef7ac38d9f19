"""Tables of a batch as a whole, from its index (``hmsim analyze``'s statistics, the same numbers).

- ``analysis_means`` / ``analysis_differences``: ``sim.analysis.pivot`` (metric x scenario, windows as
  columns, money in kSEK, targets beside KPIs): the workbook's sheets;
- ``scenario_windows`` / ``scenario_differences``: the same statistics as long tables for the charts.

Differences are paired by replication against ``--baseline`` (default: the batch's first scenario).
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from sim.analysis import analyse, batch_inputs, batch_targets, pivot, to_frame
from sim.errors import HmsimError
from sim.report.source import Source
from sim.report.tables import TableSpec

BATCH_TABLES: dict[str, TableSpec] = {}
SHEETS = ("analysis_means", "analysis_differences")


def _spec(name: str, title: tuple[str, str], units: dict[str, str], keys: tuple[str, ...]) -> None:
    BATCH_TABLES[name] = TableSpec(name, title, ("index",), keys, units, lambda out, cfg: pd.DataFrame())


_spec(
    "analysis_means",
    ("Means with 95 % CI per scenario and window", "Medel med 95 % KI per scenario"),
    {},
    ("metric", "scenario"),
)
_spec(
    "analysis_differences",
    ("Paired differences to the baseline", "Parade skillnader mot jämförelsen"),
    {},
    ("metric", "scenario"),
)
_spec(
    "scenario_windows",
    ("Means per scenario and window (long)", "Medel per scenario (lång)"),
    {"value": "see unit"},
    ("scenario", "window", "metric"),
)
_spec(
    "scenario_differences",
    ("Differences per scenario and window (long)", "Skillnader (lång)"),
    {"value": "see unit"},
    ("scenario", "window", "metric"),
)


def _long(frame: pd.DataFrame, kind: str, span: tuple[int, int] | None) -> pd.DataFrame:
    rows = frame[frame["kind"] == kind]
    out = pd.DataFrame(
        {
            "scenario": rows["scenario"].astype(str),
            "window": rows["window"].astype(str),
            "metric": rows["metric"].str.split(".", n=1).str[1],
            "unit": rows["unit"],
            "value": rows["mean"].astype(float),
            "value__low": rows["ci_low"].astype(float),
            "value__high": rows["ci_high"].astype(float),
            "n": rows["n"].astype(float),
        }
    )
    if span is not None:
        year = out["window"].where(out["window"].str.fullmatch(r"\d{4}"))
        y = pd.to_numeric(year, errors="coerce")
        out = out[y.isna() | ((y >= span[0]) & (y <= span[1]))]
    return out.reset_index(drop=True)


def batch_tables(
    src: Source, span: tuple[int, int] | None, baseline: str | None
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    if src.kind != "batch" or src.index is None:
        return {}, {name: "needs a batch folder (scenarios and replications)" for name in BATCH_TABLES}
    base = baseline or src.scenarios[0]
    try:
        result = analyse(src.index, None, base, inputs=batch_inputs(src.path))
    except HmsimError as exc:
        return {}, {name: str(exc) for name in BATCH_TABLES}
    targets = batch_targets(src.path)
    long = to_frame(result)
    data: dict[str, pd.DataFrame] = {}
    absent: dict[str, str] = {}
    means = pivot(result, "scenarios", targets)
    diffs = pivot(result, "differences", targets)
    if span is not None:
        keep = [c for c in means.columns if not re.match(r"\d{4} ", c) or span[0] <= int(c[:4]) <= span[1]]
        means = means[keep]
        diffs = diffs[[c for c in diffs.columns if c in keep or not re.match(r"\d{4} ", c)]]
    data["analysis_means"] = means
    if diffs.empty:
        absent["analysis_differences"] = "one scenario only: nothing to compare"
    else:
        data["analysis_differences"] = diffs
    data["scenario_windows"] = _long(long, "mean", span)
    d = _long(long, "difference_to_baseline", span)
    if d.empty:
        absent["scenario_differences"] = "one scenario only: nothing to compare"
    else:
        data["scenario_differences"] = d.assign(baseline=result["baseline"])
    return data, absent


def run_transitions(changes: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """Transition windows in a run's resolved ``changes``: from a change whose ``reason`` names a
    transition to the next one that says it is over (``"transition: degraded service"`` ...
    ``"transition over"``, as governance options write them)."""
    spans: list[tuple[str, str | None]] = []
    start: str | None = None
    for change in sorted((c for c in changes if isinstance(c, dict)), key=lambda c: str(c.get("from"))):
        reason = str(change.get("reason", "")).lower()
        if "transition" not in reason:
            continue
        if "over" in reason or "end" in reason:
            if start is not None:
                spans.append((start, str(change.get("from"))))
                start = None
        elif start is None:
            start = str(change.get("from"))
    if start is not None:
        spans.append((start, None))
    return spans


def transitions(experiment: dict[str, Any]) -> dict[str, list[tuple[str, str | None]]]:
    """Dated changes per scenario name: ``[(from, until or None), ...]`` found in the experiment's scenarios.

    Any mapping with a ``from`` date (``changes: [{from: ..., until: ...}]``, a governance option's
    transition) counts; the report shades ``from``..``until`` or marks ``from``.
    """
    found: dict[str, list[tuple[str, str | None]]] = {}

    def walk(name: str, node: Any) -> None:
        if isinstance(node, dict):
            start = node.get("from") or node.get("start")
            if isinstance(start, str) and re.match(r"\d{4}-\d{2}-\d{2}", start):
                end = node.get("until") or node.get("to") or node.get("end")
                found.setdefault(name, []).append((start, end if isinstance(end, str) else None))
            for value in node.values():
                walk(name, value)
        elif isinstance(node, list):
            for value in node:
                walk(name, value)

    for name, scenario in (experiment.get("experiment", {}).get("scenarios") or {}).items():
        walk(str(name), scenario)
    return found
