"""Checks of preference learning from data (the DPO family) on the log-linear preference task.

One module per paper or theorem group; shared instances in :mod:`._instances`. Every check
measures against the task's exact ground truth (:class:`mdps.LogLinearPreferenceTask`): the true
parameter, the exact KL-regularised optimum, and population minimisers computed from the exact
law of one observed record. Theorems, expected figures and tolerances:
docs/theory/preference_learning.md.
"""

MODULES = tuple(f"{__name__}.{m}" for m in ("identities", "rdpo", "rpo", "rpo_coverage", "hypo", "apo"))
