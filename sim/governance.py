"""Governance options as presets: today's arrangement and the six options of the Norrbotten review (2020).

A scenario names one (``governance: {option: limited_cooperation, decided: 2026-03-31}``); loading the
scenario expands it into dated changes (:mod:`sim.config.changes`) that change the flow (staff, routes,
stock levels, demand for device swaps) and the money (administration costs and who pays them, the operator
principal of the ledger, the settlement rule, taxes). The presets are a registry (:data:`OPTIONS`); an
unknown option or parameter is rejected.

Timing (every option, review "Identifierad tid för införande"): today's cooperation agreement must be
terminated at least 9 months before a year end, so an option decided on ``decided`` takes effect on 1 January
after the first year end at least 9 months away (decided 2026-03-31: 2027-01-01; 2026-04-01: 2028-01-01),
and not before its own lead time (outsourcing: a takeover of at least 6 months). A transition period with
degraded service follows (staff capacity lowered by ``transition_capacity_loss`` for
``transition_months``); existing rentals transfer to the new operator on the effective date or, with
``rentals: run_off``, stay with the old one until they end (an operator change: the old operator's run-off
books, :mod:`sim.economics.runoff`; limited cooperation: the region's depot keeps serving them).

Every number cites the review section (``norrbotten_supply_review_2020.txt``, the "Lösningsförslag ... –
Analys (2/2)" pages, and ``calibration/observed/governance_options_norrbotten_2020.csv``); what the review
does not quantify is a parameter with a range and "assumption: reason" (docs/governance.md lists them all),
so that sensitivity analysis can explore it (``governance.parameters``).

This module holds config-level presets: it imports only :mod:`sim.config` and is imported lazily by the
loader, so the config layer stays below the model, the economics and the CLI.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sim.errors import ConfigError

REVIEW = "norrbotten_supply_review_2020.txt"
POOLS = ("reconditioning_technicians", "service_technicians", "consultants")


@dataclass(frozen=True)
class Param:
    """A preset parameter: default, range (for sensitivity analysis), unit and source."""

    value: float
    low: float
    high: float
    unit: str
    source: str


@dataclass(frozen=True)
class Context:
    """What a preset builds from: the decision, the dates it implies, parameter values and the base config."""

    decided: date
    effective: date
    values: dict[str, float]
    raw: dict[str, Any]
    rentals: str = "transfer"

    def months_after(self, start: date, months: float) -> date:
        return _add_months(start, round(months))


@dataclass(frozen=True)
class Option:
    label: str
    section: str
    lead_months: int  # earliest effect after the decision besides the notice (months)
    parameters: dict[str, Param]
    build: Callable[[Context], list[dict[str, Any]]]
    operator: str = "centre"
    shocks: Callable[[Context], list[dict[str, Any]]] | None = None
    prepare: Callable[[Context, dict[str, Any]], None] | None = None  # adds to the base config (in place)
    rentals_choice: bool = False  # whether rentals can run off (the flow moves them; see docs)
    notes: tuple[str, ...] = field(default=())


def _add_months(day: date, months: int) -> date:
    m = day.month - 1 + months
    year, month = day.year + m // 12, m % 12 + 1
    last = [
        31,
        29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][month - 1]
    return date(year, month, min(day.day, last))


def effective_date(decided: date, notice_months: int = 9, lead_months: int = 0) -> date:
    """1 January after the first year end at least ``notice_months`` after ``decided`` and not before
    ``lead_months`` after it (review: notice "senast 9 månader inför ett årsskifte")."""
    year_end = date(decided.year, 12, 31)
    if _add_months(decided, notice_months) > year_end:
        year_end = date(decided.year + 1, 12, 31)
    effective = year_end + timedelta(days=1)
    while effective < _add_months(decided, lead_months):
        effective = date(effective.year + 1, 1, 1)
    return effective


def _first_of_next_month(day: date) -> date:
    return day if day.day == 1 else _add_months(date(day.year, day.month, 1), 1)


# ---- shared pieces ------------------------------------------------------------------------------------
def _transition(ctx: Context) -> list[dict[str, Any]]:
    """Degraded service after the effective date: every staff pool lowered, then restored."""
    months, loss = ctx.values.get("transition_months", 0.0), ctx.values.get("transition_capacity_loss", 0.0)
    if months <= 0 or loss <= 0:
        return []
    low, back = {}, {}
    for depot, spec in ctx.raw["depots"].items():
        for pool in POOLS:
            count = int(spec[pool]["count"])
            low[f"depots.{depot}.{pool}.count"] = max(round(count * (1 - loss)), 0)
            back[f"depots.{depot}.{pool}.count"] = count
    return [
        {"from": ctx.effective, "set": low, "reason": "transition: degraded service"},
        {"from": ctx.months_after(ctx.effective, months), "set": back, "reason": "transition over"},
    ]


def _admin(ctx: Context, items: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    existing = list((ctx.raw.get("economics") or {}).get("admin_costs", []))
    return {
        "from": ctx.effective,
        "set": {"economics.admin_costs": existing + items, **(extra or {})},
        "reason": "governance: administration costs",
    }


def _fees(ctx: Context, bearer: str) -> list[dict[str, Any]]:
    """Members' fees: the region's three members (review), the municipal members' (a parameter)."""
    return [
        {
            "name": "members_fees_region",
            "sek_per_year": ctx.values["region_fees_sek_per_year"],
            "borne_by": "region" if bearer == "principals" else "operator",
        },
        {
            "name": "members_fees_municipalities",
            "sek_per_year": ctx.values["municipal_fees_sek_per_year"],
            "borne_by": "municipalities" if bearer == "principals" else "operator",
            "municipal_split": "equal",
        },
    ]


