"""Write docs/config.md from the scenario schema (every parameter: type, default, unit, source, meaning).

Run ``python scripts/gen_config_docs.py`` after changing ``sim/config/schema.py``; a test fails when the
file is out of date.
"""

from __future__ import annotations

import sys
import types
import typing
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "docs" / "config.md"


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is dict:
        return f"mapping {_type_name(args[0])} -> {_type_name(args[1])}"
    if origin in (list, tuple):
        inner = ", ".join(_type_name(a) for a in args if a is not Ellipsis)
        return f"list of {inner}" if origin is list else f"({inner})"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation)


def _models(annotation: Any) -> list[type[BaseModel]]:
    found = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    for arg in typing.get_args(annotation):
        found += _models(arg)
    return found


def _default(field: Any) -> str:
    if field.default is PydanticUndefined:
        return "required"
    value = field.default
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return "see below" if value.model_dump() else "{}"
    text = repr(value)
    return text if len(text) < 40 else text[:37] + "..."


def document(
    model: type[BaseModel], path: str, seen: set[str], lines: list[str], root: str = "scenario"
) -> None:
    lines += ["", f"## `{path or root}` ({model.__name__})", ""]
    doc = (model.__doc__ or "").strip().splitlines()
    if doc and not doc[0].startswith("!!!"):
        lines += [doc[0], ""]
    lines += ["| key | type | default | unit | source | meaning |", "|---|---|---|---|---|---|"]
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        lines.append(
            f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {extra.get('unit', '')} | "
            f"{extra.get('source', '')} | {field.description or ''} |"
        )
        for sub in _models(field.annotation):
            key = f"{path}.{name}" if path else name
            if typing.get_origin(field.annotation) is dict:
                key += ".<name>"
            elif typing.get_origin(field.annotation) is list:
                key += ".<i>"
            if sub.__name__ not in seen:
                nested.append((key, sub))
                seen.add(sub.__name__)
    for key, sub in nested:
        document(sub, key, seen, lines, root)


def render() -> str:
    from sim.config.schema import Scenario

    lines = [
        "# Scenario configuration reference",
        "",
        "Generated from `sim/config/schema.py` by `python scripts/gen_config_docs.py`; do not edit by hand.",
        "Every key is checked: unknown keys are rejected with the valid ones listed; values out of range",
        "are reported with their key path, value and rule. Configs may `extends:` other files (mappings",
        "merge key by key, later files win) and every command takes `--set dotted.key=value` overrides. A",
        "population table can be given as `demand.population_table: file.csv` (columns municipality, year,",
        "band, persons, source), read relative to the config file.",
    ]
    document(Scenario, "", {"Scenario"}, lines)
    lines += [
        "",
        "# Accounting-only question reference (`hmsim accounts`)",
        "",
        "A separate config type, without simulation; example: `configs/accounts/vastmanland_threshold.yaml`.",
    ]
    from sim.config.accounts import Accounts

    document(Accounts, "", {"Accounts"}, lines, root="accounts question")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
