"""State invariants checked at the end of every run (and every N days in tests).

Device conservation: every device ever created (initial + purchased) is in exactly one state, and each
state's count equals the size of the structure holding such devices (stock queues, rental sets, pickup
orders, workshop queues). No counter is negative. Checked at a day's end, when no vehicle is out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model.fleet import (
    ALLOCATED,
    AWAITING_PICKUP,
    IN_TRANSIT_BACK,
    IN_WORKSHOP,
    ON_RENT,
    STATE_NAMES,
    STOCK_NEW,
    STOCK_RECOND,
)
from sim.model.workshop import POOL_NAMES

if TYPE_CHECKING:
    from sim.model.engine import Simulation


class InvariantError(RuntimeError):
    """The model's state broke a conservation rule: a bug, not a user error."""


def state_counts(sim: Simulation) -> dict[str, int]:
    counts = np.bincount(np.asarray(sim.fleet.state, dtype=np.int64), minlength=len(STATE_NAMES))
    return {name: int(counts[i]) for i, name in enumerate(STATE_NAMES)}


def check_state(sim: Simulation) -> None:
    """Raise InvariantError if device conservation or any level counter is broken."""
    fleet, stock, routes = sim.fleet, sim.stock, sim.routes
    problems: list[str] = []
    counts = state_counts(sim)
    n_devices = len(fleet.state)
    purchased = sum(1 for x in fleet.initial if not x)
    initial = n_devices - purchased
    if sum(counts.values()) != initial + purchased:
        problems.append(f"states sum to {sum(counts.values())}, initial + purchased = {initial + purchased}")
    recorded = sim.recorder.recorded("purchases")
    if recorded != purchased:
        problems.append(f"purchases recorded {recorded} != purchased devices {purchased}")

    def expect(state: int, size: int, what: str) -> None:
        if counts[STATE_NAMES[state]] != size:
            problems.append(
                f"{STATE_NAMES[state]}: {counts[STATE_NAMES[state]]} devices, {what} holds {size}"
            )

    expect(STOCK_NEW, sum(len(q) for row in stock.new for q in row), "new stock")
    expect(STOCK_RECOND, sum(len(q) for row in stock.recond for q in row), "reconditioned stock")
    expect(ALLOCATED, sum(len(q) for q in routes.ready), "ready-for-delivery queues")
    expect(ALLOCATED, sum(sim.allocated_mc), "awaiting-delivery counters")
    expect(ON_RENT, sum(fleet.onrent_mc), "on-rent counters")
    in_pickup = (
        sum(len(routes.po_devices[po]) for q in routes.pickups for po in q)
        + len(sim.to_report)
        + routes.dropoffs_pending
    )
    expect(AWAITING_PICKUP, in_pickup, "pickup orders + unreported returns + drop-offs on their way")
    expect(AWAITING_PICKUP, sum(fleet.awaiting_pickup_mc), "awaiting-pickup counters")
    expect(IN_TRANSIT_BACK, 0, "vehicles at day end")
    recon = POOL_NAMES.index("reconditioning_technicians")
    in_pools = sum(len(p[recon]) + p[recon].busy for p in sim.pools)
    expect(IN_WORKSHOP, in_pools, "reconditioning queues")
    expect(IN_WORKSHOP, sum(sim.in_workshop_kc), "workshop counters")
    tracked_active = sum(
        1
        for dev, st in enumerate(fleet.state)
        if fleet.tracked[dev] and sim.rented[fleet.cat[dev]] and st < 7
    )
    if tracked_active != sum(sim.fleet_tracked_kc):
        problems.append(
            f"tracked fleet counter {sum(sim.fleet_tracked_kc)} != tracked active devices {tracked_active}"
        )
    for name, values in (
        ("on_order", [x for row in stock.on_order for x in row]),
        ("on-rent", fleet.onrent_mc),
        ("awaiting-pickup", fleet.awaiting_pickup_mc),
        ("awaiting-delivery", sim.allocated_mc),
        ("workshop", sim.in_workshop_kc),
    ):
        if min(values, default=0) < 0:
            problems.append(f"negative {name} counter")
    for pools in sim.pools:
        for pool in pools:
            if pool.busy < 0:
                problems.append("negative busy servers")
    if problems:
        raise InvariantError(f"day {int(sim.env.now)}: " + "; ".join(problems))
