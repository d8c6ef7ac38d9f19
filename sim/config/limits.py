"""Input limits: the bounds that keep a bad or hostile input from hanging hmsim or exhausting memory.

Each limit is far above anything a region plans with (the shipped configs use a small fraction of it) and
far below what would take minutes or gigabytes before failing. docs/input_limits.md explains each one.
"""

from __future__ import annotations

# YAML documents (config files, experiment files, accounts questions and --set values)
MAX_YAML_BYTES = 5_000_000  # characters of one file; the largest shipped config is about 20 000
MAX_YAML_DEPTH = 40  # nesting levels after alias expansion; shipped configs use at most 6
MAX_YAML_NODES = 500_000  # values after alias expansion ("billion laughs" stops here)
MAX_TABLE_BYTES = 50_000_000  # a population CSV

# any number in a config: beyond this no figure is meaningful (SEK, persons, days, ...)
MAX_ABS_NUMBER = 1e12

# dates: the calendar (Swedish holidays) and the ledger's periods are defined for these years
MIN_YEAR, MAX_YEAR = 1900, 2200

# work of one run, estimated from the config before anything is allocated (see sim.config.workload):
# orders, devices on rent at the start and the work orders drawn for every rental. Västmanland over 10 years
# is about 2.1 million (about 17-30 CPU s and 0.39 GB for the model, 2026-11-24); a region ten times larger
# over 20 years 80 million: 3.4 GB for the model (9 CPU minutes) since the order book keeps only the fates of
# undelivered orders, within the 4 GB target of issue 12 (docs/performance.md, "A 10x region over 20 years
# within 4 GB"; end to end with the economics 6.3 GB, measured). The limit leaves room for that and a
# little more, not for a region twice as large.
MAX_RUN_WORK = 100_000_000

# experiments: scenario points (scenarios x grid combinations), each validated before the batch starts
MAX_SCENARIO_POINTS = 1_000  # about 55 ms each to validate (Västmanland): a minute at most
MAX_BATCH_RUNS = 200_000  # scenario points x replications

# staff in one pool (full-time equivalents): each is a SimPy resource slot
MAX_STAFF = 10_000
