"""Optimistic KL-regularised BPI, its control and demonstration-regularised RLHF
(algorithms.exploration.demo_bpi)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from algorithms import exploration as ex
from proofs_checks.exploration.demo_bpi import episodes_to_eps, exact_values

#: sums of at most H <= 4 terms of size <= H plus a log-sum-exp: round-off on numbers below ~10
EXACT = 1e-12


def _instance(seed=3, S=4, A=3, H=3):
    m = mdps.random_finite_horizon(S, A, H, rng=seed)
    expert = ex.soft_expert(m, 0.1)
    ref = ex.behaviour_cloning(mdps.rollout(m, expert, 20, rng=seed), S, A, H)
    return m, ref


# ----------------------------------------------------------------------------- the backup
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), S=st.integers(1, 4), A=st.integers(1, 4), H=st.integers(1, 4),
       lam=st.sampled_from([1e-3, 0.05, 0.5, 1.0, 20.0]))
def test_backup_without_bonus_on_the_true_model_is_the_planning_oracle(seed, S, A, H, lam):
    """Exact identity: with b = 0 and P^ = P the agent's kernel is soft backward induction (the clip
    at H - h is inactive because the regularised value is at most max_a Q <= H - h)."""
    m = mdps.random_finite_horizon(S, A, H, rng=seed)
    ref = mdps.softmax(np.random.default_rng(seed).normal(size=(H, S, A)), axis=-1)
    Vbar, pol = ex.regularized_backup(m.P, np.broadcast_to(m.R, (H, S, A)), ref, lam)
    sol = ex.kl_regularized_optimum(m, ref, lam)
    np.testing.assert_allclose(Vbar[:H], sol.V, rtol=0, atol=EXACT * H)
    np.testing.assert_allclose(pol, sol.policy, rtol=0, atol=1e-10)
    np.testing.assert_allclose(pol.sum(axis=-1), 1.0, atol=1e-12)


def test_hard_backup_is_backward_induction():
    m, ref = _instance()
    Vbar, pol = ex.regularized_backup(m.P, np.broadcast_to(m.R, (3, 4, 3)), ref, 0.0)
    star = mdps.backward_induction(m)
    np.testing.assert_allclose(Vbar[:3], star.V, atol=EXACT)
    assert np.array_equal(pol.argmax(axis=-1), star.Q.argmax(axis=-1))
    assert set(np.unique(pol)) <= {0.0, 1.0}


def test_reference_zero_mass_stays_zero():
    m, _ = _instance()
    ref = np.zeros((3, 4, 3))
    ref[..., 0] = 0.3
    ref[..., 1] = 0.7
    _, pol = ex.regularized_backup(m.P, np.broadcast_to(m.R, (3, 4, 3)), ref, 0.01)
    assert (pol[..., 2] == 0.0).all()


# ------------------------------------------------------------------------------- the runs
def test_policies_are_distributions_and_records_are_consistent():
    m, ref = _instance()
    run = ex.demo_regularized_bpi(m, ref, 0.2, epsilon=0.1, n_episodes=300, bonus_scale=0.01, rng=1)
    assert run.policies.shape == (run.checkpoints.size, 3, 4, 3)
    assert (run.policies >= 0).all()
    np.testing.assert_allclose(run.policies.sum(axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(run.recommended.sum(axis=-1), 1.0, atol=1e-12)
    # the compiled per-episode values agree with an independent exact evaluation of the kept policies
    np.testing.assert_allclose(run.values[run.checkpoints], exact_values(m, run.policies), atol=EXACT)
    for j, k in enumerate(run.checkpoints[:5]):
        kl = mdps.trajectory_kl(m, run.policies[j], ref)
        assert run.reg_values[k] == pytest.approx(float(exact_values(m, run.policies[j])) - 0.2 * kl, abs=1e-10)
    assert run.checkpoints[-1] == 299
    stop = run.stop_episode
    assert stop == -1 or (run.gap[stop] <= 0.1 and (run.gap[:stop] > 0.1).all())


@pytest.mark.parametrize("seed", range(6))
def test_optimism_and_pessimism_with_a_hoeffding_level_bonus(seed):
    """With c = 0.05 the bonus 7 c H L / sqrt(n) exceeds Hoeffding's H sqrt(L / (2n)) (c >= 1/(7 sqrt(2L)),
    L ~ 12 here), so w.p. >= 1 - delta per run every episode has Vbar_0 >= max J_lam and
    Vlow_0 <= J_lam(pi^k); seeds 0-5 are checked, and the bound has left the trivial clip V = H by
    the end."""
    m, ref = _instance()
    lam = 0.1
    run = ex.demo_regularized_bpi(m, ref, lam, epsilon=0.05, n_episodes=20_000, bonus_scale=0.05, rng=seed)
    assert (run.upper >= run.reg_star - EXACT).all()
    assert (run.lower <= run.reg_values + EXACT).all()
    assert run.upper[-1] < m.horizon and run.gap[-1] < run.gap[0]
    ctrl = ex.unregularized_bpi(m, epsilon=0.05, n_episodes=20_000, bonus_scale=0.05, rng=seed)
    assert (ctrl.upper >= ctrl.v_star - EXACT).all()
    assert (ctrl.lower <= ctrl.values + EXACT).all()


def test_batch_rows_equal_single_runs_bit_for_bit():
    m, ref = _instance()
    batch = ex.demo_regularized_bpi(m, ref, 0.3, epsilon=0.1, n_episodes=200, bonus_scale=0.01, n_runs=5, rng=7)
    children = np.random.SeedSequence(7).spawn(5)
    for i in (0, 3, 4):
        one = ex.demo_regularized_bpi(m, ref, 0.3, epsilon=0.1, n_episodes=200, bonus_scale=0.01, rng=children[i])
        for name in ("upper", "lower", "values", "reg_values", "policies", "recommended"):
            assert np.array_equal(getattr(one, name), getattr(batch.run(i), name)), name
        assert one.stop_episode == batch.run(i).stop_episode


def test_tiny_lambda_approaches_the_control():
    m, ref = _instance()
    reg = ex.demo_regularized_bpi(m, ref, 1e-6, epsilon=0.1, n_episodes=200, bonus_scale=0.01, rng=2)
    ctrl = ex.unregularized_bpi(m, epsilon=0.1, n_episodes=200, bonus_scale=0.01, rng=2)
    # the soft maximum is within lam * log(1/min ref) of the hard one
    assert np.abs(reg.upper - ctrl.upper).max() <= 1e-6 * np.log(1 / ref.min()) * m.horizon + 1e-9


def test_episodes_to_eps_reads_the_last_violation():
    ck = np.array([0, 4, 9, 19])
    assert episodes_to_eps([0.5, 0.0, 0.2, 0.0], ck, 0.1, 20) == 20
    assert episodes_to_eps([0.0, 0.0, 0.0, 0.0], ck, 0.1, 20) == 1
    assert episodes_to_eps([0.5, 0.0, 0.0, 0.3], ck, 0.1, 20) == 21


# -------------------------------------------------------------------------------------- RLHF
def test_reward_fit_recovers_the_reward_up_to_per_stage_shifts():
    """Huge data: the MLE is consistent; only per-stage constants are unidentified (each stage block
    of a feature difference sums to 0), so compare rewards centred per stage. Tolerance: the MLE's
    standard error at 2e5 pairs is ~ sqrt(d / n) ~ 0.01; 0.06 is six of them."""
    m = mdps.random_finite_horizon(2, 2, 2, rng=11)
    ref = np.full((2, 2, 2), 0.5)
    res = ex.demo_regularized_rlhf(m, ref, 1.0, n_pairs=200_000, ridge=1e-3, rng=0)
    R = np.broadcast_to(m.R, (2, 2, 2))
    centre = lambda r: r - r.mean(axis=(1, 2), keepdims=True)  # noqa: E731
    np.testing.assert_allclose(centre(res.reward), centre(R), atol=0.06)
    assert res.fit.grad_norm <= 1e-6


def test_per_stage_shift_changes_neither_labels_nor_policy():
    m, ref = _instance()
    H, S, A = 3, 4, 3
    R = np.broadcast_to(m.R, (H, S, A)) + np.array([0.5, -1.0, 2.0])[:, None, None]
    shifted = mdps.TabularMDP(m.P, R, horizon=H, rho=m.rho)
    a = ex.demo_regularized_rlhf(m, ref, 0.5, n_pairs=500, rng=4)
    b = ex.demo_regularized_rlhf(shifted, ref, 0.5, n_pairs=500, rng=4)
    np.testing.assert_allclose(a.reward, b.reward, atol=1e-9)
    sol_a = ex.kl_regularized_optimum(m, ref, 0.5)
    sol_b = ex.kl_regularized_optimum(shifted, ref, 0.5)
    np.testing.assert_allclose(sol_a.policy, sol_b.policy, atol=1e-12)


def test_logistic_fit_first_order_condition():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    y = (rng.random(300) < 0.5).astype(float)
    fit = ex.fit_trajectory_reward(X, y, (1, 2, 3), ridge=0.5)
    theta = np.asarray(fit.reward).ravel()
    p = 1 / (1 + np.exp(-X @ theta))
    np.testing.assert_allclose(X.T @ (p - y) + 0.5 * theta, 0.0, atol=1e-8)


def test_trajectory_features_one_per_stage():
    X = ex.trajectory_features(np.array([[0, 1, 1], [1, 0, 0]]), np.array([[1, 0], [0, 1]]), 2, 2)
    assert X.shape == (2, 8)
    assert np.array_equal(X.toarray()[0], [0, 1, 0, 0, 0, 0, 1, 0])
    assert np.array_equal(X.toarray().reshape(2, 2, 4).sum(axis=-1), np.ones((2, 2)))


# ---------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("lam", [0.0, -1.0, float("nan")])
def test_bad_lambda(lam):
    m, ref = _instance()
    with pytest.raises(ValueError, match="lam"):
        ex.demo_regularized_bpi(m, ref, lam, epsilon=0.1, n_episodes=5)
    with pytest.raises(ValueError, match="lam"):
        ex.demo_regularized_rlhf(m, ref, lam, n_pairs=5)


@pytest.mark.parametrize("eps", [0.0, -0.1])
def test_bad_epsilon(eps):
    m, ref = _instance()
    with pytest.raises(ValueError, match="epsilon"):
        ex.demo_regularized_bpi(m, ref, 0.1, epsilon=eps, n_episodes=5)
    with pytest.raises(ValueError, match="epsilon"):
        ex.unregularized_bpi(m, epsilon=eps, n_episodes=5)


def test_bad_reference():
    m, ref = _instance()
    bad = ref.copy()
    bad[0, 0] = [0.5, 0.4, 0.0]
    with pytest.raises(ValueError, match="ref_policy"):
        ex.demo_regularized_bpi(m, bad, 0.1, epsilon=0.1, n_episodes=5)
    with pytest.raises(ValueError, match="ref_policy"):
        ex.demo_regularized_rlhf(m, bad, 0.1, n_pairs=5)


def test_discounted_mdp_refused():
    m = mdps.garnet(4, 2, 2, gamma=0.9, rng=0)
    with pytest.raises(ValueError, match="finite"):
        ex.demo_regularized_bpi(m, np.full((4, 2), 0.5), 0.1, epsilon=0.1, n_episodes=5)
    with pytest.raises(ValueError, match="finite"):
        ex.unregularized_bpi(m, epsilon=0.1, n_episodes=5)
    with pytest.raises(ValueError, match="finite"):
        ex.demo_regularized_rlhf(m, np.full((4, 2), 0.5), 0.1, n_pairs=5)


def test_other_bad_arguments():
    m, ref = _instance()
    with pytest.raises(ValueError, match="bonus"):
        ex.demo_regularized_bpi(m, ref, 0.1, epsilon=0.1, n_episodes=5, bonus="ucb")
    with pytest.raises(ValueError, match="checkpoints"):
        ex.demo_regularized_bpi(m, ref, 0.1, epsilon=0.1, n_episodes=5, checkpoints=[0, 5])
    with pytest.raises(ValueError, match="n_pairs"):
        ex.demo_regularized_rlhf(m, ref, 0.1, n_pairs=0)
    with pytest.raises(ValueError, match="ridge"):
        ex.demo_regularized_rlhf(m, ref, 0.1, n_pairs=5, ridge=0.0)
    with pytest.raises(ValueError, match="y"):
        ex.fit_trajectory_reward(np.zeros((2, 2)), [0.0, 0.5], (1, 1, 2))


def test_recommended_policy_is_the_stopping_episodes_policy():
    """Without a bonus the gap is 0 for the control at once (Vbar and Vlow both evaluate the greedy
    plan on P^), so it stops at episode 0; with only the last episode kept, the recommended policy
    comes from the replay path and must equal episode 0's policy kept directly."""
    m, _ = _instance()
    ctrl = ex.unregularized_bpi(m, epsilon=1e-9, n_episodes=50, bonus="none", checkpoints=[49], rng=3)
    assert ctrl.stop_episode == 0
    direct = ex.unregularized_bpi(m, epsilon=1e-9, n_episodes=50, bonus="none", checkpoints=[0], rng=3)
    assert np.array_equal(ctrl.recommended, direct.policies[0])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), S=st.integers(1, 4), A=st.integers(1, 3), H=st.integers(1, 4),
       lam=st.sampled_from([0.0, 0.01, 0.3, 2.0]))
