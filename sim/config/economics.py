"""The economics config: cost drivers, capitalisation, price-model pieces and settlement, all by config.

A scenario's ``economics`` section is optional; without it no ledger is made. Price models are composed
of pieces: a rent scheme (``depreciation_markup`` as in Norrbotten, ``rent_factor`` as in Västmanland, or
``function_rent``), sales, a base subscription, billed services and transport fees, and a settlement rule
(``markup_follow_up`` as in Norrbotten 2025, ``result_split`` as in Västmanland). See docs/economics.md.
"""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import model_validator

from sim.config.base import Model, param


class StaffFunction(Model):
    fte: float | None = param(
        None,
        "FTE",
        "per region",
        "staff in the function (None: the depots' DES staff pools, for technicians and consultants)",
        ge=0,
    )
    annual_cost_sek: float = param(
        ..., "SEK per FTE and year", "per region", "salary incl. social fees", ge=0
    )


class Staff(Model):
    technicians: StaffFunction = param(..., "-", "-", "reconditioning and service technicians")
    consultants: StaffFunction = param(..., "-", "-", "device consultants")
    warehouse: StaffFunction = param(..., "-", "-", "warehouse staff")
    drivers: StaffFunction = param(..., "-", "-", "own drivers (0 FTE if transport is bought)")
    customer_service: StaffFunction = param(..., "-", "-", "customer service")
    administration: StaffFunction = param(..., "-", "-", "management, administration, purchasing, IT support")


StaffFunctionName = Literal[
    "technicians", "consultants", "warehouse", "drivers", "customer_service", "administration"
]


class SummerSubstitutes(Model):
    """The part of a year's staff cost paid to summer substitutes, booked in the summer weeks' months.

    Each person takes ``leave_weeks`` of leave within ``calendar.summer_weeks``; the DES keeps
    ``calendar.summer_staffing`` of the capacity present there, substitutes included, so substitutes work
    ``leave_weeks - (1 - summer_staffing) x summer weeks`` weeks per FTE and year. Their share of the
    year's cost of a function is those weeks x ``relative_cost`` over the 52 paid weeks of the permanent
    staff plus them; the yearly cost is unchanged (docs/economics.md, "Summer substitutes")."""

    leave_weeks: float | None = param(
        None,
        "weeks per FTE and year",
        "per region",
        "each person's leave within calendar.summer_weeks (None: staff costs booked evenly over the months)",
        ge=0,
        le=53,
    )
    relative_cost: float = param(
        1.0,
        "share",
        "assumption",
        "a substitute's cost per week relative to the permanent staff's",
        gt=0,
        le=3,
    )
    functions: list[StaffFunctionName] = param(
        ["technicians", "consultants", "warehouse", "drivers", "customer_service"],
        "-",
        "assumption",
        "staff functions that hire summer substitutes",
    )


class TransportCost(Model):
    sek_per_km: float = param(0.0, "SEK per km", "per region", "running cost per km", ge=0)
    sek_per_stop: float = param(0.0, "SEK per stop", "per region", "cost per delivery or pickup stop", ge=0)
    sek_per_vehicle_year: float = param(
        0.0, "SEK per vehicle and year", "per region", "vehicle fixed cost", ge=0
    )


class Costs(Model):
    staff: Staff = param(..., "-", "-", "staff by function")
    premises_sek_per_year: float = param(0.0, "SEK per year", "per region", "premises", ge=0)
    it_sek_per_year: float = param(0.0, "SEK per year", "per region", "IT systems and licences", ge=0)
    other_sek_per_year: float = param(0.0, "SEK per year", "per region", "other operating costs", ge=0)
    governance_sek_per_year: float = param(
        0.0, "SEK per year", "governance_options_norrbotten_2020.csv", "governance and administration", ge=0
    )
    transport: TransportCost = param(TransportCost(), "-", "-", "transport cost drivers")
    summer_substitutes: SummerSubstitutes = param(
        SummerSubstitutes(), "-", "-", "summer substitutes' part of the staff cost, booked in the summer"
    )
    spare_parts_sek_per_repair: float = param(
        0.0, "SEK per corrective work order", "per region", "spare parts", ge=0
    )
    spare_parts_sek_per_reconditioning: float = param(
        0.0, "SEK per reconditioning", "per region", "spare parts", ge=0
    )
    external_work_sek_per_work_order: float = param(
        0.0, "SEK per work order", "per region", "work orders bought from external service providers", ge=0
    )
    interest_rate: float = param(0.0, "share per year", "per region", "internal interest on book value", ge=0)
    growth: float = param(
        0.0, "share per year", "assumption", "yearly growth of staff and fixed costs", ge=-0.5, le=0.5
    )


