"""``--set dotted.key=value`` overrides (and experiment scenario settings): parsing, wildcards, typo hints.

- The value is read as YAML (numbers, booleans, lists and mappings work) under hmsim's YAML limits.
- A key component with ``*`` is a wildcard over the keys there (shell-style, e.g. ``categories.*.x`` or
  ``municipalities.V*.home_care_factor``; ``*`` over a list means every item); it must match at least one
  key, and the override is applied to every match. Calibration and sensitivity specs use the same
  expansion (:func:`expand_key`).
- Given the config's schema, a name that does not exist in a mapping of named entries (depots,
  municipalities, categories, routes, ...) is reported as "unknown depot 'Vasteras'; did you mean
  'Västerås'?" instead of creating a new, incomplete entry that fails with several "missing" keys. Setting a
  whole new entry (``--set depots.New={...}``) still works.
- Keys match existing keys by their text, so ``demand.population.Town.2024.old`` reaches the year 2024.
- A mapping keyed by dotted names (an experiment's ``grid``) is reached whole:
  ``--set grid.demand.trend.growth=[0.0]`` sets the grid entry ``demand.trend.growth``.
"""

from __future__ import annotations

import copy
import difflib
import fnmatch
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import yaml
from pydantic import BaseModel

from sim.config.messages import unwrap_optional
from sim.config.safe_yaml import YamlProblem, load_yaml
from sim.errors import ConfigError

MAX_KEY_PARTS = 40

# how an entry of a named mapping is called in messages, by the mapping's field name
ENTRY_NAMES = {
    "depots": "depot",
    "municipalities": "municipality",
    "categories": "category",
    "routes": "route",
    "age_bands": "age band",
    "use_rates": "category",
    "population": "municipality",
    "population_growth": "age band",
    "scenarios": "scenario",
    "monthly_fee_sek": "category",
    "reporting_groups": "reporting group",
    "device_cost_shares": "principal",
}


