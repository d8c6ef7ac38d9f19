"""The annual-review report of a run or batch folder (``hmsim report``): charts, PDF, HTML, workbook.

Layout: ``tables`` (report tables from stored run tables, a registry), ``batch_tables`` (statistics of a
batch), ``charts`` + ``charts_*`` (a registry of chart builders, each naming the tables it needs),
``observed`` (figures and targets from calibration/observed), ``labels`` (sv/en), ``workbook``, ``html``,
``build`` (the atomic write), ``cli`` (the command). See docs/report.md.

The entry point is :func:`sim.report.build.make_report`; this package imports nothing itself, so the
command line can register ``hmsim report`` without loading matplotlib.
"""
