"""s-rectangular robust MDPs (closed forms on Kumar et al.'s relaxed set against cvxpy, randomised policies,
the simplex-constrained reference) and robust policy iteration ((s,a)-rectangular: same optimum as robust VI,
monotone improvement), bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from mdps import _robust_reference as ref

pytest.importorskip("cvxpy")


def _srect(S, A, kind, r, seed, gamma=0.9):
    mdp = mdps.garnet(S, A, min(S, 3), gamma=gamma, rng=seed)
    return mdp, mdps.RobustMDP(mdp, kind=kind, radius=r, rectangularity="s")


@pytest.mark.parametrize("kind", ["l1", "linf"])
@pytest.mark.parametrize("r", [0.0, 0.05, 0.5, 2.0])
def test_closed_form_equals_relaxed_cvxpy(kind, r):
    rng = np.random.default_rng(7)
    mdp, rm = _srect(4, 3, kind, r, 3)
    for _ in range(2):
        V = rng.normal(size=4) * 5
        TV, pol = mdps.srect_bellman(rm, V)
        for s in range(4):
            scale = max(1.0, abs(TV[s]))
            val, _ = ref.srect_bellman_cvxpy(mdp.P[s], mdp.R[s], V, 0.9, r, kind)
            assert abs(val - TV[s]) <= 1e-6 * scale
            att = mdp.R[s] @ pol[s] + 0.9 * ref.srect_inner_cvxpy(mdp.P[s], V, pol[s], r, kind)
            assert abs(att - TV[s]) <= 1e-6 * scale
            exact, _ = ref.srect_bellman_cvxpy(mdp.P[s], mdp.R[s], V, 0.9, r, kind, relaxed=False)
            assert TV[s] <= exact + 1e-6 * scale  # the relaxed set is larger


def test_relaxation_binds_and_is_exact_for_small_radius():
    # a large radius makes p >= 0 bind (relaxed value strictly below the true s-rectangular value);
    # for a tiny radius around a positive nominal block the two sets agree near the minimiser
    P = np.array([[[0.5, 0.5], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]]])
    R = np.array([[1.0, 0.9], [0.0, 0.0]])
    mdp = mdps.TabularMDP(P, R, gamma=0.9)
    V = np.array([10.0, 0.0])
    for r, binds in ((3.0, True), (0.01, False)):
        rm = mdps.RobustMDP(mdp, kind="l1", radius=r, rectangularity="s")
        TV, _ = mdps.srect_bellman(rm, V)
        exact, _ = ref.srect_bellman_cvxpy(P[0], R[0], V, 0.9, r, "l1", relaxed=False)
        assert (exact - TV[0] > 1e-4) == binds


def test_l1_closed_form_by_hand():
    # one state, two actions, Qhat = (1, 1) ties: uniform policy halves the penalty
    P = np.array([[[0.5, 0.5], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]]])
    R = np.array([[1.0, 1.0], [0.0, 0.0]])
    rm = mdps.RobustMDP(mdps.TabularMDP(P, R, gamma=0.5), kind="l1", radius=0.2, rectangularity="s")
    V = np.array([2.0, 0.0])
    TV, pol = mdps.srect_bellman(rm, V)
    # Qhat(0, .) = 1 + 0.5 * 1 = 1.5; c = gamma r sp(V)/2 = 0.5 * 0.2 * 1 = 0.1; k = 2: 1.5 - 0.1/2
    assert TV[0] == pytest.approx(1.45, abs=1e-14)
    assert pol[0].tolist() == [0.5, 0.5]
    # L-inf: kappa_1 = sum |V - median| = 2, penalty gamma r kappa = 0.2, deterministic
    rmi = mdps.RobustMDP(mdps.TabularMDP(P, R, gamma=0.5), kind="linf", radius=0.2, rectangularity="s")
    TV, pol = mdps.srect_bellman(rmi, V)
    assert TV[0] == pytest.approx(1.3, abs=1e-14)
    assert sorted(pol[0].tolist()) == [0.0, 1.0]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), S=st.integers(2, 7), A=st.integers(1, 5), kind=st.sampled_from(["l1", "linf"]),
       r=st.sampled_from([0.0, 0.01, 0.3, 2.0]))
def test_srect_vi_policy_shape_simplex_and_fixed_point(seed, S, A, kind, r):
    mdp, rm = _srect(S, A, kind, r, seed)
    sol = mdps.solve(rm, method="vi", tol=1e-10)
    pol = np.asarray(sol.policy)
    assert pol.shape == (S, A)
    assert (pol >= 0).all() and np.allclose(pol.sum(axis=1), 1.0, atol=1e-14)
    # fixed point of the operator; the returned policy's robust value (relaxed) equals it
    assert np.abs(mdps.robust_bellman_operator(rm, sol.V) - sol.V).max() <= 1e-9
    ev = mdps.robust_evaluate(rm, pol, tol=1e-11)
    assert np.abs(np.asarray(ev.V) - np.asarray(sol.V)).max() <= 1e-8
    # the returned relaxed worst model attains the policy's value; rows sum to 1
    Pw = np.asarray(sol.P_worst)
    assert np.allclose(Pw.sum(axis=2), 1.0, atol=1e-12)
    Vw = mdps.evaluate(mdps.TabularMDP(np.clip(Pw, 0, None), mdp.R, gamma=mdp.gamma), pol) if (Pw >= 0).all() else None
    if Vw is not None:
        assert np.abs(Vw - np.asarray(sol.V)).max() <= 1e-8
    # the robust value lies below the nominal one; radius 0 is the nominal optimum
    assert (np.asarray(sol.V) <= mdps.solve(mdp, method="pi").V + 1e-9).all()
    if r == 0.0:
        assert np.abs(np.asarray(sol.V) - mdps.solve(mdp, method="pi").V).max() <= 1e-9


def test_l1_srect_optimal_policy_is_randomised_somewhere():
    rng = np.random.default_rng(0)
    found = False
    for seed in range(20):
        _, rm = _srect(5, 3, "l1", 1.0, seed)
        _, pol = mdps.srect_bellman(rm, rng.normal(size=5) * 10)
        found |= bool(((pol > 0).sum(axis=1) > 1).any())
    assert found


# ------------------------------------------------------------------------------------------------
# robust policy iteration
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["l1", "tv", "linf", "kl", "chi2"])
@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.99])
def test_robust_pi_equals_robust_vi(kind, gamma):
    mdp = mdps.garnet(12, 3, 4, gamma=gamma, rng=5)
    rm = mdps.RobustMDP(mdp, kind=kind, radius=0.2)
    pi = mdps.solve(rm, method="pi", tol=1e-10)
    vi = mdps.solve(rm, method="vi", tol=1e-10)
    assert pi.converged and pi.method == "robust_pi"
    assert np.abs(np.asarray(pi.V) - np.asarray(vi.V)).max() <= 2e-10
    assert np.asarray(pi.policy_history).shape == (pi.n_iter, 12)
    assert np.asarray(pi.policy).shape == (12, 3)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), kind=st.sampled_from(["l1", "linf", "kl"]), r=st.sampled_from([0.05, 0.3, 1.0]))
def test_robust_pi_monotone(seed, kind, r):
    mdp = mdps.garnet(8, 3, 3, gamma=0.9, rng=seed)
    rm = mdps.RobustMDP(mdp, kind=kind, radius=r)
    sol = mdps.solve(rm, method="pi", tol=1e-10, pi0=np.zeros(8, dtype=np.int64))
    vals = [np.asarray(mdps.robust_evaluate(rm, p, tol=1e-12).V) for p in np.asarray(sol.policy_history)]
    for a, b in zip(vals, vals[1:]):
        assert (b >= a - 1e-10).all()


def test_srect_bad_input():
    mdp = mdps.garnet(4, 2, 2, gamma=0.9, rng=0)
    with pytest.raises(ValueError, match=r"radius.*\(S,\)"):
        mdps.RobustMDP(mdp, kind="l1", radius=np.ones((4, 2)), rectangularity="s")
    with pytest.raises(ValueError, match="radius"):
        mdps.RobustMDP(mdp, kind="l1", radius=-0.1, rectangularity="s")
    bad = np.ones(4)
    bad[2] = -1.0
    with pytest.raises(ValueError, match=r"radius\[2\]"):
        mdps.RobustMDP(mdp, kind="linf", radius=bad, rectangularity="s")
    with pytest.raises(NotImplementedError, match="kind"):
        mdps.RobustMDP(mdp, kind="tv", radius=0.1, rectangularity="s")  # kl, chi2: exact balls
    with pytest.raises(ValueError, match="rectangularity"):
        mdps.RobustMDP(mdp, kind="l1", radius=0.1, rectangularity="sas")
    rs = mdps.RobustMDP(mdp, kind="l1", radius=0.1, rectangularity="s")
    assert rs.radius.shape == (4,) and rs.rectangularity == "s"
    with pytest.raises(ValueError, match="pi0"):  # s-rectangular robust PI exists (tests/test_robust_srect_pi.py)
        mdps.solve(rs, method="pi", pi0=np.zeros(4, dtype=np.int64))
    with pytest.raises(ValueError, match="s-rectangular"):
        mdps.robust_q_values(rs, np.zeros(4))
    with pytest.raises(ValueError, match="rectangularity='s'"):
        mdps.srect_bellman(mdps.RobustMDP(mdp, radius=0.1), np.zeros(4))
    with pytest.raises(ValueError, match="pi0"):
        mdps.solve(mdps.RobustMDP(mdp, radius=0.1), method="pi", pi0=np.array([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="tol"):
        mdps.solve(mdps.RobustMDP(mdp, radius=0.1), method="pi", tol=-1.0)
