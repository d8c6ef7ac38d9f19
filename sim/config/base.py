"""Base of every config model: frozen, unknown keys rejected, parameters declared with unit and source."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def param(default: Any, unit: str, source: str, description: str, **constraints: Any) -> Any:
    """Declare a parameter with its unit and source (shown in errors, docs/config.md and the manifest)."""
    return Field(
        default,
        description=description,
        json_schema_extra={"unit": unit, "source": source},
        **constraints,
    )


class Model(BaseModel):
    """Base of every config section: frozen, unknown keys rejected, NaN and infinity rejected everywhere."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
