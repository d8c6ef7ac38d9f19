"""Fit Västmanland's free parameters to the observed Jan-Apr 2023 figures; write calibration/fitted/.

Run from the repository root::

    .venv/bin/python calibration/fit_vastmanland.py            # refine the current fitted file
    .venv/bin/python calibration/fit_vastmanland.py --init     # start again from the documented initial guess

Each iteration simulates Jan-Apr 2023 (120 days) with several seeds and moves each parameter towards its
target by the ratio observed / simulated (damped), one parameter per target:

==========================================  ==========================================================
target (vastmanland_hmc_2024_interim.csv)     parameter moved
==========================================  ==========================================================
orders                                        demand.use_rates (all, one factor)
rented_volume_individual (all)                categories.*.rental_duration means (one factor)
returns                                       categories.*.return_share (one factor on the share not returned)
recondition_work_orders                       categories.*.recondition_work_order_share (one factor)
technical_work_orders                         categories.*.corrective_per_device_year (one factor)
consultant_fitting_referrals                  categories.*.fitting_share (one factor)
rented_volume_individual municipalities_total demand.age_bands.*.special_housing_share (one factor)
rented_volume_individual <municipality>       municipalities.<m>.special_housing_factor
pickup_orders                                 transport.devices_per_pickup_order
kpi_delivery_on_planned_day                   transport.failed_delivery_probability
kpi_repair_done_within_5_workdays             categories.*.spare_part_share (one factor)
kpi_fitting_offered_within_15_workdays        depots.Västerås.fitting_booking_delay_days mean
kpi_rental_rate_devices_at_customer           categories.*.reorder_point_days and order_up_to_days
kpi_mil_driven_per_rented_individual_volume   transport.km_per_stop (target: the 2023 value)
device_share_65plus (vastmanland_review_2026)  demand.use_rates of the bands under 65 (one factor, all
                                              categories but OWN_SHAPE; tracked devices on rent at the
                                              window's end held by patients 65+; assumption: the 2025
                                              age profile of holders held in 2023)
sold_share_of_orders (vastmanland_review_2026  demand.use_rates of sold_aids (one factor; the 2022 sold share
sold_share_of_devices 2022)                   0.17, before sold diabetes devices, which the orders leave out)
rented stock growth 5 %/yr (reference facts)   demand.trend.growth (deterministic: fitlib.trend_for_growth)
==========================================  ==========================================================

The initial guess (``--init``) spreads an assumed annual order volume per category over age bands with
assumed relative per-capita weights; both are listed in INITIAL below and in docs/model.md.
"""

from __future__ import annotations

import argparse
import copy
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fitlib import (
    FITTED_DIR,
    ROOT,
    fmt,
    inline,
    load_base,
    read_rows,
    scale,
    simulate,
    trend_for_growth,
    write_lines,
)

from sim.config import Scenario
from sim.config.loader import deep_merge, read_population_table, read_yaml
from sim.output import RunOutput

REGION = ROOT / "configs" / "regions" / "vastmanland.yaml"
FITTED_DEVICES = FITTED_DIR / "vastmanland_devices.yaml"
FITTED_REGION = FITTED_DIR / "vastmanland.yaml"
OBSERVED = ROOT / "calibration" / "observed" / "vastmanland_hmc_2024_interim.csv"
REVIEW = ROOT / "calibration" / "observed" / "vastmanland_review_2026.csv"
WINDOW = (date(2023, 1, 1), date(2023, 4, 30))
DAYS = 120
# The service KPIs were observed in Jan-Apr 2024: they are compared with that window of the same runs, one
# year in, when queues carry a summer and a year's growth (the 2023 window starts with empty queues)
KPI_WINDOW = (date(2024, 1, 1), date(2024, 4, 30))
RUN_DAYS = (KPI_WINDOW[1] - WINDOW[0]).days + 1
DEPOT = "Västerås"
BANDS = ("age_0_19", "age_20_64", "age_65_79", "age_80_plus")
YOUNG = ("age_0_19", "age_20_64")  # the bands under 65 (device_share_65plus)
# categories whose band shape stays the INITIAL assumption (already young-heavy: children's communication
# aids, adults' respiratory devices); the under-65 factor moves the mobility and care categories only.
# Assumption: moving these too pushed Norrbotten's region-paid share (children, respiratory) to 0.34-0.40.
OWN_SHAPE = ("communication_cognition", "treatment_device")
FITTED = "fitted by calibration/fit_vastmanland.py to vastmanland_hmc_2024_interim.csv"

