"""Write and read run folders atomically: Parquet tables + ``manifest.json``; never touch anything else.

A run folder is complete if and only if its ``manifest.json`` says ``"status": "ok"``. Files are written
into a hidden staging folder beside the target and the folder is renamed into place at the end, so an
interrupted run never leaves files that look complete; an older run in the target is replaced only
after the new one is fully written.

What hmsim may replace or delete, and nothing else:

- a *run folder*: a real folder (not a link) holding the marker file ``.hmsim`` that only hmsim writes,
  ``{"format": "hmsim-run", "version": N}`` (a batch folder has ``"format": "hmsim-batch"``), and
  nothing but that marker, ``manifest.json`` and the tables the manifest lists. A folder without the
  marker (a user's folder that merely holds a ``manifest.json``, a run of an older hmsim) or with other
  files in it is never replaced: the command refuses with exit 2. An empty folder may be a target.
- its own staging and backup folders beside a target ``T``: ``.T.hmsim-stage-XXXXXXXX`` and
  ``.T.hmsim-old-XXXXXXXX`` (exactly that pattern, with the marker inside). Leftovers of a killed write
  are cleaned before the next write of ``T``: a stage is removed, a backup is put back if ``T`` is
  missing (the kill came between the two renames) and removed otherwise.
- the lock file ``.T.hmsim-lock`` beside ``T``: whoever writes ``T`` holds an exclusive ``flock`` on it
  (re-entrant within a process) for the whole write, so a leftover is cleaned only when its writer is
  gone, and two processes never write ``T`` at once. The file is removed when the lock is released.

Names that become folder names (scenario and experiment names, batch labels) are checked by
:func:`check_name`: one path component of letters, digits and ``_ . = + -``, not starting with ``.``
or ``-``. Table paths read back from a manifest must be plain file names inside the run folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import HmsimError
from sim.names import NAME_RULE, is_folder_name
from sim.output import RunOutput, Tables, release_memory

MANIFEST = "manifest.json"
MARKER = ".hmsim"
RUN_FORMAT, BATCH_FORMAT, FORMAT_VERSION = "hmsim-run", "hmsim-batch", 1
REPORT_FORMAT = "hmsim-report"  # a report folder (hmsim report); inside a run folder it belongs to the run
PACKAGES = ("hmsim", "simpy", "numpy", "scipy", "pandas", "pyarrow", "pydantic", "holidays")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_revision() -> dict[str, Any]:
    """The git commit of the source tree the package runs from (None outside a git checkout)."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = (
            subprocess.run(
                ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=5,
                check=True,
            ).stdout.strip()
            != ""
        )
        return {"revision": rev, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"revision": None, "dirty": None}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _make_public(path: Path, directory: bool) -> None:
    """Give a mkstemp/mkdtemp result the permissions a normal file or folder would get."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON to ``path`` via a temporary file and rename (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False, default=str)
            handle.write("\n")
        _make_public(Path(tmp), directory=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_name(name: object, what: str) -> str:
    """``name`` if it is safe as one folder name, else a HmsimError naming ``what``, value and rule."""
    if not isinstance(name, str) or not is_folder_name(name):
        raise HmsimError(f"{what}: {name!r}: must be {NAME_RULE}")
    return name


def out_path(out: str | Path, what: str = "--out") -> Path:
    """A user's output folder as an absolute path (``.`` and ``..`` folded, links kept); not a root."""
    path = Path(os.path.abspath(out))
    if path.name in ("", ".", ".."):
        raise HmsimError(f"{what} {out}: must name a folder to write (not a root)")
    return path


