"""Warm start: begin the run near steady state instead of from an empty region.

Rentals of one municipality and category form an M/G/∞ system (orders arrive as Poisson, each rental
lasts an independent duration), whose stationary number in use is Poisson with mean
``rate x mean duration`` and whose rentals in progress have length-biased total durations with the
elapsed part uniform (see :func:`sim.model.distributions.equilibrium_split`).

Device ages follow the stationary age distribution of the fleet: with a steady purchase rate the density
of ages is proportional to the survival function ``S(a)`` of a device, which follows from the model's own
rules. A device completes a rental cycle (a rental plus the days before its next one) ``r = 365.25 /
(mean duration + TURNAROUND_DAYS)`` times a year; each cycle it is lost with probability
``1 - return_share`` or, when returned, scrapped with ``scrap_probability`` (``scrap_probability_old`` from
``scrap_age_years``), and surely after ``max_cycles`` cycles: hazard ``r x loss(a)``. Ages are drawn from
``S`` independently of the current rental, whose elapsed time is then capped at the device's age (a young
device's rental began at most when it was bought); ``initial_age_years`` overrides ``S``. So the devices
being depreciated at the start match the purchases the run will make, and the fleet's age mix stays steady
instead of drifting in the first years. New stock starts uniformly between the reorder point and the
order-up-to level (the stationary inventory position of an (s, S) policy), and the workshop holds
``reconditioning_backlog_days`` of returns.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sim.config.schema import Category
from sim.model.demand import Patients
from sim.model.distributions import equilibrium_split, mixture_mean, sampler
from sim.model.fates import DAYS_PER_YEAR, Fates, draw_fates
from sim.model.fleet import IN_WORKSHOP, ON_RENT, STOCK_NEW
from sim.model.workshop import JOB_KINDS, POOL_NAMES

if TYPE_CHECKING:
    from sim.model.engine import Simulation

TURNAROUND_DAYS = (
    8.0  # days between a device's rentals: measured mean 7-13 in the shipped regions (docs/model.md)
)


def warm_start(sim: Simulation) -> None:
    """Create the devices on rent, in stock and in the workshop at time 0."""
    s = sim.scenario
    demand = sim.demand
    annual = demand.annual_rate(sim.calendar.start.year)
    for m, m_name in enumerate(sim.municipality_names):
        depot = s.depots[s.municipalities[m_name].depot]
        for c, c_name in enumerate(sim.category_names):
            cat = s.categories[c_name]
            if not cat.rented:
                continue
            gen = sim.streams.generator(f"initial/{m_name}/{c_name}")
            mean_days = mixture_mean(cat.rental_duration)
            n = int(gen.poisson(annual[m, c] / DAYS_PER_YEAR * mean_days))
            if n == 0:
                continue
            elapsed, residual = equilibrium_split(cat.rental_duration, gen, n)
            patients = demand.draw_patients(gen, m, c, n, np.zeros(n, dtype=np.int16))
            age_days = initial_ages(cat, gen, n)
            elapsed = np.minimum(
                elapsed, age_days
            )  # a young device's rental began at most when it was bought
            tracked = gen.random(n) < cat.tracked_share
            price = sampler(cat.purchase_price, s.price_level)(gen, n)
            fates = draw_fates(gen, cat, depot, s.transport.dropoff_share, n, durations=elapsed + residual)
            add_rentals_in_progress(sim, m, c, elapsed, age_days, tracked, price, fates, patients)
    _initial_stock(sim)
    _initial_backlog(sim)


def survival(
    cat: Category, max_years: float = 40.0, step_years: float = 1 / 48
) -> tuple[np.ndarray, np.ndarray]:
    """Ages (years, a grid) and the probability that a device reaches each age in the fleet."""
    ages = np.arange(0.0, max_years + step_years, step_years)
    cycles_per_year = DAYS_PER_YEAR / (mixture_mean(cat.rental_duration) + TURNAROUND_DAYS)
    scrap = np.where(ages >= cat.scrap_age_years, cat.scrap_probability_old, cat.scrap_probability)
    loss = (1 - cat.return_share) + cat.return_share * scrap
    hazard = cycles_per_year * loss
    cumulative = np.concatenate([[0.0], np.cumsum(hazard[:-1] * step_years)])
    alive = np.exp(-cumulative)
    alive[ages * cycles_per_year >= cat.max_cycles] = 0.0  # scrapped after the last allowed cycle
    return ages, alive


def initial_ages(cat: Category, gen: np.random.Generator, n: int) -> np.ndarray:
    """Ages (days) of ``n`` devices existing at the start: the stationary fleet age distribution."""
    if cat.initial_age_years is not None:
        return sampler(cat.initial_age_years)(gen, n) * DAYS_PER_YEAR
    ages, alive = survival(cat)
    cdf = np.concatenate([[0.0], np.cumsum((alive[1:] + alive[:-1]) / 2 * np.diff(ages))])
    cdf /= cdf[-1]
    return np.interp(gen.random(n), cdf, ages) * DAYS_PER_YEAR


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
) -> None:
    """Devices on rent at time 0 in municipality ``m``, category ``c``: rented ``elapsed`` days ago, aged
    ``age_days``, with their fates (total duration = ``fates.duration``) and patients."""
    fleet = sim.fleet
    k = sim.muni_depot[m]
    mean_days = mixture_mean(sim.scenario.categories[sim.category_names[c]].rental_duration)
    first = sum(len(p.band) for p in sim.initial_patients)
    sim.initial_patients.append(patients)
    for i in range(len(elapsed)):
        dev = fleet.new_device(
            c,
            k,
            -float(age_days[i]),
            initial=True,
            state=ON_RENT,
            tracked=bool(tracked[i]),
            price=float(price[i]),
        )
        fleet.cycles[dev] = int((age_days[i] - elapsed[i]) // (mean_days + TURNAROUND_DAYS))
        fleet.start_rental(dev, -(first + i + 1), m, 0.0, fates, i, start=-float(elapsed[i]))


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
                sim.stock.new[k][c].append(dev)


def _initial_backlog(sim: Simulation) -> None:
    """Returned devices waiting for reconditioning at time 0 (their last rental is not simulated)."""
    s = sim.scenario
    days = s.initial.reconditioning_backlog_days
    if days <= 0:
        return
    gen = sim.streams.generator("initial/backlog")
    annual = sim.demand.annual_rate(sim.calendar.start.year)
    recon_pool = POOL_NAMES.index("reconditioning_technicians")
    recondition = JOB_KINDS.index("recondition")
    for c, cat in enumerate(s.categories.values()):
        if not cat.rented:
            continue
        hours = sampler(cat.recondition_hours)
        for k in range(sim.K):
            per_day = float(annual[sim.muni_depot_array == k, c].sum()) / DAYS_PER_YEAR
            kept = (1.0 - cat.scrap_probability) * cat.return_share * cat.recondition_work_order_share
            n = int(gen.poisson(per_day * kept * days)) if per_day > 0 else 0
            if n == 0:
                continue
            ages = initial_ages(cat, gen, n)
            work = hours(gen, n)
            for i in range(n):
                dev = sim.fleet.new_device(c, k, -float(ages[i]), initial=True, state=IN_WORKSHOP)
                sim.fleet.cycles[dev] = max(
                    1, math.ceil(ages[i] / (mixture_mean(cat.rental_duration) + TURNAROUND_DAYS))
                )
                sim.in_workshop_kc[k * sim.C + c] += 1
                job = sim.jobs.add(recon_pool, recondition, k, -1, c, dev, 0.0, float(work[i]))
                sim.pools[k][recon_pool].submit(job)
