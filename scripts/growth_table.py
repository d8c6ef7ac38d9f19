"""Orders per calendar year and tracked devices on rent each 1 January of a run folder (docs/model.md,
"Growth in the base case").

    .venv/bin/python scripts/growth_table.py RUN [--municipal]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.store import read_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run folder written by hmsim run")
    parser.add_argument("--municipal", action="store_true", help="count only devices municipalities pay for")
    args = parser.parse_args()
    out = read_run(args.run)
    rentals = out["rentals"]
    tracked = rentals[rentals["tracked"]]
    if args.municipal:
        tracked = tracked[tracked["payer"] != "region"]
    ts = out["timeseries"]
    ts = ts[ts["metric"] == "orders"]
    orders = ts.groupby(pd.to_datetime(ts["date"]).dt.year)["value"].sum()
    start = pd.Timestamp(out.start_date)
    what = "tracked on rent 1 Jan" + (" (municipal payers)" if args.municipal else "")
    print(f"| year | orders | {what} | change |\n|---|---|---|---|")
    previous = 0
    for year in sorted(orders.index):
        day = (pd.Timestamp(year=int(year), month=1, day=1) - start).days
        on = int(((tracked["start_day"] <= day) & (tracked["end_day"] > day)).sum())
        change = f"{(on / previous - 1) * 100:+.1f} %" if previous else "-"
        print(f"| {year} | {int(orders[year]):,} | {on:,} | {change} |".replace(",", " "))
        previous = on


if __name__ == "__main__":
    main()