# Initial guess. Annual orders per category (sum about 49 700 = 16 418 Jan-Apr orders x 3; 17 % sold,
# vastmanland_review_2026.csv sold_share_of_devices 2022) and relative per-capita weights by band
# (assumption: 58 % of devices held by 65+, vastmanland_review_2026.csv device_share_65plus; mobility aid use
# rising steeply after 75, devices_sweden_facts.csv mobility_aid_use_*). Rental durations: a short-term loan
# component (share, mean days) and a long-term one (mean days), lognormal; assumption.
INITIAL: dict[str, dict[str, Any]] = {
    "rollator": {
        "orders": 8350,
        "weights": (0.02, 1, 20, 80),
        "short": (0.15, 60),
        "long": 1050,
        "return": 0.9,
        "corrective": 0.05,
        "fitting": 0.0,
    },
    "manual_wheelchair": {
        "orders": 4960,
        "weights": (0.5, 1, 10, 40),
        "short": (0.30, 45),
        "long": 800,
        "return": 0.96,
        "corrective": 0.2,
        "fitting": 0.04,
    },
    "power_wheelchair": {
        "orders": 365,
        "weights": (1, 1, 4, 6),
        "short": (0.05, 60),
        "long": 1150,
        "return": 0.99,
        "corrective": 1.5,
        "fitting": 0.35,
    },
    "bed": {
        "orders": 5040,
        "weights": (0.3, 1, 15, 60),
        "short": (0.15, 45),
        "long": 560,
        "return": 0.99,
        "corrective": 0.25,
        "fitting": 0.01,
    },
    "patient_lift": {
        "orders": 1900,
        "weights": (0.5, 1, 12, 50),
        "short": (0.10, 45),
        "long": 540,
        "return": 0.99,
        "corrective": 0.3,
        "fitting": 0.03,
    },
    "pressure_relief": {
        "orders": 10950,
        "weights": (0.2, 1, 10, 45),
        "short": (0.25, 45),
        "long": 500,
        "return": 0.85,
        "corrective": 0.05,
        "fitting": 0.01,
    },
    "hygiene_chair": {
        "orders": 4710,
        "weights": (0.2, 1, 15, 50),
        "short": (0.10, 60),
        "long": 1100,
        "return": 0.88,
        "corrective": 0.05,
        "fitting": 0.0,
    },
    "communication_cognition": {
        "orders": 2855,
        "weights": (3, 1, 3, 8),
        "short": (0.05, 60),
        "long": 1150,
        "return": 0.95,
        "corrective": 0.2,
        "fitting": 0.06,
    },
    "treatment_device": {
        "orders": 2240,
        "weights": (0.5, 1, 3, 4),
        "short": (0.20, 45),
        "long": 850,
        "return": 0.95,
        "corrective": 0.3,
        "fitting": 0.0,
    },
    "sold_aids": {"orders": 8350, "weights": (0.3, 1, 6, 15)},
}
INITIAL_BANDS = {  # child share: 18 of 20 ages in 0-19 are children; housing shares: assumption
    "age_0_19": {"child_share": 0.9, "special_housing_share": 0.0, "home_care_share": 0.01},
    "age_20_64": {"child_share": 0.0, "special_housing_share": 0.01, "home_care_share": 0.05},
    "age_65_79": {"child_share": 0.0, "special_housing_share": 0.04, "home_care_share": 0.12},
    "age_80_plus": {"child_share": 0.0, "special_housing_share": 0.2, "home_care_share": 0.2},
}


