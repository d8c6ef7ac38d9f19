"""Run a batch: skip finished runs, execute the rest locally or on Dask, write the index.

Every task is independent. Locally a pool of worker processes runs them (forked from a server that has
imported the model already, or spawned where there is none); with a Dask scheduler
address the same tasks go to the cluster. At most two tasks per worker are in flight, so the batch process
holds only small summary rows, however many runs. A run folder whose manifest says ``ok`` for the same
config hash and seed is finished and skipped, so running the command again resumes a killed batch and
changes nothing in a finished one; staging folders left by a killed batch are removed first. The index
(``index.parquet``, one row per run in task order) is rewritten atomically at the end, and on interrupt.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import HmsimError
from sim.experiment.plan import Plan, Task
from sim.experiment.worker import run_task
from sim.store import MANIFEST, now_iso, write_json_atomic

INDEX = "index.parquet"


@dataclass
class BatchResult:
    index: pd.DataFrame
    ran: int
    skipped: int
    failed: int


def finished_row(task: Task) -> dict[str, Any] | None:
    """The stored row of ``task`` if its run folder holds a finished run of exactly this task."""
    path = Path(task.out_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if (
        manifest.get("status") != "ok"
        or manifest.get("config_hash") != task.config_hash
        or manifest.get("seed") != task.seed
    ):
        return None
    return {
        "index": task.index,
        "status": "ok",
        "wall_seconds": manifest.get("wall_seconds", 0.0),
        "error": "",
        **manifest.get("summary", {}),
    }


def clean_staging(folder: Path) -> int:
    """Remove staging folders of interrupted writes below ``folder`` (they never look finished)."""
    removed = 0
    for stage in list(folder.rglob(".*.partial-*")) + list(folder.rglob(".*.old-*")):
        if stage.is_dir():
            shutil.rmtree(stage, ignore_errors=True)
            removed += 1
        elif stage.is_file():
            stage.unlink(missing_ok=True)
    return removed


PRELOAD = ["sim.experiment.worker", "sim.model", "sim.economics", "sim.summary"]


def _context() -> multiprocessing.context.BaseContext:
    """Workers fork from a server that has already imported the model (fast start, no fork of a threaded
    parent); where there is no forkserver (Windows, some macOS setups), fresh ``spawn`` processes."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def _local(tasks: list[Task], workers: int) -> Iterator[dict[str, Any]]:
    context = _context()
    queue = iter(tasks)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: dict[Future[dict[str, Any]], Task] = {}

        def submit() -> None:
            task = next(queue, None)
            if task is not None:
                pending[pool.submit(run_task, task)] = task

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


def _dask(tasks: list[Task], address: str) -> Iterator[dict[str, Any]]:
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
            client.submit(run_task, t, pure=False)
            for t in [next(queue, None) for _ in range(2 * workers)]
            if t is not None
        ]
        pending = as_completed(first)
        for future in pending:
            yield future.result()
            task = next(queue, None)
            if task is not None:
                pending.add(client.submit(run_task, task, pure=False))
    finally:
        client.close()


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


def run_batch(
    plan: Plan, workers: int | None = None, dask: str | None = None, progress: bool = True
) -> BatchResult:
    """Run every unfinished task of ``plan``; return the index and counts."""
    from tqdm import tqdm

    plan.out_dir.mkdir(parents=True, exist_ok=True)
    clean_staging(plan.out_dir)
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
    results = _dask(todo, dask) if dask else _local(todo, n_workers)
    bar = tqdm(
        total=len(plan.tasks),
        initial=skipped,
        unit="run",
        disable=None if progress else True,  # no bar when stderr is not a terminal
        leave=False,
        desc=plan.experiment.name,
    )
    failed = 0
    try:
        for result in results:
            rows[result["index"]] = result
            failed += result["status"] != "ok"
            bar.update(1)
            bar.set_postfix(failed=failed)
    finally:
        bar.close()
        index = write_index(plan, rows)
    return BatchResult(index=index, ran=len(todo), skipped=skipped, failed=failed)
