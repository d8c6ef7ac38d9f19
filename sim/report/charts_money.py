"""Charts of money: income statement, costs, results, settlement, net cost, book value, purchases."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from sim.report.charts import Context, chart, finish, grid, observed, series, year_axis

MSEK = 1000.0  # tables hold kSEK


@chart(
    "income_statement",
    "Money",
    ("Income statement per year", "Resultaträkning per år"),
    (
        "The centre's revenue (all principals' payments), costs and result per year in MSEK; "
        "diamonds are the "
        "observed totals in the region's income statements.",
        "Centrets intäkter (huvudmännens betalningar), kostnader och resultat per år i mnkr; romberna är "
        "utfallet i regionens resultaträkningar.",
    ),
    ("income_statement",),
    size=(12, 4.8),
)
def draw_income(fig: Figure, ctx: Context) -> None:
    frame = ctx.data["income_statement"]
    L = ctx.labels
    left, right = grid(fig, 2, cols=2)
    series(left, frame, "year", "revenue", label=L("revenue"), scale=MSEK)
    series(left, frame, "year", "costs", label=L("costs"), scale=MSEK)
    statement = {"yearly_only": True, "section": "Resultaträkning"}
    observed(
        left,
        ctx,
        "income_total",
        scale=MSEK,
        unit="kSEK",
        label=f"{L('revenue')}, {L('observed')}",
        **statement,  # type: ignore[arg-type]
    )
    observed(
        left,
        ctx,
        "cost_total",
        scale=MSEK,
        unit="kSEK",
        absolute=True,
        label=f"{L('costs')}, {L('observed')}",
        marker="s",
        **statement,  # type: ignore[arg-type]
    )
    year_axis(left)
    finish(left, f"{L('revenue')} / {L('costs')}", L("MSEK"))
    series(right, frame, "year", "result", label=L("result"), scale=MSEK)
    observed(right, ctx, "result", scale=MSEK, unit="kSEK", **statement)  # type: ignore[arg-type]
    right.axhline(0, color="black", lw=0.8)
    year_axis(right)
    finish(right, L("result"), L("MSEK"))


@chart(
    "costs_by_block",
    "Money",
    ("Costs by block", "Kostnader per kostnadsslag"),
    (
        "The centre's costs per year by account, stacked, in MSEK.",
        "Centrets kostnader per år och konto, staplade, i mnkr.",
    ),
    ("costs_by_block",),
    margins={"right": 0.75},
)
def draw_costs(fig: Figure, ctx: Context) -> None:
    frame = ctx.one("costs_by_block")
    L = ctx.labels
    ax = fig.subplots()
    wide = frame.pivot_table(index="year", columns="account", values="amount", aggfunc="sum").fillna(0.0)
    bottom = np.zeros(len(wide))
    cmap = __import__("matplotlib").colormaps["tab20"]
    for i, account in enumerate(wide.columns):
        values = wide[account].to_numpy() / MSEK
        ax.bar(wide.index, values, bottom=bottom, label=L(str(account)), color=cmap(i % 20))
        bottom += values
    year_axis(ax)
    finish(ax, f"{L('costs')} ({ctx.shown})", L("MSEK"), legend=False)
    ax.legend(fontsize=6, ncol=1, loc="center left", bbox_to_anchor=(1.0, 0.5))


@chart(
    "result_split",
    "Money",
    ("Result: operations and products", "Resultat: verksamhet och produkter"),
    (
        "The centre's result per year split into products (rent and sales excluding markup minus device "
        "costs) and operations (the rest), in MSEK, before settlement.",
        "Centrets resultat per år uppdelat på produkter (hyra och försäljning exklusive påslag minus "
        "hjälpmedelskostnader) och verksamhet (resten), i mnkr, före reglering.",
    ),
    ("result_split",),
)
def draw_result_split(fig: Figure, ctx: Context) -> None:
    frame = ctx.data["result_split"]
    L = ctx.labels
    ax = fig.subplots()
    series(ax, frame, "year", "operations_result", label=L("operations_result"), scale=MSEK)
    series(ax, frame, "year", "product_result", label=L("product_result"), scale=MSEK)
    series(ax, frame, "year", "result", label=L("result"), scale=MSEK, ls="--")
    ax.axhline(0, color="black", lw=0.8)
    year_axis(ax)
    finish(ax, L("result"), L("MSEK"))


@chart(
    "settlement",
    "Money",
    ("Settlement per principal", "Reglering per huvudman"),
    (
        "The result settled with (+ repaid to, - charged to) each principal per year, in MSEK.",
        "Resultat reglerat med (+ återbetalt till, - debiterat) varje huvudman per år, i mnkr.",
    ),
    ("principals",),
)
def draw_settlement(fig: Figure, ctx: Context) -> None:
    frame = ctx.one("principals")
    L = ctx.labels
    ax = fig.subplots()
    for principal, rows in frame.groupby("principal", sort=True):
        ax.plot(rows["year"], rows["settlement"] / MSEK, marker="o", ms=3, label=str(principal))
    ax.axhline(0, color="black", lw=0.8)
    year_axis(ax)
    finish(ax, f"{L('settlement')} ({ctx.shown})", L("MSEK"))
    ax.legend(fontsize=6, ncol=2)


@chart(
    "net_cost",
    "Money",
    ("Net cost per principal and per inhabitant", "Nettokostnad per huvudman och per invånare"),
    (
        "What each principal paid minus what it got back, per year: in MSEK and in SEK per inhabitant (the "
        "region per inhabitant of the county).",
        "Vad varje huvudman betalade minus vad den fick tillbaka, per år: i mnkr och i kronor per invånare "
        "(regionen per invånare i länet).",
    ),
    ("principals",),
    size=(12, 5.0),
)
def draw_net_cost(fig: Figure, ctx: Context) -> None:
    frame = ctx.one("principals")
    L = ctx.labels
    left, right = grid(fig, 2, cols=2)
    for principal, rows in frame.groupby("principal", sort=True):
        left.plot(rows["year"], rows["net_cost"] / MSEK, marker="o", ms=3, label=str(principal))
        right.plot(rows["year"], rows["net_cost_per_inhabitant"], marker="o", ms=3, label=str(principal))
    year_axis(left)
    year_axis(right)
    left.set_yscale("symlog", linthresh=1.0)
    finish(left, f"{L('net_cost')} ({ctx.shown})", L("MSEK"), legend=False)
    finish(right, L("net_cost_per_inhabitant"), L("SEK"))
    right.legend(fontsize=6, ncol=2)


@chart(
    "book_value",
    "Money",
    ("Book value, depreciation and purchases", "Bokfört värde, avskrivningar och inköp"),
    (
        "Book value of capitalised devices at each year end and the year's depreciation (run-off), and the "
        "year's purchases capitalised (above the threshold) vs expensed, in MSEK.",
        "Bokfört värde för aktiverade hjälpmedel vid varje årsskifte och årets avskrivningar, "
        "och årets inköp "
        "aktiverade (över gränsen) respektive kostnadsförda, i mnkr.",
    ),
    ("book_value",),
    size=(12, 4.8),
)
def draw_book_value(fig: Figure, ctx: Context) -> None:
    frame = ctx.data["book_value"]
    L = ctx.labels
    left, right = grid(fig, 2, cols=2)
    series(left, frame, "year", "book_value_end", label=L("book_value_end"), scale=MSEK)
    series(left, frame, "year", "depreciation", label=L("depreciation"), scale=MSEK)
    observed(
        left,
        ctx,
        "cost_depreciation_devices",
        yearly_only=True,
        scale=MSEK,
        unit="kSEK",
        absolute=True,
        label=f"{L('depreciation')}, {L('observed')}",
    )
    year_axis(left)
    finish(left, L("book_value_end"), L("MSEK"))
    series(right, frame, "year", "capitalised", label=L("capitalised"), scale=MSEK)
    series(right, frame, "year", "expensed", label=L("expensed"), scale=MSEK)
    observed(
        right,
        ctx,
        "cost_devices_expensed",
        yearly_only=True,
        scale=MSEK,
        unit="kSEK",
        absolute=True,
        label=f"{L('expensed')}, {L('observed')}",
    )
    year_axis(right)
    finish(right, f"{L('capitalised')} / {L('expensed')}", L("MSEK"))


@chart(
    "prescriber_payer",
    "Money",
    ("Prescriber vs payer", "Förskrivare och betalare"),
    (
        "Rentals started per year by whose prescriber wrote them (region or municipalities) and who pays "
        "for them under the cost-responsibility rules; right: the municipalities' share of prescriptions "
        "and of payments, with the region's observed shares where its documents give them. The model "
        "derives the prescriber from the patient's attributes with the rules of the transfer of home "
        "health care (config 'prescribing', docs/sources.md P1): special housing, municipal home health "
        "care and adults' home-visit devices by municipal prescribers; children and specialist devices by "
        "the region.",
        "Påbörjade uthyrningar per år efter vems förskrivare som skrev dem (region eller kommuner) och vem "
        "som betalar enligt kostnadsansvaret; höger: kommunernas andel av förskrivningarna och av "
        "betalningarna, med regionens utfall där dokumenten anger det. Modellen härleder förskrivaren ur "
        "patientens uppgifter enligt kommunaliseringen av hemsjukvården (särskilt boende, kommunal "
        "hemsjukvård och vuxnas hjälpmedel som kräver hembesök: kommunal förskrivare; barn och "
        "specialisthjälpmedel: regionen).",
    ),
    ("prescriber_payer",),
    size=(12, 5.0),
)
def draw_prescriber_payer(fig: Figure, ctx: Context) -> None:
    frame = ctx.data["prescriber_payer"]
    L = ctx.labels
    left, right = grid(fig, 2, cols=2)
    one = ctx.one("prescriber_payer")
    years = sorted(one["year"].unique())
    bottom = np.zeros(len(years))
    pairs = [
        ("region", "region"),
        ("municipalities", "municipalities"),
        ("municipalities", "region"),
        ("region", "municipalities"),
    ]
    for prescriber, payer in pairs:
        rows = one[(one["prescriber"] == prescriber) & (one["payer"] == payer)].set_index("year")
        values = rows["rentals"].reindex(years).fillna(0.0).to_numpy()
        label = f"{L('prescribed_by')} {L(prescriber).lower()}, {L('paid_by')} {L(payer).lower()}"
        left.bar(years, values, bottom=bottom, label=label)
        bottom += values
    year_axis(left)
    left.set_ylim(0, max(float(bottom.max()), 1.0) * 1.4)  # room above the bars for the legend
    finish(left, f"{L('rentals_started')} ({ctx.shown})", L("count"), legend=False)
    left.legend(fontsize=7, loc="upper left")
    shares = []
    for scenario, rows in frame.groupby("scenario", sort=False):
        muni_prescribed = rows[rows["prescriber"] == "municipalities"].groupby("year")["rental_share"].sum()
        muni_paid = rows[rows["payer"] == "municipalities"].groupby("year")["rental_share"].sum()
        shares.append((str(scenario), muni_prescribed, muni_paid))
    for scenario, prescribed, paid in shares:
        suffix = f" ({scenario})" if len(shares) > 1 else ""
        (line,) = right.plot(
            prescribed.index,
            prescribed.to_numpy(),
            marker="o",
            ms=3,
            label=f"{L('muni_prescribed_share')}{suffix}",
        )
        right.plot(
            paid.index,
            paid.to_numpy(),
            marker="s",
            ms=3,
            ls="--",
            color=line.get_color(),
            label=f"{L('muni_paid_share')}{suffix}",
        )
    for metric, marker, what in (
        ("muni_share_of_rented_prescriptions", "D", L("muni_prescribed_share")),
        ("muni_share_of_rented_cost_responsibility", "s", L("muni_paid_share")),
    ):
        for i, o in enumerate(ctx.observed.get(metric, "municipalities")):
            first, last = (int(p[:4]) for p in (o.period.split("..")[0], o.period.split("..")[-1]))
            right.hlines(o.value, first, last, color="black", lw=2)
            right.plot(
                [(first + last) / 2],
                [o.value],
                marker,
                color="black",
                ms=6,
                label=f"{what}, {L('observed')} {o.period} ({o.document.split(',')[0]})" if i == 0 else None,
            )
            if o.document not in ctx.used:
                ctx.used.append(o.document)
    right.set_ylim(0, 1)
    year_axis(right)
    finish(right, L("municipalities_share"), L("share"))
