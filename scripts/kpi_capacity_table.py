"""KPI vs capacity for Västmanland (the table in docs/model.md, "KPIs from mechanisms").

Run from the repository root (one simulated year per cell and seed; about 30 s each)::

    .venv/bin/python scripts/kpi_capacity_table.py [--seeds 1] [--years 1]

Each row changes one capacity of the shipped config (the others as shipped) and prints the three service
KPIs over the simulated years, with the limit that unlimited capacity would reach (sim/model/limits.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.config import load_scenario  # noqa: E402
from sim.model import run  # noqa: E402
from sim.model.limits import kpi_limits  # noqa: E402
from sim.summary import summarise  # noqa: E402

CONFIG = ROOT / "configs" / "regions" / "vastmanland.yaml"
KPIS = (
    "kpi_fitting_offered_within_15_workdays",
    "kpi_repair_done_within_5_workdays",
    "kpi_delivery_on_planned_day",
)
DEPOT = "Västerås"


def rows() -> list[tuple[str, list[str]]]:
    """One row per capacity change, the shipped counts read from the config."""
    base = load_scenario(CONFIG)
    depot = base.depots[DEPOT]
    vehicles = {name: route.vehicles for name, route in base.transport.routes.items()}
    n = sum(vehicles.values())
    shipped = (
        f"as shipped ({depot.consultants.count} consultants, {depot.service_technicians.count} service "
        f"technicians, {n} vehicles)"
    )
    out: list[tuple[str, list[str]]] = [(shipped, [])]
    for pool, counts in (("consultants", (7, 11, 14, 30)), ("service_technicians", (17, 19, 26, 40))):
        label = pool.replace("_", " ")
        out += [(f"{label} {c}", [f"depots.{DEPOT}.{pool}.count={c}"]) for c in counts]
    out.append(
        (
            f"vehicles +1 per route ({n + len(vehicles)})",
            [f"transport.routes.{r}.vehicles={v + 1}" for r, v in vehicles.items()],
        )
    )
    out.append(
        (f"vehicles x2 ({2 * n})", [f"transport.routes.{r}.vehicles={2 * v}" for r, v in vehicles.items()])
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--years", type=float, default=1.0)
    args = parser.parse_args()
    limits = kpi_limits(load_scenario(CONFIG))
    print("| capacity | fitting within 15 workdays | repair within 5 workdays | delivery on planned day |")
    print("|---|---|---|---|")
    for label, sets in rows():
        scenario = load_scenario(CONFIG, [*sets, f"horizon.years={args.years}"])
        values = np.array([[summarise(run(scenario, s))[k] for k in KPIS] for s in range(1, args.seeds + 1)])
        print(f"| {label} | " + " | ".join(f"{v:.3f}" for v in values.mean(axis=0)) + " |", flush=True)
    print("| limit at unlimited capacity | " + " | ".join(f"{limits[k]:.3f}" for k in KPIS) + " |")


if __name__ == "__main__":
    main()
