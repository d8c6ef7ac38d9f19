"""Shared test fixtures: paths, the tiny scenario, the shipped regions run once per session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"


def hmsim(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run the command line as a user would (``python -m sim`` == ``hmsim``)."""
    return subprocess.run(
        [sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def tiny_path() -> Path:
    return DATA / "tiny.yaml"


@pytest.fixture(scope="session")
def vastmanland_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Västmanland's shipped config, default seed, through April 2024 (the service KPIs' observed window), via
    the command line."""
    out = tmp_path_factory.mktemp("runs") / "vastmanland"
    result = hmsim("run", "configs/regions/vastmanland.yaml", "--years", "1.34", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def norrbotten_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Norrbotten's shipped config, default seed, through Q1 2025 (the invoicing-share period)."""
    out = tmp_path_factory.mktemp("runs") / "norrbotten"
    result = hmsim("run", "configs/regions/norrbotten.yaml", "--years", "1.25", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out
