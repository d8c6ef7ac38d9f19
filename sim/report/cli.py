"""``hmsim report RESULTS [--out DIR] [--lang sv|en] [--years Y1..Y2] [--baseline S] [--credibility DIR]``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def cmd_report(args: argparse.Namespace) -> int:
    from sim.report.build import make_report

    report = make_report(
        args.results, args.out, args.lang, args.years, args.baseline, credibility=args.credibility
    )
    print(
        f"wrote {report.out}/: {len(report.drawn)} charts (png/, report.pdf), index.html, report.xlsx "
        f"({len(report.sheets)} sheets)"
    )
    if report.omitted:
        print(f"left out {len(report.omitted)} chart(s) whose data the results do not have (see index.html):")
        for chart_id, why in report.omitted:
            print(f"  {chart_id}: {why}")
    return 0


def register(sub: Any, overridable: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "report", help="annual-review report of a run or batch: charts (PNG, PDF), index.html, report.xlsx"
    )
    p.add_argument("results", help="a run folder (hmsim run) or a batch folder (hmsim batch)")
    p.add_argument("--out", help="report folder (default RESULTS/report)")
    p.add_argument("--lang", choices=["sv", "en"], default="en", help="language of labels and captions")
    p.add_argument("--years", metavar="Y1..Y2", help="only these calendar years (e.g. 2024..2028)")
    p.add_argument("--baseline", help="scenario the batch's differences are paired against (default: first)")
    p.add_argument(
        "--credibility",
        metavar="DIR",
        action="append",
        help="add the fit of hmsim calibrate or the indices of hmsim sensitivity (their output folder); "
        "repeatable, one of each",
    )
    p.set_defaults(func=cmd_report)
