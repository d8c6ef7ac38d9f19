"""Write and read run folders atomically: Parquet tables + ``manifest.json``.

A run folder is complete if and only if its ``manifest.json`` says ``"status": "ok"``. Files are written
into a hidden staging folder beside the target and the folder is renamed into place at the end, so an
interrupted run never leaves files that look complete; an older run in the target is replaced only
after the new one is fully written.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import HmsimError
from sim.output import RunOutput

MANIFEST = "manifest.json"
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


def _check_target(out_dir: Path) -> None:
    if out_dir.exists() and (
        not out_dir.is_dir() or (any(out_dir.iterdir()) and not (out_dir / MANIFEST).exists())
    ):
        raise HmsimError(f"--out {out_dir}: exists and is not a hmsim run folder; choose another folder")


def write_run(
    out_dir: Path, output: RunOutput, manifest: dict[str, Any], tables: list[str] | None = None
) -> Path:
    """Write ``output``'s tables (all, or those named) and ``manifest`` into ``out_dir`` atomically."""
    out_dir = Path(out_dir)
    _check_target(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    _make_public(stage, directory=True)
    try:
        written: dict[str, str] = {}
        for name, table in output.tables.items():
            if tables is not None and name not in tables:
                continue
            table.to_parquet(stage / f"{name}.parquet", index=False)
            written[name] = f"{name}.parquet"
        manifest = {**manifest, "tables": written, "meta": output.meta}
        write_json_atomic(stage / MANIFEST, manifest)
        replace_dir(stage, out_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return out_dir


def replace_dir(stage: Path, target: Path) -> None:
    """Move the finished ``stage`` folder to ``target``, replacing an older run folder there."""
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
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


def read_run(run_dir: Path | str, tables: list[str] | None = None) -> RunOutput:
    """Read a finished run folder (all tables, or the named ones) back into a RunOutput."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    if manifest.get("status") != "ok":
        raise HmsimError(
            f"{run_dir}: run status is {manifest.get('status')!r}, not 'ok': {manifest.get('error', '')}"
        )
    out = RunOutput(meta=dict(manifest.get("meta", {})))
    for name, file in manifest.get("tables", {}).items():
        if tables is not None and name not in tables:
            continue
        try:
            out.tables[name] = pd.read_parquet(run_dir / file)
        except (OSError, ValueError) as exc:
            raise HmsimError(f"{run_dir / file}: unreadable table ({exc})") from None
    out.meta["manifest"] = manifest
    return out
