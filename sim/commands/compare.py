"""``hmsim compare RESULTS --baseline today``: the command; the table itself is built in :mod:`sim.compare`
(imported when the command runs, so hmsim starts without pandas)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.errors import HmsimError


def _command(args: argparse.Namespace) -> int:
    results = Path(args.results)
    if not results.is_dir():
        raise HmsimError(f"{results}: not a folder (give a batch results folder)")
    from sim.compare import collect, markdown, table

    result = table(collect(results, args.transition_year), args.baseline)
    if args.json:
        print(result.to_json(orient="records", indent=1))
    else:
        print(markdown(result, args.baseline))
    return 0


def register(sub: Any, overridable: Any) -> None:
    p = sub.add_parser("compare", help="one decision-paper table of a governance batch, paired to a baseline")
    p.add_argument("results", help="a batch results folder (hmsim batch)")
    p.add_argument("--baseline", default="today", help="scenario to pair against (default: today)")
    p.add_argument(
        "--transition-year",
        type=int,
        default=None,
        help="year of the change when a run has no governance option",
    )
    p.add_argument("--json", action="store_true", help="machine-readable records")
    p.set_defaults(func=_command)
