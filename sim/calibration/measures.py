"""Measures: one number a run yields over a window, named in a spec (calibration targets, sensitivity
outputs, optimisation constraints).

A measure is a small mapping with a ``kind`` from the registry :data:`KINDS`:

- ``summary``: a metric of :func:`sim.summary.summarise` (volumes, levels, KPIs) for a segment (``all``, a
  municipality, ``region_total``, ``municipalities_total``) over ``[start, end]``;
- ``ledger``: the sum of ledger amounts (SEK) of some ``accounts`` (account names, or ``group:<name>`` for a
  reporting group of the economics config) and ``principals`` (``all``, ``region``, ``municipalities``,
  ``centre`` or one name) over the months of ``[start, end]``;
- ``net_cost``: what ``principals`` (``region``, ``municipalities``, ``all`` or one municipality) pay net
  over the window (SEK; :func:`sim.economics.views.aggregate`);
- ``products``: the sum of a column (``metric``, e.g. ``product_cost``) of the yearly product result over
  the calendar years of the window (SEK);
- ``ratio``: ``numerator / denominator`` of two measures, per replication (shares);
- ``route_km``: km driven on routes over the window (optionally one ``segment`` = municipality);
- ``jobs``: a statistic of technician or consultant jobs of one ``job_kind`` created in the window:
  ``mean_wait_days`` (created to start), ``share_waiting`` (start later than creation), ``count``;
- ``timeseries``: the sum of one ``metric`` of the run's daily timeseries (e.g. ``sales``, which the
  summary does not give) over the window, optionally for one ``segment`` = municipality;
- ``holders``: the share of the tracked patient devices (unit devices left out) on rent at the end of the
  window held by patients of the age ``bands`` (optionally one ``segment`` = municipality): the holders'
  age profile, e.g. 65+.

Every measure may carry ``scale`` (a factor, e.g. 0.001 for kSEK). The DES knows nothing of measures; they
read the run's tables (and the ledger when a ledger measure needs one).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from pydantic import model_validator

from sim.config.base import Model, param
from sim.output import RunOutput


class Measure(Model):
    kind: str = param(
        "summary",
        "-",
        "-",
        "summary, ledger, net_cost, products, ratio, route_km, jobs, timeseries or holders",
    )
    metric: str | None = param(None, "-", "-", "summary metric (kind summary)")
    segment: str = param("all", "-", "-", "all, a municipality, region_total or municipalities_total")
    start: date | None = param(None, "date", "-", "first day of the window (default: the run's first)")
    end: date | None = param(None, "date", "-", "last day of the window (default: the run's last)")
    accounts: list[str] = param([], "-", "-", "ledger accounts or group:<reporting group> (kind ledger)")
    principals: str = param("all", "-", "-", "all, region, municipalities, centre or one principal")
    numerator: Measure | None = param(None, "-", "-", "kind ratio: the numerator measure")
    denominator: Measure | None = param(None, "-", "-", "kind ratio: the denominator measure")
    job_kind: str | None = param(None, "-", "-", "kind jobs: recondition, corrective, preventive, ...")
    statistic: str = param("mean_wait_days", "-", "-", "kind jobs: mean_wait_days, share_waiting, count")
    bands: list[str] = param([], "-", "-", "kind holders: the age bands whose share of devices is measured")
    scale: float = param(1.0, "factor", "-", "multiplier on the value (e.g. 0.001 for kSEK)")

    @model_validator(mode="after")
    def _check(self) -> Measure:
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r}: unknown; valid: {', '.join(KINDS)}")
        if self.kind == "summary" and not self.metric:
            raise ValueError("kind summary needs a metric")
        if self.kind == "ledger" and not self.accounts:
            raise ValueError("kind ledger needs accounts")
        if self.kind == "ratio" and (self.numerator is None or self.denominator is None):
            raise ValueError("kind ratio needs numerator and denominator")
        if self.kind == "jobs" and (
            not self.job_kind or self.statistic not in ("mean_wait_days", "share_waiting", "count")
        ):
            raise ValueError("kind jobs needs job_kind and statistic mean_wait_days, share_waiting or count")
        if self.kind == "timeseries" and not self.metric:
            raise ValueError("kind timeseries needs a metric (a metric of the timeseries table, e.g. sales)")
        if self.kind == "holders" and not self.bands:
            raise ValueError("kind holders needs bands (e.g. [age_65_79, age_80_plus])")
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def needs_ledger(self) -> bool:
        if self.kind == "ratio":
            assert self.numerator is not None and self.denominator is not None
            return self.numerator.needs_ledger() or self.denominator.needs_ledger()
        return self.kind in ("ledger", "net_cost", "products")

    def last_day(self) -> date | None:
        """The latest day this measure reads (to check that a run's horizon covers it)."""
        if self.kind == "ratio":
            assert self.numerator is not None and self.denominator is not None
            days = [d for d in (self.numerator.last_day(), self.denominator.last_day()) if d]
            return max(days) if days else None
        return self.end


class Context:
    """One run's output (and ledger), with summaries cached per window."""

    def __init__(
        self,
        output: RunOutput,
        ledger: pd.DataFrame | None,
        groups: dict[str, list[str]],
        products: pd.DataFrame | None = None,
    ):
        self.output = output
        self.ledger = ledger
        self.products = products
        self.groups = groups
        self._summaries: dict[tuple[date | None, date | None], dict[str, Any]] = {}

    def summary(self, start: date | None, end: date | None) -> dict[str, Any]:
        from sim.summary import summarise

        key = (start, end)
        if key not in self._summaries:
            self._summaries[key] = summarise(self.output, start, end, by="municipality")
        return self._summaries[key]

    def days(self, start: date | None, end: date | None) -> tuple[int, int]:
        from sim.summary import window

        return window(self.output, start, end)


def _summary(m: Measure, ctx: Context) -> float:
    res = ctx.summary(m.start, m.end)
    segment = res.get(m.segment)
    if segment is None:
        raise KeyError(f"segment {m.segment!r}: not in the run; valid: {', '.join(res)}")
    if m.metric not in segment:
        raise KeyError(f"metric {m.metric!r} for segment {m.segment!r}: valid: {', '.join(segment)}")
    return float(segment[m.metric])


def _ledger(m: Measure, ctx: Context) -> float:
    led = ctx.ledger
    if led is None:
        raise KeyError("a ledger measure needs a config with an economics section")
    accounts: list[str] = []
    for name in m.accounts:
        if name.startswith("group:"):
            group = name.removeprefix("group:")
            if group not in ctx.groups:
                raise KeyError(f"accounts: {name!r}: no such reporting group; valid: {', '.join(ctx.groups)}")
            accounts += ctx.groups[group]
        else:
            accounts.append(name)
    sel = led["account"].astype(str).isin(accounts)
    principal = led["principal"].astype(str)
    if m.principals == "municipalities":
        sel &= ~principal.isin(["region", "centre"])
    elif m.principals != "all":
        sel &= principal == m.principals
    period = pd.to_datetime(led["period"])
    if m.start:
        sel &= period >= pd.Timestamp(m.start.replace(day=1))
    if m.end:
        sel &= period <= pd.Timestamp(m.end)
    return float(led.loc[sel, "amount"].sum())


def _net_cost(m: Measure, ctx: Context) -> float:
    from sim.economics.views import aggregate

    if ctx.ledger is None:
        raise KeyError("a net_cost measure needs a config with an economics section")
    view = aggregate(ctx.ledger, "principal", m.start, m.end)
    view.pop("centre", None)
    if m.principals == "municipalities":
        return float(sum(v["net_cost"] for k, v in view.items() if k != "region"))
    if m.principals == "all":
        return float(sum(v["net_cost"] for v in view.values()))
    if m.principals not in view:
        raise KeyError(f"principals {m.principals!r}: valid: all, municipalities, {', '.join(view)}")
    return float(view[m.principals]["net_cost"])


def _products(m: Measure, ctx: Context) -> float:
    table = ctx.products
    if table is None:
        raise KeyError("a products measure needs a config with an economics section")
    if m.metric not in table.columns:
        raise KeyError(
            f"metric {m.metric!r}: not a column of the products table; valid: {', '.join(table.columns)}"
        )
    years = table["year"].astype(int)
    sel = pd.Series(True, index=table.index)
    if m.start:
        sel &= years >= m.start.year
    if m.end:
        sel &= years <= m.end.year
    return float(table.loc[sel, m.metric].sum())


def _ratio(m: Measure, ctx: Context) -> float:
    assert m.numerator is not None and m.denominator is not None
    den = compute_measure(m.denominator, ctx)
    return compute_measure(m.numerator, ctx) / den if den else float("nan")


def _route_km(m: Measure, ctx: Context) -> float:
    d0, d1 = ctx.days(m.start, m.end)
    stops = ctx.output["route_stops"]
    day = (
        (pd.to_datetime(stops["date"]) - pd.Timestamp(ctx.output.start_date)) // pd.Timedelta(days=1)
    ).to_numpy()
    sel = (day >= d0) & (day < d1)
    if m.segment != "all":
        sel &= (stops["municipality"] == m.segment).to_numpy()
    return float(stops.loc[sel, "km"].sum())


def _jobs(m: Measure, ctx: Context) -> float:
    d0, d1 = ctx.days(m.start, m.end)
    jobs = ctx.output["jobs"]
    sel = (jobs["kind"].astype(str) == m.job_kind) & (jobs["created_day"] >= d0) & (jobs["created_day"] < d1)
    chosen = jobs[sel]
    if m.statistic == "count":
        return float(len(chosen))
    wait = (chosen["start_day"] - chosen["created_day"]).to_numpy(dtype=float)
    if not wait.size:
        return float("nan")
    if m.statistic == "share_waiting":
        return float(np.mean(wait > 1e-9))
    return float(np.nanmean(wait))


def _timeseries(m: Measure, ctx: Context) -> float:
    d0, d1 = ctx.days(m.start, m.end)
    ts = ctx.output["timeseries"]
    metric = ts["metric"].astype(str)
    if m.metric not in set(metric):
        raise KeyError(
            f"metric {m.metric!r}: not in the run's timeseries; valid: {', '.join(sorted(set(metric)))}"
        )
    day = (
        (pd.to_datetime(ts["date"]) - pd.Timestamp(ctx.output.start_date)) // pd.Timedelta(days=1)
    ).to_numpy()
    sel = (metric == m.metric).to_numpy() & (day >= d0) & (day < d1)
    if m.segment != "all":
        sel &= (ts["municipality"].astype(str) == m.segment).to_numpy()
    return float(ts.loc[sel, "value"].sum())


def _holders(m: Measure, ctx: Context) -> float:
    _, d1 = ctx.days(m.start, m.end)
    r = ctx.output["rentals"]
    on = (
        (r["start_day"] < d1)
        & (r["end_day"] > d1)
        & r["tracked"].astype(bool)
        & ~r["unit_device"].astype(bool)
    )
    if m.segment != "all":
        on &= r["municipality"].astype(str) == m.segment
    band = r["band"]
    known = band.cat.categories if hasattr(band, "cat") else band.unique()
    unknown = sorted(set(m.bands) - {str(b) for b in known})
    if unknown:
        raise KeyError(f"bands: {', '.join(unknown)}: not age bands of the run")
    held = band[on].astype(str)
    return float(held.isin(m.bands).mean()) if len(held) else float("nan")


KINDS: dict[str, Callable[[Measure, Context], float]] = {
    "summary": _summary,
    "ledger": _ledger,
    "net_cost": _net_cost,
    "products": _products,
    "ratio": _ratio,
    "route_km": _route_km,
    "jobs": _jobs,
    "timeseries": _timeseries,
    "holders": _holders,
}


def compute_measure(m: Measure, ctx: Context) -> float:
    return KINDS[m.kind](m, ctx) * m.scale


Measure.model_rebuild()
