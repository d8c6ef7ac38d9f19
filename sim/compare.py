"""``hmsim compare RESULTS --baseline today``: one decision-paper table of a governance batch.

For every scenario of a batch (e.g. ``configs/experiments/governance_norrbotten.yaml``: today and the six
options), from each run folder's ledger, KPI, depot and route tables:

- the net cost per principal over the whole horizon (what it paid the operator, minus settlements, plus the
  administration it paid directly), for the region, each municipality and any new entity (the result a
  federation, company or contractor keeps);
- one-off and yearly administration costs (paid directly by the principals and borne by the operator);
- the service KPIs in the transition year (the year the option takes effect) and in the years after;
- route km per year and the mean stock level (new and reconditioned units at the depots);

each as the mean over replications with a 95 % confidence interval and, against the baseline, the paired
difference by replication (common random numbers) with its interval.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import interval
from sim.errors import HmsimError
from sim.store import read_manifest, read_run

KPIS = ("delivery_on_planned_day", "repair_done_within_5_workdays", "fitting_offered_within_15_workdays")


def run_metrics(run_dir: Path, transition_year: int | None) -> dict[str, float]:
    """The table's metrics of one run (amounts in SEK)."""
    manifest = read_manifest(run_dir)
    config = manifest.get("resolved_config", {})
    gov = config.get("governance") or {}
    effective = gov.get("effective")
    year = int(str(effective)[:4]) if effective else transition_year
    out = read_run(run_dir)
    ledger = out["ledger"]
    acc = ledger["account"].astype(str)
    who = ledger["principal"].astype(str)
    row: dict[str, float] = {}
    operators = set(who[acc.str.startswith("cost_") | (acc == "result")])
    for name in sorted(set(who) - operators):
        mine = who == name
        paid = ledger.loc[mine & acc.str.startswith("revenue_"), "amount"].sum()
        back = ledger.loc[mine & (acc == "settlement"), "amount"].sum()
        admin = ledger.loc[mine & acc.str.startswith("admin_"), "amount"].sum()
        row[f"net_cost.{name}"] = float(paid - back + admin)
    for op in sorted(operators):
        mine = who == op
        result = ledger.loc[mine & (acc == "result"), "amount"].sum()
        settled = ledger.loc[mine & (acc == "settled"), "amount"].sum()
        row[f"kept_result.{op}"] = float(result - settled)
    # the centre (Länsservice) is the region's own organisation: a result it keeps is the region's
    row["net_cost.region_incl_centre"] = row.get("net_cost.region", 0.0) - row.get("kept_result.centre", 0.0)
    # what the county pays in all: the principals' net costs less what the operators keep
    payers = [k for k in row if k.startswith("net_cost.") and k != "net_cost.region_incl_centre"]
    kept = [k for k in row if k.startswith("kept_result.")]
    row["net_cost.county_total"] = sum(row[k] for k in payers) - sum(row[k] for k in kept)
    years = sorted(ledger["year"].unique())
    first = year if year is not None else years[0]
    in_force = ledger["year"] >= first
    n_force = max(len([y for y in years if y >= first]), 1)
    row["admin.one_off"] = float(ledger.loc[acc == "admin_one_off", "amount"].sum())
    row["admin.yearly_paid_by_principals"] = (
        float(ledger.loc[(acc == "admin_yearly") & in_force, "amount"].sum()) / n_force
    )
    row["admin.yearly_borne_by_operator"] = (
        float(ledger.loc[(acc == "cost_governance") & in_force, "amount"].sum()) / n_force
    )
    row["operator.costs_per_year"] = (
        float(ledger.loc[acc.str.startswith("cost_") & in_force, "amount"].sum()) / n_force
    )
    if out.has("kpis") and year is not None:
        kpis = out["kpis"]
        kyear = pd.to_datetime(kpis["month"]).dt.year
        for label, sel in (("transition_year", kyear == year), ("after", kyear > year)):
            for kpi in KPIS:
                rows = kpis[sel & (kpis["kpi"].astype(str) == kpi)]
                events = float(rows["events"].sum())
                row[f"kpi_{label}.{kpi}"] = float(rows["met"].sum()) / events if events else math.nan
    if out.has("route_stops"):
        stops = out["route_stops"]
        after = pd.to_datetime(stops["date"]).dt.year >= first
        row["transport.km_per_year"] = float(stops.loc[after, "km"].sum()) / n_force
    if out.has("depot_timeseries"):
        dts = out["depot_timeseries"]
        stock = dts[dts["metric"].astype(str).isin(["stock_new", "stock_reconditioned"])]
        after = pd.to_datetime(stock["date"]).dt.year >= first
        row["stock.mean_units"] = float(stock[after].groupby("date")["value"].sum().mean())
    return row


