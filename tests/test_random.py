"""Samplers match their stated moments; named streams are stable and independent."""

from __future__ import annotations

import numpy as np
import pytest

from sim.config.schema import Dist, DurationComponent
from sim.model.distributions import equilibrium_split, mixture_mean, mixture_sampler, sampler
from sim.model.rng import Streams, uniform

N = 200_000


@pytest.mark.parametrize(
    "dist,cv", [("exponential", 1.0), ("gamma", 0.5), ("lognormal", 0.8), ("fixed", 0.0)]
)
def test_samplers_have_the_configured_mean_and_cv(dist: str, cv: float) -> None:
    spec = Dist(dist=dist, mean=7.0) if dist in ("exponential", "fixed") else Dist(dist=dist, mean=7.0, cv=cv)
    x = sampler(spec)(np.random.default_rng(1), N)
    se_mean = 7.0 * max(cv, 1e-9) / np.sqrt(N)
    assert abs(x.mean() - 7.0) < 5 * se_mean + 1e-12
    assert x.std() / x.mean() == pytest.approx(cv, abs=0.02)
    assert (x > 0).all()


def test_exponential_rejects_a_cv() -> None:
    with pytest.raises(ValueError, match=r"cv 0\.5 does not fit dist 'exponential'"):
        Dist(dist="exponential", mean=1.0, cv=0.5)


@pytest.mark.parametrize("dist", ["fixed", "exponential", "gamma", "lognormal"])
@pytest.mark.parametrize("kind", [Dist, DurationComponent])
def test_every_dist_kind_reads_back_as_dumped(dist: str, kind: type[Dist]) -> None:
    """A resolved config is dumped (manifests, dated changes, calibration tasks) and read again: every
    family must survive it, and the dump must state the cv its sampler has."""
    spec = kind(dist=dist, mean=4.0)
    for mode in ("json", "python"):
        for unset in (False, True):
            again = kind.model_validate(spec.model_dump(mode=mode, exclude_unset=unset))
            assert again == spec
    x = sampler(spec)(np.random.default_rng(4), 20_000)
    cv = float(x.std() / x.mean())
    assert cv == pytest.approx(spec.cv, abs=0.05)


def test_a_scenario_with_exponential_and_fixed_dists_reads_back_as_dumped() -> None:
    from sim.config import build_scenario, load_scenario, scenario_dict

    scenario = load_scenario("tests/data/theory.yaml")  # exponential durations, fixed prices
    assert build_scenario(scenario_dict(scenario), "again") == scenario
    # a dated change builds each state from a dump of the base: it used to reject the exponential's cv
    change = '[{"from": "2023-06-01", "set": {"transport.routes.r.vehicles": 2}}]'
    changed = load_scenario("tests/data/theory.yaml", [f"changes={change}"])
    assert len(changed.changes) == 1


def test_equilibrium_split_matches_renewal_theory() -> None:
    """Rentals in progress at a random instant: mean residual E[X^2] / (2 E[X]) for a gamma mixture."""
    comps = [
        DurationComponent(share=0.3, dist="gamma", mean=50.0, cv=0.5),
        DurationComponent(share=0.7, dist="lognormal", mean=800.0, cv=0.9),
    ]
    elapsed, residual = equilibrium_split(comps, np.random.default_rng(2), N)
    second = sum(c.share * c.mean**2 * (1 + c.cv**2) for c in comps)
    theory = second / (2 * mixture_mean(comps))
    se = residual.std() / np.sqrt(N)
    assert abs(residual.mean() - theory) < 5 * se
    assert abs(elapsed.mean() - theory) < 5 * se  # elapsed and residual have the same law
    drawn = mixture_sampler(comps)(np.random.default_rng(3), N)
    assert drawn.mean() == pytest.approx(mixture_mean(comps), rel=0.02)


def test_streams_are_reproducible_named_and_independent() -> None:
    a, b = Streams(42), Streams(42)
    assert np.array_equal(a.generator("x").random(5), b.generator("x").random(5))
    assert not np.array_equal(Streams(42).generator("x").random(5), Streams(42).generator("y").random(5))
    assert not np.array_equal(Streams(42).generator("x").random(5), Streams(43).generator("x").random(5))
    # drawing more from one stream does not shift another
    s1, s2 = Streams(7), Streams(7)
    s1.generator("noise").random(1000)
    assert np.array_equal(s1.generator("y").random(3), s2.generator("y").random(3))


def test_buffered_draws_equal_one_vector_draw() -> None:
    buffered = Streams(5).buffered("u", uniform, block=16)
    scalars = [buffered.next() for _ in range(50)]
    direct = Streams(5).generator("u").random(64)[:50]
    assert np.allclose(scalars, direct)
