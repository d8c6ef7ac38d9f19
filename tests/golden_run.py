"""The golden scenario: the tiny region, seed 2024, half a year; tables rendered as CSV text.

What is stored is what is meaningful: every row and column, integers, booleans, categories and counts as
they are, floats to 12 significant digits (event times are days, so that is far below a second). The
comparison (:func:`differences`) is exact for everything that is not a float and uses a relative
tolerance of 1e-9 for floats: the last bits of a float depend on the machine's BLAS/SIMD paths and the
numpy build (46.434915245175318 on one CPU, 46.434915245175546 on another), a model change does not.
Determinism within one machine stays exact (tests/test_determinism.py compares Parquet bytes).

Regenerate the stored files only on purpose (a model change that should change results), with
``python scripts/regenerate_golden.py``, and say why in the commit message.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from sim.config import load_scenario
from sim.model import run

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
CONFIG = Path(__file__).resolve().parent / "data" / "tiny.yaml"
SEED = 2024
TABLES = ("timeseries", "rentals", "deliveries", "jobs", "route_stops")
FLOAT_FORMAT = "%.12g"  # what is meaningful: 12 significant digits
RTOL = 1e-9  # relative tolerance for floats (stored rounding is below 1e-11)
ATOL = 1e-12  # for values that are zero up to rounding (e.g. a difference of equal times)


def golden_tables() -> dict[str, str]:
    """The golden scenario's tables as CSV text (floats to 12 significant digits)."""
    out = run(load_scenario(CONFIG, ["horizon.years=0.5"]), SEED)
    return {
        name: out[name].to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n") for name in TABLES
    }


def _read(text: str) -> pd.DataFrame:
    # no NA guessing beyond empty cells: a category named "NA" stays a string
    return pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])


def differences(computed: str, stored: str, limit: int = 5) -> list[str]:
    """Where ``computed`` differs from ``stored`` (both CSV text): empty if they agree.

    Shape, column names and order, and every non-float cell must be equal; float cells (either side
    parsed as float) must agree within ``RTOL`` (``ATOL`` near zero), with NaN only where NaN is stored.
    """
    new, old = _read(computed), _read(stored)
    if list(new.columns) != list(old.columns):
        return [f"columns {list(new.columns)} != stored {list(old.columns)}"]
    if len(new) != len(old):
        return [f"{len(new)} rows != stored {len(old)}"]
    problems: list[str] = []
    for col in old.columns:
        a, b = new[col], old[col]
        numeric = pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b)
        floats = numeric and (pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b))
        if floats and not (pd.api.types.is_bool_dtype(a) or pd.api.types.is_bool_dtype(b)):
            x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
            bad = ~np.isclose(x, y, rtol=RTOL, atol=ATOL, equal_nan=True)
        else:
            bad = ~((a == b) | (a.isna() & b.isna())).to_numpy()
        for row in np.flatnonzero(bad)[:limit]:
            problems.append(f"row {row}, {col}: {a.iloc[row]!r} != stored {b.iloc[row]!r}")
        if bad.sum() > limit:
            problems.append(f"... and {int(bad.sum()) - limit} more in {col}")
    return problems
