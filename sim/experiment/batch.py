"""Run a batch: skip finished runs, execute the rest locally or on Dask, write the index.

Every task is independent. Locally a pool of worker processes runs them (forked from a server that has
imported the model already, or spawned where there is none); with a Dask scheduler
address the same tasks go to the cluster. At most two tasks per worker are in flight, so the batch process
holds only small summary rows, however many runs. A run folder whose manifest says ``ok`` for the same
config hash and seed is finished and skipped, so running the command again resumes a killed batch and
changes nothing in a finished one. The index (``index.parquet``, one row per run in task order) is
rewritten atomically at the end, and on interrupt.

What a batch may touch (sim.store): its results folder must be new, empty, or a batch folder hmsim wrote
(marker ``.hmsim`` of format ``hmsim-batch``); the batch holds that folder's lock, so two batches never
write into one folder. Leftovers of killed writes are cleaned only for the batch's own run folders, and
only those whose lock nobody holds (a worker of a killed batch that is still writing keeps its own).
Local workers end when the batch process dies (sim.experiment.worker.watch_parent).

Progress: a tqdm bar on a terminal; otherwise (a log file, a pipe, CI) a log line (stdlib logging,
logger ``sim.experiment``) at every tenth of the runs and at least once a minute.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import HmsimError
from sim.experiment.plan import Plan, Task
from sim.experiment.worker import finished_row, run_task, watch_parent
from sim.store import (
    BATCH_FORMAT,
    MARKER,
    check_target,
    clean_leftovers,
    clean_partial_files,
    now_iso,
    target_lock,
    write_json_atomic,
    write_marker,
)

INDEX = "index.parquet"
log = logging.getLogger("sim.experiment")
LOG_EVERY_SECONDS = 60.0


@dataclass
class BatchResult:
    index: pd.DataFrame
    ran: int
    skipped: int
    failed: int


def clean_staging(plan: Plan) -> int:
    """Remove what killed writes of this batch left: temporaries of its own files, and the staging and
    backup folders of its run folders that no live process is writing (caller holds the batch lock)."""
    removed = clean_partial_files(plan.out_dir, (INDEX, "experiment.json", MARKER))
    for task in plan.tasks:
        try:
            with target_lock(Path(task.out_dir)):
                removed += clean_leftovers(Path(task.out_dir))
        except HmsimError:  # a worker of a killed batch still writes it; its run_task will wait for it
            continue
    return removed


# What the forkserver imports once, before it forks the workers: the model and everything a run's first task
# would otherwise import in each worker (measured 2026-11-24: with only the first four, a worker's first
# one-year tiny run took 0.11 s longer than its second, importing the holidays library's country tables,
# pyarrow's Parquet writer and the model's warm start, dated changes and invariants lazily).
PRELOAD = [
    "sim.experiment.worker",
    "sim.model",
    "sim.model.changes",
    "sim.model.invariants",
    "sim.model.warmstart",
    "sim.economics",
    "sim.economics.views",
    "sim.summary",
    "sim.runner",
    "pyarrow.parquet",
    "holidays.countries",
]


def _context() -> multiprocessing.context.BaseContext:
    """Workers fork from a server that has already imported the model (fast start, no fork of a threaded
    parent); where there is no forkserver (Windows, some macOS setups), fresh ``spawn`` processes."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


TaskFn = Callable[[Any], dict[str, Any]]


def _local(tasks: list[Any], workers: int, fn: TaskFn = run_task) -> Iterator[dict[str, Any]]:
    context = _context()
    queue = iter(tasks)
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=watch_parent, initargs=(os.getpid(),)
    ) as pool:
        pending: dict[Future[dict[str, Any]], Any] = {}

        def submit() -> None:
            task = next(queue, None)
            if task is not None:
                pending[pool.submit(fn, task)] = task

        for _ in range(2 * workers):
            submit()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                task = pending.pop(future)
                try:
                    yield future.result()
                except Exception as exc:  # the worker process itself died
                    yield {
                        "index": task.index,
                        "status": "failed",
                        "wall_seconds": 0.0,
                        "error": f"worker died: {type(exc).__name__}: {exc}",
                    }
                submit()