def observed() -> dict[str, dict[str, float]]:
    """Targets: metric -> segment -> value, for the Jan-Apr rows (and the 2023 mil-per-device row)."""
    out: dict[str, dict[str, float]] = {}
    for row in read_rows(OBSERVED):
        keep = (
            row["period"] in ("2023-01..2023-04", "2023-04")
            or (
                row["metric"].startswith("kpi_")
                and row["period"] == "2024-01..2024-04"
                and row["metric"] != "kpi_mil_driven_per_rented_individual_volume"
            )
            or (row["metric"] == "kpi_mil_driven_per_rented_individual_volume" and row["period"] == "2023")
        )
        if keep:
            out.setdefault(row["metric"], {})[row["segment"]] = float(row["value"])
    for row in read_rows(REVIEW):
        if row["metric"] == "device_share_65plus":
            out["device_share_65plus"] = {"extra": float(row["value"])}
        # 2022: the last year before sold diabetes devices, which the orders count leaves out
        if row["metric"] == "sold_share_of_devices" and row["period"] == "2022":
            out["sold_share_of_orders"] = {"extra": float(row["value"])}
    return out


def extra_measures(out: RunOutput, scenario: Scenario) -> dict[str, float]:
    """Targets the summary does not give: the share of the tracked patient devices on rent at the window's
    end held by patients 65+, and the share of the window's orders that are sold (not rented)."""
    r = out["rentals"]
    t_end = float(DAYS)
    on = r[(r["start_day"] < t_end) & (r["end_day"] > t_end) & r["tracked"] & ~r["unit_device"]]
    old = on["band"].astype(str).isin([b for b in BANDS if b not in YOUNG])
    ts = out["timeseries"]
    window = ts[pd.to_datetime(ts["date"]) <= pd.Timestamp(WINDOW[1])]
    totals = window.groupby("metric", observed=True)["value"].sum()
    orders = float(totals.get("orders", 0.0))
    return {
        "device_share_65plus": float(old.mean()) if len(on) else float("nan"),
        "sold_share_of_orders": float(totals.get("sales", 0.0)) / orders if orders else float("nan"),
    }


def initial_guess(region: dict[str, Any]) -> dict[str, Any]:
    """The documented starting point of the fit, as a fitted-file mapping."""
    table = read_population_table(Path(region["demand"]["population_table"]))
    pop = np.array([sum(table[m][min(table[m])][b] for m in table) for b in BANDS])
    use_rates: dict[str, dict[str, float]] = {}
    categories: dict[str, Any] = {}
    for cat, spec in INITIAL.items():
        w = np.asarray(spec["weights"], dtype=float)
        rates = spec["orders"] * w / float((pop * w).sum()) * 1000.0
        use_rates[cat] = {b: float(r) for b, r in zip(BANDS, rates, strict=True)}
        if "long" not in spec:
            continue
        share, short_mean = spec["short"]
        categories[cat] = {
            "rental_duration": [
                {"share": share, "dist": "lognormal", "mean": float(short_mean), "cv": 1.0},
                {"share": round(1 - share, 6), "dist": "lognormal", "mean": float(spec["long"]), "cv": 0.9},
            ],
            "return_share": spec["return"],
            "recondition_work_order_share": 0.7,
            "corrective_per_device_year": spec["corrective"],
            "fitting_share": spec["fitting"],
            "spare_part_share": 0.1,
            "reorder_point_days": 10.0,
            "order_up_to_days": 30.0,
        }
    categories["sold_aids"] = {"reorder_point_days": 10.0, "order_up_to_days": 30.0}
    return {
        "demand": {"use_rates": use_rates, "age_bands": copy.deepcopy(INITIAL_BANDS)},
        "categories": categories,
        "municipalities": {m: {"special_housing_factor": 1.0} for m in region["municipalities"]},
        "depots": {DEPOT: {"fitting_booking_delay_days": {"dist": "lognormal", "mean": 8.0, "cv": 1.0}}},
        "transport": {
            "failed_delivery_probability": 0.02,
            "km_per_stop": 3.0,
            # devices; returns 11 884 / pickup_orders 6 713 in vastmanland_hmc_2024_interim.csv
            "devices_per_pickup_order": 1.77,
        },
    }


