"""What principals pay the centre: rent, sales, base subscription, services, transport fees.

Rent accrues per day on rent and is summed by month (monthly billing, pro rata for part months).

- ``depreciation_markup`` (Norrbotten): rent follows the device's value. Over its depreciation period a
  device earns its purchase price: ``front_share`` of it spread over the ``front_years`` after purchase and
  the rest over the remaining years; the markup is added on top (a separate account); once fully
  depreciated the rent is ``residual_rent_sek_per_month`` (0 in Norrbotten: the 0-price devices).
- ``rent_factor`` (Västmanland): annual rent = purchase price x the rent factor of its price group; devices
  at or below the rent threshold are sold instead (billed as a sale at each issue).
- ``at_cost`` (Norrbotten from 2025): products passed through at cost. Each month the centre's product
  costs (depreciation, expensed purchases, spare parts, write-offs, interest) less the sold devices are
  invoiced by each principal's share of the straight-line depreciation of the devices it has on rent,
  plus ``markup`` (the revised markup, which finances warehouse, staff, technicians and consultants).
- ``function_rent``: a monthly fee per category; services are not billed apart.

The schemes are a registry (:data:`RENT_SCHEMES`); an unknown kind is rejected.

Sales are billed at delivery: purchase price (``revenue_sales``) plus ``sale_markup`` of it
(``revenue_sales_markup``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.config.economics import Economics
from sim.config.schema import Scenario
from sim.demography import population_at
from sim.economics.assets import per_category
from sim.economics.periods import Months, integrate_by_group, sum_by_month

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12


def payer_indexes(payer: pd.Series, payer_index: dict[str, int]) -> np.ndarray:
    """Each row's principal index (``payer_index`` of its payer's name). A categorical payer column (as the
    ledger builds it: one byte a row) is looked up per category, not per row."""
    if isinstance(payer.dtype, pd.CategoricalDtype):
        lookup = pd.Series([payer_index.get(str(c)) for c in payer.cat.categories], dtype=object)
        if lookup.notna().all():
            out: np.ndarray = lookup.to_numpy(dtype=np.int64)[payer.cat.codes.to_numpy()]
            if not (payer.cat.codes.to_numpy() < 0).any():
                return out
    return payer.astype(str).map(payer_index).to_numpy()


def by_id(ids: np.ndarray, values: np.ndarray, wanted: pd.Series | np.ndarray) -> np.ndarray:
    """``values`` of the rows whose ``ids`` are ``wanted``: by position when the ids are the rows (0, 1,
    ...: the devices and rentals tables), without an index of every id; else through a pandas index (a
    missing id raises KeyError either way)."""
    want = np.asarray(wanted)
    in_order = ids.size > 0 and ids[0] == 0 and ids[-1] == ids.size - 1 and bool((np.diff(ids) == 1).all())
    if in_order and (want.size == 0 or (want.min() >= 0 and want.max() < ids.size)):
        out: np.ndarray = values[want]
        return out
    return pd.Series(values, index=ids).loc[want].to_numpy()


def device_values(devices: pd.DataFrame, column: str, device: pd.Series | np.ndarray) -> np.ndarray:
    """``column`` of the devices with ids ``device``."""
    return by_id(devices["device"].to_numpy(), devices[column].to_numpy(), device)


def _rental_frame(rentals: pd.DataFrame, devices: pd.DataFrame, days: int) -> pd.DataFrame:
    """Rentals clipped to the run (those with days in it), with the device's price, purchase time and
    category (the rows kept are selected before the columns are added: one copy of them, not two)."""
    a = np.clip(rentals["start_day"].to_numpy(), 0.0, days)
    b = np.clip(rentals["end_day"].to_numpy(), 0.0, days)
    keep = b > a
    r = rentals.loc[keep, ["device", "category", "payer", "start_day", "end_day"]]
    # a rental continued in another book (run-off, sim/economics/runoff.py) was issued before its start_day
    r["issued"] = ~rentals["continued"].to_numpy(dtype=bool)[keep] if "continued" in rentals else True
    r["price"] = device_values(devices, "purchase_price", r["device"])
    r["bought"] = device_values(devices, "purchased_day", r["device"])
    r["a"] = a[keep]
    r["b"] = b[keep]
    return r


@dataclass(frozen=True)
class RentInput:
    """What a rent scheme reads: the run's rentals clipped to it, with price, purchase day and payer."""

    rentals: pd.DataFrame  # from _rental_frame
    payer: np.ndarray  # principal index per rental
    groups: int
    econ: Economics
    depreciation_years: dict[str, float]
    months: Months
    product_cost: np.ndarray  # [month] the centre's product costs (for schemes passing them through)
    sales: np.ndarray  # [principal, month] devices sold at purchase price (billed at delivery)


RentScheme = Callable[[RentInput], dict[str, np.ndarray]]


