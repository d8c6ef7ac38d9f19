"""Run one task of a batch (in a worker process or on a Dask worker) and return its small summary row.

The run folder is written atomically, with the summary metrics in its manifest; a failing run writes a
manifest with ``"status": "failed"`` and the error instead, and never raises, so one failure does not stop
the batch. Only the row travels back to the batch process, so memory stays bounded however many runs.

A task holds its run folder's lock (sim.store.target_lock) from the check "already finished?" to the
end of its write, so a resumed batch never re-runs or overwrites a run that a worker of a killed batch
is still writing: it waits for that worker and then finds the run finished. Local workers end themselves
when the batch process is gone (:func:`watch_parent`), so such a wait is short.
"""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from sim.experiment.plan import LEDGER_METRICS, Task
from sim.output import RunOutput
from sim.store import (
    MANIFEST,
    RUN_FORMAT,
    git_revision,
    now_iso,
    package_versions,
    read_marker,
    target_lock,
    write_run,
)

LOCK_WAIT_SECONDS = 3600.0  # for a worker of a killed batch to finish the same run


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, killed but not yet reaped, counts as gone)."""
    stat = Path(f"/proc/{pid}/stat")
    if stat.parent.parent.is_dir() and Path("/proc/self").exists():
        try:
            state = stat.read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def watch_parent(main_pid: int, interval: float = 0.2) -> None:
    """Pool initializer: end this worker process at once when the batch process ``main_pid`` is gone
    (or the process that started this one, e.g. the forkserver, has ended). A run it was writing is
    left as a staging folder that the next write of that run removes."""
    parent = os.getppid()

    def loop() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent or not _alive(main_pid):
                os._exit(70)

    threading.Thread(target=loop, name="hmsim-watch-parent", daemon=True).start()


def finished_row(task: Task) -> dict[str, Any] | None:
    """The stored row of ``task`` if its run folder holds a finished run of exactly this task."""
    folder = Path(task.out_dir)
    marker = read_marker(folder)
    if marker is None or marker["format"] != RUN_FORMAT:
        return None
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if (
        not isinstance(manifest, dict)
        or manifest.get("status") != "ok"
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


def summary_row(task: Task, output: RunOutput) -> dict[str, float]:
    """The task's metrics over its windows, as ``{"<window>.<metric>": value}``."""
    from sim.economics.views import aggregate
    from sim.summary import summarise

    row: dict[str, float] = {}
    for name, start, end in task.windows:
        metrics = summarise(output, start, end)
        if output.has("ledger"):
            view = aggregate(output["ledger"], "principal", start, end)
            centre = view.pop("centre")
            metrics.update(
                ledger_revenue=centre["revenue"],
                ledger_costs=centre["costs"],
                ledger_result=centre["result"],
                ledger_settled=centre["settled"],
                ledger_region_net_cost=view.get("region", {}).get("net_cost", 0.0),
                ledger_municipalities_net_cost=sum(
                    v["net_cost"] for k, v in view.items() if k != "region" and "net_cost" in v
                ),  # operators (a federation, company, contractor) have no net cost
            )
        for metric in task.metrics:
            if metric in metrics:
                row[f"{name}.{metric}"] = float(metrics[metric])
            elif metric in LEDGER_METRICS:
                continue  # no economics section: no ledger metrics
    return row


def run_task(task: Task) -> dict[str, Any]:
    """Simulate ``task``, write its run folder, return ``{"index", "status", "wall_seconds", ...metrics}``.

    Holds the run folder's lock throughout; a run found finished once the lock is held is not run again.
    """
    try:
        with target_lock(Path(task.out_dir), wait=LOCK_WAIT_SECONDS):
            done = finished_row(task)
            return done if done is not None else _run_locked(task)
    except Exception as exc:  # the lock itself (e.g. held by a stuck process): a failed row, no raise
        error = f"{type(exc).__name__}: {exc}"
        return {"index": task.index, "status": "failed", "wall_seconds": 0.0, "error": error}


def _run_locked(task: Task) -> dict[str, Any]:
    from sim.config.schema import Scenario
    from sim.runner import simulate

    started_at, started = now_iso(), time.perf_counter()
    head: dict[str, Any] = {
        "experiment": task.experiment,
        "scenario": task.label,
        "scenario_name": task.scenario,
        "grid": dict(task.grid),
        "replication": task.replication,
        "seed": task.seed,
        "config_hash": task.config_hash,
        "started_at": started_at,
    }
    try:
        scenario = Scenario.model_validate(task.config)
        output = simulate(scenario, task.seed)
        row = summary_row(task, output)
        wall = round(time.perf_counter() - started, 3)
        manifest = {
            "status": "ok",
            **head,
            "finished_at": now_iso(),
            "wall_seconds": wall,
            "summary": row,
            "versions": package_versions(),
            "git": git_revision(),
            "resolved_config": task.config,
        }
        write_run(Path(task.out_dir), output, manifest, tables=list(task.keep_tables))
        return {"index": task.index, "status": "ok", "wall_seconds": wall, "error": "", **row}
    except Exception as exc:  # recorded in the run's manifest; the batch goes on
        wall = round(time.perf_counter() - started, 3)
        error = f"{type(exc).__name__}: {exc}"
        manifest = {
            "status": "failed",
            **head,
            "finished_at": now_iso(),
            "wall_seconds": wall,
            "error": error,
            "traceback": traceback.format_exc(),
            "resolved_config": task.config,
        }
        try:
            write_run(Path(task.out_dir), RunOutput(meta={}), manifest)
        except Exception as write_error:  # report, do not crash the batch
            error += f" (and the failure manifest could not be written: {write_error})"
        return {"index": task.index, "status": "failed", "wall_seconds": wall, "error": error}
