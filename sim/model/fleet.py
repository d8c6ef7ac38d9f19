"""Devices and rentals: the columnar device register, rental start and end, work orders during use.

Each device has an id indexing plain lists (category, depot, price, purchase time, cycles, state). A rental
is a row in columnar arrays; its fate (duration, return, triage draws, work orders) comes from its order
(see :mod:`sim.model.fates`). Ends and work-order needs wait in per-day buckets; at 00:00 each day's are
put in time order. A work order is reported at the next opening after the need arises, if the rental has
not ended by then.

Neither takes a SimPy event unless something reacts to it at once. A rental end whose device awaits pickup
(the day's close reports it) or is lost, and a work-order need (it logs a job and hands it to the service
technicians' pool, which keeps its own clock, see :mod:`sim.model.workshop`), wait in today's lists in time
order and are processed up to the present by :meth:`Fleet.settle` wherever their effects are read: the
day's close, the end of the day before its levels are recorded, a dated transfer of rentals, and (for the
needs) before any other job is logged, so that job ids keep the order of one event per need. Their order
among themselves and their effects are those of one event each (equal times keep the bucket's order, as
SimPy's event ids would); only a rental end dropped off at the depot (it reaches the workshop at its own
time) keeps its event.

A rental's values are at row ``r_row(rid)`` of the ``r_*`` columns, not at ``rid``: at each year start the
rentals that are over (ended, and their device triaged, or lost) are flushed to disk (:meth:`Fleet.flush`,
sim/model/window.py), so index the columns only through ``r_row``.
"""

from __future__ import annotations

import bisect
import math
from array import array
from bisect import bisect_left
from collections.abc import Callable
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np
import simpy

from sim.config.schema import Scenario
from sim.model import window as rowwindow
from sim.model.calendar import Calendar
from sim.model.distributions import sampler
from sim.model.fates import (
    AGE_CAP_YEARS,
    DAYS_PER_YEAR,
    DROPPED_OFF,
    FATE_GROUP,
    FATE_RECON,
    FATE_SCRAP,
    FATE_WAY,
    FATE_WIDTH,
    FATE_WORK,
    FateRows,
)
from sim.model.fates import LOST as NOT_RETURNED
from sim.model.records import Recorder
from sim.model.rng import Streams, uniform
from sim.model.window import RowWindow
from sim.output import SpillFolder

# what the fleet calls: a work order reported (device, rental, the rental's municipality, time, hours, parts
# wait, corrective) and a returned rental ended (rental, device, municipality, time, dropped off)
WorkOrderFn = Callable[[int, int, int, float, float, float, bool], None]
ReturnFn = Callable[[int, int, int, float, bool], None]
# a work-order need during a rental: (time the need arises, rental, work hours, parts wait, corrective)
WorkOrderItem = tuple[float, int, float, float, bool]

RENTAL_COLUMNS = {
    "device": "q", "source": "q", "municipality": "h", "depot": "h", "category": "h", "start": "d",
    "end": "d", "returned": "b", "fate": "d",
}  # fmt: skip
# the fate fields read after the start, FATE_WIDTH per rental in one column (sim/model/fates.py)
RENTAL_PACKED: dict[str, tuple[str, ...]] = {"fate": ("way", "u_group", "u_scrap", "u_work", "recon_hours")}
assert [RENTAL_PACKED["fate"].index(f) for f in ("way", "u_group", "u_scrap", "u_work", "recon_hours")] == [
    FATE_WAY, FATE_GROUP, FATE_SCRAP, FATE_WORK, FATE_RECON
]  # fmt: skip

CYCLES_MAX = 2**31 - 1  # the register's cycles column holds 4-byte items (array typecode 'i')

# device states
STOCK_NEW, STOCK_RECOND, ALLOCATED, ON_RENT, AWAITING_PICKUP, IN_TRANSIT_BACK, IN_WORKSHOP = range(7)
SCRAPPED, SOLD, LOST = 7, 8, 9
STATE_NAMES = (
    "stock_new", "stock_reconditioned", "allocated", "on_rent", "awaiting_pickup", "in_transit_back",
    "in_workshop", "scrapped", "sold", "lost",
)  # fmt: skip


