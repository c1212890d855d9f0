"""Robust regularised MDPs (mdps.penalized_inner, robust_regularized_dp / _evaluate, liu_xu_linear_mdp)
and R2PVI (algorithms.linear.r2pvi): closed forms against cvxpy and brute force, strong duality with
the explicit minimisers, the invariants of the penalised inner problems, the one-hot reduction
(exact regression reproduces exact DP), and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from algorithms import linear
from proofs_checks.linear.r2pvi import cvxpy_penalized, worst_case_dp
from tests.strategies import simplex, value_vector

KINDS = ("tv", "kl", "chi2")


# ------------------------------------------------------------------------------------------
# penalised inner problems
# ------------------------------------------------------------------------------------------
def test_exact_small_instances():
    # TV: move the mass of state 1 (v = 1 > 0 + 0.25) to state 0 at cost 0.25 per unit
    assert mdps.penalized_inner([0.5, 0.5], [0.0, 1.0], 0.25, kind="tv") == pytest.approx(0.125, abs=1e-15)
    # TV with lam >= span: nothing moves
    assert mdps.penalized_inner([0.3, 0.7], [0.0, 1.0], 1.0, kind="tv") == pytest.approx(0.7, abs=1e-15)
    # KL: Gibbs variational principle
    assert mdps.penalized_inner([0.5, 0.5], [0.0, 1.0], 1.0, kind="kl") == pytest.approx(
        -math.log((1.0 + math.exp(-1.0)) / 2.0), abs=1e-14)
    # chi-square, large lam: the root alpha* = 2 lam + E v lies above max v, value E v - Var v / (4 lam)
    p0, v, lam = np.array([0.2, 0.8]), np.array([1.0, 2.0]), 5.0
    ev, var = p0 @ v, p0 @ (v - p0 @ v) ** 2
    assert mdps.penalized_inner(p0, v, lam, kind="chi2") == pytest.approx(ev - var / (4 * lam), abs=1e-14)
    # a constant value is its own worst case for every divergence and strength
    for kind in KINDS:
        for lam in (0.0, 0.01, 1.0, np.inf):
            assert mdps.penalized_inner([0.1, 0.6, 0.3], [2.0, 2.0, 2.0], lam, kind) == pytest.approx(2.0, abs=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_duals_match_cvxpy_primal(kind):
    rng = np.random.default_rng(5)
    for trial in range(6):
        S = int(rng.integers(2, 7))
        p0 = rng.dirichlet(np.full(S, 0.5))
        if trial % 2:
            p0[0] = 0.0
            p0 /= p0.sum()
        v = 3.0 * rng.random(S)
        for lam in (0.01, 0.1, 1.0, 10.0):
            primal = cvxpy_penalized(p0, v, lam, kind)
            assert abs(mdps.penalized_inner(p0, v, lam, kind) - primal) <= 1e-6 * max(1.0, abs(primal))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), S=st.integers(1, 7), lam=st.floats(1e-3, 1e3), kind=st.sampled_from(KINDS))
def test_strong_duality_with_the_explicit_minimiser(data, S, lam, kind):
    p0 = data.draw(simplex(S))
    v = data.draw(value_vector(S, 5.0))
    p = mdps.penalized_argmin(p0, v, lam, kind)
    assert p.min() >= 0.0 and abs(p.sum() - 1.0) <= 1e-12
    primal = float(p @ v) + lam * mdps.penalty(p, p0, kind)
    assert primal == pytest.approx(mdps.penalized_inner(p0, v, lam, kind), abs=1e-9 * (1 + np.abs(v).max()))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), S=st.integers(1, 7), lam=st.floats(1e-2, 1e2), kind=st.sampled_from(KINDS))
def test_penalised_equals_constrained_at_the_minimisers_radius(data, S, lam, kind):
    """Lagrangian link with the ball-constrained inner problem (mdps.robust_inner, an independent
    solver): sigma_lam = min_r {sigma_ball(r) + lam r}, attained at r* = D(p* || p0)."""
    p0 = data.draw(simplex(S))
    v = data.draw(value_vector(S, 5.0))
    r_star = mdps.penalty(mdps.penalized_argmin(p0, v, lam, kind), p0, kind)
    sigma = mdps.penalized_inner(p0, v, lam, kind)
    tol = 1e-8 * (1 + np.abs(v).max())
    assert mdps.robust_inner(p0, v, r_star, kind=kind) + lam * r_star == pytest.approx(sigma, abs=tol)
    for r in (0.0, 0.5 * r_star, 2.0 * r_star + 0.1):
        assert mdps.robust_inner(p0, v, r, kind=kind) + lam * r >= sigma - tol


@settings(max_examples=40, deadline=None)
@given(data=st.data(), S=st.integers(1, 6), lam=st.floats(1e-2, 1e2), kind=st.sampled_from(KINDS))
def test_no_distribution_beats_the_dual(data, S, lam, kind):
    """Weak duality by brute force: random feasible p never go below the closed form."""
    p0 = data.draw(simplex(S))
    v = data.draw(value_vector(S, 5.0))
    sigma = mdps.penalized_inner(p0, v, lam, kind)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    support = p0 > 0 if kind != "tv" else np.ones(S, bool)
    for _ in range(50):
        q = np.zeros(S)
        q[support] = rng.dirichlet(np.full(int(support.sum()), 0.3))
        assert float(q @ v) + lam * mdps.penalty(q, p0, kind) >= sigma - 1e-9 * (1 + np.abs(v).max())


@settings(max_examples=60, deadline=None)
@given(data=st.data(), S=st.integers(1, 7), kind=st.sampled_from(KINDS), c=st.floats(-3, 3))
def test_invariants_of_the_penalised_inner_problem(data, S, kind, c):
    p0 = data.draw(simplex(S))
    v = data.draw(value_vector(S, 5.0))
    u = data.draw(value_vector(S, 5.0))
    lams = np.geomspace(1e-3, 1e3, 13)
    vals = np.array([mdps.penalized_inner(p0, v, lam, kind) for lam in lams])
    tol = 1e-10 * (1 + np.abs(v).max())
    worst = v.min() if kind == "tv" else v[p0 > 0].min()
    assert np.all(np.diff(vals) >= -tol)                                  # non-decreasing in lam
    assert vals.min() >= worst - tol and vals.max() <= p0 @ v + tol       # worst case <= sigma <= nominal
    assert mdps.penalized_inner(p0, v, 0.0, kind) == pytest.approx(worst, abs=tol)
    assert mdps.penalized_inner(p0, v, np.inf, kind) == pytest.approx(p0 @ v, abs=tol)
    lam = float(lams[6])
    s = mdps.penalized_inner(p0, v, lam, kind)
    assert mdps.penalized_inner(p0, v + c, lam, kind) == pytest.approx(s + c, abs=1e-9 * (1 + abs(c) + np.abs(v).max()))
    assert abs(mdps.penalized_inner(p0, u, lam, kind) - s) <= np.abs(u - v).max() + tol   # 1-Lipschitz
    if kind == "chi2":
        # the maximiser solves alpha - E[v ^ alpha] = 2 lam (exactly, on the support)
        from mdps.robust_regularized import _chi2_root

        sup = p0 > 0
        a = _chi2_root(p0[sup], v[sup], lam)
        assert a - p0[sup] @ np.minimum(v[sup], a) == pytest.approx(2 * lam, abs=1e-9 * (1 + lam + np.abs(v).max()))


def test_chi2_is_the_maximum_over_alpha():
    """The dual value is the max of the alpha-objective (the released code's min is a slip): a fine
    grid never exceeds it and comes within the grid's resolution."""
    rng = np.random.default_rng(1)
    for _ in range(20):
        p0, v, lam = rng.dirichlet(np.ones(5)), 2 * rng.random(5), float(rng.choice([0.05, 0.5, 5.0]))
        grid = np.linspace(v.min(), v.max() + 2 * lam, 20001)
        obj = [p0 @ np.minimum(v, a) - p0 @ (np.minimum(v, a) - p0 @ np.minimum(v, a)) ** 2 / (4 * lam) for a in grid]
        val = mdps.penalized_inner(p0, v, lam, "chi2")
        assert max(obj) <= val + 1e-12 and max(obj) >= val - 1e-6
        assert min(obj) < val - 1e-3 or np.ptp(v) < 1e-3


# ------------------------------------------------------------------------------------------
# exact robust-regularised DP
# ------------------------------------------------------------------------------------------
def _tabular_rrmdp(tab, lam, kind):
    """(s,a)-rectangular penalised DP on the tabular model, written out here."""
    P, R = np.asarray(tab.to_dense().P), np.asarray(tab.R)
    H, S, A = tab.horizon, tab.n_states, tab.n_actions
    P = np.broadcast_to(P, (H, S, A, S))
    R = np.broadcast_to(R, (H, S, A))
    v = np.zeros(S)
    for h in range(H - 1, -1, -1):
        q = np.array([[R[h, s, a] + mdps.penalized_inner(P[h, s, a], v, lam, kind) for a in range(A)] for s in range(S)])
        v = q.max(axis=1)
    return float(tab.rho @ v)


@pytest.mark.parametrize("kind", KINDS)
def test_one_hot_dp_is_the_tabular_rrmdp_and_has_the_right_limits(kind):
    tab = mdps.random_finite_horizon(4, 3, 3, rng=2)
    lin = mdps.LinearMDP.from_tabular(tab)
    nominal = float(tab.rho @ mdps.backward_induction(tab).V[0])
    for lam in (0.05, 0.5, 5.0):
        assert mdps.robust_regularized_dp(lin, lam, kind).value(lin.rho) == pytest.approx(
            _tabular_rrmdp(tab, lam, kind), abs=1e-12)
    assert mdps.robust_regularized_dp(lin, np.inf, kind).value(lin.rho) == pytest.approx(nominal, abs=1e-12)
    assert mdps.robust_regularized_dp(lin, 0.0, kind).value(lin.rho) == pytest.approx(worst_case_dp(lin, kind),
                                                                                       abs=1e-12)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31), kind=st.sampled_from(KINDS), lam=st.floats(1e-2, 1e2))