class Capitalisation(Model):
    threshold_sek: float = param(
        1000.0,
        "SEK",
        "vastmanland_review_2026.csv capitalisation_threshold",
        "purchases at or above are capitalised, below expensed",
        ge=0,
    )
    convention: Literal["purchase_month", "next_year"] = param(
        "purchase_month", "-", "assumption", "depreciation starts in the purchase month or on 1 January after"
    )
    method: Literal["prospective", "retroactive"] = param(
        "prospective",
        "-",
        "vastmanland_review_2026.csv residual_book_value_below_half_pbb (both variants discussed)",
        "when the threshold changes on a date: retroactive writes off the book value left of earlier "
        "purchases below the new threshold in its first month; prospective lets them depreciate",
    )


class PriceGroup(Model):
    upper_sek: float | None = param(
        None, "SEK", "per region", "upper bound of the purchase price (none: open)"
    )
    annual_rent_factor: float = param(
        ..., "share per year", "per region", "annual rent / purchase price", ge=0
    )


class RentScheme(Model):
    kind: Literal["depreciation_markup", "at_cost", "rent_factor", "function_rent"] = param(
        ..., "-", "docs/sources.md D3", "how rent is set"
    )
    # depreciation_markup (Norrbotten until 2024) and at_cost (Norrbotten from 2025): markup on top
    front_years: float = param(2.0, "years", "assumption", "the 'first years' with the front share", gt=0)
    front_share: float = param(
        0.75,
        "share",
        "norrbotten_review_2020.csv rent_revenue_share_first_years",
        "revenue share in the front years",
        ge=0,
        le=1,
    )
    markup: float = param(
        0.53,
        "share",
        "norrbotten_review_2020.csv rent_markup_on_depreciation",
        "markup on the depreciation part",
        ge=0,
    )
    residual_rent_sek_per_month: float = param(
        0.0,
        "SEK per device-month",
        "scenario",
        "rent of fully depreciated devices (0 in Norrbotten; a fix to test)",
        ge=0,
    )
    # rent_factor (Västmanland)
    rent_threshold_sek: float = param(
        500.0,
        "SEK",
        "vastmanland_review_2026.csv rent_threshold_purchase_price",
        "at or below: sold, not rented",
        ge=0,
    )
    price_groups: list[PriceGroup] = param([], "-", "per region", "price groups, ascending upper bounds")
    rent_factor_scale: float = param(
        1.0, "factor", "calibration", "multiplies every group's rent factor", gt=0
    )
    # function_rent
    monthly_fee_sek: dict[str, float] = param({}, "SEK per device-month", "per region", "fee by category")

    @model_validator(mode="after")
    def _groups(self) -> RentScheme:
        if self.kind == "rent_factor":
            if not self.price_groups:
                raise ValueError("rent scheme 'rent_factor' needs price_groups")
            bounds = [g.upper_sek for g in self.price_groups]
            if bounds[-1] is not None or any(b is None for b in bounds[:-1]):
                raise ValueError("price_groups: every group but the last needs upper_sek; the last has none")
            if any(b2 <= b1 for b1, b2 in itertools.pairwise(bounds[:-1])):  # type: ignore[operator]
                raise ValueError("price_groups: upper_sek must increase")
        return self


class Services(Model):
    sek_per_work_order: float = param(
        0.0, "SEK per work order", "per region", "billed per repair/inspection", ge=0
    )
    sek_per_installation: float = param(
        0.0, "SEK per installation", "per region", "billed per installation", ge=0
    )
    sek_per_delivery: float = param(
        0.0, "SEK per delivery", "per region", "transport fee per delivered order", ge=0
    )
    sek_per_pickup: float = param(
        0.0, "SEK per returned device", "per region", "transport fee per return", ge=0
    )


class BaseSubscription(Model):
    sek_per_inhabitant_year: float = param(
        0.0,
        "SEK per inhabitant and year",
        "norrbotten_review_2020.csv base_subscription_per_inhabitant",
        "billed to each municipality by its population",
        ge=0,
    )
    indexation: float = param(
        0.0, "share per year", "assumption", "yearly increase from the start year", ge=-0.5, le=0.5
    )


