"""Samplers for the config's ``Dist`` (mean + coefficient of variation) and rental-duration mixtures.

Also the stationary (equilibrium) split of a rental into elapsed and residual time, used by the warm
start: a rental in progress at a random instant has a length-biased total length ``L`` (density
``x f(x) / E[X]``) and an elapsed part uniform on ``[0, L]`` (renewal theory). The families are a registry
(:data:`FAMILIES`); an unknown family is rejected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sim.config.schema import Dist, DurationComponent

Sampler = Callable[[np.random.Generator, int], np.ndarray]


def _lognormal_params(mean: float, cv: float) -> tuple[float, float]:
    sigma2 = float(np.log1p(cv * cv))
    return float(np.log(mean) - sigma2 / 2.0), float(np.sqrt(sigma2))


@dataclass(frozen=True)
class Family:
    """A family by mean and cv: its sampler and its length-biased sampler (for the warm start)."""

    draw: Callable[[float, float], Sampler]
    length_biased: Callable[[float, float], Sampler]


def _gamma_params(mean: float, cv: float) -> tuple[float, float]:
    return 1.0 / (cv * cv), mean * cv * cv


def _lognormal(mean: float, cv: float) -> Sampler:
    mu, sigma = _lognormal_params(mean, cv)
    return lambda gen, n: gen.lognormal(mu, sigma, n)


def _lognormal_biased(mean: float, cv: float) -> Sampler:
    mu, sigma = _lognormal_params(mean, cv)
    return lambda gen, n: gen.lognormal(mu + sigma * sigma, sigma, n)


def _gamma(mean: float, cv: float) -> Sampler:
    shape, theta = _gamma_params(mean, cv)
    return lambda gen, n: gen.gamma(shape, theta, n)


def _gamma_biased(mean: float, cv: float) -> Sampler:
    shape, theta = _gamma_params(mean, cv)
    return lambda gen, n: gen.gamma(shape + 1.0, theta, n)


FAMILIES: dict[str, Family] = {
    "fixed": Family(lambda m, cv: lambda gen, n: np.full(n, m), lambda m, cv: lambda gen, n: np.full(n, m)),
    "exponential": Family(
        lambda m, cv: lambda gen, n: gen.exponential(m, n), lambda m, cv: lambda gen, n: gen.gamma(2.0, m, n)
    ),
    "gamma": Family(_gamma, _gamma_biased),
    "lognormal": Family(_lognormal, _lognormal_biased),
}


def _family(dist: Dist) -> Family:
    family = FAMILIES.get(dist.dist)
    if family is None:
        raise ValueError(f"dist {dist.dist!r}: must be one of {', '.join(FAMILIES)}")
    return family


def sampler(dist: Dist, scale: float = 1.0) -> Sampler:
    """A function drawing ``n`` values of ``dist`` (times ``scale``)."""
    return _family(dist).draw(dist.mean * scale, dist.cv)


def length_biased_sampler(dist: Dist, scale: float = 1.0) -> Sampler:
    """Draws from the length-biased version of ``dist`` (density proportional to ``x f(x)``)."""
    return _family(dist).length_biased(dist.mean * scale, dist.cv)


def mixture_mean(components: Sequence[DurationComponent], scale: float = 1.0) -> float:
    return float(sum(c.share * c.mean for c in components)) * scale


def _mix(gen: np.random.Generator, n: int, weights: np.ndarray, parts: list[Sampler]) -> np.ndarray:
    if len(parts) == 1:
        return parts[0](gen, n)
    which = np.searchsorted(np.cumsum(weights), gen.random(n) * weights.sum(), side="right")
    which = np.minimum(which, len(parts) - 1)
    out = np.empty(n)
    for i, part in enumerate(parts):
        idx = np.nonzero(which == i)[0]
        if idx.size:
            out[idx] = part(gen, idx.size)
    return out


def mixture_sampler(components: Sequence[DurationComponent], scale: float = 1.0) -> Sampler:
    """Draws from the mixture of ``components`` (each chosen with its share)."""
    weights = np.array([c.share for c in components], dtype=float)
    parts = [sampler(c, scale) for c in components]
    return lambda gen, n: _mix(gen, n, weights, parts)


def equilibrium_split(
    components: Sequence[DurationComponent], gen: np.random.Generator, n: int, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Elapsed and residual durations of ``n`` rentals in progress at a stationary random instant."""
    weights = np.array([c.share * c.mean for c in components], dtype=float)
    parts = [length_biased_sampler(c, scale) for c in components]
    total = _mix(gen, n, weights, parts)
    elapsed = gen.random(n) * total
    return elapsed, total - elapsed
