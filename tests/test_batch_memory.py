"""A batch lowers its worker count when the estimated memory of its runs exceeds the machine's."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from sim.config import load_scenario
from sim.config.schema import Scenario
from sim.config.workload import estimate_memory_mb
from sim.experiment import load_plan
from sim.experiment.batch import fit_workers

EXPERIMENT = Path(__file__).resolve().parent / "data" / "tiny_experiment.yaml"


def test_workers_are_lowered_to_what_fits_and_the_batch_says_so(caplog: pytest.LogCaptureFixture) -> None:
    tasks = load_plan(EXPERIMENT, "unused").tasks
    largest = max(estimate_memory_mb(Scenario.model_validate(t.config)) for t in tasks)
    with caplog.at_level(logging.WARNING, logger="sim.experiment"):
        assert fit_workers(tasks, 4, 100 * largest) == 4
        assert not caplog.records
        assert fit_workers(tasks, 4, 2.5 * largest / 0.9) == 2
        assert "running 2 worker(s)" in caplog.text
        caplog.clear()
        assert fit_workers(tasks, 4, 0.5 * largest) == 1
        assert "even one run may not fit" in caplog.text
    assert fit_workers(tasks, 4, None) == 4  # memory unknown: as asked


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_the_memory_estimate_of_a_run_is_from_above(tiny_path: Path) -> None:
    # the child's own high-water mark (VmHWM); ru_maxrss would carry over the forking pytest's size
    code = (
        "from sim.config import load_scenario; from sim.model import run; "
        f"run(load_scenario({str(tiny_path)!r}, ['horizon.years=2'])); "
        "print(next(int(x.split()[1]) / 1024 for x in open('/proc/self/status') if x.startswith('VmHWM')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    peak_mb = json.loads(done.stdout.strip().splitlines()[-1])
    estimate = estimate_memory_mb(load_scenario(tiny_path, ["horizon.years=2"]))
    assert peak_mb <= estimate < 4 * peak_mb
