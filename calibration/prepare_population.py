"""Derive the population tables of the shipped configs (common age bands) from the reference data.

Run from the repository root: ``python calibration/prepare_population.py``. Reads
``calibration/reference/population_*.csv`` and ``calibration/observed/*.csv`` (copies of ``../shared/data``)
and writes ``configs/data/population_{vastmanland,norrbotten}.csv`` with one source note per row.

Common bands: age_0_19, age_20_64, age_65_79, age_80_plus. Derivations (assumptions named):

- 80+ share of 65+: Norrbotten had 6.4 % aged 80+ in 2019 of 249 748 inhabitants (norrbotten_review_2020.csv
  share_80plus, population); its 80+ grows 40 % 2019-2030, i.e. 3.1 %/yr (devices_sweden_facts.csv
  norrbotten_80plus_growth_projection). That gives 80+ persons in 2023 and 2025, divided by the county's
  65+ of the table. The same ratio is applied to every municipality (assumption: similar old-age structure
  within a county) and to Västmanland (assumption, supported by the national 80+/60+ ratio 0.052/0.255 =
  0.20 equalling Norrbotten's 0.064/0.307 = 0.21).
- Norrbotten 0-19 and 20-64: age 16-24 split 4/9 to 0-19 and 5/9 to 20-64 (assumption: even ages).
- Västmanland 65+ in 2024: the 2018 65+ of each municipality scaled by one factor so that the county's 65+
  share is 22 % (vastmanland_review_2026.csv population_share_65plus 2025, assumed for 2024); 0-19 is the
  2024 "0-19 and 65+" minus that 65+.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "calibration" / "reference"
OBS = ROOT / "calibration" / "observed"
OUT = ROOT / "configs" / "data"


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def observed(file: str, metric: str, segment: str = "all") -> float:
    for row in read(OBS / file):
        if row["metric"] == metric and row["segment"] == segment:
            return float(row["value"])
    raise KeyError(metric)


def fact(name: str) -> float:
    for row in read(REF / "devices_sweden_facts.csv"):
        if row["fact"] == name:
            return float(row["value"])
    raise KeyError(name)


def ratio_80_of_65(year: int, persons_65: float) -> float:
    """Norrbotten's 80+ / 65+ in ``year`` from the 2019 80+ share and the projected 80+ growth."""
    persons_80_2019 = observed("norrbotten_review_2020.csv", "share_80plus") * observed(
        "norrbotten_review_2020.csv", "population"
    )
    growth = (1.0 + fact("norrbotten_80plus_growth_projection")) ** (1.0 / 11.0) - 1.0
    return persons_80_2019 * (1.0 + growth) ** (year - 2019) / persons_65


def write(path: Path, rows: list[tuple[str, int, str, float, str]]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["municipality", "year", "band", "persons", "source"])
        for muni, year, band, persons, source in rows:
            writer.writerow([muni, year, band, round(persons), source])
    print(f"wrote {path.relative_to(ROOT)} ({len(rows)} rows)")


def norrbotten() -> None:
    table = read(REF / "population_norrbotten_by_age.csv")
    total_65: dict[int, float] = defaultdict(float)
    for row in table:
        total_65[int(row["year"])] += float(row["age_65_plus"])
    rows = []
    for row in table:
        year = int(row["year"])
        r80 = ratio_80_of_65(year, total_65[year])
        src = (
            f"population_norrbotten_by_age.csv {row['municipality']} {year} (SCB via Regionfakta); "
            f"bands derived in calibration/prepare_population.py (80+ = {r80:.3f} of 65+)"
        )
        a1624 = float(row["age_16_24"])
        bands = {
            "age_0_19": float(row["age_0_15"]) + a1624 * 4 / 9,
            "age_20_64": a1624 * 5 / 9 + float(row["age_25_44"]) + float(row["age_45_64"]),
            "age_65_79": float(row["age_65_plus"]) * (1 - r80),
            "age_80_plus": float(row["age_65_plus"]) * r80,
        }
        rows += [(row["municipality"], year, band, value, src) for band, value in bands.items()]
    write(OUT / "population_norrbotten.csv", rows)


def vastmanland() -> None:
    table = read(REF / "population_vastmanland.csv")
    y2024 = {r["municipality"]: r for r in table if r["year"] == "2024"}
    y2018 = {r["municipality"]: float(r["age_65_plus"]) for r in table if r["year"] == "2018"}
    total_2024 = sum(float(r["total"]) for r in y2024.values())
    share_65 = observed("vastmanland_review_2026.csv", "population_share_65plus")
    scale = share_65 * total_2024 / sum(y2018.values())
    norr = read(REF / "population_norrbotten_by_age.csv")
    r80 = ratio_80_of_65(
        2024,
        sum(float(r["age_65_plus"]) for r in norr if r["year"] == "2023") * 0.5
        + sum(float(r["age_65_plus"]) for r in norr if r["year"] == "2025") * 0.5,
    )
    rows = []
    for muni, row in y2024.items():
        p65 = y2018[muni] * scale
        src = (
            f"population_vastmanland.csv {muni} 2024 and 2018 (SCB via Regionfakta); 65+ 2024 = 65+ 2018 x "
            f"{scale:.4f} (county 65+ share {share_65}); 80+ = {r80:.3f} of 65+ "
            "(calibration/prepare_population.py)"
        )
        bands = {
            "age_0_19": float(row["age_0_19_and_65_plus"]) - p65,
            "age_20_64": float(row["age_20_64"]),
            "age_65_79": p65 * (1 - r80),
            "age_80_plus": p65 * r80,
        }
        rows += [(muni, 2024, band, value, src) for band, value in bands.items()]
    write(OUT / "population_vastmanland.csv", rows)


if __name__ == "__main__":
    norrbotten()
    vastmanland()
