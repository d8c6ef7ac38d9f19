"""Charts of a batch: paired differences (forest plot), cost paths, who pays, the option matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sim.report.charts import Context, chart, finish, grid, scenario_colour, year_axis

MSEK = 1000.0  # the tables hold kSEK
FOREST_MAX = 6


def _last_window(frame: pd.DataFrame) -> str:
    windows = list(dict.fromkeys(frame["window"]))
    return "all" if "all" in windows else windows[-1]


@chart(
    "forest",
    "Scenarios",
    ("Paired differences to the baseline", "Parade skillnader mot jämförelsescenariot"),
    (
        "Each scenario minus the baseline (chosen with --baseline; default the batch's first "
        "scenario), paired "
        "by replication under common random numbers, with 95 % confidence intervals, for the last window "
        "(or 'all'). An interval that does not cross 0 is a difference the replications support.",
        "Varje scenario minus jämförelsescenariot (--baseline; annars batchens första), parat per replikat "
        "med gemensamma slumptal, med 95 % konfidensintervall, för sista fönstret (eller 'all'). Ett "
        "intervall som inte korsar 0 är en skillnad som replikaten stöder.",
    ),
    ("scenario_differences",),
    size=(12, 7.0),
    batch_only=True,
    margins={"left": 0.3, "wspace": 0.15},
)
def draw_forest(fig: Figure, ctx: Context) -> None:
    frame = ctx.data["scenario_differences"]
    L = ctx.labels
    window = _last_window(frame)
    rows = frame[frame["window"] == window]
    metrics = list(dict.fromkeys(rows["metric"]))[:FOREST_MAX]
    cols = min(3, len(metrics))
    for i, (ax, metric) in enumerate(zip(grid(fig, len(metrics), cols=cols), metrics, strict=True)):
        r = rows[rows["metric"] == metric]
        unit = str(r["unit"].iloc[0])
        scale = MSEK if unit == "kSEK" else 1.0
        y = np.arange(len(r))
        mean = r["value"].to_numpy() / scale
        err = np.vstack(
            [mean - r["value__low"].to_numpy() / scale, r["value__high"].to_numpy() / scale - mean]
        )
        ax.errorbar(mean, y, xerr=err, fmt="o", capsize=3)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y, r["scenario"] if i % cols == 0 else [""] * len(y), fontsize=6)
        ax.set_ylim(len(y) - 0.5, -0.5)  # the scenarios top down in the batch's order
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
        finish(ax, f"{L(metric)} ({window})", legend=False, xlabel="MSEK" if unit == "kSEK" else unit)
    fig.text(0.5, 0.01, f"{L('difference')}: {frame['baseline'].iloc[0]}", ha="center", fontsize=8)


def _year(date: str) -> float:
    """A date ``YYYY-MM-DD`` as a fractional year on the charts' year axis."""
    return int(date[:4]) + (int(date[5:7]) - 1) / 12 + (int(date[8:10]) - 1) / 365


@chart(
    "cost_paths",
    "Scenarios",
    ("Cost paths per scenario", "Kostnadsutveckling per scenario"),
    (
        "The centre's costs per window (year) for every scenario, mean with a 95 % band over "
        "replications, in "
        "MSEK; each scenario's own transition windows (dated changes of its option) are shaded in its "
        "colour and drawn in its row below the costs.",
        "Centrets kostnader per fönster (år) för varje scenario, medel med 95 % intervall över replikat, i "
        "mnkr; varje scenarios egna övergångsperioder (daterade förändringar) är skuggade i dess färg och "
        "ritade på dess rad under kostnaderna.",
    ),
    ("scenario_windows",),
    batch_only=True,
    margins={"left": 0.17},
)
def draw_cost_paths(fig: Figure, ctx: Context) -> None:
    from sim.report.batch_tables import transitions

    frame = ctx.data["scenario_windows"]
    L = ctx.labels
    rows = frame[(frame["metric"] == "ledger_costs") & frame["window"].str.fullmatch(r"\d{4}")]
    if rows.empty and "income_statement" in ctx.data:  # not among the batch's metrics: from the ledgers
        income = ctx.data["income_statement"]
        rows = pd.DataFrame(
            {
                "scenario": income["scenario"],
                "window": income["year"].astype(str),
                "value": income["costs"],
                "value__low": income.get("costs__low", income["costs"]),
                "value__high": income.get("costs__high", income["costs"]),
            }
        )
    if rows.empty:
        rows = frame[frame["metric"] == "ledger_costs"]
    if rows.empty:
        raise KeyError("ledger_costs not among the batch's metrics and no ledger kept")
    found = {**transitions(ctx.meta.get("experiment", {})), **ctx.meta.get("transitions", {})}
    shaded = [s for s in dict.fromkeys(rows["scenario"].astype(str)) if found.get(s)]
    if shaded:  # costs above, one row per scenario with its own transition windows below
        ax, strip = fig.subplots(2, 1, sharex=True, height_ratios=[4, 0.35 + 0.25 * len(shaded)])
    else:
        ax, strip = fig.subplots(), None
    colours: dict[str, object] = {}
    groups = list(rows.groupby("scenario", sort=False))
    for i, (scenario, r) in enumerate(groups):
        x = pd.to_numeric(r["window"], errors="coerce")
        (line,) = ax.plot(
            x, r["value"] / MSEK, marker="o", ms=3, label=str(scenario), color=scenario_colour(i, len(groups))
        )
        colours[str(scenario)] = line.get_color()
        ax.fill_between(
            x, r["value__low"] / MSEK, r["value__high"] / MSEK, color=line.get_color(), alpha=0.15
        )
    for i, scenario in enumerate(shaded):
        colour = colours[scenario]
        for k, (start, end) in enumerate(found[scenario]):
            x0 = _year(start)
            x1 = _year(end) if end else x0 + 0.02
            # a faint span over the costs and a solid bar in the scenario's own row of the strip
            ax.axvspan(x0, x1, color=colour, alpha=0.08, lw=0)
            label = f"{L('transition')}: {scenario} ({start}..{end or ''})" if k == 0 else None
            assert strip is not None
            strip.barh(i, x1 - x0, left=x0, height=0.6, color=colour, alpha=0.6, label=label)
            if not end:
                strip.plot([x0], [i], ">", color=colour, ms=5)
    if strip is not None:
        strip.set_yticks(range(len(shaded)), shaded, fontsize=6)
        strip.set_ylim(len(shaded) - 0.5, -0.5)
        strip.tick_params(labelsize=7)
        strip.grid(True, axis="x", alpha=0.3)
        strip.set_title(L("transition"), fontsize=8, loc="left")
        year_axis(strip)
    year_axis(ax)
    finish(ax, L("ledger_costs"), L("MSEK"), legend=False)
    handles, labels = ax.get_legend_handles_labels()
    if strip is not None:
        more = strip.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    ax.legend(handles, labels, fontsize=6, ncol=2)


