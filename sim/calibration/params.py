"""Parameters of a search: dotted config keys (with ``*`` wildcards), bounds, groups.

A parameter names one or more keys. ``*`` in a key component is a shell-style wildcard over the keys of a
mapping (or the indexes of a list) at that level, as in ``--set`` (:mod:`sim.config.overrides`): so
``categories.*.fitting_share`` is one key per category and ``municipalities.*.special_housing_factor``
one per municipality. Branches where the rest of the path does not exist are skipped
(``categories.*.rental_duration.1.mean`` reaches only two-component durations, which the ``--set``
expansion would reject), but a key that matches nothing is an error. Keys are matched against the fully
resolved scenario (defaults included) and set on the raw config, so a default can be fitted too.

Modes: ``set`` gives every key the parameter's value (units of the key); ``scale`` multiplies every key's
base value by the parameter (a factor, 1 = unchanged), so one parameter moves a group of keys and keeps
their relative shape. Scale parameters may share keys, and then their factors multiply: a level on every
use rate and a second factor on the bands under 65 fit the volume and the holders' age profile without a
key per target. A key set by a ``set`` parameter belongs to it alone.

``plausible`` is the range a value can have physically or by the sources (a purchase-price factor near the
list prices, a municipality factor near 1); the bounds are where the search stops. A fit outside the
plausible range, or at a bound, is flagged in the fit report: the parameter absorbs something the model
lacks. The optimisers work on the unit cube: ``u = (t(p) - t(lo)) / (t(hi) - t(lo))`` with
``t = log`` for ``log: true`` (the default for ``scale``) and the identity otherwise.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import model_validator

from sim.config.base import Model, param
from sim.errors import ConfigError


class ParameterSpec(Model):
    keys: list[str] = param(..., "-", "-", "dotted config keys, * matches every key at that level")
    exclude: list[str] = param([], "-", "-", "dotted key patterns (shell-style) left out of the matches")
    mode: Literal["set", "scale"] = param("set", "-", "-", "set the keys to the value, or scale them by it")
    bounds: tuple[float, float] = param(..., "-", "-", "lower and upper bound of the parameter")
    start: float | None = param(None, "-", "-", "starting value (default: the base value, or 1 to scale)")
    log: bool | None = param(None, "-", "-", "search on a log scale (default: true for scale)")
    plausible: tuple[float, float] | None = param(
        None, "-", "-", "range the value can physically have; a fit outside it is flagged (default: bounds)"
    )
    integer: bool = param(False, "-", "-", "whole numbers only (optimise)")
    unit: str = param("", "-", "-", "unit of the value (for the fitted file and reports)")
    note: str = param("", "-", "-", "what the parameter stands for, or its source (reports)")

    @model_validator(mode="after")
    def _check(self) -> ParameterSpec:
        lo, hi = self.bounds
        if not lo < hi:
            raise ValueError(f"bounds {list(self.bounds)}: lower must be below upper")
        if self.start is not None and not lo <= self.start <= hi:
            raise ValueError(f"start {self.start}: outside bounds {list(self.bounds)}")
        if self.use_log and lo <= 0:
            raise ValueError(f"bounds {list(self.bounds)}: a log scale needs a positive lower bound")
        if not self.keys:
            raise ValueError("keys: give at least one")
        if self.plausible is not None and not self.plausible[0] <= self.plausible[1]:
            raise ValueError(f"plausible {list(self.plausible)}: lower must not be above upper")
        return self

    @property
    def use_log(self) -> bool:
        return self.log if self.log is not None else self.mode == "scale"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def expand_key(data: Any, dotted: str) -> list[str]:
    """Every concrete dotted key of ``data`` matching ``dotted`` (``*`` = any key or list index)."""
    parts = dotted.split(".")
    if any(not p for p in parts):
        raise ConfigError(f"{dotted!r}: must be a dotted.key")

    def walk(node: Any, i: int, prefix: list[str]) -> list[str]:
        if i == len(parts):
            return [".".join(prefix)]
        part = parts[i]
        if isinstance(node, Mapping):
            if "*" in part:
                names = [str(k) for k in node if fnmatch.fnmatchcase(str(k), part)]
            else:
                names = [part] if part in node else []
            return [m for k in names for m in walk(node[k], i + 1, [*prefix, k])]
        if isinstance(node, Sequence) and not isinstance(node, str):
            if "*" in part:
                idx = [j for j in range(len(node)) if fnmatch.fnmatchcase(str(j), part)]
            else:
                idx = [int(part)] if part.isdigit() else []
            return [m for j in idx if j < len(node) for m in walk(node[j], i + 1, [*prefix, str(j)])]
        return []

    return walk(data, 0, [])


def lookup(data: Any, dotted: str) -> Any:
    node = data
    for part in dotted.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


@dataclass(frozen=True)
class Parameter:
    """A parameter resolved against a scenario: its concrete keys and their base values."""

    name: str
    spec: ParameterSpec
    keys: tuple[str, ...]
    base: tuple[float, ...]

    @property
    def lo(self) -> float:
        return self.spec.bounds[0]

    @property
    def hi(self) -> float:
        return self.spec.bounds[1]

    @property
    def start(self) -> float:
        if self.spec.start is not None:
            return self.spec.start
        if self.spec.mode == "scale":
            return 1.0
        return float(min(max(sum(self.base) / len(self.base), self.lo), self.hi))

    def _t(self, x: float) -> float:
        return math.log(x) if self.spec.use_log else x

    def to_unit(self, value: float) -> float:
        return (self._t(value) - self._t(self.lo)) / (self._t(self.hi) - self._t(self.lo))

    def from_unit(self, u: float) -> float:
        u = min(max(u, 0.0), 1.0)
        t = self._t(self.lo) + u * (self._t(self.hi) - self._t(self.lo))
        value = math.exp(t) if self.spec.use_log else t
        return float(round(value)) if self.spec.integer else value

    def settings(self, value: float) -> list[tuple[str, Any]]:
        """(dotted key, value) for every key at parameter value ``value``."""
        out: list[tuple[str, Any]] = []
        for key, base in zip(self.keys, self.base, strict=True):
            v = base * value if self.spec.mode == "scale" else value
            out.append((key, round(v) if self.spec.integer else float(v)))
        return out


def resolve(specs: Mapping[str, ParameterSpec], resolved: Mapping[str, Any], label: str) -> list[Parameter]:
    """Resolve every parameter's keys against the resolved scenario; reject overlaps and non-numbers."""
    problems: list[str] = []
    owner: dict[str, str] = {}
    out: list[Parameter] = []
    for name, spec in specs.items():
        keys: list[str] = []
        for pattern in spec.keys:
            try:
                found = expand_key(resolved, pattern)
            except ConfigError as exc:
                problems += [f"{label}.{name}.keys: {p}" for p in exc.problems]
                continue
            if not found:
                problems.append(f"{label}.{name}.keys: {pattern!r}: matches no key of the base config")
            keys += [
                k for k in found if k not in keys and not any(fnmatch.fnmatchcase(k, x) for x in spec.exclude)
            ]
        bases: list[float] = []
        for key in keys:
            value = lookup(resolved, key)
            if not _is_number(value):
                problems.append(f"{label}.{name}: {key} = {value!r}: not a number")
            bases.append(float(value) if _is_number(value) else math.nan)
            other = owner.get(key)
            if other is not None and "set" in (spec.mode, specs[other].mode):
                problems.append(f"{label}.{name}: {key} is also set by parameter {other!r}")
            owner.setdefault(key, name)
        out.append(Parameter(name=name, spec=spec, keys=tuple(keys), base=tuple(bases)))
    if problems:
        raise ConfigError(problems)
    return out