def collect(results: Path, transition_year: int | None = None) -> pd.DataFrame:
    """One row per finished run: scenario, replication and the metrics. Runs without a governance option
    (the baseline) use ``transition_year``, by default the most common effective year of the batch."""
    rows = []
    manifests: list[tuple[Path, dict[str, Any]]] = []
    years = []
    for manifest in sorted(results.glob("*/*/manifest.json")):
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if data.get("status") != "ok":
            continue
        manifests.append((manifest, data))
        effective = (data.get("resolved_config", {}).get("governance") or {}).get("effective")
        if effective:
            years.append(int(str(effective)[:4]))
    if transition_year is None and years:
        transition_year = max(set(years), key=years.count)
    for manifest, data in manifests:
        rows.append(
            {
                "scenario": str(data.get("scenario_name", data.get("scenario"))),
                "replication": int(data.get("replication", 0)),
                **run_metrics(manifest.parent, transition_year),
            }
        )
    if not rows:
        raise HmsimError(f"{results}: no finished runs (run hmsim batch first)")
    frame = pd.DataFrame(rows)
    order = _scenario_order(results)
    frame["_order"] = frame["scenario"].map(lambda s: order.index(s) if s in order else len(order))
    frame = frame.sort_values(["_order", "replication"], kind="stable").drop(columns="_order")
    first = ["scenario", "replication"]
    money = sorted(c for c in frame.columns if c.startswith("net_cost.") and c.count(".") == 1)
    return frame[[*first, *money, *[c for c in frame.columns if c not in (*first, *money)]]]


def _scenario_order(results: Path) -> list[str]:
    """Scenarios in the order of the experiment file (as the batch recorded it), if known."""
    try:
        data = json.loads((results / "experiment.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return []
    scenarios = data.get("scenarios") or data.get("experiment", {}).get("scenarios") or {}
    return list(scenarios) if isinstance(scenarios, dict) else []


def table(runs: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Per scenario and metric: mean and CI, and the paired difference to ``baseline`` with its CI."""
    if baseline not in set(runs["scenario"]):
        raise HmsimError(
            f"--baseline {baseline!r}: not a scenario of the batch "
            f"({', '.join(sorted(set(runs['scenario'])))})"
        )
    metrics = [c for c in runs.columns if c not in ("scenario", "replication")]
    base = runs[runs["scenario"] == baseline].set_index("replication")
    out = []
    for scenario, group in runs.groupby("scenario", sort=False):
        g = group.set_index("replication")
        for metric in metrics:
            mean = interval(g[metric].to_numpy())
            paired = g[metric] - base[metric].reindex(g.index)
            diff = interval(paired.to_numpy())
            out.append(
                {
                    "scenario": scenario,
                    "metric": metric,
                    "n": mean["n"],
                    "mean": mean["mean"],
                    "half_width": mean["half_width"],
                    "diff": diff["mean"],
                    "diff_half_width": diff["half_width"],
                }
            )
    return pd.DataFrame(out)


def _fmt(metric: str, value: float) -> str:
    if not np.isfinite(value):
        return "-"
    if metric.startswith("kpi"):
        return f"{value:.3f}"
    if metric.startswith(("net_cost", "kept_result", "admin", "operator")):
        return f"{value / 1e6:,.2f}"
    return f"{value:,.0f}"


def markdown(result: pd.DataFrame, baseline: str) -> str:
    """The decision-paper table: a row per metric, per scenario 'mean ± CI (diff ± CI)'."""
    scenarios = [baseline, *[s for s in dict.fromkeys(result["scenario"]) if s != baseline]]
    metrics = list(dict.fromkeys(result["metric"]))
    head = "| metric | " + " | ".join(scenarios) + " |"
    lines = [head, "|---" * (len(scenarios) + 1) + "|"]
    cell = result.set_index(["metric", "scenario"])
    for metric in metrics:
        parts = []
        for s in scenarios:
            if (metric, s) not in cell.index:
                parts.append("")
                continue
            r = cell.loc[(metric, s)]
            text = f"{_fmt(metric, r['mean'])} ± {_fmt(metric, r['half_width'])}"
            if s != baseline and np.isfinite(r["diff"]):
                sign = "+" if r["diff"] >= 0 else ""
                text += f" ({sign}{_fmt(metric, r['diff'])} ± {_fmt(metric, r['diff_half_width'])})"
            parts.append(text)
        lines.append(f"| {metric} | " + " | ".join(parts) + " |")
    note = (
        "\nnet_cost and kept_result: MSEK over the horizon; admin and operator costs (MSEK), km and stock "
        "(units): per year from the transition year on; "
        f"mean ± 95 % CI half-width over replications, in brackets the paired difference to '{baseline}'."
    )
    return "\n".join(lines) + note
