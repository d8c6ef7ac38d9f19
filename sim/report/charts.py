"""The chart registry: each chart declares the report tables it needs and draws itself on a figure.

Charts run in order, section by section (volumes, service, fleet, capacity, money, scenarios,
credibility). A chart whose tables are absent (the runs do not have the data, or the batch kept other
tables) is left out; the index says which table and why. Drawing helpers here are shared: a line per
scenario with a 95 % band over replications, observed figures as black diamonds naming their document,
targets as dashed lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.report.labels import Labels
from sim.report.observed import Observed

SECTIONS = ("Volumes", "Service", "Fleet", "Capacity", "Money", "Scenarios", "Credibility")


@dataclass
class Context:
    """What a chart draws from: the report tables (aggregated per scenario), labels and observed data."""

    data: dict[str, pd.DataFrame]
    labels: Labels
    observed: Observed
    kind: str  # "run" or "batch"
    scenarios: list[str]
    baseline: str | None
    meta: dict[str, Any] = field(default_factory=dict)
    used: list[str] = field(default_factory=list)  # documents marked on the current chart

    def one(self, name: str) -> pd.DataFrame:
        """The table for charts that show one scenario: the baseline (or the first scenario)."""
        frame = self.data[name]
        pick = self.baseline if self.baseline in self.scenarios else self.scenarios[0]
        return frame[frame["scenario"] == pick]

    @property
    def shown(self) -> str:
        return self.baseline if self.baseline in self.scenarios else self.scenarios[0]

    @property
    def shown_suffix(self) -> str:
        """`` (scenario)`` for the title of a chart that shows one scenario of a batch, else empty."""
        return f" ({self.shown})" if self.kind == "batch" else ""


Draw = Callable[[Figure, Context], None]


@dataclass(frozen=True)
class ChartSpec:
    id: str
    section: str
    title: tuple[str, str]
    caption: tuple[str, str]  # what the chart shows
    needs: tuple[str, ...]  # report tables
    draw: Draw
    size: tuple[float, float] = (10.0, 5.6)
    batch_only: bool = False
    margins: tuple[tuple[str, float], ...] = ()  # subplots_adjust overrides (fixed layout: fast, stable)


MARGINS = {"left": 0.07, "right": 0.98, "bottom": 0.1, "top": 0.86, "wspace": 0.28, "hspace": 0.45}
CHARTS: dict[str, ChartSpec] = {}


def chart(
    id: str,
    section: str,
    title: tuple[str, str],
    caption: tuple[str, str],
    needs: tuple[str, ...],
    size: tuple[float, float] = (10.0, 5.6),
    batch_only: bool = False,
    margins: dict[str, float] | None = None,
) -> Callable[[Draw], Draw]:
    if section not in SECTIONS:
        raise ValueError(f"chart {id!r}: unknown section {section!r}")

    def register(fn: Draw) -> Draw:
        if id in CHARTS:
            raise ValueError(f"chart {id!r} registered twice")
        CHARTS[id] = ChartSpec(
            id, section, title, caption, needs, fn, size, batch_only, tuple(sorted((margins or {}).items()))
        )
        return fn

    return register


# ---------------------------------------------------------------- drawing helpers


FAMILY_STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "v"))


def scenario_colour(i: int, n: int) -> tuple[float, float, float, float]:
    """The colour of the ``i``-th of ``n`` scenarios: the same in every panel and chart of a batch."""
    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return cmap(i % cmap.N)


def series(
    ax: Axes,
    frame: pd.DataFrame,
    x: str,
    y: str,
    label: str | None = None,
    scale: float = 1.0,
    **style: Any,
) -> None:
    """One line per scenario in ``frame`` (x sorted), with the 95 % band where the table has one.

    With several scenarios (a batch) each scenario keeps its colour in every panel and each quantity
    drawn on the same axes (``label``) gets its own line style, so ``scenario_legend`` can explain both
    once for the whole figure."""
    scenarios = list(dict.fromkeys(frame["scenario"]))
    several = len(scenarios) > 1
    if several:
        families: list[str] = ax.__dict__.setdefault("_hmsim_families", [])
        if label not in families:
            families.append(str(label))
        ls, marker = FAMILY_STYLES[families.index(str(label)) % len(FAMILY_STYLES)]
        style = {k: v for k, v in style.items() if k not in ("ls", "linestyle", "color")}
    for i, scenario in enumerate(scenarios):
        rows = frame[frame["scenario"] == scenario].sort_values(x)
        name = label if len(scenarios) == 1 and label else (f"{label}: {scenario}" if label else scenario)
        if several:
            style = {**style, "color": scenario_colour(i, len(scenarios)), "ls": ls}
        (line,) = ax.plot(
            rows[x],
            rows[y] / scale,
            marker=(marker if several else "o") if len(rows) <= 20 else None,
            ms=3,
            label=name,
            **style,
        )
        if f"{y}__low" in rows and rows[f"{y}__low"].notna().any():
            ax.fill_between(
                rows[x],
                rows[f"{y}__low"] / scale,
                rows[f"{y}__high"] / scale,
                color=line.get_color(),
                alpha=0.2 if not several else 0.12,
                linewidth=0,
            )


def _scenario_of(label: str, names: set[str]) -> tuple[str, str] | None:
    """``(quantity, scenario)`` of a line label ``scenario`` or ``quantity: scenario`` (else None)."""
    if label in names:
        return "", label
    head, sep, tail = label.rpartition(": ")
    return (head, tail) if sep and tail in names else None


def scenario_legend(fig: Figure, scenarios: list[str]) -> bool:
    """In a batch, lines named after scenarios repeat in every panel's legend and hide the data: replace
    those legends with one legend beside the panels (a coloured line per scenario, a grey line per
    quantity in its line style, then targets and observed values once). Returns whether it did."""
    from matplotlib.lines import Line2D

    names = set(scenarios)
    if len(names) < 2:
        return False
    colours: dict[str, Any] = {}
    families: dict[str, Any] = {}
    others: dict[str, Any] = {}
    touched = []
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        # the legend's own entries: a panel's legend may also explain artists of another axes
        handles = list(legend.legend_handles)
        labels = [t.get_text() for t in legend.get_texts()]
        if not any(_scenario_of(lab, names) for lab in labels):
            continue
        touched.append(legend)
        for handle, lab in zip(handles, labels, strict=True):
            if handle is None:
                continue
            found = _scenario_of(lab, names)
            if found is None:
                others.setdefault(lab, handle)
                continue
            family, scenario = found
            if isinstance(handle, Line2D):
                colours.setdefault(scenario, handle.get_color())
                if family:
                    families.setdefault(family, (handle.get_linestyle(), handle.get_marker()))
    if not touched:
        return False
    for legend in touched:
        legend.remove()
    entries = [(Line2D([], [], color=c, lw=2), s) for s in scenarios if (c := colours.get(s)) is not None]
    if len(families) > 1:
        grey = [(Line2D([], [], color="0.35", ls=ls, marker=m, ms=3), f) for f, (ls, m) in families.items()]
        entries += grey
    entries += [(h, lab) for lab, h in others.items()]
    fig.legend(
        [h for h, _ in entries],
        [lab for _, lab in entries],
        loc="center right",
        fontsize=7,
        frameon=False,
    )
    fig.subplots_adjust(right=min(fig.subplotpars.right, 0.8))
    return True


def observed(
    ax: Axes,
    ctx: Context,
    metric: str,
    segment: str = "all",
    scale: float = 1.0,
    at_year: bool = True,
    unit: str | None = None,
    absolute: bool = False,
    label: str | None = None,
    marker: str = "D",
    yearly_only: bool = False,
    section: str | None = None,
) -> None:
    """Observed figures of ``metric`` as black diamonds (x: year, or the fractional period), only those
    within the report's years."""
    obs = [o for o in ctx.observed.get(metric, segment) if unit is None or o.unit == unit]
    first, last = ctx.meta.get("years", (-(10**6), 10**6))
    obs = [o for o in obs if first <= int(o.year) <= last]
    if yearly_only:  # a calendar year's figure, not a quarter's or a few months'
        obs = [o for o in obs if o.period.isdigit() and len(o.period) == 4]
    if section is not None:  # the same statement (an income statement is not a cost follow-up)
        obs = [o for o in obs if o.document.endswith(f", {section}")]
    for i, o in enumerate(obs):
        x = int(o.year) if at_year else o.year
        value = abs(o.value) if absolute else o.value
        name = label or ctx.labels("observed")
        ax.plot(
            [x],
            [value / scale],
            marker,
            color="black",
            ms=6,
            zorder=5,
            label=f"{name} ({o.document.split(',')[0]})" if i == 0 else None,
        )
        if o.document not in ctx.used:
            ctx.used.append(o.document)


def target(ax: Axes, ctx: Context, metric: str) -> float | None:
    """The metric's target (from the observed documents) as a dashed line; returns it."""
    found = ctx.observed.target(metric)
    if found is None:
        return None
    value, doc = found
    ax.axhline(value, ls="--", color="tab:red", lw=1, label=f"{ctx.labels('target')} {value:g}")
    if doc not in ctx.used:
        ctx.used.append(doc)
    return value


def finish(ax: Axes, title: str, ylabel: str = "", legend: bool = True, xlabel: str = "") -> None:
    ax.set_title(title, fontsize=10)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=9)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(True, alpha=0.3)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")


def year_axis(ax: Axes) -> None:
    ax.xaxis.set_major_locator(
        __import__("matplotlib.ticker", fromlist=["MaxNLocator"]).MaxNLocator(integer=True)
    )


def grid(fig: Figure, n: int, cols: int = 3) -> list[Axes]:
    rows = int(np.ceil(n / cols))
    cols = min(cols, n)
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return axes[:n]
