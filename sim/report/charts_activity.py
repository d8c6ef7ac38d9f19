"""Charts of volumes, service, fleet and capacity (the activity of the centre)."""

from __future__ import annotations

import numpy as np
from matplotlib.artist import Artist
from matplotlib.figure import Figure

from sim.report.charts import Context, chart, finish, grid, observed, series, target, year_axis
from sim.report.tables import SERVICE_KPIS, VOLUMES

OBSERVED_NAME = {
    "delivery_on_planned_day": "kpi_delivery_on_planned_day",
    "repair_done_within_5_workdays": "kpi_repair_done_within_5_workdays",
    "fitting_offered_within_15_workdays": "kpi_fitting_offered_within_15_workdays",
    "rental_rate": "kpi_rental_rate_devices_at_customer",
    "mil_per_device": "kpi_mil_driven_per_rented_individual_volume",
}
KPI_PANEL = (*SERVICE_KPIS, "rental_rate", "mil_per_device")


@chart(
    "volumes_yearly",
    "Volumes",
    ("Volumes per year", "Volymer per år"),
    (
        "Orders, returns, reconditioning and technical work orders, pickup orders and "
        "deliveries per calendar "
        "year; labels give the change on the previous year.",
        "Beställningar, returer, arbetsordrar rekonditionering och teknik, hämtordrar och leveranser per "
        "kalenderår; etiketterna visar förändringen mot föregående år.",
    ),
    ("volumes_yearly",),
    size=(12, 6.5),
)
def draw_volumes_yearly(fig: Figure, ctx: Context) -> None:
    frame = ctx.data["volumes_yearly"]
    L = ctx.labels
    for ax, metric in zip(grid(fig, len(VOLUMES)), VOLUMES, strict=True):
        series(ax, frame, "year", metric)
        first = frame[frame["scenario"] == ctx.scenarios[0]].sort_values("year")
        values = first[metric].to_numpy(dtype=float)
        for x, prev, cur in zip(first["year"].to_numpy()[1:], values[:-1], values[1:], strict=True):
            if prev > 0:
                ax.annotate(f"{(cur / prev - 1):+.1%}", (x, cur), fontsize=6, ha="center", va="bottom")
        year_axis(ax)
        finish(ax, L(metric), L("count"), legend=len(ctx.scenarios) > 1 and metric == VOLUMES[0])


@chart(
    "volumes_monthly",
    "Volumes",
    ("Orders and returns per month", "Beställningar och returer per månad"),
    (
        "Orders and returns per calendar month: the seasonal pattern (summer, holidays).",
        "Beställningar och returer per kalendermånad: säsongsmönstret (sommar, helger).",
    ),
    ("volumes_monthly",),
)
def draw_volumes_monthly(fig: Figure, ctx: Context) -> None:
    frame = ctx.data["volumes_monthly"]
    L = ctx.labels
    for ax, metric in zip(grid(fig, 2, cols=1), ("orders", "returns"), strict=True):
        series(ax, frame, "month", metric)
        finish(ax, L(metric), L("count"), legend=len(ctx.scenarios) > 1)


