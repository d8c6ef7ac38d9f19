"""Fit each region's economic knobs to its base-year accounts; write calibration/fitted/<region>_economics.

(One file per region: ``vastmanland_economics.yaml``, ``norrbotten_economics.yaml``.)

Run from the repository root::

    .venv/bin/python calibration/fit_economics.py                # both regions
    .venv/bin/python calibration/fit_economics.py vastmanland    # one region

Each iteration simulates the base year (Västmanland 2023, Norrbotten 2024) with two seeds, computes the
ledger and moves one knob per reported line by the ratio reported / simulated (damped). Staff, premises, IT
and other fixed costs are inputs taken from the accounts (see the region configs), not fitted.

Västmanland (vastmanland_hmc_2024_interim.csv, Resultaträkning 2023, kSEK):

=============================  =========  ==========================================================
line                           value      knob
=============================  =========  ==========================================================
cost_depreciation_devices      34 199     price_level (all purchase prices)
income_rent                    125 762    economics.rent.rent_factor_scale
income_sales                   26 711     categories.sold_aids.purchase_price.mean
income_services                3 567      economics.services.sek_per_work_order
cost_devices_expensed          43 052     economics.costs.spare_parts_* (expensed devices follow prices)
cost_financial                 1 222      economics.costs.interest_rate
cost_freight_transport         2 142      economics.costs.transport.sek_per_km
=============================  =========  ==========================================================

Norrbotten (norrbotten_followup_2024.csv, 2024, kSEK; revenues excl. markup unless said):

=======================================  =========  ================================================
line                                     value      knob
=======================================  =========  ================================================
muni_revenue_rent                        32 729     price_level
muni_revenue_sales                       13 724     categories.sold_aids.purchase_price.mean
muni_revenue_markup                      19 307     economics.sale_markup (rent markup is the model's 53 %)
muni_revenue_work_orders                 1 299      economics.services.sek_per_work_order
cost_work_orders                         1 836      economics.costs.external_work_sek_per_work_order
muni_revenue_transport                   6 110      economics.services.sek_per_delivery and _per_pickup
cost_transport                           6 926      economics.costs.transport.sek_per_km
product_cost                             69 272     economics.costs.spare_parts_* (>= 0)
=======================================  =========  ================================================
"""

from __future__ import annotations

import argparse
import copy
from typing import Any

import numpy as np
from fitlib import FITTED_DIR, ROOT, fmt, inline, read_rows, scale, write_lines

from sim.config import apply_overrides, build_scenario, load_raw
from sim.config.loader import deep_merge, read_yaml
from sim.economics import compute
from sim.model import run

SEEDS = (1, 2)
OBS = ROOT / "calibration" / "observed"


def _region_raw(name: str, fit: dict[str, Any]) -> dict[str, Any]:
    raw = load_raw(ROOT / "configs" / "regions" / f"{name}.yaml")
    return deep_merge(raw, fit)


def simulate(name: str, fit: dict[str, Any], year: int) -> dict[str, float]:
    """Mean base-year ledger lines (kSEK) over the seeds, by account and principal group."""
    raw = apply_overrides(_region_raw(name, fit), ["horizon.years=1"])
    scenario = build_scenario(raw, name)
    lines: list[dict[str, float]] = []
    for seed in SEEDS:
        econ = compute(run(scenario, seed), scenario)
        led = econ.ledger[econ.ledger["year"] == year]
        acc, principal = led["account"].astype(str), led["principal"].astype(str)
        muni = ~principal.isin(["region", "centre"])
        out: dict[str, float] = {}
        for account, amount in led.groupby(acc)["amount"].sum().items():
            out[str(account)] = amount / 1000
        for account, amount in led[muni].groupby(acc[muni])["amount"].sum().items():
            out[f"muni_{account}"] = amount / 1000
        for group, accounts in (scenario.economics.reporting_groups if scenario.economics else {}).items():
            out[f"group_{group}"] = sum(out.get(a, 0.0) for a in accounts)
        products = econ.products[econ.products["year"] == year]
        out["product_cost"] = float(products["product_cost"].sum()) / 1000
        out["cost_vehicles"] = (
            (
                sum(r.vehicles for r in scenario.transport.routes.values())
                * scenario.economics.costs.transport.sek_per_vehicle_year
                / 1000
            )
            if scenario.economics
            else 0
        )
        lines.append(out)
    keys = set().union(*lines)
    return {k: float(np.mean([line.get(k, 0.0) for line in lines])) for k in keys}


