"""Read Statistics Sweden (SCB) population exports into a config's population table.

The statistical database (PX-Web) exports "Folkmängden efter region, ålder, kön och år" (BE0101) and the
regional projection "Folkmängd efter region, ålder och kön" (BE0401, 2024-2070) as CSV: a title line and
maybe notes, then a header such as ``"region","ålder","kön","2023","2024"`` and one row per region x age x
sex with a value per year (the region as ``"1980 Västerås"``, the age as ``"80 år"`` or ``"100+ år"``).
Handled quirks: UTF-8 with or without BOM or Latin-1 (Windows-1252), comma, semicolon or tab separated,
quoted fields, title and footnote lines around the table, ``..``/``-`` for missing values, spaces as
thousands separators, total rows (``totalt``, ``totalt ålder``, ``båda könen``) skipped where the parts are
present, years as columns or as an ``år`` column with one value column.

The result is the long table ``municipality,year,band,persons,source`` in the config's bands (named
``age_LO_HI`` or ``age_LO_plus``): the single ages of each band summed over sexes. Municipalities are
matched by code (``sim/data/municipalities.csv``, the two shipped counties) or by name; rows of a listed
municipality that the config does not have, and county or country rows, are skipped. Several files can be
given (history and projection); where they share a municipality and year the earlier file wins. Every
problem is one line naming the file, the value and the rule (:class:`sim.errors.HmsimError`).
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sim.errors import HmsimError

MAX_BYTES = 200_000_000  # a full export of Sweden by single ages and years is about 60 MB
TOTALS = {"totalt", "total", "totalt ålder", "båda könen", "both sexes", "samtliga", "totalt kön", "all ages"}
BAND_NAME = re.compile(r"^age_(\d+)_(\d+|plus)$")
AGE = re.compile(r"^(\d+)(\+)?(?:\s*(?:år|years?|year))?(\+)?$", re.IGNORECASE)
REGION = re.compile(r"^(\d{2,4})\s+(.+)$")
YEAR = re.compile(r"^(\d{4})(?:\b.*)?$")


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    county: str


def municipality_codes() -> dict[str, Municipality]:
    """The shipped municipality code list (code -> municipality)."""
    text = resources.files("sim").joinpath("data/municipalities.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO(text))
    return {r["code"]: Municipality(r["code"], r["name"], r["county"]) for r in rows}


def band_ages(band: str) -> tuple[int, int | None]:
    """``age_65_79`` -> (65, 79); ``age_80_plus`` -> (80, None)."""
    m = BAND_NAME.match(band)
    if not m:
        raise HmsimError(
            f"demand.age_bands: {band!r}: cannot tell its ages; name bands age_LO_HI or age_LO_plus to import"
        )
    lo = int(m.group(1))
    hi = None if m.group(2) == "plus" else int(m.group(2))
    if hi is not None and hi < lo:
        raise HmsimError(f"demand.age_bands: {band!r}: upper age {hi} below lower age {lo}")
    return lo, hi


def decode(path: Path) -> str:
    """The file's text: UTF-8 (with or without BOM), else Latin-1 / Windows-1252."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise HmsimError(f"{path}: cannot read ({exc.strerror})") from None
    if size > MAX_BYTES:
        raise HmsimError(f"{path}: {size} bytes: larger than {MAX_BYTES}; export fewer regions or years")
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise HmsimError(f"{path}: binary file (NUL bytes); expected a CSV export of the statistics database")
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise HmsimError(f"{path}: not UTF-8 or Latin-1 text")  # pragma: no cover (latin-1 decodes anything)


