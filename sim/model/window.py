"""Records that grow with history, kept in memory only while their rows can still change (issue 12).

A record (rentals, jobs, deliveries, route stops) is a set of typed-array columns whose rows are identified
by consecutive ids, appended in id order. At each year start the engine flushes the rows that are final
(a rental ended and its device triaged or lost, a job done; every delivery and route stop) to disk, so
what stays in memory grows with the run's state, not its history:

- :class:`FlushedRows`: the flushed rows of one record, as numpy columns with their ids, pickled into a
  private temporary folder (:class:`sim.output.SpillFolder`, the mechanism of the spilled tables) in
  files per bucket of ``BUCKET_ROWS`` ids; :meth:`FlushedRows.read` gives back the rows of an id range in
  id order.
- :class:`RowWindow`: the rows still in memory. Ids from ``base`` on are at position ``id - shift``; rows
  of older ids that are still open (a rental of many years, a job waiting in a long queue) sit at the
  front in id order, found by bisection in ``old_ids``. A flush (:meth:`RowWindow.flush`) writes the
  closed rows below a cutoff (the first id of the year before, so that the rows read most often, the
  recent ones, stay at a fixed offset) and compacts the columns in place: whoever holds a column keeps a
  valid reference, but must turn an id into a position with :meth:`RowWindow.row` (which the hot paths
  inline).

:meth:`RowWindow.between` reads a range of ids from disk and memory together, so the output tables
(:mod:`sim.model.collect`) are built a chunk of rows at a time exactly as from whole columns.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from pathlib import Path
from typing import Any

import numpy as np

from sim.output import SpillFolder

BUCKET_ROWS = 65_536  # ids per file bucket of flushed rows (tests force a small one)
# The hot paths that handle a batch column-wise (a vehicle run's deliveries, a day's rental ends, a close's
# returns, a triage) pay numpy's fixed cost per call (tens of microseconds); a batch of fewer items than this
# is handled one item at a time instead, with the same effects in the same order (tests force either path)
BATCH_MIN = 16
Columns = dict[str, np.ndarray]


def set_bucket_rows(rows: int) -> None:
    """Ids per bucket of flushed rows (small values exercise the merging of buckets in tests)."""
    global BUCKET_ROWS
    BUCKET_ROWS = rows


class FlushedRows:
    """The rows of one record flushed during a run (see the module docstring)."""

    def __init__(self, name: str, folder: SpillFolder) -> None:
        self.name = name
        self.folder = folder
        self.bucket_rows = BUCKET_ROWS
        self._files: dict[int, list[Path]] = {}
        self._cached: tuple[int, Columns] | None = None
        self.rows = 0

    def write(self, ids: np.ndarray, columns: Columns) -> None:
        """Store rows ``ids`` (unique, not flushed before) with their ``columns`` (one value per id)."""
        if ids.size == 0:
            return
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        bucket = ids // self.bucket_rows
        cuts = np.flatnonzero(np.diff(bucket)) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, ids.size], strict=True):
            b = int(bucket[lo])
            part = {"id": ids[lo:hi].copy(), **{k: v[order[lo:hi]] for k, v in columns.items()}}
            files = self._files.setdefault(b, [])
            files.append(self.folder.write(f"{self.name}-{b:07d}-{len(files):03d}", part))
        self.rows += int(ids.size)
        self._cached = None

    def _bucket(self, b: int) -> Columns | None:
        if self._cached is not None and self._cached[0] == b:
            return self._cached[1]
        paths = self._files.get(b)
        if not paths:
            return None
        parts: list[Columns] = [SpillFolder.read(path) for path in paths]
        merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        del parts
        order = np.argsort(merged["id"], kind="stable")
        merged = {k: v[order] for k, v in merged.items()}
        self._cached = (b, merged)
        return merged

    def read(self, lo: int, hi: int) -> Columns | None:
        """The flushed rows with ids in ``[lo, hi)``, in id order (``None`` if there are none)."""
        parts = []
        if hi > lo:
            for b in range(lo // self.bucket_rows, (hi - 1) // self.bucket_rows + 1):
                got = self._bucket(b)
                if got is None:
                    continue
                ids = got["id"]
                i, j = np.searchsorted(ids, lo), np.searchsorted(ids, hi)
                if j > i:
                    parts.append({k: v[i:j] for k, v in got.items()})
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


class RowWindow:
    """Typed-array columns of a record's rows still in memory (see the module docstring).

    ``columns`` maps a column name to its typecode; ``self.columns[name]`` is the column's array (kept for
    the whole run: flushes change its contents, never the object). A column named in ``packed`` holds
    several values per row, one per field named there, at positions ``row * width + field`` (a row appended
    with one ``extend`` instead of one ``append`` per field); :meth:`between` hands its fields back as
    columns of their own.
    """

    def __init__(
        self,
        name: str,
        columns: dict[str, str],
        folder: SpillFolder,
        packed: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.columns: dict[str, array[Any]] = {col: array(code) for col, code in columns.items()}
        self.packed = packed or {}
        self.width = {col: len(self.packed.get(col, ())) or 1 for col in columns}
        self.count = 0  # ids handed out (the next row's id)
        self.base = 0  # ids from here on sit at position id - shift
        self.shift = 0
        self.old_ids = array("q")  # ids below base still in memory, at positions 0..len-1
        self.flushed = FlushedRows(name, folder)
        self.marked = 0  # the default cutoff of the next flush (see mark)

    def __len__(self) -> int:
        return self.count

    def appended(self) -> None:
        """Count the rows appended to the columns directly (a record nobody reads back during the run:
        its ids are the order of appending; call before :meth:`flush` and :meth:`between`)."""
        name, first = next(iter(self.columns.items()))
        self.count = self.base + len(first) // self.width[name] - len(self.old_ids)

    def row(self, i: int) -> int:
        """The position of id ``i`` (not flushed) in the columns.

        The hot paths (a million calls a year) inline it as
        ``i - w.shift if i >= w.base else bisect_left(w.old_ids, i)``: a method call costs more than the
        arithmetic (``old_ids`` is updated in place, so a loop may hold it while no flush runs)."""
        return i - self.shift if i >= self.base else bisect_left(self.old_ids, i)

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """The positions of ``ids`` (not flushed; int64), as :meth:`row` of each."""
        out = ids - self.shift
        old = ids < self.base
        if old.any():
            out[old] = np.searchsorted(np.frombuffer(self.old_ids, dtype=np.int64), ids[old])
        return out

    def ids(self) -> np.ndarray:
        """The id of each position (ascending)."""
        old = np.frombuffer(self.old_ids, dtype=np.int64)
        return np.concatenate([old, np.arange(self.base, self.count, dtype=np.int64)])

    def mark(self) -> None:
        """Remember the rows so far: the next flush without a cutoff keeps every row from here on."""
        self.marked = self.count

    def flush(self, closed: np.ndarray, cutoff: int | None = None) -> None:
        """Write the rows that are ``closed`` (one flag per position) with ids below ``cutoff`` (default: the
        rows at the last :meth:`mark` or flush) to disk and drop them from memory; ``cutoff`` becomes the new
        ``base`` (never below the current one)."""
        cutoff = max(self.marked if cutoff is None else cutoff, self.base)
        self.marked = self.count
        ids = self.ids()
        drop = closed & (ids < cutoff)
        if not drop.any():
            return
        keep = ~drop
        out = {}
        for col, values in self.columns.items():
            view = self._view(col)
            out[col] = view[drop]
            kept = view[keep].tobytes()
            del view  # no buffer may be exported while the array is resized
            del values[:]
            values.frombytes(kept)
        self.flushed.write(ids[drop], out)
        old = ids[keep & (ids < cutoff)]
        del self.old_ids[:]  # in place: callers may hold it (see row)
        self.old_ids.frombytes(old.tobytes())
        self.base = cutoff
        self.shift = cutoff - old.size

    def between(self, lo: int, hi: int) -> Columns:
        """Every column for ids ``lo..hi-1`` in id order, from disk and memory (numpy arrays)."""
        ids = self.ids()
        i, j = int(np.searchsorted(ids, lo)), int(np.searchsorted(ids, hi))
        memory = {"id": ids[i:j]}
        for col in self.columns:
            memory[col] = self._view(col)[i:j]
        disk = self.flushed.read(lo, hi)
        if disk is None:
            out = memory
        else:
            order = np.argsort(np.concatenate([disk["id"], memory["id"]]), kind="stable")
            out = {k: np.concatenate([disk[k], memory[k]])[order] for k in memory}
        if out["id"].size != hi - lo or (hi > lo and (out["id"][0] != lo or out["id"][-1] != hi - 1)):
            raise AssertionError(f"{self.flushed.name}: rows {lo}..{hi} incomplete")
        for col, fields in self.packed.items():
            values = out.pop(col)
            out.update({field: values[:, f] for f, field in enumerate(fields)})
        return out

    def _view(self, col: str) -> np.ndarray:
        """Column ``col`` as a numpy view: one value per row, or a row of values per row if packed (release
        it before the column is appended to or compacted)."""
        values = self.columns[col]
        view = np.frombuffer(values, dtype=values.typecode)
        width = self.width[col]
        return view if width == 1 else view.reshape(-1, width)
