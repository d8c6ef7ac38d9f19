"""Config loading and validation: shipped configs validate; every error names key path, value and rule."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.config import apply_overrides, build_scenario, load_raw, load_scenario
from sim.config.loader import read_population_table
from sim.errors import ConfigError
from sim.experiment.plan import load_plan

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "configs" / "regions").glob("*.yaml"))
EXPERIMENTS = sorted((ROOT / "configs" / "experiments").glob("*.yaml"))


def problems_of(path: Path, overrides: list[str]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_scenario(path, overrides)
    return info.value.problems


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_region_configs_validate(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert len(scenario.categories) >= 10


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_shipped_experiments_resolve_every_task(path: Path, tmp_path: Path) -> None:
    plan = load_plan(path, tmp_path / "out")
    assert plan.tasks and len({t.label for t in plan.tasks}) * plan.experiment.replications == len(plan.tasks)


def test_unknown_key_names_close_match_and_valid_keys(tiny_path: Path) -> None:
    (line,) = problems_of(tiny_path, ["categories.bed.retrun_share=0.5"])
    assert line.startswith("categories.bed.retrun_share: unknown key")
    assert "did you mean 'return_share'?" in line
    assert "valid keys:" in line and "rental_duration" in line


def test_every_bad_value_is_one_line_with_path_value_and_rule(tiny_path: Path) -> None:
    lines = problems_of(
        tiny_path,
        [
            "depots.Depot.reconditioning_room=-3",
            "categories.bed.return_share=1.5",
            "transport.road_factor=fast",
        ],
    )
    assert len(lines) == 3
    by_path = {line.split(":")[0]: line for line in lines}
    assert "-3" in by_path["depots.Depot.reconditioning_room"]
    assert "greater than or equal to 1" in by_path["depots.Depot.reconditioning_room"]
    assert (
        "1.5" in by_path["categories.bed.return_share"]
        and "less than or equal to 1" in by_path["categories.bed.return_share"]
    )
    assert "'fast'" in by_path["transport.road_factor"]
    assert all("\n" not in line for line in lines)


def test_cross_references_are_checked(tiny_path: Path) -> None:
    lines = problems_of(
        tiny_path,
        [
            "transport.routes.town.municipalities=[Twn]",
            "transport.routes.country.weekdays=[sat]",
        ],
    )
    text = "\n".join(lines)
    assert (
        "transport.routes.town.municipalities.0: 'Twn': must name a municipality; did you mean 'Town'?"
        in text
    )
    assert "transport.routes.country.weekdays: 'sat': must be a workday" in text
    assert "municipalities.Town: not served by any transport.routes entry" in text


def test_missing_use_rates_and_population_bands_are_reported(tiny_path: Path) -> None:
    raw = load_raw(tiny_path)
    del raw["demand"]["use_rates"]["bed"]
    del raw["demand"]["population"]["Village"][2023]["old"]
    with pytest.raises(ConfigError) as info:
        build_scenario(raw)
    text = "\n".join(info.value.problems)
    assert "demand.use_rates.bed: missing" in text
    assert "demand.population.Village.2023.old: missing" in text


def test_rental_duration_shares_must_sum_to_one(tiny_path: Path) -> None:
    (line,) = problems_of(tiny_path, ["categories.rollator.rental_duration.0.share=0.5"])
    assert line.startswith("categories.rollator:") and "sum to 1.3" in line


def test_set_overrides_values_and_creates_sections(tiny_path: Path) -> None:
    s = load_scenario(
        tiny_path,
        ["horizon.years=2.5", "demand.trend.growth=0.03", "categories.bed.purchase_price.mean=20000"],
    )
    assert s.horizon.years == 2.5
    assert s.demand.trend.growth == 0.03
    assert s.categories["bed"].purchase_price.mean == 20000


@pytest.mark.parametrize("bad", ["novalue", "=3", "a..b=1", "horizon.years.x=1"])
def test_malformed_set_is_a_config_error(tiny_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError):
        load_scenario(tiny_path, [bad])


def test_yaml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nhorizon: {years: 1\n", encoding="utf-8")
    (line,) = problems_of(bad, [])
    assert re.match(rf"{re.escape(str(bad))}:\d+:\d+: YAML syntax error", line)


def test_extends_merges_and_detects_cycles(tmp_path: Path, tiny_path: Path) -> None:
    child = tmp_path / "child.yaml"
    child.write_text(f"extends: {tiny_path}\nname: child\nhorizon: {{years: 3}}\n", encoding="utf-8")
    s = load_scenario(child)
    assert s.name == "child" and s.horizon.years == 3 and "Village" in s.municipalities
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("extends: b.yaml\n", encoding="utf-8")
    b.write_text("extends: a.yaml\n", encoding="utf-8")
    (line,) = problems_of(a, [])
    assert "cycle" in line


def _merged(files: list[Path]) -> dict[str, Any]:
    """The fitted files merged as ``extends`` does: later files win, mappings merge, lists are replaced."""

    def merge(base: dict[str, Any], top: dict[str, Any]) -> None:
        for key, value in top.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value

    out: dict[str, Any] = {}
    for file in files:
        merge(out, yaml.safe_load(file.read_text("utf-8")))
    return out


def test_fitted_values_reach_the_resolved_region_config() -> None:
    """The region file must not silently override what the fits wrote: every fitted file it extends (the
    devices file, then the ones `hmsim calibrate` writes, later ones winning) reaches the resolved config."""
    path = ROOT / "configs" / "regions" / "vastmanland.yaml"
    region = yaml.safe_load(path.read_text("utf-8"))
    files = [(path.parent / f).resolve() for f in region["extends"] if "calibration/fitted" in f]
    assert len(files) >= 2
    fitted = _merged(files)
    s = load_scenario(path)
    for cat, spec in fitted["categories"].items():
        assert set(spec).isdisjoint(region.get("categories", {}).get(cat, {})), cat
        if "rental_duration" in spec:
            assert s.categories[cat].rental_duration[-1].mean == pytest.approx(
                spec["rental_duration"][-1]["mean"]
            )
        if "order_up_to_days" in spec:
            assert s.categories[cat].order_up_to_days == pytest.approx(spec["order_up_to_days"])
    assert s.demand.use_rates["rollator"] == pytest.approx(fitted["demand"]["use_rates"]["rollator"])


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _documented(lines: list[str], i: int) -> bool:
    """Line ``i`` has a comment, heads a commented block of siblings, or sits under a commented key."""
    if "#" in lines[i]:
        return True
    indent = _indent(lines[i])
    siblings = True  # still walking up through the run of sibling entries right above
    for j in range(i - 1, -1, -1):
        above = lines[j]
        if not above.strip():
            continue
        if above.lstrip().startswith("#"):
            if siblings and _indent(above) <= indent:
                return True  # a comment line heading the block
            continue
        if _indent(above) >= indent:
            siblings = siblings and _indent(above) == indent
            continue
        if "#" in above:
            return True  # an enclosing key with a comment
        indent, siblings = _indent(above), True
    return False


def _numbers_without_comment(path: Path) -> list[str]:
    """Lines holding a number without a unit-and-source comment (on the line, block or enclosing key)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    bad = []
    block_indent = None  # inside a folded/literal block scalar (prose, not config values)
    for i, line in enumerate(lines):
        if block_indent is not None and (not line.strip() or _indent(line) > block_indent):
            continue
        block_indent = None
        code = re.sub(r"\"[^\"]*\"|'[^']*'", "", line.split("#", 1)[0])
        if re.search(r":\s*[>|][-+]?\s*$", code):
            block_indent = _indent(line)
            continue
        if re.search(r"(?<![\w.])-?\d+(\.\d+)?(?![\w-])", code) and not _documented(lines, i):
            bad.append(f"{path.name}:{i + 1}: {line.strip()}")
    return bad