def inside(base: Path, path: Path, what: str) -> Path:
    """``path`` resolved, if it lies inside ``base`` (also resolved); else a HmsimError."""
    resolved, root = Path(path).resolve(), Path(base).resolve()
    if resolved != root and root not in resolved.parents:
        raise HmsimError(f"{what}: {path} lies outside {base}; refusing to use it")
    return resolved


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The hmsim marker of ``folder`` ({"format", "version"}) or None if it has none (or is a link)."""
    path = Path(folder) / MARKER
    if Path(folder).is_symlink() or path.is_symlink() or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("format") not in (RUN_FORMAT, BATCH_FORMAT, REPORT_FORMAT):
        return None
    if not isinstance(data.get("version"), int):
        return None
    return data


def write_marker(folder: Path, kind: str) -> None:
    write_json_atomic(Path(folder) / MARKER, {"format": kind, "version": FORMAT_VERSION})


def check_target(out_dir: Path, kind: str = RUN_FORMAT) -> None:
    """Refuse (HmsimError) unless ``out_dir`` is absent, an empty folder, or a ``kind`` folder hmsim wrote."""
    out_dir = Path(out_dir)
    if out_dir.is_symlink():
        raise HmsimError(f"--out {out_dir}: is a symbolic link; give the folder it points to")
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise HmsimError(f"--out {out_dir}: exists and is not a folder; choose another folder")
    if not any(out_dir.iterdir()):
        return
    marker = read_marker(out_dir)
    what = {RUN_FORMAT: "run", BATCH_FORMAT: "batch results", REPORT_FORMAT: "report"}.get(kind, kind)
    if marker is None or marker["format"] != kind:
        raise HmsimError(
            f"--out {out_dir}: exists and is not a hmsim {what} folder (no {MARKER} marker of "
            f"format {kind!r}); hmsim replaces only folders it wrote: choose another folder (one written by "
            "an older hmsim has no marker either: remove it yourself)"
        )
    if marker["version"] > FORMAT_VERSION:
        raise HmsimError(
            f"--out {out_dir}: written by a newer hmsim (format version {marker['version']} > "
            f"{FORMAT_VERSION}); choose another folder"
        )
    if kind == RUN_FORMAT:
        foreign = sorted(set(os.listdir(out_dir)) - _own_files(out_dir))
        if foreign:
            raise HmsimError(
                f"--out {out_dir}: holds files hmsim did not write ({', '.join(foreign[:5])}); "
                "hmsim would replace the whole folder: move them or choose another folder"
            )


def _own_files(run_dir: Path) -> set[str]:
    """The entries of a run folder that hmsim wrote: marker, manifest, the tables it lists and report
    folders of the run (``hmsim report`` writes ``RUN/report/`` by default; replacing the run removes its
    now stale report)."""
    own = {MARKER, MANIFEST}
    for entry in run_dir.iterdir():
        if (
            entry.is_dir()
            and not entry.is_symlink()
            and (read_marker(entry) or {}).get("format") == REPORT_FORMAT
        ):
            own.add(entry.name)
    try:
        listed = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8")).get("tables", {})
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return own
    if isinstance(listed, dict):
        own |= {
            f for f in listed.values() if isinstance(f, str) and Path(f).name == f and f.endswith(".parquet")
        }
    return own


# --- locks: one per target, held by whoever writes it --------------------------------------------------

_HELD: dict[Path, tuple[int, int]] = {}  # lock path -> (fd, depth): re-entrant within this process


def lock_path(target: Path) -> Path:
    target = Path(os.path.abspath(target))
    return target.parent / f".{target.name}.hmsim-lock"


def _try_flock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # no flock (Windows): writes stay atomic, concurrent writers are not kept out
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def target_lock(target: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold the exclusive lock of ``target`` (waiting up to ``wait`` seconds for another holder).

    Raises HmsimError if another process holds it after ``wait``. The lock file is removed on release;
    a holder checks after locking that the file it locked is still the one at the path (else retries),
    so removing it is safe.
    """
    path = lock_path(target)
    if path in _HELD:
        fd, depth = _HELD[path]
        _HELD[path] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _HELD[path]
            _HELD[path] = (fd, depth - 1)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        if _try_flock(fd):
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                break
        os.close(fd)
        if time.monotonic() >= deadline:
            raise HmsimError(
                f"{Path(target)}: another hmsim process is writing it; wait until it has finished"
            )
        time.sleep(0.05)
    _HELD[path] = (fd, 1)
    try:
        yield
    finally:
        fd, depth = _HELD[path]
        if depth == 1:
            del _HELD[path]
            with contextlib.suppress(OSError):
                path.unlink()
            os.close(fd)
        else:  # an inner holder raised past its own release: keep the outer one's lock
            _HELD[path] = (fd, depth - 1)


