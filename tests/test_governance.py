"""Governance presets: timing from the decision date, validation, money conserved per principal and per
operator, nothing changes before the effective date (common random numbers), the compare table."""

from __future__ import annotations

import copy
import io
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import hmsim

from sim.config import build_scenario, load_raw, load_scenario
from sim.economics import MoneyError, check_money, compute
from sim.economics.views import aggregate
from sim.errors import ConfigError
from sim.governance import OPTIONS, effective_date
from sim.model import run

DATA = Path(__file__).resolve().parent / "data"
DECIDED = "2023-01-16"
EFFECTIVE = pd.Timestamp("2024-01-01")


def test_the_effective_date_follows_the_nine_month_notice() -> None:
    assert effective_date(date(2026, 3, 31)) == date(2027, 1, 1)
    assert effective_date(date(2026, 4, 1)) == date(2028, 1, 1)
    assert effective_date(date(2026, 1, 10)) == date(2027, 1, 1)
    # a lead time longer than the notice pushes to the next year end
    assert effective_date(date(2026, 3, 31), lead_months=12) == date(2028, 1, 1)
    assert effective_date(date(2026, 3, 31), lead_months=6) == date(2027, 1, 1)


def test_every_option_and_parameter_cites_a_source_and_has_a_range() -> None:
    assert set(OPTIONS) == {
        "today",
        "joint_committee",
        "municipal_federation",
        "contract_cooperation",
        "joint_company",
        "limited_cooperation",
        "outsourcing",
    }
    for option in OPTIONS.values():
        for name, p in option.parameters.items():
            assert p.low <= p.value <= p.high, name
            assert "norrbotten_supply_review_2020.txt" in p.source or p.source.startswith("assumption:"), name


def _load(option: str, *extra: str) -> Any:
    return load_scenario(
        DATA / "tiny_economics.yaml",
        ["horizon.years=2", f"governance={{option: {option}, decided: {DECIDED}}}", *extra],
    )


def test_bad_governance_choices_are_rejected_in_one_line_each() -> None:
    with pytest.raises(ConfigError) as info:
        _load("anarchy")
    assert "governance.option" in info.value.problems[0] and "joint_committee" in info.value.problems[0]
    with pytest.raises(ConfigError) as info:
        _load(
            "limited_cooperation", "governance.parameters.setup_months=30", "governance.parameters.colour=1"
        )
    text = "\n".join(info.value.problems)
    assert "setup_months: 30:" in text and "[9, 18]" in text and "colour: not a parameter" in text
    with pytest.raises(ConfigError) as info:
        load_scenario(DATA / "tiny_economics.yaml", ["governance={option: outsourcing, decided: 2023-06-01}"])
    assert "outside the horizon" in info.value.problems[0]


@pytest.fixture(scope="module")
def runs() -> dict[str, tuple[Any, Any, Any]]:
    out = {}
    for option in OPTIONS:
        scenario = _load(option)
        output = run(scenario, 7)
        out[option] = (scenario, output, compute(output, scenario).ledger)
    return out


def _rows(ledger: pd.DataFrame, account: str, principal: str | None = None) -> pd.DataFrame:
    sel = ledger["account"].astype(str) == account
    if principal is not None:
        sel &= ledger["principal"].astype(str) == principal
    return ledger[sel]


def test_money_is_conserved_per_principal_and_per_operator(runs: dict[str, tuple[Any, Any, Any]]) -> None:
    for option, (_, _, ledger) in runs.items():
        check_money(ledger)  # the whole ledger and each operator over its months
        view = aggregate(ledger, "principal")
        centre = view.pop("centre")
        operators = [p for p in ("federation", "company", "contractor") if p in view]
        for p in operators:
            view.pop(p)
        paid = sum(v["paid"] - v["settlement"] for v in view.values())
        assert paid == pytest.approx(centre["costs"] + centre["kept"], rel=1e-9), option
        expected_operator = OPTIONS[option].operator
        result = _rows(ledger, "result")
        before = result[result["period"] < EFFECTIVE]["principal"].astype(str)
        after = result[result["period"] >= EFFECTIVE]["principal"].astype(str)
        assert set(before) == {"centre"} and set(after) == {expected_operator}, option
        if expected_operator != "centre":  # the entity settles its whole result with its members yearly
            year = _rows(ledger, "result", expected_operator)["amount"].sum()
            settled = _rows(ledger, "settled", expected_operator)["amount"].sum()
            assert settled == pytest.approx(year, rel=1e-9, abs=1.0), option