class ResultSplit(Model):
    """The region's share of a year's result under Västmanland's result split (shared by run ledgers and
    accounts-only questions)."""

    region_share: float = param(
        0.2,
        "share",
        "vastmanland_review_2026.csv settlement_region_share",
        "share of the result to the region",
        ge=0,
        le=1,
    )


class Settlement(ResultSplit):
    """How the result is settled with the principals; ``region_share`` applies to ``result_split`` only."""

    kind: Literal["none", "markup_follow_up", "result_split"] = param(
        "none", "-", "docs/sources.md D3", "how the result is settled with the principals"
    )
    period: Literal["quarter", "year"] = param(
        "year", "-", "per region", "settlement period (posted at its end)"
    )
    # markup_follow_up (Norrbotten 2025)
    markup_cost_accounts: list[str] = param(
        [], "-", "norrbotten_followup_2025q1.csv", "cost accounts financed by the markup"
    )
    settle_deficits: bool = param(
        False, "-", "assumption", "also charge a markup deficit to the municipalities"
    )


class AdminCost(Model):
    """An administration cost of a governance arrangement (docs/governance.md): yearly and one-off amounts and
    who bears them. A dated change that puts an item in force posts its one-off amount in that month."""

    name: str = param(..., "-", "per arrangement", "label (e.g. 'secretary', 'members_fees_region')")
    sek_per_year: float = param(0.0, "SEK per year", "per arrangement", "yearly cost, monthly", ge=0)
    one_off_sek: float = param(0.0, "SEK", "per arrangement", "paid once, when the item comes in force", ge=0)
    borne_by: Literal["operator", "region", "municipalities", "shared"] = param(
        "shared",
        "-",
        "norrbotten_supply_review_2020.txt (cost analyses per option)",
        "operator: a cost of the operator (in its result, settled by its rule); "
        "region / municipalities: paid "
        "by them directly; shared: region_share by the region, the rest by the municipalities",
    )
    region_share: float = param(
        0.3,
        "share",
        "governance_options_norrbotten_2020.csv joint_committee: split about 30/70 like device costs",
        "the region's part of a shared cost",
        ge=0,
        le=1,
    )
    municipal_split: Literal["device_costs", "equal"] = param(
        "device_costs",
        "-",
        "assumption: like device costs (the review's 30/70 key); 'equal' for per-member fees",
        "how the municipalities' part is split between them",
    )


class Economics(Model):
    """Economic accounting of a run (see docs/economics.md)."""

    operator: str = param(
        "centre",
        "-",
        "docs/governance.md",
        "ledger principal of the operator (a federation, company or contractor is its own entity)",
        min_length=1,
    )
    rentals_on_operator_change: Literal["transfer", "run_off"] = param(
        "transfer",
        "-",
        "assumption: the review leaves it open (docs/governance.md)",
        "when this state brings a new operator, rentals in progress move to it (transfer) or stay with the "
        "old operator until they end (run_off: their rent, work orders, pickup, reconditioning and the "
        "device's depreciation and interest stay in the old operator's books)",
    )
    admin_costs: list[AdminCost] = param([], "-", "docs/governance.md", "administration costs of governance")
    corporate_tax_rate: float = param(
        0.0,
        "share of a positive yearly result",
        "assumption: 0 for a public operator; a joint company pays corporate tax "
        "(review, Gemensamt aktiebolag)",
        "tax on the operator's positive yearly result before settlement",
        ge=0,
        le=1,
    )

    costs: Costs = param(..., "-", "-", "cost drivers")
    capitalisation: Capitalisation = param(Capitalisation(), "-", "-", "capitalisation and depreciation")
    rent: RentScheme = param(..., "-", "-", "rent scheme")
    sale_markup: float = param(0.0, "share", "per region", "sale price = purchase price x (1 + markup)", ge=0)
    base_subscription: BaseSubscription = param(BaseSubscription(), "-", "-", "base subscription")
    services: Services = param(Services(), "-", "-", "billed services and transport fees")
    other_revenue_sek_per_year: float = param(
        0.0, "SEK per year", "per region", "other income (paid by the region)", ge=0
    )
    settlement: Settlement = param(Settlement(), "-", "-", "settlement of the result")
    reporting_groups: dict[str, list[str]] = param(
        {}, "-", "per region", "cost accounts summed into the region's reporting lines (for comparisons)"
    )