def _at_cost_settlement() -> dict[str, Any]:
    """The operator's whole result goes back to the principals by their share of device costs."""
    return {
        "economics.settlement.kind": "result_split",
        "economics.settlement.region_share": 0.0,
        "economics.settlement.period": "year",
    }


FEES_REGION = Param(
    100_000,
    80_000,
    130_000,
    "SEK per year",
    f"{REVIEW}, Gemensam nämnd – Analys (2/2): "
    "region's 3 members, 6 meetings x half meeting fee about 4 kSEK, about 100 kSEK/yr incl. social costs",
)
FEES_MUNI = Param(
    467_000,
    0,
    700_000,
    "SEK per year",
    "assumption: 14 municipal members paid like the region's "
    "(100/3 kSEK each); the review leaves them to each municipality, unquantified",
)
TRANSITION_LOSS = Param(
    0.15,
    0.0,
    0.3,
    "share of staff capacity",
    "assumption: staff moving, new routines; the review names a transition but gives no size",
)


def _today(ctx: Context) -> list[dict[str, Any]]:
    return []


def _joint_committee(ctx: Context) -> list[dict[str, Any]]:
    items = [
        *_fees(ctx, "principals"),
        {
            "name": "committee_secretary",
            "sek_per_year": ctx.values["secretary_sek_per_year"],
            "borne_by": "shared",
            "region_share": ctx.values["region_share"],
        },
    ]
    return [_admin(ctx, items), *_transition(ctx)]


def _federation(ctx: Context) -> list[dict[str, Any]]:
    v = ctx.values
    items = [
        *_fees(ctx, "operator"),
        {"name": "federation_economist", "sek_per_year": v["economist_sek_per_year"], "borne_by": "operator"},
        {
            "name": "federation_management",
            "sek_per_year": v["management_sek_per_year"],
            "borne_by": "operator",
        },
    ]
    extra = {"economics.operator": "federation", **_at_cost_settlement()}
    return [_admin(ctx, items, extra), *_transition(ctx)]


def _contract(ctx: Context) -> list[dict[str, Any]]:
    """Advanced devices (responsibility class 2: power wheelchairs, communication and cognition aids in the
    shipped Norrbotten config) move to the region; the legal support is paid when the new agreement starts."""
    v = ctx.values
    classes = list((ctx.raw.get("responsibility") or {}).get("region_classes", ["1", "clinic"]))
    items = [{"name": "legal_support", "one_off_sek": v["legal_one_off_sek"], "borne_by": "region"}]
    if v["tax_swap_sek_per_year"] > 0:
        items.append(
            {"name": "tax_swap", "sek_per_year": v["tax_swap_sek_per_year"], "borne_by": "municipalities"}
        )
    extra = {"responsibility.region_classes": [*classes, *[c for c in ("2",) if c not in classes]]}
    return [_admin(ctx, items, extra), *_transition(ctx)]


