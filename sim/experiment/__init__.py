"""Experiments: scenario grids x replications with common random numbers, run locally or on Dask.

``load_plan(path)`` resolves and validates every task; ``run_batch(plan)`` runs the unfinished ones and
writes ``results/<experiment>/index.parquet``; ``sim.analysis`` summarises the index.
"""

from sim.experiment.batch import BatchResult, run_batch
from sim.experiment.plan import Plan, Task, load_plan, replication_seed

__all__ = ["BatchResult", "Plan", "Task", "load_plan", "replication_seed", "run_batch"]
