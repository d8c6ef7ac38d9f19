"""Plan a batch: read an experiment file and build every (scenario x grid point x replication) task.

Every scenario x grid point is resolved and validated before any run starts (one line per problem, the
scenario named). Replication ``r`` gets the seed ``SeedSequence([master seed, r])`` in every scenario:
common random numbers, so scenario differences are paired. A task carries its fully resolved config and
that config's hash, so a re-run can tell a finished run of the same task from a stale one.

The results folder is made absolute here, before any task exists, so every executor (local processes or
Dask workers with another working directory) writes to the same place; each run folder
``<out>/<label>/<replication>`` is checked to stay inside it, and every label is a safe folder name.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from sim.config import build_scenario, load_raw, scenario_dict, scenario_hash
from sim.config.experiment import Experiment
from sim.config.loader import apply_overrides, read_yaml, set_value, validate_model
from sim.config.schema import Scenario
from sim.errors import ConfigError, HmsimError
from sim.model.engine import horizon_days
from sim.names import NAME_RULE, is_folder_name
from sim.output import TABLES
from sim.store import inside, out_path
from sim.summary import METRICS

LEDGER_METRICS = (
    "ledger_revenue", "ledger_costs", "ledger_result", "ledger_settled", "ledger_region_net_cost",
    "ledger_municipalities_net_cost",
)  # fmt: skip
ECONOMY_TABLES = ("ledger", "products", "staff_costs", "assets")


@dataclass(frozen=True)
class Task:
    """One run of a batch: what to simulate, with which seed, where to write it."""

    index: int
    label: str
    scenario: str
    grid: tuple[tuple[str, Any], ...]
    replication: int
    seed: int
    config: dict[str, Any] = field(repr=False, compare=False)
    config_hash: str
    out_dir: str
    windows: tuple[tuple[str, date | None, date | None], ...]
    metrics: tuple[str, ...]
    keep_tables: tuple[str, ...]
    experiment: str


@dataclass
class Plan:
    experiment: Experiment
    path: Path
    out_dir: Path
    tasks: list[Task]


def replication_seed(master: int, replication: int) -> int:
    """The seed of replication ``replication`` (the same in every scenario of the batch)."""
    return int(np.random.SeedSequence([master, replication]).generate_state(1, dtype=np.uint32)[0])


def _safe(text: str) -> str:
    return re.sub(r"[^\w.=+-]", "_", text)


def _short_keys(keys: list[str]) -> dict[str, str]:
    """The shortest dotted suffix of each grid key that is unique among them (for folder names)."""
    out: dict[str, str] = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            suffix = ".".join(parts[-n:])
            if sum(1 for k in keys if k.split(".")[-n:] == parts[-n:]) == 1:
                out[key] = suffix
                break
        else:
            out[key] = key
    return out


def _windows(exp: Experiment, scenario: Scenario) -> tuple[tuple[str, date | None, date | None], ...]:
    if exp.windows == "all":
        return (("all", None, None),)
    if exp.windows == "yearly":
        start = scenario.horizon.start_date
        days = horizon_days(start, scenario.horizon.years)
        last = date.fromordinal(start.toordinal() + days - 1)
        out = []
        for year in range(start.year, last.year + 1):
            out.append((str(year), max(start, date(year, 1, 1)), min(last, date(year, 12, 31))))
        return tuple(out)
    return tuple((w.name, w.start, w.end) for w in exp.windows)


def load_plan(
    path: str | Path, out: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> Plan:
    """Read, override and validate an experiment file; resolve every task."""
    path = Path(path).resolve()
    raw = apply_overrides(read_yaml(path), overrides, Experiment)
    exp = validate_model(Experiment, raw)
    problems = [
        f"metrics: {m!r}: unknown; valid: {', '.join([*METRICS, *LEDGER_METRICS])}"
        for m in exp.metrics
        if m not in (*METRICS, *LEDGER_METRICS)
    ]
    problems += [
        f"keep_tables: {t!r}: unknown; valid: {', '.join([*TABLES, *ECONOMY_TABLES])}"
        for t in exp.keep_tables
        if t not in (*TABLES, *ECONOMY_TABLES)
    ]
    if problems:
        raise ConfigError(problems)
    try:
        base = load_raw(path.parent / exp.base)
    except ConfigError as exc:
        raise ConfigError([f"base: {p}" for p in exc.problems]) from None
    if exp.years is not None:
        base.setdefault("horizon", {})["years"] = exp.years
    try:
        out_dir = out_path(out).resolve() if out else (Path("results") / exp.name).resolve()
    except HmsimError as exc:
        raise ConfigError(exc.problems) from None
    short = _short_keys(list(exp.grid))
    combos = list(itertools.product(*exp.grid.values())) if exp.grid else [()]
    metrics = tuple(exp.metrics) or (*METRICS, *LEDGER_METRICS)
    tasks: list[Task] = []
    errors: list[str] = []
    for name, settings in exp.scenarios.items():
        for combo in combos:
            grid = tuple(zip(exp.grid, combo, strict=True))
            label = _safe("__".join([name, *[f"{short[k]}={v}" for k, v in grid]]))
            if not is_folder_name(label):
                errors.append(f"scenario {label}: the run folder name must be {NAME_RULE}")
                continue
            data = base
            try:
                data = _overridden(base, [*settings.items(), *grid], f"scenarios.{name}")
                scenario = build_scenario(data, default_name=name)
            except ConfigError as exc:
                errors += [f"scenario {label}: {p}" for p in exc.problems]
                continue
            config = scenario_dict(scenario)
            digest = scenario_hash(scenario)
            windows = _windows(exp, scenario)
            for r in range(exp.replications):
                tasks.append(
                    Task(
                        index=len(tasks),
                        label=label,
                        scenario=name,
                        grid=grid,
                        replication=r,
                        seed=replication_seed(exp.seed, r),
                        config=config,
                        config_hash=digest,
                        out_dir=_run_dir(out_dir, label, r),
                        windows=windows,
                        metrics=metrics,
                        keep_tables=tuple(exp.keep_tables),
                        experiment=exp.name,
                    )
                )
    if errors:
        raise ConfigError(errors)
    return Plan(experiment=exp, path=path, out_dir=out_dir, tasks=tasks)


def _run_dir(out_dir: Path, label: str, replication: int) -> str:
    try:
        return str(inside(out_dir, out_dir / label / str(replication), f"scenario {label}"))
    except HmsimError as exc:
        raise ConfigError(exc.problems) from None


def _overridden(base: dict[str, Any], pairs: list[tuple[str, Any]], label: str) -> dict[str, Any]:
    """``base`` with each (dotted.key, value) set; a mapping value merges into a mapping already there
    (as ``extends`` does), so ``economics: {costs: {...}}`` changes only what it names."""
    data = copy.deepcopy(base)
    for key, value in pairs:
        if not key or any(not part for part in key.split(".")):
            raise ConfigError(f"{label}: {key!r}: must be a dotted.key")
        set_value(data, key.split("."), value, f"{label}: {key}", Scenario, merge=True)
    return data


def _lookup(data: Any, keys: list[str]) -> Any:
    """The value at ``keys`` in nested mappings, or None where the path does not exist."""
    for key in keys:
        if not isinstance(data, Mapping) or key not in data:
            return None
        data = data[key]
    return data
