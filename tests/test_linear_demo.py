"""Tests of algorithms.linear.demo: log-linear behaviour cloning and demonstration-regularised LSVI."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mdps
from algorithms import exploration, linear
from proofs_checks.linear.demo_linear import soft_replay


def _gradient_numpy(lin, states, actions, w, ridge):
    """Independent gradient: sum over trajectories of phi(s, a) - E_pi phi(s, .), minus ridge w."""
    H = actions.shape[1]
    g = -ridge * np.array(w, dtype=float)
    for h in range(H):
        z = lin.phi @ w[h]
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        for s, a in zip(states[:, h], actions[:, h]):
            g[h] += lin.phi[s, a] - p[s] @ lin.phi[s]
    return g


# ------------------------------------------------------------------------------ behaviour cloning
def test_one_hot_small_ridge_is_the_empirical_frequency():
    lin = mdps.LinearMDP.from_tabular(mdps.river_swim(3, horizon=2))
    rng = np.random.default_rng(0)
    H, S, A = 2, 3, 2
    # every (h, s, a) visited: enumerate all pairs twice, plus random extra rows
    states = np.tile(np.repeat(np.arange(S), A), 2)[:, None].repeat(H, axis=1)
    actions = np.tile(np.tile(np.arange(A), S), 2)[:, None].repeat(H, axis=1)
    extra_s = rng.integers(0, S, size=(30, H))
    extra_a = rng.integers(0, A, size=(30, H))
    data = {"states": np.vstack([states, extra_s]), "actions": np.vstack([actions, extra_a])}
    fit = linear.linear_behaviour_cloning(lin, data, ridge=1e-10)
    counts = exploration.demonstration_counts(data, S, A, H)
    freq = counts / counts.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(fit.policy, freq, atol=1e-7)


def test_example_and_result_fields():
    lin = mdps.LinearMDP.from_tabular(mdps.river_swim(2, horizon=1))
    data = {"states": np.zeros((4, 1), dtype=int), "actions": np.array([[0], [0], [0], [1]])}
    fit = linear.linear_behaviour_cloning(lin, data, ridge=1e-9)
    np.testing.assert_allclose(fit.policy[0, 0], [0.75, 0.25], atol=1e-6)
    assert fit.weights.shape == (1, lin.d) and fit.n_demos == 4.0
    np.testing.assert_allclose(fit.policy.sum(axis=-1), 1.0, atol=1e-12)


def test_unvisited_states_one_hot_get_uniform():
    lin = mdps.LinearMDP.from_tabular(mdps.river_swim(3, horizon=1))
    data = {"states": np.zeros((5, 1), dtype=int), "actions": np.zeros((5, 1), dtype=int)}
    fit = linear.linear_behaviour_cloning(lin, data, ridge=1.0)
    np.testing.assert_allclose(fit.policy[0, 1:], 0.5, atol=1e-12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), n=st.integers(1, 60), ridge=st.floats(1e-3, 10.0),
       A=st.integers(2, 4), d=st.integers(1, 5))
def test_gradient_is_zero_at_the_returned_weights(seed, n, ridge, A, d):
    lin = mdps.LinearMDP.random(4, A, d, 3, rng=seed)
    rng = np.random.default_rng(seed)
    states = rng.integers(0, 4, size=(n, 3))
    actions = rng.integers(0, A, size=(n, 3))
    fit = linear.linear_behaviour_cloning(lin, {"states": states, "actions": actions}, ridge=ridge)
    g = _gradient_numpy(lin, states, actions, np.asarray(fit.weights), ridge)
    assert np.linalg.norm(g, axis=1).max() <= 1e-8 * (1 + n)
    g2 = linear.linear_bc_gradient(lin, {"states": states, "actions": actions}, fit.weights, ridge=ridge)
    np.testing.assert_allclose(g2, g, atol=1e-8 * (1 + n))
    np.testing.assert_allclose(fit.policy.sum(axis=-1), 1.0, atol=1e-12)


def test_expert_in_class_is_recovered_with_many_demos():
    lin = mdps.LinearMDP.random(5, 3, 3, 2, rng=4)
    w = np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -1.0]])
    expert = linear.log_linear_policy(lin, w)
    tr = mdps.rollout(lin.to_tabular(), expert, 40_000, rng=1)
    fit = linear.linear_behaviour_cloning(lin, {"states": tr.states, "actions": tr.actions}, ridge=1.0)
    assert mdps.trajectory_kl(lin.to_tabular(), expert, fit.policy) < 1e-3


@pytest.mark.parametrize("data, match", [
    ({"states": np.full((2, 2), 9), "actions": np.zeros((2, 2), dtype=int)}, r"states\[0, 0\] is 9"),
    ({"states": np.zeros((2, 2), dtype=int), "actions": np.full((2, 2), -1)}, r"actions\[0, 0\] is -1"),
    ({"states": np.zeros((2, 3), dtype=int), "actions": np.zeros((2, 3), dtype=int)}, "horizon is 2"),
    ({"states": np.zeros((2, 2)), "actions": np.zeros((2, 2), dtype=int)}, "integer"),
])
def test_bad_demonstrations(data, match):
    lin = mdps.LinearMDP.from_tabular(mdps.river_swim(3, horizon=2))
    with pytest.raises((ValueError, TypeError), match=match):
        linear.linear_behaviour_cloning(lin, data)


def test_bad_arguments():
    lin = mdps.LinearMDP.from_tabular(mdps.river_swim(3, horizon=2))
    data = {"states": np.zeros((2, 2), dtype=int), "actions": np.zeros((2, 2), dtype=int)}
    with pytest.raises(ValueError, match="ridge"):
        linear.linear_behaviour_cloning(lin, data, ridge=0.0)
    with pytest.raises(TypeError, match="lmdp"):
        linear.linear_behaviour_cloning(mdps.river_swim(3, horizon=2), data)
    with pytest.raises(ValueError, match="weights"):
        linear.log_linear_policy(lin, np.zeros((3, lin.d)))


# --------------------------------------------------------------------- demo-regularised LSVI
def test_one_hot_identity_with_the_tabular_soft_replay():
    mdp = mdps.river_swim(3, horizon=4)
    lin = mdps.LinearMDP.from_tabular(mdp)
    ref = np.random.default_rng(1).dirichlet(np.ones(2), size=(4, 3))
    run = linear.demo_regularized_lsvi(lin, ref, 0.2, n_episodes=60, bonus_scale=0.3, keep_q=True, rng=3)
    vals, pols, Qs = soft_replay(mdp, ref, run.states, run.actions, 0.2, run.settings.ridge, run.settings.beta)
    np.testing.assert_allclose(run.Q, Qs, atol=1e-11)
    np.testing.assert_allclose(run.policies, pols, atol=1e-11)
    np.testing.assert_allclose(run.optimistic_values, vals, atol=1e-11)


def test_exact_values_match_evaluate_and_trajectory_kl():
    lin = mdps.LinearMDP.random(4, 3, 3, 3, rng=2)
    tab = lin.to_tabular()
    ref = np.random.default_rng(0).dirichlet(np.ones(3), size=(3, 4))
    lam = 0.3
    run = linear.demo_regularized_lsvi(lin, ref, lam, n_episodes=15, bonus_scale=0.1, rng=1)
    for k in (0, 7, 14):
        pol = run.policies[k]
        v = float(tab.rho @ mdps.evaluate(tab, pol)[0])
        assert abs(run.values[k] - v) < 1e-10
        assert abs(run.reg_values[k] - (v - lam * mdps.trajectory_kl(tab, pol, ref))) < 1e-10
    opt = exploration.kl_regularized_optimum(tab, ref, lam)
    assert abs(run.reg_v_star - opt.value) < 1e-12
    assert (run.reg_regret >= -1e-10).all() and (run.values <= run.v_star + 1e-10).all()
    np.testing.assert_allclose(run.policies.sum(axis=-1), 1.0, atol=1e-12)


def test_zero_reference_mass_is_never_played():
    lin = mdps.LinearMDP.from_tabular(mdps.river_swim(3, horizon=3))
    ref = np.zeros((3, 3, 2))
    ref[..., 1] = 1.0  # deterministic reference: always action 1
    run = linear.demo_regularized_lsvi(lin, ref, 0.5, n_episodes=30, rng=0)
    assert (run.actions == 1).all() and (run.policies[..., 0] == 0).all()
    np.testing.assert_allclose(run.reg_values, run.values, atol=1e-12)  # pi = ref: zero KL


def test_small_lambda_with_greedy_reference_is_near_lsvi():
    """As lambda -> 0 the soft backup tends to the max (log-sum-exp bound: max <= V-bar + lambda log(1/min ref))."""
    lin = mdps.LinearMDP.from_tabular(mdps.river_swim(3, horizon=3))
    ref = np.full((3, 3, 2), 0.5)
    lam = 1e-4
    run = linear.demo_regularized_lsvi(lin, ref, lam, n_episodes=40, bonus_scale=0.2, keep_q=True, rng=0)
    Vbar = lam * mdps.logsumexp(np.log(ref)[None] + run.Q / lam, axis=-1)
    gap = run.Q.max(axis=-1) - Vbar
    assert (gap >= -1e-12).all() and (gap <= lam * np.log(2) + 1e-12).all()


def test_same_seed_same_run_and_bad_inputs():
    lin = mdps.LinearMDP.from_tabular(mdps.river_swim(3, horizon=3))
    ref = np.full((3, 2), 0.5)
    a = linear.demo_regularized_lsvi(lin, ref, 0.1, n_episodes=10, rng=5)
    b = linear.demo_regularized_lsvi(lin, ref, 0.1, n_episodes=10, rng=5)
    assert np.array_equal(a.actions, b.actions) and np.array_equal(a.policies, b.policies)
    with pytest.raises(ValueError, match="lam"):
        linear.demo_regularized_lsvi(lin, ref, 0.0, n_episodes=10)
    with pytest.raises(ValueError, match="n_episodes"):
        linear.demo_regularized_lsvi(lin, ref, 0.1, n_episodes=0)
    with pytest.raises(ValueError, match="ref_policy"):
        linear.demo_regularized_lsvi(lin, np.full((3, 2), 0.7), 0.1, n_episodes=10)
    with pytest.raises(TypeError, match="keep_q"):
        linear.demo_regularized_lsvi(lin, ref, 0.1, n_episodes=10, keep_q=1)
    with pytest.raises(ValueError, match="bonus_scale"):
        linear.demo_regularized_lsvi(lin, ref, 0.1, n_episodes=10, bonus_scale=-1.0)


def test_lsvi_ucb_unchanged_by_the_kernel_split():
    """LSVI-UCB's kernel now calls the shared pieces; a one-hot run still equals its tabular replay."""
    from proofs_checks.linear.lsvi import greedy_mismatches, tabular_replay

    mdp = mdps.river_swim(4, horizon=6)
    run = linear.lsvi_ucb(mdps.LinearMDP.from_tabular(mdp), n_episodes=100, keep_policies=True,
                          keep_trajectories=True, rng=0)
    values, _, Qs = tabular_replay(mdp, run.states, run.actions, run.settings.lam, run.settings.beta)
    assert np.abs(values - run.optimistic_values).max() < 1e-9
    assert greedy_mismatches(Qs, run.policies) == 0


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), A=st.integers(1, 6), lam=st.floats(1e-3, 10.0), zeros=st.integers(0, 5))
def test_soft_backup_kernel_matches_numpy(seed, A, lam, zeros):
    """The compiled one-state soft backup equals lam * logsumexp(log ref + Q / lam) and the Gibbs policy."""
    from algorithms.linear._demo_kernels import soft_backup

    rng = np.random.default_rng(seed)
    ref = rng.dirichlet(np.ones(A))
    ref[rng.permutation(A)[:min(zeros, A - 1)]] = 0.0
    ref /= ref.sum()
    q = rng.uniform(0.0, 5.0, size=A)
    with np.errstate(divide="ignore"):
        log_ref = np.log(ref)
    pol = np.empty(A)
    v = soft_backup(q, log_ref, lam, pol)
    v_np = lam * mdps.logsumexp(log_ref + q / lam)
    assert abs(v - v_np) <= 1e-12 * max(1.0, abs(v_np))
    np.testing.assert_allclose(pol, np.exp(log_ref + q / lam - v_np / lam), atol=1e-12)
    assert (pol[ref == 0] == 0).all() and abs(pol.sum() - 1.0) < 1e-12
    # Gibbs variational formula: v = <pol, q> - lam KL(pol || ref)
    sup = pol > 0
    assert abs(v - (pol @ q - lam * np.sum(pol[sup] * np.log(pol[sup] / ref[sup])))) < 1e-9 * max(1.0, abs(v))
