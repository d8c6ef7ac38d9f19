"""Execute one scenario with one seed and store it: the unit of work of ``hmsim run`` and of batches.

Where a single run goes (decided before anything is simulated, see :func:`plan_target`): ``--out`` if
given, else ``results/<name>/`` for the config as shipped and ``results/<name>__<key>=<value>.../`` for a
run with ``--set`` overrides (the last part of each key; a hash when that is too long), so a variant never
lands on the baseline's folder. An existing run folder is replaced only by the same run (same resolved
config and seed, e.g. after a model change); replacing a different run needs ``--force``. A folder hmsim
did not write is never replaced (sim.store).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.config import scenario_dict, scenario_hash
from sim.config.schema import Scenario
from sim.errors import HmsimError
from sim.model import run
from sim.names import NAME_RULE
from sim.output import RunOutput, release_memory
from sim.store import (
    MANIFEST,
    check_name,
    check_target,
    git_revision,
    now_iso,
    out_path,
    package_versions,
    write_run,
)

RESULTS = Path("results")


@dataclass
class RunResult:
    output: RunOutput
    out_dir: Path
    tables: dict[str, str]  # written: table name -> file
    run_id: str


def run_folder_name(name: str, overrides: Sequence[str]) -> str:
    """``name``, plus ``__key=value`` for each ``--set key=value`` (last key part) when there are any."""
    check_name(name, "name")
    sets = [text for text in overrides if text.split("=", 1)[0].strip() != "name"]
    if not sets:
        return name
    lasts = [text.split("=", 1)[0].strip().split(".")[-1] for text in sets]
    parts = []
    for text, last in zip(sets, lasts, strict=True):
        key, _, value = text.partition("=")
        short = last if lasts.count(last) == 1 else key.strip()
        parts.append(re.sub(r"[^\w.=+-]", "_", f"{short}={value.strip()}"))
    folder = "__".join([name, *parts])
    try:
        return check_name(folder, "folder")
    except HmsimError:  # too long or odd: a stable short name instead
        digest = hashlib.sha256("\n".join(sets).encode()).hexdigest()[:10]
        return f"{name}__set-{digest}"


def plan_target(
    scenario: Scenario, seed: int, out: str | Path | None, overrides: Sequence[str], force: bool
) -> Path:
    """The absolute folder this run goes to, checked before simulating (HmsimError if it may not)."""
    if out is None:
        try:
            folder = run_folder_name(scenario.name, overrides)
        except HmsimError:
            raise HmsimError(
                f"name: {scenario.name!r}: must be {NAME_RULE} (it names the results folder)"
            ) from None
        out_dir = (RESULTS / folder).absolute()
    else:
        out_dir = out_path(out)
    check_target(out_dir)
    if force or not (out_dir / MANIFEST).is_file():
        return out_dir
    try:
        old = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        old = {}
    if not isinstance(old, dict) or (old.get("config_hash"), old.get("seed")) != (
        scenario_hash(scenario),
        seed,
    ):
        what = "--out" if out is not None else "the results folder"
        raise HmsimError(
            f"{out_dir}: holds a different run (scenario {old.get('scenario')!r}, seed {old.get('seed')}, "
            f"overrides {old.get('overrides')}); {what} is kept: use --force to replace it, or --out "
            "another folder"
        )
    return out_dir


ECONOMY_TABLES = ("ledger", "products", "staff_costs", "assets")


def simulate(scenario: Scenario, seed: int, progress: Callable[[int], None] | None = None) -> RunOutput:
    """The model's run of ``scenario`` with ``seed`` and, when it has economics, the economy's tables
    (``ECONOMY_TABLES``) added to its output: what ``hmsim run`` and a batch's runs write. The memory a
    stage frees is handed back before the next, so each stage's peak starts from what it holds."""
    output = run(scenario, seed, progress=progress)
    release_memory()
    if scenario.economics is not None:
        from sim.economics import compute

        economy = compute(output, scenario)
        output.tables.update(
            ledger=economy.ledger, products=economy.products, staff_costs=economy.staff, assets=economy.assets
        )
        del economy
        release_memory()
    return output


def execute(
    scenario: Scenario,
    seed: int,
    out_dir: Path,
    progress: Callable[[int], None] | None = None,
    config_path: str | None = None,
    overrides: Sequence[str] = (),
    extra: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> RunResult:
    """Simulate ``scenario`` with ``seed``, write its tables and manifest atomically to ``out_dir``."""
    started_at = now_iso()
    started = time.perf_counter()
    run_id = run_id or uuid.uuid4().hex
    output = simulate(scenario, seed, progress)
    tables: list[str] = list(scenario.outputs.tables)
    if scenario.economics is not None:
        tables += list(ECONOMY_TABLES)
    manifest: dict[str, Any] = {
        "status": "ok",
        "run_id": run_id,
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
    written = write_run(out_dir, output, manifest, tables=tables)
    return RunResult(output=output, out_dir=Path(out_dir), tables=written, run_id=run_id)


def holds_run(out_dir: Path, run_id: str) -> bool:
    """Whether ``out_dir`` holds the finished run ``run_id`` (e.g. to tell what an interrupt left)."""
    try:
        manifest = json.loads((Path(out_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(manifest, dict) and manifest.get("run_id") == run_id
