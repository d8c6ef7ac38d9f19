"""The scenario schema: every parameter declared once, typed, with default, unit and source.

A scenario is a frozen pydantic model. Unknown keys are rejected (``extra="forbid"``); cross-references
(a municipality's depot, a route's municipalities, use rates per category) are checked in
:mod:`sim.config.checks` so that every problem is reported with its key path. Units are in each field's
``unit`` and the origin of each default in its ``source`` (see ``docs/config.md``, generated from here).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import model_validator

from sim.config.base import Model, param
from sim.config.changes import Change, GovernanceChoice
from sim.config.economics import Economics
from sim.config.limits import MAX_STAFF, MAX_YEAR, MIN_YEAR
from sim.output import TABLES, TableName

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ResponsibilityClass = Literal["1", "2", "3", "4", "clinic"]
JobKind = Literal["recondition", "corrective", "preventive", "installation", "fitting"]
KpiName = Literal[
    "kpi_delivery_on_planned_day",
    "kpi_repair_done_within_5_workdays",
    "kpi_fitting_offered_within_15_workdays",
    "kpi_rental_rate_devices_at_customer",
]


FAMILY_CV: dict[str, float] = {"exponential": 1.0, "fixed": 0.0}
"""The cv of the families whose shape fixes it."""


class Dist(Model):
    """A positive random quantity given by its distribution family, mean and coefficient of variation."""

    dist: Literal["fixed", "exponential", "gamma", "lognormal"] = param(
        "lognormal", "-", "assumption: right-skewed, positive", "distribution family"
    )
    mean: float = param(..., "unit of the parameter", "per use", "mean", gt=0)
    cv: float = param(0.5, "share", "assumption", "coefficient of variation (sd / mean)", ge=0, le=10)

    @model_validator(mode="before")
    @classmethod
    def _family_cv(cls, data: Any) -> Any:
        """A family whose cv is fixed by its shape gets that cv when none is given (exponential 1, fixed 0),
        so a dumped config states the cv the sampler has and reads back (the default 0.5 did not)."""
        if isinstance(data, dict) and "cv" not in data and data.get("dist") in FAMILY_CV:
            return {**data, "cv": FAMILY_CV[data["dist"]]}
        return data

    @model_validator(mode="after")
    def _cv_fits_family(self) -> Dist:
        if self.dist == "exponential" and abs(self.cv - 1.0) > 1e-12 and "cv" in self.model_fields_set:
            raise ValueError(f"cv {self.cv} does not fit dist 'exponential' (its cv is 1; leave cv out)")
        if self.dist in ("gamma", "lognormal") and self.cv == 0:
            raise ValueError(f"cv 0 does not fit dist '{self.dist}' (use dist: fixed)")
        return self


class DurationComponent(Dist):
    """One component of a rental-duration mixture (e.g. short-term loans and long-term use)."""

    share: float = param(1.0, "share", "per use", "share of rentals drawn from this component", gt=0, le=1)


class Horizon(Model):
    start_date: date = param(
        date(2023, 1, 1),
        "date",
        "calibration/observed/vastmanland_hmc_2024_interim.csv: from 2023",
        "first day",
    )
    years: float = param(
        10.0, "years", "docs/sources.md, design card: default 10 years", "simulated length", gt=0, le=50
    )
    warmup_days: int = param(
        0,
        "days",
        "assumption: warm start makes long warm-up unnecessary",
        "days at the start excluded from default summary windows",
        ge=0,
    )

    @model_validator(mode="after")
    def _sensible(self) -> Horizon:
        if not MIN_YEAR <= self.start_date.year <= MAX_YEAR - 50:
            raise ValueError(
                f"start_date {self.start_date}: must lie in the years {MIN_YEAR} to {MAX_YEAR - 50} "
                "(the calendar and the ledger are defined there)"
            )
        days = self.years * 365.25
        if days < 1:
            raise ValueError(f"years {self.years:g} is {days:.2g} days: the horizon must be at least one day")
        if self.warmup_days >= days:
            raise ValueError(
                f"warmup_days {self.warmup_days} must be shorter than the horizon ({days:.0f} days)"
            )
        return self


class Calendar(Model):
    workdays: list[Weekday] = param(
        ["mon", "tue", "wed", "thu", "fri"], "weekdays", "Swedish working week", "days the centre works"
    )
    public_holidays: Literal["SE", "none"] = param(
        "SE", "-", "holidays package, Sweden", "public holidays closing the centre ('none' for theory tests)"
    )
    de_facto_holidays: bool = param(
        True,
        "-",
        "holidays package, Sweden 'de_facto' category",
        "also close midsummer, Christmas, New Year's eve",
    )
    opening_hours: tuple[float, float] = param(
        (8.0, 16.0), "hour of day", "assumption: 8-hour working day", "start and end of work on workdays"
    )
    summer_weeks: tuple[int, int] = param(
        (27, 32),
        "ISO week",
        "assumption: Swedish summer holiday period",
        "first and last week of reduced staffing",
    )
    summer_staffing: float = param(
        0.6,
        "share",
        "assumption: 4-5 weeks' holiday spread over 6 weeks",
        "staff present in summer weeks",
        gt=0,
        le=1,
    )

    @model_validator(mode="after")
    def _ordered(self) -> Calendar:
        open_h, close_h = self.opening_hours
        if not 0 <= open_h < close_h <= 24:
            raise ValueError(f"opening_hours {list(self.opening_hours)} must satisfy 0 <= open < close <= 24")
        if not 1 <= self.summer_weeks[0] <= self.summer_weeks[1] <= 53:
            raise ValueError(f"summer_weeks {list(self.summer_weeks)} must satisfy 1 <= first <= last <= 53")
        if not self.workdays:
            raise ValueError("workdays must name at least one weekday")
        return self


class StaffPool(Model):
    count: int = param(
        ..., "persons", "per depot", "staff in the pool (full-time equivalents)", ge=0, le=MAX_STAFF
    )
    productive_share: float = param(
        0.8,
        "share",
        "assumption: breaks, meetings, sick leave (7.2 % in Västmanland) and travel",
        "share of working hours spent on jobs",
        gt=0,
        le=1,
    )
    priority: tuple[JobKind, ...] = param(
        (),
        "job kinds",
        "assumption: no priority rule is documented, and the repair KPI counts preventive maintenance too",
        "job kinds started first when jobs wait, in this order; other kinds after them, in arrival order",
    )

    @model_validator(mode="after")
    def _distinct_priority(self) -> StaffPool:
        if len(set(self.priority)) != len(self.priority):
            raise ValueError(f"priority {list(self.priority)} names a job kind twice")
        return self


class Depot(Model):
    reconditioning_technicians: StaffPool = param(..., "-", "per depot", "technicians reconditioning returns")
    service_technicians: StaffPool = param(
        ..., "-", "per depot", "technicians doing work orders at users and installations"
    )
    consultants: StaffPool = param(..., "-", "per depot", "device consultants doing fittings")
    reconditioning_room: int = param(
        ...,
        "devices",
        "per depot",
        "room for returned devices awaiting reconditioning (pickups wait when full)",
        ge=1,
        le=10_000_000,
    )
    fitting_booking_delay_days: Dist = param(
        Dist(mean=8.0, cv=1.0),
        "days",
        "assumption: prescriber and patient need days to arrange a visit (no source)",
        "from referral until the earliest day a fitting can take place (capacity cannot shorten it)",
    )
    fitting_booking_horizon_workdays: int = param(
        40,
        "workdays",
        "assumption: consultants' calendars open about two months ahead (no source)",
        "how far ahead fittings can be booked; referrals beyond it wait on a list",
        ge=1,
    )
    fitting_hours: Dist = param(
        Dist(mean=3.0, cv=0.5), "hours", "assumption: visit incl. travel and documentation", "consultant time"
    )


class Municipality(Model):
    depot: str = param(..., "-", "per municipality", "depot serving the municipality")
    municipal_depot: str | None = param(
        None,
        "-",
        "per municipality",
        "depot serving the patients the municipality pays for (cost responsibility), if another "
        "organisation than ``depot`` serves them (limited cooperation); None: ``depot`` serves everyone",
    )
    rentals_on_move: Literal["transfer", "run_off"] = param(
        "transfer",
        "-",
        "assumption: the review leaves it open (docs/governance.md)",
        "when a dated change moves the municipality's patients to another depot, rentals in progress "
        "move with them (transfer: the new depot services and collects them) or stay with the old depot "
        "until they end (run_off)",
    )
    distance_km: float = param(
        ..., "km", "distances_straight_line_km.csv", "straight-line km to its depot", ge=0, le=5000
    )
    special_housing_factor: float = param(
        1.0, "factor", "calibration", "multiplies the special-housing share of its patients", ge=0, le=1000
    )
    home_care_factor: float = param(
        1.0, "factor", "calibration", "multiplies the home-health-care share of its patients", ge=0, le=1000
    )
    use_rate_factor: float = param(
        1.0,
        "factor",
        "calibration",
        "multiplies demand.use_rates for its inhabitants (devices per person beyond its age structure: care "
        "needs, care organisation, sparsity); 1 = the county's rates",
        ge=0,
        le=100,
    )


class Route(Model):
    depot: str = param(..., "-", "per route", "depot the vehicles leave from")
    municipalities: list[str] = param(..., "-", "per route", "municipalities served", min_length=1)
    weekdays: list[Weekday] = param(..., "weekdays", "per route", "route days", min_length=1)
    vehicles: int = param(
        1,
        "vehicles",
        "per route",
        "vehicles on each run (0: the route does not run, e.g. prepared for a dated change)",
        ge=0,
        le=1000,
    )
    capacity_units: float = param(
        ..., "volume units", "per route", "load per vehicle and run, each leg", gt=0
    )


class Transport(Model):
    road_factor: float = param(
        1.2,
        "road km per straight-line km",
        "distances_straight_line_km.csv note: about 1.15-1.25",
        "road distance over straight-line distance",
        ge=1,
        le=10,
    )
    km_per_stop: float = param(3.0, "km", "calibration", "local driving per stop", ge=0, le=1000)
    departure_hour: float = param(7.0, "hour of day", "assumption", "vehicles leave the depot", ge=0, lt=24)
    delivery_hour: float = param(11.0, "hour of day", "assumption", "typical delivery time", ge=0, lt=24)
    return_hour: float = param(15.5, "hour of day", "assumption", "vehicles back at the depot", ge=0, lt=24)
    failed_delivery_probability: float = param(
        0.02,
        "share",
        "assumption: wrong address or nobody home (Norrbotten review)",
        "deliveries that fail",
        ge=0,
        lt=1,
    )
    technician_speed_kmh: float | None = param(
        None,
        "km per hour",
        "assumption: the shipped work times (repair_hours, installation_hours) include travel",
        "service technicians' driving speed to users; None: no separate travel (it is in the work times)",
        gt=0,
    )
    service_visits_per_trip: float = param(
        3.0,
        "visits",
        "assumption: a technician combines a few work orders in one municipality per trip",
        "work orders and installations sharing one round trip (used when technician_speed_kmh is set)",
        ge=1,
    )
    dropoff_share: float = param(
        0.0,
        "share",
        "assumption: none in the shipped regions (no data)",
        "returns brought to the depot by the customer (no pickup order)",
        ge=0,
        le=1,
    )
    devices_per_pickup_order: float = param(
        1.77,
        "devices",
        "vastmanland_hmc_2024_interim.csv: returns 11 884 / pickup orders 6 713",
        "mean devices collected per pickup order",
        ge=1,
        le=1000,
    )
    routes: dict[str, Route] = param(..., "-", "per region", "routes by name")

    @model_validator(mode="after")
    def _hours(self) -> Transport:
        if not self.departure_hour <= self.delivery_hour <= self.return_hour:
            raise ValueError("departure_hour <= delivery_hour <= return_hour must hold")
        return self


class Category(Model):
    label: str = param("", "-", "-", "readable name")
    responsibility_class: ResponsibilityClass = param(
        ..., "-", "docs/sources.md D3", "cost-responsibility class"
    )
    rented: bool = param(
        True, "-", "docs/sources.md D3", "rented (returns, reconditioning) or sold (leaves at delivery)"
    )
    tracked_share: float = param(1.0, "share", "per category", "units individually tracked", ge=0, le=1)
    purchase_price: Dist = param(..., "SEK", "per category", "purchase price of a new unit")
    depreciation_years: float = param(
        ..., "years", "devices_sweden_facts.csv write_off_years_*", "life", ge=1 / 12, le=100
    )
    rental_duration: list[DurationComponent] = param([], "days", "per category", "rental duration mixture")
    return_share: float = param(1.0, "share", "per category", "ended rentals that come back", ge=0, le=1)
    corrective_per_device_year: float = param(
        0.0, "work orders per device-year", "calibration", "repairs", ge=0, le=365
    )
    corrective_age_factor: float = param(
        0.0,
        "per year of age",
        "assumption: older devices need more service (Norrbotten review)",
        "repair rate multiplier 1 + factor x age",
        ge=0,
        le=100,
    )
    preventive_per_device_year: float = param(
        0.0, "per device-year", "per category", "inspections", ge=0, le=365
    )
    repair_hours: Dist = param(
        Dist(mean=1.5, cv=0.6), "hours", "assumption", "technician time per work order"
    )
    spare_part_share: float = param(
        0.0, "share", "calibration", "repairs waiting for spare parts", ge=0, le=1
    )
    spare_part_wait_days: Dist = param(Dist(mean=10.0, cv=0.6), "days", "assumption", "spare-part lead time")
    scrap_probability: float = param(0.1, "share", "per category", "returns scrapped when young", ge=0, le=1)
    scrap_age_years: float = param(
        10.0, "years", "per category", "age from which old-age scrapping applies", gt=0, le=100
    )
    scrap_probability_old: float = param(
        0.7, "share", "per category", "returns scrapped when old", ge=0, le=1
    )
    max_cycles: int = param(10, "rentals", "assumption", "rentals after which a return is scrapped", ge=1)
    recondition_work_order_share: float = param(
        0.6, "share", "calibration", "kept returns needing a technician work order", ge=0, le=1
    )
    recondition_hours: Dist = param(Dist(mean=1.0, cv=0.6), "hours", "assumption", "reconditioning time")
    fitting_share: float = param(
        0.0, "share", "calibration", "orders needing a consultant fitting", ge=0, le=1
    )
    installation_share: float = param(
        0.0, "share", "per category", "deliveries needing installation", ge=0, le=1
    )
    installation_hours: Dist = param(Dist(mean=2.0, cv=0.5), "hours", "assumption", "installation time")
    volume_units: float = param(1.0, "volume units", "assumption", "vehicle space per unit", gt=0, le=1e6)
    lead_time_days: Dist = param(Dist(mean=14.0, cv=0.5), "days", "assumption", "supplier lead time")
    reorder_point_days: float = param(10.0, "days of orders", "calibration", "reorder point", ge=0, le=3650)
    order_up_to_days: float = param(25.0, "days of orders", "calibration", "order-up-to level", gt=0, le=3650)
    initial_age_years: Dist | None = param(
        None,
        "years",
        "derived: stationary fleet ages (warm start)",
        "age of devices existing at the start "
        "(None: derived from the scrap and return rules, see sim/model/warmstart.py)",
    )
    unit_device_share: float = param(
        0.10,
        "share",
        "vastmanland_review_2026.csv unit_devices_share_of_prescriptions",
        "orders for care units",
        ge=0,
        le=1,
    )

    @model_validator(mode="after")
    def _rental(self) -> Category:
        if self.rented and not self.rental_duration:
            raise ValueError("a rented category needs rental_duration (at least one component)")
        total = sum(c.share for c in self.rental_duration)
        if self.rental_duration and abs(total - 1.0) > 1e-6:
            raise ValueError(f"rental_duration shares sum to {total:g}, must sum to 1")
        if self.order_up_to_days < self.reorder_point_days:
            raise ValueError(
                f"order_up_to_days {self.order_up_to_days:g} must be >= reorder_point_days "
                f"{self.reorder_point_days:g}"
            )
        return self


class AgeBand(Model):
    child_share: float = param(0.0, "share", "SCB age structure", "persons under 18 in the band", ge=0, le=1)
    special_housing_share: float = param(
        0.0, "share", "calibration", "patients in special housing", ge=0, le=1
    )
    home_care_share: float = param(0.0, "share", "calibration", "patients in home health care", ge=0, le=1)


class Trend(Model):
    growth: float = param(0.0, "share per year", "assumption", "demand growth beyond demography", gt=-1, lt=1)
    base_year: int | None = param(
        None, "year", "-", "year the trend is 1 (default: start year)", ge=MIN_YEAR, le=MAX_YEAR
    )


class Shock(Model):
    """A demand override: a multiplier over a period, optionally for some categories or municipalities."""

    start_date: date = param(..., "date", "scenario", "first day")
    end_date: date | None = param(None, "date", "scenario", "last day (open-ended if absent)")
    multiplier: float = param(..., "factor", "scenario", "demand multiplier", ge=0, le=1000)
    categories: list[str] = param([], "-", "scenario", "categories affected (all if empty)")
    municipalities: list[str] = param([], "-", "scenario", "municipalities affected (all if empty)")


class PopulationChange(Model):
    """A planner's what-if on one age band: "80+ grows 40 % by 2030" (see sim.demography)."""

    growth: float | None = param(
        None,
        "share",
        "scenario",
        "growth of the band from base_year to target_year (0.4 = +40 %); None: only the municipalities below",
        gt=-1,
    )
    target_year: int = param(..., "year", "scenario", "year the growth is reached", ge=1900, le=2200)
    base_year: int | None = param(
        None,
        "year",
        "scenario",
        "year the growth is measured from (default: the start year)",
        ge=1900,
        le=2200,
    )
    municipalities: dict[str, float] = param(
        {}, "share", "scenario", "growth per municipality, replacing growth there (municipality -> share)"
    )

    @model_validator(mode="after")
    def _something(self) -> PopulationChange:
        if self.growth is None and not self.municipalities:
            raise ValueError("give growth or municipalities (growth per municipality)")
        if self.base_year is not None and self.base_year >= self.target_year:
            raise ValueError(f"base_year {self.base_year} must be before target_year {self.target_year}")
        for m, g in self.municipalities.items():
            if g <= -1:
                raise ValueError(f"municipalities.{m}: {g}: growth must be > -1")
        return self