def short(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters for an error line."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _yaml_line(label: str, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"{label}:{mark.line + 1}:{mark.column + 1}" if mark is not None else label
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{where}: YAML error: {problem}"


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``dotted.key=value`` (value read as YAML, so numbers, booleans and lists work)."""
    key, sep, raw = text.partition("=")
    label = f"--set {short(text)!r}"
    parts = key.strip().split(".")
    if not sep or not key.strip() or any(not part for part in parts):
        raise ConfigError(f"{label}: must look like dotted.key=value")
    if len(parts) > MAX_KEY_PARTS:
        raise ConfigError(f"{label}: more than {MAX_KEY_PARTS} key parts")
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except YamlProblem as exc:  # a limit or rule, not a plain string: say so
        raise ConfigError(_yaml_line(label, exc)) from None
    except yaml.YAMLError:
        value = raw
    return parts, value


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _step(annotation: Any, key: str) -> Any:
    """The annotation one key below ``annotation`` (None where the schema does not say)."""
    if _is_model(annotation):
        field = annotation.model_fields.get(key)
        return unwrap_optional(field.annotation) if field is not None else None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is dict and len(args) == 2:
        return unwrap_optional(args[1])
    if origin in (list, tuple) and args:
        return unwrap_optional(args[0])
    return None


def _find(node: Any, key: str) -> tuple[bool, Any]:
    """(found, actual key) of ``key`` in a mapping, matching keys by their text (so 2024 matches '2024')."""
    if isinstance(node, Mapping):
        if key in node:
            return True, key
        for k in node:
            if str(k) == key:
                return True, k
    return False, key


def _child(node: Any, key: str) -> Any:
    if isinstance(node, Mapping):
        found, actual = _find(node, key)
        return node[actual] if found else None
    if isinstance(node, list) and key.isdigit() and int(key) < len(node):
        return node[int(key)]
    return None


def _dotted_entry(node: Any, rest: list[str]) -> tuple[str, list[str]]:
    """The next key of ``rest`` and what follows it; where a mapping's keys themselves contain dots (an
    experiment's ``grid`` is keyed by dotted config keys), the longest run of parts naming such a key."""
    if isinstance(node, Mapping) and not _find(node, rest[0])[0]:
        for n in range(len(rest), 1, -1):
            if _find(node, ".".join(rest[:n]))[0]:
                return ".".join(rest[:n]), rest[n:]
    return rest[0], rest[1:]


def expand_key(
    data: Any, keys: list[str], label: str, model: type[BaseModel] | None = None
) -> list[list[str]]:
    """Every concrete key path ``keys`` stands for in ``data`` (wildcards expanded), checked against
    ``model``'s named mappings (see the module docstring)."""
    out: list[list[str]] = []

    def walk(node: Any, rest: list[str], annotation: Any, field: str, done: list[str]) -> None:
        if not rest:
            out.append(done)
            return
        key, tail = _dotted_entry(node, rest)
        where = ".".join([*done, key])
        below = _step(annotation, key)
        named = typing.get_origin(annotation) is dict
        entry = field if named else key
        if "*" in key:
            if isinstance(node, Mapping):
                names = [str(k) for k in node]
            elif isinstance(node, list):
                names = [str(i) for i in range(len(node))]
            else:
                raise ConfigError(f"{label}: {where}: the wildcard has nothing to match at {'.'.join(done)}")
            matched = [n for n in names if fnmatch.fnmatchcase(n, key)]
            if not matched:
                raise ConfigError(f"{label}: {where}: matches no key; keys there: {', '.join(names)}")
            for name in matched:
                walk(_child(node, name), tail, _step(annotation, name), entry, [*done, name])
            return
        found, _ = _find(node, key)
        if named and tail and isinstance(node, Mapping) and node and not found:
            valid = sorted(str(k) for k in node)
            what = ENTRY_NAMES.get(field, f"key of {field}" if field else "key")
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(f"{label}: unknown {what} {key!r}; {hint}valid: {', '.join(valid)}")
        walk(_child(node, key), tail, below, entry, [*done, key])

    walk(data, list(keys), model, "", [])
    return out


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``over`` into ``base``: mappings merge key by key, anything else is replaced."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _set_one(data: dict[str, Any], keys: list[str], value: Any, label: str, merge: bool) -> None:
    node: Any = data
    for depth, key in enumerate(keys[:-1]):
        where = ".".join(keys[: depth + 1])
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ConfigError(f"{label}: {where} must be an index below {len(node)}")
            node = node[int(key)]
        elif isinstance(node, dict):
            found, actual = _find(node, key)
            if not found or node[actual] is None:
                node[actual] = {}
            node = node[actual]
        else:
            raise ConfigError(f"{label}: {'.'.join(keys[:depth]) or '(top level)'} is a value, not a mapping")
    last = keys[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ConfigError(f"{label}: {'.'.join(keys)} must be an index below {len(node)}")
        node[int(last)] = value
    elif isinstance(node, dict):
        found, actual = _find(node, last)
        if merge and found and isinstance(value, Mapping) and isinstance(node[actual], Mapping):
            value = deep_merge(node[actual], value)
        node[actual] = value
    else:
        raise ConfigError(f"{label}: {'.'.join(keys[:-1]) or '(top level)'} is a value, not a mapping")


def set_value(
    data: dict[str, Any],
    keys: list[str],
    value: Any,
    label: str,
    model: type[BaseModel] | None = None,
    merge: bool = False,
) -> None:
    """Set ``data[keys[0]][keys[1]]...`` to ``value`` in place, for every path a wildcard stands for
    (missing mappings are created; with ``merge`` a mapping value merges into a mapping already there)."""
    for target in expand_key(data, keys, label, model):
        _set_one(data, target, copy.deepcopy(value), label, merge)


def apply_overrides(
    data: dict[str, Any], overrides: Iterable[str], model: type[BaseModel] | None = None
) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``dotted.key=value`` applied (see the module docstring)."""
    out = copy.deepcopy(data)
    for text in overrides:
        keys, value = parse_override(text)
        set_value(out, keys, value, f"--set {short(text)!r}", model)
    return out
