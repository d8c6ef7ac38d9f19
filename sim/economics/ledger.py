"""The ledger: period x principal x account x amount (SEK), from a run's activity and the economics config.

Rows and signs (amounts are SEK; see docs/economics.md):

- ``revenue_*``: paid by ``principal`` (the region or a municipality) to the centre;
- ``cost_*``: the centre's costs (principal ``centre``);
- ``result``: the centre's revenue minus costs per month (principal ``centre``);
- ``settlement``: paid back by the centre to ``principal`` (negative: charged) at a settlement period's end;
- ``settled``: the total settled at that period's end (principal ``centre``).

Money is conserved and checked on every ledger: what the principals pay is the centre's revenue; the
result is revenue minus costs; the settlement rows sum to the amount settled; so the principals' net
payments equal the centre's costs plus the result it keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from sim.config.changes import State, states
from sim.config.schema import Responsibility, Scenario
from sim.economics import runoff
from sim.economics.assets import Assets, assets, per_category
from sim.economics.costs import month_share, operating_costs, staff_table
from sim.economics.periods import Months, integrate_by_group
from sim.economics.revenue import DAYS_PER_YEAR, base_subscription, device_values, rent, sales, services
from sim.economics.settlement import DEVICE_ACCOUNTS, settle
from sim.output import RunOutput
from sim.responsibility import REGION, payer_column

CENTRE = "centre"
REVENUE_ACCOUNTS = (
    "revenue_rent",
    "revenue_rent_markup",
    "revenue_function_rent",
    "revenue_sales",
    "revenue_sales_markup",
    "revenue_base_subscription",
    "revenue_work_orders",
    "revenue_installations",
    "revenue_transport",
    "revenue_other",
)
COST_ACCOUNTS = (
    "cost_staff_technicians",
    "cost_staff_consultants",
    "cost_staff_warehouse",
    "cost_staff_drivers",
    "cost_staff_customer_service",
    "cost_staff_administration",
    "cost_premises",
    "cost_transport",
    "cost_it",
    "cost_other",
    "cost_governance",
    "cost_external_work",
    "cost_devices_expensed",
    "cost_depreciation",
    "cost_spare_parts",
    "cost_write_offs",
    "cost_financial",
    "cost_tax",
)
ADMIN_ACCOUNTS = ("admin_yearly", "admin_one_off")
PRODUCT_REVENUE = ("revenue_rent", "revenue_function_rent", "revenue_sales")
PRODUCT_COST = (
    "cost_devices_expensed",
    "cost_depreciation",
    "cost_spare_parts",
    "cost_write_offs",
    "cost_financial",
)


# the columns of the run's tables the economics reads (only these are read back: sim.output.Tables.columns)
PATIENT_COLUMNS = [
    "municipality", "responsibility_class", "child", "special_housing", "home_care", "unit_device",
    "unit_municipal",
]  # fmt: skip
READ_COLUMNS = {
    "devices": ["device", "category", "purchase_price", "purchased_day", "initial", "state", "end_day"],
    "jobs": ["kind", "rental", "created_day"],
    "rentals": ["rental", "device", "category", "start_day", "end_day", "returned", *PATIENT_COLUMNS],
    "deliveries": ["device", "kind", "delivered_day", *PATIENT_COLUMNS],
}


DELIVERY_KINDS = [
    "rent",
    "sale",
]  # of the deliveries table (sim.model.collect); the economics reads "sale" only


def _with_payers(
    output: RunOutput, name: str, rules: list[Responsibility], principals: list[str]
) -> pd.DataFrame:
    """The columns of table ``name`` the economics reads (``READ_COLUMNS``), a chunk at a time, with each
    row's payer under each of ``rules`` (``payer_0``, ``payer_1``, ...: :func:`payer_column`, as a
    categorical over ``principals``) in place of the patient attributes it is derived from; a delivery's
    ``kind`` as a categorical too. The same values as the whole columns, held in a few bytes a row."""
    keep = [c for c in READ_COLUMNS[name] if c not in PATIENT_COLUMNS]
    parts = []
    for chunk in output.chunks(name, READ_COLUMNS[name]):
        part = chunk[keep].copy()
        for i, rule in enumerate(rules):
            part[f"payer_{i}"] = pd.Categorical(payer_column(rule, chunk).to_numpy(), categories=principals)
        if "kind" in part:
            part["kind"] = pd.Categorical(part["kind"], categories=DELIVERY_KINDS)
        parts.append(part)
        del chunk
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


class MoneyError(RuntimeError):
    """The ledger does not balance: a bug, not a user error."""


@dataclass
class Economy:
    ledger: pd.DataFrame
    products: pd.DataFrame
    staff: pd.DataFrame
    assets: pd.DataFrame


def principals_of(output: RunOutput) -> list[str]:
    return [REGION, *output.meta["municipalities"]]


def compute(output: RunOutput, scenario: Scenario) -> Economy:
    """The ledger and its companion tables for ``output`` under ``scenario``'s economics and rules.

    With dated changes every month is priced by the state of the scenario in force in that month (costs,
    revenue and payers per state, spliced by month); capitalisation follows the threshold in force on each
    purchase day, and each settlement period the rule in force then (see :mod:`sim.config.changes`).
    """
    if scenario.economics is None:
        raise ValueError("the scenario has no economics section")
    months = Months.of(output.start_date, output.days)
    principals = principals_of(output)
    index = {p: i for i, p in enumerate(principals)}
    cats = scenario.categories
    years = {c: spec.depreciation_years for c, spec in cats.items()}
    devices, jobs = (
        output.columns("devices", READ_COLUMNS["devices"]),
        output.columns("jobs", READ_COLUMNS["jobs"]),
    )
    found = [s for s in states(scenario) if s.scenario.economics is not None]
    if len(found) != len(states(scenario)):
        raise ValueError("a dated change cannot remove the economics section")
    month_state = _month_states(found, months)
    base = found[0].scenario.economics
    assert base is not None
    cap_changes = [
        ((st.start - output.start_date).days, st.scenario.economics.capitalisation)
        for st in found[1:]
        if st.scenario.economics.capitalisation != found[0].scenario.economics.capitalisation
    ]
    rented = {c: spec.rented for c, spec in cats.items()}
    schedule = partial(assets, devices, years, rented, base.capitalisation, months, cap_changes)
    a = schedule()

    costs_by: list[dict[str, np.ndarray]] = []
    for st in found:
        econ = st.scenario.economics
        c = operating_costs(st.scenario, econ, output["route_stops"], jobs, months)
        c["cost_devices_expensed"] = a.expensed
        c["cost_depreciation"] = a.depreciation
        c["cost_write_offs"] = a.write_offs
        c["cost_financial"] = a.book_value * econ.costs.interest_rate / 12
        costs_by.append(c)
    costs = {k: _splice([c[k] for c in costs_by], month_state) for k in costs_by[0]}
    costs["cost_tax"] = np.zeros(len(months))

    # rentals that run off with an old operator form their own books (sim/economics/runoff.py)
    operators = [found[i].scenario.economics.operator for i in month_state]
    modes = [found[i].scenario.economics.rentals_on_operator_change for i in month_state]
    hand = runoff.handovers(operators, modes, month_state, months)
    # each row's payer under each state's rules, derived a chunk at a time from the patient attributes
    # (which are then not kept: a categorical byte per row and rule instead of seven columns)
    payer_rules: list[Responsibility] = []
    payer_of: list[str] = []
    for st in found:
        if st.scenario.responsibility not in payer_rules:
            payer_rules.append(st.scenario.responsibility)
        payer_of.append(f"payer_{payer_rules.index(st.scenario.responsibility)}")
    all_rentals = _with_payers(output, "rentals", payer_rules, principals)
    owner = runoff.owners(all_rentals, hand)
    splits: list[runoff.Split] = []
    rest_rentals, rest_jobs = all_rentals, jobs
    for h, ho in enumerate(hand):
        book, rest_rentals, rest_jobs = runoff.split(rest_rentals, rest_jobs, owner, h, ho, output.days)
        splits.append(book)
    run_costs: list[dict[str, np.ndarray]] = []
    for book in splits:
        by_state = [
            runoff.costs(book, st.scenario.economics, output["route_stops"], devices, a, months)
            for st in found
        ]
        c = {k: _splice([b[k] for b in by_state], month_state) for k in by_state[0]}
        c = {k: c.get(k, np.zeros(len(months))) for k in COST_ACCOUNTS}
        run_costs.append(c)
        for k, v in c.items():
            costs[k] = costs[k] - v
    product_cost = sum((costs[k] for k in PRODUCT_COST), np.zeros(len(months)))
    # the per-device schedule (about 50 bytes a device) is not held through the revenue below, whose
    # temporaries over all rentals make the peak: only its monthly totals are; it is rebuilt (the same
    # arrays: same inputs, same arithmetic) for the asset table once the rentals are let go
    book_value, capitalised_purchases = a.book_value, a.capitalised_purchases
    del a

    revenue_by: list[dict[str, np.ndarray]] = []
    run_revenue_by: list[list[dict[str, np.ndarray]]] = [[] for _ in hand]
    all_deliveries = _with_payers(output, "deliveries", payer_rules, principals)
    no_deliveries = all_deliveries.iloc[:0].copy()
    no_deliveries["payer"] = no_deliveries[payer_of[0]]
    for i, st in enumerate(found):
        econ = st.scenario.economics
        # shallow copies: only the payer column is new (copy on write keeps the others shared)
        rentals = rest_rentals.copy(deep=False)
        rentals["payer"] = rentals[payer_of[i]]  # the state's rules
        deliveries = all_deliveries.copy(deep=False)
        deliveries["payer"] = deliveries[payer_of[i]]
        sold = sales(deliveries, devices, econ.sale_markup, index, months)
        revenue = rent(rentals, devices, econ, years, index, months, product_cost, sold["revenue_sales"])
        for account, values in sold.items():
            revenue[account] = revenue.get(account, 0) + values
        revenue["revenue_base_subscription"] = base_subscription(st.scenario, econ, index, months)
        revenue.update(services(rest_jobs, rentals, deliveries, econ, index, months))
        other = np.zeros((len(principals), len(months)))
        other[index[REGION]] = (
            econ.other_revenue_sek_per_year
            / 12
            * np.minimum(np.diff(months.bounds) / (DAYS_PER_YEAR / 12), 1.0)
        )
        revenue["revenue_other"] = other
        revenue_by.append(revenue)
        for h, book in enumerate(splits):
            theirs = book.rentals.copy(deep=False)
            theirs["payer"] = theirs[payer_of[i]]
            own_cost = sum((run_costs[h][k] for k in PRODUCT_COST), np.zeros(len(months)))
            r = rent(theirs, devices, econ, years, index, months, own_cost, None)
            r.update(services(book.jobs, theirs, no_deliveries, econ, index, months))
            run_revenue_by[h].append(r)
    zero = np.zeros((len(principals), len(months)))
    accounts = list(dict.fromkeys(k for r in revenue_by for k in r))
    revenue = {k: _splice([r.get(k, zero) for r in revenue_by], month_state) for k in accounts}
    run_revenue = [
        {
            k: _splice([r.get(k, zero) for r in by], month_state)
            for k in dict.fromkeys(k for r in by for k in r)
        }
        for by in run_revenue_by
    ]
    total_revenue = {
        k: revenue.get(k, zero) + sum((r.get(k, zero) for r in run_revenue), zero)
        for k in dict.fromkeys([*revenue, *(k for r in run_revenue for k in r)])
    }
    admin = admin_costs(found, month_state, total_revenue, principals, months, costs)
    costs["cost_tax"] = corporate_tax(found, month_state, revenue, costs, months)
    rules = [found[i].scenario.economics.settlement for i in month_state]
    settlement, settled = settle(rules, revenue, costs, principals, REGION, months)
    books = [Book(revenue, costs, settlement, settled, list(operators))]
    for h, ho in enumerate(hand):
        old = [ho.old_state] * len(months)
        c = run_costs[h]
        c["cost_tax"] = corporate_tax(found, old, run_revenue[h], c, months)
        s_rows, s_total = settle(
            [found[ho.old_state].scenario.economics.settlement] * len(months),
            run_revenue[h],
            c,
            principals,
            REGION,
            months,
        )
        active: list[str | None] = [None] * ho.month + [ho.old] * (len(months) - ho.month)
        books.append(Book(run_revenue[h], c, s_rows, s_total, active))

    ledger = _rows(books, principals, months, operators, admin)
    check_money(ledger)
    all_costs = {k: sum((b.costs[k] for b in books), np.zeros(len(months))) for k in COST_ACCOUNTS}
    rentals = all_rentals.copy(deep=False)
    rentals["payer"] = rentals[payer_of[-1]]
    products = _products(
        rentals, devices, total_revenue, all_costs, book_value, capitalised_purchases, years, months
    )
    del rentals, all_rentals, rest_rentals, all_deliveries, deliveries, no_deliveries, splits, owner
    asset_table = _asset_table(devices, schedule(), months)
    return Economy(
        ledger=ledger,
        products=products,
        staff=_splice_frames(
            [
                staff_table(st.scenario, st.scenario.economics, output["staff"], all_costs, months)
                for st in found
            ],
            month_state,
        ),
        assets=asset_table,
    )


@dataclass
class Book:
    """One operator's money: the operator in force (its months) or an old operator's run-off rentals.

    ``operators[month]`` names the operator of each month (None: the book has no activity that month)."""

    revenue: dict[str, np.ndarray]  # account -> [principal, month]
    costs: dict[str, np.ndarray]  # account -> [month]
    settlement: np.ndarray  # [principal, month]
    settled: np.ndarray  # [month]
    operators: list[str | None]


def admin_costs(
    found: list[State],
    month_state: list[int],
    revenue: dict[str, np.ndarray],
    principals: list[str],
    months: Months,
    costs: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Governance administration costs: the principals' direct payments ``{account: [principal, month]}``;
    items borne by the operator are added to ``costs['cost_governance']`` (in place). One-off amounts are
    posted in the first month of the state that brings the item in force."""
    n = len(months)
    share = month_share(months)  # of each calendar month the run covers
    zero = np.zeros((len(principals), n))
    device = sum((revenue.get(a, zero) for a in DEVICE_ACCOUNTS), zero).sum(axis=1)
    r = principals.index(REGION)
    munis = [i for i in range(len(principals)) if i != r]
    muni_device = np.array([max(device[i], 0.0) for i in munis])
    out = {a: np.zeros((len(principals), n)) for a in ADMIN_ACCOUNTS}
    first_month = {i: month_state.index(i) for i in set(month_state)}
    for i, st in enumerate(found):
        if i not in first_month:
            continue
        before = {c.name: c for c in found[i - 1].scenario.economics.admin_costs} if i > 0 else {}
        for item in st.scenario.economics.admin_costs:
            months_in = np.array([k for k, j in enumerate(month_state) if j == i])
            yearly = np.zeros(n)
            yearly[months_in] = item.sek_per_year / 12 * share[months_in]
            one_off = np.zeros(n)
            if item.one_off_sek and before.get(item.name) != item:
                one_off[first_month[i]] = item.one_off_sek
            if item.borne_by == "operator":
                costs["cost_governance"] = costs["cost_governance"] + yearly + one_off
                continue
            split = np.zeros(len(principals))
            region_part = {"region": 1.0, "municipalities": 0.0, "shared": item.region_share}[item.borne_by]
            split[r] = region_part
            if item.municipal_split == "equal" or muni_device.sum() <= 0:
                weights = np.full(len(munis), 1.0 / len(munis))
            else:
                weights = muni_device / muni_device.sum()
            split[munis] = (1 - region_part) * weights
            out["admin_yearly"] += np.outer(split, yearly)
            out["admin_one_off"] += np.outer(split, one_off)
    return out


