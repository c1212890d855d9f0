"""Finite-horizon robust DP (mdps.robust_backward_induction): radius 0 is nominal backward induction, the
returned policy evaluated on the returned worst-case model reproduces the robust value, the worst model
is the saddle point, robust <= nominal, monotone in the radius, a hand-computed instance, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from mdps import _robust_reference as ref
from tests.strategies import finite_horizon_mdp

SA_KINDS = ("l1", "tv", "linf", "kl", "chi2")
#: values are sums of at most H <= 5 rewards in [0, 1]; the compiled inner problems and the BLAS product of
#: nominal backward induction sum in different orders: a few ulp of H per stage
TOL = 1e-12


def _manual_eval(P, R, pol):
    """``V_h = sum_a pi_h(a|s) (R_h + P_h V_{h+1})`` written out (works for rows with negative entries)."""
    H, S, A, _ = P.shape
    V = np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        Rh = R[h] if R.ndim == 3 else R
        V[h] = np.einsum("sa,sa->s", pol[h], Rh + P[h] @ V[h + 1])
    return V[:H]


def _all_kinds():
    return [(k, "sa") for k in SA_KINDS] + [(k, "s") for k in mdps.S_KINDS]


@settings(max_examples=40, deadline=None)
@given(mdp=finite_horizon_mdp(), kind_rect=st.sampled_from(_all_kinds()))
def test_radius_zero_is_nominal_backward_induction(mdp, kind_rect):
    kind, rect = kind_rect
    sol = mdps.robust_backward_induction(mdps.RobustMDP(mdp, kind=kind, radius=0.0, rectangularity=rect))
    nominal = mdps.backward_induction(mdp)
    assert np.abs(np.asarray(sol.V) - nominal.V).max() <= TOL
    assert np.abs(np.asarray(sol.P_worst) - np.broadcast_to(
        mdp.P if mdp.P.ndim == 4 else mdp.P[None], sol.P_worst.shape)).max() <= 1e-15


@settings(max_examples=40, deadline=None)
@given(mdp=finite_horizon_mdp(), kind=st.sampled_from(SA_KINDS), r=st.sampled_from([0.01, 0.1, 0.5, 2.0]))
def test_worst_model_reproduces_robust_value_and_is_saddle(mdp, kind, r):
    sol = mdps.robust_backward_induction(mdps.RobustMDP(mdp, kind=kind, radius=r))
    V, Pw, pol = np.asarray(sol.V), np.asarray(sol.P_worst), np.asarray(sol.policy)
    W = mdps.TabularMDP(Pw, mdp.R, horizon=mdp.horizon)  # validates: rows of P_worst on the simplex
    # KL / chi2: the value comes from the tilted mean (KL) or the threshold formula (chi2), the minimiser from the
    # same lambda / alpha; they agree to round-off (1e-12 relative per stage), not to the ulp
    tol = TOL if kind in ("l1", "tv", "linf") else 1e-10
    assert np.abs(mdps.evaluate_finite_horizon(W, pol) - V).max() <= tol
    assert np.abs(mdps.backward_induction(W).V - V).max() <= tol  # V*_{P_worst} = V_U (saddle point)
    # P_worst lies in the ball, at every stage, up to the divergence's round-off scale (the check's tolerance)
    from proofs_checks.robust.finite_horizon import BALL_TOL, _condition
    from proofs_checks.robust.inner import divergence

    Pn = mdp.P if mdp.P.ndim == 4 else np.broadcast_to(mdp.P, Pw.shape)
    for h, s, a in np.ndindex(Pw.shape[:3]):
        p, p0 = Pw[h, s, a], Pn[h, s, a]
        assert divergence(kind, p, p0) - r <= BALL_TOL * _condition(kind, p, p0)


@settings(max_examples=30, deadline=None)
@given(mdp=finite_horizon_mdp(), kind_rect=st.sampled_from(_all_kinds()))
def test_robust_below_nominal_and_monotone_in_radius(mdp, kind_rect):
    kind, rect = kind_rect
    nominal = mdps.backward_induction(mdp).V
    prev = nominal
    for r in (0.0, 0.05, 0.2, 0.6, 1.5):
        V = np.asarray(mdps.robust_backward_induction(
            mdps.RobustMDP(mdp, kind=kind, radius=r, rectangularity=rect)).V)
        assert (V <= nominal + TOL).all()
        assert (V <= prev + TOL).all()
        prev = V


@settings(max_examples=30, deadline=None)
@given(mdp=finite_horizon_mdp(), kind=st.sampled_from(mdps.S_KINDS), r=st.sampled_from([0.01, 0.3, 2.0]))
def test_srect_worst_model_reproduces_value(mdp, kind, r):
    sol = mdps.robust_backward_induction(mdps.RobustMDP(mdp, kind=kind, radius=r, rectangularity="s"))
    Pw, pol = np.asarray(sol.P_worst), np.asarray(sol.policy)
    assert np.allclose(Pw.sum(axis=-1), 1.0, atol=1e-12)
    assert (pol >= 0).all() and np.allclose(pol.sum(axis=-1), 1.0, atol=1e-14)
    assert np.abs(_manual_eval(Pw, mdp.R, pol) - sol.V).max() <= TOL


def test_stage_dependent_by_hand():
    # two states, one action at state 1 (absorbing, reward 0), state 0: reward 1 and stays w.p. p_h
    # L1 radius r moves r/2 of mass from the best next state (0, value > 0) to the worst (1, value 0):
    # V_1(0) = 1, V_0(0) = 1 + (p_0 - r/2) * 1
    H, p = 2, (0.8, 0.3)
    P = np.zeros((H, 2, 1, 2))
    for h in range(H):
        P[h, 0, 0] = [p[h], 1 - p[h]]
        P[h, 1, 0] = [0.0, 1.0]
    R = np.array([[1.0], [0.0]])
    mdp = mdps.TabularMDP(P, R, horizon=H)
    sol = mdps.robust_backward_induction(mdps.RobustMDP(mdp, kind="l1", radius=0.2))
    assert sol.V[1].tolist() == [1.0, 0.0]
    assert sol.V[0, 0] == pytest.approx(1.0 + 0.8 - 0.1, abs=1e-15)
    assert sol.P_worst[0, 0, 0].tolist() == pytest.approx([0.7, 0.3], abs=1e-15)
    # the stage index matters: stage 1's worst row is in the ball around stage 1's nominal row (0.3, 0.7)
    # (V_2 = 0: every row of that ball is a minimiser)
    assert np.abs(sol.P_worst[1, 0, 0] - [0.3, 0.7]).sum() <= 0.2 + 1e-15


def test_against_cvxpy_inner_problems():
    pytest.importorskip("cvxpy")
    from proofs_checks.robust.inner import cvxpy_value

    mdp = mdps.random_finite_horizon(4, 2, 3, rng=5)
    for kind in SA_KINDS:
        r = 0.3
        sol = mdps.robust_backward_induction(mdps.RobustMDP(mdp, kind=kind, radius=r))
        V_next = np.zeros(4)
        for h in range(2, -1, -1):
            Q = np.array([[mdp.R[h, s, a] + cvxpy_value(mdp.P[h, s, a], V_next, r, kind) for a in range(2)]
                          for s in range(4)])
            V_next = Q.max(axis=1)
            assert np.abs(V_next - sol.V[h]).max() <= 1e-6


def test_srect_against_cvxpy():
    pytest.importorskip("cvxpy")
    mdp = mdps.random_finite_horizon(3, 2, 2, rng=1)
    for kind in mdps.S_KINDS:
        sol = mdps.robust_backward_induction(mdps.RobustMDP(mdp, kind=kind, radius=0.2, rectangularity="s"))
        V_next = np.zeros(3)
        for h in (1, 0):
            V_next = np.array([ref.srect_bellman_cvxpy(mdp.P[h, s], mdp.R[h, s], V_next, 1.0, 0.2, kind)[0]
                               for s in range(3)])
            assert np.abs(V_next - sol.V[h]).max() <= 1e-6


def test_solve_dispatch_and_repr():
    mdp = mdps.river_swim(5, horizon=4)
    rm = mdps.RobustMDP(mdp, kind="kl", radius=0.1)
    a, b = mdps.solve(rm), mdps.robust_backward_induction(rm)
    assert np.array_equal(a.V, b.V) and a.method == "robust_backward_induction"
    assert "horizon=4" in repr(rm)
    with pytest.raises(ValueError, match="method"):
        mdps.solve(rm, method="lp")
    with pytest.raises(ValueError, match="'tol'"):
        mdps.solve(rm, tol=1e-3)


def test_bad_input():
    fh = mdps.river_swim(5, horizon=4)
    disc = mdps.river_swim(5, gamma=0.9)
    with pytest.raises(TypeError, match="rmdp must be a RobustMDP"):
        mdps.robust_backward_induction(fh)
    with pytest.raises(ValueError, match="finite-horizon nominal model.*gamma=0.9"):
        mdps.robust_backward_induction(mdps.RobustMDP(disc, kind="l1", radius=0.1))
    rm = mdps.RobustMDP(fh, kind="l1", radius=0.1)
    for f in (mdps.robust_value_iteration, lambda x: mdps.robust_policy_iteration(x)):
        with pytest.raises(ValueError, match="horizon=4.*robust_backward_induction"):
            f(rm)
    with pytest.raises(ValueError, match="horizon=4"):
        mdps.robust_bellman_operator(rm, np.zeros(5))
    with pytest.raises(ValueError, match=r"radius\[0, 1\] = -0.1"):
        mdps.RobustMDP(fh, kind="l1", radius=np.array([[0.1, -0.1]] * 5))
    with pytest.raises(ValueError, match="criterion|average"):
        mdps.RobustMDP(mdps.river_swim(5), kind="l1", radius=0.1)
    from algorithms.robust import iwocs

    with pytest.raises(ValueError, match="horizon=4"):
        iwocs(rm)
