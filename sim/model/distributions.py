"""Samplers for the config's ``Dist`` (mean + coefficient of variation) and rental-duration mixtures.

Also the stationary (equilibrium) split of a rental into elapsed and residual time, used by the warm
start: a rental in progress at a random instant has a length-biased total length ``L`` (density
``x f(x) / E[X]``) and an elapsed part uniform on ``[0, L]`` (renewal theory).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from sim.config.schema import Dist, DurationComponent

Sampler = Callable[[np.random.Generator, int], np.ndarray]


def _lognormal_params(mean: float, cv: float) -> tuple[float, float]:
    sigma2 = float(np.log1p(cv * cv))
    return float(np.log(mean) - sigma2 / 2.0), float(np.sqrt(sigma2))


def sampler(dist: Dist, scale: float = 1.0) -> Sampler:
    """A function drawing ``n`` values of ``dist`` (times ``scale``)."""
    mean = dist.mean * scale
    cv = dist.cv
    if dist.dist == "fixed":
        return lambda gen, n: np.full(n, mean)
    if dist.dist == "exponential":
        return lambda gen, n: gen.exponential(mean, n)
    if dist.dist == "gamma":
        shape, theta = 1.0 / (cv * cv), mean * cv * cv
        return lambda gen, n: gen.gamma(shape, theta, n)
    mu, sigma = _lognormal_params(mean, cv)
    return lambda gen, n: gen.lognormal(mu, sigma, n)


def length_biased_sampler(dist: Dist, scale: float = 1.0) -> Sampler:
    """Draws from the length-biased version of ``dist`` (density proportional to ``x f(x)``)."""
    mean = dist.mean * scale
    cv = dist.cv
    if dist.dist == "fixed":
        return lambda gen, n: np.full(n, mean)
    if dist.dist == "exponential":
        return lambda gen, n: gen.gamma(2.0, mean, n)
    if dist.dist == "gamma":
        shape, theta = 1.0 / (cv * cv), mean * cv * cv
        return lambda gen, n: gen.gamma(shape + 1.0, theta, n)
    mu, sigma = _lognormal_params(mean, cv)
    return lambda gen, n: gen.lognormal(mu + sigma * sigma, sigma, n)


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
