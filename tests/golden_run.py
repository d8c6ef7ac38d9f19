"""The golden scenario: the tiny region, seed 2024, half a year; tables rendered as CSV text.

Regenerate the stored files only on purpose (a model change that should change results), with
``python scripts/regenerate_golden.py``, and say why in the commit message.
"""

from __future__ import annotations

from pathlib import Path

from sim.config import load_scenario
from sim.model import run

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
CONFIG = Path(__file__).resolve().parent / "data" / "tiny.yaml"
SEED = 2024
TABLES = ("timeseries", "rentals", "deliveries", "jobs", "route_stops")


def golden_tables() -> dict[str, str]:
    """The golden scenario's tables as CSV text (floats written with full precision)."""
    out = run(load_scenario(CONFIG, ["horizon.years=0.5"]), SEED)
    return {name: out[name].to_csv(index=False, float_format="%.17g", lineterminator="\n") for name in TABLES}
