"""Run folders are written atomically: a failure leaves no half-written run; a re-run replaces the old one;
nothing hmsim did not write is ever replaced, deleted or read from outside the run folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import DATA, hmsim

from sim.errors import HmsimError
from sim.output import RunOutput
from sim.store import clean_leftovers, read_run, target_lock, write_run


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


# --- never touch what hmsim did not write (issue 7, section 2), each case as reported -----------------


def test_a_folder_that_merely_holds_a_manifest_is_never_replaced(tmp_path: Path) -> None:
    """mkdir p; echo {} > p/manifest.json; echo x > p/keep.txt; hmsim run tests/data/tiny.yaml --out p"""
    p = tmp_path / "p"
    p.mkdir()
    (p / "manifest.json").write_text("{}\n", encoding="utf-8")
    (p / "keep.txt").write_text("x\n", encoding="utf-8")
    result = hmsim("run", str(DATA / "tiny.yaml"), "--out", "p", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "not a hmsim run folder" in result.stderr and "Traceback" not in result.stderr
    assert sorted(os.listdir(p)) == ["keep.txt", "manifest.json"]
    assert (p / "keep.txt").read_text(encoding="utf-8") == "x\n"
    assert sorted(os.listdir(tmp_path)) == ["p"]  # no staging, no lock, nothing beside it


def test_a_run_folder_with_a_users_file_in_it_is_not_replaced(tmp_path: Path) -> None:
    write_run(tmp_path / "run", small_output(1), {"status": "ok"})
    (tmp_path / "run" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(HmsimError, match=r"holds files hmsim did not write \(notes.txt\)"):
        write_run(tmp_path / "run", small_output(2), {"status": "ok"})
    assert read_run(tmp_path / "run")["a"]["x"].tolist() == [1]
    assert (tmp_path / "run" / "notes.txt").read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize("name", ["../x", "", "/tmp/hmsim-absolute-name", ".hidden", "a/b", "..", "-x"])
def test_a_scenario_name_must_be_one_safe_folder_name(tmp_path: Path, name: str) -> None:
    """--set name=../x or an absolute name wrote outside results/; --set name= wrote into results/ itself
    and the next such run deleted every other run there."""
    other = tmp_path / "results" / "other"
    write_run(other, small_output(1), {"status": "ok"})
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    for _ in range(2):
        result = hmsim(
            "run", str(DATA / "tiny.yaml"), "--years", "0.05", "--set", f"name={name}", cwd=tmp_path
        )
        assert result.returncode == 2, result.stderr
        assert f"name: {name!r}: must be one folder name" in result.stderr
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before
    assert not Path("/tmp/hmsim-absolute-name").exists()
    assert read_run(other)["a"]["x"].tolist() == [1]


@pytest.mark.parametrize("file", ["../secret.parquet", "/etc/passwd", "sub/a.parquet", "..", 3])
def test_manifest_table_paths_must_stay_in_the_run_folder(tmp_path: Path, file: object) -> None:
    pd.DataFrame({"x": [9]}).to_parquet(tmp_path / "secret.parquet")
    write_run(tmp_path / "run", small_output(1), {"status": "ok"})
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    manifest["tables"]["a"] = file
    (tmp_path / "run" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(HmsimError, match="is not a file name inside the run folder"):
        read_run(tmp_path / "run")


def test_a_table_linked_out_of_the_run_folder_is_refused(tmp_path: Path) -> None:
    pd.DataFrame({"x": [9]}).to_parquet(tmp_path / "secret.parquet")
    write_run(tmp_path / "run", small_output(1), {"status": "ok"})
    (tmp_path / "run" / "a.parquet").unlink()
    (tmp_path / "run" / "a.parquet").symlink_to(tmp_path / "secret.parquet")
    with pytest.raises(HmsimError, match="lies outside"):
        read_run(tmp_path / "run")


def test_a_killed_write_leaves_only_its_stage_and_the_next_write_removes_it(tmp_path: Path) -> None:
    """SIGKILL in the middle of writing a run; then a write of the same run cleans up after it, and a
    look-alike entry that hmsim did not make (no marker inside) is left alone."""
    write_run(tmp_path / "run", small_output(1), {"status": "ok"})
    killer = (
        "import os, signal, sys; import pandas as pd; sys.path.insert(0, sys.argv[1]);\n"
        "from test_store import small_output; from sim.store import write_run\n"
        "original = pd.DataFrame.to_parquet\n"
        "def dying(self, *a, **k):\n"
        "    original(self, *a, **k); os.kill(os.getpid(), signal.SIGKILL)\n"
        "pd.DataFrame.to_parquet = dying\n"
        "write_run(sys.argv[2], small_output(2), {'status': 'ok'})\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", killer, str(Path(__file__).parent), str(tmp_path / "run")], check=False
    )
    assert proc.returncode == -signal.SIGKILL
    stages = [p.name for p in tmp_path.iterdir() if ".hmsim-stage-" in p.name]
    assert len(stages) == 1
    look_alike = tmp_path / ".run.hmsim-stage-abcd1234"
    look_alike.mkdir()
    (look_alike / "mine.txt").write_text("mine", encoding="utf-8")
    assert read_run(tmp_path / "run")["a"]["x"].tolist() == [1]  # the old run is intact
    write_run(tmp_path / "run", small_output(3), {"status": "ok"})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.hmsim-stage-abcd1234", "run"]
    assert (look_alike / "mine.txt").read_text(encoding="utf-8") == "mine"
    assert read_run(tmp_path / "run")["a"]["x"].tolist() == [3]


def test_a_backup_left_between_the_two_renames_is_put_back(tmp_path: Path) -> None:
    write_run(tmp_path / "run", small_output(1), {"status": "ok"})
    os.replace(tmp_path / "run", tmp_path / ".run.hmsim-old-k1ll3d00")  # killed right after this rename
    write_run(tmp_path / "other", small_output(5), {"status": "ok"})  # other targets do not touch it
    assert (tmp_path / ".run.hmsim-old-k1ll3d00").is_dir()
    with target_lock(tmp_path / "run"):
        assert clean_leftovers(tmp_path / "run") == 1
    assert read_run(tmp_path / "run")["a"]["x"].tolist() == [1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "run"]


def test_a_target_another_process_writes_is_refused(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from sim.store import target_lock\n"
            "with target_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)\n",
            str(tmp_path / "run"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = hmsim("run", str(DATA / "tiny.yaml"), "--years", "0.05", "--out", str(tmp_path / "run"))
        assert result.returncode == 2 and "another hmsim process is writing it" in result.stderr
        assert not (tmp_path / "run").exists()
    finally:
        holder.kill()
        holder.wait()


# --- where hmsim run writes, and what it says (issue 7, section 5) ------------------------------------


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return hmsim("run", str(DATA / "tiny.yaml"), "--years", "0.05", *args, cwd=cwd)


def test_a_run_with_overrides_gets_its_own_folder_and_never_replaces_another_run(tmp_path: Path) -> None:
    base = _run(cwd=tmp_path)
    assert base.returncode == 0, base.stderr
    baseline = (tmp_path / "results" / "tiny" / "manifest.json").read_bytes()
    variant = _run("--set", "demand.trend.growth=0.02", cwd=tmp_path)
    assert variant.returncode == 0, variant.stderr
    assert "wrote results/tiny__growth=0.02/" in variant.stdout
    assert (tmp_path / "results" / "tiny" / "manifest.json").read_bytes() == baseline
    # the same folder with a different run in it (another seed): refused unless --force
    other = _run("--seed", "99", cwd=tmp_path)
    assert other.returncode == 2 and "holds a different run" in other.stderr and "--force" in other.stderr
    assert (tmp_path / "results" / "tiny" / "manifest.json").read_bytes() == baseline
    forced = _run("--seed", "99", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert json.loads((tmp_path / "results" / "tiny" / "manifest.json").read_text())["seed"] == 99
    # the same run again (same config and seed) replaces itself without --force
    assert _run("--seed", "99", cwd=tmp_path).returncode == 0


def test_the_output_folder_is_checked_before_simulating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out docs failed only after 12 s of simulation."""
    import sim.runner
    from sim.cli import main

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "model.md").write_text("mine", encoding="utf-8")
    monkeypatch.setattr(sim.runner, "run", lambda *a, **k: pytest.fail("simulated before checking --out"))
    assert main(["run", str(DATA / "tiny.yaml"), "--out", str(tmp_path / "docs")]) == 2
    assert "not a hmsim run folder" in capsys.readouterr().err


