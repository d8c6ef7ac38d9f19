"""Devices and rentals: columnar device register, rental start and end, technical work orders in use.

Each device has an id indexing plain lists (category, depot, price, purchase time, cycles, state). A rental
is a row in columnar arrays; its end is known at its start (duration drawn once), so the end is kept in a
per-day bucket and processed in the day-end batch instead of as one SimPy event per rental. Technical work
orders arrive as a Poisson stream per category whose rate is the sum over the devices on rent of
``corrective x (1 + age_factor x age) + preventive``, sampled by thinning over randomly chosen devices.
"""

from __future__ import annotations

import math
from array import array
from typing import TYPE_CHECKING

from sim.model.distributions import mixture_sampler, sampler
from sim.model.rng import uniform

if TYPE_CHECKING:
    from sim.model.engine import Simulation

# device states
STOCK_NEW, STOCK_RECOND, ALLOCATED, ON_RENT, AWAITING_PICKUP, IN_TRANSIT_BACK, IN_WORKSHOP = range(7)
SCRAPPED, SOLD, LOST = 7, 8, 9
STATE_NAMES = (
    "stock_new",
    "stock_reconditioned",
    "allocated",
    "on_rent",
    "awaiting_pickup",
    "in_transit_back",
    "in_workshop",
    "scrapped",
    "sold",
    "lost",
)
DAYS_PER_YEAR = 365.25
AGE_CAP_YEARS = 15.0  # repair-rate growth with age stops here (thinning bound)


