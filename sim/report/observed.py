"""Observed figures and targets from ``calibration/observed`` (the region's own documents).

Each CSV row is ``metric, segment, period, value, unit, source_section, note``; a target is the number in a
note such as ``"target 0.80"``. Files are chosen by region: a file whose name starts with the region's name
(``vastmanland_...``) belongs to runs whose scenario or config names that region. The folder lives in the
source checkout beside the package; where it is missing (an installed wheel) charts carry no observed marks
and the report's index says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

OBSERVED_DIR = Path(__file__).resolve().parents[2] / "calibration" / "observed"
COLUMNS = ("metric", "segment", "period", "value", "unit", "source_section", "note")
_TARGET = re.compile(r"target\s+([0-9]*\.?[0-9]+)")


@dataclass(frozen=True)
class Observation:
    metric: str
    segment: str
    period: str
    value: float
    unit: str
    document: str  # file name and section, e.g. "vastmanland_hmc_2024_interim.csv, Produktion"

    @property
    def year(self) -> float:
        """The period as a fractional year for plotting (middle of a range, end of a month)."""
        first = self.period.split("..")[0]
        last = self.period.split("..")[-1]
        y0 = _frac(first, start=True)
        y1 = _frac(last, start=False)
        return (y0 + y1) / 2


def _frac(text: str, start: bool) -> float:
    m = re.match(r"(\d{4})(?:-(\d{2}))?", text)
    if not m:
        return float("nan")
    year = int(m.group(1))
    if m.group(2):
        month = int(m.group(2))
        return year + (month - 1) / 12 + (0 if start else 1 / 12)
    if "Q" in text:
        q = int(text.split("Q")[1][0])
        return year + (q - 1) / 4 + (0 if start else 0.25)
    return year + (0 if start else 1)


@dataclass
class Observed:
    """The observed rows of one region (possibly none)."""

    rows: pd.DataFrame
    files: tuple[str, ...]

    def get(self, metric: str, segment: str = "all") -> list[Observation]:
        sel = self.rows[(self.rows["metric"] == metric) & (self.rows["segment"] == segment)]
        return [
            Observation(
                metric,
                segment,
                str(r["period"]),
                float(r["value"]),
                str(r["unit"]),
                f"{r['file']}, {r['source_section']}",
            )
            for _, r in sel.iterrows()
        ]

    def target(self, metric: str) -> tuple[float, str] | None:
        """The target value of ``metric`` and the document naming it (first note that gives one)."""
        sel = self.rows[self.rows["metric"] == metric]
        for _, r in sel.iterrows():
            m = _TARGET.search(str(r["note"]))
            if m:
                return float(m.group(1)), f"{r['file']}, {r['source_section']}"
        return None


def load_observed(region_names: list[str], folder: Path = OBSERVED_DIR) -> Observed:
    """The observed rows of the files whose name starts with one of ``region_names`` (lower case)."""
    frames = []
    files = []
    if folder.is_dir():
        for path in sorted(folder.glob("*.csv")):
            prefix = path.name.split("_", 1)[0].lower()
            if not any(prefix in name.lower() for name in region_names if name):
                continue
            table = pd.read_csv(path, dtype={"period": str})
            if not set(COLUMNS) <= set(table.columns):
                continue  # a table of another shape (comparisons, options): not figures by metric
            table = table[list(COLUMNS)].copy()
            table["value"] = pd.to_numeric(table["value"], errors="coerce")
            table["file"] = path.name
            frames.append(table)
            files.append(path.name)
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*COLUMNS, "file"])
    return Observed(rows=rows, files=tuple(files))
