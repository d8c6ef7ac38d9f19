"""Config of an accounting-only question (``hmsim accounts``): yearly figures in, a multi-year ledger out.

No simulation: a cost base and its growth, capitalised purchases split by price band, the remaining
depreciation schedule of existing assets by band, and a capitalisation threshold to compare with the
baseline threshold, prospectively or with a retroactive write-off. See docs/economics.md, "Accounts".
"""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import model_validator

from sim.config.base import Model, param
from sim.config.economics import ResultSplit
from sim.config.limits import MAX_YEAR, MIN_YEAR


class PriceBand(Model):
    name: str = param(..., "-", "per question", "label of the band")
    upper_sek: float | None = param(None, "SEK", "per question", "upper purchase-price bound (none: open)")
    purchase_share: float = param(
        ..., "share", "per question", "share of the baseline capitalised purchases in the band", ge=0, le=1
    )
    residual_schedule_sek: dict[int, float] = param(
        {}, "SEK per year", "per question", "remaining depreciation of existing assets in the band, by year"
    )


class AccountsSettlement(ResultSplit):
    device_cost_shares: dict[str, float] = param(
        ..., "share", "per question", "each principal's share of device costs (sum 1); 'region' must be one"
    )

    @model_validator(mode="after")
    def _shares(self) -> AccountsSettlement:
        for principal, share in self.device_cost_shares.items():
            if not 0 <= share <= 1:
                raise ValueError(f"device_cost_shares.{principal}: {share!r}: must be >= 0 and <= 1")
        total = sum(self.device_cost_shares.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"device_cost_shares sum to {total:g}, must sum to 1")
        if "region" not in self.device_cost_shares:
            raise ValueError("device_cost_shares must include 'region'")
        return self


class Accounts(Model):
    """A multi-year accounting question without simulation."""

    name: str = param("accounts", "-", "-", "question name")
    description: str = param("", "-", "-", "what is compared")
    start_year: int = param(
        ..., "year", "per question", "first year of the ledger", ge=MIN_YEAR, le=MAX_YEAR - 50
    )
    years: int = param(..., "years", "per question", "number of years", ge=1, le=50)
    cost_base_sek: float = param(
        ...,
        "SEK per year",
        "per question",
        "operating costs in the first year, excluding device depreciation "
        "and purchases below the thresholds compared",
        ge=0,
    )
    cost_growth: float = param(
        0.0, "share per year", "per question", "growth of the cost base", ge=-0.5, le=1
    )
    capitalised_purchases_sek: float = param(
        ...,
        "SEK per year",
        "per question",
        "purchases capitalised under the baseline threshold, first year",
        ge=0,
    )
    purchase_growth: float = param(
        0.0, "share per year", "per question", "growth of purchases", ge=-0.5, le=1
    )
    depreciation_years: float = param(
        ..., "years", "per question", "depreciation of new purchases", ge=1 / 12, le=100
    )
    convention: Literal["purchase_year", "mid_year", "next_year"] = param(
        "purchase_year",
        "-",
        "assumption: the review (vastmanland_review_2026.csv) does not say when depreciation of a purchase "
        "starts; a full year from the purchase year is the simplest reading of its yearly figures",
        "depreciation starts with a full year in the purchase year, half a year in it (purchases spread over "
        "the year; the last half year after the period), or in the year after",
    )
    bands: list[PriceBand] = param(..., "-", "per question", "price bands, ascending", min_length=1)
    baseline_threshold_sek: float = param(
        ..., "SEK", "per question", "today's capitalisation threshold", ge=0
    )
    threshold_sek: float = param(..., "SEK", "per question", "the threshold studied", ge=0)
    method: Literal["prospective", "retroactive"] = param(
        "prospective",
        "-",
        "per question",
        "retroactive: write off the residual below the new threshold at once",
    )
    settlement: AccountsSettlement = param(..., "-", "-", "how results are settled")

    @model_validator(mode="after")
    def _bands(self) -> Accounts:
        total = sum(b.purchase_share for b in self.bands)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"bands: purchase_share sums to {total:g}, must sum to 1")
        bounds = [b.upper_sek for b in self.bands]
        if bounds[-1] is not None or any(b is None for b in bounds[:-1]):
            raise ValueError("bands: every band but the last needs upper_sek; the last has none")
        for low, high in itertools.pairwise(bounds[:-1]):
            if low is not None and high is not None and high <= low:
                raise ValueError("bands: upper_sek must increase")
        for threshold in (self.baseline_threshold_sek, self.threshold_sek):
            if threshold not in [0.0, *[b for b in bounds if b is not None]]:
                raise ValueError(
                    f"threshold_sek or baseline_threshold_sek: {threshold:g}: must be 0 or one of the bands' "
                    f"upper_sek ({', '.join(f'{b:g}' for b in bounds if b is not None)})"
                )
        return self
