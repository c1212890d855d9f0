"""Robust policy iteration on the relaxed s-rectangular L1 / L-infinity balls: the same value as s-rectangular
robust VI, its policy's robust value (by robust evaluation and by the worst model) is that value, and the value
is a fixed point of cvxpy's relaxed max-min operator."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from mdps import _robust_reference as ref


def _srect(S, A, kind, r, seed, gamma):
    mdp = mdps.garnet(S, A, min(S, 3), gamma=gamma, rng=seed)
    return mdp, mdps.RobustMDP(mdp, kind=kind, radius=r, rectangularity="s")


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), S=st.integers(2, 8), A=st.integers(1, 4), kind=st.sampled_from(["l1", "linf"]),
       r=st.sampled_from([0.0, 0.005, 0.02, 0.08]), gamma=st.sampled_from([0.5, 0.8, 0.9]))
def test_pi_equals_vi(seed, S, A, kind, r, gamma):
    mdp, rm = _srect(S, A, kind, r, seed, gamma)
    vi = mdps.solve(rm, method="vi", tol=1e-10)
    pi = mdps.solve(rm, method="pi", tol=1e-10)
    assert pi.converged and pi.method == "robust_pi"
    if vi.settings["certified"]:
        assert pi.settings["certified"]
    assert np.abs(np.asarray(pi.V) - np.asarray(vi.V)).max() <= 1e-8
    pol = np.asarray(pi.policy)
    assert pol.shape == (S, A) and (pol >= 0).all() and np.allclose(pol.sum(axis=1), 1.0, atol=1e-14)
    assert pi.policy_history.shape == (pi.n_iter, S, A)
    # the returned policy's value on the returned worst model (a plain linear solve) is the robust value
    Pw = np.asarray(pi.P_worst)
    P_pi = np.einsum("sa,sat->st", pol, Pw)
    v = np.linalg.solve(np.eye(S) - gamma * P_pi, np.einsum("sa,sa->s", pol, mdp.R))
    assert np.abs(v - pi.V).max() <= 1e-8


@pytest.mark.parametrize("kind,r", [("l1", 0.05), ("l1", 0.3), ("linf", 0.02)])
def test_policy_value_by_robust_evaluation_and_cvxpy_fixed_point(kind, r):
    pytest.importorskip("cvxpy")
    mdp, rm = _srect(4, 3, kind, r, 11, 0.9)
    pi = mdps.solve(rm, method="pi", tol=1e-10)
    V = np.asarray(pi.V)
    ev = mdps.robust_evaluate(rm, np.asarray(pi.policy), tol=1e-11)
    assert np.abs(np.asarray(ev.V) - V).max() <= 1e-8
    for s in range(4):
        val, _ = ref.srect_bellman_cvxpy(mdp.P[s], mdp.R[s], V, 0.9, r, kind)
        assert abs(val - V[s]) <= 1e-6 * max(1.0, abs(V[s]))


def test_l1_policy_is_randomised_where_budget_is_shared():
    # two equally good actions: the s-rectangular L1 adversary splits its budget, the optimum mixes
    P = np.array([[[0.5, 0.5], [0.5, 0.5]], [[0.0, 1.0], [0.0, 1.0]]])
    R = np.array([[1.0, 1.0], [0.0, 0.0]])
    rm = mdps.RobustMDP(mdps.TabularMDP(P, R, gamma=0.5), kind="l1", radius=0.2, rectangularity="s")
    pi = mdps.solve(rm, method="pi", tol=1e-12)
    assert np.asarray(pi.policy)[0].tolist() == [0.5, 0.5]
    assert np.abs(np.asarray(pi.V) - np.asarray(mdps.solve(rm, method="vi", tol=1e-12).V)).max() <= 1e-10


def test_radius_zero_is_nominal_optimum():
    mdp, rm = _srect(6, 3, "l1", 0.0, 2, 0.9)
    assert np.abs(np.asarray(mdps.solve(rm, method="pi").V) - mdps.solve(mdp, method="pi").V).max() <= 1e-9
