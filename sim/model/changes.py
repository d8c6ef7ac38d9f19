"""Apply a scenario's dated changes to the DES: a small scheduler calling setters on components.

The scenario's timeline (:func:`sim.config.changes.states`) says which keys change on which date; each model
key pattern has an applier here (:data:`APPLIERS`, a registry; a model key without one is an error). A change
takes effect at 00:00 of its day:

- staff counts per pool: the pool's servers from that day on (``ServerPool.servers`` is per day, so the
  change is written into it when the run is built; summer staffing still applies), and for consultants
  also their fitting calendar's daily hours (``FittingBook.set_count``), where their capacity acts;
- route vehicles and capacity: the route's capacity is reset by an event at 00:00 of the day;
- route weekdays: the routes running on each day from that day on, and the promised delivery day of
  orders planned from that day on (orders planned earlier keep the promise made under the old timetable);
- which depot serves a municipality (``municipalities.*.depot``) or the patients it pays for
  (``municipalities.*.municipal_depot``): orders placed from that day on go to the new depot (fittings,
  picking, its routes); orders placed earlier are finished by the old one. The change passes its rule
  (who pays for the patient -> which depot) to the order book (``OrderBook.serve_from``), which owns each
  order's depot and applies the rule to the drawn year and to every later year when it is drawn. At 00:00
  of the day the stock levels of the change's year on are split between the depots by the orders each
  will serve (the county's total unchanged), and rentals in progress of the moved patients either
  transfer to the new depot (its technicians service them, its routes collect them, returns go to its
  stock) or run off with the old one (``municipalities.*.rentals_on_move``);
- stock levels of a category (reorder point and order-up-to level, days of expected orders) from the year
  of the change on (changes on 1 January).

Nothing before the date is touched and no random number is drawn, so with common random numbers a run with
a change is identical to the run without it until the change's day (``tests/test_changes.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.config.changes import dated_key, states
from sim.config.schema import WEEKDAYS
from sim.model.demand import OrderStream
from sim.model.orders import ServingRule
from sim.model.workshop import POOL_NAMES
from sim.responsibility import municipality_pays

if TYPE_CHECKING:
    from sim.config.schema import Scenario
    from sim.model.engine import Simulation

AFTER_MIDNIGHT = 1e-6  # days (0.09 s): after the day's 00:00 bookkeeping, before anything else happens
Applier = Callable[["Simulation", list[str], "Scenario", int], None]
PATIENT_COLUMNS = ("child", "special_housing", "home_care", "unit_device", "unit_municipal")


def _staff_count(sim: Simulation, key: list[str], new: Scenario, day: int) -> None:
    depot, pool_name = key[1], key[2]
    k = sim.depot_index[depot]
    count = getattr(new.depots[depot], pool_name).count
    sim.pools[k][POOL_NAMES.index(pool_name)].set_count(count, sim.calendar.staffing.tolist(), day)
    if pool_name == "consultants":  # their fittings are booked into the calendar, which holds the capacity
        sim.fitting_books[k].set_count(count, day)


def _route_capacity(sim: Simulation, key: list[str], new: Scenario, day: int) -> None:
    route = new.transport.routes[key[2]]
    sim.routes.set_capacity(key[2], route.vehicles * route.capacity_units, day)


def _route_weekdays(sim: Simulation, key: list[str], new: Scenario, day: int) -> None:
    days = {WEEKDAYS.index(w) for w in new.transport.routes[key[2]].weekdays}
    sim.routes.set_weekdays(key[2], days, day)


def _stock_levels(sim: Simulation, key: list[str], new: Scenario, day: int) -> None:
    """Reorder point and order-up-to level of a category from the change's year on (days of orders)."""
    old = sim.scenario.categories[key[1]]
    spec = new.categories[key[1]]
    sim.stock.rescale_levels(
        sim.category_names.index(key[1]),
        sim.calendar.year_index(day),
        old.order_up_to_days,
        spec.reorder_point_days,
        spec.order_up_to_days,
    )


def _municipal_pays(sim: Simulation, new: Scenario, source: np.ndarray, cats: np.ndarray) -> np.ndarray:
    """Whether the municipality pays (the cost responsibility in force in ``new``) for orders (``source``
    >= 0) or initial rentals (``-(index + 1)``) of categories ``cats``."""
    from_order = source >= 0
    p = sim.orders.select(source[from_order]).patients  # a year at a time, not the whole run's copy
    cols: dict[str, np.ndarray] = {}
    for name in PATIENT_COLUMNS:
        col = np.zeros(source.size, dtype=bool)
        col[from_order] = getattr(p, name)
        if not from_order.all():
            initial = np.concatenate([getattr(x, name) for x in sim.initial_patients])
            col[~from_order] = initial[-source[~from_order] - 1]
        cols[name] = col
    classes = np.array([c.responsibility_class for c in new.categories.values()])
    return municipality_pays(new.responsibility, classes[cats], **cols)