def test_policy_evaluation_is_consistent_with_the_optimum(seed, kind, lam):
    lin = mdps.LinearMDP.random(5, 3, 3, 3, rng=seed)
    opt = mdps.robust_regularized_dp(lin, lam, kind)
    ev = mdps.robust_regularized_evaluate(lin, np.asarray(opt.policy), lam, kind)
    np.testing.assert_allclose(ev.V, opt.V, atol=1e-12)
    rng = np.random.default_rng(seed)
    pi = rng.dirichlet(np.ones(3), size=(3, 5))
    assert np.all(mdps.robust_regularized_evaluate(lin, pi, lam, kind).V <= opt.V + 1e-12)
    nominal = mdps.evaluate_finite_horizon(lin.to_tabular(), pi)
    assert np.all(mdps.robust_regularized_evaluate(lin, pi, lam, kind).V <= nominal + 1e-12)


def test_liu_xu_instance():
    lin = mdps.liu_xu_linear_mdp()
    assert (lin.n_states, lin.n_actions, lin.d, lin.horizon) == (5, 16, 4, 3)
    np.testing.assert_allclose(lin.phi.sum(axis=-1), 1.0, atol=1e-15)
    assert lin.phi.min() >= 0.0
    values = [float(mdps.backward_induction(mdps.liu_xu_linear_mdp(q).to_tabular()).V[0, 0]) for q in np.linspace(0, 1, 6)]
    assert np.all(np.diff(values) < 0)    # the perturbation sends mass to the fail state
    # nominal: from x1 the best action maximises delta + <xi, a> (all +1, index 15)
    assert int(mdps.backward_induction(lin.to_tabular()).policy[0, 0]) == 15
    with pytest.raises(ValueError, match="q must be"):
        mdps.liu_xu_linear_mdp(1.5)


