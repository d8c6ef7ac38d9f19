"""``hmsim optimise SPEC``: the fewest or cheapest capacity per year that meets KPI targets."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.commands.search_options import add_search_options, executors, interrupted, out_arg


def cmd_optimise(args: argparse.Namespace) -> int:
    from sim.calibration.report import write_text_atomic
    from sim.optimise import prepare, report_markdown, run_search
    from sim.store import write_json_atomic

    search = prepare(Path(args.spec), args.set, args.workers, args.dask, out_arg(args))
    spec = search.spec
    print(
        f"{spec.name}: {len(search.variables)} variables, {len(spec.targets)} targets, years "
        f"{', '.join(search.years)} on {executors(args)}; evaluations cached in {search.out_dir}/cache/"
    )
    if args.check:
        return 0
    try:
        results = run_search(search, log=lambda s: print(s, flush=True))
    except KeyboardInterrupt:
        return interrupted("optimise", search.out_dir)
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
    add_search_options(p, "optimise", "the recommendation")
    p.add_argument("--json", action="store_true", help="print the recommendation as JSON")
    overridable(p)
    p.set_defaults(func=cmd_optimise)
