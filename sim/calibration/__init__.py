"""Calibration: fit a config's parameters to observed figures (``hmsim calibrate SPEC``).

``prepare(spec)`` resolves a spec (targets from observed CSVs, parameters with wildcards and groups);
``run_fit`` runs the optimiser over the noisy objective with common random numbers on the batch executors;
``write_report`` / ``write_fitted`` write the fit report and the fitted YAML. The evaluation layer
(:mod:`sim.calibration.evaluate`), parameters and measures are shared with ``hmsim sensitivity`` and
``hmsim optimise``.
"""

from sim.calibration.fit import FitResult, Problem, prepare, run_fit

__all__ = ["FitResult", "Problem", "prepare", "run_fit"]