def _dask(tasks: list[Any], address: str, fn: TaskFn = run_task) -> Iterator[dict[str, Any]]:
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise HmsimError("--dask: Dask is not installed; install it with pip install -e '.[dask]'") from None
    try:
        client = Client(address, timeout="20s")
    except OSError as exc:
        raise HmsimError(f"--dask {address}: cannot reach the scheduler ({exc})") from None
    try:
        workers = max(len(client.scheduler_info().get("workers", {})), 1)
        queue = iter(tasks)
        first = [
            client.submit(fn, t, pure=False)
            for t in [next(queue, None) for _ in range(2 * workers)]
            if t is not None
        ]
        pending = as_completed(first)
        for future in pending:
            yield future.result()
            task = next(queue, None)
            if task is not None:
                pending.add(client.submit(fn, task, pure=False))
    finally:
        client.close()


def map_tasks(
    fn: TaskFn, tasks: list[Any], workers: int | None = None, dask: str | None = None
) -> Iterator[dict[str, Any]]:
    """Run ``fn(task)`` for every task on the batch executors (local worker processes, or Dask when an
    address is given), yielding each result as it finishes. ``fn`` must be a module-level function (it is
    pickled) returning a small dict with at least ``index`` and ``status``; a worker that dies yields
    ``status: failed``. Used by ``hmsim batch`` and by the calibrate, sensitivity and optimise commands."""
    if dask:
        return _dask(tasks, dask, fn)
    return _local(tasks, workers or os.cpu_count() or 1, fn)


def write_index(plan: Plan, rows: dict[int, dict[str, Any]]) -> pd.DataFrame:
    """The batch index (one row per task, in task order), written atomically."""
    records = []
    grid_keys = list(plan.experiment.grid)
    for task in plan.tasks:
        row = rows.get(task.index, {"status": "not run", "wall_seconds": float("nan"), "error": ""})
        grid = dict(task.grid)
        records.append(
            {
                "scenario": task.label,
                "scenario_name": task.scenario,
                **{k: grid[k] for k in grid_keys},
                "replication": task.replication,
                "seed": task.seed,
                "status": row["status"],
                "wall_seconds": row["wall_seconds"],
                "error": row.get("error", ""),
                **{k: v for k, v in row.items() if k not in ("index", "status", "wall_seconds", "error")},
            }
        )
    index = pd.DataFrame.from_records(records)
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{INDEX}.", suffix=".partial", dir=plan.out_dir)
    os.close(fd)
    try:
        index.to_parquet(tmp, index=False)
        os.replace(tmp, plan.out_dir / INDEX)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return index


