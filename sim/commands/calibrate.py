"""``hmsim calibrate SPEC``: fit parameters to observed figures; write the fitted YAML and a fit report."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a whole number >= 1")
    return int(text)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from sim.calibration import prepare, run_fit
    from sim.calibration.report import write_fitted, write_report

    spec_path = Path(args.spec)
    problem = prepare(spec_path, args.set, args.workers, args.dask, Path(args.out) if args.out else None)
    where = f"Dask at {args.dask}" if args.dask else f"{args.workers or 'all'} local worker(s)"
    print(f"{problem.spec.name}: fitting on {where}; evaluations cached in {problem.out_dir}/cache/")
    if args.check:
        print(
            f"ok: {len(problem.params)} parameters over "
            f"{sum(len(p.keys) for p in problem.params)} keys, {len(problem.targets)} targets, "
            f"{len(problem.constraints)} constraints, {len(problem.holdouts)} hold-outs: "
            f"{len(problem.targets) + len(problem.constraints) - len(problem.params)} degrees of freedom"
        )
        return 0
    try:
        result = run_fit(problem, log=lambda s: print(s, flush=True))
    except KeyboardInterrupt:
        print(
            f"hmsim calibrate: interrupted; finished evaluations are kept in {problem.out_dir}/cache/, "
            "run the same command to resume",
            file=sys.stderr,
        )
        return 130
    data = write_report(result)
    print(f"wrote {problem.out_dir}/report.md (and report.json, trace.csv)")
    print(
        f"cost {data['cost_before']:.4g} -> {data['cost_after']:.4g} with "
        f"{data['degrees_of_freedom']} degrees of freedom; {result.message}"
    )
    print(
        f"{data['targets_fitted']} targets + {len(data['constraints'])} constraints, "
        f"{data['parameters_fitted']} free parameters: {data['degrees_of_freedom']} degrees of freedom"
    )
    for q in data["parameters"]:
        flag = f" (at the {q['at_bound']} bound)" if q["at_bound"] else ""
        flag += f" ({q['implausible']} its plausible range)" if q["implausible"] else ""
        print(f"  {q['parameter']}: {q['start']:.4g} -> {q['fitted']:.4g}{flag}")
    for d in data["derived"]:
        print(f"  derived {d['key']}: {d['value']}")
    print("flags: " + ("; ".join(data["flags"]) if data["flags"] else "none"))
    output = problem.spec.output
    if output and not args.no_write:
        path = (spec_path.resolve().parent / output).resolve()
        write_fitted(result, path, data)
        print(f"wrote {path}")
    return 0


def register(sub: Any, overridable: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("calibrate", help="fit parameters to observed figures; write fitted YAML and a report")
    p.add_argument("spec", help="calibration spec (YAML), e.g. calibration/vastmanland_activity.yaml")
    p.add_argument(
        "--workers", type=_positive_int, help="local worker processes (default: the machine's cores)"
    )
    p.add_argument("--dask", metavar="ADDRESS", help="run on a Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--out", help="folder for the cache and report (default results/calibrate/<name>)")
    p.add_argument("--check", action="store_true", help="resolve the spec and stop (no runs)")
    p.add_argument("--no-write", action="store_true", help="report only; do not write the fitted YAML")
    overridable(p)
    p.set_defaults(func=cmd_calibrate)
