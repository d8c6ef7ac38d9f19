"""What a report draws from: one run folder or a batch folder, read from disk only (never re-simulated);
or the output folder of ``hmsim calibrate`` or ``hmsim sensitivity`` (``sim.report.credibility``), which
has no runs.

A run folder has ``manifest.json`` with status ``ok``; a batch folder has ``index.parquet`` (and
``experiment.json``) with run folders ``<scenario label>/<replication>/``. Runs are read one at a time
(the tables the report needs only), so a batch of many runs never sits in memory at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import HmsimError
from sim.output import RunOutput
from sim.report.credibility import kind_of
from sim.store import MANIFEST, read_manifest, read_run

INDEX = "index.parquet"
RUN_KINDS = ("run", "batch")
EXPERIMENT = "experiment.json"


@dataclass(frozen=True)
class RunRef:
    scenario: str
    replication: int
    path: Path


@dataclass
class Source:
    path: Path
    kind: str  # "run", "batch", "calibration" or "sensitivity"
    runs: list[RunRef]
    manifest: dict[str, Any]  # the run's, or the first finished run's in a batch
    tables: tuple[str, ...]  # tables every run has
    columns: dict[str, tuple[str, ...]]  # table -> columns (of the first run)
    index: pd.DataFrame | None = None
    experiment: dict[str, Any] = field(default_factory=dict)

    @property
    def scenarios(self) -> list[str]:
        return list(dict.fromkeys(r.scenario for r in self.runs))

    def read(self, ref: RunRef, tables: list[str]) -> RunOutput:
        return read_run(ref.path, [t for t in tables if t in self.tables])

    def iter_runs(self, tables: list[str]) -> Iterator[tuple[RunRef, RunOutput]]:
        for ref in self.runs:
            yield ref, self.read(ref, tables)

    def region_names(self) -> list[str]:
        """Names that tell which region's observed documents apply."""
        resolved = self.manifest.get("resolved_config", {})
        names = [
            str(resolved.get("name", "")),
            str(self.manifest.get("scenario", "")),
            str(self.manifest.get("config_path", "")),
            str(self.experiment.get("experiment", {}).get("name", "")),
            str(self.experiment.get("experiment", {}).get("base", "")),
            str(self.experiment.get("path", "")),
        ]
        return [n for n in names if n]


def _schema(run_dir: Path, manifest: dict[str, Any]) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    import pyarrow.parquet as pq

    tables = tuple(manifest.get("tables", {}))
    columns = {}
    for name, file in manifest.get("tables", {}).items():
        try:
            columns[name] = tuple(pq.read_schema(run_dir / file).names)
        except (OSError, ValueError) as exc:
            raise HmsimError(f"{run_dir / file}: unreadable table ({exc})") from None
    return tables, columns


def open_source(path: Path | str) -> Source:
    """A run or batch folder; exit 2 (HmsimError) for anything else."""
    path = Path(path)
    if not path.is_dir():
        raise HmsimError(
            f"{path}: not a folder; give a run folder (hmsim run) or a batch folder (hmsim batch)"
        )
    if (path / MANIFEST).exists():
        manifest = read_manifest(path)
        if manifest.get("status") != "ok":
            raise HmsimError(f"{path}: run status is {manifest.get('status')!r}, not 'ok'")
        tables, columns = _schema(path, manifest)
        name = str(manifest.get("scenario") or manifest.get("resolved_config", {}).get("name", "run"))
        return Source(path, "run", [RunRef(name, 0, path)], manifest, tables, columns)
    if (path / INDEX).exists():
        try:
            index = pd.read_parquet(path / INDEX)
        except (OSError, ValueError) as exc:
            raise HmsimError(f"{path / INDEX}: unreadable batch index ({exc})") from None
        experiment: dict[str, Any] = {}
        if (path / EXPERIMENT).exists():
            try:
                experiment = json.loads((path / EXPERIMENT).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise HmsimError(f"{path / EXPERIMENT}: unreadable ({exc})") from None
        ok = index[index["status"] == "ok"]
        runs = [
            RunRef(
                str(r["scenario"]), int(r["replication"]), path / str(r["scenario"]) / str(r["replication"])
            )
            for _, r in ok.iterrows()
        ]
        runs = [r for r in runs if (r.path / MANIFEST).exists()]
        if not runs:
            raise HmsimError(
                f"{path}: no finished runs in the batch (status ok); run or resume the batch first"
            )
        manifest = read_manifest(runs[0].path)
        common: set[str] | None = None
        for ref in runs:
            names = set(read_manifest(ref.path).get("tables", {}))
            common = names if common is None else common & names
        tables, columns = _schema(runs[0].path, manifest)
        tables = tuple(t for t in tables if t in (common or set()))
        return Source(path, "batch", runs, manifest, tables, columns, index=index, experiment=experiment)
    kind = kind_of(path)
    if kind is not None:
        return Source(path, kind, [], {"scenario": path.name}, (), {})
    raise HmsimError(
        f"{path}: neither a run folder ({MANIFEST}) nor a batch folder ({INDEX}) nor the output of hmsim "
        "calibrate or hmsim sensitivity; give the folder one of them wrote"
    )
