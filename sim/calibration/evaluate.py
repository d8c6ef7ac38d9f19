"""Evaluate points of a search: (config settings) x replications -> measures, cached on disk, on the batch
executors.

A point is a list of ``(dotted.key, value)`` settings on the base config. Replication ``r`` of every point
runs with the same seed (``replication_seed(master, r)``, as in ``hmsim batch``): common random numbers, so
two points differ by their parameters and not by their random draws, and a deterministic optimiser sees a
deterministic function of the parameters. Each (resolved config, seed, measures) is one task; its result is
written atomically to ``<cache>/<key>.json`` the moment it finishes, so a killed search re-run with the same
spec finds every finished evaluation and repeats only the unfinished ones. The key also holds a hash of the
``sim`` package's source (:func:`code_hash`), so evaluations cached by other model or accounting code are
never reused: after a rebase or a model change a search starts afresh. Tasks run on the executors of
:func:`sim.experiment.batch.map_tasks` (local worker processes, or Dask), or in this process with one worker.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from sim.calibration.measures import Measure
from sim.config import build_scenario, scenario_dict, scenario_hash
from sim.config.loader import set_value
from sim.errors import ConfigError, HmsimError
from sim.experiment.plan import replication_seed
from sim.store import write_json_atomic

Settings = Sequence[tuple[str, Any]]


@cache
def code_hash() -> str:
    """A hash of every source file of the ``sim`` package (path and bytes): the code an evaluation ran."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class EvalTask:
    index: int
    config: dict[str, Any] = field(repr=False)
    seed: int
    measures: dict[str, dict[str, Any]] = field(repr=False)
    cache_path: str
    settings: tuple[tuple[str, Any], ...] = ()


def evaluate_task(task: EvalTask) -> dict[str, Any]:
    """Run one task (in a worker), write its cache file, return ``{"index", "status", "values"}``."""
    from sim.calibration.measures import Context, compute_measure
    from sim.config.schema import Scenario
    from sim.model import run

    started = time.perf_counter()
    try:
        scenario = Scenario.model_validate(task.config)
        output = run(scenario, task.seed)
        measures = {k: Measure.model_validate(v) for k, v in task.measures.items()}
        ledger = products = None
        groups: dict[str, list[str]] = {}
        if any(m.needs_ledger() for m in measures.values()) and scenario.economics is not None:
            from sim.economics import compute

            economy = compute(output, scenario)
            ledger, products = economy.ledger, economy.products
            groups = dict(scenario.economics.reporting_groups)
        ctx = Context(output, ledger, groups, products)
        values = {name: float(compute_measure(m, ctx)) for name, m in measures.items()}
    except Exception as exc:  # reported to the search, which stops with the message
        return {"index": task.index, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    wall = round(time.perf_counter() - started, 3)
    record = {
        "status": "ok",
        "seed": task.seed,
        "settings": [list(kv) for kv in task.settings],
        "values": values,
        "wall_seconds": wall,
    }
    write_json_atomic(Path(task.cache_path), record)
    return {"index": task.index, "status": "ok", "values": values, "wall_seconds": wall}


class Evaluator:
    """Evaluate points (settings on ``base``) over ``replications`` with common random numbers."""

    def __init__(
        self,
        base: dict[str, Any],
        measures: dict[str, Measure],
        replications: int,
        seed: int,
        cache_dir: Path,
        workers: int | None = None,
        dask: str | None = None,
        label: str = "point",
    ) -> None:
        self.base = base
        self.measures = measures
        self.names = list(measures)
        self.seeds = [replication_seed(seed, r) for r in range(replications)]
        self.cache_dir = cache_dir
        self.workers = workers
        self.dask = dask
        self.label = label
        self.runs = 0
        self.cached = 0
        self.wall = 0.0
        self._measures_json = {k: m.model_dump(mode="json") for k, m in measures.items()}
        self._measures_hash = hashlib.sha256(
            json.dumps(self._measures_json, sort_keys=True).encode()
        ).hexdigest()[:16]

    def config(self, settings: Settings) -> tuple[dict[str, Any], str]:
        """The resolved config of a point and its hash (ConfigError names the settings)."""
        data = copy.deepcopy(self.base)
        for key, value in settings:
            set_value(data, key.split("."), value, f"{self.label} {key}")
        try:
            scenario = build_scenario(data, str(data.get("name", "search")))
        except ConfigError as exc:
            raise ConfigError([f"{self.label}: {p}" for p in exc.problems]) from None
        # the full resolved config (every default frozen in); the worker validates it again
        return scenario_dict(scenario), scenario_hash(scenario)

    def _key(self, config_hash: str, seed: int) -> str:
        text = f"{config_hash}:{seed}:{self._measures_hash}:{code_hash()}"
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def evaluate(self, points: Sequence[Settings], seeds: Sequence[int] | None = None) -> list[np.ndarray]:
        """For each point an array (replications x measures) of values, in ``self.names`` order."""
        seeds = list(seeds) if seeds is not None else self.seeds
        results: dict[tuple[int, int], dict[str, float]] = {}
        tasks: list[EvalTask] = []
        where: dict[int, tuple[int, int]] = {}
        for p, settings in enumerate(points):
            config, digest = self.config(settings)
            for r, seed in enumerate(seeds):
                path = self.cache_dir / f"{self._key(digest, seed)}.json"
                cached = _read_cache(path)
                if cached is not None:
                    results[(p, r)] = cached
                    self.cached += 1
                    continue
                index = len(tasks)
                where[index] = (p, r)
                tasks.append(
                    EvalTask(
                        index=index,
                        config=config,
                        seed=seed,
                        measures=self._measures_json,
                        cache_path=str(path),
                        settings=tuple((k, v) for k, v in settings),
                    )
                )
        if tasks:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            for row in self._run(tasks):
                if row["status"] != "ok":
                    p, r = where[row["index"]]
                    raise HmsimError(
                        f"{self.label} {p} replication {r}: the simulation failed: {row.get('error', '?')}"
                    )
                results[where[row["index"]]] = row["values"]
            self.runs += len(tasks)
            self.wall += time.perf_counter() - started
        out = []
        for p in range(len(points)):
            out.append(
                np.array(
                    [[results[(p, r)].get(n, np.nan) for n in self.names] for r in range(len(seeds))],
                    dtype=float,
                )
            )
        return out

    def _run(self, tasks: list[EvalTask]) -> Any:
        if self.dask is None and (self.workers == 1 or len(tasks) == 1):
            return (evaluate_task(t) for t in tasks)
        from sim.experiment.batch import map_tasks

        return map_tasks(evaluate_task, tasks, self.workers, self.dask)


def _read_cache(path: Path) -> dict[str, float] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if record.get("status") != "ok":
        return None
    return {k: float(v) for k, v in record["values"].items()}