class Demand(Model):
    population: dict[str, dict[int, dict[str, float]]] = param(
        ..., "persons", "population table (see population_table)", "municipality -> year -> band -> persons"
    )
    population_growth: dict[str, float] = param(
        {}, "share per year", "per band", "growth of each band after the last table year (0 if absent)"
    )
    population_scenario: dict[str, PopulationChange] = param(
        {},
        "-",
        "scenario",
        "band -> growth to a target year, replacing the table's path of that band from the base year on",
    )
    age_bands: dict[str, AgeBand] = param(..., "-", "per region", "age bands and patient attributes")
    use_rates: dict[str, dict[str, float]] = param(
        ..., "orders per 1000 persons and year", "calibration", "category -> band -> rate"
    )
    trend: Trend = param(Trend(), "-", "-", "trend beyond demography")
    weekday_weights: dict[Weekday, float] = param(
        {}, "factor", "assumption", "relative order intensity per workday (1 if absent)"
    )
    monthly_factors: list[float] = param(
        [1.0] * 12,
        "factor",
        "assumption",
        "relative intensity per month (normalised to mean 1)",
        min_length=12,
        max_length=12,
    )
    unit_device_municipal_share: float = param(
        0.32,
        "share",
        "vastmanland_review_2026.csv unit_devices_muni_share 2022",
        "unit devices owned by municipal units",
        ge=0,
        le=1,
    )
    shocks: list[Shock] = param([], "-", "scenario", "demand shocks")