def observed_vastmanland() -> dict[str, float]:
    rows = read_rows(OBS / "vastmanland_hmc_2024_interim.csv")
    return {
        r["metric"]: abs(float(r["value"])) for r in rows if r["period"] == "2023" and r["unit"] == "kSEK"
    }


def observed_norrbotten() -> dict[str, float]:
    out: dict[str, float] = {}
    for r in read_rows(OBS / "norrbotten_followup_2024.csv"):
        if r["period"] != "2024":
            continue
        key = r["metric"] if r["segment"] in ("all", "municipalities") else f"{r['metric']}_{r['segment']}"
        if r["segment"] == "municipalities" and not r["metric"].startswith("muni_"):
            key = f"muni_{r['metric']}"
        out[key] = abs(float(r["value"]))
    return out


def update_vastmanland(
    fit: dict[str, Any], sim: dict[str, float], obs: dict[str, float], damping: float
) -> None:
    e = fit["economics"]
    fit["price_level"] = scale(
        fit["price_level"],
        obs["cost_depreciation_devices"] / sim["group_cost_depreciation_devices"],
        damping,
        0.1,
        5,
    )
    e["rent"]["rent_factor_scale"] = scale(
        e["rent"]["rent_factor_scale"], obs["income_rent"] / sim["group_income_rent"], damping, 0.1, 10
    )
    price = fit["categories"]["sold_aids"]["purchase_price"]
    price["mean"] = scale(price["mean"], obs["income_sales"] / sim["group_income_sales"], damping, 10, 1e5)
    e["services"]["sek_per_work_order"] = scale(
        e["services"]["sek_per_work_order"],
        obs["income_services"] / max(sim["group_income_services"], 1e-9),
        damping,
    )
    spare_target = obs["cost_devices_expensed"] - sim.get("cost_devices_expensed", 0.0)
    ratio = max(spare_target, 0.1 * sim["cost_spare_parts"]) / sim["cost_spare_parts"]
    for key in ("spare_parts_sek_per_repair", "spare_parts_sek_per_reconditioning"):
        e["costs"][key] = scale(e["costs"][key], ratio, damping)
    e["costs"]["interest_rate"] = scale(
        e["costs"]["interest_rate"], obs["cost_financial"] / sim["cost_financial"], damping, 0, 0.2
    )
    km_part = sim["cost_transport"] - sim["cost_vehicles"]
    e["costs"]["transport"]["sek_per_km"] = scale(
        e["costs"]["transport"]["sek_per_km"],
        max(obs["cost_freight_transport"] - sim["cost_vehicles"], 0.1 * km_part) / km_part,
        damping,
    )


