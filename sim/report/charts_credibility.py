"""Credibility charts: the calibration fit (simulated vs observed with CIs, hold-outs against the naive
forecast, the convergence trace) and the sensitivity indices (Morris mu* and sigma, Sobol S1 and ST)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.report.charts import Context, chart, finish, grid

PANELS = 6  # outputs drawn per sensitivity chart (the workbook holds them all)


@chart(
    "calibration_fit",
    "Credibility",
    ("Calibration fit", "Kalibreringens anpassning"),
    (
        "hmsim calibrate's fit report: each target's simulated value as the relative error to the observed "
        "figure, before (open) and after the fit (filled, with the 95 % interval over the replications); "
        "hold-out targets, not fitted, beside the naive forecast's error (x). Right: the objective per "
        "evaluation and the best so far.",
        "hmsim calibrates anpassningsrapport: varje måls simulerade värde som relativt fel mot utfallet, "
        "före (öppen) och efter anpassningen (fylld, med 95 % intervall över replikaten); kontrollmål "
        "som inte anpassats, bredvid den naiva prognosens fel (x). Höger: målfunktionen per utvärdering och "
        "bästa hittills.",
    ),
    ("calibration_fit",),
    size=(12, 6.0),
    margins={"left": 0.25, "wspace": 0.3},
)
def draw_calibration_fit(fig: Figure, ctx: Context) -> None:
    frame = ctx.data["calibration_fit"].reset_index(drop=True)
    L = ctx.labels
    left, right = grid(fig, 2, cols=2)
    y = np.arange(len(frame))
    obs = frame["observed"].to_numpy(dtype=float)
    after = frame["error_after"].to_numpy(dtype=float)
    low = frame["after__low"].to_numpy(dtype=float) / obs - 1
    high = frame["after__high"].to_numpy(dtype=float) / obs - 1
    xerr = np.vstack([np.nan_to_num(after - low), np.nan_to_num(high - after)])
    fitted = (frame["role"] == "fitted").to_numpy()
    for mask, color, name in ((fitted, "tab:blue", L("fitted")), (~fitted, "tab:orange", L("holdout"))):
        if not mask.any():
            continue
        left.errorbar(
            after[mask],
            y[mask],
            xerr=xerr[:, mask],
            fmt="o",
            color=color,
            capsize=3,
            label=f"{name}: {L('after')}",
        )
        left.plot(
            frame["error_before"].to_numpy(dtype=float)[mask],
            y[mask],
            "o",
            mfc="none",
            color=color,
            label=f"{name}: {L('before')}",
        )
    naive = frame["naive_error"].to_numpy(dtype=float)
    if np.isfinite(naive).any():
        left.plot(naive, y, "x", color="black", label=L("naive_forecast"))
    left.axvline(0, color="black", lw=0.8)
    left.set_yticks(y, frame["target"], fontsize=6)
    left.set_ylim(len(y) - 0.5, -0.5)
    finish(left, L("relative_error"), xlabel=L("share"))
    if "calibration_trace" in ctx.data:
        trace = ctx.data["calibration_trace"].sort_values("evaluation")
        right.plot(trace["evaluation"], trace["cost"], "o", ms=3, label=L("cost"))
        right.plot(trace["evaluation"], trace["cost"].cummin(), "-", label=L("best_so_far"))
        if (trace["cost"] > 0).all():
            right.set_yscale("log")
        finish(right, L("convergence"), xlabel=L("evaluation"))
    else:
        right.set_visible(False)


def _outputs(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frame["output"]))[:PANELS]


@chart(
    "sensitivity",
    "Credibility",
    ("Sensitivity: Morris screening", "Känslighet: Morris-screening"),
    (
        "hmsim sensitivity's Morris screening: per output, each parameter's mean absolute elementary effect "
        "mu* over its range (with its 95 % bootstrap interval) and the spread sigma (dots: interactions or "
        "non-linearity), in the output's unit; the largest first.",
        "hmsim sensitivitys Morris-screening: per utfall, varje parameters medelabsoluta elementära effekt "
        "mu* över dess intervall (med 95 % bootstrapintervall) och spridningen sigma (punkter: samspel eller "
        "icke-linjäritet), i utfallets enhet; störst först.",
    ),
    ("sensitivity_morris",),
    size=(12, 6.5),
    margins={"left": 0.12, "wspace": 0.6},
)
def draw_morris(fig: Figure, ctx: Context) -> None:
    frame = ctx.data["sensitivity_morris"]
    L = ctx.labels
    outputs = _outputs(frame)
    for ax, output in zip(grid(fig, len(outputs), cols=3), outputs, strict=True):
        rows = frame[frame["output"] == output].sort_values("mu_star", ascending=False).head(12)
        y = np.arange(len(rows))
        ax.barh(y, rows["mu_star"], xerr=rows["mu_star_conf"], capsize=2, color="tab:blue", label="mu*")
        ax.plot(rows["sigma"], y, "o", color="black", ms=3, label="sigma")
        ax.set_yticks(y, rows["parameter"], fontsize=6)
        ax.set_ylim(len(y) - 0.5, -0.5)
        finish(ax, L(str(output)), legend=ax is fig.axes[0])


@chart(
    "sensitivity_sobol",
    "Credibility",
    ("Sensitivity: Sobol indices", "Känslighet: Sobol-index"),
    (
        "hmsim sensitivity's Sobol indices of the parameters that Morris ranked highest: the first-order "
        "index S1 (share of the output's variance from the parameter alone) and the total index ST "
        "(including its interactions), with 95 % bootstrap intervals; wide intervals mean too few samples.",
        "hmsim sensitivitys Sobol-index för de parametrar som Morris rangordnade högst: första ordningens "
        "index S1 (andel av utfallets varians från parametern ensam) och totalindex ST (med samspel), med "
        "95 % bootstrapintervall; breda intervall betyder för få stickprov.",
    ),
    ("sensitivity_sobol",),
    size=(12, 6.5),
    margins={"left": 0.12, "wspace": 0.6},
)
def draw_sobol(fig: Figure, ctx: Context) -> None:
    frame = ctx.data["sensitivity_sobol"]
    L = ctx.labels
    outputs = _outputs(frame)
    for ax, output in zip(grid(fig, len(outputs), cols=3), outputs, strict=True):
        rows = frame[frame["output"] == output].sort_values("ST", ascending=False)
        y = np.arange(len(rows))
        ax.barh(y - 0.2, rows["S1"], 0.4, xerr=rows["S1_conf"], capsize=2, label="S1")
        ax.barh(y + 0.2, rows["ST"], 0.4, xerr=rows["ST_conf"], capsize=2, label="ST")
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y, rows["parameter"], fontsize=6)
        ax.set_ylim(len(y) - 0.5, -0.5)
        finish(ax, L(str(output)), legend=ax is fig.axes[0], xlabel=L("index"))
