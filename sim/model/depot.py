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
from bisect import bisect_left
from collections import deque
from collections.abc import Callable

import numpy as np
import simpy

from sim.config.schema import Scenario
from sim.model import window as rowwindow
from sim.model.calendar import Calendar
from sim.model.demand import DemandModel
from sim.model.distributions import sampler
from sim.model.fates import DAYS_PER_YEAR, FATE_RECON, FATE_SCRAP, FATE_WIDTH, FATE_WORK
from sim.model.fleet import (
    IN_WORKSHOP,
    SCRAPPED,
    STOCK_NEW,
    STOCK_RECOND,
    Fleet,
    Holding,
)
from sim.model.orders import OrderBook
from sim.model.records import Recorder
from sim.model.rng import Streams
from sim.model.workshop import JOB_KINDS, POOL_NAMES, JobLog, ServerPool

AllocateFn = Callable[[int, int, float], None]  # (order, device, time): a unit is picked for an order
# units picked for orders at a time: orders, devices, the orders' municipalities and depots (in pick order)
AllocateManyFn = Callable[[list[int], list[int], list[int], list[int], float], None]

RECONDITION = JOB_KINDS.index("recondition")
RECON_POOL = POOL_NAMES.index("reconditioning_technicians")


class DepotStock:
    """Stock, backorders and purchasing of every depot x category, and triage of returns.

    Collaborators: the order book (what an order needs, its backorder flag), the fleet (devices bought,
    returned, scrapped), the job log and the staff pools (``pools[depot][pool]``, reconditioning), the
    recorder, and ``on_allocate`` when a unit is picked for an order.
    """

    def __init__(
        self,
        scenario: Scenario,
        env: simpy.Environment,
        calendar: Calendar,
        streams: Streams,
        recorder: Recorder,
        demand: DemandModel,
        muni_depot: list[int],
        days: int,
        orders: OrderBook,
        fleet: Fleet,
        jobs: JobLog,
        pools: list[list[ServerPool]],
        on_allocate: AllocateFn,
        on_allocate_many: AllocateManyFn | None = None,
    ) -> None:
        s = scenario
        self.env = env
        self.calendar = calendar
        self.recorder = recorder
        self.days = days
        self.orders = orders
        self.fleet = fleet
        self.jobs = jobs
        self.pools = pools
        self.on_allocate = on_allocate
        self.on_allocate_many = on_allocate_many
        self.muni_depot = muni_depot
        K, C = len(s.depots), len(s.categories)
        self.K, self.C = K, C
        self.in_workshop_kc = [0] * (K * C)  # devices in the workshop (waiting or reconditioned), level
        names = list(s.categories)
        cats = list(s.categories.values())
        self.new: list[list[deque[int]]] = [[deque() for _ in range(C)] for _ in range(K)]
        self.recond: list[list[deque[int]]] = [[deque() for _ in range(C)] for _ in range(K)]
        self.backorders: list[list[deque[int]]] = [[deque() for _ in range(C)] for _ in range(K)]
        self.on_order = [[0] * C for _ in range(K)]
        self.rented = [c.rented for c in cats]
        self.lead = [
            streams.buffered(f"lead_time/{n}", sampler(c.lead_time_days))
            for n, c in zip(names, cats, strict=True)
        ]
        self.scrap_p = [c.scrap_probability for c in cats]
        self.scrap_old_p = [c.scrap_probability_old for c in cats]
        self.scrap_age = [c.scrap_age_years for c in cats]
        self.max_cycles = [c.max_cycles for c in cats]
        self.wo_share = [c.recondition_work_order_share for c in cats]
        self.scrap_p_array = np.array(
            self.scrap_p, dtype=np.float64
        )  # per category, for a triage's decisions
        self.scrap_old_p_array = np.array(self.scrap_old_p, dtype=np.float64)
        self.scrap_age_array = np.array(self.scrap_age, dtype=np.float64)
        self.max_cycles_array = np.array(self.max_cycles, dtype=np.int64)
        self.wo_share_array = np.array(self.wo_share, dtype=np.float64)
        # reorder point and order-up-to level by year index, depot, category
        reorder = np.array([c.reorder_point_days for c in cats])
        up_to = np.array([c.order_up_to_days for c in cats])
        self.levels: list[list[list[tuple[float, float]]]] = []
        muni_depot_array = np.array(muni_depot, dtype=np.int64)
        for year in demand.years:
            per_day = np.zeros((K, C))
            np.add.at(per_day, muni_depot_array, demand.annual_rate(year) / DAYS_PER_YEAR)
            self.levels.append(
                [
                    [(float(per_day[k, c] * reorder[c]), float(per_day[k, c] * up_to[c])) for c in range(C)]
                    for k in range(K)
                ]
            )

    # ---- what the stock holds (state invariants, sim/model/invariants.py) -----------------------------
    def holdings(self) -> list[Holding]:
        """``(device state, devices held, what holds them)`` for the stock and the workshop."""
        in_pools = sum(len(p[RECON_POOL]) + p[RECON_POOL].busy for p in self.pools)
        return [
            Holding(STOCK_NEW, sum(len(q) for row in self.new for q in row), "new stock"),
            Holding(STOCK_RECOND, sum(len(q) for row in self.recond for q in row), "reconditioned stock"),
            Holding(IN_WORKSHOP, in_pools, "reconditioning queues"),
            Holding(IN_WORKSHOP, sum(self.in_workshop_kc), "workshop counters", counter=True),
        ]

    def counters(self) -> list[tuple[str, list[int]]]:
        """Level counters that must not be negative."""
        return [("on_order", [x for row in self.on_order for x in row]), ("workshop", self.in_workshop_kc)]

    # ---- dated changes of the stock levels --------------------------------------------------------
    def rescale_levels(
        self, c: int, first_year: int, days_before: float, reorder_days: float, up_to_days: float
    ) -> None:
        """Category ``c``'s levels from year index ``first_year`` on, as ``reorder_days`` and ``up_to_days``
        of expected orders (the levels were ``days_before`` days of them)."""
        for y in range(first_year, len(self.levels)):
            for k in range(self.K):
                _, up_to = self.levels[y][k][c]
                per_day = up_to / days_before if days_before > 0 else 0.0
                self.levels[y][k][c] = (per_day * reorder_days, per_day * up_to_days)

    def split_levels(self, first_year: int, weight: Callable[[int], np.ndarray]) -> None:
        """Levels from year index ``first_year`` on split between the depots by ``weight(year index)``
        (``[depot, category]``, summing to 1 per category); each category's county total is kept."""
        K = self.K
        for y in range(first_year, len(self.levels)):
            w = weight(y)
            for c in range(self.C):
                reorder = sum(self.levels[y][k][c][0] for k in range(K))
                up_to = sum(self.levels[y][k][c][1] for k in range(K))
                for k in range(K):
                    share = float(w[k, c])
                    self.levels[y][k][c] = (reorder * share, up_to * share)

    # ---- picking and stock -------------------------------------------------------------------------
    def pick(self, order: int, t: float) -> None:
        """Pick a unit for ``order`` (reuse first) or record a backorder."""
        orders = self.orders
        m, c, k = orders.placed(order)
        recond = self.recond[k][c]
        if recond:
            dev = recond.popleft()
        else:
            new = self.new[k][c]
            if new:
                dev = new.popleft()
            else:
                self.backorders[k][c].append(order)
                orders.backordered[order] = 1
                self.recorder.count("backorders", int(t), m, c)
                return
        self.on_allocate(order, dev, t)

    def pick_all(self, orders: list[int], t: float) -> None:
        """Pick a unit for each of ``orders`` in turn (as :meth:`pick` of each; nothing a pick hands on is
        read by the next, so the allocations are handed on together, in order)."""
        if len(orders) < rowwindow.BATCH_MIN or self.on_allocate_many is None:
            for o in orders:
                self.pick(o, t)
            return
        book = self.orders
        ids = np.fromiter(orders, dtype=np.int64, count=len(orders))
        munis, cats, depots = (x[ids].tolist() for x in book.places())
        del ids
        recond, new, backorders, backordered = self.recond, self.new, self.backorders, book.backordered
        picked: list[int] = []
        devices: list[int] = []
        picked_m: list[int] = []
        picked_k: list[int] = []
        for o, m, c, k in zip(orders, munis, cats, depots, strict=True):
            q = recond[k][c]
            if not q:
                q = new[k][c]
                if not q:
                    backorders[k][c].append(o)
                    backordered[o] = 1
                    self.recorder.count("backorders", int(t), m, c)
                    continue
            devices.append(q.popleft())
            picked.append(o)
            picked_m.append(m)
            picked_k.append(k)
        if picked:
            self.on_allocate_many(picked, devices, picked_m, picked_k, t)

    def put(self, dev: int, t: float, reconditioned: bool) -> None:
        """A unit becomes available: serve the oldest backorder, else stock it."""
        fleet = self.fleet
        k, c = fleet.depot[dev], fleet.cat[dev]
        waiting = self.backorders[k][c]
        if waiting:
            self.on_allocate(waiting.popleft(), dev, t)
        elif reconditioned:
            fleet.state[dev] = STOCK_RECOND
            self.recond[k][c].append(dev)
        else:
            fleet.state[dev] = STOCK_NEW
            self.new[k][c].append(dev)

    # ---- purchasing ----------------------------------------------------------------------------------
    def review(self, d: int) -> None:
        """Periodic review at a workday's close: order up to the level where the position is low."""
        levels = self.levels[min(self.calendar.year_index(d), len(self.levels) - 1)]
        now = self.env.now
        for k in range(self.K):
            for c in range(self.C):
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
                    self.recorder.count_depot("purchase_orders", d, k, c)
                    arrival = self.calendar.next_open(now + self.lead[c].next())
                    ev = self.env.timeout(arrival - now, value=(k, c, quantity))
                    ev.callbacks.append(self._receive)

    def _receive(self, event: object) -> None:
        k, c, quantity = event.value  # type: ignore[attr-defined]
        t = self.env.now
        self.catch_up(t)  # reconditioned units before these: first come, first to the backorders
        self.on_order[k][c] -= quantity
        if int(t) < self.days:
            self.recorder.count_depot("purchases", int(t), k, c, quantity)
        first = self.fleet.new_devices(c, k, t, quantity, STOCK_NEW)
        for dev in range(first, first + quantity):
            self.put(dev, t, reconditioned=False)

    # ---- returns -----------------------------------------------------------------------------------
    def triage(self, devices: list[int], t: float) -> None:
        """Returned devices at the depot: scrap, recondition by a technician, or restock directly (the
        decisions for all at once: they read nothing the others' outcomes change; the outcomes one device at
        a time, in order)."""
        self.catch_up(t)  # units reconditioned until now first: they came before these to the backorders
        if len(devices) < rowwindow.BATCH_MIN:
            self._triage_each(devices, t)
            return
        fleet = self.fleet
        dev = np.array(devices, dtype=np.int64)
        c = np.frombuffer(fleet.cat, dtype=np.int16)[dev].astype(np.int64)
        rid = np.frombuffer(fleet.rental, dtype=fleet.rental.typecode)[dev].astype(np.int64)
        p = fleet.rentals.rows(rid)
        m = np.frombuffer(fleet.r_muni, dtype=np.int16)[p].astype(np.int64)
        fate = np.frombuffer(fleet.r_fate, dtype=np.float64)
        q = p * FATE_WIDTH  # the rentals' fate fields
        u_scrap, u_work, hours = fate[q + FATE_SCRAP], fate[q + FATE_WORK], fate[q + FATE_RECON]
        del fate
        age = (t - np.frombuffer(fleet.purchased, dtype=np.float64)[dev]) / DAYS_PER_YEAR
        p_scrap = np.where(age >= self.scrap_age_array[c], self.scrap_old_p_array[c], self.scrap_p_array[c])
        cycles = np.frombuffer(fleet.cycles, dtype=fleet.cycles.typecode)[dev]
        scrap = (cycles >= self.max_cycles_array[c]) | (u_scrap < p_scrap)
        C = self.C
        codes = (int(t) * self.recorder.M + m) * C + c
        counts = self.recorder.muni_counts
        if scrap.any():
            gone = dev[scrap]
            np.frombuffer(fleet.state, dtype=np.int8)[gone] = SCRAPPED
            np.frombuffer(fleet.end, dtype=np.float64)[gone] = t
            counts["scrapped"].frombytes(codes[scrap].tobytes())
            tracked, depot, tracked_kc = fleet.tracked, fleet.depot, fleet.tracked_kc
            for d, k in zip(gone.tolist(), c[scrap].tolist(), strict=True):
                if tracked[d]:
                    tracked_kc[depot[d] * C + k] -= 1
            if scrap.all():
                return
        work = ~scrap & (u_work < self.wo_share_array[c])
        keep = np.flatnonzero(~scrap)
        state, depot, in_workshop = fleet.state, fleet.depot, self.in_workshop_kc
        recondition_work_orders = counts["recondition_work_orders"]
        for d, k_c, mm, r, w, h, code in zip(
            dev[keep].tolist(), c[keep].tolist(), m[keep].tolist(), rid[keep].tolist(), work[keep].tolist(),
            hours[keep].tolist(), codes[keep].tolist(), strict=True,
        ):  # fmt: skip
            if w:
                state[d] = IN_WORKSHOP
                k = depot[d]
                in_workshop[k * C + k_c] += 1
                job = self.jobs.add(RECON_POOL, RECONDITION, k, mm, k_c, d, t, h, ref=r)
                recondition_work_orders.append(code)
                self.pools[k][RECON_POOL].submit(job)
            else:
                self.put(d, t, reconditioned=True)

    def _triage_each(self, devices: list[int], t: float) -> None:
        """:meth:`triage` one device at a time (a short list)."""
        fleet = self.fleet
        counts = self.recorder.muni_counts
        scrapped, recondition_work_orders = counts["scrapped"], counts["recondition_work_orders"]
        C = self.C
        day_base = int(t) * self.recorder.M
        cat, rental, purchased = fleet.cat, fleet.rental, fleet.purchased
        cycles, state = fleet.cycles, fleet.state
        r_muni, fate = fleet.r_muni, fleet.r_fate
        window = fleet.rentals
        base, shift, old_ids = window.base, window.shift, window.old_ids  # no flush during a triage
        for dev in devices:
            c = cat[dev]
            rid = rental[dev]
            p = rid - shift if rid >= base else bisect_left(old_ids, rid)
            m = r_muni[p]
            age = (t - purchased[dev]) / DAYS_PER_YEAR
            p_scrap = self.scrap_old_p[c] if age >= self.scrap_age[c] else self.scrap_p[c]
            q = p * FATE_WIDTH  # the rental's fate fields
            if cycles[dev] >= self.max_cycles[c] or fate[q + FATE_SCRAP] < p_scrap:
                state[dev] = SCRAPPED
                fleet.end[dev] = t
                scrapped.append((day_base + m) * C + c)
                if fleet.tracked[dev]:
                    fleet.tracked_kc[fleet.depot[dev] * C + c] -= 1
            elif fate[q + FATE_WORK] < self.wo_share[c]:
                state[dev] = IN_WORKSHOP
                k = fleet.depot[dev]
                self.in_workshop_kc[k * C + c] += 1
                job = self.jobs.add(RECON_POOL, RECONDITION, k, m, c, dev, t, fate[q + FATE_RECON], ref=rid)
                recondition_work_orders.append((day_base + m) * C + c)
                self.pools[k][RECON_POOL].submit(job)
            else:
                self.put(dev, t, reconditioned=True)

    def queue_reconditioning(self, dev: int, t: float, hours: float) -> None:
        """Device ``dev`` waits for reconditioning from ``t`` (``hours`` of work) without a rental before it
        (the warm start's backlog: no count is recorded)."""
        fleet = self.fleet
        k, c = fleet.depot[dev], fleet.cat[dev]
        self.in_workshop_kc[k * self.C + c] += 1
        job = self.jobs.add(RECON_POOL, RECONDITION, k, -1, c, dev, t, hours)
        self.pools[k][RECON_POOL].submit(job)

    def reconditioned(self, job: int, t: float) -> None:
        """A reconditioning job is done at ``t``: the unit is ready for re-issue."""
        jobs = self.jobs
        w = jobs.window
        dev = jobs.device[job - w.shift if job >= w.base else w.row(job)]
        self.in_workshop_kc[self.fleet.depot[dev] * self.C + self.fleet.cat[dev]] -= 1
        self.put(dev, t, reconditioned=True)

    def catch_up(self, now: float) -> None:
        """Process the reconditioning completions up to and including ``now`` (their pools keep no SimPy
        event: see sim/model/workshop.py); called before stock, backorders or ready queues are read."""
        for pools in self.pools:
            pools[RECON_POOL].catch_up(now)

    def settle(self, until: float) -> None:
        """Process the reconditioning completions before ``until`` (a day's end, before its levels)."""
        for pools in self.pools:
            pools[RECON_POOL].settle(until)

    def workshop_load(self, k: int) -> int:
        """Devices in depot ``k``'s workshop (waiting or being reconditioned)."""
        pool = self.pools[k][RECON_POOL]
        return len(pool) + pool.busy
