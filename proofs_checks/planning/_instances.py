"""Instances, exact ground truth and shared helpers of the planning checks.

Ground truth is computed here, independently of the solver under test: closed forms where
they exist, otherwise the exact value of an optimal policy by a linear solve (policy
iteration's answer, confirmed against the LP by ``policy_iteration.matches_lp``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import mdps

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


def garnet(config, rng):
    """The Garnet of a sweep config with keys ``n_states``, ``n_actions``, ``branching``, ``gamma``."""
    return mdps.garnet(config["n_states"], config["n_actions"], config["branching"], gamma=config["gamma"], rng=rng)


def dense(mdp):
    """``(P, R)`` with ``P`` as a dense ``(S, A, S)`` array (sparse instances densified)."""
    S, A = mdp.n_states, mdp.n_actions
    P = mdp.P_matrix()
    P = P.toarray() if mdp.is_sparse else np.asarray(P)
    return P.reshape(S, A, S), np.asarray(mdp.R)


def policy_value(mdp, sigma) -> np.ndarray:
    """Exact ``V^sigma = (I - gamma P_sigma)^{-1} r_sigma`` by a dense linear solve, written out here
    (independent of the solvers under test)."""
    P, R = dense(mdp)
    idx = np.arange(mdp.n_states)
    return np.linalg.solve(np.eye(mdp.n_states) - mdp.gamma * P[idx, sigma], R[idx, sigma])


def bellman(mdp, V) -> np.ndarray:
    """``(T V)(s) = max_a R(s, a) + gamma sum_s' P(s'|s, a) V(s')``, written out here."""
    P, R = dense(mdp)
    return (R + mdp.gamma * P @ V).max(axis=1)