class Holding(NamedTuple):
    """Devices of ``state`` held by a structure (``counter``: a level counter kept beside the structures,
    which must match on its own; structures sharing a state add up)."""

    state: int
    size: int
    what: str
    counter: bool = False


class Fleet:
    """Device register, rentals and in-use work orders.

    Collaborators: the SimPy environment and calendar (rental ends and work orders at their times), the
    recorder (counts), the run's streams (prices, tracked flags), and two callbacks: ``on_work_order`` when a
    need is reported during a rental and ``on_return`` when a rental ends with the device coming back.
    """

    def __init__(
        self,
        scenario: Scenario,
        env: simpy.Environment,
        calendar: Calendar,
        streams: Streams,
        recorder: Recorder,
        days: int,
        on_work_order: WorkOrderFn,
        on_return: ReturnFn,
        folder: SpillFolder | None = None,
        on_picked_up: Callable[[list[int]], None] | None = None,
    ) -> None:
        s = scenario
        folder = folder if folder is not None else SpillFolder("hmsim-records-")
        self.env = env
        self.calendar = calendar
        self.recorder = recorder
        self.days = days
        self.on_work_order = on_work_order
        self.on_return = on_return
        # rentals ended without an event whose devices await pickup, in time order (default: on_return each)
        self.on_picked_up = on_picked_up if on_picked_up is not None else self._picked_up
        M, K, C = len(s.municipalities), len(s.depots), len(s.categories)
        self.C = C
        self.M = M
        # the count codes appended at rental ends (the recorder keeps these arrays for the whole run)
        self.count_rental_ends = recorder.muni_counts["rental_ends"].append
        self.count_lost = recorder.muni_counts["lost_not_returned"].append
        self.rental_ends_codes = recorder.muni_counts["rental_ends"]
        self.lost_codes = recorder.muni_counts["lost_not_returned"]
        cats = list(s.categories.values())
        self.rented = [c.rented for c in cats]
        names = list(s.categories)
        # device register (typed arrays: fast scalar access, 8 bytes or less per value)
        self.cat = array("h")
        self.depot = array("h")
        self.tracked = array("b")
        self.price = array("d")
        self.purchased = array("d")
        self.initial = array("b")
        self.cycles = array("i")  # 4 bytes (an overflow raises OverflowError, never wraps)
        assert self.cycles.itemsize == 4, "CYCLES_MAX assumes 4-byte cycles"
        self.state = array("b")
        self.end = array("d")
        self.rental = array("i")  # the device's latest rental (-1 none); 4 bytes, as cycles
        # rentals: identity, times, and the fate fields used after the start; a rental's row is at
        # ``rentals.row(rid)`` (closed rentals are flushed at year starts, see sim/model/window.py)
        self.rentals = RowWindow("rentals", RENTAL_COLUMNS, folder, RENTAL_PACKED)
        cols = self.rentals.columns
        self.r_device = cols["device"]
        self.r_source = cols["source"]  # order id (>= 0) or -(initial index + 1)
        self.r_muni = cols["municipality"]
        self.r_depot = cols["depot"]  # the depot serving the rental (changes if it transfers)
        self.r_cat = cols["category"]
        self.r_start = cols["start"]
        self.r_end = cols["end"]
        self.r_returned = cols["returned"]  # -1 ongoing, 0 not returned, 1 returned
        # the rental's fate after its start: row p's fields at p * FATE_WIDTH + FATE_WAY, FATE_GROUP, ...
        self.r_fate = cols["fate"]
        self.r_row = self.rentals.row
        self.ends_by_day: dict[int, list[int]] = {}
        # today's rental ends without an event (see the module docstring): rental ids and end times in time
        # order, processed up to index ``_settled``
        self._silent: list[int] = []
        self._silent_end: list[float] = []
        self._settled = 0
        self.wo_by_day: dict[int, list[WorkOrderItem]] = {}
        # today's work-order needs (no SimPy event either): items and times in time order, reported up to
        # index ``_wo_settled`` (see settle_work_orders)
        self._wo: list[WorkOrderItem] = []
        self._wo_when: list[float] = []
        self._wo_settled = 0
        self._wo_busy = False
        self.scheduled_through = -1
        # level counters kept by transitions (read once per day)
        self.onrent_mc = [0] * (M * C)
        self.onrent_tracked_mc = [0] * (M * C)
        self.awaiting_pickup_mc = [0] * (M * C)
        self.tracked_kc = [0] * (K * C)  # tracked rented devices in the fleet, by depot x category
        # device attributes drawn at creation, in creation order, per category
        self.price_draw = [
            streams.buffered(f"prices/{n}", sampler(c.purchase_price, s.price_level))
            for n, c in zip(names, cats, strict=True)
        ]
        self.tracked_draw = [streams.buffered(f"tracked/{n}", uniform) for n in names]
        self.tracked_share = [c.tracked_share for c in cats]
        self.age_factor = [c.corrective_age_factor for c in cats]

    def _picked_up(self, rids: list[int]) -> None:
        w = self.rentals
        for rid in rids:
            p = w.row(rid)
            self.on_return(rid, self.r_device[p], self.r_muni[p], self.r_end[p], False)

    # ---- devices --------------------------------------------------------------------------------------
    def new_device(
        self,
        c: int,
        k: int,
        purchased: float,
        initial: bool,
        state: int,
        tracked: bool | None = None,
        price: float | None = None,
        cycles: int = 0,
    ) -> int:
        """Register a device (tracked flag and price drawn unless given; ``cycles``: rentals it has had)."""
        dev = len(self.cat)
        if tracked is None:
            tracked = self.tracked_draw[c].next() < self.tracked_share[c]
        self.cat.append(c)
        self.depot.append(k)
        self.tracked.append(tracked)
        self.price.append(self.price_draw[c].next() if price is None else price)
        self.purchased.append(purchased)
        self.initial.append(initial)
        self.cycles.append(cycles)
        self.state.append(state)
        self.end.append(math.nan)
        self.rental.append(-1)
        if tracked and self.rented[c]:
            self.tracked_kc[k * self.C + c] += 1
        return dev

    def new_devices(self, c: int, k: int, purchased: float, n: int, state: int) -> int:
        """Register ``n`` bought devices at once (tracked flags and prices drawn as ``n`` calls of
        :meth:`new_device` would); returns the first id."""
        first = len(self.cat)
        share = self.tracked_share[c]
        tracked = [u < share for u in self.tracked_draw[c].take(n)]
        self.cat.extend([c] * n)
        self.depot.extend([k] * n)
        self.tracked.extend(tracked)
        self.price.extend(self.price_draw[c].take(n))
        self.purchased.extend([purchased] * n)
        self.initial.extend([0] * n)
        self.cycles.extend([0] * n)
        self.state.extend([state] * n)
        self.end.extend([math.nan] * n)
        self.rental.extend([-1] * n)
        if self.rented[c]:
            self.tracked_kc[k * self.C + c] += sum(tracked)
        return first

    def add_devices(
        self,
        c: int,
        k: int,
        purchased: np.ndarray,
        state: int,
        tracked: np.ndarray,
        price: np.ndarray,
        cycles: np.ndarray,
    ) -> int:
        """Register initial devices with the given attributes at once (as :meth:`new_device` per device with
        ``initial=True`` would); returns the first id."""
        first = len(self.cat)
        n = len(purchased)
        tracked = np.asarray(tracked, dtype=bool)
        self.cat.extend([c] * n)
        self.depot.extend([k] * n)
        self.tracked.frombytes(tracked.astype(np.int8).tobytes())
        self.price.frombytes(np.asarray(price, dtype=np.float64).tobytes())
        self.purchased.frombytes(np.asarray(purchased, dtype=np.float64).tobytes())
        self.initial.extend([1] * n)
        self.cycles.extend(np.asarray(cycles, dtype=np.int64).tolist())  # 4-byte items: an overflow raises
        self.state.extend([state] * n)
        self.end.extend([math.nan] * n)
        self.rental.extend([-1] * n)
        if self.rented[c]:
            self.tracked_kc[k * self.C + c] += int(np.count_nonzero(tracked))
        return first

    # ---- what the fleet holds (state invariants, sim/model/invariants.py) -----------------------------
    def holdings(self) -> list[Holding]:
        """``(device state, devices its counters hold, what)`` for the states the fleet keeps counters of."""
        return [
            Holding(ON_RENT, sum(self.onrent_mc), "on-rent counters", counter=True),
            Holding(AWAITING_PICKUP, sum(self.awaiting_pickup_mc), "awaiting-pickup counters", counter=True),
        ]

    def counters(self) -> list[tuple[str, list[int]]]:
        """Level counters that must not be negative."""
        return [("on-rent", self.onrent_mc), ("awaiting-pickup", self.awaiting_pickup_mc)]

    def tracked_problem(self) -> str | None:
        """Whether the tracked-fleet counters match the tracked rented devices not gone."""
        rented = np.array(self.rented, dtype=bool)[np.frombuffer(self.cat, dtype=np.int16)]
        tracked = np.frombuffer(self.tracked, dtype=np.int8) != 0
        gone = np.frombuffer(self.state, dtype=np.int8) >= SCRAPPED
        active = int(np.count_nonzero(tracked & rented & ~gone))
        if active != sum(self.tracked_kc):
            return f"tracked fleet counter {sum(self.tracked_kc)} != tracked active devices {active}"
        return None

    def move_rental(self, rid: int, k: int) -> None:
        """Rental ``rid``'s device (on rent) belongs to depot ``k`` from now on: its technicians service it,
        its routes collect it, its stock gets it back (a dated change of who serves the patient)."""
        p = self.r_row(rid)
        dev = self.r_device[p]
        old = self.depot[dev]
        if old == k or self.state[dev] != ON_RENT:
            return
        self.depot[dev] = k
        self.r_depot[p] = k
        c = self.cat[dev]
        if self.tracked[dev] and self.rented[c]:
            self.tracked_kc[old * self.C + c] -= 1
            self.tracked_kc[k * self.C + c] += 1

    def rentals_in_progress(self, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rental ids in progress in municipality ``m``, with their source (order id, or -(initial index +
        1)) and category."""
        r_muni = np.frombuffer(self.r_muni, dtype=np.int16)
        r_ret = np.frombuffer(self.r_returned, dtype=np.int8)
        rows = np.nonzero((r_muni == m) & (r_ret < 0))[0]  # rentals in progress are never flushed
        return (
            self.rentals.ids()[rows],
            np.frombuffer(self.r_source, dtype=np.int64)[rows],
            np.frombuffer(self.r_cat, dtype=np.int16)[rows],
        )

    def flush(self) -> None:
        """Write the rentals that are over (ended, and their device triaged, or lost) to disk, except those
        begun since the last flush or the run's start (see sim/model/window.py)."""
        window = self.rentals
        ids = window.ids()
        dev = np.frombuffer(self.r_device, dtype=np.int64)
        latest = np.frombuffer(self.rental, dtype=self.rental.typecode)  # each device's latest rental
        current = latest[dev] == ids
        state = np.frombuffer(self.state, dtype=np.int8)[dev]
        coming_back = current & ((state == AWAITING_PICKUP) | (state == IN_TRANSIT_BACK))
        closed = (np.frombuffer(self.r_returned, dtype=np.int8) >= 0) & ~coming_back
        del dev, latest, current, state  # views of the columns: released before they are compacted
        window.flush(closed)

    # ---- rentals --------------------------------------------------------------------------------------
    def start_rental(
        self, dev: int, source: int, m: int, t: float, fates: FateRows, i: int, start: float | None = None
    ) -> int:
        """Put ``dev`` on rent in municipality ``m`` at ``t`` with fate row ``i`` (``start`` < ``t`` for a
        rental already in progress at the warm start): :meth:`start_rentals` of one device, with its work
        orders planned."""
        c = self.cat[dev]
        begin = t if start is None else start
        end = begin + fates.duration[i]
        window = self.rentals
        rid = window.count
        window.count = rid + 1
        p = rid - window.shift  # a new rental's row
        self.r_device.append(dev)
        self.r_source.append(source)
        self.r_muni.append(m)
        self.r_depot.append(self.depot[dev])
        self.r_cat.append(c)
        self.r_start.append(begin)
        self.r_end.append(end)
        self.r_returned.append(-1)
        j = i * FATE_WIDTH
        self.r_fate.extend(fates.rental[j : j + FATE_WIDTH])
        self.rental[dev] = rid
        self.state[dev] = ON_RENT
        self.cycles[dev] += 1
        idx = m * self.C + c
        self.onrent_mc[idx] += 1
        if self.tracked[dev]:
            self.onrent_tracked_mc[idx] += 1
        day = int(end)
        if self.scheduled_through < day < self.days:  # a later day's bucket (most rentals): as _schedule_end
            bucket = self.ends_by_day.get(day)
            if bucket is None:
                self.ends_by_day[day] = [rid]
            else:
                bucket.append(rid)
        else:
            self._schedule_end(rid, p, end)
        lo, hi = fates.wo_offset[i], fates.wo_offset[i + 1]
        if hi > lo:
            self.plan_work_orders(dev, rid, begin, end, t, fates, lo, hi)
        return rid

    def start_rentals(
        self,
        devices: np.ndarray,
        sources: np.ndarray,
        munis: np.ndarray,
        cats: np.ndarray,
        t: float,
        fates: FateRows,
        rows: np.ndarray,
    ) -> np.ndarray:
        """Put ``devices`` (of categories ``cats``) on rent at ``t`` in municipalities ``munis``, for orders
        ``sources``, with fate rows ``rows``, in that order (rental ids from ``len(rentals)`` on); returns
        their end times. The columns, the register and the counters are written for all at once, the ends
        scheduled one rental at a time in that order (as one rental start after the other would). Their work
        orders are planned by the caller (:meth:`plan_work_orders`, after each start's other effects)."""
        n = int(devices.size)
        window = self.rentals
        rid0 = window.count
        window.count = rid0 + n
        p0 = rid0 - window.shift  # the new rentals' rows
        ends = t + np.frombuffer(fates.duration, dtype=np.float64)[rows]
        self.r_device.frombytes(devices.astype(np.int64).tobytes())
        self.r_source.frombytes(sources.astype(np.int64).tobytes())
        self.r_muni.frombytes(munis.astype(np.int16).tobytes())
        self.r_depot.frombytes(np.frombuffer(self.depot, dtype=np.int16)[devices].tobytes())
        self.r_cat.frombytes(cats.astype(np.int16).tobytes())
        self.r_start.frombytes(np.full(n, t, dtype=np.float64).tobytes())
        self.r_end.frombytes(ends.tobytes())
        self.r_returned.frombytes(np.full(n, -1, dtype=np.int8).tobytes())
        fate = np.frombuffer(fates.rental, dtype=np.float64).reshape(-1, FATE_WIDTH)[rows]
        self.r_fate.frombytes(fate.tobytes())
        # the register (views released at once: the arrays grow when devices are bought)
        np.frombuffer(self.rental, dtype=self.rental.typecode)[devices] = np.arange(rid0, rid0 + n)
        np.frombuffer(self.state, dtype=np.int8)[devices] = ON_RENT
        cycles = np.frombuffer(self.cycles, dtype=self.cycles.typecode)
        if n and int(cycles[devices].max()) >= CYCLES_MAX:
            raise OverflowError("a device's rental count does not fit the register's cycles column")
        cycles[devices] += 1
        del cycles
        tracked = np.frombuffer(self.tracked, dtype=np.int8)[devices].tolist()
        onrent, onrent_tracked = self.onrent_mc, self.onrent_tracked_mc
        for idx, x in zip((munis * self.C + cats).tolist(), tracked, strict=True):
            onrent[idx] += 1
            if x:
                onrent_tracked[idx] += 1
        days, through, buckets = self.days, self.scheduled_through, self.ends_by_day
        rid = rid0
        for end in ends.tolist():
            day = int(end)
            if through < day < days:  # a later day's bucket (most rentals): as _schedule_end
                bucket = buckets.get(day)
                if bucket is None:
                    buckets[day] = [rid]
                else:
                    bucket.append(rid)
            else:
                self._schedule_end(rid, p0 + rid - rid0, end)
            rid += 1
        return ends

    def start_rentals_in_progress(
        self, first: int, sources: range, m: int, begin: np.ndarray, fates: FateRows
    ) -> None:
        """Put devices ``first, first + 1, ...`` on rent in municipality ``m`` at time 0 as rentals in
        progress that began at ``begin`` (< 0), with fate rows ``0, 1, ...`` and the given ``sources`` (the
        warm start: as :meth:`start_rentals` of these devices would, with the columns filled at
        once)."""
        n = len(begin)
        if n == 0:
            return
        c, k = self.cat[first], self.depot[first]
        begin = np.asarray(begin, dtype=np.float64)
        end = begin + np.frombuffer(fates.duration, dtype=np.float64)[:n]
        window = self.rentals
        rid0 = window.count
        window.count = rid0 + n
        p0 = rid0 - window.shift
        devices = range(first, first + n)
        self.r_device.extend(devices)
        self.r_source.extend(sources)
        self.r_muni.extend([m] * n)
        self.r_depot.extend([k] * n)
        self.r_cat.extend([c] * n)
        self.r_start.frombytes(begin.tobytes())
        self.r_end.frombytes(end.tobytes())
        self.r_returned.extend([-1] * n)
        self.r_fate.extend(fates.rental[: n * FATE_WIDTH])
        self.rental[first : first + n] = array(self.rental.typecode, range(rid0, rid0 + n))
        self.state[first : first + n] = array("b", [ON_RENT] * n)
        cycles = self.cycles
        cycles[first : first + n] = array(cycles.typecode, [x + 1 for x in cycles[first : first + n]])
        idx = m * self.C + c
        self.onrent_mc[idx] += n
        self.onrent_tracked_mc[idx] += sum(self.tracked[first : first + n])
        ends = end.tolist()
        begins = begin.tolist()
        offset = fates.wo_offset
        for i in range(n):
            self._schedule_end(rid0 + i, p0 + i, ends[i])
            lo, hi = offset[i], offset[i + 1]
            if hi > lo:
                self.plan_work_orders(first + i, rid0 + i, begins[i], ends[i], 0.0, fates, lo, hi)

    def plan_work_orders(
        self, dev: int, rid: int, begin: float, end: float, now: float, fates: FateRows, lo: int, hi: int
    ) -> None:
        """Schedule the work-order needs of rental ``rid`` (``dev`` on rent ``begin`` to ``end``) from its
        fate's candidates ``lo:hi`` that arise from ``now`` on (thinned by the device's age)."""
        factor = self.age_factor[self.cat[dev]]
        bound = 1.0 + factor * AGE_CAP_YEARS
        purchased = self.purchased[dev]
        span = end - begin
        frac, accept, is_corrective = fates.wo_frac, fates.wo_accept, fates.wo_corrective
        schedule = self._schedule_work_order
        for j in range(lo, hi):
            when = begin + frac[j] * span
            if when < now:
                continue  # before the simulation (rentals in progress at the warm start)
            corrective = bool(is_corrective[j])
            if corrective and factor > 0:
                years = (when - purchased) / DAYS_PER_YEAR
                age = 0.0 if years < 0.0 else (AGE_CAP_YEARS if years > AGE_CAP_YEARS else years)  # clipped
                if accept[j] * bound > 1.0 + factor * age:
                    continue  # thinning: younger devices need fewer repairs
            schedule((when, rid, fates.wo_hours[j], fates.wo_parts_wait[j], corrective))

    def _schedule_end(self, rid: int, p: int, end: float) -> None:
        day = int(end)
        if day >= self.days:
            return
        if day > self.scheduled_through:
            bucket = self.ends_by_day.get(day)
            if bucket is None:
                self.ends_by_day[day] = [rid]
            else:
                bucket.append(rid)
        elif self.r_fate[p * FATE_WIDTH + FATE_WAY] == DROPPED_OFF:  # today, with an event: schedule it now
            env = self.env
            env.timeout(max(end - env.now, 0.0), value=rid).callbacks.append(self._end)
        else:  # today, without an event: into today's list at its time (after equal times, as SimPy would)
            i = bisect.bisect_right(self._silent_end, end, self._settled)
            self._silent.insert(i, rid)
            self._silent_end.insert(i, end)

    def settle_ends(self, until: float) -> None:
        """Process today's rental ends without an event up to and including ``until``, in time order."""
        i, ends = self._settled, self._silent_end
        if i == len(ends) or ends[i] > until:
            return
        j = bisect.bisect_right(ends, until, i)  # the times are in order
        if j - i < rowwindow.BATCH_MIN:
            for rid in self._silent[i:j]:
                self._finish(rid)
        else:
            self._finish_many(self._silent[i:j])
        self._settled = j

    def _schedule_work_order(self, item: WorkOrderItem) -> None:
        when = item[0]
        day = int(when)
        if day >= self.days:
            return
        if day > self.scheduled_through:
            bucket = self.wo_by_day.get(day)
            if bucket is None:
                self.wo_by_day[day] = [item]
            else:
                bucket.append(item)
        else:  # today: into today's list at its time (after equal times, as SimPy would)
            i = bisect.bisect_right(self._wo_when, when, self._wo_settled)
            self._wo.insert(i, item)
            self._wo_when.insert(i, when)

    def settle_work_orders(self, until: float) -> None:
        """Report today's work-order needs up to and including ``until``, in time order (called before any
        other job is logged, so job ids keep the order of one event per need)."""
        items, whens = self._wo, self._wo_when
        if self._wo_settled == len(items) or whens[self._wo_settled] > until:
            return  # nothing due (the common case: called before every job is logged)
        if self._wo_busy:
            return  # reporting one logs its job: the ones after it wait for the outer loop
        self._wo_busy = True
        try:
            while self._wo_settled < len(items) and whens[self._wo_settled] <= until:
                item = items[self._wo_settled]
                self._wo_settled += 1
                self._report(item)
        finally:
            self._wo_busy = False

    def settle_work_orders_now(self) -> None:
        """Report the work-order needs due by now (the job log calls it before each job is logged)."""
        i = self._wo_settled
        if i < len(self._wo_when) and self._wo_when[i] <= self.env.now:
            self.settle_work_orders(self.env.now)

    def settle(self, until: float) -> None:
        """Process today's rental ends and work-order needs up to and including ``until``."""
        self.settle_ends(until)
        self.settle_work_orders(until)

    def schedule_day(self, d: int) -> None:
        """At 00:00 of day ``d``: schedule the day's rental ends and work orders at their exact times."""
        self.scheduled_through = d
        env = self.env
        now = env.now
        assert self._settled == len(self._silent), "the previous day's rental ends are not all processed"
        rids = self.ends_by_day.pop(d, None)
        self._silent, self._silent_end = self._order_ends(rids, now) if rids else ([], [])
        self._settled = 0
        assert self._wo_settled == len(self._wo), "the previous day's work orders are not all reported"
        items = self.wo_by_day.pop(d, [])
        items.sort(key=itemgetter(0))  # stable: equal times keep the bucket's order, as SimPy's ids would
        self._wo = items
        self._wo_when = [item[0] for item in items]
        self._wo_settled = 0

    def _order_ends(self, rids: list[int], now: float) -> tuple[list[int], list[float]]:
        """A day's rental ends (its bucket, ``now`` its 00:00) in time order, with their times (equal times
        keep the bucket's order, as SimPy's event ids would); those dropped off get an event each, in the
        bucket's order."""
        env = self.env
        if len(rids) < rowwindow.BATCH_MIN:  # one at a time
            end, fate = self.r_end, self.r_fate
            w = self.rentals
            silent: list[int] = []
            ends = {}
            for rid in rids:
                p = w.row(rid)
                if fate[p * FATE_WIDTH + FATE_WAY] == DROPPED_OFF:
                    env.timeout(end[p] - now, value=rid).callbacks.append(self._end)
                else:
                    silent.append(rid)
                    ends[rid] = end[p]
            silent.sort(key=ends.__getitem__)  # stable
            return silent, [ends[rid] for rid in silent]
        ids = np.array(rids, dtype=np.int64)
        rows = self.rentals.rows(ids)
        times = np.frombuffer(self.r_end, dtype=np.float64)[rows]
        dropped = np.frombuffer(self.r_fate, dtype=np.float64)[rows * FATE_WIDTH + FATE_WAY] == DROPPED_OFF
        if dropped.any():
            for rid, t in zip(ids[dropped].tolist(), times[dropped].tolist(), strict=True):
                env.timeout(t - now, value=rid).callbacks.append(self._end)
            ids, times = ids[~dropped], times[~dropped]
        order = np.argsort(times, kind="stable")
        return ids[order].tolist(), times[order].tolist()

    def _report(self, item: WorkOrderItem) -> None:
        when, rid, hours, parts_wait, corrective = item
        reported = self.calendar.next_open(when)
        w = self.rentals
        p = rid - w.shift if rid >= w.base else bisect_left(w.old_ids, rid)
        if reported >= self.r_end[p]:
            return  # the rental ends before anyone reports the need
        self.on_work_order(self.r_device[p], rid, self.r_muni[p], reported, hours, parts_wait, corrective)

    def _end(self, event: Any) -> None:
        self._finish(event.value)

    def _finish_many(self, rids: list[int]) -> None:
        """Rentals ``rids`` end, in that order (as :meth:`_finish` of each; none is dropped off: those end
        with an event), their columns, the register and the counts written for all at once."""
        ids = np.array(rids, dtype=np.int64)
        p = self.rentals.rows(ids)
        way = np.frombuffer(self.r_fate, dtype=np.float64)[p * FATE_WIDTH + FATE_WAY]
        if (way == DROPPED_OFF).any():
            for rid in rids:
                self._finish(rid)
            return
        dev = np.frombuffer(self.r_device, dtype=np.int64)[p]
        c = np.frombuffer(self.r_cat, dtype=np.int16)[p].astype(np.int64)
        m = np.frombuffer(self.r_muni, dtype=np.int16)[p].astype(np.int64)
        t = np.frombuffer(self.r_end, dtype=np.float64)[p]
        C = self.C
        codes = (t.astype(np.int64) * self.M + m) * C + c  # the end's day: t >= 0
        self.rental_ends_codes.frombytes(codes.tobytes())
        back = way != NOT_RETURNED
        np.frombuffer(self.r_returned, dtype=np.int8)[p] = back
        np.frombuffer(self.state, dtype=np.int8)[dev] = np.where(back, AWAITING_PICKUP, LOST)
        tracked = np.frombuffer(self.tracked, dtype=np.int8)[dev]
        onrent, onrent_tracked, awaiting = self.onrent_mc, self.onrent_tracked_mc, self.awaiting_pickup_mc
        for i, x, b in zip((m * C + c).tolist(), tracked.tolist(), back.tolist(), strict=True):
            onrent[i] -= 1
            if x:
                onrent_tracked[i] -= 1
            if b:
                awaiting[i] += 1
        if not back.all():
            lost = ~back
            np.frombuffer(self.end, dtype=np.float64)[dev[lost]] = t[lost]
            depot, tracked_kc = self.depot, self.tracked_kc
            for d, k, x in zip(dev[lost].tolist(), c[lost].tolist(), tracked[lost].tolist(), strict=True):
                if x:
                    tracked_kc[depot[d] * C + k] -= 1
            self.lost_codes.frombytes(codes[lost].tobytes())
        if back.any():
            self.on_picked_up(ids[back].tolist())

    def _finish(self, rid: int) -> None:
        """A rental ends: the device is returned (dropped off or awaiting pickup) or lost."""
        w = self.rentals
        p = rid - w.shift if rid >= w.base else bisect_left(w.old_ids, rid)
        dev = self.r_device[p]
        c = self.r_cat[p]
        m = self.r_muni[p]
        t = self.r_end[p]
        d = int(t)
        C = self.C
        i = m * C + c
        self.onrent_mc[i] -= 1
        if self.tracked[dev]:
            self.onrent_tracked_mc[i] -= 1
        code = (d * self.M + m) * C + c
        self.count_rental_ends(code)
        way = self.r_fate[p * FATE_WIDTH + FATE_WAY]
        if way:  # picked up or dropped off
            self.r_returned[p] = 1
            self.state[dev] = AWAITING_PICKUP
            self.awaiting_pickup_mc[i] += 1
            self.on_return(rid, dev, m, t, way == DROPPED_OFF)
        else:
            self.r_returned[p] = 0
            self.state[dev] = LOST
            self.end[dev] = t
            if self.tracked[dev]:
                self.tracked_kc[self.depot[dev] * C + c] -= 1
            self.count_lost(code)