def _company(ctx: Context) -> list[dict[str, Any]]:
    v = ctx.values
    items = [
        {"name": "board_fees", "sek_per_year": v["board_fees_sek_per_year"], "borne_by": "operator"},
        {"name": "company_economist", "sek_per_year": v["economist_sek_per_year"], "borne_by": "operator"},
        {"name": "audit", "sek_per_year": v["audit_sek_per_year"], "borne_by": "operator"},
        {"name": "vat", "sek_per_year": v["vat_sek_per_year"], "borne_by": "operator"},
    ]
    extra = {
        "economics.operator": "company",
        "economics.corporate_tax_rate": v["corporate_tax_rate"],
        **_at_cost_settlement(),
    }
    return [_admin(ctx, items, extra), *_transition(ctx)]


def _scaled_pools(ctx: Context, factor: float) -> dict[str, int]:
    return {
        f"depots.{depot}.{pool}.count": round(int(spec[pool]["count"]) * factor)
        for depot, spec in ctx.raw["depots"].items()
        for pool in POOLS
    }


MUNICIPAL_DEPOT = "Kommunerna"  # the municipalities' shared depot under limited cooperation


def _split_day(ctx: Context) -> date:
    """The day the municipalities' own organisation starts: the effective date, or the first of the month
    after their set-up (``setup_months`` after the decision) if that is later."""
    ready = ctx.months_after(ctx.decided, ctx.values["setup_months"])
    return max(ctx.effective, _first_of_next_month(ready))


def _limited_base(ctx: Context, out: dict[str, Any]) -> None:
    """The municipalities' shared depot and its routes exist from the start, without staff or vehicles
    (nothing changes before the split); every municipality's rentals transfer or run off at the split."""
    depots = out["depots"]
    if MUNICIPAL_DEPOT in depots:
        raise ConfigError(f"depots.{MUNICIPAL_DEPOT}: limited_cooperation adds this depot; rename yours")
    share = ctx.values["municipal_work_share"]
    model = copy.deepcopy(next(iter(depots.values())))
    for pool in POOLS:
        model[pool] = {**model[pool], "count": 0}
    model["reconditioning_room"] = max(round(int(model["reconditioning_room"]) * share), 1)
    depots[MUNICIPAL_DEPOT] = model
    routes = out["transport"]["routes"]
    for name, route in list(routes.items()):
        routes[f"{name}_{MUNICIPAL_DEPOT.lower()}"] = {
            **copy.deepcopy(route),
            "depot": MUNICIPAL_DEPOT,
            "vehicles": 0,
        }
    for muni in out["municipalities"].values():
        muni["rentals_on_move"] = ctx.rentals


def _whole_vehicles(share_of_fleet: float) -> int:
    """Vehicles an organisation needs for its share of a route's fleet: rounded up, at least one. Each
    organisation runs whole vehicles on its own timetable; rounding to nearest split the east route's 2
    vehicles 1 + 1 and left the municipalities' 70 % of its volume with half today's capacity (delivery on
    the planned day 0.1-0.2 in Kalix, Haparanda, Överkalix and Övertorneå, whose unmet deliveries then looked
    like savings in the governance batch)."""
    return max(math.ceil(share_of_fleet - 1e-9), 1)