def is_locked(target: Path) -> bool:
    """Whether another process holds ``target``'s lock right now."""
    path = lock_path(target)
    if path in _HELD or not path.exists():
        return False
    try:
        with target_lock(target):
            return False
    except HmsimError:
        return True


# --- staging and backups ------------------------------------------------------------------------------


def _leftover_pattern(target: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(target.name)}\.hmsim-(stage|old)-[a-z0-9_]{{8}}")


_MARKER_TEMPORARY = re.compile(rf"\.{re.escape(MARKER)}\.[a-z0-9_]{{8}}\.partial")


def _ours(folder: Path, stage: bool) -> bool:
    """A real folder with hmsim's run marker: something hmsim staged or backed up. A stage killed before
    its marker was complete (empty, or holding only temporaries of the marker, under hmsim's unique stage
    name) is hmsim's too; a backup always has the marker (it is a finished run folder moved aside)."""
    if not folder.is_dir() or folder.is_symlink():
        return False
    if read_marker(folder) is not None:
        return True
    return stage and all(
        _MARKER_TEMPORARY.fullmatch(entry.name) and entry.is_file() and not entry.is_symlink()
        for entry in folder.iterdir()
    )


def clean_leftovers(target: Path) -> int:
    """Remove the staging and backup folders a killed write of ``target`` left (caller holds its lock).

    A backup is put back when ``target`` itself is missing (the kill came between the two renames).
    Returns the number of entries handled.
    """
    target = Path(target)
    if not target.parent.is_dir():
        return 0
    pattern = _leftover_pattern(target)
    handled = 0
    for entry in sorted(target.parent.iterdir()):
        match = pattern.fullmatch(entry.name)
        if match is None or not _ours(entry, stage=match.group(1) == "stage"):
            continue
        if match.group(1) == "old" and not target.exists() and not target.is_symlink():
            os.replace(entry, target)
        else:
            shutil.rmtree(entry)
        handled += 1
    return handled


def clean_partial_files(folder: Path, names: tuple[str, ...]) -> int:
    """Remove ``write_json_atomic``-style temporaries ``.<name>.XXXXXXXX.partial`` of the given file
    names in ``folder`` (a folder of hmsim's whose lock the caller holds): a killed write left them."""
    pattern = re.compile(rf"\.({'|'.join(re.escape(n) for n in names)})\.[a-z0-9_]{{8}}\.partial")
    removed = 0
    for entry in Path(folder).iterdir():
        if pattern.fullmatch(entry.name) and entry.is_file() and not entry.is_symlink():
            entry.unlink()
            removed += 1
    return removed


def _new_stage(target: Path) -> Path:
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.hmsim-stage-", dir=target.parent))
    _make_public(stage, directory=True)
    write_marker(stage, RUN_FORMAT)
    return stage


def write_run(
    out_dir: Path, output: RunOutput, manifest: dict[str, Any], tables: list[str] | None = None
) -> dict[str, str]:
    """Write ``output``'s tables (all, or those named) and ``manifest`` into ``out_dir`` atomically.

    Returns the tables written (name -> file). Refuses a target that is not empty and not a run folder
    hmsim wrote, and a target another process is writing.
    """
    out_dir = out_path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with target_lock(out_dir):
        check_target(out_dir)
        clean_leftovers(out_dir)
        stage = _new_stage(out_dir)
        try:
            written: dict[str, str] = {}
            for name in list(output.tables):  # one table at a time, a spilled one a chunk at a time
                if tables is not None and name not in tables:
                    continue
                write_table(output, name, stage / f"{name}.parquet")
                written[name] = f"{name}.parquet"
                release_memory()
            manifest = {**manifest, "tables": written, "meta": output.meta}
            write_json_atomic(stage / MANIFEST, manifest)
            replace_dir(stage, out_dir)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
    return written


