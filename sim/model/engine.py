"""The SimPy model of one region: builds the components, runs the daily cycle, hands back a RunOutput.

One SimPy process drives the days. On each workday: staff pools pick up queued work, the day's orders
are placed (fittings go to consultants first), technical work orders are drawn, routes depart (07:00),
deliver (11:00) and return (15:30), and at the close (16:00) returns are reported as pickup orders,
orders are picked and purchasing is reviewed. Rentals ending during a day are processed at its end,
then the day's levels are recorded. Individual timeouts exist only for fitting referrals and bookings,
supplier deliveries, drop-offs and the consultants' jobs: rental ends, work-order needs and the technicians'
jobs wait in their components' own time-ordered lists and heaps (sim/model/fleet.py, sim/model/workshop.py),
so the event count per order stays small.
"""

from __future__ import annotations

import copy
import gc
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from sim.config.schema import Scenario
from sim.model import window as rowwindow
from sim.model.booking import FittingBook
from sim.model.calendar import Calendar
from sim.model.collect import RunRecords
from sim.model.demand import DemandModel, Patients
from sim.model.depot import DepotStock
from sim.model.fates import FATE_GROUP, FATE_WIDTH
from sim.model.fleet import ALLOCATED, AWAITING_PICKUP, SOLD, Fleet, Holding
from sim.model.orders import OrderBook
from sim.model.records import DEPOT_LEVELS, MUNI_LEVELS, Recorder
from sim.model.rng import Streams
from sim.model.transport import Routes
from sim.model.workshop import JOB_KINDS, POOL_NAMES, JobLog, ServerPool
from sim.output import SpillFolder

if TYPE_CHECKING:
    from sim.model.warmstart import History

SERVICE_POOL = POOL_NAMES.index("service_technicians")
CONSULT_POOL = POOL_NAMES.index("consultants")
# Pools that keep one SimPy event per job; the others keep their jobs' ends in their own heap (faster, the
# same results: tests/test_model.py runs the reconditioning pools with events as the reference)
EVENT_POOLS = frozenset({"consultants"})
CORRECTIVE, PREVENTIVE, INSTALLATION, FITTING = (
    JOB_KINDS.index(k) for k in ("corrective", "preventive", "installation", "fitting")
)
RECONDITION = JOB_KINDS.index("recondition")


