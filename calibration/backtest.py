"""Backtest: fit on one period, predict another, and compare the model's error with naive forecasts.

Run from the repository root (about two minutes with three seeds)::

    .venv/bin/python calibration/backtest.py [--seeds 3] [--markdown]

Every shipped parameter was fitted to other periods or other figures (Västmanland activity to Jan-Apr 2023,
Norrbotten's payer split to 2024/Q1 2025, both regions' money to their base year, the demand trend to the
documented stock growth), so each prediction below is out of sample:

- **Norrbotten 2023 -> 2024 volumes** (norrbotten_followup_2024.csv orders_change, returns_change,
  reconditioned_change): the shipped Norrbotten config started on 2023-01-01 for two years; the change of
  each yearly volume. Naive forecasts: "unchanged" (0 %) and "x order growth" (returns and reconditioning
  change like orders; this naive is given the observed order change, so it is a demanding benchmark).
- **Norrbotten total cost 2023 -> 2024** (cost_total 2023 and 2024): the model's cost ratio 2024 / 2023
  applied to the observed 2023 cost. Naive: 2023 unchanged; 2023 x (1 + observed order change).
- **Västmanland 2023 -> Jan-Apr 2024** (kpi_mil_driven_per_rented_individual_volume and
  kpi_rental_rate_devices_at_customer, period 2024-01..2024-04): fitted on 2023 values. Naive: the 2023
  value unchanged (no order-growth naive for a ratio).

The error is prediction minus observation, in percentage points for changes and shares and in percent for
amounts. The script then checks the shipped fits: degrees of freedom of each `hmsim calibrate` spec (free
parameters against targets and constraints) and fitted values outside the plausible range or at a bound,
with the ranges of the specs themselves (one source; the fit reports flag by the same rule, see
docs/calibration.md).
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim.config import load_scenario  # noqa: E402
from sim.economics import compute  # noqa: E402
from sim.model import run  # noqa: E402
from sim.summary import summarise  # noqa: E402

OBS = ROOT / "calibration" / "observed"
FITTED_DIR = ROOT / "calibration" / "fitted"
SPECS = ("vastmanland_activity", "norrbotten_payers", "vastmanland_economics", "norrbotten_economics")
REGIONS = ROOT / "configs" / "regions"
COST_GROUPS = (
    "cost_base_subscription_functions",
    "cost_warehouse_staff_premises_technicians",
    "cost_work_orders",
    "cost_transport",
)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def observed(file: str) -> dict[tuple[str, str, str], float]:
    return {(r["metric"], r["segment"], r["period"]): float(r["value"]) for r in read_rows(OBS / file)}


def norrbotten(seeds: list[int]) -> list[dict[str, Any]]:
    obs = observed("norrbotten_followup_2024.csv")
    scenario = load_scenario(
        REGIONS / "norrbotten.yaml", ["horizon.start_date=2023-01-01", "horizon.years=2"]
    )
    volumes: dict[str, list[float]] = {"orders": [], "returns": [], "recondition_work_orders": []}
    cost_ratio: list[float] = []
    for seed in seeds:
        out = run(scenario, seed)
        years = [summarise(out, date(y, 1, 1), date(y, 12, 31)) for y in (2023, 2024)]
        for metric in volumes:
            volumes[metric].append(years[1][metric] / years[0][metric] - 1)
        econ = compute(out, scenario)
        assert scenario.economics is not None
        groups = scenario.economics.reporting_groups
        accounts = {a for g in COST_GROUPS for a in groups.get(g, [])}
        led = econ.ledger[econ.ledger["account"].astype(str).isin(accounts)]
        by_year = led.groupby("year")["amount"].sum()
        cost_ratio.append(float(by_year[2024] / by_year[2023]))
    order_change = obs[("orders_change", "all", "2023..2024")]
    rows: list[dict[str, Any]] = []
    for metric, label in (
        ("orders", "orders_change"),
        ("returns", "returns_change"),
        ("recondition_work_orders", "reconditioned_change"),
    ):
        actual = obs[(label, "all", "2023..2024")]
        rows.append(
            {
                "case": "Norrbotten 2023->2024",
                "quantity": f"{label} (pp)",
                "observed": 100 * actual,
                "model": 100 * float(np.mean(volumes[metric])),
                "model_se": 100 * float(np.std(volumes[metric], ddof=1) / np.sqrt(len(seeds))),
                "naive_unchanged": 0.0,
                "naive_order_growth": None if metric == "orders" else 100 * order_change,
            }
        )
    c23, c24 = obs[("cost_total", "all", "2023")], obs[("cost_total", "all", "2024")]
    ratio = np.array(cost_ratio)
    rows.append(
        {
            "case": "Norrbotten 2023->2024",
            "quantity": "cost_total 2024 (kSEK)",
            "observed": c24,
            "model": c23 * float(ratio.mean()),
            "model_se": c23 * float(ratio.std(ddof=1) / np.sqrt(len(seeds))),
            "naive_unchanged": c23,
            "naive_order_growth": c23 * (1 + order_change),
        }
    )
    return rows


def vastmanland(seeds: list[int]) -> list[dict[str, Any]]:
    obs = observed("vastmanland_hmc_2024_interim.csv")
    scenario = load_scenario(REGIONS / "vastmanland.yaml", ["horizon.years=1.34"])
    values: dict[str, list[float]] = {}
    metrics = ("kpi_mil_driven_per_rented_individual_volume", "kpi_rental_rate_devices_at_customer")
    for seed in seeds:
        res = summarise(run(scenario, seed), date(2024, 1, 1), date(2024, 4, 30))
        for m in metrics:
            values.setdefault(m, []).append(res[m])
    rows = []
    for m in metrics:
        v = np.array(values[m])
        rows.append(
            {
                "case": "Västmanland 2023->Jan-Apr 2024",
                "quantity": m,
                "observed": obs[(m, "all", "2024-01..2024-04")],
                "model": float(v.mean()),
                "model_se": float(v.std(ddof=1) / np.sqrt(len(seeds))),
                "naive_unchanged": obs[(m, "all", "2023")],
                "naive_order_growth": None,
            }
        )
    return rows


def _error(pred: float | None, actual: float, relative: bool) -> str:
    if pred is None:
        return "-"
    return f"{(pred / actual - 1) * 100:+.1f} %" if relative else f"{pred - actual:+.2f}"


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| case | quantity | observed | model (± SE) | model error | naive unchanged: error | "
        "naive x order growth: error |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        relative = "kSEK" in r["quantity"]
        fmt = "{:,.0f}" if relative else "{:.3g}"
        lines.append(
            f"| {r['case']} | {r['quantity']} | {fmt.format(r['observed'])} | "
            f"{fmt.format(r['model'])} ± {fmt.format(r['model_se'])} | "
            f"{_error(r['model'], r['observed'], relative)} | "
            f"{_error(r['naive_unchanged'], r['observed'], relative)} | "
            f"{_error(r['naive_order_growth'], r['observed'], relative)} |"
        )
    return lines


def spec_flags(spec_path: Path) -> list[str]:
    """The shipped fit of one spec checked with the spec's own ranges (the one source of them).

    Each parameter's value is compared with the spec's ``plausible`` range (default: its bounds) and its
    bounds, by the functions the fit report uses (``implausible``, ``at_bound``). A ``set`` parameter's value
    is what the shipped config holds at its keys (the spec's base, which extends the fitted file); a
    ``scale`` parameter's value is the factor its fit report (``<output stem>.report.json`` beside the fitted
    file) says the fit applied, since the shipped config holds only the scaled values.
    """
    import json

    from sim.calibration import prepare
    from sim.calibration.fit import at_bound, fmt
    from sim.calibration.params import implausible

    p = prepare(spec_path)
    report_path = (spec_path.parent / p.spec.output).with_suffix(".report.json")
    reported: dict[str, float] = {}
    if report_path.is_file():
        report = json.loads(report_path.read_text(encoding="utf-8"))
        reported = {q["parameter"]: float(q["fitted"]) for q in report.get("parameters", [])}
    flags = []
    for q in p.params:
        if q.spec.mode == "set":
            values = sorted(set(q.base))
            where = "shipped"
        elif q.name in reported:
            values, where = [reported[q.name]], "fitted factor"
        else:
            flags.append(f"{q.name}: no fitted factor in {report_path.name} (refit the spec)")
            continue
        lo, hi = q.spec.plausible or q.spec.bounds
        for v in values:
            side = implausible(q, v)
            bound = at_bound(q, v)
            if side:
                flags.append(
                    f"{q.name} = {fmt(v)} ({where}) is {side} its plausible range [{fmt(lo)}, {fmt(hi)}]"
                )
            if bound:
                flags.append(f"{q.name} = {fmt(v)} ({where}) is at its {bound} bound {list(q.spec.bounds)}")
    return flags


def degrees() -> list[str]:
    """Free parameters, fitted targets and constraints of each shipped spec (resolved, no runs)."""
    from sim.calibration import prepare

    lines = []
    for name in SPECS:
        p = prepare(ROOT / "calibration" / f"{name}.yaml")
        free, rows = len(p.params), len(p.targets) + len(p.constraints)
        lines.append(
            f"- `calibration/{name}.yaml`: {free} free parameters for {len(p.targets)} targets and "
            f"{len(p.constraints)} constraints ({rows - free} degrees of freedom left)"
        )
    return lines


def check_fitted(specs: tuple[str, ...] = SPECS, folder: Path = ROOT / "calibration") -> list[str]:
    """Degrees of freedom per fit, then each shipped fit's parameters outside the plausible range or at a
    bound of its spec (values no spec fits have no range here: the schema's limits check them)."""
    lines = degrees() if specs == SPECS and folder == ROOT / "calibration" else []
    for name in specs:
        flags = spec_flags(folder / f"{name}.yaml")
        lines.append(
            f"- `calibration/{name}.yaml`: " + (f"{len(flags)} flagged" if flags else "nothing flagged")
        )
        lines += [f"  - {f}" for f in flags]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    seeds = list(range(1, args.seeds + 1))
    rows = norrbotten(seeds) + vastmanland(seeds)
    print(f"Backtest, mean of seeds {seeds} (errors: prediction - observed; pp or %):")
    print(*table(rows), sep="\n")
    print()
    print("Calibration: degrees of freedom and flagged fitted parameters:")
    print(*check_fitted(), sep="\n")


if __name__ == "__main__":
    main()
