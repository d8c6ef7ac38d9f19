"""Load a scenario: YAML with ``extends:``, tables by reference, ``--set`` overrides, validation.

Every problem becomes one line naming the key path, the bad value and the rule (see
:mod:`sim.config.messages`); :class:`sim.errors.ConfigError` carries them all at once.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from sim.config.checks import cross_check
from sim.config.messages import format_validation_error
from sim.config.schema import Scenario
from sim.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

POPULATION_COLUMNS = ("municipality", "year", "band", "persons")


def read_yaml(path: Path) -> dict[str, Any]:
    """Read one YAML mapping, turning syntax errors into a one-line message with file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level is a {type(data).__name__}, must be a mapping of keys")
    return data


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``over`` into ``base``: mappings merge key by key, anything else is replaced."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_population_table(path: Path) -> dict[str, dict[int, dict[str, float]]]:
    """Read a tidy population CSV (municipality, year, band, persons, source) into nested mappings."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError:
        raise ConfigError(f"demand.population_table: '{path}' not found") from None
    if not rows or any(col not in rows[0] for col in POPULATION_COLUMNS):
        raise ConfigError(
            f"demand.population_table: '{path}' must have columns {', '.join(POPULATION_COLUMNS)}, source"
        )
    table: dict[str, dict[int, dict[str, float]]] = {}
    for line, row in enumerate(rows, start=2):
        try:
            year, persons = int(row["year"]), float(row["persons"])
        except ValueError:
            raise ConfigError(
                f"demand.population_table: '{path}' line {line}: year {row['year']!r} / persons "
                f"{row['persons']!r} must be numbers"
            ) from None
        table.setdefault(row["municipality"], {}).setdefault(year, {})[row["band"]] = persons
    return table


def _resolve_relative(data: dict[str, Any], folder: Path) -> None:
    """Make file references declared in one YAML file absolute, relative to that file's folder."""
    demand = data.get("demand")
    if isinstance(demand, dict) and isinstance(demand.get("population_table"), str):
        demand["population_table"] = str((folder / demand["population_table"]).resolve())


def load_raw(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Load a YAML config and the files it ``extends`` (earlier bases first, the file itself last)."""
    path = Path(path).resolve()
    if path in _seen:
        chain = " -> ".join(p.name for p in (*_seen, path))
        raise ConfigError(f"extends: cycle {chain}")
    data = read_yaml(path)
    _resolve_relative(data, path.parent)
    bases = data.pop("extends", [])
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(f"{path.name}: extends: {bases!r} must be a file path or a list of file paths")
    merged: dict[str, Any] = {}
    for base in bases:
        merged = deep_merge(merged, load_raw(path.parent / base, (*_seen, path)))
    return deep_merge(merged, data)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``dotted.key=value`` (value read as YAML, so numbers, booleans and lists work)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise ConfigError(f"--set {text!r}: must look like dotted.key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def set_value(data: dict[str, Any], keys: list[str], value: Any, label: str) -> None:
    """Set ``data[keys[0]][keys[1]]...`` to ``value`` in place (missing mappings are created)."""
    node: Any = data
    for depth, key in enumerate(keys[:-1]):
        where = ".".join(keys[: depth + 1])
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ConfigError(f"{label}: {where} must be an index below {len(node)}")
            node = node[int(key)]
        elif isinstance(node, dict):
            if node.get(key) is None:
                node[key] = {}
            node = node[key]
        else:
            raise ConfigError(f"{label}: {'.'.join(keys[:depth])} is a value, not a mapping")
    last = keys[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ConfigError(f"{label}: {'.'.join(keys)} must be an index below {len(node)}")
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(f"{label}: {'.'.join(keys[:-1])} is a value, not a mapping")


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``dotted.key=value`` applied (missing mappings are created)."""
    out = copy.deepcopy(data)
    for text in overrides:
        keys, value = parse_override(text)
        set_value(out, keys, value, f"--set {text!r}")
    return out


def validate_model(model: type[M], data: dict[str, Any], prefix: str = "") -> M:
    """Validate ``data`` against a pydantic model, raising ConfigError with one line per problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, model, prefix)) from None


def build_scenario(data: dict[str, Any], default_name: str = "scenario") -> Scenario:
    """Expand table references, validate and cross-check a raw config mapping into a Scenario."""
    data = copy.deepcopy(data)
    data.setdefault("name", default_name)
    demand = data.get("demand")
    if isinstance(demand, dict) and "population_table" in demand:
        table_path = demand.pop("population_table")
        if "population" in demand:
            raise ConfigError("demand: give either population or population_table, not both")
        demand["population"] = read_population_table(Path(str(table_path)))
    scenario = validate_model(Scenario, data)
    problems = cross_check(scenario)
    if problems:
        raise ConfigError(problems)
    return scenario


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Load, override and validate a scenario config file."""
    raw = apply_overrides(load_raw(path), overrides)
    return build_scenario(raw, default_name=Path(path).stem)


def scenario_dict(scenario: Scenario) -> dict[str, Any]:
    """The resolved scenario as plain JSON-compatible data (what the manifest records)."""
    return scenario.model_dump(mode="json")


def scenario_hash(scenario: Scenario) -> str:
    """A stable hash of the resolved scenario (sorted JSON, SHA-256, first 16 hex digits)."""
    text = json.dumps(scenario_dict(scenario), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
