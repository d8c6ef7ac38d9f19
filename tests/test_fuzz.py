"""Fuzz the inputs: mutated shipped configs, experiments and accounts questions must give exit 0 or a clean
exit 2 (one line per problem, no traceback, no internal error) within a time bound, never a hang.

A seeded generator mutates the parsed files (type swaps, NaN and infinity, negatives, huge values, zeros,
deletions, unknown keys, deep nesting, impossible dates) and their text (binary garbage, non-UTF-8,
truncation, duplicated lines, alias bombs), and also makes ``--set`` overrides of the same kinds. Every
mutant goes through ``hmsim validate`` (region configs), the experiment planner (experiments) or
``hmsim accounts`` (accounts questions), in process; a few region mutants that validate are also run for
0.05 years. A second test scales the tiny configs' numbers (0, tiny, x1000, negative, ...) and runs what
validates for 0.1 years. The default budget is 30 seconds for the first and 18 for the second;
``HMSIM_FUZZ_SECONDS`` sets another (e.g. 1800 for a long session) and ``HMSIM_FUZZ_SEED`` another seed.
A failure names the mutation and keeps the mutant file.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.cli import main
from sim.config import build_scenario, load_raw, load_scenario
from sim.config.workload import estimate_work
from sim.errors import ConfigError, HmsimError
from sim.experiment.plan import load_plan

ROOT = Path(__file__).resolve().parents[1]
REGIONS = [ROOT / "configs/regions/vastmanland.yaml", ROOT / "configs/regions/norrbotten.yaml"]
TINY = [ROOT / "tests/data/tiny.yaml", ROOT / "tests/data/tiny_economics.yaml"]
EXPERIMENTS = [
    *sorted((ROOT / "configs/experiments").glob("*.yaml")),
    ROOT / "tests/data/tiny_experiment.yaml",
]
ACCOUNTS = sorted((ROOT / "configs/accounts").glob("*.yaml"))

BUDGET = float(os.environ.get("HMSIM_FUZZ_SECONDS", "30"))
SEED = int(os.environ.get("HMSIM_FUZZ_SEED", "20261123"))
CHECK_SECONDS = 10.0  # validate / plan / accounts of one mutant (a second or two on a quiet machine)
RUN_SECONDS = 90.0  # a 0.05-year run of one valid mutant
RUNS = max(2, int(BUDGET / 15))  # valid region mutants that are also run
RUN_WORK = 200_000  # estimated run size (sim.config.workload) of mutants that are run: a few seconds

VALUES: list[Any] = [
    None, True, "text", "", "Västerås", -1, 0, 1, -1e9, 1e15, 10**30, 1e-300, 5e8, 0.003,
    float("nan"), float("inf"), -float("inf"), [], {}, [1, 2], {"x": 1}, [[[]]],
    date(9999, 12, 31), date(1, 1, 1), "2023-02-30", "1e300",
]  # fmt: skip


class Timeout(BaseException):  # BaseException: the command line's "internal error" handler lets it through
    pass


@contextlib.contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    def fire(signum: int, frame: object) -> None:
        raise Timeout(f"{what}: still running after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def absolutise(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """File references made absolute, so the mutant can live in another folder."""
    data = copy.deepcopy(data)
    ext = data.get("extends")
    if isinstance(ext, str):
        data["extends"] = str((folder / ext).resolve())
    elif isinstance(ext, list):
        data["extends"] = [str((folder / e).resolve()) if isinstance(e, str) else e for e in ext]
    demand = data.get("demand")
    if isinstance(demand, dict) and isinstance(demand.get("population_table"), str):
        demand["population_table"] = str((folder / demand["population_table"]).resolve())
    if isinstance(data.get("base"), str):
        data["base"] = str((folder / data["base"]).resolve())
    return data


def paths_of(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in nested mappings and lists."""
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            out += paths_of(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += paths_of(value, (*prefix, i))
    return out


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def mutate_data(rng: random.Random, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """One structural mutation of parsed YAML, and its description."""
    data = copy.deepcopy(data)
    paths = paths_of(data)
    path = rng.choice(paths)
    parent, key = _parent(data, path), path[-1]
    where = ".".join(str(p) for p in path)
    kind = rng.choice(["value", "value", "value", "delete", "unknown", "typo", "deep", "number", "empty"])
    if kind == "value":
        value = rng.choice(VALUES)
        parent[key] = value
        return data, f"{where} = {value!r}"
    if kind == "number":
        old = parent[key]
        if isinstance(old, int | float) and not isinstance(old, bool):
            value = rng.choice([-old, old * 1e9, old * 1e-9, -abs(old) - 1, old + 0.5, 0])
        else:
            value = rng.choice([-5, 1e12, 2**63])
        parent[key] = value
        return data, f"{where} = {value!r} (was {old!r})"
    if kind == "delete":
        del parent[key]
        return data, f"delete {where}"
    if kind == "unknown":
        target = parent[key] if isinstance(parent[key], dict) else parent
        if isinstance(target, dict):
            target["unknwn_key"] = 1
        return data, f"unknown key under {where}"
    if kind == "typo" and isinstance(parent, dict) and isinstance(key, str) and len(key) > 1:
        cut = rng.randrange(len(key))
        parent[key[:cut] + key[cut + 1 :]] = parent.pop(key)
        return data, f"typo in key {where}"
    if kind == "deep":
        depth = rng.choice([30, 45, 200])
        parent[key] = _deep(depth)
        return data, f"{where} nested {depth} deep"
    parent[key] = {} if isinstance(parent[key], dict) else []
    return data, f"{where} emptied"


def mutate_text(rng: random.Random, text: str) -> tuple[bytes, str]:
    """One mutation of the file's text or bytes, and its description."""
    kind = rng.choice(["binary", "latin1", "truncate", "duplicate", "laughs", "tab", "garbage_line"])
    lines = text.splitlines(keepends=True)
    if kind == "binary":
        return bytes(
            rng.randrange(256) for _ in range(rng.choice([10, 500]))
        ) + text.encode(), "binary prefix"
    if kind == "latin1":
        return ("name: Västerås\n" + text).encode("latin-1", errors="replace"), "latin-1 encoded"
    if kind == "truncate":
        cut = rng.randrange(len(text)) if text else 0
        return text[:cut].encode(), f"truncated at {cut}"
    if kind == "duplicate" and lines:
        i = rng.randrange(len(lines))
        return "".join([*lines[: i + 1], lines[i], *lines[i + 1 :]]).encode(), f"line {i + 1} twice"
    if kind == "laughs":
        bomb = ["lol0: &l0 [a, a, a, a, a, a, a, a, a, a]"]
        bomb += [f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]
        return (text + "\n".join(bomb) + "\n").encode(), "alias bomb appended"
    if kind == "tab" and lines:
        i = rng.randrange(len(lines))
        return "".join([*lines[:i], "\t" + lines[i], *lines[i + 1 :]]).encode(), f"tab before line {i + 1}"
    i = rng.randrange(len(lines)) if lines else 0
    junk = rng.choice(["{{{", "]: :", "- - -", "&a *b", "!!python/object:os.system ls", ": ["])
    return "".join([*lines[:i], junk + "\n", *lines[i:]]).encode(), f"{junk!r} at line {i + 1}"


def random_set(rng: random.Random, data: dict[str, Any]) -> tuple[str, str]:
    """A ``--set`` of a random key (sometimes a wildcard or a misspelt entry) to a random value."""
    path = list(rng.choice(paths_of(data)))
    if len(path) > 1 and rng.random() < 0.2:
        path[rng.randrange(len(path) - 1)] = "*"
    if rng.random() < 0.1:
        path[0] = str(path[0])[:-1] + "x"
    value = rng.choice([*VALUES, "[&a [1,1,1,1,1,1,1,1,1,1], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]]"])
    raw = value if isinstance(value, str) else yaml.safe_dump(value, default_flow_style=True).strip()
    raw = raw.removesuffix("\n...").strip()
    text = f"{'.'.join(str(p) for p in path)}={raw}"
    return text, f"--set {text[:120]!r}"


def cli(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, err.getvalue()


def check_result(code: int, err: str, what: str) -> None:
    assert code in (0, 2), f"{what}: exit {code}\n{err}"
    assert "Traceback" not in err and "internal error" not in err, f"{what}:\n{err}"
    if code == 2:
        lines = err.strip().splitlines()
        assert lines, f"{what}: exit 2 without a message"
        for line in lines:
            assert line.startswith("hmsim") and len(line) < 2000, f"{what}: unclear line {line[:300]!r}"


def plan_check(path: Path, out: Path, overrides: list[str]) -> tuple[int, str]:
    """The experiment planner (what ``hmsim batch`` does before running anything)."""
    try:
        load_plan(path, out, overrides)
    except HmsimError as exc:
        return 2, "\n".join(f"hmsim batch: {p}" for p in exc.problems)
    return 0, ""


def small_enough(path: Path, overrides: list[str]) -> bool:
    """Whether a valid mutant is small enough to run within the time bound on a shared CI machine (a
    larger run that validates is fine: its size is bounded by the run-size limit, not by this test)."""
    return estimate_work(load_scenario(path, overrides)) <= RUN_WORK


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return absolutise(data, path.parent)


def write_mutant(folder: Path, name: str, content: bytes | dict[str, Any]) -> Path:
    path = folder / name
    if isinstance(content, dict):
        path.write_text(yaml.safe_dump(content, allow_unicode=True, sort_keys=False), encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


Check = Callable[[Path, list[str]], tuple[int, str]]


def test_mutated_inputs_give_exit_0_or_a_clean_exit_2(tmp_path: Path) -> None:
    rng = random.Random(SEED)

    def validate(path: Path, overrides: list[str]) -> tuple[int, str]:
        return cli("validate", str(path), *[f"--set={o}" for o in overrides])

    def plan(path: Path, overrides: list[str]) -> tuple[int, str]:
        return plan_check(path, tmp_path / "plan", overrides)

    def accounts(path: Path, overrides: list[str]) -> tuple[int, str]:
        return cli("accounts", str(path), *[f"--set={o}" for o in overrides])

    # the tiny configs are cheap, so they get most of the cases; every shipped file is fuzzed too
    sources: list[tuple[str, Path, Check]] = [
        ("region", p, validate) for p in [*REGIONS, *TINY, *TINY, *TINY]
    ]
    sources += [("experiment", p, plan) for p in EXPERIMENTS]
    sources += [("accounts", p, accounts) for p in ACCOUNTS * 2]
    parsed = {p: load(p) for _, p, _ in sources}
    valid_regions: list[tuple[Path, list[str], str]] = []
    started = time.perf_counter()
    cases = exits = 0
    while time.perf_counter() - started < BUDGET or cases < 3 * len(sources):
        kind, source, check = sources[cases % len(sources)]
        data = parsed[source]
        roll = rng.random()
        overrides: list[str] = []
        content: bytes | dict[str, Any] = data
        if roll < 0.55:
            content, what = mutate_data(rng, data)
        elif roll < 0.8:
            content, what = mutate_text(rng, yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
        else:
            text, what = random_set(rng, data)
            overrides = [text]
        path = write_mutant(tmp_path, f"m{cases}_{source.name}", content)
        what = f"case {cases} ({path}, from {source.name}): {what}"
        t0 = time.perf_counter()
        with time_limit(CHECK_SECONDS, what):
            code, err = check(path, overrides)
        assert time.perf_counter() - t0 < CHECK_SECONDS, what
        check_result(code, err, what)
        cases += 1
        exits += code == 2
        if kind == "region" and code == 0 and small_enough(path, overrides):
            valid_regions.append((path, overrides, what))
        else:
            path.unlink()  # a failing case stops above, so its mutant is kept for the report
    # run a few valid region mutants, preferring the tiny ones (a shipped region takes seconds)
    rng.shuffle(valid_regions)
    valid_regions.sort(key=lambda item: "from tiny" not in item[2])
    for n, (path, overrides, what) in enumerate(valid_regions[:RUNS]):
        out = tmp_path / f"run{n}"
        with time_limit(RUN_SECONDS, f"run of {what}"):
            code, err = cli(
                "run", str(path), "--years", "0.05", "--out", str(out), *[f"--set={o}" for o in overrides]
            )
        check_result(code, err, f"run of {what}")
    assert exits > cases * 0.2, f"only {exits} of {cases} mutants were rejected: the mutations are too gentle"
    print(f"fuzz: {cases} mutants, {exits} rejected cleanly, {min(RUNS, len(valid_regions))} valid ones run")


FACTORS = (0.0, 1e-6, 0.01, 0.5, 2.0, 10.0, 1000.0, 1e6, -1.0)


def test_valid_looking_mutants_run_cleanly(tmp_path: Path) -> None:
    """Numbers of the tiny configs scaled (0, tiny, x2, x1000, negative ...): whatever validates must also
    run for a short horizon and give exit 0, or be refused with exit 2 by the run itself."""
    rng = random.Random(SEED + 1)
    sources = {p: load_raw(p) for p in TINY}
    started = time.perf_counter()
    cases = runs = 0
    while time.perf_counter() - started < BUDGET * 0.6 or cases < 20:
        source = rng.choice(TINY)
        data = copy.deepcopy(sources[source])
        numbers = [p for p in paths_of(data) if type(_parent(data, p)[p[-1]]) in (int, float)]
        changed = []
        for path in rng.sample(numbers, k=rng.choice([1, 1, 2, 3])):
            old = _parent(data, path)[path[-1]]
            new = old * rng.choice(FACTORS)
            _parent(data, path)[path[-1]] = int(new) if isinstance(old, int) and abs(new) < 1e15 else new
            changed.append(f"{'.'.join(str(k) for k in path)}: {old!r} -> {_parent(data, path)[path[-1]]!r}")
        path = write_mutant(tmp_path, f"v{cases}_{source.name}", data)
        what = f"case {cases} ({path}): {'; '.join(changed)}"
        with time_limit(CHECK_SECONDS, what):
            code, err = cli("validate", str(path))
        check_result(code, err, what)
        if code == 0 and small_enough(path, []):
            out = tmp_path / f"run{cases}"
            t0 = time.perf_counter()
            with time_limit(RUN_SECONDS, f"run of {what}"):
                code, err = cli("run", str(path), "--years", "0.1", "--out", str(out))
            check_result(code, err, f"run of {what}")
            assert time.perf_counter() - t0 < RUN_SECONDS
            runs += 1
        path.unlink()
        cases += 1
    assert runs >= cases * 0.2, f"only {runs} of {cases} mutants validated: too few runs were tried"
    print(f"fuzz: {cases} scaled mutants, {runs} of them run")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e300, -1e300])
def test_every_float_of_the_tiny_config_rejects_non_finite_and_huge_values(value: float) -> None:
    """Exhaustive over the tiny economics config's numbers: each replaced by ``value`` is refused."""
    base = load_raw(ROOT / "tests/data/tiny_economics.yaml")
    floats = [p for p in paths_of(base) if isinstance(_parent(base, p)[p[-1]], float)]
    assert len(floats) > 5
    for path in floats:
        mutant = copy.deepcopy(base)
        _parent(mutant, path)[path[-1]] = value
        with pytest.raises(ConfigError):
            build_scenario(mutant)
