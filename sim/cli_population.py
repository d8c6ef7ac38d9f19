"""``hmsim population import``: Statistics Sweden exports -> a config's population table."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from sim.errors import HmsimError


def cmd_import(args: argparse.Namespace) -> int:
    # imported when the command runs, as in sim/cli.py: every hmsim command starts without pandas or scipy
    from sim.config import load_scenario
    from sim.config.loader import build_scenario, load_raw
    from sim.model.demand import HISTORY_YEARS
    from sim.population_import import to_table, write_table

    scenario = load_scenario(args.config, args.set)
    files = [Path(f) for f in args.files]
    for f in files:
        if not f.is_file():
            raise HmsimError(f"{f}: not found (expected a CSV export of the statistics database)")
    munis = list(scenario.municipalities)
    bands = list(scenario.demand.age_bands)
    rows = to_table(files, munis, bands)
    out = Path(args.out) if args.out else Path("results") / f"population_{scenario.name}.csv"
    if out.exists() and out.is_dir():
        raise HmsimError(f"--out {out}: is a folder; give a file name")
    # the table must load with the config before it replaces anything
    raw = load_raw(args.config)
    raw.setdefault("demand", {}).pop("population", None)
    write_table(out, rows)
    try:
        raw["demand"]["population_table"] = str(out.resolve())
        build_scenario(raw, scenario.name)
    except HmsimError:
        out.unlink(missing_ok=True)
        raise
    years = sorted({y for _, y, _, _, _ in rows})
    print(
        f"wrote {out}: {len(munis)} municipalities x {len(bands)} bands x years {years[0]}-{years[-1]} "
        f"({len(rows)} rows); use it with --set demand.population_table={out}"
    )
    need = scenario.horizon.start_date.year - HISTORY_YEARS
    if years[0] > need:
        print(
            f"note: the table starts in {years[0]}; the warm start reads demand from {need} (earlier years "
            f"take {years[0]}'s population): add the historical export too"
        )
    return 0


def register(sub: argparse._SubParsersAction, overridable: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("population", help="population tables: import Statistics Sweden exports")
    inner = p.add_subparsers(dest="population_command", required=True, metavar="{import}")
    q = inner.add_parser(
        "import",
        help="SCB population CSV exports (history, projection) -> municipality,year,band,persons,source",
    )
    q.add_argument("files", nargs="+", metavar="FILE", help="CSV exports; where they overlap the first wins")
    q.add_argument("--config", required=True, help="the config whose municipalities and age bands to use")
    q.add_argument("--out", help="table to write (default results/population_<name>.csv)")
    overridable(q)
    q.set_defaults(func=cmd_import)
