"""The report's Excel workbook (openpyxl): one sheet per table plus a README sheet with the provenance.

Numbers are written as numbers (dates as dates), units are in the headers (``orders (count)``; a batch
adds ``mean``, ``95 % low`` and ``95 % high``), header rows are frozen and every sheet has an autofilter.

The file is byte-identical for the same inputs (with the same openpyxl and zlib): the document's created and
modified dates are the data's date (``when``, the run's finish time) rather than the clock, and the zip
entries carry that date too (openpyxl would stamp both with the save time).
"""

from __future__ import annotations

import io
import math
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from sim.report.tables import TableSpec

README = "README"


def header(column: str, units: dict[str, str], batch: bool) -> str:
    """The header of ``column``: its name with its unit (and the statistic in a batch)."""
    base, _, stat = column.partition("__")
    if base not in units:
        return column
    text = f"{base} ({units[base]})"
    if stat == "low":
        return f"{text} 95 % low"
    if stat == "high":
        return f"{text} 95 % high"
    return f"{text} mean" if batch else text


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    return value


def write_workbook(
    path: Path,
    tables: list[tuple[TableSpec, pd.DataFrame]],
    readme: list[tuple[str, str]],
    batch: bool,
    lang: str = "en",
    when: datetime | None = None,
) -> list[str]:
    """Write the workbook; returns the sheet names in order."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = README
    ws.append(["key", "value"])
    for key, value in readme:
        ws.append([key, value])
    ws.freeze_panes = "A2"
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 100
    for c in ws[1]:
        c.font = Font(bold=True)
    names = [README]
    for spec, frame in tables:
        sheet = wb.create_sheet(spec.name[:31])
        columns = list(frame.columns)
        sheet.append([header(c, spec.units, batch) for c in columns])
        for c in sheet[1]:
            c.font = Font(bold=True)
        for row in frame.itertuples(index=False, name=None):
            sheet.append([_cell(v) for v in row])
        for j, column in enumerate(columns, start=1):
            letter = get_column_letter(j)
            sheet.column_dimensions[letter].width = max(
                10, min(40, len(header(column, spec.units, batch)) + 2)
            )
            if pd.api.types.is_datetime64_any_dtype(frame[column]):
                for cell in sheet[letter][1:]:
                    cell.number_format = "yyyy-mm-dd"
            elif column.partition("__")[0] in spec.units and spec.units[column.partition("__")[0]] == "share":
                for cell in sheet[letter][1:]:
                    cell.number_format = "0.000"
            elif pd.api.types.is_float_dtype(frame[column]):
                for cell in sheet[letter][1:]:
                    cell.number_format = "#,##0.0"
        sheet.freeze_panes = "A2"
        sheet.auto_filter.ref = sheet.dimensions
        names.append(sheet.title)
    wb.properties.creator = "hmsim report"
    wb.properties.language = lang
    save_reproducibly(wb, path, when or datetime(2000, 1, 1, tzinfo=UTC))
    return names


def save_reproducibly(wb: Any, path: Path, when: datetime) -> None:
    """Save ``wb`` with ``when`` as its document dates and as every zip entry's time."""
    from openpyxl.writer.excel import ExcelWriter

    stamp = when.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    wb.properties.created = stamp
    wb.properties.modified = stamp
    buffer = io.BytesIO()
    ExcelWriter(wb, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    date_time = (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    with (
        zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, source.read(info.filename))
