"""Build the report of a run or batch folder: PNG per chart, one PDF, index.html, report.xlsx.

Everything is written into a hidden staging folder beside the target and renamed into place at the end
(``sim.store``: the same marker, lock and staging rules as run folders, format ``hmsim-report``), so a
report folder is complete or absent. The target may only be absent, an empty folder or an earlier report.
A report inside its run folder (the default ``RUN/report/``) belongs to the run: a new run into that folder
replaces it. Output is reproducible: the PDF's dates are the
data's (the run's ``finished_at``), charts are drawn in a fixed order with fixed styles, and the workbook's
values come from the same tables, so the same inputs give the same PDF text and workbook values.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import HmsimError
from sim.report import (  # noqa: F401  (register charts)
    charts_activity,
    charts_credibility,
    charts_money,
    charts_scenarios,
)
from sim.report.batch_tables import BATCH_TABLES, batch_tables, run_transitions
from sim.report.charts import CHARTS, MARGINS, Context, scenario_legend
from sim.report.credibility import CREDIBILITY_TABLES, Credibility, read_credibility
from sim.report.html import Drawn, write_html
from sim.report.labels import Labels
from sim.report.observed import OBSERVED_DIR, load_observed
from sim.report.source import RUN_KINDS, Source, open_source
from sim.report.tables import TABLES, TableSpec, aggregate
from sim.report.workbook import write_workbook
from sim.store import (
    REPORT_FORMAT,
    check_target,
    clean_leftovers,
    out_path,
    read_manifest,
    replace_dir,
    target_lock,
    write_marker,
)

MARKER = "report.json"
DPI = 100
SVG_STYLE: Any = {"svg.fonttype": "none", "svg.hashsalt": "hmsim report"}
# Segment charts draw up to 15 lines (Norrbotten's 14 municipalities and the region): tab10's colours first,
# then Dark2's, so no two lines of a chart share a colour (tab10 alone repeated from the eleventh line).
LINE_COLOURS = ("tab10", "Dark2")


@dataclass
class Report:
    out: Path
    drawn: list[str] = field(default_factory=list)
    omitted: list[tuple[str, str]] = field(default_factory=list)  # (chart id, why)
    sheets: list[str] = field(default_factory=list)


def parse_years(text: str | None) -> tuple[int, int] | None:
    """``"2024..2028"`` or ``"2025"`` -> (first, last); exit 2 on anything else."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d{4})\s*(?:\.\.\s*(\d{4})\s*)?", text)
    if not m:
        raise HmsimError(f"--years {text!r}: must be Y1..Y2 (e.g. 2024..2028) or one year")
    first, last = int(m.group(1)), int(m.group(2) or m.group(1))
    if last < first:
        raise HmsimError(f"--years {text!r}: the first year is after the last")
    return first, last


def _missing(spec: TableSpec, src: Source) -> str | None:
    """Why ``spec`` cannot be built from ``src`` (None if it can)."""
    for need in spec.needs:
        if need == "config.population":
            if not src.manifest.get("resolved_config", {}).get("demand", {}).get("population"):
                return "the run's config has no population table"
            continue
        table, _, column = need.partition(".")
        if table not in src.tables:
            kept = "the batch did not keep" if src.kind == "batch" else "the run has no"
            return f"{kept} table {table!r}"
        if column and column not in src.columns.get(table, ()):
            return f"table {table!r} has no column {column!r}"
    return None


def _filter_years(frame: pd.DataFrame, years: tuple[int, int] | None) -> pd.DataFrame:
    if years is None:
        return frame
    for column in ("year", "month", "date"):
        if column in frame.columns:
            values = frame[column]
            y = values.dt.year if pd.api.types.is_datetime64_any_dtype(values) else values
            return frame[(y >= years[0]) & (y <= years[1])].reset_index(drop=True)
    return frame