@chart(
    "on_rent_by_payer",
    "Volumes",
    ("Tracked devices on rent per payer", "Individmärkta hjälpmedel uthyrda per betalare"),
    (
        "Individually tracked devices on rent at each year end, by who pays: the region and each "
        "municipality; diamonds are the observed volumes at the end of April 2023.",
        "Individmärkta hjälpmedel uthyrda vid varje årsskifte per betalare: regionen och varje kommun; "
        "romberna är utfallet i slutet av april 2023.",
    ),
    ("on_rent_by_payer",),
    size=(12, 5.6),
)
def draw_on_rent(fig: Figure, ctx: Context) -> None:
    frame = ctx.one("on_rent_by_payer")
    L = ctx.labels
    left, right = grid(fig, 2, cols=2)
    region = frame[frame["payer"] == "region"]
    munis = frame[frame["payer"] != "region"]
    total = munis.groupby(["scenario", "year"], as_index=False)["devices"].sum()
    series(left, region, "year", "devices", label=L("region"))
    series(left, total, "year", "devices", label=L("municipalities"))
    observed(
        left,
        ctx,
        "rented_volume_individual",
        "region_total",
        at_year=False,
        label=f"{L('region')}, {L('observed')}",
    )
    observed(
        left,
        ctx,
        "rented_volume_individual",
        "municipalities_total",
        at_year=False,
        marker="s",
        label=f"{L('municipalities')}, {L('observed')}",
    )
    year_axis(left)
    finish(left, f"{L('region')} / {L('municipalities')}", L("devices"))
    for payer, rows in munis.groupby("payer", sort=True):
        right.plot(rows["year"], rows["devices"], marker="o", ms=3, label=str(payer))
        for o in ctx.observed.get("rented_volume_individual", str(payer)):
            right.plot([o.year], [o.value], "D", color="black", ms=4)
            if o.document not in ctx.used:
                ctx.used.append(o.document)
    year_axis(right)
    finish(right, L("municipalities"), L("devices"))
    right.legend(fontsize=6, ncol=2)


@chart(
    "orders_per_1000",
    "Volumes",
    ("Orders per 1 000 inhabitants 65+ and 80+", "Beställningar per 1 000 invånare 65+ och 80+"),
    (
        "Orders (deliveries by the order's year) for patients 65+ and 80+ per 1 000 inhabitants of the same "
        "ages, and the population by age band from the run's config: the table's history and "
        "projection, the simulated years shaded.",
        "Beställningar (leveranser efter beställningsår) för patienter 65+ och 80+ per 1 000 "
        "invånare i samma åldrar, och befolkningen per åldersgrupp enligt körningens konfiguration: "
        "tabellens historik och prognos, de simulerade åren skuggade.",
    ),
    ("orders_per_1000", "population"),
    size=(12, 5.2),
)
def draw_orders_per_1000(fig: Figure, ctx: Context) -> None:
    L = ctx.labels
    left, right = grid(fig, 2, cols=2)
    frame = ctx.data["orders_per_1000"]
    series(left, frame, "year", "per_1000_65_plus", label=L("age_65_plus"))
    series(left, frame, "year", "per_1000_80_plus", label=L("age_80_plus"))
    year_axis(left)
    finish(left, L("orders_per_1000"), L("orders_per_1000"))
    pop = ctx.one("population")
    for band, rows in pop.groupby("band", sort=True):
        right.plot(rows["year"], rows["persons"] / 1000, marker="o", ms=2, label=str(band))
    run_years = frame["year"]
    if len(run_years):
        right.axvspan(
            run_years.min() - 0.5,
            run_years.max() + 0.5,
            color="gray",
            alpha=0.12,
            label=L.pick("simulated years", "simulerade år"),
        )
    year_axis(right)
    finish(right, L("population"), f"1 000 {L('persons')}")