def update(
    fit: dict[str, Any], sim: dict[str, Any], obs: dict[str, dict[str, float]], damping: float
) -> None:
    """Move each fitted parameter towards its target (in place)."""
    a = sim["all"]
    cats = fit["categories"]
    rented = [c for c in cats if "rental_duration" in cats[c]]
    r_orders = obs["orders"]["all"] / a["orders"]
    share_sim = sim["extra"]["device_share_65plus"]
    share_obs = obs["device_share_65plus"]["extra"]
    # the under-65 bands' rates move by the odds ratio (their devices scale with them, 65+ devices do not)
    r_young = (share_sim / (1 - share_sim)) / (share_obs / (1 - share_obs))
    # sold aids move by the odds ratio of the sold share (the rented categories take the rest of the orders)
    sold_sim = sim["extra"]["sold_share_of_orders"]
    sold_obs = obs["sold_share_of_orders"]["extra"]
    r_sold = (sold_obs / (1 - sold_obs)) / (sold_sim / (1 - sold_sim))
    for cat, rates in fit["demand"]["use_rates"].items():
        # the holders' age profile is about rented devices: sold aids keep their band shape
        young = r_young if cat not in OWN_SHAPE and cat != "sold_aids" else 1.0
        level = r_orders * (r_sold if cat == "sold_aids" else 1.0)
        for band in rates:
            rates[band] = scale(rates[band], level * (young if band in YOUNG else 1.0), damping)
    r_volume = obs["rented_volume_individual"]["all"] / a["rented_volume_individual"] / r_orders
    r_returns = obs["returns"]["all"] / a["returns"] * r_volume  # ends fall as durations grow
    r_recond = (
        obs["recondition_work_orders"]["all"]
        / a["recondition_work_orders"]
        / (obs["returns"]["all"] / a["returns"])
    )
    r_tech = (
        obs["technical_work_orders"]["all"]
        / a["technical_work_orders"]
        / (obs["rented_volume_individual"]["all"] / a["rented_volume_individual"])
    )
    r_fit = obs["consultant_fitting_referrals"]["all"] / a["consultant_fitting_referrals"] / r_orders
    # returns = ends x (1 - lost): solve for the factor on every category's lost share (mean lost share L)
    mean_lost = float(np.mean([1.0 - cats[c]["return_share"] for c in rented]))
    # returns per rental end must change by r_returns (rental ends change by 1 / r_volume with the durations)
    lost_factor = float(np.clip((1.0 - (1.0 - mean_lost) * r_returns) / max(mean_lost, 1e-6), 0.2, 5.0))
    for c in rented:
        spec = cats[c]
        for comp in spec["rental_duration"][1:]:
            comp["mean"] = scale(comp["mean"], r_volume, damping, 30.0)
        # scale the share NOT returned, so devices that are always collected (beds, lifts) stay near 1
        spec["return_share"] = 1.0 - scale(1.0 - spec["return_share"], lost_factor, damping, 0.001, 0.7)
        spec["recondition_work_order_share"] = scale(
            spec["recondition_work_order_share"], r_recond, damping, 0.05, 1.0
        )
        spec["corrective_per_device_year"] = scale(spec["corrective_per_device_year"], r_tech, damping)
        spec["fitting_share"] = scale(spec["fitting_share"], r_fit, damping, 0.0, 0.9)
        miss_obs = 1 - obs["kpi_repair_done_within_5_workdays"]["all"]
        miss_sim = max(1 - a["kpi_repair_done_within_5_workdays"], 1e-3)
        spec["spare_part_share"] = scale(
            max(spec["spare_part_share"], 0.01), miss_obs / miss_sim, damping, 0, 0.9
        )
    muni_obs = obs["rented_volume_individual"]["municipalities_total"]
    muni_sim = sim["municipalities_total"]["rented_volume_individual"]
    for band in fit["demand"]["age_bands"].values():
        if band["special_housing_share"] > 0:
            band["special_housing_share"] = scale(
                band["special_housing_share"], muni_obs / muni_sim, damping, 0.0, 0.95
            )
    # municipality factors: relative shares only (the level is the bands' job)
    ratios = {
        m: obs["rented_volume_individual"][m] / max(sim[m]["rented_volume_individual"], 1.0)
        for m in fit["municipalities"]
    }
    norm = float(np.exp(np.mean(np.log(list(ratios.values())))))
    for m, spec in fit["municipalities"].items():
        spec["special_housing_factor"] = scale(
            spec["special_housing_factor"], ratios[m] / norm, damping, 0.1, 10
        )
    transport = fit["transport"]
    miss = (1 - obs["kpi_delivery_on_planned_day"]["all"]) - (1 - a["kpi_delivery_on_planned_day"])
    transport["failed_delivery_probability"] = float(
        min(max(transport["failed_delivery_probability"] + damping * miss, 0.0), 0.5)
    )
    transport["devices_per_pickup_order"] = scale(
        transport["devices_per_pickup_order"], a["pickup_orders"] / obs["pickup_orders"]["all"], damping, 1.0
    )
    transport["km_per_stop"] = scale(
        transport["km_per_stop"],
        obs["kpi_mil_driven_per_rented_individual_volume"]["all"]
        / a["kpi_mil_driven_per_rented_individual_volume"],
        damping,
        0.0,
    )
    booking = fit["depots"][DEPOT]["fitting_booking_delay_days"]
    gap = a["kpi_fitting_offered_within_15_workdays"] - obs["kpi_fitting_offered_within_15_workdays"]["all"]
    booking["mean"] = scale(booking["mean"], float(np.exp(2.5 * gap)), damping, 0.5, 60)
    in_depot_obs = 1 - obs["kpi_rental_rate_devices_at_customer"]["all"]
    in_depot_sim = 1 - a["kpi_rental_rate_devices_at_customer"]
    for spec in cats.values():
        for key in ("reorder_point_days", "order_up_to_days"):
            spec[key] = scale(spec[key], (in_depot_obs / in_depot_sim) ** 1.5, damping, 1.0, 365)


