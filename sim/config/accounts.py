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


class Residual(Model):
    """The book value left of existing assets in a band, as a review states it: a total, optionally the part
    scheduled for the first year, and the last year of depreciation. The rest declines linearly to that year
    (weights n, n-1, ..., 1 over the remaining years: a portfolio of assets bought evenly over the years)."""

    total_sek: float = param(..., "SEK", "per question", "book value left at the start", ge=0)
    first_year_sek: float | None = param(
        None,
        "SEK",
        "per question",
        "of which depreciated in the first year (None: part of the linear decline)",
        ge=0,
    )
    through_year: int = param(
        ..., "year", "per question", "last year of depreciation", ge=MIN_YEAR, le=MAX_YEAR
    )

    @model_validator(mode="after")
    def _first(self) -> Residual:
        if self.first_year_sek is not None and self.first_year_sek > self.total_sek:
            raise ValueError(
                f"first_year_sek {self.first_year_sek:g} must not exceed total_sek {self.total_sek:g}"
            )
        return self

    def schedule(self, start_year: int) -> dict[int, float]:
        """Depreciation by year from ``start_year`` to ``through_year``."""
        years = list(range(start_year, max(self.through_year, start_year) + 1))
        out: dict[int, float] = {}
        rest_years = years
        rest = self.total_sek
        if self.first_year_sek is not None:
            out[years[0]] = self.first_year_sek
            rest -= self.first_year_sek
            rest_years = years[1:]
        if not rest_years:
            out[years[0]] = out.get(years[0], 0.0) + rest
            return out
        n = len(rest_years)
        weights = [n - i for i in range(n)]
        for year, w in zip(rest_years, weights, strict=True):
            out[year] = out.get(year, 0.0) + rest * w / sum(weights)
        return out


class PriceBand(Model):
    name: str = param(..., "-", "per question", "label of the band")
    upper_sek: float | None = param(None, "SEK", "per question", "upper purchase-price bound (none: open)")
    purchase_share: float = param(
        ..., "share", "per question", "share of the baseline capitalised purchases in the band", ge=0, le=1
    )
    residual_schedule_sek: dict[int, float] = param(
        {}, "SEK per year", "per question", "remaining depreciation of existing assets in the band, by year"
    )
    residual: Residual | None = param(
        None,
        "-",
        "per question",
        "the residual as stated (total, first year, last year) instead of a schedule",
    )

    @model_validator(mode="after")
    def _one_residual(self) -> PriceBand:
        if self.residual is not None and self.residual_schedule_sek:
            raise ValueError("give either residual_schedule_sek or residual, not both")
        return self

    def residual_by_year(self, start_year: int) -> dict[int, float]:
        return self.residual.schedule(start_year) if self.residual is not None else self.residual_schedule_sek


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
    cost_base_sek: float | None = param(
        None,
        "SEK per year",
        "per question",
        "operating costs in the first year, excluding device depreciation "
        "and purchases below the thresholds compared (or give total_cost_sek and depreciation_in_total_sek)",
        ge=0,
    )
    total_cost_sek: float | None = param(
        None, "SEK per year", "per question", "total costs in the first year as a report states them", ge=0
    )
    depreciation_in_total_sek: float | None = param(
        None, "SEK per year", "per question", "device depreciation included in total_cost_sek", ge=0
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

    @property
    def cost_base(self) -> float:
        """Operating costs of the first year excluding device depreciation."""
        if self.cost_base_sek is not None:
            return self.cost_base_sek
        assert self.total_cost_sek is not None and self.depreciation_in_total_sek is not None
        return self.total_cost_sek - self.depreciation_in_total_sek

    @model_validator(mode="after")
    def _cost_base(self) -> Accounts:
        stated = self.total_cost_sek is not None and self.depreciation_in_total_sek is not None
        if (self.cost_base_sek is None) == (not stated) or (
            self.cost_base_sek is not None
            and (self.total_cost_sek is not None or self.depreciation_in_total_sek is not None)
        ):
            raise ValueError(
                "give cost_base_sek, or total_cost_sek with depreciation_in_total_sek (not both)"
            )
        if stated and self.depreciation_in_total_sek > self.total_cost_sek:  # type: ignore[operator]
            raise ValueError("depreciation_in_total_sek must not exceed total_cost_sek")
        return self

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
