"""Cross-reference checks of a validated scenario: names that must match between sections."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from sim.config.limits import MAX_YEAR, MIN_YEAR
from sim.config.schema import Scenario
from sim.config.workload import check_work


def _unknown(path: str, name: str, valid: Iterable[str], what: str) -> str:
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"{path}: {name!r}: must name a {what}; {hint}valid: {', '.join(valid)}"


def cross_check(s: Scenario) -> list[str]:
    """Every broken cross-reference in ``s``, one line each (empty if consistent)."""
    problems: list[str] = []
    depots, munis, cats = set(s.depots), set(s.municipalities), set(s.categories)
    bands = set(s.demand.age_bands)

    for name, muni in s.municipalities.items():
        if muni.depot not in depots:
            problems.append(_unknown(f"municipalities.{name}.depot", muni.depot, depots, "depot"))
        if muni.municipal_depot is not None and muni.municipal_depot not in depots:
            problems.append(
                _unknown(f"municipalities.{name}.municipal_depot", muni.municipal_depot, depots, "depot")
            )

    # a route serves its municipalities from its depot: each (municipality, depot) pair on one route at most;
    # every municipality needs a route from its depot (and from its municipal depot, if it has one); a route
    # from any other depot must have 0 vehicles (prepared for a dated change that moves the municipality)
    served: dict[tuple[str, str], str] = {}
    for rname, route in s.transport.routes.items():
        base = f"transport.routes.{rname}"
        if route.depot not in depots:
            problems.append(_unknown(f"{base}.depot", route.depot, depots, "depot"))
        for day in route.weekdays:
            if day not in s.calendar.workdays:
                problems.append(f"{base}.weekdays: {day!r}: must be a workday (calendar.workdays)")
        for i, m in enumerate(route.municipalities):
            if m not in munis:
                problems.append(_unknown(f"{base}.municipalities.{i}", m, munis, "municipality"))
                continue
            if (m, route.depot) in served:
                problems.append(
                    f"{base}.municipalities.{i}: {m!r}: already served from depot {route.depot!r} by route "
                    f"{served[m, route.depot]!r}"
                )
            served[m, route.depot] = rname
            muni = s.municipalities[m]
            if route.depot not in (muni.depot, muni.municipal_depot) and route.vehicles > 0:
                problems.append(
                    f"{base}.municipalities.{i}: {m!r}: belongs to depot {muni.depot!r}, "
                    f"the route leaves from {route.depot!r} (only a route with vehicles: 0 may wait for a "
                    "dated change of the municipality's depot)"
                )
    for m, muni in sorted(s.municipalities.items()):
        if muni.depot in depots and (m, muni.depot) not in served:
            problems.append(
                f"municipalities.{m}: not served by any transport.routes entry from its depot {muni.depot!r}"
            )
        extra = muni.municipal_depot
        if extra is not None and extra in depots and (m, extra) not in served:
            problems.append(
                f"municipalities.{m}.municipal_depot: {extra!r}: "
                f"no transport.routes entry serves {m!r} from it"
            )

    for c in sorted(cats - set(s.demand.use_rates)):
        problems.append(f"demand.use_rates.{c}: missing; every category needs use rates")
    for c, rates in s.demand.use_rates.items():
        if c not in cats:
            problems.append(_unknown("demand.use_rates", c, cats, "category"))
        for band, rate in rates.items():
            if band not in bands:
                problems.append(_unknown(f"demand.use_rates.{c}", band, bands, "band of demand.age_bands"))
            elif rate < 0:
                problems.append(f"demand.use_rates.{c}.{band}: {rate!r}: must be >= 0")

    for m in sorted(munis):
        years = s.demand.population.get(m)
        if not years:
            problems.append(f"demand.population.{m}: missing; every municipality needs population by band")
            continue
        for year, by_band in sorted(years.items()):
            if not MIN_YEAR <= year <= MAX_YEAR:
                problems.append(f"demand.population.{m}.{year}: year must lie in {MIN_YEAR} to {MAX_YEAR}")
            for band in sorted(bands - set(by_band)):
                problems.append(f"demand.population.{m}.{year}.{band}: missing; every band needs persons")
            for band, persons in by_band.items():
                if persons < 0:
                    problems.append(f"demand.population.{m}.{year}.{band}: {persons!r}: must be >= 0")
    for band, growth in s.demand.population_growth.items():
        if band not in bands:
            problems.append(_unknown("demand.population_growth", band, bands, "band of demand.age_bands"))
        elif not -1 < growth < 1:
            problems.append(
                f"demand.population_growth.{band}: {growth!r}: must be > -1 and < 1 (a share per year)"
            )
    for band, change in s.demand.population_scenario.items():
        if band not in bands:
            problems.append(_unknown("demand.population_scenario", band, bands, "band of demand.age_bands"))
        from_year = change.base_year if change.base_year is not None else s.horizon.start_date.year
        if from_year >= change.target_year:
            problems.append(
                f"demand.population_scenario.{band}.target_year: {change.target_year}: must be after the "
                f"base year {from_year} (base_year, default the start year)"
            )
        for m in change.municipalities:
            if m not in munis:
                problems.append(
                    _unknown(f"demand.population_scenario.{band}.municipalities", m, munis, "municipality")
                )

    for i, shock in enumerate(s.demand.shocks):
        for c in shock.categories:
            if c not in cats:
                problems.append(_unknown(f"demand.shocks.{i}.categories", c, cats, "category"))
        for m in shock.municipalities:
            if m not in munis:
                problems.append(_unknown(f"demand.shocks.{i}.municipalities", m, munis, "municipality"))
        if shock.end_date is not None and shock.end_date < shock.start_date:
            problems.append(f"demand.shocks.{i}.end_date: {shock.end_date}: must not be before start_date")
    for day, weight in s.demand.weekday_weights.items():
        if day not in s.calendar.workdays:
            problems.append(f"demand.weekday_weights.{day}: must be a workday (calendar.workdays)")
        elif weight < 0:
            problems.append(f"demand.weekday_weights.{day}: {weight!r}: must be >= 0")
    if not any(s.demand.weekday_weights.get(day, 1.0) > 0 for day in s.calendar.workdays):
        problems.append("demand.weekday_weights: 0 on every workday; at least one workday needs orders")
    for i, factor in enumerate(s.demand.monthly_factors):
        if factor < 0:
            problems.append(f"demand.monthly_factors.{i}: {factor!r}: must be >= 0")
    if sum(s.demand.monthly_factors) <= 0:
        problems.append("demand.monthly_factors: all 0; they are normalised to mean 1, so one must be > 0")
    if s.economics is not None:
        problems += _check_economics(s, cats)
    if not problems:
        problems += check_work(s)
    return problems


def _check_economics(s: Scenario, cats: set[str]) -> list[str]:
    from sim.economics.ledger import COST_ACCOUNTS, REVENUE_ACCOUNTS

    econ = s.economics
    assert econ is not None
    problems: list[str] = []
    for i, account in enumerate(econ.settlement.markup_cost_accounts):
        if account not in COST_ACCOUNTS:
            problems.append(
                _unknown(
                    f"economics.settlement.markup_cost_accounts.{i}", account, COST_ACCOUNTS, "cost account"
                )
            )
    for group, accounts in econ.reporting_groups.items():
        for i, account in enumerate(accounts):
            if account not in (*COST_ACCOUNTS, *REVENUE_ACCOUNTS):
                problems.append(
                    _unknown(
                        f"economics.reporting_groups.{group}.{i}",
                        account,
                        (*COST_ACCOUNTS, *REVENUE_ACCOUNTS),
                        "ledger account",
                    )
                )
    summer = econ.costs.summer_substitutes
    weeks = s.calendar.summer_weeks[1] - s.calendar.summer_weeks[0] + 1
    if summer.leave_weeks is not None and summer.leave_weeks > weeks:
        # below the DES's own absence ((1 - summer_staffing) x weeks) is allowed: no substitutes then, so
        # that a sensitivity analysis can vary summer_staffing alone
        problems.append(
            f"economics.costs.summer_substitutes.leave_weeks: {summer.leave_weeks} is more than the {weeks} "
            f"summer weeks (calendar.summer_weeks {list(s.calendar.summer_weeks)})"
        )
    for c in econ.rent.monthly_fee_sek:
        if c not in cats:
            problems.append(_unknown("economics.rent.monthly_fee_sek", c, cats, "category"))
    if econ.rent.kind == "function_rent":
        for c in sorted(cats - set(econ.rent.monthly_fee_sek)):
            if s.categories[c].rented:
                problems.append(
                    f"economics.rent.monthly_fee_sek.{c}: missing; function rent needs a fee per "
                    "rented category"
                )
    return problems
