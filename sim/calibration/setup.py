"""What ``hmsim calibrate``, ``hmsim sensitivity`` and ``hmsim optimise`` share before any run: reading a
spec (YAML, ``--set`` overrides, validation into its model), the base config it names (spec-relative, with
the spec's fixed ``set`` and optional ``years``), settings on a copy of it, and the output folder.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from sim.config import load_raw
from sim.config.base import Model
from sim.config.loader import apply_overrides, read_yaml, set_value, validate_model
from sim.errors import ConfigError

M = TypeVar("M", bound=Model)


def load_spec_file(model: type[M], path: Path, overrides: Sequence[str] = ()) -> M:
    """A spec file read, overridden (``--set key=value``) and validated (ConfigError names the field)."""
    return validate_model(model, apply_overrides(read_yaml(path), list(overrides)))


def base_raw(base: str, fixed: dict[str, Any], folder: Path, years: float | None = None) -> dict[str, Any]:
    """The base config (``base`` relative to ``folder``) with the spec's fixed ``set`` overrides and, when
    given, its horizon in ``years``."""
    try:
        raw = load_raw(folder / base)
    except ConfigError as exc:
        raise ConfigError([f"base: {p}" for p in exc.problems]) from None
    for key, value in fixed.items():
        set_value(raw, key.split("."), value, f"set.{key}")
    if years is not None:
        raw.setdefault("horizon", {})["years"] = years
    return raw


def with_settings(raw: dict[str, Any], pairs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """A copy of ``raw`` with each (dotted key, value) set."""
    data = copy.deepcopy(raw)
    for key, value in pairs:
        set_value(data, key.split("."), value, key)
    return data


def out_folder(out: Path | None, command: str, name: str) -> Path:
    """``--out``, or ``results/<command>/<spec name>/``."""
    return out or Path("results") / command / name