class _ProgressLog:
    """Log lines for a batch without a terminal: at each tenth of the runs and at least once a minute."""

    def __init__(self, name: str, total: int, skipped: int, enabled: bool) -> None:
        self.name, self.total, self.done, self.enabled = name, total, skipped, enabled
        self.started = self.last = time.monotonic()
        self.ran = 0
        self.next_tenth = (10 * skipped // max(total, 1) + 1) if total else 11
        if enabled:
            log.info("%s: %d runs, %d already finished, %d to run", name, total, skipped, total - skipped)

    def update(self, failed: int) -> None:
        self.done += 1
        self.ran += 1
        now = time.monotonic()
        tenth = 10 * self.done // self.total
        if not self.enabled or (tenth < self.next_tenth and now - self.last < LOG_EVERY_SECONDS):
            return
        self.next_tenth, self.last = tenth + 1, now
        elapsed = now - self.started
        left = elapsed / self.ran * (self.total - self.done)
        log.info(
            "%s: %d/%d runs finished (%d failed), %.1f min elapsed, about %.1f min left",
            self.name,
            self.done,
            self.total,
            failed,
            elapsed / 60,
            left / 60,
        )


def available_memory_mb() -> float | None:
    """Memory available to new processes (MemAvailable on Linux; None where it cannot be read)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (ValueError, OSError, AttributeError):
        return None


def fit_workers(tasks: list[Task], workers: int, available_mb: float | None) -> int:
    """``workers``, lowered (with a warning) so that that many of the largest runs fit in ``available_mb``.

    Each run's peak memory is estimated from its config (:func:`sim.config.workload.estimate_memory_mb`);
    9/10 of the available memory is used, the rest left to the batch process and the system. When even one
    run does not fit, one worker runs them and the warning says so."""
    from sim.config.schema import Scenario
    from sim.config.workload import estimate_memory_mb

    if available_mb is None or workers <= 1:
        return workers
    largest = max(estimate_memory_mb(Scenario.model_validate(t.config)) for t in tasks)
    budget = 0.9 * available_mb
    fit = max(int(budget // largest), 1)
    if fit >= workers:
        return workers
    more = " (even one run may not fit)" if largest > budget else ""
    log.warning(
        "hmsim batch: the largest run needs about %.0f MB; %d workers would need %.0f MB of the %.0f MB "
        "available: running %d worker(s)%s",
        largest,
        workers,
        workers * largest,
        available_mb,
        fit,
        more,
    )
    return fit


def run_batch(
    plan: Plan, workers: int | None = None, dask: str | None = None, progress: bool = True
) -> BatchResult:
    """Run every unfinished task of ``plan``; return the index and counts.

    ``progress``: a bar on a terminal, log lines (logger ``sim.experiment``) otherwise; False for neither.
    """
    check_target(plan.out_dir, BATCH_FORMAT)
    plan.out_dir.parent.mkdir(parents=True, exist_ok=True)
    with target_lock(plan.out_dir):
        check_target(plan.out_dir, BATCH_FORMAT)
        plan.out_dir.mkdir(exist_ok=True)
        write_marker(plan.out_dir, BATCH_FORMAT)
        return _run_locked(plan, workers, dask, progress)


def _run_locked(plan: Plan, workers: int | None, dask: str | None, progress: bool) -> BatchResult:
    from tqdm import tqdm

    clean_staging(plan)
    write_json_atomic(
        plan.out_dir / "experiment.json",
        {
            "experiment": plan.experiment.model_dump(mode="json"),
            "path": str(plan.path),
            "written_at": now_iso(),
            "tasks": [
                {
                    "scenario": t.label,
                    "replication": t.replication,
                    "seed": t.seed,
                    "config_hash": t.config_hash,
                    "out_dir": t.out_dir,
                }
                for t in plan.tasks
            ],
        },
    )
    rows: dict[int, dict[str, Any]] = {}
    todo: list[Task] = []
    for task in plan.tasks:
        row = finished_row(task)
        if row is None:
            todo.append(task)
        else:
            rows[task.index] = row
    skipped = len(rows)
    n_workers = workers or os.cpu_count() or 1
    if not dask and todo:
        n_workers = fit_workers(todo, n_workers, available_memory_mb())
    results = _dask(todo, dask) if dask else _local(todo, n_workers)
    terminal = sys.stderr.isatty()
    bar = tqdm(
        total=len(plan.tasks),
        initial=skipped,
        unit="run",
        disable=not (progress and terminal),
        leave=False,
        desc=plan.experiment.name,
    )
    lines = _ProgressLog(plan.experiment.name, len(plan.tasks), skipped, progress and not terminal)
    failed = 0
    try:
        for result in results:
            rows[result["index"]] = result
            failed += result["status"] != "ok"
            bar.update(1)
            bar.set_postfix(failed=failed)
            lines.update(failed)
    finally:
        bar.close()
        index = write_index(plan, rows)
    return BatchResult(index=index, ran=len(todo), skipped=skipped, failed=failed)