def write_fitted(fit: dict[str, Any], report: list[str]) -> None:
    """Write the two fitted files, every number with its unit and how it was obtained."""
    head = [
        "# Generated by `python calibration/fit_vastmanland.py`; do not edit by hand, rerun the script.",
        "# Starting shapes (relative use by age band, short-term loan shares, ...) are the documented",
        "# assumptions in the script's INITIAL table; the fit moves one level per observed target (see its",
        "# docstring).",
        "#",
        *[f"# {line}" for line in report],
    ]
    lines = [
        "# Fitted device-level parameters (demand per category, rental, repair and reconditioning), used by",
        "# configs/regions/vastmanland.yaml and, transferred, by configs/regions/norrbotten.yaml.",
        *head,
        "demand:",
        f"  use_rates:  # orders per 1000 persons and year; band shape: assumption; level {FITTED} (orders);",
        "              # bands under 65 (one factor): fitted by calibration/fit_vastmanland.py to",
        "              # vastmanland_review_2026.csv (device_share_65plus)",
        *[f"    {cat}: {inline(rates)}" for cat, rates in fit["demand"]["use_rates"].items()],
        "categories:",
    ]
    for cat, spec in fit["categories"].items():
        lines.append(f"  {cat}:")
        if "rental_duration" in spec:
            lines.append(
                "    rental_duration:  # days, lognormal; short-term loan share and mean: assumption; "
                f"long-term mean {FITTED} (rented_volume_individual)"
            )
            lines += [f"      - {inline(comp)}" for comp in spec["rental_duration"]]
            for key, unit, target in (
                ("return_share", "share", "returns"),
                ("recondition_work_order_share", "share", "recondition_work_orders"),
                ("corrective_per_device_year", "work orders per device-year", "technical_work_orders"),
                ("fitting_share", "share of orders", "consultant_fitting_referrals"),
                ("spare_part_share", "share of repairs", "kpi_repair_done_within_5_workdays"),
            ):
                lines.append(
                    f"    {key}: {fmt(spec[key])}  # {unit}; relative level by category: assumption; "
                    f"{FITTED} ({target})"
                )
        for key in ("reorder_point_days", "order_up_to_days"):
            lines.append(
                f"    {key}: {fmt(spec[key])}  # days of orders; {FITTED} "
                "(kpi_rental_rate_devices_at_customer)"
            )
    write_lines(FITTED_DEVICES, lines)

    booking = fit["depots"][DEPOT]["fitting_booking_delay_days"]
    lines = [
        "# Fitted Västmanland-specific parameters (patients' housing, municipalities, KPI knobs), used by",
        "# configs/regions/vastmanland.yaml.",
        *head,
        "demand:",
        "  age_bands:  # child_share: 18 of 20 ages are under 18 (assumption); housing shares: share of",
        "              # patients;",
        f"              # special housing {FITTED} (municipalities_total); home care: assumption",
        *[f"    {band}: {inline(spec)}" for band, spec in fit["demand"]["age_bands"].items()],
        f"  trend: {{growth: {fmt(fit['demand']['trend']['growth'])}}}  # share per year beyond demography;"
        " derived by calibration/fitlib.py trend_for_growth so that rented orders (and stock) grow 5 %/yr "
        "(devices_sweden_facts.csv vastmanland_rented_individual_devices_growth)",
        f"municipalities:  # special_housing_factor: factor; {FITTED}",
        "                  # (rented_volume_individual by municipality)",
        *[
            f"  {m}: {{special_housing_factor: {fmt(spec['special_housing_factor'])}}}"
            for m, spec in fit["municipalities"].items()
        ],
        "depots:",
        f"  {DEPOT}:",
        f"    fitting_booking_delay_days: {inline(booking)}  # days; cv assumption; mean {FITTED} "
        "(kpi_fitting_offered_within_15_workdays)",
        "transport:",
        f"  failed_delivery_probability: {fmt(fit['transport']['failed_delivery_probability'])}  # share of "
        "attempts failing or rescheduled (absorbs delay causes the model lacks); "
        f"{FITTED} (kpi_delivery_on_planned_day)",
        f"  devices_per_pickup_order: {fmt(fit['transport']['devices_per_pickup_order'])}  # devices; start: "
        f"returns / pickup_orders = 1.77; {FITTED} (pickup_orders)",
        f"  km_per_stop: {fmt(fit['transport']['km_per_stop'])}  # km; {FITTED} "
        "(kpi_mil_driven_per_rented_individual_volume 2023)",
    ]
    write_lines(FITTED_REGION, lines)