@contextmanager
def few_collections() -> Iterator[None]:
    """Collect young objects less often while a model runs (it allocates millions of small objects, many of
    them kept: the default thresholds would rescan them again and again); restored afterwards."""
    threshold = gc.get_threshold()
    gc.set_threshold(50_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


@contextmanager
def collections_of_new_objects_only() -> Iterator[None]:
    """Let the garbage collections triggered inside look only at the objects created inside: what exists
    before is frozen meanwhile (the warm start allocates enough to trigger a full collection, which would scan
    every object of the process, imported modules and config included: 0.3 s for Västmanland)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that can tell how many events it has processed (for benchmarks).

    Every scheduled event takes the next id from the environment's counter and the events not yet
    processed are still in its queue, so the count costs nothing per event (an override of ``step``
    added a Python call to each of the run's million events). Reads SimPy's ``_eid`` and ``_queue``
    (SimPy 4; the version is pinned in requirements.lock).
    """

    @property
    def events_processed(self) -> int:
        scheduled: int = next(copy.copy(self._eid))
        return scheduled - len(self._queue)


def horizon_days(start: date, years: float) -> int:
    """Days in the horizon: whole years end on the same date ``years`` later, fractions use 365.25 days."""
    whole = int(years)
    if whole == years:
        try:
            return (start.replace(year=start.year + whole) - start).days
        except ValueError:  # 29 February
            return (date(start.year + whole, 3, 1) - start).days
    return round(years * 365.25)


class Simulation:
    """One run of one scenario with one seed."""

    def __init__(self, scenario: Scenario, seed: int, check_every_days: int = 0) -> None:
        self.scenario = scenario
        self.seed = seed
        self.check_every_days = check_every_days
        s = scenario
        self.days = horizon_days(s.horizon.start_date, s.horizon.years)
        self.calendar = Calendar(s.calendar, s.horizon.start_date, self.days)
        self.env = CountingEnvironment()
        self.streams = Streams(seed)
        self.municipality_names = list(s.municipalities)
        self.category_names = list(s.categories)
        self.depot_names = list(s.depots)
        self.M, self.C, self.K = len(self.municipality_names), len(self.category_names), len(self.depot_names)
        self.depot_index = {k: i for i, k in enumerate(self.depot_names)}
        self.muni_depot = [self.depot_index[mu.depot] for mu in s.municipalities.values()]
        self.muni_depot_array = np.array(self.muni_depot, dtype=np.int64)
        self.rented = [c.rented for c in s.categories.values()]
        self.rented_array = np.array(self.rented, dtype=bool)
        t = s.transport
        # hours of driving per work order at a user: a round trip shared by service_visits_per_trip visits
        speed = t.technician_speed_kmh
        self.travel_hours = [
            2.0 * t.road_factor * mu.distance_km / speed / t.service_visits_per_trip if speed else 0.0
            for mu in s.municipalities.values()
        ]
        self.demand = DemandModel(s, self.calendar)
        # the order book owns who serves each order (dated changes pass it their rule, sim/model/changes.py)
        # closed rows of the records (rentals, jobs, deliveries, route stops) and the order book's past
        # years go to disk at each year start
        self.folder = SpillFolder("hmsim-records-")
        self.orders = OrderBook(
            self.demand, self.streams, self.days, self.muni_depot_array, self.K, self.folder
        )
        # per-order state (grows as each year's orders are drawn)
        self.order_device = self.orders.device
        self.order_planned = self.orders.planned
        self.order_backordered = self.orders.backordered
        self.order_attempts = self.orders.attempts
        self.recorder = Recorder(self.days, self.M, self.K, self.C, self.folder)
        self.counts = self.recorder.muni_counts  # code arrays appended to directly in the hot path
        self.count_rental_starts_codes = self.counts["rental_starts"]  # (the arrays are kept for the run)
        self.jobs = JobLog(self.folder)
        # the components own their state and get their collaborators explicitly; what one hands to another
        # goes through the engine's transitions below (allocate, deliver, work_order, _returned)
        env, cal, streams, rec = self.env, self.calendar, self.streams, self.recorder
        self.fleet = Fleet(
            s,
            env,
            cal,
            streams,
            rec,
            self.days,
            self.work_order,
            self._returned,
            self.folder,
            self._picked_up,
        )
        fleet = self.fleet
        # work-order needs take no event (sim/model/fleet.py): those due are reported before a job is logged
        self.jobs.before_add = fleet.settle_work_orders_now
        self.pools: list[list[ServerPool]] = []  # [depot][pool], filled below
        self.stock = DepotStock(
            s, env, cal, streams, rec, self.demand, self.muni_depot, self.days, self.orders, self.fleet,
            self.jobs, self.pools, self.allocate, self.allocate_many,
        )  # fmt: skip
        done: dict[int, Callable[[int, float], None]] = {
            RECONDITION: self.stock.reconditioned,
            CORRECTIVE: self._noop,
            PREVENTIVE: self._noop,
            INSTALLATION: self._noop,
            FITTING: lambda job, t: self._fitting_done(job),
        }
        # the service technicians' jobs (repairs, maintenance, installations) feed nothing back into devices,
        # stock or routes, and the reconditioning technicians' completions (devices back to stock) are
        # processed when the stock is next read (DepotStock.catch_up): their pools keep no SimPy event per job
        # (see sim/model/workshop.py)
        events = [name in EVENT_POOLS for name in POOL_NAMES]
        for depot in s.depots.values():
            staff = (depot.reconditioning_technicians, depot.service_technicians, depot.consultants)
            self.pools.append(
                [
                    ServerPool(
                        self.env, self.calendar, self.jobs, p.count, p.productive_share, done, p.priority,
                        events[i],
                    )
                    for i, p in enumerate(staff)
                ]
            )  # fmt: skip
        self.fitting_books = [
            FittingBook(self.env, self.calendar, self.jobs, depot, self._fitting_done)
            for depot in s.depots.values()
        ]
        self.routes = Routes(s, env, cal, streams, rec, self.orders, self.fleet, self.stock, self.deliver)
        self.to_report: list[int] = []
        self.to_pick: list[int] = []
        # level counters kept by transitions (read once per day)
        self.allocated_mc = [0] * (self.M * self.C)
        self.in_workshop_kc = self.stock.in_workshop_kc  # owned by the stock, read for the daily levels
        self.fleet_tracked_kc = self.fleet.tracked_kc  # owned by the fleet
        self.initial_patients: list[Patients] = []
        self.history: dict[tuple[int, int], History] = {}  # warm-start pre-simulation per depot x category
        self.wall_seconds = 0.0
        self.events_processed = 0
        self.progress: Callable[[int], None] | None = None
        from sim.model.changes import apply_changes
        from sim.model.warmstart import warm_start

        with collections_of_new_objects_only():
            warm_start(self)
        apply_changes(self)

    def holdings(self) -> list[Holding]:
        """What the engine's transitions hold: awaiting-delivery counters and returns not yet reported."""
        return [
            Holding(ALLOCATED, sum(self.allocated_mc), "awaiting-delivery counters", counter=True),
            Holding(AWAITING_PICKUP, len(self.to_report), "unreported returns"),
        ]

    # ---- small transitions shared by components --------------------------------------------------
    @staticmethod
    def _noop(job: int, t: float) -> None:
        return None

    def _returned(self, rid: int, dev: int, m: int, t: float, dropoff: bool) -> None:
        """A rental ended and the device comes back: brought by the customer, or reported at the close."""
        if dropoff:
            self.routes.drop_off(rid, dev, m, t)
        else:
            self.to_report.append(rid)

    def _picked_up(self, rids: list[int]) -> None:
        """Rentals ended whose devices await pickup (in time order): reported at the close."""
        self.to_report.extend(rids)

    def allocate(self, order: int, dev: int, t: float) -> None:
        """A unit is picked for ``order``: it waits at the depot for its municipality's next run."""
        m, _, k = self.orders.placed(order)
        self.fleet.state[dev] = ALLOCATED
        self.order_device[order] = dev
        self.allocated_mc[m * self.C + self.fleet.cat[dev]] += 1
        self.routes.ready_for_delivery(order, m * self.K + k, t)

    def allocate_many(
        self, orders: list[int], devices: list[int], munis: list[int], depots: list[int], t: float
    ) -> None:
        """Units picked for ``orders`` (their municipalities and serving depots given), in pick order (as
        :meth:`allocate` of each)."""
        fleet = self.fleet
        devs = np.fromiter(devices, dtype=np.int64, count=len(devices))
        np.frombuffer(fleet.state, dtype=np.int8)[devs] = ALLOCATED
        order_device = self.order_device
        for o, dev in zip(orders, devices, strict=True):
            order_device[o] = dev  # (a 4-byte column: an overflow raises)
        C, K = self.C, self.K
        allocated = self.allocated_mc
        cats = np.frombuffer(fleet.cat, dtype=np.int16)[devs].tolist()
        lanes = []
        for m, c, k in zip(munis, cats, depots, strict=True):
            allocated[m * C + c] += 1
            lanes.append(m * K + k)
        self.routes.ready_all(orders, lanes, t)

    def deliver(self, order_ids: list[int], devices: list[int], municipalities: list[int], t: float) -> None:
        """Deliveries that succeed at ``t`` (orders, their devices and municipalities, in the order the
        vehicles reach them): rentals start (installation if needed) or sales are complete.

        The records, counts, columns and the register are written for the whole batch at once; what one
        delivery's effects could reach of another's (rental ends, work-order needs, installation jobs) is done
        one rental at a time in the batch's order, as one delivery after the other would."""
        n = len(order_ids)
        if n < rowwindow.BATCH_MIN:
            for order, dev, m in zip(order_ids, devices, municipalities, strict=True):
                self._deliver_one(order, dev, m, t)
            return
        fleet, book, rec = self.fleet, self.orders, self.recorder
        M, C = self.M, self.C
        orders = np.fromiter(order_ids, dtype=np.int64, count=n)
        devs = np.fromiter(devices, dtype=np.int64, count=n)
        munis = np.fromiter(municipalities, dtype=np.int64, count=n)
        cats = np.frombuffer(fleet.cat, dtype=np.int16)[devs].astype(np.int64)
        codes = (int(t) * M + munis) * C + cats  # (day, municipality, category) of the counts
        allocated = self.allocated_mc
        for idx in (munis * C + cats).tolist():
            allocated[idx] -= 1
        rec.del_order.frombytes(orders.tobytes())
        rec.del_device.frombytes(devs.tobytes())
        rec.del_time.frombytes(np.full(n, t, dtype=np.float64).tobytes())
        rec.del_planned.frombytes(
            np.frombuffer(self.order_planned, dtype=np.int32)[orders].astype(np.int64).tobytes()
        )
        rec.del_attempts.extend(np.frombuffer(self.order_attempts, dtype=np.uint8)[orders].tolist())
        self.counts["deliveries"].frombytes(codes.tobytes())
        rows = book.delivered_rows(orders)  # the orders' rows in the window of fates
        rented = self.rented_array[cats]
        if not rented.all():
            sold = np.flatnonzero(~rented)
            state, end = fleet.state, fleet.end
            for dev in devs[sold].tolist():
                state[dev] = SOLD
                end[dev] = t
            self.counts["sales"].frombytes(codes[sold].tobytes())
        if not rented.any():
            return
        sel = np.flatnonzero(rented)
        r_devs, r_munis, r_cats, r_rows, r_codes = devs[sel], munis[sel], cats[sel], rows[sel], codes[sel]
        rid0 = fleet.rentals.count
        fates = book.rows
        ends = fleet.start_rentals(r_devs, orders[sel], r_munis, r_cats, t, fates, r_rows)
        self.count_rental_starts_codes.frombytes(r_codes.tobytes())
        # work-order needs planned and installations logged one rental at a time, in the batch's order
        offset = np.frombuffer(fates.wo_offset, dtype=np.int64)
        lo, hi = offset[r_rows], offset[r_rows + 1]
        del offset
        install = np.frombuffer(book.install, dtype=np.int8)[r_rows] != 0
        todo = np.flatnonzero((hi > lo) | install)
        if todo.size == 0:
            return
        install_hours, travel = book.install_hours, self.travel_hours
        installations = self.counts["installations"]
        for j, dev, m, c, i, a, b, end, inst, code in zip(
            todo.tolist(), r_devs[todo].tolist(), r_munis[todo].tolist(), r_cats[todo].tolist(),
            r_rows[todo].tolist(), lo[todo].tolist(), hi[todo].tolist(), ends[todo].tolist(),
            install[todo].tolist(), r_codes[todo].tolist(), strict=True,
        ):  # fmt: skip
            rid = rid0 + j
            if b > a:
                fleet.plan_work_orders(dev, rid, t, end, t, fates, a, b)
            if inst:
                k = fleet.depot[dev]
                job = self.jobs.add(
                    SERVICE_POOL, INSTALLATION, k, m, c, dev, t, install_hours[i] + travel[m], ref=rid
                )
                installations.append(code)
                self.pools[k][SERVICE_POOL].submit(job)

    def _deliver_one(self, order: int, dev: int, m: int, t: float) -> None:
        """A delivery succeeds: :meth:`deliver` of one delivery."""
        fleet = self.fleet
        rec = self.recorder
        c = fleet.cat[dev]
        C = self.C
        code = (int(t) * self.M + m) * C + c  # (day, municipality, category) of the counts
        self.allocated_mc[m * C + c] -= 1
        rec.del_order.append(order)
        rec.del_device.append(dev)
        rec.del_time.append(t)
        rec.del_planned.append(self.order_planned[order])
        rec.del_attempts.append(self.order_attempts[order])
        self.counts["deliveries"].append(code)
        book = self.orders
        # the order's row in the window of fates (book.fate_row, inlined for the common case)
        i = order - book.shift if order >= book.base else book.fate_row(order)
        book.delivered(order)
        if self.rented[c]:
            rid = fleet.start_rental(dev, order, m, t, book.rows, i)
            self.count_rental_starts_codes.append(code)
            if book.install[i]:
                k = fleet.depot[dev]
                hours = book.install_hours[i] + self.travel_hours[m]
                job = self.jobs.add(SERVICE_POOL, INSTALLATION, k, m, c, dev, t, hours, ref=rid)
                self.counts["installations"].append(code)
                self.pools[k][SERVICE_POOL].submit(job)
        else:
            fleet.state[dev] = SOLD
            fleet.end[dev] = t
            self.counts["sales"].append(code)

    def work_order(
        self, dev: int, rid: int, m: int, t: float, hours: float, parts_wait: float, corrective: bool
    ) -> None:
        """A technical work order reported at ``t`` on rental ``rid`` in municipality ``m`` (maybe waiting
        ``parts_wait`` days for spare parts before a technician can take it)."""
        fleet = self.fleet
        c = fleet.cat[dev]
        k = fleet.depot[dev]  # the depot the device belongs to services it
        kind = CORRECTIVE if corrective else PREVENTIVE
        job = self.jobs.add(SERVICE_POOL, kind, k, m, c, dev, t, hours + self.travel_hours[m], ref=rid)
        code = (int(t) * self.M + m) * self.C + c
        counts = self.counts
        counts["technical_work_orders"].append(code)
        counts["corrective_work_orders" if corrective else "preventive_work_orders"].append(code)
        # the job reaches the technicians once the parts are there (in the pool's heap, not a SimPy event)
        self.pools[k][SERVICE_POOL].submit_at(job, t + parts_wait)

    # ---- fittings --------------------------------------------------------------------------------
    def _referral(self, event: Any) -> None:
        order = event.value
        now = self.env.now
        book = self.orders
        m, c, k = book.placed(order)
        i = book.fate_row(order)
        job = self.jobs.add(CONSULT_POOL, FITTING, k, m, c, -1, now, book.fitting_hours[i], ref=order)
        self.fitting_books[k].request(job, now + book.fitting_delay[i])

    def _fitting_done(self, job: int) -> None:
        jobs = self.jobs
        w = jobs.window
        order = jobs.ref[job - w.shift if job >= w.base else w.row(job)]
        self.order_planned[order] = self.routes.planned_day(self.orders.lane(order), int(self.env.now))
        self.to_pick.append(order)

    # ---- the daily cycle -------------------------------------------------------------------------
    def _place_orders(self, d: int) -> None:
        book = self.orders
        lo, hi = book.day_start[d - book.day0], book.day_start[d - book.day0 + 1]
        if hi <= lo:
            return
        env = self.env
        now = env.now
        planned = self.order_planned
        year = book.current
        assert year is not None
        span = slice(lo - book.first, hi - book.first)
        fit = year.fitting[span]
        munis_np = year.municipality[span].astype(np.int64)
        codes = (d * self.M + munis_np) * self.C + year.category[span].astype(np.int64)
        self.counts["orders"].frombytes(codes.tobytes())
        self.counts["consultant_fitting_referrals"].frombytes(codes[fit].tobytes())
        promised = self.routes.planned_days(book.lanes(lo, hi), d)
        fitting = fit.tolist()
        times = year.time[span].tolist()
        to_pick = self.to_pick
        for i, o in enumerate(range(lo, hi)):
            if fitting[i]:
                env.timeout(times[i] - now, value=o).callbacks.append(self._referral)
            else:
                planned[o] = promised[i]
                to_pick.append(o)

    def _close(self, event: Any) -> None:
        d = event.value
        now = self.env.now
        fleet = self.fleet
        fleet.settle(now)  # the rental ends and work-order needs until now (no events of their own)
        self.stock.catch_up(now)  # the reconditioning completions until now, before the picking
        self._report_returns(d, now)
        picking, self.to_pick = self.to_pick, []
        self.stock.pick_all(picking, now)
        self.stock.review(d)

    def _report_returns(self, d: int, now: float) -> None:
        """The close reports the returns (rentals ended, devices awaiting pickup, in the order the rentals
        ended): counted, and put on pickup orders."""
        fleet = self.fleet
        M, C, K = self.M, self.C, self.K
        if not self.to_report:
            return
        if len(self.to_report) < rowwindow.BATCH_MIN:  # one at a time
            w = fleet.rentals
            devs, lanes, groups, codes = [], [], [], []
            for rid in self.to_report:
                p = w.row(rid)
                dev = fleet.r_device[p]
                m = fleet.r_muni[p]
                devs.append(dev)
                lanes.append(m * K + fleet.depot[dev])
                groups.append(fleet.r_fate[p * FATE_WIDTH + FATE_GROUP])
                codes.append((d * M + m) * C + fleet.r_cat[p])
            opened = self.routes.add_returns(devs, lanes, now, groups)
            for code, new_po in zip(codes, opened, strict=True):
                self.counts["returns"].append(code)
                if new_po:
                    self.counts["pickup_orders"].append(code)
        else:  # column-wise
            rows = fleet.rentals.rows(np.array(self.to_report, dtype=np.int64))
            device = np.frombuffer(fleet.r_device, dtype=np.int64)[rows]
            muni = np.frombuffer(fleet.r_muni, dtype=np.int16)[rows].astype(np.int64)
            cells = (d * M + muni) * C + np.frombuffer(fleet.r_cat, dtype=np.int16)[rows]
            self.counts["returns"].frombytes(cells.tobytes())
            lane = muni * K + np.frombuffer(fleet.depot, dtype=np.int16)[device]
            group = np.frombuffer(fleet.r_fate, dtype=np.float64)[rows * FATE_WIDTH + FATE_GROUP]
            new = self.routes.add_returns(device.tolist(), lane.tolist(), now, group.tolist())
            self.counts["pickup_orders"].frombytes(cells[np.array(new, dtype=bool)].tobytes())
        self.to_report.clear()

    def _depart(self, event: Any) -> None:
        self.routes.depart(event.value)

    def _end_of_day(self, d: int) -> None:
        rec = self.recorder
        M, C, K = self.M, self.C, self.K
        fleet = self.fleet
        lv = rec.muni_levels
        n = M * C

        def cells(counter: list[int]) -> np.ndarray:  # a counter list as [municipality, category]
            return np.fromiter(counter, dtype=np.int64, count=n).reshape(M, C)

        lv[MUNI_LEVELS.index("on_rent"), d] = cells(fleet.onrent_mc)
        lv[MUNI_LEVELS.index("on_rent_tracked"), d] = cells(fleet.onrent_tracked_mc)
        lv[MUNI_LEVELS.index("awaiting_pickup"), d] = cells(fleet.awaiting_pickup_mc)
        lv[MUNI_LEVELS.index("awaiting_delivery"), d] = cells(self.allocated_mc)
        st = self.stock
        dl = rec.depot_levels
        dl[DEPOT_LEVELS.index("stock_new"), d] = [[len(q) for q in row] for row in st.new]
        dl[DEPOT_LEVELS.index("stock_reconditioned"), d] = [[len(q) for q in row] for row in st.recond]
        dl[DEPOT_LEVELS.index("backorders_open"), d] = [[len(q) for q in row] for row in st.backorders]
        dl[DEPOT_LEVELS.index("in_workshop"), d] = np.reshape(self.in_workshop_kc, (K, C))
        dl[DEPOT_LEVELS.index("on_order"), d] = st.on_order
        dl[DEPOT_LEVELS.index("fleet_tracked"), d] = np.reshape(self.fleet_tracked_kc, (K, C))
        if self.check_every_days and (d + 1) % self.check_every_days == 0:
            from sim.model.invariants import check_state

            check_state(self)

    def _flush_records(self, d: int) -> None:
        """At 00:00 of a year's first day: the rentals, jobs, deliveries and route stops that are final go to
        disk (sim/model/window.py); what stays grows with the state, not the history."""
        self.fleet.flush()
        pending = {job for pools in self.pools for pool in pools for job in pool.pending()}
        self.jobs.flush(float(d), pending)
        self.recorder.flush_rows()

    def _days(self) -> Generator[simpy.events.Event, Any, None]:
        env, cal = self.env, self.calendar
        routes = self.routes
        book = self.orders
        year_starts = book.year_starts()
        self.fleet.rentals.mark()  # the warm start's rows can go at the first year start
        self.jobs.window.mark()
        for d in range(self.days):
            if d > 0:
                self.fleet.settle(d)  # the rest of yesterday's rental ends and needs, before its levels
                self.stock.settle(d)  # and of its reconditioning completions
                self._end_of_day(d - 1)
            if d in year_starts:
                self.recorder.flush(d)  # the finished years' counts tallied (the codes kept stay small)
                self._flush_records(d)
                book.open_year(year_starts[d])
            self.fleet.schedule_day(d)
            if self.progress is not None:
                self.progress(d)
            if cal.is_workday[d]:
                for pools in self.pools:
                    for pool in pools:
                        pool.pull()
                for fitting_book in self.fitting_books:
                    fitting_book.morning(d)
                self._place_orders(d)
                if routes.runs[d]:
                    env.timeout(routes.dep, value=d).callbacks.append(self._depart)
                env.timeout(cal.close_frac, value=d).callbacks.append(self._close)
            yield env.timeout(1.0)
        self.fleet.settle(self.days)
        self.stock.settle(self.days)
        self._end_of_day(self.days - 1)

    def run(self, progress: Callable[[int], None] | None = None) -> Simulation:
        """Simulate the whole horizon (``progress(day)`` is called once per simulated day)."""
        self.progress = progress
        started = time.perf_counter()
        self.env.process(self._days())
        # The run keeps hundreds of thousands of live objects (devices, buckets, queued jobs) that the cyclic
        # garbage collector would rescan again and again (about a third of the run time at 10x Västmanland's
        # volume, see docs/performance.md). Freeze what exists after the warm start and collect young
        # objects less often; both are restored afterwards. Collection itself stays on. Only the young
        # generations are collected before the freeze: a full collection scans every object of the process
        # (0.3 s for Västmanland) and finds no garbage there (what is frozen is collectable after the run).
        gc.collect(1)
        gc.freeze()
        try:
            with few_collections():
                self.env.run(until=self.days + 1e-9)
        finally:
            gc.unfreeze()
        for pools in self.pools:
            for pool in pools:
                pool.settle(self.days + 1e-9)  # completions within the horizon not yet processed
        self.wall_seconds = time.perf_counter() - started
        self.events_processed = self.env.events_processed
        from sim.model.invariants import check_state

        check_state(self)
        return self

    def records(self) -> RunRecords:
        """What the output tables are built from (:func:`sim.model.collect.collect`), after :meth:`run`."""
        return RunRecords(
            scenario=self.scenario,
            seed=self.seed,
            calendar=self.calendar,
            days=self.days,
            demand=self.demand,
            recorder=self.recorder,
            fleet=self.fleet,
            jobs=self.jobs,
            orders=self.orders,
            initial_patients=self.initial_patients,
            servers=[[pool.servers for pool in pools] for pools in self.pools],
            route_names=self.routes.names,
            wall_seconds=self.wall_seconds,
            events_processed=self.events_processed,
        )