def update_norrbotten(
    fit: dict[str, Any], sim: dict[str, float], obs: dict[str, float], damping: float
) -> None:
    e = fit["economics"]
    # the fitted targets are the municipalities' revenue by type (the region's follows from the payer split)
    fit["price_level"] = scale(
        fit["price_level"], obs["muni_revenue_rent"] / sim["muni_revenue_rent"], damping, 0.1, 5
    )
    price = fit["categories"]["sold_aids"]["purchase_price"]
    price["mean"] = scale(
        price["mean"], obs["muni_revenue_sales"] / sim["muni_revenue_sales"], damping, 10, 1e5
    )
    markup_target = obs["muni_revenue_markup"] - sim["muni_revenue_rent_markup"]
    e["sale_markup"] = float(min(max(markup_target / max(sim["muni_revenue_sales"], 1e-9), 0.0), 2.0))
    e["services"]["sek_per_work_order"] = scale(
        e["services"]["sek_per_work_order"],
        obs["muni_revenue_work_orders"] / sim["muni_revenue_work_orders"],
        damping,
    )
    e["costs"]["external_work_sek_per_work_order"] = scale(
        e["costs"]["external_work_sek_per_work_order"],
        obs["cost_work_orders"] / sim["cost_external_work"],
        damping,
    )
    ratio = obs["muni_revenue_transport"] / sim["muni_revenue_transport"]
    for key in ("sek_per_delivery", "sek_per_pickup"):
        e["services"][key] = scale(e["services"][key], ratio, damping)
    e["costs"]["transport"]["sek_per_km"] = scale(
        e["costs"]["transport"]["sek_per_km"], obs["cost_transport"] / sim["cost_transport"], damping
    )
    # spare parts: fitted to the product cost (the line the documents give for device costs), at least 0;
    # interest is transferred from Västmanland
    spare = sim.get("cost_spare_parts", 0.0)
    wanted = max(obs["product_cost"] - (sim["product_cost"] - spare), 0.0)
    for key in ("spare_parts_sek_per_repair", "spare_parts_sek_per_reconditioning"):
        if wanted <= 0:
            e["costs"][key] = 0.0
        elif spare <= 0:
            e["costs"][key] = 100.0  # restart from a small positive price
        else:
            e["costs"][key] = scale(e["costs"][key], wanted / spare, damping)
    e["costs"]["interest_rate"] = read_yaml(FITTED_DIR / "vastmanland_economics.yaml")["economics"]["costs"][
        "interest_rate"
    ]


REGIONS: dict[str, dict[str, Any]] = {
    "vastmanland": {
        "year": 2023,
        "observed": observed_vastmanland,
        "update": update_vastmanland,
        "source": "vastmanland_hmc_2024_interim.csv 2023",
    },
    "norrbotten": {
        "year": 2024,
        "observed": observed_norrbotten,
        "update": update_norrbotten,
        "source": "norrbotten_followup_2024.csv 2024",
    },
}


def comparison(name: str, sim: dict[str, float], obs: dict[str, float]) -> list[str]:
    """Simulated vs reported lines of the base year (kSEK) for the fitted file's header and docs."""
    if name == "vastmanland":
        pairs = [
            (g, f"group_{g}")
            for g in (
                "income_rent",
                "income_sales",
                "income_services",
                "cost_staff",
                "cost_devices_expensed",
                "cost_premises",
                "cost_freight_transport",
                "cost_depreciation_devices",
                "cost_it",
                "cost_financial",
            )
        ]
        total_rev = sum(v for k, v in sim.items() if k.startswith("revenue_"))
        total_cost = sum(v for k, v in sim.items() if k.startswith("cost_") and k != "cost_vehicles")
        extra = [("income_total", total_rev), ("cost_total", total_cost), ("result", total_rev - total_cost)]
    else:
        pairs = [
            ("cost_base_subscription_functions", "group_cost_base_subscription_functions"),
            ("cost_warehouse_staff_premises_technicians", "group_cost_warehouse_staff_premises_technicians"),
            ("cost_work_orders", "group_cost_work_orders"),
            ("cost_transport", "group_cost_transport"),
            ("muni_revenue_rent", "muni_revenue_rent"),
            ("muni_revenue_sales", "muni_revenue_sales"),
            ("muni_revenue_work_orders", "muni_revenue_work_orders"),
            ("muni_revenue_markup", None),
            ("muni_revenue_base_subscription", "muni_revenue_base_subscription"),
            ("muni_revenue_transport", "muni_revenue_transport"),
            ("product_cost", "product_cost"),
        ]
        ops = [
            g
            for g in (
                "group_cost_base_subscription_functions",
                "group_cost_warehouse_staff_premises_technicians",
                "group_cost_work_orders",
                "group_cost_transport",
            )
        ]
        muni_total = sum(sim.get(f"muni_revenue_{k}", 0.0) for k in ("rent", "sales", "work_orders"))
        all_total = sum(sim.get(f"revenue_{k}", 0.0) for k in ("rent", "sales", "work_orders"))
        extra = [
            ("cost_total", sum(sim[g] for g in ops)),
            ("muni_revenue_total", muni_total),
            ("municipal_share", muni_total / all_total),
        ]
    lines = []
    for label, key in pairs:
        value = (
            sim["muni_revenue_rent_markup"] + sim.get("muni_revenue_sales_markup", 0.0)
            if key is None
            else sim.get(key, 0.0)
        )
        target = obs.get(label)
        lines.append(
            f"  {label}: {value:,.0f} / {target:,.0f} ({(value / target - 1) * 100:+.1f} %)"
            if target
            else f"  {label}: {value:,.0f}"
        )
    for label, value in extra:
        target = obs.get(label, 0.728 if label == "municipal_share" else None)
        if label == "result":
            target = 788.0
        lines.append(
            f"  {label}: {value:,.3f} / {target}"
            if label == "municipal_share"
            else f"  {label}: {value:,.0f} / {target:,.0f}"
            if target
            else f"  {label}: {value:,.0f}"
        )
    return lines