def test_an_interrupt_says_what_was_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGINT landing after the run is in place must not say "nothing half-written was kept"."""
    import sim.runner
    import sim.summary
    from sim.cli import main

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    argv = ["run", str(DATA / "tiny.yaml"), "--years", "0.05", "--out", str(tmp_path / "run")]
    with monkeypatch.context() as patch:
        patch.setattr(sim.summary, "summarise", interrupt)  # after the write, while printing
        assert main(argv) == 130
    err = capsys.readouterr().err
    assert "interrupted; the run was written completely to" in err and "nothing half-written" not in err
    assert read_run(tmp_path / "run").has("timeseries")
    first = (tmp_path / "run" / "manifest.json").read_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(sim.runner, "run", interrupt)  # while simulating
        assert main([*argv, "--seed", "5", "--force"]) == 130
    err = capsys.readouterr().err
    assert "interrupted; nothing half-written was kept" in err and "is as it was" in err
    assert (tmp_path / "run" / "manifest.json").read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_the_run_reports_the_tables_it_wrote_and_its_last_day(tmp_path: Path) -> None:
    """The run said "9 tables" and wrote 13; it said "to 2025-01-01" where summary ends 2024-12-31."""
    result = hmsim("run", str(DATA / "tiny_economics.yaml"), "--years", "0.25", "--out", "r", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    line = result.stdout.splitlines()[0]
    written = len(list((tmp_path / "r").glob("*.parquet")))
    assert written > 9 and f"({written} tables + manifest.json)" in line
    last = line.split(" to ")[1].split(" ")[0]
    assert hmsim("summary", "r", "--to", last, cwd=tmp_path).returncode == 0
    after = (pd.Timestamp(last) + pd.Timedelta(days=1)).date().isoformat()
    beyond = hmsim("summary", "r", "--to", after, cwd=tmp_path)
    assert beyond.returncode == 2 and f"to {last})" in beyond.stderr


def test_out_may_be_any_folder_but_not_a_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_run(tmp_path / "my results (2024)", small_output(1), {"status": "ok"})
    assert read_run(tmp_path / "my results (2024)")["a"]["x"].tolist() == [1]
    with pytest.raises(HmsimError, match="must name a folder to write"):
        write_run(Path("/"), small_output(1), {"status": "ok"})
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "mine.txt").write_text("mine", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "x")
    for folded in (".", "../x", str(tmp_path / "x" / ".." / "my results (2024)" / "..")):  # real folders
        with pytest.raises(HmsimError, match="not a hmsim run folder"):
            write_run(Path(folded), small_output(1), {"status": "ok"})
    assert sorted(os.listdir(tmp_path / "x")) == ["mine.txt"]


def test_a_stage_killed_while_its_marker_was_written_is_cleaned_but_a_users_look_alike_is_not(
    tmp_path: Path,
) -> None:
    """A kill between creating the stage and finishing its marker leaves the stage with only the marker's
    temporary (or nothing): the name is hmsim's unique stage pattern, so it is cleaned. The same name with
    anything else inside, or a marker-less backup, is left alone (seen in the kill-and-resume test)."""
    target = tmp_path / "run"
    killed = tmp_path / ".run.hmsim-stage-ab12cd34"
    killed.mkdir()
    (killed / "..hmsim.zpucgfmm.partial").write_text("{", encoding="utf-8")
    empty = tmp_path / ".run.hmsim-stage-ef56gh78"
    empty.mkdir()
    users = tmp_path / ".run.hmsim-stage-ij90kl12"
    users.mkdir()
    (users / "notes.txt").write_text("mine", encoding="utf-8")
    backup = tmp_path / ".run.hmsim-old-mn34op56"
    backup.mkdir()
    with target_lock(target):
        assert clean_leftovers(target) == 2
    assert not killed.exists() and not empty.exists()
    assert (users / "notes.txt").exists() and backup.exists() and not target.exists()
