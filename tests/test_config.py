"""Config loading and validation: shipped configs validate; every error names key path, value and rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from sim.config import apply_overrides, build_scenario, load_raw, load_scenario
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


def test_fitted_values_reach_the_resolved_region_config() -> None:
    """The region files must not silently override what the calibration scripts fitted."""
    fitted = yaml.safe_load((ROOT / "calibration" / "fitted" / "vastmanland_devices.yaml").read_text("utf-8"))
    region = yaml.safe_load((ROOT / "configs" / "regions" / "vastmanland.yaml").read_text("utf-8"))
    s = load_scenario(ROOT / "configs" / "regions" / "vastmanland.yaml")
    for cat, spec in fitted["categories"].items():
        assert set(spec).isdisjoint(region.get("categories", {}).get(cat, {})), cat
        if "rental_duration" in spec:
            assert s.categories[cat].rental_duration[-1].mean == pytest.approx(
                spec["rental_duration"][-1]["mean"]
            )
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