def report_lines(sim: dict[str, Any], obs: dict[str, dict[str, float]], seeds: list[int]) -> list[str]:
    lines = [
        f"Fit check, mean of seeds {seeds}, window {WINDOW[0]} to {WINDOW[1]} "
        f"(service KPIs {KPI_WINDOW[0]} to {KPI_WINDOW[1]}): simulated / observed"
    ]
    for metric, segs in obs.items():
        for seg, value in segs.items():
            s = sim.get(seg, {}).get(metric)
            if s is None:
                continue
            lines.append(f"  {metric} [{seg}]: {s:.4g} / {value:.4g} ({(s / value - 1) * 100:+.1f} %)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init", action="store_true", help="start from the documented initial guess")
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--replications", type=int, default=4)
    parser.add_argument("--damping", type=float, default=0.8)
    args = parser.parse_args()
    base = load_base(REGION, skip=(FITTED_DEVICES.name, FITTED_REGION.name))
    if args.init or not (FITTED_DEVICES.exists() and FITTED_REGION.exists()):
        fit = initial_guess(base)
    else:
        fit = deep_merge(read_yaml(FITTED_DEVICES), read_yaml(FITTED_REGION))
    obs = observed()
    fit.setdefault("demand", {})["trend"] = {"growth": trend_for_growth(deep_merge(base, fit), 0.05)}
    seeds = list(range(1, args.replications + 1))
    for it in range(args.iterations):
        sim = simulate(deep_merge(base, fit), seeds, RUN_DAYS, WINDOW, extra_measures, KPI_WINDOW)
        print(f"iteration {it}:", *report_lines(sim, obs, seeds)[1:], sep="\n", flush=True)
        update(fit, sim, obs, args.damping)
    sim = simulate(deep_merge(base, fit), seeds, RUN_DAYS, WINDOW, extra_measures, KPI_WINDOW)
    lines = report_lines(sim, obs, seeds)
    print(*lines, sep="\n")
    write_fitted(fit, lines)


if __name__ == "__main__":
    main()
