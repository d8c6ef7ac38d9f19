"""Depot stock, picking, purchasing, and triage of returns into reconditioning or scrapping.

Picking is reuse-first: a reconditioned unit if one is in stock, else a new one, else the order waits as
a backorder (served first, oldest first, by the next unit to arrive). Purchasing is a periodic review at
each workday's close: when the inventory position (stock + on order - backorders) is at or below the
reorder point, order up to the order-up-to level; both levels are days of the depot's expected orders of
that category in the current year, so they follow demand. Supplier lead times are drawn per purchase
order; goods are received at the next opening after arrival.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from sim.model.distributions import sampler
from sim.model.fates import DAYS_PER_YEAR
from sim.model.fleet import (
    IN_WORKSHOP,
    SCRAPPED,
    STOCK_NEW,
    STOCK_RECOND,
)
from sim.model.workshop import JOB_KINDS, POOL_NAMES

if TYPE_CHECKING:
    from sim.model.engine import Simulation

RECONDITION = JOB_KINDS.index("recondition")
RECON_POOL = POOL_NAMES.index("reconditioning_technicians")


class DepotStock:
    """Stock, backorders and purchasing of every depot x category, and triage of returns."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        s = sim.scenario
        K, C = sim.K, sim.C
        names = list(s.categories)
        cats = list(s.categories.values())
        self.new: list[list[deque[int]]] = [[deque() for _ in range(C)] for _ in range(K)]
        self.recond: list[list[deque[int]]] = [[deque() for _ in range(C)] for _ in range(K)]
        self.backorders: list[list[deque[int]]] = [[deque() for _ in range(C)] for _ in range(K)]
        self.on_order = [[0] * C for _ in range(K)]
        self.rented = [c.rented for c in cats]
        self.lead = [
            sim.streams.buffered(f"lead_time/{n}", sampler(c.lead_time_days))
            for n, c in zip(names, cats, strict=True)
        ]
        self.scrap_p = [c.scrap_probability for c in cats]
        self.scrap_old_p = [c.scrap_probability_old for c in cats]
        self.scrap_age = [c.scrap_age_years for c in cats]
        self.max_cycles = [c.max_cycles for c in cats]
        self.wo_share = [c.recondition_work_order_share for c in cats]
        # reorder point and order-up-to level by year index, depot, category
        reorder = np.array([c.reorder_point_days for c in cats])
        up_to = np.array([c.order_up_to_days for c in cats])
        self.levels: list[list[list[tuple[float, float]]]] = []
        for year in sim.demand.years:
            per_day = np.zeros((K, C))
            np.add.at(per_day, sim.muni_depot_array, sim.demand.annual_rate(year) / DAYS_PER_YEAR)
            self.levels.append(
                [
                    [(float(per_day[k, c] * reorder[c]), float(per_day[k, c] * up_to[c])) for c in range(C)]
                    for k in range(K)
                ]
            )

    # ---- picking and stock -------------------------------------------------------------------------
    def pick(self, order: int, t: float) -> None:
        """Pick a unit for ``order`` (reuse first) or record a backorder."""
        sim = self.sim
        orders = sim.orders
        m = orders.municipality[order]
        c = orders.category[order]
        k = sim.muni_depot[m]
        recond = self.recond[k][c]
        if recond:
            dev = recond.popleft()
        else:
            new = self.new[k][c]
            if new:
                dev = new.popleft()
            else:
                self.backorders[k][c].append(order)
                sim.order_backordered[order] = 1
                sim.recorder.count("backorders", int(t), m, c)
                return
        sim.allocate(order, dev, t)

    def put(self, dev: int, t: float, reconditioned: bool) -> None:
        """A unit becomes available: serve the oldest backorder, else stock it."""
        fleet = self.sim.fleet
        k, c = fleet.depot[dev], fleet.cat[dev]
        waiting = self.backorders[k][c]
        if waiting:
            self.sim.allocate(waiting.popleft(), dev, t)
        elif reconditioned:
            fleet.state[dev] = STOCK_RECOND
            self.recond[k][c].append(dev)
        else:
            fleet.state[dev] = STOCK_NEW
            self.new[k][c].append(dev)

    # ---- purchasing ----------------------------------------------------------------------------------
    def review(self, d: int) -> None:
        """Periodic review at a workday's close: order up to the level where the position is low."""
        sim = self.sim
        levels = self.levels[min(sim.calendar.year_index(d), len(self.levels) - 1)]
        now = sim.env.now
        for k in range(sim.K):
            for c in range(sim.C):
                reorder, up_to = levels[k][c]
                if up_to <= 0:
                    continue
                position = (
                    len(self.new[k][c])
                    + len(self.recond[k][c])
                    + self.on_order[k][c]
                    - len(self.backorders[k][c])
                )
                if position <= reorder:
                    quantity = math.ceil(up_to - position)
                    if quantity <= 0:
                        continue
                    self.on_order[k][c] += quantity
                    sim.recorder.count_depot("purchase_orders", d, k, c)
                    arrival = sim.calendar.next_open(now + self.lead[c].next())
                    ev = sim.env.timeout(arrival - now, value=(k, c, quantity))
                    ev.callbacks.append(self._receive)

    def _receive(self, event: object) -> None:
        k, c, quantity = event.value  # type: ignore[attr-defined]
        sim = self.sim
        t = sim.env.now
        self.on_order[k][c] -= quantity
        if int(t) < sim.days:
            sim.recorder.count_depot("purchases", int(t), k, c, quantity)
        for _ in range(quantity):
            dev = sim.fleet.new_device(c, k, t, initial=False, state=STOCK_NEW)
            self.put(dev, t, reconditioned=False)

    # ---- returns -----------------------------------------------------------------------------------
    def triage(self, devices: list[int], t: float) -> None:
        """Returned devices at the depot: scrap, recondition by a technician, or restock directly."""
        sim = self.sim
        fleet = sim.fleet
        rec = sim.recorder
        d = int(t)
        for dev in devices:
            c = fleet.cat[dev]
            rid = fleet.rental[dev]
            m = fleet.r_muni[rid]
            age = (t - fleet.purchased[dev]) / DAYS_PER_YEAR
            p_scrap = self.scrap_old_p[c] if age >= self.scrap_age[c] else self.scrap_p[c]
            u_scrap, u_work = fleet.r_u_scrap[rid], fleet.r_u_work[rid]
            if fleet.cycles[dev] >= self.max_cycles[c] or u_scrap < p_scrap:
                fleet.state[dev] = SCRAPPED
                fleet.end[dev] = t
                rec.count("scrapped", d, m, c)
                if fleet.tracked[dev]:
                    sim.fleet_tracked_kc[fleet.depot[dev] * sim.C + c] -= 1
            elif u_work < self.wo_share[c]:
                fleet.state[dev] = IN_WORKSHOP
                k = fleet.depot[dev]
                sim.in_workshop_kc[k * sim.C + c] += 1
                job = sim.jobs.add(
                    RECON_POOL, RECONDITION, k, m, c, dev, t, fleet.r_recon_hours[rid], ref=rid
                )
                rec.count("recondition_work_orders", d, m, c)
                sim.pools[k][RECON_POOL].submit(job)
            else:
                self.put(dev, t, reconditioned=True)

    def reconditioned(self, job: int) -> None:
        """A reconditioning job is done: the unit is ready for re-issue."""
        sim = self.sim
        dev = sim.jobs.device[job]
        sim.in_workshop_kc[sim.fleet.depot[dev] * sim.C + sim.fleet.cat[dev]] -= 1
        self.put(dev, sim.env.now, reconditioned=True)

    def workshop_load(self, k: int) -> int:
        """Devices in depot ``k``'s workshop (waiting or being reconditioned)."""
        pool = self.sim.pools[k][RECON_POOL]
        return len(pool) + pool.busy