def build_tables(
    src: Source, years: tuple[int, int] | None, progress: Any = None
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Every report table the runs have data for (aggregated per scenario), and why the others are absent."""
    absent: dict[str, str] = {}
    if src.kind not in RUN_KINDS:
        return {}, {name: f"a {src.kind} folder holds no runs" for name in TABLES}
    specs = []
    for spec in TABLES.values():
        why = _missing(spec, src)
        if why:
            absent[spec.name] = why
        else:
            specs.append(spec)
    needed = sorted({n.partition(".")[0] for s in specs for n in s.needs if not n.startswith("config.")})
    per_table: dict[str, list[tuple[str, pd.DataFrame]]] = {s.name: [] for s in specs}
    for ref, output in src.iter_runs(needed):
        config = output.meta.get("manifest", {}).get("resolved_config", {})
        for spec in specs:
            if spec.name in absent:
                continue
            try:
                frame = spec.build(output, config)
            except (KeyError, ValueError, TypeError) as exc:  # data of another shape: say so, go on
                absent[spec.name] = f"could not be built from the stored tables ({type(exc).__name__}: {exc})"
                continue
            per_table[spec.name].append((ref.scenario, _filter_years(frame, years)))
        if progress is not None:
            progress(1)
    data: dict[str, pd.DataFrame] = {}
    for spec in specs:
        if spec.name in absent:
            continue
        frames = per_table[spec.name]
        merged = aggregate(frames, spec)
        if merged.empty:
            absent[spec.name] = "no rows in the chosen years"
            continue
        data[spec.name] = merged
    return data, absent


def _transitions(src: Source) -> dict[str, list[tuple[str, str | None]]]:
    """Transition windows per scenario from its first run's resolved dated changes."""
    out = {}
    for scenario in src.scenarios:
        ref = next(r for r in src.runs if r.scenario == scenario)
        manifest = src.manifest if ref.path == src.runs[0].path else read_manifest(ref.path)
        spans = run_transitions(list(manifest.get("resolved_config", {}).get("changes") or []))
        if spans:
            out[scenario] = spans
    return out


def _fixed_date(src: Source, cred: Credibility) -> datetime:
    """The data's date (the run's finish time, or the fit report's): the PDF's and the workbook's dates,
    so the same inputs give the same files."""
    text = str(src.manifest.get("finished_at") or cred.written_at or "2000-01-01T00:00:00+00:00")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        when = datetime(2000, 1, 1, tzinfo=UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _versions() -> dict[str, str]:
    out = {}
    for name in ("hmsim", "numpy", "pandas", "matplotlib", "openpyxl", "pyarrow", "simpy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance(
    src: Source, lang: str, years: tuple[int, int] | None, observed_files: tuple[str, ...]
) -> list[tuple[str, str]]:
    if src.kind not in RUN_KINDS:
        return [
            ("results", str(src.path)),
            ("kind", src.kind),
            ("package versions (report)", ", ".join(f"{k} {v}" for k, v in _versions().items())),
            ("language", lang),
        ]
    m = src.manifest
    hashes: list[str] = []
    seeds: list[str] = []
    if src.kind == "batch" and src.index is not None:
        ok = src.index[src.index["status"] == "ok"]
        seeds = [str(s) for s in dict.fromkeys(ok["seed"].tolist())]
        for task in src.experiment.get("tasks", []):
            h = str(task.get("config_hash", ""))
            if h and h not in hashes:
                hashes.append(h)
    else:
        hashes = [str(m.get("config_hash", ""))]
        seeds = [str(m.get("seed", ""))]
    git = m.get("git") or {}
    run_versions = m.get("versions") or {}
    rows = [
        ("results", str(src.path)),
        ("kind", src.kind),
        ("scenarios", ", ".join(src.scenarios)),
        ("runs", str(len(src.runs))),
        ("config hash", ", ".join(hashes)),
        ("seeds", ", ".join(seeds)),
        ("config path", str(m.get("config_path") or src.experiment.get("path", ""))),
        ("git revision (runs)", f"{git.get('revision')} (dirty: {git.get('dirty')})"),
        ("package versions (runs)", ", ".join(f"{k} {v}" for k, v in run_versions.items())),
        ("package versions (report)", ", ".join(f"{k} {v}" for k, v in _versions().items())),
        ("run finished", str(m.get("finished_at", ""))),
        ("years", f"{years[0]}..{years[1]}" if years else "all"),
        ("language", lang),
        ("observed documents", ", ".join(observed_files) or f"none found in {OBSERVED_DIR}"),
        ("money", "kSEK in the workbook, MSEK in the charts; shares as fractions"),
    ]
    return rows


CREDIBILITY_FILES = {
    "calibration_fit": "report.json",
    "calibration_parameters": "report.json",
    "calibration_trace": "report.json",
    "sensitivity_morris": "morris.csv",
    "sensitivity_sobol": "sobol.csv",
}


def _source_line(chart_needs: tuple[str, ...], src: Source, used: list[str], cred: Credibility) -> str:
    tables = []
    for name in chart_needs:
        if name in CREDIBILITY_TABLES:
            folder = cred.folders.get("calibration" if name.startswith("calibration") else "sensitivity")
            if folder is not None:
                tables.append(f"{folder.name}/{CREDIBILITY_FILES[name]}")
            continue
        spec = TABLES.get(name) or BATCH_TABLES.get(name)
        for need in spec.needs if spec else ():
            t = need.partition(".")[0]
            t = "config" if t == "config" else f"{t}.parquet" if t != "index" else "index.parquet"
            if t not in tables:
                tables.append(t)
    what = f"{src.kind}, {len(src.runs)} run(s)" if src.kind in RUN_KINDS else src.kind
    text = f"{src.path.name}/ ({what}): {', '.join(tables)}"
    if used:
        text += "; observed: calibration/observed/" + "; ".join(used)
    return text


def make_report(
    results: Path | str,
    out: Path | str | None = None,
    lang: str = "en",
    years: str | None = None,
    baseline: str | None = None,
    progress: bool = True,
    credibility: list[Path | str] | None = None,
) -> Report:
    """Write the report of ``results`` into ``out`` (default ``results/report``) atomically.

    ``results`` is a run, batch, calibrate or sensitivity folder; ``credibility`` adds calibrate and
    sensitivity folders to a run or batch report."""
    import matplotlib

    matplotlib.use("Agg")
    from cycler import cycler
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    colours = [c for name in LINE_COLOURS for c in matplotlib.colormaps[name].colors]  # type: ignore[attr-defined]
    line_colours: Any = {"axes.prop_cycle": cycler(color=colours)}
    from tqdm import tqdm

    labels = Labels(lang)
    span = parse_years(years)
    src = open_source(results)
    folders = [Path(f) for f in credibility or []]
    if src.kind not in RUN_KINDS:
        folders.insert(0, src.path)
    cred = read_credibility(folders)
    meta = src.manifest.get("meta", {})
    shown: tuple[int, int] | None = span
    if meta.get("start_date") and meta.get("days"):
        first = pd.Timestamp(meta["start_date"])
        last = first + pd.Timedelta(days=int(meta["days"]) - 1)
        if span is not None and (span[1] < first.year or span[0] > last.year):
            raise HmsimError(
                f"--years {years}: no chart can have data: the runs cover {first.year} to {last.year}"
            )
        shown = (max(first.year, span[0]), min(last.year, span[1])) if span else (first.year, last.year)
    out_dir = out_path(out if out is not None else src.path / "report")
    check_target(out_dir, REPORT_FORMAT)
    if baseline is not None and baseline not in src.scenarios:
        named = [s for s in src.scenarios if s.split("__")[0] == baseline]
        if len(named) != 1:
            raise HmsimError(
                f"--baseline {baseline!r}: must name one scenario; valid: {', '.join(src.scenarios)}"
            )
        baseline = named[0]
    charts = list(CHARTS.values())
    bar = tqdm(
        total=len(src.runs) + len(charts),
        desc="report",
        unit="step",
        disable=None if progress else True,
        leave=False,
    )
    with contextlib.ExitStack() as held:
        held.callback(bar.close)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        held.enter_context(target_lock(out_dir))
        check_target(out_dir, REPORT_FORMAT)  # again, now that no one else writes it
        clean_leftovers(out_dir)
        data, absent = build_tables(src, span, progress=bar.update)
        extra, extra_absent = batch_tables(src, span, baseline)
        data.update(extra)
        absent.update(extra_absent)
        data.update(cred.data)
        absent.update(cred.absent)
        observed = load_observed(src.region_names())
        ctx = Context(
            data,
            labels,
            observed,
            src.kind,
            src.scenarios,
            baseline,
            {
                "experiment": src.experiment,
                "transitions": _transitions(src),
                **({"years": shown} if shown else {}),
            },
        )
        result = Report(out_dir)
        stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.hmsim-stage-", dir=out_dir.parent))
        write_marker(stage, REPORT_FORMAT)
        try:
            (stage / "png").mkdir()
            (stage / "svg").mkdir()
            drawn: list[Drawn] = []
            omitted: list[tuple[str, str, str]] = []
            when = _fixed_date(src, cred)
            meta = {
                "Creator": "hmsim report",
                "Producer": "hmsim report",
                "CreationDate": when,
                "ModDate": when,
                "Title": f"hmsim report: {src.path.name}",
            }
            with PdfPages(stage / "report.pdf", metadata=meta) as pdf:
                for spec in charts:
                    bar.update(1)
                    title = labels.pick(*spec.title)
                    if spec.batch_only and src.kind != "batch":
                        why = labels.pick(
                            "needs a batch folder (scenarios and replications)",
                            "kräver en batchmapp (scenarier och replikat)",
                        )
                    else:
                        gaps = [f"{n}: {absent.get(n, 'not built')}" for n in spec.needs if n not in data]
                        why = "; ".join(gaps)
                    if why:
                        omitted.append((spec.section, title, why))
                        result.omitted.append((spec.id, why))
                        continue
                    ctx.used = []
                    fig = Figure(figsize=spec.size, dpi=DPI)
                    try:
                        with matplotlib.rc_context(line_colours):
                            spec.draw(fig, ctx)
                    except (KeyError, ValueError, TypeError, IndexError) as exc:  # data of another shape
                        why = f"could not be drawn from the tables ({type(exc).__name__}: {exc})"
                        omitted.append((spec.section, title, why))
                        result.omitted.append((spec.id, why))
                        continue
                    source = _source_line(spec.needs, src, ctx.used, cred)
                    fig.suptitle(title, fontsize=12)
                    fig.text(
                        0.01, 0.005, f"{labels.pick('Source', 'Källa')}: {source}", fontsize=6, color="gray"
                    )
                    fig.subplots_adjust(**{**MARGINS, **dict(spec.margins)})
                    if ctx.kind == "batch":
                        scenario_legend(fig, ctx.scenarios)
                    png = f"png/{len(drawn) + 1:02d}_{spec.id}.png"
                    fig.savefig(stage / png, dpi=DPI, metadata={"Software": None})
                    svg = f"svg/{len(drawn) + 1:02d}_{spec.id}.svg"
                    with matplotlib.rc_context(SVG_STYLE):  # text as text, fixed ids: reproducible
                        fig.savefig(stage / svg, format="svg", metadata={"Date": None, "Creator": None})
                    pdf.savefig(fig)
                    drawn.append(
                        Drawn(spec.id, spec.section, title, labels.pick(*spec.caption), source, png, svg)
                    )
                    result.drawn.append(spec.id)
            prov = provenance(src, lang, span, observed.files) + cred.provenance
            tables = [
                (TABLES.get(n) or BATCH_TABLES.get(n) or CREDIBILITY_TABLES[n], frame)
                for n, frame in data.items()
            ]
            readme = [
                *prov,
                *[(f"chart left out: {cid}", why) for cid, why in result.omitted],
                *[(f"sheet {s.name}", labels.pick(*s.title)) for s, _ in tables],
            ]
            result.sheets = write_workbook(
                stage / "report.xlsx", tables, readme, src.kind == "batch", lang, when
            )
            page_title = labels.pick("hmsim report", "hmsim-rapport") + f": {src.path.name}"
            (stage / "index.html").write_text(
                write_html(page_title, drawn, omitted, prov, labels), encoding="utf-8"
            )
            (stage / MARKER).write_text(
                json.dumps(
                    {
                        "results": str(src.path),
                        "charts": result.drawn,
                        "omitted": dict(result.omitted),
                        "sheets": result.sheets,
                        "lang": lang,
                        "years": years,
                    },
                    ensure_ascii=False,
                    indent=2,
                )
                + "\n",
                encoding="utf-8",
            )
            replace_dir(stage, out_dir)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
    return result
