"""Dated changes: what a scenario changes from a date (``changes: [{from: 2027-01-01, set: {key: value}}]``).

A change sets dotted keys of the scenario from its date on. The changes are cumulative and applied in date
order: the scenario in force on a day is the base config with every change dated on or before that day
applied (the **timeline**, :func:`timeline`). Each state of the timeline is validated and cross-checked like
the base, so a change that breaks the config is rejected with its date and key.

Only keys the model or the economics can apply on a date are accepted (:data:`DATED_KEYS`, a registry of key
patterns with the layer that applies them and the rule for their date):

- the DES (``sim/model/changes.py``) applies staff counts per pool, route vehicles, capacity and weekdays on
  the change's day (from 00:00, so anything before the date is identical under common random numbers);
- which depot serves a municipality (``municipalities.*.depot``) or the patients it pays for
  (``municipalities.*.municipal_depot``): orders from the day on go to the new depot, rentals in progress
  transfer or run off (``municipalities.*.rentals_on_move``), stock levels follow the new split;
- stock levels per category (reorder point, order-up-to level, days of expected orders) are set per year in
  the DES, so their changes must start on 1 January;
- the economics (``sim/economics``) reads every ``economics.*`` and ``responsibility.*`` value per ledger
  month, so such changes must start on the first day of a month.

Anything else (a category's duration, the calendar, demand) cannot change mid-run and is rejected with the
reason; put it in the base config or in a separate scenario instead. A change dated on or before the
horizon start is rejected (put the value in the base config); one dated after the horizon end never applies
and is ignored, so a shortened run of a config with later changes (``--years 0.5``) still works.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from sim.config.base import Model, param


class Change(Model):
    """One dated change: from ``from`` on, each dotted key of ``set`` has the given value."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)

    start: date = Field(..., alias="from", description="first day the change is in force")
    set: dict[str, Any] = param(..., "-", "scenario", "dotted.key -> value from that day on", min_length=1)
    reason: str = param("", "-", "scenario", "why (a source or a decision), shown in messages and docs")


class GovernanceChoice(Model):
    """A governance option by name (a preset of ``sim/governance.py`` expanded into dated changes)."""

    option: str = param(
        ...,
        "-",
        "docs/governance.md",
        "today, joint_committee, municipal_federation, contract_cooperation, joint_company, "
        "limited_cooperation or outsourcing",
    )
    decided: date = param(
        ..., "date", "scenario", "decision date; the effective date follows from the notice"
    )
    parameters: dict[str, float] = param(
        {}, "-", "docs/governance.md", "preset parameters (within their ranges)"
    )
    rentals: Literal["transfer", "run_off"] = param(
        "transfer",
        "-",
        "assumption: the review leaves it open",
        "rentals in progress on the effective date transfer to the new operator or depot, or run off with "
        "the old one until they end (operator changes: their rent, work orders, pickup, reconditioning and "
        "the device's depreciation and interest in the old operator's books; limited cooperation: the "
        "region's depot keeps serving them); options changing neither have nothing to run off",
    )
    expanded: bool = param(False, "-", "-", "set when the preset has been expanded into changes (internal)")
    effective: date | None = param(None, "date", "-", "effective date, set on expansion (internal)")


@dataclass(frozen=True)
class DatedKey:
    """A key pattern that may change on a date: the layer applying it and the rule for its date."""

    pattern: str  # dotted, '*' matches one name
    layer: str  # "model" or "economics"
    first_of: str  # "" (any day), "month" or "year": the day the change must fall on

    def matches(self, key: str) -> bool:
        return re.fullmatch(self.regex, key) is not None

    @property
    def regex(self) -> str:
        parts = [
            r"[^.]+" if p == "*" else (r".+" if p == "**" else re.escape(p)) for p in self.pattern.split(".")
        ]
        return r"\.".join(parts)


POOLS = ("reconditioning_technicians", "service_technicians", "consultants")
DATED_KEYS: tuple[DatedKey, ...] = (
    *(DatedKey(f"depots.*.{pool}.count", "model", "") for pool in POOLS),
    DatedKey("transport.routes.*.vehicles", "model", ""),
    DatedKey("transport.routes.*.capacity_units", "model", ""),
    DatedKey("transport.routes.*.weekdays", "model", ""),
    DatedKey("municipalities.*.depot", "model", ""),
    DatedKey("municipalities.*.municipal_depot", "model", ""),
    DatedKey("categories.*.reorder_point_days", "model", "year"),
    DatedKey("categories.*.order_up_to_days", "model", "year"),
    DatedKey("economics.**", "economics", "month"),
    DatedKey("responsibility.**", "economics", "month"),
)
RULES = {
    "month": ("apply per ledger month", "the first day of a month"),
    "year": ("are set per year (stock levels follow each year's expected orders)", "1 January"),
}


def dated_key(key: str) -> DatedKey | None:
    """The registry entry for ``key`` (None: the key cannot change on a date)."""
    return next((k for k in DATED_KEYS if k.matches(key)), None)


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = copy.deepcopy(value)


