"""Records flushed per year and tables spilled by chunk (issue 12): the same tables as built at once."""

from __future__ import annotations

import gc
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.config import load_scenario
from sim.model import Simulation
from sim.model.collect import collect
from sim.model.records import Recorder
from sim.model.window import RowWindow
from sim.output import RunOutput, SpillFolder, Tables


def _simulate(tiny_path: Path, years: float = 2.2) -> Simulation:
    return Simulation(load_scenario(tiny_path, [f"horizon.years={years}"]), 11).run()


def _same(a: RunOutput, b: RunOutput) -> None:
    assert list(a.tables) == list(b.tables)
    for name in a.tables:
        x, y = a[name], b[name]
        assert list(x.dtypes) == list(y.dtypes), name
        pd.testing.assert_frame_equal(x, y, check_exact=True, obj=name)


@pytest.fixture(scope="module")
def at_once(tiny_path: Path) -> RunOutput:
    return collect(_simulate(tiny_path).records(), chunk_rows=10**9)


def test_tables_spilled_in_chunks_equal_tables_built_at_once(tiny_path: Path, at_once: RunOutput) -> None:
    chunked = collect(_simulate(tiny_path).records(), chunk_rows=313)
    spilled = [name for name in chunked.tables if chunked.tables.spilled(name)]  # type: ignore[attr-defined]
    # every table larger than a chunk went to disk, in several chunks
    assert {"timeseries", "rentals", "devices", "deliveries", "jobs"} <= set(spilled)
    for name in spilled:
        assert chunked.rows(name) == at_once.rows(name) > 313
    _same(at_once, chunked)
    # read twice (the second from the kept copy) and after another table: the same again
    first = chunked["rentals"]
    assert chunked["rentals"] is first
    chunked["jobs"]
    pd.testing.assert_frame_equal(chunked["rentals"], first)