class Responsibility(Model):
    """Who pays (cost responsibility); applied to the DES's patient attributes, see sim.responsibility."""

    region_classes: list[ResponsibilityClass] = param(
        ["1", "clinic"], "-", "docs/sources.md D3 (Västmanland)", "classes always paid by the region"
    )
    municipality_pays_special_housing: bool = param(
        True, "-", "docs/sources.md D3", "special housing -> municipality"
    )
    municipality_pays_home_care: bool = param(
        False,
        "-",
        "docs/sources.md D3: home care with region today (reform studied)",
        "home health care -> municipality",
    )
    children_with_region: bool = param(
        True, "-", "docs/sources.md D1", "children's devices stay with the region"
    )


class Prescribing(Model):
    """Who prescribes (region or municipal prescribers), applied to the DES's patient attributes by
    ``sim.responsibility.prescriber_column``; the DES does not use it (reports compare prescriber and payer).

    Rules in order: unit devices by the unit's principal; children and the region's classes (specialist
    functions) by the region; patients in special housing or municipal home health care, and devices whose
    prescription and fitting need a home visit, by their municipality; everyone else by the region.
    """

    region_classes: list[ResponsibilityClass] = param(
        ["1", "clinic"],
        "-",
        "docs/sources.md P1 (Norrbotten review 2020: specialist functions stay with the region)",
        "classes always prescribed by the region's specialist teams",
    )
    home_visit_classes: list[ResponsibilityClass] = param(
        ["4"],
        "-",
        "docs/sources.md P1 (devices needing a home visit to prescribe and fit are municipal); assumption: "
        "class 4 care devices (lifts, beds, hygiene chairs, pressure relief) are those",
        "classes prescribed by municipal therapists also for adults in ordinary housing",
    )
    children_with_region: bool = param(
        True,
        "-",
        "docs/sources.md P1 (devices for children 0-17 stay with the region)",
        "children by the region",
    )


