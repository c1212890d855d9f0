"""Behaviour cloning, the exact trajectory KL, the exact expected KL of the clone and soft backward
induction (algorithms.exploration.demonstrations, mdps.trajectory_kl): closed forms, brute-force
enumeration of trajectories and datasets on tiny MDPs, Hypothesis properties, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

import mdps
from algorithms import exploration as ex
from tests.strategies import finite_horizon_mdp


def _random_policy(rng, H, S, A, *, zeros=False):
    pi = rng.random((H, S, A)) + (0.0 if zeros else 0.05)
    if zeros:
        pi[rng.random((H, S, A)) < 0.3] = 0.0
        pi[..., 0] += (pi.sum(axis=-1) == 0)
    return pi / pi.sum(axis=-1, keepdims=True)


def _trajectory_log_law(mdp, pi):
    """Every trajectory (s_0, a_0, ..., s_{H-1}, a_{H-1}, s_H) with its log-probability (-inf for
    impossible ones), by enumeration (logs: products of subnormal transition entries underflow)."""
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    pi = np.broadcast_to(pi, (H, S, A))
    out = {}
    with np.errstate(divide="ignore"):
        for steps in itertools.product(itertools.product(range(S), range(A)), repeat=H):
            for s_end in range(S):
                lp = np.log(mdp.rho[steps[0][0]])
                for h, (s, a) in enumerate(steps):
                    nxt = steps[h + 1][0] if h + 1 < H else s_end
                    lp += np.log(pi[h, s, a]) + np.log(mdp.P_stage(h)[s, a, nxt])
                out[(steps, s_end)] = lp
    return out


def _trajectory_law(mdp, pi):
    return {t: float(np.exp(lp)) for t, lp in _trajectory_log_law(mdp, pi).items()}


def _brute_kl(mdp, pi, ref):
    P, Q = _trajectory_log_law(mdp, pi), _trajectory_log_law(mdp, ref)
    return sum(np.exp(lp) * (lp - Q[t]) for t, lp in P.items() if lp > -np.inf)


# ---------------------------------------------------------------------------- trajectory KL
def test_trajectory_kl_equals_enumeration_s2_a2_h3():
    rng = np.random.default_rng(3)
    mdp = mdps.random_finite_horizon(2, 2, 3, rng=rng)
    pi, ref = _random_policy(rng, 3, 2, 2), _random_policy(rng, 3, 2, 2)
    assert mdps.trajectory_kl(mdp, pi, ref) == pytest.approx(_brute_kl(mdp, pi, ref), rel=1e-12, abs=1e-15)
    assert mdps.trajectory_kl(mdp, pi, pi) == 0.0


@settings(max_examples=40, deadline=None)
@given(finite_horizon_mdp(max_states=2, max_actions=2, max_horizon=3), st.integers(0, 2**32 - 1))
def test_trajectory_kl_equals_enumeration_hypothesis(mdp, seed):
    rng = np.random.default_rng(seed)
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    pi, ref = _random_policy(rng, H, S, A, zeros=True), _random_policy(rng, H, S, A)
    got = mdps.trajectory_kl(mdp, pi, ref)
    assert got >= -1e-12
    assert got == pytest.approx(_brute_kl(mdp, pi, ref), rel=1e-9, abs=1e-12)


def test_trajectory_kl_infinite_only_where_reached():
    mdp = mdps.chain(3, horizon=2)  # start in state 0: at stage 0 only state 0 is reached
    pi = np.full((2, 3, 2), 0.5)
    ref = pi.copy()
    ref[0, 2] = [1.0, 0.0]  # state 2 is unreachable at stage 0: no weight
    assert mdps.trajectory_kl(mdp, pi, ref) == 0.0
    ref[0, 0] = [1.0, 0.0]
    assert mdps.trajectory_kl(mdp, pi, ref) == np.inf


# ------------------------------------------------------------------------- behaviour cloning
def test_bc_closed_form_on_known_counts():
    # H = 2, S = 2, A = 3; stage 0: state 0 sees actions (0, 0, 2); state 1 never visited
    states = np.array([[0, 1], [0, 1], [0, 0]])
    actions = np.array([[0, 2], [0, 2], [2, 1]])
    pi = ex.behaviour_cloning({"states": states, "actions": actions}, 2, 3, 2, smoothing=0.5)
    np.testing.assert_allclose(pi[0, 0], [2.5 / 4.5, 0.5 / 4.5, 1.5 / 4.5])
    np.testing.assert_allclose(pi[0, 1], [1 / 3] * 3)  # unvisited: uniform
    np.testing.assert_allclose(pi[1, 1], [0.5 / 3.5, 0.5 / 3.5, 2.5 / 3.5])
    np.testing.assert_allclose(pi[1, 0], [0.5 / 2.5, 1.5 / 2.5, 0.5 / 2.5])
    counts = ex.demonstration_counts({"states": states, "actions": actions}, 2, 3, 2)
    assert counts.sum() == 6 and counts[0, 0].tolist() == [2, 0, 1]
    np.testing.assert_array_equal(ex.behaviour_cloning(counts, 2, 3, 2, smoothing=0.5), pi)


def test_bc_accepts_rollouts_and_is_the_count_ratio():
    mdp = mdps.random_finite_horizon(4, 3, 3, rng=0)
    expert = ex.soft_expert(mdp, 0.5)
    tr = mdps.rollout(mdp, expert, 500, rng=1)
    pi = ex.behaviour_cloning(tr, 4, 3, 3, smoothing=1.0)
    counts = np.zeros((3, 4, 3))
    for k in range(500):
        for h in range(3):
            counts[h, tr.states[k, h], tr.actions[k, h]] += 1
    np.testing.assert_allclose(pi, (counts + 1) / (counts.sum(-1, keepdims=True) + 3))
    np.testing.assert_allclose(pi.sum(-1), 1.0)
    assert pi.min() >= 1.0 / (500 + 3) - 1e-15


def test_smoothing_makes_the_kl_finite():
    mdp = mdps.random_finite_horizon(3, 3, 2, rng=2)
    expert = ex.soft_expert(mdp, 1.0)  # full support
    tr = mdps.rollout(mdp, expert, 3, rng=0)  # too few to see every action
    counts = ex.demonstration_counts(tr, 3, 3, 2)
    with np.errstate(invalid="ignore"):
        mle = np.where(counts.sum(-1, keepdims=True) > 0, counts / counts.sum(-1, keepdims=True), 1 / 3)
    assert mdps.trajectory_kl(mdp, expert, mle) == np.inf
    for kappa in (1e-6, 0.1, 1.0, 10.0):
        kl = mdps.trajectory_kl(mdp, expert, ex.behaviour_cloning(tr, 3, 3, 2, smoothing=kappa))
        assert np.isfinite(kl) and kl >= 0
    assert mdps.trajectory_kl(mdp, expert, ex.behaviour_cloning(np.zeros((2, 3, 3)), 3, 3, 2)) == \
        pytest.approx(mdps.trajectory_kl(mdp, expert, np.full((2, 3, 3), 1 / 3)))


# ------------------------------------------------------------------ exact expected KL of BC
def test_expected_kl_equals_enumeration_of_datasets():
    """Every dataset of N = 2 trajectories on an S = A = H = 2 MDP, weighted by its probability."""
    rng = np.random.default_rng(5)
    mdp = mdps.random_finite_horizon(2, 2, 2, rng=rng)
    expert = _random_policy(rng, 2, 2, 2)
    law = {}
    for t, p in _trajectory_law(mdp, expert).items():
        key = tuple(t[0])  # (s_h, a_h) pairs; s_H is irrelevant to the clone
        law[key] = law.get(key, 0.0) + p
    for kappa, N in ((1.0, 1), (0.3, 2)):
        total = 0.0
        for data in itertools.product(law.items(), repeat=N):
            p = np.prod([q for _, q in data])
            states = np.array([[s for s, _ in t] for t, _ in data])
            actions = np.array([[a for _, a in t] for t, _ in data])
            pi = ex.behaviour_cloning({"states": states, "actions": actions}, 2, 2, 2, smoothing=kappa)
            total += p * mdps.trajectory_kl(mdp, expert, pi)
        assert ex.bc_expected_kl(mdp, expert, N, smoothing=kappa) == pytest.approx(total, rel=1e-10)


def test_expected_kl_tends_to_the_leading_term():
    mdp = mdps.random_finite_horizon(3, 4, 3, rng=7)
    expert = ex.soft_expert(mdp, 0.7)
    reached = (mdps.occupancy_measure(mdp, expert).sum(-1) > 0).sum()
    N = 10**6
    lead = ex.bc_kl_leading_term(mdp, expert, N)
    assert lead == pytest.approx(3 * reached / (2 * N))
    assert ex.bc_expected_kl(mdp, expert, N) / lead == pytest.approx(1.0, abs=1e-3)
    assert ex.bc_expected_kl(mdp, expert, 0) == pytest.approx(mdps.trajectory_kl(mdp, expert, np.full((3, 3, 4), 0.25)))


def test_leading_term_with_a_partial_support_expert():
    """(A_s - 1)/2 + kappa (A - A_s) per reached (h, s): a deterministic expert pays kappa (A - 1)."""
    mdp = mdps.chain(3, horizon=3)
    expert = np.zeros((3, 3), dtype=int)  # always advance: one state reached per stage
    N = 10**6
    lead = ex.bc_kl_leading_term(mdp, expert, N, smoothing=0.5)
    assert lead == pytest.approx(3 * 0.5 * 1 / N)
    assert ex.bc_expected_kl(mdp, expert, N, smoothing=0.5) == pytest.approx(lead, rel=1e-5)


# --------------------------------------------------------------------- soft backward induction
def _regularised(mdp, pi, ref, lam):
    return float(mdp.rho @ mdps.evaluate(mdp, pi)[0]) - lam * mdps.trajectory_kl(mdp, pi, ref)


def test_soft_backward_induction_beats_numerical_maximisation():
    rng = np.random.default_rng(11)
    mdp = mdps.random_finite_horizon(2, 3, 2, rng=rng)
    ref = _random_policy(rng, 2, 2, 3)
    for lam in (0.1, 1.0):
        sol = ex.kl_regularized_optimum(mdp, ref, lam)

        def neg(z):
            return -_regularised(mdp, mdps.softmax(z.reshape(2, 2, 3)), ref, lam)

        best = min((minimize(neg, rng.standard_normal(12), method="BFGS") for _ in range(3)), key=lambda r: r.fun)
        assert -best.fun <= sol.value + 1e-10
        assert -best.fun == pytest.approx(sol.value, abs=1e-6)
        assert _regularised(mdp, sol.policy, ref, lam) == pytest.approx(sol.value, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(finite_horizon_mdp(max_states=3, max_actions=3, max_horizon=3), st.integers(0, 2**32 - 1),
       st.sampled_from([0.01, 0.3, 1.0, 5.0]))
def test_soft_performance_difference_identity(mdp, seed, lam):
    """rho.V_0 - J_lam(pi) = lam KL_traj(pi || pi_lam) for every policy: pi_lam is the maximiser."""
    rng = np.random.default_rng(seed)
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    ref = _random_policy(rng, H, S, A)
    sol = ex.kl_regularized_optimum(mdp, ref, lam)
    np.testing.assert_allclose(sol.policy.sum(-1), 1.0)
    for pi in (_random_policy(rng, H, S, A, zeros=True), mdps.backward_induction(mdp).policy, sol.policy):
        gap = sol.value - _regularised(mdp, pi, ref, lam)
        assert gap == pytest.approx(lam * mdps.trajectory_kl(mdp, pi, sol.policy), abs=1e-9)
        assert gap >= -1e-9


def test_regularised_optimum_limits_and_closed_form():
    m = mdps.TabularMDP(np.ones((1, 2, 1)), np.array([[0.0, 1.0]]), horizon=1)
    sol = ex.kl_regularized_optimum(m, np.array([[0.75, 0.25]]), 0.5)
    z = 0.75 + 0.25 * np.exp(2.0)
    assert sol.value == pytest.approx(0.5 * np.log(z))
    np.testing.assert_allclose(sol.policy[0, 0], [0.75 / z, 0.25 * np.exp(2.0) / z])
    mdp = mdps.random_finite_horizon(3, 2, 3, rng=4)
    ref = np.full((3, 3, 2), 0.5)
    v_star = float(mdp.rho @ mdps.backward_induction(mdp).V[0])
    assert ex.kl_regularized_optimum(mdp, ref, 1e-4).value == pytest.approx(v_star, abs=3 * 3e-4 * np.log(2))
    assert ex.kl_regularized_optimum(mdp, ref, 1e6).value == pytest.approx(
        float(mdp.rho @ mdps.evaluate(mdp, ref)[0]), abs=1e-5)
    # an action the reference never plays stays at probability 0
    ref0 = np.zeros((3, 3, 2))
    ref0[:, :, 0] = 1.0
    assert (ex.kl_regularized_optimum(mdp, ref0, 1.0).policy[..., 1] == 0).all()


# ----------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(smoothing=0.0), ValueError, "smoothing"),
    (dict(smoothing=-1.0), ValueError, "smoothing"),
    (dict(smoothing=float("nan")), ValueError, "smoothing"),
    (dict(smoothing="1"), TypeError, "smoothing"),
])
def test_bad_smoothing(kwargs, exc, match):
    data = {"states": np.zeros((2, 2), dtype=int), "actions": np.zeros((2, 2), dtype=int)}
    with pytest.raises(exc, match=match):
        ex.behaviour_cloning(data, 2, 2, 2, **kwargs)


@pytest.mark.parametrize("states, actions, exc, match", [
    ([[0, 2]], [[0, 1]], ValueError, r"states\[0, 1\] is 2"),
    ([[0, -1]], [[0, 1]], ValueError, r"states\[0, 1\] is -1"),
    ([[0, 1]], [[0, 3]], ValueError, r"actions\[0, 1\] is 3"),
    ([[0, 1, 0]], [[0, 1, 0]], ValueError, "horizon is 2 but the demonstrations have 3 stages"),
    ([[0]], [[0, 1]], ValueError, "states must have shape"),
    ([0, 1], [[0, 1]], ValueError, r"states must have shape \(N, H\)"),
    ([[0.0, 1.0]], [[0, 1]], TypeError, "states must be an integer array"),
])
def test_bad_demonstrations(states, actions, exc, match):
    with pytest.raises(exc, match=match):
        ex.behaviour_cloning({"states": np.array(states), "actions": np.array(actions)}, 2, 2, 2)


def test_bad_counts_and_records():
    with pytest.raises(ValueError, match=r"counts must have shape \(H, S, A\) = \(2, 2, 2\)"):
        ex.behaviour_cloning(np.zeros((3, 2, 2)), 2, 2, 2)
    with pytest.raises(ValueError, match=r"trajectories_or_counts\[0, 1, 0\]"):
        ex.behaviour_cloning(np.array([[[0, 0], [-1, 0]], [[0, 0], [0, 0]]]), 2, 2, 2)
    with pytest.raises(ValueError, match="keys 'states' and 'actions'"):
        ex.behaviour_cloning({"states": np.zeros((1, 2), dtype=int)}, 2, 2, 2)
    with pytest.raises(ValueError, match="horizon must be >= 1"):
        ex.behaviour_cloning(np.zeros((0, 2, 2)), 2, 2, 0)
    tr = mdps.rollout(mdps.chain(3, horizon=4), np.zeros(3, dtype=int), 5, rng=0)
    with pytest.raises(ValueError, match="horizon is 3 but the demonstrations have 4 stages"):
        ex.behaviour_cloning(tr, 3, 2, 3)


def test_discounted_mdp_is_refused_where_a_horizon_is_needed():
    disc = mdps.chain(3, gamma=0.9)
    pi = np.full((3, 2), 0.5)
    for call in (lambda: ex.soft_expert(disc, 1.0), lambda: ex.kl_regularized_optimum(disc, pi, 1.0),
                 lambda: ex.bc_expected_kl(disc, pi, 10), lambda: ex.bc_kl_leading_term(disc, pi, 10),
                 lambda: mdps.trajectory_kl(disc, pi, pi)):
        with pytest.raises(ValueError, match="mdp must be a finite-horizon"):
            call()


def test_bad_regularisation_and_policies():
    mdp = mdps.chain(3, horizon=2)
    ref = np.full((2, 3, 2), 0.5)
    for lam in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="lam"):
            ex.kl_regularized_optimum(mdp, ref, lam)
    with pytest.raises(ValueError, match="ref_policy"):
        ex.kl_regularized_optimum(mdp, np.full((2, 3, 2), 0.4), 1.0)
    with pytest.raises(ValueError, match="temperature"):
        ex.soft_expert(mdp, 0.0)
    with pytest.raises(ValueError, match="n_demos"):
        ex.bc_expected_kl(mdp, ref, -1)
    with pytest.raises(ValueError, match="expert"):
        ex.bc_expected_kl(mdp, np.full((2, 3, 3), 1 / 3), 5)
    with pytest.raises(ValueError, match="ref"):
        mdps.trajectory_kl(mdp, ref, np.full((2, 3, 2), 0.7))