def test_counts_flushed_per_year_equal_counts_tallied_at_the_end(
    tiny_path: Path, at_once: RunOutput, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = _simulate(tiny_path)
    flushed = sum(len(pairs) for pairs in sim.recorder._flushed.values())
    assert flushed > 0  # two year starts in 2.2 years: the first years' codes were tallied and dropped
    monkeypatch.setattr(Recorder, "flush", lambda self, day: None)
    kept = collect(_simulate(tiny_path).records(), chunk_rows=10**9)
    _same(at_once, kept)


def test_records_flushed_per_year_give_the_tables_of_records_kept(
    tiny_path: Path, at_once: RunOutput, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sim.model.window

    monkeypatch.setattr(sim.model.window, "BUCKET_ROWS", 97)  # many files per record, merged when read
    sim = _simulate(tiny_path)
    rentals, jobs = sim.fleet.rentals, sim.jobs.window
    # two year starts: rentals and jobs closed before the second went to disk, and some rentals begun
    # before it are still open (kept in memory below the window's base)
    assert rentals.flushed.rows > 0 and jobs.flushed.rows > 0 and len(rentals.old_ids) > 0
    assert sim.recorder.deliveries.flushed.rows > 0 and sim.recorder.stops.flushed.rows > 0
    assert len(rentals.columns["device"]) < len(rentals) and len(jobs.columns["kind"]) < len(jobs)
    flushed = collect(sim.records(), chunk_rows=10**9)
    _same(at_once, flushed)
    _same(at_once, collect(sim.records(), chunk_rows=313))  # read again, a chunk at a time
    monkeypatch.setattr(Simulation, "_flush_records", lambda self, day: None)
    _same(at_once, collect(_simulate(tiny_path).records(), chunk_rows=10**9))  # nothing flushed: the same


def test_row_window_finds_kept_rows_and_reads_flushed_ones_back(tmp_path: Path) -> None:
    window = RowWindow("t", {"x": "q", "y": "d", "z": "d"}, SpillFolder(), packed={"z": ("a", "b")})
    window.flushed.bucket_rows = 3

    def add(n: int) -> None:
        for _ in range(n):
            i = window.count
            window.columns["x"].append(i * 10)
            window.columns["y"].append(i / 2)
            window.columns["z"].extend([i + 0.25, -i])  # a packed row: two fields
            window.count += 1

    add(10)
    window.mark()
    add(5)
    closed = np.ones(15, dtype=bool)
    closed[[2, 7, 12]] = False  # open: kept wherever they are
    window.flush(closed)  # ids 0..9 but 2 and 7 go; 10..14 stay (begun since the mark)
    assert window.flushed.rows == 8 and list(window.old_ids) == [2, 7] and window.base == 10
    for i in (2, 7, 10, 12, 14):
        assert window.columns["x"][window.row(i)] == i * 10
        assert window.columns["z"][2 * window.row(i) + 1] == -i
    add(3)
    closed = np.ones(2 + 8, dtype=bool)
    closed[0] = False  # id 2 still open
    window.flush(closed)  # below the cutoff 15: 7, 10..14 go
    assert list(window.old_ids) == [2] and window.row(2) == 0 and window.row(16) == 2
    got = window.between(1, 18)
    assert got["id"].tolist() == list(range(1, 18))
    assert got["x"].tolist() == [i * 10 for i in range(1, 18)] and got["y"].tolist() == [
        i / 2 for i in range(1, 18)
    ]
    assert "z" not in got and got["a"].tolist() == [i + 0.25 for i in range(1, 18)]
    assert got["b"].tolist() == [-i for i in range(1, 18)]


def test_recorder_flush_keeps_later_days_and_counts_late_codes() -> None:
    rec = Recorder(days=10, municipalities=2, depots=1, categories=3)
    for day, m, c in [(0, 1, 2), (3, 0, 0), (3, 0, 0), (7, 1, 1), (9, 0, 2), (12, 0, 0)]:
        rec.count("orders", day, m, c)
    rec.flush(5)
    assert list(rec.muni_counts["orders"]) == [(7 * 2 + 1) * 3 + 1, (9 * 2 + 0) * 3 + 2, (12 * 2) * 3]
    rec.count("orders", 3, 0, 0)  # a code for a day already flushed still counts
    cells, counts = rec.tallied("orders")
    expected = {(0 * 2 + 1) * 3 + 2: 1, (3 * 2) * 3: 3, (7 * 2 + 1) * 3 + 1: 1, (9 * 2) * 3 + 2: 1}
    assert dict(zip(cells.tolist(), counts.tolist(), strict=True)) == expected  # day 12 is past the horizon
    assert rec.recorded("orders") == 7


def test_spilled_tables_pickle_whole_and_their_files_go_with_them() -> None:
    tables = Tables()
    parts = [pd.DataFrame({"x": np.arange(i, i + 3), "c": pd.Categorical(["a", "b", "a"])}) for i in (0, 3)]
    tables.spill("t", iter(parts), None)
    folder = tables._folder._dir
    assert folder is not None and len(list(folder.iterdir())) == 2
    copy = pickle.loads(pickle.dumps(tables))
    assert not copy.spilled("t")
    pd.testing.assert_frame_equal(copy["t"], pd.concat(parts, ignore_index=True))
    del tables
    gc.collect()
    assert not folder.exists()


def test_tables_read_back_are_kept_within_a_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.output

    tables = Tables()
    for name in ("a", "b", "c"):
        tables.spill(name, iter([pd.DataFrame({"x": np.arange(1000.0)}), pd.DataFrame({"x": [1.0]})]))
    first = tables["a"]
    assert tables["b"] is tables["b"] and tables["a"] is first  # both kept: far below the budget
    monkeypatch.setattr(sim.output, "READ_BACK_MB", 0.001)  # a kilobyte: one table at a time
    tables["c"]
    again = tables["a"]
    assert again is not first  # "a" had left and was read again, the same table
    pd.testing.assert_frame_equal(again, first)


def test_chunks_of_a_spilled_table_are_the_table_with_its_dtypes(tiny_path: Path, at_once: RunOutput) -> None:
    chunked = collect(_simulate(tiny_path).records(), chunk_rows=313)
    for name in ("timeseries", "rentals", "deliveries", "jobs"):
        whole = at_once[name]
        parts = list(chunked.chunks(name))
        assert len(parts) > 1 and sum(len(p) for p in parts) == len(whole)
        for part in parts:  # each chunk already has the whole table's dtypes (categories of all rows)
            assert dict(part.dtypes) == dict(whole.dtypes), name
        pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole, check_exact=True)
    narrow = pd.concat(chunked.chunks("rentals", ["payer", "start_day"]), ignore_index=True)
    pd.testing.assert_frame_equal(narrow, at_once["rentals"][["payer", "start_day"]], check_exact=True)
    assert [len(p) for p in at_once.chunks("rentals")] == [len(at_once["rentals"])]  # in memory: one chunk


def test_chunks_line_up_categories_that_depend_on_all_rows() -> None:
    def finish(table: pd.DataFrame) -> pd.DataFrame:
        if "p" in table:
            table["p"] = table["p"].astype("category")
        return table

    tables = Tables()
    parts = [pd.DataFrame({"x": [1, 2], "p": ["b", "c"]}), pd.DataFrame({"x": [3], "p": ["a"]})]
    tables.spill("t", iter(parts), finish)
    got = list(tables.chunks("t"))
    assert [list(p["p"].cat.categories) for p in got] == [["a", "b", "c"]] * 2
    assert got[0]["p"].tolist() == ["b", "c"] and got[1]["p"].tolist() == ["a"]
    # a column whose dtype differs between chunks (pandas would widen it): the whole table, once
    tables.spill(
        "u", iter([pd.DataFrame({"x": [1], "p": ["b"]}), pd.DataFrame({"x": [0.5], "p": ["a"]})]), finish
    )
    (only,) = tables.chunks("u")
    pd.testing.assert_frame_equal(only, tables["u"])


def test_a_spilled_table_is_written_as_the_file_of_the_whole_table(
    tiny_path: Path, at_once: RunOutput, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sim.store

    monkeypatch.setattr(sim.store, "ROW_GROUP_ROWS", 1000)  # several row groups, cut across chunks
    chunked = collect(_simulate(tiny_path).records(), chunk_rows=313)
    for name in ("timeseries", "rentals", "jobs"):
        assert chunked.tables.spilled(name)  # type: ignore[attr-defined]
        sim.store.write_table(chunked, name, tmp_path / "chunked.parquet")
        at_once[name].to_parquet(tmp_path / "whole.parquet", index=False, row_group_size=1000)
        assert (tmp_path / "chunked.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes(), name


def test_summary_of_spilled_tables_is_the_summary_of_the_tables_at_once(
    tiny_path: Path, at_once: RunOutput
) -> None:
    from datetime import date

    from sim.summary import kpis_by_year, summarise

    chunked = collect(_simulate(tiny_path).records(), chunk_rows=313)
    for start, end in ((None, None), (date(2023, 3, 1), date(2024, 2, 10))):
        assert summarise(chunked, start, end, by="municipality") == summarise(
            at_once, start, end, by="municipality"
        )
    assert kpis_by_year(chunked) == kpis_by_year(at_once)
