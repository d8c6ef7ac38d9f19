"""Devices and rentals: the columnar device register, rental start and end, work orders during use.

Each device has an id indexing plain lists (category, depot, price, purchase time, cycles, state). A rental
is a row in columnar arrays; its fate (duration, return, triage draws, work orders) comes from its order
(see :mod:`sim.model.fates`). Ends and work orders wait in per-day buckets; each day's are scheduled at
00:00 as one timeout each, so they happen at their exact times while the event heap holds only today's.
A work order is reported at the next opening after the need arises, if the rental has not ended by then.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from typing import Any

import simpy

from sim.config.schema import Scenario
from sim.model.calendar import Calendar
from sim.model.distributions import sampler
from sim.model.fates import AGE_CAP_YEARS, DAYS_PER_YEAR, FateRows
from sim.model.records import Recorder
from sim.model.rng import Streams, uniform

# what the fleet calls: a work order reported (device, rental, time, hours, parts wait, corrective) and a
# returned rental ended (rental, device, municipality, time, dropped off by the customer)
WorkOrderFn = Callable[[int, int, float, float, float, bool], None]
ReturnFn = Callable[[int, int, int, float, bool], None]

# device states
STOCK_NEW, STOCK_RECOND, ALLOCATED, ON_RENT, AWAITING_PICKUP, IN_TRANSIT_BACK, IN_WORKSHOP = range(7)
SCRAPPED, SOLD, LOST = 7, 8, 9
STATE_NAMES = (
    "stock_new", "stock_reconditioned", "allocated", "on_rent", "awaiting_pickup", "in_transit_back",
    "in_workshop", "scrapped", "sold", "lost",
)  # fmt: skip


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
    ) -> None:
        s = scenario
        self.env = env
        self.calendar = calendar
        self.recorder = recorder
        self.days = days
        self.on_work_order = on_work_order
        self.on_return = on_return
        M, K, C = len(s.municipalities), len(s.depots), len(s.categories)
        self.C = C
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
        self.cycles = array("q")
        self.state = array("b")
        self.end = array("d")
        self.rental = array("q")
        # rentals: identity, times, and the fate fields used after the start
        self.r_device = array("q")
        self.r_source = array("q")  # order id (>= 0) or -(initial index + 1)
        self.r_muni = array("h")
        self.r_depot = array("h")  # the depot serving the rental (changes if it transfers)
        self.r_cat = array("h")
        self.r_start = array("d")
        self.r_end = array("d")
        self.r_returned = array("b")  # -1 ongoing, 0 not returned, 1 returned
        self.r_will_return = array("b")
        self.r_dropoff = array("b")
        self.r_u_group = array("d")
        self.r_u_scrap = array("d")
        self.r_u_work = array("d")
        self.r_recon_hours = array("d")
        self.ends_by_day: dict[int, list[int]] = {}
        self.wo_by_day: dict[int, list[tuple[float, int, float, float, bool]]] = {}
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
    ) -> int:
        """Register a device (tracked flag and price drawn unless given)."""
        dev = len(self.cat)
        if tracked is None:
            tracked = self.tracked_draw[c].next() < self.tracked_share[c]
        self.cat.append(c)
        self.depot.append(k)
        self.tracked.append(tracked)
        self.price.append(self.price_draw[c].next() if price is None else price)
        self.purchased.append(purchased)
        self.initial.append(initial)
        self.cycles.append(0)
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

    # ---- rentals --------------------------------------------------------------------------------------
    def start_rental(
        self, dev: int, source: int, m: int, t: float, fates: FateRows, i: int, start: float | None = None
    ) -> int:
        """Put ``dev`` on rent in municipality ``m`` at ``t`` with fate row ``i`` (``start`` < ``t`` for a
        rental already in progress at the warm start)."""
        c = self.cat[dev]
        begin = t if start is None else start
        end = begin + fates.duration[i]
        rid = len(self.r_device)
        self.r_device.append(dev)
        self.r_source.append(source)
        self.r_muni.append(m)
        self.r_depot.append(self.depot[dev])
        self.r_cat.append(c)
        self.r_start.append(begin)
        self.r_end.append(end)
        self.r_returned.append(-1)
        self.r_will_return.append(fates.returned[i])
        self.r_dropoff.append(fates.dropoff[i])
        self.r_u_group.append(fates.u_group[i])
        self.r_u_scrap.append(fates.u_scrap[i])
        self.r_u_work.append(fates.u_work[i])
        self.r_recon_hours.append(fates.recondition_hours[i])
        self.rental[dev] = rid
        self.state[dev] = ON_RENT
        self.cycles[dev] += 1
        idx = m * self.C + c
        self.onrent_mc[idx] += 1
        if self.tracked[dev]:
            self.onrent_tracked_mc[idx] += 1
        self._bucket(self.ends_by_day, int(end), rid, end, self._end)
        lo, hi = fates.wo_offset[i], fates.wo_offset[i + 1]
        if hi > lo:
            self._plan_work_orders(dev, rid, begin, end, t, fates, lo, hi)
        return rid

    def _plan_work_orders(
        self, dev: int, rid: int, begin: float, end: float, now: float, fates: FateRows, lo: int, hi: int
    ) -> None:
        factor = self.age_factor[self.cat[dev]]
        bound = 1.0 + factor * AGE_CAP_YEARS
        purchased = self.purchased[dev]
        span = end - begin
        for j in range(lo, hi):
            when = begin + fates.wo_frac[j] * span
            if when < now:
                continue  # before the simulation (rentals in progress at the warm start)
            corrective = bool(fates.wo_corrective[j])
            if corrective and factor > 0:
                age = min(max((when - purchased) / DAYS_PER_YEAR, 0.0), AGE_CAP_YEARS)
                if fates.wo_accept[j] * bound > 1.0 + factor * age:
                    continue  # thinning: younger devices need fewer repairs
            item = (when, rid, fates.wo_hours[j], fates.wo_parts_wait[j], corrective)
            self._bucket(self.wo_by_day, int(when), item, when, self._work_order)

    def _bucket(self, buckets: dict[int, list[Any]], day: int, item: Any, when: float, callback: Any) -> None:
        if day >= self.days:
            return
        if day <= self.scheduled_through:  # that day's items are already scheduled: schedule directly
            env = self.env
            env.timeout(max(when - env.now, 0.0), value=item).callbacks.append(callback)
            return
        bucket = buckets.get(day)
        if bucket is None:
            buckets[day] = [item]
        else:
            bucket.append(item)

    def schedule_day(self, d: int) -> None:
        """At 00:00 of day ``d``: schedule the day's rental ends and work orders at their exact times."""
        self.scheduled_through = d
        env = self.env
        now = env.now
        rids = self.ends_by_day.pop(d, None)
        if rids:
            end = self.r_end
            for rid in rids:
                env.timeout(end[rid] - now, value=rid).callbacks.append(self._end)
        items = self.wo_by_day.pop(d, None)
        if items:
            for item in items:
                env.timeout(item[0] - now, value=item).callbacks.append(self._work_order)

    def _work_order(self, event: Any) -> None:
        when, rid, hours, parts_wait, corrective = event.value
        reported = self.calendar.next_open(when)
        if reported >= self.r_end[rid]:
            return  # the rental ends before anyone reports the need
        self.on_work_order(self.r_device[rid], rid, reported, hours, parts_wait, corrective)

    def _end(self, event: Any) -> None:
        """A rental ends: the device is returned (dropped off or awaiting pickup) or lost."""
        rid: int = event.value
        dev = self.r_device[rid]
        c = self.r_cat[rid]
        m = self.r_muni[rid]
        t = self.r_end[rid]
        d = int(t)
        C = self.C
        i = m * C + c
        self.onrent_mc[i] -= 1
        if self.tracked[dev]:
            self.onrent_tracked_mc[i] -= 1
        counts = self.recorder.muni_counts
        code = (d * self.recorder.M + m) * C + c
        counts["rental_ends"].append(code)
        if self.r_will_return[rid]:
            self.r_returned[rid] = 1
            self.state[dev] = AWAITING_PICKUP
            self.awaiting_pickup_mc[i] += 1
            self.on_return(rid, dev, m, t, bool(self.r_dropoff[rid]))
        else:
            self.r_returned[rid] = 0
            self.state[dev] = LOST
            self.end[dev] = t
            if self.tracked[dev]:
                self.tracked_kc[self.depot[dev] * C + c] -= 1
            counts["lost_not_returned"].append(code)