def test_administration_costs_fall_on_who_the_review_says(runs: dict[str, tuple[Any, Any, Any]]) -> None:
    ledger = runs["joint_committee"][2]
    admin = _rows(ledger, "admin_yearly")
    assert admin["period"].min() >= EFFECTIVE
    by = admin.groupby(admin["principal"].astype(str))["amount"].sum()
    p = OPTIONS["joint_committee"].parameters
    region = p["region_fees_sek_per_year"].value + 0.3 * p["secretary_sek_per_year"].value
    munis = p["municipal_fees_sek_per_year"].value + 0.7 * p["secretary_sek_per_year"].value
    assert by["region"] == pytest.approx(region)  # one year in force (2024)
    assert by.drop("region").sum() == pytest.approx(munis)
    assert by["Town"] > 0 and by["Village"] > 0
    # the federation bears its costs itself (cost_governance) and charges its members through settlement
    fed = runs["municipal_federation"][2]
    assert _rows(fed, "admin_yearly").empty
    gov = _rows(fed, "cost_governance", "federation")["amount"].sum()
    fp = OPTIONS["municipal_federation"].parameters
    assert gov == pytest.approx(sum(fp[k].value for k in fp if k.endswith("_sek_per_year")))
    # the contract option's legal support is one-off, paid by the region
    one_off = _rows(runs["contract_cooperation"][2], "admin_one_off")
    assert set(one_off["principal"].astype(str)) == {"region"}
    assert one_off["amount"].sum() == pytest.approx(250_000)
    # a joint company pays corporate tax on a positive yearly result only
    tax = _rows(runs["joint_company"][2], "cost_tax")
    assert (tax["amount"] >= 0).all() and (tax["period"] >= EFFECTIVE).all()


def test_nothing_changes_before_the_effective_date(runs: dict[str, tuple[Any, Any, Any]]) -> None:
    """Paired with today (same seed): every ledger row and every delivery before the effective date is
    identical (the paired difference is exactly 0); the options differ after it."""
    today = runs["today"]
    early = today[2][today[2]["period"] < EFFECTIVE].reset_index(drop=True)
    split = (EFFECTIVE.date() - date(2023, 1, 1)).days
    deliveries = today[1]["deliveries"]
    for _, output, ledger in runs.values():
        mine = ledger[ledger["period"] < EFFECTIVE].reset_index(drop=True)
        pd.testing.assert_frame_equal(
            mine.astype({"principal": str, "account": str, "operator": str}),
            early.astype({"principal": str, "account": str, "operator": str}),
        )
        d = output["deliveries"]
        pd.testing.assert_frame_equal(
            d[d["delivered_day"] < split].reset_index(drop=True),
            deliveries[deliveries["delivered_day"] < split].reset_index(drop=True),
        )
    # limited cooperation: more staff, more route days, extra orders (device swaps) after the split
    limited = runs["limited_cooperation"][1]
    stops = [r[1]["route_stops"] for r in (today, runs["limited_cooperation"])]
    after = [len(s[pd.to_datetime(s["date"]) >= EFFECTIVE]) for s in stops]
    assert after[1] > after[0]
    assert len(limited["rentals"]) != len(today[1]["rentals"])


