"""RunOutput: the tidy tables and metadata of one run (what the DES hands to economics and analysis).

Tables (all pandas DataFrames; times in ``*_day`` columns are days since the start date, as floats):

- ``timeseries``: date x municipality x category x metric -> value (daily event counts and end-of-day
  levels; a missing row means 0)
- ``depot_timeseries``: date x depot x category x metric -> value
- ``rentals``: one row per rental (initial rentals start before day 0), with patient attributes and payer
- ``devices``: one row per device (initial or purchased) with price, purchase time, end state
- ``deliveries``: one row per delivered order (rentals and sales), with the delivery KPI
- ``jobs``: one row per technician or consultant job, with created/start/end and workdays
- ``route_stops``: one row per route run x municipality visited: deliveries, pickups, km
- ``staff``: date x depot x pool: staff present, available and busy hours
- ``kpis``: month x municipality x service KPI: events, events meeting the target, share

Where the tables live (:class:`Tables`): in memory, or, for a table too large to hold beside the run's state
(more rows than one chunk, see :mod:`sim.model.collect`), as chunk files in a private temporary folder that
are read back and concatenated when the table is asked for. The two are indistinguishable to a reader
(same rows, columns and dtypes). Tables read back are kept while together they take at most
``READ_BACK_MB`` (readers such as the summary ask for the same tables once per segment; a 10-year
Västmanland run's tables take about 190 MB), the least recently read leaving first, so a large run's tables
cost memory only while a caller holds them. The folder is ``tempfile.gettempdir()`` (``TMPDIR``) and is
removed with the RunOutput (or at exit).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import pickle
import shutil
import sys
import tempfile
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal, get_args

import pandas as pd

TableName = Literal[
    "timeseries",
    "depot_timeseries",
    "rentals",
    "devices",
    "deliveries",
    "jobs",
    "route_stops",
    "staff",
    "kpis",
]
TABLES: tuple[str, ...] = get_args(TableName)


Finish = Callable[[pd.DataFrame], pd.DataFrame]
READ_BACK_MB = 256.0  # tables read back from disk kept for the next reader, at most this much together


def _release_arrow_memory() -> None:
    """Hand memory Arrow's allocator keeps for reuse back to the system (pandas' strings live there; its
    default allocator otherwise holds on to each spilled chunk's, so the process would grow by chunks)."""
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        pyarrow.default_memory_pool().release_unused()


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None elsewhere: musl, macOS, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_TRIM = _malloc_trim()


def release_memory() -> None:
    """Give the memory freed by a finished stage (the model's state, the economics' columns) back to the
    system: Arrow's pool, and glibc's heap, which otherwise keeps freed blocks between live ones (after a
    10-year Västmanland run about 150 MB that no later stage would reuse, so each stage's peak would stack on
    the previous one's leftovers). Costs a few milliseconds; a no-op where glibc is not the allocator."""
    gc.collect()  # the simulation's objects form reference cycles (SimPy's events and callbacks)
    _release_arrow_memory()
    if _TRIM is not None:
        _TRIM(0)


class SpillFolder:
    """A private temporary folder for pickled chunks (``tempfile.gettempdir()``, i.e. ``TMPDIR``), made on
    the first write and removed with this object (or at exit). Pickle keeps every dtype exactly (dates to
    the second, nullable booleans, pyarrow strings, categoricals with unused categories)."""

    def __init__(self, prefix: str = "hmsim-tables-") -> None:
        self.prefix = prefix
        self._dir: Path | None = None

    @property
    def path(self) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix=self.prefix))
            weakref.finalize(self, shutil.rmtree, str(self._dir), True)
        return self._dir

    def write(self, name: str, obj: Any) -> Path:
        """Pickle ``obj`` as ``name`` in the folder; returns its path."""
        path = self.path / f"{name}.pickle"
        with path.open("wb") as handle:
            pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)
        return path

    @staticmethod
    def read(path: Path) -> Any:
        with path.open("rb") as handle:
            return pickle.load(handle)


