"""Load a scenario: YAML with ``extends:``, tables by reference, ``--set`` overrides, validation.

Every problem becomes one line naming the key path, the bad value and the rule (see
:mod:`sim.config.messages`); :class:`sim.errors.ConfigError` carries them all at once.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from sim.config.changes import check_changes
from sim.config.checks import cross_check
from sim.config.limits import MAX_ABS_NUMBER, MAX_TABLE_BYTES, MAX_YAML_BYTES
from sim.config.messages import format_validation_error
from sim.config.overrides import apply_overrides, deep_merge, parse_override, set_value
from sim.config.safe_yaml import YamlProblem, decode_text, load_yaml
from sim.config.schema import Scenario
from sim.errors import ConfigError

__all__ = ["apply_overrides", "deep_merge", "parse_override", "set_value"]

M = TypeVar("M", bound=BaseModel)

POPULATION_COLUMNS = ("municipality", "year", "band", "persons")


def _yaml_error(where: str, exc: yaml.YAMLError) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        where = f"{where}:{mark.line + 1}:{mark.column + 1}"
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    kind = "YAML syntax error" if not isinstance(exc, YamlProblem) else "YAML error"
    return ConfigError(f"{where}: {kind}: {problem}")


def read_text(path: Path, limit: int = MAX_YAML_BYTES) -> str:
    """Read a UTF-8 text file of at most ``limit`` bytes; every failure is a one-line ConfigError."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise ConfigError(f"{path}: larger than {limit:,} bytes; not a config file".replace(",", " "))
    try:
        return decode_text(data)
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "is it a binary file?"
        ) from None


def read_yaml(path: Path) -> dict[str, Any]:
    """Read one YAML mapping, turning syntax errors into a one-line message with file, line and column."""
    text = read_text(path)
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise _yaml_error(str(path), exc) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level is a {type(data).__name__}, must be a mapping of keys")
    return data


def read_population_table(path: Path) -> dict[str, dict[int, dict[str, float]]]:
    """Read a tidy population CSV (municipality, year, band, persons, source) into nested mappings."""
    try:
        text = read_text(path, MAX_TABLE_BYTES)
    except ConfigError as exc:
        raise ConfigError([f"demand.population_table: {p}" for p in exc.problems]) from None
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ConfigError(f"demand.population_table: '{path}': not a CSV table ({exc})") from None
    if not rows or any(col not in rows[0] for col in POPULATION_COLUMNS):
        raise ConfigError(
            f"demand.population_table: '{path}' must have columns {', '.join(POPULATION_COLUMNS)}, source"
        )
    table: dict[str, dict[int, dict[str, float]]] = {}
    for line, row in enumerate(rows, start=2):
        try:
            year, persons = int(str(row["year"])), float(str(row["persons"]))
        except ValueError:
            raise ConfigError(
                f"demand.population_table: '{path}' line {line}: year {row['year']!r} / persons "
                f"{row['persons']!r} must be numbers"
            ) from None
        if not math.isfinite(persons) or persons < 0:
            raise ConfigError(
                f"demand.population_table: '{path}' line {line}: persons {row['persons']!r}: "
                "must be a finite number >= 0"
            )
        table.setdefault(str(row["municipality"]), {}).setdefault(year, {})[str(row["band"])] = persons
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


def number_problems(data: Any, path: str = "") -> list[str]:
    """A line for every number in ``data`` that is NaN, infinite or beyond ``MAX_ABS_NUMBER``."""
    problems: list[str] = []
    stack: list[tuple[str, Any]] = [(path, data)]
    while stack and len(problems) < 20:
        where, value = stack.pop()
        if isinstance(value, Mapping):
            stack.extend((f"{where}.{k}" if where else str(k), v) for k, v in value.items())
        elif isinstance(value, list | tuple):
            stack.extend((f"{where}.{i}" if where else str(i), v) for i, v in enumerate(value))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                problems.append(f"{where or '(top level)'}: {value!r}: must be a finite number")
            elif abs(value) > MAX_ABS_NUMBER:
                problems.append(
                    f"{where or '(top level)'}: {value:.3g}: beyond +-{MAX_ABS_NUMBER:.0e}, the largest "
                    "number hmsim accepts in a config"
                )
    return sorted(problems)


def validate_model(model: type[M], data: dict[str, Any], prefix: str = "") -> M:
    """Validate ``data`` against a pydantic model, raising ConfigError with one line per problem."""
    problems = number_problems(data, prefix)
    if problems:
        raise ConfigError(problems)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, model, prefix)) from None


def build_scenario(data: dict[str, Any], default_name: str = "scenario") -> Scenario:
    """Expand table references, validate and cross-check a raw config mapping into a Scenario."""
    from sim.governance import expand  # config-level presets (imports only sim.config)

    data = expand(copy.deepcopy(data))
    data.setdefault("name", default_name)
    demand = data.get("demand")
    if isinstance(demand, dict) and "population_table" in demand:
        table_path = demand.pop("population_table")
        if "population" in demand:
            raise ConfigError("demand: give either population or population_table, not both")
        demand["population"] = read_population_table(Path(str(table_path)))
    scenario = validate_model(Scenario, data)
    problems = cross_check(scenario)
    if scenario.changes and not problems:
        problems = check_changes(scenario, lambda raw: build_scenario(raw, default_name))
    if problems:
        raise ConfigError(problems)
    return scenario


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Load, override and validate a scenario config file."""
    raw = apply_overrides(load_raw(path), overrides, Scenario)
    return build_scenario(raw, default_name=Path(path).stem)


def scenario_dict(scenario: Scenario) -> dict[str, Any]:
    """The resolved scenario as plain JSON-compatible data (what the manifest records)."""
    return scenario.model_dump(mode="json")


def scenario_hash(scenario: Scenario) -> str:
    """A stable hash of the resolved scenario (sorted JSON, SHA-256, first 16 hex digits)."""
    text = json.dumps(scenario_dict(scenario), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
