"""Route runs: deliveries and pickups ride the next run of their municipality's route.

Each route has weekdays, vehicles and a load capacity per vehicle and leg (out: deliveries; back:
pickups). All of a day's runs are handled by three batch events: departure (load), delivery time
(rentals start, pickups are loaded) and return to the depot (failed deliveries re-queue, returns go to
triage). Deliveries are loaded by planned day then readiness, merging the municipalities' queue heads,
until the next one does not fit; the rest waits for the next run. Pickups are collected whole, oldest
first, while the vehicle and the depot's room for returns allow. A run's cost grows with what it loads,
not with what waits, so an overloaded scenario stays fast.
A run's km is ``road_factor x 2 x`` the farthest municipality visited ``+ km_per_stop x stops``; a stop is
one delivery attempt or one pickup order. Returned devices are grouped into pickup orders with mean
size ``devices_per_pickup_order`` (a new order opens with probability ``1 / size``). A share
``dropoff_share`` of returns is instead brought to the depot by the customer: it arrives when the rental
ends (or at the next opening) and needs no pickup order.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from typing import Any

import simpy

from sim.config.schema import WEEKDAYS, Scenario
from sim.model.calendar import Calendar
from sim.model.depot import DepotStock
from sim.model.fleet import ALLOCATED, AWAITING_PICKUP, IN_TRANSIT_BACK, Fleet, Holding
from sim.model.orders import OrderBook
from sim.model.records import Recorder
from sim.model.rng import Streams, uniform

# deliveries that succeed at a time, in the order they are made: orders, devices, municipalities, time
DeliverFn = Callable[[list[int], list[int], list[int], float], None]


_COLLECTED: list[int] = []  # shared by every collected pickup order (never appended to: it is closed)


class Routes:
    """Ready-for-delivery queues, pickup orders and the daily route runs.

    Collaborators: the order book (promised day, allocated unit, attempts), the fleet (device states and
    categories), the depot stock (returns go to triage; the workshop's load limits pickups), the recorder,
    and ``on_delivered`` when a delivery succeeds.
    """

    def __init__(
        self,
        scenario: Scenario,
        env: simpy.Environment,
        calendar: Calendar,
        streams: Streams,
        recorder: Recorder,
        orders: OrderBook,
        fleet: Fleet,
        stock: DepotStock,
        on_delivered: DeliverFn,
    ) -> None:
        s = scenario
        cal = calendar
        self.env = env
        self.calendar = calendar
        self.recorder = recorder
        self.orders = orders
        self.fleet = fleet
        self.stock = stock
        self.on_delivered = on_delivered
        M = len(s.municipalities)
        self.K, self.C = len(s.depots), len(s.categories)
        self.room = [d.reconditioning_room for d in s.depots.values()]
        depot_index = {k: i for i, k in enumerate(s.depots)}
        t = s.transport
        self.muni_index = {m: i for i, m in enumerate(s.municipalities)}
        self.names = list(t.routes)
        self.route_depot = [depot_index[r.depot] for r in t.routes.values()]
        self.route_munis = [[self.muni_index[m] for m in r.municipalities] for r in t.routes.values()]
        K = self.K
        # lanes: a municipality served from a depot (m * K + k); a route from depot k serves lanes (m, k)
        self.route_lanes = [
            [m * K + k for m in munis] for munis, k in zip(self.route_munis, self.route_depot, strict=True)
        ]
        lanes = M * K
        self.capacity = [r.vehicles * r.capacity_units for r in t.routes.values()]
        self.distance = [mu.distance_km for mu in s.municipalities.values()]
        self.road_factor = t.road_factor
        self.km_per_stop = t.km_per_stop
        self.dep = t.departure_hour / 24.0
        self.deliv = t.delivery_hour / 24.0
        self.ret = t.return_hour / 24.0
        self.fail_p = t.failed_delivery_probability
        self.new_po_p = 1.0 / t.devices_per_pickup_order
        self.volume = [c.volume_units for c in s.categories.values()]
        weekday_sets = [{WEEKDAYS.index(w) for w in r.weekdays} for r in t.routes.values()]
        n = cal.n_days
        # runs[d]: routes running on day d
        workday, weekday = cal.is_workday.tolist(), cal.weekday.tolist()  # Python scalars: fast to index
        self.runs: list[list[int]] = [
            [r for r, days in enumerate(weekday_sets) if workday[d] and weekday[d] in days] for d in range(n)
        ]
        # next_run[lane][d]: first run day of the lane's route strictly after day d (never: n)
        route_of = {lane: r for r, ls in enumerate(self.route_lanes) for lane in ls}
        never = [n] * (n + 1)
        self.next_run: list[list[int]] = []
        for lane in range(lanes):
            r = route_of.get(lane, -1)
            if r < 0:
                self.next_run.append(never)
                continue
            nxt = [n] * (n + 1)
            following = n
            for d in range(n - 1, -1, -1):
                nxt[d] = following
                if r in self.runs[d]:
                    following = d
            self.next_run.append(nxt)
        self.ready: list[deque[int]] = [deque() for _ in range(lanes)]
        self.ready_time: dict[int, float] = {}
        # pickup orders
        self.pickups: list[deque[int]] = [deque() for _ in range(lanes)]
        self.po_devices: list[list[int]] = []
        self.po_created: list[float] = []
        self.open_po = [-1] * lanes
        self.dropoffs_pending = 0  # returns on their way to the depot with the customer
        self.fail_draw = streams.buffered("delivery_failures", uniform)  # third and later attempts

    # ---- queues ----------------------------------------------------------------------------------------
    def holdings(self) -> list[Holding]:
        """``(device state, devices held, what holds them)``: the ready-for-delivery queues, the pickup
        orders and drop-offs on their way (at a day's end, when no vehicle is out)."""
        in_pickup = sum(len(self.po_devices[po]) for q in self.pickups for po in q) + self.dropoffs_pending
        return [
            Holding(ALLOCATED, sum(len(q) for q in self.ready), "ready-for-delivery queues"),
            Holding(AWAITING_PICKUP, in_pickup, "pickup orders + drop-offs on their way"),
            Holding(IN_TRANSIT_BACK, 0, "vehicles at day end"),
        ]

    def set_capacity(self, name: str, capacity: float, day: int) -> None:
        """Route ``name`` carries ``capacity`` units per run from 00:00 of ``day`` on (a dated change)."""
        r = self.names.index(name)

        def reset(_: Any) -> None:
            self.capacity[r] = capacity

        self.env.timeout(day - self.env.now).callbacks.append(reset)

    def set_weekdays(self, name: str, weekdays: set[int], day: int) -> None:
        """Route ``name`` runs on ``weekdays`` (0 = Monday) from ``day`` on; promises made earlier keep the
        old timetable (a dated change)."""
        cal = self.calendar
        r = self.names.index(name)
        n = cal.n_days
        for d in range(day, n):
            runs = [x for x in self.runs[d] if x != r]
            if cal.is_workday[d] and int(cal.weekday[d]) in weekdays:
                runs.append(r)
                runs.sort()
            self.runs[d] = runs
        for lane in self.route_lanes[r]:
            nxt = self.next_run[lane]
            following = n
            for d in range(n - 1, day - 1, -1):
                nxt[d] = following
                if r in self.runs[d]:
                    following = d

    def planned_day(self, lane: int, day: int) -> int:
        """The first run of the lane's route after ``day`` (the promised delivery day)."""
        nxt = self.next_run[lane]
        return nxt[min(day, len(nxt) - 1)]

    def planned_days(self, lanes: list[int], day: int) -> list[int]:
        """:meth:`planned_day` of each of ``lanes`` (a day's orders at once)."""
        nxt = self.next_run
        last = len(nxt[0]) - 1 if nxt else 0
        day = min(day, last)
        return [nxt[lane][day] for lane in lanes]

    def ready_for_delivery(self, order: int, lane: int, t: float) -> None:
        self.ready_time[order] = t
        self.ready[lane].append(order)

    def ready_all(self, orders: list[int], lanes: list[int], t: float) -> None:
        """:meth:`ready_for_delivery` of each of ``orders`` (on ``lanes``), in order."""
        ready_time, ready = self.ready_time, self.ready
        for o, lane in zip(orders, lanes, strict=True):
            ready_time[o] = t
            ready[lane].append(o)

    def add_returns(self, devices: list[int], lanes: list[int], t: float, u_group: list[float]) -> list[bool]:
        """Put reported returns on pickup orders, in that order (``u_group``: each rental's grouping draw);
        for each, whether it opened a new pickup order."""
        open_po, po_devices, po_created, pickups, new_po_p = (
            self.open_po, self.po_devices, self.po_created, self.pickups, self.new_po_p
        )  # fmt: skip
        opened = []
        for dev, lane, u in zip(devices, lanes, u_group, strict=True):
            po = open_po[lane]
            if po < 0 or u < new_po_p:
                po = len(po_devices)
                po_devices.append([dev])
                po_created.append(t)
                pickups[lane].append(po)
                open_po[lane] = po
                opened.append(True)
            else:
                po_devices[po].append(dev)
                opened.append(False)
        return opened

    def drop_off(self, rid: int, dev: int, m: int, t: float) -> None:
        """A return brought to the depot by the customer: reported and triaged when the depot is open."""
        arrival = self.calendar.next_open(t)
        self.dropoffs_pending += 1
        self.env.timeout(arrival - self.env.now, value=(rid, dev, m)).callbacks.append(self._dropped)

    def _dropped(self, event: Any) -> None:
        rid, dev, m = event.value
        fleet = self.fleet
        now = self.env.now
        self.dropoffs_pending -= 1
        fleet.state[dev] = IN_TRANSIT_BACK
        fleet.awaiting_pickup_mc[m * self.C + fleet.cat[dev]] -= 1
        self.recorder.count("returns", int(now), m, fleet.r_cat[fleet.r_row(rid)])
        self.stock.triage([dev], now)

    # ---- runs --------------------------------------------------------------------------------------------
    def depart(self, d: int) -> None:
        """Load today's runs and schedule their delivery and return events."""
        now = self.env.now
        self.stock.catch_up(now)  # units reconditioned until now may serve orders on these runs
        book = self.orders
        planned = book.planned
        order_device = book.device
        ready_time = self.ready_time
        orders_cat = book.category
        fleet_cat = self.fleet.cat
        room = {k: self.room[k] - self.stock.workshop_load(k) for k in range(self.K)}
        deliveries: list[tuple[int, int, int]] = []  # (order, device, municipality)
        pickups: list[tuple[int, int]] = []  # (pickup order, municipality)
        rec = self.recorder
        K = self.K
        ready, volume = self.ready, self.volume
        heappop, heappush = heapq.heappop, heapq.heappush
        for r in self.runs[d]:
            munis = self.route_lanes[r]  # lanes (m * K + k); the municipality is lane // K
            cap = self.capacity[r]
            n_del = dict.fromkeys(munis, 0)
            # deliveries: merge the municipalities' queue heads, earliest planned day first, until full
            heads: list[tuple[int, float, int, int]] = []
            for m in munis:
                q = ready[m]
                if q and ready_time[q[0]] <= now:
                    heads.append((planned[q[0]], ready_time[q[0]], q[0], m))
            heapq.heapify(heads)
            load = 0.0
            while heads:
                head = heads[0]
                o = head[2]
                vol = volume[orders_cat[o]]
                if load + vol > cap:
                    break  # the vehicle is full; the rest waits for the next run
                heappop(heads)
                load += vol
                m = head[3]
                q = ready[m]
                q.popleft()
                del ready_time[o]  # re-added if the delivery fails
                deliveries.append((o, order_device[o], m))
                n_del[m] += 1
                if q:
                    o = q[0]
                    if ready_time[o] <= now:
                        heappush(heads, (planned[o], ready_time[o], o, m))
            # pickups: whole pickup orders, oldest first, while space on the vehicle and at the depot
            k = self.route_depot[r]
            load = 0.0
            n_po = dict.fromkeys(munis, 0)
            n_dev = dict.fromkeys(munis, 0)
            pheads = [(self.po_created[q[0]], q[0], m) for m in munis if (q := self.pickups[m])]
            heapq.heapify(pheads)
            while pheads:
                _, po, m = pheads[0]
                devs = self.po_devices[po]
                vol = 0.0
                for x in devs:
                    vol += volume[fleet_cat[x]]
                if load + vol > cap or len(devs) > room[k]:
                    break
                heappop(pheads)
                load += vol
                room[k] -= len(devs)
                q = self.pickups[m]
                q.popleft()
                if self.open_po[m] == po:
                    self.open_po[m] = -1
                pickups.append((po, m))
                n_po[m] += 1
                n_dev[m] += len(devs)
                if q:
                    heappush(pheads, (self.po_created[q[0]], q[0], m))
            stops = {m: n_del[m] + n_po[m] for m in munis}  # a stop per delivery attempt or pickup order
            visited = [m for m in munis if stops[m]]
            if not visited:
                continue
            total_stops = sum(stops.values())
            km = (
                self.road_factor * 2.0 * max(self.distance[m // K] for m in visited)
                + self.km_per_stop * total_stops
            )
            for m in visited:
                rec.stop_day.append(d)
                rec.stop_route.append(r)
                rec.stop_muni.append(m // K)
                rec.stop_deliveries.append(n_del[m])
                rec.stop_pickup_orders.append(n_po[m])
                rec.stop_pickup_devices.append(n_dev[m])
                rec.stop_km.append(km * stops[m] / total_stops)
        if deliveries or pickups:
            self.env.timeout(d + self.deliv - now, value=(deliveries, pickups)).callbacks.append(
                self._at_customers
            )

    def _at_customers(self, event: object) -> None:
        deliveries, pickups = event.value  # type: ignore[attr-defined]
        t = self.env.now
        d = int(t)
        fleet = self.fleet
        C = self.C
        book = self.orders
        attempts = book.attempts
        u_fail = (book.u_fail1, book.u_fail2)
        failed: list[tuple[int, int]] = []
        K = self.K
        fail_p = self.fail_p
        orders: list[int] = []  # the deliveries that succeed
        devices: list[int] = []
        munis: list[int] = []
        shift, base, fate_row = book.shift, book.base, book.fate_row
        for o, dev, lane in deliveries:
            m = lane // K
            attempt = attempts[o]
            attempts[o] = attempt + 1 if attempt < 255 else 255
            if attempt < 2:  # the order's row in the window of fates (book.fate_row, inlined)
                u = u_fail[attempt][o - shift if o >= base else fate_row(o)]
            else:
                u = self.fail_draw.next()
            if u < fail_p:
                failed.append((o, lane))
                self.recorder.count("failed_deliveries", d, m, fleet.cat[dev])
            else:
                orders.append(o)
                devices.append(dev)
                munis.append(m)
        # after the failures: neither reads what the other changes
        self.on_delivered(orders, devices, munis, t)
        back: list[int] = []
        state, awaiting, cat, po_devices = fleet.state, fleet.awaiting_pickup_mc, fleet.cat, self.po_devices
        for po, lane in pickups:
            row = lane // K * C
            devs = po_devices[po]
            for dev in devs:
                assert state[dev] == AWAITING_PICKUP
                state[dev] = IN_TRANSIT_BACK
                awaiting[row + cat[dev]] -= 1
            back.extend(devs)
            po_devices[po] = _COLLECTED  # a collected pickup order's list is not needed any more
        self.env.timeout(d + self.ret - t, value=(failed, back)).callbacks.append(self._at_depot)

    def _at_depot(self, event: object) -> None:
        failed, back = event.value  # type: ignore[attr-defined]
        now = self.env.now
        self.stock.catch_up(now)  # the ready queues as they are now, before failed deliveries go back
        for o, lane in reversed(failed):
            self.ready_time[o] = now
            self.ready[lane].appendleft(o)
        if back:
            self.stock.triage(back, now)
