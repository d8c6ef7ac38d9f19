"""Warm start: the fleet at the start date carries the region's history.

Instead of a stationary distribution, the warm start runs the past forward: a fast, vectorised
pre-simulation of the ``initial.history_years`` before the start date, per depot x category, in steps of
:data:`STEP_DAYS`. Each step draws the step's orders per municipality (Poisson with the past year's expected
orders ``DemandModel.annual_rate(year)``: population history x use rates x trend; before the demand model's
first year the trend is extrapolated backwards), their rental durations, and issues devices reuse-first:
reconditioned units returned in earlier steps (oldest return first), else new units bought that day. Each
rental that ended before the start is triaged by the model's own rules (lost with ``1 - return_share``;
scrapped with ``scrap_probability``, ``scrap_probability_old`` from ``scrap_age_years``, or after
``max_cycles`` rentals; else back to the pool after :data:`TURNAROUND_DAYS`). Rentals still running at the
start become the devices on rent, with their real elapsed time, total duration (length bias and the growth
of the past both come out of the pre-simulation), device age and cycle count, so returns, scrapping,
repairs (by age) and book values (from the purchase day) follow the fleet's growth and age from day one.
``initial_age_years`` still overrides the ages. New stock starts uniformly between the reorder point and
the order-up-to level (the stationary inventory position of an (s, S) policy), and the workshop holds
``reconditioning_backlog_days`` of returns whose ages are drawn from the fleet's.

Simplifications (documented in docs/model.md): within a step every order may use any unit returned in an
earlier step; stock limits, purchase lead times and capacity play no role in the past; units left in the
reconditioned pool at the start are not carried over (the run starts with new stock only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sim.config.schema import Category
from sim.model.demand import DemandModel, Patients
from sim.model.distributions import mixture_mean, mixture_sampler, sampler
from sim.model.fates import DAYS_PER_YEAR, Fates, draw_fates
from sim.model.fleet import IN_WORKSHOP, ON_RENT, STOCK_NEW

if TYPE_CHECKING:
    from sim.model.engine import Simulation

TURNAROUND_DAYS = (
    8.0  # days between a device's rentals: measured mean 7-13 in the shipped regions (docs/model.md)
)
STEP_DAYS = (
    28.0  # days per pre-simulation step (longer than the turnaround, so a return is reusable next step)
)


@dataclass
class History:
    """Result of the pre-simulation of one depot x category: rentals running at the start (one entry each)
    and the past's yearly totals (index 0 = the first history year)."""

    municipality: np.ndarray  # index into the scenario's municipalities
    start: np.ndarray  # days (negative: before the start date)
    duration: np.ndarray  # days, total
    purchased: np.ndarray  # days (negative)
    cycles: np.ndarray  # rentals of the device including this one
    years: list[int] = field(default_factory=list)
    orders: np.ndarray = field(default_factory=lambda: np.zeros(0))
    returns: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scrapped: np.ndarray = field(default_factory=lambda: np.zeros(0))
    purchases: np.ndarray = field(default_factory=lambda: np.zeros(0))
    on_rent_year_end: np.ndarray = field(default_factory=lambda: np.zeros(0))


def past_annual_rate(demand: DemandModel, year: int) -> np.ndarray:
    """Expected orders ``[municipality, category]`` in ``year``: the demand model's (population history x use
    rates x trend) where its population table reaches, before that its first year with the trend run
    backwards."""
    first = demand.all_years[0]
    if year >= first:
        return demand.annual_rate(year)
    growth = demand.scenario.demand.trend.growth
    return demand.annual_rate(first) * (1.0 + growth) ** (year - first)


