"""Helpers shared by the check modules."""

from __future__ import annotations

import numpy as np

from labkit.check import Outcome


def worst_case(values, relation: str, expected: float, tol: float, data, details: str) -> Outcome:
    """Outcome for a claim that must hold on *every* instance: the measured figure is the worst
    instance and the reported interval is the range over instances (not a confidence interval:
    a bound that holds for each instance is not a statement about a mean)."""
    values = np.asarray(values, dtype=float)
    worst = values.max() if relation == "<=" else values.min()
    return Outcome(measured=float(worst), ci=(float(values.min()), float(values.max())),
                   expected=expected, relation=relation, tol=tol, data=data, details=details)
