"""``hmsim sensitivity SPEC``: Morris screening then Sobol indices for chosen outputs; tables and plots."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.commands.search_options import add_search_options, executors, interrupted, out_arg


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from sim.calibration.report import write_text_atomic
    from sim.sensitivity import plot, prepare, report_markdown, run_analysis

    analysis = prepare(Path(args.spec), args.set, args.workers, args.dask, out_arg(args))
    spec = analysis.spec
    print(
        f"{spec.name}: {len(analysis.params)} parameters, {len(analysis.outputs)} outputs on "
        f"{executors(args)}; "
        f"evaluations cached in {analysis.out_dir}/cache/"
    )
    if args.check:
        return 0
    try:
        screen, indices = run_analysis(analysis, log=lambda s: print(s, flush=True))
    except KeyboardInterrupt:
        return interrupted("sensitivity", analysis.out_dir)
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
    add_search_options(p, "sensitivity", "the tables and plots")
    overridable(p)
    p.set_defaults(func=cmd_sensitivity)