def simulate_history(
    gen: np.random.Generator,
    cat: Category,
    rates: np.ndarray,
    municipalities: np.ndarray,
    start_year: int,
    history_years: int,
) -> History:
    """Run ``history_years`` of one depot x category forward to the start date (time 0).

    ``rates[y, i]``: expected orders per year of municipality ``municipalities[i]`` in history year ``y``
    (``y = 0`` is ``start_year - history_years``)."""
    span = history_years * DAYS_PER_YEAR
    n_steps = max(1, math.ceil(span / STEP_DAYS))
    edges = np.linspace(-span, 0.0, n_steps + 1)
    durations = mixture_sampler(cat.rental_duration)
    n_years = history_years
    stats = np.zeros((4, n_years))  # orders, returns, scrapped, purchases
    on_rent_end = np.zeros(n_years)
    pool_purchased = np.zeros(0)
    pool_cycles = np.zeros(0, dtype=np.int64)
    # rentals ending before time 0 and not yet triaged, in the order they were drawn (step by step, each
    # step's in start order): purchase day, cycles, end and the step they end in. A step's ended rentals are
    # selected from these with one mask, so they keep that order (a bucket per end step, filled part by part,
    # cost hundreds of small array operations per step)
    wait_purchased = np.zeros(0)
    wait_cycles = np.zeros(0, dtype=np.int64)
    wait_end = np.zeros(0)
    wait_step = np.zeros(0, dtype=np.int64)
    running: list[tuple[np.ndarray, ...]] = []  # (muni, start, duration, purchased, cycles) beyond time 0
    on_rent = 0
    for s in range(n_steps):
        t0, t1 = float(edges[s]), float(edges[s + 1])
        y = min(int((t0 + span) // DAYS_PER_YEAR), n_years - 1)
        # rentals that ended in the previous step: triage (lost, scrapped or back to the pool)
        if s > 0 and wait_step.size:
            ended = wait_step == s - 1  # the earliest step still waiting: no rental ends before its own step
            if ended.any():
                pool_purchased, pool_cycles, on_rent = _triage(
                    gen, cat, wait_purchased[ended], wait_cycles[ended], wait_end[ended], pool_purchased,
                    pool_cycles, on_rent, stats, y,
                )  # fmt: skip
                left = ~ended
                wait_purchased, wait_cycles = wait_purchased[left], wait_cycles[left]
                wait_end, wait_step = wait_end[left], wait_step[left]
        # this step's orders, reuse first (oldest return first), else a new unit
        counts = gen.poisson(rates[y] * (t1 - t0) / DAYS_PER_YEAR)
        n = int(counts.sum())
        if n:
            muni = np.repeat(municipalities, counts)
            start = np.sort(t0 + (t1 - t0) * gen.random(n))
            muni = muni[gen.permutation(n)]
            duration = durations(gen, n)
            reuse = min(n, pool_purchased.size)
            purchased = np.concatenate([pool_purchased[:reuse], start[reuse:]])
            cycles = np.concatenate([pool_cycles[:reuse], np.zeros(n - reuse, dtype=np.int64)]) + 1
            pool_purchased, pool_cycles = pool_purchased[reuse:], pool_cycles[reuse:]
            stats[0, y] += n
            stats[3, y] += n - reuse
            on_rent += n
            end = start + duration
            step = np.searchsorted(edges, end, side="right") - 1
            beyond = step >= n_steps
            if beyond.any():
                running.append(
                    (muni[beyond], start[beyond], duration[beyond], purchased[beyond], cycles[beyond])
                )
            within = ~beyond
            if within.any():
                wait_purchased = np.concatenate([wait_purchased, purchased[within]])
                wait_cycles = np.concatenate([wait_cycles, cycles[within]])
                wait_end = np.concatenate([wait_end, end[within]])
                wait_step = np.concatenate([wait_step, step[within]])
        if s + 1 == n_steps or int((t1 + span) // DAYS_PER_YEAR) != int((t0 + span) // DAYS_PER_YEAR):
            pending = int(np.count_nonzero(wait_step == s))  # ended in this step, triaged next step
            on_rent_end[y] = on_rent - pending
    if running:
        muni, start, duration, purchased, cycles = (np.concatenate(col) for col in zip(*running, strict=True))
    else:
        muni, start, duration, purchased = (np.zeros(0, dtype=t) for t in (np.int64, float, float, float))
        cycles = np.zeros(0, dtype=np.int64)
    return History(
        municipality=muni,
        start=start,
        duration=duration,
        purchased=purchased,
        cycles=cycles,
        years=list(range(start_year - history_years, start_year)),
        orders=stats[0],
        returns=stats[1],
        scrapped=stats[2],
        purchases=stats[3],
        on_rent_year_end=on_rent_end,
    )


def _triage(
    gen: np.random.Generator,
    cat: Category,
    purchased: np.ndarray,
    cycles: np.ndarray,
    end: np.ndarray,
    pool_purchased: np.ndarray,
    pool_cycles: np.ndarray,
    on_rent: int,
    stats: np.ndarray,
    y: int,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Ended rentals (purchase day, cycles, end): lost, scrapped, or appended to the reuse pool in order of
    their end; returns the pool and the number still on rent."""
    u = gen.random((end.size, 2))
    returned = u[:, 0] < cat.return_share
    age = (end - purchased) / DAYS_PER_YEAR
    p_scrap = np.where(age >= cat.scrap_age_years, cat.scrap_probability_old, cat.scrap_probability)
    scrap = returned & ((cycles >= cat.max_cycles) | (u[:, 1] < p_scrap))
    keep = returned & ~scrap
    order = np.argsort(end[keep], kind="stable")
    stats[1, y] += returned.sum()
    stats[2, y] += scrap.sum()
    return (
        np.concatenate([pool_purchased, purchased[keep][order]]),
        np.concatenate([pool_cycles, cycles[keep][order]]),
        on_rent - end.size,
    )


def history_rates(sim: Simulation, k: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    """Municipalities served by depot ``k`` and their expected orders of category ``c`` per history year."""
    munis = np.flatnonzero(sim.muni_depot_array == k)
    start_year = sim.calendar.start.year
    years = range(start_year - sim.scenario.initial.history_years, start_year)
    rates = np.array([past_annual_rate(sim.demand, y)[munis, c] for y in years])
    return munis, rates


def warm_start(sim: Simulation) -> None:
    """Create the devices on rent, in stock and in the workshop at time 0."""
    s = sim.scenario
    demand = sim.demand
    history_years = s.initial.history_years
    sim.history = {}
    for k, k_name in enumerate(sim.depot_names):
        depot = s.depots[k_name]
        for c, c_name in enumerate(sim.category_names):
            cat = s.categories[c_name]
            if not cat.rented:
                continue
            munis, rates = history_rates(sim, k, c)
            if munis.size == 0:
                continue
            gen = sim.streams.generator(f"history/{k_name}/{c_name}")
            hist = simulate_history(gen, cat, rates, munis, sim.calendar.start.year, history_years)
            sim.history[(k, c)] = hist
            for m in munis.tolist():
                sel = np.flatnonzero(hist.municipality == m)
                n = sel.size
                if n == 0:
                    continue
                m_name = sim.municipality_names[m]
                gen_m = sim.streams.generator(f"initial/{m_name}/{c_name}")
                elapsed = -hist.start[sel]
                age_days = -hist.purchased[sel]
                if cat.initial_age_years is not None:
                    age_days = np.maximum(sampler(cat.initial_age_years)(gen_m, n) * DAYS_PER_YEAR, elapsed)
                patients = demand.draw_patients(gen_m, m, c, n, np.zeros(n, dtype=np.int16))
                tracked = gen_m.random(n) < cat.tracked_share
                price = sampler(cat.purchase_price, s.price_level)(gen_m, n)
                fates = draw_fates(
                    gen_m, cat, depot, s.transport.dropoff_share, n, durations=hist.duration[sel]
                )
                add_rentals_in_progress(
                    sim, m, c, elapsed, age_days, tracked, price, fates, patients, hist.cycles[sel] - 1
                )
    _initial_stock(sim)
    _initial_backlog(sim)


def add_rentals_in_progress(
    sim: Simulation,
    m: int,
    c: int,
    elapsed: np.ndarray,
    age_days: np.ndarray,
    tracked: np.ndarray,
    price: np.ndarray,
    fates: Fates,
    patients: Patients,
    prior_cycles: np.ndarray | None = None,
) -> None:
    """Devices on rent at time 0 in municipality ``m``, category ``c``: rented ``elapsed`` days ago, aged
    ``age_days``, after ``prior_cycles`` earlier rentals (default: estimated from the age), with their
    fates (total duration = ``fates.duration``) and patients."""
    fleet = sim.fleet
    k = sim.muni_depot[m]
    mean_days = mixture_mean(sim.scenario.categories[sim.category_names[c]].rental_duration)
    first = sum(len(p.band) for p in sim.initial_patients)
    sim.initial_patients.append(patients)
    if prior_cycles is None:
        prior_cycles = ((age_days - elapsed) // (mean_days + TURNAROUND_DAYS)).astype(np.int64)
    first_dev = fleet.add_devices(c, k, -age_days, ON_RENT, tracked, price, prior_cycles)
    sources = range(-(first + 1), -(first + len(elapsed) + 1), -1)
    fleet.start_rentals_in_progress(first_dev, sources, m, -elapsed, fates.rows())


def _initial_stock(sim: Simulation) -> None:
    """New stock at a stationary point of the (s, S) policy: uniform between reorder point and order-up-to."""
    gen = sim.streams.generator("initial/stock")
    levels = sim.stock.levels[0]
    for k in range(sim.K):
        for c in range(sim.C):
            reorder, up_to = levels[k][c]
            n = round(reorder + gen.random() * (up_to - reorder))
            if n == 0:
                continue
            ages = gen.random(n) * 60.0  # assumption: received within the last two months
            for i in range(n):
                dev = sim.fleet.new_device(c, k, -float(ages[i]), initial=True, state=STOCK_NEW)
                sim.stock.put(dev, 0.0, reconditioned=False)


def _initial_backlog(sim: Simulation) -> None:
    """Returned devices waiting for reconditioning at time 0 (their last rental is not simulated); ages and
    cycles are drawn from the devices of the same depot and category on rent at the start."""
    s = sim.scenario
    days = s.initial.reconditioning_backlog_days
    if days <= 0:
        return
    gen = sim.streams.generator("initial/backlog")
    annual = sim.demand.annual_rate(sim.calendar.start.year)
    for c, cat in enumerate(s.categories.values()):
        if not cat.rented:
            continue
        hours = sampler(cat.recondition_hours)
        for k in range(sim.K):
            per_day = float(annual[sim.muni_depot_array == k, c].sum()) / DAYS_PER_YEAR
            kept = (1.0 - cat.scrap_probability) * cat.return_share * cat.recondition_work_order_share
            n = int(gen.poisson(per_day * kept * days)) if per_day > 0 else 0
            hist = sim.history.get((k, c))
            if n == 0 or hist is None or hist.purchased.size == 0:
                continue
            pick = gen.integers(0, hist.purchased.size, n)
            ages = -hist.purchased[pick]
            work = hours(gen, n)
            for i in range(n):
                dev = sim.fleet.new_device(
                    c, k, -float(ages[i]), initial=True, state=IN_WORKSHOP, cycles=int(hist.cycles[pick[i]])
                )
                sim.stock.queue_reconditioning(dev, 0.0, float(work[i]))
