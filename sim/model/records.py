"""Columnar records kept during a run: event counts, end-of-day levels, deliveries, route stops.

Deliveries and route stops are written to disk at each year start (:meth:`Recorder.flush_rows`, see
sim/model/window.py) and read back by :meth:`Recorder.rows`.

Counts are appended as flat ``(day, place, category)`` codes; at the start of each calendar year
(:meth:`Recorder.flush`) the codes of the days before it are tallied into sorted ``(code, count)`` pairs
and dropped, so the codes kept grow with a year's events, not the horizon's, and the pairs with the
cells that had events. A code appended later for an earlier day (none is today) would still be counted:
:meth:`Recorder.tallied` sums the pairs and the remaining codes. Levels are copied once per day. Nothing
here builds pandas objects.
"""

from __future__ import annotations

from array import array

import numpy as np

from sim.model.window import RowWindow
from sim.output import SpillFolder

# per municipality x category event counts (timeseries.parquet)
MUNI_COUNTS = (
    "orders",
    "consultant_fitting_referrals",
    "backorders",
    "deliveries",
    "failed_deliveries",
    "sales",
    "rental_starts",
    "rental_ends",
    "returns",
    "lost_not_returned",
    "pickup_orders",
    "technical_work_orders",
    "corrective_work_orders",
    "preventive_work_orders",
    "installations",
    "recondition_work_orders",
    "scrapped",
)
# per municipality x category end-of-day levels
MUNI_LEVELS = ("on_rent", "on_rent_tracked", "awaiting_pickup", "awaiting_delivery")
# per depot x category counts and levels (depot_timeseries.parquet)
DEPOT_COUNTS = ("purchases", "purchase_orders")
DEPOT_LEVELS = (
    "stock_new",
    "stock_reconditioned",
    "backorders_open",
    "in_workshop",
    "on_order",
    "fleet_tracked",
)
DELIVERY_COLUMNS = {"order": "q", "device": "q", "time": "d", "planned": "q", "attempts": "b"}
STOP_COLUMNS = {
    "day": "q", "route": "h", "municipality": "h", "deliveries": "q", "pickup_orders": "q",
    "pickup_devices": "q", "km": "d",
}  # fmt: skip


class Recorder:
    """Event counts and daily levels for ``days`` days, ``places`` municipalities, depots and categories."""

    def __init__(
        self, days: int, municipalities: int, depots: int, categories: int, folder: SpillFolder | None = None
    ) -> None:
        self.days, self.M, self.K, self.C = days, municipalities, depots, categories
        self.muni_counts = {name: array("q") for name in MUNI_COUNTS}
        self.depot_counts = {name: array("q") for name in DEPOT_COUNTS}
        # (sorted codes, counts) of the codes flushed so far, per metric
        self._flushed: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {
            name: [] for name in (*MUNI_COUNTS, *DEPOT_COUNTS)
        }
        self.muni_levels = np.zeros((len(MUNI_LEVELS), days, municipalities, categories), dtype=np.int32)
        self.depot_levels = np.zeros((len(DEPOT_LEVELS), days, depots, categories), dtype=np.int32)
        # deliveries (one row per delivered order) and route stops (one per route run and municipality
        # visited), appended to directly and flushed to disk at each year start (see flush_rows)
        folder = folder if folder is not None else SpillFolder()
        self.deliveries = RowWindow("deliveries", DELIVERY_COLUMNS, folder)
        self.stops = RowWindow("route_stops", STOP_COLUMNS, folder)
        cols = self.deliveries.columns
        self.del_order = cols["order"]
        self.del_device = cols["device"]
        self.del_time = cols["time"]
        self.del_planned = cols["planned"]
        self.del_attempts = cols["attempts"]
        cols = self.stops.columns
        self.stop_day = cols["day"]
        self.stop_route = cols["route"]
        self.stop_muni = cols["municipality"]
        self.stop_deliveries = cols["deliveries"]
        self.stop_pickup_orders = cols["pickup_orders"]
        self.stop_pickup_devices = cols["pickup_devices"]
        self.stop_km = cols["km"]

    def flush_rows(self) -> None:
        """Write the deliveries and route stops recorded so far to disk (nothing reads them in the run)."""
        for window in (self.deliveries, self.stops):
            window.appended()
            window.flush(np.ones(len(window.columns[next(iter(window.columns))]), dtype=bool), len(window))

    def rows(self, window: RowWindow, lo: int = 0, hi: int | None = None) -> dict[str, np.ndarray]:
        """Rows ``lo..hi-1`` (all by default) of the deliveries or route stops, from disk and memory."""
        window.appended()
        return window.between(lo, len(window) if hi is None else hi)

    def count(self, metric: str, day: int, municipality: int, category: int) -> None:
        """One event of ``metric`` on ``day`` in ``municipality`` for ``category``."""
        self.muni_counts[metric].append((day * self.M + municipality) * self.C + category)

    def count_depot(self, metric: str, day: int, depot: int, category: int, n: int = 1) -> None:
        """``n`` events of a depot-level ``metric``."""
        self.depot_counts[metric].extend([(day * self.K + depot) * self.C + category] * n)

    def _codes(self, name: str) -> tuple[array, int]:
        if name in self.muni_counts:
            return self.muni_counts[name], self.M
        return self.depot_counts[name], self.K

    def flush(self, day: int) -> None:
        """Tally and drop the count codes of the days before ``day`` (each array is kept: the hot path
        holds references to them)."""
        for name, pairs in self._flushed.items():
            codes, places = self._codes(name)
            if not codes:
                continue
            values = np.frombuffer(codes, dtype=np.int64)
            done = values < day * places * self.C
            if not done.any():
                del values
                continue
            pairs.append(np.unique(values[done], return_counts=True))
            rest = values[~done].tobytes()
            del values  # release the buffer before the array is resized
            del codes[:]
            codes.frombytes(rest)

    def recorded(self, name: str) -> int:
        """Events of count ``name`` recorded so far (flushed or not, within the horizon or after it)."""
        return len(self._codes(name)[0]) + sum(int(n.sum()) for _, n in self._flushed[name])

    def tallied(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Count ``name`` as sorted codes of the cells with events within the horizon, and their counts."""
        codes, places = self._codes(name)
        pairs = [*self._flushed[name], np.unique(np.frombuffer(codes, dtype=np.int64), return_counts=True)]
        if len(pairs) == 1 or all(u.size == 0 for u, _ in pairs[1:]):
            cells, counts = pairs[0]
        else:
            cells, inverse = np.unique(np.concatenate([u for u, _ in pairs]), return_inverse=True)
            counts = np.zeros(cells.size, dtype=np.int64)
            np.add.at(counts, inverse, np.concatenate([n for _, n in pairs]))
        keep = cells < self.days * places * self.C
        return cells[keep], counts[keep].astype(np.int64)