@dataclass(frozen=True)
class State:
    """The scenario in force from ``start`` (inclusive) and the keys changed on that date."""

    start: date
    scenario: Any  # sim.config.schema.Scenario (not imported: schema imports this module)
    keys: tuple[str, ...]


def check_dates(changes: list[Change], start: date, end: date) -> list[str]:
    """Date and key problems of ``changes`` for a horizon ``[start, end)``, one line each."""
    problems = []
    for i, ch in enumerate(changes):
        where = f"changes.{i} (from {ch.start})"
        if ch.start <= start:
            problems.append(
                f"{where}: the date must be after the horizon start {start}; put the value in the base config"
            )
        elif ch.start >= end:
            continue  # after the horizon: it never applies (e.g. a shipped change in a shortened run)
        for key in ch.set:
            entry = dated_key(key)
            if entry is None:
                allowed = ", ".join(k.pattern for k in DATED_KEYS)
                problems.append(f"{where}: set.{key}: cannot change on a date (dated keys: {allowed})")
            elif (entry.first_of == "month" and ch.start.day != 1) or (
                entry.first_of == "year" and (ch.start.month, ch.start.day) != (1, 1)
            ):
                why, day = RULES[entry.first_of]
                problems.append(f"{where}: set.{key}: {entry.layer} changes {why}; use {day}")
    return problems


def timeline(
    scenario: Any, build: Callable[[dict[str, Any]], Any], prefix: str = ""
) -> tuple[list[State], list[str]]:
    """The scenario's states (the base first, then one per change date) and the problems found.

    ``build`` validates and cross-checks a raw mapping into a Scenario (raising ConfigError).
    """
    from sim.errors import ConfigError

    base_raw = scenario.model_dump(mode="python", by_alias=True)
    base_raw["changes"] = []
    states = [State(scenario.horizon.start_date, scenario.model_copy(update={"changes": []}), ())]
    problems: list[str] = []
    by_date: dict[date, list[tuple[int, Change]]] = {}
    end = horizon_end(scenario)
    for i, ch in enumerate(scenario.changes):
        if ch.start < end:  # changes after the horizon never apply
            by_date.setdefault(ch.start, []).append((i, ch))
    raw = base_raw
    for day in sorted(by_date):
        raw = copy.deepcopy(raw)
        keys: list[str] = []
        for _, ch in by_date[day]:
            for key, value in ch.set.items():
                _set(raw, key, value)
                keys.append(key)
        try:
            state = build(raw)
        except ConfigError as exc:
            label = ", ".join(f"changes.{i}" for i, _ in by_date[day])
            problems += [f"{prefix}{label} (from {day}): {p}" for p in exc.problems]
            continue
        except ValidationError as exc:  # pragma: no cover - build turns these into ConfigError
            problems.append(f"{prefix}changes (from {day}): {exc}")
            continue
        states.append(State(day, state, tuple(keys)))
    return states, problems


def state_on(states: list[State], day: date) -> State:
    """The state in force on ``day``."""
    current = states[0]
    for s in states[1:]:
        if s.start <= day:
            current = s
    return current


def horizon_end(scenario: Any) -> date:
    """The first day after the horizon (whole years end on the same date, fractions use 365.25 days)."""
    from datetime import timedelta

    start: date = scenario.horizon.start_date
    years: float = scenario.horizon.years
    whole = int(years)
    if whole == years:
        try:
            return start.replace(year=start.year + whole)
        except ValueError:  # 29 February
            return date(start.year + whole, 3, 1)
    return start + timedelta(days=round(years * 365.25))


def check_changes(scenario: Any, build: Callable[[dict[str, Any]], Any]) -> list[str]:
    """Every problem of the scenario's dated changes (dates, keys, and each state's validity)."""
    problems = check_dates(list(scenario.changes), scenario.horizon.start_date, horizon_end(scenario))
    if problems:
        return problems
    raw = scenario.model_dump(mode="python", by_alias=True)
    for i, ch in enumerate(scenario.changes):
        for key in ch.set:
            node: Any = raw
            parts = key.split(".")
            for depth, part in enumerate(parts):
                if not isinstance(node, dict) or part not in node:
                    where = ".".join(parts[:depth]) or "the scenario"
                    valid = ", ".join(sorted(node)) if isinstance(node, dict) else "none"
                    problems.append(
                        f"changes.{i} (from {ch.start}): set.{key}: {where} has no {part!r} (valid: {valid})"
                    )
                    break
                node = node[part]
    if problems:
        return problems
    return timeline(scenario, build)[1]


def states(scenario: Any) -> list[State]:
    """The validated timeline of a scenario (one state if it has no changes)."""
    if not scenario.changes:
        return [State(scenario.horizon.start_date, scenario, ())]
    from sim.config.loader import build_scenario
    from sim.errors import ConfigError

    found, problems = timeline(scenario, lambda raw: build_scenario(raw, scenario.name))
    if problems:
        raise ConfigError(problems)
    return found
