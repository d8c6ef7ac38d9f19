"""Benchmark single runs: wall time, simulated events per second, peak memory; scaling with volume and years.

Run from the repository root (each case in its own process, so peak memory is that case's alone)::

    .venv/bin/python benchmarks/bench_run.py                 # all cases, prints a Markdown table
    .venv/bin/python benchmarks/bench_run.py --case vm10     # one case

Cases: Västmanland's shipped config for 1, 2, 5 and 10 years, and a synthetic region with 10x
Västmanland's volume (use rates, staff, vehicles and workshop room all x10) for 1 and 10 years (and 20
years with ``--case x10_20``, the memory target of issue 12: about 20 minutes, so not in the default list).
Timings are split into build (demand, fates, warm start), run (the SimPy loop) and collect (tables); writing
the Parquet files is not included (see ``hmsim run`` for the end-to-end time). Results: docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "regions" / "vastmanland.yaml"
CASES = {
    "vm1": (1, 1),
    "vm2": (2, 1),
    "vm5": (5, 1),
    "vm10": (10, 1),
    "x10_1": (1, 10),
    "x10_10": (10, 10),
    "x10_20": (20, 10),  # not in the default list (about half an hour); run with --case
}
DEFAULT_CASES = ("vm1", "vm2", "vm5", "vm10", "x10_1", "x10_10")


def scaled_raw(years: float, factor: int) -> dict[str, Any]:
    """Västmanland's raw config for ``years``, with volume and capacity multiplied by ``factor``."""
    sys.path.insert(0, str(ROOT))
    from sim.config import apply_overrides, load_raw

    raw = apply_overrides(load_raw(CONFIG), [f"horizon.years={years}"])
    if factor != 1:
        for rates in raw["demand"]["use_rates"].values():
            for band in rates:
                rates[band] *= factor
        for depot in raw["depots"].values():
            for pool in ("reconditioning_technicians", "service_technicians", "consultants"):
                depot[pool]["count"] *= factor
            depot["reconditioning_room"] *= factor
        for route in raw["transport"]["routes"].values():
            route["vehicles"] *= factor
    return raw


def measure(case: str) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from sim.config import build_scenario
    from sim.model.collect import collect
    from sim.model.engine import Simulation

    years, factor = CASES[case]
    scenario = build_scenario(scaled_raw(years, factor), "vastmanland")
    c0 = time.process_time()
    t0 = time.perf_counter()
    sim = Simulation(scenario, 1)
    t1 = time.perf_counter()
    sim.run()
    t2 = time.perf_counter()
    out = collect(sim.records())
    t3 = time.perf_counter()
    cpu = time.process_time() - c0
    return {
        "case": case,
        "years": years,
        "volume": factor,
        "orders": len(sim.orders),
        "devices": len(sim.fleet.cat),
        "events": sim.events_processed,
        "build_s": round(t1 - t0, 2),
        "run_s": round(t2 - t1, 2),
        "collect_s": round(t3 - t2, 2),
        "total_s": round(t3 - t0, 2),
        "cpu_s": round(cpu, 2),  # CPU time of this process: less sensitive than wall time to a loaded machine
        "events_per_s": round(sim.events_processed / (t2 - t1)),
        "orders_per_s": round(len(sim.orders) / (t3 - t0)),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rows_timeseries": out.rows("timeseries"),  # a spilled table is not read back
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=list(CASES))
    args = parser.parse_args()
    if args.case:
        print(json.dumps(measure(args.case)))
        return
    rows = []
    for case in DEFAULT_CASES:
        done = subprocess.run(
            [sys.executable, __file__, "--case", case], capture_output=True, text=True, check=True
        )
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1], file=sys.stderr, flush=True)
    cols = [
        "case",
        "years",
        "volume",
        "orders",
        "events",
        "build_s",
        "run_s",
        "collect_s",
        "total_s",
        "cpu_s",
        "events_per_s",
        "peak_mb",
    ]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in cols) + " |")


if __name__ == "__main__":
    main()