def _years(category: pd.Series, depreciation_years: dict[str, float]) -> np.ndarray:
    """Each rental's depreciation years by its category."""
    years = per_category(category, depreciation_years)
    if years is None:
        return category.astype(str).map(depreciation_years).to_numpy(dtype=float)
    return years.astype(float)


def _depreciation_markup(x: RentInput) -> dict[str, np.ndarray]:
    r, scheme, months = x.rentals, x.econ.rent, x.months
    a, b, price = r["a"].to_numpy(), r["b"].to_numpy(), r["price"].to_numpy()
    years = _years(r["category"], x.depreciation_years)
    front = np.minimum(scheme.front_years, years)
    bought = r["bought"].to_numpy()
    t_front, t_done = bought + front * DAYS_PER_YEAR, bought + years * DAYS_PER_YEAR
    back_years = years - front
    rate_front = np.where(back_years > 0, scheme.front_share, 1.0) * price / (front * DAYS_PER_YEAR)
    rate_back = np.where(
        back_years > 0,
        (1 - scheme.front_share) * price / (np.maximum(back_years, 1e-9) * DAYS_PER_YEAR),
        0.0,
    )
    # two pieces per rental: the front years and the rest of the depreciation period
    pieces_a = np.concatenate([np.maximum(a, bought), np.maximum(a, t_front)])
    pieces_b = np.concatenate([np.minimum(b, t_front), np.minimum(b, t_done)])
    base_rate = np.concatenate([rate_front, rate_back])
    payer = np.concatenate([x.payer, x.payer])
    base = integrate_by_group(pieces_a, pieces_b, base_rate, payer, x.groups, months.bounds)
    out = {"revenue_rent": base, "revenue_rent_markup": base * scheme.markup}
    if scheme.residual_rent_sek_per_month > 0:
        residual = integrate_by_group(
            np.maximum(a, t_done),
            b,
            np.full(a.size, scheme.residual_rent_sek_per_month / DAYS_PER_MONTH),
            x.payer,
            x.groups,
            months.bounds,
        )
        out["revenue_rent"] = out["revenue_rent"] + residual
    return out


def _at_cost(x: RentInput) -> dict[str, np.ndarray]:
    """Products passed through at cost (Norrbotten from 2025): each month the centre's product costs less
    the sold devices (billed at purchase price) are invoiced to the principals in proportion to the
    straight-line depreciation of the devices they have on rent; ``markup`` is added on rent and sales."""
    r, scheme, months = x.rentals, x.econ.rent, x.months
    a, b, price = r["a"].to_numpy(), r["b"].to_numpy(), r["price"].to_numpy()
    years = _years(r["category"], x.depreciation_years)
    bought = r["bought"].to_numpy()
    rate = price / (years * DAYS_PER_YEAR)
    weight = integrate_by_group(
        np.maximum(a, bought),
        np.minimum(b, bought + years * DAYS_PER_YEAR),
        rate,
        x.payer,
        x.groups,
        months.bounds,
    )
    total = weight.sum(axis=0)
    to_rent = x.product_cost - x.sales.sum(axis=0)
    share = np.divide(weight, total, out=np.zeros_like(weight), where=total > 0)
    rent_ = share * to_rent
    return {
        "revenue_rent": rent_,
        "revenue_rent_markup": rent_ * scheme.markup,
    }


def _rent_factor(x: RentInput) -> dict[str, np.ndarray]:
    r, scheme, months = x.rentals, x.econ.rent, x.months
    a, b, price = r["a"].to_numpy(), r["b"].to_numpy(), r["price"].to_numpy()
    bounds = [g.upper_sek for g in scheme.price_groups[:-1]]
    factors = np.array([g.annual_rent_factor for g in scheme.price_groups]) * scheme.rent_factor_scale
    group = np.searchsorted(np.asarray(bounds, dtype=float), price, side="left")
    rented = price > scheme.rent_threshold_sek
    rate = np.where(rented, price * factors[group] / DAYS_PER_YEAR, 0.0)
    out = {"revenue_rent": integrate_by_group(a, b, rate, x.payer, x.groups, months.bounds)}
    sold = ~rented & (r["start_day"].to_numpy() >= 0) & r["issued"].to_numpy(dtype=bool)
    out["revenue_sales"] = sum_by_month(a[sold], price[sold], x.payer[sold], x.groups, months)
    out["revenue_sales_markup"] = out["revenue_sales"] * x.econ.sale_markup
    return out


def _function_rent(x: RentInput) -> dict[str, np.ndarray]:
    r, scheme = x.rentals, x.econ.rent
    fee = r["category"].astype(str).map(lambda c: scheme.monthly_fee_sek.get(c, 0.0)).to_numpy(dtype=float)
    return {
        "revenue_function_rent": integrate_by_group(
            r["a"].to_numpy(), r["b"].to_numpy(), fee / DAYS_PER_MONTH, x.payer, x.groups, x.months.bounds
        )
    }