def test_pessimistic_evaluation_without_bonus_on_the_true_model_is_exact(seed, S, A, H, lam):
    """With b = 0 and P^ = P the pessimistic kernel is the exact regularised evaluation of the policy,
    J_lam(pi) = V^pi(rho) - lam KL(P^pi || P^ref) (the floor never binds: it lower-bounds the exact
    value), for any Markov policy."""
    from algorithms.exploration import _demo_kernels as dk

    m = mdps.random_finite_horizon(S, A, H, rng=seed)
    gen = np.random.default_rng(seed)
    ref = mdps.softmax(gen.normal(size=(H, S, A)), axis=-1)
    pol = mdps.softmax(2 * gen.normal(size=(H, S, A)), axis=-1)
    P = np.ascontiguousarray(np.broadcast_to(m.P, (H, S, A, S)))
    succ = np.ascontiguousarray(np.broadcast_to(np.arange(S, dtype=np.int64), (H, S, A, S)))
    Vlow = np.zeros((H + 1, S))
    dk.pessimistic_soft_evaluation(P, succ, np.full((H, S, A), S, dtype=np.int64), np.ones((H, S, A)), False,
                                   np.ascontiguousarray(np.broadcast_to(m.R, (H, S, A))), np.log(ref), lam,
                                   np.zeros((H, S, A)), pol, Vlow)
    exact = float(m.rho @ mdps.evaluate(m, pol)[0]) - lam * mdps.trajectory_kl(m, pol, ref)
    assert float(m.rho @ Vlow[0]) == pytest.approx(exact, abs=1e-10)
