"""The ground truth and the verdict of ``inexact_policy_iteration.certified_bound``: the long-double
exact value against closed forms, its Bellman residual at round-off, the float64 floor formula,
and each clause of the verdict on synthetic frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from proofs_checks.planning.inexact_policy_iteration import (
    bellman_residual_ld, exact_policy_value, float64_floor, optimal_value_ld, _verdict_frame)


def test_one_state_value_is_the_geometric_series():
    for gamma in (0.5, 0.9, 0.999):
        mdp = mdps.tight_vi_instance(gamma)
        V = exact_policy_value(mdp, np.zeros(1, dtype=int))
        # 1 / (1 - gamma) in long double; the float64 gamma is the one the MDP stores
        assert abs(V[0] - 1 / (1 - np.longdouble(gamma))) <= 1e-15 / (1 - gamma)


def test_chain_value_closed_form():
    # advancing is optimal: V*(s) = gamma^(n-1-s) / (1 - gamma) (reward 1 per step at the far end)
    n, gamma = 12, 0.99
    mdp = mdps.chain(n, gamma=gamma)
    V, sigma = optimal_value_ld(mdp, np.ones(n, dtype=int))  # started from "reset everywhere"
    assert (sigma == 0).all()
    expected = np.longdouble(gamma) ** np.arange(n - 1, -1, -1) / (1 - np.longdouble(gamma))
    assert float(np.abs(V - expected).max()) <= 1e-13
    assert abs(bellman_residual_ld(mdp, V)) <= 1e-15


@settings(max_examples=20, deadline=None)
@given(S=st.integers(1, 25), A=st.integers(1, 4), gamma=st.floats(0.5, 0.999), sparse=st.booleans(),
       seed=st.integers(0, 10_000))
def test_long_double_optimum_is_a_fixed_point_and_matches_pi(S, A, gamma, sparse, seed):
    mdp = mdps.garnet(S, A, min(S, 3), gamma=gamma, sparse=sparse, rng=seed)
    pi = mdps.policy_iteration(mdp)
    V, _ = optimal_value_ld(mdp, pi.policy)
    scale = max(1.0, float(np.abs(V).max()))
    assert bellman_residual_ld(mdp, V) / (1 - gamma) <= 1e-12 * scale  # MacQueen: V* within this
    assert float(np.abs(V - pi.V).max()) <= 1e-9 * scale


def test_float64_floor_grows_with_row_length_values_and_horizon():
    base = float64_floor(5, 1.0, 100.0, 2e-16, 0.99)
    assert float64_floor(320, 1.0, 100.0, 2e-16, 0.99) > base
    assert float64_floor(5, 1.0, 1000.0, 2e-16, 0.99) > base
    assert float64_floor(5, 1.0, 100.0, 2e-16, 0.999) > base
    # long rows: the probabilistic 10 sqrt(n) + 2 replaces n + 2
    u = 2.0 ** -53
    assert math.isclose(float64_floor(400, 1.0, 0.0, 0.0, 0.0), 2 * 202 * u)


def _frame(**over):
    row = dict(tol=1e-10, error=1e-11, bound=5e-11, ratio=0.2, converged=True, floor=1e-9, truth_error=1e-16,
               policy_optimal=True, policy_loss=0.0)
    row.update(over)
    return pd.DataFrame([row])


def test_verdict_clauses():
    assert _verdict_frame(_frame())[0][0] == 0.2
    assert _verdict_frame(_frame(error=2e-10, ratio=4.0, bound=5e-11, tol=1e-8))[0][0] == 4.0  # bound broken
    assert _verdict_frame(_frame(error=2e-10, bound=1e-9, ratio=0.2))[0][0] == math.inf  # converged above tol
    assert _verdict_frame(_frame(policy_loss=1e-6))[0][0] == math.inf  # a claimed optimal policy is not
    assert _verdict_frame(_frame(policy_loss=1e-6, policy_optimal=False))[0][0] == 0.2  # no claim made
    assert _verdict_frame(_frame(converged=False, bound=5e-10))[0][0] == 0.2  # at the floor
    assert _verdict_frame(_frame(converged=False, bound=5e-9))[0][0] == math.inf  # above the floor
    assert _verdict_frame(_frame(converged=False, bound=5e-10, tol=1e-8))[0][0] == math.inf  # tol above floor
    assert math.isnan(_verdict_frame(_frame(truth_error=1e-9))[0][0])  # bad ground truth