def corporate_tax(
    found: list[State],
    month_state: list[int],
    revenue: dict[str, np.ndarray],
    costs: dict[str, np.ndarray],
    months: Months,
) -> np.ndarray:
    """Tax on the operator's positive result per calendar year, at the rate in force in the year's last
    month of the run, posted in that month (before settlement)."""
    n = len(months)
    total = sum((v.sum(axis=0) for v in revenue.values()), np.zeros(n)) - sum(costs.values(), np.zeros(n))
    years = months.year_of_month()
    tax = np.zeros(n)
    for year in np.unique(years):
        idx = np.nonzero(years == year)[0]
        last = int(idx[-1])
        rate = found[month_state[last]].scenario.economics.corporate_tax_rate
        if rate > 0:
            tax[last] = rate * max(float(total[idx].sum()), 0.0)
    return tax


def _month_states(found: list[State], months: Months) -> list[int]:
    """Index of the state in force in each month (changes of economics start on the first of a month)."""
    out = []
    for first in months.periods:
        day = first.date()
        out.append(max(i for i, st in enumerate(found) if i == 0 or st.start <= day))
    return out


def _splice(values: list[np.ndarray], month_state: list[int]) -> np.ndarray:
    """Each month (last axis) from the array of the state in force then."""
    if len(values) == 1:
        return values[0]
    out = values[0].copy()
    for k, i in enumerate(month_state):
        out[..., k] = values[i][..., k]
    return out


