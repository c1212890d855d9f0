"""APO (algorithms.preference_learning.apo): exact dynamics, closed form, invariants, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from algorithms import preference_learning as pl

R6 = np.array([1.0, 0.8, 0.5, 0.3, 0.1, 0.0])

rewards = st.lists(st.floats(-3, 3, allow_nan=False), min_size=2, max_size=8).map(np.array)
alphas = st.floats(0.0, 0.95)
betas = st.floats(0.2, 5.0)


def test_closed_form_coefficient_small_t():
    a = 0.4
    assert pl.apo_logit_coefficient(a, 0) == 0.0
    assert pl.apo_logit_coefficient(a, 1) == pytest.approx(1.0, abs=1e-15)
    assert pl.apo_logit_coefficient(a, 2) == pytest.approx(2 + a, abs=1e-15)
    assert pl.apo_logit_coefficient(a, 3) == pytest.approx(1 + (1 + a) + (1 + a + a * a), abs=1e-14)
    t = np.arange(50)
    direct = np.array([sum((1 - a ** s) / (1 - a) for s in range(1, k + 1)) for k in t])
    np.testing.assert_allclose(pl.apo_logit_coefficient(a, t), direct, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(pl.apo_logit_coefficient(0.0, t), t, atol=1e-13)


def test_one_step_by_hand():
    r, beta, a = np.array([1.0, 0.0, -1.0]), 0.5, 0.3
    res = pl.apo(r, alpha=a, beta=beta, n_iter=2)
    p1 = np.exp(r / beta) / np.exp(r / beta).sum()
    np.testing.assert_allclose(res.policies[1], p1, rtol=1e-14)
    # pihat_1 ∝ pi_1^(1+a) / pi_0^a, pi_0 uniform: ∝ exp((1+a) r/beta)
    np.testing.assert_allclose(res.references[1], mdps.softmax((1 + a) * r / beta), rtol=1e-13)
    np.testing.assert_allclose(res.policies[2], mdps.softmax((2 + a) * r / beta), rtol=1e-13)


@settings(max_examples=60, deadline=None)
@given(rewards, alphas, betas, st.integers(1, 40))
def test_iteration_equals_closed_form(r, a, beta, T):
    res = pl.apo(r, alpha=a, beta=beta, n_iter=T)
    cf = pl.apo_closed_form_policy(r, a, beta, np.arange(T + 1))
    np.testing.assert_allclose(res.policies, cf, rtol=1e-8, atol=1e-300)


@settings(max_examples=60, deadline=None)
@given(rewards, betas, st.integers(1, 30))
def test_alpha_zero_is_iterative_dpo(r, beta, T):
    res = pl.apo(r, alpha=0.0, beta=beta, n_iter=T)
    pi = np.full(r.size, 1.0 / r.size)
    for t in range(1, T + 1):
        pi = pi * np.exp(r / beta)  # iterative DPO: the reference of step t is pi_{t-1}
        pi /= pi.sum()
        np.testing.assert_allclose(res.policies[t], pi, rtol=1e-9, atol=1e-300)
        np.testing.assert_allclose(res.policies[t], mdps.softmax(t * r / beta), rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(res.policies, res.references, rtol=1e-12, atol=1e-300)


@settings(max_examples=60, deadline=None)
@given(rewards, alphas, betas, st.integers(1, 40))
def test_iterates_are_distributions_and_ordered(r, a, beta, T):
    res = pl.apo(r, alpha=a, beta=beta, n_iter=T)
    for arr in (res.policies, res.references):
        assert np.all(arr >= 0) and np.all(np.isfinite(arr))
        np.testing.assert_allclose(arr.sum(-1), 1.0, atol=1e-12)
    # ordering preserved: r_i > r_j => pi_t(i) >= pi_t(j) for t >= 1 (uniform start)
    i, j = np.nonzero(r[:, None] > r[None, :])
    assert np.all(res.policies[1:, i] >= res.policies[1:, j])


@settings(max_examples=80, deadline=None)
@given(rewards, alphas, betas, st.integers(1, 60), st.integers(0, 2**31))
def test_suboptimality_non_increasing(r, a, beta, T, seed):
    """Provable for alpha in [0, 1) and any full-support init (module docstring)."""
    init = mdps.softmax(np.random.default_rng(seed).standard_normal(r.size))
    res = pl.apo(r, alpha=a, beta=beta, n_iter=T, init=init)
    sub = np.sum(res.policies * (r.max() - r), axis=-1)
    assert np.all(np.diff(sub) <= 1e-12 * max(1.0, sub[0]))
    np.testing.assert_allclose(sub, pl.apo_suboptimality(r, a, beta, np.arange(T + 1), init=init),
                               rtol=1e-8, atol=1e-300)


def test_asymptotic_slope_and_acceleration():
    for a in (0.0, 0.3, 0.6):
        sub = pl.apo_suboptimality(R6, a, 1.0, np.arange(300, 303))
        slope = np.diff(np.log(sub))
        np.testing.assert_allclose(slope, pl.apo_asymptotic_slope(0.2, a, 1.0), rtol=1e-9)
    assert pl.apo_asymptotic_slope(0.2, 0.6, 1.0) / pl.apo_asymptotic_slope(0.2, 0.0, 1.0) == pytest.approx(2.5)


def test_contexts_and_task():
    task = mdps.LogLinearPreferenceTask.random(3, 5, 4, beta=0.7, rng=1)
    res = pl.apo(task, alpha=0.5, n_iter=6)
    assert res.policies.shape == (7, 3, 5)
    cf = pl.apo_closed_form_policy(task.reward(), 0.5, 0.7, np.arange(7), init=task.ref)
    np.testing.assert_allclose(res.policies, cf, rtol=1e-10)
    # step 1 is the KL-regularised optimum of the task
    np.testing.assert_allclose(res.policies[1], task.optimal_policy(), rtol=1e-10)
    r2 = np.stack([R6, R6[::-1]])
    res2 = pl.apo(r2, alpha=0.3, beta=1.0, n_iter=4)
    np.testing.assert_allclose(res2.policies[:, 1], res2.policies[:, 0, ::-1], rtol=1e-12)


def test_dpo_newton_matches_population_minimiser():
    """The private per-step solver, fed the exact law of one record, recovers theta* (ridge -> 0)."""
    from algorithms.preference_learning.apo import _dpo_newton

    task = mdps.LogLinearPreferenceTask.random(2, 4, 3, beta=0.5, rng=3)
    D = task.outcome_distribution()
    x, i, j = np.nonzero(D)
    dphi = task.features[x, i] - task.features[x, j]
    theta = _dpo_newton(dphi, D[x, i, j], task.beta, 1e-12)
    np.testing.assert_allclose(theta, task.theta_star, atol=1e-6)


def test_sampled_converges_with_many_pairs_and_is_reproducible():
    K = R6.size
    task = mdps.LogLinearPreferenceTask(np.eye(K)[None], np.full(K, 1 / K), R6, 1.0)
    a = pl.apo_sampled(task, alpha=0.5, n_iter=4, n_pairs=200000, rng=0)
    b = pl.apo_sampled(task, alpha=0.5, n_iter=4, n_pairs=200000, rng=0)
    np.testing.assert_array_equal(a.policies, b.policies)
    assert a.thetas.shape == (4, K) and a.n_pairs == 200000
    exact = pl.apo(task, alpha=0.5, n_iter=4)
    assert np.max(np.abs(a.policies - exact.policies)) < 0.05
    c = pl.apo_sampled(task, alpha=0.0, n_iter=3, n_pairs=50, rng=1, sampler="ref")
    assert np.all(np.isfinite(c.policies))


@pytest.mark.parametrize("kwargs, match", [
    (dict(alpha=1.0, beta=1.0, n_iter=2), "alpha"),
    (dict(alpha=-0.1, beta=1.0, n_iter=2), "alpha"),
    (dict(alpha=0.5, beta=0.0, n_iter=2), "beta"),
    (dict(alpha=0.5, n_iter=2), "beta"),
    (dict(alpha=0.5, beta=1.0, n_iter=-1), "n_iter"),
    (dict(alpha=0.5, beta=1.0, n_iter=2, init=[1.0, 0.0, 0.0, 0, 0, 0]), "init"),
    (dict(alpha=0.5, beta=1.0, n_iter=2, init=[0.5, 0.5]), "init"),
])
def test_bad_input(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        pl.apo(R6, **kwargs)


def test_bad_input_other():
    with pytest.raises(ValueError, match="reward_or_task"):
        pl.apo([1.0, np.nan], alpha=0.1, beta=1.0, n_iter=1)
    with pytest.raises(ValueError, match="t must"):
        pl.apo_logit_coefficient(0.5, -1)
    with pytest.raises(ValueError, match="gap"):
        pl.apo_asymptotic_slope(0.0, 0.5, 1.0)
    with pytest.raises(TypeError, match="task"):
        pl.apo_sampled(R6, alpha=0.1, n_iter=1, n_pairs=10, rng=0)
    task = mdps.LogLinearPreferenceTask.one_hot(1, 3, rng=0)
    with pytest.raises(ValueError, match="sampler"):
        pl.apo_sampled(task, alpha=0.1, n_iter=1, n_pairs=10, rng=0, sampler="bad")
    with pytest.raises(ValueError, match="ridge"):
        pl.apo_sampled(task, alpha=0.1, n_iter=1, n_pairs=10, rng=0, ridge=0.0)