@chart(
    "kpi_panel",
    "Service",
    ("Service KPIs per year against targets", "Nyckeltal per år mot mål"),
    (
        "Delivery on the planned day, repair within 5 workdays, fitting offered within 15 workdays, rental "
        "rate and mil driven per tracked device on rent, per year; dashed lines are the targets and diamonds "
        "the observed values in the region's documents.",
        "Leverans på planerad dag, reparation inom 5 arbetsdagar, utprovning inom 15 arbetsdagar, "
        "uthyrningsgrad och mil per uthyrt individmärkt hjälpmedel per år; streckade linjer är målen och "
        "romberna utfallet i regionens dokument.",
    ),
    ("kpis_yearly",),
    size=(12, 6.5),
)
def draw_kpi_panel(fig: Figure, ctx: Context) -> None:
    frame = ctx.data["kpis_yearly"]
    L = ctx.labels
    axes = grid(fig, len(KPI_PANEL))
    entries: dict[str, Artist] = {}
    for ax, kpi in zip(axes, KPI_PANEL, strict=True):
        if frame[kpi].notna().any():
            series(ax, frame, "year", kpi)
        goal = target(ax, ctx, OBSERVED_NAME[kpi])
        if goal is not None:  # the number on its line; the legend says what a dashed line is
            ax.annotate(
                f"{goal:g}",
                (1.0, goal),
                xycoords=("axes fraction", "data"),
                xytext=(2, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
                color="tab:red",
            )
        observed(ax, ctx, OBSERVED_NAME[kpi])
        year_axis(ax)
        finish(ax, L(kpi), L("share") if kpi != "mil_per_device" else "mil", legend=False)
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(L("target") if label.startswith(f"{L('target')} ") else label, handle)
    # One legend in the grid's free cell, not one per panel over the lines.
    spare = fig.axes[len(KPI_PANEL)]
    fig.legend(
        list(entries.values()),
        list(entries),
        loc="center",
        bbox_to_anchor=(0.5, 0.5),
        bbox_transform=spare.transAxes,
        fontsize=8,
        frameon=False,
    )


@chart(
    "kpi_traffic_light",
    "Service",
    ("KPI traffic lights", "Trafikljus för nyckeltal"),
    (
        "Each KPI per year: green at or above target, amber within 5 points below, red further below; "
        "targets from the region's documents (no colour where there is no target).",
        "Varje nyckeltal per år: grönt vid eller över mål, gult upp till 5 procentenheter under, rött längre "
        "under; mål ur regionens dokument (ingen färg där mål saknas).",
    ),
    ("kpis_yearly",),
    size=(12, 3.6),
    margins={"left": 0.3},
)
def draw_traffic_light(fig: Figure, ctx: Context) -> None:
    frame = ctx.one("kpis_yearly").sort_values("year")
    L = ctx.labels
    ax = fig.subplots()
    ax.axis("off")
    years = [str(int(y)) for y in frame["year"]]
    cells, colours, rows = [], [], []
    for kpi in KPI_PANEL:
        found = ctx.observed.target(OBSERVED_NAME[kpi])
        goal = found[0] if found else None
        if found and found[1] not in ctx.used:
            ctx.used.append(found[1])
        rows.append(f"{L(kpi)}" + (f" ({L('target')} {goal:g})" if goal is not None else ""))
        line, colour = [], []
        for v in frame[kpi]:
            line.append("" if np.isnan(v) else f"{v:.3f}")
            if goal is None or np.isnan(v):
                colour.append("white")
            elif v >= goal:
                colour.append("#b7e1a1")
            elif v >= goal - 0.05:
                colour.append("#ffe08a")
            else:
                colour.append("#f4a6a6")
        cells.append(line)
        colours.append(colour)
    tab = ax.table(cellText=cells, cellColours=colours, rowLabels=rows, colLabels=years, loc="center")
    tab.auto_set_font_size(False)
    tab.set_fontsize(8)
    tab.scale(1, 1.4)
    ax.set_title(f"{L('scenario')}: {ctx.shown}", fontsize=9)


@chart(
    "kpis_municipality",
    "Service",
    ("Service KPIs per municipality", "Nyckeltal per kommun"),
    (
        "The three service KPIs over the report's years per municipality of the patient; dashed lines are "
        "the targets.",
        "De tre servicenyckeltalen över rapportens år per patientens kommun; streckade linjer är målen.",
    ),
    ("kpis_municipality",),
    size=(12, 5.2),
    margins={"left": 0.1, "wspace": 0.45},
)
def draw_kpis_municipality(fig: Figure, ctx: Context) -> None:
    frame = ctx.one("kpis_municipality")
    L = ctx.labels
    for ax, kpi in zip(grid(fig, 3), SERVICE_KPIS, strict=True):
        ax.barh(frame["municipality"], frame[kpi], color="tab:blue")
        found = ctx.observed.target(OBSERVED_NAME[kpi])
        if found:
            ax.axvline(found[0], ls="--", color="tab:red", lw=1, label=f"{L('target')} {found[0]:g}")
            if found[1] not in ctx.used:
                ctx.used.append(found[1])
        ax.set_xlim(0, 1)
        ax.tick_params(labelsize=7)
        finish(ax, L(kpi) + ctx.shown_suffix, "")


@chart(
    "service_times",
    "Service",
    ("Distributions of lead times", "Fördelning av ledtider"),
    (
        "Share of deliveries by lead time from order (days), of technical work orders by "
        "workdays to done, and "
        "of fittings by workdays from referral to start.",
        "Andel leveranser per ledtid från beställning (dagar), tekniska arbetsordrar per arbetsdagar till "
        "klart och utprovningar per arbetsdagar från remiss till start.",
    ),
    ("service_times",),
    size=(12, 4.4),
    margins={"bottom": 0.22},
)
def draw_service_times(fig: Figure, ctx: Context) -> None:
    frame = ctx.one("service_times")
    L = ctx.labels
    measures = list(dict.fromkeys(frame["measure"]))
    for ax, measure in zip(grid(fig, len(measures)), measures, strict=True):
        rows = frame[frame["measure"] == measure]
        names = [
            f"{a:g}-{b:g}" if np.isfinite(b) else f"{a:g}+"
            for a, b in zip(rows["bin_from"], rows["bin_to"], strict=True)
        ]
        ax.bar(names, rows["share"], color="tab:blue")
        ax.tick_params(axis="x", rotation=60)
        finish(ax, L(measure), L("share"), legend=False)


@chart(
    "zero_price",
    "Fleet",
    ("Devices rented at price 0", "Hjälpmedel uthyrda till pris 0"),
    (
        "Share of rented device-days at price 0 (fully depreciated), all payers and municipal "
        "payers, and the "
        "mean number of devices rented at price 0 per year.",
        "Andel uthyrda hjälpmedelsdagar till pris 0 (fullt avskrivna), alla betalare och kommunerna, och "
        "medelantalet hjälpmedel uthyrda till pris 0 per år.",
    ),
    ("zero_price",),
    size=(12, 4.6),
)
def draw_zero_price(fig: Figure, ctx: Context) -> None:
    frame = ctx.data["zero_price"]
    L = ctx.labels
    left, right = grid(fig, 2, cols=2)
    series(left, frame, "year", "zero_price_share", label=L("zero_price_share"))
    series(left, frame, "year", "zero_price_share_municipal", label=L("municipalities"))
    year_axis(left)
    finish(left, L("zero_price_share"), L("share"))
    series(right, frame, "year", "zero_price_devices")
    year_axis(right)
    finish(right, L("zero_price_devices"), L("devices"), legend=len(ctx.scenarios) > 1)


@chart(
    "fleet_age",
    "Fleet",
    ("Fleet age by category", "Beståndets ålder per kategori"),
    (
        "Mean age since purchase of the tracked devices in the fleet (not scrapped, sold or "
        "lost) at each year "
        "end, per device category.",
        "Medelålder sedan inköp för individmärkta hjälpmedel i beståndet (ej utrangerade, sålda eller "
        "förlorade) vid varje årsskifte, per kategori.",
    ),
    ("fleet_age",),
)
def draw_fleet_age(fig: Figure, ctx: Context) -> None:
    frame = ctx.one("fleet_age")
    L = ctx.labels
    ax = fig.subplots()
    for cat, rows in frame.groupby("category", sort=True):
        ax.plot(rows["year"], rows["mean_age_years"], marker="o", ms=3, label=str(cat))
    year_axis(ax)
    finish(ax, L("mean_age_years"), L("mean_age_years"))
    ax.legend(fontsize=7, ncol=2)


@chart(
    "reuse_scrapping",
    "Fleet",
    ("Reuse and scrapping", "Återanvändning och utrangering"),
    (
        "Reuse rate: share of rentals started with a device that was rented before (reconditioned stock); "
        "scrapped devices per year.",
        "Återanvändningsgrad: andel nya uthyrningar med ett hjälpmedel som hyrts ut förut (rekonditionerat "
        "lager); utrangerade hjälpmedel per år.",
    ),
    ("reuse", "scrapped"),
    size=(12, 4.6),
)
def draw_reuse(fig: Figure, ctx: Context) -> None:
    L = ctx.labels
    left, right = grid(fig, 2, cols=2)
    series(left, ctx.data["reuse"], "year", "reuse_rate")
    year_axis(left)
    finish(left, L("reuse_rate"), L("share"), legend=len(ctx.scenarios) > 1)
    total = ctx.data["scrapped"].groupby(["scenario", "year"], as_index=False, sort=False)["scrapped"].sum()
    series(right, total, "year", "scrapped")
    year_axis(right)
    finish(right, L("scrapped"), L("devices"), legend=len(ctx.scenarios) > 1)


@chart(
    "workshop",
    "Fleet",
    ("Workshop backlog and room use", "Verkstadskö och lokalutnyttjande"),
    (
        "Devices awaiting or in reconditioning (daily mean per month) against the reconditioning room "
        "(dashed).",
        "Hjälpmedel som väntar på eller är i rekonditionering (dagligt medel per månad) mot lokalens "
        "kapacitet (streckad).",
    ),
    ("workshop",),
)
def draw_workshop(fig: Figure, ctx: Context) -> None:
    frame = ctx.data["workshop"]
    L = ctx.labels
    ax = fig.subplots()
    series(ax, frame, "month", "in_workshop", label=L("in_workshop"))
    room = frame["room"].dropna()
    if len(room):
        ax.axhline(float(room.iloc[0]), ls="--", color="gray", label=f"{L('room_use')} = 1")
    finish(ax, L("in_workshop"), L("devices"))


@chart(
    "stock",
    "Fleet",
    ("Stock and backorders", "Lager och restorder"),
    (
        "Devices in stock, new and reconditioned, and open backorders (daily mean per month).",
        "Hjälpmedel i lager, nya och rekonditionerade, och öppna restorder (dagligt medel per månad).",
    ),
    ("stock",),
    size=(12, 4.6),
)
def draw_stock(fig: Figure, ctx: Context) -> None:
    frame = ctx.data["stock"]
    L = ctx.labels
    metrics = ("stock_new", "stock_reconditioned", "backorders_open")
    for ax, metric in zip(grid(fig, 3), metrics, strict=True):
        series(ax, frame, "month", metric)
        ax.tick_params(axis="x", rotation=45)
        finish(ax, L(metric), L("devices"), legend=len(ctx.scenarios) > 1)


@chart(
    "utilisation",
    "Capacity",
    ("Utilisation per staff pool and month", "Beläggning per personalgrupp och månad"),
    (
        "Busy over available hours per staff pool and month; the summer dip in available staff shows as high "
        "utilisation in July and August.",
        "Arbetade timmar genom tillgängliga timmar per personalgrupp och månad; sommarens lägre "
        "bemanning syns "
        "som hög beläggning i juli och augusti.",
    ),
    ("utilisation",),
)
def draw_utilisation(fig: Figure, ctx: Context) -> None:
    frame = ctx.data["utilisation"]
    L = ctx.labels
    ax = fig.subplots()
    for pool, rows in frame.groupby("pool", sort=True):
        series(ax, rows, "month", "utilisation", label=L(str(pool)))
    ax.set_ylim(0, 1.05)
    finish(ax, L("utilisation"), L("share"))


@chart(
    "routes",
    "Capacity",
    ("Km and stops per route", "Km och stopp per tur"),
    ("Km driven and stops made per route and year.", "Körda km och antal stopp per tur och år."),
    ("routes",),
    size=(12, 4.6),
)
def draw_routes(fig: Figure, ctx: Context) -> None:
    frame = ctx.one("routes")
    L = ctx.labels
    left, right = grid(fig, 2, cols=2)
    for route, rows in frame.groupby("route", sort=True):
        left.plot(rows["year"], rows["km"] / 1000, marker="o", ms=3, label=str(route))
        right.plot(rows["year"], rows["stops"], marker="o", ms=3, label=str(route))
    year_axis(left)
    year_axis(right)
    finish(left, L("km") + ctx.shown_suffix, f"1 000 {L('km')}")
    finish(right, L("stops") + ctx.shown_suffix, L("count"))
