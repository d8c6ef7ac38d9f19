"""The credibility tables: ``hmsim calibrate``'s fit report and ``hmsim sensitivity``'s indices.

What the two commands write (read from their output folders, default ``results/calibrate/<name>/`` and
``results/sensitivity/<name>/``):

- calibrate: ``report.json`` (``targets``: observed, ``before`` and ``after`` as mean, sd, n and the 95 %
  Student-t interval over the replications; ``holdouts`` with the naive forecast; ``parameters``;
  ``trace``; ``written_at``, ``seeds``, ``degrees_of_freedom``), ``report.md``, ``trace.csv`` and ``cache/``;
- sensitivity: ``morris.csv`` (output, parameter, mu_star, mu_star_conf, sigma, mu), ``sobol.csv`` (output,
  parameter, S1, S1_conf, ST, ST_conf; empty of rows when no parameter went on to Sobol), ``report.md``,
  ``sensitivity_<output>.png`` and ``cache/``.

Such a folder can be the report's RESULTS (then only the credibility charts are drawn) or be added to a run or
batch report with ``--credibility DIR``. A folder of neither kind, or a damaged file, exits 2.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import HmsimError
from sim.report.tables import TableSpec

CALIBRATION = "calibration"
SENSITIVITY = "sensitivity"
CREDIBILITY_TABLES: dict[str, TableSpec] = {}


def _spec(name: str, title: tuple[str, str], keys: tuple[str, ...], units: dict[str, str]) -> None:
    CREDIBILITY_TABLES[name] = TableSpec(name, title, (name,), keys, units, lambda out, cfg: pd.DataFrame())


_spec(
    "calibration_fit",
    ("Calibration fit: simulated vs observed per target", "Kalibrering: simulerat mot utfall per mål"),
    ("target", "role"),
    {
        "observed": "as the target",
        "before": "as the target",
        "after": "as the target",
        "error_before": "share",
        "error_after": "share",
        "naive": "as the target",
        "naive_error": "share",
        "tolerance": "as the target",
    },
)
_spec(
    "calibration_parameters",
    ("Calibration: fitted parameters", "Kalibrering: anpassade parametrar"),
    ("parameter",),
    {
        "keys": "count",
        "bound_low": "as the key",
        "bound_high": "as the key",
        "start": "as the key",
        "fitted": "as the key",
    },
)
_spec(
    "calibration_trace",
    ("Calibration: convergence trace", "Kalibrering: konvergens"),
    ("evaluation",),
    {"cost": "squared residuals in tolerances"},
)
_spec(
    "sensitivity_morris",
    ("Sensitivity: Morris screening", "Känslighet: Morris-screening"),
    ("output", "parameter"),
    {"mu_star": "output unit", "mu_star_conf": "output unit", "sigma": "output unit", "mu": "output unit"},
)
_spec(
    "sensitivity_sobol",
    ("Sensitivity: Sobol indices", "Känslighet: Sobol-index"),
    ("output", "parameter"),
    {"S1": "index", "S1_conf": "index", "ST": "index", "ST_conf": "index"},
)


@dataclass
class Credibility:
    data: dict[str, pd.DataFrame] = field(default_factory=dict)
    absent: dict[str, str] = field(default_factory=dict)
    provenance: list[tuple[str, str]] = field(default_factory=list)
    folders: dict[str, Path] = field(default_factory=dict)  # kind -> folder
    written_at: str | None = None  # the fit report's date (the data's date for a calibration-only report)


def kind_of(folder: Path) -> str | None:
    """``"calibration"``, ``"sensitivity"`` or None from the files in ``folder``."""
    if (folder / "morris.csv").is_file():
        return SENSITIVITY
    report = folder / "report.json"
    if report.is_file():
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if isinstance(data, dict) and "targets" in data and "degrees_of_freedom" in data:
            return CALIBRATION
    return None


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _stats(row: dict[str, Any], key: str) -> tuple[float, float, float]:
    found = row.get(key)
    s: dict[str, Any] = found if isinstance(found, dict) else {}
    return _float(s.get("mean")), _float(s.get("ci_low")), _float(s.get("ci_high"))


def _calibration(folder: Path, cred: Credibility) -> None:
    path = folder / "report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        rows = []
        for role, items in (("fitted", report["targets"]), ("hold-out", report.get("holdouts") or [])):
            for t in items:
                before, b_low, b_high = _stats(t, "before")
                after, a_low, a_high = _stats(t, "after")
                observed = _float(t["observed"])
                naive = _float(t.get("naive"))
                rows.append(
                    {
                        "target": str(t["target"]),
                        "role": role,
                        "observed": observed,
                        "before": before,
                        "before__low": b_low,
                        "before__high": b_high,
                        "after": after,
                        "after__low": a_low,
                        "after__high": a_high,
                        "error_before": before / observed - 1 if observed else math.nan,
                        "error_after": after / observed - 1 if observed else math.nan,
                        "naive": naive,
                        "naive_error": naive / observed - 1 if observed else math.nan,
                        "tolerance": _float(t.get("tolerance")),
                    }
                )
        params = pd.DataFrame(
            [
                {
                    "parameter": str(q["parameter"]),
                    "mode": str(q.get("mode", "")),
                    "keys": _float(q.get("keys")),
                    "bound_low": _float(q["bounds"][0]),
                    "bound_high": _float(q["bounds"][1]),
                    "start": _float(q.get("start")),
                    "fitted": _float(q.get("fitted")),
                    "at_bound": str(q.get("at_bound") or ""),
                    "fitted_by": ", ".join(str(x) for x in q.get("fitted_by") or []),
                }
                for q in report.get("parameters") or []
            ]
        )
        trace = pd.DataFrame(report.get("trace") or [])
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise HmsimError(
            f"{path}: not a fit report of hmsim calibrate ({type(exc).__name__}: {exc})"
        ) from None
    if not rows:
        raise HmsimError(f"{path}: the fit report has no targets")
    cred.data["calibration_fit"] = pd.DataFrame(rows)
    if not params.empty:
        cred.data["calibration_parameters"] = params
    if not trace.empty and {"evaluation", "cost"} <= set(trace.columns):
        cred.data["calibration_trace"] = trace
    cred.written_at = str(report.get("written_at") or "") or None
    cred.provenance += [
        ("calibration", str(folder)),
        ("calibration spec", str(report.get("spec", ""))),
        ("calibration written", str(report.get("written_at", ""))),
        ("calibration seeds", ", ".join(str(s) for s in report.get("seeds") or [])),
        ("calibration replications", str(report.get("replications", ""))),
        (
            "calibration fit",
            f"{report.get('targets_fitted')} targets, {report.get('parameters_fitted')} parameters, "
            f"{report.get('degrees_of_freedom')} degrees of freedom; cost {report.get('cost_before')} -> "
            f"{report.get('cost_after')}; {report.get('message', '')}",
        ),
    ]


def _sensitivity(folder: Path, cred: Credibility) -> None:
    needs = {
        "morris.csv": ("sensitivity_morris", {"output", "parameter", "mu_star", "mu_star_conf", "sigma"}),
        "sobol.csv": ("sensitivity_sobol", {"output", "parameter", "S1", "S1_conf", "ST", "ST_conf"}),
    }
    for file, (name, columns) in needs.items():
        path = folder / file
        if not path.is_file():
            cred.absent[name] = f"{folder} has no {file}"
            continue
        try:
            table = pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise HmsimError(f"{path}: unreadable ({exc})") from None
        if not columns <= set(table.columns):
            missing = ", ".join(sorted(columns - set(table.columns)))
            raise HmsimError(f"{path}: not written by hmsim sensitivity (no column {missing})")
        if table.empty:
            cred.absent[name] = f"{path} has no rows (no parameter went on to this stage)"
            continue
        table["output"] = table["output"].astype(str)
        table["parameter"] = table["parameter"].astype(str)
        cred.data[name] = table
    cred.provenance.append(("sensitivity", str(folder)))
    first = (
        (folder / "report.md").read_text(encoding="utf-8").splitlines()
        if (folder / "report.md").is_file()
        else []
    )
    summary = next((line for line in first if line and not line.startswith("#")), "")
    if summary:
        cred.provenance.append(("sensitivity runs", summary))


def read_credibility(folders: list[Path]) -> Credibility:
    """The credibility tables of ``folders`` (each a calibrate or sensitivity output folder; one of each
    kind at most); tables of kinds not given are absent with the reason."""
    cred = Credibility()
    for folder in folders:
        kind = kind_of(folder)
        if kind is None:
            raise HmsimError(
                f"{folder}: neither a calibrate folder (report.json with targets) nor a sensitivity folder "
                "(morris.csv)"
            )
        if kind in cred.folders:
            raise HmsimError(f"{folder}: a second {kind} folder (already {cred.folders[kind]}); give one")
        cred.folders[kind] = folder
        (_calibration if kind == CALIBRATION else _sensitivity)(folder, cred)
    for name in CREDIBILITY_TABLES:
        if name in cred.data or name in cred.absent:
            continue
        kind = CALIBRATION if name.startswith("calibration") else SENSITIVITY
        if kind in cred.folders:
            cred.absent[name] = f"{cred.folders[kind]} has no such table"
        else:
            command = "hmsim calibrate" if kind == CALIBRATION else "hmsim sensitivity"
            cred.absent[name] = f"no {kind} results: give the folder {command} wrote with --credibility DIR"
    return cred
