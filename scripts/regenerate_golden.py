"""Rewrite tests/golden/*.csv from the current model (run only when results are meant to change).

The files hold every row and column of the golden run, floats to 12 significant digits; the test compares
non-floats exactly and floats within a relative 1e-9 (tests/golden_run.py says why).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from golden_run import GOLDEN_DIR, golden_tables

if __name__ == "__main__":
    GOLDEN_DIR.mkdir(exist_ok=True)
    for name, text in golden_tables().items():
        (GOLDEN_DIR / f"{name}.csv").write_text(text, encoding="utf-8")
        print(f"wrote {GOLDEN_DIR / name}.csv ({text.count(chr(10))} lines)")
