"""Smoke test of every command in README.md's bash blocks, as a user would type them (CI runs this).

Each ``.venv/bin/...`` line of the README's ```bash blocks is run in order, without a shell, in a fresh
temporary folder that links to this checkout's files (so ``results/`` starts empty and the checkout's own
results are never touched). Every command must exit 0. The set-up and test commands of the first block are
not re-run here: .ci/run runs them, and this script checks that .ci/run holds them verbatim.

One shortening, printed with the command: ``hmsim batch`` gets ``--set years=1 --set replications=2``
(the README's capacity batch is 60 five-year runs, about 6 minutes on 2 cores; shortened it is 24
one-year runs). Everything else runs as written.

Usage: ``python scripts/smoke_readme.py`` from anywhere; exit 0 if every command passed.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHORTEN = {"batch": ["--set", "years=1", "--set", "replications=2"]}
SKIP = {"results"}  # each smoke run starts with no results
TIMEOUT_SECONDS = 1200  # per command; a hang fails the smoke test instead of using CI's whole budget


def readme_blocks(text: str) -> list[list[str]]:
    """The command lines of each ```bash block (comments after # stripped by shlex later)."""
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [[line.strip() for line in block.splitlines() if line.strip()] for block in blocks]


def shortened(argv: list[str]) -> tuple[list[str], list[str]]:
    """``argv`` with the smoke-test shortening for its hmsim command, and what was added."""
    if len(argv) > 1 and argv[0].endswith("hmsim") and argv[1] in SHORTEN:
        extra = SHORTEN[argv[1]]
        return [*argv, *extra], extra
    return argv, []


def check_ci_runs_the_setup(setup: list[str]) -> list[str]:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    return [f".ci/run does not run the README's command {line!r}" for line in setup if line not in ci]


def main() -> int:
    blocks = readme_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    if len(blocks) < 2:
        print("smoke: README.md has fewer than two bash blocks (set-up, then examples)", file=sys.stderr)
        return 1
    setup = [line for line in blocks[0] if not line.startswith(".venv/bin/hmsim")]
    problems = check_ci_runs_the_setup(setup)
    commands = [
        line for block in blocks for line in block if line.startswith(".venv/bin/") and line not in setup
    ]
    print(f"smoke: {len(commands)} README commands; .ci/run runs the set-up and tests: {setup}")
    passed = 0
    with tempfile.TemporaryDirectory(prefix="hmsim-smoke-") as tmp:
        work = Path(tmp)
        for entry in ROOT.iterdir():
            if entry.name not in SKIP and not entry.name.startswith(".git"):
                (work / entry.name).symlink_to(entry)
        env = {**os.environ, "MPLBACKEND": "Agg"}
        for line in commands:
            argv, extra = shortened(shlex.split(line, comments=True))
            note = f"   [smoke: added {' '.join(extra)}]" if extra else ""
            print(f"$ {line}{note}", flush=True)
            started = time.perf_counter()
            try:
                result = subprocess.run(
                    argv, cwd=work, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS
                )
            except subprocess.TimeoutExpired:
                result = subprocess.CompletedProcess(argv, -1, "", f"timed out after {TIMEOUT_SECONDS} s")
            seconds = time.perf_counter() - started
            status = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
            print(f"  {status} in {seconds:.1f} s", flush=True)
            if result.returncode != 0:
                problems.append(f"{line}: exit {result.returncode}: {result.stderr.strip()[-2000:]}")
            else:
                passed += 1
    for problem in problems:
        print(f"smoke: {problem}", file=sys.stderr)
    print(f"smoke: {passed} of {len(commands)} README commands succeeded")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
