"""Turn pydantic validation errors into one line per problem: key path, bad value, rule.

Unknown keys are reported with a close match and the valid keys, found by walking the model class along
the error's location.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError


def format_value(value: Any, limit: int = 60) -> str:
    """A short readable form of a config value for an error line."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list) and len(repr(value)) > limit:
        return f"a list of {len(value)} items"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def unwrap_optional(annotation: Any) -> Any:
    """Strip Optional/Union with None to the single remaining type."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return unwrap_optional(args[0])
    return annotation


def model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class reached by following ``loc`` from ``model`` (None if it leaves the models)."""
    current: Any = model
    remaining = list(loc)
    while remaining:
        current = unwrap_optional(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            key = remaining.pop(0)
            field = current.model_fields.get(str(key))
            if field is None:
                return None
            current = field.annotation
            continue
        origin = typing.get_origin(current)
        args = typing.get_args(current)
        if origin is dict and len(args) == 2:
            remaining.pop(0)
            current = args[1]
        elif origin in (list, tuple) and args:
            remaining.pop(0)
            current = args[0]
        else:
            return None
    current = unwrap_optional(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _rule(error: Any) -> str:
    msg = str(error.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    msg = msg.replace("Input should be", "must be").replace("Input should have", "must have")
    return msg[0].lower() + msg[1:] if msg else msg


def _path(prefix: str, loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    text = ".".join(parts)
    if prefix:
        return f"{prefix}.{text}" if text else prefix
    return text or "(top level)"


def format_validation_error(exc: ValidationError, model: type[BaseModel], prefix: str = "") -> list[str]:
    """One line per problem in ``exc``, each naming the key path, the bad value and the rule."""
    lines: list[str] = []
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        kind = error.get("type", "")
        path = _path(prefix, loc)
        if kind == "extra_forbidden":
            parent = model_at(model, loc[:-1])
            valid = sorted(parent.model_fields) if parent else []
            key = str(loc[-1]) if loc else ""
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            lines.append(f"{path}: unknown key; {hint}valid keys: {', '.join(valid)}")
        elif kind == "missing":
            lines.append(f"{path}: missing; a value is required")
        elif error.get("input") is not None and not isinstance(error.get("input"), dict):
            lines.append(f"{path}: {format_value(error['input'])}: {_rule(error)}")
        elif not loc and not prefix:
            lines.append(_rule(error))  # a rule over several top-level keys names them itself
        else:
            lines.append(f"{path}: {_rule(error)}")
    return lines