def check_bounds(params: Sequence[Parameter], build: Callable[[list[tuple[str, Any]]], object]) -> None:
    """Build the config with every parameter at its lower, then at its upper bound; a key pushed outside its
    own limits (a share above 1, say) names the parameter and the bound (one line each)."""
    owner = {key: p for p in params for key in p.keys}
    problems: list[str] = []
    for side, pick in (("lower", lambda p: p.lo), ("upper", lambda p: p.hi)):
        try:
            build(settings(params, [pick(p) for p in params]))
        except ConfigError as exc:
            for problem in exc.problems:
                named = [p for key, p in owner.items() if key in problem]
                if named:
                    p = max(named, key=lambda q: max(len(k) for k in q.keys if k in problem))
                    bound = p.lo if side == "lower" else p.hi
                    problems.append(f"parameters.{p.name}: at its {side} bound {bound:g}: {problem}")
                else:
                    problems.append(f"parameters at their {side} bounds: {problem}")
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)))


def settings(params: Sequence[Parameter], values: Sequence[float]) -> list[tuple[str, Any]]:
    """(dotted key, value) for every key, in first-claim order; scale factors on a shared key multiply."""
    out: dict[str, Any] = {}
    scaled: dict[str, tuple[float, float, bool]] = {}  # key -> (base, product of factors, integer)
    for p, v in zip(params, values, strict=True):
        if p.spec.mode != "scale":
            out.update(p.settings(v))
            continue
        for key, base in zip(p.keys, p.base, strict=True):
            _, factor, integer = scaled.get(key, (base, 1.0, False))
            scaled[key] = (base, factor * v, integer or p.spec.integer)
            out.setdefault(key, None)
    for key, (base, factor, integer) in scaled.items():
        out[key] = round(base * factor) if integer else float(base * factor)
    return list(out.items())


def owners(params: Sequence[Parameter]) -> dict[str, list[str]]:
    """Per key, the parameters that set or scale it."""
    out: dict[str, list[str]] = {}
    for p in params:
        for key in p.keys:
            out.setdefault(key, []).append(p.name)
    return out


def implausible(param: Parameter, value: float) -> str:
    """``"below"`` / ``"above"`` the parameter's plausible range, or ``""``."""
    if param.spec.plausible is None:
        return ""
    lo, hi = param.spec.plausible
    return "below" if value < lo else "above" if value > hi else ""
