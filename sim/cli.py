"""The ``hmsim`` command line: parse, call the API, print. Bad input exits 2 with one line per problem."""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from sim.errors import HmsimError

EXIT_OK, EXIT_INTERNAL, EXIT_USER = 0, 1, 2


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a date YYYY-MM-DD") from None


def _positive_years(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a number of years") from None
    if not 0 < value <= 50:
        raise argparse.ArgumentTypeError(f"{text!r}: must be > 0 and <= 50")
    return value


def _precision(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: must be a number (relative precision, e.g. 0.05)"
        ) from None
    if not 0 < value <= 1:  # also false for NaN
        raise argparse.ArgumentTypeError(f"{text!r}: must be > 0 and <= 1 (relative precision, e.g. 0.05)")
    return value


def _seed(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: must be a non-negative integer")
    return int(text)


def _z(value: float, digits: int) -> float:
    """``value``, or 0.0 where it prints as zero at ``digits`` decimals (so nothing prints as "-0")."""
    return 0.0 if round(value, digits) == 0 else value


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if abs(value) >= 1000 or (value.is_integer() and abs(value) >= 1):
            return f"{_z(value, 0):,.0f}".replace(",", " ")  # money and counts: whole units
        return f"{_z(value, 3):.3f}"
    return str(value)


def _print_metrics(metrics: dict[str, Any], indent: str = "  ") -> None:
    width = max((len(k) for k in metrics), default=0)
    for key, value in metrics.items():
        print(f"{indent}{key:<{width}}  {_fmt(value)}")


def _print_kpis_by_year(output: Any) -> None:
    """Service KPIs per calendar year beside the config's targets (``<`` marks a year below its target),
    and a sentence for each target that no capacity can reach."""
    from sim.summary import YEARLY_KPIS, kpis_by_year, target_notes

    by_year = kpis_by_year(output)
    targets = output.meta.get("kpi_targets", {})
    years = list(by_year)
    width = max(len(k) for k in YEARLY_KPIS)
    print("KPIs per year (target from the config's kpi_targets; < below target):")
    print(f"  {'':<{width}}  {'target':>6}" + "".join(f"  {y:>6}" for y in years))
    for kpi in YEARLY_KPIS:
        target = targets.get(kpi)
        cells = []
        for y in years:
            value = by_year[y].get(kpi, float("nan"))
            mark = "<" if target is not None and value == value and value < target else " "
            cells.append(f"  {value:5.3f}{mark}" if value == value else f"  {'n/a':>5} ")
        shown = f"{target:.3f}" if target is not None else "-"
        print(f"  {kpi:<{width}}  {shown:>6}" + "".join(cells))
    for note in target_notes(output.meta):
        print(f"  {note}")


def _progress_bar(total_days: int, label: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    from tqdm import tqdm

    bar = tqdm(
        total=total_days,
        desc=label,
        unit="day",
        delay=2.0,
        leave=False,
        file=sys.stderr,
        mininterval=0.5,
        disable=None,
    )
    seen = [0]

    def update(day: int) -> None:
        if day - seen[0] >= 30:
            bar.update(day - seen[0])
            seen[0] = day

    return update, bar.close


def cmd_validate(args: argparse.Namespace) -> int:
    from sim.config import load_scenario

    s = load_scenario(args.config, args.set)
    print(
        f"ok: {args.config}: scenario {s.name!r}, {len(s.municipalities)} municipalities, "
        f"{len(s.categories)} "
        f"categories, {len(s.depots)} depot(s), {len(s.transport.routes)} routes, "
        f"{s.horizon.years:g} years from {s.horizon.start_date}"
    )
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    import uuid
    from datetime import timedelta

    from sim.config import load_scenario
    from sim.model.engine import horizon_days
    from sim.runner import execute, holds_run, plan_target
    from sim.store import target_lock
    from sim.summary import summarise

    overrides = list(args.set)
    if args.years is not None:
        overrides.append(f"horizon.years={args.years}")
    scenario = load_scenario(args.config, overrides)
    seed = scenario.seed if args.seed is None else args.seed
    # where it goes, and whether it may, is settled before anything is simulated
    out_dir = plan_target(scenario, seed, args.out, args.set, args.force)
    shown = Path(os.path.relpath(out_dir)) if out_dir.is_relative_to(Path.cwd()) else out_dir
    days = horizon_days(scenario.horizon.start_date, scenario.horizon.years)
    run_id = uuid.uuid4().hex
    try:
        with target_lock(out_dir):
            plan_target(scenario, seed, args.out, args.set, args.force)  # again, now that we hold it
            update, close = _progress_bar(days, scenario.name)
            try:
                result = execute(
                    scenario,
                    seed,
                    out_dir,
                    progress=update,
                    config_path=str(args.config),
                    overrides=overrides,
                    run_id=run_id,
                )
            finally:
                close()
        output = result.output
        meta = output.meta
        last_day = date.fromisoformat(meta["end_date"]) - timedelta(days=1)  # end_date is exclusive
        print(
            f"wrote {shown}/ ({len(result.tables)} tables + manifest.json): scenario {scenario.name!r}, "
            f"seed {seed}, {meta['start_date']} to {last_day} (last simulated day), "
            f"{meta['wall_seconds']:.1f} s"
        )
        print("summary over the whole horizon (hmsim summary for other windows):")
        metrics = summarise(output)
        keys = (
            "orders",
            "deliveries",
            "returns",
            "purchases",
            "scrapped",
            "rented_volume_individual",
            "kpi_delivery_on_planned_day",
            "kpi_repair_done_within_5_workdays",
            "kpi_fitting_offered_within_15_workdays",
            "kpi_rental_rate_devices_at_customer",
            "technician_utilisation",
        )
        _print_metrics({k: metrics[k] for k in keys if k in metrics})
        _print_kpis_by_year(output)
        if output.has("ledger"):
            from sim.economics.views import aggregate

            centre = aggregate(output["ledger"], "principal")["centre"]
            print("money over the whole horizon, kSEK (hmsim ledger for more):")
            _print_nested({k: centre[k] for k in ("revenue", "costs", "result", "settled")}, indent="  ")
    except KeyboardInterrupt:
        if holds_run(out_dir, run_id):
            print(f"hmsim run: interrupted; the run was written completely to {shown}/", file=sys.stderr)
        else:
            print(
                f"hmsim run: interrupted; nothing half-written was kept ({shown} is as it was)",
                file=sys.stderr,
            )
        return 130
    return EXIT_OK


def cmd_summary(args: argparse.Namespace) -> int:
    from sim.run_checks import OPTIONAL_SUMMARY_TABLES, SUMMARY_TABLES, check_run
    from sim.store import read_run
    from sim.summary import summarise

    output = read_run(args.run_dir)
    check_run(output, Path(args.run_dir), SUMMARY_TABLES, OPTIONAL_SUMMARY_TABLES)
    result = summarise(output, args.date_from, args.date_to, args.by)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=None, default=float, allow_nan=True))
        return EXIT_OK
    if args.by:
        for segment, metrics in result.items():
            print(f"{segment}:")
            _print_metrics(metrics)
    else:
        _print_metrics(result, indent="")
    if output.has("kpis"):
        _print_kpis_by_year(output)
    return EXIT_OK


LEDGER_KEYS = ("economics.", "responsibility.")


def _print_nested(data: dict[str, Any], scale: float = 1000.0, indent: str = "") -> None:
    """Nested amounts in kSEK (shares as fractions), one line each."""
    width = max((len(k) for k in data), default=0)
    for key, value in data.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            _print_nested(value, scale, indent + "  ")
        elif "share" in key:
            print(f"{indent}{key:<{width}}  {_z(value, 3):>14.3f}")
        else:
            print(f"{indent}{key:<{width}}  {_z(value / scale, 0):>14,.0f}".replace(",", " "))


def _check_ledger_changes(new: Any, old: Any) -> None:
    """Dated changes given to ``hmsim ledger`` may only change the economics (no new simulation)."""
    from sim.config.changes import dated_key

    def model_part(scenario: Any) -> list[tuple[Any, str, str]]:
        return sorted(
            (ch.start, key, repr(value))
            for ch in scenario.changes
            for key, value in ch.set.items()
            if (entry := dated_key(key)) is not None and entry.layer == "model"
        )

    if model_part(new) != model_part(old):
        raise HmsimError(
            "--set changes: dated changes of staff, routes or stock change the simulation; only economics.* "
            "and responsibility.* can change on a date in hmsim ledger (use hmsim run --set)"
        )


def cmd_ledger(args: argparse.Namespace) -> int:
    import pandas as pd

    from sim.config import Scenario, apply_overrides, build_scenario
    from sim.economics import compute
    from sim.economics.views import aggregate, difference, products_view
    from sim.run_checks import LEDGER_TABLES, SUMMARY_TABLES, check_run
    from sim.store import read_run

    output = read_run(args.run_dir)
    resolved = output.meta["manifest"].get("resolved_config", {})
    if not isinstance(resolved, dict):
        raise HmsimError(f"{Path(args.run_dir) / 'manifest.json'}: resolved_config must be a mapping")
    check_run(output, Path(args.run_dir), SUMMARY_TABLES if args.set else {}, LEDGER_TABLES)
    name = str(resolved.get("name", "run"))
    for text in args.set:
        if not text.startswith((*LEDGER_KEYS, "changes")):
            raise HmsimError(
                f"--set {text!r}: only economics.*, responsibility.* and dated changes of them can change "
                "the ledger of a finished run; other keys change the simulation (use hmsim run --set)"
            )
    if args.diff and not args.set:
        raise HmsimError("--diff: compares with --set overrides; give at least one --set")
    base, base_products = output.tables.get("ledger"), output.tables.get("products")
    if args.set:
        scenario = build_scenario(apply_overrides(resolved, args.set, Scenario), name)
        _check_ledger_changes(scenario, build_scenario(resolved, name))
        if scenario.economics is None:
            raise HmsimError(
                f"{args.run_dir}: the run's config has no economics section; --set economics.* "
                "cannot build one from scratch"
            )
        economy = compute(output, scenario)
        ledger, products = economy.ledger, economy.products
        if base is None or base_products is None:
            original = compute(output, build_scenario(resolved, name))
            base, base_products = original.ledger, original.products
    elif base is None or base_products is None:
        raise HmsimError(f"{args.run_dir}: no ledger.parquet; the run's config has no economics section")
    else:
        ledger, products = base, base_products

    def view_of(led: pd.DataFrame, prod: pd.DataFrame) -> dict[str, Any]:
        if args.by == "products":
            return products_view(prod, args.date_from, args.date_to)
        return aggregate(led, args.by, args.date_from, args.date_to)

    view = view_of(ledger, products)
    if args.diff:
        view = difference(view, view_of(base, base_products))
    if args.json:
        print(json.dumps(view, ensure_ascii=False))
    else:
        what = "change (with --set minus as run)" if args.diff else "values"
        print(f"ledger of {args.run_dir} by {args.by}, {what}; amounts in kSEK, shares as fractions:")
        _print_nested(view)
    return EXIT_OK


def cmd_accounts(args: argparse.Namespace) -> int:
    from sim.config import apply_overrides, load_raw, validate_model
    from sim.config.accounts import Accounts
    from sim.economics.accounts import comparison, ledgers
    from sim.output import RunOutput
    from sim.store import now_iso, write_run

    raw = apply_overrides(load_raw(args.config), args.set, Accounts)
    acc = validate_model(Accounts, raw)
    base, study = ledgers(acc)
    table = comparison(base, study)
    totals = {
        "cost_baseline": float(table["cost_baseline"].sum()),
        "cost_threshold": float(table["cost_threshold"].sum()),
        "book_value_end_baseline": base.book_value_end,
        "book_value_end_threshold": study.book_value_end,
    }
    totals["cost_plus_book_value_difference"] = (totals["cost_threshold"] + study.book_value_end) - (
        totals["cost_baseline"] + base.book_value_end
    )
    if args.out:
        out = RunOutput(
            meta={"question": acc.name, "start_year": acc.start_year, "years": acc.years},
            tables={"ledger_baseline": base.ledger, "ledger_threshold": study.ledger, "comparison": table},
        )
        write_run(
            Path(args.out),
            out,
            {
                "status": "ok",
                "kind": "accounts",
                "config_path": str(args.config),
                "overrides": list(args.set),
                "resolved_config": acc.model_dump(mode="json"),
                "totals": totals,
                "finished_at": now_iso(),
            },
        )
    if args.json:
        rows = {
            str(int(r["year"])): {k: float(v) for k, v in r.items() if k != "year"}
            for _, r in table.iterrows()
        }
        print(json.dumps({"years": rows, "totals": totals}, ensure_ascii=False))
        return EXIT_OK
    munis = [c for c in table.columns if c.startswith("settlement_") and c != "settlement_region"]
    change = f"{acc.baseline_threshold_sek:,.0f} -> {acc.threshold_sek:,.0f} SEK".replace(",", " ")
    print(f"{acc.name}: threshold {change} ({acc.method}); MSEK; settlement > 0 is repaid to the principal")
    print(f"{'year':>6} {'cost today':>11} {'cost new':>11} {'difference':>11} {'region':>9} {'municip.':>9}")

    def msek(amount: float, digits: int = 1) -> float:
        return _z(amount / 1e6, digits)

    for _, r in table.iterrows():
        print(
            f"{int(r['year']):>6} {msek(r['cost_baseline']):>11.1f} {msek(r['cost_threshold']):>11.1f} "
            f"{msek(r['cost_difference']):>11.1f} {msek(r['settlement_region']):>9.1f} "
            f"{msek(sum(r[c] for c in munis)):>9.1f}"
        )
    print(
        f"{'total':>6} {msek(totals['cost_baseline']):>11.1f} {msek(totals['cost_threshold']):>11.1f} "
        f"{msek(totals['cost_threshold'] - totals['cost_baseline']):>11.1f}"
    )
    print(
        f"book value left at the end: today {msek(base.book_value_end):.1f}, new "
        f"{msek(study.book_value_end):.1f} MSEK; cost + book value differ by "
        f"{msek(totals['cost_plus_book_value_difference'], 3):.3f} MSEK"
    )
    if args.out:
        print(f"wrote {args.out}/ (ledgers per variant, comparison, manifest.json)")
    return EXIT_OK


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a whole number >= 1")
    return int(text)


def cmd_batch(args: argparse.Namespace) -> int:
    import logging

    from sim.experiment import load_plan, run_batch

    plan = load_plan(args.experiment, args.out, args.set)
    exp = plan.experiment
    if not sys.stderr.isatty():  # no progress bar: progress lines instead (a log file, CI, nohup)
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s hmsim batch: %(message)s", datefmt="%H:%M:%S"
        )
    points = len(plan.tasks) // exp.replications
    where = f"Dask at {args.dask}" if args.dask else f"{args.workers or os.cpu_count()} local worker(s)"
    print(
        f"{exp.name}: {len(plan.tasks)} runs ({points} scenario points x {exp.replications} replications) "
        f"on {where} -> {plan.out_dir}/"
    )
    try:
        result = run_batch(plan, args.workers, args.dask, progress=True)
    except KeyboardInterrupt:
        print(
            f"hmsim batch: interrupted; finished runs are kept in {plan.out_dir}/, run the same command to "
            "resume",
            file=sys.stderr,
        )
        return 130
    print(
        f"wrote {plan.out_dir}/index.parquet: {result.ran} run, {result.skipped} already finished, "
        f"{result.failed} failed"
    )
    if result.failed:
        failed = result.index[result.index["status"] == "failed"]
        for _, row in failed.head(5).iterrows():
            print(
                f"  failed: {row['scenario']} replication {row['replication']}: {row['error']}",
                file=sys.stderr,
            )
        print(
            f"hmsim batch: {result.failed} run(s) failed; errors are in their manifest.json files",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    print(f"analyse with: hmsim analyze {plan.out_dir}")
    return EXIT_OK


def cmd_analyze(args: argparse.Namespace) -> int:
    import pandas as pd

    from sim.analysis import analyse, batch_inputs, batch_targets, format_pivot, pivot, to_frame, unit_of

    path = Path(args.results_dir) / "index.parquet"
    if not path.exists():
        raise HmsimError(
            f"{args.results_dir}: no index.parquet; not a batch results folder (run hmsim batch)"
        )
    result = analyse(
        pd.read_parquet(path),
        args.metric,
        args.baseline,
        args.precision,
        inputs=batch_inputs(args.results_dir),
    )
    targets = batch_targets(args.results_dir)
    if args.csv:
        to_frame(result).to_csv(args.csv, index=False)
    if args.json:
        metrics = {c.split(".", 1)[1] for m in result["scenarios"].values() for c in m}
        result["units"] = {m: "SEK" if unit_of(m) == "kSEK" else unit_of(m) for m in sorted(metrics)}
        result["targets"] = {m: v for m, v in targets.items() if m in metrics}
        print(json.dumps(result, ensure_ascii=False, default=float))
        return EXIT_OK
    conf = int(result["confidence"] * 100)
    lines = format_pivot(
        pivot(result, "scenarios", targets),
        f"{args.results_dir}: mean [{conf} % CI] over replications per scenario and window; money in kSEK; "
        f"replications needed for a CI of +-{args.precision:.0%} of the mean",
    )
    if result["differences"]:
        lines += format_pivot(
            pivot(result, "differences", targets),
            f"paired differences to {result['baseline']} (same replications, common random numbers):",
        )
    print("\n".join(lines))
    if args.csv:
        print(f"wrote {args.csv}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hmsim", description="Simulate regional assistive-device supply.")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def overridable(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a config value by its dotted key (repeatable)",
        )

    p = sub.add_parser("validate", help="check a scenario config and explain every error")
    p.add_argument("config")
    overridable(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("run", help="simulate one scenario and write its results")
    p.add_argument("config")
    p.add_argument("--years", type=_positive_years, help="simulated years (overrides horizon.years)")
    p.add_argument("--seed", type=_seed, help="random seed (overrides the config's seed)")
    p.add_argument(
        "--out",
        help="output folder (default results/<scenario name>, plus __key=value for each --set override)",
    )
    p.add_argument(
        "--force", action="store_true", help="replace a different run already in the output folder"
    )
    overridable(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("summary", help="volumes, levels and KPIs of a run over a window")
    p.add_argument("run_dir")
    p.add_argument("--from", dest="date_from", type=_date, help="first day of the window (YYYY-MM-DD)")
    p.add_argument("--to", dest="date_to", type=_date, help="last day of the window (YYYY-MM-DD)")
    p.add_argument("--by", choices=["municipality"], help="split by municipality")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("batch", help="run an experiment: scenarios x grid x replications, resumable")
    p.add_argument("experiment")
    p.add_argument(
        "--workers", type=_positive_int, help="local worker processes (default: the machine's cores)"
    )
    p.add_argument("--dask", metavar="ADDRESS", help="run on a Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--out", help="results folder (default results/<experiment name>)")
    overridable(p)
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("analyze", help="means, confidence intervals and paired differences of a batch")
    p.add_argument("results_dir")
    p.add_argument("--metric", action="append", help="metric (window.metric or metric; repeatable)")
    p.add_argument("--baseline", help="scenario to compare every other with, paired by replication")
    p.add_argument(
        "--precision", type=_precision, default=0.05, help="relative precision for replications needed"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--csv", help="also write the table to this CSV file")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser(
        "accounts", help="an accounting-only question over years (no simulation), e.g. a threshold"
    )
    p.add_argument("config")
    p.add_argument("--out", help="also write the ledgers and comparison to this folder")
    p.add_argument("--json", action="store_true", help="print one JSON object (amounts in SEK)")
    overridable(p)
    p.set_defaults(func=cmd_accounts)

    p = sub.add_parser(
        "ledger", help="the money of a run: revenue, costs, result and settlement per principal"
    )
    p.add_argument("run_dir")
    p.add_argument(
        "--by",
        choices=["principal", "account", "year", "municipality", "products"],
        default="principal",
        help="how to sum (products: yearly 0-price share and product result)",
    )
    p.add_argument("--from", dest="date_from", type=_date, help="first month of the window (YYYY-MM-DD)")
    p.add_argument("--to", dest="date_to", type=_date, help="last month of the window (YYYY-MM-DD)")
    p.add_argument("--json", action="store_true", help="print one JSON object (amounts in SEK)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="recompute with economics.* or responsibility.* overrides (no new simulation)",
    )
    p.add_argument("--diff", action="store_true", help="show the change the --set overrides make")
    p.set_defaults(func=cmd_ledger)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub, overridable)
    return parser


# Commands that live in their own module: each has ``register(sub, overridable)`` adding its subparser(s)
# with ``set_defaults(func=...)``; the handler returns an exit status and raises HmsimError for bad input.
COMMAND_MODULES: tuple[str, ...] = (
    "sim.cli_population",
    "sim.commands.calibrate",
    "sim.commands.compare",
    "sim.commands.optimise",
    "sim.commands.sensitivity",
    "sim.report.cli",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except HmsimError as exc:
        for problem in exc.problems:
            print(f"hmsim {args.command}: {problem}", file=sys.stderr)
        return EXIT_USER
    except BrokenPipeError:  # output piped into a command that stopped reading (e.g. head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print(f"hmsim {args.command}: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    except Exception as exc:  # an internal error: one line unless --debug
        if args.debug:
            raise
        print(
            f"hmsim {args.command}: internal error: {type(exc).__name__}: {exc} (rerun with --debug for "
            "details)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
