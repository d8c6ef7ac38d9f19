"""Statistical checks against queueing theory in a stripped-down config (tests/data/theory.yaml).

Tolerances come from replications: the mean over R independent replications must lie within 3.5 standard
errors of theory (t with R-1 = 11 degrees of freedom puts 99.6 % within 3.5 SE), and the standard error
must be small enough for the check to have power (below 10 % of the theoretical value).
"""

from __future__ import annotations

from math import factorial
from pathlib import Path

import numpy as np
import pytest

from sim.config import load_scenario
from sim.model import run

THEORY = Path(__file__).resolve().parent / "data" / "theory.yaml"
REPLICATIONS = 12
LAMBDA, MU, SERVERS = 28.8, 12.0, 3  # returns per day, jobs per technician-day, technicians (theory.yaml)
MEAN_RENTAL_DAYS = 200.0


def erlang_c(lam: float, mu: float, c: int) -> tuple[float, float]:
    """Probability of waiting and mean wait in queue of an M/M/c queue."""
    a = lam / mu
    rho = a / c
    tail = a**c / factorial(c) / (1 - rho)
    p_wait = tail / (sum(a**k / factorial(k) for k in range(c)) + tail)
    return p_wait, p_wait / (c * mu - lam)


@pytest.fixture(scope="module")
def replications() -> dict[str, np.ndarray]:
    scenario = load_scenario(THEORY)
    stats: dict[str, list[float]] = {"wait": [], "p_wait": [], "util": [], "on_rent": [], "arrivals": []}
    for seed in range(1, REPLICATIONS + 1):
        out = run(scenario, seed)
        days = out.days
        jobs = out["jobs"]
        jobs = jobs[
            (jobs["kind"] == "recondition") & (jobs["created_day"] >= 30) & (jobs["created_day"] < days - 30)
        ]
        wait = jobs["start_day"] - jobs["created_day"]
        stats["wait"].append(float(wait.mean()))
        stats["p_wait"].append(float((wait > 1e-9).mean()))
        stats["arrivals"].append(len(jobs) / (days - 60))
        staff = out["staff"]
        staff = staff[staff["pool"] == "reconditioning_technicians"]
        stats["util"].append(float(staff["busy_hours"].sum() / staff["available_hours"].sum()))
        r = out["rentals"]
        covered = (np.minimum(r["end_day"], days) - np.maximum(r["start_day"], 0)).clip(lower=0)
        stats["on_rent"].append(float(covered.sum() / days))  # time-average number on rent
    return {k: np.asarray(v) for k, v in stats.items()}


def assert_matches(values: np.ndarray, theory: float) -> None:
    mean = values.mean()
    se = values.std(ddof=1) / np.sqrt(values.size)
    assert se < 0.1 * theory, f"too noisy to test: SE {se:.4g} vs theory {theory:.4g}"
    assert abs(mean - theory) <= 3.5 * se, f"mean {mean:.4g} (SE {se:.3g}) vs theory {theory:.4g}"


def test_littles_law_for_devices_on_rent(replications: dict[str, np.ndarray]) -> None:
    """L = lambda W: time-average devices on rent = order rate x mean rental duration."""
    assert_matches(replications["on_rent"], LAMBDA * MEAN_RENTAL_DAYS)


def test_returns_reach_the_workshop_at_the_order_rate(replications: dict[str, np.ndarray]) -> None:
    assert_matches(replications["arrivals"], LAMBDA)


def test_reconditioning_workshop_is_m_m_c(replications: dict[str, np.ndarray]) -> None:
    p_wait, mean_wait = erlang_c(LAMBDA, MU, SERVERS)
    assert_matches(replications["p_wait"], p_wait)
    assert_matches(replications["wait"], mean_wait)
    assert_matches(replications["util"], LAMBDA / (MU * SERVERS))


def test_erlang_c_reference_values() -> None:
    """The formula itself, against textbook values (M/M/1: P(wait) = rho, Wq = rho / (mu - lambda))."""
    p, w = erlang_c(0.5, 1.0, 1)
    assert p == pytest.approx(0.5) and w == pytest.approx(1.0)
    p, _ = erlang_c(2.0, 1.0, 3)
    assert p == pytest.approx(4 / 9)
