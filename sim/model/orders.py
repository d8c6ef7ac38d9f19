"""The order book: each calendar year's orders drawn when the year starts, and the state of every order.

Orders are drawn one calendar year at a time (:meth:`sim.model.demand.DemandModel.generate_year`), at 00:00
of the year's first day, from the same per municipality x category x year streams as a draw of the whole
horizon up front, so the numbers (and the order ids, which count from the run's first order) are identical;
only the year being simulated is in memory at full width.

What each order keeps for the whole run is small: its time, municipality, category, fitting flag and
patient attributes (the output tables and dated changes need them: the years before the one being
simulated are on disk, in the run's spill folder, read back a year at a time by
:meth:`OrderBook.select`) and its state (place, device, planned day, backordered, delivery attempts: 16
bytes, in memory for the whole run). Its fate (:mod:`sim.model.fates`: duration, triage draws,
work-order candidates, ...; over 100 bytes) is needed only until it is delivered, when the rental copies
what it uses. The fates of the orders not yet delivered live in a window of typed arrays (fast scalar reads
in the event loop): the current year's orders at position ``order - shift`` (``order >= base``), and the
undelivered orders of earlier years (a few: orders of late December, long fitting queues, backorders) at the
front in id order, found by bisection; :meth:`OrderBook.fate_row` gives an order's position. At each year
start the window is rebuilt from the orders still undelivered and the new year's fates, so it holds about
one year of fates whatever the horizon. ``rows`` (what a rental start reads) and the scalar columns
``install``, ``install_hours``, ``fitting_delay``, ``fitting_hours``, ``u_fail1``, ``u_fail2`` are indexed by
that position.

The depot serving each order is the book's too: its municipality's depot, unless a dated change of who
serves (:mod:`sim.model.changes`) passed a rule in with :meth:`OrderBook.serve_from`; the book applies the
rules to the year being simulated at once and to every later year when it is drawn. Components ask the
book for an order's place (:meth:`OrderBook.placed`, :meth:`OrderBook.lane`, :meth:`OrderBook.lanes`);
the routes' queues are per lane, ``municipality * depots + depot``.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import numpy as np

from sim.model.demand import DemandModel, OrderStream, Patients, concat_streams
from sim.model.fates import FATE_WIDTH, FateRows, Fates
from sim.model.rng import Streams
from sim.output import SpillFolder

PATIENT_FIELDS = tuple(f.name for f in fields(Patients))

ServingRule = Callable[[OrderStream, np.ndarray], np.ndarray]
"""``rule(chunk, rows)``: the depot index serving each order ``rows`` (row indices into the drawn year
``chunk``, whose patients, categories and municipalities a rule may read)."""


def _patient(name: str) -> Callable[[OrderStream], np.ndarray]:
    return lambda chunk: getattr(chunk.patients, name)


# the fate columns of the window besides ``rows`` (FateRows), with their typecodes
SCALAR_FATES = {
    "install": "b", "install_hours": "d", "fitting_delay": "d", "fitting_hours": "d", "u_fail1": "d",
    "u_fail2": "d",
}  # fmt: skip
ROW_FATES = {f.name: f.name for f in fields(FateRows)}
NUMPY_OF = {"d": np.float64, "b": np.int8, "q": np.int64}


def _typed(code: str, values: np.ndarray) -> array:
    return array(code, values.astype(NUMPY_OF[code]).tobytes())


class OrderBook:
    """All orders of a run, drawn a year at a time, with their state and a window of live fates."""

    def __init__(
        self,
        demand: DemandModel,
        streams: Streams,
        days: int,
        muni_depot: np.ndarray | None = None,
        depots: int = 1,
        folder: SpillFolder | None = None,
    ) -> None:
        self.demand = demand
        # the depot serving each order: its municipality's, unless a rule of :meth:`serve_from` says otherwise
        self.muni_depot = muni_depot if muni_depot is not None else np.zeros(0, dtype=np.int64)
        self.K = depots  # lanes are municipality x depot
        self._depot = array("h")
        self._rules: list[tuple[int, ServingRule]] = []  # (first day, rule), in date order
        self.streams = streams
        self.days = days
        self.years = demand.year_bounds(days)
        self.next_year = 0  # index into years of the next year to draw
        # each drawn year's time, place, category, fitting and patients (for the tables and dated changes):
        # the year being simulated in memory, earlier years on disk in ``folder`` (if given), read back by
        # :meth:`select` a year at a time (the last one read is kept)
        self.folder = folder
        self._chunks: list[OrderStream | Path] = []
        self._sizes: list[int] = []
        self._loaded: tuple[int, OrderStream] | None = None
        self._dtypes: dict[str, np.dtype] = {}
        # kept for the whole run, indexed by order id
        self.municipality = array("h")
        self.category = array("h")
        # 4 bytes each (a device id or a day fits 32 bits; a larger value raises OverflowError, never wraps)
        self.device = array("i")  # the unit allocated (-1 none yet)
        self.planned = array("i")  # the promised delivery day
        self.backordered = bytearray()
        self.attempts = bytearray()  # delivery attempts
        # the current year: day_start[d - day0] is the id of day d's first order
        self.day0 = 0
        self.first = 0  # id of the current year's first order
        self.day_start: list[int] = [0]
        self.current: OrderStream | None = None
        # the window of fates of the undelivered orders (see the module docstring)
        self.base = 0  # ids from here on sit at position id - shift
        self.shift = 0
        self._old_ids = array("q")  # undelivered ids below base, at positions 0..len-1
        self._open = bytearray()  # per position: 1 while the order is not delivered
        self.rows = Fates.concat([]).rows()
        self.install = array("b")
        self.install_hours = array("d")
        self.fitting_delay = array("d")
        self.fitting_hours = array("d")
        self.u_fail1 = array("d")
        self.u_fail2 = array("d")
        self._full: OrderStream | None = None
        if self.years:
            self.open_year(0)

    def __len__(self) -> int:
        return len(self.municipality)

    # ---- years -------------------------------------------------------------------------------------
    def year_starts(self) -> dict[int, int]:
        """First day of each year after the first -> the year's index (when :meth:`open_year` is due)."""
        return {lo: y for y, (lo, _) in enumerate(self.years) if y > 0}

    def open_year(self, y: int) -> None:
        """Draw year ``y``'s orders (at 00:00 of its first day) and drop the fates of delivered orders."""
        lo, hi = self.years[y]
        chunk = self.demand.generate_year(self.streams, lo, hi)
        first = len(self)
        n = len(chunk)
        self.municipality.frombytes(chunk.municipality.astype(np.int16).tobytes())
        self.category.frombytes(chunk.category.astype(np.int16).tobytes())
        self._depot.frombytes(np.zeros(n, dtype=np.int16).tobytes())
        self.device.frombytes(np.full(n, -1, dtype=np.int32).tobytes())
        self.planned.frombytes(np.zeros(n, dtype=np.int32).tobytes())
        self.backordered.extend(bytes(n))
        self.attempts.extend(bytes(n))
        self.day0 = lo
        self.first = first
        self.day_start = (chunk.day_start + first).tolist()
        keep = OrderStream(
            time=chunk.time, municipality=chunk.municipality, category=chunk.category, fitting=chunk.fitting,
            patients=chunk.patients, fates=Fates.concat([]), day_start=chunk.day_start,
        )  # fmt: skip
        self.current = keep  # without the fates: the window below holds them
        self._assign(0)
        if self.folder is not None and self._chunks:
            last = self._chunks[-1]
            if isinstance(last, OrderStream):  # nothing reads it during the run except through select
                self._chunks[-1] = self.folder.write(f"orders-year-{len(self._chunks) - 1:04d}", last)
        if not self._chunks:
            heads = ("time", "municipality", "category", "fitting")
            self._dtypes = {f: getattr(keep, f).dtype for f in heads}
            self._dtypes.update({f: getattr(keep.patients, f).dtype for f in PATIENT_FIELDS})
        self._chunks.append(keep)
        self._sizes.append(n)
        self._full = None
        fates = chunk.fates
        del chunk
        self._window(fates, first)
        self.next_year = y + 1

    def _window(self, new: Fates, first: int) -> None:
        """The window of fates: the undelivered orders so far (in id order), then ``new`` (the fates of the
        orders from id ``first`` on)."""
        keep = np.flatnonzero(np.frombuffer(bytes(self._open), dtype=np.uint8))
        old_ids = self.fate_ids()[keep]
        for name, code in SCALAR_FATES.items():
            old = np.frombuffer(getattr(self, name), dtype=code)[keep]
            setattr(
                self, name, _typed(code, np.concatenate([old, getattr(new, name).astype(NUMPY_OF[code])]))
            )
            del old
        rows, fresh = self.rows, new.rows()  # the new year's as a rental start reads them
        offset = np.frombuffer(rows.wo_offset, dtype=np.int64)
        counts = np.diff(offset)[keep]
        kept = int(counts.sum())
        starts = offset[:-1][keep]
        gather = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(kept)
        columns: dict[str, array] = {}
        for name in ROW_FATES:
            arr, added = getattr(rows, name), getattr(fresh, name)
            code = arr.typecode
            tail = np.frombuffer(added, dtype=code)
            if name == "wo_offset":
                values = np.concatenate([[0], np.cumsum(counts), tail[1:] + kept])
            else:
                old = np.frombuffer(arr, dtype=code)
                if name.startswith("wo_"):  # the work-order candidates of the kept rows
                    old = old[gather]
                elif name == "rental":  # FATE_WIDTH values per row
                    old = old.reshape(-1, FATE_WIDTH)[keep].reshape(-1)
                else:
                    old = old[keep]
                values = np.concatenate([old, tail])
                del old
            del tail
            setattr(fresh, name, array(code))  # released as soon as copied
            columns[name] = array(code, values.astype(NUMPY_OF[code]).tobytes())
            del arr, added, values
        del offset
        self.rows = FateRows(**columns)
        self._old_ids = array("q", old_ids.tobytes())
        self.base = first
        self.shift = first - old_ids.size
        self._open = bytearray(b"\x01") * (old_ids.size + len(new))

    # ---- who serves each order -------------------------------------------------------------------------
    def serve_from(self, day: int, rule: ServingRule) -> bool:
        """Orders placed from ``day`` on are served by the depot ``rule`` gives (the year already drawn
        from ``day`` on at once, later years when they are drawn; orders placed earlier keep theirs).
        False if a rule from ``day`` is there already (several keys of one change date: one rule)."""
        if any(d == day for d, _ in self._rules):
            return False
        self._rules.append((day, rule))
        self._rules.sort(key=lambda x: x[0])
        if self.current is not None and day < self.day0 + len(self.day_start) - 1:
            self._assign(max(self.day_start[max(day - self.day0, 0)] - self.first, 0))
        return True

    def _assign(self, start: int) -> None:
        """Set the serving depot of the current year's orders from row ``start`` on: the municipality's
        depot, then each rule from its day on, in date order (a later rule wins)."""
        chunk = self.current
        assert chunk is not None
        n = len(chunk.time)
        if start >= n:
            return
        rows = np.arange(start, n)
        munis = chunk.municipality[rows]
        target = self.muni_depot[munis] if self.muni_depot.size else np.zeros(rows.size, dtype=np.int64)
        times = chunk.time[rows]
        for day, rule in self._rules:
            sel = times >= day
            if sel.any():
                target[sel] = rule(chunk, rows[sel])
        lo = self.first + start
        self._depot[lo : lo + rows.size] = array("h", np.asarray(target, dtype=np.int16).tobytes())

    def placed(self, order: int) -> tuple[int, int, int]:
        """(municipality, category, serving depot) of ``order``."""
        return self.municipality[order], self.category[order], self._depot[order]

    def places(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Municipality, category and serving depot of every order so far (views: index them at once)."""
        return (
            np.frombuffer(self.municipality, dtype=np.int16),
            np.frombuffer(self.category, dtype=np.int16),
            np.frombuffer(self._depot, dtype=np.int16),
        )

    def lane(self, order: int) -> int:
        """The route lane of ``order``: its municipality x the depot serving it (``m * K + k``)."""
        return self.municipality[order] * self.K + self._depot[order]

    def lanes(self, lo: int, hi: int) -> list[int]:
        """The lanes of orders ``lo`` to ``hi - 1`` (one day's orders of the current year)."""
        m = np.frombuffer(self.municipality, dtype=np.int16)[lo:hi].astype(np.int64)
        k = np.frombuffer(self._depot, dtype=np.int16)[lo:hi]
        out: list[int] = (m * self.K + k).tolist()
        return out

    def served_since(self, order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Municipality, category and serving depot of the orders from id ``order`` on (copies)."""
        m, c, k = (
            np.frombuffer(a, dtype=np.int16)[order:].astype(np.int64)
            for a in (self.municipality, self.category, self._depot)
        )
        return m, c, k

    def fate_row(self, order: int) -> int:
        """The position of undelivered ``order``'s fate in the window's columns."""
        return order - self.shift if order >= self.base else bisect.bisect_left(self._old_ids, order)

    def fate_ids(self) -> np.ndarray:
        """The order id of each position of the window (ascending)."""
        old = np.frombuffer(self._old_ids, dtype=np.int64)
        return np.concatenate([old, np.arange(self.base, self.base + len(self._open) - old.size)])

    def delivered(self, order: int) -> None:
        """``order`` is delivered: its fate is no longer needed (dropped at the next year start)."""
        self._open[self.fate_row(order)] = 0

    def delivered_rows(self, orders: np.ndarray) -> np.ndarray:
        """Undelivered ``orders`` are delivered (as :meth:`delivered` of each); their fates' positions."""
        rows = orders - self.shift
        old = orders < self.base
        if old.any():
            rows[old] = np.searchsorted(np.frombuffer(self._old_ids, dtype=np.int64), orders[old])
        np.frombuffer(self._open, dtype=np.uint8)[rows] = 0
        return rows

    # ---- the whole run (output tables, tests) -----------------------------------------------------------
    def _chunk(self, y: int) -> OrderStream:
        """Year ``y``'s chunk, from memory or read back from disk (the last one read is kept)."""
        chunk = self._chunks[y]
        if isinstance(chunk, OrderStream):
            return chunk
        if self._loaded is None or self._loaded[0] != y:
            self._loaded = None  # free the one kept before reading the next
            self._loaded = (y, SpillFolder.read(chunk))
        return self._loaded[1]

    def stream(self) -> OrderStream:
        """Every order drawn so far with its time, place, category, fitting and patients (fates empty;
        a concatenated copy of the whole run, read back from disk: for tests and small runs)."""
        if self._full is None:
            self._full = concat_streams([self._chunk(y) for y in range(len(self._chunks))], self.days)
        return self._full

    def select(self, ids: np.ndarray) -> OrderStream:
        """Orders ``ids`` (in that order) with their time, place, category, fitting and patients, read from
        each year's chunk, a year at a time (no concatenated copy of the whole run, unlike :meth:`stream`;
        fates and ``day_start`` empty)."""
        if self._full is not None or len(self._chunks) <= 1:
            full = self.stream()
            return OrderStream(
                time=full.time[ids], municipality=full.municipality[ids], category=full.category[ids],
                fitting=full.fitting[ids],
                patients=Patients(*(getattr(full.patients, f)[ids] for f in PATIENT_FIELDS)),
                fates=Fates.concat([]), day_start=np.zeros(0, dtype=np.int64),
            )  # fmt: skip
        firsts = np.cumsum([0, *self._sizes])
        year = np.searchsorted(firsts, ids, side="right") - 1
        getters: dict[str, Callable[[OrderStream], np.ndarray]] = {
            "time": lambda ch: ch.time, "municipality": lambda ch: ch.municipality,
            "category": lambda ch: ch.category, "fitting": lambda ch: ch.fitting,
            **{f: _patient(f) for f in PATIENT_FIELDS},
        }  # fmt: skip
        # the dtypes of the first year's chunk, as before
        out = {name: np.empty(ids.size, dtype=self._dtypes[name]) for name in getters}
        for y in np.unique(year).tolist() if ids.size else []:
            ch = self._chunk(y)
            mask = year == y
            rows = ids[mask] - firsts[y]
            for name, get in getters.items():
                out[name][mask] = get(ch)[rows]
        return OrderStream(
            time=out["time"], municipality=out["municipality"], category=out["category"],
            fitting=out["fitting"], patients=Patients(*(out[f] for f in PATIENT_FIELDS)),
            fates=Fates.concat([]), day_start=np.zeros(0, dtype=np.int64),
        )  # fmt: skip

    @property
    def time(self) -> np.ndarray:
        return self.stream().time

    @property
    def fitting(self) -> np.ndarray:
        return self.stream().fitting

    @property
    def patients(self) -> Patients:
        return self.stream().patients