def test_compare_prints_one_table_with_paired_differences(tmp_path: Path) -> None:
    experiment = tmp_path / "gov.yaml"
    experiment.write_text(
        f"name: gov\nbase: {DATA / 'tiny_economics.yaml'}\nyears: 2\nreplications: 2\nseed: 3\n"
        "keep_tables: [kpis, ledger, depot_timeseries, route_stops]\n"
        "scenarios:\n  today: {}\n"
        f"  federation: {{governance: {{option: municipal_federation, decided: {DECIDED}}}}}\n",
        encoding="utf-8",
    )
    out = tmp_path / "results"
    result = hmsim("batch", str(experiment), "--workers", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    shown = hmsim("compare", str(out), "--baseline", "today")
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    for fragment in (
        "net_cost.region",
        "net_cost.Town",
        "kept_result.federation",
        "admin.yearly_borne_by_operator",
        "kpi_transition_year.delivery_on_planned_day",
        "transport.km_per_year",
        "stock.mean_units",
    ):
        assert fragment in text, fragment
    records = pd.read_json(io.StringIO(hmsim("compare", str(out), "--json").stdout))
    base = records[records["scenario"] == "today"]
    assert (base["diff"].dropna().abs() < 1e-9).all()  # today paired with itself
    fed = records[records["scenario"] == "federation"].set_index("metric")
    assert fed.loc["admin.yearly_borne_by_operator", "diff"] > 0
    assert fed.loc["kpi_transition_year.delivery_on_planned_day", "n"] == 2
    bad = hmsim("compare", str(out), "--baseline", "nowhere")
    assert bad.returncode == 2 and "not a scenario" in bad.stderr


def _served_by(output: Any, split_day: float) -> pd.DataFrame:
    """Rentals with ``after`` (ordered on or after the split) and ``muni`` (the municipality pays)."""
    r = output["rentals"]
    ordered = output["deliveries"].drop_duplicates("order").set_index("order")["order_day"]
    day = r["order"].map(ordered).where(r["order"] >= 0, -1.0)
    return r.assign(after=day >= split_day, muni=r["payer"].astype(str) != "region")


def test_limited_cooperation_moves_the_municipalities_patients_to_their_own_depot(
    runs: dict[str, tuple[Any, Any, Any]],
) -> None:
    """From the split the patients the municipalities pay for are served from their own depot (its staff,
    vehicles, stock); the region's depot keeps its own patients; rentals in progress transfer or run off."""
    scenario, output, _ = runs["limited_cooperation"]
    assert list(scenario.depots) == ["Depot", "Kommunerna"]
    moved = [c.start for c in scenario.changes if any(k.endswith(".municipal_depot") for k in c.set)]
    assert moved == [date(2024, 2, 1)]  # decided 2023-01-16 + 12 months' set-up, the first of the next month
    split = (moved[0] - date(2023, 1, 1)).days
    SPLIT = pd.Timestamp(moved[0])
    r = _served_by(output, split)
    new = r[r["after"] & ~r["initial"]]
    assert (new.loc[new["muni"], "depot"] == "Kommunerna").all() and new["muni"].sum() > 20
    assert (new.loc[~new["muni"], "depot"] == "Depot").all()
    assert (r.loc[~r["muni"], "depot"] == "Depot").all()
    jobs = output["jobs"]
    own = jobs[jobs["depot"].astype(str) == "Kommunerna"]
    assert len(own) > 10 and (own["created_day"] >= split).all()
    stops = output["route_stops"]
    theirs = stops[stops["route"].astype(str).str.endswith("_kommunerna")]
    assert len(theirs) > 10 and (pd.to_datetime(theirs["date"]) >= SPLIT).all()
    staff = output["staff"]
    hours = staff[staff["depot"].astype(str) == "Kommunerna"]
    early = pd.to_datetime(hours["date"]) < SPLIT
    assert (hours.loc[early, "available_hours"] == 0).all() and hours.loc[~early, "available_hours"].sum() > 0
    # rentals of municipal patients in progress at the split: transferred (default) or run off
    ongoing = r[(r["start_day"] < split) & r["muni"] & (r["end_day"] > split)]
    assert (ongoing["depot"] == "Kommunerna").all() and len(ongoing) > 10
    run_off = run(_load("limited_cooperation", "governance.rentals=run_off"), 7)
    stay = _served_by(run_off, split)
    stay = stay[(stay["start_day"] < split) & stay["muni"] & (stay["end_day"] > split)]
    assert (stay["depot"] == "Depot").all() and len(stay) == len(ongoing)
    with pytest.raises(ConfigError) as info:  # no new operator, no depot change: nothing runs off
        _load("joint_committee", "governance.rentals=run_off")
    assert "governance.rentals: 'run_off'" in info.value.problems[0]


def test_a_route_from_another_depot_must_wait_with_no_vehicles() -> None:
    raw = load_raw(DATA / "tiny_economics.yaml")
    raw["depots"]["Other"] = copy.deepcopy(raw["depots"]["Depot"])
    raw["transport"]["routes"]["other"] = {**raw["transport"]["routes"]["town"], "depot": "Other"}
    with pytest.raises(ConfigError) as info:
        build_scenario(copy.deepcopy(raw))
    assert (
        "transport.routes.other.municipalities.0: 'Town': belongs to depot 'Depot'" in info.value.problems[0]
    )
    raw["transport"]["routes"]["other"]["vehicles"] = 0  # prepared for a dated change: accepted
    build_scenario(copy.deepcopy(raw))
    raw["municipalities"]["Village"]["municipal_depot"] = "Other"  # no route serves Village from Other
    with pytest.raises(ConfigError) as info:
        build_scenario(raw)
    assert (
        "municipalities.Village.municipal_depot: 'Other': no transport.routes entry" in info.value.problems[0]
    )


def test_limited_cooperation_gives_each_organisation_the_vehicles_for_its_share() -> None:
    """After the split each organisation runs whole vehicles on its own timetable, so a route's fleet split
    by the municipalities' share of the work is rounded up on both sides: neither side may carry its share
    of today's volume with less than that share of today's vehicles (Norrbotten's east route has 2: 1 + 1
    left the municipalities' 70 % with half the capacity: deliveries 0.1-0.2 on the planned day)."""
    root = Path(__file__).resolve().parents[1]
    config = root / "configs" / "regions" / "norrbotten.yaml"
    base = load_scenario(config)
    scenario = load_scenario(config, ["governance={option: limited_cooperation, decided: 2025-03-31}"])
    share = 0.7  # municipal_work_share, norrbotten_supply_review_2020.txt (docs/governance.md)
    final: dict[str, int] = {}
    for change in scenario.changes:
        for key, value in change.set.items():
            if key.startswith("transport.routes.") and key.endswith(".vehicles"):
                final[key.split(".")[2]] = int(value)
    for name, route in base.transport.routes.items():
        region, municipal = final[name], final[f"{name}_kommunerna"]
        assert municipal >= share * route.vehicles and region >= (1 - share) * route.vehicles, name
        assert region + municipal <= route.vehicles + 2, name  # rounding up, not more


OPERATOR_OPTIONS = ("municipal_federation", "joint_company", "outsourcing")


@pytest.fixture(scope="module")
def run_offs(runs: dict[str, tuple[Any, Any, Any]]) -> dict[str, tuple[Any, Any]]:
    """The operator changes with rentals running off, priced from the same simulation as their transfer
    runs (the flow is the same: only who books the money differs)."""
    out = {}
    for option in OPERATOR_OPTIONS:
        scenario = _load(option, "governance.rentals=run_off")
        out[option] = (scenario, compute(runs[option][1], scenario).ledger)
    return out


def _by(ledger: pd.DataFrame, *columns: str) -> pd.Series:
    keys = [ledger[c].astype(str) for c in columns]
    return ledger.groupby(keys)["amount"].sum()


def test_rentals_in_progress_run_off_with_the_old_operator(
    runs: dict[str, tuple[Any, Any, Any]], run_offs: dict[str, tuple[Any, Any]]
) -> None:
    """With run_off the centre keeps the rentals in progress on the effective date (their rent, work
    orders, pickups, reconditioning and devices) in its own books after the date, the new operator gets
    every new rental and everything else; with transfer the centre has nothing after the date. Before the
    date the two ledgers are identical (paired difference exactly 0); in total the same activity is priced
    the same, only booked to another operator; money is conserved per operator."""
    rentals = runs["municipal_federation"][1]["rentals"]
    split = (EFFECTIVE.date() - date(2023, 1, 1)).days
    in_progress = rentals[(rentals["start_day"] < split) & (rentals["end_day"] > split)]
    assert len(in_progress) > 20
    for option, (_, ledger) in run_offs.items():
        check_money(ledger)
        transfer = runs[option][2]
        new = OPTIONS[option].operator
        as_text = {"principal": str, "account": str, "operator": str}
        pd.testing.assert_frame_equal(
            ledger[ledger["period"] < EFFECTIVE].reset_index(drop=True).astype(as_text),
            transfer[transfer["period"] < EFFECTIVE].reset_index(drop=True).astype(as_text),
        )
        after = ledger[ledger["period"] >= EFFECTIVE]
        kept = after[after["operator"].astype(str) == "centre"]
        assert set(transfer.loc[transfer["period"] >= EFFECTIVE, "operator"].astype(str)) == {new}, option
        accounts = set(kept["account"].astype(str))
        assert {"revenue_rent", "revenue_rent_markup", "cost_depreciation", "result"} <= accounts, option
        # only what follows the rentals: no sales, subscriptions, staff, premises or administration
        assert not accounts & {"revenue_sales", "revenue_base_subscription", "revenue_other"}, option
        assert not any(
            a.startswith(("cost_staff", "cost_premises", "cost_it", "cost_governance")) for a in accounts
        )
        assert set(
            kept.loc[kept["account"].astype(str).str.startswith("cost_"), "principal"].astype(str)
        ) == {"centre"}
        # the run-off shrinks as the rentals end: its first month's rent is its largest
        rent = kept[kept["account"].astype(str) == "revenue_rent"].groupby("period")["amount"].sum()
        assert rent.iloc[0] == pytest.approx(rent.max()) and rent.iloc[-1] < rent.iloc[0], option
        # the same activity priced the same way, whoever books it (tax and settlement follow the books)
        totals, base = _by(ledger, "account"), _by(transfer, "account")
        for account in base.index:
            if account.startswith(("revenue_", "cost_")) and account != "cost_tax":
                assert totals.get(account, 0.0) == pytest.approx(base[account], rel=1e-9, abs=1e-3), (
                    option,
                    account,
                )
        moved = _by(after[after["account"].astype(str) == "revenue_rent"], "operator")
        assert moved["centre"] > 0.2 * moved.sum(), option  # most devices on rent were rented before


def test_money_checks_catch_revenue_booked_to_the_wrong_operator(
    run_offs: dict[str, tuple[Any, Any]],
) -> None:
    """The per-operator balance fails if a run-off rent row is moved to the new operator."""
    ledger = run_offs["municipal_federation"][1].copy()
    acc, op = ledger["account"].astype(str), ledger["operator"].astype(str)
    row = ledger.index[(acc == "revenue_rent") & (op == "centre") & (ledger["period"] >= EFFECTIVE)][0]
    ledger.loc[row, "operator"] = "federation"
    with pytest.raises(MoneyError):
        check_money(ledger)