def _serving(new: Scenario, sim: Simulation, m: int, municipal: np.ndarray) -> np.ndarray:
    """The depot index serving each row of municipality ``m`` (``municipal``: the municipality pays)."""
    spec = new.municipalities[sim.municipality_names[m]]
    region = sim.depot_index[spec.depot]
    own = sim.depot_index[spec.municipal_depot] if spec.municipal_depot is not None else region
    return np.where(municipal, own, region)


def _serving_rule(sim: Simulation, new: Scenario) -> ServingRule:
    """Who serves an order under ``new``: the municipality's own depot (``municipal_depot``) where the
    municipality pays for the patient, else the depot serving the municipality (``depot``)."""
    classes = np.array([c.responsibility_class for c in new.categories.values()])
    region = np.array([sim.depot_index[x.depot] for x in new.municipalities.values()])
    own = np.array([sim.depot_index[x.municipal_depot or x.depot] for x in new.municipalities.values()])

    def rule(chunk: OrderStream, rows: np.ndarray) -> np.ndarray:
        p = chunk.patients
        cols = {name: getattr(p, name)[rows] for name in PATIENT_COLUMNS}
        municipal = municipality_pays(new.responsibility, classes[chunk.category[rows]], **cols)
        m = chunk.municipality[rows]
        return np.where(municipal, own[m], region[m])

    return rule


def _municipality_depot(sim: Simulation, key: list[str], new: Scenario, day: int) -> None:
    """Orders from ``day`` on go to the depot serving them in ``new`` (the order book applies the rule to
    the year already drawn now, later years when they are drawn); at the start of the day the stock levels
    are split anew and rentals in progress transfer or run off."""
    if not sim.orders.serve_from(day, _serving_rule(sim, new)):
        return  # several keys of one change date: one rule
    transfer = {k for k, x in new.municipalities.items() if x.rentals_on_move == "transfer"}

    def at_day(_: Any) -> None:
        sim.fleet.settle(sim.env.now)  # rental ends and needs since 00:00 (no events of their own)
        _split_levels(sim, day)
        for name in transfer:
            _transfer_rentals(sim, new, sim.municipality_names.index(name))

    # just after 00:00, once the previous day's levels are recorded (nothing before the day changes)
    sim.env.timeout(day + AFTER_MIDNIGHT - sim.env.now).callbacks.append(at_day)


def _split_levels(sim: Simulation, day: int) -> None:
    """Stock levels from ``day``'s year on, split between the depots by the current year's orders each
    serves from ``day`` on (per municipality and category, weighted by each year's expected orders); each
    category's county total is kept."""
    book = sim.orders
    lo = book.day_start[max(min(day - book.day0, len(book.day_start) - 1), 0)]
    K, C, M = sim.K, sim.C, sim.M
    served = np.zeros((M, C, K))
    np.add.at(served, book.served_since(lo), 1.0)
    total = served.sum(axis=2, keepdims=True)
    base = np.zeros((M, C, K))
    base[np.arange(M), :, sim.muni_depot_array] = 1.0  # no order to go by: the municipality's own depot
    share = np.where(total > 0, served / np.maximum(total, 1.0), base)

    def weight(y: int) -> np.ndarray:
        rate = sim.demand.annual_rate(sim.demand.years[y])  # [M, C]
        per_kc = np.einsum("mc,mck->kc", rate, share)
        return np.asarray(per_kc / np.maximum(per_kc.sum(axis=0, keepdims=True), 1e-12))

    sim.stock.split_levels(sim.calendar.year_index(day), weight)


def _transfer_rentals(sim: Simulation, new: Scenario, m: int) -> None:
    """Devices on rent in municipality ``m`` move to the depot now serving their patient."""
    rids, source, cats = sim.fleet.rentals_in_progress(m)
    if rids.size == 0:
        return
    target = _serving(new, sim, m, _municipal_pays(sim, new, source, cats))
    for rid, k in zip(rids.tolist(), target.tolist(), strict=True):
        sim.fleet.move_rental(rid, k)


APPLIERS: dict[str, Applier] = {
    **{f"depots.*.{pool}.count": _staff_count for pool in POOL_NAMES},
    "transport.routes.*.vehicles": _route_capacity,
    "transport.routes.*.capacity_units": _route_capacity,
    "transport.routes.*.weekdays": _route_weekdays,
    "municipalities.*.depot": _municipality_depot,
    "municipalities.*.municipal_depot": _municipality_depot,
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
