"""Norrbotten's service technicians and vehicles per route: the sweep behind the shipped counts.

Run from the repository root (three simulated years per row, one seed; about 15 s a row on a quiet core)::

    .venv/bin/python scripts/norrbotten_capacity.py [--seed 1] [--years 3]

Each row changes one capacity of the shipped config (the others as shipped) and prints, per year, delivery on
the planned day and repair within 5 workdays, with the service technicians' utilisation over the run. The
shipped counts are the fewest for which the utilisation is about 0.8 and no route's deliveries fall behind
(docs/model.md, "Norrbotten's capacity").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.config import load_scenario  # noqa: E402
from sim.model import run  # noqa: E402
from sim.summary import kpis_by_year  # noqa: E402

CONFIG = ROOT / "configs" / "regions" / "norrbotten.yaml"
DEPOT = "Luleå"


def rows() -> list[tuple[str, list[str]]]:
    """The shipped config, then one row per changed capacity."""
    base = load_scenario(CONFIG)
    techs = base.depots[DEPOT].service_technicians.count
    out: list[tuple[str, list[str]]] = [(f"as shipped ({techs} service technicians)", [])]
    for count in (20, techs - 2, techs + 3):
        out.append((f"service technicians {count}", [f"depots.{DEPOT}.service_technicians.count={count}"]))
    for name, route in base.transport.routes.items():
        if route.vehicles > 1:
            out.append(
                (
                    f"{name} {route.vehicles - 1} vehicles",
                    [f"transport.routes.{name}.vehicles={route.vehicles - 1}"],
                )
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--years", type=float, default=3.0)
    args = parser.parse_args()
    header = (
        "capacity",
        "delivery on planned day by year",
        "repair within 5 workdays by year",
        "utilisation",
    )
    print("| " + " | ".join(header) + " |")
    print("|---|---|---|---|")
    for label, sets in rows():
        out = run(load_scenario(CONFIG, [*sets, f"horizon.years={args.years}"]), args.seed)
        by_year = kpis_by_year(out)
        staff = out["staff"]
        pool = staff[staff["pool"] == "service_technicians"]
        util = float(pool["busy_hours"].sum() / pool["available_hours"].sum())
        delivery = " / ".join(f"{v['kpi_delivery_on_planned_day']:.2f}" for v in by_year.values())
        repair = " / ".join(f"{v['kpi_repair_done_within_5_workdays']:.2f}" for v in by_year.values())
        print(f"| {label} | {delivery} | {repair} | {util:.2f} |", flush=True)


if __name__ == "__main__":
    main()
