"""Instances, exact ground truth and shared helpers of the planning checks.

Ground truth is computed here, independently of the solver under test: closed forms where
they exist, otherwise the exact value of an optimal policy by a linear solve (policy
iteration's answer, confirmed against the LP by ``policy_iteration.matches_lp``).
"""

from __future__ import annotations

import pandas as pd

PUTERMAN = "M. L. Puterman, Markov Decision Processes (Wiley, 1994)"

#: A fitted contraction factor c is compared with the theorem's to 1e-3 of the rate 1 - c:
#: an absolute tolerance would weaken as c -> 1 (at gamma = 0.999 half the speed would pass).
RATE_RTOL = 1e-3
#: The window of true errors, relative to the initial error, over which linear rates are fitted.
RATE_WINDOW = (1e-11, 1e-2)


def errors_by_run(frame: pd.DataFrame, keys=("gamma", "replicate"), value="error"):
    """Group a tidy per-iteration frame into one error curve per run, in iteration order."""
    out = []
    for key, g in frame.sort_values("k").groupby(list(keys), sort=True):
        out.append((key, g[value].to_numpy()))
    return out