@dataclass
class _Spilled:
    """A table on disk: its chunk files in row order, their rows, and what to apply after concatenating."""

    paths: list[Path]
    rows: int
    finish: Finish | None

    def load(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The table (or only ``columns`` of it: each chunk is narrowed as soon as it is read)."""
        parts = [
            SpillFolder.read(path) if columns is None else SpillFolder.read(path)[columns]
            for path in self.paths
        ]
        table = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
        del parts
        return self.finish(table) if self.finish is not None else table

    def chunks(self, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        """The table's rows a chunk file at a time, each chunk with the dtypes of the whole table (see
        :meth:`Tables.chunks`)."""
        if self.finish is None:
            for path in self.paths:
                part = SpillFolder.read(path)
                yield part if columns is None else part[columns]
            return
        dtypes = self._finished_dtypes(columns)
        if dtypes is None:  # chunks whose columns would not line up: the whole table, once
            yield self.load(columns)
            return
        for path in self.paths:
            part = SpillFolder.read(path)
            part = self.finish(part if columns is None else part[columns])
            for name, dtype in dtypes.items():
                if part[name].dtype != dtype:
                    part[name] = part[name].astype(dtype)
            yield part

    def _finished_dtypes(self, columns: list[str] | None) -> dict[str, Any] | None:
        """The dtype each column has in the whole finished table, for the columns a chunk may differ in
        (categoricals: their categories depend on all rows), found from each chunk's distinct values only:
        ``finish`` applied to the concatenated distinct values of every chunk gives the dtype it gives the
        concatenated rows (pandas' concatenation picks the dtype from the parts' dtypes, and a categorical's
        categories come from the set of values). None if a non-categorical column's dtype varies between
        chunks (then only the whole table has the right dtypes)."""
        assert self.finish is not None
        kinds: dict[str, Any] | None = None
        distinct: dict[str, list[pd.Series]] = {}
        for path in self.paths:
            part = SpillFolder.read(path)
            if columns is not None:
                part = part[columns]
            finished = self.finish(part.copy(deep=False))
            if kinds is None:
                kinds = dict(finished.dtypes)
                distinct = {n: [] for n, d in kinds.items() if isinstance(d, pd.CategoricalDtype)}
            for name, dtype in finished.dtypes.items():
                if name not in distinct and dtype != kinds.get(name):
                    return None
            for name, seen in distinct.items():
                seen.append(part[name].drop_duplicates())
            del part, finished
        out: dict[str, Any] = {}
        for name, seen in distinct.items():
            values = pd.concat(seen, ignore_index=True).to_frame(name)
            out[name] = self.finish(values)[name].dtype
        return out


class Tables(MutableMapping[str, pd.DataFrame]):
    """A run's tables by name, each in memory or spilled to chunk files (see the module docstring)."""

    def __init__(self, frames: Mapping[str, pd.DataFrame] | None = None) -> None:
        self._tables: dict[str, pd.DataFrame | _Spilled] = dict(frames or {})
        self._read: OrderedDict[str, tuple[pd.DataFrame, float]] = OrderedDict()  # name -> (table, MB)
        self._folder = SpillFolder()

    def spill(self, name: str, parts: Iterable[pd.DataFrame], finish: Finish | None = None) -> None:
        """Store table ``name`` as ``parts`` (its rows in order, each written as soon as it is made);
        reading it concatenates them and applies ``finish`` (e.g. a categorical over all rows)."""
        paths, rows = [], 0
        for i, part in enumerate(parts):
            paths.append(self._folder.write(f"{name}-{i:05d}", part))
            rows += len(part)
            del part
            _release_arrow_memory()
        if not paths:
            raise ValueError(f"table {name!r}: no parts to spill")
        self._forget(name)
        self._tables[name] = _Spilled(paths, rows, finish)

    def spilled(self, name: str) -> bool:
        return isinstance(self._tables[name], _Spilled)

    def rows(self, name: str) -> int:
        """Rows of table ``name`` without reading it back."""
        table = self._tables[name]
        return table.rows if isinstance(table, _Spilled) else len(table)

    def _forget(self, name: str) -> None:
        old = self._tables.get(name)
        if isinstance(old, _Spilled):
            for path in old.paths:
                path.unlink(missing_ok=True)
        self._read.pop(name, None)

    def __getitem__(self, name: str) -> pd.DataFrame:
        table = self._tables[name]
        if not isinstance(table, _Spilled):
            return table
        if name in self._read:
            self._read.move_to_end(name)
            return self._read[name][0]
        frame = table.load()
        size = float(frame.memory_usage(index=False).sum()) / 2**20
        self._read[name] = (frame, size)
        while len(self._read) > 1 and sum(mb for _, mb in self._read.values()) > READ_BACK_MB:
            self._read.popitem(last=False)
        return frame

    def columns(self, name: str, columns: list[str]) -> pd.DataFrame:
        """Only ``columns`` of table ``name`` (a spilled table is read a chunk at a time and not kept: a
        reader of a few columns of a large table never holds the whole of it)."""
        table = self._tables[name]
        if not isinstance(table, _Spilled):
            return table[columns]
        if name in self._read:
            return self._read[name][0][columns]
        return table.load(columns)

    def chunks(self, name: str, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        """Table ``name`` (or only ``columns`` of it) as consecutive row chunks that together are the table:
        one chunk for a table in memory (or read back and kept), a chunk file at a time for a spilled one,
        each with the dtypes of the whole table (a categorical with the categories of all rows). Nothing is
        kept: a writer or a reader that sums over rows never holds more than a chunk of a large table."""
        table = self._tables[name]
        if not isinstance(table, _Spilled):
            yield table if columns is None else table[columns]
        elif name in self._read:
            whole = self._read[name][0]
            yield whole if columns is None else whole[columns]
        else:
            yield from table.chunks(columns)

    def __setitem__(self, name: str, table: pd.DataFrame) -> None:
        self._forget(name)
        self._tables[name] = table

    def __delitem__(self, name: str) -> None:
        self._forget(name)
        del self._tables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def __reduce__(self) -> tuple[Any, ...]:
        # another process cannot read this one's temporary files: a pickled copy holds every table
        return (Tables, ({name: self[name] for name in self},))


@dataclass
class RunOutput:
    """Tables of one run plus metadata (start date, days, names, seed, wall time)."""

    meta: dict[str, Any]
    tables: MutableMapping[str, pd.DataFrame] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.tables, Tables):
            self.tables = Tables(self.tables)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def has(self, name: str) -> bool:
        return name in self.tables

    def columns(self, name: str, columns: list[str]) -> pd.DataFrame:
        """Only ``columns`` of table ``name`` (see :meth:`Tables.columns`)."""
        tables = self.tables
        return tables.columns(name, columns) if isinstance(tables, Tables) else tables[name][columns]

    def chunks(self, name: str, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        """Table ``name`` (or ``columns`` of it) a chunk at a time (see :meth:`Tables.chunks`)."""
        tables = self.tables
        if isinstance(tables, Tables):
            return tables.chunks(name, columns)
        return iter([tables[name] if columns is None else tables[name][columns]])

    def rows(self, name: str) -> int:
        """Rows of table ``name`` (without reading a spilled table back)."""
        tables = self.tables
        return tables.rows(name) if isinstance(tables, Tables) else len(tables[name])

    @property
    def start_date(self) -> date:
        return date.fromisoformat(str(self.meta["start_date"]))

    @property
    def days(self) -> int:
        return int(self.meta["days"])