@pytest.mark.parametrize(
    "path",
    [
        *SHIPPED,
        ROOT / "configs" / "common" / "devices.yaml",
        *sorted((ROOT / "calibration" / "fitted").glob("*.yaml")),
        *EXPERIMENTS,
        *sorted((ROOT / "configs" / "accounts").glob("*.yaml")),
    ],
    ids=lambda p: p.name,
)
def test_every_number_in_shipped_configs_has_unit_and_source_comment(path: Path) -> None:
    assert _numbers_without_comment(path) == []


def test_overrides_do_not_mutate_their_input(tiny_path: Path) -> None:
    raw = load_raw(tiny_path)
    out = apply_overrides(raw, ["horizon.years=7"])
    assert raw["horizon"]["years"] == 1 and out["horizon"]["years"] == 7


def test_the_comment_check_flags_an_undocumented_number(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a:\n  b: 3  # persons; source\n  c: 4\nd: >-\n  prose with 12 words\n", encoding="utf-8")
    assert _numbers_without_comment(path) == ["x.yaml:3: c: 4"]


# --- bad input: one line naming the file or key, the value and the rule (issue 7, section 3) ---


def _error_of(path: Path, overrides: list[str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_scenario(path, overrides or [])
    assert len(info.value.problems) >= 1
    return "\n".join(info.value.problems)


def test_binary_and_non_utf8_files_are_reported_as_such(tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\x00\xff\xfe\x89PNG garbage")
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("name: V\xe4ster\xe5s\n".encode("latin-1"))
    assert "not UTF-8 text (byte 0xff at offset 1)" in _error_of(binary)
    assert "not UTF-8 text (byte 0xe4 at offset 7)" in _error_of(latin1)
    assert "is a folder, not a file" in _error_of(tmp_path)


def test_duplicate_yaml_keys_are_rejected_with_both_lines(tmp_path: Path, tiny_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(f"extends: {tiny_path}\nseed: 3\nname: a\nseed: 4\n", encoding="utf-8")
    assert f"{path}:4:1: YAML error: duplicate key 'seed' (first given on line 2)" in _error_of(path)


def test_alias_expansion_and_nesting_are_limited_in_files_and_set_values(
    tmp_path: Path, tiny_path: Path
) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    laughs = tmp_path / "laughs.yaml"
    laughs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    deep = tmp_path / "deep.yaml"
    deep.write_text("x: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    assert "aliases expanded" in _error_of(laughs)
    assert "nested deeper than 40 levels" in _error_of(deep)
    assert "nested deeper than 40 levels" in _error_of(tiny_path, ["name=" + "{a: " * 100 + "1" + "}" * 100])
    value = "[&a [1,1,1,1,1,1,1,1,1,1]" + "".join(
        f", &{b} [{','.join([f'*{a}'] * 10)}]" for a, b in zip("abcde", "bcdef", strict=True)
    )
    assert "aliases expanded" in _error_of(tiny_path, [f"name={value}]"])
    assert "refers to a node that contains it" in _error_of(tiny_path, ["name=&a [1, *a]"])


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("horizon.start_date=2023-02-30", "'2023-02-30' is not a valid date"),
        ("horizon.start_date=9999-12-31", "start_date 9999-12-31: must lie in the years"),
        ("horizon.years=0.001", "the horizon must be at least one day"),
        ("horizon.warmup_days=400", "warmup_days 400 must be shorter than the horizon"),
        ("economics.sale_markup=.inf", "economics.sale_markup: inf: must be a finite number"),
        (
            "categories.bed.purchase_price.mean=.nan",
            "categories.bed.purchase_price.mean: nan: must be a finite",
        ),
        ("demand.use_rates.bed.old=-1", "demand.use_rates.bed.old: -1"),
        ("demand.weekday_weights.mon=-2", "demand.weekday_weights.mon: -2"),
        ("demand.population.Town.2023.old=-5", "demand.population.Town.2023.old: -5"),
        ("demand.monthly_factors=[-1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]", "demand.monthly_factors.0: -1"),
        ("demand.monthly_factors=[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]", "demand.monthly_factors: all 0"),
        ("demand.population_growth.old=-3", "demand.population_growth.old: -3"),
        ("depots.Depot.service_technicians.count=1000000000", "must be less than or equal to 10000"),
        ("categories.bed.depreciation_years=1000000000", "must be less than or equal to 100"),
        ("seed=1.0e+300", "seed: 1e+300: beyond +-1e+12"),
        ("demand.use_rates.bed.old=100000000", "(run size): about"),
        ("categories.bed.rental_duration=[{share: 1, mean: 1e11}]", "(run size): about"),
    ],
)
def test_values_that_make_no_sense_or_explode_are_rejected(
    tiny_path: Path, override: str, fragment: str
) -> None:
    econ = tiny_path.parent / "tiny_economics.yaml"
    assert fragment in _error_of(econ, [override])


def test_set_reports_an_unknown_entry_with_a_close_match(root: Path) -> None:
    text = _error_of(
        root / "configs/regions/vastmanland.yaml", ["depots.Vasteras.service_technicians.count=22"]
    )
    assert "unknown depot 'Vasteras'; did you mean 'Västerås'?" in text
    assert "missing" not in text


def test_set_wildcards_apply_to_every_matching_key(tiny_path: Path) -> None:
    s = load_scenario(tiny_path, ["categories.*.spare_part_share=0.1", "municipalities.V*.distance_km=7"])
    assert {c.spare_part_share for c in s.categories.values()} == {0.1}
    assert s.municipalities["Village"].distance_km == 7 and s.municipalities["Town"].distance_km == 0
    assert "matches no key; keys there: rollator, bed, small_aid" in _error_of(
        tiny_path, ["categories.x*.spare_part_share=0.1"]
    )
    # each match is checked on its own: every category is named in the error
    text = _error_of(tiny_path, ["categories.*.spare_part_share=2"])
    assert all(f"categories.{c}.spare_part_share: 2" in text for c in ("rollator", "bed", "small_aid"))


def test_set_reaches_integer_keys_by_their_text(tiny_path: Path) -> None:
    s = load_scenario(tiny_path, ["demand.population.Town.2023.old=9000"])
    assert s.demand.population["Town"][2023]["old"] == 9000


def _tiny_experiment(tmp_path: Path, tiny_path: Path, body: str) -> Path:
    """An experiment file of one replication of 0.1 years of the tiny region, with ``body`` added."""
    exp = tmp_path / "exp.yaml"
    exp.write_text(f"name: exp\nbase: {tiny_path}\nreplications: 1\nyears: 0.1\n{body}", encoding="utf-8")
    return exp


def test_experiment_scenarios_accept_wildcards(tmp_path: Path, tiny_path: Path) -> None:
    exp = _tiny_experiment(
        tmp_path, tiny_path, "scenarios:\n  spares: {'categories.*.spare_part_share': 0.3}\n"
    )
    plan = load_plan(exp, tmp_path / "out")
    cats = plan.tasks[0].config["categories"]
    assert {c["spare_part_share"] for c in cats.values()} == {0.3}


def test_set_reaches_a_grid_entry_whose_name_is_a_dotted_key(tmp_path: Path, tiny_path: Path) -> None:
    exp = _tiny_experiment(
        tmp_path, tiny_path, "grid:\n  'categories.bed.spare_part_share': [0.1, 0.2, 0.3]\n"
    )
    plan = load_plan(exp, tmp_path / "out", ["grid.categories.bed.spare_part_share=[0.25]"])
    assert [t.config["categories"]["bed"]["spare_part_share"] for t in plan.tasks] == [0.25]


def test_population_table_errors_name_the_table(tmp_path: Path) -> None:
    table = tmp_path / "pop.csv"
    table.write_text("municipality,year,band,persons,source\nTown,2023,old,nan,x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2: persons 'nan': must be a finite number >= 0"):
        read_population_table(table)
    table.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(ConfigError, match=r"demand.population_table: .*not UTF-8 text"):
        read_population_table(table)


def test_a_grid_too_large_to_validate_is_refused_at_once(tmp_path: Path, tiny_path: Path) -> None:
    exp = tmp_path / "exp.yaml"
    seeds = ", ".join(str(i) for i in range(5000))
    exp.write_text(
        f"name: g\nbase: {tiny_path}\nreplications: 1\ngrid: {{seed: [{seeds}]}}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="5000 scenario points, more than the 1000"):
        load_plan(exp, tmp_path / "out")


def test_configs_and_docs_cite_only_documents_in_the_repository(root: Path) -> None:
    """Sources are files of the repository: no citation of the shared brief, design card or an issue, and
    every ``docs/sources.md Dn``/``Hn`` names a section that exists."""
    files = [
        *root.glob("configs/**/*.yaml"),
        *root.glob("docs/*.md"),
        *root.glob("calibration/**/*.csv"),
        *root.glob("sim/config/*.py"),
    ]
    sources = (root / "docs/sources.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^## ([A-Z]\d+)\.", sources, flags=re.MULTILINE))
    assert {"D1", "D2", "D3", "D5", "H1"} <= sections
    for path in files:
        if path.name == "sources.md":
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in (r"domain\.md", r"design\.md", r"\bthe issue\b(?!d)", r"\bissue \d+:"):
            found = re.search(pattern, text)
            assert found is None, (
                f"{path.relative_to(root)} cites {found.group(0)!r}, which is not in the repo"
            )
        for cited in re.findall(r"docs/sources\.md ([A-Z]\d+)", text):
            assert cited in sections, (
                f"{path.relative_to(root)} cites docs/sources.md {cited}: no such section"
            )


@pytest.mark.parametrize(
    "override",
    [[], ["categories.bed.rental_duration.0.mean=4000"], ["demand.use_rates.rollator.old=400"]],
    ids=["tiny", "long-rentals", "high-rates"],
)
def test_the_run_size_estimate_is_within_a_few_times_of_what_a_run_builds(
    tiny_path: Path, override: list[str]
) -> None:
    from sim.config.workload import estimate_work
    from sim.model import run

    scenario = load_scenario(tiny_path, override)
    output = run(scenario, 1)
    built = len(output["rentals"]) + len(output["jobs"]) + len(output["deliveries"])
    assert built / 5 <= estimate_work(scenario) <= built * 5


def test_yaml_merge_keys_may_override_what_they_merge() -> None:
    from sim.config.safe_yaml import load_yaml

    data = load_yaml("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  x: 3\n")
    assert data["c"] == {"x": 3, "y": 2}