def _limited(ctx: Context) -> list[dict[str, Any]]:
    """Two organisations from the split (``setup_months`` after the decision, not before the effective
    date): the region keeps its depot, staff and vehicles for the patients it pays for; the patients the
    municipalities pay for (``municipal_work_share`` of the work) move to the municipalities' shared depot
    with its own technicians, consultants and vehicles on the same roads. Both organisations lose scale
    (``lost_scale_staff_share`` more staff for the same work), each warehouse holds its own safety stock
    (``extra_stock_share``), rentals in progress transfer or run off (``governance.rentals``), and patients
    whose supplier changes swap devices (extra orders, :func:`_swaps`). Until the split, service is degraded
    by the set-up. Money: the municipalities' duplicated fixed costs and set-up; everyone pays its own costs
    (``result_split``, region share 0)."""
    v, raw = ctx.values, ctx.raw
    start = _split_day(ctx)
    share, lost = v["municipal_work_share"], 1 + v["lost_scale_staff_share"]
    flow: dict[str, Any] = {}
    for depot, spec in raw["depots"].items():
        for pool in POOLS:
            count = int(spec[pool]["count"])
            flow[f"depots.{depot}.{pool}.count"] = max(round(count * (1 - share) * lost), 1 if count else 0)
            key = f"depots.{MUNICIPAL_DEPOT}.{pool}.count"
            flow[key] = flow.get(key, 0) + max(round(count * share * lost), 1 if count else 0)
    for name, route in raw["transport"]["routes"].items():
        vehicles = int(route.get("vehicles", 1))
        flow[f"transport.routes.{name}.vehicles"] = _whole_vehicles(vehicles * (1 - share))
        municipal_route = f"transport.routes.{name}_{MUNICIPAL_DEPOT.lower()}.vehicles"
        flow[municipal_route] = _whole_vehicles(vehicles * share)
    for muni in raw["municipalities"]:
        flow[f"municipalities.{muni}.municipal_depot"] = MUNICIPAL_DEPOT
    stock: dict[str, Any] = {}
    for name, cat in raw["categories"].items():
        stock[f"categories.{name}.reorder_point_days"] = float(cat.get("reorder_point_days", 10.0)) * (
            1 + v["extra_stock_share"]
        )
        stock[f"categories.{name}.order_up_to_days"] = float(cat.get("order_up_to_days", 25.0)) * (
            1 + v["extra_stock_share"]
        )
    items = [
        {
            "name": "municipal_organisation",
            "sek_per_year": v["duplicated_fixed_sek_per_year"],
            "borne_by": "municipalities",
        },
        {"name": "municipal_setup", "one_off_sek": v["setup_one_off_sek"], "borne_by": "municipalities"},
    ]
    out = [
        {"from": start, "set": flow, "reason": "limited cooperation: the municipalities' own depot starts"},
        {
            "from": date(start.year if (start.month, start.day) == (1, 1) else start.year + 1, 1, 1),
            "set": stock,
            "reason": "two warehouses: more stock",
        },
        _admin(ctx, items, _at_cost_settlement()),
    ]
    if start > ctx.effective:  # municipalities not ready: degraded service until they are
        degraded = _scaled_pools(ctx, 1 - v["transition_capacity_loss"])
        out.insert(0, {"from": ctx.effective, "set": degraded, "reason": "municipal set-up not finished"})
    return out


def _swaps(ctx: Context) -> list[dict[str, Any]]:
    """Devices swapped when responsibility moves: extra orders in the half year after the split."""
    start = _split_day(ctx)
    if ctx.values["swap_share"] <= 0:
        return []
    return [
        {
            "start_date": start,
            "end_date": ctx.months_after(start, 6) - timedelta(days=1),
            "multiplier": 1 + ctx.values["swap_share"],
        }
    ]


def _outsourcing(ctx: Context) -> list[dict[str, Any]]:
    v = ctx.values
    items = [
        {"name": "contractor_margin", "sek_per_year": v["margin_sek_per_year"], "borne_by": "operator"},
        {
            "name": "purchaser_function",
            "sek_per_year": v["purchaser_sek_per_year"],
            "borne_by": "shared",
            "region_share": v["region_share"],
        },
        {
            "name": "establishment",
            "one_off_sek": v["establishment_one_off_sek"],
            "borne_by": "shared",
            "region_share": v["region_share"],
        },
    ]
    out = [
        _admin(ctx, items, {"economics.operator": "contractor", **_at_cost_settlement()}),
        *_transition(ctx),
    ]
    if v["efficiency_gain"] > 0:
        after = ctx.months_after(ctx.effective, max(v["transition_months"], 0) + 12)
        out.append(
            {
                "from": after,
                "set": _scaled_pools(ctx, 1 - v["efficiency_gain"]),
                "reason": "contractor's efficiency",
            }
        )
    return out


def _transition_params(months: float, low: float, high: float, source: str) -> dict[str, Param]:
    return {
        "transition_months": Param(months, low, high, "months", source),
        "transition_capacity_loss": TRANSITION_LOSS,
    }


