"""DR-RPO (algorithms.linear.drrpo) and its ground truth (mdps.policy_regularized_robust): the
closed-form mirror step, the TV dual and robust regression, the tabular reduction of the
evaluation, the invariants of the reconstruction, runs, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from algorithms import linear


def _md_obj(q, Q, pi, ref, eta, beta):
    return eta * q @ Q - eta * beta * mdps.kl(q, ref) - mdps.kl(q, pi)


def _garnet_lin(seed=1, S=4, A=3, H=3):
    return mdps.LinearMDP.from_tabular(mdps.garnet(S, A, 2, horizon=H, rng=seed))


# ------------------------------------------------------------------------------------- mirror step
@settings(max_examples=60, deadline=None)
@given(st.integers(2, 6), st.floats(0.01, 5.0), st.floats(0.0, 10.0), st.integers(0, 2**31))
def test_mirror_step_maximises_its_objective_and_keeps_full_support(A, eta, beta, seed):
    gen = np.random.default_rng(seed)
    pi, ref = gen.dirichlet(np.ones(A)), gen.dirichlet(np.ones(A))
    Q = 3.0 * gen.random(A)
    q = linear.mirror_step(pi, ref, Q, eta=eta, beta_reg=beta)
    assert q.sum() == pytest.approx(1.0, abs=1e-12) and (q > 0).all()
    best = _md_obj(q, Q, pi, ref, eta, beta)
    for other in gen.dirichlet(np.ones(A), size=30):
        assert _md_obj(other, Q, pi, ref, eta, beta) <= best + 1e-12
    # first-order condition: eta Q - eta beta log(q/ref) - log(q/pi) is constant over actions
    g = eta * Q - eta * beta * np.log(q / ref) - np.log(q / pi)
    assert np.ptp(g) < 1e-9


def test_mirror_step_closed_form_special_cases_and_fixed_point():
    pi, ref, Q = np.array([0.2, 0.3, 0.5]), np.array([0.6, 0.3, 0.1]), np.array([1.0, 0.0, 2.0])
    # beta_reg = 0: the unregularised exponentiated-gradient step
    w = pi * np.exp(0.7 * Q)
    np.testing.assert_allclose(linear.mirror_step(pi, ref, Q, eta=0.7, beta_reg=0.0), w / w.sum(), rtol=1e-14)
    # beta_reg -> infinity: pi_ref
    np.testing.assert_allclose(linear.mirror_step(pi, ref, Q, eta=0.7, beta_reg=1e12), ref, atol=1e-9)
    # iterating with a fixed Q converges to the regularised optimum pi_ref exp(Q / beta) / Z
    q, beta = pi, 0.5
    for _ in range(400):
        q = linear.mirror_step(q, ref, Q, eta=0.3, beta_reg=beta)
    star = ref * np.exp(Q / beta)
    np.testing.assert_allclose(q, star / star.sum(), atol=1e-12)
    # rows: the step works along the last axis
    two = linear.mirror_step(np.stack([pi, ref]), np.stack([ref, ref]), np.stack([Q, Q]), eta=0.7, beta_reg=1.0)
    np.testing.assert_allclose(two[0], linear.mirror_step(pi, ref, Q, eta=0.7, beta_reg=1.0))


# ------------------------------------------------------------------------------------- TV dual
@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(0, 2**31), st.floats(0.0, 1.0))
def test_tv_dual_equals_the_exact_worst_case_on_laws(S, seed, rho):
    gen = np.random.default_rng(seed)
    p0, v = gen.dirichlet(np.full(S, 0.5)), 3.0 * gen.random(S)
    dual = linear.tv_dual(p0, v, rho)
    assert dual == pytest.approx(mdps.robust_inner(p0, v, rho, kind="tv"), abs=1e-12)
    assert mdps.tv_worst_case(p0[None], v[None], rho)[0, 0] == pytest.approx(dual, abs=1e-12)
    assert dual <= p0 @ v + 1e-12 and dual >= v.min() - 1e-12


def test_tv_dual_at_zero_radius_is_the_regression_coefficient_and_decreases_in_rho():
    gen = np.random.default_rng(3)
    v = 2.0 * gen.random(6)
    Wpos = gen.random((4, 6)) * 0.3  # nonnegative weights (one-hot ridge fits are): nu(0) = W v
    np.testing.assert_allclose(linear.tv_dual(Wpos, v, 0.0), Wpos @ v, rtol=1e-14)
    W = gen.normal(size=(4, 6)) * 0.3 + 1.0 / 6  # signed weights, as a general ridge fit gives
    # with signed weights the alpha-maximum can exceed W v at rho = 0 (the reconstruction's "nu equals the
    # nominal regression coefficient at rho = 0" needs nonnegative weights): only >= holds
    assert (linear.tv_dual(W, v, 0.0) >= W @ v - 1e-14).all()
    assert (linear.tv_dual(W, v, 0.0) > W @ v + 1e-3).any()
    vals = np.array([linear.tv_dual(W, v, r) for r in np.linspace(0, 1, 11)])
    assert (np.diff(vals, axis=0) <= 1e-12).all()


def test_tv_regression_with_one_hot_features_is_the_empirical_law():
    gen = np.random.default_rng(0)
    d, S, N = 3, 5, 400
    z = gen.integers(d, size=N)
    phis = np.eye(d)[z]
    s2 = gen.integers(S, size=N)
    v = gen.random(S)
    emp = np.zeros((d, S))
    np.add.at(emp, (z, s2), 1.0)
    W = emp / (emp.sum(axis=1, keepdims=True) + 0.5)  # ridge lam = 0.5 on one-hot features
    np.testing.assert_allclose(linear.tv_regression(phis, s2, v, 0.3, lam=0.5), linear.tv_dual(W, v, 0.3),
                               rtol=1e-12)


# ------------------------------------------------------------------------------------- evaluation
@pytest.mark.parametrize("make", [_garnet_lin, lambda: mdps.LinearMDP.random(6, 3, 4, 3, rng=2)])
@pytest.mark.parametrize("rho", [0.0, 0.25, 1.0])
def test_exact_factors_and_no_bonus_give_the_tabular_robust_regularised_evaluation(make, rho):
    lmdp = make()
    H, S, A, d = lmdp.horizon, lmdp.n_states, lmdp.n_actions, lmdp.d
    gen = np.random.default_rng(5)
    pi = gen.dirichlet(np.ones(A), size=(H, S))
    ref = gen.dirichlet(np.ones(A), size=(H, S))
    W = np.ascontiguousarray(np.broadcast_to(lmdp.mu, (H, d, S)))
    Vh, Q, nu = linear.robust_regularized_evaluation(lmdp.phi, np.broadcast_to(lmdp.theta, (H, d)), W,
                                                     np.zeros((H, S, A)), pi, ref, rho=rho, beta_reg=0.3)
    exact = mdps.policy_regularized_robust_evaluate(lmdp, pi, rho=rho, beta_reg=0.3, pi_ref=ref)
    np.testing.assert_allclose(Vh, exact.V, atol=1e-12)
    np.testing.assert_allclose(Q, exact.Q, atol=1e-12)
    np.testing.assert_allclose(nu, exact.nu, atol=1e-12)


def test_ground_truth_invariants():
    lmdp = _garnet_lin()
    H, S, A = lmdp.horizon, lmdp.n_states, lmdp.n_actions
    pi = np.random.default_rng(0).dirichlet(np.ones(A), size=(H, S))
    # rho = 0: the regularised nominal value, by a plain tabular backward pass
    P, R = np.asarray(lmdp.P), np.asarray(lmdp.R)
    v = np.zeros(S)
    for h in range(H - 1, -1, -1):
        v = (pi[h] * (R[h] + P[h] @ v)).sum(axis=1) - 0.4 * mdps.kl(pi[h], np.full(A, 1.0 / A), axis=1)
    np.testing.assert_allclose(mdps.policy_regularized_robust_evaluate(lmdp, pi, rho=0.0, beta_reg=0.4).V[0], v,
                               atol=1e-12)
    # values non-increasing in rho; the optimum dominates every policy and is attained by its Gibbs policy
    prev_pi, prev_star = np.inf, np.inf
    for rho in np.linspace(0.0, 1.0, 6):
        vp = mdps.policy_regularized_robust_evaluate(lmdp, pi, rho=rho, beta_reg=0.4).V
        opt = mdps.policy_regularized_robust_dp(lmdp, rho=rho, beta_reg=0.4)
        assert (vp[0] <= prev_pi + 1e-12).all() and (opt.V[0] <= prev_star + 1e-12).all()
        assert (opt.V >= vp - 1e-12).all()
        np.testing.assert_allclose(mdps.policy_regularized_robust_evaluate(lmdp, opt.policy, rho=rho,
                                                                           beta_reg=0.4).V, opt.V, atol=1e-12)
        prev_pi, prev_star = vp[0], opt.V[0]
    # beta_reg -> infinity: the optimal policy is the reference
    ref = np.random.default_rng(1).dirichlet(np.ones(A), size=(H, S))
    big = mdps.policy_regularized_robust_dp(lmdp, rho=0.3, beta_reg=1e8, pi_ref=ref)
    np.testing.assert_allclose(big.policy, ref, atol=1e-7)
    # many policies at once = one at a time
    pols = np.random.default_rng(2).dirichlet(np.ones(A), size=(5, H, S))
    many = mdps.policy_regularized_robust_values(lmdp, pols, rho=0.3, beta_reg=0.4)
    for k in range(5):
        np.testing.assert_allclose(many[k], mdps.policy_regularized_robust_evaluate(
            lmdp, pols[k], rho=0.3, beta_reg=0.4).V[0], atol=1e-12)


# ------------------------------------------------------------------------------------- the algorithm
def test_dr_rpo_run_records_and_invariants():
    lmdp = _garnet_lin()
    run = linear.dr_rpo(lmdp, n_episodes=60, rho=0.2, beta_reg=0.5, bonus_scale=0.05, rng=4)
    assert run.policies.shape == (60, 3, 4, 3) and run.settings.eta == pytest.approx(linear.dr_rpo_eta(60, 3, 3))
    np.testing.assert_allclose(run.policies.sum(axis=-1), 1.0, atol=1e-12)
    assert (run.policies > 0).all() and (run.final_policy > 0).all()
    np.testing.assert_allclose(run.policies[0], 1.0 / 3)  # pi_1 = pi_ref (uniform)
    assert (run.regret >= -1e-12).all()
    exact = [mdps.policy_regularized_robust_evaluate(lmdp, p, rho=0.2, beta_reg=0.5).value(lmdp.rho)
             for p in run.policies]
    np.testing.assert_allclose(run.values, exact, atol=1e-12)
    again = linear.dr_rpo(lmdp, n_episodes=60, rho=0.2, beta_reg=0.5, bonus_scale=0.05, exact_values=False, rng=4)
    np.testing.assert_array_equal(again.policies, run.policies)
    assert again.values is None and again.regret is None


def test_dr_rpo_regret_is_sublinear_on_a_small_instance():
    lmdp = _garnet_lin()
    avg = [linear.dr_rpo(lmdp, n_episodes=K, rho=0.2, beta_reg=1.0, bonus_scale=0.05, rng=0).regret.mean()
           for K in (100, 800)]
    assert avg[1] < avg[0]


def _non_simplex_lmdp():
    return mdps.LinearMDP(np.array([[[2.0, 0.0]]]), np.array([[0.5], [0.7]]), np.array([0.25, 0.0]), horizon=2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(rho=1.5), r"rho"), (dict(rho=-0.1), r"rho"), (dict(n_episodes=0), r"n_episodes"),
    (dict(eta=0.0), r"eta"), (dict(eta=-1.0), r"eta"), (dict(beta_reg=0.0), r"beta_reg"),
    (dict(pi_ref=np.array([[1.0, 0.0]] * 4)), r"pi_ref"), (dict(bonus_scale=-1.0), "bonus_scale"),
    (dict(lam=0.0), "lam"),
])
def test_dr_rpo_bad_input_is_refused_by_name(kwargs, match):
    lmdp = mdps.LinearMDP.from_tabular(mdps.garnet(4, 2, 2, horizon=2, rng=0))
    args = dict(n_episodes=3, rho=0.1, beta_reg=0.5) | kwargs
    with pytest.raises((ValueError, TypeError), match=match):
        linear.dr_rpo(lmdp, **args)


def test_features_off_the_simplex_are_refused():
    with pytest.raises(ValueError, match=r"lmdp.phi\[0, 0, 0\] is 2|lmdp.phi\[0, 0, :\] sums to 2"):
        linear.dr_rpo(_non_simplex_lmdp(), n_episodes=2, rho=0.1, beta_reg=0.5)
    with pytest.raises(ValueError, match=r"lmdp.phi"):
        mdps.policy_regularized_robust_dp(_non_simplex_lmdp(), rho=0.1, beta_reg=0.5)


def test_helpers_bad_input():
    with pytest.raises(ValueError, match="rho"):
        linear.tv_dual(np.array([0.5, 0.5]), np.array([0.0, 1.0]), 2.0)
    with pytest.raises(ValueError, match="last dimension S = 3"):
        linear.tv_dual(np.ones((2, 2)), np.zeros(3), 0.1)
    with pytest.raises(ValueError, match="eta"):
        linear.mirror_step([0.5, 0.5], [0.5, 0.5], [0.0, 1.0], eta=0.0, beta_reg=1.0)
    with pytest.raises(ValueError, match=r"pi_ref\[1\] is 0"):
        linear.mirror_step([0.5, 0.5], [1.0, 0.0], [0.0, 1.0], eta=0.1, beta_reg=1.0)
    with pytest.raises(ValueError, match="pi"):
        linear.mirror_step([0.5, 0.6], [0.5, 0.5], [0.0, 1.0], eta=0.1, beta_reg=1.0)
    with pytest.raises(ValueError, match="next_states"):
        linear.tv_regression(np.ones((2, 1)), np.array([0, 5]), np.zeros(3), 0.1)
    with pytest.raises(ValueError, match="n_episodes"):
        linear.dr_rpo_eta(0, 3, 2)
