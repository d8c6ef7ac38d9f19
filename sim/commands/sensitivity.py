"""``hmsim sensitivity SPEC``: Morris screening then Sobol indices for chosen outputs; tables and plots."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.commands.calibrate import _positive_int


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from sim.calibration.report import write_text_atomic
    from sim.sensitivity import plot, prepare, report_markdown, run_analysis

    analysis = prepare(
        Path(args.spec), args.set, args.workers, args.dask, Path(args.out) if args.out else None
    )
    spec = analysis.spec
    where = f"Dask at {args.dask}" if args.dask else f"{args.workers or 'all'} local worker(s)"
    print(
        f"{spec.name}: {len(analysis.params)} parameters, {len(analysis.outputs)} outputs on {where}; "
        f"evaluations cached in {analysis.out_dir}/cache/"
    )
    if args.check:
        return 0
    try:
        screen, indices = run_analysis(analysis, log=lambda s: print(s, flush=True))
    except KeyboardInterrupt:
        print(
            f"hmsim sensitivity: interrupted; finished runs are kept in {analysis.out_dir}/cache/, run the "
            "same command to resume",
            file=sys.stderr,
        )
        return 130
    out = analysis.out_dir
    write_text_atomic(out / "morris.csv", screen.to_csv(index=False))
    write_text_atomic(out / "sobol.csv", indices.to_csv(index=False))
    write_text_atomic(out / "report.md", report_markdown(analysis, screen, indices))
    plots = plot(screen, indices, out)
    print(f"wrote {out}/report.md, morris.csv, sobol.csv and {len(plots)} plot(s)")
    for output, rows in screen.groupby("output", sort=False):
        top = rows.sort_values("mu_star", ascending=False).head(3)
        ranked = ", ".join(f"{r['parameter']} ({r['mu_star']:.3g})" for _, r in top.iterrows())
        print(f"  {output}: largest mu*: {ranked}")
    return 0


def register(sub: Any, overridable: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("sensitivity", help="global sensitivity: Morris screening, then Sobol indices")
    p.add_argument("spec", help="sensitivity spec (YAML), e.g. configs/sensitivity/vastmanland_small.yaml")
    p.add_argument(
        "--workers", type=_positive_int, help="local worker processes (default: the machine's cores)"
    )
    p.add_argument("--dask", metavar="ADDRESS", help="run on a Dask scheduler, e.g. tcp://host:8786")
    p.add_argument(
        "--out", help="folder for the cache, tables and plots (default results/sensitivity/<name>)"
    )
    p.add_argument("--check", action="store_true", help="resolve the spec and stop (no runs)")
    overridable(p)
    p.set_defaults(func=cmd_sensitivity)
