"""State invariants checked at the end of every run (and every N days in tests).

Device conservation: every device ever created (initial + purchased) is in exactly one state, and each
state's count equals the size of the structures holding such devices (stock queues, rental sets, pickup
orders, workshop queues) and of each level counter kept beside them. No counter is negative. Checked at a
day's end, when no vehicle is out. Each component reports what it holds (``holdings()``, ``counters()``);
this module only adds them up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model.fleet import STATE_NAMES, Holding

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
    purchased = n_devices - int(np.count_nonzero(np.frombuffer(fleet.initial, dtype=np.int8)))
    initial = n_devices - purchased
    if sum(counts.values()) != initial + purchased:
        problems.append(f"states sum to {sum(counts.values())}, initial + purchased = {initial + purchased}")
    recorded = sim.recorder.recorded("purchases")
    if recorded != purchased:
        problems.append(f"purchases recorded {recorded} != purchased devices {purchased}")

    structures: dict[int, list[Holding]] = {}
    for component in (stock, routes, fleet, sim):
        for h in component.holdings():
            name = STATE_NAMES[h.state]
            if h.counter:  # a level counter must match the devices on its own
                if counts[name] != h.size:
                    problems.append(f"{name}: {counts[name]} devices, {h.what} holds {h.size}")
            else:  # structures sharing a state (pickup orders, unreported returns) add up
                structures.setdefault(h.state, []).append(h)
    for state, parts in structures.items():
        name, size = STATE_NAMES[state], sum(h.size for h in parts)
        if counts[name] != size:
            problems.append(
                f"{name}: {counts[name]} devices, {' + '.join(h.what for h in parts)} holds {size}"
            )
    tracked = fleet.tracked_problem()
    if tracked:
        problems.append(tracked)
    for component in (stock, fleet):
        for name, values in component.counters():
            if min(values, default=0) < 0:
                problems.append(f"negative {name} counter")
    if min(sim.allocated_mc, default=0) < 0:
        problems.append("negative awaiting-delivery counter")
    for pools in sim.pools:
        for pool in pools:
            if pool.busy < 0:
                problems.append("negative busy servers")
    if problems:
        raise InvariantError(f"day {int(sim.env.now)}: " + "; ".join(problems))
