"""Apply a scenario's dated changes to the DES: a small scheduler calling setters on components.

The scenario's timeline (:func:`sim.config.changes.states`) says which keys change on which date; each model
key pattern has an applier here (:data:`APPLIERS`, a registry; a model key without one is an error). A change
takes effect at 00:00 of its day:

- staff counts per pool: the pool's servers from that day on (``ServerPool.servers`` is per day, so the
  change is written into it when the run is built; summer staffing still applies);
- route vehicles and capacity: the route's capacity is reset by an event at 00:00 of the day;
- route weekdays: the routes running on each day from that day on, and the promised delivery day of
  orders planned from that day on (orders planned earlier keep the promise made under the old timetable);
- stock levels of a category (reorder point and order-up-to level, days of expected orders) from the year
  of the change on (changes on 1 January).

Nothing before the date is touched and no random number is drawn, so with common random numbers a run with
a change is identical to the run without it until the change's day (``tests/test_changes.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sim.config.changes import dated_key, states
from sim.config.schema import WEEKDAYS
from sim.model.workshop import POOL_NAMES

if TYPE_CHECKING:
    from sim.config.schema import Scenario
    from sim.model.engine import Simulation

Applier = Callable[["Simulation", list[str], "Scenario", int], None]


def _staff_count(sim: Simulation, key: list[str], new: Scenario, day: int) -> None:
    depot, pool_name = key[1], key[2]
    count = getattr(new.depots[depot], pool_name).count
    pool = sim.pools[sim.depot_index[depot]][POOL_NAMES.index(pool_name)]
    staffing = sim.calendar.staffing.tolist()
    for d in range(day, len(pool.servers)):
        pool.servers[d] = round(count * staffing[d])


def _route_capacity(sim: Simulation, key: list[str], new: Scenario, day: int) -> None:
    name = key[2]
    route = new.transport.routes[name]
    r = sim.routes.names.index(name)
    capacity = route.vehicles * route.capacity_units

    def reset(_: Any) -> None:
        sim.routes.capacity[r] = capacity

    sim.env.timeout(day - sim.env.now).callbacks.append(reset)


def _route_weekdays(sim: Simulation, key: list[str], new: Scenario, day: int) -> None:
    name = key[2]
    routes = sim.routes
    cal = sim.calendar
    r = routes.names.index(name)
    days = {WEEKDAYS.index(w) for w in new.transport.routes[name].weekdays}
    n = cal.n_days
    for d in range(day, n):
        runs = [x for x in routes.runs[d] if x != r]
        if cal.is_workday[d] and int(cal.weekday[d]) in days:
            runs.append(r)
            runs.sort()
        routes.runs[d] = runs
    for m in routes.route_munis[r]:
        nxt = routes.next_run[m]
        following = n
        for d in range(n - 1, day - 1, -1):
            nxt[d] = following
            if r in routes.runs[d]:
                following = d


def _stock_levels(sim: Simulation, key: list[str], new: Scenario, day: int) -> None:
    """Reorder point and order-up-to level of a category from the change's year on (days of orders)."""
    stock = sim.stock
    c = sim.category_names.index(key[1])
    old = sim.scenario.categories[key[1]]
    spec = new.categories[key[1]]
    first = sim.calendar.year_index(day)
    for y in range(first, len(stock.levels)):
        for k in range(sim.K):
            _, up_to = stock.levels[y][k][c]
            per_day = up_to / old.order_up_to_days if old.order_up_to_days > 0 else 0.0
            stock.levels[y][k][c] = (per_day * spec.reorder_point_days, per_day * spec.order_up_to_days)


APPLIERS: dict[str, Applier] = {
    **{f"depots.*.{pool}.count": _staff_count for pool in POOL_NAMES},
    "transport.routes.*.vehicles": _route_capacity,
    "transport.routes.*.capacity_units": _route_capacity,
    "transport.routes.*.weekdays": _route_weekdays,
    "categories.*.reorder_point_days": _stock_levels,
    "categories.*.order_up_to_days": _stock_levels,
}


def apply_changes(sim: Simulation) -> int:
    """Schedule every model change of ``sim.scenario``; the number of changes applied."""
    found = states(sim.scenario)
    start = sim.scenario.horizon.start_date
    applied = 0
    for state in found[1:]:
        day = (state.start - start).days
        for key in state.keys:
            entry = dated_key(key)
            if entry is None or entry.layer != "model":
                continue
            if entry.pattern not in APPLIERS:
                raise KeyError(f"no model applier for dated key {entry.pattern}")
            APPLIERS[entry.pattern](sim, key.split("."), state.scenario, day)
            applied += 1
    return applied