RENT_SCHEMES: dict[str, RentScheme] = {
    "depreciation_markup": _depreciation_markup,
    "at_cost": _at_cost,
    "rent_factor": _rent_factor,
    "function_rent": _function_rent,
}


def rent(
    rentals: pd.DataFrame,
    devices: pd.DataFrame,
    econ: Economics,
    depreciation_years: dict[str, float],
    payer_index: dict[str, int],
    months: Months,
    product_cost: np.ndarray | None = None,
    sales: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Rent revenue accounts as ``[principal, month]`` arrays, by the scheme's registry entry."""
    scheme = RENT_SCHEMES.get(econ.rent.kind)
    if scheme is None:
        raise ValueError(f"economics.rent.kind {econ.rent.kind!r}: must be one of {', '.join(RENT_SCHEMES)}")
    r = _rental_frame(rentals, devices, months.days)
    groups = len(payer_index)
    zero = np.zeros(len(months))
    return scheme(
        RentInput(
            rentals=r,
            payer=payer_indexes(r["payer"], payer_index),
            groups=groups,
            econ=econ,
            depreciation_years=depreciation_years,
            months=months,
            product_cost=zero if product_cost is None else product_cost,
            sales=np.zeros((groups, len(months))) if sales is None else sales,
        )
    )


def sales(
    deliveries: pd.DataFrame,
    devices: pd.DataFrame,
    markup: float,
    payer_index: dict[str, int],
    months: Months,
) -> dict[str, np.ndarray]:
    """Sales at delivery: price and markup by principal and month."""
    sold = deliveries[deliveries["kind"] == "sale"]
    price = device_values(devices, "purchase_price", sold["device"])
    payer = payer_indexes(sold["payer"], payer_index)
    base = sum_by_month(sold["delivered_day"].to_numpy(), price, payer, len(payer_index), months)
    return {"revenue_sales": base, "revenue_sales_markup": base * markup}


def base_subscription(
    scenario: Scenario, econ: Economics, payer_index: dict[str, int], months: Months
) -> np.ndarray:
    """Each municipality pays its inhabitants x the yearly fee, one twelfth a month (indexed yearly)."""
    out = np.zeros((len(payer_index), len(months)))
    fee = econ.base_subscription.sek_per_inhabitant_year
    if fee <= 0:
        return out
    years = months.year_of_month()
    # part months pay pro rata
    share = np.diff(months.bounds) / np.array([DAYS_PER_MONTH] * len(months))
    share = np.minimum(share, 1.0)
    for m, spec in scenario.demand.population.items():
        growth = scenario.demand.population_growth
        for k, year in enumerate(years):
            persons = sum(
                population_at(spec, band, int(year), growth.get(band, 0.0))
                for band in scenario.demand.age_bands
            )
            index = (1 + econ.base_subscription.indexation) ** (int(year) - int(years[0]))
            out[payer_index[m], k] = persons * fee * index / 12 * share[k]
    return out


def services(
    jobs: pd.DataFrame,
    rentals: pd.DataFrame,
    deliveries: pd.DataFrame,
    econ: Economics,
    payer_index: dict[str, int],
    months: Months,
) -> dict[str, np.ndarray]:
    """Billed work orders, installations and transport fees by principal and month."""
    groups = len(payer_index)
    rental_ids, rental_payer = rentals["rental"].to_numpy(), payer_indexes(rentals["payer"], payer_index)
    s = econ.services
    out: dict[str, np.ndarray] = {}
    tech = jobs[jobs["kind"].isin(["corrective", "preventive"]) & (jobs["rental"] >= 0)]
    out["revenue_work_orders"] = sum_by_month(
        tech["created_day"].to_numpy(),
        np.full(len(tech), s.sek_per_work_order),
        by_id(rental_ids, rental_payer, tech["rental"]),
        groups,
        months,
    )
    inst = jobs[(jobs["kind"] == "installation") & (jobs["rental"] >= 0)]
    out["revenue_installations"] = sum_by_month(
        inst["created_day"].to_numpy(),
        np.full(len(inst), s.sek_per_installation),
        by_id(rental_ids, rental_payer, inst["rental"]),
        groups,
        months,
    )
    fees = sum_by_month(
        deliveries["delivered_day"].to_numpy(),
        np.full(len(deliveries), s.sek_per_delivery),
        payer_indexes(deliveries["payer"], payer_index),
        groups,
        months,
    )
    back = rentals[rentals["returned"].fillna(False).astype(bool)]
    fees += sum_by_month(
        back["end_day"].to_numpy(),
        np.full(len(back), s.sek_per_pickup),
        payer_indexes(back["payer"], payer_index),
        groups,
        months,
    )
    out["revenue_transport"] = fees
    return out