class Fleet:
    """Device register, rentals and in-use work orders."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        s = sim.scenario
        cats = list(s.categories.values())
        streams = sim.streams
        # device register (plain lists: fast scalar access in the hot path)
        self.cat: list[int] = []
        self.depot: list[int] = []
        self.tracked: list[bool] = []
        self.price: list[float] = []
        self.purchased: list[float] = []
        self.initial: list[bool] = []
        self.cycles: list[int] = []
        self.state: list[int] = []
        self.end: list[float] = []
        self.rental: list[int] = []
        self.onrent_pos: list[int] = []
        # rentals
        self.r_device = array("q")
        self.r_source = array("q")  # order id (>= 0) or -(initial index + 1)
        self.r_muni = array("h")
        self.r_cat = array("h")
        self.r_start = array("d")
        self.r_end = array("d")
        self.r_returned = array("b")  # -1 ongoing, 0 not returned, 1 returned
        self.onrent: list[list[int]] = [[] for _ in cats]
        self.ends_by_day: dict[int, list[int]] = {}
        self.onrent_mc = [0] * (sim.M * sim.C)
        self.onrent_tracked_mc = [0] * (sim.M * sim.C)
        self.awaiting_pickup_mc = [0] * (sim.M * sim.C)
        names = list(s.categories)
        self.duration = [
            streams.buffered(f"rental_duration/{n}", mixture_sampler(c.rental_duration)) if c.rented else None
            for n, c in zip(names, cats, strict=True)
        ]
        self.price_draw = [
            streams.buffered(f"prices/{n}", sampler(c.purchase_price))
            for n, c in zip(names, cats, strict=True)
        ]
        self.tracked_draw = [streams.buffered(f"tracked/{n}", uniform) for n in names]
        self.return_draw = [streams.buffered(f"returns/{n}", uniform) for n in names]
        self.repair_hours = [
            streams.buffered(f"repair_hours/{n}", sampler(c.repair_hours))
            for n, c in zip(names, cats, strict=True)
        ]
        self.parts_wait = [
            streams.buffered(f"spare_parts/{n}", sampler(c.spare_part_wait_days))
            for n, c in zip(names, cats, strict=True)
        ]
        self.wo_gen = [streams.generator(f"work_orders/{n}") for n in names]
        self.tracked_share = [c.tracked_share for c in cats]
        self.return_share = [c.return_share for c in cats]
        self.corrective = [c.corrective_per_device_year for c in cats]
        self.age_factor = [c.corrective_age_factor for c in cats]
        self.preventive = [c.preventive_per_device_year for c in cats]
        self.spare_share = [c.spare_part_share for c in cats]

    # ---- devices --------------------------------------------------------------------------------------
    def new_device(self, c: int, k: int, purchased: float, initial: bool, state: int) -> int:
        dev = len(self.cat)
        self.cat.append(c)
        self.depot.append(k)
        self.tracked.append(self.tracked_draw[c].next() < self.tracked_share[c])
        self.price.append(self.price_draw[c].next())
        self.purchased.append(purchased)
        self.initial.append(initial)
        self.cycles.append(0)
        self.state.append(state)
        self.end.append(math.nan)
        self.rental.append(-1)
        self.onrent_pos.append(-1)
        if self.tracked[dev] and self.sim.rented[c]:
            self.sim.fleet_tracked_kc[k * self.sim.C + c] += 1
        return dev

    # ---- rentals --------------------------------------------------------------------------------------
    def start_rental(self, dev: int, source: int, m: int, t: float, duration: float | None = None) -> int:
        """Put ``dev`` on rent in municipality ``m`` from ``t``; the duration is drawn unless given."""
        c = self.cat[dev]
        if duration is None:
            draw = self.duration[c]
            assert draw is not None
            duration = draw.next()
        rid = len(self.r_device)
        end = t + duration
        self.r_device.append(dev)
        self.r_source.append(source)
        self.r_muni.append(m)
        self.r_cat.append(c)
        self.r_start.append(t)
        self.r_end.append(end)
        self.r_returned.append(-1)
        self.rental[dev] = rid
        self.state[dev] = ON_RENT
        self.cycles[dev] += 1
        onrent = self.onrent[c]
        self.onrent_pos[dev] = len(onrent)
        onrent.append(dev)
        i = m * self.sim.C + c
        self.onrent_mc[i] += 1
        if self.tracked[dev]:
            self.onrent_tracked_mc[i] += 1
        end_day = int(end)
        if end_day < self.sim.days:
            bucket = self.ends_by_day.get(end_day)
            if bucket is None:
                self.ends_by_day[end_day] = [rid]
            else:
                bucket.append(rid)
        return rid

    def end_day(self, d: int) -> None:
        """Process the rentals ending during day ``d``: return reported later, or lost."""
        rids = self.ends_by_day.pop(d, None)
        if not rids:
            return
        sim = self.sim
        rec = sim.recorder
        C = sim.C
        for rid in rids:
            dev = self.r_device[rid]
            c = self.r_cat[rid]
            m = self.r_muni[rid]
            onrent = self.onrent[c]
            pos = self.onrent_pos[dev]
            last = onrent.pop()
            if last != dev:
                onrent[pos] = last
                self.onrent_pos[last] = pos
            self.onrent_pos[dev] = -1
            i = m * C + c
            self.onrent_mc[i] -= 1
            if self.tracked[dev]:
                self.onrent_tracked_mc[i] -= 1
            rec.count("rental_ends", d, m, c)
            if self.return_draw[c].next() < self.return_share[c]:
                self.r_returned[rid] = 1
                self.state[dev] = AWAITING_PICKUP
                self.awaiting_pickup_mc[i] += 1
                sim.to_report.append(rid)
            else:
                self.r_returned[rid] = 0
                self.state[dev] = LOST
                self.end[dev] = self.r_end[rid]
                if self.tracked[dev]:
                    sim.fleet_tracked_kc[self.depot[dev] * C + c] -= 1
                rec.count("lost_not_returned", d, m, c)

    # ---- technical work orders ---------------------------------------------------------------------
    def generate_work_orders(self, d: int, workdays_per_year: float) -> None:
        """Draw day ``d``'s corrective and preventive work orders over the devices on rent."""
        sim = self.sim
        cal = sim.calendar
        open_f, span = cal.open_frac, cal.close_frac - cal.open_frac
        for c, onrent in enumerate(self.onrent):
            n_on = len(onrent)
            if n_on == 0:
                continue
            corrective, preventive = self.corrective[c], self.preventive[c]
            if corrective <= 0 and preventive <= 0:
                continue
            gen = self.wo_gen[c]
            factor = self.age_factor[c]
            bound = 1.0 + factor * AGE_CAP_YEARS
            n_corr = gen.poisson(n_on * corrective * bound / workdays_per_year) if corrective > 0 else 0
            n_prev = gen.poisson(n_on * preventive / workdays_per_year) if preventive > 0 else 0
            total = n_corr + n_prev
            if total == 0:
                continue
            picks = gen.integers(0, n_on, size=total).tolist()
            accept = gen.random(total).tolist()
            times = (d + open_f + span * gen.random(total)).tolist()
            for j in range(total):
                dev = onrent[picks[j]]
                t = times[j]
                if t >= self.r_end[self.rental[dev]]:
                    continue  # the rental ends before the work order would be reported
                if j < n_corr:
                    if factor > 0:
                        age = min((t - self.purchased[dev]) / DAYS_PER_YEAR, AGE_CAP_YEARS)
                        if accept[j] * bound > 1.0 + factor * max(age, 0.0):
                            continue  # thinning: younger devices need fewer repairs
                    sim.work_order(dev, t, corrective=True)
                else:
                    sim.work_order(dev, t, corrective=False)