def _splice_frames(frames: list[pd.DataFrame], month_state: list[int]) -> pd.DataFrame:
    """Rows of per-month tables (a ``period`` column) from the state in force in their month."""
    if len(frames) == 1:
        return frames[0]
    out = frames[0].copy()
    periods = list(months_of(out))
    pick = dict(zip(periods, month_state, strict=False))
    state = out["period"].map(pick).to_numpy()
    for i, frame in enumerate(frames[1:], start=1):
        mask = state == i
        out.loc[mask] = frame.loc[mask]
    return out


def months_of(frame: pd.DataFrame) -> list[pd.Timestamp]:
    return sorted(frame["period"].unique())


def _asset_table(devices: pd.DataFrame, a: Assets, months: Months) -> pd.DataFrame:
    """Per device: capitalised or expensed, monthly depreciation, first depreciated month, book value at the
    end of the run and any write-off."""
    first = (months.first + a.schedule_start.astype("timedelta64[M]")).astype("datetime64[D]")
    return pd.DataFrame(
        {
            "device": devices["device"].to_numpy(),
            "category": devices["category"],
            "capitalised": a.capitalised,
            "purchase_price": devices["purchase_price"].to_numpy(),
            "depreciation_per_month": a.monthly_depreciation,
            "depreciation_start": np.where(a.capitalised, first, np.datetime64("NaT")),
            "depreciation_months": np.where(a.capitalised, a.schedule_months, 0),
            "book_value_end": a.device_book_value_end,
            "written_off": a.device_write_off,
        }
    )