REGION_SHARE = Param(0.3, 0.25, 0.35, "share", f"{REVIEW}: shared costs split like device costs, about 30/70")
OPTIONS: dict[str, Option] = {
    "today": Option(
        "Today's cooperation agreement (avtalssamverkan as of 2020)", "Nulägesanalys", 0, {}, _today
    ),
    "joint_committee": Option(
        "Joint committee (gemensam nämnd)",
        "Lösningsförslag Gemensam nämnd – Analys (2/2)",
        3,
        {
            "region_fees_sek_per_year": FEES_REGION,
            "municipal_fees_sek_per_year": FEES_MUNI,
            "secretary_sek_per_year": Param(
                230_000,
                230_000,
                280_000,
                "SEK per year",
                f"{REVIEW}, Gemensam nämnd – Analys (2/2): 0.5 FTE secretary, at least 230 kSEK/yr",
            ),
            "region_share": REGION_SHARE,
            **_transition_params(0, 0, 3, "assumption: operations unchanged (review: Länsservice continues)"),
        },
        _joint_committee,
    ),
    "municipal_federation": Option(
        "Municipal federation (kommunalförbund)",
        "Lösningsförslag Kommunalförbund – Analys (2/2)",
        0,
        {
            "region_fees_sek_per_year": FEES_REGION,
            "municipal_fees_sek_per_year": FEES_MUNI,
            "economist_sek_per_year": Param(
                730_000,
                730_000,
                850_000,
                "SEK per year",
                f"{REVIEW}, Kommunalförbund – "
                "Analys (2/2): +1 economist 550 kSEK/yr + 180 kSEK/yr equipment and premises",
            ),
            "management_sek_per_year": Param(
                930_000,
                750_000,
                1_100_000,
                "SEK per year",
                f"{REVIEW}, Kommunalförbund – "
                "Analys (2/2): 0.5 director + 0.5 registrar/secretary 750 kSEK/yr + 180 kSEK/yr",
            ),
            **_transition_params(1, 0, 3, "assumption: staff and accounts move to a new legal entity"),
        },
        _federation,
        operator="federation",
    ),
    "contract_cooperation": Option(
        "Contract cooperation, renegotiated (avtalssamverkan)",
        "Lösningsförslag Avtalssamverkan – Analys (2/2)",
        4,
        {
            "legal_one_off_sek": Param(
                250_000,
                150_000,
                400_000,
                "SEK",
                f"{REVIEW}, Avtalssamverkan – Analys (2/2): "
                "external legal support about 250 kSEK (100 h x 2 500 SEK)",
            ),
            "tax_swap_sek_per_year": Param(
                0,
                0,
                20_000_000,
                "SEK per year",
                "assumption: the tax swap financing the "
                "region's larger responsibility is not quantified by the review "
                "('in theory no result effect'); 0 shows the costs it must cover",
            ),
            **_transition_params(0, 0, 2, "assumption: operations unchanged"),
        },
        _contract,
    ),
    "joint_company": Option(
        "Joint company (gemensamt aktiebolag)",
        "Lösningsförslag Gemensamt aktiebolag – Analys (2/2)",
        0,
        {
            "board_fees_sek_per_year": Param(
                120_000,
                40_000,
                160_000,
                "SEK per year",
                f"{REVIEW}, Gemensamt "
                "aktiebolag – Analys (2/2): region's 2 members about 40 kSEK/yr; the 4 "
                "municipal members paid alike (assumption)",
            ),
            "economist_sek_per_year": Param(
                730_000,
                730_000,
                850_000,
                "SEK per year",
                f"{REVIEW}, Gemensamt aktiebolag – Analys (2/2): +1 economist 550 + 180 kSEK/yr",
            ),
            "audit_sek_per_year": Param(
                325_000,
                250_000,
                400_000,
                "SEK per year",
                f"{REVIEW}, Gemensamt aktiebolag – Analys (2/2): own audit 250-400 kSEK/yr",
            ),
            "vat_sek_per_year": Param(
                0,
                0,
                2_000_000,
                "SEK per year",
                "assumption: the review flags VAT effects "
                "without size; 0 if the owners' VAT compensation covers them",
            ),
            "corporate_tax_rate": Param(
                0.206,
                0.0,
                0.206,
                "share of a positive result",
                "assumption: Swedish corporate tax 20.6 % (the review flags 'bolagsskatt'); 0 if run at cost",
            ),
            **_transition_params(1, 0, 3, "assumption: staff and assets move to a new legal entity"),
        },
        _company,
        operator="company",
    ),
    "limited_cooperation": Option(
        "Limited cooperation (begränsad samverkan): procurement only",
        "Lösningsförslag Begränsad samverkan – Analys (2/2)",
        0,
        {
            "setup_months": Param(
                12,
                9,
                18,
                "months",
                f"{REVIEW}, Begränsad samverkan – Analys (2/2): the "
                "municipalities need 9-18 months to set up their own supply",
            ),
            "transition_capacity_loss": TRANSITION_LOSS,
            "municipal_work_share": Param(
                0.7,
                0.6,
                0.8,
                "share of staff and vehicles",
                f"{REVIEW}, Begränsad samverkan – Beskrivning: 'nuvarande omsättning är 30% för regionens "
                "ansvar'; Analys (2/2): 'minst 70%' of the 85 MSEK costs of 2019 relate to the "
                "municipalities' devices (range: assumption)",
            ),
            "lost_scale_staff_share": Param(
                0.2,
                0.1,
                0.4,
                "share more staff",
                "assumption: two smaller pools "
                "need more staff for the same work (review: 'lost economies of scale')",
            ),
            "extra_stock_share": Param(
                0.3,
                0.1,
                0.6,
                "share higher stock levels",
                "assumption: two warehouses "
                "each hold safety stock (review: 'ökad lagerhantering och fler lagerlokaler')",
            ),
            "duplicated_fixed_sek_per_year": Param(
                8_800_000,
                4_000_000,
                15_000_000,
                "SEK per year",
                "assumption: "
                "the municipalities' own premises, IT, warehouse, customer "
                "service and administration, 0.7 x Länsservice's 12.6 MSEK "
                "(configs/regions/norrbotten.yaml 2024 fixed costs), while the "
                "region's premises do not shrink at once (review: long leases)",
            ),
            "setup_one_off_sek": Param(
                5_000_000,
                2_000_000,
                15_000_000,
                "SEK",
                "assumption: premises, systems, "
                "equipment of a new organisation (review: 'ytterligare kostnader för "
                "etableringen', unquantified)",
            ),
            "swap_share": Param(
                0.05,
                0.0,
                0.15,
                "share more orders for 6 months",
                "assumption: patients whose "
                "responsibility changes swap devices (review: 'patienter kan behöva byta samma "
                "typ av hjälpmedel'), unquantified",
            ),
        },
        _limited,
        shocks=_swaps,
        prepare=_limited_base,
        rentals_choice=True,
        notes=(
            "the review: at least 60 of the 85 MSEK cost mass of 2019 relates to municipal devices; the "
            "region's cost mass may fall 50-70 MSEK while revenue falls too",
        ),
    ),
    "outsourcing": Option(
        "Outsourcing to a contractor (outsourcing)",
        "Lösningsförslag Outsourcing – Analys (2/2)",
        6,
        {
            "margin_sek_per_year": Param(
                2_400_000,
                0,
                5_000_000,
                "SEK per year",
                "assumption: contractor's margin "
                "about 5 % of the 47 MSEK operating costs of 2024 (norrbotten_followup_2024.csv)",
            ),
            "purchaser_sek_per_year": Param(
                730_000,
                550_000,
                1_500_000,
                "SEK per year",
                "assumption: purchaser "
                "competence of 1 FTE like the federation's economist (review: "
                "'inte tillräcklig beställarkompetens')",
            ),
            "establishment_one_off_sek": Param(
                0,
                0,
                5_000_000,
                "SEK",
                f"{REVIEW}, Outsourcing – Analys (2/2): establishment costs negotiated, 'svåra att bedöma'",
            ),
            "efficiency_gain": Param(
                0.0,
                0.0,
                0.1,
                "share fewer staff",
                "assumption: the contractor's expertise "
                "'may lower cost over time'; from a year after the transition",
            ),
            "region_share": REGION_SHARE,
            **_transition_params(
                3,
                0,
                6,
                "assumption: new routines after a takeover of at least 6 months "
                f"({REVIEW}, Outsourcing – Analys (2/2))",
            ),
        },
        _outsourcing,
        operator="contractor",
    ),
}