def write_fitted(name: str, fit: dict[str, Any], lines: list[str]) -> None:
    source = f"fitted by calibration/fit_economics.py to {REGIONS[name]['source']}"
    e = fit["economics"]
    price = fit["categories"]["sold_aids"]["purchase_price"]
    out = [
        f"# Fitted economic knobs of configs/regions/{name}.yaml (which extends this file).",
        "# Generated by `python calibration/fit_economics.py`; do not edit by hand, rerun the script.",
        f"# Base year, mean of seeds {list(SEEDS)}, simulated / reported (kSEK):",
        *[f"#{x}" for x in lines],
        f"price_level: {fmt(fit['price_level'])}  # factor on every purchase price; {source}",
        "categories:",
        f"  sold_aids: {{purchase_price: {inline(price)}}}  # SEK; cv assumption; mean {source}",
        "economics:",
        "  costs:",
        f"    transport: {inline(e['costs']['transport'])}  # SEK per km; {source}",
    ]
    for key, unit in (
        ("external_work_sek_per_work_order", "SEK per work order"),
        ("spare_parts_sek_per_repair", "SEK per corrective work order"),
        ("spare_parts_sek_per_reconditioning", "SEK per reconditioning"),
        ("interest_rate", "share per year"),
    ):
        if key in e["costs"]:
            note = (
                "transferred from calibration/fitted/vastmanland_economics.yaml"
                if name == "norrbotten" and key != "external_work_sek_per_work_order"
                else source
            )
            out.append(f"    {key}: {fmt(e['costs'][key])}  # {unit}; {note}")
    if "rent" in e:
        out.append(
            f"  rent: {{rent_factor_scale: {fmt(e['rent']['rent_factor_scale'])}}}  # factor; {source}"
        )
    if "sale_markup" in e:
        out.append(f"  sale_markup: {fmt(e['sale_markup'])}  # share; {source}")
    services = ", ".join(f"{k}: {fmt(v)}" for k, v in e["services"].items())
    out.append(f"  services: {{{services}}}  # SEK each; {source}")
    write_lines(FITTED_DIR / f"{name}_economics.yaml", out)


def fit_region(name: str, iterations: int, damping: float) -> None:
    spec = REGIONS[name]
    fit = read_yaml(FITTED_DIR / f"{name}_economics.yaml")
    fit = copy.deepcopy(fit)
    obs = spec["observed"]()
    for it in range(iterations):
        sim = simulate(name, fit, spec["year"])
        print(f"{name} iteration {it}:", *comparison(name, sim, obs), sep="\n", flush=True)
        spec["update"](fit, sim, obs, damping)
    sim = simulate(name, fit, spec["year"])
    lines = comparison(name, sim, obs)
    print(f"{name} final:", *lines, sep="\n")
    write_fitted(name, fit, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("regions", nargs="*", choices=[*REGIONS, []], help="regions to fit (default: all)")
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--damping", type=float, default=0.9)
    args = parser.parse_args()
    for name in args.regions or list(REGIONS):
        fit_region(name, args.iterations, args.damping)


if __name__ == "__main__":
    main()