def _delimiter(lines: Sequence[str]) -> str:
    counts = {d: max((line.count(d) for line in lines[:50]), default=0) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _norm(text: str) -> str:
    return " ".join(text.strip().strip('"').split()).lower()


def _number(text: str) -> float | None:
    t = text.strip().replace("\u00a0", "").replace(" ", "")
    if t in ("", "..", "-", "–", ".", "…"):
        return None
    return float(t.replace(",", "."))


@dataclass
class Parsed:
    """Persons by (municipality, year) and age, summed over sexes (None: missing); open top group's age."""

    persons: dict[tuple[str, int], dict[int, float | None]]
    open_age: dict[tuple[str, int], int]  # the first age of an open-ended row ("100+ år")
    title: str
    projection: bool


def _find_header(rows: list[list[str]], path: Path) -> int:
    for i, row in enumerate(rows[:30]):
        names = [_norm(c) for c in row]
        if any("region" in n for n in names) and any(n.startswith(("ålder", "age")) for n in names):
            return i
    raise HmsimError(
        f"{path}: no header with a region and an age (ålder) column in the first 30 lines; expected the "
        "statistics database's CSV export (region, ålder, kön, years)"
    )


def parse(path: Path, resolve: Mapping[str, str]) -> Parsed:
    """Parse one export; ``resolve`` maps a region cell (code and/or name) to a config municipality."""
    text = decode(path)
    lines = text.splitlines()
    delim = _delimiter(lines)
    rows = list(csv.reader(io.StringIO(text), delimiter=delim))
    head = _find_header(rows, path)
    title = next((" ".join(r[0].split()) for r in rows[:head] if r and r[0].strip()), "")
    header = [_norm(c) for c in rows[head]]
    col_region = next(i for i, n in enumerate(header) if "region" in n)
    col_age = next(i for i, n in enumerate(header) if n.startswith(("ålder", "age")))
    col_sex = next((i for i, n in enumerate(header) if n.startswith(("kön", "sex"))), None)
    year_cols = {i: int(m.group(1)) for i, n in enumerate(header) if (m := YEAR.match(n))}
    col_year = next((i for i, n in enumerate(header) if n in ("år", "year", "tid")), None)
    if not year_cols and col_year is None:
        raise HmsimError(f'{path} line {head + 1}: no year columns (like "2024") and no år column')
    value_cols: list[int] = []
    if not year_cols:
        used = {col_region, col_age, col_sex, col_year}
        value_cols = [i for i in range(len(header)) if i not in used]
        if len(value_cols) != 1:
            raise HmsimError(f"{path} line {head + 1}: with an år column expected exactly one value column")
    sexes_seen: set[str] = set()
    ages_seen: set[str] = set()
    records: list[tuple[str, int, str, str, float | None, int]] = []  # muni, year, age text, sex, value, line
    for lineno, row in enumerate(rows[head + 1 :], start=head + 2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(header):
            if len(row) == 1:  # a footnote or source line after the table
                continue
            raise HmsimError(f"{path} line {lineno}: {len(row)} fields, the header has {len(header)}")
        region = _norm(row[col_region])
        muni = resolve.get(region)
        if muni is None:
            m = REGION.match(region)
            if m and len(m.group(1)) == 2:  # a county or the country ("19 Västmanlands län", "00 Riket")
                continue
            if m and resolve.get(f"#{m.group(1)}") == m.group(2):  # a listed municipality not in the config
                continue
            raise HmsimError(
                f"{path} line {lineno}: region {row[col_region].strip()!r}: unknown municipality (not in the "
                "config, or its code not in sim/data/municipalities.csv)"
            )
        age = _norm(row[col_age])
        sex = _norm(row[col_sex]) if col_sex is not None else ""
        sexes_seen.add(sex)
        ages_seen.add(age)
        try:
            if year_cols:
                for col, year in year_cols.items():
                    records.append((muni, year, age, sex, _number(row[col]), lineno))
            else:
                ym = YEAR.match(_norm(row[col_year or 0]))
                if not ym:
                    raise HmsimError(f"{path} line {lineno}: year {row[col_year or 0]!r}: not a year")
                records.append((muni, int(ym.group(1)), age, sex, _number(row[value_cols[0]]), lineno))
        except ValueError:
            raise HmsimError(
                f"{path} line {lineno}: a value is not a number (missing values are '..')"
            ) from None
    if not records:
        raise HmsimError(f"{path}: no data rows under the header")
    drop_sex = {s for s in sexes_seen if s in TOTALS} if len(sexes_seen) > 1 else set()
    persons: dict[tuple[str, int], dict[int, float | None]] = {}
    open_age: dict[tuple[str, int], int] = {}
    for muni, year, age_text, sex, value, lineno in records:
        if sex in drop_sex or age_text in TOTALS:
            continue
        m = AGE.match(age_text)
        if not m:
            raise HmsimError(
                f"{path} line {lineno}: age {age_text!r}: expected '80 år', '100+ år' or a number"
            )
        years_old = int(m.group(1))
        if m.group(2) or m.group(3):
            open_age[(muni, year)] = years_old
        cell = persons.setdefault((muni, year), {})
        if value is None or (years_old in cell and cell[years_old] is None):
            cell[years_old] = None  # '..' for any sex makes the age unknown
        else:
            cell[years_old] = (cell.get(years_old) or 0.0) + value
    projection = any(word in title.lower() for word in ("framskriv", "projection", "prognos"))
    return Parsed(persons, open_age, title, projection)


def resolver(municipalities: Sequence[str], codes: Mapping[str, Municipality]) -> dict[str, str]:
    """Region cell (normalised) -> config municipality, by code with name, code alone, or name alone."""
    out: dict[str, str] = {}
    for name in municipalities:
        out[_norm(name)] = name
    for code, muni in codes.items():
        if muni.name in municipalities:
            out[_norm(f"{code} {muni.name}")] = muni.name
            out[code] = muni.name
        else:
            out[f"#{code}"] = _norm(muni.name)  # known, not in the config: its rows are skipped
    return out


def to_table(
    files: Sequence[Path], municipalities: Sequence[str], bands: Sequence[str]
) -> list[tuple[str, int, str, float, str]]:
    """The long table rows ``(municipality, year, band, persons, source)`` from the exports ``files``."""
    ranges = {band: band_ages(band) for band in bands}
    resolve = resolver(municipalities, municipality_codes())
    rows: dict[tuple[str, int, str], tuple[float, str]] = {}
    for path in files:
        parsed = parse(path, resolve)
        kind = "projected" if parsed.projection else "observed"
        title = parsed.title or "population export"
        for (muni, year), ages in sorted(parsed.persons.items()):
            if any((muni, year, b) in rows for b in bands):
                continue  # an earlier file has this municipality and year
            top = parsed.open_age.get((muni, year))
            oldest = max(ages)
            for band, (lo, hi) in ranges.items():
                if hi is not None and top is not None and top <= hi:
                    raise HmsimError(
                        f"{path}: {muni} {year}: band {band} ends at {hi} but the export's oldest group is "
                        f"{top}+; choose bands that end below {top}"
                    )
                need = range(lo, (oldest if hi is None else hi) + 1)
                missing = [a for a in need if ages.get(a) is None]
                if missing or lo > oldest:
                    gap = f"{missing[0]}-{missing[-1]}" if missing else f"{lo}+"
                    raise HmsimError(
                        f"{path}: {muni} {year}: missing band {band}: no persons for ages {gap} "
                        "(absent or '..')"
                    )
                ages_text = f"{lo}+" if hi is None else f"{lo}-{hi}"
                source = f"{kind}: SCB '{title}' ({path.name}), ages {ages_text} summed over sexes"
                rows[(muni, year, band)] = (sum(float(ages[a] or 0.0) for a in need), source)
    got = {m for m, _, _ in rows}
    missing_munis = [m for m in municipalities if m not in got]
    if missing_munis:
        raise HmsimError(
            f"{', '.join(str(f) for f in files)}: municipality {missing_munis[0]!r} of the config not in the "
            f"export ({len(missing_munis)} missing)"
        )
    years_by_muni: dict[str, set[int]] = {}
    for m, y, _ in rows:
        years_by_muni.setdefault(m, set()).add(y)
    first = years_by_muni[municipalities[0]]
    for m, years in years_by_muni.items():
        if years != first:
            raise HmsimError(
                f"export: {m} has years {min(years)}-{max(years)}, {municipalities[0]} has others"
            )
    order = {b: i for i, b in enumerate(bands)}
    return [
        (m, y, b, v, s)
        for (m, y, b), (v, s) in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1], order[kv[0][2]]))
    ]


def write_table(path: Path, rows: Sequence[tuple[str, int, str, float, str]]) -> None:
    """Write the long table atomically (a temporary file in the same folder, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["municipality", "year", "band", "persons", "source"])
            for muni, year, band, persons, source in rows:
                writer.writerow([muni, year, band, round(persons), source])
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