class InitialState(Model):
    reconditioning_backlog_days: float = param(
        2.0, "days of returns", "assumption", "devices awaiting reconditioning at the start", ge=0, le=365
    )
    history_years: int = param(
        15,
        "years",
        "assumption: longer than nearly all rentals and device lives, so the fleet at the start forgets "
        "the empty region the pre-simulation starts from",
        "past years of demand run forward to build the fleet at the start (sim/model/warmstart.py)",
        ge=1,
        le=40,
    )


class Outputs(Model):
    tables: list[TableName] = param(list(TABLES), "-", "-", "tables written by hmsim run (all by default)")


class Scenario(Model):
    name: str = param("scenario", "-", "-", "scenario name")
    description: str = param("", "-", "-", "what the scenario represents")
    price_level: float = param(
        1.0,
        "factor",
        "per region",
        "multiplies every category's purchase price (regional price level)",
        gt=0,
        le=1000,
    )
    seed: int = param(1, "-", "-", "master seed (overridden by --seed)", ge=0)
    horizon: Horizon = param(Horizon(), "-", "-", "simulated period")
    calendar: Calendar = param(Calendar(), "-", "-", "working calendar")
    depots: dict[str, Depot] = param(..., "-", "-", "depots by name", min_length=1)
    municipalities: dict[str, Municipality] = param(..., "-", "-", "municipalities by name", min_length=1)
    categories: dict[str, Category] = param(..., "-", "-", "device categories by name", min_length=1)
    transport: Transport = param(..., "-", "-", "routes and vehicles")
    demand: Demand = param(..., "-", "-", "demand model")
    responsibility: Responsibility = param(Responsibility(), "-", "-", "cost-responsibility rules")
    prescribing: Prescribing = param(Prescribing(), "-", "-", "who prescribes (reports only)")
    initial: InitialState = param(InitialState(), "-", "-", "warm-start settings")
    outputs: Outputs = param(Outputs(), "-", "-", "what to write")
    economics: Economics | None = param(None, "-", "-", "economic accounting (no ledger if absent)")
    changes: list[Change] = param(
        [], "-", "scenario", "dated changes: from a date, dotted keys take new values (docs/governance.md)"
    )
    governance: GovernanceChoice | None = param(
        None, "-", "docs/governance.md", "a governance option, expanded into dated changes"
    )
    kpi_targets: dict[KpiName, float] = param(
        {},
        "share",
        "per region (the centre's targets, calibration/observed)",
        "service KPI targets, shown beside the simulated KPIs per year by hmsim run and hmsim summary",
    )
