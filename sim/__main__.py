"""Allow `python -m sim` as an alias of the `hmsim` console script."""

from sim.cli import main

raise SystemExit(main())