# ------------------------------------------------------------------------------------------
# R2PVI
# ------------------------------------------------------------------------------------------
def _exact_dataset(P, R, M):
    """Every (h, s, a) with exactly M P(s'|s, a) samples to each s' (P in multiples of 1/M)."""
    H, S, A, _ = P.shape
    cols = {k: [] for k in ("s", "a", "r", "s_next")}
    for h in range(H):
        rows = {k: [] for k in cols}
        for s in range(S):
            for a in range(A):
                for t in range(S):
                    c = int(round(P[h, s, a, t] * M))
                    rows["s"] += [s] * c
                    rows["a"] += [a] * c
                    rows["s_next"] += [t] * c
                    rows["r"] += [R[h, s, a]] * c
        for k in cols:
            cols[k].append(rows[k])
    return {k: np.array(v) for k, v in cols.items()}


@pytest.mark.parametrize("kind", KINDS)
def test_exact_regression_reproduces_exact_dp(kind):
    rng = np.random.default_rng(0)
    S, A, H, M = 3, 2, 3, 10
    P = rng.multinomial(M, np.ones(S) / S, size=(H, S, A)) / M
    R = rng.random((H, S, A))
    lin = mdps.LinearMDP.from_tabular(mdps.TabularMDP(P, R, horizon=H))
    data = _exact_dataset(P, R, M)
    for lam in (0.05, 0.3, 2.0, np.inf):
        res = linear.r2pvi(lin, data, kind=kind, lam=lam, beta=0.0, ridge=1e-12)
        exact = mdps.robust_regularized_dp(lin, lam, kind)
        np.testing.assert_allclose(res.V_hat, exact.V, atol=1e-9)
        # features only, theta estimated from the rewards: the same values
        res2 = linear.r2pvi(np.asarray(lin.phi), data, kind=kind, lam=lam, beta=0.0, ridge=1e-12)
        np.testing.assert_allclose(res2.V_hat, exact.V, atol=1e-9)