def _horizon(data: dict[str, Any]) -> tuple[date, date] | None:
    """The horizon's first day and the day after it (None if malformed: the schema reports that)."""
    horizon = data.get("horizon") or {}
    try:
        start = horizon.get("start_date", date(2023, 1, 1))
        start = date.fromisoformat(start) if isinstance(start, str) else start
        years = float(horizon.get("years", 10.0))
        if not isinstance(start, date) or not 0 < years <= 50:
            return None
        if years == int(years):
            try:
                return start, start.replace(year=start.year + int(years))
            except ValueError:
                return start, date(start.year + int(years), 3, 1)
        return start, start + timedelta(days=round(years * 365.25))
    except (AttributeError, TypeError, ValueError, OverflowError):
        return None


def expand(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its ``governance`` choice expanded into dated changes (idempotent; ConfigError)."""
    choice = data.get("governance")
    if not isinstance(choice, dict) or choice.get("expanded"):
        return data  # absent, already expanded, or malformed (then the schema reports it)
    option_name = choice.get("option")
    option = OPTIONS.get(str(option_name))
    if option is None:
        raise ConfigError(f"governance.option: {option_name!r}: must be one of {', '.join(OPTIONS)}")
    decided = choice.get("decided")
    if not isinstance(decided, date):
        raise ConfigError(f"governance.decided: {decided!r}: must be a date (YYYY-MM-DD)")
    raw_params = choice.get("parameters") or {}
    if not isinstance(raw_params, dict):
        raise ConfigError(f"governance.parameters: {raw_params!r}: must be a mapping of name: number")
    given = dict(raw_params)
    problems = []
    values = {}
    for name, param in option.parameters.items():
        value = given.pop(name, param.value)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not param.low <= value <= param.high
        ):
            problems.append(
                f"governance.parameters.{name}: {value!r}: must be a number in [{param.low:g}, "
                f"{param.high:g}] {param.unit} ({param.source})"
            )
        values[name] = float(value)
    for name in given:
        problems.append(
            f"governance.parameters.{name}: not a parameter of {option_name!r} "
            f"(valid: {', '.join(option.parameters) or 'none'})"
        )
    rentals = choice.get("rentals", "transfer")
    if rentals not in ("transfer", "run_off"):
        problems.append(f"governance.rentals: {rentals!r}: must be transfer or run_off")
    elif rentals != "transfer" and not option.rentals_choice and option.operator == "centre":
        problems.append(
            f"governance.rentals: {rentals!r}: {option_name!r} changes neither the operator nor the depot "
            "serving the patients, so there is nothing to run off (run_off works for the operator changes "
            "and limited_cooperation)"
        )
    if problems:
        raise ConfigError(problems)
    ctx = Context(decided, effective_date(decided, 9, option.lead_months), values, data, str(rentals))
    horizon = _horizon(data)
    changes = data.get("changes") or []
    if horizon is None or not isinstance(changes, list):
        return data  # the schema reports the malformed horizon or changes
    start, end = horizon
    if option.build is not _today and not start < ctx.effective < end:
        raise ConfigError(
            f"governance.decided: {decided}: the option would take effect on {ctx.effective}, outside the "
            f"horizon {start} to {end} (notice 9 months before a year end)"
        )
    out = copy.deepcopy(data)
    try:
        built = [c for c in option.build(ctx) if c["from"] < end]  # what falls after the horizon is dropped
    except (AttributeError, KeyError, TypeError, ValueError):
        return data  # a malformed base config: the schema reports it (depots, routes, categories)
    if option.prepare is not None:
        try:
            option.prepare(ctx, out)
        except (AttributeError, KeyError, TypeError, ValueError, StopIteration):
            return data  # a malformed base config: the schema reports it
    for change in built:  # the operator's handover: rentals in progress transfer or run off
        if "economics.operator" in change["set"]:
            change["set"] = {**change["set"], "economics.rentals_on_operator_change": ctx.rentals}
    out["changes"] = [*changes, *built]
    if option.shocks is not None:
        demand = out.setdefault("demand", {})
        demand["shocks"] = [*list(demand.get("shocks") or []), *option.shocks(ctx)]
    out["governance"] = {**choice, "expanded": True, "effective": ctx.effective}
    return out
