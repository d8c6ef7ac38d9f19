"""hmsim: a discrete-event simulator of regional assistive-device supply (hjälpmedel) in Sweden.

Layers (arrows only go down): config -> demography -> model (SimPy DES, no money) -> economics ->
experiments -> analysis/plots. See docs/model.md for the model and docs/config.md for the parameters.
"""

__version__ = "0.1.0"