def test_pessimism_penalty_and_shapes():
    lin = mdps.LinearMDP.random(6, 3, 4, 3, rng=0)
    data = linear.collect_offline_data(lin, 300, rng=1)
    assert data.s.shape == (3, 300) and data.n_samples == 300 and data.horizon == 3
    assert np.all(data.s[1:] == data.s_next[:-1])   # trajectories
    lo = linear.r2pvi(lin, data, kind="tv", lam=0.3, beta=1.0)
    hi = linear.r2pvi(lin, data, kind="tv", lam=0.3, beta=0.0)
    assert lo.policy.shape == (3, 6) and lo.Q_hat.shape == (3, 6, 3) and lo.w_hat.shape == (3, 4)
    assert np.all(lo.bonus > 0) and np.all(hi.bonus == 0)
    assert np.all(lo.V_hat <= hi.V_hat + 1e-12)       # more pessimism, lower estimates
    assert np.all(lo.V_hat >= 0) and np.all(lo.V_hat[2] <= 1.0)
    # the same seed gives the same dataset
    again = linear.collect_offline_data(lin, 300, rng=1)
    assert np.array_equal(again.s_next, data.s_next)


def test_behaviour_frequencies():
    lin = mdps.LinearMDP.random(4, 2, 3, 2, rng=3)
    pi = np.array([[0.9, 0.1]] * 4)
    data = linear.collect_offline_data(lin, 20000, behavior=pi, rng=0)
    assert abs(data.a.mean() - 0.1) < 0.01
    # first-stage next states follow P_0(.|s0, a)
    sel = data.a[0] == 0
    freq = np.bincount(data.s_next[0][sel], minlength=4) / sel.sum()
    np.testing.assert_allclose(freq, lin.P[0, 0, 0], atol=0.02)


# ------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------
def test_bad_inputs_name_the_argument():
    lin = mdps.LinearMDP.random(4, 2, 3, 2, rng=0)
    data = linear.collect_offline_data(lin, 10, rng=0)
    good = {"s": data.s, "a": data.a, "r": data.r, "s_next": data.s_next}
    with pytest.raises(ValueError, match="missing the field.*'s_next'"):
        linear.r2pvi(lin, {k: v for k, v in good.items() if k != "s_next"})
    with pytest.raises(ValueError, match=r"data\['r'\] has shape"):
        linear.r2pvi(lin, {**good, "r": good["r"][:, :5]})
    with pytest.raises(ValueError, match=r"data\['a'\]\[0, 0\] is 7"):
        linear.r2pvi(lin, {**good, "a": np.where(np.arange(10) == 0, 7, good["a"])})
    with pytest.raises(ValueError, match="expected the horizon 2"):
        linear.r2pvi(lin, {k: np.vstack([v, v]) for k, v in good.items()})
    with pytest.raises(TypeError, match="data must be"):
        linear.r2pvi(lin, [1, 2, 3])
    with pytest.raises(ValueError, match="kind must"):
        linear.r2pvi(lin, data, kind="hellinger")
    with pytest.raises(ValueError, match="lam must"):
        linear.r2pvi(lin, data, lam=0.0)
    with pytest.raises(ValueError, match="ridge must"):
        linear.r2pvi(lin, data, ridge=-1.0)
    bad_phi = np.asarray(lin.phi).copy()
    bad_phi[1, 0] *= 2.0
    with pytest.raises(ValueError, match=r"features\[1, 0, :\] sums to"):
        linear.r2pvi(bad_phi, data)
    neg = np.asarray(lin.phi).copy()
    neg[0, 1, 0], neg[0, 1, 1] = -0.5, neg[0, 1, 1] + neg[0, 1, 0] + 0.5
    with pytest.raises(ValueError, match=r"features\[0, 1, 0\] is -0.5"):
        linear.r2pvi(neg, data)
    # a valid linear MDP whose features leave the simplex (phi = 2 e_1, mu halved)
    S, A = 2, 1
    off = mdps.LinearMDP(np.full((S, A, 1), 2.0), np.full((1, S), 0.25), np.array([0.25]), horizon=2)
    with pytest.raises(ValueError, match=r"lmdp.phi\[0, 0, :\] sums to 2"):
        mdps.robust_regularized_dp(off, 0.1)
    for bad, match in (((-1.0,), "lam must"), ((float("nan"),), "lam must")):
        with pytest.raises(ValueError, match=match):
            mdps.penalized_inner([0.5, 0.5], [0.0, 1.0], *bad)
    with pytest.raises(ValueError, match="p0"):
        mdps.penalized_inner([0.5, 0.6], [0.0, 1.0], 0.1)
    with pytest.raises(ValueError, match="v must have shape"):
        mdps.penalized_inner([0.5, 0.5], [0.0, 1.0, 2.0], 0.1)
    with pytest.raises(TypeError, match="lmdp must be"):
        mdps.robust_regularized_dp(mdps.random_finite_horizon(2, 2, 2, rng=0), 0.1)
    with pytest.raises(ValueError, match="lam must lie in"):
        mdps.penalized_argmin([0.5, 0.5], [0.0, 1.0], np.inf)
