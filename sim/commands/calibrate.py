"""``hmsim calibrate SPEC``: fit parameters to observed figures; write the fitted YAML and a fit report."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.commands.search_options import add_search_options, executors, interrupted, out_arg


def cmd_calibrate(args: argparse.Namespace) -> int:
    from sim.calibration import prepare, run_fit
    from sim.calibration.report import write_fitted, write_fitted_report, write_report

    spec_path = Path(args.spec)
    problem = prepare(spec_path, args.set, args.workers, args.dask, out_arg(args))
    print(
        f"{problem.spec.name}: fitting on {executors(args)}; evaluations cached in {problem.out_dir}/cache/"
    )
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
        return interrupted("calibrate", problem.out_dir)
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
        print(f"wrote {path} (and {write_fitted_report(data, path).name} beside it)")
    return 0


def register(sub: Any, overridable: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("calibrate", help="fit parameters to observed figures; write fitted YAML and a report")
    p.add_argument("spec", help="calibration spec (YAML), e.g. calibration/vastmanland_activity.yaml")
    add_search_options(p, "calibrate", "the report")
    p.add_argument("--no-write", action="store_true", help="report only; do not write the fitted YAML")
    overridable(p)
    p.set_defaults(func=cmd_calibrate)
