"""Economics: hand-computed examples for every piece, money conservation, the Norrbotten Q1 2025 repayment,
the home-care reform, and the base-year reproduction of both shipped regions."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, hmsim
from scipy import stats

from sim.config import load_scenario, validate_model
from sim.config.accounts import Accounts
from sim.config.economics import Capitalisation, Economics
from sim.economics import check_money, compute
from sim.economics.accounts import ledgers
from sim.economics.assets import assets
from sim.economics.costs import operating_costs
from sim.economics.ledger import MoneyError
from sim.economics.periods import Months, integrate
from sim.economics.revenue import DAYS_PER_YEAR, rent
from sim.economics.settlement import markup_follow_up_repayment, result_split
from sim.model import run

DATA = Path(__file__).resolve().parent / "data"
MONTHS = Months.of(date(2023, 1, 1), 730)  # 2023-2024


def econ(**changes: Any) -> Economics:
    base = load_scenario(DATA / "tiny_economics.yaml").economics
    assert base is not None
    data = base.model_dump()
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return validate_model(Economics, data)


def one_rental(
    price: float,
    bought: float,
    start: float,
    end: float,
    category: str = "rollator",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    devices = pd.DataFrame(
        {
            "device": [0],
            "purchase_price": [price],
            "purchased_day": [bought],
            "category": [category],
            "end_day": [np.nan],
            "state": ["on_rent"],
            "initial": [bought < 0],
        }
    )
    rentals = pd.DataFrame(
        {"device": [0], "category": [category], "payer": ["region"], "start_day": [start], "end_day": [end]}
    )
    return rentals, devices


def yearly(monthly: np.ndarray) -> list[float]:
    years = MONTHS.year_of_month()
    return [float(monthly[..., years == y].sum()) for y in (2023, 2024)]


def test_interval_integration_is_exact() -> None:
    # 10 SEK/day from day 10.5 to day 40 over months Jan (31 d) and Feb: 20.5 d and 9 d
    out = integrate(np.array([10.5]), np.array([40.0]), np.array([10.0]), MONTHS.bounds)
    assert (
        out[0] == pytest.approx(205.0) and out[1] == pytest.approx(90.0) and out.sum() == pytest.approx(295.0)
    )


def test_depreciation_markup_rent_by_hand() -> None:
    """12 000 SEK, 4 depreciation years, 75 % in the first 2 years, 53 % markup."""
    e = econ()
    years = {"rollator": 4.0}
    # new device rented the whole first year: 0.75 x 12 000 / 2 = 4 500 SEK rent
    rentals, devices = one_rental(12000, 0.0, 0.0, DAYS_PER_YEAR)
    r = rent(rentals, devices, e, years, {"region": 0}, MONTHS)
    assert sum(yearly(r["revenue_rent"])) == pytest.approx(4500.0, rel=1e-9)
    assert sum(yearly(r["revenue_rent_markup"])) == pytest.approx(4500.0 * 0.53, rel=1e-9)
    # a device bought 3 years ago: 0.25 x 12 000 / 2 = 1 500 SEK a year
    rentals, devices = one_rental(12000, -3 * DAYS_PER_YEAR, 0.0, DAYS_PER_YEAR)
    assert sum(
        yearly(rent(rentals, devices, e, years, {"region": 0}, MONTHS)["revenue_rent"])
    ) == pytest.approx(1500)
    # fully depreciated after 4 years: bought 3.5 years ago, rented a year, pays half a year of 1 500
    rentals, devices = one_rental(12000, -3.5 * DAYS_PER_YEAR, 0.0, DAYS_PER_YEAR)
    assert sum(
        yearly(rent(rentals, devices, e, years, {"region": 0}, MONTHS)["revenue_rent"])
    ) == pytest.approx(750)
    # the residual rent fix: 50 SEK a month for the fully depreciated half year
    fixed = econ(rent__residual_rent_sek_per_month=50.0)
    got = sum(yearly(rent(rentals, devices, fixed, years, {"region": 0}, MONTHS)["revenue_rent"]))
    assert got == pytest.approx(750 + 50 * 6, rel=1e-9)


def test_rent_factor_and_function_rent_by_hand() -> None:
    rentals, devices = one_rental(3000, 0.0, 0.0, DAYS_PER_YEAR / 2)
    e = econ(rent__kind="rent_factor")
    # 3 000 SEK is in the group up to 10 000 SEK: factor 0.3 -> 900 a year, 450 for half a year
    assert sum(
        yearly(rent(rentals, devices, e, {"rollator": 4}, {"region": 0}, MONTHS)["revenue_rent"])
    ) == pytest.approx(450.0)
    e = econ(rent__kind="rent_factor", rent__rent_factor_scale=2.0)
    assert sum(
        yearly(rent(rentals, devices, e, {"rollator": 4}, {"region": 0}, MONTHS)["revenue_rent"])
    ) == pytest.approx(900.0)
    # at or below the 500 SEK rent threshold the device is sold at its issue (price + 10 % markup)
    rentals, devices = one_rental(400, 0.0, 5.0, 100.0)
    out = rent(rentals, devices, econ(rent__kind="rent_factor"), {"rollator": 4}, {"region": 0}, MONTHS)
    assert out["revenue_rent"].sum() == 0 and out["revenue_sales"].sum() == 400
    assert out["revenue_sales_markup"].sum() == pytest.approx(40)
    # function rent: 60 SEK a month for three months
    rentals, devices = one_rental(3000, 0.0, 0.0, 3 * DAYS_PER_YEAR / 12)
    out = rent(rentals, devices, econ(rent__kind="function_rent"), {"rollator": 4}, {"region": 0}, MONTHS)
    assert out["revenue_function_rent"].sum() == pytest.approx(180.0)


def _device_frame(price: float, bought: float, end: float | None, state: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "device": [0],
            "purchase_price": [price],
            "purchased_day": [bought],
            "category": ["bed"],
            "end_day": [np.nan if end is None else end],
            "state": [state],
            "initial": [bought < 0],
        }
    )


def test_depreciation_conventions_by_hand() -> None:
    devices = _device_frame(12000, 45.0, None, "on_rent")  # bought 15 February 2023, one year of depreciation
    month = assets(devices, {"bed": 1.0}, {"bed": True}, Capitalisation(convention="purchase_month"), MONTHS)
    assert month.depreciation[0] == 0 and month.depreciation[1] == pytest.approx(1000)
    assert yearly(month.depreciation) == pytest.approx([11000, 1000])
    assert month.capitalised_purchases[1] == 12000 and month.book_value[2] == pytest.approx(11000)
    year = assets(devices, {"bed": 1.0}, {"bed": True}, Capitalisation(convention="next_year"), MONTHS)
    assert yearly(year.depreciation) == pytest.approx([0, 12000])
    # below the threshold: expensed at once
    cheap = assets(
        _device_frame(800, 45.0, None, "on_rent"), {"bed": 1.0}, {"bed": True}, Capitalisation(), MONTHS
    )
    assert cheap.expensed.sum() == 800 and cheap.depreciation.sum() == 0


def test_scrapping_writes_off_the_book_value_left() -> None:
    # bought in January, 1 000 SEK a month; scrapped in July after six months of depreciation: 6 000 left
    devices = _device_frame(12000, 10.0, 190.0, "scrapped")
    a = assets(devices, {"bed": 1.0}, {"bed": True}, Capitalisation(), MONTHS)
    assert a.depreciation.sum() == pytest.approx(6000) and a.write_offs[6] == pytest.approx(6000)
    assert a.book_value[7] == pytest.approx(0.0)


def test_sold_devices_are_inventory_expensed_when_they_leave_stock() -> None:
    """Goods for resale are expensed in the month they are sold (when the sale is billed), not when bought:
    one bought in January and sold in May, one from the stock at the start sold in March, one still in stock
    at the end (inventory, no cost), one scrapped unsold in August; a cheap rented one is expensed when
    bought."""
    devices = pd.DataFrame(
        {
            "device": [0, 1, 2, 3, 4],
            "purchase_price": [100.0, 200.0, 400.0, 800.0, 50.0],
            "purchased_day": [10.0, -30.0, 20.0, 40.0, 100.0],
            "category": ["aid", "aid", "aid", "aid", "bed"],
            "end_day": [130.0, 70.0, np.nan, 220.0, np.nan],
            "state": ["sold", "sold", "stock_new", "scrapped", "on_rent"],
            "initial": [False, True, False, False, False],
        }
    )
    a = assets(devices, {"aid": 1.0, "bed": 1.0}, {"aid": False, "bed": True}, Capitalisation(), MONTHS)
    expected = np.zeros(len(MONTHS))
    expected[[4, 2, 7, 3]] = [100.0, 200.0, 800.0, 50.0]
    assert a.expensed == pytest.approx(expected)
    assert a.depreciation.sum() == 0 and a.write_offs.sum() == 0 and a.capitalised_purchases.sum() == 0


def test_settlement_rules_by_hand() -> None:
    split = result_split(1000.0, 0.2, {"region": 600.0, "A": 300.0, "B": 100.0}, "region")
    assert split == pytest.approx({"region": 200 + 0.8 * 1000 * 0.6, "A": 240.0, "B": 80.0})
    assert sum(split.values()) == pytest.approx(1000.0)
    repaid = markup_follow_up_repayment(800.0, 500.0, {"A": 3.0, "B": 1.0})
    assert repaid == pytest.approx({"A": 225.0, "B": 75.0})
    assert markup_follow_up_repayment(400.0, 500.0, {"A": 3.0, "B": 1.0}) == {"A": 0.0, "B": 0.0}
    assert markup_follow_up_repayment(
        400.0, 500.0, {"A": 3.0, "B": 1.0}, settle_deficits=True
    ) == pytest.approx({"A": -75.0, "B": -25.0})


def test_summer_substitutes_move_staff_cost_into_the_summer_weeks_not_out_of_the_year() -> None:
    """Each person's 4 weeks of leave in the 6 summer weeks (ISO 27-32) while the DES keeps 0.6 of the
    capacity there: substitutes work 4 - 0.4 x 6 = 1.6 weeks per FTE, s = 1.6 / (52.18 + 1.6) of the year's
    cost, booked by the summer weeks' days (2023: 3 July - 13 August, 29 days in July and 13 in August);
    each year's total is unchanged and administration hires none."""
    scenario = load_scenario(DATA / "tiny_economics.yaml", ["horizon.years=2"])
    route_stops = pd.DataFrame({"date": [], "deliveries": [], "pickup_orders": [], "km": []})
    jobs = pd.DataFrame({"kind": pd.Series([], dtype=str), "created_day": pd.Series([], dtype=float)})

    months = Months.of(date(2023, 1, 1), 731)  # 2023 and 2024 whole

    def staff(econ_: Economics) -> dict[str, np.ndarray]:
        return operating_costs(scenario, econ_, route_stops, jobs, months)

    even = staff(econ())
    summer = staff(econ(costs__summer_substitutes={"leave_weeks": 4.0}))
    s = 1.6 / (365.25 / 7 + 1.6)
    warehouse = 2 * 500000.0  # fte x SEK per year, 2023
    got = summer["cost_staff_warehouse"]
    assert got[0] == pytest.approx(warehouse * (1 - s) / 12)  # January
    assert got[6] == pytest.approx(warehouse * ((1 - s) / 12 + s * 29 / 42))  # July
    assert got[7] == pytest.approx(warehouse * ((1 - s) / 12 + s * 13 / 42))  # August
    assert got[12] == pytest.approx(1.03 * warehouse * (1 - s) / 12)  # January 2024
    for name in ("technicians", "consultants", "warehouse", "drivers", "customer_service", "administration"):
        account = f"cost_staff_{name}"
        for y in (2023, 2024):
            year = months.year_of_month() == y
            assert summer[account][year].sum() == pytest.approx(even[account][year].sum(), rel=1e-12), name
    np.testing.assert_allclose(summer["cost_staff_administration"], even["cost_staff_administration"])
    # at or below the DES's own absence (0.4 x 6 = 2.4 weeks) there are no substitutes: evenly
    for leave in (2.4, 1.0):
        none = staff(econ(costs__summer_substitutes={"leave_weeks": leave}))
        np.testing.assert_allclose(none["cost_staff_warehouse"], even["cost_staff_warehouse"])


