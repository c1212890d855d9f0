"""Submodular RL: objectives, checker, curvature, exact DP, greedy, SubPO estimator (Prajapat et al. 2024,
arXiv:2307.13372; docs/theory/submodular.md)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mdps
from algorithms import submodular as sm


# ------------------------------------------------------------------ objectives

@settings(max_examples=40, deadline=None)
@given(hnp.arrays(bool, st.tuples(st.integers(1, 8), st.integers(1, 6))),
       st.integers(0, 2 ** 31 - 1))
def test_coverage_is_monotone_submodular_on_random_footprints(fp, seed):
    w = np.random.default_rng(seed).exponential(1.0, fp.shape[1])
    f = mdps.coverage_objective(fp, w)
    rep = mdps.check_submodular(f, 200, seed)
    assert rep.passed, str(rep)
    assert rep.n_trials == 200


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 7), st.integers(0, 2 ** 31 - 1))
def test_facility_location_and_logdet_pass_the_checker(n, seed):
    rng = np.random.default_rng(seed)
    assert mdps.check_submodular(mdps.facility_location_objective(rng.random((n, 4))), 200, seed).passed
    X = rng.standard_normal((n, 2))
    K = np.exp(-((X[:, None] - X[None]) ** 2).sum(-1))
    assert mdps.check_submodular(mdps.logdet_objective(K, 0.3), 200, seed).passed


def test_coverage_closed_form_and_gain():
    fp = np.array([[1, 1, 0], [0, 1, 1], [0, 0, 0]], bool)
    f = mdps.coverage_objective(fp, [1.0, 2.0, 4.0])
    assert f([]) == 0 and f([0]) == 3 and f([1]) == 6 and f([0, 1]) == 7 and f([2]) == 0
    assert f.gain(1, [0]) == 4.0
    assert f(np.array([True, True, False])) == 7


def test_logdet_closed_form():
    K = np.array([[1.0, 0.5], [0.5, 1.0]])
    f = mdps.logdet_objective(K, 1.0)
    assert f([0]) == pytest.approx(0.5 * np.log(2.0))
    assert f([0, 1]) == pytest.approx(0.5 * np.log(np.linalg.det(np.eye(2) + K)))


def test_curvature_modular_zero_disjoint_zero_and_duplicate_one():
    assert mdps.curvature(mdps.modular_objective(np.ones((2, 3)))) == 0.0
    assert mdps.curvature(mdps.coverage_objective(np.eye(3, dtype=bool))) == pytest.approx(0.0)
    assert mdps.curvature(mdps.coverage_objective(np.ones((3, 1), bool))) == pytest.approx(1.0)


def test_checker_catches_a_supermodular_function():
    f = mdps.set_function(lambda m: float(m.sum()) ** 2, 6)
    rep = mdps.check_submodular(f, 100, 0)
    assert not rep.passed and rep.diminishing_violations > 0 and "diminishing" in rep.witness
    with pytest.raises(ValueError, match="f must be a normalised monotone submodular"):
        sm.greedy_policy(mdps.bandit_mdp(5, 2), f)


def test_checker_catches_non_monotone_and_unnormalised():
    assert mdps.check_submodular(mdps.set_function(lambda m: -float(m.sum()), 4), 50, 0).monotone_violations > 0
    assert not mdps.check_submodular(mdps.set_function(lambda m: 1.0 + m.any(), 4), 50, 0).passed


# ------------------------------------------------------------------ exact DP vs brute force

def _tiny():
    rng = np.random.default_rng(3)
    P = rng.dirichlet(np.ones(2), size=(2, 2))
    mdp = mdps.TabularMDP(P, np.zeros((2, 2)), horizon=3, rho=[0.6, 0.4])
    return mdp, mdps.modular_objective(rng.random((4, 2)))


def _brute_force_history(mdp, f):
    """Max over every deterministic policy of the state history (s_0..s_h) -> action."""
    S, A, H = mdp.n_states, mdp.n_actions, mdp.horizon
    histories = [h for k in range(1, H + 1) for h in itertools.product(range(S), repeat=k)]
    P = np.asarray(mdp.P)
    best = -np.inf
    for acts in itertools.product(range(A), repeat=len(histories)):
        pol = dict(zip(histories, acts))

        def value(hist, X):
            if len(hist) == H + 1:
                return f(sorted(X))
            a = pol[hist]
            return sum(P[hist[-1], a, s2] * value(hist + (s2,), X | {mdps.submodular.element_index(len(hist), s2, S, f.ground)})
                       for s2 in range(S))

        J = sum(mdp.rho[s] * value((s,), {mdps.submodular.element_index(0, s, S, f.ground)}) for s in range(S))
        best = max(best, J)
    return best


@pytest.mark.parametrize("kind", ["modular", "coverage"])
def test_dp_equals_brute_force_over_history_policies_2x2x3(kind):
    mdp, f = _tiny()
    if kind == "coverage":
        f = mdps.coverage_objective(np.array([[1, 0, 1], [0, 1, 1]], bool), [1.0, 2.0, 0.5])
    assert sm.submodular_optimum(mdp, f).value == pytest.approx(_brute_force_history(mdp, f), abs=1e-12)


def test_dp_equals_backward_induction_for_modular():
    mdp, f = _tiny()
    w = f.weights
    P = np.asarray(mdp.P)
    R = np.einsum("sat,t->sa", P, w[1])  # stage 0 reward
    Rh = np.stack([np.einsum("sat,t->sa", P, w[h + 1]) for h in range(3)])
    add = mdps.TabularMDP(np.stack([P] * 3), Rh, horizon=3, rho=mdp.rho)
    V = mdps.backward_induction(add).V
    assert R.shape == (2, 2)
    assert sm.submodular_optimum(mdp, f).value == pytest.approx(mdp.rho @ (np.asarray(V)[0] + w[0]), abs=1e-12)


def test_bandit_optimum_equals_best_subset_and_greedy_bound():
    rng = np.random.default_rng(0)
    fp = rng.random((7, 10)) < 0.3
    fp[0] = False
    f = mdps.coverage_objective(fp)
    mdp = mdps.bandit_mdp(6, 3)
    opt = sm.submodular_optimum(mdp, f).value
    assert opt == max(f([0, *c]) for c in itertools.combinations(range(1, 7), 3))
    J = sm.history_policy_value(mdp, f, sm.greedy_policy(mdp, f))
    assert J >= (1 - np.exp(-1)) * opt - 1e-12


# ------------------------------------------------------------------ gradients

def test_exact_gradient_matches_finite_differences():
    mdp = mdps.random_finite_horizon(3, 2, 2, rng=0)
    f = mdps.coverage_objective(np.random.default_rng(1).random((3, 4)) < 0.5)
    theta = np.random.default_rng(2).standard_normal((2, 3, 2))
    J, g = sm.exact_gradient(mdp, f, theta)
    assert J == pytest.approx(sm.markov_value(mdp, f, sm.softmax_policy(theta)), abs=1e-12)
    eps = 1e-6
    for idx in np.ndindex(theta.shape):
        t = theta.copy(); t[idx] += eps
        u = theta.copy(); u[idx] -= eps
        fd = (sm.exact_gradient(mdp, f, t)[0] - sm.exact_gradient(mdp, f, u)[0]) / (2 * eps)
        assert g[idx] == pytest.approx(fd, abs=1e-7)


@pytest.mark.parametrize("baseline", ["loo", "none"])
def test_estimator_mean_equals_exact_gradient(baseline):
    mdp = mdps.random_finite_horizon(3, 2, 3, rng=4)
    f = mdps.facility_location_objective(np.random.default_rng(5).random((3, 4)))
    theta = np.random.default_rng(6).standard_normal((3, 3, 2))
    _, exact = sm.exact_gradient(mdp, f, theta)
    est = np.stack([sm.subpo_gradient(mdp, f, theta, 500, rng=b, baseline=baseline) for b in range(200)])
    se = est.std(axis=0, ddof=1) / np.sqrt(len(est))
    assert np.all(np.abs(est.mean(axis=0) - exact) <= 4.5 * se + 1e-12)


def test_modular_subpo_gradient_is_reinforce_on_additive_reward():
    """Same samples: the marginal gains of a modular objective are the additive rewards, so the
    SubPO estimate equals REINFORCE with reward-to-go computed here from the sampled states."""
    mdp = mdps.random_finite_horizon(3, 2, 3, rng=7)
    w = np.random.default_rng(8).random((4, 3))
    f = mdps.modular_objective(w)
    theta = np.random.default_rng(9).standard_normal((3, 3, 2))
    from algorithms.submodular.subrl import _estimate, _rollout
    pi = sm.softmax_policy(theta)
    P = np.stack([np.asarray(mdp.P_stage(h)) for h in range(3)])
    states, actions, gains, value, F0 = _rollout(P, mdp.rho, pi, f, 300, np.random.default_rng(0))
    rewards = w[np.arange(1, 4)[None, :], states[:, 1:]]
    np.testing.assert_allclose(gains, rewards, atol=1e-12)
    np.testing.assert_allclose(value, w[np.arange(4)[None, :], states].sum(axis=1), atol=1e-12)
    G = np.cumsum(rewards[:, ::-1], axis=1)[:, ::-1]
    ref = np.zeros_like(pi)
    for i in range(300):
        for h in range(3):
            s, a = states[i, h], actions[i, h]
            sc = -pi[h, s].copy(); sc[a] += 1
            ref[h, s] += sc * G[i, h] / 300
    np.testing.assert_allclose(_estimate(pi, states, actions, gains, "none"), ref, atol=1e-12)


def test_subpo_improves_on_a_bandit_instance():
    rng = np.random.default_rng(0)
    fp = rng.random((7, 10)) < 0.3
    fp[0] = False
    f = mdps.coverage_objective(fp)
    mdp = mdps.bandit_mdp(6, 3)
    res = sm.subpo(mdp, f, n_iter=100, batch_size=32, lr=1.0, state_independent=True, rng=0)
    J0 = sm.markov_value(mdp, f, np.full((3, 7, 6), 1 / 6))
    assert sm.markov_value(mdp, f, res.policy) > J0
    assert np.allclose(res.policy, res.policy[:, :1])


# ------------------------------------------------------------------ bad input

def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="footprints"):
        mdps.coverage_objective(np.ones(3, bool))
    with pytest.raises(ValueError, match="weights"):
        mdps.coverage_objective(np.ones((2, 2), bool), [1.0, -1.0])
    with pytest.raises(ValueError, match="kernel"):
        mdps.logdet_objective(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="sigma"):
        mdps.logdet_objective(np.eye(2), 0.0)
    with pytest.raises(ValueError, match="similarity"):
        mdps.facility_location_objective(-np.ones((2, 2)))
    with pytest.raises(ValueError, match="n_trials"):
        mdps.check_submodular(mdps.coverage_objective(np.eye(2, dtype=bool)), 0)
    with pytest.raises(TypeError, match="f must be"):
        mdps.check_submodular(lambda m: 0.0, 10)
    with pytest.raises(ValueError, match="n_arms"):
        mdps.bandit_mdp(0, 2)
    mdp = mdps.bandit_mdp(3, 2)
    f = mdps.coverage_objective(np.eye(4, dtype=bool))
    with pytest.raises(ValueError, match="f has 3 elements"):
        sm.submodular_optimum(mdp, mdps.coverage_objective(np.eye(3, dtype=bool)))
    with pytest.raises(ValueError, match="mdp must be a finite-horizon"):
        sm.submodular_optimum(mdp.with_criterion(gamma=0.9), f)
    with pytest.raises(ValueError, match="lr"):
        sm.subpo(mdp, f, lr=0.0)
    with pytest.raises(ValueError, match="n_iter"):
        sm.subpo(mdp, f, n_iter=0)
    with pytest.raises(ValueError, match="batch_size"):
        sm.subpo(mdp, f, batch_size=0)
    with pytest.raises(ValueError, match="baseline"):
        sm.subpo(mdp, f, baseline="mean")
    with pytest.raises(ValueError, match="theta"):
        sm.subpo_gradient(mdp, f, np.zeros((2, 2, 2)), 10)


def test_history_dependence_beats_every_markov_policy_with_stochastic_dynamics():
    """Stages 0, 1 move to state 1 or 2 at random; stage 2 chooses the state (a -> a + 1). In state 2
    at stage 2 the best move depends on whether state 1 was visited, which (h, s) does not tell."""
    S, A, H = 4, 3, 3
    P = np.zeros((H, S, A, S))
    P[:2, :, :, 1] = P[:2, :, :, 2] = 0.5
    for a in range(A):
        P[2, :, a, a + 1] = 1.0
    mdp = mdps.TabularMDP(P, np.zeros((H, S, A)), horizon=H, rho=[1, 0, 0, 0])
    f = mdps.coverage_objective(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], bool), [1.0, 1.0, 0.9])
    opt = sm.submodular_optimum(mdp, f).value
    # actions at stages 0, 1 do not matter; stage 2 is reached in states 1, 2 only
    best_markov = -np.inf
    for a1, a2 in itertools.product(range(A), repeat=2):
        acts = np.zeros((H, S), dtype=int)
        acts[2, 1], acts[2, 2] = a1, a2
        best_markov = max(best_markov, sm.markov_value(mdp, f, np.eye(A)[acts]))
    assert opt > best_markov + 0.05
