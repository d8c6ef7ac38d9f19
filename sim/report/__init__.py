"""The annual-review report of a run or batch folder (``hmsim report``): charts, PDF, HTML, workbook.

Layout: ``tables`` (report tables from stored run tables, a registry), ``batch_tables`` (statistics of a
batch), ``charts`` + ``charts_*`` (a registry of chart builders, each naming the tables it needs),
``observed`` (figures and targets from calibration/observed), ``labels`` (sv/en), ``workbook``, ``html``,
``build`` (the atomic write), ``cli`` (the command). See docs/report.md.
"""

from __future__ import annotations

from sim.report.build import Report, make_report

__all__ = ["Report", "make_report"]