def _rows(
    books: list[Book],
    principals: list[str],
    months: Months,
    operators: list[str],
    admin: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Ledger rows of each book, with the ``operator`` receiving the revenue, bearing the costs and paying
    the settlement (administration rows: the operator in force that month, though not its money)."""
    periods = months.periods
    parts = []
    op_names = list(dict.fromkeys([CENTRE, *operators, *(o for b in books for o in b.operators if o)]))
    if CENTRE not in operators and not any(CENTRE in b.operators for b in books):
        op_names.remove(CENTRE)
    names = np.asarray([*principals, *op_names])
    ops = np.asarray(op_names)

    def add(
        account: str, principal_idx: np.ndarray, month_idx: np.ndarray, amount: np.ndarray, op: np.ndarray
    ) -> None:
        parts.append(
            pd.DataFrame(
                {
                    "period": periods[month_idx],
                    "principal": names[principal_idx],
                    "account": account,
                    "amount": amount,
                    "operator": ops[op[month_idx]],
                }
            )
        )

    month_op = np.array([op_names.index(o) for o in operators])
    for account, amounts in (admin or {}).items():
        p, k = np.nonzero(amounts)
        add(account, p, k, amounts[p, k], month_op)
    for book in books:
        active = np.array([o is not None for o in book.operators])
        op = np.array([op_names.index(o) if o else 0 for o in book.operators])
        own = len(principals) + op  # the operator as a principal
        for account in REVENUE_ACCOUNTS:
            values = book.revenue.get(account)
            if values is None:
                continue
            p, k = np.nonzero(values * active)
            add(account, p, k, values[p, k], op)
        total_cost = np.zeros(len(months))
        for account in COST_ACCOUNTS:
            values = book.costs[account]
            total_cost += values
            k = np.nonzero(values * active)[0]
            add(account, own[k], k, values[k], op)
        result = sum(book.revenue.values(), np.zeros((len(principals), len(months)))).sum(axis=0) - total_cost
        k = np.nonzero(active)[0]
        add("result", own[k], k, result[k], op)
        p, k = np.nonzero(book.settlement * active)
        add("settlement", p, k, book.settlement[p, k], op)
        k = np.nonzero(book.settled * active)[0]
        add("settled", own[k], k, book.settled[k], op)
    ledger = pd.concat(parts, ignore_index=True)
    ledger["year"] = ledger["period"].dt.year
    ledger["quarter"] = ledger["period"].dt.quarter
    ledger["principal"] = pd.Categorical(ledger["principal"], categories=list(names))
    ledger["operator"] = pd.Categorical(ledger["operator"], categories=op_names)
    ledger["account"] = pd.Categorical(
        ledger["account"],
        categories=[*REVENUE_ACCOUNTS, *COST_ACCOUNTS, "result", "settlement", "settled", *ADMIN_ACCOUNTS],
    )
    return ledger[["period", "year", "quarter", "principal", "account", "amount", "operator"]]


def check_money(ledger: pd.DataFrame, tolerance: float = 1e-6) -> None:
    """Raise MoneyError unless every amount is finite and the ledger balances (per month, in SEK, to
    ``tolerance`` relative), for the whole ledger and for each operator: its own rows (``operator`` column:
    the months it operates and any rentals running off with it), or, in ledgers without that column, the
    months it operates.
    Comparisons are written so that NaN fails them."""
    amounts = ledger["amount"].to_numpy(dtype=float)
    finite = np.isfinite(amounts)
    if not finite.all():
        row = ledger[~finite].iloc[0]
        raise MoneyError(
            f"{int((~finite).sum())} amount(s) not finite, e.g. {row['amount']} in {row['account']} of "
            f"{row['principal']}"
        )
    _check_balance(ledger, tolerance)
    acc = ledger["account"].astype(str)
    if "operator" in ledger.columns:  # each operator's own rows (the operator in force, run-off books)
        money = ledger[~acc.str.startswith("admin_")]
        by = money["operator"].astype(str)
        if by.nunique() > 1:
            for op in by.unique():
                rows = money[by == op]
                r_acc, r_who = rows["account"].astype(str), rows["principal"].astype(str)
                if (
                    (r_acc.str.startswith("cost_") | r_acc.isin(["result", "settled"])) & (r_who != op)
                ).any():
                    raise MoneyError(f"operator {op}: costs or results booked to another principal")
                _check_balance(rows, tolerance)
        return
    result_rows = ledger[acc == "result"]
    operator_of = dict(zip(result_rows["period"], result_rows["principal"].astype(str), strict=False))
    operators = set(operator_of.values())
    if len(operators) > 1:
        for op in operators:
            months = [p for p, o in operator_of.items() if o == op]
            rows = ledger[ledger["period"].isin(months)]
            r_acc, r_who = rows["account"].astype(str), rows["principal"].astype(str)
            if ((r_acc.str.startswith("cost_") | r_acc.isin(["result", "settled"])) & (r_who != op)).any():
                raise MoneyError(f"operator {op}: costs or results of another principal in its months")
            _check_balance(rows, tolerance)


def _check_balance(ledger: pd.DataFrame, tolerance: float) -> None:
    acc = ledger["account"].astype(str)
    revenue = ledger[acc.str.startswith("revenue_")].groupby("period")["amount"].sum()
    cost = ledger[acc.str.startswith("cost_")].groupby("period")["amount"].sum()
    result = ledger[acc == "result"].groupby("period")["amount"].sum()
    settlement = ledger[acc == "settlement"].groupby("period")["amount"].sum()
    settled = ledger[acc == "settled"].groupby("period")["amount"].sum()
    scale = max(1.0, float(revenue.abs().sum() + cost.abs().sum()))
    gap = (
        revenue.reindex(result.index, fill_value=0) - cost.reindex(result.index, fill_value=0) - result
    ).abs()
    if len(gap) and not gap.max() <= tolerance * scale:  # written so that NaN fails
        raise MoneyError(f"result differs from revenue - costs by {gap.max():.2f} SEK")
    gap = (settlement.reindex(settled.index, fill_value=0) - settled).abs()
    if len(gap) and not gap.max() <= tolerance * scale:
        raise MoneyError(f"settlement rows differ from the amount settled by {gap.max():.2f} SEK")
    paid = ledger[acc.str.startswith("revenue_")]["amount"].sum()
    back = ledger[acc == "settlement"]["amount"].sum()
    kept = result.sum() - settled.sum()
    if not abs((paid - back) - (cost.sum() + kept)) <= tolerance * scale:
        raise MoneyError("principals' net payments differ from the centre's costs plus its kept result")


def _products(
    rentals: pd.DataFrame,
    devices: pd.DataFrame,
    revenue: dict[str, np.ndarray],
    costs: dict[str, np.ndarray],
    book: np.ndarray,
    purchases: np.ndarray,
    years: dict[str, float],
    months: Months,
) -> pd.DataFrame:
    """Per year: the share of rented device-days at price 0 (fully depreciated) and the product result."""
    a = np.clip(rentals["start_day"].to_numpy(), 0, months.days)
    b = np.clip(rentals["end_day"].to_numpy(), 0, months.days)
    bought = device_values(devices, "purchased_day", rentals["device"])
    life = per_category(rentals["category"], years)
    if life is None:
        life = rentals["category"].astype(str).map(years).to_numpy(dtype=float)
    done = bought + life.astype(float) * DAYS_PER_YEAR
    muni = _not_region(rentals["payer"])
    ones = np.ones(a.size)
    on_rent = integrate_by_group(a, b, ones, muni, 2, months.bounds)
    zero = integrate_by_group(np.maximum(a, done), b, ones, muni, 2, months.bounds)
    year = months.year_of_month()
    frame = pd.DataFrame(
        {
            "year": year,
            "device_days": on_rent.sum(axis=0),
            "zero_price_days": zero.sum(axis=0),
            "device_days_municipal": on_rent[1],
            "zero_price_days_municipal": zero[1],
            "product_revenue": sum(
                (revenue[k].sum(axis=0) for k in PRODUCT_REVENUE if k in revenue), np.zeros(len(months))
            ),
            "product_cost": sum((costs[k] for k in PRODUCT_COST), np.zeros(len(months))),
            "capitalised_purchases": purchases,
        }
    )
    out = frame.groupby("year").sum()
    out["zero_price_share"] = out["zero_price_days"] / out["device_days"]
    out["zero_price_share_municipal"] = out["zero_price_days_municipal"] / out["device_days_municipal"]
    out["product_result"] = out["product_revenue"] - out["product_cost"]
    ends = pd.Series(np.append(book[1:], np.nan), index=year).groupby(level=0).last()
    out["book_value_end"] = ends
    return out.reset_index()


def _not_region(payer: pd.Series) -> np.ndarray:
    """1 where the payer is a municipality, 0 where it is the region (per category of a categorical)."""
    if isinstance(payer.dtype, pd.CategoricalDtype):
        codes = payer.cat.codes.to_numpy()
        if not (codes < 0).any():
            per_category = np.asarray(payer.cat.categories.astype(str) != REGION).astype(int)
            out: np.ndarray = per_category[codes]
            return out
    return (payer.astype(str) != REGION).to_numpy().astype(int)
