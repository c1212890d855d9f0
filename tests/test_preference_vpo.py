"""VPO (algorithms.preference_learning.vpo): J* identities, the reward and policy forms, the online loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from algorithms import preference_learning as pl


def _task(seed=0, X=3, K=5, d=4, beta=0.7):
    return mdps.LogLinearPreferenceTask.random(X, K, d, beta=beta, theta_norm=1.5, rng=seed)


def _pop_counts(task, n=500.0, policy=None):
    return n * task.outcome_distribution(policy)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10**6), st.floats(-5, 5), st.floats(0.1, 3.0))
def test_value_shift_equivariance_and_gibbs(seed, c, beta):
    gen = np.random.default_rng(seed)
    r = gen.normal(size=(3, 4))
    ref = mdps.softmax(gen.normal(size=(3, 4)))
    w = mdps.softmax(gen.normal(size=3))
    J = pl.regularized_optimal_value(r, ref, beta, w)
    assert pl.regularized_optimal_value(r + c, ref, beta, w) == pytest.approx(J + c, abs=1e-10)
    # Gibbs: the value of the softmax policy equals J*, and any other policy does no better
    pi = mdps.softmax(np.log(ref) + r / beta)
    val = float(w @ (np.sum(pi * r, -1) - beta * mdps.kl(pi, ref)))
    assert val == pytest.approx(J, abs=1e-10)
    other = mdps.softmax(gen.normal(size=(3, 4)))
    assert float(w @ (np.sum(other * r, -1) - beta * mdps.kl(other, ref))) <= J + 1e-12


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), st.floats(0.2, 3.0))
def test_value_gradient_and_convexity(seed, beta):
    gen = np.random.default_rng(seed)
    r, r2 = gen.normal(size=(2, 2, 5))
    ref = mdps.softmax(gen.normal(size=(2, 5)))
    w = np.array([0.3, 0.7])
    g = pl.regularized_optimal_value_grad(r, ref, beta, w)
    np.testing.assert_allclose(g, w[:, None] * mdps.softmax(np.log(ref) + r / beta), rtol=1e-12)
    h = 1e-6
    fd = np.zeros_like(r)
    for idx in np.ndindex(r.shape):
        e = np.zeros_like(r)
        e[idx] = h
        fd[idx] = (pl.regularized_optimal_value(r + e, ref, beta, w)
                   - pl.regularized_optimal_value(r - e, ref, beta, w)) / (2 * h)
    np.testing.assert_allclose(fd, g, atol=1e-8)
    for lam in (0.25, 0.5, 0.8):
        mid = pl.regularized_optimal_value(lam * r + (1 - lam) * r2, ref, beta, w)
        assert mid <= lam * pl.regularized_optimal_value(r, ref, beta, w) + (1 - lam) * pl.regularized_optimal_value(
            r2, ref, beta, w) + 1e-12


def test_objective_gradient_finite_differences():
    task = _task(1)
    C = _pop_counts(task, 50.0)
    for sign in (-1, 1):
        psi = np.random.default_rng(2).normal(size=task.dim)
        f, g = pl.vpo_objective(psi, task, C, alpha=0.8, sign=sign, ridge=0.1)
        fd = np.array([(pl.vpo_objective(psi + 1e-6 * e, task, C, alpha=0.8, sign=sign, ridge=0.1)[0]
                        - pl.vpo_objective(psi - 1e-6 * e, task, C, alpha=0.8, sign=sign, ridge=0.1)[0]) / 2e-6
                       for e in np.eye(task.dim)])
        np.testing.assert_allclose(fd, g, rtol=1e-6, atol=1e-6)


def test_switching_sign_flips_only_the_value_term():
    task = _task(2)
    C = _pop_counts(task, 20.0)
    psi = np.random.default_rng(0).normal(size=task.dim)
    fp, gp = pl.vpo_objective(psi, task, C, alpha=0.6, sign=1, ridge=0.0)
    fm, gm = pl.vpo_objective(psi, task, C, alpha=0.6, sign=-1, ridge=0.0)
    f0, g0 = pl.vpo_objective(psi, task, C, alpha=0.0, sign=1, ridge=0.0)
    assert (fp + fm) / 2 == pytest.approx(f0, rel=1e-12)
    np.testing.assert_allclose((gp + gm) / 2, g0, atol=1e-12)
    # the difference is -2 alpha J*(r_psi) with the calibrated reward
    phit = task.features - np.einsum("xk,xkd->xd", task.ref, task.features)[:, None]
    J = pl.regularized_optimal_value(phit @ psi, task.ref, task.beta, task.weights)
    assert fp - fm == pytest.approx(-2 * 0.6 * J, rel=1e-10)


def test_alpha_zero_is_the_mle_and_recovers_pi_star_on_population_data():
    task = _task(3)
    fit = pl.vpo(task, _pop_counts(task), alpha=0.0, ridge=0.0)
    np.testing.assert_allclose(fit.policy, task.optimal_policy(), atol=1e-6)
    # the calibrated reward: E_ref r_hat = 0 per context, and differences equal r*'s
    np.testing.assert_allclose(np.sum(task.ref * fit.reward, -1), 0.0, atol=1e-10)
    r = task.reward()
    np.testing.assert_allclose(fit.reward - fit.reward[:, :1], r - r[:, :1], atol=1e-5)
    assert fit.grad_norm < 1e-6
    assert pl.vpo(task, _pop_counts(task), alpha=0.0, sign=1, ridge=0.0).policy == pytest.approx(fit.policy, abs=1e-6)


def test_pessimism_lowers_and_optimism_raises_the_fitted_value():
    task = _task(4)
    C = _pop_counts(task, 30.0)
    J = {}
    for sign in (-1, 1):
        fit = pl.vpo(task, C, alpha=5.0, sign=sign, ridge=1e-3)
        J[sign] = pl.regularized_optimal_value(fit.reward, task.ref, task.beta, task.weights)
        assert fit.grad_norm < 1e-5
    J0 = pl.regularized_optimal_value(pl.vpo(task, C, alpha=0.0, ridge=1e-3).reward, task.ref, task.beta, task.weights)
    assert J[-1] < J0 < J[1]


@pytest.mark.parametrize("sign", [-1, 1])
def test_policy_form_equals_reward_form(sign):
    """Under the calibration E_{pi_cal} r = 0: L_VPO(theta) = reward-form objective at psi = beta theta."""
    for seed in range(4):
        task = _task(10 + seed, beta=[0.3, 0.7, 1.0, 2.0][seed])
        C = _pop_counts(task, 40.0)
        cal = mdps.softmax(np.random.default_rng(seed).normal(size=task.ref.shape))
        for theta in np.random.default_rng(seed + 100).normal(size=(3, task.dim)):
            f_pol, g_pol = pl.vpo_policy_loss(theta, task, C, alpha=0.9, sign=sign, pi_cal=cal)
            f_rew, g_rew = pl.vpo_objective(task.beta * theta, task, C, alpha=0.9, sign=sign, ridge=0.0, pi_cal=cal)
            assert f_pol == pytest.approx(f_rew, rel=1e-11, abs=1e-11)
            np.testing.assert_allclose(g_pol, task.beta * g_rew, rtol=1e-9, atol=1e-10)
    # and the minimisers coincide (offline, convex): pi_theta_hat == pi_hat
    task = _task(20)
    C = _pop_counts(task, 40.0)
    from scipy.optimize import minimize
    res = minimize(lambda th: pl.vpo_policy_loss(th, task, C, alpha=2.0, sign=-1), np.zeros(task.dim), jac=True,
                   method="L-BFGS-B", options=dict(gtol=1e-10, ftol=1e-15))
    fit = pl.vpo(task, C, alpha=2.0, sign=-1, ridge=0.0)
    np.testing.assert_allclose(task.policy(res.x), fit.policy, atol=1e-6)


def test_online_loop_records_exact_regret():
    task = _task(5, X=2, K=6, d=3, beta=0.5)
    run = pl.vpo_online(task, 25, alpha=1.0, rng=0)
    assert run.regret.shape == (25,) and np.all(run.regret >= 0)
    for t in (0, 10, 24):
        assert run.regret[t] == pytest.approx(task.suboptimality(run.policies[t]), abs=1e-12)
    again = pl.vpo_online(task, 25, alpha=1.0, rng=0)
    np.testing.assert_array_equal(run.regret, again.regret)
    # round 0 has no data; with alpha = 0 it plays the reference
    greedy = pl.vpo_online(task, 3, alpha=0.0, rng=1)
    np.testing.assert_allclose(greedy.policies[0], task.ref, atol=1e-12)


def test_bad_input():
    task = _task(6)
    C = _pop_counts(task)
    with pytest.raises(ValueError, match="sign"):
        pl.vpo(task, C, alpha=1.0, sign=0)
    with pytest.raises(ValueError, match="alpha"):
        pl.vpo(task, C, alpha=-1.0)
    with pytest.raises(ValueError, match="ridge"):
        pl.vpo(task, C, alpha=1.0, sign=1, ridge=0.0)
    with pytest.raises(ValueError, match="data"):
        pl.vpo(task, C[:, :2], alpha=1.0)
    with pytest.raises(ValueError, match="data"):
        pl.vpo(task, -C, alpha=1.0)
    with pytest.raises(TypeError, match="task"):
        pl.vpo(C, C, alpha=1.0)
    with pytest.raises(ValueError, match="pi_cal"):
        pl.vpo(task, C, alpha=1.0, pi_cal=np.ones(task.n_responses))
    with pytest.raises(ValueError, match="ref"):
        pl.regularized_optimal_value(np.zeros((2, 3)), np.array([1.0, 0.0, 0.0]), 1.0)
    with pytest.raises(ValueError, match="beta"):
        pl.regularized_optimal_value(np.zeros((2, 3)), np.full(3, 1 / 3), 0.0)
    with pytest.raises(ValueError, match="n_rounds"):
        pl.vpo_online(task, 0, alpha=1.0, rng=0)
    data = task.sample(50, rng=0)
    assert pl.vpo(task, data, alpha=0.5).policy.shape == task.ref.shape
