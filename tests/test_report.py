"""hmsim report: every chart with data is drawn, the PDF, workbook and index.html match, output reproduces."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.report.build import make_report
from sim.report.charts import CHARTS, ChartSpec
from sim.report.tables import TABLES
from sim.store import read_run
from tests.conftest import DATA, hmsim

openpyxl = pytest.importorskip("openpyxl")

CHROMIUM = Path("/usr/bin/chromium")
# Charts a single run cannot have: a batch's scenarios, and the credibility results of hmsim calibrate /
# hmsim sensitivity (unless given with --credibility).
NOT_FOR_A_RUN = {
    "forest",
    "cost_paths",
    "who_pays",
    "option_matrix",
    "calibration_fit",
    "sensitivity",
    "sensitivity_sobol",
}
CREDIBILITY = ("calibration_fit", "sensitivity", "sensitivity_sobol")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny region with economics, one year and a half (two calendar years), via the command line."""
    out = tmp_path_factory.mktemp("report") / "run"
    result = hmsim("run", str(DATA / "tiny_economics.yaml"), "--years", "1.5", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def report(tiny_run: Path) -> Path:
    result = hmsim("report", str(tiny_run))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return tiny_run / "report"


def _pdf_pages(path: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", path.read_bytes()))


def _sheet(wb: object, name: str) -> pd.DataFrame:
    ws = wb[name]  # type: ignore[index]
    rows = list(ws.iter_rows(values_only=True))
    return pd.DataFrame(rows[1:], columns=rows[0])


def test_every_chart_with_data_is_drawn(report: Path) -> None:
    meta = json.loads((report / "report.json").read_text())
    expected = [c for c in CHARTS if c not in NOT_FOR_A_RUN]
    assert meta["charts"] == expected  # in registry order, none missing
    assert set(meta["omitted"]) == NOT_FOR_A_RUN
    pngs = sorted((report / "png").glob("*.png"))
    assert [p.stem.split("_", 1)[1] for p in pngs] == expected
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    svgs = sorted((report / "svg").glob("*.svg"))
    assert [p.stem for p in svgs] == [p.stem for p in pngs]
    assert all("<svg" in p.read_text(encoding="utf-8")[:2000] for p in svgs)


def test_pdf_has_one_page_per_chart(report: Path) -> None:
    meta = json.loads((report / "report.json").read_text())
    assert _pdf_pages(report / "report.pdf") == len(meta["charts"])


def test_workbook_sheets_and_values_equal_the_run_tables(report: Path, tiny_run: Path) -> None:
    wb = openpyxl.load_workbook(report / "report.xlsx")
    output = read_run(tiny_run)
    config = output.meta["manifest"]["resolved_config"]
    assert wb.sheetnames == ["README", *TABLES]
    for name in wb.sheetnames[1:]:
        ws = wb[name]
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref == ws.dimensions
        sheet = _sheet(wb, name)
        spec = TABLES[name]
        table = spec.build(output, config)
        assert len(sheet) == len(table), name
        for column in table.columns:
            header = column if column in spec.keys else f"{column} ({spec.units[column]})"
            got = sheet[header]
            if pd.api.types.is_numeric_dtype(table[column]):
                np.testing.assert_allclose(
                    got.astype(float),
                    table[column].astype(float),
                    rtol=1e-12,
                    equal_nan=True,
                    err_msg=f"{name}.{column}",
                )
                assert all(v is None or isinstance(v, int | float) for v in got), f"{name}.{column} as text"
            elif not pd.api.types.is_datetime64_any_dtype(table[column]):
                assert list(got) == [str(v) for v in table[column]]
    readme = dict(_sheet(wb, "README").itertuples(index=False, name=None))
    manifest = output.meta["manifest"]
    assert readme["config hash"] == manifest["config_hash"] and readme["seeds"] == str(manifest["seed"])
    assert manifest["git"]["revision"] in readme["git revision (runs)"]
    assert "matplotlib" in readme["package versions (report)"]


def test_workbook_numbers_agree_with_the_raw_tables(report: Path, tiny_run: Path) -> None:
    """Independent of the builders: orders per year from the daily table, revenue from the ledger."""
    wb = openpyxl.load_workbook(report / "report.xlsx")
    ts = pd.read_parquet(tiny_run / "timeseries.parquet")
    orders = ts[ts["metric"] == "orders"].groupby(ts["date"].dt.year)["value"].sum()
    volumes = _sheet(wb, "volumes_yearly").set_index("year")["orders (count)"]
    assert volumes.to_dict() == {int(y): float(v) for y, v in orders.items()}
    ledger = pd.read_parquet(tiny_run / "ledger.parquet")
    revenue = ledger[ledger["account"].astype(str).str.startswith("revenue_")].groupby("year")["amount"].sum()
    income = _sheet(wb, "income_statement").set_index("year")["revenue (kSEK)"]
    np.testing.assert_allclose(income.to_numpy(dtype=float), revenue.to_numpy() / 1000, rtol=1e-12)


def test_index_html_references_exist(report: Path) -> None:
    html = (report / "index.html").read_text(encoding="utf-8")
    refs = re.findall(r'(?:src|href)="([^"#]+)"', html)
    assert refs and not [r for r in refs if "://" in r]  # offline: nothing fetched from the network
    assert not [r for r in refs if not (report / r).exists()]
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) == len(json.loads((report / "report.json").read_text())["charts"])
    assert "hmsim calibrate" in html  # the left-out chart is named with its reason


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium on this machine")
def test_index_html_renders_in_a_headless_browser_without_missing_images(
    report: Path, tmp_path: Path
) -> None:
    page = tmp_path / "page"
    shutil.copytree(report, page)
    probe = (
        "<script>window.addEventListener('load', () => { const bad = [...document.images]"
        ".filter(i => !i.complete || i.naturalWidth === 0).length; const p = document.createElement('p');"
        " p.id = 'probe'; p.textContent = 'images ' + document.images.length + ' broken ' + bad;"
        " document.body.appendChild(p); });</script>"
    )
    html = (page / "index.html").read_text(encoding="utf-8").replace("</body>", probe + "</body>")
    (page / "probe.html").write_text(html, encoding="utf-8")
    result = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--dump-dom",
            (page / "probe.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r"images (\d+) broken (\d+)", result.stdout)
    assert found, result.stderr[-2000:]
    charts = len(json.loads((report / "report.json").read_text())["charts"])
    assert (int(found.group(1)), int(found.group(2))) == (charts, 0)


def test_same_inputs_give_the_same_files_byte_for_byte(report: Path, tiny_run: Path, tmp_path: Path) -> None:
    """Built twice on one machine: PDF, workbook, index.html and every PNG are the same bytes; the workbook's
    document dates are the data's (the run's finish time), not the clock's."""
    again = make_report(tiny_run, tmp_path / "again", progress=False)
    for name in ("report.pdf", "report.xlsx", "index.html", "report.json"):
        first, second = (report / name).read_bytes(), (again.out / name).read_bytes()
        assert first == second, name
    for picture in [*(report / "png").glob("*.png"), *(report / "svg").glob("*.svg")]:
        assert picture.read_bytes() == (again.out / picture.parent.name / picture.name).read_bytes(), picture
    finished = json.loads((tiny_run / "manifest.json").read_text())["finished_at"]
    props = openpyxl.load_workbook(again.out / "report.xlsx").properties
    assert props.created == props.modified
    assert props.created.isoformat()[:19] == pd.Timestamp(finished).tz_convert("UTC").isoformat()[:19]
    first = openpyxl.load_workbook(report / "report.xlsx")
    second = openpyxl.load_workbook(again.out / "report.xlsx")
    assert first.sheetnames == second.sheetnames
    for name in first.sheetnames:
        assert list(first[name].values) == list(second[name].values), name


def test_swedish_labels_a_year_window_and_a_chart_that_cannot_draw(
    tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(fig: object, ctx: object) -> None:
        raise KeyError("no such metric")

    spec = ChartSpec("broken", "Money", ("Broken", "Trasig"), ("", ""), ("income_statement",), broken)
    monkeypatch.setitem(CHARTS, "broken", spec)
    made = make_report(tiny_run, tmp_path / "sv", lang="sv", years="2024..2024", progress=False)
    out = made.out
    assert "no such metric" in dict(made.omitted)["broken"]  # left out with the reason, not a crash
    assert "broken" not in made.drawn and _pdf_pages(out / "report.pdf") == len(made.drawn)
    html = (out / "index.html").read_text(encoding="utf-8")
    assert 'lang="sv"' in html and "Volymer per år" in html and "Resultaträkning per år" in html
    wb = openpyxl.load_workbook(out / "report.xlsx")
    assert set(_sheet(wb, "volumes_yearly")["year"]) == {2024}
    assert {d.year for d in _sheet(wb, "volumes_monthly")["month"]} == {2024}


def test_bad_input_is_one_line_and_exit_2(tiny_run: Path, tmp_path: Path) -> None:
    cases = [
        (["report", str(tmp_path / "nothing")], "not a folder"),
        (["report", str(tmp_path)], "neither a run folder"),
        (["report", str(tiny_run), "--years", "2024-2025"], "--years '2024-2025'"),
        (["report", str(tiny_run), "--years", "2030..2031", "--out", str(tmp_path / "r")], "no chart"),
    ]
    for args, text in cases:
        result = hmsim(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert text in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    result = hmsim("report", str(tiny_run), "--out", str(keep))
    assert result.returncode == 2 and "not a hmsim report folder" in result.stderr
    assert (keep / "notes.txt").read_text() == "mine" and not list(tmp_path.glob(".*hmsim-*"))


def test_a_new_run_into_the_folder_replaces_its_report(report: Path, tiny_run: Path, tmp_path: Path) -> None:
    """The default report lives in its run folder and belongs to the run: hmsim run may replace both."""
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    assert json.loads((copy / "report" / ".hmsim").read_text())["format"] == "hmsim-report"
    result = hmsim("run", str(DATA / "tiny.yaml"), "--years", "0.1", "--out", str(copy), "--force")
    assert result.returncode == 0, result.stderr
    assert not (copy / "report").exists() and (copy / "manifest.json").exists()


def test_transition_windows_come_from_the_dated_changes() -> None:
    from sim.report.batch_tables import run_transitions

    changes = [
        {"from": "2026-01-01", "set": {"a": 1}, "reason": "admin costs"},
        {"from": "2026-07-01", "set": {"b": 9}, "reason": "transition over"},
        {"from": "2026-01-01", "set": {"b": 6}, "reason": "transition: degraded service"},
        {"from": "2028-01-01", "set": {"b": 5}, "reason": "transition: second step"},
    ]
    assert run_transitions(changes) == [("2026-01-01", "2026-07-01"), ("2028-01-01", None)]
    assert run_transitions([]) == []


@pytest.mark.slow
def test_cost_paths_shade_each_scenarios_own_transition_in_its_colour() -> None:
    """Options with different transition windows: each gets its own span, in its line's colour, in its own
    row below the costs, and in the legend; a scenario without transitions gets none."""
    from matplotlib.colors import to_rgb
    from matplotlib.figure import Figure

    from sim.report.charts import CHARTS, Context
    from sim.report.labels import Labels
    from sim.report.observed import Observed

    windows = [str(y) for y in range(2024, 2030)]
    frame = pd.DataFrame(
        [
            {
                "scenario": s,
                "metric": "ledger_costs",
                "window": w,
                "value": v,
                "value__low": v,
                "value__high": v,
            }
            for s, base in (("today", 100.0), ("short", 110.0), ("long", 120.0))
            for w, v in zip(windows, np.arange(6) * 5 + base, strict=True)
        ]
    )
    spans = {"short": [("2026-01-01", "2026-07-01")], "long": [("2026-01-01", "2027-07-01")]}
    ctx = Context(
        data={"scenario_windows": frame},
        labels=Labels("en"),
        observed=Observed(rows=pd.DataFrame(), files=()),
        kind="batch",
        scenarios=["today", "short", "long"],
        baseline="today",
        meta={"transitions": spans},
    )
    fig = Figure()
    CHARTS["cost_paths"].draw(fig, ctx)
    costs, strip = fig.axes
    colour = {str(line.get_label()): to_rgb(line.get_color()) for line in costs.get_lines()}
    bars = {str(c.get_label()): c.patches[0] for c in strip.containers}
    assert [t.get_text() for t in strip.get_yticklabels()] == ["short", "long"]
    for scenario, (start, end) in (("short", (2026.0, 2026.5)), ("long", (2026.0, 2027.5))):
        bar = next(b for label, b in bars.items() if label.startswith(f"transition: {scenario} "))
        assert to_rgb(bar.get_facecolor()) == colour[scenario]
        assert bar.get_x() == pytest.approx(start, abs=0.01)
        assert bar.get_x() + bar.get_width() == pytest.approx(end, abs=0.01)
    legend = [t.get_text() for t in costs.get_legend().get_texts()]
    assert sum(t.startswith("transition: ") for t in legend) == 2
    assert not any("today" in t for t in legend if t.startswith("transition"))


def test_a_batch_report_shows_scenarios_with_bands(tmp_path: Path) -> None:
    experiment = tmp_path / "exp.yaml"
    experiment.write_text(
        f"name: report_batch\nbase: {DATA / 'tiny_economics.yaml'}\n"
        "scenarios:\n  base: {}\n  more_technicians: {depots.Depot.service_technicians.count: 4}\n"
        "grid:\n  demand.trend.growth: [0.0, 0.05]\n"
        "replications: 2\nseed: 3\nyears: 1.2\nwindows: yearly\n"
        "metrics: [orders, kpi_repair_done_within_5_workdays, ledger_costs]\n"  # no net-cost metrics
        "keep_tables: [timeseries, depot_timeseries, kpis, ledger, products]\n",
        encoding="utf-8",
    )
    batch = tmp_path / "batch"
    assert hmsim("batch", str(experiment), "--out", str(batch), "--workers", "2").returncode == 0
    out = make_report(batch, progress=False, baseline="base__growth=0.0")
    for chart in ("forest", "cost_paths", "who_pays", "option_matrix", "volumes_yearly", "kpi_panel"):
        assert chart in out.drawn
    assert "on_rent_by_payer" in dict(out.omitted)  # the batch did not keep rentals
    wb = openpyxl.load_workbook(out.out / "report.xlsx")
    means = _sheet(wb, "analysis_means")
    index = pd.read_parquet(batch / "index.parquet")
    assert "growth" not in " ".join(means["metric"])  # grid inputs are not metrics
    ok = index[index["scenario"] == "more_technicians__growth=0.05"]
    row = means[(means["metric"] == "ledger_costs") & (means["scenario"] == "more_technicians__growth=0.05")]
    assert row["2023 mean"].iloc[0] == pytest.approx(ok["2023.ledger_costs"].mean() / 1000, rel=1e-12)
    volumes = _sheet(wb, "volumes_yearly")
    assert {"orders (count) mean", "orders (count) 95 % low", "orders (count) 95 % high"} <= set(
        volumes.columns
    )
    assert _pdf_pages(out.out / "report.pdf") == len(out.drawn)


def test_prescriber_follows_where_the_patient_is_cared_for() -> None:
    """Hand-made rows, one per rule of docs/sources.md P1: municipal care (special housing, home health
    care, a municipal unit) and home-visit devices of adults are prescribed by the municipality; children,
    the region's specialist classes, a region unit and an adult in ordinary housing with a rollator by the
    region. A child in special housing is paid by the municipality's rules but prescribed by the region;
    an adult's bed at home is prescribed by the municipality but paid by the region."""
    from sim.config.schema import Prescribing, Responsibility
    from sim.responsibility import payer_column, prescriber_column

    cases = [  # municipality, class, child, special housing, home care, unit, unit municipal -> prescriber
        ("A", "2", False, True, False, False, False, "A"),  # special housing
        ("A", "2", False, False, True, False, False, "A"),  # home health care
        ("B", "2", False, False, False, False, False, "region"),  # rollator from primary care
        ("B", "2", False, False, False, True, True, "B"),  # municipal unit
        ("A", "2", True, True, False, False, False, "region"),  # child: stays with the region
        ("B", "4", False, False, False, True, False, "region"),  # the region's unit
        ("A", "4", False, False, False, False, False, "A"),  # bed at home: home visit, municipal
        ("A", "1", False, True, False, False, False, "region"),  # power wheelchair: specialist team
        ("B", "4", True, False, False, False, False, "region"),  # child's bed: the region
    ]
    names = ["municipality", "responsibility_class", "child", "special_housing", "home_care"]
    rows = pd.DataFrame([c[:7] for c in cases], columns=[*names, "unit_device", "unit_municipal"])
    assert list(prescriber_column(Prescribing(), rows)) == [c[7] for c in cases]
    rules = Prescribing(home_visit_classes=[], children_with_region=False)
    assert list(prescriber_column(rules, rows))[4] == "A"  # the rules come from the config
    assert list(prescriber_column(rules, rows))[6] == "region"
    payer = payer_column(Responsibility(), rows)
    assert payer.iloc[6] == "region"  # the bed at home: prescribed by the municipality, paid by the region


def test_prescriber_payer_sheet_counts_every_rental_started(report: Path, tiny_run: Path) -> None:
    wb = openpyxl.load_workbook(report / "report.xlsx")
    sheet = _sheet(wb, "prescriber_payer")
    rentals = pd.read_parquet(tiny_run / "rentals.parquet")
    started = rentals[~rentals["initial"] & (rentals["start_day"] >= 0)]
    start = pd.Timestamp(json.loads((tiny_run / "manifest.json").read_text())["meta"]["start_date"])
    year = (start + pd.to_timedelta(np.floor(started["start_day"]), unit="D")).dt.year
    per_year = sheet.groupby("year")["rentals (count)"].sum()
    assert per_year.to_dict() == {int(y): float(n) for y, n in year.value_counts().sort_index().items()}
    paid_by_muni = sheet[sheet["payer"] == "municipalities"].groupby("year")["rentals (count)"].sum()
    muni = (started["payer"].astype(str) != "region").groupby(year).sum()
    assert paid_by_muni.to_dict() == {int(y): float(n) for y, n in muni.items()}
    shares = sheet.groupby("year")["rental_share (share)"].sum()
    np.testing.assert_allclose(shares.to_numpy(dtype=float), 1.0, rtol=1e-12)


def test_credibility_folder_that_is_neither_exits_2(tiny_run: Path, tmp_path: Path) -> None:
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "report.json").write_text(json.dumps({"targets": [], "degrees_of_freedom": 0}))
    result = hmsim("report", str(tiny_run), "--credibility", str(tmp_path), "--out", str(tmp_path / "r"))
    assert result.returncode == 2 and "neither a calibrate folder" in result.stderr
    result = hmsim("report", str(odd), "--out", str(tmp_path / "r"))
    assert result.returncode == 2 and "no targets" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_calibrate_and_sensitivity_folders_as_written_by_the_commands(tmp_path: Path) -> None:
    """Tiny runs of hmsim calibrate (the worked example, 2 evaluations) and hmsim sensitivity (the tiny
    config, half a year): the report reads the folders as the commands wrote them, alone or beside a run."""
    import yaml

    from sim.cli import main

    example = Path(__file__).resolve().parents[1] / "calibration"
    shutil.copytree(example / "example", tmp_path / "example")
    spec = yaml.safe_load((example / "example_region.yaml").read_text(encoding="utf-8"))
    spec.update(replications=2, optimiser={"method": "least_squares", "max_evaluations": 2})
    (tmp_path / "cal.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    assert (
        main(
            [
                "calibrate",
                str(tmp_path / "cal.yaml"),
                "--workers",
                "1",
                "--no-write",
                "--out",
                str(tmp_path / "cal"),
            ]
        )
        == 0
    )
    sens = {
        "name": "tiny_sens",
        "base": str(DATA / "tiny.yaml"),
        "years": 0.3,
        "parameters": {
            "demand": {"keys": ["demand.use_rates.*.*"], "mode": "scale", "bounds": [0.8, 1.2]},
            "failed": {"keys": ["transport.failed_delivery_probability"], "bounds": [0.0, 0.2]},
        },
        "outputs": {"km": {"kind": "route_km"}},
        "morris": {"trajectories": 2},
        "sobol": {"top": 1, "samples": 4},
    }
    (tmp_path / "sens.yaml").write_text(yaml.safe_dump(sens), encoding="utf-8")
    assert (
        main(["sensitivity", str(tmp_path / "sens.yaml"), "--workers", "1", "--out", str(tmp_path / "sens")])
        == 0
    )

    cal = make_report(tmp_path / "cal", tmp_path / "cal_report", progress=False)
    assert cal.drawn == ["calibration_fit"]
    assert "a calibration folder holds no runs" in dict(cal.omitted)["volumes_yearly"]
    fit = json.loads((tmp_path / "cal" / "report.json").read_text())
    wb = openpyxl.load_workbook(cal.out / "report.xlsx")
    sheet = _sheet(wb, "calibration_fit").set_index("target")
    for t in fit["targets"]:
        row = sheet.loc[t["target"]]
        assert row["role"] == "fitted" and row["observed (as the target)"] == t["observed"]
        assert row["after (as the target)"] == pytest.approx(t["after"]["mean"], rel=1e-12)
        assert row["after (as the target) 95 % low"] == pytest.approx(t["after"]["ci_low"], rel=1e-12)
    assert [h["target"] for h in fit["holdouts"]] == list(sheet[sheet["role"] == "hold-out"].index)
    assert len(_sheet(wb, "calibration_trace")) == len(fit["trace"])
    readme = dict(_sheet(wb, "README").itertuples(index=False, name=None))
    assert readme["calibration written"] == fit["written_at"]

    sensitivity = make_report(tmp_path / "sens", tmp_path / "sens_report", progress=False)
    assert sensitivity.drawn == ["sensitivity", "sensitivity_sobol"]
    morris = pd.read_csv(tmp_path / "sens" / "morris.csv")
    sheet = _sheet(openpyxl.load_workbook(sensitivity.out / "report.xlsx"), "sensitivity_morris")
    np.testing.assert_allclose(sheet["mu_star (output unit)"].astype(float), morris["mu_star"], rtol=1e-12)

    run = tmp_path / "run"
    assert hmsim("run", str(DATA / "tiny.yaml"), "--years", "0.3", "--out", str(run)).returncode == 0
    both = hmsim(
        "report", str(run), "--credibility", str(tmp_path / "cal"), "--credibility", str(tmp_path / "sens")
    )
    assert both.returncode == 0, both.stderr
    drawn = json.loads((run / "report" / "report.json").read_text())["charts"]
    assert set(CREDIBILITY) <= set(drawn) and "volumes_yearly" in drawn


def test_money_follows_the_operator_after_a_governance_change() -> None:
    """Outsourcing moves the cost accounts and the result from the centre to the contractor: the income
    statement keeps counting them as the operator's costs, and the contractor is not a paying principal."""
    from typing import cast

    from sim.report.tables import costs_by_block, income_statement
    from sim.store import RunOutput

    rows = [
        (2025, "region", "revenue_rent", 150_000.0),
        (2025, "centre", "cost_staff_technicians", 100_000.0),
        (2025, "centre", "result", 50_000.0),
        (2026, "region", "revenue_rent", 150_000.0),
        (2026, "contractor", "cost_staff_technicians", 120_000.0),
        (2026, "contractor", "result", 30_000.0),
    ]
    ledger = pd.DataFrame(rows, columns=["year", "principal", "account", "amount"])
    out = cast(RunOutput, {"ledger": ledger})
    income = income_statement(out, {})
    assert income["costs"].tolist() == [100.0, 120.0]  # kSEK
    assert income["result"].tolist() == [50.0, 30.0]
    blocks = costs_by_block(out, {})
    assert blocks["amount"].tolist() == [100.0, 120.0]


def test_orders_per_1000_count_orders_still_undelivered_at_the_end(report: Path, tiny_run: Path) -> None:
    """The band counts scale by the share of the year's orders delivered by the run's end (from the raw
    deliveries and daily tables), so the last year is not cut by orders in flight."""
    wb = openpyxl.load_workbook(report / "report.xlsx")
    sheet = _sheet(wb, "orders_per_1000").set_index("year")
    start = pd.Timestamp(json.loads((tiny_run / "manifest.json").read_text())["meta"]["start_date"])
    dl = pd.read_parquet(tiny_run / "deliveries.parquet")
    delivered = dl.groupby((start + pd.to_timedelta(dl["order_day"].astype(int), unit="D")).dt.year).size()
    ts = pd.read_parquet(tiny_run / "timeseries.parquet")
    placed = ts[ts["metric"] == "orders"].groupby(ts["date"].dt.year)["value"].sum()
    for year, share in sheet["delivered_share (share)"].items():
        assert share == pytest.approx(delivered[year] / placed[year], rel=1e-12)
        raw = dl[(start + pd.to_timedelta(dl["order_day"].astype(int), unit="D")).dt.year == year]
        old = raw["band"].astype(str).str.startswith("age_80").sum()
        assert sheet.loc[year, "orders_80_plus (count)"] == pytest.approx(old / share, rel=1e-12)
    assert sheet["delivered_share (share)"].iloc[-1] < 1.0  # the tiny run ends with orders in flight


def test_batch_bands_of_shares_stay_within_zero_and_one() -> None:
    """Two replications of a KPI far apart: the Student-t band (1 degree of freedom) would reach below 0
    and above 1; a count's band is left as it is."""
    from sim.report.tables import TableSpec, aggregate

    spec = TableSpec(
        "t", ("t", "t"), (), ("year",), {"kpi": "share", "orders": "count"}, lambda o, c: pd.DataFrame()
    )
    frames = [
        ("a", pd.DataFrame({"year": [2024], "kpi": [0.05], "orders": [10.0]})),
        ("a", pd.DataFrame({"year": [2024], "kpi": [0.95], "orders": [30.0]})),
    ]
    row = aggregate(frames, spec).iloc[0]
    assert row["kpi__low"] == 0.0 and row["kpi__high"] == 1.0 and row["kpi"] == pytest.approx(0.5)
    assert row["orders__low"] < 0 < 20 < row["orders__high"]
