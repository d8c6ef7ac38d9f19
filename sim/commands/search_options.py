"""The options and messages ``hmsim calibrate``, ``hmsim sensitivity`` and ``hmsim optimise`` share: where the
runs go (local workers or Dask), the output folder, ``--check``, and the resume hint after a kill."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a whole number >= 1")
    return int(text)


def add_search_options(p: argparse.ArgumentParser, command: str, outputs: str) -> None:
    """``--workers``, ``--dask``, ``--out`` (default ``results/<command>/<name>``) and ``--check``."""
    p.add_argument(
        "--workers", type=positive_int, help="local worker processes (default: the machine's cores)"
    )
    p.add_argument("--dask", metavar="ADDRESS", help="run on a Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--out", help=f"folder for the cache and {outputs} (default results/{command}/<name>)")
    p.add_argument("--check", action="store_true", help="resolve the spec and stop (no runs)")


def out_arg(args: argparse.Namespace) -> Path | None:
    return Path(args.out) if args.out else None


def executors(args: argparse.Namespace) -> str:
    """Where the runs go, for the first line a command prints."""
    return f"Dask at {args.dask}" if args.dask else f"{args.workers or 'all'} local worker(s)"


def interrupted(command: str, out_dir: Path) -> int:
    """The message after Ctrl-C (finished runs are in the cache) and the exit status."""
    print(
        f"hmsim {command}: interrupted; finished runs are kept in {out_dir}/cache/, run the same command to "
        "resume",
        file=sys.stderr,
    )
    return 130
