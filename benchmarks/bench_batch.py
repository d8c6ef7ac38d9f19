"""Benchmark the batch layer: throughput with 1 and 2 local workers and on a Dask LocalCluster, and the
per-run overhead of the batch machinery over doing the same run in process.

Run from the repository root (about 5 minutes on two cores)::

    .venv/bin/python benchmarks/bench_batch.py --runs 12
    .venv/bin/python benchmarks/bench_batch.py --runs 32 --workers 1,2,4,8,16 --no-dask   # a larger machine

The task is a one-year Västmanland run with economics, the summary rows and writing the kept tables: the
same work whether called in process (``run_task`` directly, the "bare" time) or through ``run_batch``.
Overhead per run = (batch wall time / runs - bare time per run) / bare time per run, with one worker.
``hmsim run`` end to end (a new process, all tables written) is timed too, for context.
Results: docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def experiment_file(folder: Path, runs: int) -> Path:
    path = folder / "bench.yaml"
    path.write_text(
        f"name: bench\nbase: {ROOT / 'configs' / 'regions' / 'vastmanland.yaml'}\nreplications: {runs}\n"
        "years: 1\nseed: 11\n",
        encoding="utf-8",
    )
    return path


def main() -> None:
    # Dask's statistical profiler samples every worker thread's stack every 10 ms, which slows these
    # pure-Python CPU-bound tasks by about a quarter (docs/performance.md); batch workers run without it.
    os.environ.setdefault("DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED", "False")
    from distributed import LocalCluster

    from sim.experiment import load_plan, run_batch
    from sim.experiment.worker import run_task

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=2, help="timings per executor; the fastest is kept")
    parser.add_argument("--workers", default="1,2", help="local worker counts to time, comma-separated")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster timing")
    args = parser.parse_args()
    counts = sorted({int(w) for w in args.workers.split(",")})
    if not counts or counts[0] < 1:
        parser.error(f"--workers {args.workers!r}: worker counts must be positive integers")
    work = Path(tempfile.mkdtemp(prefix="hmsim-bench-"))
    try:
        exp = experiment_file(work, args.runs)
        # bare: the same tasks, called in this process (after one warm-up for imports and caches, written
        # elsewhere: a task whose run folder is finished returns at once, and timing it would count as a run)
        run_task(load_plan(exp, work / "warm-up").tasks[0])
        plan = load_plan(exp, work / "bare")
        bare = []
        for task in plan.tasks[: min(4, args.runs)]:
            start = time.perf_counter()
            run_task(task)
            bare.append(time.perf_counter() - start)
        bare_run = statistics.mean(bare)

        def timed(name: str, workers: int | None = None, dask: str | None = None) -> float:
            best = float("inf")
            for i in range(args.repeat):
                out = work / f"{name}_{i}"
                start = time.perf_counter()
                run_batch(load_plan(exp, out), workers=workers, dask=dask, progress=False)
                best = min(best, time.perf_counter() - start)
                shutil.rmtree(out, ignore_errors=True)
            return best

        rows = [(f"local, {w} worker{'s' if w > 1 else ''}", timed(f"local{w}", workers=w)) for w in counts]
        if not args.no_dask:
            with LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster:
                rows.append(("Dask LocalCluster, 2 workers", timed("dask", dask=cluster.scheduler_address)))
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "sim",
                "run",
                str(ROOT / "configs" / "regions" / "vastmanland.yaml"),
                "--years",
                "1",
                "--out",
                str(work / "cli"),
            ],
            check=True,
            capture_output=True,
        )
        cli = time.perf_counter() - start
        one = rows[0][1]
        print(
            f"{args.runs} runs, fastest of {args.repeat} per executor; bare run in process {bare_run:.2f} s "
            f"(mean of {len(bare)}); hmsim run end to end {cli:.2f} s"
        )
        print(f"| executor | wall s | runs per minute | speed-up vs {counts[0]} worker(s) |")
        print("|---|---|---|---|")
        for label, wall in rows:
            print(f"| {label} | {wall:.1f} | {args.runs / wall * 60:.1f} | {one / wall:.2f} |")
        extra = one / args.runs - bare_run
        if counts[0] != 1:
            return
        print(
            f"batch overhead per run with 1 worker: {extra:.3f} s = {extra / bare_run:.1%} of the bare run, "
            f"{(one / args.runs - cli) / cli:.1%} vs hmsim run (incl. starting the worker once per batch)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
