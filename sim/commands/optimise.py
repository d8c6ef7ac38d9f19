"""``hmsim optimise SPEC``: the fewest or cheapest capacity per year that meets KPI targets."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.commands.calibrate import _positive_int


def cmd_optimise(args: argparse.Namespace) -> int:
    from sim.calibration.report import write_text_atomic
    from sim.optimise import prepare, report_markdown, run_search
    from sim.store import write_json_atomic

    search = prepare(Path(args.spec), args.set, args.workers, args.dask, Path(args.out) if args.out else None)
    spec = search.spec
    where = f"Dask at {args.dask}" if args.dask else f"{args.workers or 'all'} local worker(s)"
    print(
        f"{spec.name}: {len(search.variables)} variables, {len(spec.targets)} targets, years "
        f"{', '.join(search.years)} on {where}; evaluations cached in {search.out_dir}/cache/"
    )
    if args.check:
        return 0
    try:
        results = run_search(search, log=lambda s: print(s, flush=True))
    except KeyboardInterrupt:
        print(
            f"hmsim optimise: interrupted; finished runs are kept in {search.out_dir}/cache/, run the same "
            "command to resume",
            file=sys.stderr,
        )
        return 130
    write_json_atomic(search.out_dir / "recommendation.json", {"name": spec.name, "years": results})
    text = report_markdown(search, results)
    write_text_atomic(search.out_dir / "recommendation.md", text)
    if args.json:
        print(json.dumps(results, ensure_ascii=False, default=float))
    else:
        print(text, end="")
    print(f"wrote {search.out_dir}/recommendation.md and recommendation.json")
    return 0


def register(sub: Any, overridable: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("optimise", help="fewest or cheapest capacity per year that meets KPI targets")
    p.add_argument("spec", help="search spec (YAML), e.g. configs/optimise/vastmanland_capacity.yaml")
    p.add_argument(
        "--workers", type=_positive_int, help="local worker processes (default: the machine's cores)"
    )
    p.add_argument("--dask", metavar="ADDRESS", help="run on a Dask scheduler, e.g. tcp://host:8786")
    p.add_argument(
        "--out", help="folder for the cache and the recommendation (default results/optimise/<name>)"
    )
    p.add_argument("--check", action="store_true", help="resolve the spec and stop (no runs)")
    p.add_argument("--json", action="store_true", help="print the recommendation as JSON")
    overridable(p)
    p.set_defaults(func=cmd_optimise)