def test_summer_leave_beyond_the_summer_weeks_is_rejected() -> None:
    result = hmsim(
        "validate",
        str(DATA / "tiny_economics.yaml"),
        "--set",
        "economics.costs.summer_substitutes.leave_weeks=7",
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "economics.costs.summer_substitutes.leave_weeks: 7.0" in line and "6 summer weeks" in line


def test_norrbotten_q1_2025_repayment_table() -> None:
    """The document's Q1 2025 repayments from its inputs: markup revenue 8 040, markup-financed costs 5 315
    kSEK and each municipality's invoicing share as printed (0.1 % precision). The surplus and its total are
    exact; each municipality is within what the printed share's rounding allows (2 725 x 0.05 % + 0.5 kSEK).
    Exact equality row by row is not possible from the printed table: no set of shares rounds to both printed
    columns (Kalix 214 and Kiruna 236 kSEK imply 7.9 and 8.7 %, printed 7.8 and 8.6 %); docs/economics.md."""
    q1 = {}
    with (ROOT / "calibration" / "observed" / "norrbotten_followup_2025q1.csv").open(
        encoding="utf-8"
    ) as handle:
        rows = list(csv.DictReader(handle))
    values = {r["metric"]: float(r["value"]) for r in rows if r["segment"] == "municipalities"}
    shares = {r["segment"]: float(r["value"]) for r in rows if r["metric"] == "invoiced_share"}
    with (ROOT / "calibration" / "observed" / "norrbotten_repayment_2025q1.csv").open(
        encoding="utf-8"
    ) as handle:
        q1 = {r["segment"]: float(r["value"]) for r in csv.DictReader(handle)}
    repaid = markup_follow_up_repayment(
        values["muni_revenue_markup"], values["muni_cost_markup_functions"], shares
    )
    assert sum(repaid.values()) == pytest.approx(q1.pop("all"))  # 2 725 kSEK
    assert set(repaid) == set(q1)
    bound = (values["muni_revenue_markup"] - values["muni_cost_markup_functions"]) * 0.0005 + 0.5
    for municipality, document in q1.items():
        assert abs(repaid[municipality] - document) <= bound, municipality


@pytest.fixture(scope="module")
def tiny_run() -> tuple[Any, Any]:
    scenario = load_scenario(DATA / "tiny_economics.yaml", ["horizon.years=1.5"])
    return scenario, run(scenario, 3)


@pytest.mark.parametrize("kind", ["depreciation_markup", "rent_factor", "function_rent"])
@pytest.mark.parametrize("settlement", ["markup_follow_up", "result_split", "none"])
def test_money_is_conserved(tiny_run: tuple[Any, Any], kind: str, settlement: str) -> None:
    scenario, output = tiny_run
    data = scenario.model_dump()
    data["economics"]["rent"]["kind"] = kind
    data["economics"]["settlement"]["kind"] = settlement
    s = scenario.model_validate(data)
    ledger = compute(output, s).ledger  # compute() checks money itself; check again explicitly
    check_money(ledger)
    acc, who = ledger["account"].astype(str), ledger["principal"].astype(str)
    paid = ledger.loc[acc.str.startswith("revenue_"), "amount"].sum()
    assert paid == pytest.approx(
        ledger.loc[acc.str.startswith("revenue_") & (who != "centre"), "amount"].sum()
    )
    result = ledger.loc[acc == "result", "amount"].sum()
    assert result == pytest.approx(paid - ledger.loc[acc.str.startswith("cost_"), "amount"].sum())
    if settlement == "result_split":
        assert ledger.loc[acc == "settlement", "amount"].sum() == pytest.approx(result)
    broken = ledger.copy()
    broken.loc[broken.index[acc == "result"][0], "amount"] += 1000.0
    with pytest.raises(MoneyError):
        check_money(broken)


def test_home_care_reform_moves_money_only_between_region_and_municipalities(
    tiny_run: tuple[Any, Any],
) -> None:
    scenario, output = tiny_run
    data = scenario.model_dump()
    data["economics"]["settlement"]["kind"] = "none"
    today = scenario.model_validate(data)
    data["responsibility"]["municipality_pays_home_care"] = True
    reform = scenario.model_validate(data)

    def paid(s: Any) -> pd.Series:
        led = compute(output, s).ledger
        led = led[led["account"].astype(str).str.startswith("revenue_")]
        return led.groupby(led["principal"].astype(str))["amount"].sum()

    before, after = paid(today), paid(reform)
    moved = after.sub(before, fill_value=0.0)
    assert moved.sum() == pytest.approx(0.0, abs=1e-6)
    assert moved["region"] < 0 and (moved.drop("region") >= -1e-6).all() and moved.drop("region").sum() > 0
    # exactly the home-care rentals change payer
    rentals = output["rentals"]
    assert rentals["home_care"].any()


def test_capitalisation_threshold_prospective_and_retroactive_by_hand() -> None:
    """600 SEK/yr of purchases, half below the new threshold; depreciated over 3 years from the purchase year;
    an existing residual of 90 (below) and 30 (above) SEK depreciated 30 + 10 a year."""
    raw: dict[str, Any] = {
        "start_year": 2026,
        "years": 3,
        "cost_base_sek": 1000,
        "capitalised_purchases_sek": 600,
        "depreciation_years": 3,
        "baseline_threshold_sek": 1000,
        "threshold_sek": 5000,
        "bands": [
            {"name": "low", "upper_sek": 1000, "purchase_share": 0.0},
            {
                "name": "mid",
                "upper_sek": 5000,
                "purchase_share": 0.5,
                "residual_schedule_sek": {2026: 30, 2027: 30, 2028: 30},
            },
            {"name": "high", "purchase_share": 0.5, "residual_schedule_sek": {2026: 10, 2027: 10, 2028: 10}},
        ],
        "settlement": {"region_share": 0.2, "device_cost_shares": {"region": 0.75, "A": 0.25}},
    }
    base, study = ledgers(validate_model(Accounts, raw))
    # baseline: depreciation of 600/yr over 3 years: 200, 400, 600, plus the residual 40 a year
    assert base.costs["cost_depreciation"] == pytest.approx([240, 440, 640])
    # new threshold: 300/yr expensed, 300/yr depreciated (100, 200, 300) + residual 40
    assert study.costs["cost_devices_expensed"] == pytest.approx([300, 300, 300])
    assert study.costs["cost_depreciation"] == pytest.approx([140, 240, 340])
    # the centre's deficit = extra cost; settled 20 % region, 80 % by device-cost shares (75/25)
    deficit = 440 - 240
    settle = study.ledger[(study.ledger["account"] == "settlement") & (study.ledger["year"] == 2026)]
    by = settle.set_index("principal")["amount"]
    assert by["region"] == pytest.approx(-deficit * (0.2 + 0.8 * 0.75)) and by["A"] == pytest.approx(
        -deficit * 0.2
    )
    # same total cost plus book value left in both
    total = [sum(v.costs[k].sum() for k in v.costs) + v.book_value_end for v in (base, study)]
    assert total[0] == pytest.approx(total[1])
    # depreciation from mid-year: half a year's share in the purchase year, the last half after the period
    mid, _ = ledgers(validate_model(Accounts, {**raw, "convention": "mid_year"}))
    assert mid.costs["cost_depreciation"] == pytest.approx([100 + 40, 300 + 40, 500 + 40])
    assert sum(mid.costs[k].sum() for k in mid.costs) + mid.book_value_end == pytest.approx(total[0])
    # retroactive: the 90 SEK residual below the new threshold is written off in the first year
    _, retro = ledgers(validate_model(Accounts, {**raw, "method": "retroactive"}))
    assert retro.costs["cost_write_offs"] == pytest.approx([90, 0, 0])
    assert retro.costs["cost_depreciation"] == pytest.approx([110, 210, 310])
    assert sum(retro.costs[k].sum() for k in retro.costs) + retro.book_value_end == pytest.approx(total[0])


def _observed(file: str, period: str) -> dict[str, float]:
    with (ROOT / "calibration" / "observed" / file).open(encoding="utf-8") as handle:
        return {
            (
                r["metric"] if r["segment"] in ("all", "municipalities") else f"{r['metric']}_{r['segment']}"
            ): abs(float(r["value"]))
            for r in csv.DictReader(handle)
            if r["period"] == period
        }


def _ledger_json(run_dir: Path, *args: str) -> dict[str, Any]:
    result = hmsim("ledger", str(run_dir), "--json", *args)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_vastmanland_2023_ledger_reproduces_the_income_statement(vastmanland_run: Path) -> None:
    obs = _observed("vastmanland_hmc_2024_interim.csv", "2023")
    year = _ledger_json(vastmanland_run, "--by", "year")["2023"]
    groups = load_scenario(ROOT / "configs" / "regions" / "vastmanland.yaml").economics.reporting_groups  # type: ignore[union-attr]
    for line in (
        "income_rent",
        "income_sales",
        "cost_staff",
        "cost_depreciation_devices",
        "cost_premises",
        "cost_freight_transport",
    ):
        simulated = sum(year.get(a, 0.0) for a in groups[line]) / 1000
        assert simulated == pytest.approx(obs[line], rel=0.05), line
    costs = sum(v for k, v in year.items() if k.startswith("cost_")) / 1000
    assert costs == pytest.approx(obs["cost_total"], rel=0.05)
    # the reported result 788 kSEK is after repaying 3 152 kSEK of an earlier year's result (income_result_
    # repayment); the simulated 2023 has no earlier year, so it is compared with the result before repayment
    assert year["result"] / 1000 == pytest.approx(obs["result"] + obs["income_result_repayment"], abs=3000)


def test_norrbotten_2024_ledger_reproduces_the_follow_up(norrbotten_run: Path) -> None:
    obs = _observed("norrbotten_followup_2024.csv", "2024")
    ledger = _ledger_json(norrbotten_run, "--from", "2024-01-01", "--to", "2024-12-31", "--by", "principal")
    accounts = _ledger_json(norrbotten_run, "--from", "2024-01-01", "--to", "2024-12-31", "--by", "account")
    groups = load_scenario(ROOT / "configs" / "regions" / "norrbotten.yaml").economics.reporting_groups  # type: ignore[union-attr]
    for line in (
        "cost_base_subscription_functions",
        "cost_warehouse_staff_premises_technicians",
        "cost_transport",
        "cost_work_orders",
    ):
        assert sum(accounts.get(a, 0.0) for a in groups[line]) / 1000 == pytest.approx(obs[line], rel=0.05), (
            line
        )
    munis = [p for p in ledger if p not in ("region", "centre")]
    for account, metric in (("revenue_rent", "revenue_rent"), ("revenue_sales", "revenue_sales")):
        simulated = sum(ledger[m].get(account, 0.0) for m in munis) / 1000
        assert simulated == pytest.approx(obs[metric], rel=0.05), account
    product = ("revenue_rent", "revenue_sales", "revenue_work_orders")
    muni_total = sum(ledger[m].get(a, 0.0) for m in munis for a in product)
    all_total = muni_total + sum(ledger["region"].get(a, 0.0) for a in product)
    assert muni_total / 1000 == pytest.approx(obs["revenue_total"], rel=0.05)
    assert muni_total / all_total == pytest.approx(0.728, abs=0.05)


@pytest.fixture(scope="module")
def norrbotten_more_seeds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The Q1 2025 run of the shipped Norrbotten config with seeds 2-4 (seed 1 is ``norrbotten_run``)."""
    runs = []
    for seed in (2, 3, 4):
        out = tmp_path_factory.mktemp("runs") / f"norrbotten_seed{seed}"
        result = hmsim(
            "run",
            "configs/regions/norrbotten.yaml",
            "--years",
            "1.25",
            "--seed",
            str(seed),
            "--out",
            str(out),
        )
        assert result.returncode == 0, result.stderr
        runs.append(out)
    return runs


def _q1_2025_repayments(runs: list[Path]) -> tuple[np.ndarray, list[dict[str, Any]], dict[str, float]]:
    """Total Q1 2025 repayment per run (kSEK), each run's ledger by municipality, and the document's rows."""
    window = ("--from", "2025-01-01", "--to", "2025-03-31")
    quarters = [_ledger_json(run, "--by", "municipality", *window) for run in runs]
    with (ROOT / "calibration" / "observed" / "norrbotten_repayment_2025q1.csv").open(
        encoding="utf-8"
    ) as handle:
        document = {r["segment"]: float(r["value"]) for r in csv.DictReader(handle)}
    totals = np.array([sum(row["settlement"] for row in q1.values()) / 1000 for q1 in quarters])
    return totals, quarters, document


@pytest.mark.slow
def test_norrbotten_q1_2025_repayment_from_the_models_own_activity(
    norrbotten_run: Path, norrbotten_more_seeds: list[Path]
) -> None:
    """The 2025 price model (a dated change from 2025-01-01) repays the municipalities' markup surplus of Q1
    2025 by their share of invoicing: every seed repays something, each municipality's share of the pooled
    repayment lies within 1.5 pp of its printed share, and from 2025 products are passed through at cost
    (docs/economics.md says how close and why). The total is the next test."""
    totals, quarters, document = _q1_2025_repayments([norrbotten_run, *norrbotten_more_seeds])
    assert totals.min() > 0
    document.pop("all")
    assert all(set(q1) == set(document) for q1 in quarters)
    printed = sum(document.values())
    pooled = {m: sum(q1[m]["settlement"] for q1 in quarters) / 1000 for m in document}
    for municipality, value in document.items():
        share = pooled[municipality] / totals.sum()
        # 1.5 pp: the shares are fitted within 0.3 pp (calibration/norrbotten_payers.yaml) on 3 replications
        # of the whole quarter; one quarter of four seeds moves them by up to about 1 pp
        assert share == pytest.approx(value / printed, abs=0.015), municipality
    # 2024 is priced by the old model (rent follows depreciation with the 2020 markup: a product result);
    # from 2025 products are passed through at cost
    products = _ledger_json(norrbotten_run, "--by", "products")
    assert products["2025"]["product_result"] == pytest.approx(0.0, abs=1.0)
    assert products["2024"]["product_result"] != pytest.approx(0.0, abs=1.0)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="known gap (docs/economics.md, 'The Norrbotten Q1 2025 repayment'): the model's products invoiced "
    "in Q1 2025 are about 18 100 kSEK (its 2024 run rate plus growth) against the document's 19 822 (14.5 % "
    "above the 2024 report) and its markup-financed costs 7 720 against 7 350, so the repayment is about "
    "1 780 (seeds 1-4) against 2 725 kSEK",
)
def test_norrbotten_q1_2025_repayment_total(norrbotten_run: Path, norrbotten_more_seeds: list[Path]) -> None:
    """The mean over four replications covers the document's 2 725 kSEK within its Student-t 95 % interval
    (one quarter's product cost varies with write-offs and purchases of cheap rented devices). Strict: when
    the model reaches the document this test fails as XPASS and the marker must go."""
    totals, _, document = _q1_2025_repayments([norrbotten_run, *norrbotten_more_seeds])
    half_width = stats.t.ppf(0.975, len(totals) - 1) * totals.std(ddof=1) / np.sqrt(len(totals))
    assert abs(totals.mean() - document["all"]) <= half_width, (totals, half_width)


def test_zero_price_share_and_product_result_are_reported(norrbotten_run: Path) -> None:
    products = _ledger_json(norrbotten_run, "--by", "products")
    for year in ("2024", "2025"):
        row = products[year]
        assert 0.2 < row["zero_price_share"] < 0.8 and 0 < row["zero_price_share_municipal"] < 1
        assert row["product_result"] == pytest.approx(row["product_revenue"] - row["product_cost"])
    # a residual rent for fully depreciated devices raises product revenue by exactly its fee x those days
    fixed = _ledger_json(
        norrbotten_run,
        "--by",
        "products",
        "--set",
        "economics.rent.residual_rent_sek_per_month=30.4375",
        "--diff",
    )
    gain = fixed["2024"]["product_revenue"]
    assert gain > 0 and fixed["2024"]["product_cost"] == pytest.approx(0.0)


def test_a_dated_threshold_reprices_a_finished_run(vastmanland_run: Path) -> None:
    """The capitalisation threshold as a dated change of a Västmanland run, re-priced without simulating:
    purchases from July below the new threshold are expensed, and the centre's deficit is settled 20/80."""
    change = (
        "changes=[{from: 2023-07-01, set: {economics.capitalisation.threshold_sek: 29400, "
        "economics.capitalisation.method: retroactive}}]"
    )
    diff = _ledger_json(vastmanland_run, "--by", "account", "--set", change, "--diff")
    assert diff["cost_devices_expensed"] > 0 and diff["cost_write_offs"] > 0
    before = _ledger_json(vastmanland_run, "--by", "account", "--to", "2023-06-30", "--set", change, "--diff")
    assert all(abs(v) < 1e-6 for v in before.values())


def test_ledger_command_errors(vastmanland_run: Path, tmp_path: Path) -> None:
    for args, fragment in (
        (["--set", "horizon.years=2"], "only economics.*"),
        (
            ["--set", "changes=[{from: 2023-07-01, set: {depots.Västerås.consultants.count: 12}}]"],
            "change the simulation",
        ),
        (["--diff"], "give at least one --set"),
        (["--from", "2040-01-01"], "no ledger month in the window"),
    ):
        result = hmsim("ledger", str(vastmanland_run), *args)
        assert result.returncode == 2 and fragment in result.stderr and "Traceback" not in result.stderr


def test_accounts_command_runs_the_shipped_example(tmp_path: Path) -> None:
    result = hmsim(
        "accounts", "configs/accounts/vastmanland_threshold.yaml", "--json", "--out", str(tmp_path / "a")
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data["years"]) == {str(y) for y in range(2026, 2034)}
    assert data["years"]["2026"]["cost_difference"] > 0  # expensing moves cost into the first years
    assert abs(data["totals"]["cost_plus_book_value_difference"]) < 1.0
    assert (tmp_path / "a" / "ledger_threshold.parquet").exists()
    bad = hmsim("accounts", "configs/accounts/vastmanland_threshold.yaml", "--set", "threshold_sek=5000")
    assert bad.returncode == 2 and "must be 0 or one of the bands' upper_sek" in bad.stderr


def test_book_value_per_device_adds_up(tiny_run: tuple[Any, Any]) -> None:
    scenario, output = tiny_run
    economy = compute(output, scenario)
    devices = output["devices"]
    years = {c: s.depreciation_years for c, s in scenario.categories.items()}
    flows = assets(
        devices,
        years,
        {c: s.rented for c, s in scenario.categories.items()},
        scenario.economics.capitalisation,
        Months.of(output.start_date, output.days),
    )
    end = (
        flows.book_value[-1] + flows.capitalised_purchases[-1] - flows.depreciation[-1] - flows.write_offs[-1]
    )
    assert economy.assets["book_value_end"].sum() == pytest.approx(end, rel=1e-9)
    assert (economy.assets["book_value_end"] >= -1e-6).all()
    assert economy.assets.loc[~economy.assets["capitalised"], "book_value_end"].eq(0).all()


def test_accounts_take_the_review_inputs_as_stated() -> None:
    """The residual as the review states it (90 MSEK, 28 of them in 2026, through 2033) becomes a schedule
    declining linearly after the first year; total costs minus the depreciation in them are the cost base."""
    from sim.config.accounts import Residual

    schedule = Residual(total_sek=90.0, first_year_sek=28.0, through_year=2033).schedule(2026)
    assert schedule[2026] == pytest.approx(28.0) and sum(schedule.values()) == pytest.approx(90.0)
    assert schedule[2027] == pytest.approx(62.0 * 7 / 28) and schedule[2033] == pytest.approx(62.0 / 28)
    even = Residual(total_sek=36.0, through_year=2033).schedule(2026)
    assert even[2026] == pytest.approx(8.0) and even[2033] == pytest.approx(1.0)
    raw: dict[str, Any] = {
        "start_year": 2026,
        "years": 2,
        "total_cost_sek": 1000,
        "depreciation_in_total_sek": 200,
        "capitalised_purchases_sek": 0,
        "depreciation_years": 3,
        "baseline_threshold_sek": 1000,
        "threshold_sek": 1000,
        "bands": [
            {"name": "low", "upper_sek": 1000, "purchase_share": 0.0},
            {"name": "all", "purchase_share": 1.0},
        ],
        "settlement": {"device_cost_shares": {"region": 1.0}},
    }
    assert validate_model(Accounts, raw).cost_base == pytest.approx(800)
    from sim.errors import ConfigError

    with pytest.raises(ConfigError):
        validate_model(Accounts, {**raw, "cost_base_sek": 800})
