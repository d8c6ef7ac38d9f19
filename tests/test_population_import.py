"""hmsim population import: SCB CSV exports (fixtures in the export's shape) -> the long population table."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import DATA, hmsim

from sim.config import load_scenario
from sim.errors import HmsimError
from sim.population_import import municipality_codes, to_table

HISTORY = DATA / "scb_folkmangd_2022_2023.csv"
PROJECTION = DATA / "scb_framskrivning_2024_2026.csv"
CONFIG = DATA / "import_region.yaml"
MUNIS = ["Norberg", "Skinnskatteberg"]
BANDS = ["age_0_64", "age_65_plus"]


def fixture_sums(path: Path, encoding: str, delimiter: str) -> dict[tuple[str, int, str], float]:
    """The fixture's persons by municipality, year and band, summed straight from its lines."""
    lines = path.read_text(encoding=encoding).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith('"region"'))
    reader = csv.reader(io.StringIO("\n".join(lines[start:])), delimiter=delimiter)
    header = next(reader)
    out: dict[tuple[str, int, str], float] = defaultdict(float)
    for row in reader:
        if len(row) < len(header):
            continue
        name = row[0].split(" ", 1)[1]
        age = int(row[1].split(" ")[0].rstrip("+"))
        band = "age_0_64" if age <= 64 else "age_65_plus"
        for col in range(3, len(header)):
            out[(name, int(header[col]), band)] += float(row[col])
    return out


def test_history_and_projection_exports_give_the_long_table() -> None:
    rows = to_table([HISTORY, PROJECTION], MUNIS, BANDS)
    expected = fixture_sums(HISTORY, "latin-1", ",") | fixture_sums(PROJECTION, "utf-8-sig", ";")
    got = {(m, y, b): v for m, y, b, v, _ in rows}
    assert got == expected
    kinds = {(y, s.split(":")[0]) for _, y, _, _, s in rows}
    assert kinds == {(2022, "observed"), (2023, "observed")} | {(y, "projected") for y in (2024, 2025, 2026)}


def test_the_command_writes_a_table_the_config_loads(tmp_path: Path) -> None:
    out = tmp_path / "pop.csv"
    result = hmsim(
        "population", "import", str(HISTORY), str(PROJECTION), "--config", str(CONFIG), "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    with out.open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header == ["municipality", "year", "band", "persons", "source"]
    scenario = load_scenario(CONFIG, [f"demand.population_table={out}"])
    assert sorted(scenario.demand.population["Norberg"]) == [2022, 2023, 2024, 2025, 2026]


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _edit(tmp_path: Path, old: str, new: str) -> Path:
    text = HISTORY.read_text(encoding="latin-1")
    assert old in text
    return _write(tmp_path / "edited.csv", text.replace(old, new), "latin-1")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('"1962 Norberg","7 år"', '"1999 Nowhere","7 år"', "region '1999 Nowhere': unknown municipality"),
        (
            '"1904 Skinnskatteberg","70 år","män",',
            '"1904 Skinnskatteberg","70 år","män",..,',
            "missing band age_65_plus",
        ),
        ('"region","ålder"', '"område","ålder"', "no header with a region and an age"),
        ('"1962 Norberg","3 år","män",', '"1962 Norberg","3 år","män",abc,', "not a number"),
    ],
)
def test_bad_exports_give_one_line(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = _edit(tmp_path, old, new)
    if "..," in new:  # keep the field count: '..' replaces the first year's value
        text = path.read_text(encoding="latin-1").replace(new, new[:-1]).replace(",..,", ",..", 1)
        path = _write(path, text.replace('"män",..', '"män",..,', 1), "latin-1")
    with pytest.raises(HmsimError) as info:
        to_table([path], MUNIS, BANDS)
    assert len(info.value.problems) == 1
    assert message in info.value.problems[0]


def test_missing_ages_are_a_missing_band(tmp_path: Path) -> None:
    lines = HISTORY.read_text(encoding="latin-1").splitlines()
    kept = [line for line in lines if not re.match(r'"1962 Norberg","8\d år"', line)]
    path = _write(tmp_path / "gap.csv", "\n".join(kept), "latin-1")
    with pytest.raises(
        HmsimError, match=r"Norberg 2022: missing band age_65_plus: no persons for ages 80-89"
    ):
        to_table([path], MUNIS, BANDS)


def test_command_errors_exit_2_with_one_line_and_write_nothing(tmp_path: Path) -> None:
    out = tmp_path / "pop.csv"
    bad = _edit(tmp_path, '"1962 Norberg","7 år"', '"1999 Nowhere","7 år"')
    binary = _write(tmp_path / "x.csv", "\x00\x01\x02", "latin-1")
    for path in (bad, binary, tmp_path / "absent.csv"):
        result = hmsim("population", "import", str(path), "--config", str(CONFIG), "--out", str(out))
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert not out.exists()


def test_long_layout_with_a_year_column_and_totals(tmp_path: Path) -> None:
    """PX-Web's other layout: an år column and one value column; total rows are skipped."""
    lines = ['"Folkmängd"', "region;ålder;kön;år;Folkmängd"]
    for name, code in (("Norberg", "1962"), ("Skinnskatteberg", "1904")):
        for year in (2023,):
            lines.append(f"{code} {name};totalt ålder;totalt;{year};99999")
            for age in range(101):
                label = "100+ år" if age == 100 else f"{age} år"
                for sex in ("män", "kvinnor", "totalt"):
                    value = 2 if sex == "totalt" else 1
                    lines.append(f"{code} {name};{label};{sex};{year};{value}")
    path = _write(tmp_path / "long.csv", "\n".join(lines))
    rows = {(m, b): v for m, _, b, v, _ in to_table([path], MUNIS, BANDS)}
    assert rows[("Norberg", "age_0_64")] == 2 * 65
    assert rows[("Skinnskatteberg", "age_65_plus")] == 2 * 36


def test_a_band_that_splits_the_open_age_group_is_refused() -> None:
    with pytest.raises(HmsimError, match="oldest group is 100\\+"):
        to_table([HISTORY], MUNIS, ["age_0_64", "age_65_104", "age_105_plus"])


def test_bands_must_be_named_by_their_ages() -> None:
    with pytest.raises(HmsimError, match="name bands age_LO_HI or age_LO_plus"):
        to_table([HISTORY], MUNIS, ["young", "old"])


def test_code_list_covers_the_shipped_regions() -> None:
    names = {m.name for m in municipality_codes().values()}
    for region in ("vastmanland", "norrbotten"):
        scenario = load_scenario(
            Path(__file__).resolve().parents[1] / "configs" / "regions" / f"{region}.yaml"
        )
        assert set(scenario.municipalities) <= names


def test_other_listed_municipalities_are_skipped(tmp_path: Path) -> None:
    """A county-wide export for a config with fewer municipalities: the others' rows are skipped."""
    text = HISTORY.read_text(encoding="latin-1")
    extra = "\n".join(
        line.replace("1962 Norberg", "1980 Västerås")
        for line in text.splitlines()
        if line.startswith('"1962 Norberg"')
    )
    path = _write(tmp_path / "county.csv", text + extra + "\n", "latin-1")
    rows = to_table([path], MUNIS, BANDS)
    assert {m for m, *_ in rows} == set(MUNIS)