ROW_GROUP_ROWS = 1024 * 1024  # pyarrow's default row group of ``write_table`` (the file of a table at once)


def write_table(output: RunOutput, name: str, path: Path) -> None:
    """Table ``name`` of ``output`` as the Parquet file ``DataFrame.to_parquet(path, index=False)`` writes.

    A spilled table is written a chunk at a time (:meth:`sim.output.Tables.chunks`: each with the whole
    table's dtypes), converted to Arrow as ``to_parquet`` does and cut into row groups of
    ``ROW_GROUP_ROWS`` rows as ``to_parquet`` cuts the whole table, so the file is the same; at most a row
    group and a chunk are held at once instead of the whole table and its Arrow copy."""
    parts = output.chunks(name)
    first = next(parts)
    if not (isinstance(output.tables, Tables) and output.tables.spilled(name)):
        first.to_parquet(path, index=False)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    if first.attrs:  # to_parquet keeps them in the schema; the chunks of the model's tables have none
        raise ValueError(f"table {name!r}: a spilled table with attrs cannot be written by chunks")
    batch = pa.Table.from_pandas(first, preserve_index=False)
    del first
    with pq.ParquetWriter(path, batch.schema, compression="snappy") as writer:
        pending, rows = [batch], batch.num_rows
        for part in parts:
            batch = pa.Table.from_pandas(part, preserve_index=False)
            del part
            pending.append(batch)
            rows += batch.num_rows
            while rows >= ROW_GROUP_ROWS:
                joined = pa.concat_tables(pending)
                writer.write_table(joined.slice(0, ROW_GROUP_ROWS).combine_chunks())
                rest = joined.slice(ROW_GROUP_ROWS).combine_chunks()
                pending, rows = [rest], rest.num_rows
                del joined, rest
        if rows:
            writer.write_table(pa.concat_tables(pending).combine_chunks())


def replace_dir(stage: Path, target: Path) -> None:
    """Move the finished ``stage`` folder to ``target``, replacing an empty folder or an older run there."""
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.hmsim-old-", dir=target.parent))
        old.rmdir()
        os.replace(target, old)
        os.replace(stage, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(stage, target)


def read_manifest(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / MANIFEST
    if not Path(run_dir).is_dir():
        raise HmsimError(f"{run_dir}: not a folder")
    if not path.exists():
        raise HmsimError(f"{run_dir}: no {MANIFEST}; not a finished hmsim run folder")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HmsimError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("meta", {}), dict):
        raise HmsimError(f"{path}: unreadable manifest (must be a JSON object with a 'meta' object)")
    return data


def table_path(run_dir: Path, name: str, file: object) -> Path:
    """The file of table ``name`` as listed in the manifest: a plain file name inside ``run_dir``."""
    if not isinstance(file, str) or Path(file).name != file or file in ("", ".", "..") or "\\" in file:
        raise HmsimError(
            f"{Path(run_dir) / MANIFEST}: table {name!r}: {file!r} is not a file name inside the run folder"
        )
    return inside(run_dir, Path(run_dir) / file, f"{Path(run_dir) / MANIFEST}: table {name!r}")


def read_run(run_dir: Path | str, tables: list[str] | None = None) -> RunOutput:
    """Read a finished run folder (all tables, or the named ones) back into a RunOutput."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    if manifest.get("status") != "ok":
        raise HmsimError(
            f"{run_dir}: run status is {manifest.get('status')!r}, not 'ok': {manifest.get('error', '')}"
        )
    out = RunOutput(meta=dict(manifest.get("meta", {})))
    listed = manifest.get("tables", {})
    if not isinstance(listed, dict):
        raise HmsimError(f"{run_dir / MANIFEST}: 'tables' must map table names to file names")
    for name, file in listed.items():
        if tables is not None and name not in tables:
            continue
        path = table_path(run_dir, name, file)
        try:
            out.tables[name] = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise HmsimError(f"{run_dir / file}: unreadable table ({exc})") from None
    out.meta["manifest"] = manifest
    return out
