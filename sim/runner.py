"""Execute one scenario with one seed and store it: the unit of work of ``hmsim run`` and of batches."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sim.config import scenario_dict, scenario_hash
from sim.config.schema import Scenario
from sim.model import run
from sim.output import RunOutput
from sim.store import git_revision, now_iso, package_versions, write_run


def execute(
    scenario: Scenario,
    seed: int,
    out_dir: Path,
    progress: Callable[[int], None] | None = None,
    config_path: str | None = None,
    overrides: Sequence[str] = (),
    extra: dict[str, Any] | None = None,
) -> RunOutput:
    """Simulate ``scenario`` with ``seed``, write its tables and manifest atomically to ``out_dir``."""
    started_at = now_iso()
    started = time.perf_counter()
    output = run(scenario, seed, progress=progress)
    tables: list[str] = list(scenario.outputs.tables)
    if scenario.economics is not None:
        from sim.economics import compute

        economy = compute(output, scenario)
        output.tables.update(
            ledger=economy.ledger, products=economy.products, staff_costs=economy.staff, assets=economy.assets
        )
        tables += ["ledger", "products", "staff_costs", "assets"]
    manifest: dict[str, Any] = {
        "status": "ok",
        "scenario": scenario.name,
        "config_path": config_path,
        "overrides": list(overrides),
        "config_hash": scenario_hash(scenario),
        "seed": seed,
        "started_at": started_at,
        "finished_at": now_iso(),
        "wall_seconds": round(time.perf_counter() - started, 3),
        "versions": package_versions(),
        "git": git_revision(),
        "resolved_config": scenario_dict(scenario),
        **(extra or {}),
    }
    write_run(out_dir, output, manifest, tables=tables)
    return output
