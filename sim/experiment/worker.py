"""Run one task of a batch (in a worker process or on a Dask worker) and return its small summary row.

The run folder is written atomically, with the summary metrics in its manifest; a failing run writes a
manifest with ``"status": "failed"`` and the error instead, and never raises, so one failure does not stop
the batch. Only the row travels back to the batch process, so memory stays bounded however many runs.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

from sim.experiment.plan import LEDGER_METRICS, Task
from sim.output import RunOutput
from sim.store import git_revision, now_iso, package_versions, write_run


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
                ledger_municipalities_net_cost=sum(v["net_cost"] for k, v in view.items() if k != "region"),
            )
        for metric in task.metrics:
            if metric in metrics:
                row[f"{name}.{metric}"] = float(metrics[metric])
            elif metric in LEDGER_METRICS:
                continue  # no economics section: no ledger metrics
    return row


def run_task(task: Task) -> dict[str, Any]:
    """Simulate ``task``, write its run folder, return ``{"index", "status", "wall_seconds", ...metrics}``."""
    from sim.config.schema import Scenario
    from sim.economics import compute
    from sim.model import run

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
        output = run(scenario, task.seed)
        if scenario.economics is not None:
            economy = compute(output, scenario)
            output.tables.update(
                ledger=economy.ledger,
                products=economy.products,
                staff_costs=economy.staff,
                assets=economy.assets,
            )
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