@chart(
    "who_pays",
    "Scenarios",
    ("Who pays per scenario", "Vem betalar per scenario"),
    (
        "Net cost (paid minus settled back) of the region and of the municipalities together over the "
        "report's years, mean of the replications, per scenario, in MSEK; from the runs' ledgers where the "
        "batch kept them, else from the batch's net-cost metrics.",
        "Nettokostnad (betalt minus reglerat) för regionen och för kommunerna tillsammans över "
        "rapportens år, medel av replikaten, per scenario, i mnkr; från körningarnas huvudböcker där "
        "batchen sparat dem, annars från batchens nettokostnadsmått.",
    ),
    ("scenario_windows",),
    batch_only=True,
    margins={"left": 0.3},
)
def draw_who_pays(fig: Figure, ctx: Context) -> None:
    L = ctx.labels
    metrics = ("ledger_region_net_cost", "ledger_municipalities_net_cost")
    if "principals" in ctx.data:
        p = ctx.data["principals"]
        group = np.where(p["principal"] == "region", metrics[0], metrics[1])
        totals = p.assign(metric=group).pivot_table(
            index="scenario", columns="metric", values="net_cost", aggfunc="sum", sort=False
        )
    else:
        frame = ctx.data["scenario_windows"]
        rows = frame[frame["metric"].isin(metrics)]
        yearly = rows[rows["window"].str.fullmatch(r"\d{4}")]
        rows = yearly if not yearly.empty else rows
        if rows.empty:
            raise KeyError("no ledger kept and no net-cost metrics (ledger_region_net_cost) in the batch")
        totals = rows.pivot_table(
            index="scenario", columns="metric", values="value", aggfunc="sum", sort=False
        )
    totals = totals.reindex(index=ctx.scenarios, columns=list(metrics)).fillna(0.0) / MSEK
    ax = fig.subplots()
    y = np.arange(len(totals))
    ax.barh(y, totals[metrics[0]], label=L(metrics[0]))
    ax.barh(y, totals[metrics[1]], left=totals[metrics[0]], label=L(metrics[1]))
    for i, (a, b) in enumerate(zip(totals[metrics[0]], totals[metrics[1]], strict=True)):
        ax.text(a + b, i, f" {a + b:,.1f}".replace(",", " "), va="center", fontsize=6)
    ax.set_yticks(y, totals.index, fontsize=6)
    ax.invert_yaxis()
    finish(ax, L("net_cost"), xlabel=L("MSEK"))


@chart(
    "option_matrix",
    "Scenarios",
    ("Option matrix", "Alternativmatris"),
    (
        "Every scenario's mean of every metric in the last window (or 'all'); money in kSEK. The workbook's "
        "analysis sheets hold every window with its confidence interval.",
        "Varje scenarios medelvärde för varje mått i sista fönstret (eller 'all'); pengar i tkr. "
        "Arbetsbokens analysblad har alla fönster med konfidensintervall.",
    ),
    ("scenario_windows",),
    size=(12, 6.0),
    batch_only=True,
    margins={"left": 0.25},
)
def draw_option_matrix(fig: Figure, ctx: Context) -> None:
    frame = ctx.data["scenario_windows"]
    L = ctx.labels
    window = _last_window(frame)
    rows = frame[frame["window"] == window]
    wide = rows.pivot_table(index="scenario", columns="metric", values="value", aggfunc="first", sort=False)
    unit = dict(zip(rows["metric"], rows["unit"], strict=False)) if "unit" in rows else {}
    ax = fig.subplots()
    ax.axis("off")
    cells = [
        [f"{v:,.0f}".replace(",", " ") if abs(v) >= 10 else f"{v:.3f}" for v in r] for r in wide.to_numpy()
    ]
    heads = [f"{L(c)} ({unit[c]})" if unit.get(c) else L(c) for c in wide.columns]
    tab = ax.table(cellText=cells, rowLabels=list(wide.index), colLabels=heads, loc="center")
    tab.auto_set_font_size(False)
    tab.set_fontsize(6)
    tab.scale(1, 1.3)
    ax.set_title(f"{window}", fontsize=9)
