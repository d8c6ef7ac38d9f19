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
