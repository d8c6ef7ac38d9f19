"""Columnar records kept during a run: event counts, end-of-day levels, deliveries, route stops.

Counts are appended as flat ``(day, place, category)`` codes and tallied once with ``numpy.bincount`` at
the end; levels are copied once per day. Nothing here builds pandas objects in the hot path.
"""

from __future__ import annotations

from array import array

import numpy as np

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


class Recorder:
    """Event counts and daily levels for ``days`` days, ``places`` municipalities, depots and categories."""

    def __init__(self, days: int, municipalities: int, depots: int, categories: int) -> None:
        self.days, self.M, self.K, self.C = days, municipalities, depots, categories
        self.muni_counts = {name: array("q") for name in MUNI_COUNTS}
        self.depot_counts = {name: array("q") for name in DEPOT_COUNTS}
        self.muni_levels = np.zeros((len(MUNI_LEVELS), days, municipalities, categories), dtype=np.int32)
        self.depot_levels = np.zeros((len(DEPOT_LEVELS), days, depots, categories), dtype=np.int32)
        # deliveries: one row per delivered order
        self.del_order = array("q")
        self.del_device = array("q")
        self.del_time = array("d")
        self.del_planned = array("q")
        self.del_attempts = array("b")
        # route stops: one row per route run and municipality visited
        self.stop_day = array("q")
        self.stop_route = array("h")
        self.stop_muni = array("h")
        self.stop_deliveries = array("q")
        self.stop_pickup_orders = array("q")
        self.stop_pickup_devices = array("q")
        self.stop_km = array("d")

    def count(self, metric: str, day: int, municipality: int, category: int) -> None:
        """One event of ``metric`` on ``day`` in ``municipality`` for ``category``."""
        self.muni_counts[metric].append((day * self.M + municipality) * self.C + category)

    def count_depot(self, metric: str, day: int, depot: int, category: int, n: int = 1) -> None:
        """``n`` events of a depot-level ``metric``."""
        self.depot_counts[metric].extend([(day * self.K + depot) * self.C + category] * n)

    def tally(self, codes: array, places: int) -> np.ndarray:
        """Counts as an array ``[day, place, category]``."""
        size = self.days * places * self.C
        flat = (
            np.bincount(np.frombuffer(codes, dtype=np.int64), minlength=size)
            if len(codes)
            else np.zeros(size)
        )
        return flat[:size].reshape(self.days, places, self.C)
