"""Run folders are written atomically: a failure leaves no half-written run; a re-run replaces the old one."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sim.errors import HmsimError
from sim.output import RunOutput
from sim.store import read_run, write_run


def small_output(value: int) -> RunOutput:
    return RunOutput(
        meta={"start_date": "2023-01-01", "days": 1},
        tables={"a": pd.DataFrame({"x": [value]}), "b": pd.DataFrame({"y": [value]})},
    )


def test_failure_mid_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    original = pd.DataFrame.to_parquet

    def flaky(self: pd.DataFrame, *args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        original(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", flaky)
    with pytest.raises(OSError):
        write_run(tmp_path / "run", small_output(1), {"status": "ok"})
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_the_previous_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_run(tmp_path / "run", small_output(1), {"status": "ok"})
    monkeypatch.setattr(pd.DataFrame, "to_parquet", lambda *a, **k: (_ for _ in ()).throw(OSError("boom")))
    with pytest.raises(OSError):
        write_run(tmp_path / "run", small_output(2), {"status": "ok"})
    monkeypatch.undo()
    assert read_run(tmp_path / "run")["a"]["x"].tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_rewrite_replaces_the_run(tmp_path: Path) -> None:
    write_run(tmp_path / "run", small_output(1), {"status": "ok"})
    write_run(tmp_path / "run", small_output(2), {"status": "ok"}, tables=["a"])
    out = read_run(tmp_path / "run")
    assert out["a"]["x"].tolist() == [2] and not out.has("b")
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["tables"] == {"a": "a.parquet"}


def test_reading_an_unfinished_run_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "manifest.json").write_text('{"status": "failed", "error": "x"}', encoding="utf-8")
    with pytest.raises(HmsimError, match="status is 'failed'"):
        read_run(tmp_path / "run")
